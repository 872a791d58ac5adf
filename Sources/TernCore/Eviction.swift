import NIOCore
import TernStorage

/// `maxmemory` and `maxmemory-policy`, as Redis's performEvictions: before a command that may grow memory
/// (flag denyoom) runs while used memory is above the limit, keys are evicted by the policy, sampling
/// `maxmemory-samples`-sized pools (Redis's approximated LRU/LFU/TTL); with `noeviction`, or when nothing can
/// be evicted, the command is refused with -OOM. Evictions propagate as DEL and fire `evicted` events.
extension ServerState {
    static let oomError = CommandError("OOM command not allowed when used memory > 'maxmemory'.")
    /// Keys sampled per eviction (Redis's maxmemory-samples default).
    static let evictionSamples = 5

    /// True when memory is within `maxmemory` (after evicting what the policy allows).
    func freeMemoryIfNeeded() -> Bool {
        let limit = config.maxMemory
        guard limit > 0 else { return true }
        var used = ProcessMemory.mallocUsed()
        guard used > limit else { return true }
        let policy = config.maxMemoryPolicy
        if policy == "noeviction" { return false }
        // Bounded work per command, as Redis's eviction time limit: a few hundred keys at most.
        var evicted = 0
        let started = clock.monotonicNanos()
        defer { latencyAddSampleIfNeeded("eviction-cycle", millis: Int((clock.monotonicNanos() &- started) / 1_000_000)) }
        while used > limit && evicted < 500 {
            guard evictOne(policy: policy) else { return false }
            evicted += 1
            if evicted % 16 == 0 { used = ProcessMemory.mallocUsed() }
        }
        return ProcessMemory.mallocUsed() <= limit || evicted > 0
    }

    /// Evicts the best candidate among a sample of every database; false when no key qualifies.
    private func evictOne(policy: String) -> Bool {
        let volatileOnly = policy.hasPrefix("volatile-")
        var best: (db: Int, key: Bytes, rank: Double)? = nil
        for index in 0..<engine.databaseCount {
            let database = self.database(index)
            if database.keyCount == 0 || (volatileOnly && database.volatileKeyCount == 0) { continue }
            var candidates: [Bytes] = []
            if volatileOnly {
                candidates = database.sampleVolatile(Self.evictionSamples).map(\.key)
            } else {
                for _ in 0..<Self.evictionSamples { if let k = database.randomKey() { candidates.append(k) } }
            }
            for key in candidates {
                guard let meta = database.metadata(key, touch: nil) else { continue }
                // Higher rank = better to evict.
                let rank: Double
                switch policy {
                case "allkeys-lru", "volatile-lru": rank = Double(lruClock &- meta.lastAccess)
                case "allkeys-lfu", "volatile-lfu": rank = 255 - Double(meta.frequency)
                case "volatile-ttl": rank = -Double(meta.expireAt ?? Int64.max)
                default: rank = Double.random(in: 0..<1)  // *-random
                }
                if best == nil || rank > best!.rank { best = (index, key, rank) }
            }
        }
        guard let victim = best else { return false }
        database(victim.db).remove(victim.key)
        stats.evictedKeys += 1
        keyModified(db: victim.db, key: victim.key, byServer: true)
        notifyKeyspaceEvent(.evicted, "evicted", victim.key, db: victim.db)
        propagateNow(Effect(db: victim.db, arguments: [ByteBuffer(string: "DEL"), ByteBuffer(bytes: victim.key.array)]))
        return true
    }
}
