import TernCore
@testable import TernServer
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The config file and command line, as redis-server reads them. Error texts were taken from a stock
/// redis-server 7.0.15 given the same files.
final class ConfigTests: XCTestCase {
    var directory = ""

    override func setUp() {
        directory = "/tmp/tern-config-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(directory, 0o755)
    }

    override func tearDown() {
        _ = system("rm -rf '\(directory)'")
    }

    @discardableResult
    func file(_ name: String, _ text: String) -> String {
        let path = directory + "/" + name
        let f = fopen(path, "w")!
        fputs(text, f)
        fclose(f)
        return path
    }

    func load(_ arguments: [String], stdin: String = "") throws -> ServerConfig {
        try ConfigLoader.load(arguments: arguments, readStandardInput: { stdin })
    }

    /// The error loading `arguments` raises.
    func failure(_ arguments: [String], stdin: String = "") -> ConfigFileError? {
        do {
            _ = try load(arguments, stdin: stdin)
            return nil
        } catch let e as ConfigFileError {
            return e
        } catch {
            XCTFail("unexpected \(error)")
            return nil
        }
    }

    func fatal(line: Int, _ text: String, _ reason: String, _ place: String? = nil) -> String {
        "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line \(line)\n>>> '\(text)'\n\(reason)"
            + (place.map { "\n" + $0 } ?? "")
    }

    // MARK: file syntax

    func testDirectivesCommentsQuotesAndUnits() throws {
        let path = file("a.conf", """
            # Tern test configuration
              PORT 7001
            bind 127.0.0.1 ::1
            requirepass "pa ss\\"word\\x41"
            logfile ''
            maxmemory 100MB
            maxmemory-policy ALLKEYS-lru
            proto-max-bulk-len 2gb
            client-query-buffer-limit 64mb
            unixsocketperm 770
            slave-read-only no
            protected-mode NO
            loglevel verbose
            databases 4
            hz 100
            \ttimeout 30\r
            backend lmdb

            """)
        let c = try load([path])
        XCTAssertEqual(c.port, 7001)
        XCTAssertEqual(c.bind, ["127.0.0.1", "::1"])
        XCTAssertEqual(c.requirePass, "pa ss\"wordA")
        XCTAssertEqual(c.logFile, "")
        XCTAssertEqual(c.maxMemory, 100 << 20)
        XCTAssertEqual(c.maxMemoryPolicy, "allkeys-lru")
        XCTAssertEqual(c.protoMaxBulkLen, 2 << 30)
        XCTAssertEqual(c.clientQueryBufferLimit, 64 << 20)
        XCTAssertEqual(c.unixSocketPerm, 0o770)
        XCTAssertFalse(c.replicaReadOnly)
        XCTAssertFalse(c.protectedMode)
        XCTAssertEqual(c.logLevel, "verbose")
        XCTAssertEqual(c.databases, 4)
        XCTAssertEqual(c.hz, 100)
        XCTAssertEqual(c.timeout, 30)
        XCTAssertEqual(c.backend, "lmdb")
        XCTAssertEqual(c.configFile, path)
        XCTAssertTrue(c.renamedCommands.isEmpty)
    }

    func testNoArgumentsMeansDefaults() throws {
        let c = try load([])
        XCTAssertEqual(c.port, 6379)
        XCTAssertEqual(c.configFile, "")
    }

    func testRelativeConfigFileBecomesAbsolute() throws {
        file("rel.conf", "port 7002\n")
        let cwd = ConfigRegistry.currentDirectory()
        XCTAssertEqual(chdir(directory), 0)
        defer { chdir(cwd) }
        let c = try load(["./rel.conf"])
        XCTAssertEqual(c.port, 7002)
        XCTAssertEqual(c.configFile, ConfigRegistry.currentDirectory() + "/rel.conf")
    }

    func testErrorsCarryRedisTextAndLineNumbers() {
        let cases: [(String, Int, String, String)] = [
            ("port 7102\n# comment\n  bogus directive here\n", 3, "bogus directive here", "Bad directive or wrong number of arguments"),
            ("port 7102\nport\n", 2, "port", "wrong number of arguments"),
            ("port 1 2\n", 1, "port 1 2", "wrong number of arguments"),
            ("port \"abc\n", 1, "port \"abc", "Unbalanced quotes in configuration line"),
            ("port 99999\n", 1, "port 99999", "argument must be between 0 and 65535 inclusive"),
            ("port abc\n", 1, "port abc", "argument couldn't be parsed into an integer"),
            ("maxmemory 1x\n", 1, "maxmemory 1x", "argument must be a memory value"),
            ("maxmemory 1 mb\n", 1, "maxmemory 1 mb", "wrong number of arguments"),
            ("loglevel loud\n", 1, "loglevel loud", "argument(s) must be one of the following: debug, verbose, notice, warning"),
            ("daemonize maybe\n", 1, "daemonize maybe", "argument must be 'yes' or 'no'"),
            ("unixsocketperm 800\n", 1, "unixsocketperm 800", "argument couldn't be parsed as an octal number"),
            ("unixsocketperm 1777\n", 1, "unixsocketperm 1777", "argument must be between 0 and 777 inclusive"),
            ("dir /nonexistent-tern-dir\n", 1, "dir /nonexistent-tern-dir", "No such file or directory"),
            ("include\n", 1, "include", "Bad directive or wrong number of arguments"),
            ("rename-command FOO bar\n", 1, "rename-command FOO bar", "No such command in rename-command"),
            ("rename-command ping echo\n", 1, "rename-command ping echo", "Target command name already exists"),
            ("backend rocks\n", 1, "backend rocks", "argument(s) must be one of the following: memory, lmdb"),
            ("maxmemory-policy lru\n", 1, "maxmemory-policy lru", "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"),
            ("slowlog-max-len -1\n", 1, "slowlog-max-len -1", "argument must be between 0 and 9223372036854775807 inclusive"),
            ("appendonly yes\n", 1, "appendonly yes", "appendonly yes is not supported: Tern has no append-only file (AOF) yet; for durability use the lmdb backend (backend lmdb, every write synced) or RDB save points"),
            ("io-threads 0\n", 1, "io-threads 0", "argument must be between 1 and 128 inclusive"),
            ("oom-score-adj-values 1 2\n", 1, "oom-score-adj-values 1 2", "wrong number of arguments"),
            ("maxmemory-clients 10%\n", 1, "maxmemory-clients 10%", "client eviction is not supported by Tern: maxmemory-clients must be 0"),
            ("hash-max-listpack-entries -1\n", 1, "hash-max-listpack-entries -1", "argument must be between 0 and 9223372036854775807 inclusive"),
            ("save 900\n", 1, "save 900", "Invalid save parameters"),
            ("dbfilename a/b.rdb\n", 1, "dbfilename a/b.rdb", "dbfilename can't be a path, just a filename"),
        ]
        for (text, line, shown, reason) in cases {
            let path = file("bad.conf", text)
            let e = failure([path])
            XCTAssertEqual(e?.line, line, text)
            XCTAssertEqual(e?.reason, reason, text)
            XCTAssertEqual(e?.description, fatal(line: line, shown, reason, "(in \(path), line \(line))"), text)
        }
    }

    func testDaemonizeAndSupervisedAreRead() throws {
        let c = try load([file("d.conf", "daemonize yes\nsupervised systemd\n")])
        XCTAssertTrue(c.daemonize)
        XCTAssertEqual(c.supervised, "systemd")
        XCTAssertEqual(failure([file("d2.conf", "supervised launchd\n")])?.reason,
                       "argument(s) must be one of the following: upstart, systemd, auto, no")
    }

    /// Redis 7.0's deprecated directives are read and ignored; with another word count they are bad lines.
    func testDeprecatedDirectivesAreIgnored() throws {
        _ = try load([file("dep.conf", "list-max-ziplist-entries 512\nlua-replicate-commands yes\n")])
        XCTAssertEqual(failure([file("dep2.conf", "list-max-ziplist-value 1 2\n")])?.reason,
                       "Bad directive or wrong number of arguments")
    }

    /// The aliases Redis 7.0 reads (hash-max-ziplist-*, slave-*...) set the same value.
    func testAliasesSetTheirDirective() throws {
        let c = try load([file("alias.conf", "hash-max-ziplist-entries 7\nslave-lazy-flush yes\nrepl-ping-slave-period 3\nlua-time-limit 9\n")])
        XCTAssertEqual(c.encodingLimits.hashMaxListpackEntries, 7)
        XCTAssertEqual(ConfigRegistry.lookup("replica-lazy-flush")?.get(c), "yes")
        XCTAssertEqual(c.replPingReplicaPeriod, 3)
        XCTAssertEqual(ConfigRegistry.lookup("busy-reply-threshold")?.get(c), "9")
    }

    func testMissingFileAndLogFile() {
        let e = failure([directory + "/missing.conf"])
        XCTAssertEqual(e?.description, "Fatal error, can't open config file '\(directory)/missing.conf': No such file or directory")
        let log = failure([file("l.conf", "logfile /nonexistent-tern-dir/x.log\n")])
        XCTAssertEqual(log?.description, "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nCan't open the log file: No such file or directory")
    }

    func testIncludeIsParsedInPlaceRelativeToTheWorkingDirectory() throws {
        file("inc.conf", "timeout 5\nport 7010\n")
        let main = file("main.conf", "port 7000\ndir \(directory)\ninclude inc.conf\nhz 20\n")
        let c = try load([main])
        XCTAssertEqual(c.port, 7010)  // the include came after "port 7000"
        XCTAssertEqual(c.timeout, 5)
        XCTAssertEqual(c.hz, 20)
        XCTAssertEqual(c.dir, directory)

        // Errors in an included file name its own line.
        file("broken.conf", "\n\nhz x\n")
        let e = failure([file("m2.conf", "include \(directory)/broken.conf\n")])
        XCTAssertEqual(e?.description, fatal(line: 3, "hz x", "argument couldn't be parsed into an integer",
                                             "(in \(directory)/broken.conf, line 3)"))
        let missing = failure([file("m3.conf", "include /nonexistent-tern-dir/x.conf\n")])
        XCTAssertEqual(missing?.description, "Fatal error, can't open config file '/nonexistent-tern-dir/x.conf': No such file or directory")
    }

    func testIncludeGlob() throws {
        mkdir(directory + "/conf.d", 0o755)
        file("conf.d/10-a.conf", "timeout 1\nhz 11\n")
        file("conf.d/20-b.conf", "timeout 2\n")
        let c = try load([file("g.conf", "include \(directory)/conf.d/*.conf\ninclude \(directory)/empty.d/*.conf\n")])
        XCTAssertEqual(c.timeout, 2)
        XCTAssertEqual(c.hz, 11)
    }

    func testRenameCommand() throws {
        let c = try load([file("r.conf", "rename-command CONFIG \"\"\nrename-command echo say\nrename-command ping ping\n")])
        XCTAssertEqual(c.renamedCommands.map { "\($0.from)>\($0.to)" }, ["CONFIG>", "echo>say", "ping>ping"])
        // A name freed by a rename can be taken by the next one.
        XCTAssertNoThrow(try load([file("r2.conf", "rename-command echo say\nrename-command ping echo\n")]))
        // Renaming twice fails the second time: the old name is gone.
        let e = failure([file("r3.conf", "rename-command echo say\nrename-command echo talk\n")])
        XCTAssertEqual(e?.reason, "No such command in rename-command")
        XCTAssertEqual(e?.line, 2)
    }

    // MARK: command line

    func testCommandLineSplitsLikeRedisServer() {
        XCTAssertEqual(ConfigLoader.parse(arguments: ["--port", "7777", "--replicaof", "127.0.0.1", "6379"]),
                       .init(configFile: nil, readStdin: false, options: "port \"7777\" \nreplicaof \"127.0.0.1\" \"6379\" "))
        XCTAssertEqual(ConfigLoader.parse(arguments: ["/etc/t.conf", "--loglevel", "verbose", "-"]),
                       .init(configFile: "/etc/t.conf", readStdin: true, options: "loglevel \"verbose\" "))
        XCTAssertEqual(ConfigLoader.parse(arguments: ["-", "--port 7000"]),
                       .init(configFile: nil, readStdin: true, options: "port 7000 "))
        // A value starting with "--" right after a bare name is that name's argument.
        XCTAssertEqual(ConfigLoader.parse(arguments: ["--requirepass", "--x"]).options, "requirepass \"--x\" ")
        XCTAssertEqual(ConfigLoader.parse(arguments: ["--save", "--port", "1"]).options, "save \"\"\nport \"1\" ")
        XCTAssertEqual(ConfigLoader.parse(arguments: ["--bind", "a b"]).options, "bind \"a b\" ")
    }

    func testCommandLineOverridesFileAndStdin() throws {
        let path = file("o.conf", "port 7001\ntimeout 3\nhz 12\n")
        let c = try load([path, "--port", "7002", "--maxmemory", "1mb", "--requirepass", "a \"b\"", "-"],
                         stdin: "timeout 4\nport 7003\n")
        XCTAssertEqual(c.port, 7002)       // command line beats stdin and file
        XCTAssertEqual(c.timeout, 4)       // stdin beats file
        XCTAssertEqual(c.hz, 12)
        XCTAssertEqual(c.maxMemory, 1 << 20)
        XCTAssertEqual(c.requirePass, "a \"b\"")
        XCTAssertEqual(c.configFile, path)

        let last = try load(["--port", "1", "--port", "2", "--bind", "127.0.0.1 ::1", "--protected-mode", "no"])
        XCTAssertEqual(last.port, 2)
        XCTAssertEqual(last.bind, ["127.0.0.1", "::1"])
        XCTAssertFalse(last.protectedMode)
        XCTAssertEqual(last.configFile, "")
    }

    func testCommandLineErrorsCountLinesAfterTheFile() {
        let path = file("f.conf", "port 7102\n")
        let e = failure([path, "--bogus", "1", "2"])
        XCTAssertEqual(e?.description, fatal(line: 3, "bogus \"1\" \"2\"", "Bad directive or wrong number of arguments",
                                             "(in the command-line arguments, line 1)"))
        let bare = failure([path, "--port"])
        XCTAssertEqual(bare?.line, 3)
        XCTAssertEqual(bare?.reason, "wrong number of arguments")
        let stdinError = failure(["-"], stdin: "port 1\nnope\n")
        XCTAssertEqual(stdinError?.description, fatal(line: 2, "nope", "Bad directive or wrong number of arguments",
                                                      "(in standard input, line 2)"))
    }

    func testVersionAndHelpActions() {
        XCTAssertEqual(ConfigLoader.action(arguments: ["-v"]), .version)
        XCTAssertEqual(ConfigLoader.action(arguments: ["--version"]), .version)
        XCTAssertEqual(ConfigLoader.action(arguments: ["-h"]), .help)
        XCTAssertEqual(ConfigLoader.action(arguments: ["--help"]), .help)
        XCTAssertEqual(ConfigLoader.action(arguments: ["a.conf", "--help"]), .run)
        XCTAssertTrue(ConfigLoader.versionLine.contains("v=\(TernVersion.tern)"))
        XCTAssertTrue(ConfigLoader.usage.hasPrefix("Usage: ./tern-server [/path/to/tern.conf] [options] [-]"))
    }

    // MARK: REWRITE round trip

    func testRewriteThenReloadGivesTheSameConfiguration() throws {
        let path = file("rw.conf", """
            # Settings for a test server
            port 7020
            include \(file("extra.conf", "timeout 9\n"))
            maxmemory 1gb
            slave-read-only yes
            rename-command echo say

            """)
        let c = try load([path])
        // Change things as CONFIG SET would, then rewrite.
        try ConfigRegistry.set([("maxmemory", "3000000"), ("slave-read-only", "no"), ("hz", "25"),
                                ("requirepass", "x y"), ("maxmemory-policy", "volatile-ttl")], server: nil, config: c)
        try ConfigRegistry.rewriteFile(path: path, config: c)
        let text = String(decoding: try FileIO.read(path).get(), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("# Settings for a test server\nport 7020\ninclude \(directory)/extra.conf\nmaxmemory 3000000\nreplica-read-only no\nrename-command echo say\n\n# Generated by CONFIG REWRITE\n"), text)
        let reloaded = try load([path])
        for d in ConfigRegistry.directives {
            XCTAssertEqual(d.get(reloaded), d.get(c), d.name)
        }
        XCTAssertEqual(reloaded.renamedCommands.map { $0.to }, ["say"])
    }

    func testEveryDirectiveRoundTripsThroughRewrite() throws {
        let c = ServerConfig()
        let values: [String: String] = [
            "bind": "10.0.0.1 -::1", "port": "7777", "unixsocket": "/tmp/t.sock", "unixsocketperm": "700",
            "tcp-backlog": "128", "timeout": "60", "tcp-keepalive": "30", "protected-mode": "no",
            "maxclients": "100", "tracking-table-max-keys": "50", "loglevel": "warning", "logfile": "", "pidfile": "/tmp/t.pid",
            "databases": "8", "backend": "lmdb", "hz": "50", "daemonize": "no", "requirepass": "p w",
            "proto-max-bulk-len": "1gb", "client-query-buffer-limit": "2mb", "hll-sparse-max-bytes": "200", "slowlog-log-slower-than": "-1",
            "slowlog-max-len": "10", "latency-monitor-threshold": "5", "busy-reply-threshold": "750", "maxmemory": "12345",
            "maxmemory-policy": "allkeys-random", "replica-read-only": "no", "lmdb-path": "/tmp/x.lmdb",
            "lmdb-sync": "everysec", "lmdb-map-size": "2mb", "lmdb-max-size": "1gb",
            "repl-backlog-size": "2mb", "repl-ping-replica-period": "5", "replicaof": "127.0.0.1 7001", "masterauth": "pw", "masteruser": "default",
            "replica-serve-stale-data": "no", "replica-announce-ip": "10.1.2.3", "replica-announce-port": "7100",
            "replica-priority": "7", "replica-announced": "no", "min-replicas-to-write": "2",
            "min-replicas-max-lag": "3", "repl-timeout": "30", "repl-backlog-ttl": "0", "repl-diskless-sync": "no",
            "repl-diskless-sync-delay": "1", "repl-diskless-sync-max-replicas": "3", "repl-diskless-load": "swapdb",
            "repl-disable-tcp-nodelay": "yes",
            "client-output-buffer-limit": "normal 1mb 2mb 3 replica 4 5 6 pubsub 7kb 8 9",
            "notify-keyspace-events": "KEx$",
            "save": "100 10 20 5", "dbfilename": "x.rdb", "rdbcompression": "no", "rdbchecksum": "no",
            "stop-writes-on-bgsave-error": "no", "enable-module-command": "local", "supervised": "systemd",
            "proc-title-template": "{title} {port}", "cluster-announce-hostname": "h-1.example",
            "latency-tracking": "no", "latency-tracking-info-percentiles": "0 99.5 100", "enable-debug-command": "local",
            "stream-node-max-bytes": "8kb", "stream-node-max-entries": "50",
            "aclfile": "/tmp/users.acl", "acllog-max-len": "5", "acl-pubsub-default": "allchannels",
            "tls-port": "6390", "tls-cert-file": "/tmp/s.crt", "tls-key-file": "/tmp/s.key", "tls-key-file-pass": "kp",
            "tls-client-cert-file": "/tmp/c.crt", "tls-client-key-file": "/tmp/c.key", "tls-client-key-file-pass": "cp",
            "tls-dh-params-file": "/tmp/dh", "tls-ca-cert-file": "/tmp/ca.crt", "tls-ca-cert-dir": "/tmp/cas",
            "tls-auth-clients": "optional", "tls-replication": "yes", "tls-cluster": "yes", "tls-protocols": "TLSv1.3",
            "tls-ciphers": "HIGH", "tls-ciphersuites": "TLS_AES_128_GCM_SHA256", "tls-prefer-server-ciphers": "yes",
            "tls-session-caching": "no", "tls-session-cache-size": "100", "tls-session-cache-timeout": "60",
        ]
        for d in ConfigRegistry.directives where d.name != "dir" {
            // Directives without a hand-picked value get one their type allows, different from the default
            // when Tern accepts any (the ones that accept only their default keep it).
            let v = values[d.name] ?? Self.otherValue(d)
            do {
                try d.set(c, d.multiArg ? v.split(separator: " ").map(String.init) : [v])
            } catch {
                XCTAssertNil(values[d.name], "\(d.name): \(error)")
            }
        }
        let path = directory + "/all.conf"
        try ConfigRegistry.rewriteFile(path: path, config: c)
        let reloaded = try load([path])
        for d in ConfigRegistry.directives {
            XCTAssertEqual(d.get(reloaded), d.get(c), d.name)
        }
    }

    /// A valid value of `d`'s type that is not its default.
    static func otherValue(_ d: ConfigDirective) -> String {
        switch d.kind {
        case .bool: return d.defaultValue == "yes" ? "no" : "yes"
        case .integer, .memory, .octal: return d.minimum + 1 <= d.maximum || d.unsigned ? String(d.minimum + 1) : String(d.minimum)
        case .enumeration(let names): return names.first { $0 != d.defaultValue } ?? d.defaultValue
        case .string: return "x-\(d.name)"
        case .special:
            switch d.name {
            case "oom-score-adj-values": return "1 2 3"
            case "latency-tracking-info-percentiles": return "10 20.5"
            default: return d.defaultValue
            }
        }
    }

    // MARK: shipped configs

    var repositoryRoot: String {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }

    func testTernConfDocumentsEveryDirectiveAtItsDefault() throws {
        let path = repositoryRoot + "/conf/tern.conf"
        let text = String(decoding: try FileIO.read(path).get(), as: UTF8.self)
        let lines = text.split(separator: "\n").map(String.init)
        for name in ConfigRegistry.directives.map(\.name) + ["include", "rename-command", "slave-read-only"] {
            XCTAssertTrue(lines.contains { $0.hasPrefix(name + " ") || $0.hasPrefix("# " + name + " ") || $0.contains("\"\(name)\"") },
                          "conf/tern.conf doesn't document \(name)")
        }
        let loaded = try load([path])
        let defaults = ServerConfig()
        for d in ConfigRegistry.directives {
            XCTAssertEqual(d.get(loaded), d.get(defaults), d.name)
        }
        let cwd = ConfigRegistry.currentDirectory()
        XCTAssertEqual(loaded.dir, cwd)
    }

    /// The first `save` line of a file replaces the defaults and later ones add points, as in Redis.
    func testSaveLinesAccumulateInAFile() throws {
        let path = file("save.conf", "save 100 1\nsave 50 20\n")
        let c = try load([path])
        XCTAssertEqual(c.savePoints, [SavePoint(seconds: 100, changes: 1), SavePoint(seconds: 50, changes: 20)])
        XCTAssertEqual(try load([path, "--save", ""]).savePoints, [])
        XCTAssertEqual(try load([]).savePoints.count, 3)
    }

    func testMemoryConfLoads() throws {
        let c = try load([repositoryRoot + "/conf/memory.conf"])
        XCTAssertEqual(c.backend, "memory")
        XCTAssertEqual(c.port, 6379)
        XCTAssertEqual(c.bind, ["127.0.0.1", "-::1"])
    }
}
