/* tradebus — the exchange port: the interface every exchange adapter
 * implements. Adapters live in their own modules (the simulator:
 * sim_exchange.h) and are created from a config by type through the
 * registry (exchange_registry.h); the engine holds only a tb_exchange *.
 *
 * An exchange adapter is a vtable behind tb_exchange. The Order Manager owns
 * the link: it submits, cancels and looks up orders and receives every
 * response (accepted, rejected, fill, canceled) through the listener it sets,
 * then turns them into events. Responses may be delivered from inside
 * submit() (synchronous acks) or later (fills on market data).
 *
 * Two channels, two kinds of news. What happened to an ORDER (accepted,
 * rejected, filled, canceled) goes to the listener. What happened to a
 * REQUEST on its way (the transport) is the call's own result: submit,
 * cancel and query return only once the request was answered or failed, and
 * a transient failure is returned as TB_EIO with the details in *xerr:
 *  - TB_XF_TIMEOUT: no reply in time. The request may or may not have been
 *    executed (ambiguous: Binance -1007 "execution status unknown").
 *  - TB_XF_SERVER_ERROR: a 5xx reply. Also ambiguous (Binance: "NOT a failure
 *    operation; the execution status is UNKNOWN and could have been a success").
 *  - TB_XF_RATE_LIMITED: a 429; the request was refused unprocessed. The
 *    caller must wait xerr->retry_after before its next request.
 *  - TB_XF_CONNECTION_LOST: the request could not be sent; certainly not executed.
 * After TB_EIO no listener response belongs to that request (a lost reply is
 * lost). Definite rejections are not failures: they arrive as TB_XR_REJECTED
 * and the call returns 0. Any other negative code is a local error
 * (TB_ENOMEM, TB_EOVERFLOW...). After an ambiguous failure the only safe move
 * is to look the order up by client order id (query) and resend only if the
 * exchange does not know it — a blind resend after the first order filled
 * trades twice, since ids are unique only among OPEN orders.
 *
 * Asynchronous adapters. A live adapter cannot answer inside the call
 * without blocking the loop, so it sends the request and returns
 * TB_EINPROGRESS; the call's result — exactly what the call would have
 * returned (0, TB_ENOTFOUND, TB_EIO with the failure, a query's order) —
 * reaches the result listener later, from the loop, once per such call.
 * Order news keeps going to the listener and may come before the result
 * (Binance's executionReport often beats the REST reply). A synchronous
 * adapter (the simulator) never returns TB_EINPROGRESS. The Order Manager
 * takes both; a caller that cannot wait must not use an asynchronous one.
 *
 * The account (cash, equity) is read through the port too, so that the
 * engine never needs to know which adapter it holds. */
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

/* How a request failed on its way (see the top of this file). */
typedef enum {
    TB_XF_NONE = 0,           /* no failure: the request got a definite answer */
    TB_XF_TIMEOUT = 1,        /* no reply in time: executed or not, unknown (ambiguous) */
    TB_XF_SERVER_ERROR = 2,   /* 5xx: executed or not, unknown (ambiguous) */
    TB_XF_RATE_LIMITED = 3,   /* 429: refused unprocessed; wait retry_after */
    TB_XF_CONNECTION_LOST = 4 /* never sent: certainly not executed */
} tb_exchange_failure;

/* Details of a transient failure (a call returned TB_EIO). */
typedef struct {
    tb_exchange_failure failure;
    int64_t retry_after;    /* TB_XF_RATE_LIMITED: the wait asked for, ns (0 = not said) */
    char text[TB_TEXT_LEN]; /* the adapter's detail ("HTTP 503"), may be empty */
} tb_exchange_error;

/* What the exchange knows of an order (query). */
typedef struct {
    char client_order_id[TB_ORDER_ID_LEN];
    char order_id[TB_ORDER_ID_LEN];
    tb_order_status status;     /* NEW, PARTIALLY_FILLED, FILLED, CANCELED or EXPIRED */
    tb_decimal quantity;        /* ordered */
    tb_decimal filled_quantity; /* cumulative */
    int64_t time;               /* when the exchange accepted it, ns */
    tb_decimal stop_price;      /* STOP_MARKET: the stop now (a trailing stop's moves
                                   included), else 0 */
} tb_exchange_order_info;

/* Which call a result answers. */
typedef enum { TB_XOP_SUBMIT = 1, TB_XOP_CANCEL = 2, TB_XOP_QUERY = 3 } tb_exchange_op;

/* The result of a call that returned TB_EINPROGRESS. */
typedef struct {
    tb_exchange_op op;
    char client_order_id[TB_ORDER_ID_LEN];
    int rc;                      /* what the call would have returned synchronously */
    tb_exchange_error xerr;      /* rc == TB_EIO: how it failed */
    tb_exchange_order_info info; /* TB_XOP_QUERY with rc == 0: the order */
} tb_exchange_result;

typedef void (*tb_exchange_result_listener)(const tb_exchange_result *r, void *ctx);

typedef struct {
    const char *name;
    /* Sends an order. 0 when the exchange answered (the ack or the rejection
     * goes to the listener, possibly before this returns); TB_EIO with *xerr
     * filled for a transient failure; another negative code for a local error. */
    int (*submit)(tb_exchange *ex, const tb_order_placement_request *req, int64_t now,
                  tb_exchange_error *xerr);
    /* Asks to cancel by client order id. 0 (the cancel goes to the listener),
     * TB_ENOTFOUND if not open, TB_EIO with *xerr. */
    int (*cancel)(tb_exchange *ex, const char *client_order_id, int64_t now,
                  tb_exchange_error *xerr);
    /* Looks an order up by client order id: 0 with *out filled, TB_ENOTFOUND
     * if the exchange does not know it, TB_EIO with *xerr. Sends nothing to
     * the listener and changes nothing. NULL: the adapter cannot look up. */
    int (*query)(tb_exchange *ex, const char *client_order_id, int64_t now,
                 tb_exchange_order_info *out, tb_exchange_error *xerr);
    /* Market data reaches a simulated exchange through this (NULL for a live one). */
    int (*on_market_data)(tb_exchange *ex, const tb_market_data *bar);
    /* Frees the adapter and everything it owns. */
    void (*destroy)(tb_exchange *ex);
    /* The account's cash in the quote asset, fees paid: 0 with *out set,
     * TB_EIO for a transient failure. NULL: the adapter cannot tell. */
    int (*cash)(tb_exchange *ex, tb_decimal *out);
    /* The account's equity now: cash plus every holding valued at its last
     * price, every fill so far included. Returns as cash. NULL: cannot tell. */
    int (*equity)(tb_exchange *ex, tb_decimal *out);
} tb_exchange_vtable;

/* Every adapter embeds this as its first member. */
struct tb_exchange {
    const tb_exchange_vtable *vt;
    tb_exchange_listener listener;
    void *listener_ctx;
    tb_exchange_result_listener result_listener; /* asynchronous adapters' results */
    void *result_ctx;
};

/* Per-symbol trading rules; zero fields mean "any multiple of 1e-8". */
typedef struct {
    char symbol[TB_SYMBOL_LEN];
    tb_decimal tick_size; /* prices must be multiples */
    tb_decimal step_size; /* quantities must be multiples */
    tb_decimal min_notional;
} tb_symbol_rules;

/* Sets the listener that receives every response (borrowed ctx). */
TB_EXPORT void tb_exchange_set_listener(tb_exchange *ex, tb_exchange_listener fn, void *ctx);
/* Sets the listener that receives the results of calls that returned
 * TB_EINPROGRESS (borrowed ctx); NULL stops them (an adapter drops results
 * nobody listens to). */
TB_EXPORT void tb_exchange_set_result_listener(tb_exchange *ex, tb_exchange_result_listener fn,
                                               void *ctx);
/* For adapters: hands r to the result listener, if any. A TB_EIO that names
 * no failure is passed on as TB_XF_TIMEOUT, as the forwarders do. */
TB_EXPORT void tb_exchange_deliver_result(tb_exchange *ex, const tb_exchange_result *r);
/* The forwarders below call the adapter's vtable and return TB_EMISUSE if
 * it lacks the operation, TB_EINVAL for a NULL argument. xerr may be NULL;
 * it is cleared first, and a TB_EIO that names no failure is reported as
 * TB_XF_TIMEOUT (assume the worst: it may have been executed). */
/* Sends req (borrowed for the call): 0, TB_EIO with *xerr, TB_EINPROGRESS
 * (an asynchronous adapter: the result comes later), or a local error. */
TB_EXPORT int tb_exchange_submit(tb_exchange *ex, const tb_order_placement_request *req,
                                 int64_t now, tb_exchange_error *xerr);
/* Asks to cancel an open order: 0, TB_ENOTFOUND if not open, TB_EIO with
 * *xerr, TB_EINPROGRESS. */
TB_EXPORT int tb_exchange_cancel(tb_exchange *ex, const char *client_order_id, int64_t now,
                                 tb_exchange_error *xerr);
/* Looks an order up into *out (cleared first): 0, TB_ENOTFOUND, TB_EIO with
 * *xerr, TB_EINPROGRESS (*out is then left alone: the result carries it). */
TB_EXPORT int tb_exchange_query(tb_exchange *ex, const char *client_order_id, int64_t now,
                                tb_exchange_order_info *out, tb_exchange_error *xerr);
/* Offers a bar to the adapter (0 and nothing done if it takes none); its error otherwise. */
TB_EXPORT int tb_exchange_on_market_data(tb_exchange *ex, const tb_market_data *bar);
/* The account's cash into *out: 0, TB_EMISUSE (the adapter cannot tell), TB_EIO. */
TB_EXPORT int tb_exchange_cash(tb_exchange *ex, tb_decimal *out);
/* The account's equity into *out: 0, TB_EMISUSE (the adapter cannot tell), TB_EIO. */
TB_EXPORT int tb_exchange_equity(tb_exchange *ex, tb_decimal *out);
/* Destroys any adapter. NULL is a no-op. */
TB_EXPORT void tb_exchange_destroy(tb_exchange *ex);

/* "timeout", "server_error", "rate_limited", "connection_lost", "none"; "?" if unknown. */
TB_EXPORT const char *tb_exchange_failure_name(tb_exchange_failure f);
/* 1 if the request may have been executed (timeout, server error). */
TB_EXPORT int tb_exchange_failure_is_ambiguous(tb_exchange_failure f);

#ifdef __cplusplus
}
#endif
#endif
