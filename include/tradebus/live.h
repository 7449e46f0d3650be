/* tradebus — the live runner: the pipeline on live Binance Spot bars.
 *
 * tb_live_run() is `tradebus live` (docs/live.md): the embedded pipeline of
 * tb_pipeline_create() on a wall-clock loop, fed by the kline stream of
 * every strategy's symbol, until SIGINT or SIGTERM. The exchange is the one
 * the config's [exchange] names: `type = binance` with `mode = paper` (or
 * `type = sim`) fills on the live bars with the simulator, as a backtest
 * would; `mode = testnet` and `mode = live` trade through the Binance
 * adapter (binance.h), live only when the caller says so (allow_live).
 *
 * Before the first live bar the runner loads enough history (REST) to warm
 * every strategy's indicators: [live] warmup_bars, else the largest period
 * the strategies are configured with (tb_live_warmup_bars). Those bars go
 * through the whole pipeline, but no signal is published on them
 * (tb_pipeline_set_trade_from): no order ever comes from a bar that closed
 * before the run began.
 *
 * At the end (a signal, or tb_live_options.stop): no new bar is taken, the
 * open orders are canceled on the exchange ([live] cancel_on_exit, a Binance
 * adapter only: the simulator's orders are reported as still open, as at the
 * end of a backtest), the journal is committed, and summary.json, fills.csv,
 * events.jsonl, trades.csv, equity.csv and report.html are published into
 * out_dir at once (temporary names, renamed together). */
#ifndef TRADEBUS_LIVE_H
#define TRADEBUS_LIVE_H

#include <signal.h>
#include "backtest.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the run is doing, for a status line (tb_live_options.status). */
typedef struct {
    const char *mode; /* "paper", "testnet", "live" */
    int streams, streams_connected;
    int warm;                    /* history loaded: live bars flow */
    int ready;                   /* the exchange may take orders (paper: 1) */
    int64_t now;                 /* wall time, ns */
    int64_t last_bar_close;      /* close time of the last bar, 0 = none */
    int64_t last_bar_at;         /* wall time it arrived, 0 = none */
    int64_t last_rx;             /* wall time of the last stream message, 0 = none */
    uint64_t bars, history_bars; /* bars through the pipeline, of which warm-up */
    uint64_t rest_bars;          /* bars fetched by REST after a gap or a reconnection */
    uint64_t reconnects;
    uint64_t muted; /* decisions dropped on warm-up bars */
    size_t open_orders;
    tb_decimal equity; /* initial + realized + unrealized - fees */
    /* Borrowed for the call: one entry per (strategy, symbol). */
    const tb_position_update *positions;
    size_t npositions;
} tb_live_status;

typedef struct {
    const char *out_dir; /* created if missing; NULL = write nothing */
    int report;          /* also report.html (needs [output] event_log) */
    int allow_live;      /* `--live`: mode = live may trade real money */
    /* The kill switch: cancel every open order of ours (tb_binance_cancel_all)
     * and return without running (res has no bars). Paper mode: nothing to
     * cancel, returns 0. */
    int cancel_all;
    /* `--resume`: continue the live run cfg->journal_path holds (testnet,
     * live). Its state is restored from the journal — the Order Manager
     * follows the orders it left open, the positions, cash and PnL go on
     * from its fills — and the exchange's start-up reconciles them: what
     * happened while no process ran comes in once, as events of those
     * orders. Without it a journal that holds a run is refused. Paper mode
     * is refused (the simulator's orders ended with its process). */
    int resume;
    /* `--adopt-positions`: balances that disagree with the journal's
     * positions are a warning, not a failed start-up. */
    int adopt_positions;
    /* Called about once a second from the loop, and once at the end. */
    void (*status)(const tb_live_status *st, void *ctx);
    /* News worth a log line (connections, gaps, the exchange's start-up):
     * level 0 info, 1 warning, 2 error. Never holds a secret. */
    void (*log)(int level, const char *msg, void *ctx);
    void *ctx;
    /* Polled once a second; set to 1 it ends the run as SIGINT does. */
    volatile sig_atomic_t *stop;
    /* The observers of tb_backtest_options (the shadow legacy run, the
     * metrics), with the same contract; any may be NULL. */
    int (*on_start)(tb_pipeline *p, void *ctx);
    int (*on_bar)(tb_pipeline *p, const tb_market_data *bar, void *ctx);
    int (*on_end)(tb_pipeline *p, const tb_backtest_result *res, void *ctx);
    void (*on_stop)(tb_pipeline *p, void *ctx);
    void *hook_ctx;
    /* Gauges of the feed and the exchange (borrowed; NULL = none). */
    struct tb_metrics *metrics;
} tb_live_options;

/* The run's mode from cfg: [exchange] mode of a binance type, else "paper". */
TB_EXPORT const char *tb_live_mode(const tb_config *cfg);
/* The history bars a live run loads per symbol: [live] warmup_bars, else
 * the largest period-like param (fast, slow, period, ... or the built-in
 * strategies' defaults) of the configured strategies, plus one, counted in
 * bars of the strategy's longest timeframe (timeframes = 1m 1h: x 60);
 * at most 999 (one page of klines). */
TB_EXPORT int tb_live_warmup_bars(const tb_config *cfg);

/* Runs live until SIGINT/SIGTERM (watched on the run's loop) or *stop.
 * cfg is built with cfg->live set. 0 with res filled (free it with
 * tb_backtest_result_free); TB_ECONFIG with the reason in err (mode = live
 * without allow_live, bad [live] URLs, ...); TB_EIO; the exchange's start-up
 * error. On error nothing in out_dir has changed. */
TB_EXPORT int tb_live_run(const tb_config *cfg, const tb_live_options *opt, tb_backtest_result *res,
                          char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
