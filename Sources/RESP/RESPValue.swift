import NIOCore

/// A decoded reply, for the client side: tests, replication links, tools. The server never builds these
/// on its hot path (it writes replies straight into the output buffer).
public indirect enum RESPValue: Equatable, Sendable, CustomStringConvertible {
    case simple(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8])
    case null
    case array([RESPValue])
    case map([(RESPValue, RESPValue)])
    case set([RESPValue])
    case push([RESPValue])
    case double(String)
    case boolean(Bool)
    case verbatim(format: String, text: String)
    case bigNumber(String)

    public static func == (lhs: RESPValue, rhs: RESPValue) -> Bool {
        switch (lhs, rhs) {
        case let (.simple(a), .simple(b)), let (.error(a), .error(b)), let (.double(a), .double(b)),
             let (.bigNumber(a), .bigNumber(b)):
            return a == b
        case let (.integer(a), .integer(b)): return a == b
        case let (.bulk(a), .bulk(b)): return a == b
        case (.null, .null): return true
        case let (.array(a), .array(b)), let (.set(a), .set(b)), let (.push(a), .push(b)): return a == b
        case let (.map(a), .map(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.boolean(a), .boolean(b)): return a == b
        case let (.verbatim(f1, t1), .verbatim(f2, t2)): return f1 == f2 && t1 == t2
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .simple(let s): return "+\(s)"
        case .error(let s): return "-\(s)"
        case .integer(let i): return ":\(i)"
        case .bulk(let b): return "\"\(String(decoding: b, as: UTF8.self))\""
        case .null: return "(nil)"
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .set(let a): return "~[" + a.map(\.description).joined(separator: ", ") + "]"
        case .push(let a): return ">[" + a.map(\.description).joined(separator: ", ") + "]"
        case .map(let m): return "{" + m.map { "\($0.0): \($0.1)" }.joined(separator: ", ") + "}"
        case .double(let d): return ",\(d)"
        case .boolean(let b): return b ? "#t" : "#f"
        case .verbatim(_, let t): return "=\(t)"
        case .bigNumber(let n): return "(\(n))"
        }
    }

    /// The text of a bulk, simple or verbatim string.
    public var string: String? {
        switch self {
        case .bulk(let b): return String(decoding: b, as: UTF8.self)
        case .simple(let s), .double(let s), .bigNumber(let s): return s
        case .verbatim(_, let t): return t
        default: return nil
        }
    }

    /// Encodes the value (a request is an array of bulks).
    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .simple(let s): buffer.writeRESPSimpleString(s)
        case .error(let s): buffer.writeRESPError(s)
        case .integer(let i): buffer.writeRESPInteger(Int(i))
        case .bulk(let b): buffer.writeRESPBulk(b)
        case .null: buffer.writeRESPNull(.resp3)
        case .array(let a):
            buffer.writeRESPArrayHeader(a.count)
            for v in a { v.encode(into: &buffer) }
        case .set(let a):
            buffer.writeRESPSetHeader(a.count, .resp3)
            for v in a { v.encode(into: &buffer) }
        case .push(let a):
            buffer.writeRESPPushHeader(a.count, .resp3)
            for v in a { v.encode(into: &buffer) }
        case .map(let m):
            buffer.writeRESPMapHeader(m.count, .resp3)
            for (k, v) in m { k.encode(into: &buffer); v.encode(into: &buffer) }
        case .double(let d): buffer.writeRESPDouble(formatted: d, .resp3)
        case .boolean(let b): buffer.writeRESPBool(b, .resp3)
        case .verbatim(let f, let t): buffer.writeRESPVerbatim(t, format: f, .resp3)
        case .bigNumber(let n):
            buffer.writeString("(\(n)\r\n")
        }
    }

    /// A request as a client sends it.
    public static func command(_ words: [String]) -> RESPValue {
        .array(words.map { .bulk(Array($0.utf8)) })
    }
}

/// Incremental reply parser (client side), bounded nesting depth.
public struct RESPValueDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = RESPValue
    public var maxDepth = 64
    public var maxBulkLength = 512 * 1024 * 1024

    public init() {}

    public mutating func decode(buffer: inout ByteBuffer) throws -> RESPValue? {
        var cursor = buffer.readerIndex
        guard let value = try parse(buffer, &cursor, depth: 0) else { return nil }
        buffer.moveReaderIndex(to: cursor)
        return value
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RESPValue? {
        try decode(buffer: &buffer)
    }

    private func line(_ buffer: ByteBuffer, _ cursor: inout Int) -> String? {
        guard let cr = buffer.firstIndex(of: 13, from: cursor, to: buffer.writerIndex),
              cr + 1 < buffer.writerIndex else { return nil }
        let text = buffer.getString(at: cursor, length: cr - cursor) ?? ""
        cursor = cr + 2
        return text
    }

    private func parse(_ buffer: ByteBuffer, _ cursor: inout Int, depth: Int) throws -> RESPValue? {
        guard depth <= maxDepth else { throw RESPProtocolError("Protocol error: nesting too deep") }
        guard cursor < buffer.writerIndex, let marker = buffer.getInteger(at: cursor, as: UInt8.self) else { return nil }
        cursor += 1
        guard let header = line(buffer, &cursor) else { return nil }
        func count() throws -> Int {
            guard let n = Int(header), n >= -1, n <= 1 << 32 else { throw RESPProtocolError("Protocol error: invalid length '\(header)'") }
            return n
        }
        switch marker {
        case UInt8(ascii: "+"): return .simple(header)
        case UInt8(ascii: "-"): return .error(header)
        case UInt8(ascii: ":"):
            guard let n = Int64(header) else { throw RESPProtocolError("Protocol error: invalid integer '\(header)'") }
            return .integer(n)
        case UInt8(ascii: ","): return .double(header)
        case UInt8(ascii: "("): return .bigNumber(header)
        case UInt8(ascii: "#"): return .boolean(header == "t")
        case UInt8(ascii: "_"): return .null
        case UInt8(ascii: "$"), UInt8(ascii: "="), UInt8(ascii: "!"):
            let n = try count()
            if n < 0 { return .null }
            guard n <= maxBulkLength else { throw RESPProtocolError("Protocol error: bulk too long") }
            guard cursor + n + 2 <= buffer.writerIndex else { return nil }
            let bytes = buffer.getBytes(at: cursor, length: n)!
            cursor += n + 2
            if marker == UInt8(ascii: "=") {
                let text = String(decoding: bytes, as: UTF8.self)
                return .verbatim(format: String(text.prefix(3)), text: String(text.dropFirst(4)))
            }
            if marker == UInt8(ascii: "!") { return .error(String(decoding: bytes, as: UTF8.self)) }
            return .bulk(bytes)
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"):
            let n = try count()
            if n < 0 { return .null }
            var items: [RESPValue] = []
            items.reserveCapacity(min(n, 1024))
            for _ in 0..<n {
                guard let item = try parse(buffer, &cursor, depth: depth + 1) else { return nil }
                items.append(item)
            }
            return marker == UInt8(ascii: "*") ? .array(items) : marker == UInt8(ascii: "~") ? .set(items) : .push(items)
        case UInt8(ascii: "%"), UInt8(ascii: "|"):
            let n = try count()
            var pairs: [(RESPValue, RESPValue)] = []
            for _ in 0..<max(n, 0) {
                guard let k = try parse(buffer, &cursor, depth: depth + 1),
                      let v = try parse(buffer, &cursor, depth: depth + 1) else { return nil }
                pairs.append((k, v))
            }
            if marker == UInt8(ascii: "|") {
                // An attribute precedes the real reply: skip it.
                return try parse(buffer, &cursor, depth: depth)
            }
            return .map(pairs)
        default:
            throw RESPProtocolError("Protocol error: unexpected type byte \(marker)")
        }
    }
}
