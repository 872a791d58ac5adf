import NIOCore
import RESP
import TernCore
import TernStorage
import XCTest

/// DEBUG (gating, digests against values a stock Redis 7.0.15 computed, the subcommands' replies), the
/// SHA-1 under the digest, and the per-command latency histogram.
final class DebugCommandsTests: XCTestCase {
    func debugHarness() -> Harness { Harness { $0.enableDebugCommand = "yes" } }

    func testGatedByEnableDebugCommand() {
        let refusal = err("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.")
        XCTAssertEqual(Harness().run("DEBUG SLEEP 0"), refusal)
        // The harness's clients connect from 127.0.0.1: "local" lets them in.
        XCTAssertEqual(Harness { $0.enableDebugCommand = "local" }.run("DEBUG SLEEP 0"), ok)
        XCTAssertEqual(debugHarness().run("DEBUG SLEEP 0"), ok)
        let h = Harness()
        XCTAssertEqual(h.run("CONFIG GET enable-debug-command"), .array([bulk("enable-debug-command"), bulk("no")]))
        XCTAssertEqual(h.run("CONFIG SET enable-debug-command yes"),
                       err("ERR CONFIG SET failed (possibly related to argument 'enable-debug-command') - can't set immutable config"))
    }

    func testSHA1KnownVectors() {
        func hex(_ s: String) -> String { SHA1.hash(Array(s.utf8)).map { String(format: "%02x", $0) }.joined() }
        XCTAssertEqual(hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        XCTAssertEqual(hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        XCTAssertEqual(hex(String(repeating: "a", count: 1000)), "291e9a6c66994949b57ba5e650361e98fc36b1ba")
    }

    /// The digests a stock redis-server 7.0.15 gives for the same values (DEBUG DIGEST-VALUE / DIGEST).
    func testDigestsMatchStockRedis() {
        let h = debugHarness()
        for line in ["SET s hello", "SET n 123", "RPUSH l a b c", "ZADD z 0.1 a 1.5 b 3 c", "HSET h f v g w",
                     "SADD st 1 2 x", "SETEX e 100 v"] {
            XCTAssertNotNil(h.run(line))
        }
        XCTAssertEqual(h.run("DEBUG DIGEST-VALUE s l z h st e nokey"), .array([
            .simple("36b23a1456b2dce2c3ed252c456761301dba8060"), .simple("8bf72d812571eea9b927f3c11beb0c4165a6ff89"),
            .simple("7ff3f958101e8015f3a85e52c2a23357a700d643"), .simple("d127864ed50239662bf61bafc9bda63c17da5b37"),
            .simple("4c6eef6b7853d1b76391c849d71b0d35d3faf18f"), .simple("311b17018163335616e089f6b951c82c477335ac"),
            .simple("0000000000000000000000000000000000000000"),
        ]))
        XCTAssertEqual(h.run("SELECT 3"), ok)
        XCTAssertEqual(h.run("SET k v"), ok)
        XCTAssertEqual(h.run("DEBUG DIGEST"), .simple("9823f7c373c07bcee5acd87089f320831d62bfd9"))
        // Order matters for lists only; moving a key to another database changes the dataset digest.
        XCTAssertEqual(h.run("MOVE k 4"), .integer(1))
        XCTAssertNotEqual(h.run("DEBUG DIGEST"), .simple("9823f7c373c07bcee5acd87089f320831d62bfd9"))
        XCTAssertEqual(debugHarness().run("DEBUG DIGEST"), .simple(String(repeating: "0", count: 40)))
    }

    func testDigestIgnoresSetOrderButNotListOrder() {
        let a = DatasetDigest.value(.set(Set([Bytes("x"), Bytes("y")])), hasExpiry: false)
        let b = DatasetDigest.value(.set(Set([Bytes("y"), Bytes("x")])), hasExpiry: false)
        XCTAssertEqual(a, b)
        let l1 = DatasetDigest.value(.list([Bytes("x"), Bytes("y")]), hasExpiry: false)
        let l2 = DatasetDigest.value(.list([Bytes("y"), Bytes("x")]), hasExpiry: false)
        XCTAssertNotEqual(l1, l2)
        XCTAssertNotEqual(DatasetDigest.value(.string("v"), hasExpiry: true), DatasetDigest.value(.string("v"), hasExpiry: false))
    }

    func testProtocolReplies() {
        let h = debugHarness()
        XCTAssertEqual(h.run("DEBUG PROTOCOL string"), bulk("Hello World"))
        XCTAssertEqual(h.run("DEBUG PROTOCOL integer"), .integer(12345))
        XCTAssertEqual(h.run("DEBUG PROTOCOL bignum"), bulk("1234567999999999999999999999999999999"))
        XCTAssertEqual(h.run("DEBUG PROTOCOL true"), .integer(1))
        XCTAssertEqual(h.run("DEBUG PROTOCOL attrib"), bulk("Some real reply following the attribute"))
        XCTAssertEqual(h.run("DEBUG PROTOCOL push"), err("ERR RESP2 is not supported by this command"))
        XCTAssertEqual(h.run("DEBUG PROTOCOL nope"), err("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false"))
        XCTAssertNotNil(h.run("HELLO 3"))
        XCTAssertEqual(h.run("DEBUG PROTOCOL bignum"), .bigNumber("1234567999999999999999999999999999999"))
        XCTAssertEqual(h.run("DEBUG PROTOCOL false"), .boolean(false))
        XCTAssertEqual(h.run("DEBUG PROTOCOL double"), .double("3.141"))
        XCTAssertEqual(h.run("DEBUG PROTOCOL verbatim"), .verbatim(format: "txt", text: "This is a verbatim\nstring"))
        XCTAssertEqual(h.run("DEBUG PROTOCOL map"), .map([(.integer(0), .boolean(false)), (.integer(1), .boolean(true)),
                                                          (.integer(2), .boolean(false))]))
    }

    func testSubcommands() {
        let h = debugHarness()
        XCTAssertEqual(h.run("DEBUG SET-ACTIVE-EXPIRE 0"), ok)
        XCTAssertFalse(h.server.activeExpireEnabled)
        h.engine.database(0).store(Bytes("k"), .string(Bytes("v")), expiry: .at(h.clock.nowMillis() + 10))
        h.clock.advance(millis: 20)
        XCTAssertEqual(h.server.activeExpireCycle(), 0)
        XCTAssertEqual(h.run("DEBUG SET-ACTIVE-EXPIRE 1"), ok)
        XCTAssertEqual(h.server.activeExpireCycle(), 1)
        XCTAssertEqual(h.run("DEBUG SLEEP"),
                       err("ERR unknown subcommand or wrong number of arguments for 'SLEEP'. Try DEBUG HELP."))
        XCTAssertEqual(h.run("DEBUG JMAP"),
                       err("ERR unknown subcommand or wrong number of arguments for 'JMAP'. Try DEBUG HELP."))
        // No persistence layer in this harness.
        XCTAssertEqual(h.run("DEBUG RELOAD"), err("ERR"))
        XCTAssertEqual(h.run("DEBUG RELOAD FOO"), err("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options."))
        XCTAssertEqual(h.run("DEBUG ERROR oops\nline"), err("oops line"))
        XCTAssertEqual(h.run("DEBUG POPULATE 3 p 12"), ok)
        XCTAssertEqual(h.run("GET p:2"), .bulk(Array("value:2".utf8) + [0, 0, 0, 0, 0]))
        XCTAssertEqual(h.run("DBSIZE"), .integer(3))
        XCTAssertEqual(h.run("DEBUG POPULATE -1"), err("ERR value is out of range, must be positive"))
        XCTAssertEqual(h.run("DEBUG OBJECT nokey"), err("ERR no such key"))
        XCTAssertNotNil(h.run("SET s hello"))
        guard case .simple(let text)? = h.run("DEBUG OBJECT s") else { return XCTFail("DEBUG OBJECT") }
        XCTAssertTrue(text.hasPrefix("Value at:0x"), text)
        XCTAssertTrue(text.contains(" refcount:1 encoding:embstr serializedlength:"), text)
        XCTAssertEqual(h.run("DEBUG SDSLEN s"), .simple("key_sds_len:1, key_sds_avail:0, key_zmalloc: 48, val_sds_len:5, val_sds_avail:\(Bytes("hello").array.capacity - 5), val_zmalloc: 48"))
        XCTAssertEqual(h.run("DEBUG QUICKLIST-PACKED-THRESHOLD 5gb"), err("ERR argument must be a memory value bigger than 1 and smaller than 4gb"))
        XCTAssertEqual(h.run("DEBUG QUICKLIST-PACKED-THRESHOLD 1mb"), ok)
        XCTAssertEqual(h.server.debugSettings.quicklistPackedThreshold, 1_048_576)
        XCTAssertEqual(h.run("DEBUG PAUSE-CRON 1"), ok)
        XCTAssertTrue(h.server.cronPaused)
        XCTAssertEqual(h.run("DEBUG CLIENT-EVICTION"), err("ERR maxmemory-clients is disabled."))
        XCTAssertEqual(h.run("DEBUG REPLYBUFFER FOO 1"),
                       err("ERR unknown subcommand or wrong number of arguments for 'REPLYBUFFER'. Try DEBUG HELP."))
        let before = h.server.metrics.replicationID
        XCTAssertEqual(h.run("DEBUG CHANGE-REPL-ID"), ok)
        XCTAssertNotEqual(h.server.metrics.replicationID, before)
        guard case .array(let help)? = h.run("DEBUG HELP") else { return XCTFail("DEBUG HELP") }
        XCTAssertEqual(help.first, .simple("DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"))
        XCTAssertEqual(help.last, .simple("    Prints this help."))
    }

    func testLatencyHistogramMatchesRedisBuckets() {
        var h = LatencyHistogram()
        // Redis reported, for DEBUG calls of ~16 µs, ~33 µs, ~64 µs and 50 ms: 16=>1 33=>2 66=>3 67633=>4.
        for micros in [15, 30, 60, 50_070] { h.record(micros: micros) }
        XCTAssertEqual(h.cumulativeBuckets.map { [$0.micros, $0.count] }, [[16, 1], [33, 2], [66, 3], [67633, 4]])
        XCTAssertEqual(h.valueAtPercentile(99), 50_331_647)
        XCTAssertEqual(LatencyHistogram.percentileText(99.9), "99.9")
        XCTAssertEqual(LatencyHistogram.percentileText(50), "50")
        var one = LatencyHistogram()
        one.record(micros: 0)
        XCTAssertEqual(one.cumulativeBuckets.map { [$0.micros, $0.count] }, [[1, 1]])
    }

    func testLatencyHistogramCommand() {
        let h = Harness()
        XCTAssertEqual(h.run("SET a 1"), ok)
        XCTAssertEqual(h.run("SET a 2"), ok)
        guard case .array(let reply)? = h.run("LATENCY HISTOGRAM set config|get nosuch") else { return XCTFail() }
        // RESP2 flattens the map: "set" then its two fields.
        XCTAssertEqual(reply.count, 2)
        XCTAssertEqual(reply[0], bulk("set"))
        guard case .array(let fields) = reply[1] else { return XCTFail() }
        XCTAssertEqual(fields[0], bulk("calls"))
        XCTAssertEqual(fields[1], .integer(2))
        XCTAssertEqual(fields[2], bulk("histogram_usec"))
        XCTAssertEqual(h.run("CONFIG SET latency-tracking no"), ok)
        XCTAssertEqual(h.run("SET a 3"), ok)
        XCTAssertEqual(h.server.commands.lookup(ByteBuffer(string: "set"))?.stat.histogram.totalCount, 2)
        XCTAssertEqual(h.run(["CONFIG", "SET", "latency-tracking-info-percentiles", "50 101"]),
                       err("ERR CONFIG SET failed (possibly related to argument 'latency-tracking-info-percentiles') - latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"))
        XCTAssertEqual(h.run(["CONFIG", "SET", "latency-tracking-info-percentiles", "50 99.99"]), ok)
        XCTAssertEqual(h.run("CONFIG GET latency-tracking-info-percentiles"),
                       .array([bulk("latency-tracking-info-percentiles"), bulk("50 99.99")]))
        let info = h.server.infoString(sections: ["latencystats"])
        XCTAssertTrue(info.contains("latency_percentiles_usec_set:p50="), info)
        XCTAssertTrue(info.contains(",p99.99="), info)
    }

    /// A blocked call that times out or is unblocked counts once, as in Redis (calls == histogram count).
    func testBlockedCallsCountInTheHistogram() {
        let h = Harness()
        let a = h.connect()
        XCTAssertNil(h.run("BLPOP q 0.5", as: a))
        h.clock.advance(millis: 600)
        h.server.expireBlockedClients()
        XCTAssertNil(h.run("BLPOP q 0", as: a))
        XCTAssertEqual(h.run("CLIENT UNBLOCK \(h.client(a).id)"), .integer(1))
        let blpop = h.server.commands.lookup(ByteBuffer(string: "blpop"))!
        XCTAssertEqual(blpop.stat.calls, 2)
        XCTAssertEqual(blpop.stat.histogram.totalCount, 2)
    }
}
