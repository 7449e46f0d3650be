/* Publishing: the pending list of unconfirmed messages, sending, publisher
 * confirms (ack, nack, basic.return) and resending after a reconnect; the
 * transport's publish() and flush(). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp_int.h"

#define CONTENT_TYPE "application/json"

/* One unconfirmed message: a single allocation, strings and body inline. */
struct tb__amqp_pmsg {
    const char *routing_key, *message_id, *type, *key, *reason, *queue; /* NULL if absent */
    const void *body;
    size_t len;
    int sent_before; /* sent on an earlier connection: a resend counts in stats */
};

/* Length of s cut to at most max bytes without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max) return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

void tb__amqp_pend_free_all(tb__amqp_tp *t)
{
    for (size_t i = t->head; i < t->len; i++)
        free(t->q[i]);
    free(t->q);
    t->q = NULL;
    t->head = t->sent = t->len = t->cap = 0;
    t->outstanding = 0;
}

/* Room for k more entries at the back: slides the live part to the front
 * before growing, so a steady flow reuses the same array. Indexes into q
 * (head, sent, len) may move. */
static int pend_room(tb__amqp_tp *t, size_t k)
{
    if (t->len + k <= t->cap) return 0;
    if (t->head > 0) {
        memmove(t->q, t->q + t->head, (t->len - t->head) * sizeof *t->q);
        t->sent -= t->head;
        t->len -= t->head;
        t->head = 0;
        if (t->len + k <= t->cap) return 0;
    }
    size_t cap = t->cap ? t->cap * 2 : 64;
    while (cap < t->len + k)
        cap *= 2;
    tb__amqp_pmsg **q = realloc(t->q, cap * sizeof *q);
    if (!q) return TB_ENOMEM;
    t->q = q;
    t->cap = cap;
    return 0;
}

/* Drops settled slots from the front. */
static void pend_advance(tb__amqp_tp *t)
{
    while (t->head < t->sent && t->q[t->head] == NULL) {
        t->head++;
        t->head_tag++;
    }
    if (t->head == t->len) {
        t->head = t->sent = t->len = 0;
    }
}

/* After a reconnect: the live entries, in order, all unsent again. */
void tb__amqp_pend_reset_for_resend(tb__amqp_tp *t)
{
    size_t w = 0;
    for (size_t i = t->head; i < t->len; i++) {
        if (!t->q[i]) continue;
        if (i < t->sent) t->q[i]->sent_before = 1;
        t->q[w++] = t->q[i];
    }
    t->head = t->sent = 0;
    t->len = w;
    t->outstanding = 0;
    t->head_tag = t->next_tag = 1;
}

static tb__amqp_pmsg *pmsg_copy(const tb_msg_out *m)
{
    const char *s[6] = {m->routing_key, m->message_id, m->type, m->key, m->reason, m->queue};
    size_t l[6], total = sizeof(tb__amqp_pmsg) + m->len;
    for (int i = 0; i < 6; i++) {
        /* The reason is diagnostic text: cut it to what a receiver keeps
         * rather than refuse the message. */
        l[i] = !s[i] ? 0 : i == 4 ? utf8_cut(s[i], TB_MSG_REASON_LEN - 1) : strlen(s[i]);
        total += s[i] ? l[i] + 1 : 0;
    }
    tb__amqp_pmsg *p = malloc(total);
    if (!p) return NULL;
    char *w = (char *)(p + 1);
    const char **dst[6] = {&p->routing_key, &p->message_id, &p->type,
                           &p->key,         &p->reason,     &p->queue};
    for (int i = 0; i < 6; i++) {
        *dst[i] = NULL;
        if (!s[i]) continue;
        memcpy(w, s[i], l[i]);
        w[l[i]] = '\0';
        *dst[i] = w;
        w += l[i] + 1;
    }
    if (m->len) memcpy(w, m->body, m->len);
    p->body = w;
    p->len = m->len;
    p->sent_before = 0;
    return p;
}

static int send_one(tb__amqp_tp *t, const tb__amqp_pmsg *m)
{
    amqp_basic_properties_t props;
    amqp_table_entry_t h[3];
    int nh = 0;
    props._flags =
        AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
    props.content_type = amqp_cstring_bytes(CONTENT_TYPE);
    props.delivery_mode = 2; /* persistent */
    props.message_id = amqp_cstring_bytes(m->message_id);
    if (m->type) {
        props._flags |= AMQP_BASIC_TYPE_FLAG;
        props.type = amqp_cstring_bytes(m->type);
    }
    const char *hk[3] = {"tb-key", "tb-reason", "tb-routing-key"};
    const char *hv[3] = {m->key, m->reason, m->queue ? m->routing_key : NULL};
    for (int i = 0; i < 3; i++) {
        if (!hv[i]) continue;
        h[nh].key = amqp_cstring_bytes(hk[i]);
        h[nh].value.kind = AMQP_FIELD_KIND_UTF8;
        h[nh].value.value.bytes = amqp_cstring_bytes(hv[i]);
        nh++;
    }
    if (nh) {
        props._flags |= AMQP_BASIC_HEADERS_FLAG;
        props.headers.num_entries = nh;
        props.headers.entries = h;
    }
    amqp_bytes_t body = {m->len, (void *)m->body};
    const char *exchange = m->queue ? "" : t->n.events;
    const char *rk = m->queue ? m->queue : m->routing_key;
    return amqp_basic_publish(t->pub, CHAN, amqp_cstring_bytes(exchange), amqp_cstring_bytes(rk), 1,
                              0, &props, body);
}

/* Sends everything not yet sent on this connection. 0 or TB_ECONN (lost). */
int tb__amqp_send_unsent(tb__amqp_tp *t)
{
    while (t->up && t->sent < t->len) {
        tb__amqp_pmsg *m = t->q[t->sent];
        int st = send_one(t, m);
        if (st != AMQP_STATUS_OK) {
            tb__amqp_lost(t, "publish", st);
            return TB_ECONN;
        }
        if (m->sent_before) {
            t->st.resent++;
            m->sent_before = 0;
        }
        if (t->sent == t->head) t->head_tag = t->next_tag;
        t->sent++;
        t->next_tag++;
        t->outstanding++;
    }
    t->pub_io = tb__amqp_now_ms();
    return t->up ? 0 : TB_ECONN;
}

/* Settles the confirmed (ack) or refused (nack: back of the queue, to be
 * sent again) messages with delivery tag `tag`, or all up to it when
 * multiple. */
static int settle(tb__amqp_tp *t, uint64_t tag, int multiple, int ack)
{
    if (t->head >= t->sent || tag < t->head_tag) return 0; /* already settled */
    uint64_t last = tag - t->head_tag;
    if (last >= t->sent - t->head) return 0; /* not ours: ignore rather than trust */
    /* Room first, so that a refused message is never out of the list: out
     * of memory, a reconnect resends all that is unconfirmed instead. */
    if (!ack && pend_room(t, (size_t)(multiple ? last + 1 : 1)) != 0) {
        tb__amqp_lost(t, "nack", AMQP_STATUS_NO_MEMORY);
        return TB_ECONN;
    }
    size_t lo = multiple ? t->head : t->head + (size_t)last, hi = t->head + (size_t)last;
    for (size_t i = lo; i <= hi; i++) {
        tb__amqp_pmsg *m = t->q[i];
        if (!m) continue;
        t->q[i] = NULL;
        t->outstanding--;
        if (ack) {
            t->st.confirmed++;
            free(m);
        } else {
            t->st.nacked++;
            t->q[t->len++] = m; /* past `sent`: unsent again */
        }
    }
    pend_advance(t);
    return 0;
}

/* Handles one frame read on the publish connection. 0 or TB_ECONN (lost). */
static int pub_frame(tb__amqp_tp *t, const amqp_frame_t *f)
{
    if (f->frame_type != AMQP_FRAME_METHOD) return 0;
    switch (f->payload.method.id) {
    case AMQP_BASIC_ACK_METHOD: {
        const amqp_basic_ack_t *a = f->payload.method.decoded;
        settle(t, a->delivery_tag, a->multiple, 1);
        return 0;
    }
    case AMQP_BASIC_NACK_METHOD: {
        const amqp_basic_nack_t *a = f->payload.method.decoded;
        int rc = settle(t, a->delivery_tag, a->multiple, 0);
        if (rc != 0) return rc;
        return tb__amqp_send_unsent(t);
    }
    case AMQP_BASIC_RETURN_METHOD: {
        /* No queue took it. Its content frames follow: read and drop them;
         * the ack that comes next settles it. */
        amqp_message_t msg;
        amqp_rpc_reply_t r = amqp_read_message(t->pub, f->channel, &msg, 0);
        if (r.reply_type != AMQP_RESPONSE_NORMAL) {
            tb__amqp_lost(t, "reading a returned message", r.library_error);
            return TB_ECONN;
        }
        amqp_destroy_message(&msg);
        t->st.unroutable++;
        return 0;
    }
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD:
        return tb__amqp_closed_by_broker(t, t->pub, f, "publish");
    default:
        return 0;
    }
}

/* Reads confirms until at most `target` messages are outstanding. 0,
 * TB_ETIMEOUT (deadline passed), TB_ECONN (lost). A deadline in the past
 * still reads what has already arrived. */
static int pub_pump(tb__amqp_tp *t, size_t target, int64_t deadline)
{
    int rc = 0;
    while (t->up && t->outstanding > target) {
        amqp_frame_t f;
        struct timeval tv;
        int st = amqp_simple_wait_frame_noblock(t->pub, &f, tb__amqp_time_left(deadline, &tv));
        if (st == AMQP_STATUS_TIMEOUT) {
            rc = TB_ETIMEOUT;
            break;
        }
        if (st != AMQP_STATUS_OK) {
            tb__amqp_lost(t, "waiting for confirms", st);
            return TB_ECONN;
        }
        if ((rc = pub_frame(t, &f)) != 0) return rc;
    }
    if (!t->up) return TB_ECONN;
    t->pub_io = tb__amqp_now_ms();
    amqp_maybe_release_buffers(t->pub);
    return rc;
}

/* Reads whatever the publish connection has (confirms, returns, a close)
 * without waiting, which also sends its heartbeat when due. */
void tb__amqp_pub_service(tb__amqp_tp *t)
{
    for (int i = 0; t->up && i < 1024; i++) {
        amqp_frame_t f;
        struct timeval tv = {0, 0};
        int st = amqp_simple_wait_frame_noblock(t->pub, &f, &tv);
        if (st == AMQP_STATUS_TIMEOUT) break;
        if (st != AMQP_STATUS_OK) {
            tb__amqp_lost(t, "publish connection", st);
            return;
        }
        if (pub_frame(t, &f) != 0) return;
    }
    if (!t->up) return;
    t->pub_io = tb__amqp_now_ms();
    amqp_maybe_release_buffers(t->pub);
}

int tb__amqp_publish(tb_transport *base, const tb_msg_out *m)
{
    tb__amqp_tp *t = (tb__amqp_tp *)base;
    if (!t || !m) return TB_EINVAL;
    if (!m->routing_key || !*m->routing_key || strlen(m->routing_key) >= TB_MSG_KEY_LEN ||
        !m->message_id || !*m->message_id || strlen(m->message_id) >= TB_MSG_ID_LEN ||
        (m->type && strlen(m->type) >= TB_MSG_TYPE_LEN) ||
        (m->key && strlen(m->key) >= TB_MSG_KEY_LEN) ||
        (m->queue && (!*m->queue || strlen(m->queue) > NAME_MAX_LEN)) || (!m->body && m->len))
        return TB_EINVAL;
    if (pend_room(t, 1) != 0) return TB_ENOMEM;
    tb__amqp_pmsg *p = pmsg_copy(m);
    if (!p) return TB_ENOMEM;
    t->q[t->len++] = p;
    t->st.published++;
    if (!t->up) return 0; /* kept; flush() reconnects and sends it */
    if (tb__amqp_send_unsent(t) != 0) return 0;
    if (t->outstanding >= (size_t)t->confirm_batch) {
        /* Bounded memory while the broker keeps up; a broker that stops
         * confirming is flush()'s business, not a reason to block here. */
        pub_pump(t, 0, tb__amqp_now_ms() + tb__amqp_heartbeat_slice(t));
    }
    tb__amqp_con_keepalive(t);
    return 0;
}

int tb__amqp_flush(tb_transport *base, int timeout_ms)
{
    tb__amqp_tp *t = (tb__amqp_tp *)base;
    if (!t) return TB_EINVAL;
    int64_t deadline = tb__amqp_deadline_in(timeout_ms);
    for (;;) {
        if (t->len == t->head) return 0; /* nothing unconfirmed */
        if (!t->up) {
            int rc = tb__amqp_revive(t, deadline);
            if (rc != 0) return rc;
        }
        if (tb__amqp_send_unsent(t) != 0) continue;
        /* In slices, to keep the consumer connection's heartbeats going. */
        int64_t slice = tb__amqp_now_ms() + tb__amqp_heartbeat_slice(t);
        int rc = pub_pump(t, 0, slice < deadline ? slice : deadline);
        tb__amqp_con_keepalive(t);
        if (rc == 0 || (rc == TB_ETIMEOUT && tb__amqp_now_ms() < deadline)) continue;
        if (rc == TB_ETIMEOUT) return rc;
        if (tb__amqp_now_ms() >= deadline) return TB_ECONN;
    }
}
