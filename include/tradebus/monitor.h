/* tradebus — the Monitor: subscribes to every event, keeps the counters and
 * writes the run's records.
 *
 *  - event log: every event in dispatch order, one line of the codec's JSON
 *    (events.jsonl);
 *  - fills: one CSV row per OrderFilled, header
 *    timestamp,strategy_id,symbol,side,order_id,client_order_id,quantity,price,commission,
 *    event_id,origin
 *    with the execution time as ISO-8601 UTC with milliseconds, the
 *    OrderFilled's event id (decimal: `tradebus journal trace` takes it) and
 *    the order's origin (signal, stop_loss, ..., the exit reason it gives).
 * Either stream may be NULL (not written). The streams are borrowed: the
 * caller opens and closes them. A write error is returned as TB_EIO (the bus
 * retries, then dead-letters).
 *
 * Validation: an event that is not well-formed — for its type, what the
 * wire codec would refuse (unterminated or missing strings, unknown enums,
 * event_id 0, version or source unknown, negative time, a decimal of the
 * wrong sign) and the relations a sane event keeps (a bar's high >= low,
 * open and close within them; a fill's cumulative >= its quantity; a
 * position OPEN exactly when non-zero) — is refused (TB_EDATA for
 * MarketData, TB_EINVAL otherwise) with a reason for the dead letter, and is
 * neither counted nor written. The monitor keeps no per-key state, so time
 * order and order states are the other components' checks.
 *
 * It also writes trades.csv and equity.csv as the run goes — the report's
 * replay (src/report/) in live mode: an equity row per bar close time (at
 * most one a minute) once the next shows its minute is over (handed to the
 * stream 4 KB of rows at a time; tb_monitor_finish hands the rest), a
 * trade's row once the bar it closed on is over. It keeps only the open trades, so its
 * memory does not grow with the run (no allocation per event in the
 * steady state). */
#ifndef TRADEBUS_MONITOR_H
#define TRADEBUS_MONITOR_H

#include <stdio.h>
#include "bus.h"
#include "timefmt.h" /* tb_format_time_iso, once declared here */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tb_monitor tb_monitor;

/* Rejections are counted per tb_reject_reason value below this; a larger
 * (future) value is counted under TB_REJECT_NONE's slot, never lost. */
#define TB_MONITOR_REJECT_SLOTS 16
/* Distinct RiskAlert rules kept by name; alerts of further rules are
 * counted under the last slot, renamed "other". */
#define TB_MONITOR_ALERT_RULES 16
/* Halts kept with their time and detail; halts_total counts them all. */
#define TB_MONITOR_HALTS 8

typedef struct {
    char rule[TB_RULE_LEN];
    uint64_t count;
} tb_rule_count;

/* The run went from not halted to HALTED: the RiskAlert that said so. */
typedef struct {
    int64_t time; /* the alert's timestamp */
    char rule[TB_RULE_LEN];
    char detail[TB_TEXT_LEN];
} tb_halt;

/* What went wrong in a run, as the monitor counted it. */
typedef struct {
    uint64_t rejections[TB_MONITOR_REJECT_SLOTS]; /* OrderRejected by reason */
    tb_rule_count alerts[TB_MONITOR_ALERT_RULES]; /* RiskAlert by rule, first seen first */
    size_t nalerts;
    /* The trading state the last RiskAlert left (ACTIVE before any). */
    tb_trading_state trading_state;
    tb_halt halts[TB_MONITOR_HALTS]; /* the first ones */
    size_t nhalts;
    uint64_t halts_total;
} tb_monitor_tally;

typedef struct {
    FILE *event_log; /* NULL: no event log */
    FILE *fills_csv; /* NULL: no fills file */
    /* The account's starting equity: the equity curve and the trades'
     * figures start from it. */
    tb_decimal initial_equity;
    FILE *trades_csv; /* NULL: no trades file (trades are still counted) */
    FILE *equity_csv; /* NULL: no equity file */
} tb_monitor_config;

/* Creates the monitor and subscribes it to every type on bus (borrowed);
 * writes the files' headers at once (the streams stay the caller's).
 * 0, TB_EINVAL, TB_ENOMEM, TB_EIO. */
TB_EXPORT int tb_monitor_create(tb_bus *bus, const tb_monitor_config *cfg, tb_monitor **out);
/* Unsubscribes and frees (streams stay open). NULL is a no-op. */
TB_EXPORT void tb_monitor_destroy(tb_monitor *m);
/* Events of a type the monitor has seen (TB_BUS_ALL: all). */
TB_EXPORT uint64_t tb_monitor_count(const tb_monitor *m, tb_event_type type);
/* Copies the rejection, alert and halt counts into out. A RiskAlert with
 * trading_state HALTED while the run was not halted is a halt. */
TB_EXPORT void tb_monitor_get_tally(const tb_monitor *m, tb_monitor_tally *out);
/* Round trips so far (flat to flat per strategy and symbol, as
 * docs/report.md defines them): closed ones, and those with net PnL > 0. */
TB_EXPORT void tb_monitor_trades(const tb_monitor *m, uint64_t *closed, uint64_t *wins);
/* The run is over: writes equity.csv's last row (the final equity) and
 * trades.csv's rows left — trades closed on the last bar, then those
 * still open, closed at their symbol's last close with exit reason "end"
 * (docs/report.md). Later events are counted, not written. Returns the
 * first failure of the files (TB_EIO, TB_ENOMEM, TB_EOVERFLOW), else 0;
 * calling it again returns the same. */
TB_EXPORT int tb_monitor_finish(tb_monitor *m);

#ifdef __cplusplus
}
#endif
#endif
