/* The report's risk ratios: Sharpe and Sortino come from daily returns,
 * annualised with sqrt(365), and are undefined (shown "n/a") for runs
 * shorter than 30 days, whatever the bar interval. */
#include <math.h>
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

/* n points, one every step, equity moving ±1% on alternate days. */
static void run_stats(size_t n, int64_t step, tb__rstats *out)
{
    tb__report r;
    memset(&r, 0, sizeof(r));
    r.initial = 1000 * TB_DECIMAL_ONE;
    r.t = calloc(n, sizeof(*r.t));
    r.eq = calloc(n, sizeof(*r.eq));
    assert_non_null(r.t);
    assert_non_null(r.eq);
    for (size_t i = 0; i < n; i++) {
        r.t[i] = 1704067200000000000LL + (int64_t)i * step;
        int64_t day = (int64_t)i * step / DAY;
        r.eq[i] = r.initial + (day % 2 ? 10 : (day % 3 ? 25 : -5)) * TB_DECIMAL_ONE;
    }
    r.npts = r.cappts = n;
    assert_int_equal(tb__report_stats(&r), 0);
    *out = r.all;
    tb__report_free(&r);
}

static void test_ratios_are_na_under_30_days_even_with_many_bars(void **state)
{
    (void)state;
    tb__rstats st;
    run_stats(29 * 1440, MINUTE, &st); /* 40k one-minute bars, not quite 29 days */
    assert_int_equal(st.ratios, 0);
    assert_true(st.sharpe == 0 && st.sortino == 0);
}

static void test_ratios_come_from_daily_returns_over_30_days(void **state)
{
    (void)state;
    tb__rstats daily, minutes;
    run_stats(41, DAY, &daily);                 /* one point a day for 40 days */
    run_stats(40 * 1440 + 1, MINUTE, &minutes); /* the same days, minute by minute */
    assert_int_equal(daily.ratios, 1);
    assert_int_equal(minutes.ratios, 1);
    assert_true(isfinite(daily.sharpe) && daily.sharpe != 0);
    /* Per-bar returns would scale with sqrt(bars per year): daily ones do not. */
    assert_true(fabs(daily.sharpe - minutes.sharpe) < 1e-9);
    assert_true(fabs(daily.sortino - minutes.sortino) < 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratios_are_na_under_30_days_even_with_many_bars),
        cmocka_unit_test(test_ratios_come_from_daily_returns_over_30_days),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
