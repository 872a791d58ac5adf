import NIOCore
import RESP
import TernStorage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The hash commands of Redis 7.0 (t_hash.c): HSET HSETNX HGET HMGET HMSET HDEL HLEN HSTRLEN HEXISTS HKEYS HVALS
/// HGETALL HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN.
enum HashCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("hset", arity: -4, flags: [.write, .denyoom, .fast], keys: .single, group: "hash",
                        summary: "Set the string value of a hash field", since: "2.0.0",
                        complexity: "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.",
                        acl: ["hash"], arguments: ["key", "field value [field value ...]"]) { ctx in
                try hset(ctx, replyOK: false)
            },
            CommandSpec("hsetnx", arity: 4, flags: [.write, .denyoom, .fast], keys: .single, group: "hash",
                        summary: "Set the value of a hash field, only if the field does not exist", since: "2.0.0",
                        acl: ["hash"], arguments: ["key", "field", "value"], handler: hsetnx),
            CommandSpec("hget", arity: 3, flags: [.readonly, .fast], keys: .single, group: "hash",
                        summary: "Get the value of a hash field", since: "2.0.0", acl: ["hash"],
                        arguments: ["key", "field"], handler: hget),
            CommandSpec("hmget", arity: -3, flags: [.readonly, .fast], keys: .single, group: "hash",
                        summary: "Get the values of all the given hash fields", since: "2.0.0",
                        complexity: "O(N) where N is the number of fields being requested.", acl: ["hash"],
                        arguments: ["key", "field [field ...]"], handler: hmget),
            CommandSpec("hmset", arity: -4, flags: [.write, .denyoom, .fast], keys: .single, group: "hash",
                        summary: "Set multiple hash fields to multiple values", since: "2.0.0",
                        complexity: "O(N) where N is the number of fields being set.", acl: ["hash"],
                        arguments: ["key", "field value [field value ...]"]) { ctx in
                try hset(ctx, replyOK: true)
            },
            CommandSpec("hdel", arity: -3, flags: [.write, .fast], keys: .single, group: "hash",
                        summary: "Delete one or more hash fields", since: "2.0.0",
                        complexity: "O(N) where N is the number of fields to be removed.", acl: ["hash"],
                        arguments: ["key", "field [field ...]"], handler: hdel),
            CommandSpec("hlen", arity: 2, flags: [.readonly, .fast], keys: .single, group: "hash",
                        summary: "Get the number of fields in a hash", since: "2.0.0", acl: ["hash"],
                        arguments: ["key"], handler: hlen),
            CommandSpec("hstrlen", arity: 3, flags: [.readonly, .fast], keys: .single, group: "hash",
                        summary: "Get the length of the value of a hash field", since: "3.2.0", acl: ["hash"],
                        arguments: ["key", "field"], handler: hstrlen),
            CommandSpec("hexists", arity: 3, flags: [.readonly, .fast], keys: .single, group: "hash",
                        summary: "Determine if a hash field exists", since: "2.0.0", acl: ["hash"],
                        arguments: ["key", "field"], handler: hexists),
            CommandSpec("hkeys", arity: 2, flags: [.readonly], keys: .single, group: "hash",
                        summary: "Get all the fields in a hash", since: "2.0.0",
                        complexity: "O(N) where N is the size of the hash.", acl: ["hash"], arguments: ["key"]) { ctx in
                try getall(ctx, fields: true, values: false)
            },
            CommandSpec("hvals", arity: 2, flags: [.readonly], keys: .single, group: "hash",
                        summary: "Get all the values in a hash", since: "2.0.0",
                        complexity: "O(N) where N is the size of the hash.", acl: ["hash"], arguments: ["key"]) { ctx in
                try getall(ctx, fields: false, values: true)
            },
            CommandSpec("hgetall", arity: 2, flags: [.readonly], keys: .single, group: "hash",
                        summary: "Get all the fields and values in a hash", since: "2.0.0",
                        complexity: "O(N) where N is the size of the hash.", acl: ["hash"], arguments: ["key"]) { ctx in
                try getall(ctx, fields: true, values: true)
            },
            CommandSpec("hincrby", arity: 4, flags: [.write, .denyoom, .fast], keys: .single, group: "hash",
                        summary: "Increment the integer value of a hash field by the given number", since: "2.0.0",
                        acl: ["hash"], arguments: ["key", "field", "increment"], handler: hincrby),
            CommandSpec("hincrbyfloat", arity: 4, flags: [.write, .denyoom, .fast], keys: .single, group: "hash",
                        summary: "Increment the float value of a hash field by the given amount", since: "2.6.0",
                        acl: ["hash"], arguments: ["key", "field", "increment"], handler: hincrbyfloat),
            CommandSpec("hrandfield", arity: -2, flags: [.readonly], keys: .single, group: "hash",
                        summary: "Get one or multiple random fields from a hash", since: "6.2.0",
                        complexity: "O(N) where N is the number of fields returned", acl: ["hash"],
                        arguments: ["key", "[count [WITHVALUES]]"], handler: hrandfield),
            CommandSpec("hscan", arity: -3, flags: [.readonly], keys: .single, group: "hash",
                        summary: "Incrementally iterate hash fields and associated values", since: "2.8.0",
                        complexity: SetCommands.scanComplexity, acl: ["hash"],
                        arguments: ["key", "cursor", "[MATCH pattern]", "[COUNT count]"], handler: hscan),
        ]
    }

    // MARK: writes

    static func hset(_ ctx: CommandContext, replyOK: Bool) throws {
        if ctx.argc % 2 == 1 { throw CommandError.wrongArity(ctx.spec.fullName) }
        var pairs: [(Bytes, Bytes)] = []
        pairs.reserveCapacity((ctx.argc - 2) / 2)
        for i in stride(from: 2, to: ctx.argc, by: 2) { pairs.append((ctx.bytes(i), ctx.bytes(i + 1))) }
        let created = try ctx.keyspace.hashSet(ctx.bytes(1), pairs)
        ctx.notify(.hash, "hset", ctx.bytes(1))
        if replyOK { ctx.ok() } else { ctx.integer(created) }
    }

    static func hsetnx(_ ctx: CommandContext) throws {
        let key = ctx.bytes(1), field = ctx.bytes(2)
        let keyspace = ctx.keyspace
        if try keyspace.collection(key, .hash, read: false) != nil, keyspace.database.hashGet(key, field) != nil {
            return ctx.integer(0)
        }
        _ = try keyspace.hashSet(key, [(field, ctx.bytes(3))])
        ctx.notify(.hash, "hset", key)
        ctx.integer(1)
    }

    static func hdel(_ ctx: CommandContext) throws {
        let fields = (2..<ctx.argc).map { ctx.bytes($0) }
        let key = ctx.bytes(1)
        let deleted = try ctx.keyspace.hashDelete(key, fields)
        if deleted > 0 {
            ctx.notify(.hash, "hdel", key)
            ctx.notifyIfEmptied(key)
        }
        ctx.integer(deleted)
    }

    static func hincrby(_ ctx: CommandContext) throws {
        let increment = Int64(try ctx.int(3))
        let key = ctx.bytes(1), field = ctx.bytes(2)
        let keyspace = ctx.keyspace
        var value: Int64 = 0
        if try keyspace.collection(key, .hash, read: false) != nil, let current = keyspace.database.hashGet(key, field) {
            guard let v = ObjectEncoding.parseStrictInt64(current.array) else {
                throw CommandError.err("hash value is not an integer")
            }
            value = v
        }
        let (sum, overflow) = value.addingReportingOverflow(increment)
        if overflow { throw CommandError.overflow }
        _ = try keyspace.hashSet(key, [(field, Bytes(String(sum)))])
        ctx.notify(.hash, "hincrby", key)
        ctx.integer(Int(sum))
    }

    static func hincrbyfloat(_ ctx: CommandContext) throws {
        guard let increment = RedisNumber.parseLongDouble(ctx.bytes(3).array) else { throw CommandError.notFloat }
        if increment.isNaN || increment.isInfinite { throw CommandError.err("value is NaN or Infinity") }
        let key = ctx.bytes(1), field = ctx.bytes(2)
        let keyspace = ctx.keyspace
        var value: RedisNumber.LongDouble = 0
        if try keyspace.collection(key, .hash, read: false) != nil, let current = keyspace.database.hashGet(key, field) {
            guard let v = RedisNumber.parseLongDouble(current.array) else { throw CommandError.err("hash value is not a float") }
            value = v
        }
        value += increment
        if value.isNaN || value.isInfinite { throw CommandError.err("increment would produce NaN or Infinity") }
        let text = RedisNumber.formatLongDoubleHuman(value)
        _ = try keyspace.hashSet(key, [(field, Bytes(text))])
        ctx.notify(.hash, "hincrbyfloat", key)
        ctx.bulk(text)
        // Always replicated as HSET key field <result>, so float formatting can't make replicas diverge.
        if ctx.wantsEffects {
            ctx.propagate([ByteBuffer(string: "HSET"), ctx.arguments[1], ctx.arguments[2], ByteBuffer(string: text)])
        } else {
            ctx.preventPropagation()
        }
    }

    // MARK: reads

    static func hget(_ ctx: CommandContext) throws {
        ctx.bulkOrNull(try ctx.keyspace.hashGet(ctx.bytes(1), ctx.bytes(2)))
    }

    static func hmget(_ ctx: CommandContext) throws {
        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        let exists = try keyspace.collection(key, .hash) != nil
        ctx.arrayHeader(ctx.argc - 2)
        for i in 2..<ctx.argc {
            ctx.bulkOrNull(exists ? keyspace.database.hashGet(key, ctx.bytes(i)) : nil)
        }
    }

    static func hlen(_ ctx: CommandContext) throws {
        ctx.integer(try ctx.keyspace.collection(ctx.bytes(1), .hash)?.count ?? 0)
    }

    static func hstrlen(_ ctx: CommandContext) throws {
        ctx.integer(try ctx.keyspace.hashGet(ctx.bytes(1), ctx.bytes(2))?.count ?? 0)
    }

    static func hexists(_ ctx: CommandContext) throws {
        ctx.integer(try ctx.keyspace.hashGet(ctx.bytes(1), ctx.bytes(2)) != nil ? 1 : 0)
    }

    /// `genericHgetallCommand`: HGETALL replies with a map (RESP3), HKEYS and HVALS with arrays.
    static func getall(_ ctx: CommandContext, fields: Bool, values: Bool) throws {
        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        let both = fields && values
        guard try keyspace.collection(key, .hash) != nil else {
            return both ? ctx.mapHeader(0) : ctx.arrayHeader(0)
        }
        let pairs = keyspace.database.hashAll(key)
        if both { ctx.mapHeader(pairs.count) } else { ctx.arrayHeader(pairs.count) }
        for (f, v) in pairs {
            if fields { ctx.bulk(f) }
            if values { ctx.bulk(v) }
        }
    }

    // MARK: HRANDFIELD

    static func hrandfield(_ ctx: CommandContext) throws {
        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        guard ctx.argc >= 3 else {
            guard try keyspace.collection(key, .hash) != nil,
                  let pair = keyspace.database.hashAll(key).randomElement() else { return ctx.null() }
            return ctx.bulk(pair.field)
        }
        let l = try CollectionSupport.rangeLong(ctx, 2)
        var withValues = false
        if ctx.argc > 4 || (ctx.argc == 4 && !StringCommands.option(ctx, 3, is: "WITHVALUES")) {
            throw CommandError.syntax
        } else if ctx.argc == 4 {
            withValues = true
            if l < -Int.max / 2 || l > Int.max / 2 { throw CommandError.err("value is out of range") }
        }
        guard let meta = try keyspace.collection(key, .hash) else { return ctx.arrayHeader(0) }
        if l == 0 { return ctx.arrayHeader(0) }
        let pairs = keyspace.database.hashAll(key)
        let resp3 = ctx.resp == .resp3
        func reply(_ pair: (field: Bytes, value: Bytes)) {
            if withValues && resp3 { ctx.arrayHeader(2) }
            ctx.bulk(pair.field)
            if withValues { ctx.bulk(pair.value) }
        }
        func header(_ n: Int) { ctx.arrayHeader(withValues && !resp3 ? n * 2 : n) }
        // A negative count may repeat fields (and so can a count of 1, trivially).
        if l < 0 || l == 1 {
            let count = l.magnitude
            header(Int(count))
            var left = count
            while left > 0 {
                reply(pairs.randomElement()!)
                left -= 1
                if CollectionSupport.outputOverflowed(ctx) { break }
            }
            return
        }
        let count = Int(l)
        if count >= meta.count {
            header(pairs.count)
            for p in pairs { reply(p) }
            return
        }
        let sample = CollectionSupport.sample(pairs, count)
        header(sample.count)
        for p in sample { reply(p) }
    }

    // MARK: HSCAN

    static func hscan(_ ctx: CommandContext) throws {
        guard let cursor = KeyCommands.parseCursor(ctx.bytes(2).array) else { throw CommandError.err("invalid cursor") }
        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        guard let meta = try keyspace.collection(key, .hash) else { return CollectionSupport.emptyScan(ctx) }
        let (count, pattern) = try CollectionSupport.scanOptions(ctx)
        let pairs = keyspace.database.hashAll(key)
        var next: UInt64 = 0
        var page: [(field: Bytes, value: Bytes)]
        if ObjectEncoding.isCompact(meta.encoding, derive: {
            isListpack(pairs, count: meta.count, limits: ctx.server.config.encodingLimits)
        }) {
            // A listpack is answered in one go whatever the cursor (as Redis does).
            page = pairs
        } else {
            (next, page) = CollectionSupport.scanPage(pairs, cursor: cursor, count: count) { $0.field }
        }
        if let pattern { page = page.filter { GlobMatch.matches(pattern: pattern, $0.field.array) } }
        ctx.arrayHeader(2)
        ctx.bulk(String(next))
        ctx.arrayHeader(page.count * 2)
        for (f, v) in page {
            ctx.bulk(f)
            ctx.bulk(v)
        }
    }

    /// Whether Redis would hold this hash as a listpack (few and short enough fields and values).
    static func isListpack(_ pairs: [(field: Bytes, value: Bytes)], count: Int, limits: ObjectEncoding.Limits) -> Bool {
        guard count <= limits.hashMaxListpackEntries else { return false }
        return pairs.allSatisfy { $0.field.count <= limits.hashMaxListpackValue && $0.value.count <= limits.hashMaxListpackValue }
    }
}
