import NIOCore
import RESP
import TernStorage

/// The string commands of Redis 7.0 (t_string.c): GET SET SETNX SETEX PSETEX MGET MSET MSETNX GETSET GETDEL
/// GETEX INCR DECR INCRBY DECRBY INCRBYFLOAT APPEND STRLEN GETRANGE SETRANGE SUBSTR LCS.
enum StringCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("get", arity: 2, flags: [.readonly, .fast], keys: .single, group: "string",
                        summary: "Get the value of a key", acl: ["string"], arguments: ["key"], handler: get),
            CommandSpec("set", arity: -3, flags: [.write, .denyoom], keys: .single, group: "string",
                        summary: "Set the string value of a key", acl: ["string"],
                        arguments: ["key", "value", "[NX|XX]", "[GET]",
                                    "[EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"],
                        handler: set),
            CommandSpec("setnx", arity: 3, flags: [.write, .denyoom, .fast], keys: .single, group: "string",
                        summary: "Set the value of a key, only if the key does not exist", acl: ["string"],
                        arguments: ["key", "value"], handler: setnx),
            CommandSpec("setex", arity: 4, flags: [.write, .denyoom], keys: .single, group: "string",
                        summary: "Set the value and expiration of a key", since: "2.0.0", acl: ["string"],
                        arguments: ["key", "seconds", "value"]) { ctx in try setex(ctx, seconds: true) },
            CommandSpec("psetex", arity: 4, flags: [.write, .denyoom], keys: .single, group: "string",
                        summary: "Set the value and expiration in milliseconds of a key", since: "2.6.0",
                        acl: ["string"], arguments: ["key", "milliseconds", "value"]) { ctx in
                try setex(ctx, seconds: false)
            },
            CommandSpec("mget", arity: -2, flags: [.readonly, .fast], keys: .all, group: "string",
                        summary: "Get the values of all the given keys",
                        complexity: "O(N) where N is the number of keys to retrieve.", acl: ["string"],
                        arguments: ["key [key ...]"], handler: mget),
            CommandSpec("mset", arity: -3, flags: [.write, .denyoom], keys: KeyPositions(first: 1, last: -1, step: 2),
                        group: "string", summary: "Set multiple keys to multiple values", since: "1.0.1",
                        complexity: "O(N) where N is the number of keys to set.", acl: ["string"],
                        arguments: ["key value [key value ...]"]) { ctx in try mset(ctx, nx: false) },
            CommandSpec("msetnx", arity: -3, flags: [.write, .denyoom], keys: KeyPositions(first: 1, last: -1, step: 2),
                        group: "string", summary: "Set multiple keys to multiple values, only if none of the keys exist",
                        since: "1.0.1", complexity: "O(N) where N is the number of keys to set.", acl: ["string"],
                        arguments: ["key value [key value ...]"]) { ctx in try mset(ctx, nx: true) },
            CommandSpec("getset", arity: 3, flags: [.write, .denyoom, .fast], keys: .single, group: "string",
                        summary: "Set the string value of a key and return its old value", acl: ["string"],
                        arguments: ["key", "value"], handler: getset),
            CommandSpec("getdel", arity: 2, flags: [.write, .fast], keys: .single, group: "string",
                        summary: "Get the value of a key and delete the key", since: "6.2.0", acl: ["string"],
                        arguments: ["key"], handler: getdel),
            CommandSpec("getex", arity: -2, flags: [.write, .fast], keys: .single, group: "string",
                        summary: "Get the value of a key and optionally set its expiration", since: "6.2.0",
                        acl: ["string"],
                        arguments: ["key",
                                    "[EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]"],
                        handler: getex),
            CommandSpec("incr", arity: 2, flags: [.write, .denyoom, .fast], keys: .single, group: "string",
                        summary: "Increment the integer value of a key by one", acl: ["string"],
                        arguments: ["key"]) { ctx in try incrDecr(ctx, by: 1) },
            CommandSpec("decr", arity: 2, flags: [.write, .denyoom, .fast], keys: .single, group: "string",
                        summary: "Decrement the integer value of a key by one", acl: ["string"],
                        arguments: ["key"]) { ctx in try incrDecr(ctx, by: -1) },
            CommandSpec("incrby", arity: 3, flags: [.write, .denyoom, .fast], keys: .single, group: "string",
                        summary: "Increment the integer value of a key by the given amount", acl: ["string"],
                        arguments: ["key", "increment"]) { ctx in try incrDecr(ctx, by: Int64(try ctx.int(2))) },
            CommandSpec("decrby", arity: 3, flags: [.write, .denyoom, .fast], keys: .single, group: "string",
                        summary: "Decrement the integer value of a key by the given number", acl: ["string"],
                        arguments: ["key", "decrement"]) { ctx in
                let decrement = Int64(try ctx.int(2))
                // Negating LLONG_MIN would overflow.
                if decrement == Int64.min { throw CommandError.err("decrement would overflow") }
                try incrDecr(ctx, by: -decrement)
            },
            CommandSpec("incrbyfloat", arity: 3, flags: [.write, .denyoom, .fast], keys: .single, group: "string",
                        summary: "Increment the float value of a key by the given amount", since: "2.6.0",
                        acl: ["string"], arguments: ["key", "increment"], handler: incrbyfloat),
            CommandSpec("append", arity: 3, flags: [.write, .denyoom, .fast], keys: .single, group: "string",
                        summary: "Append a value to a key", since: "2.0.0",
                        complexity: "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
                        acl: ["string"], arguments: ["key", "value"], handler: append),
            CommandSpec("strlen", arity: 2, flags: [.readonly, .fast], keys: .single, group: "string",
                        summary: "Get the length of the value stored in a key", since: "2.2.0", acl: ["string"],
                        arguments: ["key"], handler: strlen),
            CommandSpec("getrange", arity: 4, flags: [.readonly], keys: .single, group: "string",
                        summary: "Get a substring of the string stored at a key", since: "2.4.0",
                        complexity: rangeComplexity, acl: ["string"], arguments: ["key", "start", "end"],
                        handler: getrange),
            CommandSpec("setrange", arity: 4, flags: [.write, .denyoom], keys: .single, group: "string",
                        summary: "Overwrite part of a string at key starting at the specified offset", since: "2.2.0",
                        complexity: "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
                        acl: ["string"], arguments: ["key", "offset", "value"], handler: setrange),
            CommandSpec("substr", arity: 4, flags: [.readonly], keys: .single, group: "string",
                        summary: "Get a substring of the string stored at a key", complexity: rangeComplexity,
                        acl: ["string"], arguments: ["key", "start", "end"], handler: getrange),
            CommandSpec("lcs", arity: -3, flags: [.readonly], keys: KeyPositions(first: 1, last: 2, step: 1),
                        group: "string", summary: "Find longest common substring", since: "7.0.0",
                        complexity: "O(N*M) where N and M are the lengths of s1 and s2, respectively", acl: ["string"],
                        arguments: ["key1", "key2", "[LEN]", "[IDX]", "[MINMATCHLEN len]", "[WITHMATCHLEN]"],
                        handler: lcs),
        ]
    }

    static let rangeComplexity = "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings."

    // MARK: option parsing

    /// Compares an option argument with an ASCII word as Redis's C code does: case-insensitively, on the
    /// argument's bytes up to its first NUL (Redis reads options as C strings).
    static func option(_ ctx: CommandContext, _ i: Int, is word: StaticString) -> Bool {
        ctx.arguments[i].withUnsafeReadableBytes { raw in
            var n = raw.count
            if let nul = raw.firstIndex(of: 0) { n = nul }
            guard n == word.utf8CodeUnitCount else { return false }
            let w = word.utf8Start
            for j in 0..<n where (raw[j] | 0x20) != (w[j] | 0x20) { return false }
            return true
        }
    }

    struct ExtendedFlags: OptionSet {
        let rawValue: Int
        static let nx = ExtendedFlags(rawValue: 1 << 0)
        static let xx = ExtendedFlags(rawValue: 1 << 1)
        static let ex = ExtendedFlags(rawValue: 1 << 2)
        static let px = ExtendedFlags(rawValue: 1 << 3)
        static let keepTTL = ExtendedFlags(rawValue: 1 << 4)
        static let get = ExtendedFlags(rawValue: 1 << 5)
        static let exat = ExtendedFlags(rawValue: 1 << 6)
        static let pxat = ExtendedFlags(rawValue: 1 << 7)
        static let persist = ExtendedFlags(rawValue: 1 << 8)

        static let anyExpire: ExtendedFlags = [.ex, .px, .exat, .pxat]
        /// EX and EXAT take seconds.
        var seconds: Bool { !isDisjoint(with: [.ex, .exat]) }
        /// EX and PX are relative to now.
        var relative: Bool { !isDisjoint(with: [.ex, .px]) }
    }

    /// `parseExtendedStringArgumentsOrReply`: SET options from index 3, GETEX options from index 2.
    /// Returns the flags and the index of the expire argument, if any.
    static func parseExtended(_ ctx: CommandContext, forSet: Bool) throws -> (ExtendedFlags, Int?) {
        var flags: ExtendedFlags = []
        var expire: Int? = nil
        var j = forSet ? 3 : 2
        while j < ctx.argc {
            let hasNext = j < ctx.argc - 1
            if forSet && option(ctx, j, is: "NX") && !flags.contains(.xx) {
                flags.insert(.nx)
            } else if forSet && option(ctx, j, is: "XX") && !flags.contains(.nx) {
                flags.insert(.xx)
            } else if forSet && option(ctx, j, is: "GET") {
                flags.insert(.get)
            } else if forSet && option(ctx, j, is: "KEEPTTL") && flags.isDisjoint(with: [.persist, .ex, .exat, .px, .pxat]) {
                flags.insert(.keepTTL)
            } else if !forSet && option(ctx, j, is: "PERSIST") && flags.isDisjoint(with: [.ex, .exat, .px, .pxat, .keepTTL]) {
                flags.insert(.persist)
            } else if option(ctx, j, is: "EX") && flags.isDisjoint(with: [.keepTTL, .persist, .exat, .px, .pxat]) && hasNext {
                flags.insert(.ex); expire = j + 1; j += 1
            } else if option(ctx, j, is: "PX") && flags.isDisjoint(with: [.keepTTL, .persist, .ex, .exat, .pxat]) && hasNext {
                flags.insert(.px); expire = j + 1; j += 1
            } else if option(ctx, j, is: "EXAT") && flags.isDisjoint(with: [.keepTTL, .persist, .ex, .px, .pxat]) && hasNext {
                flags.insert(.exat); expire = j + 1; j += 1
            } else if option(ctx, j, is: "PXAT") && flags.isDisjoint(with: [.keepTTL, .persist, .ex, .exat, .px]) && hasNext {
                flags.insert(.pxat); expire = j + 1; j += 1
            } else {
                throw CommandError.syntax
            }
            j += 1
        }
        return (flags, expire)
    }

    /// `getExpireMillisecondsOrReply`: the absolute expiry in milliseconds for an EX/PX/EXAT/PXAT argument.
    static func expireMilliseconds(_ ctx: CommandContext, _ i: Int, seconds: Bool, relative: Bool,
                                   command: String) throws -> Int64 {
        let value = Int64(try ctx.int(i))
        if value <= 0 || (seconds && value > Int64.max / 1000) {
            // Negative value provided or the multiplication would overflow.
            throw CommandError.invalidExpireTime(command)
        }
        var ms = seconds ? value * 1000 : value
        if relative { ms = ms &+ ctx.server.commandTimeMillis }
        if ms <= 0 { throw CommandError.invalidExpireTime(command) }
        return ms
    }

    // MARK: helpers

    static func key(_ ctx: CommandContext) -> Bytes { ctx.bytes(1) }

    /// `checkStringLength`: refuses results longer than proto-max-bulk-len (except from the master).
    static func checkStringLength(_ ctx: CommandContext, _ size: Int) throws {
        if !ctx.client.flags.contains(.master) && size > ctx.server.config.protoMaxBulkLen {
            throw CommandError.stringTooLong
        }
    }

    /// `getGenericCommand`: replies with the string (or nil); WRONGTYPE for other kinds.
    @discardableResult
    static func replyGet(_ ctx: CommandContext, _ key: Bytes) throws -> Bytes? {
        let value = try ctx.keyspace.readString(key)
        ctx.bulkOrNull(value)
        return value
    }

    // MARK: GET / SET family

    static func get(_ ctx: CommandContext) throws {
        try replyGet(ctx, key(ctx))
    }

    static func set(_ ctx: CommandContext) throws {
        let (flags, expire) = try parseExtended(ctx, forSet: true)
        try setGeneric(ctx, flags: flags, value: 2, expire: expire, command: "set", okReply: { $0.ok() },
                       abortReply: { $0.null() })
    }

    static func setnx(_ ctx: CommandContext) throws {
        try setGeneric(ctx, flags: .nx, value: 2, expire: nil, command: "setnx", okReply: { $0.integer(1) },
                       abortReply: { $0.integer(0) })
    }

    static func setex(_ ctx: CommandContext, seconds: Bool) throws {
        try setGeneric(ctx, flags: seconds ? .ex : .px, value: 3, expire: 2, command: seconds ? "setex" : "psetex",
                       okReply: { $0.ok() }, abortReply: { $0.null() })
    }

    /// `setGenericCommand`: SET, SETNX, SETEX and PSETEX.
    static func setGeneric(_ ctx: CommandContext, flags: ExtendedFlags, value valueIndex: Int, expire: Int?,
                           command: String, okReply: (CommandContext) -> Void,
                           abortReply: (CommandContext) -> Void) throws {
        var milliseconds: Int64? = nil
        if let expire {
            milliseconds = try expireMilliseconds(ctx, expire, seconds: flags.seconds, relative: flags.relative,
                                                  command: command)
        }
        let key = key(ctx)
        if flags.contains(.get) {
            try replyGet(ctx, key)
        }
        let keyspace = ctx.keyspace
        // Only NX/XX need to know whether the key exists; a plain SET is one store (which accounts for
        // overwriting an expired key itself).
        if flags.contains(.nx) || flags.contains(.xx) {
            let found = keyspace.metadata(key, touch: true) != nil
            if (flags.contains(.nx) && found) || (flags.contains(.xx) && !found) {
                if !flags.contains(.get) { abortReply(ctx) }
                return
            }
        }
        let expiry: ExpiryUpdate
        if let milliseconds {
            expiry = .at(milliseconds)
        } else {
            expiry = flags.contains(.keepTTL) ? .keep : .clear
        }
        keyspace.store(key, .string(ctx.bytes(valueIndex)), expiry: expiry)
        ctx.notify(.string, "set", key)
        if milliseconds != nil { ctx.notify(.generic, "expire", key) }

        if let milliseconds {
            // Propagated as SET key value PXAT <absolute ms>, whatever the form of the expiry.
            if ctx.wantsEffects {
                ctx.propagate([ByteBuffer(string: "SET"), ctx.arguments[1], ctx.arguments[valueIndex],
                               ByteBuffer(string: "PXAT"), ByteBuffer(string: String(milliseconds))])
            } else {
                ctx.preventPropagation()
            }
        } else if flags.contains(.get) {
            // Propagated without the GET arguments.
            if ctx.wantsEffects {
                var words: [ByteBuffer] = []
                for (j, argument) in ctx.arguments.enumerated() {
                    if j >= 3 && option(ctx, j, is: "GET") { continue }
                    words.append(argument)
                }
                ctx.propagate(words)
            } else {
                ctx.preventPropagation()
            }
        }
        if !flags.contains(.get) { okReply(ctx) }
    }

    static func getset(_ ctx: CommandContext) throws {
        let key = key(ctx)
        try replyGet(ctx, key)
        ctx.keyspace.store(key, .string(ctx.bytes(2)), expiry: .clear)
        ctx.notify(.string, "set", key)
        // Propagated as SET.
        if ctx.wantsEffects {
            ctx.propagate([ByteBuffer(string: "SET"), ctx.arguments[1], ctx.arguments[2]])
        } else {
            ctx.preventPropagation()
        }
    }

    static func getdel(_ ctx: CommandContext) throws {
        let key = key(ctx)
        try replyGet(ctx, key)
        if ctx.keyspace.delete(key) {
            ctx.notify(.generic, "del", key)
            if ctx.wantsEffects {
                ctx.propagate([ByteBuffer(string: "DEL"), ctx.arguments[1]])
            } else {
                ctx.preventPropagation()
            }
        }
    }

    static func getex(_ ctx: CommandContext) throws {
        let (flags, expire) = try parseExtended(ctx, forSet: false)
        let key = key(ctx)
        let keyspace = ctx.keyspace
        guard let record = keyspace.lookupRead(key) else {
            ctx.null()
            return
        }
        guard case .string(let value) = record.value else { throw CommandError.wrongType }
        var milliseconds: Int64? = nil
        if let expire {
            milliseconds = try expireMilliseconds(ctx, expire, seconds: flags.seconds, relative: flags.relative,
                                                  command: "getex")
        }
        ctx.bulk(value)

        // Never propagated verbatim: DEL, PEXPIREAT or PERSIST.
        if let ms = milliseconds, !flags.isDisjoint(with: [.exat, .pxat]), ms <= ctx.server.commandTimeMillis,
           !ctx.server.isReplica {
            keyspace.delete(key)
            ctx.notify(.generic, "del", key)
            propagate(ctx, ["DEL"], ctx.arguments[1])
        } else if let ms = milliseconds {
            keyspace.setExpiry(key, ms)
            ctx.notify(.generic, "expire", key)
            propagate(ctx, ["PEXPIREAT"], ctx.arguments[1], ByteBuffer(string: String(ms)))
        } else if flags.contains(.persist) {
            if record.expireAt != nil {
                keyspace.setExpiry(key, nil)
                ctx.notify(.generic, "persist", key)
                propagate(ctx, ["PERSIST"], ctx.arguments[1])
            }
        }
    }

    /// Propagates a rewritten command (or nothing when nobody listens).
    static func propagate(_ ctx: CommandContext, _ head: [String], _ rest: ByteBuffer...) {
        guard ctx.wantsEffects else { return ctx.preventPropagation() }
        ctx.propagate(head.map { ByteBuffer(string: $0) } + rest)
    }

    static func mget(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        ctx.arrayHeader(ctx.argc - 1)
        for j in 1..<ctx.argc {
            if let record = keyspace.lookupRead(ctx.bytes(j)), case .string(let s) = record.value {
                ctx.bulk(s)
            } else {
                ctx.null()
            }
        }
    }

    static func mset(_ ctx: CommandContext, nx: Bool) throws {
        if ctx.argc % 2 == 0 { throw CommandError.wrongArity(nx ? "msetnx" : "mset") }
        let keyspace = ctx.keyspace
        if nx {
            for j in stride(from: 1, to: ctx.argc, by: 2) where keyspace.lookupWrite(ctx.bytes(j)) != nil {
                ctx.integer(0)
                return
            }
        }
        for j in stride(from: 1, to: ctx.argc, by: 2) {
            keyspace.store(ctx.bytes(j), .string(ctx.bytes(j + 1)), expiry: .clear)
            ctx.notify(.string, "set", ctx.bytes(j))
        }
        if nx { ctx.integer(1) } else { ctx.ok() }
    }

    // MARK: counters

    static func incrDecr(_ ctx: CommandContext, by increment: Int64) throws {
        let key = key(ctx)
        let keyspace = ctx.keyspace
        var old: Int64 = 0
        if let record = keyspace.lookupWrite(key) {
            guard case .string(let s) = record.value else { throw CommandError.wrongType }
            guard let v = RESPNumber.parseInt64(s.array) else { throw CommandError.notInteger }
            old = v
        }
        if (increment < 0 && old < 0 && increment < Int64.min - old)
            || (increment > 0 && old > 0 && increment > Int64.max - old) {
            throw CommandError.overflow
        }
        let value = old + increment
        keyspace.store(key, .string(Bytes(String(value))), expiry: .keep)
        ctx.notify(.string, "incrby", key)
        ctx.integer(Int(value))
    }

    static func incrbyfloat(_ ctx: CommandContext) throws {
        let key = key(ctx)
        let keyspace = ctx.keyspace
        var value: RedisNumber.LongDouble = 0
        if let record = keyspace.lookupWrite(key) {
            guard case .string(let s) = record.value else { throw CommandError.wrongType }
            guard let v = RedisNumber.parseLongDouble(s.array) else { throw CommandError.notFloat }
            value = v
        }
        guard let increment = RedisNumber.parseLongDouble(ctx.bytes(2).array) else { throw CommandError.notFloat }
        value += increment
        if value.isNaN || value.isInfinite {
            throw CommandError.err("increment would produce NaN or Infinity")
        }
        let text = RedisNumber.formatLongDoubleHuman(value)
        keyspace.store(key, .string(Bytes(text)), expiry: .keep)
        ctx.notify(.string, "incrbyfloat", key)
        ctx.bulk(text)
        // Always propagated as SET key <result> KEEPTTL, so float formatting can't make replicas diverge.
        if ctx.wantsEffects {
            ctx.propagate([ByteBuffer(string: "SET"), ctx.arguments[1], ByteBuffer(string: text),
                           ByteBuffer(string: "KEEPTTL")])
        } else {
            ctx.preventPropagation()
        }
    }

    // MARK: editing

    static func append(_ ctx: CommandContext) throws {
        let key = key(ctx)
        let keyspace = ctx.keyspace
        let suffix = ctx.arguments[2]
        guard let record = keyspace.lookupWrite(key) else {
            keyspace.store(key, .string(ctx.bytes(2)), expiry: .clear)
            ctx.notify(.string, "append", key)
            ctx.integer(suffix.readableBytes)
            return
        }
        guard case .string(let s) = record.value else { throw CommandError.wrongType }
        try checkStringLength(ctx, s.count + suffix.readableBytes)
        let total = try keyspace.update(key, kind: .string) { value -> Int in
            guard case .string(var current)? = value else { return 0 }
            value = nil
            current.array.append(contentsOf: suffix.readableBytesView)
            let n = current.count
            value = .string(current)
            return n
        }
        ctx.notify(.string, "append", key)
        ctx.integer(total)
    }

    static func strlen(_ ctx: CommandContext) throws {
        ctx.integer(try ctx.keyspace.readString(key(ctx))?.count ?? 0)
    }

    static func setrange(_ ctx: CommandContext) throws {
        let offset = try ctx.int(2)
        if offset < 0 { throw CommandError.bitOffset }
        let key = key(ctx)
        let keyspace = ctx.keyspace
        let patch = ctx.arguments[3]
        let record = keyspace.lookupWrite(key)
        if let record {
            guard case .string(let s) = record.value else { throw CommandError.wrongType }
            // Setting nothing replies with the current length.
            if patch.readableBytes == 0 { return ctx.integer(s.count) }
        } else if patch.readableBytes == 0 {
            // Setting nothing on a missing key creates nothing.
            return ctx.integer(0)
        }
        let (end, overflow) = offset.addingReportingOverflow(patch.readableBytes)
        if overflow { throw CommandError.stringTooLong }
        try checkStringLength(ctx, end)
        if record == nil {
            var bytes = [UInt8](repeating: 0, count: end)
            patch.withUnsafeReadableBytes { raw in
                bytes.withUnsafeMutableBytes { out in
                    out.baseAddress!.advanced(by: offset).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
                }
            }
            // Built in place by Redis (createObject on a zeroed sds): "raw" whatever its size.
            keyspace.store(key, .string(Bytes(bytes)), expiry: .clear, encoding: .converted)
            ctx.notify(.string, "setrange", key)
            return ctx.integer(end)
        }
        let length = try keyspace.update(key, kind: .string) { value -> Int in
            guard case .string(var current)? = value else { return 0 }
            value = nil
            if current.array.count < end {
                current.array.append(contentsOf: repeatElement(0, count: end - current.array.count))
            }
            patch.withUnsafeReadableBytes { raw in
                current.array.withUnsafeMutableBytes { out in
                    out.baseAddress!.advanced(by: offset).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
                }
            }
            let n = current.count
            value = .string(current)
            return n
        }
        ctx.notify(.string, "setrange", key)
        ctx.integer(length)
    }

    /// GETRANGE and SUBSTR.
    static func getrange(_ ctx: CommandContext) throws {
        var start = Int64(try ctx.int(2))
        var end = Int64(try ctx.int(3))
        guard let s = try ctx.keyspace.readString(key(ctx)) else {
            return ctx.bulk(Bytes())
        }
        let length = Int64(s.count)
        if start < 0 && end < 0 && start > end {
            return ctx.bulk(Bytes())
        }
        if start < 0 { start = length + start }
        if end < 0 { end = length + end }
        if start < 0 { start = 0 }
        if end < 0 { end = 0 }
        if end >= length { end = length - 1 }
        if start > end || length == 0 {
            return ctx.bulk(Bytes())
        }
        ctx.client.output.writeRESPBulk(s.array[Int(start)...Int(end)])
    }

    // MARK: LCS

    static func lcs(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        let recordA = keyspace.lookupRead(ctx.bytes(1))
        let recordB = keyspace.lookupRead(ctx.bytes(2))
        var a: [UInt8] = []
        var b: [UInt8] = []
        if let recordA {
            guard case .string(let s) = recordA.value else {
                throw CommandError.err("The specified keys must contain string values")
            }
            a = s.array
        }
        if let recordB {
            guard case .string(let s) = recordB.value else {
                throw CommandError.err("The specified keys must contain string values")
            }
            b = s.array
        }
        var getLen = false, getIdx = false, withMatchLen = false
        var minMatchLen: Int64 = 0
        var j = 3
        while j < ctx.argc {
            let more = ctx.argc - 1 - j
            if option(ctx, j, is: "IDX") {
                getIdx = true
            } else if option(ctx, j, is: "LEN") {
                getLen = true
            } else if option(ctx, j, is: "WITHMATCHLEN") {
                withMatchLen = true
            } else if option(ctx, j, is: "MINMATCHLEN") && more > 0 {
                minMatchLen = max(0, Int64(try ctx.int(j + 1)))
                j += 1
            } else {
                throw CommandError.syntax
            }
            j += 1
        }
        if getLen && getIdx {
            throw CommandError.err("If you want both the length and indexes, please just use IDX.")
        }
        if a.count >= Int(UInt32.max) - 1 || b.count >= Int(UInt32.max) - 1 {
            throw CommandError.err("String too long for LCS")
        }
        let alen = a.count, blen = b.count
        let (cells, o1) = (alen + 1).multipliedReportingOverflow(by: blen + 1)
        let (bytes, o2) = cells.multipliedReportingOverflow(by: MemoryLayout<UInt32>.size)
        if o1 || o2 {
            throw CommandError.err("Insufficient memory, failed allocating transient memory for LCS")
        }
        if bytes > ctx.server.config.protoMaxBulkLen {
            throw CommandError.err("Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
        }

        // table[i * (blen + 1) + j] = length of the LCS of a[0..<i] and b[0..<j].
        let width = blen + 1
        var table = [UInt32](repeating: 0, count: cells)
        table.withUnsafeMutableBufferPointer { t in
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    if alen == 0 || blen == 0 { return }
                    for i in 1...alen {
                        let row = i * width, prev = (i - 1) * width
                        let ca = pa[i - 1]
                        for j in 1...blen {
                            if ca == pb[j - 1] {
                                t[row + j] = t[prev + j - 1] + 1
                            } else {
                                let l1 = t[prev + j], l2 = t[row + j - 1]
                                t[row + j] = l1 > l2 ? l1 : l2
                            }
                        }
                    }
                }
            }
        }
        let total = Int(table[alen * width + blen])
        let computeLCS = getIdx || !getLen
        var result = [UInt8](repeating: 0, count: computeLCS ? total : 0)
        // Ranges as (aStart, aEnd, bStart, bEnd, length), emitted from the end of the strings backwards.
        var matches: [(Int, Int, Int, Int, Int)] = []
        var idx = total
        var i = alen, k = blen
        var aStart = alen, aEnd = 0, bStart = 0, bEnd = 0  // aStart == alen: no range being tracked
        while computeLCS && i > 0 && k > 0 {
            var emit = false
            if a[i - 1] == b[k - 1] {
                result[idx - 1] = a[i - 1]
                if aStart == alen {
                    aStart = i - 1; aEnd = i - 1
                    bStart = k - 1; bEnd = k - 1
                } else if aStart == i && bStart == k {
                    // Contiguous: extend the range backwards.
                    aStart -= 1
                    bStart -= 1
                } else {
                    emit = true
                }
                // A match with the first byte of either string ends the walk.
                if aStart == 0 || bStart == 0 { emit = true }
                idx -= 1; i -= 1; k -= 1
            } else {
                let l1 = table[(i - 1) * width + k]
                let l2 = table[i * width + k - 1]
                if l1 > l2 { i -= 1 } else { k -= 1 }
                if aStart != alen { emit = true }
            }
            if emit {
                let matchLen = aEnd - aStart + 1
                if minMatchLen == 0 || Int64(matchLen) >= minMatchLen {
                    matches.append((aStart, aEnd, bStart, bEnd, matchLen))
                }
                aStart = alen
            }
        }

        if getIdx {
            ctx.mapHeader(2)
            ctx.bulk("matches")
            ctx.arrayHeader(matches.count)
            for m in matches {
                ctx.arrayHeader(withMatchLen ? 3 : 2)
                ctx.arrayHeader(2); ctx.integer(m.0); ctx.integer(m.1)
                ctx.arrayHeader(2); ctx.integer(m.2); ctx.integer(m.3)
                if withMatchLen { ctx.integer(m.4) }
            }
            ctx.bulk("len")
            ctx.integer(total)
        } else if getLen {
            ctx.integer(total)
        } else {
            ctx.bulk(Bytes(result))
        }
    }
}
