#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import RESP
import TernStorage

/// INFO DBSIZE TIME LASTSAVE FLUSHDB FLUSHALL SWAPDB SHUTDOWN MONITOR SLOWLOG READONLY READWRITE
/// (DEBUG, LATENCY and MEMORY have files of their own)
/// (COMMAND lives in CommandCommand, CLIENT in ClientCommands).
enum ServerCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("info", arity: -1, flags: [.loading, .stale], group: "server",
                        summary: "Get information and statistics about the server", acl: ["dangerous"],
                        arguments: ["[section [section ...]]"]) { ctx in
                ctx.verbatim(ctx.server.infoString(sections: (1..<ctx.argc).map { ctx.string($0) },
                                                   currentClient: ctx.client))
            },
            CommandSpec("dbsize", arity: 1, flags: [.readonly, .fast], group: "server",
                        summary: "Return the number of keys in the selected database", acl: ["keyspace"]) { ctx in
                ctx.integer(ctx.keyspace.keyCount)
            },
            CommandSpec("time", arity: 1, flags: [.loading, .stale, .fast], group: "server",
                        summary: "Return the current server time", since: "2.6.0") { ctx in
                let micros = ctx.server.clock.nowMicros()
                ctx.arrayHeader(2)
                ctx.bulk(String(micros / 1_000_000))
                ctx.bulk(String(micros % 1_000_000))
            },
            CommandSpec("lastsave", arity: 1, flags: [.loading, .stale, .fast], group: "server",
                        summary: "Get the UNIX time stamp of the last successful save to disk",
                        acl: ["admin", "dangerous"]) { ctx in
                ctx.integer(Int(ctx.server.lastSaveUnix))
            },
            CommandSpec("flushdb", arity: -1, flags: [.write], group: "server",
                        summary: "Remove all keys from the current database",
                        complexity: "O(N) where N is the total number of keys in the selected database",
                        acl: ["keyspace", "dangerous"], arguments: ["[ASYNC|SYNC]"], handler: flushdb),
            CommandSpec("flushall", arity: -1, flags: [.write], group: "server",
                        summary: "Remove all keys from all databases",
                        complexity: "O(N) where N is the total number of keys in all databases",
                        acl: ["keyspace", "dangerous"], arguments: ["[ASYNC|SYNC]"], handler: flushall),
            CommandSpec("swapdb", arity: 3, flags: [.write, .fast], group: "server", summary: "Swaps two Redis databases",
                        since: "4.0.0",
                        complexity: "O(N) where N is the count of clients watching or blocking on keys from both databases.",
                        acl: ["keyspace", "dangerous"], arguments: ["index1", "index2"], handler: swapdb),
            CommandSpec("shutdown", arity: -1, flags: [.admin, .noscript, .loading, .stale, .noMulti, .allowBusy],
                        group: "server", summary: "Synchronously save the dataset to disk and then shut down the server",
                        complexity: "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
                        arguments: ["[NOSAVE|SAVE]", "[NOW]", "[FORCE]", "[ABORT]"], handler: shutdown),
            CommandSpec("monitor", arity: 1, flags: [.admin, .noscript, .loading, .stale], group: "server",
                        summary: "Listen for all requests received by the server in real time", handler: monitor),
            CommandSpec("slowlog", arity: -2, group: "server", summary: "A container for slow log commands",
                        since: "2.2.12", complexity: "Depends on subcommand.", subcommands: [
                CommandSpec("get", arity: -2, flags: [.admin, .loading, .stale], group: "server",
                            summary: "Get the slow log's entries", since: "2.2.12",
                            complexity: "O(N) where N is the number of entries returned", arguments: ["[count]"],
                            handler: slowlogGet),
                CommandSpec("len", arity: 2, flags: [.admin, .loading, .stale], group: "server",
                            summary: "Get the slow log's length", since: "2.2.12") { ctx in
                    ctx.integer(ctx.server.slowlog.entries.count)
                },
                CommandSpec("reset", arity: 2, flags: [.admin, .loading, .stale], group: "server",
                            summary: "Clear all entries from the slow log", since: "2.2.12",
                            complexity: "O(N) where N is the number of entries in the slowlog") { ctx in
                    ctx.server.slowlog.reset()
                    ctx.ok()
                },
                CommandSpec("help", arity: 2, flags: [.loading, .stale], group: "server",
                            summary: "Show helpful text about the different subcommands", since: "6.2.0") { ctx in
                    help(ctx, "SLOWLOG", [
                        "GET [<count>]",
                        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                        "    Entries are made of:",
                        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                        "    client name",
                        "LEN",
                        "    Return the length of the slowlog.",
                        "RESET",
                        "    Reset the slowlog.",
                    ])
                },
            ], handler: nil),
            // Cluster-mode connection flags: Tern runs as a non-cluster Redis does.
            CommandSpec("readonly", arity: 1, flags: [.loading, .stale, .fast], group: "cluster",
                        summary: "Enables read queries for a connection to a cluster replica node", since: "3.0.0",
                        acl: ["connection"]) { _ in throw clusterDisabled },
            CommandSpec("readwrite", arity: 1, flags: [.loading, .stale, .fast], group: "cluster",
                        summary: "Disables read queries for a connection to a cluster replica node", since: "3.0.0",
                        acl: ["connection"]) { _ in throw clusterDisabled },
        ]
    }

    static let clusterDisabled = CommandError.err("This instance has cluster support disabled")

    /// Redis's addReplyHelp: the usage line, the given lines, then HELP.
    static func help(_ ctx: CommandContext, _ command: String, _ lines: [String]) { ctx.helpReply(command, lines) }

    /// Redis's addReplySubcommandSyntaxError.
    static func subcommandSyntaxError(_ ctx: CommandContext) -> CommandError {
        let sub = String(decoding: ctx.arguments[1].readableBytesView.prefix(128), as: UTF8.self)
        return .err("unknown subcommand or wrong number of arguments for '\(sub)'. Try \(ctx.string(0).uppercased()) HELP.")
    }

    // MARK: FLUSHDB FLUSHALL SWAPDB

    /// [ASYNC|SYNC]: Tern always frees synchronously (the memory backend frees in O(1) anyway).
    static func parseFlushMode(_ ctx: CommandContext) throws {
        if ctx.argc > 2 { throw CommandError.syntax }
        if ctx.argc == 2 && !ctx.argument(1, is: "ASYNC") && !ctx.argument(1, is: "SYNC") {
            throw CommandError.syntax
        }
    }

    static func flushdb(_ ctx: CommandContext) throws {
        try parseFlushMode(ctx)
        let removed = ctx.keyspace.removeAll()
        // Redis forces propagation even when the database was empty: the effect rides on `dirty`.
        if removed == 0 { ctx.server.dirty += 1 }
        ctx.ok()
    }

    static func flushall(_ ctx: CommandContext) throws {
        try parseFlushMode(ctx)
        let server = ctx.server
        for index in 0..<server.engine.databaseCount {
            _ = server.keyspace(index).removeAll()
        }
        // flushAllDataAndResetRDB: a save under way is dropped, and with save points the (empty) dataset is
        // saved at once, so a restart doesn't bring the flushed keys back.
        server.flushAllHook?()
        // flushAllDataAndResetRDB's server.dirty++: FLUSHALL always propagates.
        server.dirty += 1
        ctx.ok()
    }

    static func swapdb(_ ctx: CommandContext) throws {
        let a = try dbIndex(ctx, 1, error: "invalid first DB index")
        let b = try dbIndex(ctx, 2, error: "invalid second DB index")
        let server = ctx.server
        guard a >= 0, b >= 0, a < server.engine.databaseCount, b < server.engine.databaseCount else {
            throw CommandError.invalidDBIndex
        }
        if a != b {
            // Flush observers see both databases' keys before and after (WATCH: a watched key present on
            // either side of the swap is touched).
            server.databaseFlushed(a)
            server.databaseFlushed(b)
            server.engine.swapDatabases(a, b)
            server.databaseFlushed(a)
            server.databaseFlushed(b)
        }
        server.dirty += 1
        ctx.ok()
    }

    /// getIntFromObjectOrReply: a 32-bit integer or the given error.
    static func dbIndex(_ ctx: CommandContext, _ i: Int, error: String) throws -> Int {
        let v = try ctx.int(i, error: .err(error))
        guard v >= Int(Int32.min) && v <= Int(Int32.max) else { throw CommandError.err(error) }
        return v
    }

    // MARK: SHUTDOWN

    static func shutdown(_ ctx: CommandContext) throws {
        var request = ShutdownRequest()
        var save = false
        var noSave = false
        var abort = false
        for i in 1..<max(ctx.argc, 1) {
            if ctx.argument(i, is: "NOSAVE") { noSave = true }
            else if ctx.argument(i, is: "SAVE") { save = true }
            else if ctx.argument(i, is: "NOW") { request.now = true }
            else if ctx.argument(i, is: "FORCE") { request.force = true }
            else if ctx.argument(i, is: "ABORT") { abort = true }
            else { throw CommandError.syntax }
        }
        if (abort && (save || noSave || request.now || request.force)) || (save && noSave) {
            throw CommandError.syntax
        }
        // Tern shuts down at once (no waiting for replicas to catch up): there is never one to abort.
        if abort { throw CommandError.err("No shutdown in progress.") }
        request.save = save ? .save : (noSave ? .noSave : .default)
        let server = ctx.server
        // During a busy script only SHUTDOWN NOSAVE goes through: the script's partial writes must not be saved.
        if let busy = server.busyScriptRefusal, !noSave { throw busy }
        let failure = CommandError.err("Errors trying to SHUTDOWN. Check logs.")
        guard let handler = server.shutdownHandler else {
            server.logger.warning("SHUTDOWN refused: no shutdown handler is installed.")
            throw failure
        }
        if let refusal = handler(request) {
            server.logger.warning("\(refusal)")
            throw failure
        }
        // The server is going away: like Redis, no reply; the connection closes.
        ctx.client.closing = true
    }

    // MARK: MONITOR

    static func monitor(_ ctx: CommandContext) throws {
        let client = ctx.client
        // Already a replica or a monitor: Redis ignores the command without a reply.
        if client.flags.contains(.replica) || client.flags.contains(.monitor) { return }
        client.flags.insert(.monitor)
        ctx.server.monitors.append(client)
        ctx.ok()
    }

    // MARK: SLOWLOG

    static func slowlogGet(_ ctx: CommandContext) throws {
        if ctx.argc > 3 { throw subcommandSyntaxError(ctx) }
        let entries = ctx.server.slowlog.entries
        var count = 10
        if ctx.argc == 3 {
            let error = CommandError.err("count should be greater than or equal to -1")
            let n = try ctx.int(2, error: error)
            if n < -1 { throw error }
            count = n == -1 ? entries.count : n
        }
        let shown = entries.prefix(count)
        ctx.arrayHeader(shown.count)
        for entry in shown {
            ctx.arrayHeader(6)
            ctx.integer(entry.id)
            ctx.integer(Int(entry.timestampSeconds))
            ctx.integer(entry.durationMicros)
            ctx.arrayHeader(entry.arguments.count)
            for argument in entry.arguments { ctx.bulk(argument) }
            ctx.bulk(entry.clientAddress)
            ctx.bulk(entry.clientName)
        }
    }
}
