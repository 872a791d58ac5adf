import TernStorage

/// Byte encodings shared by the engine and its snapshots. See README.md for the layout.
enum Enc {
    /// Names (keys, fields, members) up to this length are stored verbatim in LMDB keys.
    static let shortLimit = 400
    /// A longer name is encoded as its first `shortLimit` bytes + 8-byte hash + 2-byte collision index, and the
    /// record's value starts with the full name (u32 length + bytes).
    static let longLength = shortLimit + 10

    static let headerSize = 47

    // Element tags (after the 8-byte version).
    static let tagHash: UInt8 = 0x68      // 'h' field -> value
    static let tagSet: UInt8 = 0x73       // 's' member -> ""
    static let tagList: UInt8 = 0x6C      // 'l' seq -> value
    static let tagZMember: UInt8 = 0x7A   // 'z' member -> score
    static let tagZScore: UInt8 = 0x72    // 'r' (score, member) -> ""
    static let tagString: UInt8 = 0x76    // 'v' -> a large string value
    static let tagStream: UInt8 = 0x78    // 'x' -> a whole stream (StreamValue.serialized)

    /// Strings longer than this live in their own element record, so header rewrites stay cheap.
    static let inlineStringLimit = 512

    /// FNV-1a 64: stable across runs (the hash is persisted), collisions are handled by the index.
    /// Tests set this to force every long name into one collision chain.
    nonisolated(unsafe) static var collideAllHashes = false

    static func hash64(_ bytes: [UInt8]) -> UInt64 {
        if collideAllHashes { return 42 }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        // Final avalanche (splitmix) so similar long names spread.
        h ^= h >> 30; h = h &* 0xbf58_476d_1ce4_e5b9
        h ^= h >> 27; h = h &* 0x94d0_49bb_1331_11eb
        h ^= h >> 31
        return h
    }

    @inline(__always) static func appendU64(_ v: UInt64, to out: inout [UInt8]) {
        for i in (0..<8).reversed() { out.append(UInt8(truncatingIfNeeded: v >> (UInt64(i) * 8))) }
    }

    @inline(__always) static func appendU32(_ v: UInt32, to out: inout [UInt8]) {
        for i in (0..<4).reversed() { out.append(UInt8(truncatingIfNeeded: v >> (UInt32(i) * 8))) }
    }

    @inline(__always) static func appendU16(_ v: UInt16, to out: inout [UInt8]) {
        out.append(UInt8(v >> 8)); out.append(UInt8(truncatingIfNeeded: v))
    }

    @inline(__always) static func u64<C: Collection>(_ b: C, _ at: Int) -> UInt64 where C.Element == UInt8, C.Index == Int {
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(b[b.startIndex + at + i]) }
        return v
    }

    @inline(__always) static func u32<C: Collection>(_ b: C, _ at: Int) -> UInt32 where C.Element == UInt8, C.Index == Int {
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(b[b.startIndex + at + i]) }
        return v
    }

    @inline(__always) static func u16<C: Collection>(_ b: C, _ at: Int) -> UInt16 where C.Element == UInt8, C.Index == Int {
        UInt16(b[b.startIndex + at]) << 8 | UInt16(b[b.startIndex + at + 1])
    }

    /// Order-preserving encoding of a signed integer (big-endian, sign bit flipped).
    @inline(__always) static func orderedInt(_ v: Int64) -> UInt64 { UInt64(bitPattern: v) ^ (1 << 63) }
    @inline(__always) static func intFromOrdered(_ v: UInt64) -> Int64 { Int64(bitPattern: v ^ (1 << 63)) }

    /// Order-preserving encoding of a double: negative numbers have every bit inverted, others the sign bit
    /// set. -0 is stored as +0 (they compare equal, ties are broken by member).
    @inline(__always) static func orderedDouble(_ d: Double) -> UInt64 {
        let bits = (d == 0 ? 0.0 : d).bitPattern
        return bits & (1 << 63) != 0 ? ~bits : bits | (1 << 63)
    }

    @inline(__always) static func doubleFromOrdered(_ v: UInt64) -> Double {
        Double(bitPattern: v & (1 << 63) != 0 ? v & ~(1 << 63) : ~v)
    }

    /// True when an encoded name (as found in an LMDB key) is the long form.
    @inline(__always) static func isLong(encodedLength: Int) -> Bool { encodedLength == longLength }

    /// The encoded name for a short name; the lookup base (prefix + hash, without the index) for a long one.
    static func nameBase(_ name: [UInt8]) -> (bytes: [UInt8], long: Bool) {
        if name.count <= shortLimit { return (name, false) }
        var out = Array(name[0..<shortLimit])
        appendU64(hash64(name), to: &out)
        return (out, true)
    }

    /// A record value: the full name first when it is long.
    static func wrap(name: [UInt8], long: Bool, payload: [UInt8]) -> [UInt8] {
        guard long else { return payload }
        var out: [UInt8] = []
        out.reserveCapacity(4 + name.count + payload.count)
        appendU32(UInt32(name.count), to: &out)
        out += name
        out += payload
        return out
    }

    /// Splits a record value into (full name if long, payload offset).
    @inline(__always)
    static func unwrap(_ value: UnsafeRawBufferPointer, long: Bool) -> (name: [UInt8]?, payload: Int) {
        guard long else { return (nil, 0) }
        let n = Int(u32(value, 0))
        return (Array(value[4..<(4 + n)]), 4 + n)
    }

    static func elementPrefix(_ version: UInt64, _ tag: UInt8) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(9 + 16)
        appendU64(version, to: &out)
        out.append(tag)
        return out
    }

    static func versionPrefix(_ version: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        appendU64(version, to: &out)
        return out
    }

    static func physPrefix(_ phys: UInt32) -> [UInt8] {
        var out: [UInt8] = []
        appendU32(phys, to: &out)
        return out
    }
}

/// The per-key metadata record (value of the `keys` table after the optional long name).
struct Header: Equatable {
    var kind: ValueKind
    var expireAt: Int64?
    var lastAccess: UInt32
    var frequency: UInt8
    /// Elements of a collection; byte length of a string.
    var count: Int
    /// Instance id of this key's element records (0: none).
    var version: UInt64
    /// List: sequence number of the first element and one past the last.
    var head: Int64
    var tail: Int64
    /// A string value stored inline (small strings).
    var inline: [UInt8]?

    /// Layout: kind u8, flags u8 (1 expiry, 2 inline string), expireAt i64, lastAccess u32, frequency u8,
    /// count u64, version u64, head i64, tail i64 (all big-endian), then the inline string.
    func encode(into out: inout [UInt8]) {
        out.append(kind.rawValue)
        out.append((expireAt != nil ? 1 : 0) | (inline != nil ? 2 : 0))
        Enc.appendU64(UInt64(bitPattern: expireAt ?? 0), to: &out)
        Enc.appendU32(lastAccess, to: &out)
        out.append(frequency)
        Enc.appendU64(UInt64(count), to: &out)
        Enc.appendU64(version, to: &out)
        Enc.appendU64(UInt64(bitPattern: head), to: &out)
        Enc.appendU64(UInt64(bitPattern: tail), to: &out)
        if let inline { out += inline }
    }

    static func decode(_ b: UnsafeRawBufferPointer, at o: Int, withInline: Bool = true) -> Header {
        let flags = b[o + 1]
        let hasInline = flags & 2 != 0
        return Header(
            kind: ValueKind(rawValue: b[o]) ?? .string,
            expireAt: flags & 1 != 0 ? Int64(bitPattern: Enc.u64(b, o + 2)) : nil,
            lastAccess: Enc.u32(b, o + 10),
            frequency: b[o + 14],
            count: Int(Enc.u64(b, o + 15)),
            version: Enc.u64(b, o + 23),
            head: Int64(bitPattern: Enc.u64(b, o + 31)),
            tail: Int64(bitPattern: Enc.u64(b, o + 39)),
            inline: hasInline ? (withInline ? Array(b[(o + Enc.headerSize)...]) : []) : nil)
    }

    /// Whether the key owns element records that must be collected when it goes away.
    var ownsElements: Bool { version != 0 }
}
