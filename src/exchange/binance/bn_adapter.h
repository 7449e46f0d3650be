/* tradebus — internal: the live Binance Spot adapter (testnet, live). One
 * object, three files: bn_rest.c (the single REST request queue: signing
 * at send time, the clock offset, weight throttling, 429/418 blocks, one
 * re-sign after -1021), bn_user.c (the user data stream over the WebSocket
 * API: subscribe, heartbeat, reconnect, recovery of missed fills) and
 * bn_adapter.c (the port's operations, order news to the listener, the
 * start-up sequence and reconciliation, binance.h's calls).
 *
 * Everything runs on the run's loop: HTTP and WebSocket callbacks and
 * timers, never a thread. Order news reaches the listener from those
 * callbacks; a call of the port that needs the exchange answers
 * TB_EINPROGRESS and its result comes through tb_exchange_deliver_result. */
#ifndef TB_BN_ADAPTER_H
#define TB_BN_ADAPTER_H
#include <stddef.h>
#include <stdint.h>

#include "../../net/http.h"
#include "../../net/ws.h"
#include "bn_proto.h"
#include "tradebus/binance.h"
#include "tradebus/config.h"
#include "tradebus/secret.h"

#define BN_MAX_SYMBOLS  16
#define BN_MAX_INFLIGHT 4 /* REST requests on the wire at once */
#define BN_MAX_BALANCES 64
#define BN_URL_MAX      (BN_QUERY_MAX + 256)

typedef struct bn_adapter bn_adapter;
typedef struct bn_req bn_req;

/* The stages of a REST request a probe is told of. */
typedef enum {
    BN_PROBE_HANDED = 0,  /* handed to the HTTP client (tb_http_send returned) */
    BN_PROBE_WRITTEN = 1, /* curl is about to write it on its connection */
    BN_PROBE_ANSWERED = 2 /* its reply (or failure) is read, before it is handled */
} bn_probe_stage;
/* A probe: r is the request (its op, path, cid), at the wall time (ns). */
typedef void (*bn_probe_fn)(void *ctx, bn_probe_stage stage, const bn_req *r, int64_t at);

/* A reply's handler: 0 when done with r (it is recycled), 1 when it kept r
 * (queued it again). */
typedef int (*bn_req_fn)(bn_adapter *a, bn_req *r, const tb_http_response *resp);

/* What a request is for (what its handler does with the reply). */
typedef enum {
    BN_OP_NONE = 0,
    BN_OP_TIME,
    BN_OP_INFO,
    BN_OP_PRICE,
    BN_OP_ACCOUNT,
    BN_OP_OPEN_ORDERS,
    BN_OP_SUBMIT,
    BN_OP_CANCEL,
    BN_OP_QUERY,
    BN_OP_SYNC,
    BN_OP_TRADES,
    BN_OP_DOUBT_CHECK,
    BN_OP_CANCEL_ALL_LIST,
    BN_OP_CANCEL_ALL_ONE
} bn_op;

/* What follows when an order's state has been read back (sync). */
typedef enum {
    BN_THEN_NONE = 0,
    BN_THEN_QUERY,   /* the port's query: deliver its result */
    BN_THEN_STARTUP, /* one look-up of the start-up sequence done */
    BN_THEN_CHECK    /* the silent-stream check: missed fills -> reconnect */
} bn_then;

/* One REST request, from a free list (no allocation per request once warm). */
struct bn_req {
    bn_req *next;
    bn_adapter *a;
    const char *method; /* static */
    char path[48];
    bn_query q;  /* unsigned parameters */
    bn_req *all; /* every request allocated (bn_rest_free) */
    int is_signed, weight, in_body;
    int clock_retried; /* re-signed once after a -1021 */
    int timed;         /* counts as an order request for order_rtt */
    bn_req_fn done;
    bn_op op;
    bn_then then;
    char cid[TB_ORDER_ID_LEN];
    int sym;
    tb_exchange_order_info info; /* a query's answer while its fills are recovered */
    int64_t t0;                  /* wall time it was sent, ns */
    tb_decimal executed;         /* sync: the exchange's executed quantity */
    tb_order_status status;      /* sync: the exchange's status */
    int found;                   /* the read-back found fills not told before */
    /* An order in doubt looked for in myTrades: orders whose trades no
     * order we follow explains, each read back by orderId in turn. */
    uint64_t cands[8];
    size_t ncands, icand;
    int evidence; /* a trade since the send that may be ours */
};

typedef struct {
    char name[TB_SYMBOL_LEN];
    bn_symbol_info info;
    int loaded;
    const tb_symbol_rules *cfg; /* the config's [symbol.SYM], or NULL */
    tb_decimal last_price;      /* the last bar's close or fill price */
} bn_sym;

/* An order of ours the adapter follows (or one not ours it saw: foreign). */
typedef struct {
    char cid[TB_ORDER_ID_LEN];
    int sym;
    uint64_t order_id;
    tb_decimal qty, cum_qty;   /* cum_qty: what the listener was told */
    int accepted, terminal;    /* told to the listener */
    int foreign;               /* client id not ours: reported, never touched */
    int64_t doubt_since;       /* an ambiguous send's wall time, 0 = none */
    int64_t sent_at;           /* when that send left, wall ns: myTrades' start */
    int syncing;               /* a read-back is on its way */
    int from_journal;          /* handed over by tb_binance_set_resume, not yet looked up */
    tb_decimal journal_filled; /* what the journal has of its fills */
    int64_t last_sync;
} bn_ord;

/* A call of the port held until the start-up sequence ends. */
typedef struct {
    tb_exchange_op op;
    tb_order_placement_request req; /* submit */
    char cid[TB_ORDER_ID_LEN];      /* cancel, query */
} bn_held;

typedef enum {
    BN_ST_TIME = 0,
    BN_ST_INFO,
    BN_ST_PRICE,
    BN_ST_ACCOUNT,
    BN_ST_STREAM,
    BN_ST_OPEN,
    BN_ST_LOOKUP,
    BN_ST_READY,
    BN_ST_FAILED
} bn_stage;

struct bn_adapter {
    tb_exchange base; /* first: the port's handle */
    tb_loop *loop;
    tb_http *http;
    tb_wsc *wsc;
    tb_ws *ws;
    tb_secret key, secret;
    char key_header[TB_SECRET_MAX + 16];
    char rest_url[256], ws_url[256];
    int testnet;
    int64_t recv_window_ms, timeout_ms, sync_interval, silence, grace; /* ns but the first two */
    tb_decimal bnb_price;
    char bnb_symbol[TB_SYMBOL_LEN];
    char quote[BN_ASSET_LEN];

    bn_sym syms[BN_MAX_SYMBOLS];
    size_t nsyms;
    char (*strategies)[TB_STRATEGY_LEN]; /* ids of ours: "<strategy>-<n>" */
    size_t nstrategies;

    /* REST */
    bn_req *queue, *queue_tail, *free_reqs, *after_sync;
    /* Every request ever allocated, through bn_req.all: one in flight when
     * the adapter is destroyed is in no list (tb_http drops its callback). */
    bn_req *all_reqs;
    size_t inflight;
    int syncing_time;
    int64_t offset_ns;
    int64_t weight_limit, used_weight, weight_minute; /* limit: exchangeInfo's, else 6000 */
    int64_t blocked_until;
    int halted;
    tb_timer_id pump_timer, sync_timer;
    int64_t pump_at;

    /* orders */
    bn_ord *ords;
    size_t nords, cap_ords;
    uint64_t *trades; /* trade ids seen, open addressing: (id << 5 | sym) + 1 */
    size_t trades_cap, ntrades;

    /* the user stream */
    int stream_open;    /* subscribed */
    int64_t last_msg;   /* any message */
    int64_t last_event; /* last event, or the subscription */
    int64_t ping_sent;  /* an unanswered ping's time, 0 = none */
    int64_t last_check; /* the last silent-stream REST check */
    int reconnects;     /* attempts since the last subscription */
    uint64_t ws_seq;
    tb_timer_id hb_timer, reconnect_timer;
    int ws_dead; /* closed: to be freed by the reconnect timer */
    int check_found;
    int checks_pending;
    uint64_t rng;

    /* start-up */
    bn_stage stage;
    size_t stage_i;
    int stage_pending;
    int startup_attempts;
    tb_timer_id stage_timer;
    bn_exec_report *buffer; /* events of the stream during start-up */
    size_t nbuffer, cap_buffer;
    bn_held *held;
    size_t nheld, cap_held;
    char report[1024];
    int ready_rc;
    tb_binance_request_fn request_fn; /* tb_binance_on_request, or NULL */
    void *request_ctx;
    tb_binance_ready_fn ready_fn[4];
    void *ready_ctx[4];
    size_t nready;
    tb_timer_id ready_timer;
    tb_binance_known_order *known;
    size_t nknown;
    tb_binance_position *positions;
    size_t npositions;
    int adopt_positions;

    /* cancel-all */
    tb_binance_done_fn cancel_all_fn;
    void *cancel_all_ctx;
    int cancel_all_wanted, cancel_all_pending, cancel_all_rc;
    size_t cancel_all_n, cancel_all_sym;

    bn_balance balances[BN_MAX_BALANCES];
    size_t nbalances;

    tb_binance_status st;

    bn_probe_fn probe; /* bn_adapter_set_probe: NULL = none */
    void *probe_ctx;
};

/* Sets a probe (the benchmark's: bench/bench_live.c) told of every REST
 * request's stages, from the loop, with the wall time; fn NULL removes it.
 * Without one, a request costs one test of a NULL pointer more. TB_EINVAL
 * if ex is no live Binance adapter. */
int bn_adapter_set_probe(tb_exchange *ex, bn_probe_fn fn, void *ctx);

/* Creates the live adapter (binance.c checked the mode and the URLs). */
int tb__bn_live_create(const tb_config *cfg, tb_loop *loop, int testnet, const char *rest_url,
                       const char *ws_url, tb_exchange **out, char *err, size_t errlen);

/* ---- bn_rest.c ---------------------------------------------------------- */

/* A fresh request (from the free list), or NULL (TB_ENOMEM). */
bn_req *bn_req_new(bn_adapter *a, const char *method, const char *path, int is_signed, int weight,
                   bn_op op, bn_req_fn done);
/* Queues r (at the front when front) and sends what may go. */
void bn_rest_enqueue(bn_adapter *a, bn_req *r, int front);
/* Sends what may go now: throttled by the weight, blocked by 429/418. */
void bn_rest_pump(bn_adapter *a);
/* Measures the clock offset again (GET /api/v3/time, ahead of the queue). */
void bn_rest_sync_time(bn_adapter *a);
/* The start-up's sync: bn_startup_time_done(a, ok) follows its reply. */
void bn_rest_sync_time_startup(bn_adapter *a);
/* The server's time now by our clock and the offset, ms. */
int64_t bn_server_ms(const bn_adapter *a);
/* Frees every request the adapter holds. */
void bn_rest_free(bn_adapter *a);

/* ---- bn_user.c ---------------------------------------------------------- */

/* Opens the WebSocket API connection and subscribes to the user stream. */
int bn_user_open(bn_adapter *a);
/* Closes the connection and schedules a new one with back-off and jitter. */
void bn_user_reconnect(bn_adapter *a, const char *why);
/* Starts the heartbeat timer (silence checks). */
void bn_user_start_heartbeat(bn_adapter *a);

/* ---- bn_adapter.c (used by the other two) -------------------------------- */

/* An executionReport of ours: to the listener (buffered during start-up). */
void bn_on_exec(bn_adapter *a, const bn_exec_report *er);
/* A balance change on the stream: the balances given replace ours. */
void bn_on_balances(bn_adapter *a, const bn_balance *b, size_t n);
/* Asks GET /api/v3/account again (balanceUpdate). */
void bn_refresh_account(bn_adapter *a);
/* The user stream is subscribed (again): start-up goes on, or missed fills
 * are recovered after a reconnect. */
void bn_on_subscribed(bn_adapter *a, int again);
/* The subscription was refused definitively (key, signature). */
void bn_on_stream_refused(bn_adapter *a, const bn_error *e);
/* Reads back every open order of ours (then: what follows each). */
void bn_sync_open_orders(bn_adapter *a, bn_then then);
/* The start-up's clock sync ended (ok: the offset is measured). */
void bn_startup_time_done(bn_adapter *a, int ok);
/* Records the last error for the status and the log. */
void bn_set_error(bn_adapter *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The number of orders of ours not known to be terminal. */
size_t bn_open_count(const bn_adapter *a);

#endif
