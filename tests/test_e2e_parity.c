/* End to end: `tradebus parity` and `tradebus backtest --shadow-legacy`, run
 * as a user runs them, on the crafted 11-bar series (sma_cross 2/3 buys at
 * 12.5 and sells at 9.5) and on logs altered by hand. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tb_test_cli.h"
#include "tb_test_support.h"

static char dir[512];

static const char *const config = "[backtest]\n"
                                  "data = BTCUSDT-1m-2024-01.csv\n"
                                  "[strategy.s1]\n"
                                  "type = sma_cross\n"
                                  "symbol = BTCUSDT\n"
                                  "fast = 2\n"
                                  "slow = 3\n"
                                  "quantity = 1\n";

static int setup(void **state)
{
    (void)state;
    char path[1024];
    tbt_temp_dir(dir, sizeof(dir));
    tbt_write_file(dir, "BTCUSDT-1m-2024-01.csv", tbt_staircase_csv, path, sizeof(path));
    tbt_write_file(dir, "bt.ini", config, path, sizeof(path));
    /* The reference: both trade logs of an agreeing run. */
    return tbt_run_cli(dir, NULL, "parity --config bt.ini --out ref") == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tbt_remove_tree(dir);
    return 0;
}

/* The legacy log of the agreeing run, line by line (at most 32 lines). */
static int ref_lines(char lines[32][512])
{
    char *log = tbt_read_in(dir, "ref/legacy.jsonl");
    assert_non_null(log);
    int n = 0;
    for (char *save = NULL, *l = strtok_r(log, "\n", &save); l && n < 32;
         l = strtok_r(NULL, "\n", &save))
        snprintf(lines[n++], 512, "%s", l);
    free(log);
    return n;
}

static int find_line(char lines[32][512], int n, const char *kind, int nth)
{
    char key[64];
    snprintf(key, sizeof(key), "{\"kind\":\"%s\"", kind);
    for (int i = 0; i < n; i++)
        if (strncmp(lines[i], key, strlen(key)) == 0 && nth-- == 0) return i;
    fail_msg("no %s record in the reference log", kind);
    return 0; /* not reached: fail_msg ends the test (0 keeps the optimiser in bounds) */
}

static void write_lines(const char *name, char lines[32][512], int n)
{
    char buf[32 * 520] = "", path[1024];
    for (int i = 0; i < n; i++) {
        strcat(buf, lines[i]);
        strcat(buf, "\n");
    }
    tbt_write_file(dir, name, buf, path, sizeof(path));
}

static void test_parity_agreeing_run_prints_identical_and_exits_0(void **state)
{
    (void)state;
    assert_int_equal(tbt_run_cli(dir, NULL, "parity --config bt.ini"), 0);
    char *out = tbt_read_in(dir, "stdout.txt");
    assert_string_equal(out, "IDENTICAL: 2 signals, 2 orders, 2 fills, final PnL equal\n");
    free(out);
}

static void test_parity_out_writes_both_logs_and_the_diff(void **state)
{
    (void)state;
    char lines[32][512];
    int n = ref_lines(lines);
    /* 2 signals, 2 orders, 2 fills, 2 positions, 1 final */
    assert_int_equal(n, 9);
    char *p = tbt_read_in(dir, "ref/pipeline.jsonl"), *j = tbt_read_in(dir, "ref/parity.json");
    assert_non_null(p);
    assert_non_null(j);
    assert_non_null(strstr(p, "\"kind\":\"fill\",\"time\":\"2024-01-01T00:05:00.000Z\""));
    assert_non_null(strstr(p, "\"price\":\"12.5\",\"commission\":\"0.0125\""));
    assert_non_null(strstr(p, "{\"kind\":\"final\",\"realized_pnl\":\"-3\""));
    assert_non_null(strstr(j, "\"identical\":true"));
    free(p);
    free(j);
}

static void test_parity_catches_a_one_tick_price_difference_at_its_fill(void **state)
{
    (void)state;
    char lines[32][512];
    int n = ref_lines(lines);
    int i = find_line(lines, n, "fill", 1);
    char *at = strstr(lines[i], "\"price\":\"9.5\"");
    assert_non_null(at);
    memcpy(at, "\"price\":\"9.6\"", 13); /* one tick of 0.1 up */
    write_lines("tick.jsonl", lines, n);
    assert_int_equal(tbt_run_cli(dir, NULL, "parity --config bt.ini --legacy-log tick.jsonl"), 1);
    char *out = tbt_read_in(dir, "stdout.txt"), want[64];
    assert_non_null(strstr(out, "first divergence at fill 2024-01-01T00:09:00.000Z s1/BTCUSDT"));
    assert_non_null(strstr(out, "price"));
    snprintf(want, sizeof(want), "(line %d)", i + 1);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "divergences: 1 "));
    free(out);
}

static void test_parity_catches_a_missing_fill(void **state)
{
    (void)state;
    char lines[32][512];
    int n = ref_lines(lines);
    int i = find_line(lines, n, "fill", 0);
    memmove(lines[i], lines[i + 1], (size_t)(n - i - 1) * sizeof(lines[0]));
    write_lines("nofill.jsonl", lines, n - 1);
    assert_int_equal(tbt_run_cli(dir, NULL, "parity --config bt.ini --legacy-log nofill.jsonl"), 1);
    char *out = tbt_read_in(dir, "stdout.txt");
    assert_non_null(strstr(out, "first divergence at fill 2024-01-01T00:05:00.000Z s1/BTCUSDT"));
    assert_non_null(strstr(out, "fill: mismatch 0, only-pipeline 1, only-legacy 0"));
    free(out);
}

static void test_parity_catches_an_extra_order(void **state)
{
    (void)state;
    char lines[32][512];
    int n = ref_lines(lines);
    int i = find_line(lines, n, "order", 1);
    /* The same order again, one bar later: the legacy system sent it twice. */
    memmove(lines[i + 1], lines[i], (size_t)(n - i) * sizeof(lines[0]));
    char *t = strstr(lines[i + 1], "00:08:59.999Z");
    assert_non_null(t);
    memcpy(t, "00:09:59.999Z", 13);
    write_lines("extra.jsonl", lines, n + 1);
    assert_int_equal(tbt_run_cli(dir, NULL, "parity --config bt.ini --legacy-log extra.jsonl"), 1);
    char *out = tbt_read_in(dir, "stdout.txt");
    assert_non_null(strstr(out, "first divergence at order 2024-01-01T00:09:59.999Z"));
    assert_non_null(strstr(out, "order: mismatch 0, only-pipeline 0, only-legacy 1"));
    assert_non_null(strstr(out, "divergences: 1 "));
    free(out);
}

/* A full disk under --out: the file being written is named and the exit
 * is 1 (a runtime failure), not 3 blaming the legacy data. The trade logs
 * are small: the failure comes when their buffers are written. */
static void test_parity_out_on_a_full_disk_names_the_file_and_exits_1(void **state)
{
    (void)state;
    const char *wrapper = getenv("TB_CLI_WRAPPER");
    char cmd[2048];
    /* ulimit -f counts 512-byte blocks in sh; SIGXFSZ ignored: EFBIG. */
    snprintf(cmd, sizeof(cmd),
             "cd %s && trap '' XFSZ; ulimit -f 1; %s%s%s parity --config bt.ini --out full "
             ">stdout.txt 2>stderr.txt",
             dir, wrapper ? wrapper : "", wrapper ? " " : "", TB_BINARY);
    int st = system(cmd);
    assert_true(st != -1 && WIFEXITED(st));
    char *err = tbt_read_in(dir, "stderr.txt");
    assert_non_null(err);
    if (WEXITSTATUS(st) != 1) fail_msg("exit %d: %s", WEXITSTATUS(st), err);
    assert_non_null(strstr(err, "full/pipeline.jsonl: write failed: File too large"));
    assert_null(strstr(err, "legacy:"));
    free(err);
}

static void test_parity_malformed_legacy_line_names_it_and_exits_3(void **state)
{
    (void)state;
    char lines[32][512];
    int n = ref_lines(lines);
    snprintf(lines[2], sizeof(lines[2]), "{\"kind\":\"fill\",\"time\":\"noon\"}");
    write_lines("bad.jsonl", lines, n);
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err, "parity --config bt.ini --legacy-log bad.jsonl"), 3);
    if (!strstr(err, "bad.jsonl:3:")) fail_msg("stderr: %s", err);
    free(err);
}

static void test_parity_runs_a_legacy_command_and_reads_its_stdout(void **state)
{
    (void)state;
    char *err = NULL;
    int code = tbt_run_cli(dir, &err,
                           "parity --config bt.ini --legacy-cmd "
                           "'test \"$TRADEBUS_CONFIG\" = bt.ini && cat ref/legacy.jsonl'");
    if (code != 0) fail_msg("exit %d: %s", code, err);
    free(err);
    assert_int_equal(tbt_run_cli(dir, &err, "parity --config bt.ini --legacy-cmd 'exit 4'"), 3);
    assert_non_null(strstr(err, "failed (exit status 4)"));
    free(err);
}

/* A command that closes its stdout and keeps running is killed at
 * --legacy-timeout (exit 1, the option named); one killed by a signal says
 * which; a legacy log that never ends a line stops at the line limit. */
static void test_parity_legacy_command_timeout_signal_and_line_limit(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err,
                                 "parity --config bt.ini --legacy-timeout 1 "
                                 "--legacy-cmd 'exec >&-; sleep 30'"),
                     1);
    if (!strstr(err, "did not finish within 1 s (--legacy-timeout")) fail_msg("stderr: %s", err);
    free(err);
    assert_int_equal(tbt_run_cli(dir, &err, "parity --config bt.ini --legacy-cmd 'kill -9 $$'"), 3);
    if (!strstr(err, "killed by signal 9 (SIGKILL)")) fail_msg("stderr: %s", err);
    free(err);
    assert_int_equal(tbt_run_cli(dir, &err, "parity --config bt.ini --legacy-log /dev/zero"), 3);
    if (!strstr(err, "/dev/zero:1: line longer than 65536 bytes")) fail_msg("stderr: %s", err);
    free(err);
    assert_int_equal(tbt_run_cli(dir, NULL, "parity --config bt.ini --legacy-timeout soon"), 2);
}

/* The legacy command runs in its own process group (so a timeout kills
 * all it started), out of reach of the terminal's Ctrl-C: parity must pass
 * the interrupt on, not leave the command running after it is gone. */
static void test_parity_interrupted_stops_the_legacy_command(void **state)
{
    (void)state;
    char pidfile[600];
    snprintf(pidfile, sizeof(pidfile), "%s/cmd.pid", dir);
    unlink(pidfile);
    pid_t parity = fork();
    assert_true(parity >= 0);
    if (parity == 0) {
        if (chdir(dir) != 0 || !freopen("int.out", "w", stdout) || !freopen("int.err", "w", stderr))
            _exit(126);
        execl(TB_BINARY, TB_BINARY, "parity", "--config", "bt.ini", "--legacy-cmd",
              "echo $$ > cmd.pid.tmp && mv cmd.pid.tmp cmd.pid && exec sleep 30", (char *)NULL);
        _exit(127);
    }
    long cmd = 0;
    for (int waited = 0; cmd <= 0; waited += 20) {
        if (waited > 30000) {
            kill(parity, SIGKILL);
            fail_msg("the legacy command never started");
        }
        FILE *f = fopen(pidfile, "r");
        if (f) {
            if (fscanf(f, "%ld", &cmd) != 1) cmd = 0;
            fclose(f);
        }
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(kill(parity, SIGINT), 0);
    int st;
    assert_int_equal(waitpid(parity, &st, 0), parity);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 130);
    /* parity reaped it: the pid is gone, not an orphan still sleeping. */
    assert_int_equal(kill((pid_t)cmd, 0), -1);
    assert_int_equal(errno, ESRCH);
    char *err = tbt_read_in(dir, "int.err");
    if (!strstr(err, "interrupted")) fail_msg("stderr: %s", err);
    free(err);
}

static void test_parity_usage_errors_exit_2(void **state)
{
    (void)state;
    assert_int_equal(tbt_run_cli(dir, NULL, "parity --config bt.ini --legacy python"), 2);
    assert_int_equal(tbt_run_cli(dir, NULL, "parity --config bt.ini --legacy-log a --legacy-cmd b"),
                     2);
    assert_int_equal(tbt_run_cli(dir, NULL, "parity --config bt.ini --price-tolerance -1"), 2);
    assert_int_equal(tbt_run_cli(dir, NULL, "parity"), 2);
}

static void test_parity_tolerances_accept_small_differences(void **state)
{
    (void)state;
    char lines[32][512];
    int n = ref_lines(lines);
    int i = find_line(lines, n, "fill", 1);
    char *at = strstr(lines[i], "\"price\":\"9.5\"");
    memcpy(at, "\"price\":\"9.6\"", 13);
    write_lines("tol.jsonl", lines, n);
    assert_int_equal(tbt_run_cli(dir, NULL,
                                 "parity --config bt.ini --legacy-log tol.jsonl "
                                 "--price-tolerance 0.1"),
                     0);
    assert_int_equal(tbt_run_cli(dir, NULL,
                                 "parity --config bt.ini --legacy-log tol.jsonl "
                                 "--price-tolerance 0.09"),
                     1);
}

/* The bundled monolith models neither stops, sizing, time in force nor
 * halts: a config using one is refused up front, by name, instead of
 * reporting divergences. */
static void test_parity_refuses_what_the_monolith_does_not_model(void **state)
{
    (void)state;
    static const char *const sets[] = {
        "strategy.s1.stop_loss_pct=2",     "strategy.s1.take_profit_pct=3",
        "strategy.s1.trailing_stop_pct=1", "risk.halt_action=close_all",
        "strategy.s1.expire_after_bars=3", "strategy.s1.time_in_force=IOC",
    };
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "parity --config bt.ini --set %s", sets[i]);
        if (strstr(sets[i], "expire") || strstr(sets[i], "force"))
            strcat(cmd, " --set strategy.s1.order_type=LIMIT");
        assert_int_equal(tbt_run_cli(dir, NULL, "%s", cmd), 2);
        char *err = tbt_read_in(dir, "stderr.txt");
        if (!strstr(err, "the legacy monolith does not model")) fail_msg("%s: %s", cmd, err);
        free(err);
        snprintf(cmd, sizeof(cmd), "backtest --config bt.ini --shadow-legacy --out sh --set %s",
                 sets[i]);
        if (strstr(sets[i], "expire") || strstr(sets[i], "force"))
            strcat(cmd, " --set strategy.s1.order_type=LIMIT");
        assert_int_equal(tbt_run_cli(dir, NULL, "%s", cmd), 2);
    }
}

/* A drawdown limit changes nothing until it fires; when it does, the
 * comparison is refused, not reported as the divergences that follow. */
static void test_parity_refuses_a_run_that_halted(void **state)
{
    (void)state;
    assert_int_equal(
        tbt_run_cli(dir, NULL,
                    "parity --config bt.ini --set risk.max_drawdown_pct=0.01 "
                    "--set strategy.s1.quantity=500 --set backtest.initial_cash=10000"),
        2);
    char *err = tbt_read_in(dir, "stderr.txt");
    assert_non_null(strstr(err, "trading halted during the run"));
    free(err);
    assert_int_equal(
        tbt_run_cli(dir, NULL,
                    "backtest --config bt.ini --shadow-legacy --out sh "
                    "--set risk.max_drawdown_pct=0.01 "
                    "--set strategy.s1.quantity=500 --set backtest.initial_cash=10000"),
        2);
    err = tbt_read_in(dir, "stderr.txt");
    assert_non_null(strstr(err, "the legacy monolith does not model halts"));
    free(err);
    /* A limit the run stays within: compared as always. */
    assert_int_equal(
        tbt_run_cli(dir, NULL, "parity --config bt.ini --set risk.max_drawdown_pct=50"), 0);
}

/* [backtest] round_prices reaches the legacy side's reader too: a price of
 * 9 decimals is an error for both, or rounded for both. */
static void test_parity_reads_the_data_with_the_configs_round_prices(void **state)
{
    (void)state;
    char path[1024];
    tbt_write_file(dir, "ROUNDUSDT.csv",
                   "1704067200000,10,10,10,10,5,1704067259999,50,1,0,0,0\n"
                   "1704067260000,10,10,10,10,5,1704067319999,50,1,0,0,0\n"
                   "1704067320000,10,10,10,10,5,1704067379999,50,1,0,0,0\n"
                   "1704067380000,10,10,10,10.000000001,5,1704067439999,50,1,0,0,0\n"
                   "1704067440000,10,12,10,12,5,1704067499999,50,1,0,0,0\n"
                   "1704067500000,12.5,14,12,14,5,1704067559999,50,1,0,0,0\n",
                   path, sizeof(path));
    const char *cmd =
        "parity --config bt.ini --data ROUNDUSDT.csv --set strategy.s1.symbol=ROUNDUSDT";
    assert_int_equal(tbt_run_cli(dir, NULL, "%s", cmd), 3);
    char *err = tbt_read_in(dir, "stderr.txt");
    assert_non_null(strstr(err, "ROUNDUSDT.csv:4"));
    free(err);
    assert_int_equal(tbt_run_cli(dir, NULL, "%s --set backtest.round_prices=true", cmd), 0);
    char *out = tbt_read_in(dir, "stdout.txt");
    assert_non_null(strstr(out, "IDENTICAL"));
    free(out);
}

static void test_shadow_mode_reports_divergences_as_risk_alerts(void **state)
{
    (void)state;
    /* Agreement first: no parity alert. */
    assert_int_equal(tbt_run_cli(dir, NULL, "backtest --config bt.ini --shadow-legacy --out s1"),
                     0);
    char *out = tbt_read_in(dir, "stdout.txt"), *ev = tbt_read_in(dir, "s1/events.jsonl");
    assert_non_null(strstr(out, "shadow legacy run: IDENTICAL: 2 signals"));
    assert_null(strstr(ev, "\"rule\":\"parity\""));
    free(out);
    free(ev);
    /* A risk rule only the pipeline has refuses the buy: the legacy side
     * trades, and the shadow says so as it happens. */
    assert_int_equal(tbt_run_cli(dir, NULL,
                                 "backtest --config bt.ini --shadow-legacy "
                                 "--set risk.max_order_notional=10 --out s2"),
                     0);
    out = tbt_read_in(dir, "stdout.txt");
    ev = tbt_read_in(dir, "s2/events.jsonl");
    assert_non_null(strstr(out, "shadow legacy run: DIVERGED"));
    assert_non_null(strstr(ev, "\"rule\":\"parity\""));
    /* The alert comes during the run, right after the bar of the fill the
     * pipeline never made, not at the end. */
    char *alert = strstr(ev, "\"rule\":\"parity\"");
    assert_non_null(strstr(alert, "\"type\":\"MarketData\""));
    free(out);
    free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parity_agreeing_run_prints_identical_and_exits_0),
        cmocka_unit_test(test_parity_out_writes_both_logs_and_the_diff),
        cmocka_unit_test(test_parity_refuses_what_the_monolith_does_not_model),
        cmocka_unit_test(test_parity_refuses_a_run_that_halted),
        cmocka_unit_test(test_parity_catches_a_one_tick_price_difference_at_its_fill),
        cmocka_unit_test(test_parity_catches_a_missing_fill),
        cmocka_unit_test(test_parity_catches_an_extra_order),
        cmocka_unit_test(test_parity_malformed_legacy_line_names_it_and_exits_3),
        cmocka_unit_test(test_parity_out_on_a_full_disk_names_the_file_and_exits_1),
        cmocka_unit_test(test_parity_runs_a_legacy_command_and_reads_its_stdout),
        cmocka_unit_test(test_parity_legacy_command_timeout_signal_and_line_limit),
        cmocka_unit_test(test_parity_interrupted_stops_the_legacy_command),
        cmocka_unit_test(test_parity_usage_errors_exit_2),
        cmocka_unit_test(test_parity_tolerances_accept_small_differences),
        cmocka_unit_test(test_parity_reads_the_data_with_the_configs_round_prices),
        cmocka_unit_test(test_shadow_mode_reports_divergences_as_risk_alerts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
