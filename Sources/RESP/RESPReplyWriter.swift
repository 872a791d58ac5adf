import NIOCore

/// The protocol a connection speaks, chosen with HELLO.
public enum RESPVersion: Int, Sendable {
    case resp2 = 2
    case resp3 = 3
}

/// Writes replies straight into an output buffer: no intermediate value tree on the hot path.
/// RESP3-only types degrade to their RESP2 forms as Redis does (map -> flat array, double -> bulk, ...).
extension ByteBuffer {
    @inlinable
    public mutating func writeRESPSimpleString(_ text: String) {
        writeInteger(UInt8(ascii: "+"))
        writeString(text)
        writeCRLF()
    }

    @inlinable
    public mutating func writeRESPOK() {
        writeStaticString("+OK\r\n")
    }

    /// `text` is the whole error line without the leading '-', e.g. "ERR syntax error" or "WRONGTYPE ...".
    /// Newlines would break the protocol, so they become spaces (as Redis's addReplyErrorLength does).
    @inlinable
    public mutating func writeRESPError(_ text: String) {
        writeInteger(UInt8(ascii: "-"))
        if text.utf8.contains(where: { $0 == 13 || $0 == 10 }) {
            writeBytes(text.utf8.map { $0 == 13 || $0 == 10 ? 32 : $0 })
        } else {
            writeString(text)
        }
        writeCRLF()
    }

    @inlinable
    public mutating func writeRESPInteger(_ value: Int) {
        writeRESPFrame(UInt8(ascii: ":"), value, body: nil)
    }

    /// `<marker><number>\r\n` and, when given, `<body>\r\n`, in one write: one capacity check instead of five.
    @inlinable
    public mutating func writeRESPFrame(_ marker: UInt8, _ number: Int, body: UnsafeRawBufferPointer?) {
        let bodyCount = body.map { $0.count + 2 } ?? 0
        writeWithUnsafeMutableBytes(minimumWritableBytes: 24 + bodyCount) { out -> Int in
            out[0] = marker
            var i = 1
            if number < 0 {
                out[i] = UInt8(ascii: "-")
                i += 1
            }
            var magnitude = number.magnitude
            var digits = 1
            var probe = magnitude
            while probe >= 10 {
                probe /= 10
                digits += 1
            }
            var position = i + digits - 1
            repeat {
                out[position] = UInt8(truncatingIfNeeded: magnitude % 10) &+ 48
                magnitude /= 10
                position -= 1
            } while magnitude > 0
            i += digits
            out[i] = 13
            out[i + 1] = 10
            i += 2
            if let body {
                if body.count > 0 {
                    (out.baseAddress! + i).copyMemory(from: body.baseAddress!, byteCount: body.count)
                }
                i += body.count
                out[i] = 13
                out[i + 1] = 10
                i += 2
            }
            return i
        }
    }

    @inlinable
    public mutating func writeRESPBulk(_ bytes: ByteBuffer) {
        bytes.withUnsafeReadableBytes { writeRESPFrame(UInt8(ascii: "$"), $0.count, body: $0) }
    }

    @inlinable
    public mutating func writeRESPBulk<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable {
            writeRESPFrame(UInt8(ascii: "$"), $0.count, body: UnsafeRawBufferPointer($0))
        }
        if done != nil { return }
        writeInteger(UInt8(ascii: "$"))
        writeDecimal(bytes.count)
        writeCRLF()
        writeBytes(bytes)
        writeCRLF()
    }

    @inlinable
    public mutating func writeRESPBulkString(_ text: String) {
        writeRESPBulk(Array(text.utf8))
    }

    /// A bulk reply holding the decimal form of an integer (e.g. GET of an integer-encoded string).
    @inlinable
    public mutating func writeRESPBulkDecimal(_ value: Int) {
        var digits = ByteBuffer()
        digits.writeDecimal(value)
        writeRESPBulk(digits)
    }

    /// Null bulk: `$-1` in RESP2, `_` in RESP3.
    @inlinable
    public mutating func writeRESPNull(_ version: RESPVersion) {
        writeStaticString(version == .resp3 ? "_\r\n" : "$-1\r\n")
    }

    /// Null array: `*-1` in RESP2, `_` in RESP3.
    @inlinable
    public mutating func writeRESPNullArray(_ version: RESPVersion) {
        writeStaticString(version == .resp3 ? "_\r\n" : "*-1\r\n")
    }

    @inlinable
    public mutating func writeRESPArrayHeader(_ count: Int) {
        writeRESPFrame(UInt8(ascii: "*"), count, body: nil)
    }

    /// A map of `count` pairs: `%count` in RESP3, a flat array of 2*count in RESP2.
    @inlinable
    public mutating func writeRESPMapHeader(_ count: Int, _ version: RESPVersion) {
        if version == .resp3 {
            writeInteger(UInt8(ascii: "%"))
            writeDecimal(count)
        } else {
            writeInteger(UInt8(ascii: "*"))
            writeDecimal(count * 2)
        }
        writeCRLF()
    }

    @inlinable
    public mutating func writeRESPSetHeader(_ count: Int, _ version: RESPVersion) {
        writeInteger(version == .resp3 ? UInt8(ascii: "~") : UInt8(ascii: "*"))
        writeDecimal(count)
        writeCRLF()
    }

    @inlinable
    public mutating func writeRESPPushHeader(_ count: Int, _ version: RESPVersion) {
        writeInteger(version == .resp3 ? UInt8(ascii: ">") : UInt8(ascii: "*"))
        writeDecimal(count)
        writeCRLF()
    }

    @inlinable
    public mutating func writeRESPBool(_ value: Bool, _ version: RESPVersion) {
        if version == .resp3 {
            writeStaticString(value ? "#t\r\n" : "#f\r\n")
        } else {
            writeStaticString(value ? ":1\r\n" : ":0\r\n")
        }
    }

    /// A double already formatted the way the command wants it (see `RedisDouble`): `,text` in RESP3, bulk in RESP2.
    @inlinable
    public mutating func writeRESPDouble(formatted text: String, _ version: RESPVersion) {
        if version == .resp3 {
            writeInteger(UInt8(ascii: ","))
            writeString(text)
            writeCRLF()
        } else {
            writeRESPBulkString(text)
        }
    }

    /// Verbatim string (`=len\r\ntxt:...`) in RESP3, bulk in RESP2 (INFO, CLIENT LIST, ...).
    @inlinable
    public mutating func writeRESPVerbatim(_ text: String, format: String = "txt", _ version: RESPVersion) {
        if version == .resp3 {
            let body = Array(text.utf8)
            writeInteger(UInt8(ascii: "="))
            writeDecimal(body.count + 4)
            writeCRLF()
            writeString(format)
            writeInteger(UInt8(ascii: ":"))
            writeBytes(body)
            writeCRLF()
        } else {
            writeRESPBulkString(text)
        }
    }

    @inlinable
    mutating func writeCRLF() {
        writeInteger(UInt16(0x0D0A), endianness: .big)
    }

    /// Decimal digits without going through String.
    @inlinable
    public mutating func writeDecimal(_ value: Int) {
        if value >= 0 && value < 10 {
            writeInteger(UInt8(truncatingIfNeeded: value) &+ 48)
            return
        }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch, enough for 20 digits + sign
        let written: Int = withUnsafeMutableBytes(of: &digits) { raw in
            var position = raw.count
            while magnitude > 0 {
                position -= 1
                raw[position] = UInt8(truncatingIfNeeded: magnitude % 10) &+ 48
                magnitude /= 10
            }
            if value < 0 {
                position -= 1
                raw[position] = UInt8(ascii: "-")
            }
            self.writeBytes(UnsafeRawBufferPointer(rebasing: raw[position...]))
            return raw.count - position
        }
        _ = written
    }
}
