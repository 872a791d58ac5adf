/// Heap bytes a value occupies in its Swift representation (`StoredValue`), for MEMORY USAGE.
///
/// Sizes follow what the standard library and glibc's malloc really allocate: a native array, dictionary or
/// set buffer is one heap object (16-byte object header plus the container's own header) whose malloc chunk
/// is the request plus 8 bytes, rounded up to 16, at least 32. Collections are measured from their actual
/// capacity; elements are sampled (at most `samples` of them, as Redis's objectComputeSize) and the average
/// is extrapolated to the whole collection.
public enum MemoryFootprint {
    /// glibc's chunk size for a malloc of `n` bytes (0 for nothing allocated).
    @inlinable
    public static func mallocChunk(_ n: Int) -> Int {
        n <= 0 ? 0 : max(32, (n + 8 + 15) & ~15)
    }

    /// A native array's buffer: object header 16 + count/capacity 16, then the elements.
    @inlinable
    public static func arrayBuffer(capacity: Int, stride: Int) -> Int {
        capacity == 0 ? 0 : mallocChunk(32 + capacity * stride)
    }

    /// The heap bytes of one byte string (its array buffer; an empty one shares the static empty buffer).
    @inlinable
    public static func bytes(_ b: Bytes) -> Int {
        arrayBuffer(capacity: b.array.capacity, stride: 1)
    }

    /// A native hash table (Dictionary or Set storage): object header plus the storage header (~64 bytes),
    /// the occupancy bitmap and `bucketStride` bytes per bucket. Buckets: the power of two holding `capacity`
    /// at the 3/4 maximum load factor.
    public static func hashTable(capacity: Int, bucketStride: Int) -> Int {
        guard capacity > 0 else { return 0 }
        var buckets = 1
        while buckets * 3 / 4 < capacity { buckets <<= 1 }
        let bitmap = ((buckets + 63) / 64) * 8
        return mallocChunk(80 + bitmap + buckets * bucketStride)
    }

    /// Elements sampled per aggregate when `samples` is not given (OBJ_COMPUTE_SIZE_DEF_SAMPLES).
    public static let defaultSamples = 5

    /// Heap bytes of `value` (not the key or the database entry holding it).
    public static func value(_ value: StoredValue, samples: Int) -> Int {
        let samples = max(1, samples)
        /// Average of `measure` over the first `samples` elements, times `count`.
        func sampled<S: Sequence>(_ elements: S, count: Int, _ measure: (S.Element) -> Int) -> Int {
            guard count > 0 else { return 0 }
            var total = 0
            var seen = 0
            for e in elements {
                total += measure(e)
                seen += 1
                if seen == samples { break }
            }
            return seen == 0 ? 0 : Int((Double(total) / Double(seen) * Double(count)).rounded())
        }
        switch value {
        case .string(let s):
            return bytes(s)
        case .list(let l):
            // Deque: one ring buffer (object header 16 + capacity/count/start 24) of 8-byte elements.
            return mallocChunk(40 + l.count * MemoryLayout<Bytes>.stride) + sampled(l, count: l.count, bytes)
        case .hash(let h):
            let table = hashTable(capacity: h.capacity, bucketStride: 2 * MemoryLayout<Bytes>.stride)
            return table + sampled(h, count: h.count) { bytes($0.key) + bytes($0.value) }
        case .set(let s):
            return hashTable(capacity: s.capacity, bucketStride: MemoryLayout<Bytes>.stride)
                + sampled(s, count: s.count, bytes)
        case .zset(let z):
            // member -> score table, plus the order tree: (score, member) entries in leaves of 16...64 entries
            // (counted at 3/4 full), each node an object with its entry, count and max arrays.
            let table = hashTable(capacity: z.scores.capacity,
                                  bucketStride: MemoryLayout<Bytes>.stride + MemoryLayout<Double>.stride)
            let entryStride = MemoryLayout<SortedSetValue.Entry>.stride
            let leaves = (z.count + 47) / 48
            let tree = z.count * entryStride * 4 / 3 + leaves * (mallocChunk(64) + 3 * mallocChunk(32))
            return table + tree + sampled(z.scores.keys, count: z.count, bytes)
        case .stream(let s):
            // The node array, and per node its entries' IDs and field/value bytes (sampled nodes).
            let array = arrayBuffer(capacity: s.nodes.count, stride: MemoryLayout<StreamNode>.stride)
            return array + sampled(s.nodes, count: s.nodes.count) { node in
                node.items.reduce(0) { $0 + 16 + $1.fields.reduce(0) { $0 + $1.count + 1 } }
            }
        }
    }
}
