/* tradebus — the Risk Manager.
 *
 * Pre-trade (tb_risk_manager_pretrade, installed as the Order Manager's
 * pre-trade check): each enabled rule may refuse an order; the refusal is
 * published as a RiskAlert naming the rule. Rules (0 disables one):
 *   max_position        |position in the symbol after the order| (all strategies)
 *   max_order_notional  quantity × price (last close for MARKET)
 *   max_open_orders     orders acknowledged and not yet terminal
 *   price_band_pct      a LIMIT price more than this % away from the last close
 *   max_orders_per_minute  orders allowed in any 60 s of event time
 *   trading_state       HALTED refuses orders that increase |position|
 * Checked in that order; the first refusal wins. A value equal to its limit
 * passes; anything past it, even below the 8th decimal, is refused (compared
 * exactly). MARKET orders before the symbol's first bar skip the notional
 * check; price_band_pct applies to LIMIT orders once a close is known. Only
 * approved orders count toward max_orders_per_minute: an order at time t is
 * refused when that many were approved in (t − 60 s, t]. "Increase" compares
 * |net position of the symbol| before and after; REDUCING acts as HALTED.
 * Post-trade: equity = initial_equity + realized − fees + unrealized is
 * tracked at every bar and refreshed on fills and PositionUpdates (a position
 * is marked at its symbol's last close, or at its PositionUpdate's mark_price
 * before the first bar). When the drawdown from peak equity (initially
 * initial_equity) exceeds max_drawdown_pct the trading state becomes HALTED
 * (RiskAlert rule "max_drawdown"); only a new manager lifts it. Orders that
 * reduce a position still pass when HALTED.
 * State comes only from events: MarketData, OrderCreated/Filled/Rejected/
 * Canceled and PositionUpdate.
 *
 * Validation: an event that fails is refused with a permanent error and a
 * reason for the dead letter (tb_bus_fail_reason), and changes nothing.
 * Every event must be well-formed (TB_EDATA for MarketData, TB_EINVAL for
 * the others): event_id set; strings non-empty and terminated (client order
 * ids included; order_id, texts and an alert's names may be empty);
 * enums known; prices and quantities > 0 where the type requires it,
 * commission >= 0; a bar's high >= low with open and close within them; a
 * PositionUpdate OPEN exactly when its quantity is non-zero. Then, against
 * the state (TB_EDATA for bars, TB_ESTATE for the rest):
 *  - a bar's close_time must be after the previous bar's of its symbol (a
 *    redelivery of that very bar, same event_id, is not out of order);
 *  - fills and PositionUpdates must not go back in time per (strategy,
 *    symbol), and a PositionUpdate's position_id never below the current;
 *  - orders follow their state machine (tb_order_status_can_move) from the
 *    OrderCreated on: an OrderCreated cannot be PENDING or REJECTED, nor
 *    acknowledge an order already open (a redelivery of the same event is
 *    accepted); an OrderFilled or OrderCanceled needs an open order, and a
 *    fill cannot take cumulative_quantity past the ordered quantity; an
 *    OrderRejected for an open (acknowledged) order is refused — a
 *    rejection ends only an order never acknowledged, which was never open.
 *    So an exchange adapter acknowledges (OrderCreated NEW or
 *    PARTIALLY_FILLED) before it reports executions, and a manager must see
 *    a run from its start (--resume re-executes from the first bar).
 * The manager knows no strategy registry: any strategy_id is accepted. */
#ifndef TRADEBUS_RISK_H
#define TRADEBUS_RISK_H

#include <stddef.h>
#include "bus.h"
#include "orders.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    tb_decimal max_position;       /* 0 = off */
    tb_decimal max_order_notional; /* 0 = off */
    int max_open_orders;           /* 0 = off */
    tb_decimal price_band_pct;     /* 0 = off; e.g. 5 = ±5% */
    int max_orders_per_minute;     /* 0 = off */
    tb_decimal max_drawdown_pct;   /* 0 = off; e.g. 20 = halt at 20% below peak equity */
    tb_decimal initial_equity;     /* default 10000 */
    int halt_close_all;            /* halt_action: 0 = reduce_only, 1 = close_all */
} tb_risk_config;

typedef struct tb_risk_manager tb_risk_manager;

/* Fills cfg with defaults: every rule off, initial_equity 10000. */
TB_EXPORT void tb_risk_config_init(tb_risk_config *cfg);
/* Creates the manager (cfg copied) and subscribes it to bus (borrowed).
 * 0, TB_EINVAL (a negative limit), TB_ENOMEM. */
TB_EXPORT int tb_risk_manager_create(tb_bus *bus, const tb_risk_config *cfg, tb_risk_manager **out);
/* Unsubscribes and frees. NULL is a no-op. */
TB_EXPORT void tb_risk_manager_destroy(tb_risk_manager *rm);

/* A tb_pretrade_fn: ctx is the tb_risk_manager. 0 to allow, TB_EREJECTED to
 * refuse (rule and detail filled, truncated to their lengths, RiskAlert
 * published). TB_EINVAL for a malformed request (as above, and a LIMIT price
 * <= 0): rule "invalid_order", the detail naming the field
 * ("OrderPlacementRequest.quantity 0 is not positive"), no alert. */
TB_EXPORT int tb_risk_manager_pretrade(void *ctx, const tb_event *request, char *rule,
                                       size_t rulelen, char *detail, size_t detaillen);
/* The same, a tb_pretrade_view_fn (orders.h): the order is judged against
 * view->position plus view->working_same_way (what the Order Manager knows
 * at once) instead of the manager's own picture; not ACTIVE, a flip is cut
 * to a close (view->quantity set, a RiskAlert "trading_state" says so)
 * rather than refused. view NULL = tb_risk_manager_pretrade. */
TB_EXPORT int tb_risk_manager_pretrade_view(void *ctx, const tb_event *request,
                                            tb_pretrade_view *view, char *rule, size_t rulelen,
                                            char *detail, size_t detaillen);
TB_EXPORT tb_trading_state tb_risk_manager_state(const tb_risk_manager *rm);
/* Current equity, and the largest drawdown from peak seen so far in percent
 * (e.g. 12.5 → 1250000000 as a decimal 12.50000000). */
TB_EXPORT tb_decimal tb_risk_manager_equity(const tb_risk_manager *rm);
/* Cash: initial equity + realized − fees − the open positions at their
 * entry prices (0 on overflow or for NULL). */
TB_EXPORT tb_decimal tb_risk_manager_cash(const tb_risk_manager *rm);
TB_EXPORT tb_decimal tb_risk_manager_max_drawdown_pct(const tb_risk_manager *rm);
/* Total commissions seen in fills. */
TB_EXPORT tb_decimal tb_risk_manager_fees(const tb_risk_manager *rm);
/* Orders counted as open: acknowledged (OrderCreated) and not yet seen
 * FILLED, canceled or rejected. What max_open_orders is checked against. */
TB_EXPORT size_t tb_risk_manager_open_orders(const tb_risk_manager *rm);

#ifdef __cplusplus
}
#endif
#endif
