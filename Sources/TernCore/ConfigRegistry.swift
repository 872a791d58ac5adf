import Logging
import RESP
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a directive's value was refused: the text Redis puts after " - " in CONFIG SET errors and on the
/// last line of a config-file error ("argument must be a memory value", ...).
public struct ConfigValueError: Error, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// The type of a directive's value, as Redis's config.c types them.
public enum ConfigKind: Equatable {
    /// yes / no (case-insensitive).
    case bool
    /// A plain integer (string2ll) within bounds.
    case integer
    /// An octal integer (strtoll base 8) within bounds (unixsocketperm).
    case octal
    /// A memory size (memtoull: 1k = 1000, 1kb = 1024, m mb g gb, case-insensitive) within bounds.
    case memory
    /// One of the names.
    case enumeration([String])
    /// Any string.
    case string
    /// Parsed by its own rules (bind, dir, daemonize).
    case special
}

/// What CONFIG REWRITE does with one directive.
public enum ConfigRewrite: Equatable {
    /// The value means "unset": the directive's lines leave the file.
    case remove
    /// Replace the directive's first line with `line`; when the file doesn't hold the directive, append it
    /// only if `force` (the value differs from the default).
    case line(String, force: Bool)
    /// Several lines, each handled as `.line` in turn (one per client class: client-output-buffer-limit).
    case lines([String], force: [Bool])
}

/// One directive Tern knows: its names, type, default, whether CONFIG SET may change it, and how it is
/// stored, printed (CONFIG GET) and rewritten (CONFIG REWRITE).
public struct ConfigDirective {
    public let name: String
    public let alias: String?
    public let kind: ConfigKind
    /// CONFIG SET may change it at run time.
    public let mutable: Bool
    /// CONFIG SET refuses it as "protected" (Redis's enable-protected-configs is "no" by default).
    public let protected: Bool
    /// Takes several arguments on one line (bind).
    public let multiArg: Bool
    /// Bounds for numeric kinds; `unsigned` compares (and prints) them as Redis's unsigned types do.
    public let minimum: Int64
    public let maximum: Int64
    public let unsigned: Bool
    let getter: (ServerConfig) -> String
    let setter: (ServerConfig, [String]) throws -> Void
    let rewriter: (ServerConfig, String) -> ConfigRewrite
    /// Core-side run-time effect after CONFIG SET changed the value.
    let applier: ((ServerState) -> Void)?

    /// The value as CONFIG GET prints it.
    public func get(_ config: ServerConfig) -> String { getter(config) }

    /// Parses and stores the arguments that follow the directive name; throws `ConfigValueError`.
    public func set(_ config: ServerConfig, _ arguments: [String]) throws { try setter(config, arguments) }

    /// The CONFIG REWRITE action for the current value.
    public func rewrite(_ config: ServerConfig) -> ConfigRewrite { rewriter(config, name) }

    /// The compiled-in default, as CONFIG GET prints it.
    public var defaultValue: String { getter(ServerConfig()) }
}

/// Every directive Tern knows, as data; CONFIG GET/SET/REWRITE and the config-file loader all go through it.
public enum ConfigRegistry {
    public static let memoryPolicies = [
        "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
        "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction",
    ]
    public static let logLevels = ["debug", "verbose", "notice", "warning", "nothing"]
    public static let backends = ["memory", "lmdb"]
    public static let lmdbSyncModes = ["always", "everysec", "no"]

    static let intMax = Int64(Int32.max)
    static let uintMax = Int64(UInt32.max)
    static let longMax = Int64.max

    public static let directives: [ConfigDirective] = [
        // Network
        bind(),
        integer("port", min: 0, max: 65535, mutable: false, \.port),
        string("unixsocket", emptyIsUnset: true, mutable: false, \.unixSocket),
        integer("unixsocketperm", kind: .octal, min: 0, max: 0o777, unsigned: true, mutable: false, \.unixSocketPerm),
        integer("tcp-backlog", min: 0, max: intMax, mutable: false, \.tcpBacklog),
        integer("timeout", min: 0, max: intMax, mutable: true, \.timeout),
        integer("tcp-keepalive", min: 0, max: intMax, mutable: true, \.tcpKeepalive),
        bool("protected-mode", mutable: true, \.protectedMode),
        integer("maxclients", min: 1, max: uintMax, unsigned: true, mutable: true, \.maxClients),
        integer("tracking-table-max-keys", min: 0, max: uintMax, unsigned: true, mutable: true, \.trackingTableMaxKeys),
        // General
        enumeration("loglevel", logLevels, mutable: true, \.logLevel, apply: { server in
            server.logger.logLevel = ConfigRegistry.swiftLogLevel(server.config.logLevel)
        }),
        string("logfile", emptyIsUnset: false, mutable: false, \.logFile),
        dir(),
        string("pidfile", emptyIsUnset: true, mutable: false, \.pidFile),
        integer("databases", min: 1, max: intMax, mutable: false, \.databases),
        enumeration("backend", backends, mutable: false, \.backend),
        // LMDB backend
        string("lmdb-path", emptyIsUnset: false, mutable: false, \.lmdbPath),
        enumeration("lmdb-sync", lmdbSyncModes, mutable: false, \.lmdbSync),
        integer("lmdb-map-size", kind: .memory, min: 1024 * 1024, max: longMax, mutable: false, \.lmdbMapSize),
        integer("lmdb-max-size", kind: .memory, min: 0, max: longMax, mutable: false, \.lmdbMaxSize),
        hz(),
        daemonize(),
        // Snapshotting
        save(),
        dbFilename(),
        bool("rdbcompression", mutable: true, \.rdbCompression),
        bool("rdbchecksum", mutable: false, \.rdbChecksum),
        bool("stop-writes-on-bgsave-error", mutable: true, \.stopWritesOnBgsaveError),
        // Security
        string("requirepass", emptyIsUnset: true, mutable: true, \.requirePass, apply: { server in
            server.acl.setDefaultPassword(server.config.requirePass)
        }),
        string("aclfile", emptyIsUnset: false, mutable: false, \.aclFile),
        integer("acllog-max-len", min: 0, max: longMax, mutable: true, \.aclLogMaxLength, apply: { server in
            server.acl.logMaxLength = server.config.aclLogMaxLength
            server.acl.trimLog()
        }),
        enumeration("acl-pubsub-default", ["allchannels", "resetchannels"], mutable: true, \.aclPubsubDefault,
                    apply: { server in server.acl.pubsubDefaultAll = server.config.aclPubsubDefault == "allchannels" }),
        // TLS: the server side rebuilds its context when one of these changes (new connections use it).
        integer("tls-port", min: 0, max: 65535, mutable: false, \.tlsPort),
        string("tls-cert-file", emptyIsUnset: false, mutable: true, \.tlsCertFile),
        string("tls-key-file", emptyIsUnset: false, mutable: true, \.tlsKeyFile),
        string("tls-key-file-pass", emptyIsUnset: false, mutable: true, \.tlsKeyFilePass),
        string("tls-client-cert-file", emptyIsUnset: false, mutable: true, \.tlsClientCertFile),
        string("tls-client-key-file", emptyIsUnset: false, mutable: true, \.tlsClientKeyFile),
        string("tls-client-key-file-pass", emptyIsUnset: false, mutable: true, \.tlsClientKeyFilePass),
        string("tls-dh-params-file", emptyIsUnset: false, mutable: true, \.tlsDhParamsFile),
        string("tls-ca-cert-file", emptyIsUnset: false, mutable: true, \.tlsCaCertFile),
        string("tls-ca-cert-dir", emptyIsUnset: false, mutable: true, \.tlsCaCertDir),
        enumeration("tls-auth-clients", ["no", "yes", "optional"], mutable: true, \.tlsAuthClients),
        bool("tls-replication", mutable: true, \.tlsReplication),
        bool("tls-cluster", mutable: true, \.tlsCluster),
        string("tls-protocols", emptyIsUnset: false, mutable: true, \.tlsProtocols),
        string("tls-ciphers", emptyIsUnset: false, mutable: true, \.tlsCiphers),
        string("tls-ciphersuites", emptyIsUnset: false, mutable: true, \.tlsCiphersuites),
        bool("tls-prefer-server-ciphers", mutable: true, \.tlsPreferServerCiphers),
        bool("tls-session-caching", mutable: true, \.tlsSessionCaching),
        integer("tls-session-cache-size", min: 0, max: intMax, mutable: true, \.tlsSessionCacheSize),
        integer("tls-session-cache-timeout", min: 0, max: longMax, mutable: true, \.tlsSessionCacheTimeout),
        // Protocol limits
        integer("proto-max-bulk-len", kind: .memory, min: 1024 * 1024, max: longMax, mutable: true, \.protoMaxBulkLen),
        integer("client-query-buffer-limit", kind: .memory, min: 1024 * 1024, max: longMax, unsigned: true,
                mutable: true, \.clientQueryBufferLimit),
        // Diagnostics
        integer("slowlog-log-slower-than", min: -1, max: Int64.max, mutable: true, \.slowlogLogSlowerThan),
        integer("slowlog-max-len", min: 0, max: longMax, unsigned: true, mutable: true, \.slowlogMaxLen),
        integer("latency-monitor-threshold", min: 0, max: Int64.max, mutable: true, \.latencyMonitorThreshold),
        integer("busy-reply-threshold", alias: "lua-time-limit", min: 0, max: longMax, mutable: true, \.busyReplyThreshold),
        bool("latency-tracking", mutable: true, \.latencyTracking),
        latencyTrackingInfoPercentiles(),
        enumeration("enable-debug-command", ["no", "yes", "local"], mutable: false, \.enableDebugCommand),
        // Streams
        integer("stream-node-max-bytes", kind: .memory, min: 0, max: longMax, mutable: true, \.streamNodeMaxBytes),
        integer("stream-node-max-entries", min: 0, max: Int64.max, mutable: true, \.streamNodeMaxEntries),
        // Memory
        maxmemory(),
        enumeration("maxmemory-policy", memoryPolicies, mutable: true, \.maxMemoryPolicy),
        // Replication
        bool("replica-read-only", alias: "slave-read-only", mutable: true, \.replicaReadOnly),
        integer("repl-backlog-size", kind: .memory, min: 16 * 1024, max: longMax, mutable: true, \.replBacklogSize),
        integer("repl-ping-replica-period", min: 1, max: intMax, mutable: true, \.replPingReplicaPeriod),
        replicaOf(),
        string("masterauth", emptyIsUnset: true, mutable: true, \.masterAuth),
        string("masteruser", emptyIsUnset: true, mutable: true, \.masterUser),
        bool("replica-serve-stale-data", alias: "slave-serve-stale-data", mutable: true, \.replicaServeStaleData),
        string("replica-announce-ip", alias: "slave-announce-ip", emptyIsUnset: true, mutable: true, \.replicaAnnounceIP),
        integer("replica-announce-port", alias: "slave-announce-port", min: 0, max: 65535, mutable: true, \.replicaAnnouncePort),
        integer("replica-priority", alias: "slave-priority", min: 0, max: intMax, mutable: true, \.replicaPriority),
        bool("replica-announced", mutable: true, \.replicaAnnounced),
        integer("min-replicas-to-write", alias: "min-slaves-to-write", min: 0, max: intMax, mutable: true, \.minReplicasToWrite),
        integer("min-replicas-max-lag", alias: "min-slaves-max-lag", min: 0, max: intMax, mutable: true, \.minReplicasMaxLag),
        integer("repl-timeout", min: 1, max: intMax, mutable: true, \.replTimeout),
        integer("repl-backlog-ttl", min: 0, max: longMax, mutable: true, \.replBacklogTTL),
        bool("repl-diskless-sync", mutable: true, \.replDisklessSync),
        integer("repl-diskless-sync-delay", min: 0, max: intMax, mutable: true, \.replDisklessSyncDelay),
        integer("repl-diskless-sync-max-replicas", min: 0, max: intMax, mutable: true, \.replDisklessSyncMaxReplicas),
        enumeration("repl-diskless-load", ["disabled", "on-empty-db", "swapdb"], mutable: true, \.replDisklessLoad),
        bool("repl-disable-tcp-nodelay", mutable: true, \.replDisableTCPNoDelay),
        // Plugins
        enumeration("enable-module-command", ["no", "yes", "local"], mutable: false, \.enableModuleCommand),
        // Clients and events
        clientOutputBufferLimit(),
        notifyKeyspaceEvents(),
    ]

    /// Directives only the config file takes (not CONFIG GET/SET): CONFIG REWRITE keeps their lines.
    public static let fileOnlyDirectives: Set<String> = ["include", "rename-command", "loadmodule", "loadplugin"]

    static let byName: [String: ConfigDirective] = {
        var map: [String: ConfigDirective] = [:]
        for d in directives {
            map[d.name] = d
            if let alias = d.alias { map[alias] = d }
        }
        return map
    }()

    /// Every name CONFIG GET patterns match against (aliases included), in registry order.
    static let allNames: [(String, ConfigDirective)] = directives.flatMap { d -> [(String, ConfigDirective)] in
        var names = [(d.name, d)]
        if let alias = d.alias { names.append((alias, d)) }
        return names
    }

    /// The directive named `name` (or one of its aliases), case-insensitively.
    public static func lookup(_ name: String) -> ConfigDirective? { byName[name.lowercased()] }

    // MARK: CONFIG GET

    /// Name/value pairs for CONFIG GET's patterns: an exact name answers under the name as given, a glob
    /// (`*`, `?`, `[`) under every matching name (aliases too); each name at most once.
    public static func get(patterns: [String], config: ServerConfig) -> [(String, String)] {
        var result: [(String, String)] = []
        var seen: Set<String> = []
        for pattern in patterns {
            if !pattern.contains(where: { $0 == "*" || $0 == "?" || $0 == "[" }) {
                guard !seen.contains(pattern.lowercased()), let d = lookup(pattern) else { continue }
                seen.insert(pattern.lowercased())
                result.append((pattern, d.get(config)))
                continue
            }
            for (name, d) in allNames where !seen.contains(name)
                && GlobMatch.matches(pattern: pattern, name, caseInsensitive: true) {
                seen.insert(name)
                result.append((name, d.get(config)))
            }
        }
        return result
    }

    // MARK: CONFIG SET

    /// CONFIG SET name value [name value ...]: all or nothing, with Redis's checks and error texts.
    /// `server` receives the core-side effects; `config.runtimeObservers` the server-side ones.
    public static func set(_ pairs: [(String, String)], server: ServerState?, config: ServerConfig) throws {
        var chosen: [ConfigDirective] = []
        var failure: String? = nil
        var unknown: String? = nil
        for (name, _) in pairs {
            guard let d = lookup(name) else {
                if unknown == nil && failure == nil { unknown = name }
                continue
            }
            if unknown != nil || failure != nil { continue }
            if !d.mutable || d.protected {
                failure = "CONFIG SET failed (possibly related to argument '\(name)') - "
                    + (d.mutable ? "can't set protected config" : "can't set immutable config")
                continue
            }
            if chosen.contains(where: { $0.name == d.name }) {
                failure = "CONFIG SET failed (possibly related to argument '\(name)') - duplicate parameter"
                continue
            }
            chosen.append(d)
        }
        if let unknown { throw CommandError.err("Unknown option or number of arguments for CONFIG SET - '\(unknown)'") }
        if let failure { throw CommandError.err(failure) }

        let old = chosen.map { $0.get(config) }
        func restore(upTo count: Int) {
            for i in 0..<count { try? chosen[i].set(config, arguments(chosen[i], old[i])) }
        }
        var changed: [Int] = []
        for (i, d) in chosen.enumerated() {
            // The name Redis reports here is the entry's own (the alias when set through it).
            let shownName = d.alias == pairs[i].0.lowercased() ? d.alias! : d.name
            do {
                try d.set(config, arguments(d, pairs[i].1))
            } catch let e as ConfigValueError {
                restore(upTo: i + 1)
                throw CommandError.err("CONFIG SET failed (possibly related to argument '\(shownName)') - \(e.reason)")
            }
            if d.get(config) != old[i] { changed.append(i) }
        }
        for i in changed {
            let d = chosen[i]
            if let server { d.applier?(server) }
            for observer in config.runtimeObservers {
                if let problem = observer(d.name) {
                    restore(upTo: chosen.count)
                    for j in changed {
                        if let server { chosen[j].applier?(server) }
                        for o in config.runtimeObservers { _ = o(chosen[j].name) }
                    }
                    let shownName = d.alias == pairs[i].0.lowercased() ? d.alias! : d.name
                    throw CommandError.err("CONFIG SET failed (possibly related to argument '\(shownName)') - \(problem)")
                }
            }
        }
    }

    /// CONFIG SET's value as the directive's arguments: multi-argument directives split it on spaces.
    static func arguments(_ d: ConfigDirective, _ value: String) -> [String] {
        d.multiArg ? value.split(separator: " ", omittingEmptySubsequences: false).map(String.init) : [value]
    }

    // MARK: CONFIG REWRITE

    /// The signature line CONFIG REWRITE puts above the directives it appends.
    public static let rewriteSignature = "# Generated by CONFIG REWRITE"

    /// The new content of a config file, as Redis's rewriteConfig builds it from the old content (nil when
    /// there is no file yet): comments and unchanged lines stay, each directive's first line is replaced by
    /// its current value and further ones blanked, directives not in the file and not at their default are
    /// appended under the signature, lines naming unknown directives become "# ??? " comments, and runs of
    /// blank lines collapse to one.
    public static func rewrite(existing: String?, config: ServerConfig) -> String {
        var lines: [String] = []
        var optionLines: [String: [Int]] = [:]
        var needsSignature = true
        if let existing, !existing.isEmpty {
            for raw in existing.utf8.split(separator: 10, omittingEmptySubsequences: false) {
                let line = trim(raw)
                if line.isEmpty || line.hasPrefix("#") {
                    if needsSignature && line == rewriteSignature { needsSignature = false }
                    lines.append(line)
                    continue
                }
                guard let words = InlineSplitterBridge.split(line), let first = words.first else {
                    lines.append("# ??? " + line)
                    continue
                }
                var option = first.lowercased()
                if let d = lookup(option) {
                    option = d.name
                } else if !fileOnlyDirectives.contains(option) {
                    lines.append("# ??? " + line)
                    continue
                }
                lines.append(line)
                optionLines[option, default: []].append(lines.count - 1)
            }
        }
        var rewritten: Set<String> = []
        for d in directives {
            rewritten.insert(d.name)
            var rewrites: [(String, Bool)] = []
            switch d.rewrite(config) {
            case .remove:
                continue
            case let .line(line, force):
                rewrites = [(line, force)]
            case let .lines(each, force):
                rewrites = Array(zip(each, force))
            }
            for (line, force) in rewrites {
                if var slots = optionLines[d.name], !slots.isEmpty {
                    lines[slots.removeFirst()] = line
                    optionLines[d.name] = slots
                } else if force {
                    if needsSignature {
                        lines.append(rewriteSignature)
                        needsSignature = false
                    }
                    lines.append(line)
                }
            }
        }
        // Orphans: further lines of rewritten directives (duplicates, or values now unset).
        for (option, slots) in optionLines where rewritten.contains(option) {
            for slot in slots { lines[slot] = "" }
        }
        var content = ""
        var wasEmpty = false
        for line in lines {
            if line.isEmpty {
                if wasEmpty { continue }
                wasEmpty = true
            } else {
                wasEmpty = false
            }
            content += line
            content += "\n"
        }
        return content
    }

    /// CONFIG REWRITE: rewrites `path` in place through a temporary file and rename, as Redis does.
    /// Throws the errno text on failure.
    public static func rewriteFile(path: String, config: ServerConfig) throws {
        var existing: String? = nil
        switch FileIO.read(path) {
        case .success(let bytes): existing = String(decoding: bytes, as: UTF8.self)
        case .failure(let error):
            if error.code != ENOENT { throw ConfigValueError(String(cString: strerror(error.code))) }
        }
        let content = rewrite(existing: existing, config: config)
        if let code = FileIO.replace(path, with: Array(content.utf8)) {
            throw ConfigValueError(String(cString: strerror(code)))
        }
    }

    // MARK: value parsing (Redis's rules)

    /// yesnotoi: "yes" or "no", case-insensitively.
    public static func parseBool(_ s: String) throws -> Bool {
        switch s.lowercased() {
        case "yes": return true
        case "no": return false
        default: throw ConfigValueError("argument must be 'yes' or 'no'")
        }
    }

    /// memtoull: digits then an optional unit (b k kb m mb g gb, case-insensitive; k = 1000, kb = 1024).
    /// Digits beyond 64 bits saturate and the unit multiplies with wrap-around, as strtoull and C do.
    public static func parseMemory(_ s: String) -> UInt64? {
        let bytes = Array(s.utf8)
        if bytes.first == UInt8(ascii: "-") { return nil }
        var i = 0
        while i < bytes.count && bytes[i] >= 48 && bytes[i] <= 57 { i += 1 }
        let unit = String(decoding: bytes[i...], as: UTF8.self).lowercased()
        let multiplier: UInt64
        switch unit {
        case "", "b": multiplier = 1
        case "k": multiplier = 1000
        case "kb": multiplier = 1024
        case "m": multiplier = 1000 * 1000
        case "mb": multiplier = 1024 * 1024
        case "g": multiplier = 1000 * 1000 * 1000
        case "gb": multiplier = 1024 * 1024 * 1024
        default: return nil
        }
        if i >= 128 { return nil }
        var value: UInt64 = 0
        var saturated = false
        for b in bytes[0..<i] {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(b - 48))
            if o1 || o2 { saturated = true; break }
            value = a
        }
        if saturated { value = UInt64.max }
        return value &* multiplier
    }

    /// Redis's rewriteConfigFormatMemory: the largest exact unit (gb, mb, kb) or plain bytes.
    public static func formatMemory(_ bytes: Int64) -> String {
        let gb: Int64 = 1024 * 1024 * 1024, mb: Int64 = 1024 * 1024, kb: Int64 = 1024
        if bytes != 0 && bytes % gb == 0 { return "\(bytes / gb)gb" }
        if bytes != 0 && bytes % mb == 0 { return "\(bytes / mb)mb" }
        if bytes != 0 && bytes % kb == 0 { return "\(bytes / kb)kb" }
        return "\(bytes)"
    }

    /// Redis's sdscatrepr: the value double-quoted with escapes, as CONFIG REWRITE writes strings.
    public static func quoted(_ s: String) -> String { ServerState.quoted(Array(s.utf8)) }

    /// `loglevel` as a swift-log level.
    public static func swiftLogLevel(_ name: String) -> Logger.Level {
        switch name {
        case "debug": return .debug
        case "verbose": return .info
        case "warning": return .warning
        case "nothing": return .critical
        default: return .notice
        }
    }

    /// sdstrim(line, " \t\r\n") on the line's bytes.
    public static func trim<C: BidirectionalCollection>(_ bytes: C) -> String where C.Element == UInt8 {
        let blank: (UInt8) -> Bool = { $0 == 32 || $0 == 9 || $0 == 13 || $0 == 10 }
        guard let start = bytes.firstIndex(where: { !blank($0) }) else { return "" }
        let end = bytes.lastIndex(where: { !blank($0) })!
        return String(decoding: bytes[start...end], as: UTF8.self)
    }

    /// The process's working directory (CONFIG GET dir reports it, as Redis does).
    public static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return "" }
        return String(cString: buffer)
    }
}

// MARK: directive builders

extension ConfigRegistry {
    static func bool(_ name: String, alias: String? = nil, mutable: Bool,
                     _ key: ReferenceWritableKeyPath<ServerConfig, Bool>) -> ConfigDirective {
        ConfigDirective(
            name: name, alias: alias, kind: .bool, mutable: mutable, protected: false, multiArg: false,
            minimum: 0, maximum: 0, unsigned: false,
            getter: { $0[keyPath: key] ? "yes" : "no" },
            setter: { c, a in c[keyPath: key] = try parseBool(a[0]) },
            rewriter: { c, n in
                let v = c[keyPath: key]
                return .line("\(n) \(v ? "yes" : "no")", force: v != ServerConfig()[keyPath: key])
            },
            applier: nil)
    }

    /// Parses a numeric value as Redis's numericParseString + numericBoundaryCheck.
    static func parseNumber(_ s: String, kind: ConfigKind, min: Int64, max: Int64, unsigned: Bool) throws -> Int64 {
        var parsed: Int64? = nil
        switch kind {
        case .memory:
            if let v = parseMemory(s) { parsed = Int64(bitPattern: v) }
        case .octal:
            parsed = s.withCString { p -> Int64? in
                errno = 0
                var end: UnsafeMutablePointer<CChar>? = nil
                let r = strtoll(p, &end, 8)
                return (errno == 0 && end?.pointee == 0) ? Int64(r) : nil
            }
        default:
            parsed = Array(s.utf8).withUnsafeBytes { RESPNumberBridge.parseInt64($0) }
        }
        guard let value = parsed else {
            switch kind {
            case .memory: throw ConfigValueError("argument must be a memory value")
            case .octal: throw ConfigValueError("argument couldn't be parsed as an octal number")
            default: throw ConfigValueError("argument couldn't be parsed into an integer")
            }
        }
        if unsigned {
            let u = UInt64(bitPattern: value)
            if u > UInt64(bitPattern: max) || u < UInt64(bitPattern: min) {
                if kind == .octal {
                    throw ConfigValueError("argument must be between \(String(UInt64(bitPattern: min), radix: 8)) and \(String(UInt64(bitPattern: max), radix: 8)) inclusive")
                }
                throw ConfigValueError("argument must be between \(UInt64(bitPattern: min)) and \(UInt64(bitPattern: max)) inclusive")
            }
        } else if value > max || value < min {
            throw ConfigValueError("argument must be between \(min) and \(max) inclusive")
        }
        return value
    }

    static func renderNumber(_ v: Int, kind: ConfigKind) -> String {
        kind == .octal ? String(v, radix: 8) : String(v)
    }

    static func integer(_ name: String, alias: String? = nil, kind: ConfigKind = .integer, min: Int64, max: Int64,
                        unsigned: Bool = false, mutable: Bool, _ key: ReferenceWritableKeyPath<ServerConfig, Int>,
                        store: ((Int64) -> Int)? = nil, apply: ((ServerState) -> Void)? = nil) -> ConfigDirective {
        ConfigDirective(
            name: name, alias: alias, kind: kind, mutable: mutable, protected: false, multiArg: false,
            minimum: min, maximum: max, unsigned: unsigned,
            getter: { renderNumber($0[keyPath: key], kind: kind) },
            setter: { c, a in
                let v = try parseNumber(a[0], kind: kind, min: min, max: max, unsigned: unsigned)
                c[keyPath: key] = store?(v) ?? Int(v)
            },
            rewriter: { c, n in
                let v = c[keyPath: key]
                let force = v != ServerConfig()[keyPath: key]
                switch kind {
                case .memory: return .line("\(n) \(formatMemory(Int64(v)))", force: force)
                case .octal: return .line("\(n) \(String(v, radix: 8))", force: force)
                default: return .line("\(n) \(v)", force: force)
                }
            },
            applier: apply)
    }

    /// latency-tracking-info-percentiles: doubles in [0, 100], several on one line ("" for none); shown as
    /// Redis prints them ("%f" with trailing zeros trimmed).
    static func latencyTrackingInfoPercentiles() -> ConfigDirective {
        func render(_ c: ServerConfig) -> String {
            c.latencyTrackingInfoPercentiles.map(LatencyHistogram.percentileText).joined(separator: " ")
        }
        return ConfigDirective(
            name: "latency-tracking-info-percentiles", alias: nil, kind: .special, mutable: true, protected: false,
            multiArg: true, minimum: 0, maximum: 0, unsigned: false,
            getter: render,
            setter: { c, a in
                if a.count == 1 && a[0].isEmpty {
                    c.latencyTrackingInfoPercentiles = []
                    return
                }
                var values: [Double] = []
                for word in a {
                    guard let v = RedisNumber.parseDouble(Array(word.utf8)) else {
                        throw ConfigValueError("Invalid latency-tracking-info-percentiles parameters")
                    }
                    guard v >= 0 && v <= 100 else {
                        throw ConfigValueError("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")
                    }
                    values.append(v)
                }
                c.latencyTrackingInfoPercentiles = values
            },
            rewriter: { c, n in
                .line("\(n) \(render(c))", force: c.latencyTrackingInfoPercentiles != ServerConfig().latencyTrackingInfoPercentiles)
            },
            applier: nil)
    }

    static func enumeration(_ name: String, _ values: [String], mutable: Bool,
                            _ key: ReferenceWritableKeyPath<ServerConfig, String>,
                            apply: ((ServerState) -> Void)? = nil) -> ConfigDirective {
        ConfigDirective(
            name: name, alias: nil, kind: .enumeration(values), mutable: mutable, protected: false, multiArg: false,
            minimum: 0, maximum: 0, unsigned: false,
            getter: { $0[keyPath: key] },
            setter: { c, a in
                guard let v = values.first(where: { $0 == a[0].lowercased() }) else {
                    throw ConfigValueError("argument(s) must be one of the following: " + values.joined(separator: ", "))
                }
                c[keyPath: key] = v
            },
            rewriter: { c, n in
                let v = c[keyPath: key]
                return .line("\(n) \(v)", force: v != ServerConfig()[keyPath: key])
            },
            applier: apply)
    }

    /// A string directive. `emptyIsUnset`: the empty string means "not set" (Redis's EMPTY_STRING_IS_NULL):
    /// CONFIG REWRITE then removes the directive from the file.
    static func string(_ name: String, alias: String? = nil, emptyIsUnset: Bool, mutable: Bool,
                       _ key: ReferenceWritableKeyPath<ServerConfig, String>,
                       apply: ((ServerState) -> Void)? = nil) -> ConfigDirective {
        ConfigDirective(
            name: name, alias: alias, kind: .string, mutable: mutable, protected: false, multiArg: false,
            minimum: 0, maximum: 0, unsigned: false,
            getter: { $0[keyPath: key] },
            setter: { c, a in c[keyPath: key] = a[0] },
            rewriter: { c, n in
                let v = c[keyPath: key]
                if emptyIsUnset && v.isEmpty { return .remove }
                let force = emptyIsUnset ? true : v != ServerConfig()[keyPath: key]
                return .line("\(n) \(quoted(v))", force: force)
            },
            applier: apply)
    }

    /// `replicaof <host> <port>` (alias `slaveof`): replicate from that master at start-up. At run time the
    /// REPLICAOF command changes it; CONFIG SET refuses it as Redis does.
    static func replicaOf() -> ConfigDirective {
        ConfigDirective(
            name: "replicaof", alias: "slaveof", kind: .special, mutable: false, protected: false, multiArg: true,
            minimum: 0, maximum: 0, unsigned: false,
            getter: { $0.replicaOf },
            setter: { c, a in
                guard a.count == 2 else { throw ConfigValueError("wrong number of arguments") }
                if a[0].lowercased() == "no" && a[1].lowercased() == "one" {
                    c.replicaOf = ""
                    return
                }
                guard let port = Int(a[1]), port > 0, port < 65536 else { throw ConfigValueError("Invalid master port") }
                c.replicaOf = "\(a[0]) \(port)"
            },
            rewriter: { c, n in c.replicaOf.isEmpty ? .remove : .line("\(n) \(c.replicaOf)", force: true) },
            applier: nil)
    }

    static func bind() -> ConfigDirective {
        ConfigDirective(
            name: "bind", alias: nil, kind: .special, mutable: false, protected: false, multiArg: true,
            minimum: 0, maximum: 0, unsigned: false,
            getter: { $0.bind.joined(separator: " ") },
            setter: { c, a in
                if a.count > 16 { throw ConfigValueError("Too many bind addresses specified.") }
                c.bind = (a.count == 1 && a[0].isEmpty) ? [] : a
            },
            rewriter: { c, n in
                if c.bind == ServerConfig().bind { return .remove }
                return .line(n + " " + (c.bind.isEmpty ? "\"\"" : c.bind.joined(separator: " ")), force: true)
            },
            applier: nil)
    }

    /// `dir`: the working directory. In a config file it resolves against the directory set so far (Redis
    /// chdirs at once; the server chdirs after loading) and must exist. CONFIG GET and REWRITE report the
    /// process's working directory; CONFIG SET refuses it as protected.
    static func dir() -> ConfigDirective {
        ConfigDirective(
            name: "dir", alias: nil, kind: .special, mutable: true, protected: true, multiArg: false,
            minimum: 0, maximum: 0, unsigned: false,
            getter: { _ in currentDirectory() },
            setter: { c, a in
                let path = FileIO.absolute(a[0], base: c.dir.isEmpty ? currentDirectory() : c.dir)
                var info = stat()
                if stat(path, &info) != 0 { throw ConfigValueError(String(cString: strerror(errno))) }
                if (info.st_mode & S_IFMT) != S_IFDIR { throw ConfigValueError(String(cString: strerror(ENOTDIR))) }
                c.dir = path
            },
            rewriter: { _, n in
                let cwd = currentDirectory()
                return cwd.isEmpty ? .remove : .line("\(n) \(quoted(cwd))", force: true)
            },
            applier: nil)
    }

    /// `save <seconds> <changes> [...]`, Redis's setConfigSaveOption: pairs of integers (seconds >= 1,
    /// changes >= 0), `""` for none. CONFIG SET replaces the list; in a config file (and on the command line)
    /// the first `save` line replaces the defaults and further ones add to it.
    static func save() -> ConfigDirective {
        ConfigDirective(
            name: "save", alias: nil, kind: .special, mutable: true, protected: false, multiArg: true,
            minimum: 0, maximum: 0, unsigned: false,
            getter: { c in c.savePoints.map { "\($0.seconds) \($0.changes)" }.joined(separator: " ") },
            setter: { c, a in
                let args = (a.count == 1 && a[0].isEmpty) ? [] : a
                guard args.count % 2 == 0 else { throw ConfigValueError("Invalid save parameters") }
                var points: [SavePoint] = []
                var i = 0
                while i < args.count {
                    guard let seconds = Int(args[i]), let changes = Int(args[i + 1]), seconds >= 1, changes >= 0 else {
                        throw ConfigValueError("Invalid save parameters")
                    }
                    points.append(SavePoint(seconds: seconds, changes: changes))
                    i += 2
                }
                if a.count == 1 && a[0].isEmpty {
                    c.savePoints = []  // save "": none, wherever it appears
                    if c.readingConfigFile { c.savePointsFromFile = true }
                } else if c.readingConfigFile && c.savePointsFromFile {
                    c.savePoints += points
                } else {
                    c.savePoints = points
                    if c.readingConfigFile { c.savePointsFromFile = true }
                }
            },
            rewriter: { c, n in
                // Always written, as Redis's rewriteConfigSaveOption does.
                if c.savePoints.isEmpty { return .line("\(n) \"\"", force: true) }
                let lines = c.savePoints.map { "\(n) \($0.seconds) \($0.changes)" }
                return .lines(lines, force: lines.map { _ in true })
            },
            applier: nil)
    }

    /// `dbfilename`: a file name, not a path (Redis refuses paths: "dbfilename can't be a path, just a filename").
    static func dbFilename() -> ConfigDirective {
        ConfigDirective(
            name: "dbfilename", alias: nil, kind: .string, mutable: true, protected: true, multiArg: false,
            minimum: 0, maximum: 0, unsigned: false,
            getter: { $0.dbFilename },
            setter: { c, a in
                if a[0].contains("/") { throw ConfigValueError("dbfilename can't be a path, just a filename") }
                c.dbFilename = a[0]
            },
            rewriter: { c, n in .line("\(n) \(quoted(c.dbFilename))", force: c.dbFilename != ServerConfig().dbFilename) },
            applier: nil)
    }

    /// `hz`: accepted from 0 to INT_MAX and clamped to 1...500, as Redis does.
    static func hz() -> ConfigDirective {
        integer("hz", min: 0, max: intMax, mutable: true, \.hz, store: { Int(Swift.min(Swift.max($0, 1), 500)) })
    }

    /// `maxmemory`: Redis takes any unsigned 64-bit size; Tern stores it as Int, so sizes above Int.max
    /// (already "no limit" in practice) are kept as Int.max.
    static func maxmemory() -> ConfigDirective {
        integer("maxmemory", kind: .memory, min: 0, max: -1, unsigned: true, mutable: true, \.maxMemory,
                store: { v in v < 0 ? Int.max : Int(v) })
    }

    /// `client-output-buffer-limit <class> <hard> <soft> <seconds> [...]`: classes normal, replica (or slave)
    /// and pubsub; each line or CONFIG SET changes only the classes it names, all or nothing. CONFIG GET prints
    /// every class in bytes; CONFIG REWRITE writes one line per class.
    static func clientOutputBufferLimit() -> ConfigDirective {
        ConfigDirective(
            name: "client-output-buffer-limit", alias: nil, kind: .special, mutable: true, protected: false,
            multiArg: true, minimum: 0, maximum: 0, unsigned: false,
            getter: { c in
                c.clientOutputBufferLimits.enumerated().map { i, l in
                    "\(ClientOutputBufferLimit.classNames[i]) \(l.hardBytes) \(l.softBytes) \(l.softSeconds)"
                }.joined(separator: " ")
            },
            setter: { c, a in
                if a.count % 4 != 0 {
                    throw ConfigValueError("Wrong number of arguments in buffer limit configuration.")
                }
                var limits = c.clientOutputBufferLimits
                for j in stride(from: 0, to: a.count, by: 4) {
                    let index: Int
                    switch a[j].lowercased() {
                    case "normal": index = ClientOutputBufferLimit.normal
                    case "slave", "replica": index = ClientOutputBufferLimit.replica
                    case "pubsub": index = ClientOutputBufferLimit.pubsub
                    default: throw ConfigValueError("Invalid client class specified in buffer limit configuration.")
                    }
                    // strtoll: optional blanks and sign, digits; nothing may follow. No digits reads as 0.
                    let seconds: Int? = a[j + 3].withCString { p in
                        errno = 0
                        var end: UnsafeMutablePointer<CChar>? = nil
                        let v = strtoll(p, &end, 10)
                        return end?.pointee == 0 ? Int(v) : nil
                    }
                    guard let hard = parseMemory(a[j + 1]), let soft = parseMemory(a[j + 2]),
                          let seconds, seconds >= 0, seconds <= Int(Int32.max) else {
                        throw ConfigValueError("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
                    }
                    limits[index] = ClientOutputBufferLimit(hardBytes: hard, softBytes: soft, softSeconds: seconds)
                }
                c.clientOutputBufferLimits = limits
            },
            rewriter: { c, n in
                var each: [String] = []
                var force: [Bool] = []
                for (i, l) in c.clientOutputBufferLimits.enumerated() {
                    each.append("\(n) \(ClientOutputBufferLimit.classNames[i]) \(formatMemory(Int64(bitPattern: l.hardBytes))) \(formatMemory(Int64(bitPattern: l.softBytes))) \(l.softSeconds)")
                    force.append(l != ClientOutputBufferLimit.defaults[i])
                }
                return .lines(each, force: force)
            },
            applier: nil)
    }

    /// `notify-keyspace-events`: class letters; CONFIG GET prints them in Redis's canonical order.
    static func notifyKeyspaceEvents() -> ConfigDirective {
        ConfigDirective(
            name: "notify-keyspace-events", alias: nil, kind: .special, mutable: true, protected: false,
            multiArg: false, minimum: 0, maximum: 0, unsigned: false,
            getter: { $0.notifyKeyspaceEvents.description },
            setter: { c, a in
                guard let flags = KeyspaceEventFlags(parsing: a[0]) else {
                    throw ConfigValueError(KeyspaceEventFlags.invalidMessage)
                }
                c.notifyKeyspaceEvents = flags
            },
            rewriter: { c, n in
                .line("\(n) \(quoted(c.notifyKeyspaceEvents.description))", force: !c.notifyKeyspaceEvents.isEmpty)
            },
            applier: nil)
    }

    /// `daemonize`: Tern never forks into the background, so only "no" is accepted.
    static func daemonize() -> ConfigDirective {
        ConfigDirective(
            name: "daemonize", alias: nil, kind: .special, mutable: false, protected: false, multiArg: false,
            minimum: 0, maximum: 0, unsigned: false,
            getter: { $0.daemonize ? "yes" : "no" },
            setter: { c, a in
                if try parseBool(a[0]) {
                    throw ConfigValueError("daemonize yes is not supported: Tern always runs in the foreground (run it under a service manager such as systemd or launchd to detach it)")
                }
                c.daemonize = false
            },
            rewriter: { c, n in .line("\(n) \(c.daemonize ? "yes" : "no")", force: c.daemonize) },
            applier: nil)
    }
}

// MARK: small helpers shared with the server layer

enum InlineSplitterBridge {
    /// sdssplitargs on a line (nil on unbalanced quotes).
    static func split(_ line: String) -> [String]? {
        InlineSplitter.split(Array(line.utf8)).map { $0.map { String(decoding: $0, as: UTF8.self) } }
    }
}

enum RESPNumberBridge {
    static func parseInt64(_ bytes: UnsafeRawBufferPointer) -> Int64? { RESPNumber.parseInt64(bytes) }
}

/// Plain POSIX file access (no Foundation).
public enum FileIO {
    /// The whole file, or the errno.
    public static func read(_ path: String) -> Result<[UInt8], Int32Error> {
        guard let f = fopen(path, "r") else { return .failure(Int32Error(errno)) }
        defer { fclose(f) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n > 0 { out.append(contentsOf: chunk[0..<n]) }
            if n < chunk.count {
                if ferror(f) != 0 { return .failure(Int32Error(errno)) }
                break
            }
        }
        return .success(out)
    }

    /// Replaces `path` atomically: a temporary file next to it, fsync, chmod 0644 & ~umask, rename.
    /// Returns the errno on failure.
    public static func replace(_ path: String, with content: [UInt8]) -> Int32? {
        var template = Array((path + ".XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd < 0 { return errno }
        let tmp = String(cString: template)
        var offset = 0
        var failure: Int32? = nil
        while offset < content.count {
            let n = content[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 {
                if errno == EINTR { continue }
                failure = errno
                break
            }
            offset += n
        }
        if failure == nil {
            let mask = umask(0)
            umask(mask)
            if fsync(fd) != 0 { failure = errno }
            else if fchmod(fd, 0o644 & ~mask) != 0 { failure = errno }
            else if rename(tmp, path) != 0 { failure = errno }
        }
        close(fd)
        if failure != nil { unlink(tmp) }
        return failure
    }

    /// `path` made absolute against `base`, with "." and ".." components resolved lexically.
    public static func absolute(_ path: String, base: String) -> String {
        let joined = path.hasPrefix("/") ? path : base + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }
}

/// An errno as an Error.
public struct Int32Error: Error, Equatable {
    public var code: Int32
    public init(_ code: Int32) { self.code = code }
}
