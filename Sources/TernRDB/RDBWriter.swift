import TernStorage

/// Writes a Redis RDB file, version 10 (what Redis 7.0 loads), with plain encodings only:
/// strings (RDB_TYPE_STRING), lists (RDB_TYPE_LIST), sets (RDB_TYPE_SET), sorted sets (RDB_TYPE_ZSET_2, binary
/// double scores), hashes (RDB_TYPE_HASH), streams (RDB_TYPE_STREAM_LISTPACKS_2, see RDBStreamCodec.swift),
/// millisecond expiries, and the CRC-64 trailer.
public struct RDBWriter {
    public static let version = 10
    /// The file-level opcodes (RDBStream writes the EOF itself).
    public enum Opcode: UInt8 {
        case aux = 0xFA, resizeDB = 0xFB, expireTimeMs = 0xFC, selectDB = 0xFE, eof = 0xFF
    }
    enum ObjectType: UInt8 {
        case string = 0, list = 1, set = 2, hash = 4, zset2 = 5, streamListpacks2 = 19
    }

    public internal(set) var bytes: [UInt8] = []
    /// rdbcompression: strings over 20 bytes are LZF-compressed when that saves at least 4 bytes.
    public var compress = false

    public init(compress: Bool = false) { self.compress = compress }

    /// Hands over what was written so far (a save streams the file in chunks).
    public mutating func takeBytes() -> [UInt8] {
        defer { bytes = [] }
        return bytes
    }

    public mutating func writeHeader() {
        bytes.append(contentsOf: Array("REDIS".utf8))
        let v = String(Self.version)
        bytes.append(contentsOf: Array((String(repeating: "0", count: 4 - v.count) + v).utf8))
    }

    public mutating func writeAux(_ key: String, _ value: String) {
        bytes.append(Opcode.aux.rawValue)
        writeString(Array(key.utf8))
        writeString(Array(value.utf8))
    }

    /// One FUNCTION2 record per function library (after the aux fields, as Redis writes them).
    public mutating func writeFunctions(_ libraries: [[UInt8]]) {
        for code in libraries {
            bytes.append(0xF5)
            writeString(code)
        }
    }

    /// SELECTDB then RESIZEDB (hash table size hints).
    public mutating func writeSelectDB(_ db: Int, keys: Int, expires: Int) {
        bytes.append(Opcode.selectDB.rawValue)
        writeLength(UInt64(db))
        bytes.append(Opcode.resizeDB.rawValue)
        writeLength(UInt64(keys))
        writeLength(UInt64(expires))
    }

    public mutating func writeEntry(key: Bytes, value: StoredValue, expireAt: Int64?) {
        if let expireAt {
            bytes.append(Opcode.expireTimeMs.rawValue)
            var v = UInt64(bitPattern: expireAt).littleEndian
            withUnsafeBytes(of: &v) { bytes.append(contentsOf: $0) }
        }
        bytes.append(Self.objectType(value).rawValue)
        writeString(key.array)
        writeObject(value)
    }

    static func objectType(_ value: StoredValue) -> ObjectType {
        switch value {
        case .string: return .string
        case .list: return .list
        case .set: return .set
        case .hash: return .hash
        case .zset: return .zset2
        case .stream: return .streamListpacks2
        }
    }

    /// The object's body (what follows the type byte and the key).
    mutating func writeObject(_ value: StoredValue) {
        switch value {
        case .string(let s):
            writeString(s.array)
        case .list(let l):
            writeLength(UInt64(l.count))
            for e in l { writeString(e.array) }
        case .set(let s):
            writeLength(UInt64(s.count))
            for e in s { writeString(e.array) }
        case .hash(let h):
            writeLength(UInt64(h.count))
            for (f, v) in h {
                writeString(f.array)
                writeString(v.array)
            }
        case .zset(let z):
            writeLength(UInt64(z.count))
            z.forEach(fromRank: 0) { entry in
                writeString(entry.member.array)
                var d = entry.score.bitPattern.littleEndian
                withUnsafeBytes(of: &d) { bytes.append(contentsOf: $0) }
                return true
            }
        case .stream(let stream):
            writeStream(stream)
        }
    }

    /// A DUMP payload, as Redis's: type byte, object, RDB version (2 bytes LE), CRC-64 (8 bytes LE) of all
    /// that precedes it.
    public static func dumpPayload(_ value: StoredValue, compress: Bool = false) -> [UInt8] {
        var w = RDBWriter(compress: compress)
        w.bytes.append(objectType(value).rawValue)
        w.writeObject(value)
        w.bytes.append(UInt8(version & 0xff))
        w.bytes.append(UInt8(version >> 8))
        var crc = CRC64.update(0, w.bytes).littleEndian
        withUnsafeBytes(of: &crc) { w.bytes.append(contentsOf: $0) }
        return w.bytes
    }

    /// EOF opcode and the little-endian CRC-64 of everything before it (EOF included).
    public mutating func finish() {
        bytes.append(Opcode.eof.rawValue)
        var crc = CRC64.update(0, bytes).littleEndian
        withUnsafeBytes(of: &crc) { bytes.append(contentsOf: $0) }
    }

    /// EOF and the trailer when earlier parts were taken with `takeBytes`: `crc` is the CRC-64 of all
    /// bytes before this call (0 with rdbchecksum off: a zero trailer means "not checked").
    public mutating func finish(crcSoFar crc: UInt64?) {
        bytes.append(Opcode.eof.rawValue)
        var value = (crc.map { CRC64.update($0, [Opcode.eof.rawValue]) } ?? 0).littleEndian
        withUnsafeBytes(of: &value) { bytes.append(contentsOf: $0) }
    }

    mutating func writeLength(_ n: UInt64) {
        if n < 1 << 6 {
            bytes.append(UInt8(n))
        } else if n < 1 << 14 {
            bytes.append(0x40 | UInt8(n >> 8))
            bytes.append(UInt8(n & 0xff))
        } else if n <= UInt64(UInt32.max) {
            bytes.append(0x80)
            var v = UInt32(n).bigEndian
            withUnsafeBytes(of: &v) { bytes.append(contentsOf: $0) }
        } else {
            bytes.append(0x81)
            var v = n.bigEndian
            withUnsafeBytes(of: &v) { bytes.append(contentsOf: $0) }
        }
    }

    mutating func writeString(_ s: [UInt8]) {
        if compress && s.count > 20, let packed = Self.lzfCompress(s) {
            bytes.append(0xC3)
            writeLength(UInt64(packed.count))
            writeLength(UInt64(s.count))
            bytes.append(contentsOf: packed)
            return
        }
        writeLength(UInt64(s.count))
        bytes.append(contentsOf: s)
    }

    /// LZF compression (liblzf's format, which RDBReader.lzfDecompress reads): literal runs of up to 32
    /// bytes and back-references of 3...264 bytes within 8 KiB, found through a hash of the next 3 bytes.
    /// nil unless the result is at least 4 bytes shorter (what Redis requires to store it compressed).
    static func lzfCompress(_ input: [UInt8]) -> [UInt8]? {
        let n = input.count
        guard n > 4 else { return nil }
        let limit = n - 4
        var out: [UInt8] = []
        out.reserveCapacity(limit)
        var table = [Int](repeating: -1, count: 1 << 14)
        var literalStart = 0
        var ip = 0
        func flushLiterals(upTo end: Int) {
            var start = literalStart
            while start < end {
                let run = min(32, end - start)
                out.append(UInt8(run - 1))
                out.append(contentsOf: input[start..<(start + run)])
                start += run
            }
        }
        while ip + 2 < n {
            let v = Int(input[ip]) << 16 | Int(input[ip + 1]) << 8 | Int(input[ip + 2])
            let h = ((v &* 2654435761) >> 10) & ((1 << 14) - 1)
            let ref = table[h]
            table[h] = ip
            let off = ip - ref - 1
            if ref >= 0, off < 8192, input[ref] == input[ip], input[ref + 1] == input[ip + 1], input[ref + 2] == input[ip + 2] {
                var len = 3
                let maxLen = min(264, n - ip)
                while len < maxLen && input[ref + len] == input[ip + len] { len += 1 }
                flushLiterals(upTo: ip)
                let e = len - 2
                if e < 7 {
                    out.append(UInt8(e << 5) | UInt8(off >> 8))
                } else {
                    out.append(UInt8(7 << 5) | UInt8(off >> 8))
                    out.append(UInt8(e - 7))
                }
                out.append(UInt8(off & 0xff))
                ip += len
                literalStart = ip
                if out.count >= limit { return nil }
            } else {
                ip += 1
            }
        }
        flushLiterals(upTo: n)
        return out.count < limit ? out : nil
    }

    /// A whole RDB for the given per-db snapshots (consumed on the calling thread).
    public static func serialize(_ snapshots: [any DatabaseSnapshot], aux: [(String, String)],
                                 functions: [[UInt8]] = [], compress: Bool = false) -> [UInt8] {
        var w = RDBWriter(compress: compress)
        w.writeHeader()
        for (k, v) in aux { w.writeAux(k, v) }
        w.writeFunctions(functions)
        for (index, snapshot) in snapshots.enumerated() where snapshot.count > 0 {
            var expires = 0
            snapshot.forEach { _, _, expireAt in
                if expireAt != nil { expires += 1 }
                return true
            }
            w.writeSelectDB(index, keys: snapshot.count, expires: expires)
            snapshot.forEach { key, value, expireAt in
                w.writeEntry(key: key, value: value, expireAt: expireAt)
                return true
            }
        }
        w.finish()
        return w.bytes
    }
}
