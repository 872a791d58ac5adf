import NIOCore
import RESP
import TernStorage

/// CONFIG GET / SET / RESETSTAT / REWRITE / HELP, over `ConfigRegistry`.
enum ConfigCommands {
    static var specs: [CommandSpec] {
        let flags: CommandFlags = [.admin, .noscript, .loading, .stale]
        return [
            CommandSpec("config", arity: -2, group: "server", summary: "A container for server configuration commands",
                        since: "2.0.0", complexity: "Depends on subcommand.", subcommands: [
                CommandSpec("get", arity: -3, flags: flags, group: "server",
                            summary: "Get the values of configuration parameters", since: "2.0.0",
                            complexity: "O(N) when N is the number of configuration parameters provided",
                            arguments: ["parameter [parameter ...]"], handler: get),
                CommandSpec("set", arity: -4, flags: flags, group: "server",
                            summary: "Set configuration parameters to the given values", since: "2.0.0",
                            complexity: "O(N) when N is the number of configuration parameters provided",
                            arguments: ["parameter value [parameter value ...]"], handler: set),
                CommandSpec("resetstat", arity: 2, flags: flags, group: "server",
                            summary: "Reset the stats returned by INFO", since: "2.0.0", handler: resetStat),
                CommandSpec("rewrite", arity: 2, flags: flags, group: "server",
                            summary: "Rewrite the configuration file with the in memory configuration",
                            since: "2.8.0", handler: rewrite),
                CommandSpec("help", arity: 2, flags: [.loading, .stale], group: "server",
                            summary: "Show helpful text about the different subcommands", since: "5.0.0",
                            handler: help),
            ], handler: nil),
        ]
    }

    static func get(_ ctx: CommandContext) throws {
        let patterns = (2..<ctx.argc).map { ctx.string($0) }
        let pairs = ConfigRegistry.get(patterns: patterns, config: ctx.server.config)
        ctx.mapHeader(pairs.count)
        for (name, value) in pairs {
            ctx.bulk(name)
            ctx.bulk(value)
        }
    }

    static func set(_ ctx: CommandContext) throws {
        if ctx.argc % 2 != 0 { throw CommandError.syntax }
        var pairs: [(String, String)] = []
        var i = 2
        while i + 1 < ctx.argc {
            pairs.append((ctx.string(i), ctx.string(i + 1)))
            i += 2
        }
        try ConfigRegistry.set(pairs, server: ctx.server, config: ctx.server.config, localClient: ctx.client.isLocal)
        ctx.ok()
    }

    /// Redis's resetServerStats + resetCommandTableStats + resetErrorTableStats: every INFO stats counter,
    /// commandstats and errorstats start again from zero (the slowlog and latency history stay).
    static func resetStat(_ ctx: CommandContext) throws {
        ctx.server.stats = ServerStats()
        ctx.server.commands.resetStats()
        ctx.ok()
    }

    static func rewrite(_ ctx: CommandContext) throws {
        let path = ctx.server.config.configFile
        if path.isEmpty { throw CommandError.err("The server is running without a config file") }
        do {
            try ConfigRegistry.rewriteFile(path: path, config: ctx.server.config)
        } catch let e as ConfigValueError {
            ctx.server.logger.warning("CONFIG REWRITE failed: \(e.reason)")
            throw CommandError.err("Rewriting config file: \(e.reason)")
        }
        ctx.server.logger.notice("CONFIG REWRITE executed with success.")
        ctx.ok()
    }

    static let helpLines = [
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    ]

    static func help(_ ctx: CommandContext) throws {
        ctx.arrayHeader(helpLines.count)
        for line in helpLines { ctx.simple(line) }
    }
}
