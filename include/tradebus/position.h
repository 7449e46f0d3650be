/* tradebus — the Position Manager.
 *
 * Nets fills per (strategy_id, symbol). Subscribes to OrderFilled and
 * MarketData. Semantics (all exact, rounding half-up to 8 decimals):
 *  - open: quantity = ±fill, entry = fill price, a new position_id;
 *  - add (same side): entry = (|q|·entry + fill·price) / (|q| + fill);
 *  - partial close (opposite side, fill < |q|): realized += (price − entry)
 *    × closed × sign(q); entry unchanged;
 *  - close (fill == |q|): realized as above, quantity 0, status CLOSED;
 *  - flip (fill > |q|): close the old position (status CLOSED, published),
 *    then open the remainder on the other side as a new position_id.
 *  - unrealized = (mark − entry) × q, marked at every bar's close of the
 *    symbol (the mark updates state; PositionUpdate is published on fills).
 * realized_pnl excludes commissions (fees are reported separately).
 * A PositionUpdate is published for every change caused by a fill; its
 * causation is the OrderFilled.
 *
 * Validation: an event that fails is refused with a permanent error and a
 * reason for the dead letter (tb_bus_fail_reason), and changes nothing.
 *  - OrderFilled (TB_EINVAL): event_id set; client_order_id, strategy_id
 *    and symbol non-empty and terminated; side BUY or SELL; filled_quantity,
 *    filled_price, cumulative_quantity (>= filled_quantity) and
 *    average_price > 0; commission >= 0; status PARTIALLY_FILLED or FILLED.
 *    Its timestamp must not be before the previous fill's of the same
 *    (strategy, symbol) (TB_ESTATE). If any pair was declared with
 *    tb_position_manager_expect, a fill for an undeclared pair without a
 *    position is refused (TB_EINVAL, "OrderFilled for unknown strategy
 *    'ghost'"); with none declared every pair is accepted, since a manager
 *    on its own (or in another process) cannot know the strategies.
 *  - MarketData (TB_EDATA): symbol set, open, high, low and close > 0,
 *    volume >= 0, high >= low, open and close within [low, high],
 *    0 <= open_time <= close_time; and close_time after the previous bar's
 *    of the symbol (a redelivery of that very bar, same event_id, is not out
 *    of order). */
#ifndef TRADEBUS_POSITION_H
#define TRADEBUS_POSITION_H

#include <stddef.h>
#include "bus.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tb_position_manager tb_position_manager;

/* Creates the manager and subscribes it to bus (borrowed).
 * 0, TB_EINVAL, TB_ENOMEM. */
TB_EXPORT int tb_position_manager_create(tb_bus *bus, tb_position_manager **out);
/* Unsubscribes and frees. NULL is a no-op. */
TB_EXPORT void tb_position_manager_destroy(tb_position_manager *pm);

/* The seed's interface. */
/* Applies one OrderFilled event. TB_EINVAL for a non-fill or a bad fill,
 * TB_ESTATE for one out of time order (see Validation above), TB_EOVERFLOW
 * if any result would overflow (position untouched). A
 * redelivery of the fill last applied (same non-zero event_id, e.g. the bus
 * retrying a failed publish) is not applied again: it only publishes the
 * updates still pending. */
TB_EXPORT int tb_position_manager_handle_order_filled_event(tb_position_manager *pm,
                                                            const tb_event *fill);
/* Replaces the state of position position_id with *updates (quantity, entry,
 * realized, mark, status); for corrections and recovery. Unrealized is
 * recomputed; nothing is published (see publish_position_event). Only the
 * current position of a (strategy, symbol) can be found: TB_ENOTFOUND.
 * TB_EINVAL if status and quantity disagree (OPEN needs a non-zero quantity,
 * CLOSED zero) or a price is negative; TB_EOVERFLOW. */
TB_EXPORT int tb_position_manager_update_position(tb_position_manager *pm, uint64_t position_id,
                                                  const tb_position_update *updates);
/* Publishes a PositionUpdate through the bus; TB_EINVAL for another type. */
TB_EXPORT int tb_position_manager_publish_position_event(tb_position_manager *pm, tb_event *ev);
/* Marks every position of md's symbol at its close, and remembers it as the
 * mark for later fills. TB_EDATA for a bad bar, or one whose close_time is
 * not after the symbol's previous bar's (see Validation above; without an
 * event there is no id to recognise a redelivery by); TB_EOVERFLOW if a
 * position's PnL would overflow (that one keeps its previous mark, the
 * others are marked). */
TB_EXPORT int tb_position_manager_mark(tb_position_manager *pm, const tb_market_data *md);

/* Declares that strategy_id trades symbol (both copied). Once any pair is
 * declared, fills open positions only for declared pairs (see Validation).
 * 0, TB_EINVAL (NULL, empty or too long), TB_ENOMEM. */
TB_EXPORT int tb_position_manager_expect(tb_position_manager *pm, const char *strategy_id,
                                         const char *symbol);

/* Positions tracked (open or closed; one per (strategy, symbol), the latest). */
TB_EXPORT size_t tb_position_manager_count(const tb_position_manager *pm);
/* Copies position i into *out; TB_ENOTFOUND past the end. Order: first seen. */
TB_EXPORT int tb_position_manager_get(const tb_position_manager *pm, size_t i,
                                      tb_position_update *out);
/* Looks up the position of (strategy_id, symbol); TB_ENOTFOUND. */
TB_EXPORT int tb_position_manager_find(const tb_position_manager *pm, const char *strategy_id,
                                       const char *symbol, tb_position_update *out);
/* Sum of realized PnL over all positions ever, and of unrealized PnL now
 * (saturating at ±TB_DECIMAL_MAX). */
TB_EXPORT tb_decimal tb_position_manager_realized(const tb_position_manager *pm);
TB_EXPORT tb_decimal tb_position_manager_unrealized(const tb_position_manager *pm);

#ifdef __cplusplus
}
#endif
#endif
