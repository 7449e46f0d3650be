/* tradebus — the Binance Spot exchange adapter: `[exchange] type = binance`.
 *
 * Modes (`[exchange] mode`): paper (live market data, fills by the
 * simulated exchange: the adapter created is the simulator, no keys),
 * testnet (Binance's spot testnet) and live (production). The adapter talks
 * REST (orders, look-ups, account) and the WebSocket API's user data stream
 * (order updates) on the run's loop; it is asynchronous (exchange.h: calls
 * return TB_EINPROGRESS and their results come later). Market data (the
 * kline stream) is not the adapter's: the live runner feeds bars.
 *
 * At creation it starts its start-up sequence — clock offset, exchangeInfo
 * checks, balances, the user stream, open orders, reconciliation — and
 * sends no order before it succeeded (orders asked for before are held).
 * The functions below are for the live runner (`tradebus live`). */
#ifndef TRADEBUS_BINANCE_H
#define TRADEBUS_BINANCE_H
#include <stddef.h>
#include <stdint.h>
#include "exchange.h"
#include "exchange_registry.h"
#ifdef __cplusplus
extern "C" {
#endif

/* The registry entry (exchange_registry.c lists it). */
extern const tb_exchange_type tb_binance_exchange_type;

/* What the adapter is doing, for the status line and the metrics. */
typedef struct {
    int ready;                    /* start-up and reconciliation done: orders flow */
    int halted;                   /* a 418 ban: no request until banned_until */
    int user_stream_open;         /* the user data stream is subscribed */
    int64_t user_stream_rx;       /* wall time (ns) of its last message, 0 = none */
    int64_t clock_offset_ns;      /* server time - local time, last measured */
    int64_t used_weight_1m;       /* the last X-MBX-USED-WEIGHT-1M seen, -1 = none */
    int64_t blocked_until;        /* 429/418: no request before this wall time (ns), 0 = none */
    int64_t rest_latency_ns;      /* the last REST round trip */
    int64_t order_rtt_ns;         /* the last order request's round trip */
    uint64_t requests;            /* REST requests sent */
    size_t open_orders;           /* orders of ours open on the exchange */
    char last_error[TB_TEXT_LEN]; /* the last error the adapter met, "" if none */
} tb_binance_status;

/* Called once when the start-up sequence ends: rc 0 (ready) or the error,
 * with a report in text (balances that disagree, orders not ours...). */
typedef void (*tb_binance_ready_fn)(void *ctx, int rc, const char *text);
/* Called once when a cancel-all ends: rc 0 or the error, n orders canceled. */
typedef void (*tb_binance_done_fn)(void *ctx, int rc, size_t n);

/* Optional input from the journal (`tradebus live --resume`): the orders it
 * holds as not terminal and the positions it holds. Reconciliation looks
 * every such order up by client order id and reports to the listener what
 * happened while the process was down (fills beyond filled_quantity, from
 * myTrades, one per trade; a cancel or expiry); it checks that the account
 * holds each position (spot: the base asset's free + locked balance at
 * least the position; a negative position is impossible) and fails the
 * start-up with both values unless adopt_positions. */
typedef struct {
    char client_order_id[TB_ORDER_ID_LEN];
    char symbol[TB_SYMBOL_LEN];
    tb_decimal quantity;        /* ordered */
    tb_decimal filled_quantity; /* what the journal has of its fills */
} tb_binance_known_order;

typedef struct {
    char symbol[TB_SYMBOL_LEN];
    tb_decimal quantity; /* base asset held, signed */
} tb_binance_position;

typedef struct {
    const tb_binance_known_order *orders; /* copied */
    size_t norders;
    const tb_binance_position *positions; /* copied */
    size_t npositions;
    int adopt_positions; /* --adopt-positions: a disagreement is reported, not fatal */
} tb_binance_resume;

/* Hands the journal's state (copied) to the start-up sequence. Call it
 * right after creation, before the loop first runs. TB_EINVAL if ex is no
 * Binance adapter, TB_ESTATE once the sequence is past its first step,
 * TB_ENOMEM. */
TB_EXPORT int tb_binance_set_resume(tb_exchange *ex, const tb_binance_resume *resume);

/* A REST request about to be sent (tb_binance_on_request). Borrowed for
 * the call. params: the parameters as sent, without the timestamp, the
 * signature or the key (nothing secret). */
typedef struct {
    const char *method;          /* "GET", "POST", "DELETE" */
    const char *path;            /* "/api/v3/order" */
    const char *purpose;         /* "submit", "cancel", "look-up", "open orders", ... */
    const char *client_order_id; /* the order it is about, "" if none */
    const char *params;
} tb_binance_request;
/* Returns 0 to let the request go; anything else keeps it from being sent
 * (it fails as a request never sent: an order is refused, a look-up tried
 * again later). */
typedef int (*tb_binance_request_fn)(void *ctx, const tb_binance_request *rq);

/* Calls fn(ctx, rq) just before every REST request leaves (each resend
 * too): the live runner journals them there, so a request is on disk
 * before the exchange can act on it. One observer; fn NULL removes it.
 * TB_EINVAL if ex is no Binance adapter. */
TB_EXPORT int tb_binance_on_request(tb_exchange *ex, tb_binance_request_fn fn, void *ctx);

/* What the account holds of symbol's base asset (free + locked), as last
 * read (start-up, then the user stream's account updates): *out. 0;
 * TB_EINVAL if ex is no Binance adapter; TB_ENOTFOUND if symbol is not one
 * of the run's or its asset was never reported (then *out is 0). */
TB_EXPORT int tb_binance_holdings(const tb_exchange *ex, const char *symbol, tb_decimal *out);

/* 1 if ex is a Binance adapter (not the simulator of paper mode). */
TB_EXPORT int tb_binance_is(const tb_exchange *ex);
/* Fills *out with the adapter's state. TB_EINVAL if ex is no Binance adapter. */
TB_EXPORT int tb_binance_status_get(const tb_exchange *ex, tb_binance_status *out);
/* Calls fn(ctx, rc, text) from the loop once the start-up sequence ended
 * (at once, from the loop, if it already has). TB_EINVAL if ex is no Binance adapter. */
TB_EXPORT int tb_binance_on_ready(tb_exchange *ex, tb_binance_ready_fn fn, void *ctx);
/* Cancels every open order of ours on the configured symbols (never an
 * order whose client id is not ours) and calls fn from the loop when done.
 * TB_EINVAL if ex is no Binance adapter. */
TB_EXPORT int tb_binance_cancel_all(tb_exchange *ex, tb_binance_done_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
