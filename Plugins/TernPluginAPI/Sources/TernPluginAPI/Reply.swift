/// A reply, as the RESP value it becomes. The server writes it in the client's protocol (RESP2 or RESP3):
/// in RESP2 a map becomes a flat array, a double a bulk string, a boolean an integer, null `$-1`.
public indirect enum Reply {
    case ok
    case simple(String)
    /// A whole error line, prefix included ("ERR ...", "WRONGTYPE ..."). A prefix-less text gets "ERR ".
    case error(String)
    case integer(Int)
    case bulk([UInt8])
    case null
    case array([Reply])
    case map([(Reply, Reply)])
    case set([Reply])
    case double(Double)
    case bool(Bool)

    public static func bulk(_ text: String) -> Reply { .bulk(Array(text.utf8)) }
    public static func integers(_ values: [Int]) -> Reply { .array(values.map { .integer($0) }) }
    public static func bulks(_ values: [[UInt8]]) -> Reply { .array(values.map { .bulk($0) }) }
}

extension Reply: Equatable {
    public static func == (a: Reply, b: Reply) -> Bool {
        switch (a, b) {
        case (.ok, .ok), (.null, .null): return true
        case (.simple(let x), .simple(let y)), (.error(let x), .error(let y)): return x == y
        case (.integer(let x), .integer(let y)): return x == y
        case (.bulk(let x), .bulk(let y)): return x == y
        case (.array(let x), .array(let y)), (.set(let x), .set(let y)): return x == y
        case (.map(let x), .map(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.double(let x), .double(let y)): return x == y || (x.isNaN && y.isNaN)
        case (.bool(let x), .bool(let y)): return x == y
        default: return false
        }
    }
}

/// An error a handler throws: it becomes the command's error reply (and counts in INFO errorstats).
/// Any other error thrown becomes "ERR <its description>".
public struct PluginError: Error, Equatable, CustomStringConvertible {
    /// The whole error line, prefix included.
    public let message: String

    /// `message` with its prefix ("ERR ...", "WRONGTYPE ..."); a text without an upper-case first word gets
    /// "ERR " in front.
    public init(_ message: String) {
        self.message = PluginError.hasPrefix(message) ? message : "ERR " + message
    }

    public var description: String { message }

    /// True when the first word is all upper-case letters and is followed by a space (Redis's error codes).
    static func hasPrefix(_ text: String) -> Bool {
        var sawLetter = false
        for c in text.utf8 {
            if c == 32 { return sawLetter }
            guard c >= 65 && c <= 90 else { return false }
            sawLetter = true
        }
        return false
    }

    public static let syntax = PluginError("ERR syntax error")
    public static let wrongType = PluginError("WRONGTYPE Operation against a key holding the wrong kind of value")
    public static let notInteger = PluginError("ERR value is not an integer or out of range")
    public static let notFloat = PluginError("ERR value is not a valid float")
}

/// Parsing of arguments, with Redis's errors. They throw rather than trap: a bad argument must give the
/// client an error, never stop the server.
public enum Arguments {
    /// A 64-bit decimal integer as Redis's string2ll accepts it (no spaces, no '+', no leading zeros).
    public static func integer(_ bytes: [UInt8]) throws -> Int {
        guard let v = parseInteger(bytes) else { throw PluginError.notInteger }
        return v
    }

    public static func parseInteger(_ bytes: [UInt8]) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 20 else { return nil }
        if bytes.count == 1 && bytes[0] == UInt8(ascii: "0") { return 0 }
        var i = 0
        var negative = false
        if bytes[0] == UInt8(ascii: "-") { negative = true; i = 1 }
        guard i < bytes.count, bytes[i] >= UInt8(ascii: "1"), bytes[i] <= UInt8(ascii: "9") else { return nil }
        var magnitude: UInt64 = 0
        while i < bytes.count {
            let c = bytes[i]
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
            guard !o1 && !o2 else { return nil }
            magnitude = s
            i += 1
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int.min : -Int(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int(magnitude)
    }

    /// A finite or infinite double ("inf", "-inf" accepted; NaN refused), as Redis's float arguments.
    public static func double(_ bytes: [UInt8]) throws -> Double {
        let text = string(bytes)
        guard !text.isEmpty, !text.contains(" "), let d = Double(text), !d.isNaN else { throw PluginError.notFloat }
        return d
    }

    /// The bytes as UTF-8 text (invalid sequences replaced).
    public static func string(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// Case-insensitive comparison with an ASCII word (option names such as "NX").
    public static func matches(_ bytes: [UInt8], _ word: String) -> Bool {
        let w = Array(word.utf8)
        guard w.count == bytes.count else { return false }
        for (a, b) in zip(bytes, w) where (a | 0x20) != (b | 0x20) { return false }
        return true
    }
}
