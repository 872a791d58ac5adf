/// The kinds of value a key holds (TYPE's names).
public enum ValueType: String, Sendable, CaseIterable {
    case string, list, set, zset, hash
}

/// What a string write does with the key's time to live.
public enum Expiry: Equatable, Sendable {
    /// No expiry (a previous one is removed), as plain SET.
    case none
    /// Keep the key's current expiry, as SET ... KEEPTTL.
    case keep
    /// Expire at this unix time in milliseconds, as SET ... PXAT.
    case at(Int64)
}

/// What a command handler works through: typed operations on the client's current database, the command's
/// clock, and propagation control. Valid only during the handler call.
///
/// Every operation behaves as the built-in commands' own: expired keys are gone (lazily deleted), reads count
/// keyspace hits and misses, writes mark the key changed (WATCH, keyspace events, dirty count), a key of
/// another kind gives WRONGTYPE (thrown), an emptied collection deletes its key.
public protocol PluginContext: AnyObject {
    /// The client's selected database.
    var db: Int { get }
    /// The client's id (CLIENT ID).
    var clientID: UInt64 { get }
    /// The command's time, unix milliseconds: one command sees one instant (the one expiry decisions use).
    /// Depending on it makes a command non-deterministic: replicate explicit effects (`replicate`).
    var nowMillis: Int64 { get }
    /// True when the command arrived from this server's master (it is being replicated here).
    var fromMaster: Bool { get }

    // MARK: keys
    func exists(_ key: [UInt8]) -> Bool
    func type(of key: [UInt8]) -> ValueType?
    /// Length of a string, element count of a collection; 0 when absent.
    func length(of key: [UInt8]) -> Int
    @discardableResult func delete(_ key: [UInt8]) -> Bool
    /// The key's expiry, unix milliseconds; nil when it has none or does not exist.
    func expiry(of key: [UInt8]) -> Int64?
    /// Sets (unix milliseconds) or removes (nil) the expiry of an existing key; false when absent or unchanged.
    @discardableResult func setExpiry(_ key: [UInt8], at millis: Int64?) -> Bool

    // MARK: strings
    /// The string value; nil when absent; WRONGTYPE for another kind.
    func get(_ key: [UInt8]) throws -> [UInt8]?
    /// Stores a string (replacing any kind of value), as SET.
    func set(_ key: [UInt8], _ value: [UInt8], expiry: Expiry)

    // MARK: hashes
    func hashGet(_ key: [UInt8], _ field: [UInt8]) throws -> [UInt8]?
    /// Returns how many fields were new.
    @discardableResult func hashSet(_ key: [UInt8], _ pairs: [([UInt8], [UInt8])]) throws -> Int
    @discardableResult func hashDelete(_ key: [UInt8], _ fields: [[UInt8]]) throws -> Int
    func hashGetAll(_ key: [UInt8]) throws -> [([UInt8], [UInt8])]

    // MARK: sets
    @discardableResult func setAdd(_ key: [UInt8], _ members: [[UInt8]]) throws -> Int
    @discardableResult func setRemove(_ key: [UInt8], _ members: [[UInt8]]) throws -> Int
    func setIsMember(_ key: [UInt8], _ member: [UInt8]) throws -> Bool
    func setMembers(_ key: [UInt8]) throws -> [[UInt8]]

    // MARK: lists
    /// Pushes one by one (at the head, `a b c` leaves `c` first); returns the new length.
    @discardableResult func listPush(_ key: [UInt8], _ values: [[UInt8]], atHead: Bool) throws -> Int
    @discardableResult func listPop(_ key: [UInt8], count: Int, fromHead: Bool) throws -> [[UInt8]]
    /// LRANGE indexes (negative count from the end).
    func listRange(_ key: [UInt8], _ start: Int, _ stop: Int) throws -> [[UInt8]]

    // MARK: sorted sets
    @discardableResult func zsetAdd(_ key: [UInt8], _ pairs: [([UInt8], Double)]) throws -> Int
    @discardableResult func zsetRemove(_ key: [UInt8], _ members: [[UInt8]]) throws -> Int
    func zsetScore(_ key: [UInt8], _ member: [UInt8]) throws -> Double?
    /// ZRANGE rank indexes (negative count from the end), ascending by score.
    func zsetRange(_ key: [UInt8], _ start: Int, _ stop: Int) throws -> [([UInt8], Double)]

    // MARK: propagation (replicas, and later the append-only log)
    /// Replicates `arguments` as a command of its own (as RedisModule_Replicate), in this database, instead of
    /// the command itself. Several calls replicate in order, wrapped in MULTI/EXEC. Required for a command
    /// whose result depends on the time, randomness or state outside the keyspace: replicate what it did.
    func replicate(_ arguments: [[UInt8]])
    /// Replicates the command as the client sent it (as RedisModule_ReplicateVerbatim), even if it changed no
    /// key. A write command that changed keys and called neither function is replicated verbatim anyway.
    func replicateVerbatim()

    // MARK: events
    /// Fires a keyspace event of the module class (`d` in notify-keyspace-events) for `key`.
    func notify(_ event: String, key: [UInt8])
}

extension PluginContext {
    /// `replicate(["SET", key, value])` with text words.
    public func replicate(_ words: String...) { replicate(words.map { Array($0.utf8) }) }
    public func set(_ key: [UInt8], _ value: [UInt8]) { set(key, value, expiry: .none) }
}
