/* External components' figures: see bench_external.h. */
#define _GNU_SOURCE
#include "bench_external.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <tradebus/tradebus.h>

#define TARGET_ROUND_TRIPS 200000.0 /* issue #15: the C echo, per second */
#define WARM               2000     /* round trips before timing: the program's start-up */
#define MAX_SECONDS        3.0      /* a slow program ends its run early (figures per second) */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds this process (tradebus's side) has used, or with
 * RUSAGE_CHILDREN its reaped children (the program, once finished). */
static double cpu_s(int who)
{
    struct rusage ru;
    getrusage(who, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int count_alert(const tb_event *ev, void *ctx)
{
    (void)ev;
    (*(uint64_t *)ctx)++;
    return 0;
}

/* One bar as the feed publishes it (the values do not matter to an echo,
 * but the line has the length of a real one). */
static void make_bar(tb_event *ev)
{
    tb_event_init(ev, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
    tb_market_data *b = &ev->u.market_data;
    tb_str_copy(b->symbol, sizeof b->symbol, "BTCUSDT");
    tb_dec_parse("42283.58", (size_t)-1, &b->open);
    tb_dec_parse("42288.64", (size_t)-1, &b->high);
    tb_dec_parse("42240.58", (size_t)-1, &b->low);
    tb_dec_parse("42255.12", (size_t)-1, &b->close);
    tb_dec_parse("1.536", (size_t)-1, &b->volume);
    b->open_time = 1704067200000000000;
    b->close_time = 1704067259999000000;
}

/* Runs `command` as component "echo" on a fresh bus and pushes up to n
 * bars through it (after WARM), stopping early after MAX_SECONDS. Reports
 * NAME_round_trips (/s), NAME_cpu (this process's CPU time per round
 * trip), NAME_program_cpu (the program's) and NAME_allocs (tradebus's
 * heap allocations per round trip); *rate gets the round trips per
 * second. publish: the program publishes one RiskAlert per bar (checked). */
static int run(const char *name, const char *command, int publish, size_t window, uint64_t n,
               const uint64_t *allocs, tb_bench_emit_fn emit, void *ctx, double *rate)
{
    static const char *const pubs[] = {"echo", NULL};
    tb_bus_config bc;
    tb_bus_config_init(&bc);
    bc.publishers = pubs;
    tb_bus *bus;
    int rc = tb_bus_create(&bc, &bus);
    if (rc) return rc;
    uint64_t alerts = 0;
    tb_bus_subscribe(bus, TB_EV_RISK_ALERT, count_alert, &alerts);
    char cmd[1200], err[256] = "";
    snprintf(cmd, sizeof(cmd), "%s%s", command, publish ? " --publish" : "");
    tb_external_config xc;
    tb_external_config_init(&xc);
    xc.name = "echo";
    xc.command = cmd;
    xc.subscribes = 1u << TB_EV_MARKET_DATA;
    xc.publishes = 1u << TB_EV_RISK_ALERT;
    xc.window = window;
    tb_external *x;
    double k0 = cpu_s(RUSAGE_CHILDREN);
    rc = tb_external_create(bus, &xc, &x, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "bench: %s: %s (%s)\n", name, err, tb_strerror(rc));
        tb_bus_destroy(bus);
        return rc;
    }
    tb_event ev;
    make_bar(&ev);
    uint64_t done = 0, a0 = 0;
    double t0 = 0, dt = 0, c0 = 0;
    for (uint64_t i = 0; i < WARM + n; i++) {
        if (i == WARM) {
            a0 = *allocs;
            c0 = cpu_s(RUSAGE_SELF);
            t0 = now_s();
        }
        ev.event_id = 0;
        ev.correlation_id = 0;
        ev.timestamp = ev.u.market_data.close_time + (int64_t)i;
        rc = tb_bus_publish(bus, &ev);
        if (rc) break;
        if (i >= WARM) done++;
        if ((i & 1023) == 1023 && i > WARM && now_s() - t0 > MAX_SECONDS) break;
    }
    dt = now_s() - t0;
    double cpu = cpu_s(RUSAGE_SELF) - c0;
    uint64_t used = *allocs - a0;
    if (!rc) rc = tb_external_finish(x);
    if (rc) {
        const char *why = tb_external_failure(x);
        fprintf(stderr, "bench: %s: %s\n", name, why ? why : tb_strerror(rc));
    } else if (publish && alerts != WARM + done) {
        fprintf(stderr, "bench: %s: %llu alerts for %llu events\n", name,
                (unsigned long long)alerts, (unsigned long long)(WARM + done));
        rc = TB_EINVAL;
    }
    tb_external_destroy(x);
    tb_bus_destroy(bus);
    /* The program's whole life (its start-up and warm-up included), per
     * event it answered: reaped by now, so counted in RUSAGE_CHILDREN. */
    double program_cpu = cpu_s(RUSAGE_CHILDREN) - k0;
    if (rc || !done) return rc ? rc : TB_EINVAL;
    char fig[96];
    *rate = (double)done / dt;
    snprintf(fig, sizeof(fig), "%s_round_trips", name);
    emit(ctx, fig, *rate, "round_trips/s");
    /* Less noisy than the rate on a shared machine: the time tradebus's
     * side spends per round trip (encode, syscalls, decode, publish),
     * whatever else runs. */
    snprintf(fig, sizeof(fig), "%s_cpu", name);
    emit(ctx, fig, cpu / (double)done * 1e6, "us/round_trip");
    snprintf(fig, sizeof(fig), "%s_program_cpu", name);
    emit(ctx, fig, program_cpu / (double)(WARM + done) * 1e6, "us/round_trip");
    snprintf(fig, sizeof(fig), "%s_allocs", name);
    emit(ctx, fig, (double)used / (double)done, "allocs/round_trip");
    return 0;
}

/* The floor under every figure above: two processes passing a line of a
 * bar's length one way and an end line back over a socket pair, blocking
 * send and recv, no tradebus, no poll, no parsing. Each round trip is two
 * wake-ups (a context switch each way when they share a core): what the
 * machine, not tradebus, allows. Round trips per second, or 0. */
static double socketpair_floor(uint64_t n)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 0;
    pid_t pid = fork();
    if (pid < 0) return 0;
    if (pid == 0) {
        close(sv[0]);
        static const char end[] = "{\"end\":\"281474976710657\"}\n";
        char buf[4096];
        while (read(sv[1], buf, sizeof(buf)) > 0)
            if (write(sv[1], end, sizeof(end) - 1) < 0) break;
        _exit(0);
    }
    close(sv[1]);
    char line[320], buf[256];
    memset(line, 'x', sizeof(line)); /* about a MarketData line */
    line[sizeof(line) - 1] = '\n';
    double t0 = 0, rate = 0;
    uint64_t i;
    for (i = 0; i < WARM + n; i++) {
        if (i == WARM) t0 = now_s();
        if (send(sv[0], line, sizeof(line), MSG_NOSIGNAL) < 0 ||
            recv(sv[0], buf, sizeof(buf), 0) <= 0)
            break;
        if ((i & 1023) == 1023 && i > WARM && now_s() - t0 > MAX_SECONDS) break;
    }
    if (i > WARM) rate = (double)(i - WARM) / (now_s() - t0);
    close(sv[0]);
    waitpid(pid, NULL, 0);
    return rate;
}

int tb_bench_external(const char *echo, const char *python_echo, const uint64_t *allocs,
                      tb_bench_emit_fn emit, void *ctx)
{
    double rate = 0, ignored = 0;
    int status = 0;
    double floor_rate = socketpair_floor(200000);
    if (floor_rate > 0)
        emit(ctx, "external_socketpair_floor_round_trips", floor_rate, "round_trips/s");
    if (run("external_c_echo", echo, 0, 1, 200000, allocs, emit, ctx, &rate) == 0) {
        emit(ctx, "external_c_echo_to_target_ratio", rate / TARGET_ROUND_TRIPS, "x");
        if (floor_rate > 0) emit(ctx, "external_c_echo_to_floor_ratio", rate / floor_rate, "x");
    } else {
        status = TB_EIO;
    }
    if (run("external_c_echo_publish", echo, 1, 1, 200000, allocs, emit, ctx, &ignored))
        status = TB_EIO;
    /* window = 64 (external.h): events written ahead of their replies, the
     * replies published 63 events late, deterministically. */
    if (run("external_c_echo_window64", echo, 0, 64, 1000000, allocs, emit, ctx, &rate) == 0)
        emit(ctx, "external_c_echo_window64_to_target_ratio", rate / TARGET_ROUND_TRIPS, "x");
    else
        status = TB_EIO;
    if (run("external_c_echo_publish_window64", echo, 1, 64, 1000000, allocs, emit, ctx, &ignored))
        status = TB_EIO;
    if (python_echo) {
        if (run("external_python_echo", python_echo, 0, 1, 50000, allocs, emit, ctx, &ignored))
            status = TB_EIO;
        if (run("external_python_echo_publish", python_echo, 1, 1, 50000, allocs, emit, ctx,
                &ignored))
            status = TB_EIO;
        if (run("external_python_echo_window64", python_echo, 0, 64, 200000, allocs, emit, ctx,
                &ignored))
            status = TB_EIO;
    }
    return status;
}
