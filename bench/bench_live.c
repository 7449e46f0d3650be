/* The live path against the fake Binance (the figures are described in
 * bench_live.h and docs/live.md). The kline → order latency runs
 * tb__live_run on this thread (it owns its loop) while a second thread
 * scripts the fake through /_ctl with blocking libcurl calls: one closed
 * kline at a time, the next once the previous bar's order was answered and
 * the loop is idle again. The adapter's throughput drives an adapter of its
 * own on a loop of its own, through the exchange port. */
#define _POSIX_C_SOURCE 200809L
#include "bench_live.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libwebsockets.h>

#include <tradebus/binance.h>
#include <tradebus/tradebus.h>

#include "../src/engine/live_int.h" /* tb__live_run with a latency probe */

/* The fake's default key pair (Binance's documentation example). */
#define API_KEY "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
#define SECRET  "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"

#define BARS      2000 /* closed klines pushed */
#define WARM_BARS 20   /* their orders are not counted (first connections, caches) */
#define SETTLE_US 1000 /* after a bar's order was answered: the user stream's events */
#define RATE_SECS 2.0  /* each throughput figure: requests for this long */
#define IN_CALLS  32   /* the adapter's port calls outstanding (it puts 4 on the wire) */
#define T0_MS     INT64_C(1704067200000) /* 2024-01-01T00:00:00Z */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
    nanosleep(&ts, NULL);
}

/* ---- the fake's control interface (blocking; any thread with its own handle) ---- */

typedef struct {
    char *buf;
    size_t len;
} body;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    body *b = ud;
    char *nb = realloc(b->buf, b->len + sz * n + 1);
    if (!nb) return 0;
    memcpy(nb + b->len, p, sz * n);
    b->buf = nb;
    b->len += sz * n;
    b->buf[b->len] = 0;
    return sz * n;
}

/* method base/_ctl/path with a JSON body: 0 on a 200 (its body in *out if
 * out, to free), else -1 with a line on stderr. */
static int ctl(CURL *c, const char *base, const char *method, const char *path, const char *json,
               char **out)
{
    char url[512];
    body b = {NULL, 0};
    snprintf(url, sizeof url, "%s/_ctl/%s", base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    if (!json) curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status != 200) {
        fprintf(stderr, "bench: fake Binance: %s /_ctl/%s: %s %ld %s\n", method, path,
                curl_easy_strerror(rc), status, b.buf ? b.buf : "");
        free(b.buf);
        return -1;
    }
    if (out)
        *out = b.buf;
    else
        free(b.buf);
    return 0;
}

/* Back to the start state, weight limit out of the way. */
static int fake_reset(CURL *c, const char *base)
{
    if (ctl(c, base, "POST", "reset", "{}", NULL) || ctl(c, base, "DELETE", "requests", NULL, NULL))
        return -1;
    /* The default 6000 a minute: the adapter (which follows exchangeInfo's
     * limit) would stop after ~5400 weight and the fake answer 429s. */
    if (ctl(c, base, "POST", "limits", "{\"weight_limit\":1000000000,\"clear\":true}", NULL))
        return -1;
    /* A last price: MARKET orders fill there, LIMIT buys below it rest. */
    return ctl(c, base, "POST", "book", "{\"symbol\":\"BTCUSDT\",\"lastPrice\":\"42000\"}", NULL);
}

/* The config of a testnet run against the fake (keys from the environment). */
static int live_config(tb_config *cfg, const char *base, const char *const *extra, size_t nextra)
{
    char err[512], sets[6][320];
    const char *port = strrchr(base, ':');
    if (!port || strncmp(base, "http://", 7) != 0) {
        fprintf(stderr, "bench: TB_BENCH_BINANCE_URL must be http://HOST:PORT (got %s)\n", base);
        return -1;
    }
    const char *host = base + 7;
    int hl = (int)(port - host);
    snprintf(sets[0], sizeof sets[0], "exchange.rest_url=%s", base);
    snprintf(sets[1], sizeof sets[1], "exchange.ws_api_url=ws://%.*s%s/ws-api/v3", hl, host, port);
    snprintf(sets[2], sizeof sets[2], "live.rest_url=%s", base);
    snprintf(sets[3], sizeof sets[3], "live.stream_url=ws://%.*s%s", hl, host, port);
    snprintf(sets[4], sizeof sets[4], "exchange.api_key=env:TB_BENCH_BN_KEY");
    snprintf(sets[5], sizeof sets[5], "exchange.api_secret=env:TB_BENCH_BN_SECRET");
    static const char *const common[] = {"exchange.type=binance",     "exchange.mode=testnet",
                                         "strategy.s.type=sma_cross", "strategy.s.symbol=BTCUSDT",
                                         "strategy.s.fast=1",         "strategy.s.slow=2",
                                         "strategy.s.quantity=0.01",  "output.event_log=false"};
    setenv("TB_BENCH_BN_KEY", API_KEY, 1);
    setenv("TB_BENCH_BN_SECRET", SECRET, 1);
    tb_config_init(cfg);
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
        if (tb_config_set(cfg, common[i], err, sizeof err) != 0) goto fail;
    for (size_t i = 0; i < 6; i++)
        if (tb_config_set(cfg, sets[i], err, sizeof err) != 0) goto fail;
    for (size_t i = 0; i < nextra; i++)
        if (tb_config_set(cfg, extra[i], err, sizeof err) != 0) goto fail;
    cfg->live = 1;
    if (tb_config_build(cfg, err, sizeof err) != 0) goto fail;
    return 0;
fail:
    fprintf(stderr, "bench: live config: %s\n", err);
    tb_config_free(cfg);
    return -1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* ---- 1. closed kline → order request ---- */

typedef struct {
    const char *base;
    /* Shared between the run's thread and the scripting thread, under mu;
     * written by the run's thread only, except run_over. The scripting
     * thread sleeps on cv (no polling: it would take CPU from the path
     * measured), woken when a bar's order was answered, or when a bar led
     * to none. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;                      /* the adapter's start-up: 0 pending, 1 ready, -1 failed */
    int run_over;                   /* tb__live_run returned */
    unsigned long bars;             /* bars through the pipeline */
    unsigned long handed, answered; /* order requests */
    int script_failed;              /* the scripting thread's (read after the join) */
    volatile sig_atomic_t stop;
    /* the run's thread only (read after the join) */
    int64_t *sent, *written; /* latencies, ns */
    size_t nsent, nwritten, cap;
    int64_t frame;         /* frame_at of the order handed last, until its write */
    int counting;          /* past the warm-up bars */
    unsigned long outside; /* orders handed while no stream message was handled */
} latency_run;

static void on_order(void *ctx, tb__live_order_stage stage, const char *cid, int64_t frame_at,
                     int64_t at)
{
    (void)cid;
    latency_run *x = ctx;
    switch (stage) {
    case TB__LIVE_ORDER_HANDED:
        x->counting = x->bars >= WARM_BARS;
        x->frame = frame_at;
        if (!frame_at)
            x->outside++;
        else if (x->counting && x->nsent < x->cap)
            x->sent[x->nsent++] = at - frame_at;
        pthread_mutex_lock(&x->mu);
        x->handed++;
        pthread_mutex_unlock(&x->mu);
        break;
    case TB__LIVE_ORDER_WRITTEN:
        /* The first write only (curl may write again on a fresh connection). */
        if (x->frame && x->counting && x->nwritten < x->cap)
            x->written[x->nwritten++] = at - x->frame;
        x->frame = 0;
        break;
    case TB__LIVE_ORDER_ANSWERED:
        pthread_mutex_lock(&x->mu);
        x->answered++;
        pthread_cond_signal(&x->cv);
        pthread_mutex_unlock(&x->mu);
        break;
    }
}

static void on_ready(void *ctx, int rc, const char *text)
{
    latency_run *x = ctx;
    if (rc) fprintf(stderr, "bench: live: the adapter's start-up failed: %s\n", text);
    pthread_mutex_lock(&x->mu);
    x->ready = rc ? -1 : 1;
    pthread_cond_signal(&x->cv);
    pthread_mutex_unlock(&x->mu);
}

static int on_start(tb_pipeline *p, void *ctx)
{
    return tb_binance_on_ready(tb_pipeline_exchange(p), on_ready, ctx);
}

static int on_bar(tb_pipeline *p, const tb_market_data *bar, void *ctx)
{
    (void)p, (void)bar;
    latency_run *x = ctx;
    pthread_mutex_lock(&x->mu);
    x->bars++;
    /* An order on its way wakes the script when answered. */
    if (x->handed == x->answered) pthread_cond_signal(&x->cv);
    pthread_mutex_unlock(&x->mu);
    return 0;
}

static void on_log(int level, const char *msg, void *ctx)
{
    (void)ctx;
    if (level > 0) fprintf(stderr, "bench: live: %s\n", msg);
}

/* Sleeps until done(x, arg) (called under mu) or the run ended or `seconds`
 * passed: 1 if done. */
static int wait_for(latency_run *x, int (*done)(latency_run *, unsigned long), unsigned long arg,
                    double seconds)
{
    struct timespec end;
    clock_gettime(CLOCK_REALTIME, &end);
    end.tv_sec += (time_t)seconds;
    pthread_mutex_lock(&x->mu);
    int ok;
    while (!(ok = done(x, arg)) && !x->run_over)
        if (pthread_cond_timedwait(&x->cv, &x->mu, &end) != 0) break;
    pthread_mutex_unlock(&x->mu);
    return ok;
}

static int is_ready(latency_run *x, unsigned long arg)
{
    (void)arg;
    return x->ready != 0;
}

/* Bar arg went through the pipeline and every order it led to is answered. */
static int bar_done(latency_run *x, unsigned long arg)
{
    return x->bars >= arg && x->answered == x->handed;
}

/* The market stream is subscribed on the fake. */
static int subscribed(CURL *c, const char *base)
{
    char *out = NULL;
    if (ctl(c, base, "GET", "status", NULL, &out)) return -1;
    json_t *j = json_loads(out, 0, NULL);
    free(out);
    long n = (long)json_integer_value(json_object_get(j, "market_connections"));
    json_decref(j);
    return n > 0;
}

static void *script(void *arg)
{
    latency_run *x = arg;
    CURL *c = curl_easy_init();
    int ok = c != NULL;
    if (ok && !wait_for(x, is_ready, 0, 20)) {
        fprintf(stderr, "bench: live: the adapter was not ready within 20 s\n");
        ok = 0;
    }
    ok = ok && x->ready == 1; /* set once, before the wake-up read it */
    double end = now_s() + 20;
    int sub = 0;
    while (ok && (sub = subscribed(c, x->base)) == 0 && now_s() < end)
        sleep_us(10000);
    if (ok && sub != 1) {
        fprintf(stderr, "bench: live: the market stream was not subscribed within 20 s\n");
        ok = 0;
    }
    for (int k = 0; ok && k < BARS; k++) {
        /* Closes alternating around 42000: SMA(1) crosses SMA(2) on every
         * bar, so the strategy buys and sells in turn. */
        const char *px = k % 2 ? "42010" : "41990", *prev = k % 2 ? "41990" : "42010";
        char kline[512];
        snprintf(kline, sizeof kline,
                 "{\"symbol\":\"BTCUSDT\",\"interval\":\"1m\",\"t\":%" PRId64
                 ",\"o\":\"%s\",\"h\":\"42010\",\"l\":\"41990\",\"c\":\"%s\",\"v\":\"1\","
                 "\"q\":\"42000\",\"n\":1,\"x\":true,\"store\":false}",
                 T0_MS + (int64_t)k * 60000, prev, px);
        if (ctl(c, x->base, "POST", "kline", kline, NULL)) {
            ok = 0;
            break;
        }
        if (!wait_for(x, bar_done, (unsigned long)k + 1, 10)) {
            fprintf(stderr, "bench: live: bar %d (or its order) did not go through within 10 s\n",
                    k);
            ok = 0;
            break;
        }
        sleep_us(SETTLE_US);
    }
    if (!ok) x->script_failed = 1;
    x->stop = 1;
    if (c) curl_easy_cleanup(c);
    return NULL;
}

static void emit_us(tb_bench_emit_fn emit, void *ctx, const char *name, int64_t *lat, size_t n)
{
    char nm[96];
    qsort(lat, n, sizeof *lat, cmp_i64);
    snprintf(nm, sizeof nm, "%s_p50", name);
    emit(ctx, nm, (double)lat[n / 2] / 1e3, "us");
    snprintf(nm, sizeof nm, "%s_p99", name);
    emit(ctx, nm, (double)lat[n * 99 / 100] / 1e3, "us");
}

static int bench_kline_to_order(const char *base, tb_bench_emit_fn emit, void *ctx)
{
    static const char *const extra[] = {"live.interval=1m", "live.warmup_bars=0",
                                        "live.cancel_on_exit=false"};
    tb_config cfg;
    if (live_config(&cfg, base, extra, sizeof extra / sizeof extra[0])) return TB_ECONFIG;
    latency_run x;
    memset(&x, 0, sizeof x);
    x.base = base;
    x.cap = BARS;
    pthread_mutex_init(&x.mu, NULL);
    pthread_cond_init(&x.cv, NULL);
    x.sent = calloc(BARS, sizeof *x.sent);
    x.written = calloc(BARS, sizeof *x.written);
    tb_live_options opt;
    memset(&opt, 0, sizeof opt);
    opt.log = on_log;
    opt.stop = &x.stop;
    opt.on_start = on_start;
    opt.on_bar = on_bar;
    opt.hook_ctx = &x;
    tb__live_probe probe = {on_order, &x};
    tb_backtest_result res;
    char err[512];
    pthread_t th;
    int rc = x.sent && x.written ? 0 : TB_ENOMEM;
    if (!rc && pthread_create(&th, NULL, script, &x) != 0) rc = TB_EIO;
    if (!rc) {
        double t0 = now_s();
        rc = tb__live_run(&cfg, &opt, &probe, &res, err, sizeof err);
        double dt = now_s() - t0;
        pthread_mutex_lock(&x.mu);
        x.run_over = 1;
        pthread_cond_signal(&x.cv);
        pthread_mutex_unlock(&x.mu);
        pthread_join(th, NULL);
        if (rc) {
            fprintf(stderr, "bench: live: %s\n", err);
        } else {
            if (x.script_failed) rc = TB_EIO;
            fprintf(stderr,
                    "bench: live: %" PRIu64 " bars, %" PRIu64 " orders, %" PRIu64
                    " fills in %.1f s\n",
                    res.bars, res.orders, res.fills, dt);
            tb_backtest_result_free(&res);
        }
    }
    if (!rc && x.outside)
        fprintf(stderr,
                "bench: live: %lu orders were not sent while their bar's frame was handled\n",
                x.outside);
    if (!rc && x.nsent == 0) {
        fprintf(stderr, "bench: live: no order was timed\n");
        rc = TB_EIO;
    }
    if (!rc) {
        emit_us(emit, ctx, "live_kline_to_order_sent", x.sent, x.nsent);
        /* libcurl before 7.80 tells no write (no CURLOPT_PREREQFUNCTION). */
        if (x.nwritten)
            emit_us(emit, ctx, "live_kline_to_order_written", x.written, x.nwritten);
        else
            fprintf(stderr, "bench: live: libcurl told no request write: "
                            "live_kline_to_order_written skipped\n");
        emit(ctx, "live_kline_to_order_samples", (double)x.nsent, "orders");
    }
    free(x.sent);
    free(x.written);
    pthread_cond_destroy(&x.cv);
    pthread_mutex_destroy(&x.mu);
    tb_config_free(&cfg);
    return rc;
}

/* ---- 2. the adapter's REST throughput ---- */

typedef struct {
    tb_loop *loop;
    tb_exchange *ex;
    int ready, ready_rc;
    int gets;         /* signed look-ups of one order (else placement + cancel) */
    int setup;        /* placing the order the look-ups read */
    int issued, done; /* port calls (a placement and its cancel: one) */
    int failed;
    uint64_t requests; /* REST requests answered since t0 */
    int timing;
    double t0, t_end, deadline;
} rate_run;

static void rate_on_ready(void *ctx, int rc, const char *text)
{
    rate_run *x = ctx;
    x->ready = 1;
    x->ready_rc = rc;
    if (rc) fprintf(stderr, "bench: adapter: start-up failed: %s\n", text);
    tb_loop_stop(x->loop);
}

static void on_response(const tb_exchange_response *r, void *ctx)
{
    rate_run *x = ctx;
    if (r->kind == TB_XR_REJECTED) {
        fprintf(stderr, "bench: adapter: %s rejected: %s\n", r->client_order_id, r->text);
        x->failed++;
        tb_loop_stop(x->loop);
    }
}

static void fail_call(rate_run *x, const char *what, const char *cid, int rc, const char *text)
{
    fprintf(stderr, "bench: adapter: %s %s: %s%s%s\n", what, cid, tb_strerror(rc),
            text && text[0] ? ": " : "", text ? text : "");
    x->failed++;
    tb_loop_stop(x->loop);
}

/* A LIMIT buy below the last price: it rests until canceled. */
static void place(rate_run *x, const char *cid)
{
    tb_order_placement_request q;
    memset(&q, 0, sizeof q);
    snprintf(q.client_order_id, sizeof q.client_order_id, "%s", cid);
    snprintf(q.symbol, sizeof q.symbol, "BTCUSDT");
    snprintf(q.strategy_id, sizeof q.strategy_id, "s");
    q.side = TB_SIDE_BUY;
    q.order_type = TB_ORDER_LIMIT;
    q.time_in_force = TB_TIF_GTC;
    q.quantity = TB_DECIMAL_ONE / 1000; /* 0.001 */
    q.price = 30000 * TB_DECIMAL_ONE;
    tb_exchange_error xe;
    int rc = tb_exchange_submit(x->ex, &q, tb_loop_now(x->loop), &xe);
    if (rc != TB_EINPROGRESS) fail_call(x, "submit", cid, rc, xe.text);
}

static void issue(rate_run *x)
{
    char cid[32];
    x->issued++;
    if (x->gets) {
        tb_exchange_error xe;
        tb_exchange_order_info info;
        int rc = tb_exchange_query(x->ex, "s-0", tb_loop_now(x->loop), &info, &xe);
        if (rc != TB_EINPROGRESS) fail_call(x, "query", "s-0", rc, xe.text);
        return;
    }
    snprintf(cid, sizeof cid, "s-%d", x->issued);
    place(x, cid);
}

static void on_result(const tb_exchange_result *r, void *ctx)
{
    rate_run *x = ctx;
    if (r->rc) {
        fail_call(x,
                  r->op == TB_XOP_SUBMIT   ? "submit"
                  : r->op == TB_XOP_CANCEL ? "cancel"
                                           : "query",
                  r->client_order_id, r->rc, r->xerr.text);
        return;
    }
    if (x->setup) {
        x->setup = 0;
        tb_loop_stop(x->loop);
        return;
    }
    if (r->op == TB_XOP_SUBMIT) {
        /* Resting: cancel it (placement and cancel are one call done). */
        tb_exchange_error xe;
        int rc = tb_exchange_cancel(x->ex, r->client_order_id, tb_loop_now(x->loop), &xe);
        if (rc != TB_EINPROGRESS) fail_call(x, "cancel", r->client_order_id, rc, xe.text);
        return;
    }
    x->done++;
    if (x->timing) x->requests += x->gets ? 1 : 2;
    if (!x->timing && x->done == IN_CALLS * 4) {
        /* Warm: the clock starts now. */
        x->timing = 1;
        x->t0 = now_s();
        x->deadline = x->t0 + RATE_SECS;
    }
    if (x->timing && now_s() >= x->deadline) {
        if (x->done == x->issued) {
            x->t_end = now_s();
            tb_loop_stop(x->loop);
        }
        return;
    }
    issue(x);
}

static void on_guard(void *ctx, int64_t at)
{
    (void)at;
    rate_run *x = ctx;
    fprintf(stderr, "bench: adapter: stuck (%d of %d calls done)\n", x->done, x->issued);
    x->failed++;
    tb_loop_stop(x->loop);
}

/* Requests per second through the adapter; < 0 on failure. */
static double adapter_rate(const char *base, CURL *c, int gets)
{
    tb_config cfg;
    if (fake_reset(c, base) || live_config(&cfg, base, NULL, 0)) return -1;
    rate_run x;
    memset(&x, 0, sizeof x);
    double rate = -1;
    char err[512];
    tb_timer_id guard = 0;
    if (tb_loop_create(TB_CLOCK_WALL, &x.loop) != 0) goto out;
    if (tb_exchange_create_from_config(&cfg, x.loop, &x.ex, err, sizeof err) != 0) {
        fprintf(stderr, "bench: adapter: %s\n", err);
        goto out;
    }
    tb_exchange_set_listener(x.ex, on_response, &x);
    tb_exchange_set_result_listener(x.ex, on_result, &x);
    if (tb_binance_on_ready(x.ex, rate_on_ready, &x) != 0 ||
        tb_loop_timer_start(x.loop, tb_loop_now(x.loop) + INT64_C(30000000000), on_guard, &x,
                            &guard) != 0)
        goto out;
    while (!x.ready && !x.failed)
        tb_loop_run(x.loop);
    if (x.ready_rc || x.failed) goto out;
    if (gets) {
        /* The order the look-ups read. */
        x.setup = 1;
        place(&x, "s-0");
        while (x.setup && !x.failed)
            tb_loop_run(x.loop);
        if (x.failed) goto out;
        x.gets = 1;
    }
    for (int i = 0; i < IN_CALLS; i++)
        issue(&x);
    tb_loop_run(x.loop);
    if (!x.failed && x.timing && x.t_end > x.t0) {
        tb_binance_status st;
        tb_binance_status_get(x.ex, &st);
        if (st.blocked_until)
            fprintf(stderr, "bench: adapter: blocked by a 429/418: %s\n", st.last_error);
        else
            rate = (double)x.requests / (x.t_end - x.t0);
    }
out:
    if (guard) tb_loop_timer_stop(x.loop, guard);
    tb_exchange_destroy(x.ex);
    if (x.loop) tb_loop_destroy(x.loop);
    tb_config_free(&cfg);
    return rate;
}

int tb_bench_live(const char *base, tb_bench_emit_fn emit, void *ctx)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL); /* not a notice per WebSocket client */
    CURL *c = curl_easy_init();
    int rc = c ? 0 : TB_ENOMEM;
    if (!rc && fake_reset(c, base)) rc = TB_EIO;
    if (!rc) rc = bench_kline_to_order(base, emit, ctx);
    double pc = rc ? -1 : adapter_rate(base, c, 0);
    if (pc >= 0) emit(ctx, "adapter_rest_place_cancel", pc, "req/s");
    double gets = pc < 0 ? -1 : adapter_rate(base, c, 1);
    if (gets >= 0) emit(ctx, "adapter_rest_signed_get", gets, "req/s");
    if (!rc && (pc < 0 || gets < 0)) rc = TB_EIO;
    if (c) curl_easy_cleanup(c);
    curl_global_cleanup();
    return rc;
}
