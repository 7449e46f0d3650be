/* tradebus — the page of a parameter sweep: sweep.html from sweep.csv.
 *
 * `tradebus sweep` runs one backtest per combination of parameter values and
 * writes sweep.csv (RFC 4180, one header row, one row per combination): the
 * swept parameters' columns first, then exactly
 * bars,trades,net_pnl,return_pct,fees,max_drawdown_pct,sharpe,sortino,
 * win_rate_pct,profit_factor,exposure_pct,error. tb_sweep_html_write() turns
 * it into one self-contained page (inline SVG and CSS, no script): the best
 * combination, the top 20 by the objective, a heat map per pair of numeric
 * parameters and each parameter's sensitivity. The page is described in
 * docs/sweep.md. */
#ifndef TRADEBUS_SWEEP_REPORT_H
#define TRADEBUS_SWEEP_REPORT_H

#include <stddef.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes html_path (atomically: a temp file renamed over it) from the sweep table at csv_path,
 * ranking by the column named objective. 0, or TB_EIO / TB_EPARSE / TB_EINVAL with the reason in
 * err ("file:line[:column]: ..."; TB_ENOMEM too). Paths and objective are borrowed; on error
 * html_path is left as it was. */
TB_EXPORT int tb_sweep_html_write(const char *csv_path, const char *html_path,
                                  const char *objective, size_t nparams, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
