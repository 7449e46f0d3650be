/* Parameter sweeps (issue #17 part 1): bar x combinations per second of a
 * sweep on every core, beside jobs x one backtest's bars per second on the
 * same bars in the same run (target: a ratio of at least 0.8). */
#ifndef TB_BENCH_SWEEP_H
#define TB_BENCH_SWEEP_H

#include "bench_dist.h"

/* 0, or a negative TB_E* code (then a line on stderr says why). */
int tb_bench_sweep(tb_bench_emit_fn emit, void *ctx);

#endif
