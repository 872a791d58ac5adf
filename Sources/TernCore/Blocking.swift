import DequeModule
import NIOCore
import RESP
import TernStorage

/// A (database, key) a client can wait on.
struct BlockKey: Hashable {
    var db: Int
    var key: Bytes
}

/// A client parked in a blocking command (BLPOP, BZPOPMIN, ...): what to run again when a key it waits on
/// gets data, and until when.
final class BlockedClient {
    let client: Client
    let context: CommandContext
    let spec: CommandSpec
    let arguments: [ByteBuffer]
    let keys: [BlockKey]
    /// Absolute unix ms; nil waits forever (timeout 0).
    let deadline: Int64?

    init(client: Client, context: CommandContext, spec: CommandSpec, arguments: [ByteBuffer], keys: [BlockKey],
         deadline: Int64?) {
        self.client = client
        self.context = context
        self.spec = spec
        self.arguments = arguments
        self.keys = keys
        self.deadline = deadline
    }
}

/// Who waits on which key, in arrival order, and which keys became ready since the last pass.
/// Redis's model: when a key a client waits on receives data, the client's command is executed again
/// (it pops, replies and propagates its non-blocking effect); clients are served first come, first served.
public final class BlockingRegistry {
    var waiters: [BlockKey: Deque<UInt64>] = [:]
    var blocked: [UInt64: BlockedClient] = [:]
    var ready: [BlockKey] = []
    var readySet: Set<BlockKey> = []
    /// While a parked command runs again: its original deadline (a re-block keeps it).
    var rerunDeadline: Int64?? = nil

    public init() {}

    public var count: Int { blocked.count }

    func add(_ b: BlockedClient) {
        blocked[b.client.id] = b
        for key in b.keys { waiters[key, default: []].append(b.client.id) }
    }

    func remove(_ id: UInt64) -> BlockedClient? {
        guard let b = blocked.removeValue(forKey: id) else { return nil }
        for key in b.keys {
            waiters[key]?.removeAll { $0 == id }
            if waiters[key]?.isEmpty == true { waiters.removeValue(forKey: key) }
        }
        b.client.flags.remove(.blocked)
        return b
    }

    /// A key was written: if someone waits on it, look at it after the current execution unit.
    @inline(__always)
    func keyTouched(db: Int, key: Bytes) {
        guard !waiters.isEmpty else { return }
        let k = BlockKey(db: db, key: key)
        guard waiters[k] != nil, readySet.insert(k).inserted else { return }
        ready.append(k)
    }
}

extension CommandContext {
    /// Parks the client on `keys` until one of them gets data or `timeoutMillis` passes (nil: forever). The
    /// handler writes no reply; the command runs again when a key is ready. Inside MULTI/EXEC a blocking
    /// command must not block: callers reply as their non-blocking form would (check `mayBlock`).
    /// `arguments` replaces the command's own for the later run (XREAD's `$` becomes the ID it stood for).
    public func block(on keys: [Bytes], timeoutMillis: Int64?, arguments replacement: [ByteBuffer]? = nil) {
        let registry = server.blocking
        let deadline: Int64?
        if let kept = registry.rerunDeadline {
            deadline = kept
        } else {
            deadline = timeoutMillis.map { server.commandTimeMillis + $0 }
        }
        let b = BlockedClient(client: client, context: self, spec: spec,
                              arguments: (replacement ?? arguments).map { ByteBuffer(buffer: $0) },
                              keys: keys.map { BlockKey(db: client.db, key: $0) }, deadline: deadline)
        client.flags.insert(.blocked)
        registry.add(b)
        if let deadline {
            let server = self.server
            let id = client.id
            client.transport?.scheduleTimer(afterMillis: max(0, deadline - server.commandTimeMillis)) { [weak server] in
                server?.expireBlockedClient(id)
            }
        }
    }

    /// False inside MULTI/EXEC, where blocking commands behave as their non-blocking forms.
    public var mayBlock: Bool { !server.inNestedCall }

    /// Parses a blocking timeout in seconds (fractional allowed) as Redis's getTimeoutFromObjectOrReply:
    /// nil for 0 (wait forever).
    public func blockingTimeout(_ index: Int) throws -> Int64? {
        guard let seconds = RedisNumber.parseDouble(arguments[index]), seconds.isFinite else {
            throw CommandError.err("timeout is not a float or out of range")
        }
        if seconds < 0 { throw CommandError.err("timeout is negative") }
        let millis = (seconds * 1000).rounded(.up)
        guard millis < Double(Int64.max / 2) else { throw CommandError.err("timeout is out of range") }
        return millis == 0 ? nil : Int64(millis)
    }
}

extension ServerState {
    /// Serves clients waiting on keys that got data during the unit that just ended: each waiting client's
    /// command runs again, in arrival order, until the key is drained or nobody waits.
    public func serveBlockedClients() {
        let registry = blocking
        while !registry.ready.isEmpty {
            let keys = registry.ready
            registry.ready.removeAll()
            registry.readySet.removeAll()
            for key in keys {
                // The waiters as they stand now: a command run again may park once more (a stream reader
                // with nothing new), at the back of the queue, and is not run twice in one pass.
                for id in registry.waiters[key] ?? [] {
                    guard let b = registry.blocked[id] else { continue }
                    // Stream readers also run when their key went away (XREADGROUP answers -UNBLOCKED).
                    guard keyspace(key.db).exists(key.key) || b.spec.group == "stream" else { continue }
                    _ = registry.remove(id)
                    registry.rerunDeadline = .some(b.deadline)
                    let micros = clock.nowMicros()
                    commandTimeMillis = micros / 1000
                    call(b.context, b.spec, b.arguments)
                    registry.rerunDeadline = nil
                    if !b.client.flags.contains(.blocked) { b.client.transport?.setReadingEnabled(true) }
                }
            }
        }
    }

    /// A call that ends without running again (timeout, CLIENT UNBLOCK) counts in the latency histogram as
    /// in Redis's updateStatsOnUnblock; its execution time (the first attempt) isn't kept, so it counts as 0.
    func recordUnblockedCall(_ spec: CommandSpec) {
        if config.latencyTracking { spec.stat.histogram.record(micros: 0) }
    }

    /// A parked client's time is up: it gets the null reply and carries on with its input.
    func expireBlockedClient(_ id: UInt64) {
        guard let b = blocking.blocked[id], let deadline = b.deadline, deadline <= clock.nowMillis() else { return }
        _ = blocking.remove(id)
        b.spec.stat.calls += 1
        recordUnblockedCall(b.spec)
        stats.totalCommandsProcessed += 1
        b.client.output.writeRESPNullArray(b.client.resp)
        b.client.transport?.setReadingEnabled(true)
    }

    /// From the cron: every parked client whose deadline passed (timers normally get there first).
    public func expireBlockedClients() {
        guard !blocking.blocked.isEmpty else { return }
        let now = clock.nowMillis()
        for (id, b) in blocking.blocked where b.deadline.map({ $0 <= now }) == true {
            expireBlockedClient(id)
        }
    }

    /// CLIENT UNBLOCK: ends a client's wait with the null reply, or with an error.
    public func unblockClient(_ id: UInt64, withError: Bool) -> Bool {
        guard let b = blocking.remove(id) else { return false }
        b.spec.stat.calls += 1
        recordUnblockedCall(b.spec)
        stats.totalCommandsProcessed += 1
        if withError {
            b.spec.stat.failedCalls += 1
            let error = CommandError("UNBLOCKED client unblocked via CLIENT UNBLOCK")
            countError(error)
            b.client.output.writeRESPError(error.message)
        } else {
            b.client.output.writeRESPNullArray(b.client.resp)
        }
        b.client.transport?.setReadingEnabled(true)
        return true
    }
}
