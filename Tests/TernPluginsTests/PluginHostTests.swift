import KeyEvents
import NIOCore
import RateLimit
import RESP
import TernCore
import TernMemory
import TernPluginAPI
import TernPlugins
import TernStorage
import TernTestSupport
import XCTest

/// An in-process server with the plugin host: a memory engine, a manual clock, recorded propagation.
final class PluginHarness {
    let clock = ManualClock()
    let propagation = RecordingPropagation()
    let config = ServerConfig()
    let server: ServerState
    let host: PluginHost
    let context: CommandContext

    init(configure: (ServerConfig) -> Void = { _ in }) {
        configure(config)
        server = ServerState(config: config, engine: TestEngines.make(databases: 16), commands: BuiltinCommands.table(),
                             clock: clock, propagation: propagation)
        host = PluginHost(server: server)
        let client = server.makeClient(address: "127.0.0.1:40000", localAddress: "127.0.0.1:6379", transport: nil)
        context = CommandContext(server: server, client: client)
    }

    @discardableResult
    func run(_ words: [String]) -> RESPValue? {
        let client = context.client
        let start = client.output.writerIndex
        // In a batch, as the server runs each pass of its event loop (a no-op on the memory engine).
        XCTAssertNoThrow(try TestEngines.inBatch(server.engine) { _ = server.execute(context, words.map { ByteBuffer(string: $0) }) })
        var out = client.output
        out.moveReaderIndex(to: start)
        var decoder = RESPValueDecoder()
        let value = try? decoder.decode(buffer: &out)
        client.output.clear()
        return value ?? nil
    }

    @discardableResult
    func run(_ line: String) -> RESPValue? { run(line.split(separator: " ").map(String.init)) }

    var effects: [String] { propagation.lines }
}

func ints(_ values: [Int64]) -> RESPValue { .array(values.map { .integer($0) }) }
func bulk(_ s: String) -> RESPValue { .bulk(Array(s.utf8)) }

/// A plugin exercising every side of the API the examples don't.
final class ProbePlugin: TernPlugin {
    let name = "probe"
    var unloaded = false
    struct Oops: Error, CustomStringConvertible { var description: String { "oops\nsecond line" } }

    func load(_ registrar: PluginRegistrar, arguments: [String]) throws {
        if arguments == ["refuse"] { throw PluginError("probe refuses to load") }
        try registrar.register(PluginCommand("fail", arity: 2, summary: "throws", handler: { _, args in
            switch Arguments.string(args[1]) {
            case "plain": throw PluginError("bad thing")
            case "prefixed": throw PluginError("BUSY not now")
            case "swift": throw Oops()
            case "reply": return .error("replied error")
            default: return .integer(try Arguments.integer(args[1]))
            }
        }))
        try registrar.register(PluginCommand("types", arity: 1, summary: "every reply type", handler: { _, _ in
            .array([.map([(.bulk("a"), .integer(1))]), .set([.simple("s")]), .double(1.5), .bool(true), .null,
                    .bulk([0, 255])])
        }))
        try registrar.register(PluginCommand("collections", arity: 2, flags: [.write], keys: (1, 1, 1),
                                             summary: "uses each collection kind", handler: { ctx, args in
            let k = args[1]
            let h = k + Array(":h".utf8), s = k + Array(":s".utf8), l = k + Array(":l".utf8), z = k + Array(":z".utf8)
            try ctx.hashSet(h, [(Array("f".utf8), Array("v".utf8))])
            try ctx.setAdd(s, [Array("m".utf8), Array("n".utf8)])
            try ctx.listPush(l, [Array("a".utf8), Array("b".utf8)], atHead: false)
            try ctx.zsetAdd(z, [(Array("x".utf8), 2), (Array("y".utf8), 1)])
            let zr = try ctx.zsetRange(z, 0, -1).map { Reply.bulk($0.0) }
            return .array([.bulks(try ctx.listRange(l, 0, -1)), .integer(try ctx.setMembers(s).count),
                           .bulk(try ctx.hashGet(h, Array("f".utf8)) ?? []), .array(zr),
                           .bulk(ctx.type(of: z)?.rawValue ?? "none"), .integer(ctx.length(of: l))])
        }))
        try registrar.register(PluginCommand("touch", arity: 1, flags: [.mayReplicate], summary: "replicates verbatim",
                                             handler: { ctx, _ in
            ctx.replicate("SET", "before", "1")
            ctx.replicateVerbatim()
            return .ok
        }))
        try registrar.register(PluginCommand("keys", arity: -2, flags: [.write, .noMulti], keys: (1, 1, 1),
                                             summary: "key-level operations", handler: { ctx, args in
            let k = args[1]
            switch args.count > 2 ? Arguments.string(args[2]) : "" {
            case "expire": return .bool(ctx.setExpiry(k, at: ctx.nowMillis + 5000))
            case "expire-past": return .bool(ctx.setExpiry(k, at: ctx.nowMillis - 1))
            case "persist": return .bool(ctx.setExpiry(k, at: nil))
            case "del": return .bool(ctx.delete(k))
            case "pop":
                let popped = try ctx.listPop(k, count: 2, fromHead: true)
                return .bulks(popped)
            case "shrink":
                let removed = try ctx.hashDelete(k, [Array("f".utf8)]) + ctx.setRemove(k, [Array("m".utf8)])
                return .integer(removed)
            case "zrem": return .integer(try ctx.zsetRemove(k, [Array("x".utf8)]))
            case "zscore": return try ctx.zsetScore(k, Array("x".utf8)).map { .double($0) } ?? .null
            case "notify":
                ctx.notify("probe.event", key: k)
                return .ok
            case "set-past":
                ctx.set(k, Array("v".utf8), expiry: .at(ctx.nowMillis - 1))
                return .bool(ctx.exists(k))
            default:
                return .array([.bool(ctx.exists(k)), ctx.expiry(of: k).map { .integer(Int($0)) } ?? .null,
                               .bulk(ctx.type(of: k)?.rawValue ?? "none")])
            }
        }))
        try registrar.register(PluginCommand("whoami", arity: 1, flags: [.readonly], summary: "context facts",
                                             handler: { ctx, _ in
            .integers([ctx.db, Int(ctx.clientID), Int(ctx.nowMillis), ctx.fromMaster ? 1 : 0])
        }))
    }

    func unload() throws { unloaded = true }
}

final class PluginHostTests: XCTestCase {
    func harness(_ plugins: [String] = ["ratelimit"]) throws -> PluginHarness {
        let h = PluginHarness { $0.enableModuleCommand = "yes" }
        for p in plugins { try h.host.loadLinked(name: p, arguments: []) }
        return h
    }

    // MARK: RATELIMIT.THROTTLE

    func testThrottleAllowsTheBurstThenLimitsAndReplicatesItsState() throws {
        let h = try harness()
        let now = h.clock.nowMillis()
        // 10 per 60 s: one unit every 6 s; burst 4: 5 at once.
        XCTAssertEqual(h.run("RATELIMIT.THROTTLE user 4 10 60"), ints([0, 5, 4, -1, 6]))
        let tat = now * 1000 + 6_000_000
        XCTAssertEqual(h.effects, ["SET user \(tat) PXAT \(now + 6000)"])
        XCTAssertEqual(h.run("RATELIMIT.THROTTLE user 4 10 60"), ints([0, 5, 3, -1, 12]))
        XCTAssertEqual(h.run("RATELIMIT.THROTTLE user 4 10 60 2"), ints([0, 5, 1, -1, 24]))
        XCTAssertEqual(h.run("RATELIMIT.THROTTLE user 4 10 60"), ints([0, 5, 0, -1, 30]))
        h.propagation.reset()
        XCTAssertEqual(h.run("RATELIMIT.THROTTLE user 4 10 60"), ints([1, 5, 0, 6, 30]))
        XCTAssertEqual(h.effects, [], "a limited request changes nothing")
        XCTAssertEqual(h.run("PTTL user"), .integer(30000))
        h.clock.advance(millis: 6000)
        XCTAssertEqual(h.run("RATELIMIT.THROTTLE user 4 10 60"), ints([0, 5, 0, -1, 30]))
        XCTAssertEqual(h.run("GET user"), bulk(String(now * 1000 + 36_000_000)))
    }

    func testThrottleErrors() throws {
        let h = try harness()
        XCTAssertEqual(h.run("RATELIMIT.THROTTLE k 4 10"), .error("ERR wrong number of arguments for 'ratelimit.throttle' command"))
        XCTAssertEqual(h.run("RATELIMIT.THROTTLE k x 10 60"), .error("ERR value is not an integer or out of range"))
        XCTAssertEqual(h.run("RATELIMIT.THROTTLE k 4 0 60"), .error("ERR count_per_period must be positive"))
        XCTAssertEqual(h.run("RATELIMIT.THROTTLE k -1 1 60"), .error("ERR max_burst must not be negative"))
        XCTAssertEqual(h.run("RATELIMIT.THROTTLE k 1 1 60 -2"), .error("ERR quantity must not be negative"))
        XCTAssertEqual(h.run("RATELIMIT.THROTTLE k 1 1 9223372036854775807"), .error("ERR period is out of range"))
        XCTAssertEqual(h.run("RATELIMIT.THROTTLE k 1 1 60 1 extra"), .error("ERR syntax error"))
        h.run("RPUSH list a")
        XCTAssertEqual(h.run("RATELIMIT.THROTTLE list 1 1 60"), .error("WRONGTYPE Operation against a key holding the wrong kind of value"))
        h.run("SET text hello")
        XCTAssertEqual(h.run("RATELIMIT.THROTTLE text 1 1 60"), .error("ERR key holds a value that is not a rate limiter state"))
        XCTAssertEqual(h.effects.filter { $0.hasPrefix("SET k") }, [])
    }

    func testThrottleQueuesInMultiAndIsRefusedOnAReadOnlyReplica() throws {
        let h = try harness()
        XCTAssertEqual(h.run("MULTI"), .simple("OK"))
        XCTAssertEqual(h.run("RATELIMIT.THROTTLE a 1 1 1"), .simple("QUEUED"))
        XCTAssertEqual(h.run("RATELIMIT.THROTTLE b 1 1 1"), .simple("QUEUED"))
        XCTAssertEqual(h.run("EXEC"), .array([ints([0, 2, 1, -1, 1]), ints([0, 2, 1, -1, 1])]))
        XCTAssertEqual(h.effects.first, "MULTI")
        XCTAssertEqual(h.effects.last, "EXEC")
        XCTAssertEqual(h.effects.count, 4)
        h.server.isReplica = true
        XCTAssertEqual(h.run("RATELIMIT.THROTTLE a 1 1 1"), .error("READONLY You can't write against a read only replica."))
    }

    func testThrottleNeedsAuthentication() throws {
        let h = PluginHarness { $0.requirePass = "secret" }
        try h.host.loadLinked(name: "ratelimit", arguments: [])
        XCTAssertEqual(h.run("RATELIMIT.THROTTLE a 1 1 1"), .error("NOAUTH Authentication required."))
    }

    func testGCRAQuotaArithmetic() throws {
        let quota = try GCRA.Quota(maxBurst: 0, countPerPeriod: 1, periodSeconds: 1)
        XCTAssertEqual(quota.emissionMicros, 1_000_000)
        XCTAssertEqual(quota.limit, 1)
        let first = try GCRA.throttle(quota, tat: nil, now: 0, quantity: 1)
        XCTAssertEqual(first, GCRA.Result(limited: false, limit: 1, remaining: 0, retryAfterSeconds: -1,
                                          resetAfterSeconds: 1, newTAT: 1_000_000))
        let second = try GCRA.throttle(quota, tat: 1_000_000, now: 400_000, quantity: 1)
        XCTAssertTrue(second.limited)
        XCTAssertEqual(second.retryAfterSeconds, 1, "0.6 s rounds up")
        XCTAssertNil(second.newTAT)
        // More than the whole burst can never pass: no retry time.
        let huge = try GCRA.throttle(quota, tat: nil, now: 0, quantity: 5)
        XCTAssertTrue(huge.limited)
        XCTAssertEqual(huge.retryAfterSeconds, -1)
        // Quantity 0 asks without spending.
        XCTAssertEqual(try GCRA.throttle(quota, tat: nil, now: 0, quantity: 0).newTAT, nil)
    }

    // MARK: the command table

    func testPluginCommandsAreInTheCommandTable() throws {
        let h = try harness()
        guard case .array(let info)? = h.run("COMMAND INFO ratelimit.throttle"), case .array(let entry) = info[0] else {
            return XCTFail("no COMMAND INFO")
        }
        XCTAssertEqual(entry[0], bulk("ratelimit.throttle"))
        XCTAssertEqual(entry[1], .integer(-5))
        XCTAssertEqual(entry[2], .set([.simple("write"), .simple("denyoom"), .simple("fast")]).asArray)
        XCTAssertEqual(Array(entry[3...5]), [.integer(1), .integer(1), .integer(1)])
        guard case .array(let docs)? = h.run("COMMAND DOCS ratelimit.throttle"), case .array(let fields) = docs[1] else {
            return XCTFail("no COMMAND DOCS")
        }
        XCTAssertEqual(fields[4], bulk("group"))
        XCTAssertEqual(fields[5], bulk("module"))
        XCTAssertEqual(fields[8], bulk("module"))
        XCTAssertEqual(fields[9], bulk("ratelimit"))
        XCTAssertEqual(h.run("COMMAND LIST FILTERBY MODULE ratelimit"), .array([bulk("ratelimit.throttle")]))
        XCTAssertEqual(h.run("COMMAND GETKEYS ratelimit.throttle k 1 2 3"), .array([bulk("k")]))
    }

    func testModuleListAndUnload() throws {
        let h = try harness(["ratelimit", "keyevents"])
        XCTAssertEqual(h.run("MODULE LIST"), .array([
            .array([bulk("name"), bulk("ratelimit"), bulk("ver"), .integer(1), bulk("path"), bulk("(static)"), bulk("args"), .array([])]),
            .array([bulk("name"), bulk("keyevents"), bulk("ver"), .integer(1), bulk("path"), bulk("(static)"), bulk("args"), .array([])]),
        ]))
        XCTAssertEqual(h.run("MODULE UNLOAD nothing"), .error("ERR Error unloading module: no such module with that name"))
        XCTAssertEqual(h.run("MODULE UNLOAD keyevents"), .simple("OK"))
        XCTAssertEqual(h.run("KEYEVENTS.COUNTS"), .error("ERR unknown command 'KEYEVENTS.COUNTS', with args beginning with: "))
        XCTAssertEqual(h.server.observedKeyspaceEvents, [])
        // Rate limiter state that has not expired keeps ratelimit loaded.
        h.run("RATELIMIT.THROTTLE a 1 1 10")
        XCTAssertEqual(h.run("MODULE UNLOAD ratelimit"), .error("ERR Error unloading module: ratelimit holds limiter state that has not expired yet, can't unload"))
        h.clock.advance(millis: 10_001)
        XCTAssertEqual(h.run("MODULE UNLOAD ratelimit"), .simple("OK"))
        XCTAssertEqual(h.run("MODULE LIST"), .array([]))
        XCTAssertEqual(h.run("MODULE LOAD /nonexistent/libX.so"), .error("ERR Error loading the extension. Please check the server logs."))
    }

    func testHelloListsTheModules() throws {
        let h = try harness(["keyevents"])
        guard case .map(let fields)? = h.run("HELLO 3"), let modules = fields.last else { return XCTFail("no HELLO map") }
        XCTAssertEqual(modules.0, bulk("modules"))
        XCTAssertEqual(modules.1, .array([.map([(bulk("name"), bulk("keyevents")), (bulk("ver"), .integer(1)),
                                                (bulk("path"), bulk("(static)")), (bulk("args"), .array([]))])]))
    }

    func testModuleCommandIsGuardedByEnableModuleCommand() throws {
        let h = PluginHarness()
        let refusal = RESPValue.error("ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.")
        XCTAssertEqual(h.run("MODULE LOAD /x.so"), refusal)
        XCTAssertEqual(h.run("MODULE UNLOAD x"), refusal)
        XCTAssertEqual(h.run("MODULE LOADEX /x.so ARGS a"), refusal)
        XCTAssertEqual(h.run("MODULE LIST"), .array([]))
        XCTAssertEqual(h.run("MODULE LOAD"), .error("ERR wrong number of arguments for 'module|load' command"))
        // Refused before queueing, as Redis: the transaction is doomed.
        XCTAssertEqual(h.run("MULTI"), .simple("OK"))
        XCTAssertEqual(h.run("MODULE LOAD /x.so"), refusal)
        XCTAssertEqual(h.run("EXEC"), .error("EXECABORT Transaction discarded because of previous errors."))
        let local = PluginHarness { $0.enableModuleCommand = "local" }
        XCTAssertEqual(local.run("MODULE UNLOAD x"), .error("ERR Error unloading module: no such module with that name"))
        XCTAssertEqual(h.run("MODULE LOADEX /x.so CONFIG a"), refusal)
        XCTAssertEqual(local.run("MODULE LOADEX /x.so CONFIG a b"), .error("ERR Error loading the extension. Please check the server logs."))
    }

    // MARK: keyspace-event observers

    func testKeyEventsCountsEventsWithNotificationsOff() throws {
        let h = PluginHarness()
        try h.host.loadLinked(name: "keyevents", arguments: ["user:"])
        XCTAssertEqual(h.server.config.notifyKeyspaceEvents, [])
        h.run("SET user:1 a")
        h.run("SET user:1 b")
        h.run("SET other x")
        h.run("RPUSH user:list a b")
        h.run("DEL user:1")
        h.run("GET user:missing")
        XCTAssertEqual(h.run("KEYEVENTS.COUNTS"), .array([
            bulk("del"), .integer(1), bulk("keymiss"), .integer(1), bulk("new"), .integer(2), bulk("rpush"), .integer(1),
            bulk("set"), .integer(2),
        ]))
        XCTAssertEqual(h.run("KEYEVENTS.COUNTS set SET nothing"), ints([2, 2, 0]))
        XCTAssertEqual(h.run("KEYEVENTS.RESET"), .simple("OK"))
        XCTAssertEqual(h.run("KEYEVENTS.COUNTS"), .array([]))
        XCTAssertThrowsError(try h.host.loadLinked(name: "keyevents", arguments: []))
        XCTAssertThrowsError(try h.host.loadLinked(name: "nosuch", arguments: [])) { error in
            XCTAssertEqual("\(error)", "no plugin named 'nosuch' is linked into tern-server (linked: keyevents, ratelimit)")
        }
    }

    // MARK: the API's adapters

    func testErrorsAndReplyTypes() throws {
        let h = PluginHarness()
        let probe = ProbePlugin()
        try h.host.install(probe, path: "(test)", arguments: [])
        XCTAssertEqual(h.run("PROBE.FAIL plain"), .error("ERR bad thing"))
        XCTAssertEqual(h.run("PROBE.FAIL prefixed"), .error("BUSY not now"))
        XCTAssertEqual(h.run("PROBE.FAIL swift"), .error("ERR oops second line"))
        XCTAssertEqual(h.run("PROBE.FAIL reply"), .error("ERR replied error"))
        XCTAssertEqual(h.run("PROBE.FAIL 12x"), .error("ERR value is not an integer or out of range"))
        XCTAssertEqual(h.run("PROBE.FAIL -42"), .integer(-42))
        XCTAssertEqual(h.server.stats.errorStats["ERR"], 4)
        XCTAssertEqual(h.server.stats.errorStats["BUSY"], 1)
        XCTAssertEqual(h.run("PROBE.TYPES"), .array([
            .array([bulk("a"), .integer(1)]), .array([.simple("s")]), bulk("1.5"), .integer(1), .null, .bulk([0, 255]),
        ]))
        h.context.client.resp = .resp3
        XCTAssertEqual(h.run("PROBE.TYPES"), .array([
            .map([(bulk("a"), .integer(1))]), .set([.simple("s")]), .double("1.5"), .boolean(true), .null, .bulk([0, 255]),
        ]))
    }

    func testCollectionsAndDefaultVerbatimPropagation() throws {
        let h = PluginHarness()
        try h.host.install(ProbePlugin(), path: "(test)", arguments: [])
        XCTAssertEqual(h.run("PROBE.COLLECTIONS k"), .array([
            .array([bulk("a"), bulk("b")]), .integer(2), bulk("v"), .array([bulk("y"), bulk("x")]), bulk("zset"), .integer(2),
        ]))
        XCTAssertEqual(h.effects, ["PROBE.COLLECTIONS k"], "a deterministic write replicates as sent")
        XCTAssertEqual(h.run("HGET k:h f"), bulk("v"))
        h.run("SET k:h:x 1")
        h.run("SET k:l x")
        XCTAssertEqual(h.run("PROBE.COLLECTIONS k"), .error("WRONGTYPE Operation against a key holding the wrong kind of value"))
        h.propagation.reset()
        XCTAssertEqual(h.run("PROBE.TOUCH"), .simple("OK"))
        XCTAssertEqual(h.effects, ["MULTI", "SET before 1", "PROBE.TOUCH", "EXEC"])
        guard case .array(let facts)? = h.run("PROBE.WHOAMI") else { return XCTFail() }
        XCTAssertEqual(facts, [.integer(0), .integer(Int64(h.context.client.id)), .integer(h.clock.nowMillis()), .integer(0)])
    }

    func testKeyOperationsWatchAndEvents() throws {
        let h = PluginHarness()
        try h.host.install(ProbePlugin(), path: "(test)", arguments: [])
        let now = h.clock.nowMillis()
        h.run("SET s v")
        XCTAssertEqual(h.run("PROBE.KEYS s"), .array([.integer(1), .null, bulk("string")]))
        XCTAssertEqual(h.run("PROBE.KEYS s expire"), .integer(1))
        XCTAssertEqual(h.run("PROBE.KEYS s"), .array([.integer(1), .integer(now + 5000), bulk("string")]))
        XCTAssertEqual(h.run("PROBE.KEYS s persist"), .integer(1))
        XCTAssertEqual(h.run("TTL s"), .integer(-1))
        XCTAssertEqual(h.run("PROBE.KEYS s expire-past"), .integer(1))
        XCTAssertEqual(h.run("EXISTS s"), .integer(0), "an expiry in the past deletes")
        XCTAssertEqual(h.run("PROBE.KEYS s set-past"), .integer(0))
        XCTAssertEqual(h.run("PROBE.KEYS nothing del"), .integer(0))
        h.run("RPUSH l a b c")
        XCTAssertEqual(h.run("PROBE.KEYS l pop"), .array([bulk("a"), bulk("b")]))
        XCTAssertEqual(h.run("PROBE.KEYS l shrink"), .error("WRONGTYPE Operation against a key holding the wrong kind of value"))
        h.run("HSET hs f 1")
        XCTAssertEqual(h.run("PROBE.KEYS hs"), .array([.integer(1), .null, bulk("hash")]))
        h.run("ZADD z 1.5 x 2 y")
        XCTAssertEqual(h.run("PROBE.KEYS z zscore"), bulk("1.5"))
        XCTAssertEqual(h.run("PROBE.KEYS z zrem"), .integer(1))
        XCTAssertEqual(h.run("PROBE.KEYS z zscore"), .null)
        // A plugin write dirties WATCH like a built-in's.
        h.run("SET w 1")
        h.run("WATCH w")
        XCTAssertEqual(h.run("PROBE.KEYS w del"), .integer(1))
        h.run("MULTI")
        h.run("SET w 2")
        XCTAssertEqual(h.run("EXEC"), .null)
        // no-multi is refused inside MULTI.
        h.run("MULTI")
        XCTAssertEqual(h.run("PROBE.KEYS w"), .error("ERR Command not allowed inside a transaction"))
        h.run("DISCARD")
        // The module event reaches observers of the module class.
        var seen: [KeyspaceEvent] = []
        final class Watcher: TernPlugin {
            let name = "watcher"
            let sink: (KeyspaceEvent) -> Void
            init(_ sink: @escaping (KeyspaceEvent) -> Void) { self.sink = sink }
            func load(_ registrar: PluginRegistrar, arguments: [String]) throws {
                registrar.observeKeyspaceEvents([.module, .expired], sink)
            }
        }
        try h.host.install(Watcher { seen.append($0) }, path: "(test)", arguments: [])
        XCTAssertEqual(h.server.observedKeyspaceEvents, [.module, .expired])
        h.run("PROBE.KEYS k notify")
        h.run("SET gone 1 PX 10")
        h.clock.advance(millis: 20)
        h.run("GET gone")
        XCTAssertEqual(seen, [KeyspaceEvent(eventClass: .module, name: "probe.event", key: Array("k".utf8), db: 0),
                              KeyspaceEvent(eventClass: .expired, name: "expired", key: Array("gone".utf8), db: 0)])
    }

    func testFailedLoadRegistersNothing() throws {
        let h = PluginHarness()
        XCTAssertThrowsError(try h.host.install(ProbePlugin(), path: "(test)", arguments: ["refuse"])) { error in
            XCTAssertEqual("\(error)", "probe refuses to load")
        }
        XCTAssertNil(h.server.commands.lookup("probe.fail"))
        XCTAssertEqual(h.host.loadedModules, [])
        final class Clash: TernPlugin {
            let name = "clash"
            func load(_ registrar: PluginRegistrar, arguments: [String]) throws {
                try registrar.register(PluginCommand("a", arity: 1, summary: "", handler: { _, _ in .ok }))
                try registrar.register(PluginCommand("a", arity: 1, summary: "", handler: { _, _ in .ok }))
            }
        }
        XCTAssertThrowsError(try h.host.install(Clash(), path: "(test)", arguments: []))
        XCTAssertNil(h.server.commands.lookup("clash.a"))
    }

    func testDynamicLoaderRefusesWhatIsNotAPlugin() {
        let h = PluginHarness()
        XCTAssertThrowsError(try h.host.loadModule(path: "/nonexistent/lib.so", arguments: [])) { error in
            XCTAssertTrue("\(error)".contains("No such file"), "\(error)")
        }
        XCTAssertThrowsError(try h.host.loadModule(path: "libm.so.6", arguments: [])) { error in
            XCTAssertEqual("\(error)", "libm.so.6 is not a Tern plugin (it exports no tern_plugin_abi)")
        }
    }

    func testArgumentParsing() {
        XCTAssertEqual(Arguments.parseInteger(Array("-9223372036854775808".utf8)), Int.min)
        XCTAssertNil(Arguments.parseInteger(Array("9223372036854775808".utf8)))
        XCTAssertNil(Arguments.parseInteger(Array("007".utf8)))
        XCTAssertNil(Arguments.parseInteger(Array("+1".utf8)))
        XCTAssertNil(Arguments.parseInteger([]))
        XCTAssertEqual(try Arguments.double(Array("-inf".utf8)), -.infinity)
        XCTAssertThrowsError(try Arguments.double(Array("nan".utf8)))
        XCTAssertTrue(Arguments.matches(Array("nx".utf8), "NX"))
        XCTAssertEqual(PluginError("lower case").message, "ERR lower case")
        XCTAssertEqual(PluginError("WRONGTYPE x").message, "WRONGTYPE x")
        XCTAssertTrue(PluginABI.stamp.hasPrefix("tern-plugin-api 1; swift 6."), PluginABI.stamp)
    }
}

extension RESPValue {
    /// A RESP2 client sees a set as an array.
    var asArray: RESPValue {
        if case .set(let items) = self { return .array(items) }
        return self
    }
}
