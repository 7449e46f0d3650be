/* External components' figures (issue #15): round trips per second through
 * tb_external (tradebus/external.h) — one MarketData event written to the
 * program, its reply read to the end line — with the C example
 * (examples/components/echo.c) answering only the end line, the same
 * publishing one RiskAlert per input, and the Python example (echo.py)
 * both ways. Beside them: the C echo's ratio to the target
 * (200 k round trips/s) and tradebus's heap allocations per round trip,
 * and the floor: a bare socket-pair ping-pong between two processes with
 * no tradebus in it, the ceiling any pipe-or-socket protocol has on the
 * machine (external_c_echo_to_floor_ratio: how close tradebus comes). */
#ifndef TB_BENCH_EXTERNAL_H
#define TB_BENCH_EXTERNAL_H

#include <stdint.h>

#include "bench_dist.h"

/* echo: the built C example; python_echo: a command running echo.py, or
 * NULL to skip it. allocs: the bench's allocation counter (read before and
 * after). 0, or a negative TB_E* code (then a line on stderr says why). */
int tb_bench_external(const char *echo, const char *python_echo, const uint64_t *allocs,
                      tb_bench_emit_fn emit, void *ctx);

#endif
