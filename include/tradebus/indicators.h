/* tradebus — streaming technical indicators, O(1) per bar.
 *
 * Conventions follow TA-Lib: SMA over the last n values; EMA with
 * k = 2/(n+1), seeded with the SMA of the first n values; RSI and ATR with
 * Wilder smoothing (alpha = 1/n) seeded by the simple average of the first n
 * gains/losses/true ranges (so RSI's first value needs n+1 closes, ATR's needs
 * n+1 bars: the first bar has no previous close); Bollinger bands from the SMA
 * and the population standard deviation; MACD = EMA(fast) - EMA(slow), its
 * signal line an EMA of MACD (seeded like EMA, starting once MACD exists),
 * hist = macd - signal; Donchian = lowest low / highest high of the last n bars.
 *
 * Indicators compute in double (they are not money). Each has
 * _init(ind, params) that allocates its window (0, TB_EINVAL for a bad
 * parameter, a period above 1 << 24 included, TB_ENOMEM), _update(...) that
 * returns 1 when the outputs are defined (warmed up) and 0 while warming up,
 * and _close() that frees it. Updating allocates nothing. */
#ifndef TRADEBUS_INDICATORS_H
#define TRADEBUS_INDICATORS_H

#include <stddef.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Rolling window of the last n doubles, with a running sum. */
typedef struct {
    double *buf;
    int n, count, head;
    double sum;
} tb_window;

typedef struct {
    tb_window w;
    double value;
} tb_sma;

typedef struct {
    int n, count;
    double k, seed_sum, value;
} tb_ema;

typedef struct {
    int n, count;
    double prev_close, avg_gain, avg_loss, value;
} tb_rsi;

typedef struct {
    tb_ema fast, slow, signal;
    double macd, signal_value, hist;
} tb_macd;

typedef struct {
    tb_window w; /* raw closes; w.sum is the sum of (close - shift) */
    double *sq;  /* ring of (close - shift)^2, same layout as w */
    double sumsq, k;
    double shift; /* a recent close: keeps the variance free of cancellation */
    double lower, middle, upper;
} tb_bbands;

typedef struct {
    int n, count;
    double prev_close, sum, value;
} tb_atr;

typedef struct {
    int n, count, head;
    double *lows, *highs; /* rings of the last n lows/highs, slot head is the oldest */
    int *minq, *maxq;     /* monotonic deques of ring slots, capacity n */
    int min_head, min_len, max_head, max_len;
    double lower, upper;
} tb_donchian;

/* n >= 1. */
TB_EXPORT int tb_sma_init(tb_sma *s, int n);
TB_EXPORT int tb_sma_update(tb_sma *s, double x);
TB_EXPORT void tb_sma_close(tb_sma *s);

/* n >= 1. No allocation; _close is provided for symmetry. */
TB_EXPORT int tb_ema_init(tb_ema *e, int n);
TB_EXPORT int tb_ema_update(tb_ema *e, double x);
TB_EXPORT void tb_ema_close(tb_ema *e);

/* n >= 1; update with closes. value in [0, 100]; 100 when there are no losses. */
TB_EXPORT int tb_rsi_init(tb_rsi *r, int n);
TB_EXPORT int tb_rsi_update(tb_rsi *r, double close);
TB_EXPORT void tb_rsi_close(tb_rsi *r);

/* 1 <= fast < slow, signal >= 1. */
TB_EXPORT int tb_macd_init(tb_macd *m, int fast, int slow, int signal);
TB_EXPORT int tb_macd_update(tb_macd *m, double close);
TB_EXPORT void tb_macd_close(tb_macd *m);

/* n >= 1, k > 0 (standard deviations). */
TB_EXPORT int tb_bbands_init(tb_bbands *b, int n, double k);
TB_EXPORT int tb_bbands_update(tb_bbands *b, double close);
TB_EXPORT void tb_bbands_close(tb_bbands *b);

/* n >= 1; update with each bar's high, low, close. */
TB_EXPORT int tb_atr_init(tb_atr *a, int n);
TB_EXPORT int tb_atr_update(tb_atr *a, double high, double low, double close);
TB_EXPORT void tb_atr_close(tb_atr *a);

/* n >= 1; the channel includes the current bar. */
TB_EXPORT int tb_donchian_init(tb_donchian *d, int n);
TB_EXPORT int tb_donchian_update(tb_donchian *d, double high, double low);
TB_EXPORT void tb_donchian_close(tb_donchian *d);

#ifdef __cplusplus
}
#endif
#endif
