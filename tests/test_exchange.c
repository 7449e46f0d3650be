/* The simulated exchange, driven directly through tb_exchange_*: fill rules
 * (no look-ahead, slippage, limit trade-through, volume participation),
 * commissions, rejections with their reasons, cash checks and cancels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test_support.h"
#include "tradebus/exchange.h"
#include "tradebus/sim_exchange.h"

#define MAX_RESPONSES 64
#define SYM           "BTCUSDT"

typedef struct {
    tb_exchange *ex;
    tb_exchange_response resp[MAX_RESPONSES];
    size_t n;
} fixture;

static void listen(const tb_exchange_response *r, void *ctx)
{
    fixture *f = ctx;
    if (f->n >= MAX_RESPONSES) fail_msg("too many exchange responses");
    f->resp[f->n++] = *r;
}

/* BTCUSDT with Binance-like rules: prices in cents, quantities in 0.001. */
static const tb_symbol_rules *btc_rules(void)
{
    static tb_symbol_rules r;
    memset(&r, 0, sizeof(r));
    strcpy(r.symbol, SYM);
    r.tick_size = tbt_dec("0.01");
    r.step_size = tbt_dec("0.001");
    return &r;
}

/* The documented defaults (cash 10000, fee 10 bps) with BTCUSDT declared. */
static tb_sim_exchange_config default_config(void)
{
    tb_sim_exchange_config cfg;
    tb_sim_exchange_config_init(&cfg);
    cfg.symbols = btc_rules();
    cfg.nsymbols = 1;
    return cfg;
}

/* (Re)creates the fixture's exchange with cfg. */
static void open_exchange(fixture *f, const tb_sim_exchange_config *cfg)
{
    char err[160] = "";
    tb_exchange_destroy(f->ex);
    f->ex = NULL;
    f->n = 0;
    int rc = tb_sim_exchange_create(cfg, &f->ex, err, sizeof(err));
    if (rc) fail_msg("tb_sim_exchange_create: %s (%s)", tb_strerror(rc), err);
    tb_exchange_set_listener(f->ex, listen, f);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tb_sim_exchange_config cfg = default_config();
    open_exchange(f, &cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tb_exchange_destroy(f->ex);
    free(f);
    return 0;
}

static tb_order_placement_request order_on(const char *symbol, const char *cid, tb_side side,
                                           tb_order_type type, const char *qty, const char *price)
{
    tb_order_placement_request q;
    memset(&q, 0, sizeof(q));
    q.order_type = type;
    q.side = side;
    assert_int_equal(tb_str_copy(q.symbol, sizeof(q.symbol), symbol), 0);
    q.quantity = tbt_dec(qty);
    q.price = price ? tbt_dec(price) : 0;
    assert_int_equal(tb_str_copy(q.strategy_id, sizeof(q.strategy_id), "s1"), 0);
    assert_int_equal(tb_str_copy(q.client_order_id, sizeof(q.client_order_id), cid), 0);
    return q;
}

static tb_order_placement_request order(const char *cid, tb_side side, tb_order_type type,
                                        const char *qty, const char *price)
{
    return order_on(SYM, cid, side, type, qty, price);
}

static void submit(fixture *f, const tb_order_placement_request *q, int64_t now)
{
    assert_int_equal(tb_exchange_submit(f->ex, q, now, NULL), 0);
}

static void bar_on(fixture *f, const char *symbol, int64_t minute, const char *o, const char *h,
                   const char *l, const char *c, const char *v)
{
    tb_market_data b = tbt_bar(symbol, minute, o, h, l, c, v);
    assert_int_equal(tb_exchange_on_market_data(f->ex, &b), 0);
}

static void bar(fixture *f, int64_t minute, const char *o, const char *h, const char *l,
                const char *c, const char *v)
{
    bar_on(f, SYM, minute, o, h, l, c, v);
}

static size_t count(const fixture *f, tb_exchange_response_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++)
        if (f->resp[i].kind == kind) n++;
    return n;
}

/* The nth response of kind, or a test failure. */
static const tb_exchange_response *nth(const fixture *f, tb_exchange_response_kind kind, size_t k)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->resp[i].kind == kind && k-- == 0) return &f->resp[i];
    fail_msg("no response #%zu of kind %d (have %zu responses)", k, (int)kind, f->n);
    return NULL;
}

/* A minute-0 bar closing at 100, so MARKET orders have a reference price. */
static void first_bar_at_100(fixture *f)
{
    bar(f, 0, "100", "100", "100", "100", "1000");
}

/* Submits one order, then checks it was rejected with reason and text. */
static void expect_rejected(fixture *f, const tb_order_placement_request *q,
                            tb_reject_reason reason, const char *text)
{
    size_t before = f->n, open = tb_sim_exchange_open_orders(f->ex);
    submit(f, q, 5);
    assert_int_equal(f->n, before + 1);
    const tb_exchange_response *r = &f->resp[before];
    assert_int_equal(r->kind, TB_XR_REJECTED);
    assert_string_equal(r->client_order_id, q->client_order_id);
    assert_int_equal(r->reason, reason);
    assert_string_equal(r->text, text);
    assert_int_equal(r->time, 5);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), open);
}

/* ---- no look-ahead ------------------------------------------------------ */

static void test_market_order_is_acknowledged_but_not_filled_on_its_own_bar(void **state)
{
    fixture *f = *state;
    bar(f, 0, "100", "110", "90", "105", "10");
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL);
    submit(f, &q, TBT_MINUTE - 1);

    assert_int_equal(f->n, 1);
    assert_int_equal(f->resp[0].kind, TB_XR_ACCEPTED);
    assert_string_equal(f->resp[0].client_order_id, "c-1");
    assert_string_equal(f->resp[0].order_id, "SIM-1");
    assert_int_equal(f->resp[0].time, TBT_MINUTE - 1);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 1);
    assert_dec_equal(tb_sim_exchange_cash(f->ex), "10000");
}

static void test_market_order_fills_at_next_bar_open(void **state)
{
    fixture *f = *state;
    bar(f, 0, "100", "110", "90", "105", "10");
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL);
    submit(f, &q, TBT_MINUTE - 1);
    bar(f, 1, "107", "112", "95", "99", "10");

    assert_int_equal(count(f, TB_XR_FILL), 1);
    const tb_exchange_response *r = nth(f, TB_XR_FILL, 0);
    assert_string_equal(r->client_order_id, "c-1");
    assert_string_equal(r->order_id, "SIM-1");
    assert_dec_equal(r->quantity, "1");
    assert_dec_equal(r->price, "107");
    assert_dec_equal(r->commission, "0.107");
    assert_int_equal(r->trade_id, 1);
    assert_int_equal(r->time, 1 * TBT_MINUTE);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
    assert_dec_equal(tb_sim_exchange_cash(f->ex), "9892.893");
}

static void test_order_does_not_fill_on_bar_of_another_symbol(void **state)
{
    fixture *f = *state;
    tb_sim_exchange_config cfg;
    tb_sim_exchange_config_init(&cfg); /* no symbols declared: ETHUSDT trades too */
    open_exchange(f, &cfg);
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL);
    submit(f, &q, 0);
    bar_on(f, "ETHUSDT", 1, "50", "50", "50", "50", "10");

    assert_int_equal(count(f, TB_XR_FILL), 0);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 1);
    bar(f, 1, "101", "101", "101", "101", "10");
    assert_int_equal(count(f, TB_XR_FILL), 1);
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->price, "101");
}

static void test_bar_delivered_twice_fills_once(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL);
    submit(f, &q, 0);
    bar(f, 1, "101", "101", "101", "101", "10");
    bar(f, 1, "101", "101", "101", "101", "10");

    assert_int_equal(count(f, TB_XR_FILL), 1);
    assert_dec_equal(tb_sim_exchange_cash(f->ex), "9898.899"); /* 10000 - 101 - 0.101 */
}

static void test_bar_delivered_twice_does_not_fill_a_partial_order_twice(void **state)
{
    fixture *f = *state;
    tb_sim_exchange_config cfg = default_config();
    cfg.max_volume_participation = tbt_dec("0.1");
    open_exchange(f, &cfg);
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "5", NULL);
    submit(f, &q, 0);
    bar(f, 1, "100", "100", "100", "100", "20");
    bar(f, 1, "100", "100", "100", "100", "20");

    assert_int_equal(count(f, TB_XR_FILL), 1);
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->quantity, "2");
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 1);
}

/* ---- slippage ----------------------------------------------------------- */

static void test_slippage_moves_market_buy_price_up(void **state)
{
    fixture *f = *state;
    tb_sim_exchange_config cfg = default_config();
    cfg.slippage_bps = tbt_dec("5");
    open_exchange(f, &cfg);
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL);
    submit(f, &q, 0);
    bar(f, 1, "100", "100", "100", "100", "10");

    assert_dec_equal(nth(f, TB_XR_FILL, 0)->price, "100.05");
}

static void test_slippage_moves_market_sell_price_down(void **state)
{
    fixture *f = *state;
    tb_sim_exchange_config cfg = default_config();
    cfg.slippage_bps = tbt_dec("5");
    open_exchange(f, &cfg);
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_SELL, TB_ORDER_MARKET, "1", NULL);
    submit(f, &q, 0);
    bar(f, 1, "100", "100", "100", "100", "10");

    assert_dec_equal(nth(f, TB_XR_FILL, 0)->price, "99.95");
}

static void test_slippage_price_rounds_half_up_to_tick(void **state)
{
    fixture *f = *state;
    tb_sim_exchange_config cfg = default_config();
    cfg.slippage_bps = tbt_dec("5");
    open_exchange(f, &cfg);
    bar(f, 0, "10", "10", "10", "10", "1000");
    /* 10 × 1.0005 = 10.005: a tie, half-up gives 10.01 (half-even: 10.00). */
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL);
    submit(f, &q, 0);
    bar(f, 1, "10", "10", "10", "10", "10");
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->price, "10.01");

    /* 30 × 0.9995 = 29.985: a tie, half-up gives 29.99 (truncation: 29.98). */
    bar(f, 2, "30", "30", "30", "30", "10");
    q = order("c-2", TB_SIDE_SELL, TB_ORDER_MARKET, "1", NULL);
    submit(f, &q, 0);
    bar(f, 3, "30", "30", "30", "30", "10");
    assert_dec_equal(nth(f, TB_XR_FILL, 1)->price, "29.99");
}

static void test_slippage_price_is_rounded_once_to_the_tick(void **state)
{
    fixture *f = *state;
    tb_sim_exchange_config cfg = default_config();
    cfg.slippage_bps = tbt_dec("49.99999995");
    open_exchange(f, &cfg);
    bar(f, 0, "1", "1", "1", "1", "1000");
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL);
    submit(f, &q, 0);
    bar(f, 1, "1", "1", "1", "1", "10");

    /* Exactly 1 × (1 + 0.004999999995) = 1.004999999995, below the half tick:
     * half-up to 0.01 is 1.00. Rounding to 8 digits first (1.00500000) and
     * then to the tick would wrongly give 1.01. */
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->price, "1");
}

/* ---- limit orders ------------------------------------------------------- */

static void limit_then_bar(fixture *f, tb_side side, const char *limit, const char *o,
                           const char *h, const char *l)
{
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", side, TB_ORDER_LIMIT, "1", limit);
    submit(f, &q, 0);
    assert_int_equal(count(f, TB_XR_ACCEPTED), 1);
    bar(f, 1, o, h, l, o, "10");
}

static void test_limit_buy_fills_at_open_when_bar_opens_below_limit(void **state)
{
    fixture *f = *state;
    limit_then_bar(f, TB_SIDE_BUY, "100", "99", "101", "98");
    assert_int_equal(count(f, TB_XR_FILL), 1);
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->price, "99");
}

static void test_limit_buy_fills_at_open_when_bar_opens_at_limit(void **state)
{
    fixture *f = *state;
    limit_then_bar(f, TB_SIDE_BUY, "100", "100", "101", "100");
    assert_int_equal(count(f, TB_XR_FILL), 1);
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->price, "100");
}

static void test_limit_buy_fills_at_limit_when_low_trades_through(void **state)
{
    fixture *f = *state;
    limit_then_bar(f, TB_SIDE_BUY, "100", "102", "103", "99.99");
    assert_int_equal(count(f, TB_XR_FILL), 1);
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->price, "100");
}

static void test_limit_buy_does_not_fill_when_low_only_touches_limit(void **state)
{
    fixture *f = *state;
    limit_then_bar(f, TB_SIDE_BUY, "100", "102", "103", "100");
    assert_int_equal(count(f, TB_XR_FILL), 0);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 1);
}

static void test_limit_sell_fills_at_open_when_bar_opens_above_limit(void **state)
{
    fixture *f = *state;
    limit_then_bar(f, TB_SIDE_SELL, "100", "101", "102", "99");
    assert_int_equal(count(f, TB_XR_FILL), 1);
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->price, "101");
}

static void test_limit_sell_fills_at_open_when_bar_opens_at_limit(void **state)
{
    fixture *f = *state;
    limit_then_bar(f, TB_SIDE_SELL, "100", "100", "100", "99");
    assert_int_equal(count(f, TB_XR_FILL), 1);
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->price, "100");
}

static void test_limit_sell_fills_at_limit_when_high_trades_through(void **state)
{
    fixture *f = *state;
    limit_then_bar(f, TB_SIDE_SELL, "100", "98", "100.01", "97");
    assert_int_equal(count(f, TB_XR_FILL), 1);
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->price, "100");
}

static void test_limit_sell_does_not_fill_when_high_only_touches_limit(void **state)
{
    fixture *f = *state;
    limit_then_bar(f, TB_SIDE_SELL, "100", "98", "100", "97");
    assert_int_equal(count(f, TB_XR_FILL), 0);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 1);
}

/* ---- volume participation ----------------------------------------------- */

static void open_with_participation(fixture *f, const char *p)
{
    tb_sim_exchange_config cfg = default_config();
    cfg.max_volume_participation = tbt_dec(p);
    open_exchange(f, &cfg);
    first_bar_at_100(f);
}

static void test_participation_splits_order_into_partial_fills_over_bars(void **state)
{
    fixture *f = *state;
    open_with_participation(f, "0.1");
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "5", NULL);
    submit(f, &q, 0);
    bar(f, 1, "100", "100", "100", "100", "20");  /* at most 2 */
    bar(f, 2, "101", "101", "101", "101", "25");  /* at most 2.5 */
    bar(f, 3, "102", "102", "102", "102", "100"); /* at most 10: the last 0.5 */

    assert_int_equal(count(f, TB_XR_FILL), 3);
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->quantity, "2");
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->price, "100");
    assert_dec_equal(nth(f, TB_XR_FILL, 1)->quantity, "2.5");
    assert_dec_equal(nth(f, TB_XR_FILL, 1)->price, "101");
    assert_dec_equal(nth(f, TB_XR_FILL, 2)->quantity, "0.5");
    assert_dec_equal(nth(f, TB_XR_FILL, 2)->price, "102");
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(nth(f, TB_XR_FILL, i)->client_order_id, "c-1");
    assert_int_equal(nth(f, TB_XR_FILL, 2)->trade_id, 3);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
}

static void test_participation_cap_rounds_down_to_step_size(void **state)
{
    fixture *f = *state;
    open_with_participation(f, "0.1");
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "5", NULL);
    submit(f, &q, 0);
    bar(f, 1, "100", "100", "100", "100", "23.456"); /* 2.3456 → 2.345 */

    assert_int_equal(count(f, TB_XR_FILL), 1);
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->quantity, "2.345");
}

static void test_participation_zero_volume_bar_fills_nothing(void **state)
{
    fixture *f = *state;
    open_with_participation(f, "0.1");
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL);
    submit(f, &q, 0);
    bar(f, 1, "100", "100", "100", "100", "0");

    assert_int_equal(count(f, TB_XR_FILL), 0);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 1);
    bar(f, 2, "103", "103", "103", "103", "100");
    assert_int_equal(count(f, TB_XR_FILL), 1);
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->quantity, "1");
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->price, "103");
}

/* ---- commission --------------------------------------------------------- */

static void test_commission_is_price_times_quantity_times_fee_bps(void **state)
{
    fixture *f = *state;
    bar(f, 0, "42000", "42000", "42000", "42000", "100");
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "0.015", NULL);
    submit(f, &q, 0);
    bar(f, 1, "42000.12", "42001", "41999", "42000.5", "100");

    /* 42000.12 × 0.015 = 630.0018; × 10 / 10000 = 0.6300018. */
    const tb_exchange_response *r = nth(f, TB_XR_FILL, 0);
    assert_dec_equal(r->price, "42000.12");
    assert_dec_equal(r->quantity, "0.015");
    assert_dec_equal(r->commission, "0.6300018");
    /* 10000 - 630.0018 - 0.6300018 */
    assert_dec_equal(tb_sim_exchange_cash(f->ex), "9369.3681982");
}

static void test_commission_rounds_half_up_to_8_decimals(void **state)
{
    fixture *f = *state;
    tb_sim_exchange_config cfg;
    tb_sim_exchange_config_init(&cfg); /* no tick or step: any 1e-8 multiple */
    open_exchange(f, &cfg);
    bar_on(f, "AAA", 0, "12", "12", "12", "12", "100");
    bar_on(f, "BBB", 0, "42000", "42000", "42000", "42000", "100");
    tb_order_placement_request a = order_on("AAA", "a-1", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL);
    tb_order_placement_request b =
        order_on("BBB", "b-1", TB_SIDE_BUY, TB_ORDER_MARKET, "0.00000333", NULL);
    submit(f, &a, 0);
    submit(f, &b, 0);
    bar_on(f, "AAA", 1, "12.345665", "13", "12", "12.5", "100");
    bar_on(f, "BBB", 1, "42000.13", "42001", "41999", "42000", "100");

    assert_int_equal(count(f, TB_XR_FILL), 2);
    /* 12.345665 × 1 × 0.001 = 0.012345665: a tie, half-up → 0.01234567
     * (half-even and truncation would give 0.01234566). */
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->commission, "0.01234567");
    /* 42000.13 × 0.00000333 × 0.001 = 0.0001398604329 → 0.00013986. */
    assert_dec_equal(nth(f, TB_XR_FILL, 1)->commission, "0.00013986");
}

/* ---- rejections --------------------------------------------------------- */

static void test_rejects_zero_quantity(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "0", NULL);
    expect_rejected(f, &q, TB_REJECT_INVALID_QUANTITY, "quantity must be positive");
    assert_int_equal(count(f, TB_XR_ACCEPTED), 0);
}

static void test_rejects_negative_quantity(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_SELL, TB_ORDER_MARKET, "-1", NULL);
    expect_rejected(f, &q, TB_REJECT_INVALID_QUANTITY, "quantity must be positive");
    assert_int_equal(count(f, TB_XR_ACCEPTED), 0);
}

static void test_rejects_quantity_off_step_size(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "0.0015", NULL);
    expect_rejected(f, &q, TB_REJECT_INVALID_QUANTITY,
                    "quantity 0.0015 is not a multiple of step size 0.001");
}

static void test_rejects_limit_price_off_tick_size(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_LIMIT, "1", "100.005");
    expect_rejected(f, &q, TB_REJECT_INVALID_PRICE,
                    "price 100.005 is not a multiple of tick size 0.01");
}

static void test_rejects_non_positive_limit_price(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_LIMIT, "1", "0");
    expect_rejected(f, &q, TB_REJECT_INVALID_PRICE, "limit price must be positive");
}

static void open_with_min_notional(fixture *f, const char *min_notional)
{
    static tb_symbol_rules r;
    r = *btc_rules();
    r.min_notional = tbt_dec(min_notional);
    tb_sim_exchange_config cfg = default_config();
    cfg.symbols = &r;
    open_exchange(f, &cfg);
    first_bar_at_100(f);
}

static void test_rejects_notional_below_min_notional(void **state)
{
    fixture *f = *state;
    open_with_min_notional(f, "10");
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_LIMIT, "0.099", "100");
    expect_rejected(f, &q, TB_REJECT_INVALID_QUANTITY, "notional 9.9 is below the minimum 10");
    /* MARKET orders are valued at the last close (100). */
    q = order("c-2", TB_SIDE_SELL, TB_ORDER_MARKET, "0.05", NULL);
    expect_rejected(f, &q, TB_REJECT_INVALID_QUANTITY, "notional 5 is below the minimum 10");
}

static void test_accepts_notional_equal_to_min_notional(void **state)
{
    fixture *f = *state;
    open_with_min_notional(f, "10");
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_LIMIT, "0.1", "100");
    submit(f, &q, 0);
    assert_int_equal(f->n, 1);
    assert_int_equal(f->resp[0].kind, TB_XR_ACCEPTED);
}

static void test_rejects_unknown_symbol_when_symbols_declared(void **state)
{
    fixture *f = *state;
    bar_on(f, "ETHUSDT", 0, "100", "100", "100", "100", "10");
    tb_order_placement_request q =
        order_on("ETHUSDT", "c-1", TB_SIDE_BUY, TB_ORDER_LIMIT, "1", "100");
    expect_rejected(f, &q, TB_REJECT_UNKNOWN_SYMBOL, "unknown symbol ETHUSDT");
}

static void test_accepts_any_symbol_when_none_declared(void **state)
{
    fixture *f = *state;
    tb_sim_exchange_config cfg;
    tb_sim_exchange_config_init(&cfg);
    open_exchange(f, &cfg);
    tb_order_placement_request q =
        order_on("ETHUSDT", "c-1", TB_SIDE_BUY, TB_ORDER_LIMIT, "1", "100");
    submit(f, &q, 0);
    assert_int_equal(f->n, 1);
    assert_int_equal(f->resp[0].kind, TB_XR_ACCEPTED);
}

static void test_rejects_client_order_id_already_open(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_LIMIT, "1", "90");
    submit(f, &q, 0);
    assert_int_equal(count(f, TB_XR_ACCEPTED), 1);
    tb_order_placement_request again = order("c-1", TB_SIDE_BUY, TB_ORDER_LIMIT, "2", "91");
    expect_rejected(f, &again, TB_REJECT_DUPLICATE, "client order id c-1 is already open");
    assert_int_equal(count(f, TB_XR_ACCEPTED), 1);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 1);
}

static void test_client_order_id_can_be_reused_once_closed(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_LIMIT, "1", "90");
    submit(f, &q, 0);
    assert_int_equal(tb_exchange_cancel(f->ex, "c-1", 1, NULL), 0);
    submit(f, &q, 2);

    assert_int_equal(count(f, TB_XR_REJECTED), 0);
    assert_int_equal(count(f, TB_XR_ACCEPTED), 2);
    assert_string_equal(nth(f, TB_XR_ACCEPTED, 1)->order_id, "SIM-2");
}

static void test_rejects_buy_beyond_cash_including_fees(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    /* 100 × 100 = 10000 fits the cash, but not with 10 bps fees: 10010. */
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "100", NULL);
    expect_rejected(f, &q, TB_REJECT_INSUFFICIENT_FUNDS, "needs 10010, only 10000 available");
    assert_int_equal(count(f, TB_XR_ACCEPTED), 0);
}

static void open_with_cash(fixture *f, const char *cash)
{
    tb_sim_exchange_config cfg = default_config();
    cfg.initial_cash = tbt_dec(cash);
    open_exchange(f, &cfg);
    first_bar_at_100(f);
}

static void test_accepts_buy_needing_exactly_the_cash(void **state)
{
    fixture *f = *state;
    open_with_cash(f, "9999.99");
    /* 99.9 × 100 × 1.001 = 9999.99: all of it. */
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "99.9", NULL);
    submit(f, &q, 0);
    assert_int_equal(f->n, 1);
    assert_int_equal(f->resp[0].kind, TB_XR_ACCEPTED);
}

static void test_rejects_buy_needing_one_unit_more_than_the_cash(void **state)
{
    fixture *f = *state;
    open_with_cash(f, "9999.98999999");
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "99.9", NULL);
    expect_rejected(f, &q, TB_REJECT_INSUFFICIENT_FUNDS,
                    "needs 9999.99, only 9999.98999999 available");
}

static void test_open_orders_reserve_cash_until_canceled(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request big = order("c-1", TB_SIDE_BUY, TB_ORDER_LIMIT, "99", "100");
    submit(f, &big, 0); /* holds 99 × 100.1 = 9909.9 */
    tb_order_placement_request small = order("c-2", TB_SIDE_BUY, TB_ORDER_LIMIT, "1", "100");
    expect_rejected(f, &small, TB_REJECT_INSUFFICIENT_FUNDS, "needs 100.1, only 90.1 available");

    assert_int_equal(tb_exchange_cancel(f->ex, "c-1", 1, NULL), 0);
    submit(f, &small, 2);
    assert_int_equal(f->resp[f->n - 1].kind, TB_XR_ACCEPTED);
    assert_string_equal(f->resp[f->n - 1].client_order_id, "c-2");
}

/* Buys 99.9 at 100: cash left 10000 - 9990 - 9.99 = 0.01. */
static void go_long_with_all_cash(fixture *f)
{
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "99.9", NULL);
    submit(f, &q, 0);
    bar(f, 1, "100", "100", "100", "100", "1000");
    assert_int_equal(count(f, TB_XR_FILL), 1);
    assert_dec_equal(tb_sim_exchange_cash(f->ex), "0.01");
    f->n = 0;
}

static void test_sell_reducing_long_needs_no_cash(void **state)
{
    fixture *f = *state;
    go_long_with_all_cash(f);
    tb_order_placement_request q = order("c-2", TB_SIDE_SELL, TB_ORDER_MARKET, "99.9", NULL);
    submit(f, &q, 0);
    assert_int_equal(f->n, 1);
    assert_int_equal(f->resp[0].kind, TB_XR_ACCEPTED);

    bar(f, 2, "110", "110", "110", "110", "1000");
    const tb_exchange_response *r = nth(f, TB_XR_FILL, 0);
    assert_dec_equal(r->price, "110");
    assert_dec_equal(r->commission, "10.989");                  /* 10989 × 0.001 */
    assert_dec_equal(tb_sim_exchange_cash(f->ex), "10978.021"); /* 0.01 + 10989 - 10.989 */
}

static void test_sell_beyond_long_needs_cash_for_the_excess(void **state)
{
    fixture *f = *state;
    go_long_with_all_cash(f);
    /* 0.1 of the 100 opens a short: 0.1 × 100 × 1.001 = 10.01 of collateral. */
    tb_order_placement_request q = order("c-2", TB_SIDE_SELL, TB_ORDER_MARKET, "100", NULL);
    expect_rejected(f, &q, TB_REJECT_INSUFFICIENT_FUNDS, "needs 10.01, only 0.01 available");
}

static void test_sells_already_open_count_against_the_long(void **state)
{
    fixture *f = *state;
    go_long_with_all_cash(f);
    tb_order_placement_request first = order("c-2", TB_SIDE_SELL, TB_ORDER_MARKET, "99.9", NULL);
    submit(f, &first, 0);
    assert_int_equal(f->resp[0].kind, TB_XR_ACCEPTED);

    /* c-2 already closes the whole long, so c-3 would open a 99.9 short:
     * 99.9 × 100 × 1.001 = 9999.99 of collateral, with 0.01 of free cash. */
    tb_order_placement_request second = order("c-3", TB_SIDE_SELL, TB_ORDER_MARKET, "99.9", NULL);
    submit(f, &second, 0);
    assert_int_equal(f->n, 2);
    assert_int_equal(f->resp[1].kind, TB_XR_REJECTED);
    assert_int_equal(f->resp[1].reason, TB_REJECT_INSUFFICIENT_FUNDS);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 1);
}

/* ---- cancel ------------------------------------------------------------- */

static void test_cancel_returns_canceled_with_remaining_quantity(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_LIMIT, "2", "90");
    submit(f, &q, 0);
    assert_int_equal(tb_exchange_cancel(f->ex, "c-1", 77, NULL), 0);

    assert_int_equal(count(f, TB_XR_CANCELED), 1);
    const tb_exchange_response *r = nth(f, TB_XR_CANCELED, 0);
    assert_string_equal(r->client_order_id, "c-1");
    assert_string_equal(r->order_id, "SIM-1");
    assert_dec_equal(r->quantity, "2");
    assert_int_equal(r->time, 77);
    assert_string_equal(r->text, "canceled on request");
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
}

static void test_cancel_after_partial_fill_returns_the_remainder(void **state)
{
    fixture *f = *state;
    open_with_participation(f, "0.1");
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "5", NULL);
    submit(f, &q, 0);
    bar(f, 1, "100", "100", "100", "100", "20"); /* fills 2 */
    assert_int_equal(tb_exchange_cancel(f->ex, "c-1", 0, NULL), 0);

    assert_dec_equal(nth(f, TB_XR_CANCELED, 0)->quantity, "3");
}

static void test_canceled_order_never_fills(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL);
    submit(f, &q, 0);
    assert_int_equal(tb_exchange_cancel(f->ex, "c-1", 0, NULL), 0);
    bar(f, 1, "100", "100", "100", "100", "20");

    assert_int_equal(count(f, TB_XR_FILL), 0);
    assert_dec_equal(tb_sim_exchange_cash(f->ex), "10000");
}

static void test_cancel_unknown_id_is_enotfound(void **state)
{
    fixture *f = *state;
    assert_int_equal(tb_exchange_cancel(f->ex, "nope", 0, NULL), TB_ENOTFOUND);
    assert_int_equal(f->n, 0);
}

static void test_cancel_twice_is_enotfound_the_second_time(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_LIMIT, "1", "90");
    submit(f, &q, 0);
    assert_int_equal(tb_exchange_cancel(f->ex, "c-1", 0, NULL), 0);
    assert_int_equal(tb_exchange_cancel(f->ex, "c-1", 0, NULL), TB_ENOTFOUND);
    assert_int_equal(count(f, TB_XR_CANCELED), 1);
}

/* ---- look-ups ----------------------------------------------------------- */

static tb_exchange_order_info query_ok(fixture *f, const char *cid)
{
    tb_exchange_order_info info;
    tb_exchange_error xe;
    size_t before = f->n;
    assert_int_equal(tb_exchange_query(f->ex, cid, 9, &info, &xe), 0);
    assert_int_equal(f->n, before); /* a look-up tells the caller, not the listener */
    return info;
}

static void test_query_finds_open_order_as_new(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_LIMIT, "2", "90");
    submit(f, &q, 7);
    tb_exchange_order_info i = query_ok(f, "c-1");
    assert_string_equal(i.client_order_id, "c-1");
    assert_string_equal(i.order_id, "SIM-1");
    assert_int_equal(i.status, TB_ORDER_NEW);
    assert_dec_equal(i.quantity, "2");
    assert_dec_equal(i.filled_quantity, "0");
    assert_int_equal(i.time, 7);
}

static void test_query_reports_cumulative_quantity_of_partial_fill(void **state)
{
    fixture *f = *state;
    tb_sim_exchange_config cfg = default_config();
    cfg.max_volume_participation = tbt_dec("0.5");
    open_exchange(f, &cfg);
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "3", NULL);
    submit(f, &q, 0);
    bar(f, 1, "100", "100", "100", "100", "2"); /* fills 1 */
    tb_exchange_order_info i = query_ok(f, "c-1");
    assert_int_equal(i.status, TB_ORDER_PARTIALLY_FILLED);
    assert_dec_equal(i.filled_quantity, "1");
}

static void test_query_finds_filled_order_after_it_left_the_book(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL);
    submit(f, &q, 0);
    bar(f, 1, "101", "101", "101", "101", "10");
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
    tb_exchange_order_info i = query_ok(f, "c-1");
    assert_int_equal(i.status, TB_ORDER_FILLED);
    assert_dec_equal(i.filled_quantity, "1");
}

static void test_query_finds_canceled_order(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_LIMIT, "1", "90");
    submit(f, &q, 0);
    assert_int_equal(tb_exchange_cancel(f->ex, "c-1", 1, NULL), 0);
    assert_int_equal(query_ok(f, "c-1").status, TB_ORDER_CANCELED);
}

static void test_query_unknown_or_rejected_id_is_enotfound(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_LIMIT, "0", "90");
    submit(f, &q, 0); /* rejected: never on the book */
    tb_exchange_order_info i;
    assert_int_equal(tb_exchange_query(f->ex, "c-1", 0, &i, NULL), TB_ENOTFOUND);
    assert_int_equal(tb_exchange_query(f->ex, "nobody", 0, &i, NULL), TB_ENOTFOUND);
}

/* ---- injected faults ----------------------------------------------------- */

static void script1(fixture *f, tb_sim_fault fault)
{
    assert_int_equal(tb_sim_exchange_script_faults(f->ex, &fault, 1), 0);
}

static int submit_faulted(fixture *f, tb_sim_fault fault, const char *cid, tb_exchange_error *xe)
{
    script1(f, fault);
    tb_order_placement_request q = order(cid, TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL);
    return tb_exchange_submit(f->ex, &q, 3, xe);
}

static void test_timeout_fault_never_reaches_the_book(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_exchange_error xe;
    assert_int_equal(submit_faulted(f, TB_SIM_FAULT_TIMEOUT, "c-1", &xe), TB_EIO);
    assert_int_equal(xe.failure, TB_XF_TIMEOUT);
    assert_int_equal(f->n, 0);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
    tb_exchange_order_info i;
    assert_int_equal(tb_exchange_query(f->ex, "c-1", 4, &i, NULL), TB_ENOTFOUND);
    assert_dec_equal(tb_sim_exchange_cash(f->ex), "10000");
}

static void test_lost_ack_fault_leaves_the_order_live_without_a_reply(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_exchange_error xe;
    assert_int_equal(submit_faulted(f, TB_SIM_FAULT_LOST_ACK, "c-1", &xe), TB_EIO);
    assert_int_equal(xe.failure, TB_XF_TIMEOUT); /* the client cannot tell */
    assert_int_equal(f->n, 0);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 1);
    assert_int_equal(query_ok(f, "c-1").status, TB_ORDER_NEW);
    bar(f, 1, "101", "101", "101", "101", "10"); /* and it fills as any order */
    assert_int_equal(count(f, TB_XR_FILL), 1);
}

static void test_server_error_fault_before_processing_changes_nothing(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_exchange_error xe;
    assert_int_equal(submit_faulted(f, TB_SIM_FAULT_SERVER_ERROR, "c-1", &xe), TB_EIO);
    assert_int_equal(xe.failure, TB_XF_SERVER_ERROR);
    assert_string_equal(xe.text, "HTTP 503");
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
}

static void test_server_error_fault_after_processing_leaves_the_order_live(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_exchange_error xe;
    assert_int_equal(submit_faulted(f, TB_SIM_FAULT_SERVER_ERROR_AFTER, "c-1", &xe), TB_EIO);
    assert_int_equal(xe.failure, TB_XF_SERVER_ERROR);
    assert_int_equal(f->n, 0);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 1);
}

static void test_rate_limit_fault_tells_retry_after(void **state)
{
    fixture *f = *state;
    tb_sim_exchange_config cfg = default_config();
    cfg.faults.retry_after = 3 * TBT_SECOND;
    open_exchange(f, &cfg);
    first_bar_at_100(f);
    tb_exchange_error xe;
    assert_int_equal(submit_faulted(f, TB_SIM_FAULT_RATE_LIMIT, "c-1", &xe), TB_EIO);
    assert_int_equal(xe.failure, TB_XF_RATE_LIMITED);
    assert_int_equal(xe.retry_after, 3 * TBT_SECOND);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
}

static void test_connection_lost_fault_sends_nothing(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_exchange_error xe;
    assert_int_equal(submit_faulted(f, TB_SIM_FAULT_CONNECTION_LOST, "c-1", &xe), TB_EIO);
    assert_int_equal(xe.failure, TB_XF_CONNECTION_LOST);
    assert_false(tb_exchange_failure_is_ambiguous(xe.failure));
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
}

static void test_lost_reply_hides_a_rejection_too(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    script1(f, TB_SIM_FAULT_LOST_ACK);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "1000", NULL);
    tb_exchange_error xe;
    assert_int_equal(tb_exchange_submit(f->ex, &q, 0, &xe), TB_EIO);
    assert_int_equal(f->n, 0);
    assert_int_equal(tb_sim_exchange_get_stats(f->ex).rejected, 1);
}

static void test_query_timeout_fault_answers_nothing(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL);
    submit(f, &q, 0);
    script1(f, TB_SIM_FAULT_TIMEOUT);
    tb_exchange_order_info i;
    tb_exchange_error xe;
    assert_int_equal(tb_exchange_query(f->ex, "c-1", 0, &i, &xe), TB_EIO);
    assert_int_equal(xe.failure, TB_XF_TIMEOUT);
    assert_int_equal(tb_exchange_query(f->ex, "c-1", 0, &i, &xe), 0);
}

static void test_cancel_with_lost_reply_still_cancels(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_LIMIT, "1", "90");
    submit(f, &q, 0);
    script1(f, TB_SIM_FAULT_LOST_ACK);
    tb_exchange_error xe;
    assert_int_equal(tb_exchange_cancel(f->ex, "c-1", 1, &xe), TB_EIO);
    assert_int_equal(count(f, TB_XR_CANCELED), 0);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
    assert_int_equal(query_ok(f, "c-1").status, TB_ORDER_CANCELED);
}

/* The fault kinds of 400 submits under a spec and seed. */
static void fault_sequence(fixture *f, uint64_t seed, tb_sim_fault *out, size_t n)
{
    tb_sim_exchange_config cfg = default_config();
    char err[200];
    assert_int_equal(tb_sim_faults_parse("timeout:0.1,server_error:0.05,rate_limit:0.05,"
                                         "lost_ack:0.05",
                                         &cfg.faults, err, sizeof(err)),
                     0);
    cfg.faults.seed = seed;
    open_exchange(f, &cfg);
    first_bar_at_100(f);
    for (size_t i = 0; i < n; i++) {
        char cid[24]; /* "c-" + up to 20 digits of a size_t */
        snprintf(cid, sizeof(cid), "c-%zu", i);
        tb_order_placement_request q = order(cid, TB_SIDE_BUY, TB_ORDER_LIMIT, "0.001", "1");
        tb_exchange_error xe;
        tb_sim_exchange_stats before = tb_sim_exchange_get_stats(f->ex);
        int rc = tb_exchange_submit(f->ex, &q, 0, &xe);
        assert_true(rc == 0 || rc == TB_EIO);
        tb_sim_exchange_stats after = tb_sim_exchange_get_stats(f->ex);
        out[i] = TB_SIM_FAULT_NONE;
        for (int k = 1; k < TB_SIM_FAULT_COUNT; k++)
            if (after.faults[k] != before.faults[k]) out[i] = (tb_sim_fault)k;
        f->n = 0;
    }
}

static void test_random_faults_are_deterministic_per_seed_and_near_their_rates(void **state)
{
    fixture *f = *state;
    enum { N = 2000 };
    static tb_sim_fault a[N], b[N], c[N];
    fault_sequence(f, 5, a, N);
    fault_sequence(f, 5, b, N);
    fault_sequence(f, 6, c, N);
    assert_memory_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, c, sizeof(a));
    int n[TB_SIM_FAULT_COUNT] = {0};
    for (int i = 0; i < N; i++)
        n[a[i]]++;
    /* 10% / 5% / 5% / 5% of 2000: 200 / 100 / 100 / 100, within a wide margin */
    assert_in_range(n[TB_SIM_FAULT_TIMEOUT], 140, 260);
    assert_in_range(n[TB_SIM_FAULT_LOST_ACK], 60, 140);
    assert_in_range(n[TB_SIM_FAULT_SERVER_ERROR] + n[TB_SIM_FAULT_SERVER_ERROR_AFTER], 60, 140);
    assert_true(n[TB_SIM_FAULT_SERVER_ERROR] > 0 && n[TB_SIM_FAULT_SERVER_ERROR_AFTER] > 0);
    assert_in_range(n[TB_SIM_FAULT_RATE_LIMIT], 60, 140);
    assert_int_equal(n[TB_SIM_FAULT_CONNECTION_LOST], 0);
}

static void test_no_fault_spec_injects_nothing_and_tracks_no_ids(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL);
    submit(f, &q, 0);
    tb_sim_exchange_stats st = tb_sim_exchange_get_stats(f->ex);
    assert_int_equal(st.submits, 1);
    assert_int_equal(st.accepted, 1);
    for (int k = 0; k < TB_SIM_FAULT_COUNT; k++)
        assert_int_equal(st.faults[k], 0);
    assert_int_equal(st.distinct_ids_accepted, 0);
    assert_int_equal(tb_sim_exchange_id_stats(f->ex, "c-1", NULL, NULL), TB_ENOTFOUND);
}

static void test_id_stats_count_submits_and_acceptances_per_client_order_id(void **state)
{
    fixture *f = *state;
    tb_sim_exchange_config cfg = default_config();
    cfg.track_ids = 1;
    open_exchange(f, &cfg);
    first_bar_at_100(f);
    tb_order_placement_request q = order("c-1", TB_SIDE_BUY, TB_ORDER_LIMIT, "1", "90");
    tb_exchange_error xe;
    assert_int_equal(submit_faulted(f, TB_SIM_FAULT_TIMEOUT, "c-1", &xe), TB_EIO);
    submit(f, &q, 1);
    submit(f, &q, 2); /* refused: already open */
    uint32_t submits = 0, accepts = 0;
    assert_int_equal(tb_sim_exchange_id_stats(f->ex, "c-1", &submits, &accepts), 0);
    assert_int_equal(submits, 3);
    assert_int_equal(accepts, 1);
    assert_int_equal(tb_exchange_cancel(f->ex, "c-1", 3, NULL), 0);
    submit(f, &q, 4); /* reused once closed: a second acceptance, and it shows */
    tb_sim_exchange_stats st = tb_sim_exchange_get_stats(f->ex);
    assert_int_equal(st.distinct_ids_accepted, 1);
    assert_int_equal(st.ids_accepted_twice, 1);
    assert_int_equal(st.max_submits_per_id, 4);
}

/* ---- time in force ------------------------------------------------------ */

static tb_order_placement_request limit_tif(const char *cid, tb_side side, const char *qty,
                                            const char *price, tb_time_in_force tif)
{
    tb_order_placement_request q = order(cid, side, TB_ORDER_LIMIT, qty, price);
    q.time_in_force = tif;
    return q;
}

static void test_ioc_fills_what_it_can_on_its_first_bar_and_expires_the_rest(void **state)
{
    fixture *f = *state;
    open_with_participation(f, "0.1");
    tb_order_placement_request q = limit_tif("c-1", TB_SIDE_BUY, "0.5", "100", TB_TIF_IOC);
    submit(f, &q, 0);
    bar(f, 1, "99", "101", "98", "100", "3"); /* at most 0.3 */

    assert_int_equal(f->n, 3);
    assert_int_equal(f->resp[1].kind, TB_XR_FILL);
    assert_dec_equal(f->resp[1].quantity, "0.3");
    assert_dec_equal(f->resp[1].price, "99");
    const tb_exchange_response *r = &f->resp[2];
    assert_int_equal(r->kind, TB_XR_EXPIRED);
    assert_string_equal(r->client_order_id, "c-1");
    assert_string_equal(r->order_id, "SIM-1");
    assert_dec_equal(r->quantity, "0.2");
    assert_int_equal(r->time, 1 * TBT_MINUTE);
    assert_string_equal(r->text, "IOC: 0.2 of 0.5 unfilled expired");
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
    tb_exchange_order_info info = query_ok(f, "c-1");
    assert_int_equal(info.status, TB_ORDER_EXPIRED);
    assert_dec_equal(info.filled_quantity, "0.3");

    bar(f, 2, "99", "101", "98", "100", "1000"); /* it would fill now: it is gone */
    assert_int_equal(count(f, TB_XR_FILL), 1);
}

static void test_ioc_expires_whole_when_its_first_bar_does_not_reach_the_limit(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = limit_tif("c-1", TB_SIDE_BUY, "0.5", "95", TB_TIF_IOC);
    submit(f, &q, 0);
    bar(f, 1, "99", "101", "96", "100", "1000");

    assert_int_equal(count(f, TB_XR_FILL), 0);
    assert_int_equal(count(f, TB_XR_EXPIRED), 1);
    assert_dec_equal(nth(f, TB_XR_EXPIRED, 0)->quantity, "0.5");
    assert_string_equal(nth(f, TB_XR_EXPIRED, 0)->text, "IOC: 0.5 of 0.5 unfilled expired");
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
}

static void test_fok_fills_all_or_expires_all(void **state)
{
    fixture *f = *state;
    open_with_participation(f, "0.1");
    tb_order_placement_request thin = limit_tif("c-1", TB_SIDE_BUY, "0.5", "100", TB_TIF_FOK);
    tb_order_placement_request far = limit_tif("c-2", TB_SIDE_BUY, "0.5", "90", TB_TIF_FOK);
    submit(f, &thin, 0);
    submit(f, &far, 0);
    bar(f, 1, "99", "101", "98", "100", "3"); /* 0.3 of c-1 could trade: not all */

    assert_int_equal(count(f, TB_XR_FILL), 0);
    assert_int_equal(count(f, TB_XR_EXPIRED), 2);
    assert_string_equal(nth(f, TB_XR_EXPIRED, 0)->client_order_id, "c-1");
    assert_dec_equal(nth(f, TB_XR_EXPIRED, 0)->quantity, "0.5");
    assert_string_equal(nth(f, TB_XR_EXPIRED, 0)->text, "FOK: 0.5 cannot fill in full, expired");
    assert_string_equal(nth(f, TB_XR_EXPIRED, 1)->client_order_id, "c-2");
    assert_dec_equal(tb_sim_exchange_cash(f->ex), "10000");

    tb_order_placement_request deep = limit_tif("c-3", TB_SIDE_BUY, "0.5", "100", TB_TIF_FOK);
    submit(f, &deep, 1 * TBT_MINUTE);
    bar(f, 2, "99", "101", "98", "100", "5"); /* 0.5: exactly enough */
    assert_int_equal(count(f, TB_XR_FILL), 1);
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->quantity, "0.5");
    assert_int_equal(count(f, TB_XR_EXPIRED), 2);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
}

static void test_expired_ioc_remainder_releases_its_reservation(void **state)
{
    fixture *f = *state;
    open_with_participation(f, "0.1");
    tb_order_placement_request q = limit_tif("c-1", TB_SIDE_BUY, "50", "100", TB_TIF_IOC);
    submit(f, &q, 0);                             /* holds 50 × 100.1 = 5005 */
    bar(f, 1, "100", "100", "100", "100", "100"); /* fills 10, 40 expire */
    assert_int_equal(count(f, TB_XR_EXPIRED), 1);
    /* Cash after = cash before + the fill alone: 10000 - 1000 - 1. */
    assert_dec_equal(tb_sim_exchange_cash(f->ex), "8999");

    /* 89.9 × 100.1 = 8998.99 fits only if the 40 expired hold nothing back. */
    tb_order_placement_request all = order("c-2", TB_SIDE_BUY, TB_ORDER_LIMIT, "89.9", "100");
    submit(f, &all, 1 * TBT_MINUTE);
    assert_int_equal(f->resp[f->n - 1].kind, TB_XR_ACCEPTED);
}

/* ---- stop orders -------------------------------------------------------- */

static tb_order_placement_request stop(const char *cid, tb_side side, const char *qty,
                                       const char *stop_price)
{
    tb_order_placement_request q = order(cid, side, TB_ORDER_STOP_MARKET, qty, NULL);
    q.stop_price = stop_price ? tbt_dec(stop_price) : 0;
    return q;
}

static void open_with_slippage(fixture *f, const char *bps)
{
    tb_sim_exchange_config cfg = default_config();
    cfg.slippage_bps = tbt_dec(bps);
    open_exchange(f, &cfg);
    first_bar_at_100(f);
}

static void test_stop_rejected_without_stop_price(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = stop("c-1", TB_SIDE_SELL, "1", NULL);
    expect_rejected(f, &q, TB_REJECT_INVALID_PRICE, "stop price must be positive");
}

static void test_stop_rejected_off_tick_size(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = stop("c-1", TB_SIDE_SELL, "1", "95.005");
    expect_rejected(f, &q, TB_REJECT_INVALID_PRICE,
                    "stop price 95.005 is not a multiple of tick size 0.01");
}

static void test_sell_stop_triggers_when_low_touches_and_fills_at_stop_less_slippage(void **state)
{
    fixture *f = *state;
    open_with_slippage(f, "20");
    tb_order_placement_request q = stop("c-1", TB_SIDE_SELL, "1", "95");
    submit(f, &q, 0);
    bar(f, 1, "99", "100", "95.01", "98", "10"); /* above the stop */
    assert_int_equal(count(f, TB_XR_FILL), 0);
    bar(f, 2, "98", "99", "95", "96", "10"); /* touches it */

    assert_int_equal(count(f, TB_XR_FILL), 1);
    const tb_exchange_response *r = nth(f, TB_XR_FILL, 0);
    assert_dec_equal(r->price, "94.81"); /* 95 × 0.998 = 94.81 */
    assert_dec_equal(r->quantity, "1");
    assert_int_equal(r->time, 2 * TBT_MINUTE);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
}

static void test_buy_stop_triggers_when_high_touches_and_fills_at_stop_plus_slippage(void **state)
{
    fixture *f = *state;
    open_with_slippage(f, "20");
    tb_order_placement_request q = stop("c-1", TB_SIDE_BUY, "1", "105");
    submit(f, &q, 0);
    bar(f, 1, "101", "104.99", "100", "102", "10");
    assert_int_equal(count(f, TB_XR_FILL), 0);
    bar(f, 2, "102", "105", "101", "104", "10");

    assert_int_equal(count(f, TB_XR_FILL), 1);
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->price, "105.21"); /* 105 × 1.002 */
}

static void test_stop_gap_fills_at_open(void **state)
{
    fixture *f = *state;
    open_with_slippage(f, "20");
    tb_order_placement_request sell = stop("c-1", TB_SIDE_SELL, "1", "95");
    tb_order_placement_request buy = stop("c-2", TB_SIDE_BUY, "1", "105");
    submit(f, &sell, 0);
    bar(f, 1, "93", "94", "90", "92", "10");                 /* opens below the sell stop */
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->price, "92.81"); /* 93 × 0.998 = 92.814 */
    submit(f, &buy, 1 * TBT_MINUTE + 1);
    bar(f, 2, "107", "108", "106", "107", "10");              /* opens above the buy stop */
    assert_dec_equal(nth(f, TB_XR_FILL, 1)->price, "107.21"); /* 107 × 1.002 = 107.214 */
}

static void test_stop_placed_during_a_bar_triggers_on_that_bar(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    bar(f, 1, "100", "101", "94", "96", "10");
    /* Placed after the exchange processed bar 1, stamped with its open time:
     * the stop meets bar 1 at once; a take-profit placed alike waits. */
    tb_order_placement_request sl = stop("sl", TB_SIDE_SELL, "1", "95");
    tb_order_placement_request tp = order("tp", TB_SIDE_SELL, TB_ORDER_LIMIT, "1", "100.5");
    submit(f, &sl, 1 * TBT_MINUTE);
    submit(f, &tp, 1 * TBT_MINUTE);

    assert_int_equal(f->n, 3);
    assert_int_equal(f->resp[0].kind, TB_XR_ACCEPTED);
    assert_int_equal(f->resp[1].kind, TB_XR_FILL);
    assert_string_equal(f->resp[1].client_order_id, "sl");
    assert_dec_equal(f->resp[1].price, "95");
    assert_int_equal(f->resp[1].time, 1 * TBT_MINUTE);
    assert_int_equal(f->resp[2].kind, TB_XR_ACCEPTED);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 1);
}

static void test_stop_placed_after_a_bar_closed_waits_for_the_next_bar(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    bar(f, 1, "100", "101", "94", "96", "10");
    tb_order_placement_request sl = stop("sl", TB_SIDE_SELL, "1", "95");
    submit(f, &sl, 2 * TBT_MINUTE - 1); /* bar 1's close time */
    assert_int_equal(count(f, TB_XR_FILL), 0);
    bar(f, 2, "96", "97", "95.5", "96", "10");
    assert_int_equal(count(f, TB_XR_FILL), 0);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 1);
}

static void test_stop_placed_during_a_bar_gets_only_the_volume_that_bar_has_left(void **state)
{
    fixture *f = *state;
    tb_sim_exchange_config cfg = default_config();
    cfg.max_volume_participation = tbt_dec("0.1");
    cfg.slippage_bps = tbt_dec("20");
    open_exchange(f, &cfg);
    first_bar_at_100(f);
    tb_order_placement_request entry = order("c-1", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL);
    submit(f, &entry, 0);
    bar(f, 1, "100", "101", "94", "96", "10"); /* the entry takes the bar's 1 */
    assert_int_equal(count(f, TB_XR_FILL), 1);
    tb_order_placement_request sl = stop("sl", TB_SIDE_SELL, "1", "95");
    submit(f, &sl, 1 * TBT_MINUTE);
    assert_int_equal(count(f, TB_XR_FILL), 1); /* touched, but nothing left */

    /* Triggered, it trades on as a market order, above its stop too. */
    bar(f, 2, "97", "98", "96.5", "97", "100");
    assert_int_equal(count(f, TB_XR_FILL), 2);
    assert_dec_equal(nth(f, TB_XR_FILL, 1)->price, "96.81"); /* 97 × 0.998 = 96.806 */
}

static void test_partly_filled_stop_keeps_filling_as_market_on_later_bars(void **state)
{
    fixture *f = *state;
    tb_sim_exchange_config cfg = default_config();
    cfg.max_volume_participation = tbt_dec("0.1");
    cfg.slippage_bps = tbt_dec("20");
    open_exchange(f, &cfg);
    first_bar_at_100(f);
    tb_order_placement_request q = stop("c-1", TB_SIDE_SELL, "2", "95");
    submit(f, &q, 0);
    bar(f, 1, "99", "99", "94", "95", "10"); /* at most 1 */
    bar(f, 2, "97", "98", "96.5", "97", "100");

    assert_int_equal(count(f, TB_XR_FILL), 2);
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->quantity, "1");
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->price, "94.81");
    assert_dec_equal(nth(f, TB_XR_FILL, 1)->quantity, "1");
    assert_dec_equal(nth(f, TB_XR_FILL, 1)->price, "96.81");
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
}

static void test_buy_stop_reserves_cash_at_its_stop_when_above_the_market(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    /* 99 × 101 × 1.001: the last close (100) would need only 9909.9. */
    tb_order_placement_request q = stop("c-1", TB_SIDE_BUY, "99", "101");
    expect_rejected(f, &q, TB_REJECT_INSUFFICIENT_FUNDS, "needs 10008.999, only 10000 available");
}

/* ---- brackets: OCO ------------------------------------------------------ */

static void test_stop_wins_when_one_bar_touches_stop_and_target(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    /* The target is older: time priority alone would fill it first. */
    tb_order_placement_request tp = order("tp", TB_SIDE_SELL, TB_ORDER_LIMIT, "1", "110");
    tb_order_placement_request sl = stop("sl", TB_SIDE_SELL, "1", "95");
    strcpy(tp.oco_with, "sl");
    strcpy(sl.oco_with, "tp");
    submit(f, &tp, 0);
    submit(f, &sl, 0);
    bar(f, 1, "100", "111", "94", "100", "1000");

    assert_int_equal(count(f, TB_XR_FILL), 1);
    assert_string_equal(nth(f, TB_XR_FILL, 0)->client_order_id, "sl");
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->price, "95");
    assert_int_equal(count(f, TB_XR_CANCELED), 1);
    assert_string_equal(nth(f, TB_XR_CANCELED, 0)->client_order_id, "tp");
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
}

static void test_oco_partner_canceled_when_one_fills(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request sl = stop("sl", TB_SIDE_SELL, "1", "95");
    tb_order_placement_request tp = order("tp", TB_SIDE_SELL, TB_ORDER_LIMIT, "1", "110");
    strcpy(tp.oco_with, "sl"); /* only the target names its partner */
    submit(f, &sl, 0);
    submit(f, &tp, 0);
    bar(f, 1, "100", "111", "99", "110", "1000");

    assert_int_equal(f->n, 4);
    assert_int_equal(f->resp[2].kind, TB_XR_FILL);
    assert_string_equal(f->resp[2].client_order_id, "tp");
    const tb_exchange_response *r = &f->resp[3];
    assert_int_equal(r->kind, TB_XR_CANCELED);
    assert_string_equal(r->client_order_id, "sl");
    assert_string_equal(r->order_id, "SIM-1");
    assert_dec_equal(r->quantity, "1");
    assert_int_equal(r->time, 1 * TBT_MINUTE);
    assert_string_equal(r->text, "OCO: tp filled");
    assert_int_equal(query_ok(f, "sl").status, TB_ORDER_CANCELED);

    bar(f, 2, "90", "91", "80", "85", "1000");
    assert_int_equal(count(f, TB_XR_FILL), 1);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
}

static void test_oco_partner_canceled_when_only_the_partner_names_the_pair(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request sl = stop("sl", TB_SIDE_SELL, "1", "95");
    tb_order_placement_request tp = order("tp", TB_SIDE_SELL, TB_ORDER_LIMIT, "1", "110");
    strcpy(sl.oco_with, "tp"); /* the stop names the target, which fills */
    submit(f, &sl, 0);
    submit(f, &tp, 0);
    bar(f, 1, "100", "111", "99", "110", "1000");

    assert_int_equal(count(f, TB_XR_CANCELED), 1);
    assert_string_equal(nth(f, TB_XR_CANCELED, 0)->client_order_id, "sl");
    assert_string_equal(nth(f, TB_XR_CANCELED, 0)->text, "OCO: tp filled");
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
}

static void test_oco_partial_fill_cancels_the_partner_and_keeps_working(void **state)
{
    fixture *f = *state;
    open_with_participation(f, "0.1");
    tb_order_placement_request sl = stop("sl", TB_SIDE_SELL, "1", "95");
    tb_order_placement_request tp = order("tp", TB_SIDE_SELL, TB_ORDER_LIMIT, "1", "110");
    strcpy(tp.oco_with, "sl");
    submit(f, &sl, 0);
    submit(f, &tp, 0);
    bar(f, 1, "100", "111", "99", "110", "5"); /* tp: 0.5 of 1 */

    assert_dec_equal(nth(f, TB_XR_FILL, 0)->quantity, "0.5");
    assert_string_equal(nth(f, TB_XR_CANCELED, 0)->client_order_id, "sl");
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 1);
    bar(f, 2, "94", "95", "90", "92", "1000"); /* would have hit the stop */
    assert_int_equal(count(f, TB_XR_FILL), 1);
}

static void test_bracket_stop_and_target_both_close_an_all_in_long(void **state)
{
    fixture *f = *state;
    go_long_with_all_cash(f); /* 99.9 long, 0.01 cash */
    tb_order_placement_request sl = stop("sl", TB_SIDE_SELL, "99.9", "95");
    tb_order_placement_request tp = order("tp", TB_SIDE_SELL, TB_ORDER_LIMIT, "99.9", "110");
    strcpy(sl.oco_with, "tp");
    strcpy(tp.oco_with, "sl");
    submit(f, &sl, 1 * TBT_MINUTE);
    submit(f, &tp, 1 * TBT_MINUTE);

    /* Only one of the pair can ever fill: neither opens a short. */
    assert_int_equal(count(f, TB_XR_ACCEPTED), 2);
    assert_int_equal(count(f, TB_XR_REJECTED), 0);
}

static void stop_canceling_listener(const tb_exchange_response *r, void *ctx)
{
    fixture *f = ctx;
    listen(r, ctx);
    if (r->kind == TB_XR_FILL && strcmp(r->client_order_id, "c-2") == 0)
        assert_int_equal(tb_exchange_cancel(f->ex, "c-1", r->time, NULL), 0);
}

static void test_listener_cancel_during_a_bar_skips_no_other_order(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_exchange_set_listener(f->ex, stop_canceling_listener, f);
    tb_order_placement_request a = order("c-1", TB_SIDE_BUY, TB_ORDER_LIMIT, "1", "50");
    tb_order_placement_request b = order("c-2", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL);
    tb_order_placement_request c = order("c-3", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL);
    submit(f, &a, 0);
    submit(f, &b, 0);
    submit(f, &c, 0);
    bar(f, 1, "100", "101", "99", "100", "1000"); /* c-2's fill cancels c-1, before it */

    assert_int_equal(count(f, TB_XR_FILL), 2);
    assert_string_equal(nth(f, TB_XR_FILL, 0)->client_order_id, "c-2");
    assert_string_equal(nth(f, TB_XR_FILL, 1)->client_order_id, "c-3");
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
}

/* ---- trailing stops ----------------------------------------------------- */

static void test_trailing_stop_follows_close_and_never_moves_back(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = stop("ts", TB_SIDE_SELL, "1", "90");
    q.trailing_pct = tbt_dec("5");
    submit(f, &q, TBT_MINUTE - 1); /* after bar 0 closed: it trails from bar 1 on */
    assert_dec_equal(query_ok(f, "ts").stop_price, "90");

    bar(f, 1, "100", "101", "99", "100", "10");
    assert_dec_equal(query_ok(f, "ts").stop_price, "95"); /* 100 × 0.95 */
    bar(f, 2, "100", "112", "100", "111.11", "10");
    assert_dec_equal(query_ok(f, "ts").stop_price, "105.55"); /* 105.5545, down */
    bar(f, 3, "111", "111", "105.56", "105.6", "10");
    assert_dec_equal(query_ok(f, "ts").stop_price, "105.55"); /* never back */
    assert_int_equal(count(f, TB_XR_FILL), 0);

    bar(f, 4, "105.6", "106", "105.55", "106", "10");
    assert_int_equal(count(f, TB_XR_FILL), 1);
    assert_dec_equal(nth(f, TB_XR_FILL, 0)->price, "105.55");
    assert_dec_equal(query_ok(f, "ts").stop_price, "105.55"); /* as it filled */
}

static void test_buy_trailing_stop_follows_close_down_rounded_up(void **state)
{
    fixture *f = *state;
    first_bar_at_100(f);
    tb_order_placement_request q = stop("ts", TB_SIDE_BUY, "1", "110");
    q.trailing_pct = tbt_dec("5");
    submit(f, &q, TBT_MINUTE - 1);
    bar(f, 1, "100", "101", "99", "100", "10");
    assert_dec_equal(query_ok(f, "ts").stop_price, "105");
    bar(f, 2, "100", "100", "90", "90.01", "10");
    assert_dec_equal(query_ok(f, "ts").stop_price, "94.52"); /* 94.5105, up */
    bar(f, 3, "91", "94.51", "90", "94", "10");
    assert_dec_equal(query_ok(f, "ts").stop_price, "94.52");
    assert_int_equal(count(f, TB_XR_FILL), 0);
}

/* ---- invariants over random bars ---------------------------------------- */

static uint64_t prng_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

#define CENT ((tb_decimal)1000000) /* 0.01, BTCUSDT's tick */

/* v × (100 - pct) / 100 rounded down to the cent. */
static tb_decimal cents_below(tb_decimal v, tb_decimal pct)
{
    __int128 n = (__int128)v * (100 * TB_DECIMAL_ONE - pct) / (100 * TB_DECIMAL_ONE);
    return (tb_decimal)(n / CENT * CENT);
}

/* The least a sell at v less slippage_bps may get: half a tick of rounding. */
static tb_decimal lowest_sell(tb_decimal v, tb_decimal bps)
{
    return v - (tb_decimal)((__int128)v * bps / (10000 * TB_DECIMAL_ONE)) - CENT / 2;
}

/* A SELL stop over random walks, for many slippages, participations, stop
 * distances and trailing percents: it never triggers on a bar whose low is
 * above its stop; the first bar that reaches it fills it (unless the bar's
 * volume cap is 0), never above the stop nor above the open, at that price
 * less slippage (half a tick either way); once triggered it trades the
 * remainder as a market order; a trailing stop follows the close exactly
 * and never moves back. */
static void test_sell_stop_invariants_over_random_bars(void **state)
{
    fixture *f = *state;
    static const char *const slips[] = {"0", "3", "10", "25.5"};
    static const char *const parts[] = {"0", "0.05", "0.5", "1"};
    static const char *const pcts[] = {"0.5", "1", "2", "5"};
    static const char *const trails[] = {"0", "1", "3"};
    static const char *const vols[] = {"0", "1", "4", "15", "200"};
    uint64_t rng = 42;
    size_t triggered_runs = 0, zero_cap_triggers = 0;
    for (size_t c = 0; c < 4 * 4 * 4 * 3 * 2; c++) {
        tb_sim_exchange_config cfg = default_config();
        cfg.slippage_bps = tbt_dec(slips[c % 4]);
        cfg.max_volume_participation = tbt_dec(parts[c / 4 % 4]);
        tb_decimal pct = tbt_dec(pcts[c / 16 % 4]), trail = tbt_dec(trails[c / 64 % 3]);
        open_exchange(f, &cfg);
        first_bar_at_100(f);
        tb_order_placement_request q = order("st", TB_SIDE_SELL, TB_ORDER_STOP_MARKET, "2", NULL);
        q.stop_price = cents_below(100 * TB_DECIMAL_ONE, pct);
        q.trailing_pct = trail;
        submit(f, &q, TBT_MINUTE - 1);
        assert_int_equal(f->resp[f->n - 1].kind, TB_XR_ACCEPTED);

        tb_decimal close = 100 * TB_DECIMAL_ONE, left = 2 * TB_DECIMAL_ONE, stop = q.stop_price;
        int triggered = 0;
        for (int64_t m = 1; m <= 60 && left > 0; m++) {
            tb_market_data b;
            memset(&b, 0, sizeof(b));
            strcpy(b.symbol, SYM);
            b.open = close + ((tb_decimal)(prng_next(&rng) % 201) - 100) * CENT;
            b.close = b.open + ((tb_decimal)(prng_next(&rng) % 301) - 150) * CENT;
            b.high =
                (b.open > b.close ? b.open : b.close) + (tb_decimal)(prng_next(&rng) % 120) * CENT;
            b.low =
                (b.open < b.close ? b.open : b.close) - (tb_decimal)(prng_next(&rng) % 120) * CENT;
            b.volume = tbt_dec(vols[prng_next(&rng) % 5]);
            b.open_time = m * TBT_MINUTE;
            b.close_time = (m + 1) * TBT_MINUTE - 1;
            tb_decimal cap = left;
            if (cfg.max_volume_participation > 0) {
                assert_int_equal(
                    tb_dec_mul(b.volume, cfg.max_volume_participation, TB_ROUND_DOWN, &cap), 0);
                cap = cap / 1000000 * 1000000; /* the 0.001 step */
                if (cap > left) cap = left;
            }
            size_t before = f->n;
            assert_int_equal(tb_exchange_on_market_data(f->ex, &b), 0);
            close = b.close;
            size_t fills = count(f, TB_XR_FILL);
            const tb_exchange_response *fill = fills ? nth(f, TB_XR_FILL, fills - 1) : NULL;
            int filled_now = f->n > before;
            if (filled_now) {
                assert_int_equal(f->n, before + 1);
                assert_int_equal(fill->kind, TB_XR_FILL);
            }
            if (!triggered) {
                if (b.low > stop) {
                    if (filled_now)
                        fail_msg("config %zu bar %lld: filled above its stop", c, (long long)m);
                } else {
                    triggered = 1;
                    triggered_runs++;
                    if (cap == 0) zero_cap_triggers++;
                    assert_int_equal(filled_now, cap > 0);
                    tb_decimal base = b.open < stop ? b.open : stop;
                    if (filled_now) {
                        tb_decimal low_end = lowest_sell(base, cfg.slippage_bps);
                        if (fill->price > stop || fill->price > base || fill->price < low_end)
                            fail_msg("config %zu bar %lld: price out of [%lld, %lld]", c,
                                     (long long)m, (long long)low_end, (long long)base);
                    }
                }
            } else if (filled_now) {
                assert_true(fill->price <= b.open &&
                            fill->price >= lowest_sell(b.open, cfg.slippage_bps));
            } else {
                assert_int_equal(cap, 0);
            }
            if (filled_now) {
                assert_int_equal(fill->quantity, cap);
                left -= fill->quantity;
            }
            if (left > 0) {
                tb_exchange_order_info info = query_ok(f, "st");
                if (!triggered && trail > 0) {
                    tb_decimal to = cents_below(b.close, trail);
                    if (to > stop) stop = to;
                }
                assert_int_equal(info.stop_price, stop);
            }
        }
    }
    /* The walk must have exercised what it checks. */
    assert_true(triggered_runs > 100);
    assert_true(zero_cap_triggers > 0);
}

/* ---- configuration ------------------------------------------------------ */

static void test_create_refuses_fee_out_of_range(void **state)
{
    (void)state;
    tb_sim_exchange_config cfg;
    tb_sim_exchange_config_init(&cfg);
    cfg.fee_bps = tbt_dec("-1");
    tb_exchange *ex = NULL;
    char err[160] = "";
    assert_int_equal(tb_sim_exchange_create(&cfg, &ex, err, sizeof(err)), TB_EINVAL);
    assert_null(ex);
    assert_non_null(strstr(err, "fee_bps"));
}

static void test_config_init_sets_documented_defaults(void **state)
{
    (void)state;
    tb_sim_exchange_config cfg;
    memset(&cfg, 0xAB, sizeof(cfg));
    tb_sim_exchange_config_init(&cfg);
    assert_dec_equal(cfg.initial_cash, "10000");
    assert_dec_equal(cfg.fee_bps, "10");
    assert_dec_equal(cfg.slippage_bps, "0");
    assert_dec_equal(cfg.max_volume_participation, "0");
    assert_null(cfg.symbols);
    assert_int_equal(cfg.nsymbols, 0);
    assert_false(tb_sim_faults_enabled(&cfg.faults));
    assert_int_equal(cfg.faults.retry_after, TBT_SECOND);
    assert_int_equal(cfg.faults.seed, 1);
    assert_int_equal(cfg.track_ids, 0);
    assert_null(cfg.observer);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_market_order_is_acknowledged_but_not_filled_on_its_own_bar),
        T(test_market_order_fills_at_next_bar_open),
        T(test_order_does_not_fill_on_bar_of_another_symbol),
        T(test_bar_delivered_twice_fills_once),
        T(test_bar_delivered_twice_does_not_fill_a_partial_order_twice),
        T(test_slippage_moves_market_buy_price_up),
        T(test_slippage_moves_market_sell_price_down),
        T(test_slippage_price_rounds_half_up_to_tick),
        T(test_slippage_price_is_rounded_once_to_the_tick),
        T(test_limit_buy_fills_at_open_when_bar_opens_below_limit),
        T(test_limit_buy_fills_at_open_when_bar_opens_at_limit),
        T(test_limit_buy_fills_at_limit_when_low_trades_through),
        T(test_limit_buy_does_not_fill_when_low_only_touches_limit),
        T(test_limit_sell_fills_at_open_when_bar_opens_above_limit),
        T(test_limit_sell_fills_at_open_when_bar_opens_at_limit),
        T(test_limit_sell_fills_at_limit_when_high_trades_through),
        T(test_limit_sell_does_not_fill_when_high_only_touches_limit),
        T(test_participation_splits_order_into_partial_fills_over_bars),
        T(test_participation_cap_rounds_down_to_step_size),
        T(test_participation_zero_volume_bar_fills_nothing),
        T(test_commission_is_price_times_quantity_times_fee_bps),
        T(test_commission_rounds_half_up_to_8_decimals),
        T(test_rejects_zero_quantity),
        T(test_rejects_negative_quantity),
        T(test_rejects_quantity_off_step_size),
        T(test_rejects_limit_price_off_tick_size),
        T(test_rejects_non_positive_limit_price),
        T(test_rejects_notional_below_min_notional),
        T(test_accepts_notional_equal_to_min_notional),
        T(test_rejects_unknown_symbol_when_symbols_declared),
        T(test_accepts_any_symbol_when_none_declared),
        T(test_rejects_client_order_id_already_open),
        T(test_client_order_id_can_be_reused_once_closed),
        T(test_rejects_buy_beyond_cash_including_fees),
        T(test_accepts_buy_needing_exactly_the_cash),
        T(test_rejects_buy_needing_one_unit_more_than_the_cash),
        T(test_open_orders_reserve_cash_until_canceled),
        T(test_sell_reducing_long_needs_no_cash),
        T(test_sell_beyond_long_needs_cash_for_the_excess),
        T(test_sells_already_open_count_against_the_long),
        T(test_cancel_returns_canceled_with_remaining_quantity),
        T(test_cancel_after_partial_fill_returns_the_remainder),
        T(test_canceled_order_never_fills),
        T(test_cancel_unknown_id_is_enotfound),
        T(test_cancel_twice_is_enotfound_the_second_time),
        T(test_query_finds_open_order_as_new),
        T(test_query_reports_cumulative_quantity_of_partial_fill),
        T(test_query_finds_filled_order_after_it_left_the_book),
        T(test_query_finds_canceled_order),
        T(test_query_unknown_or_rejected_id_is_enotfound),
        T(test_timeout_fault_never_reaches_the_book),
        T(test_lost_ack_fault_leaves_the_order_live_without_a_reply),
        T(test_server_error_fault_before_processing_changes_nothing),
        T(test_server_error_fault_after_processing_leaves_the_order_live),
        T(test_rate_limit_fault_tells_retry_after),
        T(test_connection_lost_fault_sends_nothing),
        T(test_lost_reply_hides_a_rejection_too),
        T(test_query_timeout_fault_answers_nothing),
        T(test_cancel_with_lost_reply_still_cancels),
        T(test_random_faults_are_deterministic_per_seed_and_near_their_rates),
        T(test_no_fault_spec_injects_nothing_and_tracks_no_ids),
        T(test_id_stats_count_submits_and_acceptances_per_client_order_id),
        T(test_ioc_fills_what_it_can_on_its_first_bar_and_expires_the_rest),
        T(test_ioc_expires_whole_when_its_first_bar_does_not_reach_the_limit),
        T(test_fok_fills_all_or_expires_all),
        T(test_expired_ioc_remainder_releases_its_reservation),
        T(test_stop_rejected_without_stop_price),
        T(test_stop_rejected_off_tick_size),
        T(test_sell_stop_triggers_when_low_touches_and_fills_at_stop_less_slippage),
        T(test_buy_stop_triggers_when_high_touches_and_fills_at_stop_plus_slippage),
        T(test_stop_gap_fills_at_open),
        T(test_stop_placed_during_a_bar_triggers_on_that_bar),
        T(test_stop_placed_after_a_bar_closed_waits_for_the_next_bar),
        T(test_stop_placed_during_a_bar_gets_only_the_volume_that_bar_has_left),
        T(test_partly_filled_stop_keeps_filling_as_market_on_later_bars),
        T(test_buy_stop_reserves_cash_at_its_stop_when_above_the_market),
        T(test_stop_wins_when_one_bar_touches_stop_and_target),
        T(test_oco_partner_canceled_when_one_fills),
        T(test_oco_partner_canceled_when_only_the_partner_names_the_pair),
        T(test_oco_partial_fill_cancels_the_partner_and_keeps_working),
        T(test_bracket_stop_and_target_both_close_an_all_in_long),
        T(test_listener_cancel_during_a_bar_skips_no_other_order),
        T(test_trailing_stop_follows_close_and_never_moves_back),
        T(test_buy_trailing_stop_follows_close_down_rounded_up),
        T(test_sell_stop_invariants_over_random_bars),
        T(test_create_refuses_fee_out_of_range),
        T(test_config_init_sets_documented_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
