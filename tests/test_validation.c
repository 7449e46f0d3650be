/* Validation at every boundary (issue 4 §4): each component, fed each kind of
 * bad event through a real bus, refuses it with a permanent error; the bus
 * dead-letters it under the component's name with the reason; the
 * component's state is as if the event never came; good events keep flowing.
 *
 * "As if it never came" is checked with twins: two identical rigs get the
 * same good events, one of them also the bad event in the middle, and
 * afterwards everything observable must agree — what the components
 * published, byte for byte with ids (good events carry preset ids and the
 * bad one an id from another range, so both buses number their own events
 * alike), and what they report. A twin fed a good event instead must
 * disagree, which shows the comparison can see a change at all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test_support.h"
#include "tradebus/monitor.h"
#include "tradebus/pnlbook.h"
#include "tradebus/position.h"
#include "tradebus/risk.h"
#include "tradebus/signal.h"

#define SYM        "BTCUSDT"
#define OTHER      "ETHUSDT"
#define GOOD_ID(n) ((UINT64_C(2) << 48) | (uint64_t)(n))
#define BAD_ID(n)  ((UINT64_C(3) << 48) | (uint64_t)(n))
#define T(m)       ((int64_t)(m)*TBT_MINUTE) /* minute m's open: when its fills happen */
#define CLOSE(m)   (T((m) + 1) - 1)          /* minute m's bar close time */

/* ---- a strategy whose every signal shows the target it was given ---------- */

/* Buys |target| + 1 on every bar: a target moved by a refused event would
 * show in every later signal. */
static int mirror_create(const tb_strategy_vtable *self, const tb_param *p, size_t n, void **state,
                         char *err, size_t errlen)
{
    (void)self;
    (void)p;
    (void)n;
    (void)err;
    (void)errlen;
    *state = NULL;
    return 0;
}

static int mirror_on_bar(void *state, const tb_market_data *bar, const tb_strategy_ctx *ctx,
                         tb_strategy_decision *out)
{
    (void)state;
    (void)bar;
    out->signal = TB_SIGNAL_BUY;
    out->volume = tb_dec_abs(ctx->position) + TB_DECIMAL_ONE;
    return 0;
}

static void mirror_destroy(void *state)
{
    (void)state;
}

static const tb_strategy_vtable mirror_vt = {
    "mirror",       "mirror: buys |target| + 1 on every bar",
    mirror_create,  mirror_on_bar,
    mirror_destroy, NULL,
};

/* ---- rigs --------------------------------------------------------------- */

enum { P_SIGNAL = 1, P_POSITIONS = 2, P_RISK = 4, P_MONITOR = 8, P_EXPECT = 16 };
#define P_ALL (P_SIGNAL | P_POSITIONS | P_RISK | P_MONITOR)

typedef struct {
    tb_bus *bus;
    tb_signal_generator *sg;
    tb_position_manager *pm;
    tb_risk_manager *rm;
    tb_monitor *mon;
    FILE *log, *fills;
    tbt_recorder out; /* what the components published */
    uint64_t next_good, next_bad;
} rig;

/* Records what the components publish: events the bus numbered (node 1),
 * not the ones a test fed with a preset id, whatever their type. */
static int record_output(const tb_event *ev, void *ctx)
{
    if (ev->event_id >> 48 != 1) return 0;
    return tbt_record(ev, ctx);
}

static rig *rig_open(unsigned parts)
{
    rig *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    assert_int_equal(tb_bus_create(NULL, &r->bus), 0);
    if (parts & P_SIGNAL) {
        assert_int_equal(tb_signal_generator_create(r->bus, &r->sg), 0);
        tb_strategy_instance in = {"s1", SYM, TB_ORDER_MARKET, 0, 0, 0, 0, 0, 0, 0, 0};
        char err[200] = "";
        assert_int_equal(tb_signal_generator_add(r->sg, &mirror_vt, &in, NULL, 0, err, sizeof(err)),
                         0);
    }
    if (parts & P_POSITIONS) {
        assert_int_equal(tb_position_manager_create(r->bus, &r->pm), 0);
        if (parts & P_EXPECT) assert_int_equal(tb_position_manager_expect(r->pm, "s1", SYM), 0);
    }
    if (parts & P_RISK) {
        tb_risk_config cfg;
        tb_risk_config_init(&cfg);
        cfg.max_open_orders = 1; /* so an order left open shows in a pre-trade check */
        assert_int_equal(tb_risk_manager_create(r->bus, &cfg, &r->rm), 0);
    }
    if (parts & P_MONITOR) {
        r->log = tmpfile();
        r->fills = tmpfile();
        assert_non_null(r->log);
        assert_non_null(r->fills);
        tb_monitor_config mc = {r->log, r->fills, 0, NULL, NULL};
        assert_int_equal(tb_monitor_create(r->bus, &mc, &r->mon), 0);
    }
    static const tb_event_type outputs[] = {TB_EV_SIGNAL_GENERATED, TB_EV_POSITION_UPDATE,
                                            TB_EV_RISK_ALERT};
    for (size_t i = 0; i < sizeof(outputs) / sizeof(outputs[0]); i++)
        assert_true(
            tb_bus_subscribe_named(r->bus, outputs[i], record_output, &r->out, "recorder") >= 0);
    return r;
}

static void rig_close(rig *r)
{
    tb_monitor_destroy(r->mon);
    tb_risk_manager_destroy(r->rm);
    tb_position_manager_destroy(r->pm);
    tb_signal_generator_destroy(r->sg);
    tb_bus_destroy(r->bus);
    if (r->log) fclose(r->log);
    if (r->fills) fclose(r->fills);
    free(r);
}

/* Publishes a good event under the next preset id. */
static void feed(rig *r, tb_event ev)
{
    ev.event_id = GOOD_ID(++r->next_good);
    assert_int_equal(tb_bus_publish(r->bus, &ev), 0);
}

static void feed_bad(rig *r, tb_event ev)
{
    ev.event_id = BAD_ID(++r->next_bad);
    assert_int_equal(tb_bus_publish(r->bus, &ev), 0);
}

/* The last dead letter is ev's refusal by subscriber, with err and reason,
 * after one attempt (a permanent error is not retried). */
static void assert_dead_letter(const rig *r, size_t i, const char *subscriber, int err,
                               const char *reason, tb_event_type type)
{
    const tb_dead_letter *d = tb_bus_dead_letter(r->bus, i);
    assert_non_null(d);
    assert_string_equal(d->subscriber, subscriber);
    assert_int_equal(d->error, err);
    assert_string_equal(d->reason, reason);
    assert_int_equal(d->attempts, 1);
    assert_int_equal(d->event.type, type);
    assert_int_equal(d->event.event_id, BAD_ID(r->next_bad));
}

/* ---- comparing twins ------------------------------------------------------ */

static size_t payload_size(tb_event_type t)
{
    switch (t) {
    case TB_EV_SIGNAL_GENERATED:
        return sizeof(tb_signal_generated);
    case TB_EV_POSITION_UPDATE:
        return sizeof(tb_position_update);
    case TB_EV_RISK_ALERT:
        return sizeof(tb_risk_alert);
    default:
        fail_msg("unexpected output type %d", (int)t);
        return 0;
    }
}

static int same_event(const tb_event *a, const tb_event *b)
{
    return a->type == b->type && a->source == b->source && a->event_id == b->event_id &&
           a->causation_id == b->causation_id && a->correlation_id == b->correlation_id &&
           a->timestamp == b->timestamp && memcmp(&a->u, &b->u, payload_size(a->type)) == 0;
}

static char *slurp(FILE *f, long *len)
{
    assert_int_equal(fflush(f), 0);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    *len = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)*len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)*len, f), (size_t)*len);
    assert_int_equal(fseek(f, 0, SEEK_END), 0); /* writes may follow a read only after a seek */
    return buf;
}

static int same_file(FILE *a, FILE *b)
{
    long na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = na == nb && memcmp(x, y, (size_t)na) == 0;
    free(x);
    free(y);
    return same;
}

/* 1 if everything the twins' components show agrees; else 0, naming what
 * differs first in *what. */
static int same_state(const rig *a, const rig *b, const char **what)
{
    *what = "published events";
    if (a->out.n != b->out.n) return 0;
    for (size_t i = 0; i < a->out.n; i++)
        if (!same_event(&a->out.events[i], &b->out.events[i])) return 0;
    if (a->sg) {
        *what = "signal count";
        if (tb_signal_generator_signals(a->sg) != tb_signal_generator_signals(b->sg)) return 0;
    }
    if (a->pm) {
        *what = "positions";
        size_t n = tb_position_manager_count(a->pm);
        if (n != tb_position_manager_count(b->pm)) return 0;
        for (size_t i = 0; i < n; i++) {
            tb_position_update x, y;
            assert_int_equal(tb_position_manager_get(a->pm, i, &x), 0);
            assert_int_equal(tb_position_manager_get(b->pm, i, &y), 0);
            if (memcmp(&x, &y, sizeof(x)) != 0) return 0;
        }
        *what = "PnL totals";
        if (tb_position_manager_realized(a->pm) != tb_position_manager_realized(b->pm) ||
            tb_position_manager_unrealized(a->pm) != tb_position_manager_unrealized(b->pm))
            return 0;
    }
    if (a->rm) {
        *what = "risk state";
        if (tb_risk_manager_equity(a->rm) != tb_risk_manager_equity(b->rm) ||
            tb_risk_manager_fees(a->rm) != tb_risk_manager_fees(b->rm) ||
            tb_risk_manager_open_orders(a->rm) != tb_risk_manager_open_orders(b->rm) ||
            tb_risk_manager_state(a->rm) != tb_risk_manager_state(b->rm) ||
            tb_risk_manager_max_drawdown_pct(a->rm) != tb_risk_manager_max_drawdown_pct(b->rm))
            return 0;
    }
    if (a->mon) {
        *what = "monitor counts";
        for (int t = 0; t < TB_EV_COUNT; t++)
            if (tb_monitor_count(a->mon, (tb_event_type)t) !=
                tb_monitor_count(b->mon, (tb_event_type)t))
                return 0;
        *what = "event log";
        if (!same_file(a->log, b->log)) return 0;
        *what = "fills file";
        if (!same_file(a->fills, b->fills)) return 0;
    }
    return 1;
}

static tb_event request_ev(const char *strategy, const char *client_id);

/* Twins agree now, and a pre-trade check (which reads the open orders, the
 * positions and the closes) answers both alike. */
static void assert_same(rig *a, rig *b)
{
    const char *what;
    if (!same_state(a, b, &what)) fail_msg("the twins differ in their %s", what);
    if (!a->rm) return;
    char ra[TB_RULE_LEN] = "", rb[TB_RULE_LEN] = "", da[TB_TEXT_LEN] = "", db[TB_TEXT_LEN] = "";
    tb_event qa = request_ev("s1", "s1-99"), qb = qa;
    qa.event_id = GOOD_ID(++a->next_good);
    qb.event_id = GOOD_ID(++b->next_good);
    int rca = tb_risk_manager_pretrade(a->rm, &qa, ra, sizeof(ra), da, sizeof(da));
    int rcb = tb_risk_manager_pretrade(b->rm, &qb, rb, sizeof(rb), db, sizeof(db));
    assert_int_equal(rca, rcb);
    assert_string_equal(ra, rb);
    assert_string_equal(da, db);
}

/* ---- events --------------------------------------------------------------- */

static void put(char *dst, size_t cap, const char *s)
{
    assert_int_equal(tb_str_copy(dst, cap, s), 0);
}
#define PUT(field, s) put((field), sizeof(field), (s))

static tb_event bar_ev(const char *symbol, int64_t minute, const char *open, const char *high,
                       const char *low, const char *close)
{
    tb_market_data b = tbt_bar(symbol, minute, open, high, low, close, "10");
    return tbt_bar_event(&b);
}

static tb_event flat_ev(const char *symbol, int64_t minute, const char *price)
{
    return bar_ev(symbol, minute, price, price, price, price);
}

static tb_event fill_ev(const char *client_id, const char *strategy, const char *symbol,
                        tb_side side, const char *qty, const char *price, const char *cumulative,
                        tb_order_status status, int64_t t)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_ORDER_FILLED, TB_SRC_ORDERS);
    ev.timestamp = t;
    tb_order_filled *f = &ev.u.order_filled;
    PUT(f->order_id, "X-1");
    PUT(f->client_order_id, client_id);
    PUT(f->strategy_id, strategy);
    PUT(f->symbol, symbol);
    f->side = side;
    f->filled_quantity = tbt_dec(qty);
    f->filled_price = tbt_dec(price);
    f->commission = tbt_dec("0.05");
    f->cumulative_quantity = tbt_dec(cumulative);
    f->average_price = f->filled_price;
    f->status = status;
    f->trade_id = 1;
    return ev;
}

/* A fill of a whole order at once. */
static tb_event full_fill_ev(const char *client_id, const char *strategy, tb_side side,
                             const char *qty, const char *price, int64_t t)
{
    return fill_ev(client_id, strategy, SYM, side, qty, price, qty, TB_ORDER_FILLED, t);
}

static tb_event created_ev(const char *client_id, const char *qty, int64_t t)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_ORDER_CREATED, TB_SRC_ORDERS);
    ev.timestamp = t;
    tb_order_created *o = &ev.u.order_created;
    PUT(o->order_id, "X-1");
    o->status = TB_ORDER_NEW;
    PUT(o->client_order_id, client_id);
    o->order_type = TB_ORDER_MARKET;
    o->side = TB_SIDE_BUY;
    PUT(o->symbol, SYM);
    o->quantity = tbt_dec(qty);
    PUT(o->strategy_id, "s1");
    return ev;
}

static tb_event rejected_ev(const char *client_id, const char *strategy, const char *symbol,
                            const char *qty, int64_t t)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_ORDER_REJECTED, TB_SRC_ORDERS);
    ev.timestamp = t;
    tb_order_rejected *r = &ev.u.order_rejected;
    PUT(r->client_order_id, client_id);
    PUT(r->strategy_id, strategy);
    PUT(r->symbol, symbol);
    r->side = TB_SIDE_BUY;
    r->order_type = TB_ORDER_MARKET;
    r->quantity = tbt_dec(qty);
    r->reason = TB_REJECT_INSUFFICIENT_FUNDS;
    PUT(r->text, "insufficient funds");
    return ev;
}

static tb_event canceled_ev(const char *client_id, const char *strategy, const char *qty, int64_t t)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_ORDER_CANCELED, TB_SRC_ORDERS);
    ev.timestamp = t;
    tb_order_canceled *c = &ev.u.order_canceled;
    PUT(c->order_id, "X-1");
    PUT(c->client_order_id, client_id);
    PUT(c->strategy_id, strategy);
    PUT(c->symbol, SYM);
    c->side = TB_SIDE_BUY;
    c->canceled_quantity = tbt_dec(qty);
    c->status = TB_ORDER_CANCELED;
    return ev;
}

static tb_event position_ev(const char *strategy, const char *symbol, uint64_t id, const char *qty,
                            const char *entry, const char *realized, int64_t t)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_POSITION_UPDATE, TB_SRC_POSITIONS);
    ev.timestamp = t;
    tb_position_update *u = &ev.u.position;
    u->position_id = id;
    PUT(u->strategy_id, strategy);
    PUT(u->symbol, symbol);
    u->current_quantity = tbt_dec(qty);
    u->entry_price = u->mark_price = tbt_dec(entry);
    u->realized_pnl = tbt_dec(realized);
    u->status = u->current_quantity ? TB_POSITION_OPEN : TB_POSITION_CLOSED;
    return ev;
}

static tb_event alert_ev(const char *rule, int64_t t)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_RISK_ALERT, TB_SRC_RISK);
    ev.timestamp = t;
    PUT(ev.u.risk_alert.rule, rule);
    PUT(ev.u.risk_alert.detail, "a test alert");
    ev.u.risk_alert.trading_state = TB_TRADING_ACTIVE;
    return ev;
}

static tb_event signal_ev(void)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_SIGNAL_GENERATED, TB_SRC_SIGNAL);
    ev.timestamp = CLOSE(0);
    tb_signal_generated *s = &ev.u.signal;
    s->signal_type = TB_SIGNAL_BUY;
    PUT(s->symbol, SYM);
    s->price = tbt_dec("100");
    s->volume = tbt_dec("1");
    PUT(s->strategy_id, "s1");
    s->order_type = TB_ORDER_MARKET;
    return ev;
}

static tb_event request_ev(const char *strategy, const char *client_id)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_ORDER_PLACEMENT_REQUEST, TB_SRC_ORDERS);
    ev.timestamp = T(10);
    tb_order_placement_request *q = &ev.u.order_request;
    q->order_type = TB_ORDER_MARKET;
    q->side = TB_SIDE_BUY;
    PUT(q->symbol, SYM);
    q->quantity = tbt_dec("1");
    PUT(q->strategy_id, strategy);
    PUT(q->client_order_id, client_id);
    return ev;
}

/* ---- scenarios: good events before and after the one under test ----------- */

typedef struct {
    unsigned parts;
    void (*before)(rig *r);
    void (*after)(rig *r);
    const char *subscriber; /* the component under test, as named in dead letters */
} scenario;

/* Signal: two bars (BUY 1, BUY 2: target 3), then a rejection of 2 and two
 * more bars, whose signals show the target. */
static void signal_before(rig *r)
{
    feed(r, flat_ev(SYM, 0, "100"));
    feed(r, flat_ev(SYM, 1, "101"));
}

static void signal_after(rig *r)
{
    feed(r, rejected_ev("s1-2", "s1", SYM, "2", CLOSE(1)));
    feed(r, flat_ev(SYM, 2, "102"));
    feed(r, flat_ev(SYM, 3, "103"));
}

static const scenario signal_sc = {P_SIGNAL, signal_before, signal_after, "signal"};

/* Positions: two bars, a long of 2; then a bar, a partial close, a bar. */
static void positions_before(rig *r)
{
    feed(r, flat_ev(SYM, 0, "100"));
    feed(r, flat_ev(SYM, 1, "102"));
    feed(r, full_fill_ev("c1", "s1", TB_SIDE_BUY, "2", "102", T(2)));
}

static void positions_after(rig *r)
{
    feed(r, flat_ev(SYM, 2, "105"));
    feed(r, full_fill_ev("c2", "s1", TB_SIDE_SELL, "1", "106", T(3)));
    feed(r, flat_ev(SYM, 3, "104"));
}

static const scenario positions_sc = {P_POSITIONS, positions_before, positions_after, "positions"};
static const scenario declared_sc = {P_POSITIONS | P_EXPECT, positions_before, positions_after,
                                     "positions"};

/* Risk: bars, order c1 acknowledged and half filled, s1 long 0.5, s2 flipped
 * from position 2 to 3; then c1 filled, c2 acknowledged and canceled. */
static void risk_before(rig *r)
{
    feed(r, flat_ev(SYM, 0, "100"));
    feed(r, flat_ev(SYM, 1, "101"));
    feed(r, created_ev("c1", "1", CLOSE(1)));
    feed(r, fill_ev("c1", "s1", SYM, TB_SIDE_BUY, "0.5", "101", "0.5", TB_ORDER_PARTIALLY_FILLED,
                    T(2)));
    feed(r, position_ev("s1", SYM, 1, "0.5", "101", "0", T(2)));
    feed(r, position_ev("s2", OTHER, 2, "0", "0", "0.5", T(2)));
    feed(r, position_ev("s2", OTHER, 3, "1", "11", "0", T(2)));
}

static void risk_after(rig *r)
{
    feed(r, flat_ev(SYM, 2, "90"));
    feed(r, fill_ev("c1", "s1", SYM, TB_SIDE_BUY, "0.5", "92", "1", TB_ORDER_FILLED, T(3)));
    feed(r, position_ev("s1", SYM, 1, "1", "96.5", "0", T(3)));
    feed(r, created_ev("c2", "1", T(3)));
    feed(r, canceled_ev("c2", "s1", "1", T(3)));
    feed(r, flat_ev(SYM, 3, "95"));
}

static const scenario risk_sc = {P_RISK, risk_before, risk_after, "risk"};

/* Monitor: a bar and a fill; then an alert, a bar and a fill. */
static void monitor_before(rig *r)
{
    feed(r, flat_ev(SYM, 0, "100"));
    feed(r, full_fill_ev("c1", "s1", TB_SIDE_BUY, "1", "100", T(1)));
}

static void monitor_after(rig *r)
{
    feed(r, alert_ev("max_drawdown", T(1)));
    feed(r, flat_ev(SYM, 1, "101"));
    feed(r, full_fill_ev("c2", "s1", TB_SIDE_SELL, "1", "101", T(2)));
}

static const scenario monitor_sc = {P_MONITOR, monitor_before, monitor_after, "monitor"};

/* The whole check: bad is refused by the scenario's component alone, with
 * err and reason; afterwards the good events are all delivered and the rig
 * agrees with a twin that never saw bad. */
static void expect_refusal(const scenario *sc, tb_event bad, int err, const char *reason)
{
    rig *a = rig_open(sc->parts), *b = rig_open(sc->parts);
    sc->before(a);
    sc->before(b);
    assert_int_equal(tb_bus_dead_letter_count(a->bus), 0);

    uint64_t before_bad = tb_bus_get_counters(a->bus, TB_BUS_ALL).delivered;
    feed_bad(a, bad);
    /* What other subscribers (the recorder) took of it. */
    uint64_t bad_deliveries = tb_bus_get_counters(a->bus, TB_BUS_ALL).delivered - before_bad;
    assert_int_equal(tb_bus_dead_letter_count(a->bus), 1);
    assert_dead_letter(a, 0, sc->subscriber, err, reason, bad.type);
    assert_int_equal(tb_bus_get_counters(a->bus, bad.type).dead_lettered, 1);
    assert_int_equal(tb_bus_get_counters(a->bus, TB_BUS_ALL).dead_lettered, 1);

    uint64_t delivered = tb_bus_get_counters(a->bus, TB_BUS_ALL).delivered;
    sc->after(a);
    sc->after(b);
    /* Good events keep flowing: all delivered, nothing more dead-lettered. */
    assert_true(tb_bus_get_counters(a->bus, TB_BUS_ALL).delivered > delivered);
    assert_int_equal(tb_bus_get_counters(a->bus, TB_BUS_ALL).dead_lettered, 1);
    assert_int_equal(tb_bus_dead_letter_count(b->bus), 0);
    assert_int_equal(tb_bus_get_counters(a->bus, TB_BUS_ALL).delivered - bad_deliveries,
                     tb_bus_get_counters(b->bus, TB_BUS_ALL).delivered);
    assert_same(a, b);
    rig_close(a);
    rig_close(b);
}

/* ev is accepted; with change, the twins must then differ (the comparison
 * can see the event), without, they must agree (it was ignored). */
static void expect_accepted(const scenario *sc, tb_event ev, int change)
{
    rig *a = rig_open(sc->parts), *b = rig_open(sc->parts);
    sc->before(a);
    sc->before(b);
    feed_bad(a, ev); /* an id from the other range, like a refused one */
    assert_int_equal(tb_bus_dead_letter_count(a->bus), 0);
    sc->after(a);
    sc->after(b);
    assert_int_equal(tb_bus_dead_letter_count(a->bus), 0);
    const char *what;
    if (change)
        assert_false(same_state(a, b, &what));
    else
        assert_same(a, b);
    rig_close(a);
    rig_close(b);
}

/* ---- the comparison itself ------------------------------------------------ */

static void test_twins_see_an_accepted_event_of_each_component(void **state)
{
    (void)state;
    expect_accepted(&signal_sc, rejected_ev("s1-3", "s1", SYM, "1", CLOSE(1)), 1);
    expect_accepted(&positions_sc, full_fill_ev("c9", "s1", TB_SIDE_BUY, "1", "101", T(2)), 1);
    expect_accepted(&risk_sc, created_ev("c5", "1", T(2)), 1);
    expect_accepted(&monitor_sc, alert_ev("max_position", T(1)), 1);
}

/* ---- Signal Generator ----------------------------------------------------- */

static void test_signal_refuses_market_data_going_backwards(void **state)
{
    (void)state;
    expect_refusal(&signal_sc, flat_ev(SYM, 0, "99"), TB_EDATA,
                   "MarketData BTCUSDT close_time 59999999999 is before the previous bar's "
                   "119999999999");
}

static void test_signal_refuses_market_data_repeating_the_previous_bar(void **state)
{
    (void)state;
    expect_refusal(&signal_sc, flat_ev(SYM, 1, "99"), TB_EDATA,
                   "MarketData BTCUSDT close_time 119999999999 repeats the previous bar's");
}

static void test_signal_refuses_market_data_with_high_below_low(void **state)
{
    (void)state;
    expect_refusal(&signal_sc, bar_ev(SYM, 5, "100", "99", "100", "100"), TB_EDATA,
                   "MarketData.high 99 is below low 100");
}

static void test_signal_refuses_market_data_closing_outside_its_range(void **state)
{
    (void)state;
    expect_refusal(&signal_sc, bar_ev(SYM, 5, "100", "101", "99", "105"), TB_EDATA,
                   "MarketData.close 105 is not between low 99 and high 101");
}

static void test_signal_refuses_market_data_opening_outside_its_range(void **state)
{
    (void)state;
    expect_refusal(&signal_sc, bar_ev(SYM, 5, "98.5", "101", "99", "100"), TB_EDATA,
                   "MarketData.open 98.5 is not between low 99 and high 101");
}

static void test_signal_refuses_market_data_with_non_positive_price(void **state)
{
    (void)state;
    expect_refusal(&signal_sc, bar_ev(SYM, 5, "100", "101", "0", "100"), TB_EDATA,
                   "MarketData.low 0 is not positive");
}

static void test_signal_refuses_market_data_with_negative_volume(void **state)
{
    (void)state;
    tb_event bad = flat_ev(SYM, 5, "100");
    bad.u.market_data.volume = tbt_dec("-1");
    expect_refusal(&signal_sc, bad, TB_EDATA, "MarketData.volume -1 is negative");
}

static void test_signal_refuses_market_data_with_unterminated_symbol(void **state)
{
    (void)state;
    tb_event bad = flat_ev(SYM, 5, "100");
    memset(bad.u.market_data.symbol, 'X', sizeof(bad.u.market_data.symbol));
    expect_refusal(&signal_sc, bad, TB_EDATA,
                   "MarketData.symbol is not NUL-terminated within 16 bytes");
}

static void test_signal_refuses_market_data_without_symbol(void **state)
{
    (void)state;
    tb_event bad = flat_ev(SYM, 5, "100");
    bad.u.market_data.symbol[0] = '\0';
    expect_refusal(&signal_sc, bad, TB_EDATA, "MarketData.symbol is empty");
}

static void test_signal_refuses_market_data_closing_before_it_opens(void **state)
{
    (void)state;
    tb_event bad = flat_ev(SYM, 5, "100");
    bad.u.market_data.open_time = bad.u.market_data.close_time + 1;
    expect_refusal(&signal_sc, bad, TB_EDATA,
                   "MarketData.close_time 359999999999 is before open_time 360000000000");
}

static void test_signal_refuses_market_data_with_negative_time(void **state)
{
    (void)state;
    tb_event bad = flat_ev(SYM, 5, "100");
    bad.u.market_data.open_time = -1;
    expect_refusal(&signal_sc, bad, TB_EDATA, "MarketData.open_time -1 is negative");
}

static void test_signal_checks_the_form_of_bars_of_symbols_it_does_not_trade(void **state)
{
    (void)state;
    expect_refusal(&signal_sc, bar_ev(OTHER, 5, "10", "9", "10", "10"), TB_EDATA,
                   "MarketData.high 9 is below low 10");
}

static void test_signal_keeps_no_time_for_symbols_it_does_not_trade(void **state)
{
    (void)state;
    /* Nothing is kept for ETHUSDT, so nothing orders its bars here. */
    rig *r = rig_open(P_SIGNAL);
    feed(r, flat_ev(OTHER, 5, "10"));
    feed(r, flat_ev(OTHER, 4, "10"));
    feed(r, flat_ev(OTHER, 4, "10"));
    assert_int_equal(tb_bus_dead_letter_count(r->bus), 0);
    assert_int_equal(tb_signal_generator_signals(r->sg), 0);
    rig_close(r);
}

static void test_signal_refuses_rejection_naming_another_symbol(void **state)
{
    (void)state;
    expect_refusal(&signal_sc, rejected_ev("s1-3", "s1", OTHER, "1", CLOSE(1)), TB_EINVAL,
                   "OrderRejected for strategy 's1' names symbol ETHUSDT; it trades BTCUSDT");
}

static void test_signal_refuses_rejection_of_non_positive_quantity(void **state)
{
    (void)state;
    expect_refusal(&signal_sc, rejected_ev("s1-3", "s1", SYM, "0", CLOSE(1)), TB_EINVAL,
                   "OrderRejected.quantity 0 is not positive");
}

static void test_signal_refuses_rejection_with_invalid_side(void **state)
{
    (void)state;
    tb_event bad = rejected_ev("s1-3", "s1", SYM, "1", CLOSE(1));
    bad.u.order_rejected.side = (tb_side)0;
    expect_refusal(&signal_sc, bad, TB_EINVAL, "OrderRejected.side 0 is not BUY or SELL");
}

static void test_signal_refuses_rejection_with_invalid_order_type(void **state)
{
    (void)state;
    tb_event bad = rejected_ev("s1-3", "s1", SYM, "1", CLOSE(1));
    bad.u.order_rejected.order_type = (tb_order_type)9;
    expect_refusal(&signal_sc, bad, TB_EINVAL,
                   "OrderRejected.order_type 9 is not MARKET, LIMIT or STOP_MARKET");
}

static void test_signal_refuses_rejection_without_strategy_id(void **state)
{
    (void)state;
    expect_refusal(&signal_sc, rejected_ev("s1-3", "", SYM, "1", CLOSE(1)), TB_EINVAL,
                   "OrderRejected.strategy_id is empty");
}

static void test_signal_refuses_cancel_whose_status_is_not_a_cancel(void **state)
{
    (void)state;
    tb_event bad = canceled_ev("s1-3", "s1", "1", CLOSE(1));
    bad.u.order_canceled.status = TB_ORDER_FILLED;
    expect_refusal(&signal_sc, bad, TB_EINVAL,
                   "OrderCanceled.status FILLED is not CANCELED or EXPIRED");
}

static void test_signal_refuses_cancel_of_negative_quantity(void **state)
{
    (void)state;
    expect_refusal(&signal_sc, canceled_ev("s1-3", "s1", "-1", CLOSE(1)), TB_EINVAL,
                   "OrderCanceled.canceled_quantity -1 is negative");
}

static void test_signal_refuses_cancel_without_client_order_id(void **state)
{
    (void)state;
    expect_refusal(&signal_sc, canceled_ev("", "s1", "1", CLOSE(1)), TB_EINVAL,
                   "OrderCanceled.client_order_id is empty");
}

static void test_signal_ignores_rejection_for_a_strategy_it_does_not_host(void **state)
{
    (void)state;
    /* Another generator's (distributed mode): not judged here, even when it
     * breaks a rule this generator would apply to its own. */
    expect_accepted(&signal_sc, rejected_ev("s2-1", "s2", SYM, "0", CLOSE(1)), 0);
}

/* Calls the Signal Generator's seed interface with whatever the bus brings. */
static int forward_to_signal(const tb_event *ev, void *ctx)
{
    return tb_signal_generator_process_market_data(ctx, ev);
}

static void test_signal_refuses_an_event_of_another_type(void **state)
{
    (void)state;
    rig *r = rig_open(P_SIGNAL);
    signal_before(r);
    assert_true(tb_bus_subscribe_named(r->bus, TB_EV_ORDER_FILLED, forward_to_signal, r->sg,
                                       "signal-direct") >= 0);
    feed_bad(r, full_fill_ev("c1", "s1", TB_SIDE_BUY, "1", "100", T(2)));
    assert_int_equal(tb_bus_dead_letter_count(r->bus), 1);
    assert_dead_letter(r, 0, "signal-direct", TB_EINVAL,
                       "OrderFilled where MarketData was expected", TB_EV_ORDER_FILLED);
    size_t before = r->out.n;
    signal_after(r);
    assert_int_equal(r->out.n, before + 2);
    rig_close(r);
}

/* ---- Position Manager ----------------------------------------------------- */

static tb_event position_fill(void)
{
    return full_fill_ev("c9", "s1", TB_SIDE_BUY, "1", "101", T(2) + 30 * TBT_SECOND);
}

static void test_position_refuses_negative_fill_quantity_with_reason(void **state)
{
    (void)state;
    tb_event bad = position_fill();
    bad.u.order_filled.filled_quantity = tbt_dec("-1");
    expect_refusal(&positions_sc, bad, TB_EINVAL, "OrderFilled.filled_quantity -1 is not positive");
}

static void test_position_refuses_zero_fill_price(void **state)
{
    (void)state;
    tb_event bad = position_fill();
    bad.u.order_filled.filled_price = 0;
    expect_refusal(&positions_sc, bad, TB_EINVAL, "OrderFilled.filled_price 0 is not positive");
}

static void test_position_refuses_negative_commission(void **state)
{
    (void)state;
    tb_event bad = position_fill();
    bad.u.order_filled.commission = tbt_dec("-0.1");
    expect_refusal(&positions_sc, bad, TB_EINVAL, "OrderFilled.commission -0.1 is negative");
}

static void test_position_refuses_fill_with_invalid_side(void **state)
{
    (void)state;
    tb_event bad = position_fill();
    bad.u.order_filled.side = (tb_side)3;
    expect_refusal(&positions_sc, bad, TB_EINVAL, "OrderFilled.side 3 is not BUY or SELL");
}

static void test_position_refuses_fill_whose_status_is_not_a_fill(void **state)
{
    (void)state;
    tb_event bad = position_fill();
    bad.u.order_filled.status = TB_ORDER_NEW;
    expect_refusal(&positions_sc, bad, TB_EINVAL,
                   "OrderFilled.status NEW is not PARTIALLY_FILLED or FILLED");
}

static void test_position_refuses_fill_with_unknown_status(void **state)
{
    (void)state;
    tb_event bad = position_fill();
    bad.u.order_filled.status = (tb_order_status)42;
    expect_refusal(&positions_sc, bad, TB_EINVAL,
                   "OrderFilled.status 42 is not PARTIALLY_FILLED or FILLED");
}

static void test_position_refuses_fill_without_client_order_id(void **state)
{
    (void)state;
    tb_event bad = position_fill();
    bad.u.order_filled.client_order_id[0] = '\0';
    expect_refusal(&positions_sc, bad, TB_EINVAL, "OrderFilled.client_order_id is empty");
}

static void test_position_refuses_fill_with_unterminated_strategy_id(void **state)
{
    (void)state;
    tb_event bad = position_fill();
    memset(bad.u.order_filled.strategy_id, 's', sizeof(bad.u.order_filled.strategy_id));
    expect_refusal(&positions_sc, bad, TB_EINVAL,
                   "OrderFilled.strategy_id is not NUL-terminated within 32 bytes");
}

static void test_position_refuses_fill_without_symbol(void **state)
{
    (void)state;
    tb_event bad = position_fill();
    bad.u.order_filled.symbol[0] = '\0';
    expect_refusal(&positions_sc, bad, TB_EINVAL, "OrderFilled.symbol is empty");
}

static void test_position_refuses_fill_with_cumulative_below_its_quantity(void **state)
{
    (void)state;
    tb_event bad = position_fill();
    bad.u.order_filled.cumulative_quantity = tbt_dec("0.5");
    expect_refusal(&positions_sc, bad, TB_EINVAL,
                   "OrderFilled.cumulative_quantity 0.5 is less than filled_quantity 1");
}

static void test_position_refuses_fill_with_non_positive_average_price(void **state)
{
    (void)state;
    tb_event bad = position_fill();
    bad.u.order_filled.average_price = 0;
    expect_refusal(&positions_sc, bad, TB_EINVAL, "OrderFilled.average_price 0 is not positive");
}

static void test_position_refuses_fill_going_back_in_time(void **state)
{
    (void)state;
    tb_event bad = position_fill();
    bad.timestamp = T(1);
    expect_refusal(&positions_sc, bad, TB_ESTATE,
                   "OrderFilled s1/BTCUSDT timestamp 60000000000 is before the previous fill's "
                   "120000000000");
}

static void test_position_orders_fill_times_per_strategy_and_symbol(void **state)
{
    (void)state;
    /* s2's first fill may be older than s1's last: each pair has its own clock. */
    tb_event ev = full_fill_ev("c9", "s2", TB_SIDE_BUY, "1", "101", T(1));
    expect_accepted(&positions_sc, ev, 1);
}

static void
test_position_refuses_fill_for_unknown_strategy_once_strategies_are_declared(void **state)
{
    (void)state;
    tb_event bad = full_fill_ev("g1", "ghost", TB_SIDE_BUY, "1", "101", T(2));
    expect_refusal(&declared_sc, bad, TB_EINVAL, "OrderFilled for unknown strategy 'ghost'");
}

static void test_position_refuses_fill_on_a_symbol_its_strategy_does_not_trade(void **state)
{
    (void)state;
    tb_event bad = fill_ev("c9", "s1", OTHER, TB_SIDE_BUY, "1", "10", "1", TB_ORDER_FILLED, T(2));
    expect_refusal(&declared_sc, bad, TB_EINVAL,
                   "OrderFilled for strategy 's1' on symbol ETHUSDT, which it does not trade");
}

static void test_position_declares_only_names_that_fit_an_event(void **state)
{
    (void)state;
    rig *r = rig_open(P_POSITIONS);
    char long_id[TB_STRATEGY_LEN + 1];
    memset(long_id, 's', TB_STRATEGY_LEN);
    long_id[TB_STRATEGY_LEN] = '\0';
    assert_int_equal(tb_position_manager_expect(r->pm, long_id, SYM), TB_EINVAL);
    assert_int_equal(tb_position_manager_expect(r->pm, "", SYM), TB_EINVAL);
    assert_int_equal(tb_position_manager_expect(r->pm, "s1", ""), TB_EINVAL);
    assert_int_equal(tb_position_manager_expect(r->pm, "s1", "BTCUSDTBTCUSDTBTC"), TB_EINVAL);
    assert_int_equal(tb_position_manager_expect(r->pm, NULL, SYM), TB_EINVAL);
    /* Nothing was declared: every strategy is still accepted. */
    feed(r, full_fill_ev("g1", "ghost", TB_SIDE_BUY, "1", "101", T(2)));
    assert_int_equal(tb_bus_dead_letter_count(r->bus), 0);
    assert_int_equal(tb_position_manager_expect(r->pm, "s1", SYM), 0);
    assert_int_equal(tb_position_manager_expect(r->pm, "s1", SYM), 0); /* twice is once */
    rig_close(r);
}

static void test_position_accepts_any_strategy_when_none_is_declared(void **state)
{
    (void)state;
    expect_accepted(&positions_sc, full_fill_ev("g1", "ghost", TB_SIDE_BUY, "1", "101", T(2)), 1);
}

static void test_position_refuses_market_data_going_backwards(void **state)
{
    (void)state;
    /* Accepted, this bar would mark the long at 50. */
    expect_refusal(&positions_sc, flat_ev(SYM, 0, "50"), TB_EDATA,
                   "MarketData BTCUSDT close_time 59999999999 is before the previous bar's "
                   "119999999999");
}

static void test_position_refuses_market_data_repeating_the_previous_bar(void **state)
{
    (void)state;
    expect_refusal(&positions_sc, flat_ev(SYM, 1, "50"), TB_EDATA,
                   "MarketData BTCUSDT close_time 119999999999 repeats the previous bar's");
}

static void test_position_refuses_market_data_opening_above_its_high(void **state)
{
    (void)state;
    expect_refusal(&positions_sc, bar_ev(SYM, 5, "103", "101", "99", "100"), TB_EDATA,
                   "MarketData.open 103 is not between low 99 and high 101");
}

static void test_position_marks_again_on_a_redelivered_bar(void **state)
{
    (void)state;
    rig *r = rig_open(P_POSITIONS);
    positions_before(r);
    tb_event bar = flat_ev(SYM, 2, "110");
    bar.event_id = GOOD_ID(1000);
    assert_int_equal(tb_bus_publish(r->bus, &bar), 0);
    assert_int_equal(tb_bus_publish(r->bus, &bar), 0); /* the same event: a redelivery */
    assert_int_equal(tb_bus_dead_letter_count(r->bus), 0);
    tb_position_update p;
    assert_int_equal(tb_position_manager_find(r->pm, "s1", SYM, &p), 0);
    assert_dec_equal(p.mark_price, "110");
    assert_dec_equal(p.unrealized_pnl, "16");
    rig_close(r);
}

static void test_position_accepts_a_bar_whose_symbol_array_has_bytes_after_the_nul(void **state)
{
    (void)state;
    /* The inline shortcut doubts it (last byte not NUL); the full check
     * finds the terminator and accepts: the bar marks the long. */
    rig *r = rig_open(P_POSITIONS);
    positions_before(r);
    tb_event ev = flat_ev(SYM, 2, "110");
    char *sym = ev.u.market_data.symbol;
    memset(sym + sizeof(SYM), 'x', TB_SYMBOL_LEN - sizeof(SYM));
    assert_int_not_equal(sym[TB_SYMBOL_LEN - 1], '\0');
    feed(r, ev);
    assert_int_equal(tb_bus_dead_letter_count(r->bus), 0);
    tb_position_update p;
    assert_int_equal(tb_position_manager_find(r->pm, "s1", SYM, &p), 0);
    assert_dec_equal(p.mark_price, "110");
    rig_close(r);
}

/* Calls the Position Manager's seed interface with whatever the bus brings. */
static int forward_to_positions(const tb_event *ev, void *ctx)
{
    return tb_position_manager_handle_order_filled_event(ctx, ev);
}

static void test_position_refuses_an_event_of_another_type(void **state)
{
    (void)state;
    rig *r = rig_open(P_POSITIONS);
    positions_before(r);
    assert_true(tb_bus_subscribe_named(r->bus, TB_EV_RISK_ALERT, forward_to_positions, r->pm,
                                       "positions-direct") >= 0);
    feed_bad(r, alert_ev("max_position", T(2)));
    assert_int_equal(tb_bus_dead_letter_count(r->bus), 1);
    assert_dead_letter(r, 0, "positions-direct", TB_EINVAL,
                       "RiskAlert where OrderFilled was expected", TB_EV_RISK_ALERT);
    assert_int_equal(tb_position_manager_count(r->pm), 1);
    rig_close(r);
}

static void test_position_refuses_fill_without_event_id(void **state)
{
    (void)state;
    /* The bus numbers what it publishes, so only a direct call can lack an id. */
    rig *a = rig_open(P_POSITIONS), *b = rig_open(P_POSITIONS);
    positions_before(a);
    positions_before(b);
    tb_event bad = position_fill();
    assert_int_equal(tb_position_manager_handle_order_filled_event(a->pm, &bad), TB_EINVAL);
    positions_after(a);
    positions_after(b);
    assert_same(a, b);
    rig_close(a);
    rig_close(b);
}

/* ---- Risk Manager --------------------------------------------------------- */

static void test_risk_refuses_market_data_going_backwards(void **state)
{
    (void)state;
    expect_refusal(&risk_sc, flat_ev(SYM, 0, "50"), TB_EDATA,
                   "MarketData BTCUSDT close_time 59999999999 is before the previous bar's "
                   "119999999999");
}

static void test_risk_refuses_market_data_with_non_positive_close(void **state)
{
    (void)state;
    expect_refusal(&risk_sc, bar_ev(SYM, 5, "100", "101", "99", "0"), TB_EDATA,
                   "MarketData.close 0 is not positive");
}

static void test_risk_refuses_fill_for_an_order_that_is_not_open(void **state)
{
    (void)state;
    expect_refusal(&risk_sc, full_fill_ev("ghost-1", "s1", TB_SIDE_BUY, "1", "101", T(2)),
                   TB_ESTATE, "OrderFilled for order 'ghost-1', which is not open");
}

static void test_risk_refuses_fill_past_the_ordered_quantity(void **state)
{
    (void)state;
    tb_event bad = fill_ev("c1", "s1", SYM, TB_SIDE_BUY, "0.75", "101", "1.25",
                           TB_ORDER_PARTIALLY_FILLED, T(2));
    expect_refusal(&risk_sc, bad, TB_ESTATE,
                   "OrderFilled.cumulative_quantity 1.25 exceeds order 'c1' quantity 1");
}

static void test_risk_refuses_fill_with_negative_commission(void **state)
{
    (void)state;
    tb_event bad = fill_ev("c1", "s1", SYM, TB_SIDE_BUY, "0.25", "101", "0.75",
                           TB_ORDER_PARTIALLY_FILLED, T(2));
    bad.u.order_filled.commission = tbt_dec("-0.05");
    expect_refusal(&risk_sc, bad, TB_EINVAL, "OrderFilled.commission -0.05 is negative");
}

static void test_risk_refuses_fill_going_back_in_time(void **state)
{
    (void)state;
    tb_event bad = fill_ev("c1", "s1", SYM, TB_SIDE_BUY, "0.25", "101", "0.75",
                           TB_ORDER_PARTIALLY_FILLED, T(1) + 30 * TBT_SECOND);
    expect_refusal(&risk_sc, bad, TB_ESTATE,
                   "OrderFilled s1/BTCUSDT timestamp 90000000000 is before the previous fill's "
                   "120000000000");
}

static void test_risk_refuses_second_acknowledgement_of_an_open_order(void **state)
{
    (void)state;
    expect_refusal(&risk_sc, created_ev("c1", "1", T(2)), TB_ESTATE,
                   "OrderCreated for order 'c1', which is already open");
}

static void test_risk_counts_a_redelivered_acknowledgement_once(void **state)
{
    (void)state;
    rig *r = rig_open(P_RISK);
    risk_before(r);
    tb_event ack = created_ev("c5", "1", T(2));
    ack.event_id = GOOD_ID(1000);
    assert_int_equal(tb_bus_publish(r->bus, &ack), 0);
    assert_int_equal(tb_bus_publish(r->bus, &ack), 0); /* the same event: a redelivery */
    assert_int_equal(tb_bus_dead_letter_count(r->bus), 0);
    assert_int_equal(tb_risk_manager_open_orders(r->rm), 2);
    rig_close(r);
}

static void test_risk_refuses_acknowledgement_with_pending_status(void **state)
{
    (void)state;
    tb_event bad = created_ev("c5", "1", T(2));
    bad.u.order_created.status = TB_ORDER_PENDING;
    expect_refusal(&risk_sc, bad, TB_ESTATE,
                   "OrderCreated for order 'c5' has status PENDING, which no acknowledged order "
                   "has");
}

static void test_risk_refuses_acknowledgement_with_unknown_status(void **state)
{
    (void)state;
    tb_event bad = created_ev("c5", "1", T(2));
    bad.u.order_created.status = (tb_order_status)9;
    expect_refusal(&risk_sc, bad, TB_EINVAL, "OrderCreated.status 9 is not a known order status");
}

static void test_risk_refuses_acknowledgement_of_zero_quantity(void **state)
{
    (void)state;
    expect_refusal(&risk_sc, created_ev("c5", "0", T(2)), TB_EINVAL,
                   "OrderCreated.quantity 0 is not positive");
}

static void test_risk_refuses_rejection_of_an_acknowledged_order(void **state)
{
    (void)state;
    expect_refusal(&risk_sc, rejected_ev("c1", "s1", SYM, "1", T(2)), TB_ESTATE,
                   "OrderRejected for order 'c1', which the exchange acknowledged "
                   "(PARTIALLY_FILLED)");
}

static void test_risk_refuses_rejection_with_unknown_reason(void **state)
{
    (void)state;
    tb_event bad = rejected_ev("c7", "s1", SYM, "1", T(2));
    bad.u.order_rejected.reason = (tb_reject_reason)99;
    expect_refusal(&risk_sc, bad, TB_EINVAL,
                   "OrderRejected.reason 99 is not a known reject reason");
}

static void test_risk_refuses_cancel_of_an_order_that_is_not_open(void **state)
{
    (void)state;
    expect_refusal(&risk_sc, canceled_ev("c9", "s1", "1", T(2)), TB_ESTATE,
                   "OrderCanceled for order 'c9', which is not open");
}

static void test_risk_refuses_cancel_whose_status_is_not_a_cancel(void **state)
{
    (void)state;
    tb_event bad = canceled_ev("c1", "s1", "0.5", T(2));
    bad.u.order_canceled.status = TB_ORDER_FILLED;
    expect_refusal(&risk_sc, bad, TB_EINVAL,
                   "OrderCanceled.status FILLED is not CANCELED or EXPIRED");
}

static void test_risk_refuses_position_update_going_back_in_time(void **state)
{
    (void)state;
    expect_refusal(&risk_sc, position_ev("s1", SYM, 1, "5", "101", "0", T(1)), TB_ESTATE,
                   "PositionUpdate s1/BTCUSDT timestamp 60000000000 is before the previous "
                   "update's 120000000000");
}

static void test_risk_refuses_position_update_of_an_ended_position(void **state)
{
    (void)state;
    expect_refusal(&risk_sc, position_ev("s2", OTHER, 2, "-3", "10", "0", T(2)), TB_ESTATE,
                   "PositionUpdate s2/ETHUSDT position_id 2 is older than the current 3");
}

static void test_risk_refuses_open_position_update_with_zero_quantity(void **state)
{
    (void)state;
    tb_event bad = position_ev("s1", SYM, 1, "0", "101", "0", T(2));
    bad.u.position.status = TB_POSITION_OPEN;
    expect_refusal(&risk_sc, bad, TB_EINVAL,
                   "PositionUpdate.current_quantity 0 contradicts status OPEN");
}

static void test_risk_refuses_position_update_with_negative_entry_price(void **state)
{
    (void)state;
    expect_refusal(&risk_sc, position_ev("s1", SYM, 1, "5", "-1", "0", T(2)), TB_EINVAL,
                   "PositionUpdate.entry_price -1 is negative");
}

static void test_risk_refuses_malformed_order_request_naming_the_field(void **state)
{
    (void)state;
    rig *a = rig_open(P_RISK), *b = rig_open(P_RISK);
    risk_before(a);
    risk_before(b);
    tb_event bad = request_ev("", "s1-9");
    bad.event_id = BAD_ID(1);
    char rule[TB_RULE_LEN] = "", detail[TB_TEXT_LEN] = "";
    assert_int_equal(
        tb_risk_manager_pretrade(a->rm, &bad, rule, sizeof(rule), detail, sizeof(detail)),
        TB_EINVAL);
    assert_string_equal(rule, "invalid_order");
    assert_string_equal(detail, "OrderPlacementRequest.strategy_id is empty");
    assert_int_equal(a->out.n, 0); /* no alert for a malformed request */
    risk_after(a);
    risk_after(b);
    assert_same(a, b);
    rig_close(a);
    rig_close(b);
}

/* ---- Monitor -------------------------------------------------------------- */

static void test_monitor_refuses_risk_alert_with_unknown_trading_state(void **state)
{
    (void)state;
    tb_event bad = alert_ev("max_position", T(1));
    bad.u.risk_alert.trading_state = (tb_trading_state)7;
    expect_refusal(&monitor_sc, bad, TB_EINVAL,
                   "RiskAlert.trading_state 7 is not ACTIVE, REDUCING or HALTED");
}

static void test_monitor_refuses_risk_alert_without_rule(void **state)
{
    (void)state;
    expect_refusal(&monitor_sc, alert_ev("", T(1)), TB_EINVAL, "RiskAlert.rule is empty");
}

static void test_monitor_refuses_fill_with_negative_price_and_writes_no_row(void **state)
{
    (void)state;
    tb_event bad = full_fill_ev("c9", "s1", TB_SIDE_BUY, "1", "5", T(1));
    bad.u.order_filled.filled_price = tbt_dec("-5");
    expect_refusal(&monitor_sc, bad, TB_EINVAL, "OrderFilled.filled_price -5 is not positive");
}

static void test_monitor_refuses_event_of_unknown_version(void **state)
{
    (void)state;
    tb_event bad = alert_ev("max_position", T(1));
    bad.version = 2;
    expect_refusal(&monitor_sc, bad, TB_EINVAL, "RiskAlert.version 2 is not 1");
}

static void test_monitor_refuses_event_from_unknown_source(void **state)
{
    (void)state;
    tb_event bad = alert_ev("max_position", T(1));
    bad.source = (tb_source)42;
    expect_refusal(&monitor_sc, bad, TB_EINVAL, "RiskAlert.source 42 is unknown");
}

static void test_monitor_refuses_event_with_negative_timestamp(void **state)
{
    (void)state;
    expect_refusal(&monitor_sc, alert_ev("max_position", -1), TB_EINVAL,
                   "RiskAlert.timestamp -1 is negative");
}

static void test_monitor_refuses_signal_with_unterminated_strategy_id(void **state)
{
    (void)state;
    tb_event bad = signal_ev();
    memset(bad.u.signal.strategy_id, 'z', sizeof(bad.u.signal.strategy_id));
    expect_refusal(&monitor_sc, bad, TB_EINVAL,
                   "SignalGenerated.strategy_id is not NUL-terminated within 32 bytes");
}

static void test_monitor_refuses_position_update_with_unknown_status(void **state)
{
    (void)state;
    tb_event bad = position_ev("s1", SYM, 1, "1", "100", "0", T(1));
    bad.u.position.status = (tb_position_status)0;
    expect_refusal(&monitor_sc, bad, TB_EINVAL, "PositionUpdate.status 0 is not OPEN or CLOSED");
}

static void test_monitor_refuses_order_request_of_unknown_type(void **state)
{
    (void)state;
    tb_event bad = request_ev("s1", "s1-9");
    bad.u.order_request.order_type = (tb_order_type)0;
    expect_refusal(&monitor_sc, bad, TB_EINVAL,
                   "OrderPlacementRequest.order_type 0 is not MARKET, LIMIT or STOP_MARKET");
}

static void test_monitor_refuses_bar_with_high_below_low(void **state)
{
    (void)state;
    expect_refusal(&monitor_sc, bar_ev(SYM, 5, "100", "99", "100", "100"), TB_EDATA,
                   "MarketData.high 99 is below low 100");
}

/* ---- the pnl book ------------------------------------------------------------ */

static void test_pnl_book_refuses_update_of_an_ended_life(void **state)
{
    (void)state;
    tb_pnl_book *b;
    assert_int_equal(tb_pnl_book_create(&b), 0);
    tb_event e1 = position_ev("s1", SYM, 1, "0", "0", "3", T(1));
    tb_event e2 = position_ev("s1", SYM, 2, "1", "10", "0.5", T(2));
    tb_event late = position_ev("s1", SYM, 1, "0", "0", "7", T(2));
    tb_decimal total = 0;
    assert_int_equal(tb_pnl_book_apply(b, &e1.u.position, &total), 0);
    assert_int_equal(tb_pnl_book_apply(b, &e2.u.position, &total), 0);
    assert_dec_equal(total, "3.5");
    assert_int_equal(tb_pnl_book_apply(b, &late.u.position, &total), TB_ESTATE);
    assert_dec_equal(tb_pnl_book_total(b, "s1", SYM), "3.5");
    tb_pnl_book_destroy(b);
}

static void test_pnl_book_refuses_malformed_update(void **state)
{
    (void)state;
    tb_pnl_book *b;
    assert_int_equal(tb_pnl_book_create(&b), 0);
    tb_event ev = position_ev("s1", SYM, 1, "1", "10", "2", T(1));
    assert_int_equal(tb_pnl_book_apply(b, &ev.u.position, NULL), 0);

    tb_event bad = ev;
    bad.u.position.position_id = 0;
    assert_int_equal(tb_pnl_book_apply(b, &bad.u.position, NULL), TB_EINVAL);
    bad = ev;
    memset(bad.u.position.symbol, 'S', sizeof(bad.u.position.symbol));
    assert_int_equal(tb_pnl_book_apply(b, &bad.u.position, NULL), TB_EINVAL);
    bad = ev;
    bad.u.position.realized_pnl = tbt_dec("100");
    bad.u.position.status = TB_POSITION_CLOSED; /* with a quantity of 1 */
    assert_int_equal(tb_pnl_book_apply(b, &bad.u.position, NULL), TB_EINVAL);
    assert_int_equal(tb_pnl_book_apply(b, NULL, NULL), TB_EINVAL);
    assert_dec_equal(tb_pnl_book_total(b, "s1", SYM), "2");
    tb_pnl_book_destroy(b);
}

/* ---- every component on one bus ---------------------------------------------- */

static void all_before(rig *r)
{
    feed(r, flat_ev(SYM, 0, "100"));
    feed(r, flat_ev(SYM, 1, "101"));
    feed(r, created_ev("c1", "1", CLOSE(1)));
}

static void all_after(rig *r)
{
    feed(r, full_fill_ev("c1", "s1", TB_SIDE_BUY, "1", "101", T(2)));
    feed(r, flat_ev(SYM, 2, "102"));
}

static void test_every_consumer_dead_letters_a_bad_fill_and_the_pipeline_goes_on(void **state)
{
    (void)state;
    rig *a = rig_open(P_ALL), *b = rig_open(P_ALL);
    all_before(a);
    all_before(b);
    tb_event bad = full_fill_ev("c1", "s1", TB_SIDE_BUY, "1", "101", T(2));
    bad.u.order_filled.filled_quantity = tbt_dec("-1");
    feed_bad(a, bad);

    /* Each consumer of fills refuses it in subscription order, with the
     * same reason; the Signal Generator too, as the order is one of its
     * strategy's working orders (ctx->open_orders). */
    static const char *const refusers[] = {"signal", "positions", "risk", "monitor"};
    assert_int_equal(tb_bus_dead_letter_count(a->bus), 4);
    for (size_t i = 0; i < 4; i++)
        assert_dead_letter(a, i, refusers[i], TB_EINVAL,
                           "OrderFilled.filled_quantity -1 is not positive", TB_EV_ORDER_FILLED);
    assert_int_equal(tb_bus_get_counters(a->bus, TB_EV_ORDER_FILLED).dead_lettered, 4);

    size_t out = a->out.n;
    all_after(a);
    all_after(b);
    assert_int_equal(tb_bus_get_counters(a->bus, TB_BUS_ALL).dead_lettered, 4);
    assert_int_equal(tbt_count(&a->out, TB_EV_POSITION_UPDATE), 1);
    assert_true(a->out.n > out);
    assert_same(a, b);
    rig_close(a);
    rig_close(b);
}

/* The form of an event is checked once per dispatch and the answer shared
 * (bus_int.h): a refusal is not shared, so each consumer of bars refuses a
 * bad one with the same reason, and the good bar after it, delivered in
 * place of the caller's own copy at the same address, is checked afresh and
 * taken by all of them. */
static void test_every_consumer_dead_letters_a_bad_bar_and_takes_the_next(void **state)
{
    (void)state;
    rig *a = rig_open(P_ALL), *b = rig_open(P_ALL);
    all_before(a);
    all_before(b);
    feed_bad(a, bar_ev(SYM, 2, "100", "99", "100", "100"));
    static const char *const refusers[] = {"signal", "positions", "risk", "monitor"};
    assert_int_equal(tb_bus_dead_letter_count(a->bus), 4);
    for (size_t i = 0; i < 4; i++)
        assert_dead_letter(a, i, refusers[i], TB_EDATA, "MarketData.high 99 is below low 100",
                           TB_EV_MARKET_DATA);
    all_after(a);
    all_after(b);
    assert_int_equal(tb_bus_get_counters(a->bus, TB_BUS_ALL).dead_lettered, 4);
    assert_same(a, b);
    rig_close(a);
    rig_close(b);
}

#define TEST(fn) cmocka_unit_test(fn)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_twins_see_an_accepted_event_of_each_component),
        TEST(test_every_consumer_dead_letters_a_bad_bar_and_takes_the_next),
        TEST(test_signal_refuses_market_data_going_backwards),
        TEST(test_signal_refuses_market_data_repeating_the_previous_bar),
        TEST(test_signal_refuses_market_data_with_high_below_low),
        TEST(test_signal_refuses_market_data_closing_outside_its_range),
        TEST(test_signal_refuses_market_data_opening_outside_its_range),
        TEST(test_signal_refuses_market_data_with_non_positive_price),
        TEST(test_signal_refuses_market_data_with_negative_volume),
        TEST(test_signal_refuses_market_data_with_unterminated_symbol),
        TEST(test_signal_refuses_market_data_without_symbol),
        TEST(test_signal_refuses_market_data_closing_before_it_opens),
        TEST(test_signal_refuses_market_data_with_negative_time),
        TEST(test_signal_checks_the_form_of_bars_of_symbols_it_does_not_trade),
        TEST(test_signal_keeps_no_time_for_symbols_it_does_not_trade),
        TEST(test_signal_refuses_rejection_naming_another_symbol),
        TEST(test_signal_refuses_rejection_of_non_positive_quantity),
        TEST(test_signal_refuses_rejection_with_invalid_side),
        TEST(test_signal_refuses_rejection_with_invalid_order_type),
        TEST(test_signal_refuses_rejection_without_strategy_id),
        TEST(test_signal_refuses_cancel_whose_status_is_not_a_cancel),
        TEST(test_signal_refuses_cancel_of_negative_quantity),
        TEST(test_signal_refuses_cancel_without_client_order_id),
        TEST(test_signal_ignores_rejection_for_a_strategy_it_does_not_host),
        TEST(test_signal_refuses_an_event_of_another_type),
        TEST(test_position_refuses_negative_fill_quantity_with_reason),
        TEST(test_position_refuses_zero_fill_price),
        TEST(test_position_refuses_negative_commission),
        TEST(test_position_refuses_fill_with_invalid_side),
        TEST(test_position_refuses_fill_whose_status_is_not_a_fill),
        TEST(test_position_refuses_fill_with_unknown_status),
        TEST(test_position_refuses_fill_without_client_order_id),
        TEST(test_position_refuses_fill_with_unterminated_strategy_id),
        TEST(test_position_refuses_fill_without_symbol),
        TEST(test_position_refuses_fill_with_cumulative_below_its_quantity),
        TEST(test_position_refuses_fill_with_non_positive_average_price),
        TEST(test_position_refuses_fill_going_back_in_time),
        TEST(test_position_orders_fill_times_per_strategy_and_symbol),
        TEST(test_position_refuses_fill_for_unknown_strategy_once_strategies_are_declared),
        TEST(test_position_refuses_fill_on_a_symbol_its_strategy_does_not_trade),
        TEST(test_position_declares_only_names_that_fit_an_event),
        TEST(test_position_accepts_any_strategy_when_none_is_declared),
        TEST(test_position_refuses_market_data_going_backwards),
        TEST(test_position_refuses_market_data_repeating_the_previous_bar),
        TEST(test_position_refuses_market_data_opening_above_its_high),
        TEST(test_position_marks_again_on_a_redelivered_bar),
        TEST(test_position_accepts_a_bar_whose_symbol_array_has_bytes_after_the_nul),
        TEST(test_position_refuses_an_event_of_another_type),
        TEST(test_position_refuses_fill_without_event_id),
        TEST(test_risk_refuses_market_data_going_backwards),
        TEST(test_risk_refuses_market_data_with_non_positive_close),
        TEST(test_risk_refuses_fill_for_an_order_that_is_not_open),
        TEST(test_risk_refuses_fill_past_the_ordered_quantity),
        TEST(test_risk_refuses_fill_with_negative_commission),
        TEST(test_risk_refuses_fill_going_back_in_time),
        TEST(test_risk_refuses_second_acknowledgement_of_an_open_order),
        TEST(test_risk_counts_a_redelivered_acknowledgement_once),
        TEST(test_risk_refuses_acknowledgement_with_pending_status),
        TEST(test_risk_refuses_acknowledgement_with_unknown_status),
        TEST(test_risk_refuses_acknowledgement_of_zero_quantity),
        TEST(test_risk_refuses_rejection_of_an_acknowledged_order),
        TEST(test_risk_refuses_rejection_with_unknown_reason),
        TEST(test_risk_refuses_cancel_of_an_order_that_is_not_open),
        TEST(test_risk_refuses_cancel_whose_status_is_not_a_cancel),
        TEST(test_risk_refuses_position_update_going_back_in_time),
        TEST(test_risk_refuses_position_update_of_an_ended_position),
        TEST(test_risk_refuses_open_position_update_with_zero_quantity),
        TEST(test_risk_refuses_position_update_with_negative_entry_price),
        TEST(test_risk_refuses_malformed_order_request_naming_the_field),
        TEST(test_monitor_refuses_risk_alert_with_unknown_trading_state),
        TEST(test_monitor_refuses_risk_alert_without_rule),
        TEST(test_monitor_refuses_fill_with_negative_price_and_writes_no_row),
        TEST(test_monitor_refuses_event_of_unknown_version),
        TEST(test_monitor_refuses_event_from_unknown_source),
        TEST(test_monitor_refuses_event_with_negative_timestamp),
        TEST(test_monitor_refuses_signal_with_unterminated_strategy_id),
        TEST(test_monitor_refuses_position_update_with_unknown_status),
        TEST(test_monitor_refuses_order_request_of_unknown_type),
        TEST(test_monitor_refuses_bar_with_high_below_low),
        TEST(test_pnl_book_refuses_update_of_an_ended_life),
        TEST(test_pnl_book_refuses_malformed_update),
        TEST(test_every_consumer_dead_letters_a_bad_fill_and_the_pipeline_goes_on),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
