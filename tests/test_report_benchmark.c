/* The report's buy-and-hold benchmark and its period-returns table, on
 * hand-made series with known closes: every value is exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../src/report/report_int.h"

#define DAY    86400000000000LL
#define MINUTE 60000000000LL
#define T0     1704067200000000000LL /* 2024-01-01 00:00 UTC */
#define D(x)   ((tb_decimal)((x)*100000000.0 + ((x) < 0 ? -0.5 : 0.5)))

static void bar(tb__report *r, int64_t close_time, const char *sym, tb_decimal close)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
    ev.timestamp = ev.u.market_data.close_time = close_time;
    ev.u.market_data.open_time = close_time - MINUTE + 1000000;
    strcpy(ev.u.market_data.symbol, sym);
    ev.u.market_data.open = ev.u.market_data.high = ev.u.market_data.low = close;
    ev.u.market_data.close = close;
    ev.u.market_data.volume = TB_DECIMAL_ONE;
    assert_int_equal(tb__report_apply(r, &ev), 0);
}

/* 1000 split over AAA and BBB, 500 each. AAA's first close is 10: 50
 * units. BBB has no bar at the first point (its share is cash), then
 * first closes at 30: 500/30 units, worth 500 x 40 / 30 at 40. */
static void test_benchmark_holds_equal_shares_from_each_first_close(void **state)
{
    (void)state;
    tb__report r;
    memset(&r, 0, sizeof(r));
    r.initial = 1000 * TB_DECIMAL_ONE;
    bar(&r, T0 + MINUTE - 1000000, "AAA", 10 * TB_DECIMAL_ONE);
    bar(&r, T0 + 2 * MINUTE - 1000000, "AAA", 12 * TB_DECIMAL_ONE);
    bar(&r, T0 + 2 * MINUTE - 1000000, "BBB", 30 * TB_DECIMAL_ONE);
    bar(&r, T0 + 3 * MINUTE - 1000000, "AAA", 11 * TB_DECIMAL_ONE);
    bar(&r, T0 + 3 * MINUTE - 1000000, "BBB", 40 * TB_DECIMAL_ONE);
    bar(&r, T0 + 4 * MINUTE - 1000000, "BBB", 45 * TB_DECIMAL_ONE);
    assert_int_equal(tb__report_finish(&r), 0);
    assert_int_equal(r.npts, 4);
    assert_int_equal(tb__report_stats(&r), 0);
    assert_int_equal(r.bench[0], D(1000));          /* 500 x 10/10 + 500 cash */
    assert_int_equal(r.bench[1], D(1100));          /* 500 x 12/10 + 500 x 30/30 */
    assert_int_equal(r.bench[2], D(1216.66666667)); /* 550 + 666.666666666... half-up */
    assert_int_equal(r.bench[3], D(1300));          /* AAA still at 11: 550 + 750 */
    assert_int_equal(r.bench_ret_pct, D(30));
    assert_int_equal(r.bench_st.net, D(300));
    /* The benchmark's drawdown: none, it only rose. */
    assert_int_equal(r.bench_st.max_dd, 0);
    /* No fills: the account stays at its initial equity. */
    assert_int_equal(r.eq[3], D(1000));
    assert_int_equal(r.nperiods, 1);
    assert_int_equal(r.periods[0].bench1, D(1300));
    tb__report_free(&r);
}

static void test_benchmark_rounds_each_share_once(void **state)
{
    (void)state;
    tb__report r;
    memset(&r, 0, sizeof(r));
    r.initial = 100 * TB_DECIMAL_ONE;
    const char *sym[3] = {"AAA", "BBB", "CCC"};
    for (int i = 0; i < 3; i++)
        bar(&r, T0 + MINUTE - 1000000, sym[i], 3 * TB_DECIMAL_ONE);
    for (int i = 0; i < 3; i++)
        bar(&r, T0 + 2 * MINUTE - 1000000, sym[i], (4 + i) * TB_DECIMAL_ONE);
    assert_int_equal(tb__report_finish(&r), 0);
    assert_int_equal(tb__report_stats(&r), 0);
    /* 100/3 at its first close: 33.33333333 (each share rounded half-up). */
    assert_int_equal(r.bench[0], D(99.99999999));
    /* 100 x 4/9 + 100 x 5/9 + 100 x 6/9 = 44.44444444 + 55.55555556 + 66.66666667 */
    assert_int_equal(r.bench[1], D(166.66666667));
    assert_int_equal(r.bench_ret_pct, D(66.66666667));
    tb__report_free(&r);
}

/* A hand-made curve: n points at t[], equity and benchmark given. */
static void periods_of(tb__report *r, size_t n, const int64_t *t, const tb_decimal *eq,
                       const tb_decimal *bench)
{
    memset(r, 0, sizeof(*r));
    r->initial = 1000 * TB_DECIMAL_ONE;
    r->t = malloc(n * sizeof(*r->t));
    r->eq = malloc(n * sizeof(*r->eq));
    r->bench = malloc(n * sizeof(*r->bench));
    assert_non_null(r->t);
    assert_non_null(r->eq);
    assert_non_null(r->bench);
    memcpy(r->t, t, n * sizeof(*t));
    memcpy(r->eq, eq, n * sizeof(*eq));
    memcpy(r->bench, bench, n * sizeof(*bench));
    r->npts = r->cappts = n;
    assert_int_equal(tb__report_periods(r), 0);
}

static void test_periods_split_at_the_utc_day_boundary(void **state)
{
    (void)state;
    const int64_t t[4] = {T0 + DAY - 2 * MINUTE - 1, T0 + DAY - 1, T0 + DAY + MINUTE - 1,
                          T0 + DAY + 2 * MINUTE - 1};
    const tb_decimal eq[4] = {D(1000), D(1010), D(1020), D(999)};
    const tb_decimal bench[4] = {D(1000), D(990), D(980), D(1005)};
    tb__report r;
    periods_of(&r, 4, t, eq, bench);
    assert_int_equal(r.monthly, 0);
    assert_int_equal(r.nperiods, 2);
    const tb__rperiod *a = &r.periods[0], *b = &r.periods[1];
    assert_string_equal(a->label, "2024-01-01");
    assert_string_equal(b->label, "2024-01-02");
    assert_int_equal(a->first, 0);
    assert_int_equal(a->last, 1);
    assert_int_equal(b->first, 2);
    assert_int_equal(b->last, 3);
    /* The first day starts from the initial equity, the next from its end. */
    assert_int_equal(a->eq0, D(1000));
    assert_int_equal(a->eq1, D(1010));
    assert_int_equal(a->ret_pct, D(1));
    assert_int_equal(a->bench_pct, D(-1));
    assert_int_equal(b->eq0, D(1010));
    assert_int_equal(b->eq1, D(999));
    assert_int_equal(b->ret_pct, D(-1.08910891)); /* -11 x 100 / 1010 */
    assert_int_equal(b->bench0, D(990));
    assert_int_equal(b->bench_pct, D(1.51515152)); /* 15 x 100 / 990 */
    assert_true(a->defined && a->bench_defined && b->defined && b->bench_defined);
    tb__report_free(&r);
}

/* One point a day from 2024-01-01: n days. Equity 1000 + day index. */
static void daily_points(tb__report *r, size_t n)
{
    int64_t *t = malloc(n * sizeof(*t));
    tb_decimal *eq = malloc(n * sizeof(*eq));
    assert_non_null(t);
    assert_non_null(eq);
    for (size_t i = 0; i < n; i++) {
        t[i] = T0 + (int64_t)i * DAY + DAY / 2;
        eq[i] = (1000 + (tb_decimal)i) * TB_DECIMAL_ONE;
    }
    periods_of(r, n, t, eq, eq);
    free(t);
    free(eq);
}

static void test_periods_are_months_over_60_days(void **state)
{
    (void)state;
    tb__report r;
    daily_points(&r, 75); /* 2024-01-01 .. 2024-03-15: 74 days */
    assert_int_equal(r.monthly, 1);
    assert_int_equal(r.nperiods, 3);
    assert_string_equal(r.periods[0].label, "2024-01");
    assert_string_equal(r.periods[1].label, "2024-02");
    assert_string_equal(r.periods[2].label, "2024-03");
    assert_int_equal(r.periods[0].eq0, D(1000));
    assert_int_equal(r.periods[0].eq1, D(1030)); /* Jan 31 */
    assert_int_equal(r.periods[1].eq1, D(1059)); /* Feb 29 (2024 is a leap year) */
    assert_int_equal(r.periods[2].eq1, D(1074));
    assert_int_equal(r.periods[0].ret_pct, D(3));
    assert_int_equal(r.periods[1].ret_pct, D(2.81553398));   /* 29 x 100 / 1030 */
    assert_int_equal(r.periods[2].bench_pct, D(1.41643059)); /* 15 x 100 / 1059 */
    assert_int_equal(r.periods[1].first, 31);
    assert_int_equal(r.periods[1].last, 59);
    tb__report_free(&r);

    daily_points(&r, 61); /* exactly 60 days: still daily */
    assert_int_equal(r.monthly, 0);
    assert_int_equal(r.nperiods, 61);
    assert_string_equal(r.periods[60].label, "2024-03-01");
    tb__report_free(&r);
}

static void test_a_period_starting_at_zero_has_no_return(void **state)
{
    (void)state;
    const int64_t t[2] = {T0 + MINUTE, T0 + DAY + MINUTE};
    const tb_decimal eq[2] = {0, D(5)};
    const tb_decimal bench[2] = {D(1000), D(1000)};
    tb__report r;
    periods_of(&r, 2, t, eq, bench);
    assert_int_equal(r.nperiods, 2);
    assert_int_equal(r.periods[0].defined, 1); /* from the initial 1000 to 0: -100% */
    assert_int_equal(r.periods[0].ret_pct, D(-100));
    assert_int_equal(r.periods[1].defined, 0);
    assert_int_equal(r.periods[1].bench_defined, 1);
    assert_int_equal(r.periods[1].bench_pct, 0);
    tb__report_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_benchmark_holds_equal_shares_from_each_first_close),
        cmocka_unit_test(test_benchmark_rounds_each_share_once),
        cmocka_unit_test(test_periods_split_at_the_utc_day_boundary),
        cmocka_unit_test(test_periods_are_months_over_60_days),
        cmocka_unit_test(test_a_period_starting_at_zero_has_no_return),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
