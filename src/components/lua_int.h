/* Internal: what other modules reuse of type = lua's sandbox. */
#ifndef TB_LUA_INT_H
#define TB_LUA_INT_H

#include <lua.h>

/* The sandboxed lua_State inside a state made by tb_lua_strategy_vtable's
 * create (script loaded, params resolved, init(p) run), so another host can
 * call the script's own functions without building a second sandbox. Owned
 * by that state: closed by the vtable's destroy. */
lua_State *tb__lua_strategy_state(void *state);

#endif
