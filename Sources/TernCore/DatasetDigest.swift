#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TernStorage

/// SHA-1 (FIPS 180-1), as DEBUG DIGEST needs it: one-shot over a byte buffer.
public enum SHA1 {
    public static func hash(_ data: UnsafeRawBufferPointer) -> [UInt8] {
        var h: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
        var w = [UInt32](repeating: 0, count: 80)
        func block(_ chunk: UnsafeRawBufferPointer) {
            for i in 0..<16 {
                w[i] = UInt32(chunk[i * 4]) << 24 | UInt32(chunk[i * 4 + 1]) << 16
                    | UInt32(chunk[i * 4 + 2]) << 8 | UInt32(chunk[i * 4 + 3])
            }
            for i in 16..<80 {
                let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w[i] = x << 1 | x >> 31
            }
            var (a, b, c, d, e) = h
            for i in 0..<80 {
                let f: UInt32, k: UInt32
                switch i {
                case 0..<20: f = (b & c) | (~b & d); k = 0x5A82_7999
                case 20..<40: f = b ^ c ^ d; k = 0x6ED9_EBA1
                case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1B_BCDC
                default: f = b ^ c ^ d; k = 0xCA62_C1D6
                }
                let t = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[i]
                e = d; d = c; c = b << 30 | b >> 2; b = a; a = t
            }
            h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e)
        }
        let full = data.count / 64
        for i in 0..<full { block(UnsafeRawBufferPointer(rebasing: data[(i * 64)..<(i * 64 + 64)])) }
        // The tail, the 0x80 marker, zero padding and the bit length (big-endian), in one or two blocks.
        var tail = [UInt8](data[(full * 64)...])
        tail.append(0x80)
        while tail.count % 64 != 56 { tail.append(0) }
        let bits = UInt64(data.count) &* 8
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        tail.withUnsafeBytes { raw in
            for i in 0..<(raw.count / 64) { block(UnsafeRawBufferPointer(rebasing: raw[(i * 64)..<(i * 64 + 64)])) }
        }
        var out: [UInt8] = []
        out.reserveCapacity(20)
        for word in [h.0, h.1, h.2, h.3, h.4] {
            out += [UInt8(word >> 24), UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 8),
                    UInt8(truncatingIfNeeded: word)]
        }
        return out
    }

    public static func hash(_ bytes: [UInt8]) -> [UInt8] { bytes.withUnsafeBytes { hash($0) } }
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
