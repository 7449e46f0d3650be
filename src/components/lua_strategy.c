/* type = lua: a strategy vtable whose decisions come from a Lua script.
 *
 * One lua_State per strategy instance, built in create and closed in
 * destroy, so instances share nothing and a script's globals are its own.
 *
 * Numbers: Lua has only doubles. Prices reach the script as the same double
 * the built-ins feed their indicators (tb_dec_to_double), so an indicator or
 * a comparison in Lua sees exactly what the C strategy sees. Quantities come
 * back through buy/sell/target and are rounded to the nearest 1e-8: every
 * decimal with at most 8 fractional digits under 2^53 / 1e8 (~90 million
 * units) survives the trip unchanged, so a config's quantity = 0.01 orders
 * exactly 0.01. Larger amounts are refused rather than rounded silently.
 *
 * Runtime errors: the vtable's on_bar has no error text, so the message goes
 * to stderr (like an external component's stderr) and on_bar returns
 * TB_EHANDLER once; after that the instance holds on every bar, which stops
 * that strategy without touching the others. */
#include "../core/errbuf.h"
#include "lua_int.h"
#include "tradebus/indicators.h"
#include "tradebus/lua_strategy.h"
#include "tradebus/resample.h"
#include "tradebus/timefmt.h"

#include <float.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2^53 / 1e8: beyond it a double no longer holds every 1e-8 step. */
#define MAX_QTY          90071992.0
#define MAX_SCRIPT_BYTES (4L << 20)

typedef struct {
    lua_State *L;
    char script[256];
    int on_bar_ref, bar_ref, ctx_ref; /* registry refs, LUA_NOREF when absent */
    int keys_ref;                     /* the field names below, interned once */
    int in_init, in_bar, failed;
    /* What bar.symbol, bar.timeframe and ctx.strategy hold: strings are set
     * only when they change (a new string is a hash look-up per bar). */
    char last_symbol[TB_SYMBOL_LEN];
    int64_t last_timeframe;
    int strategy_set;
    /* The bar being decided: what the action functions read and fill. */
    tb_decimal position;
    const tb_strategy_ctx *ctx; /* the bar's, for position(sym) */
    const char *bar_symbol;
    int sized;
    int acted; /* a host without ctx->emit: the one decision is taken */
    tb_strategy_decision d;
} lua_strategy;

/* The bar's and ctx's numeric fields, set on every bar (keys_ref). */
enum {
    K_OPEN,
    K_HIGH,
    K_LOW,
    K_CLOSE,
    K_VOLUME,
    K_TIME,
    K_OPEN_TIME,
    K_POSITION,
    K_QUANTITY,
    K_COUNT
};
static const char *const key_names[K_COUNT] = {"open", "high",      "low",      "close",   "volume",
                                               "time", "open_time", "position", "quantity"};

/* ---- indicators --------------------------------------------------------- */

typedef enum { IND_SMA, IND_EMA, IND_RSI, IND_BBANDS, IND_MACD, IND_ATR, IND_DONCHIAN } ind_kind;

typedef struct {
    ind_kind kind;
    int ready;
    int period; /* the longest window: what compare() wants as n */
    union {
        tb_sma sma;
        tb_ema ema;
        tb_rsi rsi;
        tb_bbands bb;
        tb_macd macd;
        tb_atr atr;
        tb_donchian dc;
    } u;
} indicator;

#define IND_MT       "tradebus.indicator"       /* its engine state (userdata) */
#define IND_TABLE_MT "tradebus.indicator.table" /* the table a script holds */

static lua_strategy *self_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

static int checkint(lua_State *L, int arg, int lo)
{
    lua_Number x = luaL_checknumber(L, arg);
    if (x != floor(x) || x < lo || x > (1 << 24))
        return luaL_argerror(L, arg, lua_pushfstring(L, "expected a whole number >= %d", lo));
    return (int)x;
}

/* An indicator is a plain table — its outputs are fields the update writes,
 * so reading `x.value` is a table read LuaJIT compiles, not a call into C
 * (a call ends a trace) — holding its engine state as t[1], a userdata the
 * collector closes. `update` comes from the table's metatable. */
static indicator *new_indicator(lua_State *L, ind_kind kind, const char *name, int period)
{
    lua_strategy *s = self_of(L);
    /* Created once: an indicator made on every bar would restart its warm-up
     * each time and never produce a value. */
    if (!s->in_init) luaL_error(L, "%s(): create indicators in init(p), not in on_bar", name);
    lua_createtable(L, 1, 4);
    indicator *ind = lua_newuserdata(L, sizeof *ind);
    memset(ind, 0, sizeof *ind);
    ind->kind = kind;
    ind->ready = 0;
    ind->period = period;
    luaL_getmetatable(L, IND_MT);
    lua_setmetatable(L, -2);
    lua_rawseti(L, -2, 1);
    lua_pushinteger(L, period);
    lua_setfield(L, -2, "period");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "ready");
    luaL_getmetatable(L, IND_TABLE_MT);
    lua_setmetatable(L, -2);
    return ind;
}

static void init_failed(lua_State *L, int rc)
{
    if (rc == TB_ENOMEM) luaL_error(L, "out of memory");
    if (rc) luaL_error(L, "bad indicator parameters");
}

static int l_sma(lua_State *L)
{
    int n = checkint(L, 1, 1);
    indicator *i = new_indicator(L, IND_SMA, "sma", n);
    init_failed(L, tb_sma_init(&i->u.sma, n));
    return 1;
}

static int l_ema(lua_State *L)
{
    int n = checkint(L, 1, 1);
    indicator *i = new_indicator(L, IND_EMA, "ema", n);
    init_failed(L, tb_ema_init(&i->u.ema, n));
    return 1;
}

static int l_rsi(lua_State *L)
{
    int n = checkint(L, 1, 1);
    indicator *i = new_indicator(L, IND_RSI, "rsi", n);
    init_failed(L, tb_rsi_init(&i->u.rsi, n));
    return 1;
}

static int l_bbands(lua_State *L)
{
    int n = checkint(L, 1, 1);
    lua_Number k = luaL_optnumber(L, 2, 2.0);
    if (!(k > 0.0)) luaL_argerror(L, 2, "k must be greater than 0");
    indicator *i = new_indicator(L, IND_BBANDS, "bbands", n);
    init_failed(L, tb_bbands_init(&i->u.bb, n, k));
    return 1;
}

static int l_macd(lua_State *L)
{
    int f = checkint(L, 1, 1), sl = checkint(L, 2, 1), sg = checkint(L, 3, 1);
    if (f >= sl) luaL_argerror(L, 1, "fast must be less than slow");
    indicator *i = new_indicator(L, IND_MACD, "macd", sl + sg);
    init_failed(L, tb_macd_init(&i->u.macd, f, sl, sg));
    return 1;
}

static int l_atr(lua_State *L)
{
    int n = checkint(L, 1, 1);
    indicator *i = new_indicator(L, IND_ATR, "atr", n);
    init_failed(L, tb_atr_init(&i->u.atr, n));
    return 1;
}

static int l_donchian(lua_State *L)
{
    int n = checkint(L, 1, 1);
    indicator *i = new_indicator(L, IND_DONCHIAN, "donchian", n);
    init_failed(L, tb_donchian_init(&i->u.dc, n));
    return 1;
}

static int ind_gc(lua_State *L)
{
    indicator *i = luaL_checkudata(L, 1, IND_MT);
    switch (i->kind) {
    case IND_SMA:
        tb_sma_close(&i->u.sma);
        break;
    case IND_EMA:
        tb_ema_close(&i->u.ema);
        break;
    case IND_RSI:
        tb_rsi_close(&i->u.rsi);
        break;
    case IND_BBANDS:
        tb_bbands_close(&i->u.bb);
        break;
    case IND_MACD:
        tb_macd_close(&i->u.macd);
        break;
    case IND_ATR:
        tb_atr_close(&i->u.atr);
        break;
    case IND_DONCHIAN:
        tb_donchian_close(&i->u.dc);
        break;
    }
    return 0;
}

/* The outputs' names, made once as strings and given to ind_update as its
 * upvalue: lua_setfield would hash and look each name up on every bar
 * (memcmp under it was a visible share of a Lua strategy's bar). */
enum { O_VALUE, O_UPPER, O_MIDDLE, O_LOWER, O_MACD, O_SIGNAL, O_HIST, O_COUNT };
static const char *const out_names[O_COUNT] = {"value", "upper",  "middle", "lower",
                                               "macd",  "signal", "hist"};

/* The indicator's table (argument 1: a plain table, whose metatable has
 * no __newindex, so a raw set is what setfield would do) gets o = v. */
static void set_out(lua_State *L, int o, double v)
{
    lua_rawgeti(L, lua_upvalueindex(1), o + 1);
    lua_pushnumber(L, v);
    lua_rawset(L, 1);
}

/* ind:update(close) — or (high, low, close) for atr, (high, low) for
 * donchian. Writes the outputs into the table — value (sma, ema, rsi,
 * atr), upper/middle/lower (bbands), upper/lower (donchian),
 * macd/signal/hist (macd) — once they are defined (nil before: arithmetic
 * on a cold indicator fails loudly instead of reading 0), and ready.
 * Returns ready. */
static int ind_update(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_rawgeti(L, 1, 1);
    indicator *i = luaL_checkudata(L, -1, IND_MT);
    lua_pop(L, 1);
    double a = luaL_checknumber(L, 2);
    int was = i->ready;
    switch (i->kind) {
    case IND_SMA:
        i->ready = tb_sma_update(&i->u.sma, a);
        if (i->ready) set_out(L, O_VALUE, i->u.sma.value);
        break;
    case IND_EMA:
        i->ready = tb_ema_update(&i->u.ema, a);
        if (i->ready) set_out(L, O_VALUE, i->u.ema.value);
        break;
    case IND_RSI:
        i->ready = tb_rsi_update(&i->u.rsi, a);
        if (i->ready) set_out(L, O_VALUE, i->u.rsi.value);
        break;
    case IND_BBANDS:
        i->ready = tb_bbands_update(&i->u.bb, a);
        if (i->ready) {
            set_out(L, O_UPPER, i->u.bb.upper);
            set_out(L, O_MIDDLE, i->u.bb.middle);
            set_out(L, O_LOWER, i->u.bb.lower);
        }
        break;
    case IND_MACD:
        i->ready = tb_macd_update(&i->u.macd, a);
        if (i->ready) {
            set_out(L, O_MACD, i->u.macd.macd);
            set_out(L, O_SIGNAL, i->u.macd.signal_value);
            set_out(L, O_HIST, i->u.macd.hist);
        }
        break;
    case IND_ATR:
        i->ready = tb_atr_update(&i->u.atr, a, luaL_checknumber(L, 3), luaL_checknumber(L, 4));
        if (i->ready) set_out(L, O_VALUE, i->u.atr.value);
        break;
    case IND_DONCHIAN:
        i->ready = tb_donchian_update(&i->u.dc, a, luaL_checknumber(L, 3));
        if (i->ready) {
            set_out(L, O_UPPER, i->u.dc.upper);
            set_out(L, O_LOWER, i->u.dc.lower);
        }
        break;
    }
    if (i->ready != was) {
        lua_pushboolean(L, i->ready);
        lua_setfield(L, 1, "ready");
    }
    lua_pushboolean(L, i->ready);
    return 1;
}

/* compare(a, b, n): -1, 0 or 1 as a <, ==, > b, values within
 * 16 * n * DBL_EPSILON relative of each other being equal — the rule the
 * built-ins use (see strategies.c), n the longest window behind a and b.
 * In Lua, so that a script's hot loop never calls into C for it: the same
 * operations in the same order as the C expression, in doubles. */
static const char compare_lua[] =
    "local abs, max = math.abs, math.max\n"
    "local EPS = 2 ^ -52\n"
    "function compare(a, b, n)\n"
    "  n = n or 1\n"
    "  local d = a - b\n"
    "  if abs(d) <= 16 * n * EPS * max(abs(a), abs(b)) then return 0 end\n"
    "  if d > 0 then return 1 end\n"
    "  return -1\n"
    "end\n";

/* ---- actions ------------------------------------------------------------ */

/* The decimal nearest to the argument, refused if it cannot be exact. */
static tb_decimal qty_arg(lua_State *L, const char *fn)
{
    lua_Number q = luaL_checknumber(L, 1);
    if (!isfinite(q) || fabs(q) > MAX_QTY)
        luaL_error(L, "%s(%f): a quantity must be finite and at most %.0f", fn, (double)q, MAX_QTY);
    return (tb_decimal)llround(q * 1e8);
}

static lua_strategy *acting(lua_State *L, const char *fn)
{
    lua_strategy *s = self_of(L);
    if (!s->in_bar) luaL_error(L, "%s(): only on_bar can trade", fn);
    return s;
}

/* The target position in sym (one of the strategy's symbols; the bar's
 * when nil), every decision of this bar so far included. */
static tb_decimal position_in(lua_strategy *s, const char *sym)
{
    if (!sym || !strcmp(sym, s->bar_symbol) || !s->ctx->position_of) return s->position;
    return s->ctx->position_of(s->ctx, sym);
}

/* A price argument (limit, stop, take) as a decimal: finite, > 0. */
static tb_decimal price_arg(lua_State *L, const char *fn, const char *key, lua_Number v)
{
    if (!isfinite(v) || v <= 0 || v > 9e10)
        luaL_error(L, "%s(): %s = %f is not a price (a number > 0)", fn, key, (double)v);
    return (tb_decimal)llround(v * 1e8);
}

/* The optional arguments after the first: a symbol (string) and then, or
 * instead, an options table {limit =, stop =, take =, type =}. */
static void order_args(lua_State *L, lua_strategy *s, int idx, const char *fn,
                       tb_strategy_decision *d)
{
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t len;
        const char *sym = lua_tolstring(L, idx, &len);
        if (len >= sizeof(d->symbol))
            luaL_error(L, "%s(): '%s' is no symbol of this strategy", fn, sym);
        memcpy(d->symbol, sym, len + 1);
        idx++;
    } else if (!lua_isnoneornil(L, idx) && lua_type(L, idx) != LUA_TTABLE) {
        luaL_error(L, "%s(): argument %d must be a symbol or an options table, not a %s", fn, idx,
                   luaL_typename(L, idx));
    }
    if (lua_isnoneornil(L, idx)) return;
    luaL_checktype(L, idx, LUA_TTABLE);
    (void)s;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
        if (!strcmp(k, "limit")) {
            d->limit_price = price_arg(L, fn, k, luaL_checknumber(L, -1));
            d->order_type = TB_ORDER_LIMIT;
        } else if (!strcmp(k, "stop")) {
            d->stop_loss = price_arg(L, fn, k, luaL_checknumber(L, -1));
        } else if (!strcmp(k, "take")) {
            d->take_profit = price_arg(L, fn, k, luaL_checknumber(L, -1));
        } else if (!strcmp(k, "type")) {
            const char *t = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
            if (!strcmp(t, "market"))
                d->order_type = TB_ORDER_MARKET;
            else if (!strcmp(t, "limit"))
                d->order_type = TB_ORDER_LIMIT;
            else
                luaL_error(L, "%s(): type = '%s': expected \"market\" or \"limit\"", fn, t);
        } else {
            luaL_error(L, "%s(): unknown option '%s' (expected limit, stop, take or type)", fn, k);
        }
        lua_pop(L, 1);
    }
    if (d->limit_price && d->order_type != TB_ORDER_LIMIT)
        luaL_error(L, "%s(): a limit price goes with type = \"limit\"", fn);
}

/* Takes the decision: through ctx->emit (any number per bar), or as the
 * one decision on_bar returns where the host has no emit. */
static void act(lua_State *L, lua_strategy *s, const char *fn, const tb_strategy_decision *d)
{
    if (!s->ctx->emit) {
        if (s->acted) luaL_error(L, "%s(): this host takes one decision per bar", fn);
        s->acted = 1;
        s->d = *d;
        return;
    }
    char err[256];
    if (s->ctx->emit(s->ctx, d, err, sizeof err) != 0) luaL_error(L, "%s(): %s", fn, err);
    if (!d->symbol[0] || !strcmp(d->symbol, s->bar_symbol))
        s->position = s->ctx->position_of(s->ctx, s->bar_symbol);
}

static int side(lua_State *L, const char *fn, tb_signal_type t)
{
    tb_decimal q = qty_arg(L, fn);
    lua_strategy *s = acting(L, fn);
    tb_strategy_decision d;
    memset(&d, 0, sizeof d);
    order_args(L, s, 2, fn, &d);
    if (q < 0) luaL_error(L, "%s(): quantity must not be negative (use target() for signed)", fn);
    if (q == 0 && !s->sized) luaL_error(L, "%s(0): quantity must be greater than 0", fn);
    d.signal = t;
    d.volume = q;
    if (q == 0) {
        /* An entry sizing made too small: the generator counts it. */
        s->d = d;
        return 0;
    }
    act(L, s, fn, &d);
    return 0;
}

static int l_buy(lua_State *L)
{
    return side(L, "buy", TB_SIGNAL_BUY);
}

static int l_sell(lua_State *L)
{
    return side(L, "sell", TB_SIGNAL_SELL);
}

/* Whatever takes the position in d->symbol to q (signed); nothing if there. */
static int to_target(lua_State *L, lua_strategy *s, const char *fn, tb_decimal q,
                     tb_strategy_decision *d)
{
    tb_decimal diff = q - position_in(s, d->symbol[0] ? d->symbol : NULL); /* within +-2^53 */
    if (diff == 0) return 0;
    d->signal = diff > 0 ? TB_SIGNAL_BUY : TB_SIGNAL_SELL;
    d->volume = diff > 0 ? diff : -diff;
    act(L, s, fn, d);
    return 0;
}

/* target(q[, sym][, opts]) */
static int l_target(lua_State *L)
{
    tb_decimal q = qty_arg(L, "target");
    lua_strategy *s = acting(L, "target");
    tb_strategy_decision d;
    memset(&d, 0, sizeof d);
    order_args(L, s, 2, "target", &d);
    return to_target(L, s, "target", q, &d);
}

/* target_pct(pct[, sym][, opts]): the position worth pct % of equity at
 * the symbol's last close (signed), rounded toward 0 to the step. */
static int l_target_pct(lua_State *L)
{
    lua_Number pct = luaL_checknumber(L, 1);
    lua_strategy *s = acting(L, "target_pct");
    if (!isfinite(pct) || fabs(pct) > 10000)
        luaL_error(L, "target_pct(%f): a percent of equity in [-10000, 10000]", (double)pct);
    if (!s->ctx->quantity_for_pct) luaL_error(L, "target_pct(): this host has no equity");
    tb_strategy_decision d;
    memset(&d, 0, sizeof d);
    order_args(L, s, 2, "target_pct", &d);
    tb_decimal q;
    int rc = s->ctx->quantity_for_pct(s->ctx, d.symbol[0] ? d.symbol : NULL,
                                      (tb_decimal)llround(pct * 1e8), &q);
    if (rc)
        luaL_error(L, "target_pct(): %s",
                   rc == TB_EINVAL ? "not a symbol of this strategy, or no bar of it yet"
                                   : tb_strerror(rc));
    return to_target(L, s, "target_pct", q, &d);
}

/* position(sym): the target position in sym (the bar's symbol when nil). */
static int l_position(lua_State *L)
{
    lua_strategy *s = self_of(L);
    if (!s->in_bar) luaL_error(L, "position(): only in on_bar");
    const char *sym = luaL_optstring(L, 1, NULL);
    lua_pushnumber(L, tb_dec_to_double(position_in(s, sym)));
    return 1;
}

static int l_cash(lua_State *L)
{
    lua_strategy *s = self_of(L);
    if (!s->in_bar) luaL_error(L, "cash(): only in on_bar");
    lua_pushnumber(L, s->ctx->cash ? tb_dec_to_double(s->ctx->cash(s->ctx)) : 0.0);
    return 1;
}

static int l_equity(lua_State *L)
{
    lua_strategy *s = self_of(L);
    if (!s->in_bar) luaL_error(L, "equity(): only in on_bar");
    lua_pushnumber(L, s->ctx->equity ? tb_dec_to_double(s->ctx->equity(s->ctx)) : 0.0);
    return 1;
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static void set_dec(lua_State *L, const char *k, tb_decimal v)
{
    lua_pushnumber(L, tb_dec_to_double(v));
    lua_setfield(L, -2, k);
}

#define MAX_LISTED 64

/* orders([sym]): the strategy's working orders, oldest first, as tables. */
static int l_orders(lua_State *L)
{
    lua_strategy *s = self_of(L);
    if (!s->in_bar) luaL_error(L, "orders(): only in on_bar");
    const char *sym = luaL_optstring(L, 1, NULL);
    tb_strategy_order o[MAX_LISTED];
    size_t n = s->ctx->open_orders ? s->ctx->open_orders(s->ctx, sym, o, MAX_LISTED) : 0;
    if (n > MAX_LISTED) n = MAX_LISTED;
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 9);
        set_str(L, "id", o[i].client_order_id);
        set_str(L, "symbol", o[i].symbol);
        set_str(L, "side", tb_side_name(o[i].side));
        set_str(L, "type", tb_order_type_name(o[i].type));
        set_str(L, "origin", tb_order_origin_name(o[i].origin));
        set_dec(L, "qty", o[i].quantity);
        set_dec(L, "filled", o[i].filled);
        set_dec(L, "price", o[i].price);
        set_dec(L, "stop_price", o[i].stop_price);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

/* cancel(): every working order of the strategy's own (not its bracket's);
 * cancel(sym): those in sym; cancel(id) or cancel(order): that one. */
static int l_cancel(lua_State *L)
{
    lua_strategy *s = acting(L, "cancel");
    const char *x = NULL;
    if (lua_type(L, 1) == LUA_TTABLE) {
        lua_getfield(L, 1, "id");
        x = lua_tostring(L, -1);
        if (!x) luaL_error(L, "cancel(): the table has no id (pass an order from orders())");
    } else {
        x = luaL_optstring(L, 1, NULL);
    }
    if (!s->ctx->open_orders) luaL_error(L, "cancel(): this host has no open orders");
    tb_strategy_order o[MAX_LISTED];
    size_t n = s->ctx->open_orders(s->ctx, NULL, o, MAX_LISTED);
    if (n > MAX_LISTED) n = MAX_LISTED;
    int by_id = 0;
    for (size_t i = 0; x && i < n && !by_id; i++)
        by_id = strcmp(o[i].client_order_id, x) == 0;
    if (x && by_id) {
        tb_strategy_decision d;
        memset(&d, 0, sizeof d);
        d.signal = TB_SIGNAL_CANCEL;
        for (size_t i = 0; i < n; i++)
            if (strcmp(o[i].client_order_id, x) == 0) {
                if (o[i].origin != TB_ORIGIN_SIGNAL)
                    luaL_error(L,
                               "cancel('%s'): a %s order is the Order Manager's, not the "
                               "strategy's",
                               x, tb_order_origin_name(o[i].origin));
                memcpy(d.symbol, o[i].symbol, sizeof d.symbol);
            }
        snprintf(d.cancel_order_id, sizeof d.cancel_order_id, "%s", x);
        act(L, s, "cancel", &d);
        return 0;
    }
    /* By symbol: one CANCEL per symbol holding some order of its own. */
    int named = 0;
    for (size_t i = 0; i < n; i++) {
        if (o[i].origin != TB_ORIGIN_SIGNAL) continue;
        if (x && strcmp(o[i].symbol, x) != 0) continue;
        named = 1;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = o[j].origin == TB_ORIGIN_SIGNAL && !strcmp(o[j].symbol, o[i].symbol);
        if (seen) continue;
        tb_strategy_decision d;
        memset(&d, 0, sizeof d);
        d.signal = TB_SIGNAL_CANCEL;
        memcpy(d.symbol, o[i].symbol, sizeof d.symbol);
        act(L, s, "cancel", &d);
    }
    /* A name that is neither an order nor a symbol with orders may be a
     * symbol with none (fine) or a typo: only a symbol of its own passes
     * (quantity_for_pct checks the name and nothing else for 0 %). */
    tb_decimal q;
    if (x && !named && strcmp(x, s->bar_symbol) != 0 && s->ctx->quantity_for_pct &&
        s->ctx->quantity_for_pct(s->ctx, x, 0, &q) != 0)
        luaL_error(L,
                   "cancel('%s'): no working order has that id, and it is no symbol of this "
                   "strategy (with a bar yet)",
                   x);
    return 0;
}

/* ---- the sandbox -------------------------------------------------------- */

static int open_libs(lua_State *L)
{
    /* luaopen_jit turns the trace compiler on (without it LuaJIT only
     * interprets); its `jit` table is then taken away from the script
     * below, like every library that could reach outside the sandbox. */
    static const lua_CFunction libs[] = {luaopen_base, luaopen_table, luaopen_string,
                                         luaopen_math, luaopen_bit,   luaopen_jit};
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        lua_pushcfunction(L, libs[i]);
        lua_call(L, 0, 0);
    }
    /* Everything that reads files, loads code the sandbox has not seen
     * (bytecode included) or writes to the terminal. */
    static const char *const gone[] = {"dofile", "loadfile", "load",   "loadstring",
                                       "print",  "require",  "module", "collectgarbage",
                                       "gcinfo", "jit",      NULL};
    for (size_t i = 0; gone[i]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, gone[i]);
    }
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    return 0;
}

static void register_api(lua_State *L, lua_strategy *s)
{
    luaL_newmetatable(L, IND_MT);
    lua_pushcfunction(L, ind_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    /* The table's metatable: __index a table holding update, so the method
     * lookup is a table read too (made once: no function object per call). */
    luaL_newmetatable(L, IND_TABLE_MT);
    lua_createtable(L, 0, 1);
    lua_createtable(L, O_COUNT, 0);
    for (int i = 0; i < O_COUNT; i++) {
        lua_pushstring(L, out_names[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushcclosure(L, ind_update, 1);
    lua_setfield(L, -2, "update");
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {
        {"sma", l_sma},
        {"ema", l_ema},
        {"rsi", l_rsi},
        {"bbands", l_bbands},
        {"macd", l_macd},
        {"atr", l_atr},
        {"donchian", l_donchian},
        {"buy", l_buy},
        {"sell", l_sell},
        {"target", l_target},
        {"target_pct", l_target_pct},
        {"position", l_position},
        {"cash", l_cash},
        {"equity", l_equity},
        {"orders", l_orders},
        {"cancel", l_cancel},
        {NULL, NULL},
    };
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushlightuserdata(L, s);
        lua_pushcclosure(L, f->func, 1);
        lua_setglobal(L, f->name);
    }
    if (luaL_loadbuffer(L, compare_lua, sizeof(compare_lua) - 1, "=compare") != 0 ||
        lua_pcall(L, 0, 0, 0) != 0)
        lua_pop(L, 1); /* cannot happen: a constant chunk; compare() is then missing */
}

/* Reads path whole; text only (bytecode starts with ESC: refused). */
static int read_script(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        tb__errf(err, errlen, "script: cannot open '%s' (a path from the working directory)", path);
        return TB_ECONFIG;
    }
    char *buf = malloc(MAX_SCRIPT_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_SCRIPT_BYTES + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!buf) {
        tb__errf(err, errlen, "out of memory");
        return TB_ENOMEM;
    }
    const char *why = bad                       ? "read error"
                      : n > MAX_SCRIPT_BYTES    ? "larger than 4 MiB"
                      : (n > 0 && buf[0] == 27) ? "precompiled bytecode (give the Lua source)"
                                                : NULL;
    if (why) {
        free(buf);
        tb__errf(err, errlen, "script: '%s': %s", path, why);
        return TB_ECONFIG;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

/* ---- params ------------------------------------------------------------- */

/* Checks the config's params against the script's `params` table and
 * leaves the resolved table p on the stack. */
static int resolve_params(lua_State *L, const tb_param *p, size_t n, char *err, size_t errlen)
{
    lua_getglobal(L, "params");
    int decl = lua_gettop(L);
    if (!lua_isnil(L, decl) && !lua_istable(L, decl)) {
        tb__errf(err, errlen, "script: params must be a table of {default = ...} entries");
        return TB_ECONFIG;
    }
    /* Known keys: the script's plus ours. Sorted by lua_next order does not
     * matter: tb_param_check_known names the config's first unknown key. */
    const char *known[130];
    size_t nk = 0;
    known[nk++] = "script";
    known[nk++] = "seed";
    lua_newtable(L);
    int res = lua_gettop(L);
    if (lua_istable(L, decl)) {
        lua_pushnil(L);
        while (lua_next(L, decl)) {
            if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1)) {
                tb__errf(err, errlen, "script: params entries must be name = {default = ...}");
                return TB_ECONFIG;
            }
            const char *k = lua_tostring(L, -2);
            if (strcmp(k, "script") == 0 || strcmp(k, "seed") == 0) {
                tb__errf(err, errlen, "script: param '%s' is reserved by tradebus", k);
                return TB_ECONFIG;
            }
            if (nk + 1 >= sizeof known / sizeof known[0]) {
                tb__errf(err, errlen, "script: more than 120 params");
                return TB_ECONFIG;
            }
            known[nk++] = k; /* kept alive by the params table */
            lua_getfield(L, -1, "default");
            int t = lua_type(L, -1);
            int rc = 0;
            if (t == LUA_TNUMBER) {
                double def = lua_tonumber(L, -1), lo = -DBL_MAX, hi = DBL_MAX, v;
                lua_getfield(L, -2, "min");
                if (lua_isnumber(L, -1)) lo = lua_tonumber(L, -1);
                lua_getfield(L, -3, "max");
                if (lua_isnumber(L, -1)) hi = lua_tonumber(L, -1);
                lua_pop(L, 2);
                rc = tb_param_double(p, n, k, def, lo, hi, &v, err, errlen);
                /* Without a declared range the helper's +-1.8e308 says nothing. */
                if (rc == TB_ECONFIG && lo == -DBL_MAX && hi == DBL_MAX)
                    for (size_t i = 0; i < n; i++)
                        if (p[i].key && strcmp(p[i].key, k) == 0 && p[i].value)
                            tb__errf(err, errlen, "%s: expected a number, got '%s'", k, p[i].value);
                lua_pushnumber(L, v);
            } else if (t == LUA_TBOOLEAN) {
                int v;
                rc = tb_param_bool(p, n, k, lua_toboolean(L, -1), &v, err, errlen);
                lua_pushboolean(L, v);
            } else if (t == LUA_TSTRING) {
                const char *v = lua_tostring(L, -1);
                for (size_t i = 0; i < n; i++)
                    if (p[i].key && strcmp(p[i].key, k) == 0) v = p[i].value ? p[i].value : "";
                lua_pushstring(L, v);
            } else {
                tb__errf(err, errlen,
                         "script: params.%s needs a default (number, boolean or string)", k);
                return TB_ECONFIG;
            }
            if (rc) return rc;
            lua_setfield(L, res, k); /* p[k] = value; pops it */
            lua_pop(L, 2);           /* default, the entry */
        }
    }
    known[nk] = NULL;
    int rc = tb_param_check_known(p, n, known, err, errlen);
    if (rc) return rc;
    lua_remove(L, decl);
    return 0;
}

/* ---- the vtable --------------------------------------------------------- */

static void lua_destroy(void *state)
{
    lua_strategy *s = state;
    if (!s) return;
    if (s->L) lua_close(s->L);
    free(s);
}

static int l_open(lua_State *L)
{
    open_libs(L);
    register_api(L, lua_touserdata(L, 1));
    return 0;
}

static int lua_create(const tb_strategy_vtable *self, const tb_param *p, size_t n, void **state,
                      char *err, size_t errlen)
{
    (void)self;
    const char *path = NULL;
    for (size_t i = 0; i < n; i++)
        if (p[i].key && strcmp(p[i].key, "script") == 0) path = p[i].value;
    if (!path || !*path) {
        tb__errf(err, errlen, "script: missing: add script = path/to/strategy.lua");
        return TB_ECONFIG;
    }
    long seed;
    int rc = tb_param_int(p, n, "seed", 1, 0, 2147483647L, &seed, err, errlen);
    if (rc) return rc;
    lua_strategy *s = calloc(1, sizeof *s);
    if (!s || !(s->L = luaL_newstate())) {
        free(s);
        tb__errf(err, errlen, "out of memory (creating the Lua state)");
        return TB_ENOMEM;
    }
    snprintf(s->script, sizeof s->script, "%s", path);
    s->on_bar_ref = s->bar_ref = s->ctx_ref = s->keys_ref = LUA_NOREF;
    lua_State *L = s->L;
    char *src = NULL;
    size_t len = 0;
    if ((rc = read_script(path, &src, &len, err, errlen)) != 0) goto fail;
    lua_pushcfunction(L, l_open);
    lua_pushlightuserdata(L, s);
    if (lua_pcall(L, 1, 0, 0) != 0) {
        tb__errf(err, errlen, "out of memory (opening the Lua libraries)");
        rc = TB_ENOMEM;
        goto fail;
    }
    /* math.random is LuaJIT's own generator: seeded, it repeats exactly. */
    lua_getglobal(L, "math");
    lua_getfield(L, -1, "randomseed");
    lua_pushnumber(L, (lua_Number)seed);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
    /* "@path" makes Lua's messages read "path:line: ...". */
    char chunk[260];
    snprintf(chunk, sizeof chunk, "@%s", path);
    int lrc = luaL_loadbuffer(L, src, len, chunk);
    free(src);
    if (lrc == 0) lrc = lua_pcall(L, 0, 0, 0);
    if (lrc != 0) {
        tb__errf(err, errlen, "script: %s", lua_tostring(L, -1));
        rc = TB_ECONFIG;
        goto fail;
    }
    lua_getglobal(L, "on_bar");
    if (!lua_isfunction(L, -1)) {
        tb__errf(err, errlen, "script: '%s' defines no function on_bar(bar, ctx)", path);
        rc = TB_ECONFIG;
        goto fail;
    }
    s->on_bar_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if ((rc = resolve_params(L, p, n, err, errlen)) != 0) goto fail;
    lua_getglobal(L, "init");
    if (lua_isfunction(L, -1)) {
        lua_pushvalue(L, -2);
        s->in_init = 1;
        lrc = lua_pcall(L, 1, 0, 0);
        s->in_init = 0;
        if (lrc != 0) {
            tb__errf(err, errlen, "script: %s", lua_tostring(L, -1));
            rc = TB_ECONFIG;
            goto fail;
        }
    } else {
        lua_pop(L, 1);
    }
    lua_pop(L, 1); /* p */
    /* One bar table and one ctx table, refilled each bar: no garbage per bar. */
    lua_newtable(L);
    s->bar_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    s->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    /* The per-bar field names as strings made once: lua_setfield would
     * hash and look each one up again on every bar. */
    lua_createtable(L, K_COUNT, 0);
    for (int i = 0; i < K_COUNT; i++) {
        lua_pushstring(L, key_names[i]);
        lua_rawseti(L, -2, i + 1);
    }
    s->keys_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    *state = s;
    return 0;
fail:
    lua_destroy(s);
    return rc;
}

/* t[keys[k]] = v, t on the top of the stack, keys at index kidx. */
static void set_key(lua_State *L, int kidx, int k, double v)
{
    lua_rawgeti(L, kidx, k + 1);
    lua_pushnumber(L, v);
    lua_rawset(L, -3);
}

static int lua_on_bar(void *state, const tb_market_data *bar, const tb_strategy_ctx *ctx,
                      tb_strategy_decision *out)
{
    lua_strategy *s = state;
    if (!s || !bar || !ctx || !out) return TB_EINVAL;
    out->signal = TB_SIGNAL_HOLD;
    out->volume = 0;
    out->symbol[0] = 0;
    if (s->failed) return 0;
    lua_State *L = s->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->keys_ref);
    int kidx = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->on_bar_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->bar_ref);
    set_key(L, kidx, K_OPEN, tb_dec_to_double(bar->open));
    set_key(L, kidx, K_HIGH, tb_dec_to_double(bar->high));
    set_key(L, kidx, K_LOW, tb_dec_to_double(bar->low));
    set_key(L, kidx, K_CLOSE, tb_dec_to_double(bar->close));
    set_key(L, kidx, K_VOLUME, tb_dec_to_double(bar->volume));
    /* Milliseconds since the epoch: whole numbers, exact in a double. */
    set_key(L, kidx, K_TIME, (double)(bar->close_time / 1000000));
    set_key(L, kidx, K_OPEN_TIME, (double)(bar->open_time / 1000000));
    if (strncmp(s->last_symbol, bar->symbol, TB_SYMBOL_LEN) != 0) {
        memcpy(s->last_symbol, bar->symbol, TB_SYMBOL_LEN);
        s->last_symbol[TB_SYMBOL_LEN - 1] = 0;
        lua_pushstring(L, s->last_symbol);
        lua_setfield(L, -2, "symbol");
    }
    /* nil without timeframes, so scripts written before them see no change. */
    if (ctx->timeframe != s->last_timeframe || !s->strategy_set) {
        s->last_timeframe = ctx->timeframe;
        const char *tf = ctx->timeframe ? tb_timeframe_name(ctx->timeframe) : NULL;
        if (tf)
            lua_pushstring(L, tf);
        else
            lua_pushnil(L);
        lua_setfield(L, -2, "timeframe");
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->ctx_ref);
    set_key(L, kidx, K_POSITION, tb_dec_to_double(ctx->position));
    lua_rawgeti(L, kidx, K_QUANTITY + 1);
    if (ctx->sized)
        lua_pushnumber(L, tb_dec_to_double(ctx->quantity));
    else
        lua_pushnil(L);
    lua_rawset(L, -3);
    if (!s->strategy_set) {
        lua_pushstring(L, ctx->strategy_id ? ctx->strategy_id : "");
        lua_setfield(L, -2, "strategy");
        s->strategy_set = 1;
    }
    s->position = ctx->position;
    s->ctx = ctx;
    s->bar_symbol = bar->symbol;
    s->sized = ctx->sized;
    s->acted = 0;
    s->d.signal = TB_SIGNAL_HOLD; /* the one decision a host without emit takes */
    s->in_bar = 1;
    int lrc = lua_pcall(L, 2, 0, 0);
    s->in_bar = 0;
    if (lrc != 0) {
        char when[32] = "?";
        tb_format_time_iso(bar->close_time, when, sizeof when);
        fprintf(stderr,
                "tradebus: strategy %s: %s (on_bar, bar closing %s %s); this strategy stops, the "
                "others go on\n",
                ctx->strategy_id ? ctx->strategy_id : "?", lua_tostring(L, -1), when, bar->symbol);
        lua_pop(L, 2); /* the message, the keys */
        s->failed = 1;
        return TB_EHANDLER;
    }
    lua_pop(L, 1); /* the keys */
    if (s->d.signal != TB_SIGNAL_HOLD) *out = s->d;
    return 0;
}

const tb_strategy_vtable tb_lua_strategy_vtable = {
    "lua",
    "lua: script=PATH seed=1 plus the params the script declares (tradebus help SCRIPT.lua "
    "lists them); decisions from a Lua script (docs/strategies.md)",
    lua_create,
    lua_on_bar,
    lua_destroy,
    NULL,
};

/* For the hosts that reuse this sandbox (lua_int.h). */
lua_State *tb__lua_strategy_state(void *state)
{
    return state ? ((lua_strategy *)state)->L : NULL;
}
