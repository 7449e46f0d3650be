/* The AMQP transport: RabbitMQ through librabbitmq 0.11.
 *
 * Two connections per transport. Publishing (with publisher confirms) and
 * consuming share nothing: on one connection, a confirm arriving while
 * amqp_consume_message() waits is an "unexpected state", and a slow consumer
 * would delay the confirms the publisher waits for. Each connection uses one
 * channel, number 1.
 *
 * Every published message is copied into the pending list and kept until the
 * broker acks it, so that a reconnect can resend it; entries are in send
 * order and the n-th entry sent on a channel has delivery tag n, which makes
 * an ack's tag an index (see pend_*). A nack puts the message at the back
 * again. basic.return (mandatory, no queue bound) precedes the ack of the
 * same message: it is counted and the ack then settles the message.
 *
 * Failure handling is one rule: any error on either connection ("lost")
 * closes both and bumps the epoch, so delivery tags of the dead consumer
 * connection become stale at once; flush() and poll() reconnect with
 * exponential backoff and resend what is unconfirmed. Nothing blocks past
 * the caller's timeout except one connection attempt in progress (bounded by
 * CONNECT_MAX_MS / RPC_TIMEOUT_MS). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/errbuf.h"
#include "amqp_int.h"

#define DEFAULT_PREFETCH       1000
#define DEFAULT_DELIVERY_LIMIT 5
#define DEFAULT_CONFIRM_BATCH  256
#define DEFAULT_RECONNECT_MAX  2000
#define BACKOFF_START_MS       50
/* queue_move publishes on its own channel so that confirms cannot be
 * mistaken for the content frames of a basic.get on CHAN. */
#define MOVE_CHAN 2

/* ---- time ---------------------------------------------------------------- */

static void sleep_ms(int64_t ms)
{
    if (ms <= 0) return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- the transport ------------------------------------------------------- */

static int jitter(tb__amqp_tp *t, int ms)
{
    /* xorshift64: only spreads reconnecting clients apart. */
    t->rng ^= t->rng << 13;
    t->rng ^= t->rng >> 7;
    t->rng ^= t->rng << 17;
    return ms / 2 + (int)(t->rng % (uint64_t)(ms / 2 + 1));
}

/* Closes both connections; the next flush()/poll() reconnects after the
 * backoff. The epoch moves now, so tags handed out on the dead consumer
 * connection are stale from this moment. */
void tb__amqp_lost(tb__amqp_tp *t, const char *what, int status)
{
    if (what)
        snprintf(t->last_err, sizeof t->last_err, "%s: %s", what,
                 status ? amqp_error_string2(status) : "connection closed");
    if (!t->up) return;
    tb__amqp_conn_close(t->pub, 0);
    tb__amqp_conn_close(t->con, 0);
    t->pub = t->con = NULL;
    t->up = 0;
    t->epoch++;
    t->backoff_ms = BACKOFF_START_MS;
    t->retry_at = tb__amqp_now_ms() + jitter(t, BACKOFF_START_MS);
}

/* Opens both connections, declares, starts consuming. 0 or a TB_E* code
 * with err filled; on failure nothing stays open. */
static int connect_all(tb__amqp_tp *t, int64_t deadline, char *err, size_t errlen)
{
    char name[2 * NAME_MAX_LEN + 32];
    snprintf(name, sizeof name, "tradebus %s/%s publish", t->n.run,
             t->n.component[0] ? t->n.component : "-");
    int rc = tb__amqp_conn_open(&t->p, name, deadline, &t->pub, err, errlen);
    if (rc != 0) return rc;
    if ((rc = tb__amqp_declare_topology(t, t->pub, err, errlen)) != 0) goto fail;
    amqp_confirm_select(t->pub, CHAN);
    if ((rc = tb__amqp_rpc_check(t->pub, CHAN, "confirm.select", err, errlen)) != 0) goto fail;
    if (t->n.queue[0]) {
        snprintf(name, sizeof name, "tradebus %s/%s consume", t->n.run, t->n.component);
        if ((rc = tb__amqp_conn_open(&t->p, name, deadline, &t->con, err, errlen)) != 0) goto fail;
        amqp_basic_qos(t->con, CHAN, 0, (uint16_t)t->prefetch, 0);
        if ((rc = tb__amqp_rpc_check(t->con, CHAN, "basic.qos", err, errlen)) != 0) goto fail;
        amqp_basic_consume(t->con, CHAN, amqp_cstring_bytes(t->n.queue), amqp_empty_bytes, 0, 0, 0,
                           amqp_empty_table);
        char what[NAME_MAX_LEN + 32];
        snprintf(what, sizeof what, "consuming %s", t->n.queue);
        if ((rc = tb__amqp_rpc_check(t->con, CHAN, what, err, errlen)) != 0) goto fail;
    }
    t->up = 1;
    t->pub_io = t->con_io = tb__amqp_now_ms();
    return 0;
fail:
    tb__amqp_conn_close(t->pub, 0);
    tb__amqp_conn_close(t->con, 0);
    t->pub = t->con = NULL;
    /* A refused declare is a configuration conflict, not a lost broker. */
    return rc == TB_ENOTFOUND ? TB_EIO : rc;
}

/* Reconnects (after the backoff), then resends what is unconfirmed. 0, or
 * TB_ECONN / the last connect error once the deadline has passed. */
int tb__amqp_revive(tb__amqp_tp *t, int64_t deadline)
{
    for (;;) {
        int64_t now = tb__amqp_now_ms();
        if (now < t->retry_at) {
            if (t->retry_at > deadline) {
                sleep_ms(deadline - now); /* the whole timeout, not a busy loop */
                return TB_ECONN;
            }
            sleep_ms(t->retry_at - now);
        }
        char err[sizeof t->last_err];
        int rc = connect_all(t, deadline, err, sizeof err);
        if (rc == 0) {
            t->st.reconnects++;
            t->backoff_ms = BACKOFF_START_MS;
            tb__amqp_pend_reset_for_resend(t);
            if (tb__amqp_send_unsent(t) == 0) return 0;
            continue; /* lost again: back off */
        }
        snprintf(t->last_err, sizeof t->last_err, "%s", err);
        t->retry_at = tb__amqp_now_ms() + jitter(t, t->backoff_ms);
        t->backoff_ms =
            t->backoff_ms >= t->reconnect_max_ms / 2 ? t->reconnect_max_ms : t->backoff_ms * 2;
        if (tb__amqp_now_ms() >= deadline) return rc == TB_EIO || rc == TB_ECONFIG ? rc : TB_ECONN;
    }
}

static uint32_t tp_epoch(tb_transport *base)
{
    return ((tb__amqp_tp *)base)->epoch;
}

static tb_transport_stats tp_stats(const tb_transport *base)
{
    return ((const tb__amqp_tp *)base)->st;
}

static void tp_destroy(tb_transport *base)
{
    tb__amqp_tp *t = (tb__amqp_tp *)base;
    if (!t) return;
    tb__amqp_env_release(t);
    tb__amqp_conn_close(t->con, t->up);
    tb__amqp_conn_close(t->pub, t->up);
    tb__amqp_pend_free_all(t);
    for (size_t i = 0; i < t->nbindings; i++)
        free(t->bindings[i]);
    tb__amqp_params_free(&t->p);
    free(t);
}

static const tb_transport_ops amqp_ops = {
    tb__amqp_publish, tb__amqp_flush, tb__amqp_poll, tb__amqp_ack,
    tb__amqp_reject,  tp_epoch,       tp_stats,      tp_destroy,
};

int tb_amqp_transport_create(const tb_amqp_options *o, tb_transport **out, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!o || !out) return TB_EINVAL;
    *out = NULL;
    if (o->nbindings > TB_AMQP_MAX_BINDINGS || o->prefetch < 0 || o->prefetch > UINT16_MAX ||
        o->delivery_limit < 0 || o->confirm_batch < 0 || o->reconnect_max_ms < 0 ||
        o->heartbeat_s < 0 || o->heartbeat_s > UINT16_MAX) {
        tb__errf(err, errlen, "AMQP option out of range");
        return TB_ECONFIG;
    }
    tb__amqp_tp *t = calloc(1, sizeof *t);
    if (!t) return TB_ENOMEM;
    t->base.ops = &amqp_ops;
    int rc = tb__amqp_names_init(&t->n, o, err, errlen);
    if (rc != 0) goto fail;
    if ((rc = tb__amqp_params_init(&t->p, o, err, errlen)) != 0) goto fail;
    for (size_t i = 0; i < o->nbindings; i++) {
        if (!o->bindings[i] || strlen(o->bindings[i]) > NAME_MAX_LEN) {
            tb__errf(err, errlen, "binding %zu is missing or too long", i);
            rc = TB_ECONFIG;
            goto fail;
        }
        if (!(t->bindings[i] = tb__amqp_dupstr(o->bindings[i]))) {
            rc = TB_ENOMEM;
            goto fail;
        }
        t->nbindings++;
    }
    t->prefetch = o->prefetch ? o->prefetch : DEFAULT_PREFETCH;
    t->delivery_limit = o->delivery_limit ? o->delivery_limit : DEFAULT_DELIVERY_LIMIT;
    t->confirm_batch = o->confirm_batch ? o->confirm_batch : DEFAULT_CONFIRM_BATCH;
    t->reconnect_max_ms = o->reconnect_max_ms ? o->reconnect_max_ms : DEFAULT_RECONNECT_MAX;
    if (t->reconnect_max_ms < BACKOFF_START_MS) t->reconnect_max_ms = BACKOFF_START_MS;
    t->backoff_ms = BACKOFF_START_MS;
    t->rng = (uint64_t)tb__amqp_now_ms() * 0x9E3779B97F4A7C15u ^ (uint64_t)(uintptr_t)t;
    if (!t->rng) t->rng = 1;
    t->head_tag = t->next_tag = 1;
    t->epoch = 1;
    if ((rc = connect_all(t, NO_DEADLINE, err, errlen)) != 0) goto fail;
    *out = &t->base;
    return 0;
fail:
    tp_destroy(&t->base);
    return rc;
}

/* ---- one-shot operations on a short-lived connection -------------------- */

typedef struct {
    tb__amqp_params p;
    tb__amqp_names n;
    amqp_connection_state_t c;
} admin;

static int admin_open(admin *a, const tb_amqp_options *o, const char *what, char *err,
                      size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    memset(a, 0, sizeof *a);
    if (!o) return TB_EINVAL;
    int rc = tb__amqp_names_init(&a->n, o, err, errlen);
    if (rc == 0) rc = tb__amqp_params_init(&a->p, o, err, errlen);
    if (rc != 0) return rc;
    char name[64];
    snprintf(name, sizeof name, "tradebus %s", what);
    rc = tb__amqp_conn_open(&a->p, name, tb__amqp_now_ms() + CONNECT_MAX_MS, &a->c, err, errlen);
    if (rc != 0) tb__amqp_params_free(&a->p);
    return rc;
}

static void admin_close(admin *a, int polite)
{
    tb__amqp_conn_close(a->c, polite);
    tb__amqp_params_free(&a->p);
}

/* After a channel-level error the channel is closed: open it again. */
static int reopen_channel(admin *a, char *err, size_t errlen)
{
    amqp_channel_open(a->c, CHAN);
    return tb__amqp_rpc_check(a->c, CHAN, "channel.open", err, errlen);
}

int tb_amqp_queue_info(const tb_amqp_options *o, const char *queue, long *messages, long *consumers,
                       char *err, size_t errlen)
{
    if (!queue || !*queue) return TB_EINVAL;
    admin a;
    int rc = admin_open(&a, o, "queue info", err, errlen);
    if (rc != 0) return rc;
    amqp_queue_declare_ok_t *ok =
        amqp_queue_declare(a.c, CHAN, amqp_cstring_bytes(queue), 1, 0, 0, 0, amqp_empty_table);
    char what[NAME_MAX_LEN + 32];
    snprintf(what, sizeof what, "queue %s", queue);
    rc = tb__amqp_rpc_check(a.c, CHAN, what, err, errlen);
    if (rc == 0) {
        if (messages) *messages = (long)ok->message_count;
        if (consumers) *consumers = (long)ok->consumer_count;
    }
    admin_close(&a, rc == 0);
    return rc;
}

/* basic.get on CHAN: 1 and *msg (caller destroys it) with the get-ok
 * fields, 0 if the queue is empty, or a negative TB_E* code. */
static int get_one(admin *a, const char *queue, amqp_message_t *msg, uint64_t *tag,
                   int *redelivered, uint32_t *remaining, char *rk, size_t rklen, char *err,
                   size_t errlen)
{
    amqp_rpc_reply_t r = amqp_basic_get(a->c, CHAN, amqp_cstring_bytes(queue), 0);
    char what[NAME_MAX_LEN + 32];
    snprintf(what, sizeof what, "reading queue %s", queue);
    int rc = tb__amqp_rpc_error(a->c, r, CHAN, what, err, errlen);
    if (rc != 0) return rc;
    if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) return 0;
    const amqp_basic_get_ok_t *ok = r.reply.decoded;
    *tag = ok->delivery_tag;
    *redelivered = ok->redelivered;
    *remaining = ok->message_count;
    tb__amqp_copy_bytes(rk, rklen, ok->routing_key);
    r = amqp_read_message(a->c, CHAN, msg, 0);
    if ((rc = tb__amqp_rpc_error(a->c, r, CHAN, what, err, errlen)) != 0) return rc;
    return 1;
}

int tb_amqp_queue_peek(const tb_amqp_options *o, const char *queue, size_t max, tb_amqp_peek_fn fn,
                       void *ctx, char *err, size_t errlen)
{
    if (!queue || !*queue || !fn) return TB_EINVAL;
    admin a;
    int rc = admin_open(&a, o, "queue peek", err, errlen);
    if (rc != 0) return rc;
    size_t seen = 0;
    /* Everything read stays unacknowledged, so basic.get moves on to the
     * next message; closing the connection gives them all back. */
    while (seen < max) {
        amqp_message_t msg;
        uint64_t tag;
        int redelivered;
        char rk[TB_MSG_KEY_LEN];
        uint32_t remaining;
        rc = get_one(&a, queue, &msg, &tag, &redelivered, &remaining, rk, sizeof rk, err, errlen);
        if (rc <= 0) break;
        tb_msg_in m;
        tb__amqp_msg_in_fill(&m, &msg.properties, amqp_cstring_bytes(rk), msg.body, tag,
                             redelivered, 0);
        seen++;
        int stop = fn(&m, ctx);
        amqp_destroy_message(&msg);
        rc = 0;
        if (stop) break;
    }
    amqp_maybe_release_buffers(a.c);
    admin_close(&a, rc == 0);
    return rc < 0 ? rc : (int)(seen > INT32_MAX ? INT32_MAX : seen);
}

/* Publishes msg to queue `to` on MOVE_CHAN and waits for its confirm.
 * 0, TB_ENOTFOUND (no such queue: returned), or another TB_E* code. */
static int move_publish(admin *a, const amqp_message_t *msg, const tb_msg_in *in, const char *to,
                        char *err, size_t errlen)
{
    amqp_basic_properties_t props = msg->properties;
    const amqp_table_t *h = (props._flags & AMQP_BASIC_HEADERS_FLAG) ? &props.headers : NULL;
    int n = h ? h->num_entries : 0;
    amqp_table_entry_t *e = malloc(((size_t)n + 1) * sizeof *e);
    if (!e) return TB_ENOMEM;
    int w = 0;
    /* The broker's delivery count belongs to the old queue; the logical
     * routing key has to survive the default exchange. */
    for (int i = 0; i < n; i++)
        if (!tb__amqp_bytes_is(h->entries[i].key, "x-delivery-count") &&
            !tb__amqp_bytes_is(h->entries[i].key, "tb-routing-key"))
            e[w++] = h->entries[i];
    e[w++] = tb__amqp_str_entry("tb-routing-key", in->routing_key);
    props._flags |= AMQP_BASIC_HEADERS_FLAG;
    props.headers.num_entries = w;
    props.headers.entries = e;
    int st = amqp_basic_publish(a->c, MOVE_CHAN, amqp_empty_bytes, amqp_cstring_bytes(to), 1, 0,
                                &props, msg->body);
    free(e);
    if (st != AMQP_STATUS_OK) {
        tb__errf(err, errlen, "publishing to %s: %s", to, amqp_error_string2(st));
        return TB_ECONN;
    }
    int returned = 0;
    for (;;) {
        amqp_frame_t f;
        /* Nothing else can arrive meanwhile: channel CHAN only answers. */
        st = amqp_simple_wait_frame(a->c, &f);
        if (st != AMQP_STATUS_OK) {
            tb__errf(err, errlen, "waiting for the confirm from %s: %s", to,
                     amqp_error_string2(st));
            return TB_ECONN;
        }
        if (f.frame_type != AMQP_FRAME_METHOD || (f.channel != MOVE_CHAN && f.channel != 0))
            continue;
        amqp_method_number_t id = f.payload.method.id;
        if (id == AMQP_BASIC_RETURN_METHOD) {
            amqp_message_t ret;
            amqp_rpc_reply_t r = amqp_read_message(a->c, MOVE_CHAN, &ret, 0);
            if (r.reply_type != AMQP_RESPONSE_NORMAL)
                return tb__amqp_rpc_error(a->c, r, 0, "move", err, errlen);
            amqp_destroy_message(&ret);
            returned = 1;
        } else if (id == AMQP_BASIC_ACK_METHOD) {
            if (!returned) return 0;
            tb__errf(err, errlen, "no queue named %s", to);
            return TB_ENOTFOUND;
        } else if (id == AMQP_BASIC_NACK_METHOD) {
            tb__errf(err, errlen, "the broker refused the message for %s", to);
            return TB_EIO;
        } else if (id == AMQP_CHANNEL_CLOSE_METHOD || id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_rpc_reply_t r;
            r.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
            r.reply = f.payload.method;
            r.library_error = 0;
            return tb__amqp_rpc_error(a->c, r, MOVE_CHAN, "publishing", err, errlen);
        }
    }
}

int tb_amqp_queue_move(const tb_amqp_options *o, const char *from, const char *to, const char *id,
                       char *err, size_t errlen)
{
    if (!from || !*from || (to && (!*to || strcmp(from, to) == 0))) return TB_EINVAL;
    admin a;
    int rc = admin_open(&a, o, "queue move", err, errlen);
    if (rc != 0) return rc;
    if (to) {
        amqp_channel_open(a.c, MOVE_CHAN);
        rc = tb__amqp_rpc_check(a.c, MOVE_CHAN, "channel.open", err, errlen);
        if (rc == 0) {
            amqp_confirm_select(a.c, MOVE_CHAN);
            rc = tb__amqp_rpc_check(a.c, MOVE_CHAN, "confirm.select", err, errlen);
        }
        if (rc != 0) {
            admin_close(&a, 0);
            return rc;
        }
    }
    long moved = 0;
    /* Messages that do not match stay unacknowledged until the connection
     * closes, so that basic.get does not hand them out again; and no more
     * than were there at the start are looked at, so a queue someone keeps
     * filling still ends. */
    for (uint64_t left = UINT64_MAX; left > 0; left--) {
        amqp_message_t msg;
        uint64_t tag;
        int redelivered;
        uint32_t remaining;
        char rk[TB_MSG_KEY_LEN];
        rc = get_one(&a, from, &msg, &tag, &redelivered, &remaining, rk, sizeof rk, err, errlen);
        if (rc <= 0) break;
        if (left == UINT64_MAX) left = (uint64_t)remaining + 1;
        tb_msg_in m;
        tb__amqp_msg_in_fill(&m, &msg.properties, amqp_cstring_bytes(rk), msg.body, tag,
                             redelivered, 0);
        rc = 0;
        if (!id || strcmp(m.message_id, id) == 0) {
            if (to) rc = move_publish(&a, &msg, &m, to, err, errlen);
            if (rc == 0 && amqp_basic_ack(a.c, CHAN, tag, 0) != AMQP_STATUS_OK) {
                tb__errf(err, errlen, "acknowledging in %s: connection lost", from);
                rc = TB_ECONN;
            }
            if (rc == 0) moved++;
        }
        amqp_destroy_message(&msg);
        amqp_maybe_release_buffers(a.c);
        if (rc != 0) break;
    }
    admin_close(&a, rc == 0);
    if (rc < 0) return rc;
    return moved > INT32_MAX ? INT32_MAX : (int)moved;
}

int tb_amqp_delete_run(const tb_amqp_options *o, char *err, size_t errlen)
{
    admin a;
    int rc = admin_open(&a, o, "delete run", err, errlen);
    if (rc != 0) return rc;
    const char *queues[2] = {a.n.queue, a.n.dlq};
    char what[NAME_MAX_LEN + 32];
    for (int i = 0; i < 2 && rc == 0; i++) {
        if (!queues[i][0]) continue;
        amqp_queue_delete(a.c, CHAN, amqp_cstring_bytes(queues[i]), 0, 0);
        snprintf(what, sizeof what, "deleting queue %s", queues[i]);
        rc = tb__amqp_rpc_check(a.c, CHAN, what, err, errlen);
        if (rc == TB_ENOTFOUND) rc = reopen_channel(&a, err, errlen); /* gone already */
    }
    const char *exchanges[2] = {a.n.events, a.n.dlx};
    for (int i = 0; i < 2 && rc == 0; i++) {
        amqp_exchange_delete(a.c, CHAN, amqp_cstring_bytes(exchanges[i]), 0);
        snprintf(what, sizeof what, "deleting exchange %s", exchanges[i]);
        rc = tb__amqp_rpc_check(a.c, CHAN, what, err, errlen);
        if (rc == TB_ENOTFOUND) rc = reopen_channel(&a, err, errlen);
    }
    admin_close(&a, rc == 0);
    return rc;
}
