import Logging
import NIOCore
import RESP
import TernStorage

/// Counters INFO stats reports.
public struct ServerStats {
    public var totalConnectionsReceived = 0
    public var totalCommandsProcessed = 0
    public var rejectedConnections = 0
    public var expiredKeys = 0
    public var evictedKeys = 0
    public var keyspaceHits = 0
    public var keyspaceMisses = 0
    public var totalNetInputBytes = 0
    public var totalNetOutputBytes = 0
    /// Socket reads and writes (INFO total_reads_processed / total_writes_processed).
    public var totalReadsProcessed = 0
    public var totalWritesProcessed = 0
    /// Active expire cycles that stopped at their time budget (expired_time_cap_reached_count).
    public var expiredTimeCapReachedCount = 0
    public var totalErrorReplies = 0
    public var unexpectedErrorReplies = 0
    public var expiredStalePercent = 0.0
    public var expireCycleCPUMillis = 0
    public var errorStats: [String: Int] = [:]
    public init() {}
}

/// Per-command counters (INFO commandstats).
public struct CommandStat: Sendable {
    public var calls = 0
    public var microseconds = 0
    public var rejectedCalls = 0
    public var failedCalls = 0
    /// Latency distribution of the calls (latency-tracking).
    public var histogram = LatencyHistogram()
}

/// Everything the command thread owns: config, storage, clients, statistics, hooks.
/// Accessed only from the server's one command thread (the NIO event loop), so it takes no locks.
public final class ServerState {
    public let config: ServerConfig
    public let engine: any StorageEngine
    public let commands: CommandTable
    public let clock: Clock
    public var propagation: PropagationHook
    public var logger: Logger

    public var stats = ServerStats()
    public let slowlog = SlowLog()
    public let latency = LatencyMonitor()
    /// Writes since the last save (rdb_changes_since_last_save).
    public var dirty = 0
    public var lastSaveUnix: Int64
    public let startMillis: Int64
    public let startMonotonic: UInt64
    /// 40 hex characters, new each start (INFO run_id).
    public let runID: String

    /// ACL users and the permission check (acl.c).
    public lazy var acl: AccessControl = {
        let acl = AccessControl(table: commands)
        acl.logMaxLength = config.aclLogMaxLength
        acl.pubsubDefaultAll = config.aclPubsubDefault == "allchannels"
        acl.setDefaultPassword(config.requirePass)
        return acl
    }()

    public private(set) var clients: [UInt64: Client] = [:]
    private var nextClientID: UInt64 = 1
    public var monitors: [Client] = []

    /// True while this server is a replica: writes from ordinary clients are refused when
    /// `replica-read-only` is on, and keys are never expired here (the master sends DELs).
    public var isReplica = false
    /// On a replica: true while the link with the master is up (`replica-serve-stale-data no` refuses
    /// commands without the stale flag otherwise).
    public var masterLinkUp = false
    /// On a master: replicas whose last ACK is at most `min-replicas-max-lag` seconds old (kept by replication).
    public var goodReplicaCount = 0

    /// True while the dataset is being loaded from an RDB file: commands without the `loading` flag get
    /// -LOADING (INFO persistence loading:1).
    public var loading = false
    /// The last background save failed: with stop-writes-on-bgsave-error and save points configured, a
    /// master refuses writes (and PING) with -MISCONF until a save succeeds.
    public var lastBgsaveFailed = false
    /// Function libraries as RDB files carry them (FUNCTION2 records): their code, given by scripting, and
    /// what replaces them after an RDB load (start-up, full sync). Without scripting: none, and dropped.
    public var functionLibraryCodes: () -> [[UInt8]] = { [] }
    public var replaceFunctionLibraries: ([[UInt8]]) -> Void = { _ in }
    /// Called by FLUSHALL once the databases are empty (the persistence layer resets its RDB file).
    public var flushAllHook: (() -> Void)?

    /// The time every expiry decision of the current command uses (one command sees one instant).
    public var commandTimeMillis: Int64 = 0
    /// Wall-clock microseconds at which the current top-level command started.
    var commandStartMicros: Int64 = 0
    /// True between `execute` reading the clock and `call` using that reading.
    var startTakenByExecute = false
    /// The last clock reading of the read batch under way (nil: read the clock afresh).
    var batchClockMicros: Int64?
    private var inRequestBatch = false

    /// A connection runs the requests of one read: each command's start may reuse the previous one's end
    /// reading. Outside such a batch every command reads the clock itself.
    public func beginRequestBatch() {
        inRequestBatch = true
        batchClockMicros = nil
    }

    public func endRequestBatch() {
        inRequestBatch = false
        batchClockMicros = nil
    }

    @inline(__always)
    func noteClockReading(_ micros: Int64) {
        if inRequestBatch { batchClockMicros = micros }
    }

    /// CLIENT PAUSE: until when, and whether only writes are paused.
    public var pausedUntilMillis: Int64 = 0
    public var pauseWritesOnly = false
    /// While clients are paused (ALL or WRITE) keys are not expired: reads see them as gone, and the DELs
    /// follow when the pause ends.
    public var expiryPaused: Bool { pausedUntilMillis > commandTimeMillis || writesPausedForFailover }
    /// FAILOVER holds writes until the switch is done (Redis's PAUSE_DURING_FAILOVER, apart from CLIENT PAUSE:
    /// CLIENT UNPAUSE does not end it).
    public var writesPausedForFailover = false

    /// DEBUG SET-ACTIVE-EXPIRE: when false the active expire cycle does nothing (lazy expiry still works).
    public var activeExpireEnabled = true
    /// DEBUG PAUSE-CRON: while true the server cron does nothing.
    public var cronPaused = false
    /// The DEBUG knobs that only record a value here (QUICKLIST-PACKED-THRESHOLD, REPLYBUFFER ...).
    public var debugSettings = DebugSettings()
    /// Set by the persistence layer: DEBUG RELOAD. Throws the error to reply with.
    public var debugReloadHandler: ((DebugReloadOptions) throws -> Void)?
    /// Set by replication: DEBUG CHANGE-REPL-ID (new replication id, no secondary id).
    public var changeReplicationIDHandler: (() -> Void)?
    /// Set by the RDB layer: the bytes a value takes in an RDB file (DEBUG OBJECT serializedlength).
    public var serializedLength: ((StoredValue) -> Int)?
    /// INFO's sampled metrics (instantaneous_ops_per_sec, memory peak, replication id).
    public var metrics = ServerMetrics()

    /// Set by the server layer: stop the process (SHUTDOWN). Returns an error text when refused.
    public var shutdownHandler: ((ShutdownRequest) -> String?)?
    /// Set by the server layer: extra INFO sections (e.g. replication), by lowercase section name.
    public var infoProviders: [String: () -> [(String, String)]] = [:]

    /// Observers of key writes (WATCH, keyspace events) and of whole-database flushes.
    public var keyObservers: [(Int, Bytes) -> Void] = []
    public var flushObservers: [(Int) -> Void] = []
    /// Observers of keyspace events whatever notify-keyspace-events says (plugins), and the union of the
    /// classes they want: one test on the notification path when none is installed.
    public var keyspaceEventObservers: [(KeyspaceEventFlags, String, Bytes, Int) -> Void] = []
    public var observedKeyspaceEvents: KeyspaceEventFlags = []
    /// The plugin host behind MODULE LIST/LOAD/UNLOAD (nil: none, e.g. in unit tests).
    public var modules: ModuleManager?

    /// Pub/sub registry (PubSub.swift) and WATCH table (TransactionCommands.swift), created on first use;
    /// each registers its own clean-up hooks.
    public lazy var pubsub = PubSub(server: self)
    lazy var watches = WatchTable(server: self)
    /// Client-side caching (Tracking.swift): nil until a client turns tracking on.
    public internal(set) var tracking: Tracking?
    /// Set by the server: runs its argument once the current event-loop pass is done (BCAST invalidations).
    public var trackingAfterPass: ((@escaping () -> Void) -> Void)? {
        didSet { tracking?.afterPass = trackingAfterPass }
    }
    /// The client whose command is running (nil outside commands, e.g. active expiry): pub/sub messages
    /// for it go to its reply stream, in order with its replies.
    public internal(set) var currentClient: Client?

    /// Set while a script ran past `busy-reply-threshold` and is suspended between its time slices: the -BUSY
    /// error other clients get for every command without the allow-busy flag (nothing else touches the data).
    public var busyScriptRefusal: CommandError?
    public var scriptBusy: Bool { busyScriptRefusal != nil }

    /// Memory was above `maxmemory` (after eviction) when the current top-level command was admitted
    /// (Redis's pre_command_oom_state: a script's first deny-oom write is refused then).
    public internal(set) var preCommandOOM = false

    // The execution unit under way.
    var pendingEffects: [Effect] = []
    var unitDepth = 0

    public init(config: ServerConfig, engine: any StorageEngine, commands: CommandTable,
                clock: Clock = SystemClock(), propagation: PropagationHook = NoPropagation(),
                logger: Logger = Logger(label: "tern")) {
        self.config = config
        self.engine = engine
        self.commands = commands
        self.clock = clock
        self.propagation = propagation
        self.logger = logger
        self.startMillis = clock.nowMillis()
        self.startMonotonic = clock.monotonicNanos()
        self.lastSaveUnix = clock.nowMillis() / 1000
        self.runID = ServerMetrics.randomHexID()
        self.commandTimeMillis = clock.nowMillis()
        databaseCache = (0..<engine.databaseCount).map { engine.database($0) }
        let registry = blocking
        keyObservers.append { db, key in registry.keyTouched(db: db, key: key) }
        clientRemovalHooks.append { client in _ = registry.remove(client.id) }
    }

    // MARK: clients

    public func makeClient(address: String, localAddress: String, transport: ClientTransport?) -> Client {
        let client = Client(id: nextClientID, address: address, localAddress: localAddress,
                            authenticated: acl.defaultUser.noPass && acl.defaultUser.enabled, now: clock.nowMillis())
        client.aclUser = acl.defaultUser
        nextClientID += 1
        client.transport = transport
        clients[client.id] = client
        stats.totalConnectionsReceived += 1
        return client
    }

    public func removeClient(_ client: Client) {
        clients.removeValue(forKey: client.id)
        if client.flags.contains(.monitor) {
            monitors.removeAll { $0 === client }
        }
        clientRemovalHooks.forEach { $0(client) }
    }

    /// Called when a client's transaction ends (EXEC, DISCARD): WATCH state clears here.
    public var transactionEndHooks: [(Client) -> Void] = []

    /// Called by RESET for each client (pub/sub and tracking state clear here).
    public var resetHooks: [(Client) -> Void] = []

    /// Called when a client goes away (pub/sub, blocking and replication state clean up here).
    public var clientRemovalHooks: [(Client) -> Void] = []

    public var connectedClientCount: Int {
        clients.values.reduce(0) { $0 + ($1.flags.contains(.replica) ? 0 : 1) }
    }

    /// `engine.database(i)` for each index, refreshed when SWAPDB/FLUSH report a database changed.
    var databaseCache: [any StorageDatabase] = []

    /// Clients parked in blocking commands.
    public let blocking = BlockingRegistry()
    /// True while a command runs inside another (EXEC): blocking commands don't block there.
    public internal(set) var inNestedCall = false

    /// Clients holding commands back because of CLIENT PAUSE.
    public var pausedClients: [Client] = []

    /// Ends a pause (CLIENT UNPAUSE, or its time is up): held commands run again.
    public func resumePausedClients() {
        pausedUntilMillis = 0
        releasePausedClients()
    }

    /// Lets held clients try their commands again (a pause that is still on holds them anew).
    public func releasePausedClients() {
        let waiting = pausedClients
        pausedClients.removeAll()
        for client in waiting { client.transport?.setReadingEnabled(true) }
    }

    // MARK: effects

    /// Records one effect of the unit under way. Outside any command (active expiry) it is a unit of its own.
    public func propagate(_ effect: Effect) {
        guard propagation.wantsEffects else { return }
        pendingEffects.append(effect)
        if unitDepth == 0 { flushEffects() }
    }

    /// Propagates one effect as a unit of its own right away, even in the middle of another unit
    /// (expired keys, as Redis's propagateNow).
    public func propagateNow(_ effect: Effect) {
        guard propagation.wantsEffects else { return }
        propagation.propagate([effect])
    }

    /// Hands the finished unit to the hook, wrapped in MULTI/EXEC when it holds several effects.
    func flushEffects() {
        guard !pendingEffects.isEmpty else { return }
        var unit = pendingEffects
        pendingEffects.removeAll(keepingCapacity: true)
        if unit.count > 1 {
            let db = unit[0].db
            unit.insert(Effect(db: db, ["MULTI"]), at: 0)
            unit.append(Effect(db: db, ["EXEC"]))
        }
        propagation.propagate(unit)
    }

    /// Starts an execution unit; nested units (commands inside EXEC) join the outer one.
    public func beginUnit() { unitDepth += 1 }

    public func endUnit() {
        unitDepth -= 1
        if unitDepth == 0 { flushEffects() }
    }

    // MARK: time

    /// Seconds since start (INFO uptime_in_seconds).
    public var uptimeSeconds: Int { Int((clock.monotonicNanos() - startMonotonic) / 1_000_000_000) }

    /// A coarse seconds clock for access times (Redis's LRU clock).
    public var lruClock: UInt32 { UInt32(truncatingIfNeeded: clock.nowMillis() / 1000) }
}

/// SHUTDOWN's options.
public struct ShutdownRequest: Sendable {
    public enum SaveMode: Sendable { case `default`, save, noSave }
    public var save: SaveMode = .default
    public var now = false
    public var force = false
    public init() {}
}
