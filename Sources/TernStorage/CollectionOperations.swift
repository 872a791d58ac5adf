import DequeModule

/// What a lookup that doesn't need the value returns: enough for TYPE, TTL, kind checks and sizes, so a
/// backend with a per-element encoding never reads a whole collection to answer it.
public struct KeyMetadata: Sendable, Equatable {
    public var kind: ValueKind
    public var expireAt: Int64?
    public var lastAccess: UInt32
    public var frequency: UInt8
    /// Elements in a collection; byte length of a string.
    public var count: Int
    public var encoding: EncodingState

    public init(kind: ValueKind, expireAt: Int64?, lastAccess: UInt32, frequency: UInt8, count: Int,
                encoding: EncodingState = .derived) {
        self.kind = kind
        self.expireAt = expireAt
        self.lastAccess = lastAccess
        self.frequency = frequency
        self.count = count
        self.encoding = encoding
    }
}

public enum ListEnd: Sendable {
    case head
    case tail
}

/// One end of a score range (ZRANGEBYSCORE's `(1.5` is exclusive).
public struct ScoreBound: Sendable, Equatable {
    public var value: Double
    public var exclusive: Bool
    public init(_ value: Double, exclusive: Bool = false) {
        self.value = value
        self.exclusive = exclusive
    }
    public static let negativeInfinity = ScoreBound(-.infinity)
    public static let positiveInfinity = ScoreBound(.infinity)
}

/// One end of a lexicographic range (ZRANGEBYLEX's `-`, `+`, `[a` inclusive, `(a` exclusive).
public enum LexBound: Sendable, Equatable {
    case negativeInfinity
    case positiveInfinity
    case inclusive(Bytes)
    case exclusive(Bytes)

    /// True when `member` is at or above this bound taken as a minimum.
    public func admitsAsMin(_ member: Bytes) -> Bool {
        switch self {
        case .negativeInfinity: return true
        case .positiveInfinity: return false
        case .inclusive(let b): return !(member < b)
        case .exclusive(let b): return b < member
        }
    }

    /// True when `member` is at or below this bound taken as a maximum.
    public func admitsAsMax(_ member: Bytes) -> Bool {
        switch self {
        case .negativeInfinity: return false
        case .positiveInfinity: return true
        case .inclusive(let b): return !(b < member)
        case .exclusive(let b): return member < b
        }
    }
}

/// Element-level operations on collections. Every backend gets them through defaults built on
/// `lookup`/`update`; a backend that stores one record per element overrides them so a single-element
/// operation costs O(log n), not O(n).
///
/// Callers (the core's keyspace layer) have already checked that the key is absent or of the right kind
/// and not expired. Writes create the key when absent and remove it when a collection becomes empty,
/// keeping its expiry otherwise. Indexes are already normalized (non-negative, inclusive, clamped).
public protocol CollectionStorage {
    func metadata(_ key: Bytes, touch: UInt32?) -> KeyMetadata?

    func hashGet(_ key: Bytes, _ field: Bytes) -> Bytes?
    /// Sets fields; returns how many were new.
    func hashSet(_ key: Bytes, _ pairs: [(Bytes, Bytes)]) -> Int
    func hashDelete(_ key: Bytes, _ fields: [Bytes]) -> Int
    func hashAll(_ key: Bytes) -> [(field: Bytes, value: Bytes)]

    func setAdd(_ key: Bytes, _ members: [Bytes]) -> Int
    func setRemove(_ key: Bytes, _ members: [Bytes]) -> Int
    func setContains(_ key: Bytes, _ member: Bytes) -> Bool
    func setMembers(_ key: Bytes) -> [Bytes]

    /// Pushes one by one (LPUSH a b c leaves c at the head); returns the new length.
    func listPush(_ key: Bytes, _ values: [Bytes], at end: ListEnd) -> Int
    func listPop(_ key: Bytes, count: Int, from end: ListEnd) -> [Bytes]
    func listRange(_ key: Bytes, _ start: Int, _ stop: Int) -> [Bytes]
    func listIndex(_ key: Bytes, _ index: Int) -> Bytes?
    /// False when the index is out of range.
    func listSet(_ key: Bytes, _ index: Int, _ value: Bytes) -> Bool

    func zsetScore(_ key: Bytes, _ member: Bytes) -> Double?
    /// Sets scores; returns how many members were new.
    func zsetAdd(_ key: Bytes, _ pairs: [(Bytes, Double)]) -> Int
    func zsetRemove(_ key: Bytes, _ members: [Bytes]) -> Int
    /// 0-based rank in ascending (score, member) order.
    func zsetRank(_ key: Bytes, _ member: Bytes) -> Int?
    /// Ascending by rank, `start...stop`.
    func zsetRange(_ key: Bytes, _ start: Int, _ stop: Int) -> [(member: Bytes, score: Double)]
    /// Members with min <= score <= max (bounds may be exclusive), ascending; `reverse` walks from max.
    func zsetRangeByScore(_ key: Bytes, min: ScoreBound, max: ScoreBound, reverse: Bool, offset: Int, limit: Int?)
        -> [(member: Bytes, score: Double)]
    /// Members between two lexicographic bounds, in (score, member) order (meaningful when all scores are
    /// equal, as Redis documents); `reverse` walks from max. Offset and limit as for `zsetRangeByScore`.
    func zsetRangeByLex(_ key: Bytes, min: LexBound, max: LexBound, reverse: Bool, offset: Int, limit: Int?)
        -> [(member: Bytes, score: Double)]
    /// How many members have min <= score <= max (ZCOUNT), without reading them.
    func zsetCountByScore(_ key: Bytes, min: ScoreBound, max: ScoreBound) -> Int
    /// How many members lie between two lexicographic bounds (ZLEXCOUNT), without reading them.
    func zsetCountByLex(_ key: Bytes, min: LexBound, max: LexBound) -> Int
}

extension StorageDatabase {
    public func metadata(_ key: Bytes, touch: UInt32?) -> KeyMetadata? {
        guard let r = lookup(key, touch: touch) else { return nil }
        return KeyMetadata(kind: r.value.kind, expireAt: r.expireAt, lastAccess: r.lastAccess,
                           frequency: r.frequency, count: r.value.elementCount, encoding: r.encoding)
    }

    // MARK: hash

    public func hashGet(_ key: Bytes, _ field: Bytes) -> Bytes? {
        guard case .hash(let h)? = lookup(key, touch: nil)?.value else { return nil }
        return h[field]
    }

    public func hashSet(_ key: Bytes, _ pairs: [(Bytes, Bytes)]) -> Int {
        update(key) { value -> Int in
            var h: [Bytes: Bytes] = [:]
            if case .hash(let existing)? = value { h = existing }
            value = nil
            var added = 0
            for (f, v) in pairs where h.updateValue(v, forKey: f) == nil { added += 1 }
            value = .hash(h)
            return added
        }
    }

    public func hashDelete(_ key: Bytes, _ fields: [Bytes]) -> Int {
        update(key) { value -> Int in
            guard case .hash(var h)? = value else { return 0 }
            value = nil
            var removed = 0
            for f in fields where h.removeValue(forKey: f) != nil { removed += 1 }
            value = .hash(h)
            return removed
        }
    }

    public func hashAll(_ key: Bytes) -> [(field: Bytes, value: Bytes)] {
        guard case .hash(let h)? = lookup(key, touch: nil)?.value else { return [] }
        return h.map { ($0.key, $0.value) }
    }

    // MARK: set

    public func setAdd(_ key: Bytes, _ members: [Bytes]) -> Int {
        update(key) { value -> Int in
            var s: Set<Bytes> = []
            if case .set(let existing)? = value { s = existing }
            value = nil
            var added = 0
            for m in members where s.insert(m).inserted { added += 1 }
            value = .set(s)
            return added
        }
    }

    public func setRemove(_ key: Bytes, _ members: [Bytes]) -> Int {
        update(key) { value -> Int in
            guard case .set(var s)? = value else { return 0 }
            value = nil
            var removed = 0
            for m in members where s.remove(m) != nil { removed += 1 }
            value = .set(s)
            return removed
        }
    }

    public func setContains(_ key: Bytes, _ member: Bytes) -> Bool {
        guard case .set(let s)? = lookup(key, touch: nil)?.value else { return false }
        return s.contains(member)
    }

    public func setMembers(_ key: Bytes) -> [Bytes] {
        guard case .set(let s)? = lookup(key, touch: nil)?.value else { return [] }
        return Array(s)
    }

    // MARK: list

    public func listPush(_ key: Bytes, _ values: [Bytes], at end: ListEnd) -> Int {
        update(key) { value -> Int in
            var l: Deque<Bytes> = []
            if case .list(let existing)? = value { l = existing }
            value = nil
            for v in values {
                if end == .head { l.prepend(v) } else { l.append(v) }
            }
            value = .list(l)
            return l.count
        }
    }

    public func listPop(_ key: Bytes, count: Int, from end: ListEnd) -> [Bytes] {
        update(key) { value -> [Bytes] in
            guard case .list(var l)? = value else { return [] }
            value = nil
            var out: [Bytes] = []
            out.reserveCapacity(min(count, l.count))
            while out.count < count, let v = (end == .head ? l.popFirst() : l.popLast()) { out.append(v) }
            value = .list(l)
            return out
        }
    }

    public func listRange(_ key: Bytes, _ start: Int, _ stop: Int) -> [Bytes] {
        guard case .list(let l)? = lookup(key, touch: nil)?.value, start <= stop, start < l.count else { return [] }
        return Array(l[start...min(stop, l.count - 1)])
    }

    public func listIndex(_ key: Bytes, _ index: Int) -> Bytes? {
        guard case .list(let l)? = lookup(key, touch: nil)?.value, index >= 0, index < l.count else { return nil }
        return l[index]
    }

    public func listSet(_ key: Bytes, _ index: Int, _ element: Bytes) -> Bool {
        update(key) { value -> Bool in
            guard case .list(var l)? = value else { return false }
            guard index >= 0 && index < l.count else { return false }
            value = nil
            l[index] = element
            value = .list(l)
            return true
        }
    }

    // MARK: sorted set

    public func zsetScore(_ key: Bytes, _ member: Bytes) -> Double? {
        guard case .zset(let z)? = lookup(key, touch: nil)?.value else { return nil }
        return z.score(of: member)
    }

    public func zsetAdd(_ key: Bytes, _ pairs: [(Bytes, Double)]) -> Int {
        update(key) { value -> Int in
            var z = SortedSetValue()
            if case .zset(let existing)? = value { z = existing }
            value = nil
            var added = 0
            for (m, s) in pairs where z.set(m, score: s) { added += 1 }
            value = .zset(z)
            return added
        }
    }

    public func zsetRemove(_ key: Bytes, _ members: [Bytes]) -> Int {
        update(key) { value -> Int in
            guard case .zset(var z)? = value else { return 0 }
            value = nil
            var removed = 0
            for m in members where z.remove(m) { removed += 1 }
            value = .zset(z)
            return removed
        }
    }

    public func zsetRank(_ key: Bytes, _ member: Bytes) -> Int? {
        guard case .zset(let z)? = lookup(key, touch: nil)?.value else { return nil }
        return z.rank(of: member)
    }

    public func zsetRange(_ key: Bytes, _ start: Int, _ stop: Int) -> [(member: Bytes, score: Double)] {
        guard case .zset(let z)? = lookup(key, touch: nil)?.value, start <= stop, start < z.count else { return [] }
        return z.entries(inRanks: start..<(min(stop, z.count - 1) + 1)).map { ($0.member, $0.score) }
    }

    public func zsetRangeByScore(_ key: Bytes, min: ScoreBound, max: ScoreBound, reverse: Bool, offset: Int,
                                 limit: Int?) -> [(member: Bytes, score: Double)] {
        guard case .zset(let z)? = lookup(key, touch: nil)?.value else { return [] }
        let (first, end) = z.ranks(min: min, max: max)
        return Self.zsetSlice(z, first, end, reverse: reverse, offset: offset, limit: limit)
    }

    public func zsetRangeByLex(_ key: Bytes, min: LexBound, max: LexBound, reverse: Bool, offset: Int,
                               limit: Int?) -> [(member: Bytes, score: Double)] {
        guard case .zset(let z)? = lookup(key, touch: nil)?.value else { return [] }
        let (first, end) = z.ranks(min: min, max: max)
        return Self.zsetSlice(z, first, end, reverse: reverse, offset: offset, limit: limit)
    }

    public func zsetCountByScore(_ key: Bytes, min: ScoreBound, max: ScoreBound) -> Int {
        guard case .zset(let z)? = lookup(key, touch: nil)?.value else { return 0 }
        let (first, end) = z.ranks(min: min, max: max)
        return Swift.max(0, end - first)
    }

    public func zsetCountByLex(_ key: Bytes, min: LexBound, max: LexBound) -> Int {
        guard case .zset(let z)? = lookup(key, touch: nil)?.value else { return 0 }
        let (first, end) = z.ranks(min: min, max: max)
        return Swift.max(0, end - first)
    }

    /// Ranks `first..<end`, skipping `offset` from the walking end and taking at most `limit`.
    static func zsetSlice(_ z: SortedSetValue, _ first: Int, _ end: Int, reverse: Bool, offset: Int,
                          limit: Int?) -> [(member: Bytes, score: Double)] {
        guard first < end, offset >= 0, offset < end - first else { return [] }
        let wanted = Swift.min(limit ?? Int.max, end - first - offset)
        guard wanted > 0 else { return [] }
        var out: [(member: Bytes, score: Double)] = []
        out.reserveCapacity(wanted)
        z.forEach(fromRank: reverse ? end - 1 - offset : first + offset, reverse: reverse) { e in
            out.append((e.member, e.score))
            return out.count < wanted
        }
        return out
    }
}

extension SortedSetValue {
    /// The ranks `first..<end` of the entries with scores inside the bounds.
    public func ranks(min: ScoreBound, max: ScoreBound) -> (Int, Int) {
        let first = partitionIndex { min.exclusive ? $0.score > min.value : $0.score >= min.value }
        let end = partitionIndex { max.exclusive ? $0.score >= max.value : $0.score > max.value }
        return (first, end)
    }

    /// The ranks `first..<end` of the members between two lexicographic bounds (a binary search, so the
    /// answer is the documented one when all scores are equal).
    public func ranks(min: LexBound, max: LexBound) -> (Int, Int) {
        let first = partitionIndex { min.admitsAsMin($0.member) }
        let end = partitionIndex { !max.admitsAsMax($0.member) }
        return (first, end)
    }
}
