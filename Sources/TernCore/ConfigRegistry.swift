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

/// Redis's config flags (IMMUTABLE_CONFIG, PROTECTED_CONFIG, DENY_LOADING_CONFIG, HIDDEN_CONFIG,
/// MULTI_ARG_CONFIG).
public struct ConfigFlags: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// CONFIG SET refuses it ("can't set immutable config").
    public static let immutable = ConfigFlags(rawValue: 1)
    /// CONFIG SET refuses it unless enable-protected-configs allows the client.
    public static let protected = ConfigFlags(rawValue: 2)
    /// CONFIG SET answers -LOADING while a dataset is being loaded.
    public static let denyLoading = ConfigFlags(rawValue: 4)
    /// Only an exact CONFIG GET name shows it, never a pattern.
    public static let hidden = ConfigFlags(rawValue: 8)
    /// Takes several arguments on one line (CONFIG SET splits its value on spaces).
    public static let multiArg = ConfigFlags(rawValue: 16)
}

/// What a directive does in Tern: documented per directive in conf/tern.conf.
public enum ConfigEffect: Equatable, Sendable {
    /// It does what it does in Redis.
    case effective
    /// Accepted, validated and shown by CONFIG GET, with no effect in Tern (the reason says why).
    case noEffect(String)
}

/// One directive Tern knows: its names, type, default, whether CONFIG SET may change it, and how it is
/// stored, printed (CONFIG GET) and rewritten (CONFIG REWRITE).
public struct ConfigDirective {
    public let name: String
    public let alias: String?
    public let kind: ConfigKind
    public internal(set) var flags: ConfigFlags
    /// Bounds for numeric kinds; `unsigned` compares (and prints) them as Redis's unsigned types do.
    public let minimum: Int64
    public let maximum: Int64
    public let unsigned: Bool
    public var effect: ConfigEffect = .effective
    let getter: (ServerConfig) -> String
    let setter: (ServerConfig, [String]) throws -> Void
    let rewriter: (ServerConfig, String) -> ConfigRewrite
    /// Core-side run-time effect after CONFIG SET changed the value.
    let applier: ((ServerState) -> Void)?
    /// Redis's apply functions that can fail: after CONFIG SET stored the new value, an error text rolls
    /// the whole CONFIG SET back.
    var check: ((ServerConfig) -> String?)? = nil

    init(name: String, alias: String?, kind: ConfigKind, mutable: Bool, protected: Bool, multiArg: Bool,
         denyLoading: Bool = false, hidden: Bool = false,
         minimum: Int64, maximum: Int64, unsigned: Bool,
         getter: @escaping (ServerConfig) -> String, setter: @escaping (ServerConfig, [String]) throws -> Void,
         rewriter: @escaping (ServerConfig, String) -> ConfigRewrite, applier: ((ServerState) -> Void)?) {
        var flags: ConfigFlags = []
        if !mutable { flags.insert(.immutable) }
        if protected { flags.insert(.protected) }
        if multiArg { flags.insert(.multiArg) }
        if denyLoading { flags.insert(.denyLoading) }
        if hidden { flags.insert(.hidden) }
        self.name = name
        self.alias = alias
        self.kind = kind
        self.flags = flags
        self.minimum = minimum
        self.maximum = maximum
        self.unsigned = unsigned
        self.getter = getter
        self.setter = setter
        self.rewriter = rewriter
        self.applier = applier
    }

    /// CONFIG SET may change it at run time.
    public var mutable: Bool { !flags.contains(.immutable) }
    /// CONFIG SET refuses it as "protected" unless enable-protected-configs allows it.
    public var protected: Bool { flags.contains(.protected) }
    public var multiArg: Bool { flags.contains(.multiArg) }

    /// The value as CONFIG GET prints it.
    public func get(_ config: ServerConfig) -> String { getter(config) }

    /// Parses and stores the arguments that follow the directive name; throws `ConfigValueError`.
    public func set(_ config: ServerConfig, _ arguments: [String]) throws { try setter(config, arguments) }

    /// The CONFIG REWRITE action for the current value.
    public func rewrite(_ config: ServerConfig) -> ConfigRewrite { rewriter(config, name) }

    /// The compiled-in default, as CONFIG GET prints it.
    public var defaultValue: String { getter(ServerConfig()) }

    /// The same directive with a run-time check (see `check`).
    func checked(_ check: @escaping (ServerConfig) -> String?) -> ConfigDirective {
        var d = self
        d.check = check
        return d
    }

    /// The same directive with more flags.
    func flagged(_ more: ConfigFlags) -> ConfigDirective {
        var d = self
        d.flags.formUnion(more)
        return d
    }

    /// The same directive documented as having no effect in Tern.
    func noEffect(_ reason: String) -> ConfigDirective {
        var d = self
        d.effect = .noEffect(reason)
        return d
    }
}

/// Every directive Tern knows, as data; CONFIG GET/SET/REWRITE and the config-file loader all go through it.
public enum ConfigRegistry {
    public static let memoryPolicies = [
        "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
        "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction",
    ]
    public static let logLevels = ["debug", "verbose", "notice", "warning"]
    public static let backends = ["memory", "lmdb"]
    public static let lmdbSyncModes = ["always", "everysec", "no"]

    static let intMax = Int64(Int32.max)
    static let uintMax = Int64(UInt32.max)
    static let longMax = Int64.max

    public static let directives: [ConfigDirective] = [
        // Network
        bind(),
        integer("port", min: 0, max: 65535, mutable: true, \.port),
        string("unixsocket", emptyIsUnset: true, mutable: false, \.unixSocket),
        integer("unixsocketperm", kind: .octal, min: 0, max: 0o777, unsigned: true, mutable: false, \.unixSocketPerm),
        integer("tcp-backlog", min: 0, max: intMax, mutable: false, \.tcpBacklog),
        integer("timeout", min: 0, max: intMax, mutable: true, \.timeout),
        integer("tcp-keepalive", min: 0, max: intMax, mutable: true, \.tcpKeepalive),
        bool("protected-mode", mutable: true, \.protectedMode),
        integer("maxclients", min: 1, max: uintMax, unsigned: true, mutable: true, \.maxClients)
            .checked { c in
                maxClientsThatFit(c.maxClients).map {
                    "The operating system is not able to handle the specified number of clients, try with \($0)"
                }
            },
        integer("tracking-table-max-keys", min: 0, max: longMax, unsigned: true, mutable: true, \.trackingTableMaxKeys),
        // General
        enumeration("loglevel", logLevels, mutable: true, \.logLevel, apply: { server in
            server.logger.logLevel = ConfigRegistry.swiftLogLevel(server.config.logLevel)
        }),
        string("logfile", emptyIsUnset: false, mutable: false, \.logFile),
        dir().flagged(.denyLoading),
        string("pidfile", emptyIsUnset: true, mutable: false, \.pidFile),
        integer("databases", min: 1, max: intMax, mutable: false, \.databases),
        enumeration("backend", backends, mutable: false, \.backend),
        // LMDB backend
        string("lmdb-path", emptyIsUnset: false, mutable: false, \.lmdbPath),
        enumeration("lmdb-sync", lmdbSyncModes, mutable: false, \.lmdbSync),
        integer("lmdb-map-size", kind: .memory, min: 1024 * 1024, max: longMax, mutable: false, \.lmdbMapSize),
        integer("lmdb-max-size", kind: .memory, min: 0, max: longMax, mutable: false, \.lmdbMaxSize),
        hz(),
        bool("daemonize", mutable: false, \.daemonize),
        enumeration("supervised", ["upstart", "systemd", "auto", "no"], mutable: false, \.supervised),
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
        // HyperLogLog: sparse representations longer than this are promoted to dense (Redis's default 3000).
        integer("hll-sparse-max-bytes", kind: .memory, min: 0, max: longMax, unsigned: true, mutable: true,
                \.hllSparseMaxBytes),
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
        // Redis clamps the backlog to CONFIG_REPL_BACKLOG_MIN_SIZE (16kb) when it applies the value.
        integer("repl-backlog-size", kind: .memory, min: 1, max: Int64.max, mutable: true, \.replBacklogSize,
                store: { Int(Swift.max($0, 16 * 1024)) }),
        integer("repl-ping-replica-period", alias: "repl-ping-slave-period", min: 1, max: intMax, mutable: true, \.replPingReplicaPeriod),
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
        enumeration("repl-diskless-load", ["disabled", "on-empty-db", "swapdb"], mutable: true, \.replDisklessLoad)
            .flagged(.denyLoading),
        bool("repl-disable-tcp-nodelay", mutable: true, \.replDisableTCPNoDelay),
        // Plugins
        enumeration("enable-module-command", ["no", "yes", "local"], mutable: false, \.enableModuleCommand),
        // Clients and events
        clientOutputBufferLimit(),
        notifyKeyspaceEvents(),
    ] + redisDirectives

    /// The rest of Redis 7.0's config table (config.c's standardConfig plus its special ones), with Redis's
    /// names, aliases, types, bounds, defaults and flags. Each either has its effect here or says why it has
    /// none; one users rely on for durability, limits or security refuses a value Tern can't honour.
    static let redisDirectives: [ConfigDirective] = [
        // Encodings: OBJECT ENCODING follows them (see ObjectEncoding).
        integer("hash-max-listpack-entries", alias: "hash-max-ziplist-entries", min: 0, max: longMax, unsigned: true,
                mutable: true, \.encodingLimits.hashMaxListpackEntries),
        integer("hash-max-listpack-value", alias: "hash-max-ziplist-value", kind: .memory, min: 0, max: longMax,
                unsigned: true, mutable: true, \.encodingLimits.hashMaxListpackValue),
        integer("set-max-intset-entries", min: 0, max: longMax, unsigned: true, mutable: true,
                \.encodingLimits.setMaxIntsetEntries),
        integer("zset-max-listpack-entries", alias: "zset-max-ziplist-entries", min: 0, max: longMax, unsigned: true,
                mutable: true, \.encodingLimits.zsetMaxListpackEntries),
        integer("zset-max-listpack-value", alias: "zset-max-ziplist-value", kind: .memory, min: 0, max: longMax,
                unsigned: true, mutable: true, \.encodingLimits.zsetMaxListpackValue),
        stored("list-max-listpack-size", alias: "list-max-ziplist-size", min: Int64(Int32.min), max: intMax, default: -2)
            .noEffect("Redis 7.0 lists are always quicklists (OBJECT ENCODING says so in Tern too); this sizes their nodes"),
        stored("list-compress-depth", min: 0, max: intMax, default: 0)
            .noEffect("compresses quicklist nodes in Redis; Tern's lists have no such nodes"),
        // Security, debugging and modules
        enumeration("enable-protected-configs", protectedActions, mutable: false, \.enableProtectedConfigs),
        storedEnum("sanitize-dump-payload", ["no", "yes", "clients"], default: "no")
            .noEffect("Tern always checks a RESTORE payload completely before using it"),
        // Append-only file: Tern has none yet, so it can't be turned on; the tuning around it is inert.
        stored("appendonly", default: false, unsupported: "appendonly yes is not supported: Tern has no append-only file (AOF) yet; for durability use the lmdb backend (backend lmdb, every write synced) or RDB save points")
            .flagged(.denyLoading),
        stored("appendfilename", default: "appendonly.aof", mutable: false, validate: { v in
            if v.isEmpty { throw ConfigValueError("appendfilename can't be empty") }
            if v.contains("/") { throw ConfigValueError("appendfilename can't be a path, just a filename") }
        }).noEffect(aofUnused),
        stored("appenddirname", default: "appendonlydir", mutable: false, validate: { v in
            if v.isEmpty { throw ConfigValueError("appenddirname can't be empty") }
            if v.contains("/") { throw ConfigValueError("appenddirname can't be a path, just a dirname") }
        }).noEffect(aofUnused),
        storedEnum("appendfsync", ["everysec", "always", "no"], default: "everysec").noEffect(aofUnused),
        stored("no-appendfsync-on-rewrite", default: false).noEffect(aofUnused),
        stored("auto-aof-rewrite-percentage", min: 0, max: intMax, default: 100).noEffect(aofUnused),
        stored("auto-aof-rewrite-min-size", kind: .memory, min: 0, max: Int64.max, default: 64 * 1024 * 1024)
            .noEffect(aofUnused),
        stored("aof-load-truncated", default: true).noEffect(aofUnused),
        stored("aof-use-rdb-preamble", default: true).noEffect(aofUnused),
        stored("aof-timestamp-enabled", default: false).noEffect(aofUnused),
        stored("aof-rewrite-incremental-fsync", default: true).noEffect(aofUnused),
        stored("aof-disable-auto-gc", default: false).noEffect(aofUnused),
        // Snapshotting
        stored("rdb-save-incremental-fsync", default: true)
            .noEffect("Tern syncs the whole RDB file once before renaming it; the 32 MB steps only smooth Redis's I/O"),
        stored("rdb-del-sync-files", default: false)
            .noEffect("Tern never leaves an RDB file behind for replication: full resyncs stream from memory"),
        // Clustering: not supported.
        stored("cluster-enabled", default: false, mutable: false, unsupported: "Redis Cluster mode is not supported by Tern"),
        stored("cluster-config-file", default: "nodes.conf", mutable: false).noEffect(clusterUnused),
        stored("cluster-node-timeout", min: 0, max: Int64.max, default: 15000).noEffect(clusterUnused),
        stored("cluster-port", min: 0, max: 65535, default: 0, mutable: false).noEffect(clusterUnused),
        stored("cluster-announce-bus-port", min: 0, max: 65535, default: 0).noEffect(clusterUnused),
        stored("cluster-announce-port", min: 0, max: 65535, default: 0).noEffect(clusterUnused),
        stored("cluster-announce-tls-port", min: 0, max: 65535, default: 0).noEffect(clusterUnused),
        stored("cluster-announce-ip", default: "", emptyIsUnset: true).noEffect(clusterUnused),
        stored("cluster-announce-hostname", default: "", emptyIsUnset: true, validate: validateHostname)
            .noEffect(clusterUnused),
        storedEnum("cluster-preferred-endpoint-type", ["ip", "hostname", "unknown-endpoint"], default: "ip")
            .noEffect(clusterUnused),
        stored("cluster-replica-validity-factor", alias: "cluster-slave-validity-factor", min: 0, max: intMax, default: 10)
            .noEffect(clusterUnused),
        stored("cluster-migration-barrier", min: 0, max: intMax, default: 1).noEffect(clusterUnused),
        stored("cluster-require-full-coverage", default: true).noEffect(clusterUnused),
        stored("cluster-replica-no-failover", alias: "cluster-slave-no-failover", default: false).noEffect(clusterUnused),
        stored("cluster-allow-reads-when-down", default: false).noEffect(clusterUnused),
        stored("cluster-allow-pubsubshard-when-down", default: true).noEffect(clusterUnused),
        stored("cluster-allow-replica-migration", default: true).noEffect(clusterUnused),
        stored("cluster-link-sendbuf-limit", kind: .memory, min: 0, max: -1, unsigned: true, default: 0)
            .noEffect(clusterUnused),
        // Memory and eviction
        integer("maxmemory-samples", min: 1, max: intMax, mutable: true, \.maxMemorySamples),
        stored("maxmemory-eviction-tenacity", min: 0, max: 100, default: 10)
            .noEffect("Tern evicts within a fixed bound of keys per command instead of a time budget"),
        maxmemoryClients(),
        stored("lfu-log-factor", min: 0, max: intMax, default: 10)
            .noEffect("Tern's LFU counter does not follow Redis's logarithmic increments"),
        stored("lfu-decay-time", min: 0, max: intMax, default: 1)
            .noEffect("Tern's LFU counter does not decay"),
        stored("replica-ignore-maxmemory", alias: "slave-ignore-maxmemory", default: true,
               unsupported: "a Tern replica never evicts keys (it follows its master's evictions): replica-ignore-maxmemory must be yes"),
        stored("active-defrag-ignore-bytes", kind: .memory, min: 1, max: Int64.max, default: 100 << 20).noEffect(defragUnused),
        stored("active-defrag-threshold-lower", min: 0, max: 1000, default: 10).noEffect(defragUnused),
        stored("active-defrag-threshold-upper", min: 0, max: 1000, default: 100).noEffect(defragUnused),
        stored("active-defrag-cycle-min", min: 1, max: 99, default: 1).noEffect(defragUnused),
        stored("active-defrag-cycle-max", min: 1, max: 99, default: 25).noEffect(defragUnused),
        stored("active-defrag-max-scan-fields", min: 1, max: longMax, unsigned: true, default: 1000).noEffect(defragUnused),
        // Stock Redis on Debian (no Redis-patched jemalloc) refuses it the same way.
        stored("activedefrag", default: false, unsupported: "Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution"),
        stored("jemalloc-bg-thread", default: true).noEffect("Tern does not use jemalloc"),
        stored("lazyfree-lazy-eviction", default: false).noEffect(lazyfreeUnused),
        stored("lazyfree-lazy-expire", default: false).noEffect(lazyfreeUnused),
        stored("lazyfree-lazy-server-del", default: false).noEffect(lazyfreeUnused),
        stored("lazyfree-lazy-user-del", default: false).noEffect(lazyfreeUnused),
        stored("lazyfree-lazy-user-flush", default: false).noEffect(lazyfreeUnused),
        stored("replica-lazy-flush", alias: "slave-lazy-flush", default: false).noEffect(lazyfreeUnused),
        stored("activerehashing", default: true)
            .noEffect("Tern's hash tables (Swift dictionaries, persistent tries, LMDB B-trees) have no incremental rehashing step"),
        stored("dynamic-hz", default: true).noEffect("Tern's cron runs at the configured hz whatever the number of clients"),
        stored("active-expire-effort", min: 1, max: 10, default: 1)
            .noEffect("Tern's active expiry samples a fixed number of keys per cycle within a time budget"),
        // Process
        stored("io-threads", min: 1, max: 128, default: 1, mutable: false)
            .noEffect("Tern runs every connection on one event loop; there are no I/O threads to add"),
        stored("io-threads-do-reads", default: false, mutable: false)
            .noEffect("Tern runs every connection on one event loop; there are no I/O threads to add"),
        stored("always-show-logo", default: false, mutable: false).noEffect("Tern prints no ASCII-art logo"),
        stored("set-proc-title", default: true, mutable: false)
            .noEffect("Tern keeps its process title (a Swift program can't rewrite argv in place portably)"),
        stored("proc-title-template", default: "{title} {listen-addr} {server-mode}", validate: validateProcTitle)
            .noEffect("Tern keeps its process title (a Swift program can't rewrite argv in place portably)"),
        stored("disable-thp", default: true, mutable: false)
            .noEffect("transparent huge pages only slow Redis's fork; Tern never forks to save"),
        storedEnum("oom-score-adj", ["no", "yes", "relative", "absolute"], default: "no", same: ["relative": "yes"])
            .noEffect("Tern doesn't adjust the kernel's OOM score: set it from the service manager (OOMScoreAdjust=)"),
        oomScoreAdjValues(),
        stored("server_cpulist", default: "", emptyIsUnset: true, mutable: false).noEffect(cpulistUnused),
        stored("bio_cpulist", default: "", emptyIsUnset: true, mutable: false).noEffect(cpulistUnused),
        stored("aof_rewrite_cpulist", default: "", emptyIsUnset: true, mutable: false).noEffect(cpulistUnused),
        stored("bgsave_cpulist", default: "", emptyIsUnset: true, mutable: false).noEffect(cpulistUnused),
        stored("crash-log-enabled", default: true)
            .noEffect("a crash prints Swift's backtrace to the log; Redis's own crash report doesn't exist here"),
        stored("crash-memcheck-enabled", default: true)
            .noEffect("a crash prints Swift's backtrace to the log; Redis's own crash report doesn't exist here"),
        stored("syslog-enabled", default: false, mutable: false,
               unsupported: "logging to syslog is not supported by Tern: use logfile (or stdout under a service manager)"),
        stored("syslog-ident", default: "redis", mutable: false).noEffect("Tern doesn't log to syslog (syslog-enabled must be no)"),
        storedEnum("syslog-facility", ["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"],
                   default: "local0", mutable: false).noEffect("Tern doesn't log to syslog (syslog-enabled must be no)"),
        stored("ignore-warnings", default: "")
            .noEffect("Tern doesn't emit the start-up warnings (ARM64-COW-BUG) this silences"),
        shutdownOnSignal("shutdown-on-sigint"),
        shutdownOnSignal("shutdown-on-sigterm"),
        stored("shutdown-timeout", min: 0, max: intMax, default: 10)
            .noEffect("Tern's SHUTDOWN doesn't wait for lagging replicas"),
        stored("socket-mark-id", min: 0, max: uintMax, unsigned: true, default: 0, mutable: false,
               unsupported: "socket marks (SO_MARK) are not supported by Tern: socket-mark-id must be 0"),
        // Replication
        stored("bind-source-addr", default: "", emptyIsUnset: true,
               unsupported: "bind-source-addr is not supported by Tern: a replica connects from the address the system chooses"),
        stored("replica-ignore-disk-write-errors", default: false)
            .noEffect("a Tern replica's writes never go to an RDB or AOF file it could fail to write"),
        storedEnum("propagation-error-behavior", ["ignore", "panic", "panic-on-replicas"], default: "ignore",
                   unsupported: "propagation-error-behavior must be ignore in Tern (errors in the replication stream are logged and skipped)"),
    ]

    public static let protectedActions = ["no", "yes", "local"]
    static let aofUnused = "Tern has no append-only file (appendonly must be no)"
    static let clusterUnused = "Redis Cluster mode is not supported by Tern (cluster-enabled must be no)"
    static let defragUnused = "Tern does not use jemalloc; active defragmentation can't be enabled"
    static let lazyfreeUnused = "Tern frees values without blocking the event loop already (memory: reference counts; LMDB: lazy cleanup of big keys)"
    static let cpulistUnused = "Tern doesn't pin its threads to CPUs"

    /// Lines a config file may hold that Redis 7.0 reads and ignores (deprecated directives), with their
    /// word count.
    public static let deprecatedDirectives: [String: Int] = [
        "list-max-ziplist-entries": 2, "list-max-ziplist-value": 2, "lua-replicate-commands": 2,
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
            for (name, d) in allNames where !d.flags.contains(.hidden) && !seen.contains(name)
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
    /// `localClient`: the client is on loopback or the unix socket (enable-protected-configs local).
    public static func set(_ pairs: [(String, String)], server: ServerState?, config: ServerConfig,
                           localClient: Bool = false) throws {
        var chosen: [ConfigDirective] = []
        var failure: String? = nil
        var unknown: String? = nil
        var denyLoading = false
        var chosenEntries: Set<String> = []
        let protectedAllowed = config.enableProtectedConfigs == "yes"
            || (config.enableProtectedConfigs == "local" && localClient)
        for (name, _) in pairs {
            guard let d = lookup(name) else {
                if unknown == nil && failure == nil { unknown = name }
                continue
            }
            if unknown != nil || failure != nil || denyLoading { continue }
            if !d.mutable || (d.protected && !protectedAllowed) {
                failure = "CONFIG SET failed (possibly related to argument '\(name)') - "
                    + (d.mutable ? "can't set protected config" : "can't set immutable config")
                continue
            }
            if d.flags.contains(.denyLoading) && (server?.loading ?? false) {
                denyLoading = true
                continue
            }
            // Redis's table holds an alias as an entry of its own: a directive and its alias in one call
            // aren't duplicates (the later one wins).
            let entry = d.alias == name.lowercased() ? d.alias! : d.name
            if chosenEntries.contains(entry) {
                failure = "CONFIG SET failed (possibly related to argument '\(name)') - duplicate parameter"
                continue
            }
            chosen.append(d)
            chosenEntries.insert(entry)
        }
        if denyLoading { throw CommandError("LOADING Redis is loading the dataset in memory") }
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
            if let problem = chosen[i].check?(config) {
                restore(upTo: chosen.count)
                let shownName = chosen[i].alias == pairs[i].0.lowercased() ? chosen[i].alias! : chosen[i].name
                throw CommandError.err("CONFIG SET failed (possibly related to argument '\(shownName)') - \(problem)")
            }
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
        // sdssplitlen: an empty value is no arguments at all.
        guard d.multiArg else { return [value] }
        return value.isEmpty ? [] : value.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
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
    // Directives whose value lives in `ServerConfig.values` under their name, as CONFIG GET prints it:
    // the ones with no effect in Tern, or whose only accepted value is the default (`unsupported` is the
    // refusal for any other).

    static func storedDirective(_ name: String, alias: String?, kind: ConfigKind, mutable: Bool, multiArg: Bool = false,
                                min: Int64 = 0, max: Int64 = 0, unsigned: Bool = false, defaultValue: String,
                                parse: @escaping ([String]) throws -> String,
                                rewriteLine: @escaping (String, String) -> String,
                                unset: ((String) -> Bool)? = nil,
                                unsupported: String? = nil) -> ConfigDirective {
        ConfigDirective(
            name: name, alias: alias, kind: kind, mutable: mutable, protected: false, multiArg: multiArg,
            minimum: min, maximum: max, unsigned: unsigned,
            getter: { $0.values[name] ?? defaultValue },
            setter: { c, a in
                let v = try parse(a)
                if let unsupported, v != defaultValue { throw ConfigValueError(unsupported) }
                c.values[name] = v
            },
            rewriter: { c, n in
                let v = c.values[name] ?? defaultValue
                if let unset, unset(v) { return .remove }
                return .line(rewriteLine(n, v), force: v != defaultValue)
            },
            applier: nil)
    }

    static func stored(_ name: String, alias: String? = nil, default def: Bool, mutable: Bool = true,
                       unsupported: String? = nil) -> ConfigDirective {
        storedDirective(name, alias: alias, kind: .bool, mutable: mutable, defaultValue: def ? "yes" : "no",
                        parse: { try parseBool($0[0]) ? "yes" : "no" }, rewriteLine: { "\($0) \($1)" },
                        unsupported: unsupported)
    }

    static func stored(_ name: String, alias: String? = nil, kind: ConfigKind = .integer, min: Int64, max: Int64,
                       unsigned: Bool = false, default def: Int64, mutable: Bool = true,
                       unsupported: String? = nil) -> ConfigDirective {
        let render: (Int64) -> String = { v in
            switch kind {
            case .memory: return String(UInt64(bitPattern: v))
            case .octal: return String(v, radix: 8)
            default: return unsigned ? String(UInt64(bitPattern: v)) : String(v)
            }
        }
        return storedDirective(
            name, alias: alias, kind: kind, mutable: mutable, min: min, max: max, unsigned: unsigned,
            defaultValue: render(def),
            parse: { render(try parseNumber($0[0], kind: kind, min: min, max: max, unsigned: unsigned)) },
            rewriteLine: { n, v in
                kind == .memory ? "\(n) \(formatMemory(Int64(bitPattern: UInt64(v) ?? 0)))" : "\(n) \(v)"
            },
            unsupported: unsupported)
    }

    static func stored(_ name: String, alias: String? = nil, default def: String, emptyIsUnset: Bool = false,
                       mutable: Bool = true, validate: ((String) throws -> Void)? = nil,
                       unsupported: String? = nil) -> ConfigDirective {
        storedDirective(name, alias: alias, kind: .string, mutable: mutable, defaultValue: def,
                        parse: { a in try validate?(a[0]); return a[0] },
                        rewriteLine: { "\($0) \(quoted($1))" },
                        unset: emptyIsUnset ? { $0.isEmpty } : nil, unsupported: unsupported)
    }

    /// `same`: names that are another name's value (CONFIG GET prints the first name of the value).
    static func storedEnum(_ name: String, _ names: [String], default def: String, mutable: Bool = true,
                           same: [String: String] = [:], unsupported: String? = nil) -> ConfigDirective {
        storedDirective(name, alias: nil, kind: .enumeration(names), mutable: mutable, defaultValue: def,
                        parse: { a in
                            let v = try enumValue(a[0], names)
                            return same[v] ?? v
                        },
                        rewriteLine: { "\($0) \($1)" }, unsupported: unsupported)
    }

    /// configEnumGetValue, with Redis's error listing the names.
    static func enumValue(_ s: String, _ names: [String]) throws -> String {
        guard let v = names.first(where: { $0 == s.lowercased() }) else {
            throw ConfigValueError("argument(s) must be one of the following: " + names.joined(separator: ", "))
        }
        return v
    }

    /// `maxmemory-clients`: a memory size or a percentage of maxmemory (Redis's MEMORY_CONFIG |
    /// PERCENT_CONFIG, -100..SSIZE_MAX, percentages stored negative). Tern has no client eviction, so only 0 is
    /// accepted.
    static func maxmemoryClients() -> ConfigDirective {
        storedDirective(
            "maxmemory-clients", alias: nil, kind: .memory, mutable: true, min: -100, max: Int64.max,
            defaultValue: "0",
            parse: { a in
                let s = a[0]
                if let v = parseMemory(s) {
                    // Stored in a long long: sizes past LLONG_MAX read as (negative) percentages, as in Redis.
                    let value = Int64(bitPattern: v)
                    if value < -100 { throw ConfigValueError("percentage argument must be less or equal to 100") }
                    return value < 0 ? "\(-value)%" : String(value)
                }
                if s.count > 1 && s.hasSuffix("%"),
                   let p = Array(s.utf8.dropLast()).withUnsafeBytes({ RESPNumberBridge.parseInt64($0) }), p >= 0 {
                    if p > 100 { throw ConfigValueError("percentage argument must be less or equal to 100") }
                    return "\(p)%"
                }
                throw ConfigValueError("argument must be a memory or percent value")
            },
            rewriteLine: { "\($0) \($1)" },
            unsupported: "client eviction is not supported by Tern: maxmemory-clients must be 0")
    }

    /// `oom-score-adj-values <master> <replica> <bgchild>`: three integers in -2000..2000.
    static func oomScoreAdjValues() -> ConfigDirective {
        storedDirective(
            "oom-score-adj-values", alias: nil, kind: .special, mutable: true, multiArg: true, defaultValue: "0 200 800",
            parse: { a in
                guard a.count == 3 else { throw ConfigValueError("wrong number of arguments") }
                let values = try a.map { s -> Int64 in
                    guard let v = strtollWhole(s), v >= -2000, v <= 2000 else {
                        throw ConfigValueError("Invalid oom-score-adj-values, elements must be between -2000 and 2000.")
                    }
                    return v
                }
                return values.map(String.init).joined(separator: " ")
            },
            rewriteLine: { "\($0) \($1)" })
        .noEffect("Tern doesn't adjust the kernel's OOM score: set it from the service manager (OOMScoreAdjust=)")
    }

    /// `shutdown-on-sigint` / `shutdown-on-sigterm`: default, or a combination of save, nosave, now, force.
    /// Tern shuts down on SIGINT/SIGTERM as SHUTDOWN without arguments does; other choices are refused.
    static func shutdownOnSignal(_ name: String) -> ConfigDirective {
        let names = ["default", "save", "nosave", "now", "force"]
        return storedDirective(
            name, alias: nil, kind: .enumeration(names), mutable: true, multiArg: true, defaultValue: "default",
            parse: { a in
                var chosen: Set<String> = []
                if a.isEmpty { _ = try enumValue("", names) }
                for word in a { chosen.insert(try enumValue(word, names)) }
                if chosen.contains("save") && chosen.contains("nosave") {
                    throw ConfigValueError("shutdown options SAVE and NOSAVE can't be used simultaneously")
                }
                chosen.remove("default")
                if chosen.isEmpty { return "default" }
                return names.filter { chosen.contains($0) }.joined(separator: " ")
            },
            rewriteLine: { "\($0) \($1)" },
            unsupported: "\(name) must be default in Tern (the signal shuts down as SHUTDOWN without arguments does)")
    }

    /// sprintf("%f") with trailing zeros (and a trailing point) removed, as trimDoubleString.
    static func formatPercentile(_ d: Double) -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        _ = withVaList([d]) { vsnprintf(&buffer, buffer.count, "%f", $0) }
        var s = String(cString: buffer)
        if s.contains(".") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        return s
    }

    /// strtoll(s, &end, 10) with nothing left after the number.
    static func strtollWhole(_ s: String) -> Int64? {
        s.withCString { p in
            var end: UnsafeMutablePointer<CChar>? = nil
            let v = strtoll(p, &end, 10)
            return end?.pointee == 0 ? Int64(v) : nil
        }
    }

    /// isValidAnnouncedHostname.
    static func validateHostname(_ v: String) throws {
        if v.utf8.count >= 256 { throw ConfigValueError("Hostnames must be less than 256 characters") }
        for c in v.utf8 where !((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 45 || c == 46) {
            throw ConfigValueError("Hostnames may only contain alphanumeric characters, hyphens or dots")
        }
    }

    /// validateProcTitleTemplate: balanced {variables} among Redis's, expanding to something non-empty.
    static func validateProcTitle(_ v: String) throws {
        let known: Set<String> = ["title", "listen-addr", "server-mode", "port", "tls-port", "unixsocket", "config-file"]
        let invalid = ConfigValueError("template format is invalid or contains unknown variables")
        var expandsToSomething = false
        var i = v.startIndex
        while i < v.endIndex {
            if v[i] == "{" {
                guard let close = v[i...].firstIndex(of: "}") else { throw invalid }
                let variable = String(v[v.index(after: i)..<close])
                guard known.contains(variable) else { throw invalid }
                if variable == "title" { expandsToSomething = true }
                i = v.index(after: close)
            } else {
                if v[i] == "}" { throw invalid }
                expandsToSomething = true
                i = v.index(after: i)
            }
        }
        if !expandsToSomething { throw invalid }
    }

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
            name: "bind", alias: nil, kind: .special, mutable: true, protected: false, multiArg: true,
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
                // At run time (CONFIG SET with enable-protected-configs) the server moves at once, as Redis.
                if !c.readingConfigFile && chdir(path) != 0 { throw ConfigValueError(String(cString: strerror(errno))) }
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

    /// `maxmemory`: any unsigned 64-bit size, printed as such.
    static func maxmemory() -> ConfigDirective {
        ConfigDirective(
            name: "maxmemory", alias: nil, kind: .memory, mutable: true, protected: false, multiArg: false,
            minimum: 0, maximum: -1, unsigned: true,
            getter: { String($0.maxMemoryBytes) },
            setter: { c, a in
                c.maxMemoryBytes = UInt64(bitPattern: try parseNumber(a[0], kind: .memory, min: 0, max: -1, unsigned: true))
            },
            rewriter: { c, n in
                .line("\(n) \(formatMemory(Int64(bitPattern: c.maxMemoryBytes)))", force: c.maxMemoryBytes != 0)
            },
            applier: nil)
    }

    /// `maxclients`: Redis's adjustOpenFilesLimit. The process needs maxclients + 32 descriptors; when the
    /// limit can't be raised that far, CONFIG SET fails with the number that would fit (at start-up the
    /// value is lowered with a warning instead). Returns nil when it fits.
    public static func maxClientsThatFit(_ requested: Int) -> Int? {
        let reserved = 32
        let needed = rlim_t(requested + reserved)
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        if limit.rlim_cur >= needed { return nil }
        var raised = rlimit(rlim_cur: needed, rlim_max: Swift.max(needed, limit.rlim_max))
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return nil }
        raised = rlimit(rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max)
        let best = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 ? limit.rlim_max : limit.rlim_cur
        if best >= needed { return nil }
        return Swift.max(1, Int(best) - reserved)
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
                    // CONFIG GET says "slave"; Redis's rewrite writes "replica".
                    let name = i == ClientOutputBufferLimit.replica ? "replica" : ClientOutputBufferLimit.classNames[i]
                    each.append("\(n) \(name) \(formatMemory(Int64(bitPattern: l.hardBytes))) \(formatMemory(Int64(bitPattern: l.softBytes))) \(l.softSeconds)")
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
