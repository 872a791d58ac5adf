import NIOCore
import RESP
import TernStorage

/// A set of byte strings that remembers insertion order (subscription order).
struct OrderedByteSet {
    private(set) var items: [Bytes] = []
    private var members: Set<Bytes> = []

    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }
    func contains(_ b: Bytes) -> Bool { members.contains(b) }

    @discardableResult
    mutating func insert(_ b: Bytes) -> Bool {
        guard members.insert(b).inserted else { return false }
        items.append(b)
        return true
    }

    @discardableResult
    mutating func remove(_ b: Bytes) -> Bool {
        guard members.remove(b) != nil else { return false }
        if let i = items.firstIndex(of: b) { items.remove(at: i) }
        return true
    }
}

/// The three kinds of subscription Redis 7.0 has, with the words of their replies and messages.
public enum SubscriptionKind: Sendable {
    case channel, pattern, shard

    var subscribeWord: StaticString {
        switch self {
        case .channel: return "subscribe"
        case .pattern: return "psubscribe"
        case .shard: return "ssubscribe"
        }
    }

    var unsubscribeWord: StaticString {
        switch self {
        case .channel: return "unsubscribe"
        case .pattern: return "punsubscribe"
        case .shard: return "sunsubscribe"
        }
    }
}

/// `client-output-buffer-limit` for one client class: hard and soft byte limits (0 = none) and how long
/// the soft limit may be exceeded, in seconds.
public struct ClientOutputBufferLimit: Equatable, Sendable {
    public var hardBytes: UInt64
    public var softBytes: UInt64
    public var softSeconds: Int
    public init(hardBytes: UInt64, softBytes: UInt64, softSeconds: Int) {
        self.hardBytes = hardBytes
        self.softBytes = softBytes
        self.softSeconds = softSeconds
    }

    /// Redis's defaults: normal 0 0 0, replica 256mb 64mb 60, pubsub 32mb 8mb 60.
    public static let defaults: [ClientOutputBufferLimit] = [
        ClientOutputBufferLimit(hardBytes: 0, softBytes: 0, softSeconds: 0),
        ClientOutputBufferLimit(hardBytes: 256 << 20, softBytes: 64 << 20, softSeconds: 60),
        ClientOutputBufferLimit(hardBytes: 32 << 20, softBytes: 8 << 20, softSeconds: 60),
    ]

    /// Index of each class in `ServerConfig.clientOutputBufferLimits`, and the names Redis prints.
    public static let normal = 0, replica = 1, pubsub = 2
    public static let classNames = ["normal", "slave", "pubsub"]
}

/// One client's subscriptions.
final class Subscriber {
    unowned let client: Client
    var channels = OrderedByteSet()
    var patterns = OrderedByteSet()
    var shardChannels = OrderedByteSet()
    /// When the pubsub soft output limit was first seen exceeded (ms), 0 when not exceeded.
    var softLimitSince: Int64 = 0

    init(client: Client) { self.client = client }

    /// What SUBSCRIBE/PSUBSCRIBE (and their UN- forms) report: channels plus patterns.
    var count: Int { channels.count + patterns.count }
    var total: Int { channels.count + patterns.count + shardChannels.count }

    func set(_ kind: SubscriptionKind) -> OrderedByteSet {
        switch kind {
        case .channel: return channels
        case .pattern: return patterns
        case .shard: return shardChannels
        }
    }

    func count(for kind: SubscriptionKind) -> Int {
        kind == .shard ? shardChannels.count : count
    }
}

/// The server's pub/sub registry (Redis's pubsub.c): channel, pattern and shard-channel subscriptions,
/// message delivery in RESP2 or RESP3 form, and the pubsub output-buffer limit.
/// Created on first use; it registers the disconnect and RESET clean-up hooks itself.
public final class PubSub {
    unowned let server: ServerState
    /// Channel -> subscribers, in subscription order.
    var channels: [Bytes: [Client]] = [:]
    var shardChannels: [Bytes: [Client]] = [:]
    /// Pattern -> subscribers; `patternOrder` keeps the patterns in first-subscription order.
    var patterns: [Bytes: [Client]] = [:]
    var patternOrder: [Bytes] = []
    var subscribers: [UInt64: Subscriber] = [:]

    init(server: ServerState) {
        self.server = server
        server.clientRemovalHooks.append { [unowned self] client in self.removeAll(client, reply: nil) }
        server.resetHooks.append { [unowned self] client in self.removeAll(client, reply: nil) }
    }

    // MARK: queries

    /// CLIENT LIST sub= psub= ssub=.
    public func counts(for client: Client) -> (channels: Int, patterns: Int, shardChannels: Int) {
        guard let s = subscribers[client.id] else { return (0, 0, 0) }
        return (s.channels.count, s.patterns.count, s.shardChannels.count)
    }

    /// A client's subscriptions (channels and shard channels together, then patterns): ACL re-checks them.
    func subscriptions(of client: Client) -> (channels: [[UInt8]], patterns: [[UInt8]]) {
        guard let s = subscribers[client.id] else { return ([], []) }
        return ((s.channels.items + s.shardChannels.items).map(\.array), s.patterns.items.map(\.array))
    }

    /// INFO pubsub_channels / pubsub_patterns / pubsubshard_channels.
    public var channelCount: Int { channels.count }
    public var patternCount: Int { patterns.count }
    public var shardChannelCount: Int { shardChannels.count }

    func registry(_ kind: SubscriptionKind) -> [Bytes: [Client]] {
        switch kind {
        case .channel: return channels
        case .pattern: return patterns
        case .shard: return shardChannels
        }
    }

    // MARK: subscribe / unsubscribe

    /// Subscribes `client` to `name` and writes the confirmation to `out` (the client's reply stream).
    func subscribe(_ client: Client, _ kind: SubscriptionKind, _ name: Bytes, reply out: inout ByteBuffer) {
        let s = subscriber(client)
        var added = false
        switch kind {
        case .channel: added = s.channels.insert(name)
        case .pattern: added = s.patterns.insert(name)
        case .shard: added = s.shardChannels.insert(name)
        }
        if added {
            switch kind {
            case .channel: channels[name, default: []].append(client)
            case .shard: shardChannels[name, default: []].append(client)
            case .pattern:
                if patterns[name] == nil { patternOrder.append(name) }
                patterns[name, default: []].append(client)
            }
        }
        client.flags.insert(.pubsub)
        Self.writeConfirmation(&out, client.resp, kind.subscribeWord, name, s.count(for: kind))
    }

    /// Unsubscribes from one name (replying even when it wasn't subscribed, as Redis does).
    func unsubscribe(_ client: Client, _ kind: SubscriptionKind, _ name: Bytes, reply out: inout ByteBuffer?) {
        let s = subscribers[client.id]
        var removed = false
        if let s {
            switch kind {
            case .channel: removed = s.channels.remove(name)
            case .pattern: removed = s.patterns.remove(name)
            case .shard: removed = s.shardChannels.remove(name)
            }
        }
        if removed { detach(client, kind, name) }
        let count = s?.count(for: kind) ?? 0
        if out != nil { Self.writeConfirmation(&out!, client.resp, kind.unsubscribeWord, name, count) }
        settle(client)
    }

    /// UNSUBSCRIBE (PUNSUBSCRIBE, SUNSUBSCRIBE) without arguments: every name of that kind, or one reply
    /// with a null name when there was none.
    func unsubscribeAll(_ client: Client, _ kind: SubscriptionKind, reply out: inout ByteBuffer?) {
        let names = subscribers[client.id]?.set(kind).items ?? []
        if names.isEmpty {
            let count = subscribers[client.id]?.count(for: kind) ?? 0
            if out != nil { Self.writeConfirmation(&out!, client.resp, kind.unsubscribeWord, nil, count) }
            return
        }
        for name in names { unsubscribe(client, kind, name, reply: &out) }
    }

    /// Drops every subscription of a client (disconnect, RESET): no replies.
    func removeAll(_ client: Client, reply: ByteBuffer?) {
        guard subscribers[client.id] != nil else { return }
        var none: ByteBuffer? = nil
        for kind in [SubscriptionKind.channel, .pattern, .shard] {
            unsubscribeAll(client, kind, reply: &none)
        }
        subscribers.removeValue(forKey: client.id)
        client.flags.remove(.pubsub)
    }

    private func subscriber(_ client: Client) -> Subscriber {
        if let s = subscribers[client.id] { return s }
        let s = Subscriber(client: client)
        subscribers[client.id] = s
        return s
    }

    private func detach(_ client: Client, _ kind: SubscriptionKind, _ name: Bytes) {
        func drop(_ table: inout [Bytes: [Client]]) -> Bool {
            guard var list = table[name] else { return false }
            list.removeAll { $0 === client }
            if list.isEmpty { table.removeValue(forKey: name); return true }
            table[name] = list
            return false
        }
        switch kind {
        case .channel: _ = drop(&channels)
        case .shard: _ = drop(&shardChannels)
        case .pattern:
            if drop(&patterns), let i = patternOrder.firstIndex(of: name) { patternOrder.remove(at: i) }
        }
    }

    /// Clears the pubsub flag once a client has no subscription left.
    private func settle(_ client: Client) {
        guard let s = subscribers[client.id], s.total == 0 else { return }
        subscribers.removeValue(forKey: client.id)
        client.flags.remove(.pubsub)
    }

    // MARK: publishing

    /// PUBLISH: delivers to channel subscribers, then to every matching pattern's subscribers.
    /// Returns the number of deliveries. `current` is the client running the command (its messages go to
    /// its reply stream, in order with its replies).
    @discardableResult
    public func publish(_ channel: Bytes, _ message: Bytes, current: Client?) -> Int {
        var receivers = 0
        if let list = channels[channel] {
            for client in list {
                deliver(to: client, current: current) { out, resp in
                    Self.writeMessage(&out, resp, word: "message", pattern: nil, channel: channel, message: message)
                }
                receivers += 1
            }
        }
        if !patternOrder.isEmpty {
            for pattern in patternOrder {
                guard let list = patterns[pattern],
                      GlobMatch.matches(pattern: pattern.array, channel.array, caseInsensitive: false) else { continue }
                for client in list {
                    deliver(to: client, current: current) { out, resp in
                        Self.writeMessage(&out, resp, word: "pmessage", pattern: pattern, channel: channel, message: message)
                    }
                    receivers += 1
                }
            }
        }
        return receivers
    }

    /// SPUBLISH: shard-channel subscribers only.
    @discardableResult
    public func publishShard(_ channel: Bytes, _ message: Bytes, current: Client?) -> Int {
        guard let list = shardChannels[channel] else { return 0 }
        for client in list {
            deliver(to: client, current: current) { out, resp in
                Self.writeMessage(&out, resp, word: "smessage", pattern: nil, channel: channel, message: message)
            }
        }
        return list.count
    }

    /// Writes one message for `client`: into its reply stream when it is the client running the command
    /// (or still has unflushed replies), else straight to its connection; then applies the pubsub
    /// output-buffer limit.
    private func deliver(to client: Client, current: Client?,
                         _ write: (inout ByteBuffer, RESPVersion) -> Void) {
        // CLIENT REPLY OFF/SKIP silences pushes too (Redis's prepareClientToWrite refuses them).
        if client.replyMode == .off || client.replyMode == .skipThis { return }
        if client === current {
            write(&client.output, client.resp)
        } else if let transport = client.transport {
            var out = ByteBufferAllocator().buffer(capacity: 64)
            write(&out, client.resp)
            transport.send(out)
        } else {
            return
        }
        enforceOutputLimit(client)
    }

    /// Redis's checkClientOutputBufferLimits for the pubsub class: over the hard limit, or over the soft
    /// limit for longer than its seconds, and the client is closed (asynchronously, after what is queued).
    func enforceOutputLimit(_ client: Client) {
        guard client.flags.contains(.pubsub), !client.flags.contains(.master), !client.flags.contains(.replica),
              !client.closing, let s = subscribers[client.id] else { return }
        let limit = server.config.clientOutputBufferLimits[ClientOutputBufferLimit.pubsub]
        guard limit.hardBytes > 0 || limit.softBytes > 0 else { return }
        let used = UInt64(client.output.readableBytes + (client.transport?.pendingOutputBytes ?? 0))
        var exceeded = limit.hardBytes > 0 && used >= limit.hardBytes
        if limit.softBytes > 0 && used >= limit.softBytes {
            let now = server.clock.nowMillis()
            if s.softLimitSince == 0 {
                s.softLimitSince = now
            } else if (now - s.softLimitSince) / 1000 > Int64(limit.softSeconds) {
                exceeded = true
            }
        } else {
            s.softLimitSince = 0
        }
        guard exceeded else { return }
        server.logger.warning("Client id=\(client.id) addr=\(client.address) name=\(client.name) scheduled to be closed ASAP for overcoming of output buffer limits.")
        client.closing = true
        removeAll(client, reply: nil)
        client.transport?.close()
    }

    // MARK: wire forms

    /// `*3 <word> <name> :<count>` (RESP3: a `>3` push); a nil name is a null.
    static func writeConfirmation(_ out: inout ByteBuffer, _ resp: RESPVersion, _ word: StaticString,
                                  _ name: Bytes?, _ count: Int) {
        writePushHeader(&out, resp, 3)
        out.writeRESPBulkStatic(word)
        if let name { out.writeRESPBulk(name.array) } else { out.writeRESPNull(resp) }
        out.writeRESPInteger(count)
    }

    static func writeMessage(_ out: inout ByteBuffer, _ resp: RESPVersion, word: StaticString, pattern: Bytes?,
                             channel: Bytes, message: Bytes) {
        writePushHeader(&out, resp, pattern == nil ? 3 : 4)
        out.writeRESPBulkStatic(word)
        if let pattern { out.writeRESPBulk(pattern.array) }
        out.writeRESPBulk(channel.array)
        out.writeRESPBulk(message.array)
    }

    static func writePushHeader(_ out: inout ByteBuffer, _ resp: RESPVersion, _ n: Int) {
        out.writeRESPPushHeader(n, resp)
    }
}

extension ByteBuffer {
    mutating func writeRESPBulkStatic(_ word: StaticString) {
        writeStaticString("$")
        writeString(String(word.utf8CodeUnitCount))
        writeStaticString("\r\n")
        writeStaticString(word)
        writeStaticString("\r\n")
    }
}
