/* The in-process bus: a growable ring of events dispatched run-to-completion.
 *
 * Invariants:
 *  - ring slots [head, tail) hold queued events; the event being dispatched
 *    stays in its slot (head is advanced only after its last handler), so a
 *    handler's pointer is never overwritten by a publish from inside it;
 *  - when a publish finds the ring full it moves the events to a buffer twice
 *    the size; the old buffer is kept until the current event's dispatch ends
 *    because handlers may still hold a pointer into it. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hot.h"
#include "bus_int.h"
#include "tradebus/bus.h"

#define NAME_LEN        32
#define TB_BUS_ID_SLOTS 16 /* counter 0 + up to 15 named publishers */

typedef struct {
    tb_handler fn;
    void *ctx;
    tb_event_type type;
    int active;
    int slot; /* id counter: 1 + index in cfg.publishers, else 0 */
    char name[NAME_LEN];
} subscription;

/* One stop of a type's route: the handler and its context copied from the
 * subscription, so a delivery reads one small record. */
typedef struct {
    tb_handler fn;
    void *ctx;
    int id; /* the subscription's index */
} route_entry;

struct tb_bus {
    tb__bus_head head_; /* first: bus_int.h reads it inline */
    tb_bus_config cfg;
    tb_event *ring;
    size_t cap; /* power of two */
    uint64_t head, tail;
    tb_event *retired; /* old ring kept alive during a dispatch */
    int dispatching;
    int cur_sub; /* subscription being delivered to, -1 outside handlers */
    uint64_t next_seq[TB_BUS_ID_SLOTS];

    subscription *subs;
    size_t nsubs, subs_cap;
    /* Per type the subscriptions to call, in order: the type's own
     * subscribers, then TB_BUS_ALL's (index 0 holds those alone), each with
     * its handler and context. Rebuilt on (un)subscribe, so dispatch walks
     * one flat array per event. */
    route_entry *route[TB_EV_COUNT];
    size_t nroute[TB_EV_COUNT];
    size_t nown[TB_EV_COUNT]; /* the type's own subscribers, first in route */

    tb_bus_counters counters[TB_EV_COUNT];
    tb_dead_letter *dead;
    size_t ndead, dead_cap;
    char reason[TB_TEXT_LEN]; /* set by the handler being delivered to */
    tb_handled_fn handled;    /* metrics hook, NULL = off */
    void *handled_ctx;
};

void tb_bus_config_init(tb_bus_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->ring_capacity = 1024;
    cfg->max_retries = 2;
    cfg->node_id = 1;
    cfg->max_dead_letters = 100000;
}

static size_t round_pow2(size_t n)
{
    size_t c = 16;
    while (c < n)
        c <<= 1;
    return c;
}

int tb_bus_create(const tb_bus_config *cfg, tb_bus **out)
{
    tb_bus_config def;
    if (!out) return TB_EINVAL;
    if (!cfg) {
        tb_bus_config_init(&def);
        cfg = &def;
    }
    if (cfg->max_retries < 0) return TB_EINVAL;
    size_t npub = 0;
    while (cfg->publishers && cfg->publishers[npub])
        npub++;
    if (npub >= TB_BUS_ID_SLOTS) return TB_EINVAL;
    tb_bus *bus = calloc(1, sizeof(*bus));
    if (!bus) return TB_ENOMEM;
    bus->cfg = *cfg;
    bus->cur_sub = -1;
    if (bus->cfg.max_dead_letters == 0) bus->cfg.max_dead_letters = 100000;
    bus->cap = round_pow2(cfg->ring_capacity);
    bus->ring = malloc(bus->cap * sizeof(tb_event));
    if (!bus->ring) {
        free(bus);
        return TB_ENOMEM;
    }
    *out = bus;
    return 0;
}

void tb_bus_destroy(tb_bus *bus)
{
    if (!bus) return;
    for (int t = 0; t < TB_EV_COUNT; t++)
        free(bus->route[t]);
    free(bus->subs);
    free(bus->dead);
    free(bus->retired);
    free(bus->ring);
    free(bus);
}

static int rebuild_routes(tb_bus *bus)
{
    size_t nall = 0;
    for (size_t i = 0; i < bus->nsubs; i++)
        nall += bus->subs[i].active && bus->subs[i].type == TB_BUS_ALL;
    for (int t = 0; t < TB_EV_COUNT; t++) {
        size_t own = 0;
        for (size_t i = 0; t != TB_BUS_ALL && i < bus->nsubs; i++)
            if (bus->subs[i].active && bus->subs[i].type == (tb_event_type)t) own++;
        route_entry *r = NULL;
        size_t n = 0;
        if (own + nall) {
            r = malloc((own + nall) * sizeof(*r));
            if (!r) return TB_ENOMEM;
            for (int all = 0; all < 2; all++) /* the type's own, then TB_BUS_ALL's */
                for (size_t i = 0; (all || t != TB_BUS_ALL) && i < bus->nsubs; i++) {
                    const subscription *s = &bus->subs[i];
                    if (s->active && s->type == (all ? TB_BUS_ALL : (tb_event_type)t))
                        r[n++] = (route_entry){s->fn, s->ctx, (int)i};
                }
        }
        free(bus->route[t]);
        bus->route[t] = r;
        bus->nroute[t] = n;
        bus->nown[t] = t == TB_BUS_ALL ? n : own;
    }
    return 0;
}

int tb_bus_subscribe_named(tb_bus *bus, tb_event_type type, tb_handler fn, void *ctx,
                           const char *name)
{
    if (!bus || !fn || (int)type < 0 || type >= TB_EV_COUNT) return TB_EINVAL;
    if (bus->nsubs == bus->subs_cap) {
        size_t nc = bus->subs_cap ? bus->subs_cap * 2 : 16;
        subscription *ns = realloc(bus->subs, nc * sizeof(*ns));
        if (!ns) return TB_ENOMEM;
        bus->subs = ns;
        bus->subs_cap = nc;
    }
    int id = (int)bus->nsubs;
    subscription *s = &bus->subs[bus->nsubs++];
    memset(s, 0, sizeof(*s));
    s->fn = fn;
    s->ctx = ctx;
    s->type = type;
    s->active = 1;
    if (name) {
        size_t n = strlen(name);
        if (n >= NAME_LEN) n = NAME_LEN - 1;
        memcpy(s->name, name, n);
    } else {
        snprintf(s->name, NAME_LEN, "sub-%d", id);
    }
    for (int i = 0; bus->cfg.publishers && bus->cfg.publishers[i]; i++)
        if (strcmp(bus->cfg.publishers[i], s->name) == 0) s->slot = i + 1;
    int rc = rebuild_routes(bus);
    if (rc) {
        s->active = 0;
        bus->nsubs--;
        return rc;
    }
    return id;
}

int tb_bus_subscribe(tb_bus *bus, tb_event_type type, tb_handler fn, void *ctx)
{
    return tb_bus_subscribe_named(bus, type, fn, ctx, NULL);
}

int tb_bus_unsubscribe(tb_bus *bus, int sub_id)
{
    if (!bus || sub_id < 0 || (size_t)sub_id >= bus->nsubs || !bus->subs[sub_id].active)
        return TB_ENOTFOUND;
    bus->subs[sub_id].active = 0;
    return rebuild_routes(bus);
}

uint64_t tb_bus_next_id(tb_bus *bus)
{
    int slot = bus->cur_sub >= 0 ? bus->subs[bus->cur_sub].slot : 0;
    return ((uint64_t)bus->cfg.node_id << 48) | ((uint64_t)slot << 40) |
           (++bus->next_seq[slot] & 0xFFFFFFFFFFull);
}

void tb_bus_reserve_id(tb_bus *bus, uint64_t id)
{
    if (!bus || (id >> 48) != bus->cfg.node_id) return;
    unsigned slot = (unsigned)(id >> 40) & 0xFF;
    uint64_t seq = id & 0xFFFFFFFFFFull;
    if (slot < TB_BUS_ID_SLOTS && bus->next_seq[slot] < seq) bus->next_seq[slot] = seq;
}

void tb_bus_set_handled_hook(tb_bus *bus, tb_handled_fn fn, void *ctx)
{
    if (!bus) return;
    bus->handled = fn;
    bus->handled_ctx = ctx;
}

int tb_bus_has_subscriber(const tb_bus *bus, tb_event_type type)
{
    if (!bus || (int)type < 0 || type >= TB_EV_COUNT) return 0;
    return bus->nown[type] > 0;
}

const char *tb_bus_current_subscriber(const tb_bus *bus)
{
    return bus && bus->cur_sub >= 0 ? bus->subs[bus->cur_sub].name : NULL;
}

static int grow(tb_bus *bus)
{
    size_t nc = bus->cap * 2;
    tb_event *nr = malloc(nc * sizeof(tb_event));
    if (!nr) return TB_ENOMEM;
    size_t n = (size_t)(bus->tail - bus->head);
    for (size_t i = 0; i < n; i++)
        nr[i] = bus->ring[(bus->head + i) & (bus->cap - 1)];
    if (bus->dispatching) {
        /* A handler may hold a pointer into the old ring; free it later. Only
         * one can be pending: a second growth in the same dispatch frees the
         * intermediate ring, which no handler can reference. */
        if (bus->retired)
            free(bus->ring);
        else
            bus->retired = bus->ring;
    } else {
        free(bus->ring);
    }
    bus->ring = nr;
    bus->cap = nc;
    bus->tail = n;
    bus->head = 0;
    return 0;
}

static void dead_letter(tb_bus *bus, const tb_event *ev, int sub_id, int err, int attempts)
{
    bus->counters[ev->type].dead_lettered++;
    if (bus->ndead == bus->dead_cap) {
        if (bus->ndead >= bus->cfg.max_dead_letters) {
            /* Full: drop the oldest copy so the newest evidence is kept; the
             * counter above still records every dead letter. */
            memmove(bus->dead, bus->dead + 1, (bus->ndead - 1) * sizeof(*bus->dead));
            bus->ndead--;
        } else {
            size_t nc = bus->dead_cap ? bus->dead_cap * 2 : 16;
            tb_dead_letter *nd = realloc(bus->dead, nc * sizeof(*nd));
            if (!nd) return; /* counted above; the copy is what is lost */
            bus->dead = nd;
            bus->dead_cap = nc;
        }
    }
    tb_dead_letter *d = &bus->dead[bus->ndead++];
    d->event = *ev;
    d->sub_id = sub_id;
    memcpy(d->subscriber, bus->subs[sub_id].name, NAME_LEN);
    d->error = err;
    d->attempts = attempts;
    if (bus->reason[0])
        memcpy(d->reason, bus->reason, sizeof(d->reason));
    else
        snprintf(d->reason, sizeof(d->reason), "%s", tb_strerror(err));
    if (bus->cfg.on_dead_letter) bus->cfg.on_dead_letter(d, bus->cfg.on_dead_letter_ctx);
}

void tb_bus_fail_reason(tb_bus *bus, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(bus->reason, sizeof(bus->reason), fmt, ap);
    va_end(ap);
}

/* A handler call timed for the metrics hook: out of line, so that the
 * untimed call (the hot path) stays a plain indirect call. */
__attribute__((noinline, cold)) static int timed_call(tb_bus *bus, const subscription *s,
                                                      const tb_event *ev)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = s->fn(ev, s->ctx);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    bus->handled(s->name, ev->type, rc,
                 (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec),
                 bus->handled_ctx);
    return rc;
}

/* One call of s's handler: plain on the hot path, timed when the metrics
 * hook is set. */
static inline int call(tb_bus *bus, const subscription *s, const tb_event *ev)
{
    return __builtin_expect(bus->handled != NULL, 0) ? timed_call(bus, s, ev) : s->fn(ev, s->ctx);
}

/* After a first call to sub_id that returned rc != 0: counts it and
 * retries transient errors (up to cfg.max_retries more calls, *attempts
 * counting them). Returns the last result. Out of line: the hot path is a
 * first call that succeeds. */
__attribute__((noinline)) static int retry(tb_bus *bus, const tb_event *ev, int sub_id, int rc,
                                           int *attempts)
{
    const subscription *s = &bus->subs[sub_id];
    bus->counters[ev->type].failed++;
    /* the same input fails the same way: only transient errors retry */
    while (tb_err_is_transient(rc) && *attempts <= bus->cfg.max_retries) {
        (*attempts)++;
        bus->reason[0] = 0;
        rc = call(bus, s, ev);
        if (rc == 0) {
            bus->counters[ev->type].delivered++;
            return 0;
        }
        bus->counters[ev->type].failed++;
    }
    return rc;
}

/* Delivers ev to one subscriber with retries; returns its last result. */
static int deliver(tb_bus *bus, const tb_event *ev, int sub_id, int *attempts)
{
    const subscription *s = &bus->subs[sub_id];
    int outer = bus->cur_sub;
    bus->cur_sub = sub_id;
    bus->head_.cur_ev = ev;
    bus->head_.cur_ev_ok = 0;
    (*attempts)++;
    bus->reason[0] = 0;
    int rc = call(bus, s, ev);
    if (__builtin_expect(rc == 0, 1))
        bus->counters[ev->type].delivered++;
    else
        rc = retry(bus, ev, sub_id, rc, attempts);
    bus->cur_sub = outer;
    bus->head_.cur_ev = NULL;
    return rc;
}

/* After a first call to route entry id that returned rc != 0: retries,
 * dead-letters what still fails. Out of line, off the hot path. */
__attribute__((noinline)) static void failed(tb_bus *bus, const tb_event *ev, int id, int rc,
                                             int outer)
{
    int attempts = 1;
    rc = retry(bus, ev, id, rc, &attempts);
    if (rc) {
        bus->cur_sub = outer; /* the dead letter is the bus's, not the handler's */
        dead_letter(bus, ev, id, rc, attempts);
    }
}

/* deliver() to every subscriber of ev's type, in one loop: the per-call
 * work that does not change between them (the outer subscriber, the
 * delivered count, whether calls are timed) is done once per event. */
TB__HOT static void dispatch_one(tb_bus *bus, const tb_event *ev)
{
    const tb_event_type t = ev->type;
    const int outer = bus->cur_sub;
    uint64_t ok = 0;
    bus->head_.cur_ev = ev;
    bus->head_.cur_ev_ok = 0;
    const int timed = bus->handled != NULL;
    /* Routes may be rebuilt by a handler (un)subscribing; index by
     * position each time rather than caching the array pointer. */
    for (size_t i = 0; i < bus->nroute[t]; i++) {
        const route_entry *r = &bus->route[t][i];
        int id = r->id;
        bus->cur_sub = id;
        bus->reason[0] = 0;
        int rc =
            __builtin_expect(timed, 0) ? timed_call(bus, &bus->subs[id], ev) : r->fn(ev, r->ctx);
        if (__builtin_expect(rc == 0, 1))
            ok++;
        else
            failed(bus, ev, id, rc, outer);
    }
    bus->cur_sub = outer;
    bus->head_.cur_ev = NULL;
    /* Counted once per event: a handler sees the counters of the events
     * dispatched before this one. */
    bus->counters[t].delivered += ok;
}

/* Dispatches until the ring is empty; leaves dispatching off. */
static void drain(tb_bus *bus)
{
    bus->dispatching = 1;
    while (bus->head != bus->tail) {
        const tb_event *ev = &bus->ring[bus->head & (bus->cap - 1)];
        dispatch_one(bus, ev);
        bus->head++;
        if (bus->retired) {
            free(bus->retired);
            bus->retired = NULL;
        }
    }
    bus->dispatching = 0;
}

/* Bytes of an event that carry meaning for its type: the envelope and that
 * type's payload. Queuing copies only these (a MarketData is a third of the
 * full union), so the ring path stays cheap. */
static const size_t used_size[TB_EV_COUNT] = {
    [TB_EV_NONE] = sizeof(tb_event),
    [TB_EV_MARKET_DATA] = offsetof(tb_event, u) + sizeof(tb_market_data),
    [TB_EV_SIGNAL_GENERATED] = offsetof(tb_event, u) + sizeof(tb_signal_generated),
    [TB_EV_ORDER_PLACEMENT_REQUEST] = offsetof(tb_event, u) + sizeof(tb_order_placement_request),
    [TB_EV_ORDER_CREATED] = offsetof(tb_event, u) + sizeof(tb_order_created),
    [TB_EV_ORDER_FILLED] = offsetof(tb_event, u) + sizeof(tb_order_filled),
    [TB_EV_ORDER_REJECTED] = offsetof(tb_event, u) + sizeof(tb_order_rejected),
    [TB_EV_ORDER_CANCELED] = offsetof(tb_event, u) + sizeof(tb_order_canceled),
    [TB_EV_POSITION_UPDATE] = offsetof(tb_event, u) + sizeof(tb_position_update),
    [TB_EV_RISK_ALERT] = offsetof(tb_event, u) + sizeof(tb_risk_alert),
};

_Static_assert(TB_EV_COUNT == 10, "a new event type needs its used_size entry");

TB__HOT int tb_bus_publish(tb_bus *bus, tb_event *ev)
{
    if (!bus || !ev) return TB_EINVAL;
    if (ev->type <= TB_EV_NONE || ev->type >= TB_EV_COUNT) return TB_EINVAL;
    /* The slot of the event under dispatch stays reserved (head not yet
     * advanced), so "full" is tail - head == cap. */
    if (bus->tail - bus->head == bus->cap) {
        int rc = grow(bus);
        if (rc) return rc;
    }
    if (ev->event_id == 0) ev->event_id = tb_bus_next_id(bus);
    if (ev->correlation_id == 0) ev->correlation_id = ev->event_id;
    if (bus->cfg.outbox && bus->cur_sub >= 0) {
        bus->counters[ev->type].published++;
        return bus->cfg.outbox(ev, bus->subs[bus->cur_sub].name, bus->cfg.outbox_ctx);
    }
    if (!bus->dispatching && bus->head == bus->tail) {
        /* Nothing queued: dispatch the caller's event in place, no copy.
         * What its handlers publish queues in the ring as usual. */
        bus->counters[ev->type].published++;
        bus->dispatching = 1;
        dispatch_one(bus, ev);
        drain(bus);
        return 0;
    }
    memcpy(&bus->ring[bus->tail & (bus->cap - 1)], ev, used_size[ev->type]);
    bus->tail++;
    bus->counters[ev->type].published++;
    if (!bus->dispatching) drain(bus);
    return 0;
}

tb_bus_counters tb_bus_get_counters(const tb_bus *bus, tb_event_type type)
{
    tb_bus_counters c = {0, 0, 0, 0};
    if (!bus || (int)type < 0 || type >= TB_EV_COUNT) return c;
    if (type != TB_BUS_ALL) return bus->counters[type];
    for (int t = 1; t < TB_EV_COUNT; t++) {
        c.published += bus->counters[t].published;
        c.delivered += bus->counters[t].delivered;
        c.failed += bus->counters[t].failed;
        c.dead_lettered += bus->counters[t].dead_lettered;
    }
    return c;
}

size_t tb_bus_dead_letter_count(const tb_bus *bus)
{
    return bus ? bus->ndead : 0;
}

const tb_dead_letter *tb_bus_dead_letter(const tb_bus *bus, size_t i)
{
    return (bus && i < bus->ndead) ? &bus->dead[i] : NULL;
}

int tb_bus_dead_letter_replay(tb_bus *bus, size_t i)
{
    if (!bus) return TB_EINVAL;
    if (bus->dispatching) return TB_EMISUSE;
    if (i >= bus->ndead) return TB_ENOTFOUND;
    tb_dead_letter d = bus->dead[i];
    if (d.sub_id < 0 || (size_t)d.sub_id >= bus->nsubs || !bus->subs[d.sub_id].active)
        return TB_ENOTFOUND;
    int attempts = 0;
    bus->dispatching = 1; /* events the handler publishes queue behind */
    int rc = deliver(bus, &d.event, d.sub_id, &attempts);
    if (rc == 0) {
        memmove(&bus->dead[i], &bus->dead[i + 1], (bus->ndead - i - 1) * sizeof(*bus->dead));
        bus->ndead--;
    } else {
        bus->dead[i].attempts += attempts;
        bus->dead[i].error = rc;
        if (bus->reason[0]) memcpy(bus->dead[i].reason, bus->reason, sizeof(bus->reason));
    }
    bus->dispatching = 0;
    drain(bus);
    return rc;
}

int tb_bus_deliver_to(tb_bus *bus, const char *name, const tb_event *ev)
{
    if (!bus || !name || !ev || ev->type <= TB_EV_NONE || ev->type >= TB_EV_COUNT) return TB_EINVAL;
    if (bus->dispatching) return TB_EMISUSE;
    for (size_t i = 0; i < bus->nsubs; i++) {
        const subscription *s = &bus->subs[i];
        if (!s->active || strcmp(s->name, name) != 0) continue;
        if (s->type != ev->type && s->type != TB_BUS_ALL) continue;
        int attempts = 0;
        bus->dispatching = 1; /* what the handler publishes queues behind */
        int rc = deliver(bus, ev, (int)i, &attempts);
        bus->dispatching = 0;
        drain(bus);
        return rc;
    }
    return TB_ENOTFOUND;
}
