import CLua
import CLuaSupport
import Logging
import NIOCore
import RESP
import TernCore
#if canImport(Glibc)
import Glibc
#endif

/// The `redis` table scripts see (Redis 7.0's luaRegisterRedisAPI): call, pcall, error_reply, status_reply,
/// sha1hex, log, setresp, set_repl, replicate_commands, breakpoint, debug, acl_check_cmd and the constants.
/// Each function is a Swift function behind CLuaSupport's trampoline: returning -1 raises the value on top.
enum RedisLuaLibrary {
    static func register(_ L: LuaState, context: UnsafeMutableRawPointer) {
        tern_lua_newtable(L)
        func add(_ name: String, _ fn: tern_lua_function) {
            tern_lua_push_function(L, fn, context)
            lua_setfield(L, -2, name)
        }
        add("call") { L in RedisLuaLibrary.genericCall(L!, raise: true) }
        add("pcall") { L in RedisLuaLibrary.genericCall(L!, raise: false) }
        add("error_reply") { L in RedisLuaLibrary.errorReply(L!) }
        add("status_reply") { L in RedisLuaLibrary.statusReply(L!) }
        add("sha1hex") { L in RedisLuaLibrary.sha1hex(L!) }
        add("log") { L in RedisLuaLibrary.log(L!) }
        add("setresp") { L in RedisLuaLibrary.setResp(L!) }
        add("set_repl") { L in RedisLuaLibrary.setRepl(L!) }
        add("replicate_commands") { L in
            lua_pushboolean(L, 1)
            return 1
        }
        // Outside a debugging session (Tern has none) these do nothing, as in Redis.
        add("breakpoint") { L in
            lua_pushboolean(L, 0)
            return 1
        }
        add("debug") { _ in 0 }
        add("acl_check_cmd") { L in RedisLuaLibrary.aclCheckCommand(L!) }
        func constant(_ name: String, _ value: Int) {
            lua_pushnumber(L, lua_Number(value))
            lua_setfield(L, -2, name)
        }
        constant("LOG_DEBUG", 0)
        constant("LOG_VERBOSE", 1)
        constant("LOG_NOTICE", 2)
        constant("LOG_WARNING", 3)
        constant("REPL_NONE", 0)
        constant("REPL_AOF", 1)
        constant("REPL_SLAVE", 2)
        constant("REPL_REPLICA", 2)
        constant("REPL_ALL", 3)
        lua_pushstring(L, TernVersion.redisCompatible)
        lua_setfield(L, -2, "REDIS_VERSION")
        constant("REDIS_VERSION_NUM", versionNumber(TernVersion.redisCompatible))
        tern_lua_setglobal(L, "redis")
    }

    /// "7.0.15" -> 0x00070f as Redis's REDIS_VERSION_NUM.
    static func versionNumber(_ version: String) -> Int {
        let parts = version.split(separator: ".").map { Int($0) ?? 0 } + [0, 0, 0]
        return parts[0] << 16 | parts[1] << 8 | parts[2]
    }

    static func interpreter(_ L: LuaState) -> LuaInterpreter {
        Unmanaged<LuaInterpreter>.fromOpaque(tern_lua_context(L)!).takeUnretainedValue()
    }

    /// Pushes `{err = ...}` and raises it (-1), or returns it (1) for pcall.
    private static func fail(_ L: LuaState, _ message: String, raise: Bool = true) -> Int32 {
        LuaReply.pushError(L, message)
        return raise ? -1 : 1
    }

    /// redis.call / redis.pcall (Redis's luaRedisGenericCommand): the arguments become a command that goes
    /// through the server's one internal call path; its reply becomes a Lua value.
    static func genericCall(_ L: LuaState, raise: Bool) -> Int32 {
        let interpreter = interpreter(L)
        let argc = lua_gettop(L)
        if argc == 0 { return fail(L, "Please specify at least one argument for this redis lib call", raise: raise) }
        guard interpreter.run != nil else {
            return fail(L, "redis.call/pcall can only be called inside a script invocation", raise: raise)
        }
        var arguments: [ByteBuffer] = []
        arguments.reserveCapacity(Int(argc))
        for i in 1...argc {
            switch lua_type(L, i) {
            case LUA_TSTRING:
                var length = 0
                let p = tern_lua_tostring(L, i, &length)!
                arguments.append(ByteBuffer(bytes: UnsafeRawBufferPointer(start: p, count: length)))
            case LUA_TNUMBER:
                // Redis formats numbers with %.17g.
                let n = lua_tonumber(L, i)
                arguments.append(ByteBuffer(string: formatNumber(n)))
            default:
                return fail(L, "Lua redis lib command arguments must be strings or integers", raise: raise)
            }
        }
        let ctx = interpreter.scriptContext
        let client = interpreter.scriptClient
        client.resp = interpreter.run!.resp
        client.output.clear()
        let refusal = interpreter.server.callInternal(ctx, arguments, rules: &interpreter.run!.rules)
        if let refusal {
            switch refusal {
            case .unknownCommand: return fail(L, "Unknown Redis command called from script", raise: raise)
            case .wrongArity: return fail(L, "Wrong number of args calling Redis command from script", raise: raise)
            case .notAllowed: return fail(L, "This Redis command is not allowed from script", raise: raise)
            case .writeFromReadOnly: return fail(L, "Write commands are not allowed from read-only scripts.", raise: raise)
            case .aclDenied(let reason):
                let text: String
                switch reason {
                case .command: text = "The user executing the script can't run this command or subcommand"
                case .key: text = "The user executing the script can't access at least one of the keys mentioned in the command arguments"
                case .channel: text = "The user executing the script can't publish to the channel mentioned in the command"
                default: text = "The user executing the script is lacking the permissions for the command"
                }
                return fail(L, text, raise: raise)
            case .refused(let error): return fail(L, "-" + error.message, raise: raise)
            }
        }
        let isError = client.output.withUnsafeReadableBytes { raw -> Bool in
            var cursor = 0
            return LuaReply.push(L, raw, &cursor)
        }
        client.output.clear()
        return isError && raise ? -1 : 1
    }

    static func formatNumber(_ n: Double) -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
            let count = withVaList([n]) { vsnprintf(buffer.baseAddress!, 64, "%.17g", $0) }
            return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress!, count: Int(count)), as: UTF8.self)
        }
    }

    static func errorReply(_ L: LuaState) -> Int32 {
        guard lua_gettop(L) == 1, lua_type(L, -1) == LUA_TSTRING else {
            LuaReply.pushError(L, "wrong number or type of arguments")
            return 1
        }
        let text = LuaInterpreter.string(L, at: -1)
        LuaReply.pushError(L, text.hasPrefix("-") ? text : "-" + text)
        return 1
    }

    static func statusReply(_ L: LuaState) -> Int32 {
        guard lua_gettop(L) == 1, lua_type(L, -1) == LUA_TSTRING else {
            LuaReply.pushError(L, "wrong number or type of arguments")
            return 1
        }
        tern_lua_newtable(L)
        lua_pushvalue(L, -2)
        lua_setfield(L, -2, "ok")
        return 1
    }

    static func sha1hex(_ L: LuaState) -> Int32 {
        guard lua_gettop(L) == 1 else { return fail(L, "wrong number of arguments") }
        var length = 0
        guard let p = tern_lua_tostring(L, 1, &length) else { return fail(L, "wrong number of arguments") }
        let hex = SHA1.hex(UnsafeRawBufferPointer(start: p, count: length))
        lua_pushstring(L, hex)
        return 1
    }

    static func log(_ L: LuaState) -> Int32 {
        let argc = lua_gettop(L)
        if argc < 2 { return fail(L, "redis.log() requires two arguments or more.") }
        guard lua_isnumber(L, -argc) != 0 else { return fail(L, "First argument must be a number (log level).") }
        let level = Int(lua_tonumber(L, -argc))
        guard (0...3).contains(level) else { return fail(L, "Invalid debug level.") }
        var parts: [String] = []
        for j in 1..<argc {
            var length = 0
            if let p = tern_lua_tostring(L, -argc + j, &length) {
                parts.append(String(decoding: UnsafeRawBufferPointer(start: p, count: length), as: UTF8.self))
            }
        }
        let levels: [Logger.Level] = [.debug, .info, .notice, .warning]
        interpreter(L).server.logger.log(level: levels[level], "\(parts.joined(separator: " "))")
        return 0
    }

    static func setResp(_ L: LuaState) -> Int32 {
        let interpreter = interpreter(L)
        guard lua_gettop(L) == 1 else { return fail(L, "redis.setresp() requires one argument.") }
        let version = Int(lua_tonumber(L, -1))
        guard version == 2 || version == 3 else { return fail(L, "RESP version must be 2 or 3.") }
        interpreter.run?.resp = version == 3 ? .resp3 : .resp2
        return 0
    }

    static func setRepl(_ L: LuaState) -> Int32 {
        let interpreter = interpreter(L)
        guard lua_gettop(L) == 1 else { return fail(L, "redis.set_repl() requires one argument.") }
        let flags = Int(lua_tonumber(L, -1))
        guard flags & ~3 == 0 else {
            return fail(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
        }
        // Tern has no AOF: replication is the only destination.
        interpreter.run?.rules.propagate = flags & 2 != 0
        return 0
    }

    /// redis.acl_check_cmd: Tern has no ACL users yet, so an existing command with the right arity is allowed.
    static func aclCheckCommand(_ L: LuaState) -> Int32 {
        let interpreter = interpreter(L)
        let argc = lua_gettop(L)
        if argc == 0 { return fail(L, "Please specify at least one argument for this redis lib call") }
        var words: [ByteBuffer] = []
        for i in 1...argc {
            guard lua_type(L, i) == LUA_TSTRING || lua_type(L, i) == LUA_TNUMBER else {
                return fail(L, "Lua redis lib command arguments must be strings or integers")
            }
            var length = 0
            let p = tern_lua_tostring(L, i, &length)!
            words.append(ByteBuffer(bytes: UnsafeRawBufferPointer(start: p, count: length)))
        }
        guard interpreter.server.commands.lookup(words[0]) != nil else {
            return fail(L, "Invalid command passed to redis.acl_check_cmd()")
        }
        lua_pushboolean(L, 1)
        return 1
    }
}
