/* An in-memory broker behind the tb_transport interface (loopback_int.h): lets
 * a test run all the nodes of a distributed run in one process, with
 * redeliveries and broker restarts on demand. Not built for speed. */
#define _POSIX_C_SOURCE 200809L
#include "loopback_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { READY, UNACKED };

typedef struct {
    char rk[TB_MSG_KEY_LEN], id[TB_MSG_ID_LEN], type[TB_MSG_TYPE_LEN], key[TB_MSG_KEY_LEN];
    char reason[TB_MSG_REASON_LEN], death_queue[TB_MSG_KEY_LEN];
    long deliveries, deaths;
    int state;
    uint64_t tag;
    char *body;
    size_t len;
} lmsg;

typedef struct {
    char name[TB_MSG_KEY_LEN + 16]; /* room for a queue's ".dlq" */
    char **patterns;
    size_t npatterns;
    int limit;
    lmsg **m;
    size_t n, cap;
} lqueue;

struct tb__loop_broker {
    lqueue **q;
    size_t nq;
    uint32_t epoch;
    uint64_t next_tag;
};

typedef struct {
    tb_transport base;
    tb__loop_broker *b;
    char queue[TB_MSG_KEY_LEN];
    tb_transport_stats st;
} loop_transport;

/* AMQP topic matching: words split by '.', '*' is one word, '#' any number. */
static int match(const char *p, const char *k)
{
    if (!*p) return !*k;
    if (p[0] == '#' && (p[1] == 0 || p[1] == '.')) {
        const char *rest = p[1] ? p + 2 : p + 1;
        if (!*rest) return 1;
        for (const char *s = k;; s++) {
            if ((s == k || s[-1] == '.') && match(rest, s)) return 1;
            if (!*s) return 0;
        }
    }
    size_t pw = strcspn(p, "."), kw = strcspn(k, ".");
    if (!(pw == 1 && p[0] == '*') && (pw != kw || strncmp(p, k, pw) != 0)) return 0;
    if (!p[pw] || !k[kw]) return !p[pw] && !k[kw];
    return match(p + pw + 1, k + kw + 1);
}

static lqueue *find_queue(const tb__loop_broker *b, const char *name)
{
    for (size_t i = 0; i < b->nq; i++)
        if (!strcmp(b->q[i]->name, name)) return b->q[i];
    return NULL;
}

static lqueue *get_queue(tb__loop_broker *b, const char *name)
{
    lqueue *q = find_queue(b, name);
    if (q) return q;
    if (strlen(name) >= sizeof(q->name)) return NULL;
    lqueue **nq = realloc(b->q, (b->nq + 1) * sizeof(*nq));
    if (!nq) return NULL;
    b->q = nq;
    if (!(q = calloc(1, sizeof(*q)))) return NULL;
    memcpy(q->name, name, strlen(name) + 1);
    b->q[b->nq++] = q;
    return q;
}

static int enqueue(lqueue *q, const lmsg *proto, const void *body, size_t len)
{
    if (q->n == q->cap) {
        size_t nc = q->cap ? q->cap * 2 : 64;
        lmsg **nm = realloc(q->m, nc * sizeof(*nm));
        if (!nm) return TB_ENOMEM;
        q->m = nm;
        q->cap = nc;
    }
    lmsg *m = malloc(sizeof(*m));
    if (!m || !(m->body = malloc(len ? len : 1))) {
        free(m);
        return TB_ENOMEM;
    }
    char *b = m->body;
    *m = *proto;
    m->body = b;
    memcpy(m->body, body, len);
    m->len = len;
    m->state = READY;
    q->m[q->n++] = m;
    return 0;
}

/* Copies src (NULL: "") into dst[cap]; names and ids longer than the
 * fields are refused where they enter (publish, get_queue), so nothing is
 * cut here in practice. */
static void set(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strnlen(src, cap - 1) : 0;
    if (n) memcpy(dst, src, n);
    dst[n] = 0;
}

static int lt_publish(tb_transport *t, const tb_msg_out *o)
{
    loop_transport *lt = (loop_transport *)t;
    if (!o->routing_key || !o->message_id || strlen(o->routing_key) >= TB_MSG_KEY_LEN ||
        strlen(o->message_id) >= TB_MSG_ID_LEN || (o->type && strlen(o->type) >= TB_MSG_TYPE_LEN) ||
        (o->key && strlen(o->key) >= TB_MSG_KEY_LEN) ||
        (o->reason && strlen(o->reason) >= TB_MSG_REASON_LEN))
        return TB_EINVAL; /* as the AMQP transport: nothing is cut short */
    lmsg p;
    memset(&p, 0, sizeof(p));
    set(p.rk, sizeof(p.rk), o->routing_key);
    set(p.id, sizeof(p.id), o->message_id);
    set(p.type, sizeof(p.type), o->type);
    set(p.key, sizeof(p.key), o->key);
    set(p.reason, sizeof(p.reason), o->reason);
    lt->st.published++;
    lt->st.confirmed++;
    int routed = 0, rc = 0;
    if (o->queue) {
        lqueue *q = get_queue(lt->b, o->queue);
        if (!q) return TB_ENOMEM;
        return enqueue(q, &p, o->body, o->len);
    }
    for (size_t i = 0; i < lt->b->nq && !rc; i++) {
        lqueue *q = lt->b->q[i];
        for (size_t j = 0; j < q->npatterns; j++)
            if (match(q->patterns[j], o->routing_key)) {
                rc = enqueue(q, &p, o->body, o->len);
                routed = 1;
                break;
            }
    }
    if (!routed) lt->st.unroutable++;
    return rc;
}

static int lt_flush(tb_transport *t, int timeout_ms)
{
    (void)t;
    (void)timeout_ms;
    return 0;
}

static int lt_poll(tb_transport *t, tb_msg_in *out, int timeout_ms)
{
    (void)timeout_ms; /* nothing arrives while a single thread waits */
    loop_transport *lt = (loop_transport *)t;
    lqueue *q = lt->queue[0] ? find_queue(lt->b, lt->queue) : NULL;
    for (size_t i = 0; q && i < q->n; i++) {
        lmsg *m = q->m[i];
        if (m->state != READY) continue;
        m->state = UNACKED;
        m->tag = ++lt->b->next_tag;
        memset(out, 0, sizeof(*out));
        out->tag = m->tag;
        out->epoch = lt->b->epoch;
        out->redelivered = m->deliveries > 0;
        out->delivery_count = m->deliveries++;
        set(out->routing_key, sizeof(out->routing_key), m->rk);
        set(out->message_id, sizeof(out->message_id), m->id);
        set(out->type, sizeof(out->type), m->type);
        set(out->key, sizeof(out->key), m->key);
        set(out->reason, sizeof(out->reason), m->reason);
        set(out->death_queue, sizeof(out->death_queue), m->death_queue);
        out->death_count = m->deaths;
        out->body = m->body;
        out->len = m->len;
        lt->st.delivered++;
        return 0;
    }
    return TB_ETIMEOUT;
}

/* The unacked message of this tag, or NULL (unknown tag, or a tag of an
 * earlier epoch: stale, as after a real broker's restart). */
static lmsg *take_tag(loop_transport *lt, uint64_t tag, uint32_t epoch, lqueue **qout, size_t *at)
{
    if (epoch != lt->b->epoch) return NULL;
    lqueue *q = find_queue(lt->b, lt->queue);
    for (size_t i = 0; q && i < q->n; i++)
        if (q->m[i]->state == UNACKED && q->m[i]->tag == tag) {
            *qout = q;
            *at = i;
            return q->m[i];
        }
    return NULL;
}

static void remove_at(lqueue *q, size_t i)
{
    memmove(&q->m[i], &q->m[i + 1], (q->n - i - 1) * sizeof(*q->m));
    q->n--;
}

static int lt_ack(tb_transport *t, uint64_t tag, uint32_t epoch)
{
    loop_transport *lt = (loop_transport *)t;
    lqueue *q;
    size_t i;
    lmsg *m = take_tag(lt, tag, epoch, &q, &i);
    if (!m) return 0;
    remove_at(q, i);
    free(m->body);
    free(m);
    lt->st.acked++;
    return 0;
}

static int lt_reject(tb_transport *t, uint64_t tag, uint32_t epoch, int requeue)
{
    loop_transport *lt = (loop_transport *)t;
    lqueue *q;
    size_t i;
    lmsg *m = take_tag(lt, tag, epoch, &q, &i);
    if (!m) return 0;
    lt->st.rejected++;
    if (requeue && m->deliveries <= q->limit) {
        m->state = READY; /* stays at its place: delivered again first */
        return 0;
    }
    char dlq[sizeof(q->name)];
    if (snprintf(dlq, sizeof(dlq), "%s.dlq", q->name) >= (int)sizeof(dlq)) return TB_ERANGE;
    lqueue *d = get_queue(lt->b, dlq);
    if (!d) return TB_ENOMEM;
    lmsg p = *m;
    set(p.reason, sizeof(p.reason), requeue ? "delivery_limit" : "rejected");
    set(p.death_queue, sizeof(p.death_queue), q->name);
    p.deaths++;
    p.deliveries = 0;
    int rc = enqueue(d, &p, m->body, m->len);
    remove_at(q, i);
    free(m->body);
    free(m);
    return rc;
}

static uint32_t lt_epoch(tb_transport *t)
{
    return ((loop_transport *)t)->b->epoch;
}

static tb_transport_stats lt_stats(const tb_transport *t)
{
    return ((const loop_transport *)t)->st;
}

static void lt_destroy(tb_transport *t)
{
    loop_transport *lt = (loop_transport *)t;
    /* A consumer that goes away gives its unacked messages back. */
    lqueue *q = lt->queue[0] ? find_queue(lt->b, lt->queue) : NULL;
    for (size_t i = 0; q && i < q->n; i++)
        q->m[i]->state = READY;
    free(lt);
}

static const tb_transport_ops loop_ops = {lt_publish, lt_flush, lt_poll,  lt_ack,
                                          lt_reject,  lt_epoch, lt_stats, lt_destroy};

int tb__loop_broker_create(tb__loop_broker **out)
{
    *out = calloc(1, sizeof(**out));
    if (!*out) return TB_ENOMEM;
    (*out)->epoch = 1;
    return 0;
}

void tb__loop_broker_destroy(tb__loop_broker *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->nq; i++) {
        lqueue *q = b->q[i];
        for (size_t j = 0; j < q->n; j++) {
            free(q->m[j]->body);
            free(q->m[j]);
        }
        for (size_t j = 0; j < q->npatterns; j++)
            free(q->patterns[j]);
        free(q->patterns);
        free(q->m);
        free(q);
    }
    free(b->q);
    free(b);
}

int tb__loop_transport_create(tb__loop_broker *b, const char *queue, const char *const *patterns,
                              size_t npatterns, int delivery_limit, tb_transport **out)
{
    if (!b || !out) return TB_EINVAL;
    loop_transport *lt = calloc(1, sizeof(*lt));
    if (!lt) return TB_ENOMEM;
    lt->base.ops = &loop_ops;
    lt->b = b;
    if (queue) {
        set(lt->queue, sizeof(lt->queue), queue);
        lqueue *q = get_queue(b, queue);
        if (!q) {
            free(lt);
            return TB_ENOMEM;
        }
        q->limit = delivery_limit > 0 ? delivery_limit : 5;
        for (size_t i = 0; i < npatterns; i++) {
            int dup = 0;
            for (size_t j = 0; j < q->npatterns; j++)
                dup |= !strcmp(q->patterns[j], patterns[i]);
            if (dup) continue;
            char **np = realloc(q->patterns, (q->npatterns + 1) * sizeof(*np));
            if (!np || !(np[q->npatterns] = strdup(patterns[i]))) {
                if (np) q->patterns = np;
                free(lt);
                return TB_ENOMEM;
            }
            q->patterns = np;
            q->npatterns++;
        }
    }
    *out = &lt->base;
    return 0;
}

void tb__loop_broker_restart(tb__loop_broker *b)
{
    for (size_t i = 0; i < b->nq; i++)
        for (size_t j = 0; j < b->q[i]->n; j++)
            b->q[i]->m[j]->state = READY;
    b->epoch++;
}

long tb__loop_queue_depth(const tb__loop_broker *b, const char *queue)
{
    const lqueue *q = find_queue(b, queue);
    return q ? (long)q->n : -1;
}
