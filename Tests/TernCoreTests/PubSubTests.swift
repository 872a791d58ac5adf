import NIOCore
import RESP
@testable import TernCore
import TernStorage
import XCTest

/// Helpers for commands with several replies and for what a client received outside its replies.
extension Harness {
    /// Runs one command and decodes every value it wrote to the client's reply stream.
    func runAll(_ line: String, as index: Int = 0) -> [RESPValue] {
        runAll(line.split(separator: " ").map(String.init), as: index)
    }

    func runAll(_ words: [String], as index: Int = 0) -> [RESPValue] {
        let (client, context, _) = clients[index]
        let start = client.output.writerIndex
        _ = server.execute(context, words.map { ByteBuffer(string: $0) })
        var out = client.output
        out.moveReaderIndex(to: start)
        client.output.clear()
        return decodeAll(&out)
    }

    /// Every value pushed to a client's connection since the last call (and forgets them).
    func pushed(_ index: Int) -> [RESPValue] {
        let transport = clients[index].2
        var all = ByteBuffer()
        for var b in transport.sent { all.writeBuffer(&b) }
        transport.sent.removeAll()
        return decodeAll(&all)
    }

    func decodeAll(_ buffer: inout ByteBuffer) -> [RESPValue] {
        var decoder = RESPValueDecoder()
        var values: [RESPValue] = []
        while buffer.readableBytes > 0, let value = (try? decoder.decode(buffer: &buffer)) ?? nil {
            values.append(value)
        }
        return values
    }
}

func arr(_ items: RESPValue...) -> RESPValue { .array(items) }
func push(_ items: RESPValue...) -> RESPValue { .push(items) }
func int(_ i: Int64) -> RESPValue { .integer(i) }

/// A transport whose pending output the test controls (client-output-buffer-limit).
final class BackloggedTransport: ClientTransport {
    var sent: [ByteBuffer] = []
    var closed = false
    var pending = 0
    func send(_ buffer: ByteBuffer) {
        sent.append(buffer)
        pending += buffer.readableBytes
    }
    func close() { closed = true }
    func setReadingEnabled(_ enabled: Bool) {}
    var pendingOutputBytes: Int { pending }
}

final class PubSubTests: XCTestCase {
    func testSubscribePublishRESP2() {
        let h = Harness()
        let b = h.connect()
        XCTAssertEqual(h.runAll("SUBSCRIBE c1 c2"), [
            arr(bulk("subscribe"), bulk("c1"), int(1)),
            arr(bulk("subscribe"), bulk("c2"), int(2)),
        ])
        XCTAssertTrue(h.client(0).flags.contains(.pubsub))
        XCTAssertEqual(h.run("PUBLISH c1 hello", as: b), int(1))
        XCTAssertEqual(h.run("PUBLISH nobody hello", as: b), int(0))
        XCTAssertEqual(h.pushed(0), [arr(bulk("message"), bulk("c1"), bulk("hello"))])
        // Subscribing twice counts once.
        XCTAssertEqual(h.runAll("SUBSCRIBE c1"), [arr(bulk("subscribe"), bulk("c1"), int(2))])
        XCTAssertEqual(h.run("PUBLISH c1 again", as: b), int(1))
        XCTAssertEqual(h.pushed(0).count, 1)
    }

    func testRESP2SubscribedModeRestriction() {
        let h = Harness()
        _ = h.runAll("SUBSCRIBE c")
        XCTAssertEqual(h.run("GET k"), err("ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"))
        XCTAssertEqual(h.run("CLIENT LIST"), err("ERR Can't execute 'client|list': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"))
        XCTAssertEqual(h.run("PING"), arr(bulk("pong"), bulk("")))
        XCTAssertEqual(h.run("PING hi"), arr(bulk("pong"), bulk("hi")))
        XCTAssertEqual(h.runAll("PSUBSCRIBE p*").count, 1)
        XCTAssertEqual(h.runAll("UNSUBSCRIBE"), [arr(bulk("unsubscribe"), bulk("c"), int(1))])
        // Still subscribed to a pattern: still restricted.
        XCTAssertEqual(h.run("SET k v"), err("ERR Can't execute 'set': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"))
        XCTAssertEqual(h.runAll("PUNSUBSCRIBE"), [arr(bulk("punsubscribe"), bulk("p*"), int(0))])
        XCTAssertFalse(h.client(0).flags.contains(.pubsub))
        XCTAssertEqual(h.run("SET k v"), ok)
    }

    func testRESP3PushesAndNoRestriction() {
        let h = Harness()
        let b = h.connect()
        _ = h.run("HELLO 3")
        XCTAssertEqual(h.runAll("SUBSCRIBE x"), [push(bulk("subscribe"), bulk("x"), int(1))])
        XCTAssertEqual(h.run("SET k v"), ok)
        XCTAssertEqual(h.run("GET k"), bulk("v"))
        XCTAssertEqual(h.run("PUBLISH x m", as: b), int(1))
        XCTAssertEqual(h.pushed(0), [push(bulk("message"), bulk("x"), bulk("m"))])
        XCTAssertEqual(h.runAll("UNSUBSCRIBE"), [push(bulk("unsubscribe"), bulk("x"), int(0))])
        XCTAssertEqual(h.runAll("UNSUBSCRIBE"), [push(bulk("unsubscribe"), .null, int(0))])
    }

    func testPublishToSelfInRESP3GoesBeforeTheReply() {
        let h = Harness()
        _ = h.run("HELLO 3")
        _ = h.runAll("SUBSCRIBE me")
        XCTAssertEqual(h.runAll("PUBLISH me hi"), [push(bulk("message"), bulk("me"), bulk("hi")), int(1)])
        XCTAssertTrue(h.pushed(0).isEmpty)
    }

    func testUnsubscribeWithoutSubscriptions() {
        let h = Harness()
        XCTAssertEqual(h.runAll("UNSUBSCRIBE"), [arr(bulk("unsubscribe"), .null, int(0))])
        XCTAssertEqual(h.runAll("PUNSUBSCRIBE"), [arr(bulk("punsubscribe"), .null, int(0))])
        XCTAssertEqual(h.runAll("SUNSUBSCRIBE"), [arr(bulk("sunsubscribe"), .null, int(0))])
        // Unsubscribing a channel one never subscribed still replies for it.
        XCTAssertEqual(h.runAll("UNSUBSCRIBE a b"), [
            arr(bulk("unsubscribe"), bulk("a"), int(0)), arr(bulk("unsubscribe"), bulk("b"), int(0)),
        ])
        XCTAssertFalse(h.client(0).flags.contains(.pubsub))
    }

    func testPatternsAndCounts() {
        let h = Harness()
        let b = h.connect()
        let c = h.connect()
        _ = h.runAll("PSUBSCRIBE p*")
        XCTAssertEqual(h.runAll("PSUBSCRIBE p* q*", as: b), [
            arr(bulk("psubscribe"), bulk("p*"), int(1)), arr(bulk("psubscribe"), bulk("q*"), int(2)),
        ])
        _ = h.runAll("SUBSCRIBE pp", as: b)
        XCTAssertEqual(h.run("PUBSUB NUMPAT", as: c), int(2))
        XCTAssertEqual(h.run("PUBLISH pp x", as: c), int(3))
        XCTAssertEqual(h.pushed(0), [arr(bulk("pmessage"), bulk("p*"), bulk("pp"), bulk("x"))])
        XCTAssertEqual(h.pushed(b), [
            arr(bulk("message"), bulk("pp"), bulk("x")), arr(bulk("pmessage"), bulk("p*"), bulk("pp"), bulk("x")),
        ])
        // Counts are channels plus patterns.
        XCTAssertEqual(h.runAll("PUNSUBSCRIBE q* p* p*", as: b), [
            arr(bulk("punsubscribe"), bulk("q*"), int(2)), arr(bulk("punsubscribe"), bulk("p*"), int(1)),
            arr(bulk("punsubscribe"), bulk("p*"), int(1)),
        ])
        XCTAssertEqual(h.runAll("UNSUBSCRIBE", as: 0), [arr(bulk("unsubscribe"), .null, int(1))])
        XCTAssertEqual(h.run("PUBSUB NUMPAT", as: c), int(1))
    }

    func testShardChannels() {
        let h = Harness()
        let b = h.connect()
        XCTAssertEqual(h.runAll("SSUBSCRIBE s1 s2"), [
            arr(bulk("ssubscribe"), bulk("s1"), int(1)), arr(bulk("ssubscribe"), bulk("s2"), int(2)),
        ])
        _ = h.runAll("SUBSCRIBE s1")
        XCTAssertEqual(h.run("SPUBLISH s1 m", as: b), int(1))
        XCTAssertEqual(h.pushed(0), [arr(bulk("smessage"), bulk("s1"), bulk("m"))])
        XCTAssertEqual(h.run("PUBLISH s1 m", as: b), int(1))
        XCTAssertEqual(h.pushed(0), [arr(bulk("message"), bulk("s1"), bulk("m"))])
        XCTAssertEqual(h.run("PUBSUB SHARDCHANNELS", as: b).map(sortedArray), arr(bulk("s1"), bulk("s2")))
        XCTAssertEqual(h.run("PUBSUB SHARDCHANNELS *2", as: b), arr(bulk("s2")))
        XCTAssertEqual(h.run("PUBSUB SHARDNUMSUB s1 x", as: b), arr(bulk("s1"), int(1), bulk("x"), int(0)))
        // SUNSUBSCRIBE counts shard channels only.
        XCTAssertEqual(h.runAll("SUNSUBSCRIBE"), [
            arr(bulk("sunsubscribe"), bulk("s1"), int(1)), arr(bulk("sunsubscribe"), bulk("s2"), int(0)),
        ])
        XCTAssertTrue(h.client(0).flags.contains(.pubsub))
    }

    func testPubsubIntrospection() {
        let h = Harness()
        let b = h.connect()
        _ = h.runAll("SUBSCRIBE c1 c2 other")
        XCTAssertEqual(h.run("PUBSUB CHANNELS", as: b).map(sortedArray), arr(bulk("c1"), bulk("c2"), bulk("other")))
        XCTAssertEqual(h.run("PUBSUB CHANNELS c*", as: b).map(sortedArray), arr(bulk("c1"), bulk("c2")))
        XCTAssertEqual(h.run("PUBSUB CHANNELS a b", as: b),
                       err("ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP."))
        XCTAssertEqual(h.run("PUBSUB NUMSUB c1 zz", as: b), arr(bulk("c1"), int(1), bulk("zz"), int(0)))
        XCTAssertEqual(h.run("PUBSUB NUMSUB", as: b), arr())
        XCTAssertEqual(h.run("PUBSUB FOO", as: b), err("ERR unknown subcommand 'FOO'. Try PUBSUB HELP."))
        guard case .array(let help)? = h.run("PUBSUB HELP", as: b) else { return XCTFail() }
        XCTAssertEqual(help.count, 14)
        XCTAssertEqual(help.first, .simple("PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"))
        // RESP3 NUMSUB stays a flat array, as in Redis 7.0.
        _ = h.run("HELLO 3", as: b)
        XCTAssertEqual(h.run("PUBSUB NUMSUB c1", as: b), arr(bulk("c1"), int(1)))
    }

    func testClientListCountsAndFlag() {
        let h = Harness()
        let b = h.connect()
        _ = h.runAll("SUBSCRIBE a b")
        _ = h.runAll("PSUBSCRIBE p*")
        _ = h.runAll("SSUBSCRIBE s")
        guard case .bulk(let text)? = h.run("CLIENT LIST", as: b) else { return XCTFail() }
        let line = String(decoding: text, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix("id=\(h.client(0).id) ") }!
        XCTAssertTrue(line.contains(" flags=P "), String(line))
        XCTAssertTrue(line.contains(" sub=2 psub=1 ssub=1 "), String(line))
        guard case .bulk(let info)? = h.run("INFO stats", as: b) else { return XCTFail() }
        let stats = String(decoding: info, as: UTF8.self)
        XCTAssertTrue(stats.contains("pubsub_channels:2\r\n"))
        XCTAssertTrue(stats.contains("pubsub_patterns:1\r\n"))
        XCTAssertTrue(stats.contains("pubsubshard_channels:1\r\n"))
    }

    func testDisconnectAndResetCleanUp() {
        let h = Harness()
        let b = h.connect()
        let c = h.connect()
        _ = h.runAll("SUBSCRIBE x")
        _ = h.runAll("PSUBSCRIBE x*", as: b)
        _ = h.runAll("SSUBSCRIBE x", as: b)
        XCTAssertEqual(h.run("PUBLISH x m", as: c), int(2))
        h.server.removeClient(h.client(0))
        XCTAssertEqual(h.run("PUBLISH x m", as: c), int(1))
        XCTAssertEqual(h.run("RESET", as: b), .simple("RESET"))
        XCTAssertFalse(h.client(b).flags.contains(.pubsub))
        XCTAssertEqual(h.run("PUBLISH x m", as: c), int(0))
        XCTAssertEqual(h.run("SPUBLISH x m", as: c), int(0))
        XCTAssertEqual(h.run("PUBSUB NUMPAT", as: c), int(0))
        XCTAssertEqual(h.run("PUBSUB CHANNELS", as: c), arr())
        XCTAssertEqual(h.run("GET k", as: b), .null)
    }

    func testSubscribeInsideExec() {
        let h = Harness()
        _ = h.run("MULTI")
        XCTAssertEqual(h.run("SSUBSCRIBE s"), .simple("QUEUED"))
        XCTAssertEqual(h.run("SUBSCRIBE q"), .simple("QUEUED"))
        XCTAssertEqual(h.run("EXEC"), arr(err("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client"),
                                          arr(bulk("subscribe"), bulk("q"), int(1))))
        XCTAssertTrue(h.client(0).flags.contains(.pubsub))
    }

    func testPublishPropagates() {
        let h = Harness()
        _ = h.run("PUBLISH ch msg")
        _ = h.run("SPUBLISH sh msg")
        XCTAssertEqual(h.effects, ["PUBLISH ch msg", "SPUBLISH sh msg"])
    }

    func testClientReplyOffSilencesMessages() {
        let h = Harness()
        let b = h.connect()
        _ = h.runAll("SUBSCRIBE x")
        h.client(0).replyMode = .off
        XCTAssertEqual(h.run("PUBLISH x m", as: b), int(1))
        XCTAssertTrue(h.pushed(0).isEmpty)
    }

    func testOutputBufferLimitHard() {
        let h = Harness()
        let b = h.connect()
        let transport = BackloggedTransport()
        h.client(0).transport = transport
        _ = h.runAll("SUBSCRIBE x")
        XCTAssertEqual(h.run("CONFIG SET client-output-buffer-limit", as: b), err("ERR wrong number of arguments for 'config|set' command"))
        XCTAssertEqual(h.run(["CONFIG", "SET", "client-output-buffer-limit", "pubsub 100 0 0"], as: b), ok)
        let message = String(repeating: "m", count: 40)
        XCTAssertEqual(h.run("PUBLISH x \(message)", as: b), int(1))
        XCTAssertFalse(transport.closed)
        XCTAssertEqual(h.run("PUBLISH x \(message)", as: b), int(1))
        XCTAssertTrue(transport.closed, "over the hard limit: the subscriber is disconnected")
        XCTAssertTrue(h.client(0).closing)
        // Its subscriptions are gone at once.
        XCTAssertEqual(h.run("PUBLISH x \(message)", as: b), int(0))
        withExtendedLifetime(transport) {}
    }

    func testOutputBufferLimitSoft() {
        let h = Harness()
        let b = h.connect()
        let transport = BackloggedTransport()
        h.client(0).transport = transport
        _ = h.runAll("SUBSCRIBE x")
        XCTAssertEqual(h.run(["CONFIG", "SET", "client-output-buffer-limit", "pubsub 0 50 2"], as: b), ok)
        let message = String(repeating: "m", count: 40)
        _ = h.run("PUBLISH x \(message)", as: b)   // 60 bytes pending: soft limit reached, clock starts
        h.clock.advance(millis: 2000)
        _ = h.run("PUBLISH x \(message)", as: b)   // 2 s: not longer than the soft seconds yet
        XCTAssertFalse(transport.closed)
        h.clock.advance(millis: 1000)
        _ = h.run("PUBLISH x \(message)", as: b)
        XCTAssertTrue(transport.closed)
        withExtendedLifetime(transport) {}
    }

    func testOutputBufferLimitSoftResetsWhenDrained() {
        let h = Harness()
        let b = h.connect()
        let transport = BackloggedTransport()
        h.client(0).transport = transport
        _ = h.runAll("SUBSCRIBE x")
        _ = h.run(["CONFIG", "SET", "client-output-buffer-limit", "pubsub 0 50 1"], as: b)
        let message = String(repeating: "m", count: 40)
        _ = h.run("PUBLISH x \(message)", as: b)
        transport.pending = 0   // the socket caught up
        h.clock.advance(millis: 5000)
        _ = h.run("PUBLISH x hi", as: b)
        XCTAssertFalse(transport.closed)
        withExtendedLifetime(transport) {}
    }

    func testOutputBufferLimitConfig() {
        let h = Harness()
        XCTAssertEqual(h.run("CONFIG GET client-output-buffer-limit"),
                       arr(bulk("client-output-buffer-limit"), bulk("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")))
        XCTAssertEqual(h.run(["CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 2kb 3 replica 5gb 1 2"]), ok)
        XCTAssertEqual(h.run("CONFIG GET client-output-buffer-limit"),
                       arr(bulk("client-output-buffer-limit"), bulk("normal 0 0 0 slave 5368709120 1 2 pubsub 1048576 2048 3")))
        let prefix = "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - "
        XCTAssertEqual(h.run(["CONFIG", "SET", "client-output-buffer-limit", "normal"]),
                       err(prefix + "Wrong number of arguments in buffer limit configuration."))
        XCTAssertEqual(h.run(["CONFIG", "SET", "client-output-buffer-limit", "master 1 2 3"]),
                       err(prefix + "Invalid client class specified in buffer limit configuration."))
        for bad in ["normal 1 2 x", "normal 1 2 -1", "normal -1 2 1", "normal 1x 2 1"] {
            XCTAssertEqual(h.run(["CONFIG", "SET", "client-output-buffer-limit", bad]),
                           err(prefix + "Error in hard, soft or soft_seconds setting in buffer limit configuration."), bad)
        }
        // All or nothing: a bad class later on the line leaves the earlier ones untouched.
        _ = h.run(["CONFIG", "SET", "client-output-buffer-limit", "normal 1 1 1 foo 1 1 1"])
        XCTAssertEqual(h.server.config.clientOutputBufferLimits[0], ClientOutputBufferLimit(hardBytes: 0, softBytes: 0, softSeconds: 0))
    }

    func testOutputBufferLimitRewrite() {
        let config = ServerConfig()
        try! ConfigRegistry.lookup("client-output-buffer-limit")!.set(config, ["pubsub", "64mb", "16mb", "90"])
        let text = ConfigRegistry.rewrite(existing: "client-output-buffer-limit normal 0 0 0\n", config: config)
        let lines = text.split(separator: "\n").filter { $0.hasPrefix("client-output-buffer-limit") }
        // The existing line is rewritten in place; the changed class is appended; the default replica class isn't.
        XCTAssertEqual(lines, ["client-output-buffer-limit normal 0 0 0", "client-output-buffer-limit pubsub 64mb 16mb 90"])
        try! ConfigRegistry.lookup("client-output-buffer-limit")!.set(config, ["replica", "1", "2", "3"])
        let again = ConfigRegistry.rewrite(existing: text, config: config)
        // CONFIG GET names the class "slave"; the rewrite writes "replica", as Redis's does.
        XCTAssertTrue(again.contains("client-output-buffer-limit replica 1 2 3\n"))
    }
}

/// Arrays whose order Redis doesn't define (dict iteration), sorted for comparison.
func sortedArray(_ v: RESPValue) -> RESPValue {
    guard case .array(let items) = v else { return v }
    return .array(items.sorted { $0.description < $1.description })
}

func arr() -> RESPValue { .array([]) }
