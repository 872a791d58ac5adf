import NIOCore

/// One request: its arguments as slices of the read buffer (no per-argument copy).
public struct RESPCommand: Sendable {
    public var arguments: [ByteBuffer]
    /// True when the request arrived as an inline (telnet-style) line.
    public var isInline: Bool

    public init(arguments: [ByteBuffer], isInline: Bool = false) {
        self.arguments = arguments
        self.isInline = isInline
    }
}

/// Limits on what a request may declare, checked before anything is allocated from a length.
public struct RESPLimits: Sendable, Equatable {
    /// `proto-max-bulk-len`
    public var maxBulkLength: Int = 512 * 1024 * 1024
    /// Elements in one multibulk request.
    public var maxMultibulkLength: Int = 1024 * 1024
    /// A line (inline request, or a `*N` / `$N` header) longer than this is an error (Redis: PROTO_INLINE_MAX_SIZE).
    public var maxInlineLength: Int = 64 * 1024
    /// Bounds applied before a client has authenticated (Redis: 10 elements, 16 KiB per argument).
    public var unauthenticatedMultibulkLength: Int = 10
    public var unauthenticatedBulkLength: Int = 16384

    public init() {}
}

/// A protocol violation: the text is what follows `-ERR ` in the reply, after which the connection closes.
public struct RESPProtocolError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Streaming request decoder for RESP multibulk and inline requests, as Redis's `processMultibulkBuffer`
/// and `processInlineBuffer` parse them.
///
/// Incomplete input is left unconsumed; the decoder remembers how many bytes it needs at least,
/// so a large bulk that arrives in many reads is scanned once, not once per read.
public struct RESPCommandDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = RESPCommand

    public var limits: RESPLimits
    /// When false, the unauthenticated bounds apply (set by the connection once AUTH succeeds).
    public var authenticated: Bool
    private var neededBytes = 0

    public init(limits: RESPLimits = RESPLimits(), authenticated: Bool = true) {
        self.limits = limits
        self.authenticated = authenticated
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> RESPCommand? {
        var arguments: [ByteBuffer] = []
        guard let inline = try decode(buffer: &buffer, into: &arguments) else { return nil }
        return RESPCommand(arguments: arguments, isInline: inline)
    }

    /// Decodes the next request into `arguments` (replacing its contents, reusing its storage: the server's
    /// hot path allocates no array per request). Returns nil when the request is incomplete, else whether it
    /// was an inline request.
    public mutating func decode(buffer: inout ByteBuffer, into arguments: inout [ByteBuffer]) throws -> Bool? {
        if buffer.readableBytes < neededBytes || buffer.readableBytes == 0 { return nil }
        neededBytes = 0
        arguments.removeAll(keepingCapacity: true)
        if buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == UInt8(ascii: "*") {
            return try decodeMultibulk(&buffer, &arguments) ? false : nil
        }
        guard let command = try decodeInline(&buffer) else { return nil }
        arguments = command.arguments
        return true
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RESPCommand? {
        try decode(buffer: &buffer)
    }

    // MARK: multibulk

    private mutating func decodeMultibulk(_ buffer: inout ByteBuffer, _ arguments: inout [ByteBuffer]) throws -> Bool {
        let start = buffer.readerIndex
        let end = buffer.writerIndex
        guard let (countValue, afterCount) = try readHeaderNumber(buffer, from: start + 1, end: end,
                                                                    tooBig: "too big mbulk count string") else {
            return false
        }
        guard let count = countValue, count <= Int(Int32.max) else {
            throw RESPProtocolError("Protocol error: invalid multibulk length")
        }
        if count > limits.maxMultibulkLength {
            throw RESPProtocolError("Protocol error: invalid multibulk length")
        }
        if !authenticated && count > limits.unauthenticatedMultibulkLength {
            throw RESPProtocolError("Protocol error: unauthenticated multibulk length")
        }
        if count <= 0 {
            buffer.moveReaderIndex(to: afterCount)
            return true
        }
        var index = afterCount
        // Never reserve from an unchecked count: at most what the bytes present could hold.
        if arguments.capacity < count { arguments.reserveCapacity(min(count, 1 + (end - index) / 4)) }
        for _ in 0..<count {
            guard index < end else { neededBytes = index - start + 1; arguments.removeAll(keepingCapacity: true); return false }
            let marker = buffer.getInteger(at: index, as: UInt8.self)!
            if marker != UInt8(ascii: "$") {
                throw RESPProtocolError("Protocol error: expected '$', got '\(Character(Unicode.Scalar(marker)))'")
            }
            guard let (lengthValue, afterLength) = try readHeaderNumber(buffer, from: index + 1, end: end,
                                                                          tooBig: "too big bulk count string") else {
                arguments.removeAll(keepingCapacity: true)
                return false
            }
            guard let length = lengthValue, length >= 0, length <= limits.maxBulkLength else {
                throw RESPProtocolError("Protocol error: invalid bulk length")
            }
            if !authenticated && length > limits.unauthenticatedBulkLength {
                throw RESPProtocolError("Protocol error: unauthenticated bulk length")
            }
            let next = afterLength + length + 2
            if next > end {
                neededBytes = next - start
                arguments.removeAll(keepingCapacity: true)
                return false
            }
            arguments.append(buffer.getSlice(at: afterLength, length: length)!)
            index = next
        }
        buffer.moveReaderIndex(to: index)
        return true
    }

    /// Reads the number after a `*` or `$` up to CRLF. Returns nil when the line is incomplete;
    /// the inner value is nil when the number is malformed.
    private func readHeaderNumber(_ buffer: ByteBuffer, from: Int, end: Int, tooBig: String) throws -> (Int?, Int)? {
        let searchEnd = min(end, from + limits.maxInlineLength)
        guard let cr = buffer.firstIndex(of: UInt8(ascii: "\r"), from: from, to: searchEnd) else {
            if end - from > limits.maxInlineLength { throw RESPProtocolError("Protocol error: \(tooBig)") }
            return nil
        }
        if cr + 1 >= end { return nil }  // the \n is not here yet
        let value = buffer.withUnsafeReadableBytes { raw -> Int? in
            let base = buffer.readerIndex
            return RESPNumber.parseInt64(UnsafeRawBufferPointer(rebasing: raw[(from - base)..<(cr - base)])).map(Int.init)
        }
        return (value, cr + 2)
    }

    // MARK: inline

    private mutating func decodeInline(_ buffer: inout ByteBuffer) throws -> RESPCommand? {
        let start = buffer.readerIndex
        let end = buffer.writerIndex
        guard let newline = buffer.firstIndex(of: UInt8(ascii: "\n"), from: start, to: end) else {
            if end - start > limits.maxInlineLength { throw RESPProtocolError("Protocol error: too big inline request") }
            return nil
        }
        var lineEnd = newline
        if lineEnd > start, buffer.getInteger(at: lineEnd - 1, as: UInt8.self) == UInt8(ascii: "\r") { lineEnd -= 1 }
        let line = buffer.getBytes(at: start, length: lineEnd - start) ?? []
        guard let words = InlineSplitter.split(line) else {
            throw RESPProtocolError("Protocol error: unbalanced quotes in request")
        }
        buffer.moveReaderIndex(to: newline + 1)
        return RESPCommand(arguments: words.map { ByteBuffer(bytes: $0) }, isInline: true)
    }
}

extension ByteBuffer {
    /// Absolute index of the first `byte` in `[from, to)`, using memchr.
    @inlinable
    func firstIndex(of byte: UInt8, from: Int, to: Int) -> Int? {
        guard from < to else { return nil }
        return self.withUnsafeReadableBytes { raw -> Int? in
            let offset = from - self.readerIndex
            let count = to - from
            guard let base = raw.baseAddress,
                  let hit = memchr(base + offset, Int32(byte), count) else { return nil }
            return self.readerIndex + (UnsafeRawPointer(hit) - base)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Strict integer parsing as Redis's `string2ll`: optional '-', no '+', no spaces, no leading zeros.
public enum RESPNumber {
    public static func parseInt64(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        let n = bytes.count
        if n == 0 || n > 20 { return nil }
        var i = 0
        var negative = false
        if bytes[0] == UInt8(ascii: "-") {
            negative = true
            i = 1
            if n == 1 { return nil }
        }
        if n == 1 && bytes[0] == UInt8(ascii: "0") { return 0 }
        if bytes[i] < UInt8(ascii: "1") || bytes[i] > UInt8(ascii: "9") { return nil }
        var value: UInt64 = 0
        while i < n {
            let c = bytes[i]
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            value = a
            i += 1
        }
        if negative {
            if value > UInt64(Int64.max) + 1 { return nil }
            return value == UInt64(Int64.max) + 1 ? Int64.min : -Int64(value)
        }
        if value > UInt64(Int64.max) { return nil }
        return Int64(value)
    }

    public static func parseInt64<C: Collection>(_ bytes: C) -> Int64? where C.Element == UInt8 {
        if let r = bytes.withContiguousStorageIfAvailable({ parseInt64(UnsafeRawBufferPointer($0)) }) { return r }
        return Array(bytes).withUnsafeBytes { parseInt64($0) }
    }
}

/// Splits an inline request line as Redis's `sdssplitargs`: whitespace separated, with "double quotes"
/// (backslash escapes, \xHH) and 'single quotes'. Returns nil on unbalanced quotes.
public enum InlineSplitter {
    public static func split(_ line: [UInt8]) -> [[UInt8]]? {
        var result: [[UInt8]] = []
        var i = 0
        let n = line.count
        func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 10 || c == 13 || c == 11 || c == 12 }
        func hexValue(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        while true {
            while i < n && isSpace(line[i]) { i += 1 }
            if i >= n { return result }
            var current: [UInt8] = []
            var inDouble = false
            var inSingle = false
            var done = false
            while !done {
                if inDouble {
                    if i >= n { return nil }
                    let c = line[i]
                    if c == UInt8(ascii: "\\") && i + 3 < n && line[i + 1] == UInt8(ascii: "x"),
                       let h = hexValue(line[i + 2]), let l = hexValue(line[i + 3]) {
                        current.append(h * 16 + l)
                        i += 3
                    } else if c == UInt8(ascii: "\\") && i + 1 < n {
                        i += 1
                        switch line[i] {
                        case UInt8(ascii: "n"): current.append(10)
                        case UInt8(ascii: "r"): current.append(13)
                        case UInt8(ascii: "t"): current.append(9)
                        case UInt8(ascii: "b"): current.append(8)
                        case UInt8(ascii: "a"): current.append(7)
                        default: current.append(line[i])
                        }
                    } else if c == UInt8(ascii: "\"") {
                        // A closing quote must be followed by a space or the end.
                        if i + 1 < n && !isSpace(line[i + 1]) { return nil }
                        done = true
                    } else {
                        current.append(c)
                    }
                } else if inSingle {
                    if i >= n { return nil }
                    let c = line[i]
                    if c == UInt8(ascii: "\\") && i + 1 < n && line[i + 1] == UInt8(ascii: "'") {
                        i += 1
                        current.append(UInt8(ascii: "'"))
                    } else if c == UInt8(ascii: "'") {
                        if i + 1 < n && !isSpace(line[i + 1]) { return nil }
                        done = true
                    } else {
                        current.append(c)
                    }
                } else {
                    if i >= n { done = true; break }
                    let c = line[i]
                    if isSpace(c) {
                        done = true
                    } else if c == UInt8(ascii: "\"") {
                        inDouble = true
                    } else if c == UInt8(ascii: "'") {
                        inSingle = true
                    } else {
                        current.append(c)
                    }
                }
                if i < n { i += 1 }
            }
            result.append(current)
        }
    }
}
