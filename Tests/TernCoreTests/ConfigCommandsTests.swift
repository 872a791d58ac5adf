import NIOCore
import RESP
import TernCore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// CONFIG GET / SET / RESETSTAT / REWRITE / HELP. Expected error texts were taken from a stock
/// redis-server 7.0.15 given the same commands.
final class ConfigCommandsTests: XCTestCase {
    func map(_ pairs: [(String, String)]) -> RESPValue {
        .array(pairs.flatMap { [bulk($0.0), bulk($0.1)] })
    }

    func testGetExactNamesAnswerUnderTheGivenName() {
        let h = Harness()
        XCTAssertEqual(h.run("CONFIG GET port"), map([("port", "6379")]))
        XCTAssertEqual(h.run("CONFIG GET PORT"), map([("PORT", "6379")]))
        // The same directive twice (any case) answers once, under the first spelling.
        XCTAssertEqual(h.run("CONFIG GET port PORT"), map([("port", "6379")]))
        XCTAssertEqual(h.run("CONFIG GET nosuchthing"), .array([]))
        XCTAssertEqual(h.run("CONFIG GET slave-read-only"), map([("slave-read-only", "yes")]))
    }

    func testGetGlobMatchesAliasesAndIsCaseInsensitive() {
        let h = Harness()
        XCTAssertEqual(h.run("CONFIG GET *read-only*"), map([("replica-read-only", "yes"), ("slave-read-only", "yes")]))
        XCTAssertEqual(h.run("CONFIG GET MAXMEMORY*"), map([("maxmemory", "0"), ("maxmemory-policy", "noeviction"),
                                                           ("maxmemory-samples", "5"), ("maxmemory-eviction-tenacity", "10"),
                                                           ("maxmemory-clients", "0")]))
        XCTAssertEqual(h.run("CONFIG GET slowlog-* maxmemory slowlog-max-len"),
                       map([("slowlog-log-slower-than", "10000"), ("slowlog-max-len", "128"), ("maxmemory", "0")]))
        // Everything, each name once.
        guard case .array(let all)? = h.run("CONFIG GET *") else { return XCTFail() }
        let names = stride(from: 0, to: all.count, by: 2).map { all[$0] }
        XCTAssertEqual(names.count, Set(names.map { "\($0)" }).count)
        XCTAssertEqual(names.count, ConfigRegistry.directives.count + ConfigRegistry.directives.filter { $0.alias != nil }.count)
        XCTAssertTrue(names.contains(bulk("slave-read-only")) && names.contains(bulk("slaveof")))
    }

    func testGetDefaultsRenderAsRedisDoes() {
        let h = Harness()
        for (name, value) in [
            ("bind", "127.0.0.1 -::1"), ("unixsocketperm", "0"), ("timeout", "0"), ("tcp-keepalive", "300"),
            ("protected-mode", "yes"), ("maxclients", "10000"), ("loglevel", "notice"), ("logfile", ""),
            ("pidfile", ""), ("databases", "16"), ("backend", "memory"), ("hz", "10"), ("daemonize", "no"),
            ("requirepass", ""), ("proto-max-bulk-len", "536870912"), ("client-query-buffer-limit", "1073741824"),
            ("latency-monitor-threshold", "0"), ("tcp-backlog", "511"), ("unixsocket", ""),
        ] {
            XCTAssertEqual(h.run(["CONFIG", "GET", name]), map([(name, value)]), name)
        }
        XCTAssertEqual(h.run("CONFIG GET dir"), map([("dir", ConfigRegistry.currentDirectory())]))
    }

    func testGetRESP3IsAMap() {
        let h = Harness()
        h.client().resp = .resp3
        XCTAssertEqual(h.run("CONFIG GET port"), .map([(bulk("port"), bulk("6379"))]))
    }

    func testSetParsesUnitsAndPrintsBytes() {
        let h = Harness()
        XCTAssertEqual(h.run("CONFIG SET maxmemory 1k"), ok)
        XCTAssertEqual(h.run("CONFIG GET maxmemory"), map([("maxmemory", "1000")]))
        XCTAssertEqual(h.run("CONFIG SET maxmemory 1KB"), ok)
        XCTAssertEqual(h.run("CONFIG GET maxmemory"), map([("maxmemory", "1024")]))
        XCTAssertEqual(h.run("CONFIG SET maxmemory 2Gb"), ok)
        XCTAssertEqual(h.config.maxMemory, 2 * 1024 * 1024 * 1024)
        XCTAssertEqual(h.run("CONFIG SET maxmemory 3m"), ok)
        XCTAssertEqual(h.config.maxMemory, 3_000_000)
        XCTAssertEqual(h.run(["CONFIG", "SET", "maxmemory", ""]), ok)
        XCTAssertEqual(h.config.maxMemory, 0)
        XCTAssertEqual(h.run("CONFIG SET maxmemory 5B"), ok)
        XCTAssertEqual(h.config.maxMemory, 5)
    }

    func testSetErrorsAreRedis() {
        let h = Harness()
        let cases: [(String, String)] = [
            ("CONFIG SET foo bar", "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"),
            ("CONFIG SET maxmemory 1x", "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"),
            ("CONFIG SET maxmemory -1", "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"),
            ("CONFIG SET maxmemory +5", "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"),
            ("CONFIG SET MAXMEMORY x", "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"),
            ("CONFIG SET databases 3", "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"),
            ("CONFIG SET unixsocketperm 800", "ERR CONFIG SET failed (possibly related to argument 'unixsocketperm') - can't set immutable config"),
            ("CONFIG SET dir /tmp", "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"),
            ("CONFIG SET timeout -1", "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive"),
            ("CONFIG SET timeout abc", "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"),
            ("CONFIG SET timeout 010", "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"),
            ("CONFIG SET maxclients 0", "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"),
            ("CONFIG SET protected-mode maybe", "ERR CONFIG SET failed (possibly related to argument 'protected-mode') - argument must be 'yes' or 'no'"),
            ("CONFIG SET slave-read-only nope", "ERR CONFIG SET failed (possibly related to argument 'slave-read-only') - argument must be 'yes' or 'no'"),
            ("CONFIG SET slowlog-log-slower-than -2", "ERR CONFIG SET failed (possibly related to argument 'slowlog-log-slower-than') - argument must be between -1 and 9223372036854775807 inclusive"),
            ("CONFIG SET slowlog-max-len -1", "ERR CONFIG SET failed (possibly related to argument 'slowlog-max-len') - argument must be between 0 and 9223372036854775807 inclusive"),
            ("CONFIG SET proto-max-bulk-len 1", "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be between 1048576 and 9223372036854775807 inclusive"),
            ("CONFIG SET proto-max-bulk-len 99999999999999999999", "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be between 1048576 and 9223372036854775807 inclusive"),
            ("CONFIG SET client-query-buffer-limit -1", "ERR CONFIG SET failed (possibly related to argument 'client-query-buffer-limit') - argument must be a memory value"),
            ("CONFIG SET maxmemory-policy foo", "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"),
            ("CONFIG SET maxmemory 0 maxmemory 1", "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter"),
            ("CONFIG SET hz 10 hz 20", "ERR CONFIG SET failed (possibly related to argument 'hz') - duplicate parameter"),
            ("CONFIG SET maxmemory 10 foo 1", "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"),
            ("CONFIG SET a b c", "ERR syntax error"),
            ("CONFIG SET port", "ERR wrong number of arguments for 'config|set' command"),
            ("CONFIG GET", "ERR wrong number of arguments for 'config|get' command"),
            ("CONFIG", "ERR wrong number of arguments for 'config' command"),
            ("CONFIG foo", "ERR unknown subcommand 'foo'. Try CONFIG HELP."),
            ("CONFIG REWRITE", "ERR The server is running without a config file"),
        ]
        for (command, expected) in cases {
            XCTAssertEqual(h.run(command), err(expected), command)
        }
        XCTAssertEqual(h.config.maxMemory, 0)
    }

    func testSetIsAllOrNothing() {
        let h = Harness()
        XCTAssertEqual(h.run("CONFIG SET maxclients 10 timeout 5 maxmemory x"),
                       err("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"))
        XCTAssertEqual(h.config.maxClients, 10000)
        XCTAssertEqual(h.config.timeout, 0)
        XCTAssertEqual(h.run("CONFIG SET maxclients 10 databases 2"),
                       err("ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"))
        XCTAssertEqual(h.config.maxClients, 10000)
        XCTAssertEqual(h.run("CONFIG SET maxclients 10 timeout 5 maxmemory 1mb slowlog-max-len 3"), ok)
        XCTAssertEqual(h.config.maxClients, 10)
        XCTAssertEqual(h.config.timeout, 5)
        XCTAssertEqual(h.config.maxMemory, 1 << 20)
        XCTAssertEqual(h.config.slowlogMaxLen, 3)
    }

    func testSetMutableDirectivesAndTheirValues() {
        let h = Harness()
        XCTAssertEqual(h.run("CONFIG SET hz 1000"), ok)
        XCTAssertEqual(h.run("CONFIG GET hz"), map([("hz", "500")]))
        XCTAssertEqual(h.run("CONFIG SET hz 0"), ok)
        XCTAssertEqual(h.config.hz, 1)
        XCTAssertEqual(h.run("CONFIG SET maxmemory-policy ALLKEYS-LRU"), ok)
        XCTAssertEqual(h.run("CONFIG GET maxmemory-policy"), map([("maxmemory-policy", "allkeys-lru")]))
        XCTAssertEqual(h.run("CONFIG SET protected-mode NO slave-read-only no"), ok)
        XCTAssertFalse(h.config.protectedMode)
        XCTAssertFalse(h.config.replicaReadOnly)
        XCTAssertEqual(h.run("CONFIG SET loglevel debug"), ok)
        XCTAssertEqual(h.server.logger.logLevel, .debug)
        XCTAssertEqual(h.run("CONFIG SET loglevel warning"), ok)
        XCTAssertEqual(h.server.logger.logLevel, .warning)
        XCTAssertEqual(h.run("CONFIG SET loglevel loud"), err("ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning"))
        XCTAssertEqual(h.run("CONFIG SET slowlog-log-slower-than -1 latency-monitor-threshold 100 tcp-keepalive 60"), ok)
        XCTAssertEqual(h.config.slowlogLogSlowerThan, -1)
        XCTAssertEqual(h.config.latencyMonitorThreshold, 100)
        XCTAssertEqual(h.config.tcpKeepalive, 60)
        XCTAssertEqual(h.run("CONFIG SET proto-max-bulk-len 2mb client-query-buffer-limit 1gb"), ok)
        XCTAssertEqual(h.config.protoMaxBulkLen, 2 << 20)
        XCTAssertEqual(h.run("CONFIG GET proto-max-bulk-len"), map([("proto-max-bulk-len", "2097152")]))
        for immutable in ["unixsocket", "tcp-backlog", "logfile", "pidfile", "backend", "daemonize"] {
            XCTAssertEqual(h.run(["CONFIG", "SET", immutable, "1"]),
                           err("ERR CONFIG SET failed (possibly related to argument '\(immutable)') - can't set immutable config"))
        }
    }

    func testRequirepassTakesEffectForNewAuth() {
        let h = Harness()
        XCTAssertEqual(h.run("CONFIG SET requirepass s3cret"), ok)
        // The connection that set it stays authenticated; a new one must AUTH.
        XCTAssertEqual(h.run("PING"), .simple("PONG"))
        let other = h.connect()
        XCTAssertEqual(h.run("PING", as: other), err("NOAUTH Authentication required."))
        XCTAssertEqual(h.run("AUTH wrong", as: other), err("WRONGPASS invalid username-password pair or user is disabled."))
        XCTAssertEqual(h.run("AUTH s3cret", as: other), ok)
        XCTAssertEqual(h.run("CONFIG GET requirepass", as: other), map([("requirepass", "s3cret")]))
        XCTAssertEqual(h.run(["CONFIG", "SET", "requirepass", ""], as: other), ok)
        let third = h.connect()
        XCTAssertEqual(h.run("PING", as: third), .simple("PONG"))
    }

    func testRuntimeObserverFailureRollsBack() {
        let h = Harness()
        var seen: [String] = []
        h.config.runtimeObservers.append { name in
            seen.append(name)
            return name == "hz" && h.config.hz == 50 ? "Unable to change hz" : nil
        }
        XCTAssertEqual(h.run("CONFIG SET timeout 7 hz 50"),
                       err("ERR CONFIG SET failed (possibly related to argument 'hz') - Unable to change hz"))
        XCTAssertEqual(h.config.timeout, 0)
        XCTAssertEqual(h.config.hz, 10)
        seen.removeAll()
        XCTAssertEqual(h.run("CONFIG SET timeout 7 hz 10"), ok)
        XCTAssertEqual(seen, ["timeout"])  // hz didn't change
    }

    func testResetStat() {
        let h = Harness()
        h.run("PING")
        h.run("ECHO hi")
        h.run("CONFIG GET port")
        h.run("NOSUCHCOMMAND")
        XCTAssertEqual(h.server.stats.totalCommandsProcessed, 3)
        XCTAssertEqual(h.server.stats.errorStats["ERR"], 1)
        XCTAssertEqual(h.server.commands.lookup("ping")?.stat.calls, 1)
        XCTAssertEqual(h.run("CONFIG RESETSTAT"), ok)
        // RESETSTAT itself is counted after the reset, as in Redis.
        XCTAssertEqual(h.server.stats.totalCommandsProcessed, 1)
        XCTAssertEqual(h.server.stats.totalErrorReplies, 0)
        XCTAssertTrue(h.server.stats.errorStats.isEmpty)
        XCTAssertEqual(h.server.commands.lookup("ping")?.stat.calls, 0)
        XCTAssertEqual(h.server.commands.lookup("config")?.subcommands["get"]?.stat.calls, 0)
        XCTAssertEqual(h.server.commands.lookup("config")?.subcommands["resetstat"]?.stat.calls, 1)
    }

    func testHelp() {
        let h = Harness()
        guard case .array(let lines)? = h.run("CONFIG HELP") else { return XCTFail() }
        XCTAssertEqual(lines.first, .simple("CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"))
        XCTAssertEqual(lines.last, .simple("    Prints this help."))
        XCTAssertEqual(lines.count, 11)
    }

    // MARK: REWRITE

    func temporaryPath(_ name: String) -> String {
        let dir = "/tmp/tern-config-tests-\(getpid())"
        mkdir(dir, 0o755)
        return dir + "/" + name
    }

    func write(_ path: String, _ text: String) {
        let f = fopen(path, "w")!
        fputs(text, f)
        fclose(f)
    }

    func read(_ path: String) -> String {
        guard case .success(let bytes) = FileIO.read(path) else { return "<unreadable>" }
        return String(decoding: bytes, as: UTF8.self)
    }

    func testRewriteKeepsCommentsAndUpdatesInPlace() {
        let config = ServerConfig()
        config.port = 7103
        config.hz = 15
        config.maxMemory = 3_000_000
        config.replicaReadOnly = false
        config.requirePass = "a b\"c"
        config.timeout = 5
        let old = """
            # top comment
            port 7103



              slave-read-only yes
            hz 10
            hz 15
            maxmemory 2mb
            include /etc/tern/extra.conf
            rename-command FLUSHALL ""
            # end

            """
        let new = ConfigRegistry.rewrite(existing: old, config: config)
        let cwd = ConfigRegistry.currentDirectory()
        XCTAssertEqual(new, """
            # top comment
            port 7103

            replica-read-only no
            hz 15

            maxmemory 3000000
            include /etc/tern/extra.conf
            rename-command FLUSHALL ""
            # end

            # Generated by CONFIG REWRITE
            timeout 5
            dir \(ConfigRegistry.quoted(cwd))
            save 3600 1
            save 300 100
            save 60 10000
            requirepass "a b\\"c"

            """)
    }

    func testRewriteRemovesUnsetAndDefaultBindAndCommentsUnknownLines() {
        let config = ServerConfig()
        let old = "requirepass \"x\"\nbind 127.0.0.1 -::1\nfrobnicate 3\nport \"unbalanced\n# Generated by CONFIG REWRITE\nmaxmemory 1gb\n"
        config.maxMemory = 4 << 30
        let new = ConfigRegistry.rewrite(existing: old, config: config)
        let cwd = ConfigRegistry.currentDirectory()
        XCTAssertEqual(new, "\n# ??? frobnicate 3\n# ??? port \"unbalanced\n# Generated by CONFIG REWRITE\nmaxmemory 4gb\n\ndir \(ConfigRegistry.quoted(cwd))\nsave 3600 1\nsave 300 100\nsave 60 10000\n")
    }

    func testRewriteCommandRoundTrip() {
        let path = temporaryPath("rewrite.conf")
        write(path, "# my settings\nport 6390\nloglevel notice\n")
        let h = Harness()
        h.config.configFile = path
        h.config.port = 6390
        XCTAssertEqual(h.run("CONFIG SET loglevel verbose maxmemory 64mb maxmemory-policy allkeys-lfu unixsocketperm 700"),
                       err("ERR CONFIG SET failed (possibly related to argument 'unixsocketperm') - can't set immutable config"))
        XCTAssertEqual(h.run("CONFIG SET loglevel verbose maxmemory 64mb maxmemory-policy allkeys-lfu"), ok)
        XCTAssertEqual(h.run("CONFIG REWRITE"), ok)
        let text = read(path)
        XCTAssertTrue(text.hasPrefix("# my settings\nport 6390\nloglevel verbose\n\n# Generated by CONFIG REWRITE\n"), text)
        XCTAssertTrue(text.contains("\nmaxmemory 64mb\n"), text)
        XCTAssertTrue(text.contains("\nmaxmemory-policy allkeys-lfu\n"), text)
        // As in Redis, the next rewrite keeps the final empty line its split produces; from then on it is a
        // fixed point.
        XCTAssertEqual(h.run("CONFIG REWRITE"), ok)
        XCTAssertEqual(read(path), text + "\n")
        XCTAssertEqual(h.run("CONFIG REWRITE"), ok)
        XCTAssertEqual(read(path), text + "\n")
        unlink(path)
    }

    func testRewriteToAMissingFileCreatesIt() {
        let path = temporaryPath("fresh-\(UInt32.random(in: 0...UInt32.max)).conf")
        let h = Harness()
        h.config.configFile = path
        XCTAssertEqual(h.run("CONFIG SET timeout 30"), ok)
        XCTAssertEqual(h.run("CONFIG REWRITE"), ok)
        XCTAssertEqual(read(path), "# Generated by CONFIG REWRITE\ntimeout 30\ndir \(ConfigRegistry.quoted(ConfigRegistry.currentDirectory()))\nsave 3600 1\nsave 300 100\nsave 60 10000\n")
        unlink(path)
        h.config.configFile = "/nonexistent-dir-for-tern/x.conf"
        XCTAssertEqual(h.run("CONFIG REWRITE"), err("ERR Rewriting config file: No such file or directory"))
    }

    func testMemoryParsingMatchesMemtoull() {
        XCTAssertEqual(ConfigRegistry.parseMemory("1k"), 1000)
        XCTAssertEqual(ConfigRegistry.parseMemory("1kb"), 1024)
        XCTAssertEqual(ConfigRegistry.parseMemory("1M"), 1_000_000)
        XCTAssertEqual(ConfigRegistry.parseMemory("1mB"), 1 << 20)
        XCTAssertEqual(ConfigRegistry.parseMemory("1g"), 1_000_000_000)
        XCTAssertEqual(ConfigRegistry.parseMemory("1GB"), 1 << 30)
        XCTAssertEqual(ConfigRegistry.parseMemory("12"), 12)
        XCTAssertEqual(ConfigRegistry.parseMemory("12b"), 12)
        XCTAssertEqual(ConfigRegistry.parseMemory(""), 0)
        XCTAssertNil(ConfigRegistry.parseMemory("-1"))
        XCTAssertNil(ConfigRegistry.parseMemory("1 kb"))
        XCTAssertNil(ConfigRegistry.parseMemory("1t"))
        XCTAssertNil(ConfigRegistry.parseMemory("0x10"))
        // Saturates, then wraps with the unit, as strtoull and C multiplication do (Redis prints 18446744073709550592).
        XCTAssertEqual(ConfigRegistry.parseMemory("99999999999999999999kb"), 18446744073709550592)
        XCTAssertEqual(ConfigRegistry.formatMemory(3 << 30), "3gb")
        XCTAssertEqual(ConfigRegistry.formatMemory(5 << 20), "5mb")
        XCTAssertEqual(ConfigRegistry.formatMemory(2048), "2kb")
        XCTAssertEqual(ConfigRegistry.formatMemory(1000), "1000")
        XCTAssertEqual(ConfigRegistry.formatMemory(0), "0")
    }
}
