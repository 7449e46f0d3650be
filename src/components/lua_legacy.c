/* type = legacy-lua: an old-style strategy (one on_bar(state, bar) that
 * returns a signed trade) written in Lua, wrapped as a pipeline strategy.
 *
 * It does not build a sandbox of its own: create is type = lua's create,
 * which loads the script, resolves its declared params and runs init(p) in
 * the sandbox; this host then calls the script's on_bar with its own
 * arguments (a state table it keeps, the bar) and reads back the trade, the
 * way the C adapter (src/migration/adapter.c) calls a tb_legacy_strategy.
 *
 * Quantities cross as lua_strategy.c's do: rounded to the nearest 1e-8 and
 * refused beyond 2^53 / 1e8, so state.position (a double) written back as a
 * trade (-state.position) is the exact decimal position. */
#include "../core/errbuf.h"
#include "lua_int.h"
#include "tradebus/lua_legacy.h"
#include "tradebus/lua_strategy.h"
#include "tradebus/timefmt.h"

#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 2^53 / 1e8: beyond it a double no longer holds every 1e-8 step. */
#define MAX_QTY 90071992.0

typedef struct {
    void *inner; /* type = lua's state: owns the lua_State */
    lua_State *L;
    int on_bar_ref, state_ref, bar_ref;
    int failed;
} lua_legacy;

static void legacy_destroy(void *state)
{
    lua_legacy *s = state;
    if (!s) return;
    /* The refs live in the inner state's registry, closed with it. */
    if (s->inner) tb_lua_strategy_vtable.destroy(s->inner);
    free(s);
}

static int legacy_create(const tb_strategy_vtable *self, const tb_param *p, size_t n, void **state,
                         char *err, size_t errlen)
{
    (void)self;
    if (!state) return TB_EINVAL;
    lua_legacy *s = calloc(1, sizeof *s);
    if (!s) {
        tb__errf(err, errlen, "out of memory");
        return TB_ENOMEM;
    }
    int rc = tb_lua_strategy_vtable.create(&tb_lua_strategy_vtable, p, n, &s->inner, err, errlen);
    if (rc) {
        free(s);
        return rc;
    }
    lua_State *L = s->L = tb__lua_strategy_state(s->inner);
    lua_getglobal(L, "on_bar"); /* a function: type = lua's create checked */
    s->on_bar_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    /* The state table lives as long as the instance; the bar table is
     * refilled every bar, so a bar makes no garbage. */
    lua_newtable(L);
    lua_pushnumber(L, 0);
    lua_setfield(L, -2, "position");
    s->state_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    s->bar_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    *state = s;
    return 0;
}

static void set_num(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static int stop(lua_legacy *s, const tb_market_data *bar, const tb_strategy_ctx *ctx,
                const char *msg)
{
    char when[32] = "?";
    tb_format_time_iso(bar->close_time, when, sizeof when);
    fprintf(stderr,
            "tradebus: strategy %s: %s (on_bar, bar closing %s %s); this strategy stops, the "
            "others go on\n",
            ctx->strategy_id ? ctx->strategy_id : "?", msg, when, bar->symbol);
    s->failed = 1;
    return TB_EHANDLER;
}

static int legacy_on_bar(void *state, const tb_market_data *bar, const tb_strategy_ctx *ctx,
                         tb_strategy_decision *out)
{
    lua_legacy *s = state;
    if (!s || !bar || !ctx || !out) return TB_EINVAL;
    out->signal = TB_SIGNAL_HOLD;
    out->volume = 0;
    if (s->failed) return 0;
    lua_State *L = s->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->on_bar_ref);
    /* The host's view of the position, overwritten every bar as the C
     * adapter does (legacy.h): a refused order is not a position. */
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->state_ref);
    set_num(L, "position", tb_dec_to_double(ctx->position));
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->bar_ref);
    set_num(L, "open", tb_dec_to_double(bar->open));
    set_num(L, "high", tb_dec_to_double(bar->high));
    set_num(L, "low", tb_dec_to_double(bar->low));
    set_num(L, "close", tb_dec_to_double(bar->close));
    set_num(L, "volume", tb_dec_to_double(bar->volume));
    set_num(L, "time", (double)(bar->close_time / 1000000));
    set_num(L, "open_time", (double)(bar->open_time / 1000000));
    lua_pushstring(L, bar->symbol);
    lua_setfield(L, -2, "symbol");
    if (lua_pcall(L, 2, 1, 0) != 0) {
        int rc = stop(s, bar, ctx, lua_tostring(L, -1));
        lua_pop(L, 1);
        return rc;
    }
    int t = lua_type(L, -1);
    double q = t == LUA_TNUMBER ? lua_tonumber(L, -1) : 0.0;
    lua_pop(L, 1);
    if (t != LUA_TNUMBER && t != LUA_TNIL)
        return stop(s, bar, ctx,
                    "on_bar(state, bar) must return a number (the signed trade) or nil");
    if (!isfinite(q) || fabs(q) > MAX_QTY)
        return stop(s, bar, ctx, "on_bar's trade must be finite and at most 90071992 in size");
    tb_decimal trade = (tb_decimal)llround(q * 1e8);
    if (trade > 0) {
        out->signal = TB_SIGNAL_BUY;
        out->volume = trade;
    } else if (trade < 0) {
        out->signal = TB_SIGNAL_SELL;
        out->volume = -trade;
    }
    return 0;
}

const tb_strategy_vtable tb_lua_legacy_vtable = {
    "legacy-lua",
    "legacy-lua: script=PATH seed=1 plus the params the script declares; an old-style "
    "on_bar(state, bar) -> signed trade in Lua (docs/migration.md)",
    legacy_create,
    legacy_on_bar,
    legacy_destroy,
    NULL,
};

/* ---- config check: the script's declared params ------------------------- */

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int print_value(FILE *out, lua_State *L, int idx)
{
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
        return fprintf(out, "%.15g", lua_tonumber(L, idx)) < 0;
    case LUA_TBOOLEAN:
        return fputs(lua_toboolean(L, idx) ? "true" : "false", out) == EOF;
    case LUA_TSTRING:
        return fprintf(out, "'%s'", lua_tostring(L, idx)) < 0;
    default:
        return fputs("?", out) == EOF;
    }
}

int tb_lua_script_params_print(FILE *out, const tb_param *params, size_t nparams)
{
    void *inner = NULL;
    char err[512] = "";
    /* Loading with the config's own values also proves they are accepted;
     * config check already reported it if not. */
    if (tb_lua_strategy_vtable.create(&tb_lua_strategy_vtable, params, nparams, &inner, err,
                                      sizeof err) != 0)
        return fprintf(out, "  (script params: not loaded: %s)\n", err) < 0 ? TB_EIO : 0;
    lua_State *L = tb__lua_strategy_state(inner);
    int bad = fputs("  (script params:", out) == EOF;
    lua_getglobal(L, "params");
    int decl = lua_gettop(L);
    const char *names[128];
    size_t nn = 0;
    if (lua_istable(L, decl)) {
        lua_pushnil(L);
        while (lua_next(L, decl)) {
            /* Strings kept alive by the params table, which stays on the stack. */
            if (lua_type(L, -2) == LUA_TSTRING && nn < sizeof names / sizeof names[0])
                names[nn++] = lua_tostring(L, -2);
            lua_pop(L, 1);
        }
    }
    qsort(names, nn, sizeof names[0], by_name);
    for (size_t i = 0; i < nn; i++) {
        lua_getfield(L, decl, names[i]);
        bad |= fprintf(out, "%s %s = ", i ? "," : "", names[i]) < 0;
        lua_getfield(L, -1, "default");
        bad |= print_value(out, L, -1);
        lua_getfield(L, -2, "min");
        lua_getfield(L, -3, "max");
        int lo = lua_isnumber(L, -2), hi = lua_isnumber(L, -1);
        if (lo || hi) bad |= fputs(" (", out) == EOF;
        if (lo) bad |= print_value(out, L, -2);
        if (lo || hi) bad |= fputs("..", out) == EOF;
        if (hi) bad |= print_value(out, L, -1);
        if (lo || hi) bad |= fputs(")", out) == EOF;
        lua_pop(L, 4);
    }
    if (nn == 0) bad |= fputs(" none declared", out) == EOF;
    bad |= fputs(")\n", out) == EOF;
    lua_pop(L, 1);
    tb_lua_strategy_vtable.destroy(inner);
    return bad ? TB_EIO : 0;
}
