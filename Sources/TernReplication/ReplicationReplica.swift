import Logging
import NIOCore
import RESP
import TernCore
import TernRDB
import TernStorage

/// The replica's outbound connection to its master, as the state machine sees it.
public protocol MasterLinkTransport: AnyObject {
    func send(_ buffer: ByteBuffer)
    func close()
}

/// The replica side of Redis replication (first slice): REPLICAOF / SLAVEOF, the handshake (PING,
/// REPLCONF listening-port, REPLCONF capa eof capa psync2, PSYNC ? -1), a full resync from a `$<len>` or
/// diskless `$EOF:<mark>` RDB payload, then the command stream executed as the `.master` client, with the
/// replication offset tracked for REPLCONF ACK (every second and on GETACK).
///
/// Everything runs on the server's event loop: the server gives `connector` (opens a TCP connection whose
/// events come back through `linkActive` / `linkRead` / `linkClosed` tagged with the attempt's generation).
public final class ReplicationReplica {
    public enum LinkState: String {
        case none, connect, connecting, handshake, sync, connected
    }

    enum Phase {
        case idle
        case pingReply, authReply, portReply, ipReply, capaReply, psyncReply
        case bulkHeader
        case payload(remaining: Int)
        case eofPayload(marker: [UInt8])
        case online
    }

    public unowned let server: ServerState
    unowned let master: ReplicationMaster
    /// Opens a connection to host:port for the given generation (the server sets this up).
    public var connector: ((_ host: String, _ port: Int, _ generation: UInt64) -> Void)?
    /// Runs a body inside the server's write batch (durable backends commit it with the event-loop pass).
    public var runInBatch: (() -> Void) -> Void = { $0() }
    /// The port this server listens on (REPLCONF listening-port).
    public var listeningPort = 0

    public private(set) var masterHost: String?
    public private(set) var masterPort = 0
    public private(set) var state: LinkState = .none {
        didSet { server.masterLinkUp = state == .connected }
    }
    /// Offset of the replication stream processed so far (slave_repl_offset): the node's history offset, which
    /// the applied stream advances.
    public var offset: Int64 { master.masterOffset }
    /// Bytes of the stream read (slave_read_repl_offset).
    public private(set) var readOffset: Int64 = 0
    /// The master's replication id, which is this node's own history id once synced.
    public var masterReplid: String { master.replid }
    /// True when this node's history (id and offset) describes its data, so PSYNC may ask to continue it: after
    /// a sync, when restored from a durable backend, or when a master is turned into a replica.
    public private(set) var historyUsable = false
    /// The FULLRESYNC being received: its id and offset, adopted once the payload is loaded.
    private var fullSyncReplid = ""
    private var fullSyncOffset: Int64 = 0
    public private(set) var masterClient: Client?
    public private(set) var lastIOMillis: Int64 = 0
    /// The last failure (bad payload, refused handshake), for tests and logs.
    public private(set) var lastError: String?

    private var generation: UInt64 = 0
    /// FAILOVER (Failover.swift): the switch runs through this side's link.
    public private(set) var failover: Failover!
    private var transport: MasterLinkTransport?
    private var phase: Phase = .idle
    private var input = ByteBufferAllocator().buffer(capacity: 0)
    private var rdb: [UInt8] = []
    private var lastAckMillis: Int64 = 0
    private var nextAttemptMillis: Int64 = 0
    private var context: CommandContext?
    /// When the link last went down (master_link_down_since_seconds), 0 if it never was up.
    private var linkDownSinceMillis: Int64 = 0
    /// `repl-timeout`: a silent master (handshake, transfer or stream) drops the link.
    public var timeoutMillis: Int64 { Int64(max(1, server.config.replTimeout)) * 1000 }

    public init(server: ServerState, master: ReplicationMaster) {
        self.server = server
        self.master = master
    }

    public var isLinkUp: Bool { state == .connected }

    /// Registers REPLICAOF / SLAVEOF, the replica form of ROLE, and INFO replication on a replica.
    public func install() {
        master.upstreamLinkUp = { [unowned self] in self.state == .connected }
        let failover = Failover(server: server, master: master, replica: self)
        self.failover = failover
        master.failoverState = { [unowned failover] in failover.state }
        master.promoteForFailover = { [unowned self] client in
            guard masterHost != nil else { return }
            stop()
            server.logger.notice("MASTER MODE enabled (failover request from 'id=\(client.id) addr=\(client.address)')")
        }
        server.commands.register(failover.spec)
        server.commands.register(CommandSpec(
            "replicaof", arity: 3, flags: [.admin, .noscript, .stale, .noAsyncLoading], group: "server",
            summary: "Make the server a replica of another instance, or promote it as master", since: "5.0.0",
            acl: ["admin", "slow", "dangerous"], arguments: ["host", "port"]) { [unowned self] ctx in try self.replicaof(ctx) })
        server.commands.register(CommandSpec(
            "slaveof", arity: 3, flags: [.admin, .noscript, .stale, .noAsyncLoading], group: "server",
            summary: "Make the server a replica of another instance, or promote it as master", since: "1.0.0",
            acl: ["admin", "slow", "dangerous"], arguments: ["host", "port"]) { [unowned self] ctx in try self.replicaof(ctx) })
        server.commands.register(CommandSpec(
            "role", arity: 1, flags: [.noscript, .loading, .stale, .fast], group: "server",
            summary: "Return the role of the instance in the context of replication", since: "2.8.12",
            acl: ["admin", "dangerous"]) { [unowned self] ctx in self.role(ctx) })
        let masterInfo = server.infoProviders["replication"]
        server.infoProviders["replication"] = { [unowned self] in
            let base = masterInfo?() ?? []
            guard self.masterHost != nil else { return base }
            return self.infoFields(base)
        }
    }

    // MARK: commands

    func replicaof(_ ctx: CommandContext) throws {
        if ctx.client.flags.contains(.replica) {
            throw CommandError.err("Command is not valid when client is a replica.")
        }
        if ctx.string(1).lowercased() == "no" && ctx.string(2).lowercased() == "one" {
            if masterHost != nil {
                stop()
                server.logger.notice("MASTER MODE enabled (user request from 'id=\(ctx.client.id) addr=\(ctx.client.address)')")
            }
            ctx.ok()
            return
        }
        let port = try ctx.int(2)
        let host = ctx.string(1)
        if masterHost == host && masterPort == port {
            server.logger.notice("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.")
            ctx.simple("OK Already connected to specified master")
            return
        }
        // A master turned replica offers its own history (Redis's replicationCacheMasterUsingMyself): a promoted
        // replica of the same history answers +CONTINUE.
        start(host: host, port: port, useOwnHistory: masterHost == nil ? true : historyUsable)
        server.logger.notice("REPLICAOF \(host):\(port) enabled (user request from 'id=\(ctx.client.id) addr=\(ctx.client.address)')")
        ctx.ok()
    }

    /// ROLE: ["slave", host, port, state, offset] on a replica, the master's reply otherwise.
    func role(_ ctx: CommandContext) {
        guard let masterHost else { return master.role(ctx) }
        ctx.arrayHeader(5)
        ctx.bulk("slave")
        ctx.bulk(masterHost)
        ctx.integer(masterPort)
        ctx.bulk(state == .none ? "none" : state.rawValue)
        ctx.integer(state == .connected ? Int(offset) : -1)
    }

    func infoFields(_ base: [(String, String)]) -> [(String, String)] {
        let now = server.clock.nowMillis()
        var fields: [(String, String)] = [
            ("role", "slave"),
            ("master_host", masterHost ?? ""),
            ("master_port", String(masterPort)),
            ("master_link_status", state == .connected ? "up" : "down"),
            ("master_last_io_seconds_ago", state == .connected ? String(max(0, Self.secondsBetween(lastIOMillis, now))) : "-1"),
            ("master_sync_in_progress", state == .sync ? "1" : "0"),
            ("slave_read_repl_offset", String(readOffset)),
            ("slave_repl_offset", String(offset)),
        ]
        if state == .sync {
            fields.append(("master_sync_total_bytes", "-1"))
            fields.append(("master_sync_read_bytes", String(rdb.count)))
        }
        if state != .connected {
            let since = linkDownSinceMillis == 0 ? -1 : max(0, Self.secondsBetween(linkDownSinceMillis, now))
            fields.append(("master_link_down_since_seconds", String(since)))
        }
        fields += [
            ("slave_priority", String(server.config.replicaPriority)),
            ("slave_read_only", server.config.replicaReadOnly ? "1" : "0"),
            ("replica_announced", server.config.replicaAnnounced ? "1" : "0"),
        ]
        for (k, v) in base where k != "role" {
            switch k {
            case "master_replid": fields.append((k, masterReplid))
            case "master_repl_offset": fields.append((k, String(offset)))
            default: fields.append((k, v))
            }
        }
        return fields
    }

    /// Elapsed seconds as Redis counts them: the difference of two unix-second clocks (server.unixtime minus a
    /// time taken from it), so 1 as soon as the second changes. Sentinel reads master_link_down_since_seconds
    /// this way: non-zero makes it refresh the replica's INFO every second.
    static func secondsBetween(_ earlierMillis: Int64, _ nowMillis: Int64) -> Int64 {
        nowMillis / 1000 - earlierMillis / 1000
    }

    // MARK: lifecycle

    /// Becomes a replica of host:port (drops any current link; the data stays until the full resync).
    /// `useOwnHistory`: PSYNC asks to continue this node's replication history rather than `PSYNC ? -1`.
    public func start(host: String, port: Int, useOwnHistory: Bool) {
        if masterHost == nil && useOwnHistory {
            server.logger.notice("Before turning into a replica, using my own master parameters to synthesize a cached master: I may be able to synchronize with the new master with just a partial transfer.")
        }
        dropLink()
        historyUsable = useOwnHistory
        masterHost = host
        masterPort = port
        // CONFIG GET / REWRITE replicaof follow the current master, as Redis's masterhost (Sentinel's
        // SLAVEOF + CONFIG REWRITE must survive a restart).
        server.config.replicaOf = "\(host) \(port)"
        server.isReplica = true
        state = .connect
        nextAttemptMillis = 0
        connect()
    }

    /// REPLICAOF NO ONE: the link stops, the data stays, and this server takes writes again.
    public func stop() {
        dropLink()
        masterHost = nil
        masterPort = 0
        server.config.replicaOf = ""
        state = .none
        server.isReplica = false
        // PSYNC2: a new id from here, the old one still good up to this offset; our replicas reconnect to learn it.
        master.shiftReplicationId()
        master.disconnectReplicas()
        historyUsable = true
    }

    private func dropLink() {
        generation &+= 1
        transport?.close()
        transport = nil
        if let client = masterClient {
            masterClient = nil
            context = nil
            server.removeClient(client)
        }
        phase = .idle
        input.clear()
        rdb = []
    }

    private func connect() {
        guard let masterHost, state == .connect, let connector else { return }
        generation &+= 1
        state = .connecting
        server.logger.notice("Connecting to MASTER \(masterHost):\(masterPort)")
        connector(masterHost, masterPort, generation)
    }

    /// A failed attempt or a lost link: down, and a new attempt after a second.
    private func linkDown(_ reason: String) {
        guard masterHost != nil else { return }
        if state == .connected {
            linkDownSinceMillis = server.clock.nowMillis()
            server.logger.notice("Connection with master lost.")
        } else {
            server.logger.warning("Master link failed: \(reason)")
        }
        lastError = reason
        dropLink()
        state = .connect
        nextAttemptMillis = server.clock.nowMillis() + 1000
    }

    /// Periodic work (call several times a second): reconnect, and REPLCONF ACK every second.
    public func cron(nowMillis: Int64) {
        failover.update(nowMillis: nowMillis)
        if state == .connect && nowMillis >= nextAttemptMillis { connect() }
        if (state == .handshake || state == .sync || state == .connected) && nowMillis - lastIOMillis > timeoutMillis {
            linkDown(state == .connected ? "MASTER timeout: no data nor PING received..." : "Timeout connecting to the MASTER...")
            return
        }
        if state == .connected && nowMillis - lastAckMillis >= 1000 { sendAck() }
    }

    // MARK: transport events

    public func linkActive(generation: UInt64, transport: MasterLinkTransport) {
        guard generation == self.generation, state == .connecting else {
            transport.close()
            return
        }
        self.transport = transport
        state = .handshake
        server.logger.notice("MASTER <-> REPLICA sync started")
        lastIOMillis = server.clock.nowMillis()
        send(["PING"])
        phase = .pingReply
    }

    public func linkFailed(generation: UInt64, error: String) {
        guard generation == self.generation else { return }
        linkDown("Error condition on socket for SYNC: \(error)")
    }

    public func linkClosed(generation: UInt64) {
        guard generation == self.generation else { return }
        linkDown("connection closed")
    }

    public func linkRead(generation: UInt64, _ buffer: ByteBuffer) {
        guard generation == self.generation else { return }
        lastIOMillis = server.clock.nowMillis()
        var buffer = buffer
        input.writeBuffer(&buffer)
        do {
            try process()
        } catch {
            linkDown("\(error)")
        }
        if input.readerIndex > 64 * 1024 { input.discardReadBytes() }
    }

    private func sendListeningPort() {
        let port = server.config.replicaAnnouncePort > 0 ? server.config.replicaAnnouncePort : listeningPort
        send(["REPLCONF", "listening-port", String(port)])
        phase = .portReply
    }

    private func sendCapa() {
        send(["REPLCONF", "capa", "eof", "capa", "psync2"])
        phase = .capaReply
    }

    private func send(_ words: [String]) {
        var out = ByteBufferAllocator().buffer(capacity: 64)
        out.writeRESPArrayHeader(words.count)
        for w in words { out.writeRESPBulkString(w) }
        transport?.send(out)
    }

    private func sendAck() {
        lastAckMillis = server.clock.nowMillis()
        send(["REPLCONF", "ACK", String(offset)])
    }

    // MARK: the protocol

    struct LinkError: Error, CustomStringConvertible { var description: String }

    private func readLine() throws -> String? {
        guard let nl = input.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if input.readableBytes > 64 * 1024 { throw LinkError(description: "reply line too long from master") }
            return nil
        }
        let length = nl - input.readerIndex
        var line = input.readString(length: length) ?? ""
        input.moveReaderIndex(forwardBy: 1)
        if line.hasSuffix("\r") { line.removeLast() }
        return line
    }

    private func process() throws {
        while true {
            switch phase {
            case .idle:
                input.clear()
                return
            case .pingReply:
                guard let line = try readLine() else { return }
                if line.hasPrefix("-") && !line.hasPrefix("-NOAUTH") && !line.hasPrefix("-NOPERM")
                    && !line.hasPrefix("-ERR operation not permitted") {
                    throw LinkError(description: "Error reply to PING from master: '\(line)'")
                }
                server.logger.notice("Master replied to PING, replication can continue...")
                let config = server.config
                if !config.masterAuth.isEmpty {
                    send(config.masterUser.isEmpty ? ["AUTH", config.masterAuth]
                                                   : ["AUTH", config.masterUser, config.masterAuth])
                    phase = .authReply
                } else {
                    sendListeningPort()
                }
            case .authReply:
                guard let line = try readLine() else { return }
                if line.hasPrefix("-") {
                    throw LinkError(description: "Unable to AUTH to MASTER: \(line)")
                }
                sendListeningPort()
            case .portReply:
                guard let line = try readLine() else { return }
                if line.hasPrefix("-") {
                    server.logger.notice("(Non critical) Master does not understand REPLCONF listening-port: \(line)")
                }
                if !server.config.replicaAnnounceIP.isEmpty {
                    send(["REPLCONF", "ip-address", server.config.replicaAnnounceIP])
                    phase = .ipReply
                } else {
                    sendCapa()
                }
            case .ipReply:
                guard let line = try readLine() else { return }
                if line.hasPrefix("-") {
                    server.logger.notice("(Non critical) Master does not understand REPLCONF ip-address: \(line)")
                }
                sendCapa()
            case .capaReply:
                guard let line = try readLine() else { return }
                if line.hasPrefix("-") {
                    server.logger.notice("(Non critical) Master does not understand REPLCONF capa: \(line)")
                }
                if historyUsable {
                    let requested = master.masterOffset + 1
                    server.logger.notice("Trying a partial resynchronization (request \(master.replid):\(requested)).")
                    send(["PSYNC", master.replid, String(requested)] + (failover.psyncArgument.map { [$0] } ?? []))
                } else {
                    server.logger.notice("Partial resynchronization not possible (no cached master)")
                    send(["PSYNC", "?", "-1"])
                }
                phase = .psyncReply
            case .psyncReply:
                guard let line = try readLine() else { return }
                if line.isEmpty { continue }  // newlines keep the link alive while the master prepares
                // A failover we started ends with the target's answer (Redis expects +CONTINUE; a full resync is
                // also fine), and is abandoned on anything else.
                failover.psyncAnswered(accepted: line.hasPrefix("+FULLRESYNC") || line.hasPrefix("+CONTINUE"))
                if line.hasPrefix("+FULLRESYNC") {
                    let parts = line.split(separator: " ")
                    guard parts.count == 3, parts[1].count == 40, let off = Int64(parts[2]) else {
                        throw LinkError(description: "Master replied with wrong +FULLRESYNC syntax: '\(line)'")
                    }
                    fullSyncReplid = String(parts[1])
                    fullSyncOffset = off
                    readOffset = off
                    server.logger.notice("Full resync from master: \(fullSyncReplid):\(off)")
                    // Our own replicas can't continue the history we are about to replace
                    // (Redis's replicationAttachToNewMaster).
                    master.disconnectReplicas()
                    master.discardBacklog()
                    historyUsable = false
                    state = .sync
                    phase = .bulkHeader
                } else if line.hasPrefix("+CONTINUE") {
                    let parts = line.split(separator: " ")
                    if parts.count >= 2 {
                        let newID = String(parts[1])
                        guard newID.count == 40 else {
                            throw LinkError(description: "Master replied with wrong +CONTINUE syntax: '\(line)'")
                        }
                        if newID != master.replid {
                            // The master was promoted: same history, new id. Our replicas must learn it too.
                            master.continueHistory(replid: newID)
                            master.disconnectReplicas()
                        }
                    }
                    server.logger.notice("Successful partial resynchronization with master.")
                    server.logger.notice("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.")
                    readOffset = master.masterOffset
                    goOnline(db: master.replicaStreamDB)
                } else if line.hasPrefix("-NOMASTERLINK") || line.hasPrefix("-LOADING") {
                    throw LinkError(description: "Master is currently unable to PSYNC but should be in the future: \(line)")
                } else {
                    throw LinkError(description: "Unexpected reply to PSYNC from master: '\(line)'")
                }
            case .bulkHeader:
                guard let line = try readLine() else { return }
                if line.isEmpty { continue }
                if line.hasPrefix("-") { throw LinkError(description: "MASTER aborted replication with an error: \(line)") }
                guard line.hasPrefix("$") else {
                    throw LinkError(description: "Bad protocol from MASTER, the first byte is not '$' (we received '\(line)'), are you sure the host and port are right?")
                }
                rdb = []
                if line.hasPrefix("$EOF:") {
                    let marker = Array(line.utf8.dropFirst(5))
                    guard marker.count == 40 else { throw LinkError(description: "Bad EOF marker from MASTER: '\(line)'") }
                    server.logger.notice("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk")
                    phase = .eofPayload(marker: marker)
                } else {
                    guard let n = Int(line.dropFirst()), n >= 0 else {
                        throw LinkError(description: "Bad RDB length from MASTER: '\(line)'")
                    }
                    server.logger.notice("MASTER <-> REPLICA sync: receiving \(n) bytes from master to disk")
                    rdb.reserveCapacity(min(n, 64 << 20))
                    phase = .payload(remaining: n)
                }
            case .payload(let remaining):
                let n = min(remaining, input.readableBytes)
                if n > 0 {
                    input.withUnsafeReadableBytes { rdb.append(contentsOf: $0.prefix(n)) }
                    input.moveReaderIndex(forwardBy: n)
                }
                if remaining - n > 0 {
                    phase = .payload(remaining: remaining - n)
                    return
                }
                try load()
            case .eofPayload(let marker):
                let n = input.readableBytes
                guard n > 0 else { return }
                let searchFrom = max(0, rdb.count - 39)
                input.withUnsafeReadableBytes { rdb.append(contentsOf: $0) }
                input.clear()
                guard let end = Self.find(marker, in: rdb, from: searchFrom) else { return }
                // Whatever follows the marker is already the command stream.
                input.writeBytes(rdb[(end + marker.count)...])
                rdb.removeSubrange(end...)
                try load()
            case .online:
                guard try applyNextCommand() else { return }
            }
        }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard let first = needle.first, haystack.count >= needle.count else { return nil }
        var i = from
        while i + needle.count <= haystack.count {
            if haystack[i] == first && haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    /// Replaces the dataset with the received snapshot (parsed and verified first: a bad payload leaves the
    /// old data in place), then goes online.
    private func load() throws {
        let payload = rdb
        rdb = []
        let parsed: RDBReader
        do {
            parsed = try RDBReader.parse(payload, databases: server.engine.databaseCount)
        } catch {
            throw LinkError(description: "Failed trying to load the MASTER synchronization DB from socket: \(error)")
        }
        server.logger.notice("MASTER <-> REPLICA sync: Flushing old data")
        server.logger.notice("MASTER <-> REPLICA sync: Loading DB in memory")
        let server = self.server
        let master = self.master
        let (replid, offset) = (fullSyncReplid, fullSyncOffset)
        // The database the stream continues in (a chained master's stream may not start with SELECT).
        let auxDB = parsed.aux.last { $0.0 == "repl-stream-db" }.flatMap { Int($0.1) } ?? 0
        let streamDB = auxDB >= 0 && auxDB < server.engine.databaseCount ? auxDB : 0
        // One batch: with LMDB the flush, the load and the new replication history commit in the same write
        // transaction, so a crash mid-load leaves the old dataset (and its history), never a mix.
        runInBatch {
            server.engine.withoutIntermediateCommits {
                for index in 0..<server.engine.databaseCount {
                    _ = Keyspace(server: server, index: index).removeAll()
                }
                for entry in parsed.entries {
                    Keyspace(server: server, index: entry.db).store(entry.key, entry.value,
                                                                    expiry: entry.expireAt.map { .at($0) } ?? .clear)
                }
                master.replicaStreamDB = streamDB
                master.adoptMasterHistory(replid: replid, offset: offset)
                server.replaceFunctionLibraries(parsed.functionLibraries)
            }
        }
        historyUsable = true
        server.logger.notice("MASTER <-> REPLICA sync: Finished with success (\(parsed.entries.count) keys)")
        goOnline(db: streamDB)
        sendAck()
    }

    /// The master client's transport: it never gets replies; closing it (CLIENT KILL TYPE master) breaks
    /// the link, after which the replica reconnects and continues with PSYNC.
    final class MasterClientTransport: ClientTransport {
        weak var replica: ReplicationReplica?
        let generation: UInt64
        init(replica: ReplicationReplica, generation: UInt64) {
            self.replica = replica
            self.generation = generation
        }
        func send(_ buffer: ByteBuffer) {}
        func close() { replica?.masterClientClosed(generation: generation) }
        func setReadingEnabled(_ enabled: Bool) {}
    }

    /// True while a command of the stream runs (a kill from inside it waits until it returns).
    private var applying = false
    private var masterClientTransport: MasterClientTransport?
    private var killPending = false

    func masterClientClosed(generation: UInt64) {
        guard generation == self.generation, state == .connected else { return }
        if applying {
            killPending = true
            return
        }
        linkDown("the master client was killed")
    }

    /// The link is up: the stream from here on runs as the `.master` client, in database `db`.
    private func goOnline(db: Int) {
        // Clients hold their transport weakly: the replica keeps this one alive with the link.
        let transport = MasterClientTransport(replica: self, generation: generation)
        masterClientTransport = transport
        let client = server.makeClient(address: "\(masterHost ?? ""):\(masterPort)", localAddress: "", transport: transport)
        client.flags.insert(.master)
        client.authenticated = true
        client.aclUser = nil  // the master's stream runs unrestricted, as Redis's master client (no user)
        client.db = db
        masterClient = client
        context = CommandContext(server: server, client: client)
        state = .connected
        phase = .online
    }

    /// Parses one RESP command of the stream (nil: incomplete), bounded like Redis's query buffer.
    static func parseCommand(_ buffer: ByteBuffer) throws -> (arguments: [ByteBuffer], consumed: Int)? {
        let view = buffer.readableBytesView
        var i = view.startIndex
        func line() throws -> Int? {
            guard let nl = view[i...].firstIndex(of: UInt8(ascii: "\n")) else {
                if view.endIndex - i > 64 * 1024 { throw LinkError(description: "Protocol error: too big header from master") }
                return nil
            }
            guard nl > i, view[nl - 1] == UInt8(ascii: "\r") else {
                throw LinkError(description: "Protocol error from master: bad line terminator")
            }
            let text = String(decoding: view[(i + 1)..<(nl - 1)], as: UTF8.self)
            guard let n = Int(text) else { throw LinkError(description: "Protocol error from master: invalid length '\(text)'") }
            i = nl + 1
            return n
        }
        guard i < view.endIndex else { return nil }
        if view[i] == UInt8(ascii: "\n") { return ([], 1) }
        if view[i] == UInt8(ascii: "\r"), i + 1 < view.endIndex, view[i + 1] == UInt8(ascii: "\n") { return ([], 2) }
        guard view[i] == UInt8(ascii: "*") else { throw LinkError(description: "Protocol error from master: expected '*'") }
        guard let count = try line() else { return nil }
        guard count >= 0, count <= 1024 * 1024 else { throw LinkError(description: "Protocol error from master: invalid multibulk length") }
        var arguments: [ByteBuffer] = []
        arguments.reserveCapacity(count)
        for _ in 0..<count {
            guard i < view.endIndex else { return nil }
            guard view[i] == UInt8(ascii: "$") else { throw LinkError(description: "Protocol error from master: expected '$'") }
            guard let n = try line() else { return nil }
            guard n >= 0, n <= 512 * 1024 * 1024 else { throw LinkError(description: "Protocol error from master: invalid bulk length") }
            guard view.endIndex - i >= n + 2 else { return nil }
            let start = i - view.startIndex
            arguments.append(buffer.getSlice(at: buffer.readerIndex + start, length: n)!)
            i += n + 2
        }
        return (arguments, i - view.startIndex)
    }

    /// Runs the next complete command of the stream; false when more bytes are needed.
    private func applyNextCommand() throws -> Bool {
        guard let (arguments, consumed) = try Self.parseCommand(input) else { return false }
        let raw = input.readSlice(length: consumed)!
        readOffset += Int64(consumed)
        let master = self.master
        guard !arguments.isEmpty, let context, let client = masterClient else {
            runInBatch { master.feedProxied(raw) }
            return true
        }
        if arguments.count >= 2, String(buffer: arguments[0]).lowercased() == "replconf",
           String(buffer: arguments[1]).lowercased() == "getack" {
            // The offset processed before this GETACK, as Redis's replica answers it.
            sendAck()
            runInBatch { master.feedProxied(raw) }
            return true
        }
        let server = self.server
        applying = true
        defer {
            applying = false
            if killPending {
                killPending = false
                linkDown("the master client was killed")
            }
        }
        runInBatch {
            _ = server.execute(context, arguments)
            // Applied: the same bytes go to our own replicas and backlog, with the offset, in the same batch.
            master.replicaStreamDB = client.db
            master.feedProxied(raw)
        }
        // The master client never gets replies.
        client.output.clear()
        return true
    }
}

/// Forwards the outbound master connection's events to the replica state machine (on the server's loop).
public final class MasterLinkHandler: ChannelInboundHandler, MasterLinkTransport {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    let replica: ReplicationReplica
    let generation: UInt64
    private var context: ChannelHandlerContext?

    public init(replica: ReplicationReplica, generation: UInt64) {
        self.replica = replica
        self.generation = generation
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    public func channelActive(context: ChannelHandlerContext) {
        replica.linkActive(generation: generation, transport: self)
        context.fireChannelActive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        replica.linkRead(generation: generation, unwrapInboundIn(data))
    }

    public func channelInactive(context: ChannelHandlerContext) {
        replica.linkClosed(generation: generation)
        self.context = nil
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    public func send(_ buffer: ByteBuffer) {
        context?.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    public func close() {
        context?.close(promise: nil)
    }
}
