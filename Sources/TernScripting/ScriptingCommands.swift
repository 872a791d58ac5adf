import NIOCore
import RESP
import TernCore

/// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, as Redis 7.0's eval.c. Registered into the server's one
/// command table by `install`, which also creates the interpreter.
public enum ScriptingCommands {
    /// Creates the interpreter for `server` and registers the scripting commands. The server gives the
    /// returned scripting its scheduler (busy scripts run in time slices between the clients' I/O).
    @discardableResult
    public static func install(on server: ServerState) -> Scripting {
        let interpreter = LuaInterpreter(server: server)
        let functions = FunctionLibrary(server: server)
        for spec in specs(interpreter, functions: functions.interpreter) { server.commands.register(spec) }
        for spec in FunctionCommands.specs(functions, scripts: interpreter) { server.commands.register(spec) }
        // RDB files (saves, full syncs) carry the libraries; a load replaces them, as Redis's.
        server.functionLibraryCodes = { [unowned functions] in functions.libraries.values.sorted { $0.name < $1.name }.map(\.code) }
        server.replaceFunctionLibraries = { [unowned functions, unowned server] codes in
            functions.flush()
            for code in codes {
                do { try functions.load(code, replace: true) } catch {
                    server.logger.warning("Failed loading a function library from the RDB: \(error)")
                }
            }
        }
        return Scripting([interpreter, functions.interpreter], functions)
    }

    /// EVAL's keys: numkeys at argument 2, then that many keys.
    static func keyIndexes(_ arguments: [ByteBuffer]) -> [Int] {
        guard arguments.count >= 3,
              let n = arguments[2].withUnsafeReadableBytes({ RESPNumber.parseInt64($0) }),
              n > 0, Int(n) <= arguments.count - 3 else { return [] }
        return Array(3..<(3 + Int(n)))
    }

    static func specs(_ interpreter: LuaInterpreter, functions: LuaInterpreter) -> [CommandSpec] {
        let base: CommandFlags = [.noscript, .stale, .skipMonitor, .noMandatoryKeys]
        func evalSpec(_ name: String, sha: Bool, readOnly: Bool, summary: String, since: String) -> CommandSpec {
            let flags = readOnly ? base.union(.readonly) : base
            let spec = CommandSpec(
                name, arity: -3, flags: flags, group: "scripting", summary: summary, since: since,
                complexity: sha ? "Depends on the script that is executed." : "Depends on the script that is executed.",
                acl: ["scripting"], arguments: [sha ? "sha1" : "script", "numkeys", "[key [key ...]]", "[arg [arg ...]]"],
                keyFinder: keyIndexes
            ) { ctx in try eval(ctx, interpreter, sha: sha, readOnly: readOnly) }
            spec.flagsForCall = { [unowned interpreter] arguments in
                let text = arguments[1]
                if sha {
                    guard text.readableBytes == 40 else { return flags }
                    return interpreter.commandFlags(flags, body: nil, sha: String(buffer: text).lowercased())
                }
                return interpreter.commandFlags(flags, body: text, sha: nil)
            }
            return spec
        }
        return [
            evalSpec("eval", sha: false, readOnly: false, summary: "Execute a Lua script server side", since: "2.6.0"),
            evalSpec("evalsha", sha: true, readOnly: false, summary: "Execute a Lua script server side", since: "2.6.0"),
            evalSpec("eval_ro", sha: false, readOnly: true, summary: "Execute a read-only Lua script server side", since: "7.0.0"),
            evalSpec("evalsha_ro", sha: true, readOnly: true, summary: "Execute a read-only Lua script server side", since: "7.0.0"),
            CommandSpec("script", arity: -2, group: "scripting", summary: "A container for Lua scripts management commands",
                        since: "2.6.0", complexity: "Depends on subcommand.", subcommands: [
                CommandSpec("load", arity: 3, flags: [.noscript, .stale], group: "scripting",
                            summary: "Load the specified Lua script into the script cache.", since: "2.6.0",
                            complexity: "O(N) with N being the length in bytes of the script body.",
                            acl: ["scripting"], arguments: ["script"]) { ctx in
                    let script = try interpreter.load(Array(ctx.arguments[2].readableBytesView))
                    ctx.bulk(script.sha)
                },
                CommandSpec("exists", arity: -3, flags: [.noscript], group: "scripting",
                            summary: "Check existence of scripts in the script cache.", since: "2.6.0",
                            complexity: "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).",
                            acl: ["scripting"], arguments: ["sha1 [sha1 ...]"]) { ctx in
                    ctx.arrayHeader(ctx.argc - 2)
                    for i in 2..<ctx.argc { ctx.integer(interpreter.script(sha: ctx.string(i).lowercased()) == nil ? 0 : 1) }
                },
                CommandSpec("flush", arity: -2, flags: [.noscript], group: "scripting",
                            summary: "Remove all the scripts from the script cache.", since: "2.6.0",
                            complexity: "O(N) with N being the number of scripts in cache", acl: ["scripting"],
                            arguments: ["[ASYNC|SYNC]"]) { ctx in
                    // Both modes free the interpreter at once: it holds nothing another thread could release.
                    guard ctx.argc == 2 || (ctx.argc == 3 && (ctx.argument(2, is: "sync") || ctx.argument(2, is: "async"))) else {
                        throw CommandError.err("SCRIPT FLUSH only support SYNC|ASYNC option")
                    }
                    interpreter.reset()
                    ctx.ok()
                },
                CommandSpec("kill", arity: 2, flags: [.noscript, .allowBusy], group: "scripting",
                            summary: "Kill the script currently in execution.", since: "2.6.0", acl: ["scripting"]) { ctx in
                    try kill(ctx, scripts: interpreter, functions: functions, fromScriptKill: true)
                },
                CommandSpec("debug", arity: 3, flags: [.noscript], group: "scripting",
                            summary: "Set the debug mode for executed scripts.", since: "3.2.0",
                            complexity: "O(1)", acl: ["scripting"], arguments: ["YES|SYNC|NO"]) { ctx in
                    if ctx.argument(2, is: "no") {
                        ctx.ok()
                    } else if ctx.argument(2, is: "yes") || ctx.argument(2, is: "sync") {
                        // The Lua debugger (LDB) is not implemented.
                        throw CommandError.err("SCRIPT DEBUG YES|SYNC is not supported: Tern has no Lua debugger")
                    } else {
                        throw CommandError.err("Use SCRIPT DEBUG YES/SYNC/NO")
                    }
                },
                CommandSpec("help", arity: 2, flags: [.loading, .stale], group: "scripting",
                            summary: "Show helpful text about the different subcommands", since: "5.0.0",
                            acl: ["scripting"]) { ctx in
                    ctx.helpReply("SCRIPT", [
                        "DEBUG (YES|SYNC|NO)",
                        "    Set the debug mode for subsequent scripts executed.",
                        "EXISTS <sha1> [<sha1> ...]",
                        "    Return information about the existence of the scripts in the script cache.",
                        "FLUSH [ASYNC|SYNC]",
                        "    Flush the Lua scripts cache. Very dangerous on replicas.",
                        "    When called without the optional mode argument, the behavior is determined by the",
                        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                        "    * ASYNC: Asynchronously flush the scripts cache.",
                        "    * SYNC: Synchronously flush the scripts cache.",
                        "KILL",
                        "    Kill the currently executing Lua script.",
                        "LOAD <script>",
                        "    Load a script into the scripts cache without executing it.",
                    ])
                },
            ], handler: nil),
        ]
    }

    static let noScript = CommandError("NOSCRIPT No matching script. Please use EVAL.")

    /// SCRIPT KILL / FUNCTION KILL (Redis's scriptKill): each kills only its own kind, never after a write.
    static func kill(_ ctx: CommandContext, scripts: LuaInterpreter, functions: LuaInterpreter, fromScriptKill: Bool) throws {
        guard ctx.server.scriptBusy, let busy = [scripts, functions].first(where: { $0.running != nil }), let run = busy.run else {
            throw CommandError("NOTBUSY No scripts in execution right now.")
        }
        if run.rules.wrote {
            throw CommandError("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
        }
        if fromScriptKill && busy === functions {
            throw CommandError("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.")
        }
        if !fromScriptKill && busy === scripts {
            throw CommandError("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
        }
        busy.killRequested = true
        ctx.ok()
    }

    /// Redis's evalGenericCommand.
    static func eval(_ ctx: CommandContext, _ interpreter: LuaInterpreter, sha: Bool, readOnly: Bool) throws {
        // The script's own commands are the effects: EVAL itself is never propagated.
        ctx.preventPropagation()
        ctx.server.feedMonitors(ctx)
        if sha && ctx.arguments[1].readableBytes != 40 { throw noScript }
        let numkeys = try ctx.int(2)
        if numkeys > ctx.argc - 3 { throw CommandError.err("Number of keys can't be greater than number of args") }
        if numkeys < 0 { throw CommandError.err("Number of keys can't be negative") }
        let script: CachedScript
        if sha {
            guard let cached = interpreter.script(sha: ctx.string(1).lowercased()) else { throw noScript }
            script = cached
        } else {
            script = try interpreter.load(Array(ctx.arguments[1].readableBytesView))
        }
        let keys = ctx.arguments[3..<(3 + numkeys)]
        let arguments = ctx.arguments[(3 + numkeys)...]
        try interpreter.execute(script, ctx, keys: keys, arguments: arguments, readOnlyCommand: readOnly)
    }
}

/// The scripting engine as the server holds it.
public final class Scripting {
    let interpreters: [LuaInterpreter]
    let functions: FunctionLibrary
    init(_ interpreters: [LuaInterpreter], _ functions: FunctionLibrary) {
        self.interpreters = interpreters
        self.functions = functions
    }

    /// Runs a task on the command thread after the clients' pending I/O: the next slice of a busy script.
    public var schedule: ((@escaping () -> Void) -> Void)? {
        get { interpreters[0].schedule }
        set { for i in interpreters { i.schedule = newValue } }
    }
}
