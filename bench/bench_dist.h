/* Distributed-mode figures for `make bench` (needs a broker: TB_AMQP_URL):
 * stream-order throughput feed → positions across two processes beside the
 * raw librabbitmq ceiling, strict-order throughput of the whole pipeline as
 * six processes, and market-data → order-sent latency across processes. */
#ifndef TB_BENCH_DIST_H
#define TB_BENCH_DIST_H

typedef void (*tb_bench_emit_fn)(void *ctx, const char *name, double value, const char *unit);

/* Runs the measurements against the broker at url, reporting through emit.
 * 0, or a negative TB_E* code (then a line on stderr says why). */
int tb_bench_dist(const char *url, tb_bench_emit_fn emit, void *ctx);

#endif
