/* The Binance adapter's REST side: one queue for every request, so that
 * throttling and a 429/418 block apply to all of them (Binance counts the
 * weight per IP, not per route). Requests are signed when they leave the
 * queue, not when they enter it, so a request held by a block or a clock
 * resync carries a fresh timestamp. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "bn_adapter.h"

#define MS 1000000LL

bn_req *bn_req_new(bn_adapter *a, const char *method, const char *path, int is_signed, int weight,
                   bn_op op, bn_req_fn done)
{
    bn_req *r = a->free_reqs;
    if (r)
        a->free_reqs = r->next;
    else if (!(r = malloc(sizeof(*r))))
        return NULL;
    else {
        r->all = a->all_reqs;
        a->all_reqs = r;
    }
    memset(r, 0, offsetof(bn_req, q));
    bn_query_init(&r->q);
    r->a = a;
    r->method = method;
    snprintf(r->path, sizeof(r->path), "%s", path);
    r->is_signed = is_signed;
    r->weight = weight;
    r->op = op;
    r->done = done;
    r->sym = -1;
    r->then = BN_THEN_NONE;
    r->cid[0] = 0;
    r->clock_retried = 0;
    r->timed = 0;
    r->executed = 0;
    r->status = TB_ORDER_NEW;
    memset(&r->info, 0, sizeof(r->info));
    r->ncands = r->icand = 0;
    r->evidence = 0;
    /* POST, PUT and DELETE carry their parameters in the body (signed over
     * it), GET in the query string: both of Binance's ways get used. */
    r->in_body = strcmp(method, "GET") != 0;
    return r;
}

static void req_recycle(bn_adapter *a, bn_req *r)
{
    r->next = a->free_reqs;
    a->free_reqs = r;
}

void bn_rest_free(bn_adapter *a)
{
    /* Queued, free, waiting for a resync or in flight: all are on this chain. */
    for (bn_req *r = a->all_reqs, *n; r; r = n) {
        n = r->all;
        free(r);
    }
    a->queue = a->queue_tail = a->free_reqs = a->after_sync = a->all_reqs = NULL;
}

int64_t bn_server_ms(const bn_adapter *a)
{
    return (tb_loop_now(a->loop) + a->offset_ns) / MS;
}

void bn_rest_enqueue(bn_adapter *a, bn_req *r, int front)
{
    if (front) {
        r->next = a->queue;
        a->queue = r;
        if (!a->queue_tail) a->queue_tail = r;
    } else {
        r->next = NULL;
        if (a->queue_tail)
            a->queue_tail->next = r;
        else
            a->queue = r;
        a->queue_tail = r;
    }
    bn_rest_pump(a);
}

static void on_pump_timer(void *ctx, int64_t at)
{
    (void)at;
    bn_adapter *a = ctx;
    a->pump_timer = 0;
    a->pump_at = 0;
    bn_rest_pump(a);
}

static void pump_later(bn_adapter *a, int64_t at)
{
    if (a->pump_timer && a->pump_at <= at) return;
    if (a->pump_timer) tb_loop_timer_stop(a->loop, a->pump_timer);
    a->pump_timer = 0;
    if (tb_loop_timer_start(a->loop, at, on_pump_timer, a, &a->pump_timer) == 0) a->pump_at = at;
}

static void on_reply(void *ctx, const tb_http_response *resp);

/* What each kind of request is for, as the journal records it. */
static const char *purpose_of(bn_op op)
{
    switch (op) {
    case BN_OP_TIME:
        return "clock";
    case BN_OP_INFO:
        return "exchange info";
    case BN_OP_PRICE:
        return "price";
    case BN_OP_ACCOUNT:
        return "balances";
    case BN_OP_OPEN_ORDERS:
        return "open orders";
    case BN_OP_SUBMIT:
        return "submit";
    case BN_OP_CANCEL:
        return "cancel";
    case BN_OP_QUERY:
        return "look-up";
    case BN_OP_SYNC:
        return "read-back";
    case BN_OP_TRADES:
        return "trades";
    case BN_OP_DOUBT_CHECK:
        return "in-doubt check";
    case BN_OP_CANCEL_ALL_LIST:
        return "cancel-all list";
    case BN_OP_CANCEL_ALL_ONE:
        return "cancel-all";
    case BN_OP_NONE:
        break;
    }
    return "other";
}

/* Tells the request observer (the journal) what is about to leave; its
 * refusal keeps the request from being sent at all. */
static int observe(bn_adapter *a, const bn_req *r)
{
    char params[BN_QUERY_MAX];
    int rc = bn_query_encode(&r->q, params, sizeof(params));
    if (rc) return rc;
    tb_binance_request rq = {r->method, r->path, purpose_of(r->op), r->cid, params};
    return a->request_fn(a->request_ctx, &rq) ? TB_EIO : 0;
}

static void on_written(void *ctx)
{
    bn_req *r = ctx;
    bn_adapter *a = r->a;
    if (a->probe) a->probe(a->probe_ctx, BN_PROBE_WRITTEN, r, tb_loop_now(a->loop));
}

/* Builds the URL (and body) of r and hands it to tb_http. */
static int send_req(bn_adapter *a, bn_req *r)
{
    char params[BN_QUERY_MAX], url[BN_URL_MAX];
    int rc;
    if (a->request_fn && (rc = observe(a, r)) != 0) return rc;
    if (r->is_signed) {
        bn_query q = r->q; /* signing appends timestamp and signature: keep r->q for a re-sign */
        rc = bn_query_sign(&q, a->secret.value, bn_server_ms(a), a->recv_window_ms, params,
                           sizeof(params));
    } else {
        rc = bn_query_encode(&r->q, params, sizeof(params));
    }
    if (rc) return rc;
    int n = snprintf(url, sizeof(url), "%s%s%s%s", a->rest_url, r->path,
                     !r->in_body && params[0] ? "?" : "", r->in_body ? "" : params);
    if (n < 0 || (size_t)n >= sizeof(url)) return TB_EFULL;
    const char *hdr[1] = {a->key_header};
    tb_http_request hr;
    memset(&hr, 0, sizeof(hr));
    hr.method = r->method;
    hr.url = url;
    hr.body = r->in_body ? params : NULL;
    hr.headers = hdr;
    hr.nheaders = a->key_header[0] ? 1 : 0;
    hr.timeout_ms = a->timeout_ms;
    if (a->probe) {
        hr.on_write = on_written;
        hr.write_ctx = r;
    }
    r->t0 = tb_loop_now(a->loop);
    rc = tb_http_send(a->http, &hr, on_reply, r, NULL);
    if (!rc && a->probe) a->probe(a->probe_ctx, BN_PROBE_HANDED, r, tb_loop_now(a->loop));
    return rc;
}

void bn_rest_pump(bn_adapter *a)
{
    while (a->queue && a->inflight < BN_MAX_INFLIGHT) {
        int64_t now = tb_loop_now(a->loop);
        if (a->blocked_until > now) {
            pump_later(a, a->blocked_until);
            return;
        }
        if (a->halted && a->blocked_until <= now) a->halted = 0; /* the ban is over */
        bn_req *r = a->queue;
        /* Throttle before the limit: the weight is counted per minute of
         * the server's clock; near the limit, wait for the next minute. */
        int64_t minute = bn_server_ms(a) / 60000;
        if (a->used_weight >= 0 && minute == a->weight_minute &&
            a->used_weight + r->weight > a->weight_limit * 9 / 10) {
            pump_later(a, (minute + 1) * 60000 * MS - a->offset_ns + 50 * MS);
            return;
        }
        /* Signed requests wait for a resync in progress (its offset). */
        if (r->is_signed && a->syncing_time) return;
        a->queue = r->next;
        if (!a->queue) a->queue_tail = NULL;
        int rc = send_req(a, r);
        if (rc) {
            tb_http_response fake;
            memset(&fake, 0, sizeof(fake));
            fake.outcome = TB_HTTP_NOT_SENT;
            fake.used_weight_1m = fake.order_count_10s = fake.retry_after_s = -1;
            if (rc == TB_EIO && a->request_fn)
                snprintf(fake.error, sizeof(fake.error),
                         "not sent: the journal could not record it first");
            else
                snprintf(fake.error, sizeof(fake.error), "request not built: %s", tb_strerror(rc));
            if (r->done(a, r, &fake) == 0) req_recycle(a, r);
            continue;
        }
        a->inflight++;
        a->st.requests++;
        if (minute == a->weight_minute && a->used_weight >= 0) a->used_weight += r->weight;
    }
}

static int time_done(bn_adapter *a, bn_req *r, const tb_http_response *resp)
{
    a->syncing_time = 0;
    int64_t ms;
    char err[128];
    if (resp->outcome == TB_HTTP_DONE && resp->status == 200 &&
        bn_parse_server_time(resp->body, resp->body_len, &ms, err, sizeof(err)) == 0) {
        /* The server read its clock about halfway through the round trip. */
        int64_t mid = r->t0 + (tb_loop_now(a->loop) - r->t0) / 2;
        a->offset_ns = ms * MS - mid;
        a->st.clock_offset_ns = a->offset_ns;
    } else {
        bn_set_error(a, "GET /api/v3/time failed: %s",
                     resp->outcome == TB_HTTP_DONE ? "bad reply" : resp->error);
    }
    /* What waited for the new offset goes first, in its order: the list
     * is newest first, so pushing each to the front restores it. */
    for (bn_req *w = a->after_sync, *n; w; w = n) {
        n = w->next;
        w->next = a->queue;
        a->queue = w;
        if (!a->queue_tail) a->queue_tail = w;
    }
    a->after_sync = NULL;
    /* The start-up's own sync: the sequence goes on from here. */
    if (r->then == BN_THEN_STARTUP)
        bn_startup_time_done(a, resp->outcome == TB_HTTP_DONE && resp->status == 200);
    return 0;
}

static void start_sync(bn_adapter *a, bn_then then)
{
    bn_req *r = bn_req_new(a, "GET", "/api/v3/time", 0, 1, BN_OP_TIME, time_done);
    if (!r) return;
    r->then = then;
    a->syncing_time = 1;
    r->next = a->queue;
    a->queue = r;
    if (!a->queue_tail) a->queue_tail = r;
    /* Sent even when the queue's head is signed and waiting for it. */
    if (a->inflight < BN_MAX_INFLIGHT && a->blocked_until <= tb_loop_now(a->loop)) {
        a->queue = r->next;
        if (!a->queue) a->queue_tail = NULL;
        if (send_req(a, r) == 0) {
            a->inflight++;
            a->st.requests++;
            return;
        }
        a->syncing_time = 0;
        req_recycle(a, r);
        return;
    }
}

void bn_rest_sync_time(bn_adapter *a)
{
    if (a->syncing_time) return;
    start_sync(a, BN_THEN_NONE);
}

void bn_rest_sync_time_startup(bn_adapter *a)
{
    start_sync(a, BN_THEN_STARTUP);
}

static void on_reply(void *ctx, const tb_http_response *resp)
{
    bn_req *r = ctx;
    bn_adapter *a = r->a;
    int64_t now = tb_loop_now(a->loop);
    if (a->probe) a->probe(a->probe_ctx, BN_PROBE_ANSWERED, r, now);
    a->inflight--;
    a->st.rest_latency_ns = resp->latency_ns;
    if (r->timed) a->st.order_rtt_ns = resp->latency_ns;
    if (resp->used_weight_1m >= 0) {
        a->used_weight = resp->used_weight_1m;
        a->weight_minute = bn_server_ms(a) / 60000;
        a->st.used_weight_1m = resp->used_weight_1m;
    }
    if (resp->outcome == TB_HTTP_DONE && (resp->status == 429 || resp->status == 418)) {
        /* Every request stops, not only this route's; 418 (an IP ban)
         * also halts trading until it ends. */
        int64_t wait = resp->retry_after_s >= 0 ? resp->retry_after_s * 1000 * MS
                       : resp->status == 418    ? 120000 * MS
                                                : 1000 * MS;
        if (now + wait > a->blocked_until) a->blocked_until = now + wait;
        a->st.blocked_until = a->blocked_until;
        if (resp->status == 418) a->halted = 1;
        bn_set_error(a, "Binance answered %d: no request until Retry-After (%lld s) has passed",
                     resp->status, (long long)(wait / (1000 * MS)));
    }
    if (resp->outcome == TB_HTTP_DONE && resp->status >= 400 && r->is_signed && !r->clock_retried) {
        bn_error e;
        bn_parse_error(resp->body, resp->body_len, &e);
        if (bn_classify(resp->status, e.code) == BN_CLOCK) {
            /* Our clock drifted from the server's: measure again, then
             * re-sign and send this once more. */
            r->clock_retried = 1;
            r->next = a->after_sync;
            a->after_sync = r;
            bn_set_error(a, "-1021 (%s): clock resynced, request re-signed", e.msg);
            if (!a->syncing_time) start_sync(a, BN_THEN_NONE);
            bn_rest_pump(a);
            return;
        }
    }
    if (r->done(a, r, resp) == 0) req_recycle(a, r);
    bn_rest_pump(a);
}
