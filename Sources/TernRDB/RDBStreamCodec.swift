import TernStorage

/// Streams in RDB_TYPE_STREAM_LISTPACKS_2 (19), as Redis 7.0 writes them: the rax of nodes (16-byte master
/// ID, listpack), length, last ID, first ID, max deleted ID, entries added, then each group with its last ID,
/// entries-read, PEL (ID, delivery time, count) and consumers (name, seen time, their PEL IDs).
extension RDBWriter {
    mutating func writeStream(_ s: StreamValue) {
        writeLength(UInt64(s.nodes.count))
        for node in s.nodes {
            writeString(node.master.encoded)
            writeString(node.listpack())
        }
        writeLength(UInt64(s.length))
        writeLength(s.lastID.ms); writeLength(s.lastID.seq)
        writeLength(s.firstID.ms); writeLength(s.firstID.seq)
        writeLength(s.maxDeletedID.ms); writeLength(s.maxDeletedID.seq)
        writeLength(s.entriesAdded)
        writeLength(UInt64(s.groups.count))
        for g in s.groups {
            writeString(g.name.array)
            writeLength(g.lastID.ms); writeLength(g.lastID.seq)
            writeLength(UInt64(bitPattern: g.entriesRead))
            writeLength(UInt64(g.pelIDs.count))
            for id in g.pelIDs {
                let p = g.pel[id]!
                bytes.append(contentsOf: id.encoded)
                appendLittleEndian(UInt64(bitPattern: p.deliveryTime))
                writeLength(p.deliveryCount)
            }
            writeLength(UInt64(g.consumers.count))
            for c in g.consumers {
                writeString(c.name.array)
                appendLittleEndian(UInt64(bitPattern: c.seenTime))
                writeLength(UInt64(c.pending.count))
                for id in c.pending { bytes.append(contentsOf: id.encoded) }
            }
        }
    }

    mutating func appendLittleEndian(_ v: UInt64) {
        var le = v.littleEndian
        withUnsafeBytes(of: &le) { bytes.append(contentsOf: $0) }
    }
}
