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
 * an ack's tag an index (see pend_* in amqp_publish.c). A nack puts the
 * message at the back again. basic.return (mandatory, no queue bound)
 * precedes the ack of the same message: it is counted and the ack then
 * settles the message.
 *
 * Failure handling is one rule: any error on either connection ("lost")
 * closes both and bumps the epoch, so delivery tags of the dead consumer
 * connection become stale at once; flush() and poll() reconnect with
 * exponential backoff and resend what is unconfirmed. Nothing blocks past
 * the caller's timeout except one connection attempt in progress (bounded by
 * CONNECT_MAX_MS / RPC_TIMEOUT_MS).
 *
 * This file holds the transport object (create, destroy) and that rule:
 * losing the broker and regaining it. amqp_int.h says where the rest is. */
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

static void sleep_ms(int64_t ms)
{
    if (ms <= 0) return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

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

int tb__amqp_closed_by_broker(tb__amqp_tp *t, amqp_connection_state_t c, const amqp_frame_t *f,
                              const char *which)
{
    if (f->payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const amqp_channel_close_t *m = f->payload.method.decoded;
        snprintf(t->last_err, sizeof t->last_err, "broker closed the %s channel: %.*s", which,
                 (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        amqp_channel_close_ok_t ok = {0};
        amqp_send_method(c, f->channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
    } else {
        const amqp_connection_close_t *m = f->payload.method.decoded;
        snprintf(t->last_err, sizeof t->last_err, "broker closed the connection: %.*s",
                 (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        amqp_connection_close_ok_t ok = {0};
        amqp_send_method(c, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    }
    tb__amqp_lost(t, NULL, 0);
    return TB_ECONN;
}

int tb__amqp_options_check(const tb_amqp_options *o, char *err, size_t errlen)
{
    if (o->nbindings > TB_AMQP_MAX_BINDINGS || o->prefetch < 0 || o->prefetch > UINT16_MAX ||
        o->delivery_limit < 0 || o->confirm_batch < 0 || o->reconnect_max_ms < 0 ||
        o->heartbeat_s < 0 || o->heartbeat_s > UINT16_MAX) {
        tb__errf(err, errlen, "AMQP option out of range");
        return TB_ECONFIG;
    }
    return 0;
}

int tb_amqp_transport_create(const tb_amqp_options *o, tb_transport **out, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!o || !out) return TB_EINVAL;
    *out = NULL;
    int rc = tb__amqp_options_check(o, err, errlen);
    if (rc != 0) return rc;
    tb__amqp_tp *t = calloc(1, sizeof *t);
    if (!t) return TB_ENOMEM;
    t->base.ops = &amqp_ops;
    if ((rc = tb__amqp_names_init(&t->n, o, err, errlen)) != 0) goto fail;
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
