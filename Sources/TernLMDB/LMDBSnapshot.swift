import CLMDB
import TernStorage

/// A read-only LMDB transaction (MDB_RDONLY) kept open for the life of a snapshot: a consistent view
/// that never blocks the writer. While it is open LMDB cannot reuse pages freed after it began, so the file
/// grows with the writes made meanwhile (never shrinking; the space is reused once the view is gone).
final class ReadView: @unchecked Sendable {
    let handle: EnvHandle
    let txn: OpaquePointer
    let tables: Tables

    init(handle: EnvHandle, txn: OpaquePointer, tables: Tables) {
        self.handle = handle
        self.txn = txn
        self.tables = tables
    }

    deinit {
        mdb_txn_abort(txn)
    }
}

/// A point-in-time view of one database. `forEach` may run on any thread: it reads in chunks of keys under
/// the engine's remap lock (the map can be resized between chunks) and materializes values as it goes.
public struct LMDBSnapshot: DatabaseSnapshot {
    let view: ReadView
    let phys: UInt32
    public let count: Int

    static let chunk = 64

    public func forEach(_ body: (Bytes, StoredValue, Int64?) throws -> Bool) rethrows {
        let cursor = LMDBSnapshotCursor(self)
        var chunk: [(Bytes, StoredValue, Int64?)] = []
        var more = true
        while more {
            chunk.removeAll(keepingCapacity: true)
            more = cursor.next(limit: Self.chunk) { chunk.append(($0, $1, $2)) }
            for (key, value, expiry) in chunk where try !body(key, value, expiry) { return }
        }
    }

    public func makeCursor() -> any SnapshotCursor { LMDBSnapshotCursor(self) }
}

/// Resumes from the last key read, in chunks read under the remap lock (like `forEach`).
final class LMDBSnapshotCursor: SnapshotCursor, @unchecked Sendable {
    let snapshot: LMDBSnapshot
    var start: [UInt8]
    let ns: [UInt8]
    var done = false
    init(_ snapshot: LMDBSnapshot) {
        self.snapshot = snapshot
        ns = Enc.physPrefix(snapshot.phys)
        start = ns
    }
    func next(limit: Int, _ body: (Bytes, StoredValue, Int64?) -> Void) -> Bool {
        guard !done else { return false }
        let view = snapshot.view
        var entries: [(Bytes, StoredValue, Int64?)] = []
        var more = false
        let wanted = max(1, limit)
        let ns = self.ns
        var start = self.start
        view.handle.lock.shared {
            let t = Txn(ptr: view.txn)
            let tables = view.tables
            try? t.forEach(tables.keys, from: start, prefix: ns) { k, v in
                if entries.count == wanted {
                    more = true
                    return false
                }
                let encoded = UnsafeRawBufferPointer(rebasing: k[4...])
                let (name, offset) = tables.name(encoded: encoded, value: v)
                let header = Header.decode(v, at: offset)
                let value = try tables.materialize(t, header)
                entries.append((Bytes(name), value, header.expireAt))
                start = [UInt8](k) + [0]
                return true
            }
        }
        self.start = start
        for (key, value, expiry) in entries { body(key, value, expiry) }
        done = !more
        return more
    }
}

/// What a snapshot is when no read transaction could be opened.
struct EmptySnapshot: DatabaseSnapshot {
    var count: Int { 0 }
    func forEach(_ body: (Bytes, StoredValue, Int64?) throws -> Bool) rethrows {}
}
