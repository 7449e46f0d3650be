/* GET /api/v3/time per second through tb_http on a wall-clock tb_loop: in
 * sequence (each request sent from the previous one's callback: latency
 * bound) and with IN_FLIGHT requests kept in flight (throughput bound). */
#define _POSIX_C_SOURCE 200809L
#include "bench_net.h"

#include <stdio.h>
#include <time.h>

#include "../src/net/http.h"

#define SEQUENTIAL 3000
#define CONCURRENT 20000
#define IN_FLIGHT  64

typedef struct {
    tb_loop *loop;
    tb_http *h;
    tb_http_request rq;
    int sent, answered, failed, total;
} run;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_answer(void *ctx, const tb_http_response *r)
{
    run *x = ctx;
    x->answered++;
    if (r->outcome != TB_HTTP_DONE || r->status != 200) x->failed++;
    if (x->sent < x->total) {
        x->sent++;
        if (tb_http_send(x->h, &x->rq, on_answer, x, NULL) != 0) x->failed++;
    }
    if (x->answered == x->total) tb_loop_stop(x->loop);
}

/* Requests per second for total requests with in_flight at a time; < 0 on
 * failure. body: sent as a POST instead (the fake's control calls). */
static double measure(const char *url, const char *body, int total, int in_flight)
{
    run x = {.total = total, .rq = {.method = body ? "POST" : "GET", .url = url, .body = body}};
    if (tb_loop_create(TB_CLOCK_WALL, &x.loop) != 0) return -1;
    if (tb_http_create(x.loop, &x.h) != 0) {
        tb_loop_destroy(x.loop);
        return -1;
    }
    /* One warm-up request opens the first connection. */
    x.total = 1;
    x.sent = 1;
    tb_http_send(x.h, &x.rq, on_answer, &x, NULL);
    tb_loop_run(x.loop);
    x.total = total;
    x.sent = x.answered = 0;
    double t0 = now_s();
    for (int i = 0; i < in_flight && x.sent < total; i++) {
        x.sent++;
        if (tb_http_send(x.h, &x.rq, on_answer, &x, NULL) != 0) x.failed++;
    }
    tb_loop_run(x.loop);
    double dt = now_s() - t0;
    tb_http_destroy(x.h);
    tb_loop_destroy(x.loop);
    if (x.failed || x.answered != total) {
        fprintf(stderr, "bench: %d of %d requests to %s failed\n", x.failed, total, url);
        return -1;
    }
    return (double)total / dt;
}

int tb_bench_net(const char *base, tb_bench_emit_fn emit, void *ctx)
{
    char url[256];
    /* The fake's request-weight limit (6000 a minute) would answer 429s. */
    snprintf(url, sizeof url, "%s/_ctl/limits", base);
    if (measure(url, "{\"weight_limit\":1000000000,\"clear\":true}", 1, 1) < 0) return TB_EIO;
    snprintf(url, sizeof url, "%s/api/v3/time", base);
    double seq = measure(url, NULL, SEQUENTIAL, 1);
    if (seq < 0) return TB_EIO;
    emit(ctx, "http_get_sequential", seq, "req/s");
    double con = measure(url, NULL, CONCURRENT, IN_FLIGHT);
    if (con < 0) return TB_EIO;
    emit(ctx, "http_get_64_in_flight", con, "req/s");
    return 0;
}
