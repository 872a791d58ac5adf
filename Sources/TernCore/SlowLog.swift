import NIOCore

/// SLOWLOG entries, newest first.
public final class SlowLog {
    public struct Entry {
        public var id: Int
        public var timestampSeconds: Int64
        public var durationMicros: Int
        public var arguments: [ByteBuffer]
        public var clientAddress: String
        public var clientName: String
    }

    public private(set) var entries: [Entry] = []
    private var nextID = 0

    public init() {}

    /// Records a call, keeping at most `maxLength` entries. Arguments are trimmed as Redis trims them
    /// (32 arguments, 128 bytes each).
    public func record(arguments: [ByteBuffer], durationMicros: Int, timestampSeconds: Int64,
                       client: Client, maxLength: Int) {
        guard maxLength > 0 else { return }
        var args: [ByteBuffer] = []
        let shown = min(arguments.count, 32)
        for i in 0..<shown {
            if i == 31 && arguments.count > 32 {
                args.append(ByteBuffer(string: "... (\(arguments.count - 31) more arguments)"))
                break
            }
            var a = arguments[i]
            if a.readableBytes > 128 {
                let more = a.readableBytes - 128
                var trimmed = a.readSlice(length: 128)!
                trimmed.writeString("... (\(more) more bytes)")
                a = trimmed
            }
            args.append(ByteBuffer(buffer: a))
        }
        entries.insert(Entry(id: nextID, timestampSeconds: timestampSeconds, durationMicros: durationMicros,
                             arguments: args, clientAddress: client.address, clientName: client.name), at: 0)
        nextID += 1
        trim(to: maxLength)
    }

    public func trim(to maxLength: Int) {
        if entries.count > maxLength { entries.removeLast(entries.count - max(maxLength, 0)) }
    }

    public func reset() { entries.removeAll() }
}

/// LATENCY monitor: the latest and worst spike per event, recorded when above the threshold.
public final class LatencyMonitor {
    public struct Sample {
        public var timestampSeconds: Int64
        public var latencyMillis: Int
    }
    public struct EventHistory {
        public var latest: Sample
        public var maxMillis: Int
        public var samples: [Sample]
    }

    public private(set) var events: [String: EventHistory] = [:]

    public init() {}

    public func record(event: String, millis: Int, timestampSeconds: Int64) {
        let sample = Sample(timestampSeconds: timestampSeconds, latencyMillis: millis)
        if var history = events[event] {
            history.latest = sample
            history.maxMillis = max(history.maxMillis, millis)
            // One sample per second, 160 at most, as Redis keeps.
            if history.samples.last?.timestampSeconds == timestampSeconds {
                history.samples[history.samples.count - 1].latencyMillis =
                    max(history.samples[history.samples.count - 1].latencyMillis, millis)
            } else {
                history.samples.append(sample)
                if history.samples.count > 160 { history.samples.removeFirst() }
            }
            events[event] = history
        } else {
            events[event] = EventHistory(latest: sample, maxMillis: millis, samples: [sample])
        }
    }

    /// Resets the named events (all when empty); returns how many were reset.
    public func reset(_ names: [String]) -> Int {
        if names.isEmpty {
            let n = events.count
            events.removeAll()
            return n
        }
        var n = 0
        for name in names where events.removeValue(forKey: name) != nil { n += 1 }
        return n
    }
}

extension ServerState {
    /// latencyAddSampleIfNeeded: records `event` when it took at least latency-monitor-threshold ms.
    @inline(__always)
    func latencyAddSampleIfNeeded(_ event: String, millis: Int) {
        guard config.latencyMonitorThreshold > 0 && millis >= config.latencyMonitorThreshold else { return }
        latency.record(event: event, millis: millis, timestampSeconds: clock.nowMillis() / 1000)
    }
}
