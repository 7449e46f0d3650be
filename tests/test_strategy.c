/* Built-in strategies on crafted price series, the registry, and the
 * tb_param_* helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "tradebus/strategy.h"

#define UNITS(x)   ((tb_decimal)(x)*TB_DECIMAL_ONE)
#define NPARAMS(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_BARS   256

/* One strategy instance plus the target position a Signal Generator would
 * keep for it: every BUY/SELL it emits is applied. */
typedef struct {
    const tb_strategy_vtable *vt;
    void *state;
    tb_decimal position;
} runner;

static void start(runner *r, const char *name, const tb_param *p, size_t n)
{
    char err[256] = "";
    r->vt = tb_strategy_builtin(name);
    assert_non_null(r->vt);
    r->state = NULL;
    r->position = 0;
    int rc = r->vt->create(r->vt, p, n, &r->state, err, sizeof err);
    if (rc != 0) fail_msg("create(%s) failed: %d %s", name, rc, err);
    assert_non_null(r->state);
}

static void stop(runner *r)
{
    r->vt->destroy(r->state);
}

static tb_strategy_decision step(runner *r, tb_decimal close)
{
    tb_market_data bar;
    memset(&bar, 0, sizeof bar);
    strcpy(bar.symbol, "BTCUSDT");
    bar.open = bar.high = bar.low = bar.close = close;
    bar.volume = UNITS(1);
    tb_strategy_ctx ctx = {.position = r->position, .strategy_id = "test"};
    tb_strategy_decision d = {.signal = TB_SIGNAL_SELL, .volume = -1}; /* must be overwritten */
    assert_int_equal(r->vt->on_bar(r->state, &bar, &ctx, &d), 0);
    if (d.signal == TB_SIGNAL_BUY) r->position += d.volume;
    if (d.signal == TB_SIGNAL_SELL) r->position -= d.volume;
    if (d.signal == TB_SIGNAL_HOLD)
        assert_int_equal(d.volume, 0);
    else
        assert_true(d.volume > 0);
    return d;
}

/* Feeds whole-unit closes; out[i] is the decision on bar i. */
static void feed(runner *r, const int *closes, size_t n, tb_strategy_decision *out)
{
    assert_true(n <= MAX_BARS);
    for (size_t i = 0; i < n; i++)
        out[i] = step(r, UNITS(closes[i]));
}

static void assert_holds_except(const tb_strategy_decision *d, size_t n, size_t a, size_t b)
{
    for (size_t i = 0; i < n; i++) {
        if (i == a || i == b) continue;
        if (d[i].signal != TB_SIGNAL_HOLD)
            fail_msg("bar %zu: expected HOLD, got %d", i, d[i].signal);
    }
}

static void assert_decision(tb_strategy_decision d, tb_signal_type sig, tb_decimal volume)
{
    assert_int_equal(d.signal, sig);
    assert_int_equal(d.volume, volume);
}

static int create_fails(const char *name, const tb_param *p, size_t n, char *err, size_t errlen)
{
    void *state = NULL;
    err[0] = '\0';
    int rc =
        tb_strategy_builtin(name)->create(tb_strategy_builtin(name), p, n, &state, err, errlen);
    assert_null(state);
    return rc;
}

/* ---- registry ---- */

static void test_builtin_finds_each_strategy_by_name(void **state)
{
    (void)state;
    const char *names[] = {"sma_cross", "rsi_reversion", "bollinger_breakout"};
    for (size_t i = 0; i < 3; i++) {
        const tb_strategy_vtable *vt = tb_strategy_builtin(names[i]);
        assert_non_null(vt);
        assert_string_equal(vt->name, names[i]);
        assert_non_null(vt->create);
        assert_non_null(vt->on_bar);
        assert_non_null(vt->destroy);
    }
}

static void test_builtin_unknown_name_is_null(void **state)
{
    (void)state;
    assert_null(tb_strategy_builtin("sma_crossover"));
    assert_null(tb_strategy_builtin(""));
    assert_null(tb_strategy_builtin(NULL));
}

static void test_builtin_at_lists_five_then_null(void **state)
{
    (void)state;
    assert_string_equal(tb_strategy_builtin_at(0)->name, "sma_cross");
    assert_string_equal(tb_strategy_builtin_at(1)->name, "rsi_reversion");
    assert_string_equal(tb_strategy_builtin_at(2)->name, "bollinger_breakout");
    assert_string_equal(tb_strategy_builtin_at(3)->name, "lua");
    assert_string_equal(tb_strategy_builtin_at(4)->name, "legacy-lua");
    assert_null(tb_strategy_builtin_at(5));
    assert_null(tb_strategy_builtin_at((size_t)-1));
}

static void test_help_lists_params_with_defaults(void **state)
{
    (void)state;
    const char *h = tb_strategy_builtin("sma_cross")->help;
    assert_non_null(strstr(h, "fast=10"));
    assert_non_null(strstr(h, "slow=30"));
    assert_non_null(strstr(h, "quantity=1"));
    assert_non_null(strstr(h, "allow_short=false"));
    assert_null(strchr(h, '\n'));
    h = tb_strategy_builtin("rsi_reversion")->help;
    assert_non_null(strstr(h, "period=14"));
    assert_non_null(strstr(h, "oversold=30"));
    assert_non_null(strstr(h, "overbought=70"));
    h = tb_strategy_builtin("bollinger_breakout")->help;
    assert_non_null(strstr(h, "period=20"));
    assert_non_null(strstr(h, "k=2"));
}

/* ---- tb_param helpers ---- */

static void test_param_int_absent_gives_default(void **state)
{
    (void)state;
    tb_param p[] = {{"other", "5"}};
    long v = 0;
    char err[64] = "";
    assert_int_equal(tb_param_int(p, 1, "fast", 10, 1, 100, &v, err, sizeof err), 0);
    assert_int_equal(v, 10);
    assert_int_equal(tb_param_int(NULL, 0, "fast", 7, 1, 100, &v, err, sizeof err), 0);
    assert_int_equal(v, 7);
}

static void test_param_int_parses_value(void **state)
{
    (void)state;
    tb_param p[] = {{"fast", "42"}, {"neg", "-3"}};
    long v = 0;
    char err[64] = "";
    assert_int_equal(tb_param_int(p, 2, "fast", 10, 1, 100, &v, err, sizeof err), 0);
    assert_int_equal(v, 42);
    assert_int_equal(tb_param_int(p, 2, "neg", 0, -10, 10, &v, err, sizeof err), 0);
    assert_int_equal(v, -3);
}

static void test_param_int_rejects_garbage_naming_key(void **state)
{
    (void)state;
    const char *bad[] = {"abc", "", "12x", " 12", "1.5", "99999999999999999999999"};
    char err[128];
    for (size_t i = 0; i < NPARAMS(bad); i++) {
        tb_param p[] = {{"fast", bad[i]}};
        long v = 77;
        err[0] = '\0';
        assert_int_equal(tb_param_int(p, 1, "fast", 10, 1, 100, &v, err, sizeof err), TB_ECONFIG);
        assert_int_equal(v, 77);
        assert_true(strncmp(err, "fast: expected", 14) == 0);
    }
}

static void test_param_int_rejects_out_of_range(void **state)
{
    (void)state;
    tb_param p[] = {{"fast", "0"}};
    long v;
    char err[128] = "";
    assert_int_equal(tb_param_int(p, 1, "fast", 10, 1, 100, &v, err, sizeof err), TB_ECONFIG);
    assert_string_equal(err, "fast: expected an integer from 1 to 100, got '0'");
}

static void test_param_duplicate_key_rejected(void **state)
{
    (void)state;
    tb_param p[] = {{"fast", "5"}, {"fast", "6"}};
    long v;
    char err[128] = "";
    assert_int_equal(tb_param_int(p, 2, "fast", 10, 1, 100, &v, err, sizeof err), TB_ECONFIG);
    assert_string_equal(err, "fast: given more than once");
}

static void test_param_double_parses_and_checks_range(void **state)
{
    (void)state;
    tb_param p[] = {{"k", "2.5"}, {"big", "1e3"}};
    double v = 0;
    char err[128] = "";
    assert_int_equal(tb_param_double(p, 2, "k", 2.0, 0.0, 10.0, &v, err, sizeof err), 0);
    assert_true(v == 2.5);
    assert_int_equal(tb_param_double(p, 2, "big", 0.0, 0.0, 10.0, &v, err, sizeof err), TB_ECONFIG);
    assert_string_equal(err, "big: expected a number from 0 to 10, got '1e3'");
    assert_int_equal(tb_param_double(p, 2, "absent", 1.25, 0.0, 10.0, &v, err, sizeof err), 0);
    assert_true(v == 1.25);
}

static void test_param_double_rejects_nan_inf_hex_and_spaces(void **state)
{
    (void)state;
    const char *bad[] = {"nan", "inf", "0x10", " 1", "1 ", "", "2.5.1", "1e999"};
    char err[128];
    for (size_t i = 0; i < NPARAMS(bad); i++) {
        tb_param p[] = {{"k", bad[i]}};
        double v = 9.0;
        assert_int_equal(tb_param_double(p, 1, "k", 2.0, -1e308, 1e308, &v, err, sizeof err),
                         TB_ECONFIG);
        assert_true(v == 9.0);
        assert_true(strncmp(err, "k: expected", 11) == 0);
    }
}

static void test_param_decimal_parses_exactly(void **state)
{
    (void)state;
    tb_param p[] = {{"quantity", "0.00123456"}};
    tb_decimal v = 0;
    char err[128] = "";
    assert_int_equal(tb_param_decimal(p, 1, "quantity", UNITS(1), &v, err, sizeof err), 0);
    assert_int_equal(v, 123456);
    assert_int_equal(tb_param_decimal(p, 1, "absent", UNITS(3), &v, err, sizeof err), 0);
    assert_int_equal(v, UNITS(3));
}

static void test_param_decimal_rejects_bad_value_naming_key(void **state)
{
    (void)state;
    const char *bad[] = {"1.5x", "", "1e3", "0.123456789", "abc"};
    char err[128];
    for (size_t i = 0; i < NPARAMS(bad); i++) {
        tb_param p[] = {{"quantity", bad[i]}};
        tb_decimal v = 5;
        assert_int_equal(tb_param_decimal(p, 1, "quantity", UNITS(1), &v, err, sizeof err),
                         TB_ECONFIG);
        assert_int_equal(v, 5);
        assert_true(strncmp(err, "quantity: expected", 18) == 0);
    }
}

static void test_param_bool_accepts_all_spellings(void **state)
{
    (void)state;
    const char *yes[] = {"true", "1", "yes", "on", "TRUE", "Yes", "ON"};
    const char *no[] = {"false", "0", "no", "off", "False", "NO", "Off"};
    char err[128] = "";
    for (size_t i = 0; i < NPARAMS(yes); i++) {
        tb_param p[] = {{"allow_short", yes[i]}};
        int v = 0;
        assert_int_equal(tb_param_bool(p, 1, "allow_short", 0, &v, err, sizeof err), 0);
        assert_int_equal(v, 1);
    }
    for (size_t i = 0; i < NPARAMS(no); i++) {
        tb_param p[] = {{"allow_short", no[i]}};
        int v = 1;
        assert_int_equal(tb_param_bool(p, 1, "allow_short", 1, &v, err, sizeof err), 0);
        assert_int_equal(v, 0);
    }
}

static void test_param_bool_rejects_other_words(void **state)
{
    (void)state;
    const char *bad[] = {"y", "2", "", "truee", " true", "enabled"};
    char err[128];
    for (size_t i = 0; i < NPARAMS(bad); i++) {
        tb_param p[] = {{"allow_short", bad[i]}};
        int v = 7;
        assert_int_equal(tb_param_bool(p, 1, "allow_short", 0, &v, err, sizeof err), TB_ECONFIG);
        assert_int_equal(v, 7);
        assert_true(strncmp(err, "allow_short: expected", 21) == 0);
    }
}

static void test_param_check_known_names_first_unknown_key(void **state)
{
    (void)state;
    static const char *const known[] = {"fast", "slow", NULL};
    tb_param p[] = {{"fast", "1"}, {"foo", "2"}, {"bar", "3"}};
    char err[128] = "";
    assert_int_equal(tb_param_check_known(p, 1, known, err, sizeof err), 0);
    assert_int_equal(tb_param_check_known(p, 3, known, err, sizeof err), TB_ECONFIG);
    assert_string_equal(err, "unknown parameter 'foo' (known: fast, slow)");
}

static void test_param_check_known_truncates_safely(void **state)
{
    (void)state;
    static const char *const known[] = {"fast", "slow", NULL};
    tb_param p[] = {{"foo", "2"}};
    char err[16];
    memset(err, 'x', sizeof err);
    assert_int_equal(tb_param_check_known(p, 1, known, err, sizeof err), TB_ECONFIG);
    assert_int_equal(strlen(err), sizeof err - 1);
    assert_true(strncmp(err, "unknown paramet", 15) == 0);
}

/* ---- sma_cross (fast=2, slow=3) ----
 * closes   10   9    8    7    12   13    8    5
 * SMA2     -   9.5  8.5  7.5  9.5  12.5 10.5  6.5
 * SMA3     -    -    9    8    9  10.67  11  8.67
 * fast>slow         no   no   YES  yes   NO   no
 * cross up on bar 4, cross down on bar 6. */
static const int cross_series[] = {10, 9, 8, 7, 12, 13, 8, 5};
static const tb_param fast2_slow3[] = {{"fast", "2"}, {"slow", "3"}};
static const tb_param fast2_slow3_short[] = {
    {"fast", "2"}, {"slow", "3"}, {"quantity", "0.5"}, {"allow_short", "true"}};

static void test_sma_cross_buys_on_cross_up_while_flat(void **state)
{
    (void)state;
    runner r;
    tb_strategy_decision d[MAX_BARS];
    start(&r, "sma_cross", fast2_slow3, 2);
    feed(&r, cross_series, 5, d);
    assert_holds_except(d, 5, 4, 4);
    assert_decision(d[4], TB_SIGNAL_BUY, UNITS(1));
    stop(&r);
}

static void test_sma_cross_sells_whole_long_on_cross_down(void **state)
{
    (void)state;
    runner r;
    tb_strategy_decision d[MAX_BARS];
    start(&r, "sma_cross", fast2_slow3, 2);
    feed(&r, cross_series, 5, d);
    r.position = UNITS(3); /* e.g. grown by another path: the exit takes all of it */
    feed(&r, cross_series + 5, 3, d + 5);
    assert_holds_except(d, 8, 4, 6);
    assert_decision(d[6], TB_SIGNAL_SELL, UNITS(3));
    assert_int_equal(r.position, 0);
    stop(&r);
}

static void test_sma_cross_long_only_does_not_sell_while_flat(void **state)
{
    (void)state;
    /* 5 6 7 8 3: fast above slow from bar 2, crosses down on bar 4. */
    static const int closes[] = {5, 6, 7, 8, 3};
    runner r;
    tb_strategy_decision d[MAX_BARS];
    start(&r, "sma_cross", fast2_slow3, 2);
    feed(&r, closes, 5, d);
    assert_holds_except(d, 5, (size_t)-1, (size_t)-1);
    assert_int_equal(r.position, 0);
    stop(&r);
}

static void test_sma_cross_long_only_does_not_add_while_long(void **state)
{
    (void)state;
    runner r;
    tb_strategy_decision d[MAX_BARS];
    start(&r, "sma_cross", fast2_slow3, 2);
    r.position = UNITS(1);
    feed(&r, cross_series, 5, d);
    assert_holds_except(d, 5, (size_t)-1, (size_t)-1);
    stop(&r);
}

static void test_sma_cross_needs_both_smas_on_previous_bar(void **state)
{
    (void)state;
    /* On bar 2, the first with SMA3, fast (14.5) is above slow (13): not a cross. */
    static const int closes[] = {10, 9, 20, 21};
    runner r;
    tb_strategy_decision d[MAX_BARS];
    start(&r, "sma_cross", fast2_slow3, 2);
    feed(&r, closes, 4, d);
    assert_holds_except(d, 4, (size_t)-1, (size_t)-1);
    stop(&r);
}

static void test_sma_cross_allow_short_opens_short_from_flat(void **state)
{
    (void)state;
    static const int closes[] = {5, 6, 7, 8, 3};
    runner r;
    tb_strategy_decision d[MAX_BARS];
    start(&r, "sma_cross", fast2_slow3_short, 4);
    feed(&r, closes, 5, d);
    assert_holds_except(d, 5, 4, 4);
    assert_decision(d[4], TB_SIGNAL_SELL, UNITS(1) / 2);
    assert_int_equal(r.position, -UNITS(1) / 2);
    stop(&r);
}

static void test_sma_cross_allow_short_flip_volume_is_twice_quantity(void **state)
{
    (void)state;
    runner r;
    tb_strategy_decision d[MAX_BARS];
    start(&r, "sma_cross", fast2_slow3_short, 4);
    feed(&r, cross_series, 8, d);
    assert_holds_except(d, 8, 4, 6);
    assert_decision(d[4], TB_SIGNAL_BUY, UNITS(1) / 2);
    assert_decision(d[6], TB_SIGNAL_SELL, UNITS(1));
    assert_int_equal(r.position, -UNITS(1) / 2);
    stop(&r);
}

static void test_sma_cross_allow_short_holds_at_target(void **state)
{
    (void)state;
    runner r;
    tb_strategy_decision d[MAX_BARS];
    start(&r, "sma_cross", fast2_slow3_short, 4);
    r.position = UNITS(1) / 2; /* already at the target a cross up asks for */
    feed(&r, cross_series, 5, d);
    assert_holds_except(d, 5, (size_t)-1, (size_t)-1);
    stop(&r);
}

/* A slide to 0.001 that then stops dead: both SMAs settle on 0.001, but from
 * different rounding histories the fast one ends a few ulps above the slow
 * one on bar 79. Compared naively that is a cross up and a BUY. */
static void test_sma_cross_ignores_rounding_noise_when_market_goes_flat(void **state)
{
    (void)state;
    static const tb_param p[] = {{"fast", "10"}, {"slow", "30"}};
    runner r;
    start(&r, "sma_cross", p, 2);
    for (int i = 0; i < 200; i++) {
        tb_decimal close = 100000 + (i < 50 ? (tb_decimal)(50 - i) * 1000000 : 0);
        tb_strategy_decision d = step(&r, close);
        if (d.signal != TB_SIGNAL_HOLD) fail_msg("bar %d: unexpected signal %d", i, d.signal);
    }
    stop(&r);
}

static void test_sma_cross_rejects_unknown_param_naming_it(void **state)
{
    (void)state;
    tb_param p[] = {{"fast", "5"}, {"foo", "1"}};
    char err[256];
    assert_int_equal(create_fails("sma_cross", p, 2, err, sizeof err), TB_ECONFIG);
    assert_string_equal(err, "unknown parameter 'foo' (known: fast, slow, quantity, allow_short)");
}

static void test_sma_cross_rejects_common_instance_keys(void **state)
{
    (void)state;
    tb_param p[] = {{"symbol", "BTCUSDT"}};
    char err[256];
    assert_int_equal(create_fails("sma_cross", p, 1, err, sizeof err), TB_ECONFIG);
    assert_non_null(strstr(err, "'symbol'"));
}

static void test_sma_cross_rejects_fast_not_less_than_slow(void **state)
{
    (void)state;
    tb_param eq[] = {{"fast", "30"}};
    tb_param gt[] = {{"fast", "5"}, {"slow", "3"}};
    char err[256];
    assert_int_equal(create_fails("sma_cross", eq, 1, err, sizeof err), TB_ECONFIG);
    assert_string_equal(err, "fast: must be less than slow");
    assert_int_equal(create_fails("sma_cross", gt, 2, err, sizeof err), TB_ECONFIG);
    assert_string_equal(err, "fast: must be less than slow");
}

static void test_sma_cross_rejects_nonpositive_period(void **state)
{
    (void)state;
    tb_param p[] = {{"fast", "0"}};
    char err[256];
    assert_int_equal(create_fails("sma_cross", p, 1, err, sizeof err), TB_ECONFIG);
    assert_true(strncmp(err, "fast: ", 6) == 0);
}

static void test_sma_cross_rejects_nonpositive_quantity(void **state)
{
    (void)state;
    tb_param zero[] = {{"quantity", "0"}};
    tb_param neg[] = {{"quantity", "-1"}};
    char err[256];
    assert_int_equal(create_fails("sma_cross", zero, 1, err, sizeof err), TB_ECONFIG);
    assert_string_equal(err, "quantity: must be greater than 0");
    assert_int_equal(create_fails("sma_cross", neg, 1, err, sizeof err), TB_ECONFIG);
    assert_string_equal(err, "quantity: must be greater than 0");
}

static void test_sma_cross_rejects_bad_allow_short(void **state)
{
    (void)state;
    tb_param p[] = {{"allow_short", "maybe"}};
    char err[256];
    assert_int_equal(create_fails("sma_cross", p, 1, err, sizeof err), TB_ECONFIG);
    assert_true(strncmp(err, "allow_short: expected", 21) == 0);
}

/* Flat at 100, then a jump to 200 on bar `jump`. With slow = 30 the first
 * bar with SMA30 is bar 29, so a jump there has no "before" (HOLD), while a
 * jump on bar 30 is a cross up (BUY). */
static tb_signal_type first_signal_after_jump(int jump)
{
    runner r;
    tb_signal_type first = TB_SIGNAL_HOLD;
    start(&r, "sma_cross", NULL, 0);
    for (int i = 0; i < jump + 5; i++) {
        tb_strategy_decision d = step(&r, UNITS(i < jump ? 100 : 200));
        if (first == TB_SIGNAL_HOLD) first = d.signal;
    }
    stop(&r);
    return first;
}

static void test_sma_cross_default_slow_is_30(void **state)
{
    (void)state;
    assert_int_equal(first_signal_after_jump(29), TB_SIGNAL_HOLD);
    assert_int_equal(first_signal_after_jump(30), TB_SIGNAL_BUY);
}

static void test_sma_cross_default_fast_is_10(void **state)
{
    (void)state;
    tb_param slow10[] = {{"slow", "10"}};
    tb_param slow11[] = {{"slow", "11"}};
    char err[256];
    runner r;
    assert_int_equal(create_fails("sma_cross", slow10, 1, err, sizeof err), TB_ECONFIG);
    assert_string_equal(err, "fast: must be less than slow");
    start(&r, "sma_cross", slow11, 1);
    stop(&r);
}

/* ---- rsi_reversion (period=2) ----
 * closes 10 9 8: changes -1 -1, RSI = 0 on bar 2.
 * then 9: gain 1/2, loss 1/2, RSI 50; then 10: gain 3/4, loss 1/4, RSI 75.
 * then 9: gain 3/8, loss 5/8, RSI 37.5; then 8: gain 3/16, loss 13/16, RSI 18.75. */
static const int rsi_series[] = {10, 9, 8, 9, 10, 9, 8};
static const tb_param rsi2[] = {{"period", "2"}};
static const tb_param rsi2_short[] = {{"period", "2"}, {"allow_short", "yes"}};

static void test_rsi_reversion_buys_when_oversold_while_flat(void **state)
{
    (void)state;
    runner r;
    tb_strategy_decision d[MAX_BARS];
    start(&r, "rsi_reversion", rsi2, 1);
    feed(&r, rsi_series, 3, d);
    assert_holds_except(d, 3, 2, 2);
    assert_decision(d[2], TB_SIGNAL_BUY, UNITS(1));
    stop(&r);
}

static void test_rsi_reversion_sells_long_when_overbought(void **state)
{
    (void)state;
    runner r;
    tb_strategy_decision d[MAX_BARS];
    start(&r, "rsi_reversion", rsi2, 1);
    feed(&r, rsi_series, 7, d);
    /* bar 6 is oversold again (18.75) and flat: buys again */
    assert_decision(d[2], TB_SIGNAL_BUY, UNITS(1));
    assert_decision(d[3], TB_SIGNAL_HOLD, 0);
    assert_decision(d[4], TB_SIGNAL_SELL, UNITS(1));
    assert_decision(d[5], TB_SIGNAL_HOLD, 0);
    assert_decision(d[6], TB_SIGNAL_BUY, UNITS(1));
    stop(&r);
}

static void test_rsi_reversion_long_only_ignores_overbought_while_flat(void **state)
{
    (void)state;
    static const int closes[] = {8, 9, 10, 11};
    runner r;
    tb_strategy_decision d[MAX_BARS];
    start(&r, "rsi_reversion", rsi2, 1);
    feed(&r, closes, 4, d);
    assert_holds_except(d, 4, (size_t)-1, (size_t)-1);
    stop(&r);
}

static void test_rsi_reversion_allow_short_flips_by_the_difference(void **state)
{
    (void)state;
    runner r;
    tb_strategy_decision d[MAX_BARS];
    start(&r, "rsi_reversion", rsi2_short, 2);
    feed(&r, rsi_series, 7, d);
    assert_decision(d[2], TB_SIGNAL_BUY, UNITS(1));
    assert_decision(d[4], TB_SIGNAL_SELL, UNITS(2));
    assert_decision(d[6], TB_SIGNAL_BUY, UNITS(2));
    assert_int_equal(r.position, UNITS(1));
    stop(&r);
}

static void test_rsi_reversion_rejects_oversold_not_below_overbought(void **state)
{
    (void)state;
    tb_param p[] = {{"oversold", "70"}, {"overbought", "60"}};
    char err[256];
    assert_int_equal(create_fails("rsi_reversion", p, 2, err, sizeof err), TB_ECONFIG);
    assert_string_equal(err, "oversold: must be less than overbought");
}

static void test_rsi_reversion_rejects_threshold_outside_0_100(void **state)
{
    (void)state;
    tb_param p[] = {{"overbought", "101"}};
    char err[256];
    assert_int_equal(create_fails("rsi_reversion", p, 1, err, sizeof err), TB_ECONFIG);
    assert_true(strncmp(err, "overbought: expected", 20) == 0);
}

static void test_rsi_reversion_rejects_unknown_param_naming_it(void **state)
{
    (void)state;
    tb_param p[] = {{"fast", "5"}};
    char err[256];
    assert_int_equal(create_fails("rsi_reversion", p, 1, err, sizeof err), TB_ECONFIG);
    assert_string_equal(err, "unknown parameter 'fast' (known: period, oversold, overbought, "
                             "quantity, allow_short)");
}

/* ---- bollinger_breakout (period=3, k=1) ----
 * 10 10 10 13: window {10,10,13}, mean 11, sd sqrt(2) = 1.41, upper 12.41:
 * 13 breaks out. Then 10: window {10,13,10}, middle 11, 10 < middle.
 * 10 10 10 7: window {10,10,7}, mean 9, lower 7.59: 7 breaks down. Then 10:
 * window {10,7,10}, middle 9, 10 > middle. */
static const int bb_up_series[] = {10, 10, 10, 13, 10};
static const int bb_down_series[] = {10, 10, 10, 7, 10};
static const tb_param bb3[] = {{"period", "3"}, {"k", "1"}};
static const tb_param bb3_short[] = {{"period", "3"}, {"k", "1"}, {"allow_short", "on"}};

static void test_bollinger_breakout_buys_above_upper_while_flat(void **state)
{
    (void)state;
    runner r;
    tb_strategy_decision d[MAX_BARS];
    start(&r, "bollinger_breakout", bb3, 2);
    feed(&r, bb_up_series, 4, d);
    assert_holds_except(d, 4, 3, 3);
    assert_decision(d[3], TB_SIGNAL_BUY, UNITS(1));
    stop(&r);
}

static void test_bollinger_breakout_sells_long_below_middle(void **state)
{
    (void)state;
    runner r;
    tb_strategy_decision d[MAX_BARS];
    start(&r, "bollinger_breakout", bb3, 2);
    feed(&r, bb_up_series, 5, d);
    assert_decision(d[4], TB_SIGNAL_SELL, UNITS(1));
    assert_int_equal(r.position, 0);
    stop(&r);
}

static void test_bollinger_breakout_long_only_ignores_lower_break(void **state)
{
    (void)state;
    runner r;
    tb_strategy_decision d[MAX_BARS];
    start(&r, "bollinger_breakout", bb3, 2);
    feed(&r, bb_down_series, 5, d);
    assert_holds_except(d, 5, (size_t)-1, (size_t)-1);
    stop(&r);
}

static void test_bollinger_breakout_allow_short_sells_below_lower_while_flat(void **state)
{
    (void)state;
    runner r;
    tb_strategy_decision d[MAX_BARS];
    start(&r, "bollinger_breakout", bb3_short, 3);
    feed(&r, bb_down_series, 4, d);
    assert_holds_except(d, 4, 3, 3);
    assert_decision(d[3], TB_SIGNAL_SELL, UNITS(1));
    assert_int_equal(r.position, -UNITS(1));
    stop(&r);
}

static void test_bollinger_breakout_allow_short_covers_above_middle(void **state)
{
    (void)state;
    runner r;
    tb_strategy_decision d[MAX_BARS];
    start(&r, "bollinger_breakout", bb3_short, 3);
    feed(&r, bb_down_series, 5, d);
    assert_decision(d[4], TB_SIGNAL_BUY, UNITS(1));
    assert_int_equal(r.position, 0);
    stop(&r);
}

static void test_bollinger_breakout_holds_on_flat_market(void **state)
{
    (void)state;
    static const tb_param p[] = {{"period", "20"}, {"allow_short", "true"}};
    runner r;
    start(&r, "bollinger_breakout", p, 2);
    for (int i = 0; i < 100; i++)
        assert_int_equal(step(&r, 6000000000123).signal, TB_SIGNAL_HOLD);
    stop(&r);
}

static void test_bollinger_breakout_rejects_nonpositive_k(void **state)
{
    (void)state;
    tb_param p[] = {{"k", "0"}};
    char err[256];
    assert_int_equal(create_fails("bollinger_breakout", p, 1, err, sizeof err), TB_ECONFIG);
    assert_string_equal(err, "k: must be greater than 0");
}

static void test_bollinger_breakout_rejects_period_below_2(void **state)
{
    (void)state;
    tb_param p[] = {{"period", "1"}};
    char err[256];
    assert_int_equal(create_fails("bollinger_breakout", p, 1, err, sizeof err), TB_ECONFIG);
    assert_string_equal(err, "period: expected an integer from 2 to 100000, got '1'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_finds_each_strategy_by_name),
        cmocka_unit_test(test_builtin_unknown_name_is_null),
        cmocka_unit_test(test_builtin_at_lists_five_then_null),
        cmocka_unit_test(test_help_lists_params_with_defaults),
        cmocka_unit_test(test_param_int_absent_gives_default),
        cmocka_unit_test(test_param_int_parses_value),
        cmocka_unit_test(test_param_int_rejects_garbage_naming_key),
        cmocka_unit_test(test_param_int_rejects_out_of_range),
        cmocka_unit_test(test_param_duplicate_key_rejected),
        cmocka_unit_test(test_param_double_parses_and_checks_range),
        cmocka_unit_test(test_param_double_rejects_nan_inf_hex_and_spaces),
        cmocka_unit_test(test_param_decimal_parses_exactly),
        cmocka_unit_test(test_param_decimal_rejects_bad_value_naming_key),
        cmocka_unit_test(test_param_bool_accepts_all_spellings),
        cmocka_unit_test(test_param_bool_rejects_other_words),
        cmocka_unit_test(test_param_check_known_names_first_unknown_key),
        cmocka_unit_test(test_param_check_known_truncates_safely),
        cmocka_unit_test(test_sma_cross_buys_on_cross_up_while_flat),
        cmocka_unit_test(test_sma_cross_sells_whole_long_on_cross_down),
        cmocka_unit_test(test_sma_cross_long_only_does_not_sell_while_flat),
        cmocka_unit_test(test_sma_cross_long_only_does_not_add_while_long),
        cmocka_unit_test(test_sma_cross_needs_both_smas_on_previous_bar),
        cmocka_unit_test(test_sma_cross_allow_short_opens_short_from_flat),
        cmocka_unit_test(test_sma_cross_allow_short_flip_volume_is_twice_quantity),
        cmocka_unit_test(test_sma_cross_allow_short_holds_at_target),
        cmocka_unit_test(test_sma_cross_ignores_rounding_noise_when_market_goes_flat),
        cmocka_unit_test(test_sma_cross_rejects_unknown_param_naming_it),
        cmocka_unit_test(test_sma_cross_rejects_common_instance_keys),
        cmocka_unit_test(test_sma_cross_rejects_fast_not_less_than_slow),
        cmocka_unit_test(test_sma_cross_rejects_nonpositive_period),
        cmocka_unit_test(test_sma_cross_rejects_nonpositive_quantity),
        cmocka_unit_test(test_sma_cross_rejects_bad_allow_short),
        cmocka_unit_test(test_sma_cross_default_slow_is_30),
        cmocka_unit_test(test_sma_cross_default_fast_is_10),
        cmocka_unit_test(test_rsi_reversion_buys_when_oversold_while_flat),
        cmocka_unit_test(test_rsi_reversion_sells_long_when_overbought),
        cmocka_unit_test(test_rsi_reversion_long_only_ignores_overbought_while_flat),
        cmocka_unit_test(test_rsi_reversion_allow_short_flips_by_the_difference),
        cmocka_unit_test(test_rsi_reversion_rejects_oversold_not_below_overbought),
        cmocka_unit_test(test_rsi_reversion_rejects_threshold_outside_0_100),
        cmocka_unit_test(test_rsi_reversion_rejects_unknown_param_naming_it),
        cmocka_unit_test(test_bollinger_breakout_buys_above_upper_while_flat),
        cmocka_unit_test(test_bollinger_breakout_sells_long_below_middle),
        cmocka_unit_test(test_bollinger_breakout_long_only_ignores_lower_break),
        cmocka_unit_test(test_bollinger_breakout_allow_short_sells_below_lower_while_flat),
        cmocka_unit_test(test_bollinger_breakout_allow_short_covers_above_middle),
        cmocka_unit_test(test_bollinger_breakout_holds_on_flat_market),
        cmocka_unit_test(test_bollinger_breakout_rejects_nonpositive_k),
        cmocka_unit_test(test_bollinger_breakout_rejects_period_below_2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
