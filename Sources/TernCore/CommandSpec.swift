import NIOCore

/// Command flags, as Redis's `src/commands/*.json` "command_flags" (names are what COMMAND INFO prints).
public struct CommandFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let write = CommandFlags(rawValue: 1 << 0)
    public static let readonly = CommandFlags(rawValue: 1 << 1)
    public static let denyoom = CommandFlags(rawValue: 1 << 2)
    public static let admin = CommandFlags(rawValue: 1 << 3)
    public static let pubsub = CommandFlags(rawValue: 1 << 4)
    public static let noscript = CommandFlags(rawValue: 1 << 5)
    public static let blocking = CommandFlags(rawValue: 1 << 6)
    public static let loading = CommandFlags(rawValue: 1 << 7)
    public static let stale = CommandFlags(rawValue: 1 << 8)
    public static let skipMonitor = CommandFlags(rawValue: 1 << 9)
    public static let skipSlowlog = CommandFlags(rawValue: 1 << 10)
    public static let fast = CommandFlags(rawValue: 1 << 11)
    public static let noAuth = CommandFlags(rawValue: 1 << 12)
    public static let mayReplicate = CommandFlags(rawValue: 1 << 13)
    public static let noMulti = CommandFlags(rawValue: 1 << 14)
    public static let allowBusy = CommandFlags(rawValue: 1 << 15)
    public static let noMandatoryKeys = CommandFlags(rawValue: 1 << 16)
    public static let noAsyncLoading = CommandFlags(rawValue: 1 << 17)
    /// Refused unless `enable-debug-command` (DEBUG) or `enable-module-command` (MODULE LOAD/LOADEX/UNLOAD) allows it. COMMAND INFO doesn't show
    /// it, as Redis doesn't.
    public static let protected = CommandFlags(rawValue: 1 << 18)

    /// In the order and spelling of Redis's COMMAND INFO output.
    public static let names: [(CommandFlags, String)] = [
        (.write, "write"), (.readonly, "readonly"), (.denyoom, "denyoom"), (.admin, "admin"),
        (.pubsub, "pubsub"), (.noscript, "noscript"), (.blocking, "blocking"), (.loading, "loading"),
        (.stale, "stale"), (.skipMonitor, "skip_monitor"), (.skipSlowlog, "skip_slowlog"), (.fast, "fast"),
        (.noAuth, "no_auth"), (.mayReplicate, "may_replicate"), (.noMulti, "no_multi"),
        (.allowBusy, "allow_busy"), (.noMandatoryKeys, "no_mandatory_keys"), (.noAsyncLoading, "no_async_loading"),
    ]

    public var names: [String] { CommandFlags.names.filter { contains($0.0) }.map(\.1) }
}

/// Legacy key positions (first, last, step): last -1 = the last argument, -2 = the one before, ...
public struct KeyPositions: Sendable, Equatable {
    public var first: Int
    public var last: Int
    public var step: Int
    public init(first: Int, last: Int, step: Int) { self.first = first; self.last = last; self.step = step }
    public static let none = KeyPositions(first: 0, last: 0, step: 0)
    public static let single = KeyPositions(first: 1, last: 1, step: 1)
    public static let all = KeyPositions(first: 1, last: -1, step: 1)

    /// The argument indexes holding keys in `argc` arguments.
    public func indexes(argc: Int) -> [Int] {
        guard first > 0, step > 0 else { return [] }
        let lastIndex = last < 0 ? argc + last : last
        guard first <= lastIndex, lastIndex < argc else { return [] }
        return Array(stride(from: first, through: lastIndex, by: step))
    }
}

/// Executes a parsed command against the context. Errors thrown become error replies.
public typealias CommandHandler = (CommandContext) throws -> Void

/// A command declared as data: everything the dispatcher checks before the handler runs, and everything
/// COMMAND replies with.
public final class CommandSpec: @unchecked Sendable {
    /// Lowercase name; for a subcommand just the subcommand ("get" under "config").
    public let name: String
    /// Signed arity: exact argument count (name included) when positive, a minimum when negative.
    public let arity: Int
    public let flags: CommandFlags
    public let keys: KeyPositions
    /// Redis's docs group ("string", "generic", "server", "connection", ...).
    public let group: String
    public let summary: String
    public let since: String
    public let complexity: String
    /// ACL categories without the '@' ("keyspace", "read", ...), besides those implied by the flags.
    public let aclCategories: [String]
    /// Argument names for COMMAND DOCS (redis-cli's hints), e.g. ["key", "value", "[NX|XX]"].
    public let argumentHints: [String]
    /// Extra key finder for commands whose keys the legacy triple can't describe (e.g. numkeys forms).
    public let keyFinder: (([ByteBuffer]) -> [Int])?
    public let handler: CommandHandler?
    public private(set) var subcommands: [String: CommandSpec] = [:]
    public private(set) weak var parent: CommandSpec?
    /// Flags that depend on the call's arguments (EVAL: the script's shebang flags), used by the dispatcher's
    /// admission checks instead of `flags` when set.
    public var flagsForCall: (([ByteBuffer]) -> CommandFlags)?
    /// INFO commandstats counters, kept on the spec so the hot path does no dictionary lookup.
    public var stat = CommandStat()
    /// The command's bit in ACL selectors, assigned on first ACL use (stable per name: ACLCommandIDs).
    public var aclID = -1
    /// Registered by a plugin (Redis's CMD_MODULE): ACL categories don't include it, ACL CAT doesn't list it.
    public var isPlugin: Bool { group == "module" }

    public init(
        _ name: String, arity: Int, flags: CommandFlags = [], keys: KeyPositions = .none,
        group: String, summary: String, since: String = "1.0.0", complexity: String = "O(1)",
        acl: [String] = [], arguments: [String] = [], keyFinder: (([ByteBuffer]) -> [Int])? = nil,
        subcommands: [CommandSpec] = [], handler: CommandHandler?
    ) {
        self.name = name.lowercased()
        self.arity = arity
        self.flags = flags
        self.keys = keys
        self.group = group
        self.summary = summary
        self.since = since
        self.complexity = complexity
        self.aclCategories = acl
        self.argumentHints = arguments
        self.keyFinder = keyFinder
        self.handler = handler
        for sub in subcommands {
            sub.parent = self
            self.subcommands[sub.name] = sub
        }
    }

    /// "config|get" for subcommands, as Redis names them in errors and COMMAND output.
    public var fullName: String { parent.map { "\($0.name)|\(name)" } ?? name }

    public func arityMatches(_ argc: Int) -> Bool {
        arity >= 0 ? argc == arity : argc >= -arity
    }

    /// Key argument indexes for a concrete call.
    public func keyIndexes(_ arguments: [ByteBuffer]) -> [Int] {
        if let finder = keyFinder { return finder(arguments) }
        return keys.indexes(argc: arguments.count)
    }

    /// ACL categories as COMMAND INFO prints them.
    public var allCategories: [String] {
        var categories: [String] = []
        if flags.contains(.write) { categories.append("@write") }
        // Redis leaves @read off scripting commands (EVAL_RO, FCALL_RO) although they are read-only.
        if flags.contains(.readonly) && !aclCategories.contains("scripting") { categories.append("@read") }
        if flags.contains(.admin) { categories.append(contentsOf: ["@admin", "@dangerous"]) }
        if flags.contains(.pubsub) { categories.append("@pubsub") }
        if flags.contains(.fast) { categories.append("@fast") } else { categories.append("@slow") }
        if flags.contains(.blocking) { categories.append("@blocking") }
        for c in aclCategories where !categories.contains("@" + c) { categories.append("@" + c) }
        return categories
    }
}

/// The one table every command goes through: built-ins and plugins alike.
public final class CommandTable: @unchecked Sendable {
    public private(set) var commands: [String: CommandSpec] = [:] {
        didSet { rebuildIndex() }
    }

    /// Open-addressing index over lowercase names, probed straight from request bytes with FNV-1a:
    /// the per-command lookup neither allocates nor seeds a Hasher. Names live in one flat byte array.
    private var slotSpecs: [CommandSpec?] = []
    private var slotOffsets: [Int] = []
    private var slotLengths: [Int] = []
    private var nameBytes: [UInt8] = []
    private var mask = 0

    public init(_ specs: [CommandSpec] = []) {
        var all: [String: CommandSpec] = [:]
        for spec in specs { all[spec.name] = spec }
        commands = all
        rebuildIndex()
    }

    public func register(_ spec: CommandSpec) {
        commands[spec.name] = spec
    }

    /// Removes a command (MODULE UNLOAD of a plugin's commands).
    public func unregister(_ name: String) {
        commands.removeValue(forKey: name.lowercased())
    }

    /// `rename-command old new`: the old name stops working; an empty new name disables the command.
    public func rename(_ old: String, to new: String) -> Bool {
        guard let spec = commands[old.lowercased()] else { return false }
        var updated = commands
        updated.removeValue(forKey: old.lowercased())
        if !new.isEmpty {
            updated[new.lowercased()] = CommandSpec(
                new, arity: spec.arity, flags: spec.flags, keys: spec.keys, group: spec.group,
                summary: spec.summary, since: spec.since, complexity: spec.complexity, acl: spec.aclCategories,
                arguments: spec.argumentHints, keyFinder: spec.keyFinder,
                subcommands: Array(spec.subcommands.values), handler: spec.handler)
        }
        commands = updated
        return true
    }

    private func rebuildIndex() {
        var size = 16
        while size < commands.count * 4 { size <<= 1 }
        var specs = [CommandSpec?](repeating: nil, count: size)
        var offsets = [Int](repeating: 0, count: size)
        var lengths = [Int](repeating: -1, count: size)
        var flat: [UInt8] = []
        let m = size - 1
        for (name, spec) in commands {
            let bytes = Array(name.utf8)
            var i = Int(truncatingIfNeeded: bytes.withUnsafeBytes { Self.hash($0) }) & m
            while specs[i] != nil { i = (i + 1) & m }
            specs[i] = spec
            offsets[i] = flat.count
            lengths[i] = bytes.count
            flat.append(contentsOf: bytes)
        }
        slotSpecs = specs
        slotOffsets = offsets
        slotLengths = lengths
        nameBytes = flat
        mask = m
    }

    /// FNV-1a over ASCII-lowercased bytes.
    @inline(__always)
    static func hash(_ raw: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for c in raw {
            let lower = (c >= 65 && c <= 90) ? c | 0x20 : c
            h = (h ^ UInt64(lower)) &* 0x100000001b3
        }
        return h
    }

    /// Case-insensitive lookup straight from the request bytes.
    public func lookup(_ name: ByteBuffer) -> CommandSpec? {
        name.withUnsafeReadableBytes { raw -> CommandSpec? in
            let n = raw.count
            guard n > 0, mask > 0 else { return nil }
            var i = Int(truncatingIfNeeded: Self.hash(raw)) & mask
            return slotLengths.withUnsafeBufferPointer { lengths in
                slotOffsets.withUnsafeBufferPointer { offsets in
                    nameBytes.withUnsafeBufferPointer { names -> CommandSpec? in
                        while lengths[i] >= 0 {
                            if lengths[i] == n {
                                let base = offsets[i]
                                var same = true
                                for j in 0..<n {
                                    let c = raw[j]
                                    if ((c >= 65 && c <= 90) ? c | 0x20 : c) != names[base + j] { same = false; break }
                                }
                                if same { return slotSpecs[i] }
                            }
                            i = (i + 1) & mask
                        }
                        return nil
                    }
                }
            }
        }
    }

    public func lookup(_ name: String) -> CommandSpec? { commands[name.lowercased()] }

    /// Every command and subcommand, for INFO commandstats and COMMAND.
    public var allSpecs: [CommandSpec] {
        commands.values.flatMap { [$0] + $0.subcommands.values.sorted { $0.name < $1.name } }
    }

    /// CONFIG RESETSTAT.
    public func resetStats() {
        for spec in allSpecs { spec.stat = CommandStat() }
    }
}
