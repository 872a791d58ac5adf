#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TernStorage

/// MEMORY USAGE / STATS / DOCTOR / MALLOC-STATS / PURGE / HELP, as Redis 7.0's object.c. A key's usage
/// comes from its backend (the memory backend measures the Swift representation; LMDB the bytes of the
/// key's records on its pages); the process figures are glibc's malloc statistics and /proc.
enum MemoryCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("memory", arity: -2, group: "server", summary: "A container for memory diagnostics commands",
                        since: "4.0.0", complexity: "Depends on subcommand.", subcommands: [
                CommandSpec("usage", arity: -3, flags: [.readonly], keys: KeyPositions(first: 2, last: 2, step: 1),
                            group: "server", summary: "Estimate the memory usage of a key", since: "4.0.0",
                            complexity: "O(N) where N is the number of samples.", acl: ["read"],
                            arguments: ["key", "[SAMPLES count]"], handler: usage),
                CommandSpec("stats", arity: 2, group: "server", summary: "Show memory usage details", since: "4.0.0",
                            handler: stats),
                CommandSpec("doctor", arity: 2, group: "server", summary: "Outputs memory problems report",
                            since: "4.0.0") { ctx in
                    ctx.verbatim(doctorReport(ctx.server))
                },
                CommandSpec("malloc-stats", arity: 2, group: "server", summary: "Show allocator internal stats",
                            since: "4.0.0", complexity: "Depends on how much memory is allocated, could be slow") { ctx in
                    // What Redis built with libc (Tern's allocator) replies: only jemalloc has a stats report.
                    ctx.verbatim("Stats not supported for the current allocator")
                },
                CommandSpec("purge", arity: 2, group: "server", summary: "Ask the allocator to release memory",
                            since: "4.0.0", complexity: "Depends on how much memory is allocated, could be slow") { ctx in
                    ProcessMemory.trim()
                    ctx.ok()
                },
                CommandSpec("help", arity: 2, flags: [.loading, .stale], group: "server",
                            summary: "Show helpful text about the different subcommands", since: "4.0.0") { ctx in
                    ServerCommands.help(ctx, "MEMORY", [
                        "DOCTOR",
                        "    Return memory problems reports.",
                        "MALLOC-STATS",
                        "    Return internal statistics report from the memory allocator.",
                        "PURGE",
                        "    Attempt to purge dirty pages for reclamation by the allocator.",
                        "STATS",
                        "    Return information about the memory usage of the server.",
                        "USAGE <key> [SAMPLES <count>]",
                        "    Return memory in bytes used by <key> and its value. Nested values are",
                        "    sampled up to <count> times (default: 5, 0 means sample all).",
                    ])
                },
            ], handler: nil),
        ]
    }

    static func usage(_ ctx: CommandContext) throws {
        var samples = MemoryFootprint.defaultSamples
        var i = 3
        while i < ctx.argc {
            guard ctx.argument(i, is: "SAMPLES"), i + 1 < ctx.argc else { throw CommandError.syntax }
            let n = try ctx.int(i + 1)
            if n < 0 { throw CommandError.syntax }
            samples = n == 0 ? Int.max : n
            i += 2
        }
        // As Redis: the dict entry is looked up directly, so a logically expired key still reports.
        guard let bytes = ctx.keyspace.memoryUsage(ctx.bytes(2), samples: samples) else {
            ctx.null()
            return
        }
        ctx.integer(bytes)
    }

    /// Per-database overhead as Redis reports it (its main and expires hash tables): Tern's per-key entry in
    /// the keyspace, estimated as the key's slot (an 8-byte reference and its record header).
    static func databaseOverhead(_ db: any StorageDatabase) -> (main: Int, expires: Int) {
        let entry = MemoryLayout<Bytes>.stride + MemoryLayout<KeyRecord>.stride
        return (db.keyCount * entry, db.volatileKeyCount * (MemoryLayout<Bytes>.stride + MemoryLayout<Int64>.stride))
    }

    static func stats(_ ctx: CommandContext) throws {
        let server = ctx.server
        let m = server.memoryOverview()
        var databases: [(Int, (main: Int, expires: Int))] = []
        for index in 0..<server.engine.databaseCount {
            let db = server.keyspace(index).database
            if db.keyCount > 0 { databases.append((index, databaseOverhead(db))) }
        }
        let overhead = m.startup + m.backlog + m.clientsReplicas + m.clientsNormal
            + databases.reduce(0) { $0 + $1.1.main + $1.1.expires }
        let net = max(1, m.used - m.startup)
        let dataset = max(0, m.used - overhead)
        ctx.mapHeader(27 + databases.count)
        func field(_ name: String, _ value: Int) { ctx.bulk(name); ctx.integer(value) }
        func ratio(_ name: String, _ value: Double) { ctx.bulk(name); ctx.double(Double(Float(value))) }
        field("peak.allocated", m.peak)
        field("total.allocated", m.used)
        field("startup.allocated", m.startup)
        field("replication.backlog", m.backlog)
        field("clients.slaves", m.clientsReplicas)
        field("clients.normal", m.clientsNormal)
        field("cluster.links", 0)
        field("aof.buffer", 0)
        field("lua.caches", 0)
        field("functions.caches", 0)
        for (index, o) in databases {
            ctx.bulk("db.\(index)")
            ctx.mapHeader(3)
            field("overhead.hashtable.main", o.main)
            field("overhead.hashtable.expires", o.expires)
            field("overhead.hashtable.slot-to-keys", 0)
        }
        field("overhead.total", overhead)
        field("keys.count", m.keys)
        field("keys.bytes-per-key", m.keys > 0 ? net / m.keys : 0)
        field("dataset.bytes", dataset)
        ratio("dataset.percentage", Double(dataset) * 100 / Double(net))
        ratio("peak.percentage", m.peak > 0 ? Double(m.used) * 100 / Double(m.peak) : 0)
        field("allocator.allocated", m.allocated)
        field("allocator.active", m.active)
        field("allocator.resident", m.rss)
        ratio("allocator-fragmentation.ratio", m.allocatorFragmentation)
        field("allocator-fragmentation.bytes", max(0, m.active - m.allocated))
        ratio("allocator-rss.ratio", m.allocatorRSS)
        field("allocator-rss.bytes", max(0, m.rss - m.active))
        ratio("rss-overhead.ratio", 1)
        field("rss-overhead.bytes", 0)
        ratio("fragmentation", m.fragmentation)
        field("fragmentation.bytes", m.rss - m.used)
    }

    /// getMemoryDoctorReport with the checks that apply to Tern (no script cache: that one cannot fire).
    static func doctorReport(_ server: ServerState) -> String {
        let m = server.memoryOverview()
        var empty = false, bigPeak = false, highFrag = false, highAllocFrag = false, highAllocRSS = false
        var bigClientBuffers = false, bigReplicaBuffers = false
        if m.used < 5 * 1024 * 1024 {
            empty = true
        } else {
            bigPeak = Double(m.peak) / Double(m.used) > 1.5
            highFrag = m.fragmentation > 1.4 && m.rss - m.used > 10 << 20
            highAllocFrag = m.allocatorFragmentation > 1.1 && m.active - m.allocated > 10 << 20
            highAllocRSS = m.allocatorRSS > 1.1 && m.rss - m.active > 10 << 20
            let clients = max(1, server.connectedClientCount)
            bigClientBuffers = m.clientsNormal / clients > 1024 * 200
            let replicas = server.clients.values.reduce(0) { $0 + ($1.flags.contains(.replica) ? 1 : 0) }
            bigReplicaBuffers = replicas > 0 && m.clientsReplicas / replicas > 1024 * 1024 * 10
        }
        if empty {
            return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n"
        }
        if !(bigPeak || highFrag || highAllocFrag || highAllocRSS || bigClientBuffers || bigReplicaBuffers) {
            return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
        }
        var s = "Sam, I detected a few issues in this Redis instance memory implants:\n\n"
        if bigPeak {
            s += " * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n"
        }
        if highFrag {
            s += " * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"libc\".\n\n"
        }
        if highAllocFrag {
            s += " * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n"
        }
        if highAllocRSS {
            s += " * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.\n\n"
        }
        if bigReplicaBuffers {
            s += " * Big replica buffers: The replica output buffers in this instance are greater than 10MB for each replica (on average). This likely means that there is some replica instance that is struggling receiving data, either because it is too slow or because of networking issues. As a result, data piles on the master output buffers. Please try to identify what replica is not receiving data correctly and why. You can use the INFO output in order to check the replicas delays and the CLIENT LIST command to check the output buffers of each replica.\n\n"
        }
        if bigClientBuffers {
            s += " * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n"
        }
        return s + "I'm here to keep you safe, Sam. I want to help you.\n"
    }
}

extension ProcessMemory {
    #if os(Linux)
    private typealias MallocTrimFunction = @convention(c) (Int) -> Int32
    private static let mallocTrimFunction: MallocTrimFunction? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: MallocTrimFunction.self)
    }()
    #endif

    /// MEMORY PURGE: glibc's malloc_trim(0) hands free heap pages back to the system.
    static func trim() {
        #if os(Linux)
        _ = mallocTrimFunction?(0)
        #endif
    }
}
