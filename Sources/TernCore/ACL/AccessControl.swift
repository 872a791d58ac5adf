import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One ACL LOG entry (Redis's ACLLogEntry).
struct ACLLogEntry {
    var count: Int
    var reason: ACLDenial
    var context: String
    var object: String
    var username: String
    var createdMillis: Int64
    var clientInfo: String
}

/// The outcome of a permission check: what was denied and at which argument.
public struct ACLRefusal {
    public let reason: ACLDenial
    /// Index of the offending argument (key or channel), 0 for a command denial.
    public let argumentIndex: Int
}

/// The users, their rules, the ACL log, and the one permission check every command goes through (the
/// dispatcher for client commands and transactions; scripts and plugins call the same `check`).
public final class AccessControl {
    public private(set) var users: [String: ACLUser] = [:]
    /// Every connection starts as this user; its object stays the same across ACL LOAD (rules are copied in).
    public let defaultUser: ACLUser
    let ids = ACLCommandIDs()
    private(set) var log: [ACLLogEntry] = []
    let table: CommandTable

    public init(table: CommandTable) {
        self.table = table
        defaultUser = ACLUser.makeDefault(table: table, ids: ids)
        users["default"] = defaultUser
    }

    public func user(_ name: String) -> ACLUser? { users[name] }

    /// `acl-pubsub-default allchannels|resetchannels`.
    public var pubsubDefaultAll = false
    public var logMaxLength = 128

    /// requirepass: the default user's only password, or nopass when empty (Redis's ACLUpdateDefaultUserPassword).
    public func setDefaultPassword(_ password: String) {
        try? defaultUser.apply(Array("resetpass".utf8), table: table, ids: ids, pubsubDefaultAll: pubsubDefaultAll)
        let op = password.isEmpty ? Array("nopass".utf8) : [UInt8(ascii: ">")] + Array(password.utf8)
        try? defaultUser.apply(op, table: table, ids: ids, pubsubDefaultAll: pubsubDefaultAll)
    }

    /// Applies rules to a copy of the user (or a new one), so nothing changes unless all of them apply.
    /// Returns the staged user; `commit` installs it.
    func stage(_ name: String, _ rules: [[UInt8]]) throws -> ACLUser {
        let staged = users[name].map { $0.copy() } ?? ACLUser(name: name, pubsubDefaultAll: pubsubDefaultAll)
        for rule in rules {
            try staged.apply(rule, table: table, ids: ids, pubsubDefaultAll: pubsubDefaultAll)
        }
        return staged
    }

    /// Installs a staged user: an existing one keeps its object (connections keep pointing at it).
    @discardableResult
    func commit(_ staged: ACLUser) -> ACLUser {
        if let existing = users[staged.name] {
            existing.copyRules(from: staged)
            return existing
        }
        users[staged.name] = staged
        return staged
    }

    func remove(_ name: String) -> ACLUser? { users.removeValue(forKey: name) }

    /// Replaces every user (ACL LOAD, start-up); the default user object is kept and gets the new rules.
    func replaceAll(_ newUsers: [String: ACLUser]) {
        var all = newUsers
        if let d = all["default"] { defaultUser.copyRules(from: d) } else {
            defaultUser.copyRules(from: ACLUser.makeDefault(table: table, ids: ids))
        }
        all["default"] = defaultUser
        users = all
    }

    /// Credentials check: the user if the pair is valid and the user enabled.
    public func authenticate(_ name: String, _ password: [UInt8]) -> ACLUser? {
        guard let u = users[name], u.authenticates(password) else { return nil }
        return u
    }

    // MARK: the check

    /// Redis's ACLCheckAllUserCommandPerm: nil when one selector allows the command, its keys and its channels.
    public func check(_ user: ACLUser, _ spec: CommandSpec, _ arguments: [ByteBuffer]) -> ACLRefusal? {
        if user.isUnrestricted { return nil }
        var relevant = ACLDenial.command
        var lastIndex = 0
        let id = ids.id(spec)
        var keys: [Int]? = nil
        for selector in user.selectors {
            switch checkSelector(selector, spec, id, arguments, &keys) {
            case nil: return nil
            case let refusal?:
                if refusal.reason > relevant || (refusal.reason == relevant && refusal.argumentIndex > lastIndex) {
                    relevant = refusal.reason
                    lastIndex = refusal.argumentIndex
                }
            }
        }
        return ACLRefusal(reason: relevant, argumentIndex: lastIndex)
    }

    private func checkSelector(_ s: ACLSelector, _ spec: CommandSpec, _ id: Int, _ arguments: [ByteBuffer],
                               _ keys: inout [Int]?) -> ACLRefusal? {
        if !s.allCommands && !spec.flags.contains(.noAuth) && !s.allowed[id] {
            guard arguments.count >= 2, let allowedArgs = s.firstArgs[id] else {
                return ACLRefusal(reason: .command, argumentIndex: 0)
            }
            let index = spec.parent != nil ? 2 : 1
            guard index < arguments.count else { return ACLRefusal(reason: .command, argumentIndex: 0) }
            let arg = String(buffer: arguments[index]).lowercased()
            if !allowedArgs.contains(where: { $0.lowercased() == arg }) {
                return ACLRefusal(reason: .command, argumentIndex: 0)
            }
        }
        if !s.allKeys {
            if keys == nil { keys = spec.keyIndexes(arguments) }
            let access = Self.keyAccess(spec)
            for index in keys! where !s.checkKey(Array(arguments[index].readableBytesView), access) {
                return ACLRefusal(reason: .key, argumentIndex: index)
            }
        }
        if !s.allChannels {
            for (index, isPattern) in Self.channelArguments(spec, arguments)
            where !s.checkChannel(Array(arguments[index].readableBytesView), isPattern: isPattern) {
                return ACLRefusal(reason: .channel, argumentIndex: index)
            }
        }
        return nil
    }

    /// What a command's keys need. Tern's command table has no per-key access flags yet: a read-only command
    /// needs read access, any other needs both (stricter than Redis for insert- or delete-only keys under
    /// `%W~` patterns, never looser).
    static func keyAccess(_ spec: CommandSpec) -> ACLKeyAccess {
        spec.flags.contains(.readonly) && !spec.flags.contains(.write) ? .read : .all
    }

    /// The channel arguments of the pub/sub commands that publish or subscribe (Redis's CMD_CHANNEL_PUBLISH /
    /// SUBSCRIBE key specs); unsubscribing is never checked.
    static func channelArguments(_ spec: CommandSpec, _ arguments: [ByteBuffer]) -> [(Int, Bool)] {
        guard spec.parent == nil else { return [] }
        switch spec.name {
        case "publish", "spublish":
            return arguments.count > 1 ? [(1, false)] : []
        case "subscribe", "ssubscribe":
            return (1..<max(1, arguments.count)).map { ($0, false) }
        case "psubscribe":
            return (1..<max(1, arguments.count)).map { ($0, true) }
        default:
            return []
        }
    }

    /// The -NOPERM text Redis's processCommand replies with.
    public static func error(_ refusal: ACLRefusal, _ spec: CommandSpec) -> CommandError {
        switch refusal.reason {
        case .command: return CommandError("NOPERM this user has no permissions to run the '\(spec.fullName)' command")
        case .key: return CommandError("NOPERM this user has no permissions to access one of the keys used as arguments")
        case .channel: return CommandError("NOPERM this user has no permissions to access one of the channels used as arguments")
        case .auth: return CommandError("NOPERM this user has no permissions")
        }
    }

    // MARK: the log

    /// Adds (or bumps a similar recent) entry, as Redis's addACLLogEntry: entries for the same reason, context,
    /// object and user within 60 s are grouped; the log keeps `acllog-max-len` entries, newest first.
    func record(reason: ACLDenial, context: String, object: String, username: String, clientInfo: String,
                nowMillis: Int64) {
        var entry = ACLLogEntry(count: 1, reason: reason, context: context, object: object, username: username,
                                createdMillis: nowMillis, clientInfo: clientInfo)
        for i in log.indices.prefix(10) {
            let e = log[i]
            if e.reason == entry.reason && e.context == entry.context && abs(e.createdMillis - nowMillis) <= 60000
                && e.object == entry.object && e.username == entry.username {
                entry = e
                entry.count += 1
                entry.clientInfo = clientInfo
                entry.createdMillis = nowMillis
                log.remove(at: i)
                log.insert(entry, at: 0)
                return
            }
        }
        log.insert(entry, at: 0)
        if log.count > logMaxLength { log.removeSubrange(logMaxLength...) }
    }

    func resetLog() { log.removeAll() }

    func trimLog() {
        if log.count > logMaxLength { log.removeSubrange(logMaxLength...) }
    }

    // MARK: ACL files

    /// Redis's ACLLoadFromFile: every line validated; on any error nothing changes and the errors come back
    /// in one line. Returns nil on success.
    public func loadFile(_ path: String) -> String? {
        guard let data = FileText.read(path) else {
            return "Error loading ACLs, opening file '\(path)': \(String(cString: strerror(errno)))"
        }
        var errors = ""
        var loaded: [String: ACLUser] = [:]
        let lines = data.utf8.split(separator: 10, omittingEmptySubsequences: false)
        for (i, rawLine) in lines.enumerated() {
            let line = String(decoding: rawLine, as: UTF8.self).aclTrimmed(" \t\r\n")
            let number = i + 1
            if line.isEmpty { continue }
            let words = line.split(separator: " ").map(String.init)
            if words.isEmpty { continue }
            guard words[0] == "user", words.count >= 2 else {
                errors += "\(path):\(number) should start with user keyword followed by the username. "
                continue
            }
            if ACLUser.hasSpaces(Array(words[1].utf8)) {
                errors += "'\(path):\(number): username '\(words[1])' contains invalid characters. "
                continue
            }
            if loaded[words[1]] != nil {
                errors += "WARNING: Duplicate user '\(words[1])' found on line \(number). "
                continue
            }
            let u = ACLUser(name: words[1], pubsubDefaultAll: pubsubDefaultAll)
            loaded[words[1]] = u
            let (merged, _) = ACLUser.mergeSelectorArguments(words.dropFirst(2).map { Array($0.utf8) })
            guard let merged else {
                errors += "\(path):\(number): Unmatched parenthesis in selector definition."
                continue
            }
            var syntaxError = false
            for op in merged {
                do {
                    try u.apply(op, table: table, ids: ids, pubsubDefaultAll: pubsubDefaultAll)
                } catch let e as ACLRuleError {
                    if e.reason == .unknownName {
                        errors += "\(path):\(number): Error in applying operation '\(String(decoding: op, as: UTF8.self))': \(e.message). "
                    } else if !syntaxError {
                        errors += "\(path):\(number): \(e.message). "
                        syntaxError = true
                    }
                } catch {}
            }
        }
        if !errors.isEmpty {
            return errors + "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
        }
        replaceAll(loaded)
        return nil
    }

    /// The users in ACL-file format, sorted by name (Redis walks its radix tree in order).
    public func fileText() -> String {
        users.keys.sorted().map { "user \($0) " + users[$0]!.describe(table: table, ids: ids) + "\n" }.joined()
    }

    /// Redis's ACLSaveToFile: a temp file renamed over the target.
    public func saveFile(_ path: String, nowMillis: Int64) -> Bool {
        let tmp = "\(path).tmp-\(getpid())-\(nowMillis)"
        let text = Array(fileText().utf8)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return false }
        let written = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == text.count, synced, rename(tmp, path) == 0 else {
            unlink(tmp)
            return false
        }
        return true
    }

    /// Applies `user` lines from the config file (Redis's ACLLoadConfiguredUsers): a redefined default user
    /// is reset first. Returns an error text for the log, or nil.
    public func loadConfiguredUsers(_ lines: [[String]]) -> String? {
        for words in lines {
            guard let name = words.first else { continue }
            if ACLUser.hasSpaces(Array(name.utf8)) { return "Spaces not allowed in ACL usernames" }
            let u: ACLUser
            if let existing = users[name] {
                u = existing
                try? u.apply(Array("reset".utf8), table: table, ids: ids, pubsubDefaultAll: pubsubDefaultAll)
            } else {
                u = ACLUser(name: name, pubsubDefaultAll: pubsubDefaultAll)
                users[name] = u
            }
            let (merged, _) = ACLUser.mergeSelectorArguments(words.dropFirst().map { Array($0.utf8) })
            for op in merged ?? [] {
                do {
                    try u.apply(op, table: table, ids: ids, pubsubDefaultAll: pubsubDefaultAll)
                } catch let e as ACLRuleError {
                    return "Error loading ACL rule '\(String(decoding: op, as: UTF8.self))' for the user named '\(name)': \(e.message)"
                } catch {}
            }
        }
        return nil
    }

    /// Validates a `user` line from a config file without installing it (Redis's ACLAppendUserForLoading):
    /// unknown command names are accepted here (a plugin may add them later); other errors are not.
    public static func validateUserLine(_ words: [String], table: CommandTable, pubsubDefaultAll: Bool) -> String? {
        guard words.count >= 1 else { return "Error in user declaration" }
        let fake = ACLUser(name: words[0], pubsubDefaultAll: pubsubDefaultAll)
        let (merged, _) = ACLUser.mergeSelectorArguments(words.dropFirst().map { Array($0.utf8) })
        guard let merged else { return "Unmatched parenthesis in selector definition" }
        let ids = ACLCommandIDs()
        for op in merged {
            do {
                try fake.apply(op, table: table, ids: ids, pubsubDefaultAll: pubsubDefaultAll)
            } catch let e as ACLRuleError where e.reason != .unknownName {
                return "Error in user declaration '\(String(decoding: op, as: UTF8.self))': \(e.message)"
            } catch {}
        }
        return nil
    }
}

/// Whole-file reads for small text files (ACL files).
enum FileText {
    static func read(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension StringProtocol {
    func aclTrimmed(_ set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let c = s.first, chars.contains(c) { s.removeFirst() }
        while let c = s.last, chars.contains(c) { s.removeLast() }
        return String(s)
    }
}
