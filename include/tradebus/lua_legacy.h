/* tradebus — an old-style strategy written in Lua, run on the pipeline.
 *
 *   [strategy.mom]
 *   type = legacy-lua
 *   script = examples/legacy/momentum.lua
 *   symbol = BTCUSDT
 *   lookback = 30                  ; any other key: a param the script declares
 *
 * The Lua counterpart of legacy.h's old-style interface: the script is one
 * function `on_bar(state, bar)` returning the signed quantity to trade
 * (> 0 buy, < 0 sell, 0 or nil nothing). `state` is a Lua table the host
 * keeps from bar to bar; before every bar the host writes state.position,
 * the instance's target position (what the script asked for, less what was
 * rejected or canceled), exactly as the C adapter writes tb_legacy_view. The
 * script runs in type = lua's sandbox (lua_strategy.h): same libraries, same
 * `params` declarations, init(p), seed, indicators and FILE:LINE errors.
 *
 * Also here: the listing `tradebus config check` prints for a script's
 * declared params. */
#ifndef TRADEBUS_LUA_LEGACY_H
#define TRADEBUS_LUA_LEGACY_H

#include <stdio.h>
#include "strategy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The vtable of type = legacy-lua (in tb_strategy_builtin's table). create:
 * as tb_lua_strategy_vtable's. on_bar: TB_EHANDLER on the bar whose on_bar
 * raised a Lua error or returned something other than a number or nil (the
 * message to stderr), then the instance holds. */
TB_EXPORT extern const tb_strategy_vtable tb_lua_legacy_vtable;

/* Prints "  (script params: NAME = DEFAULT (MIN..MAX), ...)" for the script
 * named by params' "script" key, names sorted; a script that does not load
 * gets "  (script params: not loaded: MESSAGE)". 0, or TB_EIO on a write
 * error. */
TB_EXPORT int tb_lua_script_params_print(FILE *out, const tb_param *params, size_t nparams);

#ifdef __cplusplus
}
#endif
#endif
