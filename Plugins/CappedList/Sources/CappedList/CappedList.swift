import TernPluginAPI

/// CAPPEDLIST: lists that keep only their newest N elements, a small data type over the keyspace's lists.
/// The commands are deterministic, so they replicate verbatim (a replica must load this plugin too); the
/// lists are plain lists, so LRANGE, TYPE and DEL work on them.
final class CappedListPlugin: TernPlugin {
    let name = "cappedlist"
    let version = 1
    /// `loadmodule .../libCappedList.so [default-max]`: the cap CAPPEDLIST.PUSH uses when given 0.
    private var defaultMax = 100

    func load(_ registrar: PluginRegistrar, arguments: [String]) throws {
        if let first = arguments.first {
            guard arguments.count == 1, let n = Int(first), n > 0 else {
                throw PluginError("cappedlist takes one optional argument: the default cap, a positive integer")
            }
            defaultMax = n
        }
        try registrar.register(PluginCommand(
            "push", arity: -4, flags: [.write, .denyOOM], keys: (1, 1, 1),
            summary: "Prepends elements to a list, then trims it to its newest max elements (0: the default cap)",
            complexity: "O(N) where N is the number of elements pushed or trimmed",
            arguments: ["key", "max", "element [element ...]"],
            handler: { [unowned self] ctx, args in
                let key = args[1]
                var max = try Arguments.integer(args[2])
                guard max >= 0 else { throw PluginError("ERR max must not be negative") }
                if max == 0 { max = self.defaultMax }
                let length = try ctx.listPush(key, Array(args[3...]), atHead: true)
                if length > max { try ctx.listPop(key, count: length - max, fromHead: false) }
                ctx.notify("cappedlist.push", key: key)
                return .integer(Swift.min(length, max))
            }))
        try registrar.register(PluginCommand(
            "range", arity: -2, flags: [.readonly], keys: (1, 1, 1),
            summary: "Returns the newest count elements of a capped list (all when count is omitted)",
            complexity: "O(N) where N is the number of elements returned",
            arguments: ["key", "[count]"],
            handler: { ctx, args in
                let count = args.count > 2 ? try Arguments.integer(args[2]) : 0
                guard args.count <= 3 else { throw PluginError.syntax }
                guard count >= 0 else { throw PluginError("ERR count must not be negative") }
                return .bulks(try ctx.listRange(args[1], 0, count == 0 ? -1 : count - 1))
            }))
    }
}

// The two C entry points tern-server looks up (see PluginABI).
@_cdecl("tern_plugin_abi")
public func ternPluginABI(_ buffer: UnsafeMutablePointer<UInt8>, _ capacity: Int) -> Int {
    PluginABI.writeStamp(buffer, capacity)
}

@_cdecl("tern_plugin_create")
public func ternPluginCreate() -> UnsafeMutableRawPointer {
    PluginABI.export(CappedListPlugin())
}
