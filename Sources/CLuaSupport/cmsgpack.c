// cmsgpack for scripts: MessagePack with the byte choices of Redis's bundled lua-cmsgpack 0.4 (smallest
// integer encoding, float32 when exact, str8, arrays for tables with keys 1..n, 16 levels of nesting).
#include "CLuaSupport.h"
#include <limits.h>
#include <math.h>
#include <string.h>

#define MAX_NESTING 16

#include <stdlib.h>

/* A growable byte buffer of our own: luaL_Buffer would forbid pushing the values being packed. */
typedef struct { unsigned char *bytes; size_t len, cap; } outbuf;

static void put(outbuf *b, const unsigned char *p, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n) cap *= 2;
        unsigned char *grown = realloc(b->bytes, cap);
        if (!grown) abort();
        b->bytes = grown;
        b->cap = cap;
    }
    memcpy(b->bytes + b->len, p, n);
    b->len += n;
}

static void put_be(outbuf *b, unsigned char tag, uint64_t v, int bytes) {
    unsigned char out[9];
    out[0] = tag;
    for (int i = 0; i < bytes; i++) out[bytes - i] = (unsigned char)(v >> (8 * i));
    put(b, out, bytes + 1);
}

static void pack_int(outbuf *b, int64_t n) {
    if (n >= 0) {
        if (n <= 127) { unsigned char c = (unsigned char)n; put(b, &c, 1); }
        else if (n <= 0xff) put_be(b, 0xcc, (uint64_t)n, 1);
        else if (n <= 0xffff) put_be(b, 0xcd, (uint64_t)n, 2);
        else if (n <= 0xffffffffLL) put_be(b, 0xce, (uint64_t)n, 4);
        else put_be(b, 0xcf, (uint64_t)n, 8);
    } else {
        if (n >= -32) { unsigned char c = (unsigned char)(signed char)n; put(b, &c, 1); }
        else if (n >= -128) put_be(b, 0xd0, (uint64_t)n & 0xff, 1);
        else if (n >= -32768) put_be(b, 0xd1, (uint64_t)n & 0xffff, 2);
        else if (n >= -2147483648LL) put_be(b, 0xd2, (uint64_t)n & 0xffffffffULL, 4);
        else put_be(b, 0xd3, (uint64_t)n, 8);
    }
}

static void pack_double(outbuf *b, double d) {
    float f = (float)d;
    if (d == (double)f) {
        uint32_t bits;
        memcpy(&bits, &f, 4);
        put_be(b, 0xca, bits, 4);
    } else {
        uint64_t bits;
        memcpy(&bits, &d, 8);
        put_be(b, 0xcb, bits, 8);
    }
}

static void pack_string(outbuf *b, const char *s, size_t len) {
    if (len < 32) { unsigned char c = 0xa0 | (unsigned char)len; put(b, &c, 1); }
    else if (len <= 0xff) put_be(b, 0xd9, len, 1);
    else if (len <= 0xffff) put_be(b, 0xda, len, 2);
    else put_be(b, 0xdb, len, 4);
    put(b, (const unsigned char *)s, len);
}

static void pack_header(outbuf *b, size_t n, unsigned char fix, unsigned char t16, unsigned char t32) {
    if (n <= 15) { unsigned char c = fix | (unsigned char)n; put(b, &c, 1); }
    else if (n <= 0xffff) put_be(b, t16, n, 2);
    else put_be(b, t32, n, 4);
}

/* Keys exactly 1..n (positive integral numbers, as many as the largest). */
static int is_array(lua_State *L, int t) {
    lua_Number max = 0;
    long count = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        lua_Number n;
        if (lua_type(L, -1) != LUA_TNUMBER || (n = lua_tonumber(L, -1)) <= 0 || (lua_Number)(int)n != n) {
            lua_pop(L, 1);
            return 0;
        }
        if (n > max) max = n;
        count++;
    }
    return max == (lua_Number)count;
}

static void pack_value(lua_State *L, outbuf *b, int level);

static void pack_table(lua_State *L, outbuf *b, int t, int level) {
    if (is_array(L, t)) {
        size_t n = lua_objlen(L, t);
        pack_header(b, n, 0x90, 0xdc, 0xdd);
        for (size_t i = 1; i <= n; i++) {
            lua_rawgeti(L, t, (int)i);
            pack_value(L, b, level + 1);
        }
    } else {
        size_t n = 0;
        lua_pushnil(L);
        while (lua_next(L, t)) { lua_pop(L, 1); n++; }
        pack_header(b, n, 0x80, 0xde, 0xdf);
        lua_pushnil(L);
        while (lua_next(L, t)) {
            lua_pushvalue(L, -2);
            pack_value(L, b, level + 1);   /* key */
            pack_value(L, b, level + 1);   /* value */
        }
    }
}

/* Packs the value on top of the stack and pops it. */
static void pack_value(lua_State *L, outbuf *b, int level) {
    unsigned char c;
    int t = lua_type(L, -1);
    if (t == LUA_TTABLE && level == MAX_NESTING) t = LUA_TNIL;
    switch (t) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        pack_string(b, s, len);
        break;
    }
    case LUA_TBOOLEAN:
        c = lua_toboolean(L, -1) ? 0xc3 : 0xc2;
        put(b, &c, 1);
        break;
    case LUA_TNUMBER: {
        lua_Number n = lua_tonumber(L, -1);
        if (!isinf(n) && (lua_Number)(int64_t)n == n) pack_int(b, (int64_t)n);
        else pack_double(b, n);
        break;
    }
    case LUA_TTABLE:
        pack_table(L, b, lua_gettop(L), level);
        break;
    default:
        c = 0xc0;
        put(b, &c, 1);
    }
    lua_pop(L, 1);
}

static int mp_pack(lua_State *L) {
    int nargs = lua_gettop(L);
    if (nargs == 0) return luaL_argerror(L, 0, "MessagePack pack needs input.");
    luaL_checkstack(L, MAX_NESTING * 3 + 4, "in function mp_pack");
    outbuf b = { NULL, 0, 0 };
    for (int i = 1; i <= nargs; i++) {
        lua_pushvalue(L, i);
        pack_value(L, &b, 0);
    }
    lua_pushlstring(L, b.bytes ? (const char *)b.bytes : "", b.len);
    free(b.bytes);
    return 1;
}

typedef struct {
    const unsigned char *p;
    size_t left;
    int err; /* 1: missing bytes, 2: bad format */
} cursor;

static int need(cursor *c, size_t n) {
    if (c->left < n) { c->err = 1; return 0; }
    return 1;
}

static uint64_t read_be(cursor *c, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v = (v << 8) | c->p[i];
    c->p += bytes;
    c->left -= bytes;
    return v;
}

static void unpack_value(lua_State *L, cursor *c);

static void unpack_string(lua_State *L, cursor *c, size_t len) {
    if (!need(c, len)) return;
    lua_pushlstring(L, (const char *)c->p, len);
    c->p += len;
    c->left -= len;
}

static void unpack_array(lua_State *L, cursor *c, size_t n) {
    luaL_checkstack(L, 2, "in function unpack_array");
    lua_newtable(L);
    for (size_t i = 1; i <= n && !c->err; i++) {
        unpack_value(L, c);
        if (c->err) return;
        lua_rawseti(L, -2, (int)i);
    }
}

static void unpack_map(lua_State *L, cursor *c, size_t n) {
    luaL_checkstack(L, 3, "in function unpack_map");
    lua_newtable(L);
    for (size_t i = 0; i < n && !c->err; i++) {
        unpack_value(L, c);
        if (c->err) return;
        unpack_value(L, c);
        if (c->err) { lua_pop(L, 1); return; }
        lua_rawset(L, -3);
    }
}

static void unpack_value(lua_State *L, cursor *c) {
    if (!need(c, 1)) return;
    unsigned char tag = c->p[0];
    c->p++;
    c->left--;
    luaL_checkstack(L, 1, "too many nested values");
    if (tag <= 0x7f) { lua_pushnumber(L, tag); return; }
    if (tag >= 0xe0) { lua_pushnumber(L, (signed char)tag); return; }
    if ((tag & 0xe0) == 0xa0) { unpack_string(L, c, tag & 0x1f); return; }
    if ((tag & 0xf0) == 0x90) { unpack_array(L, c, tag & 0x0f); return; }
    if ((tag & 0xf0) == 0x80) { unpack_map(L, c, tag & 0x0f); return; }
    switch (tag) {
    case 0xc0: lua_pushnil(L); return;
    case 0xc2: lua_pushboolean(L, 0); return;
    case 0xc3: lua_pushboolean(L, 1); return;
    case 0xcc: if (need(c, 1)) lua_pushnumber(L, (lua_Number)read_be(c, 1)); return;
    case 0xcd: if (need(c, 2)) lua_pushnumber(L, (lua_Number)read_be(c, 2)); return;
    case 0xce: if (need(c, 4)) lua_pushnumber(L, (lua_Number)read_be(c, 4)); return;
    case 0xcf: if (need(c, 8)) lua_pushnumber(L, (lua_Number)read_be(c, 8)); return;
    case 0xd0: if (need(c, 1)) lua_pushnumber(L, (lua_Number)(int8_t)read_be(c, 1)); return;
    case 0xd1: if (need(c, 2)) lua_pushnumber(L, (lua_Number)(int16_t)read_be(c, 2)); return;
    case 0xd2: if (need(c, 4)) lua_pushnumber(L, (lua_Number)(int32_t)read_be(c, 4)); return;
    case 0xd3: if (need(c, 8)) lua_pushnumber(L, (lua_Number)(int64_t)read_be(c, 8)); return;
    case 0xca:
        if (need(c, 4)) {
            uint32_t bits = (uint32_t)read_be(c, 4);
            float f;
            memcpy(&f, &bits, 4);
            lua_pushnumber(L, (lua_Number)f);
        }
        return;
    case 0xcb:
        if (need(c, 8)) {
            uint64_t bits = read_be(c, 8);
            double d;
            memcpy(&d, &bits, 8);
            lua_pushnumber(L, (lua_Number)d);
        }
        return;
    case 0xc4: case 0xd9: if (need(c, 1)) unpack_string(L, c, (size_t)read_be(c, 1)); return;
    case 0xc5: case 0xda: if (need(c, 2)) unpack_string(L, c, (size_t)read_be(c, 2)); return;
    case 0xc6: case 0xdb: if (need(c, 4)) unpack_string(L, c, (size_t)read_be(c, 4)); return;
    case 0xdc: if (need(c, 2)) unpack_array(L, c, (size_t)read_be(c, 2)); return;
    case 0xdd: if (need(c, 4)) unpack_array(L, c, (size_t)read_be(c, 4)); return;
    case 0xde: if (need(c, 2)) unpack_map(L, c, (size_t)read_be(c, 2)); return;
    case 0xdf: if (need(c, 4)) unpack_map(L, c, (size_t)read_be(c, 4)); return;
    default: c->err = 2; return;
    }
}

static int unpack_full(lua_State *L, int limit, int offset) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    int decode_all = (!limit && !offset);
    if (offset < 0 || limit < 0)
        return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.", offset, (int)len);
    if ((size_t)offset > len)
        return luaL_error(L, "Start offset %d greater than input length %d.", offset, (int)len);
    if (decode_all) limit = INT_MAX;
    cursor c = { (const unsigned char *)s + offset, len - offset, 0 };
    int count;
    for (count = 0; c.left > 0 && count < limit; count++) {
        unpack_value(L, &c);
        if (c.err == 1) return luaL_error(L, "Missing bytes in input.");
        if (c.err == 2) return luaL_error(L, "Bad data format in input.");
    }
    if (!decode_all) {
        luaL_checkstack(L, 1, "in function mp_unpack_full");
        lua_pushinteger(L, c.left == 0 ? -1 : (lua_Integer)(len - c.left));
        lua_insert(L, 2);
        count++;
    }
    return count;
}

static int mp_unpack(lua_State *L) { return unpack_full(L, 0, 0); }

static int mp_unpack_one(lua_State *L) {
    int offset = (int)luaL_optinteger(L, 2, 0);
    lua_pop(L, lua_gettop(L) - 1);
    return unpack_full(L, 1, offset);
}

static int mp_unpack_limit(lua_State *L) {
    int limit = (int)luaL_checkinteger(L, 2);
    int offset = (int)luaL_optinteger(L, 3, 0);
    lua_pop(L, lua_gettop(L) - 1);
    return unpack_full(L, limit, offset);
}

static const luaL_Reg cmsgpack_functions[] = {
    {"pack", mp_pack},
    {"unpack", mp_unpack},
    {"unpack_one", mp_unpack_one},
    {"unpack_limit", mp_unpack_limit},
    {NULL, NULL},
};

int luaopen_cmsgpack(lua_State *L) {
    luaL_register(L, "cmsgpack", cmsgpack_functions);
    lua_pushliteral(L, "cmsgpack");
    lua_setfield(L, -2, "_NAME");
    lua_pushliteral(L, "lua-cmsgpack 0.4.0");
    lua_setfield(L, -2, "_VERSION");
    lua_pushliteral(L, "MessagePack C implementation for Lua");
    lua_setfield(L, -2, "_DESCRIPTION");
    return 1;
}
