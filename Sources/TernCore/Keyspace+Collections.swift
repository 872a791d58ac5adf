import TernStorage

/// Typed element operations for the collection kinds. Each checks the kind (WRONGTYPE), applies lazy
/// expiry, counts hits and misses, records the change (dirty, WATCH, keyspace events) and then calls
/// the backend's element operation, so a per-element backend never materializes a whole collection.
extension Keyspace {
    /// The live key's metadata when it holds `kind`; nil when absent; WRONGTYPE for another kind.
    /// `read` counts a keyspace hit or miss.
    public func collection(_ key: Bytes, _ kind: ValueKind, read: Bool = true) throws -> KeyMetadata? {
        let meta = metadata(key, touch: true)
        if read {
            if meta == nil {
                server.stats.keyspaceMisses += 1
                server.notifyKeyspaceEvent(.keyMiss, "keymiss", key, db: index)
            } else {
                server.stats.keyspaceHits += 1
            }
        }
        if let meta, meta.kind != kind { throw CommandError.wrongType }
        return meta
    }

    /// Keyspace event "new" for a key an element write just created.
    @inline(__always)
    func created(_ key: Bytes) {
        guard server.wantsKeyspaceEvent(.new) else { return }
        if database.metadata(key, touch: nil) != nil { server.notifyKeyspaceEvent(.new, "new", key, db: index) }
    }

    /// Runs an element write and records the change when `changed` says it changed something.
    @inline(__always)
    func write<R>(_ key: Bytes, _ body: (any StorageDatabase) -> R, changed: (R) -> Bool) -> R {
        let result = body(database)
        if changed(result) { modified(key) }
        return result
    }

    // MARK: hashes

    public func hashGet(_ key: Bytes, _ field: Bytes) throws -> Bytes? {
        guard try collection(key, .hash) != nil else { return nil }
        return database.hashGet(key, field)
    }

    public func hashSet(_ key: Bytes, _ pairs: [(Bytes, Bytes)]) throws -> Int {
        let meta = try collection(key, .hash, read: false)
        let result = write(key, { $0.hashSet(key, pairs) }, changed: { _ in !pairs.isEmpty })
        if meta == nil { created(key) }
        let limits = server.config.encodingLimits
        let longest = limits.hashMaxListpackValue
        settleEncoding(key, before: meta, added: result, maxEntries: limits.hashMaxListpackEntries,
                       tooLong: pairs.contains { $0.0.count > longest || $0.1.count > longest },
                       existingTooLong: { database.hashAll(key).contains { $0.field.count > longest || $0.value.count > longest } })
        return result
    }

    public func hashDelete(_ key: Bytes, _ fields: [Bytes]) throws -> Int {
        guard try collection(key, .hash, read: false) != nil else { return 0 }
        return write(key, { $0.hashDelete(key, fields) }, changed: { $0 > 0 })
    }

    public func hashAll(_ key: Bytes) throws -> [(field: Bytes, value: Bytes)] {
        guard try collection(key, .hash) != nil else { return [] }
        return database.hashAll(key)
    }

    // MARK: sets

    public func setAdd(_ key: Bytes, _ members: [Bytes]) throws -> Int {
        let meta = try collection(key, .set, read: false)
        let result = write(key, { $0.setAdd(key, members) }, changed: { $0 > 0 })
        if meta == nil { created(key) }
        let notInteger: (Bytes) -> Bool = { ObjectEncoding.parseStrictInt64($0.array) == nil }
        settleEncoding(key, before: meta, added: result, maxEntries: server.config.encodingLimits.setMaxIntsetEntries,
                       tooLong: members.contains(where: notInteger),
                       existingTooLong: { database.setMembers(key).contains(where: notInteger) })
        return result
    }

    public func setRemove(_ key: Bytes, _ members: [Bytes]) throws -> Int {
        guard try collection(key, .set, read: false) != nil else { return 0 }
        return write(key, { $0.setRemove(key, members) }, changed: { $0 > 0 })
    }

    public func setContains(_ key: Bytes, _ member: Bytes) throws -> Bool {
        guard try collection(key, .set) != nil else { return false }
        return database.setContains(key, member)
    }

    public func setMembers(_ key: Bytes) throws -> [Bytes] {
        guard try collection(key, .set) != nil else { return [] }
        return database.setMembers(key)
    }

    // MARK: lists

    public func listPush(_ key: Bytes, _ values: [Bytes], at end: ListEnd) throws -> Int {
        let existed = try collection(key, .list, read: false) != nil
        let result = write(key, { $0.listPush(key, values, at: end) }, changed: { _ in !values.isEmpty })
        if !existed { created(key) }
        return result
    }

    public func listPop(_ key: Bytes, count: Int, from end: ListEnd) throws -> [Bytes] {
        guard try collection(key, .list, read: false) != nil else { return [] }
        return write(key, { $0.listPop(key, count: count, from: end) }, changed: { !$0.isEmpty })
    }

    /// LRANGE-style indexes (negative from the end), normalized here.
    public func listRange(_ key: Bytes, _ start: Int, _ stop: Int) throws -> [Bytes] {
        guard let meta = try collection(key, .list) else { return [] }
        guard let (s, e) = Self.normalize(start, stop, count: meta.count) else { return [] }
        return database.listRange(key, s, e)
    }

    public func listIndex(_ key: Bytes, _ index: Int) throws -> Bytes? {
        guard let meta = try collection(key, .list) else { return nil }
        let i = index < 0 ? meta.count + index : index
        guard i >= 0 && i < meta.count else { return nil }
        return database.listIndex(key, i)
    }

    /// LSET: false when the index is out of range (the caller replies "ERR index out of range").
    public func listSet(_ key: Bytes, _ index: Int, _ value: Bytes) throws -> Bool? {
        guard let meta = try collection(key, .list, read: false) else { return nil }
        let i = index < 0 ? meta.count + index : index
        guard i >= 0 && i < meta.count else { return false }
        return write(key, { $0.listSet(key, i, value) }, changed: { $0 })
    }

    // MARK: sorted sets

    public func zsetScore(_ key: Bytes, _ member: Bytes) throws -> Double? {
        guard try collection(key, .zset) != nil else { return nil }
        return database.zsetScore(key, member)
    }

    public func zsetAdd(_ key: Bytes, _ pairs: [(Bytes, Double)]) throws -> Int {
        let meta = try collection(key, .zset, read: false)
        let result = write(key, { $0.zsetAdd(key, pairs) }, changed: { _ in !pairs.isEmpty })
        if meta == nil { created(key) }
        let limits = server.config.encodingLimits
        let longest = limits.zsetMaxListpackValue
        settleEncoding(key, before: meta, added: result, maxEntries: limits.zsetMaxListpackEntries,
                       tooLong: pairs.contains { $0.0.count > longest },
                       existingTooLong: { database.zsetRange(key, 0, (meta?.count ?? 1) - 1).contains { $0.member.count > longest } })
        return result
    }

    public func zsetRemove(_ key: Bytes, _ members: [Bytes]) throws -> Int {
        guard try collection(key, .zset, read: false) != nil else { return 0 }
        return write(key, { $0.zsetRemove(key, members) }, changed: { $0 > 0 })
    }

    public func zsetRank(_ key: Bytes, _ member: Bytes) throws -> Int? {
        guard try collection(key, .zset) != nil else { return nil }
        return database.zsetRank(key, member)
    }

    /// ZRANGE-style rank indexes (negative from the end), normalized here.
    public func zsetRange(_ key: Bytes, _ start: Int, _ stop: Int) throws -> [(member: Bytes, score: Double)] {
        guard let meta = try collection(key, .zset) else { return [] }
        guard let (s, e) = Self.normalize(start, stop, count: meta.count) else { return [] }
        return database.zsetRange(key, s, e)
    }

    public func zsetRangeByScore(_ key: Bytes, min: ScoreBound, max: ScoreBound, reverse: Bool = false,
                                 offset: Int = 0, limit: Int? = nil) throws -> [(member: Bytes, score: Double)] {
        guard try collection(key, .zset) != nil else { return [] }
        return database.zsetRangeByScore(key, min: min, max: max, reverse: reverse, offset: offset, limit: limit)
    }

    /// Redis's start/stop normalization (negative counts from the end; clamped); nil for an empty range.
    public static func normalize(_ start: Int, _ stop: Int, count: Int) -> (Int, Int)? {
        var s = start < 0 ? count + start : start
        var e = stop < 0 ? count + stop : stop
        if s < 0 { s = 0 }
        if s > e || s >= count { return nil }
        if e >= count { e = count - 1 }
        return (s, e)
    }
}
