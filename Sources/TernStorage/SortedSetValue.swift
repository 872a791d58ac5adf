/// A sorted set: member -> score, plus members ordered by (score, member) for ranges and ranks.
///
/// The order lives in an order-statistic B+tree: leaves hold sorted entries, inner nodes hold each child's
/// subtree size and largest entry, so insert, remove, rank, element-at-rank and range searches are O(log n).
/// Nodes are shared between copies and copied on write one node at a time (path copying): a copy of a sorted
/// set (a snapshot, COPY, a value handed out by the storage) costs O(1) and never sees later writes.
public struct SortedSetValue: Sendable, Equatable {
    public struct Entry: Sendable, Equatable, Comparable {
        public var score: Double
        public var member: Bytes
        public init(score: Double, member: Bytes) { self.score = score; self.member = member }
        public static func < (a: Entry, b: Entry) -> Bool {
            a.score != b.score ? a.score < b.score : a.member < b.member
        }
    }

    public private(set) var scores: [Bytes: Double] = [:]
    private var root: Node?

    public init() {}

    public static func == (a: SortedSetValue, b: SortedSetValue) -> Bool { a.scores == b.scores }

    public var count: Int { scores.count }
    public var isEmpty: Bool { scores.isEmpty }

    public func score(of member: Bytes) -> Double? { scores[member] }

    /// The entries ascending by (score, member); `ordered[i]` is O(log n), iteration O(1) per element.
    public var ordered: OrderedView { OrderedView(root: root, count: count) }

    /// Index of the first entry not less than `entry`.
    public func lowerBound(_ entry: Entry) -> Int {
        partitionIndex { !($0 < entry) }
    }

    /// The number of leading entries for which `isInUpperPart` is false. `isInUpperPart` must be monotonic over
    /// the order (false for a prefix, true for the rest), e.g. `{ $0.score >= min }`.
    public func partitionIndex(_ isInUpperPart: (Entry) -> Bool) -> Int {
        guard var node = root else { return 0 }
        var base = 0
        while !node.isLeaf {
            var lo = 0, hi = node.maxes.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if isInUpperPart(node.maxes[mid]) { hi = mid } else { lo = mid + 1 }
            }
            if lo == node.children.count { return base + node.total }
            for i in 0..<lo { base += node.counts[i] }
            node = node.children[lo]
        }
        var lo = 0, hi = node.entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if isInUpperPart(node.entries[mid]) { hi = mid } else { lo = mid + 1 }
        }
        return base + lo
    }

    /// The entry at a 0-based rank.
    public func entry(at rank: Int) -> Entry {
        precondition(rank >= 0 && rank < count, "rank out of range")
        var node = root!
        var r = rank
        while !node.isLeaf {
            var i = 0
            while r >= node.counts[i] { r -= node.counts[i]; i += 1 }
            node = node.children[i]
        }
        return node.entries[r]
    }

    public var first: Entry? { isEmpty ? nil : entry(at: 0) }
    public var last: Entry? { isEmpty ? nil : entry(at: count - 1) }

    /// Visits entries from rank `start` upwards (or downwards when `reverse`) while `body` returns true.
    public func forEach(fromRank start: Int, reverse: Bool = false, _ body: (Entry) -> Bool) {
        guard let root, start >= 0, start < count else { return }
        if reverse {
            _ = Self.visitDown(root, from: start, body)
        } else {
            _ = Self.visitUp(root, from: start, body)
        }
    }

    /// Entries with ranks in `range`, ascending.
    public func entries(inRanks range: Range<Int>) -> [Entry] {
        let lower = max(range.lowerBound, 0), upper = min(range.upperBound, count)
        guard lower < upper else { return [] }
        var out: [Entry] = []
        out.reserveCapacity(upper - lower)
        forEach(fromRank: lower) { e in
            out.append(e)
            return out.count < upper - lower
        }
        return out
    }

    private static func visitUp(_ node: Node, from start: Int, _ body: (Entry) -> Bool) -> Bool {
        if node.isLeaf {
            var i = start
            while i < node.entries.count {
                if !body(node.entries[i]) { return false }
                i += 1
            }
            return true
        }
        var i = 0, s = start
        while s >= node.counts[i] { s -= node.counts[i]; i += 1 }
        while i < node.children.count {
            if !visitUp(node.children[i], from: s, body) { return false }
            s = 0
            i += 1
        }
        return true
    }

    private static func visitDown(_ node: Node, from start: Int, _ body: (Entry) -> Bool) -> Bool {
        if node.isLeaf {
            var i = start
            while i >= 0 {
                if !body(node.entries[i]) { return false }
                i -= 1
            }
            return true
        }
        var i = 0, s = start
        while s >= node.counts[i] { s -= node.counts[i]; i += 1 }
        while i >= 0 {
            if !visitDown(node.children[i], from: s, body) { return false }
            i -= 1
            if i >= 0 { s = node.counts[i] - 1 }
        }
        return true
    }

    /// Inserts or updates; returns true when the member is new.
    @discardableResult
    public mutating func set(_ member: Bytes, score: Double) -> Bool {
        if let old = scores.updateValue(score, forKey: member) {
            if old == score { return false }
            removeEntry(Entry(score: old, member: member))
            insertEntry(Entry(score: score, member: member))
            return false
        }
        insertEntry(Entry(score: score, member: member))
        return true
    }

    @discardableResult
    public mutating func remove(_ member: Bytes) -> Bool {
        guard let old = scores.removeValue(forKey: member) else { return false }
        removeEntry(Entry(score: old, member: member))
        return true
    }

    /// 0-based rank in ascending order.
    public func rank(of member: Bytes) -> Int? {
        guard let s = scores[member] else { return nil }
        return lowerBound(Entry(score: s, member: member))
    }

    // MARK: tree maintenance

    /// Largest number of entries in a leaf and of children in an inner node.
    static let maxFill = 64
    /// A node with fewer items is merged with or refilled from a sibling.
    static let minFill = 16

    final class Node: @unchecked Sendable {
        /// Leaf entries, ascending (leaves only).
        var entries: [Entry]
        /// Children (inner nodes only), with their subtree sizes and largest entries.
        var children: [Node]
        var counts: [Int]
        var maxes: [Entry]
        var total: Int

        init(entries: [Entry]) {
            self.entries = entries
            self.children = []
            self.counts = []
            self.maxes = []
            self.total = entries.count
        }

        init(children: [Node]) {
            self.entries = []
            self.children = children
            self.counts = children.map(\.total)
            self.maxes = children.map { $0.maxEntry }
            self.total = counts.reduce(0, +)
        }

        init(copying other: Node) {
            entries = other.entries
            children = other.children
            counts = other.counts
            maxes = other.maxes
            total = other.total
        }

        @inline(__always) var isLeaf: Bool { children.isEmpty }
        /// Items directly held: entries for a leaf, children for an inner node.
        @inline(__always) var fill: Int { isLeaf ? entries.count : children.count }
        var maxEntry: Entry { isLeaf ? entries[entries.count - 1] : maxes[maxes.count - 1] }

        /// Index of the child that holds (or would hold) `e`.
        func route(_ e: Entry) -> Int {
            var lo = 0, hi = maxes.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if maxes[mid] < e { lo = mid + 1 } else { hi = mid }
            }
            return min(lo, children.count - 1)
        }

        func leafIndex(_ e: Entry) -> Int {
            var lo = 0, hi = entries.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if entries[mid] < e { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }

        /// Splits off the upper half into a new sibling.
        func split() -> Node {
            if isLeaf {
                let half = entries.count / 2
                let right = Node(entries: Array(entries[half...]))
                entries.removeSubrange(half...)
                total = entries.count
                return right
            }
            let half = children.count / 2
            let right = Node(children: Array(children[half...]))
            children.removeSubrange(half...)
            counts.removeSubrange(half...)
            maxes.removeSubrange(half...)
            total -= right.total
            return right
        }
    }

    private mutating func insertEntry(_ e: Entry) {
        guard root != nil else {
            root = Node(entries: [e])
            return
        }
        if let right = Self.insert(e, into: &root!) {
            root = Node(children: [root!, right])
        }
    }

    private mutating func removeEntry(_ e: Entry) {
        guard root != nil else { return }
        Self.remove(e, from: &root!)
        if root!.total == 0 {
            root = nil
        } else if !root!.isLeaf && root!.children.count == 1 {
            root = root!.children[0]
        }
    }

    /// Inserts into the subtree; returns a new right sibling when the node split.
    private static func insert(_ e: Entry, into node: inout Node) -> Node? {
        if !isKnownUniquelyReferenced(&node) { node = Node(copying: node) }
        let n = node
        if n.isLeaf {
            n.entries.insert(e, at: n.leafIndex(e))
            n.total += 1
            return n.entries.count > maxFill ? n.split() : nil
        }
        let i = n.route(e)
        let right = insert(e, into: &n.children[i])
        n.total += 1
        if let right {
            n.counts[i] = n.children[i].total
            n.maxes[i] = n.children[i].maxEntry
            n.children.insert(right, at: i + 1)
            n.counts.insert(right.total, at: i + 1)
            n.maxes.insert(right.maxEntry, at: i + 1)
            return n.children.count > maxFill ? n.split() : nil
        }
        n.counts[i] += 1
        if n.maxes[i] < e { n.maxes[i] = e }
        return nil
    }

    /// Removes an entry known to be present.
    private static func remove(_ e: Entry, from node: inout Node) {
        if !isKnownUniquelyReferenced(&node) { node = Node(copying: node) }
        let n = node
        if n.isLeaf {
            let i = n.leafIndex(e)
            guard i < n.entries.count, n.entries[i] == e else { return }
            n.entries.remove(at: i)
            n.total -= 1
            return
        }
        let i = n.route(e)
        let before = n.children[i].total
        remove(e, from: &n.children[i])
        let after = n.children[i].total
        guard after < before else { return }
        n.total -= 1
        n.counts[i] = after
        if after == 0 {
            n.children.remove(at: i)
            n.counts.remove(at: i)
            n.maxes.remove(at: i)
            return
        }
        n.maxes[i] = n.children[i].maxEntry
        if n.children[i].fill < minFill && n.children.count > 1 { rebalance(n, around: i) }
    }

    /// Merges child `i` with a neighbour, or evens out their items when both together are too many.
    private static func rebalance(_ n: Node, around i: Int) {
        let l = i > 0 ? i - 1 : i
        let r = l + 1
        if !isKnownUniquelyReferenced(&n.children[l]) { n.children[l] = Node(copying: n.children[l]) }
        if !isKnownUniquelyReferenced(&n.children[r]) { n.children[r] = Node(copying: n.children[r]) }
        let left = n.children[l], right = n.children[r]
        if left.fill + right.fill <= maxFill {
            if left.isLeaf {
                left.entries.append(contentsOf: right.entries)
            } else {
                left.children.append(contentsOf: right.children)
                left.counts.append(contentsOf: right.counts)
                left.maxes.append(contentsOf: right.maxes)
            }
            left.total += right.total
            n.children.remove(at: r)
            n.counts.remove(at: r)
            n.maxes.remove(at: r)
            n.counts[l] = left.total
            n.maxes[l] = left.maxEntry
        } else {
            let target = (left.fill + right.fill) / 2
            if left.isLeaf {
                if left.entries.count < target {
                    let k = target - left.entries.count
                    left.entries.append(contentsOf: right.entries[0..<k])
                    right.entries.removeFirst(k)
                } else {
                    let k = left.entries.count - target
                    right.entries.insert(contentsOf: left.entries[(left.entries.count - k)...], at: 0)
                    left.entries.removeLast(k)
                }
                left.total = left.entries.count
                right.total = right.entries.count
            } else {
                if left.children.count < target {
                    let k = target - left.children.count
                    left.children.append(contentsOf: right.children[0..<k])
                    left.counts.append(contentsOf: right.counts[0..<k])
                    left.maxes.append(contentsOf: right.maxes[0..<k])
                    right.children.removeFirst(k)
                    right.counts.removeFirst(k)
                    right.maxes.removeFirst(k)
                } else {
                    let k = left.children.count - target
                    let from = left.children.count - k
                    right.children.insert(contentsOf: left.children[from...], at: 0)
                    right.counts.insert(contentsOf: left.counts[from...], at: 0)
                    right.maxes.insert(contentsOf: left.maxes[from...], at: 0)
                    left.children.removeLast(k)
                    left.counts.removeLast(k)
                    left.maxes.removeLast(k)
                }
                left.total = left.counts.reduce(0, +)
                right.total = right.counts.reduce(0, +)
            }
            n.counts[l] = left.total
            n.counts[r] = right.total
            n.maxes[l] = left.maxEntry
            n.maxes[r] = right.maxEntry
        }
    }

    /// Checks the tree's invariants (sizes, maxima, order, agreement with `scores`); for tests.
    public func validate() -> Bool { validationFailure() == nil }

    /// The first broken invariant, described; nil when the tree is sound.
    public func validationFailure() -> String? {
        guard let root else { return scores.isEmpty ? nil : "no tree for \(scores.count) members" }
        var previous: Entry? = nil
        var seen = 0
        func check(_ node: Node, isRoot: Bool, depth: Int) -> String? {
            if node.isLeaf {
                if node.entries.isEmpty { return "empty leaf at depth \(depth)" }
                if node.entries.count > Self.maxFill { return "overfull leaf" }
                if node.total != node.entries.count { return "leaf total \(node.total) != \(node.entries.count)" }
                for e in node.entries {
                    if let p = previous, !(p < e) { return "order: \(p) then \(e)" }
                    if scores[e.member] != e.score { return "score of \(e.member) differs" }
                    previous = e
                    seen += 1
                }
                return nil
            }
            if node.children.count > Self.maxFill { return "overfull inner node" }
            if isRoot && node.children.count < 2 { return "root with one child" }
            if node.counts.count != node.children.count || node.maxes.count != node.children.count {
                return "inner arrays disagree"
            }
            var sum = 0
            for (i, child) in node.children.enumerated() {
                if child.total != node.counts[i] { return "count \(node.counts[i]) != child total \(child.total) at depth \(depth)" }
                if child.maxEntry != node.maxes[i] { return "stale max at depth \(depth)" }
                if let failure = check(child, isRoot: false, depth: depth + 1) { return failure }
                sum += child.total
            }
            return sum == node.total ? nil : "total \(node.total) != sum \(sum) at depth \(depth)"
        }
        if let failure = check(root, isRoot: true, depth: 0) { return failure }
        return seen == scores.count ? nil : "tree holds \(seen) of \(scores.count)"
    }

    // MARK: ordered view

    /// A read-only, random-access view of the entries in (score, member) order.
    public struct OrderedView: RandomAccessCollection, Sendable {
        fileprivate let root: Node?
        public let count: Int
        public var startIndex: Int { 0 }
        public var endIndex: Int { count }

        public subscript(position: Int) -> Entry {
            precondition(position >= 0 && position < count, "index out of range")
            var node = root!
            var r = position
            while !node.isLeaf {
                var i = 0
                while r >= node.counts[i] { r -= node.counts[i]; i += 1 }
                node = node.children[i]
            }
            return node.entries[r]
        }

        public func makeIterator() -> Iterator { Iterator(root: root) }

        /// In-order walk with an explicit path: O(1) amortized per element.
        public struct Iterator: IteratorProtocol {
            private var path: [(Node, Int)] = []

            fileprivate init(root: Node?) {
                if let root { descend(root) }
            }

            private mutating func descend(_ start: Node) {
                var node = start
                while !node.isLeaf {
                    path.append((node, 0))
                    node = node.children[0]
                }
                path.append((node, 0))
            }

            public mutating func next() -> Entry? {
                while let (node, i) = path.last {
                    if node.isLeaf {
                        if i < node.entries.count {
                            path[path.count - 1].1 = i + 1
                            return node.entries[i]
                        }
                        path.removeLast()
                        if !path.isEmpty { path[path.count - 1].1 += 1 }
                    } else if i < node.children.count {
                        descend(node.children[i])
                    } else {
                        path.removeLast()
                        if !path.isEmpty { path[path.count - 1].1 += 1 }
                    }
                }
                return nil
            }
        }
    }
}
