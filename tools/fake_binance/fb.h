/* The fake Binance Spot server's internals (docs/fake-binance.md).
 *
 * Not part of tradebus: a test fixture, one process, one thread, serving
 * Binance's documented REST API, WebSocket API (user data stream) and
 * market streams on 127.0.0.1 with plain http/ws, plus a control interface
 * under /_ctl/ for tests to script it.
 *
 * Layout: util.c (decimals, buffers, parameters, signing), exchange.c (the
 * account, symbols, orders, matching, the events they produce, klines),
 * rest.c (Binance's REST routes, signed-request checks, rate limits, faults,
 * the request log, the WebSocket API methods), control.c (/_ctl/), and
 * ../fake_binance.c (libwebsockets glue and main). Everything runs on the
 * libwebsockets service thread: nothing here locks. */
#ifndef FB_H
#define FB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#if defined(__GNUC__)
#define FB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define FB_PRINTF(f, a)
#endif

/* ---- decimals ------------------------------------------------------------
 * Binance quotes every price, quantity and balance with at most 8 decimal
 * places: a signed 64-bit count of 1e-8 units is exact for all of them (up
 * to about 9.2e10). */
typedef int64_t fb_dec;
#define FB_SCALE  INT64_C(100000000)
#define FB_DEC(i) ((fb_dec)(i)*FB_SCALE)

enum {
    FB_DEC_OK = 0,
    FB_DEC_SYNTAX = -1,    /* not ^[0-9]{1,20}(\.[0-9]{1,20})?$ */
    FB_DEC_PRECISION = -2, /* a non-zero digit after the 8th decimal */
    FB_DEC_OVERFLOW = -3,
};
int fb_dec_parse(const char *s, fb_dec *out);
/* "123.45000000": always 8 decimals, as Binance prints. buf >= 32 bytes. */
char *fb_dec_fmt(fb_dec v, char *buf);
fb_dec fb_dec_mul(fb_dec a, fb_dec b); /* truncated toward zero */
fb_dec fb_dec_div(fb_dec a, fb_dec b); /* truncated; b == 0 gives 0 */
json_t *fb_dec_json(fb_dec v);         /* a JSON string */

/* ---- growable byte buffer (always NUL-terminated when non-empty) ---------- */
typedef struct {
    char *p;
    size_t len, cap;
} fb_buf;
void fb_buf_addn(fb_buf *b, const char *s, size_t n);
void fb_buf_adds(fb_buf *b, const char *s);
void fb_buf_addf(fb_buf *b, const char *fmt, ...) FB_PRINTF(2, 3);
void fb_buf_free(fb_buf *b);
/* Allocation failures abort: a test fixture has no better answer. */
void *fb_xrealloc(void *p, size_t n);
char *fb_xstrdup(const char *s);

/* ---- request parameters ---------------------------------------------------- */
typedef struct {
    char *name, *value;
} fb_param;
typedef struct {
    fb_param *v;
    size_t n, cap;
} fb_params;
void fb_params_add(fb_params *p, const char *name, size_t nlen, const char *value, size_t vlen);
void fb_params_free(fb_params *p);
const char *fb_params_get(const fb_params *p, const char *name); /* first value or NULL */
int fb_params_count(const fb_params *p, const char *name);
/* Adds the pairs of an application/x-www-form-urlencoded text, decoded. */
void fb_params_parse_form(fb_params *p, const char *s, size_t len);
json_t *fb_params_json(const fb_params *p); /* {"name":"value",...}; first wins */

/* Percent-encodes s. strict: only RFC 3986 unreserved bytes stay as they
 * are; otherwise only what a query cannot carry raw (controls, space,
 * non-ASCII, % & + = #) is encoded. plus_for_space: ' ' becomes '+'. Hex
 * digits are upper case. */
void fb_urlencode(fb_buf *out, const char *s, int strict, int plus_for_space);
void fb_urldecode(fb_buf *out, const char *s, size_t len, int plus_is_space);

/* HMAC-SHA256(key, msg) as 64 lower-case hex digits. */
void fb_hmac_hex(const char *key, const char *msg, size_t len, char out[65]);
/* Binance compares HMAC signatures case-insensitively. */
int fb_sig_equal(const char *a, const char *b);

/* The text of a JSON scalar as a WebSocket API signature payload takes it:
 * strings raw, integers in decimal, reals in their shortest round-trip form,
 * true/false/null. */
void fb_json_scalar_text(const json_t *v, fb_buf *out);

/* ---- the exchange ------------------------------------------------------------ */
enum { FB_BUY = 0, FB_SELL = 1 };
enum {
    FB_LIMIT = 0,
    FB_MARKET,
    FB_LIMIT_MAKER,
    FB_STOP_LOSS,
    FB_STOP_LOSS_LIMIT,
    FB_TAKE_PROFIT,
    FB_TAKE_PROFIT_LIMIT,
    FB_NTYPES
};
enum { FB_GTC = 0, FB_IOC, FB_FOK, FB_NO_TIF };
enum {
    FB_ST_NEW = 0,
    FB_ST_PARTIALLY_FILLED,
    FB_ST_FILLED,
    FB_ST_CANCELED,
    FB_ST_REJECTED,
    FB_ST_EXPIRED,
};
const char *fb_side_name(int side);
const char *fb_type_name(int type);
const char *fb_tif_name(int tif);
const char *fb_status_name(int status);
int fb_status_open(int status);

typedef struct {
    fb_dec price, qty;
} fb_level;

typedef struct {
    char name[24], base[16], quote[16], status[16];
    fb_dec min_price, max_price, tick;         /* PRICE_FILTER (0 disables a rule) */
    fb_dec min_qty, max_qty, step;             /* LOT_SIZE */
    fb_dec mkt_min_qty, mkt_max_qty, mkt_step; /* MARKET_LOT_SIZE */
    fb_dec min_notional, max_notional;         /* NOTIONAL (or MIN_NOTIONAL) */
    int apply_min_to_market, apply_max_to_market;
    int legacy_min_notional; /* publish MIN_NOTIONAL instead of NOTIONAL */
    int avg_price_mins;
    fb_dec last_price; /* 0: none */
    /* Scripted liquidity: asks best (lowest) first, bids best (highest) first. */
    fb_level *bids, *asks;
    size_t nbids, nasks;
} fb_symbol;

typedef struct {
    int64_t id;
    char symbol[24], client_id[40];
    int side, type, tif;
    fb_dec price, qty, quote_qty, stop_price, iceberg_qty;
    fb_dec executed, cum_quote;
    fb_dec locked; /* still locked by this order (quote for a buy, base for a sell) */
    int status;
    int64_t time, update_time, working_time;
    int64_t trailing_delta; /* 0: none */
    char expiry_reason[40];
} fb_order;

typedef struct {
    int64_t id, order_id, time;
    char symbol[24], commission_asset[16];
    fb_dec price, qty, quote_qty, commission;
    int is_buyer, is_maker;
} fb_trade;

typedef struct {
    int64_t open_time, close_time, trades, first_trade, last_trade;
    char o[32], h[32], l[32], c[32], v[32], q[32], tv[32], tq[32];
    int closed;
} fb_kline;

typedef struct {
    char symbol[24], interval[8];
    fb_kline *v;
    size_t n, cap;
} fb_kseries;

typedef struct {
    char asset[16];
    fb_dec free, locked;
} fb_balance;

typedef struct fb_ex {
    fb_symbol *symbols;
    size_t nsymbols;
    fb_balance *balances;
    size_t nbalances;
    fb_order **orders; /* pointers: an fb_order * stays valid */
    size_t norders, corders;
    fb_trade *trades;
    size_t ntrades, ctrades;
    fb_kseries *series;
    size_t nseries;
    int64_t next_order_id, next_trade_id, next_exec_id, next_auto_id;
    int64_t update_time;
    /* Commission: rate × notional, charged in the asset received (base for a
     * buy, quote for a sell) unless commission_asset names one, converted at
     * commission_asset_price quote units per unit (e.g. BNB at 300 USDT). */
    fb_dec maker_rate, taker_rate;
    char commission_asset[16];
    fb_dec commission_asset_price;
    int check_balances;
    int64_t (*now)(void *ctx); /* server time, ms */
    void *now_ctx;
    /* Receives every user data event (owned by the callee). */
    void (*emit)(void *ctx, json_t *event);
    void *emit_ctx;
} fb_ex;

typedef struct {
    int status; /* HTTP status */
    int code;   /* Binance error code */
    char msg[256];
} fb_error;
void fb_error_set(fb_error *e, int status, int code, const char *fmt, ...) FB_PRINTF(4, 5);

void fb_ex_init(fb_ex *ex);
void fb_ex_free(fb_ex *ex);
/* Empties everything; with defaults, loads BTCUSDT, ETHUSDT, BNBUSDT and a
 * funded account (docs/fake-binance.md). */
void fb_ex_reset(fb_ex *ex, int defaults);

fb_symbol *fb_ex_symbol(fb_ex *ex, const char *name);
fb_symbol *fb_ex_symbol_add(fb_ex *ex, const char *name); /* existing or a new blank one */
void fb_symbol_set_book(fb_symbol *s, int side, const fb_level *lv, size_t n);
fb_balance *fb_ex_balance(fb_ex *ex, const char *asset, int create);
json_t *fb_symbol_json(const fb_symbol *s); /* as in exchangeInfo */

fb_order *fb_ex_order_by_id(fb_ex *ex, const char *symbol, int64_t id);
/* The latest order with that client id (open or not). */
fb_order *fb_ex_order_by_client(fb_ex *ex, const char *symbol, const char *client_id);

/* A new order as POST /api/v3/order takes it: the raw parameter values
 * (NULL when absent). */
typedef struct {
    const char *symbol, *side, *type, *time_in_force, *quantity, *quote_order_qty, *price,
        *stop_price, *trailing_delta, *iceberg_qty, *new_client_order_id;
} fb_order_req;
/* Validates (formats, filters, balances, duplicate client id), accepts and
 * matches. On success *out is the order and the trades it made are
 * ex->trades[*first_trade .. ex->ntrades). Events go to ex->emit. */
int fb_ex_place(fb_ex *ex, const fb_order_req *rq, fb_order **out, size_t *first_trade,
                fb_error *err);
/* Cancels an open order: CANCELED, with cancel_client_id as the report's c
 * and the order's own id as C (NULL: an id is generated). */
int fb_ex_cancel(fb_ex *ex, fb_order *o, const char *cancel_client_id, char *used_id,
                 size_t used_len, fb_error *err);
/* The exchange ends an open order itself: EXPIRED with expiry reason
 * `reason` (NULL: EXCHANGE_CANCELED). */
int fb_ex_expire(fb_ex *ex, fb_order *o, const char *reason, fb_error *err);
/* A fill of qty at price on an open order (the scripted counterparty). A
 * commission_asset of NULL/"" and commission < 0 mean "as configured".
 * duplicate: the executionReport is emitted twice. */
int fb_ex_fill(fb_ex *ex, fb_order *o, fb_dec qty, fb_dec price, int maker, fb_dec commission,
               const char *commission_asset, int duplicate, fb_trade **out, fb_error *err);
/* Sets a balance (no event) or moves it by delta with a balanceUpdate and an
 * outboundAccountPosition (a deposit or withdrawal). */
void fb_ex_set_balance(fb_ex *ex, const char *asset, fb_dec free, fb_dec locked);
void fb_ex_balance_delta(fb_ex *ex, const char *asset, fb_dec delta);

enum { FB_ORDER_ACK, FB_ORDER_RESULT, FB_ORDER_FULL, FB_ORDER_QUERY, FB_ORDER_CANCEL };
json_t *fb_order_json(fb_ex *ex, const fb_order *o, int form, size_t first_trade);
json_t *fb_trade_json(const fb_trade *t);
json_t *fb_account_json(fb_ex *ex, int omit_zero);

/* Klines: interval length in ms for the fixed ones, 0 if unknown ("1M" is
 * calendar months: see fb_kline_close_time). */
int fb_interval_valid(const char *interval);
int64_t fb_kline_close_time(const char *interval, int64_t open_time);
fb_kseries *fb_ex_series(fb_ex *ex, const char *symbol, const char *interval, int create);
/* Inserts or replaces (same open time) keeping the series sorted. */
void fb_kseries_put(fb_kseries *s, const fb_kline *k);
json_t *fb_kline_row(const fb_kline *k); /* the REST 12 columns */
json_t *fb_kline_event(const fb_kseries *s, const fb_kline *k,
                       int64_t now); /* the stream payload */

/* ---- the server ---------------------------------------------------------------- */

/* A fault injected into the next `count` requests matching method + path
 * (method "*" matches any; WebSocket API methods have method "WS" and the
 * method name as path). */
typedef struct {
    char method[16], path[160];
    int count;
    char action[16]; /* status | error | hang | close */
    int after;       /* 1: the request is processed first (the order exists) */
    int status;
    char *body; /* raw body for "status"; NULL: a Binance error object */
    int code;
    char msg[256];
    int retry_after; /* seconds, -1: no Retry-After */
    int64_t ms;      /* hang length */
} fb_fault;

typedef struct fb_srv {
    fb_ex ex;
    char api_key[128], secret[128];
    int64_t clock_offset_ms;
    int ping_interval_s;
    /* REQUEST_WEIGHT per minute, the 429 back-off and the 418 ban. */
    int weight_limit, ban_after, ban_seconds;
    int64_t weight_minute;
    int weight_used;
    int64_t backoff_until, banned_until; /* ms, wall clock */
    int violations;
    int64_t orders_10s_window, orders_day_window;
    int orders_10s, orders_day;
    fb_fault *faults;
    size_t nfaults;
    json_t *log; /* array of request records */
    int64_t log_seq;
    /* User stream: executionReports still to be sent twice; the REST reply
     * of an order request held until the events went out. */
    int dup_next;
    int events_first;
    int events_first_delay_ms;
    json_t *capture; /* events of the request being handled, or NULL */
    void *glue;      /* the libwebsockets side */
    int quiet;
} fb_srv;

int64_t fb_wall_ms(void);
int64_t fb_srv_now(fb_srv *srv); /* server time: wall clock + offset */
void fb_srv_init(fb_srv *srv);
void fb_srv_free(fb_srv *srv);
/* Back to the state after start: defaults loaded, faults, log, clock
 * offset, limits and stream options cleared. */
void fb_srv_reset(fb_srv *srv, int defaults);

enum { FB_GET = 0, FB_POST, FB_PUT, FB_DELETE, FB_OTHER };

/* One HTTP request as received. */
typedef struct {
    int method;
    char path[256];
    fb_params query;  /* decoded */
    fb_buf query_enc; /* the query re-encoded (libwebsockets decodes it) */
    fb_buf body;      /* raw */
    char apikey[160];
    int has_apikey;
} fb_req;

/* What to send back. */
typedef struct {
    int status;
    json_t *body;     /* owned; NULL with raw */
    char *raw;        /* owned raw body (a fault's), or NULL */
    int code;         /* Binance error code, 0 if none */
    int retry_after;  /* -1: none */
    int weight;       /* X-MBX-USED-WEIGHT-1M value */
    int order_count;  /* add X-MBX-ORDER-COUNT-* headers */
    int64_t delay_ms; /* hold the reply (a hang) */
    int drop;         /* close without replying */
    int processed;    /* the request reached the "matching engine" */
    json_t *events;   /* user events produced, sent after the reply */
} fb_reply;
void fb_reply_free(fb_reply *r);
void fb_reply_error(fb_reply *r, int status, int code, const char *fmt, ...) FB_PRINTF(4, 5);

/* REST (rest.c): everything but /_ctl/. */
void fb_rest_handle(fb_srv *srv, const fb_req *rq, fb_reply *rp);
/* WebSocket API: one text message in, the response out (NULL: none). */
typedef struct {
    int64_t sub_id; /* -1: not subscribed */
    int64_t next_sub_id;
} fb_wsapi_conn;
json_t *fb_wsapi_handle(fb_srv *srv, fb_wsapi_conn *c, const char *msg, size_t len,
                        int *close_after);
/* The request log (rest.c). */
json_t *fb_log_add(fb_srv *srv, const char *transport, const char *method, const char *path);

/* Control (control.c). */
void fb_ctl_handle(fb_srv *srv, const fb_req *rq, fb_reply *rp);

/* The libwebsockets side (fake_binance.c). */
void fb_glue_user_event(fb_srv *srv, json_t *event);                      /* borrowed */
void fb_glue_market_event(fb_srv *srv, const char *stream, json_t *data); /* borrowed */
/* close | drop | silent | normal on every user-stream (kind 1) or market
 * stream (kind 2) connection; returns how many. */
int fb_glue_connections(fb_srv *srv, int kind, const char *action);
json_t *fb_glue_status(fb_srv *srv);

#endif
