import CLMDB
import TernStorage

/// A key's `keys` table record as found by a lookup.
struct KeyRef {
    /// [phys][encoded name]: existing record's key, or where a new one goes.
    var tableKey: [UInt8]
    var name: [UInt8]
    var long: Bool
    var header: Header?

    var encodedName: ArraySlice<UInt8> { tableKey[4...] }
}

/// One logical database of an `LMDBEngine`: a light handle (logical index -> physical id through the
/// engine's mapping, so SWAPDB and FLUSHDB are O(1)).
public final class LMDBDatabase: StorageDatabase {
    let engine: LMDBEngine
    let index: Int

    init(engine: LMDBEngine, index: Int) {
        self.engine = engine
        self.index = index
    }

    var phys: UInt32 { engine.mapping[index] }
    var tables: Tables { engine.tables }

    public var keyCount: Int { engine.counters[phys]?.keys ?? 0 }
    public var volatileKeyCount: Int { engine.counters[phys]?.volatile ?? 0 }

    // MARK: record helpers

    func findKey(_ t: Txn, _ name: [UInt8], withInline: Bool = true) throws -> KeyRef {
        let (key, long, header) = try tables.findName(t, tables.keys, ns: Enc.physPrefix(phys), name: name) { v, off in
            Header.decode(v, at: off, withInline: withInline)
        }
        var ref = KeyRef(tableKey: key, name: name, long: long, header: header)
        if ref.header != nil, !engine.touches.isEmpty, let access = engine.touches[Bytes(key)] {
            ref.header!.lastAccess = access.0
            ref.header!.frequency = access.1
        }
        return ref
    }

    func saveHeader(_ ref: KeyRef, _ h: Header) throws {
        var payload: [UInt8] = []
        payload.reserveCapacity(Enc.headerSize + (h.inline?.count ?? 0))
        h.encode(into: &payload)
        try engine.wtxn.put(tables.keys, ref.tableKey, Enc.wrap(name: ref.name, long: ref.long, payload: payload))
    }

    func expiryKey(_ ref: KeyRef, _ at: Int64) -> [UInt8] {
        var k = Enc.physPrefix(phys)
        Enc.appendU64(Enc.orderedInt(at), to: &k)
        k += ref.encodedName
        return k
    }

    func updateExpiryIndex(_ ref: KeyRef, from old: Int64?, to new: Int64?) throws {
        guard old != new else { return }
        let t = engine.wtxn
        var delta = 0
        if let old {
            try t.delete(tables.expires, expiryKey(ref, old))
            delta -= 1
        }
        if let new {
            try t.put(tables.expires, expiryKey(ref, new), Enc.wrap(name: ref.name, long: ref.long, payload: []))
            delta += 1
        }
        if delta != 0 { try engine.adjustCounters(phys, volatile: delta) }
    }

    /// Deletes the key record and its expiry entry; its elements (if any remain) go to the garbage queue.
    func deleteKey(_ ref: KeyRef, _ h: Header, elementsRemain: Bool) throws {
        if elementsRemain { try engine.discard(version: h.version) }
        try engine.wtxn.delete(tables.keys, ref.tableKey)
        try updateExpiryIndex(ref, from: h.expireAt, to: nil)
        try engine.adjustCounters(phys, keys: -1)
        engine.touches.removeValue(forKey: Bytes(ref.tableKey))
    }

    /// Writes a collection's header after an element operation: removes the key when it became empty.
    func finishCollection(_ ref: KeyRef, _ h: Header) throws {
        if h.count <= 0 {
            if ref.header != nil { try deleteKey(ref, h, elementsRemain: false) }
            return
        }
        try saveHeader(ref, h)
        if ref.header == nil { try engine.adjustCounters(phys, keys: 1) }
    }

    /// The existing header of a collection key, or a fresh one (new version) for a new key.
    func collectionHeader(_ ref: KeyRef, _ kind: ValueKind) throws -> Header {
        if let h = ref.header { return h }
        return Header(kind: kind, expireAt: nil, lastAccess: engine.accessClock, frequency: 5, count: 0,
                      version: try engine.newVersion(), head: 0, tail: 0, inline: nil)
    }

    /// Writes a whole value under a fresh version; fills in the header's count/version/list bounds/inline.
    func writeValue(_ value: StoredValue, into h: inout Header) throws {
        let t = engine.wtxn
        h.head = 0
        h.tail = 0
        h.inline = nil
        h.version = 0
        h.count = value.elementCount
        switch value {
        case .string(let s):
            if s.count <= Enc.inlineStringLimit {
                h.inline = s.array
            } else {
                h.version = try engine.newVersion()
                try t.put(tables.elems, Enc.elementPrefix(h.version, Enc.tagString), s.array)
            }
        case .list(let l):
            h.version = try engine.newVersion()
            var seq: Int64 = 0
            for v in l {
                try t.put(tables.elems, tables.seqKey(h.version, seq), v.array)
                seq += 1
            }
            h.tail = seq
        case .hash(let map):
            h.version = try engine.newVersion()
            let ns = Enc.elementPrefix(h.version, Enc.tagHash)
            for (f, v) in map {
                let (k, long, _) = try tables.findName(t, tables.elems, ns: ns, name: f.array) { _, _ in true }
                try t.put(tables.elems, k, Enc.wrap(name: f.array, long: long, payload: v.array))
            }
        case .set(let members):
            h.version = try engine.newVersion()
            let ns = Enc.elementPrefix(h.version, Enc.tagSet)
            for m in members {
                let (k, long, _) = try tables.findName(t, tables.elems, ns: ns, name: m.array) { _, _ in true }
                try t.put(tables.elems, k, Enc.wrap(name: m.array, long: long, payload: []))
            }
        case .zset(let z):
            h.version = try engine.newVersion()
            for e in z.ordered { _ = try zsetPut(h.version, e.member.array, e.score) }
        case .stream(let stream):
            // One record for the whole stream (see README: streams are not stored per entry yet).
            h.version = try engine.newVersion()
            try t.put(tables.elems, Enc.elementPrefix(h.version, Enc.tagStream), stream.serialized())
        }
    }

    // MARK: StorageDatabase

    public func lookup(_ key: Bytes, touch: UInt32?) -> KeyRecord? {
        engine.read(nil) { t -> KeyRecord? in
            let ref = try findKey(t, key.array)
            guard var h = ref.header else { return nil }
            if let now = touch { h = recordAccess(ref, h, now) }
            let value = try tables.materialize(t, h)
            return KeyRecord(value: value, expireAt: h.expireAt, lastAccess: h.lastAccess, frequency: h.frequency)
        }
    }

    public func metadata(_ key: Bytes, touch: UInt32?) -> KeyMetadata? {
        engine.read(nil) { t -> KeyMetadata? in
            let ref = try findKey(t, key.array, withInline: false)
            guard var h = ref.header else { return nil }
            if let now = touch { h = recordAccess(ref, h, now) }
            return KeyMetadata(kind: h.kind, expireAt: h.expireAt, lastAccess: h.lastAccess, frequency: h.frequency,
                               count: h.count)
        }
    }

    func recordAccess(_ ref: KeyRef, _ h: Header, _ now: UInt32) -> Header {
        // One-second resolution, as Redis's LRU clock: repeated reads within a second record nothing.
        if h.lastAccess == now { return h }
        var h = h
        h.lastAccess = now
        h.frequency = Self.incrementFrequency(h.frequency)
        if engine.touches.count >= LMDBEngine.maxTouches { engine.touches.removeAll() }
        engine.touches[Bytes(ref.tableKey)] = (h.lastAccess, h.frequency)
        return h
    }

    /// Recorded like an access (deferred header write), so it costs no extra write of its own.
    @discardableResult
    public func setAccess(_ key: Bytes, lastAccess: UInt32, frequency: UInt8) -> Bool {
        engine.read(false) { t -> Bool in
            let ref = try findKey(t, key.array, withInline: false)
            guard ref.header != nil else { return false }
            if engine.touches.count >= LMDBEngine.maxTouches { engine.touches.removeAll() }
            engine.touches[Bytes(ref.tableKey)] = (lastAccess, frequency)
            return true
        }
    }

    /// Redis's LFU logarithmic counter increment (lfu-log-factor 10), as the memory backend.
    static func incrementFrequency(_ counter: UInt8) -> UInt8 {
        if counter == 255 { return 255 }
        let base = Double(max(Int(counter) - 5, 0))
        let p = 1.0 / (base * 10 + 1)
        // A cheap xorshift draw: the system generator costs a syscall per read.
        engine_rng ^= engine_rng << 13
        engine_rng ^= engine_rng >> 7
        engine_rng ^= engine_rng << 17
        return Double(engine_rng >> 11) * 0x1p-53 < p ? counter + 1 : counter
    }

    @discardableResult
    public func store(_ key: Bytes, _ value: StoredValue, expiry: ExpiryUpdate) -> Int64?? {
        engine.write(failed: nil) { [self] in try storeRecord(key.array, value, expiry) }
    }

    /// Returns the replaced record's expiry (`.some(nil)`: it had none; nil: the key was new).
    @discardableResult
    func storeRecord(_ name: [UInt8], _ value: StoredValue, _ expiry: ExpiryUpdate) throws -> Int64?? {
        let ref = try findKey(engine.wtxn, name, withInline: false)
        let previous: Int64?? = ref.header.map { $0.expireAt }
        if value.isEmptyCollection {
            if let old = ref.header { try deleteKey(ref, old, elementsRemain: old.ownsElements) }
            return previous
        }
        let old = ref.header
        if let old, old.ownsElements { try engine.discard(version: old.version) }
        var h = Header(kind: value.kind, expireAt: nil, lastAccess: engine.accessClock, frequency: 5, count: 0,
                       version: 0, head: 0, tail: 0, inline: nil)
        switch expiry {
        case .keep:
            h.expireAt = old?.expireAt
            if let old { h.frequency = old.frequency }
        case .clear:
            h.expireAt = nil
        case .at(let when):
            h.expireAt = when
        }
        try writeValue(value, into: &h)
        try saveHeader(ref, h)
        if old == nil { try engine.adjustCounters(phys, keys: 1) }
        try updateExpiryIndex(ref, from: old?.expireAt, to: h.expireAt)
        return previous
    }

    public func update<R>(_ key: Bytes, _ body: (inout StoredValue?) throws -> R) rethrows -> R {
        let current = lookup(key, touch: nil)
        var value = current?.value
        let result = try body(&value)
        if let v = value, !v.isEmptyCollection {
            if v != current?.value {
                engine.write(failed: ()) { [self] in try storeRecord(key.array, v, .keep) }
            }
        } else if current != nil {
            remove(key)
        }
        return result
    }

    @discardableResult
    public func remove(_ key: Bytes) -> Bool {
        engine.write(failed: false) { [self] in
            let ref = try findKey(engine.wtxn, key.array, withInline: false)
            guard let h = ref.header else { return false }
            try deleteKey(ref, h, elementsRemain: h.ownsElements)
            return true
        }
    }

    @discardableResult
    public func setExpiry(_ key: Bytes, _ expireAt: Int64?) -> Bool {
        engine.write(failed: false) { [self] in
            let ref = try findKey(engine.wtxn, key.array)
            guard var h = ref.header else { return false }
            guard h.expireAt != expireAt else { return true }
            try updateExpiryIndex(ref, from: h.expireAt, to: expireAt)
            h.expireAt = expireAt
            try saveHeader(ref, h)
            return true
        }
    }

    public func removeAll() {
        engine.write(failed: ()) { [self] in try engine.dropDatabase(index) }
    }

    public func scan(cursor: UInt64, count: Int, _ visit: (Bytes) -> Void) -> UInt64 {
        let ns = Enc.physPrefix(phys)
        var start = ns
        if cursor != 0, let last = engine.scans[index].removeValue(forKey: cursor) {
            engine.scanOrder[index].removeAll { $0 == cursor }
            start = ns + last + [0]  // the immediate successor of the last key returned
        }
        var names: [Bytes] = []
        var lastEncoded: [UInt8] = []
        var more = false
        let wanted = max(count, 1)
        engine.read(()) { t in
            try t.forEach(tables.keys, from: start, prefix: ns) { k, v in
                if names.count == wanted {
                    more = true
                    return false
                }
                let encoded = UnsafeRawBufferPointer(rebasing: k[4...])
                names.append(Bytes(tables.name(encoded: encoded, value: v).name))
                lastEncoded = [UInt8](encoded)
                return true
            }
        }
        for name in names { visit(name) }
        guard more else { return 0 }
        var token: UInt64
        repeat { token = UInt64.random(in: 1..<(1 << 62)) } while engine.scans[index][token] != nil
        engine.scans[index][token] = lastEncoded
        engine.scanOrder[index].append(token)
        if engine.scanOrder[index].count > LMDBEngine.maxScans {
            engine.scans[index].removeValue(forKey: engine.scanOrder[index].removeFirst())
        }
        return token
    }

    /// Picks a key by a random walk down the byte trie of the key space: at each level a random next byte
    /// between the smallest and largest keys that share the prefix so far, then a seek. O(depth * log n),
    /// not exactly uniform (as Redis's own bucket sampling) but every key is reachable.
    public func randomKey() -> Bytes? {
        engine.read(nil) { t -> Bytes? in
            let ns = Enc.physPrefix(phys)
            guard var lo = try t.first(tables.keys, from: ns, prefix: ns),
                  var hi = try t.last(tables.keys, prefix: ns) else { return nil }
            var depth = 0
            while lo.key != hi.key && depth < 24 {
                var cp = 0
                while cp < lo.key.count && cp < hi.key.count && lo.key[cp] == hi.key[cp] { cp += 1 }
                guard cp < hi.key.count else { break }
                let low = cp < lo.key.count ? Int(lo.key[cp]) : -1
                let b = Int.random(in: low...Int(hi.key[cp]))
                if b == -1 { break }
                let probe = Array(lo.key[0..<cp]) + [UInt8(b)]
                guard let f = try t.first(tables.keys, from: probe, prefix: ns) else { break }
                if !f.key.starts(with: probe) {
                    lo = f
                    break
                }
                lo = f
                hi = try t.last(tables.keys, prefix: probe) ?? f
                depth += 1
            }
            return lo.value.withUnsafeBytes { v in
                lo.key.withUnsafeBytes { k in
                    Bytes(tables.name(encoded: UnsafeRawBufferPointer(rebasing: k[4...]), value: v).name)
                }
            }
        }
    }

    /// The earliest-expiring keys: the expiry index is ordered by (phys, expireAt, name).
    public func sampleVolatile(_ count: Int) -> [(key: Bytes, expireAt: Int64)] {
        guard count > 0 else { return [] }
        return engine.read([]) { t in
            let ns = Enc.physPrefix(phys)
            var out: [(key: Bytes, expireAt: Int64)] = []
            try t.forEach(tables.expires, from: ns, prefix: ns) { k, v in
                let when = Enc.intFromOrdered(Enc.u64(k, 4))
                let name = tables.name(encoded: UnsafeRawBufferPointer(rebasing: k[12...]), value: v).name
                out.append((Bytes(name), when))
                return out.count < count
            }
            return out
        }
    }

    public func snapshot() -> any DatabaseSnapshot {
        guard let view = engine.makeView() else { return EmptySnapshot() }
        return LMDBSnapshot(view: view, phys: phys, count: keyCount)
    }

    // MARK: hash

    func readHeader(_ t: Txn, _ key: Bytes, _ kind: ValueKind) throws -> Header? {
        guard let h = try findKey(t, key.array, withInline: false).header, h.kind == kind else { return nil }
        return h
    }

    public func hashGet(_ key: Bytes, _ field: Bytes) -> Bytes? {
        engine.read(nil) { t -> Bytes? in
            guard let h = try readHeader(t, key, .hash) else { return nil }
            return try tables.findName(t, tables.elems, ns: Enc.elementPrefix(h.version, Enc.tagHash), name: field.array) {
                v, off in Bytes([UInt8](v[off...]))
            }.found
        }
    }

    public func hashSet(_ key: Bytes, _ pairs: [(Bytes, Bytes)]) -> Int {
        guard !pairs.isEmpty else { return 0 }
        return engine.write(failed: 0) { [self] in
            let t = engine.wtxn
            let ref = try findKey(t, key.array, withInline: false)
            var h = try collectionHeader(ref, .hash)
            let ns = Enc.elementPrefix(h.version, Enc.tagHash)
            var added = 0
            for (f, v) in pairs {
                let (k, long, found) = try tables.findName(t, tables.elems, ns: ns, name: f.array) { _, _ in true }
                try t.put(tables.elems, k, Enc.wrap(name: f.array, long: long, payload: v.array))
                if found == nil { added += 1 }
            }
            h.count += added
            try finishCollection(ref, h)
            return added
        }
    }

    public func hashDelete(_ key: Bytes, _ fields: [Bytes]) -> Int {
        removeNamedElements(key, kind: .hash, tag: Enc.tagHash, fields)
    }

    /// Removes hash fields or set members (one record each); deletes the key when none is left.
    func removeNamedElements(_ key: Bytes, kind: ValueKind, tag: UInt8, _ names: [Bytes]) -> Int {
        engine.write(failed: 0) { [self] in
            let t = engine.wtxn
            let ref = try findKey(t, key.array, withInline: false)
            guard var h = ref.header, h.kind == kind else { return 0 }
            let ns = Enc.elementPrefix(h.version, tag)
            var removed = 0
            for name in names {
                let (k, _, found) = try tables.findName(t, tables.elems, ns: ns, name: name.array) { _, _ in true }
                if found != nil, try t.delete(tables.elems, k) { removed += 1 }
            }
            guard removed > 0 else { return 0 }
            h.count -= removed
            try finishCollection(ref, h)
            return removed
        }
    }

    public func hashAll(_ key: Bytes) -> [(field: Bytes, value: Bytes)] {
        engine.read([]) { t in
            guard let h = try readHeader(t, key, .hash) else { return [] }
            var out: [(field: Bytes, value: Bytes)] = []
            out.reserveCapacity(h.count)
            let ns = Enc.elementPrefix(h.version, Enc.tagHash)
            try t.forEach(tables.elems, from: ns, prefix: ns) { k, v in
                let (n, off) = tables.name(encoded: UnsafeRawBufferPointer(rebasing: k[ns.count...]), value: v)
                out.append((Bytes(n), Bytes([UInt8](v[off...]))))
                return true
            }
            return out
        }
    }

    // MARK: set

    public func setAdd(_ key: Bytes, _ members: [Bytes]) -> Int {
        guard !members.isEmpty else { return 0 }
        return engine.write(failed: 0) { [self] in
            let t = engine.wtxn
            let ref = try findKey(t, key.array, withInline: false)
            var h = try collectionHeader(ref, .set)
            let ns = Enc.elementPrefix(h.version, Enc.tagSet)
            var added = 0
            for m in members {
                let (k, long, found) = try tables.findName(t, tables.elems, ns: ns, name: m.array) { _, _ in true }
                if found == nil {
                    try t.put(tables.elems, k, Enc.wrap(name: m.array, long: long, payload: []))
                    added += 1
                }
            }
            h.count += added
            try finishCollection(ref, h)
            return added
        }
    }

    public func setRemove(_ key: Bytes, _ members: [Bytes]) -> Int {
        removeNamedElements(key, kind: .set, tag: Enc.tagSet, members)
    }

    public func setContains(_ key: Bytes, _ member: Bytes) -> Bool {
        engine.read(false) { t in
            guard let h = try readHeader(t, key, .set) else { return false }
            return try tables.findName(t, tables.elems, ns: Enc.elementPrefix(h.version, Enc.tagSet), name: member.array) {
                _, _ in ()
            }.found != nil
        }
    }

    public func setMembers(_ key: Bytes) -> [Bytes] {
        engine.read([]) { t in
            guard let h = try readHeader(t, key, .set) else { return [] }
            var out: [Bytes] = []
            out.reserveCapacity(h.count)
            let ns = Enc.elementPrefix(h.version, Enc.tagSet)
            try t.forEach(tables.elems, from: ns, prefix: ns) { k, v in
                out.append(Bytes(tables.name(encoded: UnsafeRawBufferPointer(rebasing: k[ns.count...]), value: v).name))
                return true
            }
            return out
        }
    }

    // MARK: list (elements numbered head..<tail)

    public func listPush(_ key: Bytes, _ values: [Bytes], at end: ListEnd) -> Int {
        engine.write(failed: 0) { [self] in
            let t = engine.wtxn
            let ref = try findKey(t, key.array, withInline: false)
            var h = try collectionHeader(ref, .list)
            for v in values {
                if end == .head {
                    h.head -= 1
                    try t.put(tables.elems, tables.seqKey(h.version, h.head), v.array)
                } else {
                    try t.put(tables.elems, tables.seqKey(h.version, h.tail), v.array)
                    h.tail += 1
                }
            }
            h.count += values.count
            try finishCollection(ref, h)
            return h.count
        }
    }

    public func listPop(_ key: Bytes, count: Int, from end: ListEnd) -> [Bytes] {
        engine.write(failed: []) { [self] in
            let t = engine.wtxn
            let ref = try findKey(t, key.array, withInline: false)
            guard var h = ref.header, h.kind == .list, count > 0 else { return [] }
            let n = min(count, h.count)
            var out: [Bytes] = []
            out.reserveCapacity(n)
            for _ in 0..<n {
                let seq: Int64
                if end == .head {
                    seq = h.head
                    h.head += 1
                } else {
                    h.tail -= 1
                    seq = h.tail
                }
                let k = tables.seqKey(h.version, seq)
                out.append(Bytes(try t.get(tables.elems, k) ?? []))
                try t.delete(tables.elems, k)
            }
            h.count -= n
            try finishCollection(ref, h)
            return out
        }
    }

    public func listRange(_ key: Bytes, _ start: Int, _ stop: Int) -> [Bytes] {
        engine.read([]) { t in
            guard let h = try readHeader(t, key, .list), start <= stop, start < h.count else { return [] }
            let last = min(stop, h.count - 1)
            var out: [Bytes] = []
            out.reserveCapacity(last - start + 1)
            let ns = Enc.elementPrefix(h.version, Enc.tagList)
            try t.forEach(tables.elems, from: tables.seqKey(h.version, h.head + Int64(start)), prefix: ns) { _, v in
                out.append(Bytes([UInt8](v)))
                return out.count < last - start + 1
            }
            return out
        }
    }

    public func listIndex(_ key: Bytes, _ index: Int) -> Bytes? {
        engine.read(nil) { t -> Bytes? in
            guard let h = try readHeader(t, key, .list), index >= 0, index < h.count else { return nil }
            return try t.get(tables.elems, tables.seqKey(h.version, h.head + Int64(index))).map { Bytes($0) }
        }
    }

    public func listSet(_ key: Bytes, _ index: Int, _ value: Bytes) -> Bool {
        engine.write(failed: false) { [self] in
            let t = engine.wtxn
            guard let h = try readHeader(t, key, .list), index >= 0, index < h.count else { return false }
            try t.put(tables.elems, tables.seqKey(h.version, h.head + Int64(index)), value.array)
            return true
        }
    }

    // MARK: sorted set: member -> score records plus a (score, member) index

    /// Sets one member's score; true when it is new.
    func zsetPut(_ version: UInt64, _ member: [UInt8], _ score: Double) throws -> Bool {
        let t = engine.wtxn
        let ns = Enc.elementPrefix(version, Enc.tagZMember)
        let (k, long, old) = try tables.findName(t, tables.elems, ns: ns, name: member) { v, off in
            Double(bitPattern: Enc.u64(v, off))
        }
        let encoded = k[ns.count...]
        if let old {
            if old == score { return false }  // as Redis: -0 and 0 are the same score
            try t.delete(tables.elems, tables.scoreKey(version, old, encoded))
        }
        var payload: [UInt8] = []
        Enc.appendU64(score.bitPattern, to: &payload)
        try t.put(tables.elems, k, Enc.wrap(name: member, long: long, payload: payload))
        let negativeZero: [UInt8] = score == 0 && score.sign == .minus ? [1] : []
        try t.put(tables.elems, tables.scoreKey(version, score, encoded),
                  Enc.wrap(name: member, long: long, payload: negativeZero))
        return old == nil
    }

    public func zsetScore(_ key: Bytes, _ member: Bytes) -> Double? {
        engine.read(nil) { t -> Double? in
            guard let h = try readHeader(t, key, .zset) else { return nil }
            return try tables.findName(t, tables.elems, ns: Enc.elementPrefix(h.version, Enc.tagZMember),
                                       name: member.array) { v, off in Double(bitPattern: Enc.u64(v, off)) }.found
        }
    }

    public func zsetAdd(_ key: Bytes, _ pairs: [(Bytes, Double)]) -> Int {
        guard !pairs.isEmpty else { return 0 }
        return engine.write(failed: 0) { [self] in
            let ref = try findKey(engine.wtxn, key.array, withInline: false)
            var h = try collectionHeader(ref, .zset)
            var added = 0
            for (m, s) in pairs where try zsetPut(h.version, m.array, s) { added += 1 }
            h.count += added
            try finishCollection(ref, h)
            return added
        }
    }

    public func zsetRemove(_ key: Bytes, _ members: [Bytes]) -> Int {
        engine.write(failed: 0) { [self] in
            let t = engine.wtxn
            let ref = try findKey(t, key.array, withInline: false)
            guard var h = ref.header, h.kind == .zset else { return 0 }
            let ns = Enc.elementPrefix(h.version, Enc.tagZMember)
            var removed = 0
            for m in members {
                let (k, _, score) = try tables.findName(t, tables.elems, ns: ns, name: m.array) { v, off in
                    Double(bitPattern: Enc.u64(v, off))
                }
                guard let score else { continue }
                try t.delete(tables.elems, k)
                try t.delete(tables.elems, tables.scoreKey(h.version, score, k[ns.count...]))
                removed += 1
            }
            guard removed > 0 else { return 0 }
            h.count -= removed
            try finishCollection(ref, h)
            return removed
        }
    }

    /// O(min(rank, count - rank)) cursor steps.
    public func zsetRank(_ key: Bytes, _ member: Bytes) -> Int? {
        engine.read(nil) { t -> Int? in
            guard let h = try readHeader(t, key, .zset) else { return nil }
            let ns = Enc.elementPrefix(h.version, Enc.tagZMember)
            let (k, _, score) = try tables.findName(t, tables.elems, ns: ns, name: member.array) { v, off in
                Double(bitPattern: Enc.u64(v, off))
            }
            guard let score else { return nil }
            let target = tables.scoreKey(h.version, score, k[ns.count...])
            return try t.rank(tables.elems, prefix: Enc.elementPrefix(h.version, Enc.tagZScore), of: target, total: h.count)
        }
    }

    /// Walks from whichever end is nearer: O(min(start, count - stop) + (stop - start)).
    public func zsetRange(_ key: Bytes, _ start: Int, _ stop: Int) -> [(member: Bytes, score: Double)] {
        engine.read([]) { t in
            guard let h = try readHeader(t, key, .zset), start <= stop, start < h.count else { return [] }
            let last = min(stop, h.count - 1)
            let wanted = last - start + 1
            let ns = Enc.elementPrefix(h.version, Enc.tagZScore)
            var out: [(member: Bytes, score: Double)] = []
            out.reserveCapacity(wanted)
            let tables = self.tables
            if start <= h.count - 1 - last {
                var skip = start
                try t.forEach(tables.elems, from: ns, prefix: ns) { k, v in
                    if skip > 0 {
                        skip -= 1
                        return true
                    }
                    let (m, s) = tables.scoreEntry(k, v, prefixCount: ns.count)
                    out.append((Bytes(m), s))
                    return out.count < wanted
                }
            } else {
                var skip = h.count - 1 - last
                try t.forEachReverse(tables.elems, before: prefixEnd(ns), inclusive: false, prefix: ns) { k, v in
                    if skip > 0 {
                        skip -= 1
                        return true
                    }
                    let (m, s) = tables.scoreEntry(k, v, prefixCount: ns.count)
                    out.append((Bytes(m), s))
                    return out.count < wanted
                }
                out.reverse()
            }
            return out
        }
    }

    public func zsetRangeByScore(_ key: Bytes, min: ScoreBound, max: ScoreBound, reverse: Bool, offset: Int,
                                 limit: Int?) -> [(member: Bytes, score: Double)] {
        engine.read([]) { t in
            guard let h = try readHeader(t, key, .zset) else { return [] }
            let ns = Enc.elementPrefix(h.version, Enc.tagZScore)
            func aboveMin(_ s: Double) -> Bool { min.exclusive ? s > min.value : s >= min.value }
            func belowMax(_ s: Double) -> Bool { max.exclusive ? s < max.value : s <= max.value }
            func bound(_ d: Double) -> [UInt8] {
                var k = ns
                Enc.appendU64(Enc.orderedDouble(d), to: &k)
                return k
            }
            var out: [(member: Bytes, score: Double)] = []
            let wanted = limit ?? Int.max
            guard wanted > 0 else { return [] }
            var skip = Swift.max(offset, 0)
            let tables = self.tables
            let visit = { (k: UnsafeRawBufferPointer, v: UnsafeRawBufferPointer) -> Bool in
                let s = Enc.doubleFromOrdered(Enc.u64(k, ns.count))
                if reverse ? !aboveMin(s) : !belowMax(s) { return false }
                if reverse ? !belowMax(s) : !aboveMin(s) { return true }
                if skip > 0 {
                    skip -= 1
                    return true
                }
                let (m, score) = tables.scoreEntry(k, v, prefixCount: ns.count)
                out.append((Bytes(m), score))
                return out.count < wanted
            }
            if reverse {
                let upper = max.exclusive ? bound(max.value) : prefixEnd(bound(max.value))
                try t.forEachReverse(tables.elems, before: upper, inclusive: false, prefix: ns, visit)
            } else {
                let lower = min.exclusive ? prefixEnd(bound(min.value)) : bound(min.value)
                try t.forEach(tables.elems, from: lower, prefix: ns, visit)
            }
            return out
        }
    }
}

/// State of the access-frequency sampling draw (command thread only).
nonisolated(unsafe) private var engine_rng: UInt64 = 0x9E3779B97F4A7C15
