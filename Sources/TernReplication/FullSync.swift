import Logging
import NIOCore
import TernCore
import TernStorage

/// One snapshot being produced for full resyncs and the replicas that share it.
///
/// How sharing works (as Redis does it): with the `$<len>` framing (repl-diskless-sync no, or a replica
/// without `capa eof`) the RDB is produced in full before anything is sent, so a replica that asks while it is
/// being produced joins the job: it gets `+FULLRESYNC` with the job's offset, the same RDB, and the stream fed
/// since that offset. With diskless framing (`$EOF:<mark>`) bytes leave as they are produced, so only the
/// replicas gathered before the job starts (`repl-diskless-sync-delay`, `repl-diskless-sync-max-replicas`)
/// share it; later ones wait for the next job.
final class SyncJob {
    let replid: String
    let offset: Int64
    let diskless: Bool
    let stream: RDBStream
    /// 40 random characters closing a diskless payload.
    let marker: [UInt8]
    var replicas: [ReplicaLink]
    /// The whole payload (length framing): sent once complete.
    var rdb: [UInt8] = []
    /// Everything fed to the stream after `offset`, sent to the job's replicas after the RDB.
    var pendingStream = ByteBufferAllocator().buffer(capacity: 0)
    let startedMillis: Int64

    init(replid: String, offset: Int64, diskless: Bool, stream: RDBStream, replicas: [ReplicaLink], now: Int64) {
        self.replid = replid
        self.offset = offset
        self.diskless = diskless
        self.stream = stream
        self.replicas = replicas
        self.startedMillis = now
        self.marker = Array(ServerMetrics.randomHexID().utf8)
    }
}

extension ReplicationMaster {
    /// Whether this replica can take the diskless framing.
    func wantsDiskless(_ link: ReplicaLink) -> Bool {
        server.config.replDisklessSync && link.capaEOF && !link.legacySync && scheduler != nil
    }

    /// A replica needs a full resync: join the job under way when its framing allows, else wait for the next.
    func scheduleFullSync(_ link: ReplicaLink) {
        if let job = syncJob, !job.diskless, !wantsDiskless(link) {
            link.state = .waitBgsave
            job.replicas.append(link)
            var out = ByteBufferAllocator().buffer(capacity: 64)
            if !link.legacySync { out.writeString("+FULLRESYNC \(job.replid) \(job.offset)\r\n") }
            link.client.transport?.send(out)
            server.logger.notice("Waiting for end of BGSAVE for SYNC: replica \(link.ip):\(link.listeningPort) shares the snapshot being produced")
            return
        }
        waitingForSync.append(link)
        server.logger.notice("Replica \(link.ip):\(link.listeningPort) asks for synchronization")
        guard syncJob == nil else { return }
        planNextJob()
    }

    /// Starts the next job now (length framing, or enough replicas) or after `repl-diskless-sync-delay`.
    func planNextJob() {
        guard syncJob == nil, !syncJobScheduled, !waitingForSync.isEmpty else { return }
        guard let scheduler else {
            startSyncJob()
            return
        }
        let diskless = waitingForSync.allSatisfy { wantsDiskless($0) }
        let maxReplicas = server.config.replDisklessSyncMaxReplicas
        var delay = diskless ? Int64(server.config.replDisklessSyncDelay) * 1000 : 0
        if maxReplicas > 0 && waitingForSync.count >= maxReplicas { delay = 0 }
        if delay > 0 {
            server.logger.notice("Delay next BGSAVE for diskless SYNC")
        }
        syncJobScheduled = true
        scheduler(delay) { [weak self] in
            guard let self else { return }
            self.syncJobScheduled = false
            self.startSyncJob()
        }
    }

    /// Takes the snapshot for every waiting replica (Redis: startBgsaveForReplication) and starts producing.
    func startSyncJob() {
        guard syncJob == nil, !waitingForSync.isEmpty else { return }
        let links = waitingForSync
        waitingForSync = []
        // The weakest capability decides the framing for all (Redis's mincapa).
        let diskless = links.allSatisfy { wantsDiskless($0) }
        // The stream after this offset starts with SELECT, whatever the replicas load.
        streamDB = -1
        let offset = masterOffset
        let stream = RDBStream(snapshots: server.engine.snapshot(), aux: rdbAux(offset: offset),
                               functions: server.functionLibraryCodes())
        let job = SyncJob(replid: replid, offset: offset, diskless: diskless, stream: stream, replicas: links,
                          now: server.clock.nowMillis())
        syncJob = job
        server.logger.notice("Starting BGSAVE for SYNC with target: \(diskless ? "replicas sockets" : "disk") (\(links.count) replica\(links.count == 1 ? "" : "s"))")
        for link in links {
            var out = ByteBufferAllocator().buffer(capacity: 128)
            if !link.legacySync { out.writeString("+FULLRESYNC \(replid) \(offset)\r\n") }
            if diskless {
                out.writeString("$EOF:")
                out.writeBytes(job.marker)
                out.writeString("\r\n")
                link.state = .sendBulk
            }
            link.client.transport?.send(out)
        }
        produceSlice(job)
    }

    /// One slice of the RDB per event-loop pass; diskless slices leave at once (paced by the slowest
    /// replica's socket), length-framed ones are kept until complete.
    func produceSlice(_ job: SyncJob) {
        guard syncJob === job else { return }
        if job.replicas.isEmpty {
            syncJob = nil
            planNextJob()
            return
        }
        if job.diskless, let scheduler,
           job.replicas.contains(where: { ($0.client.transport?.pendingOutputBytes ?? 0) > 8 << 20 }) {
            // A replica's socket is behind: wait for it rather than buffering the snapshot in memory.
            scheduler(2) { [weak self] in self?.produceSlice(job) }
            return
        }
        var slices = 0
        while let slice = job.stream.next(budget: syncSliceBytes) {
            if job.diskless {
                let buffer = ByteBuffer(bytes: slice)
                for link in job.replicas { link.client.transport?.send(buffer) }
            } else {
                job.rdb += slice
            }
            slices += 1
            // With a scheduler: one slice per pass, clients are served in between.
            if let scheduler {
                if !job.stream.finished {
                    let next: () -> Void = { [weak self] in self?.produceSlice(job) }
                    if let afterClientIO { afterClientIO(next) } else { scheduler(0, next) }
                    return
                }
                break
            }
        }
        finishSyncJob(job)
    }

    /// The RDB is complete: send what each replica still needs (payload or end mark, then the stream since the
    /// snapshot) and put them online.
    func finishSyncJob(_ job: SyncJob) {
        syncJob = nil
        let now = server.clock.nowMillis()
        for link in job.replicas {
            guard let transport = link.client.transport else { continue }
            var out = ByteBufferAllocator().buffer(capacity: job.diskless ? 64 : job.rdb.count + 32)
            if job.diskless {
                out.writeBytes(job.marker)
            } else {
                out.writeString("$\(job.rdb.count)\r\n")
                out.writeBytes(job.rdb)
            }
            link.rdbBytes = out.readableBytes
            link.streamBytesSinceSync = 0
            if job.diskless {
                link.heldStream = job.pendingStream
            } else {
                out.writeImmutableBuffer(job.pendingStream)
            }
            transport.send(out)
            link.state = .online
            link.ackTimeMillis = now
            server.logger.notice("Synchronization with replica \(link.ip):\(link.listeningPort) succeeded (\(job.stream.produced) bytes of RDB, \(job.stream.keys) keys, \(now - job.startedMillis) ms)")
        }
        updateGoodReplicas(nowMillis: now)
        planNextJob()
    }

    /// Stream bytes arriving while a job runs: kept for its replicas, within their output-buffer limit.
    func jobReceivedStream(_ job: SyncJob, _ buffer: ByteBuffer) {
        job.pendingStream.writeImmutableBuffer(buffer)
        let limit = server.config.clientOutputBufferLimits[ClientOutputBufferLimit.replica]
        guard limit.hardBytes > 0, UInt64(job.pendingStream.readableBytes) >= limit.hardBytes else { return }
        for link in job.replicas {
            server.logger.warning("Client id=\(link.client.id) addr=\(link.client.address) scheduled to be closed ASAP for overcoming of output buffer limits (during its full resync).")
            link.client.closing = true
            link.client.transport?.close()
        }
    }

    /// Newlines to replicas waiting for a snapshot (Redis's replicationCron does the same), so their
    /// repl-timeout doesn't fire during a long production.
    func keepWaitingReplicasAlive() {
        var out = ByteBufferAllocator().buffer(capacity: 1)
        out.writeString("\n")
        for link in waitingForSync { link.client.transport?.send(out) }
        if let job = syncJob, !job.diskless {
            for link in job.replicas { link.client.transport?.send(out) }
        }
    }

    /// A replica went away: out of the waiting list and its job.
    func syncLinkGone(_ link: ReplicaLink) {
        waitingForSync.removeAll { $0 === link }
        if let job = syncJob {
            job.replicas.removeAll { $0 === link }
            if job.replicas.isEmpty {
                server.logger.notice("Snapshot for SYNC abandoned: no replica is waiting for it")
                syncJob = nil
                planNextJob()
            }
        }
    }
}
