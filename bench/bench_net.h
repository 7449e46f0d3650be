/* HTTP client figures (src/net/http.c) against a fake Binance on loopback
 * (TB_BENCH_BINANCE_URL, e.g. http://127.0.0.1:18431, started with
 * scripts/fake_binance.sh): GET /api/v3/time answered per second, one at a
 * time and with many in flight. Loopback, so the figures are the client's
 * and the fake's cost, not a network's. */
#ifndef TB_BENCH_NET_H
#define TB_BENCH_NET_H

#include "bench_dist.h"

/* Runs the measurements against base (no trailing slash), reporting through
 * emit. 0, or a negative TB_E* code (then a line on stderr says why). */
int tb_bench_net(const char *base, tb_bench_emit_fn emit, void *ctx);

#endif
