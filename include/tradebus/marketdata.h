/* tradebus — market data in: streaming CSV readers and a time-ordered merge.
 *
 * Two formats, detected per file:
 *  - Binance spot kline CSV exactly as Binance publishes it: 12 columns, no
 *    header: open_time, open, high, low, close, volume, close_time,
 *    quote_volume, trades, taker_buy_base, taker_buy_quote, ignore. Times in
 *    milliseconds, or microseconds (files from 2025 on; told apart by
 *    magnitude: >= 1e14 is microseconds). A header line, if present, is skipped.
 *  - Generic CSV with the header timestamp,open,high,low,close,volume.
 *    timestamp is the bar's open time: epoch seconds, milliseconds (>= 1e11),
 *    or ISO-8601 UTC ("2024-01-01T00:00:00Z", "2024-01-01 00:00:00").
 *    The close time is the next bar's open time minus 1 ms (the reader looks
 *    one row ahead); the last bar reuses the previous interval.
 *
 * A data spec is "path" or "SYMBOL:path". Without SYMBOL the symbol is the
 * file name's prefix up to the first '-' (BTCUSDT-1m-2024-01.csv → BTCUSDT).
 *
 * Reading streams: memory is one line buffer per file, whatever the length.
 * A malformed row (bad number, high < low, open/close outside [low, high],
 * negative volume, time not increasing, wrong column count) is an error
 * "file:line: what is wrong" (TB_EDATA), unless on_bad_row = skip: then the
 * row is skipped, counted and reported through the warn callback. */
#ifndef TRADEBUS_MARKETDATA_H
#define TRADEBUS_MARKETDATA_H

#include <stddef.h>
#include <stdint.h>
#include "event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { TB_BAD_ROW_FAIL = 0, TB_BAD_ROW_SKIP = 1 } tb_bad_row_policy;

/* Called for each skipped row with its "file:line: what is wrong" message. */
typedef void (*tb_md_warn_fn)(const char *msg, void *ctx);

typedef struct {
    tb_bad_row_policy on_bad_row;
    /* 0 (default): a price or volume with more than 8 decimals is a bad
     * row naming the field and value; 1: it is rounded half up to 8. */
    int round_prices;
    /* 1: a file read whole is kept as a binary cache of its bars (beside
     * it as .NAME.tbcache, else under $XDG_CACHE_HOME/tradebus/) and the
     * next read of the unchanged file loads them from there (docs/data.md,
     * "Cache"). 0 (tb_md_config_init's): no cache is read or written. */
    int cache;
    /* 1: a large file (4 MB or more) parses in a thread of its own, a few
     * thousand bars ahead of the caller, when the machine has a second core
     * and on_bad_row = fail (skip's warnings keep the caller's thread, in
     * order). Bars, errors and digests are the same either way; a cached
     * file is not parsed and needs none. 0 (tb_md_config_init's): the
     * caller's thread reads. */
    int reader_thread;
    tb_md_warn_fn warn; /* may be NULL */
    void *warn_ctx;
} tb_md_config;

typedef struct tb_md_reader tb_md_reader; /* one file */
typedef struct tb_md_merge tb_md_merge;   /* several files, merged by time */

/* Fills cfg with defaults (fail on bad rows, no warn callback). */
TB_EXPORT void tb_md_config_init(tb_md_config *cfg);

/* Opens one data spec ("path" or "SYMBOL:path"; the symbol of a bare path
 * is its file name up to the first '-' or '.', upper-cased). On error returns TB_EIO /
 * TB_EDATA / TB_EINVAL with a message in err[errlen]. Caller closes it. */
TB_EXPORT int tb_md_reader_open(const char *spec, const tb_md_config *cfg, tb_md_reader **out,
                                char *err, size_t errlen);
/* Reads the next bar into *bar. Returns 0, TB_EEOF at the end, or TB_EDATA /
 * TB_EIO with "file:line: what is wrong" in err. */
TB_EXPORT int tb_md_reader_next(tb_md_reader *r, tb_market_data *bar, char *err, size_t errlen);
/* Rows skipped as bad so far. */
TB_EXPORT uint64_t tb_md_reader_bad_rows(const tb_md_reader *r);
/* The symbol this reader produces (borrowed). */
TB_EXPORT const char *tb_md_reader_symbol(const tb_md_reader *r);
/* Closes the file and frees the reader. NULL is a no-op. */
TB_EXPORT void tb_md_reader_close(tb_md_reader *r);

/* Opens every spec and merges them: bars come out ordered by close_time,
 * ties broken by the order the specs were given. Errors as for open. */
TB_EXPORT int tb_md_merge_open(const char *const *specs, size_t nspecs, const tb_md_config *cfg,
                               tb_md_merge **out, char *err, size_t errlen);
/* Next bar across all files; 0, TB_EEOF, or an error as for reader_next. */
TB_EXPORT int tb_md_merge_next(tb_md_merge *m, tb_market_data *bar, char *err, size_t errlen);
/* The number of files merged. */
TB_EXPORT size_t tb_md_merge_files(const tb_md_merge *m);
/* The symbol of file i (in the order of the specs; borrowed), NULL past
 * the last. */
TB_EXPORT const char *tb_md_merge_symbol(const tb_md_merge *m, size_t i);
/* What file i has given so far: *lines read and a 64-bit hash of their
 * bytes, computed while reading (the same bytes read the same way give the
 * same pair; not cryptographic). *path (borrowed) names the file. Returns
 * TB_EINVAL when i is past the last file. */
TB_EXPORT int tb_md_merge_digest(const tb_md_merge *m, size_t i, uint64_t *lines, uint64_t *hash,
                                 const char **path);
/* Bad rows skipped across all files. */
TB_EXPORT uint64_t tb_md_merge_bad_rows(const tb_md_merge *m);
/* Closes every file. NULL is a no-op. */
TB_EXPORT void tb_md_merge_close(tb_md_merge *m);

#ifdef __cplusplus
}
#endif
#endif
