/* tradebus — the exchange interface and the simulated exchange.
 *
 * An exchange adapter is a vtable behind tb_exchange. The Order Manager owns
 * the link: it submits and cancels orders and receives every response
 * (accepted, rejected, fill, canceled) through the listener it sets, then
 * turns them into events. Responses may be delivered from inside submit()
 * (synchronous acks) or later (fills on market data).
 *
 * The simulated exchange (tb_sim_exchange_create) models a cash account in
 * the quote asset with 1x exposure (shorts need cash collateral equal to
 * their notional) and these fill rules, with no look-ahead:
 *  - an order only fills on a bar of its symbol that starts after the order
 *    was submitted (an order sent on bar t's close fills on t+1 at the earliest);
 *  - MARKET fills at that bar's open moved by slippage_bps against the taker
 *    (buys up, sells down), rounded half-up to the symbol's tick size;
 *  - LIMIT buy: fills at the open if open <= limit, else at the limit if the
 *    bar's low < limit (trades through); sells mirror it (open >= limit,
 *    high > limit);
 *  - with max_volume_participation p > 0 a bar fills at most p × bar volume
 *    (rounded down to the step size); the rest stays open (PARTIALLY_FILLED)
 *    and fills on later bars by the same rules; a zero-volume bar fills nothing;
 *  - commission = price × quantity × fee_bps / 10000, half-up to 8 decimals,
 *    charged in the quote asset.
 * It rejects, with a reason: quantity <= 0 or off the step size, LIMIT price
 * <= 0 or off the tick size, a notional (quantity × limit price or last close)
 * below the symbol's min_notional, an unknown symbol (when symbols are declared), a
 * client order id already open (unique among open orders, as on Binance), and an order that
 * increases exposure beyond the cash available (cash - exposure - reserved for open orders, fees
 * included). */
#ifndef TRADEBUS_EXCHANGE_H
#define TRADEBUS_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>
#include "event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TB_XR_ACCEPTED = 1, /* the order is live on the book: status NEW */
    TB_XR_REJECTED = 2,
    TB_XR_FILL = 3,
    TB_XR_CANCELED = 4,
    TB_XR_EXPIRED = 5
} tb_exchange_response_kind;

typedef struct {
    tb_exchange_response_kind kind;
    char client_order_id[TB_ORDER_ID_LEN];
    char order_id[TB_ORDER_ID_LEN];
    int64_t time; /* exchange time (simulated in a backtest), ns */
    /* TB_XR_REJECTED / CANCELED / EXPIRED */
    tb_reject_reason reason;
    char text[TB_TEXT_LEN];
    /* TB_XR_FILL: this execution only */
    tb_decimal quantity, price, commission;
    uint64_t trade_id;
} tb_exchange_response;

typedef void (*tb_exchange_listener)(const tb_exchange_response *r, void *ctx);

typedef struct tb_exchange tb_exchange;

typedef struct {
    const char *name;
    /* Sends an order. Responses go to the listener. 0 if sent, else an error. */
    int (*submit)(tb_exchange *ex, const tb_order_placement_request *req, int64_t now);
    /* Asks to cancel by client order id. TB_ENOTFOUND if not open. */
    int (*cancel)(tb_exchange *ex, const char *client_order_id, int64_t now);
    /* Market data reaches a simulated exchange through this (NULL for a live one). */
    int (*on_market_data)(tb_exchange *ex, const tb_market_data *bar);
    void (*destroy)(tb_exchange *ex);
} tb_exchange_vtable;

/* Every adapter embeds this as its first member. */
struct tb_exchange {
    const tb_exchange_vtable *vt;
    tb_exchange_listener listener;
    void *listener_ctx;
};

/* Per-symbol trading rules; zero fields mean "any multiple of 1e-8". */
typedef struct {
    char symbol[TB_SYMBOL_LEN];
    tb_decimal tick_size; /* prices must be multiples */
    tb_decimal step_size; /* quantities must be multiples */
    tb_decimal min_notional;
} tb_symbol_rules;

typedef struct {
    tb_decimal initial_cash;             /* default 10000 */
    tb_decimal fee_bps;                  /* default 10 (0.1%) */
    tb_decimal slippage_bps;             /* default 0 */
    tb_decimal max_volume_participation; /* fraction of bar volume, 0 = no limit */
    const tb_symbol_rules *symbols;      /* copied; NULL/0 = every symbol allowed */
    size_t nsymbols;
} tb_sim_exchange_config;

/* Sets the listener that receives every response (borrowed ctx). */
TB_EXPORT void tb_exchange_set_listener(tb_exchange *ex, tb_exchange_listener fn, void *ctx);
/* Forwarders to the vtable; TB_EMISUSE if the adapter lacks the operation. */
TB_EXPORT int tb_exchange_submit(tb_exchange *ex, const tb_order_placement_request *req,
                                 int64_t now);
TB_EXPORT int tb_exchange_cancel(tb_exchange *ex, const char *client_order_id, int64_t now);
TB_EXPORT int tb_exchange_on_market_data(tb_exchange *ex, const tb_market_data *bar);
/* Destroys any adapter. NULL is a no-op. */
TB_EXPORT void tb_exchange_destroy(tb_exchange *ex);

/* Fills cfg with the documented defaults. */
TB_EXPORT void tb_sim_exchange_config_init(tb_sim_exchange_config *cfg);
/* Creates a simulated exchange (cfg copied). 0, TB_EINVAL (message in err), TB_ENOMEM. */
TB_EXPORT int tb_sim_exchange_create(const tb_sim_exchange_config *cfg, tb_exchange **out,
                                     char *err, size_t errlen);
/* The simulated account's cash (quote asset), after fees. */
TB_EXPORT tb_decimal tb_sim_exchange_cash(const tb_exchange *ex);
/* Number of orders still open on the simulated book. */
TB_EXPORT size_t tb_sim_exchange_open_orders(const tb_exchange *ex);

#ifdef __cplusplus
}
#endif
#endif
