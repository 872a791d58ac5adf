import DequeModule
import TernStorage

/// Why an RDB payload was refused (the message names the offset and the cause).
public struct RDBError: Error, CustomStringConvertible, Equatable {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Reads a Redis RDB file (versions 1...10) with the plain object encodings (string 0, list 1, set 2,
/// zset 3, hash 4, zset-2 5), integer-encoded and LZF-compressed strings, and the opcodes AUX, SELECTDB,
/// RESIZEDB, EXPIRETIME, EXPIRETIME_MS, FREQ, IDLE. The CRC-64 trailer is verified unless it is zero.
///
/// Bounded: every length is checked against the bytes that remain before anything is allocated (each
/// collection element takes at least one byte), so corrupt or truncated input fails with an `RDBError`.
/// The compact encodings a stock Redis writes for small collections (ziplist, intset, listpack, quicklist)
/// are refused with an explicit error for now.
public struct RDBReader {
    public struct Entry {
        public var db: Int
        public var key: Bytes
        public var value: StoredValue
        public var expireAt: Int64?
    }

    public private(set) var aux: [(String, String)] = []
    public private(set) var entries: [Entry] = []
    public private(set) var version = 0

    private let data: [UInt8]
    private var pos = 0

    /// Parses the whole payload; `databases` bounds SELECTDB.
    public static func parse(_ data: [UInt8], databases: Int = 16) throws -> RDBReader {
        var r = RDBReader(data: data)
        try r.run(databases: databases)
        return r
    }

    private init(data: [UInt8]) { self.data = data }

    private var remaining: Int { data.count - pos }

    private func fail(_ what: String) -> RDBError { RDBError("Bad RDB at offset \(pos): \(what)") }

    private mutating func byte() throws -> UInt8 {
        guard pos < data.count else { throw fail("unexpected end of file") }
        defer { pos += 1 }
        return data[pos]
    }

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else { throw fail("unexpected end of file (need \(n) bytes, \(remaining) left)") }
        defer { pos += n }
        return data[pos..<pos + n]
    }

    private mutating func littleEndian(_ n: Int) throws -> UInt64 {
        let b = try take(n)
        var v: UInt64 = 0
        for (i, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(i)) }
        return v
    }

    private mutating func bigEndian(_ n: Int) throws -> UInt64 {
        var v: UInt64 = 0
        for x in try take(n) { v = v << 8 | UInt64(x) }
        return v
    }

    /// A length, or an encoding marker for special strings (returned as `encoded`).
    private mutating func length() throws -> (value: UInt64, encoded: Bool) {
        let first = try byte()
        switch first >> 6 {
        case 0: return (UInt64(first & 0x3f), false)
        case 1: return (UInt64(first & 0x3f) << 8 | UInt64(try byte()), false)
        case 2:
            if first == 0x80 { return (try bigEndian(4), false) }
            if first == 0x81 { return (try bigEndian(8), false) }
            throw fail("invalid length prefix 0x\(String(first, radix: 16))")
        default: return (UInt64(first & 0x3f), true)
        }
    }

    /// A plain length bounded by what remains (each counted item takes at least `minItemBytes`).
    private mutating func count(minItemBytes: Int = 1) throws -> Int {
        let (n, encoded) = try length()
        if encoded { throw fail("unexpected encoded length") }
        guard n <= UInt64(remaining / max(1, minItemBytes)) else { throw fail("length \(n) exceeds the remaining data") }
        return Int(n)
    }

    private mutating func string() throws -> [UInt8] {
        let (n, encoded) = try length()
        if !encoded {
            guard n <= UInt64(remaining) else { throw fail("string length \(n) exceeds the remaining data") }
            return Array(try take(Int(n)))
        }
        switch n {
        case 0: return Array(String(Int8(bitPattern: UInt8(try littleEndian(1)))).utf8)
        case 1: return Array(String(Int16(bitPattern: UInt16(try littleEndian(2)))).utf8)
        case 2: return Array(String(Int32(bitPattern: UInt32(try littleEndian(4)))).utf8)
        case 3:
            let clen = try count()
            let (ulen, enc) = try length()
            // LZF expands at most ~ 8/7 of input per literal run plus back-references: a generous bound.
            guard !enc, ulen <= UInt64(clen) * 300 + 64 else { throw fail("implausible LZF length \(ulen)") }
            let compressed = try take(clen)
            guard let out = Self.lzfDecompress(compressed, expected: Int(ulen)) else { throw fail("corrupt LZF data") }
            return out
        default:
            throw fail("unknown string encoding \(n)")
        }
    }

    /// LZF decompression (liblzf's format), exact output length required.
    static func lzfDecompress(_ input: ArraySlice<UInt8>, expected: Int) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(expected)
        var i = input.startIndex
        while i < input.endIndex {
            let ctrl = Int(input[i]); i += 1
            if ctrl < 32 {
                let n = ctrl + 1
                guard i + n <= input.endIndex, out.count + n <= expected else { return nil }
                out.append(contentsOf: input[i..<i + n]); i += n
            } else {
                var len = ctrl >> 5
                if len == 7 {
                    guard i < input.endIndex else { return nil }
                    len += Int(input[i]); i += 1
                }
                guard i < input.endIndex else { return nil }
                let back = ((ctrl & 0x1f) << 8) + Int(input[i]) + 1; i += 1
                len += 2
                guard back <= out.count, out.count + len <= expected else { return nil }
                let start = out.count - back
                for k in 0..<len { out.append(out[start + k]) }
            }
        }
        return out.count == expected ? out : nil
    }

    private mutating func binaryDouble() throws -> Double { Double(bitPattern: try littleEndian(8)) }

    /// RDB_TYPE_ZSET's score: length-prefixed text, 253/254/255 for nan/+inf/-inf.
    private mutating func textDouble() throws -> Double {
        let n = try byte()
        switch n {
        case 253: return .nan
        case 254: return .infinity
        case 255: return -.infinity
        default:
            let text = String(decoding: try take(Int(n)), as: UTF8.self)
            guard let d = Double(text) else { throw fail("invalid score '\(text)'") }
            return d
        }
    }

    private mutating func object(_ type: UInt8) throws -> StoredValue {
        switch type {
        case 0:
            return .string(Bytes(try string()))
        case 1:
            let n = try count()
            var l = Deque<Bytes>()
            l.reserveCapacity(n)
            for _ in 0..<n { l.append(Bytes(try string())) }
            return .list(l)
        case 2:
            let n = try count()
            var s = Set<Bytes>(minimumCapacity: n)
            for _ in 0..<n { s.insert(Bytes(try string())) }
            return .set(s)
        case 3, 5:
            let n = try count(minItemBytes: 2)
            var z = SortedSetValue()
            for _ in 0..<n {
                let member = Bytes(try string())
                let score = type == 5 ? try binaryDouble() : try textDouble()
                if score.isNaN { throw fail("sorted set score is NaN") }
                _ = z.set(member, score: score)
            }
            return .zset(z)
        case 4:
            let n = try count(minItemBytes: 2)
            var h = [Bytes: Bytes](minimumCapacity: n)
            for _ in 0..<n {
                let f = Bytes(try string())
                h[f] = Bytes(try string())
            }
            return .hash(h)
        case 9, 10, 11, 12, 13, 14, 16, 17, 18, 19, 20:
            throw RDBError("Unsupported RDB object encoding \(type) (\(Self.encodingName(type))): this version of Tern loads only plain encodings (string, list, set, zset, hash)")
        case 6, 7, 15, 21:
            throw RDBError("Unsupported RDB object type \(type) (modules and streams are not supported)")
        default:
            throw fail("unknown object type \(type)")
        }
    }

    static func encodingName(_ type: UInt8) -> String {
        switch type {
        case 9: return "zipmap"
        case 10: return "list ziplist"
        case 11: return "intset"
        case 12: return "zset ziplist"
        case 13: return "hash ziplist"
        case 14: return "list quicklist"
        case 16: return "hash listpack"
        case 17: return "zset listpack"
        case 18: return "list quicklist 2"
        case 19: return "stream listpacks 2"
        default: return "set listpack"
        }
    }

    private mutating func run(databases: Int) throws {
        guard data.count >= 9, Array(data[0..<5]) == Array("REDIS".utf8),
              let v = Int(String(decoding: data[5..<9], as: UTF8.self)) else {
            throw RDBError("Wrong signature trying to load DB from file")
        }
        guard (1...10).contains(v) else { throw RDBError("Can't handle RDB format version \(v)") }
        version = v
        pos = 9
        var db = 0
        var expireAt: Int64?
        while true {
            let type = try byte()
            switch type {
            case 0xFF:  // EOF, then the CRC-64 (version 5+)
                let end = pos
                if version >= 5 {
                    let stored = try littleEndian(8)
                    if stored != 0 {
                        let computed = CRC64.update(0, data[0..<end])
                        if computed != stored { throw RDBError("Wrong RDB checksum expected: (\(String(stored, radix: 16))) got: (\(String(computed, radix: 16))).") }
                    }
                }
                if pos != data.count { throw fail("\(remaining) trailing bytes after the end of the file") }
                return
            case 0xFE:  // SELECTDB
                let n = try length()
                guard !n.encoded, n.value < UInt64(databases) else {
                    throw fail("FATAL: Data file was created with a Redis server configured to handle more than \(databases) databases.")
                }
                db = Int(n.value)
            case 0xFD:  // EXPIRETIME (seconds, 4 bytes little endian)
                expireAt = Int64(try littleEndian(4)) * 1000
            case 0xFC:  // EXPIRETIME_MS
                expireAt = Int64(bitPattern: try littleEndian(8))
            case 0xFB:  // RESIZEDB
                _ = try length(); _ = try length()
            case 0xFA:  // AUX
                let k = String(decoding: try string(), as: UTF8.self)
                let val = String(decoding: try string(), as: UTF8.self)
                aux.append((k, val))
            case 0xF9:  // FREQ
                _ = try byte()
            case 0xF8:  // IDLE
                _ = try length()
            case 0xF7, 0xF6, 0xF5:
                throw RDBError("Unsupported RDB opcode \(type) (module aux data or functions are not supported)")
            default:
                let key = Bytes(try string())
                let value = try object(type)
                entries.append(Entry(db: db, key: key, value: value, expireAt: expireAt))
                expireAt = nil
            }
        }
    }
}
