import TernPluginAPI

/// RATELIMIT.THROTTLE: the GCRA rate limiter redis-cell's CL.THROTTLE made popular.
///
/// One string key per limiter holds its theoretical arrival time (TAT, unix microseconds) and expires when the
/// limiter is back to full capacity. The answer depends on the time, so the command never replicates as sent:
/// it replicates what it stored, `SET key <tat> PXAT <expiry>`, which any replica (Tern or Redis) applies to
/// the same state.
public final class RateLimitPlugin: TernPlugin {
    public let name = "ratelimit"
    public let version = 1
    /// The latest expiry of a state this plugin stored: MODULE UNLOAD is refused until it has passed.
    private var liveUntilMillis: Int64 = 0
    private weak var registrar: PluginRegistrar?

    public init() {}

    public func load(_ registrar: PluginRegistrar, arguments: [String]) throws {
        guard arguments.isEmpty else { throw PluginError("ratelimit takes no arguments") }
        self.registrar = registrar
        try registrar.register(PluginCommand(
            "throttle", arity: -5, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1),
            summary: "Applies the GCRA rate limit of a key: whether an action is allowed, and when to retry",
            complexity: "O(1)",
            arguments: ["key", "max_burst", "count_per_period", "period", "[quantity]"],
            handler: { [unowned self] ctx, args in try self.throttle(ctx, args) }))
    }

    public func unload() throws {
        if let now = registrar?.nowMillis(), liveUntilMillis > now {
            throw PluginError("ratelimit holds limiter state that has not expired yet, can't unload")
        }
    }

    func throttle(_ ctx: PluginContext, _ args: [[UInt8]]) throws -> Reply {
        guard args.count <= 6 else { throw PluginError.syntax }
        let key = args[1]
        let quota = try GCRA.Quota(maxBurst: Arguments.integer(args[2]), countPerPeriod: Arguments.integer(args[3]),
                                   periodSeconds: Arguments.integer(args[4]))
        let quantity = args.count == 6 ? try Arguments.integer(args[5]) : 1
        var tat: Int64?
        if let stored = try ctx.get(key) {
            guard let value = Arguments.parseInteger(stored) else {
                throw PluginError("ERR key holds a value that is not a rate limiter state")
            }
            tat = Int64(value)
        }
        let now = ctx.nowMillis * 1000
        let result = try GCRA.throttle(quota, tat: tat, now: now, quantity: quantity)
        if let newTAT = result.newTAT {
            // The state expires when the limiter is full again (TAT reached), rounded up to the millisecond.
            let expireAt = (newTAT + 999) / 1000
            let value = Array(String(newTAT).utf8)
            ctx.set(key, value, expiry: .at(expireAt))
            ctx.replicate([Array("SET".utf8), key, value, Array("PXAT".utf8), Array(String(expireAt).utf8)])
            liveUntilMillis = max(liveUntilMillis, expireAt)
        }
        return .integers([result.limited ? 1 : 0, result.limit, result.remaining, result.retryAfterSeconds,
                          result.resetAfterSeconds])
    }
}

/// The generic cell rate algorithm, in microseconds, as redis-cell computes it.
public enum GCRA {
    public struct Quota: Equatable {
        /// Emission interval: the time one unit of quantity "costs".
        public let emissionMicros: Int64
        /// Delay variation tolerance: how far ahead of now the TAT may run (emission x (max_burst + 1)).
        public let toleranceMicros: Int64
        public let limit: Int

        public init(maxBurst: Int, countPerPeriod: Int, periodSeconds: Int) throws {
            guard maxBurst >= 0 else { throw PluginError("ERR max_burst must not be negative") }
            guard countPerPeriod > 0 else { throw PluginError("ERR count_per_period must be positive") }
            guard periodSeconds > 0 else { throw PluginError("ERR period must be positive") }
            let (period, o1) = Int64(periodSeconds).multipliedReportingOverflow(by: 1_000_000)
            guard !o1 else { throw PluginError("ERR period is out of range") }
            emissionMicros = period / Int64(countPerPeriod)
            guard emissionMicros > 0 else { throw PluginError("ERR count_per_period is too large for the period") }
            let (limit, o2) = maxBurst.addingReportingOverflow(1)
            let (tolerance, o3) = emissionMicros.multipliedReportingOverflow(by: Int64(limit))
            guard !o2 && !o3 else { throw PluginError("ERR max_burst is out of range") }
            self.limit = limit
            toleranceMicros = tolerance
        }
    }

    public struct Result: Equatable {
        public var limited: Bool
        public var limit: Int
        public var remaining: Int
        /// Seconds until the same request would be allowed, rounded up; -1 when allowed (or never allowed).
        public var retryAfterSeconds: Int
        /// Seconds until the limiter is back to full capacity, rounded up.
        public var resetAfterSeconds: Int
        /// The TAT to store; nil when nothing changes (limited, or nothing to remember).
        public var newTAT: Int64?

        public init(limited: Bool, limit: Int, remaining: Int, retryAfterSeconds: Int, resetAfterSeconds: Int,
                    newTAT: Int64?) {
            self.limited = limited
            self.limit = limit
            self.remaining = remaining
            self.retryAfterSeconds = retryAfterSeconds
            self.resetAfterSeconds = resetAfterSeconds
            self.newTAT = newTAT
        }
    }

    /// One request of `quantity` units at `now`, given the stored TAT (nil: none).
    public static func throttle(_ quota: Quota, tat stored: Int64?, now: Int64, quantity: Int) throws -> Result {
        guard quantity >= 0 else { throw PluginError("ERR quantity must not be negative") }
        let (increment, o1) = quota.emissionMicros.multipliedReportingOverflow(by: Int64(quantity))
        guard !o1 else { throw PluginError("ERR quantity is out of range") }
        let tat = max(stored ?? now, now)
        let (newTAT, o2) = tat.addingReportingOverflow(increment)
        guard !o2 else { throw PluginError("ERR quantity is out of range") }
        let allowAt = newTAT - quota.toleranceMicros
        let diff = now - allowAt
        var result = Result(limited: false, limit: quota.limit, remaining: 0, retryAfterSeconds: -1,
                            resetAfterSeconds: 0, newTAT: nil)
        let ttl: Int64
        if diff < 0 {
            result.limited = true
            if increment <= quota.toleranceMicros { result.retryAfterSeconds = Int(ceilSeconds(-diff)) }
            ttl = max(0, (stored ?? now) - now)
        } else {
            ttl = newTAT - now
            if newTAT > now { result.newTAT = newTAT }
        }
        let next = quota.toleranceMicros - ttl
        if next > -quota.emissionMicros {
            result.remaining = max(0, Int(Double(next) / Double(quota.emissionMicros)))
        }
        result.resetAfterSeconds = Int(ceilSeconds(ttl))
        return result
    }

    static func ceilSeconds(_ micros: Int64) -> Int64 { micros <= 0 ? 0 : (micros + 999_999) / 1_000_000 }
}
