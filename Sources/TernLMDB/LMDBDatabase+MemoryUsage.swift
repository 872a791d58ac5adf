import CLMDB
import TernStorage

extension LMDBDatabase {
    /// MEMORY USAGE on LMDB: the bytes the key's records take on LMDB pages — its `keys` record, its `expires`
    /// entry, and its element records (two per sorted-set member: by member and by score), each as LMDB lays a
    /// leaf node out (node header, key, data, slot in the page index; data too big for a node goes to
    /// overflow pages), scaled by the page header's share of a page. Free space left in partly filled pages
    /// is not counted. Element records are sampled: at most `samples` per table range, extrapolated to the
    /// key's element count.
    public func memoryUsage(_ key: Bytes, samples: Int) -> Int? {
        let pageSize = engine.pageSize
        return engine.read(nil) { t -> Int? in
            let ref = try findKey(t, key.array, withInline: false)
            guard let h = ref.header else { return nil }
            var bytes = 0
            _ = try t.withValue(tables.keys, ref.tableKey) { v in
                bytes += Self.leafBytes(key: ref.tableKey.count, data: v.count, pageSize: pageSize)
            }
            if h.expireAt != nil {
                let nameBytes = ref.encodedName.count
                bytes += Self.leafBytes(key: 4 + 8 + nameBytes, data: ref.long ? 4 + ref.name.count : 0, pageSize: pageSize)
            }
            func range(_ tag: UInt8, records: Int) throws -> Int {
                let ns = Enc.elementPrefix(h.version, tag)
                var total = 0
                var seen = 0
                try t.forEach(tables.elems, from: ns, prefix: ns) { k, v in
                    total += Self.leafBytes(key: k.count, data: v.count, pageSize: pageSize)
                    seen += 1
                    return seen < samples
                }
                guard seen > 0 else { return 0 }
                return Int((Double(total) / Double(seen) * Double(max(records, seen))).rounded())
            }
            switch h.kind {
            case .string:
                // A big string is one record, or chunk records (its header's count is the byte length);
                // chunks are sampled and extrapolated to the length's chunk count, as Redis's string holds
                // every byte up to its length.
                if h.chunked {
                    bytes += try range(Enc.tagChunk, records: (h.count + Enc.stringChunkSize - 1) / Enc.stringChunkSize)
                } else if h.version != 0 {
                    bytes += try range(Enc.tagString, records: 1)
                }
            case .list: bytes += try range(Enc.tagList, records: h.count)
            case .hash: bytes += try range(Enc.tagHash, records: h.count)
            case .set: bytes += try range(Enc.tagSet, records: h.count)
            case .zset: bytes += try range(Enc.tagZMember, records: h.count) + range(Enc.tagZScore, records: h.count)
            // A stream is one serialized record.
            case .stream: bytes += try range(Enc.tagStream, records: 1)
            }
            return bytes * pageSize / (pageSize - Self.pageHeader)
        }
    }

    /// LMDB's PAGEHDRSZ.
    static let pageHeader = 16

    /// mdb_leaf_size: node header (8) + key + data, even-aligned, plus the page's 2-byte index slot; data that
    /// doesn't fit a node (me_nodemax) is replaced by an 8-byte page number and stored on overflow pages.
    static func leafBytes(key: Int, data: Int, pageSize: Int) -> Int {
        let nodeMax = (((pageSize - pageHeader) / 2) & ~1) - 2
        var size = 8 + key + data
        var overflow = 0
        if size > nodeMax {
            size = 8 + key + 8
            overflow = ((pageHeader - 1 + data) / pageSize + 1) * pageSize
        }
        return ((size + 1) & ~1) + 2 + overflow
    }
}
