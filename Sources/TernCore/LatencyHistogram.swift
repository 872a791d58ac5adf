#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A command's latency distribution, as Redis 7.0 keeps one per command (`latency-tracking`): an HDR
/// histogram of nanoseconds from 1 ns to 1 s with 2 significant digits (hdr_init(1, 1e9, 2)), so LATENCY
/// HISTOGRAM's buckets and INFO latencystats' percentiles come out as Redis's do for the same samples.
///
/// Layout (hdr_histogram.c): 256 sub-buckets (128 per half), 23 buckets, 3072 counters; a value's bucket
/// is its power of two above 255, its sub-bucket the value shifted by that bucket. The counters are
/// allocated on the first sample, so commands never called cost nothing.
public struct LatencyHistogram: Sendable {
    static let lowest: Int64 = 1
    static let highest: Int64 = 1_000_000_000
    static let subBucketHalfCountMagnitude = 7
    static let subBucketHalfCount = 128
    static let subBucketMask: Int64 = 255
    static let countsLength = 24 * 128

    public private(set) var counts: [Int64] = []
    public private(set) var totalCount: Int64 = 0

    public init() {}

    /// Records one call that took `micros` microseconds (clamped to the histogram's range, as Redis does).
    @inline(__always)
    public mutating func record(micros: Int) {
        let ns = min(max(Int64(micros) &* 1000, Self.lowest), Self.highest)
        if counts.isEmpty { counts = [Int64](repeating: 0, count: Self.countsLength) }
        counts[Self.countsIndex(ns)] += 1
        totalCount += 1
    }

    @inline(__always)
    static func bucketIndex(_ v: Int64) -> Int {
        (64 - (v | subBucketMask).leadingZeroBitCount) - (subBucketHalfCountMagnitude + 1)
    }

    @inline(__always)
    static func countsIndex(_ v: Int64) -> Int {
        let bucket = bucketIndex(v)
        let subBucket = Int(v >> Int64(bucket))
        return ((bucket + 1) << subBucketHalfCountMagnitude) + (subBucket - subBucketHalfCount)
    }

    static func valueAt(index: Int) -> Int64 {
        var bucket = (index >> subBucketHalfCountMagnitude) - 1
        var subBucket = (index & (subBucketHalfCount - 1)) + subBucketHalfCount
        if bucket < 0 {
            subBucket -= subBucketHalfCount
            bucket = 0
        }
        return Int64(subBucket) << Int64(bucket)
    }

    static func lowestEquivalent(_ v: Int64) -> Int64 {
        let bucket = bucketIndex(v)
        return (v >> Int64(bucket)) << Int64(bucket)
    }

    static func highestEquivalent(_ v: Int64) -> Int64 {
        let bucket = bucketIndex(v)
        let subBucket = v >> Int64(bucket)
        let adjusted = subBucket >= 256 ? bucket + 1 : bucket
        return lowestEquivalent(v) + (Int64(1) << Int64(adjusted)) - 1
    }

    /// hdr_value_at_percentile, in nanoseconds.
    public func valueAtPercentile(_ percentile: Double) -> Int64 {
        let requested = min(percentile, 100)
        let target = max(Int64((requested / 100 * Double(totalCount)) + 0.5), 1)
        var running: Int64 = 0
        var value: Int64 = 0
        for (i, c) in counts.enumerated() {
            running += c
            if running >= target {
                value = Self.valueAt(index: i)
                break
            }
        }
        return percentile == 0 ? Self.lowestEquivalent(value) : Self.highestEquivalent(value)
    }

    /// LATENCY HISTOGRAM's `histogram_usec`: the cumulative count at each power-of-two level from 1024 ns
    /// (hdr_iter_log_init(1024, 2)), labelled with the level's highest equivalent value in microseconds, only
    /// where the count grew; it ends at the level that holds the slowest call.
    public var cumulativeBuckets: [(micros: Int, count: Int)] {
        guard totalCount > 0 else { return [] }
        var out: [(Int, Int)] = []
        var level: Int64 = 1024
        var index = 0
        var running: Int64 = 0
        var previous: Int64 = 0
        while running < totalCount && level <= Self.highest * 2 {
            let last = Self.countsIndex(min(level, Self.highest))
            while index <= last && index < counts.count {
                running += counts[index]
                index += 1
            }
            if running > previous {
                out.append((Int(Self.highestEquivalent(level) / 1000), Int(running)))
            }
            previous = running
            level *= 2
        }
        return out
    }

    /// A percentile as Redis prints it: "%f" with the trailing zeros (and a bare point) removed.
    public static func percentileText(_ p: Double) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        _ = withVaList([p]) { vsnprintf(&buffer, buffer.count, "%f", $0) }
        var s = String(cString: buffer)
        if s.contains(".") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        return s
    }
}
