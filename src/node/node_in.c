/* What a node receives: step reports, the feed's end, results for the
 * monitor, and events, each checked against what was already taken (a
 * redelivery, a resend) before it is buffered for its step or for handling
 * on arrival. */
#define _POSIX_C_SOURCE 200809L
#include "node_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tradebus/codec.h"

void tb__node_drop_item(tb_node *n, size_t i)
{
    free(n->buf[i].body);
    n->buf[i] = n->buf[--n->nbuf];
}

static item *new_item(tb_node *n)
{
    item *nb = tb__node_room(n->buf, n->nbuf, &n->capbuf, sizeof(*nb));
    if (!nb) return NULL;
    n->buf = nb;
    item *it = &n->buf[n->nbuf++];
    memset(it, 0, sizeof(*it));
    return it;
}

/* A buffered item holding a copy of m's body (NUL-terminated). */
static item *new_item_copy(tb_node *n, const tb_msg_in *m, int kind)
{
    char *body = malloc(m->len + 1);
    item *it = body ? new_item(n) : NULL;
    if (!it) {
        free(body);
        return NULL;
    }
    memcpy(body, m->body, m->len);
    body[m->len] = 0;
    it->body = body;
    it->len = m->len;
    it->kind = kind;
    it->tag = m->tag;
    return it;
}

/* 1 if the message may have been handled already and must be looked up.
 * Event ids grow with each publisher's sequence (bus.h), and a queue hands
 * out one publisher's messages in order: an id above the highest this node
 * has taken from that publisher is new. Lower ids (a resend, a redelivery)
 * and ids that are not event ids are looked up in the state. */
static int maybe_seen(tb_node *n, const tb_msg_in *m)
{
    char *end;
    unsigned long long id = strtoull(m->message_id, &end, 10);
    if (*end || !m->message_id[0] || m->redelivered) return 1;
    uint64_t pub = id >> 40;
    for (size_t i = 0; i < n->npubs; i++)
        if (n->pubs[i].pub == pub) {
            if (id <= n->pubs[i].max) return 1;
            n->pubs[i].max = id;
            return 0;
        }
    if (n->npubs == sizeof(n->pubs) / sizeof(n->pubs[0])) return 1;
    n->pubs[n->npubs].pub = pub;
    n->pubs[n->npubs++].max = id;
    /* First sight of this publisher: after a restart it may be a replay. */
    return n->restarted;
}

static int take_now(tb_node *n, const tb_msg_in *m, const tb_event *ev)
{
    int dup = 0;
    if (maybe_seen(n, m)) {
        dup = tb__nstate_handled(n->st, m->message_id);
        for (size_t i = 0; !dup && i < n->nnow; i++)
            dup = !strcmp(n->now[i].id, m->message_id);
    }
    if (dup) return tb_transport_ack(n->t, m->tag, m->epoch);
    item *nn = tb__node_room(n->now, n->nnow, &n->capnow, sizeof(*nn));
    if (!nn) return TB_ENOMEM;
    n->now = nn;
    item *it = &n->now[n->nnow];
    memset(it, 0, sizeof(*it));
    if (!(it->body = malloc(m->len + 1))) return TB_ENOMEM;
    n->nnow++;
    memcpy(it->body, m->body, m->len);
    it->body[m->len] = 0;
    it->len = m->len;
    it->tag = m->tag;
    it->ev = *ev;
    it->key.root = UINT64_MAX;
    it->key.depth = -1;
    snprintf(it->id, sizeof(it->id), "%s", m->message_id);
    return 0;
}
/* ---- receiving ------------------------------------------------------------ */

static int step_before(const tb_node *n, uint64_t root, int depth)
{
    return tb__key_step_cmp(root, depth, n->root, n->depth) < 0;
}

static int take_report(tb_node *n, const tb_msg_in *m)
{
    json_error_t je;
    json_t *o = json_loadb(m->body, m->len, 0, &je);
    json_t *r = json_object_get(o, "root"), *d = json_object_get(o, "depth"),
           *role = json_object_get(o, "role"), *c = json_object_get(o, "counts");
    int proc = json_is_string(role) ? tb__node_proc_index(json_string_value(role)) : -1;
    if (!json_is_integer(r) || !json_is_integer(d) || proc < 0 || !json_is_object(c) ||
        json_integer_value(r) < 0 || json_integer_value(d) < 0 ||
        json_integer_value(d) > TB_KEY_MAX_DEPTH) {
        json_decref(o);
        tb__node_logf(n, "report %s: malformed; given back to the broker", m->message_id);
        return tb_transport_reject(n->t, m->tag, m->epoch, 1);
    }
    uint64_t root = (uint64_t)json_integer_value(r);
    int depth = (int)json_integer_value(d);
    int dup = step_before(n, root, depth);
    for (size_t i = 0; !dup && i < n->nbuf; i++)
        dup = n->buf[i].kind == IT_REPORT && n->buf[i].proc == proc && n->buf[i].key.root == root &&
              n->buf[i].key.depth == depth;
    if (dup) {
        json_decref(o);
        return tb_transport_ack(n->t, m->tag, m->epoch);
    }
    item *it = new_item(n);
    if (!it) {
        json_decref(o);
        return TB_ENOMEM;
    }
    it->kind = IT_REPORT;
    it->tag = m->tag;
    it->proc = proc;
    it->key.root = root;
    it->key.depth = depth;
    const char *k;
    json_t *v;
    json_object_foreach(c, k, v)
    {
        tb_event_type t;
        if (tb_event_type_parse(k, &t) == 0 && json_is_integer(v) && json_integer_value(v) >= 0)
            it->counts[t] = (long)json_integer_value(v);
    }
    json_decref(o);
    return 0;
}

static int take_end(tb_node *n, const tb_msg_in *m)
{
    if (n->have_end) return tb_transport_ack(n->t, m->tag, m->epoch);
    json_t *o = json_loadb(m->body, m->len, 0, NULL);
    json_t *r = json_object_get(o, "roots");
    if (!json_is_integer(r) || json_integer_value(r) < 0) {
        json_decref(o);
        tb__node_logf(n, "end message %s: malformed; given back to the broker", m->message_id);
        return tb_transport_reject(n->t, m->tag, m->epoch, 1);
    }
    n->have_end = 1;
    n->total_roots = (uint64_t)json_integer_value(r);
    n->end_tag = m->tag;
    json_decref(o);
    return 0;
}

static int take_stats(tb_node *n, const tb_msg_in *m)
{
    int dup = strncmp(m->message_id, "stats.", 6) != 0;
    for (size_t i = 0; !dup && i < n->nbuf; i++)
        dup = n->buf[i].kind == IT_STATS && !strcmp(n->buf[i].id, m->message_id);
    if (dup) return tb_transport_ack(n->t, m->tag, m->epoch);
    item *it = new_item_copy(n, m, IT_STATS);
    if (!it) return TB_ENOMEM;
    snprintf(it->id, sizeof(it->id), "%s", m->message_id);
    return 0;
}

static int take_event(tb_node *n, const tb_msg_in *m)
{
    tb_event ev;
    char why[TB_CODEC_ERRLEN] = "";
    if (tb_codec_decode(m->body, m->len, &ev, why, sizeof(why)) != 0) {
        tb__node_logf(n, "message %s (%s): %s (delivery %ld); given back to the broker",
                      m->message_id[0] ? m->message_id : "without id", m->routing_key, why,
                      m->delivery_count + 1);
        return tb_transport_reject(n->t, m->tag, m->epoch, 1);
    }
    if (!m->key[0] || n->stream) return take_now(n, m, &ev);
    tb__key key;
    if (tb__key_parse(m->key, &key) != 0) {
        tb__node_logf(n, "message %s: bad tb-key header '%s'; given back to the broker",
                      m->message_id, m->key);
        return tb_transport_reject(n->t, m->tag, m->epoch, 1);
    }
    int dup = step_before(n, key.root, key.depth) ||
              (n->phase != PH_EVENTS && !tb__key_step_cmp(key.root, key.depth, n->root, n->depth));
    for (size_t i = 0; !dup && i < n->nbuf; i++)
        dup = n->buf[i].kind == IT_EVENT && !strcmp(n->buf[i].id, m->message_id);
    if (dup) return tb_transport_ack(n->t, m->tag, m->epoch);
    item *it = new_item_copy(n, m, IT_EVENT);
    if (!it) return TB_ENOMEM;
    it->key = key;
    it->ev = ev;
    snprintf(it->id, sizeof(it->id), "%s", m->message_id);
    return 0;
}

int tb__node_take(tb_node *n, const tb_msg_in *m)
{
    if (!strcmp(m->routing_key, "ctl.report")) return take_report(n, m);
    if (!strcmp(m->routing_key, "ctl.end")) return take_end(n, m);
    if (!strcmp(m->routing_key, "ctl.stats")) return take_stats(n, m);
    if (!n->p) return tb_transport_ack(n->t, m->tag, m->epoch); /* the feed wants reports only */
    return take_event(n, m);
}
