// C glue between Tern's scripting target and Lua 5.1: wrappers for the C API's macros (they don't import
// into Swift), the interpreter's library set, the cmsgpack and struct modules Redis gives scripts, Redis's
// deterministic math.random, and trampolines so that Swift never unwinds through lua_error's longjmp.
#ifndef TERN_CLUA_SUPPORT_H
#define TERN_CLUA_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <lua5.1/lua.h>
#include <lua5.1/lauxlib.h>
#include <lua5.1/lualib.h>

static inline void tern_lua_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline void tern_lua_newtable(lua_State *L) { lua_newtable(L); }
static inline const char *tern_lua_tostring(lua_State *L, int i, size_t *len) { return lua_tolstring(L, i, len); }
static inline int tern_lua_isnil(lua_State *L, int i) { return lua_isnil(L, i); }
static inline int tern_lua_istable(lua_State *L, int i) { return lua_istable(L, i); }
static inline void tern_lua_getglobal(lua_State *L, const char *name) { lua_getglobal(L, name); }
static inline void tern_lua_setglobal(lua_State *L, const char *name) { lua_setglobal(L, name); }
static inline int tern_lua_registryindex(void) { return LUA_REGISTRYINDEX; }
static inline int tern_lua_globalsindex(void) { return LUA_GLOBALSINDEX; }
static inline int tern_lua_multret(void) { return LUA_MULTRET; }

/// A Swift function called from Lua. It returns the number of results, or -1 to raise the value on top of
/// the stack as a Lua error (the trampoline calls lua_error, so the longjmp never crosses a Swift frame).
typedef int (*tern_lua_function)(lua_State *L);

/// Pushes a Lua C function that calls `fn` and raises when it returns -1; `context` is what
/// tern_lua_context gives `fn` back.
void tern_lua_push_function(lua_State *L, tern_lua_function fn, void *context);

/// Inside a function pushed by tern_lua_push_function: its context.
static inline void *tern_lua_context(lua_State *L) { return lua_touserdata(L, lua_upvalueindex(2)); }

/// Opens the libraries Redis 7.0 gives scripts (base, table, string, math, debug, cjson, struct, cmsgpack,
/// bit), without loadfile/dofile, with Redis's math.random/randomseed (rand48, seeded with 0 here).
void tern_lua_open_libraries(lua_State *L);

/// Makes `table` (at the given index) read-only for scripts: a proxy whose writes fail with Redis's
/// "Attempt to modify a readonly table" and whose reads go to the original. Replaces the value at
/// `index` with the proxy.
void tern_lua_protect_table(lua_State *L, int index);

/// Gives the table at `index` Redis's strict metatable: reading a missing name raises "Script attempted to
/// access nonexistent global variable", writing raises "Attempt to modify a readonly table".
void tern_lua_set_strict(lua_State *L, int index);

/// Replaces the global table `name` by a read-only proxy (before tern_lua_protect_globals).
void tern_lua_protect_global_field(lua_State *L, const char *name);

/// Replaces the globals table with a read-only proxy whose missing names raise Redis's
/// "Script attempted to access nonexistent global variable '<name>'".
void tern_lua_protect_globals(lua_State *L);

/// The busy-script hook: every `count` instructions of `L` it calls `check(L, context)`, which returns
/// 0 to go on, 1 to yield (the script's time slice is over: lua_resume returns LUA_YIELD) or 2 to raise the
/// error value it pushed (SCRIPT KILL). A yield happens only where Lua allows one (not inside a C call such
/// as pcall or a metamethod); tern_lua_hook_yielded says whether the last lua_resume ended in one.
typedef int (*tern_lua_hook_check)(lua_State *L, void *context);
void tern_lua_set_count_hook(lua_State *L, int count, tern_lua_hook_check check, void *context);
/// After a kill: the hook runs on every line, so pcall can't catch the error and go on.
void tern_lua_set_line_hook(lua_State *L);
int tern_lua_hook_yielded(void);
void tern_lua_clear_hook_yielded(void);
/// Whether Debian's lua_State matches the layout this glue reads (nCcalls/baseCcalls, Lua 5.1.5); checked
/// once on a thread that has the hook set. When it doesn't, scripts never yield.
int tern_lua_layout_ok(lua_State *L);

int luaopen_cmsgpack(lua_State *L);
int luaopen_struct(lua_State *L);

#endif
