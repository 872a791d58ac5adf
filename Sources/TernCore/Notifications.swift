import NIOCore
import TernStorage

/// `notify-keyspace-events` classes (Redis's NOTIFY_* bits) and the two channel families.
public struct KeyspaceEventFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// K: `__keyspace@<db>__:<key>` channels.
    public static let keyspace = KeyspaceEventFlags(rawValue: 1 << 0)
    /// E: `__keyevent@<db>__:<event>` channels.
    public static let keyevent = KeyspaceEventFlags(rawValue: 1 << 1)
    /// g: generic commands (DEL, EXPIRE, RENAME, ...).
    public static let generic = KeyspaceEventFlags(rawValue: 1 << 2)
    /// $: string commands.
    public static let string = KeyspaceEventFlags(rawValue: 1 << 3)
    /// l s h z: list, set, hash and sorted-set commands.
    public static let list = KeyspaceEventFlags(rawValue: 1 << 4)
    public static let set = KeyspaceEventFlags(rawValue: 1 << 5)
    public static let hash = KeyspaceEventFlags(rawValue: 1 << 6)
    public static let zset = KeyspaceEventFlags(rawValue: 1 << 7)
    /// x: a key expired (lazily or by the active cycle).
    public static let expired = KeyspaceEventFlags(rawValue: 1 << 8)
    /// e: a key was evicted for maxmemory.
    public static let evicted = KeyspaceEventFlags(rawValue: 1 << 9)
    /// t: stream commands.
    public static let stream = KeyspaceEventFlags(rawValue: 1 << 10)
    /// m: a read command missed a key (not part of A).
    public static let keyMiss = KeyspaceEventFlags(rawValue: 1 << 11)
    /// d: module events.
    public static let module = KeyspaceEventFlags(rawValue: 1 << 12)
    /// n: a key was created (not part of A).
    public static let new = KeyspaceEventFlags(rawValue: 1 << 13)

    /// A: g$lshzxetd.
    public static let all: KeyspaceEventFlags = [.generic, .string, .list, .set, .hash, .zset, .expired, .evicted,
                                                 .stream, .module]

    /// keyspaceEventsStringToFlags: nil on an unknown character.
    public init?(parsing text: String) {
        var flags: KeyspaceEventFlags = []
        for c in text.utf8 {
            switch c {
            case UInt8(ascii: "A"): flags.formUnion(.all)
            case UInt8(ascii: "g"): flags.insert(.generic)
            case UInt8(ascii: "$"): flags.insert(.string)
            case UInt8(ascii: "l"): flags.insert(.list)
            case UInt8(ascii: "s"): flags.insert(.set)
            case UInt8(ascii: "h"): flags.insert(.hash)
            case UInt8(ascii: "z"): flags.insert(.zset)
            case UInt8(ascii: "x"): flags.insert(.expired)
            case UInt8(ascii: "e"): flags.insert(.evicted)
            case UInt8(ascii: "K"): flags.insert(.keyspace)
            case UInt8(ascii: "E"): flags.insert(.keyevent)
            case UInt8(ascii: "t"): flags.insert(.stream)
            case UInt8(ascii: "m"): flags.insert(.keyMiss)
            case UInt8(ascii: "d"): flags.insert(.module)
            case UInt8(ascii: "n"): flags.insert(.new)
            default: return nil
            }
        }
        self = flags
    }

    /// keyspaceEventsFlagsToString: "A" when every class of A is on, else the class letters; then K E m.
    public var description: String {
        var s = ""
        if isSuperset(of: .all) {
            s += "A"
        } else {
            let letters: [(KeyspaceEventFlags, String)] = [
                (.generic, "g"), (.string, "$"), (.list, "l"), (.set, "s"), (.hash, "h"), (.zset, "z"),
                (.expired, "x"), (.evicted, "e"), (.stream, "t"), (.module, "d"), (.new, "n"),
            ]
            for (flag, letter) in letters where contains(flag) { s += letter }
        }
        if contains(.keyspace) { s += "K" }
        if contains(.keyevent) { s += "E" }
        if contains(.keyMiss) { s += "m" }
        return s
    }

    /// The error CONFIG SET and the config file give for an unknown character.
    public static let invalidMessage = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
}

extension ServerState {
    /// Redis's notifyKeyspaceEvent: publishes `event` on `__keyspace@<db>__:<key>` and `key` on
    /// `__keyevent@<db>__:<event>`, as the configuration asks. Costs one test when notifications are off.
    @inline(__always)
    public func notifyKeyspaceEvent(_ type: KeyspaceEventFlags, _ event: StaticString, _ key: Bytes, db: Int) {
        if observedKeyspaceEvents.contains(type) { deliverKeyspaceEvent(type, event, key, db: db) }
        let flags = config.notifyKeyspaceEvents
        guard flags.contains(type), !flags.isDisjoint(with: [.keyspace, .keyevent]) else { return }
        publishKeyspaceEvent(flags, event, key, db: db)
    }

    /// True when an event of `type` is published or observed: lets a caller skip work to find out whether to
    /// fire one.
    @inline(__always)
    public func wantsKeyspaceEvent(_ type: KeyspaceEventFlags) -> Bool {
        config.notifyKeyspaceEvents.contains(type) || observedKeyspaceEvents.contains(type)
    }

    /// The same for an event name known only at run time (a plugin's own events).
    public func notifyKeyspaceEvent(_ type: KeyspaceEventFlags, named event: String, key: Bytes, db: Int) {
        if observedKeyspaceEvents.contains(type) {
            for observer in keyspaceEventObservers { observer(type, event, key, db) }
        }
        let flags = config.notifyKeyspaceEvents
        guard flags.contains(type), !flags.isDisjoint(with: [.keyspace, .keyevent]) else { return }
        publishKeyspaceEvent(flags, Bytes(Array(event.utf8)), key, db: db)
    }

    @inline(never)
    func deliverKeyspaceEvent(_ type: KeyspaceEventFlags, _ event: StaticString, _ key: Bytes, db: Int) {
        let name = event.description
        for observer in keyspaceEventObservers { observer(type, name, key, db) }
    }

    @inline(never)
    func publishKeyspaceEvent(_ flags: KeyspaceEventFlags, _ event: StaticString, _ key: Bytes, db: Int) {
        publishKeyspaceEvent(flags, Bytes(Array(UnsafeBufferPointer(start: event.utf8Start, count: event.utf8CodeUnitCount))),
                             key, db: db)
    }

    func publishKeyspaceEvent(_ flags: KeyspaceEventFlags, _ eventBytes: Bytes, _ key: Bytes, db: Int) {
        // Messages for the client running the command go to its reply stream (in order with its replies).
        let current = currentClient
        if flags.contains(.keyspace) {
            var channel = Array("__keyspace@\(db)__:".utf8)
            channel.append(contentsOf: key.array)
            pubsub.publish(Bytes(channel), eventBytes, current: current)
        }
        if flags.contains(.keyevent) {
            var channel = Array("__keyevent@\(db)__:".utf8)
            channel.append(contentsOf: eventBytes.array)
            pubsub.publish(Bytes(channel), key, current: current)
        }
    }
}

extension CommandContext {
    /// Fires a keyspace event for `key` in the client's database (`ctx.notify(.string, "set", key)`).
    @inline(__always)
    public func notify(_ type: KeyspaceEventFlags, _ event: StaticString, _ key: Bytes) {
        server.notifyKeyspaceEvent(type, event, key, db: client.db)
    }

    /// After removing elements: the generic "del" event when that emptied (and so deleted) the collection.
    public func notifyIfEmptied(_ key: Bytes) {
        guard server.wantsKeyspaceEvent(.generic) else { return }
        if !keyspace.exists(key) { notify(.generic, "del", key) }
    }

    /// The same for another database (MOVE's move_to, COPY ... DB's copy_to).
    @inline(__always)
    public func notify(_ type: KeyspaceEventFlags, _ event: StaticString, _ key: Bytes, db: Int) {
        server.notifyKeyspaceEvent(type, event, key, db: db)
    }
}
