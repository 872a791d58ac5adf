import CLua
import CLuaSupport
import NIOCore
import RESP
import TernCore

/// The conversions between Lua values and replies, as Redis 7.0's script_lua.c: a command's reply (RESP2, or
/// RESP3 after `redis.setresp(3)`) becomes a Lua value, and a script's result becomes the caller's reply.
enum LuaReply {
    // MARK: reply -> Lua

    /// Pushes the reply at `cursor` in `bytes` (a complete reply a command wrote) onto the Lua stack and
    /// moves `cursor` past it. Returns whether it was an error reply.
    @discardableResult
    static func push(_ L: LuaState, _ bytes: UnsafeRawBufferPointer, _ cursor: inout Int) -> Bool {
        guard cursor < bytes.count else {
            lua_pushnil(L)
            return false
        }
        _ = lua_checkstack(L, 4)
        let type = bytes[cursor]
        let lineStart = cursor + 1
        var lineEnd = lineStart
        while lineEnd + 1 < bytes.count && !(bytes[lineEnd] == 13 && bytes[lineEnd + 1] == 10) { lineEnd += 1 }
        cursor = lineEnd + 2
        let line = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<lineEnd])
        func number() -> Int { parseInt(line) }
        switch type {
        case UInt8(ascii: "+"):
            tern_lua_newtable(L)
            pushBytes(L, line)
            lua_setfield(L, -2, "ok")
        case UInt8(ascii: "-"):
            pushError(L, line)
            lua_pushboolean(L, 1)
            lua_setfield(L, -2, "ignore_err_stats_update")
            return true
        case UInt8(ascii: ":"):
            lua_pushnumber(L, lua_Number(number()))
        case UInt8(ascii: "$"):
            let n = number()
            if n < 0 {
                lua_pushboolean(L, 0)
            } else {
                pushBytes(L, UnsafeRawBufferPointer(rebasing: bytes[cursor..<min(bytes.count, cursor + n)]))
                cursor += n + 2
            }
        case UInt8(ascii: "*"), UInt8(ascii: ">"):
            let n = number()
            if n < 0 {
                lua_pushboolean(L, 0)
            } else {
                lua_createtable(L, Int32(n), 0)
                for i in 0..<n {
                    push(L, bytes, &cursor)
                    lua_rawseti(L, -2, Int32(i + 1))
                }
            }
        case UInt8(ascii: "%"):
            let n = number()
            tern_lua_newtable(L)
            lua_createtable(L, 0, Int32(n))
            for _ in 0..<n {
                push(L, bytes, &cursor)
                push(L, bytes, &cursor)
                lua_settable(L, -3)
            }
            lua_setfield(L, -2, "map")
        case UInt8(ascii: "~"):
            let n = number()
            tern_lua_newtable(L)
            lua_createtable(L, 0, Int32(n))
            for _ in 0..<n {
                push(L, bytes, &cursor)
                lua_pushboolean(L, 1)
                lua_settable(L, -3)
            }
            lua_setfield(L, -2, "set")
        case UInt8(ascii: "_"):
            lua_pushnil(L)
        case UInt8(ascii: "#"):
            lua_pushboolean(L, line.first == UInt8(ascii: "t") ? 1 : 0)
        case UInt8(ascii: ","):
            tern_lua_newtable(L)
            lua_pushnumber(L, parseDouble(line))
            lua_setfield(L, -2, "double")
        case UInt8(ascii: "("):
            tern_lua_newtable(L)
            pushBytes(L, line)
            lua_setfield(L, -2, "big_number")
        case UInt8(ascii: "="):
            let n = number()
            let body = UnsafeRawBufferPointer(rebasing: bytes[cursor..<min(bytes.count, cursor + n)])
            cursor += n + 2
            tern_lua_newtable(L)
            tern_lua_newtable(L)
            pushBytes(L, UnsafeRawBufferPointer(rebasing: body.prefix(3)))
            lua_setfield(L, -2, "format")
            pushBytes(L, UnsafeRawBufferPointer(rebasing: body.dropFirst(min(4, body.count))))
            lua_setfield(L, -2, "string")
            lua_setfield(L, -2, "verbatim_string")
        case UInt8(ascii: "|"):
            // Attributes are skipped; the value follows them.
            let n = number()
            for _ in 0..<(2 * n) {
                push(L, bytes, &cursor)
                tern_lua_pop(L, 1)
            }
            return push(L, bytes, &cursor)
        default:
            lua_pushnil(L)
        }
        return false
    }

    /// Redis's luaPushErrorBuff for an error line ("CODE message"): `{err = "CODE message"}`, with ERR for a
    /// line without a code.
    static func pushError(_ L: LuaState, _ line: UnsafeRawBufferPointer) {
        tern_lua_newtable(L)
        var text = Array(line)
        while let last = text.last, last == 13 || last == 10 { text.removeLast() }
        if !text.contains(32) { text = Array("ERR ".utf8) + text }
        text.withUnsafeBytes { pushBytes(L, $0) }
        lua_setfield(L, -2, "err")
    }

    /// `{err = ...}` for an error the scripting layer words: "-CODE text" keeps its code, other text gets ERR.
    static func pushError(_ L: LuaState, _ message: String) {
        var bytes = Array(message.utf8)
        if bytes.first == UInt8(ascii: "-") {
            bytes.removeFirst()
            if !bytes.contains(32) { bytes = Array("ERR ".utf8) + bytes }
        } else {
            bytes = Array("ERR ".utf8) + bytes
        }
        tern_lua_newtable(L)
        bytes.withUnsafeBytes { pushBytes(L, $0) }
        lua_setfield(L, -2, "err")
    }

    static func pushBytes(_ L: LuaState, _ bytes: UnsafeRawBufferPointer) {
        lua_pushlstring(L, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
    }

    private static func parseInt(_ line: UnsafeRawBufferPointer) -> Int {
        var value = 0
        var negative = false
        for (i, c) in line.enumerated() {
            if i == 0 && c == UInt8(ascii: "-") { negative = true; continue }
            guard c >= 48 && c <= 57 else { break }
            value = value &* 10 &+ Int(c - 48)
        }
        return negative ? -value : value
    }

    private static func parseDouble(_ line: UnsafeRawBufferPointer) -> Double {
        let text = String(decoding: line, as: UTF8.self)
        switch text {
        case "inf": return .infinity
        case "-inf": return -.infinity
        case "nan", "-nan": return .nan
        default: return Double(text) ?? 0
        }
    }

    // MARK: Lua -> reply

    /// Writes the value on top of the stack as the caller's reply and pops it (Redis's luaReplyToRedisReply).
    /// `scriptResp` is the protocol the script chose: it decides what `true`/`false` become.
    static func write(_ L: LuaState, into out: inout ByteBuffer, callerResp: RESPVersion, scriptResp: RESPVersion) {
        defer { tern_lua_pop(L, 1) }
        guard lua_checkstack(L, 4) != 0 else {
            out.writeRESPError("ERR reached lua stack limit")
            return
        }
        switch lua_type(L, -1) {
        case LUA_TSTRING:
            var length = 0
            let p = tern_lua_tostring(L, -1, &length)!
            out.writeRESPBulk(UnsafeRawBufferPointer(start: p, count: length))
        case LUA_TBOOLEAN:
            let value = lua_toboolean(L, -1) != 0
            if scriptResp == .resp2 {
                if value { out.writeRESPInteger(1) } else { out.writeRESPNull(callerResp) }
            } else {
                out.writeRESPBool(value, callerResp)
            }
        case LUA_TNUMBER:
            out.writeRESPInteger(Int(truncatingDouble: lua_tonumber(L, -1)))
        case LUA_TTABLE:
            writeTable(L, into: &out, callerResp: callerResp, scriptResp: scriptResp)
        default:
            out.writeRESPNull(callerResp)
        }
    }

    /// Pushes t[field] (raw) and returns its type.
    private static func field(_ L: LuaState, _ name: String) -> Int32 {
        lua_pushstring(L, name)
        lua_rawget(L, -2)
        return lua_type(L, -1)
    }

    private static func writeTable(_ L: LuaState, into out: inout ByteBuffer, callerResp: RESPVersion,
                                   scriptResp: RESPVersion) {
        // An error, a status, a double, a big number, a verbatim string, a map, a set, else an array.
        if field(L, "err") == LUA_TSTRING {
            tern_lua_pop(L, 1)
            let info = errorInfo(L, at: -1)
            out.writeRESPError(info.message)
            return
        }
        tern_lua_pop(L, 1)
        if field(L, "ok") == LUA_TSTRING {
            var length = 0
            let p = tern_lua_tostring(L, -1, &length)!
            writeLine(&out, UInt8(ascii: "+"), UnsafeRawBufferPointer(start: p, count: length))
            tern_lua_pop(L, 1)
            return
        }
        tern_lua_pop(L, 1)
        if field(L, "double") == LUA_TNUMBER {
            RedisNumber.writeDouble(lua_tonumber(L, -1), into: &out, callerResp)
            tern_lua_pop(L, 1)
            return
        }
        tern_lua_pop(L, 1)
        if field(L, "big_number") == LUA_TSTRING {
            var length = 0
            let p = tern_lua_tostring(L, -1, &length)!
            let text = UnsafeRawBufferPointer(start: p, count: length)
            if callerResp == .resp3 { writeLine(&out, UInt8(ascii: "("), text) } else { out.writeRESPBulk(Array(text).map { $0 == 13 || $0 == 10 ? 32 : $0 }) }
            tern_lua_pop(L, 1)
            return
        }
        tern_lua_pop(L, 1)
        if field(L, "verbatim_string") == LUA_TTABLE {
            // Stack: table, verbatim.
            let format = field(L, "format") == LUA_TSTRING ? Array(stringBytes(L, -1)) : nil
            tern_lua_pop(L, 1)
            let text = field(L, "string") == LUA_TSTRING ? Array(stringBytes(L, -1)) : nil
            tern_lua_pop(L, 1)
            if let format, let text {
                if callerResp == .resp3 {
                    out.writeInteger(UInt8(ascii: "="))
                    out.writeDecimal(text.count + 4)
                    out.writeStaticString("\r\n")
                    out.writeBytes(format.prefix(3))
                    out.writeInteger(UInt8(ascii: ":"))
                    out.writeBytes(text)
                    out.writeStaticString("\r\n")
                } else {
                    out.writeRESPBulk(text)
                }
                tern_lua_pop(L, 1)
                return
            }
        }
        tern_lua_pop(L, 1)
        if field(L, "map") == LUA_TTABLE {
            var count = 0
            lua_pushnil(L)
            while lua_next(L, -2) != 0 { tern_lua_pop(L, 1); count += 1 }
            out.writeRESPMapHeader(count, callerResp)
            lua_pushnil(L)
            while lua_next(L, -2) != 0 {
                lua_pushvalue(L, -2)
                write(L, into: &out, callerResp: callerResp, scriptResp: scriptResp) // key
                write(L, into: &out, callerResp: callerResp, scriptResp: scriptResp) // value
            }
            tern_lua_pop(L, 1)
            return
        }
        tern_lua_pop(L, 1)
        if field(L, "set") == LUA_TTABLE {
            var count = 0
            lua_pushnil(L)
            while lua_next(L, -2) != 0 { tern_lua_pop(L, 1); count += 1 }
            out.writeRESPSetHeader(count, callerResp)
            lua_pushnil(L)
            while lua_next(L, -2) != 0 {
                tern_lua_pop(L, 1)
                lua_pushvalue(L, -1)
                write(L, into: &out, callerResp: callerResp, scriptResp: scriptResp)
            }
            tern_lua_pop(L, 1)
            return
        }
        tern_lua_pop(L, 1)
        // An array: 1, 2, ... up to the first nil.
        var count: Int32 = 0
        while true {
            lua_rawgeti(L, -1, count + 1)
            let isNil = lua_type(L, -1) == LUA_TNIL
            tern_lua_pop(L, 1)
            if isNil { break }
            count += 1
        }
        out.writeRESPArrayHeader(Int(count))
        var i: Int32 = 1
        while i <= count {
            lua_rawgeti(L, -1, i)
            write(L, into: &out, callerResp: callerResp, scriptResp: scriptResp)
            i += 1
        }
    }

    private static func stringBytes(_ L: LuaState, _ index: Int32) -> UnsafeRawBufferPointer {
        var length = 0
        let p = tern_lua_tostring(L, index, &length)
        return UnsafeRawBufferPointer(start: p, count: length)
    }

    /// `+text` / `(text` with CR and LF as spaces (Redis's sdsmapchars).
    private static func writeLine(_ out: inout ByteBuffer, _ marker: UInt8, _ text: UnsafeRawBufferPointer) {
        out.writeInteger(marker)
        if text.contains(where: { $0 == 13 || $0 == 10 }) {
            out.writeBytes(text.map { $0 == 13 || $0 == 10 ? 32 : $0 })
        } else {
            out.writeBytes(text)
        }
        out.writeStaticString("\r\n")
    }

    struct ErrorInfo {
        var message: String
        var source: String?
        var line: String?
        var ignoreStats: Bool
    }

    /// Redis's luaExtractErrorInformation for the error table at `index`.
    static func errorInfo(_ L: LuaState, at index: Int32) -> ErrorInfo {
        func text(_ name: String) -> String? {
            lua_getfield(L, index, name)
            defer { tern_lua_pop(L, 1) }
            guard lua_isstring(L, -1) != 0 else { return nil }
            return String(decoding: stringBytes(L, -1), as: UTF8.self)
        }
        let message = text("err") ?? ""
        let source = text("source")
        let line = text("line")
        lua_getfield(L, index, "ignore_err_stats_update")
        let ignore = lua_toboolean(L, -1) != 0
        tern_lua_pop(L, 1)
        return ErrorInfo(message: message, source: source, line: line, ignoreStats: ignore)
    }
}

extension Int {
    /// C's (long long) cast of a Lua number: truncation, saturating where C's is undefined.
    init(truncatingDouble d: Double) {
        // x86-64's conversion gives INT64_MIN for NaN and out-of-range values.
        self = d.isNaN || d >= 9.2233720368547758e18 || d < -9.2233720368547758e18 ? Int.min : Int(d)
    }
}
