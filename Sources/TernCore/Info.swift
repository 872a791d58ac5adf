#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TernStorage

/// Sampled values INFO reports that need history: instantaneous rates, memory peak, replication id.
public struct ServerMetrics {
    /// Redis's STATS_METRIC_SAMPLES.
    static let sampleCount = 16

    struct Metric {
        var samples = [Double](repeating: 0, count: ServerMetrics.sampleCount)
        var index = 0
        var lastReading = 0
        var lastMillis: Int64 = 0

        mutating func track(_ reading: Int, now: Int64) {
            if lastMillis != 0 {
                let elapsed = now - lastMillis
                let delta = reading - lastReading
                samples[index] = elapsed > 0 ? Double(delta) * 1000 / Double(elapsed) : 0
                index = (index + 1) % ServerMetrics.sampleCount
            }
            lastReading = reading
            lastMillis = now
        }

        var value: Double { samples.reduce(0, +) / Double(ServerMetrics.sampleCount) }
    }

    var commands = Metric()
    var netInput = Metric()
    var netOutput = Metric()
    var lastSampleMillis: Int64 = 0
    /// Highest used_memory seen by INFO or the cron.
    public var peakMemory = 0
    /// used_memory the first time it was measured (used_memory_startup).
    public var startupMemory = 0
    /// master_replid of a server that is not a replica.
    public var replicationID: String = ServerMetrics.randomHexID()

    /// 40 random hex characters (run_id, replication ids, diskless EOF marks).
    public static func randomHexID() -> String {
        var id = ""
        for _ in 0..<40 { id.append(String(Int.random(in: 0..<16), radix: 16)) }
        return id
    }

    public init() {}
}

extension ServerState {
    /// Called from the server cron: every 100 ms takes one sample of the command and network counters
    /// (Redis's trackInstantaneousMetric), and tracks the memory peak.
    public func trackInstantaneousMetrics() {
        let now = clock.nowMillis()
        guard now - metrics.lastSampleMillis >= 100 else { return }
        metrics.lastSampleMillis = now
        metrics.commands.track(stats.totalCommandsProcessed, now: now)
        metrics.netInput.track(stats.totalNetInputBytes, now: now)
        metrics.netOutput.track(stats.totalNetOutputBytes, now: now)
        _ = measuredUsedMemory()
    }

    public var instantaneousOpsPerSecond: Int { Int(metrics.commands.value) }

    /// used_memory: bytes handed out by malloc (glibc mallinfo2: uordblks + hblkhd); updates the peak.
    func measuredUsedMemory() -> Int {
        let used = ProcessMemory.mallocUsed()
        if metrics.startupMemory == 0 { metrics.startupMemory = used }
        if used > metrics.peakMemory { metrics.peakMemory = used }
        return used
    }

    /// Sections in Redis's fixed order; "modules" is the module list (empty: Tern loads no modules).
    static let infoSectionOrder = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                                   "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace"]
    static let infoDefaultSections: Set<String> = ["server", "clients", "memory", "persistence", "stats",
                                                   "replication", "cpu", "modules", "errorstats", "cluster",
                                                   "keyspace"]

    /// The INFO text for the requested section names (as the client typed them; empty = default).
    public func infoString(sections requested: [String], currentClient: Client? = nil) -> String {
        var wanted = Set<String>()
        var providerSections: [String] = []
        let known = Set(Self.infoSectionOrder)
        if requested.isEmpty { wanted = Self.infoDefaultSections }
        for raw in requested {
            let name = raw.lowercased()
            switch name {
            case "default": wanted.formUnion(Self.infoDefaultSections)
            case "all", "everything":
                wanted.formUnion(known)
                for key in infoProviders.keys.sorted() where !known.contains(key) && !providerSections.contains(key) {
                    providerSections.append(key)
                }
            default:
                if known.contains(name) {
                    wanted.insert(name)
                } else if infoProviders[name] != nil && !providerSections.contains(name) {
                    providerSections.append(name)
                }
            }
        }
        var out = ""
        var first = true
        func emit(_ title: String, _ fields: [(String, String)]) {
            if !first { out += "\r\n" }
            first = false
            out += "# \(title)\r\n"
            for (k, v) in fields { out += "\(k):\(v)\r\n" }
        }
        for name in Self.infoSectionOrder where wanted.contains(name) {
            let (title, fields) = infoSection(name, currentClient: currentClient)
            emit(title, merged(name, fields))
        }
        for name in providerSections {
            emit(name.prefix(1).uppercased() + name.dropFirst(), infoProviders[name]!())
        }
        return out
    }

    /// A section's fields with a provider's fields applied: replication is replaced as a whole, other
    /// sections take the provider's values for fields of the same name and its extra fields at the end.
    private func merged(_ name: String, _ fields: [(String, String)]) -> [(String, String)] {
        guard let provider = infoProviders[name] else { return fields }
        let extra = provider()
        if name == "replication" || name == "modules" { return extra }
        var result = fields
        for (k, v) in extra {
            if let i = result.firstIndex(where: { $0.0 == k }) { result[i].1 = v } else { result.append((k, v)) }
        }
        return result
    }

    private func infoSection(_ name: String, currentClient: Client?) -> (String, [(String, String)]) {
        switch name {
        case "server": return ("Server", serverFields())
        case "clients": return ("Clients", clientFields())
        case "memory": return ("Memory", memoryFields())
        case "persistence": return ("Persistence", persistenceFields())
        case "stats": return ("Stats", statsFields())
        case "replication": return ("Replication", replicationFields())
        case "cpu": return ("CPU", cpuFields())
        case "modules": return ("Modules", [])
        case "commandstats":
            let specs = commands.allSpecs.sorted { $0.fullName < $1.fullName }
            return ("Commandstats", specs.compactMap { spec in
                let s = spec.stat
                guard s.calls > 0 || s.failedCalls > 0 || s.rejectedCalls > 0 else { return nil }
                let perCall = s.calls > 0 ? Double(s.microseconds) / Double(s.calls) : 0
                return ("cmdstat_\(spec.fullName)",
                        "calls=\(s.calls),usec=\(s.microseconds),usec_per_call=\(Self.fixed(perCall, 2)),rejected_calls=\(s.rejectedCalls),failed_calls=\(s.failedCalls)")
            })
        case "errorstats":
            return ("Errorstats", stats.errorStats.keys.sorted().map { ("errorstat_\($0)", "count=\(stats.errorStats[$0]!)") })
        case "latencystats":
            // Per command with calls: the configured percentiles of its latency histogram, in microseconds.
            let percentiles = config.latencyTrackingInfoPercentiles
            let specs = commands.allSpecs.filter { $0.stat.histogram.totalCount > 0 }.sorted { $0.fullName < $1.fullName }
            return ("Latencystats", specs.map { spec in
                let h = spec.stat.histogram
                let values = percentiles.map { p in
                    "p\(LatencyHistogram.percentileText(p))=\(Self.fixed(Double(h.valueAtPercentile(p)) / 1000, 3))"
                }
                return ("latency_percentiles_usec_\(spec.fullName)", values.joined(separator: ","))
            })
        case "cluster": return ("Cluster", [("cluster_enabled", "0")])
        case "keyspace": return ("Keyspace", keyspaceFields())
        default: return (name, [])
        }
    }

    private func serverFields() -> [(String, String)] {
        var uts = utsname()
        uname(&uts)
        func field<T>(_ value: inout T) -> String {
            withUnsafeBytes(of: &value) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        let os = "\(field(&uts.sysname)) \(field(&uts.release)) \(field(&uts.machine))"
        let uptime = uptimeSeconds
        return [
            ("redis_version", TernVersion.redisCompatible),
            ("redis_git_sha1", "00000000"),
            ("redis_git_dirty", "0"),
            ("redis_build_id", "0"),
            ("redis_mode", "standalone"),
            ("os", os),
            ("arch_bits", String(MemoryLayout<Int>.size * 8)),
            ("monotonic_clock", "POSIX clock_gettime"),
            ("multiplexing_api", "epoll"),
            ("atomicvar_api", "c11-builtin"),
            ("gcc_version", "0.0.0"),
            ("process_id", String(getpid())),
            ("process_supervised", "no"),
            ("run_id", runID),
            ("tcp_port", String(config.port)),
            ("server_time_usec", String(clock.nowMicros())),
            ("uptime_in_seconds", String(uptime)),
            ("uptime_in_days", String(uptime / 86400)),
            ("hz", String(config.hz)),
            ("configured_hz", String(config.hz)),
            ("lru_clock", String(lruClock & 0xFF_FFFF)),
            ("executable", ProcessMemory.executablePath()),
            ("config_file", config.configFile),
            ("io_threads_active", "0"),
            ("tern_version", TernVersion.tern),
            ("tern_backend", engine.name),
        ]
    }

    private func clientFields() -> [(String, String)] {
        var blocked = 0
        var maxInput = 0
        var maxOutput = 0
        for client in clients.values {
            if client.flags.contains(.blocked) { blocked += 1 }
            maxInput = max(maxInput, client.queryBufferBytes)
            maxOutput = max(maxOutput, client.output.readableBytes)
        }
        return [
            ("connected_clients", String(connectedClientCount)),
            ("cluster_connections", "0"),
            ("maxclients", String(config.maxClients)),
            ("client_recent_max_input_buffer", String(maxInput)),
            ("client_recent_max_output_buffer", String(maxOutput)),
            ("blocked_clients", String(blocked)),
            ("tracking_clients", String(tracking?.clientCount ?? 0)),
            ("clients_in_timeout_table", String(blocking.blocked.values.reduce(0) { $0 + ($1.deadline != nil ? 1 : 0) })),
        ]
    }

    /// The memory figures INFO memory and MEMORY STATS / DOCTOR share, read once.
    struct MemoryOverview {
        var used = 0, rss = 0, peak = 0, startup = 0, dataset = 0, overhead = 0
        var allocated = 0, active = 0, clientsNormal = 0, keys = 0, system = 0, backlog = 0, clientsReplicas = 0
        var netUsed: Int { max(0, used - startup) }
        var datasetPercent: Double { netUsed > 0 ? Double(min(dataset, netUsed)) * 100 / Double(netUsed) : 0 }
        var fragmentation: Double { used > 0 ? Double(rss) / Double(used) : 0 }
        var allocatorFragmentation: Double { allocated > 0 ? Double(active) / Double(allocated) : 0 }
        var allocatorRSS: Double { active > 0 ? Double(rss) / Double(active) : 0 }
    }

    /// A numeric field another layer adds to an INFO section (0 when none does).
    func providedField(_ section: String, _ name: String) -> Int {
        infoProviders[section]?().first { $0.0 == name }.flatMap { Int($0.1) } ?? 0
    }

    func memoryOverview() -> MemoryOverview {
        var m = MemoryOverview()
        m.used = measuredUsedMemory()
        m.rss = ProcessMemory.residentBytes()
        m.peak = metrics.peakMemory
        m.startup = metrics.startupMemory
        m.dataset = engine.usedMemoryEstimate
        m.overhead = max(0, m.used - m.dataset)
        let info = ProcessMemory.mallocInfo()
        m.allocated = info.allocated
        m.active = info.active
        m.clientsNormal = clients.values.reduce(0) {
            $0 + ($1.flags.contains(.replica) ? 0 : $1.output.capacity + $1.queryBufferBytes)
        }
        m.keys = (0..<engine.databaseCount).reduce(0) { $0 + database($1).keyCount }
        m.system = ProcessMemory.totalSystemMemory()
        m.backlog = providedField("memory", "mem_replication_backlog")
        m.clientsReplicas = providedField("memory", "mem_clients_slaves")
        return m
    }

    private func memoryFields() -> [(String, String)] {
        let m = memoryOverview()
        let (used, rss, peak, startup, dataset, overhead, system) = (m.used, m.rss, m.peak, m.startup, m.dataset, m.overhead, m.system)
        let datasetPerc = m.datasetPercent
        let info = ProcessMemory.MallocInfo(allocated: m.allocated, active: m.active)
        let fragRatio = m.fragmentation
        let human = Self.bytesToHuman
        return [
            ("used_memory", String(used)),
            ("used_memory_human", human(used)),
            ("used_memory_rss", String(rss)),
            ("used_memory_rss_human", human(rss)),
            ("used_memory_peak", String(peak)),
            ("used_memory_peak_human", human(peak)),
            ("used_memory_peak_perc", Self.fixed(peak > 0 ? Double(used) * 100 / Double(peak) : 0, 2) + "%"),
            ("used_memory_overhead", String(overhead)),
            ("used_memory_startup", String(startup)),
            ("used_memory_dataset", String(dataset)),
            ("used_memory_dataset_perc", Self.fixed(datasetPerc, 2) + "%"),
            ("allocator_allocated", String(info.allocated)),
            ("allocator_active", String(info.active)),
            ("allocator_resident", String(rss)),
            ("total_system_memory", String(system)),
            ("total_system_memory_human", human(system)),
            ("used_memory_lua", "0"),
            ("used_memory_vm_eval", "0"),
            ("used_memory_lua_human", "0B"),
            ("used_memory_scripts_eval", "0"),
            ("number_of_cached_scripts", "0"),
            ("number_of_functions", "0"),
            ("number_of_libraries", "0"),
            ("used_memory_vm_functions", "0"),
            ("used_memory_vm_total", "0"),
            ("used_memory_vm_total_human", "0B"),
            ("used_memory_functions", "0"),
            ("used_memory_scripts", "0"),
            ("used_memory_scripts_human", "0B"),
            ("maxmemory", String(config.maxMemory)),
            ("maxmemory_human", human(config.maxMemory)),
            ("maxmemory_policy", config.maxMemoryPolicy),
            ("allocator_frag_ratio", Self.fixed(info.allocated > 0 ? Double(info.active) / Double(info.allocated) : 0, 2)),
            ("allocator_frag_bytes", String(max(0, info.active - info.allocated))),
            ("allocator_rss_ratio", Self.fixed(info.active > 0 ? Double(rss) / Double(info.active) : 0, 2)),
            ("allocator_rss_bytes", String(max(0, rss - info.active))),
            ("rss_overhead_ratio", "1.00"),
            ("rss_overhead_bytes", "0"),
            ("mem_fragmentation_ratio", Self.fixed(fragRatio, 2)),
            ("mem_fragmentation_bytes", String(rss - used)),
            ("mem_not_counted_for_evict", "0"),
            ("mem_replication_backlog", "0"),
            ("mem_total_replication_buffers", "0"),
            ("mem_clients_slaves", "0"),
            ("mem_clients_normal", String(m.clientsNormal)),
            ("mem_cluster_links", "0"),
            ("mem_aof_buffer", "0"),
            ("mem_allocator", "libc"),
            ("active_defrag_running", "0"),
            ("lazyfree_pending_objects", "0"),
            ("lazyfreed_objects", "0"),
        ]
    }

    private func persistenceFields() -> [(String, String)] {
        [
            ("loading", "0"),
            ("async_loading", "0"),
            ("current_cow_peak", "0"),
            ("current_cow_size", "0"),
            ("current_cow_size_age", "0"),
            ("current_fork_perc", "0.00"),
            ("current_save_keys_processed", "0"),
            ("current_save_keys_total", "0"),
            ("rdb_changes_since_last_save", String(dirty)),
            ("rdb_bgsave_in_progress", "0"),
            ("rdb_last_save_time", String(lastSaveUnix)),
            ("rdb_last_bgsave_status", "ok"),
            ("rdb_last_bgsave_time_sec", "-1"),
            ("rdb_current_bgsave_time_sec", "-1"),
            ("rdb_saves", "0"),
            ("rdb_last_cow_size", "0"),
            ("rdb_last_load_keys_expired", "0"),
            ("rdb_last_load_keys_loaded", "0"),
            ("aof_enabled", "0"),
            ("aof_rewrite_in_progress", "0"),
            ("aof_rewrite_scheduled", "0"),
            ("aof_last_rewrite_time_sec", "-1"),
            ("aof_current_rewrite_time_sec", "-1"),
            ("aof_last_bgrewrite_status", "ok"),
            ("aof_rewrites", "0"),
            ("aof_rewrites_consecutive_failures", "0"),
            ("aof_last_write_status", "ok"),
            ("aof_last_cow_size", "0"),
            ("module_fork_in_progress", "0"),
            ("module_fork_last_cow_size", "0"),
            ("tern_backend", engine.name),
        ] + engine.infoFields
    }

    private func statsFields() -> [(String, String)] {
        let s = stats
        return [
            ("total_connections_received", String(s.totalConnectionsReceived)),
            ("total_commands_processed", String(s.totalCommandsProcessed)),
            ("instantaneous_ops_per_sec", String(instantaneousOpsPerSecond)),
            ("total_net_input_bytes", String(s.totalNetInputBytes)),
            ("total_net_output_bytes", String(s.totalNetOutputBytes)),
            ("total_net_repl_input_bytes", "0"),
            ("total_net_repl_output_bytes", "0"),
            ("instantaneous_input_kbps", Self.fixed(metrics.netInput.value / 1024, 2)),
            ("instantaneous_output_kbps", Self.fixed(metrics.netOutput.value / 1024, 2)),
            ("instantaneous_input_repl_kbps", "0.00"),
            ("instantaneous_output_repl_kbps", "0.00"),
            ("rejected_connections", String(s.rejectedConnections)),
            ("sync_full", "0"),
            ("sync_partial_ok", "0"),
            ("sync_partial_err", "0"),
            ("expired_keys", String(s.expiredKeys)),
            ("expired_stale_perc", Self.fixed(s.expiredStalePercent, 2)),
            ("expired_time_cap_reached_count", String(s.expiredTimeCapReachedCount)),
            ("expire_cycle_cpu_milliseconds", String(s.expireCycleCPUMillis)),
            ("evicted_keys", String(s.evictedKeys)),
            ("evicted_clients", "0"),
            ("total_eviction_exceeded_time", "0"),
            ("current_eviction_exceeded_time", "0"),
            ("keyspace_hits", String(s.keyspaceHits)),
            ("keyspace_misses", String(s.keyspaceMisses)),
            ("pubsub_channels", String(pubsub.channelCount)),
            ("pubsub_patterns", String(pubsub.patternCount)),
            ("pubsubshard_channels", String(pubsub.shardChannelCount)),
            ("latest_fork_usec", "0"),
            ("total_forks", "0"),
            ("migrate_cached_sockets", "0"),
            ("slave_expires_tracked_keys", "0"),
            ("active_defrag_hits", "0"),
            ("active_defrag_misses", "0"),
            ("active_defrag_key_hits", "0"),
            ("active_defrag_key_misses", "0"),
            ("total_active_defrag_time", "0"),
            ("current_active_defrag_time", "0"),
            ("tracking_total_keys", String(tracking?.keyCount ?? 0)),
            ("tracking_total_items", String(tracking?.totalItems ?? 0)),
            ("tracking_total_prefixes", String(tracking?.prefixCount ?? 0)),
            ("unexpected_error_replies", String(s.unexpectedErrorReplies)),
            ("total_error_replies", String(s.totalErrorReplies)),
            ("dump_payload_sanitizations", "0"),
            ("total_reads_processed", String(s.totalReadsProcessed)),
            ("total_writes_processed", String(s.totalWritesProcessed)),
            ("io_threaded_reads_processed", "0"),
            ("io_threaded_writes_processed", "0"),
            ("reply_buffer_shrinks", "0"),
            ("reply_buffer_expands", "0"),
        ]
    }

    private func replicationFields() -> [(String, String)] {
        [
            ("role", "master"),
            ("connected_slaves", "0"),
            ("master_failover_state", "no-failover"),
            ("master_replid", metrics.replicationID),
            ("master_replid2", String(repeating: "0", count: 40)),
            ("master_repl_offset", "0"),
            ("second_repl_offset", "-1"),
            ("repl_backlog_active", "0"),
            ("repl_backlog_size", "1048576"),
            ("repl_backlog_first_byte_offset", "0"),
            ("repl_backlog_histlen", "0"),
        ]
    }

    private func cpuFields() -> [(String, String)] {
        func seconds(_ t: timeval) -> String { Self.fixed(Double(t.tv_sec) + Double(t.tv_usec) / 1_000_000, 6) }
        var me = rusage()
        var children = rusage()
        var thread = rusage()
        #if os(Linux)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &me)
        getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &children)
        getrusage(1 /* RUSAGE_THREAD: the command thread, Redis's main thread */, &thread)
        #else
        getrusage(RUSAGE_SELF, &me)
        getrusage(RUSAGE_CHILDREN, &children)
        thread = me
        #endif
        return [
            ("used_cpu_sys", seconds(me.ru_stime)),
            ("used_cpu_user", seconds(me.ru_utime)),
            ("used_cpu_sys_children", seconds(children.ru_stime)),
            ("used_cpu_user_children", seconds(children.ru_utime)),
            ("used_cpu_sys_main_thread", seconds(thread.ru_stime)),
            ("used_cpu_user_main_thread", seconds(thread.ru_utime)),
        ]
    }

    private func keyspaceFields() -> [(String, String)] {
        var fields: [(String, String)] = []
        let now = clock.nowMillis()
        for index in 0..<engine.databaseCount {
            let db = engine.database(index)
            let keys = db.keyCount
            guard keys > 0 else { continue }
            let expires = db.volatileKeyCount
            // Redis estimates avg_ttl from the expire cycle's samples; Tern samples the same way here.
            var avg = 0
            if expires > 0 {
                let ttls = db.sampleVolatile(20).map { $0.expireAt - now }.filter { $0 > 0 }
                if !ttls.isEmpty { avg = Int(ttls.reduce(0, +) / Int64(ttls.count)) }
            }
            fields.append(("db\(index)", "keys=\(keys),expires=\(expires),avg_ttl=\(avg)"))
        }
        return fields
    }

    /// Redis's bytesToHuman.
    static func bytesToHuman(_ n: Int) -> String {
        let d = Double(n)
        let k = 1024.0
        if n < 1024 { return "\(n)B" }
        if d < k * k { return fixed(d / k, 2) + "K" }
        if d < k * k * k { return fixed(d / (k * k), 2) + "M" }
        if d < k * k * k * k { return fixed(d / (k * k * k), 2) + "G" }
        if d < k * k * k * k * k { return fixed(d / (k * k * k * k), 2) + "T" }
        if d < k * k * k * k * k * k { return fixed(d / (k * k * k * k * k), 2) + "P" }
        return "\(n)B"
    }

    /// printf("%.<digits>f").
    static func fixed(_ value: Double, _ digits: Int) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, "%.\(digits)f", $0) }
        return String(cString: buffer)
    }
}

/// Process-level measurements for INFO.
enum ProcessMemory {
    struct MallocInfo { var allocated: Int; var active: Int }

    /// glibc's `struct mallinfo2`: ten size_t fields.
    struct MallInfo2 {
        var arena = 0, ordblks = 0, smblks = 0, hblks = 0, hblkhd = 0
        var usmblks = 0, fsmblks = 0, uordblks = 0, fordblks = 0, keepcost = 0
    }

    #if os(Linux) && arch(x86_64)
    /// `mallinfo2` isn't in Swift's Glibc module (malloc.h isn't part of it), so it is found with dlsym.
    /// The struct is returned through a hidden result pointer (SysV x86-64 `sret`, passed in rdi), which is
    /// what this signature passes.
    private typealias MallInfo2Function = @convention(c) (UnsafeMutableRawPointer) -> UnsafeMutableRawPointer?
    private static let mallinfo2Function: MallInfo2Function? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallinfo2") else { return nil }
        return unsafeBitCast(symbol, to: MallInfo2Function.self)
    }()
    #endif

    static func mallinfo2() -> MallInfo2? {
        #if os(Linux) && arch(x86_64)
        guard let function = mallinfo2Function else { return nil }
        var info = MallInfo2()
        _ = withUnsafeMutableBytes(of: &info) { function($0.baseAddress!) }
        return info
        #else
        return nil
        #endif
    }

    /// used_memory as Redis computes it from its allocator: glibc's uordblks + hblkhd (in-use heap bytes plus
    /// mmapped chunks). Where mallinfo2 isn't reachable, the resident size stands in.
    static func mallocInfo() -> MallocInfo {
        if let m = mallinfo2() {
            return MallocInfo(allocated: m.uordblks + m.hblkhd, active: m.arena + m.hblkhd)
        }
        let rss = residentBytes()
        return MallocInfo(allocated: rss, active: rss)
    }

    /// Bytes allocated through malloc and still in use.
    static func mallocUsed() -> Int { mallocInfo().allocated }

    /// Resident set size from /proc/self/statm (pages * page size).
    static func residentBytes() -> Int {
        guard let f = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(f) }
        var size = 0
        var resident = 0
        guard withUnsafeMutablePointer(to: &size, { s in
            withUnsafeMutablePointer(to: &resident) { r in
                withVaList([s, r]) { vfscanf(f, "%ld %ld", $0) }
            }
        }) == 2 else { return 0 }
        return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func totalSystemMemory() -> Int {
        Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func executablePath() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return "" }
        buffer[n] = 0
        return String(cString: buffer)
    }
}
