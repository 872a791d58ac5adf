import NIOCore
import RESP
import TernCore
import TernRDB

/// FUNCTION LOAD|DELETE|FLUSH|LIST|STATS|KILL|HELP and FCALL / FCALL_RO, as Redis 7.0's functions.c.
enum FunctionCommands {
    static func specs(_ library: FunctionLibrary, scripts: LuaInterpreter) -> [CommandSpec] {
        let base: CommandFlags = [.noscript, .skipMonitor, .noMandatoryKeys, .stale]
        func fcallSpec(_ name: String, readOnly: Bool, summary: String) -> CommandSpec {
            let flags = readOnly ? base.union(.readonly) : base.union(.mayReplicate)
            let spec = CommandSpec(
                name, arity: -3, flags: flags, group: "scripting", summary: summary, since: "7.0.0",
                complexity: "Depends on the function that is executed.", acl: ["scripting"],
                arguments: ["function", "numkeys", "[key [key ...]]", "[arg [arg ...]]"],
                keyFinder: ScriptingCommands.keyIndexes
            ) { ctx in try fcall(ctx, library, readOnly: readOnly) }
            spec.flagsForCall = { [unowned library] arguments in
                guard let f = library.function(named: String(buffer: arguments[1])) else { return flags }
                return LuaInterpreter.commandFlags(flags, declared: f.flags)
            }
            return spec
        }
        let writeFlags: CommandFlags = [.write, .noscript]
        return [
            fcallSpec("fcall", readOnly: false, summary: "Invoke a function"),
            fcallSpec("fcall_ro", readOnly: true, summary: "Invoke a read-only function"),
            CommandSpec("function", arity: -2, group: "scripting", summary: "A container for function commands",
                        since: "7.0.0", complexity: "Depends on subcommand.", subcommands: [
                CommandSpec("load", arity: -3, flags: writeFlags.union(.denyoom), group: "scripting",
                            summary: "Create a function with the given arguments (name, code, description)", since: "7.0.0",
                            complexity: "O(1) (considering compilation time is redundant)", acl: ["scripting"],
                            arguments: ["[REPLACE]", "function-code"]) { ctx in
                    var replace = false
                    var i = 2
                    while i < ctx.argc - 1 {
                        guard ctx.argument(i, is: "replace") else { throw CommandError.err("Unknown option given: \(ctx.string(i))") }
                        replace = true
                        i += 1
                    }
                    let name = try library.load(Array(ctx.arguments[ctx.argc - 1].readableBytesView), replace: replace)
                    ctx.server.dirty += 1
                    ctx.bulk(name)
                },
                CommandSpec("delete", arity: 3, flags: writeFlags, group: "scripting", summary: "Delete a function by name",
                            since: "7.0.0", acl: ["scripting"], arguments: ["library-name"]) { ctx in
                    try library.delete(ctx.string(2))
                    ctx.server.dirty += 1
                    ctx.ok()
                },
                CommandSpec("flush", arity: -2, flags: writeFlags, group: "scripting", summary: "Deleting all functions",
                            since: "7.0.0", complexity: "O(N) where N is the number of functions deleted", acl: ["scripting"],
                            arguments: ["[ASYNC|SYNC]"]) { ctx in
                    guard ctx.argc == 2 || (ctx.argc == 3 && (ctx.argument(2, is: "sync") || ctx.argument(2, is: "async"))) else {
                        throw CommandError.err("FUNCTION FLUSH only supports SYNC|ASYNC option")
                    }
                    library.flush()
                    ctx.server.dirty += 1
                    ctx.ok()
                },
                CommandSpec("list", arity: -2, flags: [.noscript], group: "scripting",
                            summary: "List information about all the functions", since: "7.0.0",
                            complexity: "O(N) where N is the number of functions", acl: ["scripting"],
                            arguments: ["[LIBRARYNAME library-name-pattern]", "[WITHCODE]"]) { ctx in try list(ctx, library) },
                CommandSpec("stats", arity: 2, flags: [.noscript, .allowBusy], group: "scripting",
                            summary: "Return information about the function currently running (name, description, duration)",
                            since: "7.0.0", acl: ["scripting"]) { ctx in stats(ctx, library) },
                CommandSpec("kill", arity: 2, flags: [.noscript, .allowBusy], group: "scripting",
                            summary: "Kill the function currently in execution.", since: "7.0.0", acl: ["scripting"]) { ctx in
                    try ScriptingCommands.kill(ctx, scripts: scripts, functions: library.interpreter, fromScriptKill: false)
                },
                CommandSpec("dump", arity: 2, flags: [.noscript], group: "scripting",
                            summary: "Dump all functions into a serialized binary payload", since: "7.0.0",
                            complexity: "O(N) where N is the number of functions", acl: ["scripting"]) { ctx in
                    let codes = library.libraries.values.sorted { $0.name < $1.name }.map(\.code)
                    ctx.client.output.writeRESPBulk(FunctionPayload.encode(codes))
                },
                CommandSpec("restore", arity: -3, flags: writeFlags.union(.denyoom), group: "scripting",
                            summary: "Restore all the functions on the given payload", since: "7.0.0",
                            complexity: "O(N) where N is the number of functions on the payload", acl: ["scripting"],
                            arguments: ["serialized-value", "[FLUSH|APPEND|REPLACE]"]) { ctx in try restore(ctx, library) },
                CommandSpec("help", arity: 2, flags: [.loading, .stale], group: "scripting",
                            summary: "Show helpful text about the different subcommands", since: "7.0.0",
                            acl: ["scripting"]) { ctx in
                    ctx.helpReply("FUNCTION", [
                        "LOAD [REPLACE] <FUNCTION CODE>",
                        "    Create a new library with the given library name and code.",
                        "DELETE <LIBRARY NAME>",
                        "    Delete the given library.",
                        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
                        "    Return general information on all the libraries:",
                        "    * Library name",
                        "    * The engine used to run the Library",
                        "    * Library description",
                        "    * Functions list",
                        "    * Library code (if WITHCODE is given)",
                        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
                        "STATS",
                        "    Return information about the current function running:",
                        "    * Function name",
                        "    * Command used to run the function",
                        "    * Duration in MS that the function is running",
                        "    If no function is running, return nil",
                        "    In addition, returns a list of available engines.",
                        "KILL",
                        "    Kill the current running function.",
                        "FLUSH [ASYNC|SYNC]",
                        "    Delete all the libraries.",
                        "    When called without the optional mode argument, the behavior is determined by the",
                        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                        "    * ASYNC: Asynchronously flush the libraries.",
                        "    * SYNC: Synchronously flush the libraries.",
                        "DUMP",
                        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
                        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
                        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
                        "    control how to handle existing libraries (default APPEND):",
                        "    * FLUSH: delete all existing libraries.",
                        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
                        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
                        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
                        "      in case of functions name collision with another library).",
                    ])
                },
            ], handler: nil),
        ]
    }

    static func fcall(_ ctx: CommandContext, _ library: FunctionLibrary, readOnly: Bool) throws {
        ctx.preventPropagation()
        ctx.server.feedMonitors(ctx)
        let numkeys = try ctx.int(2, error: .err("Bad number of keys provided"))
        if numkeys > ctx.argc - 3 { throw CommandError.err("Number of keys can't be greater than number of args") }
        if numkeys < 0 { throw CommandError.err("Number of keys can't be negative") }
        guard let function = library.function(named: ctx.string(1)) else { throw CommandError.err("Function not found") }
        try library.interpreter.execute(function.runnable, ctx, keys: ctx.arguments[3..<(3 + numkeys)],
                                        arguments: ctx.arguments[(3 + numkeys)...], readOnlyCommand: readOnly)
    }

    /// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE] (default APPEND).
    static func restore(_ ctx: CommandContext, _ library: FunctionLibrary) throws {
        enum Policy { case flush, append, replace }
        var policy = Policy.append
        if ctx.argc > 4 {
            let sub = String(decoding: ctx.arguments[1].readableBytesView.prefix(128), as: UTF8.self)
            throw CommandError.err("unknown subcommand or wrong number of arguments for '\(sub)'. Try FUNCTION HELP.")
        }
        if ctx.argc == 4 {
            if ctx.argument(3, is: "flush") { policy = .flush }
            else if ctx.argument(3, is: "append") { policy = .append }
            else if ctx.argument(3, is: "replace") { policy = .replace }
            else { throw CommandError.err("Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.") }
        }
        let codes: [[UInt8]]
        do {
            codes = try FunctionPayload.decode(Array(ctx.arguments[2].readableBytesView))
        } catch {
            throw CommandError.err(String(describing: error))
        }
        let names = try codes.map { try FunctionLibrary.metadata($0).name }
        if policy == .append, let clash = names.first(where: { library.libraries[$0] != nil }) {
            throw CommandError.err("Library \(clash) already exists")
        }
        if policy == .flush { library.flush() }
        for code in codes { try library.load(code, replace: policy == .replace) }
        ctx.server.dirty += 1
        ctx.ok()
    }

    static func list(_ ctx: CommandContext, _ library: FunctionLibrary) throws {
        var withCode = false
        var pattern: String?
        var i = 2
        while i < ctx.argc {
            if !withCode && ctx.argument(i, is: "withcode") {
                withCode = true
            } else if pattern == nil && ctx.argument(i, is: "libraryname") {
                guard i + 1 < ctx.argc else { throw CommandError.err("library name argument was not given") }
                i += 1
                pattern = ctx.string(i)
            } else {
                throw CommandError.err("Unknown argument \(ctx.string(i))")
            }
            i += 1
        }
        let libraries = library.libraries.values.sorted { $0.name < $1.name }.filter { lib in
            pattern.map { GlobMatch.matches(pattern: $0, lib.name) } ?? true
        }
        ctx.arrayHeader(libraries.count)
        for lib in libraries {
            ctx.mapHeader(withCode ? 4 : 3)
            ctx.bulk("library_name")
            ctx.bulk(lib.name)
            ctx.bulk("engine")
            ctx.bulk("LUA")
            ctx.bulk("functions")
            ctx.arrayHeader(lib.functions.count)
            for f in lib.functions {
                ctx.mapHeader(3)
                ctx.bulk("name")
                ctx.bulk(f.name)
                ctx.bulk("description")
                if let d = f.description { ctx.bulk(d) } else { ctx.null() }
                ctx.bulk("flags")
                let names = ScriptFlags.names.filter { f.flags.contains($0.1) }.map(\.0)
                ctx.setHeader(names.count)
                for n in names { ctx.simple(n) }
            }
            if withCode {
                ctx.bulk("library_code")
                ctx.client.output.writeRESPBulk(lib.code)
            }
        }
    }

    static func stats(_ ctx: CommandContext, _ library: FunctionLibrary) {
        ctx.mapHeader(2)
        ctx.bulk("running_script")
        if let running = library.interpreter.running {
            ctx.mapHeader(3)
            ctx.bulk("name")
            ctx.bulk(running.script.sha)
            ctx.bulk("command")
            ctx.arrayHeader(running.command.count)
            for a in running.command { ctx.bulk(a) }
            ctx.bulk("duration_ms")
            ctx.integer(Int(ctx.server.clock.nowMillis() - running.startedMillis))
        } else {
            ctx.null()
        }
        ctx.bulk("engines")
        ctx.mapHeader(1)
        ctx.bulk("LUA")
        ctx.mapHeader(2)
        ctx.bulk("libraries_count")
        ctx.integer(library.libraries.count)
        ctx.bulk("functions_count")
        ctx.integer(library.functions.count)
    }
}
