/* Administration on a short-lived connection of its own, for the CLI and
 * tests: a queue's counts, reading a queue without taking from it, moving
 * or purging messages (dead letters), deleting a run's exchanges and
 * queues. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/errbuf.h"
#include "amqp_int.h"

/* queue_move publishes on its own channel so that confirms cannot be
 * mistaken for the content frames of a basic.get on CHAN. */
#define MOVE_CHAN 2

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
    int rc = tb__amqp_options_check(o, err, errlen);
    if (rc == 0) rc = tb__amqp_names_init(&a->n, o, err, errlen);
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

int tb__amqp_queue_info(const tb_amqp_options *o, const char *queue, long *messages,
                        long *consumers, char *err, size_t errlen)
{
    if (!queue || !*queue) {
        tb__errf(err, errlen, "no queue given, or the same queue twice");
        return TB_EINVAL;
    }
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

int tb__amqp_queue_peek(const tb_amqp_options *o, const char *queue, size_t max,
                        tb_transport_peek_fn fn, void *ctx, char *err, size_t errlen)
{
    if (!queue || !*queue || !fn) {
        tb__errf(err, errlen, "no queue given, or the same queue twice");
        return TB_EINVAL;
    }
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

int tb__amqp_queue_move(const tb_amqp_options *o, const char *from, const char *to, const char *id,
                        char *err, size_t errlen)
{
    if (!from || !*from || (to && (!*to || strcmp(from, to) == 0))) {
        tb__errf(err, errlen, "no queue given, or the same queue twice");
        return TB_EINVAL;
    }
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

int tb__amqp_delete_run(const tb_amqp_options *o, char *err, size_t errlen)
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
