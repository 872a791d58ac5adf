/// Range operations on string values, so bit and range commands (SETBIT, BITFIELD, GETRANGE, SETRANGE,
/// APPEND, ...) on a big string touch only the bytes they need.
///
/// The defaults are built on `lookup`/`update` (the memory backend edits its value in place); a backend that
/// stores big strings in pieces overrides them so a one-byte edit of a 64 MB value costs O(piece).
/// Callers (the core's keyspace layer) have already checked that the key is absent or a string and not expired.
public protocol StringRangeStorage {
    /// Up to `count` bytes of the string at `key` from `offset` (fewer past its end; empty when absent).
    func readStringRange(_ key: Bytes, offset: Int, count: Int) -> [UInt8]
    /// Zero-pads the string at `key` (creating it when absent) to at least `offset + count` bytes, then lets
    /// `body` edit bytes `offset ..< offset + count` in place. The expiry is kept. Returns `body`'s result.
    func updateStringRange<R>(_ key: Bytes, offset: Int, count: Int,
                              _ body: (UnsafeMutableRawBufferPointer) -> R) -> R
    /// Appends `suffix` to the string at `key` (creating it when absent); returns the new length.
    func appendString(_ key: Bytes, _ suffix: UnsafeRawBufferPointer) -> Int
}

extension StorageDatabase {
    public func readStringRange(_ key: Bytes, offset: Int, count: Int) -> [UInt8] {
        guard case .string(let s)? = lookup(key, touch: nil)?.value else { return [] }
        return Self.slice(s.array, offset: offset, count: count)
    }

    public func updateStringRange<R>(_ key: Bytes, offset: Int, count: Int,
                                     _ body: (UnsafeMutableRawBufferPointer) -> R) -> R {
        update(key) { value -> R in
            var bytes: [UInt8] = []
            if case .string(let s)? = value { bytes = s.array }
            value = nil  // leaves `bytes` the only reference: edited in place, not copied
            let r = Self.edit(&bytes, offset: offset, count: count, body)
            value = .string(Bytes(bytes))
            return r
        }
    }

    public func appendString(_ key: Bytes, _ suffix: UnsafeRawBufferPointer) -> Int {
        update(key) { value -> Int in
            var bytes: [UInt8] = []
            if case .string(let s)? = value { bytes = s.array }
            value = nil
            bytes.append(contentsOf: suffix)
            let n = bytes.count
            value = .string(Bytes(bytes))
            return n
        }
    }
}

extension StorageDatabase {
    /// `count` bytes from `offset`, clamped to the array.
    @inlinable
    public static func slice(_ bytes: [UInt8], offset: Int, count: Int) -> [UInt8] {
        guard offset < bytes.count, count > 0 else { return [] }
        let end = offset + min(count, bytes.count - offset)
        return Array(bytes[offset..<end])
    }

    /// Zero-pads `bytes` to `offset + count` and runs `body` on that range.
    @inlinable
    public static func edit<R>(_ bytes: inout [UInt8], offset: Int, count: Int,
                               _ body: (UnsafeMutableRawBufferPointer) -> R) -> R {
        if bytes.count < offset + count {
            // A zeroed array appends with one copy (a repeated-element sequence appends byte by byte).
            bytes.append(contentsOf: [UInt8](repeating: 0, count: offset + count - bytes.count))
        }
        let r = bytes.withUnsafeMutableBytes { raw in
            body(UnsafeMutableRawBufferPointer(rebasing: raw[offset..<(offset + count)]))
        }
        return r
    }
}
