/* Functional equivalence: for every built-in strategy, on datasets made by
 * the committed seeded generator (tools/gendata.c) — strong trend, range,
 * gaps in time, zero-volume bars, 8-decimal prices, thin volume that forces
 * partial fills — with MARKET and LIMIT orders, long-only and short, the
 * pipeline and the legacy monolith produce identical trade logs. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test_support.h"

#include <tradebus/tradebus.h>

static char dir[512];

typedef struct {
    const char *file;
    const char *gendata_args;
    const char *quantity; /* affordable for the dataset's price */
    const char *tick;     /* the data's price precision */
    const char *extra;    /* one more config assignment, or NULL */
} dataset;

static const dataset sets[] = {
    {"TREND-1m.csv", "--regime trend --bars 1500 --seed 11 --price 42000", "0.05", "0.01", NULL},
    {"RANGE-1m.csv", "--regime range --bars 1500 --seed 12 --price 2300", "1", "0.01", NULL},
    {"GAPS-1m.csv", "--bars 1500 --seed 13 --price 42000 --gap-every 37", "0.05", "0.01", NULL},
    {"ZERO-1m.csv", "--bars 1500 --seed 14 --price 2300 --zero-volume-every 9", "1", "0.01", NULL},
    {"TINY-1m.csv", "--bars 1500 --seed 15 --price 0.00012345 --decimals 8", "1000000",
     "0.00000001", NULL},
    {"THIN-1m.csv", "--bars 1500 --seed 16 --price 42000 --notional 400", "0.05", "0.01",
     "exchange.max_volume_participation=0.1"},
};
#define NSETS (sizeof(sets) / sizeof(sets[0]))

static int setup(void **state)
{
    (void)state;
    tbt_temp_dir(dir, sizeof(dir));
    for (size_t i = 0; i < NSETS; i++) {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "%s %s > %s/%s 2>/dev/null", TB_GENDATA, sets[i].gendata_args,
                 dir, sets[i].file);
        if (system(cmd) != 0) return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tbt_remove_dir(dir);
    return 0;
}

typedef struct {
    const char *type;
    const char *params; /* comma-separated assignments for the strategy section */
} strategy_case;

static const strategy_case strategies[] = {
    {"sma_cross", "fast=5,slow=20"},
    {"rsi_reversion", "period=14,oversold=35,overbought=65"},
    {"bollinger_breakout", "period=20,k=1.5"},
    {"legacy:legacy_breakout", "period=15"},
};

typedef struct {
    const char *name;
    const char *sets; /* comma-separated */
} mode_case;

static const mode_case modes[] = {
    {"market long-only", ""},
    {"limit", "strategy.s.order_type=LIMIT,strategy.s.limit_offset_bps=3"},
    {"market with shorts, slippage", "strategy.s.allow_short=true,exchange.slippage_bps=2"},
};

static void set_or_fail(tb_config *cfg, const char *a)
{
    char err[256];
    if (tb_config_set(cfg, a, err, sizeof(err)) != 0) fail_msg("%s", err);
}

static void set_list(tb_config *cfg, const char *prefix, const char *list)
{
    char buf[256], a[300];
    snprintf(buf, sizeof(buf), "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        snprintf(a, sizeof(a), "%s%s", prefix, t);
        set_or_fail(cfg, a);
    }
}

/* Runs one combination through both systems; returns the pipeline's fills. */
static uint64_t check_identical(const dataset *d, const strategy_case *sc, const mode_case *m)
{
    tb_config cfg;
    tb_config_init(&cfg);
    char a[600], err[512];
    snprintf(a, sizeof(a), "SYM:%s/%s", dir, d->file);
    tb_config_add_data(&cfg, a);
    set_or_fail(&cfg, "backtest.initial_cash=100000");
    snprintf(a, sizeof(a), "strategy.s.type=%s", sc->type);
    set_or_fail(&cfg, a);
    set_or_fail(&cfg, "strategy.s.symbol=SYM");
    snprintf(a, sizeof(a), "strategy.s.quantity=%s", d->quantity);
    set_or_fail(&cfg, a);
    snprintf(a, sizeof(a), "symbol.SYM.tick_size=%s", d->tick);
    set_or_fail(&cfg, a);
    set_list(&cfg, "strategy.s.", sc->params);
    /* The legacy example strategy is long-only: it has no allow_short. */
    if (strncmp(sc->type, "legacy:", 7) != 0 || !strstr(m->sets, "allow_short"))
        set_list(&cfg, "", m->sets);
    else
        set_or_fail(&cfg, "exchange.slippage_bps=2");
    if (d->extra) set_or_fail(&cfg, d->extra);
    if (tb_config_build(&cfg, err, sizeof(err)) != 0) fail_msg("%s", err);

    tb_parity *p;
    assert_int_equal(tb_parity_create(NULL, &p), 0);
    if (tb_parity_add_pipeline_run(p, &cfg, NULL, err, sizeof(err)) != 0)
        fail_msg("pipeline: %s", err);
    if (tb_parity_add_legacy_run(p, &cfg, NULL, 0, NULL, err, sizeof(err)) != 0)
        fail_msg("legacy: %s", err);
    assert_true(tb_parity_compare(p, INT64_MAX) >= 0);
    tb_parity_summary s = tb_parity_get_summary(p);
    if (s.divergences) {
        tb_parity_write_report(p, stderr);
        fail_msg("%s, %s, %s: %llu divergences", d->file, sc->type, m->name,
                 (unsigned long long)s.divergences);
    }
    uint64_t fills = s.records[TB_SIDE_PIPELINE][TB_REC_FILL];
    assert_int_equal(s.records[TB_SIDE_PIPELINE][TB_REC_FINAL], 1);
    tb_parity_destroy(p);
    tb_config_free(&cfg);
    return fills;
}

/* Every strategy and mode on one dataset; the dataset must make them trade,
 * or agreement would prove nothing. */
static void check_dataset(size_t i)
{
    uint64_t total = 0;
    for (size_t s = 0; s < sizeof(strategies) / sizeof(strategies[0]); s++) {
        uint64_t per_strategy = 0;
        for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++)
            per_strategy += check_identical(&sets[i], &strategies[s], &modes[m]);
        if (per_strategy == 0) fail_msg("%s never traded on %s", strategies[s].type, sets[i].file);
        total += per_strategy;
    }
    assert_true(total >= 20);
}

static void test_parity_identical_on_strong_trend(void **state)
{
    (void)state;
    check_dataset(0);
}

static void test_parity_identical_on_range(void **state)
{
    (void)state;
    check_dataset(1);
}

static void test_parity_identical_across_time_gaps(void **state)
{
    (void)state;
    check_dataset(2);
}

static void test_parity_identical_with_zero_volume_bars(void **state)
{
    (void)state;
    check_dataset(3);
}

static void test_parity_identical_with_8_decimal_prices(void **state)
{
    (void)state;
    check_dataset(4);
}

static void test_parity_identical_when_volume_limits_force_partial_fills(void **state)
{
    (void)state;
    check_dataset(5);
    /* And partial fills did happen: more fills than orders. */
    tb_config cfg;
    tb_config_init(&cfg);
    char a[600], err[512];
    snprintf(a, sizeof(a), "SYM:%s/%s", dir, sets[5].file);
    tb_config_add_data(&cfg, a);
    set_or_fail(&cfg, "strategy.s.type=sma_cross");
    set_or_fail(&cfg, "strategy.s.symbol=SYM");
    set_or_fail(&cfg, "strategy.s.quantity=0.05");
    set_or_fail(&cfg, "exchange.max_volume_participation=0.1");
    assert_int_equal(tb_config_build(&cfg, err, sizeof(err)), 0);
    tb_backtest_result r;
    assert_int_equal(tb_backtest_run(&cfg, NULL, &r, err, sizeof(err)), 0);
    assert_true(r.fills > r.orders);
    tb_backtest_result_free(&r);
    tb_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parity_identical_on_strong_trend),
        cmocka_unit_test(test_parity_identical_on_range),
        cmocka_unit_test(test_parity_identical_across_time_gaps),
        cmocka_unit_test(test_parity_identical_with_zero_volume_bars),
        cmocka_unit_test(test_parity_identical_with_8_decimal_prices),
        cmocka_unit_test(test_parity_identical_when_volume_limits_force_partial_fills),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
