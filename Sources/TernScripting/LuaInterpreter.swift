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

/// Something a client can run: a cached script (named by its sha1) or a library's function (by its name),
/// with its flags and the compiled Lua function's registry reference.
final class CachedScript {
    /// The sha1 of a script, the name of a function: what errors and logs call it.
    let sha: String
    let flags: ScriptFlags
    let functionRef: Int32
    /// A function (FCALL): gets KEYS and ARGV as its two arguments; errors and logs say FUNCTION.
    let isFunction: Bool
    init(sha: String, flags: ScriptFlags, functionRef: Int32, isFunction: Bool = false) {
        self.sha = sha
        self.flags = flags
        self.functionRef = functionRef
        self.isFunction = isFunction
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
    private var errorInfoRef: Int32 = 0
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
        co = nil
        lua_close(L)
        scripts.removeAll()
        L = luaL_newstate()
        setUp()
    }

    private func setUp() {
        tern_lua_open_libraries(L)
        RedisLuaLibrary.register(L, context: Unmanaged.passUnretained(self).toOpaque())
        // Given a failed script's coroutine and its error, adds where the error happened (the caller's line
        // when a C function raised) and turns a plain error into Redis's error table. It keeps `debug` for
        // itself: scripts don't see it.
        let handler = """
            local dbg = debug
            debug = nil
            return function(co, err)
              local i = dbg.getinfo(co, 0, 'nSl')
              if i and i.what == 'C' then i = dbg.getinfo(co, 1, 'nSl') end
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
        errorInfoRef = luaL_ref(L, tern_lua_registryindex())
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
        return Self.commandFlags(base, declared: flags)
    }

    /// Redis's scriptFlagsToCmdFlags: declared flags replace the command's write, deny-oom and stale flags.
    static func commandFlags(_ base: CommandFlags, declared flags: ScriptFlags) -> CommandFlags {
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
        // Commands from the script run as the caller's user (ACL), as Redis's lua client does.
        scriptClient.aclUser = caller.aclUser
        if caller.flags.contains(.multi) { scriptClient.flags.insert(.multi) }

        let co = coroutine()
        lua_rawgeti(L, tern_lua_registryindex(), script.functionRef)
        lua_xmove(L, co, 1)
        if script.isFunction {
            pushArray(co, keys)
            pushArray(co, arguments)
        } else {
            setGlobalArray("KEYS", keys)
            setGlobalArray("ARGV", arguments)
        }
        // A script may be suspended between time slices only as a command of its own: inside EXEC (or from
        // the master's stream) the commands after it would run while it is suspended.
        let canSuspend = schedule != nil && !server.inNestedCall && !fromMaster && caller.transport != nil
        running = RunningScript(script: script, caller: ctx, command: ctx.arguments,
                                startedMillis: server.clock.nowMillis(), canSuspend: canSuspend)
        tern_lua_set_count_hook(co, 100_000, { L, context in
            Unmanaged<LuaInterpreter>.fromOpaque(context!).takeUnretainedValue().hookCheck(L!)
        }, Unmanaged.passUnretained(self).toOpaque())
        switch step(arguments: script.isFunction ? 2 : 0) {
        case .replied:
            endRun()
        case .failed(let error):
            endRun()
            throw error
        case .failedCounted(let message):
            endRun()
            ctx.client.output.writeRESPError(message)
        case .suspended:
            // Busy: other clients get -BUSY until it ends; the caller waits for its reply; the unit (effects,
            // MULTI/EXEC) stays open across the slices.
            server.busyScriptRefusal = script.isFunction
                ? CommandError("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.")
                : CommandError("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
            server.beginUnit()
            caller.flags.insert(.blocked)
            server.logger.warning("Slow script detected: still in execution after \(server.clock.nowMillis() - running!.startedMillis) milliseconds. You can try killing the script using the \(script.isFunction ? "FUNCTION" : "SCRIPT") KILL command. Script name is: \(script.sha).")
            scheduleSlice()
        }
    }

    /// The script under way (also while suspended between slices).
    struct RunningScript {
        let script: CachedScript
        let caller: CommandContext
        /// The command that runs it (FUNCTION STATS).
        let command: [ByteBuffer]
        let startedMillis: Int64
        let canSuspend: Bool
    }

    enum StepOutcome {
        case replied
        case failed(CommandError)
        /// An error a command inside the script already counted.
        case failedCounted(String)
        case suspended
    }

    private(set) var running: RunningScript?
    /// SCRIPT KILL asked to stop the script at its next hook.
    var killRequested = false
    /// Runs `body` on the command thread soon, after the clients' pending I/O (set by the server; without it
    /// scripts never suspend).
    var schedule: ((@escaping () -> Void) -> Void)?
    /// The coroutine scripts run in (so the busy hook can yield), reused after a clean finish.
    private var co: LuaState?
    private var coRef: Int32 = 0

    private func coroutine() -> LuaState {
        if let co { return co }
        let thread = lua_newthread(L)!
        coRef = luaL_ref(L, tern_lua_registryindex())
        co = thread
        return thread
    }

    private func dropCoroutine() {
        guard co != nil else { return }
        luaL_unref(L, tern_lua_registryindex(), coRef)
        co = nil
    }

    /// The count hook: 1 yields (the time slice is over), 2 raises the kill error it pushed.
    fileprivate func hookCheck(_ state: LuaState) -> Int32 {
        guard let running else { return 0 }
        if killRequested {
            server.logger.warning("Lua script killed by user with SCRIPT KILL.")
            LuaReply.pushError(state, "Script killed by user with SCRIPT KILL...")
            // From now on every line raises again, so pcall can't catch it and go on.
            tern_lua_set_line_hook(state)
            return 2
        }
        guard running.canSuspend else { return 0 }
        return server.clock.nowMillis() - running.startedMillis >= Int64(server.config.busyReplyThreshold) ? 1 : 0
    }

    /// Runs the script until it ends or its time slice is over.
    private func step(arguments: Int32 = 0) -> StepOutcome {
        let co = co!
        tern_lua_clear_hook_yielded()
        let status = lua_resume(co, arguments)
        if status == LUA_YIELD {
            if tern_lua_hook_yielded() != 0 { return .suspended }
            // The script called coroutine.yield outside a coroutine of its own: Redis's pcall'd script can't.
            dropCoroutine()
            return .failed(.err("attempt to yield across metamethod/C-call boundary"))
        }
        let caller = running!.caller
        if status == 0 {
            // The script's first result is the reply.
            lua_settop(co, 1)
            LuaReply.write(co, into: &caller.client.output, callerResp: caller.client.resp, scriptResp: run!.resp)
            lua_settop(co, 0)
            return .replied
        }
        // An error: where it happened is still on the dead coroutine's call stack (Lua 5.1 doesn't unwind it).
        lua_rawgeti(L, tern_lua_registryindex(), errorInfoRef)
        lua_rawgeti(L, tern_lua_registryindex(), coRef)
        lua_xmove(co, L, 1)
        let outcome: StepOutcome
        if lua_pcall(L, 2, 1, 0) != 0 || tern_lua_istable(L, -1) == 0 {
            outcome = .failed(.err("Error running script \(running!.script.sha), \(String(string(at: -1).prefix(100)))"))
        } else {
            let info = LuaReply.errorInfo(L, at: -1)
            var message = info.message
            if let line = info.line, let source = info.source {
                message += " script: \(running!.script.sha), on \(source):\(line)."
            }
            outcome = info.ignoreStats ? .failedCounted(message) : .failed(CommandError(message))
        }
        tern_lua_pop(L, 1)
        dropCoroutine()
        return outcome
    }

    private func scheduleSlice() {
        schedule? { [weak self] in self?.continueSuspended() }
    }

    /// The next time slice of a suspended script; when it ends, its reply goes to the waiting caller.
    private func continueSuspended() {
        guard let running else { return }
        let outcome = step()
        let client = running.caller.client
        switch outcome {
        case .suspended:
            scheduleSlice()
            return
        case .replied:
            break
        case .failed(let error):
            client.output.writeRESPError(error.message)
        case .failedCounted(let message):
            client.output.writeRESPError(message)
        }
        endRun()
        client.flags.remove(.blocked)
        server.busyScriptRefusal = nil
        server.endUnit()
        client.transport?.setReadingEnabled(true)
    }

    private func endRun() {
        run = nil
        running = nil
        killRequested = false
        scriptClient.flags.remove(.multi)
        if let co { lua_sethook(co, nil, 0, 0) }
        callsSinceGC += 1
        if callsSinceGC >= 50 {
            callsSinceGC = 0
            lua_gc(L, LUA_GCSTEP, 1)
        }
    }

    private func setGlobalArray(_ name: String, _ items: ArraySlice<ByteBuffer>) {
        lua_rawgeti(L, tern_lua_registryindex(), globalsRef)
        lua_pushstring(L, name)
        pushArray(L, items)
        lua_rawset(L, -3)
        tern_lua_pop(L, 1)
    }

    private func pushArray(_ state: LuaState, _ items: ArraySlice<ByteBuffer>) {
        lua_createtable(state, Int32(items.count), 0)
        var i: Int32 = 1
        for item in items {
            item.withUnsafeReadableBytes { raw in
                lua_pushlstring(state, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count)
            }
            lua_rawseti(state, -2, i)
            i += 1
        }
    }

    /// Pushes the real globals table (not the scripts' read-only proxy).
    func pushRealGlobals() { lua_rawgeti(L, tern_lua_registryindex(), globalsRef) }

    func string(at index: Int32) -> String { Self.string(L, at: index) }

    /// The string at `index` of `state` (a script runs in a coroutine, not the main state).
    static func string(_ state: LuaState, at index: Int32) -> String {
        var length = 0
        guard let p = tern_lua_tostring(state, index, &length) else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: length), as: UTF8.self)
    }
}
