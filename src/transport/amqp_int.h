/* Private (not installed): what the files of the AMQP transport share.
 *   amqp.c          the transport's life: create, destroy, the failure rule,
 *                   reconnecting with backoff (the design is described there)
 *   amqp_type.c     its entry in the transport registry: [bus] keys to
 *                   options, and the admin ops below behind the interface
 *   amqp_conn.c     broker URL, credentials, TLS, opening and closing one
 *                   connection, RPC errors
 *   amqp_topology.c the run's names, declaring its exchanges and queues
 *   amqp_publish.c  the pending list, sending, publisher confirms, resending
 *   amqp_consume.c  reading deliveries, ack/reject, the consumer's heartbeats
 *   amqp_admin.c    one-shot operations on a connection of their own
 *                   (queue info, peek, move, delete a run)
 * Each file's own helpers stay static in it. */
#ifndef TRADEBUS_AMQP_INT_H
#define TRADEBUS_AMQP_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

#include <amqp.h>

#include "tradebus/amqp.h"

/* A TCP connect to a host that drops SYNs would otherwise take minutes. */
#define CONNECT_MIN_MS 200
#define CONNECT_MAX_MS 5000
#define NAME_MAX_LEN   255 /* AMQP short string */
#define CHAN           1
#define NO_DEADLINE    INT64_MAX

/* ---- time ---------------------------------------------------------------- */

static inline int64_t tb__amqp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* timeout_ms < 0: no deadline (like poll(2)). */
static inline int64_t tb__amqp_deadline_in(int timeout_ms)
{
    return timeout_ms < 0 ? NO_DEADLINE : tb__amqp_now_ms() + timeout_ms;
}

/* The time left until deadline as a timeval (NULL: wait without limit). */
static inline struct timeval *tb__amqp_time_left(int64_t deadline, struct timeval *tv)
{
    if (deadline == NO_DEADLINE) return NULL;
    int64_t left = deadline - tb__amqp_now_ms();
    if (left < 0) left = 0;
    tv->tv_sec = (time_t)(left / 1000);
    tv->tv_usec = (suseconds_t)(left % 1000) * 1000;
    return tv;
}

/* ---- the state ----------------------------------------------------------- */

typedef struct {
    char *buf; /* the URL, parsed in place by amqp_parse_url */
    const char *host, *vhost, *user;
    char *password; /* own copy, wiped on free */
    int port, ssl;
    char *cacert;
    int insecure;
    int heartbeat;
    char where[256]; /* redacted URL for messages */
} tb__amqp_params;

typedef struct {
    char events[NAME_MAX_LEN + 1], dlx[NAME_MAX_LEN + 1];
    char queue[NAME_MAX_LEN + 1], dlq[NAME_MAX_LEN + 1]; /* "" without component */
    char component[NAME_MAX_LEN + 1];
    char run[NAME_MAX_LEN + 1];
} tb__amqp_names;

typedef struct tb__amqp_pmsg tb__amqp_pmsg; /* one unconfirmed message */

typedef struct {
    tb_transport base;
    tb__amqp_params p;
    tb__amqp_names n;
    char *bindings[TB_AMQP_MAX_BINDINGS];
    size_t nbindings;
    int prefetch, delivery_limit, confirm_batch, reconnect_max_ms;

    amqp_connection_state_t pub, con; /* con is NULL for a publish-only transport */
    int up;
    uint32_t epoch;

    /* Pending messages in send order. q[head, sent) went out on the current
     * publish channel, slot i with delivery tag head_tag + (i - head); a slot
     * is NULL once settled. q[sent, len) are not sent yet. */
    tb__amqp_pmsg **q;
    size_t head, sent, len, cap;
    uint64_t head_tag, next_tag;
    size_t outstanding; /* non-NULL slots in [head, sent) */

    int backoff_ms;
    int64_t retry_at;
    uint64_t rng;
    int64_t pub_io, con_io; /* last use of each connection, for heartbeats */

    amqp_envelope_t env; /* the message handed out by the last poll() */
    int have_env;

    tb_transport_stats st;
    char last_err[256];
} tb__amqp_tp;

/* How long one wait may last without starving the other connection of
 * heartbeats (the broker closes a connection after two missed ones). */
static inline int64_t tb__amqp_heartbeat_slice(const tb__amqp_tp *t)
{
    return (int64_t)t->p.heartbeat * 1000 / 2;
}

/* ---- amqp.c: losing and regaining the broker ----------------------------- */

void tb__amqp_lost(tb__amqp_tp *t, const char *what, int status);
int tb__amqp_revive(tb__amqp_tp *t, int64_t deadline);
/* A channel.close or connection.close frame f the broker sent on c (which:
 * "publish" or "consumer"): answered, its text kept, the transport marked
 * lost (a reconnect follows). Returns TB_ECONN. */
int tb__amqp_closed_by_broker(tb__amqp_tp *t, amqp_connection_state_t c, const amqp_frame_t *f,
                              const char *which);
/* 0, or TB_ECONFIG with err filled if a number in o is out of range. */
int tb__amqp_options_check(const tb_amqp_options *o, char *err, size_t errlen);

/* ---- amqp_conn.c: URL, credentials, connections -------------------------- */

/* Fills p from o (URL, credentials, TLS options, heartbeat). 0, TB_ECONFIG
 * with err filled, TB_ENOMEM; on failure p holds nothing to free. */
int tb__amqp_params_init(tb__amqp_params *p, const tb_amqp_options *o, char *err, size_t errlen);
/* Frees p, wiping the password; p is zeroed. */
void tb__amqp_params_free(tb__amqp_params *p);
char *tb__amqp_dupstr(const char *s);

int tb__amqp_rpc_error(amqp_connection_state_t c, amqp_rpc_reply_t r, amqp_channel_t ch,
                       const char *what, char *err, size_t errlen);
/* tb__amqp_rpc_error() on the reply to the last RPC on c. */
int tb__amqp_rpc_check(amqp_connection_state_t c, amqp_channel_t ch, const char *what, char *err,
                       size_t errlen);
int tb__amqp_conn_open(const tb__amqp_params *p, const char *name, int64_t deadline,
                       amqp_connection_state_t *out, char *err, size_t errlen);
void tb__amqp_conn_close(amqp_connection_state_t c, int polite);

/* ---- amqp_topology.c: names and declarations ----------------------------- */

/* The names of o's run and component. 0 or TB_ECONFIG (empty, too long). */
int tb__amqp_names_init(tb__amqp_names *n, const tb_amqp_options *o, char *err, size_t errlen);
int tb__amqp_declare_topology(tb__amqp_tp *t, amqp_connection_state_t c, char *err, size_t errlen);
/* A table entry with a UTF-8 string value; key and val are borrowed. */
amqp_table_entry_t tb__amqp_str_entry(const char *key, const char *val);

/* ---- amqp_publish.c: pending messages and confirms ----------------------- */

/* The transport's publish() and flush() (transport.h). */
int tb__amqp_publish(tb_transport *base, const tb_msg_out *m);
int tb__amqp_flush(tb_transport *base, int timeout_ms);
int tb__amqp_send_unsent(tb__amqp_tp *t);
void tb__amqp_pend_reset_for_resend(tb__amqp_tp *t);
void tb__amqp_pend_free_all(tb__amqp_tp *t);
void tb__amqp_pub_service(tb__amqp_tp *t);

/* ---- amqp_consume.c: deliveries ------------------------------------------ */

/* The transport's poll(), ack() and reject() (transport.h). */
int tb__amqp_poll(tb_transport *base, tb_msg_in *m, int timeout_ms);
int tb__amqp_ack(tb_transport *base, uint64_t tag, uint32_t epoch);
int tb__amqp_reject(tb_transport *base, uint64_t tag, uint32_t epoch, int requeue);
void tb__amqp_con_keepalive(tb__amqp_tp *t);
/* Frees the message the last poll() handed out, if any. */
void tb__amqp_env_release(tb__amqp_tp *t);
void tb__amqp_msg_in_fill(tb_msg_in *m, const amqp_basic_properties_t *p, amqp_bytes_t routing_key,
                          amqp_bytes_t body, uint64_t tag, int redelivered, uint32_t epoch);
/* Copies b into dst as a string, cut to cap - 1 bytes. */
void tb__amqp_copy_bytes(char *dst, size_t cap, amqp_bytes_t b);
/* 1 if b holds exactly the string s. */
int tb__amqp_bytes_is(amqp_bytes_t b, const char *s);

/* ---- amqp_admin.c: one-shot operations on a connection of their own ------
 * For the registry's admin ops (tradebus status, dlq, up) and tests; not
 * part of the public API. */

/* Passive look at a queue: messages ready and consumers. 0, TB_ENOTFOUND (no
 * such queue), TB_ECONN. */
int tb__amqp_queue_info(const tb_amqp_options *o, const char *queue, long *messages,
                        long *consumers, char *err, size_t errlen);
/* Reads the messages of a queue without removing them (basic.get, then
 * requeue): fn is called for each, up to max, with m valid during the call
 * (tag and epoch mean nothing here); fn returns 0 to go on, non-zero to
 * stop. Returns the number seen, or a negative TB_E* code (TB_ENOTFOUND: no
 * such queue). Each look counts as a delivery (x-delivery-count): do not
 * peek at a queue with a delivery limit. */
int tb__amqp_queue_peek(const tb_amqp_options *o, const char *queue, size_t max,
                        tb_transport_peek_fn fn, void *ctx, char *err, size_t errlen);
/* Moves messages out of queue `from` (those whose message_id equals id, or
 * all when id is NULL): each is republished to queue `to` (NULL: dropped,
 * i.e. purged), confirmed, then acknowledged in `from`; headers are kept
 * (x-death, tb-reason, the routing key) except x-delivery-count. Only the
 * messages there when it starts are looked at. Returns the number moved, or
 * a negative TB_E* code: TB_ENOTFOUND if `from` or `to` does not exist (the
 * message stays in `from`), TB_EINVAL if from == to. */
int tb__amqp_queue_move(const tb_amqp_options *o, const char *from, const char *to, const char *id,
                        char *err, size_t errlen);
/* Deletes the run's exchanges and the queues of o->component (N.<component>
 * and N.<component>.dlq) with their messages (tests, `tradebus up`). AMQP
 * cannot list queues: with component NULL only the exchanges go, so call it
 * once per component. Deleting what does not exist is not an error. 0 or a
 * negative TB_E* code. */
int tb__amqp_delete_run(const tb_amqp_options *o, char *err, size_t errlen);

/* ---- amqp_type.c ----------------------------------------------------------- */

/* The registry's "amqp" entry (src/transport/transport.c). */
extern const tb_transport_type tb__amqp_type;

#endif
