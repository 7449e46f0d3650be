/* Lua strategies' figures: see bench_lua.h. */
#define _GNU_SOURCE
#include "bench_lua.h"

#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tradebus/lua_strategy.h>
#include <tradebus/tradebus.h>

#include "../src/components/lua_int.h" /* the strategy's lua_State, for its own figures */

#define NBARS  1000000
#define NWARM  100000
#define ROUNDS 3

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A seeded random walk in whole cents, around 42000 (a BTCUSDT minute). */
static void make_bars(tb_market_data *bars, size_t n)
{
    uint64_t s = 16;
    int64_t price = 42000 * TB_DECIMAL_ONE, t = 1704067200000000000LL, cent = 1000000;
    for (size_t i = 0; i < n; i++) {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        int64_t open = price, close = open + ((int64_t)(z % 2001) - 1000) * cent;
        if (close < 1000 * TB_DECIMAL_ONE) close = 1000 * TB_DECIMAL_ONE + cent;
        tb_market_data *b = &bars[i];
        memset(b, 0, sizeof *b);
        memcpy(b->symbol, "BTCUSDT", 8);
        b->open = open;
        b->close = close;
        b->high = (open > close ? open : close) + (int64_t)((z >> 20) % 500) * cent;
        b->low = (open < close ? open : close) - (int64_t)((z >> 40) % 500) * cent;
        b->volume = (int64_t)(1 + (z >> 50) % 100) * TB_DECIMAL_ONE;
        b->open_time = t;
        b->close_time = t + 59999000000LL;
        t += 60000000000LL;
        price = close;
    }
}

/* The bench's usual sma_cross, as the built-in or as the Lua script. */
static int build_config(tb_config *cfg, const char *script)
{
    char err[256], set[600];
    tb_config_init(cfg);
    const char *sets[] = {"backtest.initial_cash=1000000000",
                          "strategy.s.symbol=BTCUSDT",
                          "strategy.s.fast=10",
                          "strategy.s.slow=30",
                          "strategy.s.quantity=0.01",
                          "strategy.s.allow_short=true",
                          "output.event_log=false"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (tb_config_set(cfg, sets[i], err, sizeof err) != 0) goto bad;
    snprintf(set, sizeof set, "strategy.s.type=%s", script ? "lua" : "sma_cross");
    if (tb_config_set(cfg, set, err, sizeof err) != 0) goto bad;
    if (script) {
        snprintf(set, sizeof set, "strategy.s.script=%s", script);
        if (tb_config_set(cfg, set, err, sizeof err) != 0) goto bad;
    }
    tb_config_add_data(cfg, "unused.csv");
    if (tb_config_build(cfg, err, sizeof err) == 0) return 0;
bad:
    fprintf(stderr, "bench: lua: config: %s\n", err);
    return TB_ECONFIG;
}

/* One timed run: bars/s after the warm-up; *allocs_per_bar and *orders. */
static int run_once(tb_config *cfg, const tb_market_data *bars, const uint64_t *allocs,
                    double *rate, double *allocs_per_bar, uint64_t *orders)
{
    tb_pipeline *p;
    char err[256];
    int rc = tb_pipeline_create(cfg, NULL, &p, err, sizeof err);
    if (rc) {
        fprintf(stderr, "bench: lua: %s\n", err);
        return rc;
    }
    for (size_t i = 0; i < NWARM; i++)
        tb_pipeline_push_bar(p, &bars[i]);
    uint64_t a0 = *allocs;
    double t0 = now_s();
    for (size_t i = NWARM; i < NBARS; i++)
        tb_pipeline_push_bar(p, &bars[i]);
    double dt = now_s() - t0;
    *allocs_per_bar = (double)(*allocs - a0) / (double)(NBARS - NWARM);
    *rate = (double)(NBARS - NWARM) / dt;
    tb_backtest_result res;
    tb_pipeline_result(p, &res);
    *orders = res.orders;
    tb_backtest_result_free(&res);
    tb_pipeline_destroy(p);
    return 0;
}

/* Counts the calls that take memory from the Lua allocator. */
typedef struct {
    lua_Alloc f;
    void *ud;
    uint64_t n;
} counting_alloc;

static void *count_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    counting_alloc *c = ud;
    if (nsize > 0 && (!ptr || nsize > osize)) c->n++;
    return c->f(c->ud, ptr, osize, nsize);
}

/* The strategy alone (no pipeline): Lua allocator calls and heap growth
 * per bar in steady state. */
static int lua_side(const char *script, const tb_market_data *bars, double *calls_per_bar,
                    double *bytes_per_bar)
{
    tb_param params[] = {{"script", script},
                         {"fast", "10"},
                         {"slow", "30"},
                         {"quantity", "0.01"},
                         {"allow_short", "true"}};
    void *st = NULL;
    char err[256];
    int rc = tb_lua_strategy_vtable.create(&tb_lua_strategy_vtable, params,
                                           sizeof params / sizeof params[0], &st, err, sizeof err);
    if (rc) {
        fprintf(stderr, "bench: lua: %s\n", err);
        return rc;
    }
    lua_State *L = tb__lua_strategy_state(st);
    tb_strategy_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.strategy_id = "s";
    tb_strategy_decision d;
    for (size_t i = 0; i < NWARM; i++) {
        (void)tb_lua_strategy_vtable.on_bar(st, &bars[i], &ctx, &d);
        if (d.signal == TB_SIGNAL_BUY) ctx.position += d.volume;
        if (d.signal == TB_SIGNAL_SELL) ctx.position -= d.volume;
    }
    counting_alloc c = {NULL, NULL, 0};
    c.f = lua_getallocf(L, &c.ud);
    lua_setallocf(L, count_alloc, &c);
    /* Growth is measured with the collector stopped, so what it frees
     * meanwhile does not hide what the bars allocate. */
    lua_gc(L, LUA_GCCOLLECT, 0);
    lua_gc(L, LUA_GCSTOP, 0);
    double kb0 = lua_gc(L, LUA_GCCOUNT, 0) * 1024.0 + lua_gc(L, LUA_GCCOUNTB, 0);
    for (size_t i = NWARM; i < NBARS; i++) {
        (void)tb_lua_strategy_vtable.on_bar(st, &bars[i], &ctx, &d);
        if (d.signal == TB_SIGNAL_BUY) ctx.position += d.volume;
        if (d.signal == TB_SIGNAL_SELL) ctx.position -= d.volume;
    }
    double kb1 = lua_gc(L, LUA_GCCOUNT, 0) * 1024.0 + lua_gc(L, LUA_GCCOUNTB, 0);
    lua_gc(L, LUA_GCRESTART, 0);
    lua_setallocf(L, c.f, c.ud);
    *calls_per_bar = (double)c.n / (double)(NBARS - NWARM);
    *bytes_per_bar = (kb1 - kb0) / (double)(NBARS - NWARM);
    tb_lua_strategy_vtable.destroy(st);
    return 0;
}

int tb_bench_lua(const char *script, const uint64_t *allocs, tb_bench_emit_fn emit, void *ctx)
{
    tb_market_data *bars = malloc(NBARS * sizeof *bars);
    if (!bars) return TB_ENOMEM;
    make_bars(bars, NBARS);
    tb_config cc, lc;
    int rc = build_config(&cc, NULL);
    if (!rc) {
        rc = build_config(&lc, script);
        if (rc) tb_config_free(&cc);
    }
    if (rc) {
        free(bars);
        return rc;
    }
    double best_c = 0, best_l = 0, allocs_l = -1;
    uint64_t orders_c = 0, orders_l = 0;
    /* Alternating, so a slower moment of the machine hits both alike. */
    for (int r = 0; r < ROUNDS && !rc; r++) {
        double rate, a;
        rc = run_once(&cc, bars, allocs, &rate, &a, &orders_c);
        if (!rc && rate > best_c) best_c = rate;
        if (!rc) rc = run_once(&lc, bars, allocs, &rate, &a, &orders_l);
        if (!rc && rate > best_l) best_l = rate;
        if (!rc && (allocs_l < 0 || a < allocs_l)) allocs_l = a;
    }
    tb_config_free(&cc);
    tb_config_free(&lc);
    double calls = 0, bytes = 0;
    if (!rc) rc = lua_side(script, bars, &calls, &bytes);
    free(bars);
    if (rc) return rc;
    if (orders_c != orders_l) {
        /* Same strategy, same bars: a difference means the bench is wrong. */
        fprintf(stderr, "bench: lua: %llu orders from the Lua sma_cross, %llu from the built-in\n",
                (unsigned long long)orders_l, (unsigned long long)orders_c);
        return TB_EINVAL;
    }
    emit(ctx, "lua_sma_cross_c_throughput", best_c, "bars/s");
    emit(ctx, "lua_sma_cross_lua_throughput", best_l, "bars/s");
    emit(ctx, "lua_sma_cross_ratio", best_l / best_c, "x");
    emit(ctx, "lua_sma_cross_orders", (double)orders_l, "orders");
    emit(ctx, "lua_engine_allocations_per_bar", allocs_l, "allocs/bar");
    emit(ctx, "lua_allocator_calls_per_bar", calls, "allocs/bar");
    emit(ctx, "lua_heap_growth_per_bar", bytes, "bytes/bar");
    return 0;
}
