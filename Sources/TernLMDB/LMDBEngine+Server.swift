import CLMDB
import TernStorage
#if canImport(Glibc)
import Glibc
#endif

/// What the server drives: batches, refused writes, housekeeping, INFO.
extension LMDBEngine {
    /// `always`: a write is acknowledged only after its batch's commit synced it. Otherwise replies may leave
    /// before the commit (the data reaches the disk at the next periodic sync).
    public var batchMode: BatchMode { syncMode == .always ? .durable : .commit }

    public func takeWriteFailure() -> Error? { takeLMDBWriteFailure() }

    public var hasUncommittedWrites: Bool { writeTxn != nil }

    /// With `lmdb-max-size` set and the map at its limit, commands that may grow the store are refused once
    /// the file is 80% used: the rest stays for deletions and for the commit's own pages, so a full store
    /// refuses writes with an error reply instead of failing commits.
    public func growthRefusal() -> Error? {
        guard maxSize > 0, mapSize >= maxSize else { return nil }
        var envInfo = MDB_envinfo()
        mdb_env_info(env, &envInfo)
        let used = (envInfo.me_last_pgno + 1) * pageSize
        return used * 5 > maxSize * 4 ? LMDBError.full(maxSize: maxSize) : nil
    }

    /// From the server cron (10 times a second by default): lazy cleanup of deleted big keys in bounded steps,
    /// and in `everysec` mode one forced sync per second.
    public func maintenance() {
        collectGarbage(budget: 1_000)
        guard syncMode == .everysec else { return }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        if now.tv_sec != lastPeriodicSync {
            lastPeriodicSync = now.tv_sec
            try? syncNow()
        }
    }

    public var infoFields: [(String, String)] {
        let i = info()
        return [
            ("lmdb_path", i.path),
            ("lmdb_sync", i.syncMode.rawValue),
            ("lmdb_map_size", String(i.mapSize)),
            ("lmdb_max_size", String(i.maxSize)),
            ("lmdb_page_size", String(i.pageSize)),
            ("lmdb_used_bytes", String(i.usedBytes)),
            ("lmdb_used_pages", String(i.usedBytes / max(i.pageSize, 1))),
            ("lmdb_tree_bytes", String(i.treeBytes)),
            ("lmdb_key_records", String(i.keyRecords)),
            ("lmdb_element_records", String(i.elementRecords)),
            ("lmdb_expiry_records", String(i.expiryRecords)),
            ("lmdb_pending_garbage", String(i.pendingGarbage)),
            ("lmdb_readers", String(i.readers)),
            ("lmdb_last_txnid", String(i.lastTransactionID)),
        ]
    }
}
