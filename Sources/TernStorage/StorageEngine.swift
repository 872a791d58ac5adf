/// How a write treats the key's time to live.
public enum ExpiryUpdate: Sendable, Equatable {
    /// Keep the existing expiry (KEEPTTL, in-place edits).
    case keep
    /// Drop any expiry (a plain SET).
    case clear
    /// Absolute unix time in milliseconds.
    case at(Int64)
}

/// A stored key as one lookup returns it: value, absolute expiry (ms) and access metadata.
public struct KeyRecord: Sendable, Equatable {
    public var value: StoredValue
    public var expireAt: Int64?
    /// Seconds clock of the last access (OBJECT IDLETIME).
    public var lastAccess: UInt32
    /// Logarithmic access counter (OBJECT FREQ).
    public var frequency: UInt8

    public init(value: StoredValue, expireAt: Int64? = nil, lastAccess: UInt32 = 0, frequency: UInt8 = 5) {
        self.value = value
        self.expireAt = expireAt
        self.lastAccess = lastAccess
        self.frequency = frequency
    }
}

/// One logical database (0..<databases). All calls happen on the server's command thread.
///
/// The protocol knows nothing of expiry *policy*: lookups return expired keys like any other, and the
/// core's keyspace layer decides (lazy expiry, replicas that never expire, propagation as DEL).
/// Element-level operations for the collection kinds have defaults built on `update`; a backend with a
/// per-element encoding overrides them.
public protocol StorageDatabase: AnyObject, CollectionStorage {
    /// Number of keys, expired-but-not-yet-deleted ones included.
    var keyCount: Int { get }
    /// Number of keys that have an expiry.
    var volatileKeyCount: Int { get }

    /// The stored record, or nil. `touch` updates access metadata (a command's lookup; not SCAN or snapshots).
    func lookup(_ key: Bytes, touch: UInt32?) -> KeyRecord?
    /// Stores `value` under `key`, replacing any value, with the given expiry treatment. Returns the expiry
    /// of the value it replaced (`.some(nil)`: replaced a value without expiry; nil: the key was new), so the
    /// caller can account for overwriting a logically expired key without a second lookup.
    @discardableResult
    func store(_ key: Bytes, _ value: StoredValue, expiry: ExpiryUpdate) -> Int64??
    /// Edits a value in place (no copy of a collection that nobody else shares). `nil` means absent;
    /// leaving nil (or an empty collection) removes the key. The expiry is kept unless the key goes away.
    func update<R>(_ key: Bytes, _ body: (inout StoredValue?) throws -> R) rethrows -> R
    /// Removes the key; true if it existed.
    @discardableResult func remove(_ key: Bytes) -> Bool
    /// Sets (absolute ms) or clears (nil) the expiry of an existing key; false when the key is absent.
    @discardableResult func setExpiry(_ key: Bytes, _ expireAt: Int64?) -> Bool
    /// Deletes every key.
    func removeAll()
    /// Overwrites the access metadata of an existing key (RESTORE's IDLETIME and FREQ); false when absent.
    @discardableResult func setAccess(_ key: Bytes, lastAccess: UInt32, frequency: UInt8) -> Bool

    /// Iterates keys from an opaque cursor (0 starts); returns the next cursor (0 when done).
    /// Keys present for the whole iteration are returned at least once.
    func scan(cursor: UInt64, count: Int, _ visit: (Bytes) -> Void) -> UInt64
    /// A uniformly chosen key, or nil when empty.
    func randomKey() -> Bytes?
    /// Up to `count` randomly chosen keys that have an expiry, with their expiry (for the active expire cycle).
    func sampleVolatile(_ count: Int) -> [(key: Bytes, expireAt: Int64)]

    /// A point-in-time view that later writes don't change and that doesn't block writers.
    func snapshot() -> any DatabaseSnapshot

    /// Bytes the key, its value and its entry take in this backend (MEMORY USAGE), a collection measured from
    /// at most `samples` of its elements and extrapolated; nil when the key is absent (expired-but-present
    /// keys count, as in Redis). The default measures the value as `StoredValue` holds it.
    func memoryUsage(_ key: Bytes, samples: Int) -> Int?
}

/// A point-in-time, iterable view of one database.
///
/// A memory-backend snapshot shares structure with the live data and is reference-counted non-atomically
/// (see README, Threading): consume it on the command thread. A backend whose snapshots may be read from
/// another thread says so (LMDB's are read transactions).
public protocol DatabaseSnapshot: Sendable {
    var count: Int { get }
    /// Visits every key with its value and expiry; stop early by returning false.
    func forEach(_ body: (Bytes, StoredValue, Int64?) throws -> Bool) rethrows
    /// A resumable walk over the same entries (see `SnapshotCursor`).
    func makeCursor() -> any SnapshotCursor
}

/// A resumable walk over a snapshot, so a long job (a full resync's RDB) can run in slices between the
/// clients' commands. Same threading rule as the snapshot it comes from.
public protocol SnapshotCursor: AnyObject {
    /// Visits up to `limit` more entries; returns false when no entries are left after them.
    func next(limit: Int, _ body: (Bytes, StoredValue, Int64?) -> Void) -> Bool
}

extension DatabaseSnapshot {
    /// The default cursor collects the entries with `forEach` up front; backends with an iterator they can
    /// suspend override it.
    public func makeCursor() -> any SnapshotCursor {
        var entries: [(Bytes, StoredValue, Int64?)] = []
        entries.reserveCapacity(count)
        forEach { key, value, expiry in
            entries.append((key, value, expiry))
            return true
        }
        return ArraySnapshotCursor(entries)
    }
}

/// One key of a snapshot walk.
public struct SnapshotItem {
    public var key: Bytes
    public var value: StoredValue
    public var expireAt: Int64?
    public init(key: Bytes, value: StoredValue, expireAt: Int64?) {
        self.key = key
        self.value = value
        self.expireAt = expireAt
    }
}

extension SnapshotCursor {
    /// One entry at a time: nil once the walk is done.
    public func next() -> SnapshotItem? {
        var item: SnapshotItem?
        _ = next(limit: 1) { key, value, expireAt in item = SnapshotItem(key: key, value: value, expireAt: expireAt) }
        return item
    }
}

/// A cursor over entries already in memory.
public final class ArraySnapshotCursor: SnapshotCursor {
    private var entries: [(Bytes, StoredValue, Int64?)]
    private var position = 0
    public init(_ entries: [(Bytes, StoredValue, Int64?)]) { self.entries = entries }
    public func next(limit: Int, _ body: (Bytes, StoredValue, Int64?) -> Void) -> Bool {
        let end = min(entries.count, position + max(1, limit))
        while position < end {
            let (k, v, e) = entries[position]
            body(k, v, e)
            position += 1
        }
        let more = position < entries.count
        if !more { entries = [] }
        return more
    }
}

/// How the server must drive a backend's batches (see `beginBatch`/`endBatch`).
public enum BatchMode: Sendable {
    /// Nothing to commit (memory).
    case none
    /// Commit each batch; replies may leave before the commit (no sync on commit).
    case commit
    /// Commit and sync each batch; a write is acknowledged only after `endBatch` returned.
    case durable
}

/// A storage backend: a fixed number of databases.
public protocol StorageEngine: AnyObject {
    /// "memory", "lmdb", ...
    var name: String { get }
    var databaseCount: Int { get }
    func database(_ index: Int) -> any StorageDatabase
    /// SWAPDB.
    func swapDatabases(_ a: Int, _ b: Int)
    /// Point-in-time views of every database, taken at the same instant (the snapshot producer).
    func snapshot() -> [any DatabaseSnapshot]
    /// Called once before and after each batch of commands the server executes together (a read batch
    /// across connections). A durable backend commits and syncs in `endBatch`; the server releases the
    /// batch's replies after it returns.
    func beginBatch()
    func endBatch() throws
    /// Bytes used by the stored data, as far as the backend can tell (INFO memory).
    var usedMemoryEstimate: Int { get }
    /// The seconds clock new records are stamped with (their `lastAccess`), as Redis stamps new objects
    /// with its LRU clock. The core sets it before each command.
    var accessClock: UInt32 { get set }

    var batchMode: BatchMode { get }
    /// True while the open batch holds writes that are not committed yet.
    var hasUncommittedWrites: Bool { get }
    /// A write the backend refused since the last call (e.g. the store is full): the command that made it
    /// gets this error instead of its reply and is not propagated.
    func takeWriteFailure() -> Error?
    /// Asked before a command that may grow the store (Redis's denyoom commands): an error when the backend is
    /// nearly out of space, so growth is refused up front while deletions can still run.
    func growthRefusal() -> Error?
    /// Periodic housekeeping from the server cron (garbage collection, periodic sync).
    func maintenance()
    /// Fields for INFO persistence (name, value), Redis style.
    var infoFields: [(String, String)] { get }
    /// Flushes and closes; called once at shutdown.
    func close()

    /// Server state kept with the data, read at start-up (the replication id and offset). nil when absent or
    /// when the backend doesn't persist (memory).
    func serverMetadata(_ name: String) -> [UInt8]?
    /// Records server state to be committed atomically with the writes of the current batch (a durable
    /// backend writes it in the same transaction, so a restarted node's replication offset matches its data).
    /// `value` is read when the transaction commits: callers may register it on every write at no cost.
    func setServerMetadata(_ name: String, _ value: @escaping () -> [UInt8])
    /// Runs `body` inside the open batch with no intermediate commit, however many writes it makes, so a
    /// durable backend commits all of it or nothing (a replica replacing its dataset with a full resync).
    func withoutIntermediateCommits(_ body: () throws -> Void) rethrows
}

extension StorageEngine {
    public func beginBatch() {}
    public func endBatch() throws {}
    public var batchMode: BatchMode { .none }
    public var hasUncommittedWrites: Bool { false }
    public func takeWriteFailure() -> Error? { nil }
    public func growthRefusal() -> Error? { nil }
    public func maintenance() {}
    public var infoFields: [(String, String)] { [] }
    public func close() {}
    public func snapshot() -> [any DatabaseSnapshot] {
        (0..<databaseCount).map { database($0).snapshot() }
    }
    public var usedMemoryEstimate: Int { 0 }
    public func serverMetadata(_ name: String) -> [UInt8]? { nil }
    public func setServerMetadata(_ name: String, _ value: @escaping () -> [UInt8]) {}
    public func setServerMetadata(_ name: String, _ value: [UInt8]) { setServerMetadata(name, { value }) }
    public func withoutIntermediateCommits(_ body: () throws -> Void) rethrows { try body() }
}

extension StorageDatabase {
    public func memoryUsage(_ key: Bytes, samples: Int) -> Int? {
        guard let record = lookup(key, touch: nil) else { return nil }
        return MemoryFootprint.bytes(key) + MemoryLayout<KeyRecord>.stride + MemoryLayout<Bytes>.stride
            + MemoryFootprint.value(record.value, samples: samples)
    }

    public func exists(_ key: Bytes) -> Bool { lookup(key, touch: nil) != nil }
    public func kind(of key: Bytes) -> ValueKind? { lookup(key, touch: nil)?.value.kind }
}
