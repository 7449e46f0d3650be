/* Integration through the bus: the whole embedded pipeline (tb_pipeline) on
 * in-memory bars and on the bundled data, checked against independent
 * bookkeeping (the exchange's cash against the positions' PnL). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <tradebus/tradebus.h>

static void config_from(tb_config *cfg, const char *const *sets, size_t n)
{
    char err[256];
    tb_config_init(cfg);
    for (size_t i = 0; i < n; i++)
        if (tb_config_set(cfg, sets[i], err, sizeof(err)) != 0) fail_msg("%s", err);
    tb_config_add_data(cfg, "unused.csv");
    if (tb_config_build(cfg, err, sizeof(err)) != 0) fail_msg("%s", err);
}

static tb_decimal dec(const char *s)
{
    tb_decimal d;
    assert_int_equal(tb_dec_parse(s, (size_t)-1, &d), 0);
    return d;
}

static tb_market_data mkbar(int i, const char *o, const char *h, const char *l, const char *c,
                            const char *v)
{
    tb_market_data b;
    memset(&b, 0, sizeof(b));
    strcpy(b.symbol, "BTCUSDT");
    b.open = dec(o);
    b.high = dec(h);
    b.low = dec(l);
    b.close = dec(c);
    b.volume = dec(v);
    b.open_time = 1704067200000000000LL + (int64_t)i * 60000000000LL;
    b.close_time = b.open_time + 59999000000LL;
    return b;
}

typedef struct {
    int n[TB_EV_COUNT];
    tb_event last[TB_EV_COUNT];
    char rules[8][TB_RULE_LEN];
    int nrules;
} counter;

static int count_all(const tb_event *ev, void *ctx)
{
    counter *c = ctx;
    c->n[ev->type]++;
    c->last[ev->type] = *ev;
    if (ev->type == TB_EV_RISK_ALERT && c->nrules < 8)
        memcpy(c->rules[c->nrules++], ev->u.risk_alert.rule, TB_RULE_LEN);
    return 0;
}

/* A staircase up then down: sma_cross(2,3) buys on bar 4 and sells on bar 8. */
static const char *const closes[] = {"10", "10", "10", "10", "12", "14",
                                     "16", "14", "10", "8",  "8"};

static void push_all(tb_pipeline *p, const char *vol)
{
    for (int i = 0; i < 11; i++) {
        const char *prev = i ? closes[i - 1] : closes[0];
        tb_decimal a = dec(prev), b = dec(closes[i]);
        const char *hi = a > b ? prev : closes[i], *lo = a > b ? closes[i] : prev;
        tb_market_data bar = mkbar(i, prev, hi, lo, closes[i], vol);
        assert_int_equal(tb_pipeline_push_bar(p, &bar), 0);
    }
}

static void test_pipeline_partial_fills_keep_position_exact(void **state)
{
    (void)state;
    /* Each bar trades 5 units; 20% participation lets an order of 2 fill
     * 1 per bar: two partial fills per order. */
    const char *sets[] = {"strategy.s.type=sma_cross", "strategy.s.symbol=BTCUSDT",
                          "strategy.s.fast=2",         "strategy.s.slow=3",
                          "strategy.s.quantity=2",     "exchange.max_volume_participation=0.2"};
    tb_config cfg;
    config_from(&cfg, sets, 6);
    tb_pipeline *p;
    char err[256];
    assert_int_equal(tb_pipeline_create(&cfg, NULL, &p, err, sizeof(err)), 0);
    counter c = {0};
    tb_bus_subscribe(tb_pipeline_bus(p), TB_BUS_ALL, count_all, &c);
    push_all(p, "5");
    tb_backtest_result r;
    assert_int_equal(tb_pipeline_result(p, &r), 0);
    assert_int_equal(r.orders, 2);
    assert_int_equal(r.fills, 4);
    assert_int_equal(c.n[TB_EV_POSITION_UPDATE], 4);
    /* Each bar opens at the previous close. BUY 2: 1 @ bar 5's open 12 and
     * 1 @ bar 6's open 14 → entry 13. SELL 2 on bars 9 and 10 at 10 and 8:
     * realized (10 − 13) + (8 − 13) = −8. */
    assert_int_equal(r.realized_pnl, dec("-8"));
    assert_int_equal(r.npositions, 1);
    assert_int_equal(r.positions[0].current_quantity, 0);
    assert_int_equal(r.positions[0].status, TB_POSITION_CLOSED);
    /* The last fill carries cumulative 2 and the order's average price 9. */
    assert_int_equal(c.last[TB_EV_ORDER_FILLED].u.order_filled.cumulative_quantity, dec("2"));
    assert_int_equal(c.last[TB_EV_ORDER_FILLED].u.order_filled.average_price, dec("9"));
    assert_int_equal(c.last[TB_EV_ORDER_FILLED].u.order_filled.status, TB_ORDER_FILLED);
    tb_backtest_result_free(&r);
    tb_pipeline_destroy(p);
    tb_config_free(&cfg);
}

static void test_pipeline_risk_rejection_reverts_strategy_target(void **state)
{
    (void)state;
    /* max_order_notional 10 refuses the BUY of 1 at ~12; the strategy must
     * then still see itself flat, so its cross-down SELL never happens. */
    const char *sets[] = {"strategy.s.type=sma_cross", "strategy.s.symbol=BTCUSDT",
                          "strategy.s.fast=2",         "strategy.s.slow=3",
                          "strategy.s.quantity=1",     "risk.max_order_notional=10"};
    tb_config cfg;
    config_from(&cfg, sets, 6);
    tb_pipeline *p;
    char err[256];
    assert_int_equal(tb_pipeline_create(&cfg, NULL, &p, err, sizeof(err)), 0);
    counter c = {0};
    tb_bus_subscribe(tb_pipeline_bus(p), TB_BUS_ALL, count_all, &c);
    push_all(p, "5");
    assert_int_equal(c.n[TB_EV_SIGNAL_GENERATED], 1);
    assert_int_equal(c.n[TB_EV_ORDER_REJECTED], 1);
    assert_int_equal(c.last[TB_EV_ORDER_REJECTED].u.order_rejected.reason, TB_REJECT_RISK);
    assert_int_equal(c.n[TB_EV_RISK_ALERT], 1);
    assert_string_equal(c.rules[0], "max_order_notional");
    assert_int_equal(c.n[TB_EV_ORDER_FILLED], 0);
    tb_pipeline_destroy(p);
    tb_config_free(&cfg);
}

static void test_pipeline_drawdown_halts_new_risk_but_lets_position_close(void **state)
{
    (void)state;
    /* 100 units bought at 12: the fall to 10 costs 200+ of 10000 equity
     * (> 1%), so trading halts; the closing SELL still passes. */
    const char *sets[] = {"strategy.s.type=sma_cross", "strategy.s.symbol=BTCUSDT",
                          "strategy.s.fast=2",         "strategy.s.slow=3",
                          "strategy.s.quantity=100",   "risk.max_drawdown_pct=1"};
    tb_config cfg;
    config_from(&cfg, sets, 6);
    tb_pipeline *p;
    char err[256];
    assert_int_equal(tb_pipeline_create(&cfg, NULL, &p, err, sizeof(err)), 0);
    counter c = {0};
    tb_bus_subscribe(tb_pipeline_bus(p), TB_BUS_ALL, count_all, &c);
    push_all(p, "1000");
    assert_true(c.n[TB_EV_RISK_ALERT] >= 1);
    assert_string_equal(c.rules[0], "max_drawdown_pct");
    assert_int_equal(c.last[TB_EV_RISK_ALERT].u.risk_alert.trading_state, TB_TRADING_HALTED);
    assert_int_equal(c.n[TB_EV_ORDER_FILLED], 2); /* the reducing SELL was allowed */
    tb_backtest_result r;
    tb_pipeline_result(p, &r);
    assert_int_equal(r.positions[0].current_quantity, 0);
    tb_backtest_result_free(&r);
    tb_pipeline_destroy(p);
    tb_config_free(&cfg);
}

/* Two independent books must agree: the exchange's cash plus the marked
 * positions, and the position manager's initial + realized + unrealized −
 * fees. Each fill's notional is rounded to 8 decimals on the cash side, so
 * they may differ by at most one unit (1e-8) per fill. */
static void test_pipeline_exchange_cash_agrees_with_position_pnl(void **state)
{
    (void)state;
    char err[512];
    tb_config cfg;
    tb_config_init(&cfg);
    char path[512];
    snprintf(path, sizeof(path), "%s/examples/multi.ini", TB_SOURCE_DIR);
    assert_int_equal(tb_config_load(&cfg, path, err, sizeof(err)), 0);
    const char *files[] = {"BTCUSDT-1m-2024-01.csv", "ETHUSDT-1m-2024-01.csv"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/data/%s", TB_SOURCE_DIR, files[i]);
        tb_config_add_data(&cfg, path);
    }
    if (tb_config_build(&cfg, err, sizeof(err)) != 0) fail_msg("%s", err);
    tb_backtest_result r;
    tb_backtest_options opt;
    memset(&opt, 0, sizeof(opt));
    if (tb_backtest_run(&cfg, &opt, &r, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_true(r.fills > r.orders / 2);
    assert_true(r.fills > 10);

    /* Mark each symbol at its last close, read from the same data. */
    tb_decimal marked = r.cash;
    for (size_t i = 0; i < r.npositions; i++) {
        const tb_position_update *pos = &r.positions[i];
        tb_decimal v;
        assert_int_equal(tb_dec_mul(pos->current_quantity, pos->mark_price, TB_ROUND_HALF_UP, &v),
                         0);
        marked += v;
    }
    /* Per-strategy totals add up to the run's realized PnL. */
    tb_decimal sum = 0;
    for (size_t i = 0; i < r.npositions; i++)
        sum += r.total_realized[i];
    assert_int_equal(sum, r.realized_pnl);
    assert_true(r.npositions == 3);

    tb_decimal diff = marked - r.final_equity;
    if (diff < 0) diff = -diff;
    if (diff > (tb_decimal)r.fills + (tb_decimal)r.npositions)
        fail_msg("exchange equity %lld vs pipeline equity %lld", (long long)marked,
                 (long long)r.final_equity);
    tb_backtest_result_free(&r);
    tb_config_free(&cfg);
}

/* The components' table (event.h) gives exactly the identities that were
 * spelled out by hand before it: event ids and a distributed run's order
 * depend on them. */
static void test_pipeline_component_identities_are_the_tables(void **state)
{
    (void)state;
    static const char *const pubs[] = {"risk",    "orders",  "positions", "signal",
                                       "summary", "monitor", NULL};
    const char *const *got = tb_pipeline_publishers();
    for (size_t i = 0; pubs[i]; i++)
        assert_string_equal(got[i], pubs[i]);
    assert_null(got[6]);
    static const char *const roles[] = {"signal",  "orders", "positions", "risk",
                                        "monitor", "feed",   NULL};
    const char *const *r = tb_node_roles();
    for (size_t i = 0; roles[i]; i++)
        assert_string_equal(r[i], roles[i]);
    assert_null(r[6]);
    assert_int_equal(TB_ROLE_SIGNAL, 1);
    assert_int_equal(TB_ROLE_ORDERS, 2);
    assert_int_equal(TB_ROLE_POSITIONS, 4);
    assert_int_equal(TB_ROLE_RISK, 8);
    assert_int_equal(TB_ROLE_MONITOR, 16);
    assert_int_equal(TB_ROLE_ALL, 31);
    assert_int_equal(TB_SRC_COUNT, 9);
    assert_string_equal(tb_source_name(TB_SRC_MARKET_DATA), "market_data");
    assert_string_equal(tb_source_name(TB_SRC_POSITIONS), "positions");
    assert_string_equal(tb_source_name(TB_SRC_EXCHANGE), "exchange");
    assert_string_equal(tb_source_name(TB_SRC_EXTERNAL), "external");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_partial_fills_keep_position_exact),
        cmocka_unit_test(test_pipeline_risk_rejection_reverts_strategy_target),
        cmocka_unit_test(test_pipeline_drawdown_halts_new_risk_but_lets_position_close),
        cmocka_unit_test(test_pipeline_exchange_cash_agrees_with_position_pnl),
        cmocka_unit_test(test_pipeline_component_identities_are_the_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
