import CLMDB
import TernStorage

/// Large strings (over `Enc.inlineStringLimit`) are stored as fixed-size chunk records
/// `version · 'c' · index u32`, each covering bytes `index * chunkSize ..< (index + 1) * chunkSize`. A chunk
/// may be shorter than that or missing altogether: the bytes it doesn't hold read as zeros (up to the length
/// in the header), so a bitmap with far-apart bits stores only the chunks that hold them. A range edit
/// (SETBIT, BITFIELD, SETRANGE, APPEND) rewrites only the chunks it touches and the key's header: O(chunk),
/// whatever the length of the string.
extension Enc {
    /// One overflow page of a 4 KiB-page environment holds exactly this much (4096 - 16 bytes of page header).
    static let stringChunkSize = 4080

    static func chunkKey(_ version: UInt64, _ index: Int) -> [UInt8] {
        var k = elementPrefix(version, tagChunk)
        appendU32(UInt32(index), to: &k)
        return k
    }
}

extension Tables {
    /// Bytes `offset ..< offset + count` (clamped to the string) of a large string's chunks.
    func stringRange(_ t: Txn, _ h: Header, offset: Int, count: Int) throws -> [UInt8] {
        guard offset < h.count, count > 0 else { return [] }
        let end = offset + min(count, h.count - offset)
        var out = [UInt8](repeating: 0, count: end - offset)
        let size = Enc.stringChunkSize
        let first = offset / size, last = (end - 1) / size
        let ns = Enc.elementPrefix(h.version, Enc.tagChunk)
        try out.withUnsafeMutableBytes { dst in
            try t.forEach(elems, from: Enc.chunkKey(h.version, first), prefix: ns) { k, v in
                let index = Int(Enc.u32(k, ns.count))
                if index > last { return false }
                let chunkStart = index * size
                let from = max(offset, chunkStart), to = min(end, chunkStart + v.count)
                if from < to {
                    dst.baseAddress!.advanced(by: from - offset)
                        .copyMemory(from: v.baseAddress!.advanced(by: from - chunkStart), byteCount: to - from)
                }
                return true
            }
        }
        return out
    }
}

extension LMDBDatabase {
    /// Writes a whole large string as chunks; all-zero chunks are left out (they read as zeros).
    func writeChunks(_ t: Txn, version: UInt64, _ bytes: [UInt8]) throws {
        let size = Enc.stringChunkSize
        var index = 0
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + size)
            let piece = bytes[start..<end]
            if piece.contains(where: { $0 != 0 }) {
                try t.put(tables.elems, Enc.chunkKey(version, index), Array(piece))
            }
            index += 1
            start = end
        }
    }

    /// A string's header with its bytes in chunks: converts an inline or single-record string.
    func chunkedHeader(_ t: Txn, _ h: Header) throws -> Header {
        if h.chunked { return h }
        var h = h
        let bytes: [UInt8]
        if let inline = h.inline {
            bytes = inline
        } else {
            bytes = try t.get(tables.elems, Enc.elementPrefix(h.version, Enc.tagString)) ?? []
            try t.delete(tables.elems, Enc.elementPrefix(h.version, Enc.tagString))
        }
        if h.version == 0 { h.version = try engine.newVersion() }
        h.inline = nil
        h.chunked = true
        try writeChunks(t, version: h.version, bytes)
        return h
    }

    /// Writes `patch` at `offset` into the string `name` (zero-padding; creating it when absent), keeping
    /// its expiry. Returns the new length. Runs inside the write transaction (and again on a redo).
    func patchString(_ name: [UInt8], at offset: Int?, _ patch: [UInt8]) throws -> Int {
        let t = engine.wtxn
        let ref = try findKey(t, name)
        var h = ref.header ?? Header(kind: .string, expireAt: nil, lastAccess: engine.accessClock, frequency: 5,
                                     count: 0, version: 0, head: 0, tail: 0, inline: [])
        let at = offset ?? h.count  // nil: append
        let length = max(h.count, at + patch.count)
        if length <= Enc.inlineStringLimit && !h.chunked && h.version == 0 {
            var bytes = h.inline ?? []
            if bytes.count < length { bytes += [UInt8](repeating: 0, count: length - bytes.count) }
            bytes.replaceSubrange(at..<(at + patch.count), with: patch)
            h.inline = bytes
        } else {
            h = try chunkedHeader(t, h)
            let size = Enc.stringChunkSize
            var start = at
            let end = at + patch.count
            while start < end {
                let index = start / size
                let chunkStart = index * size
                let to = min(end, chunkStart + size)
                let key = Enc.chunkKey(h.version, index)
                var chunk = try t.get(tables.elems, key) ?? []
                if chunk.count < to - chunkStart { chunk += [UInt8](repeating: 0, count: to - chunkStart - chunk.count) }
                chunk.replaceSubrange((start - chunkStart)..<(to - chunkStart), with: patch[(start - at)..<(to - at)])
                try t.put(tables.elems, key, chunk)
                start = to
            }
        }
        h.count = length
        try saveHeader(ref, h)
        if ref.header == nil { try engine.adjustCounters(phys, keys: 1) }
        return length
    }

    public func readStringRange(_ key: Bytes, offset: Int, count: Int) -> [UInt8] {
        engine.read([]) { t -> [UInt8] in
            let ref = try findKey(t, key.array)
            guard let h = ref.header, h.kind == .string else { return [] }
            if let inline = h.inline { return Self.slice(inline, offset: offset, count: count) }
            if h.chunked { return try tables.stringRange(t, h, offset: offset, count: count) }
            let whole = try t.get(tables.elems, Enc.elementPrefix(h.version, Enc.tagString)) ?? []
            return Self.slice(whole, offset: offset, count: count)
        }
    }

    public func updateStringRange<R>(_ key: Bytes, offset: Int, count: Int,
                                     _ body: (UnsafeMutableRawBufferPointer) -> R) -> R {
        // The edit runs on a copy of the range; only the resulting bytes enter the write (and its redo).
        let original = readStringRange(key, offset: offset, count: count)
        var patch = original
        if patch.count < count { patch += [UInt8](repeating: 0, count: count - patch.count) }
        let result = patch.withUnsafeMutableBytes { body($0) }
        // Nothing to write when the range was all there and the body left it as it was (SETBIT of a set bit).
        if original.count == count && patch == original { return result }
        let name = key.array
        engine.write(failed: 0) { [self] in try patchString(name, at: offset, patch) }
        return result
    }

    public func appendString(_ key: Bytes, _ suffix: UnsafeRawBufferPointer) -> Int {
        let name = key.array, patch = [UInt8](suffix)
        return engine.write(failed: 0) { [self] in try patchString(name, at: nil, patch) }
    }
}
