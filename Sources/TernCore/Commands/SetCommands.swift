import NIOCore
import RESP
import TernStorage

/// The set commands of Redis 7.0 (t_set.c): SADD SREM SISMEMBER SMISMEMBER SCARD SMEMBERS SRANDMEMBER SPOP SMOVE
/// SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF SDIFFSTORE SSCAN.
enum SetCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("sadd", arity: -3, flags: [.write, .denyoom, .fast], keys: .single, group: "set",
                        summary: "Add one or more members to a set",
                        complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
                        acl: ["set"], arguments: ["key", "member [member ...]"], handler: sadd),
            CommandSpec("srem", arity: -3, flags: [.write, .fast], keys: .single, group: "set",
                        summary: "Remove one or more members from a set",
                        complexity: "O(N) where N is the number of members to be removed.", acl: ["set"],
                        arguments: ["key", "member [member ...]"], handler: srem),
            CommandSpec("sismember", arity: 3, flags: [.readonly, .fast], keys: .single, group: "set",
                        summary: "Determine if a given value is a member of a set", acl: ["set"],
                        arguments: ["key", "member"], handler: sismember),
            CommandSpec("smismember", arity: -3, flags: [.readonly, .fast], keys: .single, group: "set",
                        summary: "Returns the membership associated with the given elements for a set", since: "6.2.0",
                        complexity: "O(N) where N is the number of elements being checked for membership",
                        acl: ["set"], arguments: ["key", "member [member ...]"], handler: smismember),
            CommandSpec("scard", arity: 2, flags: [.readonly, .fast], keys: .single, group: "set",
                        summary: "Get the number of members in a set", acl: ["set"], arguments: ["key"],
                        handler: scard),
            CommandSpec("smembers", arity: 2, flags: [.readonly], keys: .single, group: "set",
                        summary: "Get all the members in a set",
                        complexity: "O(N) where N is the set cardinality.", acl: ["set"], arguments: ["key"]) { ctx in
                try sinterGeneric(ctx, keys: [ctx.bytes(1)], destination: nil)
            },
            CommandSpec("srandmember", arity: -2, flags: [.readonly], keys: .single, group: "set",
                        summary: "Get one or multiple random members from a set",
                        complexity: "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.",
                        acl: ["set"], arguments: ["key", "[count]"], handler: srandmember),
            CommandSpec("spop", arity: -2, flags: [.write, .fast], keys: .single, group: "set",
                        summary: "Remove and return one or multiple random members from a set",
                        complexity: "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
                        acl: ["set"], arguments: ["key", "[count]"], handler: spop),
            CommandSpec("smove", arity: 4, flags: [.write, .fast], keys: KeyPositions(first: 1, last: 2, step: 1),
                        group: "set", summary: "Move a member from one set to another", acl: ["set"],
                        arguments: ["source", "destination", "member"], handler: smove),
            CommandSpec("sinter", arity: -2, flags: [.readonly], keys: .all, group: "set",
                        summary: "Intersect multiple sets", complexity: interComplexity, acl: ["set"],
                        arguments: ["key [key ...]"]) { ctx in
                try sinterGeneric(ctx, keys: (1..<ctx.argc).map { ctx.bytes($0) }, destination: nil)
            },
            CommandSpec("sintercard", arity: -3, flags: [.readonly], keys: .none, group: "set",
                        summary: "Intersect multiple sets and return the cardinality of the result", since: "7.0.0",
                        complexity: interComplexity, acl: ["set"],
                        arguments: ["numkeys", "key [key ...]", "[LIMIT limit]"], keyFinder: numkeysFinder,
                        handler: sintercard),
            CommandSpec("sinterstore", arity: -3, flags: [.write, .denyoom], keys: .all, group: "set",
                        summary: "Intersect multiple sets and store the resulting set in a key",
                        complexity: interComplexity, acl: ["set"], arguments: ["destination", "key [key ...]"]) { ctx in
                try sinterGeneric(ctx, keys: (2..<ctx.argc).map { ctx.bytes($0) }, destination: ctx.bytes(1))
            },
            CommandSpec("sunion", arity: -2, flags: [.readonly], keys: .all, group: "set", summary: "Add multiple sets",
                        complexity: totalComplexity, acl: ["set"], arguments: ["key [key ...]"]) { ctx in
                try sunionDiff(ctx, keys: (1..<ctx.argc).map { ctx.bytes($0) }, destination: nil, diff: false)
            },
            CommandSpec("sunionstore", arity: -3, flags: [.write, .denyoom], keys: .all, group: "set",
                        summary: "Add multiple sets and store the resulting set in a key", complexity: totalComplexity,
                        acl: ["set"], arguments: ["destination", "key [key ...]"]) { ctx in
                try sunionDiff(ctx, keys: (2..<ctx.argc).map { ctx.bytes($0) }, destination: ctx.bytes(1), diff: false)
            },
            CommandSpec("sdiff", arity: -2, flags: [.readonly], keys: .all, group: "set", summary: "Subtract multiple sets",
                        complexity: totalComplexity, acl: ["set"], arguments: ["key [key ...]"]) { ctx in
                try sunionDiff(ctx, keys: (1..<ctx.argc).map { ctx.bytes($0) }, destination: nil, diff: true)
            },
            CommandSpec("sdiffstore", arity: -3, flags: [.write, .denyoom], keys: .all, group: "set",
                        summary: "Subtract multiple sets and store the resulting set in a key",
                        complexity: totalComplexity, acl: ["set"], arguments: ["destination", "key [key ...]"]) { ctx in
                try sunionDiff(ctx, keys: (2..<ctx.argc).map { ctx.bytes($0) }, destination: ctx.bytes(1), diff: true)
            },
            CommandSpec("sscan", arity: -3, flags: [.readonly], keys: .single, group: "set",
                        summary: "Incrementally iterate Set elements", since: "2.8.0", complexity: scanComplexity,
                        acl: ["set"], arguments: ["key", "cursor", "[MATCH pattern]", "[COUNT count]"], handler: sscan),
        ]
    }

    static let interComplexity = "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."
    static let totalComplexity = "O(N) where N is the total number of elements in all given sets."
    static let scanComplexity = "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."

    /// SINTERCARD's keys: `numkeys` at 1, then that many keys.
    static let numkeysFinder: ([ByteBuffer]) -> [Int] = { args in
        guard args.count > 2,
              let n = args[1].withUnsafeReadableBytes({ RESPNumber.parseInt64($0) }), n > 0,
              n <= Int64(args.count - 2) else { return [] }
        return Array(2..<(2 + Int(n)))
    }

    // MARK: single-set commands

    static func sadd(_ ctx: CommandContext) throws {
        let members = (2..<ctx.argc).map { ctx.bytes($0) }
        let added = try ctx.keyspace.setAdd(ctx.bytes(1), members)
        if added > 0 { ctx.notify(.set, "sadd", ctx.bytes(1)) }
        ctx.integer(added)
    }

    static func srem(_ ctx: CommandContext) throws {
        let members = (2..<ctx.argc).map { ctx.bytes($0) }
        let key = ctx.bytes(1)
        let removed = try ctx.keyspace.setRemove(key, members)
        if removed > 0 {
            ctx.notify(.set, "srem", key)
            ctx.notifyIfEmptied(key)
        }
        ctx.integer(removed)
    }

    static func sismember(_ ctx: CommandContext) throws {
        ctx.integer(try ctx.keyspace.setContains(ctx.bytes(1), ctx.bytes(2)) ? 1 : 0)
    }

    static func smismember(_ ctx: CommandContext) throws {
        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        // A missing key is an empty set: a zero for every member.
        let exists = try keyspace.collection(key, .set) != nil
        ctx.arrayHeader(ctx.argc - 2)
        for i in 2..<ctx.argc {
            ctx.integer(exists && keyspace.database.setContains(key, ctx.bytes(i)) ? 1 : 0)
        }
    }

    static func scard(_ ctx: CommandContext) throws {
        ctx.integer(try ctx.keyspace.collection(ctx.bytes(1), .set)?.count ?? 0)
    }

    // MARK: random members

    static func srandmember(_ ctx: CommandContext) throws {
        if ctx.argc > 3 { throw CommandError.syntax }
        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        guard ctx.argc == 3 else {
            guard try keyspace.collection(key, .set) != nil else { return ctx.null() }
            let members = keyspace.database.setMembers(key)
            ctx.bulkOrNull(members.randomElement())
            return
        }
        let l = try CollectionSupport.rangeLong(ctx, 2)
        guard let meta = try keyspace.collection(key, .set) else { return ctx.arrayHeader(0) }
        if l == 0 { return ctx.arrayHeader(0) }
        let members = keyspace.database.setMembers(key)
        // A negative count may repeat members (and so can a count of 1, trivially).
        if l < 0 || l == 1 {
            let count = l.magnitude
            ctx.arrayHeader(Int(count))
            var left = count
            while left > 0 {
                ctx.bulk(members.randomElement()!)
                left -= 1
                if CollectionSupport.outputOverflowed(ctx) { break }
            }
            return
        }
        let count = Int(l)
        if count >= meta.count {
            let ordered = CollectionSupport.replyOrder(members, limits: ctx.server.config.encodingLimits, state: meta.encoding)
            ctx.arrayHeader(ordered.count)
            for m in ordered { ctx.bulk(m) }
            return
        }
        let sample = CollectionSupport.sample(members, count)
        ctx.arrayHeader(sample.count)
        for m in sample { ctx.bulk(m) }
    }

    static func spop(_ ctx: CommandContext) throws {
        if ctx.argc > 3 { throw CommandError.syntax }
        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        guard ctx.argc == 3 else {
            guard try keyspace.collection(key, .set, read: false) != nil else { return ctx.null() }
            guard let member = keyspace.database.setMembers(key).randomElement() else { return ctx.null() }
            _ = try keyspace.setRemove(key, [member])
            ctx.notify(.set, "spop", key)
            ctx.notifyIfEmptied(key)
            ctx.bulk(member)
            // Replicated as the SREM of what was popped.
            propagateSrem(ctx, [member])
            return
        }
        // getPositiveLongFromObjectOrReply: one message for anything but a non-negative integer.
        guard let count = try? ctx.int(2), count >= 0 else {
            throw CommandError.err("value is out of range, must be positive")
        }
        guard let meta = try keyspace.collection(key, .set, read: false), count > 0 else {
            return ctx.setHeader(0)
        }
        let members = keyspace.database.setMembers(key)
        if count >= meta.count {
            // The whole set: reply with it, delete the key, and propagate a DEL.
            let ordered = CollectionSupport.replyOrder(members, limits: ctx.server.config.encodingLimits, state: meta.encoding)
            ctx.setHeader(ordered.count)
            for m in ordered { ctx.bulk(m) }
            keyspace.delete(key)
            ctx.notify(.set, "spop", key)
            ctx.notify(.generic, "del", key)
            if ctx.wantsEffects {
                ctx.propagate([ByteBuffer(string: "DEL"), ctx.arguments[1]])
            } else {
                ctx.preventPropagation()
            }
            return
        }
        let popped = CollectionSupport.sample(members, count)
        _ = try keyspace.setRemove(key, popped)
        // Redis's SPOP_MOVE_STRATEGY_MUL case: when few members remain it builds a new set of them, whose
        // encoding is chosen afresh.
        if (meta.count - count) * 5 <= count { keyspace.database.setEncoding(key, .derived) }
        ctx.notify(.set, "spop", key)
        ctx.setHeader(popped.count)
        for m in popped { ctx.bulk(m) }
        propagateSrem(ctx, popped)
    }

    /// One `SREM key member` effect per member (Redis's alsoPropagate: several make a MULTI/EXEC unit).
    static func propagateSrem(_ ctx: CommandContext, _ members: [Bytes]) {
        guard ctx.wantsEffects else { return ctx.preventPropagation() }
        let srem = ByteBuffer(string: "SREM")
        for m in members { ctx.propagate([srem, ctx.arguments[1], ByteBuffer(bytes: m.array)]) }
    }

    // MARK: SMOVE

    static func smove(_ ctx: CommandContext) throws {
        let source = ctx.bytes(1), destination = ctx.bytes(2), member = ctx.bytes(3)
        let keyspace = ctx.keyspace
        let src = keyspace.metadata(source, touch: true)
        let dst = keyspace.metadata(destination, touch: true)
        guard let src else { return ctx.integer(0) }
        if src.kind != .set || (dst != nil && dst!.kind != .set) { throw CommandError.wrongType }
        if source == destination {
            return ctx.integer(keyspace.database.setContains(source, member) ? 1 : 0)
        }
        guard try keyspace.setRemove(source, [member]) == 1 else { return ctx.integer(0) }
        ctx.notify(.set, "srem", source)
        ctx.notifyIfEmptied(source)
        if try keyspace.setAdd(destination, [member]) > 0 { ctx.notify(.set, "sadd", destination) }
        ctx.integer(1)
    }

    // MARK: SINTER / SUNION / SDIFF

    static func sintercard(_ ctx: CommandContext) throws {
        let numkeysError = CommandError.err("numkeys should be greater than 0")
        guard let numkeys = try? ctx.int(1), numkeys >= 1 else { throw numkeysError }
        if numkeys > ctx.argc - 2 { throw CommandError.err("Number of keys can't be greater than number of args") }
        var limit = 0
        var j = 2 + numkeys
        while j < ctx.argc {
            if StringCommands.option(ctx, j, is: "LIMIT") && j < ctx.argc - 1 {
                j += 1
                guard let l = try? ctx.int(j), l >= 0 else { throw CommandError.err("LIMIT can't be negative") }
                limit = l
            } else {
                throw CommandError.syntax
            }
            j += 1
        }
        try sinterGeneric(ctx, keys: (2..<(2 + numkeys)).map { ctx.bytes($0) }, destination: nil,
                          cardinalityOnly: true, limit: limit)
    }

    /// `sinterGenericCommand`: SINTER, SMEMBERS, SINTERSTORE and SINTERCARD.
    static func sinterGeneric(_ ctx: CommandContext, keys: [Bytes], destination: Bytes?,
                              cardinalityOnly: Bool = false, limit: Int = 0) throws {
        let keyspace = ctx.keyspace
        var sets: [(key: Bytes, count: Int)] = []
        var empty = false
        for key in keys {
            // Every key is type-checked, even after a missing one.
            guard let meta = try keyspace.collection(key, .set) else { empty = true; continue }
            sets.append((key, meta.count))
        }
        if empty {
            if let destination {
                if keyspace.delete(destination) { ctx.notify(.generic, "del", destination) }
                ctx.integer(0)
            } else if cardinalityOnly {
                ctx.integer(0)
            } else {
                ctx.setHeader(0)
            }
            return
        }
        // Iterate the smallest set, probing the others.
        sets.sort { $0.count < $1.count }
        let first = sets[0].key
        let others = sets.dropFirst().map(\.key).filter { $0 != first }
        var result: [Bytes] = []
        var cardinality = 0
        for member in keyspace.database.setMembers(first)
        where others.allSatisfy({ keyspace.database.setContains($0, member) }) {
            if cardinalityOnly {
                cardinality += 1
                if limit > 0 && cardinality >= limit { break }
            } else {
                result.append(member)
            }
        }
        if cardinalityOnly { return ctx.integer(cardinality) }
        if let destination { return store(ctx, destination, result, event: "sinterstore") }
        let ordered = CollectionSupport.replyOrder(result, limits: ctx.server.config.encodingLimits)
        ctx.setHeader(ordered.count)
        for m in ordered { ctx.bulk(m) }
    }

    /// `sunionDiffGenericCommand`.
    static func sunionDiff(_ ctx: CommandContext, keys: [Bytes], destination: Bytes?, diff: Bool) throws {
        let keyspace = ctx.keyspace
        var present: [Bytes?] = []
        for key in keys {
            present.append(try keyspace.collection(key, .set) != nil ? key : nil)
        }
        var result: Set<Bytes> = []
        if !diff {
            for case let key? in present { result.formUnion(keyspace.database.setMembers(key)) }
        } else if let first = present[0], !present.dropFirst().contains(where: { $0 == first }) {
            let others = present.dropFirst().compactMap { $0 }
            for member in keyspace.database.setMembers(first)
            where !others.contains(where: { keyspace.database.setContains($0, member) }) {
                result.insert(member)
            }
        }
        if let destination {
            return store(ctx, destination, Array(result), event: diff ? "sdiffstore" : "sunionstore")
        }
        let ordered = CollectionSupport.replyOrder(Array(result), limits: ctx.server.config.encodingLimits)
        ctx.setHeader(ordered.count)
        for m in ordered { ctx.bulk(m) }
    }

    /// The *STORE ending: the result replaces the destination (its TTL too); an empty result deletes it.
    static func store(_ ctx: CommandContext, _ destination: Bytes, _ members: [Bytes], event: StaticString) {
        let keyspace = ctx.keyspace
        if members.isEmpty {
            if keyspace.delete(destination) { ctx.notify(.generic, "del", destination) }
            ctx.integer(0)
        } else {
            keyspace.store(destination, .set(Set(members)), expiry: .clear)
            ctx.notify(.set, event, destination)
            ctx.integer(members.count)
        }
    }

    // MARK: SSCAN

    static func sscan(_ ctx: CommandContext) throws {
        guard let cursor = KeyCommands.parseCursor(ctx.bytes(2).array) else { throw CommandError.err("invalid cursor") }
        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        guard let meta = try keyspace.collection(key, .set) else { return CollectionSupport.emptyScan(ctx) }
        let (count, pattern) = try CollectionSupport.scanOptions(ctx)
        let members = keyspace.database.setMembers(key)
        var next: UInt64 = 0
        var page: [Bytes]
        if ObjectEncoding.isCompact(meta.encoding, derive: {
            CollectionSupport.isIntset(members, count: meta.count, limits: ctx.server.config.encodingLimits)
        }) {
            // An intset is answered in one go, in order, whatever the cursor (as Redis does).
            page = members.sorted(by: CollectionSupport.numericOrder)
        } else {
            (next, page) = CollectionSupport.scanPage(members, cursor: cursor, count: count) { $0 }
        }
        if let pattern { page = page.filter { GlobMatch.matches(pattern: pattern, $0.array) } }
        ctx.arrayHeader(2)
        ctx.bulk(String(next))
        ctx.arrayHeader(page.count)
        for m in page { ctx.bulk(m) }
    }
}

/// What the hash and set commands share: Redis's number parsing for counts, reply ordering, sampling and
/// the SCAN cursor over a collection.
enum CollectionSupport {
    /// `getRangeLongFromObjectOrReply(..., -LONG_MAX, LONG_MAX, ...)`.
    static func rangeLong(_ ctx: CommandContext, _ i: Int) throws -> Int {
        let l = try ctx.int(i)
        if l == Int.min {
            throw CommandError.err("value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        }
        return l
    }

    /// Replies bigger than this close the connection instead of exhausting memory (Redis relies on its
    /// client output buffer limits for the same: a huge negative SRANDMEMBER/HRANDFIELD count).
    static let outputLimit = 1 << 30

    static func outputOverflowed(_ ctx: CommandContext) -> Bool {
        guard ctx.client.output.readableBytes > outputLimit else { return false }
        ctx.client.closing = true
        return true
    }

    static func isInteger(_ b: Bytes) -> Bool { ObjectEncoding.parseStrictInt64(b.array) != nil }

    /// Whether Redis would hold these members as an intset (all integers, few enough).
    static func isIntset(_ members: [Bytes], count: Int, limits: ObjectEncoding.Limits) -> Bool {
        count <= limits.setMaxIntsetEntries && members.allSatisfy(isInteger)
    }

    static func numericOrder(_ a: Bytes, _ b: Bytes) -> Bool {
        (ObjectEncoding.parseStrictInt64(a.array) ?? 0) < (ObjectEncoding.parseStrictInt64(b.array) ?? 0)
    }

    /// The order Redis replies with a set it built or holds: ascending for an intset, hash order otherwise.
    /// `state`: the stored key's recorded encoding, when the members are a key's.
    static func replyOrder(_ members: [Bytes], limits: ObjectEncoding.Limits, state: EncodingState = .derived) -> [Bytes] {
        ObjectEncoding.isCompact(state, derive: { isIntset(members, count: members.count, limits: limits) })
            ? members.sorted(by: numericOrder) : members
    }

    /// `count` distinct elements chosen at random (count < elements.count).
    static func sample<T>(_ elements: [T], _ count: Int) -> [T] {
        if count * 3 > elements.count {
            return Array(elements.shuffled().prefix(count))
        }
        var chosen = Set<Int>()
        var out: [T] = []
        out.reserveCapacity(count)
        while out.count < count {
            let i = Int.random(in: 0..<elements.count)
            if chosen.insert(i).inserted { out.append(elements[i]) }
        }
        return out
    }

    static func emptyScan(_ ctx: CommandContext) {
        ctx.arrayHeader(2)
        ctx.bulk("0")
        ctx.arrayHeader(0)
    }

    /// `scanGenericCommand`'s options for a key: COUNT (>= 1) and MATCH ("*" is no pattern); TYPE is SCAN's only.
    static func scanOptions(_ ctx: CommandContext) throws -> (count: Int, pattern: [UInt8]?) {
        var count = 10
        var pattern: [UInt8]? = nil
        var i = 3
        while i < ctx.argc {
            let remaining = ctx.argc - i
            if StringCommands.option(ctx, i, is: "COUNT") && remaining >= 2 {
                count = try ctx.int(i + 1)
                if count < 1 { throw CommandError.syntax }
                i += 2
            } else if StringCommands.option(ctx, i, is: "MATCH") && remaining >= 2 {
                let p = ctx.bytes(i + 1).array
                pattern = p == [UInt8(ascii: "*")] ? nil : p
                i += 2
            } else {
                throw CommandError.syntax
            }
        }
        return (count, pattern)
    }

    /// A scan position for an element: its hash (stable for the life of the process), 63 bits.
    @inline(__always)
    static func position(_ b: Bytes) -> UInt64 {
        UInt64(truncatingIfNeeded: b.hashValue) & 0x7FFF_FFFF_FFFF_FFFF
    }

    /// One SCAN step over a hashtable-encoded collection. Elements are visited in order of their hash;
    /// `cursor` is the lowest position not visited yet, so every element present for the whole iteration
    /// is returned exactly once whatever is added or removed in between. Returns 0 when done.
    static func scanPage<T>(_ elements: [T], cursor: UInt64, count: Int, key: (T) -> Bytes) -> (UInt64, [T]) {
        var candidates: [(position: UInt64, index: Int)] = []
        for (i, e) in elements.enumerated() {
            let p = position(key(e))
            if p >= cursor { candidates.append((p, i)) }
        }
        if candidates.count <= count {
            return (0, candidates.map { elements[$0.index] })
        }
        // The `count` lowest positions (a bounded max-heap), then any ties with the last one.
        var heap: [(position: UInt64, index: Int)] = []
        heap.reserveCapacity(count)
        func siftUp(_ i: Int) {
            var c = i
            while c > 0 {
                let p = (c - 1) / 2
                if heap[p].position >= heap[c].position { break }
                heap.swapAt(p, c)
                c = p
            }
        }
        func siftDown() {
            var p = 0
            while true {
                let l = 2 * p + 1, r = l + 1
                var m = p
                if l < heap.count && heap[l].position > heap[m].position { m = l }
                if r < heap.count && heap[r].position > heap[m].position { m = r }
                if m == p { break }
                heap.swapAt(p, m)
                p = m
            }
        }
        for c in candidates {
            if heap.count < count {
                heap.append(c)
                siftUp(heap.count - 1)
            } else if c.position < heap[0].position {
                heap[0] = c
                siftDown()
            }
        }
        let last = heap[0].position
        var chosen = heap.map(\.index)
        // Elements sharing the boundary position must come in the same page.
        let included = Set(chosen)
        for c in candidates where c.position == last && !included.contains(c.index) { chosen.append(c.index) }
        let more = candidates.contains { $0.position > last }
        return (more ? last + 1 : 0, chosen.map { elements[$0] })
    }
}
