import NIOCore

/// One deterministic write as replicas and logs must apply it: the database it applies to and its arguments.
public struct Effect: Sendable, Equatable, CustomStringConvertible {
    public var db: Int
    public var arguments: [ByteBuffer]

    public init(db: Int, arguments: [ByteBuffer]) {
        self.db = db
        self.arguments = arguments
    }

    public init(db: Int, _ words: [String]) {
        self.db = db
        self.arguments = words.map { ByteBuffer(string: $0) }
    }

    public var words: [String] { arguments.map { String(buffer: $0) } }
    public var description: String { "[\(db)] " + words.joined(separator: " ") }
}

/// Receives the effects of each execution unit (a command, an EXEC, an expiry), already wrapped in
/// MULTI/EXEC when a unit has more than one. This is the core's one side-effect choke point:
/// replication implements it; commands never talk to replicas themselves.
public protocol PropagationHook: AnyObject {
    /// When false the dispatcher doesn't build effects at all (nobody listens).
    var wantsEffects: Bool { get }
    func propagate(_ unit: [Effect])
}

/// The default: nobody listens.
public final class NoPropagation: PropagationHook {
    public init() {}
    public var wantsEffects: Bool { false }
    public func propagate(_ unit: [Effect]) {}
}

/// Test double: records every unit.
public final class RecordingPropagation: PropagationHook {
    public private(set) var units: [[Effect]] = []
    public init() {}
    public var wantsEffects: Bool { true }
    public func propagate(_ unit: [Effect]) { units.append(unit) }
    /// Every effect as words, units flattened.
    public var lines: [String] { units.flatMap { $0.map { $0.words.joined(separator: " ") } } }
    public func reset() { units.removeAll() }
}

/// Several hooks at once (replication plus, later, an append-only log).
public final class PropagationFanout: PropagationHook {
    public var hooks: [PropagationHook]
    public init(_ hooks: [PropagationHook]) { self.hooks = hooks }
    public var wantsEffects: Bool { hooks.contains { $0.wantsEffects } }
    public func propagate(_ unit: [Effect]) {
        for hook in hooks where hook.wantsEffects { hook.propagate(unit) }
    }
}
