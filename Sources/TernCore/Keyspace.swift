import NIOCore
import TernStorage

/// Typed keyspace operations for one database: what every command calls instead of touching a backend.
///
/// This is where Redis's db.c policy lives: lazy expiry on access (propagated as DEL), hit/miss
/// statistics, dirty counting, and the replica rule that keys are never expired locally.
public struct Keyspace {
    public let server: ServerState
    public let index: Int
    public let database: any StorageDatabase

    public init(server: ServerState, index: Int) {
        self.server = server
        self.index = index
        self.database = server.database(index)
    }

    @inline(__always) var now: Int64 { server.commandTimeMillis }

    // MARK: lookups

    /// A lookup on behalf of a reading command: counts a hit or a miss, touches access time.
    public func lookupRead(_ key: Bytes) -> KeyRecord? {
        let record = lookup(key, touch: true)
        if record == nil {
            server.stats.keyspaceMisses += 1
            server.notifyKeyspaceEvent(.keyMiss, "keymiss", key, db: index)
        } else {
            server.stats.keyspaceHits += 1
        }
        return record
    }

    /// A lookup on behalf of a writing command.
    public func lookupWrite(_ key: Bytes) -> KeyRecord? {
        lookup(key, touch: true)
    }

    /// A lookup that changes nothing about the key's metadata (TYPE-like introspection, OBJECT).
    public func peek(_ key: Bytes) -> KeyRecord? {
        lookup(key, touch: false)
    }

    @inline(__always)
    func lookup(_ key: Bytes, touch: Bool) -> KeyRecord? {
        guard let record = database.lookup(key, touch: touch ? server.lruClock : nil) else { return nil }
        if let when = record.expireAt, when < now, !masterSeesKey {
            if expire(key) { return nil }
            // On a replica the key stays until the master's DEL arrives, but reads see it as gone.
            return nil
        }
        return record
    }

    /// Deletes a key whose time has come and propagates the deletion as DEL. False on a replica.
    @discardableResult
    func expire(_ key: Bytes) -> Bool {
        // Replicas wait for the master's DEL; a paused master (CLIENT PAUSE) deletes nothing, so its replicas
        // stay consistent with it (Redis 7.0: expireIfNeeded while clients are paused).
        if server.isReplica || server.expiryPaused { return false }
        database.remove(key)
        server.stats.expiredKeys += 1
        // As Redis 7.0's propagateExpire (propagateNow): the DEL leaves at once as a unit of its own,
        // ahead of the command that found the key expired.
        server.propagateNow(Effect(db: index, arguments: [ByteBuffer(string: "DEL"), ByteBuffer(bytes: key.array)]))
        server.notifyKeyspaceEvent(.expired, "expired", key, db: index)
        server.keyModified(db: index, key: key, byServer: true)
        return true
    }

    /// Metadata only (kind, expiry, size): what a backend can answer without reading a collection.
    /// Applies lazy expiry like the full lookups.
    public func metadata(_ key: Bytes, touch: Bool) -> KeyMetadata? {
        guard let meta = database.metadata(key, touch: touch ? server.lruClock : nil) else { return nil }
        if let when = meta.expireAt, when < now, !masterSeesKey {
            expire(key)
            return nil
        }
        return meta
    }

    /// On a replica, the master's own commands see a logically expired key as it is on the master, where it
    /// exists until its DEL arrives (Redis: expireIfNeeded returns 0 for the master client).
    var masterSeesKey: Bool {
        server.isReplica && server.currentClient?.flags.contains(.master) == true
    }

    public func exists(_ key: Bytes) -> Bool { metadata(key, touch: false) != nil }

    public func kind(of key: Bytes) -> ValueKind? { metadata(key, touch: false)?.kind }

    /// The string at `key`, nil when absent, WRONGTYPE for other kinds.
    public func readString(_ key: Bytes) throws -> Bytes? {
        guard let record = lookupRead(key) else { return nil }
        guard case .string(let s) = record.value else { throw CommandError.wrongType }
        return s
    }

    // MARK: writes

    /// Stores a value (SET and friends).
    public func store(_ key: Bytes, _ value: StoredValue, expiry: ExpiryUpdate) {
        let previous = database.store(key, value, expiry: expiry)
        // Overwriting a logically expired key: account for its expiry as a lookup would have
        // (stat, DEL propagated before this command's own effect), without a second trie operation.
        if case .some(.some(let when)) = previous, when < now, !server.isReplica {
            // KEEPTTL must not inherit the TTL of the key that expired.
            if case .keep = expiry { database.setExpiry(key, nil) }
            server.stats.expiredKeys += 1
            server.propagateNow(Effect(db: index, arguments: [ByteBuffer(string: "DEL"), ByteBuffer(bytes: key.array)]))
            server.notifyKeyspaceEvent(.expired, "expired", key, db: index)
            server.notifyKeyspaceEvent(.new, "new", key, db: index)
        } else if previous == nil {
            server.notifyKeyspaceEvent(.new, "new", key, db: index)
        }
        modified(key)
    }

    /// Edits a value in place; `kind` is enforced (WRONGTYPE) for an existing value.
    /// The body sees nil for a missing (or expired) key; leaving nil or an empty collection deletes it.
    public func update<R>(_ key: Bytes, kind: ValueKind?, _ body: (inout StoredValue?) throws -> R) throws -> R {
        if let meta = metadata(key, touch: true), let kind = kind, meta.kind != kind {
            throw CommandError.wrongType
        }
        let result: R
        if server.wantsKeyspaceEvent(.new) {
            // Keyspace event "new" when the body creates the key.
            var created = false
            result = try database.update(key) { (value: inout StoredValue?) -> R in
                let absent = value == nil
                let r = try body(&value)
                created = absent && value != nil
                return r
            }
            if created { server.notifyKeyspaceEvent(.new, "new", key, db: index) }
        } else {
            result = try database.update(key, body)
        }
        modified(key)
        return result
    }

    /// Deletes a key; true when it existed (and was not expired).
    @discardableResult
    public func delete(_ key: Bytes) -> Bool {
        guard metadata(key, touch: false) != nil else { return false }
        database.remove(key)
        modified(key)
        return true
    }

    /// Sets or clears the expiry of an existing key.
    @discardableResult
    public func setExpiry(_ key: Bytes, _ expireAt: Int64?) -> Bool {
        guard metadata(key, touch: false) != nil else { return false }
        let changed = database.setExpiry(key, expireAt)
        if changed { modified(key) }
        return changed
    }

    /// Removes every key of this database.
    public func removeAll() -> Int {
        let n = database.keyCount
        // Observers run while the keys are still there (WATCH dirties only watchers of keys that existed).
        server.databaseFlushed(index)
        server.tracking?.flushed()
        database.removeAll()
        server.dirty += n
        return n
    }

    @inline(__always)
    func modified(_ key: Bytes) {
        server.dirty += 1
        server.keyModified(db: index, key: key)
    }

    /// True when `expireAt` is already in the past for this command (a SET with a past EXAT deletes).
    public func isPast(_ expireAt: Int64) -> Bool { expireAt <= now }

    public var keyCount: Int { database.keyCount }
}

extension ServerState {
    /// A key was written, deleted or expired: WATCH, client-side caching and keyspace events hang off this.
    /// `byServer`: not the running client's doing (expiry, eviction), which NOLOOP does not hide.
    public func keyModified(db: Int, key: Bytes, byServer: Bool = false) {
        for observer in keyObservers { observer(db, key) }
        tracking?.invalidate(key, bySelf: !byServer)
    }

    /// A whole database is about to be emptied (called while it still holds its keys), or is being swapped
    /// (called before and after the swap).
    public func databaseFlushed(_ db: Int) {
        // SWAPDB may have exchanged the database objects: look them up afresh.
        databaseCache[db] = engine.database(db)
        for observer in flushObservers { observer(db) }
    }

    /// The storage database at `index`, without asking the engine on every command.
    @inline(__always)
    public func database(_ index: Int) -> any StorageDatabase { databaseCache[index] }

    public func keyspace(_ index: Int) -> Keyspace { Keyspace(server: self, index: index) }
}
