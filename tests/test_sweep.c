/* Parameter sweeps, the parts without a run: --param values, column names,
 * --where, the plan (grid order, where, random) and sweep.csv written and
 * read back, the checkpoint journal. test_e2e_sweep runs sweeps as a user does. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test_cli.h"
#include "tb_test_support.h"
#include "tradebus/sweep.h"

static char err[512];

static tb_sweep_param param(const char *arg)
{
    tb_sweep_param p;
    if (tb_sweep_param_parse(arg, &p, err, sizeof err) != 0) fail_msg("%s: %s", arg, err);
    return p;
}

static void test_a_range_is_inclusive_and_exact(void **state)
{
    (void)state;
    tb_sweep_param p = param("strategy.s.fast=5:50:5");
    assert_string_equal(p.key, "strategy.s.fast");
    assert_int_equal(p.nvalues, 10);
    assert_string_equal(p.values[0], "5");
    assert_string_equal(p.values[9], "50");
    tb_sweep_param_free(&p);
    /* 0.1 steps in doubles would miss 0.3; in decimals they do not. */
    p = param("exchange.fee_bps=0.1:0.5:0.1");
    assert_int_equal(p.nvalues, 5);
    assert_string_equal(p.values[2], "0.3");
    assert_string_equal(p.values[4], "0.5");
    tb_sweep_param_free(&p);
    p = param("risk.max_position=1:2:0.3"); /* 1, 1.3, 1.6, 1.9: 2 is not on the step */
    assert_int_equal(p.nvalues, 4);
    assert_string_equal(p.values[3], "1.9");
    tb_sweep_param_free(&p);
}

static void test_a_list_keeps_its_order_and_words(void **state)
{
    (void)state;
    tb_sweep_param p = param("strategy.s.order_type=LIMIT, MARKET");
    assert_int_equal(p.nvalues, 2);
    assert_string_equal(p.values[0], "LIMIT");
    assert_string_equal(p.values[1], "MARKET");
    tb_sweep_param_free(&p);
}

static void test_bad_params_name_the_argument_and_the_fix(void **state)
{
    (void)state;
    tb_sweep_param p;
    assert_int_equal(tb_sweep_param_parse("fast=5:50:5", &p, err, sizeof err), TB_EINVAL);
    assert_non_null(strstr(err, "SECTION.KEY"));
    assert_int_equal(tb_sweep_param_parse("strategy.s.fast", &p, err, sizeof err), TB_EINVAL);
    assert_non_null(strstr(err, "KEY=FROM:TO:STEP or KEY=V1,V2"));
    assert_int_equal(tb_sweep_param_parse("strategy.s.fast=5:1:1", &p, err, sizeof err), TB_EINVAL);
    assert_non_null(strstr(err, "FROM <= TO"));
    assert_int_equal(tb_sweep_param_parse("strategy.s.fast=1:5:0", &p, err, sizeof err), TB_EINVAL);
    assert_int_equal(tb_sweep_param_parse("strategy.s.fast=1:x:1", &p, err, sizeof err), TB_EINVAL);
    assert_int_equal(tb_sweep_param_parse("strategy.s.fast=1,2,1", &p, err, sizeof err), TB_EINVAL);
    assert_non_null(strstr(err, "listed twice"));
    assert_int_equal(tb_sweep_param_parse("strategy.s.fast=1,,2", &p, err, sizeof err), TB_EINVAL);
    assert_int_equal(tb_sweep_param_parse("strategy.s.fast=0:100000:1", &p, err, sizeof err),
                     TB_ERANGE);
}

static void test_columns_are_the_keys_last_part_unless_shared(void **state)
{
    (void)state;
    tb_sweep_param p[3] = {param("strategy.a.fast=1,2"), param("strategy.b.fast=3,4"),
                           param("exchange.fee_bps=0,5")};
    assert_int_equal(tb_sweep_param_names(p, 3, err, sizeof err), 0);
    assert_string_equal(p[0].name, "strategy.a.fast");
    assert_string_equal(p[1].name, "strategy.b.fast");
    assert_string_equal(p[2].name, "fee_bps");
    tb_sweep_param q[2] = {param("strategy.a.fast=1,2"), param("strategy.a.fast=3")};
    assert_int_equal(tb_sweep_param_names(q, 2, err, sizeof err), TB_EINVAL);
    assert_non_null(strstr(err, "given twice"));
    for (int i = 0; i < 3; i++)
        tb_sweep_param_free(&p[i]);
    for (int i = 0; i < 2; i++)
        tb_sweep_param_free(&q[i]);
}

static void test_a_param_named_like_a_result_column_gets_its_key(void **state)
{
    (void)state;
    /* sweep.csv has max_drawdown_pct and trades; walkforward.csv window,
     * equity_end and in_sample_OBJECTIVE: one header, no name twice. */
    tb_sweep_param p[5] = {param("risk.max_drawdown_pct=5,20"), param("strategy.l.window=10,20"),
                           param("strategy.l.trades=1,2"), param("strategy.l.in_sample_x=1"),
                           param("strategy.l.slow=3")};
    assert_int_equal(tb_sweep_param_names(p, 5, err, sizeof err), 0);
    assert_string_equal(p[0].name, "risk.max_drawdown_pct");
    assert_string_equal(p[1].name, "strategy.l.window");
    assert_string_equal(p[2].name, "strategy.l.trades");
    assert_string_equal(p[3].name, "strategy.l.in_sample_x");
    assert_string_equal(p[4].name, "slow");
    /* --where still takes the short name when it names one parameter. */
    tb_sweep_where *w;
    assert_int_equal(
        tb_sweep_where_compile("max_drawdown_pct > 6 and window < 15", p, 5, &w, err, sizeof err),
        0);
    size_t idx[5] = {1, 0, 0, 0, 0};
    assert_true(tb_sweep_where_eval(w, p, idx));
    idx[1] = 1;
    assert_false(tb_sweep_where_eval(w, p, idx));
    tb_sweep_where_free(w);
    for (int i = 0; i < 5; i++)
        tb_sweep_param_free(&p[i]);
}

static void test_where_takes_the_end_of_a_key_that_names_one_param(void **state)
{
    (void)state;
    tb_sweep_param p[2] = {param("strategy.btc.fast=5,10"), param("strategy.eth.fast=5,10")};
    assert_int_equal(tb_sweep_param_names(p, 2, err, sizeof err), 0);
    tb_sweep_where *w;
    assert_int_equal(tb_sweep_where_compile("btc.fast < eth.fast", p, 2, &w, err, sizeof err), 0);
    size_t idx[2] = {0, 1};
    assert_true(tb_sweep_where_eval(w, p, idx));
    idx[0] = 1;
    assert_false(tb_sweep_where_eval(w, p, idx));
    tb_sweep_where_free(w);
    /* Both end in fast: the error says which keys, not "not a parameter". */
    assert_int_equal(tb_sweep_where_compile("fast < 8", p, 2, &w, err, sizeof err), TB_EINVAL);
    assert_string_equal(err, "--where 'fast < 8': 'fast' could be strategy.btc.fast or "
                             "strategy.eth.fast: write more of the key at column 1");
    /* Only whole parts count: "tc.fast" is not the end of a part. */
    assert_int_equal(tb_sweep_where_compile("tc.fast < 8", p, 2, &w, err, sizeof err), TB_EINVAL);
    assert_non_null(strstr(err, "'tc.fast' is not a swept parameter"));
    for (int i = 0; i < 2; i++)
        tb_sweep_param_free(&p[i]);
}

/* fast 5,10,15 x slow 10,20: combination c is (c / 2, c % 2). */
static void two(tb_sweep_param *p)
{
    p[0] = param("strategy.s.fast=5,10,15");
    p[1] = param("strategy.s.slow=10,20");
    assert_int_equal(tb_sweep_param_names(p, 2, err, sizeof err), 0);
}

static int passes(const char *expr, const tb_sweep_param *p, size_t fast, size_t slow)
{
    tb_sweep_where *w;
    if (tb_sweep_where_compile(expr, p, 2, &w, err, sizeof err) != 0) fail_msg("%s", err);
    size_t idx[2] = {fast, slow};
    int r = tb_sweep_where_eval(w, p, idx);
    tb_sweep_where_free(w);
    return r;
}

static void test_where_compares_params_and_numbers_exactly(void **state)
{
    (void)state;
    tb_sweep_param p[2];
    two(p);
    assert_true(passes("fast < slow", p, 0, 0));  /* 5 < 10 */
    assert_false(passes("fast < slow", p, 1, 0)); /* 10 < 10 */
    assert_true(passes("fast <= slow", p, 1, 0)); /* 10 <= 10 */
    assert_true(passes("fast == 10.0", p, 1, 1)); /* exact decimals, not text */
    assert_true(passes("not (fast == 5) and slow >= 20 or fast > 100", p, 2, 1));
    assert_false(passes("not (fast == 5) and slow >= 20 or fast > 100", p, 0, 1));
    assert_true(passes("fast < slow && (slow == 20 || fast == 5)", p, 0, 0));
    assert_true(passes("strategy.s.slow != 10", p, 0, 1)); /* a key names it too */
    for (int i = 0; i < 2; i++)
        tb_sweep_param_free(&p[i]);
}

static void test_where_errors_name_the_column(void **state)
{
    (void)state;
    tb_sweep_param p[2];
    two(p);
    tb_sweep_where *w;
    assert_int_equal(tb_sweep_where_compile("fast < slwo", p, 2, &w, err, sizeof err), TB_EINVAL);
    assert_string_equal(err, "--where 'fast < slwo': 'slwo' is not a swept parameter (fast, slow) "
                             "nor a number at column 8");
    assert_int_equal(tb_sweep_where_compile("fast <", p, 2, &w, err, sizeof err), TB_EINVAL);
    assert_int_equal(tb_sweep_where_compile("(fast < slow", p, 2, &w, err, sizeof err), TB_EINVAL);
    assert_non_null(strstr(err, "expected ')'"));
    assert_int_equal(tb_sweep_where_compile("fast slow", p, 2, &w, err, sizeof err), TB_EINVAL);
    assert_int_equal(tb_sweep_where_compile("1 < 2", p, 2, &w, err, sizeof err), TB_EINVAL);
    assert_non_null(strstr(err, "two constants"));
    for (int i = 0; i < 2; i++)
        tb_sweep_param_free(&p[i]);
}

static void test_plan_is_grid_order_filtered_by_where(void **state)
{
    (void)state;
    tb_sweep_param p[2];
    two(p);
    tb_sweep_options o;
    memset(&o, 0, sizeof o);
    o.params = p;
    o.nparams = 2;
    o.where = "fast < slow";
    tb_sweep_result r;
    assert_int_equal(tb_sweep_plan(&o, &r, err, sizeof err), 0);
    assert_int_equal(r.grid, 6);
    /* (5,10) (5,20) (10,20) (15,20): combinations 0 1 3 5 */
    assert_int_equal(r.nrows, 4);
    size_t want[] = {0, 1, 3, 5};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(r.rows[i].combination, want[i]);
    assert_string_equal(tb_sweep_value(p, 2, 3, 0), "10");
    assert_string_equal(tb_sweep_value(p, 2, 3, 1), "20");
    tb_sweep_result_free(&r);
    o.where = "fast > 100";
    assert_int_equal(tb_sweep_plan(&o, &r, err, sizeof err), TB_EINVAL);
    assert_non_null(strstr(err, "leaves no combination"));
    for (int i = 0; i < 2; i++)
        tb_sweep_param_free(&p[i]);
}

static void test_random_draws_n_by_seed_in_grid_order(void **state)
{
    (void)state;
    tb_sweep_param p[2] = {param("strategy.s.fast=1:40:1"), param("strategy.s.slow=1:40:1")};
    assert_int_equal(tb_sweep_param_names(p, 2, err, sizeof err), 0);
    tb_sweep_options o;
    memset(&o, 0, sizeof o);
    o.params = p;
    o.nparams = 2;
    o.random = 25;
    o.seed = 7;
    tb_sweep_result a, b, c;
    assert_int_equal(tb_sweep_plan(&o, &a, err, sizeof err), 0);
    assert_int_equal(tb_sweep_plan(&o, &b, err, sizeof err), 0);
    o.seed = 8;
    assert_int_equal(tb_sweep_plan(&o, &c, err, sizeof err), 0);
    assert_int_equal(a.nrows, 25);
    int same_as_b = 1, same_as_c = 1;
    for (size_t i = 0; i < 25; i++) {
        if (i) assert_true(a.rows[i].combination > a.rows[i - 1].combination);
        same_as_b &= a.rows[i].combination == b.rows[i].combination;
        same_as_c &= a.rows[i].combination == c.rows[i].combination;
    }
    assert_true(same_as_b);
    assert_false(same_as_c);
    tb_sweep_result_free(&a);
    tb_sweep_result_free(&b);
    tb_sweep_result_free(&c);
    for (int i = 0; i < 2; i++)
        tb_sweep_param_free(&p[i]);
}

/* sweep.csv read back gives the rows it was written from; a file of
 * another sweep is refused with its line. */
static void test_csv_round_trips_and_refuses_another_sweep(void **state)
{
    (void)state;
    tb_sweep_param p[2];
    two(p);
    tb_sweep_options o;
    memset(&o, 0, sizeof o);
    o.params = p;
    o.nparams = 2;
    tb_sweep_result r, back;
    assert_int_equal(tb_sweep_plan(&o, &r, err, sizeof err), 0);
    assert_int_equal(tb_sweep_plan(&o, &back, err, sizeof err), 0);
    tb_sweep_row *x = &r.rows[1];
    x->done = 1;
    x->bars = 100;
    x->trades = 3;
    x->net_pnl = -1250000000; /* -12.5 */
    x->return_pct = 12345;
    x->fees = 7;
    x->max_drawdown_pct = 300000000;
    x->win_rate_pct = 6666666667;
    x->ratios = 1;
    x->sharpe = 1.25;
    x->sortino = -0.5;
    x->profit_factor = -1;
    x->exposure_pct = 42.5;
    r.rows[4].done = 1;
    snprintf(r.rows[4].error, sizeof r.rows[4].error, "bad, \"really\"");
    char path[] = "/tmp/tb_sweep_csv_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_int_equal(tb_sweep_write_csv(p, 2, &r, f), 0);
    fclose(f);
    char *text = tbt_read_file(path);
    assert_non_null(strstr(text, "fast,slow,bars,trades,net_pnl,return_pct,fees,max_drawdown_pct,"
                                 "sharpe,sortino,win_rate_pct,profit_factor,exposure_pct,error\n"
                                 "5,20,100,3,-12.5,0.00012345,0.00000007,3,1.25,-0.5,66.66666667,"
                                 ",42.5,\n"));
    assert_non_null(strstr(text, "15,10,,,,,,,,,,,,\"bad, \"\"really\"\"\"\n"));
    free(text);
    assert_int_equal(tb_sweep_read_csv(path, p, 2, &back, err, sizeof err), 0);
    assert_true(back.rows[1].done);
    assert_int_equal(back.rows[1].net_pnl, x->net_pnl);
    assert_int_equal(back.rows[1].win_rate_pct, x->win_rate_pct);
    assert_true(back.rows[1].sharpe == 1.25 && back.rows[1].profit_factor < 0);
    assert_true(back.rows[4].done);
    assert_string_equal(back.rows[4].error, "bad, \"really\"");
    assert_false(back.rows[0].done);
    tb_sweep_result_free(&back);
    /* Another sweep's columns. */
    tb_sweep_param q[2] = {param("strategy.s.fast=5,10,15"), param("strategy.s.period=10,20")};
    assert_int_equal(tb_sweep_param_names(q, 2, err, sizeof err), 0);
    assert_int_equal(tb_sweep_plan(&o, &back, err, sizeof err), 0);
    assert_int_equal(tb_sweep_read_csv(path, q, 2, &back, err, sizeof err), TB_EPARSE);
    assert_non_null(strstr(err, ":1: not a row of this sweep"));
    tb_sweep_result_free(&back);
    tb_sweep_result_free(&r);
    remove(path);
    for (int i = 0; i < 2; i++) {
        tb_sweep_param_free(&p[i]);
        tb_sweep_param_free(&q[i]);
    }
}

static void test_best_follows_the_objective_and_its_direction(void **state)
{
    (void)state;
    tb_sweep_row rows[3];
    memset(rows, 0, sizeof rows);
    for (int i = 0; i < 3; i++)
        rows[i].done = 1;
    rows[0].net_pnl = 5, rows[1].net_pnl = 9, rows[2].net_pnl = 9;
    rows[0].max_drawdown_pct = 3, rows[1].max_drawdown_pct = 1, rows[2].max_drawdown_pct = 2;
    rows[0].ratios = 1, rows[0].sharpe = 0.2;
    snprintf(rows[2].error, sizeof rows[2].error, "x");
    tb_sweep_result r = {rows, 3, 3, 3, 0, 0, 0};
    assert_int_equal(tb_sweep_best(&r, "net_pnl"), 1);          /* ties: the first; errors never */
    assert_int_equal(tb_sweep_best(&r, "max_drawdown_pct"), 1); /* lower is better */
    assert_int_equal(tb_sweep_best(&r, "sharpe"), 0);           /* only row 0 has one */
    assert_int_equal(tb_sweep_best(&r, "profit_factor"), 0);
    assert_true(tb_sweep_objective_valid("sortino"));
    assert_false(tb_sweep_objective_valid("sharp"));
}

/* Appends text to path. */
static void append(const char *path, const char *text)
{
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* The checkpoint journal gives back every row added, bit for bit (doubles
 * and an error with a newline included); a record torn by a kill, and
 * anything after a damaged one, is dropped and cut from the file; another
 * sweep's journal, a missing one and a pre-journal sweep.state are told
 * apart. */
static void test_journal_restores_rows_exactly_and_drops_a_torn_end(void **state)
{
    (void)state;
    tb_sweep_param p[2];
    two(p);
    tb_sweep_options o;
    memset(&o, 0, sizeof o);
    o.params = p;
    o.nparams = 2;
    tb_sweep_result r, back;
    assert_int_equal(tb_sweep_plan(&o, &r, err, sizeof err), 0);
    for (size_t i = 0; i < r.nrows; i++) {
        tb_sweep_row *x = &r.rows[i];
        x->done = 1;
        x->bars = 9000 + i;
        x->trades = i * 7;
        x->net_pnl = -1250000001 * (int64_t)(i + 1);
        x->win_rate_pct = 6666666667;
        x->ratios = (int)(i % 2);
        x->sharpe = 1.0 / 3.0 * (double)(i + 1);
        x->sortino = -0.1 * (double)i;
        x->profit_factor = i == 2 ? -1 : 0.7 + 1e-13;
        x->exposure_pct = 42.5;
    }
    snprintf(r.rows[4].error, sizeof r.rows[4].error, "line one\nline \\two, \"q\"");
    memset(&r.rows[4].bars, 0, offsetof(tb_sweep_row, error) - offsetof(tb_sweep_row, bars));
    char dirp[512], path[600];
    tbt_temp_dir(dirp, sizeof dirp);
    snprintf(path, sizeof path, "%s/sweep.state", dirp);
    uint64_t fp = tb_sweep_fingerprint(&o, NULL, NULL, 0);
    tb_sweep_journal *j;
    assert_int_equal(tb_sweep_journal_open(path, TB_SWEEP_JOURNAL_ROWS, fp, 0, &j, err, sizeof err),
                     0);
    assert_int_equal(tb_sweep_journal_count(j), 0);
    for (size_t i = 0; i < 5; i++) /* rows 0..4 finished, in another order */
        assert_int_equal(tb_sweep_journal_add(j, &r.rows[4 - i]), 0);
    assert_int_equal(tb_sweep_journal_close(j), 0);
    long whole = file_size(path);
    /* A kill mid-write: half a record at the end. */
    append(path, "0123abcd r 5 1 9000 3 1");
    assert_int_equal(tb_sweep_journal_open(path, TB_SWEEP_JOURNAL_ROWS, fp, 1, &j, err, sizeof err),
                     0);
    assert_int_equal(tb_sweep_journal_count(j), 5);
    assert_int_equal(file_size(path), whole); /* cut: the next record follows a whole one */
    assert_int_equal(tb_sweep_plan(&o, &back, err, sizeof err), 0);
    assert_int_equal(tb_sweep_journal_rows(j, &back), 5);
    for (size_t i = 0; i < back.nrows; i++) {
        if (i == 5) {
            assert_false(back.rows[i].done);
            continue;
        }
        assert_memory_equal(&back.rows[i], &r.rows[i], sizeof(tb_sweep_row));
    }
    /* Row 5 finishes after the resume and follows the others. */
    assert_int_equal(tb_sweep_journal_add(j, &r.rows[5]), 0);
    assert_int_equal(tb_sweep_journal_close(j), 0);
    assert_int_equal(tb_sweep_journal_open(path, TB_SWEEP_JOURNAL_ROWS, fp, 1, &j, err, sizeof err),
                     0);
    assert_int_equal(tb_sweep_journal_count(j), 6);
    assert_int_equal(tb_sweep_journal_close(j), 0);
    tb_sweep_result_free(&back);
    /* A damaged byte in the third record: the first two are kept. */
    char *text = tbt_read_file(path);
    char *rec = strchr(text, '\n') + 1;
    rec = strchr(strchr(rec, '\n') + 1, '\n') + 1;
    rec[20] = rec[20] == '7' ? '8' : '7';
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    free(text);
    assert_int_equal(tb_sweep_journal_open(path, TB_SWEEP_JOURNAL_ROWS, fp, 1, &j, err, sizeof err),
                     0);
    assert_int_equal(tb_sweep_journal_count(j), 2);
    assert_int_equal(tb_sweep_journal_close(j), 0);
    /* Another sweep, another kind, none, and a sweep.state before journals. */
    assert_int_equal(
        tb_sweep_journal_open(path, TB_SWEEP_JOURNAL_ROWS, fp + 1, 1, &j, err, sizeof err),
        TB_EINVAL);
    assert_non_null(strstr(err, "the checkpoint of other work"));
    assert_int_equal(
        tb_sweep_journal_open(path, TB_SWEEP_JOURNAL_WINDOWS, fp, 1, &j, err, sizeof err),
        TB_EINVAL);
    snprintf(path, sizeof path, "%s/none.state", dirp);
    assert_int_equal(tb_sweep_journal_open(path, TB_SWEEP_JOURNAL_ROWS, fp, 1, &j, err, sizeof err),
                     TB_ENOTFOUND);
    char old[64];
    snprintf(old, sizeof old, "tradebus sweep 1 %016llx\n", (unsigned long long)fp);
    append(path, old);
    assert_int_equal(tb_sweep_journal_open(path, TB_SWEEP_JOURNAL_ROWS, fp, 1, &j, err, sizeof err),
                     TB_ENOTSUP);
    assert_null(j);
    /* A new journal replaces the old file whole. */
    assert_int_equal(tb_sweep_journal_open(path, TB_SWEEP_JOURNAL_ROWS, fp, 0, &j, err, sizeof err),
                     0);
    assert_int_equal(tb_sweep_journal_close(j), 0);
    text = tbt_read_file(path);
    assert_string_equal(strstr(text, "tradebus sweep 2 "), text);
    assert_int_equal(strlen(text), strlen(old));
    free(text);
    tbt_remove_tree(dirp);
    tb_sweep_result_free(&r);
    for (int i = 0; i < 2; i++)
        tb_sweep_param_free(&p[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_range_is_inclusive_and_exact),
        cmocka_unit_test(test_a_list_keeps_its_order_and_words),
        cmocka_unit_test(test_bad_params_name_the_argument_and_the_fix),
        cmocka_unit_test(test_columns_are_the_keys_last_part_unless_shared),
        cmocka_unit_test(test_a_param_named_like_a_result_column_gets_its_key),
        cmocka_unit_test(test_where_takes_the_end_of_a_key_that_names_one_param),
        cmocka_unit_test(test_where_compares_params_and_numbers_exactly),
        cmocka_unit_test(test_where_errors_name_the_column),
        cmocka_unit_test(test_plan_is_grid_order_filtered_by_where),
        cmocka_unit_test(test_random_draws_n_by_seed_in_grid_order),
        cmocka_unit_test(test_csv_round_trips_and_refuses_another_sweep),
        cmocka_unit_test(test_best_follows_the_objective_and_its_direction),
        cmocka_unit_test(test_journal_restores_rows_exactly_and_drops_a_torn_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
