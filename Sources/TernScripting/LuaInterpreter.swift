import CLua
import CLuaSupport
import Logging
import NIOCore
import RESP
import TernCore

typealias LuaState = OpaquePointer

/// A script's shebang flags (`#!lua flags=...`); without a shebang a script runs in EVAL's compatibility mode.
struct ScriptFlags: OptionSet {
    let rawValue: UInt8
    static let noWrites = ScriptFlags(rawValue: 1 << 0)
    static let allowOOM = ScriptFlags(rawValue: 1 << 1)
    static let allowStale = ScriptFlags(rawValue: 1 << 2)
    static let noCluster = ScriptFlags(rawValue: 1 << 3)
    static let allowCrossSlot = ScriptFlags(rawValue: 1 << 4)
    /// No shebang: the script declares nothing, so EVAL keeps its own flags.
    static let evalCompat = ScriptFlags(rawValue: 1 << 5)

    static let names: [(String, ScriptFlags)] = [
        ("no-writes", .noWrites), ("allow-oom", .allowOOM), ("allow-stale", .allowStale),
        ("no-cluster", .noCluster), ("allow-cross-slot-keys", .allowCrossSlot),
    ]

    /// Redis's evalExtractShebangFlags: the flags and the shebang's length (its newline stays in the body, so
    /// line numbers are the user's), or the error text.
    static func parse(_ body: [UInt8]) -> Result<(ScriptFlags, Int), CommandError> {
        guard body.count >= 2, body[0] == UInt8(ascii: "#"), body[1] == UInt8(ascii: "!") else {
            return .success((.evalCompat, 0))
        }
        guard let end = body.firstIndex(of: 10) else { return .failure(.err("Invalid script shebang")) }
        let line = String(decoding: body[..<end], as: UTF8.self)
        let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
        guard let engine = parts.first else { return .failure(.err("Invalid engine in script shebang")) }
        guard engine == "#!lua" else { return .failure(.err("Unexpected engine in script shebang: \(engine)")) }
        var flags: ScriptFlags = []
        for part in parts.dropFirst() {
            guard part.hasPrefix("flags=") else { return .failure(.err("Unknown lua shebang option: \(part)")) }
            let list = part.dropFirst(6)
            if list.isEmpty { continue }
            for name in list.split(separator: ",", omittingEmptySubsequences: false) {
                guard let flag = names.first(where: { $0.0 == name })?.1 else {
                    return .failure(.err("Unexpected flag in script shebang: \(name)"))
                }
                flags.insert(flag)
            }
        }
        return .success((flags, end))
    }
}

/// A compiled script in the cache: its body (SCRIPT EXISTS, replication of nothing but effects), flags, and
/// the compiled function's registry reference.
final class CachedScript {
    let sha: String
    let flags: ScriptFlags
    let functionRef: Int32
    init(sha: String, flags: ScriptFlags, functionRef: Int32) {
        self.sha = sha
        self.flags = flags
        self.functionRef = functionRef
    }
}

/// The run under way: who called, with which rules, and the script's reply protocol (`redis.setresp`).
struct ScriptRun {
    let caller: CommandContext
    var rules: InternalCallRules
    var resp: RESPVersion = .resp2
}

/// The one Lua interpreter (as Redis has one for all clients), its script cache and the fake client its
/// commands run as. Lives on the command thread.
final class LuaInterpreter {
    let server: ServerState
    private(set) var L: LuaState
    private(set) var scripts: [String: CachedScript] = [:]
    private var errorHandlerRef: Int32 = 0
    private var globalsRef: Int32 = 0
    var run: ScriptRun?
    /// Redis's "lua client": commands from scripts run as this client, their replies land in its output.
    let scriptClient: Client
    let scriptContext: CommandContext
    private var callsSinceGC = 0

    init(server: ServerState) {
        self.server = server
        scriptClient = Client(id: 0, address: "lua", localAddress: "", authenticated: true, now: server.commandTimeMillis)
        scriptContext = CommandContext(server: server, client: scriptClient)
        L = luaL_newstate()
        setUp()
    }

    deinit { lua_close(L) }

    var scriptCount: Int { scripts.count }

    /// SCRIPT FLUSH: a new interpreter, as Redis's scriptingReset.
    func reset() {
        lua_close(L)
        scripts.removeAll()
        L = luaL_newstate()
        setUp()
    }

    private func setUp() {
        tern_lua_open_libraries(L)
        RedisLuaLibrary.register(L, context: Unmanaged.passUnretained(self).toOpaque())
        // The pcall handler adds where the error happened (the caller's line when a C function raised), and
        // turns a plain error into Redis's error table. It keeps `debug` for itself: scripts don't see it.
        let handler = """
            local dbg = debug
            debug = nil
            return function(err)
              local i = dbg.getinfo(2, 'nSl')
              if i and i.what == 'C' then i = dbg.getinfo(3, 'nSl') end
              if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)} end
              if i then
                err['source'] = i.source
                err['line'] = i.currentline
              end
              return err
            end
            """
        _ = handler.withCString { luaL_loadbuffer(L, $0, handler.utf8.count, "@err_handler_def") }
        lua_pcall(L, 0, 1, 0)
        errorHandlerRef = luaL_ref(L, tern_lua_registryindex())
        for name in ["redis", "cjson", "bit", "struct", "cmsgpack", "string", "math", "table", "coroutine"] {
            tern_lua_protect_global_field(L, name)
        }
        lua_pushvalue(L, tern_lua_globalsindex())
        globalsRef = luaL_ref(L, tern_lua_registryindex())
        tern_lua_protect_globals(L)
    }

    // MARK: scripts

    func script(sha: String) -> CachedScript? { scripts[sha] }

    /// Compiles and caches a script body (EVAL, SCRIPT LOAD); an existing one is returned as is.
    func load(_ body: [UInt8]) throws -> CachedScript {
        let sha = SHA1.hex(body)
        if let cached = scripts[sha] { return cached }
        let (flags, shebangLength) = try ScriptFlags.parse(body).get()
        let status = body.withUnsafeBufferPointer { raw -> Int32 in
            let start = UnsafeRawPointer(raw.baseAddress!).advanced(by: shebangLength).assumingMemoryBound(to: CChar.self)
            return luaL_loadbuffer(L, start, raw.count - shebangLength, "@user_script")
        }
        if status != 0 {
            let message = string(at: -1)
            tern_lua_pop(L, 1)
            throw CommandError.err("Error compiling script (new function): \(message)")
        }
        let script = CachedScript(sha: sha, flags: flags, functionRef: luaL_ref(L, tern_lua_registryindex()))
        scripts[sha] = script
        return script
    }

    /// Flags for the dispatcher's admission checks, as Redis's evalGetCommandFlags: a script that declared flags
    /// replaces EVAL's write, deny-oom and stale flags with what it declared.
    func commandFlags(_ base: CommandFlags, body: ByteBuffer?, sha: String?) -> CommandFlags {
        var flags: ScriptFlags
        if let sha, let script = scripts[sha] {
            flags = script.flags
        } else if let body {
            let bytes = Array(body.readableBytesView)
            if let script = scripts[SHA1.hex(bytes)] {
                flags = script.flags
            } else if case .success(let parsed) = ScriptFlags.parse(bytes) {
                flags = parsed.0
            } else {
                return base
            }
        } else {
            return base
        }
        if flags.contains(.evalCompat) { return base }
        var result = base.subtracting([.stale, .denyoom, .write, .mayReplicate])
        if flags.isDisjoint(with: [.allowOOM, .noWrites]) { result.insert(.denyoom) }
        if !flags.contains(.noWrites) { result.insert(.write) }
        if flags.contains(.allowStale) { result.insert(.stale) }
        return result
    }

    // MARK: running

    /// Runs a cached script for `ctx` (EVAL and friends) and writes its reply.
    func execute(_ script: CachedScript, _ ctx: CommandContext, keys: ArraySlice<ByteBuffer>,
                 arguments: ArraySlice<ByteBuffer>, readOnlyCommand: Bool) throws {
        let server = ctx.server
        let caller = ctx.client
        let fromMaster = caller.flags.contains(.master)
        let flags = script.flags
        let runningStale = server.isReplica && !server.masterLinkUp && !server.config.replicaServeStaleData
        if !flags.contains(.evalCompat) {
            if runningStale && !flags.contains(.allowStale) {
                throw CommandError("MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' and 'allow-stale' flag is not set")
            }
            if !flags.contains(.noWrites) {
                if server.isReplica && server.config.replicaReadOnly && !fromMaster {
                    throw CommandError("READONLY Can not run script with write flag on readonly replica")
                }
                if server.lastBgsaveFailed && !server.isReplica && server.config.stopWritesOnBgsaveError
                    && !server.config.savePoints.isEmpty && !fromMaster {
                    throw CommandError("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts.")
                }
                if readOnlyCommand {
                    throw CommandError.err("Can not execute a script with write flag using *_ro command.")
                }
                if server.config.minReplicasToWrite > 0 && server.config.minReplicasMaxLag > 0
                    && server.goodReplicaCount < server.config.minReplicasToWrite && !fromMaster {
                    throw CommandError.noReplicas
                }
            }
            if server.preCommandOOM && server.config.maxMemory > 0 && flags.isDisjoint(with: [.allowOOM, .noWrites]) {
                throw CommandError("OOM command not allowed when used memory > 'maxmemory'.")
            }
        } else if runningStale {
            throw CommandError.masterDown
        }

        var rules = InternalCallRules()
        rules.readOnly = readOnlyCommand || (!flags.contains(.evalCompat) && flags.contains(.noWrites))
        rules.allowOOM = !flags.contains(.evalCompat) && flags.contains(.allowOOM)
        rules.fromMaster = fromMaster
        run = ScriptRun(caller: ctx, rules: rules)
        scriptClient.db = caller.db
        scriptClient.resp = .resp2
        if caller.flags.contains(.multi) { scriptClient.flags.insert(.multi) }
        defer {
            run = nil
            scriptClient.flags.remove(.multi)
        }

        lua_rawgeti(L, tern_lua_registryindex(), errorHandlerRef)
        setGlobalArray("KEYS", keys)
        setGlobalArray("ARGV", arguments)
        lua_rawgeti(L, tern_lua_registryindex(), script.functionRef)
        let status = lua_pcall(L, 0, 1, -2)
        defer {
            tern_lua_pop(L, 1) // the handler (the result or error is consumed below)
            callsSinceGC += 1
            if callsSinceGC >= 50 {
                callsSinceGC = 0
                lua_gc(L, LUA_GCSTEP, 1)
            }
        }
        if status != 0 {
            defer { tern_lua_pop(L, 1) }
            try raiseScriptError(script.sha, ctx)
            return
        }
        LuaReply.write(L, into: &ctx.client.output, callerResp: caller.resp, scriptResp: run!.resp)
    }

    /// A failed run's reply: the error table's message, with where it happened, as Redis's luaCallFunction.
    private func raiseScriptError(_ sha: String, _ ctx: CommandContext) throws {
        guard tern_lua_istable(L, -1) != 0 else {
            var message = "execution failure"
            if lua_isstring(L, -1) != 0 { message = string(at: -1) }
            throw CommandError.err("Error running script \(sha), \(String(message.prefix(100)))")
        }
        let info = LuaReply.errorInfo(L, at: -1)
        var message = info.message
        if let line = info.line, let source = info.source {
            message += " script: \(sha), on \(source):\(line)."
        }
        if info.ignoreStats {
            // The command inside the script already counted this error.
            ctx.client.output.writeRESPError(message)
            return
        }
        throw CommandError(message)
    }

    private func setGlobalArray(_ name: String, _ items: ArraySlice<ByteBuffer>) {
        lua_rawgeti(L, tern_lua_registryindex(), globalsRef)
        lua_pushstring(L, name)
        lua_createtable(L, Int32(items.count), 0)
        var i: Int32 = 1
        for item in items {
            item.withUnsafeReadableBytes { raw in
                lua_pushlstring(L, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count)
            }
            lua_rawseti(L, -2, i)
            i += 1
        }
        lua_rawset(L, -3)
        tern_lua_pop(L, 1)
    }

    func string(at index: Int32) -> String {
        var length = 0
        guard let p = tern_lua_tostring(L, index, &length) else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: length), as: UTF8.self)
    }
}
