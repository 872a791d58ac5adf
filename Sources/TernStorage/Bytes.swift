/// A binary-safe byte string: keys, string values, fields and members.
///
/// Hashes with one `combine(bytes:)` over the contents (Array's own hashing feeds every element separately).
public struct Bytes: Hashable, Comparable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var array: [UInt8]

    @inlinable public init(_ array: [UInt8]) { self.array = array }
    @inlinable public init<S: Sequence>(_ bytes: S) where S.Element == UInt8 { self.array = Array(bytes) }
    @inlinable public init(_ string: String) { self.array = Array(string.utf8) }
    @inlinable public init(stringLiteral value: String) { self.array = Array(value.utf8) }
    @inlinable public init() { self.array = [] }

    @inlinable public var count: Int { array.count }
    @inlinable public var isEmpty: Bool { array.isEmpty }

    @inlinable
    public func hash(into hasher: inout Hasher) {
        array.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    @inlinable
    public static func == (lhs: Bytes, rhs: Bytes) -> Bool {
        let n = lhs.array.count
        guard n == rhs.array.count else { return false }
        return lhs.array.withUnsafeBytes { a in
            rhs.array.withUnsafeBytes { b in
                n == 0 || memcmp(a.baseAddress!, b.baseAddress!, n) == 0
            }
        }
    }

    /// Binary comparison, as Redis's memcmp-based ordering (shorter prefix first).
    @inlinable
    public static func < (lhs: Bytes, rhs: Bytes) -> Bool {
        let n = Swift.min(lhs.array.count, rhs.array.count)
        let c: Int32 = lhs.array.withUnsafeBytes { a in
            rhs.array.withUnsafeBytes { b in
                n == 0 ? 0 : memcmp(a.baseAddress!, b.baseAddress!, n)
            }
        }
        return c != 0 ? c < 0 : lhs.array.count < rhs.array.count
    }

    /// Lossy UTF-8 text, for logs and messages.
    public var description: String { String(decoding: array, as: UTF8.self) }
    public var string: String { String(decoding: array, as: UTF8.self) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
