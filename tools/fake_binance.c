/* fake_binance: a fake Binance Spot server for the test suite.
 *
 *   fake_binance --port N [--host 127.0.0.1] [--api-key K] [--secret S]
 *                [--ping-interval SECONDS] [--ready-file PATH] [--verbose]
 *
 * One port, plain http and ws on 127.0.0.1: Binance's REST API (/api/v3/...),
 * its WebSocket API with the user data stream (/ws-api/v3), market streams
 * (/ws/<stream>, /stream?streams=a/b) and a control interface for tests
 * (/_ctl/...). docs/fake-binance.md says what it does and does not do;
 * scripts/fake_binance.sh starts and stops it. This file is the
 * libwebsockets side; the behaviour is in tools/fake_binance/. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libwebsockets.h>

#include "fake_binance/fb.h"

enum { K_HTTP = 0, K_USER = 1, K_MARKET = 2 };

/* An outgoing WebSocket message, LWS_PRE bytes of headroom before data. */
typedef struct msg {
    struct msg *next;
    size_t len;
    unsigned char buf[];
} msg;

/* Per-connection state (libwebsockets' per-session data, zeroed by it). */
typedef struct sess {
    int kind;
    struct lws *wsi;
    struct sess *next; /* WebSocket sessions */
    /* HTTP: the request, its reply and how far the reply got. */
    fb_req rq;
    fb_reply rp;
    fb_buf out;
    int is_ctl, reply_ready, headers_sent, timer_mode;
    size_t body_off;
    /* WebSocket */
    msg *qh, *qt;
    fb_buf rx;
    fb_wsapi_conn api;
    int silent, closing, ping_due, combined;
    char **streams;
    size_t nstreams;
    char uri[256];
} sess;

typedef struct {
    fb_srv *srv;
    struct lws_context *ctx;
    sess *ws;
} glue;

enum { T_NONE, T_HANG, T_DRAIN, T_DRAIN_DELAY };

static volatile sig_atomic_t stop;
static struct lws_context *the_ctx;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
    if (the_ctx) lws_cancel_service(the_ctx);
}

/* ---- WebSocket output ---- */

static void enqueue(sess *s, const char *text, size_t len)
{
    msg *m = fb_xrealloc(NULL, sizeof *m + LWS_PRE + len);
    m->next = NULL;
    m->len = len;
    memcpy(m->buf + LWS_PRE, text, len);
    if (s->qt)
        s->qt->next = m;
    else
        s->qh = m;
    s->qt = m;
    lws_callback_on_writable(s->wsi);
}

static void enqueue_json(sess *s, json_t *j)
{
    char *t = json_dumps(j, JSON_COMPACT);
    if (t) enqueue(s, t, strlen(t));
    free(t);
}

static int is_report(json_t *ev)
{
    const char *e = json_string_value(json_object_get(ev, "e"));
    return e && !strcmp(e, "executionReport");
}

void fb_glue_user_event(fb_srv *srv, json_t *event)
{
    glue *g = srv->glue;
    int times = 1;
    if (srv->dup_next > 0 && is_report(event)) {
        srv->dup_next--;
        times = 2;
    }
    for (sess *s = g->ws; s; s = s->next) {
        if (s->kind != K_USER || s->api.sub_id < 0 || s->silent || s->closing) continue;
        json_t *w =
            json_pack("{s:I,s:O}", "subscriptionId", (json_int_t)s->api.sub_id, "event", event);
        for (int k = 0; k < times; k++)
            enqueue_json(s, w);
        json_decref(w);
    }
}

void fb_glue_market_event(fb_srv *srv, const char *stream, json_t *data)
{
    glue *g = srv->glue;
    for (sess *s = g->ws; s; s = s->next) {
        if (s->kind != K_MARKET || s->silent || s->closing) continue;
        for (size_t i = 0; i < s->nstreams; i++) {
            if (strcmp(s->streams[i], stream)) continue;
            if (s->combined) {
                json_t *w = json_pack("{s:s,s:O}", "stream", stream, "data", data);
                enqueue_json(s, w);
                json_decref(w);
            } else {
                enqueue_json(s, data);
            }
            break;
        }
    }
}

int fb_glue_connections(fb_srv *srv, int kind, const char *action)
{
    glue *g = srv->glue;
    int n = 0;
    for (sess *s = g->ws; s; s = s->next) {
        if (s->kind != kind || s->closing) continue;
        n++;
        if (!strcmp(action, "close")) {
            s->closing = 1;
            lws_callback_on_writable(s->wsi);
        } else if (!strcmp(action, "drop")) {
            /* No close frame: the peer sees the TCP connection end (1006). */
            s->closing = 2;
            shutdown(lws_get_socket_fd(s->wsi), SHUT_RDWR);
        } else {
            s->silent = !strcmp(action, "silent");
        }
    }
    return n;
}

json_t *fb_glue_status(fb_srv *srv)
{
    glue *g = srv->glue;
    int users = 0, subscribed = 0, silent = 0, markets = 0;
    json_t *streams = json_array();
    for (sess *s = g->ws; s; s = s->next) {
        if (s->closing) continue;
        if (s->kind == K_USER) {
            users++;
            subscribed += s->api.sub_id >= 0;
            silent += s->silent;
        } else if (s->kind == K_MARKET) {
            markets++;
            for (size_t i = 0; i < s->nstreams; i++)
                json_array_append_new(streams, json_string(s->streams[i]));
        }
    }
    return json_pack("{s:i,s:i,s:i,s:i,s:o}", "user_connections", users, "user_subscribed",
                     subscribed, "user_silent", silent, "market_connections", markets, "streams",
                     streams);
}

/* ---- HTTP ---- */

static void flush_events(fb_srv *srv, json_t **events)
{
    size_t i;
    json_t *ev;
    json_array_foreach(*events, i, ev)
    {
        fb_glue_user_event(srv, ev);
    }
    json_decref(*events);
    *events = NULL;
}

/* Ends a transaction; events still held (the client went away before its
 * reply) go out now: the order exists whether or not anyone heard. */
static void http_reset(glue *g, sess *s)
{
    if (s->rp.events) flush_events(g->srv, &s->rp.events);
    fb_params_free(&s->rq.query);
    fb_buf_free(&s->rq.query_enc);
    fb_buf_free(&s->rq.body);
    fb_reply_free(&s->rp);
    fb_buf_free(&s->out);
    memset(&s->rq, 0, sizeof s->rq);
    memset(&s->rp, 0, sizeof s->rp);
    s->is_ctl = s->reply_ready = s->headers_sent = 0;
    s->timer_mode = T_NONE;
    s->body_off = 0;
}

static int user_queues_empty(glue *g)
{
    for (sess *s = g->ws; s; s = s->next)
        if (s->kind == K_USER && s->qh) return 0;
    return 1;
}

static void ready(sess *s)
{
    s->reply_ready = 1;
    lws_callback_on_writable(s->wsi);
}

static int dispatch(glue *g, sess *s)
{
    fb_srv *srv = g->srv;
    s->rp.retry_after = -1;
    s->is_ctl = !strncmp(s->rq.path, "/_ctl/", 6);
    if (s->is_ctl)
        fb_ctl_handle(srv, &s->rq, &s->rp);
    else
        fb_rest_handle(srv, &s->rq, &s->rp);
    if (s->rp.raw)
        fb_buf_adds(&s->out, s->rp.raw);
    else if (s->rp.body) {
        char *t = json_dumps(s->rp.body, JSON_COMPACT | JSON_ENCODE_ANY);
        fb_buf_adds(&s->out, t ? t : "{}");
        free(t);
    }
    int has_events = s->rp.events && json_array_size(s->rp.events);
    /* A late or missing reply does not hold back what the exchange did. */
    if (has_events && (s->rp.drop || s->rp.delay_ms > 0 || srv->events_first))
        flush_events(srv, &s->rp.events);
    if (s->rp.delay_ms > 0) {
        s->timer_mode = T_HANG;
        lws_set_timeout(s->wsi, NO_PENDING_TIMEOUT, 0);
        lws_set_timer_usecs(s->wsi, (lws_usec_t)s->rp.delay_ms * 1000);
        return 0;
    }
    if (s->rp.drop) return -1;
    if (has_events && srv->events_first) {
        s->timer_mode = T_DRAIN;
        lws_set_timer_usecs(s->wsi, 2000);
        return 0;
    }
    ready(s);
    return 0;
}

static int method_of(struct lws *wsi)
{
    char *uri;
    int ulen;
    switch (lws_http_get_uri_and_method(wsi, &uri, &ulen)) {
    case LWSHUMETH_GET:
        return FB_GET;
    case LWSHUMETH_POST:
        return FB_POST;
    case LWSHUMETH_PUT:
        return FB_PUT;
    case LWSHUMETH_DELETE:
        return FB_DELETE;
    default:
        return FB_OTHER;
    }
}

static int on_http(glue *g, sess *s, struct lws *wsi, const char *in, size_t len)
{
    http_reset(g, s);
    s->kind = K_HTTP;
    s->wsi = wsi;
    s->rq.method = method_of(wsi);
    snprintf(s->rq.path, sizeof s->rq.path, "%.*s", (int)(len < 255 ? len : 255), in);
    char frag[8192];
    for (int i = 0;; i++) {
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0) break;
        char *eq = strchr(frag, '=');
        if (eq)
            fb_params_add(&s->rq.query, frag, (size_t)(eq - frag), eq + 1, strlen(eq + 1));
        else
            fb_params_add(&s->rq.query, frag, strlen(frag), "", 0);
    }
    fb_buf_addn(&s->rq.query_enc, "", 0);
    for (size_t i = 0; i < s->rq.query.n; i++) {
        if (i) fb_buf_addn(&s->rq.query_enc, "&", 1);
        fb_urlencode(&s->rq.query_enc, s->rq.query.v[i].name, 1, 0);
        fb_buf_addn(&s->rq.query_enc, "=", 1);
        fb_urlencode(&s->rq.query_enc, s->rq.query.v[i].value, 1, 0);
    }
    s->rq.has_apikey =
        lws_hdr_custom_copy(wsi, s->rq.apikey, sizeof s->rq.apikey, "x-mbx-apikey:", 13) >= 0;
    char cl[32];
    if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 && atol(cl) > 0)
        return 0; /* the body comes next */
    return dispatch(g, s);
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                      unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

static int http_write(glue *g, sess *s, struct lws *wsi)
{
    if (!s->reply_ready) return 0;
    if (!s->headers_sent) {
        unsigned char buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start,
                                           *end = buf + sizeof buf - 1;
        char v[32];
        if (lws_add_http_common_headers(wsi, (unsigned)s->rp.status,
                                        "application/json;charset=UTF-8", s->out.len, &p, end))
            return 1;
        if (!s->is_ctl) {
            snprintf(v, sizeof v, "%d", s->rp.weight);
            if (add_header(wsi, "x-mbx-used-weight-1m:", v, &p, end)) return 1;
        }
        if (s->rp.retry_after >= 0) {
            snprintf(v, sizeof v, "%d", s->rp.retry_after);
            if (add_header(wsi, "retry-after:", v, &p, end)) return 1;
        }
        if (s->rp.order_count) {
            snprintf(v, sizeof v, "%d", g->srv->orders_10s);
            if (add_header(wsi, "x-mbx-order-count-10s:", v, &p, end)) return 1;
            snprintf(v, sizeof v, "%d", g->srv->orders_day);
            if (add_header(wsi, "x-mbx-order-count-1d:", v, &p, end)) return 1;
        }
        if (lws_finalize_write_http_header(wsi, start, &p, end)) return 1;
        s->headers_sent = 1;
        lws_callback_on_writable(wsi);
        return 0;
    }
    enum { CHUNK = 16384 };
    static unsigned char chunk[LWS_PRE + CHUNK];
    size_t left = s->out.len - s->body_off, n = left < CHUNK ? left : CHUNK;
    int final = n == left;
    if (n) memcpy(chunk + LWS_PRE, s->out.p + s->body_off, n);
    if (lws_write(wsi, chunk + LWS_PRE, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
        return -1;
    s->body_off += n;
    if (!final) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    http_reset(g, s); /* sends the request's events: after the reply */
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int http_timer(glue *g, sess *s)
{
    switch (s->timer_mode) {
    case T_HANG:
        if (s->rp.drop) return -1;
        s->timer_mode = T_NONE;
        ready(s);
        break;
    case T_DRAIN:
        if (!user_queues_empty(g)) {
            lws_set_timer_usecs(s->wsi, 2000);
            break;
        }
        s->timer_mode = T_DRAIN_DELAY;
        lws_set_timer_usecs(s->wsi, (lws_usec_t)g->srv->events_first_delay_ms * 1000 + 1);
        break;
    case T_DRAIN_DELAY:
        s->timer_mode = T_NONE;
        ready(s);
        break;
    }
    return 0;
}

/* ---- WebSocket ---- */

static void add_stream(sess *s, const char *name, size_t n)
{
    if (!n) return;
    for (size_t i = 0; i < s->nstreams; i++)
        if (strlen(s->streams[i]) == n && !strncmp(s->streams[i], name, n)) return;
    s->streams = fb_xrealloc(s->streams, (s->nstreams + 1) * sizeof *s->streams);
    char *c = fb_xrealloc(NULL, n + 1);
    memcpy(c, name, n);
    c[n] = '\0';
    s->streams[s->nstreams++] = c;
}

static void add_streams(sess *s, const char *list)
{
    while (*list) {
        const char *e = strchr(list, '/');
        size_t n = e ? (size_t)(e - list) : strlen(list);
        add_stream(s, list, n);
        list += n + (e ? 1 : 0);
    }
}

static int ws_path_ok(const char *uri)
{
    return !strcmp(uri, "/ws-api/v3") || !strcmp(uri, "/ws") || !strncmp(uri, "/ws/", 4) ||
           !strcmp(uri, "/stream");
}

static void ws_open(glue *g, sess *s, struct lws *wsi)
{
    memset(s, 0, sizeof *s);
    s->wsi = wsi;
    lws_hdr_copy(wsi, s->uri, sizeof s->uri, WSI_TOKEN_GET_URI);
    s->api.sub_id = -1;
    if (!strcmp(s->uri, "/ws-api/v3")) {
        s->kind = K_USER;
    } else {
        s->kind = K_MARKET;
        if (!strncmp(s->uri, "/ws/", 4)) add_streams(s, s->uri + 4);
        char buf[2048];
        const char *v = lws_get_urlarg_by_name(wsi, "streams=", buf, sizeof buf);
        if (!strcmp(s->uri, "/stream")) {
            s->combined = 1;
            if (v) add_streams(s, v);
        }
    }
    s->next = g->ws;
    g->ws = s;
    json_t *log = fb_log_add(g->srv, "ws", "CONNECT", s->uri);
    if (s->kind == K_MARKET) {
        json_t *arr = json_array();
        for (size_t i = 0; i < s->nstreams; i++)
            json_array_append_new(arr, json_string(s->streams[i]));
        json_object_set_new(log, "streams", arr);
    }
    json_object_set_new(log, "status", json_integer(101));
    if (g->srv->ping_interval_s > 0)
        lws_set_timer_usecs(wsi, (lws_usec_t)g->srv->ping_interval_s * LWS_USEC_PER_SEC);
}

static void ws_closed(glue *g, sess *s)
{
    for (sess **pp = &g->ws; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    while (s->qh) {
        msg *m = s->qh;
        s->qh = m->next;
        free(m);
    }
    s->qt = NULL;
    for (size_t i = 0; i < s->nstreams; i++)
        free(s->streams[i]);
    free(s->streams);
    s->streams = NULL;
    s->nstreams = 0;
    fb_buf_free(&s->rx);
}

/* The market streams' own requests (web-socket-streams.md). */
static void market_request(glue *g, sess *s, const char *text, size_t len)
{
    json_t *req = json_loadb(text, len, 0, NULL);
    const char *method = json_string_value(json_object_get(req, "method"));
    json_t *id = json_object_get(req, "id"), *params = json_object_get(req, "params");
    json_t *log = fb_log_add(g->srv, "ws", method ? method : "?", s->uri);
    json_object_set(log, "params", params ? params : json_null());
    json_t *result = json_null();
    int status = 200;
    size_t i;
    json_t *p;
    if (method && !strcmp(method, "SUBSCRIBE") && json_is_array(params)) {
        json_array_foreach(params, i, p)
        {
            if (json_is_string(p)) add_stream(s, json_string_value(p), json_string_length(p));
        }
    } else if (method && !strcmp(method, "UNSUBSCRIBE") && json_is_array(params)) {
        json_array_foreach(params, i, p)
        {
            for (size_t k = 0; json_is_string(p) && k < s->nstreams; k++) {
                if (strcmp(s->streams[k], json_string_value(p))) continue;
                free(s->streams[k]);
                s->streams[k] = s->streams[--s->nstreams];
                break;
            }
        }
    } else if (method && !strcmp(method, "LIST_SUBSCRIPTIONS")) {
        result = json_array();
        for (size_t k = 0; k < s->nstreams; k++)
            json_array_append_new(result, json_string(s->streams[k]));
    } else {
        status = 400;
        json_decref(result);
        result = NULL;
    }
    json_t *resp = result ? json_pack("{s:o,s:O}", "result", result, "id", id ? id : json_null())
                          : json_pack("{s:i,s:s,s:O}", "code", 2, "msg", "Invalid request", "id",
                                      id ? id : json_null());
    json_object_set_new(log, "status", json_integer(status));
    enqueue_json(s, resp);
    json_decref(resp);
    json_decref(req);
}

static int ws_receive(glue *g, sess *s, struct lws *wsi, const void *in, size_t len)
{
    fb_buf_addn(&s->rx, in, len);
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) return 0;
    const char *text = s->rx.p ? s->rx.p : "";
    if (s->kind == K_USER) {
        int close_after = 0;
        json_t *resp = fb_wsapi_handle(g->srv, &s->api, text, s->rx.len, &close_after);
        if (resp) enqueue_json(s, resp);
        json_decref(resp);
        if (close_after) {
            s->closing = 1;
            lws_callback_on_writable(wsi);
        }
    } else {
        market_request(g, s, text, s->rx.len);
    }
    s->rx.len = 0;
    return 0;
}

static int ws_write(sess *s, struct lws *wsi)
{
    if (s->closing) {
        static const char why[] = "fake_binance: closed by the control interface";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *)why, sizeof why - 1);
        return -1;
    }
    if (s->ping_due) {
        unsigned char b[LWS_PRE + 4];
        s->ping_due = 0;
        if (lws_write(wsi, b + LWS_PRE, 0, LWS_WRITE_PING) < 0) return -1;
        if (s->qh) lws_callback_on_writable(wsi);
        return 0;
    }
    msg *m = s->qh;
    if (!m) return 0;
    s->qh = m->next;
    if (!s->qh) s->qt = NULL;
    int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
    int short_write = n < (int)m->len;
    free(m);
    if (short_write) return -1;
    if (s->qh) lws_callback_on_writable(wsi);
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    sess *s = user;
    struct lws_context *ctx = lws_get_context(wsi);
    glue *g = ctx ? lws_context_user(ctx) : NULL;
    char uri[256];
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(g, s, wsi, in, len);
    case LWS_CALLBACK_HTTP_BODY:
        fb_buf_addn(&s->rq.body, in, len);
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return dispatch(g, s);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return http_write(g, s, wsi);
    case LWS_CALLBACK_CLOSED_HTTP:
        if (s && s->kind == K_HTTP) http_reset(g, s);
        return 0;
    case LWS_CALLBACK_TIMER:
        if (s->kind == K_HTTP) return http_timer(g, s);
        s->ping_due = 1;
        lws_callback_on_writable(wsi);
        if (g->srv->ping_interval_s > 0)
            lws_set_timer_usecs(wsi, (lws_usec_t)g->srv->ping_interval_s * LWS_USEC_PER_SEC);
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) < 0 || !ws_path_ok(uri)) return 1;
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        ws_open(g, s, wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return ws_receive(g, s, wsi, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return ws_write(s, wsi);
    case LWS_CALLBACK_CLOSED:
        ws_closed(g, s);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static void usage(void)
{
    fputs("usage: fake_binance --port N [--host 127.0.0.1] [--api-key K] [--secret S]\n"
          "                    [--ping-interval SECONDS] [--ready-file PATH] [--verbose]\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    int port = -1, verbose = 0;
    const char *host = "127.0.0.1", *ready_file = NULL;
    static fb_srv srv;
    fb_srv_init(&srv);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--verbose")) {
            verbose = 1;
            continue;
        }
        if (!v) usage();
        i++;
        if (!strcmp(a, "--port"))
            port = atoi(v);
        else if (!strcmp(a, "--host"))
            host = v;
        else if (!strcmp(a, "--api-key"))
            snprintf(srv.api_key, sizeof srv.api_key, "%s", v);
        else if (!strcmp(a, "--secret"))
            snprintf(srv.secret, sizeof srv.secret, "%s", v);
        else if (!strcmp(a, "--ping-interval"))
            srv.ping_interval_s = atoi(v);
        else if (!strcmp(a, "--ready-file"))
            ready_file = v;
        else
            usage();
    }
    if (port <= 0 || port > 65535) usage();

    lws_set_log_level(verbose ? LLL_ERR | LLL_WARN | LLL_NOTICE : LLL_ERR, NULL);
    static const struct lws_protocols protocols[] = {
        {"fake-binance", callback, sizeof(sess), 0, 0, NULL, 0},
        {NULL, NULL, 0, 0, 0, NULL, 0},
    };
    glue g = {.srv = &srv};
    srv.glue = &g;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = host;
    /* Without this, libwebsockets 4.1 ignores an IPv4 address in iface and
     * listens on every interface (a dual-stack socket). */
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    info.protocols = protocols;
    info.user = &g;
    info.max_http_header_data = 16384;
    info.pt_serv_buf_size = 32768;
    info.timeout_secs = 30;
    g.ctx = the_ctx = lws_create_context(&info);
    if (!g.ctx) {
        fprintf(stderr, "fake_binance: cannot listen on %s:%d\n", host, port);
        fb_srv_free(&srv);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    if (ready_file) {
        FILE *f = fopen(ready_file, "w");
        if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f)) {
            fprintf(stderr, "fake_binance: cannot write %s: %s\n", ready_file, strerror(errno));
            lws_context_destroy(g.ctx);
            fb_srv_free(&srv);
            return 1;
        }
    }
    printf("fake_binance: listening on http://%s:%d\n", host, port);
    fflush(stdout);
    while (!stop && lws_service(g.ctx, 0) >= 0) {
    }
    lws_context_destroy(g.ctx);
    the_ctx = NULL;
    fb_srv_free(&srv);
    return 0;
}
