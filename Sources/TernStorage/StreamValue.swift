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

/// One macro node, as one listpack of Redis's rax: a master entry (the first entry's field names) and
/// entries delta-encoded against the master ID; deleted entries stay as tombstones until the node empties.
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

    public var master: StreamID
    public var masterFields: [Bytes]
    public var items: [Item]
    public var live: Int
    public var deletedCount: Int
    /// Listpack bytes of everything but the two counters at its start.
    var bodyBytes: Int

    /// The node's listpack size (lpBytes), exactly as Redis would hold it.
    public var listpackBytes: Int {
        bodyBytes + ListpackSize.integer(Int64(live)) + ListpackSize.integer(Int64(deletedCount))
    }

    init(first id: StreamID, fields: [Bytes]) {
        master = id
        masterFields = stride(from: 0, to: fields.count, by: 2).map { fields[$0] }
        items = []
        live = 0
        deletedCount = 0
        var b = ListpackSize.header + ListpackSize.terminator + ListpackSize.integer(Int64(masterFields.count))
        for f in masterFields { b += ListpackSize.string(f.array) }
        b += ListpackSize.integer(0)
        bodyBytes = b
    }

    /// A node as loaded from an RDB listpack (sizes recomputed from its content).
    public init(master: StreamID, masterFields: [Bytes], items: [Item]) {
        self.master = master
        self.masterFields = masterFields
        self.items = []
        live = 0
        deletedCount = 0
        var b = ListpackSize.header + ListpackSize.terminator + ListpackSize.integer(Int64(masterFields.count))
        for f in masterFields { b += ListpackSize.string(f.array) }
        b += ListpackSize.integer(0)
        bodyBytes = b
        for item in items { append(item) }
    }

    static func itemBytes(_ item: Item, master: StreamID) -> Int {
        let pairs = item.fields.count / 2
        var b = ListpackSize.integer(Int64(item.flags))
        b += ListpackSize.integer(Int64(bitPattern: item.id.ms &- master.ms))
        b += ListpackSize.integer(Int64(bitPattern: item.id.seq &- master.seq))
        var lpCount = pairs + 3
        if !item.sameFields {
            b += ListpackSize.integer(Int64(pairs))
            lpCount += pairs + 1
        }
        for (i, f) in item.fields.enumerated() where !item.sameFields || i % 2 == 1 {
            b += ListpackSize.string(f.array)
        }
        b += ListpackSize.integer(Int64(lpCount))
        return b
    }

    mutating func append(_ item: Item) {
        bodyBytes += Self.itemBytes(item, master: master)
        if item.deleted { deletedCount += 1 } else { live += 1 }
        items.append(item)
    }

    func matchesMaster(_ fields: [Bytes]) -> Bool {
        guard fields.count == masterFields.count * 2 else { return false }
        for i in 0..<masterFields.count where fields[2 * i] != masterFields[i] { return false }
        return true
    }

    /// Marks the item at `index` deleted (the flags integer keeps its one-byte size).
    mutating func markDeleted(_ index: Int) {
        items[index].deleted = true
        live -= 1
        deletedCount += 1
    }

    /// Index of the first item with id >= `id` (tombstones included).
    func lowerBound(_ id: StreamID) -> Int {
        var lo = 0, hi = items.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if items[mid].id < id { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    public var lastID: StreamID? { items.last?.id }
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
        if newNode { nodes.append(StreamNode(first: id, fields: fields)) }
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
        guard i < nodes[n].items.count, nodes[n].items[i].id == id, !nodes[n].items[i].deleted else { return nil }
        return (n, i)
    }

    public func entry(_ id: StreamID) -> StreamEntry? {
        guard let (n, i) = position(of: id) else { return nil }
        let item = nodes[n].items[i]
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
                let items = nodes[n].items
                while i < items.count {
                    let item = items[i]
                    if item.id > end { return out }
                    if !item.deleted {
                        out.append(StreamEntry(id: item.id, fields: item.fields))
                        if count > 0 && out.count == count { return out }
                    }
                    i += 1
                }
                n += 1
                i = 0
            }
        } else {
            var n = nodeIndex(for: end)
            var i = nodes[n].lowerBound(end)
            if i < nodes[n].items.count && nodes[n].items[i].id == end { i += 1 }
            i -= 1
            while n >= 0 {
                let items = nodes[n].items
                while i >= 0 {
                    let item = items[i]
                    if item.id < start { return out }
                    if !item.deleted {
                        out.append(StreamEntry(id: item.id, fields: item.fields))
                        if count > 0 && out.count == count { return out }
                    }
                    i -= 1
                }
                n -= 1
                if n >= 0 { i = nodes[n].items.count - 1 }
            }
        }
        return out
    }

    /// The last live entry's ID (streamLastValidID), nil when empty.
    public var lastValidID: StreamID? {
        for node in nodes.reversed() {
            if let item = node.items.last(where: { !$0.deleted }) { return item.id }
        }
        return nil
    }

    /// The first live entry's ID.
    public var firstValidID: StreamID? {
        for node in nodes {
            if let item = node.items.first(where: { !$0.deleted }) { return item.id }
        }
        return nil
    }

    /// The first entry's ID counting tombstones (streamGetEdgeID with skip_tombstones = 0), 0-0 when empty.
    var firstIDWithTombstones: StreamID { nodes.first?.items.first?.id ?? .zero }

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
            for i in 0..<nodes[n].items.count {
                let item = nodes[n].items[i]
                let stop: Bool
                switch strategy {
                case .maxLength(let maxlen): stop = length <= maxlen
                case .minID(let minid): stop = item.id >= minid
                }
                if stop { break }
                if !item.deleted {
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
            w.uint(UInt64(node.masterFields.count))
            for f in node.masterFields { w.bytes(f) }
            w.uint(UInt64(node.items.count))
            for item in node.items {
                w.uint(UInt64(item.flags))
                w.id(item.id)
                w.uint(UInt64(item.fields.count))
                for f in item.fields { w.bytes(f) }
            }
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
            guard let master = r.id(), let mfc = r.uint() else { return nil }
            var mf: [Bytes] = []
            for _ in 0..<mfc { guard let f = r.blob() else { return nil }; mf.append(f) }
            guard let ic = r.uint() else { return nil }
            var items: [StreamNode.Item] = []
            for _ in 0..<ic {
                guard let flags = r.uint(), let id = r.id(), let fc = r.uint() else { return nil }
                var fields: [Bytes] = []
                for _ in 0..<fc { guard let f = r.blob() else { return nil }; fields.append(f) }
                items.append(StreamNode.Item(id: id, fields: fields, deleted: flags & 1 != 0, sameFields: flags & 2 != 0))
            }
            nodes.append(StreamNode(master: master, masterFields: mf, items: items))
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
