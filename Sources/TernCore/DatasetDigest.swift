#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto
import TernStorage

/// SHA-1 (swift-crypto's), as DEBUG DIGEST and script names need it: Redis identifies both by SHA-1.
public enum SHA1 {
    public static func hash(_ data: UnsafeRawBufferPointer) -> [UInt8] { Array(Insecure.SHA1.hash(data: data)) }

    public static func hash(_ bytes: [UInt8]) -> [UInt8] { Array(Insecure.SHA1.hash(data: bytes)) }

    /// Lowercase hex (SCRIPT LOAD's name, `redis.sha1hex`).
    public static func hex<C: Collection>(_ message: C) -> String where C.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(40)
        for b in Insecure.SHA1.hash(data: Array(message)) {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// DEBUG DIGEST / DIGEST-VALUE exactly as Redis 7.0's debug.c computes them, so the same dataset gives the
/// same digest on Tern and on a stock Redis (how an operator compares a replica with its master).
///
/// Unordered things (keys, set members, hash fields, sorted-set members) are combined with `xor` of their
/// SHA-1s (a field/value pair or member/score pair, or a whole key, first as a digest of its own, whose
/// SHA-1 is then xored in); ordered ones (a key's parts, list elements) with `mix`
/// (digest = SHA1(digest xor SHA1(data))).
public struct DatasetDigest: Equatable {
    public var bytes = [UInt8](repeating: 0, count: 20)
    public init() {}

    /// xorDigest.
    public mutating func xor(_ data: [UInt8]) {
        let h = SHA1.hash(data)
        for i in 0..<20 { bytes[i] ^= h[i] }
    }

    /// mixDigest.
    public mutating func mix(_ data: [UInt8]) {
        xor(data)
        bytes = SHA1.hash(bytes)
    }

    public var isZero: Bool { bytes.allSatisfy { $0 == 0 } }

    /// 40 lowercase hex characters.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(40)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// xorObjectDigest: the value's type (big-endian u32), its contents by type, and "!!expire!!" when it
    /// has an expiry (the time itself is not part of the digest).
    public mutating func addValue(_ value: StoredValue, hasExpiry: Bool) {
        let type = UInt32(value.kind.rawValue)
        mix([UInt8(type >> 24), UInt8(truncatingIfNeeded: type >> 16), UInt8(truncatingIfNeeded: type >> 8),
             UInt8(truncatingIfNeeded: type)])
        switch value {
        case .string(let s):
            mix(s.array)
        case .list(let l):
            for element in l { mix(element.array) }
        case .set(let s):
            for member in s { xor(member.array) }
        case .zset(let z):
            for (member, score) in z.scores {
                var element = DatasetDigest()
                element.mix(member.array)
                element.mix(Self.scoreText(score))
                xor(element.bytes)
            }
        case .hash(let h):
            for (field, v) in h {
                var element = DatasetDigest()
                element.mix(field.array)
                element.mix(v.array)
                xor(element.bytes)
            }
        case .stream(let s):
            // Each live entry in ID order: "<ms>.<seq>", then its fields and values.
            for node in s.nodes {
                for item in node.items where !item.deleted {
                    mix(Array("\(item.id.ms).\(item.id.seq)".utf8))
                    for element in item.fields { mix(element.array) }
                }
            }
        }
        if hasExpiry { xor(Array("!!expire!!".utf8)) }
    }

    /// DIGEST-VALUE of one key (all zeros for a missing key).
    public static func value(_ value: StoredValue, hasExpiry: Bool) -> DatasetDigest {
        var d = DatasetDigest()
        d.addValue(value, hasExpiry: hasExpiry)
        return d
    }

    /// computeDatasetDigest: per non-empty database its index (mixed, big-endian u32), then the xor over its
    /// keys of mix(key) + the value's digest.
    public static func dataset(_ databases: [any DatabaseSnapshot]) -> DatasetDigest {
        var final = DatasetDigest()
        for (index, snapshot) in databases.enumerated() where snapshot.count > 0 {
            let db = UInt32(index)
            final.mix([UInt8(db >> 24), UInt8(truncatingIfNeeded: db >> 16), UInt8(truncatingIfNeeded: db >> 8),
                       UInt8(truncatingIfNeeded: db)])
            snapshot.forEach { key, value, expireAt in
                var d = DatasetDigest()
                d.mix(key.array)
                d.addValue(value, hasExpiry: expireAt != nil)
                final.xor(d.bytes)
                return true
            }
        }
        return final
    }

    /// Redis 7.0 digests scores printed with "%.17g".
    static func scoreText(_ score: Double) -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: 64)
        let n = withVaList([score]) { vsnprintf(&buffer, buffer.count, "%.17g", $0) }
        return buffer.prefix(Int(n)).map { UInt8(bitPattern: $0) }
    }
}
