import NIOCore
import RESP
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Number parsing and printing exactly as Redis does it (util.c), so replies match byte for byte.
public enum RedisNumber {
    /// `string2ld`/`getDoubleFromObject`: strtod over the whole argument, no spaces, no NaN.
    public static func parseDouble(_ buffer: ByteBuffer) -> Double? {
        let n = buffer.readableBytes
        guard n > 0, n < 5 * 1024 else { return nil }
        return buffer.withUnsafeReadableBytes { raw -> Double? in
            var chars = [CChar](repeating: 0, count: n + 1)
            for i in 0..<n { chars[i] = CChar(bitPattern: raw[i]) }
            if isspace(Int32(chars[0])) != 0 { return nil }
            return chars.withUnsafeMutableBufferPointer { p -> Double? in
                var end: UnsafeMutablePointer<CChar>? = nil
                errno = 0
                let d = strtod(p.baseAddress!, &end)
                guard let e = end, e - p.baseAddress! == n else { return nil }
                if d.isNaN { return nil }
                if errno == ERANGE && (d == .infinity || d == -.infinity || d == 0) { return nil }
                return d
            }
        }
    }

    public static func parseDouble(_ bytes: [UInt8]) -> Double? {
        parseDouble(ByteBuffer(bytes: bytes))
    }

    #if arch(x86_64) || arch(i386)
    public typealias LongDouble = Float80
    #else
    public typealias LongDouble = Double
    #endif

    /// Redis's `string2ld` (INCRBYFLOAT, HINCRBYFLOAT): strtold over the value as a C string (it ends at a
    /// NUL), no leading space, no NaN, and ERANGE only rejected for overflow to infinity or underflow to zero.
    public static func parseLongDouble(_ bytes: [UInt8]) -> LongDouble? {
        let n = bytes.count
        if n == 0 || n >= 5 * 1024 { return nil }
        var chars = bytes.map { CChar(bitPattern: $0) }
        chars.append(0)
        return chars.withUnsafeMutableBufferPointer { p -> LongDouble? in
            if isspace(Int32(p[0])) != 0 { return nil }
            var end: UnsafeMutablePointer<CChar>? = nil
            errno = 0
            #if arch(x86_64) || arch(i386)
            let v = strtold(p.baseAddress!, &end)
            #else
            let v = strtod(p.baseAddress!, &end)
            #endif
            guard let e = end, e.pointee == 0 else { return nil }
            if errno == ERANGE && (v.isInfinite || v == 0) { return nil }
            if errno == EINVAL || v.isNaN { return nil }
            return v
        }
    }

    /// `addReplyDouble` in Redis 7.0: "%.17g", with "inf"/"-inf".
    public static func formatDouble(_ d: Double) -> String {
        if d.isInfinite { return d > 0 ? "inf" : "-inf" }
        if d.isNaN { return "nan" }
        // Integers that print exactly are printed without an exponent, as %.17g does below 1e17.
        return cFormat("%.17g", d)
    }

    /// `ld2string(..., LD_STR_HUMAN)`: "%.17Lf" with trailing zeros (and a trailing dot) removed.
    public static func formatLongDoubleHuman(_ v: LongDouble) -> String {
        if v.isInfinite { return v > 0 ? "inf" : "-inf" }
        #if arch(x86_64) || arch(i386)
        var s = cFormatLong(v)
        #else
        var s = cFormat("%.17f", v)
        #endif
        if s.contains(".") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        if s == "-0" { s = "0" }
        return s
    }

    static func cFormat(_ format: String, _ d: Double) -> String {
        withFormatted(format, d) { String(decoding: $0, as: UTF8.self) }
    }

    /// Runs `body` over the bytes `format` renders `d` to, formatted in a stack buffer (no heap strings).
    @inline(__always)
    static func withFormatted<R>(_ format: StaticString, _ d: Double, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 512) { buffer in
            let n = withVaList([d]) {
                vsnprintf(buffer.baseAddress!, 512, UnsafeRawPointer(format.utf8Start).assumingMemoryBound(to: CChar.self), $0)
            }
            return body(UnsafeRawBufferPointer(start: buffer.baseAddress!, count: Int(max(0, min(n, 511)))))
        }
    }

    @inline(__always)
    static func withFormatted<R>(_ format: String, _ d: Double, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 512) { buffer in
            let n = withVaList([d]) { vsnprintf(buffer.baseAddress!, 512, format, $0) }
            return body(UnsafeRawBufferPointer(start: buffer.baseAddress!, count: Int(max(0, min(n, 511)))))
        }
    }

    /// Writes `d` as `addReplyDouble` does (RESP3 double, RESP2 bulk), formatted with "%.17g" straight into
    /// the output. Integral values below 2^53 print as their integer digits, which is what %.17g gives them.
    public static func writeDouble(_ d: Double, into out: inout ByteBuffer, _ version: RESPVersion) {
        if d.isInfinite || d.isNaN {
            out.writeRESPDouble(formatted: formatDouble(d), version)
            return
        }
        if d == d.rounded(), abs(d) < 9_007_199_254_740_992, !(d == 0 && d.sign == .minus) {
            let value = Int(d)
            if version == .resp3 {
                out.writeInteger(UInt8(ascii: ","))
            } else {
                var length = value < 0 ? 2 : 1
                var rest = value.magnitude
                while rest >= 10 { rest /= 10; length += 1 }
                out.writeInteger(UInt8(ascii: "$"))
                out.writeDecimal(length)
                out.writeStaticString("\r\n")
            }
            out.writeDecimal(value)
            out.writeStaticString("\r\n")
            return
        }
        withFormatted("%.17g" as StaticString, d) { bytes in
            if version == .resp3 {
                out.writeInteger(UInt8(ascii: ","))
                out.writeBytes(bytes)
                out.writeStaticString("\r\n")
            } else {
                out.writeInteger(UInt8(ascii: "$"))
                out.writeDecimal(bytes.count)
                out.writeStaticString("\r\n")
                out.writeBytes(bytes)
                out.writeStaticString("\r\n")
            }
        }
    }

    #if arch(x86_64) || arch(i386)
    static func cFormatLong(_ v: Float80) -> String {
        var buffer = [CChar](repeating: 0, count: 5120)
        let n = withVaList([v]) { vsnprintf(&buffer, buffer.count, "%.17Lf", $0) }
        return String(decoding: buffer[0..<Int(max(0, min(n, 5119)))].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    #endif
}
