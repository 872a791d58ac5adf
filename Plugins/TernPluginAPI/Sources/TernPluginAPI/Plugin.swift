/// A Tern plugin: a named set of commands and, optionally, keyspace-event observers.
///
/// The server calls `load` once, on its command thread, when the plugin is enabled (`loadplugin`,
/// `loadmodule`, `MODULE LOAD`), and `unload` on `MODULE UNLOAD`. Every command handler and observer also runs
/// on that one thread, so a plugin needs no locks for its own state.
public protocol TernPlugin: AnyObject {
    /// Lower-case name: its commands are `<name>.<verb>`; `MODULE LIST` and `MODULE UNLOAD` use it.
    var name: String { get }
    /// An integer version, shown by `MODULE LIST` as `ver`.
    var version: Int { get }
    /// Declares the plugin's commands and observers. `arguments` are the words after the name or path in
    /// `loadplugin`/`loadmodule`/`MODULE LOAD`. Throwing refuses the load; the server logs the message.
    func load(_ registrar: PluginRegistrar, arguments: [String]) throws
    /// Called by `MODULE UNLOAD` before the plugin's commands leave the table. Throw to refuse; the error's
    /// message is the reason the client sees after "Error unloading module: ".
    func unload() throws
}

extension TernPlugin {
    public var version: Int { 1 }
    public func unload() throws {}
}

/// What a plugin declares itself through, during `load`.
public protocol PluginRegistrar: AnyObject {
    /// Adds a command named `<plugin>.<verb>` to the server's command table. Throws when the name is taken.
    func register(_ command: PluginCommand) throws
    /// Calls `observer` for every keyspace event of the given classes, whatever `notify-keyspace-events` says
    /// (as RedisModule_SubscribeToKeyspaceEvents). It runs synchronously inside the command that caused the
    /// event and must not change keys.
    func observeKeyspaceEvents(_ classes: KeyspaceEventClass, _ observer: @escaping (KeyspaceEvent) -> Void)
    /// Writes a line to the server log (at notice level), prefixed with the plugin's name.
    func log(_ message: String)
    /// The server's clock, unix milliseconds, for work outside a command (a command uses its context's
    /// `nowMillis`). The registrar stays valid while the plugin is loaded.
    func nowMillis() -> Int64
}

/// Command flags, as Redis module commands declare them (the Redis spelling is given for each).
public struct PluginCommandFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// "write": may change data. Refused on a read-only replica; its changes replicate.
    public static let write = PluginCommandFlags(rawValue: 1 << 0)
    /// "readonly": only reads data.
    public static let readonly = PluginCommandFlags(rawValue: 1 << 1)
    /// "deny-oom": may grow memory; refused when above maxmemory or when the store is full.
    public static let denyOOM = PluginCommandFlags(rawValue: 1 << 2)
    /// "admin": an administrative command (not shown to MONITOR).
    public static let admin = PluginCommandFlags(rawValue: 1 << 3)
    /// "fast": O(1) or O(log N); shown as @fast (otherwise @slow).
    public static let fast = PluginCommandFlags(rawValue: 1 << 4)
    /// "no-auth": runs before the client authenticated.
    public static let noAuth = PluginCommandFlags(rawValue: 1 << 5)
    /// "no-multi": refused inside MULTI.
    public static let noMulti = PluginCommandFlags(rawValue: 1 << 6)
    /// "may-replicate": does not write data but may call `replicate`.
    public static let mayReplicate = PluginCommandFlags(rawValue: 1 << 7)
    /// "allow-stale": runs on a replica whose link is down.
    public static let allowStale = PluginCommandFlags(rawValue: 1 << 8)
    /// "no-monitor" and "no-slowlog".
    public static let noMonitor = PluginCommandFlags(rawValue: 1 << 9)
    public static let noSlowlog = PluginCommandFlags(rawValue: 1 << 10)
}

/// One command: everything the server checks before the handler runs, and what `COMMAND` shows.
public struct PluginCommand {
    /// The part after the dot: "throttle" in "ratelimit.throttle". Lower-case.
    public var verb: String
    /// Signed arity as Redis: the exact argument count (command name included) when positive, a minimum when
    /// negative.
    public var arity: Int
    public var flags: PluginCommandFlags
    /// Key positions (first, last, step) as in RedisModule_CreateCommand: last -1 = the last argument.
    /// (0, 0, 0) when the command takes no key.
    public var firstKey: Int
    public var lastKey: Int
    public var keyStep: Int
    /// One line for `COMMAND DOCS`.
    public var summary: String
    public var complexity: String
    public var since: String
    /// Argument hints for `COMMAND DOCS` (and redis-cli), e.g. ["key", "max_burst", "[quantity]"].
    public var argumentHints: [String]
    /// Runs the command. `arguments[0]` is the command name as the client sent it. The reply is written only
    /// when the handler returns; a thrown error becomes the error reply instead.
    public var handler: (PluginContext, [[UInt8]]) throws -> Reply

    public init(_ verb: String, arity: Int, flags: PluginCommandFlags = [],
                keys: (first: Int, last: Int, step: Int) = (0, 0, 0),
                summary: String, complexity: String = "O(1)", since: String = "1.0.0",
                arguments: [String] = [],
                handler: @escaping (PluginContext, [[UInt8]]) throws -> Reply) {
        self.verb = verb.lowercased()
        self.arity = arity
        self.flags = flags
        self.firstKey = keys.first
        self.lastKey = keys.last
        self.keyStep = keys.step
        self.summary = summary
        self.complexity = complexity
        self.since = since
        self.argumentHints = arguments
        self.handler = handler
    }
}
