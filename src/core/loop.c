/* The event loop: libuv for signals, sockets and wall-clock waits, and one
 * timer heap for both clocks.
 *
 * Timers live in a binary min-heap ordered by (due time, start sequence), so
 * two timers due at the same time fire in the order they were started and a
 * simulated run is deterministic. On the wall clock a single uv_timer is
 * armed for the earliest due time; when it fires every due timer runs and
 * it is armed again. Timers are rare (retries, reconnects, heartbeats): the
 * per-bar cost on the simulated clock is one comparison with the heap top. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "hot.h"
#include "tradebus/loop.h"

typedef struct {
    int64_t at;
    uint64_t seq; /* also its id */
    tb_timer_fn fn;
    void *ctx;
} timer;

struct tb_loop {
    tb_clock_kind clock;
    int64_t now; /* simulated clock */
    timer *heap;
    size_t n, cap;
    uint64_t next_seq;
    uv_loop_t uv;
    uv_timer_t wake; /* wall clock: armed for the heap's top */
    uv_signal_t sigint, sigterm;
    int signals_on;
    tb_signal_fn on_signal;
    void *signal_ctx;
    int firing; /* inside fire_due: the wall timer is re-armed once, after */
};

static int before(const timer *a, const timer *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void sift_up(timer *h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&h[i], &h[p])) break;
        timer t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

static void sift_down(timer *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && before(&h[l], &h[m])) m = l;
        if (r < n && before(&h[r], &h[m])) m = r;
        if (m == i) return;
        timer t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void remove_at(tb_loop *l, size_t i)
{
    l->heap[i] = l->heap[--l->n];
    if (i < l->n) {
        sift_down(l->heap, l->n, i);
        sift_up(l->heap, i);
    }
}

static int64_t wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void arm(tb_loop *l);

/* Fires every timer due at or before to, in order; returns how many. */
static int fire_due(tb_loop *l, int64_t to)
{
    int fired = 0;
    l->firing++;
    while (l->n > 0 && l->heap[0].at <= to) {
        timer t = l->heap[0];
        remove_at(l, 0);
        if (l->clock == TB_CLOCK_SIMULATED && t.at > l->now) l->now = t.at;
        t.fn(t.ctx, t.at);
        fired++;
    }
    l->firing--;
    return fired;
}

static void on_wake(uv_timer_t *h)
{
    tb_loop *l = h->data;
    fire_due(l, wall_now());
    arm(l);
}

/* Wall clock: the uv timer waits for the earliest due time (ms resolution,
 * rounded up so a timer never fires early). */
static void arm(tb_loop *l)
{
    if (l->clock != TB_CLOCK_WALL || l->firing) return;
    if (l->n == 0) {
        uv_timer_stop(&l->wake);
        return;
    }
    int64_t d = l->heap[0].at - wall_now();
    uint64_t ms = d <= 0 ? 0 : (uint64_t)((d + 999999) / 1000000);
    uv_timer_start(&l->wake, on_wake, ms, 0);
}

int tb_loop_create(tb_clock_kind clock, tb_loop **out)
{
    if (!out || (clock != TB_CLOCK_SIMULATED && clock != TB_CLOCK_WALL)) return TB_EINVAL;
    tb_loop *l = calloc(1, sizeof(*l));
    if (!l) return TB_ENOMEM;
    l->clock = clock;
    l->next_seq = 1;
    if (uv_loop_init(&l->uv) != 0) {
        free(l);
        return TB_EIO;
    }
    uv_timer_init(&l->uv, &l->wake);
    l->wake.data = l; /* armed only while a wall-clock timer is pending */
    *out = l;
    return 0;
}

void tb_loop_destroy(tb_loop *l)
{
    if (!l) return;
    uv_close((uv_handle_t *)&l->wake, NULL);
    if (l->signals_on) {
        uv_close((uv_handle_t *)&l->sigint, NULL);
        uv_close((uv_handle_t *)&l->sigterm, NULL);
    }
    uv_run(&l->uv, UV_RUN_NOWAIT); /* lets the close callbacks run */
    uv_loop_close(&l->uv);
    free(l->heap);
    free(l);
}

tb_clock_kind tb_loop_clock(const tb_loop *l)
{
    return l->clock;
}

int64_t tb_loop_now(const tb_loop *l)
{
    return l->clock == TB_CLOCK_WALL ? wall_now() : l->now;
}

int tb_loop_timer_start(tb_loop *l, int64_t at, tb_timer_fn fn, void *ctx, tb_timer_id *id)
{
    if (!l || !fn) return TB_EINVAL;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        timer *nh = realloc(l->heap, nc * sizeof(*nh));
        if (!nh) return TB_ENOMEM;
        l->heap = nh;
        l->cap = nc;
    }
    timer *t = &l->heap[l->n];
    t->at = at;
    t->seq = l->next_seq++;
    t->fn = fn;
    t->ctx = ctx;
    if (id) *id = t->seq;
    sift_up(l->heap, l->n++);
    arm(l);
    return 0;
}

int tb_loop_timer_stop(tb_loop *l, tb_timer_id id)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->heap[i].seq == id) {
            remove_at(l, i);
            arm(l);
            return 0;
        }
    return TB_ENOTFOUND;
}

size_t tb_loop_timers(const tb_loop *l)
{
    return l->n;
}

int tb_loop_next_due(const tb_loop *l, int64_t *at)
{
    if (l->n == 0) return TB_ENOTFOUND;
    *at = l->heap[0].at;
    return 0;
}

TB__HOT int tb_loop_advance(tb_loop *l, int64_t to)
{
    if (l->clock != TB_CLOCK_SIMULATED) return TB_EMISUSE;
    int fired = l->n > 0 && l->heap[0].at <= to ? fire_due(l, to) : 0;
    if (to > l->now) l->now = to;
    return fired;
}

int tb_loop_drain(tb_loop *l)
{
    if (l->clock != TB_CLOCK_SIMULATED) return TB_EMISUSE;
    return fire_due(l, INT64_MAX);
}

static void on_uv_signal(uv_signal_t *h, int signum)
{
    tb_loop *l = h->data;
    if (l->on_signal) l->on_signal(l->signal_ctx, signum);
}

int tb_loop_watch_signals(tb_loop *l, tb_signal_fn fn, void *ctx)
{
    l->on_signal = fn;
    l->signal_ctx = ctx;
    if (l->signals_on) return 0;
    if (uv_signal_init(&l->uv, &l->sigint) != 0) return TB_EIO;
    if (uv_signal_init(&l->uv, &l->sigterm) != 0) {
        uv_close((uv_handle_t *)&l->sigint, NULL);
        return TB_EIO;
    }
    l->sigint.data = l->sigterm.data = l;
    l->signals_on = 1;
    if (uv_signal_start(&l->sigint, on_uv_signal, SIGINT) != 0 ||
        uv_signal_start(&l->sigterm, on_uv_signal, SIGTERM) != 0)
        return TB_EIO;
    return 0;
}

int tb_loop_poll(tb_loop *l)
{
    uv_run(&l->uv, UV_RUN_NOWAIT);
    return 0;
}

int tb_loop_run(tb_loop *l)
{
    uv_run(&l->uv, UV_RUN_DEFAULT);
    return 0;
}

void tb_loop_stop(tb_loop *l)
{
    uv_stop(&l->uv);
}

struct uv_loop_s *tb_loop_uv(tb_loop *l)
{
    return &l->uv;
}
