/// Classes of keyspace events, as notify-keyspace-events letters (RedisModule's REDISMODULE_NOTIFY_*).
public struct KeyspaceEventClass: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// g: generic commands (del, expire, rename_from, ...).
    public static let generic = KeyspaceEventClass(rawValue: 1 << 0)
    /// $: string commands.
    public static let string = KeyspaceEventClass(rawValue: 1 << 1)
    public static let list = KeyspaceEventClass(rawValue: 1 << 2)
    public static let set = KeyspaceEventClass(rawValue: 1 << 3)
    public static let hash = KeyspaceEventClass(rawValue: 1 << 4)
    public static let zset = KeyspaceEventClass(rawValue: 1 << 5)
    /// x: a key expired.
    public static let expired = KeyspaceEventClass(rawValue: 1 << 6)
    /// e: a key was evicted.
    public static let evicted = KeyspaceEventClass(rawValue: 1 << 7)
    /// m: a read found no key.
    public static let keyMiss = KeyspaceEventClass(rawValue: 1 << 8)
    /// n: a key was created.
    public static let new = KeyspaceEventClass(rawValue: 1 << 9)
    /// d: events plugins fire themselves (`PluginContext.notify`).
    public static let module = KeyspaceEventClass(rawValue: 1 << 10)
    /// t: stream commands.
    public static let stream = KeyspaceEventClass(rawValue: 1 << 11)

    /// Every class but key misses and new keys (as 'A').
    public static let all: KeyspaceEventClass = [.generic, .string, .list, .set, .hash, .zset, .expired, .evicted,
                                                 .module, .stream]
}

/// One keyspace event: what `__keyevent@<db>__:<name>` would publish.
public struct KeyspaceEvent: Sendable, Equatable {
    public var eventClass: KeyspaceEventClass
    /// The event name ("set", "del", "expired", "lpush", ...).
    public var name: String
    public var key: [UInt8]
    public var db: Int

    public init(eventClass: KeyspaceEventClass, name: String, key: [UInt8], db: Int) {
        self.eventClass = eventClass
        self.name = name
        self.key = key
        self.db = db
    }
}
