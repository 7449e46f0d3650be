/* tradebus — events: plain fixed-size values with a standard envelope.
 *
 * An event is a tb_event struct: the envelope (ids, time, source) and a union
 * of typed payloads. It holds no pointers, so it can be copied, queued and
 * journalled as is; publishing one allocates nothing. Strings are fixed-size,
 * NUL-terminated char arrays; setters truncate nothing silently (see
 * tb_str_copy: over-long input is an error).
 *
 * Causality: every event carries causation_id (the event that directly caused
 * it; 0 for market data) and correlation_id (the market-data event its chain
 * started from), so any fill can be walked back
 * OrderFilled → OrderCreated → OrderPlacementRequest → SignalGenerated → MarketData. */
#ifndef TRADEBUS_EVENT_H
#define TRADEBUS_EVENT_H

#include <stdint.h>
#include "decimal.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TB_EVENT_VERSION 1

#define TB_SYMBOL_LEN   16 /* "BTCUSDT" + NUL, longest Binance symbols fit */
#define TB_STRATEGY_LEN 32
#define TB_ORDER_ID_LEN 40 /* exchange order id and client order id */
#define TB_RULE_LEN     24
#define TB_TEXT_LEN     120
#define TB_SOURCE_LEN   16

/* X(enum, value, wire name). Values are append-only. */
#define TB_EVENT_TYPE_MAP(X)                                                                       \
    X(TB_EV_MARKET_DATA, 1, "MarketData")                                                          \
    X(TB_EV_SIGNAL_GENERATED, 2, "SignalGenerated")                                                \
    X(TB_EV_ORDER_PLACEMENT_REQUEST, 3, "OrderPlacementRequest")                                   \
    X(TB_EV_ORDER_CREATED, 4, "OrderCreated")                                                      \
    X(TB_EV_ORDER_FILLED, 5, "OrderFilled")                                                        \
    X(TB_EV_ORDER_REJECTED, 6, "OrderRejected")                                                    \
    X(TB_EV_ORDER_CANCELED, 7, "OrderCanceled")                                                    \
    X(TB_EV_POSITION_UPDATE, 8, "PositionUpdate")                                                  \
    X(TB_EV_RISK_ALERT, 9, "RiskAlert")

typedef enum {
    TB_EV_NONE = 0,
#define TB__EV_ENUM(e, v, n) e = v,
    TB_EVENT_TYPE_MAP(TB__EV_ENUM)
#undef TB__EV_ENUM
        TB_EV_COUNT /* one past the last type; arrays indexed by type use this */
} tb_event_type;

/* CANCEL: the strategy's working orders in the symbol (or the one named by
 * cancel_order_id) are to be canceled; volume 0. */
typedef enum {
    TB_SIGNAL_HOLD = 0,
    TB_SIGNAL_BUY = 1,
    TB_SIGNAL_SELL = 2,
    TB_SIGNAL_CANCEL = 3
} tb_signal_type;
typedef enum { TB_SIDE_BUY = 1, TB_SIDE_SELL = 2 } tb_side;
/* STOP_MARKET: a MARKET order that becomes live when the price touches
 * stop_price (a SELL stop when a bar's low <= stop_price, a BUY stop when its
 * high >= stop_price); used for stop-losses and trailing stops. */
typedef enum { TB_ORDER_MARKET = 1, TB_ORDER_LIMIT = 2, TB_ORDER_STOP_MARKET = 3 } tb_order_type;

/* How long a LIMIT order stays working (MARKET and STOP_MARKET ignore it).
 * GTC: until filled or canceled; IOC: what fills on the first bar it can
 * trade, the rest expires; FOK: all of it on that bar, or nothing (expires). */
typedef enum { TB_TIF_GTC = 0, TB_TIF_IOC = 1, TB_TIF_FOK = 2 } tb_time_in_force;

/* Why an order exists. Entries and exits a strategy signaled are SIGNAL; the
 * rest are placed by the Order Manager on the strategy's behalf. A closed
 * trade's exit reason is the origin of the fill that closed it (END: still
 * open when the run ended, marked at the last close). */
typedef enum {
    TB_ORIGIN_SIGNAL = 0,
    TB_ORIGIN_STOP_LOSS = 1,
    TB_ORIGIN_TAKE_PROFIT = 2,
    TB_ORIGIN_TRAILING_STOP = 3,
    TB_ORIGIN_HALT = 4, /* halt_action = close_all */
    TB_ORIGIN_END = 5
} tb_order_origin;

/* Why an order ended without filling completely (OrderCanceled.cause). */
typedef enum {
    TB_CANCEL_EXCHANGE = 0, /* the exchange ended it: IOC/FOK remainder, or its own cancel */
    TB_CANCEL_REPLACED = 1, /* a new signal of the strategy replaced it (on_new_signal) */
    TB_CANCEL_EXPIRED = 2,  /* expire_after_bars ran out */
    TB_CANCEL_OCO = 3,      /* the other side of its bracket filled */
    TB_CANCEL_HALT = 4,     /* it added exposure when trading was halted */
    TB_CANCEL_REQUESTED = 5 /* canceled on request (API, kill switch) */
} tb_cancel_cause;

/* Order status; the legal transitions are in tb_order_status_can_move(). */
typedef enum {
    TB_ORDER_PENDING = 0, /* requested, not yet acknowledged by the exchange */
    TB_ORDER_NEW = 1,
    TB_ORDER_PARTIALLY_FILLED = 2,
    TB_ORDER_FILLED = 3,
    TB_ORDER_CANCELED = 4,
    TB_ORDER_REJECTED = 5,
    TB_ORDER_EXPIRED = 6
} tb_order_status;

typedef enum { TB_POSITION_OPEN = 1, TB_POSITION_CLOSED = 2 } tb_position_status;

/* Trading state set by the Risk Manager (NautilusTrader's names). */
typedef enum {
    TB_TRADING_ACTIVE = 0,   /* all orders allowed */
    TB_TRADING_REDUCING = 1, /* only orders that reduce a position */
    TB_TRADING_HALTED = 2    /* no orders that increase risk; reducing ones pass */
} tb_trading_state;

/* Why an order was rejected. */
typedef enum {
    TB_REJECT_NONE = 0,
    TB_REJECT_RISK = 1, /* pre-trade risk rule (see the RiskAlert) */
    TB_REJECT_INSUFFICIENT_FUNDS = 2,
    TB_REJECT_INVALID_QUANTITY = 3, /* zero, negative or off the step size */
    TB_REJECT_INVALID_PRICE = 4,    /* off the tick size, or <= 0 */
    TB_REJECT_UNKNOWN_SYMBOL = 5,
    TB_REJECT_EXCHANGE = 6, /* any other exchange refusal */
    TB_REJECT_DUPLICATE = 7 /* client order id already used */
} tb_reject_reason;

/* The components, and the other sources of events: the one table their
 * identities are read from — tb_source and its names, the names the
 * components subscribe to the bus under, their publisher slots, and the
 * processes of a distributed run (TB_ROLE_*, backtest.h; tb_node_roles(),
 * node.h). A new component is one row here (and its code).
 *
 *   S(ID, value, name)                 a source that is no component
 *   C(ID, value, name, slot, process)  a component
 *   H(ID, name, slot, process)         a subscriber the pipeline hosts beside
 *                                      a component, in its process (the
 *                                      summary's PnL book, beside the monitor)
 *
 * value    TB_SRC_<ID> = value, the event's source; append-only. Rows are in
 *          value order (the last one sets TB_SRC_COUNT).
 * name     the source on the wire; a component's or hosted subscriber's name
 *          on the bus (dead letters name it); a component's role, process,
 *          queue and state file in a distributed run
 * slot     1 + its place in the embedded pipeline's subscription order: the
 *          counter its events' ids are taken from (tb_bus_config.publishers),
 *          and its rank in a distributed run's order. Slots are 1..n, each
 *          once. Changing one changes every event id of a run.
 * process  1 + its process's place in a distributed run (the order their
 *          step reports are awaited in, and processes are listed in);
 *          TB_ROLE_<ID> = 1 << (process - 1). Components are 1..n, each once. */
#define TB_COMPONENT_MAP(S, C, H)                                                                  \
    S(UNKNOWN, 0, "unknown")                                                                       \
    S(MARKET_DATA, 1, "market_data")                                                               \
    C(SIGNAL, 2, "signal", 4, 1)                                                                   \
    C(ORDERS, 3, "orders", 2, 2)                                                                   \
    C(POSITIONS, 4, "positions", 3, 3)                                                             \
    C(RISK, 5, "risk", 1, 4)                                                                       \
    C(MONITOR, 6, "monitor", 6, 5)                                                                 \
    H(SUMMARY, "summary", 5, 5)                                                                    \
    S(EXCHANGE, 7, "exchange")                                                                     \
    /* A program run as a component ([component.NAME], external.h). */                             \
    S(EXTERNAL, 8, "external")

/* Component (or other source) that published an event. */
typedef enum {
#define TB__SRC_ENUM(id, value, ...) TB_SRC_##id = value,
#define TB__SRC_NONE(...)
    TB_COMPONENT_MAP(TB__SRC_ENUM, TB__SRC_ENUM, TB__SRC_NONE)
#undef TB__SRC_ENUM
#undef TB__SRC_NONE
        TB_SRC_COUNT /* one past the last source */
} tb_source;

typedef struct {
    char symbol[TB_SYMBOL_LEN];
    tb_decimal open, high, low, close, volume;
    int64_t open_time;  /* ns since the Unix epoch */
    int64_t close_time; /* ns since the Unix epoch; the bar is complete at this time */
} tb_market_data;

typedef struct {
    tb_signal_type signal_type;
    char symbol[TB_SYMBOL_LEN];
    tb_decimal price;  /* bar close the signal was computed on */
    tb_decimal volume; /* desired quantity, > 0 (0 only for HOLD) */
    char strategy_id[TB_STRATEGY_LEN];
    tb_order_type order_type; /* how the strategy wants it executed */
    tb_decimal limit_price;   /* LIMIT only, else 0 */
    /* The signed position the strategy wants once this signal is done (its
     * target before, plus or minus volume). An Order Manager configured with
     * the strategy (orders.h) orders the difference from what is truly held
     * and working; others send volume as it is. Optional on the wire (0). */
    tb_decimal target;
    /* The bracket of the position this order builds, as prices (a BUY's
     * stop below its price and target above; a SELL's the other way); 0 =
     * the strategy's configured percents. Kept until the position is flat
     * or the next order names others. Optional on the wire (0). */
    tb_decimal stop_loss, take_profit;
    /* CANCEL only: the client order id of the one order to cancel; "" = every
     * working order of the strategy in the symbol. Optional on the wire. */
    char cancel_order_id[TB_ORDER_ID_LEN];
} tb_signal_generated;

typedef struct {
    tb_order_type order_type;
    tb_side side;
    char symbol[TB_SYMBOL_LEN];
    tb_decimal quantity;
    tb_decimal price; /* LIMIT only, else 0 */
    char strategy_id[TB_STRATEGY_LEN];
    char client_order_id[TB_ORDER_ID_LEN];
    /* Optional on the wire; omitted when 0 (GTC, no stop, SIGNAL, ""). */
    tb_time_in_force time_in_force;
    tb_decimal stop_price; /* STOP_MARKET only, else 0 */
    tb_order_origin origin;
    /* STOP_MARKET: > 0 makes it a trailing stop: after each bar its
     * stop_price follows the close at this percent (a SELL stop never lower
     * than close x (1 - pct/100), a BUY stop never higher than
     * close x (1 + pct/100)), never moving back. */
    tb_decimal trailing_pct;
    /* One-cancels-the-other: the client order id of the other order of the
     * pair (a bracket's stop and target). When either fills, even in part,
     * the exchange cancels the other. "" = none. */
    char oco_with[TB_ORDER_ID_LEN];
} tb_order_placement_request;

typedef struct {
    char order_id[TB_ORDER_ID_LEN]; /* exchange id */
    tb_order_status status;
    char client_order_id[TB_ORDER_ID_LEN];
    tb_order_type order_type;
    tb_side side;
    char symbol[TB_SYMBOL_LEN];
    tb_decimal quantity;
    tb_decimal price;
    char strategy_id[TB_STRATEGY_LEN];
    tb_time_in_force time_in_force; /* optional on the wire, as in the request */
    tb_decimal stop_price;
    tb_order_origin origin;
    tb_decimal trailing_pct;
    char oco_with[TB_ORDER_ID_LEN];
} tb_order_created;

/* One execution. filled_* are THIS execution's; cumulative_quantity and
 * average_price are the order's totals after it (never confuse the two). */
typedef struct {
    char order_id[TB_ORDER_ID_LEN];
    char client_order_id[TB_ORDER_ID_LEN];
    char strategy_id[TB_STRATEGY_LEN];
    char symbol[TB_SYMBOL_LEN];
    tb_side side;
    tb_decimal filled_quantity;
    tb_decimal filled_price;
    tb_decimal commission; /* in the quote asset */
    tb_decimal cumulative_quantity;
    tb_decimal average_price;
    tb_order_status status; /* PARTIALLY_FILLED or FILLED */
    uint64_t trade_id;      /* exchange execution id */
    tb_order_origin origin; /* the order's; optional on the wire (SIGNAL) */
} tb_order_filled;

typedef struct {
    char order_id[TB_ORDER_ID_LEN]; /* empty if the exchange never saw it */
    char client_order_id[TB_ORDER_ID_LEN];
    char strategy_id[TB_STRATEGY_LEN];
    char symbol[TB_SYMBOL_LEN];
    tb_side side;
    tb_order_type order_type;
    tb_decimal quantity;
    tb_decimal price;
    tb_reject_reason reason;
    char text[TB_TEXT_LEN];
    tb_order_origin origin; /* the order's; optional on the wire (SIGNAL) */
} tb_order_rejected;

typedef struct {
    char order_id[TB_ORDER_ID_LEN];
    char client_order_id[TB_ORDER_ID_LEN];
    char strategy_id[TB_STRATEGY_LEN];
    char symbol[TB_SYMBOL_LEN];
    tb_side side;
    tb_decimal filled_quantity;   /* executed before the cancel */
    tb_decimal canceled_quantity; /* the remainder that will never fill */
    tb_order_status status;       /* CANCELED or EXPIRED */
    char text[TB_TEXT_LEN];
    tb_cancel_cause cause;  /* optional on the wire (EXCHANGE) */
    tb_order_origin origin; /* the order's; optional on the wire (SIGNAL) */
} tb_order_canceled;

typedef struct {
    uint64_t position_id; /* stable for the position's life */
    char strategy_id[TB_STRATEGY_LEN];
    char symbol[TB_SYMBOL_LEN];
    tb_decimal current_quantity; /* signed: > 0 long, < 0 short, 0 flat */
    tb_decimal entry_price;      /* weighted average, 0 when flat */
    tb_decimal unrealized_pnl;   /* at mark_price */
    tb_decimal realized_pnl;     /* cumulative over the position's life, fees excluded */
    tb_decimal mark_price;
    tb_position_status status;
} tb_position_update;

typedef struct {
    char rule[TB_RULE_LEN];
    char detail[TB_TEXT_LEN];
    tb_trading_state trading_state; /* the state after this alert */
    char strategy_id[TB_STRATEGY_LEN];
    char symbol[TB_SYMBOL_LEN];
} tb_risk_alert;

typedef struct {
    tb_event_type type;
    uint16_t version; /* TB_EVENT_VERSION */
    tb_source source;
    uint64_t event_id; /* unique: (node << 48) | (publisher << 40) | sequence, never 0 (bus.h) */
    uint64_t causation_id;   /* 0 if none */
    uint64_t correlation_id; /* the chain's market-data event (itself for market data) */
    int64_t timestamp;       /* event time, ns since the Unix epoch (simulated in a backtest) */
    union {
        tb_market_data market_data;
        tb_signal_generated signal;
        tb_order_placement_request order_request;
        tb_order_created order_created;
        tb_order_filled order_filled;
        tb_order_rejected order_rejected;
        tb_order_canceled order_canceled;
        tb_position_update position;
        tb_risk_alert risk_alert;
    } u;
} tb_event;

/* Zeroes ev and sets type, version and source. */
TB_EXPORT void tb_event_init(tb_event *ev, tb_event_type type, tb_source source);
/* Sets causation to parent's id and inherits parent's correlation id. */
TB_EXPORT void tb_event_caused_by(tb_event *ev, const tb_event *parent);

/* Wire names ("MarketData", "BUY", "PARTIALLY_FILLED", ...): static strings,
 * "?" for an unknown value. The _parse functions return 0 and set *out, or
 * TB_EPARSE for an unknown name (exact, case-sensitive match). */
TB_EXPORT const char *tb_event_type_name(tb_event_type t);
TB_EXPORT int tb_event_type_parse(const char *s, tb_event_type *out);
TB_EXPORT const char *tb_signal_type_name(tb_signal_type t);
TB_EXPORT int tb_signal_type_parse(const char *s, tb_signal_type *out);
TB_EXPORT const char *tb_side_name(tb_side s);
TB_EXPORT int tb_side_parse(const char *s, tb_side *out);
TB_EXPORT const char *tb_order_type_name(tb_order_type t);
TB_EXPORT int tb_order_type_parse(const char *s, tb_order_type *out);
TB_EXPORT const char *tb_order_status_name(tb_order_status s);
TB_EXPORT int tb_order_status_parse(const char *s, tb_order_status *out);
TB_EXPORT const char *tb_position_status_name(tb_position_status s);
TB_EXPORT int tb_position_status_parse(const char *s, tb_position_status *out);
TB_EXPORT const char *tb_trading_state_name(tb_trading_state s);
TB_EXPORT int tb_trading_state_parse(const char *s, tb_trading_state *out);
TB_EXPORT const char *tb_reject_reason_name(tb_reject_reason r);
TB_EXPORT int tb_reject_reason_parse(const char *s, tb_reject_reason *out);
TB_EXPORT const char *tb_time_in_force_name(tb_time_in_force t);
TB_EXPORT int tb_time_in_force_parse(const char *s, tb_time_in_force *out);
/* Origins are lower case on the wire ("signal", "stop_loss", ...), the names
 * a trade's exit reason is reported with. */
TB_EXPORT const char *tb_order_origin_name(tb_order_origin o);
TB_EXPORT int tb_order_origin_parse(const char *s, tb_order_origin *out);
TB_EXPORT const char *tb_cancel_cause_name(tb_cancel_cause c);
TB_EXPORT int tb_cancel_cause_parse(const char *s, tb_cancel_cause *out);
TB_EXPORT const char *tb_source_name(tb_source s);
TB_EXPORT int tb_source_parse(const char *s, tb_source *out);

/* 1 if an order may move from status a to b, else 0. Legal:
 * PENDING→NEW|REJECTED, NEW→PARTIALLY_FILLED|FILLED|CANCELED|EXPIRED,
 * PARTIALLY_FILLED→PARTIALLY_FILLED|FILLED|CANCELED|EXPIRED. Terminal states
 * (FILLED, CANCELED, REJECTED, EXPIRED) move nowhere. */
TB_EXPORT int tb_order_status_can_move(tb_order_status a, tb_order_status b);
/* 1 if s is terminal (FILLED, CANCELED, REJECTED, EXPIRED). */
TB_EXPORT int tb_order_status_is_terminal(tb_order_status s);

/* Copies NUL-terminated src into dst[cap]; TB_ERANGE (dst untouched) if it
 * does not fit with its NUL. */
TB_EXPORT int tb_str_copy(char *dst, size_t cap, const char *src);

#ifdef __cplusplus
}
#endif
#endif
