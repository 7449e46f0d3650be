/* tradebus — strategies written in Lua (LuaJIT), loaded at run time.
 *
 *   [strategy.mr]
 *   type = lua
 *   script = strategies/mr.lua     ; relative to the working directory, like data
 *   symbol = ETHUSDT
 *   period = 20                    ; any other key: a param the script declares
 *   seed = 7                       ; optional: math.random's seed (default 1)
 *
 * The script declares its params (`params = { period = {default = 20, min = 2,
 * max = 500} }`), builds its indicators in `init(p)` and decides in
 * `on_bar(bar, ctx)` by calling buy(qty), sell(qty) or target(qty), or
 * nothing (HOLD). docs/strategies.md teaches the API.
 *
 * Sandbox: only the base (without dofile, loadfile, load, loadstring, print),
 * string (without dump), table, math and bit libraries are there: no os, io,
 * package/require, ffi, jit or debug. A script can neither touch files nor run
 * programs, and the same data and config give the same decisions. */
#ifndef TRADEBUS_LUA_STRATEGY_H
#define TRADEBUS_LUA_STRATEGY_H

#include "strategy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The vtable of type = lua (in tb_strategy_builtin's table). Its create loads the
 * script named by the "script" param: TB_ECONFIG with "key: what is wrong"
 * in err for a missing script, a syntax or load-time error ("script:
 * FILE:LINE: message"), an undeclared key or a value outside the script's
 * declared range. Its on_bar returns TB_EHANDLER on the bar whose on_bar
 * raised a Lua error (the message, with the script's FILE:LINE and the bar's
 * time and symbol, goes to stderr); from then on the instance holds. */
TB_EXPORT extern const tb_strategy_vtable tb_lua_strategy_vtable;

#ifdef __cplusplus
}
#endif
#endif
