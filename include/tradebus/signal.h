/* tradebus — the Signal Generator.
 *
 * Hosts any number of strategy instances, each with its own strategy_id and
 * symbol. Subscribes to MarketData (feeds each instance of the bar's symbol,
 * in the order they were added), to OrderRejected / OrderCanceled (to take
 * what never executed out of the instance's target position) and to
 * OrderCreated / OrderFilled (its working orders, ctx->open_orders). A decision
 * becomes a SignalGenerated event caused by the bar: price = the bar's close,
 * timestamp = the bar's close time. HOLD is not published unless the instance
 * sets emit_hold.
 *
 * Validation: what fails is refused with a permanent error and a reason for
 * the dead letter (tb_bus_fail_reason), and changes nothing.
 *  - MarketData must be well-formed (TB_EDATA): symbol set, open, high, low
 *    and close > 0, volume >= 0, high >= low, open and close within
 *    [low, high], 0 <= open_time <= close_time, event_id set. For a symbol an
 *    instance trades, close_time must be after the symbol's previous bar's
 *    (TB_EDATA, "MarketData BTCUSDT close_time T is before the previous
 *    bar's P", or "... repeats the previous bar's"); a redelivery of that
 *    very bar (same event_id) is not out of order. Bars of symbols no
 *    instance trades are checked for form only and otherwise ignored.
 *  - OrderRejected / OrderCanceled for a strategy this generator does not
 *    host are ignored (another generator's, in distributed mode). For one it
 *    hosts they must be well-formed (TB_EINVAL), name the instance's symbol,
 *    and a rejection's quantity must be > 0. One whose strategy_id is empty
 *    or unterminated cannot be attributed and is refused (TB_EINVAL). */
#ifndef TRADEBUS_SIGNAL_H
#define TRADEBUS_SIGNAL_H

#include <stddef.h>
#include "bus.h"
#include "strategy.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *strategy_id;     /* copied */
    const char *symbol;          /* copied */
    tb_order_type order_type;    /* default MARKET */
    tb_decimal limit_offset_bps; /* LIMIT: buy at close × (1 − off), sell at close × (1 + off) */
    tb_decimal tick_size;        /* limit prices rounded to it (0 = 1e-8) */
    int emit_hold;
    /* Sizing (0 = off): an entry is size_pct % of equity at the decision's
     * close, or risk_pct % of equity over the stop distance (stop_pct % of
     * the close), rounded down to step_size; under min_notional it is too
     * small (no order, counted). Needs tb_signal_generator_set_equity(). */
    tb_decimal size_pct, risk_pct, stop_pct;
    tb_decimal step_size, min_notional;
} tb_strategy_instance;

typedef struct tb_signal_generator tb_signal_generator;

/* Creates the generator and subscribes it to bus (borrowed). */
TB_EXPORT int tb_signal_generator_create(tb_bus *bus, tb_signal_generator **out);
/* Destroys every instance's state, unsubscribes and frees. NULL is a no-op. */
TB_EXPORT void tb_signal_generator_destroy(tb_signal_generator *sg);
/* Adds an instance of vt (borrowed, must outlive sg) with its own params
 * (copied by the strategy's create). TB_ECONFIG with a message naming the key
 * in err; TB_EINVAL for a duplicate strategy_id. */
TB_EXPORT int tb_signal_generator_add(tb_signal_generator *sg, const tb_strategy_vtable *vt,
                                      const tb_strategy_instance *inst, const tb_param *params,
                                      size_t nparams, char *err, size_t errlen);
/* Adds symbol (copied) to the instance strategy_id: it then sees that
 * symbol's bars too and may order it, with tick_size / step_size /
 * min_notional as in tb_strategy_instance. TB_EINVAL for an unknown id, a
 * symbol it has already, or more than TB_STRATEGY_MAX_SYMBOLS (message in
 * err); TB_ENOMEM. */
TB_EXPORT int tb_signal_generator_add_symbol(tb_signal_generator *sg, const char *strategy_id,
                                             const char *symbol, tb_decimal tick_size,
                                             tb_decimal step_size, tb_decimal min_notional,
                                             char *err, size_t errlen);
/* Gives the instance strategy_id timeframes (lengths in ns, from
 * tb_timeframe_parse; 1..TB_STRATEGY_MAX_TIMEFRAMES, increasing): tf_ns[0]
 * is the data's own bars, the others are built from them with a resampler
 * (resample.h). Each higher bar reaches the strategy when it closes, right
 * after the base bar that closes it (base bar first, then the higher ones
 * shortest first), ctx->timeframe naming it. TB_EINVAL / TB_ENOMEM, message
 * in err. */
TB_EXPORT int tb_signal_generator_set_timeframes(tb_signal_generator *sg, const char *strategy_id,
                                                 const int64_t *tf_ns, size_t n, char *err,
                                                 size_t errlen);

/* The seed's interface. */
/* Runs every instance of the bar's symbol on a MarketData event. */
TB_EXPORT int tb_signal_generator_process_market_data(tb_signal_generator *sg, const tb_event *md);
/* Publishes a SignalGenerated event. */
TB_EXPORT int tb_signal_generator_publish_signal(tb_signal_generator *sg, tb_event *ev);

/* Signals published so far. */
TB_EXPORT uint64_t tb_signal_generator_signals(const tb_signal_generator *sg);
/* Where the trading state comes from (borrowed ctx) for the RiskAlert the
 * generator publishes when a strategy stops (its on_bar returned
 * TB_EHANDLER: rule "strategy_stopped"); unset, the alert says ACTIVE. */
TB_EXPORT void tb_signal_generator_set_trading_state(tb_signal_generator *sg,
                                                     tb_trading_state (*fn)(const void *ctx),
                                                     const void *ctx);
/* Where sizing and ctx->equity read equity from: fn(ctx) returns the
 * account's equity now (borrowed ctx). fn NULL = none (equity 0). */
TB_EXPORT void tb_signal_generator_set_equity(tb_signal_generator *sg,
                                              tb_decimal (*fn)(const void *ctx), const void *ctx);
/* Where ctx->cash reads the account's cash from, as set_equity. */
TB_EXPORT void tb_signal_generator_set_cash(tb_signal_generator *sg,
                                            tb_decimal (*fn)(const void *ctx), const void *ctx);
/* Takes a journaled order event (OrderCreated / Filled / Canceled /
 * Rejected) into the instances' open orders without publishing anything,
 * for a run that resumes without re-executing them (live). 0 always. */
TB_EXPORT int tb_signal_generator_restore(tb_signal_generator *sg, const tb_event *ev);
/* Bars opening before t (ns) are warm-up: every strategy sees them (its
 * indicators move) but no decision on them is published and the target
 * position stays; 0 (the default) = none. A live run sets it to the open
 * time of its first bar after the history it loaded. */
TB_EXPORT void tb_signal_generator_set_trade_from(tb_signal_generator *sg, int64_t t);
/* The time set by tb_signal_generator_set_trade_from (0: none). */
TB_EXPORT int64_t tb_signal_generator_trade_from(const tb_signal_generator *sg);
/* BUY/SELL decisions dropped on warm-up bars so far. */
TB_EXPORT uint64_t tb_signal_generator_muted(const tb_signal_generator *sg);
/* Entries sizing rounded to nothing (below the step or min_notional). */
TB_EXPORT uint64_t tb_signal_generator_size_too_small(const tb_signal_generator *sg);

#ifdef __cplusplus
}
#endif
#endif
