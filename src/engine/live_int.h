/* Private (not installed): the live runner with a latency probe, for the
 * benchmark (bench/bench_live.c: from a closed kline's frame read to its
 * order request on the socket). tb_live_run() is this without a probe. */
#ifndef TRADEBUS_LIVE_INT_H
#define TRADEBUS_LIVE_INT_H

#include "tradebus/live.h"

typedef enum {
    TB__LIVE_ORDER_HANDED = 0,  /* POST /api/v3/order handed to the HTTP client */
    TB__LIVE_ORDER_WRITTEN = 1, /* curl about to write it on its connection */
    TB__LIVE_ORDER_ANSWERED = 2 /* its reply (or failure) read */
} tb__live_order_stage;

typedef struct {
    /* Called from the run's loop for each order request (a Binance
     * adapter's POST /api/v3/order: testnet and live modes only) at each
     * stage, at (wall ns). frame_at: at HANDED, when the market stream
     * message whose bar led to the order was read (as bn_market's on-message
     * began), 0 if the order was not sent while one was being handled (held
     * until the exchange was ready, queued behind other requests, a bar from
     * REST); 0 at the other stages. cid: the order's client id. */
    void (*on_order)(void *ctx, tb__live_order_stage stage, const char *cid, int64_t frame_at,
                     int64_t at);
    void *ctx;
} tb__live_probe;

/* tb_live_run() with probe (borrowed; NULL = none, as tb_live_run). */
int tb__live_run(const tb_config *cfg, const tb_live_options *opt, const tb__live_probe *probe,
                 tb_backtest_result *res, char *err, size_t errlen);

#endif
