/* What a node sends: the events its handlers publish (into the outbox,
 * then to the broker with their run key), dead letters to its DLQ, control
 * messages; waiting for confirms; and the one transaction that saves a step
 * before its input is acknowledged. */
#define _POSIX_C_SOURCE 200809L
#include "node_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/errbuf.h"
#include "tradebus/codec.h"

static int owned(const tb_node *n, const char *publisher)
{
    for (int i = 0; i < 2; i++)
        if (n->owned[i] && !strcmp(n->owned[i], publisher)) return 1;
    return 0;
}

static const char *event_symbol(const tb_event *ev)
{
    switch (ev->type) {
    case TB_EV_MARKET_DATA:
        return ev->u.market_data.symbol;
    case TB_EV_SIGNAL_GENERATED:
        return ev->u.signal.symbol;
    case TB_EV_ORDER_PLACEMENT_REQUEST:
        return ev->u.order_request.symbol;
    case TB_EV_ORDER_CREATED:
        return ev->u.order_created.symbol;
    case TB_EV_ORDER_FILLED:
        return ev->u.order_filled.symbol;
    case TB_EV_ORDER_REJECTED:
        return ev->u.order_rejected.symbol;
    case TB_EV_ORDER_CANCELED:
        return ev->u.order_canceled.symbol;
    case TB_EV_POSITION_UPDATE:
        return ev->u.position.symbol;
    case TB_EV_RISK_ALERT:
        return ev->u.risk_alert.symbol;
    default:
        return "";
    }
}

/* ---- what handlers publish -------------------------------------------- */

static int push_out(tb_node *n, const outmsg *m)
{
    outmsg *no = tb__node_room(n->out, n->nout, &n->capout, sizeof(*no));
    if (!no) return TB_ENOMEM;
    n->out = no;
    n->out[n->nout++] = *m;
    return 0;
}

int tb__node_outbox(const tb_event *ev, const char *publisher, void *ctx)
{
    tb_node *n = ctx;
    /* A replica's own publishing (the orders process's Risk Manager) is
     * the RISK process's to send; a re-execution sends nothing. */
    if (n->replaying || !owned(n, publisher)) return 0;
    const char *const *pubs = tb_pipeline_publishers();
    int rank = 0;
    while (pubs[rank] && strcmp(pubs[rank], publisher) != 0)
        rank++;
    outmsg m;
    memset(&m, 0, sizeof(m));
    m.ev = *ev;
    m.keyed = n->in_step;
    if (m.keyed) {
        int rc = tb__key_child(&n->cur, rank, n->child_ix[rank]++, &m.key);
        if (rc) return rc;
        n->counts[ev->type]++;
    }
    return push_out(n, &m);
}

void tb__node_on_dead_letter(const tb_dead_letter *d, void *ctx)
{
    tb_node *n = ctx;
    if (n->replaying || !owned(n, d->subscriber)) return;
    n->dead++;
    if (n->in_oob) {
        n->oob_failed = 1; /* given back to the broker, which counts deliveries */
        n->dead--;
        return;
    }
    outmsg m;
    memset(&m, 0, sizeof(m));
    m.ev = d->event;
    m.dead = 1;
    snprintf(m.reason, sizeof(m.reason), "%s: %s (%s, %d attempts)", d->subscriber, d->reason,
             tb_err_name(d->error), d->attempts);
    if (push_out(n, &m))
        tb__node_logf(n, "dead letter %llu: out of memory", (unsigned long long)m.ev.event_id);
}

/* ---- the broker side ----------------------------------------------------- */

int tb__node_publish_event(tb_node *n, const outmsg *m)
{
    char body[2048], id[32], rk[TB_MSG_KEY_LEN], key[TB_MSG_KEY_LEN], q[160];
    int len = tb_codec_encode(&m->ev, body, sizeof(body));
    if (len < 0) return len;
    snprintf(id, sizeof(id), "%llu", (unsigned long long)m->ev.event_id);
    const char *sym = event_symbol(&m->ev);
    snprintf(rk, sizeof(rk), "%s.%s", tb_event_type_name(m->ev.type), sym[0] ? sym : "-");
    tb_msg_out o = {rk, id, tb_event_type_name(m->ev.type), NULL, NULL, NULL, body, (size_t)len};
    if (m->keyed) {
        int rc = tb__key_format(&m->key, key, sizeof(key));
        if (rc) return rc;
        o.key = key;
    }
    if (m->dead) {
        snprintf(q, sizeof(q), "%s.%s.dlq", n->run, n->name);
        o.queue = q;
        o.reason = m->reason;
    } else if (n->o.on_publish) {
        n->o.on_publish(&m->ev, n->o.on_publish_ctx);
    }
    return tb_transport_publish(n->t, &o);
}

int tb__node_publish_json(tb_node *n, const char *rk, const char *id, const char *type,
                          const char *json)
{
    tb_msg_out o = {rk, id, type, NULL, NULL, NULL, json, strlen(json)};
    return tb_transport_publish(n->t, &o);
}

/* Until everything published is confirmed: a node cannot commit a step
 * whose output the broker might not have. Waits through reconnects. */
int tb__node_flush(tb_node *n, char *err, size_t errlen)
{
    int warned = 0;
    for (;;) {
        int rc = tb_transport_flush(n->t, 1000);
        if (rc == 0) {
            /* mandatory publishing: the broker says what no queue took */
            uint64_t u = n->t->ops->stats(n->t).unroutable;
            if (u > n->unroutable)
                tb__node_logf(
                    n, "%llu message(s) reached no queue (is every process of the run started?)",
                    (unsigned long long)(u - n->unroutable));
            n->unroutable = u;
            return 0;
        }
        if (rc != TB_ETIMEOUT && rc != TB_ECONN) {
            tb__errf(err, errlen, "%s: publishing failed: %s", n->role, tb_strerror(rc));
            return rc;
        }
        if (n->o.stop && *n->o.stop) {
            tb__errf(err, errlen, "%s: stopped while waiting for the broker", n->role);
            return TB_ECONN;
        }
        if (!warned++) tb__node_logf(n, "waiting for the broker to confirm (%s)", tb_strerror(rc));
    }
}

void tb__node_ack_list(tb_node *n)
{
    for (size_t i = 0; i < n->nacks; i++)
        tb_transport_ack(n->t, n->acks[i], n->epoch);
    n->nacks = 0;
}

int tb__node_add_ack(tb_node *n, uint64_t tag)
{
    uint64_t *na = tb__node_room(n->acks, n->nacks, &n->capacks, sizeof(*na));
    if (!na) return TB_ENOMEM;
    n->acks = na;
    n->acks[n->nacks++] = tag;
    return 0;
}

int tb__node_commit(tb_node *n, const item *const *evs, size_t nev, uint64_t counter)
{
    tb__nprogress pg = {n->root, n->depth, n->phase, counter, n->dead};
    int rc = tb__nstate_begin(n->st);
    for (size_t i = 0; !rc && i < nev; i++)
        rc = tb__nstate_add(n->st, evs[i]->key.root == UINT64_MAX ? -1 : (int64_t)evs[i]->key.root,
                            evs[i]->key.depth, evs[i]->id, evs[i]->body, evs[i]->len);
    if (!rc) rc = tb__nstate_set(n->st, &pg);
    if (!rc) rc = tb__nstate_commit(n->st);
    if (rc) tb__nstate_rollback(n->st);
    return rc;
}
int tb__node_publish_outs(tb_node *n)
{
    for (size_t i = 0; i < n->nout; i++) {
        int rc = tb__node_publish_event(n, &n->out[i]);
        if (rc) return rc;
    }
    n->nout = 0;
    return 0;
}
