/* tradebus — strategies: the pluggable part of the Signal Generator.
 *
 * A strategy is a small vtable. The Signal Generator owns one state per
 * strategy instance, feeds it every bar of its symbols (bar->symbol says
 * which; with timeframes, also each higher bar as it closes, right after the
 * base bar that closes it, ctx->timeframe saying which), and turns its
 * decision — for the bar's symbol or another of its own — into a
 * SignalGenerated event. To add a strategy in C, write a
 * tb_strategy_vtable and pass it to tb_signal_generator_add(); nothing in the
 * pipeline changes.
 *
 * Position: ctx->position is the instance's *target* position — the signed
 * sum of the signals it has emitted, less what the exchange rejected or
 * canceled — so "flat" and "long" mean what the strategy has asked for. This
 * is what a monolithic loop does and keeps decisions deterministic even while
 * an order is in flight. */
#ifndef TRADEBUS_STRATEGY_H
#define TRADEBUS_STRATEGY_H

#include <stddef.h>
#include "event.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most symbols one instance trades ([strategy.ID] symbols) and most
 * timeframes it sees ([strategy.ID] timeframes). */
#define TB_STRATEGY_MAX_SYMBOLS    8
#define TB_STRATEGY_MAX_TIMEFRAMES 6
/* Most decisions one on_bar call makes (*out and ctx->emit together). */
#define TB_STRATEGY_MAX_DECISIONS 16

typedef struct {
    const char *key;
    const char *value;
} tb_param;

/* One of the instance's working orders (ctx->open_orders), as its
 * OrderCreated placed it and its fills so far. */
typedef struct {
    char client_order_id[TB_ORDER_ID_LEN];
    char symbol[TB_SYMBOL_LEN];
    tb_side side;
    tb_order_type type;
    tb_order_origin origin; /* SIGNAL: the strategy's own; others: its bracket, a halt */
    tb_decimal quantity;    /* as placed */
    tb_decimal filled;      /* so far */
    tb_decimal price;       /* LIMIT: its price; else 0 */
    tb_decimal stop_price;  /* STOP_MARKET: its trigger as placed; else 0 */
} tb_strategy_order;

struct tb_strategy_decision_;

typedef struct tb_strategy_ctx_ {
    tb_decimal position; /* signed target position in the bar's symbol */
    const char *strategy_id;
    /* Position sizing ([strategy.ID] size or risk_per_trade): when sized is
     * set, an entry takes quantity (already rounded to the symbol's step;
     * 0 = too small to trade) instead of the strategy's own quantity. */
    int sized;
    tb_decimal quantity;
    /* Several timeframes ([strategy.ID] timeframes): the length in ns of the
     * bar's timeframe (the first listed for the data's own bars); 0 when the
     * instance has no timeframes. */
    int64_t timeframe;
    /* Several symbols: the target position in any of the instance's symbols
     * (0 for one it does not trade); call as ctx->position_of(ctx, sym). */
    tb_decimal (*position_of)(const struct tb_strategy_ctx_ *ctx, const char *symbol);
    const void *owner; /* the generator's, for the functions here */
    /* The account, fills up to this bar included: cash in the quote asset
     * (fees paid) and equity (cash plus every holding at its last price).
     * The exchange's, or the Risk Manager's book in a process without it;
     * 0 when the run has neither. NULL outside a Signal Generator. */
    tb_decimal (*cash)(const struct tb_strategy_ctx_ *ctx);
    tb_decimal (*equity)(const struct tb_strategy_ctx_ *ctx);
    /* The instance's working orders in symbol (NULL: all of its symbols),
     * oldest first: copies the first max into out and returns how many
     * there are. */
    size_t (*open_orders)(const struct tb_strategy_ctx_ *ctx, const char *symbol,
                          tb_strategy_order *out, size_t max);
    /* pct % of equity (signed: < 0 for a short) as a quantity of symbol at
     * its last close, rounded toward 0 to the symbol's step: 0 or
     * TB_EINVAL (not one of its symbols, no bar of it yet) / TB_EOVERFLOW. */
    int (*quantity_for_pct)(const struct tb_strategy_ctx_ *ctx, const char *symbol, tb_decimal pct,
                            tb_decimal *out);
    /* One more decision on this bar, taken at once (position_of sees it)
     * and published before *out: 0, or TB_EINVAL / TB_ERANGE (more than
     * TB_STRATEGY_MAX_DECISIONS on one bar, its timeframes included) with
     * the reason in err. If on_bar then fails, none of them is taken. */
    int (*emit)(const struct tb_strategy_ctx_ *ctx, const struct tb_strategy_decision_ *d,
                char *err, size_t errlen);
} tb_strategy_ctx;

/* What a strategy decides on a bar. Zero every field you do not set: zero
 * means "as configured". */
typedef struct tb_strategy_decision_ {
    tb_signal_type signal; /* HOLD: nothing to do; BUY/SELL volume; CANCEL */
    tb_decimal volume;     /* > 0 for BUY/SELL */
    /* The symbol the order is for, one of the instance's; "" = the bar's. */
    char symbol[TB_SYMBOL_LEN];
    /* MARKET or LIMIT; 0 = the instance's order_type. */
    tb_order_type order_type;
    /* LIMIT: its price, rounded to the tick in the trader's favour (a buy
     * down, a sell up); 0 = the close moved by limit_offset_bps. */
    tb_decimal limit_price;
    /* The bracket of the position this order makes, as prices: for a long
     * target, stop_loss < the close < take_profit; for a short, the other
     * way. 0 = the configured percents (stop_loss_pct, take_profit_pct). */
    tb_decimal stop_loss, take_profit;
    /* CANCEL: the client order id of one working order (from open_orders);
     * "" = every working order of the strategy in the symbol. */
    char cancel_order_id[TB_ORDER_ID_LEN];
} tb_strategy_decision;

typedef struct tb_strategy_vtable {
    const char *name; /* the config's type = ... */
    const char *help; /* one line: params and defaults, for --help */
    /* Builds a state from the instance's own params (keys other than the
     * common ones: type, symbol, order_type, limit_offset_bps, emit_hold).
     * An unknown key or a bad value: TB_ECONFIG with "key: what is wrong" in err.
     * self is the vtable itself, so one create can serve many vtables (see
     * impl, and tb_legacy_adapter). */
    int (*create)(const struct tb_strategy_vtable *self, const tb_param *params, size_t nparams,
                  void **state, char *err, size_t errlen);
    /* Sees one complete bar; fills *out (HOLD for nothing). 0 or an error. */
    int (*on_bar)(void *state, const tb_market_data *bar, const tb_strategy_ctx *ctx,
                  tb_strategy_decision *out);
    void (*destroy)(void *state);
    const void *impl; /* free for the vtable's author (NULL for the built-ins) */
} tb_strategy_vtable;

/* The built-in strategy named name ("sma_cross", "rsi_reversion",
 * "bollinger_breakout", "lua": lua_strategy.h), or NULL. */
TB_EXPORT const tb_strategy_vtable *tb_strategy_builtin(const char *name);
/* The i-th built-in strategy, or NULL past the end (for listings). */
TB_EXPORT const tb_strategy_vtable *tb_strategy_builtin_at(size_t i);

/* Parameter helpers for strategy authors. Each looks key up in params; if
 * absent, *out = def and 0. A present but bad value: TB_ECONFIG with
 * "key: expected ..." in err. */
TB_EXPORT int tb_param_int(const tb_param *p, size_t n, const char *key, long def, long lo, long hi,
                           long *out, char *err, size_t errlen);
TB_EXPORT int tb_param_double(const tb_param *p, size_t n, const char *key, double def, double lo,
                              double hi, double *out, char *err, size_t errlen);
TB_EXPORT int tb_param_decimal(const tb_param *p, size_t n, const char *key, tb_decimal def,
                               tb_decimal *out, char *err, size_t errlen);
TB_EXPORT int tb_param_bool(const tb_param *p, size_t n, const char *key, int def, int *out,
                            char *err, size_t errlen);
/* 0 if every key in p is in the NULL-terminated list known, else TB_ECONFIG
 * naming the first unknown key in err. */
TB_EXPORT int tb_param_check_known(const tb_param *p, size_t n, const char *const *known, char *err,
                                   size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
