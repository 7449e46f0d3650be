/* tradebus — the "before" system: a legacy monolithic strategy loop, the
 * old-style strategy interface, and the adapter that runs such a strategy on
 * the pipeline unchanged.
 *
 * The monolith (tb_legacy_runner) is one loop, the way trading scripts are
 * written before a migration: for each bar it fills the symbol's open orders,
 * updates positions and PnL, runs the strategies and queues their orders —
 * inline, with no bus, no events and no components. Its signal, order, fill
 * and position code is its own (only the data reader and tb_decimal are
 * shared with the pipeline), so when its trade log equals the pipeline's,
 * that agreement means something. It follows the same documented semantics:
 * fills on the next bar (MARKET at the open ± slippage, LIMIT through the
 * price), max_volume_participation, fee_bps, step/tick sizes, the same cash
 * rule; it has no risk manager ([risk] is ignored).
 *
 * Old-style strategies (tb_legacy_strategy) are a state and a function that
 * sees one bar and returns the signed quantity it wants to trade. The
 * built-in strategy types (sma_cross, rsi_reversion, bollinger_breakout) are
 * implemented that way inside the monolith, and more can be registered.
 * This header is the old-style interface, the bundled strategies, the
 * adapter, and the one check the CLI needs; the monolith's runner itself is
 * not for library users (it is reached through tb_parity and tb_shadow). */
#ifndef TRADEBUS_LEGACY_H
#define TRADEBUS_LEGACY_H

#include <stddef.h>
#include "config.h"
#include "strategy.h"
#include "tradelog.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The old-style interface. The runner allocates state_size zeroed bytes,
 * calls init with the instance's params (may be NULL), then on_bar for every
 * bar of the instance's symbol; on_bar returns the signed quantity to trade
 * (> 0 buy, < 0 sell, 0 nothing) in *trade. The strategy keeps its own view
 * of its position in its state, as legacy code does.
 *
 * That view lives in a tb_legacy_view, which must be the FIRST member of
 * every legacy state (state_size >= sizeof(tb_legacy_view); a host refuses a
 * smaller one). The strategy may update it itself after deciding (pos +=
 * trade, the legacy habit), but the host — the monolith or the adapter —
 * overwrites it before every on_bar with the instance's target position: the
 * sum of the trades it returned, less the orders the exchange rejected (and,
 * on the pipeline, canceled remainders). A legacy script's view would
 * otherwise stay "long" after a refused buy; the pipeline's Signal Generator
 * reverts its target the same way, so both hosts show the strategy the same
 * position and it makes the same decisions in both. init must free what it
 * allocated when it fails (cleanup is called only after a successful init). */
typedef struct {
    tb_decimal position; /* signed target position in the instance's symbol */
} tb_legacy_view;

typedef struct tb_legacy_strategy {
    const char *name;
    const char *help;
    size_t state_size;
    int (*init)(void *state, const tb_param *params, size_t nparams, char *err, size_t errlen);
    int (*on_bar)(void *state, const tb_market_data *bar, tb_decimal *trade);
    void (*cleanup)(void *state); /* frees what init allocated inside state; may be NULL */
} tb_legacy_strategy;

/* The monolith's own strategies: "sma_cross", "rsi_reversion",
 * "bollinger_breakout", and the example "legacy_breakout" (a Donchian
 * channel breakout written against this interface). NULL if unknown. */
TB_EXPORT const tb_legacy_strategy *tb_legacy_builtin(const char *name);
/* The i-th of them, NULL past the end. */
TB_EXPORT const tb_legacy_strategy *tb_legacy_builtin_at(size_t i);

/* ---- the adapter: an old-style strategy as a pipeline strategy ---- */

/* Holds the vtable that wraps one tb_legacy_strategy. The pipeline sees a
 * normal strategy: the adapter turns the signed trade into BUY/SELL with
 * volume |trade| (0 → HOLD). Keep the adapter alive while the vtable is used. */
typedef struct tb_legacy_adapter {
    tb_strategy_vtable vt; /* pass &adapter.vt to the Signal Generator */
    const tb_legacy_strategy *legacy;
} tb_legacy_adapter;

/* Fills ad so that ad->vt runs ls (borrowed) on the pipeline under ls->name. */
TB_EXPORT void tb_legacy_adapter_init(tb_legacy_adapter *ad, const tb_legacy_strategy *ls);

/* ---- the monolith ----
 * Its runner is internal (src/migration/legacy_int.h): programs compare a
 * config's run on it with the pipeline's through parity.h and shadow.h. */

/* 0 if the monolith models everything cfg (built) asks for; else
 * TB_ECONFIG naming the first key it does not (halts, stops and targets,
 * sizing, time in force, expiry) — a comparison would only report
 * divergences. The monolith checks it before it runs. */
TB_EXPORT int tb_legacy_check_config(const tb_config *cfg, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
