// Debian's Lua 5.1 (liblua5.1-0-dev) plus the cjson and bit modules it packages (lua-cjson-dev, lua-bitop-dev).
// The C API's macros (lua_pop, lua_tostring, ...) don't import into Swift: CLuaSupport wraps them.
#include <lua5.1/lua.h>
#include <lua5.1/lauxlib.h>
#include <lua5.1/lualib.h>

int luaopen_cjson(lua_State *L);
int luaopen_bit(lua_State *L);
