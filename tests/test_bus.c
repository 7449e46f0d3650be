/* The in-process bus: order, breadth-first dispatch, retries, dead letters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <tradebus/bus.h>

#include "../src/core/bus_int.h"

typedef struct {
    tb_bus *bus;
    char log[64][16];
    int n;
    int fail_times; /* fail this many deliveries, then succeed */
    int fail_code;
    int republish; /* publish a follow-up from inside the handler */
} recorder;

static void note(recorder *r, const char *tag, const tb_event *ev)
{
    snprintf(r->log[r->n++], sizeof(r->log[0]), "%s:%llu", tag,
             (unsigned long long)(ev->event_id & 0xFFFF));
}

/* A SignalGenerated caused by ev, published from inside ev's handler. */
static void publish_follow_up(tb_bus *bus, const tb_event *ev)
{
    tb_event child;
    tb_event_init(&child, TB_EV_SIGNAL_GENERATED, TB_SRC_SIGNAL);
    tb_event_caused_by(&child, ev);
    tb_bus_publish(bus, &child);
}

static int h_a(const tb_event *ev, void *ctx)
{
    recorder *r = ctx;
    note(r, "a", ev);
    if (r->republish && ev->type == TB_EV_MARKET_DATA) {
        r->republish--;
        publish_follow_up(r->bus, ev);
    }
    return 0;
}

static int h_b(const tb_event *ev, void *ctx)
{
    note(ctx, "b", ev);
    return 0;
}

static int h_fail(const tb_event *ev, void *ctx)
{
    recorder *r = ctx;
    note(r, "f", ev);
    if (r->fail_times > 0) {
        r->fail_times--;
        return r->fail_code;
    }
    return 0;
}

static tb_bus *new_bus(int retries, size_t ring)
{
    tb_bus_config cfg;
    tb_bus_config_init(&cfg);
    cfg.max_retries = retries;
    cfg.ring_capacity = ring;
    tb_bus *bus = NULL;
    assert_int_equal(tb_bus_create(&cfg, &bus), 0);
    return bus;
}

static void publish_md(tb_bus *bus)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
    assert_int_equal(tb_bus_publish(bus, &ev), 0);
}

static void test_bus_delivers_to_subscribers_in_subscription_order(void **state)
{
    (void)state;
    tb_bus *bus = new_bus(0, 16);
    recorder r = {0};
    tb_bus_subscribe(bus, TB_EV_MARKET_DATA, h_b, &r);
    tb_bus_subscribe(bus, TB_EV_MARKET_DATA, h_a, &r);
    publish_md(bus);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.log[0], "b:1");
    assert_string_equal(r.log[1], "a:1");
    tb_bus_destroy(bus);
}

static void test_bus_all_types_subscriber_sees_every_event_after_typed_ones(void **state)
{
    (void)state;
    tb_bus *bus = new_bus(0, 16);
    recorder r = {0};
    tb_bus_subscribe(bus, TB_BUS_ALL, h_b, &r);
    tb_bus_subscribe(bus, TB_EV_SIGNAL_GENERATED, h_a, &r);
    publish_md(bus);
    tb_event ev;
    tb_event_init(&ev, TB_EV_SIGNAL_GENERATED, TB_SRC_SIGNAL);
    tb_bus_publish(bus, &ev);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.log[0], "b:1");
    assert_string_equal(r.log[1], "a:2");
    assert_string_equal(r.log[2], "b:2");
    tb_bus_destroy(bus);
}

static void test_bus_event_published_in_handler_is_queued_not_reentrant(void **state)
{
    (void)state;
    tb_bus *bus = new_bus(0, 16);
    recorder r = {0};
    r.bus = bus;
    r.republish = 1;
    /* a publishes a signal while handling market data; b must still see the
     * market data before anyone sees the signal (breadth-first). */
    tb_bus_subscribe(bus, TB_BUS_ALL, h_a, &r);
    tb_bus_subscribe(bus, TB_BUS_ALL, h_b, &r);
    publish_md(bus);
    assert_int_equal(r.n, 4);
    assert_string_equal(r.log[0], "a:1");
    assert_string_equal(r.log[1], "b:1");
    assert_string_equal(r.log[2], "a:2");
    assert_string_equal(r.log[3], "b:2");
    tb_bus_destroy(bus);
}

static void test_bus_assigns_ids_and_correlation(void **state)
{
    (void)state;
    tb_bus_config cfg;
    tb_bus_config_init(&cfg);
    cfg.node_id = 7;
    tb_bus *bus;
    assert_int_equal(tb_bus_create(&cfg, &bus), 0);
    tb_event md, sig;
    tb_event_init(&md, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
    tb_bus_publish(bus, &md);
    assert_int_equal(md.event_id, ((uint64_t)7 << 48) | 1);
    assert_int_equal(md.correlation_id, md.event_id);
    tb_event_init(&sig, TB_EV_SIGNAL_GENERATED, TB_SRC_SIGNAL);
    tb_event_caused_by(&sig, &md);
    tb_bus_publish(bus, &sig);
    assert_int_equal(sig.event_id, ((uint64_t)7 << 48) | 2);
    assert_int_equal(sig.causation_id, md.event_id);
    assert_int_equal(sig.correlation_id, md.event_id);
    tb_bus_destroy(bus);
}

static void test_bus_transient_failure_is_retried_then_succeeds(void **state)
{
    (void)state;
    tb_bus *bus = new_bus(2, 16);
    recorder r = {0};
    r.fail_times = 2;
    r.fail_code = TB_EIO;
    tb_bus_subscribe(bus, TB_EV_MARKET_DATA, h_fail, &r);
    publish_md(bus);
    assert_int_equal(r.n, 3);
    tb_bus_counters c = tb_bus_get_counters(bus, TB_EV_MARKET_DATA);
    assert_int_equal(c.published, 1);
    assert_int_equal(c.delivered, 1);
    assert_int_equal(c.failed, 2);
    assert_int_equal(c.dead_lettered, 0);
    assert_int_equal(tb_bus_dead_letter_count(bus), 0);
    tb_bus_destroy(bus);
}

typedef struct {
    int n;
    int rc[8];
    char who[8][32];
    int64_t ns[8];
} handled_log;

static void on_handled(const char *subscriber, tb_event_type type, int rc, int64_t ns, void *ctx)
{
    handled_log *l = ctx;
    assert_int_equal(type, TB_EV_MARKET_DATA);
    if (l->n == 8) return;
    l->rc[l->n] = rc;
    l->ns[l->n] = ns;
    snprintf(l->who[l->n], sizeof l->who[0], "%s", subscriber);
    l->n++;
}

/* The metrics hook sees every attempt, with its result and a duration, and
 * delivery is the same with it set as without. */
static void test_bus_handled_hook_sees_every_attempt(void **state)
{
    (void)state;
    tb_bus *bus = new_bus(2, 16);
    recorder r = {0};
    r.fail_times = 1;
    r.fail_code = TB_EIO;
    tb_bus_subscribe_named(bus, TB_EV_MARKET_DATA, h_fail, &r, "flaky");
    handled_log l = {0};
    tb_bus_set_handled_hook(bus, on_handled, &l);
    publish_md(bus);
    assert_int_equal(r.n, 2);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.rc[0], TB_EIO);
    assert_int_equal(l.rc[1], 0);
    assert_string_equal(l.who[0], "flaky");
    assert_true(l.ns[0] >= 0 && l.ns[1] >= 0);
    assert_int_equal(tb_bus_get_counters(bus, TB_EV_MARKET_DATA).delivered, 1);
    tb_bus_set_handled_hook(bus, NULL, NULL);
    publish_md(bus);
    assert_int_equal(l.n, 2); /* off again */
    assert_int_equal(r.n, 3);
    tb_bus_destroy(bus);
}

static void test_bus_exhausted_retries_dead_letter_and_dispatch_goes_on(void **state)
{
    (void)state;
    tb_bus *bus = new_bus(2, 16);
    recorder r = {0}, ok = {0};
    r.fail_times = 100;
    r.fail_code = TB_EIO;
    tb_bus_subscribe_named(bus, TB_EV_MARKET_DATA, h_fail, &r, "flaky");
    tb_bus_subscribe(bus, TB_EV_MARKET_DATA, h_b, &ok);
    publish_md(bus);
    publish_md(bus);
    assert_int_equal(r.n, 6);  /* 3 attempts per event */
    assert_int_equal(ok.n, 2); /* the other subscriber was not held up */
    assert_int_equal(tb_bus_dead_letter_count(bus), 2);
    const tb_dead_letter *d = tb_bus_dead_letter(bus, 0);
    assert_non_null(d);
    assert_string_equal(d->subscriber, "flaky");
    assert_int_equal(d->error, TB_EIO);
    assert_int_equal(d->attempts, 3);
    assert_int_equal(d->event.type, TB_EV_MARKET_DATA);
    assert_int_equal(tb_bus_get_counters(bus, TB_EV_MARKET_DATA).dead_lettered, 2);
    assert_null(tb_bus_dead_letter(bus, 2));
    tb_bus_destroy(bus);
}

static void test_bus_permanent_failure_is_dead_lettered_without_retry(void **state)
{
    (void)state;
    tb_bus *bus = new_bus(5, 16);
    recorder r = {0};
    r.fail_times = 100;
    r.fail_code = TB_EINVAL;
    tb_bus_subscribe(bus, TB_EV_MARKET_DATA, h_fail, &r);
    publish_md(bus);
    assert_int_equal(r.n, 1);
    assert_int_equal(tb_bus_dead_letter_count(bus), 1);
    assert_int_equal(tb_bus_dead_letter(bus, 0)->attempts, 1);
    assert_string_equal(tb_bus_dead_letter(bus, 0)->subscriber, "sub-0");
    tb_bus_destroy(bus);
}

static void test_bus_dead_letter_replay_reaches_only_the_failed_subscriber(void **state)
{
    (void)state;
    tb_bus *bus = new_bus(0, 16);
    recorder r = {0}, other = {0};
    r.fail_times = 1;
    r.fail_code = TB_EINVAL;
    tb_bus_subscribe(bus, TB_EV_MARKET_DATA, h_b, &other);
    tb_bus_subscribe(bus, TB_EV_MARKET_DATA, h_fail, &r);
    publish_md(bus);
    assert_int_equal(tb_bus_dead_letter_count(bus), 1);
    assert_int_equal(tb_bus_dead_letter_replay(bus, 0), 0);
    assert_int_equal(tb_bus_dead_letter_count(bus), 0);
    assert_int_equal(other.n, 1); /* not delivered twice */
    assert_int_equal(r.n, 2);
    assert_int_equal(tb_bus_dead_letter_replay(bus, 0), TB_ENOTFOUND);
    tb_bus_destroy(bus);
}

static void test_bus_publish_outside_a_handler_dispatches_to_completion(void **state)
{
    (void)state;
    tb_bus *bus = new_bus(0, 16);
    recorder r = {0};
    r.bus = bus;
    r.republish = 40; /* each market data spawns one signal: more than 16 queued */
    tb_bus_subscribe(bus, TB_EV_MARKET_DATA, h_a, &r);
    /* Publish 40 market data events from inside one handler run: a handler
     * that publishes many at once forces growth while dispatching. */
    tb_event ev;
    tb_event_init(&ev, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
    for (int i = 0; i < 40; i++) {
        ev.event_id = 0;
        assert_int_equal(tb_bus_publish(bus, &ev), 0);
    }
    assert_int_equal(tb_bus_get_counters(bus, TB_BUS_ALL).published, 80);
    assert_int_equal(r.n, 40);
    assert_string_equal(r.log[39], "a:79");
    tb_bus_destroy(bus);
}

typedef struct {
    tb_bus *bus;
    int seen;
    uint64_t ids[128];
} burst;

static int h_burst(const tb_event *ev, void *ctx)
{
    burst *b = ctx;
    b->ids[b->seen++] = ev->event_id & 0xFFFF;
    if (ev->type == TB_EV_MARKET_DATA) {
        for (int i = 0; i < 100; i++) {
            tb_event c;
            tb_event_init(&c, TB_EV_ORDER_FILLED, TB_SRC_ORDERS);
            tb_event_caused_by(&c, ev);
            if (tb_bus_publish(b->bus, &c) != 0) return TB_ENOMEM;
        }
    }
    return 0;
}

static void test_bus_growth_during_dispatch_keeps_handler_event_valid(void **state)
{
    (void)state;
    tb_bus *bus = new_bus(0, 16);
    burst b = {bus, 0, {0}};
    tb_bus_subscribe(bus, TB_BUS_ALL, h_burst, &b);
    publish_md(bus);
    assert_int_equal(b.seen, 101);
    for (int i = 0; i < 101; i++)
        assert_int_equal(b.ids[i], (uint64_t)(i + 1)); /* FIFO across the growth */
    tb_bus_destroy(bus);
}

/* What handlers learn of the event under dispatch (bus_int.h): the first
 * marks it well-formed; the next ones see the mark for that event only, not
 * for a copy of it nor for an event a handler publishes, and the mark ends
 * with the dispatch (a later event at the same address starts unmarked). */
typedef struct {
    tb_bus *bus;
    int seen_before[4], seen_copy[4], n;
} marks;

static int h_mark_first(const tb_event *ev, void *ctx)
{
    marks *m = ctx;
    tb_event copy = *ev;
    m->seen_before[m->n] = tb__bus_form_checked(m->bus, ev);
    tb__bus_set_form_checked(m->bus, &copy); /* not the delivered event: ignored */
    m->seen_copy[m->n] = tb__bus_form_checked(m->bus, ev);
    tb__bus_set_form_checked(m->bus, ev);
    if (ev->type == TB_EV_MARKET_DATA) /* a follow-up, dispatched after this one */
        publish_follow_up(m->bus, ev);
    return 0;
}

static int h_mark_second(const tb_event *ev, void *ctx)
{
    marks *m = ctx;
    tb_event copy = *ev;
    m->seen_before[2 + m->n] = tb__bus_form_checked(m->bus, ev);
    m->seen_copy[2 + m->n] = tb__bus_form_checked(m->bus, &copy);
    m->n++;
    return 0;
}

static void test_bus_form_check_mark_holds_for_the_dispatched_event_only(void **state)
{
    (void)state;
    tb_bus *bus = new_bus(0, 16);
    marks m = {bus, {0}, {0}, 0};
    tb_bus_subscribe(bus, TB_BUS_ALL, h_mark_first, &m);
    tb_bus_subscribe(bus, TB_BUS_ALL, h_mark_second, &m);
    tb_event ev;
    tb_event_init(&ev, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
    assert_int_equal(tb_bus_publish(bus, &ev), 0); /* the bar, then its signal */
    assert_int_equal(m.n, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(m.seen_before[i], 0);     /* the first handler: unmarked */
        assert_int_equal(m.seen_copy[i], 0);       /* marking a copy did nothing */
        assert_int_equal(m.seen_before[2 + i], 1); /* the next: marked */
        assert_int_equal(m.seen_copy[2 + i], 0);   /* but not for a copy */
    }
    assert_int_equal(tb__bus_form_checked(bus, &ev), 0); /* over with its dispatch */
    m.n = 0;
    ev.event_id = 0; /* the same address again: a new dispatch starts unmarked */
    assert_int_equal(tb_bus_publish(bus, &ev), 0);
    assert_int_equal(m.seen_before[0], 0);
    assert_int_equal(m.seen_before[2], 1);
    tb_bus_destroy(bus);
}

static void test_bus_unsubscribed_handler_is_not_called(void **state)
{
    (void)state;
    tb_bus *bus = new_bus(0, 16);
    recorder r = {0};
    int id = tb_bus_subscribe(bus, TB_EV_MARKET_DATA, h_a, &r);
    assert_true(id >= 0);
    assert_int_equal(tb_bus_unsubscribe(bus, id), 0);
    publish_md(bus);
    assert_int_equal(r.n, 0);
    assert_int_equal(tb_bus_unsubscribe(bus, id), TB_ENOTFOUND);
    tb_bus_destroy(bus);
}

typedef struct {
    tb_bus *bus;
    int seen;
    char reason[TB_TEXT_LEN];
} reasoned;

static int h_reasoned(const tb_event *ev, void *ctx)
{
    reasoned *r = ctx;
    tb_bus_fail_reason(r->bus, "quantity %d is not positive", -(int)(ev->event_id & 0xFF));
    return TB_EINVAL;
}

static void on_dead(const tb_dead_letter *d, void *ctx)
{
    reasoned *r = ctx;
    r->seen++;
    memcpy(r->reason, d->reason, sizeof(r->reason));
}

static void test_bus_dead_letter_keeps_the_handlers_reason_and_notifies(void **state)
{
    (void)state;
    reasoned r = {0};
    tb_bus_config cfg;
    tb_bus_config_init(&cfg);
    cfg.on_dead_letter = on_dead;
    cfg.on_dead_letter_ctx = &r;
    tb_bus *bus;
    assert_int_equal(tb_bus_create(&cfg, &bus), 0);
    r.bus = bus;
    tb_bus_subscribe_named(bus, TB_EV_MARKET_DATA, h_reasoned, &r, "positions");
    publish_md(bus);
    assert_int_equal(r.seen, 1);
    assert_string_equal(r.reason, "quantity -1 is not positive");
    assert_string_equal(tb_bus_dead_letter(bus, 0)->reason, "quantity -1 is not positive");
    tb_bus_destroy(bus);
}

static void test_bus_dead_letter_without_reason_uses_the_error_text(void **state)
{
    (void)state;
    tb_bus *bus = new_bus(0, 16);
    recorder r = {0};
    r.fail_times = 1;
    r.fail_code = TB_ESTATE;
    tb_bus_subscribe(bus, TB_EV_MARKET_DATA, h_fail, &r);
    publish_md(bus);
    assert_string_equal(tb_bus_dead_letter(bus, 0)->reason, tb_strerror(TB_ESTATE));
    tb_bus_destroy(bus);
}

static void test_bus_deliver_to_reaches_only_the_named_subscriber(void **state)
{
    (void)state;
    tb_bus *bus = new_bus(0, 16);
    recorder a = {0}, b = {0};
    tb_bus_subscribe_named(bus, TB_EV_MARKET_DATA, h_a, &a, "signal");
    tb_bus_subscribe_named(bus, TB_EV_MARKET_DATA, h_b, &b, "positions");
    tb_event ev;
    tb_event_init(&ev, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
    ev.event_id = 5;
    assert_int_equal(tb_bus_deliver_to(bus, "positions", &ev), 0);
    assert_int_equal(a.n, 0);
    assert_int_equal(b.n, 1);
    assert_int_equal(tb_bus_deliver_to(bus, "nobody", &ev), TB_ENOTFOUND);
    tb_bus_destroy(bus);
}

static void test_bus_rejects_unknown_event_type(void **state)
{
    (void)state;
    tb_bus *bus = new_bus(0, 16);
    tb_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = (tb_event_type)99;
    assert_int_equal(tb_bus_publish(bus, &ev), TB_EINVAL);
    ev.type = TB_EV_NONE;
    assert_int_equal(tb_bus_publish(bus, &ev), TB_EINVAL);
    assert_int_equal(tb_bus_subscribe(bus, (tb_event_type)99, h_a, NULL), TB_EINVAL);
    assert_int_equal(tb_bus_get_counters(bus, TB_BUS_ALL).published, 0);
    tb_bus_destroy(bus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bus_delivers_to_subscribers_in_subscription_order),
        cmocka_unit_test(test_bus_all_types_subscriber_sees_every_event_after_typed_ones),
        cmocka_unit_test(test_bus_event_published_in_handler_is_queued_not_reentrant),
        cmocka_unit_test(test_bus_assigns_ids_and_correlation),
        cmocka_unit_test(test_bus_transient_failure_is_retried_then_succeeds),
        cmocka_unit_test(test_bus_handled_hook_sees_every_attempt),
        cmocka_unit_test(test_bus_exhausted_retries_dead_letter_and_dispatch_goes_on),
        cmocka_unit_test(test_bus_permanent_failure_is_dead_lettered_without_retry),
        cmocka_unit_test(test_bus_dead_letter_replay_reaches_only_the_failed_subscriber),
        cmocka_unit_test(test_bus_publish_outside_a_handler_dispatches_to_completion),
        cmocka_unit_test(test_bus_growth_during_dispatch_keeps_handler_event_valid),
        cmocka_unit_test(test_bus_form_check_mark_holds_for_the_dispatched_event_only),
        cmocka_unit_test(test_bus_unsubscribed_handler_is_not_called),
        cmocka_unit_test(test_bus_rejects_unknown_event_type),
        cmocka_unit_test(test_bus_deliver_to_reaches_only_the_named_subscriber),
        cmocka_unit_test(test_bus_dead_letter_keeps_the_handlers_reason_and_notifies),
        cmocka_unit_test(test_bus_dead_letter_without_reason_uses_the_error_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
