import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import TernCore
import TernLMDB
import TernMemory
import TernPlugins
import TernScripting
import TernReplication
import TernRDB
import TernStorage
#if canImport(Glibc)
import Glibc
#endif

/// The running server: one event loop owns the keyspace and every connection (like Redis's main thread),
/// listeners for each `bind` address and the unix socket, and the periodic cron (active expiry, timeouts).
public final class TernServerApp: Service, @unchecked Sendable {
    public let config: ServerConfig
    public let state: ServerState
    public let group: MultiThreadedEventLoopGroup
    public let loop: EventLoop
    private var channels: [Channel] = []
    /// The TCP listeners (also in `channels`), what they listen on, and how a new one is set up.
    private var tcpChannels: [Channel] = []
    private var listening: (bind: [String], port: Int) = ([], 0)
    private var tcpBootstrap: ServerBootstrap?
    private var tlsChannels: [Channel] = []
    /// The `tls-port` listener's context and the one for outgoing TLS (replication); rebuilt on CONFIG SET.
    private var serverTLS: NIOSSLContext?
    private var clientTLS: NIOSSLContext?
    private var cron: RepeatedTask?
    private let stopPromise: EventLoopPromise<Void>
    /// Group commit: every command of one event-loop pass, across all connections, runs in one batch of the
    /// backend; with a durable backend the replies of the pass are released after the batch is committed.
    let batchMode: BatchMode
    private(set) var batchOpen = false
    private var heldReplies: [ConnectionHandler] = []
    private var logger: Logger
    /// Master side of replication (REPLCONF/PSYNC/SYNC, backlog, the propagation hook).
    public let replication: ReplicationMaster
    /// Replica side of replication (REPLICAOF / SLAVEOF, the link to a master).
    public let replica: ReplicationReplica
    /// RDB snapshots: SAVE, BGSAVE, save points, the start-up load, the shutdown save.
    public let persistence: RDBPersistence
    /// Plugins: `loadplugin`/`loadmodule` at start, MODULE LOAD/UNLOAD at run time.
    public let plugins: PluginHost
    /// Lua scripting (EVAL, SCRIPT); busy scripts run in slices scheduled on the loop.
    let scripting: Scripting

    public init(config: ServerConfig, engine: (any StorageEngine)? = nil, logger: Logger) throws {
        self.config = config
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.loop = group.next()
        let storage: any StorageEngine
        if let engine {
            storage = engine
        } else {
            storage = try Self.makeEngine(config)
        }
        let table = BuiltinCommands.table()
        for (old, new) in config.renamedCommands { _ = table.rename(old, to: new) }
        self.state = ServerState(config: config, engine: storage, commands: table, logger: logger)
        // Before anything that must not be abandoned half made (the stop promise): a plugin can refuse to load.
        self.plugins = PluginHost(server: state)
        do { try plugins.loadConfigured() } catch { throw StartupError("\(error)") }
        try Self.loadUsers(state, config)
        self.stopPromise = loop.makePromise(of: Void.self)
        self.replication = ReplicationMaster(server: state)
        replication.install()
        self.replica = ReplicationReplica(server: state, master: replication)
        replica.install()
        RDBCommands.install(on: state)
        self.scripting = ScriptingCommands.install(on: state)
        self.persistence = RDBPersistence(server: state)
        persistence.install()
        // The one place the RDB aux fields read replication's id and offset.
        persistence.replicationState = { [unowned replication] in (replication.replid, replication.masterOffset) }
        persistence.replicationStreamDB = { [unowned state, unowned replication] in
            state.isReplica ? replication.replicaStreamDB : 0
        }
        self.batchMode = storage.batchMode
        // BCAST invalidations leave once per event-loop pass, after its I/O (Redis's beforeSleep).
        state.trackingAfterPass = { [loop] body in loop.execute(body) }
        state.shutdownHandler = { [weak self] request in self?.handleShutdownCommand(request) }
        config.runtimeObservers.append { [weak self] name in
            self?.configChanged(name)
        }
        config.runtimeObservers.append { [weak self] name in
            guard let self, TLSSupport.directiveNames.contains(name) else { return nil }
            do { try self.configureTLS() } catch { return "Unable to update TLS configuration. Check server logs." }
            return nil
        }
    }

    /// Redis's ACLLoadUsersAtStartup: `user` lines or an `aclfile`, never both; once plugins are loaded, so
    /// rules may name their commands.
    static func loadUsers(_ state: ServerState, _ config: ServerConfig) throws {
        if !config.aclFile.isEmpty && !config.userLines.isEmpty {
            throw StartupError("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.")
        }
        if let error = state.acl.loadConfiguredUsers(config.userLines) {
            throw StartupError(error + "\nCritical error while loading ACLs. Exiting.")
        }
        if !config.aclFile.isEmpty, let errors = state.acl.loadFile(config.aclFile) {
            throw StartupError("Aborting Redis startup because of ACL errors: \(errors)")
        }
    }

    /// Builds the TLS contexts when TLS is in use (Redis's tlsConfigure): both, so a bad certificate is found
    /// at start-up or at CONFIG SET, not at the first connection.
    private func configureTLS() throws {
        guard TLSSupport.isEnabled(config) else {
            serverTLS = nil
            clientTLS = nil
            return
        }
        do {
            let server = config.tlsPort > 0 || !config.tlsCertFile.isEmpty ? try TLSSupport.serverContext(config) : nil
            let client = config.tlsReplication ? try TLSSupport.clientContext(config) : nil
            serverTLS = server
            clientTLS = client
        } catch {
            logger.warning("\(error)")
            throw error
        }
    }

    static func makeEngine(_ config: ServerConfig) throws -> any StorageEngine {
        switch config.backend {
        case "memory":
            return MemoryEngine(databases: config.databases)
        case "lmdb":
            guard let sync = LMDBSyncMode(rawValue: config.lmdbSync) else {
                throw StartupError("Invalid lmdb-sync '\(config.lmdbSync)'")
            }
            do {
                return try LMDBEngine(path: config.lmdbPath, databases: config.databases, mapSize: config.lmdbMapSize,
                                      maxSize: config.lmdbMaxSize, sync: sync)
            } catch {
                throw StartupError("Can't open the LMDB environment at '\(config.lmdbPath)': \(error)")
            }
        default:
            throw StartupError("Unknown backend '\(config.backend)' (supported: memory, lmdb)")
        }
    }

    /// Binds every listener. Throws when a mandatory address can't be bound.
    public func start() throws {
        // A short delay, not `execute`: NIO runs tasks queued by tasks in the same pass, before any I/O, so
        // chained `execute`s would starve clients; a scheduled task waits for the next pass.
        persistence.schedule = { [loop] body in _ = loop.scheduleTask(in: .microseconds(50)) { body() } }
        // A busy script's next slice, after the other clients' I/O (they get -BUSY meanwhile).
        scripting.schedule = { [loop, weak self] body in
            // A delay (not `execute`): NIO runs the tasks already due before it looks at I/O again.
            _ = loop.scheduleTask(in: .milliseconds(1)) {
                self?.openBatchIfNeeded()
                body()
            }
        }
        // LMDB loads before serving, in one transaction; the memory backend once listening (chunked, -LOADING).
        let deferredLoad: Bool?
        do {
            do { try configureTLS() } catch {
                throw StartupError("\(error)\nFailed to configure TLS. Check logs for more info.")
            }
            deferredLoad = try prepareStartupLoad()
        } catch {
            stopPromise.fail(error)  // never run: the promise must not be left unfulfilled
            throw error
        }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: Int32(config.tcpBacklog))
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.so_keepalive), value: config.tcpKeepalive > 0 ? 1 : 0)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .childChannelOption(ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 16384, maximum: 1 << 20))
            .childChannelInitializer { [state, unowned self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ConnectionHandler(server: state, app: self, isUnixSocket: false))
                }
            }
        tcpBootstrap = bootstrap
        if config.port > 0 {
            switch ListeningSocket.openAll(config.bind, port: config.port, backlog: Int32(config.tcpBacklog)) {
            case .success(let sockets):
                for fd in sockets { tcpChannels.append(try bootstrap.withBoundSocket(fd).wait()) }
            case .failure(let failure):
                throw StartupError("\(failure)")
            }
            if tcpChannels.isEmpty { throw StartupError("Failed listening on port \(config.port) (tcp), aborting.") }
            channels = tcpChannels
        }
        listening = (config.bind, config.port)
        if config.tlsPort > 0 {
            let tlsBootstrap = ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.backlog, value: Int32(config.tcpBacklog))
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(ChannelOptions.socketOption(.so_keepalive), value: config.tcpKeepalive > 0 ? 1 : 0)
                .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
                .childChannelInitializer { [state, unowned self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        // The context current when the connection arrives (CONFIG SET replaces it for new ones).
                        guard let tls = self.serverTLS else { throw TLSSupport.ConfigError(description: "TLS is not configured") }
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                        try channel.pipeline.syncOperations.addHandler(ConnectionHandler(server: state, app: self, isUnixSocket: false))
                    }
                }
            switch ListeningSocket.openAll(config.bind, port: config.tlsPort, backlog: Int32(config.tcpBacklog)) {
            case .success(let sockets):
                for fd in sockets { tlsChannels.append(try tlsBootstrap.withBoundSocket(fd).wait()) }
            case .failure(let failure):
                throw StartupError("Could not create server TLS listening socket \(failure.address):\(failure.port): \(failure.reason)")
            }
            if tlsChannels.isEmpty { throw StartupError("Failed listening on port \(config.tlsPort) (tls), aborting.") }
        }
        if !config.unixSocket.isEmpty {
            _ = unlink(config.unixSocket)
            let unixBootstrap = ServerBootstrap(group: group)
                .childChannelInitializer { [state, unowned self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ConnectionHandler(server: state, app: self, isUnixSocket: true))
                    }
                }
            do {
                channels.append(try unixBootstrap.bind(unixDomainSocketPath: config.unixSocket).wait())
                if config.unixSocketPerm != 0 { _ = chmod(config.unixSocket, mode_t(config.unixSocketPerm)) }
            } catch {
                throw StartupError("Failed opening Unix socket: \(error)")
            }
        }
        // Full resyncs produce their snapshot in slices, one per event-loop pass.
        replication.scheduler = { [loop] afterMillis, body in
            if afterMillis <= 0 {
                loop.execute(body)
            } else {
                loop.scheduleTask(in: .milliseconds(afterMillis)) { body() }
            }
        }
        replication.afterClientIO = { [loop] body in loop.scheduleTask(in: .microseconds(50)) { body() } }
        // Over TLS a replica announces the port its master must reach it on: its tls-port (Redis's rule).
        replica.listeningPort = config.tlsReplication && config.tlsPort > 0 ? (tlsChannels.first?.localAddress?.port ?? config.tlsPort)
            : (boundPort ?? config.port)
        replica.runInBatch = { [unowned self] body in
            openBatchIfNeeded()
            body()
        }
        replica.connector = { [unowned self] host, port, generation in
            let replica = self.replica
            ClientBootstrap(group: loop)
                .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(10))
                .channelInitializer { [unowned self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        if self.config.tlsReplication {
                            guard let tls = self.clientTLS else {
                                throw TLSSupport.ConfigError(description: "tls-replication is on but TLS is not configured")
                            }
                            try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: nil))
                        }
                        try channel.pipeline.syncOperations.addHandler(MasterLinkHandler(replica: replica, generation: generation))
                    }
                }
                .connect(host: host, port: port)
                .whenFailure { error in replica.linkFailed(generation: generation, error: "\(error)") }
        }
        // `replicaof host port` in the config or on the command line: start replicating once serving.
        // A durable backend keeps the replication history with the data: a restarted master or replica
        // resumes with a partial resync.
        let parts = config.replicaOf.split(separator: " ")
        let startReplica = { [replica] (restored: Bool) in
            if parts.count == 2, let port = Int(parts[1]) {
                replica.start(host: String(parts[0]), port: port, useOwnHistory: restored)
            }
        }
        scheduleCron()
        if let replace = deferredLoad {
            // The memory backend loads once serving; its history comes from the file's aux fields, and a
            // replica connects to its master after the load.
            loop.execute { [self] in
                startChunkedLoad(replace: replace) { [self] in
                    var restored = false
                    if !replace, let history = persistence.loadedReplication {
                        restored = replication.restoreHistory(replid: history.id, offset: history.offset)
                        replication.replicaStreamDB = persistence.loadedStreamDB
                    }
                    startReplica(restored)
                }
            }
        } else {
            let restored = try loop.submit { [replication] in replication.restoreHistory() }.wait()
            loop.execute { startReplica(restored) }
        }
    }

    /// `--import file` (replaces the dataset) or `dir/dbfilename` if present. LMDB loads it here in one
    /// transaction, and only into an empty store (its own data is already durable). For the memory backend
    /// this only checks the file is there and returns `replace`: the load itself runs on the event loop
    /// (`startChunkedLoad`), where the snapshot-free, single-threaded objects it builds belong.
    private func prepareStartupLoad() throws -> Bool? {
        let path = config.importPath ?? persistence.path
        let replace = config.importPath != nil
        if state.engine.name == "memory" {
            if access(path, F_OK) == 0 { return replace }
            if replace { throw StartupError("Can't import '\(path)': \(String(cString: strerror(errno)))") }
            return nil
        }
        let reader: RDBReader
        do {
            guard let r = try persistence.openForLoading(path) else {
                if replace { throw StartupError("Can't import '\(path)': \(String(cString: strerror(ENOENT)))") }
                return nil
            }
            reader = r
        } catch let error as StartupError {
            throw error
        } catch {
            throw StartupError("\(error)")
        }
        if !replace && (0..<state.engine.databaseCount).contains(where: { state.engine.database($0).keyCount > 0 }) {
            logger.notice("Not loading \(path): the \(state.engine.name) store already holds data")
            return nil
        }
        logger.notice("Loading RDB \(path) (\(reader.totalBytes) bytes) in one transaction")
        do {
            _ = try persistence.loadAll(reader, replace: replace)
        } catch {
            throw StartupError("\(error)")
        }
        return nil
    }

    /// The memory backend's start-up load, on the event loop: a chunk of keys per pass, -LOADING meanwhile;
    /// `loaded` runs once it is done. A file that can't be loaded is fatal, as in Redis.
    private func startChunkedLoad(replace: Bool, loaded: @escaping () -> Void) {
        let path = config.importPath ?? persistence.path
        do {
            guard let reader = try persistence.openForLoading(path) else { return loaded() }
            logger.notice("Loading RDB \(path) (\(reader.totalBytes) bytes)")
            persistence.loadInChunks(reader, replace: replace) { [logger] result in
                if case .failure(let error) = result {
                    logger.warning("Fatal error loading the DB: \(error). Exiting.")
                    exit(1)
                }
                loaded()
            }
        } catch {
            logger.warning("\(error)")
            exit(1)
        }
    }

    private func scheduleCron() {
        cron?.cancel()
        let interval = TimeAmount.milliseconds(Int64(max(1, 1000 / max(1, min(config.hz, 500)))))
        cron = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] _ in
            self?.serverCron()
        }
    }

    /// CONFIG SET effects that live in the server layer (runs on the loop, inside the command).
    /// Server-side effects of CONFIG SET; an error text fails it (and rolls it back).
    private func configChanged(_ name: String) -> String? {
        switch name {
        case "hz":
            if cron != nil { scheduleCron() }
        case "loglevel":
            logger.logLevel = RedisLogHandler.level(forRedis: config.logLevel)
        case "port", "bind":
            return relisten() ? nil : (name == "port" ? "Unable to listen on this port. Check server logs."
                                                      : "Failed to bind to specified addresses.")
        default:
            break
        }
        return nil
    }

    /// CONFIG SET port / bind, as Redis's changeBindAddr / changeListenPort: the old listeners close (on the
    /// event loop, at once), the new ones open (all the mandatory ones, or the old ones open again and
    /// CONFIG SET fails); connected clients stay. Port 0 listens on no TCP address, as in Redis.
    private func relisten() -> Bool {
        guard let bootstrap = tcpBootstrap, (config.bind, config.port) != listening else { return true }
        for channel in tcpChannels { channel.close(promise: nil) }
        channels.removeAll { channel in tcpChannels.contains { $0 === channel } }
        tcpChannels.removeAll()
        let backlog = Int32(config.tcpBacklog)
        var sockets: [CInt] = []
        var succeeded = true
        if config.port > 0 {
            switch ListeningSocket.openAll(config.bind, port: config.port, backlog: backlog) {
            case .success(let opened): sockets = opened
            case .failure(let failure):
                logger.warning("\(failure)")
                succeeded = false
                if listening.port > 0, case .success(let old) = ListeningSocket.openAll(listening.bind, port: listening.port, backlog: backlog) {
                    sockets = old
                }
            }
        }
        if succeeded { listening = (config.bind, config.port) }
        for fd in sockets {
            bootstrap.withBoundSocket(fd).whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    tcpChannels.append(channel)
                    channels.insert(channel, at: 0)
                case .failure(let error):
                    logger.warning("Could not serve a listening socket: \(error)")
                }
            }
        }
        replica.listeningPort = listening.port
        return succeeded
    }

    /// The actual port of the first TCP listener (useful with `port 0` in tests).
    public var boundPort: Int? { channels.first?.localAddress?.port }

    /// Opens the pass's batch on its first command; the batch ends after the pass's I/O (a task queued now
    /// runs once every ready channel of this pass has been read).
    @inline(__always)
    func openBatchIfNeeded() {
        guard batchMode != .none, !batchOpen else { return }
        batchOpen = true
        state.engine.beginBatch()
        loop.execute { [self] in finishBatch() }
    }

    /// True when the handler's replies must wait for the batch commit (it will be told).
    /// Replies wait only while the batch holds uncommitted writes (any client's: a read may have seen them);
    /// a pass of pure reads is answered at once.
    func holdReplies(_ handler: ConnectionHandler) -> Bool {
        guard batchMode == .durable, batchOpen, state.engine.hasUncommittedWrites || !heldReplies.isEmpty else {
            return false
        }
        if !heldReplies.contains(where: { $0 === handler }) { heldReplies.append(handler) }
        return true
    }

    private func finishBatch() {
        batchOpen = false
        let waiting = heldReplies
        heldReplies.removeAll(keepingCapacity: true)
        do {
            try state.engine.endBatch()
            for handler in waiting { handler.releaseAfterCommit() }
        } catch {
            logger.warning("Failed committing a batch of writes: \(error). Its clients are disconnected unacknowledged.")
            for handler in waiting { handler.dropAfterFailedCommit() }
        }
    }

    /// Periodic work, as Redis's serverCron: expire keys, end pauses, close idle clients.
    func serverCron() {
        // DEBUG PAUSE-CRON 1: no periodic work at all until it is resumed.
        if state.cronPaused { return }
        let now = state.clock.nowMillis()
        openBatchIfNeeded()
        state.activeExpireCycle()
        state.expireBlockedClients()
        state.engine.maintenance()
        state.trackInstantaneousMetrics()
        replication.cron(nowMillis: now)
        replica.cron(nowMillis: now)
        persistence.cron(nowMillis: now)
        if state.pausedUntilMillis != 0 && state.pausedUntilMillis <= now {
            state.resumePausedClients()
        }
        if config.timeout > 0 {
            let limit = Int64(config.timeout) * 1000
            for client in state.clients.values
            where !client.flags.contains(.replica) && !client.flags.contains(.master)
                && !client.flags.contains(.pubsub) && !client.flags.contains(.blocked)
                && now - client.lastInteractionMillis > limit {
                client.transport?.close()
            }
        }
    }

    /// SHUTDOWN from a client: stop accepting, close, exit `run`.
    private func handleShutdownCommand(_ request: ShutdownRequest) -> String? {
        logger.warning("User requested shutdown...")
        if let refusal = persistence.shutdownSave(request.save, force: request.force) { return refusal }
        stop()
        return nil
    }

    /// Stops listeners and makes `run` return; `save`: the default shutdown save first (SIGTERM). As Redis,
    /// a failed save keeps the server running ("can't exit"): stopping would lose the unsaved writes.
    public func stop(save: Bool = false) {
        loop.execute { [self] in
            if save, let refusal = persistence.shutdownSave(.default, force: false) {
                logger.warning("\(refusal)")
                return
            }
            cron?.cancel()
            for channel in channels + tlsChannels { channel.close(promise: nil) }
            channels.removeAll()
            tlsChannels.removeAll()
            for client in state.clients.values { client.transport?.close() }
            if !config.unixSocket.isEmpty { _ = unlink(config.unixSocket) }
            if batchOpen { finishBatch() }
            state.engine.close()
            stopPromise.succeed(())
        }
    }

    /// Service entry point: binds, serves until a shutdown signal or SHUTDOWN, then cleans up.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await stopPromise.futureResult.get()
        } onGracefulShutdown: { [self] in
            logger.warning("Received SIGTERM scheduling shutdown...")
            stop(save: true)
        }
        logger.notice("Redis is now ready to exit, bye bye...")
        try? await group.shutdownGracefully()
    }
}

/// A reason the server can't start; printed and the process exits 1.
public struct StartupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
