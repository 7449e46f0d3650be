/* Lua strategies' figures (issue #16): the Lua sma_cross
 * (examples/strategies/sma_cross.lua) through the full pipeline in bars/s
 * beside the C built-in sma_cross, same params and same bars, alternating,
 * best of 3 each, and the ratio (target >= 1/3); the engine's heap
 * allocations per bar with the Lua strategy in steady state (target 0); and
 * the Lua side's own figures, measured apart on the strategy alone: calls
 * to the Lua allocator per bar and the Lua heap's growth per bar. */
#ifndef TB_BENCH_LUA_H
#define TB_BENCH_LUA_H

#include <stdint.h>

#include "bench_dist.h"

/* script: path of the Lua sma_cross. allocs: the bench's malloc counter
 * (read before and after; LuaJIT's own allocator does not use malloc, so
 * it counts the engine alone). 0, or a negative TB_E* code (then a line on
 * stderr says why). */
int tb_bench_lua(const char *script, const uint64_t *allocs, tb_bench_emit_fn emit, void *ctx);

#endif
