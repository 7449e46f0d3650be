/* The loop-driven HTTP and WebSocket clients (src/net) against the fake
 * Binance on loopback: replies and their rate-limit headers, how a failed
 * request failed (NOT_SENT / MAYBE_SENT), bodies, many requests at once,
 * cancel and destroy with requests in flight; market streams, their close,
 * drop and silence, the WebSocket API. Everything runs on a wall-clock
 * tb_loop; every wait has a deadline timer, so a broken client fails the
 * test instead of hanging it. The fake is scripted with blocking libcurl
 * calls, outside the loop. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "../src/net/http.h"
#include "../src/net/ws.h"
#include "tb_test_fake_binance.h"
#include "tb_test_support.h"
#include "tradebus/loop.h"

static char dir[512];
static int port;
static char base[64], wsbase[64];

/* ---- the fake, scripted with blocking calls ---- */

static json_t *ctl(const char *method, const char *path, const char *json)
{
    return tbt_fb_ctl(base, method, path, json);
}

static void ctl0(const char *method, const char *path, const char *json)
{
    json_decref(ctl(method, path, json));
}

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    lws_set_log_level(LLL_ERR, NULL);
    tbt_temp_dir(dir, sizeof dir);
    port = tbt_free_port();
    char args[1024];
    /* Server pings every second, so a test sees them arrive. */
    snprintf(args, sizeof args, "start '%s' %d --ping-interval 1", dir, port);
    tbt_fb_script(args);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    snprintf(wsbase, sizeof wsbase, "ws://127.0.0.1:%d", port);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char args[1024];
    snprintf(args, sizeof args, "stop '%s'", dir);
    tbt_fb_script(args);
    tbt_remove_dir(dir);
    curl_global_cleanup();
    return 0;
}

static int reset(void **state)
{
    (void)state;
    ctl0("POST", "reset", "{}");
    ctl0("DELETE", "faults", NULL);
    ctl0("POST", "limits", "{\"clear\":true}");
    ctl0("POST", "config", "{\"ping_interval_s\":1}");
    return 0;
}

/* ---- the loop ---- */

static void on_deadline(void *ctx, int64_t at)
{
    (void)at;
    tb_loop *l = ctx;
    tb_loop_stop(l);
}

/* Runs the loop until a callback calls tb_loop_stop or ms pass (then 1). */
static int run_for(tb_loop *l, int64_t ms)
{
    tb_timer_id id;
    int64_t until = tb_loop_now(l) + ms * 1000000;
    assert_int_equal(tb_loop_timer_start(l, until, on_deadline, l, &id), 0);
    tb_loop_run(l);
    if (tb_loop_timer_stop(l, id) == 0) return 0;
    return 1;
}

static tb_loop *new_loop(void)
{
    tb_loop *l = NULL;
    assert_int_equal(tb_loop_create(TB_CLOCK_WALL, &l), 0);
    return l;
}

/* ---- HTTP ---- */

typedef struct {
    tb_loop *loop;
    int calls;
    int stop_after; /* stops the loop at this many calls */
    int *shared;    /* counts calls across requests, if set */
    tb_http_response r;
    char body[4096];
} answer;

static void on_answer(void *ctx, const tb_http_response *r)
{
    answer *a = ctx;
    a->calls++;
    a->r = *r;
    snprintf(a->body, sizeof a->body, "%s", r->body);
    a->r.body = a->body;
    if (a->shared) (*a->shared)++;
    if ((a->shared ? *a->shared : a->calls) >= a->stop_after) tb_loop_stop(a->loop);
}

/* One request, run to its answer. */
static void request(tb_loop *l, tb_http *h, const tb_http_request *rq, answer *a)
{
    memset(a, 0, sizeof *a);
    a->loop = l;
    a->stop_after = 1;
    assert_int_equal(tb_http_send(h, rq, on_answer, a, NULL), 0);
    assert_int_equal(a->calls, 0); /* never from inside tb_http_send */
    if (run_for(l, 10000)) fail_msg("no answer to %s %s within 10 s", rq->method, rq->url);
    assert_int_equal(a->calls, 1);
}

static void test_http_get_time_answers_status_body_and_weight(void **state)
{
    (void)state;
    tb_loop *l = new_loop();
    tb_http *h = NULL;
    assert_int_equal(tb_http_create(l, &h), 0);
    char url[128];
    snprintf(url, sizeof url, "%s/api/v3/time", base);
    tb_http_request rq = {.method = "GET", .url = url};
    answer a;
    request(l, h, &rq, &a);
    assert_int_equal(a.r.outcome, TB_HTTP_DONE);
    assert_int_equal(a.r.status, 200);
    assert_non_null(strstr(a.body, "\"serverTime\""));
    assert_true(a.r.used_weight_1m >= 1);
    assert_int_equal(a.r.order_count_10s, -1);
    assert_int_equal(a.r.retry_after_s, -1);
    /* The weight is the server's count: a second request reads more. */
    int64_t first = a.r.used_weight_1m;
    request(l, h, &rq, &a);
    assert_true(a.r.used_weight_1m > first);
    assert_int_equal(tb_http_pending(h), 0);
    tb_http_destroy(h);
    tb_loop_destroy(l);
}

static void test_http_requests_in_sequence_reuse_one_connection(void **state)
{
    (void)state;
    tb_loop *l = new_loop();
    tb_http *h = NULL;
    assert_int_equal(tb_http_create(l, &h), 0);
    char url[128];
    snprintf(url, sizeof url, "%s/api/v3/time", base);
    tb_http_request rq = {.method = "GET", .url = url};
    answer a;
    for (int i = 0; i < 5; i++) {
        request(l, h, &rq, &a);
        assert_int_equal(a.r.status, 200);
    }
    assert_int_equal(tb_http_connections(h), 1);
    tb_http_destroy(h);
    tb_loop_destroy(l);
}

/* The probe of a request: the moments curl is about to write it, with the
 * answers seen by then. */
typedef struct {
    int writes;
    int answered_before; /* the answer's calls when the last write came */
    answer *a;
} write_probe;

static void on_write(void *ctx)
{
    write_probe *w = ctx;
    w->writes++;
    w->answered_before = w->a->calls;
}

/* on_write: once per request, before its answer, on a new connection and on
 * a reused one; a request without one (on the same pooled slot) calls none. */
static void test_http_on_write_comes_once_before_the_answer(void **state)
{
    (void)state;
    tb_loop *l = new_loop();
    tb_http *h = NULL;
    assert_int_equal(tb_http_create(l, &h), 0);
    char url[128];
    snprintf(url, sizeof url, "%s/api/v3/time", base);
    answer a;
    write_probe w = {0, -1, &a};
    tb_http_request rq = {.method = "GET", .url = url, .on_write = on_write, .write_ctx = &w};
    for (int i = 1; i <= 2; i++) {
        request(l, h, &rq, &a);
        assert_int_equal(a.r.status, 200);
        assert_int_equal(w.writes, i);
        assert_int_equal(w.answered_before, 0);
    }
    tb_http_request plain = {.method = "GET", .url = url};
    request(l, h, &plain, &a);
    assert_int_equal(a.r.status, 200);
    assert_int_equal(w.writes, 2);
    assert_int_equal(tb_http_connections(h), 1);
    tb_http_destroy(h);
    tb_loop_destroy(l);
}

static void test_http_429_reads_retry_after(void **state)
{
    (void)state;
    ctl0("POST", "fault",
         "{\"method\":\"GET\",\"path\":\"/api/v3/time\",\"action\":\"status\",\"status\":429,"
         "\"retry_after\":7,\"code\":-1003,\"msg\":\"Too much request weight used.\"}");
    tb_loop *l = new_loop();
    tb_http *h = NULL;
    assert_int_equal(tb_http_create(l, &h), 0);
    char url[128];
    snprintf(url, sizeof url, "%s/api/v3/time", base);
    tb_http_request rq = {.method = "GET", .url = url};
    answer a;
    request(l, h, &rq, &a);
    assert_int_equal(a.r.outcome, TB_HTTP_DONE);
    assert_int_equal(a.r.status, 429);
    assert_int_equal(a.r.retry_after_s, 7);
    assert_non_null(strstr(a.body, "-1003"));
    tb_http_destroy(h);
    tb_loop_destroy(l);
}

static void test_http_connection_refused_is_not_sent(void **state)
{
    (void)state;
    tb_loop *l = new_loop();
    tb_http *h = NULL;
    assert_int_equal(tb_http_create(l, &h), 0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v3/order", tbt_free_port());
    tb_http_request rq = {.method = "POST", .url = url, .body = "symbol=BTCUSDT"};
    answer a;
    request(l, h, &rq, &a);
    assert_int_equal(a.r.outcome, TB_HTTP_NOT_SENT);
    assert_int_equal(a.r.status, 0);
    assert_true(a.r.error[0] != '\0');
    tb_http_destroy(h);
    tb_loop_destroy(l);
}

static void test_http_timeout_after_the_server_handled_it_is_maybe_sent(void **state)
{
    (void)state;
    ctl0("POST", "fault",
         "{\"method\":\"GET\",\"path\":\"/api/v3/time\",\"action\":\"hang\",\"when\":\"after\","
         "\"ms\":3000}");
    tb_loop *l = new_loop();
    tb_http *h = NULL;
    assert_int_equal(tb_http_create(l, &h), 0);
    char url[128];
    snprintf(url, sizeof url, "%s/api/v3/time", base);
    tb_http_request rq = {.method = "GET", .url = url, .timeout_ms = 300};
    answer a;
    request(l, h, &rq, &a);
    assert_int_equal(a.r.outcome, TB_HTTP_MAYBE_SENT);
    assert_int_equal(a.r.status, 0);
    assert_true(a.r.error[0] != '\0');
    tb_http_destroy(h);
    tb_loop_destroy(l);
}

static void test_http_connection_closed_without_reply_is_maybe_sent(void **state)
{
    (void)state;
    ctl0("POST", "fault", "{\"method\":\"GET\",\"path\":\"/api/v3/time\",\"action\":\"close\"}");
    tb_loop *l = new_loop();
    tb_http *h = NULL;
    assert_int_equal(tb_http_create(l, &h), 0);
    char url[128];
    snprintf(url, sizeof url, "%s/api/v3/time", base);
    tb_http_request rq = {.method = "GET", .url = url};
    answer a;
    request(l, h, &rq, &a);
    assert_int_equal(a.r.outcome, TB_HTTP_MAYBE_SENT);
    tb_http_destroy(h);
    tb_loop_destroy(l);
}

static void test_http_post_body_and_headers_reach_the_server(void **state)
{
    (void)state;
    json_t *st = ctl("GET", "status", NULL);
    json_int_t since = json_integer_value(json_object_get(st, "last_seq"));
    json_decref(st);
    tb_loop *l = new_loop();
    tb_http *h = NULL;
    assert_int_equal(tb_http_create(l, &h), 0);
    char url[128];
    snprintf(url, sizeof url, "%s/api/v3/order", base);
    const char *hdrs[] = {"X-MBX-APIKEY: test-key-1"};
    tb_http_request rq = {.method = "POST",
                          .url = url,
                          .body = "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001",
                          .headers = hdrs,
                          .nheaders = 1};
    answer a;
    request(l, h, &rq, &a);
    assert_int_equal(a.r.outcome, TB_HTTP_DONE);
    assert_true(a.r.status >= 400); /* unsigned: refused, but received */
    char q[128];
    snprintf(q, sizeof q, "requests?since=%lld", (long long)since);
    json_t *log = ctl("GET", q, NULL);
    json_t *reqs = json_object_get(log, "requests");
    assert_int_equal(json_array_size(reqs), 1);
    json_t *e = json_array_get(reqs, 0);
    assert_string_equal(json_string_value(json_object_get(e, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(e, "path")), "/api/v3/order");
    assert_string_equal(json_string_value(json_object_get(e, "body")), rq.body);
    assert_string_equal(json_string_value(json_object_get(e, "apiKey")), "test-key-1");
    json_decref(log);
    tb_http_destroy(h);
    tb_loop_destroy(l);
}

#define MANY 200

static void test_http_200_requests_in_flight_each_answered_once(void **state)
{
    (void)state;
    tb_loop *l = new_loop();
    tb_http *h = NULL;
    assert_int_equal(tb_http_create(l, &h), 0);
    char url[128];
    snprintf(url, sizeof url, "%s/api/v3/time", base);
    tb_http_request rq = {.method = "GET", .url = url};
    static answer a[MANY];
    int total = 0;
    for (int i = 0; i < MANY; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].loop = l;
        a[i].stop_after = MANY;
        a[i].shared = &total;
        assert_int_equal(tb_http_send(h, &rq, on_answer, &a[i], NULL), 0);
    }
    assert_int_equal(tb_http_pending(h), MANY);
    if (run_for(l, 20000)) fail_msg("%d of %d answered within 20 s", total, MANY);
    /* Anything answered twice would show after more loop turns. */
    run_for(l, 100);
    assert_int_equal(total, MANY);
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(a[i].calls, 1);
        assert_int_equal(a[i].r.outcome, TB_HTTP_DONE);
        assert_int_equal(a[i].r.status, 200);
    }
    assert_int_equal(tb_http_pending(h), 0);
    tb_http_destroy(h);
    tb_loop_destroy(l);
}

static void test_http_cancel_calls_nothing(void **state)
{
    (void)state;
    tb_loop *l = new_loop();
    tb_http *h = NULL;
    assert_int_equal(tb_http_create(l, &h), 0);
    char url[128];
    snprintf(url, sizeof url, "%s/api/v3/time", base);
    tb_http_request rq = {.method = "GET", .url = url};
    answer a[4];
    uint64_t ids[4];
    int total = 0;
    for (int i = 0; i < 4; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].loop = l;
        a[i].stop_after = 2;
        a[i].shared = &total;
        assert_int_equal(tb_http_send(h, &rq, on_answer, &a[i], &ids[i]), 0);
    }
    assert_int_equal(tb_http_cancel(h, ids[1]), 0);
    assert_int_equal(tb_http_cancel(h, ids[3]), 0);
    assert_int_equal(tb_http_cancel(h, ids[3]), TB_ENOTFOUND);
    assert_int_equal(tb_http_pending(h), 2);
    if (run_for(l, 10000)) fail_msg("the requests not canceled were not answered");
    run_for(l, 100);
    assert_int_equal(a[0].calls, 1);
    assert_int_equal(a[2].calls, 1);
    assert_int_equal(a[1].calls, 0);
    assert_int_equal(a[3].calls, 0);
    assert_int_equal(tb_http_cancel(h, ids[0]), TB_ENOTFOUND); /* answered */
    tb_http_destroy(h);
    tb_loop_destroy(l);
}

static void test_http_destroy_with_requests_pending_calls_nothing(void **state)
{
    (void)state;
    /* One request held by the server, others in flight. */
    ctl0("POST", "fault",
         "{\"method\":\"GET\",\"path\":\"/api/v3/time\",\"action\":\"hang\",\"when\":\"after\","
         "\"ms\":2000}");
    tb_loop *l = new_loop();
    tb_http *h = NULL;
    assert_int_equal(tb_http_create(l, &h), 0);
    char url[128];
    snprintf(url, sizeof url, "%s/api/v3/time", base);
    tb_http_request rq = {.method = "GET", .url = url};
    answer a[3];
    for (int i = 0; i < 3; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].loop = l;
        a[i].stop_after = 1;
        assert_int_equal(tb_http_send(h, &rq, on_answer, &a[i], NULL), 0);
    }
    /* Connections open and requests written, none answered yet (the loop
     * stops at the first answer, if any). */
    run_for(l, 5);
    int before = a[0].calls + a[1].calls + a[2].calls;
    tb_http_destroy(h);
    run_for(l, 300);
    assert_int_equal(a[0].calls + a[1].calls + a[2].calls, before);
    tb_loop_destroy(l);
}

/* A callback that destroys its client: the client finishes the destroy
 * after the callback and answers nobody else. */
typedef struct {
    tb_http *h;
    tb_loop *loop;
    int calls;
} destroyer;

static void on_answer_destroy(void *ctx, const tb_http_response *r)
{
    (void)r;
    destroyer *d = ctx;
    d->calls++;
    if (d->h) {
        tb_http_destroy(d->h);
        d->h = NULL;
    }
    tb_loop_stop(d->loop);
}

static void test_http_destroy_from_inside_a_callback(void **state)
{
    (void)state;
    tb_loop *l = new_loop();
    destroyer d = {.loop = l};
    assert_int_equal(tb_http_create(l, &d.h), 0);
    char url[128];
    snprintf(url, sizeof url, "%s/api/v3/time", base);
    tb_http_request rq = {.method = "GET", .url = url};
    for (int i = 0; i < 5; i++)
        assert_int_equal(tb_http_send(d.h, &rq, on_answer_destroy, &d, NULL), 0);
    if (run_for(l, 10000)) fail_msg("no answer within 10 s");
    run_for(l, 200);
    assert_int_equal(d.calls, 1);
    tb_loop_destroy(l);
}

/* ---- WebSocket ---- */

#define MAXMSG 16

typedef struct {
    tb_loop *loop;
    tb_ws *ws;
    int opened, closed, nmsg;
    int stop_at_open, stop_at_msgs, stop_at_close;
    int close_inside_message; /* tb_ws_close from on_message */
    int close_inside_close;   /* tb_ws_close from on_close */
    int64_t rx_at_open;
    char why[256];
    char *msgs[MAXMSG];
    const char *send_at_open[4];
} wsrec;

static void ws_on_open(void *ctx, tb_ws *ws)
{
    wsrec *r = ctx;
    r->opened++;
    r->rx_at_open = tb_ws_last_rx(ws);
    for (int i = 0; i < 4 && r->send_at_open[i]; i++)
        assert_int_equal(tb_ws_send(ws, r->send_at_open[i], strlen(r->send_at_open[i])), 0);
    if (r->stop_at_open) tb_loop_stop(r->loop);
}

static void ws_on_message(void *ctx, tb_ws *ws, const char *data, size_t len)
{
    wsrec *r = ctx;
    assert_int_equal(strlen(data), len);
    if (r->nmsg < MAXMSG) r->msgs[r->nmsg] = strdup(data);
    r->nmsg++;
    if (r->close_inside_message) {
        tb_ws_close(ws);
        r->ws = NULL;
    }
    if (r->stop_at_msgs && r->nmsg >= r->stop_at_msgs) tb_loop_stop(r->loop);
}

static void ws_on_close(void *ctx, tb_ws *ws, const char *why)
{
    wsrec *r = ctx;
    r->closed++;
    snprintf(r->why, sizeof r->why, "%s", why ? why : "");
    if (r->close_inside_close) {
        tb_ws_close(ws);
        r->ws = NULL;
    }
    if (r->stop_at_close) tb_loop_stop(r->loop);
}

static const tb_ws_callbacks ws_cbs = {ws_on_open, ws_on_message, ws_on_close};

static void wsrec_free(wsrec *r)
{
    for (int i = 0; i < r->nmsg && i < MAXMSG; i++)
        free(r->msgs[i]);
}

/* Opens path on the fake and runs until on_open. */
static void ws_open_ok(tb_wsc *c, wsrec *r, const char *path)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", wsbase, path);
    r->stop_at_open = 1;
    assert_int_equal(tb_ws_open(c, url, &ws_cbs, r, &r->ws), 0);
    assert_int_equal(r->opened + r->closed, 0); /* never from inside tb_ws_open */
    if (run_for(r->loop, 10000)) fail_msg("%s did not open within 10 s", url);
    if (!r->opened) fail_msg("%s: closed instead of opening: %s", url, r->why);
    r->stop_at_open = 0;
    assert_true(tb_ws_is_open(r->ws));
}

static void push_kline(int64_t minute, const char *close)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"symbol\":\"BTCUSDT\",\"interval\":\"1m\",\"t\":%lld,\"o\":\"42000\",\"h\":"
             "\"42100\",\"l\":\"41900\",\"c\":\"%s\",\"v\":\"1.5\",\"x\":true}",
             (long long)(1704067200000LL + minute * 60000), close);
    ctl0("POST", "kline", body);
}

/* Waits until the fake counts n market connections (its side of the handshake). */
static void wait_market_connections(tb_loop *l, int n)
{
    for (int i = 0; i < 200; i++) {
        json_t *st = ctl("GET", "status", NULL);
        int got = (int)json_integer_value(json_object_get(st, "market_connections"));
        json_decref(st);
        if (got == n) return;
        run_for(l, 10);
    }
    fail_msg("the fake never counted %d market connections", n);
}

static void test_ws_kline_stream_arrives_in_order(void **state)
{
    (void)state;
    tb_loop *l = new_loop();
    tb_wsc *c = NULL;
    assert_int_equal(tb_wsc_create(l, &c), 0);
    wsrec r = {.loop = l};
    ws_open_ok(c, &r, "/ws/btcusdt@kline_1m");
    wait_market_connections(l, 1);
    push_kline(0, "42001");
    push_kline(1, "42002");
    push_kline(2, "42003");
    r.stop_at_msgs = 3;
    if (run_for(l, 10000)) fail_msg("%d of 3 klines within 10 s", r.nmsg);
    for (int i = 0; i < 3; i++) {
        json_t *j = json_loads(r.msgs[i], 0, NULL);
        assert_non_null(j);
        json_t *k = json_object_get(j, "k");
        char want[16];
        snprintf(want, sizeof want, "4200%d", i + 1);
        assert_string_equal(json_string_value(json_object_get(k, "c")), want);
        assert_int_equal(json_integer_value(json_object_get(k, "t")), 1704067200000LL + i * 60000);
        json_decref(j);
    }
    assert_true(tb_ws_last_rx(r.ws) > 0);
    assert_int_equal(r.closed, 0);
    tb_ws_close(r.ws);
    wait_market_connections(l, 0); /* closed for real, from outside a callback */
    assert_int_equal(r.closed, 0);
    wsrec_free(&r);
    tb_wsc_destroy(c);
    tb_loop_destroy(l);
}

/* The server ends the stream by action; on_close says want_why (if set),
 * once. close_inside: the test closes the tb_ws from inside on_close. */
static void server_ends_stream(const char *action, const char *want_why, int close_inside)
{
    tb_loop *l = new_loop();
    tb_wsc *c = NULL;
    assert_int_equal(tb_wsc_create(l, &c), 0);
    wsrec r = {.loop = l};
    ws_open_ok(c, &r, "/ws/btcusdt@kline_1m");
    wait_market_connections(l, 1);
    char body[64];
    snprintf(body, sizeof body, "{\"action\":\"%s\"}", action);
    r.close_inside_close = close_inside;
    ctl0("POST", "market", body);
    r.stop_at_close = 1;
    if (run_for(l, 10000)) fail_msg("on_close not called within 10 s after %s", action);
    assert_int_equal(r.closed, 1);
    if (want_why && !strstr(r.why, want_why))
        fail_msg("on_close said \"%s\", wanted \"%s\" in it", r.why, want_why);
    if (!close_inside) {
        assert_false(tb_ws_is_open(r.ws));
        assert_int_equal(tb_ws_send(r.ws, "x", 1), TB_ECONN);
    }
    run_for(l, 100);
    assert_int_equal(r.closed, 1); /* once */
    tb_ws_close(r.ws);
    wsrec_free(&r);
    tb_wsc_destroy(c);
    tb_loop_destroy(l);
}

static void test_ws_server_close_calls_on_close(void **state)
{
    (void)state;
    server_ends_stream("close", "1001", 0);
}

static void test_ws_close_inside_on_close(void **state)
{
    (void)state;
    server_ends_stream("close", NULL, 1);
}

static void test_ws_dropped_connection_calls_on_close(void **state)
{
    (void)state;
    server_ends_stream("drop", NULL, 0);
}

static void test_ws_server_pings_advance_last_rx(void **state)
{
    (void)state;
    tb_loop *l = new_loop();
    tb_wsc *c = NULL;
    assert_int_equal(tb_wsc_create(l, &c), 0);
    wsrec r = {.loop = l};
    ws_open_ok(c, &r, "/ws/btcusdt@kline_1m");
    int64_t t0 = tb_ws_last_rx(r.ws);
    run_for(l, 2500); /* pings every second, no data */
    assert_int_equal(r.nmsg, 0);
    assert_true(tb_ws_last_rx(r.ws) > t0);
    assert_true(tb_ws_is_open(r.ws)); /* the pongs kept it open */
    tb_ws_close(r.ws);
    wsrec_free(&r);
    tb_wsc_destroy(c);
    tb_loop_destroy(l);
}

static void test_ws_silent_stream_stops_last_rx_but_stays_open(void **state)
{
    (void)state;
    ctl0("POST", "config", "{\"ping_interval_s\":0}"); /* silence means silence */
    tb_loop *l = new_loop();
    tb_wsc *c = NULL;
    assert_int_equal(tb_wsc_create(l, &c), 0);
    wsrec r = {.loop = l};
    ws_open_ok(c, &r, "/ws/btcusdt@kline_1m");
    wait_market_connections(l, 1);
    push_kline(0, "42001");
    r.stop_at_msgs = 1;
    if (run_for(l, 10000)) fail_msg("no kline within 10 s");
    int64_t t1 = tb_ws_last_rx(r.ws);
    assert_true(t1 > 0);
    ctl0("POST", "market", "{\"action\":\"silent\"}");
    push_kline(1, "42002");
    r.stop_at_msgs = 0;
    run_for(l, 1500);
    assert_int_equal(r.nmsg, 1);
    assert_true(tb_ws_last_rx(r.ws) == t1);
    assert_true(tb_ws_is_open(r.ws));
    assert_int_equal(r.closed, 0);
    tb_ws_close(r.ws);
    wsrec_free(&r);
    tb_wsc_destroy(c);
    tb_loop_destroy(l);
}

static void test_ws_connect_refused_calls_on_close_with_reason(void **state)
{
    (void)state;
    tb_loop *l = new_loop();
    tb_wsc *c = NULL;
    assert_int_equal(tb_wsc_create(l, &c), 0);
    wsrec r = {.loop = l, .stop_at_close = 1};
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws/btcusdt@kline_1m", tbt_free_port());
    assert_int_equal(tb_ws_open(c, url, &ws_cbs, &r, &r.ws), 0);
    assert_int_equal(r.closed, 0); /* never from inside tb_ws_open */
    if (run_for(l, 10000)) fail_msg("on_close not called within 10 s");
    assert_int_equal(r.opened, 0);
    assert_int_equal(r.closed, 1);
    if (!strstr(r.why, "connection failed") || !strstr(r.why, url))
        fail_msg("on_close said \"%s\"", r.why);
    assert_false(tb_ws_is_open(r.ws));
    tb_ws_close(r.ws);
    tb_wsc_destroy(c);
    tb_loop_destroy(l);
}

static void test_ws_open_refuses_a_url_that_is_not_ws(void **state)
{
    (void)state;
    tb_loop *l = new_loop();
    tb_wsc *c = NULL;
    assert_int_equal(tb_wsc_create(l, &c), 0);
    wsrec r = {.loop = l};
    tb_ws *ws = NULL;
    assert_int_equal(tb_ws_open(c, "http://127.0.0.1:1/ws/x", &ws_cbs, &r, &ws), TB_EINVAL);
    assert_null(ws);
    tb_wsc_destroy(c);
    tb_loop_destroy(l);
}

static void test_ws_api_answers_ping_and_time(void **state)
{
    (void)state;
    tb_loop *l = new_loop();
    tb_wsc *c = NULL;
    assert_int_equal(tb_wsc_create(l, &c), 0);
    wsrec r = {.loop = l};
    r.send_at_open[0] = "{\"id\":\"p1\",\"method\":\"ping\"}";
    r.send_at_open[1] = "{\"id\":\"t1\",\"method\":\"time\"}";
    ws_open_ok(c, &r, "/ws-api/v3");
    r.stop_at_msgs = 2;
    if (r.nmsg < 2 && run_for(l, 10000)) fail_msg("%d of 2 replies within 10 s", r.nmsg);
    json_t *p = json_loads(r.msgs[0], 0, NULL), *t = json_loads(r.msgs[1], 0, NULL);
    assert_non_null(p);
    assert_non_null(t);
    assert_string_equal(json_string_value(json_object_get(p, "id")), "p1");
    assert_int_equal(json_integer_value(json_object_get(p, "status")), 200);
    assert_string_equal(json_string_value(json_object_get(t, "id")), "t1");
    assert_true(json_integer_value(json_object_get(json_object_get(t, "result"), "serverTime")) >
                0);
    json_decref(p);
    json_decref(t);
    tb_ws_close(r.ws);
    wsrec_free(&r);
    tb_wsc_destroy(c);
    tb_loop_destroy(l);
}

/* A reply larger than lws's receive buffer arrives in pieces: one message. */
static void test_ws_long_message_arrives_whole(void **state)
{
    (void)state;
    tb_loop *l = new_loop();
    tb_wsc *c = NULL;
    assert_int_equal(tb_wsc_create(l, &c), 0);
    wsrec r = {.loop = l};
    static char id[20001], req[20100];
    memset(id, 'a', sizeof id - 1);
    snprintf(req, sizeof req, "{\"id\":\"%s\",\"method\":\"ping\"}", id);
    r.send_at_open[0] = req;
    ws_open_ok(c, &r, "/ws-api/v3");
    r.stop_at_msgs = 1;
    if (r.nmsg < 1 && run_for(l, 10000)) fail_msg("no reply within 10 s");
    assert_int_equal(r.nmsg, 1);
    json_t *p = json_loads(r.msgs[0], 0, NULL);
    assert_non_null(p);
    assert_string_equal(json_string_value(json_object_get(p, "id")), id);
    json_decref(p);
    tb_ws_close(r.ws);
    wsrec_free(&r);
    tb_wsc_destroy(c);
    tb_loop_destroy(l);
}

/* A WebSocket server of a few lines in a thread, for what the fake does not
 * do: a message sent as three fragments with a ping between them. It
 * records the pong the client sends back. */
typedef struct {
    int lfd;
    atomic_int pong_ok; /* read by the test while the thread runs */
    char pong[16];
} mini;

static int read_some(int fd, unsigned char *buf, size_t cap, size_t *len)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 5000) <= 0) return 0;
    ssize_t n = read(fd, buf + *len, cap - *len);
    if (n <= 0) return 0;
    *len += (size_t)n;
    return 1;
}

static void *mini_server(void *arg)
{
    mini *m = arg;
    struct pollfd p = {.fd = m->lfd, .events = POLLIN};
    if (poll(&p, 1, 5000) <= 0) return NULL;
    int fd = accept(m->lfd, NULL, NULL);
    if (fd < 0) return NULL;
    unsigned char buf[4096];
    size_t len = 0;
    while (!memmem(buf, len, "\r\n\r\n", 4))
        if (!read_some(fd, buf, sizeof buf - 1, &len)) goto out;
    buf[len] = '\0';
    char *k = strcasestr((char *)buf, "Sec-WebSocket-Key:");
    if (!k) goto out;
    k += 18;
    while (*k == ' ')
        k++;
    char key[128];
    size_t kl = strcspn(k, "\r");
    snprintf(key, sizeof key, "%.*s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", (int)kl, k);
    unsigned char sha[SHA_DIGEST_LENGTH], acc[64];
    SHA1((const unsigned char *)key, strlen(key), sha);
    EVP_EncodeBlock(acc, sha, SHA_DIGEST_LENGTH);
    char reply[256];
    int n = snprintf(reply, sizeof reply,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
                     "Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     (char *)acc);
    static const unsigned char frames[] = {
        0x01, 3, 'h', 'e', 'l',            /* text, not final */
        0x89, 4, 'p', 'i', 'n', 'g',       /* a ping between fragments */
        0x00, 3, 'l', 'o', ' ',            /* continuation */
        0x80, 5, 'w', 'o', 'r', 'l', 'd'}; /* continuation, final */
    if (write(fd, reply, (size_t)n) != n || write(fd, frames, sizeof frames) != sizeof frames)
        goto out;
    /* The client's frames are masked: opcode, length, 4-byte key, payload. */
    len = 0;
    for (;;) {
        while (len >= 6 && len >= 6u + (buf[1] & 0x7f)) {
            size_t pl = buf[1] & 0x7f;
            if ((buf[0] & 0x0f) == 0x0a) {
                for (size_t i = 0; i < pl && i < sizeof m->pong - 1; i++)
                    m->pong[i] = (char)(buf[6 + i] ^ buf[2 + (i & 3)]);
                m->pong_ok = 1;
                goto out;
            }
            memmove(buf, buf + 6 + pl, len - 6 - pl);
            len -= 6 + pl;
        }
        if (!read_some(fd, buf, sizeof buf, &len)) goto out;
    }
out:
    close(fd);
    return NULL;
}

static void test_ws_fragments_join_and_pings_are_answered(void **state)
{
    (void)state;
    mini m = {0};
    m.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    assert_int_equal(bind(m.lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(m.lfd, (struct sockaddr *)&a, &al), 0);
    assert_int_equal(listen(m.lfd, 1), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, mini_server, &m), 0);
    tb_loop *l = new_loop();
    tb_wsc *c = NULL;
    assert_int_equal(tb_wsc_create(l, &c), 0);
    wsrec r = {.loop = l, .stop_at_msgs = 1};
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/frag", ntohs(a.sin_port));
    assert_int_equal(tb_ws_open(c, url, &ws_cbs, &r, &r.ws), 0);
    if (run_for(l, 10000)) fail_msg("no message within 10 s (%s)", r.why);
    assert_int_equal(r.nmsg, 1);
    assert_string_equal(r.msgs[0], "hello world");
    for (int i = 0; i < 200 && !m.pong_ok; i++)
        run_for(l, 10);
    pthread_join(th, NULL);
    close(m.lfd);
    assert_true(m.pong_ok);
    assert_string_equal(m.pong, "ping");
    tb_ws_close(r.ws);
    wsrec_free(&r);
    tb_wsc_destroy(c);
    tb_loop_destroy(l);
}

static void test_ws_close_inside_on_message_stops_callbacks(void **state)
{
    (void)state;
    tb_loop *l = new_loop();
    tb_wsc *c = NULL;
    assert_int_equal(tb_wsc_create(l, &c), 0);
    wsrec r = {.loop = l};
    ws_open_ok(c, &r, "/ws/btcusdt@kline_1m");
    wait_market_connections(l, 1);
    r.close_inside_message = 1;
    push_kline(0, "42001");
    push_kline(1, "42002");
    r.stop_at_msgs = 1;
    if (run_for(l, 10000)) fail_msg("no kline within 10 s");
    r.stop_at_msgs = 0;
    run_for(l, 300);
    assert_int_equal(r.nmsg, 1);
    assert_int_equal(r.closed, 0);
    wait_market_connections(l, 0); /* the connection really closed */
    wsrec_free(&r);
    tb_wsc_destroy(c);
    tb_loop_destroy(l);
}

static void test_ws_destroy_with_connections_open_calls_nothing(void **state)
{
    (void)state;
    tb_loop *l = new_loop();
    tb_wsc *c = NULL;
    assert_int_equal(tb_wsc_create(l, &c), 0);
    wsrec r1 = {.loop = l}, r2 = {.loop = l};
    ws_open_ok(c, &r1, "/ws/btcusdt@kline_1m");
    char url[128];
    snprintf(url, sizeof url, "%s/ws/btcusdt@kline_1m", wsbase);
    assert_int_equal(tb_ws_open(c, url, &ws_cbs, &r2, &r2.ws), 0); /* still connecting */
    tb_wsc_destroy(c);
    run_for(l, 100);
    assert_int_equal(r1.closed + r2.closed + r2.opened, 0);
    tb_loop_destroy(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_http_get_time_answers_status_body_and_weight, reset),
        cmocka_unit_test_setup(test_http_requests_in_sequence_reuse_one_connection, reset),
        cmocka_unit_test_setup(test_http_on_write_comes_once_before_the_answer, reset),
        cmocka_unit_test_setup(test_http_429_reads_retry_after, reset),
        cmocka_unit_test_setup(test_http_connection_refused_is_not_sent, reset),
        cmocka_unit_test_setup(test_http_timeout_after_the_server_handled_it_is_maybe_sent, reset),
        cmocka_unit_test_setup(test_http_connection_closed_without_reply_is_maybe_sent, reset),
        cmocka_unit_test_setup(test_http_post_body_and_headers_reach_the_server, reset),
        cmocka_unit_test_setup(test_http_200_requests_in_flight_each_answered_once, reset),
        cmocka_unit_test_setup(test_http_cancel_calls_nothing, reset),
        cmocka_unit_test_setup(test_http_destroy_with_requests_pending_calls_nothing, reset),
        cmocka_unit_test_setup(test_http_destroy_from_inside_a_callback, reset),
        cmocka_unit_test_setup(test_ws_kline_stream_arrives_in_order, reset),
        cmocka_unit_test_setup(test_ws_server_close_calls_on_close, reset),
        cmocka_unit_test_setup(test_ws_dropped_connection_calls_on_close, reset),
        cmocka_unit_test_setup(test_ws_close_inside_on_close, reset),
        cmocka_unit_test_setup(test_ws_server_pings_advance_last_rx, reset),
        cmocka_unit_test_setup(test_ws_silent_stream_stops_last_rx_but_stays_open, reset),
        cmocka_unit_test_setup(test_ws_connect_refused_calls_on_close_with_reason, reset),
        cmocka_unit_test_setup(test_ws_open_refuses_a_url_that_is_not_ws, reset),
        cmocka_unit_test_setup(test_ws_api_answers_ping_and_time, reset),
        cmocka_unit_test_setup(test_ws_long_message_arrives_whole, reset),
        cmocka_unit_test_setup(test_ws_fragments_join_and_pings_are_answered, reset),
        cmocka_unit_test_setup(test_ws_close_inside_on_message_stops_callbacks, reset),
        cmocka_unit_test_setup(test_ws_destroy_with_connections_open_calls_nothing, reset),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
