import NIOCore
import RESP
import TernStorage

/// BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP. Each first tries its non-blocking form;
/// with nothing to take it parks the client (`ctx.block`) and runs again when a key gets data. A served call
/// propagates its non-blocking effect (BLPOP as LPOP key, BLMOVE as LMOVE, BZPOPMIN as ZPOPMIN key, ...).
/// Inside MULTI/EXEC they never block: they answer as if the timeout had passed.
enum BlockingCommands {
    static let acl = ["list", "blocking"]

    static var specs: [CommandSpec] {
        [
            CommandSpec("blpop", arity: -3, flags: [.write, .noscript, .blocking],
                        keys: KeyPositions(first: 1, last: -2, step: 1), group: "list",
                        summary: "Remove and get the first element in a list, or block until one is available",
                        since: "2.0.0", complexity: "O(N) where N is the number of provided keys.", acl: acl,
                        arguments: ["key [key ...]", "timeout"]) { try pop($0, end: .head) },
            CommandSpec("brpop", arity: -3, flags: [.write, .noscript, .blocking],
                        keys: KeyPositions(first: 1, last: -2, step: 1), group: "list",
                        summary: "Remove and get the last element in a list, or block until one is available",
                        since: "2.0.0", complexity: "O(N) where N is the number of provided keys.", acl: acl,
                        arguments: ["key [key ...]", "timeout"]) { try pop($0, end: .tail) },
            CommandSpec("brpoplpush", arity: 4, flags: [.write, .denyoom, .noscript, .blocking],
                        keys: KeyPositions(first: 1, last: 2, step: 1), group: "list",
                        summary: "Pop an element from a list, push it to another list and return it; or block until one is available",
                        since: "2.2.0", complexity: "O(1)", acl: acl, arguments: ["source", "destination", "timeout"]) { ctx in
                try move(ctx, from: .tail, to: .head, timeoutIndex: 3, legacy: true)
            },
            CommandSpec("blmove", arity: 6, flags: [.write, .denyoom, .noscript, .blocking],
                        keys: KeyPositions(first: 1, last: 2, step: 1), group: "list",
                        summary: "Pop an element from a list, push it to another list and return it; or block until one is available",
                        since: "6.2.0", complexity: "O(1)", acl: acl,
                        arguments: ["source", "destination", "LEFT|RIGHT", "LEFT|RIGHT", "timeout"]) { ctx in
                guard let from = end(ctx, 3), let to = end(ctx, 4) else { throw CommandError.syntax }
                try move(ctx, from: from, to: to, timeoutIndex: 5, legacy: false)
            },
            CommandSpec("blmpop", arity: -5, flags: [.write, .blocking], group: "list",
                        summary: "Pop elements from a list, or block until one is available", since: "7.0.0",
                        complexity: "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
                        acl: acl, arguments: ["timeout", "numkeys", "key [key ...]", "LEFT|RIGHT", "[COUNT count]"],
                        keyFinder: { SortedSetCommands.numkeysKeys($0, numkeysIndex: 2) }, handler: blmpop),
            CommandSpec("bzpopmin", arity: -3, flags: [.write, .noscript, .fast, .blocking],
                        keys: KeyPositions(first: 1, last: -2, step: 1), group: "sorted-set",
                        summary: "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available",
                        since: "5.0.0", complexity: "O(log(N)) with N being the number of elements in the sorted set.",
                        acl: ["sortedset", "blocking"], arguments: ["key [key ...]", "timeout"]) { try zpop($0, max: false) },
            CommandSpec("bzpopmax", arity: -3, flags: [.write, .noscript, .fast, .blocking],
                        keys: KeyPositions(first: 1, last: -2, step: 1), group: "sorted-set",
                        summary: "Remove and return the member with the highest score from one or more sorted sets, or block until one is available",
                        since: "5.0.0", complexity: "O(log(N)) with N being the number of elements in the sorted set.",
                        acl: ["sortedset", "blocking"], arguments: ["key [key ...]", "timeout"]) { try zpop($0, max: true) },
            CommandSpec("bzmpop", arity: -5, flags: [.write, .blocking], group: "sorted-set",
                        summary: "Remove and return members with scores in a sorted set or block until one is available",
                        since: "7.0.0",
                        complexity: "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
                        acl: ["sortedset", "blocking"], arguments: ["timeout", "numkeys", "key [key ...]", "MIN|MAX", "[COUNT count]"],
                        keyFinder: { SortedSetCommands.numkeysKeys($0, numkeysIndex: 2) }, handler: bzmpop),
        ]
    }

    static func end(_ ctx: CommandContext, _ i: Int) -> ListEnd? {
        if ctx.argument(i, is: "LEFT") { return .head }
        if ctx.argument(i, is: "RIGHT") { return .tail }
        return nil
    }

    /// Pops `count` from the first non-empty list among `keys` (events and effects by ListCommands.popFromList);
    /// nil when all are empty.
    static func popFirstList(_ ctx: CommandContext, _ keys: [Bytes], end: ListEnd, count: Int, withCount: Bool) throws
        -> (key: Bytes, values: [Bytes])? {
        for key in keys {
            guard try ctx.keyspace.collection(key, .list, read: false) != nil else { continue }
            let values = try ListCommands.popFromList(ctx, key: key, end: end, count: count, propagateCount: withCount)
            return (key, values)
        }
        return nil
    }

    /// BLPOP / BRPOP key [key ...] timeout
    static func pop(_ ctx: CommandContext, end: ListEnd) throws {
        let timeout = try ctx.blockingTimeout(ctx.argc - 1)
        let keys = (1..<(ctx.argc - 1)).map { ctx.bytes($0) }
        if let (key, values) = try popFirstList(ctx, keys, end: end, count: 1, withCount: false),
           let value = values.first {
            ctx.arrayHeader(2)
            ctx.bulk(key)
            ctx.bulk(value)
            return
        }
        guard ctx.mayBlock else { return ctx.nullArray() }
        ctx.block(on: keys, timeoutMillis: timeout)
    }

    /// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout, BRPOPLPUSH source destination timeout
    static func move(_ ctx: CommandContext, from: ListEnd, to: ListEnd, timeoutIndex: Int, legacy: Bool) throws {
        let timeout = try ctx.blockingTimeout(timeoutIndex)
        let source = ctx.bytes(1)
        if let value = try ListCommands.move(ctx, source: source, destination: ctx.bytes(2), from: from, to: to) {
            return ctx.bulk(value)
        }
        // Redis answers a blocking move inside MULTI with a null bulk (and a timed-out one with a null array).
        guard ctx.mayBlock else { return ctx.null() }
        ctx.block(on: [source], timeoutMillis: timeout)
    }

    /// Parses `numkeys key... WHERE [COUNT n]` starting at `numkeysIndex` (BLMPOP, BZMPOP).
    static func multiKeyArguments(_ ctx: CommandContext, numkeysIndex: Int, wheres: (StaticString, StaticString))
        throws -> (keys: [Bytes], first: Bool, count: Int) {
        let numkeysError = CommandError.err("numkeys should be greater than 0")
        let numkeys = try ctx.int(numkeysIndex, error: numkeysError)
        if numkeys < 1 { throw numkeysError }
        let whereIndex = numkeysIndex + numkeys + 1
        if numkeys > ctx.argc || whereIndex >= ctx.argc { throw CommandError.syntax }
        let first: Bool
        if ctx.argument(whereIndex, is: wheres.0) { first = true }
        else if ctx.argument(whereIndex, is: wheres.1) { first = false }
        else { throw CommandError.syntax }
        var count = -1
        var j = whereIndex + 1
        while j < ctx.argc {
            if count == -1 && ctx.argument(j, is: "COUNT") && j + 1 < ctx.argc {
                let countError = CommandError.err("count should be greater than 0")
                count = try ctx.int(j + 1, error: countError)
                if count < 1 { throw countError }
                j += 2
            } else {
                throw CommandError.syntax
            }
        }
        let keys = ((numkeysIndex + 1)..<whereIndex).map { ctx.bytes($0) }
        return (keys, first, count == -1 ? 1 : count)
    }

    /// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
    static func blmpop(_ ctx: CommandContext) throws {
        let timeout = try ctx.blockingTimeout(1)
        let (keys, left, count) = try multiKeyArguments(ctx, numkeysIndex: 2, wheres: ("LEFT", "RIGHT"))
        let end: ListEnd = left ? .head : .tail
        if let (key, values) = try popFirstList(ctx, keys, end: end, count: count, withCount: true) {
            ctx.arrayHeader(2)
            ctx.bulk(key)
            ctx.arrayHeader(values.count)
            for v in values { ctx.bulk(v) }
            return
        }
        guard ctx.mayBlock else { return ctx.nullArray() }
        ctx.block(on: keys, timeoutMillis: timeout)
    }

    /// The first key among `keys` holding a sorted set (WRONGTYPE for another kind), if any.
    static func firstSortedSet(_ ctx: CommandContext, _ keys: [Bytes]) throws -> Bytes? {
        for key in keys where try ctx.keyspace.collection(key, .zset, read: false) != nil { return key }
        return nil
    }

    /// BZPOPMIN / BZPOPMAX key [key ...] timeout
    static func zpop(_ ctx: CommandContext, max: Bool) throws {
        let timeout = try ctx.blockingTimeout(ctx.argc - 1)
        let keys = (1..<(ctx.argc - 1)).map { ctx.bytes($0) }
        if let key = try firstSortedSet(ctx, keys) {
            _ = try SortedSetCommands.pop(ctx, keys: [key], max: max, count: -1, emitKey: true, nested: false,
                                          nilWhenEmpty: true)
            ctx.propagate([ByteBuffer(string: max ? "ZPOPMAX" : "ZPOPMIN"), ByteBuffer(bytes: key.array)])
            return
        }
        guard ctx.mayBlock else { return ctx.nullArray() }
        ctx.block(on: keys, timeoutMillis: timeout)
    }

    /// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
    static func bzmpop(_ ctx: CommandContext) throws {
        // Redis 7.0 checks numkeys, MIN|MAX and COUNT before the timeout here (BLMPOP: the timeout first).
        let (keys, min, count) = try multiKeyArguments(ctx, numkeysIndex: 2, wheres: ("MIN", "MAX"))
        let timeout = try ctx.blockingTimeout(1)
        if let key = try firstSortedSet(ctx, keys) {
            let popped = try SortedSetCommands.pop(ctx, keys: [key], max: !min, count: count, emitKey: true,
                                                   nested: true, nilWhenEmpty: true)
            ctx.propagate([ByteBuffer(string: min ? "ZPOPMIN" : "ZPOPMAX"), ByteBuffer(bytes: key.array),
                           ByteBuffer(string: String(popped?.popped ?? 0))])
            return
        }
        guard ctx.mayBlock else { return ctx.nullArray() }
        ctx.block(on: keys, timeoutMillis: timeout)
    }
}
