/* tradebus — the in-process event bus.
 *
 * Single-threaded, run-to-completion, FIFO and breadth-first (LMAX style):
 * tb_bus_publish() copies the event into a ring; if no dispatch is running
 * it dispatches until the ring is empty. An event published from inside a
 * handler is queued behind the current one, never dispatched re-entrantly.
 * Each event goes to its type's subscribers, then to the all-types
 * subscribers, each group in subscription order — so a run is deterministic.
 *
 * A handler returns 0, or a negative error. A transient error
 * (tb_err_is_transient: out of memory, I/O, full) is retried up to
 * cfg.max_retries more times; a permanent one (bad input, illegal state)
 * cannot succeed on retry and is not retried. Either way an event that still
 * fails is copied into the dead-letter store with the subscriber's name, the
 * error and the attempt count, and dispatch goes on. Nothing is lost.
 * Handlers that may be retried must be idempotent for the part they did
 * before failing.
 *
 * The ring grows (doubling) only when a burst exceeds it; in steady state a
 * publish allocates nothing. Not thread-safe: one bus per thread. */
#ifndef TRADEBUS_BUS_H
#define TRADEBUS_BUS_H

#include <stddef.h>
#include <stdint.h>
#include "event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tb_bus tb_bus;

/* A subscriber. ev is borrowed for the call only. Return 0, or a negative
 * TB_E* code to have the delivery retried and eventually dead-lettered. */
typedef int (*tb_handler)(const tb_event *ev, void *ctx);

#define TB_BUS_ALL TB_EV_NONE /* subscribe to every type */

struct tb_dead_letter;
/* Called for every event as it is dead-lettered (e.g. to persist it); the
 * letter is borrowed for the call. */
typedef void (*tb_dead_letter_fn)(const struct tb_dead_letter *d, void *ctx);

/* Receives an event a handler published, instead of the bus queueing it
 * (distributed mode: the event leaves the process through a transport and
 * comes back to every subscriber, local or not, in its turn). ev has its id
 * and correlation set; publisher is the name of the subscriber whose handler
 * published it. The return value is what tb_bus_publish() returns. */
typedef int (*tb_outbox_fn)(const tb_event *ev, const char *publisher, void *ctx);

typedef struct {
    size_t ring_capacity;    /* initial event slots (rounded up to a power of two); default 1024 */
    int max_retries;         /* extra attempts after a failure; default 2 */
    uint16_t node_id;        /* high 16 bits of every event id; default 1 */
    size_t max_dead_letters; /* kept in memory; beyond it the oldest are counted, not kept; 0 =
                                100000 */
    tb_dead_letter_fn on_dead_letter; /* may be NULL */
    void *on_dead_letter_ctx;
    /* Subscriber names that publish, in a fixed order (NULL-terminated; NULL =
     * none). An event published by a handler of publishers[i] takes its id
     * from counter i+1, every other event from counter 0: ids are
     * (node_id << 48) | (counter << 40) | sequence. A component's ids then
     * depend only on the events it was given, so the same component running
     * in another process, fed the same events, issues the same ids. */
    const char *const *publishers;
    tb_outbox_fn outbox; /* NULL = queue handler publishes here (the default) */
    void *outbox_ctx;
} tb_bus_config;

typedef struct {
    uint64_t published, delivered, failed, dead_lettered;
} tb_bus_counters;

typedef struct tb_dead_letter {
    tb_event event;      /* a copy of the failed event */
    int sub_id;          /* the subscription that failed it */
    char subscriber[32]; /* the subscriber's name */
    int error;           /* the handler's last error */
    int attempts;        /* total deliveries tried */
    char
        reason[TB_TEXT_LEN]; /* what the handler said (tb_bus_fail_reason), else the error's text */
} tb_dead_letter;

/* Fills cfg with the documented defaults. */
TB_EXPORT void tb_bus_config_init(tb_bus_config *cfg);
/* Creates a bus (cfg copied; NULL for defaults). 0, TB_EINVAL, TB_ENOMEM.
 * The caller frees it with tb_bus_destroy(). */
TB_EXPORT int tb_bus_create(const tb_bus_config *cfg, tb_bus **out);
/* Frees the bus and its dead letters. NULL is a no-op. */
TB_EXPORT void tb_bus_destroy(tb_bus *bus);

/* Subscribes fn(ctx) to type (or TB_BUS_ALL). Returns a subscription id
 * (>= 0), or TB_EINVAL / TB_ENOMEM. ctx is borrowed: it must outlive the
 * subscription. The subscriber is named "sub-<id>" in dead letters. */
TB_EXPORT int tb_bus_subscribe(tb_bus *bus, tb_event_type type, tb_handler fn, void *ctx);
/* Same, with a name (copied, truncated to 31 chars) shown in dead letters. */
TB_EXPORT int tb_bus_subscribe_named(tb_bus *bus, tb_event_type type, tb_handler fn, void *ctx,
                                     const char *name);
/* Removes a subscription; takes effect for the next event dispatched.
 * TB_ENOTFOUND if the id is unknown. */
TB_EXPORT int tb_bus_unsubscribe(tb_bus *bus, int sub_id);

/* Publishes a copy of ev. If ev->event_id is 0 the bus assigns the next id and
 * writes it back into *ev (so the publisher can name it as a cause). Sets
 * correlation_id to the event's own id when it is 0. Dispatches before
 * returning unless called from a handler. TB_EINVAL for an unknown type,
 * TB_ENOMEM if the ring had to grow and could not. */
TB_EXPORT int tb_bus_publish(tb_bus *bus, tb_event *ev);
/* Called after every handler call when set (metrics: latency histograms,
 * per-component counts): the subscriber's name, the event type, the
 * handler's result and its duration in ns. Unset, dispatch reads no clock. */
typedef void (*tb_handled_fn)(const char *subscriber, tb_event_type type, int rc, int64_t ns,
                              void *ctx);
/* Sets (fn NULL: clears) the handled hook; ctx is borrowed. */
TB_EXPORT void tb_bus_set_handled_hook(tb_bus *bus, tb_handled_fn fn, void *ctx);

/* 1 if some active subscription takes events of type (TB_BUS_ALL: one that
 * takes every type), else 0. For deriving a process's queue bindings. */
TB_EXPORT int tb_bus_has_subscriber(const tb_bus *bus, tb_event_type type);
/* Name of the subscriber whose handler is running, or NULL outside one. */
TB_EXPORT const char *tb_bus_current_subscriber(const tb_bus *bus);
/* Reserves the next event id without publishing (for events built ahead);
 * from inside a handler it comes from that subscriber's counter. */
TB_EXPORT uint64_t tb_bus_next_id(tb_bus *bus);
/* Ids issued from now on by id's counter come after id (a resumed live run
 * goes on after the ids its journal holds, so no id is issued twice). An id
 * of another node_id is ignored. */
TB_EXPORT void tb_bus_reserve_id(tb_bus *bus, uint64_t id);

/* Delivers ev to the subscriber named name (its first active subscription
 * for ev's type or for all types), with the usual retries, then dispatches
 * what that caused. For replaying a dead letter to the component that failed
 * it. 0, TB_ENOTFOUND (no such subscriber), TB_EMISUSE (from a handler), or
 * the handler's error (the event is not dead-lettered again: the caller
 * keeps it). */
TB_EXPORT int tb_bus_deliver_to(tb_bus *bus, const char *name, const tb_event *ev);

/* Called by a handler before it returns an error: says why, for the dead
 * letter ("quantity -1 is not positive"). Truncated to TB_TEXT_LEN - 1. */
TB_EXPORT void tb_bus_fail_reason(tb_bus *bus, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Counters for one type (TB_BUS_ALL: the totals). */
TB_EXPORT tb_bus_counters tb_bus_get_counters(const tb_bus *bus, tb_event_type type);
/* Number of dead letters kept, and one of them (borrowed, valid until the
 * next publish or destroy); NULL if i is out of range. */
TB_EXPORT size_t tb_bus_dead_letter_count(const tb_bus *bus);
TB_EXPORT const tb_dead_letter *tb_bus_dead_letter(const tb_bus *bus, size_t i);
/* Delivers dead letter i again to the subscriber that failed it (fresh
 * attempts; other subscribers, which accepted it, do not see it twice). On
 * success it leaves the store; on failure it stays with its attempts added.
 * TB_ENOTFOUND if i is out of range or the subscriber is gone; else the
 * handler's error. Must not be called from a handler (TB_EMISUSE). */
TB_EXPORT int tb_bus_dead_letter_replay(tb_bus *bus, size_t i);

#ifdef __cplusplus
}
#endif
#endif
