import Logging
import NIOCore
import RESP
import TernCore
import TernStorage

/// One replica attached to this master (an ordinary client connection flagged `.replica`).
public final class ReplicaLink {
    public enum State: String { case waitBgsave = "wait_bgsave", sendBulk = "send_bulk", online }
    public let client: Client
    public var state: State = .online
    public var listeningPort = 0
    public var announcedIP: String?
    public var capaEOF = false
    public var capaPSYNC2 = false
    public var ackOffset: Int64 = 0
    public var ackTimeMillis: Int64 = 0
    /// RDB bytes handed to the transport for the full sync (0: partial resync or the transfer is done), and
    /// stream bytes queued behind them: the output-buffer limit counts only the stream.
    var rdbBytes = 0
    var streamBytesSinceSync = 0
    /// Came with SYNC (no +FULLRESYNC line, no EOF framing).
    var legacySync = false
    /// After a diskless payload the stream waits for the replica's first REPLCONF ACK (as Redis 7 does): a
    /// replica finds the end mark only when it ends what it read, so nothing may follow it at once.
    var heldStream: ByteBuffer?
    /// Stream bytes of the current event-loop pass, written once after it.
    var pendingOut = ByteBufferAllocator().buffer(capacity: 0)
    var softLimitSince: Int64 = 0

    init(client: Client) { self.client = client }

    /// The address replicas are listed with (INFO slaveN ip=).
    public var ip: String {
        if let announcedIP { return announcedIP }
        let address = client.address
        if let colon = address.lastIndex(of: ":") { return String(address[..<colon]) }
        return address
    }
}

/// Replica side state a connection builds up before PSYNC (REPLCONF listening-port / capa).
final class PendingReplicaInfo {
    var listeningPort = 0
    var announcedIP: String?
    var capaEOF = false
    var capaPSYNC2 = false
}

/// The master side of Redis replication: implements the core's `PropagationHook` (every effect unit is
/// serialized as RESP, with SELECT when the database changes, into the backlog and to every online replica),
/// and the REPLCONF / PSYNC / SYNC commands a stock Redis replica sends.
public final class ReplicationMaster: PropagationHook {
    public unowned let server: ServerState
    /// The node's replication history (Redis's server.replid / replid2 / master_repl_offset /
    /// second_repl_offset). On a replica it is its master's: the same id and offsets, advanced by the bytes of
    /// the stream it applied, so its own replicas (chained) and, after a promotion, anyone who followed the
    /// old master can continue with a partial resync.
    public private(set) var replid: String
    public private(set) var replid2 = ReplicationMaster.noReplid
    /// The first offset that belongs to `replid` rather than `replid2` (-1: no second id).
    public private(set) var secondReplOffset: Int64 = -1
    public private(set) var masterOffset: Int64 = 0
    public private(set) var backlog: ReplicationBacklog?
    /// `repl-backlog-size`, read when the backlog is created (with the first replica).
    public var backlogSize: Int { server.config.replBacklogSize }
    public internal(set) var replicas: [ReplicaLink] = []
    public private(set) var syncFull = 0
    public private(set) var syncPartialOK = 0
    public private(set) var syncPartialErr = 0
    /// The database the stream last selected (-1: the next unit starts with SELECT).
    var streamDB = -1
    private var pending: [ObjectIdentifier: PendingReplicaInfo] = [:]
    private var lastPingMillis: Int64 = 0
    /// `repl-ping-replica-period`.
    public var pingPeriodSeconds: Int { server.config.replPingReplicaPeriod }
    /// master_repl_offset right after each client's last write that was propagated (Redis's c->woff).
    private var writeOffsets: [UInt64: Int64] = [:]
    /// Clients parked in WAIT, in arrival order.
    private var waiters: [Waiter] = []
    private var getAckScheduled = false

    final class Waiter {
        let client: Client
        let spec: CommandSpec?
        let offset: Int64
        let numReplicas: Int
        init(client: Client, spec: CommandSpec?, offset: Int64, numReplicas: Int) {
            self.client = client
            self.spec = spec
            self.offset = offset
            self.numReplicas = numReplicas
        }
    }

    public init(server: ServerState) {
        self.server = server
        self.replid = server.metrics.replicationID
    }


    // MARK: the history (PSYNC2)

    /// The database the applied stream last selected, kept with the history so a replica that restarts (or
    /// resumes) applies the rest of the stream to the right database. Set by the replica side.
    public var replicaStreamDB = 0

    /// Key of the persisted history in the backend's server metadata.
    static let historyKey = "replication"

    /// Records the history with the data (durable backends: in the transaction of the writes it covers), so a
    /// restarted master or replica resumes with a partial resync.
    func persistHistory() {
        guard server.engine.batchMode != .none else { return }
        server.engine.setServerMetadata(Self.historyKey, historyRecord)
    }

    /// Built when the backend commits, so a write costs no formatting (see `persistHistory`).
    private lazy var historyRecord: () -> [UInt8] = { [unowned self] in
        Array("\(replid) \(masterOffset) \(replid2) \(secondReplOffset) \(replicaStreamDB)".utf8)
    }

    static let noReplid = String(repeating: "0", count: 40)

    /// Starts a history at `offset` (an empty backlog there, so a replica asking for offset+1 continues).
    private func setHistory(replid id: String, offset: Int64, replid2 id2: String = noReplid, secondOffset: Int64 = -1) {
        replid = id
        masterOffset = offset
        replid2 = id2
        secondReplOffset = secondOffset
        server.metrics.replicationID = id
        backlog = ReplicationBacklog(size: backlogSize, masterOffset: offset)
    }

    /// Reloads the history a durable backend kept (call at start-up, before serving). Returns true when one
    /// was found: replicas that followed this node up to that offset can then continue with +CONTINUE.
    @discardableResult
    public func restoreHistory() -> Bool {
        guard let bytes = server.engine.serverMetadata(Self.historyKey) else { return false }
        let parts = String(decoding: bytes, as: UTF8.self).split(separator: " ")
        guard parts.count == 5, parts[0].count == 40, let offset = Int64(parts[1]), offset >= 0,
              parts[2].count == 40, let second = Int64(parts[3]), let db = Int(parts[4]),
              db >= 0, db < server.engine.databaseCount else {
            server.logger.warning("Ignoring an unreadable replication history in the data store")
            return false
        }
        setHistory(replid: String(parts[0]), offset: offset, replid2: String(parts[2]), secondOffset: second)
        replicaStreamDB = db
        server.logger.notice("Restored the replication history: replid \(replid), offset \(masterOffset)")
        return true
    }

    /// The history found in a loaded RDB's aux fields (repl-id, repl-offset): a restarted memory-backend master
    /// or replica continues it, as Redis 7.0 does after loading its dump.
    @discardableResult
    public func restoreHistory(replid id: String, offset: Int64) -> Bool {
        guard id.count == 40, id != Self.noReplid, offset >= 0 else { return false }
        setHistory(replid: id, offset: offset)
        server.logger.notice("Restored the replication history from the RDB file: replid \(replid), offset \(offset)")
        return true
    }

    /// REPLICAOF NO ONE (Redis's shiftReplicationId): a new id for the history that starts now; the old one
    /// stays valid, as replid2, up to the current offset.
    public func shiftReplicationId() {
        replid2 = replid
        secondReplOffset = masterOffset + 1
        replid = ServerMetrics.randomHexID()
        server.metrics.replicationID = replid
        streamDB = -1
        if backlog == nil { backlog = ReplicationBacklog(size: backlogSize, masterOffset: masterOffset) }
        server.logger.notice("Setting secondary replication ID to \(replid2), valid up to offset: \(secondReplOffset). New replication ID is \(replid)")
        persistHistory()
    }

    /// DEBUG CHANGE-REPL-ID (Redis's changeReplicationId + clearReplicationId2): a new id and no secondary
    /// one, so no replica can continue the old history.
    public func changeReplicationID() {
        replid = ServerMetrics.randomHexID()
        replid2 = Self.noReplid
        secondReplOffset = -1
        server.metrics.replicationID = replid
        persistHistory()
    }

    /// A replica's full resync finished: the history is the master's from `offset` on, in a fresh backlog.
    public func adoptMasterHistory(replid newID: String, offset: Int64) {
        setHistory(replid: newID, offset: offset)
        persistHistory()
    }

    /// A replica got `+CONTINUE <newid>` from a master whose id changed (it was promoted): the same history
    /// goes on under the new id, the old one valid up to here.
    public func continueHistory(replid newID: String) {
        guard newID != replid else { return }
        replid2 = replid
        secondReplOffset = masterOffset + 1
        replid = newID
        server.metrics.replicationID = replid
        server.logger.notice("Master replication ID changed to \(newID)")
        persistHistory()
    }

    /// Drops the backlog (a replica starting a full resync: its own replicas may not continue from it).
    public func discardBacklog() {
        backlog = nil
    }

    /// Closes every replica connection (they reconnect and PSYNC, e.g. to learn a new replication id).
    public func disconnectReplicas() {
        for link in replicas {
            link.client.closing = true
            link.client.transport?.close()
        }
    }

    /// The exact bytes a replica applied from its master, passed on to its own replicas (chained replication)
    /// and into its backlog, so offsets stay the master's.
    public func feedProxied(_ buffer: ByteBuffer) {
        if backlog == nil { backlog = ReplicationBacklog(size: backlogSize, masterOffset: masterOffset) }
        feed(buffer)
        persistHistory()
    }

    /// Installs the hook (alongside any existing one), the commands and the INFO replication provider.
    public func install() {
        if server.propagation is NoPropagation {
            server.propagation = self
        } else {
            server.propagation = PropagationFanout([server.propagation, self])
        }
        for spec in commandSpecs { server.commands.register(spec) }
        server.clientRemovalHooks.append { [unowned self] client in self.clientGone(client) }
        server.infoProviders["replication"] = { [unowned self] in self.infoFields() }
        server.changeReplicationIDHandler = { [unowned self] in self.changeReplicationID() }
        server.infoProviders["memory"] = { [unowned self] in
            // The backlog's ring is allocated whole; replicas' buffers are their connections' output buffers.
            let backlogBytes = self.backlog?.size ?? 0
            let replicaBytes = self.replicas.reduce(0) { $0 + $1.client.output.capacity }
            return [("mem_replication_backlog", String(backlogBytes)), ("mem_total_replication_buffers",
                     String(backlogBytes + replicaBytes)), ("mem_clients_slaves", String(replicaBytes))]
        }
        server.infoProviders["stats"] = { [unowned self] in
            [("sync_full", String(self.syncFull)), ("sync_partial_ok", String(self.syncPartialOK)),
             ("sync_partial_err", String(self.syncPartialErr))]
        }
    }

    // MARK: INFO replication, ROLE

    /// Seconds since the replica's last REPLCONF ACK.
    func lag(_ link: ReplicaLink) -> Int64 {
        max(0, ReplicationReplica.secondsBetween(link.ackTimeMillis, server.clock.nowMillis()))
    }

    public func infoFields() -> [(String, String)] {
        var fields: [(String, String)] = [("role", "master"), ("connected_slaves", String(replicas.count))]
        if server.config.minReplicasToWrite > 0 && server.config.minReplicasMaxLag > 0 {
            fields.append(("min_slaves_good_slaves", String(server.goodReplicaCount)))
        }
        for (i, link) in replicas.enumerated() {
            fields.append(("slave\(i)", "ip=\(link.ip),port=\(link.listeningPort),state=\(link.state.rawValue),offset=\(link.ackOffset),lag=\(lag(link))"))
        }
        fields += [
            ("master_failover_state", failoverState().rawValue),
            ("master_replid", replid),
            ("master_replid2", replid2),
            ("master_repl_offset", String(masterOffset)),
            ("second_repl_offset", String(secondReplOffset)),
            ("repl_backlog_active", backlog == nil ? "0" : "1"),
            ("repl_backlog_size", String(backlog?.size ?? backlogSize)),
            ("repl_backlog_first_byte_offset", String(backlog.map { $0.histlen == 0 ? $0.masterOffset + 1 : $0.firstByteOffset } ?? 0)),
            ("repl_backlog_histlen", String(backlog?.histlen ?? 0)),
        ]
        return fields
    }

    /// ROLE on a master: ["master", offset, [[ip, port, offset], ...]].
    func role(_ ctx: CommandContext) {
        ctx.arrayHeader(3)
        ctx.bulk("master")
        ctx.integer(Int(masterOffset))
        ctx.arrayHeader(replicas.count)
        for link in replicas {
            ctx.arrayHeader(3)
            ctx.bulk(link.ip)
            ctx.bulk(String(link.listeningPort))
            ctx.bulk(String(link.ackOffset))
        }
    }

    // MARK: PropagationHook

    /// Effects are built only once a backlog exists (the first replica created it), as Redis does. A replica
    /// passes on its master's stream instead (`feedProxied`): its own writes never reach its replicas.
    public var wantsEffects: Bool { backlog != nil && !server.isReplica }

    public func propagate(_ unit: [Effect]) {
        guard backlog != nil, !unit.isEmpty, !server.isReplica else { return }
        var out = ByteBufferAllocator().buffer(capacity: 64)
        for effect in unit {
            if effect.db != streamDB {
                writeCommand(&out, [ByteBuffer(string: "SELECT"), ByteBuffer(string: String(effect.db))])
                streamDB = effect.db
            }
            writeCommand(&out, effect.arguments)
        }
        feed(out)
        persistHistory()
        if let client = server.currentClient { writeOffsets[client.id] = masterOffset }
    }

    func writeCommand(_ out: inout ByteBuffer, _ arguments: [ByteBuffer]) {
        out.writeRESPArrayHeader(arguments.count)
        for argument in arguments { out.writeRESPBulk(argument) }
    }

    /// Appends stream bytes to the backlog and sends them to every online replica (replicas still receiving
    /// a snapshot get them after it).
    func feed(_ buffer: ByteBuffer) {
        guard backlog != nil, buffer.readableBytes > 0 else { return }
        buffer.withUnsafeReadableBytes { backlog!.append($0) }
        masterOffset = backlog!.masterOffset
        if let job = syncJob { jobReceivedStream(job, buffer) }
        var dropped: [ReplicaLink] = []
        for replica in replicas where replica.state == .online {
            guard let transport = replica.client.transport else { continue }
            if replica.heldStream != nil {
                replica.heldStream!.writeImmutableBuffer(buffer)
                continue
            }
            if scheduler != nil {
                // Collected for the pass and written once after it (one write per replica per event-loop
                // pass, as Redis writes its replicas' buffers before it sleeps), not one syscall per command.
                replica.pendingOut.writeImmutableBuffer(buffer)
                scheduleReplicaFlush()
                continue
            }
            transport.send(buffer)
            if exceedsOutputLimit(replica, transport: transport, added: buffer.readableBytes) { dropped.append(replica) }
        }
        dropForOutputLimit(dropped)
    }

    private func scheduleReplicaFlush() {
        guard !replicaFlushScheduled, let scheduler else { return }
        replicaFlushScheduled = true
        scheduler(0) { [weak self] in self?.flushReplicaOutput() }
    }

    /// Writes what each online replica collected during the pass.
    func flushReplicaOutput() {
        replicaFlushScheduled = false
        var dropped: [ReplicaLink] = []
        for replica in replicas where replica.pendingOut.readableBytes > 0 {
            let out = replica.pendingOut
            replica.pendingOut = ByteBufferAllocator().buffer(capacity: 0)
            guard let transport = replica.client.transport else { continue }
            transport.send(out)
            if exceedsOutputLimit(replica, transport: transport, added: out.readableBytes) { dropped.append(replica) }
        }
        dropForOutputLimit(dropped)
    }

    private func dropForOutputLimit(_ dropped: [ReplicaLink]) {
        for link in dropped {
            server.logger.warning("Client id=\(link.client.id) addr=\(link.client.address) name=\(link.client.name) scheduled to be closed ASAP for overcoming of output buffer limits.")
            replicas.removeAll { $0 === link }
            link.client.closing = true
            link.client.transport?.close()
        }
    }

    /// Redis's checkClientOutputBufferLimits for the replica class (`client-output-buffer-limit replica`):
    /// over the hard limit, or over the soft limit for longer than its seconds.
    func exceedsOutputLimit(_ link: ReplicaLink, transport: ClientTransport, added: Int) -> Bool {
        let limit = server.config.clientOutputBufferLimits[ClientOutputBufferLimit.replica]
        guard limit.hardBytes > 0 || limit.softBytes > 0 else { return false }
        var pending = transport.pendingOutputBytes
        if link.rdbBytes > 0 {
            link.streamBytesSinceSync += added
            if pending <= link.streamBytesSinceSync {
                link.rdbBytes = 0  // the snapshot has left
            } else {
                pending = max(0, pending - link.rdbBytes)
            }
        }
        let used = UInt64(pending)
        if limit.hardBytes > 0 && used >= limit.hardBytes { return true }
        if limit.softBytes > 0 && used >= limit.softBytes {
            let now = server.clock.nowMillis()
            if link.softLimitSince == 0 {
                link.softLimitSince = now
            } else if (now - link.softLimitSince) / 1000 > Int64(limit.softSeconds) {
                return true
            }
        } else {
            link.softLimitSince = 0
        }
        return false
    }

    /// Periodic work (call about once a second): PING the replicas every `repl-ping-replica-period`.
    /// When the last replica left (repl-backlog-ttl counts from there).
    private var noReplicasSinceMillis: Int64 = 0
    /// The snapshot being produced for full resyncs, and replicas waiting for the next one.
    var syncJob: SyncJob?
    var waitingForSync: [ReplicaLink] = []
    var syncJobScheduled = false
    var replicaFlushScheduled = false
    /// Runs work later on the command thread (set by the server: the event loop). nil: full resyncs are
    /// produced at once (unit tests).
    public var scheduler: ((_ afterMillis: Int64, _ body: @escaping () -> Void) -> Void)?
    /// Runs work after the clients' pending I/O (NIO runs tasks queued by tasks before any I/O, so a job that
    /// re-queued itself with `execute` would hold the clients off until it ends). nil: `scheduler(0)`.
    public var afterClientIO: ((@escaping () -> Void) -> Void)?
    /// RDB bytes produced per event-loop pass during a full resync.
    public var syncSliceBytes = 64 * 1024
    private var lastNewlineMillis: Int64 = 0

    public func cron(nowMillis: Int64) {
        updateGoodReplicas(nowMillis: nowMillis)
        // Replicas that stopped acknowledging for repl-timeout are dropped (Redis: "Disconnecting timedout replica").
        let timeout = Int64(server.config.replTimeout) * 1000
        for link in replicas where link.state == .online && nowMillis - link.ackTimeMillis > timeout {
            server.logger.warning("Disconnecting timedout replica (streaming sync): \(link.ip):\(link.listeningPort)")
            link.client.closing = true
            link.client.transport?.close()
        }
        // A master alone for repl-backlog-ttl forgets its history (Redis frees the backlog and changes its id).
        if replicas.isEmpty {
            if noReplicasSinceMillis == 0 { noReplicasSinceMillis = nowMillis }
            let ttl = Int64(server.config.replBacklogTTL) * 1000
            if ttl > 0, backlog != nil, !server.isReplica, nowMillis - noReplicasSinceMillis > ttl {
                server.logger.notice("Replication backlog freed after \(server.config.replBacklogTTL) seconds without connected replicas.")
                setHistory(replid: ServerMetrics.randomHexID(), offset: masterOffset)
                backlog = nil
                persistHistory()
            }
        } else {
            noReplicasSinceMillis = 0
        }
        // Replicas waiting for their snapshot get a newline each second, as Redis sends, so they don't time out.
        if nowMillis - lastNewlineMillis >= 1000 {
            lastNewlineMillis = nowMillis
            keepWaitingReplicasAlive()
        }
        // A replica's replicas get its master's PINGs in the proxied stream.
        // No PINGs while a failover waits for its target (they would move the offset it must reach).
        guard !replicas.isEmpty, backlog != nil, !server.isReplica, !server.writesPausedForFailover else { return }
        if nowMillis - lastPingMillis >= Int64(pingPeriodSeconds) * 1000 {
            lastPingMillis = nowMillis
            var out = ByteBufferAllocator().buffer(capacity: 16)
            writeCommand(&out, [ByteBuffer(string: "PING")])
            feed(out)
            persistHistory()
        }
    }

    private func clientGone(_ client: Client) {
        pending.removeValue(forKey: ObjectIdentifier(client))
        writeOffsets.removeValue(forKey: client.id)
        waiters.removeAll { $0.client === client }
        if let i = replicas.firstIndex(where: { $0.client === client }) {
            let link = replicas.remove(at: i)
            syncLinkGone(link)
            server.logger.notice("Connection with replica \(link.ip):\(link.listeningPort) lost.")
            updateGoodReplicas(nowMillis: server.clock.nowMillis())
        }
    }

    public func link(for client: Client) -> ReplicaLink? { replicas.first { $0.client === client } }

    // MARK: commands

    var commandSpecs: [CommandSpec] {
        [
            CommandSpec("replconf", arity: -1, flags: [.admin, .noscript, .loading, .stale, .allowBusy],
                        group: "server", summary: "An internal command for configuring the replication stream",
                        since: "3.0.0", acl: ["dangerous"]) { [unowned self] ctx in try self.replconf(ctx) },
            CommandSpec("psync", arity: -3, flags: [.admin, .noscript, .noAsyncLoading, .noMulti], group: "server",
                        summary: "Internal command used for replication", since: "2.8.0",
                        acl: ["dangerous"], arguments: ["replicationid", "offset"]) { [unowned self] ctx in
                try self.psync(ctx, legacy: false)
            },
            CommandSpec("role", arity: 1, flags: [.noscript, .loading, .stale, .fast], group: "server",
                        summary: "Return the role of the instance in the context of replication", since: "2.8.12",
                        acl: ["admin", "dangerous"]) { [unowned self] ctx in self.role(ctx) },
            CommandSpec("wait", arity: 3, flags: [.noscript], group: "generic",
                        summary: "Wait for the synchronous replication of all the write commands sent in the context of the current connection",
                        since: "3.0.0", acl: ["connection"], arguments: ["numreplicas", "timeout"]) { [unowned self] ctx in
                try self.wait(ctx)
            },
            CommandSpec("sync", arity: 1, flags: [.admin, .noscript, .noAsyncLoading, .noMulti], group: "server",
                        summary: "Internal command used for replication", acl: ["dangerous"]) { [unowned self] ctx in
                try self.psync(ctx, legacy: true)
            },
        ]
    }

    func replconf(_ ctx: CommandContext) throws {
        if ctx.argc % 2 == 0 { throw CommandError.syntax }
        let client = ctx.client
        let info = pending[ObjectIdentifier(client)] ?? PendingReplicaInfo()
        var j = 1
        while j < ctx.argc {
            let option = ctx.string(j).lowercased()
            switch option {
            case "listening-port":
                let port = try ctx.int(j + 1)
                info.listeningPort = port
                link(for: client)?.listeningPort = port
            case "ip-address":
                info.announcedIP = ctx.string(j + 1)
                link(for: client)?.announcedIP = info.announcedIP
            case "capa":
                let capa = ctx.string(j + 1).lowercased()
                if capa == "eof" { info.capaEOF = true }
                if capa == "psync2" { info.capaPSYNC2 = true }
            case "ack":
                // From a replica: its processed offset. Never replied to.
                guard let link = link(for: client) else { return }
                if let offset = Int64(ctx.string(j + 1)), offset > link.ackOffset { link.ackOffset = offset }
                if let held = link.heldStream {
                    link.heldStream = nil
                    link.client.transport?.send(held)
                }
                link.ackTimeMillis = ctx.server.clock.nowMillis()
                updateGoodReplicas(nowMillis: link.ackTimeMillis)
                serveWaiters()
                return
            case "getack":
                // Only a replica answers GETACK (to its master); a master ignores it without a reply.
                return
            case "rdb-only", "rdb-filter-only":
                // Accepted as Redis 7.0 does for its own tools (value 0/1).
                break
            default:
                throw CommandError.err("Unrecognized REPLCONF option: \(ctx.string(j))")
            }
            j += 2
        }
        pending[ObjectIdentifier(client)] = info
        ctx.ok()
    }

    // MARK: WAIT

    /// Online replicas that acknowledged at least `offset`.
    public func acknowledged(_ offset: Int64) -> Int {
        replicas.reduce(0) { $0 + ($1.state == .online && $1.ackOffset >= offset ? 1 : 0) }
    }

    /// Redis's refreshGoodSlavesCount: online replicas whose last ACK is at most min-replicas-max-lag old.
    func updateGoodReplicas(nowMillis: Int64) {
        let maxLag = Int64(server.config.minReplicasMaxLag)
        server.goodReplicaCount = replicas.reduce(0) {
            $0 + ($1.state == .online && (nowMillis - $1.ackTimeMillis) / 1000 <= maxLag ? 1 : 0)
        }
    }

    func wait(_ ctx: CommandContext) throws {
        if server.isReplica {
            throw CommandError.err("WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.")
        }
        let numReplicas = try ctx.int(1)
        guard let timeout = Int64(ctx.string(2)) else {
            throw CommandError.err("timeout is not an integer or out of range")
        }
        if timeout < 0 { throw CommandError.err("timeout is negative") }
        let client = ctx.client
        let offset = writeOffsets[client.id] ?? 0
        let acked = acknowledged(offset)
        if acked >= numReplicas || client.flags.contains(.multi) || ctx.server.inNestedCall {
            ctx.integer(acked)
            return
        }
        let waiter = Waiter(client: client, spec: ctx.server.commands.commands["wait"], offset: offset, numReplicas: numReplicas)
        waiters.append(waiter)
        client.flags.insert(.blocked)
        if timeout > 0 {
            client.transport?.scheduleTimer(afterMillis: timeout) { [weak self, weak waiter] in
                guard let self, let waiter else { return }
                self.finish(waiter)
            }
        }
        requestAcks()
    }

    /// Asks every replica for its offset (REPLCONF GETACK * in the stream), once per event-loop pass.
    private func requestAcks() {
        guard !getAckScheduled, let transport = waiters.last?.client.transport else { return }
        getAckScheduled = true
        transport.scheduleTimer(afterMillis: 0) { [weak self] in self?.sendGetAck() }
    }

    func sendGetAck() {
        getAckScheduled = false
        guard backlog != nil, !replicas.isEmpty else { return }
        var out = ByteBufferAllocator().buffer(capacity: 48)
        writeCommand(&out, ["REPLCONF", "GETACK", "*"].map { ByteBuffer(string: $0) })
        feed(out)
    }

    /// Unparks the WAIT clients whose target is reached.
    func serveWaiters() {
        guard !waiters.isEmpty else { return }
        for waiter in waiters where acknowledged(waiter.offset) >= waiter.numReplicas {
            finish(waiter)
        }
    }

    /// Replies with the number of replicas that acknowledged the client's writes and resumes its input.
    private func finish(_ waiter: Waiter) {
        guard let i = waiters.firstIndex(where: { $0 === waiter }) else { return }
        waiters.remove(at: i)
        let client = waiter.client
        client.flags.remove(.blocked)
        waiter.spec?.stat.calls += 1
        server.stats.totalCommandsProcessed += 1
        client.output.writeRESPInteger(acknowledged(waiter.offset))
        client.transport?.setReadingEnabled(true)
    }

    /// On a replica: whether its link with its master is up (a replica serves its own replicas only then).
    public var upstreamLinkUp: () -> Bool = { true }
    /// FAILOVER's state (set by the replica side, which runs the switch).
    var failoverState: () -> Failover.State = { .none }
    /// PSYNC ... FAILOVER from our master: become a master (Redis's replicationUnsetMaster).
    var promoteForFailover: ((Client) -> Void)?

    func psync(_ ctx: CommandContext, legacy: Bool) throws {
        let client = ctx.client
        // Already a replica: Redis ignores the command.
        if client.flags.contains(.replica) { return }
        if client.flags.contains(.multi) { throw CommandError.err("Command not allowed inside a transaction") }
        // A failover request from our master, of our own history: we are the new master.
        if !legacy && ctx.argc > 3 && ctx.argument(3, is: "FAILOVER") {
            guard ctx.string(1).lowercased() == replid.lowercased() else {
                throw CommandError.err("PSYNC FAILOVER replid must match my replid.")
            }
            promoteForFailover?(client)
        }
        if failoverState() != .none { throw CommandError("NOMASTERLINK Can't SYNC while failing over") }
        if server.isReplica && !upstreamLinkUp() {
            throw CommandError("NOMASTERLINK Can't SYNC while not connected with my master")
        }
        guard let transport = client.transport else { return }
        let info = pending.removeValue(forKey: ObjectIdentifier(client)) ?? PendingReplicaInfo()
        // Whatever replies are still buffered go out first: from here on this connection's bytes are sent directly.
        if client.output.readableBytes > 0 {
            transport.send(client.output)
            client.output.clear()
        }
        let link = ReplicaLink(client: client)
        link.listeningPort = info.listeningPort
        link.announcedIP = info.announcedIP
        link.capaEOF = info.capaEOF
        link.capaPSYNC2 = info.capaPSYNC2
        link.ackTimeMillis = ctx.server.clock.nowMillis()

        if !legacy {
            let requestedID = ctx.string(1)
            let requestedOffset = Int64(ctx.string(2))
            // PSYNC2: the current id, or the previous one up to where it was valid.
            let knownHistory = requestedID.lowercased() == replid.lowercased()
                || (requestedID.lowercased() == replid2.lowercased() && (requestedOffset ?? Int64.max) <= secondReplOffset)
            if knownHistory, let offset = requestedOffset, let backlog, backlog.canServe(from: offset) {
                client.flags.insert(.replica)
                link.state = .online
                replicas.append(link)
                // The replica's idea of the selected database may be stale (a restart): select again.
                streamDB = -1
                var out = ByteBufferAllocator().buffer(capacity: 64)
                out.writeString(link.capaPSYNC2 ? "+CONTINUE \(replid)\r\n" : "+CONTINUE\r\n")
                let missing = backlog.bytes(from: offset)
                out.writeBytes(missing)
                transport.send(out)
                syncPartialOK += 1
                updateGoodReplicas(nowMillis: server.clock.nowMillis())
                server.logger.notice("Partial resynchronization request from \(link.ip):\(link.listeningPort) accepted. Sending \(missing.count) bytes of backlog starting from offset \(offset).")
                return
            }
            if requestedID != "?" {
                syncPartialErr += 1
                if knownHistory {
                    server.logger.notice("Unable to partial resync with replica \(link.ip):\(link.listeningPort) for lack of backlog (Replica request was: \(requestedOffset ?? -1)).")
                } else {
                    server.logger.notice("Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '\(requestedID)', my replication IDs are '\(replid)' and '\(replid2)')")
                }
            } else {
                server.logger.notice("Full resync requested by replica \(link.ip):\(link.listeningPort)")
            }
        }
        fullResync(link, transport: transport, legacy: legacy)
    }

    /// FULLRESYNC: the replica shares a snapshot job (see FullSync.swift) and goes online after it.
    private func fullResync(_ link: ReplicaLink, transport: ClientTransport, legacy: Bool) {
        if backlog == nil {
            // First replica ever: a fresh history, as Redis's createReplicationBacklog after changeReplicationId.
            backlog = ReplicationBacklog(size: backlogSize, masterOffset: masterOffset)
        }
        link.client.flags.insert(.replica)
        link.legacySync = legacy
        link.state = .waitBgsave
        replicas.append(link)
        syncFull += 1
        scheduleFullSync(link)
    }

    /// Aux fields of a replication RDB (Redis 7.0's set).
    func rdbAux(offset: Int64) -> [(String, String)] {
        let now = server.clock.nowMillis()
        return [
            ("redis-ver", "7.0.15"), ("redis-bits", "64"), ("ctime", String(now / 1000)),
            // A replica's own replicas continue the proxied stream in the database it is in.
            ("used-mem", String(server.engine.usedMemoryEstimate)),
            ("repl-stream-db", String(server.isReplica ? replicaStreamDB : 0)),
            ("repl-id", replid), ("repl-offset", String(offset)), ("aof-base", "0"),
        ]
    }
}
