/* tradebus — shadow mode: the legacy system runs beside the live pipeline.
 *
 * The seed's blue/green phase: while the pipeline trades, the legacy
 * monolith runs in the same process on the same bars, its would-be orders
 * recorded and never sent. After every bar both trade logs are compared up
 * to that bar's close, and each new divergence is published on the
 * pipeline's bus as a RiskAlert with rule "parity" (informational: it does
 * not change the trading state), so monitoring sees it as it happens. */
#ifndef TRADEBUS_SHADOW_H
#define TRADEBUS_SHADOW_H

#include "legacy.h"
#include "parity.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tb_shadow tb_shadow;

/* Attaches to bus (borrowed; observes the pipeline's events) and builds the
 * legacy runner for cfg (borrowed). opts may be NULL (exact comparison).
 * TB_ECONFIG with a message in err, TB_ENOMEM. */
TB_EXPORT int tb_shadow_create(const tb_config *cfg, tb_bus *bus, const tb_parity_options *opts,
                               tb_shadow **out, char *err, size_t errlen);
/* Bars opening before t are warm-up for the legacy side too (the
 * pipeline's tb_pipeline_set_trade_from): its strategies see them, but a
 * trade they ask for on one is dropped and the target stays, as the
 * Signal Generator does. */
TB_EXPORT void tb_shadow_set_trade_from(tb_shadow *s, int64_t t);
/* Runs the legacy side on bar (after the pipeline has processed it) and
 * compares both sides up to the bar's close. Returns the number of new
 * divergences (>= 0) or an error. */
TB_EXPORT int tb_shadow_on_bar(tb_shadow *s, const tb_market_data *bar);
/* Ends both trade logs (the pipeline's totals given, the legacy's its own)
 * and compares everything left, FINAL records included. */
TB_EXPORT int tb_shadow_finish(tb_shadow *s, tb_decimal realized, tb_decimal unrealized,
                               tb_decimal fees);
/* The comparison so far (borrowed). */
TB_EXPORT const tb_parity *tb_shadow_parity(const tb_shadow *s);
/* Detaches from the bus (before it is destroyed); the comparison stays
 * readable. NULL is a no-op. */
TB_EXPORT void tb_shadow_detach(tb_shadow *s);
/* Detaches if still attached and frees. NULL is a no-op. */
TB_EXPORT void tb_shadow_destroy(tb_shadow *s);

#ifdef __cplusplus
}
#endif
#endif
