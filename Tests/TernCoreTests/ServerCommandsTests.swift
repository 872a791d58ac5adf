import NIOCore
import RESP
@testable import TernCore
import TernStorage
import TernTestSupport
import XCTest

final class ServerCommandsTests: XCTestCase {
    func text(_ v: RESPValue?) -> String { v?.string ?? "" }

    /// Every harness of this run is on the engine TERN_TEST_ENGINE chose (scripts/test runs both).
    func testHarnessRunsOnTheChosenEngine() {
        let h = Harness()
        XCTAssertTrue(text(h.run("INFO server")).contains("tern_backend:\(TestEngines.current)\r\n"))
        XCTAssertEqual(h.engine.name, TestEngines.current)
    }

    func testInfoSectionsOrderAndFormat() {
        let h = Harness()
        let all = text(h.run("INFO everything"))
        let headers = all.components(separatedBy: "\r\n").filter { $0.hasPrefix("# ") }
        XCTAssertEqual(headers, ["# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "# Replication",
                                 "# CPU", "# Modules", "# Commandstats", "# Errorstats", "# Latencystats",
                                 "# Cluster", "# Keyspace"])
        XCTAssertTrue(all.contains("redis_version:7.0.15\r\n"))
        XCTAssertTrue(all.contains("run_id:\(h.server.runID)\r\n"))
        XCTAssertTrue(all.contains("role:master\r\n"))
        // Requested order doesn't matter; sections are separated by an empty line.
        XCTAssertEqual(text(h.run("INFO cluster CPU")).components(separatedBy: "\r\n").first, "# CPU")
        XCTAssertTrue(text(h.run("INFO cpu cluster")).contains("\r\n\r\n# Cluster\r\ncluster_enabled:0\r\n"))
        XCTAssertEqual(h.run("INFO nosuchsection"), bulk(""))
        let defaults = text(h.run("INFO"))
        XCTAssertFalse(defaults.contains("# Commandstats"))
        XCTAssertTrue(defaults.contains("# Errorstats"))
    }

    func testInfoStatsAndKeyspace() {
        let h = Harness()
        h.run("NOSUCH")
        h.run("DBSIZE")
        let info = text(h.run("INFO stats errorstats commandstats keyspace"))
        XCTAssertTrue(info.contains("total_error_replies:1\r\n"))
        XCTAssertTrue(info.contains("errorstat_ERR:count=1\r\n"))
        XCTAssertTrue(info.contains("cmdstat_dbsize:calls=1,usec=0,usec_per_call=0.00,rejected_calls=0,failed_calls=0\r\n"))
        XCTAssertFalse(info.contains("db0:"))
        h.engine.database(0).store(Bytes("k"), .string(Bytes("v")), expiry: .at(h.clock.nowMillis() + 10_000))
        XCTAssertTrue(text(h.run("INFO keyspace")).contains("db0:keys=1,expires=1,avg_ttl=10000\r\n"))
    }

    func testInfoReplicationProviderAndVerbatim() {
        let h = Harness()
        XCTAssertTrue(text(h.run("INFO replication")).contains("master_replid:\(h.server.metrics.replicationID)\r\n"))
        h.server.infoProviders["replication"] = { [("role", "slave"), ("master_host", "1.2.3.4")] }
        XCTAssertEqual(text(h.run("INFO replication")), "# Replication\r\nrole:slave\r\nmaster_host:1.2.3.4\r\n")
        h.run("HELLO 3")
        guard case .verbatim(let format, _)? = h.run("INFO cluster") else { return XCTFail("RESP3 INFO is verbatim") }
        XCTAssertEqual(format, "txt")
    }

    func testInstantaneousOps() {
        let h = Harness()
        h.server.trackInstantaneousMetrics()
        for _ in 0..<160 { h.run("PING") }
        h.clock.advance(millis: 100)
        h.server.trackInstantaneousMetrics()
        // 160 commands in 100 ms = 1600/s in one of 16 samples.
        XCTAssertEqual(h.server.instantaneousOpsPerSecond, 100)
        XCTAssertTrue(text(h.run("INFO stats")).contains("instantaneous_ops_per_sec:100\r\n"))
    }

    func testDbsizeTimeLastsave() {
        let h = Harness()
        XCTAssertEqual(h.run("DBSIZE"), .integer(0))
        h.engine.database(0).store(Bytes("a"), .string(Bytes("1")), expiry: .clear)
        XCTAssertEqual(h.run("DBSIZE"), .integer(1))
        h.clock.advance(millis: 1234)
        XCTAssertEqual(h.run("TIME"), .array([bulk("1700000001"), bulk("234000")]))
        XCTAssertEqual(h.run("LASTSAVE"), .integer(1_700_000_000))
    }

    func testFlushCommandsAlwaysPropagate() {
        let h = Harness()
        XCTAssertEqual(h.run("FLUSHDB"), ok)
        XCTAssertEqual(h.run("FLUSHALL SYNC"), ok)
        XCTAssertEqual(h.effects, ["FLUSHDB", "FLUSHALL SYNC"])
        h.engine.database(3).store(Bytes("a"), .string(Bytes("1")), expiry: .clear)
        h.engine.database(0).store(Bytes("b"), .string(Bytes("1")), expiry: .clear)
        XCTAssertEqual(h.run("FLUSHDB ASYNC"), ok)
        XCTAssertEqual(h.engine.database(0).keyCount, 0)
        XCTAssertEqual(h.engine.database(3).keyCount, 1)
        XCTAssertEqual(h.run("FLUSHALL"), ok)
        XCTAssertEqual(h.engine.database(3).keyCount, 0)
        XCTAssertEqual(h.run("FLUSHALL x"), err("ERR syntax error"))
        XCTAssertEqual(h.run("FLUSHDB SYNC x"), err("ERR syntax error"))
    }

    func testSwapdb() {
        let h = Harness()
        var flushed: [Int] = []
        h.server.flushObservers.append { flushed.append($0) }
        h.engine.database(1).store(Bytes("a"), .string(Bytes("1")), expiry: .clear)
        XCTAssertEqual(h.run("SWAPDB 0 1"), ok)
        XCTAssertEqual(h.engine.database(0).keyCount, 1)
        // Observers run before and after the swap (WATCH checks both sides).
        XCTAssertEqual(flushed, [0, 1, 0, 1])
        XCTAssertEqual(h.effects, ["SWAPDB 0 1"])
        XCTAssertEqual(h.run("SWAPDB x 1"), err("ERR invalid first DB index"))
        XCTAssertEqual(h.run("SWAPDB 0 y"), err("ERR invalid second DB index"))
        XCTAssertEqual(h.run("SWAPDB 0 16"), err("ERR DB index is out of range"))
        XCTAssertEqual(h.run("SWAPDB -1 0"), err("ERR DB index is out of range"))
    }

    func testShutdown() {
        let h = Harness()
        XCTAssertEqual(h.run("SHUTDOWN ABORT"), err("ERR No shutdown in progress."))
        XCTAssertEqual(h.run("SHUTDOWN SAVE NOSAVE"), err("ERR syntax error"))
        XCTAssertEqual(h.run("SHUTDOWN NOW ABORT"), err("ERR syntax error"))
        XCTAssertEqual(h.run("SHUTDOWN LATER"), err("ERR syntax error"))
        var requests: [ShutdownRequest] = []
        h.server.shutdownHandler = { requests.append($0); return nil }
        // The save itself is the handler's (the server layer's persistence): SAVE reaches it.
        XCTAssertNil(h.run(["SHUTDOWN", "SAVE"], as: h.connect()))
        XCTAssertEqual(requests.count, 1)
        XCTAssertEqual(requests[0].save, .save)
        XCTAssertNil(h.run("SHUTDOWN NOSAVE NOW"))
        XCTAssertEqual(requests.count, 2)
        XCTAssertTrue(requests[1].now)
        XCTAssertEqual(requests[1].save, .noSave)
        XCTAssertTrue(h.client().closing)
        h.server.shutdownHandler = { _ in "refused" }
        XCTAssertEqual(h.run(["SHUTDOWN"], as: h.connect()), err("ERR Errors trying to SHUTDOWN. Check logs."))
    }

    func testMonitor() {
        let h = Harness()
        let watcher = h.connect()
        XCTAssertEqual(h.run("MONITOR", as: watcher), ok)
        XCTAssertTrue(h.client(watcher).flags.contains(.monitor))
        XCTAssertNil(h.run("MONITOR", as: watcher))
        XCTAssertEqual(h.server.monitors.count, 1)
        h.run("PING")
        XCTAssertEqual(h.clients[watcher].2.sent.count, 1)
    }

    func testSlowlog() {
        let h = Harness { $0.slowlogLogSlowerThan = 0 }
        h.run("CLIENT SETNAME app")
        h.run("PING hello")
        guard case .array(let entries)? = h.run("SLOWLOG GET 1") else { return XCTFail("array expected") }
        XCTAssertEqual(entries.count, 1)
        XCTAssertEqual(entries[0], .array([.integer(1), .integer(1_700_000_000), .integer(0),
                                           .array([bulk("PING"), bulk("hello")]), bulk("127.0.0.1:40000"),
                                           bulk("app")]))
        XCTAssertEqual(h.run("SLOWLOG LEN"), .integer(3))
        XCTAssertEqual(h.run("SLOWLOG GET -2"), err("ERR count should be greater than or equal to -1"))
        XCTAssertEqual(h.run("SLOWLOG GET 1 2"),
                       err("ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP."))
        guard case .array(let all)? = h.run("SLOWLOG GET -1") else { return XCTFail("array expected") }
        XCTAssertEqual(all.count, 6)  // failed calls are logged too, as in Redis
        XCTAssertEqual(h.run("SLOWLOG RESET"), ok)
        XCTAssertEqual(h.run("SLOWLOG LEN"), .integer(1))
        XCTAssertEqual(h.run("SLOWLOG"), err("ERR wrong number of arguments for 'slowlog' command"))
        guard case .array(let help)? = h.run("SLOWLOG HELP") else { return XCTFail("array expected") }
        XCTAssertEqual(help.first, .simple("SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"))
        XCTAssertEqual(help.last, .simple("    Prints this help."))
    }

    func testLatency() {
        let h = Harness()
        h.server.latency.record(event: "command", millis: 12, timestampSeconds: 100)
        h.server.latency.record(event: "command", millis: 5, timestampSeconds: 101)
        XCTAssertEqual(h.run("LATENCY LATEST"), .array([.array([bulk("command"), .integer(101), .integer(5), .integer(12)])]))
        XCTAssertEqual(h.run("LATENCY HISTORY command"),
                       .array([.array([.integer(100), .integer(12)]), .array([.integer(101), .integer(5)])]))
        XCTAssertEqual(h.run("LATENCY HISTORY nothing"), .array([]))
        XCTAssertEqual(h.run("LATENCY RESET nothing"), .integer(0))
        XCTAssertEqual(h.run("LATENCY RESET"), .integer(1))
        XCTAssertEqual(h.run("LATENCY LATEST"), .array([]))
    }

    // MARK: COMMAND

    func testCommandInfoShape() {
        let h = Harness()
        guard case .array(let reply)? = h.run("COMMAND INFO dbsize nosuch"), reply.count == 2 else {
            return XCTFail("two entries expected")
        }
        XCTAssertEqual(reply[0], .array([bulk("dbsize"), .integer(1), .array([.simple("readonly"), .simple("fast")]),
                                         .integer(0), .integer(0), .integer(0),
                                         .array([.simple("@keyspace"), .simple("@read"), .simple("@fast")]),
                                         .array([bulk("request_policy:all_shards"), bulk("response_policy:agg_sum")]),
                                         .array([]), .array([])]))
        XCTAssertEqual(reply[1], .null)
        guard case .array(let slowlog)? = h.run("COMMAND INFO SLOWLOG|LEN"),
              case .array(let entry) = slowlog[0] else { return XCTFail("entry expected") }
        XCTAssertEqual(entry[0], bulk("slowlog|len"))
        XCTAssertEqual(entry[6], .array([.simple("@admin"), .simple("@slow"), .simple("@dangerous")]))
    }

    func testCommandInfoKeySpecsForRedisCommands() {
        let h = Harness()
        h.server.commands.register(CommandSpec("get", arity: 2, flags: [.readonly, .fast], keys: .single,
                                               group: "string", summary: "Get the value of a key", acl: ["string"],
                                               arguments: ["key"]) { ctx in ctx.null() })
        let expected = "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n"
        XCTAssertEqual(raw(h, ["COMMAND", "INFO", "get"]), expected)
        let docs = "*2\r\n$3\r\nget\r\n*10\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$9\r\narguments\r\n*1\r\n*6\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n"
        XCTAssertEqual(raw(h, ["COMMAND", "DOCS", "get"]), docs)
        XCTAssertEqual(h.run("COMMAND GETKEYS get k"), .array([bulk("k")]))
        XCTAssertEqual(h.run("COMMAND GETKEYSANDFLAGS get k"),
                       .array([.array([bulk("k"), .array([.simple("RO"), .simple("access")])])]))
        XCTAssertEqual(h.run("COMMAND GETKEYS get k x"), err("ERR Invalid number of arguments specified for command"))
        XCTAssertEqual(h.run("COMMAND GETKEYS dbsize x"), err("ERR The command has no key arguments"))
        XCTAssertEqual(h.run("COMMAND GETKEYS nosuch x"), err("ERR Invalid command specified"))
        XCTAssertEqual(h.run("COMMAND GETKEYS get"), err("ERR wrong number of arguments for 'command|getkeys' command"))
    }

    func raw(_ h: Harness, _ words: [String]) -> String {
        let client = h.clients[0].0
        client.output.clear()
        _ = h.server.execute(h.clients[0].1, words.map { ByteBuffer(string: $0) })
        let s = String(buffer: client.output)
        client.output.clear()
        return s
    }

    func testCommandCountListHelp() {
        let h = Harness()
        XCTAssertEqual(h.run("COMMAND COUNT"), .integer(Int64(h.server.commands.commands.count)))
        XCTAssertEqual(h.run("COMMAND LIST FILTERBY PATTERN slowlog|*"),
                       .array([bulk("slowlog|get"), bulk("slowlog|help"), bulk("slowlog|len"), bulk("slowlog|reset")]))
        XCTAssertEqual(h.run("COMMAND LIST FILTERBY MODULE x"), .array([]))
        guard case .array(let dangerous)? = h.run("COMMAND LIST FILTERBY ACLCAT dangerous") else { return XCTFail() }
        XCTAssertTrue(dangerous.contains(bulk("flushall")) && dangerous.contains(bulk("client|kill")))
        XCTAssertFalse(dangerous.contains(bulk("ping")))
        XCTAssertEqual(h.run("COMMAND LIST FILTERBY"), err("ERR syntax error"))
        XCTAssertEqual(h.run("COMMAND LIST FILTERBY bogus x"), err("ERR syntax error"))
        XCTAssertEqual(h.run("COMMAND FOO"), err("ERR unknown subcommand 'FOO'. Try COMMAND HELP."))
        XCTAssertEqual(h.run("COMMAND DOCS nosuch"), .array([]))
        guard case .array(let all)? = h.run("COMMAND") else { return XCTFail() }
        XCTAssertEqual(all.count, h.server.commands.commands.count)
    }

    func testDocArgumentsFromHints() {
        let args = DocArgument.parse(["key", "[NX|XX]", "[EX seconds|KEEPTTL]", "member [member ...]"])
        XCTAssertEqual(args.map(\.name), ["key", "nx-xx", "seconds-keepttl", "member"])
        XCTAssertEqual(args[1].type, "oneof")
        XCTAssertEqual(args[1].flags, ["optional"])
        XCTAssertEqual(args[1].children.map(\.type), ["pure-token", "pure-token"])
        XCTAssertEqual(args[2].children[0].token, "EX")
        XCTAssertEqual(args[2].children[0].type, "integer")
        XCTAssertEqual(args[3].flags, ["multiple"])
    }
}
