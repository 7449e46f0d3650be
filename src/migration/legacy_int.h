/* Private (not installed): the legacy monolith's runner (legacy.c), for
 * parity (parity_run.c), shadow mode (shadow.c), the tests and the
 * benchmark. Programs reach it through tb_parity and tb_shadow; the
 * old-style interface and the adapter are public (tradebus/legacy.h). */
#ifndef TRADEBUS_LEGACY_INT_H
#define TRADEBUS_LEGACY_INT_H

#include "tradebus/legacy.h"

typedef struct tb__legacy_runner tb__legacy_runner;

typedef struct {
    tb_decimal realized_pnl, unrealized_pnl, fees, final_equity, cash;
    uint64_t bars, signals, orders, fills, rejected;
} tb__legacy_result;

/* Builds the monolith for a built config (borrowed for the runner's life):
 * each [strategy.ID] runs the legacy strategy of its type (a type written
 * "legacy:NAME" runs NAME). Records go to sink(ctx) (may be NULL). extra:
 * more legacy strategies, looked up first. emit_hold and [risk] are ignored
 * (a legacy strategy has no HOLD, the monolith no risk manager). TB_ECONFIG
 * with "[strategy.ID] ..." in err, TB_EMISUSE if cfg is not built, TB_ENOMEM. */
/* The same; decisions_only accepts any exchange (tb__legacy_decisions_only). */
int tb__legacy_runner_create_ex(const tb_config *cfg, const tb_legacy_strategy *const *extra,
                                size_t nextra, tb_record_sink sink, void *ctx, int decisions_only,
                                tb__legacy_runner **out, char *err, size_t errlen);
/* 1 if cfg trades on a real exchange (Binance testnet or live): a shadow
 * run compares decisions (signals, orders) only. */
int tb__legacy_decisions_only(const tb_config *cfg);
int tb__legacy_runner_create(const tb_config *cfg, const tb_legacy_strategy *const *extra,
                             size_t nextra, tb_record_sink sink, void *ctx, tb__legacy_runner **out,
                             char *err, size_t errlen);
/* One turn of the loop for one bar (bars in close-time order): fills of the
 * symbol's older orders (a FILL then a POSITION record each, at the bar's
 * open time), then the symbol's strategies in config order (a SIGNAL and an
 * ORDER record per trade, at the bar's close time). 0 or an error; a failing
 * strategy does not keep the others from the bar, the first error is
 * returned. */
int tb__legacy_runner_on_bar(tb__legacy_runner *r, const tb_market_data *bar);
/* Bars opening before t are warm-up: the strategies see them, their
 * trades are dropped (tb_shadow_set_trade_from). */
void tb__legacy_runner_set_trade_from(tb__legacy_runner *r, int64_t t);
/* Emits the FINAL record and fills res. */
int tb__legacy_runner_finish(tb__legacy_runner *r, tb__legacy_result *res);
/* NULL is a no-op. */
void tb__legacy_runner_destroy(tb__legacy_runner *r);

/* The whole legacy run over the config's data files. TB_EDATA/TB_EIO with
 * "file:line: ..." in err, TB_ECONFIG. */
int tb__legacy_run(const tb_config *cfg, const tb_legacy_strategy *const *extra, size_t nextra,
                   tb_record_sink sink, void *ctx, tb__legacy_result *res, char *err,
                   size_t errlen);

#endif
