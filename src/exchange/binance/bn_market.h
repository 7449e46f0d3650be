/* tradebus — internal: Binance Spot's live kline feed for `tradebus live`.
 *
 * One combined market stream (`/stream?streams=<sym>@kline_<interval>/...`)
 * carries every configured symbol; closed klines become tb_market_data
 * (bn_parse_kline_event) and reach on_bar in time order across symbols
 * (open time, then the symbols in the order given), each bar once, never
 * out of order. The REST API's GET /api/v3/klines (paged, 1000 rows a
 * page) fills what the stream missed:
 *
 *  - at the start, the last warmup_bars closed bars of every symbol (the
 *    history that warms the strategies' indicators), loaded BEFORE the
 *    stream is opened; they are delivered with history = 1;
 *  - after every (re)connection, everything since the last bar delivered
 *    (the bars closed while the stream was down, or between the history
 *    and the subscription);
 *  - whenever a closed kline opens later than the bar expected next (a
 *    frame lost without the connection dropping), the bars in between,
 *    before that kline;
 *  - when one symbol's bar is still missing slot_wait after another
 *    symbol's bar of the same time arrived: that symbol's bar (if REST has
 *    none either, the slot goes on without it).
 *
 * A lost connection is reopened after a back-off doubling from
 * backoff_min to backoff_max, with full jitter (a uniform delay in
 * [d/2, d]) so that many clients do not come back at once.
 *
 * Everything happens on the loop (borrowed, a wall-clock one); callbacks
 * run from inside tb_loop_run/poll. A bar delivered allocates nothing:
 * the per-symbol queues and the REST page buffer are allocated once. */
#ifndef TB_BN_MARKET_H
#define TB_BN_MARKET_H
#include <stddef.h>
#include <stdint.h>
#include "tradebus/event.h"
#include "tradebus/loop.h"

typedef struct bn_market bn_market;

/* A closed bar, in order. history: it closed before the live run began
 * (the warm-up). A non-zero return is logged and the feed goes on. */
typedef int (*bn_market_bar_fn)(void *ctx, const tb_market_data *bar, int history);
/* News for the log: level 0 info, 1 warning. msg never holds a secret. */
typedef void (*bn_market_log_fn)(void *ctx, int level, const char *msg);

typedef struct {
    const char *stream_url;     /* base, e.g. "wss://stream.binance.com:9443" (copied) */
    const char *rest_url;       /* base, e.g. "https://api.binance.com" (copied) */
    const char *interval;       /* "1m" (copied) */
    const char *const *symbols; /* upper case, as the exchange names them (copied) */
    size_t nsymbols;
    int warmup_bars;        /* history bars per symbol before the stream; 0 = none, max 999 */
    int64_t backoff_min_ns; /* 0 = 500 ms */
    int64_t backoff_max_ns; /* 0 = 30 s */
    int64_t slot_wait_ns;   /* 0 = 5 s */
    uint64_t seed;          /* of the jitter; 0 = from the clock */
    bn_market_bar_fn on_bar;
    bn_market_log_fn on_log; /* may be NULL */
    void *ctx;
} bn_market_config;

typedef struct {
    int streams;             /* symbols subscribed */
    int connected;           /* the stream is open */
    int warm;                /* the history is loaded: live bars flow */
    int64_t last_rx;         /* wall time (ns) of the last stream message, 0 = none */
    int64_t last_bar_close;  /* close time of the last bar delivered, 0 = none */
    int64_t last_bar_at;     /* wall time it was delivered */
    int64_t trade_from;      /* open time of the first bar after the history (0 until warm) */
    uint64_t bars, history;  /* bars delivered, of which history */
    uint64_t rest_bars;      /* bars that came from REST after the start (gaps, catch-ups) */
    uint64_t duplicates;     /* klines dropped as already delivered or queued */
    uint64_t connects;       /* connections opened (1 + reconnections) */
    uint64_t rest_requests;  /* GET /api/v3/klines sent */
    int64_t rest_latency_ns; /* the last one's round trip, -1 = none */
    int64_t used_weight_1m;  /* X-MBX-USED-WEIGHT-1M last seen, -1 = none */
} bn_market_status;

/* Creates the feed on loop and starts it (history first, then the stream).
 * 0; TB_EINVAL (no symbol, an unknown interval, a URL that is not
 * ws(s):// or http(s)://, with the reason in err); TB_ENOMEM; TB_EIO. */
int bn_market_create(tb_loop *loop, const bn_market_config *cfg, bn_market **out, char *err,
                     size_t errlen);
/* Closes the stream, cancels pending requests and timers, frees. NULL: no-op. */
void bn_market_destroy(bn_market *m);
/* The feed's state now. */
void bn_market_get_status(const bn_market *m, bn_market_status *out);
/* While a market stream message is being handled (its bars delivered,
 * whatever on_bar does with them): the wall time (ns) it was read, as its
 * handling began; 0 otherwise (a bar from REST, a timer) and for NULL. For
 * latency probes (bench/bench_live.c: kline frame read -> order sent). */
int64_t bn_market_frame_at(const bn_market *m);

#endif
