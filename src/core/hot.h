/* Private (not installed): the functions every bar goes through.
 *
 * Marked hot, gcc and clang put them in .text.hot, next to one another,
 * instead of wherever their file falls in the link. Measured 2026-12-08
 * (`tradebus_bench --pipeline-only`, 2-vCPU AMD EPYC VM): a change to a
 * cold part of series.c moved the per-bar functions after it by a few
 * hundred bytes and the pipeline went from 6.9-7.1 to 6.1-6.4 M bars/s with
 * the same instructions; the same code with every function aligned to 64
 * bytes moved the other way. Kept together, their relative places no
 * longer depend on unrelated code. */
#ifndef TRADEBUS_HOT_H
#define TRADEBUS_HOT_H

#if defined(__GNUC__) || defined(__clang__)
#define TB__HOT __attribute__((hot))
#else
#define TB__HOT
#endif

#endif
