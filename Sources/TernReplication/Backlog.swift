/// The replication backlog: a ring buffer holding the last `size` bytes of the replication stream.
/// Offsets are Redis's: the stream's first byte ever is offset 1; `masterOffset` counts every byte fed.
public struct ReplicationBacklog {
    public let size: Int
    private var ring: [UInt8]
    /// Where the next byte goes.
    private var index = 0
    /// Bytes held (at most `size`).
    public private(set) var histlen = 0
    /// master_repl_offset after the last byte fed.
    public private(set) var masterOffset: Int64

    public init(size: Int, masterOffset: Int64) {
        self.size = max(1, size)
        self.ring = Array(repeating: 0, count: max(1, size))
        self.masterOffset = masterOffset
    }

    /// Offset of the oldest byte held (repl_backlog_first_byte_offset).
    public var firstByteOffset: Int64 { masterOffset - Int64(histlen) + 1 }

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        masterOffset += Int64(bytes.count)
        var source = bytes[...]
        if bytes.count > size { source = source.dropFirst(bytes.count - size) }
        let handled: Void? = source.withContiguousStorageIfAvailable { src in
            // At most two copies: up to the end of the ring, then from its start.
            ring.withUnsafeMutableBufferPointer { r in
                var from = 0
                while from < src.count {
                    let n = min(src.count - from, size - index)
                    UnsafeMutableRawPointer(r.baseAddress! + index)
                        .copyMemory(from: src.baseAddress! + from, byteCount: n)
                    from += n
                    index += n
                    if index == size { index = 0 }
                }
            }
        }
        if handled == nil {
            ring.withUnsafeMutableBufferPointer { r in
                for b in source {
                    r[index] = b
                    index += 1
                    if index == size { index = 0 }
                }
            }
        }
        histlen = min(size, histlen + bytes.count)
    }

    /// True when a replica that wants the stream from `offset` on (its offset + 1) can be served from here.
    public func canServe(from offset: Int64) -> Bool {
        offset >= firstByteOffset && offset <= masterOffset + 1
    }

    /// The bytes from `offset` (inclusive) to the end; requires `canServe(from:)`.
    public func bytes(from offset: Int64) -> [UInt8] {
        let skip = Int(offset - firstByteOffset)
        let count = histlen - skip
        guard count > 0 else { return [] }
        var start = (index - histlen + skip) % size
        if start < 0 { start += size }
        if start + count <= size { return Array(ring[start..<(start + count)]) }
        return Array(ring[start..<size]) + Array(ring[0..<(count - (size - start))])
    }
}
