import CLMDB
import TernStorage

/// The four LMDB sub-databases of an environment and the reads shared by the engine and its snapshots.
struct Tables: Sendable {
    /// Engine state: db mapping, counters, id allocators, garbage queues.
    var meta: MDB_dbi = 0
    /// [phys u32][name] -> [long name][header][inline string]
    var keys: MDB_dbi = 0
    /// [version u64][tag][...] -> element payloads
    var elems: MDB_dbi = 0
    /// [phys u32][expireAt ordered u64][name] -> [long name]
    var expires: MDB_dbi = 0

    /// Looks `name` up under `ns` in `dbi`. Returns the LMDB key of the record (or the key to insert it under),
    /// whether the name is in long form, and `decode(value, payloadOffset)` when present.
    func findName<T>(_ t: Txn, _ dbi: MDB_dbi, ns: [UInt8], name: [UInt8],
                     _ decode: (UnsafeRawBufferPointer, Int) throws -> T) throws -> (key: [UInt8], long: Bool, found: T?) {
        let (base, long) = Enc.nameBase(name)
        if !long {
            let key = ns + base
            var result: T?
            try t.withValue(dbi, key) { v in result = try decode(v, 0) }
            return (key, false, result)
        }
        let search = ns + base
        var nextIndex = 0
        var hit: ([UInt8], T)?
        try t.forEach(dbi, from: search, prefix: search) { k, v in
            guard k.count == search.count + 2 else { return true }
            nextIndex = max(nextIndex, Int(Enc.u16(k, k.count - 2)) + 1)
            let (full, offset) = Enc.unwrap(v, long: true)
            if full! == name {
                hit = ([UInt8](k), try decode(v, offset))
                return false
            }
            return true
        }
        if let hit { return (hit.0, true, hit.1) }
        precondition(nextIndex <= Int(UInt16.max), "too many hash collisions for one long name")
        var key = search
        Enc.appendU16(UInt16(nextIndex), to: &key)
        return (key, true, nil)
    }

    /// The full name of an element/key record given its encoded name length and its value.
    @inline(__always)
    func name(encoded: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> (name: [UInt8], payload: Int) {
        if Enc.isLong(encodedLength: encoded.count) {
            let (full, offset) = Enc.unwrap(value, long: true)
            return (full!, offset)
        }
        return ([UInt8](encoded), 0)
    }

    func seqKey(_ version: UInt64, _ seq: Int64) -> [UInt8] {
        var k = Enc.elementPrefix(version, Enc.tagList)
        Enc.appendU64(Enc.orderedInt(seq), to: &k)
        return k
    }

    func scoreKey(_ version: UInt64, _ score: Double, _ encodedMember: ArraySlice<UInt8>) -> [UInt8] {
        var k = Enc.elementPrefix(version, Enc.tagZScore)
        Enc.appendU64(Enc.orderedDouble(score), to: &k)
        k += encodedMember
        return k
    }

    /// Decodes a score-index record: member and score. The key orders -0 as +0; a payload byte 1 marks -0.
    @inline(__always)
    func scoreEntry(_ k: UnsafeRawBufferPointer, _ v: UnsafeRawBufferPointer, prefixCount: Int) -> ([UInt8], Double) {
        let score = Enc.doubleFromOrdered(Enc.u64(k, prefixCount))
        let (member, off) = name(encoded: UnsafeRawBufferPointer(rebasing: k[(prefixCount + 8)...]), value: v)
        if off < v.count && v[off] == 1 { return (member, -0.0) }
        return (member, score)
    }

    /// Reads a whole value (for lookups, snapshots and `update`).
    func materialize(_ t: Txn, _ h: Header) throws -> StoredValue {
        switch h.kind {
        case .string:
            if let inline = h.inline { return .string(Bytes(inline)) }
            return .string(Bytes(try t.get(elems, Enc.elementPrefix(h.version, Enc.tagString)) ?? []))
        case .list:
            var out: [Bytes] = []
            out.reserveCapacity(h.count)
            let ns = Enc.elementPrefix(h.version, Enc.tagList)
            try t.forEach(elems, from: ns, prefix: ns) { _, v in
                out.append(Bytes([UInt8](v)))
                return true
            }
            return .list(.init(out))
        case .hash:
            var out: [Bytes: Bytes] = [:]
            out.reserveCapacity(h.count)
            let ns = Enc.elementPrefix(h.version, Enc.tagHash)
            try t.forEach(elems, from: ns, prefix: ns) { k, v in
                let (n, off) = name(encoded: UnsafeRawBufferPointer(rebasing: k[ns.count...]), value: v)
                out[Bytes(n)] = Bytes([UInt8](v[off...]))
                return true
            }
            return .hash(out)
        case .set:
            var out = Set<Bytes>()
            out.reserveCapacity(h.count)
            let ns = Enc.elementPrefix(h.version, Enc.tagSet)
            try t.forEach(elems, from: ns, prefix: ns) { k, v in
                out.insert(Bytes(name(encoded: UnsafeRawBufferPointer(rebasing: k[ns.count...]), value: v).name))
                return true
            }
            return .set(out)
        case .zset:
            var z = SortedSetValue()
            let ns = Enc.elementPrefix(h.version, Enc.tagZScore)
            try t.forEach(elems, from: ns, prefix: ns) { k, v in
                let (member, score) = scoreEntry(k, v, prefixCount: ns.count)
                z.set(Bytes(member), score: score)
                return true
            }
            return .zset(z)
        case .stream:
            let record = try t.get(elems, Enc.elementPrefix(h.version, Enc.tagStream)) ?? []
            return .stream(StreamValue(serialized: record) ?? StreamValue())
        }
    }
}
