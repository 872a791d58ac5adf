// struct for scripts: struct.pack / struct.unpack / struct.size with the format language and byte layout of
// the struct library Redis bundles (endianness '<' '>' '=' , alignment '!n', integers b B h H l L T i[n] I[n],
// x padding, f d floats, c[n] fixed strings (c0: length from the previous value), s zero-terminated strings).
#include "CLuaSupport.h"
#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>

#define MAXINTSIZE 32
#define BIG 0
#define LITTLE 1

struct align_probe { char c; union { double d; void *p; lua_Number n; long l; } u; };
#define MAXALIGN (offsetof(struct align_probe, u))

static const union { int dummy; char endian; } native = {1};

typedef struct { int endian; int align; } header;

static int getnum(lua_State *L, const char **fmt, int df) {
    if (!isdigit((unsigned char)**fmt)) return df;
    int a = 0;
    do {
        if (a > (INT_MAX / 10) || a * 10 > (INT_MAX - (**fmt - '0')))
            luaL_error(L, "integral size overflow");
        a = a * 10 + *((*fmt)++) - '0';
    } while (isdigit((unsigned char)**fmt));
    return a;
}

static size_t optsize(lua_State *L, char opt, const char **fmt) {
    switch (opt) {
    case 'B': case 'b': return sizeof(char);
    case 'H': case 'h': return sizeof(short);
    case 'L': case 'l': return sizeof(long);
    case 'T': return sizeof(size_t);
    case 'f': return sizeof(float);
    case 'd': return sizeof(double);
    case 'x': return 1;
    case 'c': return (size_t)getnum(L, fmt, 1);
    case 'i': case 'I': {
        int sz = getnum(L, fmt, sizeof(int));
        if (sz > MAXINTSIZE)
            luaL_error(L, "integral size %d is larger than limit of %d", sz, MAXINTSIZE);
        return (size_t)sz;
    }
    default: return 0;
    }
}

/* Padding that aligns an element of `size` at `len`. */
static int gettoalign(size_t len, header *h, int opt, size_t size) {
    if (size == 0 || opt == 'c') return 0;
    if (size > (size_t)h->align) size = (size_t)h->align;
    return (int)((size - (len & (size - 1))) & (size - 1));
}

static void controloptions(lua_State *L, int opt, const char **fmt, header *h) {
    switch (opt) {
    case ' ': return;
    case '>': h->endian = BIG; return;
    case '<': h->endian = LITTLE; return;
    case '=': h->endian = native.endian; return;
    case '!': {
        int a = getnum(L, fmt, (int)MAXALIGN);
        if (a <= 0 || (a & (a - 1)) != 0) luaL_error(L, "alignment %d is not a power of 2", a);
        h->align = a;
        return;
    }
    default: {
        const char *msg = lua_pushfstring(L, "invalid format option '%c'", opt);
        luaL_argerror(L, 1, msg);
    }
    }
}

static void putinteger(lua_State *L, luaL_Buffer *b, int arg, int endian, int size) {
    lua_Number n = luaL_checknumber(L, arg);
    unsigned long value;
    char buff[MAXINTSIZE];
    if (n < 0) value = (unsigned long)(long)n;
    else value = (unsigned long)n;
    if (endian == LITTLE) {
        for (int i = 0; i < size; i++) { buff[i] = (char)(value & 0xff); value >>= 8; }
    } else {
        for (int i = size - 1; i >= 0; i--) { buff[i] = (char)(value & 0xff); value = value >> 8; }
    }
    luaL_addlstring(b, buff, (size_t)size);
}

static void correctbytes(char *b, int size, int endian) {
    if (endian != native.endian) {
        int i = 0;
        while (i < --size) {
            char temp = b[i];
            b[i++] = b[size];
            b[size] = temp;
        }
    }
}

static int b_pack(lua_State *L) {
    luaL_Buffer b;
    const char *fmt = luaL_checkstring(L, 1);
    header h = { native.endian, 1 };
    int arg = 2;
    size_t totalsize = 0;
    lua_pushnil(L);  /* separates the arguments from the buffer's pieces */
    luaL_buffinit(L, &b);
    while (*fmt != '\0') {
        int opt = *fmt++;
        size_t size = optsize(L, (char)opt, &fmt);
        int toalign = gettoalign(totalsize, &h, opt, size);
        totalsize += (size_t)toalign;
        while (toalign-- > 0) luaL_addchar(&b, '\0');
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T': case 'i': case 'I':
            putinteger(L, &b, arg++, h.endian, (int)size);
            break;
        case 'x':
            luaL_addchar(&b, '\0');
            break;
        case 'f': {
            float f = (float)luaL_checknumber(L, arg++);
            correctbytes((char *)&f, (int)size, h.endian);
            luaL_addlstring(&b, (char *)&f, size);
            break;
        }
        case 'd': {
            double d = luaL_checknumber(L, arg++);
            correctbytes((char *)&d, (int)size, h.endian);
            luaL_addlstring(&b, (char *)&d, size);
            break;
        }
        case 'c': case 's': {
            size_t l;
            const char *s = luaL_checklstring(L, arg++, &l);
            if (size == 0) size = l;
            luaL_argcheck(L, l >= size, arg, "string too short");
            luaL_addlstring(&b, s, size);
            if (opt == 's') {
                luaL_addchar(&b, '\0');
                size++;
            }
            break;
        }
        default:
            controloptions(L, opt, &fmt, &h);
        }
        totalsize += size;
    }
    luaL_pushresult(&b);
    return 1;
}

static lua_Number getinteger(const char *buff, int endian, int issigned, int size) {
    unsigned long l = 0;
    if (endian == BIG) {
        for (int i = 0; i < size; i++) { l <<= 8; l |= (unsigned long)(unsigned char)buff[i]; }
    } else {
        for (int i = size - 1; i >= 0; i--) { l <<= 8; l |= (unsigned long)(unsigned char)buff[i]; }
    }
    if (!issigned) return (lua_Number)l;
    if (size < (int)sizeof(long)) {
        unsigned long mask = (~0UL) << (size * 8 - 1);
        if (l & mask) l |= mask;  /* sign extension */
    }
    return (lua_Number)(long)l;
}

static int b_unpack(lua_State *L) {
    header h = { native.endian, 1 };
    const char *fmt = luaL_checkstring(L, 1);
    size_t ld;
    const char *data = luaL_checklstring(L, 2, &ld);
    size_t pos = (size_t)luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, pos > 0, 3, "offset must be 1 or greater");
    pos--;
    int n = 0;
    while (*fmt) {
        int opt = *fmt++;
        size_t size = optsize(L, (char)opt, &fmt);
        pos += (size_t)gettoalign(pos, &h, opt, size);
        luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
        luaL_checkstack(L, 2, "too many results");
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T': case 'i': case 'I':
            lua_pushnumber(L, getinteger(data + pos, h.endian, islower(opt), (int)size));
            n++;
            break;
        case 'x':
            break;
        case 'f': {
            float f;
            memcpy(&f, data + pos, size);
            correctbytes((char *)&f, sizeof(f), h.endian);
            lua_pushnumber(L, f);
            n++;
            break;
        }
        case 'd': {
            double d;
            memcpy(&d, data + pos, size);
            correctbytes((char *)&d, sizeof(d), h.endian);
            lua_pushnumber(L, d);
            n++;
            break;
        }
        case 'c':
            if (size == 0) {
                if (n == 0 || !lua_isnumber(L, -1)) luaL_error(L, "format 'c0' needs a previous size");
                size = (size_t)lua_tonumber(L, -1);
                lua_pop(L, 1);
                n--;
                luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
            }
            lua_pushlstring(L, data + pos, size);
            n++;
            break;
        case 's': {
            const char *e = (const char *)memchr(data + pos, '\0', ld - pos);
            if (e == NULL) luaL_error(L, "unfinished string in data");
            size = (size_t)(e - (data + pos)) + 1;
            lua_pushlstring(L, data + pos, size - 1);
            n++;
            break;
        }
        default:
            controloptions(L, opt, &fmt, &h);
        }
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos + 1);
    return n + 1;
}

static int b_size(lua_State *L) {
    header h = { native.endian, 1 };
    const char *fmt = luaL_checkstring(L, 1);
    size_t pos = 0;
    while (*fmt) {
        int opt = *fmt++;
        size_t size = optsize(L, (char)opt, &fmt);
        pos += (size_t)gettoalign(pos, &h, opt, size);
        if (opt == 's') luaL_argerror(L, 1, "option 's' has no fixed size");
        else if (opt == 'c' && size == 0) luaL_argerror(L, 1, "option 'c0' has no fixed size");
        if (!isalnum(opt)) controloptions(L, opt, &fmt, &h);
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos);
    return 1;
}

static const luaL_Reg struct_functions[] = {
    {"pack", b_pack},
    {"unpack", b_unpack},
    {"size", b_size},
    {NULL, NULL},
};

int luaopen_struct(lua_State *L) {
    luaL_register(L, "struct", struct_functions);
    return 1;
}
