/* End to end: living with the CLI. Help for every command (with examples
 * that really run), "did you mean", `config check`, JSON log lines and the
 * progress bar (shown only on a terminal). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "tb_test_cli.h"
#include "tradebus/decimal.h"
#include "tradebus/marketdata.h"
#include "tradebus/resample.h"

static char dir[256];

#define run(err_out, ...) tbt_run_cli(dir, err_out, __VA_ARGS__)

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *out_text(void)
{
    return tbt_read_in(dir, "stdout.txt");
}

/* A scratch directory that sees the bundled examples/ and data/ as the
 * source tree does, so the help's examples run as written. */
static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/tb_cli_XXXXXX");
    if (!mkdtemp(dir)) return -1;
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "ln -s '%s/examples' '%s/examples' && ln -s '%s/data' '%s/data'",
             TB_SOURCE_DIR, dir, TB_SOURCE_DIR, dir);
    if (system(cmd) != 0) return -1;
    unsetenv("TRADEBUS_LOG_FORMAT");
    unsetenv("TRADEBUS_LOG_LEVEL");
    unsetenv("TRADEBUS_PROGRESS_DELAY");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tbt_remove_tree(dir);
    return 0;
}

static const char *const all_commands[] = {"backtest", "parity", "indicators", "config",  "journal",
                                           "dlq",      "up",     "component",  "feed",    "status",
                                           "report",   "data",   "live",       "version", "help"};
#define NCMDS (sizeof(all_commands) / sizeof(all_commands[0]))

static void test_help_for_every_command_has_examples_both_ways(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCMDS; i++) {
        assert_int_equal(run(NULL, "help %s", all_commands[i]), 0);
        char *out = out_text();
        assert_non_null(out);
        if (!strstr(out, "\nExample"))
            fail_msg("help %s: no Example line:\n%s", all_commands[i], out);
        /* `tradebus CMD --help` is the same page, examples included. */
        assert_int_equal(run(NULL, "%s --help", all_commands[i]), 0);
        char *own = out_text();
        assert_non_null(own);
        if (strcmp(own, out) != 0)
            fail_msg("%s --help differs from help %s:\n%s", all_commands[i], all_commands[i], own);
        free(own);
        free(out);
    }
    /* The main help, both spellings. */
    assert_int_equal(run(NULL, "--help"), 0);
    char *out = out_text();
    assert_non_null(strstr(out, "Examples"));
    assert_non_null(strstr(out, "config check"));
    free(out);
    assert_int_equal(run(NULL, "help"), 0);
    out = out_text();
    assert_non_null(strstr(out, "--log-format"));
    free(out);
}

/* Every example the help of a one-process command shows runs and exits 0. */
static void test_help_examples_run(void **state)
{
    (void)state;
    static const char *const local[] = {"backtest", "config",     "journal", "dlq",
                                        "parity",   "indicators", "version", "help"};
    int ran = 0;
    for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
        assert_int_equal(run(NULL, "help %s", local[i]), 0);
        char *out = out_text();
        assert_non_null(out);
        char *ex = strstr(out, "\nExamples");
        assert_non_null(ex);
        char cmd[2048] = "";
        for (char *save = NULL, *l = strtok_r(ex, "\n", &save); l;
             l = strtok_r(NULL, "\n", &save)) {
            while (*l == ' ')
                l++;
            if (!cmd[0] && strncmp(l, "tradebus ", 9) != 0) continue;
            strncat(cmd, cmd[0] ? l : l + 9, sizeof(cmd) - strlen(cmd) - 1);
            size_t n = strlen(cmd);
            if (n && cmd[n - 1] == '\\') {
                cmd[n - 1] = ' '; /* continued on the next line */
                continue;
            }
            char *err = NULL;
            int rc = run(&err, "%s", cmd);
            if (rc != 0) fail_msg("example 'tradebus %s' exited %d: %s", cmd, rc, err);
            free(err);
            ran++;
            cmd[0] = 0;
        }
        free(out);
    }
    if (ran < 15) fail_msg("only %d examples ran", ran);
}

static void test_unknown_command_suggests_the_closest(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(run(&err, "bactest --config examples/sma_cross.ini"), 2);
    assert_non_null(strstr(err, "unknown command 'bactest'"));
    assert_non_null(strstr(err, "did you mean 'backtest'?"));
    free(err);
    assert_int_equal(run(&err, "help confg"), 2);
    assert_non_null(strstr(err, "did you mean 'config'?"));
    free(err);
    assert_int_equal(run(&err, "zzzzzzzz"), 2);
    assert_null(strstr(err, "did you mean"));
    free(err);
}

static void test_config_check_prints_effective_values(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(run(&err, "config check examples/multi.ini --set bus.max_retries=3"), 0);
    assert_string_equal(err, "");
    free(err);
    char *out = out_text();
    assert_non_null(strstr(out, "examples/multi.ini: valid"));
    assert_non_null(strstr(out, "[exchange]"));
    assert_non_null(strstr(out, "fee_bps = 7.5"));
    assert_non_null(strstr(out, "(default 10)"));
    /* slippage_bps = 2 (default 0); a key left alone is marked "(default)". */
    assert_non_null(strstr(out, "slippage_bps = 2"));
    assert_non_null(strstr(out, "on_bad_row = fail"));
    assert_non_null(strstr(out, "(default)"));
    assert_non_null(strstr(out, "max_retries = 3"));
    /* Strategies with their params as written, and the data files. */
    assert_non_null(strstr(out, "[strategy.eth_rsi]"));
    assert_non_null(strstr(out, "oversold = 25"));
    assert_non_null(strstr(out, "order_type = LIMIT"));
    assert_non_null(strstr(out, "[symbol.BTCUSDT]"));
    assert_non_null(strstr(out, "data = data/ETHUSDT-1m-2024-01.csv"));
    free(out);
}

/* A type = lua strategy: config check lists what the script declares,
 * with defaults and ranges, sorted by name; an unloadable script says so. */
static void test_config_check_lists_a_lua_scripts_params(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(run(&err, "config check examples/lua_sma.ini"), 0);
    free(err);
    char *out = out_text();
    assert_non_null(strstr(out, "  (script params: allow_short = false, fast = 10 (1..100000), "
                                "quantity = 1 (0..), slow = 30 (1..100000))\n"));
    free(out);
    assert_int_equal(run(&err, "config check examples/legacy/momentum.ini"), 0);
    free(err);
    out = out_text();
    assert_non_null(strstr(out, "  (script params: period = 20 (1..100000), quantity = 1 (0..))"));
    free(out);
}

/* A config for `tradebus live` (no data: its bars come from the exchange)
 * is checked as one, [live] shown and its values validated. */
static void test_config_check_takes_a_live_config_without_data(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(run(&err, "config check examples/paper.ini"), 0);
    free(err);
    char *out = out_text();
    assert_non_null(strstr(out, "examples/paper.ini: valid"));
    assert_non_null(strstr(out, "[live]"));
    assert_non_null(strstr(out, "interval = 1m"));
    free(out);
    assert_int_equal(run(&err, "config check examples/paper.ini --set live.interval=7m"), 2);
    assert_non_null(strstr(err, "[live] interval"));
    free(err);
}

static void test_config_check_rejects_a_broken_config(void **state)
{
    (void)state;
    write_file("bad.ini", "[backtest]\n"
                          "data = data/BTCUSDT-1m-2024-01.csv\n"
                          "[exchange]\n"
                          "fee_bps = lots\n"
                          "[strategy.s]\ntype = sma_cross\nsymbol = BTCUSDT\n");
    char *err = NULL;
    assert_int_equal(run(&err, "config check bad.ini"), 2);
    assert_non_null(strstr(err, "bad.ini:4: [exchange] fee_bps"));
    free(err);
    /* A --set is named as the origin. */
    assert_int_equal(run(&err, "config check examples/sma_cross.ini --set risk.max_open_orders=x"),
                     2);
    assert_non_null(strstr(err, "--set: [risk] max_open_orders"));
    free(err);
    /* A data file that cannot be opened. */
    assert_int_equal(run(&err, "config check examples/sma_cross.ini --data nowhere.csv"), 2);
    assert_non_null(strstr(err, "nowhere.csv"));
    free(err);
    assert_int_equal(run(&err, "config check"), 2);
    free(err);
}

/* Every stderr line is a JSON object with level, time, component, message. */
static int check_json_lines(const char *text, const char *want_level)
{
    int lines = 0, found = 0;
    char *copy = strdup(text);
    assert_non_null(copy);
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *o = json_loads(l, 0, &je);
        if (!o) fail_msg("not JSON: %s (%s)", l, je.text);
        const char *level = json_string_value(json_object_get(o, "level"));
        const char *time = json_string_value(json_object_get(o, "time"));
        assert_non_null(level);
        assert_non_null(time);
        assert_non_null(json_string_value(json_object_get(o, "component")));
        assert_non_null(json_string_value(json_object_get(o, "message")));
        /* ISO-8601 UTC: 2024-01-01T00:00:00.000Z */
        assert_int_equal(strlen(time), 24);
        assert_int_equal(time[10], 'T');
        assert_int_equal(time[23], 'Z');
        if (!strcmp(level, want_level)) found++;
        json_decref(o);
        lines++;
    }
    free(copy);
    assert_true(found > 0);
    return lines;
}

static void test_log_format_json(void **state)
{
    (void)state;
    char *err = NULL;
    /* An error: the same wording, as a JSON line. */
    assert_int_equal(run(&err, "--log-format json backtest --config missing.ini"), 2);
    assert_int_equal(check_json_lines(err, "error"), 1);
    assert_non_null(strstr(err, "missing.ini: cannot open config"));
    free(err);
    /* Usage errors too, with the option after the command. */
    assert_int_equal(run(&err, "backtest --log-format=json --bogus"), 2);
    check_json_lines(err, "error");
    free(err);
    /* Warnings: skipped bad rows. */
    write_file("BTCUSDT-1m-2024-01.csv", tbt_staircase_csv);
    char path[512];
    snprintf(path, sizeof(path), "%s/BTCUSDT-1m-2024-01.csv", dir);
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs("1704067860000,oops,1,1,1,1,1704067919999,1,1,0,0,0\n", f);
    fclose(f);
    write_file("skip.ini",
               "[backtest]\ndata = BTCUSDT-1m-2024-01.csv\non_bad_row = skip\n"
               "[strategy.s]\ntype = sma_cross\nsymbol = BTCUSDT\nfast = 2\nslow = 3\n");
    assert_int_equal(run(&err, "backtest --config skip.ini --out o --log-format json"), 0);
    assert_int_equal(check_json_lines(err, "warn"), 1);
    assert_non_null(strstr(err, "skipped bad row"));
    free(err);
    /* The text format keeps the old wording; --log-level error hides warnings. */
    assert_int_equal(run(&err, "backtest --config skip.ini --out o"), 0);
    assert_non_null(strstr(err, "tradebus: skipped bad row: "));
    free(err);
    assert_int_equal(run(&err, "--log-level error backtest --config skip.ini --out o"), 0);
    assert_string_equal(err, "");
    free(err);
    assert_int_equal(run(&err, "--log-format yaml help"), 2);
    assert_non_null(strstr(err, "text or json"));
    free(err);
}

static void test_log_format_json_escapes_invalid_utf8(void **state)
{
    (void)state;
    /* A data file's bytes quoted in a message: \xff\xfe are no UTF-8,
     * \xc3\xa9 (é) is. */
    write_file("BAD-1m.csv", "1704067200000,1\xff\xfe\xc3\xa9,2,1,1,1,1704067259999,0,0,0,0,0\n");
    write_file("bad.ini", "[backtest]\ndata = BAD-1m.csv\n"
                          "[strategy.s]\ntype = sma_cross\nsymbol = BAD\n");
    char *err = NULL;
    assert_int_equal(run(&err, "--log-format json backtest --config bad.ini --out o"), 3);
    assert_int_equal(check_json_lines(err, "error"), 1);
    assert_non_null(strstr(err, "'1\\ufffd\\ufffd\xc3\xa9'"));
    free(err);
}

/* Runs a shell command line in dir whose "TB" is the tradebus binary
 * (behind TB_CLI_WRAPPER if set), stderr to dir/stderr.txt; its exit code.
 * For what tbt_run_cli cannot set up: stdout on /dev/full, a file size
 * limit (ulimit -f, SIGXFSZ ignored, so write() fails with EFBIG). */
static int run_sh(char **err_out, const char *before, const char *args, const char *after)
{
    const char *wrapper = getenv("TB_CLI_WRAPPER");
    char cmd[4096];
    int n = snprintf(cmd, sizeof(cmd), "cd %s && %s %s%s%s %s %s 2>stderr.txt", dir, before,
                     wrapper ? wrapper : "", wrapper ? " " : "", TB_BINARY, args, after);
    assert_true(n > 0 && (size_t)n < sizeof(cmd));
    int st = system(cmd);
    assert_true(st != -1 && WIFEXITED(st));
    if (err_out) *err_out = tbt_read_in(dir, "stderr.txt");
    return WEXITSTATUS(st);
}

static void test_stdout_on_a_full_device_exits_1_naming_it(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(
        run_sh(&err, "", "backtest --config examples/sma_cross.ini --out o", ">/dev/full"), 1);
    assert_non_null(strstr(err, "cannot write standard output: No space left on device"));
    free(err);
    assert_int_equal(run_sh(&err, "", "help", ">/dev/full"), 1);
    assert_non_null(strstr(err, "cannot write standard output"));
    free(err);
}

static void test_indicators_into_a_file_too_large_exits_1(void **state)
{
    (void)state;
    char *err = NULL;
    /* 512-byte blocks in sh: 2 KiB, far less than the CSV. */
    assert_int_equal(run_sh(&err, "trap '' XFSZ; ulimit -f 4;",
                            "indicators --data data/BTCUSDT-1m-2024-01.csv --ind sma:20",
                            ">ind.csv"),
                     1);
    assert_non_null(strstr(err, "cannot write standard output: File too large"));
    free(err);
}

/* An OSC (retitle the window) and a CSI (red) in a CSV header, a stray
 * byte, and a valid "€": the text log shows the bytes, never sends them. */
static void test_text_log_escapes_control_bytes_from_a_data_file(void **state)
{
    (void)state;
    write_file("evil.csv", "timestamp,open,high,low,close,volume\x1b]0;pwned\x07\x1b[31m"
                           "\xff\xe2\x82\xac\r\n1704067200,1,1,1,1,1\n");
    char *err = NULL;
    assert_int_equal(
        run(&err, "backtest --config examples/sma_cross.ini --data BTCUSDT:evil.csv --out o"), 3);
    assert_non_null(strstr(err, "evil.csv:1:"));
    assert_non_null(strstr(err, "volume\\x1b]0;pwned\\x07\\x1b[31m\\xff\xe2\x82\xac"));
    for (const unsigned char *p = (const unsigned char *)err; *p; p++)
        if ((*p < 0x20 && *p != '\n') || *p == 0x7f || *p == 0xff)
            fail_msg("raw byte 0x%02x on stderr: %s", *p, err);
    free(err);
}

static void test_report_of_a_file_says_what_dir_is(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(run(&err, "report examples/sma_cross.ini"), 2);
    assert_non_null(strstr(err, "tradebus report DIR: DIR is the output folder of a backtest "
                                "(holding summary.json and events.jsonl); examples/sma_cross.ini "
                                "is a file"));
    free(err);
    assert_int_equal(run(&err, "report examples"), 3);
    assert_non_null(strstr(err, "examples holds no summary.json"));
    free(err);
}

/* Every help page: lines of at most 80 columns, one Examples heading. */
static void test_help_pages_fit_80_columns_with_one_examples_heading(void **state)
{
    (void)state;
    for (size_t i = 0; i <= NCMDS; i++) {
        if (i < NCMDS)
            assert_int_equal(run(NULL, "help %s", all_commands[i]), 0);
        else
            assert_int_equal(run(NULL, "help"), 0);
        const char *page = i < NCMDS ? all_commands[i] : "(main)";
        char *out = out_text();
        assert_non_null(out);
        int headings = 0, lineno = 0;
        for (char *save = NULL, *l = strtok_r(out, "\n", &save); l;
             l = strtok_r(NULL, "\n", &save)) {
            lineno++;
            if (strlen(l) > 80)
                fail_msg("help %s: line %d has %zu columns: %s", page, lineno, strlen(l), l);
            if (strncmp(l, "Example", 7) == 0) headings++;
        }
        if (headings != 1) fail_msg("help %s: %d Example headings", page, headings);
        free(out);
    }
}

static void test_no_progress_bar_when_stderr_is_not_a_terminal(void **state)
{
    (void)state;
    setenv("TRADEBUS_PROGRESS_DELAY", "0", 1);
    char *err = NULL;
    assert_int_equal(run(&err, "backtest --config examples/multi.ini --out o"), 0);
    assert_string_equal(err, "");
    free(err);
    unsetenv("TRADEBUS_PROGRESS_DELAY");
}

/* On a terminal (script(1) gives it one) the bar shows percent, rate and ETA,
 * then is cleared; --quiet silences it. */
static void test_progress_bar_on_a_terminal(void **state)
{
    (void)state;
    if (system("command -v script >/dev/null 2>&1") != 0) skip();
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "cd %s && TRADEBUS_PROGRESS_DELAY=0 script -qec '%s backtest --config "
             "examples/multi.ini --out o' /dev/null </dev/null >tty.txt 2>&1",
             dir, TB_BINARY);
    assert_int_equal(system(cmd), 0);
    char *tty = tbt_read_in(dir, "tty.txt");
    assert_non_null(tty);
    assert_non_null(strstr(tty, "5760 bars"));
    assert_non_null(strstr(tty, "bars/s"));
    assert_non_null(strstr(tty, "ETA"));
    assert_non_null(strstr(tty, "%"));
    assert_non_null(strstr(tty, "\r\033[K")); /* cleared */
    assert_non_null(strstr(tty, "tradebus backtest"));
    free(tty);
    snprintf(cmd, sizeof(cmd),
             "cd %s && TRADEBUS_PROGRESS_DELAY=0 script -qec '%s backtest --quiet --config "
             "examples/multi.ini --out o' /dev/null </dev/null >tty.txt 2>&1",
             dir, TB_BINARY);
    assert_int_equal(system(cmd), 0);
    tty = tbt_read_in(dir, "tty.txt");
    assert_null(strstr(tty, "bars/s"));
    free(tty);
}

/* On a terminal, data from a pipe (`<(cat f.csv)`, /dev/stdin) or a FIFO
 * is read once, by the run: the bar shows no total rather than counting
 * rows first (which emptied the pipe: "file is empty", or hung on the FIFO). */
static void test_progress_bar_with_data_from_a_pipe_or_fifo(void **state)
{
    (void)state;
    if (system("command -v script >/dev/null 2>&1") != 0) skip();
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "cd %s && TRADEBUS_PROGRESS_DELAY=0 timeout 60 script -qec 'cat "
             "data/BTCUSDT-1m-2024-01.csv | %s backtest --config examples/sma_cross.ini "
             "--data BTCUSDT:/dev/stdin --out o' /dev/null </dev/null >tty.txt 2>&1",
             dir, TB_BINARY);
    int st = system(cmd);
    char *tty = tbt_read_in(dir, "tty.txt");
    assert_non_null(tty);
    if (st != 0) fail_msg("pipe: status %d: %s", st, tty);
    assert_non_null(strstr(tty, "bars/s"));
    assert_null(strstr(tty, "ETA")); /* no total: no ETA */
    assert_non_null(strstr(tty, "2880 (bad rows"));
    free(tty);
    snprintf(cmd, sizeof(cmd),
             "cd %s && rm -f fifo && mkfifo fifo && (cat data/BTCUSDT-1m-2024-01.csv > fifo &) "
             "&& TRADEBUS_PROGRESS_DELAY=0 timeout 60 script -qec '%s backtest --config "
             "examples/sma_cross.ini --data BTCUSDT:fifo --out o' /dev/null </dev/null "
             ">tty.txt 2>&1",
             dir, TB_BINARY);
    st = system(cmd);
    tty = tbt_read_in(dir, "tty.txt");
    assert_non_null(tty);
    if (st != 0) fail_msg("fifo: status %d: %s", st, tty);
    assert_non_null(strstr(tty, "bars/s"));
    assert_non_null(strstr(tty, "2880 (bad rows"));
    free(tty);
}

/* Writes one 15m bar as a Binance kline row (times in ms). */
static void put_kline(FILE *f, const tb_market_data *b)
{
    char o[TB_DECIMAL_STRLEN], h[TB_DECIMAL_STRLEN], l[TB_DECIMAL_STRLEN], c[TB_DECIMAL_STRLEN],
        v[TB_DECIMAL_STRLEN];
    tb_dec_format(b->open, o, sizeof(o));
    tb_dec_format(b->high, h, sizeof(h));
    tb_dec_format(b->low, l, sizeof(l));
    tb_dec_format(b->close, c, sizeof(c));
    tb_dec_format(b->volume, v, sizeof(v));
    fprintf(f, "%lld,%s,%s,%s,%s,%s,%lld,0,0,0,0,0\n", (long long)(b->open_time / 1000000), o, h, l,
            c, v, (long long)(b->close_time / 1000000));
}

#define QUARTER_NS (15 * 60 * INT64_C(1000000000))

/* The bundled 1m data resampled to 15m here, by a plain grouping of its
 * own (not the library's resampler): `indicators --timeframe 15m` must
 * print exactly what `indicators` prints on that file. */
static void test_indicators_timeframe_15m_equals_indicators_on_bars_resampled_here(void **state)
{
    (void)state;
    char err[512], path[512];
    tb_md_config mc;
    tb_md_config_init(&mc);
    tb_md_reader *r;
    assert_int_equal(
        tb_md_reader_open(TB_SOURCE_DIR "/data/BTCUSDT-1m-2024-01.csv", &mc, &r, err, sizeof(err)),
        0);
    snprintf(path, sizeof(path), "%s/r15.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    tb_market_data b, q;
    memset(&q, 0, sizeof(q));
    int have = 0, rows = 0, rc;
    while ((rc = tb_md_reader_next(r, &b, err, sizeof(err))) == 0) {
        int64_t start = b.open_time / QUARTER_NS * QUARTER_NS;
        if (have && q.open_time != start) { /* a gap ended the quarter */
            put_kline(f, &q);
            rows++;
            have = 0;
        }
        if (!have) {
            q = b;
            q.open_time = start;
            q.close_time = start + QUARTER_NS - 1000000;
            have = 1;
        } else {
            if (b.high > q.high) q.high = b.high;
            if (b.low < q.low) q.low = b.low;
            q.close = b.close;
            assert_int_equal(tb_dec_add(q.volume, b.volume, &q.volume), 0);
        }
        if (b.close_time == q.close_time) {
            put_kline(f, &q);
            rows++;
            have = 0;
        }
    }
    assert_int_equal(rc, TB_EEOF);
    tb_md_reader_close(r);
    fclose(f);
    assert_int_equal(rows, 192); /* two whole days */
    const char *inds = "sma:5 ema:4 rsi:6 atr:3 donchian:4 macd:3,6,2 bbands:5,2";
    char *err_text = NULL;
    assert_int_equal(run(&err_text, "indicators --data BTCUSDT:r15.csv --ind %s", inds), 0);
    free(err_text);
    char *want = out_text();
    assert_int_equal(run(&err_text,
                         "indicators --data data/BTCUSDT-1m-2024-01.csv --ind %s --timeframe 15m",
                         inds),
                     0);
    free(err_text);
    char *got = out_text();
    assert_non_null(want);
    assert_non_null(got);
    assert_string_equal(got, want);
    int lines = 0;
    for (const char *c = got; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 193);
    assert_non_null(strstr(got, "\n2024-01-01T00:15:00.000Z,"));
    free(want);
    free(got);

    /* Below the data's own interval: a usage error naming both. */
    assert_int_equal(run(&err_text, "indicators --data BTCUSDT:r15.csv --ind sma:2 --timeframe 5m"),
                     2);
    assert_non_null(strstr(err_text, "timeframe 5m is shorter than the BTCUSDT data's 15m bars"));
    free(err_text);
}

static void test_indicators_unknown_timeframe_exits_2_naming_it_and_the_allowed(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(
        run(&err, "indicators --data data/BTCUSDT-1m-2024-01.csv --ind sma:2 --timeframe 2m"), 2);
    assert_non_null(strstr(err, "'2m'"));
    assert_non_null(strstr(err, TB_TIMEFRAME_NAMES));
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_for_every_command_has_examples_both_ways),
        cmocka_unit_test(test_help_examples_run),
        cmocka_unit_test(test_unknown_command_suggests_the_closest),
        cmocka_unit_test(test_config_check_prints_effective_values),
        cmocka_unit_test(test_config_check_lists_a_lua_scripts_params),
        cmocka_unit_test(test_config_check_takes_a_live_config_without_data),
        cmocka_unit_test(test_config_check_rejects_a_broken_config),
        cmocka_unit_test(test_log_format_json),
        cmocka_unit_test(test_log_format_json_escapes_invalid_utf8),
        cmocka_unit_test(test_stdout_on_a_full_device_exits_1_naming_it),
        cmocka_unit_test(test_indicators_into_a_file_too_large_exits_1),
        cmocka_unit_test(test_indicators_timeframe_15m_equals_indicators_on_bars_resampled_here),
        cmocka_unit_test(test_indicators_unknown_timeframe_exits_2_naming_it_and_the_allowed),
        cmocka_unit_test(test_text_log_escapes_control_bytes_from_a_data_file),
        cmocka_unit_test(test_report_of_a_file_says_what_dir_is),
        cmocka_unit_test(test_help_pages_fit_80_columns_with_one_examples_heading),
        cmocka_unit_test(test_no_progress_bar_when_stderr_is_not_a_terminal),
        cmocka_unit_test(test_progress_bar_on_a_terminal),
        cmocka_unit_test(test_progress_bar_with_data_from_a_pipe_or_fifo),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
