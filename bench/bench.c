/* tradebus benchmark: prints "bench NAME VALUE UNIT" lines and writes JSON.
 *
 * Figures (issue #2): bus throughput (one publisher, one subscriber, one
 * thread), full-pipeline throughput (one sma_cross on one symbol, event log
 * off), market-data-in → order-sent latency, heap allocations per bar in
 * steady state, and peak RSS at 1M and 10M bars (each size in a fresh child
 * process so the peaks do not mix). Bars come from an in-memory seeded
 * random walk, so the figures measure the pipeline, not the disk. Then the
 * JSON event decoder every event from the broker goes through (time and
 * allocations per decode), beside its jansson path alone (the decoder as it
 * was before the allocation-free path). Against a fake Binance
 * (TB_BENCH_BINANCE_URL): the HTTP client's requests per second
 * (bench_net.c), then the live path: closed kline frame read → order request
 * written, and the Binance adapter's REST throughput (bench_live.c). And a
 * program as a component (issue #15, bench_external.c): round trips per
 * second through tb_external with the C and Python example echoes.
 *
 * Market data in (issue #17, bench_md.c): the CSV reader alone in lines/s.
 *
 *   usage: tradebus_bench [--json FILE]
 *                         [--pipeline-only | --codec-only | --journal-only | --external-only |
 * --lua-only |
 *                          --md-only | --sweep-only | --dist-only | --net-only | --live-only] */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <tradebus/tradebus.h>

#include "../src/migration/legacy_int.h" /* the monolith's runner, before and after */
#include "../src/core/codec_paths.h"     /* the decoder's jansson path alone, for before/after */
#include "bench_dist.h"
#include "bench_external.h"
#include "bench_live.h"
#include "bench_lua.h"
#include "bench_md.h"
#include "bench_sweep.h"
#include "bench_net.h"

/* ---- allocation counting: interpose malloc and friends (glibc) ---- */
/* Exported (the build hides symbols by default): the shared libraries'
 * calls, jansson's among them, must reach these too, not only the calls
 * from the statically linked library. */
#define INTERPOSE __attribute__((visibility("default")))
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static uint64_t g_allocs;
INTERPOSE void *malloc(size_t n)
{
    g_allocs++;
    return __libc_malloc(n);
}
INTERPOSE void *calloc(size_t a, size_t b)
{
    g_allocs++;
    return __libc_calloc(a, b);
}
INTERPOSE void *realloc(void *p, size_t n)
{
    g_allocs++;
    return __libc_realloc(p, n);
}
INTERPOSE void free(void *p)
{
    __libc_free(p);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

typedef struct {
    FILE *json;
    int first;
} report;

static void emit(report *r, const char *name, double value, const char *unit)
{
    printf("bench %s %.6g %s\n", name, value, unit);
    fflush(stdout);
    if (r->json)
        fprintf(r->json, "%s\n  \"%s\": {\"value\": %.6g, \"unit\": \"%s\"}", r->first ? "" : ",",
                name, value, unit);
    r->first = 0;
}

static void emit_cb(void *ctx, const char *name, double value, const char *unit)
{
    emit(ctx, name, value, unit);
}

/* The example components, by path (CMakeLists.txt passes them). */
static void bench_external(report *r, int *status)
{
    const char *py = NULL;
    if (system("command -v python3 >/dev/null 2>&1") == 0)
        py = "python3 " TB_SOURCE_DIR "/examples/components/echo.py";
    else
        fprintf(stderr, "bench: no python3: the Python echo's figures skipped\n");
    if (tb_bench_external(TB_BENCH_ECHO, py, &g_allocs, emit_cb, r) != 0) *status = 1;
}

/* The Lua sma_cross beside the built-in (bench_lua.c). */
static void bench_lua(report *r, int *status)
{
    if (tb_bench_lua(TB_SOURCE_DIR "/examples/strategies/sma_cross.lua", &g_allocs, emit_cb, r) !=
        0)
        *status = 1;
}

/* ---- bars: a seeded random walk in whole cents ---- */
typedef struct {
    uint64_t s;
    int64_t price; /* 1e-8 units */
    int64_t t;
} walk;

static uint64_t next_rand(walk *w)
{
    uint64_t z = (w->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void next_bar(walk *w, tb_market_data *b)
{
    int64_t cent = 1000000; /* 0.01 */
    int64_t open = w->price;
    int64_t move = ((int64_t)(next_rand(w) % 2001) - 1000) * cent; /* ±10.00 */
    int64_t close = open + move;
    if (close < 1000 * TB_DECIMAL_ONE) close = 1000 * TB_DECIMAL_ONE + cent;
    int64_t hi = (open > close ? open : close) + (int64_t)(next_rand(w) % 500) * cent;
    int64_t lo = (open < close ? open : close) - (int64_t)(next_rand(w) % 500) * cent;
    memset(b, 0, sizeof(*b));
    memcpy(b->symbol, "BTCUSDT", 8);
    b->open = open;
    b->high = hi;
    b->low = lo;
    b->close = close;
    b->volume = (int64_t)(1 + next_rand(w) % 100) * TB_DECIMAL_ONE;
    b->open_time = w->t;
    b->close_time = w->t + 59999000000LL;
    w->t += 60000000000LL;
    w->price = close;
}

/* n bars of the seeded walk (caller frees); NULL out of memory. */
static tb_market_data *make_bars(size_t n)
{
    tb_market_data *bars = malloc(n * sizeof(*bars));
    walk w = {42, 42000 * TB_DECIMAL_ONE, 1704067200000000000LL};
    for (size_t i = 0; bars && i < n; i++)
        next_bar(&w, &bars[i]);
    return bars;
}

static int build_config(tb_config *cfg)
{
    char err[256];
    tb_config_init(cfg);
    const char *sets[] = {"backtest.initial_cash=1000000000",
                          "strategy.s.type=sma_cross",
                          "strategy.s.symbol=BTCUSDT",
                          "strategy.s.fast=10",
                          "strategy.s.slow=30",
                          "strategy.s.quantity=0.01",
                          "strategy.s.allow_short=true",
                          "output.event_log=false"};
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
        if (tb_config_set(cfg, sets[i], err, sizeof(err)) != 0) return -1;
    tb_config_add_data(cfg, "unused.csv");
    if (tb_config_build(cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench: config: %s\n", err);
        return -1;
    }
    return 0;
}

/* ---- 1. bus ---- */
static int sink(const tb_event *ev, void *ctx)
{
    (*(uint64_t *)ctx) += (uint64_t)ev->timestamp;
    return 0;
}

static void bench_bus(report *r)
{
    tb_bus *bus;
    tb_bus_create(NULL, &bus);
    uint64_t acc = 0;
    tb_bus_subscribe(bus, TB_EV_MARKET_DATA, sink, &acc);
    tb_event ev;
    tb_event_init(&ev, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
    const uint64_t n = 20000000;
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        ev.event_id = 0;
        ev.correlation_id = 0;
        ev.timestamp = (int64_t)i;
        tb_bus_publish(bus, &ev);
    }
    double dt = now_s() - t0;
    if (acc == 0) printf("?\n");
    emit(r, "bus_throughput", (double)n / dt, "events/s");
    emit(r, "bus_publish_dispatch", dt / (double)n * 1e9, "ns/event");
    tb_bus_destroy(bus);
}

/* The queued path: events published from inside a handler go through the
 * ring (the path every event after the first of a chain takes). */
typedef struct {
    tb_bus *bus;
    uint64_t per_call;
} fanout;

static int fan(const tb_event *ev, void *ctx)
{
    fanout *f = ctx;
    tb_event out;
    tb_event_init(&out, TB_EV_SIGNAL_GENERATED, TB_SRC_SIGNAL);
    tb_event_caused_by(&out, ev);
    for (uint64_t i = 0; i < f->per_call; i++) {
        out.event_id = 0;
        out.timestamp = (int64_t)i;
        tb_bus_publish(f->bus, &out);
    }
    return 0;
}

static void bench_bus_queued(report *r)
{
    tb_bus *bus;
    tb_bus_create(NULL, &bus);
    uint64_t acc = 0;
    fanout f = {bus, 512}; /* fits the default ring: no growth, as in steady state */
    tb_bus_subscribe(bus, TB_EV_MARKET_DATA, fan, &f);
    tb_bus_subscribe(bus, TB_EV_SIGNAL_GENERATED, sink, &acc);
    tb_event ev;
    tb_event_init(&ev, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
    const uint64_t rounds = 40000;
    double t0 = now_s();
    for (uint64_t i = 0; i < rounds; i++) {
        ev.event_id = 0;
        ev.correlation_id = 0;
        tb_bus_publish(bus, &ev);
    }
    double dt = now_s() - t0;
    emit(r, "bus_throughput_queued", (double)(rounds * f.per_call) / dt, "events/s");
    tb_bus_destroy(bus);
}

/* ---- 2-4. pipeline ---- */
typedef struct {
    int64_t t_in;
    int64_t *lat;
    size_t nlat, cap;
} lat_probe;

static int on_request(const tb_event *ev, void *ctx)
{
    (void)ev;
    lat_probe *p = ctx;
    if (p->nlat < p->cap) p->lat[p->nlat++] = now_ns() - p->t_in;
    return 0;
}

/* The simulator's observer: a submit has reached its book. */
static void on_submit(const tb_exchange *ex, const tb_sim_request *rq, void *ctx)
{
    (void)ex;
    lat_probe *p = ctx;
    if (rq->kind == TB_SIM_REQ_SUBMIT && p->nlat < p->cap) p->lat[p->nlat++] = now_ns() - p->t_in;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void bench_pipeline(report *r)
{
    tb_config cfg;
    if (build_config(&cfg) != 0) return;
    tb_pipeline *p;
    char err[256];
    if (tb_pipeline_create(&cfg, NULL, &p, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench: %s\n", err);
        return;
    }
    const size_t n = 5000000, warm = 100000;
    tb_market_data *bars = make_bars(n);
    if (!bars) {
        tb_pipeline_destroy(p);
        tb_config_free(&cfg);
        return;
    }

    for (size_t i = 0; i < warm; i++)
        tb_pipeline_push_bar(p, &bars[i]);
    uint64_t a0 = g_allocs;
    double t0 = now_s();
    for (size_t i = warm; i < n; i++)
        tb_pipeline_push_bar(p, &bars[i]);
    double dt = now_s() - t0;
    uint64_t allocs = g_allocs - a0;
    tb_backtest_result res;
    tb_pipeline_result(p, &res);
    emit(r, "pipeline_throughput", (double)(n - warm) / dt, "bars/s");
    emit(r, "pipeline_orders", (double)res.orders, "orders");
    emit(r, "allocations_per_bar", (double)allocs / (double)(n - warm), "allocs/bar");
    tb_backtest_result_free(&res);
    tb_pipeline_destroy(p);

    /* Latency: a fresh pipeline, timing each bar from its push to the
     * moment its order reaches the exchange (the simulator's observer, once
     * the order is on its book): tick-to-trade. The same orders are timed
     * again at the dispatch of their OrderPlacementRequest to the bus's
     * observers, which comes later on a bar that also filled an earlier
     * order: the Order Manager sends the order from the signal's handler,
     * but the request event waits in the bus's FIFO behind the fill's
     * PositionUpdates, queued before it. */
    lat_probe probe = {0, malloc(n * sizeof(int64_t)), 0, n};
    lat_probe seen = {0, malloc(n * sizeof(int64_t)), 0, n};
    cfg.exchange.observer = on_submit;
    cfg.exchange.observer_ctx = &probe;
    if (tb_pipeline_create(&cfg, NULL, &p, err, sizeof(err)) != 0) return;
    /* The same orders split by their bar: one whose open also filled an
     * earlier order dispatches that fill's OrderFilled before the new
     * signal, in the bus's FIFO order. */
    int64_t *plain = malloc(n * sizeof(int64_t));
    size_t nplain = 0;
    tb_bus *bus = tb_pipeline_bus(p);
    tb_bus_subscribe(bus, TB_EV_ORDER_PLACEMENT_REQUEST, on_request, &seen);
    for (size_t i = 0; i < n; i++) {
        uint64_t fills = tb_bus_get_counters(bus, TB_EV_ORDER_FILLED).published;
        size_t before = probe.nlat;
        probe.t_in = seen.t_in = now_ns();
        tb_pipeline_push_bar(p, &bars[i]);
        if (probe.nlat > before && plain &&
            tb_bus_get_counters(bus, TB_EV_ORDER_FILLED).published == fills)
            plain[nplain++] = probe.lat[probe.nlat - 1];
    }
    qsort(probe.lat, probe.nlat, sizeof(int64_t), cmp_i64);
    if (probe.nlat) {
        emit(r, "md_to_order_p50", (double)probe.lat[probe.nlat / 2], "ns");
        emit(r, "md_to_order_p99", (double)probe.lat[probe.nlat * 99 / 100], "ns");
        emit(r, "md_to_order_p999", (double)probe.lat[probe.nlat * 999 / 1000], "ns");
        emit(r, "md_to_order_samples", (double)probe.nlat, "orders");
        emit(r, "md_to_order_share_on_a_fill_bar",
             (double)(probe.nlat - nplain) / (double)probe.nlat, "x");
    }
    if (nplain) {
        qsort(plain, nplain, sizeof(int64_t), cmp_i64);
        emit(r, "md_to_order_no_fill_p50", (double)plain[nplain / 2], "ns");
        emit(r, "md_to_order_no_fill_p99", (double)plain[nplain * 99 / 100], "ns");
    }
    qsort(seen.lat, seen.nlat, sizeof(int64_t), cmp_i64);
    if (seen.nlat) {
        emit(r, "md_to_order_event_p50", (double)seen.lat[seen.nlat / 2], "ns");
        emit(r, "md_to_order_event_p99", (double)seen.lat[seen.nlat * 99 / 100], "ns");
    }
    free(seen.lat);
    free(plain);
    free(probe.lat);
    tb_pipeline_destroy(p);
    free(bars);
    tb_config_free(&cfg);
}

/* ---- 6. before and after: the legacy monolith vs the pipeline ---- */
typedef struct {
    int64_t t_in;
    int64_t *lat;
    size_t nlat, cap;
} order_probe;

static int on_legacy_record(const tb_trade_record *rec, void *ctx)
{
    order_probe *p = ctx;
    if (rec->kind == TB_REC_ORDER && p->nlat < p->cap) p->lat[p->nlat++] = now_ns() - p->t_in;
    return 0;
}

static void emit_percentiles(report *r, const char *prefix, int64_t *lat, size_t n)
{
    char name[64];
    qsort(lat, n, sizeof(int64_t), cmp_i64);
    if (!n) return;
    snprintf(name, sizeof(name), "%s_md_to_order_p50", prefix);
    emit(r, name, (double)lat[n / 2], "ns");
    snprintf(name, sizeof(name), "%s_md_to_order_p99", prefix);
    emit(r, name, (double)lat[n * 99 / 100], "ns");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The monolith and the pipeline on the same bars, timed in pairs: each
 * takes the next CHUNK bars in turn (who goes first alternates), so both
 * halves of a pair run within a few milliseconds of each other. This VM's
 * speed moves in phases of a second or more (the same code measures 3.3 M
 * or 5.6 M bars/s run to run), which a run of one then a run of the other
 * turns into a ratio anywhere from 0.54 to 0.81; within a pair it cancels.
 * Each side's throughput is its best pair (its speed in a quiet phase) and
 * pipeline_to_monolith_ratio their ratio, as the best of three whole runs
 * each was before; the pairs' own ratios are given too (p10, median, p90):
 * they spread because a busy neighbour slows the pipeline, bound by memory
 * and branches, more than the monolith, bound by its divisions. */
static void paired_throughput(report *r, const tb_config *cfg, const tb_market_data *bars, size_t n)
{
    enum { CHUNK = 20000 };
    tb__legacy_runner *lr = NULL;
    tb_pipeline *p = NULL;
    char err[256];
    size_t npairs = n / CHUNK;
    double *ratio = malloc((npairs ? npairs : 1) * sizeof(*ratio));
    if (!ratio || tb__legacy_runner_create(cfg, NULL, 0, NULL, NULL, &lr, err, sizeof(err)) != 0 ||
        tb_pipeline_create(cfg, NULL, &p, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench: before/after: %s\n", ratio ? err : "out of memory");
        tb__legacy_runner_destroy(lr);
        free(ratio);
        return;
    }
    double best_m = 0, best_p = 0, sum_m = 0, sum_p = 0;
    for (size_t k = 0; k < npairs; k++) {
        const tb_market_data *b = bars + k * CHUNK;
        double dm = 0, dp = 0;
        for (int side = 0; side < 2; side++) {
            int mono = (side ^ (int)(k & 1)) == 0; /* the monolith first on even pairs */
            double t0 = now_s();
            if (mono)
                for (size_t i = 0; i < CHUNK; i++)
                    tb__legacy_runner_on_bar(lr, &b[i]);
            else
                for (size_t i = 0; i < CHUNK; i++)
                    tb_pipeline_push_bar(p, &b[i]);
            *(mono ? &dm : &dp) = now_s() - t0;
        }
        sum_m += dm;
        sum_p += dp;
        if (CHUNK / dm > best_m) best_m = CHUNK / dm;
        if (CHUNK / dp > best_p) best_p = CHUNK / dp;
        ratio[k] = dm / dp; /* pipeline bars/s over monolith bars/s */
    }
    tb__legacy_runner_destroy(lr);
    tb_pipeline_destroy(p);
    if (!npairs) {
        free(ratio);
        return;
    }
    qsort(ratio, npairs, sizeof(*ratio), cmp_double);
    emit(r, "monolith_throughput", best_m, "bars/s");
    emit(r, "pipeline_vs_monolith_throughput", best_p, "bars/s");
    emit(r, "pipeline_to_monolith_ratio", best_p / best_m, "x");
    emit(r, "pipeline_to_monolith_ratio_paired_p10", ratio[npairs / 10], "x");
    emit(r, "pipeline_to_monolith_ratio_paired_median", ratio[npairs / 2], "x");
    emit(r, "pipeline_to_monolith_ratio_paired_p90", ratio[npairs * 9 / 10], "x");
    emit(r, "pipeline_to_monolith_ratio_of_totals", sum_m / sum_p, "x");
    free(ratio);
}

static void bench_before_after(report *r)
{
    tb_config cfg;
    if (build_config(&cfg) != 0) return;
    const size_t n = 2000000;
    tb_market_data *bars = make_bars(n);
    if (!bars) {
        tb_config_free(&cfg);
        return;
    }
    paired_throughput(r, &cfg, bars, n); /* 100 pairs of 20,000 bars */

    tb__legacy_runner *lr;
    char err[256];
    order_probe probe = {0, malloc(n * sizeof(int64_t)), 0, n};
    if (tb__legacy_runner_create(&cfg, NULL, 0, on_legacy_record, &probe, &lr, err, sizeof(err)) ==
        0) {
        for (size_t i = 0; i < n; i++) {
            probe.t_in = now_ns();
            tb__legacy_runner_on_bar(lr, &bars[i]);
        }
        tb__legacy_runner_destroy(lr);
        emit_percentiles(r, "monolith", probe.lat, probe.nlat);
    }
    free(probe.lat);
    free(bars);
    tb_config_free(&cfg);
}

/* ---- 7. the journal's cost: the pipeline with every event appended ---- */
static int journal_append(const tb_event *ev, void *ctx)
{
    return tb_journal_append(ctx, ev);
}

/* One journaled run of the bars; commit_s: the least time between two
 * commits (0: every 1000 bars). Names get suffix (empty: the default). */
static double journal_run(report *r, const tb_config *cfg, const tb_market_data *bars, size_t n,
                          double commit_s, const char *suffix)
{
    char path[] = "/tmp/tradebus-bench-journal-XXXXXX", name[96];
    int fd = mkstemp(path);
    if (fd < 0) return 0;
    close(fd);
    unlink(path);
    tb_journal_config jc;
    tb_journal_config_init(&jc);
    jc.path = path;
    tb_journal *j;
    tb_pipeline *p;
    char err[256];
    if (tb_journal_open(&jc, &j, err, sizeof(err)) != 0 ||
        tb_pipeline_create(cfg, NULL, &p, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench: journal: %s\n", err);
        return 0;
    }
    tb_bus_subscribe(tb_pipeline_bus(p), TB_BUS_ALL, journal_append, j);
    uint64_t allocs0 = g_allocs;
    /* The backtest's cadence: between bars, every 1000 bars at least and
     * commit_s apart at least ([journal] commit_every, commit_ms). */
    double t0 = now_s(), last_commit = t0;
    long commits = 0;
    for (size_t i = 0; i < n; i++) {
        tb_pipeline_push_bar(p, &bars[i]);
        if (i % 1000 == 999 && now_s() - last_commit >= commit_s) {
            tb_journal_commit(j);
            last_commit = now_s();
            commits++;
        }
    }
    tb_journal_commit(j);
    double dt = now_s() - t0;
#define NAME(s) (snprintf(name, sizeof(name), "%s%s", s, suffix), name)
    emit(r, NAME("pipeline_with_journal_throughput"), (double)n / dt, "bars/s");
    int64_t events = tb_journal_count(j);
    emit(r, NAME("journal_events_per_s"), (double)events / dt, "events/s");
    emit(r, NAME("journal_commits"), (double)commits + 1, "commits");
    /* SQLite's included: the pipeline alone allocates nothing per bar. */
    if (events > 0)
        emit(r, NAME("journal_allocs_per_event"), (double)(g_allocs - allocs0) / (double)events,
             "allocs");
    tb_pipeline_destroy(p);
    /* Closing may do deferred work (building indexes): counted apart, and
     * with the appends, so a change cannot look faster by moving cost there. */
    double t1 = now_s();
    tb_journal_close(j);
    double dc = now_s() - t1;
    emit(r, NAME("journal_close_s"), dc, "s");
    if (events > 0)
        emit(r, NAME("journal_events_per_s_with_close"), (double)events / (dt + dc), "events/s");
#undef NAME
    char wal[64];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof(wal), "%s-shm", path);
    unlink(wal);
    unlink(path);
    return (double)events / dt;
}

static void bench_journal(report *r)
{
    tb_config cfg;
    if (build_config(&cfg) != 0) return;
    const size_t n = 500000;
    tb_market_data *bars = make_bars(n);
    if (!bars) {
        tb_config_free(&cfg);
        return;
    }
    /* The default (group commit, at most every 100 ms), then a commit at
     * every 1000 bars (commit_ms = 0): the same bars, the same run. */
    double group = journal_run(r, &cfg, bars, n, 0.1, "");
    double each = journal_run(r, &cfg, bars, n, 0.0, "_commit_ms_0");
    if (each > 0) emit(r, "journal_group_commit_gain", group / each, "x");
    free(bars);
    tb_config_free(&cfg);
}

/* ---- 7. the JSON codec: what every event from the broker goes through ---- */
typedef int (*decode_fn)(const char *json, size_t len, tb_event *out, char *err, size_t errlen);

/* The two events a consumer receives most: a bar and a fill, as the
 * encoder writes them (the figures are per decode, the two alternating). */
static int codec_messages(char msgs[2][2048], size_t lens[2])
{
    tb_event md, fill;
    tb_event_init(&md, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
    md.event_id = md.correlation_id = 281474976710657u;
    md.timestamp = 1704067259999000000;
    tb_market_data *b = &md.u.market_data;
    tb_str_copy(b->symbol, sizeof b->symbol, "BTCUSDT");
    tb_dec_parse("42283.58", (size_t)-1, &b->open);
    tb_dec_parse("42288.64", (size_t)-1, &b->high);
    tb_dec_parse("42240.58", (size_t)-1, &b->low);
    tb_dec_parse("42255.12", (size_t)-1, &b->close);
    tb_dec_parse("1.536", (size_t)-1, &b->volume);
    b->open_time = 1704067200000000000;
    b->close_time = 1704067259999000000;

    tb_event_init(&fill, TB_EV_ORDER_FILLED, TB_SRC_EXCHANGE);
    fill.event_id = 281474976710702u;
    fill.causation_id = 281474976710693u;
    fill.correlation_id = 281474976710690u;
    fill.timestamp = 1704068400000000000;
    tb_order_filled *f = &fill.u.order_filled;
    tb_str_copy(f->order_id, sizeof f->order_id, "SIM-1");
    tb_str_copy(f->client_order_id, sizeof f->client_order_id, "eth_rsi-1");
    tb_str_copy(f->strategy_id, sizeof f->strategy_id, "eth_rsi");
    tb_str_copy(f->symbol, sizeof f->symbol, "ETHUSDT");
    f->side = TB_SIDE_BUY;
    tb_dec_parse("0.7917", (size_t)-1, &f->filled_quantity);
    tb_dec_parse("2270.85", (size_t)-1, &f->filled_price);
    tb_dec_parse("1.34837396", (size_t)-1, &f->commission);
    tb_dec_parse("0.7917", (size_t)-1, &f->cumulative_quantity);
    tb_dec_parse("2270.85", (size_t)-1, &f->average_price);
    f->status = TB_ORDER_PARTIALLY_FILLED;
    f->trade_id = 1;

    const tb_event *evs[2] = {&md, &fill};
    for (int i = 0; i < 2; i++) {
        int n = tb_codec_encode(evs[i], msgs[i], 2048);
        if (n <= 0) return -1;
        lens[i] = (size_t)n;
    }
    return 0;
}

/* Best of 3 rounds, in ns per decode; *allocs gets allocations per decode. */
static double time_decodes(decode_fn decode, char msgs[2][2048], const size_t lens[2],
                           double *allocs)
{
    const size_t n = 400000;
    double best = 0;
    char err[TB_CODEC_ERRLEN];
    tb_event ev;
    uint64_t sum = 0;
    for (int round = 0; round < 3; round++) {
        uint64_t a0 = g_allocs;
        double t0 = now_s();
        for (size_t i = 0; i < n; i++) {
            if (decode(msgs[i & 1], lens[i & 1], &ev, err, sizeof err) != 0) {
                fprintf(stderr, "bench: decode: %s\n", err);
                return 0;
            }
            sum += (uint64_t)ev.timestamp;
        }
        double ns = (now_s() - t0) / (double)n * 1e9;
        *allocs = (double)(g_allocs - a0) / (double)n;
        if (round == 0 || ns < best) best = ns;
    }
    if (sum == 0) printf("?\n");
    return best;
}

static void bench_codec(report *r)
{
    char msgs[2][2048];
    size_t lens[2];
    if (codec_messages(msgs, lens) != 0) {
        fprintf(stderr, "bench: codec: an event does not encode\n");
        return;
    }
    double allocs = 0, jansson_allocs = 0;
    double ns = time_decodes(tb_codec_decode, msgs, lens, &allocs);
    /* Before the allocation-free path: every decode went through jansson. */
    double jansson_ns = time_decodes(tb__codec_decode_strict, msgs, lens, &jansson_allocs);
    emit(r, "codec_decode_ns", ns, "ns/decode");
    emit(r, "codec_decode_allocs", allocs, "allocs/decode");
    emit(r, "codec_decode_jansson_ns", jansson_ns, "ns/decode");
    emit(r, "codec_decode_jansson_allocs", jansson_allocs, "allocs/decode");
    if (ns > 0) emit(r, "codec_decode_speedup", jansson_ns / ns, "x");
}

/* ---- 5. peak RSS, each size in its own child ---- */
static long rss_run(size_t nbars, int monolith)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        tb_config cfg;
        tb_pipeline *p = NULL;
        tb__legacy_runner *lr = NULL;
        char err[256];
        if (build_config(&cfg) != 0) _exit(1);
        if (monolith ? tb__legacy_runner_create(&cfg, NULL, 0, NULL, NULL, &lr, err, sizeof(err))
                     : tb_pipeline_create(&cfg, NULL, &p, err, sizeof(err)))
            _exit(1);
        walk w = {7, 42000 * TB_DECIMAL_ONE, 1704067200000000000LL};
        tb_market_data b;
        for (size_t i = 0; i < nbars; i++) {
            next_bar(&w, &b);
            if (monolith)
                tb__legacy_runner_on_bar(lr, &b);
            else
                tb_pipeline_push_bar(p, &b);
        }
        tb_pipeline_destroy(p);
        tb__legacy_runner_destroy(lr);
        tb_config_free(&cfg);
        _exit(0);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) return -1;
    return ru.ru_maxrss; /* KiB */
}

int main(int argc, char **argv)
{
    report r = {NULL, 1};
    int status = 0, dist_only = 0, codec_only = 0, net_only = 0, live_only = 0, external_only = 0,
        lua_only = 0, md_only = 0, sweep_only = 0, journal_only = 0, pipeline_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
            r.json = fopen(argv[++i], "w");
        } else if (strcmp(argv[i], "--dist-only") == 0) {
            dist_only = 1; /* the broker figures alone */
        } else if (strcmp(argv[i], "--net-only") == 0) {
            net_only = 1; /* the HTTP client figures alone (TB_BENCH_BINANCE_URL) */
        } else if (strcmp(argv[i], "--live-only") == 0) {
            live_only = 1; /* the live path's figures alone (TB_BENCH_BINANCE_URL) */
        } else if (strcmp(argv[i], "--external-only") == 0) {
            external_only = 1; /* the external component figures alone: seconds */
        } else if (strcmp(argv[i], "--lua-only") == 0) {
            lua_only = 1; /* the Lua strategy figures alone: seconds */
        } else if (strcmp(argv[i], "--sweep-only") == 0) {
            sweep_only = 1; /* the sweep figures alone: seconds */
        } else if (strcmp(argv[i], "--md-only") == 0) {
            md_only = 1; /* the market-data reader figures alone: seconds */
        } else if (strcmp(argv[i], "--journal-only") == 0) {
            journal_only = 1; /* the journal figures alone: seconds, no broker */
        } else if (strcmp(argv[i], "--pipeline-only") == 0) {
            pipeline_only = 1; /* the pipeline and monolith figures alone: seconds */
        } else if (strcmp(argv[i], "--codec-only") == 0) {
            codec_only = 1; /* the decoder figures alone: seconds, no broker */
        } else {
            fprintf(stderr, "usage: tradebus_bench [--json FILE]\n"
                            "                      [--pipeline-only | --codec-only | "
                            "--journal-only | --external-only "
                            "| --lua-only | --md-only | --sweep-only | --dist-only | --net-only "
                            "| --live-only]\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (r.json) fprintf(r.json, "{");
    if (pipeline_only) {
        bench_pipeline(&r);
        bench_before_after(&r);
        goto done;
    }
    if (codec_only) {
        bench_codec(&r);
        goto done;
    }
    if (journal_only) {
        bench_journal(&r);
        goto done;
    }
    if (external_only) {
        bench_external(&r, &status);
        goto done;
    }
    if (lua_only) {
        bench_lua(&r, &status);
        goto done;
    }
    if (md_only) {
        if (tb_bench_md(emit_cb, &r) != 0) status = 1;
        goto done;
    }
    if (sweep_only) {
        if (tb_bench_sweep(emit_cb, &r) != 0) status = 1;
        goto done;
    }
    /* Peak RSS first: a forked child starts with the parent's pages, so it
     * must be measured before the other figures grow the parent. */
    if (dist_only) goto dist;
    if (net_only) goto net;
    if (live_only) goto live;
    long k1 = rss_run(1000000, 0), k10 = rss_run(10000000, 0);
    long m1 = rss_run(1000000, 1);
    emit(&r, "monolith_peak_rss_1m_bars", (double)m1, "KiB");
    emit(&r, "peak_rss_1m_bars", (double)k1, "KiB");
    emit(&r, "peak_rss_10m_bars", (double)k10, "KiB");
    if (k1 > 0) emit(&r, "peak_rss_ratio_10m_1m", (double)k10 / (double)k1, "x");
    bench_bus(&r);
    bench_bus_queued(&r);
    bench_pipeline(&r);
    bench_before_after(&r);
    bench_journal(&r);
    bench_codec(&r);
    bench_external(&r, &status);
    bench_lua(&r, &status);
    if (tb_bench_md(emit_cb, &r) != 0) status = 1;
    if (tb_bench_sweep(emit_cb, &r) != 0) status = 1;
dist:;
    /* Distributed mode needs a broker: `make bench` starts a private one
     * and passes its URL (TB_AMQP_URL); without one these figures are
     * skipped, said so. */
    const char *url = getenv("TB_AMQP_URL");
    if (url && tb_bench_dist(url, emit_cb, &r) != 0) status = 1;
    if (!url) fprintf(stderr, "bench: TB_AMQP_URL not set: distributed-mode figures skipped\n");
    if (dist_only) goto done;
net:;
    /* The HTTP client against a fake Binance (scripts/fake_binance.sh). */
    const char *fb = getenv("TB_BENCH_BINANCE_URL");
    if (fb && tb_bench_net(fb, emit_cb, &r) != 0) status = 1;
    if (!fb) fprintf(stderr, "bench: TB_BENCH_BINANCE_URL not set: HTTP client figures skipped\n");
    if (net_only) goto done;
live:;
    /* The live path through the same fake: kline → order, the adapter's REST. */
    const char *lfb = getenv("TB_BENCH_BINANCE_URL");
    if (lfb && tb_bench_live(lfb, emit_cb, &r) != 0) status = 1;
    if (!lfb) fprintf(stderr, "bench: TB_BENCH_BINANCE_URL not set: live path figures skipped\n");
done:
    if (r.json) {
        fprintf(r.json, "\n}\n");
        fclose(r.json);
    }
    return status;
}
