/* Risk Manager: pre-trade rules at and past their limits, the drawdown halt
 * and the state it builds from events, driven through the real bus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tradebus/orders.h"
#include "tradebus/risk.h"

#define MAX_CAPTURED 16
#define SECOND       INT64_C(1000000000)

typedef struct {
    tb_bus *bus;
    tb_risk_manager *rm;
    tb_event alerts[MAX_CAPTURED];
    size_t n;
    char rule[TB_RULE_LEN];
    char detail[TB_TEXT_LEN];
    uint64_t last_request_id;
    int64_t minute;        /* of the next bar: bars of a symbol must move forward */
    int64_t last_bar_time; /* the last bar's close time (and event time) */
} fixture;

static tb_decimal dec(const char *s)
{
    tb_decimal d = 0;
    assert_int_equal(tb_dec_parse(s, (size_t)-1, &d), 0);
    return d;
}

#define assert_dec(actual, expected) assert_dec_at((actual), (expected), __FILE__, __LINE__)
static void assert_dec_at(tb_decimal actual, const char *expected, const char *file, int line)
{
    if (actual == dec(expected)) return;
    char got[TB_DECIMAL_STRLEN];
    tb_dec_format(actual, got, sizeof(got));
    fail_msg("%s:%d: decimal %s, expected %s", file, line, got, expected);
}

static int capture(const tb_event *ev, void *ctx)
{
    fixture *f = ctx;
    assert_true(f->n < MAX_CAPTURED);
    f->alerts[f->n++] = *ev;
    return 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(tb_bus_create(NULL, &f->bus), 0);
    assert_true(tb_bus_subscribe(f->bus, TB_EV_RISK_ALERT, capture, f) >= 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tb_risk_manager_destroy(f->rm);
    tb_bus_destroy(f->bus);
    free(f);
    return 0;
}

static void start(fixture *f, const tb_risk_config *cfg)
{
    assert_int_equal(tb_risk_manager_create(f->bus, cfg, &f->rm), 0);
}

/* A flat bar (open = high = low = close), a minute after the last one. */
static uint64_t bar(fixture *f, const char *symbol, const char *close)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
    tb_market_data *md = &ev.u.market_data;
    assert_int_equal(tb_str_copy(md->symbol, sizeof(md->symbol), symbol), 0);
    md->open = md->high = md->low = md->close = dec(close);
    md->volume = dec("1");
    md->open_time = f->minute++ * 60 * SECOND;
    md->close_time = md->open_time + 60 * SECOND - 1;
    ev.timestamp = f->last_bar_time = md->close_time;
    assert_int_equal(tb_bus_publish(f->bus, &ev), 0);
    return ev.event_id;
}

static void position(fixture *f, const char *strategy, const char *symbol, uint64_t id,
                     const char *qty, const char *entry, const char *realized)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_POSITION_UPDATE, TB_SRC_POSITIONS);
    tb_position_update *p = &ev.u.position;
    p->position_id = id;
    assert_int_equal(tb_str_copy(p->strategy_id, sizeof(p->strategy_id), strategy), 0);
    assert_int_equal(tb_str_copy(p->symbol, sizeof(p->symbol), symbol), 0);
    p->current_quantity = dec(qty);
    p->entry_price = dec(entry);
    p->mark_price = dec(entry);
    p->realized_pnl = dec(realized);
    p->status = p->current_quantity ? TB_POSITION_OPEN : TB_POSITION_CLOSED;
    assert_int_equal(tb_bus_publish(f->bus, &ev), 0);
}

/* An acknowledgement (NEW) of a MARKET buy of 1 BTCUSDT for s1. */
static tb_event created_event(const char *client_id)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_ORDER_CREATED, TB_SRC_ORDERS);
    tb_order_created *o = &ev.u.order_created;
    assert_int_equal(tb_str_copy(o->client_order_id, sizeof(o->client_order_id), client_id), 0);
    assert_int_equal(tb_str_copy(o->strategy_id, sizeof(o->strategy_id), "s1"), 0);
    assert_int_equal(tb_str_copy(o->symbol, sizeof(o->symbol), "BTCUSDT"), 0);
    o->status = TB_ORDER_NEW;
    o->order_type = TB_ORDER_MARKET;
    o->side = TB_SIDE_BUY;
    o->quantity = dec("1");
    return ev;
}

static void order_created(fixture *f, const char *client_id)
{
    tb_event ev = created_event(client_id);
    assert_int_equal(tb_bus_publish(f->bus, &ev), 0);
}

static void order_filled(fixture *f, const char *client_id, tb_order_status status,
                         const char *commission)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_ORDER_FILLED, TB_SRC_ORDERS);
    tb_order_filled *o = &ev.u.order_filled;
    assert_int_equal(tb_str_copy(o->client_order_id, sizeof(o->client_order_id), client_id), 0);
    assert_int_equal(tb_str_copy(o->strategy_id, sizeof(o->strategy_id), "s1"), 0);
    assert_int_equal(tb_str_copy(o->symbol, sizeof(o->symbol), "BTCUSDT"), 0);
    o->side = TB_SIDE_BUY;
    /* A partial fill takes half of the order's 1, a FILLED one the rest. */
    o->filled_quantity = dec(status == TB_ORDER_FILLED ? "1" : "0.5");
    o->filled_price = dec("100");
    o->commission = dec(commission);
    o->cumulative_quantity = o->filled_quantity;
    o->average_price = o->filled_price;
    o->status = status;
    assert_int_equal(tb_bus_publish(f->bus, &ev), 0);
}

static void order_rejected(fixture *f, const char *client_id)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_ORDER_REJECTED, TB_SRC_ORDERS);
    tb_order_rejected *o = &ev.u.order_rejected;
    assert_int_equal(tb_str_copy(o->client_order_id, sizeof(o->client_order_id), client_id), 0);
    assert_int_equal(tb_str_copy(o->strategy_id, sizeof(o->strategy_id), "s1"), 0);
    assert_int_equal(tb_str_copy(o->symbol, sizeof(o->symbol), "BTCUSDT"), 0);
    o->side = TB_SIDE_BUY;
    o->order_type = TB_ORDER_MARKET;
    o->quantity = dec("1");
    o->reason = TB_REJECT_EXCHANGE;
    assert_int_equal(tb_bus_publish(f->bus, &ev), 0);
}

static void order_canceled(fixture *f, const char *client_id)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_ORDER_CANCELED, TB_SRC_ORDERS);
    tb_order_canceled *o = &ev.u.order_canceled;
    assert_int_equal(tb_str_copy(o->client_order_id, sizeof(o->client_order_id), client_id), 0);
    assert_int_equal(tb_str_copy(o->strategy_id, sizeof(o->strategy_id), "s1"), 0);
    assert_int_equal(tb_str_copy(o->symbol, sizeof(o->symbol), "BTCUSDT"), 0);
    o->side = TB_SIDE_BUY;
    o->canceled_quantity = dec("1");
    o->status = TB_ORDER_CANCELED;
    assert_int_equal(tb_bus_publish(f->bus, &ev), 0);
}

/* Builds and publishes a request (so it has an id to be named as a cause),
 * then asks the pre-trade check, as the Order Manager does. */
static int check_at(fixture *f, const char *symbol, tb_side side, tb_order_type type,
                    const char *qty, const char *price, int64_t ts)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_ORDER_PLACEMENT_REQUEST, TB_SRC_ORDERS);
    ev.timestamp = ts;
    ev.correlation_id = 0x55;
    tb_order_placement_request *q = &ev.u.order_request;
    q->order_type = type;
    q->side = side;
    assert_int_equal(tb_str_copy(q->symbol, sizeof(q->symbol), symbol), 0);
    assert_int_equal(tb_str_copy(q->strategy_id, sizeof(q->strategy_id), "s9"), 0);
    assert_int_equal(tb_str_copy(q->client_order_id, sizeof(q->client_order_id), "s9-1"), 0);
    q->quantity = dec(qty);
    q->price = price ? dec(price) : 0;
    assert_int_equal(tb_bus_publish(f->bus, &ev), 0);
    f->last_request_id = ev.event_id;
    f->rule[0] = f->detail[0] = '\0';
    tb_pretrade_fn fn = tb_risk_manager_pretrade; /* it is installable as the hook */
    return fn(f->rm, &ev, f->rule, sizeof(f->rule), f->detail, sizeof(f->detail));
}

/* The Order Manager's way in: the position and working orders it knows. */
static int check_view(fixture *f, tb_side side, const char *qty, const char *position,
                      const char *working, tb_decimal *allowed)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_ORDER_PLACEMENT_REQUEST, TB_SRC_ORDERS);
    ev.correlation_id = 0x55;
    tb_order_placement_request *q = &ev.u.order_request;
    q->order_type = TB_ORDER_MARKET;
    q->side = side;
    assert_int_equal(tb_str_copy(q->symbol, sizeof(q->symbol), "BTCUSDT"), 0);
    assert_int_equal(tb_str_copy(q->strategy_id, sizeof(q->strategy_id), "s9"), 0);
    assert_int_equal(tb_str_copy(q->client_order_id, sizeof(q->client_order_id), "s9-1"), 0);
    q->quantity = dec(qty);
    assert_int_equal(tb_bus_publish(f->bus, &ev), 0);
    f->last_request_id = ev.event_id;
    f->rule[0] = f->detail[0] = '\0';
    tb_pretrade_view v = {dec(position), dec(working), q->quantity};
    tb_pretrade_view_fn fn = tb_risk_manager_pretrade_view; /* installable as the hook */
    int rc = fn(f->rm, &ev, &v, f->rule, sizeof(f->rule), f->detail, sizeof(f->detail));
    if (allowed) *allowed = v.quantity;
    return rc;
}

static int check(fixture *f, tb_side side, const char *qty)
{
    return check_at(f, "BTCUSDT", side, TB_ORDER_MARKET, qty, NULL, 0);
}

static int check_limit(fixture *f, tb_side side, const char *qty, const char *price)
{
    return check_at(f, "BTCUSDT", side, TB_ORDER_LIMIT, qty, price, 0);
}

/* The refusal names its rule, and the last alert says the same. */
static void assert_refused(fixture *f, int rc, const char *rule, const char *detail)
{
    assert_int_equal(rc, TB_EREJECTED);
    assert_string_equal(f->rule, rule);
    assert_string_equal(f->detail, detail);
    assert_true(f->n > 0);
    const tb_event *ev = &f->alerts[f->n - 1];
    assert_int_equal(ev->source, TB_SRC_RISK);
    assert_int_equal(ev->causation_id, f->last_request_id);
    assert_int_equal(ev->correlation_id, 0x55);
    assert_string_equal(ev->u.risk_alert.rule, rule);
    assert_string_equal(ev->u.risk_alert.detail, detail);
    assert_string_equal(ev->u.risk_alert.strategy_id, "s9");
    assert_string_equal(ev->u.risk_alert.symbol, "BTCUSDT");
    assert_int_equal(ev->u.risk_alert.trading_state, tb_risk_manager_state(f->rm));
}

static void test_risk_config_defaults_and_negative_limits(void **state)
{
    fixture *f = *state;
    tb_risk_config cfg;
    tb_risk_config_init(&cfg);
    assert_dec(cfg.initial_equity, "10000");
    assert_int_equal(cfg.max_position, 0);
    assert_int_equal(cfg.max_order_notional, 0);
    assert_int_equal(cfg.max_open_orders, 0);
    assert_int_equal(cfg.price_band_pct, 0);
    assert_int_equal(cfg.max_orders_per_minute, 0);
    assert_int_equal(cfg.max_drawdown_pct, 0);

    tb_risk_config bad = cfg;
    bad.max_position = -1;
    assert_int_equal(tb_risk_manager_create(f->bus, &bad, &f->rm), TB_EINVAL);
    bad = cfg;
    bad.max_order_notional = -1;
    assert_int_equal(tb_risk_manager_create(f->bus, &bad, &f->rm), TB_EINVAL);
    bad = cfg;
    bad.max_open_orders = -1;
    assert_int_equal(tb_risk_manager_create(f->bus, &bad, &f->rm), TB_EINVAL);
    bad = cfg;
    bad.price_band_pct = -1;
    assert_int_equal(tb_risk_manager_create(f->bus, &bad, &f->rm), TB_EINVAL);
    bad = cfg;
    bad.max_orders_per_minute = -1;
    assert_int_equal(tb_risk_manager_create(f->bus, &bad, &f->rm), TB_EINVAL);
    bad = cfg;
    bad.max_drawdown_pct = -1;
    assert_int_equal(tb_risk_manager_create(f->bus, &bad, &f->rm), TB_EINVAL);
    assert_null(f->rm);

    start(f, NULL);
    assert_dec(tb_risk_manager_equity(f->rm), "10000");
    assert_int_equal(tb_risk_manager_state(f->rm), TB_TRADING_ACTIVE);
}

static void test_risk_allows_everything_with_rules_off(void **state)
{
    fixture *f = *state;
    start(f, NULL);
    bar(f, "BTCUSDT", "100");
    for (int i = 0; i < 50; i++)
        order_created(f, i % 2 ? "a" : "b");
    assert_int_equal(check(f, TB_SIDE_BUY, "1000000"), 0);
    assert_int_equal(check_limit(f, TB_SIDE_SELL, "5", "1"), 0);
    assert_int_equal(f->n, 0);
}

static void test_risk_rejects_order_over_notional(void **state)
{
    fixture *f = *state;
    tb_risk_config cfg;
    tb_risk_config_init(&cfg);
    cfg.max_order_notional = dec("10000");
    start(f, &cfg);
    bar(f, "BTCUSDT", "100");

    assert_int_equal(check(f, TB_SIDE_BUY, "100"), 0); /* exactly at the limit */
    assert_int_equal(f->n, 0);
    assert_refused(f, check(f, TB_SIDE_BUY, "100.00000001"), "max_order_notional",
                   "notional 10000.000001 exceeds 10000");
    assert_int_equal(f->n, 1);
    assert_int_equal(f->alerts[0].timestamp, 0);

    /* A LIMIT order is valued at its own price. */
    assert_int_equal(check_limit(f, TB_SIDE_SELL, "2", "5000"), 0);
    assert_refused(f, check_limit(f, TB_SIDE_SELL, "2", "5000.00000001"), "max_order_notional",
                   "notional 10000.00000002 exceeds 10000");
    /* 10000.000000001 is past the limit by less than the last digit: still
     * refused (compared exactly) and shown rounded up. */
    assert_refused(f, check_limit(f, TB_SIDE_SELL, "0.1", "100000.00000001"), "max_order_notional",
                   "notional 10000.00000001 exceeds 10000");
    assert_int_equal(f->n, 3);
}

static void test_risk_skips_notional_for_market_order_without_close(void **state)
{
    fixture *f = *state;
    tb_risk_config cfg;
    tb_risk_config_init(&cfg);
    cfg.max_order_notional = dec("10000");
    start(f, &cfg);
    bar(f, "ETHUSDT", "1");                                /* another symbol's close */
    assert_int_equal(check(f, TB_SIDE_BUY, "1000000"), 0); /* no close: nothing to value */
    assert_refused(f, check_limit(f, TB_SIDE_BUY, "1000", "11"), "max_order_notional",
                   "notional 11000 exceeds 10000");
}

static void test_risk_rejects_position_past_limit(void **state)
{
    fixture *f = *state;
    tb_risk_config cfg;
    tb_risk_config_init(&cfg);
    cfg.max_position = dec("2");
    start(f, &cfg);
    position(f, "s1", "BTCUSDT", 1, "1.5", "100", "0");

    assert_int_equal(check(f, TB_SIDE_BUY, "0.5"), 0);
    assert_refused(f, check(f, TB_SIDE_BUY, "0.50000001"), "max_position",
                   "position 2.00000001 exceeds 2");
    assert_int_equal(check(f, TB_SIDE_SELL, "3.5"), 0);
    assert_refused(f, check(f, TB_SIDE_SELL, "3.50000001"), "max_position",
                   "position -2.00000001 exceeds 2");

    /* The limit is on the symbol across strategies. */
    position(f, "s2", "BTCUSDT", 2, "0.5", "100", "0");
    assert_refused(f, check(f, TB_SIDE_BUY, "0.00000001"), "max_position",
                   "position 2.00000001 exceeds 2");
    assert_int_equal(check_at(f, "ETHUSDT", TB_SIDE_BUY, TB_ORDER_MARKET, "2", NULL, 0), 0);
    /* Later updates replace, not add: s1 is now flat. */
    position(f, "s1", "BTCUSDT", 1, "0", "0", "3");
    assert_int_equal(check(f, TB_SIDE_BUY, "1.5"), 0);
    assert_int_equal(f->n, 3);
}

static void test_risk_rules_checked_in_documented_order(void **state)
{
    fixture *f = *state;
    tb_risk_config cfg;
    tb_risk_config_init(&cfg);
    cfg.max_position = dec("1");
    cfg.max_order_notional = dec("10");
    cfg.max_open_orders = 1;
    start(f, &cfg);
    order_created(f, "o1");
    assert_refused(f, check_limit(f, TB_SIDE_BUY, "2", "100"), "max_position",
                   "position 2 exceeds 1");
    assert_refused(f, check_limit(f, TB_SIDE_BUY, "1", "100"), "max_order_notional",
                   "notional 100 exceeds 10");
    assert_refused(f, check_limit(f, TB_SIDE_BUY, "1", "10"), "max_open_orders",
                   "1 open orders, limit 1");
}

static void test_risk_counts_open_orders_through_lifecycle(void **state)
{
    fixture *f = *state;
    tb_risk_config cfg;
    tb_risk_config_init(&cfg);
    cfg.max_open_orders = 2;
    start(f, &cfg);

    order_created(f, "c1");
    assert_int_equal(check(f, TB_SIDE_BUY, "1"), 0); /* 1 open: a second is within 2 */
    order_created(f, "c2");
    assert_int_equal(tb_risk_manager_open_orders(f->rm), 2);
    assert_refused(f, check(f, TB_SIDE_BUY, "1"), "max_open_orders", "2 open orders, limit 2");

    order_filled(f, "c1", TB_ORDER_PARTIALLY_FILLED, "0");
    assert_int_equal(tb_risk_manager_open_orders(f->rm), 2); /* still working */
    order_filled(f, "c1", TB_ORDER_FILLED, "0");
    assert_int_equal(tb_risk_manager_open_orders(f->rm), 1);
    assert_int_equal(check(f, TB_SIDE_BUY, "1"), 0);

    order_created(f, "c3");
    order_canceled(f, "c2");
    assert_int_equal(tb_risk_manager_open_orders(f->rm), 1);
    /* Rejected before any ack (e.g. by this very manager): never counted. */
    order_rejected(f, "never-acked");
    assert_int_equal(tb_risk_manager_open_orders(f->rm), 1);
    /* An acknowledged order cannot be rejected (NEW → REJECTED is illegal):
     * refused, and still open until its cancel. */
    order_rejected(f, "c3");
    assert_int_equal(tb_risk_manager_open_orders(f->rm), 1);
    order_canceled(f, "c3");
    assert_int_equal(tb_risk_manager_open_orders(f->rm), 0);
    assert_int_equal(tb_bus_dead_letter_count(f->bus), 1);

    /* A redelivered ack (the same event) counts once; a second ack with its
     * own id is refused, and so are a second cancel and a fill after it:
     * the count never goes below zero. */
    tb_event ack = created_event("c4");
    assert_int_equal(tb_bus_publish(f->bus, &ack), 0);
    assert_int_equal(tb_bus_publish(f->bus, &ack), 0);
    assert_int_equal(tb_bus_dead_letter_count(f->bus), 1);
    order_created(f, "c4");
    assert_int_equal(tb_risk_manager_open_orders(f->rm), 1);
    order_canceled(f, "c4");
    order_canceled(f, "c4");
    order_filled(f, "c4", TB_ORDER_FILLED, "0");
    assert_int_equal(tb_risk_manager_open_orders(f->rm), 0);
    assert_int_equal(tb_bus_dead_letter_count(f->bus), 4);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(tb_bus_dead_letter(f->bus, i)->subscriber, "risk");
        assert_int_equal(tb_bus_dead_letter(f->bus, i)->error, TB_ESTATE);
    }
    assert_int_equal(f->n, 1);
}

static void test_risk_open_order_set_survives_growth_and_removal(void **state)
{
    fixture *f = *state;
    start(f, NULL);
    char id[TB_ORDER_ID_LEN];
    for (int i = 0; i < 500; i++) {
        snprintf(id, sizeof(id), "o-%d", i);
        order_created(f, id);
    }
    assert_int_equal(tb_risk_manager_open_orders(f->rm), 500);
    for (int i = 0; i < 500; i += 2) {
        snprintf(id, sizeof(id), "o-%d", i);
        order_canceled(f, id);
    }
    assert_int_equal(tb_risk_manager_open_orders(f->rm), 250);
    /* Every odd id must still be findable after the deletions' shifts. */
    for (int i = 1; i < 500; i += 2) {
        snprintf(id, sizeof(id), "o-%d", i);
        order_filled(f, id, TB_ORDER_FILLED, "0");
        assert_int_equal(tb_risk_manager_open_orders(f->rm), (size_t)(500 - i) / 2);
    }
    assert_int_equal(tb_risk_manager_open_orders(f->rm), 0);
    assert_int_equal(tb_bus_dead_letter_count(f->bus), 0);
}

static void test_risk_rejects_limit_price_outside_band(void **state)
{
    fixture *f = *state;
    tb_risk_config cfg;
    tb_risk_config_init(&cfg);
    cfg.price_band_pct = dec("5");
    start(f, &cfg);

    assert_int_equal(check_limit(f, TB_SIDE_BUY, "1", "1000"), 0); /* no close yet */
    bar(f, "BTCUSDT", "100");
    assert_int_equal(check_limit(f, TB_SIDE_BUY, "1", "105"), 0);
    assert_refused(f, check_limit(f, TB_SIDE_BUY, "1", "105.00000001"), "price_band_pct",
                   "price 105.00000001 is 5.00% from last close 100, limit 5%");
    assert_int_equal(check_limit(f, TB_SIDE_SELL, "1", "95"), 0);
    assert_refused(f, check_limit(f, TB_SIDE_SELL, "1", "94.99999999"), "price_band_pct",
                   "price 94.99999999 is 5.00% from last close 100, limit 5%");
    assert_refused(f, check_limit(f, TB_SIDE_SELL, "1", "80"), "price_band_pct",
                   "price 80 is 20.00% from last close 100, limit 5%");
    assert_int_equal(check(f, TB_SIDE_BUY, "1"), 0); /* MARKET has no price to band */
    assert_int_equal(f->n, 3);
}

static void test_risk_per_minute_window_slides(void **state)
{
    fixture *f = *state;
    tb_risk_config cfg;
    tb_risk_config_init(&cfg);
    cfg.max_orders_per_minute = 2;
    start(f, &cfg);
    const int64_t t0 = 1700000000 * SECOND;

    assert_int_equal(check_at(f, "BTCUSDT", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL, t0), 0);
    assert_int_equal(
        check_at(f, "BTCUSDT", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL, t0 + 10 * SECOND), 0);
    assert_refused(
        f, check_at(f, "BTCUSDT", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL, t0 + 60 * SECOND - 1),
        "max_orders_per_minute", "2 orders in the last 60 s, limit 2");
    assert_int_equal(f->alerts[f->n - 1].timestamp, t0 + 60 * SECOND - 1);
    /* The order at t0 leaves the window exactly 60 s later. */
    assert_int_equal(
        check_at(f, "BTCUSDT", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL, t0 + 60 * SECOND), 0);
    /* Now t0+10 s and t0+60 s are inside; the refused order did not count. */
    assert_refused(
        f, check_at(f, "BTCUSDT", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL, t0 + 70 * SECOND - 1),
        "max_orders_per_minute", "2 orders in the last 60 s, limit 2");
    assert_int_equal(
        check_at(f, "BTCUSDT", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL, t0 + 70 * SECOND), 0);
    assert_int_equal(f->n, 2);
}

static void test_risk_refused_orders_do_not_count_toward_rate(void **state)
{
    fixture *f = *state;
    tb_risk_config cfg;
    tb_risk_config_init(&cfg);
    cfg.max_orders_per_minute = 1;
    cfg.max_position = dec("1");
    start(f, &cfg);
    assert_int_equal(check(f, TB_SIDE_BUY, "2"), TB_EREJECTED); /* max_position */
    assert_int_equal(check(f, TB_SIDE_BUY, "1"), 0);
    assert_refused(f, check(f, TB_SIDE_BUY, "1"), "max_orders_per_minute",
                   "1 orders in the last 60 s, limit 1");
}

static void test_risk_drawdown_halts_then_allows_only_reducing_orders(void **state)
{
    fixture *f = *state;
    tb_risk_config cfg;
    tb_risk_config_init(&cfg);
    cfg.max_drawdown_pct = dec("15");
    start(f, &cfg);
    position(f, "s1", "BTCUSDT", 1, "100", "100", "0");

    bar(f, "BTCUSDT", "100");
    bar(f, "BTCUSDT", "90");
    assert_dec(tb_risk_manager_equity(f->rm), "9000");
    assert_int_equal(tb_risk_manager_state(f->rm), TB_TRADING_ACTIVE);
    assert_int_equal(f->n, 0);

    uint64_t cause = bar(f, "BTCUSDT", "80");
    assert_int_equal(tb_risk_manager_state(f->rm), TB_TRADING_HALTED);
    assert_dec(tb_risk_manager_equity(f->rm), "8000");
    assert_dec(tb_risk_manager_max_drawdown_pct(f->rm), "20");
    assert_int_equal(f->n, 1);
    const tb_event *ev = &f->alerts[0];
    assert_int_equal(ev->causation_id, cause);
    assert_int_equal(ev->correlation_id, cause);
    assert_int_equal(ev->timestamp, f->last_bar_time);
    assert_string_equal(ev->u.risk_alert.rule, "max_drawdown_pct");
    assert_string_equal(ev->u.risk_alert.detail, "drawdown 20.00% > 15% (equity 8000, peak 10000)");
    assert_int_equal(ev->u.risk_alert.trading_state, TB_TRADING_HALTED);
    assert_string_equal(ev->u.risk_alert.symbol, "BTCUSDT");

    bar(f, "BTCUSDT", "70"); /* halted once: no second alert */
    assert_int_equal(f->n, 1);
    assert_dec(tb_risk_manager_max_drawdown_pct(f->rm), "30");

    assert_refused(f, check(f, TB_SIDE_BUY, "1"), "trading_state",
                   "HALTED: order would increase position 100 to 101");
    assert_int_equal(f->alerts[f->n - 1].u.risk_alert.trading_state, TB_TRADING_HALTED);
    assert_int_equal(check(f, TB_SIDE_SELL, "1"), 0);
    assert_int_equal(check(f, TB_SIDE_SELL, "100"), 0); /* a close */
    /* Reduce-only: a flip crosses zero (without a view it cannot be cut). */
    assert_refused(f, check(f, TB_SIDE_SELL, "200"), "trading_state",
                   "HALTED: order would flip position 100 to -100");
    assert_refused(f, check(f, TB_SIDE_SELL, "201"), "trading_state",
                   "HALTED: order would flip position 100 to -101");
    assert_int_equal(check_at(f, "ETHUSDT", TB_SIDE_BUY, TB_ORDER_MARKET, "1", NULL, 0),
                     TB_EREJECTED);

    /* Recovery does not lift a halt by itself. */
    bar(f, "BTCUSDT", "150");
    assert_int_equal(tb_risk_manager_state(f->rm), TB_TRADING_HALTED);
    assert_int_equal(check(f, TB_SIDE_BUY, "1"), TB_EREJECTED);
}

/* The repro: a short of 0.1 flipping long with BUY 0.2 ends at
 * +0.1, inside max_position 0.1 — judged on the position the Order Manager
 * knows (every fill so far), not on the Risk Manager's older picture. */
static void test_risk_view_judges_the_position_after_every_fill(void **state)
{
    fixture *f = *state;
    tb_risk_config cfg;
    tb_risk_config_init(&cfg);
    cfg.max_position = dec("0.1");
    start(f, &cfg);
    /* The Risk Manager has not heard of the fill yet: it still sees +0.1. */
    position(f, "s9", "BTCUSDT", 1, "0.1", "100", "0");
    tb_decimal q;
    assert_int_equal(check_view(f, TB_SIDE_BUY, "0.2", "-0.1", "0", &q), 0);
    assert_dec(q, "0.2");
    /* Where the limit truly binds, the order is refused. */
    assert_refused(f, check_view(f, TB_SIDE_BUY, "0.3", "-0.1", "0", NULL), "max_position",
                   "position 0.2 exceeds 0.1");
    /* Working orders on the same side count as if they filled. */
    assert_refused(f, check_view(f, TB_SIDE_BUY, "0.1", "0", "0.05", NULL), "max_position",
                   "position 0.15 exceeds 0.1");
    assert_int_equal(check_view(f, TB_SIDE_BUY, "0.05", "0", "0.05", NULL), 0);
    /* An order that reduces is never refused by the limit. */
    assert_int_equal(check_view(f, TB_SIDE_SELL, "0.1", "0.3", "0", NULL), 0);
}

/* Halted, a flip is cut to a close, and the alert says so. */
static void test_risk_halt_cuts_a_flip_to_a_close(void **state)
{
    fixture *f = *state;
    tb_risk_config cfg;
    tb_risk_config_init(&cfg);
    cfg.max_drawdown_pct = dec("10");
    start(f, &cfg);
    position(f, "s1", "BTCUSDT", 1, "100", "100", "0");
    bar(f, "BTCUSDT", "100");
    bar(f, "BTCUSDT", "80");
    assert_int_equal(tb_risk_manager_state(f->rm), TB_TRADING_HALTED);
    size_t before = f->n;
    tb_decimal q;
    int rc = check_view(f, TB_SIDE_SELL, "1.5", "1", "0", &q);
    if (rc) fail_msg("%s: %s", f->rule, f->detail);
    assert_dec(q, "1");
    assert_int_equal(f->n, before + 1);
    assert_string_equal(f->alerts[f->n - 1].u.risk_alert.rule, "trading_state");
    assert_string_equal(f->alerts[f->n - 1].u.risk_alert.detail,
                        "HALTED: reduce only: SELL 1.5 cut to 1, a close");
    /* Another SELL already working takes part of the position. */
    assert_int_equal(check_view(f, TB_SIDE_SELL, "1", "1", "-0.75", &q), 0);
    assert_dec(q, "0.25");
    /* From flat, or on the position's side, nothing passes. */
    assert_refused(f, check_view(f, TB_SIDE_BUY, "1", "0", "0", NULL), "trading_state",
                   "HALTED: order would increase position 0 to 1");
    assert_refused(f, check_view(f, TB_SIDE_BUY, "1", "1", "0", NULL), "trading_state",
                   "HALTED: order would increase position 1 to 2");
    /* A plain reduction passes as it is. */
    assert_int_equal(check_view(f, TB_SIDE_SELL, "0.5", "1", "0", &q), 0);
    assert_dec(q, "0.5");
}

static void test_risk_drawdown_at_limit_does_not_halt(void **state)
{
    fixture *f = *state;
    tb_risk_config cfg;
    tb_risk_config_init(&cfg);
    cfg.max_drawdown_pct = dec("15");
    start(f, &cfg);
    position(f, "s1", "BTCUSDT", 1, "100", "100", "0");

    bar(f, "BTCUSDT", "85"); /* 8500: exactly 15% below 10000 */
    assert_int_equal(tb_risk_manager_state(f->rm), TB_TRADING_ACTIVE);
    assert_dec(tb_risk_manager_max_drawdown_pct(f->rm), "15");

    bar(f, "BTCUSDT", "120"); /* new peak 12000 */
    bar(f, "BTCUSDT", "102"); /* 10200: exactly 15% below 12000 */
    assert_int_equal(tb_risk_manager_state(f->rm), TB_TRADING_ACTIVE);
    assert_int_equal(f->n, 0);

    /* 1800.000001 / 12000 = 15.0000000083…%: past the limit, however small. */
    bar(f, "BTCUSDT", "101.99999999");
    assert_int_equal(tb_risk_manager_state(f->rm), TB_TRADING_HALTED);
    assert_dec(tb_risk_manager_max_drawdown_pct(f->rm), "15.00000001");
    assert_int_equal(f->n, 1);
    assert_string_equal(f->alerts[0].u.risk_alert.detail,
                        "drawdown 15.00% > 15% (equity 10199.999999, peak 12000)");
}

static void test_risk_drawdown_past_limit_by_less_than_a_digit_halts(void **state)
{
    fixture *f = *state;
    tb_risk_config cfg;
    tb_risk_config_init(&cfg);
    cfg.max_drawdown_pct = dec("15");
    start(f, &cfg);
    position(f, "s1", "BTCUSDT", 1, "1", "10000", "0");
    bar(f, "BTCUSDT", "8500");
    assert_int_equal(tb_risk_manager_state(f->rm), TB_TRADING_ACTIVE);

    /* 1500.00000001 / 10000 = 15.0000000001%: rounds to 15 half-up, yet is past it. */
    bar(f, "BTCUSDT", "8499.99999999");
    assert_int_equal(tb_risk_manager_state(f->rm), TB_TRADING_HALTED);
    assert_dec(tb_risk_manager_max_drawdown_pct(f->rm), "15");
    assert_int_equal(f->n, 1);
    assert_string_equal(f->alerts[0].u.risk_alert.detail,
                        "drawdown 15.00% > 15% (equity 8499.99999999, peak 10000)");
}

static void test_risk_equity_counts_realized_fees_and_unrealized(void **state)
{
    fixture *f = *state;
    start(f, NULL);
    position(f, "s1", "BTCUSDT", 1, "2", "100", "0");
    assert_dec(tb_risk_manager_equity(f->rm), "10000"); /* marked at its entry */
    bar(f, "BTCUSDT", "110");
    assert_dec(tb_risk_manager_equity(f->rm), "10020");

    order_created(f, "c1");
    order_filled(f, "c1", TB_ORDER_FILLED, "1.5");
    assert_dec(tb_risk_manager_fees(f->rm), "1.5");
    assert_dec(tb_risk_manager_equity(f->rm), "10018.5");

    /* A flip: the old position closes with 30 realized, a new id opens short. */
    position(f, "s1", "BTCUSDT", 1, "0", "0", "30");
    position(f, "s1", "BTCUSDT", 2, "-1", "115", "0");
    /* 10000 + 30 − 1.5 + (110 − 115) × −1 */
    assert_dec(tb_risk_manager_equity(f->rm), "10033.5");
    position(f, "s1", "BTCUSDT", 2, "-1", "115", "2"); /* realized grows on id 2 */
    assert_dec(tb_risk_manager_equity(f->rm), "10035.5");

    position(f, "s2", "ETHUSDT", 3, "-4", "10", "-0.25");
    bar(f, "ETHUSDT", "10.5");
    /* + (−0.25) + (10.5 − 10) × −4 */
    assert_dec(tb_risk_manager_equity(f->rm), "10033.25");

    order_created(f, "c2");
    order_filled(f, "c2", TB_ORDER_PARTIALLY_FILLED, "0.25");
    assert_dec(tb_risk_manager_fees(f->rm), "1.75");
    assert_dec(tb_risk_manager_equity(f->rm), "10033");
}

static void test_risk_invalid_request_refused_without_alert(void **state)
{
    fixture *f = *state;
    tb_risk_config cfg;
    tb_risk_config_init(&cfg);
    start(f, &cfg);
    assert_int_equal(check(f, TB_SIDE_BUY, "0"), TB_EINVAL);
    assert_string_equal(f->rule, "invalid_order");
    assert_string_equal(f->detail, "OrderPlacementRequest.quantity 0 is not positive");
    assert_int_equal(check_limit(f, TB_SIDE_BUY, "1", "0"), TB_EINVAL);
    assert_string_equal(f->detail,
                        "OrderPlacementRequest.price 0 is not positive for a LIMIT order");
    assert_int_equal(check(f, (tb_side)3, "1"), TB_EINVAL);
    assert_string_equal(f->detail, "OrderPlacementRequest.side 3 is not BUY or SELL");

    tb_event ev;
    tb_event_init(&ev, TB_EV_ORDER_CREATED, TB_SRC_ORDERS);
    assert_int_equal(tb_risk_manager_pretrade(f->rm, &ev, NULL, 0, NULL, 0), TB_EINVAL);
    assert_int_equal(tb_risk_manager_pretrade(NULL, &ev, NULL, 0, NULL, 0), TB_EINVAL);
    assert_int_equal(f->n, 0);
}

static void test_risk_refusal_with_small_buffers_truncates_safely(void **state)
{
    fixture *f = *state;
    tb_risk_config cfg;
    tb_risk_config_init(&cfg);
    cfg.max_position = dec("1");
    start(f, &cfg);
    tb_event ev;
    tb_event_init(&ev, TB_EV_ORDER_PLACEMENT_REQUEST, TB_SRC_ORDERS);
    ev.u.order_request.order_type = TB_ORDER_MARKET;
    ev.u.order_request.side = TB_SIDE_BUY;
    ev.u.order_request.quantity = dec("2");
    assert_int_equal(tb_str_copy(ev.u.order_request.symbol, TB_SYMBOL_LEN, "BTCUSDT"), 0);
    assert_int_equal(tb_str_copy(ev.u.order_request.strategy_id, TB_STRATEGY_LEN, "s1"), 0);
    assert_int_equal(tb_str_copy(ev.u.order_request.client_order_id, TB_ORDER_ID_LEN, "s1-1"), 0);
    ev.event_id = tb_bus_next_id(f->bus);
    char rule[4], detail[8];
    assert_int_equal(
        tb_risk_manager_pretrade(f->rm, &ev, rule, sizeof(rule), detail, sizeof(detail)),
        TB_EREJECTED);
    assert_string_equal(rule, "max");
    assert_string_equal(detail, "positio");
    assert_int_equal(tb_risk_manager_pretrade(f->rm, &ev, NULL, 0, NULL, 0), TB_EREJECTED);
    assert_int_equal(f->n, 2);
    assert_string_equal(f->alerts[1].u.risk_alert.rule, "max_position");
}

static void test_risk_bad_market_data_is_dead_lettered(void **state)
{
    fixture *f = *state;
    start(f, NULL);
    tb_event ev;
    tb_event_init(&ev, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
    assert_int_equal(tb_str_copy(ev.u.market_data.symbol, TB_SYMBOL_LEN, "BTCUSDT"), 0);
    assert_int_equal(tb_bus_publish(f->bus, &ev), 0); /* close 0 */
    assert_int_equal(tb_bus_dead_letter_count(f->bus), 1);
    assert_string_equal(tb_bus_dead_letter(f->bus, 0)->subscriber, "risk");
    assert_int_equal(tb_bus_dead_letter(f->bus, 0)->error, TB_EDATA);
    assert_string_equal(tb_bus_dead_letter(f->bus, 0)->reason, "MarketData.open 0 is not positive");
}

static void test_risk_destroy_unsubscribes(void **state)
{
    fixture *f = *state;
    start(f, NULL);
    tb_risk_manager_destroy(f->rm);
    f->rm = NULL;
    bar(f, "BTCUSDT", "100");
    order_created(f, "c1");
    assert_int_equal(tb_bus_get_counters(f->bus, TB_BUS_ALL).delivered, 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_risk_config_defaults_and_negative_limits),
        T(test_risk_allows_everything_with_rules_off),
        T(test_risk_rejects_order_over_notional),
        T(test_risk_skips_notional_for_market_order_without_close),
        T(test_risk_rejects_position_past_limit),
        T(test_risk_rules_checked_in_documented_order),
        T(test_risk_counts_open_orders_through_lifecycle),
        T(test_risk_open_order_set_survives_growth_and_removal),
        T(test_risk_rejects_limit_price_outside_band),
        T(test_risk_per_minute_window_slides),
        T(test_risk_refused_orders_do_not_count_toward_rate),
        T(test_risk_drawdown_halts_then_allows_only_reducing_orders),
        T(test_risk_view_judges_the_position_after_every_fill),
        T(test_risk_halt_cuts_a_flip_to_a_close),
        T(test_risk_drawdown_at_limit_does_not_halt),
        T(test_risk_drawdown_past_limit_by_less_than_a_digit_halts),
        T(test_risk_equity_counts_realized_fees_and_unrealized),
        T(test_risk_invalid_request_refused_without_alert),
        T(test_risk_refusal_with_small_buffers_truncates_safely),
        T(test_risk_bad_market_data_is_dead_lettered),
        T(test_risk_destroy_unsubscribes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
