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
    /// A resumable walk over the same keys, so a consumer can spread the work over several event-loop
    /// passes (BGSAVE of the memory backend). The default collects everything up front.
    func makeCursor() -> SnapshotCursor
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

/// A position in a snapshot walk: `next()` until nil.
public struct SnapshotCursor {
    let step: () -> SnapshotItem?
    public init(_ step: @escaping () -> SnapshotItem?) { self.step = step }
    public func next() -> SnapshotItem? { step() }
}

extension DatabaseSnapshot {
    public func makeCursor() -> SnapshotCursor {
        var items: [SnapshotItem] = []
        items.reserveCapacity(count)
        forEach { key, value, expireAt in
            items.append(SnapshotItem(key: key, value: value, expireAt: expireAt))
            return true
        }
        var index = 0
        return SnapshotCursor {
            guard index < items.count else { return nil }
            defer { index += 1 }
            return items[index]
        }
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
}

extension StorageDatabase {
    public func exists(_ key: Bytes) -> Bool { lookup(key, touch: nil) != nil }
    public func kind(of key: Bytes) -> ValueKind? { lookup(key, touch: nil)?.value.kind }
}
