/* Distributed mode, measured with real processes and a real broker
 * (bench_dist.h). Each process here is a fork of the benchmark running one
 * node through the library, exactly as `tradebus component` does. */
#define _DEFAULT_SOURCE /* wait4: a child's CPU time */
#define _POSIX_C_SOURCE 200809L
#include "bench_dist.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_amqp.h"
#include "tradebus/tradebus.h"

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A generic CSV of n one-minute bars: a seeded random walk. */
static int write_bars(const char *path, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f) return TB_EIO;
    fprintf(f, "timestamp,open,high,low,close,volume\n");
    uint64_t s = 42;
    double px = 100.0;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double step = ((double)(s >> 40) / (double)(1ull << 24) - 0.5) * 0.6;
        double open = px, close = px + step;
        if (close < 10) close = 10;
        double hi = (open > close ? open : close) + 0.05, lo = (open < close ? open : close) - 0.05;
        fprintf(f, "%lld,%.2f,%.2f,%.2f,%.2f,%.2f\n", 1704067200LL + (long long)i * 60, open, hi,
                lo, close, 50.0 + (double)(s >> 58));
        px = close;
    }
    return fclose(f) == 0 ? 0 : TB_EIO;
}

static int make_config(tb_config *cfg, const char *data, const char *url, const char *run,
                       const char *order, int strategies)
{
    char err[512], set[1024];
    tb_config_init(cfg);
    const char *sets[] = {
        "backtest.initial_cash=1000000", "exchange.fee_bps=5", "symbol.BENCH.tick_size=0.01",
        "symbol.BENCH.step_size=0.001",  "bus.type=amqp",      "output.event_log=false"};
    int rc = tb_config_add_data(cfg, data);
    for (size_t i = 0; !rc && i < sizeof(sets) / sizeof(sets[0]); i++)
        rc = tb_config_set(cfg, sets[i], err, sizeof(err));
    const char *keys[] = {"bus.url", "bus.name", "bus.order"};
    const char *vals[] = {url, run, order};
    for (int i = 0; !rc && i < 3; i++) {
        snprintf(set, sizeof(set), "%s=%s", keys[i], vals[i]);
        rc = tb_config_set(cfg, set, err, sizeof(err));
    }
    if (strategies) {
        const char *st[] = {"strategy.fast.type=sma_cross", "strategy.fast.symbol=BENCH",
                            "strategy.fast.fast=3",         "strategy.fast.slow=8",
                            "strategy.fast.quantity=1",     "strategy.fast.allow_short=true"};
        for (size_t i = 0; !rc && i < sizeof(st) / sizeof(st[0]); i++)
            rc = tb_config_set(cfg, st[i], err, sizeof(err));
    }
    if (!rc) rc = tb_config_build(cfg, err, sizeof(err));
    if (rc) fprintf(stderr, "bench dist: config: %s\n", err);
    return rc;
}

typedef struct {
    FILE *trace;
} trace_ctx;

static void on_publish(const tb_event *ev, void *ctx)
{
    trace_ctx *t = ctx;
    if (ev->type == TB_EV_MARKET_DATA || ev->type == TB_EV_ORDER_PLACEMENT_REQUEST)
        fprintf(t->trace, "%d %llu %lld\n", (int)ev->type, (unsigned long long)ev->correlation_id,
                (long long)wall_ns());
}

/* One node until done (or until it has handled stop_at bars, when a pipe
 * gets the instant). Runs in a child process. */
static double g_rate; /* the feed's bars/s limit in the next run; 0 = none */

static int run_role(const tb_config *cfg, const char *dir, const char *role, int ready_fd,
                    uint64_t stop_at, int done_fd)
{
    char state[1024], tpath[1024], err[512] = "";
    snprintf(state, sizeof(state), "%s/%s.db", dir, role);
    snprintf(tpath, sizeof(tpath), "%s/%s.trace", dir, role);
    trace_ctx tc = {fopen(tpath, "w")};
    tb_node_options o;
    memset(&o, 0, sizeof(o));
    o.role = role;
    o.state_path = state;
    o.out_dir = dir;
    o.window = cfg->bus_window;
    o.rate = strcmp(role, "feed") ? 0 : g_rate;
    if (tc.trace) {
        o.on_publish = on_publish;
        o.on_publish_ctx = &tc;
    }
    tb_node *n;
    if (tb_node_create(cfg, &o, &n, err, sizeof(err))) {
        fprintf(stderr, "bench dist: %s: %s\n", role, err);
        return 1;
    }
    tb_transport_params tp;
    tb_config_transport_params(cfg, role, &tp);
    tp.nbindings = tb_node_bindings(n, &tp.bindings);
    tb_transport *t;
    if (tb_transport_open(cfg->transport, &tp, &t, err, sizeof(err))) {
        fprintf(stderr, "bench dist: %s: %s\n", role, err);
        return 1;
    }
    tb_node_attach(n, t);
    if (ready_fd >= 0 && write(ready_fd, "r", 1) != 1) return 1;
    int rc = 0, told = 0;
    while ((rc = tb_node_poll(n, 100, err, sizeof(err))) == 0) {
        if (!told && stop_at && tb_node_roots_done(n) >= stop_at) {
            int64_t t1 = wall_ns();
            if (write(done_fd, &t1, sizeof(t1)) != (ssize_t)sizeof(t1)) return 1;
            told = 1;
        }
    }
    if (rc < 0) fprintf(stderr, "bench dist: %s: %s\n", role, err);
    if (tc.trace) fclose(tc.trace);
    tb_node_destroy(n);
    tb_transport_destroy(t);
    return rc < 0;
}

static pid_t fork_role(const tb_config *cfg, const char *dir, const char *role, int ready_fd,
                       uint64_t stop_at, int done_fd)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) _exit(run_role(cfg, dir, role, ready_fd, stop_at, done_fd));
    return pid;
}

static int wait_ok(pid_t *pids, int n)
{
    int bad = 0;
    for (int i = 0; i < n; i++) {
        int st;
        if (pids[i] > 0 &&
            (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 0))
            bad = 1;
    }
    return bad ? TB_EHANDLER : 0;
}

static void delete_run(const tb_config *cfg)
{
    const char *const *roles = tb_node_roles();
    for (int i = 0; roles[i]; i++) {
        tb_transport_params tp;
        tb_config_transport_params(cfg, roles[i], &tp);
        char err[256];
        tb_transport_delete_run(cfg->transport, &tp, err, sizeof(err));
    }
}

/* Stream order, feed → positions: N bars, first publish to last handled. */
static double median3(const double v[3])
{
    double a = v[0], b = v[1], c = v[2];
    if (a > b) {
        double t = a;
        a = b;
        b = t;
    }
    return c < a ? a : c > b ? b : c;
}

static double cpu_s(const struct rusage *r)
{
    return (double)(r->ru_utime.tv_sec + r->ru_stime.tv_sec) +
           (double)(r->ru_utime.tv_usec + r->ru_stime.tv_usec) / 1e6;
}

/* Also the CPU each process spent per event (user + system): what one
 * process costs, apart from the broker the two share the cores with. */
static int stream_throughput(const char *url, const char *top, const char *data, size_t n,
                             int round, double *per_s, double *feed_us, double *pos_us)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/stream-%d", top, round);
    if (mkdir(dir, 0777) != 0) return TB_EIO;
    tb_config cfg;
    char run[64];
    snprintf(run, sizeof(run), "bench-stream-%ld-%d", (long)getpid(), round);
    if (make_config(&cfg, data, url, run, "stream", 1)) return TB_ECONFIG;
    int ready[2], done[2];
    if (pipe(ready) || pipe(done)) return TB_EIO;
    pid_t pos = fork_role(&cfg, dir, "positions", ready[1], n, done[1]);
    char c;
    int rc = read(ready[0], &c, 1) == 1 ? 0 : TB_EIO;
    int64_t t0 = wall_ns(), t1 = 0;
    struct rusage f0, f1, pr;
    getrusage(RUSAGE_SELF, &f0);
    if (!rc) rc = run_role(&cfg, dir, "feed", -1, 0, -1) ? TB_EHANDLER : 0;
    getrusage(RUSAGE_SELF, &f1);
    *feed_us = (cpu_s(&f1) - cpu_s(&f0)) * 1e6 / (double)n;
    if (!rc && read(done[0], &t1, sizeof(t1)) != (ssize_t)sizeof(t1)) rc = TB_EIO;
    /* Done (or failed): positions would wait for a monitor that is not there. */
    kill(pos, SIGTERM);
    int st;
    memset(&pr, 0, sizeof(pr));
    if (wait4(pos, &st, 0, &pr) != pos) rc = rc ? rc : TB_EIO;
    *pos_us = cpu_s(&pr) * 1e6 / (double)n;
    *per_s = t1 > t0 ? (double)n / ((double)(t1 - t0) / 1e9) : 0;
    delete_run(&cfg);
    tb_config_free(&cfg);
    for (int i = 0; i < 2; i++) {
        close(ready[i]);
        close(done[i]);
    }
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Strict order, six processes: bars/s, and for each order the time from
 * its bar's publication to the order's leaving the Order Manager. */
static int strict_run(const char *url, const char *top, const char *data, double rate,
                      double *bars_per_s, int64_t **lat, size_t *nlat)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/strict-%d", top, (int)rate);
    if (mkdir(dir, 0777) != 0) return TB_EIO;
    tb_config cfg;
    char run[64];
    snprintf(run, sizeof(run), "bench-strict-%ld-%d", (long)getpid(), (int)rate);
    if (make_config(&cfg, data, url, run, "strict", 1)) return TB_ECONFIG;
    const char *const *roles = tb_node_roles();
    pid_t pids[8];
    int np = 0, ready[2];
    if (pipe(ready)) return TB_EIO;
    for (int i = 0; roles[i]; i++)
        if (strcmp(roles[i], "feed") != 0)
            pids[np++] = fork_role(&cfg, dir, roles[i], ready[1], 0, -1);
    char c;
    for (int i = 0; i < np; i++)
        if (read(ready[0], &c, 1) != 1) return TB_EIO;
    g_rate = rate;
    int64_t t0 = wall_ns();
    char state[1024];
    snprintf(state, sizeof(state), "%s/feed.db", dir);
    pids[np++] = fork_role(&cfg, dir, "feed", -1, 0, -1);
    int rc = wait_ok(pids, np);
    g_rate = 0;
    int64_t t1 = wall_ns();
    uint64_t bars = 0;
    int isdone;
    tb_node_state_read(state, &bars, &isdone);
    *bars_per_s = (double)bars / ((double)(t1 - t0) / 1e9);
    /* market data publish instants by bar id, then each order's delay */
    char p[1024];
    snprintf(p, sizeof(p), "%s/feed.trace", dir);
    FILE *f = fopen(p, "r");
    size_t cap = bars + 1;
    int64_t *md = calloc(cap, sizeof(*md));
    int type;
    unsigned long long id;
    long long ns;
    while (f && md && fscanf(f, "%d %llu %lld", &type, &id, &ns) == 3)
        if ((id & 0xFFFFFFFFFFull) < cap) md[id & 0xFFFFFFFFFFull] = ns;
    if (f) fclose(f);
    snprintf(p, sizeof(p), "%s/orders.trace", dir);
    f = fopen(p, "r");
    *nlat = 0;
    *lat = malloc(cap * 4 * sizeof(**lat));
    while (f && *lat && fscanf(f, "%d %llu %lld", &type, &id, &ns) == 3)
        if (type == TB_EV_ORDER_PLACEMENT_REQUEST && (id & 0xFFFFFFFFFFull) < cap &&
            md[id & 0xFFFFFFFFFFull] && *nlat < cap * 4)
            (*lat)[(*nlat)++] = ns - md[id & 0xFFFFFFFFFFull];
    if (f) fclose(f);
    free(md);
    qsort(*lat, *nlat, sizeof(**lat), cmp_i64);
    delete_run(&cfg);
    tb_config_free(&cfg);
    close(ready[0]);
    close(ready[1]);
    return rc;
}

int tb_bench_dist(const char *url, tb_bench_emit_fn emit, void *ctx)
{
    char dir[] = "/tmp/tb-bench-dist-XXXXXX";
    if (!mkdtemp(dir)) return TB_EIO;
    char data[256], cmd[512];
    const size_t n_stream = 100000, n_strict = 3000;
    int rc;

    /* One MarketData as it travels, for the raw loop's message size. */
    tb_event ev;
    tb_event_init(&ev, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
    ev.event_id = ev.correlation_id = ((uint64_t)1 << 48) | 123456;
    snprintf(ev.u.market_data.symbol, sizeof(ev.u.market_data.symbol), "BENCH");
    tb_dec_parse("100.25", 6, &ev.u.market_data.open);
    ev.u.market_data.high = ev.u.market_data.low = ev.u.market_data.close = ev.u.market_data.open;
    tb_dec_parse("57", 2, &ev.u.market_data.volume);
    ev.timestamp = ev.u.market_data.close_time = 1704067259999000000LL;
    ev.u.market_data.open_time = 1704067200000000000LL;
    char buf[2048];
    int size = tb_codec_encode(&ev, buf, sizeof(buf));

    snprintf(data, sizeof(data), "BENCH:%s/bars.csv", dir);
    char csv[256];
    snprintf(csv, sizeof(csv), "%s/bars.csv", dir);
    if ((rc = write_bars(csv, n_stream)) != 0) return rc;

    /* Three rounds, the raw loop and tradebus in turn, medians reported:
     * single runs on a shared 2-core machine vary by +-20%. */
    double raw3[3], stream3[3], feed3[3], pos3[3], tp = 0;
    for (int k = 0; k < 3; k++) {
        if ((rc = tb_bench_amqp_raw(url, (size_t)size, n_stream, &raw3[k])) != 0) {
            fprintf(stderr, "bench dist: the raw librabbitmq loop failed: %s\n", tb_strerror(rc));
            return rc;
        }
        if ((rc = stream_throughput(url, dir, data, n_stream, k, &stream3[k], &feed3[k],
                                    &pos3[k])) != 0) {
            fprintf(stderr, "bench dist: stream run failed: %s\n", tb_strerror(rc));
            return rc;
        }
    }
    double raw = median3(raw3), stream = median3(stream3);
    emit(ctx, "amqp_raw_loop_throughput", raw, "msgs/s");
    emit(ctx, "amqp_message_size", size, "bytes");
    if (tb_bench_amqp_transport(url, (size_t)size, n_stream, &tp) == 0)
        emit(ctx, "amqp_transport_throughput", tp, "msgs/s");
    emit(ctx, "dist_stream_feed_to_positions", stream, "events/s");
    emit(ctx, "dist_stream_to_raw_ratio", raw > 0 ? stream / raw : 0, "x");
    /* A process's own ceiling: the events a second one core would give it. */
    emit(ctx, "dist_feed_cpu_per_event", median3(feed3), "us");
    emit(ctx, "dist_positions_cpu_per_event", median3(pos3), "us");

    /* Strict order at full speed: how many bars a second the whole
     * pipeline, six processes, keeps up with. */
    if ((rc = write_bars(csv, n_strict)) != 0) return rc;
    double strict = 0, paced = 0;
    int64_t *lat = NULL;
    size_t nlat = 0;
    rc = strict_run(url, dir, data, 0, &strict, &lat, &nlat);
    free(lat);
    lat = NULL;
    if (rc) {
        fprintf(stderr, "bench dist: strict run failed: %s\n", tb_strerror(rc));
        return rc;
    }
    emit(ctx, "dist_strict_pipeline_throughput", strict, "bars/s");
    /* Latency with the feed paced below that ceiling, so that a bar waits
     * for nothing but the pipeline (no backlog in the queues). */
    if ((rc = write_bars(csv, 800)) != 0) return rc;
    rc = strict_run(url, dir, data, 100, &paced, &lat, &nlat);
    if (rc) {
        fprintf(stderr, "bench dist: paced strict run failed: %s\n", tb_strerror(rc));
        free(lat);
        return rc;
    }
    if (nlat) {
        emit(ctx, "dist_md_to_order_p50", (double)lat[nlat / 2] / 1000.0, "us");
        emit(ctx, "dist_md_to_order_p99", (double)lat[nlat * 99 / 100] / 1000.0, "us");
        emit(ctx, "dist_md_to_order_samples", (double)nlat, "orders");
    }
    free(lat);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench dist: could not remove %s\n", dir);
    return 0;
}
