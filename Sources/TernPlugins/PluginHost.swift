import KeyEvents
import Logging
import RateLimit
import TernCore
import TernPluginAPI
import TernStorage

/// Loads plugins into a server: those linked into tern-server by name (`loadplugin`), shared objects by path
/// (`loadmodule`, MODULE LOAD), and takes them out again (MODULE UNLOAD). Their commands go into the server's one
/// command table and run through the dispatcher's `call`, like built-ins. Lives on the command thread.
public final class PluginHost: ModuleManager {
    /// Plugins linked into tern-server, by the lower-case name `loadplugin` takes. A new plugin under
    /// Plugins/<Name> is added here (and as a target in Package.swift).
    public static let linked: [String: () -> TernPlugin] = [
        "ratelimit": { RateLimitPlugin() },
        "keyevents": { KeyEventsPlugin() },
    ]

    /// What `path` shows in MODULE LIST for a linked plugin.
    public static let linkedPath = "(static)"

    let server: ServerState
    private var loaded: [LoadedPlugin] = []

    struct LoadedPlugin {
        let plugin: TernPlugin
        let registrar: Registrar
        let path: String
        let arguments: [String]
    }

    /// Becomes the server's module manager and keyspace-event observer.
    public init(server: ServerState) {
        self.server = server
        server.modules = self
        server.keyspaceEventObservers.append { [unowned self] type, name, key, db in
            self.deliver(type, name, key, db)
        }
        // INFO modules, one line per plugin as Redis 7.0 prints a module.
        server.infoProviders["modules"] = { [unowned self] in
            self.loaded.map { ("module", "name=\($0.plugin.name),ver=\($0.plugin.version),api=\(PluginABI.apiVersion),filters=0,usedby=[],using=[],options=[]") }
        }
    }

    /// The `loadplugin` and `loadmodule` lines of the configuration, in that order. Throws on the first failure
    /// (start-up stops, as Redis stops on a module that fails to load).
    public func loadConfigured() throws {
        for line in server.config.loadPlugins {
            do {
                try loadLinked(name: line[0], arguments: Array(line.dropFirst()))
            } catch {
                throw ModuleError("Plugin \(line[0]) failed to load: \(error)")
            }
        }
        for line in server.config.loadModules {
            do {
                try loadModule(path: line[0], arguments: Array(line.dropFirst()))
            } catch {
                throw ModuleError("Module \(line[0]) failed to load: \(error)")
            }
        }
    }

    public var loadedModules: [ModuleInfo] {
        loaded.map { ModuleInfo(name: $0.plugin.name, version: $0.plugin.version, path: $0.path, arguments: $0.arguments) }
    }

    /// Enables a plugin linked into tern-server.
    public func loadLinked(name: String, arguments: [String]) throws {
        guard let make = Self.linked[name.lowercased()] else {
            let known = Self.linked.keys.sorted().joined(separator: ", ")
            throw ModuleError("no plugin named '\(name)' is linked into tern-server (linked: \(known))")
        }
        try install(make(), path: Self.linkedPath, arguments: arguments)
    }

    /// Loads a plugin built as a shared object (checking it was built for this server's API and toolchain).
    public func loadModule(path: String, arguments: [String]) throws {
        try install(try DynamicPluginLoader.open(path), path: path, arguments: arguments)
    }

    /// Runs the plugin's `load`, then adds its commands and observers all at once (nothing when it fails).
    public func install(_ plugin: TernPlugin, path: String, arguments: [String]) throws {
        let name = plugin.name
        guard Self.isValidName(name) else {
            throw ModuleError("invalid plugin name '\(name)': lower-case letters, digits, '-' and '_' only")
        }
        guard !loaded.contains(where: { $0.plugin.name == name }) else {
            throw ModuleError("a module named '\(name)' is already loaded")
        }
        let registrar = Registrar(server: server, pluginName: name)
        do {
            try plugin.load(registrar, arguments: arguments)
        } catch let e as PluginError {
            throw ModuleError(Self.reason(e.message))
        }
        registrar.sealed = true
        for command in registrar.commands where server.commands.lookup(command.name) != nil {
            throw ModuleError("command '\(command.name)' already exists")
        }
        for command in registrar.commands { server.commands.register(command) }
        loaded.append(LoadedPlugin(plugin: plugin, registrar: registrar, path: path, arguments: arguments))
        updateObservedEvents()
        server.logger.notice("Module '\(name)' loaded from \(path)")
    }

    /// MODULE UNLOAD: the plugin may refuse (its `unload` throws); otherwise its commands and observers go.
    /// A shared object stays mapped (Swift code can't be unmapped safely); loading it again makes a new instance.
    public func unloadModule(name: String) throws {
        guard let index = loaded.firstIndex(where: { $0.plugin.name == name }) else {
            throw ModuleError("no such module with that name")
        }
        let entry = loaded[index]
        do {
            try entry.plugin.unload()
        } catch let e as PluginError {
            throw ModuleError(Self.reason(e.message))
        }
        for command in entry.registrar.commands { server.commands.unregister(command.name) }
        loaded.remove(at: index)
        updateObservedEvents()
        server.logger.notice("Module \(name) unloaded")
    }

    // MARK: keyspace events

    private func updateObservedEvents() {
        server.observedKeyspaceEvents = loaded.reduce([]) { all, entry in
            entry.registrar.observers.reduce(all) { $0.union($1.classes) }
        }
    }

    private func deliver(_ type: KeyspaceEventFlags, _ name: String, _ key: Bytes, _ db: Int) {
        var event: KeyspaceEvent?
        for entry in loaded {
            for observer in entry.registrar.observers where observer.classes.contains(type) {
                if event == nil { event = KeyspaceEvent(eventClass: Self.eventClass(type), name: name, key: key.array, db: db) }
                observer.callback(event!)
            }
        }
    }

    // MARK: helpers

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { c in
            (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_")
        }
    }

    /// A plugin's error text without the "ERR " it got as a reply error (it follows "failed to load: ").
    static func reason(_ message: String) -> String {
        message.hasPrefix("ERR ") ? String(message.dropFirst(4)) : message
    }

    static let eventClasses: [(KeyspaceEventClass, KeyspaceEventFlags)] = [
        (.generic, .generic), (.string, .string), (.list, .list), (.set, .set), (.hash, .hash), (.zset, .zset),
        (.expired, .expired), (.evicted, .evicted), (.keyMiss, .keyMiss), (.new, .new), (.module, .module),
        (.stream, .stream),
    ]

    static func eventFlags(_ classes: KeyspaceEventClass) -> KeyspaceEventFlags {
        eventClasses.reduce([]) { classes.contains($1.0) ? $0.union($1.1) : $0 }
    }

    static func eventClass(_ flags: KeyspaceEventFlags) -> KeyspaceEventClass {
        eventClasses.reduce([]) { flags.contains($1.1) ? $0.union($1.0) : $0 }
    }
}

/// The registrar one plugin loads through: collects its commands (as command-table specs) and observers.
final class Registrar: PluginRegistrar {
    unowned let server: ServerState
    let pluginName: String
    private(set) var commands: [CommandSpec] = []
    private(set) var observers: [(classes: KeyspaceEventFlags, callback: (KeyspaceEvent) -> Void)] = []
    /// Set once `load` returned: commands can be declared only during `load`.
    var sealed = false

    init(server: ServerState, pluginName: String) {
        self.server = server
        self.pluginName = pluginName
    }

    func register(_ command: PluginCommand) throws {
        guard !sealed else { throw PluginError("commands can only be registered during load") }
        let verb = command.verb
        guard !verb.isEmpty, !verb.utf8.contains(where: { $0 <= 32 || $0 == UInt8(ascii: "|") || $0 >= 127 }) else {
            throw PluginError("invalid command verb '\(verb)'")
        }
        guard command.arity != 0 else { throw PluginError("command '\(pluginName).\(verb)' has arity 0") }
        let name = pluginName + "." + verb
        guard !commands.contains(where: { $0.name == name }) else { throw PluginError("command '\(name)' declared twice") }
        commands.append(PluginCommandAdapter.spec(name: name, command))
    }

    func observeKeyspaceEvents(_ classes: KeyspaceEventClass, _ observer: @escaping (KeyspaceEvent) -> Void) {
        observers.append((PluginHost.eventFlags(classes), observer))
    }

    func log(_ message: String) {
        server.logger.notice("<\(pluginName)> \(message)")
    }

    func nowMillis() -> Int64 { server.clock.nowMillis() }
}
