/* Market data in (issue #17 part 3): the CSV reader alone in lines/s over a
 * 2 M-row Binance kline file written by the bench (8-decimal prices, as
 * Binance publishes them), and the decimal field conversion alone, the
 * plain parser beside the reader's one-pass one, in the same run. */
#ifndef TB_BENCH_MD_H
#define TB_BENCH_MD_H

#include "bench_dist.h"

/* 0, or a negative TB_E* code (then a line on stderr says why). */
int tb_bench_md(tb_bench_emit_fn emit, void *ctx);

#endif
