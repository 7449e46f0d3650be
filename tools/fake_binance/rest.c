/* Binance's REST API and WebSocket API as the fake serves them: routes and
 * their weights, signed-request checks, the per-minute weight limit with
 * its 429 back-off and 418 ban, injected faults, and the request log. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fb.h"

/* The example key pair of Binance's documentation: the default account. */
#define DOC_API_KEY "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
#define DOC_SECRET  "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"

int64_t fb_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fb_srv_now(fb_srv *srv)
{
    return fb_wall_ms() + srv->clock_offset_ms;
}

static int64_t ex_now(void *ctx)
{
    return fb_srv_now(ctx);
}

/* Events made while a request is handled wait for its reply (the glue
 * decides when they go out); any other event goes out at once. */
static void ex_emit(void *ctx, json_t *ev)
{
    fb_srv *srv = ctx;
    if (srv->capture) {
        json_array_append_new(srv->capture, ev);
    } else {
        fb_glue_user_event(srv, ev);
        json_decref(ev);
    }
}

static void limits_default(fb_srv *srv)
{
    srv->weight_limit = 6000;
    srv->ban_after = 3;
    srv->ban_seconds = 120;
    srv->weight_minute = 0;
    srv->weight_used = 0;
    srv->backoff_until = srv->banned_until = 0;
    srv->violations = 0;
}

static void faults_free(fb_srv *srv)
{
    for (size_t i = 0; i < srv->nfaults; i++)
        free(srv->faults[i].body);
    free(srv->faults);
    srv->faults = NULL;
    srv->nfaults = 0;
}

void fb_srv_init(fb_srv *srv)
{
    memset(srv, 0, sizeof *srv);
    fb_ex_init(&srv->ex);
    srv->ex.now = ex_now;
    srv->ex.now_ctx = srv;
    srv->ex.emit = ex_emit;
    srv->ex.emit_ctx = srv;
    snprintf(srv->api_key, sizeof srv->api_key, "%s", DOC_API_KEY);
    snprintf(srv->secret, sizeof srv->secret, "%s", DOC_SECRET);
    srv->ping_interval_s = 20;
    srv->log = json_array();
    fb_srv_reset(srv, 1);
}

void fb_srv_free(fb_srv *srv)
{
    fb_ex_free(&srv->ex);
    faults_free(srv);
    json_decref(srv->log);
    json_decref(srv->capture);
}

void fb_srv_reset(fb_srv *srv, int defaults)
{
    fb_ex_reset(&srv->ex, defaults);
    faults_free(srv);
    json_array_clear(srv->log);
    srv->log_seq = 0;
    srv->clock_offset_ms = 0;
    limits_default(srv);
    srv->orders_10s = srv->orders_day = 0;
    srv->dup_next = 0;
    srv->events_first = 0;
    srv->events_first_delay_ms = 100;
}

void fb_reply_free(fb_reply *r)
{
    json_decref(r->body);
    free(r->raw);
    json_decref(r->events);
    r->body = NULL;
    r->raw = NULL;
    r->events = NULL;
}

void fb_reply_error(fb_reply *r, int status, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_decref(r->body);
    free(r->raw);
    r->raw = NULL;
    r->status = status;
    r->code = code;
    r->body = json_pack("{s:i,s:s}", "code", code, "msg", msg);
}

static void reply_ok(fb_reply *r, json_t *body)
{
    json_decref(r->body);
    r->status = 200;
    r->code = 0;
    r->body = body;
}

static void reply_err(fb_reply *r, const fb_error *e)
{
    fb_reply_error(r, e->status, e->code, "%s", e->msg);
}

json_t *fb_log_add(fb_srv *srv, const char *transport, const char *method, const char *path)
{
    json_t *e = json_pack("{s:I,s:I,s:I,s:s,s:s,s:s}", "seq", (json_int_t)++srv->log_seq, "time",
                          (json_int_t)fb_srv_now(srv), "wall", (json_int_t)fb_wall_ms(),
                          "transport", transport, "method", method, "path", path);
    json_array_append_new(srv->log, e);
    return e;
}

/* ---- faults ---- */

static fb_fault *take_fault(fb_srv *srv, const char *method, const char *path)
{
    for (size_t i = 0; i < srv->nfaults; i++) {
        fb_fault *f = &srv->faults[i];
        if (f->count <= 0) continue;
        if (strcmp(f->method, "*") && strcasecmp(f->method, method)) continue;
        if (strcmp(f->path, "*") && strcmp(f->path, path)) continue;
        f->count--;
        return f;
    }
    return NULL;
}

/* A 429 or 418, whether earned or injected, starts the back-off or the ban
 * that later requests are held to. */
static void note_limit_status(fb_srv *srv, int status, int retry_after)
{
    int64_t wall = fb_wall_ms();
    if (status == 429) {
        srv->backoff_until = wall + (int64_t)(retry_after >= 0 ? retry_after : 60) * 1000;
        srv->violations = 0;
    } else if (status == 418) {
        srv->banned_until = wall + (int64_t)(retry_after >= 0 ? retry_after : 120) * 1000;
    }
}

static void apply_fault(fb_srv *srv, const fb_fault *f, fb_reply *rp)
{
    if (!strcmp(f->action, "hang")) {
        rp->delay_ms = f->ms;
        /* Before: the request never reaches the engine and the connection
         * is closed when the hang ends. After: the reply is just late. */
        rp->drop = !f->after;
        return;
    }
    if (!strcmp(f->action, "close")) {
        rp->drop = 1;
        return;
    }
    int status = f->status ? f->status : (!strcmp(f->action, "error") ? 400 : 503);
    if (f->body && !strcmp(f->action, "status")) {
        json_decref(rp->body);
        rp->body = NULL;
        free(rp->raw);
        rp->raw = fb_xstrdup(f->body);
        rp->status = status;
        rp->code = 0;
    } else {
        fb_reply_error(rp, status, f->code ? f->code : -1000, "%s",
                       f->msg[0] ? f->msg
                                 : "An unknown error occurred while processing the request.");
    }
    rp->retry_after = f->retry_after;
    note_limit_status(srv, status, f->retry_after);
}

/* ---- rate limits ---- */

static void weight_window(fb_srv *srv, int64_t wall)
{
    if (wall / 60000 != srv->weight_minute) {
        srv->weight_minute = wall / 60000;
        srv->weight_used = 0;
    }
}

static int secs_until(int64_t wall, int64_t until)
{
    int64_t s = (until - wall + 999) / 1000;
    return s < 1 ? 1 : (int)s;
}

/* 0 if the request may go on; otherwise the 429 or 418 is in rp. */
static int limit_gate(fb_srv *srv, int weight, fb_reply *rp)
{
    int64_t wall = fb_wall_ms();
    weight_window(srv, wall);
    if (wall < srv->banned_until) {
        fb_reply_error(rp, 418, -1003,
                       "Way too much request weight used; IP banned until %" PRId64
                       ". Please use WebSocket Streams for live updates to avoid bans.",
                       srv->banned_until);
        rp->retry_after = secs_until(wall, srv->banned_until);
        return -1;
    }
    if (wall < srv->backoff_until) {
        /* Not backing off after a 429 is what earns the ban. */
        if (++srv->violations >= srv->ban_after) {
            srv->banned_until = wall + (int64_t)srv->ban_seconds * 1000;
            srv->backoff_until = 0;
            return limit_gate(srv, weight, rp);
        }
        fb_reply_error(rp, 429, -1003,
                       "Too much request weight used; current limit is %d request weight per 1 "
                       "MINUTE. Please use WebSocket Streams for live updates to avoid polling "
                       "the API.",
                       srv->weight_limit);
        rp->retry_after = secs_until(wall, srv->backoff_until);
        return -1;
    }
    if (srv->weight_used + weight > srv->weight_limit) {
        int64_t next = (wall / 60000 + 1) * 60000;
        fb_reply_error(rp, 429, -1003,
                       "Too much request weight used; current limit is %d request weight per 1 "
                       "MINUTE. Please use WebSocket Streams for live updates to avoid polling "
                       "the API.",
                       srv->weight_limit);
        rp->retry_after = secs_until(wall, next);
        srv->backoff_until = next;
        srv->violations = 0;
        return -1;
    }
    srv->weight_used += weight;
    return 0;
}

static void count_order(fb_srv *srv)
{
    int64_t wall = fb_wall_ms();
    if (wall / 10000 != srv->orders_10s_window) {
        srv->orders_10s_window = wall / 10000;
        srv->orders_10s = 0;
    }
    if (wall / 86400000 != srv->orders_day_window) {
        srv->orders_day_window = wall / 86400000;
        srv->orders_day = 0;
    }
    srv->orders_10s++;
    srv->orders_day++;
}

/* ---- signed requests ---- */

static int parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || !isdigit((unsigned char)s[0]) || errno) return -1;
    *out = v;
    return 0;
}

/* recvWindow: milliseconds with up to three decimals, in microseconds. */
static int parse_recv_window(const char *s, int64_t *us)
{
    fb_dec d;
    if (fb_dec_parse(s, &d) != FB_DEC_OK || d % (FB_SCALE / 1000)) return -1;
    *us = d / (FB_SCALE / 1000);
    return 0;
}

/* The timing rule of rest-api.md, in microseconds. */
static int check_timestamp(fb_srv *srv, int64_t ts, int64_t rw_us, fb_error *err)
{
    int64_t server_us = fb_srv_now(srv) * 1000;
    int64_t ts_us = ts >= INT64_C(100000000000000) ? ts : ts * 1000; /* µs or ms */
    if (ts_us < server_us + 1000000 && server_us - ts_us <= rw_us) return 0;
    if (ts_us >= server_us + 1000000)
        fb_error_set(err, 400, -1021,
                     "Timestamp for this request was 1000ms ahead of the server's time.");
    else
        fb_error_set(err, 400, -1021, "Timestamp for this request is outside of the recvWindow.");
    return -1;
}

/* The query as the client sent it cannot be had (libwebsockets decodes it),
 * so it is rebuilt: the signature counts if it matches the query encoded
 * strictly (what curl_easy_escape and most clients send) or minimally, with
 * a space as %20 or '+', followed by the raw body without its signature. */
static int signature_ok(fb_srv *srv, const fb_req *rq, const char *sig)
{
    fb_buf body = {0};
    const char *b = rq->body.p ? rq->body.p : "";
    size_t blen = rq->body.len, i = 0;
    while (i < blen) {
        size_t j = i;
        while (j < blen && b[j] != '&')
            j++;
        if (!(j - i >= 10 && !strncmp(b + i, "signature=", 10))) {
            if (body.len) fb_buf_addn(&body, "&", 1);
            fb_buf_addn(&body, b + i, j - i);
        }
        i = j + 1;
    }
    int ok = 0;
    for (int v = 0; v < 4 && !ok; v++) {
        fb_buf pl = {0};
        fb_buf_addn(&pl, "", 0);
        for (size_t k = 0; k < rq->query.n; k++) {
            if (!strcmp(rq->query.v[k].name, "signature")) continue;
            if (pl.len) fb_buf_addn(&pl, "&", 1);
            fb_urlencode(&pl, rq->query.v[k].name, v < 2, v & 1);
            fb_buf_addn(&pl, "=", 1);
            fb_urlencode(&pl, rq->query.v[k].value, v < 2, v & 1);
        }
        if (body.len) fb_buf_addn(&pl, body.p, body.len);
        char hex[65];
        fb_hmac_hex(srv->secret, pl.p, pl.len, hex);
        ok = fb_sig_equal(sig, hex);
        fb_buf_free(&pl);
    }
    fb_buf_free(&body);
    return ok;
}

static const char *const signed_common[] = {"timestamp", "recvWindow", "signature", NULL};

static int known(const char *name, const char *const *list)
{
    for (; list && *list; list++)
        if (!strcmp(*list, name)) return 1;
    return 0;
}

/* Every check a SIGNED endpoint makes before it does anything. */
static int check_signed(fb_srv *srv, const fb_req *rq, const fb_params *all, fb_error *err)
{
    if (!rq->has_apikey || !rq->apikey[0])
        return fb_error_set(err, 401, -2014, "API-key format invalid."), -1;
    if (strcmp(rq->apikey, srv->api_key))
        return fb_error_set(err, 401, -2015, "Invalid API-key, IP, or permissions for action."), -1;
    int64_t ts, rw_us = 5000000;
    if (parse_i64(fb_params_get(all, "timestamp"), &ts))
        return fb_error_set(err, 400, -1102,
                            "Mandatory parameter 'timestamp' was not sent, was empty/null, or "
                            "malformed."),
               -1;
    const char *sig = fb_params_get(all, "signature");
    if (!sig || !*sig)
        return fb_error_set(err, 400, -1102,
                            "Mandatory parameter 'signature' was not sent, was empty/null, or "
                            "malformed."),
               -1;
    const char *rw = fb_params_get(all, "recvWindow");
    if (rw) {
        if (parse_recv_window(rw, &rw_us))
            return fb_error_set(err, 400, -1102,
                                "Mandatory parameter 'recvWindow' was not sent, was empty/null, "
                                "or malformed."),
                   -1;
        if (rw_us > 60000000)
            return fb_error_set(err, 400, -1102,
                                "'recvWindow' contains unexpected value. Cannot be greater than "
                                "60000."),
                   -1;
    }
    if (check_timestamp(srv, ts, rw_us, err)) return -1;
    if (!signature_ok(srv, rq, sig))
        return fb_error_set(err, 400, -1022, "Signature for this request is not valid."), -1;
    return 0;
}

/* ---- routes ---- */

typedef void route_fn(fb_srv *srv, const fb_req *rq, const fb_params *p, fb_reply *rp);

typedef struct {
    int method;
    const char *path;
    int is_signed;
    const char *const *params; /* accepted parameters (the signed ones aside) */
    int (*weight)(const fb_params *p);
    route_fn *fn;
} route_t;

static int w1(const fb_params *p)
{
    (void)p;
    return 1;
}
static int w2(const fb_params *p)
{
    (void)p;
    return 2;
}
static int w4(const fb_params *p)
{
    (void)p;
    return 4;
}
static int w20(const fb_params *p)
{
    (void)p;
    return 20;
}
static int w_open_orders(const fb_params *p)
{
    return fb_params_get(p, "symbol") ? 6 : 80;
}
static int w_my_trades(const fb_params *p)
{
    return fb_params_get(p, "orderId") ? 5 : 20;
}

static void r_ping(fb_srv *srv, const fb_req *rq, const fb_params *p, fb_reply *rp)
{
    (void)srv, (void)rq, (void)p;
    reply_ok(rp, json_object());
}

static void r_time(fb_srv *srv, const fb_req *rq, const fb_params *p, fb_reply *rp)
{
    (void)rq, (void)p;
    reply_ok(rp, json_pack("{s:I}", "serverTime", (json_int_t)fb_srv_now(srv)));
}

static json_t *rate_limits(fb_srv *srv)
{
    return json_pack("[{s:s,s:s,s:i,s:i},{s:s,s:s,s:i,s:i},{s:s,s:s,s:i,s:i},{s:s,s:s,s:i,s:i}]",
                     "rateLimitType", "REQUEST_WEIGHT", "interval", "MINUTE", "intervalNum", 1,
                     "limit", srv->weight_limit, "rateLimitType", "ORDERS", "interval", "SECOND",
                     "intervalNum", 10, "limit", 100, "rateLimitType", "ORDERS", "interval", "DAY",
                     "intervalNum", 1, "limit", 200000, "rateLimitType", "RAW_REQUESTS", "interval",
                     "MINUTE", "intervalNum", 5, "limit", 61000);
}

static void r_exchange_info(fb_srv *srv, const fb_req *rq, const fb_params *p, fb_reply *rp)
{
    (void)rq;
    fb_ex *ex = &srv->ex;
    json_t *syms = json_array();
    const char *one = fb_params_get(p, "symbol"), *many = fb_params_get(p, "symbols");
    if (one && many)
        return fb_reply_error(rp, 400, -1128, "Combination of optional parameters invalid.");
    if (one || many) {
        json_t *names = NULL;
        if (many) {
            names = json_loads(many, 0, NULL);
            if (!json_is_array(names)) {
                json_decref(names);
                json_decref(syms);
                return fb_reply_error(rp, 400, -1135,
                                      "JSON sent for parameter 'symbols' is not valid");
            }
        } else {
            names = json_pack("[s]", one);
        }
        size_t i;
        json_t *n;
        json_array_foreach(names, i, n)
        {
            fb_symbol *s = fb_ex_symbol(ex, json_string_value(n));
            if (!s) {
                json_decref(names);
                json_decref(syms);
                return fb_reply_error(rp, 400, -1121, "Invalid symbol.");
            }
            json_array_append_new(syms, fb_symbol_json(s));
        }
        json_decref(names);
    } else {
        for (size_t i = 0; i < ex->nsymbols; i++)
            json_array_append_new(syms, fb_symbol_json(&ex->symbols[i]));
    }
    reply_ok(rp, json_pack("{s:s,s:I,s:o,s:[],s:o}", "timezone", "UTC", "serverTime",
                           (json_int_t)fb_srv_now(srv), "rateLimits", rate_limits(srv),
                           "exchangeFilters", "symbols", syms));
}

/* An optional integer parameter: 1 present, 0 absent, -1 malformed (error set). */
static int int_param(const fb_params *p, const char *name, int64_t *out, fb_reply *rp)
{
    const char *v = fb_params_get(p, name);
    if (!v) return 0;
    if (parse_i64(v, out)) {
        fb_reply_error(rp, 400, -1100,
                       "Illegal characters found in parameter '%s'; legal range is "
                       "'^[0-9]{1,20}$'.",
                       name);
        return -1;
    }
    return 1;
}

static int limit_param(const fb_params *p, int64_t *limit, fb_reply *rp)
{
    int r = int_param(p, "limit", limit, rp);
    if (r < 0) return -1;
    if (!r) *limit = 500;
    if (*limit < 1 || *limit > 1000) {
        fb_reply_error(rp, 400, -1130, "Data sent for parameter 'limit' is not valid.");
        return -1;
    }
    return 0;
}

static fb_symbol *symbol_param(fb_srv *srv, const fb_params *p, int required, fb_reply *rp,
                               int *bad)
{
    const char *name = fb_params_get(p, "symbol");
    *bad = 0;
    if (!name || !*name) {
        if (required) {
            *bad = 1;
            fb_reply_error(rp, 400, -1102,
                           "Mandatory parameter 'symbol' was not sent, was empty/null, or "
                           "malformed.");
        }
        return NULL;
    }
    fb_symbol *s = fb_ex_symbol(&srv->ex, name);
    if (!s) {
        *bad = 1;
        fb_reply_error(rp, 400, -1121, "Invalid symbol.");
    }
    return s;
}

static void r_klines(fb_srv *srv, const fb_req *rq, const fb_params *p, fb_reply *rp)
{
    (void)rq;
    int bad;
    fb_symbol *s = symbol_param(srv, p, 1, rp, &bad);
    if (bad) return;
    const char *iv = fb_params_get(p, "interval");
    if (!iv || !*iv)
        return fb_reply_error(rp, 400, -1102,
                              "Mandatory parameter 'interval' was not sent, was empty/null, or "
                              "malformed.");
    if (!fb_interval_valid(iv)) return fb_reply_error(rp, 400, -1120, "Invalid interval.");
    int64_t start = 0, end = 0, limit;
    int hs = int_param(p, "startTime", &start, rp), he;
    if (hs < 0 || (he = int_param(p, "endTime", &end, rp)) < 0 || limit_param(p, &limit, rp))
        return;
    const char *tz = fb_params_get(p, "timeZone");
    if (tz && strcmp(tz, "0") && strcmp(tz, "00:00") && strcmp(tz, "+00:00"))
        return fb_reply_error(rp, 400, -1130,
                              "Data sent for parameter 'timeZone' is not valid (the fake serves "
                              "UTC only).");
    fb_kseries *ks = fb_ex_series(&srv->ex, s->name, iv, 0);
    json_t *rows = json_array();
    size_t n = ks ? ks->n : 0, from = 0, to = n;
    if (hs) {
        while (from < n && ks->v[from].open_time < start)
            from++;
        to = from;
        while (to < n && to - from < (size_t)limit && (!he || ks->v[to].open_time <= end))
            to++;
    } else {
        if (he)
            while (to > 0 && ks->v[to - 1].open_time > end)
                to--;
        from = to > (size_t)limit ? to - (size_t)limit : 0;
    }
    for (size_t i = from; i < to; i++)
        json_array_append_new(rows, fb_kline_row(&ks->v[i]));
    reply_ok(rp, rows);
}

static void r_order_new(fb_srv *srv, const fb_req *rq, const fb_params *p, fb_reply *rp)
{
    (void)rq;
    fb_order_req o = {
        .symbol = fb_params_get(p, "symbol"),
        .side = fb_params_get(p, "side"),
        .type = fb_params_get(p, "type"),
        .time_in_force = fb_params_get(p, "timeInForce"),
        .quantity = fb_params_get(p, "quantity"),
        .quote_order_qty = fb_params_get(p, "quoteOrderQty"),
        .price = fb_params_get(p, "price"),
        .stop_price = fb_params_get(p, "stopPrice"),
        .trailing_delta = fb_params_get(p, "trailingDelta"),
        .iceberg_qty = fb_params_get(p, "icebergQty"),
        .new_client_order_id = fb_params_get(p, "newClientOrderId"),
    };
    const char *rt = fb_params_get(p, "newOrderRespType");
    int form = -1;
    if (rt) {
        form = !strcmp(rt, "ACK")      ? FB_ORDER_ACK
               : !strcmp(rt, "RESULT") ? FB_ORDER_RESULT
               : !strcmp(rt, "FULL")   ? FB_ORDER_FULL
                                       : -2;
        if (form == -2)
            return fb_reply_error(rp, 400, -1100,
                                  "Illegal characters found in parameter 'newOrderRespType'; "
                                  "legal range is 'ACK, RESULT, FULL'.");
    }
    fb_error err;
    fb_order *ord;
    size_t first;
    rp->processed = 1;
    if (fb_ex_place(&srv->ex, &o, &ord, &first, &err)) return reply_err(rp, &err);
    if (form < 0)
        form = ord->type == FB_LIMIT || ord->type == FB_MARKET ? FB_ORDER_FULL : FB_ORDER_ACK;
    count_order(srv);
    rp->order_count = 1;
    reply_ok(rp, fb_order_json(&srv->ex, ord, form, first));
}

/* The order named by orderId and/or origClientOrderId, or NULL with the
 * error (not_found_code: -2013 for a query, -2011 for a cancel) in rp. */
static fb_order *find_order(fb_srv *srv, const fb_params *p, int not_found_code, fb_reply *rp)
{
    int bad;
    fb_symbol *s = symbol_param(srv, p, 1, rp, &bad);
    if (bad) return NULL;
    int64_t id = 0;
    int hid = int_param(p, "orderId", &id, rp);
    if (hid < 0) return NULL;
    const char *cid = fb_params_get(p, "origClientOrderId");
    if (!hid && !cid) {
        fb_reply_error(rp, 400, -1102,
                       "Param 'origClientOrderId' or 'orderId' must be sent, but both were "
                       "empty/null!");
        return NULL;
    }
    fb_order *o = hid ? fb_ex_order_by_id(&srv->ex, s->name, id)
                      : fb_ex_order_by_client(&srv->ex, s->name, cid);
    if (o && hid && cid && strcmp(o->client_id, cid)) o = NULL;
    if (!o) {
        if (not_found_code == -2013)
            fb_reply_error(rp, 400, -2013, "Order does not exist.");
        else
            fb_reply_error(rp, 400, -2011, "Unknown order sent.");
    }
    return o;
}

static void r_order_get(fb_srv *srv, const fb_req *rq, const fb_params *p, fb_reply *rp)
{
    (void)rq;
    fb_order *o = find_order(srv, p, -2013, rp);
    if (o) reply_ok(rp, fb_order_json(&srv->ex, o, FB_ORDER_QUERY, 0));
}

static void r_order_cancel(fb_srv *srv, const fb_req *rq, const fb_params *p, fb_reply *rp)
{
    (void)rq;
    rp->processed = 1;
    fb_order *o = find_order(srv, p, -2011, rp);
    if (!o) return;
    const char *cr = fb_params_get(p, "cancelRestrictions");
    if (cr) {
        int only_new = !strcmp(cr, "ONLY_NEW"), only_pf = !strcmp(cr, "ONLY_PARTIALLY_FILLED");
        if (!only_new && !only_pf)
            return fb_reply_error(rp, 400, -1145,
                                  "`cancelRestrictions` has to be either `ONLY_NEW` or "
                                  "`ONLY_PARTIALLY_FILLED`.");
        if ((only_new && o->status != FB_ST_NEW) ||
            (only_pf && o->status != FB_ST_PARTIALLY_FILLED))
            return fb_reply_error(rp, 400, -2011,
                                  "Order was not canceled due to cancel restrictions.");
    }
    fb_error err;
    char id[40];
    if (fb_ex_cancel(&srv->ex, o, fb_params_get(p, "newClientOrderId"), id, sizeof id, &err))
        return reply_err(rp, &err);
    json_t *j = fb_order_json(&srv->ex, o, FB_ORDER_CANCEL, 0);
    json_object_set_new(j, "clientOrderId", json_string(id));
    reply_ok(rp, j);
}

static void r_open_orders_cancel(fb_srv *srv, const fb_req *rq, const fb_params *p, fb_reply *rp)
{
    (void)rq;
    int bad;
    rp->processed = 1;
    fb_symbol *s = symbol_param(srv, p, 1, rp, &bad);
    if (bad) return;
    json_t *arr = json_array();
    for (size_t i = 0; i < srv->ex.norders; i++) {
        fb_order *o = srv->ex.orders[i];
        if (strcmp(o->symbol, s->name) || !fb_status_open(o->status)) continue;
        fb_error err;
        char id[40];
        if (fb_ex_cancel(&srv->ex, o, NULL, id, sizeof id, &err)) continue;
        json_t *j = fb_order_json(&srv->ex, o, FB_ORDER_CANCEL, 0);
        json_object_set_new(j, "clientOrderId", json_string(id));
        json_array_append_new(arr, j);
    }
    if (!json_array_size(arr)) {
        json_decref(arr);
        return fb_reply_error(rp, 400, -2011, "Unknown order sent.");
    }
    reply_ok(rp, arr);
}

static void r_open_orders(fb_srv *srv, const fb_req *rq, const fb_params *p, fb_reply *rp)
{
    (void)rq;
    int bad;
    fb_symbol *s = symbol_param(srv, p, 0, rp, &bad);
    if (bad) return;
    json_t *arr = json_array();
    for (size_t i = 0; i < srv->ex.norders; i++) {
        fb_order *o = srv->ex.orders[i];
        if ((s && strcmp(o->symbol, s->name)) || !fb_status_open(o->status)) continue;
        json_array_append_new(arr, fb_order_json(&srv->ex, o, FB_ORDER_QUERY, 0));
    }
    reply_ok(rp, arr);
}

static void r_all_orders(fb_srv *srv, const fb_req *rq, const fb_params *p, fb_reply *rp)
{
    (void)rq;
    int bad;
    fb_symbol *s = symbol_param(srv, p, 1, rp, &bad);
    if (bad) return;
    int64_t from_id = 0, start = 0, end = 0, limit;
    int hid = int_param(p, "orderId", &from_id, rp), hs, he;
    if (hid < 0 || (hs = int_param(p, "startTime", &start, rp)) < 0 ||
        (he = int_param(p, "endTime", &end, rp)) < 0 || limit_param(p, &limit, rp))
        return;
    json_t *arr = json_array();
    for (size_t i = 0; i < srv->ex.norders; i++) {
        fb_order *o = srv->ex.orders[i];
        if (strcmp(o->symbol, s->name) || (hid && o->id < from_id) || (hs && o->time < start) ||
            (he && o->time > end))
            continue;
        json_array_append_new(arr, fb_order_json(&srv->ex, o, FB_ORDER_QUERY, 0));
    }
    /* Without a starting point Binance returns the most recent ones. */
    while (json_array_size(arr) > (size_t)limit)
        json_array_remove(arr, hid || hs ? json_array_size(arr) - 1 : 0);
    reply_ok(rp, arr);
}

static void r_my_trades(fb_srv *srv, const fb_req *rq, const fb_params *p, fb_reply *rp)
{
    (void)rq;
    int bad;
    fb_symbol *s = symbol_param(srv, p, 1, rp, &bad);
    if (bad) return;
    int64_t oid = 0, start = 0, end = 0, from_id = 0, limit;
    int ho = int_param(p, "orderId", &oid, rp), hs = 0, he = 0, hf = 0;
    if (ho < 0 || (hs = int_param(p, "startTime", &start, rp)) < 0 ||
        (he = int_param(p, "endTime", &end, rp)) < 0 ||
        (hf = int_param(p, "fromId", &from_id, rp)) < 0 || limit_param(p, &limit, rp))
        return;
    if (hs && he && end - start > 24 * 3600 * 1000)
        return fb_reply_error(rp, 400, -1127, "More than 24 hours between startTime and endTime.");
    if ((ho && (hs || he)) || (hf && (hs || he)))
        return fb_reply_error(rp, 400, -1128, "Combination of optional parameters invalid.");
    json_t *arr = json_array();
    for (size_t i = 0; i < srv->ex.ntrades; i++) {
        const fb_trade *t = &srv->ex.trades[i];
        if (strcmp(t->symbol, s->name) || (ho && t->order_id != oid) || (hs && t->time < start) ||
            (he && t->time > end) || (hf && t->id < from_id))
            continue;
        json_array_append_new(arr, fb_trade_json(t));
    }
    while (json_array_size(arr) > (size_t)limit)
        json_array_remove(arr, hf || hs ? json_array_size(arr) - 1 : 0);
    reply_ok(rp, arr);
}

static void r_account(fb_srv *srv, const fb_req *rq, const fb_params *p, fb_reply *rp)
{
    (void)rq;
    const char *oz = fb_params_get(p, "omitZeroBalances");
    reply_ok(rp, fb_account_json(&srv->ex, oz && !strcmp(oz, "true")));
}

static const char *const p_none[] = {NULL};
static const char *const p_exinfo[] = {
    "symbol", "symbols", "permissions", "showPermissionSets", "symbolStatus", NULL};
static const char *const p_klines[] = {"symbol",   "interval", "startTime", "endTime",
                                       "timeZone", "limit",    NULL};
static const char *const p_order_new[] = {"symbol",
                                          "side",
                                          "type",
                                          "timeInForce",
                                          "quantity",
                                          "quoteOrderQty",
                                          "price",
                                          "newClientOrderId",
                                          "strategyId",
                                          "strategyType",
                                          "stopPrice",
                                          "trailingDelta",
                                          "icebergQty",
                                          "newOrderRespType",
                                          "selfTradePreventionMode",
                                          NULL};
static const char *const p_order_get[] = {"symbol", "orderId", "origClientOrderId", NULL};
static const char *const p_order_cancel[] = {
    "symbol", "orderId", "origClientOrderId", "newClientOrderId", "cancelRestrictions", NULL};
static const char *const p_symbol[] = {"symbol", NULL};
static const char *const p_all_orders[] = {"symbol",  "orderId", "startTime",
                                           "endTime", "limit",   NULL};
static const char *const p_my_trades[] = {"symbol", "orderId", "startTime", "endTime",
                                          "fromId", "limit",   NULL};
static const char *const p_account[] = {"omitZeroBalances", NULL};

static const route_t routes[] = {
    {FB_GET, "/api/v3/ping", 0, p_none, w1, r_ping},
    {FB_GET, "/api/v3/time", 0, p_none, w1, r_time},
    {FB_GET, "/api/v3/exchangeInfo", 0, p_exinfo, w20, r_exchange_info},
    {FB_GET, "/api/v3/klines", 0, p_klines, w2, r_klines},
    {FB_POST, "/api/v3/order", 1, p_order_new, w1, r_order_new},
    {FB_GET, "/api/v3/order", 1, p_order_get, w4, r_order_get},
    {FB_DELETE, "/api/v3/order", 1, p_order_cancel, w1, r_order_cancel},
    {FB_GET, "/api/v3/openOrders", 1, p_symbol, w_open_orders, r_open_orders},
    {FB_DELETE, "/api/v3/openOrders", 1, p_symbol, w1, r_open_orders_cancel},
    {FB_GET, "/api/v3/allOrders", 1, p_all_orders, w20, r_all_orders},
    {FB_GET, "/api/v3/myTrades", 1, p_my_trades, w_my_trades, r_my_trades},
    {FB_GET, "/api/v3/account", 1, p_account, w20, r_account},
};

static const char *method_name(int m)
{
    switch (m) {
    case FB_GET:
        return "GET";
    case FB_POST:
        return "POST";
    case FB_PUT:
        return "PUT";
    case FB_DELETE:
        return "DELETE";
    default:
        return "OTHER";
    }
}

/* Query string parameters win over body ones (rest-api.md). */
static void merge_params(const fb_req *rq, fb_params *all, fb_params *body)
{
    fb_params_parse_form(body, rq->body.p ? rq->body.p : "", rq->body.len);
    for (size_t i = 0; i < rq->query.n; i++)
        fb_params_add(all, rq->query.v[i].name, strlen(rq->query.v[i].name), rq->query.v[i].value,
                      strlen(rq->query.v[i].value));
    for (size_t i = 0; i < body->n; i++)
        if (!fb_params_get(&rq->query, body->v[i].name))
            fb_params_add(all, body->v[i].name, strlen(body->v[i].name), body->v[i].value,
                          strlen(body->v[i].value));
}

static int has_duplicates(const fb_req *rq, const fb_params *body)
{
    for (size_t i = 0; i < rq->query.n; i++)
        if (fb_params_count(&rq->query, rq->query.v[i].name) > 1) return 1;
    for (size_t i = 0; i < body->n; i++)
        if (fb_params_count(body, body->v[i].name) > 1) return 1;
    return 0;
}

void fb_rest_handle(fb_srv *srv, const fb_req *rq, fb_reply *rp)
{
    const char *mname = method_name(rq->method);
    json_t *log = fb_log_add(srv, "http", mname, rq->path);
    fb_params all = {0}, body = {0};
    merge_params(rq, &all, &body);
    json_object_set_new(log, "query", json_string(rq->query_enc.p ? rq->query_enc.p : ""));
    json_object_set_new(log, "body", json_stringn(rq->body.p ? rq->body.p : "", rq->body.len));
    json_object_set_new(log, "params", fb_params_json(&all));
    if (rq->has_apikey) json_object_set_new(log, "apiKey", json_string(rq->apikey));
    rp->retry_after = -1;

    const route_t *rt = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (routes[i].method == rq->method && !strcmp(routes[i].path, rq->path)) rt = &routes[i];
    fb_fault *f = take_fault(srv, mname, rq->path);
    if (f) json_object_set_new(log, "fault", json_string(f->action));

    if (f && !f->after) {
        apply_fault(srv, f, rp);
    } else if (!rt) {
        fb_reply_error(rp, 404, -1000, "fake_binance: no endpoint %s %s", mname, rq->path);
    } else if (!limit_gate(srv, rt->weight(&all), rp)) {
        fb_error err;
        if (has_duplicates(rq, &body)) {
            fb_reply_error(rp, 400, -1101, "Duplicate values for a parameter detected.");
        } else if (rt->is_signed && check_signed(srv, rq, &all, &err)) {
            reply_err(rp, &err);
        } else {
            int read = 0, unread = 0;
            for (size_t i = 0; i < all.n; i++) {
                if (known(all.v[i].name, rt->params) ||
                    (rt->is_signed && known(all.v[i].name, signed_common)))
                    read++;
                else
                    unread++;
            }
            if (unread) {
                fb_reply_error(rp, 400, -1104,
                               "Not all sent parameters were read; read '%d' parameter(s) but "
                               "was sent '%d'.",
                               read, read + unread);
            } else {
                srv->capture = json_array();
                rt->fn(srv, rq, &all, rp);
                rp->events = srv->capture;
                srv->capture = NULL;
            }
        }
        if (f) apply_fault(srv, f, rp);
    } else if (f) {
        apply_fault(srv, f, rp);
    }
    rp->weight = srv->weight_used;
    json_object_set_new(log, "status", json_integer(rp->drop && !rp->delay_ms ? 0 : rp->status));
    if (rp->code) json_object_set_new(log, "code", json_integer(rp->code));
    fb_params_free(&all);
    fb_params_free(&body);
}

/* ---- WebSocket API ---- */

static json_t *ws_error(fb_srv *srv, json_t *id, int status, int code, const char *msg)
{
    return json_pack("{s:O,s:i,s:{s:i,s:s},s:[{s:s,s:s,s:i,s:i,s:i}]}", "id", id, "status", status,
                     "error", "code", code, "msg", msg, "rateLimits", "rateLimitType",
                     "REQUEST_WEIGHT", "interval", "MINUTE", "intervalNum", 1, "limit",
                     srv->weight_limit, "count", srv->weight_used);
}

static json_t *ws_result(fb_srv *srv, json_t *id, json_t *result)
{
    return json_pack("{s:O,s:i,s:o,s:[{s:s,s:s,s:i,s:i,s:i}]}", "id", id, "status", 200, "result",
                     result, "rateLimits", "rateLimitType", "REQUEST_WEIGHT", "interval", "MINUTE",
                     "intervalNum", 1, "limit", srv->weight_limit, "count", srv->weight_used);
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* userDataStream.subscribe.signature's checks: the params (apiKey included,
 * signature excluded) sorted by name, "k=v" joined with '&', HMAC-SHA256. */
static int ws_check_signed(fb_srv *srv, json_t *params, fb_error *err)
{
    const char *mand[] = {"apiKey", "timestamp", "signature"};
    for (int i = 0; i < 3; i++)
        if (!json_object_get(params, mand[i]))
            return fb_error_set(err, 400, -1102,
                                "Mandatory parameter '%s' was not sent, was empty/null, or "
                                "malformed.",
                                mand[i]),
                   -1;
    const char *key = json_string_value(json_object_get(params, "apiKey"));
    if (!key || strcmp(key, srv->api_key))
        return fb_error_set(err, 401, -2015, "Invalid API-key, IP, or permissions for action."), -1;
    fb_buf t = {0};
    int64_t ts = 0, rw_us = 5000000;
    fb_json_scalar_text(json_object_get(params, "timestamp"), &t);
    int bad = parse_i64(t.p, &ts);
    fb_buf_free(&t);
    if (bad)
        return fb_error_set(err, 400, -1102,
                            "Mandatory parameter 'timestamp' was not sent, was empty/null, or "
                            "malformed."),
               -1;
    json_t *rw = json_object_get(params, "recvWindow");
    if (rw) {
        fb_json_scalar_text(rw, &t);
        bad = parse_recv_window(t.p, &rw_us);
        fb_buf_free(&t);
        if (bad || rw_us > 60000000)
            return fb_error_set(err, 400, -1102,
                                "'recvWindow' contains unexpected value. Cannot be greater than "
                                "60000."),
                   -1;
    }
    if (check_timestamp(srv, ts, rw_us, err)) return -1;
    size_t n = json_object_size(params), k = 0;
    const char **keys = fb_xrealloc(NULL, (n ? n : 1) * sizeof *keys);
    const char *name;
    json_t *v;
    json_object_foreach(params, name, v)
    {
        if (strcmp(name, "signature")) keys[k++] = name;
    }
    qsort(keys, k, sizeof *keys, cmp_keys);
    fb_buf pl = {0};
    fb_buf_addn(&pl, "", 0);
    for (size_t i = 0; i < k; i++) {
        if (i) fb_buf_addn(&pl, "&", 1);
        fb_buf_adds(&pl, keys[i]);
        fb_buf_addn(&pl, "=", 1);
        fb_json_scalar_text(json_object_get(params, keys[i]), &pl);
    }
    free(keys);
    char hex[65];
    fb_hmac_hex(srv->secret, pl.p, pl.len, hex);
    fb_buf_free(&pl);
    if (!fb_sig_equal(json_string_value(json_object_get(params, "signature")), hex))
        return fb_error_set(err, 400, -1022, "Signature for this request is not valid."), -1;
    return 0;
}

json_t *fb_wsapi_handle(fb_srv *srv, fb_wsapi_conn *c, const char *msg, size_t len,
                        int *close_after)
{
    json_error_t jerr;
    json_t *req = json_loadb(msg, len, 0, &jerr);
    *close_after = 0;
    if (!json_is_object(req)) {
        json_decref(req);
        json_t *log = fb_log_add(srv, "ws", "?", "/ws-api/v3");
        json_object_set_new(log, "body", json_stringn(msg, len));
        json_object_set_new(log, "status", json_integer(400));
        json_t *nul = json_null();
        json_t *r = ws_error(srv, nul, 400, -1135, "Invalid JSON Request");
        json_decref(nul);
        return r;
    }
    json_t *id = json_object_get(req, "id");
    if (!id) id = json_null();
    const char *method = json_string_value(json_object_get(req, "method"));
    if (!method) method = "";
    if (!strncmp(method, "v3/", 3)) method += 3;
    json_t *params = json_object_get(req, "params");
    json_t *log = fb_log_add(srv, "ws", method, "/ws-api/v3");
    json_object_set(log, "params", params ? params : json_null());
    json_object_set(log, "id", id);

    json_t *resp = NULL;
    fb_fault *f = take_fault(srv, "WS", method);
    int weight = !strcmp(method, "ping") || !strcmp(method, "time") ? 1 : 2;
    fb_reply gate = {0};
    if (f) {
        json_object_set_new(log, "fault", json_string(f->action));
        if (!strcmp(f->action, "close")) {
            *close_after = 1;
        } else if (strcmp(f->action, "hang")) {
            int st = f->status ? f->status : (!strcmp(f->action, "error") ? 400 : 503);
            resp = ws_error(srv, id, st, f->code ? f->code : -1000,
                            f->msg[0] ? f->msg
                                      : "An unknown error occurred while processing "
                                        "the request.");
            note_limit_status(srv, st, f->retry_after);
        }
    } else if (limit_gate(srv, weight, &gate)) {
        resp = ws_error(srv, id, gate.status, gate.code,
                        json_string_value(json_object_get(gate.body, "msg")));
        json_object_set_new(
            json_object_get(resp, "error"), "data",
            json_pack("{s:I}", "retryAfter", (json_int_t)(fb_wall_ms() + gate.retry_after * 1000)));
        fb_reply_free(&gate);
    } else if (!strcmp(method, "ping")) {
        resp = ws_result(srv, id, json_object());
    } else if (!strcmp(method, "time")) {
        resp = ws_result(srv, id, json_pack("{s:I}", "serverTime", (json_int_t)fb_srv_now(srv)));
    } else if (!strcmp(method, "userDataStream.subscribe.signature")) {
        fb_error err;
        if (!json_is_object(params)) {
            resp = ws_error(srv, id, 400, -1102,
                            "Mandatory parameter 'apiKey' was not sent, was empty/null, or "
                            "malformed.");
        } else if (ws_check_signed(srv, params, &err)) {
            resp = ws_error(srv, id, err.status, err.code, err.msg);
        } else if (c->sub_id >= 0) {
            resp = ws_error(srv, id, 400, -2035, "User Data Stream subscription already active.");
        } else {
            c->sub_id = c->next_sub_id++;
            resp = ws_result(srv, id, json_pack("{s:I}", "subscriptionId", (json_int_t)c->sub_id));
        }
    } else if (!strcmp(method, "userDataStream.unsubscribe")) {
        json_t *sid = json_object_get(params, "subscriptionId");
        if (c->sub_id < 0 || (sid && json_integer_value(sid) != c->sub_id)) {
            resp = ws_error(srv, id, 400, -2036, "User Data Stream subscription not active.");
        } else {
            c->sub_id = -1;
            resp = ws_result(srv, id, json_object());
        }
    } else if (!strcmp(method, "session.subscriptions")) {
        json_t *arr = json_array();
        if (c->sub_id >= 0)
            json_array_append_new(arr, json_pack("{s:I}", "subscriptionId", (json_int_t)c->sub_id));
        resp = ws_result(srv, id, arr);
    } else {
        char m[300];
        snprintf(m, sizeof m, "fake_binance does not implement method '%.200s'.", method);
        resp = ws_error(srv, id, 400, -1000, m);
    }
    if (resp) {
        json_object_set(log, "status", json_object_get(resp, "status"));
        json_t *e = json_object_get(resp, "error");
        if (e) json_object_set(log, "code", json_object_get(e, "code"));
    }
    json_decref(req);
    return resp;
}
