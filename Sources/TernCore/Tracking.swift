import NIOCore
import RESP
import TernStorage

/// Client-side caching (Redis's tracking.c): which clients may hold which keys, and the invalidation messages
/// they get when a key changes.
///
/// Keys are global (not per database), as in Redis. A key's entry is dropped once it was invalidated; the
/// client reads it again to be told of the next change. BCAST clients are not in the key table: every key
/// changed in an event-loop pass that matches one of their prefixes is sent to them once the pass ends.
/// Created by the first `CLIENT TRACKING ON`; until then `ServerState.tracking` is nil and the write path
/// pays one nil test.
public final class Tracking {
    unowned let server: ServerState
    /// Key -> ids of the clients that read it.
    private(set) var table: [Bytes: Set<UInt64>] = [:]
    /// Client ids across the table (INFO tracking_total_items).
    public private(set) var totalItems = 0
    /// Prefix -> its BCAST clients and the keys changed under it in this pass.
    private var prefixes: [Bytes: BroadcastState] = [:]
    /// Clients with tracking on (INFO tracking_clients).
    public private(set) var clientCount = 0
    /// Invalidations for the client whose command is running: they go after its reply (nil: a flush).
    private var pendingForCurrent: [Bytes?] = []
    private var broadcastScheduled = false
    /// Runs its argument once the current event-loop pass is done (set by the server; nil in unit tests,
    /// where broadcasts leave at the end of each command).
    public var afterPass: ((@escaping () -> Void) -> Void)?

    final class BroadcastState {
        var clients: [UInt64: Client] = [:]
        /// Changed key -> id of the client that changed it last (0: the server, e.g. expiry), for NOLOOP.
        var keys: [Bytes: UInt64] = [:]
    }

    init(server: ServerState) {
        self.server = server
        server.clientRemovalHooks.append { [unowned self] client in self.disable(client) }
        server.resetHooks.append { [unowned self] client in self.disable(client) }
    }

    public var keyCount: Int { table.count }
    public var prefixCount: Int { prefixes.count }

    // MARK: enabling

    public struct Options: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let bcast = Options(rawValue: 1 << 0)
        public static let optIn = Options(rawValue: 1 << 1)
        public static let optOut = Options(rawValue: 1 << 2)
        public static let noLoop = Options(rawValue: 1 << 3)
    }

    /// enableTracking: options replace the previous ones; BCAST prefixes add to those already registered.
    func enable(_ client: Client, redirect: UInt64, options: Options, prefixes newPrefixes: [Bytes]) {
        if !client.flags.contains(.tracking) { clientCount += 1 }
        client.flags.insert(.tracking)
        client.flags.remove([.trackingBrokenRedirect, .trackingBcast, .trackingOptIn, .trackingOptOut, .trackingNoLoop])
        client.trackingRedirect = redirect
        if options.contains(.bcast) {
            client.flags.insert(.trackingBcast)
            for prefix in newPrefixes.isEmpty ? [Bytes()] : newPrefixes {
                let state = prefixes[prefix] ?? BroadcastState()
                prefixes[prefix] = state
                if state.clients.updateValue(client, forKey: client.id) == nil {
                    client.trackingPrefixes.append(prefix)
                }
            }
        }
        if options.contains(.optIn) { client.flags.insert(.trackingOptIn) }
        if options.contains(.optOut) { client.flags.insert(.trackingOptOut) }
        if options.contains(.noLoop) { client.flags.insert(.trackingNoLoop) }
    }

    /// disableTracking: the client's ids stay in the key table and are skipped (and dropped) lazily.
    func disable(_ client: Client) {
        if client.flags.contains(.trackingBcast) {
            for prefix in client.trackingPrefixes {
                guard let state = prefixes[prefix] else { continue }
                state.clients.removeValue(forKey: client.id)
                if state.clients.isEmpty { prefixes.removeValue(forKey: prefix) }
            }
            client.trackingPrefixes.removeAll()
        }
        if client.flags.contains(.tracking) {
            clientCount -= 1
            client.flags.remove(ClientFlags.trackingAll)
        }
    }

    /// checkPrefixCollisionsOrReply: no two prefixes of one client may both match a key.
    static func prefixCollision(_ client: Client, _ new: [Bytes]) -> CommandError? {
        func overlap(_ a: Bytes, _ b: Bytes) -> Bool {
            let n = min(a.count, b.count)
            return a.array.prefix(n) == b.array.prefix(n)
        }
        for (i, prefix) in new.enumerated() {
            for existing in client.trackingPrefixes.sorted() where overlap(existing, prefix) {
                return CommandError.err("Prefix '\(prefix.string)' overlaps with an existing prefix '\(existing.string)'. Prefixes for a single client must not overlap.")
            }
            for other in new[(i + 1)...] where overlap(prefix, other) {
                return CommandError.err("Prefix '\(prefix.string)' overlaps with another provided prefix '\(other.string)'. Prefixes for a single client must not overlap.")
            }
        }
        return nil
    }

    // MARK: reads

    /// trackingRememberKeys: after a read-only command of a tracking (non-BCAST) client.
    func remember(_ client: Client, _ spec: CommandSpec, _ arguments: [ByteBuffer]) {
        let optIn = client.flags.contains(.trackingOptIn)
        let optOut = client.flags.contains(.trackingOptOut)
        let caching = client.flags.contains(.trackingCaching)
        if (optIn && !caching) || (optOut && caching) { return }
        if spec.flags.contains(.pubsub) { return }
        for index in spec.keyIndexes(arguments) where index < arguments.count {
            let key = Bytes(arguments[index].readableBytesView)
            if table[key, default: []].insert(client.id).inserted { totalItems += 1 }
        }
    }

    // MARK: writes

    /// trackingInvalidateKey: `key` changed (`bySelf`: by the running client's command, not by expiry or
    /// eviction). `broadcast` false: the key is only dropped from the table (tracking-table-max-keys).
    func invalidate(_ key: Bytes, bySelf: Bool, broadcast: Bool = true) {
        let modifier = bySelf ? server.currentClient : nil
        if broadcast && !prefixes.isEmpty { rememberForBroadcast(key, modifier: modifier) }
        guard let ids = table.removeValue(forKey: key) else { return }
        totalItems -= ids.count
        for id in ids {
            guard let target = server.clients[id], target.flags.contains(.tracking),
                  !target.flags.contains(.trackingBcast) else { continue }
            if target.flags.contains(.trackingNoLoop) && target === modifier { continue }
            if target === server.currentClient {
                pendingForCurrent.append(key)
            } else {
                send(to: target) { out, _ in Self.writeKeys(&out, [key]) }
            }
        }
    }

    /// trackingInvalidateKeysOnFlush: one null ("every key") to every tracking client, and the table is emptied.
    /// A FLUSHALL empties each database in turn: `flushNotified` keeps it to one message per command.
    func flushed() {
        if !flushNotified {
            flushNotified = true
            for client in server.clients.values where client.flags.contains(.tracking) {
                if client === server.currentClient {
                    pendingForCurrent.append(nil)
                } else {
                    send(to: client) { out, resp in out.writeRESPNull(resp) }
                }
            }
            if server.currentClient == nil { scheduleAfterPass() }
        }
        table.removeAll()
        totalItems = 0
    }
    private var flushNotified = false

    private func rememberForBroadcast(_ key: Bytes, modifier: Client?) {
        var any = false
        for (prefix, state) in prefixes where key.array.starts(with: prefix.array) {
            state.keys[key] = modifier?.id ?? 0
            any = true
        }
        if any { scheduleAfterPass() }
    }

    private func scheduleAfterPass() {
        guard !broadcastScheduled, let afterPass else { return }
        broadcastScheduled = true
        afterPass { [unowned self] in
            broadcastScheduled = false
            flushNotified = false
            broadcastPending()
        }
    }

    /// The end of a top-level command: the running client's own invalidations follow its reply.
    func commandEnded(_ client: Client) {
        if !pendingForCurrent.isEmpty {
            let pending = pendingForCurrent
            pendingForCurrent.removeAll()
            for key in pending {
                send(to: client) { out, resp in
                    if let key { Self.writeKeys(&out, [key]) } else { out.writeRESPNull(resp) }
                }
            }
        }
        flushNotified = false
        if afterPass == nil { broadcastPending() }
    }

    /// trackingBroadcastInvalidationMessages: per prefix (in order), the changed keys (sorted) to each client.
    func broadcastPending() {
        for prefix in prefixes.keys.sorted() {
            guard let state = prefixes[prefix], !state.keys.isEmpty else { continue }
            let changed = state.keys.sorted { $0.key < $1.key }
            state.keys.removeAll()
            for client in state.clients.values.sorted(by: { $0.id < $1.id }) {
                let keys = client.flags.contains(.trackingNoLoop)
                    ? changed.filter { $0.value != client.id }.map(\.key) : changed.map(\.key)
                if keys.isEmpty { continue }
                send(to: client) { out, _ in Self.writeKeys(&out, keys) }
            }
        }
    }

    /// trackingLimitUsedSlots (before each command): over tracking-table-max-keys, keys leave the table with
    /// an invalidation to their clients, as if they had changed; the effort grows while the limit is missed.
    func enforceLimit() {
        let max = server.config.trackingTableMaxKeys
        guard max > 0, table.count > max else {
            limitMisses = 0
            return
        }
        var effort = 100 * (limitMisses + 1)
        // Some key (the first in hash order, as arbitrary as Redis's random walk, without the O(n) walk of
        // `randomElement()`).
        while effort > 0, let key = table.keys.first {
            effort -= 1
            invalidate(key, bySelf: false, broadcast: false)
            if table.count <= max {
                limitMisses = 0
                return
            }
        }
        limitMisses += 1
    }
    private var limitMisses = 0

    // MARK: messages

    /// sendTrackingMessage: to the client, or to its REDIRECT target (RESP3: a push; RESP2: a
    /// `__redis__:invalidate` message when the target is in pub/sub mode). A vanished target marks the
    /// redirection broken and tells a RESP3 client so.
    private func send(to client: Client, _ writeValue: @escaping (inout ByteBuffer, RESPVersion) -> Void) {
        var target = client
        var redirected = false
        if client.trackingRedirect != 0 {
            guard let redirect = server.clients[client.trackingRedirect] else {
                client.flags.insert(.trackingBrokenRedirect)
                if client.resp == .resp3 {
                    let id = Int(client.trackingRedirect)
                    write(to: client) { out in
                        out.writeRESPPushHeader(2, .resp3)
                        out.writeRESPBulkStatic("tracking-redir-broken")
                        out.writeRESPInteger(id)
                    }
                }
                return
            }
            target = redirect
            redirected = true
        }
        // The null of a flush is in the tracking client's protocol, as Redis's shared.null[c->resp].
        let resp = client.resp
        if target.resp == .resp3 {
            write(to: target) { out in
                out.writeRESPPushHeader(2, .resp3)
                out.writeRESPBulkStatic("invalidate")
                writeValue(&out, resp)
            }
        } else if redirected && target.flags.contains(.pubsub) {
            write(to: target) { out in
                out.writeRESPPushHeader(3, .resp2)
                out.writeRESPBulkStatic("message")
                out.writeRESPBulkStatic("__redis__:invalidate")
                writeValue(&out, resp)
            }
        }
        // Otherwise RESP2 without a redirection: nothing can carry the message.
    }

    /// Into the reply stream of the running client (in order with its replies), else straight to the connection.
    private func write(to client: Client, _ body: (inout ByteBuffer) -> Void) {
        // CLIENT REPLY OFF/SKIP silences pushes too (Redis 7.0's prepareClientToWrite).
        if client.replyMode == .off || client.replyMode == .skipThis { return }
        if client === server.currentClient {
            body(&client.output)
        } else if let transport = client.transport {
            var out = ByteBufferAllocator().buffer(capacity: 64)
            body(&out)
            transport.send(out)
        }
    }

    static func writeKeys(_ out: inout ByteBuffer, _ keys: [Bytes]) {
        out.writeRESPArrayHeader(keys.count)
        for key in keys { out.writeRESPBulk(key.array) }
    }
}

extension ServerState {
    /// The tracking table, created by the first CLIENT TRACKING ON.
    public func enableTrackingTable() -> Tracking {
        if let tracking { return tracking }
        let created = Tracking(server: self)
        created.afterPass = trackingAfterPass
        tracking = created
        return created
    }
}
