import Crypto

/// Redis 7.0's ACL categories, in the order ACL CAT lists them and ACL LIST's describer tries them.
public enum ACLCategory {
    public static let names = [
        "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog", "geo",
        "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection", "transaction", "scripting",
    ]

    /// The category bit for a name (case-insensitive), or nil.
    public static func bit(_ name: String) -> UInt32? {
        names.firstIndex(of: name.lowercased()).map { 1 << UInt32($0) }
    }

    /// A command's categories as bits (those COMMAND INFO prints: implied by flags, plus the declared ones).
    static func bits(of spec: CommandSpec) -> UInt32 {
        var bits: UInt32 = 0
        for c in spec.allCategories { if let b = bit(String(c.dropFirst())) { bits |= b } }
        return bits
    }
}

/// Why a check failed, ordered as Redis orders ACL_DENIED_* (a later reason wins when picking what to log).
public enum ACLDenial: Int, Comparable {
    case command = 1
    case key = 2
    case auth = 3
    case channel = 4

    public static func < (a: ACLDenial, b: ACLDenial) -> Bool { a.rawValue < b.rawValue }

    /// ACL LOG's `reason`.
    var logName: String {
        switch self {
        case .command: return "command"
        case .key: return "key"
        case .auth: return "auth"
        case .channel: return "channel"
        }
    }
}

/// What a key argument needs: read access, write access, or both (from the command's key spec flags).
public struct ACLKeyAccess: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let read = ACLKeyAccess(rawValue: 1)
    public static let write = ACLKeyAccess(rawValue: 2)
    public static let all: ACLKeyAccess = [.read, .write]
}

/// A rule that could not be applied; `message` is Redis's ACLSetUserStringError text.
public struct ACLRuleError: Error, Equatable {
    public enum Reason: Equatable {
        case unknownName, syntax, keyAfterAll, channelAfterAll, noSuchPassword, badHash, duplicateUser, firstArgOfSub
    }
    public let reason: Reason
    init(_ reason: Reason) { self.reason = reason }

    public var message: String {
        switch reason {
        case .unknownName: return "Unknown command or category name in ACL"
        case .syntax: return "Syntax error"
        case .keyAfterAll:
            return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
        case .channelAfterAll:
            return "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
        case .noSuchPassword: return "The password you are trying to remove from the user does not exist"
        case .badHash: return "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
        case .duplicateUser: return "Duplicate user found. A user can only be defined once in config files"
        case .firstArgOfSub: return "Allowing first-arg of a subcommand is not supported"
        }
    }
}

/// One set of permissions: which commands, keys and channels. A user has a root selector plus any number
/// of `(...)` selectors; a command is allowed when one selector allows all of it.
public struct ACLSelector: Equatable {
    public struct KeyPattern: Equatable {
        var pattern: [UInt8]
        var access: ACLKeyAccess
    }

    var isRoot: Bool
    var allKeys = false
    var allChannels = false
    /// Set by `+@all`/`allcommands`: also allows commands registered later (plugins); cleared by any removal.
    var allCommands = false
    /// The reserved "future commands" bit of Redis's bitmap: set by +@all, cleared only by -@all.
    var futureCommands = false
    /// Allowed commands by ACL command id.
    var allowed = ACLBitset()
    /// `+cmd|arg` for commands without subcommands: first arguments allowed although the command is not.
    var firstArgs: [Int: [String]] = [:]
    var keyPatterns: [KeyPattern] = []
    var channels: [[UInt8]] = []

    init(root: Bool, pubsubDefaultAll: Bool) {
        isRoot = root
        allChannels = pubsubDefaultAll
    }

    func allows(commandID id: Int) -> Bool { allCommands || allowed[id] }

    mutating func setCommand(_ spec: CommandSpec, _ allow: Bool, ids: ACLCommandIDs) {
        let id = ids.id(spec)
        allowed[id] = allow
        if !allow { allCommands = false }
        firstArgs[id] = nil
        for sub in spec.subcommands.values {
            allowed[ids.id(sub)] = allow
        }
    }

    /// Redis's ACLSetSelector.
    mutating func apply(_ op: [UInt8], table: CommandTable, ids: ACLCommandIDs) throws {
        let text = String(decoding: op, as: UTF8.self)
        let lower = text.lowercased()
        if lower == "allkeys" || text == "~*" {
            allKeys = true
            keyPatterns.removeAll()
        } else if lower == "resetkeys" {
            allKeys = false
            keyPatterns.removeAll()
        } else if lower == "allchannels" || text == "&*" {
            allChannels = true
            channels.removeAll()
        } else if lower == "resetchannels" {
            allChannels = false
            channels.removeAll()
        } else if lower == "allcommands" || lower == "+@all" {
            allowed = ACLBitset(all: true)
            allCommands = true
            futureCommands = true
            firstArgs.removeAll()
        } else if lower == "nocommands" || lower == "-@all" {
            allowed = ACLBitset()
            allCommands = false
            futureCommands = false
            firstArgs.removeAll()
        } else if op.first == UInt8(ascii: "~") || op.first == UInt8(ascii: "%") {
            if allKeys { throw ACLRuleError(.keyAfterAll) }
            var access: ACLKeyAccess = []
            var offset = 1
            if op[0] == UInt8(ascii: "%") {
                var closed = false
                while offset < op.count {
                    let c = op[offset] & ~0x20
                    if c == UInt8(ascii: "R") && !access.contains(.read) {
                        access.insert(.read)
                    } else if c == UInt8(ascii: "W") && !access.contains(.write) {
                        access.insert(.write)
                    } else if op[offset] == UInt8(ascii: "~") {
                        offset += 1
                        closed = true
                        break
                    } else {
                        throw ACLRuleError(.syntax)
                    }
                    offset += 1
                }
                // Redis accepts "%R" without "~" as the (empty) pattern; keep its behaviour.
                _ = closed
            } else {
                access = .all
            }
            let pattern = Array(op[offset...])
            if ACLUser.hasSpaces(pattern) { throw ACLRuleError(.syntax) }
            if let i = keyPatterns.firstIndex(where: { $0.pattern == pattern }) {
                keyPatterns[i].access.formUnion(access)
            } else {
                keyPatterns.append(KeyPattern(pattern: pattern, access: access))
            }
            allKeys = false
        } else if op.first == UInt8(ascii: "&") {
            if allChannels { throw ACLRuleError(.channelAfterAll) }
            let pattern = Array(op.dropFirst())
            if ACLUser.hasSpaces(pattern) { throw ACLRuleError(.syntax) }
            if !channels.contains(pattern) { channels.append(pattern) }
            allChannels = false
        } else if op.count >= 1 && op[0] == UInt8(ascii: "+") && (op.count < 2 || op[1] != UInt8(ascii: "@")) {
            let name = String(text.dropFirst())
            guard let bar = name.lastIndex(of: "|") else {
                guard let spec = Self.lookup(name, table) else { throw ACLRuleError(.unknownName) }
                setCommand(spec, true, ids: ids)
                return
            }
            let commandName = String(name[..<bar])
            let sub = String(name[name.index(after: bar)...])
            guard let spec = Self.lookup(commandName, table) else { throw ACLRuleError(.unknownName) }
            if spec.parent != nil { throw ACLRuleError(.firstArgOfSub) }
            if sub.isEmpty { throw ACLRuleError(.syntax) }
            if !spec.subcommands.isEmpty {
                guard let subSpec = spec.subcommands[sub.lowercased()] else { throw ACLRuleError(.unknownName) }
                setCommand(subSpec, true, ids: ids)
            } else {
                let id = ids.id(spec)
                var list = firstArgs[id] ?? []
                if !list.contains(where: { $0.lowercased() == sub.lowercased() }) { list.append(sub) }
                firstArgs[id] = list
            }
        } else if op.count >= 1 && op[0] == UInt8(ascii: "-") && (op.count < 2 || op[1] != UInt8(ascii: "@")) {
            guard let spec = Self.lookup(String(text.dropFirst()), table) else { throw ACLRuleError(.unknownName) }
            setCommand(spec, false, ids: ids)
        } else if op.count >= 2 && (op[0] == UInt8(ascii: "+") || op[0] == UInt8(ascii: "-")) && op[1] == UInt8(ascii: "@") {
            guard let bit = ACLCategory.bit(String(text.dropFirst(2))) else { throw ACLRuleError(.unknownName) }
            let allow = op[0] == UInt8(ascii: "+")
            for spec in table.commands.values {
                if spec.isPlugin { continue }
                if ACLCategory.bits(of: spec) & bit != 0 { setCommand(spec, allow, ids: ids) }
                for sub in spec.subcommands.values where ACLCategory.bits(of: sub) & bit != 0 {
                    setCommand(sub, allow, ids: ids)
                }
            }
        } else {
            throw ACLRuleError(.syntax)
        }
    }

    /// "name" or "name|sub", as Redis's lookupCommandBySds (case-insensitive).
    static func lookup(_ fullName: String, _ table: CommandTable) -> CommandSpec? {
        let parts = fullName.lowercased().split(separator: "|", omittingEmptySubsequences: false)
        guard let top = table.lookup(String(parts[0])) else { return nil }
        if parts.count == 1 { return top }
        guard parts.count == 2, !top.subcommands.isEmpty else { return nil }
        return top.subcommands[String(parts[1])]
    }

    // MARK: checks

    func checkKey(_ key: [UInt8], _ access: ACLKeyAccess) -> Bool {
        if allKeys { return true }
        for p in keyPatterns where p.access.isSuperset(of: access) {
            if GlobMatch.matches(pattern: p.pattern, key) { return true }
        }
        return false
    }

    /// Whether the selector grants `access` to every key ('~*', '%R~*', allkeys).
    func hasUnrestrictedKeyAccess(_ access: ACLKeyAccess) -> Bool {
        if allKeys { return true }
        return keyPatterns.contains { $0.access.isSuperset(of: access) && $0.pattern == [UInt8(ascii: "*")] }
    }

    func checkChannel(_ channel: [UInt8], isPattern: Bool) -> Bool {
        if allChannels { return true }
        return ACLSelector.channelAllowed(channels, channel, isPattern: isPattern)
    }

    /// A pattern subscription must equal an allowed pattern; a channel may match one.
    static func channelAllowed(_ list: [[UInt8]], _ channel: [UInt8], isPattern: Bool) -> Bool {
        for p in list {
            if isPattern ? p == channel : GlobMatch.matches(pattern: p, channel) { return true }
        }
        return false
    }

    // MARK: describing

    /// Redis's ACLDescribeSelector: keys, channels, then the command rules.
    func describe(table: CommandTable, ids: ACLCommandIDs) -> String {
        var s = ""
        if allKeys {
            s += "~* "
        } else {
            for p in keyPatterns { s += Self.patternString(p) + " " }
        }
        if allChannels {
            s += "&* "
        } else {
            s += "resetchannels "
            for c in channels { s += "&" + String(decoding: c, as: UTF8.self) + " " }
        }
        return s + describeCommands(table: table, ids: ids)
    }

    static func patternString(_ p: KeyPattern) -> String {
        let prefix: String
        switch p.access {
        case .all: prefix = "~"
        case .read: prefix = "%R~"
        default: prefix = "%W~"
        }
        return prefix + String(decoding: p.pattern, as: UTF8.self)
    }

    var keysDescription: String {
        allKeys ? "~*" : keyPatterns.map(Self.patternString).joined(separator: " ")
    }

    var channelsDescription: String {
        allChannels ? "&*" : channels.map { "&" + String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
    }

    /// Redis's ACLDescribeSelectorCommandRules: +@all or -@all, then the best-fitting categories, then single
    /// commands, so that applying the result to a fresh selector gives exactly this bitmap.
    func describeCommands(table: CommandTable, ids: ACLCommandIDs) -> String {
        let additive = !futureCommands
        var rules = additive ? "-@all " : "+@all "
        var fake = ACLSelector(root: false, pubsubDefaultAll: false)
        try? fake.apply(Array((additive ? "-@all" : "+@all").utf8), table: table, ids: ids)
        var temp = self
        temp.allCommands = false
        var applied = Set<Int>()
        let specs = table.allSpecs.filter { !$0.isPlugin }
        while true {
            var best = -1
            var minDiff = Int.max
            var maxSame = 0
            for (j, name) in ACLCategory.names.enumerated() where !applied.contains(j) {
                let bit = ACLCategory.bit(name)!
                var on = 0, off = 0
                for spec in specs where ACLCategory.bits(of: spec) & bit != 0 {
                    if temp.allowed[ids.id(spec)] { on += 1 } else { off += 1 }
                }
                let diff = additive ? off : on
                let same = additive ? on : off
                if same > diff && (diff < minDiff || (diff == minDiff && same > maxSame)) {
                    best = j
                    minDiff = diff
                    maxSame = same
                }
            }
            if best < 0 { break }
            let name = ACLCategory.names[best]
            try? fake.apply(Array(((additive ? "+@" : "-@") + name).utf8), table: table, ids: ids)
            try? temp.apply(Array(((additive ? "-@" : "+@") + name).utf8), table: table, ids: ids)
            rules += (additive ? "+@" : "-@") + name + " "
            applied.insert(best)
        }
        // Single-command differences, top-level commands before their subcommands, in name order.
        for spec in table.commands.values.filter({ !$0.isPlugin }).sorted(by: { $0.name < $1.name }) {
            let family = [spec] + spec.subcommands.values.sorted { $0.name < $1.name }
            for member in family {
                let id = ids.id(member)
                let mine = allowed[id]
                if mine != fake.allowed[id] {
                    rules += (mine ? "+" : "-") + member.fullName + " "
                    fake.setCommand(member, mine, ids: ids)
                }
                if !mine, let args = firstArgs[id] {
                    for a in args { rules += "+" + member.fullName + "|" + a + " " }
                }
            }
        }
        rules.removeLast()
        return rules
    }
}

/// One bit per ACL command id.
struct ACLBitset: Equatable {
    private var words: [UInt64]
    private var fill: UInt64

    init(all: Bool = false) {
        fill = all ? ~0 : 0
        words = []
    }

    subscript(_ i: Int) -> Bool {
        get {
            let w = i >> 6
            return ((w < words.count ? words[w] : fill) >> UInt64(i & 63)) & 1 == 1
        }
        set {
            let w = i >> 6
            while words.count <= w { words.append(fill) }
            if newValue { words[w] |= 1 << UInt64(i & 63) } else { words[w] &= ~(1 << UInt64(i & 63)) }
        }
    }

    static func == (a: ACLBitset, b: ACLBitset) -> Bool {
        let n = max(a.words.count, b.words.count)
        for i in 0..<n {
            let x = i < a.words.count ? a.words[i] : a.fill
            let y = i < b.words.count ? b.words[i] : b.fill
            if x != y { return false }
        }
        return a.fill == b.fill
    }
}

/// Stable ids for command names (Redis's ACLGetCommandID): a plugin command unloaded and loaded again keeps
/// its id, so users' rules about it stay valid.
public final class ACLCommandIDs {
    private var byName: [String: Int] = [:]
    public init() {}

    func id(_ spec: CommandSpec) -> Int {
        if spec.aclID >= 0 { return spec.aclID }
        let name = spec.fullName
        let id: Int
        if let known = byName[name] { id = known } else { id = byName.count; byName[name] = id }
        spec.aclID = id
        return id
    }
}

/// An ACL user: flags, SHA-256 password hashes and selectors.
public final class ACLUser {
    public let name: String
    public internal(set) var enabled = false
    public internal(set) var noPass = false
    /// Redis's (sanitize-payload | skip-sanitize-payload) flag, shown by ACL LIST/GETUSER.
    var skipSanitizePayload = false
    var sanitizePayload = false
    /// Lowercase hex SHA-256 of each password, in the order added.
    public internal(set) var passwords: [String] = []
    var selectors: [ACLSelector]

    init(name: String, pubsubDefaultAll: Bool) {
        self.name = name
        selectors = [ACLSelector(root: true, pubsubDefaultAll: pubsubDefaultAll)]
    }

    /// The default user: everything allowed, no password.
    static func makeDefault(table: CommandTable, ids: ACLCommandIDs) -> ACLUser {
        let u = ACLUser(name: "default", pubsubDefaultAll: false)
        for op in ["+@all", "~*", "&*", "on", "nopass"] { try? u.apply(Array(op.utf8), table: table, ids: ids, pubsubDefaultAll: false) }
        return u
    }

    /// A copy with another name (ACL SETUSER stages changes on one).
    func copy(named: String? = nil) -> ACLUser {
        let u = ACLUser(name: named ?? name, pubsubDefaultAll: false)
        u.copyRules(from: self)
        return u
    }

    func copyRules(from other: ACLUser) {
        enabled = other.enabled
        noPass = other.noPass
        skipSanitizePayload = other.skipSanitizePayload
        sanitizePayload = other.sanitizePayload
        passwords = other.passwords
        selectors = other.selectors
        refresh()
    }

    /// True when nothing is restricted: the dispatcher skips the check (the default user's common case).
    /// Stored, kept current by every rule change, so the per-command test is one load.
    public private(set) var isUnrestricted = false

    private func refresh() {
        isUnrestricted = selectors[0].allCommands && selectors[0].allKeys && selectors[0].allChannels
    }

    static func hasSpaces(_ bytes: [UInt8]) -> Bool {
        bytes.contains { $0 == 0 || $0 == 32 || ($0 >= 9 && $0 <= 13) }
    }

    static func hashPassword(_ bytes: [UInt8]) -> String {
        let digest = SHA256.hash(data: bytes)
        return digest.map { b -> String in
            let h = String(b, radix: 16)
            return h.count == 1 ? "0" + h : h
        }.joined()
    }

    static func isValidHash(_ bytes: [UInt8]) -> Bool {
        bytes.count == 64 && bytes.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    /// Redis's ACLSetUser: one rule.
    func apply(_ op: [UInt8], table: CommandTable, ids: ACLCommandIDs, pubsubDefaultAll: Bool) throws {
        if op.isEmpty { return }
        defer { refresh() }
        let lower = String(decoding: op, as: UTF8.self).lowercased()
        switch lower {
        case "on": enabled = true
        case "off": enabled = false
        case "skip-sanitize-payload": skipSanitizePayload = true; sanitizePayload = false
        case "sanitize-payload": skipSanitizePayload = false; sanitizePayload = true
        case "nopass": noPass = true; passwords.removeAll()
        case "resetpass": noPass = false; passwords.removeAll()
        case "clearselectors": selectors.removeSubrange(1...)
        case "reset":
            try apply(Array("resetpass".utf8), table: table, ids: ids, pubsubDefaultAll: pubsubDefaultAll)
            try apply(Array("resetkeys".utf8), table: table, ids: ids, pubsubDefaultAll: pubsubDefaultAll)
            try apply(Array("resetchannels".utf8), table: table, ids: ids, pubsubDefaultAll: pubsubDefaultAll)
            if pubsubDefaultAll { try apply(Array("allchannels".utf8), table: table, ids: ids, pubsubDefaultAll: pubsubDefaultAll) }
            enabled = false
            skipSanitizePayload = false
            sanitizePayload = true
            selectors.removeSubrange(1...)
            try apply(Array("-@all".utf8), table: table, ids: ids, pubsubDefaultAll: pubsubDefaultAll)
        default:
            let first = op[0]
            if first == UInt8(ascii: ">") || first == UInt8(ascii: "#") {
                let hash: String
                if first == UInt8(ascii: ">") {
                    hash = Self.hashPassword(Array(op.dropFirst()))
                } else {
                    let h = Array(op.dropFirst())
                    guard Self.isValidHash(h) else { throw ACLRuleError(.badHash) }
                    hash = String(decoding: h, as: UTF8.self)
                }
                if !passwords.contains(hash) { passwords.append(hash) }
                noPass = false
            } else if first == UInt8(ascii: "<") || first == UInt8(ascii: "!") {
                let hash: String
                if first == UInt8(ascii: "<") {
                    hash = Self.hashPassword(Array(op.dropFirst()))
                } else {
                    let h = Array(op.dropFirst())
                    guard Self.isValidHash(h) else { throw ACLRuleError(.badHash) }
                    hash = String(decoding: h, as: UTF8.self)
                }
                guard let i = passwords.firstIndex(of: hash) else { throw ACLRuleError(.noSuchPassword) }
                passwords.remove(at: i)
            } else if first == UInt8(ascii: "("), op.last == UInt8(ascii: ")") {
                var selector = ACLSelector(root: false, pubsubDefaultAll: pubsubDefaultAll)
                let inner = String(decoding: op.dropFirst().dropLast(), as: UTF8.self)
                for word in inner.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                    try selector.apply(Array(word.utf8), table: table, ids: ids)
                }
                selectors.append(selector)
            } else {
                try selectors[0].apply(op, table: table, ids: ids)
            }
        }
    }

    /// Checks a password; a disabled user never authenticates.
    func authenticates(_ password: [UInt8]) -> Bool {
        guard enabled else { return false }
        if noPass { return true }
        let hashed = Array(Self.hashPassword(password).utf8)
        // Compare every stored hash in full time (Redis's time_independent_strcmp).
        var ok = false
        for p in passwords {
            var diff: UInt8 = 0
            for (a, b) in zip(hashed, p.utf8) { diff |= a ^ b }
            if diff == 0 { ok = true }
        }
        return ok
    }

    /// Redis's ACLDescribeUser: flags, password hashes, root selector, then `(...)` selectors.
    func describe(table: CommandTable, ids: ACLCommandIDs) -> String {
        var s = ""
        s += enabled ? "on " : "off "
        if noPass { s += "nopass " }
        if skipSanitizePayload { s += "skip-sanitize-payload " }
        if sanitizePayload { s += "sanitize-payload " }
        for p in passwords { s += "#" + p + " " }
        for sel in selectors {
            let d = sel.describe(table: table, ids: ids)
            s += sel.isRoot ? d : " (" + d + ")"
        }
        return s
    }

    /// The flag names ACL GETUSER lists.
    var flagNames: [String] {
        var f = [enabled ? "on" : "off"]
        if noPass { f.append("nopass") }
        if skipSanitizePayload { f.append("skip-sanitize-payload") }
        if sanitizePayload { f.append("sanitize-payload") }
        return f
    }

    /// Redis's ACLMergeSelectorArguments: a selector split over several arguments becomes one. Returns nil
    /// and the index of the unmatched opening argument when a parenthesis is left open.
    static func mergeSelectorArguments(_ args: [[UInt8]]) -> (merged: [[UInt8]]?, invalidIndex: Int) {
        var out: [[UInt8]] = []
        var open = -1
        var current: [UInt8] = []
        for (j, op) in args.enumerated() {
            if open < 0, op.first == UInt8(ascii: "("), op.last != UInt8(ascii: ")") {
                current = op
                open = j
                continue
            }
            if open >= 0 {
                current += [UInt8(ascii: " ")] + op
                if op.last == UInt8(ascii: ")") {
                    open = -1
                    out.append(current)
                }
                continue
            }
            out.append(op)
        }
        if open >= 0 { return (nil, open) }
        return (out, 0)
    }
}
