/* The sweep's figures (bench_sweep.h). One backtest is tb_backtest_run on
 * bars in memory, as each row of a sweep is; the sweep is tb_sweep_run_bars
 * with 16 combinations of sma_cross on those bars, one worker per core. */
#define _POSIX_C_SOURCE 200809L
#include "bench_sweep.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tradebus/tradebus.h>

#define NBARS 300000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A seeded random walk in cents, one-minute bars. */
static void make_bars(tb_market_data *b, size_t n)
{
    uint64_t s = 99;
    int64_t price = 30000 * TB_DECIMAL_ONE, t = 1704067200000000000LL, cent = 1000000;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t move = ((int64_t)((s >> 33) % 2001) - 1000) * cent;
        int64_t close = price + move;
        if (close < 1000 * TB_DECIMAL_ONE) close = 1000 * TB_DECIMAL_ONE;
        memset(&b[i], 0, sizeof(b[i]));
        memcpy(b[i].symbol, "BTCUSDT", 8);
        b[i].open = price;
        b[i].close = close;
        b[i].high = (price > close ? price : close) + (int64_t)((s >> 20) % 300) * cent;
        b[i].low = (price < close ? price : close) - (int64_t)((s >> 40) % 300) * cent;
        b[i].volume = 10 * TB_DECIMAL_ONE;
        b[i].open_time = t;
        b[i].close_time = t + 59999000000LL;
        t += 60000000000LL;
        price = close;
    }
}

/* The machine's own ceiling: plain backtests, one per core at once (no
 * sweep, no report figures): what jobs x one run could at best become. */
typedef struct {
    const tb_config *cfg;
    const tb_market_data *bars;
    int rc;
} plain_job;

static void *plain_run(void *arg)
{
    plain_job *j = arg;
    tb_backtest_options bo;
    memset(&bo, 0, sizeof(bo));
    bo.bars = j->bars;
    bo.nbars = NBARS;
    tb_backtest_result res;
    char err[256];
    for (int k = 0; k < 4 && !j->rc; k++) {
        j->rc = tb_backtest_run(j->cfg, &bo, &res, err, sizeof(err));
        if (!j->rc) tb_backtest_result_free(&res);
    }
    return NULL;
}

static double plain_parallel(const tb_config *cfg, const tb_market_data *bars, int jobs)
{
    pthread_t th[64];
    plain_job pj[64];
    if (jobs > 64) jobs = 64;
    double t0 = now_s();
    int started = 0;
    for (; started < jobs; started++) {
        pj[started] = (plain_job){cfg, bars, 0};
        if (pthread_create(&th[started], NULL, plain_run, &pj[started]) != 0) break;
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    double dt = now_s() - t0;
    return started && dt > 0 ? 4.0 * started * NBARS / dt : 0;
}

static const char config_text[] = "[backtest]\n"
                                  "data = BTCUSDT:unused.csv\n"
                                  "initial_cash = 1000000\n"
                                  "[output]\n"
                                  "event_log = false\n"
                                  "[strategy.s]\n"
                                  "type = sma_cross\n"
                                  "symbol = BTCUSDT\n"
                                  "quantity = 0.01\n"
                                  "allow_short = true\n";

int tb_bench_sweep(tb_bench_emit_fn emit, void *ctx)
{
    char path[] = "/tmp/tradebus-bench-sweep-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return TB_EIO;
    if (write(fd, config_text, sizeof(config_text) - 1) != (ssize_t)(sizeof(config_text) - 1)) {
        close(fd);
        unlink(path);
        return TB_EIO;
    }
    close(fd);
    tb_market_data *bars = malloc(NBARS * sizeof(*bars));
    if (!bars) {
        unlink(path);
        return TB_ENOMEM;
    }
    make_bars(bars, NBARS);
    char err[512];
    int rc = 0;
    /* One backtest, as a sweep's row runs it: best of 3. */
    tb_config cfg;
    tb_config_init(&cfg);
    if ((rc = tb_config_load(&cfg, path, err, sizeof(err))) != 0 ||
        (rc = tb_config_set(&cfg, "strategy.s.fast=10", err, sizeof(err))) != 0 ||
        (rc = tb_config_set(&cfg, "strategy.s.slow=40", err, sizeof(err))) != 0 ||
        (rc = tb_config_build(&cfg, err, sizeof(err))) != 0) {
        fprintf(stderr, "bench: sweep: %s\n", err);
        goto out;
    }
    tb_sweep_param p[2];
    if (tb_sweep_param_parse("strategy.s.fast=5:20:5", &p[0], err, sizeof(err)) != 0 ||
        tb_sweep_param_parse("strategy.s.slow=30,40,50,60", &p[1], err, sizeof(err)) != 0 ||
        tb_sweep_param_names(p, 2, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench: sweep: %s\n", err);
        tb_config_free(&cfg);
        rc = TB_EINVAL;
        goto out;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    /* Alternating rounds, best of 3 each: this machine's speed drifts
     * between runs, and the ratio must compare like with like. */
    double single = 0, rate[2] = {0, 0}, plain = 0;
    for (int round = 0; round < 3 && !rc; round++) {
        tb_backtest_options bo;
        memset(&bo, 0, sizeof(bo));
        bo.bars = bars;
        bo.nbars = NBARS;
        tb_backtest_result res;
        double t0 = now_s();
        rc = tb_backtest_run(&cfg, &bo, &res, err, sizeof(err));
        double dt = now_s() - t0;
        if (rc) {
            fprintf(stderr, "bench: sweep: one run: %s\n", err);
            break;
        }
        tb_backtest_result_free(&res);
        if (NBARS / dt > single) single = NBARS / dt;
        double pp = plain_parallel(&cfg, bars, (int)cores);
        if (pp > plain) plain = pp;
        for (int pass = 0; pass < 2 && !rc; pass++) {
            tb_sweep_options o;
            memset(&o, 0, sizeof(o));
            o.config_path = path;
            o.params = p;
            o.nparams = 2;
            o.jobs = pass == 0 ? 1 : (int)cores;
            tb_sweep_result sr;
            if ((rc = tb_sweep_plan(&o, &sr, err, sizeof(err))) != 0) break;
            rc = tb_sweep_run_bars(&o, &sr, bars, NBARS, err, sizeof(err));
            size_t failed = 0;
            for (size_t i = 0; i < sr.nrows; i++)
                failed += sr.rows[i].error[0] != 0;
            double x = !rc && sr.seconds > 0 ? (double)sr.nrows * NBARS / sr.seconds : 0;
            tb_sweep_result_free(&sr);
            if (rc || failed) {
                fprintf(stderr, "bench: sweep: %s\n", rc ? err : "a combination failed");
                if (!rc) rc = TB_EINVAL;
                break;
            }
            if (x > rate[pass]) rate[pass] = x;
        }
    }
    tb_config_free(&cfg);
    tb_sweep_param_free(&p[0]);
    tb_sweep_param_free(&p[1]);
    if (rc) goto out;
    emit(ctx, "sweep_single_run_throughput", single, "bars/s");
    for (int pass = 0; pass < 2; pass++) {
        int jobs = pass == 0 ? 1 : (int)cores;
        char name[64];
        snprintf(name, sizeof(name), "sweep_jobs%d_bar_combinations", jobs);
        emit(ctx, name, rate[pass], "bars*combinations/s");
        snprintf(name, sizeof(name), "sweep_jobs%d_ratio_to_jobs_x_single", jobs);
        emit(ctx, name, rate[pass] / ((double)jobs * single), "x");
    }
    char name[64];
    snprintf(name, sizeof(name), "plain_runs_%ld_at_once_ratio_to_jobs_x_single", cores);
    emit(ctx, name, plain / ((double)cores * single), "x");
    snprintf(name, sizeof(name), "sweep_jobs%ld_ratio_to_plain_runs_at_once", cores);
    emit(ctx, name, plain > 0 ? rate[1] / plain : 0, "x");
out:
    free(bars);
    unlink(path);
    return rc;
}
