import NIOCore
import RESP
import TernStorage

/// The generic key commands (Redis's db.c, expire.c and object.c): DEL UNLINK EXISTS TYPE TOUCH,
/// the EXPIRE/TTL family, PERSIST, KEYS SCAN RANDOMKEY, RENAME RENAMENX COPY MOVE and OBJECT.
enum KeyCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("del", arity: -2, flags: [.write], keys: .all, group: "generic",
                        summary: "Delete a key", complexity: "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
                        acl: ["keyspace"], arguments: ["key [key ...]"], handler: writing(del)),
            CommandSpec("unlink", arity: -2, flags: [.write, .fast], keys: .all, group: "generic",
                        summary: "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
                        since: "4.0.0", complexity: "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
                        acl: ["keyspace"], arguments: ["key [key ...]"], handler: writing(del)),
            CommandSpec("exists", arity: -2, flags: [.readonly, .fast], keys: .all, group: "generic",
                        summary: "Determine if a key exists", complexity: "O(N) where N is the number of keys to check.",
                        acl: ["keyspace"], arguments: ["key [key ...]"], handler: exists),
            CommandSpec("type", arity: 2, flags: [.readonly, .fast], keys: .single, group: "generic",
                        summary: "Determine the type stored at key", acl: ["keyspace"], arguments: ["key"],
                        handler: type),
            CommandSpec("touch", arity: -2, flags: [.readonly, .fast], keys: .all, group: "generic",
                        summary: "Alters the last access time of a key(s). Returns the number of existing keys specified.",
                        since: "3.2.1", complexity: "O(N) where N is the number of keys that will be touched.",
                        acl: ["keyspace"], arguments: ["key [key ...]"], handler: touch),

            expireSpec("expire", summary: "Set a key's time to live in seconds", since: "1.0.0",
                       argument: "seconds", relative: true, seconds: true),
            expireSpec("pexpire", summary: "Set a key's time to live in milliseconds", since: "2.6.0",
                       argument: "milliseconds", relative: true, seconds: false),
            expireSpec("expireat", summary: "Set the expiration for a key as a UNIX timestamp", since: "1.2.0",
                       argument: "unix-time-seconds", relative: false, seconds: true),
            expireSpec("pexpireat", summary: "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
                       since: "2.6.0", argument: "unix-time-milliseconds", relative: false, seconds: false),
            ttlSpec("ttl", summary: "Get the time to live for a key in seconds", since: "1.0.0",
                    milliseconds: false, absolute: false),
            ttlSpec("pttl", summary: "Get the time to live for a key in milliseconds", since: "2.6.0",
                    milliseconds: true, absolute: false),
            ttlSpec("expiretime", summary: "Get the expiration Unix timestamp for a key", since: "7.0.0",
                    milliseconds: false, absolute: true),
            ttlSpec("pexpiretime", summary: "Get the expiration Unix timestamp for a key in milliseconds",
                    since: "7.0.0", milliseconds: true, absolute: true),
            CommandSpec("persist", arity: 2, flags: [.write, .fast], keys: .single, group: "generic",
                        summary: "Remove the expiration from a key", since: "2.2.0", acl: ["keyspace"],
                        arguments: ["key"], handler: writing(persist)),

            CommandSpec("keys", arity: 2, flags: [.readonly], group: "generic",
                        summary: "Find all keys matching the given pattern",
                        complexity: "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
                        acl: ["keyspace", "dangerous"], arguments: ["pattern"], handler: keys),
            CommandSpec("scan", arity: -2, flags: [.readonly], group: "generic",
                        summary: "Incrementally iterate the keys space", since: "2.8.0",
                        complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
                        acl: ["keyspace"], arguments: ["cursor", "[MATCH pattern]", "[COUNT count]", "[TYPE type]"],
                        handler: scan),
            CommandSpec("randomkey", arity: 1, flags: [.readonly], group: "generic",
                        summary: "Return a random key from the keyspace", acl: ["keyspace"], handler: randomKey),

            CommandSpec("rename", arity: 3, flags: [.write], keys: KeyPositions(first: 1, last: 2, step: 1),
                        group: "generic", summary: "Rename a key", acl: ["keyspace"], arguments: ["key", "newkey"],
                        handler: writing { try rename($0, nx: false) }),
            CommandSpec("renamenx", arity: 3, flags: [.write, .fast], keys: KeyPositions(first: 1, last: 2, step: 1),
                        group: "generic", summary: "Rename a key, only if the new key does not exist",
                        acl: ["keyspace"], arguments: ["key", "newkey"],
                        handler: writing { try rename($0, nx: true) }),
            CommandSpec("copy", arity: -3, flags: [.write, .denyoom], keys: KeyPositions(first: 1, last: 2, step: 1),
                        group: "generic", summary: "Copy a key", since: "6.2.0",
                        complexity: "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
                        acl: ["keyspace"], arguments: ["source", "destination", "[DB destination-db]", "[REPLACE]"],
                        handler: writing(copy)),
            CommandSpec("move", arity: 3, flags: [.write, .fast], keys: .single, group: "generic",
                        summary: "Move a key to another database", acl: ["keyspace"], arguments: ["key", "db"],
                        handler: writing(move)),

            CommandSpec("object", arity: -2, group: "generic",
                        summary: "A container for object introspection commands", since: "2.2.3",
                        complexity: "Depends on subcommand.",
                        subcommands: [
                            objectSpec("encoding", summary: "Inspect the internal encoding of a Redis object",
                                       since: "2.2.3", handler: objectEncoding),
                            objectSpec("freq", summary: "Get the logarithmic access frequency counter of a Redis object",
                                       since: "4.0.0", handler: objectFreq),
                            objectSpec("idletime", summary: "Get the time since a Redis object was last accessed",
                                       since: "2.2.3", handler: objectIdleTime),
                            objectSpec("refcount", summary: "Get the number of references to the value of the key",
                                       since: "2.2.3", handler: objectRefcount),
                            CommandSpec("help", arity: 2, flags: [.loading, .stale], group: "generic",
                                        summary: "Show helpful text about the different subcommands", since: "6.2.0",
                                        acl: ["keyspace"], handler: objectHelp),
                        ],
                        handler: nil),
        ]
    }

    // MARK: helpers

    /// Wraps a write handler that returns whether it changed the dataset. When it didn't (nothing to do, an
    /// error, or only lazily expired keys, which Keyspace already propagated as DEL), the command itself is
    /// not propagated: Redis propagates a command only when it incremented `server.dirty` itself.
    static func writing(_ body: @escaping (CommandContext) throws -> Bool) -> CommandHandler {
        { ctx in
            var changed = false
            defer { if !changed { ctx.preventPropagation() } }
            changed = try body(ctx)
        }
    }

    /// `lookupKeyReadWithFlags(LOOKUP_NOTOUCH)`: lazy expiry and hit/miss statistics, access time untouched.
    static func lookupNoTouch(_ keyspace: Keyspace, _ key: Bytes) -> KeyRecord? {
        let record = keyspace.peek(key)
        if record == nil { keyspace.server.stats.keyspaceMisses += 1 } else { keyspace.server.stats.keyspaceHits += 1 }
        return record
    }

    /// `getIntFromObjectOrReply`: a 64-bit integer, then the C int range with its own message.
    static func int32(_ ctx: CommandContext, _ i: Int) throws -> Int {
        let v = try ctx.int(i)
        guard v >= Int(Int32.min) && v <= Int(Int32.max) else {
            throw CommandError.err("value is out of range, value must between \(Int32.min) and \(Int32.max)")
        }
        return v
    }

    /// A database index for MOVE and COPY ... DB: an int, then within 0..<databases.
    static func databaseIndex(_ ctx: CommandContext, _ i: Int) throws -> Int {
        let index = try int32(ctx, i)
        guard index >= 0 && index < ctx.server.engine.databaseCount else { throw CommandError.invalidDBIndex }
        return index
    }

    static func expiryUpdate(_ record: KeyRecord) -> ExpiryUpdate {
        record.expireAt.map { .at($0) } ?? .clear
    }

    /// A key written by RENAME, COPY or MOVE is one a command just accessed: its access time is now.
    static func touchAccess(_ keyspace: Keyspace, _ key: Bytes) {
        _ = keyspace.database.lookup(key, touch: keyspace.server.lruClock)
    }

    // MARK: DEL UNLINK EXISTS TYPE TOUCH

    static func del(_ ctx: CommandContext) throws -> Bool {
        let keyspace = ctx.keyspace
        var deleted = 0
        for i in 1..<ctx.argc {
            let key = ctx.bytes(i)
            guard keyspace.delete(key) else { continue }
            ctx.notify(.generic, "del", key)
            deleted += 1
        }
        ctx.integer(deleted)
        return deleted > 0
    }

    static func exists(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        var count = 0
        for i in 1..<ctx.argc where lookupNoTouch(keyspace, ctx.bytes(i)) != nil { count += 1 }
        ctx.integer(count)
    }

    static func type(_ ctx: CommandContext) throws {
        let record = lookupNoTouch(ctx.keyspace, ctx.bytes(1))
        ctx.simple(record?.value.kind.typeName ?? "none")
    }

    static func touch(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        var count = 0
        for i in 1..<ctx.argc where keyspace.lookupRead(ctx.bytes(i)) != nil { count += 1 }
        ctx.integer(count)
    }

    // MARK: EXPIRE family

    static func expireSpec(_ name: String, summary: String, since: String, argument: String,
                           relative: Bool, seconds: Bool) -> CommandSpec {
        CommandSpec(name, arity: -3, flags: [.write, .fast], keys: .single, group: "generic", summary: summary,
                    since: since, acl: ["keyspace"], arguments: ["key", argument, "[NX|XX|GT|LT]"],
                    handler: writing { try expire($0, name: name, relative: relative, seconds: seconds) })
    }

    struct ExpireFlags: OptionSet {
        let rawValue: UInt8
        static let nx = ExpireFlags(rawValue: 1)
        static let xx = ExpireFlags(rawValue: 2)
        static let gt = ExpireFlags(rawValue: 4)
        static let lt = ExpireFlags(rawValue: 8)
    }

    /// `parseExtendedExpireArgumentsOrReply`: options first (before the time is parsed), then the combinations.
    static func parseExpireFlags(_ ctx: CommandContext) throws -> ExpireFlags {
        var flags: ExpireFlags = []
        var i = 3
        while i < ctx.argc {
            if ctx.argument(i, is: "nx") {
                flags.insert(.nx)
            } else if ctx.argument(i, is: "xx") {
                flags.insert(.xx)
            } else if ctx.argument(i, is: "gt") {
                flags.insert(.gt)
            } else if ctx.argument(i, is: "lt") {
                flags.insert(.lt)
            } else {
                throw CommandError.err("Unsupported option \(cString(ctx, i))")
            }
            i += 1
        }
        if flags.contains(.nx) && !flags.isDisjoint(with: [.xx, .gt, .lt]) {
            throw CommandError.err("NX and XX, GT or LT options at the same time are not compatible")
        }
        if flags.contains(.gt) && flags.contains(.lt) {
            throw CommandError.err("GT and LT options at the same time are not compatible")
        }
        return flags
    }

    /// An argument as C's `%s` prints it: up to the first NUL byte.
    static func cString(_ ctx: CommandContext, _ i: Int) -> String {
        let bytes = ctx.bytes(i).array
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// `expireGenericCommand`.
    static func expire(_ ctx: CommandContext, name: String, relative: Bool, seconds: Bool) throws -> Bool {
        let flags = try parseExpireFlags(ctx)
        var when = Int64(try ctx.int(2))
        let basetime: Int64 = relative ? ctx.server.commandTimeMillis : 0
        if seconds {
            if when > Int64.max / 1000 || when < Int64.min / 1000 { throw CommandError.invalidExpireTime(name) }
            when *= 1000
        }
        if when > Int64.max - basetime { throw CommandError.invalidExpireTime(name) }
        when += basetime

        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        guard let record = keyspace.lookupWrite(key) else {
            ctx.integer(0)
            return false
        }
        if !flags.isEmpty {
            let current = record.expireAt
            if flags.contains(.nx) && current != nil
                || flags.contains(.xx) && current == nil
                || flags.contains(.gt) && (current == nil || when <= current!)
                || flags.contains(.lt) && current != nil && when >= current! {
                ctx.integer(0)
                return false
            }
        }
        let keyBuffer = ctx.arguments[1]
        if when <= ctx.server.commandTimeMillis && !ctx.server.isReplica {
            // A time already past deletes the key, propagated as DEL (lazyfree-lazy-expire no).
            keyspace.delete(key)
            ctx.notify(.generic, "del", key)
            ctx.propagate([ByteBuffer(string: "DEL"), keyBuffer])
        } else {
            keyspace.setExpiry(key, when)
            ctx.notify(.generic, "expire", key)
            ctx.propagate([ByteBuffer(string: "PEXPIREAT"), keyBuffer, ByteBuffer(string: String(when))])
        }
        ctx.integer(1)
        return true
    }

    static func ttlSpec(_ name: String, summary: String, since: String, milliseconds: Bool, absolute: Bool) -> CommandSpec {
        CommandSpec(name, arity: 2, flags: [.readonly, .fast], keys: .single, group: "generic", summary: summary,
                    since: since, acl: ["keyspace"], arguments: ["key"]) { ctx in
            try ttl(ctx, milliseconds: milliseconds, absolute: absolute)
        }
    }

    /// `ttlGenericCommand`: -2 missing, -1 no expiry, else remaining (or absolute) time, seconds rounded.
    static func ttl(_ ctx: CommandContext, milliseconds: Bool, absolute: Bool) throws {
        guard let record = lookupNoTouch(ctx.keyspace, ctx.bytes(1)) else {
            ctx.integer(-2)
            return
        }
        guard let expireAt = record.expireAt else {
            ctx.integer(-1)
            return
        }
        var ttl = absolute ? expireAt : expireAt - ctx.server.commandTimeMillis
        if ttl < 0 { ttl = 0 }
        ctx.integer(Int(milliseconds ? ttl : (ttl + 500) / 1000))
    }

    static func persist(_ ctx: CommandContext) throws -> Bool {
        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        guard let record = keyspace.lookupWrite(key), record.expireAt != nil else {
            ctx.integer(0)
            return false
        }
        keyspace.setExpiry(key, nil)
        ctx.notify(.generic, "persist", key)
        ctx.integer(1)
        return true
    }

    // MARK: KEYS SCAN RANDOMKEY

    /// KEYS: every key matching the pattern; logically expired keys are skipped (not deleted), as Redis's
    /// `keyIsExpired` check does.
    static func keys(_ ctx: CommandContext) throws {
        let pattern = ctx.bytes(1).array
        let all = pattern == [UInt8(ascii: "*")]
        let now = ctx.server.commandTimeMillis
        var found: [Bytes] = []
        let database = ctx.keyspace.database
        // Walk the keys only (a per-element backend must not read values for KEYS).
        var cursor: UInt64 = 0
        repeat {
            cursor = database.scan(cursor: cursor, count: 1024) { key in
                guard all || GlobMatch.matches(pattern: pattern, key.array) else { return }
                if let when = database.metadata(key, touch: nil)?.expireAt, when < now { return }
                found.append(key)
            }
        } while cursor != 0
        ctx.arrayHeader(found.count)
        for key in found { ctx.bulk(key) }
    }

    /// Redis's `parseScanCursorOrReply`: `strtoul(..., 10)` that must consume the whole argument, with no
    /// leading space and no overflow. As strtoul does, it accepts a sign ("-1" wraps) and an empty string (0).
    static func parseCursor(_ bytes: [UInt8]) -> UInt64? {
        // The C string ends at the first NUL.
        let s = bytes.prefix { $0 != 0 }
        guard let first = s.first else { return 0 }
        if first == 32 || (first >= 9 && first <= 13) { return nil }
        var i = s.startIndex
        var negative = false
        if s[i] == UInt8(ascii: "+") || s[i] == UInt8(ascii: "-") {
            negative = s[i] == UInt8(ascii: "-")
            i += 1
        }
        let digitsStart = i
        var value: UInt64 = 0
        var overflow = false
        while i < s.endIndex, s[i] >= UInt8(ascii: "0"), s[i] <= UInt8(ascii: "9") {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(s[i] - UInt8(ascii: "0")))
            if o1 || o2 { overflow = true }
            value = a
            i += 1
        }
        // No digits: strtoul converts nothing and points back at the start of the string.
        if i == digitsStart { return nil }
        if i != s.endIndex || overflow { return nil }
        return negative ? 0 &- value : value
    }

    static func scan(_ ctx: CommandContext) throws {
        guard let cursor = parseCursor(ctx.bytes(1).array) else { throw CommandError.err("invalid cursor") }
        var count = 10
        var pattern: [UInt8]? = nil
        var typeName: String? = nil
        var i = 2
        while i < ctx.argc {
            let remaining = ctx.argc - i
            if ctx.argument(i, is: "count") && remaining >= 2 {
                count = try ctx.int(i + 1)
                if count < 1 { throw CommandError.syntax }
                i += 2
            } else if ctx.argument(i, is: "match") && remaining >= 2 {
                let p = ctx.bytes(i + 1).array
                pattern = p == [UInt8(ascii: "*")] ? nil : p
                i += 2
            } else if ctx.argument(i, is: "type") && remaining >= 2 {
                typeName = cString(ctx, i + 1).lowercased()
                i += 2
            } else {
                throw CommandError.syntax
            }
        }

        let keyspace = ctx.keyspace
        var collected: [Bytes] = []
        let next = keyspace.database.scan(cursor: cursor, count: count) { collected.append($0) }

        var keys: [Bytes] = []
        keys.reserveCapacity(collected.count)
        for key in collected {
            if let pattern, !GlobMatch.matches(pattern: pattern, key.array) { continue }
            if let typeName {
                // Redis 7.0 compares names: a key that expires during this lookup reads as "none" (and then
                // isn't filtered as expired any more, since it's gone).
                let record = lookupNoTouch(keyspace, key)
                if (record?.value.kind.typeName ?? "none") != typeName { continue }
                if record == nil { keys.append(key); continue }
            }
            // Filter (and lazily expire) keys whose time has come.
            if keyspace.peek(key) == nil { continue }
            keys.append(key)
        }
        ctx.arrayHeader(2)
        ctx.bulk(String(next))
        ctx.arrayHeader(keys.count)
        for key in keys { ctx.bulk(key) }
    }

    /// `dbRandomKey`: picks again when the chosen key had expired (deleting it). On a replica expired keys
    /// stay; after 100 tries of only such keys the last one is returned, as Redis does when every key is volatile.
    static func randomKey(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        let database = keyspace.database
        var tries = 0
        while let key = database.randomKey() {
            guard let record = database.lookup(key, touch: nil) else { continue }
            guard let when = record.expireAt, when <= ctx.server.commandTimeMillis else {
                ctx.bulk(key)
                return
            }
            if ctx.server.isReplica {
                tries += 1
                if tries >= 100 && database.volatileKeyCount == database.keyCount {
                    ctx.bulk(key)
                    return
                }
                continue
            }
            keyspace.expire(key)
        }
        ctx.null()
    }

    // MARK: RENAME RENAMENX COPY MOVE

    /// `renameGenericCommand`: the value and its expiry move to the new name, replacing it (RENAME) or only
    /// when it doesn't exist (RENAMENX).
    static func rename(_ ctx: CommandContext, nx: Bool) throws -> Bool {
        let source = ctx.bytes(1)
        let destination = ctx.bytes(2)
        let keyspace = ctx.keyspace
        guard let record = keyspace.lookupWrite(source) else { throw CommandError.noSuchKey }
        if source == destination {
            nx ? ctx.integer(0) : ctx.ok()
            return false
        }
        if keyspace.lookupWrite(destination) != nil && nx {
            ctx.integer(0)
            return false
        }
        keyspace.store(destination, record.value, expiry: expiryUpdate(record), encoding: record.encoding)
        keyspace.delete(source)
        touchAccess(keyspace, destination)
        ctx.notify(.generic, "rename_from", source)
        ctx.notify(.generic, "rename_to", destination)
        nx ? ctx.integer(1) : ctx.ok()
        return true
    }

    /// COPY source destination [DB destination-db] [REPLACE].
    static func copy(_ ctx: CommandContext) throws -> Bool {
        let sourceDB = ctx.client.db
        var targetDB = sourceDB
        var replace = false
        var j = 3
        while j < ctx.argc {
            let additional = ctx.argc - j - 1
            if ctx.argument(j, is: "replace") {
                replace = true
            } else if ctx.argument(j, is: "db") && additional >= 1 {
                targetDB = try databaseIndex(ctx, j + 1)
                j += 1
            } else {
                throw CommandError.syntax
            }
            j += 1
        }
        let source = ctx.bytes(1)
        let destination = ctx.bytes(2)
        if sourceDB == targetDB && source == destination { throw CommandError.sameObject }

        let keyspace = ctx.keyspace
        guard let record = keyspace.lookupRead(source) else {
            ctx.integer(0)
            return false
        }
        let target = ctx.server.keyspace(targetDB)
        if target.lookupWrite(destination) != nil && !replace {
            ctx.integer(0)
            return false
        }
        target.store(destination, record.value, expiry: expiryUpdate(record), encoding: record.encoding)
        touchAccess(target, destination)
        ctx.notify(.generic, "copy_to", destination, db: targetDB)
        ctx.integer(1)
        return true
    }

    /// MOVE key db: only when the key exists here and not in the target database.
    static func move(_ ctx: CommandContext) throws -> Bool {
        let targetDB = try databaseIndex(ctx, 2)
        if targetDB == ctx.client.db { throw CommandError.sameObject }
        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        guard let record = keyspace.lookupWrite(key) else {
            ctx.integer(0)
            return false
        }
        let target = ctx.server.keyspace(targetDB)
        if target.lookupWrite(key) != nil {
            ctx.integer(0)
            return false
        }
        target.store(key, record.value, expiry: expiryUpdate(record), encoding: record.encoding)
        touchAccess(target, key)
        keyspace.delete(key)
        ctx.notify(.generic, "move_from", key)
        ctx.notify(.generic, "move_to", key, db: targetDB)
        ctx.integer(1)
        return true
    }

    // MARK: OBJECT

    static func objectSpec(_ name: String, summary: String, since: String,
                           handler: @escaping CommandHandler) -> CommandSpec {
        CommandSpec(name, arity: 3, flags: [.readonly], keys: KeyPositions(first: 2, last: 2, step: 1),
                    group: "generic", summary: summary, since: since, acl: ["keyspace"], arguments: ["key"],
                    handler: handler)
    }

    /// `objectCommandLookup`: no touch, no notification; a missing key replies null.
    static func objectLookup(_ ctx: CommandContext) -> KeyRecord? {
        let record = lookupNoTouch(ctx.keyspace, ctx.bytes(2))
        if record == nil { ctx.null() }
        return record
    }

    static func lfuPolicy(_ ctx: CommandContext) -> Bool {
        ctx.server.config.maxMemoryPolicy.lowercased().hasSuffix("-lfu")
    }

    static func objectEncoding(_ ctx: CommandContext) throws {
        guard let record = objectLookup(ctx) else { return }
        ctx.bulk(ObjectEncoding.name(of: record.value, state: record.encoding, limits: ctx.server.config.encodingLimits))
    }

    static func objectRefcount(_ ctx: CommandContext) throws {
        guard let record = objectLookup(ctx) else { return }
        ctx.integer(ObjectEncoding.refcount(of: record.value, maxMemory: ctx.server.config.maxMemory,
                                            policy: ctx.server.config.maxMemoryPolicy))
    }

    static func objectIdleTime(_ ctx: CommandContext) throws {
        guard let record = objectLookup(ctx) else { return }
        if lfuPolicy(ctx) {
            throw CommandError.err("An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
        }
        let now = ctx.server.lruClock
        let last = record.lastAccess
        ctx.integer(now >= last ? Int(now - last) : 0)
    }

    /// `LFUDecrAndReturn`: the counter decays by one per lfu-decay-time (1 minute) since the last access.
    static func objectFreq(_ ctx: CommandContext) throws {
        guard let record = objectLookup(ctx) else { return }
        if !lfuPolicy(ctx) {
            throw CommandError.err("An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
        }
        let nowMinutes = Int(ctx.server.lruClock / 60)
        let lastMinutes = Int(record.lastAccess / 60)
        let periods = max(0, nowMinutes - lastMinutes)
        let counter = Int(record.frequency)
        ctx.integer(periods > counter ? 0 : counter - periods)
    }

    static let objectHelpLines = [
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ]

    static func objectHelp(_ ctx: CommandContext) throws {
        ctx.arrayHeader(objectHelpLines.count)
        for line in objectHelpLines { ctx.simple(line) }
    }
}
