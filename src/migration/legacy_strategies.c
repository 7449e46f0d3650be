/* The monolith's own strategies, written the way the old system wrote them:
 * a plain state struct, arrays of the last closes, everything recomputed
 * inline on every bar, and the position the strategy believes it holds kept
 * in its own state (the tb_legacy_view at its head, see legacy.h).
 *
 * They follow the same documented rules as the pipeline's built-ins (README,
 * "Built-in strategies"): the same params, defaults, validation messages and
 * decisions. The arithmetic is their own, so agreement with the pipeline
 * means something, but it is chosen so that floating point cannot make the
 * two disagree:
 *
 *  - SMA and Bollinger work on exact integer sums of the closes (tb_decimal
 *    units, 128 bits), so "equal in exact arithmetic" is exactly equal here.
 *    Comparisons then use the documented tie rule: values within
 *    16 * n * DBL_EPSILON of each other, relative to the larger, are equal
 *    (n the longest window). The pipeline reaches the same verdicts from its
 *    rolling doubles, since its error is far below that tolerance; only a
 *    difference lying within a few ulps of the tolerance itself could be
 *    read differently, which needs prices finer than any market quotes.
 *  - RSI is Wilder's recursion, a chain of roundings that exact arithmetic
 *    cannot shortcut, and its thresholds are compared without a tolerance.
 *    It is computed with the textbook operations in the textbook order
 *    (changes of the double closes, sums over the first n changes divided by
 *    n, then avg = (avg * (n - 1) + x) / n, RSI = 100 * gain / (gain + loss),
 *    100 with no losses), the order the pipeline's indicator uses too, so
 *    both produce the same doubles bit for bit.
 *  - legacy_breakout compares decimals only. */
#include "../core/errbuf.h"
#include "tradebus/legacy.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The bound the pipeline's built-ins put on periods. */
#define MAX_PERIOD 100000L

/* The documented tie tolerance for windows up to n long. */
static double tie_tolerance(long n)
{
    return 16.0 * (double)n * DBL_EPSILON;
}

/* Sign of diff = a - b, 0 when |diff| <= rel * scale (scale = max(|a|, |b|)). */
static int sign_or_tie(double diff, double scale, double rel)
{
    if (fabs(diff) <= rel * scale) return 0;
    return diff > 0.0 ? 1 : -1;
}

static double units_to_price(__int128 units)
{
    return (double)units / 1e8;
}

/* The trade that takes pos to target (allow_short strategies). */
static int trade_to(tb_decimal pos, tb_decimal target, tb_decimal *trade)
{
    return tb_dec_sub(target, pos, trade);
}

/* The old habit: the strategy books its own trade into its view. The host
 * overwrites the view before the next bar anyway (legacy.h). */
static int book(tb_legacy_view *v, tb_decimal trade)
{
    return tb_dec_add(v->position, trade, &v->position);
}

typedef struct {
    tb_decimal quantity;
    int allow_short;
} common_params;

static int parse_common(const tb_param *p, size_t n, common_params *c, char *err, size_t errlen)
{
    int rc = tb_param_decimal(p, n, "quantity", TB_DECIMAL_ONE, &c->quantity, err, errlen);
    if (rc) return rc;
    if (c->quantity <= 0) {
        tb__errf(err, errlen, "quantity: must be greater than 0");
        return TB_ECONFIG;
    }
    return tb_param_bool(p, n, "allow_short", 0, &c->allow_short, err, errlen);
}

/* A ring of the last `n` closes (or highs/lows), as plain arrays. */
static tb_decimal *alloc_ring(long n, char *err, size_t errlen)
{
    tb_decimal *ring = calloc((size_t)n, sizeof(*ring));
    if (!ring) tb__errf(err, errlen, "out of memory");
    return ring;
}

/* Sum of the last k values of a ring holding `seen` values (k <= n, k <= seen). */
static __int128 sum_last(const tb_decimal *ring, long n, long seen, long k)
{
    __int128 sum = 0;
    for (long i = 0; i < k; i++)
        sum += ring[(seen - 1 - i) % n];
    return sum;
}

/* ---- sma_cross ---------------------------------------------------------- */

typedef struct {
    tb_legacy_view view; /* first: see legacy.h */
    long fast, slow;
    tb_decimal *closes; /* the last `slow` closes */
    long seen;
    int prev; /* side of fast vs slow on the previous bar; 2 = not both defined yet */
    double tol;
    common_params c;
} sma_state;

static int sma_init(void *state, const tb_param *p, size_t n, char *err, size_t errlen)
{
    static const char *const known[] = {"fast", "slow", "quantity", "allow_short", NULL};
    sma_state *s = state;
    int rc = tb_param_check_known(p, n, known, err, errlen);
    if (!rc) rc = tb_param_int(p, n, "fast", 10, 1, MAX_PERIOD, &s->fast, err, errlen);
    if (!rc) rc = tb_param_int(p, n, "slow", 30, 1, MAX_PERIOD, &s->slow, err, errlen);
    if (!rc && s->fast >= s->slow) {
        tb__errf(err, errlen, "fast: must be less than slow");
        rc = TB_ECONFIG;
    }
    if (!rc) rc = parse_common(p, n, &s->c, err, errlen);
    if (rc) return rc;
    if (!(s->closes = alloc_ring(s->slow, err, errlen))) return TB_ENOMEM;
    s->prev = 2;
    s->tol = tie_tolerance(s->slow);
    return 0;
}

static int sma_on_bar(void *state, const tb_market_data *bar, tb_decimal *trade)
{
    sma_state *s = state;
    *trade = 0;
    s->closes[s->seen % s->slow] = bar->close;
    s->seen++;
    if (s->seen < s->slow) return 0;

    /* fast - slow = (Σfast·slow − Σslow·fast) / (fast·slow), exactly. */
    __int128 fsum = sum_last(s->closes, s->slow, s->seen, s->fast);
    __int128 ssum = sum_last(s->closes, s->slow, s->seen, s->slow);
    __int128 num = fsum * s->slow - ssum * s->fast;
    double fast_avg = units_to_price(fsum) / (double)s->fast;
    double slow_avg = units_to_price(ssum) / (double)s->slow;
    double diff = units_to_price(num) / ((double)s->fast * (double)s->slow);
    int rel = sign_or_tie(diff, fmax(fabs(fast_avg), fabs(slow_avg)), s->tol);
    int prev = s->prev;
    s->prev = rel;
    if (prev == 2) return 0; /* a cross needs both averages on the previous bar */

    int up = prev <= 0 && rel > 0, down = prev >= 0 && rel < 0;
    tb_decimal pos = s->view.position;
    int rc = 0;
    if (s->c.allow_short) {
        if (up) rc = trade_to(pos, s->c.quantity, trade);
        if (down) rc = trade_to(pos, -s->c.quantity, trade);
    } else {
        if (up && pos == 0) *trade = s->c.quantity;
        if (down && pos > 0) *trade = -pos;
    }
    return rc ? rc : book(&s->view, *trade);
}

static void sma_cleanup(void *state)
{
    sma_state *s = state;
    free(s->closes);
    s->closes = NULL;
}

/* ---- rsi_reversion ------------------------------------------------------ */

typedef struct {
    tb_legacy_view view;
    long period;
    double oversold, overbought;
    long changes; /* price changes seen */
    double prev_close, gain, loss;
    common_params c;
} rsi_state;

static int rsi_init(void *state, const tb_param *p, size_t n, char *err, size_t errlen)
{
    static const char *const known[] = {"period",   "oversold",    "overbought",
                                        "quantity", "allow_short", NULL};
    rsi_state *s = state;
    int rc = tb_param_check_known(p, n, known, err, errlen);
    if (!rc) rc = tb_param_int(p, n, "period", 14, 2, MAX_PERIOD, &s->period, err, errlen);
    if (!rc) rc = tb_param_double(p, n, "oversold", 30.0, 0.0, 100.0, &s->oversold, err, errlen);
    if (!rc)
        rc = tb_param_double(p, n, "overbought", 70.0, 0.0, 100.0, &s->overbought, err, errlen);
    if (!rc && s->oversold >= s->overbought) {
        tb__errf(err, errlen, "oversold: must be less than overbought");
        rc = TB_ECONFIG;
    }
    if (!rc) rc = parse_common(p, n, &s->c, err, errlen);
    s->changes = -1; /* no close yet */
    return rc;
}

static int rsi_on_bar(void *state, const tb_market_data *bar, tb_decimal *trade)
{
    rsi_state *s = state;
    double close = tb_dec_to_double(bar->close);
    *trade = 0;
    if (s->changes < 0) {
        s->prev_close = close;
        s->changes = 0;
        return 0;
    }
    double change = close - s->prev_close;
    double up = change > 0.0 ? change : 0.0, down = change < 0.0 ? -change : 0.0;
    s->prev_close = close;
    double n = (double)s->period;
    if (s->changes < s->period) {
        /* Wilder's seed: the plain average of the first `period` changes. */
        s->gain += up;
        s->loss += down;
        if (++s->changes < s->period) return 0;
        s->gain /= n;
        s->loss /= n;
    } else {
        s->gain = (s->gain * (n - 1) + up) / n;
        s->loss = (s->loss * (n - 1) + down) / n;
    }
    double rsi = s->loss == 0.0 ? 100.0 : 100.0 * s->gain / (s->gain + s->loss);

    tb_decimal pos = s->view.position;
    int rc = 0;
    if (s->c.allow_short) {
        if (rsi < s->oversold)
            rc = trade_to(pos, s->c.quantity, trade);
        else if (rsi > s->overbought)
            rc = trade_to(pos, -s->c.quantity, trade);
    } else {
        if (rsi < s->oversold && pos == 0) *trade = s->c.quantity;
        if (rsi > s->overbought && pos > 0) *trade = -pos;
    }
    return rc ? rc : book(&s->view, *trade);
}

/* ---- bollinger_breakout ------------------------------------------------- */

typedef struct {
    tb_legacy_view view;
    long period;
    double k;
    tb_decimal *closes;
    long seen;
    double tol;
    common_params c;
} bb_state;

static int bb_init(void *state, const tb_param *p, size_t n, char *err, size_t errlen)
{
    static const char *const known[] = {"period", "k", "quantity", "allow_short", NULL};
    bb_state *s = state;
    int rc = tb_param_check_known(p, n, known, err, errlen);
    if (!rc) rc = tb_param_int(p, n, "period", 20, 2, MAX_PERIOD, &s->period, err, errlen);
    if (!rc) rc = tb_param_double(p, n, "k", 2.0, 0.0, 100.0, &s->k, err, errlen);
    if (!rc && !(s->k > 0.0)) {
        tb__errf(err, errlen, "k: must be greater than 0");
        rc = TB_ECONFIG;
    }
    if (!rc) rc = parse_common(p, n, &s->c, err, errlen);
    if (rc) return rc;
    if (!(s->closes = alloc_ring(s->period, err, errlen))) return TB_ENOMEM;
    s->tol = tie_tolerance(s->period);
    return 0;
}

static int bb_on_bar(void *state, const tb_market_data *bar, tb_decimal *trade)
{
    bb_state *s = state;
    long n = s->period;
    *trade = 0;
    s->closes[s->seen % n] = bar->close;
    s->seen++;
    if (s->seen < n) return 0;

    /* Deviations scaled by n are exact integers (n·x − Σx), so a flat window
     * has exactly zero width; only their squares go through double. The
     * population variance is Σ(n·x − Σx)² / n³. */
    __int128 sum = sum_last(s->closes, n, s->seen, n);
    double sq = 0.0;
    for (long i = 0; i < n; i++) {
        double dev = (double)((__int128)s->closes[i] * n - sum);
        sq += dev * dev;
    }
    double dn = (double)n;
    double sd = sqrt(sq / (dn * dn * dn)) / 1e8;
    double close = tb_dec_to_double(bar->close);
    double middle = units_to_price(sum) / dn;
    double above_middle = units_to_price((__int128)bar->close * n - sum) / dn; /* exact part */
    double band = s->k * sd, upper = middle + band, lower = middle - band;
    int vs_upper = sign_or_tie(above_middle - band, fmax(fabs(close), fabs(upper)), s->tol);
    int vs_lower = sign_or_tie(above_middle + band, fmax(fabs(close), fabs(lower)), s->tol);
    int vs_middle = sign_or_tie(above_middle, fmax(fabs(close), fabs(middle)), s->tol);

    tb_decimal pos = s->view.position;
    if (pos == 0) {
        if (vs_upper > 0)
            *trade = s->c.quantity;
        else if (s->c.allow_short && vs_lower < 0)
            *trade = -s->c.quantity;
    } else if (pos > 0) {
        if (vs_middle < 0) *trade = -pos;
    } else if (s->c.allow_short) {
        if (vs_middle > 0) *trade = -pos;
    }
    return book(&s->view, *trade);
}

static void bb_cleanup(void *state)
{
    bb_state *s = state;
    free(s->closes);
    s->closes = NULL;
}

/* ---- legacy_breakout: the example written against the legacy interface ---
 *
 * A Donchian channel breakout, long only: a close above the highest high of
 * the previous `period` bars while flat buys `quantity`; a close below the
 * lowest low of the previous `period` bars while long sells the long. The
 * channel excludes the current bar (a close can never exceed its own bar's
 * high), and nothing is decided before `period` earlier bars exist. */

typedef struct {
    tb_legacy_view view;
    long period;
    tb_decimal quantity;
    tb_decimal *highs, *lows; /* the previous `period` bars */
    long seen;
} breakout_state;

static int breakout_init(void *state, const tb_param *p, size_t n, char *err, size_t errlen)
{
    static const char *const known[] = {"period", "quantity", NULL};
    breakout_state *s = state;
    int rc = tb_param_check_known(p, n, known, err, errlen);
    if (!rc) rc = tb_param_int(p, n, "period", 20, 1, MAX_PERIOD, &s->period, err, errlen);
    if (!rc) rc = tb_param_decimal(p, n, "quantity", TB_DECIMAL_ONE, &s->quantity, err, errlen);
    if (!rc && s->quantity <= 0) {
        tb__errf(err, errlen, "quantity: must be greater than 0");
        rc = TB_ECONFIG;
    }
    if (rc) return rc;
    s->highs = alloc_ring(s->period, err, errlen);
    s->lows = s->highs ? alloc_ring(s->period, err, errlen) : NULL;
    if (!s->lows) {
        free(s->highs);
        s->highs = NULL;
        return TB_ENOMEM;
    }
    return 0;
}

static int breakout_on_bar(void *state, const tb_market_data *bar, tb_decimal *trade)
{
    breakout_state *s = state;
    *trade = 0;
    if (s->seen >= s->period) {
        tb_decimal hh = s->highs[0], ll = s->lows[0];
        for (long i = 1; i < s->period; i++) {
            if (s->highs[i] > hh) hh = s->highs[i];
            if (s->lows[i] < ll) ll = s->lows[i];
        }
        tb_decimal pos = s->view.position;
        if (pos == 0 && bar->close > hh) *trade = s->quantity;
        if (pos > 0 && bar->close < ll) *trade = -pos;
    }
    s->highs[s->seen % s->period] = bar->high;
    s->lows[s->seen % s->period] = bar->low;
    s->seen++;
    return book(&s->view, *trade);
}

static void breakout_cleanup(void *state)
{
    breakout_state *s = state;
    free(s->highs);
    free(s->lows);
    s->highs = s->lows = NULL;
}

/* ---- registry ----------------------------------------------------------- */

static const tb_legacy_strategy legacy_sma_cross = {
    "sma_cross",
    "sma_cross: fast=10 slow=30 quantity=1 allow_short=false; buy when SMA(fast) of the close "
    "crosses above SMA(slow), sell when it crosses below",
    sizeof(sma_state),
    sma_init,
    sma_on_bar,
    sma_cleanup,
};

static const tb_legacy_strategy legacy_rsi_reversion = {
    "rsi_reversion",
    "rsi_reversion: period=14 oversold=30 overbought=70 quantity=1 allow_short=false; buy when "
    "RSI(period) < oversold, sell when it is > overbought",
    sizeof(rsi_state),
    rsi_init,
    rsi_on_bar,
    NULL,
};

static const tb_legacy_strategy legacy_bollinger_breakout = {
    "bollinger_breakout",
    "bollinger_breakout: period=20 k=2 quantity=1 allow_short=false; buy a close above the upper "
    "band, exit below the middle (short: a close below the lower band, exit above the middle)",
    sizeof(bb_state),
    bb_init,
    bb_on_bar,
    bb_cleanup,
};

static const tb_legacy_strategy legacy_breakout = {
    "legacy_breakout",
    "legacy_breakout: period=20 quantity=1; buy a close above the highest high of the previous "
    "period bars while flat, sell the long on a close below their lowest low",
    sizeof(breakout_state),
    breakout_init,
    breakout_on_bar,
    breakout_cleanup,
};

static const tb_legacy_strategy *const builtins[] = {
    &legacy_sma_cross,
    &legacy_rsi_reversion,
    &legacy_bollinger_breakout,
    &legacy_breakout,
};

const tb_legacy_strategy *tb_legacy_builtin(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        if (strcmp(builtins[i]->name, name) == 0) return builtins[i];
    return NULL;
}

const tb_legacy_strategy *tb_legacy_builtin_at(size_t i)
{
    return i < sizeof builtins / sizeof builtins[0] ? builtins[i] : NULL;
}
