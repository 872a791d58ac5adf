/// One loaded module (plugin), as MODULE LIST shows it.
public struct ModuleInfo: Equatable {
    public var name: String
    public var version: Int
    /// The shared object's path; "(static)" for a plugin linked into tern-server.
    public var path: String
    public var arguments: [String]
    public init(name: String, version: Int, path: String, arguments: [String]) {
        self.name = name
        self.version = version
        self.path = path
        self.arguments = arguments
    }
}

/// Why MODULE LOAD or MODULE UNLOAD failed: the reason the server logs (load) or replies (unload).
public struct ModuleError: Error, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// What the MODULE command drives: the plugin host (TernPlugins) implements it and sets `ServerState.modules`.
public protocol ModuleManager: AnyObject {
    var loadedModules: [ModuleInfo] { get }
    func loadModule(path: String, arguments: [String]) throws
    func unloadModule(name: String) throws
}

/// MODULE LIST / LOAD / LOADEX / UNLOAD / HELP, as Redis 7.0 (LOAD, LOADEX and UNLOAD are guarded by
/// `enable-module-command`, default no).
enum ModuleCommands {
    static var specs: [CommandSpec] {
        let loadFlags: CommandFlags = [.admin, .noscript, .noAsyncLoading, .protected]
        return [
            CommandSpec("module", arity: -2, group: "server", summary: "A container for module commands",
                        since: "4.0.0", complexity: "Depends on subcommand.", subcommands: [
                CommandSpec("list", arity: 2, flags: [.admin, .noscript], group: "server",
                            summary: "List all modules loaded by the server", since: "4.0.0",
                            complexity: "O(N) where N is the number of loaded modules.", handler: list),
                CommandSpec("load", arity: -3, flags: loadFlags, group: "server", summary: "Load a module",
                            since: "4.0.0", arguments: ["path", "[arg [arg ...]]"], handler: load),
                CommandSpec("loadex", arity: -3, flags: loadFlags, group: "server",
                            summary: "Load a module with extended parameters", since: "7.0.0",
                            arguments: ["path", "[CONFIG name value [CONFIG name value ...]]", "[ARGS args [args ...]]"],
                            handler: loadex),
                CommandSpec("unload", arity: 3, flags: loadFlags, group: "server", summary: "Unload a module",
                            since: "4.0.0", arguments: ["name"], handler: unload),
                CommandSpec("help", arity: 2, flags: [.loading, .stale], group: "server",
                            summary: "Show helpful text about the different subcommands", since: "5.0.0",
                            handler: help),
            ], handler: nil),
        ]
    }

    static let loadFailed = CommandError.err("Error loading the extension. Please check the server logs.")

    static func list(_ ctx: CommandContext) throws { writeList(ctx) }

    /// The loaded modules as MODULE LIST (and HELLO's "modules" field) show them.
    static func writeList(_ ctx: CommandContext) {
        let modules = ctx.server.modules?.loadedModules ?? []
        ctx.arrayHeader(modules.count)
        for m in modules {
            ctx.mapHeader(4)
            ctx.bulk("name"); ctx.bulk(m.name)
            ctx.bulk("ver"); ctx.integer(m.version)
            ctx.bulk("path"); ctx.bulk(m.path)
            ctx.bulk("args"); ctx.bulkArray(m.arguments)
        }
    }

    /// Redis's allowProtectedAction for enable-module-command: yes, or local for a loopback/unix client;
    /// the master's stream is always obeyed. The dispatcher asks before running or queueing a `.protected`
    /// command; nil when allowed.
    static func refusal(_ ctx: CommandContext) -> CommandError? {
        DebugCommands.protectedRefusal(ctx, setting: ctx.server.config.enableModuleCommand, command: "MODULE",
                                       option: "enable-module-command")
    }

    static func load(_ ctx: CommandContext) throws {
        try load(ctx, path: ctx.string(2), arguments: (3..<ctx.argc).map { ctx.string($0) })
    }

    static func load(_ ctx: CommandContext, path: String, arguments: [String]) throws {
        guard let manager = ctx.server.modules else {
            ctx.server.logger.warning("Module \(path) failed to load: this server has no plugin host")
            throw loadFailed
        }
        do {
            try manager.loadModule(path: path, arguments: arguments)
        } catch {
            ctx.server.logger.warning("Module \(path) failed to load: \(error)")
            throw loadFailed
        }
        ctx.ok()
    }

    /// `MODULE LOADEX path [CONFIG name value ...] [ARGS arg ...]`. Plugins declare no module configs, so a
    /// CONFIG pair is refused as Redis refuses a config the module did not register.
    static func loadex(_ ctx: CommandContext) throws {
        var arguments: [String] = []
        var i = 3
        while i < ctx.argc {
            if ctx.argument(i, is: "CONFIG") {
                if i + 2 >= ctx.argc {
                    ctx.server.logger.notice("CONFIG specified without name value pair")
                } else {
                    ctx.server.logger.warning("Module Configuration detected without loadmodule directive or no ApplyConfig call: aborting")
                }
                throw loadFailed
            } else if ctx.argument(i, is: "ARGS") {
                arguments = ((i + 1)..<ctx.argc).map { ctx.string($0) }
                break
            } else {
                ctx.server.logger.warning("Unrecognized MODULE LOADEX parameter '\(ctx.string(i))'")
                throw loadFailed
            }
        }
        try load(ctx, path: ctx.string(2), arguments: arguments)
    }

    static func unload(_ ctx: CommandContext) throws {
        guard let manager = ctx.server.modules else {
            throw CommandError.err("Error unloading module: no such module with that name")
        }
        do {
            try manager.unloadModule(name: ctx.string(2))
        } catch {
            throw CommandError.err("Error unloading module: \(error)")
        }
        ctx.ok()
    }

    static let helpLines = [
        "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LIST",
        "    Return a list of loaded modules.",
        "LOAD <path> [<arg> ...]",
        "    Load a module library from <path>, passing to it any optional arguments.",
        "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
        "    Load a module library from <path>, while passing it module configurations and optional arguments.",
        "UNLOAD <name>",
        "    Unload a module.",
        "HELP",
        "    Prints this help.",
    ]

    static func help(_ ctx: CommandContext) throws {
        ctx.arrayHeader(helpLines.count)
        for line in helpLines { ctx.simple(line) }
    }
}

extension Client {
    /// A connection from the loopback interface or the unix socket (Redis's islocalClient).
    public var isLocal: Bool {
        if flags.contains(.unixSocket) { return true }
        return address.hasPrefix("127.0.0.1:") || address.hasPrefix("::1") || address.hasPrefix("[::1]")
    }
}
