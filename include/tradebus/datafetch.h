/* tradebus — historical klines from Binance's public REST API into monthly
 * CSV files (what `tradebus data fetch` runs; docs/data.md).
 *
 * GET /api/v3/klines is paged (startTime, endTime, limit=1000) month by
 * month. Each month is written as Binance's 12-column kline CSV, exactly as
 * data.binance.vision publishes it (no header; every column the text the API
 * returned), to DIR/SYMBOL-INTERVAL-YYYY-MM.csv — the files tb_md_reader_open
 * (and `tradebus backtest`) read. A month is written under a temporary name
 * in DIR and renamed once its last page arrived: an interrupted run leaves
 * complete month files and nothing half-written.
 *
 * Months are whole: every month the range [from, to) touches is fetched
 * from its first bar to its last. A month file is COMPLETE when its last row
 * is a bar that closes at or after the month's end (so it is the month's
 * last bar: bars do not overlap) and that bar had closed when it was
 * written. A rerun keeps complete files and fetches the others: a month
 * written while it was still in progress ends early, so it is fetched
 * again. Row counts are not used: Binance's history has gaps (outages), and
 * a month with a gap is still complete once its last bar is there. Bars not
 * yet closed are never written.
 *
 * Rate limits: after each reply the X-MBX-USED-WEIGHT-1M header is read;
 * once it comes within weight_reserve of weight_limit, the fetch waits for
 * the next minute (Binance counts weight per clock minute). A 429 or 418
 * waits its Retry-After, then asks for the same page again (a wait longer
 * than max_wait_s, or a 21st in a row for one page, is an error instead).
 * HTTP 5xx, connection errors and timeouts are retried max_retries times
 * with a doubling back-off, then the fetch fails. Any other error reply
 * (an unknown symbol: -1121) fails at once with Binance's code and message.
 *
 * One fetch is blocking (a libcurl easy handle) and single-threaded; a
 * config is read only while tb_datafetch_run runs. */
#ifndef TRADEBUS_DATAFETCH_H
#define TRADEBUS_DATAFETCH_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Binance's kline intervals, for messages. */
#define TB_DATAFETCH_INTERVALS   "1s, 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d, 3d, 1w, 1M"
#define TB_DATAFETCH_DEFAULT_URL "https://api.binance.com"

/* What a progress callback is told about. */
typedef enum {
    TB_DATAFETCH_PLAN = 0,          /* the months are known: months_total, bars_expected */
    TB_DATAFETCH_MONTH_KEPT = 1,    /* file was complete: not fetched */
    TB_DATAFETCH_PAGE = 2,          /* a page arrived: month_bars, bars */
    TB_DATAFETCH_MONTH_WRITTEN = 3, /* file renamed into place */
    TB_DATAFETCH_MONTH_EMPTY = 4,   /* Binance has no bar in that month: no file */
    TB_DATAFETCH_WAIT = 5,          /* about to wait wait_ms (reason in wait_reason) */
} tb_datafetch_what;

typedef struct {
    tb_datafetch_what what;
    const char *file;        /* the month's file name (no directory); NULL for PLAN */
    int months_total;        /* months in the range */
    int months_to_fetch;     /* of those, not complete on disk */
    int months_done;         /* kept, written or empty so far */
    uint64_t month_bars;     /* bars of the current month so far */
    uint64_t bars;           /* bars fetched by this run so far */
    uint64_t bars_expected;  /* bars the months to fetch span (a gap makes it less) */
    int64_t wait_ms;         /* WAIT: how long */
    const char *wait_reason; /* WAIT: "rate limit", "Retry-After (429)", "retry 2/5: ..." */
} tb_datafetch_progress;

typedef void (*tb_datafetch_progress_fn)(const tb_datafetch_progress *p, void *ctx);

typedef struct {
    const char *base_url; /* default TB_DATAFETCH_DEFAULT_URL; http:// works too */
    const char *symbol;   /* e.g. BTCUSDT: [A-Z0-9-_.]{1,20} */
    const char *interval; /* one of TB_DATAFETCH_INTERVALS */
    int64_t from_ms;      /* first day, ms since the epoch (UTC) */
    int64_t to_ms;        /* exclusive end, ms; > from_ms */
    const char *out_dir;  /* created (one level) if missing; default "data" */
    int max_retries;      /* 5xx / connection errors per request; default 5 */
    int64_t backoff_ms;   /* first retry's wait, doubled each time (max 30 s); default 500 */
    int64_t max_wait_s;   /* longest Retry-After accepted; default 600 */
    int weight_limit;     /* request weight per minute; default 6000 (Binance's) */
    int weight_reserve;   /* wait for the next minute within this of the limit; default 600 */
    long timeout_ms;      /* one request, connection included; default 30000 */
    /* Set (by a signal handler) to stop: the month in progress is dropped,
     * tb_datafetch_run returns TB_ECANCELED within about 100 ms. May be NULL. */
    volatile sig_atomic_t *stop;
    tb_datafetch_progress_fn progress; /* may be NULL */
    void *progress_ctx;
    /* The clock (wall time, ms since the epoch: which months and bars are
     * over) and the sleep; NULL: the real ones. Injected by tests. */
    int64_t (*now_ms)(void *ctx);
    void (*sleep_ms)(int64_t ms, void *ctx);
    void *clock_ctx;
} tb_datafetch_config;

typedef struct {
    int months_total;   /* months in the range */
    int months_kept;    /* complete on disk, not fetched */
    int months_written; /* fetched and written */
    int months_empty;   /* no bar on Binance: no file */
    uint64_t bars;      /* bars written by this run */
    uint64_t requests;  /* kline requests sent, retries included */
    uint64_t retries;   /* requests repeated after a 5xx or a connection error */
    int64_t waited_ms;  /* time spent waiting (rate limits, Retry-After, back-off) */
} tb_datafetch_stats;

/* Fills cfg with the defaults above (symbol, interval and range unset). */
TB_EXPORT void tb_datafetch_config_init(tb_datafetch_config *cfg);

/* Parses a UTC date "YYYY-MM-DD" (a real day, year 1970-9999) into ms since
 * the epoch at 00:00. 0, or TB_EINVAL. */
TB_EXPORT int tb_datafetch_parse_date(const char *s, int64_t *ms);

/* 1 if interval is one of Binance's (TB_DATAFETCH_INTERVALS), else 0. */
TB_EXPORT int tb_datafetch_interval_valid(const char *interval);

/* 1 if symbol looks like a Binance spot symbol ([A-Z0-9-_.]{1,20}), else 0.
 * Whether Binance lists it is known only when asked (-1121). */
TB_EXPORT int tb_datafetch_symbol_valid(const char *symbol);

/* The month file's name, "BTCUSDT-1m-2024-01.csv", for the month that
 * month_ms falls in, into buf. 0, or TB_EFULL if buf is too small. */
TB_EXPORT int tb_datafetch_month_file(const char *symbol, const char *interval, int64_t month_ms,
                                      char *buf, size_t buflen);

/* Fetches every month [cfg->from_ms, cfg->to_ms) touches that is not
 * complete in cfg->out_dir (see above); months that have not begun yet are
 * left out. Returns 0 (stats filled, if not NULL), or: TB_EINVAL (a bad
 * config, or Binance refused the request: the symbol, the interval),
 * TB_EIO (the directory or a file cannot be written; a month left
 * unwritten), TB_ECONN / TB_ETIMEOUT (retries exhausted), TB_EDATA (a reply
 * that is not kline rows), TB_EREJECTED (a Retry-After longer than
 * max_wait_s, an IP ban), TB_ECANCELED (*cfg->stop), TB_ENOMEM — each with
 * a message in err[errlen] saying what failed and what to do. Months
 * written before an error stay; stats counts them. */
TB_EXPORT int tb_datafetch_run(const tb_datafetch_config *cfg, tb_datafetch_stats *stats, char *err,
                               size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
