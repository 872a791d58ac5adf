/// A stream entry ID: milliseconds and sequence, ordered as one 128-bit number.
public struct StreamID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var ms: UInt64
    public var seq: UInt64

    @inlinable public init(ms: UInt64, seq: UInt64) {
        self.ms = ms
        self.seq = seq
    }

    public static let zero = StreamID(ms: 0, seq: 0)
    public static let max = StreamID(ms: .max, seq: .max)

    @inlinable public static func < (a: StreamID, b: StreamID) -> Bool {
        a.ms != b.ms ? a.ms < b.ms : a.seq < b.seq
    }

    public var isZero: Bool { ms == 0 && seq == 0 }
    public var description: String { "\(ms)-\(seq)" }

    /// The next ID, nil past the last possible one (Redis's streamIncrID).
    public var successor: StreamID? {
        if seq == .max {
            if ms == .max { return nil }
            return StreamID(ms: ms + 1, seq: 0)
        }
        return StreamID(ms: ms, seq: seq + 1)
    }

    /// The previous ID, nil before 0-0 (streamDecrID).
    public var predecessor: StreamID? {
        if seq == 0 {
            if ms == 0 { return nil }
            return StreamID(ms: ms - 1, seq: .max)
        }
        return StreamID(ms: ms, seq: seq - 1)
    }

    /// The 16-byte big-endian form Redis uses as rax key.
    public var encoded: [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 {
            out[i] = UInt8(truncatingIfNeeded: ms >> (56 - 8 * UInt64(i)))
            out[8 + i] = UInt8(truncatingIfNeeded: seq >> (56 - 8 * UInt64(i)))
        }
        return out
    }

    public init?(encoded b: some Collection<UInt8>) {
        guard b.count == 16 else { return nil }
        var ms: UInt64 = 0, seq: UInt64 = 0
        var i = 0
        for byte in b {
            if i < 8 { ms = ms << 8 | UInt64(byte) } else { seq = seq << 8 | UInt64(byte) }
            i += 1
        }
        self.init(ms: ms, seq: seq)
    }
}

/// One entry as commands see it: its ID and its field/value pairs, flattened (field, value, field, ...).
public struct StreamEntry: Sendable, Equatable {
    public var id: StreamID
    public var fields: [Bytes]
    public init(id: StreamID, fields: [Bytes]) {
        self.id = id
        self.fields = fields
    }
}

/// Sizes of listpack elements, as Redis's listpack.c encodes them (strings that are canonical 64-bit integers
/// are stored as integers). Streams use them to place node boundaries exactly where Redis does.
public enum ListpackSize {
    public static let header = 6
    public static let terminator = 1

    @inlinable static func backlen(_ l: Int) -> Int {
        l <= 127 ? 1 : l < 16383 ? 2 : l < 2_097_151 ? 3 : l < 268_435_455 ? 4 : 5
    }

    public static func integer(_ v: Int64) -> Int {
        let enc: Int
        if v >= 0 && v <= 127 { enc = 1 }
        else if v >= -4096 && v <= 4095 { enc = 2 }
        else if v >= -32768 && v <= 32767 { enc = 3 }
        else if v >= -8_388_608 && v <= 8_388_607 { enc = 4 }
        else if v >= -2_147_483_648 && v <= 2_147_483_647 { enc = 5 }
        else { enc = 9 }
        return enc + backlen(enc)
    }

    public static func string(_ s: [UInt8]) -> Int {
        if let v = strictInt64(s) { return integer(v) }
        let n = s.count
        let enc = n <= 63 ? 1 + n : n <= 4095 ? 2 + n : 5 + n
        return enc + backlen(enc)
    }

    /// Redis's string2ll (lpStringToInt64): optional '-', no '+', no leading zeros, in range.
    public static func strictInt64(_ s: [UInt8]) -> Int64? {
        let n = s.count
        if n == 0 || n > 20 { return nil }
        if n == 1 && s[0] == 0x30 { return 0 }
        var i = 0
        var negative = false
        if s[0] == 0x2D {
            negative = true
            i = 1
            if n == 1 { return nil }
        }
        guard s[i] >= 0x31 && s[i] <= 0x39 else { return nil }
        var v: UInt64 = 0
        while i < n {
            let c = s[i]
            guard c >= 0x30 && c <= 0x39 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - 0x30))
            if o1 || o2 { return nil }
            v = a
            i += 1
        }
        if negative {
            if v > UInt64(Int64.max) + 1 { return nil }
            return v == UInt64(Int64.max) + 1 ? Int64.min : -Int64(v)
        }
        return v > UInt64(Int64.max) ? nil : Int64(v)
    }
}

/// Redis's listpack encoding (listpack.c), writing and reading elements: strings that are canonical
/// integers are stored as integers.
public enum Listpack {
    public static func appendInteger(_ v: Int64, to out: inout [UInt8]) {
        let start = out.count
        if v >= 0 && v <= 127 {
            out.append(UInt8(v))
        } else if v >= -4096 && v <= 4095 {
            let u = v < 0 ? (1 << 13) + v : v
            out.append(UInt8(u >> 8) | 0xC0)
            out.append(UInt8(u & 0xFF))
        } else {
            let width: Int, tag: UInt8
            if v >= -32768 && v <= 32767 { width = 2; tag = 0xF1 }
            else if v >= -8_388_608 && v <= 8_388_607 { width = 3; tag = 0xF2 }
            else if v >= -2_147_483_648 && v <= 2_147_483_647 { width = 4; tag = 0xF3 }
            else { width = 8; tag = 0xF4 }
            out.append(tag)
            let u = UInt64(bitPattern: v)
            for i in 0..<width { out.append(UInt8(truncatingIfNeeded: u >> (8 * UInt64(i)))) }
        }
        appendBacklen(out.count - start, to: &out)
    }

    public static func appendString(_ s: [UInt8], to out: inout [UInt8]) {
        if let v = ListpackSize.strictInt64(s) { return appendInteger(v, to: &out) }
        let start = out.count
        let n = s.count
        if n <= 63 {
            out.append(0x80 | UInt8(n))
        } else if n <= 4095 {
            out.append(0xE0 | UInt8(n >> 8))
            out.append(UInt8(n & 0xFF))
        } else {
            out.append(0xF0)
            for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: n >> (8 * i))) }
        }
        out.append(contentsOf: s)
        appendBacklen(out.count - start, to: &out)
    }

    static func appendBacklen(_ l: Int, to out: inout [UInt8]) {
        if l <= 127 {
            out.append(UInt8(l))
        } else if l < 16383 {
            out.append(UInt8(l >> 7)); out.append(UInt8(l & 127) | 128)
        } else if l < 2_097_151 {
            out.append(UInt8(l >> 14)); out.append(UInt8((l >> 7) & 127) | 128); out.append(UInt8(l & 127) | 128)
        } else if l < 268_435_455 {
            out.append(UInt8(l >> 21)); out.append(UInt8((l >> 14) & 127) | 128)
            out.append(UInt8((l >> 7) & 127) | 128); out.append(UInt8(l & 127) | 128)
        } else {
            out.append(UInt8(l >> 28)); out.append(UInt8((l >> 21) & 127) | 128); out.append(UInt8((l >> 14) & 127) | 128)
            out.append(UInt8((l >> 7) & 127) | 128); out.append(UInt8(l & 127) | 128)
        }
    }

    /// One element at `p`: an integer, or the range of a string's bytes; and the offset of the next element.
    /// nil when the bytes are not a well-formed element within `end`.
    public static func element(_ b: [UInt8], at p: Int, end: Int) -> (int: Int64?, string: Range<Int>, next: Int)? {
        guard p < end else { return nil }
        let enc = b[p]
        var int: Int64? = nil
        var string = 0..<0
        let size: Int
        if enc & 0x80 == 0 {
            int = Int64(enc); size = 1
        } else if enc & 0xC0 == 0x80 {
            let len = Int(enc & 0x3F)
            string = (p + 1)..<(p + 1 + len); size = 1 + len
        } else if enc & 0xE0 == 0xC0 {
            guard p + 2 <= end else { return nil }
            var v = Int64(enc & 0x1F) << 8 | Int64(b[p + 1])
            if v >= 1 << 12 { v -= 1 << 13 }
            int = v; size = 2
        } else if enc & 0xF0 == 0xE0 {
            guard p + 2 <= end else { return nil }
            let len = Int(enc & 0x0F) << 8 | Int(b[p + 1])
            string = (p + 2)..<(p + 2 + len); size = 2 + len
        } else if enc == 0xF0 {
            guard p + 5 <= end else { return nil }
            let len = Int(b[p + 1]) | Int(b[p + 2]) << 8 | Int(b[p + 3]) << 16 | Int(b[p + 4]) << 24
            string = (p + 5)..<(p + 5 + len); size = 5 + len
        } else if enc >= 0xF1 && enc <= 0xF4 {
            let width = [2, 3, 4, 8][Int(enc - 0xF1)]
            guard p + 1 + width <= end else { return nil }
            var u: UInt64 = 0
            for i in 0..<width { u |= UInt64(b[p + 1 + i]) << (8 * UInt64(i)) }
            let shift = UInt64(64 - 8 * width)
            int = Int64(bitPattern: u << shift) >> Int64(shift)
            size = 1 + width
        } else {
            return nil
        }
        let next = p + size + ListpackSize.backlen(size)
        guard next <= end, string.upperBound <= end else { return nil }
        return (int, string, next)
    }
}

/// One macro node, as one listpack of Redis's rax, held in Redis's own bytes: a master entry (the first
/// entry's field names) and entries delta-encoded against the master ID; deleted entries stay as tombstones
/// until the node empties. An offset per entry gives O(log n) search inside the node.
public struct StreamNode: Sendable, Equatable {
    public struct Item: Sendable, Equatable {
        public var id: StreamID
        /// Flattened field/value pairs.
        public var fields: [Bytes]
        public var deleted: Bool
        /// Same field names as the master entry (STREAM_ITEM_FLAG_SAMEFIELDS).
        public var sameFields: Bool

        public init(id: StreamID, fields: [Bytes], deleted: Bool, sameFields: Bool) {
            self.id = id
            self.fields = fields
            self.deleted = deleted
            self.sameFields = sameFields
        }
    }

    public let master: StreamID
    public let masterFields: [Bytes]
    /// The listpack's elements after its two counters (valid, deleted): the master entry, then the items.
    var body: [UInt8] = []
    /// Offset in `body` of each item's flags element.
    var offsets: [UInt32] = []
    public private(set) var live = 0
    public private(set) var deletedCount = 0
    /// Elements in `body` (the listpack's header count, less the two counters).
    var elementCount = 0

    public static func == (a: StreamNode, b: StreamNode) -> Bool {
        a.master == b.master && a.live == b.live && a.deletedCount == b.deletedCount && a.body == b.body
    }

    /// Entries, tombstones included.
    public var count: Int { offsets.count }

    /// The node's listpack size (lpBytes), exactly as Redis would hold it.
    public var listpackBytes: Int {
        ListpackSize.header + ListpackSize.terminator + ListpackSize.integer(Int64(live))
            + ListpackSize.integer(Int64(deletedCount)) + body.count
    }

    init(first id: StreamID, fields: [Bytes]) {
        self.init(master: id, masterFields: stride(from: 0, to: fields.count, by: 2).map { fields[$0] }, items: [])
    }

    /// A node from its entries (an RDB listpack's, already decoded).
    public init(master: StreamID, masterFields: [Bytes], items: [Item]) {
        self.master = master
        self.masterFields = masterFields
        body.reserveCapacity(64)
        Listpack.appendInteger(Int64(masterFields.count), to: &body)
        for f in masterFields { Listpack.appendString(f.array, to: &body) }
        Listpack.appendInteger(0, to: &body)
        elementCount = masterFields.count + 2
        for item in items { append(item) }
    }

    mutating func append(_ item: Item) {
        offsets.append(UInt32(body.count))
        let pairs = item.fields.count / 2
        Listpack.appendInteger(Int64(item.flags), to: &body)
        Listpack.appendInteger(Int64(bitPattern: item.id.ms &- master.ms), to: &body)
        Listpack.appendInteger(Int64(bitPattern: item.id.seq &- master.seq), to: &body)
        if !item.sameFields { Listpack.appendInteger(Int64(pairs), to: &body) }
        for (i, f) in item.fields.enumerated() where !item.sameFields || i % 2 == 1 {
            Listpack.appendString(f.array, to: &body)
        }
        Listpack.appendInteger(Int64(item.sameFields ? pairs + 3 : 2 * pairs + 4), to: &body)
        elementCount += item.sameFields ? pairs + 4 : 2 * pairs + 5
        if item.deleted { deletedCount += 1 } else { live += 1 }
    }

    mutating func shrinkToFit() {
        body = body.withUnsafeBufferPointer { Array($0) }
        offsets = offsets.withUnsafeBufferPointer { Array($0) }
    }

    func matchesMaster(_ fields: [Bytes]) -> Bool {
        guard fields.count == masterFields.count * 2 else { return false }
        for i in 0..<masterFields.count where fields[2 * i] != masterFields[i] { return false }
        return true
    }

    /// The flags integer of item `i` (always one byte: 0...3).
    @inline(__always) func flags(_ i: Int) -> UInt8 { body[Int(offsets[i])] }

    public func isDeleted(_ i: Int) -> Bool { flags(i) & 1 != 0 }

    public func id(_ i: Int) -> StreamID {
        let end = body.count
        let f = Listpack.element(body, at: Int(offsets[i]), end: end)!
        let ms = Listpack.element(body, at: f.next, end: end)!
        let seq = Listpack.element(body, at: ms.next, end: end)!
        return StreamID(ms: master.ms &+ UInt64(bitPattern: ms.int!), seq: master.seq &+ UInt64(bitPattern: seq.int!))
    }

    func value(_ e: (int: Int64?, string: Range<Int>, next: Int)) -> Bytes {
        if let v = e.int { return Bytes(String(v).utf8) }
        return Bytes(body[e.string])
    }

    /// Item `i` decoded: its ID, fields and flags.
    public func item(_ i: Int) -> Item {
        let end = body.count
        let same = flags(i) & 2 != 0
        let f = Listpack.element(body, at: Int(offsets[i]), end: end)!
        let ms = Listpack.element(body, at: f.next, end: end)!
        var e = Listpack.element(body, at: ms.next, end: end)!
        let id = StreamID(ms: master.ms &+ UInt64(bitPattern: ms.int!), seq: master.seq &+ UInt64(bitPattern: e.int!))
        var pairs = masterFields.count
        if !same {
            e = Listpack.element(body, at: e.next, end: end)!
            pairs = Int(e.int!)
        }
        var fields: [Bytes] = []
        fields.reserveCapacity(pairs * 2)
        for k in 0..<pairs {
            if same {
                fields.append(masterFields[k])
            } else {
                e = Listpack.element(body, at: e.next, end: end)!
                fields.append(value(e))
            }
            e = Listpack.element(body, at: e.next, end: end)!
            fields.append(value(e))
        }
        return Item(id: id, fields: fields, deleted: flags(i) & 1 != 0, sameFields: same)
    }

    public var items: [Item] { (0..<count).map { item($0) } }

    /// Marks item `i` deleted: the flags integer keeps its one-byte size, as lpReplace leaves it in Redis.
    mutating func markDeleted(_ i: Int) {
        body[Int(offsets[i])] |= 1
        live -= 1
        deletedCount += 1
    }

    /// Index of the first item with id >= `id` (tombstones included).
    func lowerBound(_ id: StreamID) -> Int {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if self.id(mid) < id { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    public var lastID: StreamID? { count > 0 ? id(count - 1) : nil }

    /// The whole listpack, byte for byte as Redis's streamAppendItem/lpReplace leave it (header, counters,
    /// elements, terminator).
    public func listpack() -> [UInt8] {
        var counters: [UInt8] = []
        Listpack.appendInteger(Int64(live), to: &counters)
        Listpack.appendInteger(Int64(deletedCount), to: &counters)
        let total = ListpackSize.header + counters.count + body.count + ListpackSize.terminator
        var out: [UInt8] = []
        out.reserveCapacity(total)
        for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: total >> (8 * i))) }
        let n = 2 + elementCount
        let declared = n < 65535 ? n : 65535
        out.append(UInt8(declared & 0xFF)); out.append(UInt8(declared >> 8))
        out.append(contentsOf: counters)
        out.append(contentsOf: body)
        out.append(0xFF)
        return out
    }
}

extension StreamNode {
    /// A node from its listpack bytes (as `listpack()` writes them and Redis stores them); nil when the bytes
    /// are not a well-formed stream node.
    public init?(master: StreamID, listpack lp: [UInt8]) {
        guard lp.count >= 7, lp[lp.count - 1] == 0xFF else { return nil }
        let total = Int(lp[0]) | Int(lp[1]) << 8 | Int(lp[2]) << 16 | Int(lp[3]) << 24
        guard total == lp.count else { return nil }
        let end = lp.count - 1
        // Walks the elements once, recording where each item starts; values stay undecoded.
        var p = 6
        func next() -> (int: Int64?, string: Range<Int>, next: Int)? {
            guard let e = Listpack.element(lp, at: p, end: end) else { return nil }
            p = e.next
            return e
        }
        func int() -> Int64? { next()?.int }
        guard let live = int(), let deleted = int() else { return nil }
        let bodyStart = p
        guard let masterCount = int(), masterCount >= 0 else { return nil }
        var masterFields: [Bytes] = []
        for _ in 0..<masterCount {
            guard let e = next() else { return nil }
            masterFields.append(e.int.map { Bytes(String($0).utf8) } ?? Bytes(lp[e.string]))
        }
        guard int() == 0 else { return nil }
        self.master = master
        self.masterFields = masterFields
        var offsets: [UInt32] = []
        var elementCount = Int(masterCount) + 2
        var counted = (live: 0, deleted: 0)
        var previous: StreamID?
        while p < end {
            offsets.append(UInt32(p - bodyStart))
            guard let flags = int(), flags >= 0 && flags <= 3, let ms = int(), let seq = int() else { return nil }
            let same = flags & 2 != 0
            var pairs = Int(masterCount)
            if !same {
                guard let n = int(), n >= 0 else { return nil }
                pairs = Int(n)
            }
            for _ in 0..<(same ? pairs : 2 * pairs) { guard next() != nil else { return nil } }
            guard let lpCount = int(), lpCount == Int64(same ? pairs + 3 : 2 * pairs + 4) else { return nil }
            elementCount += same ? pairs + 4 : 2 * pairs + 5
            let id = StreamID(ms: master.ms &+ UInt64(bitPattern: ms), seq: master.seq &+ UInt64(bitPattern: seq))
            if let previous, !(previous < id) { return nil }
            previous = id
            if flags & 1 != 0 { counted.deleted += 1 } else { counted.live += 1 }
        }
        guard counted.live == live, counted.deleted == deleted else { return nil }
        self.body = Array(lp[bodyStart..<end])
        self.offsets = offsets
        self.live = counted.live
        self.deletedCount = counted.deleted
        self.elementCount = elementCount
    }

    /// A node from its listpack's elements (integers as decimal text), validated: counters, master entry,
    /// each item's shape and lp-count, ascending IDs.
    public init?(master: StreamID, elements e: [Bytes]) {
        var p = 0
        func int() -> Int64? {
            guard p < e.count, let v = ListpackSize.strictInt64(e[p].array) else { return nil }
            p += 1
            return v
        }
        guard let live = int(), let deleted = int(), let masterCount = int(), masterCount >= 0,
              p + Int(masterCount) <= e.count else { return nil }
        let masterFields = Array(e[p..<(p + Int(masterCount))])
        p += Int(masterCount)
        guard int() == 0 else { return nil }
        var items: [StreamNode.Item] = []
        var previous: StreamID?
        while p < e.count {
            guard let flags = int(), flags >= 0 && flags <= 3, let msDelta = int(), let seqDelta = int() else { return nil }
            let same = flags & 2 != 0
            let pairs: Int
            if same { pairs = Int(masterCount) } else {
                guard let n = int(), n >= 0 else { return nil }
                pairs = Int(n)
            }
            var fields: [Bytes] = []
            fields.reserveCapacity(pairs * 2)
            for i in 0..<pairs {
                if same { fields.append(masterFields[i]) } else {
                    guard p < e.count else { return nil }
                    fields.append(e[p]); p += 1
                }
                guard p < e.count else { return nil }
                fields.append(e[p]); p += 1
            }
            guard let lpCount = int(), lpCount == Int64(same ? pairs + 3 : 2 * pairs + 4) else { return nil }
            let id = StreamID(ms: master.ms &+ UInt64(bitPattern: msDelta), seq: master.seq &+ UInt64(bitPattern: seqDelta))
            if let previous, !(previous < id) { return nil }
            previous = id
            items.append(StreamNode.Item(id: id, fields: fields, deleted: flags & 1 != 0, sameFields: same))
        }
        let node = StreamNode(master: master, masterFields: masterFields, items: items)
        guard node.live == live, node.deletedCount == deleted else { return nil }
        self = node
    }
}

extension StreamNode.Item {
    /// The listpack flags integer.
    public var flags: Int { (deleted ? 1 : 0) | (sameFields ? 2 : 0) }
}

/// A pending entry of a consumer group: who has it, when it was last delivered, how often.
public struct StreamPending: Sendable, Equatable {
    public var consumer: Bytes
    public var deliveryTime: Int64
    public var deliveryCount: UInt64
    public init(consumer: Bytes, deliveryTime: Int64, deliveryCount: UInt64) {
        self.consumer = consumer
        self.deliveryTime = deliveryTime
        self.deliveryCount = deliveryCount
    }
}

/// A sorted set of IDs with O(log n) lookup (appends, the common case, are O(1)).
public struct StreamIDSet: Sendable, Equatable, Sequence {
    public private(set) var ids: [StreamID] = []
    public init() {}
    public var count: Int { ids.count }
    public var isEmpty: Bool { ids.isEmpty }
    public var first: StreamID? { ids.first }
    public var last: StreamID? { ids.last }

    public func lowerBound(_ id: StreamID) -> Int {
        var lo = 0, hi = ids.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ids[mid] < id { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    public func contains(_ id: StreamID) -> Bool {
        let i = lowerBound(id)
        return i < ids.count && ids[i] == id
    }

    @discardableResult public mutating func insert(_ id: StreamID) -> Bool {
        if let l = ids.last, l < id { ids.append(id); return true }
        let i = lowerBound(id)
        if i < ids.count && ids[i] == id { return false }
        ids.insert(id, at: i)
        return true
    }

    @discardableResult public mutating func remove(_ id: StreamID) -> Bool {
        let i = lowerBound(id)
        guard i < ids.count && ids[i] == id else { return false }
        ids.remove(at: i)
        return true
    }

    /// IDs >= `from`, ascending.
    public func from(_ id: StreamID) -> ArraySlice<StreamID> { ids[lowerBound(id)...] }
    public func makeIterator() -> IndexingIterator<[StreamID]> { ids.makeIterator() }
}

public struct StreamConsumer: Sendable, Equatable {
    public var name: Bytes
    /// Last time the consumer was seen (ms): XREADGROUP, XCLAIM, XAUTOCLAIM by it.
    public var seenTime: Int64
    public var pending: StreamIDSet
    public init(name: Bytes, seenTime: Int64, pending: StreamIDSet = StreamIDSet()) {
        self.name = name
        self.seenTime = seenTime
        self.pending = pending
    }
}

public struct StreamGroup: Sendable, Equatable {
    /// entries-read when it cannot be known (SCG_INVALID_ENTRIES_READ).
    public static let invalidEntriesRead: Int64 = -1

    public var name: Bytes
    public var lastID: StreamID
    public var entriesRead: Int64
    /// The group's pending entries list, ordered by ID.
    public var pelIDs: StreamIDSet
    public var pel: [StreamID: StreamPending]
    /// Consumers ordered by name (as Redis's rax).
    public var consumers: [StreamConsumer]

    public init(name: Bytes, lastID: StreamID, entriesRead: Int64) {
        self.name = name
        self.lastID = lastID
        self.entriesRead = entriesRead
        pelIDs = StreamIDSet()
        pel = [:]
        consumers = []
    }

    public func consumerIndex(_ name: Bytes) -> (found: Bool, index: Int) {
        var lo = 0, hi = consumers.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if consumers[mid].name < name { lo = mid + 1 } else { hi = mid }
        }
        return (lo < consumers.count && consumers[lo].name == name, lo)
    }

    /// Adds a consumer; false when it exists.
    @discardableResult
    public mutating func addConsumer(_ name: Bytes, seenTime: Int64) -> Bool {
        let (found, i) = consumerIndex(name)
        if found { return false }
        consumers.insert(StreamConsumer(name: name, seenTime: seenTime), at: i)
        return true
    }

    /// Removes a pending entry from the group and its consumer.
    @discardableResult
    public mutating func removePending(_ id: StreamID) -> Bool {
        guard let p = pel.removeValue(forKey: id) else { return false }
        pelIDs.remove(id)
        let (found, i) = consumerIndex(p.consumer)
        if found { consumers[i].pending.remove(id) }
        return true
    }

    /// Assigns a pending entry (new or existing) to `consumer` (which must exist).
    public mutating func assignPending(_ id: StreamID, to consumer: Bytes, deliveryTime: Int64, deliveryCount: UInt64) {
        if let old = pel[id], old.consumer != consumer {
            let (found, i) = consumerIndex(old.consumer)
            if found { consumers[i].pending.remove(id) }
        }
        pel[id] = StreamPending(consumer: consumer, deliveryTime: deliveryTime, deliveryCount: deliveryCount)
        pelIDs.insert(id)
        let (found, i) = consumerIndex(consumer)
        if found { consumers[i].pending.insert(id) }
    }
}

/// A stream (Redis's t_stream.c): entries in macro nodes (Redis's listpacks, with the same boundaries, so
/// approximate trimming and the RDB node layout match Redis), the stream's counters, and consumer groups.
/// Nodes are found by binary search on their master ID, entries by binary search inside a node: range reads
/// are O(log n + k), XADD is O(1) amortized (append to the last node).
public struct StreamValue: Sendable, Equatable {
    public var nodes: [StreamNode] = []
    public var length: Int = 0
    public var lastID: StreamID = .zero
    public var firstID: StreamID = .zero
    public var maxDeletedID: StreamID = .zero
    public var entriesAdded: UInt64 = 0
    /// Groups ordered by name.
    public var groups: [StreamGroup] = []

    public init() {}

    /// Node size limits (stream-node-max-bytes / stream-node-max-entries).
    public struct NodeLimits: Sendable {
        public var maxBytes: Int
        public var maxEntries: Int
        public init(maxBytes: Int = 4096, maxEntries: Int = 100) {
            self.maxBytes = maxBytes
            self.maxEntries = maxEntries
        }
        public static let defaults = NodeLimits()
    }

    // MARK: appending

    /// Appends an entry with `id` (> lastID, checked by the caller). Redis's streamAppendItem node rule.
    public mutating func append(id: StreamID, fields: [Bytes], limits: NodeLimits) {
        var newNode = nodes.isEmpty
        if !newNode {
            let last = nodes[nodes.count - 1]
            var maxBytes = limits.maxBytes
            if maxBytes == 0 || maxBytes > 1 << 30 { maxBytes = 1 << 30 }
            var total = 0
            for f in fields { total += f.count }
            if last.listpackBytes + total >= maxBytes {
                newNode = true
            } else if limits.maxEntries > 0 && last.live + last.deletedCount >= limits.maxEntries {
                newNode = true
            }
        }
        if newNode {
            // The full node will not grow again: give back its spare capacity (Redis's lpShrinkToFit).
            if !nodes.isEmpty { nodes[nodes.count - 1].shrinkToFit() }
            nodes.append(StreamNode(first: id, fields: fields))
        }
        let n = nodes.count - 1
        let same = nodes[n].matchesMaster(fields)
        nodes[n].append(StreamNode.Item(id: id, fields: fields, deleted: false, sameFields: same))
        length += 1
        entriesAdded += 1
        lastID = id
        if length == 1 { firstID = id }
    }

    // MARK: lookups

    /// Index of the node that may hold `id`: the last node whose master ID <= id (or 0).
    func nodeIndex(for id: StreamID) -> Int {
        var lo = 0, hi = nodes.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if nodes[mid].master <= id { lo = mid + 1 } else { hi = mid }
        }
        return Swift.max(0, lo - 1)
    }

    /// Position of a live entry.
    func position(of id: StreamID) -> (node: Int, item: Int)? {
        guard !nodes.isEmpty else { return nil }
        let n = nodeIndex(for: id)
        let i = nodes[n].lowerBound(id)
        guard i < nodes[n].count, nodes[n].id(i) == id, !nodes[n].isDeleted(i) else { return nil }
        return (n, i)
    }

    public func entry(_ id: StreamID) -> StreamEntry? {
        guard let (n, i) = position(of: id) else { return nil }
        let item = nodes[n].item(i)
        return StreamEntry(id: item.id, fields: item.fields)
    }

    public func contains(_ id: StreamID) -> Bool { position(of: id) != nil }

    /// Live entries with start <= id <= end, ascending (or descending with `reverse`), at most `count` (0: all).
    public func range(_ start: StreamID, _ end: StreamID, count: Int = 0, reverse: Bool = false) -> [StreamEntry] {
        var out: [StreamEntry] = []
        guard start <= end, !nodes.isEmpty else { return out }
        if !reverse {
            var n = nodeIndex(for: start)
            var i = nodes[n].lowerBound(start)
            while n < nodes.count {
                let node = nodes[n]
                while i < node.count {
                    if !node.isDeleted(i) {
                        let item = node.item(i)
                        if item.id > end { return out }
                        out.append(StreamEntry(id: item.id, fields: item.fields))
                        if count > 0 && out.count == count { return out }
                    } else if node.id(i) > end {
                        return out
                    }
                    i += 1
                }
                n += 1
                i = 0
            }
        } else {
            var n = nodeIndex(for: end)
            var i = nodes[n].lowerBound(end)
            if i < nodes[n].count && nodes[n].id(i) == end { i += 1 }
            i -= 1
            while n >= 0 {
                let node = nodes[n]
                while i >= 0 {
                    if !node.isDeleted(i) {
                        let item = node.item(i)
                        if item.id < start { return out }
                        out.append(StreamEntry(id: item.id, fields: item.fields))
                        if count > 0 && out.count == count { return out }
                    } else if node.id(i) < start {
                        return out
                    }
                    i -= 1
                }
                n -= 1
                if n >= 0 { i = nodes[n].count - 1 }
            }
        }
        return out
    }

    /// The last live entry's ID (streamLastValidID), nil when empty.
    public var lastValidID: StreamID? {
        for node in nodes.reversed() {
            if let i = (0..<node.count).last(where: { !node.isDeleted($0) }) { return node.id(i) }
        }
        return nil
    }

    /// The first live entry's ID.
    public var firstValidID: StreamID? {
        for node in nodes {
            if let i = (0..<node.count).first(where: { !node.isDeleted($0) }) { return node.id(i) }
        }
        return nil
    }

    /// The first entry's ID counting tombstones (streamGetEdgeID with skip_tombstones = 0), 0-0 when empty.
    var firstIDWithTombstones: StreamID { nodes.first.map { $0.id(0) } ?? .zero }

    // MARK: deleting

    /// XDEL of one ID: true when a live entry was removed. Keeps first-id and max-deleted-id as Redis.
    @discardableResult
    public mutating func delete(_ id: StreamID) -> Bool {
        guard let (n, i) = position(of: id) else { return false }
        if nodes[n].live == 1 {
            nodes.remove(at: n)
        } else {
            nodes[n].markDeleted(i)
        }
        length -= 1
        if id > maxDeletedID { maxDeletedID = id }
        if length == 0 { firstID = .zero }
        else if id == firstID { firstID = firstValidID ?? .zero }
        return true
    }

    public enum TrimStrategy: Sendable, Equatable {
        case maxLength(Int)
        case minID(StreamID)
    }

    /// Redis's streamTrim: removes whole nodes from the head while they fit the strategy; unless
    /// `approximate`, then marks entries deleted inside the first remaining node. `limit` (0: none) bounds the
    /// entries removed. Returns how many entries were removed.
    public mutating func trim(_ strategy: TrimStrategy, approximate: Bool, limit: Int) -> Int {
        var deleted = 0
        var removeCount = 0
        var n = 0
        while n < nodes.count {
            if case .maxLength(let maxlen) = strategy, length <= maxlen { break }
            let entries = nodes[n].live
            if limit > 0 && deleted + entries > limit { break }
            let removeNode: Bool
            switch strategy {
            case .maxLength(let maxlen):
                removeNode = length - entries >= maxlen
            case .minID(let minid):
                removeNode = (nodes[n].lastID ?? .zero) < minid
            }
            if removeNode {
                length -= entries
                deleted += entries
                removeCount += 1
                n += 1
                continue
            }
            if approximate { break }
            var fromNode = 0
            for i in 0..<nodes[n].count {
                let stop: Bool
                switch strategy {
                case .maxLength(let maxlen): stop = length <= maxlen
                case .minID(let minid): stop = nodes[n].id(i) >= minid
                }
                if stop { break }
                if !nodes[n].isDeleted(i) {
                    nodes[n].markDeleted(i)
                    fromNode += 1
                    length -= 1
                }
            }
            deleted += fromNode
            break
        }
        if removeCount > 0 { nodes.removeFirst(removeCount) }
        if length == 0 { firstID = .zero }
        else if deleted > 0 { firstID = firstValidID ?? .zero }
        return deleted
    }

    /// The argument a trim is propagated with (streamRewriteTrimArgument): the resulting length, or the
    /// first ID counting tombstones.
    public func trimResultArgument(_ strategy: TrimStrategy) -> String {
        switch strategy {
        case .maxLength: return String(length)
        case .minID: return firstIDWithTombstones.description
        }
    }

    // MARK: groups

    public func groupIndex(_ name: Bytes) -> (found: Bool, index: Int) {
        var lo = 0, hi = groups.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if groups[mid].name < name { lo = mid + 1 } else { hi = mid }
        }
        return (lo < groups.count && groups[lo].name == name, lo)
    }

    public func group(_ name: Bytes) -> StreamGroup? {
        let (found, i) = groupIndex(name)
        return found ? groups[i] : nil
    }

    /// False when a group of that name exists.
    @discardableResult
    public mutating func createGroup(_ name: Bytes, lastID: StreamID, entriesRead: Int64) -> Bool {
        let (found, i) = groupIndex(name)
        if found { return false }
        groups.insert(StreamGroup(name: name, lastID: lastID, entriesRead: entriesRead), at: i)
        return true
    }

    // MARK: lag and entries-read (7.0)

    /// True when a tombstone may lie in [start, end] (streamRangeHasTombstones).
    public func rangeHasTombstones(_ start: StreamID?, _ end: StreamID?) -> Bool {
        if length == 0 || maxDeletedID.isZero { return false }
        let s = start ?? .zero, e = end ?? .max
        return s <= maxDeletedID && maxDeletedID <= e
    }

    /// streamEstimateDistanceFromFirstEverEntry (7.0): the logical read counter of `id`, or -1 when unknowable.
    public func estimateDistanceFromFirstEverEntry(_ id: StreamID) -> Int64 {
        if entriesAdded == 0 { return 0 }
        if length == 0 && id <= lastID { return Int64(entriesAdded) }
        if id == lastID { return Int64(entriesAdded) }
        if id > lastID { return StreamGroup.invalidEntriesRead }
        if maxDeletedID.isZero || maxDeletedID < firstID {
            if id < firstID { return Int64(entriesAdded) - Int64(length) }
            if id == firstID { return Int64(entriesAdded) - Int64(length) + 1 }
        }
        return StreamGroup.invalidEntriesRead
    }

    /// A group's lag (7.0's streamReplyWithCGLag); nil when it cannot be known.
    public func lag(of g: StreamGroup) -> Int64? {
        if entriesAdded == 0 { return 0 }
        if g.entriesRead != StreamGroup.invalidEntriesRead && !rangeHasTombstones(g.lastID, nil) {
            return Int64(entriesAdded) - g.entriesRead
        }
        let read = estimateDistanceFromFirstEverEntry(g.lastID)
        if read != StreamGroup.invalidEntriesRead { return Int64(entriesAdded) - read }
        return nil
    }

    /// Advances a group past a delivered `id` (streamReplyWithRange's group bookkeeping).
    public mutating func advanceGroup(_ gi: Int, to id: StreamID) {
        var g = groups[gi]
        if g.entriesRead != StreamGroup.invalidEntriesRead && !rangeHasTombstones(id, nil) {
            g.entriesRead += 1
        } else if entriesAdded > 0 {
            g.entriesRead = estimateDistanceFromFirstEverEntry(id)
        }
        g.lastID = id
        groups[gi] = g
    }

    // MARK: structure figures

    /// Number of nodes of Redis's rax holding `nodes` (XINFO STREAM radix-tree-nodes): a radix tree whose
    /// single-child chains are compressed into one node, as rax keeps them.
    public var radixTreeNodes: Int {
        let keys = nodes.map { $0.master.encoded }
        if keys.isEmpty { return 1 }
        return Self.raxNodes(keys[...], depth: 0)
    }

    static func raxNodes(_ keys: ArraySlice<[UInt8]>, depth: Int) -> Int {
        // keys are sorted, distinct, all 16 bytes.
        if depth == 16 { return 1 }
        let first = keys.first!
        let last = keys.last!
        // Common prefix of the whole group from `depth`.
        var common = depth
        while common < 16 && first[common] == last[common] { common += 1 }
        if common > depth {
            if common == 16 { return 2 }  // compressed chain to a leaf
            return 1 + branch(keys, depth: common)
        }
        return branch(keys, depth: depth)
    }

    static func branch(_ keys: ArraySlice<[UInt8]>, depth: Int) -> Int {
        // A branching node at `depth` with one child per distinct byte; each child holds the rest after that byte.
        var total = 1
        var start = keys.startIndex
        while start < keys.endIndex {
            var end = start + 1
            while end < keys.endIndex && keys[end][depth] == keys[start][depth] { end += 1 }
            total += raxNodes(keys[start..<end], depth: depth + 1)
            start = end
        }
        return total
    }
}

// MARK: - a compact self-contained encoding (a backend that stores a stream as one record)

extension StreamValue {
    /// Serializes the whole stream (entries with their node layout, counters, groups, PELs, consumers).
    public func serialized() -> [UInt8] {
        var w = StreamCodecWriter()
        w.id(lastID); w.id(firstID); w.id(maxDeletedID)
        w.uint(entriesAdded); w.uint(UInt64(length))
        w.uint(UInt64(nodes.count))
        for node in nodes {
            w.id(node.master)
            w.bytes(Bytes(node.listpack()))
        }
        w.uint(UInt64(groups.count))
        for g in groups {
            w.bytes(g.name); w.id(g.lastID); w.int(g.entriesRead)
            w.uint(UInt64(g.consumers.count))
            for c in g.consumers { w.bytes(c.name); w.int(c.seenTime) }
            w.uint(UInt64(g.pelIDs.count))
            for id in g.pelIDs {
                let p = g.pel[id]!
                w.id(id); w.bytes(p.consumer); w.int(p.deliveryTime); w.uint(p.deliveryCount)
            }
        }
        return w.out
    }

    /// The inverse of `serialized()`; nil for a malformed record.
    public init?(serialized bytes: [UInt8]) {
        var r = StreamCodecReader(bytes: bytes)
        guard let last = r.id(), let first = r.id(), let maxDel = r.id(), let added = r.uint(), let len = r.uint(),
              let nodeCount = r.uint() else { return nil }
        self.init()
        lastID = last; firstID = first; maxDeletedID = maxDel; entriesAdded = added
        for _ in 0..<nodeCount {
            guard let master = r.id(), let lp = r.blob(), let node = StreamNode(master: master, listpack: lp.array) else {
                return nil
            }
            nodes.append(node)
        }
        length = Int(len)
        guard let gc = r.uint() else { return nil }
        for _ in 0..<gc {
            guard let name = r.blob(), let gl = r.id(), let er = r.int(), let cc = r.uint() else { return nil }
            var g = StreamGroup(name: name, lastID: gl, entriesRead: er)
            for _ in 0..<cc {
                guard let cn = r.blob(), let seen = r.int() else { return nil }
                g.consumers.append(StreamConsumer(name: cn, seenTime: seen))
            }
            guard let pc = r.uint() else { return nil }
            for _ in 0..<pc {
                guard let id = r.id(), let cn = r.blob(), let t = r.int(), let n = r.uint() else { return nil }
                g.assignPending(id, to: cn, deliveryTime: t, deliveryCount: n)
            }
            groups.append(g)
        }
    }
}

struct StreamCodecWriter {
    var out: [UInt8] = []
    mutating func uint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }
    mutating func int(_ v: Int64) { uint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }
    mutating func id(_ id: StreamID) { uint(id.ms); uint(id.seq) }
    mutating func bytes(_ b: Bytes) { uint(UInt64(b.count)); out.append(contentsOf: b.array) }
}

struct StreamCodecReader {
    let data: [UInt8]
    var pos = 0
    init(bytes: [UInt8]) { self.data = bytes }
    mutating func uint() -> UInt64? {
        var v: UInt64 = 0, shift: UInt64 = 0
        while pos < data.count {
            let b = data[pos]; pos += 1
            if shift > 63 { return nil }
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
        return nil
    }
    mutating func int() -> Int64? {
        guard let u = uint() else { return nil }
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }
    mutating func id() -> StreamID? {
        guard let ms = uint(), let seq = uint() else { return nil }
        return StreamID(ms: ms, seq: seq)
    }
    mutating func blob() -> Bytes? {
        guard let n = uint(), n <= UInt64(data.count - pos) else { return nil }
        let b = Bytes(data[pos..<(pos + Int(n))])
        pos += Int(n)
        return b
    }
}
