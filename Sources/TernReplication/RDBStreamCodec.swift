import TernStorage

/// Streams in RDB_TYPE_STREAM_LISTPACKS_2 (19), as Redis 7.0 writes them: the rax of nodes (16-byte master
/// ID, listpack), length, last ID, first ID, max deleted ID, entries added, then each group with its last ID,
/// entries-read, PEL (ID, delivery time, count) and consumers (name, seen time, their PEL IDs).
extension RDBWriter {
    mutating func writeStream(_ s: StreamValue) {
        writeLength(UInt64(s.nodes.count))
        for node in s.nodes {
            writeString(node.master.encoded)
            writeString(Self.listpack(node))
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

    /// The node's listpack, byte for byte as Redis's streamAppendItem/lpReplace leave it.
    static func listpack(_ node: StreamNode) -> [UInt8] {
        var lp = ListpackWriter()
        lp.integer(Int64(node.live))
        lp.integer(Int64(node.deletedCount))
        lp.integer(Int64(node.masterFields.count))
        for f in node.masterFields { lp.string(f.array) }
        lp.integer(0)
        for item in node.items {
            lp.integer(Int64(item.flags))
            lp.integer(Int64(bitPattern: item.id.ms &- node.master.ms))
            lp.integer(Int64(bitPattern: item.id.seq &- node.master.seq))
            let pairs = item.fields.count / 2
            if !item.sameFields { lp.integer(Int64(pairs)) }
            for (i, f) in item.fields.enumerated() where !item.sameFields || i % 2 == 1 { lp.string(f.array) }
            lp.integer(Int64(item.sameFields ? pairs + 3 : 2 * pairs + 4))
        }
        return lp.finish()
    }
}

/// Redis's listpack encoding (listpack.c): strings that are canonical integers are stored as integers.
struct ListpackWriter {
    var body: [UInt8] = []
    var count = 0

    mutating func integer(_ v: Int64) {
        let start = body.count
        if v >= 0 && v <= 127 {
            body.append(UInt8(v))
        } else if v >= -4096 && v <= 4095 {
            let u = v < 0 ? (1 << 13) + v : v
            body.append(UInt8(u >> 8) | 0xC0)
            body.append(UInt8(u & 0xFF))
        } else {
            let width: Int, tag: UInt8
            if v >= -32768 && v <= 32767 { width = 2; tag = 0xF1 }
            else if v >= -8_388_608 && v <= 8_388_607 { width = 3; tag = 0xF2 }
            else if v >= -2_147_483_648 && v <= 2_147_483_647 { width = 4; tag = 0xF3 }
            else { width = 8; tag = 0xF4 }
            body.append(tag)
            let u = UInt64(bitPattern: v)
            for i in 0..<width { body.append(UInt8(truncatingIfNeeded: u >> (8 * UInt64(i)))) }
        }
        backlen(body.count - start)
    }

    mutating func string(_ s: [UInt8]) {
        if let v = ListpackSize.strictInt64(s) { return integer(v) }
        let start = body.count
        let n = s.count
        if n <= 63 {
            body.append(0x80 | UInt8(n))
        } else if n <= 4095 {
            body.append(0xE0 | UInt8(n >> 8))
            body.append(UInt8(n & 0xFF))
        } else {
            body.append(0xF0)
            for i in 0..<4 { body.append(UInt8(truncatingIfNeeded: n >> (8 * i))) }
        }
        body.append(contentsOf: s)
        backlen(body.count - start)
    }

    mutating func backlen(_ l: Int) {
        count += 1
        if l <= 127 {
            body.append(UInt8(l))
        } else if l < 16383 {
            body.append(UInt8(l >> 7)); body.append(UInt8(l & 127) | 128)
        } else if l < 2_097_151 {
            body.append(UInt8(l >> 14)); body.append(UInt8((l >> 7) & 127) | 128); body.append(UInt8(l & 127) | 128)
        } else if l < 268_435_455 {
            body.append(UInt8(l >> 21)); body.append(UInt8((l >> 14) & 127) | 128)
            body.append(UInt8((l >> 7) & 127) | 128); body.append(UInt8(l & 127) | 128)
        } else {
            body.append(UInt8(l >> 28)); body.append(UInt8((l >> 21) & 127) | 128); body.append(UInt8((l >> 14) & 127) | 128)
            body.append(UInt8((l >> 7) & 127) | 128); body.append(UInt8(l & 127) | 128)
        }
    }

    func finish() -> [UInt8] {
        let total = body.count + 7
        var out: [UInt8] = []
        out.reserveCapacity(total)
        for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: total >> (8 * i))) }
        let n = count < 65535 ? count : 65535
        out.append(UInt8(n & 0xFF)); out.append(UInt8(n >> 8))
        out.append(contentsOf: body)
        out.append(0xFF)
        return out
    }
}
