import TernStorage

/// The name OBJECT ENCODING reports for a value, as Redis 7.0 would choose it.
///
/// Tern stores every kind one way; the reported name follows Redis 7.0's conversions. Hashes and sorted sets
/// start as "listpack", sets of integers as "intset"; a write that takes one past its threshold
/// (hash-max-listpack-entries/-value, set-max-intset-entries or a non-integer member, zset-max-listpack-*)
/// converts it to "hashtable" / "skiplist" for good, as Redis never converts back. Strings are "int", "embstr"
/// (up to 44 bytes) or "raw", and stay "raw" once edited in place (APPEND, SETRANGE). Lists are always
/// "quicklist" in Redis 7.0. The keyspace records each key's state with the key (`EncodingState`, through the
/// storage protocol); a key without one (after a restart or a load) is derived from its contents and the
/// current thresholds, as Redis's loading does.
public enum ObjectEncoding {
    /// The conversion thresholds (redis.conf names in the comments), Redis 7.0's compiled-in defaults.
    public struct Limits: Sendable, Equatable {
        /// hash-max-listpack-entries: 512 built in (config.c), which a redis-server started without a config
        /// file reports; the sample redis.conf sets 128.
        public var hashMaxListpackEntries: Int = 512
        /// hash-max-listpack-value
        public var hashMaxListpackValue: Int = 64
        /// set-max-intset-entries
        public var setMaxIntsetEntries: Int = 512
        /// zset-max-listpack-entries
        public var zsetMaxListpackEntries: Int = 128
        /// zset-max-listpack-value
        public var zsetMaxListpackValue: Int = 64

        public init() {}
        public static let defaults = Limits()
    }

    /// Longest string stored as "embstr" (OBJ_ENCODING_EMBSTR_SIZE_LIMIT).
    public static let embstrSizeLimit = 44
    /// Integers in 0..<sharedIntegers share one object (OBJ_SHARED_INTEGERS).
    public static let sharedIntegers: Int64 = 10000
    /// The refcount Redis reports for a shared object (OBJ_SHARED_REFCOUNT, INT_MAX).
    public static let sharedRefcount = 2_147_483_647

    public static func name(of value: StoredValue, state: EncodingState = .derived, limits: Limits = .defaults) -> String {
        switch value {
        case .string(let s):
            return state == .converted ? "raw" : stringEncoding(s.array)
        case .list:
            return "quicklist"
        case .stream:
            return "stream"
        case .hash, .set, .zset:
            let converted: Bool
            switch state {
            case .converted: converted = true
            case .compact: converted = false
            case .derived: converted = exceedsCompact(value, limits: limits)
            }
            switch value.kind {
            case .hash, .set: return converted ? "hashtable" : (value.kind == .set ? "intset" : "listpack")
            default: return converted ? "skiplist" : "listpack"
            }
        }
    }

    /// Whether a stored key is in its compact encoding: its recorded state, or (none recorded) `derive()`.
    @inline(__always)
    public static func isCompact(_ state: EncodingState, derive: () -> Bool) -> Bool {
        switch state {
        case .compact: return true
        case .converted: return false
        case .derived: return derive()
        }
    }

    /// Whether Redis would hold this value in its general encoding when built from scratch (a load, a
    /// *STORE result): too many elements, or one too long (hashes, sorted sets) or not an integer (sets).
    public static func exceedsCompact(_ value: StoredValue, limits: Limits) -> Bool {
        switch value {
        case .hash(let h):
            if h.count > limits.hashMaxListpackEntries { return true }
            return h.contains { $0.key.count > limits.hashMaxListpackValue || $0.value.count > limits.hashMaxListpackValue }
        case .set(let s):
            if s.count > limits.setMaxIntsetEntries { return true }
            return s.contains { parseStrictInt64($0.array) == nil }
        case .zset(let z):
            if z.count > limits.zsetMaxListpackEntries { return true }
            return z.scores.keys.contains { $0.count > limits.zsetMaxListpackValue }
        case .string, .list, .stream:
            return false
        }
    }

    /// Redis's `tryObjectEncoding`: a string that is a canonical 64-bit integer of at most 20 characters is
    /// "int", else up to 44 bytes "embstr", else "raw".
    public static func stringEncoding(_ bytes: [UInt8]) -> String {
        if bytes.count <= 20 && parseStrictInt64(bytes) != nil { return "int" }
        return bytes.count <= embstrSizeLimit ? "embstr" : "raw"
    }

    /// OBJECT REFCOUNT: small non-negative integer strings are shared objects unless the maxmemory policy is
    /// an LRU or LFU one with a memory limit (MAXMEMORY_FLAG_NO_SHARED_INTEGERS); everything else is 1.
    public static func refcount(of value: StoredValue, maxMemory: Int, policy: String) -> Int {
        guard case .string(let s) = value, s.count <= 20, let n = parseStrictInt64(s.array),
              n >= 0 && n < sharedIntegers else { return 1 }
        let policy = policy.lowercased()
        let noShared = maxMemory != 0 && (policy.hasSuffix("-lru") || policy.hasSuffix("-lfu"))
        return noShared ? 1 : sharedRefcount
    }

    /// Redis's `string2ll`: optional '-', no '+', no leading zeros ("0" alone is fine, "-0" is not),
    /// no spaces, within the 64-bit range.
    public static func parseStrictInt64(_ s: [UInt8]) -> Int64? {
        let n = s.count
        if n == 0 || n > 20 { return nil }
        if n == 1 && s[0] == UInt8(ascii: "0") { return 0 }
        var i = 0
        var negative = false
        if s[0] == UInt8(ascii: "-") {
            negative = true
            i = 1
            if n == 1 { return nil }
        }
        guard s[i] >= UInt8(ascii: "1") && s[i] <= UInt8(ascii: "9") else { return nil }
        var v: UInt64 = 0
        while i < n {
            let c = s[i]
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            v = a
            i += 1
        }
        if negative {
            if v > UInt64(Int64.max) + 1 { return nil }
            return v == UInt64(Int64.max) + 1 ? Int64.min : -Int64(v)
        }
        return v > UInt64(Int64.max) ? nil : Int64(v)
    }
}
