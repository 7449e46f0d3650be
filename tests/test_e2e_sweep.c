/* End to end: `tradebus sweep` as a user runs it. Every row checked is
 * exactly `tradebus backtest` with those --set values (summary.json's
 * figures, and report.html's ratios from the same replay); sweep.csv does
 * not depend on --jobs; an invalid combination is a row; Ctrl-C keeps the
 * finished rows and --resume completes them into what an uninterrupted
 * sweep writes, and so does a kill -9 through the checkpoint; a
 * walk-forward keeps its finished windows the same way, and the rows of
 * its unfinished window's training sweep; best/ is the best combination's
 * backtest. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/core/timefmt_int.h"
#include "../src/report/report_int.h"
#include "tb_test_cli.h"
#include "tb_test_support.h"

/* The interrupted runs sweep a grid long enough to be stopped midway;
 * under the sanitizers every run is several times slower, so a quarter of
 * the slow values do (the suite's time budget). */
#ifdef TBT_SANITIZED
#define SLOW_GRID "strategy.t.slow=10:60:4"
#define SLOW_N    13
#else
#define SLOW_GRID "strategy.t.slow=10:60:1"
#define SLOW_N    51
#endif

static char dir[512];

/* 9000 five-minute bars: 31 days, so Sharpe and Sortino are defined. */
static const char *const config = "[backtest]\n"
                                  "data = BTCUSDT:gen.csv\n"
                                  "initial_cash = 10000\n"
                                  "[exchange]\n"
                                  "fee_bps = 7.5\n"
                                  "[strategy.t]\n"
                                  "type = sma_cross\n"
                                  "symbol = BTCUSDT\n"
                                  "quantity = 0.05\n"
                                  "allow_short = true\n";

static const char *const params = "--param strategy.t.fast=3:9:3 --param strategy.t.slow=10,20,40 "
                                  "--param exchange.slippage_bps=0,2";

static int setup(void **state)
{
    (void)state;
    tbt_temp_dir(dir, sizeof dir);
    char p[1024];
    tbt_write_file(dir, "c.ini", config, p, sizeof p);
    if (tbt_sh(dir, "%s --bars 9000 --seed 5 --price 30000 --interval 300 --regime mixed > gen.csv",
               TB_GENDATA))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tbt_remove_tree(dir);
    return 0;
}

/* The fields of line `row` (0 = header) of a CSV without quotes. */
static int csv_row(const char *text, int row, char f[32][64])
{
    const char *l = text;
    for (int i = 0; i < row && l; i++) {
        l = strchr(l, '\n');
        if (l) l++;
    }
    if (!l || !*l) return 0;
    int n = 0;
    while (n < 32) {
        size_t len = strcspn(l, ",\n");
        snprintf(f[n++], 64, "%.*s", (int)len, l);
        if (l[len] != ',') break;
        l += len + 1;
    }
    return n;
}

/* summary.json's "key": "decimal" or key: number, as a decimal. */
static tb_decimal summary_dec(const char *json, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\": ", key);
    const char *p = strstr(json, k);
    if (!p) fail_msg("summary.json has no %s", key);
    p += strlen(k);
    if (*p == '"') p++;
    tb_decimal d;
    size_t len = strspn(p, "-0123456789.");
    if (tb_dec_parse(p, len, &d) != 0) fail_msg("%s: bad value", key);
    return d;
}

static tb_decimal dec(const char *s)
{
    tb_decimal d;
    if (tb_dec_parse(s, strlen(s), &d) != 0) fail_msg("not a decimal: '%s'", s);
    return d;
}

static void ratio_equal(const char *field, int defined, double v, const char *what)
{
    char want[64] = "";
    if (defined) snprintf(want, sizeof want, "%.10g", v);
    if (strcmp(field, want) != 0)
        fail_msg("%s: sweep says '%s', the backtest's report '%s'", what, field, want);
}

static void test_rows_are_backtests_and_do_not_depend_on_jobs(void **state)
{
    (void)state;
    assert_int_equal(tbt_run_cli(dir, NULL,
                                 "sweep --config c.ini %s --where 'fast < slow' --jobs 1 "
                                 "--out s1 --quiet",
                                 params),
                     0);
    assert_int_equal(tbt_run_cli(dir, NULL,
                                 "sweep --config c.ini %s --where 'fast < slow' --jobs 3 "
                                 "--out s3 --quiet",
                                 params),
                     0);
    char *a = tbt_read_in(dir, "s1/sweep.csv"), *b = tbt_read_in(dir, "s3/sweep.csv");
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a, b);
    /* 3 x 3 x 2 with fast < slow everywhere: 18 rows. */
    char f[32][64];
    int rows = 0;
    while (csv_row(a, rows + 1, f))
        rows++;
    assert_int_equal(rows, 18);
    /* A seeded sample of rows, each against its own backtest. */
    srand(17);
    int sharpe_seen = 0;
    for (int s = 0; s < 4; s++) {
        int row = 1 + rand() % rows;
        assert_int_equal(csv_row(a, row, f), 3 + 11 + 1);
        assert_int_equal(tbt_run_cli(dir, NULL,
                                     "backtest --config c.ini --set strategy.t.fast=%s --set "
                                     "strategy.t.slow=%s --set exchange.slippage_bps=%s --out b%d "
                                     "--quiet",
                                     f[0], f[1], f[2], s),
                         0);
        char name[64];
        snprintf(name, sizeof name, "b%d/summary.json", s);
        char *sum = tbt_read_in(dir, name);
        assert_non_null(sum);
        assert_int_equal(strtoull(f[3], NULL, 10), summary_dec(sum, "bars") / TB_DECIMAL_ONE);
        assert_int_equal(strtoull(f[4], NULL, 10), summary_dec(sum, "trades") / TB_DECIMAL_ONE);
        assert_int_equal(dec(f[5]),
                         summary_dec(sum, "final_equity") - summary_dec(sum, "initial_equity"));
        assert_int_equal(dec(f[6]), summary_dec(sum, "return_pct"));
        assert_int_equal(dec(f[7]), summary_dec(sum, "fees"));
        assert_int_equal(dec(f[8]), summary_dec(sum, "max_drawdown_pct"));
        assert_int_equal(dec(f[11]), summary_dec(sum, "win_rate"));
        free(sum);
        /* report.html's ratios, from the backtest's own files. */
        char out[1024], err[512];
        snprintf(out, sizeof out, "%s/b%d", dir, s);
        tb__report r;
        if (tb__report_load(&r, out, err, sizeof err) != 0) fail_msg("%s", err);
        assert_int_equal(tb__report_stats(&r), 0);
        ratio_equal(f[9], r.all.ratios, r.all.sharpe, "sharpe");
        ratio_equal(f[10], r.all.ratios, r.all.sortino, "sortino");
        ratio_equal(f[12], r.all.profit_factor >= 0, r.all.profit_factor, "profit_factor");
        ratio_equal(f[13], 1, r.all.exposure_pct, "exposure_pct");
        sharpe_seen += r.all.ratios;
        tb__report_free(&r);
    }
    assert_true(sharpe_seen > 0);
    free(a);
    free(b);
}

/* best/ is the full backtest of the best row by the objective. */
static void test_best_is_the_best_rows_full_backtest(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(
        tbt_run_cli(dir, &err, "sweep --config c.ini %s --objective sharpe --out sb", params), 0);
    free(err);
    char *out = tbt_read_in(dir, "stdout.txt");
    assert_non_null(out);
    const char *best = strstr(out, "best (sharpe)  fast=");
    assert_non_null(best);
    int fast = 0, slow = 0;
    char slip[16] = "";
    assert_int_equal(
        sscanf(best, "best (sharpe)  fast=%d slow=%d slippage_bps=%15[^:]", &fast, &slow, slip), 3);
    free(out);
    assert_int_equal(tbt_run_cli(dir, NULL,
                                 "backtest --config c.ini --set strategy.t.fast=%d --set "
                                 "strategy.t.slow=%d --set exchange.slippage_bps=%s --out bb "
                                 "--quiet",
                                 fast, slow, slip),
                     0);
    char *x = tbt_read_in(dir, "sb/best/fills.csv"), *y = tbt_read_in(dir, "bb/fills.csv");
    assert_non_null(x);
    assert_non_null(y);
    assert_string_equal(x, y);
    free(x);
    free(y);
    char *page = tbt_read_in(dir, "sb/best/report.html");
    assert_non_null(page);
    free(page);
    /* The sweep's own page ranks by the objective and has the heat maps. */
    page = tbt_read_in(dir, "sb/sweep.html");
    assert_non_null(page);
    assert_non_null(strstr(page, "sharpe"));
    assert_non_null(strstr(page, "<svg"));
    free(page);
    /* No row's sharpe beats the best's. */
    char *csv = tbt_read_in(dir, "sb/sweep.csv");
    char f[32][64];
    double top = -1e300;
    int bestrow = 0;
    for (int row = 1; csv_row(csv, row, f); row++)
        if (f[9][0] && strtod(f[9], NULL) > top) {
            top = strtod(f[9], NULL);
            bestrow = row;
        }
    csv_row(csv, bestrow, f);
    assert_int_equal(atoi(f[0]), fast);
    assert_int_equal(atoi(f[1]), slow);
    free(csv);
}

/* fast >= slow is refused by sma_cross's create: that row has the error,
 * the others ran, the sweep succeeds. */
static void test_an_invalid_combination_is_a_row_with_its_error(void **state)
{
    (void)state;
    assert_int_equal(tbt_run_cli(dir, NULL,
                                 "sweep --config c.ini --param strategy.t.fast=5,30 --param "
                                 "strategy.t.slow=20 --out si --quiet"),
                     0);
    char *csv = tbt_read_in(dir, "si/sweep.csv");
    assert_non_null(csv);
    char f[32][64];
    assert_int_equal(csv_row(csv, 1, f), 2 + 11 + 1);
    assert_string_equal(f[0], "5");
    assert_true(f[13][0] == 0 && f[2][0] != 0); /* ran */
    assert_true(csv_row(csv, 2, f) >= 2 + 11 + 1);
    assert_string_equal(f[0], "30");
    assert_true(f[2][0] == 0); /* no figures */
    assert_non_null(strstr(csv, "fast"));
    assert_non_null(strstr(strchr(strchr(csv, '\n') + 1, '\n'), "[strategy.t]"));
    free(csv);
}

/* When no combination runs (a misspelt key: the same error on every row)
 * the sweep is a config error, exit 2, naming the first row's values and
 * error; the rows are still written. */
static void test_every_combination_failing_is_a_config_error(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err,
                                 "sweep --config c.ini --param strategy.t.fast=3,5 --param "
                                 "strategy.t.sloww=20 --out sall --quiet"),
                     2);
    assert_non_null(strstr(err, "every combination failed (2 of 2); the first, fast=3 sloww=20: "));
    assert_non_null(strstr(err, "unknown parameter 'sloww'"));
    free(err);
    char *csv = tbt_read_in(dir, "sall/sweep.csv");
    assert_non_null(csv);
    assert_non_null(strstr(csv, "3,20,,"));
    free(csv);
    /* One combination that runs is a result: exit 0. */
    assert_int_equal(tbt_run_cli(dir, NULL,
                                 "sweep --config c.ini --param strategy.t.fast=5,30 --param "
                                 "strategy.t.slow=20 --out sone --quiet"),
                     0);
}

/* A window that chooses nothing says why in walkforward.csv: every
 * training row failed (a misspelt key: then exit 2, naming it), or no
 * combination has the objective (a Sharpe under 30 days: exit 0). */
static void test_a_window_that_chooses_nothing_says_why(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err,
                                 "sweep --config c.ini --param strategy.t.fastt=3,5 --train "
                                 "2024-01-01..2024-01-10 --test 2024-01-11..2024-01-15 --out wfx "
                                 "--quiet"),
                     2);
    assert_non_null(strstr(err, "no window could train: window 1: every training combination "
                                "failed; the first, fastt=3: "));
    free(err);
    char *wf = tbt_read_in(dir, "wfx/walkforward.csv");
    assert_non_null(wf);
    assert_non_null(strstr(wf, "unknown parameter 'fastt'"));
    free(wf);
    assert_int_equal(tbt_run_cli(dir, NULL,
                                 "sweep --config c.ini --param strategy.t.fast=3,5 --objective "
                                 "sharpe --train 2024-01-01..2024-01-10 --test "
                                 "2024-01-11..2024-01-15 --out wfy --quiet"),
                     0);
    wf = tbt_read_in(dir, "wfy/walkforward.csv");
    assert_non_null(wf);
    assert_non_null(strstr(
        wf, "\"no combination has a sharpe in training (sharpe and sortino need 30 days)\""));
    free(wf);
}

/* On a terminal (script(1) gives one) a sweep shows combinations done, the
 * rate and an ETA ("--:--" until one is done, no guess), and a walk-forward
 * its window and that window's training combinations; the line is cleared. */
static void test_progress_on_a_terminal(void **state)
{
    (void)state;
    if (system("command -v script >/dev/null 2>&1") != 0) skip();
    assert_int_equal(tbt_sh(dir,
                            "script -qec '%s sweep --config c.ini --param strategy.t.fast=3:9:3 "
                            "--param strategy.t.slow=20,40 --out ptty' /dev/null </dev/null "
                            ">tty.txt 2>&1",
                            TB_BINARY),
                     0);
    char *tty = tbt_read_in(dir, "tty.txt");
    assert_non_null(tty);
    assert_non_null(strstr(tty, "sweep: 0/6 combinations  0.0/s  ETA --:--"));
    assert_non_null(strstr(tty, "sweep: 6/6 combinations"));
    assert_non_null(strstr(tty, "\r\033[K  done"));
    free(tty);
    assert_int_equal(tbt_sh(dir,
                            "script -qec '%s sweep --config c.ini --param strategy.t.fast=3:9:3 "
                            "--param strategy.t.slow=20,40 --walk-forward train=10d,test=5d "
                            "--out pwf' /dev/null </dev/null >tty.txt 2>&1",
                            TB_BINARY),
                     0);
    tty = tbt_read_in(dir, "tty.txt");
    assert_non_null(tty);
    assert_non_null(strstr(tty, "walk-forward: window 1/5  ETA --:--"));
    assert_non_null(strstr(tty, "walk-forward: window 5/5, training 6/6 combinations  ETA"));
    assert_non_null(strstr(tty, "\r\033[K  1  test "));
    free(tty);
}

/* Ctrl-C (SIGINT) keeps every finished row and exits 130; --resume runs
 * the rest; the result is what an uninterrupted sweep writes. */
static void test_interrupted_sweep_resumes_to_the_same_rows(void **state)
{
    (void)state;
    const char *big = "--param strategy.t.fast=2:9:1 --param " SLOW_GRID " --jobs 2";
    assert_int_equal(tbt_run_cli(dir, NULL, "sweep --config c.ini %s --out sfull --quiet", big), 0);
    /* The binary in the background, SIGINT as soon as its checkpoint
     * shows finished rows (a first batch: 64 rows or 2 s; 60 s at most),
     * not after a fixed time a fast machine finishes in. */
    int st = tbt_sh(dir,
                    "(%s sweep --config c.ini %s --out sint --quiet > int.out 2> int.err & "
                    "pid=$!; i=0; until [ $(cat sint/sweep.state 2>/dev/null | grep -c ' r ') "
                    "-ge 1 ] || [ $i -ge 1200 ]; do sleep 0.05; i=$((i+1)); done; "
                    "kill -INT $pid; wait $pid; echo $? > int.rc)",
                    TB_BINARY, big);
    assert_int_equal(st, 0);
    char *rc = tbt_read_in(dir, "int.rc");
    assert_non_null(rc);
    int code = atoi(rc);
    free(rc);
    char *part = tbt_read_in(dir, "sint/sweep.csv");
    char *full = tbt_read_in(dir, "sfull/sweep.csv");
    assert_non_null(full);
    if (code == 130) {
        assert_non_null(part);
        assert_true(strlen(part) < strlen(full)); /* some rows, not all */
        char *e = tbt_read_in(dir, "int.err");
        assert_non_null(strstr(e, "--resume continues"));
        free(e);
    } else {
        /* The machine was fast enough to finish first: resume is a no-op. */
        assert_int_equal(code, 0);
        print_message("the sweep finished before its SIGINT: only resume's no-op checked\n");
    }
    free(part);
    assert_int_equal(
        tbt_run_cli(dir, NULL, "sweep --config c.ini %s --out sint --resume --quiet", big), 0);
    part = tbt_read_in(dir, "sint/sweep.csv");
    assert_string_equal(part, full);
    free(part);
    free(full);
    /* Resuming into it with other params is refused. */
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err,
                                 "sweep --config c.ini --param strategy.t.fast=2,3 --param "
                                 "strategy.t.slow=10 --out sint --resume"),
                     2);
    assert_non_null(strstr(err, "--resume needs the sweep this folder holds"));
    free(err);
}

static void test_bad_arguments_are_usage_errors_naming_the_fix(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err, "sweep --config c.ini --param fast=1:5:1"), 2);
    assert_non_null(strstr(err, "SECTION.KEY"));
    free(err);
    assert_int_equal(tbt_run_cli(dir, &err,
                                 "sweep --config c.ini --param strategy.t.fast=1:5:1 "
                                 "--where 'fast < slwo'"),
                     2);
    assert_non_null(strstr(err, "'slwo' is not a swept parameter (fast) nor a number at column 8"));
    free(err);
    assert_int_equal(tbt_run_cli(dir, &err,
                                 "sweep --config c.ini --param strategy.t.fast=1:5:1 "
                                 "--objective sharp"),
                     2);
    assert_non_null(strstr(err, "--objective sharp: expected"));
    free(err);
    /* --random 0 would run nothing, not everything. */
    assert_int_equal(
        tbt_run_cli(dir, &err, "sweep --config c.ini --param strategy.t.fast=1:5:1 --random 0"), 2);
    assert_non_null(strstr(err, "--random 0: expected a whole number of combinations, 1 or more"));
    free(err);
    assert_int_equal(tbt_run_cli(dir, &err, "sweep --config c.ini"), 2);
    assert_non_null(strstr(err, "at least one --param"));
    free(err);
    assert_int_equal(
        tbt_run_cli(dir, &err, "sweep --config c.ini --param backtest.data=a.csv,b.csv"), 2);
    assert_non_null(strstr(err, "the same for every combination"));
    free(err);
}

/* A CSV field by column name from a header line and a data line. */
static const char *field(const char *csv, int row, const char *name, char f[32][64])
{
    char h[32][64];
    int n = csv_row(csv, 0, h);
    csv_row(csv, row, f);
    for (int i = 0; i < n; i++)
        if (!strcmp(h[i], name)) return f[i];
    fail_msg("no column %s", name);
    return NULL;
}

/* --train/--test: the combination chosen is the best of a sweep over the
 * training days alone; the test part starts with the config's cash and its
 * equity curve ends where its row says. */
static void test_walk_forward_picks_the_training_best_and_tests_it_after(void **state)
{
    (void)state;
    /* gen.csv: 9000 five-minute bars from 2024-01-01 (gendata's default start). */
    assert_int_equal(tbt_run_cli(dir, NULL,
                                 "sweep --config c.ini --param strategy.t.fast=3:9:3 --param "
                                 "strategy.t.slow=10,20,40 --train 2024-01-01..2024-01-20 --test "
                                 "2024-01-21..2024-01-31 --out wf1 --quiet"),
                     0);
    char *wf = tbt_read_in(dir, "wf1/walkforward.csv");
    assert_non_null(wf);
    char f[32][64];
    assert_string_equal(field(wf, 1, "test_from", f), "2024-01-21T00:00:00.000Z");
    char fast[64], slow[64];
    snprintf(fast, sizeof fast, "%s", field(wf, 1, "fast", f));
    snprintf(slow, sizeof slow, "%s", field(wf, 1, "slow", f));
    assert_string_equal(field(wf, 1, "equity_start", f), "10000");
    char end[64];
    snprintf(end, sizeof end, "%s", field(wf, 1, "equity_end", f));
    assert_int_equal(strtol(field(wf, 1, "test_bars", f), NULL, 10), 11 * 288);
    /* The training days alone (20 x 288 bars after the header), swept. */
    assert_int_equal(tbt_sh(dir, "head -n %d gen.csv > train.csv", 20 * 288), 0);
    assert_int_equal(tbt_run_cli(dir, NULL,
                                 "sweep --config c.ini --data BTCUSDT:train.csv --param "
                                 "strategy.t.fast=3:9:3 --param strategy.t.slow=10,20,40 --out "
                                 "wt --quiet"),
                     0);
    char *csv = tbt_read_in(dir, "wt/sweep.csv");
    double top = -1e300;
    char bf[64] = "", bs[64] = "";
    for (int row = 1; csv_row(csv, row, f); row++)
        if (f[4][0] && strtod(f[4], NULL) > top) {
            top = strtod(f[4], NULL);
            snprintf(bf, sizeof bf, "%s", f[0]);
            snprintf(bs, sizeof bs, "%s", f[1]);
        }
    assert_string_equal(fast, bf);
    assert_string_equal(slow, bs);
    /* The out-of-sample curve: from the test's first bar, ending at its equity. */
    char *eq = tbt_read_in(dir, "wf1/oos_equity.csv");
    assert_non_null(eq);
    assert_true(strncmp(eq, "time,equity\n2024-01-21T00:04:59.999Z,", 37) == 0);
    const char *last = eq + strlen(eq) - 2;
    while (last > eq && *last != ',')
        last--;
    char lastv[64];
    snprintf(lastv, sizeof lastv, "%.*s", (int)strcspn(last + 1, "\n"), last + 1);
    assert_string_equal(lastv, end);
    /* Testing on training days is refused. */
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err,
                                 "sweep --config c.ini --param strategy.t.fast=3,6 --train "
                                 "2024-01-01..2024-01-20 --test 2024-01-15..2024-01-31"),
                     2);
    assert_non_null(strstr(err, "not out of sample"));
    free(err);
    free(eq);
    free(csv);
    free(wf);
}

/* Rolling windows: each test part follows its training part, the parts
 * chain (each starts with the previous one's equity), and the result
 * does not depend on --jobs. */
static void test_rolling_windows_chain_and_do_not_depend_on_jobs(void **state)
{
    (void)state;
    const char *args = "sweep --config c.ini --param strategy.t.fast=3:9:3 --param "
                       "strategy.t.slow=10,20,40 --walk-forward train=10d,test=5d --quiet";
    assert_int_equal(tbt_run_cli(dir, NULL, "%s --jobs 1 --out r1", args), 0);
    assert_int_equal(tbt_run_cli(dir, NULL, "%s --jobs 3 --out r3", args), 0);
    char *a = tbt_read_in(dir, "r1/walkforward.csv"), *b = tbt_read_in(dir, "r3/walkforward.csv");
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a, b);
    char *ea = tbt_read_in(dir, "r1/oos_equity.csv"), *eb = tbt_read_in(dir, "r3/oos_equity.csv");
    assert_string_equal(ea, eb);
    /* 31.25 days: windows start on days 1, 6, 11, 16, 21 (test ends capped at the data). */
    char f[32][64], g[32][64];
    int rows = 0;
    while (csv_row(a, rows + 1, f))
        rows++;
    assert_int_equal(rows, 5);
    for (int r = 1; r <= rows; r++) {
        char tf[64], tt[64];
        snprintf(tf, sizeof tf, "%s", field(a, r, "test_from", f));
        snprintf(tt, sizeof tt, "%s", field(a, r, "train_to", g));
        /* Contiguous: the training's last instant is just before the test's
         * first, and the ends are shown as included (23:59:59.999). */
        int64_t from;
        char want[64];
        assert_int_equal(tb__time_parse_iso(tf, strlen(tf), TB__ISO_STRICT, &from), 0);
        tb_format_time_iso(from - 1, want, sizeof want);
        assert_string_equal(tt, want);
        assert_non_null(strstr(tt, "T23:59:59.999Z"));
        /* Five days each; the last test part ends with the data (its last
         * bar's close). */
        static const char *const test_to[] = {
            "2024-01-15T23:59:59.999Z", "2024-01-20T23:59:59.999Z", "2024-01-25T23:59:59.999Z",
            "2024-01-30T23:59:59.999Z", "2024-02-01T05:59:59.999Z"};
        assert_string_equal(field(a, r, "test_to", g), test_to[r - 1]);
        if (r > 1) {
            char start[64], prev[64];
            snprintf(start, sizeof start, "%s", field(a, r, "equity_start", f));
            snprintf(prev, sizeof prev, "%s", field(a, r - 1, "equity_end", g));
            assert_string_equal(start, prev);
        }
    }
    free(a);
    free(b);
    free(ea);
    free(eb);
}

/* The number after "(" in "(grid N, K already done)" / "(K already done)"
 * of the summary line in stdout.txt, or 0 without one. */
static long already_done(void)
{
    char *out = tbt_read_in(dir, "stdout.txt");
    assert_non_null(out);
    const char *p = strstr(out, " already done)");
    long n = 0;
    if (p) {
        while (p > out && p[-1] >= '0' && p[-1] <= '9')
            p--;
        n = strtol(p, NULL, 10);
    }
    free(out);
    return n;
}

/* SIGKILL runs no handler: what survives is the checkpoint (sweep.state),
 * written as rows finish. --resume reruns only the rows it lacks and ends
 * with the file an uninterrupted sweep writes. */
static void test_killed_sweep_resumes_from_its_checkpoint(void **state)
{
    (void)state;
    const char *big = "--param strategy.t.fast=2:13:1 --param " SLOW_GRID;
    const int total = 12 * SLOW_N;
    assert_int_equal(
        tbt_run_cli(dir, NULL, "sweep --config c.ini %s --jobs 2 --out kfull --quiet", big), 0);
    /* One worker, so it is still running when its first batch is on file;
     * kill -9 as soon as the checkpoint shows rows (60 s at most). */
    int st =
        tbt_sh(dir,
               "(%s sweep --config c.ini %s --jobs 1 --out kill --quiet > kill.out 2> kill.err "
               "& pid=$!; i=0; until [ $(cat kill/sweep.state 2>/dev/null | grep -c ' r ') "
               "-ge 1 ] || [ $i -ge 1200 ]; do sleep 0.05; i=$((i+1)); done; kill -9 $pid; "
               "{ wait $pid; echo $? > kill.rc; } 2> /dev/null)",
               TB_BINARY, big);
    assert_int_equal(st, 0);
    char *rc = tbt_read_in(dir, "kill.rc");
    assert_non_null(rc);
    int code = atoi(rc);
    free(rc);
    char *csv = tbt_read_in(dir, "kill/sweep.csv");
    if (code == 137) {
        assert_null(csv); /* nothing but the checkpoint was written */
    } else {
        /* Finished between the poll and the kill: the resume is a no-op. */
        assert_int_equal(code, 0);
        print_message("the sweep finished before its SIGKILL: only resume's no-op checked\n");
    }
    free(csv);
    assert_int_equal(
        tbt_run_cli(dir, NULL, "sweep --config c.ini %s --jobs 2 --out kill --resume", big), 0);
    long kept = already_done();
    assert_true(kept >= 1);
    if (code == 137) assert_true(kept < total); /* the rows after the kill were rerun */
    char *full = tbt_read_in(dir, "kfull/sweep.csv"), *part = tbt_read_in(dir, "kill/sweep.csv");
    assert_non_null(full);
    assert_non_null(part);
    assert_string_equal(part, full);
    free(part);
    free(full);
}

/* The first n lines of text (all of it if it has fewer). */
static size_t lines_len(const char *text, int n)
{
    const char *p = text;
    for (int i = 0; i < n && *p; i++) {
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : p + strlen(p);
    }
    return (size_t)(p - text);
}

/* Ctrl-C in a walk-forward keeps its finished windows (walkforward.csv
 * rows and their oos_equity.csv points, a prefix of the whole run's) and
 * exits 130; --resume goes on from the first unfinished window with the
 * equity the last one ended with, into the files an uninterrupted run
 * writes. */
static void test_interrupted_walk_forward_resumes_to_the_same_files(void **state)
{
    (void)state;
    const char *wfa = "--param strategy.t.fast=2:9:1 --param " SLOW_GRID " "
                      "--walk-forward train=10d,test=5d";
    assert_int_equal(
        tbt_run_cli(dir, NULL, "sweep --config c.ini %s --jobs 2 --out wfull --quiet", wfa), 0);
    /* SIGINT once the checkpoint holds a window (60 s at most); 5 windows
     * of 8 x SLOW_N combinations each on one worker leave time for it. */
    int st = tbt_sh(dir,
                    "(%s sweep --config c.ini %s --jobs 1 --out wint --quiet > wint.out 2> "
                    "wint.err & pid=$!; i=0; until grep -qs ' w ' wint/walkforward.state || "
                    "[ $i -ge 1200 ]; do sleep 0.05; i=$((i+1)); done; kill -INT $pid; wait $pid; "
                    "echo $? > wint.rc)",
                    TB_BINARY, wfa);
    assert_int_equal(st, 0);
    char *rc = tbt_read_in(dir, "wint.rc");
    assert_non_null(rc);
    int code = atoi(rc);
    free(rc);
    char *wf = tbt_read_in(dir, "wfull/walkforward.csv"),
         *eq = tbt_read_in(dir, "wfull/oos_equity.csv");
    assert_non_null(wf);
    assert_non_null(eq);
    int kept = 0;
    if (code == 130) {
        char *e = tbt_read_in(dir, "wint.err");
        assert_non_null(strstr(e, "--resume continues"));
        free(e);
        char *pw = tbt_read_in(dir, "wint/walkforward.csv"),
             *pe = tbt_read_in(dir, "wint/oos_equity.csv");
        assert_non_null(pw);
        assert_non_null(pe);
        /* The header and each finished window's row, as the whole run has them. */
        char f[32][64];
        while (csv_row(pw, kept + 1, f))
            kept++;
        assert_true(kept >= 1 && kept < 5);
        assert_int_equal(strlen(pw), lines_len(wf, kept + 1));
        assert_memory_equal(pw, wf, strlen(pw));
        /* Their points: the first lines of the whole curve, ending where the
         * last finished window's equity does. */
        assert_true(strlen(pe) > 12 && strlen(pe) < strlen(eq));
        assert_memory_equal(pe, eq, strlen(pe));
        assert_true(eq[strlen(pe) - 1] == '\n');
        char end[64];
        snprintf(end, sizeof end, ",%s\n", field(pw, kept, "equity_end", f));
        assert_string_equal(pe + strlen(pe) - strlen(end), end);
        free(pw);
        free(pe);
    } else {
        assert_int_equal(code, 0);
        print_message("the walk-forward finished before its SIGINT: only resume's no-op checked\n");
    }
    assert_int_equal(
        tbt_run_cli(dir, NULL, "sweep --config c.ini %s --jobs 2 --out wint --resume", wfa), 0);
    if (code == 130) assert_int_equal(already_done(), kept);
    char *rw = tbt_read_in(dir, "wint/walkforward.csv"),
         *re = tbt_read_in(dir, "wint/oos_equity.csv");
    assert_non_null(rw);
    assert_non_null(re);
    assert_string_equal(rw, wf);
    assert_string_equal(re, eq);
    free(rw);
    free(re);
    free(wf);
    free(eq);
}

/* "window K: training sweep, N of M combinations already done" in
 * stdout.txt: N (and K, M), or 0 without that line. */
static long window_rows_done(int *window, long *of)
{
    char *out = tbt_read_in(dir, "stdout.txt");
    assert_non_null(out);
    const char *p = strstr(out, "  window ");
    long n = 0;
    *window = 0;
    *of = 0;
    if (p && sscanf(p, "  window %d: training sweep, %ld of %ld combinations already done", window,
                    &n, of) != 3)
        n = 0;
    free(out);
    return n;
}

/* kill -9 while a window's training sweep has rows in its checkpoint
 * (walkforward.window.state, sweep.state's format) but is not finished:
 * --resume keeps those rows, runs the rest of that sweep and ends with
 * the files an uninterrupted walk-forward writes. */
static void test_killed_walk_forward_resumes_its_windows_training_rows(void **state)
{
    (void)state;
    /* 3 windows of 12 x SLOW_N combinations on 20 days each: on one
     * worker a window's sweep outlasts its first batch of 64 rows by far. */
    const char *wfa = "--param strategy.t.fast=2:13:1 --param " SLOW_GRID " "
                      "--walk-forward train=20d,test=5d";
    const long total = 12 * SLOW_N;
    assert_int_equal(
        tbt_run_cli(dir, NULL, "sweep --config c.ini %s --jobs 2 --out wkfull --quiet", wfa), 0);
    /* The window's rows as the kill left them, counted by the shell right
     * after it (-1: no rows were ever seen, the run ended first). */
    int st = tbt_sh(dir,
                    "(%s sweep --config c.ini %s --jobs 1 --out wkill --quiet > wkill.out 2> "
                    "wkill.err & pid=$!; i=0; until grep -qs ' r ' wkill/walkforward.window.state "
                    "|| [ -e wkill/walkforward.csv ] || [ $i -ge 1200 ]; do sleep 0.05; "
                    "i=$((i+1)); done; kill -9 $pid; { wait $pid; echo $? > wkill.rc; } "
                    "2> /dev/null; if grep -qs ' r ' wkill/walkforward.window.state; then "
                    "grep -c ' r ' wkill/walkforward.window.state; else echo -1; fi > wkill.rows)",
                    TB_BINARY, wfa);
    assert_int_equal(st, 0);
    char *rc = tbt_read_in(dir, "wkill.rc"), *rows = tbt_read_in(dir, "wkill.rows");
    assert_non_null(rc);
    assert_non_null(rows);
    int code = atoi(rc);
    long lines = atol(rows);
    free(rc);
    free(rows);
    /* Killed with training rows on file; else the checkpoint never held a
     * window's rows (the run ended before), which is the bug. */
    assert_int_equal(code, 137);
    assert_true(lines >= 1);
    char *csv = tbt_read_in(dir, "wkill/walkforward.csv");
    assert_null(csv); /* a kill writes nothing but the checkpoints */
    /* A torn last line, as a kill in the middle of a write leaves one. */
    assert_int_equal(tbt_sh(dir, "printf '0badf00d r 3 1 57' >> wkill/walkforward.window.state"),
                     0);
    assert_int_equal(
        tbt_run_cli(dir, NULL, "sweep --config c.ini %s --jobs 2 --out wkill --resume", wfa), 0);
    int window;
    long of, kept = window_rows_done(&window, &of);
    /* Every whole row on file is kept, the torn one is not, the rest rerun. */
    assert_true(kept >= 1 && kept <= lines);
    assert_true(kept < total);
    assert_int_equal(of, total);
    assert_true(window >= 1 && window <= 3);
    assert_int_equal(already_done(), window - 1);
    char *full = tbt_read_in(dir, "wkfull/walkforward.csv"),
         *part = tbt_read_in(dir, "wkill/walkforward.csv");
    assert_non_null(full);
    assert_non_null(part);
    assert_string_equal(part, full);
    free(part);
    free(full);
    full = tbt_read_in(dir, "wkfull/oos_equity.csv");
    part = tbt_read_in(dir, "wkill/oos_equity.csv");
    assert_non_null(full);
    assert_non_null(part);
    assert_string_equal(part, full);
    free(part);
    free(full);
    /* Only while a window is unfinished: the finished run leaves none. */
    char *left = tbt_read_in(dir, "wkill/walkforward.window.state");
    assert_null(left);
}

/* A --resume of a walk-forward into a folder holding another one (other
 * windows, another objective) or none is refused, naming what must match. */
static void test_resume_of_another_walk_forward_is_refused(void **state)
{
    (void)state;
    const char *args = "sweep --config c.ini --param strategy.t.fast=3:9:3 --param "
                       "strategy.t.slow=10,20,40";
    assert_int_equal(
        tbt_run_cli(dir, NULL, "%s --walk-forward train=10d,test=5d --out wr --quiet", args), 0);
    char *err = NULL;
    assert_int_equal(
        tbt_run_cli(dir, &err, "%s --walk-forward train=10d,test=4d --out wr --resume", args), 2);
    assert_non_null(strstr(err, "--resume needs the walk-forward this folder holds"));
    assert_non_null(strstr(err, "this one differs"));
    free(err);
    assert_int_equal(tbt_run_cli(dir, &err,
                                 "%s --walk-forward train=10d,test=5d --objective trades --out wr "
                                 "--resume",
                                 args),
                     2);
    assert_non_null(strstr(err, "this one differs"));
    free(err);
    assert_int_equal(tbt_run_cli(dir, &err,
                                 "%s --train 2024-01-01..2024-01-20 --test 2024-01-21..2024-01-31 "
                                 "--out wnone --resume",
                                 args),
                     2);
    assert_non_null(strstr(err, "it holds none"));
    free(err);
    /* The same one resumes: every window kept, nothing rerun, same files. */
    char *a = tbt_read_in(dir, "wr/walkforward.csv");
    assert_int_equal(
        tbt_run_cli(dir, NULL, "%s --walk-forward train=10d,test=5d --out wr --resume", args), 0);
    assert_int_equal(already_done(), 5);
    char *b = tbt_read_in(dir, "wr/walkforward.csv");
    assert_string_equal(a, b);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_are_backtests_and_do_not_depend_on_jobs),
        cmocka_unit_test(test_best_is_the_best_rows_full_backtest),
        cmocka_unit_test(test_an_invalid_combination_is_a_row_with_its_error),
        cmocka_unit_test(test_every_combination_failing_is_a_config_error),
        cmocka_unit_test(test_a_window_that_chooses_nothing_says_why),
        cmocka_unit_test(test_progress_on_a_terminal),
        cmocka_unit_test(test_interrupted_sweep_resumes_to_the_same_rows),
        cmocka_unit_test(test_bad_arguments_are_usage_errors_naming_the_fix),
        cmocka_unit_test(test_walk_forward_picks_the_training_best_and_tests_it_after),
        cmocka_unit_test(test_rolling_windows_chain_and_do_not_depend_on_jobs),
        cmocka_unit_test(test_killed_sweep_resumes_from_its_checkpoint),
        cmocka_unit_test(test_interrupted_walk_forward_resumes_to_the_same_files),
        cmocka_unit_test(test_killed_walk_forward_resumes_its_windows_training_rows),
        cmocka_unit_test(test_resume_of_another_walk_forward_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
