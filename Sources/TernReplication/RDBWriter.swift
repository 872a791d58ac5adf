import TernStorage

/// Writes a Redis RDB file, version 10 (what Redis 7.0 loads), with plain encodings only:
/// strings (RDB_TYPE_STRING), lists (RDB_TYPE_LIST), sets (RDB_TYPE_SET), sorted sets (RDB_TYPE_ZSET_2, binary
/// double scores), hashes (RDB_TYPE_HASH), millisecond expiries, and the CRC-64 trailer.
public struct RDBWriter {
    public static let version = 10
    enum Opcode: UInt8 {
        case aux = 0xFA, resizeDB = 0xFB, expireTimeMs = 0xFC, selectDB = 0xFE, eof = 0xFF
    }
    enum ObjectType: UInt8 {
        case string = 0, list = 1, set = 2, hash = 4, zset2 = 5
    }

    public private(set) var bytes: [UInt8] = []

    public init() {}

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
        }
    }

    /// A DUMP payload, as Redis's: type byte, object, RDB version (2 bytes LE), CRC-64 (8 bytes LE) of all
    /// that precedes it.
    public static func dumpPayload(_ value: StoredValue) -> [UInt8] {
        var w = RDBWriter()
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
        writeLength(UInt64(s.count))
        bytes.append(contentsOf: s)
    }

    /// A whole RDB for the given per-db snapshots (consumed on the calling thread).
    public static func serialize(_ snapshots: [any DatabaseSnapshot], aux: [(String, String)]) -> [UInt8] {
        var w = RDBWriter()
        w.writeHeader()
        for (k, v) in aux { w.writeAux(k, v) }
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
