/* tradebus — wiring the pipeline together and running a backtest.
 *
 * tb_pipeline builds the embedded default from a config: one in-process bus,
 * the exchange the config's [exchange] type names (the simulator by default,
 * created through the registry: exchange_registry.h, and used only through
 * the port, exchange.h), and the components subscribed in this order —
 * Risk Manager, Order Manager (which feeds the exchange, so fills of bar t+1
 * are queued before any new signal of bar t+1), Position Manager, Signal
 * Generator, Monitor. Bars go in with tb_pipeline_push_bar(); every event
 * they cause is dispatched before it returns.
 *
 * tb_backtest_run() reads the config's data files, pushes every bar and
 * writes summary.json, fills.csv, events.jsonl and report.html into out_dir:
 * all under temporary names, renamed only when the run ends, so a run that
 * fails leaves out_dir as it was. */
#ifndef TRADEBUS_BACKTEST_H
#define TRADEBUS_BACKTEST_H

#include <signal.h>
#include <stdio.h>
#include "bus.h"
#include "config.h"
#include "external.h"
#include "loop.h"
#include "monitor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint64_t bars, bad_rows, signals, orders, fills, rejected, canceled, open_orders;
    uint64_t dead_letters;
    int64_t dead_letter_queue; /* entries in the journal's queue; -1 without a journal */
    uint64_t dlq_replayed, dlq_still_failing; /* replay_dead_letters outcome */
    uint64_t events[TB_EV_COUNT];             /* per type; [0] = all */
    tb_decimal realized_pnl, unrealized_pnl, fees;
    tb_decimal initial_equity, final_equity, max_drawdown_pct;
    tb_decimal cash; /* the account's cash as the exchange reports it (0 if it cannot):
                        cross-checks the equity */
    tb_position_update *positions; /* owned: tb_backtest_result_free() */
    /* Per entry of positions: realized PnL over every position the
     * (strategy, symbol) has had, not just the current one. Owned. */
    tb_decimal *total_realized;
    size_t npositions;
    /* Rejections by reason, RiskAlerts by rule, the halts and the trading
     * state at the end, as the monitor counted them. */
    tb_monitor_tally tally;
    /* Signals whose sized quantity rounded to nothing (no order sent). */
    uint64_t size_too_small;
    /* Closed round trips (flat to flat per strategy and symbol; a trade
     * still open at the end is not counted) and those with net PnL > 0. */
    uint64_t trades, winning_trades;
    /* 1 when tb_backtest_options.stop ended the run before the data did:
     * the figures are those at the last whole bar (summary.json then says
     * "interrupted": true). */
    int interrupted;
} tb_backtest_result;

/* The components a pipeline holds (tb_pipeline_options.roles): one bit per
 * component of TB_COMPONENT_MAP (event.h), TB_ROLE_<ID> = 1 << (process - 1):
 * TB_ROLE_SIGNAL 1, ORDERS 2, POSITIONS 4, RISK 8, MONITOR 16. A process of
 * a distributed run holds one role; the embedded default holds them all.
 * ORDERS also holds a Risk Manager for its pre-trade checks, fed the same
 * events as the RISK process's (what it publishes on its own is the RISK
 * process's to send). MONITOR holds the monitor and the summary's PnL book. */
enum {
#define TB__ROLE_BIT(id, value, name, slot, process) TB_ROLE_##id = 1 << ((process)-1),
#define TB__ROLE_OR(id, value, name, slot, process)  | TB_ROLE_##id
#define TB__ROLE_NONE(...)
    TB_COMPONENT_MAP(TB__ROLE_NONE, TB__ROLE_BIT, TB__ROLE_NONE)
    /* every component */
    TB_ROLE_ALL = 0 TB_COMPONENT_MAP(TB__ROLE_NONE, TB__ROLE_OR, TB__ROLE_NONE)
#undef TB__ROLE_BIT
#undef TB__ROLE_OR
#undef TB__ROLE_NONE
};

typedef struct {
    FILE *event_log; /* borrowed; NULL = none */
    FILE *fills_csv; /* borrowed; NULL = none */
    /* (Strategies beyond the built-ins: tb_config.extra_types.) */
    tb_dead_letter_fn on_dead_letter; /* sees every dead letter (e.g. the journal); may be NULL */
    void *on_dead_letter_ctx;
    unsigned roles;      /* TB_ROLE_* bits; 0 = all */
    uint16_t node_id;    /* ids' node part; 0 = the config's (a signal shard takes its own) */
    tb_outbox_fn outbox; /* distributed mode: see tb_bus_config.outbox; NULL = none */
    void *outbox_ctx;
    /* Written as the run goes by the MONITOR role (tb_monitor_config);
     * tb_pipeline_finish writes their last rows. Borrowed; NULL = none. */
    FILE *trades_csv;
    FILE *equity_csv;
    /* The clock and timers (borrowed). NULL: the pipeline makes a simulated
     * loop that tb_pipeline_push_bar advances to each bar's time. */
    tb_loop *loop;
    /* [component.NAME] programs (external.h): with roles 0 the pipeline
     * runs every one and the built-ins none replaces. component names one
     * to run alone beside roles (a distributed run's process; roles may
     * then be 0: no built-in). Their stderr lines go to component_log
     * (NULL: "NAME: line" on stderr). */
    const char *component;
    tb_external_log_fn component_log;
    void *component_log_ctx;
} tb_pipeline_options;

typedef struct tb_pipeline tb_pipeline;

/* Builds the pipeline from a built config (borrowed for the pipeline's life).
 * TB_ECONFIG with "[strategy.ID] key: ..." in err, TB_ENOMEM. */
TB_EXPORT int tb_pipeline_create(const tb_config *cfg, const tb_pipeline_options *opt,
                                 tb_pipeline **out, char *err, size_t errlen);
/* The run is over: every program's input ends (if settle did not), then
 * the monitor writes its last rows (tb_monitor_finish). 0 (also without a
 * MONITOR role), TB_EHANDLER (a program failed), TB_EIO, TB_ENOMEM,
 * TB_EOVERFLOW. */
TB_EXPORT int tb_pipeline_finish(tb_pipeline *p);
/* Why a [component.NAME] program failed (the first), or NULL. Borrowed. */
TB_EXPORT const char *tb_pipeline_failure(const tb_pipeline *p);
/* Publishes one bar as MarketData and dispatches everything it causes;
 * TB_EHANDLER when a program failed on it (tb_pipeline_failure()). On a
 * simulated clock it first advances the clock to the bar's close time, so
 * every timer due by then (an order's retry) fires before the bar, and
 * after it fires those its handlers started for a time already past. */
TB_EXPORT int tb_pipeline_push_bar(tb_pipeline *p, const tb_market_data *bar);
/* The end of the data: on a simulated clock every timer still pending fires
 * (a retry after the last bar is still made); then every program's input
 * ends and it must exit with status 0. 0, or TB_EHANDLER (a program
 * failed: tb_pipeline_failure()). */
TB_EXPORT int tb_pipeline_settle(tb_pipeline *p);
/* Bars opening before t are warm-up (tb_signal_generator_set_trade_from):
 * they go through the whole pipeline but no signal, hence no order, comes
 * from them. No-op without a Signal Generator. */
TB_EXPORT void tb_pipeline_set_trade_from(tb_pipeline *p, int64_t t);
/* The warm-up bound of tb_pipeline_set_trade_from (0: none). */
TB_EXPORT int64_t tb_pipeline_trade_from(const tb_pipeline *p);
/* Decisions dropped on warm-up bars (0 without a Signal Generator). */
TB_EXPORT uint64_t tb_pipeline_muted(const tb_pipeline *p);
/* The exchange adapter (borrowed; NULL without an ORDERS role), e.g. for
 * tb_binance_status_get(). */
TB_EXPORT tb_exchange *tb_pipeline_exchange(tb_pipeline *p);
/* The pipeline's loop (borrowed): its clock and timers. */
TB_EXPORT tb_loop *tb_pipeline_loop(tb_pipeline *p);
/* The bus (borrowed), e.g. to subscribe extra observers before pushing. */
TB_EXPORT tb_bus *tb_pipeline_bus(tb_pipeline *p);
/* Restores state from one event of an earlier session's journal (`tradebus
 * live --resume`), in journal order: ids issued later come after its id, and
 * the Order Manager follows its order events (tb_order_manager_restore;
 * nothing is published or sent). Fills are the caller's to publish on the
 * bus once every event is restored, so the Position and Risk Managers and
 * the summary count them. 0, TB_ENOMEM. */
TB_EXPORT int tb_pipeline_restore(tb_pipeline *p, const tb_event *ev);
/* Fills res with the state now (caller frees with tb_backtest_result_free).
 * A pipeline holding some roles fills the fields of those roles only. */
TB_EXPORT int tb_pipeline_result(const tb_pipeline *p, tb_backtest_result *res);
/* Fills res->total_realized (allocating it) for res->positions from this
 * pipeline's PnL book (a MONITOR role). 0, TB_EMISUSE (no book), TB_ENOMEM. */
TB_EXPORT int tb_pipeline_total_realized(const tb_pipeline *p, tb_backtest_result *res);
/* Sets res->final_equity = initial + realized + unrealized - fees. 0 or TB_EOVERFLOW. */
TB_EXPORT int tb_backtest_result_finish(tb_backtest_result *res);
/* The Risk Manager's trading state (ACTIVE when the pipeline holds none). */
TB_EXPORT tb_trading_state tb_pipeline_trading_state(const tb_pipeline *p);
/* The names components subscribe (and publish) under, in the embedded
 * pipeline's subscription order (their slots in TB_COMPONENT_MAP, event.h):
 * "risk", "orders", "positions", "signal", "summary", "monitor", then NULL.
 * An event's id and place in a run depend on it. */
TB_EXPORT const char *const *tb_pipeline_publishers(void);
/* Frees every component. NULL is a no-op. */
TB_EXPORT void tb_pipeline_destroy(tb_pipeline *p);

typedef struct {
    const char *out_dir; /* created if missing, with its parents; NULL = write nothing */
    /* With out_dir and [output] event_log: also write report.html
     * (tb_report_write) before the files are published; its failure fails
     * the run. */
    int report;
    /* Polled between bars; may be NULL. Set to 1 (e.g. by a signal handler)
     * it ends the run at the next bar boundary as if the data ended there:
     * the result has interrupted = 1, the outputs are written, a journal is
     * left resumable (not marked complete). Set to 2 or more it abandons
     * the run at the next check: TB_ECANCELED, nothing published. */
    volatile sig_atomic_t *stop;
    /* 1: SIGINT and SIGTERM reach the run's event loop (tb_loop) instead of
     * their default action while it runs: the first counts as stop = 1, the
     * second as stop = 2. When the run returns they have their default
     * action again. */
    int watch_signals;
    /* Called every progress_every bars (0 = never) with the bars so far. */
    void (*progress)(uint64_t bars, int64_t bar_time, void *ctx);
    void *progress_ctx;
    uint64_t progress_every;
    /* Skipped bad rows are reported here ("file:line: ..."); NULL = silent count. */
    void (*warn)(const char *msg, void *ctx);
    void *warn_ctx;
    /* Hooks for observers that run beside the pipeline (the trade log, the
     * shadow legacy run); any may be NULL. A non-zero return stops the run
     * with that error. on_start runs before the first bar, on_bar after
     * each bar and everything it caused, on_end with the final result, and
     * on_stop — whenever on_start had succeeded, error or not — just before
     * the pipeline is destroyed (unsubscribe there). */
    int (*on_start)(tb_pipeline *p, void *ctx);
    int (*on_bar)(tb_pipeline *p, const tb_market_data *bar, void *ctx);
    int (*on_end)(tb_pipeline *p, const tb_backtest_result *res, void *ctx);
    void (*on_stop)(tb_pipeline *p, void *ctx);
    void *hook_ctx;
    /* With [journal] path set: continue the run the journal holds (see
     * docs/journal.md). Without it an existing run in the journal is an error. */
    int resume;
    /* With resume: after the journaled run is rebuilt, deliver dead letters
     * again to the components that failed them (a queue id, or -1 for all;
     * 0 = none). Successes leave the queue; counts go into the result. */
    int64_t replay_dead_letters;
    /* Where [component.NAME] programs' stderr lines go (NULL: "NAME: line"
     * on stderr); see tb_pipeline_options. */
    tb_external_log_fn component_log;
    void *component_log_ctx;
    /* The market data already in memory (borrowed), merged in time order as
     * tb_md_merge_next gives it: the run uses these bars instead of reading
     * cfg's data files (a sweep reads them once for every run). NULL = the
     * files. A journal needs the files (TB_ECONFIG). */
    const tb_market_data *bars;
    size_t nbars;
    /* Bars opening before it (ns) only warm the strategies up: no decision
     * on them is sent (tb_pipeline_set_trade_from). 0 = none. */
    int64_t trade_from;
} tb_backtest_options;

/* Runs a whole backtest. 0; TB_ECONFIG / TB_EDATA / TB_EIO with a message
 * naming the file and line, or the config key, in err; TB_ECANCELED (stop
 * >= 2). On error nothing in out_dir has changed. res is filled on
 * success (free it with tb_backtest_result_free). */
TB_EXPORT int tb_backtest_run(const tb_config *cfg, const tb_backtest_options *opt,
                              tb_backtest_result *res, char *err, size_t errlen);
/* (final_equity - initial_equity) x 100 / initial_equity, half-up to 1e-8
 * (0 without an initial equity). 0 or TB_EOVERFLOW. */
TB_EXPORT int tb_backtest_return_pct(const tb_backtest_result *res, tb_decimal *out);
/* winning_trades x 100 / trades, half-up to 1e-8 (0 without a trade). */
TB_EXPORT int tb_backtest_win_rate(const tb_backtest_result *res, tb_decimal *out);
/* Writes res as summary.json (keys: docs/report.md). 0 or TB_EIO. */
TB_EXPORT int tb_backtest_write_summary(const tb_backtest_result *res, FILE *f);
/* Frees what res owns. */
TB_EXPORT void tb_backtest_result_free(tb_backtest_result *res);

#ifdef __cplusplus
}
#endif
#endif
