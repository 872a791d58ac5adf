import TernStorage

extension ServerState {
    /// One pass of the active expire cycle (Redis's `activeExpireCycle`, slow mode): per database, sample
    /// keys with an expiry and delete those that are due; repeat while more than a quarter of a sample was
    /// due, within a time budget. Bounded work per tick. Replicas never expire keys themselves.
    /// Returns the number of keys expired.
    @discardableResult
    public func activeExpireCycle(sampleSize: Int = 20, budgetMicros: Int = 25_000) -> Int {
        guard !isReplica && activeExpireEnabled && !scriptBusy && !(pausedUntilMillis > clock.nowMillis()) else { return 0 }
        let started = clock.monotonicNanos()
        commandTimeMillis = clock.nowMillis()
        var expired = 0
        var sampled = 0
        var stale = 0
        for index in 0..<engine.databaseCount {
            let keyspace = self.keyspace(index)
            let database = keyspace.database
            var rounds = 0
            while database.volatileKeyCount > 0 {
                let sample = database.sampleVolatile(sampleSize)
                var due = 0
                for (key, when) in sample where when < commandTimeMillis {
                    if database.lookup(key, touch: nil)?.expireAt.map({ $0 < commandTimeMillis }) == true {
                        keyspace.expire(key)
                        due += 1
                    }
                }
                expired += due
                sampled += sample.count
                stale += due
                rounds += 1
                if due * 4 <= sample.count { break }
                if rounds % 16 == 0 && Int((clock.monotonicNanos() &- started) / 1000) > budgetMicros {
                    stats.expiredTimeCapReachedCount += 1
                    break
                }
            }
        }
        if sampled > 0 {
            let current = Double(stale) / Double(sampled)
            stats.expiredStalePercent = current * 100 * 0.05 + stats.expiredStalePercent * 0.95
        }
        let elapsedMillis = Int((clock.monotonicNanos() &- started) / 1_000_000)
        stats.expireCycleCPUMillis += elapsedMillis
        latencyAddSampleIfNeeded("expire-cycle", millis: elapsedMillis)
        return expired
    }
}
