/* One process of a distributed run: its components, its queue, its state,
 * and the step protocol that keeps the run's order the embedded run's
 * (tradebus/node.h explains the protocol). */
#define _POSIX_C_SOURCE 200809L
#include "tradebus/node.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../core/errbuf.h"
#include "key.h"
#include "nstate.h"
#include "stats.h"
#include "tradebus/codec.h"
#include "tradebus/marketdata.h"

enum { PH_EVENTS = 0, PH_REPORTS = 1, PH_DONE = 2 };
enum { IT_EVENT, IT_REPORT, IT_END, IT_STATS };

/* The components that report on every step, in a fixed order. */
static const char *const procs[] = {"signal", "orders", "positions", "risk", "monitor", NULL};
#define NPROCS 5
static const char *const all_roles[] = {"signal",  "orders", "positions", "risk",
                                        "monitor", "feed",   NULL};

typedef struct {
    int kind;
    uint64_t tag;
    tb__key key; /* events; reports and others use root/depth */
    int proc;    /* reports: index in procs; stats: index in all_roles */
    long counts[TB_EV_COUNT];
    tb_event ev;
    char id[TB_MSG_ID_LEN];
    char *body; /* events: codec JSON (for the state log); stats: the JSON */
    size_t len;
} item;

typedef struct {
    tb_event ev;
    tb__key key;
    int keyed;
    char reason[TB_MSG_REASON_LEN]; /* dead letters only */
    int dead;
} outmsg;

struct tb_node {
    const tb_config *cfg;
    tb_node_options o;
    char *out_dir;
    char role[16];
    char name[TB_NODE_NAME_LEN]; /* the process: the role, or "signal-2" for a shard */
    int shard;                   /* 1-based signal shard, 0 = none */
    int role_ix;                 /* in all_roles */
    const char *owned[2];
    char run[64];
    tb_pipeline *p;
    FILE *events_f, *fills_f;
    tb_transport *t;
    uint32_t epoch;
    tb__nstate *st;

    char *bind[TB_AMQP_MAX_BINDINGS];
    size_t nbind;
    int binds[TB_EV_COUNT]; /* 1 if the queue gets events of that type */

    /* the step protocol */
    uint64_t root;
    int depth, phase;
    long expected;
    int have_end;
    uint64_t total_roots;
    uint64_t end_tag;
    item *buf;
    size_t nbuf, capbuf;
    uint64_t *acks; /* to acknowledge after the next commit */
    size_t nacks, capacks;

    /* handling one event */
    tb__key cur;
    int in_step, in_oob, oob_failed, replaying;
    item *now; /* events to handle on arrival (run_now) */
    size_t nnow, capnow;
    int stream;               /* [bus] order = stream */
    uint64_t stream_bars;     /* stream order: market data handled */
    struct timespec last_msg; /* stream order: when the last message came */
    struct {
        uint64_t pub, max;
    } pubs[32]; /* highest event id taken per publisher (maybe_seen) */
    size_t npubs;
    int restarted;       /* the state file held a run */
    uint64_t unroutable; /* the transport's count, last seen */
    int child_ix[16];
    outmsg *out;
    size_t nout, capout;
    long counts[TB_EV_COUNT];
    uint64_t dead;

    /* feed */
    tb_md_merge *md;
    uint64_t published;
    int eof, end_sent;
    uint16_t node_id;

    /* monitor */
    tb_backtest_result res;
    int have_res;
    int resend; /* restarted after the end: send the result again */
};

static void logf_(tb_node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(tb_node *n, const char *fmt, ...)
{
    if (!n->o.log) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    n->o.log(line, n->o.log_ctx);
}

const char *const *tb_node_roles(void)
{
    return all_roles;
}

/* "signal" or, for shard k, "signal-k". */
static void process_name(const char *role, int shard, char *out, size_t len)
{
    if (shard)
        snprintf(out, len, "%s-%d", role, shard);
    else
        snprintf(out, len, "%s", role);
}

size_t tb_node_processes(const tb_config *cfg, char names[][TB_NODE_NAME_LEN], size_t max)
{
    size_t n = 0;
    for (int i = 0; all_roles[i]; i++) {
        int shards = !strcmp(all_roles[i], "signal") ? (int)cfg->bus_nshards : 0;
        for (int k = shards ? 1 : 0; k <= shards && n < max; k++)
            process_name(all_roles[i], k, names[n++], TB_NODE_NAME_LEN);
    }
    return n;
}

static int proc_index(const char *role)
{
    for (int i = 0; procs[i]; i++)
        if (!strcmp(procs[i], role)) return i;
    return -1;
}

static int role_index(const char *role)
{
    for (int i = 0; all_roles[i]; i++)
        if (!strcmp(all_roles[i], role)) return i;
    return -1;
}

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
    if (n->nout == n->capout) {
        size_t nc = n->capout ? n->capout * 2 : 64;
        outmsg *no = realloc(n->out, nc * sizeof(*no));
        if (!no) return TB_ENOMEM;
        n->out = no;
        n->capout = nc;
    }
    n->out[n->nout++] = *m;
    return 0;
}

static int outbox(const tb_event *ev, const char *publisher, void *ctx)
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

static void on_dead_letter(const tb_dead_letter *d, void *ctx)
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
        logf_(n, "dead letter %llu: out of memory", (unsigned long long)m.ev.event_id);
}

/* ---- the broker side ----------------------------------------------------- */

static int publish_event(tb_node *n, const outmsg *m)
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

static int publish_json(tb_node *n, const char *rk, const char *id, const char *type,
                        const char *json)
{
    tb_msg_out o = {rk, id, type, NULL, NULL, NULL, json, strlen(json)};
    return tb_transport_publish(n->t, &o);
}

/* Until everything published is confirmed: a node cannot commit a step
 * whose output the broker might not have. Waits through reconnects. */
static int flush_all(tb_node *n, char *err, size_t errlen)
{
    int warned = 0;
    for (;;) {
        int rc = tb_transport_flush(n->t, 1000);
        if (rc == 0) {
            /* mandatory publishing: the broker says what no queue took */
            uint64_t u = n->t->ops->stats(n->t).unroutable;
            if (u > n->unroutable)
                logf_(n, "%llu message(s) reached no queue (is every process of the run started?)",
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
        if (!warned++) logf_(n, "waiting for the broker to confirm (%s)", tb_strerror(rc));
    }
}

static void ack_list(tb_node *n)
{
    for (size_t i = 0; i < n->nacks; i++)
        tb_transport_ack(n->t, n->acks[i], n->epoch);
    n->nacks = 0;
}

static int add_ack(tb_node *n, uint64_t tag)
{
    if (n->nacks == n->capacks) {
        size_t nc = n->capacks ? n->capacks * 2 : 64;
        uint64_t *na = realloc(n->acks, nc * sizeof(*na));
        if (!na) return TB_ENOMEM;
        n->acks = na;
        n->capacks = nc;
    }
    n->acks[n->nacks++] = tag;
    return 0;
}

static void drop_item(tb_node *n, size_t i)
{
    free(n->buf[i].body);
    n->buf[i] = n->buf[--n->nbuf];
}

static item *new_item(tb_node *n)
{
    if (n->nbuf == n->capbuf) {
        size_t nc = n->capbuf ? n->capbuf * 2 : 64;
        item *nb = realloc(n->buf, nc * sizeof(*nb));
        if (!nb) return NULL;
        n->buf = nb;
        n->capbuf = nc;
    }
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

static int commit_progress(tb_node *n, const item *const *evs, size_t nev, uint64_t counter)
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

/* ---- handling events ---------------------------------------------------- */

static int publish_outs(tb_node *n)
{
    for (size_t i = 0; i < n->nout; i++) {
        int rc = publish_event(n, &n->out[i]);
        if (rc) return rc;
    }
    n->nout = 0;
    return 0;
}

static int cmp_items(const void *a, const void *b)
{
    const item *x = *(const item *const *)a, *y = *(const item *const *)b;
    return tb__key_cmp(&x->key, &y->key);
}

static int report(tb_node *n, char *err, size_t errlen)
{
    json_t *o = json_object(), *c = json_object();
    json_object_set_new(o, "role", json_string(n->role));
    json_object_set_new(o, "root", json_integer((json_int_t)n->root));
    json_object_set_new(o, "depth", json_integer(n->depth));
    for (int t = 1; t < TB_EV_COUNT; t++)
        if (n->counts[t])
            json_object_set_new(c, tb_event_type_name((tb_event_type)t),
                                json_integer(n->counts[t]));
    json_object_set_new(o, "counts", c);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s) return TB_ENOMEM;
    char id[96];
    snprintf(id, sizeof(id), "report.%s.%llu.%d", n->role, (unsigned long long)n->root, n->depth);
    int rc = publish_json(n, "ctl.report", id, "report", s);
    free(s);
    if (rc)
        tb__errf(err, errlen, "%s: cannot publish the step report: %s", n->role, tb_strerror(rc));
    return rc;
}

/* Handles the step's events in key order, publishes what that caused and
 * the report, waits for confirms, commits, then acknowledges. */
static int run_step(tb_node *n, char *err, size_t errlen)
{
    item **evs = malloc((n->nbuf ? n->nbuf : 1) * sizeof(*evs));
    if (!evs) return TB_ENOMEM;
    size_t nev = 0;
    for (size_t i = 0; i < n->nbuf; i++)
        if (n->buf[i].kind == IT_EVENT &&
            !tb__key_step_cmp(n->buf[i].key.root, n->buf[i].key.depth, n->root, n->depth))
            evs[nev++] = &n->buf[i];
    qsort(evs, nev, sizeof(*evs), cmp_items);
    memset(n->counts, 0, sizeof(n->counts));
    n->nout = 0;
    int rc = 0;
    for (size_t i = 0; i < nev && !rc; i++) {
        n->cur = evs[i]->key;
        memset(n->child_ix, 0, sizeof(n->child_ix));
        n->in_step = 1;
        tb_event ev = evs[i]->ev;
        rc = tb_bus_publish(tb_pipeline_bus(n->p), &ev);
        n->in_step = 0;
        if (rc)
            tb__errf(err, errlen, "%s: handling event %s: %s", n->role, evs[i]->id,
                     tb_strerror(rc));
    }
    if (!rc) rc = publish_outs(n);
    if (!rc) rc = report(n, err, errlen);
    if (!rc) rc = flush_all(n, err, errlen);
    n->phase = PH_REPORTS;
    if (!rc && (rc = commit_progress(n, (const item *const *)evs, nev, 0)) != 0)
        tb__errf(err, errlen, "%s: cannot save state: %s", n->role, tb__nstate_errmsg(n->st));
    if (!rc) {
        for (size_t i = 0; i < nev; i++)
            tb_transport_ack(n->t, evs[i]->tag, n->epoch);
        ack_list(n);
        /* Drop the step's events; indices shift, so match by step again. */
        for (size_t i = n->nbuf; i-- > 0;)
            if (n->buf[i].kind == IT_EVENT &&
                !tb__key_step_cmp(n->buf[i].key.root, n->buf[i].key.depth, n->root, n->depth))
                drop_item(n, i);
    }
    free(evs);
    return rc;
}

/* Events handled on arrival: those outside the sequence (no key: injected
 * by hand, a dead letter replayed) and, in stream order, all of them. A
 * batch is handled in arrival order, what it caused published and
 * confirmed, then saved in one transaction and acknowledged. If a handler
 * fails on one, that one goes back to the broker, which dead-letters it at
 * the queue's delivery limit. */
static int run_now(tb_node *n, char *err, size_t errlen)
{
    if (!n->nnow) return 0;
    n->nout = 0;
    const item **ok = malloc(n->nnow * sizeof(*ok));
    if (!ok) return TB_ENOMEM;
    size_t nok = 0;
    int rc = 0;
    for (size_t i = 0; i < n->nnow && !rc; i++) {
        item *it = &n->now[i];
        size_t before = n->nout;
        n->in_oob = 1;
        n->oob_failed = 0;
        tb_event e = it->ev;
        rc = tb_bus_publish(tb_pipeline_bus(n->p), &e);
        n->in_oob = 0;
        if (!rc && n->oob_failed) {
            n->nout = before; /* what it caused before failing is not sent */
            it->proc = -1;
            if (!n->stream)
                logf_(n, "event %s (no run key): a handler refused it; given back to the broker",
                      it->id);
            continue;
        }
        if (!rc) ok[nok++] = it;
        if (!rc && it->ev.type == TB_EV_MARKET_DATA) n->stream_bars++;
    }
    if (!rc) rc = publish_outs(n);
    if (!rc) rc = flush_all(n, err, errlen);
    if (!rc && nok) {
        if ((rc = commit_progress(n, ok, nok, n->stream_bars)) != 0)
            tb__errf(err, errlen, "%s: cannot save state: %s", n->role, tb__nstate_errmsg(n->st));
    }
    for (size_t i = 0; !rc && i < n->nnow; i++) {
        item *it = &n->now[i];
        if (it->proc == -1)
            tb_transport_reject(n->t, it->tag, n->epoch, 1);
        else
            tb_transport_ack(n->t, it->tag, n->epoch);
    }
    if (!rc && !n->stream && nok) logf_(n, "%zu event(s) without a run key handled", nok);
    for (size_t i = 0; i < n->nnow; i++)
        free(n->now[i].body);
    n->nnow = 0;
    free(ok);
    return rc;
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
    if (n->nnow == n->capnow) {
        size_t nc = n->capnow ? n->capnow * 2 : 64;
        item *nn = realloc(n->now, nc * sizeof(*nn));
        if (!nn) return TB_ENOMEM;
        n->now = nn;
        n->capnow = nc;
    }
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
    int proc = json_is_string(role) ? proc_index(json_string_value(role)) : -1;
    if (!json_is_integer(r) || !json_is_integer(d) || proc < 0 || !json_is_object(c) ||
        json_integer_value(r) < 0 || json_integer_value(d) < 0 ||
        json_integer_value(d) > TB_KEY_MAX_DEPTH) {
        json_decref(o);
        logf_(n, "report %s: malformed; given back to the broker", m->message_id);
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
        logf_(n, "end message %s: malformed; given back to the broker", m->message_id);
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
        logf_(n, "message %s (%s): %s (delivery %ld); given back to the broker",
              m->message_id[0] ? m->message_id : "without id", m->routing_key, why,
              m->delivery_count + 1);
        return tb_transport_reject(n->t, m->tag, m->epoch, 1);
    }
    if (!m->key[0] || n->stream) return take_now(n, m, &ev);
    tb__key key;
    if (tb__key_parse(m->key, &key) != 0) {
        logf_(n, "message %s: bad tb-key header '%s'; given back to the broker", m->message_id,
              m->key);
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

static int take(tb_node *n, const tb_msg_in *m)
{
    if (!strcmp(m->routing_key, "ctl.report")) return take_report(n, m);
    if (!strcmp(m->routing_key, "ctl.end")) return take_end(n, m);
    if (!strcmp(m->routing_key, "ctl.stats")) return take_stats(n, m);
    if (!n->p) return tb_transport_ack(n->t, m->tag, m->epoch); /* the feed wants reports only */
    return take_event(n, m);
}

/* ---- the step machine ------------------------------------------------------ */

static int have_reports(tb_node *n, long totals[TB_EV_COUNT])
{
    size_t at[NPROCS];
    int found = 0;
    for (size_t i = 0; i < n->nbuf; i++)
        if (n->buf[i].kind == IT_REPORT && n->buf[i].key.root == n->root &&
            n->buf[i].key.depth == n->depth)
            at[n->buf[i].proc] = i, found |= 1 << n->buf[i].proc;
    if (found != (1 << NPROCS) - 1) return 0;
    memset(totals, 0, sizeof(long) * TB_EV_COUNT);
    for (int p = 0; p < NPROCS; p++)
        for (int t = 0; t < TB_EV_COUNT; t++)
            totals[t] += n->buf[at[p]].counts[t];
    for (int p = 0; p < NPROCS; p++)
        add_ack(n, n->buf[at[p]].tag);
    for (size_t i = n->nbuf; i-- > 0;)
        if (n->buf[i].kind == IT_REPORT && n->buf[i].key.root == n->root &&
            n->buf[i].key.depth == n->depth)
            drop_item(n, i);
    return 1;
}

static int finish(tb_node *n, char *err, size_t errlen);

/* Moves the protocol on as far as what has arrived allows. Returns 1 when
 * the node is done. */
static int advance(tb_node *n, char *err, size_t errlen)
{
    for (;;) {
        if (n->phase == PH_DONE) return 1;
        if (n->phase == PH_EVENTS) {
            if (n->depth == 0 && n->have_end && n->root >= n->total_roots)
                return finish(n, err, errlen);
            long got = 0;
            for (size_t i = 0; i < n->nbuf; i++)
                got += n->buf[i].kind == IT_EVENT && n->buf[i].key.root == n->root &&
                       n->buf[i].key.depth == n->depth;
            if (got < n->expected) return 0;
            if (got > n->expected) {
                tb__errf(err, errlen,
                         "%s: step %llu/%d has %ld events, the reports announced %ld: a process "
                         "of another run shares this run's queues (give each run its own [bus] "
                         "name)",
                         n->role, (unsigned long long)n->root, n->depth, got, n->expected);
                return TB_ESTATE;
            }
            int rc = run_step(n, err, errlen);
            if (rc) return rc;
            continue;
        }
        long totals[TB_EV_COUNT];
        if (!have_reports(n, totals)) return 0;
        long all = 0, mine = 0;
        for (int t = 1; t < TB_EV_COUNT; t++) {
            all += totals[t];
            if (n->binds[t]) mine += totals[t];
        }
        if (all == 0) {
            n->root++;
            n->depth = 0;
            n->expected = n->binds[TB_EV_MARKET_DATA] ? 1 : 0;
        } else {
            n->depth++;
            n->expected = mine;
        }
        if (!n->p) {
            /* The feed handles no events: it only follows the steps, and
             * saves its place at each finished bar. */
            if (all == 0) {
                int rc = commit_progress(n, NULL, 0, n->published);
                if (rc) return rc;
                ack_list(n);
                if (n->have_end && n->root >= n->total_roots) return finish(n, err, errlen);
            }
            continue;
        }
        n->phase = PH_EVENTS;
    }
}

/* This node's part of the result, to the monitor. */
static int send_stats(tb_node *n, char *err, size_t errlen)
{
    tb_backtest_result r;
    memset(&r, 0, sizeof(r));
    int rc;
    if (n->p && (rc = tb_pipeline_result(n->p, &r)) != 0) return rc;
    r.dead_letters = n->dead;
    r.bars = n->md ? n->published : 0;
    r.bad_rows = n->md ? tb_md_merge_bad_rows(n->md) : 0;
    char *s = NULL, id[48];
    rc = tb__stats_encode(n->role, &r, &s);
    tb_backtest_result_free(&r);
    if (rc) return rc;
    snprintf(id, sizeof(id), "stats.%s", n->name);
    rc = publish_json(n, "ctl.stats", id, "stats", s);
    free(s);
    return rc ? rc : flush_all(n, err, errlen);
}

static int finish(tb_node *n, char *err, size_t errlen)
{
    int rc;
    if (strcmp(n->role, "monitor") != 0) {
        if ((rc = send_stats(n, err, errlen)) != 0) return rc;
    } else {
        /* Every other process's result: the feed, the components, each
         * signal shard. Until then they are still coming. */
        char names[TB_MAX_SHARDS + 8][TB_NODE_NAME_LEN];
        size_t want = tb_node_processes(n->cfg, names, TB_MAX_SHARDS + 8) - 1, have = 0;
        for (size_t i = 0; i < n->nbuf; i++)
            have += n->buf[i].kind == IT_STATS;
        if (have < want) return 0;
        tb_backtest_result *r = &n->res;
        if ((rc = tb_pipeline_result(n->p, r)) != 0) return rc;
        r->dead_letters = n->dead;
        r->npositions = 0;
        free(r->positions);
        free(r->total_realized);
        r->positions = NULL;
        r->total_realized = NULL;
        for (size_t i = 0; i < n->nbuf; i++) {
            if (n->buf[i].kind != IT_STATS) continue;
            char role[16];
            rc = tb__stats_merge(n->buf[i].body, n->buf[i].len, r, role, sizeof(role), err, errlen);
            if (rc) return rc;
        }
        if ((rc = tb_pipeline_total_realized(n->p, r)) != 0 || (rc = tb_backtest_result_finish(r)))
            return rc;
        n->have_res = 1;
        if (n->o.out_dir) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/summary.json", n->o.out_dir);
            FILE *f = fopen(path, "w");
            if (!f) {
                tb__errf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
                return TB_EIO;
            }
            rc = tb_backtest_write_summary(r, f);
            if (fclose(f) != 0 && !rc) rc = TB_EIO;
            if (n->events_f) fflush(n->events_f);
            if (n->fills_f) fflush(n->fills_f);
            if (rc) {
                tb__errf(err, errlen, "%s: write failed", path);
                return rc;
            }
        }
        for (size_t i = n->nbuf; i-- > 0;)
            if (n->buf[i].kind == IT_STATS) {
                add_ack(n, n->buf[i].tag);
                drop_item(n, i);
            }
    }
    n->phase = PH_DONE;
    if ((rc = commit_progress(n, NULL, 0, n->published)) != 0) return rc;
    if (n->have_end) tb_transport_ack(n->t, n->end_tag, n->epoch);
    ack_list(n);
    logf_(n, "done: %llu bars", (unsigned long long)n->total_roots);
    return 1;
}

/* Stream order has no steps to say a run is over: a node is done once it
 * has handled every bar the feed announced and a second has passed without
 * a message (what the last bars caused has arrived). */
static int stream_done(tb_node *n, char *err, size_t errlen)
{
    if (!n->have_end || !n->p) return 0;
    /* (a shard sees only its symbols' bars: it goes by the quiet alone) */
    if (n->binds[TB_EV_MARKET_DATA] && !n->shard && n->stream_bars < n->total_roots) return 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double idle = (double)(now.tv_sec - n->last_msg.tv_sec) +
                  (double)(now.tv_nsec - n->last_msg.tv_nsec) / 1e9;
    if (idle < 1.0) return 0;
    return finish(n, err, errlen);
}

/* ---- the feed ---------------------------------------------------------------- */

static int feed_window(const tb_node *n)
{
    return n->o.window > 0 ? n->o.window : 64;
}

/* 1 if the feed could publish more bars right now: then a poll must not
 * wait for messages (in stream order nothing gates the feed, and waiting
 * there idled it for the whole poll timeout every few thousand bars). */
static int feed_can_publish(const tb_node *n)
{
    return n->md && !n->eof && n->o.rate <= 0 &&
           (n->stream || n->published < n->root + (uint64_t)feed_window(n));
}

static int feed_publish(tb_node *n, char *err, size_t errlen)
{
    int window = feed_window(n);
    int sent = 0, rc;
    /* Strict order: a window ahead of the slowest node. Stream order: in
     * batches, so that confirms are read between them. */
    while (!n->eof && (n->stream ? sent < 4096 : n->published < n->root + (uint64_t)window)) {
        tb_market_data bar;
        rc = tb_md_merge_next(n->md, &bar, err, errlen);
        if (rc == TB_EEOF) {
            n->eof = 1;
            break;
        }
        if (rc) return rc;
        outmsg m;
        memset(&m, 0, sizeof(m));
        tb_event_init(&m.ev, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
        /* The embedded run's id for its n-th bar: counter 0, sequence n. */
        m.ev.event_id = ((uint64_t)n->node_id << 48) | (n->published + 1);
        m.ev.correlation_id = m.ev.event_id;
        m.ev.timestamp = bar.close_time;
        m.ev.u.market_data = bar;
        m.keyed = !n->stream; /* stream order: handled on arrival */
        m.key.root = n->published;
        if ((rc = publish_event(n, &m)) != 0) return rc;
        n->published++;
        sent++;
        if (n->o.rate > 0) {
            double s = 1.0 / n->o.rate;
            struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
            nanosleep(&ts, NULL);
            if ((rc = flush_all(n, err, errlen)) != 0) return rc;
        }
    }
    if (n->eof && !n->end_sent) {
        char s[96];
        snprintf(s, sizeof(s), "{\"roots\":%llu,\"bad_rows\":%llu}",
                 (unsigned long long)n->published, (unsigned long long)tb_md_merge_bad_rows(n->md));
        if ((rc = publish_json(n, "ctl.end", "end", "end", s)) != 0) return rc;
        n->end_sent = 1;
        n->have_end = 1;
        n->total_roots = n->published;
        sent++;
    }
    /* Strict order waits for its window's confirms; stream order lets the
     * transport bound what is unconfirmed, and confirms all at the end. */
    if (sent && (!n->stream || n->end_sent) && (rc = flush_all(n, err, errlen)) != 0) return rc;
    if (n->have_end && (n->stream || n->root >= n->total_roots) && n->phase != PH_DONE)
        return finish(n, err, errlen);
    return 0;
}

/* ---- life cycle -------------------------------------------------------------- */

static int replay_one(const char *body, size_t len, void *ctx)
{
    tb_node *n = ctx;
    tb_event ev;
    char why[TB_CODEC_ERRLEN];
    int rc = tb_codec_decode(body, len, &ev, why, sizeof(why));
    if (rc) return rc;
    return tb_bus_publish(tb_pipeline_bus(n->p), &ev);
}

static int add_binding(tb_node *n, const char *pattern)
{
    if (!(n->bind[n->nbind] = strdup(pattern))) return TB_ENOMEM;
    n->nbind++;
    return 0;
}

int tb_node_create(const tb_config *cfg, const tb_node_options *o, tb_node **out, char *err,
                   size_t errlen)
{
    int rc = TB_ECONFIG;
    if (!o || !o->role || role_index(o->role) < 0) {
        tb__errf(err, errlen,
                 "unknown role '%s' (known: signal, orders, positions, risk, monitor, feed)",
                 o && o->role ? o->role : "");
        return TB_ECONFIG;
    }
    if (!o->state_path) {
        tb__errf(err, errlen, "%s: no state file given", o->role);
        return TB_EINVAL;
    }
    tb_node *n = calloc(1, sizeof(*n));
    if (!n) return TB_ENOMEM;
    n->cfg = cfg;
    n->o = *o;
    /* Strings are the caller's for the call only. */
    if (o->out_dir && !(n->out_dir = strdup(o->out_dir))) {
        free(n);
        return TB_ENOMEM;
    }
    n->o.out_dir = n->out_dir;
    n->o.state_path = NULL;
    n->o.role = NULL;
    snprintf(n->role, sizeof(n->role), "%s", o->role);
    n->shard = o->shard;
    process_name(o->role, o->shard, n->name, sizeof(n->name));
    int sharded = !strcmp(o->role, "signal") && cfg->bus_nshards;
    if ((sharded && (o->shard < 1 || (size_t)o->shard > cfg->bus_nshards)) ||
        (!sharded && o->shard)) {
        if (sharded)
            tb__errf(err, errlen,
                     "signal: [bus] signal_shards splits it into %zu processes: start each with "
                     "--shard 1..%zu",
                     cfg->bus_nshards, cfg->bus_nshards);
        else
            tb__errf(err, errlen,
                     "%s: --shard is for the signal process of a config with [bus] "
                     "signal_shards",
                     o->role);
        tb_node_destroy(n);
        return TB_ECONFIG;
    }
    if (cfg->bus_nshards && !cfg->bus_stream) {
        tb__errf(err, errlen,
                 "[bus] signal_shards needs order = stream: in strict order every step waits "
                 "for one report per component (docs/scaling.md)");
        tb_node_destroy(n);
        return TB_ECONFIG;
    }
    n->role_ix = role_index(o->role);
    snprintf(n->run, sizeof(n->run), "%s", cfg->bus_name ? cfg->bus_name : "tradebus");
    n->node_id = cfg->node_id ? cfg->node_id : 1;
    n->stream = cfg->bus_stream;
    clock_gettime(CLOCK_MONOTONIC, &n->last_msg);
    static const unsigned role_bits[] = {TB_ROLE_SIGNAL, TB_ROLE_ORDERS,  TB_ROLE_POSITIONS,
                                         TB_ROLE_RISK,   TB_ROLE_MONITOR, 0};
    if (!strcmp(n->role, "monitor")) {
        n->owned[0] = "summary";
        n->owned[1] = "monitor";
    } else {
        n->owned[0] = n->role;
    }
    int fresh = 0;
    if ((rc = tb__nstate_open(o->state_path, n->name, n->run, tb_config_hash(cfg),
                              o->accept_config_change, &n->st, &fresh, err, errlen)) != 0)
        goto fail;
    tb__nprogress pg;
    if ((rc = tb__nstate_progress(n->st, &pg)) != 0) {
        tb__errf(err, errlen, "%s: unreadable progress", o->state_path);
        goto fail;
    }
    n->root = pg.root;
    n->depth = pg.depth;
    n->phase = pg.phase;
    n->resend = pg.phase == PH_DONE && strcmp(o->role, "monitor") != 0;

    if (role_bits[n->role_ix]) {
        int is_mon = !strcmp(n->role, "monitor");
        if (is_mon && o->out_dir && n->phase != PH_DONE) {
            if (mkdir(o->out_dir, 0777) != 0 && errno != EEXIST) {
                tb__errf(err, errlen, "%s: cannot create output directory: %s", o->out_dir,
                         strerror(errno));
                rc = TB_EIO;
                goto fail;
            }
            /* Rewritten from the start: a restart re-executes everything. */
            if ((cfg->event_log &&
                 !(n->events_f = tb__open_out(o->out_dir, "events.jsonl", err, errlen))) ||
                (cfg->fills &&
                 !(n->fills_f = tb__open_out(o->out_dir, "fills.csv", err, errlen)))) {
                rc = TB_EIO;
                goto fail;
            }
        }
        tb_pipeline_options po;
        memset(&po, 0, sizeof(po));
        po.event_log = n->events_f;
        po.fills_csv = n->fills_f;
        po.on_dead_letter = on_dead_letter;
        po.on_dead_letter_ctx = n;
        po.roles = role_bits[n->role_ix];
        /* Shards number their events apart: node id + shard. */
        if (n->shard) po.node_id = (uint16_t)(n->node_id + n->shard);
        po.outbox = outbox;
        po.outbox_ctx = n;
        if ((rc = tb_pipeline_create(cfg, &po, &n->p, err, errlen)) != 0) goto fail;
        tb_bus *bus = tb_pipeline_bus(n->p);
        if (!tb_bus_has_subscriber(bus, TB_EV_MARKET_DATA) &&
            !tb_bus_has_subscriber(bus, TB_BUS_ALL)) {
            tb__errf(err, errlen, "%s: takes no market data, so it cannot follow the run", n->role);
            rc = TB_ECONFIG;
            goto fail;
        }
        if (tb_bus_has_subscriber(bus, TB_BUS_ALL)) {
            for (int t = 1; t < TB_EV_COUNT; t++)
                n->binds[t] = 1;
            rc = add_binding(n, "#");
        } else {
            rc = 0;
            for (int t = 1; t < TB_EV_COUNT && !rc; t++) {
                if (!tb_bus_has_subscriber(bus, (tb_event_type)t)) continue;
                n->binds[t] = 1;
                char b[64];
                if (!n->shard) {
                    snprintf(b, sizeof(b), "%s.#", tb_event_type_name((tb_event_type)t));
                    rc = add_binding(n, b);
                    continue;
                }
                /* a shard: its symbols' events only ("A,B,C") */
                const char *sy = cfg->bus_signal_shards[n->shard - 1];
                while (*sy && !rc) {
                    size_t len = strcspn(sy, ",");
                    snprintf(b, sizeof(b), "%s.%.*s", tb_event_type_name((tb_event_type)t),
                             (int)len, sy);
                    rc = n->nbind < sizeof(n->bind) / sizeof(n->bind[0]) - 2 ? add_binding(n, b)
                                                                             : TB_EFULL;
                    sy += len + (sy[len] == ',');
                }
            }
            if (!rc) rc = add_binding(n, "ctl.report");
            if (!rc) rc = add_binding(n, "ctl.end");
        }
        if (rc) goto fail;
        n->restarted = !fresh;
        if (!fresh) {
            n->replaying = 1;
            rc = tb__nstate_each(n->st, replay_one, n);
            n->replaying = 0;
            if (rc) {
                tb__errf(err, errlen, "%s: re-executing the saved events failed: %s", o->state_path,
                         tb_strerror(rc));
                goto fail;
            }
            logf_(n, "restarted at bar %llu step %d (state %s)", (unsigned long long)n->root,
                  n->depth, o->state_path);
        }
        n->dead = pg.dead;
        n->stream_bars = pg.counter;
        if (n->phase == PH_EVENTS && n->depth == 0)
            n->expected = n->binds[TB_EV_MARKET_DATA] ? 1 : 0;
        else if (n->phase == PH_EVENTS) {
            /* Saved only after a step: a node stands at PH_REPORTS or done. */
            n->phase = PH_REPORTS;
        }
    } else {
        if ((rc = add_binding(n, "ctl.report")) != 0) goto fail;
        tb_md_config mc;
        tb_md_config_init(&mc);
        mc.on_bad_row = cfg->on_bad_row;
        if ((rc = tb_md_merge_open((const char *const *)cfg->data, cfg->ndata, &mc, &n->md, err,
                                   errlen)) != 0)
            goto fail;
        /* Bars before the first unfinished one were seen by everyone. */
        n->phase = pg.phase == PH_DONE ? PH_DONE : PH_REPORTS;
        for (uint64_t i = 0; i < n->root; i++) {
            tb_market_data bar;
            if ((rc = tb_md_merge_next(n->md, &bar, err, errlen)) != 0) {
                if (rc == TB_EEOF)
                    tb__errf(err, errlen, "feed: the data has fewer bars (%llu) than the run saved",
                             (unsigned long long)i);
                goto fail;
            }
        }
        n->published = n->root;
        if (!fresh)
            logf_(n, "restarted at bar %llu (state %s)", (unsigned long long)n->root,
                  o->state_path);
    }
    *out = n;
    return 0;
fail:
    tb_node_destroy(n);
    return rc;
}

size_t tb_node_bindings(const tb_node *n, const char *const **patterns)
{
    *patterns = (const char *const *)n->bind;
    return n->nbind;
}

void tb_node_attach(tb_node *n, tb_transport *t)
{
    n->t = t;
    n->epoch = tb_transport_epoch(t);
}

int tb_node_poll(tb_node *n, int timeout_ms, char *err, size_t errlen)
{
    int rc;
    if (err && errlen) err[0] = 0;
    if (n->phase == PH_DONE) {
        if (n->resend) {
            /* Restarted after the end: send the result again (the monitor
             * may not have it; a copy it has is recognised by id). */
            if ((rc = send_stats(n, err, errlen)) != 0) return rc;
            n->resend = 0;
        }
        return 1;
    }
    if (n->md && (rc = feed_publish(n, err, errlen)) != 0) return rc;
    /* A batch well under the prefetch window, so that the broker keeps
     * delivering while the batch is handled and acknowledged. */
    int got = 0;
    for (int i = 0; i < 200; i++) {
        tb_msg_in m;
        rc = tb_transport_poll(n->t, &m, i == 0 && !feed_can_publish(n) ? timeout_ms : 0);
        uint32_t e = tb_transport_epoch(n->t);
        if (e != n->epoch) {
            /* Reconnected: the broker gives back everything unacknowledged
             * under new tags, so what was buffered goes. */
            for (size_t j = n->nbuf; j-- > 0;)
                drop_item(n, j);
            n->nacks = 0;
            n->have_end = n->md ? n->have_end : 0;
            n->epoch = e;
            logf_(n, "reconnected to the broker");
            /* Back to the saved step: what set the step in memory apart
             * from it (reports already taken) comes again. */
            tb__nprogress pg;
            if ((rc = tb__nstate_progress(n->st, &pg)) != 0) return rc;
            n->root = pg.root;
            n->depth = pg.depth;
            n->phase = n->md ? PH_REPORTS : pg.phase;
            if (n->phase == PH_EVENTS) n->expected = n->binds[TB_EV_MARKET_DATA] ? 1 : 0;
        }
        if (rc == TB_ETIMEOUT) break;
        if (rc == TB_ECONN) {
            if (i == 0) return 0;
            break;
        }
        if (rc) return rc;
        got++;
        if ((rc = take(n, &m)) != 0) return rc;
    }
    if (got) clock_gettime(CLOCK_MONOTONIC, &n->last_msg);
    if (n->p && (rc = run_now(n, err, errlen)) != 0) return rc;
    rc = n->stream ? stream_done(n, err, errlen) : advance(n, err, errlen);
    if (rc == 0 && n->md) rc = feed_publish(n, err, errlen);
    return rc;
}

tb_pipeline *tb_node_pipeline(tb_node *n)
{
    return n->p;
}

int tb_node_state_read(const char *state_path, uint64_t *bars, int *done)
{
    tb__nprogress pg;
    int rc = tb__nstate_peek(state_path, &pg);
    if (rc) return rc;
    /* strict order counts finished bars in root, stream order in counter */
    *bars = pg.root ? pg.root : pg.counter;
    *done = pg.phase == PH_DONE;
    return 0;
}

uint64_t tb_node_roots_done(const tb_node *n)
{
    return n->stream && n->p ? n->stream_bars : n->stream ? n->published : n->root;
}

uint64_t tb_node_roots_total(const tb_node *n)
{
    return n->have_end ? n->total_roots : 0;
}

const tb_backtest_result *tb_node_result(const tb_node *n)
{
    return n->have_res ? &n->res : NULL;
}

void tb_node_destroy(tb_node *n)
{
    if (!n) return;
    tb_pipeline_destroy(n->p);
    if (n->events_f) fclose(n->events_f);
    if (n->fills_f) fclose(n->fills_f);
    tb_md_merge_close(n->md);
    tb__nstate_close(n->st);
    for (size_t i = 0; i < n->nbuf; i++)
        free(n->buf[i].body);
    free(n->buf);
    for (size_t i = 0; i < n->nnow; i++)
        free(n->now[i].body);
    free(n->now);
    free(n->acks);
    free(n->out);
    for (size_t i = 0; i < n->nbind; i++)
        free(n->bind[i]);
    tb_backtest_result_free(&n->res);
    free(n->out_dir);
    free(n);
}
