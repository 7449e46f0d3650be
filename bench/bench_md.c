/* Market data in: see bench_md.h. */
#define _GNU_SOURCE
#include "bench_md.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tradebus/tradebus.h>

#include "../src/feed/md_int.h" /* the reader's one-pass decimal conversion */

#define NROWS  2000000
#define ROUNDS 3

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* "42000.01000000": Binance's own 8 decimals. */
static int put_dec(char *p, int64_t v)
{
    return sprintf(p, "%" PRId64 ".%08" PRId64, v / TB_DECIMAL_ONE, v % TB_DECIMAL_ONE);
}

/* A seeded random walk in cents around 42000, one-minute bars, Binance's
 * 12 columns. 0 or -1. */
static int write_csv(const char *path, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    uint64_t s = 17;
    int64_t price = 42000 * TB_DECIMAL_ONE, cent = 1000000, t = 1704067200000;
    char line[512];
    for (size_t i = 0; i < n; i++) {
        uint64_t z = splitmix(&s);
        int64_t open = price, close = open + ((int64_t)(z % 2001) - 1000) * cent;
        if (close < 1000 * TB_DECIMAL_ONE) close = 1000 * TB_DECIMAL_ONE + cent;
        int64_t hi = (open > close ? open : close) + (int64_t)((z >> 20) % 500) * cent;
        int64_t lo = (open < close ? open : close) - (int64_t)((z >> 30) % 500) * cent;
        int64_t vol = (int64_t)((z >> 40) % 100000) * 100000; /* 0.001 lots */
        char *p = line;
        p += sprintf(p, "%" PRId64 ",", t);
        p += put_dec(p, open), *p++ = ',';
        p += put_dec(p, hi), *p++ = ',';
        p += put_dec(p, lo), *p++ = ',';
        p += put_dec(p, close), *p++ = ',';
        p += put_dec(p, vol), *p++ = ',';
        p += sprintf(p, "%" PRId64 ",", t + 59999);
        p += put_dec(p, vol / 1000 * 42000), *p++ = ',';
        p += sprintf(p, "%d,", (int)(z % 900) + 100);
        p += put_dec(p, vol / 2), *p++ = ',';
        p += put_dec(p, vol / 2000 * 42000);
        p += sprintf(p, ",0\n");
        if (fwrite(line, 1, (size_t)(p - line), f) != (size_t)(p - line)) break;
        price = close;
        t += 60000;
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* Reads the whole file once; seconds, or -1. */
static double read_all(const char *spec, const tb_md_config *mc, uint64_t *bars)
{
    char err[512];
    tb_md_reader *r;
    double t0 = now_s();
    if (tb_md_reader_open(spec, mc, &r, err, sizeof err) != 0) {
        fprintf(stderr, "bench md: %s\n", err);
        return -1;
    }
    tb_market_data b;
    int rc;
    uint64_t n = 0;
    while ((rc = tb_md_reader_next(r, &b, err, sizeof err)) == 0)
        n++;
    tb_md_reader_close(r);
    if (rc != TB_EEOF) {
        fprintf(stderr, "bench md: %s\n", err);
        return -1;
    }
    *bars = n;
    return now_s() - t0;
}

/* The decimal conversion alone, ns per field: what the reader did before
 * (tb_dec_parse to refuse surplus digits, then tb_dec_parse_round) and its
 * one-pass conversion, over the same fields, best of ROUNDS each. */
static void bench_dec(tb_bench_emit_fn emit, void *ctx)
{
    static const char *const fields[] = {"42000.01000000", "42003.40000000", "41915.90000000",
                                         "41927.18000000", "2.56600000",     "107673.52000000",
                                         "0.87200000",     "36590.53000000"};
    const size_t nf = sizeof fields / sizeof fields[0], iters = 2000000;
    size_t lens[8];
    for (size_t k = 0; k < nf; k++)
        lens[k] = strlen(fields[k]);
    double best_old = 0, best_new = 0;
    volatile int64_t sink = 0;
    for (int round = 0; round < ROUNDS; round++) {
        double t0 = now_s();
        for (size_t i = 0; i < iters; i++) {
            size_t k = i % nf;
            tb_decimal d = 0;
            if (tb_dec_parse(fields[k], lens[k], &d) != TB_ERANGE)
                tb_dec_parse_round(fields[k], lens[k], TB_ROUND_HALF_UP, &d);
            sink += d;
        }
        double t1 = now_s();
        for (size_t i = 0; i < iters; i++) {
            size_t k = i % nf;
            tb_decimal d = 0;
            tb__md_dec_fast(fields[k], lens[k], &d);
            sink += d;
        }
        double t2 = now_s();
        if (best_old == 0 || t1 - t0 < best_old) best_old = t1 - t0;
        if (best_new == 0 || t2 - t1 < best_new) best_new = t2 - t1;
    }
    emit(ctx, "md_decimal_before", best_old / (double)iters * 1e9, "ns/field");
    emit(ctx, "md_decimal_after", best_new / (double)iters * 1e9, "ns/field");
    if (best_new > 0) emit(ctx, "md_decimal_speedup", best_old / best_new, "x");
    if (sink == 42) fputs("", stderr); /* read once: the loops cannot be dropped */
}

/* `tradebus backtest` on the file as a user runs it (examples/sma_cross.ini,
 * event log and report off): wall seconds, or -1. */
static double run_command(const char *dir, const char *spec, const char *extra)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "%s backtest --config %s/examples/sma_cross.ini --data %s --set "
             "output.event_log=false --set output.report=false --quiet --out %s/out %s "
             ">/dev/null 2>&1",
             TB_BENCH_CLI, TB_SOURCE_DIR, spec, dir, extra);
    double t0 = now_s();
    int rc = system(cmd);
    double dt = now_s() - t0;
    return rc == 0 ? dt : -1;
}

/* The whole command: parsing (overlapped by the reader thread), then the
 * cache's first write and its loads; best of ROUNDS each. */
static int bench_command(const char *dir, const char *spec, uint64_t bars, tb_bench_emit_fn emit,
                         void *ctx)
{
    double parse = 0, cached = 0;
    for (int k = 0; k < ROUNDS; k++) {
        double dt = run_command(dir, spec, "--no-cache");
        if (dt < 0) return TB_EDATA;
        if (parse == 0 || dt < parse) parse = dt;
    }
    double first = run_command(dir, spec, "");
    for (int k = 0; k < ROUNDS && first > 0; k++) {
        double dt = run_command(dir, spec, "");
        if (dt > 0 && (cached == 0 || dt < cached)) cached = dt;
    }
    if (first <= 0 || cached <= 0) return TB_EDATA;
    emit(ctx, "backtest_command_no_cache", (double)bars / parse, "bars/s");
    emit(ctx, "backtest_command_first_read", (double)bars / first, "bars/s");
    emit(ctx, "backtest_command_from_cache", (double)bars / cached, "bars/s");
    return 0;
}

int tb_bench_md(tb_bench_emit_fn emit, void *ctx)
{
    bench_dec(emit, ctx);
    char dir[] = "/tmp/tb_bench_md_XXXXXX", path[256], spec[300], out[320];
    if (!mkdtemp(dir)) return TB_EIO;
    snprintf(path, sizeof path, "%s/BTCUSDT-1m.csv", dir);
    snprintf(spec, sizeof spec, "BTCUSDT:%s", path);
    int status = 0;
    if (write_csv(path, NROWS) != 0) {
        fprintf(stderr, "bench md: cannot write %s\n", path);
        status = TB_EIO;
        goto done;
    }
    tb_md_config mc;
    tb_md_config_init(&mc);
    double best = 0;
    uint64_t bars = 0;
    for (int k = 0; k < ROUNDS; k++) {
        double dt = read_all(spec, &mc, &bars);
        if (dt < 0) {
            status = TB_EDATA;
            goto done;
        }
        if (best == 0 || dt < best) best = dt;
    }
    emit(ctx, "md_reader_lines", (double)bars / best, "lines/s");
    /* The cache: the first read parses and writes it, the next ones load
     * it (each checking the payload's checksum and the source's hash). */
    mc.cache = 1;
    double first = read_all(spec, &mc, &bars), cached = 0;
    for (int k = 0; k < ROUNDS && first > 0; k++) {
        double dt = read_all(spec, &mc, &bars);
        if (dt > 0 && (cached == 0 || dt < cached)) cached = dt;
    }
    if (first <= 0 || cached <= 0) {
        status = TB_EDATA;
        goto done;
    }
    emit(ctx, "md_reader_first_read_cache_on", (double)bars / first, "bars/s");
    emit(ctx, "md_reader_from_cache", (double)bars / cached, "bars/s");
    emit(ctx, "md_reader_cache_speedup", best / cached, "x");
    /* The cache the reads above made goes: the command writes its own. */
    snprintf(out, sizeof out, "%s/.BTCUSDT-1m.csv.tbcache", dir);
    unlink(out);
    if (bench_command(dir, spec, bars, emit, ctx) != 0) {
        fprintf(stderr, "bench md: tradebus backtest on %s failed\n", path);
        status = TB_EDATA;
    }
done:
    snprintf(out, sizeof out, "rm -rf %s/out", dir);
    if (system(out) != 0) fprintf(stderr, "bench md: cannot remove %s/out\n", dir);
    snprintf(spec, sizeof spec, "%s/.BTCUSDT-1m.csv.tbcache", dir);
    unlink(spec);
    unlink(path);
    rmdir(dir);
    return status;
}
