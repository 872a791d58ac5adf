/// FUNCTION DUMP / FUNCTION RESTORE payloads, as Redis 7.0's: per library RDB_OPCODE_FUNCTION2 (245) and the
/// library's code as an RDB string, then the RDB version (2 bytes LE) and the CRC-64 (8 bytes LE) of all
/// that precedes it.
public enum FunctionPayload {
    static let function2: UInt8 = 0xF5

    public static func encode(_ libraries: [[UInt8]], compress: Bool = false) -> [UInt8] {
        var w = RDBWriter(compress: compress)
        for code in libraries {
            w.bytes.append(function2)
            w.writeString(code)
        }
        w.bytes.append(UInt8(RDBWriter.version & 0xff))
        w.bytes.append(UInt8(RDBWriter.version >> 8))
        var crc = CRC64.update(0, w.bytes).littleEndian
        withUnsafeBytes(of: &crc) { w.bytes.append(contentsOf: $0) }
        return w.bytes
    }

    /// The libraries' code; errors carry Redis's texts (without the ERR prefix).
    public static func decode(_ payload: [UInt8]) throws -> [[UInt8]] {
        guard payload.count >= 10 else { throw RDBError("DUMP payload version or checksum are wrong") }
        let footer = payload.count - 10
        let version = Int(payload[footer]) | Int(payload[footer + 1]) << 8
        var stored: UInt64 = 0
        for i in 0..<8 { stored |= UInt64(payload[footer + 2 + i]) << (8 * UInt64(i)) }
        guard version <= RDBWriter.version, CRC64.update(0, payload[0..<(payload.count - 8)]) == stored else {
            throw RDBError("DUMP payload version or checksum are wrong")
        }
        var libraries: [[UInt8]] = []
        var pos = 0
        while pos < footer {
            guard payload[pos] == function2 else { throw RDBError("given type is not a function") }
            pos += 1
            guard let code = string(payload, &pos, end: footer) else {
                throw RDBError("failed loading the given functions payload")
            }
            libraries.append(code)
        }
        return libraries
    }

    /// An RDB string at `pos` (plain, integer-encoded or LZF), nil when it is cut short or corrupt.
    static func string(_ b: [UInt8], _ pos: inout Int, end: Int) -> [UInt8]? {
        func take(_ n: Int) -> ArraySlice<UInt8>? {
            guard n >= 0, pos + n <= end else { return nil }
            defer { pos += n }
            return b[pos..<(pos + n)]
        }
        func length() -> (UInt64, Bool)? {
            guard let first = take(1)?.first else { return nil }
            switch first >> 6 {
            case 0: return (UInt64(first & 0x3f), false)
            case 1:
                guard let next = take(1)?.first else { return nil }
                return (UInt64(first & 0x3f) << 8 | UInt64(next), false)
            case 2:
                let n = first == 0x80 ? 4 : (first == 0x81 ? 8 : 0)
                guard n > 0, let bytes = take(n) else { return nil }
                return (bytes.reduce(0) { $0 << 8 | UInt64($1) }, false)
            default:
                return (UInt64(first & 0x3f), true)
            }
        }
        func little(_ n: Int) -> Int64? {
            guard let bytes = take(n) else { return nil }
            var v: UInt64 = 0
            for (i, byte) in bytes.enumerated() { v |= UInt64(byte) << (8 * UInt64(i)) }
            let shift = UInt64(64 - 8 * n)
            return Int64(bitPattern: v << shift) >> Int64(shift)
        }
        guard let (n, encoded) = length() else { return nil }
        if !encoded { return take(Int(clamping: n)).map(Array.init) }
        switch n {
        case 0, 1, 2: return little(1 << Int(n)).map { Array(String($0).utf8) }
        case 3:
            guard let (clen, _) = length(), let (ulen, _) = length(), ulen <= clen * 88 + 8,
                  let compressed = take(Int(clamping: clen)) else { return nil }
            return RDBReader.lzfDecompress(compressed, expected: Int(ulen))
        default: return nil
        }
    }
}
