/* tradebus — resampling bars into higher timeframes (15m, 1h, 1d, ...).
 *
 * A resampler takes the bars of one or more symbols, each symbol's bars in
 * time order (any base interval: 1m, 5m, ...), and builds bars of one or
 * more higher timeframes at once. Periods are aligned to UTC: a 15m bar
 * covers [00:00, 00:15), a 1d bar [00:00, 24:00) UTC. A built bar has
 * open = its first base bar's open, close = its last base bar's close,
 * high = max, low = min, volume = the exact sum (overflow is an error),
 * open_time = the period's start, close_time = start + length - 1 ms (the
 * Binance convention, also when base bars are missing at the end).
 *
 * When a bar is delivered: when it closes, never earlier. Either the base
 * bar that ends its period arrives (its close_time is the period's
 * close_time), or — the data has a gap — the first base bar of a later
 * period arrives. A period the data starts inside of, or with holes, gives
 * a bar of the base bars there are.
 *
 * The partial period at the end of the data is dropped, never delivered:
 * its period is not over, so its high, low, close and volume are not the
 * bar's, and a trader must never see a bar that may still change. There is
 * deliberately no flush.
 *
 * Memory is allocated once, at create; pushing a bar allocates nothing. */
#ifndef TRADEBUS_RESAMPLE_H
#define TRADEBUS_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>
#include "event.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The timeframes tradebus knows, for messages and help. */
#define TB_TIMEFRAME_NAMES "1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d"
/* Most timeframes one resampler builds at once. */
#define TB_RESAMPLE_MAX_TIMEFRAMES 12
/* Room tb_resampler_push needs in its output for n timeframes: per
 * timeframe, one bar a gap closes and one the pushed bar closes. */
#define TB_RESAMPLE_MAX_OUT(n) (2 * (size_t)(n))

typedef struct tb_resampler tb_resampler;

typedef struct {
    size_t timeframe; /* index into the timeframes given to create */
    tb_market_data bar;
} tb_resampled;

/* Parses a timeframe name ("15m", "1h", "1d"; one of TB_TIMEFRAME_NAMES)
 * into its length in ns. TB_EINVAL with a message naming it and the allowed
 * values otherwise. */
TB_EXPORT int tb_timeframe_parse(const char *name, int64_t *len_ns, char *err, size_t errlen);
/* The name of a timeframe length ("15m"), or NULL if it is none of
 * TB_TIMEFRAME_NAMES. Static string. */
TB_EXPORT const char *tb_timeframe_name(int64_t len_ns);

/* Creates a resampler building the ntf (1..TB_RESAMPLE_MAX_TIMEFRAMES)
 * timeframes tf_ns (lengths from tb_timeframe_parse; copied) for up to
 * max_symbols (>= 1) symbols. Returns TB_EINVAL (bad arguments, message in
 * err) or TB_ENOMEM. Caller destroys *out. */
TB_EXPORT int tb_resampler_create(const int64_t *tf_ns, size_t ntf, size_t max_symbols,
                                  tb_resampler **out, char *err, size_t errlen);
/* Feeds one base bar (borrowed). Bars it closes are written to out (room
 * for cap >= TB_RESAMPLE_MAX_OUT(ntf)), ordered by close_time, ties in the
 * order of the timeframes; *nout is their count. Errors (nothing is changed):
 * TB_EINVAL — a timeframe is shorter than the symbol's bars, or not a
 * multiple of them, or cap is too small; TB_EDATA — the bar is not after the
 * symbol's previous one, or straddles a period boundary (misaligned);
 * TB_EOVERFLOW — a volume sum is out of range; TB_EFULL — more symbols than
 * max_symbols. The message in err names the bar and the fix. */
TB_EXPORT int tb_resampler_push(tb_resampler *r, const tb_market_data *bar, tb_resampled *out,
                                size_t cap, size_t *nout, char *err, size_t errlen);
/* Frees the resampler; the partial periods it holds are dropped (see above).
 * NULL is a no-op. */
TB_EXPORT void tb_resampler_destroy(tb_resampler *r);

#ifdef __cplusplus
}
#endif
#endif
