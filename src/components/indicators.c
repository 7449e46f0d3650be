/* Streaming technical indicators (see indicators.h for the conventions).
 *
 * Rolling sums and drift: a running sum updated by "sum += new - old" picks up
 * a rounding error on every bar, and that error never leaves the sum: after a
 * large value has passed through the window, or after millions of bars, the
 * SMA no longer equals the mean of its window. Every time a ring wraps
 * (once per n updates) we therefore recompute its sums from the ring itself.
 * That costs O(n) once per n bars, so updates stay amortized O(1), and the
 * error is bounded by what the last 2n values can cause instead of growing
 * with the length of the run. Kahan compensation would need an extra field per
 * sum and still keeps the garbage a huge value leaves behind. */
#include "../core/hot.h"
#include "tradebus/indicators.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Far below INT_MAX so counters like n + 1 cannot overflow, and a window this
 * long (128 MiB of doubles) is already beyond any sensible indicator. */
#define IND_MAX_PERIOD (1 << 24)

static int period_ok(int n)
{
    return n >= 1 && n <= IND_MAX_PERIOD;
}

static int window_init(tb_window *w, int n)
{
    memset(w, 0, sizeof *w);
    w->buf = calloc((size_t)n, sizeof *w->buf);
    if (!w->buf) return TB_ENOMEM;
    w->n = n;
    return 0;
}

static void window_free(tb_window *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

/* ---- SMA ---------------------------------------------------------------- */

int tb_sma_init(tb_sma *s, int n)
{
    if (!s) return TB_EINVAL;
    memset(s, 0, sizeof *s);
    if (!period_ok(n)) return TB_EINVAL;
    return window_init(&s->w, n);
}

TB__HOT int tb_sma_update(tb_sma *s, double x)
{
    tb_window *w = &s->w;
    if (w->count == w->n)
        w->sum -= w->buf[w->head];
    else
        w->count++;
    w->buf[w->head] = x;
    w->sum += x;
    if (++w->head == w->n) {
        /* The ring is full whenever head wraps: resynchronise (see top). */
        double sum = 0.0;
        w->head = 0;
        for (int i = 0; i < w->n; i++)
            sum += w->buf[i];
        w->sum = sum;
    }
    if (w->count < w->n) return 0;
    s->value = w->sum / w->n;
    return 1;
}

void tb_sma_close(tb_sma *s)
{
    if (!s) return;
    window_free(&s->w);
    s->value = 0.0;
}

/* ---- EMA ---------------------------------------------------------------- */

int tb_ema_init(tb_ema *e, int n)
{
    if (!e) return TB_EINVAL;
    memset(e, 0, sizeof *e);
    if (!period_ok(n)) return TB_EINVAL;
    e->n = n;
    e->k = 2.0 / (n + 1.0);
    return 0;
}

int tb_ema_update(tb_ema *e, double x)
{
    if (e->count < e->n) {
        /* TA-Lib's default seeding: the first value is the SMA of the first n. */
        e->seed_sum += x;
        if (++e->count < e->n) return 0;
        e->value = e->seed_sum / e->n;
        return 1;
    }
    e->value += e->k * (x - e->value);
    return 1;
}

void tb_ema_close(tb_ema *e)
{
    if (e) memset(e, 0, sizeof *e);
}

/* ---- RSI ---------------------------------------------------------------- */

int tb_rsi_init(tb_rsi *r, int n)
{
    if (!r) return TB_EINVAL;
    memset(r, 0, sizeof *r);
    if (!period_ok(n)) return TB_EINVAL;
    r->n = n;
    return 0;
}

int tb_rsi_update(tb_rsi *r, double close)
{
    if (r->count == 0) {
        r->prev_close = close;
        r->count = 1;
        return 0;
    }
    double diff = close - r->prev_close;
    double gain = diff > 0.0 ? diff : 0.0;
    double loss = diff < 0.0 ? -diff : 0.0;
    r->prev_close = close;
    /* count = closes seen, saturating at n + 1 once warmed up. */
    if (r->count <= r->n) {
        /* While warming up avg_gain/avg_loss hold plain sums: Wilder's seed
         * is their simple average over the first n changes. */
        r->avg_gain += gain;
        r->avg_loss += loss;
        if (++r->count <= r->n) return 0;
        r->avg_gain /= r->n;
        r->avg_loss /= r->n;
    } else {
        r->avg_gain = (r->avg_gain * (r->n - 1) + gain) / r->n;
        r->avg_loss = (r->avg_loss * (r->n - 1) + loss) / r->n;
    }
    /* The header's rule: no losses means 100, including a flat series (TA-Lib
     * would print 0 there, which reads as "oversold" on a dead market). */
    if (r->avg_loss == 0.0)
        r->value = 100.0;
    else
        r->value = 100.0 * r->avg_gain / (r->avg_gain + r->avg_loss);
    return 1;
}

void tb_rsi_close(tb_rsi *r)
{
    if (r) memset(r, 0, sizeof *r);
}

/* ---- MACD ---------------------------------------------------------------
 *
 * Alignment, as TA-Lib's TA_MACD does it: the fast EMA is not started on the
 * first close but on close number (slow - fast), so that it is seeded by the
 * SMA of the `fast` closes ending where the slow EMA's seed window ends. Both
 * EMAs thus produce their first value on the same bar (close number slow),
 * and MACD, signal and hist match TA-Lib's output from the first value on. The
 * signal line is an EMA of MACD seeded by the SMA of the first `signal` MACD
 * values, so everything is defined from close number slow + signal - 1. */

int tb_macd_init(tb_macd *m, int fast, int slow, int signal)
{
    if (!m) return TB_EINVAL;
    memset(m, 0, sizeof *m);
    if (!period_ok(fast) || !period_ok(slow) || !period_ok(signal) || fast >= slow)
        return TB_EINVAL;
    tb_ema_init(&m->fast, fast);
    tb_ema_init(&m->slow, slow);
    tb_ema_init(&m->signal, signal);
    return 0;
}

int tb_macd_update(tb_macd *m, double close)
{
    /* slow.count (before this close) is the 0-based index of this close until
     * the slow EMA is warm, then saturates at slow.n, which keeps the fast EMA
     * fed on every later bar. */
    int fast_ok = 0;
    if (m->slow.count >= m->slow.n - m->fast.n) fast_ok = tb_ema_update(&m->fast, close);
    if (!tb_ema_update(&m->slow, close) || !fast_ok) return 0;
    m->macd = m->fast.value - m->slow.value;
    if (!tb_ema_update(&m->signal, m->macd)) return 0;
    m->signal_value = m->signal.value;
    m->hist = m->macd - m->signal_value;
    return 1;
}

void tb_macd_close(tb_macd *m)
{
    if (m) memset(m, 0, sizeof *m);
}

/* ---- Bollinger bands -----------------------------------------------------
 *
 * Population variance as TA-Lib computes it, E[x^2] - E[x]^2, cancels
 * catastrophically when the spread is tiny next to the price (a 0.01 spread
 * on a 60000 price loses most digits, and a flat market can come out with
 * bands a few ulps off the close). Variance does not change under a shift, so
 * the sums are kept over (x - shift) with shift a recent close, re-chosen at
 * every resynchronisation; a flat window then gives middle = close and a
 * zero width (exactly from its next resynchronisation on). */

static void bbands_resync(tb_bbands *b)
{
    tb_window *w = &b->w;
    double sum = 0.0, sumsq = 0.0;
    for (int i = 0; i < w->n; i++) {
        double d = w->buf[i] - b->shift;
        b->sq[i] = d * d;
        sum += d;
        sumsq += b->sq[i];
    }
    w->sum = sum;
    b->sumsq = sumsq;
}

int tb_bbands_init(tb_bbands *b, int n, double k)
{
    if (!b) return TB_EINVAL;
    memset(b, 0, sizeof *b);
    if (!period_ok(n) || !(k > 0.0) || !isfinite(k)) return TB_EINVAL;
    int rc = window_init(&b->w, n);
    if (rc) return rc;
    b->sq = calloc((size_t)n, sizeof *b->sq);
    if (!b->sq) {
        window_free(&b->w);
        return TB_ENOMEM;
    }
    b->k = k;
    return 0;
}

int tb_bbands_update(tb_bbands *b, double close)
{
    tb_window *w = &b->w;
    if (w->count == 0) b->shift = close;
    if (w->count == w->n) {
        w->sum -= w->buf[w->head] - b->shift;
        b->sumsq -= b->sq[w->head];
    } else {
        w->count++;
    }
    double d = close - b->shift;
    w->buf[w->head] = close;
    b->sq[w->head] = d * d;
    w->sum += d;
    b->sumsq += d * d;
    if (++w->head == w->n) {
        w->head = 0;
        b->shift = close;
        bbands_resync(b);
    }
    if (w->count < w->n) return 0;
    double mean_d = w->sum / w->n;
    double var = b->sumsq / w->n - mean_d * mean_d;
    double sd = var > 0.0 ? sqrt(var) : 0.0;
    b->middle = b->shift + mean_d;
    b->upper = b->middle + b->k * sd;
    b->lower = b->middle - b->k * sd;
    return 1;
}

void tb_bbands_close(tb_bbands *b)
{
    if (!b) return;
    window_free(&b->w);
    free(b->sq);
    memset(b, 0, sizeof *b);
}

/* ---- ATR ---------------------------------------------------------------- */

int tb_atr_init(tb_atr *a, int n)
{
    if (!a) return TB_EINVAL;
    memset(a, 0, sizeof *a);
    if (!period_ok(n)) return TB_EINVAL;
    a->n = n;
    return 0;
}

int tb_atr_update(tb_atr *a, double high, double low, double close)
{
    if (a->count == 0) {
        /* TA-Lib's TRANGE has no value on the first bar: there is no previous
         * close to measure a gap from. */
        a->prev_close = close;
        a->count = 1;
        return 0;
    }
    double tr = high - low;
    double up = fabs(high - a->prev_close);
    double down = fabs(low - a->prev_close);
    if (up > tr) tr = up;
    if (down > tr) tr = down;
    a->prev_close = close;
    if (a->count <= a->n) {
        a->sum += tr;
        if (++a->count <= a->n) return 0;
        a->value = a->sum / a->n;
        return 1;
    }
    a->value = (a->value * (a->n - 1) + tr) / a->n;
    return 1;
}

void tb_atr_close(tb_atr *a)
{
    if (a) memset(a, 0, sizeof *a);
}

/* ---- Donchian ------------------------------------------------------------
 *
 * Two monotonic deques of ring slots: minq holds the slots whose lows are
 * strictly increasing from front to back (any older bar with a low >= a newer
 * one can never be the minimum again), maxq likewise for highs. Each slot is
 * pushed and popped at most once, so an update is amortized O(1). The deques
 * are ordered oldest first, so the bar leaving the window, if still queued, is
 * at the front. */

int tb_donchian_init(tb_donchian *d, int n)
{
    if (!d) return TB_EINVAL;
    memset(d, 0, sizeof *d);
    if (!period_ok(n)) return TB_EINVAL;
    d->lows = calloc((size_t)n, sizeof *d->lows);
    d->highs = calloc((size_t)n, sizeof *d->highs);
    d->minq = calloc((size_t)n, sizeof *d->minq);
    d->maxq = calloc((size_t)n, sizeof *d->maxq);
    if (!d->lows || !d->highs || !d->minq || !d->maxq) {
        tb_donchian_close(d);
        return TB_ENOMEM;
    }
    d->n = n;
    return 0;
}

int tb_donchian_update(tb_donchian *d, double high, double low)
{
    int n = d->n, slot = d->head;
    if (d->count == n) {
        if (d->min_len > 0 && d->minq[d->min_head] == slot) {
            d->min_head = (d->min_head + 1) % n;
            d->min_len--;
        }
        if (d->max_len > 0 && d->maxq[d->max_head] == slot) {
            d->max_head = (d->max_head + 1) % n;
            d->max_len--;
        }
    } else {
        d->count++;
    }
    d->lows[slot] = low;
    d->highs[slot] = high;
    while (d->min_len > 0 && d->lows[d->minq[(d->min_head + d->min_len - 1) % n]] >= low)
        d->min_len--;
    d->minq[(d->min_head + d->min_len) % n] = slot;
    d->min_len++;
    while (d->max_len > 0 && d->highs[d->maxq[(d->max_head + d->max_len - 1) % n]] <= high)
        d->max_len--;
    d->maxq[(d->max_head + d->max_len) % n] = slot;
    d->max_len++;
    d->head = (slot + 1) % n;
    if (d->count < n) return 0;
    d->lower = d->lows[d->minq[d->min_head]];
    d->upper = d->highs[d->maxq[d->max_head]];
    return 1;
}

void tb_donchian_close(tb_donchian *d)
{
    if (!d) return;
    free(d->lows);
    free(d->highs);
    free(d->minq);
    free(d->maxq);
    memset(d, 0, sizeof *d);
}
