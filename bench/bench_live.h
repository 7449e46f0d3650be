/* The live path's figures against a fake Binance on loopback
 * (TB_BENCH_BINANCE_URL, e.g. http://127.0.0.1:18431, started with
 * scripts/fake_binance.sh; `make bench` starts one):
 *
 *  - closed kline → order request, through `tradebus live` in testnet mode
 *    (tb_live_run with an internal probe): from the moment the market
 *    stream message carrying a closed kline is read (bn_market's
 *    on-message) to the moment its POST /api/v3/order is handed to the HTTP
 *    client (tb_http_send returned), and to the moment curl is about to
 *    write it on its connection; p50 and p99 in µs over many bars, each bar
 *    sent when the previous one's order was answered (an idle loop, as
 *    when bars are a minute apart);
 *  - the Binance adapter's REST throughput: signed requests through its one
 *    queue (signing at send time, weight tracking, at most 4 on the wire),
 *    order placement + cancel, and signed GET /api/v3/order look-ups.
 *
 * The fake's request-weight limit is raised first (the adapter's throttle
 * follows the limit exchangeInfo publishes: with Binance's 6000 a minute it
 * would hold the queue after ~5400 weight). Loopback, so the figures are
 * ours and the fake's cost, not a network's. */
#ifndef TB_BENCH_LIVE_H
#define TB_BENCH_LIVE_H

#include "bench_dist.h"

/* Runs the measurements against base (no trailing slash), reporting through
 * emit. 0, or a negative TB_E* code (then a line on stderr says why). */
int tb_bench_live(const char *base, tb_bench_emit_fn emit, void *ctx);

#endif
