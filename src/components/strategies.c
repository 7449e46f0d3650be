/* The built-in strategies and their registry.
 *
 * Every strategy follows the same position rule. Long-only, it enters with
 * `quantity` from flat and exits the whole long. With allow_short it aims at a
 * target of +quantity or -quantity and asks for the difference from where it
 * is, so a flip from long to short is one SELL of 2 x quantity.
 *
 * Ties and rounding: indicator values come from double arithmetic, so two
 * quantities that are equal in exact arithmetic (a fast and a slow SMA once
 * the market has gone flat, a close and a zero-width band) can differ by a few
 * ulps, and which one comes out larger depends on rounding history. Compared
 * naively, that is a trade on a market that did not move: a downtrend that
 * stops dead produces a "cross up" once both windows are flat. Values within
 * a few rounding errors of each other therefore compare equal. The tolerance
 * is 16 * n * DBL_EPSILON relative, n the longest window: between two
 * resynchronisations (see indicators.c) an SMA's error is a small multiple of
 * n * DBL_EPSILON times the largest recent price; a 99% crash followed by a
 * flat market stays under 2 n eps, a 500x one under 10. At a price of 60000
 * with n = 30 the tolerance is 6e-9, under one price step (1e-8): only
 * differences too small to matter to anybody are read as ties. */
#include "../core/hot.h"
#include "../core/errbuf.h"
#include "tradebus/indicators.h"
#include "tradebus/lua_legacy.h"
#include "tradebus/lua_strategy.h"
#include "tradebus/strategy.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PERIOD 100000L

static double tolerance_for(long n)
{
    return 16.0 * (double)n * DBL_EPSILON;
}

/* -1, 0 or 1 as a <, ==, > b, with values within rel * max(|a|, |b|) equal. */
static int compare(double a, double b, double rel)
{
    /* Not fmax: a libm call on every bar of every strategy (the result is
     * the same, NaN included: a NaN diff compares as -1 either way). */
    double fa = fabs(a), fb = fabs(b), scale = fa > fb ? fa : fb;
    double diff = a - b;
    if (fabs(diff) <= rel * scale) return 0;
    return diff > 0.0 ? 1 : -1;
}

static void hold(tb_strategy_decision *out)
{
    out->signal = TB_SIGNAL_HOLD;
    out->volume = 0;
}

static void trade(tb_strategy_decision *out, tb_signal_type signal, tb_decimal volume)
{
    out->signal = signal;
    out->volume = volume;
}

/* BUY/SELL whatever takes position to target, or HOLD if it is there. */
static int move_to(tb_decimal position, tb_decimal target, tb_strategy_decision *out)
{
    tb_decimal diff;
    int rc = tb_dec_sub(target, position, &diff);
    if (rc) return rc;
    if (diff > 0)
        trade(out, TB_SIGNAL_BUY, diff);
    else if (diff < 0)
        trade(out, TB_SIGNAL_SELL, -diff);
    else
        hold(out);
    return 0;
}

/* The params every built-in shares. */
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

/* The size of an entry: the generator's when it sizes, else the strategy's. */
static tb_decimal entry_qty(const tb_strategy_ctx *ctx, const common_params *c)
{
    return ctx->sized ? ctx->quantity : c->quantity;
}

/* An entry that sizing made too small to trade: a BUY or SELL of 0, which
 * the generator counts (size_too_small) and sends nowhere. */
static void too_small(tb_strategy_decision *out, tb_signal_type side)
{
    out->signal = side;
    out->volume = 0;
}

/* Toward a position of dir × the entry size (dir ±1): flat → enter, the
 * other side → flip. A sized entry too small to trade still closes what
 * is open the other way. */
static int aim(tb_decimal pos, int dir, const tb_strategy_ctx *ctx, const common_params *c,
               tb_strategy_decision *out)
{
    tb_decimal q = entry_qty(ctx, c);
    if (q == 0 && pos == 0) {
        too_small(out, dir > 0 ? TB_SIGNAL_BUY : TB_SIGNAL_SELL);
        return 0;
    }
    return move_to(pos, dir > 0 ? q : -q, out);
}

static int on_bar_args_ok(const void *state, const tb_market_data *bar, const tb_strategy_ctx *ctx,
                          const tb_strategy_decision *out)
{
    return state && bar && ctx && out;
}

/* ---- sma_cross ---------------------------------------------------------- */

typedef struct {
    tb_sma fast, slow;
    int prev_rel; /* compare(fast, slow) on the previous bar; 2 = undefined */
    double tol;
    common_params c;
} sma_cross;

static void sma_cross_destroy(void *state)
{
    sma_cross *s = state;
    if (!s) return;
    tb_sma_close(&s->fast);
    tb_sma_close(&s->slow);
    free(s);
}

static int sma_cross_create(const tb_strategy_vtable *self, const tb_param *p, size_t n,
                            void **state, char *err, size_t errlen)
{
    (void)self;
    static const char *const known[] = {"fast", "slow", "quantity", "allow_short", NULL};
    long fast, slow;
    common_params c;
    int rc = tb_param_check_known(p, n, known, err, errlen);
    if (!rc) rc = tb_param_int(p, n, "fast", 10, 1, MAX_PERIOD, &fast, err, errlen);
    if (!rc) rc = tb_param_int(p, n, "slow", 30, 1, MAX_PERIOD, &slow, err, errlen);
    if (!rc && fast >= slow) {
        tb__errf(err, errlen, "fast: must be less than slow");
        rc = TB_ECONFIG;
    }
    if (!rc) rc = parse_common(p, n, &c, err, errlen);
    if (rc) return rc;
    sma_cross *s = calloc(1, sizeof *s);
    if (!s || tb_sma_init(&s->fast, (int)fast) != 0 || tb_sma_init(&s->slow, (int)slow) != 0) {
        sma_cross_destroy(s);
        tb__errf(err, errlen, "out of memory");
        return TB_ENOMEM;
    }
    s->prev_rel = 2;
    s->tol = tolerance_for(slow);
    s->c = c;
    *state = s;
    return 0;
}

TB__HOT static int sma_cross_on_bar(void *state, const tb_market_data *bar,
                                    const tb_strategy_ctx *ctx, tb_strategy_decision *out)
{
    if (!on_bar_args_ok(state, bar, ctx, out)) return TB_EINVAL;
    sma_cross *s = state;
    double close = tb_dec_to_double(bar->close);
    hold(out);
    int fast_ok = tb_sma_update(&s->fast, close);
    if (!tb_sma_update(&s->slow, close) || !fast_ok) return 0;
    int rel = compare(s->fast.value, s->slow.value, s->tol);
    int prev = s->prev_rel;
    s->prev_rel = rel;
    if (prev == 2) return 0; /* a cross needs both SMAs on the previous bar too */
    int up = prev <= 0 && rel > 0;
    int down = prev >= 0 && rel < 0;
    tb_decimal pos = ctx->position;
    if (s->c.allow_short) {
        if (up) return aim(pos, 1, ctx, &s->c, out);
        if (down) return aim(pos, -1, ctx, &s->c, out);
        return 0;
    }
    if (up && pos == 0) trade(out, TB_SIGNAL_BUY, entry_qty(ctx, &s->c));
    if (down && pos > 0) trade(out, TB_SIGNAL_SELL, pos);
    return 0;
}

static const tb_strategy_vtable sma_cross_vtable = {
    "sma_cross",
    "sma_cross: fast=10 slow=30 quantity=1 allow_short=false; buy when SMA(fast) of the close "
    "crosses above SMA(slow), sell when it crosses below",
    sma_cross_create,
    sma_cross_on_bar,
    sma_cross_destroy,
    NULL,
};

/* ---- rsi_reversion ------------------------------------------------------ */

typedef struct {
    tb_rsi rsi;
    double oversold, overbought;
    common_params c;
} rsi_reversion;

static void rsi_reversion_destroy(void *state)
{
    rsi_reversion *s = state;
    if (!s) return;
    tb_rsi_close(&s->rsi);
    free(s);
}

static int rsi_reversion_create(const tb_strategy_vtable *self, const tb_param *p, size_t n,
                                void **state, char *err, size_t errlen)
{
    (void)self;
    static const char *const known[] = {"period",   "oversold",    "overbought",
                                        "quantity", "allow_short", NULL};
    long period;
    double oversold, overbought;
    common_params c;
    int rc = tb_param_check_known(p, n, known, err, errlen);
    if (!rc) rc = tb_param_int(p, n, "period", 14, 2, MAX_PERIOD, &period, err, errlen);
    if (!rc) rc = tb_param_double(p, n, "oversold", 30.0, 0.0, 100.0, &oversold, err, errlen);
    if (!rc) rc = tb_param_double(p, n, "overbought", 70.0, 0.0, 100.0, &overbought, err, errlen);
    if (!rc && oversold >= overbought) {
        tb__errf(err, errlen, "oversold: must be less than overbought");
        rc = TB_ECONFIG;
    }
    if (!rc) rc = parse_common(p, n, &c, err, errlen);
    if (rc) return rc;
    rsi_reversion *s = calloc(1, sizeof *s);
    if (!s) {
        tb__errf(err, errlen, "out of memory");
        return TB_ENOMEM;
    }
    tb_rsi_init(&s->rsi, (int)period);
    s->oversold = oversold;
    s->overbought = overbought;
    s->c = c;
    *state = s;
    return 0;
}

static int rsi_reversion_on_bar(void *state, const tb_market_data *bar, const tb_strategy_ctx *ctx,
                                tb_strategy_decision *out)
{
    if (!on_bar_args_ok(state, bar, ctx, out)) return TB_EINVAL;
    rsi_reversion *s = state;
    hold(out);
    if (!tb_rsi_update(&s->rsi, tb_dec_to_double(bar->close))) return 0;
    double rsi = s->rsi.value;
    tb_decimal pos = ctx->position;
    if (s->c.allow_short) {
        if (rsi < s->oversold) return aim(pos, 1, ctx, &s->c, out);
        if (rsi > s->overbought) return aim(pos, -1, ctx, &s->c, out);
        return 0;
    }
    if (rsi < s->oversold && pos == 0) trade(out, TB_SIGNAL_BUY, entry_qty(ctx, &s->c));
    if (rsi > s->overbought && pos > 0) trade(out, TB_SIGNAL_SELL, pos);
    return 0;
}

static const tb_strategy_vtable rsi_reversion_vtable = {
    "rsi_reversion",
    "rsi_reversion: period=14 oversold=30 overbought=70 quantity=1 allow_short=false; buy when "
    "RSI(period) < oversold, sell when it is > overbought",
    rsi_reversion_create,
    rsi_reversion_on_bar,
    rsi_reversion_destroy,
    NULL,
};

/* ---- bollinger_breakout ------------------------------------------------- */

typedef struct {
    tb_bbands bb;
    double tol;
    common_params c;
} bollinger_breakout;

static void bollinger_breakout_destroy(void *state)
{
    bollinger_breakout *s = state;
    if (!s) return;
    tb_bbands_close(&s->bb);
    free(s);
}

static int bollinger_breakout_create(const tb_strategy_vtable *self, const tb_param *p, size_t n,
                                     void **state, char *err, size_t errlen)
{
    (void)self;
    static const char *const known[] = {"period", "k", "quantity", "allow_short", NULL};
    long period;
    double k;
    common_params c;
    int rc = tb_param_check_known(p, n, known, err, errlen);
    /* A band over one close has no width: at least two. */
    if (!rc) rc = tb_param_int(p, n, "period", 20, 2, MAX_PERIOD, &period, err, errlen);
    if (!rc) rc = tb_param_double(p, n, "k", 2.0, 0.0, 100.0, &k, err, errlen);
    if (!rc && !(k > 0.0)) {
        tb__errf(err, errlen, "k: must be greater than 0");
        rc = TB_ECONFIG;
    }
    if (!rc) rc = parse_common(p, n, &c, err, errlen);
    if (rc) return rc;
    bollinger_breakout *s = calloc(1, sizeof *s);
    if (!s || tb_bbands_init(&s->bb, (int)period, k) != 0) {
        bollinger_breakout_destroy(s);
        tb__errf(err, errlen, "out of memory");
        return TB_ENOMEM;
    }
    s->tol = tolerance_for(period);
    s->c = c;
    *state = s;
    return 0;
}

static int bollinger_breakout_on_bar(void *state, const tb_market_data *bar,
                                     const tb_strategy_ctx *ctx, tb_strategy_decision *out)
{
    if (!on_bar_args_ok(state, bar, ctx, out)) return TB_EINVAL;
    bollinger_breakout *s = state;
    double close = tb_dec_to_double(bar->close);
    hold(out);
    if (!tb_bbands_update(&s->bb, close)) return 0;
    tb_decimal pos = ctx->position;
    if (pos == 0) {
        if (compare(close, s->bb.upper, s->tol) > 0)
            trade(out, TB_SIGNAL_BUY, entry_qty(ctx, &s->c));
        else if (s->c.allow_short && compare(close, s->bb.lower, s->tol) < 0)
            trade(out, TB_SIGNAL_SELL, entry_qty(ctx, &s->c));
    } else if (pos > 0) {
        if (compare(close, s->bb.middle, s->tol) < 0) trade(out, TB_SIGNAL_SELL, pos);
    } else if (s->c.allow_short) {
        if (compare(close, s->bb.middle, s->tol) > 0) trade(out, TB_SIGNAL_BUY, -pos);
    }
    return 0;
}

static const tb_strategy_vtable bollinger_breakout_vtable = {
    "bollinger_breakout",
    "bollinger_breakout: period=20 k=2 quantity=1 allow_short=false; buy a close above the upper "
    "band, exit below the middle (short: a close below the lower band, exit above the middle)",
    bollinger_breakout_create,
    bollinger_breakout_on_bar,
    bollinger_breakout_destroy,
    NULL,
};

/* ---- registry ----------------------------------------------------------- */

static const tb_strategy_vtable *const builtins[] = {
    &sma_cross_vtable,       &rsi_reversion_vtable, &bollinger_breakout_vtable,
    &tb_lua_strategy_vtable, &tb_lua_legacy_vtable,
};

const tb_strategy_vtable *tb_strategy_builtin(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        if (strcmp(builtins[i]->name, name) == 0) return builtins[i];
    return NULL;
}

const tb_strategy_vtable *tb_strategy_builtin_at(size_t i)
{
    return i < sizeof builtins / sizeof builtins[0] ? builtins[i] : NULL;
}
