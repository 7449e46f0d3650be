/* tradebus — transports: how events leave and enter a process.
 *
 * A transport is one process's attachment to a message broker: it publishes
 * messages to the run's topic exchange and consumes the process's own queue.
 * A run's [bus] type (config.h) names the transport type its processes use,
 * looked up in a registry (tb_transport_type below): the built-ins are
 * memory (one process, no transport at all) and amqp (RabbitMQ through
 * librabbitmq, amqp.h); a program can add its own (tb_config.extra_transports).
 * Another broker (Kafka, NATS) is its own files plus one entry in the
 * built-in table (src/transport/transport.c).
 *
 * Guarantees a transport gives its user (the node runtime, src/node/):
 * - publish() is at-least-once once flush() has returned 0: every message
 *   published since the last flush has been confirmed by the broker (AMQP
 *   publisher confirms). A message the broker could not route (mandatory
 *   flag, no bound queue) is counted in stats.unroutable and reported, not
 *   silently lost. If the connection dropped, flush() reconnects with
 *   backoff, redeclares the topology and resends every unconfirmed message
 *   (duplicates are possible: consumers deduplicate by message_id).
 * - poll() hands out one message at a time, in queue order. Nothing is
 *   acknowledged until ack() is called with the message's tag; a message
 *   that is rejected with requeue goes back to the queue, and the broker
 *   dead-letters it after the queue's delivery limit.
 * - After a reconnect, tags from before it are stale: the broker redelivers
 *   every unacknowledged message. epoch() changes on every reconnect (AMQP:
 *   as soon as the connection is found lost) so the user can drop what it
 *   buffered; ack()/reject() of a stale tag is a no-op.
 * - The connections are serviced (heartbeats, confirms) only inside calls:
 *   a transport nobody calls for more than twice heartbeat_s is closed by the
 *   broker, and the next call reconnects (a new epoch).
 *
 * The topology every type provides, for a run named N:
 *   the run's events, routed by key "<Type>.<SYMBOL>" or "ctl.<kind>" with
 *   topic patterns ("MarketData.#", "#", exact keys);
 *   N.<component>      the component's queue, bound to its patterns
 *   N.<component>.dlq  its dead letters: messages given back more often than
 *                      the delivery limit, and those published straight to it
 *
 * Not thread-safe: one transport per thread. */
#ifndef TRADEBUS_TRANSPORT_H
#define TRADEBUS_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TB_MSG_KEY_LEN    128 /* routing key, tb-key header */
#define TB_MSG_ID_LEN     64
#define TB_MSG_TYPE_LEN   32
#define TB_MSG_REASON_LEN 256

/* An outgoing message. Strings and body are borrowed for the call (the
 * transport copies what it must keep until confirmed). */
typedef struct {
    const char *routing_key; /* "MarketData.BTCUSDT", "ctl.report"; required */
    const char *message_id;  /* unique per message; the consumers' dedup key; required */
    const char *type;        /* AMQP type property: the event's wire type, "report", ... */
    const char *key;         /* header tb-key: the event's place in the run; may be NULL */
    const char *reason;      /* header tb-reason (dead letters); may be NULL */
    const char *queue;       /* non-NULL: publish straight to this queue (default
                                exchange), e.g. a dead-letter queue or a replay */
    const void *body;
    size_t len;
} tb_msg_out;

/* An incoming message; valid until the next poll() or destroy(). Strings
 * longer than their field are cut. */
typedef struct {
    uint64_t tag;   /* delivery tag, for ack/reject */
    uint32_t epoch; /* the connection generation the tag belongs to */
    int redelivered;
    long delivery_count; /* x-delivery-count header (quorum queues), else 0 */
    /* The key the message was published with, also after it went straight
     * to a queue (tb_msg_out.queue; kept in header tb-routing-key) or was
     * dead-lettered (x-death), where the delivery's own key is the queue's. */
    char routing_key[TB_MSG_KEY_LEN];
    char message_id[TB_MSG_ID_LEN];
    char type[TB_MSG_TYPE_LEN];
    char key[TB_MSG_KEY_LEN];         /* tb-key header, "" if absent */
    char reason[TB_MSG_REASON_LEN];   /* tb-reason header, or the x-death reason; "" if none */
    char death_queue[TB_MSG_KEY_LEN]; /* x-death: the queue it died in; "" if none */
    long death_count;                 /* x-death count; 0 if none */
    const void *body;
    size_t len;
} tb_msg_in;

typedef struct {
    uint64_t published, confirmed, unroutable, nacked, resent, reconnects;
    uint64_t delivered, acked, rejected;
} tb_transport_stats;

typedef struct tb_transport tb_transport;

typedef struct {
    /* Queues the message for publishing. 0, TB_ENOMEM, TB_EINVAL (routing_key
     * or message_id missing; routing_key, key >= TB_MSG_KEY_LEN, message_id >=
     * TB_MSG_ID_LEN or type >= TB_MSG_TYPE_LEN bytes; a reason is cut to
     * TB_MSG_REASON_LEN - 1). AMQP: sent at once; when confirm_batch
     * messages are unconfirmed, waits for the confirms (a few seconds at
     * most). It never waits for a reconnect: while the broker is away,
     * messages pile up in memory until flush() or poll() gets through. */
    int (*publish)(tb_transport *t, const tb_msg_out *m);
    /* Waits until everything published is confirmed (see above). 0,
     * TB_ETIMEOUT (still unconfirmed after timeout_ms; call again),
     * TB_ECONN (broker unreachable for the whole timeout; call again);
     * AMQP also TB_EIO / TB_ECONFIG when a reconnect got through but the
     * broker refused the topology / the credentials. timeout_ms < 0: no limit. */
    int (*flush)(tb_transport *t, int timeout_ms);
    /* Next message of the process's queue: 0 and *m filled, TB_ETIMEOUT if
     * none came within timeout_ms (0 = don't wait, < 0 = no limit), TB_ECONN
     * if the broker is unreachable (the transport keeps reconnecting on later
     * calls), TB_EIO / TB_ECONFIG as for flush(), TB_EMISUSE on a
     * publish-only transport. */
    int (*poll)(tb_transport *t, tb_msg_in *m, int timeout_ms);
    /* Acknowledges (done, remove) or rejects (requeue: give back; else
     * dead-letter at once) one message. Stale epochs are ignored (0).
     * TB_ECONN if the connection dropped just now (the epoch has moved on
     * and the message will come again). */
    int (*ack)(tb_transport *t, uint64_t tag, uint32_t epoch);
    int (*reject)(tb_transport *t, uint64_t tag, uint32_t epoch, int requeue);
    /* The current connection generation (starts at 1). */
    uint32_t (*epoch)(tb_transport *t);
    tb_transport_stats (*stats)(const tb_transport *t);
    /* Closes the connection(s) and frees t. */
    void (*destroy)(tb_transport *t);
} tb_transport_ops;

struct tb_transport {
    const tb_transport_ops *ops;
};

/* Thin wrappers over the ops (t must not be NULL). */
static inline int tb_transport_publish(tb_transport *t, const tb_msg_out *m)
{
    return t->ops->publish(t, m);
}
static inline int tb_transport_flush(tb_transport *t, int timeout_ms)
{
    return t->ops->flush(t, timeout_ms);
}
static inline int tb_transport_poll(tb_transport *t, tb_msg_in *m, int timeout_ms)
{
    return t->ops->poll(t, m, timeout_ms);
}
static inline int tb_transport_ack(tb_transport *t, uint64_t tag, uint32_t epoch)
{
    return t->ops->ack(t, tag, epoch);
}
static inline int tb_transport_reject(tb_transport *t, uint64_t tag, uint32_t epoch, int requeue)
{
    return t->ops->reject(t, tag, epoch, requeue);
}
static inline uint32_t tb_transport_epoch(tb_transport *t)
{
    return t->ops->epoch(t);
}
static inline void tb_transport_destroy(tb_transport *t)
{
    if (t) t->ops->destroy(t);
}

/* ---- transport types: the registry [bus] type looks in ----------------- */

#define TB_TRANSPORT_MAX_BINDINGS 32

/* One of a type's own [bus] keys as written in the config. */
typedef struct {
    const char *key;
    const char *value;
} tb_transport_param;

/* What a type is given to attach one process of a run, or to look at a run.
 * Everything is borrowed for the call. */
typedef struct {
    const char *run;             /* the run's name N ([bus] name); NULL = "tradebus" */
    const char *component;       /* the queue's owner (a process's name); NULL = publish
                                    only (admin: the run's shared objects only) */
    const char *const *bindings; /* topic patterns the queue is bound to */
    size_t nbindings;            /* at most TB_TRANSPORT_MAX_BINDINGS */
    int delivery_limit; /* deliveries before a message is dead-lettered; 0 = the type's default */
    const tb_transport_param *params; /* the type's own [bus] keys, checked by check_key */
    size_t nparams;
} tb_transport_params;

/* One of a type's own [bus] keys, for `tradebus config check` and errors. */
typedef struct {
    const char *name;
    const char *def; /* the default, as config check shows it */
} tb_transport_key;

/* Called for each message a peek reads; m is valid during the call (tag and
 * epoch mean nothing there). 0 to go on, non-zero to stop. */
typedef int (*tb_transport_peek_fn)(const tb_msg_in *m, void *ctx);

/* A transport type: its name, its own config keys, how to attach a process,
 * and, optionally, administration of a run's queues (tradebus status, dlq,
 * up). An optional op left NULL makes its wrapper below return TB_ENOTSUP
 * with "... not supported by transport NAME" in err. Every op gets the type
 * itself first, so a program's type can carry its own state in ctx. */
typedef struct tb_transport_type tb_transport_type;
struct tb_transport_type {
    const char *name;             /* [bus] type = name (matched case-insensitively) */
    const char *help;             /* what it is, one line */
    const tb_transport_key *keys; /* its own [bus] keys, ended by a {NULL}; NULL = none */
    /* Checks the value of one of its keys while the config is built. 0, or
     * TB_ECONFIG with the reason in msg (never quoting a secret). It may
     * write to shown the value as config check prints it (a password
     * masked, a number normalised); left "" the value is printed as
     * written. NULL: every value is accepted. */
    int (*check_key)(const tb_transport_type *tt, const char *key, const char *value, char *shown,
                     size_t shownlen, char *msg, size_t msglen);
    /* Attaches one process: declares what p needs (its queue, bound to
     * p->bindings) and returns the transport; the caller frees it with
     * tb_transport_destroy(). TB_ECONN if the broker cannot be reached (call
     * again), TB_ECONFIG for a setting the broker refuses, TB_EIO for a
     * refused declaration, with err set. NULL: the type is in-process only
     * (memory): its run is one process, there is nothing to attach. */
    int (*create)(const tb_transport_type *tt, const tb_transport_params *p, tb_transport **out,
                  char *err, size_t errlen);
    /* Where p leads, for logs and messages, without secrets (AMQP: the URL,
     * its password masked). NULL: the type's name. */
    void (*describe)(const tb_transport_type *tt, const tb_transport_params *p, char *out,
                     size_t outlen);
    /* Messages waiting in a queue (not delivered, or unacked) and consumers
     * attached. 0, TB_ENOTFOUND (no such queue), TB_ECONN. */
    int (*queue_info)(const tb_transport_type *tt, const tb_transport_params *p, const char *queue,
                      long *messages, long *consumers, char *err, size_t errlen);
    /* Reads up to max messages of a queue without removing them. Returns the
     * number seen, or a negative TB_E* code (TB_ENOTFOUND: no such queue). */
    int (*queue_peek)(const tb_transport_type *tt, const tb_transport_params *p, const char *queue,
                      size_t max, tb_transport_peek_fn fn, void *ctx, char *err, size_t errlen);
    /* Moves the messages of queue from (those whose message_id is id, or
     * all when id is NULL) to queue to (NULL: dropped), keeping their
     * routing key and reason. Returns the number moved, or a negative TB_E*
     * code (TB_ENOTFOUND: from or to does not exist; TB_EINVAL: from == to). */
    int (*queue_move)(const tb_transport_type *tt, const tb_transport_params *p, const char *from,
                      const char *to, const char *id, char *err, size_t errlen);
    /* Deletes the run's shared objects and, with p->component, that
     * component's queue and dead-letter queue, with their messages. Deleting
     * what does not exist is not an error. 0 or a negative TB_E* code. */
    int (*delete_run)(const tb_transport_type *tt, const tb_transport_params *p, char *err,
                      size_t errlen);
    void *ctx; /* the type's own; the library never touches it */
};

/* The built-in types: "memory" (the in-process bus; no create) and "amqp".
 * _builtin: by name, case-insensitive, NULL if unknown; _at: the i-th, NULL
 * past the end. */
TB_EXPORT const tb_transport_type *tb_transport_builtin(const char *name);
TB_EXPORT const tb_transport_type *tb_transport_builtin_at(size_t i);
/* The value of one of p's params, NULL if it is not set. */
TB_EXPORT const char *tb_transport_param_get(const tb_transport_params *p, const char *key);

/* The type's ops, for any type (tt and p must not be NULL). Each returns
 * what the op returns, or TB_ENOTSUP with "<what> is not supported by
 * transport NAME" in err when the type leaves the op NULL. */
TB_EXPORT int tb_transport_open(const tb_transport_type *tt, const tb_transport_params *p,
                                tb_transport **out, char *err, size_t errlen);
TB_EXPORT void tb_transport_describe(const tb_transport_type *tt, const tb_transport_params *p,
                                     char *out, size_t outlen);
TB_EXPORT int tb_transport_queue_info(const tb_transport_type *tt, const tb_transport_params *p,
                                      const char *queue, long *messages, long *consumers, char *err,
                                      size_t errlen);
TB_EXPORT int tb_transport_queue_peek(const tb_transport_type *tt, const tb_transport_params *p,
                                      const char *queue, size_t max, tb_transport_peek_fn fn,
                                      void *ctx, char *err, size_t errlen);
TB_EXPORT int tb_transport_queue_move(const tb_transport_type *tt, const tb_transport_params *p,
                                      const char *from, const char *to, const char *id, char *err,
                                      size_t errlen);
TB_EXPORT int tb_transport_delete_run(const tb_transport_type *tt, const tb_transport_params *p,
                                      char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
