import TernPluginAPI

/// KEYEVENTS: counts keyspace events by name (set, del, expired, lpush, ...) as they happen, whatever
/// `notify-keyspace-events` says: the observer side of the plugin API.
///
/// `loadplugin keyevents [prefix]` counts only events of keys starting with `prefix`. The counters live in the
/// plugin, per server: a replica counts the events of the writes it applies.
public final class KeyEventsPlugin: TernPlugin {
    public let name = "keyevents"
    public let version = 1
    private var prefix: [UInt8] = []
    private var counts: [String: Int] = [:]

    public init() {}

    public func load(_ registrar: PluginRegistrar, arguments: [String]) throws {
        guard arguments.count <= 1 else { throw PluginError("keyevents takes at most one argument (a key prefix)") }
        prefix = Array((arguments.first ?? "").utf8)
        registrar.observeKeyspaceEvents(KeyspaceEventClass.all.union([.new, .keyMiss])) { [unowned self] event in
            guard event.key.starts(with: self.prefix) else { return }
            self.counts[event.name, default: 0] += 1
        }
        try registrar.register(PluginCommand(
            "counts", arity: -1, flags: [.readonly, .fast],
            summary: "Returns how many keyspace events of each name were seen (or of the names given)",
            complexity: "O(N) where N is the number of event names",
            arguments: ["[event [event ...]]"],
            handler: { [unowned self] _, args in
                if args.count == 1 {
                    return .map(self.counts.sorted { $0.key < $1.key }.map { (.bulk($0.key), .integer($0.value)) })
                }
                return .integers(args.dropFirst().map { self.counts[Arguments.string($0).lowercased()] ?? 0 })
            }))
        try registrar.register(PluginCommand(
            "reset", arity: 1, flags: [.fast],
            summary: "Sets every keyspace event counter back to zero",
            handler: { [unowned self] _, _ in
                self.counts.removeAll()
                return .ok
            }))
        if !prefix.isEmpty { registrar.log("counting keyspace events of keys starting with '\(arguments[0])'") }
    }
}
