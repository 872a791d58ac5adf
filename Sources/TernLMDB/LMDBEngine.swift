import CLMDB
import TernStorage
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// When commits reach the disk.
public enum LMDBSyncMode: String, Sendable, CaseIterable {
    /// Every commit is durable (LMDB's default fsync on commit).
    case always
    /// Commits are not synced (MDB_NOSYNC); the server calls `syncNow()` once a second.
    case everysec
    /// Commits are not synced; the OS writes the map back when it likes (`syncNow()` still works).
    case no
}

/// What INFO can show about the environment.
public struct LMDBInfo: Sendable, Equatable {
    public var path: String
    public var mapSize: Int
    public var maxSize: Int
    public var pageSize: Int
    /// High-water mark of the file: (last page number + 1) * page size.
    public var usedBytes: Int
    /// Pages in use by the four sub-databases (branch + leaf + overflow), times the page size.
    public var treeBytes: Int
    public var lastTransactionID: Int
    public var readers: Int
    public var maxReaders: Int
    public var keyRecords: Int
    public var elementRecords: Int
    public var expiryRecords: Int
    /// Keys or databases whose element records still wait for `collectGarbage`.
    public var pendingGarbage: Int
    public var syncMode: LMDBSyncMode
}

/// The durable backend: one LMDB environment holding every database. See README.md for the encoding.
///
/// Threading: every call except a snapshot's `forEach` comes from one thread (the command thread) — LMDB write
/// transactions belong to the thread that began them. Snapshots may be iterated on any thread.
public final class LMDBEngine: StorageEngine {
    public let name = "lmdb"
    /// The seconds clock new records are stamped with (set by the core before each command).
    public var accessClock: UInt32 = 0
    /// Monotonic second of the last `everysec` sync.
    var lastPeriodicSync = 0
    public let path: String
    public let databaseCount: Int
    public let syncMode: LMDBSyncMode
    /// 0: unlimited.
    public let maxSize: Int
    public private(set) var mapSize: Int

    let handle: EnvHandle
    var env: OpaquePointer { handle.env }
    var tables = Tables()
    let pageSize: Int

    // Transactions.
    var writeTxn: OpaquePointer?
    var inBatch = false
    /// The batch's writes, to replay after the map grew (the aborted transaction lost them).
    var redoLog: [() throws -> Void] = []
    /// A batch that could not be restored after a failure: `endBatch` reports it.
    var batchFailure: LMDBError?
    /// Reused for reads outside a write transaction (reset after every commit so it never pins old pages).
    var readTxn: OpaquePointer?
    var readTxnLive = false
    /// The last refused write (map full past `maxSize`, or an LMDB error); see `takeWriteFailure()`.
    public private(set) var lastWriteFailure: LMDBError?

    // Mirrors of the persisted engine state (reloaded after an abort).
    var mapping: [UInt32] = []
    /// The encodings the core recorded per key (see `EncodingState`), by physical database; memory only.
    var encodings: [UInt32: [Bytes: EncodingState]] = [:]
    var nextVersion: UInt64 = 1
    var nextPhys: UInt32 = 0
    var counters: [UInt32: (keys: Int, volatile: Int)] = [:]

    /// Access metadata (lastAccess, frequency) recorded by lookups, keyed by the `keys` table key: kept in
    /// memory so reads never write, applied to later reads and flushed into the records when a write
    /// transaction commits.
    var touches: [Bytes: (UInt32, UInt8)] = [:]
    static let maxTouches = 100_000
    static let touchesPerCommit = 1_000

    /// SCAN positions per logical database: cursor token -> last encoded name returned.
    var scans: [[UInt64: [UInt8]]]
    var scanOrder: [[UInt64]]
    static let maxScans = 1024
    /// A batch commits early after this many writes.
    static let maxBatchWrites = 10_000

    private var handles: [WeakDatabase]
    /// Server metadata (replication id/offset) to write with the next commit: one put per commit however
    /// often it changed, and always in the transaction of the writes it describes.
    var pendingMetadata: [String: () -> [UInt8]] = [:]
    /// Set while a caller needs its writes in one transaction (no early commit at maxBatchWrites).
    var intermediateCommitsAllowed = true

    /// Opens (creating if needed) the environment in the directory `path`.
    /// - Parameters:
    ///   - mapSize: initial map size in bytes (an existing larger environment keeps its size).
    ///   - maxSize: the map never grows past this (0: unlimited); writes that don't fit are refused.
    public init(path: String, databases count: Int = 16, mapSize: Int = 64 << 20, maxSize: Int = 0,
                sync: LMDBSyncMode = .always) throws {
        precondition(count > 0 && count < 1 << 20)
        self.path = path
        self.databaseCount = count
        self.syncMode = sync
        self.maxSize = maxSize
        let ps = Int(sysconf(Int32(_SC_PAGESIZE)))
        pageSize = ps > 0 ? ps : 4096
        scans = Array(repeating: [:], count: count)
        scanOrder = Array(repeating: [], count: count)
        handles = Array(repeating: WeakDatabase(), count: count)

        _ = mkdir(path, 0o755)
        var envPointer: OpaquePointer?
        try check(mdb_env_create(&envPointer), "env_create")
        var initial = max(mapSize, 64 * pageSize)
        if maxSize > 0 { initial = min(initial, maxSize) }
        initial = (initial + pageSize - 1) / pageSize * pageSize
        do {
            try check(mdb_env_set_maxdbs(envPointer, 8), "env_set_maxdbs")
            try check(mdb_env_set_maxreaders(envPointer, 1022), "env_set_maxreaders")
            try check(mdb_env_set_mapsize(envPointer, initial), "env_set_mapsize")
            var flags = UInt32(MDB_NOTLS)
            if sync != .always { flags |= UInt32(MDB_NOSYNC) }
            try check(mdb_env_open(envPointer, path, flags, 0o644), "env_open(\(path))")
        } catch {
            mdb_env_close(envPointer)
            throw error
        }
        handle = EnvHandle(envPointer!)
        var info = MDB_envinfo()
        mdb_env_info(handle.env, &info)
        self.mapSize = info.me_mapsize

        var txn: OpaquePointer?
        try check(mdb_txn_begin(handle.env, nil, 0, &txn), "txn_begin")
        do {
            let create = UInt32(MDB_CREATE)
            try check(mdb_dbi_open(txn, "meta", create, &tables.meta), "dbi_open(meta)")
            try check(mdb_dbi_open(txn, "keys", create, &tables.keys), "dbi_open(keys)")
            try check(mdb_dbi_open(txn, "elems", create, &tables.elems), "dbi_open(elems)")
            try check(mdb_dbi_open(txn, "expires", create, &tables.expires), "dbi_open(expires)")
            let t = Txn(ptr: txn!)
            try loadState(t)
            if mapping.count < count {
                for _ in mapping.count..<count {
                    mapping.append(nextPhys)
                    counters[nextPhys] = (0, 0)
                    try saveCounter(t, nextPhys)
                    nextPhys += 1
                }
                try saveMapping(t)
                try saveNext(t)
            }
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        try check(mdb_txn_commit(txn), "txn_commit")
        try check(mdb_txn_begin(handle.env, nil, UInt32(MDB_RDONLY), &readTxn), "txn_begin(read)")
        mdb_txn_reset(readTxn)
    }

    deinit {
        close()
    }

    /// Commits any open batch and releases the reader; the environment closes when the last snapshot is gone.
    public func close() {
        if writeTxn != nil {
            do { try commitWithRecovery() } catch { abortWrite(reload: false) }
        } else if !touches.isEmpty {
            // Persist access metadata.
            if (try? beginWrite()) != nil { try? commitWithRecovery() }
        }
        if let r = readTxn {
            mdb_txn_abort(r)
            readTxn = nil
        }
    }

    // MARK: StorageEngine

    public func database(_ index: Int) -> any StorageDatabase {
        if let db = handles[index].value { return db }
        let db = LMDBDatabase(engine: self, index: index)
        handles[index] = WeakDatabase(db)
        return db
    }

    public func swapDatabases(_ a: Int, _ b: Int) {
        guard a != b else { return }
        write(failed: ()) { [unowned self] in
            mapping.swapAt(a, b)
            try saveMapping(wtxn)
        }
        scans.swapAt(a, b)
        scanOrder.swapAt(a, b)
    }

    /// Point-in-time views of every database, sharing one read-only transaction. An open batch is committed
    /// first so the views include its writes.
    public func snapshot() -> [any DatabaseSnapshot] {
        guard let view = makeView() else { return (0..<databaseCount).map { _ in EmptySnapshot() } }
        return (0..<databaseCount).map { LMDBSnapshot(view: view, phys: mapping[$0], count: counters[mapping[$0]]?.keys ?? 0) }
    }

    func makeView() -> ReadView? {
        if writeTxn != nil {
            do { try commitWithRecovery() } catch { lastWriteFailure = error as? LMDBError }
        }
        var txn: OpaquePointer?
        guard mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn) == 0, let txn else { return nil }
        return ReadView(handle: handle, txn: txn, tables: tables)
    }

    public func beginBatch() {
        inBatch = true
    }

    /// Commits the batch's transaction (durable when `sync` is `.always`).
    public func endBatch() throws {
        defer {
            inBatch = false
            redoLog.removeAll()
        }
        if let failure = batchFailure {
            batchFailure = nil
            throw failure
        }
        if writeTxn == nil && !pendingMetadata.isEmpty { try beginWrite() }
        if writeTxn != nil { try commitWithRecovery() }
    }

    // MARK: server metadata

    /// 's' + name in the meta table.
    static func serverMetadataKey(_ name: String) -> [UInt8] { [0x73] + Array(name.utf8) }

    public func withoutIntermediateCommits(_ body: () throws -> Void) rethrows {
        let previous = intermediateCommitsAllowed
        intermediateCommitsAllowed = false
        defer { intermediateCommitsAllowed = previous }
        try body()
    }

    public func serverMetadata(_ name: String) -> [UInt8]? {
        if let pending = pendingMetadata[name] { return pending() }
        var value: [UInt8]?
        read(()) { t in value = try t.get(tables.meta, Self.serverMetadataKey(name)) }
        return value
    }

    public func setServerMetadata(_ name: String, _ value: @escaping () -> [UInt8]) {
        pendingMetadata[name] = value
        // Outside a batch nothing else will commit it: do it now.
        if !inBatch && writeTxn == nil {
            do {
                try beginWrite()
                try commitWithRecovery()
            } catch {
                lastWriteFailure = error as? LMDBError
            }
        }
    }

    public var usedMemoryEstimate: Int { info().treeBytes }

    /// Testing only: every long name hashes alike, exercising the collision chains.
    public static var _collideLongNameHashes: Bool {
        get { Enc.collideAllHashes }
        set { Enc.collideAllHashes = newValue }
    }

    // MARK: durability and maintenance

    /// Flushes the map to disk (mdb_env_sync, forced): the server calls it once a second in `.everysec`.
    public func syncNow() throws {
        try check(mdb_env_sync(env, 1), "env_sync")
    }

    /// The last write that was refused, cleared by reading it: the core reports it as an error reply.
    public func takeLMDBWriteFailure() -> LMDBError? {
        defer { lastWriteFailure = nil }
        return lastWriteFailure
    }

    /// Deletes up to `budget` element/key records left behind by deleted or overwritten keys and flushed
    /// databases. Returns true when more garbage is left. Runs in the open batch or its own transaction.
    @discardableResult
    public func collectGarbage(budget: Int = 1_000) -> Bool {
        write(failed: true) { [unowned self] in try gcStep(budget: max(budget, 1)) }
    }

    public func info() -> LMDBInfo {
        var envInfo = MDB_envinfo()
        mdb_env_info(env, &envInfo)
        var stat = MDB_stat()
        mdb_env_stat(env, &stat)
        let psize = Int(stat.ms_psize)
        var tree = 0
        var entries: [Int] = []
        var pending = 0
        read(()) { t in
            for dbi in [tables.meta, tables.keys, tables.elems, tables.expires] {
                var s = MDB_stat()
                mdb_stat(t.ptr, dbi, &s)
                tree += (s.ms_branch_pages + s.ms_leaf_pages + s.ms_overflow_pages) * psize
                entries.append(s.ms_entries)
            }
            try t.forEach(tables.meta, from: [0x67], prefix: [0x67]) { _, _ in
                pending += 1
                return true
            }
        }
        if entries.count < 4 { entries = [0, 0, 0, 0] }
        return LMDBInfo(path: path, mapSize: envInfo.me_mapsize, maxSize: maxSize, pageSize: psize,
                        usedBytes: (envInfo.me_last_pgno + 1) * psize, treeBytes: tree,
                        lastTransactionID: envInfo.me_last_txnid, readers: Int(envInfo.me_numreaders),
                        maxReaders: Int(envInfo.me_maxreaders), keyRecords: entries[1], elementRecords: entries[2],
                        expiryRecords: entries[3], pendingGarbage: pending, syncMode: syncMode)
    }

    // MARK: persisted engine state

    static let mapKey: [UInt8] = Array("map".utf8)
    static let nextKey: [UInt8] = Array("next".utf8)

    static func counterKey(_ phys: UInt32) -> [UInt8] {
        var k: [UInt8] = [0x63]  // 'c'
        Enc.appendU32(phys, to: &k)
        return k
    }

    static func garbageVersionKey(_ v: UInt64) -> [UInt8] {
        var k: [UInt8] = [0x67, 0x76]  // "gv"
        Enc.appendU64(v, to: &k)
        return k
    }

    static func droppedKey(_ phys: UInt32) -> [UInt8] {
        var k: [UInt8] = [0x67, 0x64]  // "gd"
        Enc.appendU32(phys, to: &k)
        return k
    }

    func loadState(_ t: Txn) throws {
        mapping = []
        if let m = try t.get(tables.meta, Self.mapKey) {
            let n = Int(Enc.u32(m, 0))
            for i in 0..<n { mapping.append(Enc.u32(m, 4 + 4 * i)) }
        }
        if let n = try t.get(tables.meta, Self.nextKey) {
            nextVersion = Enc.u64(n, 0)
            nextPhys = Enc.u32(n, 8)
        } else {
            nextVersion = 1
            nextPhys = 0
        }
        counters = [:]
        for phys in mapping {
            if let c = try t.get(tables.meta, Self.counterKey(phys)) {
                counters[phys] = (Int(Enc.u64(c, 0)), Int(Enc.u64(c, 8)))
            } else {
                counters[phys] = (0, 0)
            }
        }
    }

    func saveMapping(_ t: Txn) throws {
        var m: [UInt8] = []
        Enc.appendU32(UInt32(mapping.count), to: &m)
        for p in mapping { Enc.appendU32(p, to: &m) }
        try t.put(tables.meta, Self.mapKey, m)
    }

    func saveNext(_ t: Txn) throws {
        var n: [UInt8] = []
        Enc.appendU64(nextVersion, to: &n)
        Enc.appendU32(nextPhys, to: &n)
        try t.put(tables.meta, Self.nextKey, n)
    }

    func saveCounter(_ t: Txn, _ phys: UInt32) throws {
        let c = counters[phys] ?? (0, 0)
        var v: [UInt8] = []
        Enc.appendU64(UInt64(c.keys), to: &v)
        Enc.appendU64(UInt64(c.volatile), to: &v)
        try t.put(tables.meta, Self.counterKey(phys), v)
    }

    func adjustCounters(_ phys: UInt32, keys: Int = 0, volatile: Int = 0) throws {
        var c = counters[phys] ?? (0, 0)
        c.keys += keys
        c.volatile += volatile
        counters[phys] = c
        try saveCounter(wtxn, phys)
    }

    func newVersion() throws -> UInt64 {
        let v = nextVersion
        nextVersion += 1
        try saveNext(wtxn)
        return v
    }

    /// Queues a key instance's element records for `collectGarbage`.
    func discard(version: UInt64) throws {
        guard version != 0 else { return }
        try wtxn.put(tables.meta, Self.garbageVersionKey(version), [])
    }

    /// FLUSHDB: the logical database gets a fresh, empty physical id; the old one is collected lazily.
    func dropDatabase(_ index: Int) throws {
        let old = mapping[index]
        let fresh = nextPhys
        nextPhys += 1
        mapping[index] = fresh
        counters[fresh] = (0, 0)
        counters[old] = nil
        try saveNext(wtxn)
        try saveMapping(wtxn)
        try saveCounter(wtxn, fresh)
        try wtxn.delete(tables.meta, Self.counterKey(old))
        try wtxn.put(tables.meta, Self.droppedKey(old), [])
        scans[index] = [:]
        scanOrder[index] = []
    }

    func gcStep(budget: Int) throws -> Bool {
        let t = wtxn
        var left = budget
        var dropped: [UInt32] = []
        let gd: [UInt8] = [0x67, 0x64]
        try t.forEach(tables.meta, from: gd, prefix: gd) { k, _ in
            dropped.append(Enc.u32(k, 2))
            return dropped.count < 16
        }
        for phys in dropped where left > 0 {
            let prefix = Enc.physPrefix(phys)
            let tables = self.tables
            let (n, done) = try t.deletePrefix(tables.keys, prefix, budget: left) { k, v in
                let (_, offset) = tables.name(encoded: UnsafeRawBufferPointer(rebasing: k[4...]), value: v)
                let h = Header.decode(v, at: offset, withInline: false)
                if h.ownsElements { try t.put(tables.meta, Self.garbageVersionKey(h.version), []) }
            }
            left -= n
            if done && left > 0 {
                let (m, expiriesDone) = try t.deletePrefix(tables.expires, prefix, budget: left)
                left -= m
                if expiriesDone { try t.delete(tables.meta, Self.droppedKey(phys)) }
            }
        }
        var versions: [UInt64] = []
        let gv: [UInt8] = [0x67, 0x76]
        if left > 0 {
            try t.forEach(tables.meta, from: gv, prefix: gv) { k, _ in
                versions.append(Enc.u64(k, 2))
                return versions.count < 64
            }
        }
        for v in versions where left > 0 {
            let (n, done) = try t.deletePrefix(tables.elems, Enc.versionPrefix(v), budget: left)
            left -= n
            if done { try t.delete(tables.meta, Self.garbageVersionKey(v)) }
        }
        return try t.first(tables.meta, from: [0x67], prefix: [0x67]) != nil
    }

    // MARK: transactions

    /// The open write transaction (only valid inside `write`).
    var wtxn: Txn { Txn(ptr: writeTxn!) }

    /// Runs a read against the open write transaction, or the reusable read transaction.
    func read<R>(_ fallback: R, _ body: (Txn) throws -> R) -> R {
        do {
            if let w = writeTxn { return try body(Txn(ptr: w)) }
            if !readTxnLive {
                try check(mdb_txn_renew(readTxn), "txn_renew")
                readTxnLive = true
            }
            return try body(Txn(ptr: readTxn!))
        } catch {
            return fallback
        }
    }

    func resetReadTxn() {
        if readTxnLive {
            mdb_txn_reset(readTxn)
            readTxnLive = false
        }
    }

    func beginWrite() throws {
        guard writeTxn == nil else { return }
        // Grow ahead of need: past 3/4 of the map, double it (within maxSize).
        var envInfo = MDB_envinfo()
        mdb_env_info(env, &envInfo)
        if (envInfo.me_last_pgno + 1) * pageSize > mapSize / 4 * 3 { _ = grow() }
        resetReadTxn()
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, 0, &txn), "txn_begin")
        writeTxn = txn
    }

    func commitWrite() throws {
        guard let txn = writeTxn else { return }
        // Flush some recorded access times into the records (not part of the redo log: they stay in
        // `touches` until a commit succeeds).
        var flushed: [Bytes] = []
        if !touches.isEmpty {
            let t = Txn(ptr: txn)
            let live = Set(mapping)
            for (tableKey, access) in touches.prefix(Self.touchesPerCommit) {
                flushed.append(tableKey)
                let key = tableKey.array
                guard live.contains(Enc.u32(key, 0)), var value = try t.get(tables.keys, key) else { continue }
                let long = Enc.isLong(encodedLength: key.count - 4)
                let offset = long ? 4 + Int(Enc.u32(value, 0)) : 0
                value[offset + 10] = UInt8(access.0 >> 24)
                value[offset + 11] = UInt8(truncatingIfNeeded: access.0 >> 16)
                value[offset + 12] = UInt8(truncatingIfNeeded: access.0 >> 8)
                value[offset + 13] = UInt8(truncatingIfNeeded: access.0)
                value[offset + 14] = access.1
                try t.put(tables.keys, key, value)
            }
        }
        if !pendingMetadata.isEmpty {
            let t = Txn(ptr: txn)
            for (name, value) in pendingMetadata { try t.put(tables.meta, Self.serverMetadataKey(name), value()) }
        }
        writeTxn = nil
        let rc = mdb_txn_commit(txn)
        resetReadTxn()
        try check(rc, "txn_commit")
        pendingMetadata.removeAll()
        for key in flushed { touches.removeValue(forKey: key) }
    }

    func abortWrite(reload: Bool = true) {
        if let txn = writeTxn {
            mdb_txn_abort(txn)
            writeTxn = nil
        }
        resetReadTxn()
        if reload { read(()) { try loadState($0) } }
    }

    /// Doubles the map (capped at maxSize). False when it cannot grow. No write transaction may be open.
    func grow() -> Bool {
        precondition(writeTxn == nil)
        var target = mapSize > Int.max / 2 ? Int.max : mapSize * 2
        if maxSize > 0 { target = min(target, maxSize) }
        target = target / pageSize * pageSize
        guard target > mapSize else { return false }
        resetReadTxn()
        let rc = handle.lock.exclusive { mdb_env_set_mapsize(env, target) }
        guard rc == 0 else { return false }
        var envInfo = MDB_envinfo()
        mdb_env_info(env, &envInfo)
        mapSize = envInfo.me_mapsize
        return true
    }

    /// Commits, growing the map and replaying the batch when the commit itself hits MDB_MAP_FULL.
    func commitWithRecovery() throws {
        while true {
            do {
                if writeTxn == nil {
                    try beginWrite()
                    for redo in redoLog { try redo() }
                }
                try commitWrite()
                redoLog.removeAll()
                return
            } catch {
                let lmdbError = error as? LMDBError ?? .lmdb(code: -1, operation: "\(error)")
                abortWrite()
                guard lmdbError.isMapFull, grow() else {
                    redoLog.removeAll()
                    throw lmdbError.isMapFull ? LMDBError.full(maxSize: maxSize) : lmdbError
                }
            }
        }
    }

    /// Runs one logical write. Inside a batch it joins the batch's transaction (and its redo log); outside,
    /// it commits at once. On MDB_MAP_FULL the transaction is aborted, the map doubled, and the batch's earlier
    /// writes replayed before this one is retried; when the map may not grow, the batch is restored without
    /// this write, which is refused (`lastWriteFailure`) and returns `failed`.
    @discardableResult
    func write<R>(failed: R, _ op: @escaping () throws -> R) -> R {
        var attempt = 0
        while true {
            attempt += 1
            do {
                try beginWrite()
                if attempt > 1 { for redo in redoLog { try redo() } }
                let result = try op()
                if inBatch {
                    redoLog.append { _ = try op() }
                } else {
                    try commitWrite()
                }
                if inBatch && intermediateCommitsAllowed && redoLog.count >= Self.maxBatchWrites {
                    // Commit early: bounds the redo log and the transaction's dirty pages.
                    do {
                        try commitWithRecovery()
                    } catch {
                        let failure = error as? LMDBError ?? .lmdb(code: -1, operation: "\(error)")
                        lastWriteFailure = failure
                        batchFailure = failure
                    }
                }
                return result
            } catch {
                let lmdbError = error as? LMDBError ?? .lmdb(code: -1, operation: "\(error)")
                abortWrite()
                if lmdbError.isMapFull && grow() { continue }
                lastWriteFailure = lmdbError.isMapFull ? .full(maxSize: maxSize) : lmdbError
                // Restore the batch without this write.
                if !redoLog.isEmpty {
                    do {
                        try beginWrite()
                        for redo in redoLog { try redo() }
                    } catch {
                        abortWrite()
                        redoLog.removeAll()
                        batchFailure = lastWriteFailure
                    }
                }
                return failed
            }
        }
    }
}

struct WeakDatabase {
    weak var value: LMDBDatabase?
    init(_ value: LMDBDatabase? = nil) { self.value = value }
}
