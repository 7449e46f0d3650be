/* The Order Manager on a real bus with the real simulated exchange: signals
 * become orders, exchange responses become events, the state machine refuses
 * what does not fit, and every event names its cause. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test_support.h"
#include "tradebus/exchange.h"
#include "tradebus/sim_exchange.h"
#include "tradebus/orders.h"

#define SYM      "BTCUSDT"
#define STRATEGY "alpha"

typedef struct {
    tb_bus *bus;
    tb_exchange *ex;
    tb_order_manager *om;
    tbt_recorder rec;
    tb_event last_bar; /* the last MarketData published (with its id) */
    /* pre-trade stub */
    int refuse;
    int pretrade_calls;
    tb_event pretrade_seen;
} fixture;

static int pretrade_stub(void *ctx, const tb_event *request, char *rule, size_t rulelen,
                         char *detail, size_t detaillen)
{
    fixture *f = ctx;
    f->pretrade_calls++;
    f->pretrade_seen = *request;
    if (!f->refuse) return 0;
    snprintf(rule, rulelen, "max_position");
    snprintf(detail, detaillen, "position would be 5 > 1");
    return TB_EREJECTED;
}

static void close_pipeline(fixture *f)
{
    tb_order_manager_destroy(f->om);
    tb_exchange_destroy(f->ex);
    tb_bus_destroy(f->bus);
    f->om = NULL;
    f->ex = NULL;
    f->bus = NULL;
}

/* Bus + sim exchange (BTCUSDT tick 0.01, step 0.001, cash 10000, fee 10 bps,
 * the given participation) + order manager with the pre-trade stub, and a
 * recorder subscribed to every event. */
static void open_pipeline(fixture *f, const char *participation)
{
    close_pipeline(f);
    memset(&f->rec, 0, sizeof(f->rec));
    static tb_symbol_rules rules;
    memset(&rules, 0, sizeof(rules));
    strcpy(rules.symbol, SYM);
    rules.tick_size = tbt_dec("0.01");
    rules.step_size = tbt_dec("0.001");
    tb_sim_exchange_config xc;
    tb_sim_exchange_config_init(&xc);
    xc.symbols = &rules;
    xc.nsymbols = 1;
    xc.max_volume_participation = tbt_dec(participation);
    char err[160] = "";
    assert_int_equal(tb_bus_create(NULL, &f->bus), 0);
    assert_int_equal(tb_sim_exchange_create(&xc, &f->ex, err, sizeof(err)), 0);
    tb_order_manager_config oc;
    tb_order_manager_config_init(&oc);
    oc.exchange = f->ex;
    oc.pretrade = pretrade_stub;
    oc.pretrade_ctx = f;
    assert_int_equal(tb_order_manager_create(f->bus, &oc, &f->om), 0);
    assert_true(tb_bus_subscribe(f->bus, TB_BUS_ALL, tbt_record, &f->rec) >= 0);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    open_pipeline(f, "0");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    close_pipeline(f);
    free(f);
    return 0;
}

static void publish_bar(fixture *f, int64_t minute, const char *open, const char *low,
                        const char *close, const char *volume)
{
    tb_market_data b = tbt_bar(SYM, minute, open, open, low, close, volume);
    if (b.close > b.high) b.high = b.close;
    f->last_bar = tbt_bar_event(&b);
    assert_int_equal(tb_bus_publish(f->bus, &f->last_bar), 0);
}

static tb_event make_signal(const fixture *f, tb_signal_type type, const char *qty,
                            tb_order_type order_type, const char *limit)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_SIGNAL_GENERATED, TB_SRC_SIGNAL);
    tb_event_caused_by(&ev, &f->last_bar);
    ev.timestamp = f->last_bar.u.market_data.close_time;
    tb_signal_generated *s = &ev.u.signal;
    s->signal_type = type;
    strcpy(s->symbol, SYM);
    s->price = f->last_bar.u.market_data.close;
    s->volume = tbt_dec(qty);
    strcpy(s->strategy_id, STRATEGY);
    s->order_type = order_type;
    s->limit_price = limit ? tbt_dec(limit) : 0;
    return ev;
}

/* Publishes a MARKET signal on the last bar; returns it with its id. */
static tb_event publish_signal(fixture *f, tb_signal_type type, const char *qty)
{
    tb_event ev = make_signal(f, type, qty, TB_ORDER_MARKET, NULL);
    assert_int_equal(tb_bus_publish(f->bus, &ev), 0);
    return ev;
}

static const tb_event *only(const fixture *f, tb_event_type t)
{
    assert_int_equal(tbt_count(&f->rec, t), 1);
    return tbt_nth(&f->rec, t, 0);
}

static tb_exchange_response response(tb_exchange_response_kind kind, const char *cid)
{
    tb_exchange_response r;
    memset(&r, 0, sizeof(r));
    r.kind = kind;
    strcpy(r.client_order_id, cid);
    strcpy(r.order_id, "SIM-1");
    r.time = 123;
    return r;
}

static tb_exchange_response fill_response(const char *cid, const char *qty, const char *price)
{
    tb_exchange_response r = response(TB_XR_FILL, cid);
    r.quantity = tbt_dec(qty);
    r.price = tbt_dec(price);
    r.commission = tbt_dec("0.1");
    r.trade_id = 99;
    return r;
}

static tb_order_status status_of(const fixture *f, const char *cid)
{
    tb_order_status s = (tb_order_status)-1;
    assert_int_equal(tb_order_manager_status(f->om, cid, &s), 0);
    return s;
}

/* ---- signal → request → created → filled -------------------------------- */

static void test_buy_signal_publishes_request_then_order_created_new(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100", "100", "100", "10");
    publish_signal(f, TB_SIGNAL_BUY, "2");

    assert_int_equal(f->rec.n, 4);
    assert_int_equal(f->rec.events[0].type, TB_EV_MARKET_DATA);
    assert_int_equal(f->rec.events[1].type, TB_EV_SIGNAL_GENERATED);
    assert_int_equal(f->rec.events[2].type, TB_EV_ORDER_PLACEMENT_REQUEST);
    assert_int_equal(f->rec.events[3].type, TB_EV_ORDER_CREATED);

    const tb_event *req = &f->rec.events[2];
    assert_int_equal(req->source, TB_SRC_ORDERS);
    const tb_order_placement_request *q = &req->u.order_request;
    assert_int_equal(q->order_type, TB_ORDER_MARKET);
    assert_int_equal(q->side, TB_SIDE_BUY);
    assert_string_equal(q->symbol, SYM);
    assert_dec_equal(q->quantity, "2");
    assert_dec_equal(q->price, "0");
    assert_string_equal(q->strategy_id, STRATEGY);
    assert_string_equal(q->client_order_id, "alpha-1");

    const tb_event *cr = &f->rec.events[3];
    assert_int_equal(cr->source, TB_SRC_ORDERS);
    const tb_order_created *c = &cr->u.order_created;
    assert_int_equal(c->status, TB_ORDER_NEW);
    assert_string_equal(c->order_id, "SIM-1");
    assert_string_equal(c->client_order_id, "alpha-1");
    assert_int_equal(c->order_type, TB_ORDER_MARKET);
    assert_int_equal(c->side, TB_SIDE_BUY);
    assert_string_equal(c->symbol, SYM);
    assert_dec_equal(c->quantity, "2");
    assert_string_equal(c->strategy_id, STRATEGY);
    assert_int_equal(status_of(f, "alpha-1"), TB_ORDER_NEW);
    assert_int_equal(tb_order_manager_open_orders(f->om), 1);
}

static void test_sell_signal_publishes_sell_request(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100", "100", "100", "10");
    publish_signal(f, TB_SIGNAL_SELL, "1.5");

    const tb_order_placement_request *q = &only(f, TB_EV_ORDER_PLACEMENT_REQUEST)->u.order_request;
    assert_int_equal(q->side, TB_SIDE_SELL);
    assert_dec_equal(q->quantity, "1.5");
    assert_int_equal(only(f, TB_EV_ORDER_CREATED)->u.order_created.side, TB_SIDE_SELL);
}

static void test_limit_signal_becomes_limit_request_at_its_price(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100", "100", "100", "10");
    tb_event sig = make_signal(f, TB_SIGNAL_BUY, "1", TB_ORDER_LIMIT, "99.5");
    assert_int_equal(tb_bus_publish(f->bus, &sig), 0);

    const tb_order_placement_request *q = &only(f, TB_EV_ORDER_PLACEMENT_REQUEST)->u.order_request;
    assert_int_equal(q->order_type, TB_ORDER_LIMIT);
    assert_dec_equal(q->price, "99.5");
    assert_dec_equal(only(f, TB_EV_ORDER_CREATED)->u.order_created.price, "99.5");
}

static void test_order_is_not_filled_before_the_next_bar(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100", "100", "100", "10");
    publish_signal(f, TB_SIGNAL_BUY, "2");
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_FILLED), 0);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 1);
}

static void test_next_bar_fills_with_cumulative_quantity_and_average_price(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100", "100", "100", "10");
    publish_signal(f, TB_SIGNAL_BUY, "2");
    publish_bar(f, 1, "101.5", "101", "102", "10");

    const tb_event *ev = only(f, TB_EV_ORDER_FILLED);
    assert_int_equal(ev->source, TB_SRC_ORDERS);
    assert_int_equal(ev->timestamp, 1 * TBT_MINUTE);
    const tb_order_filled *o = &ev->u.order_filled;
    assert_string_equal(o->order_id, "SIM-1");
    assert_string_equal(o->client_order_id, "alpha-1");
    assert_string_equal(o->strategy_id, STRATEGY);
    assert_string_equal(o->symbol, SYM);
    assert_int_equal(o->side, TB_SIDE_BUY);
    assert_dec_equal(o->filled_quantity, "2");
    assert_dec_equal(o->filled_price, "101.5");
    assert_dec_equal(o->commission, "0.203"); /* 203 × 0.001 */
    assert_dec_equal(o->cumulative_quantity, "2");
    assert_dec_equal(o->average_price, "101.5");
    assert_int_equal(o->status, TB_ORDER_FILLED);
    assert_int_equal(o->trade_id, 1);
    assert_int_equal(status_of(f, "alpha-1"), TB_ORDER_FILLED);
    assert_int_equal(tb_order_manager_open_orders(f->om), 0);
    tb_order_manager_stats st = tb_order_manager_get_stats(f->om);
    assert_int_equal(st.signals, 1);
    assert_int_equal(st.orders, 1);
    assert_int_equal(st.fills, 1);
}

static void test_causation_chain_links_fill_back_to_signal(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100", "100", "100", "10");
    uint64_t bar0 = f->last_bar.event_id;
    tb_event sig = publish_signal(f, TB_SIGNAL_BUY, "2");
    publish_bar(f, 1, "101", "101", "101", "10");

    const tb_event *req = only(f, TB_EV_ORDER_PLACEMENT_REQUEST);
    const tb_event *cr = only(f, TB_EV_ORDER_CREATED);
    const tb_event *fl = only(f, TB_EV_ORDER_FILLED);
    assert_int_not_equal(sig.event_id, 0);
    assert_int_equal(sig.correlation_id, bar0);
    assert_int_equal(req->causation_id, sig.event_id);
    assert_int_equal(cr->causation_id, req->event_id);
    assert_int_equal(fl->causation_id, cr->event_id);
    assert_int_equal(req->correlation_id, sig.correlation_id);
    assert_int_equal(cr->correlation_id, sig.correlation_id);
    /* The fill happens while bar 1 is dispatched, yet belongs to bar 0's chain. */
    assert_int_equal(fl->correlation_id, sig.correlation_id);
    assert_int_not_equal(fl->correlation_id, f->last_bar.event_id);
}

static void test_partial_fills_accumulate_exact_average_price(void **state)
{
    fixture *f = *state;
    open_pipeline(f, "0.5");
    publish_bar(f, 0, "100", "100", "100", "10");
    publish_signal(f, TB_SIGNAL_BUY, "3");
    publish_bar(f, 1, "100", "100", "100", "2"); /* at most 1 */
    assert_int_equal(status_of(f, "alpha-1"), TB_ORDER_PARTIALLY_FILLED);
    publish_bar(f, 2, "101", "101", "101", "10"); /* the other 2 */

    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_FILLED), 2);
    const tb_order_filled *a = &tbt_nth(&f->rec, TB_EV_ORDER_FILLED, 0)->u.order_filled;
    assert_dec_equal(a->filled_quantity, "1");
    assert_dec_equal(a->filled_price, "100");
    assert_dec_equal(a->cumulative_quantity, "1");
    assert_dec_equal(a->average_price, "100");
    assert_int_equal(a->status, TB_ORDER_PARTIALLY_FILLED);
    const tb_order_filled *b = &tbt_nth(&f->rec, TB_EV_ORDER_FILLED, 1)->u.order_filled;
    assert_dec_equal(b->filled_quantity, "2");
    assert_dec_equal(b->filled_price, "101");
    assert_dec_equal(b->commission, "0.202");
    assert_dec_equal(b->cumulative_quantity, "3");
    /* (100 + 202) / 3 = 100.6666…: half-up to 8 decimals. */
    assert_dec_equal(b->average_price, "100.66666667");
    assert_int_equal(b->status, TB_ORDER_FILLED);
    assert_int_equal(status_of(f, "alpha-1"), TB_ORDER_FILLED);
}

static void test_partial_fills_share_the_order_created_as_cause(void **state)
{
    fixture *f = *state;
    open_pipeline(f, "0.5");
    publish_bar(f, 0, "100", "100", "100", "10");
    publish_signal(f, TB_SIGNAL_BUY, "3");
    publish_bar(f, 1, "100", "100", "100", "2");
    publish_bar(f, 2, "101", "101", "101", "10");

    uint64_t created = only(f, TB_EV_ORDER_CREATED)->event_id;
    assert_int_equal(tbt_nth(&f->rec, TB_EV_ORDER_FILLED, 0)->causation_id, created);
    assert_int_equal(tbt_nth(&f->rec, TB_EV_ORDER_FILLED, 1)->causation_id, created);
}

static void test_client_order_ids_are_unique_and_deterministic(void **state)
{
    fixture *f = *state;
    for (int run = 0; run < 2; run++) {
        open_pipeline(f, "0");
        publish_bar(f, 0, "100", "100", "100", "10");
        publish_signal(f, TB_SIGNAL_BUY, "1");
        publish_signal(f, TB_SIGNAL_BUY, "1");
        assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_PLACEMENT_REQUEST), 2);
        assert_string_equal(
            tbt_nth(&f->rec, TB_EV_ORDER_PLACEMENT_REQUEST, 0)->u.order_request.client_order_id,
            "alpha-1");
        assert_string_equal(
            tbt_nth(&f->rec, TB_EV_ORDER_PLACEMENT_REQUEST, 1)->u.order_request.client_order_id,
            "alpha-2");
        assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_CREATED), 2);
        assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_REJECTED), 0);
    }
}

/* ---- rejections --------------------------------------------------------- */

static void test_pretrade_refusal_rejects_with_reason_risk(void **state)
{
    fixture *f = *state;
    f->refuse = 1;
    publish_bar(f, 0, "100", "100", "100", "10");
    publish_signal(f, TB_SIGNAL_BUY, "5");

    const tb_event *req = only(f, TB_EV_ORDER_PLACEMENT_REQUEST);
    const tb_event *rej = only(f, TB_EV_ORDER_REJECTED);
    assert_int_equal(rej->causation_id, req->event_id);
    assert_int_equal(rej->correlation_id, req->correlation_id);
    const tb_order_rejected *r = &rej->u.order_rejected;
    assert_int_equal(r->reason, TB_REJECT_RISK);
    assert_string_equal(r->text, "risk rule max_position: position would be 5 > 1");
    assert_string_equal(r->client_order_id, "alpha-1");
    assert_string_equal(r->order_id, "");
    assert_string_equal(r->strategy_id, STRATEGY);
    assert_int_equal(r->side, TB_SIDE_BUY);
    assert_dec_equal(r->quantity, "5");
    assert_int_equal(status_of(f, "alpha-1"), TB_ORDER_REJECTED);
    assert_int_equal(tb_order_manager_get_stats(f->om).rejected, 1);
}

static void test_pretrade_sees_the_published_request(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100", "100", "100", "10");
    publish_signal(f, TB_SIGNAL_BUY, "1");

    assert_int_equal(f->pretrade_calls, 1);
    assert_int_equal(f->pretrade_seen.type, TB_EV_ORDER_PLACEMENT_REQUEST);
    assert_int_equal(f->pretrade_seen.event_id, only(f, TB_EV_ORDER_PLACEMENT_REQUEST)->event_id);
    assert_string_equal(f->pretrade_seen.u.order_request.client_order_id, "alpha-1");
}

static void test_pretrade_refusal_sends_nothing_to_the_exchange(void **state)
{
    fixture *f = *state;
    f->refuse = 1;
    publish_bar(f, 0, "100", "100", "100", "10");
    publish_signal(f, TB_SIGNAL_BUY, "5");
    publish_bar(f, 1, "100", "100", "100", "10");

    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_CREATED), 0);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_FILLED), 0);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
    assert_dec_equal(tb_sim_exchange_cash(f->ex), "10000");
    assert_int_equal(tb_order_manager_open_orders(f->om), 0);
}

static void test_exchange_rejection_carries_the_exchange_reason(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100", "100", "100", "10");
    publish_signal(f, TB_SIGNAL_BUY, "0.0015"); /* off the 0.001 step */

    const tb_event *req = only(f, TB_EV_ORDER_PLACEMENT_REQUEST);
    const tb_event *rej = only(f, TB_EV_ORDER_REJECTED);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_CREATED), 0);
    assert_int_equal(rej->causation_id, req->event_id);
    assert_int_equal(rej->correlation_id, req->correlation_id);
    const tb_order_rejected *r = &rej->u.order_rejected;
    assert_int_equal(r->reason, TB_REJECT_INVALID_QUANTITY);
    assert_string_equal(r->text, "quantity 0.0015 is not a multiple of step size 0.001");
    assert_string_equal(r->client_order_id, "alpha-1");
    assert_dec_equal(r->quantity, "0.0015");
    assert_int_equal(status_of(f, "alpha-1"), TB_ORDER_REJECTED);
    assert_int_equal(tb_order_manager_open_orders(f->om), 0);
}

static void test_exchange_rejection_for_insufficient_funds(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100", "100", "100", "10");
    publish_signal(f, TB_SIGNAL_BUY, "100");

    const tb_order_rejected *r = &only(f, TB_EV_ORDER_REJECTED)->u.order_rejected;
    assert_int_equal(r->reason, TB_REJECT_INSUFFICIENT_FUNDS);
    assert_string_equal(r->text, "needs 10010, only 10000 available");
}

/* ---- the state machine -------------------------------------------------- */

static void test_fill_for_an_already_filled_order_is_estate(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100", "100", "100", "10");
    publish_signal(f, TB_SIGNAL_BUY, "1");
    publish_bar(f, 1, "100", "100", "100", "10");
    assert_int_equal(status_of(f, "alpha-1"), TB_ORDER_FILLED);
    size_t before = f->rec.n;

    tb_exchange_response r = fill_response("alpha-1", "1", "100");
    assert_int_equal(tb_order_manager_process_exchange_response(f->om, &r), TB_ESTATE);
    assert_int_equal(f->rec.n, before);
    assert_int_equal(status_of(f, "alpha-1"), TB_ORDER_FILLED);
}

static void test_fill_beyond_the_order_quantity_is_estate(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100", "100", "100", "10");
    publish_signal(f, TB_SIGNAL_BUY, "1");
    size_t before = f->rec.n;

    tb_exchange_response r = fill_response("alpha-1", "1.5", "100");
    assert_int_equal(tb_order_manager_process_exchange_response(f->om, &r), TB_ESTATE);
    assert_int_equal(f->rec.n, before);
    assert_int_equal(status_of(f, "alpha-1"), TB_ORDER_NEW);
}

static void test_accepted_twice_is_estate(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100", "100", "100", "10");
    publish_signal(f, TB_SIGNAL_BUY, "1");
    size_t before = f->rec.n;

    tb_exchange_response r = response(TB_XR_ACCEPTED, "alpha-1");
    assert_int_equal(tb_order_manager_process_exchange_response(f->om, &r), TB_ESTATE);
    assert_int_equal(f->rec.n, before);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_CREATED), 1);
    assert_int_equal(status_of(f, "alpha-1"), TB_ORDER_NEW);
}

static void test_response_for_unknown_client_order_id_is_enotfound(void **state)
{
    fixture *f = *state;
    tb_exchange_response r = fill_response("nobody-7", "1", "100");
    assert_int_equal(tb_order_manager_process_exchange_response(f->om, &r), TB_ENOTFOUND);
    assert_int_equal(f->rec.n, 0);
}

static void test_refused_exchange_response_is_published_as_order_state_alert(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100", "100", "100", "10");
    publish_signal(f, TB_SIGNAL_BUY, "1");

    /* The exchange acknowledges the same order a second time. */
    tb_exchange_response r = response(TB_XR_ACCEPTED, "alpha-1");
    f->ex->listener(&r, f->ex->listener_ctx);

    const tb_event *ev = only(f, TB_EV_RISK_ALERT);
    assert_int_equal(ev->source, TB_SRC_ORDERS);
    assert_string_equal(ev->u.risk_alert.rule, "order_state");
    assert_int_equal(ev->u.risk_alert.trading_state, TB_TRADING_ACTIVE);
    assert_non_null(strstr(ev->u.risk_alert.detail, "alpha-1"));
    assert_int_equal(tb_order_manager_get_stats(f->om).bad_responses, 1);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_CREATED), 1);
}

/* ---- signals that make no order ----------------------------------------- */

static void test_hold_signal_produces_nothing(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100", "100", "100", "10");
    publish_signal(f, TB_SIGNAL_HOLD, "0");

    assert_int_equal(f->rec.n, 2); /* the bar and the signal itself */
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_PLACEMENT_REQUEST), 0);
    assert_int_equal(tb_order_manager_get_stats(f->om).signals, 0);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
    assert_int_equal(tb_bus_dead_letter_count(f->bus), 0);
    assert_int_equal(f->pretrade_calls, 0);
}

static void test_signal_with_zero_volume_is_einval(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100", "100", "100", "10");
    tb_event sig = make_signal(f, TB_SIGNAL_BUY, "0", TB_ORDER_MARKET, NULL);
    sig.event_id = tb_bus_next_id(f->bus);
    size_t before = f->rec.n;

    assert_int_equal(tb_order_manager_handle_signal_event(f->om, &sig), TB_EINVAL);
    assert_int_equal(f->rec.n, before);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
}

static void test_signal_with_zero_volume_is_dead_lettered_by_orders(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100", "100", "100", "10");
    tb_event sig = publish_signal(f, TB_SIGNAL_BUY, "0");

    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_PLACEMENT_REQUEST), 0);
    assert_int_equal(tb_bus_dead_letter_count(f->bus), 1);
    const tb_dead_letter *d = tb_bus_dead_letter(f->bus, 0);
    assert_non_null(d);
    assert_string_equal(d->subscriber, "orders");
    assert_int_equal(d->error, TB_EINVAL);
    assert_int_equal(d->attempts, 1); /* permanent: not retried */
    assert_int_equal(d->event.type, TB_EV_SIGNAL_GENERATED);
    assert_int_equal(d->event.event_id, sig.event_id);
}

/* ---- cancel ------------------------------------------------------------- */

static void test_cancel_publishes_order_canceled_with_canceled_quantity(void **state)
{
    fixture *f = *state;
    open_pipeline(f, "0.5");
    publish_bar(f, 0, "100", "100", "100", "10");
    publish_signal(f, TB_SIGNAL_BUY, "3");
    publish_bar(f, 1, "100", "100", "100", "2"); /* fills 1 of 3 */
    assert_int_equal(tb_order_manager_cancel(f->om, "alpha-1", 555), 0);

    const tb_event *ev = only(f, TB_EV_ORDER_CANCELED);
    assert_int_equal(ev->causation_id, only(f, TB_EV_ORDER_CREATED)->event_id);
    assert_int_equal(ev->correlation_id, only(f, TB_EV_ORDER_CREATED)->correlation_id);
    assert_int_equal(ev->timestamp, 555);
    const tb_order_canceled *c = &ev->u.order_canceled;
    assert_string_equal(c->client_order_id, "alpha-1");
    assert_string_equal(c->order_id, "SIM-1");
    assert_string_equal(c->strategy_id, STRATEGY);
    assert_int_equal(c->side, TB_SIDE_BUY);
    assert_dec_equal(c->filled_quantity, "1");
    assert_dec_equal(c->canceled_quantity, "2");
    assert_int_equal(c->status, TB_ORDER_CANCELED);
    assert_int_equal(status_of(f, "alpha-1"), TB_ORDER_CANCELED);
    assert_int_equal(tb_order_manager_open_orders(f->om), 0);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
}

static void test_cancel_unknown_order_is_enotfound(void **state)
{
    fixture *f = *state;
    assert_int_equal(tb_order_manager_cancel(f->om, "alpha-9", 0), TB_ENOTFOUND);
    assert_int_equal(f->rec.n, 0);
}

static void test_create_without_exchange_is_einval(void **state)
{
    fixture *f = *state;
    tb_order_manager_config oc;
    tb_order_manager_config_init(&oc);
    tb_order_manager *om = NULL;
    assert_int_equal(tb_order_manager_create(f->bus, &oc, &om), TB_EINVAL);
    assert_null(om);
}

static void test_dead_letter_names_why_orders_refused_the_signal(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100", "100", "100", "10");
    publish_signal(f, TB_SIGNAL_BUY, "0");
    assert_int_equal(tb_bus_dead_letter_count(f->bus), 1);
    assert_string_equal(tb_bus_dead_letter(f->bus, 0)->reason,
                        "SignalGenerated.volume 0 is not positive for BUY");

    tb_event sig = make_signal(f, TB_SIGNAL_BUY, "1", TB_ORDER_MARKET, NULL);
    sig.u.signal.symbol[0] = 0;
    assert_int_equal(tb_bus_publish(f->bus, &sig), 0);
    assert_int_equal(tb_bus_dead_letter_count(f->bus), 2);
    assert_string_equal(tb_bus_dead_letter(f->bus, 1)->reason, "SignalGenerated.symbol is empty");
}

/* The Order Manager checks a signal with the validation every component
 * shares: what it refuses is dead-lettered with the field named, and no
 * order goes out. */
static void test_signal_with_unknown_order_type_is_refused(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100", "100", "100", "10");
    tb_event sig = make_signal(f, TB_SIGNAL_BUY, "1", (tb_order_type)0, NULL);
    assert_int_equal(tb_bus_publish(f->bus, &sig), 0);
    sig = make_signal(f, TB_SIGNAL_BUY, "1", TB_ORDER_STOP_MARKET, NULL);
    assert_int_equal(tb_bus_publish(f->bus, &sig), 0);
    assert_int_equal(tb_bus_dead_letter_count(f->bus), 2);
    assert_string_equal(tb_bus_dead_letter(f->bus, 0)->reason,
                        "SignalGenerated.order_type 0 is not MARKET or LIMIT");
    assert_string_equal(tb_bus_dead_letter(f->bus, 1)->reason,
                        "SignalGenerated.order_type STOP_MARKET is not MARKET or LIMIT");
    assert_int_equal(tb_order_manager_get_stats(f->om).orders, 0);
}

static void test_signal_with_bad_fields_is_refused(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100", "100", "100", "10");
    tb_event sig = make_signal(f, (tb_signal_type)7, "1", TB_ORDER_MARKET, NULL);
    assert_int_equal(tb_bus_publish(f->bus, &sig), 0);
    sig = make_signal(f, TB_SIGNAL_BUY, "1", TB_ORDER_LIMIT, "-5");
    assert_int_equal(tb_bus_publish(f->bus, &sig), 0);
    sig = make_signal(f, TB_SIGNAL_BUY, "1", TB_ORDER_MARKET, NULL);
    memset(sig.u.signal.strategy_id, 'x', sizeof(sig.u.signal.strategy_id));
    assert_int_equal(tb_bus_publish(f->bus, &sig), 0);
    assert_int_equal(tb_bus_dead_letter_count(f->bus), 3);
    assert_string_equal(tb_bus_dead_letter(f->bus, 0)->reason,
                        "SignalGenerated.signal_type 7 is not HOLD, BUY, SELL or CANCEL");
    assert_string_equal(tb_bus_dead_letter(f->bus, 1)->reason,
                        "SignalGenerated.limit_price -5 is negative");
    assert_non_null(strstr(tb_bus_dead_letter(f->bus, 2)->reason, "strategy_id"));
    assert_int_equal(tb_order_manager_get_stats(f->om).orders, 0);
}

static void test_order_state_alert_names_the_illegal_transition(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100", "100", "100", "10");
    publish_signal(f, TB_SIGNAL_BUY, "1");
    publish_bar(f, 1, "100", "100", "100", "10"); /* filled */
    tb_exchange_response r = fill_response("alpha-1", "1", "100");
    f->ex->listener(&r, f->ex->listener_ctx);
    assert_string_equal(only(f, TB_EV_RISK_ALERT)->u.risk_alert.detail,
                        "FILL for alpha-1 refused: the order is already FILLED");
}

static void test_config_init_sets_documented_retry_defaults(void **state)
{
    (void)state;
    tb_order_manager_config oc;
    memset(&oc, 0xAB, sizeof(oc));
    tb_order_manager_config_init(&oc);
    assert_int_equal(oc.max_attempts, 8);
    assert_int_equal(oc.base_delay, 100 * 1000000LL);
    assert_int_equal(oc.max_delay, 10 * TBT_SECOND);
    assert_int_equal(oc.max_total, 30 * TBT_SECOND);
    assert_int_equal(oc.retry_seed, 1);
    assert_null(oc.loop);
    assert_null(oc.exchange);
}

static void test_create_refuses_negative_retry_settings(void **state)
{
    fixture *f = *state;
    tb_order_manager_config oc;
    tb_order_manager_config_init(&oc);
    oc.exchange = f->ex;
    oc.max_total = -1;
    tb_order_manager *om = NULL;
    assert_int_equal(tb_order_manager_create(f->bus, &oc, &om), TB_EINVAL);
    assert_null(om);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_buy_signal_publishes_request_then_order_created_new),
        T(test_sell_signal_publishes_sell_request),
        T(test_limit_signal_becomes_limit_request_at_its_price),
        T(test_order_is_not_filled_before_the_next_bar),
        T(test_next_bar_fills_with_cumulative_quantity_and_average_price),
        T(test_causation_chain_links_fill_back_to_signal),
        T(test_partial_fills_accumulate_exact_average_price),
        T(test_partial_fills_share_the_order_created_as_cause),
        T(test_client_order_ids_are_unique_and_deterministic),
        T(test_pretrade_refusal_rejects_with_reason_risk),
        T(test_pretrade_sees_the_published_request),
        T(test_pretrade_refusal_sends_nothing_to_the_exchange),
        T(test_exchange_rejection_carries_the_exchange_reason),
        T(test_exchange_rejection_for_insufficient_funds),
        T(test_fill_for_an_already_filled_order_is_estate),
        T(test_fill_beyond_the_order_quantity_is_estate),
        T(test_accepted_twice_is_estate),
        T(test_response_for_unknown_client_order_id_is_enotfound),
        T(test_refused_exchange_response_is_published_as_order_state_alert),
        T(test_hold_signal_produces_nothing),
        T(test_signal_with_zero_volume_is_einval),
        T(test_signal_with_zero_volume_is_dead_lettered_by_orders),
        T(test_cancel_publishes_order_canceled_with_canceled_quantity),
        T(test_cancel_unknown_order_is_enotfound),
        T(test_create_without_exchange_is_einval),
        T(test_signal_with_unknown_order_type_is_refused),
        T(test_signal_with_bad_fields_is_refused),
        T(test_dead_letter_names_why_orders_refused_the_signal),
        T(test_order_state_alert_names_the_illegal_transition),
        T(test_config_init_sets_documented_retry_defaults),
        T(test_create_refuses_negative_retry_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
