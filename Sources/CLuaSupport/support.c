#include "CLuaSupport.h"
#include <string.h>
#include <math.h>

int luaopen_cjson(lua_State *L);
int luaopen_bit(lua_State *L);

static int tern_trampoline(lua_State *L) {
    tern_lua_function fn = (tern_lua_function)lua_touserdata(L, lua_upvalueindex(1));
    int n = fn(L);
    if (n < 0) return lua_error(L);
    return n;
}

void tern_lua_push_function(lua_State *L, tern_lua_function fn, void *context) {
    lua_pushlightuserdata(L, (void *)fn);
    lua_pushlightuserdata(L, context);
    lua_pushcclosure(L, tern_trampoline, 2);
}

/* Redis's rand48 (src/rand.c): the classic 48-bit linear congruential generator, seeded per script. */
static uint64_t rand48_state = 0x330E;

static void rand48_seed(int32_t seed) {
    rand48_state = (((uint64_t)(uint32_t)seed) << 16) | 0x330E;
}

static int32_t rand48_next(void) {
    rand48_state = (rand48_state * 0x5DEECE66DULL + 0xB) & 0xFFFFFFFFFFFFULL;
    return (int32_t)(rand48_state >> 17);
}

static int redis_math_random(lua_State *L) {
    /* As Redis's redis_math_random: Lua 5.1's math.random on top of rand48. */
    lua_Number r = (lua_Number)(rand48_next() % 2147483647) / (lua_Number)2147483647;
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, r);
        break;
    case 1: {
        int u = luaL_checkint(L, 1);
        luaL_argcheck(L, 1 <= u, 1, "interval is empty");
        lua_pushnumber(L, floor(r * u) + 1);
        break;
    }
    case 2: {
        int l = luaL_checkint(L, 1);
        int u = luaL_checkint(L, 2);
        luaL_argcheck(L, l <= u, 2, "interval is empty");
        lua_pushnumber(L, floor(r * (u - l + 1)) + l);
        break;
    }
    default:
        return luaL_error(L, "wrong number of arguments");
    }
    return 1;
}

static int redis_math_randomseed(lua_State *L) {
    rand48_seed(luaL_checkint(L, 1));
    return 0;
}

static void load_library(lua_State *L, const char *name, lua_CFunction open) {
    lua_pushcfunction(L, open);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

void tern_lua_open_libraries(lua_State *L) {
    load_library(L, "", luaopen_base);
    load_library(L, LUA_TABLIBNAME, luaopen_table);
    load_library(L, LUA_STRLIBNAME, luaopen_string);
    load_library(L, LUA_MATHLIBNAME, luaopen_math);
    load_library(L, LUA_DBLIBNAME, luaopen_debug);
    /* Debian's lua-cjson returns its table without setting the global. */
    lua_pushcfunction(L, luaopen_cjson);
    lua_call(L, 0, 1);
    lua_setglobal(L, "cjson");
    load_library(L, "struct", luaopen_struct);
    load_library(L, "cmsgpack", luaopen_cmsgpack);
    load_library(L, "bit", luaopen_bit);
    /* Scripts never touch the file system. */
    lua_pushnil(L);
    lua_setglobal(L, "loadfile");
    lua_pushnil(L);
    lua_setglobal(L, "dofile");
    lua_getglobal(L, "math");
    lua_pushcfunction(L, redis_math_random);
    lua_setfield(L, -2, "random");
    lua_pushcfunction(L, redis_math_randomseed);
    lua_setfield(L, -2, "randomseed");
    lua_pop(L, 1);
    rand48_seed(0);
}

static int readonly_newindex(lua_State *L) {
    return luaL_error(L, "Attempt to modify a readonly table");
}

static int missing_global(lua_State *L) {
    const char *name = lua_tostring(L, 2);
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'", name ? name : "?");
}

void tern_lua_protect_table(lua_State *L, int index) {
    if (index < 0 && index > LUA_REGISTRYINDEX) index = lua_gettop(L) + index + 1;
    lua_newtable(L);              /* proxy */
    lua_newtable(L);              /* its metatable */
    lua_pushvalue(L, index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, readonly_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_replace(L, index);
}

void tern_lua_set_strict(lua_State *L, int index) {
    if (index < 0 && index > LUA_REGISTRYINDEX) index = lua_gettop(L) + index + 1;
    lua_newtable(L);
    lua_pushcfunction(L, missing_global);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, readonly_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, index);
}

void tern_lua_protect_global_field(lua_State *L, const char *name) {
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_pushstring(L, name);
    lua_rawget(L, -2);
    if (lua_istable(L, -1)) {
        tern_lua_protect_table(L, -1);
        lua_pushstring(L, name);
        lua_insert(L, -2);
        lua_rawset(L, -3);
        lua_pop(L, 1);
    } else {
        lua_pop(L, 2);
    }
}

void tern_lua_protect_globals(lua_State *L) {
    /* The real globals table: missing names raise. */
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_newtable(L);
    lua_pushcfunction(L, missing_global);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, readonly_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
    /* Scripts see a read-only proxy of it, also through _G. */
    lua_pushvalue(L, -1);
    tern_lua_protect_table(L, -1);
    lua_pushstring(L, "_G");
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
    lua_replace(L, LUA_GLOBALSINDEX);
    lua_pop(L, 1);
}

/* The head of Lua 5.1.5's struct lua_State (lstate.h), up to the hook fields: lua_yield refuses to yield
 * when nCcalls > baseCcalls ("attempt to yield across metamethod/C-call boundary"), an error we must never
 * raise from the hook, and the API has no way to ask. */
typedef struct {
    void *next;
    unsigned char tt, marked, status;
    void *top, *base, *l_G, *ci;
    const void *savedpc;
    void *stack_last, *stack, *end_ci, *base_ci;
    int stacksize, size_ci;
    unsigned short nCcalls, baseCcalls;
    unsigned char hookmask, allowhook;
    int basehookcount, hookcount;
    lua_Hook hook;
} lua_state_head;

static tern_lua_hook_check hook_check = NULL;
static void *hook_context = NULL;
static int hook_yielded = 0;
static int layout_checked = 0, layout_ok = 0;

int tern_lua_layout_ok(lua_State *L) {
    const lua_state_head *head = (const lua_state_head *)L;
    return head->hookmask == (unsigned char)lua_gethookmask(L) && head->basehookcount == lua_gethookcount(L)
        && head->hook == lua_gethook(L);
}

static void count_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    if (!hook_check) return;
    int action = hook_check(L, hook_context);
    if (action == 2) {
        lua_error(L);
    } else if (action == 1 && layout_ok) {
        const lua_state_head *head = (const lua_state_head *)L;
        if (head->nCcalls <= head->baseCcalls) {
            hook_yielded = 1;
            lua_yield(L, 0);
        }
    }
}

void tern_lua_set_count_hook(lua_State *L, int count, tern_lua_hook_check check, void *context) {
    hook_check = check;
    hook_context = context;
    lua_sethook(L, count_hook, LUA_MASKCOUNT, count);
    if (!layout_checked) {
        layout_checked = 1;
        layout_ok = tern_lua_layout_ok(L);
    }
}

void tern_lua_set_line_hook(lua_State *L) {
    lua_sethook(L, count_hook, LUA_MASKLINE, 0);
}

int tern_lua_hook_yielded(void) { return hook_yielded; }
void tern_lua_clear_hook_yielded(void) { hook_yielded = 0; }
