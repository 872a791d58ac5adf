#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Time as the server sees it. Injected so expiry is testable without sleeping.
public protocol Clock: AnyObject {
    /// Unix time in milliseconds (expiry is absolute unix ms, as in Redis).
    func nowMillis() -> Int64
    /// Unix time in microseconds (TIME, MONITOR, SLOWLOG).
    func nowMicros() -> Int64
    /// Monotonic nanoseconds, for durations.
    func monotonicNanos() -> UInt64
}

/// The real clock.
public final class SystemClock: Clock {
    public init() {}

    public func nowMillis() -> Int64 { nowMicros() / 1000 }

    public func nowMicros() -> Int64 {
        var tv = timeval()
        gettimeofday(&tv, nil)
        return Int64(tv.tv_sec) * 1_000_000 + Int64(tv.tv_usec)
    }

    public func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// A clock tests move by hand.
public final class ManualClock: Clock {
    public var micros: Int64
    public init(millis: Int64 = 1_700_000_000_000) { micros = millis * 1000 }
    public func nowMillis() -> Int64 { micros / 1000 }
    public func nowMicros() -> Int64 { micros }
    public func monotonicNanos() -> UInt64 { UInt64(micros) * 1000 }
    public func advance(millis: Int64) { micros += millis * 1000 }
}
