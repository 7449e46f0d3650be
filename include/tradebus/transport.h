/* tradebus — transports: how events leave and enter a process.
 *
 * A transport is one process's attachment to a message broker: it publishes
 * messages to the run's topic exchange and consumes the process's own queue.
 * Two implementations share this interface: AMQP (RabbitMQ through
 * librabbitmq, tb_amqp_transport_create) and an in-memory loopback broker
 * (tb_loop_broker) that runs several processes' worth of nodes inside one
 * test program.
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

/* ---- topology ----------------------------------------------------------
 * For a run named N (default "tradebus"):
 *   exchange  N.events  durable topic; routing keys "<Type>.<SYMBOL>" and "ctl.<kind>"
 *   exchange  N.dlx     durable direct; routing key = the component's name
 *   queue     N.<component>       durable quorum queue, bound to the
 *             component's patterns on N.events; x-dead-letter-exchange N.dlx,
 *             x-dead-letter-routing-key <component>, x-delivery-limit L
 *   queue     N.<component>.dlq   durable quorum queue bound to N.dlx with key
 *             <component> (no limit, no dead-lettering of its own) */
#define TB_AMQP_MAX_BINDINGS 32

typedef struct {
    const char *url;       /* amqp://[user[:pass]@]host[:port][/vhost] or amqps://; required.
                              A user/password missing from the URL is taken from
                              TRADEBUS_AMQP_USER / TRADEBUS_AMQP_PASSWORD, else guest. */
    const char *run;       /* run name N; NULL = "tradebus" */
    const char *component; /* queue owner; NULL = publish-only (no queue declared) */
    const char *bindings[TB_AMQP_MAX_BINDINGS]; /* topic patterns, e.g. "MarketData.#" */
    size_t nbindings;
    int prefetch;         /* basic.qos; 0 = 1000 */
    int delivery_limit;   /* x-delivery-limit; 0 = 5 */
    int confirm_batch;    /* wait for confirms after this many publishes; 0 = 256 */
    int reconnect_max_ms; /* backoff ceiling; 0 = 2000 */
    int heartbeat_s;      /* AMQP heartbeat; 0 = 10 */
    const char *cacert;   /* amqps: CA file to verify the broker; NULL = system default */
    int insecure_tls;     /* amqps: skip peer verification (tests only) */
} tb_amqp_options;

/* Connects (one connection for publishing, one for consuming), declares the
 * topology above and starts consuming. 0 on success; TB_ECONN if the broker
 * cannot be reached (err says where, never the password), TB_ECONFIG for a bad
 * URL or option, refused credentials or a broker certificate that does not
 * verify, TB_EIO for a declare the broker refused (err has its reply text). The
 * caller frees it with tb_transport_destroy(). */
TB_EXPORT int tb_amqp_transport_create(const tb_amqp_options *o, tb_transport **out, char *err,
                                       size_t errlen);

/* The URL with any password replaced by "***", for logs. */
TB_EXPORT void tb_amqp_url_redact(const char *url, char *out, size_t outlen);

/* Passive look at a queue: messages ready and consumers. 0, TB_ENOTFOUND (no
 * such queue), TB_ECONN. For `tradebus status`. */
TB_EXPORT int tb_amqp_queue_info(const tb_amqp_options *o, const char *queue, long *messages,
                                 long *consumers, char *err, size_t errlen);

/* Reads the messages of a queue without removing them (basic.get, then
 * requeue): fn is called for each, up to max, with m valid during the call
 * (tag and epoch mean nothing here); fn returns 0 to go on, non-zero to
 * stop. For `tradebus dlq list|show`. Returns the number seen, or a negative
 * TB_E* code (TB_ENOTFOUND: no such queue). Each look counts as a delivery
 * (x-delivery-count): do not peek at a queue with a delivery limit. */
typedef int (*tb_amqp_peek_fn)(const tb_msg_in *m, void *ctx);
TB_EXPORT int tb_amqp_queue_peek(const tb_amqp_options *o, const char *queue, size_t max,
                                 tb_amqp_peek_fn fn, void *ctx, char *err, size_t errlen);

/* Moves messages out of queue `from` (those whose message_id equals id, or
 * all when id is NULL): each is republished to queue `to` (NULL: dropped,
 * i.e. purged), confirmed, then acknowledged in `from`; headers are kept
 * (x-death, tb-reason, the routing key) except x-delivery-count. Only the
 * messages there when it starts are looked at. Returns the number moved, or
 * a negative TB_E* code: TB_ENOTFOUND if `from` or `to` does not exist (the
 * message stays in `from`), TB_EINVAL if from == to. For `tradebus dlq
 * replay|purge`. */
TB_EXPORT int tb_amqp_queue_move(const tb_amqp_options *o, const char *from, const char *to,
                                 const char *id, char *err, size_t errlen);

/* Deletes the run's exchanges and the queues of o->component (N.<component>
 * and N.<component>.dlq) with their messages (tests, `tradebus status
 * --reset`). AMQP cannot list queues: with component NULL only the
 * exchanges go, so call it once per component. Deleting what does not exist
 * is not an error. 0 or a negative TB_E* code. */
TB_EXPORT int tb_amqp_delete_run(const tb_amqp_options *o, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
