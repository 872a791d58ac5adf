import RESP
import TernCore
import TernStorage
import XCTest

/// OBJECT ENCODING's conversions (expected names from a stock redis-server 7.0.15 given the same commands;
/// the integration test test_object_encoding.py compares them live), and the config directives that drive them.
final class ObjectEncodingTests: XCTestCase {
    func encoding(_ h: Harness, _ key: String) -> RESPValue? { h.run(["OBJECT", "ENCODING", key]) }

    func testHashConvertsOnceAndNeverBack() {
        let h = Harness()
        h.run("CONFIG SET hash-max-listpack-entries 2")
        h.run("HSET h a 1 b 2")
        XCTAssertEqual(encoding(h, "h"), bulk("listpack"))
        h.run("HSET h c 3")
        XCTAssertEqual(encoding(h, "h"), bulk("hashtable"))
        h.run("HDEL h a b")
        XCTAssertEqual(encoding(h, "h"), bulk("hashtable"))
        h.run(["HSET", "long", "f", String(repeating: "x", count: 65)])
        XCTAssertEqual(encoding(h, "long"), bulk("hashtable"))
    }

    /// A threshold lowered with CONFIG SET applies at a key's next write, not to what is stored already.
    func testConfigSetAppliesToLaterWrites() {
        let h = Harness()
        h.run("ZADD z 1 a 2 b 3 c")
        h.run("CONFIG SET zset-max-ziplist-entries 2")
        XCTAssertEqual(encoding(h, "z"), bulk("listpack"))
        h.run("ZADD z 4 d")
        XCTAssertEqual(encoding(h, "z"), bulk("skiplist"))
        h.run("CONFIG SET zset-max-listpack-entries 1000")
        h.run("ZREM z a b c")
        XCTAssertEqual(encoding(h, "z"), bulk("skiplist"))
        h.run("ZADD z2 1 a 2 b 3 c")
        XCTAssertEqual(encoding(h, "z2"), bulk("listpack"))
    }

    func testSetsAndStrings() {
        let h = Harness()
        h.run("SADD s 1 2 3")
        XCTAssertEqual(encoding(h, "s"), bulk("intset"))
        h.run("SADD s x")
        h.run("SREM s x")
        XCTAssertEqual(encoding(h, "s"), bulk("hashtable"))
        h.run("SET n 42")
        XCTAssertEqual(encoding(h, "n"), bulk("int"))
        h.run("APPEND n 1")
        XCTAssertEqual(encoding(h, "n"), bulk("raw"))
        h.run("RENAME n m")
        XCTAssertEqual(encoding(h, "m"), bulk("raw"))
        h.run("SET m 7")
        XCTAssertEqual(encoding(h, "m"), bulk("int"))
        h.run("SETRANGE fresh 0 ab")
        XCTAssertEqual(encoding(h, "fresh"), bulk("raw"))
        h.run("RPUSH l a")
        XCTAssertEqual(encoding(h, "l"), bulk("quicklist"))
    }

    /// Values without a recorded state (loaded, restarted) are derived from their contents.
    func testDerivedNames() {
        var limits = ObjectEncoding.Limits()
        limits.setMaxIntsetEntries = 2
        XCTAssertEqual(ObjectEncoding.name(of: .set(["1", "2", "3"]), limits: limits), "hashtable")
        XCTAssertEqual(ObjectEncoding.name(of: .set(["1", "2"]), limits: limits), "intset")
        XCTAssertEqual(ObjectEncoding.name(of: .set(["1", "2"]), state: .converted, limits: limits), "hashtable")
        XCTAssertEqual(ObjectEncoding.name(of: .hash(["f": Bytes(String(repeating: "v", count: 65))])), "hashtable")
        XCTAssertEqual(ObjectEncoding.name(of: .hash(["f": "v"]), state: .compact), "listpack")
        XCTAssertEqual(ObjectEncoding.name(of: .string(Bytes(String(repeating: "x", count: 44)))), "embstr")
        XCTAssertEqual(ObjectEncoding.name(of: .string("12"), state: .converted), "raw")
    }

    func testProtectedConfigsFollowEnableProtectedConfigs() {
        let refused = err("ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set protected config")
        XCTAssertEqual(Harness().run("CONFIG SET dbfilename x.rdb"), refused)
        XCTAssertEqual(Harness { $0.enableProtectedConfigs = "yes" }.run("CONFIG SET dbfilename x.rdb"), .simple("OK"))
        // The harness client connects from 127.0.0.1: local.
        XCTAssertEqual(Harness { $0.enableProtectedConfigs = "local" }.run("CONFIG SET dbfilename x.rdb"), .simple("OK"))
    }

    func testDenyLoadingDirectivesAnswerLoading() {
        let h = Harness()
        h.server.loading = true
        XCTAssertEqual(h.run("CONFIG SET repl-diskless-load swapdb"), err("LOADING Redis is loading the dataset in memory"))
        XCTAssertEqual(h.run("CONFIG SET hz 20"), .simple("OK"))
    }

    func testUnsupportedValuesAreRefusedWithTheMissingFeature() {
        let h = Harness()
        XCTAssertEqual(h.run("CONFIG SET appendonly yes"),
                       err("ERR CONFIG SET failed (possibly related to argument 'appendonly') - appendonly yes is not supported: Tern has no append-only file (AOF) yet; for durability use the lmdb backend (backend lmdb, every write synced) or RDB save points"))
        XCTAssertEqual(h.run("CONFIG SET appendonly no lazyfree-lazy-expire yes"), .simple("OK"))
        XCTAssertEqual(h.run("CONFIG GET lazyfree-lazy-expire"), .array([bulk("lazyfree-lazy-expire"), bulk("yes")]))
        // All or nothing: the accepted directive of a failing CONFIG SET is rolled back.
        XCTAssertNotEqual(h.run("CONFIG SET maxmemory-samples 9 appendonly yes"), .simple("OK"))
        XCTAssertEqual(h.run("CONFIG GET maxmemory-samples"), .array([bulk("maxmemory-samples"), bulk("5")]))
    }

    /// Every directive either has its effect in Tern or is documented as having none, with a reason.
    func testEveryDirectiveSaysWhatItDoes() {
        for d in ConfigRegistry.directives {
            if case .noEffect(let reason) = d.effect { XCTAssertFalse(reason.isEmpty, d.name) }
        }
        XCTAssertEqual(ConfigRegistry.lookup("activerehashing")?.effect,
                       .noEffect("Tern's hash tables (Swift dictionaries, persistent tries, LMDB B-trees) have no incremental rehashing step"))
        XCTAssertEqual(ConfigRegistry.lookup("hash-max-ziplist-entries")?.effect, .effective)
    }
}
