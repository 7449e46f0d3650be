/* Indicators against values worked out by hand (fractions in the comments),
 * warm-up boundaries, parameter checks, and long random runs against a
 * brute-force recomputation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "tradebus/indicators.h"

#define EPS 1e-12

static void assert_near(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol)) fail_msg("got %.17g, want %.17g (tol %g)", got, want, tol);
}

/* Deterministic pseudo-random doubles in [0, 1) for the long-run tests. */
static double next_unit(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*state >> 11) / 9007199254740992.0;
}

/* ---- SMA ---- */

static void test_sma3_of_1_to_5(void **state)
{
    (void)state;
    tb_sma s;
    assert_int_equal(tb_sma_init(&s, 3), 0);
    assert_int_equal(tb_sma_update(&s, 1), 0);
    assert_int_equal(tb_sma_update(&s, 2), 0);
    assert_int_equal(tb_sma_update(&s, 3), 1);
    assert_near(s.value, 2.0, EPS);
    assert_int_equal(tb_sma_update(&s, 4), 1);
    assert_near(s.value, 3.0, EPS);
    assert_int_equal(tb_sma_update(&s, 5), 1);
    assert_near(s.value, 4.0, EPS);
    tb_sma_close(&s);
}

static void test_sma1_is_the_input(void **state)
{
    (void)state;
    tb_sma s;
    assert_int_equal(tb_sma_init(&s, 1), 0);
    assert_int_equal(tb_sma_update(&s, 7.5), 1);
    assert_near(s.value, 7.5, 0);
    assert_int_equal(tb_sma_update(&s, -2.25), 1);
    assert_near(s.value, -2.25, 0);
    tb_sma_close(&s);
}

static void test_sma_rejects_bad_period(void **state)
{
    (void)state;
    tb_sma s;
    assert_int_equal(tb_sma_init(&s, 0), TB_EINVAL);
    assert_int_equal(tb_sma_init(&s, -3), TB_EINVAL);
    assert_int_equal(tb_sma_init(NULL, 3), TB_EINVAL);
    tb_sma_close(&s); /* safe after a failed init */
}

/* A naive "sum += new - old" loses the 1s next to 1e17 and then keeps the
 * resulting garbage forever; resynchronising on every wrap recovers. */
static void test_sma_recovers_exactly_after_huge_value_leaves_window(void **state)
{
    (void)state;
    tb_sma s;
    assert_int_equal(tb_sma_init(&s, 2), 0);
    tb_sma_update(&s, 1e17);
    for (int i = 0; i < 6; i++)
        tb_sma_update(&s, 1.0);
    assert_near(s.value, 1.0, 0);
    tb_sma_close(&s);
}

static void test_sma_matches_brute_force_over_long_run(void **state)
{
    (void)state;
    enum { N = 37, BARS = 200000 };
    static double hist[BARS];
    uint64_t rng = 42;
    tb_sma s;
    assert_int_equal(tb_sma_init(&s, N), 0);
    double worst = 0.0;
    for (int i = 0; i < BARS; i++) {
        hist[i] = 60000.0 + 5000.0 * next_unit(&rng);
        int ok = tb_sma_update(&s, hist[i]);
        assert_int_equal(ok, i >= N - 1);
        if (!ok) continue;
        double sum = 0.0;
        for (int j = i - N + 1; j <= i; j++)
            sum += hist[j];
        double err = fabs(s.value - sum / N) / (sum / N);
        if (err > worst) worst = err;
    }
    assert_true(worst < 1e-13);
    tb_sma_close(&s);
}

/* ---- EMA ---- */

/* EMA(3), k = 1/2, over 2 4 6 8 3: seed (2+4+6)/3 = 4, then 4 + (8-4)/2 = 6,
 * then 6 + (3-6)/2 = 4.5. */
static void test_ema3_seeded_by_sma(void **state)
{
    (void)state;
    tb_ema e;
    assert_int_equal(tb_ema_init(&e, 3), 0);
    assert_int_equal(tb_ema_update(&e, 2), 0);
    assert_int_equal(tb_ema_update(&e, 4), 0);
    assert_int_equal(tb_ema_update(&e, 6), 1);
    assert_near(e.value, 4.0, EPS);
    assert_int_equal(tb_ema_update(&e, 8), 1);
    assert_near(e.value, 6.0, EPS);
    assert_int_equal(tb_ema_update(&e, 3), 1);
    assert_near(e.value, 4.5, EPS);
    tb_ema_close(&e);
}

static void test_ema_rejects_bad_period(void **state)
{
    (void)state;
    tb_ema e;
    assert_int_equal(tb_ema_init(&e, 0), TB_EINVAL);
    assert_int_equal(tb_ema_init(NULL, 5), TB_EINVAL);
}

/* ---- RSI ---- */

/* RSI(3) over 44 45 43 46 47 44: changes +1 -2 +3 +1 -3.
 * Seed: gain (1+0+3)/3 = 4/3, loss (0+2+0)/3 = 2/3, RSI = 100*4/6.
 * +1: gain (8/3+1)/3 = 11/9, loss (4/3)/3 = 4/9, RSI = 100*11/15 = 220/3.
 * -3: gain (22/9)/3 = 22/27, loss (8/9+3)/3 = 35/27, RSI = 100*22/57. */
static void test_rsi3_wilder(void **state)
{
    (void)state;
    tb_rsi r;
    assert_int_equal(tb_rsi_init(&r, 3), 0);
    assert_int_equal(tb_rsi_update(&r, 44), 0);
    assert_int_equal(tb_rsi_update(&r, 45), 0);
    assert_int_equal(tb_rsi_update(&r, 43), 0);
    assert_int_equal(tb_rsi_update(&r, 46), 1); /* n + 1 closes */
    assert_near(r.value, 200.0 / 3.0, EPS);
    assert_int_equal(tb_rsi_update(&r, 47), 1);
    assert_near(r.value, 220.0 / 3.0, EPS);
    assert_int_equal(tb_rsi_update(&r, 44), 1);
    assert_near(r.value, 2200.0 / 57.0, EPS);
    tb_rsi_close(&r);
}

static void test_rsi_is_100_without_losses(void **state)
{
    (void)state;
    tb_rsi r;
    assert_int_equal(tb_rsi_init(&r, 2), 0);
    tb_rsi_update(&r, 1);
    tb_rsi_update(&r, 2);
    assert_int_equal(tb_rsi_update(&r, 3), 1);
    assert_near(r.value, 100.0, 0);
    tb_rsi_close(&r);
}

static void test_rsi_is_0_without_gains(void **state)
{
    (void)state;
    tb_rsi r;
    assert_int_equal(tb_rsi_init(&r, 2), 0);
    tb_rsi_update(&r, 3);
    tb_rsi_update(&r, 2);
    assert_int_equal(tb_rsi_update(&r, 1), 1);
    assert_near(r.value, 0.0, 0);
    tb_rsi_close(&r);
}

/* Per the header ("100 when there are no losses"), a flat series reads 100. */
static void test_rsi_flat_series_is_100(void **state)
{
    (void)state;
    tb_rsi r;
    assert_int_equal(tb_rsi_init(&r, 2), 0);
    tb_rsi_update(&r, 5);
    tb_rsi_update(&r, 5);
    assert_int_equal(tb_rsi_update(&r, 5), 1);
    assert_near(r.value, 100.0, 0);
    tb_rsi_close(&r);
}

static void test_rsi_rejects_bad_period(void **state)
{
    (void)state;
    tb_rsi r;
    assert_int_equal(tb_rsi_init(&r, 0), TB_EINVAL);
    assert_int_equal(tb_rsi_init(NULL, 14), TB_EINVAL);
}

/* ---- ATR ---- */

/* ATR(3). Bars (h, l, c): (10,8,9) (11,9,10) (13,12,12.5) (11,10,10.5)
 * (11,10.5,10.8). True ranges from bar 2: max(2,2,0)=2, max(1,3,2)=3,
 * max(1,1.5,2.5)=2.5, max(0.5,0.5,0)=0.5. First ATR (bar 4) = 7.5/3 = 2.5,
 * then (2.5*2 + 0.5)/3 = 11/6. */
static void test_atr3_wilder(void **state)
{
    (void)state;
    tb_atr a;
    assert_int_equal(tb_atr_init(&a, 3), 0);
    assert_int_equal(tb_atr_update(&a, 10, 8, 9), 0);
    assert_int_equal(tb_atr_update(&a, 11, 9, 10), 0);
    assert_int_equal(tb_atr_update(&a, 13, 12, 12.5), 0);
    assert_int_equal(tb_atr_update(&a, 11, 10, 10.5), 1); /* n + 1 bars */
    assert_near(a.value, 2.5, EPS);
    assert_int_equal(tb_atr_update(&a, 11, 10.5, 10.8), 1);
    assert_near(a.value, 11.0 / 6.0, EPS);
    tb_atr_close(&a);
}

static void test_atr_rejects_bad_period(void **state)
{
    (void)state;
    tb_atr a;
    assert_int_equal(tb_atr_init(&a, 0), TB_EINVAL);
    assert_int_equal(tb_atr_init(NULL, 14), TB_EINVAL);
}

/* ---- Bollinger ---- */

/* bbands(3, 2) over 1 2 3 4 6, population stddev:
 * {1,2,3}: mean 2, var 2/3; {2,3,4}: mean 3, var 2/3;
 * {3,4,6}: mean 13/3, var (16+1+25)/27 = 14/9, sd sqrt(14)/3. */
static void test_bbands3_population_stddev(void **state)
{
    (void)state;
    tb_bbands b;
    double sd = sqrt(2.0 / 3.0);
    assert_int_equal(tb_bbands_init(&b, 3, 2.0), 0);
    assert_int_equal(tb_bbands_update(&b, 1), 0);
    assert_int_equal(tb_bbands_update(&b, 2), 0);
    assert_int_equal(tb_bbands_update(&b, 3), 1);
    assert_near(b.middle, 2.0, EPS);
    assert_near(b.upper, 2.0 + 2 * sd, EPS);
    assert_near(b.lower, 2.0 - 2 * sd, EPS);
    assert_int_equal(tb_bbands_update(&b, 4), 1);
    assert_near(b.middle, 3.0, EPS);
    assert_near(b.upper, 3.0 + 2 * sd, EPS);
    assert_near(b.lower, 3.0 - 2 * sd, EPS);
    assert_int_equal(tb_bbands_update(&b, 6), 1);
    sd = sqrt(14.0) / 3.0;
    assert_near(b.middle, 13.0 / 3.0, EPS);
    assert_near(b.upper, 13.0 / 3.0 + 2 * sd, EPS);
    assert_near(b.lower, 13.0 / 3.0 - 2 * sd, EPS);
    tb_bbands_close(&b);
}

static void test_bbands_flat_window_has_zero_width_at_the_close(void **state)
{
    (void)state;
    tb_bbands b;
    assert_int_equal(tb_bbands_init(&b, 4, 2.0), 0);
    double closes[] = {60000.37, 60100.11, 59990.5, 60000.01};
    for (size_t i = 0; i < sizeof closes / sizeof closes[0]; i++)
        tb_bbands_update(&b, closes[i]);
    /* From the 4th flat close on the window is flat; the ring resyncs on
     * that same bar, which wipes the rounding the older closes left. */
    for (int i = 0; i < 9; i++) {
        assert_int_equal(tb_bbands_update(&b, 60000.01), 1);
        if (i < 3) continue;
        assert_true(b.middle == 60000.01);
        assert_true(b.upper == 60000.01);
        assert_true(b.lower == 60000.01);
    }
    tb_bbands_close(&b);
}

/* A 0.01-wide spread on a 60000 price: E[x^2] - E[x]^2 would lose it. */
static void test_bbands_keeps_tiny_spread_on_large_price(void **state)
{
    (void)state;
    tb_bbands b;
    assert_int_equal(tb_bbands_init(&b, 2, 1.0), 0);
    for (int i = 0; i < 1001; i++)
        tb_bbands_update(&b, (i % 2) ? 60000.02 : 60000.01);
    /* population sd of {a, a + 0.01} is 0.005 */
    assert_near(b.upper - b.middle, 0.005, 1e-9);
    assert_near(b.middle, 60000.015, 1e-9);
    tb_bbands_close(&b);
}

static void test_bbands_matches_brute_force_over_long_run(void **state)
{
    (void)state;
    enum { N = 20, BARS = 100000 };
    static double hist[BARS];
    uint64_t rng = 7;
    tb_bbands b;
    assert_int_equal(tb_bbands_init(&b, N, 2.5), 0);
    double price = 100.0;
    for (int i = 0; i < BARS; i++) {
        price *= 1.0 + 0.01 * (next_unit(&rng) - 0.5);
        hist[i] = price;
        int ok = tb_bbands_update(&b, price);
        assert_int_equal(ok, i >= N - 1);
        if (!ok) continue;
        double mean = 0.0, var = 0.0;
        for (int j = i - N + 1; j <= i; j++)
            mean += hist[j];
        mean /= N;
        for (int j = i - N + 1; j <= i; j++)
            var += (hist[j] - mean) * (hist[j] - mean);
        double sd = sqrt(var / N);
        double tol = 1e-10 * price;
        assert_near(b.middle, mean, tol);
        assert_near(b.upper, mean + 2.5 * sd, tol);
        assert_near(b.lower, mean - 2.5 * sd, tol);
    }
    tb_bbands_close(&b);
}

static void test_bbands_rejects_bad_params(void **state)
{
    (void)state;
    tb_bbands b;
    assert_int_equal(tb_bbands_init(&b, 0, 2.0), TB_EINVAL);
    assert_int_equal(tb_bbands_init(&b, 20, 0.0), TB_EINVAL);
    assert_int_equal(tb_bbands_init(&b, 20, -1.0), TB_EINVAL);
    assert_int_equal(tb_bbands_init(&b, 20, NAN), TB_EINVAL);
    assert_int_equal(tb_bbands_init(&b, 20, INFINITY), TB_EINVAL);
    assert_int_equal(tb_bbands_init(NULL, 20, 2.0), TB_EINVAL);
    tb_bbands_close(&b);
}

/* ---- MACD ---- */

/* MACD(2, 3, 2) over 1 2 4 3 5 4, TA-Lib alignment: EMA(2) (k = 2/3) starts
 * at the 2nd close so both EMAs seed on the 3rd.
 * slow EMA(3), k = 1/2: 7/3, 8/3, 23/6, 47/12
 * fast EMA(2) from close 2: (2+4)/2 = 3, 3, 13/3, 37/9
 * macd: 2/3, 1/3, 1/2, 7/36
 * signal EMA(2) of macd: seed (2/3+1/3)/2 = 1/2 on the 4th close, 1/2, 8/27
 * hist: -1/6, 0, -11/108.
 * Seeding the fast EMA on close 1 instead would give fast = 19/6 and
 * macd = 5/6 on close 3, so this pins the alignment down. */
static void test_macd_2_3_2_talib_alignment(void **state)
{
    (void)state;
    tb_macd m;
    assert_int_equal(tb_macd_init(&m, 2, 3, 2), 0);
    assert_int_equal(tb_macd_update(&m, 1), 0);
    assert_int_equal(tb_macd_update(&m, 2), 0);
    assert_int_equal(tb_macd_update(&m, 4), 0); /* macd exists, signal not yet */
    assert_near(m.macd, 2.0 / 3.0, EPS);
    assert_int_equal(tb_macd_update(&m, 3), 1); /* slow + signal - 1 closes */
    assert_near(m.macd, 1.0 / 3.0, EPS);
    assert_near(m.signal_value, 0.5, EPS);
    assert_near(m.hist, -1.0 / 6.0, EPS);
    assert_int_equal(tb_macd_update(&m, 5), 1);
    assert_near(m.macd, 0.5, EPS);
    assert_near(m.signal_value, 0.5, EPS);
    assert_near(m.hist, 0.0, EPS);
    assert_int_equal(tb_macd_update(&m, 4), 1);
    assert_near(m.macd, 7.0 / 36.0, EPS);
    assert_near(m.signal_value, 8.0 / 27.0, EPS);
    assert_near(m.hist, -11.0 / 108.0, EPS);
    tb_macd_close(&m);
}

static void test_macd_warms_up_after_slow_plus_signal_minus_one(void **state)
{
    (void)state;
    tb_macd m;
    assert_int_equal(tb_macd_init(&m, 12, 26, 9), 0);
    for (int i = 1; i <= 40; i++)
        assert_int_equal(tb_macd_update(&m, 100.0 + i % 7), i >= 26 + 9 - 1);
    tb_macd_close(&m);
}

static void test_macd_rejects_bad_params(void **state)
{
    (void)state;
    tb_macd m;
    assert_int_equal(tb_macd_init(&m, 3, 3, 2), TB_EINVAL);
    assert_int_equal(tb_macd_init(&m, 4, 3, 2), TB_EINVAL);
    assert_int_equal(tb_macd_init(&m, 0, 3, 2), TB_EINVAL);
    assert_int_equal(tb_macd_init(&m, 2, 3, 0), TB_EINVAL);
    assert_int_equal(tb_macd_init(NULL, 2, 3, 2), TB_EINVAL);
}

/* ---- Donchian ---- */

/* Donchian(3), bars (h, l): (5,3) (6,4) (4,2) (7,5) (3,1) (4,3) (5,4) (2,2). */
static void test_donchian3_includes_current_bar(void **state)
{
    (void)state;
    static const double bars[][2] = {{5, 3}, {6, 4}, {4, 2}, {7, 5},
                                     {3, 1}, {4, 3}, {5, 4}, {2, 2}};
    static const double want[][2] = {{0, 0}, {0, 0}, {2, 6}, {2, 7},
                                     {1, 7}, {1, 7}, {1, 5}, {2, 5}};
    tb_donchian d;
    assert_int_equal(tb_donchian_init(&d, 3), 0);
    for (int i = 0; i < 8; i++) {
        int ok = tb_donchian_update(&d, bars[i][0], bars[i][1]);
        assert_int_equal(ok, i >= 2);
        if (!ok) continue;
        assert_near(d.lower, want[i][0], 0);
        assert_near(d.upper, want[i][1], 0);
    }
    tb_donchian_close(&d);
}

static void test_donchian_matches_brute_force_over_long_run(void **state)
{
    (void)state;
    enum { N = 13, BARS = 50000 };
    static double hi[BARS], lo[BARS];
    uint64_t rng = 99;
    tb_donchian d;
    assert_int_equal(tb_donchian_init(&d, N), 0);
    for (int i = 0; i < BARS; i++) {
        /* coarse values so equal highs/lows (deque ties) are common */
        double mid = floor(next_unit(&rng) * 20.0);
        lo[i] = mid - floor(next_unit(&rng) * 3.0);
        hi[i] = mid + floor(next_unit(&rng) * 3.0);
        int ok = tb_donchian_update(&d, hi[i], lo[i]);
        assert_int_equal(ok, i >= N - 1);
        if (!ok) continue;
        double mn = lo[i], mx = hi[i];
        for (int j = i - N + 1; j <= i; j++) {
            if (lo[j] < mn) mn = lo[j];
            if (hi[j] > mx) mx = hi[j];
        }
        assert_near(d.lower, mn, 0);
        assert_near(d.upper, mx, 0);
    }
    tb_donchian_close(&d);
}

static void test_donchian1_is_the_bar(void **state)
{
    (void)state;
    tb_donchian d;
    assert_int_equal(tb_donchian_init(&d, 1), 0);
    assert_int_equal(tb_donchian_update(&d, 5, 3), 1);
    assert_near(d.upper, 5, 0);
    assert_near(d.lower, 3, 0);
    assert_int_equal(tb_donchian_update(&d, 2, 1), 1);
    assert_near(d.upper, 2, 0);
    assert_near(d.lower, 1, 0);
    tb_donchian_close(&d);
}

static void test_donchian_rejects_bad_period(void **state)
{
    (void)state;
    tb_donchian d;
    assert_int_equal(tb_donchian_init(&d, 0), TB_EINVAL);
    assert_int_equal(tb_donchian_init(NULL, 20), TB_EINVAL);
    tb_donchian_close(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sma3_of_1_to_5),
        cmocka_unit_test(test_sma1_is_the_input),
        cmocka_unit_test(test_sma_rejects_bad_period),
        cmocka_unit_test(test_sma_recovers_exactly_after_huge_value_leaves_window),
        cmocka_unit_test(test_sma_matches_brute_force_over_long_run),
        cmocka_unit_test(test_ema3_seeded_by_sma),
        cmocka_unit_test(test_ema_rejects_bad_period),
        cmocka_unit_test(test_rsi3_wilder),
        cmocka_unit_test(test_rsi_is_100_without_losses),
        cmocka_unit_test(test_rsi_is_0_without_gains),
        cmocka_unit_test(test_rsi_flat_series_is_100),
        cmocka_unit_test(test_rsi_rejects_bad_period),
        cmocka_unit_test(test_atr3_wilder),
        cmocka_unit_test(test_atr_rejects_bad_period),
        cmocka_unit_test(test_bbands3_population_stddev),
        cmocka_unit_test(test_bbands_flat_window_has_zero_width_at_the_close),
        cmocka_unit_test(test_bbands_keeps_tiny_spread_on_large_price),
        cmocka_unit_test(test_bbands_matches_brute_force_over_long_run),
        cmocka_unit_test(test_bbands_rejects_bad_params),
        cmocka_unit_test(test_macd_2_3_2_talib_alignment),
        cmocka_unit_test(test_macd_warms_up_after_slow_plus_signal_minus_one),
        cmocka_unit_test(test_macd_rejects_bad_params),
        cmocka_unit_test(test_donchian3_includes_current_bar),
        cmocka_unit_test(test_donchian_matches_brute_force_over_long_run),
        cmocka_unit_test(test_donchian1_is_the_bar),
        cmocka_unit_test(test_donchian_rejects_bad_period),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
