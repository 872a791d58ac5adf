/// Every setting the server runs with. Directive names, parsing, CONFIG GET/SET and REWRITE live in
/// `ConfigRegistry`; this is the typed store the rest of the server reads.
public final class ServerConfig {
    // Network
    public var bind: [String] = ["127.0.0.1", "-::1"]
    public var port: Int = 6379
    public var unixSocket: String = ""
    public var unixSocketPerm: Int = 0
    public var tcpBacklog: Int = 511
    public var timeout: Int = 0
    public var tcpKeepalive: Int = 300
    public var protectedMode: Bool = true
    public var maxClients: Int = 10000
    /// Keys the client-side caching table may hold before keys are evicted from it (0: no limit).
    public var trackingTableMaxKeys: Int = 1_000_000

    // General
    public var logLevel: String = "notice"
    public var logFile: String = ""
    public var dir: String = ""
    public var pidFile: String = ""
    public var databases: Int = 16
    public var backend: String = "memory"
    /// LMDB environment directory (relative paths are under `dir`).
    public var lmdbPath: String = "tern.lmdb"
    /// always | everysec | no
    public var lmdbSync: String = "always"
    public var lmdbMapSize: Int = 64 * 1024 * 1024
    /// 0: the map may grow without limit.
    public var lmdbMaxSize: Int = 0
    public var hz: Int = 10
    /// `daemonize yes`: the launcher detaches into the background (and writes `pidfile`, by default
    /// /var/run/redis.pid as Redis does).
    public var daemonize: Bool = false
    /// `supervised upstart|systemd|auto|no`: how the launcher tells a service manager it is ready.
    public var supervised: String = "no"

    // Snapshotting (RDB)
    /// `save <seconds> <changes>` points: a background save once `changes` writes happened and `seconds`
    /// passed since the last save. Redis's defaults; `save ""` disables.
    public var savePoints: [SavePoint] = [SavePoint(seconds: 3600, changes: 1), SavePoint(seconds: 300, changes: 100),
                                          SavePoint(seconds: 60, changes: 10000)]
    public var dbFilename: String = "dump.rdb"
    public var rdbCompression: Bool = true
    public var rdbChecksum: Bool = true
    public var stopWritesOnBgsaveError: Bool = true
    /// `--import <file.rdb>` on the command line: replace the dataset with that file at start-up.
    public var importPath: String?
    /// Set while a config file or the command line is read (`save` lines then accumulate, as in Redis).
    public var readingConfigFile = false
    var savePointsFromFile = false

    // Security
    public var requirePass: String = ""
    /// `aclfile`: users live in this file (ACL LOAD/SAVE); exclusive with `user` lines.
    public var aclFile: String = ""
    public var aclLogMaxLength: Int = 128
    /// `acl-pubsub-default`: what channels a new user may use (Redis 7.0: resetchannels).
    public var aclPubsubDefault: String = "resetchannels"
    /// `user <name> <rules...>` lines from the config, applied at start-up.
    public var userLines: [[String]] = []

    // TLS (Redis's tls-* directives; see TernServer's TLSSupport)
    public var tlsPort: Int = 0
    public var tlsCertFile: String = ""
    public var tlsKeyFile: String = ""
    public var tlsKeyFilePass: String = ""
    public var tlsClientCertFile: String = ""
    public var tlsClientKeyFile: String = ""
    public var tlsClientKeyFilePass: String = ""
    public var tlsDhParamsFile: String = ""
    public var tlsCaCertFile: String = ""
    public var tlsCaCertDir: String = ""
    /// yes: clients must present a certificate the CA signed; optional: checked when presented; no: not asked.
    public var tlsAuthClients: String = "yes"
    public var tlsReplication: Bool = false
    public var tlsCluster: Bool = false
    public var tlsProtocols: String = ""
    public var tlsCiphers: String = ""
    public var tlsCiphersuites: String = ""
    public var tlsPreferServerCiphers: Bool = false
    public var tlsSessionCaching: Bool = true
    public var tlsSessionCacheSize: Int = 20480
    public var tlsSessionCacheTimeout: Int = 300

    // Protocol limits
    public var protoMaxBulkLen: Int = 512 * 1024 * 1024
    public var clientQueryBufferLimit: Int = 1024 * 1024 * 1024
    /// Sparse HyperLogLogs longer than this many bytes are promoted to the dense encoding.
    public var hllSparseMaxBytes: Int = 3000

    // Diagnostics
    public var slowlogLogSlowerThan: Int = 10000
    public var slowlogMaxLen: Int = 128
    public var latencyMonitorThreshold: Int = 0
    /// Milliseconds a script may run before other clients get -BUSY (and SCRIPT KILL works).
    public var busyReplyThreshold: Int = 5000
    /// `latency-tracking`: per-command latency histograms (LATENCY HISTOGRAM, INFO latencystats).
    public var latencyTracking: Bool = true
    /// `latency-tracking-info-percentiles`: the percentiles INFO latencystats shows.
    public var latencyTrackingInfoPercentiles: [Double] = [50, 99, 99.9]

    // Streams: the size of a macro node (a listpack of Redis's rax), which sets approximate trimming's grain.
    public var streamNodeMaxBytes: Int = 4096
    public var streamNodeMaxEntries: Int = 100

    // Memory
    /// `maxmemory` as Redis keeps it (any unsigned 64-bit size; 0: no limit).
    public var maxMemoryBytes: UInt64 = 0
    /// The limit as the server compares it with used memory (sizes above Int.max clamp to it).
    public var maxMemory: Int {
        get { maxMemoryBytes > UInt64(Int.max) ? Int.max : Int(maxMemoryBytes) }
        set { maxMemoryBytes = UInt64(max(0, newValue)) }
    }
    public var maxMemoryPolicy: String = "noeviction"
    /// Keys sampled per eviction.
    public var maxMemorySamples: Int = 5

    /// The encoding thresholds (hash-max-listpack-*, set-max-intset-entries, zset-max-listpack-*) that
    /// OBJECT ENCODING's conversions follow.
    public var encodingLimits = ObjectEncoding.Limits()

    // Security and administration
    /// `enable-protected-configs` (as enable-debug-command and enable-module-command): no | yes | local.
    public var enableProtectedConfigs: String = "no"

    /// Values of the directives that have no effect in Tern, or accept only their default, as CONFIG GET
    /// prints them, by directive name (absent: the default). See `ConfigRegistry.redisDirectives`.
    public var values: [String: String] = [:]

    // Clients: `client-output-buffer-limit` per class (normal, replica, pubsub), `notify-keyspace-events`.
    public var clientOutputBufferLimits: [ClientOutputBufferLimit] = ClientOutputBufferLimit.defaults
    public var notifyKeyspaceEvents: KeyspaceEventFlags = []

    // Replication-facing (read by the core's call path)
    public var replicaReadOnly: Bool = true
    /// Bytes of propagated stream kept for partial resyncs (created with the first replica).
    public var replBacklogSize: Int = 1024 * 1024
    /// Seconds between the PINGs the master sends down the replication stream.
    public var replPingReplicaPeriod: Int = 10
    /// `replicaof <host> <port>` at start-up ("host port"; empty: a master).
    public var replicaOf: String = ""
    /// Password (and user) this replica authenticates to its master with.
    public var masterAuth: String = ""
    public var masterUser: String = ""
    /// `replica-serve-stale-data`: answer from possibly stale data while the link with the master is down.
    public var replicaServeStaleData: Bool = true
    /// `replica-announce-ip` / `replica-announce-port` (0: the listening port): what this replica tells its master.
    public var replicaAnnounceIP: String = ""
    public var replicaAnnouncePort: Int = 0
    public var replicaPriority: Int = 100
    public var replicaAnnounced: Bool = true
    /// `min-replicas-to-write` / `min-replicas-max-lag`: refuse writes (-NOREPLICAS) with fewer good replicas.
    public var minReplicasToWrite: Int = 0
    public var minReplicasMaxLag: Int = 10
    /// `repl-timeout` in seconds: a silent master or replica link is dropped after it.
    public var replTimeout: Int = 60
    /// `repl-backlog-ttl`: seconds a master without replicas keeps its backlog (0: forever).
    public var replBacklogTTL: Int = 3600
    /// `repl-diskless-sync` and its delay / max replicas: how full resyncs stream the snapshot.
    public var replDisklessSync: Bool = true
    public var replDisklessSyncDelay: Int = 5
    public var replDisklessSyncMaxReplicas: Int = 0
    /// `repl-diskless-load` (disabled | on-empty-db | swapdb): accepted; the replica always parses the whole
    /// payload before swapping it in.
    public var replDisklessLoad: String = "disabled"
    public var replDisableTCPNoDelay: Bool = false

    /// The config file this server was started with (CONFIG REWRITE target); empty when none.
    public var configFile: String = ""

    /// `rename-command old new` pairs from the config, in order (an empty new name disables the command).
    /// The server applies them to its command table at start-up.
    public var renamedCommands: [(from: String, to: String)] = []

    /// `loadplugin <name> [args...]` (a plugin linked into tern-server) and `loadmodule <path> [args...]`
    /// (a plugin built as a shared object) lines, in order: the words after the directive.
    public var loadPlugins: [[String]] = []
    public var loadModules: [[String]] = []
    /// `enable-module-command no|yes|local`: whether MODULE LOAD/LOADEX/UNLOAD are allowed at run time.
    public var enableModuleCommand: String = "no"
    /// `enable-debug-command no|yes|local`: whether DEBUG is allowed.
    public var enableDebugCommand: String = "no"

    /// Called after CONFIG SET changed a directive, with its canonical name, for effects outside this object
    /// (the server's cron for `hz`, its loggers for `loglevel`, eviction for `maxmemory`...). Returning an
    /// error text makes CONFIG SET fail and roll every directive of the call back.
    public var runtimeObservers: [(String) -> String?] = []

    public init() {}
}

/// One `save <seconds> <changes>` point.
public struct SavePoint: Equatable, Sendable {
    public var seconds: Int
    public var changes: Int
    public init(seconds: Int, changes: Int) { self.seconds = seconds; self.changes = changes }
}
