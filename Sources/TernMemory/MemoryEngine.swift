import HashTreeCollections
import TernStorage

/// The pure-memory backend. Each database is a persistent hash trie (`TreeDictionary`), so a snapshot
/// is an O(1) copy that shares structure with the live data; writes after it copy only the paths they touch.
public final class MemoryEngine: StorageEngine {
    public let name = "memory"
    private var databases: [MemoryDatabase]
    private let clock = AccessClock()

    public init(databases count: Int = 16) {
        precondition(count > 0)
        let clock = self.clock
        databases = (0..<count).map { _ in MemoryDatabase(clock: clock) }
    }

    public var accessClock: UInt32 {
        get { clock.now }
        set { clock.now = newValue }
    }

    public var databaseCount: Int { databases.count }

    public func database(_ index: Int) -> any StorageDatabase { databases[index] }

    public func swapDatabases(_ a: Int, _ b: Int) {
        databases.swapAt(a, b)
    }
}

/// One database of the memory backend.
public final class MemoryDatabase: StorageDatabase {
    @usableFromInline var entries = TreeDictionary<Bytes, KeyRecord>()
    /// Keys with an expiry (as Redis's `expires` dict): sampled by the active expire cycle.
    @usableFromInline var volatile = TreeDictionary<Bytes, Int64>()
    @usableFromInline let clock: AccessClock

    public init(clock: AccessClock = AccessClock()) {
        self.clock = clock
    }

    public var keyCount: Int { entries.count }
    public var volatileKeyCount: Int { volatile.count }

    @inlinable
    public func lookup(_ key: Bytes, touch: UInt32?) -> KeyRecord? {
        guard let record = entries[key] else { return nil }
        // Access times have one-second resolution (as Redis's LRU clock): mutate the trie only when the
        // second changed, so repeated reads don't copy paths or pay for an in-place update.
        guard let now = touch, record.lastAccess != now else { return record }
        return entries.updateValue(forKey: key) { stored -> KeyRecord? in
            stored?.lastAccess = now
            if let f = stored?.frequency { stored?.frequency = MemoryDatabase.incrementFrequency(f) }
            return stored
        }
    }

    /// Redis's LFU logarithmic counter increment (lfu-log-factor 10): grows quickly at first and ever more
    /// slowly. Counted at most once per key per second (see `lookup`).
    @usableFromInline
    static func incrementFrequency(_ counter: UInt8) -> UInt8 {
        if counter == 255 { return 255 }
        let base = Double(max(Int(counter) - 5, 0))
        let p = 1.0 / (base * 10 + 1)
        return Double(FastRandom.next() >> 11) * 0x1p-53 < p ? counter + 1 : counter
    }

    @discardableResult
    public func store(_ key: Bytes, _ value: StoredValue, expiry: ExpiryUpdate) -> Int64?? {
        entries.updateValue(forKey: key) { record -> Int64?? in
            let previous: Int64?? = record.map { $0.expireAt }
            switch expiry {
            case .keep:
                if record != nil {
                    record!.value = value
                    record!.lastAccess = clock.now
                } else {
                    record = KeyRecord(value: value, lastAccess: clock.now)
                }
            case .clear:
                if record?.expireAt != nil { volatile.removeValue(forKey: key) }
                record = KeyRecord(value: value, expireAt: nil, lastAccess: clock.now)
            case .at(let when):
                volatile[key] = when
                record = KeyRecord(value: value, expireAt: when, lastAccess: clock.now)
            }
            return previous
        }
    }

    public func update<R>(_ key: Bytes, _ body: (inout StoredValue?) throws -> R) rethrows -> R {
        try entries.updateValue(forKey: key) { record -> R in
            // Move the value out so the collection is uniquely referenced while `body` edits it.
            var value: StoredValue? = nil
            if record != nil {
                value = record!.value
                record!.value = .string(Bytes())
            }
            let result: R
            do {
                result = try body(&value)
            } catch {
                // The body's value stands (it was edited in place: the old one is gone); a body that left nil
                // or an empty collection removed the key, as without the throw (never the placeholder).
                if record != nil {
                    if let v = value, !v.isEmptyCollection {
                        record!.value = v
                    } else {
                        if record!.expireAt != nil { volatile.removeValue(forKey: key) }
                        record = nil
                    }
                }
                throw error
            }
            if let v = value, !v.isEmptyCollection {
                if record == nil { record = KeyRecord(value: v, lastAccess: clock.now) } else { record!.value = v }
            } else if record != nil {
                if record!.expireAt != nil { volatile.removeValue(forKey: key) }
                record = nil
            }
            return result
        }
    }

    @discardableResult
    public func setAccess(_ key: Bytes, lastAccess: UInt32, frequency: UInt8) -> Bool {
        entries.updateValue(forKey: key) { record -> Bool in
            guard record != nil else { return false }
            record!.lastAccess = lastAccess
            record!.frequency = frequency
            return true
        }
    }

    @discardableResult
    public func remove(_ key: Bytes) -> Bool {
        guard let old = entries.removeValue(forKey: key) else { return false }
        if old.expireAt != nil { volatile.removeValue(forKey: key) }
        return true
    }

    @discardableResult
    public func setExpiry(_ key: Bytes, _ expireAt: Int64?) -> Bool {
        entries.updateValue(forKey: key) { record -> Bool in
            guard record != nil else { return false }
            record!.expireAt = expireAt
            if let when = expireAt { volatile[key] = when } else { volatile.removeValue(forKey: key) }
            return true
        }
    }

    public func removeAll() {
        entries = TreeDictionary()
        volatile = TreeDictionary()
        scans.removeAll()
        scanOrder.removeAll()
    }

    /// Scans in progress: cursor token -> the trie as it was when the scan started, and the position in it.
    /// Iterating that frozen copy (O(1) to take) gives Redis's guarantee: a key present for the whole scan is
    /// returned, whatever is inserted or deleted meanwhile. Bounded: the oldest scans are forgotten first.
    private var scans: [UInt64: (trie: TreeDictionary<Bytes, KeyRecord>, position: Int)] = [:]
    private var scanOrder: [UInt64] = []
    static let maxScans = 256
    /// Tokens live above this; smaller cursors are read as plain positions (a scan that was forgotten).
    static let tokenBase: UInt64 = 1 << 40

    public func scan(cursor: UInt64, count: Int, _ visit: (Bytes) -> Void) -> UInt64 {
        var trie = entries
        var position = 0
        if cursor != 0 {
            if let state = scans.removeValue(forKey: cursor) {
                trie = state.trie
                position = state.position
                scanOrder.removeAll { $0 == cursor }
            } else {
                position = Int(cursor % MemoryDatabase.tokenBase)
            }
        }
        guard position < trie.count else { return 0 }
        var index = trie.index(trie.startIndex, offsetBy: position)
        var emitted = 0
        while index != trie.endIndex && emitted < max(count, 1) {
            let key = trie[index].key
            // Keys deleted since the scan began are not returned.
            if entries[key] != nil { visit(key) }
            trie.formIndex(after: &index)
            position += 1
            emitted += 1
        }
        if index == trie.endIndex { return 0 }
        var token: UInt64
        repeat { token = UInt64.random(in: MemoryDatabase.tokenBase..<(1 << 62)) } while scans[token] != nil
        scans[token] = (trie, position)
        scanOrder.append(token)
        if scanOrder.count > MemoryDatabase.maxScans {
            scans.removeValue(forKey: scanOrder.removeFirst())
        }
        return token
    }

    public func randomKey() -> Bytes? {
        guard !entries.isEmpty else { return nil }
        let index = entries.index(entries.startIndex, offsetBy: Int.random(in: 0..<entries.count))
        return entries[index].key
    }

    public func sampleVolatile(_ count: Int) -> [(key: Bytes, expireAt: Int64)] {
        let total = volatile.count
        guard total > 0 else { return [] }
        if total <= count { return volatile.map { ($0.key, $0.value) } }
        // A random window: cheap (one O(log n) seek) and, over many cycles, covers every key.
        let start = Int.random(in: 0..<total)
        var result: [(key: Bytes, expireAt: Int64)] = []
        result.reserveCapacity(count)
        var index = volatile.index(volatile.startIndex, offsetBy: start)
        while result.count < count {
            if index == volatile.endIndex { index = volatile.startIndex }
            let element = volatile[index]
            result.append((element.key, element.value))
            volatile.formIndex(after: &index)
        }
        return result
    }

    public func snapshot() -> any DatabaseSnapshot {
        MemorySnapshot(entries: entries)
    }

    /// The key's byte string, its value as held, and its share of the trie: the (key, record) item stored
    /// inline in a node, plus about one word of node header and bitmap per item; a key with an expiry also
    /// has an item in `volatile`.
    public func memoryUsage(_ key: Bytes, samples: Int) -> Int? {
        guard let record = entries[key] else { return nil }
        let item = MemoryLayout<Bytes>.stride + MemoryLayout<KeyRecord>.stride + MemoryLayout<Int>.stride
        let volatileItem = record.expireAt == nil ? 0
            : MemoryLayout<Bytes>.stride + MemoryLayout<Int64>.stride + MemoryLayout<Int>.stride
        return MemoryFootprint.bytes(key) + item + volatileItem + MemoryFootprint.value(record.value, samples: samples)
    }
}

/// A frozen copy of a memory database: O(1) to take, shares structure with the live trie.
public struct MemorySnapshot: DatabaseSnapshot {
    let entries: TreeDictionary<Bytes, KeyRecord>

    public var count: Int { entries.count }

    public func forEach(_ body: (Bytes, StoredValue, Int64?) throws -> Bool) rethrows {
        for (key, record) in entries {
            if try !body(key, record.value, record.expireAt) { return }
        }
    }

    /// The trie's own iterator, suspended between slices (it keeps the snapshot's nodes alive).
    public func makeCursor() -> any SnapshotCursor { MemorySnapshotCursor(entries.makeIterator()) }
}

final class MemorySnapshotCursor: SnapshotCursor {
    var iterator: TreeDictionary<Bytes, KeyRecord>.Iterator
    var pending: (key: Bytes, value: KeyRecord)?
    init(_ iterator: TreeDictionary<Bytes, KeyRecord>.Iterator) {
        self.iterator = iterator
        pending = self.iterator.next()
    }
    func next(limit: Int, _ body: (Bytes, StoredValue, Int64?) -> Void) -> Bool {
        var n = 0
        while n < max(1, limit), let (key, record) = pending {
            body(key, record.value, record.expireAt)
            pending = iterator.next()
            n += 1
        }
        return pending != nil
    }
}

/// The seconds clock shared by an engine's databases (see `StorageEngine.accessClock`).
public final class AccessClock: @unchecked Sendable {
    public var now: UInt32 = 0
    public init() {}
}

/// A cheap per-thread pseudo-random source (xorshift64*) for sampling decisions on the hot path, where the
/// system generator's syscall would cost more than the work it decides.
@usableFromInline
enum FastRandom {
    @usableFromInline static var state: UInt64 = UInt64.random(in: 1...UInt64.max)
    @inlinable
    static func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 2685821657736338717
    }
}
