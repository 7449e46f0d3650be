/* tradebus — internal: Binance Spot's wire protocol, with no I/O. Signing,
 * query strings, exact number formatting, the exchange's trading rules,
 * order parameters, error classification and the parsers of every reply
 * and stream message the adapter reads (jansson). Everything here is a pure
 * function of its arguments, so it is unit-tested against the official
 * documents' examples and fuzzed (fuzz/fuzz_binance.c).
 *
 * Facts: ../shared/notes/binance-spot.md and binance/binance-spot-api-docs
 * (rest-api.md, web-socket-api.md, user-data-stream.md, errors.md,
 * filters.md). Times on the wire are ms since the epoch; here they are
 * converted to ns, as every tradebus time. Parsers never trust the input:
 * a missing or malformed field is TB_EPARSE with the field named in err. */
#ifndef TB_BN_PROTO_H
#define TB_BN_PROTO_H
#include <stddef.h>
#include <stdint.h>
#include "tradebus/decimal.h"
#include "tradebus/event.h"
#include "tradebus/exchange.h"

#define BN_ASSET_LEN 16

/* ---- signing ---------------------------------------------------------- */

/* HMAC-SHA256 of msg with secret, as 64 lower-case hex digits + NUL in out.
 * 0; TB_EIO if OpenSSL fails. */
int bn_sign_hmac(const char *secret, const char *msg, size_t len, char out[65]);

/* ---- query strings ---------------------------------------------------- */

#define BN_QUERY_MAX    2048
#define BN_QUERY_PARAMS 24

/* Parameters in the order added, each value kept raw; the query string is
 * made by bn_query_encode (strict percent-encoding: only A-Z a-z 0-9 - . _ ~
 * raw, upper-case %XX, what Binance signs since 2026-01-15). A value that
 * does not fit sets err and every later call is a no-op, so a caller checks
 * once at the end. */
typedef struct {
    char key[BN_QUERY_PARAMS][32];
    char val[BN_QUERY_PARAMS][128];
    size_t n;
    int err; /* 0, or TB_EFULL / TB_EINVAL after an add that did not fit */
} bn_query;

void bn_query_init(bn_query *q);
void bn_query_add(bn_query *q, const char *key, const char *value);
void bn_query_add_i64(bn_query *q, const char *key, int64_t value);
/* Adds a decimal formatted by bn_format_decimal. */
void bn_query_add_dec(bn_query *q, const char *key, tb_decimal value);
/* Writes k=v&k=v (encoded, in the order added) into out. 0; TB_EFULL if it
 * does not fit; q->err if set. */
int bn_query_encode(const bn_query *q, char *out, size_t outlen);
/* Appends timestamp (ms) and recvWindow (ms; 0 = leave out), encodes, and
 * appends &signature=HMAC(secret, encoded) into out: the signed query
 * string of a REST request. 0, TB_EFULL, TB_EIO. Signing q again (after a
 * -1021 resync) replaces its timestamp and recvWindow, never repeats them. */
int bn_query_sign(bn_query *q, const char *secret, int64_t timestamp_ms, int64_t recv_window_ms,
                  char *out, size_t outlen);
/* The WebSocket API's signature: every parameter of q (apiKey, timestamp,
 * recvWindow included) sorted by name, k=v joined by &, values NOT
 * percent-encoded (web-socket-api.md), HMAC'd with secret into sig. */
int bn_ws_signature(const bn_query *q, const char *secret, char sig[65]);

/* ---- numbers ---------------------------------------------------------- */

/* Formats v as the API wants it: ^[0-9]{1,20}(\.[0-9]{1,20})?$ for
 * v >= 0 (trailing zeros after the point dropped, no exponent, no "+");
 * a leading "-" for a negative v. Returns the length; TB_EFULL if it does
 * not fit (32 bytes always fit). */
int bn_format_decimal(tb_decimal v, char *out, size_t outlen);

/* ---- trading rules (exchangeInfo) ------------------------------------- */

typedef struct {
    char symbol[TB_SYMBOL_LEN];
    char status[16]; /* "TRADING", "BREAK", "HALT"... */
    char base[BN_ASSET_LEN], quote[BN_ASSET_LEN];
    tb_decimal tick_size, min_price, max_price;                  /* PRICE_FILTER (0 = none) */
    tb_decimal step_size, min_qty, max_qty;                      /* LOT_SIZE */
    tb_decimal market_step_size, market_min_qty, market_max_qty; /* MARKET_LOT_SIZE (0 = none) */
    tb_decimal min_notional, max_notional; /* NOTIONAL or MIN_NOTIONAL (0 = none) */
    int apply_min_to_market;               /* NOTIONAL applyMinToMarket */
    int order_types;                       /* BN_OT_* bits of orderTypes */
} bn_symbol_info;

enum {
    BN_OT_LIMIT = 1,
    BN_OT_MARKET = 2,
    BN_OT_STOP_LOSS = 4,
    BN_OT_STOP_LOSS_LIMIT = 8,
    BN_OT_TAKE_PROFIT = 16,
    BN_OT_TAKE_PROFIT_LIMIT = 32,
    BN_OT_LIMIT_MAKER = 64
};

/* Finds symbol in an exchangeInfo reply into *out. 0; TB_ENOTFOUND if the
 * reply lacks it; TB_EPARSE with the reason in err. */
int bn_parse_exchange_info(const char *json, size_t len, const char *symbol, bn_symbol_info *out,
                           char *err, size_t errlen);
/* The request-weight limit per minute an exchangeInfo reply publishes
 * (rateLimits: REQUEST_WEIGHT, interval MINUTE, intervalNum 1) into *out.
 * 0; TB_ENOTFOUND if it publishes none (or the reply is not JSON). */
int bn_parse_weight_limit(const char *json, size_t len, int64_t *out);
/* Checks an order against the rules before it is sent (status TRADING,
 * tick, step, min/max quantity, notional at price — a MARKET order's
 * notional at ref_price, skipped when 0). 0, or TB_EREJECTED with the rule
 * and both values in err ("quantity 0.00015 is not a multiple of the step
 * size 0.0001 (LOT_SIZE)") and *reason set. */
int bn_check_order(const bn_symbol_info *s, const tb_order_placement_request *req,
                   tb_decimal ref_price, tb_reject_reason *reason, char *err, size_t errlen);

/* ---- order placement -------------------------------------------------- */

/* Adds POST /api/v3/order's parameters for req to q: symbol, side, type,
 * timeInForce (LIMIT), quantity, price, stopPrice / trailingDelta (a
 * STOP_MARKET becomes STOP_LOSS; trailing_pct becomes trailingDelta in
 * BIPS, pct x 100), newClientOrderId = req->client_order_id,
 * newOrderRespType = FULL. Not timestamp/signature. 0; TB_ENOTSUP for what
 * Binance cannot express (with the reason in err). */
int bn_order_params(const tb_order_placement_request *req, bn_query *q, char *err, size_t errlen);

/* ---- errors ----------------------------------------------------------- */

typedef enum {
    BN_OK = 0,            /* 2xx */
    BN_REJECTED = 1,      /* definite: the request was refused and nothing happened (4xx + code) */
    BN_AMBIGUOUS = 2,     /* 5xx, -1006, -1007: executed or not, unknown -> look it up */
    BN_RATE_LIMITED = 3,  /* 429 (-1003, -1015): refused unprocessed; wait Retry-After */
    BN_BANNED = 4,        /* 418: IP banned for Retry-After; halt trading */
    BN_CLOCK = 5,         /* -1021: timestamp outside recvWindow -> resync, re-sign once */
    BN_UNKNOWN_ORDER = 6, /* -2013 (query), -2011 (cancel): the exchange does not know it (open) */
    BN_AUTH = 7           /* -1022 bad signature, -2014/-2015 key: fix the config, never retry */
} bn_error_class;

typedef struct {
    int code;              /* Binance's code (negative), 0 if the body had none */
    char msg[TB_TEXT_LEN]; /* its msg, truncated */
} bn_error;

/* Reads {"code":-1013,"msg":"..."} from a reply body (tolerant: 0 and an
 * empty msg when the body is not such an object). */
void bn_parse_error(const char *json, size_t len, bn_error *out);
/* Classifies a reply by HTTP status and Binance code. */
bn_error_class bn_classify(int http_status, int code);
/* The tradebus reason for a definite rejection (-1013 filter -> INVALID_QUANTITY
 * or INVALID_PRICE by the filter's name, -2010 insufficient balance ->
 * INSUFFICIENT_FUNDS, duplicate -> DUPLICATE, -1121 -> UNKNOWN_SYMBOL, else EXCHANGE). */
tb_reject_reason bn_reject_reason(int code, const char *msg);

/* ---- orders and trades ------------------------------------------------ */

typedef struct {
    uint64_t trade_id;
    tb_decimal price, qty, commission;
    char commission_asset[BN_ASSET_LEN];
} bn_fill;

#define BN_MAX_FILLS 32

/* An order as the REST API returns it (POST/GET/DELETE /api/v3/order,
 * openOrders, allOrders). */
typedef struct {
    char symbol[TB_SYMBOL_LEN];
    uint64_t order_id;
    char client_order_id[TB_ORDER_ID_LEN];      /* clientOrderId */
    char orig_client_order_id[TB_ORDER_ID_LEN]; /* DELETE replies: the order's own id */
    tb_order_status status; /* NEW, PARTIALLY_FILLED, FILLED, CANCELED, REJECTED, EXPIRED
                               (EXPIRED_IN_MATCH and PENDING_CANCEL mapped: EXPIRED, NEW) */
    char status_text[24];   /* as on the wire */
    tb_side side;
    char type[24]; /* "LIMIT", "MARKET", "STOP_LOSS"... */
    tb_time_in_force tif;
    tb_decimal price, orig_qty, executed_qty, cum_quote, stop_price;
    int64_t trailing_delta;      /* 0 if none */
    int64_t time, update_time;   /* ns (transactTime for a POST reply) */
    bn_fill fills[BN_MAX_FILLS]; /* FULL POST replies only */
    size_t nfills;
} bn_order;

/* One order object (the top-level object of a POST/GET/DELETE reply).
 * TB_EFULL (the order read, its first BN_MAX_FILLS fills kept) when the
 * reply has more fills: recover the rest with myTrades. */
int bn_parse_order(const char *json, size_t len, bn_order *out, char *err, size_t errlen);
/* An array of orders (openOrders, allOrders): up to cap into out, *n
 * set to how many; TB_EFULL if there were more. */
int bn_parse_orders(const char *json, size_t len, bn_order *out, size_t cap, size_t *n, char *err,
                    size_t errlen);

typedef struct {
    char symbol[TB_SYMBOL_LEN];
    uint64_t id, order_id;
    tb_decimal price, qty, quote_qty, commission;
    char commission_asset[BN_ASSET_LEN];
    int64_t time; /* ns */
    int is_buyer, is_maker;
} bn_trade;

/* GET /api/v3/myTrades: up to cap trades, *n set; TB_EFULL if more. */
int bn_parse_trades(const char *json, size_t len, bn_trade *out, size_t cap, size_t *n, char *err,
                    size_t errlen);

typedef struct {
    char asset[BN_ASSET_LEN];
    tb_decimal free, locked;
} bn_balance;

/* GET /api/v3/account's balances: up to cap, *n set; TB_EFULL if more.
 * Assets whose names do not fit BN_ASSET_LEN are skipped, not an error. */
int bn_parse_account(const char *json, size_t len, bn_balance *out, size_t cap, size_t *n,
                     char *err, size_t errlen);
/* GET /api/v3/time: serverTime into *ms. */
int bn_parse_server_time(const char *json, size_t len, int64_t *ms, char *err, size_t errlen);

/* A commission converted into the quote asset: as is when asset is the
 * quote; x price when it is the base (the fill's price); x other_price when
 * another asset (BNB: other_price = its price in the quote asset, e.g. the
 * last BNBUSDT price; 0 = unknown -> TB_ENOTFOUND). Rounded half-up to
 * 1e-8. 0, TB_ENOTFOUND, TB_EOVERFLOW. */
int bn_commission_to_quote(tb_decimal commission, const char *asset, const bn_symbol_info *s,
                           tb_decimal price, tb_decimal other_price, tb_decimal *out);

/* ---- market data ------------------------------------------------------ */

/* Interval name ("1m", "15m", "1h", "1d"...) in ns; TB_EINVAL if not one of Binance's;
 * TB_ENOTSUP for "1M" (a month has no fixed length). */
int bn_interval_ns(const char *interval, int64_t *ns);
/* GET /api/v3/klines rows into bars for symbol (12-column arrays; the bar's
 * open_time/close_time set exactly as the CSV reader sets them for the same
 * row, so a live bar equals the bar a backtest reads): up to cap, *n set.
 * A row the CSV reader would refuse (high < low, open or close outside
 * them, a price <= 0, volume < 0, times not rising) is TB_EPARSE; so is
 * such a kline event. */
int bn_parse_klines(const char *json, size_t len, const char *symbol, tb_market_data *out,
                    size_t cap, size_t *n, char *err, size_t errlen);
/* A kline stream message, raw ({"e":"kline",...}) or combined
 * ({"stream":...,"data":{...}}), into *bar; *closed = the "x" flag.
 * TB_ENOTFOUND for a message that is no kline event (a SUBSCRIBE answer). */
int bn_parse_kline_event(const char *json, size_t len, tb_market_data *bar, int *closed, char *err,
                         size_t errlen);

/* ---- the WebSocket API and the user data stream ------------------------ */

/* executionReport (user-data-stream.md), the fields the adapter uses. */
typedef struct {
    char symbol[TB_SYMBOL_LEN];
    char client_order_id[TB_ORDER_ID_LEN];      /* c (a cancel's own id on a cancel) */
    char orig_client_order_id[TB_ORDER_ID_LEN]; /* C: the order's id on a cancel, else "" */
    tb_side side;                               /* S */
    char type[24];                              /* o */
    tb_time_in_force tif;                       /* f */
    tb_decimal qty, price, stop_price;          /* q p P */
    char exec_type[24];     /* x: NEW CANCELED REPLACED REJECTED TRADE EXPIRED TRADE_PREVENTION */
    tb_order_status status; /* X mapped as in bn_order */
    char reject_reason[48]; /* r */
    uint64_t order_id;      /* i */
    tb_decimal last_qty, cum_qty, last_price; /* l z L */
    tb_decimal commission;                    /* n */
    char commission_asset[BN_ASSET_LEN];      /* N ("" when none) */
    int64_t event_time, transact_time;        /* E T, ns */
    int64_t trade_id;                         /* t, -1 when not a trade */
    tb_decimal cum_quote;                     /* Z */
} bn_exec_report;

typedef enum {
    BN_WS_RESPONSE = 1, /* {"id":..,"status":..,"result"|"error":..} */
    BN_WS_EXEC_REPORT = 2,
    BN_WS_ACCOUNT = 3,    /* outboundAccountPosition / balanceUpdate: refresh balances */
    BN_WS_TERMINATED = 4, /* eventStreamTerminated: resubscribe */
    BN_WS_OTHER_EVENT = 5 /* any other event: ignored */
} bn_ws_kind;

typedef struct {
    bn_ws_kind kind;
    /* RESPONSE */
    char id[64];             /* the request id as sent (string or number as text) */
    int status;              /* HTTP-like status */
    bn_error error;          /* status != 200 */
    int64_t subscription_id; /* result.subscriptionId when present, else -1 */
    /* events */
    int64_t event_subscription_id; /* the envelope's subscriptionId, -1 if absent */
    bn_exec_report er;             /* EXEC_REPORT */
} bn_ws_frame;

/* One WebSocket API frame. 0; TB_EPARSE with the reason in err. */
int bn_parse_ws_frame(const char *json, size_t len, bn_ws_frame *out, char *err, size_t errlen);

#endif
