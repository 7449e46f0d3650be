/* The legacy monolith, its strategies and the adapter.
 *
 * Crafted-bar tests check the monolith's records against hand-computed
 * figures (every number is worked out in the comments). The parity tests
 * then run the monolith and the real pipeline on the bundled data with the
 * same config and require the same signals, orders and fills, field by
 * field, and the same final PnL: the monolith's code is its own, so that
 * agreement is the evidence that both follow the documented semantics.
 *
 * Strategy types that are not pipeline built-ins (the test's "scripted"
 * strategy, "legacy_breakout") cannot be written in a config yet:
 * tb_config_build() only accepts built-in types. The tests build a config
 * with a built-in type and then set the type and params of the built
 * strategy entry (see use_type). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test_support.h"

#include "tradebus/backtest.h"
#include "tradebus/config.h"
#include "tradebus/legacy.h"
#include "../src/migration/legacy_int.h" /* the monolith's runner */
#include "tradebus/marketdata.h"
#include "tradebus/tradelog.h"

#define BTC_DATA TB_SOURCE_DIR "/data/BTCUSDT-1m-2024-01.csv"
#define ETH_DATA TB_SOURCE_DIR "/data/ETHUSDT-1m-2024-01.csv"

/* ---- record collection ---------------------------------------------------- */

typedef struct {
    tb_trade_record *v;
    size_t n, cap;
} rec_list;

static void rec_push(rec_list *l, const tb_trade_record *r)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        assert_non_null(l->v);
    }
    l->v[l->n++] = *r;
}

static int collect(const tb_trade_record *rec, void *ctx)
{
    rec_push(ctx, rec);
    return 0;
}

static size_t count_kind(const rec_list *l, tb_record_kind k)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += l->v[i].kind == k;
    return n;
}

/* ---- a scripted legacy strategy ---------------------------------------------
 *
 * params: script = comma-separated tokens, one per bar of its symbol:
 * a signed decimal is that trade ("1", "-0.5", "0"), "fQ" trades Q only if
 * the host says the strategy is flat. Past the end it trades nothing. */

typedef struct {
    tb_legacy_view view;
    char script[256];
    size_t at;
} scripted_state;

static int scripted_init(void *state, const tb_param *p, size_t n, char *err, size_t errlen)
{
    scripted_state *s = state;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(p[i].key, "script") != 0) {
            snprintf(err, errlen, "unknown parameter '%s' (known: script)", p[i].key);
            return TB_ECONFIG;
        }
        snprintf(s->script, sizeof(s->script), "%s", p[i].value);
    }
    return 0;
}

static int scripted_on_bar(void *state, const tb_market_data *bar, tb_decimal *trade)
{
    (void)bar;
    scripted_state *s = state;
    *trade = 0;
    const char *tok = s->script + s->at;
    if (!*tok) return 0;
    size_t len = strcspn(tok, ",");
    s->at += len + (tok[len] == ',');
    int only_flat = tok[0] == 'f';
    if (only_flat) {
        tok++;
        len--;
    }
    tb_decimal q;
    int rc = tb_dec_parse(tok, len, &q);
    if (rc) return rc;
    if (!only_flat || s->view.position == 0) *trade = q;
    return 0;
}

static const tb_legacy_strategy scripted = {
    "scripted",
    "scripted: script=T1,T2,...",
    sizeof(scripted_state),
    scripted_init,
    scripted_on_bar,
    NULL,
};

/* ---- configs ---------------------------------------------------------------- */

/* Builds cfg from "SECTION.KEY=VALUE" lines (NULL-terminated). Without a
 * data spec among them the data is a placeholder: bars are then fed by hand. */
static void build_config(tb_config *cfg, const char *const *sets)
{
    char err[512] = "";
    int has_data = 0;
    tb_config_init(cfg);
    for (size_t i = 0; sets[i]; i++) {
        if (strncmp(sets[i], "backtest.data=", 14) == 0) {
            assert_int_equal(tb_config_add_data(cfg, sets[i] + 14), 0);
            has_data = 1;
            continue;
        }
        int rc = tb_config_set(cfg, sets[i], err, sizeof(err));
        if (rc) fail_msg("%s: %s", sets[i], err);
    }
    if (!has_data) assert_int_equal(tb_config_add_data(cfg, "BTCUSDT:/nonexistent.csv"), 0);
    int rc = tb_config_build(cfg, err, sizeof(err));
    if (rc) fail_msg("config: %s", err);
}

/* Gives the built strategy entry i another type and params (static strings). */
static void use_type(tb_config *cfg, size_t i, const char *type, const tb_param *params, size_t n)
{
    tb_strategy_config *st = &cfg->strategies[i];
    snprintf(st->type, sizeof(st->type), "%s", type);
    free(st->params);
    st->params = NULL;
    st->nparams = n;
    if (n) {
        st->params = malloc(n * sizeof(*params));
        assert_non_null(st->params);
        memcpy(st->params, params, n * sizeof(*params));
    }
}

/* A config whose strategy entry 0 ("s1" on BTCUSDT) runs a script. */
static void scripted_config(tb_config *cfg, const char *const *sets, const char *script)
{
    const char *base[32];
    size_t n = 0;
    base[n++] = "strategy.s1.type=sma_cross";
    base[n++] = "strategy.s1.symbol=BTCUSDT";
    for (size_t i = 0; sets && sets[i]; i++)
        base[n++] = sets[i];
    base[n] = NULL;
    build_config(cfg, base);
    tb_param p = {"script", script};
    use_type(cfg, 0, "scripted", &p, 1);
}

static const tb_legacy_strategy *const extras[] = {&scripted};

/* Feeds bars through a runner; records into out, result into res. */
static void run_bars(const tb_config *cfg, const tb_market_data *bars, size_t n, rec_list *out,
                     tb__legacy_result *res)
{
    tb__legacy_runner *r = NULL;
    char err[512] = "";
    int rc = tb__legacy_runner_create(cfg, extras, 1, collect, out, &r, err, sizeof(err));
    if (rc) fail_msg("runner: %s", err);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(tb__legacy_runner_on_bar(r, &bars[i]), 0);
    assert_int_equal(tb__legacy_runner_finish(r, res), 0);
    tb__legacy_runner_destroy(r);
}

/* ---- expected records --------------------------------------------------------- */

static void expect_head(const tb_trade_record *r, tb_record_kind kind, int64_t time,
                        const char *sid)
{
    assert_int_equal(r->kind, kind);
    assert_int_equal(r->time, time);
    assert_string_equal(r->strategy_id, sid);
    assert_string_equal(r->symbol, "BTCUSDT");
}

static void expect_signal(const tb_trade_record *r, int64_t t, tb_side side, const char *qty,
                          const char *price)
{
    expect_head(r, TB_REC_SIGNAL, t, "s1");
    assert_int_equal(r->side, side);
    assert_dec_equal(r->quantity, qty);
    assert_dec_equal(r->price, price);
}

static void expect_order(const tb_trade_record *r, int64_t t, tb_side side, tb_order_type type,
                         const char *qty, const char *price)
{
    expect_head(r, TB_REC_ORDER, t, "s1");
    assert_int_equal(r->side, side);
    assert_int_equal(r->order_type, type);
    assert_dec_equal(r->quantity, qty);
    assert_dec_equal(r->price, price);
}

static void expect_fill_of(const tb_trade_record *r, const char *sid, int64_t t, tb_side side,
                           const char *qty, const char *price, const char *commission)
{
    expect_head(r, TB_REC_FILL, t, sid);
    assert_int_equal(r->side, side);
    assert_dec_equal(r->quantity, qty);
    assert_dec_equal(r->price, price);
    assert_dec_equal(r->commission, commission);
}

static void expect_fill(const tb_trade_record *r, int64_t t, tb_side side, const char *qty,
                        const char *price, const char *commission)
{
    expect_fill_of(r, "s1", t, side, qty, price, commission);
}

static void expect_position_of(const tb_trade_record *r, const char *sid, int64_t t,
                               const char *qty, const char *entry, const char *realized)
{
    expect_head(r, TB_REC_POSITION, t, sid);
    assert_dec_equal(r->quantity, qty);
    assert_dec_equal(r->entry_price, entry);
    assert_dec_equal(r->realized_pnl, realized);
}

static void expect_position(const tb_trade_record *r, int64_t t, const char *qty, const char *entry,
                            const char *realized)
{
    expect_position_of(r, "s1", t, qty, entry, realized);
}

static void expect_final(const tb_trade_record *r, const char *realized, const char *unrealized,
                         const char *fees)
{
    assert_int_equal(r->kind, TB_REC_FINAL);
    assert_int_equal(r->time, 0);
    assert_dec_equal(r->realized_pnl, realized);
    assert_dec_equal(r->unrealized_pnl, unrealized);
    assert_dec_equal(r->fees, fees);
}

static int64_t opens(int minute)
{
    return minute * TBT_MINUTE;
}

static int64_t closes(int minute)
{
    return (minute + 1) * TBT_MINUTE - 1;
}

/* A bar at `minute` that opens at `open` and trades in [low, high]. */
static tb_market_data bar(int minute, const char *open, const char *high, const char *low,
                          const char *close, const char *volume)
{
    return tbt_bar("BTCUSDT", minute, open, high, low, close, volume);
}

/* ---- the monolith on crafted bars ------------------------------------------------ */

/* The 11 bars of tests/test_e2e_backtest.c. Closes 10,10,10,10,12,14,16,14,
 * 10,8,8 with fast=2, slow=3:
 *  bar 4: fast 11 > slow 10.67, bar 3 had 10 <= 10     → cross up   → BUY 1
 *  bar 8: fast 12 < slow 13.33, bar 7 had 15 >= 14.67  → cross down → SELL 1
 * Fills at the next bar's open: 12.5 (bar 5) and 9.5 (bar 9). Commission
 * 10 bps: 0.0125 and 0.0095, fees 0.022. Realized (9.5 − 12.5) × 1 = −3. */
static void test_legacy_sma_cross_hand_computed_records(void **state)
{
    (void)state;
    const tb_market_data bars[] = {
        bar(0, "10", "10", "10", "10", "5"), bar(1, "10", "10", "10", "10", "5"),
        bar(2, "10", "10", "10", "10", "5"), bar(3, "10", "10", "10", "10", "5"),
        bar(4, "10", "12", "10", "12", "5"), bar(5, "12.5", "14", "12", "14", "5"),
        bar(6, "14", "16", "14", "16", "5"), bar(7, "16", "16", "14", "14", "5"),
        bar(8, "14", "14", "10", "10", "5"), bar(9, "9.5", "10", "8", "8", "5"),
        bar(10, "8", "8", "8", "8", "5"),
    };
    tb_config cfg;
    build_config(&cfg, (const char *const[]){"exchange.fee_bps=10", "strategy.s1.type=sma_cross",
                                             "strategy.s1.symbol=BTCUSDT", "strategy.s1.fast=2",
                                             "strategy.s1.slow=3", "strategy.s1.quantity=1", NULL});
    rec_list l = {0};
    tb__legacy_result res;
    run_bars(&cfg, bars, 11, &l, &res);

    assert_int_equal(l.n, 9);
    expect_signal(&l.v[0], closes(4), TB_SIDE_BUY, "1", "12");
    expect_order(&l.v[1], closes(4), TB_SIDE_BUY, TB_ORDER_MARKET, "1", "0");
    expect_fill(&l.v[2], opens(5), TB_SIDE_BUY, "1", "12.5", "0.0125");
    expect_position(&l.v[3], opens(5), "1", "12.5", "0");
    expect_signal(&l.v[4], closes(8), TB_SIDE_SELL, "1", "10");
    expect_order(&l.v[5], closes(8), TB_SIDE_SELL, TB_ORDER_MARKET, "1", "0");
    expect_fill(&l.v[6], opens(9), TB_SIDE_SELL, "1", "9.5", "0.0095");
    expect_position(&l.v[7], opens(9), "0", "0", "-3");
    expect_final(&l.v[8], "-3", "0", "0.022");

    assert_int_equal(res.bars, 11);
    assert_int_equal(res.signals, 2);
    assert_int_equal(res.orders, 2);
    assert_int_equal(res.fills, 2);
    assert_int_equal(res.rejected, 0);
    assert_dec_equal(res.realized_pnl, "-3");
    assert_dec_equal(res.fees, "0.022");
    /* 10000 − 12.5 − 0.0125 + 9.5 − 0.0095 */
    assert_dec_equal(res.cash, "9996.978");
    assert_dec_equal(res.final_equity, "9996.978");
    free(l.v);
    tb_config_free(&cfg);
}

/* Participation 0.1 of volume 4 is 0.4 per bar: a buy of 1 fills 0.4 at 10,
 * nothing on a zero-volume bar, 0.4 at 11, then the last 0.2 at 12.
 * Entry: (0.4·10 + 0.4·11) / 0.8 = 10.5, then (0.8·10.5 + 0.2·12) / 1 = 10.8.
 * Commission 10 bps: 0.004, 0.0044, 0.0024. Unrealized at the last close 13:
 * (13 − 10.8) × 1 = 2.2. */
static void test_legacy_partial_fills_over_bars_with_participation(void **state)
{
    (void)state;
    const tb_market_data bars[] = {
        bar(0, "10", "10", "10", "10", "4"), bar(1, "10", "10", "10", "10", "4"),
        bar(2, "10", "10", "10", "10", "0"), bar(3, "11", "11", "11", "11", "4"),
        bar(4, "12", "13", "12", "13", "4"), bar(5, "13", "13", "13", "13", "4"),
    };
    tb_config cfg;
    scripted_config(&cfg, (const char *const[]){"exchange.max_volume_participation=0.1", NULL},
                    "1");
    rec_list l = {0};
    tb__legacy_result res;
    run_bars(&cfg, bars, 6, &l, &res);

    assert_int_equal(l.n, 9);
    expect_signal(&l.v[0], closes(0), TB_SIDE_BUY, "1", "10");
    expect_fill(&l.v[2], opens(1), TB_SIDE_BUY, "0.4", "10", "0.004");
    expect_position(&l.v[3], opens(1), "0.4", "10", "0");
    expect_fill(&l.v[4], opens(3), TB_SIDE_BUY, "0.4", "11", "0.0044");
    expect_position(&l.v[5], opens(3), "0.8", "10.5", "0");
    expect_fill(&l.v[6], opens(4), TB_SIDE_BUY, "0.2", "12", "0.0024");
    expect_position(&l.v[7], opens(4), "1", "10.8", "0");
    expect_final(&l.v[8], "0", "2.2", "0.0108");
    assert_int_equal(res.fills, 3);
    free(l.v);
    tb_config_free(&cfg);
}

/* Two strategies buy on the same bar: the bar's capacity (volume 5 × 0.1 =
 * 0.5, rounded down to the step 0.2 → 0.4) goes to the older order first. */
static void test_legacy_participation_capacity_is_shared_oldest_first(void **state)
{
    (void)state;
    const tb_market_data bars[] = {
        bar(0, "10", "10", "10", "10", "5"),
        bar(1, "10", "10", "10", "10", "5"),
        bar(2, "10", "10", "10", "10", "5"),
    };
    tb_config cfg;
    build_config(&cfg, (const char *const[]){
                           "exchange.max_volume_participation=0.1", "symbol.BTCUSDT.step_size=0.2",
                           "strategy.s1.type=sma_cross", "strategy.s1.symbol=BTCUSDT",
                           "strategy.s2.type=sma_cross", "strategy.s2.symbol=BTCUSDT", NULL});
    tb_param p1 = {"script", "0.6"}, p2 = {"script", "0.4"};
    use_type(&cfg, 0, "scripted", &p1, 1);
    use_type(&cfg, 1, "scripted", &p2, 1);
    rec_list l = {0};
    tb__legacy_result res;
    run_bars(&cfg, bars, 3, &l, &res);

    /* 4 signal/order records, then bar 1: s1 0.4; bar 2: s1 0.2, s2 0.2. */
    assert_int_equal(l.n, 4 + 6 + 1);
    expect_fill_of(&l.v[4], "s1", opens(1), TB_SIDE_BUY, "0.4", "10", "0.004");
    expect_position_of(&l.v[5], "s1", opens(1), "0.4", "10", "0");
    expect_fill_of(&l.v[6], "s1", opens(2), TB_SIDE_BUY, "0.2", "10", "0.002");
    expect_fill_of(&l.v[8], "s2", opens(2), TB_SIDE_BUY, "0.2", "10", "0.002");
    expect_position_of(&l.v[9], "s2", opens(2), "0.2", "10", "0");
    free(l.v);
    tb_config_free(&cfg);
}

/* LIMIT with a 1% offset and tick 0.01. Buy on close 10.555: 10.555 × 0.99 =
 * 10.44945, down to the tick → 10.44. Bar 1 only touches 10.44 (no fill);
 * bar 2 trades through it (low 10.3) → fills at the limit 10.44. Sell on
 * bar 2's close 10.555: × 1.01 = 10.66055, up to the tick → 10.67; bar 3
 * opens at 10.8, above the limit → fills at the open. Realized 0.36. */
static void test_legacy_limit_order_price_and_through_fill(void **state)
{
    (void)state;
    const tb_market_data bars[] = {
        bar(0, "10.5", "10.6", "10.5", "10.555", "5"),
        bar(1, "10.5", "10.6", "10.44", "10.5", "5"),
        bar(2, "10.5", "10.6", "10.3", "10.555", "5"),
        bar(3, "10.8", "10.9", "10.8", "10.9", "5"),
    };
    tb_config cfg;
    scripted_config(&cfg,
                    (const char *const[]){"exchange.fee_bps=0", "symbol.BTCUSDT.tick_size=0.01",
                                          "strategy.s1.order_type=LIMIT",
                                          "strategy.s1.limit_offset_bps=100", NULL},
                    "1,0,-1");
    rec_list l = {0};
    tb__legacy_result res;
    run_bars(&cfg, bars, 4, &l, &res);

    assert_int_equal(l.n, 9);
    expect_signal(&l.v[0], closes(0), TB_SIDE_BUY, "1", "10.555");
    expect_order(&l.v[1], closes(0), TB_SIDE_BUY, TB_ORDER_LIMIT, "1", "10.44");
    expect_fill(&l.v[2], opens(2), TB_SIDE_BUY, "1", "10.44", "0");
    expect_position(&l.v[3], opens(2), "1", "10.44", "0");
    expect_order(&l.v[5], closes(2), TB_SIDE_SELL, TB_ORDER_LIMIT, "1", "10.67");
    expect_fill(&l.v[6], opens(3), TB_SIDE_SELL, "1", "10.8", "0");
    expect_position(&l.v[7], opens(3), "0", "0", "0.36");
    expect_final(&l.v[8], "0.36", "0", "0");
    free(l.v);
    tb_config_free(&cfg);
}

/* Slippage 5 bps, tick 0.01, rounded half-up to the tick in one step:
 * buy at 10.01 × 1.0005 = 10.015005 → 10.02; sell at 10.03 × 0.9995 =
 * 10.024985 → 10.02. Commission 10 bps of 10.02 = 0.01002 each. */
static void test_legacy_market_slippage_rounds_to_tick(void **state)
{
    (void)state;
    const tb_market_data bars[] = {
        bar(0, "10", "10", "10", "10", "5"),
        bar(1, "10.01", "10.05", "10", "10.03", "5"),
        bar(2, "10.03", "10.05", "10", "10.03", "5"),
    };
    tb_config cfg;
    scripted_config(
        &cfg,
        (const char *const[]){"exchange.slippage_bps=5", "symbol.BTCUSDT.tick_size=0.01", NULL},
        "1,-1");
    rec_list l = {0};
    tb__legacy_result res;
    run_bars(&cfg, bars, 3, &l, &res);

    assert_int_equal(l.n, 9);
    expect_fill(&l.v[2], opens(1), TB_SIDE_BUY, "1", "10.02", "0.01002");
    expect_fill(&l.v[6], opens(2), TB_SIDE_SELL, "1", "10.02", "0.01002");
    expect_final(&l.v[8], "0", "0", "0.02004");
    free(l.v);
    tb_config_free(&cfg);
}

/* Cash 100; buying 10 at a close of 12 needs 12 × 1.001 × 10 = 120.12: the
 * order is rejected (a signal and an order record, nothing more). The
 * strategy's view is put back to flat, so its "buy if flat" fires again on
 * the next bar, and is rejected again. */
static void test_legacy_rejects_order_without_cash_and_reverts_target(void **state)
{
    (void)state;
    const tb_market_data bars[] = {
        bar(0, "12", "12", "12", "12", "5"),
        bar(1, "12", "12", "12", "12", "5"),
        bar(2, "12", "12", "12", "12", "5"),
    };
    tb_config cfg;
    scripted_config(&cfg, (const char *const[]){"backtest.initial_cash=100", NULL}, "f10,f10");
    rec_list l = {0};
    tb__legacy_result res;
    run_bars(&cfg, bars, 3, &l, &res);

    assert_int_equal(l.n, 5);
    expect_signal(&l.v[0], closes(0), TB_SIDE_BUY, "10", "12");
    expect_order(&l.v[1], closes(0), TB_SIDE_BUY, TB_ORDER_MARKET, "10", "0");
    expect_signal(&l.v[2], closes(1), TB_SIDE_BUY, "10", "12");
    expect_order(&l.v[3], closes(1), TB_SIDE_BUY, TB_ORDER_MARKET, "10", "0");
    expect_final(&l.v[4], "0", "0", "0");
    assert_int_equal(res.rejected, 2);
    assert_int_equal(res.fills, 0);
    assert_dec_equal(res.cash, "100");
    free(l.v);
    tb_config_free(&cfg);
}

/* An open order holds its cash back: with 100, a buy of 5 at 12 needs
 * 60.06 and is accepted; a second one on the same bar finds only
 * 100 − 60.06 = 39.94 free and is rejected. A sell that only closes the
 * position needs nothing. */
static void test_legacy_open_orders_hold_cash_back(void **state)
{
    (void)state;
    const tb_market_data bars[] = {
        bar(0, "12", "12", "12", "12", "5"),
        bar(1, "12", "12", "12", "12", "5"),
        bar(2, "12", "12", "12", "12", "5"),
    };
    tb_config cfg;
    build_config(&cfg,
                 (const char *const[]){"backtest.initial_cash=100", "strategy.s1.type=sma_cross",
                                       "strategy.s1.symbol=BTCUSDT", "strategy.s2.type=sma_cross",
                                       "strategy.s2.symbol=BTCUSDT", NULL});
    tb_param p1 = {"script", "5,-5"}, p2 = {"script", "5"};
    use_type(&cfg, 0, "scripted", &p1, 1);
    use_type(&cfg, 1, "scripted", &p2, 1);
    rec_list l = {0};
    tb__legacy_result res;
    run_bars(&cfg, bars, 3, &l, &res);

    assert_int_equal(res.orders, 3);
    assert_int_equal(res.rejected, 1);
    assert_int_equal(res.fills, 2);
    assert_int_equal(count_kind(&l, TB_REC_FILL), 2);
    for (size_t i = 0; i < l.n; i++)
        if (l.v[i].kind == TB_REC_FILL) assert_string_equal(l.v[i].strategy_id, "s1");
    free(l.v);
    tb_config_free(&cfg);
}

/* An order sent on bar 0's close does not fill on bar 0, nor on a repeat of
 * bar 0 (same close time), but on bar 1, at bar 1's open and open time. */
static void test_legacy_no_fill_on_the_bar_the_order_was_sent(void **state)
{
    (void)state;
    const tb_market_data bars[] = {
        bar(0, "10", "10", "9", "10", "5"),
        bar(0, "9", "9", "9", "9", "5"),
        bar(1, "11", "11", "11", "11", "5"),
    };
    tb_config cfg;
    scripted_config(&cfg, (const char *const[]){"exchange.fee_bps=0", NULL}, "1");
    rec_list l = {0};
    tb__legacy_result res;
    run_bars(&cfg, bars, 3, &l, &res);

    assert_int_equal(l.n, 5);
    expect_fill(&l.v[2], opens(1), TB_SIDE_BUY, "1", "11", "0");
    expect_position(&l.v[3], opens(1), "1", "11", "0");
    free(l.v);
    tb_config_free(&cfg);
}

/* A sell of 2 against a long of 1 closes it (realized (12 − 10) × 1 = 2) and
 * opens a short of 1 at 12; buying 1 back at 11 realizes (12 − 11) × 1 = 1:
 * the position record carries the strategy's total, 3. */
static void test_legacy_flip_closes_then_opens_the_rest(void **state)
{
    (void)state;
    const tb_market_data bars[] = {
        bar(0, "10", "10", "10", "10", "5"),
        bar(1, "10", "10", "10", "10", "5"),
        bar(2, "12", "12", "12", "12", "5"),
        bar(3, "11", "11", "11", "11", "5"),
    };
    tb_config cfg;
    scripted_config(&cfg, (const char *const[]){"exchange.fee_bps=0", NULL}, "1,-2,1");
    rec_list l = {0};
    tb__legacy_result res;
    run_bars(&cfg, bars, 4, &l, &res);

    assert_int_equal(count_kind(&l, TB_REC_POSITION), 3);
    expect_position(&l.v[3], opens(1), "1", "10", "0");
    expect_position(&l.v[7], opens(2), "-1", "12", "2");
    expect_position(&l.v[11], opens(3), "0", "0", "3");
    expect_final(&l.v[12], "3", "0", "0");
    free(l.v);
    tb_config_free(&cfg);
}

/* ---- legacy_breakout -------------------------------------------------------------- */

static tb_decimal breakout_step(const tb_legacy_strategy *ls, void *st, int minute,
                                const char *high, const char *low, const char *close)
{
    tb_market_data b = bar(minute, close, high, low, close, "1");
    tb_decimal trade = 99;
    assert_int_equal(ls->on_bar(st, &b, &trade), 0);
    return trade;
}

/* period 3, quantity 2. Highs 10, 11, 12: a close of 12.5 breaks above the
 * previous three highs → buy 2 (a close equal to the highest high would
 * not). While the host says it is long it never buys again. Lows of the
 * previous three bars 12, 12, 11.5: a close of 11.6 is not below them; then
 * with lows 12, 12, 11.6 a close of 8.5 is → sell the long. When the host
 * puts it back to flat (a rejected buy), it buys again. */
static void test_legacy_breakout_decisions(void **state)
{
    (void)state;
    const tb_legacy_strategy *ls = tb_legacy_builtin("legacy_breakout");
    assert_non_null(ls);
    void *st = calloc(1, ls->state_size);
    assert_non_null(st);
    char err[200] = "";
    const tb_param p[] = {{"period", "3"}, {"quantity", "2"}};
    assert_int_equal(ls->init(st, p, 2, err, sizeof(err)), 0);
    tb_legacy_view *view = st;

    assert_int_equal(breakout_step(ls, st, 0, "10", "9", "9.5"), 0);
    assert_int_equal(breakout_step(ls, st, 1, "11", "9", "10.5"), 0);
    assert_int_equal(breakout_step(ls, st, 2, "12", "11.5", "12"), 0); /* 3rd bar: no channel yet */
    assert_int_equal(breakout_step(ls, st, 3, "12.6", "12", "12.5"), tbt_dec("2"));
    view->position = tbt_dec("2");
    assert_int_equal(breakout_step(ls, st, 4, "14", "12", "13.9"), 0); /* long: no second buy */
    assert_int_equal(breakout_step(ls, st, 5, "14", "11.6", "11.6"), 0);
    assert_int_equal(breakout_step(ls, st, 6, "10", "8.5", "8.5"), tbt_dec("-2"));
    view->position = 0;
    assert_int_equal(breakout_step(ls, st, 7, "15", "8", "15"), tbt_dec("2"));
    view->position = 0; /* that buy was rejected */
    assert_int_equal(breakout_step(ls, st, 8, "16", "15", "16"), tbt_dec("2"));
    ls->cleanup(st);
    free(st);
}

static void test_legacy_breakout_bad_params_name_the_key(void **state)
{
    (void)state;
    const tb_legacy_strategy *ls = tb_legacy_builtin("legacy_breakout");
    void *st = calloc(1, ls->state_size);
    char err[200] = "";
    const tb_param bad_q[] = {{"quantity", "0"}};
    assert_int_equal(ls->init(st, bad_q, 1, err, sizeof(err)), TB_ECONFIG);
    assert_string_equal(err, "quantity: must be greater than 0");
    memset(st, 0, ls->state_size);
    const tb_param unknown[] = {{"perod", "3"}};
    assert_int_equal(ls->init(st, unknown, 1, err, sizeof(err)), TB_ECONFIG);
    assert_string_equal(err, "unknown parameter 'perod' (known: period, quantity)");
    free(st);
}

static void test_legacy_builtin_registry(void **state)
{
    (void)state;
    const char *names[] = {"sma_cross", "rsi_reversion", "bollinger_breakout", "legacy_breakout"};
    for (size_t i = 0; i < 4; i++) {
        assert_non_null(tb_legacy_builtin_at(i));
        assert_string_equal(tb_legacy_builtin_at(i)->name, names[i]);
        assert_ptr_equal(tb_legacy_builtin(names[i]), tb_legacy_builtin_at(i));
    }
    assert_null(tb_legacy_builtin_at(4));
    assert_null(tb_legacy_builtin("nope"));
    /* The same help (params and defaults) as the pipeline's built-ins. */
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(tb_legacy_builtin(names[i])->help, tb_strategy_builtin(names[i])->help);
}

/* ---- config errors ------------------------------------------------------------------ */

static void test_legacy_unknown_strategy_type_names_the_key(void **state)
{
    (void)state;
    tb_config cfg;
    scripted_config(&cfg, NULL, "1");
    use_type(&cfg, 0, "no_such", NULL, 0);
    tb__legacy_runner *r = NULL;
    char err[300] = "";
    assert_int_equal(tb__legacy_runner_create(&cfg, NULL, 0, NULL, NULL, &r, err, sizeof(err)),
                     TB_ECONFIG);
    assert_null(r);
    assert_string_equal(err, "[strategy.s1] type: unknown strategy type 'no_such'");
    tb_config_free(&cfg);
}

/* "legacy:NAME" (how a config asks for a legacy strategy through the
 * adapter) names the same strategy in the monolith. */
static void test_legacy_type_prefix_names_the_legacy_strategy(void **state)
{
    (void)state;
    const tb_market_data bars[] = {
        bar(0, "10", "10", "10", "10", "5"),
        bar(1, "10", "11", "10", "11", "5"),
        bar(2, "12", "12", "12", "12", "5"),
    };
    tb_config cfg;
    scripted_config(&cfg, (const char *const[]){"exchange.fee_bps=0", NULL}, "1");
    const tb_param p[] = {{"period", "1"}};
    use_type(&cfg, 0, "legacy:legacy_breakout", p, 1);
    rec_list l = {0};
    tb__legacy_result res;
    run_bars(&cfg, bars, 3, &l, &res);
    /* Bar 1 closes at 11 above bar 0's high of 10: buy 1, filled at 12. */
    assert_int_equal(l.n, 5);
    expect_signal(&l.v[0], closes(1), TB_SIDE_BUY, "1", "11");
    expect_fill(&l.v[2], opens(2), TB_SIDE_BUY, "1", "12", "0");
    free(l.v);
    tb_config_free(&cfg);
}

/* Each bad param gives the monolith's strategy the same message as the
 * pipeline's built-in, prefixed with the section. */
static void test_legacy_bad_param_names_the_key_like_the_pipeline(void **state)
{
    (void)state;
    static const struct {
        const char *type;
        tb_param p[2];
        size_t n;
    } cases[] = {
        {"sma_cross", {{"fast", "30"}}, 1},
        {"sma_cross", {{"fats", "3"}}, 1},
        {"sma_cross", {{"slow", "x"}}, 1},
        {"sma_cross", {{"quantity", "0"}}, 1},
        {"sma_cross", {{"allow_short", "maybe"}}, 1},
        {"rsi_reversion", {{"period", "1"}}, 1},
        {"rsi_reversion", {{"oversold", "80"}}, 1},
        {"rsi_reversion", {{"overbought", "101"}}, 1},
        {"bollinger_breakout", {{"k", "0"}}, 1},
        {"bollinger_breakout", {{"period", "1"}}, 1},
        {"bollinger_breakout", {{"quantity", "1.000000001"}}, 1},
        {"bollinger_breakout", {{"k", "2"}, {"k", "3"}}, 2},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const tb_strategy_vtable *vt = tb_strategy_builtin(cases[i].type);
        void *ps = NULL;
        char perr[256] = "", lerr[300] = "", want[300];
        assert_int_equal(vt->create(vt, cases[i].p, cases[i].n, &ps, perr, sizeof(perr)),
                         TB_ECONFIG);
        snprintf(want, sizeof(want), "[strategy.s1] %s", perr);

        tb_config cfg;
        scripted_config(&cfg, NULL, "1");
        use_type(&cfg, 0, cases[i].type, cases[i].p, cases[i].n);
        tb__legacy_runner *r = NULL;
        assert_int_equal(
            tb__legacy_runner_create(&cfg, NULL, 0, NULL, NULL, &r, lerr, sizeof(lerr)),
            TB_ECONFIG);
        assert_string_equal(lerr, want);
        tb_config_free(&cfg);
    }
}

/* ---- the monolith against the pipeline ------------------------------------------------ */

/* The pipeline's signals, orders and fills as records (test-side conversion). */
static int pipeline_event(const tb_event *ev, void *ctx)
{
    tb_trade_record r;
    memset(&r, 0, sizeof(r));
    r.time = ev->timestamp;
    switch (ev->type) {
    case TB_EV_SIGNAL_GENERATED: {
        const tb_signal_generated *s = &ev->u.signal;
        if (s->signal_type == TB_SIGNAL_HOLD) return 0;
        r.kind = TB_REC_SIGNAL;
        memcpy(r.strategy_id, s->strategy_id, sizeof(r.strategy_id));
        memcpy(r.symbol, s->symbol, sizeof(r.symbol));
        r.side = s->signal_type == TB_SIGNAL_BUY ? TB_SIDE_BUY : TB_SIDE_SELL;
        r.quantity = s->volume;
        r.price = s->price;
        break;
    }
    case TB_EV_ORDER_PLACEMENT_REQUEST: {
        const tb_order_placement_request *o = &ev->u.order_request;
        r.kind = TB_REC_ORDER;
        memcpy(r.strategy_id, o->strategy_id, sizeof(r.strategy_id));
        memcpy(r.symbol, o->symbol, sizeof(r.symbol));
        r.side = o->side;
        r.order_type = o->order_type;
        r.quantity = o->quantity;
        r.price = o->price;
        break;
    }
    case TB_EV_ORDER_FILLED: {
        const tb_order_filled *f = &ev->u.order_filled;
        r.kind = TB_REC_FILL;
        memcpy(r.strategy_id, f->strategy_id, sizeof(r.strategy_id));
        memcpy(r.symbol, f->symbol, sizeof(r.symbol));
        r.side = f->side;
        r.quantity = f->filled_quantity;
        r.price = f->filled_price;
        r.commission = f->commission;
        break;
    }
    default:
        return 0;
    }
    rec_push(ctx, &r);
    return 0;
}

static void run_pipeline(const tb_config *cfg, const tb_strategy_vtable *const *extra,
                         size_t nextra, rec_list *out, tb_backtest_result *res)
{
    /* The adapter's vtable is a program-registered type: a shallow copy of
     * the built config carries it (the copy owns nothing; cfg frees). */
    tb_config with = *cfg;
    with.extra_types = extra;
    with.nextra_types = nextra;
    tb_pipeline *p = NULL;
    char err[512] = "";
    int rc = tb_pipeline_create(&with, NULL, &p, err, sizeof(err));
    if (rc) fail_msg("pipeline: %s", err);
    tb_bus *bus = tb_pipeline_bus(p);
    assert_true(tb_bus_subscribe(bus, TB_EV_SIGNAL_GENERATED, pipeline_event, out) >= 0);
    assert_true(tb_bus_subscribe(bus, TB_EV_ORDER_PLACEMENT_REQUEST, pipeline_event, out) >= 0);
    assert_true(tb_bus_subscribe(bus, TB_EV_ORDER_FILLED, pipeline_event, out) >= 0);

    tb_md_config mc;
    tb_md_config_init(&mc);
    tb_md_merge *md = NULL;
    rc = tb_md_merge_open((const char *const *)cfg->data, cfg->ndata, &mc, &md, err, sizeof(err));
    if (rc) fail_msg("data: %s", err);
    tb_market_data b;
    while ((rc = tb_md_merge_next(md, &b, err, sizeof(err))) == 0)
        assert_int_equal(tb_pipeline_push_bar(p, &b), 0);
    assert_int_equal(rc, TB_EEOF);
    tb_md_merge_close(md);
    assert_int_equal(tb_pipeline_result(p, res), 0);
    tb_pipeline_destroy(p);
}

static const char *kind_name(tb_record_kind k)
{
    return k == TB_REC_SIGNAL ? "signal" : k == TB_REC_ORDER ? "order" : "fill";
}

static void describe(const tb_trade_record *r, char *buf, size_t len)
{
    char q[TB_DECIMAL_STRLEN], p[TB_DECIMAL_STRLEN], c[TB_DECIMAL_STRLEN];
    tb_dec_format(r->quantity, q, sizeof(q));
    tb_dec_format(r->price, p, sizeof(p));
    tb_dec_format(r->commission, c, sizeof(c));
    snprintf(buf, len, "%s t=%lld %s/%s side=%d type=%d qty=%s price=%s commission=%s",
             kind_name(r->kind), (long long)r->time, r->strategy_id, r->symbol, (int)r->side,
             (int)r->order_type, q, p, c);
}

/* The k-kind records of both sides, equal one by one. Returns their count. */
static size_t compare_kind(const rec_list *pipe, const rec_list *legacy, tb_record_kind k)
{
    size_t i = 0, j = 0, n = 0;
    for (;;) {
        while (i < pipe->n && pipe->v[i].kind != k)
            i++;
        while (j < legacy->n && legacy->v[j].kind != k)
            j++;
        if (i == pipe->n || j == legacy->n) break;
        const tb_trade_record *a = &pipe->v[i], *b = &legacy->v[j];
        int same = a->time == b->time && strcmp(a->strategy_id, b->strategy_id) == 0 &&
                   strcmp(a->symbol, b->symbol) == 0 && a->side == b->side &&
                   a->quantity == b->quantity && a->price == b->price &&
                   a->commission == b->commission &&
                   (k != TB_REC_ORDER || a->order_type == b->order_type);
        if (!same) {
            char da[256], db[256];
            describe(a, da, sizeof(da));
            describe(b, db, sizeof(db));
            fail_msg("%s #%zu differs:\n  pipeline %s\n  legacy   %s", kind_name(k), n, da, db);
        }
        i++, j++, n++;
    }
    if (i != pipe->n || j != legacy->n)
        fail_msg("%s: pipeline has %zu, legacy %zu", kind_name(k), count_kind(pipe, k),
                 count_kind(legacy, k));
    return n;
}

typedef struct {
    size_t fills, rejected;
} parity_counts;

/* Runs the config through both and requires the same signals, orders and
 * fills and the same totals. */
static parity_counts expect_parity(const tb_config *cfg, const tb_strategy_vtable *const *pextra,
                                   size_t npextra, const tb_legacy_strategy *const *lextra,
                                   size_t nlextra)
{
    rec_list pipe = {0}, legacy = {0};
    tb_backtest_result pres;
    tb__legacy_result lres;
    char err[512] = "";
    run_pipeline(cfg, pextra, npextra, &pipe, &pres);
    int rc = tb__legacy_run(cfg, lextra, nlextra, collect, &legacy, &lres, err, sizeof(err));
    if (rc) fail_msg("legacy run: %s", err);

    assert_int_equal(pres.dead_letters, 0);
    compare_kind(&pipe, &legacy, TB_REC_SIGNAL);
    compare_kind(&pipe, &legacy, TB_REC_ORDER);
    size_t fills = compare_kind(&pipe, &legacy, TB_REC_FILL);
    assert_int_equal(pres.bars, lres.bars);
    assert_int_equal(pres.signals, lres.signals);
    assert_int_equal(pres.orders, lres.orders);
    assert_int_equal(pres.fills, lres.fills);
    assert_int_equal(pres.rejected, lres.rejected);
    assert_int_equal(pres.realized_pnl, lres.realized_pnl);
    assert_int_equal(pres.unrealized_pnl, lres.unrealized_pnl);
    assert_int_equal(pres.fees, lres.fees);
    assert_int_equal(pres.cash, lres.cash);
    assert_int_equal(pres.final_equity, lres.final_equity);
    const tb_trade_record *fin = &legacy.v[legacy.n - 1];
    assert_int_equal(fin->kind, TB_REC_FINAL);
    assert_int_equal(fin->realized_pnl, pres.realized_pnl);
    assert_int_equal(fin->unrealized_pnl, pres.unrealized_pnl);
    assert_int_equal(fin->fees, pres.fees);
    print_message("    same %llu signals, %llu orders, %zu fills, %llu rejected\n",
                  (unsigned long long)lres.signals, (unsigned long long)lres.orders, fills,
                  (unsigned long long)lres.rejected);
    parity_counts c = {fills, lres.rejected};
    tb_backtest_result_free(&pres);
    free(pipe.v);
    free(legacy.v);
    return c;
}

/* legacy_breakout inside the monolith and through the adapter in the real
 * pipeline: the same fills (time, side, quantity, price, commission). */
static void test_legacy_adapter_gives_the_monolith_fills_in_the_pipeline(void **state)
{
    (void)state;
    tb_config cfg;
    build_config(&cfg, (const char *const[]){"backtest.data=" BTC_DATA,
                                             "strategy.brk.type=bollinger_breakout",
                                             "strategy.brk.symbol=BTCUSDT", NULL});
    const tb_param p[] = {{"period", "20"}, {"quantity", "0.1"}};
    use_type(&cfg, 0, "legacy_breakout", p, 2);
    tb_legacy_adapter ad;
    tb_legacy_adapter_init(&ad, tb_legacy_builtin("legacy_breakout"));
    assert_string_equal(ad.vt.name, "legacy_breakout");
    const tb_strategy_vtable *const vts[] = {&ad.vt};
    assert_true(expect_parity(&cfg, vts, 1, NULL, 0).fills > 10);
    tb_config_free(&cfg);
}

/* The adapter maps the signed trade to BUY/SELL/HOLD and gives the legacy
 * code the pipeline's target position. */
static void test_legacy_adapter_maps_trades_and_position(void **state)
{
    (void)state;
    tb_legacy_adapter ad;
    tb_legacy_adapter_init(&ad, &scripted);
    assert_ptr_equal(ad.legacy, &scripted);
    void *st = NULL;
    char err[200] = "";
    const tb_param p[] = {{"script", "2,-0.5,0,f1,f1"}};
    assert_int_equal(ad.vt.create(&ad.vt, p, 1, &st, err, sizeof(err)), 0);
    tb_market_data b = bar(0, "1", "1", "1", "1", "1");
    tb_strategy_ctx ctx = {.strategy_id = "s1"};
    tb_strategy_decision d;
    assert_int_equal(ad.vt.on_bar(st, &b, &ctx, &d), 0);
    assert_int_equal(d.signal, TB_SIGNAL_BUY);
    assert_dec_equal(d.volume, "2");
    assert_int_equal(ad.vt.on_bar(st, &b, &ctx, &d), 0);
    assert_int_equal(d.signal, TB_SIGNAL_SELL);
    assert_dec_equal(d.volume, "0.5");
    assert_int_equal(ad.vt.on_bar(st, &b, &ctx, &d), 0);
    assert_int_equal(d.signal, TB_SIGNAL_HOLD);
    ctx.position = tbt_dec("1.5"); /* not flat: "f1" holds */
    assert_int_equal(ad.vt.on_bar(st, &b, &ctx, &d), 0);
    assert_int_equal(d.signal, TB_SIGNAL_HOLD);
    ctx.position = 0; /* flat again (say, rejected): "f1" buys */
    assert_int_equal(ad.vt.on_bar(st, &b, &ctx, &d), 0);
    assert_int_equal(d.signal, TB_SIGNAL_BUY);
    ad.vt.destroy(st);

    /* A bad param is the legacy init's message. */
    const tb_param bad[] = {{"nope", "1"}};
    st = NULL;
    assert_int_equal(ad.vt.create(&ad.vt, bad, 1, &st, err, sizeof(err)), TB_ECONFIG);
    assert_string_equal(err, "unknown parameter 'nope' (known: script)");
}

/* Built-in strategies on the bundled BTCUSDT data: the same records as the
 * pipeline, in several execution set-ups. */
static void parity_case(const char *const *sets, size_t min_fills, size_t min_rejected)
{
    tb_config cfg;
    build_config(&cfg, sets);
    parity_counts c = expect_parity(&cfg, NULL, 0, NULL, 0);
    if (c.fills < min_fills || c.rejected < min_rejected)
        fail_msg("%zu fills, %zu rejections: the case tests too little", c.fills, c.rejected);
    tb_config_free(&cfg);
}

static void test_legacy_sma_cross_matches_pipeline(void **state)
{
    (void)state;
    parity_case((const char *const[]){"backtest.data=" BTC_DATA, "strategy.s.type=sma_cross",
                                      "strategy.s.symbol=BTCUSDT", "strategy.s.fast=5",
                                      "strategy.s.slow=20", "strategy.s.quantity=0.1", NULL},
                20, 0);
}

/* Two strategies that each need most of the account: while one is in the
 * market the other's entries are rejected, and its target reverts on both
 * sides so it tries again on its next cross. A third one shorts. */
static void test_legacy_sma_cross_rejections_and_shorts_match_pipeline(void **state)
{
    (void)state;
    parity_case((const char *const[]){"backtest.data=" BTC_DATA, "strategy.a.type=sma_cross",
                                      "strategy.a.symbol=BTCUSDT", "strategy.a.fast=5",
                                      "strategy.a.slow=20", "strategy.a.quantity=0.13",
                                      "strategy.b.type=sma_cross", "strategy.b.symbol=BTCUSDT",
                                      "strategy.b.fast=10", "strategy.b.slow=40",
                                      "strategy.b.quantity=0.13", "strategy.c.type=sma_cross",
                                      "strategy.c.symbol=BTCUSDT", "strategy.c.allow_short=true",
                                      "strategy.c.quantity=0.02", NULL},
                20, 5);
}

static void test_legacy_rsi_reversion_limit_matches_pipeline(void **state)
{
    (void)state;
    parity_case((const char *const[]){"backtest.data=" BTC_DATA, "strategy.r.type=rsi_reversion",
                                      "strategy.r.symbol=BTCUSDT", "strategy.r.quantity=0.1",
                                      "strategy.r.order_type=LIMIT",
                                      "strategy.r.limit_offset_bps=5",
                                      "symbol.BTCUSDT.tick_size=0.01", NULL},
                10, 0);
}

static void test_legacy_rsi_reversion_short_matches_pipeline(void **state)
{
    (void)state;
    parity_case((const char *const[]){"backtest.data=" BTC_DATA, "strategy.r.type=rsi_reversion",
                                      "strategy.r.symbol=BTCUSDT", "strategy.r.quantity=0.05",
                                      "strategy.r.allow_short=true", "strategy.r.period=7", NULL},
                10, 0);
}

/* Slippage, participation (partial fills over bars) and symbol rules. */
static void test_legacy_bollinger_breakout_partial_fills_matches_pipeline(void **state)
{
    (void)state;
    parity_case(
        (const char *const[]){"backtest.data=" BTC_DATA, "strategy.b.type=bollinger_breakout",
                              "strategy.b.symbol=BTCUSDT", "strategy.b.quantity=0.15",
                              "strategy.b.allow_short=true", "exchange.slippage_bps=3",
                              "exchange.max_volume_participation=0.05",
                              "symbol.BTCUSDT.tick_size=0.01", "symbol.BTCUSDT.step_size=0.001",
                              "symbol.BTCUSDT.min_notional=10", NULL},
        20, 0);
}

/* Two symbols, several strategies sharing one account. */
static void test_legacy_multi_symbol_strategies_match_pipeline(void **state)
{
    (void)state;
    parity_case((const char *const[]){"backtest.data=" BTC_DATA,
                                      "backtest.data=" ETH_DATA,
                                      "strategy.a.type=sma_cross",
                                      "strategy.a.symbol=BTCUSDT",
                                      "strategy.a.quantity=0.1",
                                      "strategy.b.type=rsi_reversion",
                                      "strategy.b.symbol=ETHUSDT",
                                      "strategy.b.quantity=1",
                                      "strategy.b.allow_short=true",
                                      "strategy.c.type=bollinger_breakout",
                                      "strategy.c.symbol=ETHUSDT",
                                      "strategy.c.quantity=2",
                                      "strategy.c.order_type=LIMIT",
                                      "strategy.c.limit_offset_bps=2",
                                      "strategy.d.type=bollinger_breakout",
                                      "strategy.d.symbol=BTCUSDT",
                                      "strategy.d.quantity=0.1",
                                      "strategy.d.k=1.5",
                                      "exchange.fee_bps=7.5",
                                      NULL},
                20, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_legacy_sma_cross_hand_computed_records),
        cmocka_unit_test(test_legacy_partial_fills_over_bars_with_participation),
        cmocka_unit_test(test_legacy_participation_capacity_is_shared_oldest_first),
        cmocka_unit_test(test_legacy_limit_order_price_and_through_fill),
        cmocka_unit_test(test_legacy_market_slippage_rounds_to_tick),
        cmocka_unit_test(test_legacy_rejects_order_without_cash_and_reverts_target),
        cmocka_unit_test(test_legacy_open_orders_hold_cash_back),
        cmocka_unit_test(test_legacy_no_fill_on_the_bar_the_order_was_sent),
        cmocka_unit_test(test_legacy_flip_closes_then_opens_the_rest),
        cmocka_unit_test(test_legacy_breakout_decisions),
        cmocka_unit_test(test_legacy_breakout_bad_params_name_the_key),
        cmocka_unit_test(test_legacy_builtin_registry),
        cmocka_unit_test(test_legacy_unknown_strategy_type_names_the_key),
        cmocka_unit_test(test_legacy_type_prefix_names_the_legacy_strategy),
        cmocka_unit_test(test_legacy_bad_param_names_the_key_like_the_pipeline),
        cmocka_unit_test(test_legacy_adapter_gives_the_monolith_fills_in_the_pipeline),
        cmocka_unit_test(test_legacy_adapter_maps_trades_and_position),
        cmocka_unit_test(test_legacy_sma_cross_matches_pipeline),
        cmocka_unit_test(test_legacy_sma_cross_rejections_and_shorts_match_pipeline),
        cmocka_unit_test(test_legacy_rsi_reversion_limit_matches_pipeline),
        cmocka_unit_test(test_legacy_rsi_reversion_short_matches_pipeline),
        cmocka_unit_test(test_legacy_bollinger_breakout_partial_fills_matches_pipeline),
        cmocka_unit_test(test_legacy_multi_symbol_strategies_match_pipeline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
