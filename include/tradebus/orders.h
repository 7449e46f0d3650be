/* tradebus — the Order Manager.
 *
 * Subscribes to SignalGenerated (turns each into an order) and MarketData
 * (forwarded to a simulated exchange). For a signal it builds an
 * OrderPlacementRequest (MARKET, or LIMIT at the signal's limit price) with a
 * unique client order id "<strategy_id>-<n>", publishes it, asks the
 * pre-trade check, sends the order and turns the exchange's responses into
 * OrderCreated / OrderFilled (one per execution) / OrderRejected /
 * OrderCanceled. Each order runs through the state machine of
 * tb_order_status_can_move(): an illegal transition is refused with
 * TB_ESTATE, counted (bad_responses) and published as a RiskAlert with rule
 * "order_state" (informational: it does not change the trading state).
 *
 * Causation: OrderPlacementRequest ← SignalGenerated; OrderCreated and an
 * OrderRejected ← the request; OrderFilled and OrderCanceled ← the order's
 * OrderCreated. Every event of the chain keeps the signal's correlation id. */
#ifndef TRADEBUS_ORDERS_H
#define TRADEBUS_ORDERS_H

#include <stddef.h>
#include "bus.h"
#include "exchange.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Pre-trade check. Returns 0 to allow the order, TB_EREJECTED to refuse it
 * (with the rule's name and a detail written into rule/detail). */
typedef int (*tb_pretrade_fn)(void *ctx, const tb_event *request, char *rule, size_t rulelen,
                              char *detail, size_t detaillen);

typedef struct {
    tb_exchange *exchange;   /* borrowed; the manager becomes its listener */
    tb_pretrade_fn pretrade; /* NULL: every order allowed */
    void *pretrade_ctx;
    size_t order_capacity; /* orders tracked before the table grows; default 1024 */
} tb_order_manager_config;

typedef struct tb_order_manager tb_order_manager;

typedef struct {
    uint64_t signals, orders, fills, rejected, canceled;
    uint64_t bad_responses; /* exchange responses refused by the state machine */
} tb_order_manager_stats;

/* Fills cfg with defaults (no exchange: set one). */
TB_EXPORT void tb_order_manager_config_init(tb_order_manager_config *cfg);
/* Creates the manager and subscribes it to bus (borrowed, must outlive it).
 * 0, TB_EINVAL (no exchange), TB_ENOMEM. */
TB_EXPORT int tb_order_manager_create(tb_bus *bus, const tb_order_manager_config *cfg,
                                      tb_order_manager **out);
/* Unsubscribes and frees. NULL is a no-op. */
TB_EXPORT void tb_order_manager_destroy(tb_order_manager *om);

/* The seed's interface. Each returns 0 or a negative TB_E* code. */
/* Turns a SignalGenerated event into an order (HOLD: nothing). */
TB_EXPORT int tb_order_manager_handle_signal_event(tb_order_manager *om, const tb_event *signal);
/* Publishes the request, runs the pre-trade check and submits. */
TB_EXPORT int tb_order_manager_send_order_to_exchange(tb_order_manager *om, tb_event *request);
/* Applies one exchange response to its order and publishes the event.
 * TB_ENOTFOUND for an unknown client order id, TB_ESTATE for an illegal move. */
TB_EXPORT int tb_order_manager_process_exchange_response(tb_order_manager *om,
                                                         const tb_exchange_response *r);
/* Publishes an order event through the bus. */
TB_EXPORT int tb_order_manager_publish_order_event(tb_order_manager *om, tb_event *ev);

/* Asks the exchange to cancel an open order. */
TB_EXPORT int tb_order_manager_cancel(tb_order_manager *om, const char *client_order_id,
                                      int64_t now);
/* Current status of an order; TB_ENOTFOUND if unknown. */
TB_EXPORT int tb_order_manager_status(const tb_order_manager *om, const char *client_order_id,
                                      tb_order_status *out);
/* Orders not yet in a terminal state. */
TB_EXPORT size_t tb_order_manager_open_orders(const tb_order_manager *om);
TB_EXPORT tb_order_manager_stats tb_order_manager_get_stats(const tb_order_manager *om);

#ifdef __cplusplus
}
#endif
#endif
