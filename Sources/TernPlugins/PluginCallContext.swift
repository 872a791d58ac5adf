import NIOCore
import TernCore
import TernPluginAPI
import TernStorage

/// The server's side of `PluginContext`: each operation goes to the client's `Keyspace`, as a built-in
/// command's would (lazy expiry, hit/miss statistics, WATCH, keyspace events, WRONGTYPE).
/// One per plugin command call; not to be kept after it.
final class PluginCallContext: PluginContext {
    let ctx: CommandContext
    let keyspace: Keyspace
    /// Set by `replicateVerbatim`: the command itself is appended after the handler's explicit effects.
    private(set) var verbatimRequested = false

    init(_ ctx: CommandContext) {
        self.ctx = ctx
        self.keyspace = ctx.keyspace
    }

    var db: Int { ctx.client.db }
    var clientID: UInt64 { ctx.client.id }
    var nowMillis: Int64 { ctx.server.commandTimeMillis }
    var fromMaster: Bool { ctx.client.flags.contains(.master) }

    // MARK: keys

    func exists(_ key: [UInt8]) -> Bool { keyspace.exists(Bytes(key)) }

    func type(of key: [UInt8]) -> ValueType? {
        keyspace.kind(of: Bytes(key)).flatMap { ValueType(rawValue: $0.typeName) }
    }

    func length(of key: [UInt8]) -> Int { keyspace.metadata(Bytes(key), touch: false)?.count ?? 0 }

    func delete(_ key: [UInt8]) -> Bool { keyspace.delete(Bytes(key)) }

    func expiry(of key: [UInt8]) -> Int64? { keyspace.metadata(Bytes(key), touch: false)?.expireAt }

    func setExpiry(_ key: [UInt8], at millis: Int64?) -> Bool {
        let k = Bytes(key)
        if let millis, keyspace.isPast(millis) {
            // A time already past deletes the key, as EXPIREAT does.
            return keyspace.delete(k)
        }
        return keyspace.setExpiry(k, millis)
    }

    // MARK: strings

    func get(_ key: [UInt8]) throws -> [UInt8]? { try keyspace.readString(Bytes(key))?.array }

    func set(_ key: [UInt8], _ value: [UInt8], expiry: Expiry) {
        let k = Bytes(key)
        switch expiry {
        case .none: keyspace.store(k, .string(Bytes(value)), expiry: .clear)
        case .keep: keyspace.store(k, .string(Bytes(value)), expiry: .keep)
        case .at(let when):
            if keyspace.isPast(when) { keyspace.delete(k) } else { keyspace.store(k, .string(Bytes(value)), expiry: .at(when)) }
        }
    }

    // MARK: hashes

    func hashGet(_ key: [UInt8], _ field: [UInt8]) throws -> [UInt8]? {
        try keyspace.hashGet(Bytes(key), Bytes(field))?.array
    }

    func hashSet(_ key: [UInt8], _ pairs: [([UInt8], [UInt8])]) throws -> Int {
        try keyspace.hashSet(Bytes(key), pairs.map { (Bytes($0.0), Bytes($0.1)) })
    }

    func hashDelete(_ key: [UInt8], _ fields: [[UInt8]]) throws -> Int {
        try keyspace.hashDelete(Bytes(key), fields.map { Bytes($0) })
    }

    func hashGetAll(_ key: [UInt8]) throws -> [([UInt8], [UInt8])] {
        try keyspace.hashAll(Bytes(key)).map { ($0.field.array, $0.value.array) }
    }

    // MARK: sets

    func setAdd(_ key: [UInt8], _ members: [[UInt8]]) throws -> Int {
        try keyspace.setAdd(Bytes(key), members.map { Bytes($0) })
    }

    func setRemove(_ key: [UInt8], _ members: [[UInt8]]) throws -> Int {
        try keyspace.setRemove(Bytes(key), members.map { Bytes($0) })
    }

    func setIsMember(_ key: [UInt8], _ member: [UInt8]) throws -> Bool {
        try keyspace.setContains(Bytes(key), Bytes(member))
    }

    func setMembers(_ key: [UInt8]) throws -> [[UInt8]] {
        try keyspace.setMembers(Bytes(key)).map(\.array)
    }

    // MARK: lists

    func listPush(_ key: [UInt8], _ values: [[UInt8]], atHead: Bool) throws -> Int {
        try keyspace.listPush(Bytes(key), values.map { Bytes($0) }, at: atHead ? .head : .tail)
    }

    func listPop(_ key: [UInt8], count: Int, fromHead: Bool) throws -> [[UInt8]] {
        guard count > 0 else { return [] }
        return try keyspace.listPop(Bytes(key), count: count, from: fromHead ? .head : .tail).map(\.array)
    }

    func listRange(_ key: [UInt8], _ start: Int, _ stop: Int) throws -> [[UInt8]] {
        try keyspace.listRange(Bytes(key), start, stop).map(\.array)
    }

    // MARK: sorted sets

    func zsetAdd(_ key: [UInt8], _ pairs: [([UInt8], Double)]) throws -> Int {
        guard !pairs.contains(where: { $0.1.isNaN }) else { throw PluginError.notFloat }
        return try keyspace.zsetAdd(Bytes(key), pairs.map { (Bytes($0.0), $0.1) })
    }

    func zsetRemove(_ key: [UInt8], _ members: [[UInt8]]) throws -> Int {
        try keyspace.zsetRemove(Bytes(key), members.map { Bytes($0) })
    }

    func zsetScore(_ key: [UInt8], _ member: [UInt8]) throws -> Double? {
        try keyspace.zsetScore(Bytes(key), Bytes(member))
    }

    func zsetRange(_ key: [UInt8], _ start: Int, _ stop: Int) throws -> [([UInt8], Double)] {
        try keyspace.zsetRange(Bytes(key), start, stop).map { ($0.member.array, $0.score) }
    }

    // MARK: propagation

    func replicate(_ arguments: [[UInt8]]) {
        guard !arguments.isEmpty else { return }
        ctx.propagate(arguments.map { ByteBuffer(bytes: $0) })
    }

    func replicateVerbatim() {
        verbatimRequested = true
        // The dispatcher replicates a changing write verbatim by itself; from here on it must not, as the
        // command is added explicitly once the handler is done (after any `replicate` effects, in order).
        ctx.preventPropagation()
    }

    // MARK: events

    func notify(_ event: String, key: [UInt8]) {
        ctx.server.notifyKeyspaceEvent(.module, named: event, key: Bytes(key), db: ctx.client.db)
    }
}
