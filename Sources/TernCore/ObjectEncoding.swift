import TernStorage

/// The name OBJECT ENCODING reports for a value, as Redis 7.0 would choose it.
///
/// Tern stores every kind one way; the reported name is derived from the value's current contents with
/// Redis 7.0's conversion thresholds (strings: int / embstr / raw; lists: quicklist; hashes and sorted sets:
/// listpack / hashtable or skiplist; sets: intset / hashtable). Redis never converts a collection back to its
/// compact encoding when it shrinks, and keeps strings edited in place (APPEND, SETRANGE) "raw"; a value's
/// history isn't kept here, so those cases report the encoding its contents would get when created.
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

    public static func name(of value: StoredValue, limits: Limits = .defaults) -> String {
        switch value {
        case .string(let s):
            return stringEncoding(s.array)
        case .list:
            return "quicklist"
        case .hash(let h):
            if h.count > limits.hashMaxListpackEntries { return "hashtable" }
            for (field, v) in h where field.count > limits.hashMaxListpackValue || v.count > limits.hashMaxListpackValue {
                return "hashtable"
            }
            return "listpack"
        case .set(let s):
            if s.count > limits.setMaxIntsetEntries { return "hashtable" }
            for member in s where parseStrictInt64(member.array) == nil { return "hashtable" }
            return "intset"
        case .zset(let z):
            if z.count > limits.zsetMaxListpackEntries { return "skiplist" }
            for member in z.scores.keys where member.count > limits.zsetMaxListpackValue { return "skiplist" }
            return "listpack"
        case .stream:
            return "stream"
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
