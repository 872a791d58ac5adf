import NIOCore
import RESP
import TernStorage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The sorted set commands of Redis 7.0 (t_zset.c), except the blocking BZPOPMIN BZPOPMAX BZMPOP:
/// ZADD ZINCRBY ZREM ZCARD ZSCORE ZMSCORE ZCOUNT ZLEXCOUNT ZRANGE ZRANGESTORE ZRANGEBYSCORE ZREVRANGEBYSCORE
/// ZRANGEBYLEX ZREVRANGEBYLEX ZREVRANGE ZRANK ZREVRANK ZPOPMIN ZPOPMAX ZMPOP ZREMRANGEBYRANK ZREMRANGEBYSCORE
/// ZREMRANGEBYLEX ZUNION ZINTER ZDIFF ZUNIONSTORE ZINTERSTORE ZDIFFSTORE ZINTERCARD ZRANDMEMBER ZSCAN.
enum SortedSetCommands {
    static var specs: [CommandSpec] {
        let acl = ["sortedset"]
        let logN = "O(log(N)) with N being the number of elements in the sorted set."
        return [
            CommandSpec("zadd", arity: -4, flags: [.write, .denyoom, .fast], keys: .single, group: "sorted-set",
                        summary: "Add one or more members to a sorted set, or update its score if it already exists",
                        since: "1.2.0",
                        complexity: "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
                        acl: acl, arguments: ["key", "[NX|XX]", "[GT|LT]", "[CH]", "[INCR]", "score member [score member ...]"]) { ctx in
                try zadd(ctx, incr: false)
            },
            CommandSpec("zincrby", arity: 4, flags: [.write, .denyoom, .fast], keys: .single, group: "sorted-set",
                        summary: "Increment the score of a member in a sorted set", since: "1.2.0", complexity: "O(log(N)) where N is the number of elements in the sorted set.",
                        acl: acl, arguments: ["key", "increment", "member"]) { ctx in try zadd(ctx, incr: true) },
            CommandSpec("zrem", arity: -3, flags: [.write, .fast], keys: .single, group: "sorted-set",
                        summary: "Remove one or more members from a sorted set", since: "1.2.0",
                        complexity: "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.",
                        acl: acl, arguments: ["key", "member [member ...]"], handler: zrem),
            CommandSpec("zcard", arity: 2, flags: [.readonly, .fast], keys: .single, group: "sorted-set",
                        summary: "Get the number of members in a sorted set", since: "1.2.0", acl: acl,
                        arguments: ["key"], handler: zcard),
            CommandSpec("zscore", arity: 3, flags: [.readonly, .fast], keys: .single, group: "sorted-set",
                        summary: "Get the score associated with the given member in a sorted set", since: "1.2.0",
                        acl: acl, arguments: ["key", "member"], handler: zscore),
            CommandSpec("zmscore", arity: -3, flags: [.readonly, .fast], keys: .single, group: "sorted-set",
                        summary: "Get the score associated with the given members in a sorted set", since: "6.2.0",
                        complexity: "O(N) where N is the number of members being requested.", acl: acl,
                        arguments: ["key", "member [member ...]"], handler: zmscore),
            CommandSpec("zcount", arity: 4, flags: [.readonly, .fast], keys: .single, group: "sorted-set",
                        summary: "Count the members in a sorted set with scores within the given values", since: "2.0.0",
                        complexity: logN, acl: acl, arguments: ["key", "min", "max"], handler: zcount),
            CommandSpec("zlexcount", arity: 4, flags: [.readonly, .fast], keys: .single, group: "sorted-set",
                        summary: "Count the number of members in a sorted set between a given lexicographical range",
                        since: "2.8.9", complexity: logN, acl: acl, arguments: ["key", "min", "max"], handler: zlexcount),
            CommandSpec("zrange", arity: -4, flags: [.readonly], keys: .single, group: "sorted-set",
                        summary: "Return a range of members in a sorted set", since: "1.2.0",
                        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
                        acl: acl, arguments: ["key", "start", "stop", "[BYSCORE|BYLEX]", "[REV]", "[LIMIT offset count]", "[WITHSCORES]"]) { ctx in
                try zrangeGeneric(ctx, keyIndex: 1, store: false, type: .auto, direction: .auto)
            },
            CommandSpec("zrangestore", arity: -5, flags: [.write, .denyoom], keys: KeyPositions(first: 1, last: 2, step: 1),
                        group: "sorted-set", summary: "Store a range of members from sorted set into another key",
                        since: "6.2.0",
                        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.",
                        acl: acl, arguments: ["dst", "src", "min", "max", "[BYSCORE|BYLEX]", "[REV]", "[LIMIT offset count]"]) { ctx in
                try zrangeGeneric(ctx, keyIndex: 2, store: true, type: .auto, direction: .auto)
            },
            CommandSpec("zrangebyscore", arity: -4, flags: [.readonly], keys: .single, group: "sorted-set",
                        summary: "Return a range of members in a sorted set, by score", since: "1.0.5",
                        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
                        acl: acl, arguments: ["key", "min", "max", "[WITHSCORES]", "[LIMIT offset count]"]) { ctx in
                try zrangeGeneric(ctx, keyIndex: 1, store: false, type: .score, direction: .forward)
            },
            CommandSpec("zrevrangebyscore", arity: -4, flags: [.readonly], keys: .single, group: "sorted-set",
                        summary: "Return a range of members in a sorted set, by score, with scores ordered from high to low",
                        since: "2.2.0",
                        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
                        acl: acl, arguments: ["key", "max", "min", "[WITHSCORES]", "[LIMIT offset count]"]) { ctx in
                try zrangeGeneric(ctx, keyIndex: 1, store: false, type: .score, direction: .reverse)
            },
            CommandSpec("zrangebylex", arity: -4, flags: [.readonly], keys: .single, group: "sorted-set",
                        summary: "Return a range of members in a sorted set, by lexicographical range", since: "2.8.9",
                        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
                        acl: acl, arguments: ["key", "min", "max", "[LIMIT offset count]"]) { ctx in
                try zrangeGeneric(ctx, keyIndex: 1, store: false, type: .lex, direction: .forward)
            },
            CommandSpec("zrevrangebylex", arity: -4, flags: [.readonly], keys: .single, group: "sorted-set",
                        summary: "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.",
                        since: "2.8.9",
                        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
                        acl: acl, arguments: ["key", "max", "min", "[LIMIT offset count]"]) { ctx in
                try zrangeGeneric(ctx, keyIndex: 1, store: false, type: .lex, direction: .reverse)
            },
            CommandSpec("zrevrange", arity: -4, flags: [.readonly], keys: .single, group: "sorted-set",
                        summary: "Return a range of members in a sorted set, by index, with scores ordered from high to low",
                        since: "1.2.0",
                        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
                        acl: acl, arguments: ["key", "start", "stop", "[WITHSCORES]"]) { ctx in
                try zrangeGeneric(ctx, keyIndex: 1, store: false, type: .rank, direction: .reverse)
            },
            CommandSpec("zrank", arity: 3, flags: [.readonly, .fast], keys: .single, group: "sorted-set",
                        summary: "Determine the index of a member in a sorted set", since: "2.0.0", complexity: "O(log(N))",
                        acl: acl, arguments: ["key", "member"]) { ctx in try zrank(ctx, reverse: false) },
            CommandSpec("zrevrank", arity: 3, flags: [.readonly, .fast], keys: .single, group: "sorted-set",
                        summary: "Determine the index of a member in a sorted set, with scores ordered from high to low",
                        since: "2.0.0", complexity: "O(log(N))", acl: acl,
                        arguments: ["key", "member"]) { ctx in try zrank(ctx, reverse: true) },
            CommandSpec("zpopmin", arity: -2, flags: [.write, .fast], keys: .single, group: "sorted-set",
                        summary: "Remove and return members with the lowest scores in a sorted set", since: "5.0.0",
                        complexity: "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
                        acl: acl, arguments: ["key", "[count]"]) { ctx in try zpopMinMax(ctx, max: false) },
            CommandSpec("zpopmax", arity: -2, flags: [.write, .fast], keys: .single, group: "sorted-set",
                        summary: "Remove and return members with the highest scores in a sorted set", since: "5.0.0",
                        complexity: "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
                        acl: acl, arguments: ["key", "[count]"]) { ctx in try zpopMinMax(ctx, max: true) },
            CommandSpec("zmpop", arity: -4, flags: [.write], group: "sorted-set",
                        summary: "Remove and return members with scores in a sorted set", since: "7.0.0",
                        complexity: "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
                        acl: acl, arguments: ["numkeys", "key [key ...]", "MIN|MAX", "[COUNT count]"],
                        keyFinder: { numkeysKeys($0, numkeysIndex: 1) }, handler: zmpop),
            CommandSpec("zremrangebyrank", arity: 4, flags: [.write], keys: .single, group: "sorted-set",
                        summary: "Remove all members in a sorted set within the given indexes", since: "2.0.0",
                        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
                        acl: acl, arguments: ["key", "start", "stop"]) { ctx in try zremrange(ctx, type: .rank) },
            CommandSpec("zremrangebyscore", arity: 4, flags: [.write], keys: .single, group: "sorted-set",
                        summary: "Remove all members in a sorted set within the given scores", since: "1.2.0",
                        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
                        acl: acl, arguments: ["key", "min", "max"]) { ctx in try zremrange(ctx, type: .score) },
            CommandSpec("zremrangebylex", arity: 4, flags: [.write], keys: .single, group: "sorted-set",
                        summary: "Remove all members in a sorted set between the given lexicographical range", since: "2.8.9",
                        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
                        acl: acl, arguments: ["key", "min", "max"]) { ctx in try zremrange(ctx, type: .lex) },
            CommandSpec("zunion", arity: -3, flags: [.readonly], group: "sorted-set", summary: "Add multiple sorted sets",
                        since: "6.2.0",
                        complexity: "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
                        acl: acl, arguments: ["numkeys", "key [key ...]", "[WEIGHTS weight [weight ...]]", "[AGGREGATE SUM|MIN|MAX]", "[WITHSCORES]"],
                        keyFinder: { numkeysKeys($0, numkeysIndex: 1) }) { ctx in
                try setOperation(ctx, destination: false, op: .union)
            },
            CommandSpec("zinter", arity: -3, flags: [.readonly], group: "sorted-set", summary: "Intersect multiple sorted sets",
                        since: "6.2.0",
                        complexity: "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
                        acl: acl, arguments: ["numkeys", "key [key ...]", "[WEIGHTS weight [weight ...]]", "[AGGREGATE SUM|MIN|MAX]", "[WITHSCORES]"],
                        keyFinder: { numkeysKeys($0, numkeysIndex: 1) }) { ctx in
                try setOperation(ctx, destination: false, op: .inter)
            },
            CommandSpec("zdiff", arity: -3, flags: [.readonly], group: "sorted-set", summary: "Subtract multiple sorted sets",
                        since: "6.2.0",
                        complexity: "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
                        acl: acl, arguments: ["numkeys", "key [key ...]", "[WITHSCORES]"],
                        keyFinder: { numkeysKeys($0, numkeysIndex: 1) }) { ctx in
                try setOperation(ctx, destination: false, op: .diff)
            },
            CommandSpec("zunionstore", arity: -4, flags: [.write, .denyoom], keys: .single, group: "sorted-set",
                        summary: "Add multiple sorted sets and store the resulting sorted set in a new key", since: "2.0.0",
                        complexity: "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
                        acl: acl, arguments: ["destination", "numkeys", "key [key ...]", "[WEIGHTS weight [weight ...]]", "[AGGREGATE SUM|MIN|MAX]"],
                        keyFinder: { [1] + numkeysKeys($0, numkeysIndex: 2) }) { ctx in
                try setOperation(ctx, destination: true, op: .union)
            },
            CommandSpec("zinterstore", arity: -4, flags: [.write, .denyoom], keys: .single, group: "sorted-set",
                        summary: "Intersect multiple sorted sets and store the resulting sorted set in a new key",
                        since: "2.0.0",
                        complexity: "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
                        acl: acl, arguments: ["destination", "numkeys", "key [key ...]", "[WEIGHTS weight [weight ...]]", "[AGGREGATE SUM|MIN|MAX]"],
                        keyFinder: { [1] + numkeysKeys($0, numkeysIndex: 2) }) { ctx in
                try setOperation(ctx, destination: true, op: .inter)
            },
            CommandSpec("zdiffstore", arity: -4, flags: [.write, .denyoom], keys: .single, group: "sorted-set",
                        summary: "Subtract multiple sorted sets and store the resulting sorted set in a new key",
                        since: "6.2.0",
                        complexity: "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
                        acl: acl, arguments: ["destination", "numkeys", "key [key ...]"],
                        keyFinder: { [1] + numkeysKeys($0, numkeysIndex: 2) }) { ctx in
                try setOperation(ctx, destination: true, op: .diff)
            },
            CommandSpec("zintercard", arity: -3, flags: [.readonly], group: "sorted-set",
                        summary: "Intersect multiple sorted sets and return the cardinality of the result", since: "7.0.0",
                        complexity: "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
                        acl: acl, arguments: ["numkeys", "key [key ...]", "[LIMIT limit]"],
                        keyFinder: { numkeysKeys($0, numkeysIndex: 1) }) { ctx in
                try setOperation(ctx, destination: false, op: .inter, cardinalityOnly: true)
            },
            CommandSpec("zrandmember", arity: -2, flags: [.readonly], keys: .single, group: "sorted-set",
                        summary: "Get one or multiple random elements from a sorted set", since: "6.2.0",
                        complexity: "O(N) where N is the number of elements returned", acl: acl,
                        arguments: ["key", "[count [WITHSCORES]]"], handler: zrandmember),
            CommandSpec("zscan", arity: -3, flags: [.readonly], keys: .single, group: "sorted-set",
                        summary: "Incrementally iterate sorted sets elements and associated scores", since: "2.8.0",
                        complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
                        acl: acl, arguments: ["key", "cursor", "[MATCH pattern]", "[COUNT count]"], handler: zscan),
        ]
    }

    /// Key positions of a `numkeys key [key ...]` form: the keys after the count, none when it's not a number.
    static func numkeysKeys(_ args: [ByteBuffer], numkeysIndex: Int) -> [Int] {
        guard numkeysIndex < args.count,
              let n = args[numkeysIndex].withUnsafeReadableBytes({ RESPNumber.parseInt64($0) }), n > 0 else { return [] }
        let first = numkeysIndex + 1
        let last = min(args.count - 1, numkeysIndex + Int(n))
        return first <= last ? Array(first...last) : []
    }

    // MARK: errors

    static let nanError = CommandError.err("resulting score is not a number (NaN)")
    static let notFloatRange = CommandError.err("min or max is not a float")
    static let notLexRange = CommandError.err("min or max not valid string range item")
    static let notPositive = CommandError.err("value is out of range, must be positive")

    // MARK: parsing

    /// Compares an option with an ASCII word as Redis does (strcasecmp on the C string).
    static func option(_ ctx: CommandContext, _ i: Int, is word: StaticString) -> Bool {
        StringCommands.option(ctx, i, is: word)
    }

    /// `strtod` over the argument read as a C string (up to its first NUL), as zslParseRange does: leading
    /// spaces and an empty string (0) are accepted; trailing garbage and NaN are not.
    static func strtodWhole(_ bytes: UnsafeRawBufferPointer) -> Double? {
        var n = bytes.count
        if let nul = bytes.firstIndex(of: 0) { n = nul }
        var chars = [CChar](repeating: 0, count: n + 1)
        for i in 0..<n { chars[i] = CChar(bitPattern: bytes[i]) }
        return chars.withUnsafeMutableBufferPointer { p -> Double? in
            var end: UnsafeMutablePointer<CChar>? = nil
            let d = strtod(p.baseAddress!, &end)
            guard let e = end, e.pointee == 0, !d.isNaN else { return nil }
            return d
        }
    }

    /// `zslParseRange`'s half: "(1.5" is exclusive.
    static func scoreBound(_ buffer: ByteBuffer) -> ScoreBound? {
        buffer.withUnsafeReadableBytes { raw -> ScoreBound? in
            if raw.count > 0 && raw[0] == UInt8(ascii: "(") {
                guard let d = strtodWhole(UnsafeRawBufferPointer(rebasing: raw[1...])) else { return nil }
                return ScoreBound(d, exclusive: true)
            }
            guard let d = strtodWhole(raw) else { return nil }
            return ScoreBound(d)
        }
    }

    static func scoreRange(_ ctx: CommandContext, _ minIndex: Int, _ maxIndex: Int) throws -> (ScoreBound, ScoreBound) {
        guard let min = scoreBound(ctx.arguments[minIndex]), let max = scoreBound(ctx.arguments[maxIndex]) else {
            throw notFloatRange
        }
        return (min, max)
    }

    /// `zslParseLexRangeItem`: "-" and "+" alone, "[x" inclusive, "(x" exclusive.
    static func lexBound(_ buffer: ByteBuffer) -> LexBound? {
        let bytes = Array(buffer.readableBytesView)
        guard let first = bytes.first else { return nil }
        switch first {
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            // Redis checks the next C character: anything but the terminator is an error.
            if bytes.count > 1 && bytes[1] != 0 { return nil }
            return first == UInt8(ascii: "+") ? .positiveInfinity : .negativeInfinity
        case UInt8(ascii: "("):
            return .exclusive(Bytes(Array(bytes[1...])))
        case UInt8(ascii: "["):
            return .inclusive(Bytes(Array(bytes[1...])))
        default:
            return nil
        }
    }

    static func lexRange(_ ctx: CommandContext, _ minIndex: Int, _ maxIndex: Int) throws -> (LexBound, LexBound) {
        guard let min = lexBound(ctx.arguments[minIndex]), let max = lexBound(ctx.arguments[maxIndex]) else {
            throw notLexRange
        }
        return (min, max)
    }

    /// `getPositiveLongFromObjectOrReply`.
    static func positiveInt(_ ctx: CommandContext, _ i: Int, error: CommandError = notPositive) throws -> Int {
        let v = try ctx.int(i, error: error)
        if v < 0 { throw error }
        return v
    }

    // MARK: replies

    /// Members, with scores when asked: a flat array in RESP2, [member, score] pairs in RESP3.
    static func replyEntries(_ ctx: CommandContext, _ entries: [(member: Bytes, score: Double)], withScores: Bool) {
        let pairs = withScores && ctx.resp == .resp3
        ctx.arrayHeader(withScores && !pairs ? entries.count * 2 : entries.count)
        for e in entries {
            if pairs { ctx.arrayHeader(2) }
            ctx.bulk(e.member)
            if withScores { ctx.double(e.score) }
        }
    }

    // MARK: ZADD ZINCRBY

    /// `zaddGenericCommand`: ZADD and ZINCRBY (which is ZADD with INCR and parses the same options).
    static func zadd(_ ctx: CommandContext, incr incrCommand: Bool) throws {
        var nx = false, xx = false, gt = false, lt = false, ch = false, incr = incrCommand
        var scoreIndex = 2
        while scoreIndex < ctx.argc {
            if option(ctx, scoreIndex, is: "nx") { nx = true }
            else if option(ctx, scoreIndex, is: "xx") { xx = true }
            else if option(ctx, scoreIndex, is: "ch") { ch = true }
            else if option(ctx, scoreIndex, is: "incr") { incr = true }
            else if option(ctx, scoreIndex, is: "gt") { gt = true }
            else if option(ctx, scoreIndex, is: "lt") { lt = true }
            else { break }
            scoreIndex += 1
        }
        let arguments = ctx.argc - scoreIndex
        if arguments % 2 != 0 || arguments == 0 { throw CommandError.syntax }
        let elements = arguments / 2
        if nx && xx { throw CommandError.err("XX and NX options at the same time are not compatible") }
        if (gt && nx) || (lt && nx) || (gt && lt) {
            throw CommandError.err("GT, LT, and/or NX options at the same time are not compatible")
        }
        if incr && elements > 1 { throw CommandError.err("INCR option supports a single increment-element pair") }

        var scores: [Double] = []
        var members: [Bytes] = []
        scores.reserveCapacity(elements)
        members.reserveCapacity(elements)
        for j in 0..<elements {
            scores.append(try ctx.double(scoreIndex + 2 * j))
            members.append(ctx.bytes(scoreIndex + 2 * j + 1))
        }

        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        let existing = try keyspace.collection(key, .zset, read: false)
        let exists = existing != nil
        var added = 0, updated = 0, processed = 0
        var lastScore = 0.0
        // A sorted set Redis keeps as a listpack stores a score of -0 as the integer 0.
        let limits = ctx.server.config.encodingLimits
        let compact = existing?.encoding != .converted && (existing?.count ?? 0) + elements <= limits.zsetMaxListpackEntries
            && members.allSatisfy { $0.count <= limits.zsetMaxListpackValue }
        if exists || !xx {
            let current = exists ? try keyspace.zsetScores(key, members, read: false) : members.map { _ in nil }
            var pending: [Bytes: Double] = [:]
            var writes: [(Bytes, Double)] = []
            for j in 0..<elements {
                let member = members[j]
                var score = scores[j]
                if let cur = pending[member] ?? current[j] {
                    if nx { continue }
                    if incr {
                        score += cur
                        if score.isNaN { throw nanError }
                    }
                    if (lt && score >= cur) || (gt && score <= cur) { continue }
                    lastScore = score
                    processed += 1
                    if score != cur {
                        updated += 1
                        pending[member] = score
                        writes.append((member, compact ? score + 0.0 : score))
                    }
                } else if !xx {
                    lastScore = score
                    processed += 1
                    added += 1
                    pending[member] = score
                    writes.append((member, compact ? score + 0.0 : score))
                }
            }
            if !writes.isEmpty {
                _ = try keyspace.zsetAdd(key, writes)
                ctx.notify(.zset, incr ? "zincr" : "zadd", key)
            }
        }
        if incr {
            if processed > 0 { ctx.double(lastScore) } else { ctx.null() }
        } else {
            ctx.integer(ch ? added + updated : added)
        }
    }

    // MARK: simple reads and writes

    static func zrem(_ ctx: CommandContext) throws {
        let members = (2..<ctx.argc).map { ctx.bytes($0) }
        let key = ctx.bytes(1)
        let removed = try ctx.keyspace.zsetRemove(key, members)
        if removed > 0 {
            ctx.notify(.zset, "zrem", key)
            ctx.notifyIfEmptied(key)
        }
        ctx.integer(removed)
    }

    static func zcard(_ ctx: CommandContext) throws {
        ctx.integer(try ctx.keyspace.collection(ctx.bytes(1), .zset)?.count ?? 0)
    }

    static func zscore(_ ctx: CommandContext) throws {
        if let score = try ctx.keyspace.zsetScore(ctx.bytes(1), ctx.bytes(2)) { ctx.double(score) } else { ctx.null() }
    }

    static func zmscore(_ ctx: CommandContext) throws {
        let members = (2..<ctx.argc).map { ctx.bytes($0) }
        let scores = try ctx.keyspace.zsetScores(ctx.bytes(1), members, read: true)
        ctx.arrayHeader(scores.count)
        for s in scores {
            if let s { ctx.double(s) } else { ctx.null() }
        }
    }

    static func zcount(_ ctx: CommandContext) throws {
        let (min, max) = try scoreRange(ctx, 2, 3)
        ctx.integer(try ctx.keyspace.zsetCountByScore(ctx.bytes(1), min: min, max: max))
    }

    static func zlexcount(_ ctx: CommandContext) throws {
        let (min, max) = try lexRange(ctx, 2, 3)
        ctx.integer(try ctx.keyspace.zsetCountByLex(ctx.bytes(1), min: min, max: max))
    }

    static func zrank(_ ctx: CommandContext, reverse: Bool) throws {
        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        guard let meta = try keyspace.collection(key, .zset), let rank = try keyspace.zsetRank(key, ctx.bytes(2)) else {
            ctx.null()
            return
        }
        ctx.integer(reverse ? meta.count - 1 - rank : rank)
    }

    // MARK: ZRANGE family

    enum RangeType { case auto, rank, score, lex }
    enum Direction { case auto, forward, reverse }

    /// `zrangeGenericCommand`: ZRANGE, ZRANGESTORE and the older Z[REV]RANGE[BYSCORE|BYLEX] forms.
    static func zrangeGeneric(_ ctx: CommandContext, keyIndex: Int, store: Bool, type initialType: RangeType,
                              direction initialDirection: Direction) throws {
        var type = initialType, direction = initialDirection
        var withScores = false
        var offset = 0, limit = -1
        var j = keyIndex + 3
        while j < ctx.argc {
            let left = ctx.argc - j - 1
            if !store && option(ctx, j, is: "withscores") {
                withScores = true
            } else if option(ctx, j, is: "limit") && left >= 2 {
                offset = try ctx.int(j + 1)
                limit = try ctx.int(j + 2)
                j += 2
            } else if direction == .auto && option(ctx, j, is: "rev") {
                direction = .reverse
            } else if type == .auto && option(ctx, j, is: "bylex") {
                type = .lex
            } else if type == .auto && option(ctx, j, is: "byscore") {
                type = .score
            } else {
                throw CommandError.syntax
            }
            j += 1
        }
        if direction == .auto { direction = .forward }
        if type == .auto { type = .rank }
        if limit != -1 && type == .rank {
            throw CommandError.err("syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
        }
        if withScores && type == .lex {
            throw CommandError.err("syntax error, WITHSCORES not supported in combination with BYLEX")
        }
        let reverse = direction == .reverse
        var minIndex = keyIndex + 1, maxIndex = keyIndex + 2
        if reverse && type != .rank { swap(&minIndex, &maxIndex) }

        var start = 0, end = 0
        var scoreBounds = (ScoreBound.negativeInfinity, ScoreBound.positiveInfinity)
        var lexBounds = (LexBound.negativeInfinity, LexBound.positiveInfinity)
        switch type {
        case .rank, .auto:
            start = try ctx.int(minIndex)
            end = try ctx.int(maxIndex)
        case .score:
            scoreBounds = try scoreRange(ctx, minIndex, maxIndex)
        case .lex:
            lexBounds = try lexRange(ctx, minIndex, maxIndex)
        }

        let key = ctx.bytes(keyIndex)
        let keyspace = ctx.keyspace
        guard let meta = try keyspace.collection(key, .zset) else {
            if store { try storeResult(ctx, SortedSetValue()) } else { ctx.arrayHeader(0) }
            return
        }
        // Redis walks `offset` entries and stops at the end: a negative offset walks off the end; a negative
        // limit means no limit.
        let maxCount: Int? = limit < 0 ? nil : limit
        var result: [(member: Bytes, score: Double)] = []
        switch type {
        case .rank, .auto:
            let count = meta.count
            if reverse {
                if let (s, e) = Keyspace.normalize(start, end, count: count) {
                    result = try keyspace.zsetRange(key, count - 1 - e, count - 1 - s).reversed()
                }
            } else {
                result = try keyspace.zsetRange(key, start, end)
            }
        case .score:
            if offset >= 0 {
                result = try keyspace.zsetRangeByScore(key, min: scoreBounds.0, max: scoreBounds.1, reverse: reverse,
                                                       offset: offset, limit: maxCount)
            }
        case .lex:
            if offset >= 0 {
                result = try keyspace.zsetRangeByLex(key, min: lexBounds.0, max: lexBounds.1, reverse: reverse,
                                                     offset: offset, limit: maxCount)
            }
        }
        if store {
            var z = SortedSetValue()
            for e in result { z.set(e.member, score: e.score) }
            try storeResult(ctx, z)
        } else {
            replyEntries(ctx, result, withScores: withScores)
        }
    }

    /// The *STORE commands' ending: a non-empty result replaces the destination (dropping its TTL); an empty
    /// one deletes it. Replies with the result's size.
    static func storeResult(_ ctx: CommandContext, _ result: SortedSetValue) throws {
        let destination = ctx.bytes(1)
        var z = result
        // Stored as a listpack by Redis when small, where a score of -0 becomes the integer 0.
        let limits = ctx.server.config.encodingLimits
        if z.count <= limits.zsetMaxListpackEntries && !z.scores.keys.contains(where: { $0.count > limits.zsetMaxListpackValue }) {
            for (member, score) in z.scores where score == 0 && score.sign == .minus {
                z.remove(member)
                z.set(member, score: 0)
            }
        }
        if z.isEmpty {
            if ctx.keyspace.delete(destination) { ctx.notify(.generic, "del", destination) }
            ctx.integer(0)
        } else {
            ctx.keyspace.store(destination, .zset(z), expiry: .clear)
            switch ctx.spec.name {
            case "zunionstore": ctx.notify(.zset, "zunionstore", destination)
            case "zinterstore": ctx.notify(.zset, "zinterstore", destination)
            case "zdiffstore": ctx.notify(.zset, "zdiffstore", destination)
            default: ctx.notify(.zset, "zrangestore", destination)
            }
            ctx.integer(z.count)
        }
    }

    // MARK: ZREMRANGEBY*

    static func zremrange(_ ctx: CommandContext, type: RangeType) throws {
        var start = 0, end = 0
        var scoreBounds = (ScoreBound.negativeInfinity, ScoreBound.positiveInfinity)
        var lexBounds = (LexBound.negativeInfinity, LexBound.positiveInfinity)
        switch type {
        case .rank, .auto:
            start = try ctx.int(2)
            end = try ctx.int(3)
        case .score:
            scoreBounds = try scoreRange(ctx, 2, 3)
        case .lex:
            lexBounds = try lexRange(ctx, 2, 3)
        }
        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        guard let meta = try keyspace.collection(key, .zset, read: false) else {
            ctx.integer(0)
            return
        }
        let doomed: [(member: Bytes, score: Double)]
        switch type {
        case .rank, .auto:
            guard let (s, e) = Keyspace.normalize(start, end, count: meta.count) else {
                ctx.integer(0)
                return
            }
            doomed = keyspace.database.zsetRange(key, s, e)
        case .score:
            doomed = keyspace.database.zsetRangeByScore(key, min: scoreBounds.0, max: scoreBounds.1, reverse: false,
                                                        offset: 0, limit: nil)
        case .lex:
            doomed = keyspace.database.zsetRangeByLex(key, min: lexBounds.0, max: lexBounds.1, reverse: false,
                                                      offset: 0, limit: nil)
        }
        let removed = doomed.isEmpty ? 0 : try keyspace.zsetRemove(key, doomed.map(\.member))
        if removed > 0 {
            switch type {
            case .rank, .auto: ctx.notify(.zset, "zremrangebyrank", key)
            case .score: ctx.notify(.zset, "zremrangebyscore", key)
            case .lex: ctx.notify(.zset, "zremrangebylex", key)
            }
            ctx.notifyIfEmptied(key)
        }
        ctx.integer(removed)
    }

    // MARK: ZPOPMIN ZPOPMAX ZMPOP

    static func zpopMinMax(_ ctx: CommandContext, max: Bool) throws {
        if ctx.argc > 3 { throw CommandError.syntax }
        var count = -1
        if ctx.argc == 3 { count = try positiveInt(ctx, 2) }
        // RESP3 nests [member, score] pairs when a count was given.
        _ = try pop(ctx, keys: [ctx.bytes(1)], max: max, count: count, emitKey: false,
                    nested: ctx.resp == .resp3 && count != -1, nilWhenEmpty: false)
    }

    /// `genericZpopCommand`: pops from the first non-empty sorted set among `keys` (WRONGTYPE stops at the
    /// first key of another kind), replying as ZPOPMIN/ZPOPMAX (`emitKey` false), BZPOPMIN/BZPOPMAX (`emitKey`
    /// true, flat) or ZMPOP/BZMPOP (`emitKey` and `nested`). `count` -1 is the plain single pop.
    /// Returns the key popped from and how many elements were popped, nil when none was found.
    @discardableResult
    static func pop(_ ctx: CommandContext, keys: [Bytes], max: Bool, count requested: Int, emitKey: Bool,
                    nested: Bool, nilWhenEmpty: Bool) throws -> (key: Bytes, popped: Int)? {
        let keyspace = ctx.keyspace
        var found: (Bytes, KeyMetadata)? = nil
        for key in keys {
            guard let meta = try keyspace.collection(key, .zset, read: false) else { continue }
            found = (key, meta)
            break
        }
        guard let (key, meta) = found else {
            if nilWhenEmpty { ctx.nullArray() } else { ctx.arrayHeader(0) }
            return nil
        }
        if requested == 0 {
            ctx.arrayHeader(0)
            return nil
        }
        let count = requested == -1 ? 1 : requested
        let n = Swift.min(count, meta.count)
        let entries: [(member: Bytes, score: Double)]
        if max {
            entries = keyspace.database.zsetRange(key, meta.count - n, meta.count - 1).reversed()
        } else {
            entries = keyspace.database.zsetRange(key, 0, n - 1)
        }
        _ = try keyspace.zsetRemove(key, entries.map(\.member))
        ctx.notify(.zset, max ? "zpopmax" : "zpopmin", key)
        ctx.notifyIfEmptied(key)

        switch (nested, emitKey) {
        case (false, false):
            ctx.arrayHeader(n * 2)
        case (true, false):
            ctx.arrayHeader(n)
        case (false, true):
            ctx.arrayHeader(n * 2 + 1)
            ctx.bulk(key)
        case (true, true):
            ctx.arrayHeader(2)
            ctx.bulk(key)
            ctx.arrayHeader(n)
        }
        for e in entries {
            if nested { ctx.arrayHeader(2) }
            ctx.bulk(e.member)
            ctx.double(e.score)
        }
        return (key, n)
    }

    /// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]; propagated as ZPOPMIN/ZPOPMAX key count.
    static func zmpop(_ ctx: CommandContext) throws {
        let numkeys = try ctx.int(1, error: CommandError.err("numkeys should be greater than 0"))
        if numkeys < 1 { throw CommandError.err("numkeys should be greater than 0") }
        let whereIndex = numkeys >= ctx.argc ? ctx.argc : 1 + numkeys + 1
        if whereIndex >= ctx.argc { throw CommandError.syntax }
        let max: Bool
        if option(ctx, whereIndex, is: "min") { max = false }
        else if option(ctx, whereIndex, is: "max") { max = true }
        else { throw CommandError.syntax }
        var count = -1
        var j = whereIndex + 1
        while j < ctx.argc {
            let more = ctx.argc - 1 - j
            if count == -1 && option(ctx, j, is: "count") && more > 0 {
                j += 1
                let countError = CommandError.err("count should be greater than 0")
                count = try ctx.int(j, error: countError)
                if count < 1 { throw countError }
            } else {
                throw CommandError.syntax
            }
            j += 1
        }
        if count == -1 { count = 1 }
        let keys = (2..<whereIndex).map { ctx.bytes($0) }
        if let (key, popped) = try pop(ctx, keys: keys, max: max, count: count, emitKey: true, nested: true,
                                       nilWhenEmpty: true) {
            ctx.propagate([ByteBuffer(string: max ? "ZPOPMAX" : "ZPOPMIN"), ByteBuffer(bytes: key.array),
                           ByteBuffer(string: String(popped))])
        }
    }

    // MARK: ZUNION ZINTER ZDIFF and their STORE forms, ZINTERCARD

    enum SetOperation { case union, inter, diff }

    /// `zunionInterDiffGenericCommand`.
    static func setOperation(_ ctx: CommandContext, destination: Bool, op: SetOperation,
                             cardinalityOnly: Bool = false) throws {
        let numkeysIndex = destination ? 2 : 1
        let setnum = try ctx.int(numkeysIndex)
        if setnum < 1 {
            throw CommandError.err("at least 1 input key is needed for '\(ctx.spec.fullName)' command")
        }
        if setnum > ctx.argc - (numkeysIndex + 1) { throw CommandError.syntax }

        let keyspace = ctx.keyspace
        var sources: [(entries: [(member: Bytes, score: Double)], key: Bytes, weight: Double)] = []
        var j = numkeysIndex + 1
        for _ in 0..<setnum {
            let key = ctx.bytes(j)
            sources.append((try keyspace.zsetOrSetMembers(key) ?? [], key, 1.0))
            j += 1
        }

        var aggregate = "sum"
        var withScores = false
        var limit = 0
        var remaining = ctx.argc - j
        while remaining > 0 {
            if op != .diff && !cardinalityOnly && remaining >= setnum + 1 && option(ctx, j, is: "weights") {
                j += 1; remaining -= 1
                for i in 0..<setnum {
                    guard let w = RedisNumber.parseDouble(ctx.arguments[j]) else {
                        throw CommandError.err("weight value is not a float")
                    }
                    sources[i].weight = w
                    j += 1; remaining -= 1
                }
            } else if op != .diff && !cardinalityOnly && remaining >= 2 && option(ctx, j, is: "aggregate") {
                j += 1; remaining -= 1
                if option(ctx, j, is: "sum") { aggregate = "sum" }
                else if option(ctx, j, is: "min") { aggregate = "min" }
                else if option(ctx, j, is: "max") { aggregate = "max" }
                else { throw CommandError.syntax }
                j += 1; remaining -= 1
            } else if remaining >= 1 && !destination && !cardinalityOnly && option(ctx, j, is: "withscores") {
                j += 1; remaining -= 1
                withScores = true
            } else if cardinalityOnly && remaining >= 2 && option(ctx, j, is: "limit") {
                j += 1; remaining -= 1
                limit = try positiveInt(ctx, j, error: CommandError.err("LIMIT can't be negative"))
                j += 1; remaining -= 1
            } else {
                throw CommandError.syntax
            }
        }

        func combine(_ target: inout Double, _ value: Double) {
            switch aggregate {
            case "sum":
                target += value
                // +inf + -inf is NaN: Redis keeps the convention of 0.
                if target.isNaN { target = 0 }
            // As Redis compares: on a tie (0 and -0) the value already there stays.
            case "min": target = value < target ? value : target
            default: target = value > target ? value : target
            }
        }
        func weighted(_ score: Double, _ weight: Double) -> Double {
            let s = score * weight
            return s.isNaN ? 0 : s
        }

        if op != .diff {
            // Smallest first, as Redis sorts the inputs by cardinality.
            sources = sources.enumerated().sorted {
                ($0.element.entries.count, $0.offset) < ($1.element.entries.count, $1.offset)
            }.map(\.element)
        }

        var result = SortedSetValue()
        var cardinality = 0
        switch op {
        case .inter:
            if !sources[0].entries.isEmpty {
                let lookups: [[Bytes: Double]] = sources.dropFirst().map { src in
                    Dictionary(src.entries.map { ($0.member, $0.score) }, uniquingKeysWith: { a, _ in a })
                }
                // Redis walks the first input from its highest element down.
                outer: for e in sources[0].entries.reversed() {
                    var score = weighted(e.score, sources[0].weight)
                    for (i, table) in lookups.enumerated() {
                        guard let value = table[e.member] else { continue outer }
                        combine(&score, value * sources[i + 1].weight)
                    }
                    if cardinalityOnly {
                        cardinality += 1
                        if limit > 0 && cardinality >= limit { break }
                    } else {
                        result.set(e.member, score: score)
                    }
                }
            }
        case .union:
            var accumulator: [Bytes: Double] = [:]
            for src in sources {
                for e in src.entries.reversed() {
                    let score = weighted(e.score, src.weight)
                    if let existing = accumulator[e.member] {
                        var t = existing
                        combine(&t, score)
                        accumulator[e.member] = t
                    } else {
                        accumulator[e.member] = score
                    }
                }
            }
            for (member, score) in accumulator { result.set(member, score: score) }
        case .diff:
            if !sources[0].entries.isEmpty && !sources.dropFirst().contains(where: { $0.key == sources[0].key }) {
                let others = sources.dropFirst().map { Set($0.entries.map(\.member)) }
                for e in sources[0].entries where !others.contains(where: { $0.contains(e.member) }) {
                    result.set(e.member, score: e.score)
                }
            }
        }

        if destination {
            try storeResult(ctx, result)
        } else if cardinalityOnly {
            ctx.integer(cardinality)
        } else {
            replyEntries(ctx, result.ordered.map { ($0.member, $0.score) }, withScores: withScores)
        }
    }

    // MARK: ZRANDMEMBER

    static func zrandmember(_ ctx: CommandContext) throws {
        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        guard ctx.argc >= 3 else {
            guard let meta = try keyspace.collection(key, .zset) else {
                ctx.null()
                return
            }
            let rank = Int.random(in: 0..<meta.count)
            ctx.bulk(keyspace.database.zsetRange(key, rank, rank)[0].member)
            return
        }
        // Bounded as 7.0.15 does: -LONG_MAX...LONG_MAX, and half that with scores (the reply doubles).
        let l = try ctx.int(2)
        if l == Int.min {
            throw CommandError.err("value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        }
        if ctx.argc > 4 || (ctx.argc == 4 && !option(ctx, 3, is: "withscores")) { throw CommandError.syntax }
        let withScores = ctx.argc == 4
        if withScores && (l < -(Int.max / 2) || l > Int.max / 2) { throw CommandError.err("value is out of range") }
        guard let meta = try keyspace.collection(key, .zset) else {
            ctx.arrayHeader(0)
            return
        }
        let size = meta.count
        let unique = l >= 0
        let count = l >= 0 ? l : -l
        if count == 0 {
            ctx.arrayHeader(0)
            return
        }
        let pairs = withScores && ctx.resp == .resp3
        func emit(_ member: Bytes, _ score: Double) {
            if pairs { ctx.arrayHeader(2) }
            ctx.bulk(member)
            if withScores { ctx.double(score) }
        }
        func entry(at rank: Int) -> (member: Bytes, score: Double) {
            keyspace.database.zsetRange(key, rank, rank)[0]
        }
        // Negative count (or 1): independent draws, repetitions allowed.
        if !unique || count == 1 {
            if withScores && ctx.resp == .resp2 {
                ctx.arrayHeader(count * 2)
            } else {
                ctx.arrayHeader(count)
            }
            for _ in 0..<count {
                let e = entry(at: Int.random(in: 0..<size))
                emit(e.member, e.score)
            }
            return
        }
        let replySize = Swift.min(count, size)
        ctx.arrayHeader(withScores && ctx.resp == .resp2 ? replySize * 2 : replySize)
        if count >= size {
            // The whole set, walked from the highest element down as Redis's iterator does.
            for e in keyspace.database.zsetRange(key, 0, size - 1).reversed() { emit(e.member, e.score) }
            return
        }
        // Distinct ranks, chosen uniformly.
        var chosen = Set<Int>()
        var order: [Int] = []
        if count * 3 > size {
            var all = Array(0..<size)
            all.shuffle()
            order = Array(all.prefix(count))
        } else {
            while order.count < count {
                let r = Int.random(in: 0..<size)
                if chosen.insert(r).inserted { order.append(r) }
            }
        }
        for r in order {
            let e = entry(at: r)
            emit(e.member, e.score)
        }
    }

    // MARK: ZSCAN

    /// ZSCAN key cursor [MATCH pattern] [COUNT count].
    ///
    /// A sorted set Redis would keep as a listpack (at most 128 members of at most 64 bytes) is returned whole
    /// with cursor 0, in rank order, as Redis does. A larger one is walked in the order of a stable 64-bit hash
    /// of the members: the cursor is the next hash position (+1), so every member present for the whole scan is
    /// returned, and members added or removed meanwhile may or may not be.
    static func zscan(_ ctx: CommandContext) throws {
        guard let cursor = KeyCommands.parseCursor(ctx.bytes(2).array) else {
            throw CommandError.err("invalid cursor")
        }
        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        guard let meta = try keyspace.collection(key, .zset) else {
            ctx.arrayHeader(2)
            ctx.bulk("0")
            ctx.arrayHeader(0)
            return
        }
        var count = 10
        var pattern: [UInt8]? = nil
        var i = 3
        while i < ctx.argc {
            let remaining = ctx.argc - i
            if option(ctx, i, is: "count") && remaining >= 2 {
                count = try ctx.int(i + 1)
                if count < 1 { throw CommandError.syntax }
                i += 2
            } else if option(ctx, i, is: "match") && remaining >= 2 {
                let p = ctx.bytes(i + 1).array
                pattern = p == [UInt8(ascii: "*")] ? nil : p
                i += 2
            } else {
                throw CommandError.syntax
            }
        }
        let all = keyspace.database.zsetRange(key, 0, meta.count - 1)
        let limits = ctx.server.config.encodingLimits
        var next: UInt64 = 0
        var batch: [(member: Bytes, score: Double)]
        if ObjectEncoding.isCompact(meta.encoding, derive: {
            all.count <= limits.zsetMaxListpackEntries && !all.contains(where: { $0.member.count > limits.zsetMaxListpackValue })
        }) {
            batch = all
        } else {
            let from = cursor == 0 ? 0 : cursor - 1
            var candidates: [(position: UInt64, entry: (member: Bytes, score: Double))] = []
            for e in all {
                let p = scanPosition(e.member)
                if p >= from { candidates.append((p, e)) }
            }
            candidates.sort { $0.position < $1.position }
            var take = Swift.min(count, candidates.count)
            // Members sharing a position go out together, so the next cursor can't split them.
            while take < candidates.count && take > 0 && candidates[take].position == candidates[take - 1].position {
                take += 1
            }
            batch = candidates.prefix(take).map(\.entry)
            if take < candidates.count { next = candidates[take].position + 1 }
        }
        if let pattern {
            batch = batch.filter { GlobMatch.matches(pattern: pattern, $0.member.array) }
        }
        ctx.arrayHeader(2)
        ctx.bulk(String(next))
        ctx.arrayHeader(batch.count * 2)
        for e in batch {
            ctx.bulk(e.member)
            ctx.bulk(RedisNumber.formatDouble(e.score))
        }
    }

    /// FNV-1a of the member, in 0..<2^63 so that `position + 1` is a valid non-zero cursor.
    static func scanPosition(_ member: Bytes) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for b in member.array { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return h >> 1
    }
}
