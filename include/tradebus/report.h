/* tradebus — the backtest report: one self-contained HTML page per run.
 *
 * tb_report_write() reads a finished run's output folder — summary.json,
 * events.jsonl (required: [output] event_log = true) and fills.csv (optional,
 * cross-checked when present) — and writes DIR/report.html: the equity curve
 * with its drawdown, each symbol's price with the fills marked, the
 * statistics per strategy and overall, the closing positions and the trades.
 * The page has inline SVG and CSS only: no script, nothing fetched.
 *
 * Every amount the summary also holds (final equity, realized and unrealized
 * PnL, fees, per-position figures, the fill count) is recomputed exactly
 * from the event log and must equal summary.json's to the last digit; a
 * disagreement is an error, never a silently different page. The
 * statistics are defined in docs/report.md. */
#ifndef TRADEBUS_REPORT_H
#define TRADEBUS_REPORT_H

#include <stddef.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Builds DIR/report.html from the run in dir (borrowed; nothing retained).
 * 0; TB_ENOTFOUND (an input is missing), TB_EPARSE (malformed input, with
 * "file:line: ..." in err), TB_EDATA (the inputs disagree with each other),
 * TB_EIO (cannot write), TB_ENOMEM, TB_EOVERFLOW. Not thread-safe for the
 * same dir. On error no report.html is left behind (a previous one stays). */
TB_EXPORT int tb_report_write(const char *dir, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
