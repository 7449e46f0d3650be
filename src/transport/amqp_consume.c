/* Consuming: turning a delivery into a tb_msg_in, the transport's poll(),
 * ack() and reject(), and the consumer connection's heartbeats while the
 * user only publishes. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "amqp_int.h"

void tb__amqp_copy_bytes(char *dst, size_t cap, amqp_bytes_t b)
{
    size_t n = b.len < cap - 1 ? b.len : cap - 1;
    if (n) memcpy(dst, b.bytes, n);
    dst[n] = '\0';
}

int tb__amqp_bytes_is(amqp_bytes_t b, const char *s)
{
    size_t n = strlen(s);
    return b.len == n && memcmp(b.bytes, s, n) == 0;
}

static int is_string(const amqp_field_value_t *v)
{
    return v->kind == AMQP_FIELD_KIND_UTF8 || v->kind == AMQP_FIELD_KIND_BYTES;
}

/* 1 and *out for any integer kind (the broker sends "long"; be liberal). */
static int field_int(const amqp_field_value_t *v, long *out)
{
    switch (v->kind) {
    case AMQP_FIELD_KIND_I8:
        *out = v->value.i8;
        return 1;
    case AMQP_FIELD_KIND_U8:
        *out = v->value.u8;
        return 1;
    case AMQP_FIELD_KIND_I16:
        *out = v->value.i16;
        return 1;
    case AMQP_FIELD_KIND_U16:
        *out = v->value.u16;
        return 1;
    case AMQP_FIELD_KIND_I32:
        *out = v->value.i32;
        return 1;
    case AMQP_FIELD_KIND_U32:
        *out = (long)v->value.u32;
        return 1;
    case AMQP_FIELD_KIND_I64:
        *out = (long)v->value.i64;
        return 1;
    case AMQP_FIELD_KIND_U64:
        *out = (long)v->value.u64;
        return 1;
    default:
        return 0;
    }
}

static const amqp_field_value_t *table_get(const amqp_table_t *t, const char *key)
{
    for (int i = 0; i < t->num_entries; i++)
        if (tb__amqp_bytes_is(t->entries[i].key, key)) return &t->entries[i].value;
    return NULL;
}

/* ---- incoming messages --------------------------------------------------- */

/* Fills m from a delivery. The logical routing key is, in order: the
 * tb-routing-key header (set when the message was published straight to a
 * queue), the key it had before it was dead-lettered (x-death), the key it
 * was delivered with. */
void tb__amqp_msg_in_fill(tb_msg_in *m, const amqp_basic_properties_t *p, amqp_bytes_t routing_key,
                          amqp_bytes_t body, uint64_t tag, int redelivered, uint32_t epoch)
{
    memset(m, 0, sizeof *m);
    m->tag = tag;
    m->epoch = epoch;
    m->redelivered = redelivered != 0;
    m->body = body.bytes;
    m->len = body.len;
    tb__amqp_copy_bytes(m->routing_key, sizeof m->routing_key, routing_key);
    if (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG)
        tb__amqp_copy_bytes(m->message_id, sizeof m->message_id, p->message_id);
    if (p->_flags & AMQP_BASIC_TYPE_FLAG) tb__amqp_copy_bytes(m->type, sizeof m->type, p->type);
    if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG)) return;

    const amqp_table_t *h = &p->headers;
    const amqp_field_value_t *v;
    int have_rk = 0;
    if ((v = table_get(h, "tb-key")) && is_string(v))
        tb__amqp_copy_bytes(m->key, sizeof m->key, v->value.bytes);
    if ((v = table_get(h, "tb-reason")) && is_string(v))
        tb__amqp_copy_bytes(m->reason, sizeof m->reason, v->value.bytes);
    if ((v = table_get(h, "tb-routing-key")) && is_string(v)) {
        tb__amqp_copy_bytes(m->routing_key, sizeof m->routing_key, v->value.bytes);
        have_rk = 1;
    }
    if ((v = table_get(h, "x-delivery-count"))) field_int(v, &m->delivery_count);
    v = table_get(h, "x-death");
    /* The first x-death entry is the most recent death. */
    if (v && v->kind == AMQP_FIELD_KIND_ARRAY && v->value.array.num_entries > 0 &&
        v->value.array.entries[0].kind == AMQP_FIELD_KIND_TABLE) {
        const amqp_table_t *d = &v->value.array.entries[0].value.table;
        const amqp_field_value_t *f;
        if (!m->reason[0] && (f = table_get(d, "reason")) && is_string(f))
            tb__amqp_copy_bytes(m->reason, sizeof m->reason, f->value.bytes);
        if ((f = table_get(d, "queue")) && is_string(f))
            tb__amqp_copy_bytes(m->death_queue, sizeof m->death_queue, f->value.bytes);
        if ((f = table_get(d, "count"))) field_int(f, &m->death_count);
        if (!have_rk && (f = table_get(d, "routing-keys")) && f->kind == AMQP_FIELD_KIND_ARRAY &&
            f->value.array.num_entries > 0 && is_string(&f->value.array.entries[0]))
            tb__amqp_copy_bytes(m->routing_key, sizeof m->routing_key,
                                f->value.array.entries[0].value.bytes);
    }
}

/* ---- the consumer -------------------------------------------------------- */

void tb__amqp_env_release(tb__amqp_tp *t)
{
    if (t->have_env) {
        amqp_destroy_envelope(&t->env);
        t->have_env = 0;
    }
}

/* The consumer connection is only read in poll(); while the user publishes
 * for a long time without polling, the broker would close it for missed
 * heartbeats. Sending one does not touch the deliveries waiting in it. */
void tb__amqp_con_keepalive(tb__amqp_tp *t)
{
    if (!t->up || !t->con) return;
    int64_t now = tb__amqp_now_ms();
    if (now - t->con_io < tb__amqp_heartbeat_slice(t)) return;
    amqp_frame_t hb;
    memset(&hb, 0, sizeof hb);
    hb.frame_type = AMQP_FRAME_HEARTBEAT;
    hb.channel = 0;
    int st = amqp_send_frame(t->con, &hb);
    if (st != AMQP_STATUS_OK) {
        tb__amqp_lost(t, "consumer connection", st);
        return;
    }
    t->con_io = now;
}

/* A frame amqp_consume_message() would not take: what arrives on a consumer
 * channel besides deliveries. 0 to go on, TB_ECONN if the connection is gone. */
static int con_frame(tb__amqp_tp *t)
{
    amqp_frame_t f;
    int st = amqp_simple_wait_frame(t->con, &f);
    if (st != AMQP_STATUS_OK) {
        tb__amqp_lost(t, "consumer connection", st);
        return TB_ECONN;
    }
    if (f.frame_type != AMQP_FRAME_METHOD) return 0;
    switch (f.payload.method.id) {
    case AMQP_BASIC_CANCEL_METHOD: /* queue deleted under us: redeclare */
        tb__amqp_lost(t, "the broker cancelled the consumer (queue deleted?)", 0);
        return TB_ECONN;
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD:
        return tb__amqp_closed_by_broker(t, t->con, &f, "consumer");
    default:
        return 0;
    }
}

int tb__amqp_poll(tb_transport *base, tb_msg_in *m, int timeout_ms)
{
    tb__amqp_tp *t = (tb__amqp_tp *)base;
    if (!t || !m) return TB_EINVAL;
    if (!t->n.queue[0]) return TB_EMISUSE; /* publish-only: no queue to read */
    tb__amqp_env_release(t);
    int64_t deadline = tb__amqp_deadline_in(timeout_ms);
    for (;;) {
        if (!t->up) {
            int rc = tb__amqp_revive(t, deadline);
            if (rc != 0) return rc;
        }
        int64_t now = tb__amqp_now_ms();
        int64_t every =
            tb__amqp_heartbeat_slice(t) / 2 < 1000 ? tb__amqp_heartbeat_slice(t) / 2 : 1000;
        if (t->outstanding > 0 || now - t->pub_io >= every) {
            tb__amqp_pub_service(t);
            if (!t->up) continue;
        }
        amqp_maybe_release_buffers(t->con);
        /* In slices, so that tb__amqp_pub_service() keeps the publish connection's
         * heartbeats going during a long wait. */
        int64_t slice = now + tb__amqp_heartbeat_slice(t);
        struct timeval tv;
        amqp_rpc_reply_t r = amqp_consume_message(
            t->con, &t->env, tb__amqp_time_left(slice < deadline ? slice : deadline, &tv), 0);
        t->con_io = tb__amqp_now_ms();
        if (r.reply_type == AMQP_RESPONSE_NORMAL) {
            t->have_env = 1;
            tb__amqp_msg_in_fill(m, &t->env.message.properties, t->env.routing_key,
                                 t->env.message.body, t->env.delivery_tag, t->env.redelivered,
                                 t->epoch);
            t->st.delivered++;
            return 0;
        }
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
            if (r.library_error == AMQP_STATUS_TIMEOUT) {
                if (tb__amqp_now_ms() < deadline) continue;
                return TB_ETIMEOUT;
            }
            if (r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
                con_frame(t);
                if (t->up && tb__amqp_now_ms() >= deadline) return TB_ETIMEOUT;
                continue;
            }
        }
        tb__amqp_lost(t, "consuming",
                      r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ? r.library_error : 0);
        if (tb__amqp_now_ms() >= deadline) return TB_ECONN;
    }
}

static int settle_delivery(tb__amqp_tp *t, uint64_t tag, uint32_t epoch, int ack, int requeue)
{
    if (!t) return TB_EINVAL;
    if (!t->n.queue[0]) return TB_EMISUSE;
    if (epoch != t->epoch) return 0; /* stale: the broker redelivers it anyway */
    if (!t->up) return TB_ECONN;
    int st =
        ack ? amqp_basic_ack(t->con, CHAN, tag, 0) : amqp_basic_reject(t->con, CHAN, tag, requeue);
    if (st != AMQP_STATUS_OK) {
        tb__amqp_lost(t, ack ? "ack" : "reject", st);
        return TB_ECONN;
    }
    t->con_io = tb__amqp_now_ms();
    if (ack)
        t->st.acked++;
    else
        t->st.rejected++;
    return 0;
}

int tb__amqp_ack(tb_transport *base, uint64_t tag, uint32_t epoch)
{
    return settle_delivery((tb__amqp_tp *)base, tag, epoch, 1, 0);
}

int tb__amqp_reject(tb_transport *base, uint64_t tag, uint32_t epoch, int requeue)
{
    return settle_delivery((tb__amqp_tp *)base, tag, epoch, 0, requeue);
}
