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
 * OrderCreated. Every event of the chain keeps the signal's correlation id.
 *
 * Retries that never double an order. A transient exchange failure (see
 * exchange.h) is retried with exponential backoff and full jitter: before
 * retry n (n = 0 for the first) the manager waits
 *     random(0, min(max_delay, base_delay · 2^n))    (inclusive, uniform)
 * drawn from its own PRNG seeded with retry_seed — or, after a rate limit,
 * exactly the retry_after the exchange asked for. Every send of an order
 * carries the same client_order_id. After an ambiguous failure (timeout,
 * 5xx: the order may be live) the manager never resends blindly: it first
 * looks the order up by client_order_id; found, it adopts the exchange's
 * order (publishing OrderCreated as if the ack had arrived); not found, it
 * sends again at once (the wait came before the look-up). A look-up that
 * itself fails is retried the same way, never replaced by a send. A
 * DUPLICATE rejection of an order that ever failed ambiguously means the
 * exchange has it after all: it is looked up and adopted, not rejected.
 * Every transient failure of a send or a look-up is an attempt: at the
 * max_attempts-th, or when the next wait would take the order's total wait
 * past max_total, the manager gives up: if the last send may have reached
 * the book it cancels the order by client_order_id (so a REJECTED order
 * cannot trade behind our back), then the order ends REJECTED
 * (TB_REJECT_EXCHANGE) with a text naming the attempts, the time waited and
 * the last failure, and a RiskAlert with rule "order_retries" follows
 * (informational: trading state ACTIVE). Cancels are retried the same way
 * (after an ambiguous failure: a look-up, and a new cancel only if the order
 * is still open); a cancel that runs out of attempts ends with the same
 * RiskAlert, and the order stays open.
 *
 * Waiting. Nothing waits inside a handler: a retry is a timer on the
 * manager's loop ("wake me at T"), and each order (or cancel) in retry is a
 * small state machine resumed by its timer — send, look up, send again, give
 * up — while the bus goes on with every other event. Attempt n of an order
 * is made at the time of its first attempt + the waits so far, read from the
 * loop's clock. In a backtest the clock is simulated and moved by the bars
 * (tb_loop_advance before each is delivered), so a retry due before the next
 * bar is made before that bar reaches the exchange, and one due later is
 * made later, after the bars between have gone through the whole pipeline —
 * it then fills on the first bar the exchange sees after it reached the
 * book. A bar is delivered at its close time, so a retry made during a
 * bar's interval can fill at that bar's open (the same approximation as a
 * signal's order at the next open; it keeps a run under faults filling as
 * one without, when retries end within a bar).
 * In paper and live trading the loop runs on the wall clock. Meanwhile the
 * order is PENDING and counts as working. A cancel asked for an order still
 * in retry withdraws it when the exchange certainly does not have it (it ends
 * REJECTED, "withdrawn before the exchange had it: ..."), or follows the
 * look-up when it may. A signal that replaces orders whose cancel is in retry
 * waits (parked, newest signal wins) until those cancels have settled, then
 * is handled at that time: the strategy never has the old and the new order
 * working together.
 *
 * Strategies the manager is configured with (tb_order_strategy) get order
 * handling on top:
 *  - Targets. A signal's `target` is the position the strategy wants. The
 *    manager orders the difference between it and what the strategy truly
 *    holds (every fill so far, stops and halts included) and has working:
 *    a strategy that decided on a position an exit it did not see yet has
 *    already changed orders nothing twice, and a long-only strategy never
 *    goes short or past its target. A signal that needs no order is
 *    counted (absorbed) and ends there.
 *  - on_new_signal = replace (the default): before the new order goes out
 *    the strategy's working orders on the symbol are canceled
 *    (OrderCanceled cause "replaced"), so it has at most one resting order
 *    per symbol; keep leaves them working.
 *  - time_in_force is set on its LIMIT orders; expire_after_bars N cancels
 *    a LIMIT order still working after N bars of its symbol (OrderCanceled,
 *    status EXPIRED, cause "expired").
 *  - Halts. After each bar the manager asks trading_state(); when it turns
 *    HALTED, every working order that would add exposure is canceled (cause
 *    "halt"), and with halt_close_all every position is flattened with a
 *    MARKET order (origin "halt") that fills on the next bar.
 *  - The pre-trade check (pretrade_view) judges each order against the
 *    symbol's position after every fill executed so far and the strategy's
 *    working orders on the same side; it may cut the quantity (a halt cuts
 *    a flip to a close), in which case the order goes out cut (its request
 *    event shows what was asked, its OrderCreated what was sent). */
#ifndef TRADEBUS_ORDERS_H
#define TRADEBUS_ORDERS_H

#include <stddef.h>
#include "bus.h"
#include "exchange.h"
#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Pre-trade check. Returns 0 to allow the order, TB_EREJECTED to refuse it
 * (with the rule's name and a detail written into rule/detail). */
typedef int (*tb_pretrade_fn)(void *ctx, const tb_event *request, char *rule, size_t rulelen,
                              char *detail, size_t detaillen);

/* What the Order Manager knows when it asks for a pre-trade check: the
 * Risk Manager learns fills one bus step later, the manager at once. */
typedef struct {
    tb_decimal position; /* the symbol's net position after every fill so far, all strategies */
    /* The unfilled rest of the strategy's other working orders on the symbol
     * on the order's side, signed (what they add if they all fill). */
    tb_decimal working_same_way;
    /* In: the order's quantity. Out: what may be sent, at most that (a halt
     * cuts a flip down to a close). */
    tb_decimal quantity;
} tb_pretrade_view;

/* A pre-trade check given the view (see tb_pretrade_fn for the rest). */
typedef int (*tb_pretrade_view_fn)(void *ctx, const tb_event *request, tb_pretrade_view *view,
                                   char *rule, size_t rulelen, char *detail, size_t detaillen);

/* How the manager handles one strategy's orders (its [strategy.ID] keys). */
typedef struct {
    char strategy_id[TB_STRATEGY_LEN];
    char symbol[TB_SYMBOL_LEN];
    int keep;                       /* on_new_signal = keep; 0 = replace */
    tb_time_in_force time_in_force; /* for its LIMIT orders */
    long expire_after_bars;         /* LIMIT orders: 0 = never */
    /* Brackets on each entry, percent of the entry price; 0 = none. */
    tb_decimal stop_loss_pct, take_profit_pct, trailing_stop_pct;
    tb_decimal tick_size; /* the symbol's, for bracket prices; 0 = 1e-8 */
} tb_order_strategy;

typedef struct {
    tb_exchange *exchange;   /* borrowed; the manager becomes its listener */
    tb_pretrade_fn pretrade; /* NULL: every order allowed */
    void *pretrade_ctx;
    tb_pretrade_view_fn pretrade_view; /* used instead of pretrade when set; same ctx */
    /* The trading state after each bar (ctx: pretrade_ctx); NULL = always ACTIVE. */
    tb_trading_state (*trading_state)(const void *ctx);
    int halt_close_all; /* [risk] halt_action = close_all */
    /* Strategies with order handling (copied); others' signals are sent as
     * they come, volume for quantity. */
    const tb_order_strategy *strategies;
    size_t nstrategies;
    size_t order_capacity; /* orders tracked before the table grows; default 1024 */
    /* Retries (see above). 0 in any of them means its default. */
    int max_attempts;    /* failed attempts (sends and look-ups) before giving up; 1 = no
                            retry; default 8 */
    int64_t base_delay;  /* ns, the first retry's ceiling; default 100 ms */
    int64_t max_delay;   /* ns, cap of one wait; default 10 s */
    int64_t max_total;   /* ns, cap of one order's waits together; default 30 s */
    uint64_t retry_seed; /* the jitter PRNG's seed; default 1 */
    /* The loop whose clock and timers the manager uses (borrowed; its runner
     * advances a simulated clock before delivering each bar). NULL: the
     * manager keeps its own simulated loop and advances it to the time of
     * each MarketData and SignalGenerated it receives, before handling it. */
    tb_loop *loop;
} tb_order_manager_config;

typedef struct tb_order_manager tb_order_manager;

typedef struct {
    uint64_t signals, orders, fills, rejected, canceled;
    uint64_t bad_responses;      /* exchange responses refused by the state machine */
    uint64_t transient_failures; /* sends, look-ups and cancels that failed transiently */
    uint64_t resends;            /* sends of an order after its first */
    uint64_t queries;            /* look-ups after an ambiguous failure */
    uint64_t recovered;          /* orders found by a look-up after their reply was lost */
    uint64_t gave_up;            /* orders (and cancels) whose retries ran out */
    int64_t waited;              /* ns of waits scheduled before retries, in total */
    uint64_t in_retry;           /* orders and cancels waiting on a timer now */
    uint64_t parked;             /* signals that waited for their cancels to settle */
    uint64_t withdrawn;          /* orders in retry canceled before the exchange had them */
    uint64_t absorbed;           /* signals whose target needed no order */
    uint64_t replaced;           /* working orders canceled by a new signal */
    uint64_t expired;            /* LIMIT orders ended by expire_after_bars */
    uint64_t halt_canceled;      /* working orders canceled because trading halted */
} tb_order_manager_stats;

/* Fills cfg with defaults (no exchange: set one). */
TB_EXPORT void tb_order_manager_config_init(tb_order_manager_config *cfg);
/* Creates the manager and subscribes it to bus (borrowed, must outlive it).
 * 0, TB_EINVAL (no exchange, a negative retry setting), TB_ENOMEM. */
TB_EXPORT int tb_order_manager_create(tb_bus *bus, const tb_order_manager_config *cfg,
                                      tb_order_manager **out);
/* Unsubscribes and frees. NULL is a no-op. */
TB_EXPORT void tb_order_manager_destroy(tb_order_manager *om);

/* The seed's interface. Each returns 0 or a negative TB_E* code. */
/* Turns a SignalGenerated event into an order (HOLD: nothing). */
TB_EXPORT int tb_order_manager_handle_signal_event(tb_order_manager *om, const tb_event *signal);
/* Publishes the request, runs the pre-trade check and submits; a transient
 * failure is retried on a timer (an order given up ends REJECTED: still 0). */
TB_EXPORT int tb_order_manager_send_order_to_exchange(tb_order_manager *om, tb_event *request);
/* Applies one exchange response to its order and publishes the event.
 * TB_ENOTFOUND for an unknown client order id, TB_ESTATE for an illegal move. */
TB_EXPORT int tb_order_manager_process_exchange_response(tb_order_manager *om,
                                                         const tb_exchange_response *r);
/* Publishes an order event through the bus. */
TB_EXPORT int tb_order_manager_publish_order_event(tb_order_manager *om, tb_event *ev);

/* Asks the exchange to cancel an open order, retrying transient failures on
 * timers. 0 when it is canceled or the cancel is under way (its
 * OrderCanceled follows), TB_ENOTFOUND, TB_EIO when the retries ran out at
 * once (max_attempts = 1: the order stays open). */
TB_EXPORT int tb_order_manager_cancel(tb_order_manager *om, const char *client_order_id,
                                      int64_t now);
/* Restores the manager's state from one journaled order event of an earlier
 * session of the run (`tradebus live --resume`), in journal order:
 * OrderPlacementRequest, OrderCreated, OrderFilled, OrderCanceled,
 * OrderRejected; other types are ignored. Nothing is published and nothing
 * reaches the exchange: the orders left open are followed again (the
 * exchange's news of them is taken, their events keep the journal's chain)
 * and new client order ids come after the journal's. 0, TB_ENOMEM. */
TB_EXPORT int tb_order_manager_restore(tb_order_manager *om, const tb_event *ev);
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
