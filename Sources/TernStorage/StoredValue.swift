import DequeModule

/// The Redis value kinds. Raw values follow Redis's object types (string 0, list 1, set 2, zset 3, hash 4,
/// stream 6).
public enum ValueKind: UInt8, Sendable, CaseIterable {
    case string = 0
    case list = 1
    case set = 2
    case zset = 3
    case hash = 4
    case stream = 6

    /// The name TYPE replies with and SCAN TYPE accepts.
    public var typeName: String {
        switch self {
        case .string: return "string"
        case .list: return "list"
        case .set: return "set"
        case .zset: return "zset"
        case .hash: return "hash"
        case .stream: return "stream"
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
    case stream(StreamValue)

    public var kind: ValueKind {
        switch self {
        case .string: return .string
        case .list: return .list
        case .hash: return .hash
        case .set: return .set
        case .zset: return .zset
        case .stream: return .stream
        }
    }

    /// Number of elements (string length for strings, entries for streams).
    public var elementCount: Int {
        switch self {
        case .string(let s): return s.count
        case .list(let l): return l.count
        case .hash(let h): return h.count
        case .set(let s): return s.count
        case .zset(let z): return z.count
        case .stream(let s): return s.length
        }
    }

    /// Collections that became empty are deleted, as Redis never keeps an empty aggregate.
    public var isEmptyCollection: Bool {
        switch self {
        case .string, .stream: return false  // an empty stream is a key like any other
        default: return elementCount == 0
        }
    }
}
