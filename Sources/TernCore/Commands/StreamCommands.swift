import NIOCore
import RESP
import TernStorage

/// The stream commands of Redis 7.0 (t_stream.c): XADD XRANGE XREVRANGE XLEN XDEL XTRIM XREAD XREADGROUP
/// XGROUP (CREATE SETID DESTROY CREATECONSUMER DELCONSUMER HELP) XACK XPENDING XCLAIM XAUTOCLAIM
/// XINFO (STREAM GROUPS CONSUMERS HELP) XSETID.
///
/// Effects are propagated as Redis's: XADD with the generated ID and exact trimming arguments, XREADGROUP as
/// one XCLAIM ... LASTID per delivered entry plus XGROUP SETID ... ENTRIESREAD, XCLAIM/XAUTOCLAIM as XCLAIM
/// ... FORCE JUSTID forms. Blocking reads park through `ctx.block` and run again when a key they wait on
/// changes.
enum StreamCommands {
    static let acl = ["stream"]

    static var specs: [CommandSpec] {
        [
            CommandSpec("xadd", arity: -5, flags: [.write, .denyoom, .fast], keys: .single, group: "stream",
                        summary: "Appends a new entry to a stream", since: "5.0.0",
                        complexity: "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.",
                        acl: acl, arguments: ["key", "[NOMKSTREAM]", "[MAXLEN|MINID [=|~] threshold [LIMIT count]]", "*|id", "field value [field value ...]"],
                        handler: xadd),
            CommandSpec("xrange", arity: -4, flags: [.readonly], keys: .single, group: "stream",
                        summary: "Return a range of elements in a stream, with IDs matching the specified IDs interval",
                        since: "5.0.0", complexity: "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
                        acl: acl, arguments: ["key", "start", "end", "[COUNT count]"]) { try range($0, reverse: false) },
            CommandSpec("xrevrange", arity: -4, flags: [.readonly], keys: .single, group: "stream",
                        summary: "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE",
                        since: "5.0.0", complexity: "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
                        acl: acl, arguments: ["key", "end", "start", "[COUNT count]"]) { try range($0, reverse: true) },
            CommandSpec("xlen", arity: 2, flags: [.readonly, .fast], keys: .single, group: "stream",
                        summary: "Return the number of entries in a stream", since: "5.0.0", acl: acl,
                        arguments: ["key"], handler: xlen),
            CommandSpec("xdel", arity: -3, flags: [.write, .fast], keys: .single, group: "stream",
                        summary: "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.",
                        since: "5.0.0", complexity: "O(1) for each single item to delete in the stream, regardless of the stream size.",
                        acl: acl, arguments: ["key", "id [id ...]"], handler: xdel),
            CommandSpec("xtrim", arity: -4, flags: [.write], keys: .single, group: "stream",
                        summary: "Trims the stream to (approximately if '~' is passed) a certain size", since: "5.0.0",
                        complexity: "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation.",
                        acl: acl, arguments: ["key", "MAXLEN|MINID [=|~] threshold [LIMIT count]"], handler: xtrim),
            CommandSpec("xread", arity: -4, flags: [.readonly, .blocking], group: "stream",
                        summary: "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.",
                        since: "5.0.0", complexity: "For each stream mentioned: O(N) with N being the number of elements being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD will pay O(M) time in order to serve the M clients blocked on the stream getting new data.",
                        acl: ["stream", "blocking"], arguments: ["[COUNT count]", "[BLOCK milliseconds]", "STREAMS key [key ...] id [id ...]"],
                        keyFinder: { streamsKeys($0) }) { try read($0, group: false) },
            CommandSpec("xreadgroup", arity: -7, flags: [.write, .blocking], group: "stream",
                        summary: "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.",
                        since: "5.0.0", complexity: "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.",
                        acl: ["stream", "blocking"], arguments: ["GROUP group consumer", "[COUNT count]", "[BLOCK milliseconds]", "[NOACK]", "STREAMS key [key ...] id [id ...]"],
                        keyFinder: { streamsKeys($0) }) { try read($0, group: true) },
            CommandSpec("xgroup", arity: -2, group: "stream", summary: "A container for consumer groups commands",
                        since: "5.0.0", complexity: "Depends on subcommand.", subcommands: [
                CommandSpec("create", arity: -5, flags: [.write, .denyoom], keys: KeyPositions(first: 2, last: 2, step: 1),
                            group: "stream", summary: "Create a consumer group.", since: "5.0.0", acl: acl,
                            arguments: ["key", "groupname", "id|$", "[MKSTREAM]", "[ENTRIESREAD entries_read]"], handler: xgroup),
                CommandSpec("setid", arity: -5, flags: [.write], keys: KeyPositions(first: 2, last: 2, step: 1),
                            group: "stream", summary: "Set a consumer group to an arbitrary last delivered ID value.",
                            since: "5.0.0", acl: acl, arguments: ["key", "groupname", "id|$", "[ENTRIESREAD entries_read]"], handler: xgroup),
                CommandSpec("destroy", arity: 4, flags: [.write], keys: KeyPositions(first: 2, last: 2, step: 1),
                            group: "stream", summary: "Destroy a consumer group.", since: "5.0.0",
                            complexity: "O(N) where N is the number of entries in the group's pending entries list (PEL).",
                            acl: acl, arguments: ["key", "groupname"], handler: xgroup),
                CommandSpec("createconsumer", arity: 5, flags: [.write, .denyoom], keys: KeyPositions(first: 2, last: 2, step: 1),
                            group: "stream", summary: "Create a consumer in a consumer group.", since: "6.2.0", acl: acl,
                            arguments: ["key", "groupname", "consumername"], handler: xgroup),
                CommandSpec("delconsumer", arity: 5, flags: [.write], keys: KeyPositions(first: 2, last: 2, step: 1),
                            group: "stream", summary: "Delete a consumer from a consumer group.", since: "5.0.0", acl: acl,
                            arguments: ["key", "groupname", "consumername"], handler: xgroup),
                CommandSpec("help", arity: 2, flags: [.loading, .stale], group: "stream",
                            summary: "Show helpful text about the different subcommands", since: "5.0.0", acl: acl, handler: xgroup),
            ], handler: nil),
            CommandSpec("xsetid", arity: -3, flags: [.write, .denyoom, .fast], keys: .single, group: "stream",
                        summary: "An internal command for replicating stream values", since: "5.0.0", acl: acl,
                        arguments: ["key", "last-id", "[ENTRIESADDED entries_added]", "[MAXDELETEDID max_deleted_entry_id]"],
                        handler: xsetid),
            CommandSpec("xack", arity: -4, flags: [.write, .fast], keys: .single, group: "stream",
                        summary: "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.",
                        since: "5.0.0", complexity: "O(1) for each message ID processed.", acl: acl,
                        arguments: ["key", "group", "id [id ...]"], handler: xack),
            CommandSpec("xpending", arity: -3, flags: [.readonly], keys: .single, group: "stream",
                        summary: "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.",
                        since: "5.0.0", complexity: "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.",
                        acl: acl, arguments: ["key", "group", "[[IDLE min-idle-time] start end count [consumer]]"], handler: xpending),
            CommandSpec("xclaim", arity: -6, flags: [.write, .fast], keys: .single, group: "stream",
                        summary: "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.",
                        since: "5.0.0", complexity: "O(log N) with N being the number of messages in the PEL of the consumer group.",
                        acl: acl, arguments: ["key", "group", "consumer", "min-idle-time", "id [id ...]", "[IDLE ms]", "[TIME unix-time-milliseconds]", "[RETRYCOUNT count]", "[FORCE]", "[JUSTID]", "[LASTID id]"],
                        handler: xclaim),
            CommandSpec("xautoclaim", arity: -6, flags: [.write, .fast], keys: .single, group: "stream",
                        summary: "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.",
                        since: "6.2.0", complexity: "O(1) if COUNT is small.", acl: acl,
                        arguments: ["key", "group", "consumer", "min-idle-time", "start", "[COUNT count]", "[JUSTID]"], handler: xautoclaim),
            CommandSpec("xinfo", arity: -2, group: "stream", summary: "A container for stream introspection commands",
                        since: "5.0.0", complexity: "Depends on subcommand.", subcommands: [
                CommandSpec("consumers", arity: 4, flags: [.readonly], keys: KeyPositions(first: 2, last: 2, step: 1),
                            group: "stream", summary: "List the consumers in a consumer group", since: "5.0.0", acl: acl,
                            arguments: ["key", "groupname"], handler: xinfo),
                CommandSpec("groups", arity: 3, flags: [.readonly], keys: KeyPositions(first: 2, last: 2, step: 1),
                            group: "stream", summary: "List the consumer groups of a stream", since: "5.0.0", acl: acl,
                            arguments: ["key"], handler: xinfo),
                CommandSpec("stream", arity: -3, flags: [.readonly], keys: KeyPositions(first: 2, last: 2, step: 1),
                            group: "stream", summary: "Get information about a stream", since: "5.0.0", acl: acl,
                            arguments: ["key", "[FULL [COUNT count]]"], handler: xinfo),
                CommandSpec("help", arity: 2, flags: [.loading, .stale], group: "stream",
                            summary: "Show helpful text about the different subcommands", since: "5.0.0", acl: acl, handler: xinfo),
            ], handler: nil),
        ]
    }

    /// XREAD/XREADGROUP keys: the first half of the arguments after STREAMS.
    static func streamsKeys(_ args: [ByteBuffer]) -> [Int] {
        for i in 1..<args.count where String(buffer: args[i]).uppercased() == "STREAMS" {
            let n = (args.count - i - 1) / 2
            return n > 0 ? Array((i + 1)...(i + n)) : []
        }
        return []
    }

    // MARK: errors

    static let invalidID = CommandError.err("Invalid stream ID specified as stream command argument")

    static func noGroup(_ key: Bytes, _ group: Bytes) -> CommandError {
        CommandError("NOGROUP No such key '\(key)' or consumer group '\(group)'")
    }

    // MARK: IDs

    /// Redis's string2ull: string2ll for canonical numbers, else strtoull (leading spaces, a sign, zeros).
    static func parseULL(_ s: ArraySlice<UInt8>) -> UInt64? {
        if let v = ListpackSize.strictInt64(Array(s)) { return v < 0 ? nil : UInt64(v) }
        var i = s.startIndex
        while i < s.endIndex, s[i] == 0x20 || (s[i] >= 0x09 && s[i] <= 0x0D) { i += 1 }
        var negative = false
        if i < s.endIndex, s[i] == 0x2B || s[i] == 0x2D { negative = s[i] == 0x2D; i += 1 }
        guard i < s.endIndex else { return nil }
        var v: UInt64 = 0
        while i < s.endIndex {
            let c = s[i]
            guard c >= 0x30 && c <= 0x39 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - 0x30))
            if o1 || o2 { return nil }
            v = a
            i += 1
        }
        return negative ? 0 &- v : v
    }

    /// streamGenericParseIDOrReply. `seqStar` accepts `<ms>-*` (then `seqGiven` is false).
    static func parseID(_ b: [UInt8], missingSeq: UInt64, strict: Bool, seqStar: Bool = false) throws
        -> (id: StreamID, seqGiven: Bool) {
        if b.count > 127 { throw invalidID }
        if b.count == 1 && (b[0] == 0x2D || b[0] == 0x2B) {
            if strict { throw invalidID }
            return (b[0] == 0x2D ? .zero : .max, true)
        }
        // The C code stops at a NUL byte.
        let s = b.prefix { $0 != 0 }
        guard let dash = s.firstIndex(of: 0x2D) else {
            guard let ms = parseULL(s[...]) else { throw invalidID }
            return (StreamID(ms: ms, seq: missingSeq), true)
        }
        guard let ms = parseULL(s[s.startIndex..<dash]) else { throw invalidID }
        let rest = s[(dash + 1)...]
        if seqStar && rest.count == 1 && rest.first == 0x2A { return (StreamID(ms: ms, seq: 0), false) }
        guard let seq = parseULL(rest) else { throw invalidID }
        return (StreamID(ms: ms, seq: seq), true)
    }

    static func parseID(_ ctx: CommandContext, _ i: Int, missingSeq: UInt64 = 0, strict: Bool) throws -> StreamID {
        try parseID(ctx.bytes(i).array, missingSeq: missingSeq, strict: strict).id
    }

    /// streamParseIntervalIDOrReply: `(` makes the bound exclusive (then `-`/`+` are refused).
    static func parseInterval(_ ctx: CommandContext, _ i: Int, missingSeq: UInt64) throws -> (StreamID, Bool) {
        let b = ctx.bytes(i).array
        if b.count > 1 && b[0] == 0x28 {
            return (try parseID(Array(b[1...]), missingSeq: missingSeq, strict: true).id, true)
        }
        return (try parseID(b, missingSeq: missingSeq, strict: false).id, false)
    }

    static func startBound(_ ctx: CommandContext, _ i: Int) throws -> StreamID {
        let (id, exclusive) = try parseInterval(ctx, i, missingSeq: 0)
        if !exclusive { return id }
        guard let next = id.successor else { throw CommandError.err("invalid start ID for the interval") }
        return next
    }

    static func endBound(_ ctx: CommandContext, _ i: Int) throws -> StreamID {
        let (id, exclusive) = try parseInterval(ctx, i, missingSeq: .max)
        if !exclusive { return id }
        guard let previous = id.predecessor else { throw CommandError.err("invalid end ID for the interval") }
        return previous
    }

    // MARK: replies

    static func reply(_ ctx: CommandContext, _ id: StreamID) { ctx.bulk(id.description) }

    static func reply(_ ctx: CommandContext, _ e: StreamEntry) {
        ctx.arrayHeader(2)
        reply(ctx, e.id)
        ctx.arrayHeader(e.fields.count)
        for f in e.fields { ctx.bulk(f) }
    }

    static func reply(_ ctx: CommandContext, entries: [StreamEntry]) {
        ctx.arrayHeader(entries.count)
        for e in entries { reply(ctx, e) }
    }

    static func word(_ s: String) -> ByteBuffer { ByteBuffer(string: s) }
    static func buffer(_ b: Bytes) -> ByteBuffer { ByteBuffer(bytes: b.array) }

    // MARK: access

    /// The stream at `key` (nil when absent; WRONGTYPE for another kind), read without copying it twice.
    static func readStream(_ ctx: CommandContext, _ key: Bytes, countHit: Bool = true) throws -> StreamValue? {
        let record = countHit ? ctx.keyspace.lookupRead(key) : ctx.keyspace.peek(key)
        guard let record else { return nil }
        guard case .stream(let s) = record.value else { throw CommandError.wrongType }
        return s
    }

    /// Edits the stream at `key` in place. nil (body not run) when the key is absent and `create` is false.
    /// `modified` signals the key as Redis's signalModifiedKey does (WATCH, blocked readers, dirty); otherwise
    /// the caller counts its own dirty changes.
    static func editStream<R>(_ ctx: CommandContext, _ key: Bytes, create: Bool = false, modified: Bool,
                              _ body: (inout StreamValue) throws -> R) throws -> R? {
        let keyspace = ctx.keyspace
        let exists = try keyspace.collection(key, .stream, read: false) != nil
        if !exists && !create { return nil }
        func edit(_ value: inout StoredValue?) throws -> R {
            var s: StreamValue
            if case .stream(let existing)? = value { s = existing } else { s = StreamValue() }
            value = nil
            defer { value = .stream(s) }
            return try body(&s)
        }
        if modified || !exists {
            return try keyspace.update(key, kind: .stream) { try edit(&$0) }
        }
        return try keyspace.database.update(key) { try edit(&$0) }
    }

    static func limits(_ ctx: CommandContext) -> StreamValue.NodeLimits {
        StreamValue.NodeLimits(maxBytes: ctx.server.config.streamNodeMaxBytes,
                               maxEntries: ctx.server.config.streamNodeMaxEntries)
    }

    // MARK: XADD / XTRIM arguments

    struct AddTrimArguments {
        var id: StreamID?
        var seqGiven = true
        var noMakeStream = false
        var strategy: StreamValue.TrimStrategy?
        var strategyArgIndex = 0
        var approximate = false
        var limit = 0
        var idIndex = 0
    }

    /// streamParseAddOrTrimArgsOrReply.
    static func parseAddTrim(_ ctx: CommandContext, xadd: Bool) throws -> AddTrimArguments {
        var a = AddTrimArguments()
        var limitGiven = false
        var i = 2
        while i < ctx.argc {
            let moreargs = ctx.argc - 1 - i
            if xadd && ctx.arguments[i].readableBytes == 1 && ctx.bytes(i).array[0] == 0x2A {
                break
            } else if (ctx.argument(i, is: "MAXLEN") || ctx.argument(i, is: "MINID")) && moreargs > 0 {
                let maxlen = ctx.argument(i, is: "MAXLEN")
                if a.strategy != nil {
                    throw CommandError.err("syntax error, MAXLEN and MINID options at the same time are not compatible")
                }
                a.approximate = false
                let next = ctx.bytes(i + 1).array
                if moreargs >= 2 && next == [0x7E] { a.approximate = true; i += 1 }
                else if moreargs >= 2 && next == [0x3D] { i += 1 }
                if maxlen {
                    let n = try ctx.int(i + 1)
                    if n < 0 { throw CommandError.err("The MAXLEN argument must be >= 0.") }
                    a.strategy = .maxLength(n)
                } else {
                    a.strategy = .minID(try parseID(ctx, i + 1, strict: true))
                }
                i += 1
                a.strategyArgIndex = i
            } else if ctx.argument(i, is: "LIMIT") && moreargs > 0 {
                let n = try ctx.int(i + 1)
                if n < 0 { throw CommandError.err("The LIMIT argument must be >= 0.") }
                a.limit = n
                limitGiven = true
                i += 1
            } else if xadd && ctx.argument(i, is: "NOMKSTREAM") {
                a.noMakeStream = true
            } else if xadd {
                let (id, seqGiven) = try parseID(ctx.bytes(i).array, missingSeq: 0, strict: true, seqStar: true)
                a.id = id
                a.seqGiven = seqGiven
                break
            } else {
                throw CommandError.syntax
            }
            i += 1
        }
        a.idIndex = i
        if a.limit != 0 && a.strategy == nil {
            throw CommandError.err("syntax error, LIMIT cannot be used without specifying a trimming strategy")
        }
        if !xadd && a.strategy == nil {
            throw CommandError.err("syntax error, XTRIM must be called with a trimming strategy")
        }
        if ctx.client.flags.contains(.master) {
            // The master's trimming arguments are already exact.
            a.limit = 0
        } else if limitGiven {
            if !a.approximate { throw CommandError.err("syntax error, LIMIT cannot be used without the special ~ option") }
        } else if a.approximate {
            a.limit = 100 * ctx.server.config.streamNodeMaxEntries
            if a.limit <= 0 { a.limit = 10000 }
            if a.limit > 1_000_000 { a.limit = 1_000_000 }
        } else {
            a.limit = 0
        }
        return a
    }

    /// The arguments with an approximate trim rewritten to `= <exact result>` (streamRewriteTrimArgument).
    static func rewriteTrim(_ args: inout [ByteBuffer], _ a: AddTrimArguments, _ s: StreamValue) {
        guard a.approximate, let strategy = a.strategy else { return }
        args[a.strategyArgIndex - 1] = word("=")
        args[a.strategyArgIndex] = word(s.trimResultArgument(strategy))
    }

    // MARK: XADD

    static func xadd(_ ctx: CommandContext) throws {
        let a = try parseAddTrim(ctx, xadd: true)
        let fieldPos = a.idIndex + 1
        let nfields = ctx.argc - fieldPos
        if nfields < 2 || nfields % 2 == 1 { throw CommandError.wrongArity(ctx.spec.fullName) }
        if let id = a.id, a.seqGiven, id.isZero { throw CommandError.err("The ID specified in XADD must be greater than 0-0") }
        let key = ctx.bytes(1)
        if a.noMakeStream, try ctx.keyspace.collection(key, .stream, read: false) == nil {
            return ctx.null()
        }
        let fields = (fieldPos..<ctx.argc).map { ctx.bytes($0) }
        var total = 0
        for f in fields { total += f.count }
        let limits = self.limits(ctx)
        let now = UInt64(max(0, ctx.server.commandTimeMillis))
        var trimmed = 0
        var args = ctx.arguments
        let added: StreamID = try editStream(ctx, key, create: true, modified: true) { s in
            if s.lastID == .max {
                throw CommandError.err("The stream has exhausted the last possible ID, unable to add more items")
            }
            var id: StreamID
            if let given = a.id {
                if a.seqGiven {
                    id = given
                } else if s.lastID.ms == given.ms {
                    guard s.lastID.seq != .max else { throw equalOrSmaller }
                    id = StreamID(ms: given.ms, seq: s.lastID.seq + 1)
                } else {
                    id = given
                }
            } else if now > s.lastID.ms {
                id = StreamID(ms: now, seq: 0)
            } else {
                guard let next = s.lastID.successor else { throw equalOrSmaller }
                id = next
            }
            if id <= s.lastID { throw equalOrSmaller }
            if total > 1 << 30 { throw CommandError.err("Elements are too large to be stored") }
            s.append(id: id, fields: fields, limits: limits)
            if let strategy = a.strategy {
                trimmed = s.trim(strategy, approximate: a.approximate, limit: a.limit)
                rewriteTrim(&args, a, s)
            }
            return id
        }!
        reply(ctx, added)
        ctx.notify(.stream, "xadd", key)
        if trimmed > 0 { ctx.notify(.stream, "xtrim", key) }
        if a.id == nil || !a.seqGiven { args[a.idIndex] = word(added.description) }
        ctx.propagate(args)
    }

    static let equalOrSmaller = CommandError.err("The ID specified in XADD is equal or smaller than the target stream top item")

    // MARK: XTRIM

    static func xtrim(_ ctx: CommandContext) throws {
        let a = try parseAddTrim(ctx, xadd: false)
        let key = ctx.bytes(1)
        var args = ctx.arguments
        let deleted = try editStream(ctx, key, modified: false) { s -> Int in
            let n = s.trim(a.strategy!, approximate: a.approximate, limit: a.limit)
            if n > 0 { rewriteTrim(&args, a, s) }
            return n
        } ?? 0
        if deleted > 0 {
            ctx.notify(.stream, "xtrim", key)
            ctx.keyspace.modified(key)
            ctx.server.dirty += deleted - 1
            ctx.propagate(args)
        }
        ctx.integer(deleted)
    }

    // MARK: XRANGE / XREVRANGE / XLEN

    static func range(_ ctx: CommandContext, reverse: Bool) throws {
        let start = try startBound(ctx, reverse ? 3 : 2)
        let end = try endBound(ctx, reverse ? 2 : 3)
        var count = -1
        var j = 4
        while j < ctx.argc {
            if ctx.argument(j, is: "COUNT") && j + 1 < ctx.argc {
                count = max(0, try ctx.int(j + 1))
                j += 2
            } else {
                throw CommandError.syntax
            }
        }
        guard let s = try readStream(ctx, ctx.bytes(1)) else { return ctx.arrayHeader(0) }
        if count == 0 { return ctx.nullArray() }
        reply(ctx, entries: s.range(start, end, count: max(0, count), reverse: reverse))
    }

    static func xlen(_ ctx: CommandContext) throws {
        ctx.integer(try readStream(ctx, ctx.bytes(1))?.length ?? 0)
    }

    // MARK: XDEL

    static func xdel(_ ctx: CommandContext) throws {
        let key = ctx.bytes(1)
        guard try ctx.keyspace.collection(key, .stream, read: false) != nil else { return ctx.integer(0) }
        let ids = try (2..<ctx.argc).map { try parseID(ctx, $0, strict: true) }
        let deleted = try editStream(ctx, key, modified: false) { s -> Int in
            var n = 0
            for id in ids where s.delete(id) { n += 1 }
            return n
        } ?? 0
        if deleted > 0 {
            ctx.keyspace.modified(key)
            ctx.notify(.stream, "xdel", key)
            ctx.server.dirty += deleted - 1
        }
        ctx.integer(deleted)
    }

    // MARK: XREAD / XREADGROUP

    static let blockedDefaultCount = 1000

    static func read(_ ctx: CommandContext, group xreadgroup: Bool) throws {
        let rerun = ctx.server.blocking.rerunDeadline != nil
        var timeout: Int64? = nil
        var blocks = false
        var count = 0
        var streamsArg = 0
        var streamsCount = 0
        var noack = false
        var groupName: Bytes?
        var consumerName = Bytes()
        var i = 1
        while i < ctx.argc {
            let moreargs = ctx.argc - i - 1
            if ctx.argument(i, is: "BLOCK") && moreargs > 0 {
                i += 1
                let t = try ctx.int(i, error: .err("timeout is not an integer or out of range"))
                if t < 0 { throw CommandError.err("timeout is negative") }
                blocks = true
                timeout = t == 0 ? nil : Int64(t)
            } else if ctx.argument(i, is: "COUNT") && moreargs > 0 {
                i += 1
                count = max(0, try ctx.int(i))
            } else if ctx.argument(i, is: "STREAMS") && moreargs > 0 {
                streamsArg = i + 1
                streamsCount = ctx.argc - streamsArg
                if streamsCount % 2 != 0 {
                    throw CommandError.err("Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.")
                }
                streamsCount /= 2
                break
            } else if ctx.argument(i, is: "GROUP") && moreargs >= 2 {
                if !xreadgroup {
                    throw CommandError.err("The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
                }
                groupName = ctx.bytes(i + 1)
                consumerName = ctx.bytes(i + 2)
                i += 2
            } else if ctx.argument(i, is: "NOACK") {
                if !xreadgroup {
                    throw CommandError.err("The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
                }
                noack = true
            } else {
                throw CommandError.syntax
            }
            i += 1
        }
        if streamsArg == 0 { throw CommandError.syntax }
        if xreadgroup && groupName == nil { throw CommandError.err("Missing GROUP option for XREADGROUP") }

        // Resolve the IDs (and, on XREADGROUP, the groups) first: any error leaves everything untouched.
        let keys = (0..<streamsCount).map { ctx.bytes(streamsArg + $0) }
        var ids: [StreamID] = []
        var newOnly: [Bool] = []
        var dollar: [Bool] = []
        for (n, key) in keys.enumerated() {
            let argIndex = streamsArg + streamsCount + n
            let s: StreamValue?
            do {
                s = try readStream(ctx, key)
            } catch let e as CommandError where rerun && e == CommandError.wrongType {
                if xreadgroup { throw CommandError("UNBLOCKED the stream key no longer exists") }
                // XREAD waits on: the key is not a stream (any more); keep waiting.
                return ctx.block(on: keys, timeoutMillis: timeout)
            }
            if let groupName {
                if s == nil || s!.group(groupName) == nil {
                    if rerun && s == nil { throw CommandError("UNBLOCKED the stream key no longer exists") }
                    if rerun { throw CommandError("NOGROUP the consumer group this client was blocked on no longer exists") }
                    throw CommandError("NOGROUP No such key '\(key)' or consumer group '\(groupName)' in XREADGROUP with GROUP option")
                }
            }
            let arg = ctx.bytes(argIndex).array
            if arg == [0x24] {
                if xreadgroup {
                    throw CommandError.err("The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")
                }
                ids.append(s?.lastID ?? .zero); newOnly.append(false); dollar.append(true)
            } else if arg == [0x3E] {
                if !xreadgroup {
                    throw CommandError.err("The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")
                }
                ids.append(.max); newOnly.append(true); dollar.append(false)
            } else {
                ids.append(try parseID(arg, missingSeq: 0, strict: true).id); newOnly.append(false); dollar.append(false)
            }
        }
        if rerun && count == 0 { count = blockedDefaultCount }

        // Serve what can be served now.
        var served = 0
        var headerWritten = false
        // The reply's top-level length is known only at the end: collect per-stream replies first.
        var sections: [(key: Bytes, write: () -> Void)] = []
        for (n, key) in keys.enumerated() {
            guard try ctx.keyspace.collection(key, .stream, read: false) != nil else { continue }
            if let groupName {
                if let section = try serveGroup(ctx, key: key, group: groupName, consumer: consumerName,
                                                after: ids[n], newOnly: newOnly[n], count: count, noack: noack) {
                    sections.append((key, section))
                }
            } else {
                guard let s = try readStream(ctx, key, countHit: false), let maxID = s.lastValidID, maxID > ids[n],
                      let start = ids[n].successor else { continue }
                let entries = s.range(start, .max, count: count)
                sections.append((key, { reply(ctx, entries: entries) }))
            }
        }
        served = sections.count
        if served > 0 {
            if ctx.resp == .resp2 { ctx.arrayHeader(served) } else { ctx.mapHeader(served) }
            headerWritten = true
            for section in sections {
                if ctx.resp == .resp2 { ctx.arrayHeader(2) }
                ctx.bulk(section.key)
                section.write()
            }
        }
        ctx.preventPropagation()
        if headerWritten { return }
        if blocks {
            guard ctx.mayBlock else { return ctx.nullArray() }
            // `$` becomes the ID it stood for, so the command run again later reads only newer entries.
            var args = ctx.arguments
            for n in 0..<streamsCount where dollar[n] {
                args[streamsArg + streamsCount + n] = word(ids[n].description)
            }
            return ctx.block(on: keys, timeoutMillis: timeout, arguments: args)
        }
        ctx.nullArray()
    }

    /// One stream of an XREADGROUP: new entries (`>`) or the consumer's history after `after`. Updates the
    /// group, the PEL and the consumer, propagates the XCLAIM/XGROUP SETID effects; returns the reply writer,
    /// nil when there is nothing to serve.
    static func serveGroup(_ ctx: CommandContext, key: Bytes, group: Bytes, consumer: Bytes, after: StreamID,
                           newOnly: Bool, count: Int, noack: Bool) throws -> (() -> Void)? {
        let now = ctx.server.commandTimeMillis
        var effects: [[ByteBuffer]] = []
        var dirty = 0
        let section: (() -> Void)? = try editStream(ctx, key, modified: false) { s -> (() -> Void)? in
            let gi = s.groupIndex(group).index
            var start = after
            if newOnly {
                // Nothing new: 7.0 creates the consumer only for a stream it serves.
                guard s.length > 0, let maxID = s.lastValidID, maxID > s.groups[gi].lastID else { return nil }
                start = s.groups[gi].lastID
            }
            touchConsumer(&s, gi, consumer, now: now, key: key, ctx: ctx, noack: noack, effects: &effects, dirty: &dirty)
            guard let from = start.successor else { return { ctx.arrayHeader(0) } }
            if !newOnly {
                // History: the consumer's own PEL, with entries deleted meanwhile as [id, nil].
                let ci = s.groups[gi].consumerIndex(consumer).index
                var items: [(StreamID, StreamEntry?)] = []
                for id in s.groups[gi].consumers[ci].pending.from(from) {
                    if count > 0 && items.count == count { break }
                    let e = s.entry(id)
                    if e != nil {
                        s.groups[gi].pel[id]!.deliveryTime = now
                        s.groups[gi].pel[id]!.deliveryCount += 1
                    }
                    items.append((id, e))
                }
                return {
                    ctx.arrayHeader(items.count)
                    for (id, e) in items {
                        if let e { reply(ctx, e) } else {
                            ctx.arrayHeader(2)
                            reply(ctx, id)
                            ctx.nullArray()
                        }
                    }
                }
            }
            let entries = s.range(from, .max, count: count)
            var advanced = false
            for e in entries {
                if e.id > s.groups[gi].lastID {
                    s.advanceGroup(gi, to: e.id)
                    advanced = true
                }
                if !noack {
                    s.groups[gi].assignPending(e.id, to: consumer, deliveryTime: now, deliveryCount: 1)
                    let g = s.groups[gi]
                    effects.append(claimEffect(key, group, consumer, e.id, g.pel[e.id]!, lastID: g.lastID))
                }
            }
            // 7.0 propagates the group's new last ID only with NOACK (otherwise the XCLAIMs carry LASTID).
            if advanced && noack {
                let g = s.groups[gi]
                effects.append([word("XGROUP"), word("SETID"), buffer(key), buffer(group), word(g.lastID.description),
                                word("ENTRIESREAD"), word(String(g.entriesRead))])
            }
            return { reply(ctx, entries: entries) }
        } ?? nil
        for e in effects { ctx.server.propagate(Effect(db: ctx.client.db, arguments: e)) }
        if !effects.isEmpty { dirty += 1 }
        ctx.server.dirty += dirty
        return section
    }

    /// Looks the consumer up, creating it (event, dirty, and with NOACK an XGROUP CREATECONSUMER effect)
    /// when new; refreshes its seen time.
    static func touchConsumer(_ s: inout StreamValue, _ gi: Int, _ consumer: Bytes, now: Int64, key: Bytes,
                              ctx: CommandContext, noack: Bool, effects: inout [[ByteBuffer]], dirty: inout Int) {
        let (found, ci) = s.groups[gi].consumerIndex(consumer)
        if found {
            s.groups[gi].consumers[ci].seenTime = now
            return
        }
        s.groups[gi].addConsumer(consumer, seenTime: now)
        dirty += 1
        ctx.notify(.stream, "xgroup-createconsumer", key)
        if noack {
            effects.append([word("XGROUP"), word("CREATECONSUMER"), buffer(key), buffer(s.groups[gi].name), buffer(consumer)])
        }
    }

    /// streamPropagateXCLAIM: XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID last.
    static func claimEffect(_ key: Bytes, _ group: Bytes, _ consumer: Bytes, _ id: StreamID, _ p: StreamPending,
                            lastID: StreamID) -> [ByteBuffer] {
        [word("XCLAIM"), buffer(key), buffer(group), buffer(consumer), word("0"), word(id.description),
         word("TIME"), word(String(p.deliveryTime)), word("RETRYCOUNT"), word(String(p.deliveryCount)),
         word("FORCE"), word("JUSTID"), word("LASTID"), word(lastID.description)]
    }

    // MARK: XGROUP

    static func xgroup(_ ctx: CommandContext) throws {
        let sub = ctx.string(1).uppercased()
        if sub == "HELP" {
            return ServerCommands.help(ctx, "XGROUP", [
                "CREATE <key> <groupname> <id|$> [option]",
                "    Create a new consumer group. Options are:",
                "    * MKSTREAM",
                "      Create the empty stream if it does not exist.",
                "    * ENTRIESREAD entries_read",
                "      Set the group's entries_read counter (internal use).",
                "CREATECONSUMER <key> <groupname> <consumer>",
                "    Create a new consumer in the specified group.",
                "DELCONSUMER <key> <groupname> <consumer>",
                "    Remove the specified consumer.",
                "DESTROY <key> <groupname>",
                "    Remove the specified group.",
                "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
                "    Set the current group ID and entries_read counter.",
            ])
        }
        var mkstream = false
        var entriesRead = StreamGroup.invalidEntriesRead
        var i = 5
        while i < ctx.argc {
            if sub == "CREATE" && ctx.argument(i, is: "MKSTREAM") {
                mkstream = true
                i += 1
            } else if (sub == "CREATE" || sub == "SETID") && ctx.argument(i, is: "ENTRIESREAD") && i + 1 < ctx.argc {
                let n = try ctx.int(i + 1)
                if n < 0 && Int64(n) != StreamGroup.invalidEntriesRead {
                    throw CommandError.err("value for ENTRIESREAD must be positive or -1")
                }
                entriesRead = Int64(n)
                i += 2
            } else {
                throw ServerCommands.subcommandSyntaxError(ctx)
            }
        }
        let key = ctx.bytes(2), group = ctx.bytes(3)
        let existing = try readStream(ctx, key, countHit: false)
        if !mkstream {
            guard let s = existing else {
                throw CommandError.err("The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.")
            }
            if s.group(group) == nil && ["SETID", "CREATECONSUMER", "DELCONSUMER"].contains(sub) {
                throw CommandError("NOGROUP No such consumer group '\(group)' for key name '\(key)'")
            }
        }
        let now = ctx.server.commandTimeMillis
        switch sub {
        case "CREATE":
            let id: StreamID
            if ctx.bytes(4).array == [0x24] { id = existing?.lastID ?? .zero } else { id = try parseID(ctx, 4, strict: true) }
            let created = try editStream(ctx, key, create: true, modified: existing == nil) { s in
                s.createGroup(group, lastID: id, entriesRead: entriesRead)
            }!
            guard created else { throw CommandError("BUSYGROUP Consumer Group name already exists") }
            if existing != nil { ctx.server.dirty += 1 }
            ctx.notify(.stream, "xgroup-create", key)
            ctx.ok()
        case "SETID":
            let id: StreamID
            if ctx.bytes(4).array == [0x24] { id = existing!.lastID } else { id = try parseID(ctx, 4, strict: false) }
            _ = try editStream(ctx, key, modified: false) { s in
                let gi = s.groupIndex(group).index
                s.groups[gi].lastID = id
                s.groups[gi].entriesRead = entriesRead
            }
            ctx.server.dirty += 1
            ctx.notify(.stream, "xgroup-setid", key)
            ctx.ok()
        case "DESTROY":
            guard existing?.group(group) != nil else { return ctx.integer(0) }
            _ = try editStream(ctx, key, modified: false) { s in s.groups.remove(at: s.groupIndex(group).index) }
            ctx.server.dirty += 1
            ctx.notify(.stream, "xgroup-destroy", key)
            // Wakes XREADGROUP clients blocked on this group: they get -NOGROUP.
            ctx.server.blocking.keyTouched(db: ctx.client.db, key: key)
            ctx.integer(1)
        case "CREATECONSUMER":
            let consumer = ctx.bytes(4)
            let created = try editStream(ctx, key, modified: false) { s in
                s.groups[s.groupIndex(group).index].addConsumer(consumer, seenTime: now)
            }!
            if created {
                ctx.server.dirty += 1
                ctx.notify(.stream, "xgroup-createconsumer", key)
            }
            ctx.integer(created ? 1 : 0)
        case "DELCONSUMER":
            let consumer = ctx.bytes(4)
            let pending = try editStream(ctx, key, modified: false) { s -> Int in
                let gi = s.groupIndex(group).index
                let (found, ci) = s.groups[gi].consumerIndex(consumer)
                guard found else { return -1 }
                let ids = s.groups[gi].consumers[ci].pending
                for id in ids { s.groups[gi].removePending(id) }
                s.groups[gi].consumers.remove(at: ci)
                return ids.count
            }!
            if pending >= 0 {
                ctx.server.dirty += 1
                ctx.notify(.stream, "xgroup-delconsumer", key)
            }
            ctx.integer(max(0, pending))
        default:
            throw ServerCommands.subcommandSyntaxError(ctx)
        }
    }

    // MARK: XSETID

    static func xsetid(_ ctx: CommandContext) throws {
        let id = try parseID(ctx, 2, strict: true)
        var entriesAdded: Int64 = -1
        var maxDeleted = StreamID.zero
        var i = 3
        while i < ctx.argc {
            let moreargs = ctx.argc - 1 - i
            if ctx.argument(i, is: "ENTRIESADDED") && moreargs > 0 {
                let n = try ctx.int(i + 1)
                if n < 0 { throw CommandError.err("entries_added must be positive") }
                entriesAdded = Int64(n)
                i += 2
            } else if ctx.argument(i, is: "MAXDELETEDID") && moreargs > 0 {
                maxDeleted = try parseID(ctx, i + 1, strict: true)
                if id < maxDeleted {
                    throw CommandError.err("The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
                }
                i += 2
            } else {
                throw CommandError.syntax
            }
        }
        let key = ctx.bytes(1)
        guard let s = try readStream(ctx, key, countHit: false) else { throw CommandError.noSuchKey }
        if s.length > 0 {
            if let maxID = s.lastValidID, id < maxID {
                throw CommandError.err("The ID specified in XSETID is smaller than the target stream top item")
            }
            if entriesAdded != -1 && Int64(s.length) > entriesAdded {
                throw CommandError.err("The entries_added specified in XSETID is smaller than the target stream length")
            }
        }
        _ = try editStream(ctx, key, modified: false) { s in
            s.lastID = id
            if entriesAdded != -1 { s.entriesAdded = UInt64(entriesAdded) }
            if !maxDeleted.isZero { s.maxDeletedID = maxDeleted }
        }
        ctx.server.dirty += 1
        ctx.notify(.stream, "xsetid", key)
        ctx.ok()
    }

    // MARK: XACK

    static func xack(_ ctx: CommandContext) throws {
        let key = ctx.bytes(1), group = ctx.bytes(2)
        guard let s = try readStream(ctx, key, countHit: true), s.group(group) != nil else { return ctx.integer(0) }
        let ids = try (3..<ctx.argc).map { try parseID(ctx, $0, strict: true) }
        let acked = try editStream(ctx, key, modified: false) { s -> Int in
            let gi = s.groupIndex(group).index
            var n = 0
            for id in ids where s.groups[gi].removePending(id) { n += 1 }
            return n
        } ?? 0
        ctx.server.dirty += acked
        ctx.integer(acked)
    }

    // MARK: XPENDING

    static func xpending(_ ctx: CommandContext) throws {
        let key = ctx.bytes(1), group = ctx.bytes(2)
        let justInfo = ctx.argc == 3
        if ctx.argc != 3 && (ctx.argc < 6 || ctx.argc > 9) { throw CommandError.syntax }
        var start = StreamID.zero, end = StreamID.max
        var count = 0
        var minIdle = 0
        var consumer: Bytes?
        if ctx.argc >= 6 {
            var startIndex = 3
            if ctx.argument(3, is: "IDLE") {
                minIdle = try ctx.int(4)
                if ctx.argc < 8 { throw CommandError.syntax }
                startIndex += 2
            }
            count = max(0, try ctx.int(startIndex + 2))
            start = try startBound(ctx, startIndex)
            end = try endBound(ctx, startIndex + 1)
            if startIndex + 3 < ctx.argc { consumer = ctx.bytes(startIndex + 3) }
        }
        guard let s = try readStream(ctx, key), let g = s.group(group) else { throw noGroup(key, group) }
        if justInfo {
            ctx.arrayHeader(4)
            ctx.integer(g.pel.count)
            guard let first = g.pelIDs.first, let last = g.pelIDs.last else {
                ctx.null()
                ctx.null()
                ctx.nullArray()
                return
            }
            reply(ctx, first)
            reply(ctx, last)
            let withPending = g.consumers.filter { !$0.pending.isEmpty }
            ctx.arrayHeader(withPending.count)
            for c in withPending {
                ctx.arrayHeader(2)
                ctx.bulk(c.name)
                ctx.bulk(String(c.pending.count))
            }
            return
        }
        let ids: ArraySlice<StreamID>
        if let consumer {
            let (found, ci) = g.consumerIndex(consumer)
            guard found else { return ctx.arrayHeader(0) }
            ids = g.consumers[ci].pending.from(start)
        } else {
            ids = g.pelIDs.from(start)
        }
        let now = ctx.server.commandTimeMillis
        var rows: [(StreamID, StreamPending)] = []
        for id in ids {
            if count == 0 || id > end { break }
            let p = g.pel[id]!
            if minIdle != 0 && now - p.deliveryTime < Int64(minIdle) { continue }
            rows.append((id, p))
            count -= 1
        }
        ctx.arrayHeader(rows.count)
        for (id, p) in rows {
            ctx.arrayHeader(4)
            reply(ctx, id)
            ctx.bulk(p.consumer)
            ctx.integer(Int(max(0, now - p.deliveryTime)))
            ctx.integer(Int(truncatingIfNeeded: p.deliveryCount))
        }
    }

    // MARK: XCLAIM

    static func xclaim(_ ctx: CommandContext) throws {
        let key = ctx.bytes(1), group = ctx.bytes(2), consumer = ctx.bytes(3)
        guard let s0 = try readStream(ctx, key), s0.group(group) != nil else { throw noGroup(key, group) }
        var minIdle = try ctx.int(4, error: .err("Invalid min-idle-time argument for XCLAIM"))
        if minIdle < 0 { minIdle = 0 }
        var ids: [(StreamID, Int)] = []
        var j = 5
        while j < ctx.argc, let id = try? parseID(ctx, j, strict: true) {
            ids.append((id, j))
            j += 1
        }
        let now = ctx.server.commandTimeMillis
        var retryCount: Int? = nil
        var deliveryTime: Int64? = nil
        var force = false, justID = false
        var lastID = StreamID.zero
        while j < ctx.argc {
            let moreargs = ctx.argc - 1 - j
            if ctx.argument(j, is: "FORCE") {
                force = true
            } else if ctx.argument(j, is: "JUSTID") {
                justID = true
            } else if ctx.argument(j, is: "IDLE") && moreargs > 0 {
                j += 1
                deliveryTime = now - Int64(try ctx.int(j, error: .err("Invalid IDLE option argument for XCLAIM")))
            } else if ctx.argument(j, is: "TIME") && moreargs > 0 {
                j += 1
                deliveryTime = Int64(try ctx.int(j, error: .err("Invalid TIME option argument for XCLAIM")))
            } else if ctx.argument(j, is: "RETRYCOUNT") && moreargs > 0 {
                j += 1
                retryCount = try ctx.int(j, error: .err("Invalid RETRYCOUNT option argument for XCLAIM"))
            } else if ctx.argument(j, is: "LASTID") && moreargs > 0 {
                j += 1
                lastID = try parseID(ctx, j, strict: true)
            } else {
                throw CommandError.err("Unrecognized XCLAIM option '\(ctx.string(j))'")
            }
            j += 1
        }
        var delivery = deliveryTime ?? now
        if delivery < 0 || delivery > now { delivery = now }
        var effects: [[ByteBuffer]] = []
        var dirty = 0
        let claimed: [(StreamID, StreamEntry?)] = try editStream(ctx, key, modified: false) { s in
            let gi = s.groupIndex(group).index
            var propagateLastID = false
            if lastID > s.groups[gi].lastID {
                s.groups[gi].lastID = lastID
                propagateLastID = true
            }
            var seen = false
            var out: [(StreamID, StreamEntry?)] = []
            for (id, argIndex) in ids {
                let idArg = ctx.bytes(argIndex)
                let nack = s.groups[gi].pel[id]
                guard let entry = s.entry(id) else {
                    if let nack {
                        effects.append(claimEffect(key, group, nack.consumer, id, nack, lastID: s.groups[gi].lastID, idArg: idArg))
                        propagateLastID = false
                        dirty += 1
                        s.groups[gi].removePending(id)
                    }
                    continue
                }
                var p: StreamPending
                if let nack {
                    if minIdle > 0 && now - nack.deliveryTime < Int64(minIdle) { continue }
                    p = nack
                } else if force {
                    p = StreamPending(consumer: consumer, deliveryTime: now, deliveryCount: 1)
                } else {
                    continue
                }
                // 7.0 creates (or refreshes) the claiming consumer at its first claimed entry.
                if !seen {
                    claimerSeen(&s, gi, consumer, now: now, key: key, ctx: ctx, dirty: &dirty)
                    seen = true
                }
                if let retryCount { p.deliveryCount = UInt64(truncatingIfNeeded: retryCount) }
                else if !justID { p.deliveryCount += 1 }
                s.groups[gi].assignPending(id, to: consumer, deliveryTime: delivery, deliveryCount: p.deliveryCount)
                out.append((id, justID ? nil : entry))
                effects.append(claimEffect(key, group, consumer, id, s.groups[gi].pel[id]!, lastID: s.groups[gi].lastID, idArg: idArg))
                propagateLastID = false
                dirty += 1
            }
            if propagateLastID {
                let g = s.groups[gi]
                effects.append([word("XGROUP"), word("SETID"), buffer(key), buffer(group), word(g.lastID.description),
                                word("ENTRIESREAD"), word(String(g.entriesRead))])
                dirty += 1
            }
            return out
        }!
        ctx.arrayHeader(claimed.count)
        for (id, e) in claimed {
            if let e { reply(ctx, e) } else { reply(ctx, id) }
        }
        ctx.preventPropagation()
        for e in effects { ctx.server.propagate(Effect(db: ctx.client.db, arguments: e)) }
        ctx.server.dirty += dirty
    }

    /// XCLAIM/XAUTOCLAIM's consumer: created when new (event, dirty), its seen time refreshed.
    static func claimerSeen(_ s: inout StreamValue, _ gi: Int, _ consumer: Bytes, now: Int64, key: Bytes,
                            ctx: CommandContext, dirty: inout Int) {
        let (found, ci) = s.groups[gi].consumerIndex(consumer)
        if found {
            s.groups[gi].consumers[ci].seenTime = now
        } else {
            s.groups[gi].addConsumer(consumer, seenTime: now)
            dirty += 1
            ctx.notify(.stream, "xgroup-createconsumer", key)
        }
    }

    static func claimEffect(_ key: Bytes, _ group: Bytes, _ consumer: Bytes, _ id: StreamID, _ p: StreamPending,
                            lastID: StreamID, idArg: Bytes) -> [ByteBuffer] {
        var e = claimEffect(key, group, consumer, id, p, lastID: lastID)
        e[5] = buffer(idArg)
        return e
    }

    // MARK: XAUTOCLAIM

    static func xautoclaim(_ ctx: CommandContext) throws {
        let key = ctx.bytes(1), group = ctx.bytes(2), consumer = ctx.bytes(3)
        var minIdle = try ctx.int(4, error: .err("Invalid min-idle-time argument for XAUTOCLAIM"))
        if minIdle < 0 { minIdle = 0 }
        let start = try startBound(ctx, 5)
        var count = 100
        var justID = false
        var j = 6
        while j < ctx.argc {
            let moreargs = ctx.argc - 1 - j
            if ctx.argument(j, is: "COUNT") && moreargs > 0 {
                let countError = CommandError.err("COUNT must be > 0")
                let n = try ctx.int(j + 1, error: countError)
                if n < 1 || n > Int.max / 16 { throw countError }
                count = n
                j += 1
            } else if ctx.argument(j, is: "JUSTID") {
                justID = true
            } else {
                throw CommandError.syntax
            }
            j += 1
        }
        guard let s0 = try readStream(ctx, key), s0.group(group) != nil else { throw noGroup(key, group) }
        let now = ctx.server.commandTimeMillis
        var effects: [[ByteBuffer]] = []
        var dirty = 0
        let (cursor, claimed, deleted): (StreamID, [(StreamID, StreamEntry?)], [StreamID]) =
            try editStream(ctx, key, modified: false) { s in
            let gi = s.groupIndex(group).index
            var seen = false
            var attempts = count * 10
            var remaining = count
            var out: [(StreamID, StreamEntry?)] = []
            var deleted: [StreamID] = []
            let candidates = Array(s.groups[gi].pelIDs.from(start))
            var k = 0
            while attempts > 0 && remaining > 0 && k < candidates.count {
                attempts -= 1
                let id = candidates[k]
                k += 1
                let nack = s.groups[gi].pel[id]!
                guard let entry = s.entry(id) else {
                    effects.append(claimEffect(key, group, nack.consumer, id, nack, lastID: s.groups[gi].lastID))
                    dirty += 1
                    s.groups[gi].removePending(id)
                    deleted.append(id)
                    remaining -= 1
                    continue
                }
                if minIdle > 0 && now - nack.deliveryTime < Int64(minIdle) { continue }
                if !seen {
                    claimerSeen(&s, gi, consumer, now: now, key: key, ctx: ctx, dirty: &dirty)
                    seen = true
                }
                let deliveries = justID ? nack.deliveryCount : nack.deliveryCount + 1
                s.groups[gi].assignPending(id, to: consumer, deliveryTime: now, deliveryCount: deliveries)
                out.append((id, justID ? nil : entry))
                remaining -= 1
                effects.append(claimEffect(key, group, consumer, id, s.groups[gi].pel[id]!, lastID: s.groups[gi].lastID))
                dirty += 1
            }
            // The next PEL entry after the last one examined is the cursor for the next call (0-0 at the end).
            let cursor = k < candidates.count ? candidates[k] : StreamID.zero
            return (cursor, out, deleted)
        }!
        ctx.arrayHeader(3)
        reply(ctx, cursor)
        ctx.arrayHeader(claimed.count)
        for (id, e) in claimed {
            if let e { reply(ctx, e) } else { reply(ctx, id) }
        }
        ctx.arrayHeader(deleted.count)
        for id in deleted { reply(ctx, id) }
        ctx.preventPropagation()
        for e in effects { ctx.server.propagate(Effect(db: ctx.client.db, arguments: e)) }
        ctx.server.dirty += dirty
    }

    // MARK: XINFO

    static func xinfo(_ ctx: CommandContext) throws {
        let sub = ctx.string(1).uppercased()
        if sub == "HELP" {
            return ServerCommands.help(ctx, "XINFO", [
                "CONSUMERS <key> <groupname>",
                "    Show consumers of <groupname>.",
                "GROUPS <key>",
                "    Show the stream consumer groups.",
                "STREAM <key> [FULL [COUNT <count>]",
                "    Show information about the stream.",
            ])
        }
        let key = ctx.bytes(2)
        guard let s = try readStream(ctx, key) else { throw CommandError.noSuchKey }
        let now = ctx.server.commandTimeMillis
        switch sub {
        case "CONSUMERS" where ctx.argc == 4:
            let name = ctx.bytes(3)
            guard let g = s.group(name) else {
                throw CommandError("NOGROUP No such consumer group '\(name)' for key name '\(key)'")
            }
            ctx.arrayHeader(g.consumers.count)
            for c in g.consumers {
                ctx.mapHeader(3)
                ctx.bulk("name"); ctx.bulk(c.name)
                ctx.bulk("pending"); ctx.integer(c.pending.count)
                ctx.bulk("idle"); ctx.integer(Int(max(0, now - c.seenTime)))
            }
        case "GROUPS" where ctx.argc == 3:
            ctx.arrayHeader(s.groups.count)
            for g in s.groups {
                ctx.mapHeader(6)
                ctx.bulk("name"); ctx.bulk(g.name)
                ctx.bulk("consumers"); ctx.integer(g.consumers.count)
                ctx.bulk("pending"); ctx.integer(g.pel.count)
                ctx.bulk("last-delivered-id"); reply(ctx, g.lastID)
                ctx.bulk("entries-read"); entriesRead(ctx, g)
                ctx.bulk("lag"); lag(ctx, s, g)
            }
        case "STREAM":
            try streamInfo(ctx, s)
        default:
            throw ServerCommands.subcommandSyntaxError(ctx)
        }
    }

    static func entriesRead(_ ctx: CommandContext, _ g: StreamGroup) {
        if g.entriesRead != StreamGroup.invalidEntriesRead { ctx.integer(Int(g.entriesRead)) } else { ctx.null() }
    }

    static func lag(_ ctx: CommandContext, _ s: StreamValue, _ g: StreamGroup) {
        if let lag = s.lag(of: g) { ctx.integer(Int(lag)) } else { ctx.null() }
    }

    static func streamInfo(_ ctx: CommandContext, _ s: StreamValue) throws {
        var full = false
        var count = 10
        let optc = ctx.argc - 3
        if optc > 0 {
            guard optc == 1 || optc == 3, ctx.argument(3, is: "FULL") else { throw ServerCommands.subcommandSyntaxError(ctx) }
            full = true
            if optc == 3 {
                guard ctx.argument(4, is: "COUNT") else { throw ServerCommands.subcommandSyntaxError(ctx) }
                count = try ctx.int(5)
                if count < 0 { count = 10 }
            }
        }
        ctx.mapHeader(full ? 9 : 10)
        ctx.bulk("length"); ctx.integer(s.length)
        ctx.bulk("radix-tree-keys"); ctx.integer(s.nodes.count)
        ctx.bulk("radix-tree-nodes"); ctx.integer(s.radixTreeNodes)
        ctx.bulk("last-generated-id"); reply(ctx, s.lastID)
        ctx.bulk("max-deleted-entry-id"); reply(ctx, s.maxDeletedID)
        ctx.bulk("entries-added"); ctx.integer(Int(truncatingIfNeeded: s.entriesAdded))
        ctx.bulk("recorded-first-entry-id"); reply(ctx, s.firstID)
        if !full {
            ctx.bulk("groups"); ctx.integer(s.groups.count)
            ctx.bulk("first-entry")
            if let e = s.range(.zero, .max, count: 1).first { reply(ctx, e) } else { ctx.null() }
            ctx.bulk("last-entry")
            if let e = s.range(.zero, .max, count: 1, reverse: true).first { reply(ctx, e) } else { ctx.null() }
            return
        }
        ctx.bulk("entries")
        reply(ctx, entries: s.range(.zero, .max, count: count))
        ctx.bulk("groups")
        ctx.arrayHeader(s.groups.count)
        for g in s.groups {
            ctx.mapHeader(7)
            ctx.bulk("name"); ctx.bulk(g.name)
            ctx.bulk("last-delivered-id"); reply(ctx, g.lastID)
            ctx.bulk("entries-read"); entriesRead(ctx, g)
            ctx.bulk("lag"); lag(ctx, s, g)
            ctx.bulk("pel-count"); ctx.integer(g.pel.count)
            ctx.bulk("pending")
            let pel = count > 0 ? Array(g.pelIDs.ids.prefix(count)) : g.pelIDs.ids
            ctx.arrayHeader(pel.count)
            for id in pel {
                let p = g.pel[id]!
                ctx.arrayHeader(4)
                reply(ctx, id)
                ctx.bulk(p.consumer)
                ctx.integer(Int(p.deliveryTime))
                ctx.integer(Int(truncatingIfNeeded: p.deliveryCount))
            }
            ctx.bulk("consumers")
            ctx.arrayHeader(g.consumers.count)
            for c in g.consumers {
                ctx.mapHeader(4)
                ctx.bulk("name"); ctx.bulk(c.name)
                ctx.bulk("seen-time"); ctx.integer(Int(c.seenTime))
                ctx.bulk("pel-count"); ctx.integer(c.pending.count)
                ctx.bulk("pending")
                let ids = count > 0 ? Array(c.pending.ids.prefix(count)) : c.pending.ids
                ctx.arrayHeader(ids.count)
                for id in ids {
                    let p = g.pel[id]!
                    ctx.arrayHeader(3)
                    reply(ctx, id)
                    ctx.integer(Int(p.deliveryTime))
                    ctx.integer(Int(truncatingIfNeeded: p.deliveryCount))
                }
            }
        }
    }
}
