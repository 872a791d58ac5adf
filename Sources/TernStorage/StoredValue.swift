import DequeModule

/// The Redis value kinds. Raw values follow the RDB object types (string 0, list 1, set 2, zset 3, hash 4).
public enum ValueKind: UInt8, Sendable, CaseIterable {
    case string = 0
    case list = 1
    case set = 2
    case zset = 3
    case hash = 4

    /// The name TYPE replies with and SCAN TYPE accepts.
    public var typeName: String {
        switch self {
        case .string: return "string"
        case .list: return "list"
        case .set: return "set"
        case .zset: return "zset"
        case .hash: return "hash"
        }
    }

    public init?(typeName: String) {
        guard let kind = ValueKind.allCases.first(where: { $0.typeName == typeName.lowercased() }) else { return nil }
        self = kind
    }
}

/// A whole value as it crosses the storage protocol (snapshots, COPY, MOVE, RENAME, RDB).
/// Collections are value types: copying one shares storage until either side writes.
public enum StoredValue: Sendable, Equatable {
    case string(Bytes)
    case list(Deque<Bytes>)
    case hash([Bytes: Bytes])
    case set(Set<Bytes>)
    case zset(SortedSetValue)

    public var kind: ValueKind {
        switch self {
        case .string: return .string
        case .list: return .list
        case .hash: return .hash
        case .set: return .set
        case .zset: return .zset
        }
    }

    /// Number of elements (string length for strings).
    public var elementCount: Int {
        switch self {
        case .string(let s): return s.count
        case .list(let l): return l.count
        case .hash(let h): return h.count
        case .set(let s): return s.count
        case .zset(let z): return z.count
        }
    }

    /// Collections that became empty are deleted, as Redis never keeps an empty aggregate.
    public var isEmptyCollection: Bool {
        switch self {
        case .string: return false
        default: return elementCount == 0
        }
    }
}

/// A sorted set: member -> score, plus members ordered by (score, member) for ranges and ranks.
public struct SortedSetValue: Sendable, Equatable {
    public struct Entry: Sendable, Equatable, Comparable {
        public var score: Double
        public var member: Bytes
        public init(score: Double, member: Bytes) { self.score = score; self.member = member }
        public static func < (a: Entry, b: Entry) -> Bool {
            a.score != b.score ? a.score < b.score : a.member < b.member
        }
    }

    public private(set) var scores: [Bytes: Double] = [:]
    /// Ascending by (score, member).
    public private(set) var ordered: [Entry] = []

    public init() {}

    public var count: Int { scores.count }

    public func score(of member: Bytes) -> Double? { scores[member] }

    /// Index of the first entry not less than `entry`.
    public func lowerBound(_ entry: Entry) -> Int {
        var lo = 0, hi = ordered.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ordered[mid] < entry { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Inserts or updates; returns true when the member is new.
    @discardableResult
    public mutating func set(_ member: Bytes, score: Double) -> Bool {
        if let old = scores[member] {
            if old == score { return false }
            ordered.remove(at: lowerBound(Entry(score: old, member: member)))
            scores[member] = score
            let entry = Entry(score: score, member: member)
            ordered.insert(entry, at: lowerBound(entry))
            return false
        }
        scores[member] = score
        let entry = Entry(score: score, member: member)
        ordered.insert(entry, at: lowerBound(entry))
        return true
    }

    @discardableResult
    public mutating func remove(_ member: Bytes) -> Bool {
        guard let old = scores.removeValue(forKey: member) else { return false }
        ordered.remove(at: lowerBound(Entry(score: old, member: member)))
        return true
    }

    /// 0-based rank in ascending order.
    public func rank(of member: Bytes) -> Int? {
        guard let s = scores[member] else { return nil }
        return lowerBound(Entry(score: s, member: member))
    }
}
