import TernStorage

/// Sorted-set element operations beyond those in Keyspace+Collections.swift: lexicographic ranges, counts
/// without reading members, and the set-or-zset inputs of ZUNION/ZINTER/ZDIFF.
extension Keyspace {
    /// Scores of several members in one kind check (ZADD's read-modify-write, ZMSCORE).
    /// `read` counts a keyspace hit or miss, as a reading command's lookup does.
    public func zsetScores(_ key: Bytes, _ members: [Bytes], read: Bool) throws -> [Double?] {
        guard try collection(key, .zset, read: read) != nil else { return members.map { _ in nil } }
        return members.map { database.zsetScore(key, $0) }
    }

    public func zsetRangeByLex(_ key: Bytes, min: LexBound, max: LexBound, reverse: Bool = false,
                               offset: Int = 0, limit: Int? = nil) throws -> [(member: Bytes, score: Double)] {
        guard try collection(key, .zset) != nil else { return [] }
        return database.zsetRangeByLex(key, min: min, max: max, reverse: reverse, offset: offset, limit: limit)
    }

    public func zsetCountByScore(_ key: Bytes, min: ScoreBound, max: ScoreBound) throws -> Int {
        guard try collection(key, .zset) != nil else { return 0 }
        return database.zsetCountByScore(key, min: min, max: max)
    }

    public func zsetCountByLex(_ key: Bytes, min: LexBound, max: LexBound) throws -> Int {
        guard try collection(key, .zset) != nil else { return 0 }
        return database.zsetCountByLex(key, min: min, max: max)
    }

    /// Every member with its score, ascending, for a sorted set; every member with score 1 for a set
    /// (ZUNION and friends accept both); nil when the key is absent; WRONGTYPE for other kinds.
    /// Counts a keyspace hit or miss.
    public func zsetOrSetMembers(_ key: Bytes) throws -> [(member: Bytes, score: Double)]? {
        let meta = metadata(key, touch: true)
        if meta == nil { server.stats.keyspaceMisses += 1 } else { server.stats.keyspaceHits += 1 }
        guard let meta else { return nil }
        switch meta.kind {
        case .zset:
            return meta.count == 0 ? [] : database.zsetRange(key, 0, meta.count - 1)
        case .set:
            return database.setMembers(key).map { ($0, 1.0) }
        default:
            throw CommandError.wrongType
        }
    }
}
