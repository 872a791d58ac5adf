import NIOCore
import RESP
import TernStorage

/// What the core needs from a connection: push bytes outside the request/reply cycle, and close it.
public protocol ClientTransport: AnyObject {
    /// Writes and flushes `buffer` now (MONITOR feeds, pub/sub messages, replies released later).
    func send(_ buffer: ByteBuffer)
    /// Closes the connection once what was queued has been written.
    func close()
    /// Stops or resumes processing requests (CLIENT PAUSE; a blocked client being served or timed out):
    /// resuming sends what the client's output holds and runs its pending input.
    func setReadingEnabled(_ enabled: Bool)
    /// Runs `body` on the command thread after `afterMillis` (blocking command timeouts).
    func scheduleTimer(afterMillis: Int64, _ body: @escaping () -> Void)
    /// Bytes handed to the connection but not yet written to the socket (output-buffer limits).
    var pendingOutputBytes: Int { get }
}

extension ClientTransport {
    /// Transports that never queue (test doubles) report nothing pending.
    public var pendingOutputBytes: Int { 0 }
    /// Without timers (test doubles), the cron's `expireBlockedClients` ends waits.
    public func scheduleTimer(afterMillis: Int64, _ body: @escaping () -> Void) {}
}

/// Client flags shown by CLIENT LIST (`flags=`).
public struct ClientFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let multi = ClientFlags(rawValue: 1 << 0)
    public static let dirtyExec = ClientFlags(rawValue: 1 << 1)
    public static let dirtyCAS = ClientFlags(rawValue: 1 << 2)
    public static let monitor = ClientFlags(rawValue: 1 << 3)
    public static let replica = ClientFlags(rawValue: 1 << 4)
    public static let master = ClientFlags(rawValue: 1 << 5)
    public static let pubsub = ClientFlags(rawValue: 1 << 6)
    public static let closeAfterReply = ClientFlags(rawValue: 1 << 7)
    public static let noEvict = ClientFlags(rawValue: 1 << 8)
    public static let unixSocket = ClientFlags(rawValue: 1 << 9)
    public static let readonly = ClientFlags(rawValue: 1 << 10)
    public static let blocked = ClientFlags(rawValue: 1 << 11)
    public static let noTouch = ClientFlags(rawValue: 1 << 12)
    /// CLIENT TRACKING ON, and its modes (Redis's CLIENT_TRACKING_*).
    public static let tracking = ClientFlags(rawValue: 1 << 13)
    /// The REDIRECT target went away.
    public static let trackingBrokenRedirect = ClientFlags(rawValue: 1 << 14)
    public static let trackingBcast = ClientFlags(rawValue: 1 << 15)
    public static let trackingOptIn = ClientFlags(rawValue: 1 << 16)
    public static let trackingOptOut = ClientFlags(rawValue: 1 << 17)
    /// CLIENT CACHING yes|no for the next command.
    public static let trackingCaching = ClientFlags(rawValue: 1 << 18)
    public static let trackingNoLoop = ClientFlags(rawValue: 1 << 19)
    public static let trackingAll: ClientFlags = [.tracking, .trackingBrokenRedirect, .trackingBcast, .trackingOptIn,
                                                  .trackingOptOut, .trackingCaching, .trackingNoLoop]
}

/// CLIENT REPLY mode.
public enum ReplyMode: Sendable {
    case on
    case off
    /// Skip the reply of the next command only.
    case skipNext
    /// Internal: the current command's reply is being skipped.
    case skipThis
}

/// One connected client's state. Owned by the server's command thread.
public final class Client {
    public let id: UInt64
    public var name: String = ""
    public var db: Int = 0
    public var resp: RESPVersion = .resp2
    public var authenticated: Bool
    /// The ACL user; nil for the master link and other internal clients, which may run anything (Redis's NULL user).
    public var aclUser: ACLUser?
    /// CLIENT LIST `user=`.
    public var user: String { aclUser?.name ?? "default" }
    public var flags: ClientFlags = []
    public var replyMode: ReplyMode = .on
    /// Replies are written here and flushed once per read batch.
    public var output: ByteBuffer
    public weak var transport: ClientTransport?
    /// "ip:port" of the peer and of the local end.
    public var address: String
    public var localAddress: String
    public var createdAtMillis: Int64
    public var lastInteractionMillis: Int64
    /// The last command run (CLIENT LIST `cmd=`).
    public var lastCommand: CommandSpec?
    /// Queued commands of a MULTI block.
    public var queued: [[ByteBuffer]] = []
    /// Set by CLIENT KILL etc.: the connection closes after the current reply.
    public var closing = false
    /// Bytes buffered but not yet parsed (CLIENT LIST qbuf).
    public var queryBufferBytes: Int = 0
    /// Room left in the query buffer's allocation (qbuf-free).
    public var queryBufferFree: Int = 0
    public var libName: String = ""
    public var libVersion: String = ""
    /// CLIENT TRACKING REDIRECT id (0: none) and the BCAST prefixes registered, in registration order.
    public var trackingRedirect: UInt64 = 0
    public var trackingPrefixes: [Bytes] = []

    public init(id: UInt64, address: String, localAddress: String, authenticated: Bool, now: Int64,
                allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        self.id = id
        self.address = address
        self.localAddress = localAddress
        self.authenticated = authenticated
        self.createdAtMillis = now
        self.lastInteractionMillis = now
        self.output = allocator.buffer(capacity: 1024)
    }

    /// CLIENT LIST `flags=` letters, in Redis 7.0's order (catClientInfoString).
    public var flagString: String {
        var s = ""
        if flags.contains(.monitor) { s += "O" } else if flags.contains(.replica) { s += "S" }
        if flags.contains(.master) { s += "M" }
        if flags.contains(.pubsub) { s += "P" }
        if flags.contains(.multi) { s += "x" }
        if flags.contains(.blocked) { s += "b" }
        if flags.contains(.tracking) { s += "t" }
        if flags.contains(.trackingBrokenRedirect) { s += "R" }
        if flags.contains(.trackingBcast) { s += "B" }
        if flags.contains(.dirtyCAS) { s += "d" }
        if flags.contains(.closeAfterReply) { s += "c" }
        // Closed by CLIENT KILL or an output limit, not yet gone (Redis's CLIENT_CLOSE_ASAP).
        if closing && !flags.contains(.closeAfterReply) { s += "A" }
        if flags.contains(.unixSocket) { s += "U" }
        if flags.contains(.readonly) { s += "r" }
        if flags.contains(.noEvict) { s += "e" }
        if flags.contains(.noTouch) { s += "T" }
        return s.isEmpty ? "N" : s
    }
}
