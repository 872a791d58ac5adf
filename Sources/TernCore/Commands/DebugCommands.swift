#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import RESP
import TernStorage

/// DEBUG, as Redis 7.0's debug.c: gated by `enable-debug-command`, with the subcommands operators and test
/// suites use. Subcommands tied to Redis's C internals (jemalloc's MALLCTL, cluster links) answer as a Redis
/// built without them does; the ones that crash the server on request (SEGFAULT, PANIC, ASSERT, OOM) do.
enum DebugCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("debug", arity: -2, flags: [.admin, .noscript, .loading, .stale, .protected], group: "server",
                        summary: "A container for debugging commands", complexity: "Depends on subcommand.",
                        handler: debug),
        ]
    }

    /// allowProtectedAction for enable-debug-command.
    static func refusal(_ ctx: CommandContext) -> CommandError? {
        protectedRefusal(ctx, setting: ctx.server.config.enableDebugCommand, command: "DEBUG", option: "enable-debug-command")
    }

    /// Redis's allowProtectedAction: "yes", or "local" for a loopback/unix client; the master's stream is
    /// always obeyed.
    static func protectedRefusal(_ ctx: CommandContext, setting: String, command: String, option: String) -> CommandError? {
        let client = ctx.client
        if client.flags.contains(.master) { return nil }
        switch setting {
        case "yes": return nil
        case "local" where client.isLocal: return nil
        default:
            return CommandError.err("\(command) command not allowed. If the \(option) option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.")
        }
    }

    static func debug(_ ctx: CommandContext) throws {
        let argc = ctx.argc
        func sub(_ word: StaticString) -> Bool { ctx.argument(1, is: word) }
        if argc == 2 && sub("HELP") {
            ServerCommands.help(ctx, "DEBUG", helpLines)
        } else if sub("SEGFAULT") || sub("PANIC") || sub("ASSERT") || sub("OOM") {
            // Requested crashes: Redis writes its bug report and dies; so does Tern (abort leaves a core).
            ctx.server.logger.critical("DEBUG \(ctx.upper(1)) called at Unix time \(ctx.server.clock.nowMillis() / 1000): crashing on request")
            abort()
        } else if sub("RESTART") || sub("CRASH-AND-RECOVER") {
            if argc >= 3 { _ = try ctx.int(2) }
            ctx.server.logger.warning("DEBUG \(ctx.upper(1)): Tern does not re-execute itself; restart it from its supervisor")
            throw CommandError.err("failed to restart the server. Check server logs.")
        } else if sub("LOG") && argc == 3 {
            ctx.server.logger.warning("DEBUG LOG: \(ctx.string(2))")
            ctx.ok()
        } else if sub("LEAK") && argc == 3 {
            // What it says: a copy of the argument that is never freed.
            let n = ctx.arguments[2].readableBytes
            let leaked = UnsafeMutableRawPointer.allocate(byteCount: max(n, 1), alignment: 1)
            ctx.arguments[2].withUnsafeReadableBytes { if let base = $0.baseAddress { leaked.copyMemory(from: base, byteCount: n) } }
            ctx.ok()
        } else if sub("RELOAD") {
            try reload(ctx)
        } else if sub("LOADAOF") {
            // Redis flushes the dataset and then fails when there is no AOF to load; Tern has none and keeps
            // the data.
            ctx.server.logger.warning("DEBUG LOADAOF: this server has no append only file")
            throw CommandError.err("Error trying to load the AOF files, check server logs.")
        } else if sub("DROP-CLUSTER-PACKET-FILTER") && argc == 3 {
            _ = try ctx.int(2)
            ctx.ok()
        } else if sub("OBJECT") && argc == 3 {
            try object(ctx)
        } else if sub("SDSLEN") && argc == 3 {
            try sdslen(ctx)
        } else if sub("LISTPACK") && argc == 3 {
            try printStructure(ctx, encodings: ["listpack"], error: "Not a listpack encoded object.",
                               done: "Listpack structure printed on stdout")
        } else if sub("QUICKLIST") && (argc == 3 || argc == 4) {
            try printStructure(ctx, encodings: ["quicklist"], error: "Not a quicklist encoded object.",
                               done: "Quicklist structure printed on stdout")
        } else if sub("POPULATE") && argc >= 3 && argc <= 5 {
            try populate(ctx)
        } else if sub("DIGEST") && argc == 2 {
            ctx.simple(DatasetDigest.dataset(ctx.server.engine.snapshot()).hex)
        } else if sub("DIGEST-VALUE") && argc >= 2 {
            // Logically expired keys count: the lookup doesn't expire.
            ctx.arrayHeader(argc - 2)
            for i in 2..<argc {
                var digest = DatasetDigest()
                if let record = ctx.keyspace.storedRecord(ctx.bytes(i)) {
                    digest.addValue(record.value, hasExpiry: record.expireAt != nil)
                }
                ctx.simple(digest.hex)
            }
        } else if sub("PROTOCOL") && argc == 3 {
            try protocolReply(ctx)
        } else if sub("SLEEP") && argc == 3 {
            // strtod semantics: garbage reads as 0.
            let micros = Int64(strtod(ctx.string(2), nil) * 1_000_000)
            if micros > 0 {
                var ts = timespec(tv_sec: Int(micros / 1_000_000), tv_nsec: Int(micros % 1_000_000) * 1000)
                var remaining = timespec()
                while nanosleep(&ts, &remaining) != 0 && errno == EINTR { ts = remaining }
            }
            ctx.ok()
        } else if sub("SET-ACTIVE-EXPIRE") && argc == 3 {
            ctx.server.activeExpireEnabled = atoi(ctx.string(2)) != 0
            ctx.ok()
        } else if sub("QUICKLIST-PACKED-THRESHOLD") && argc == 3 {
            // quicklistisSetPackedThreshold: at most 4 GB - 1 MB; 0 restores the 1 GB default.
            guard let size = ConfigRegistry.parseMemory(ctx.string(2)), size <= (UInt64(1) << 32) - (1 << 20) else {
                throw CommandError.err("argument must be a memory value bigger than 1 and smaller than 4gb")
            }
            ctx.server.debugSettings.quicklistPackedThreshold = size == 0 ? 1 << 30 : Int(size)
            ctx.ok()
        } else if sub("SET-SKIP-CHECKSUM-VALIDATION") && argc == 3 {
            ctx.server.debugSettings.skipChecksumValidation = atoi(ctx.string(2)) != 0
            ctx.ok()
        } else if sub("AOF-FLUSH-SLEEP") && argc == 3 {
            ctx.server.debugSettings.aofFlushSleepMicros = Int(atoi(ctx.string(2)))
            ctx.ok()
        } else if sub("REPLICATE") && argc >= 3 {
            // Straight to the replicas, outside the data's own effects (allowing divergence, as documented).
            ctx.server.propagateNow(Effect(db: ctx.client.db, arguments: Array(ctx.arguments[2...])))
            ctx.ok()
        } else if sub("ERROR") && argc == 3 {
            var text = ctx.string(2)
            text = String(text.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
            // Written as raw protocol, as Redis does: not an error reply of the command (no errorstats).
            ctx.error(CommandError(text))
        } else if sub("STRUCTSIZE") && argc == 2 {
            // Tern's own structures in Redis's "name:size " format.
            ctx.bulk("bits:\(MemoryLayout<Int>.size * 8) keyrecord:\(MemoryLayout<KeyRecord>.stride) storedvalue:\(MemoryLayout<StoredValue>.stride) bytes:\(MemoryLayout<Bytes>.stride) ")
        } else if sub("HTSTATS") && argc == 3 {
            try htstats(ctx)
        } else if sub("HTSTATS-KEY") && argc == 3 {
            guard ctx.keyspace.peek(ctx.bytes(2)) != nil else { throw CommandError.noSuchKey }
            // Tern keeps no chained hash tables (hashes and sets are open-addressing tables, the keyspace a trie).
            throw CommandError.err("The value stored at the specified key is not represented using an hash table")
        } else if sub("CHANGE-REPL-ID") && argc == 2 {
            ctx.server.logger.notice("Changing replication IDs after receiving DEBUG change-repl-id")
            if let handler = ctx.server.changeReplicationIDHandler {
                handler()
            } else {
                ctx.server.metrics.replicationID = ServerMetrics.randomHexID()
            }
            ctx.ok()
        } else if sub("STRINGMATCH-TEST") && argc == 2 {
            stringmatchFuzz()
            ctx.simple("Apparently Redis did not crash: test passed")
        } else if sub("SET-DISABLE-DENY-SCRIPTS") && argc == 3 {
            ctx.server.debugSettings.disableDenyScripts = atoi(ctx.string(2)) != 0
            ctx.ok()
        } else if sub("CONFIG-REWRITE-FORCE-ALL") && argc == 2 {
            throw CommandError.err("CONFIG-REWRITE-FORCE-ALL failed: \(String(cString: strerror(ENOTSUP)))")
        } else if sub("CLIENT-EVICTION") && argc == 2 {
            // Tern has no maxmemory-clients: Redis's reply when it is disabled.
            throw CommandError.err("maxmemory-clients is disabled.")
        } else if sub("PAUSE-CRON") && argc == 3 {
            ctx.server.cronPaused = atoi(ctx.string(2)) != 0
            ctx.ok()
        } else if sub("REPLYBUFFER") && argc == 4 {
            if ctx.argument(2, is: "PEAK-RESET-TIME") {
                if ctx.argument(3, is: "NEVER") {
                    ctx.server.debugSettings.replyBufferPeakResetMillis = -1
                } else if ctx.argument(3, is: "RESET") {
                    ctx.server.debugSettings.replyBufferPeakResetMillis = DebugSettings.defaultReplyBufferPeakResetMillis
                } else {
                    ctx.server.debugSettings.replyBufferPeakResetMillis = try ctx.int(3)
                }
            } else if ctx.argument(2, is: "RESIZING") {
                ctx.server.debugSettings.replyBufferResizing = atoi(ctx.string(3)) != 0
            } else {
                throw ServerCommands.subcommandSyntaxError(ctx)
            }
            ctx.ok()
        } else if sub("CLUSTERLINK") && argc == 5 && ctx.argument(2, is: "KILL") {
            throw CommandError.err("Debug option only available for cluster mode enabled setup!")
        } else {
            throw ServerCommands.subcommandSyntaxError(ctx)
        }
    }

    // MARK: RELOAD

    static func reload(_ ctx: CommandContext) throws {
        var options = DebugReloadOptions()
        for i in 2..<ctx.argc {
            if ctx.argument(i, is: "MERGE") { options.merge = true }
            else if ctx.argument(i, is: "NOFLUSH") { options.flush = false }
            else if ctx.argument(i, is: "NOSAVE") { options.save = false }
            else { throw CommandError.err("DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.") }
        }
        guard let handler = ctx.server.debugReloadHandler else {
            ctx.server.logger.warning("DEBUG RELOAD: this server has no RDB persistence installed")
            throw CommandError("ERR")
        }
        try handler(options)
        ctx.server.logger.notice("DB reloaded by DEBUG RELOAD")
        ctx.ok()
    }

    // MARK: OBJECT SDSLEN LISTPACK QUICKLIST

    static func object(_ ctx: CommandContext) throws {
        let key = ctx.bytes(2)
        guard let record = ctx.keyspace.storedRecord(key) else { throw CommandError.noSuchKey }
        let server = ctx.server
        let encoding = ObjectEncoding.name(of: record.value)
        let refcount = ObjectEncoding.refcount(of: record.value, maxMemory: server.config.maxMemory,
                                               policy: server.config.maxMemoryPolicy)
        let serialized = server.serializedLength?(record.value) ?? 0
        let now = server.lruClock
        let idle = now >= record.lastAccess ? Int(now - record.lastAccess) : 0
        var extra = ""
        if case .list(let l) = record.value {
            // Tern's list is one buffer: report it as the single quicklist node Redis would make of it.
            let bytes = l.reduce(0) { $0 + $1.count }
            extra = " ql_nodes:1 ql_avg_node:\(ServerState.fixed(Double(l.count), 2)) ql_listpack_max:-2 ql_compressed:0 ql_uncompressed_size:\(bytes)"
        }
        // The address is the value's identity in this process: its key's hash, as no C pointer exists.
        let address = "0x" + String(UInt(bitPattern: key.hashValue) & 0x7fff_ffff_ffff, radix: 16)
        ctx.simple("Value at:\(address) refcount:\(refcount) encoding:\(encoding) serializedlength:\(serialized) lru:\(record.lastAccess & 0xFF_FFFF) lru_seconds_idle:\(idle)\(extra)")
    }

    static func sdslen(_ ctx: CommandContext) throws {
        let key = ctx.bytes(2)
        guard let record = ctx.keyspace.storedRecord(key) else { throw CommandError.noSuchKey }
        guard case .string(let s) = record.value, ObjectEncoding.name(of: record.value) != "int" else {
            throw CommandError.err("Not an sds encoded string.")
        }
        // Tern's strings are byte arrays: length, spare capacity and the malloc chunk of the buffer.
        ctx.simple("key_sds_len:\(key.count), key_sds_avail:0, key_zmalloc: \(MemoryFootprint.bytes(key)), val_sds_len:\(s.count), val_sds_avail:\(s.array.capacity - s.count), val_zmalloc: \(MemoryFootprint.bytes(s))")
    }

    static func printStructure(_ ctx: CommandContext, encodings: Set<String>, error: String, done: String) throws {
        guard let record = ctx.keyspace.peek(ctx.bytes(2)) else { throw CommandError.noSuchKey }
        guard encodings.contains(ObjectEncoding.name(of: record.value)) else { throw CommandError.err(error) }
        var lines = ["{type \(record.value.kind.typeName)} {count \(record.value.elementCount)}"]
        switch record.value {
        case .list(let l): lines += l.enumerated().map { "{\($0.offset)} \(ServerState.quoted($0.element.array))" }
        case .hash(let h): lines += h.map { "\(ServerState.quoted($0.key.array)) \(ServerState.quoted($0.value.array))" }
        case .zset(let z): lines += z.ordered.map { "\(ServerState.quoted($0.member.array)) \($0.score)" }
        case .set(let s): lines += s.map { ServerState.quoted($0.array) }
        case .string(let s): lines.append(ServerState.quoted(s.array))
        case .stream(let s): lines += s.nodes.flatMap(\.items).map { "\($0.id.ms)-\($0.id.seq)" }
        }
        print(lines.joined(separator: "\n"))
        fflush(stdout)
        ctx.simple(done)
    }

    // MARK: POPULATE

    static func populate(_ ctx: CommandContext) throws {
        let positive = CommandError.err("value is out of range, must be positive")
        // getPositiveLongFromObjectOrReply: one message for "not a number" and "negative".
        let count = try ctx.int(2, error: positive)
        if count < 0 { throw positive }
        var size = 0
        if ctx.argc == 5 {
            size = try ctx.int(4, error: positive)
            if size < 0 { throw positive }
        }
        let prefix = ctx.argc >= 4 ? ctx.string(3) : "key"
        let keyspace = ctx.keyspace
        for j in 0..<count {
            let key = Bytes("\(prefix):\(j)")
            if keyspace.lookupWrite(key) != nil { continue }
            var value = Array("value:\(j)".utf8)
            if size > 0 {
                // createStringObject(NULL, size): zeroed, then the text copied over its start.
                var sized = [UInt8](repeating: 0, count: size)
                let n = min(size, value.count)
                sized.replaceSubrange(0..<n, with: value[0..<n])
                value = sized
            }
            keyspace.store(key, .string(Bytes(value)), expiry: .clear)
        }
        // Not propagated: POPULATE fills this node only.
        ctx.preventPropagation()
        ctx.ok()
    }

    // MARK: PROTOCOL

    static func protocolReply(_ ctx: CommandContext) throws {
        let resp3 = ctx.resp == .resp3
        let name = ctx.string(2).lowercased()
        switch name {
        case "string": ctx.bulk("Hello World")
        case "integer": ctx.integer(12345)
        case "double": ctx.double(3.141)
        case "bignum":
            let digits = "1234567999999999999999999999999999999"
            if resp3 { ctx.client.output.writeString("(\(digits)\r\n") } else { ctx.bulk(digits) }
        case "null": ctx.null()
        case "array":
            ctx.arrayHeader(3)
            for j in 0..<3 { ctx.integer(j) }
        case "set":
            ctx.setHeader(3)
            for j in 0..<3 { ctx.integer(j) }
        case "map":
            ctx.mapHeader(3)
            for j in 0..<3 {
                ctx.integer(j)
                ctx.bool(j == 1)
            }
        case "attrib":
            if resp3 {
                ctx.client.output.writeString("|1\r\n")
                ctx.bulk("key-popularity")
                ctx.arrayHeader(2)
                ctx.bulk("key:123")
                ctx.integer(90)
            }
            // An attribute is not a reply by itself: the real reply follows.
            ctx.bulk("Some real reply following the attribute")
        case "push":
            guard resp3 else { throw CommandError.err("RESP2 is not supported by this command") }
            ctx.client.output.writeRESPPushHeader(2, ctx.resp)
            ctx.bulk("server-cpu-usage")
            ctx.integer(42)
            ctx.bulk("Some real reply following the push reply")
        case "true": ctx.bool(true)
        case "false": ctx.bool(false)
        case "verbatim": ctx.verbatim("This is a verbatim\nstring")
        default:
            throw CommandError.err("Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")
        }
    }

    // MARK: HTSTATS

    static func htstats(_ ctx: CommandContext) throws {
        let index = try ctx.int(2)
        guard index >= 0 && index < ctx.server.engine.databaseCount else { throw CommandError.err("Out of range database") }
        let db = ctx.server.keyspace(index).database
        // Tern's keyspace is a hash trie (memory) or a B+tree (LMDB), not a chained table: the element counts,
        // in Redis's layout, with the empty-table text where Redis has one.
        func table(_ elements: Int) -> String {
            "Hash table 0 stats (main hash table):\n" + (elements == 0
                ? "No stats available for empty dictionaries\n"
                : " table size: \(elements)\n number of elements: \(elements)\n")
        }
        ctx.verbatim("[Dictionary HT]\n" + table(db.keyCount) + "[Expires HT]\n" + table(db.volatileKeyCount))
    }

    // MARK: STRINGMATCH-TEST

    /// stringmatchlen_fuzz_test: random patterns against random strings; the point is not crashing.
    static func stringmatchFuzz() {
        let alphabet = Array("abc*?[]^-\\".utf8)
        for _ in 0..<1000 {
            let pattern = (0..<Int.random(in: 0...12)).map { _ in alphabet.randomElement()! }
            let subject = (0..<Int.random(in: 0...12)).map { _ in alphabet.randomElement()! }
            _ = GlobMatch.matches(pattern: pattern, subject)
        }
    }

    /// DEBUG HELP: Redis 7.0's text for a build without jemalloc (no MALLCTL lines), as Tern runs on libc.
    static let helpLines = [
        "AOF-FLUSH-SLEEP <microsec>",
        "    Server will sleep before flushing the AOF, this is used for testing.",
        "ASSERT",
        "    Crash by assertion failed.",
        "CHANGE-REPL-ID",
        "    Change the replication IDs of the instance.",
        "    Dangerous: should be used only for testing the replication subsystem.",
        "CONFIG-REWRITE-FORCE-ALL",
        "    Like CONFIG REWRITE but writes all configuration options, including",
        "    keywords not listed in original configuration file or default values.",
        "CRASH-AND-RECOVER [<milliseconds>]",
        "    Hard crash and restart after a <milliseconds> delay (default 0).",
        "DIGEST",
        "    Output a hex signature representing the current DB content.",
        "DIGEST-VALUE <key> [<key> ...]",
        "    Output a hex signature of the values of all the specified keys.",
        "ERROR <string>",
        "    Return a Redis protocol error with <string> as message. Useful for clients",
        "    unit tests to simulate Redis errors.",
        "LEAK <string>",
        "    Create a memory leak of the input string.",
        "LOG <message>",
        "    Write <message> to the server log.",
        "HTSTATS <dbid>",
        "    Return hash table statistics of the specified Redis database.",
        "HTSTATS-KEY <key>",
        "    Like HTSTATS but for the hash table stored at <key>'s value.",
        "LOADAOF",
        "    Flush the AOF buffers on disk and reload the AOF in memory.",
        "REPLICATE <string>",
        "    Replicates the provided string to replicas, allowing data divergence.",
        "OBJECT <key>",
        "    Show low level info about `key` and associated value.",
        "DROP-CLUSTER-PACKET-FILTER <packet-type>",
        "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
        "OOM",
        "    Crash the server simulating an out-of-memory error.",
        "PANIC",
        "    Crash the server simulating a panic.",
        "POPULATE <count> [<prefix>] [<size>]",
        "    Create <count> string keys named key:<num>. If <prefix> is specified then",
        "    it is used instead of the 'key' prefix. These are not propagated to",
        "    replicas. Cluster slots are not respected so keys not belonging to the",
        "    current node can be created in cluster mode.",
        "PROTOCOL <type>",
        "    Reply with a test value of the specified type. <type> can be: string,",
        "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
        "    true, false.",
        "RELOAD [option ...]",
        "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
        "    * MERGE: conflicting keys will be loaded from RDB.",
        "    * NOFLUSH: the existing database will not be removed before load, but",
        "      conflicting keys will generate an exception and kill the server.",
        "    * NOSAVE: the database will be loaded from an existing RDB file.",
        "    Examples:",
        "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
        "      the database.",
        "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
        "      existing RDB file.",
        "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
        "      file to the database.",
        "RESTART [<milliseconds>]",
        "    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
        "SDSLEN <key>",
        "    Show low level SDS string info representing `key` and value.",
        "SEGFAULT",
        "    Crash the server with sigsegv.",
        "SET-ACTIVE-EXPIRE <0|1>",
        "    Setting it to 0 disables expiring keys in background when they are not",
        "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
        "    default.",
        "QUICKLIST-PACKED-THRESHOLD <size>",
        "    Sets the threshold for elements to be inserted as plain vs packed nodes",
        "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
        "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
        "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
        "SLEEP <seconds>",
        "    Stop the server for <seconds>. Decimals allowed.",
        "STRINGMATCH-TEST",
        "    Run a fuzz tester against the stringmatchlen() function.",
        "STRUCTSIZE",
        "    Return the size of different Redis core C structures.",
        "LISTPACK <key>",
        "    Show low level info about the listpack encoding of <key>.",
        "QUICKLIST <key> [<0|1>]",
        "    Show low level info about the quicklist encoding of <key>.",
        "    The optional argument (0 by default) sets the level of detail",
        "CLIENT-EVICTION",
        "    Show low level client eviction pools info (maxmemory-clients).",
        "PAUSE-CRON <0|1>",
        "    Stop periodic cron job processing.",
        "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
        "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
        "    In case NEVER is provided the last observed peak will never be reset",
        "    In case RESET is provided the peak reset time will be restored to the default value",
        "REPLYBUFFER RESIZING <0|1>",
        "    Enable or disable the reply buffer resize cron job",
        "CLUSTERLINK KILL <to|from|all> <node-id>",
        "    Kills the link based on the direction to/from (both) with the provided node.",
    ]
}

/// DEBUG RELOAD's options.
public struct DebugReloadOptions: Sendable {
    /// Save the dataset to `dbfilename` first (not NOSAVE).
    public var save = true
    /// Empty the databases before loading (not NOFLUSH).
    public var flush = true
    /// Keys in the file replace existing ones (MERGE); without it a conflict is an error.
    public var merge = false
    public init() {}
}

/// Values DEBUG sets. `skipChecksumValidation` makes RESTORE accept a payload whose CRC-64 is wrong, as in
/// Redis; the others tune Redis internals Tern doesn't have (AOF flushing, quicklist node packing, reply
/// buffer resizing, script deny flags) and are only recorded.
public struct DebugSettings {
    public static let defaultReplyBufferPeakResetMillis = 5000
    public var quicklistPackedThreshold = 1 << 30
    public var skipChecksumValidation = false
    public var aofFlushSleepMicros = 0
    public var disableDenyScripts = false
    public var replyBufferPeakResetMillis = DebugSettings.defaultReplyBufferPeakResetMillis
    public var replyBufferResizing = true
    public init() {}
}

extension ServerState {
    /// The option that gates a `.protected` command: enable-debug-command for DEBUG, enable-module-command
    /// for MODULE's LOAD/LOADEX/UNLOAD.
    func protectedCommandRefusal(_ ctx: CommandContext, _ spec: CommandSpec) -> CommandError? {
        (spec.parent?.name ?? spec.name) == "debug" ? DebugCommands.refusal(ctx) : ModuleCommands.refusal(ctx)
    }
}

extension Keyspace {
    /// The stored record whether or not it has logically expired, without touching it (DEBUG, MEMORY USAGE:
    /// Redis looks these up in the dict directly).
    public func storedRecord(_ key: Bytes) -> KeyRecord? { database.lookup(key, touch: nil) }

    /// MEMORY USAGE: the bytes the backend holds for the key (nil: absent).
    public func memoryUsage(_ key: Bytes, samples: Int) -> Int? { database.memoryUsage(key, samples: samples) }
}
