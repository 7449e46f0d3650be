/* Position Manager: netting, PnL and publication, driven through the real bus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tradebus/position.h"

#define MAX_CAPTURED 16
#define SECOND       INT64_C(1000000000)

typedef struct {
    tb_bus *bus;
    tb_position_manager *pm;
    tb_event updates[MAX_CAPTURED];
    size_t n;
    int64_t minute; /* of the next bar: bars of a symbol must move forward */
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
    f->updates[f->n++] = *ev;
    return 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(tb_bus_create(NULL, &f->bus), 0);
    assert_int_equal(tb_position_manager_create(f->bus, &f->pm), 0);
    assert_true(tb_bus_subscribe(f->bus, TB_EV_POSITION_UPDATE, capture, f) >= 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tb_position_manager_destroy(f->pm);
    tb_bus_destroy(f->bus);
    free(f);
    return 0;
}

static tb_event make_fill(const char *strategy, const char *symbol, tb_side side, const char *qty,
                          const char *price, int64_t ts)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_ORDER_FILLED, TB_SRC_ORDERS);
    ev.timestamp = ts;
    ev.causation_id = 0x1234;
    ev.correlation_id = 0x77;
    tb_order_filled *o = &ev.u.order_filled;
    assert_int_equal(tb_str_copy(o->order_id, sizeof(o->order_id), "X-1"), 0);
    assert_int_equal(tb_str_copy(o->client_order_id, sizeof(o->client_order_id), "c-1"), 0);
    assert_int_equal(tb_str_copy(o->strategy_id, sizeof(o->strategy_id), strategy), 0);
    assert_int_equal(tb_str_copy(o->symbol, sizeof(o->symbol), symbol), 0);
    o->side = side;
    o->filled_quantity = dec(qty);
    o->filled_price = dec(price);
    o->cumulative_quantity = o->filled_quantity;
    o->average_price = o->filled_price;
    o->status = TB_ORDER_FILLED;
    return ev;
}

/* Publishes a fill and returns its event id (the cause of the updates). */
static uint64_t fill(fixture *f, const char *strategy, const char *symbol, tb_side side,
                     const char *qty, const char *price)
{
    tb_event ev = make_fill(strategy, symbol, side, qty, price, 42 * SECOND);
    assert_int_equal(tb_bus_publish(f->bus, &ev), 0);
    return ev.event_id;
}

/* Applies a fill by the seed's call rather than the bus; it gets a fresh
 * event id, as a published one would. */
static int direct(fixture *f, tb_event *ev)
{
    ev->event_id = tb_bus_next_id(f->bus);
    return tb_position_manager_handle_order_filled_event(f->pm, ev);
}

/* A flat one-minute bar (open = high = low = close), each a minute after the
 * fixture's last. */
static tb_market_data flat_bar(fixture *f, const char *symbol, const char *close)
{
    tb_market_data md;
    memset(&md, 0, sizeof(md));
    assert_int_equal(tb_str_copy(md.symbol, sizeof(md.symbol), symbol), 0);
    md.open = md.high = md.low = md.close = dec(close);
    md.volume = dec("1");
    md.open_time = f->minute * 60 * SECOND;
    md.close_time = md.open_time + 60 * SECOND - 1;
    f->minute++;
    return md;
}

static void bar(fixture *f, const char *symbol, const char *close)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
    ev.u.market_data = flat_bar(f, symbol, close);
    ev.timestamp = ev.u.market_data.close_time;
    assert_int_equal(tb_bus_publish(f->bus, &ev), 0);
}

static const tb_position_update *last_update(const fixture *f)
{
    assert_true(f->n > 0);
    return &f->updates[f->n - 1].u.position;
}

static void test_position_opens_long_on_buy_fill(void **state)
{
    fixture *f = *state;
    uint64_t cause = fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "2", "100");

    assert_int_equal(f->n, 1);
    const tb_event *ev = &f->updates[0];
    assert_int_equal(ev->type, TB_EV_POSITION_UPDATE);
    assert_int_equal(ev->source, TB_SRC_POSITIONS);
    assert_int_equal(ev->causation_id, cause);
    assert_int_equal(ev->correlation_id, 0x77);
    assert_int_equal(ev->timestamp, 42 * SECOND);
    assert_int_not_equal(ev->event_id, 0);
    const tb_position_update *p = &ev->u.position;
    assert_int_equal(p->position_id, 1);
    assert_string_equal(p->strategy_id, "s1");
    assert_string_equal(p->symbol, "BTCUSDT");
    assert_dec(p->current_quantity, "2");
    assert_dec(p->entry_price, "100");
    assert_dec(p->unrealized_pnl, "0");
    assert_dec(p->realized_pnl, "0");
    assert_dec(p->mark_price, "100");
    assert_int_equal(p->status, TB_POSITION_OPEN);
    assert_int_equal(tb_position_manager_count(f->pm), 1);
}

static void test_position_opens_short_on_sell_fill(void **state)
{
    fixture *f = *state;
    fill(f, "s1", "ETHUSDT", TB_SIDE_SELL, "3", "50.5");

    assert_int_equal(f->n, 1);
    const tb_position_update *p = last_update(f);
    assert_int_equal(p->position_id, 1);
    assert_dec(p->current_quantity, "-3");
    assert_dec(p->entry_price, "50.5");
    assert_int_equal(p->status, TB_POSITION_OPEN);
}

static void test_position_add_weights_entry_price(void **state)
{
    fixture *f = *state;
    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "1", "100");
    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "2", "101");

    assert_int_equal(f->n, 2);
    const tb_position_update *p = last_update(f);
    assert_int_equal(p->position_id, 1);
    assert_dec(p->current_quantity, "3");
    /* (1×100 + 2×101) / 3 = 100.666…, half-up to 8 digits. */
    assert_dec(p->entry_price, "100.66666667");
    /* Marked at the last fill price (no bar yet): (101 − 100.66666667) × 3. */
    assert_dec(p->mark_price, "101");
    assert_dec(p->unrealized_pnl, "0.99999999");
}

static void test_position_add_rounds_exact_tie_half_up(void **state)
{
    fixture *f = *state;
    /* (100 + 99.99999999) / 2 = 99.999999995 exactly: half-up gives 100. */
    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "1", "100");
    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "1", "99.99999999");
    assert_dec(last_update(f)->entry_price, "100");

    /* A short adds the same way: (3×10 + 1×10.00000002) / 4 = 10.000000005 → 10.00000001. */
    fill(f, "s2", "BTCUSDT", TB_SIDE_SELL, "3", "10");
    fill(f, "s2", "BTCUSDT", TB_SIDE_SELL, "1", "10.00000002");
    assert_dec(last_update(f)->current_quantity, "-4");
    assert_dec(last_update(f)->entry_price, "10.00000001");
}

static void test_position_partial_close_realizes_pnl(void **state)
{
    fixture *f = *state;
    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "4", "100");
    uint64_t cause = fill(f, "s1", "BTCUSDT", TB_SIDE_SELL, "1.5", "110.25");

    assert_int_equal(f->n, 2);
    assert_int_equal(f->updates[1].causation_id, cause);
    const tb_position_update *p = last_update(f);
    assert_int_equal(p->position_id, 1);
    assert_dec(p->current_quantity, "2.5");
    assert_dec(p->entry_price, "100");       /* unchanged by a reduction */
    assert_dec(p->realized_pnl, "15.375");   /* (110.25 − 100) × 1.5 */
    assert_dec(p->unrealized_pnl, "25.625"); /* (110.25 − 100) × 2.5 */
    assert_int_equal(p->status, TB_POSITION_OPEN);
    assert_dec(tb_position_manager_realized(f->pm), "15.375");
    assert_dec(tb_position_manager_unrealized(f->pm), "25.625");
}

static void test_position_short_partial_close_realizes_pnl(void **state)
{
    fixture *f = *state;
    fill(f, "s1", "BTCUSDT", TB_SIDE_SELL, "4", "100");
    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "1", "90");

    const tb_position_update *p = last_update(f);
    assert_dec(p->current_quantity, "-3");
    assert_dec(p->entry_price, "100");
    assert_dec(p->realized_pnl, "10");   /* a short gains when the price falls */
    assert_dec(p->unrealized_pnl, "30"); /* (90 − 100) × −3 */

    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "1", "120");
    assert_dec(last_update(f)->realized_pnl, "-10"); /* 10 − 20 */
}

static void test_position_full_close_publishes_closed(void **state)
{
    fixture *f = *state;
    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "2", "100");
    fill(f, "s1", "BTCUSDT", TB_SIDE_SELL, "2", "95");

    assert_int_equal(f->n, 2);
    const tb_position_update *p = last_update(f);
    assert_int_equal(p->position_id, 1);
    assert_int_equal(p->status, TB_POSITION_CLOSED);
    assert_dec(p->current_quantity, "0");
    assert_dec(p->entry_price, "0");
    assert_dec(p->unrealized_pnl, "0");
    assert_dec(p->realized_pnl, "-10");

    tb_position_update found;
    assert_int_equal(tb_position_manager_find(f->pm, "s1", "BTCUSDT", &found), 0);
    assert_int_equal(found.status, TB_POSITION_CLOSED);
    assert_int_equal(tb_position_manager_count(f->pm), 1);
    assert_dec(tb_position_manager_unrealized(f->pm), "0");
}

static void test_position_flip_closes_then_opens_new_id(void **state)
{
    fixture *f = *state;
    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "2", "100");
    uint64_t cause = fill(f, "s1", "BTCUSDT", TB_SIDE_SELL, "5", "110");

    assert_int_equal(f->n, 3);
    const tb_event *closed = &f->updates[1], *opened = &f->updates[2];
    assert_int_equal(closed->causation_id, cause);
    assert_int_equal(opened->causation_id, cause);
    assert_true(closed->event_id < opened->event_id);

    assert_int_equal(closed->u.position.position_id, 1);
    assert_int_equal(closed->u.position.status, TB_POSITION_CLOSED);
    assert_dec(closed->u.position.current_quantity, "0");
    assert_dec(closed->u.position.realized_pnl, "20");

    assert_int_equal(opened->u.position.position_id, 2);
    assert_int_equal(opened->u.position.status, TB_POSITION_OPEN);
    assert_dec(opened->u.position.current_quantity, "-3");
    assert_dec(opened->u.position.entry_price, "110");
    assert_dec(opened->u.position.realized_pnl, "0");
    assert_dec(opened->u.position.unrealized_pnl, "0");

    tb_position_update found;
    assert_int_equal(tb_position_manager_find(f->pm, "s1", "BTCUSDT", &found), 0);
    assert_int_equal(found.position_id, 2);
    assert_int_equal(tb_position_manager_count(f->pm), 1);
    assert_dec(tb_position_manager_realized(f->pm), "20");
}

static void test_position_id_stable_across_adds_and_new_after_close(void **state)
{
    fixture *f = *state;
    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "1", "100");
    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "1", "102");
    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "1", "104");
    fill(f, "s1", "BTCUSDT", TB_SIDE_SELL, "1", "104");
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(f->updates[i].u.position.position_id, 1);
    assert_dec(last_update(f)->entry_price, "102");
    assert_dec(last_update(f)->realized_pnl, "2");

    fill(f, "s1", "BTCUSDT", TB_SIDE_SELL, "2", "100"); /* close */
    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "1", "99");   /* reopen */
    assert_int_equal(f->n, 6);
    assert_int_equal(f->updates[4].u.position.position_id, 1);
    assert_int_equal(f->updates[4].u.position.status, TB_POSITION_CLOSED);
    assert_int_equal(f->updates[5].u.position.position_id, 2);
    assert_int_equal(f->updates[5].u.position.status, TB_POSITION_OPEN);
    assert_dec(f->updates[5].u.position.realized_pnl, "0");
    /* 2 on the partial close, −4 on the close: kept after the reopen. */
    assert_dec(tb_position_manager_realized(f->pm), "-2");
}

static void test_position_marked_on_bar_without_publishing(void **state)
{
    fixture *f = *state;
    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "2", "100");
    fill(f, "s2", "BTCUSDT", TB_SIDE_SELL, "1", "100");
    fill(f, "s1", "ETHUSDT", TB_SIDE_BUY, "1", "10");
    size_t published = f->n;

    bar(f, "BTCUSDT", "105.5");
    assert_int_equal(f->n, published); /* marks update state, fills publish */

    tb_position_update p;
    assert_int_equal(tb_position_manager_find(f->pm, "s1", "BTCUSDT", &p), 0);
    assert_dec(p.mark_price, "105.5");
    assert_dec(p.unrealized_pnl, "11");
    assert_int_equal(tb_position_manager_find(f->pm, "s2", "BTCUSDT", &p), 0);
    assert_dec(p.unrealized_pnl, "-5.5");
    assert_int_equal(tb_position_manager_find(f->pm, "s1", "ETHUSDT", &p), 0);
    assert_dec(p.mark_price, "10"); /* another symbol's bar does not touch it */
    assert_dec(p.unrealized_pnl, "0");
    assert_dec(tb_position_manager_unrealized(f->pm), "5.5");

    tb_market_data md = flat_bar(f, "ETHUSDT", "9.5");
    assert_int_equal(tb_position_manager_mark(f->pm, &md), 0);
    assert_int_equal(tb_position_manager_find(f->pm, "s1", "ETHUSDT", &p), 0);
    assert_dec(p.unrealized_pnl, "-0.5");
}

static void test_position_fill_after_bar_marks_at_last_close(void **state)
{
    fixture *f = *state;
    bar(f, "BTCUSDT", "105");
    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "2", "100");
    assert_dec(last_update(f)->mark_price, "105");
    assert_dec(last_update(f)->unrealized_pnl, "10");
}

static void test_position_separate_strategies_are_separate_positions(void **state)
{
    fixture *f = *state;
    fill(f, "alpha", "BTCUSDT", TB_SIDE_BUY, "1", "100");
    fill(f, "beta", "BTCUSDT", TB_SIDE_SELL, "2", "101");
    fill(f, "alpha", "BTCUSDT", TB_SIDE_BUY, "1", "102");

    assert_int_equal(tb_position_manager_count(f->pm), 2);
    tb_position_update a, b;
    assert_int_equal(tb_position_manager_get(f->pm, 0, &a), 0);
    assert_int_equal(tb_position_manager_get(f->pm, 1, &b), 0);
    assert_int_equal(tb_position_manager_get(f->pm, 2, &b), TB_ENOTFOUND);
    assert_int_equal(tb_position_manager_get(f->pm, 1, &b), 0);
    assert_string_equal(a.strategy_id, "alpha");
    assert_int_equal(a.position_id, 1);
    assert_dec(a.current_quantity, "2");
    assert_dec(a.entry_price, "101");
    assert_string_equal(b.strategy_id, "beta");
    assert_int_equal(b.position_id, 2);
    assert_dec(b.current_quantity, "-2"); /* not netted against alpha's long */
    assert_dec(b.realized_pnl, "0");

    tb_position_update none;
    assert_int_equal(tb_position_manager_find(f->pm, "gamma", "BTCUSDT", &none), TB_ENOTFOUND);
    assert_int_equal(tb_position_manager_find(f->pm, "alpha", "ETHUSDT", &none), TB_ENOTFOUND);
}

static void test_position_invalid_fill_is_dead_lettered(void **state)
{
    fixture *f = *state;
    tb_event ev = make_fill("s1", "BTCUSDT", TB_SIDE_BUY, "0", "100", 1);
    assert_int_equal(tb_bus_publish(f->bus, &ev), 0);

    assert_int_equal(f->n, 0);
    assert_int_equal(tb_position_manager_count(f->pm), 0);
    assert_int_equal(tb_bus_dead_letter_count(f->bus), 1);
    const tb_dead_letter *d = tb_bus_dead_letter(f->bus, 0);
    assert_non_null(d);
    assert_string_equal(d->subscriber, "positions");
    assert_int_equal(d->error, TB_EINVAL);
    assert_int_equal(d->attempts, 1); /* a permanent error is not retried */
    assert_int_equal(d->event.event_id, ev.event_id);
}

static void test_position_rejects_each_invalid_fill_field(void **state)
{
    fixture *f = *state;
    tb_event good = make_fill("s1", "BTCUSDT", TB_SIDE_BUY, "1", "100", 1), ev;
    good.event_id = tb_bus_next_id(f->bus);

    ev = good;
    ev.u.order_filled.filled_quantity = dec("-1");
    assert_int_equal(tb_position_manager_handle_order_filled_event(f->pm, &ev), TB_EINVAL);
    ev = good;
    ev.u.order_filled.filled_price = 0;
    assert_int_equal(tb_position_manager_handle_order_filled_event(f->pm, &ev), TB_EINVAL);
    ev = good;
    ev.u.order_filled.filled_price = dec("-100");
    assert_int_equal(tb_position_manager_handle_order_filled_event(f->pm, &ev), TB_EINVAL);
    ev = good;
    ev.u.order_filled.side = (tb_side)0;
    assert_int_equal(tb_position_manager_handle_order_filled_event(f->pm, &ev), TB_EINVAL);
    ev = good;
    ev.u.order_filled.symbol[0] = '\0';
    assert_int_equal(tb_position_manager_handle_order_filled_event(f->pm, &ev), TB_EINVAL);
    ev = good;
    ev.u.order_filled.strategy_id[0] = '\0';
    assert_int_equal(tb_position_manager_handle_order_filled_event(f->pm, &ev), TB_EINVAL);
    ev = good;
    memset(ev.u.order_filled.symbol, 'A', sizeof(ev.u.order_filled.symbol)); /* unterminated */
    assert_int_equal(tb_position_manager_handle_order_filled_event(f->pm, &ev), TB_EINVAL);
    ev = good;
    ev.type = TB_EV_ORDER_CREATED;
    assert_int_equal(tb_position_manager_handle_order_filled_event(f->pm, &ev), TB_EINVAL);
    assert_int_equal(tb_position_manager_handle_order_filled_event(f->pm, NULL), TB_EINVAL);

    ev = good; /* only a published event has an id */
    ev.event_id = 0;
    assert_int_equal(tb_position_manager_handle_order_filled_event(f->pm, &ev), TB_EINVAL);

    assert_int_equal(f->n, 0);
    assert_int_equal(tb_position_manager_count(f->pm), 0);
    assert_int_equal(direct(f, &good), 0);
    assert_int_equal(f->n, 1);
}

static void test_position_overflow_leaves_position_untouched(void **state)
{
    fixture *f = *state;
    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "1000000000", "1");
    tb_position_update before;
    assert_int_equal(tb_position_manager_find(f->pm, "s1", "BTCUSDT", &before), 0);

    /* Realized (200 − 1) × 1e9 is beyond ±92e9. */
    tb_event ev = make_fill("s1", "BTCUSDT", TB_SIDE_SELL, "1000000000", "200", 43 * SECOND);
    assert_int_equal(direct(f, &ev), TB_EOVERFLOW);
    /* Adding 1e9 at 100: entry 50.5, but unrealized (100 − 50.5) × 2e9 overflows. */
    ev = make_fill("s1", "BTCUSDT", TB_SIDE_BUY, "1000000000", "100", 43 * SECOND);
    assert_int_equal(direct(f, &ev), TB_EOVERFLOW);

    tb_position_update after;
    assert_int_equal(tb_position_manager_find(f->pm, "s1", "BTCUSDT", &after), 0);
    assert_memory_equal(&before, &after, sizeof(before));
    assert_dec(tb_position_manager_realized(f->pm), "0");
    assert_int_equal(f->n, 1);

    /* Through the bus the overflow is dead-lettered, never lost. */
    ev = make_fill("s1", "BTCUSDT", TB_SIDE_SELL, "1000000000", "200", 44 * SECOND);
    assert_int_equal(tb_bus_publish(f->bus, &ev), 0);
    assert_int_equal(tb_bus_dead_letter_count(f->bus), 1);
    assert_int_equal(tb_bus_dead_letter(f->bus, 0)->error, TB_EOVERFLOW);
    assert_string_equal(tb_bus_dead_letter(f->bus, 0)->subscriber, "positions");
    assert_int_equal(tb_position_manager_find(f->pm, "s1", "BTCUSDT", &after), 0);
    assert_memory_equal(&before, &after, sizeof(before));
}

static void test_position_new_position_overflow_creates_nothing(void **state)
{
    fixture *f = *state;
    bar(f, "BTCUSDT", "1000000");
    /* (1e6 − 1) × 1e6 unrealized cannot be represented. */
    tb_event ev = make_fill("s1", "BTCUSDT", TB_SIDE_BUY, "1000000", "1", 1);
    assert_int_equal(direct(f, &ev), TB_EOVERFLOW);
    assert_int_equal(tb_position_manager_count(f->pm), 0);
    assert_int_equal(f->n, 0);
}

static void test_position_mark_overflow_reported(void **state)
{
    fixture *f = *state;
    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "1000000000", "1");
    fill(f, "s2", "BTCUSDT", TB_SIDE_BUY, "1", "1");

    tb_market_data md = flat_bar(f, "BTCUSDT", "200");
    assert_int_equal(tb_position_manager_mark(f->pm, &md), TB_EOVERFLOW);
    tb_position_update p;
    assert_int_equal(tb_position_manager_find(f->pm, "s1", "BTCUSDT", &p), 0);
    assert_dec(p.mark_price, "1"); /* kept its previous mark */
    assert_dec(p.unrealized_pnl, "0");
    assert_int_equal(tb_position_manager_find(f->pm, "s2", "BTCUSDT", &p), 0);
    assert_dec(p.mark_price, "200"); /* the others are still marked */
    assert_dec(p.unrealized_pnl, "199");

    md = flat_bar(f, "BTCUSDT", "200");
    md.close = 0;
    assert_int_equal(tb_position_manager_mark(f->pm, &md), TB_EDATA);
}

static void test_position_redelivered_fill_applied_once(void **state)
{
    fixture *f = *state;
    tb_event ev = make_fill("s1", "BTCUSDT", TB_SIDE_BUY, "1", "100", 1);
    ev.event_id = 0x10005;
    assert_int_equal(tb_position_manager_handle_order_filled_event(f->pm, &ev), 0);
    assert_int_equal(tb_position_manager_handle_order_filled_event(f->pm, &ev), 0);
    assert_int_equal(f->n, 1);
    assert_dec(last_update(f)->current_quantity, "1");

    ev.event_id = 0x10006;
    assert_int_equal(tb_position_manager_handle_order_filled_event(f->pm, &ev), 0);
    assert_dec(last_update(f)->current_quantity, "2");
}

static void test_position_realized_sums_closed_and_flipped_positions(void **state)
{
    fixture *f = *state;
    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "1", "100");
    fill(f, "s1", "BTCUSDT", TB_SIDE_SELL, "3", "110"); /* +10, flip to −2 @ 110 */
    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "2", "105");  /* +10, closed */
    fill(f, "s2", "ETHUSDT", TB_SIDE_BUY, "2", "50");
    fill(f, "s2", "ETHUSDT", TB_SIDE_SELL, "1", "49.5"); /* −0.5, open */

    assert_dec(tb_position_manager_realized(f->pm), "19.5");
    tb_position_update p;
    assert_int_equal(tb_position_manager_find(f->pm, "s1", "BTCUSDT", &p), 0);
    assert_int_equal(p.position_id, 2);
    assert_dec(p.realized_pnl, "10"); /* the flipped-away position's 10 is not in it */
    assert_dec(tb_position_manager_unrealized(f->pm), "-0.5");
}

static void test_position_update_position_replaces_state(void **state)
{
    fixture *f = *state;
    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "2", "100");
    fill(f, "s1", "BTCUSDT", TB_SIDE_SELL, "1", "110");

    tb_position_update u = {0};
    u.current_quantity = dec("3");
    u.entry_price = dec("90");
    u.realized_pnl = dec("4");
    u.mark_price = dec("95");
    u.status = TB_POSITION_OPEN;
    assert_int_equal(tb_position_manager_update_position(f->pm, 99, &u), TB_ENOTFOUND);
    assert_int_equal(tb_position_manager_update_position(f->pm, 1, &u), 0);

    tb_position_update p;
    assert_int_equal(tb_position_manager_find(f->pm, "s1", "BTCUSDT", &p), 0);
    assert_int_equal(p.position_id, 1);
    assert_string_equal(p.strategy_id, "s1");
    assert_dec(p.current_quantity, "3");
    assert_dec(p.entry_price, "90");
    assert_dec(p.unrealized_pnl, "15");
    assert_dec(tb_position_manager_realized(f->pm), "4");

    u.status = TB_POSITION_CLOSED; /* a closed position must be flat */
    assert_int_equal(tb_position_manager_update_position(f->pm, 1, &u), TB_EINVAL);
    u.current_quantity = 0;
    u.entry_price = 0;
    assert_int_equal(tb_position_manager_update_position(f->pm, 1, &u), 0);
    /* A fill now opens a new position rather than adding to the closed one. */
    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "1", "100");
    assert_int_equal(last_update(f)->position_id, 2);
    assert_int_equal(f->n, 3); /* corrections publish nothing by themselves */
}

static void test_position_publish_position_event_goes_through_bus(void **state)
{
    fixture *f = *state;
    tb_event ev;
    tb_event_init(&ev, TB_EV_POSITION_UPDATE, TB_SRC_POSITIONS);
    ev.u.position.position_id = 7;
    assert_int_equal(tb_position_manager_publish_position_event(f->pm, &ev), 0);
    assert_int_not_equal(ev.event_id, 0);
    assert_int_equal(f->n, 1);
    assert_int_equal(f->updates[0].u.position.position_id, 7);

    tb_event_init(&ev, TB_EV_RISK_ALERT, TB_SRC_POSITIONS);
    assert_int_equal(tb_position_manager_publish_position_event(f->pm, &ev), TB_EINVAL);
    assert_int_equal(f->n, 1);
}

static void test_position_many_keys_grow_tables(void **state)
{
    fixture *f = *state;
    static const char *symbols[] = {"BTCUSDT", "ETHUSDT", "SOLUSDT"};
    char strategy[TB_STRATEGY_LEN];
    for (int s = 0; s < 100; s++) {
        snprintf(strategy, sizeof(strategy), "strat-%d", s);
        for (int y = 0; y < 3; y++) {
            tb_event ev = make_fill(strategy, symbols[y], TB_SIDE_BUY, "1", "10", 1);
            ev.u.order_filled.filled_quantity = (s + 1) * TB_DECIMAL_ONE;
            ev.u.order_filled.cumulative_quantity = ev.u.order_filled.filled_quantity;
            assert_int_equal(direct(f, &ev), 0);
            f->n = 0;
        }
    }
    assert_int_equal(tb_position_manager_count(f->pm), 300);
    bar(f, "ETHUSDT", "11");
    for (int s = 0; s < 100; s++) {
        snprintf(strategy, sizeof(strategy), "strat-%d", s);
        for (int y = 0; y < 3; y++) {
            tb_position_update p;
            assert_int_equal(tb_position_manager_find(f->pm, strategy, symbols[y], &p), 0);
            assert_int_equal(p.current_quantity, (s + 1) * TB_DECIMAL_ONE);
            assert_int_equal(p.position_id, (uint64_t)(s * 3 + y + 1));
            assert_int_equal(p.unrealized_pnl, y == 1 ? (s + 1) * TB_DECIMAL_ONE : 0);
        }
    }
    /* Σ (s + 1) for s < 100, each marked 1 up. */
    assert_dec(tb_position_manager_unrealized(f->pm), "5050");
}

static void test_position_destroy_unsubscribes(void **state)
{
    fixture *f = *state;
    tb_position_manager_destroy(f->pm);
    f->pm = NULL;
    fill(f, "s1", "BTCUSDT", TB_SIDE_BUY, "1", "100");
    assert_int_equal(f->n, 0);
    assert_int_equal(tb_bus_get_counters(f->bus, TB_EV_ORDER_FILLED).delivered, 0);
    assert_int_equal(tb_position_manager_create(NULL, &f->pm), TB_EINVAL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_position_opens_long_on_buy_fill),
        T(test_position_opens_short_on_sell_fill),
        T(test_position_add_weights_entry_price),
        T(test_position_add_rounds_exact_tie_half_up),
        T(test_position_partial_close_realizes_pnl),
        T(test_position_short_partial_close_realizes_pnl),
        T(test_position_full_close_publishes_closed),
        T(test_position_flip_closes_then_opens_new_id),
        T(test_position_id_stable_across_adds_and_new_after_close),
        T(test_position_marked_on_bar_without_publishing),
        T(test_position_fill_after_bar_marks_at_last_close),
        T(test_position_separate_strategies_are_separate_positions),
        T(test_position_invalid_fill_is_dead_lettered),
        T(test_position_rejects_each_invalid_fill_field),
        T(test_position_overflow_leaves_position_untouched),
        T(test_position_new_position_overflow_creates_nothing),
        T(test_position_mark_overflow_reported),
        T(test_position_redelivered_fill_applied_once),
        T(test_position_realized_sums_closed_and_flipped_positions),
        T(test_position_update_position_replaces_state),
        T(test_position_publish_position_event_goes_through_bus),
        T(test_position_many_keys_grow_tables),
        T(test_position_destroy_unsubscribes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
