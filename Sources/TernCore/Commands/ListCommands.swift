import NIOCore
import RESP
import TernStorage

/// The non-blocking list commands of Redis 7.0 (t_list.c): LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE
/// LINDEX LSET LINSERT LREM LTRIM LPOS LMOVE RPOPLPUSH LMPOP. The blocking variants reuse `popFromList` and
/// `move`, which do the keyspace work, the keyspace events and the effects but write no reply.
enum ListCommands {
    static var specs: [CommandSpec] {
        let pushComplexity = "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."
        let popComplexity = "O(N) where N is the number of elements returned"
        return [
            CommandSpec("lpush", arity: -3, flags: [.write, .denyoom, .fast], keys: .single, group: "list",
                        summary: "Prepend one or multiple elements to a list", complexity: pushComplexity,
                        acl: ["list"], arguments: ["key", "element [element ...]"]) { ctx in
                try push(ctx, end: .head, onlyExisting: false)
            },
            CommandSpec("rpush", arity: -3, flags: [.write, .denyoom, .fast], keys: .single, group: "list",
                        summary: "Append one or multiple elements to a list", complexity: pushComplexity,
                        acl: ["list"], arguments: ["key", "element [element ...]"]) { ctx in
                try push(ctx, end: .tail, onlyExisting: false)
            },
            CommandSpec("lpushx", arity: -3, flags: [.write, .denyoom, .fast], keys: .single, group: "list",
                        summary: "Prepend an element to a list, only if the list exists", since: "2.2.0",
                        complexity: pushComplexity, acl: ["list"], arguments: ["key", "element [element ...]"]) { ctx in
                try push(ctx, end: .head, onlyExisting: true)
            },
            CommandSpec("rpushx", arity: -3, flags: [.write, .denyoom, .fast], keys: .single, group: "list",
                        summary: "Append an element to a list, only if the list exists", since: "2.2.0",
                        complexity: pushComplexity, acl: ["list"], arguments: ["key", "element [element ...]"]) { ctx in
                try push(ctx, end: .tail, onlyExisting: true)
            },
            CommandSpec("lpop", arity: -2, flags: [.write, .fast], keys: .single, group: "list",
                        summary: "Remove and get the first elements in a list", complexity: popComplexity,
                        acl: ["list"], arguments: ["key", "[count]"]) { ctx in
                try pop(ctx, end: .head)
            },
            CommandSpec("rpop", arity: -2, flags: [.write, .fast], keys: .single, group: "list",
                        summary: "Remove and get the last elements in a list", complexity: popComplexity,
                        acl: ["list"], arguments: ["key", "[count]"]) { ctx in
                try pop(ctx, end: .tail)
            },
            CommandSpec("llen", arity: 2, flags: [.readonly, .fast], keys: .single, group: "list",
                        summary: "Get the length of a list", acl: ["list"], arguments: ["key"]) { ctx in
                ctx.integer(try ctx.keyspace.collection(ctx.bytes(1), .list)?.count ?? 0)
            },
            CommandSpec("lrange", arity: 4, flags: [.readonly], keys: .single, group: "list",
                        summary: "Get a range of elements from a list",
                        complexity: "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.",
                        acl: ["list"], arguments: ["key", "start", "stop"], handler: lrange),
            CommandSpec("lindex", arity: 3, flags: [.readonly], keys: .single, group: "list",
                        summary: "Get an element from a list by its index",
                        complexity: "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).",
                        acl: ["list"], arguments: ["key", "index"], handler: lindex),
            CommandSpec("lset", arity: 4, flags: [.write, .denyoom], keys: .single, group: "list",
                        summary: "Set the value of an element in a list by its index",
                        complexity: "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).",
                        acl: ["list"], arguments: ["key", "index", "element"], handler: lset),
            CommandSpec("linsert", arity: 5, flags: [.write, .denyoom], keys: .single, group: "list",
                        summary: "Insert an element before or after another element in a list", since: "2.2.0",
                        complexity: "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).",
                        acl: ["list"], arguments: ["key", "BEFORE|AFTER", "pivot", "element"], handler: linsert),
            CommandSpec("lrem", arity: 4, flags: [.write], keys: .single, group: "list",
                        summary: "Remove elements from a list",
                        complexity: "O(N+M) where N is the length of the list and M is the number of elements removed.",
                        acl: ["list"], arguments: ["key", "count", "element"], handler: lrem),
            CommandSpec("ltrim", arity: 4, flags: [.write], keys: .single, group: "list",
                        summary: "Trim a list to the specified range",
                        complexity: "O(N) where N is the number of elements to be removed by the operation.",
                        acl: ["list"], arguments: ["key", "start", "stop"], handler: ltrim),
            CommandSpec("lpos", arity: -3, flags: [.readonly], keys: .single, group: "list",
                        summary: "Return the index of matching elements on a list", since: "6.0.6",
                        complexity: "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.",
                        acl: ["list"], arguments: ["key", "element", "[RANK rank]", "[COUNT num-matches]", "[MAXLEN len]"],
                        handler: lpos),
            CommandSpec("lmove", arity: 5, flags: [.write, .denyoom], keys: KeyPositions(first: 1, last: 2, step: 1),
                        group: "list", summary: "Pop an element from a list, push it to another list and return it",
                        since: "6.2.0", acl: ["list"], arguments: ["source", "destination", "LEFT|RIGHT", "LEFT|RIGHT"]) { ctx in
                let from = try listEnd(ctx, 3)
                let to = try listEnd(ctx, 4)
                ctx.bulkOrNull(try move(ctx, source: ctx.bytes(1), destination: ctx.bytes(2), from: from, to: to))
            },
            CommandSpec("rpoplpush", arity: 3, flags: [.write, .denyoom], keys: KeyPositions(first: 1, last: 2, step: 1),
                        group: "list", summary: "Remove the last element in a list, prepend it to another list and return it",
                        since: "1.2.0", acl: ["list"], arguments: ["source", "destination"]) { ctx in
                ctx.bulkOrNull(try move(ctx, source: ctx.bytes(1), destination: ctx.bytes(2), from: .tail, to: .head))
            },
            CommandSpec("lmpop", arity: -4, flags: [.write], group: "list", summary: "Pop elements from a list",
                        since: "7.0.0",
                        complexity: "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
                        acl: ["list"], arguments: ["numkeys", "key [key ...]", "LEFT|RIGHT", "[COUNT count]"],
                        keyFinder: { SortedSetCommands.numkeysKeys($0, numkeysIndex: 1) }, handler: lmpop),
        ]
    }

    // MARK: shared pop/move logic (also for the blocking commands)

    /// How a pop is propagated.
    enum PopEffect {
        /// The command's own arguments (LPOP/RPOP).
        case verbatim
        /// `LPOP key <popped>` / `RPOP key <popped>` (LMPOP, BLMPOP).
        case withCount
        /// `LPOP key` / `RPOP key` (a served BLPOP/BRPOP).
        case withoutCount
    }

    /// Pops up to `count` (>= 1) elements from the list at `key` (in pop order; empty when the key is missing),
    /// fires the lpop/rpop event (and "del" when that emptied the list) and propagates `LPOP key n` /
    /// `RPOP key n` with n the number popped, as Redis 7.0 replicates LMPOP/BLMPOP (`propagateCount: false`
    /// gives `LPOP key`, BLPOP's form). WRONGTYPE for another kind. Writes no reply.
    static func popFromList(_ ctx: CommandContext, key: Bytes, end: ListEnd, count: Int,
                            propagateCount: Bool = true) throws -> [Bytes] {
        try popElements(ctx, key: key, end: end, count: count, effect: propagateCount ? .withCount : .withoutCount)
    }

    static func popElements(_ ctx: CommandContext, key: Bytes, end: ListEnd, count: Int, effect: PopEffect) throws -> [Bytes] {
        let popped = try ctx.keyspace.listPop(key, count: count, from: end)
        guard !popped.isEmpty else { return [] }
        ctx.notify(.list, end == .head ? "lpop" : "rpop", key)
        ctx.notifyIfEmptied(key)
        switch effect {
        case .verbatim:
            break
        case .withCount, .withoutCount:
            if ctx.wantsEffects {
                var words = [ByteBuffer(string: end == .head ? "LPOP" : "RPOP"), ByteBuffer(bytes: key.array)]
                if effect == .withCount { words.append(ByteBuffer(string: String(popped.count))) }
                ctx.propagate(words)
            } else {
                ctx.preventPropagation()
            }
        }
        return popped
    }

    /// LMOVE's work: pops from `source`'s `from` end and pushes onto `destination`'s `to` end; nil when the
    /// source is missing. WRONGTYPE (nothing changed) when either key holds another kind. Fires the push event
    /// on the destination, then the pop event on the source (and "del" when emptied), as lmoveGenericCommand.
    /// Effects: LMOVE and RPOPLPUSH propagate verbatim; any other caller (BLMOVE, BRPOPLPUSH served) propagates
    /// `LMOVE source destination FROM TO` (`RPOPLPUSH source destination` for BRPOPLPUSH). Writes no reply.
    static func move(_ ctx: CommandContext, source: Bytes, destination: Bytes, from: ListEnd, to: ListEnd) throws -> Bytes? {
        let keyspace = ctx.keyspace
        guard let src = keyspace.metadata(source, touch: true) else { return nil }
        if src.kind != .list { throw CommandError.wrongType }
        if src.count == 0 { return nil }
        if let dst = keyspace.metadata(destination, touch: true), dst.kind != .list { throw CommandError.wrongType }
        let value: Bytes
        if source == destination {
            // One list: rotate in place (the key never disappears in between).
            value = try keyspace.update(source, kind: .list) { (stored: inout StoredValue?) -> Bytes in
                guard case .list(var l)? = stored else { return Bytes([]) }
                stored = nil
                let v = from == .head ? l.removeFirst() : l.removeLast()
                if to == .head { l.prepend(v) } else { l.append(v) }
                stored = .list(l)
                return v
            }
        } else {
            guard let v = try keyspace.listPop(source, count: 1, from: from).first else { return nil }
            _ = try keyspace.listPush(destination, [v], at: to)
            value = v
        }
        ctx.notify(.list, to == .head ? "lpush" : "rpush", destination)
        ctx.notify(.list, from == .head ? "lpop" : "rpop", source)
        if source != destination { ctx.notifyIfEmptied(source) }
        let name = ctx.spec?.name ?? ""
        if name != "lmove" && name != "rpoplpush" {
            if ctx.wantsEffects {
                if name == "brpoplpush" {
                    ctx.propagate([ByteBuffer(string: "RPOPLPUSH"), ByteBuffer(bytes: source.array),
                                   ByteBuffer(bytes: destination.array)])
                } else {
                    ctx.propagate([ByteBuffer(string: "LMOVE"), ByteBuffer(bytes: source.array),
                                   ByteBuffer(bytes: destination.array),
                                   ByteBuffer(string: from == .head ? "LEFT" : "RIGHT"),
                                   ByteBuffer(string: to == .head ? "LEFT" : "RIGHT")])
                }
            } else {
                ctx.preventPropagation()
            }
        }
        return value
    }

    /// LEFT or RIGHT (case-insensitive), else a syntax error (getListPositionFromObjectOrReply).
    static func listEnd(_ ctx: CommandContext, _ i: Int) throws -> ListEnd {
        if ctx.argument(i, is: "LEFT") { return .head }
        if ctx.argument(i, is: "RIGHT") { return .tail }
        throw CommandError.syntax
    }

    // MARK: push / pop

    static func push(_ ctx: CommandContext, end: ListEnd, onlyExisting: Bool) throws {
        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        if onlyExisting {
            guard try keyspace.collection(key, .list, read: false) != nil else { return ctx.integer(0) }
        }
        let values = (2..<ctx.argc).map { ctx.bytes($0) }
        let length = try keyspace.listPush(key, values, at: end)
        ctx.notify(.list, end == .head ? "lpush" : "rpush", key)
        ctx.integer(length)
    }

    static func pop(_ ctx: CommandContext, end: ListEnd) throws {
        if ctx.argc > 3 { throw CommandError.wrongArity(ctx.spec.name) }
        let key = ctx.bytes(1)
        guard ctx.argc == 3 else {
            guard try ctx.keyspace.collection(key, .list, read: false) != nil else { return ctx.null() }
            ctx.bulkOrNull(try popElements(ctx, key: key, end: end, count: 1, effect: .verbatim).first)
            return
        }
        // getPositiveLongFromObjectOrReply: one message for anything but a non-negative integer.
        guard let count = try? ctx.int(2), count >= 0 else {
            throw CommandError.err("value is out of range, must be positive")
        }
        guard try ctx.keyspace.collection(key, .list, read: false) != nil else { return ctx.nullArray() }
        if count == 0 { return ctx.arrayHeader(0) }
        let popped = try popElements(ctx, key: key, end: end, count: count, effect: .verbatim)
        ctx.arrayHeader(popped.count)
        for v in popped { ctx.bulk(v) }
    }

    static func lmpop(_ ctx: CommandContext) throws {
        let numkeysError = CommandError.err("numkeys should be greater than 0")
        let numkeys = try ctx.int(1, error: numkeysError)
        if numkeys < 1 { throw numkeysError }
        // where_idx = numkeys_idx + numkeys + 1 must be an argument.
        guard numkeys < ctx.argc - 2 else { throw CommandError.syntax }
        let whereIndex = 2 + numkeys
        let end = try listEnd(ctx, whereIndex)
        var count = -1
        var j = whereIndex + 1
        while j < ctx.argc {
            let moreArgs = ctx.argc - 1 - j
            if count == -1 && ctx.argument(j, is: "COUNT") && moreArgs > 0 {
                j += 1
                let countError = CommandError.err("count should be greater than 0")
                let c = try ctx.int(j, error: countError)
                if c < 1 { throw countError }
                count = c
            } else {
                throw CommandError.syntax
            }
            j += 1
        }
        if count == -1 { count = 1 }
        for i in 2..<whereIndex {
            let key = ctx.bytes(i)
            guard let meta = try ctx.keyspace.collection(key, .list, read: false), meta.count > 0 else { continue }
            let popped = try popElements(ctx, key: key, end: end, count: count, effect: .withCount)
            ctx.arrayHeader(2)
            ctx.bulk(key)
            ctx.arrayHeader(popped.count)
            for v in popped { ctx.bulk(v) }
            return
        }
        ctx.nullArray()
    }

    // MARK: reads

    static func lrange(_ ctx: CommandContext) throws {
        let start = try ctx.int(2)
        let stop = try ctx.int(3)
        let items = try ctx.keyspace.listRange(ctx.bytes(1), start, stop)
        ctx.arrayHeader(items.count)
        for v in items { ctx.bulk(v) }
    }

    static func lindex(_ ctx: CommandContext) throws {
        let key = ctx.bytes(1)
        guard try ctx.keyspace.collection(key, .list) != nil else { return ctx.null() }
        let index = try ctx.int(2)
        // The lookup above already counted the hit; read the element without counting again.
        guard let meta = ctx.keyspace.metadata(key, touch: false) else { return ctx.null() }
        let i = index < 0 ? meta.count + index : index
        guard i >= 0 && i < meta.count else { return ctx.null() }
        ctx.bulkOrNull(ctx.keyspace.database.listIndex(key, i))
    }

    /// Visits the list's elements from the head (or from the tail when `fromTail`), in chunks, without
    /// counting keyspace hits; `body` gets the element's index from the head and returns false to stop.
    static func forEach(_ ctx: CommandContext, _ key: Bytes, count: Int, fromTail: Bool, limit: Int? = nil,
                        _ body: (Int, Bytes) -> Bool) {
        let database = ctx.keyspace.database
        let total = min(count, limit ?? count)
        let chunk = 256
        var visited = 0
        while visited < total {
            let n = min(chunk, total - visited)
            if fromTail {
                let hi = count - 1 - visited
                let lo = hi - n + 1
                let items = database.listRange(key, lo, hi)
                for (offset, v) in items.enumerated().reversed() where !body(lo + offset, v) { return }
            } else {
                let lo = visited
                let items = database.listRange(key, lo, lo + n - 1)
                for (offset, v) in items.enumerated() where !body(lo + offset, v) { return }
            }
            visited += n
        }
    }

    static func lpos(_ ctx: CommandContext) throws {
        let element = ctx.bytes(2)
        var rank = 1, count = -1, maxlen = 0
        var j = 3
        while j < ctx.argc {
            let moreArgs = ctx.argc - 1 - j
            if ctx.argument(j, is: "RANK") && moreArgs > 0 {
                j += 1
                // getLongFromObjectOrReply in 7.0.15: LONG_MIN is accepted (see below).
                rank = try ctx.int(j)
                if rank == 0 {
                    throw CommandError.err("RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
                }
            } else if ctx.argument(j, is: "COUNT") && moreArgs > 0 {
                j += 1
                guard let c = try? ctx.int(j), c >= 0 else { throw CommandError.err("COUNT can't be negative") }
                count = c
            } else if ctx.argument(j, is: "MAXLEN") && moreArgs > 0 {
                j += 1
                guard let m = try? ctx.int(j), m >= 0 else { throw CommandError.err("MAXLEN can't be negative") }
                maxlen = m
            } else {
                throw CommandError.syntax
            }
            j += 1
        }
        let fromTail = rank < 0
        // Redis negates a negative rank; LONG_MIN stays LONG_MIN, so every match qualifies and COUNT's
        // `matches-rank+1 >= count` test overflows and never stops the scan: reproduce both.
        let skip: UInt = rank == Int.min ? 1 : rank.magnitude  // matches to reach before reporting
        let countLimited = rank != Int.min
        let key = ctx.bytes(1)
        guard let meta = try ctx.keyspace.collection(key, .list) else {
            return count != -1 ? ctx.arrayHeader(0) : ctx.null()
        }
        var matches: UInt = 0
        var found: [Int] = []
        forEach(ctx, key, count: meta.count, fromTail: fromTail, limit: maxlen == 0 ? nil : maxlen) { index, v in
            guard v == element else { return true }
            matches += 1
            guard matches >= skip else { return true }
            found.append(index)
            if count == -1 { return false }
            return count == 0 || !countLimited || found.count < count
        }
        if count != -1 {
            ctx.arrayHeader(found.count)
            for i in found { ctx.integer(i) }
        } else if let first = found.first {
            ctx.integer(first)
        } else {
            ctx.null()
        }
    }

    // MARK: in-place writes

    static func lset(_ ctx: CommandContext) throws {
        let key = ctx.bytes(1)
        guard try ctx.keyspace.collection(key, .list, read: false) != nil else { throw CommandError.noSuchKey }
        let index = try ctx.int(2)
        guard try ctx.keyspace.listSet(key, index, ctx.bytes(3)) == true else { throw CommandError.outOfRange }
        ctx.notify(.list, "lset", key)
        ctx.ok()
    }

    static func linsert(_ ctx: CommandContext) throws {
        let after: Bool
        if ctx.argument(2, is: "AFTER") {
            after = true
        } else if ctx.argument(2, is: "BEFORE") {
            after = false
        } else {
            throw CommandError.syntax
        }
        let key = ctx.bytes(1)
        guard let meta = try ctx.keyspace.collection(key, .list, read: false) else { return ctx.integer(0) }
        let pivot = ctx.bytes(3)
        var position: Int? = nil
        forEach(ctx, key, count: meta.count, fromTail: false) { index, v in
            if v == pivot { position = index; return false }
            return true
        }
        guard let position else { return ctx.integer(-1) }
        let element = ctx.bytes(4)
        let length = try ctx.keyspace.update(key, kind: .list) { (stored: inout StoredValue?) -> Int in
            guard case .list(var l)? = stored else { return 0 }
            stored = nil
            l.insert(element, at: after ? position + 1 : position)
            stored = .list(l)
            return l.count
        }
        ctx.notify(.list, "linsert", key)
        ctx.integer(length)
    }

    static func lrem(_ ctx: CommandContext) throws {
        let toRemove = try ctx.int(2)
        let key = ctx.bytes(1)
        guard let meta = try ctx.keyspace.collection(key, .list, read: false) else { return ctx.integer(0) }
        let element = ctx.bytes(3)
        let limit = toRemove == 0 ? Int.max : Int(clamping: toRemove.magnitude)
        let fromTail = toRemove < 0
        // Indexes (from the head) of the elements to remove, found without changing anything.
        var doomed: [Int] = []
        forEach(ctx, key, count: meta.count, fromTail: fromTail) { index, v in
            if v == element { doomed.append(index) }
            return doomed.count < limit
        }
        guard !doomed.isEmpty else { return ctx.integer(0) }
        let remove = Set(doomed)
        try ctx.keyspace.update(key, kind: .list) { (stored: inout StoredValue?) in
            guard case .list(let l)? = stored else { return }
            stored = nil
            var kept = l
            kept.removeAll(keepingCapacity: true)
            for (i, v) in l.enumerated() where !remove.contains(i) { kept.append(v) }
            stored = kept.isEmpty ? nil : .list(kept)
        }
        ctx.notify(.list, "lrem", key)
        ctx.notifyIfEmptied(key)
        ctx.integer(doomed.count)
    }

    static func ltrim(_ ctx: CommandContext) throws {
        var start = try ctx.int(2)
        var end = try ctx.int(3)
        let key = ctx.bytes(1)
        guard let meta = try ctx.keyspace.collection(key, .list, read: false) else { return ctx.ok() }
        let llen = meta.count
        if start < 0 { start = llen + start }
        if end < 0 { end = llen + end }
        if start < 0 { start = 0 }
        let ltrim: Int, rtrim: Int
        if start > end || start >= llen {
            ltrim = llen
            rtrim = 0
        } else {
            if end >= llen { end = llen - 1 }
            ltrim = start
            rtrim = llen - end - 1
        }
        if ltrim + rtrim > 0 {
            try ctx.keyspace.update(key, kind: .list) { (stored: inout StoredValue?) in
                guard case .list(var l)? = stored else { return }
                stored = nil
                if ltrim + rtrim >= l.count {
                    return
                }
                l.removeFirst(ltrim)
                l.removeLast(rtrim)
                stored = .list(l)
            }
        } else {
            // Nothing removed: Redis still signals the key (WATCH) and fires the event, without dirtying.
            ctx.server.keyModified(db: ctx.client.db, key: key)
        }
        ctx.notify(.list, "ltrim", key)
        ctx.notifyIfEmptied(key)
        ctx.ok()
    }
}
