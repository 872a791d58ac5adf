import NIOCore
import RESP
@testable import TernCore
import TernStorage
import XCTest

/// Expected replies were taken from redis-server 7.0.15 on the same data.
final class SortTests: XCTestCase {
    func b(_ s: String) -> Bytes { Bytes(s) }

    /// l = [3 1 2 10 -1], s = {b a c}, z = {y:1 w:2 x:3}, alpha = [b a 10 c], weights and hashes.
    func fixture() -> Harness {
        let h = Harness()
        let ks = h.server.keyspace(0)
        _ = try! ks.listPush(b("l"), ["3", "1", "2", "10", "-1"].map(b), at: .tail)
        _ = try! ks.setAdd(b("s"), ["b", "a", "c"].map(b))
        _ = try! ks.zsetAdd(b("z"), [(b("x"), 3), (b("y"), 1), (b("w"), 2)])
        _ = try! ks.listPush(b("alpha"), ["b", "a", "10", "c"].map(b), at: .tail)
        _ = h.run("MSET w_3 30 w_1 10 w_2 20 w_10 5 o_3 c o_1 a o_2 b")
        _ = try! ks.hashSet(b("h_3"), [(b("f"), b("3")), (b("g"), b("x"))])
        _ = try! ks.hashSet(b("h_1"), [(b("f"), b("9"))])
        _ = try! ks.hashSet(b("h_2"), [(b("f"), b("1"))])
        h.propagation.reset()
        return h
    }

    func bulks(_ items: String?...) -> RESPValue {
        .array(items.map { $0.map(bulk) ?? .null })
    }

    func testNumericAndLimit() {
        let h = fixture()
        XCTAssertEqual(h.run("SORT l"), bulks("-1", "1", "2", "3", "10"))
        XCTAssertEqual(h.run("SORT l DESC"), bulks("10", "3", "2", "1", "-1"))
        XCTAssertEqual(h.run("SORT l LIMIT 1 2"), bulks("1", "2"))
        XCTAssertEqual(h.run("SORT l LIMIT -1 2"), bulks("-1", "1"))
        XCTAssertEqual(h.run("SORT l LIMIT 1 -1"), bulks("1", "2", "3", "10"))
        XCTAssertEqual(h.run("SORT l LIMIT 10 2"), bulks())
        XCTAssertEqual(h.run("SORT l LIMIT 0 0"), bulks())
        XCTAssertEqual(h.run("SORT nokey"), bulks())
    }

    func testNoSort() {
        let h = fixture()
        XCTAssertEqual(h.run("SORT l BY nosort"), bulks("3", "1", "2", "10", "-1"))
        XCTAssertEqual(h.run("SORT l BY nosort DESC"), bulks("-1", "10", "2", "1", "3"))
        XCTAssertEqual(h.run("SORT l BY nosort LIMIT 1 2 DESC"), bulks("10", "2"))
        XCTAssertEqual(h.run("SORT_RO l BY nosort"), bulks("3", "1", "2", "10", "-1"))
        XCTAssertEqual(h.run("SORT z BY nosort"), bulks("y", "w", "x"))
        XCTAssertEqual(h.run("SORT z BY nosort DESC LIMIT 1 1"), bulks("w"))
        XCTAssertEqual(h.run("SORT z BY nosort LIMIT 1 5"), bulks("w", "x"))
    }

    func testByAndGetPatterns() {
        let h = fixture()
        XCTAssertEqual(h.run("SORT l BY w_*"), bulks("-1", "10", "1", "2", "3"))
        XCTAssertEqual(h.run("SORT l BY w_* GET o_* GET #"),
                       bulks(nil, "-1", nil, "10", "a", "1", "b", "2", "c", "3"))
        XCTAssertEqual(h.run("SORT l BY w_* DESC LIMIT 0 2"), bulks("3", "2"))
        XCTAssertEqual(h.run("SORT l BY h_*->f GET h_*->g GET h_*->f"),
                       bulks(nil, nil, nil, nil, nil, "1", "x", "3", nil, "9"))
        // "->" with no field after it is part of the key name.
        XCTAssertEqual(h.run("SORT l BY h_*->"), bulks("-1", "1", "10", "2", "3"))
        XCTAssertEqual(h.run("SORT l GET nostar"), bulks(nil, nil, nil, nil, nil))
        // A BY/GET key of the wrong kind reads as missing.
        XCTAssertEqual(h.run("SORT l BY nosort GET l GET h_* LIMIT 0 1"), bulks(nil, nil))
        XCTAssertEqual(h.run("SORT l BY nosort GET w_*->f LIMIT 0 1"), bulks(nil))
    }

    func testAlpha() {
        let h = fixture()
        XCTAssertEqual(h.run("SORT alpha"), err("ERR One or more scores can't be converted into double"))
        XCTAssertEqual(h.run("SORT alpha ALPHA"), bulks("10", "a", "b", "c"))
        XCTAssertEqual(h.run("SORT alpha ALPHA DESC"), bulks("c", "b", "a", "10"))
        XCTAssertEqual(h.run("SORT s ALPHA"), bulks("a", "b", "c"))
        XCTAssertEqual(h.run("SORT s"), err("ERR One or more scores can't be converted into double"))
        XCTAssertEqual(h.run("SORT z"), err("ERR One or more scores can't be converted into double"))
        XCTAssertEqual(h.run("SORT z ALPHA DESC"), bulks("y", "x", "w"))
        // Missing BY values sort first, ties keep their order.
        XCTAssertEqual(h.run("SORT alpha BY w_* ALPHA"), bulks("b", "a", "c", "10"))
        XCTAssertEqual(h.run("SORT l BY o_* ALPHA"), bulks("10", "-1", "1", "2", "3"))
        XCTAssertEqual(h.run("SORT l BY o_*"), err("ERR One or more scores can't be converted into double"))
        XCTAssertEqual(h.run("SORT l ALPHA BY w_*"), bulks("-1", "1", "2", "3", "10"))
    }

    func testScoresAsRedisParsesThem() {
        let h = Harness()
        _ = try! h.server.keyspace(0).listPush(b("n"), ["1.5", "", " 2", "0x10", "-inf", "1e1"].map(b), at: .tail)
        // strtod: empty is 0, leading blanks and hex are accepted.
        XCTAssertEqual(h.run("SORT n"), bulks("-inf", "", "1.5", " 2", "1e1", "0x10"))
        _ = try! h.server.keyspace(0).listPush(b("bad"), ["1", "nan"].map(b), at: .tail)
        XCTAssertEqual(h.run("SORT bad"), err("ERR One or more scores can't be converted into double"))
        _ = try! h.server.keyspace(0).listPush(b("bad2"), ["1", "2x"].map(b), at: .tail)
        XCTAssertEqual(h.run("SORT bad2"), err("ERR One or more scores can't be converted into double"))
    }

    func testStore() {
        let h = fixture()
        XCTAssertEqual(h.run("SORT l STORE dst"), int(5))
        XCTAssertEqual(try h.server.keyspace(0).listRange(b("dst"), 0, -1), ["-1", "1", "2", "3", "10"].map(b))
        // A set sorted into STORE without sorting is sorted ALPHA, so replicas agree.
        XCTAssertEqual(h.run("SORT s BY nosort STORE dst2"), int(3))
        XCTAssertEqual(try h.server.keyspace(0).listRange(b("dst2"), 0, -1), ["a", "b", "c"].map(b))
        // Missing GET values are stored as empty strings.
        XCTAssertEqual(h.run("SORT l GET o_* STORE dst3"), int(5))
        XCTAssertEqual(try h.server.keyspace(0).listRange(b("dst3"), 0, -1), ["", "a", "b", "c", ""].map(b))
        // An empty result deletes the destination; the TTL of an overwritten destination goes.
        _ = h.run("SET ttl v EX 100")
        XCTAssertEqual(h.run("SORT l STORE ttl"), int(5))
        XCTAssertEqual(h.run("TTL ttl"), int(-1))
        XCTAssertEqual(h.run("SORT nokey STORE dst"), int(0))
        XCTAssertEqual(h.run("EXISTS dst"), int(0))
        XCTAssertEqual(h.effects, ["SORT l STORE dst", "SORT s BY nosort STORE dst2", "SORT l GET o_* STORE dst3",
                                   "SET ttl v PXAT \(h.clock.nowMillis() + 100_000)", "SORT l STORE ttl",
                                   "SORT nokey STORE dst"])
        // Nothing to delete: no change, nothing propagated.
        h.propagation.reset()
        XCTAssertEqual(h.run("SORT nokey STORE dst"), int(0))
        XCTAssertEqual(h.run("SORT l"), bulks("-1", "1", "2", "3", "10"))
        XCTAssertEqual(h.effects, [])
        XCTAssertEqual(h.run("SORT alpha STORE x"), err("ERR One or more scores can't be converted into double"))
        XCTAssertEqual(h.run("EXISTS x"), int(0))
    }

    func testErrors() {
        let h = fixture()
        XCTAssertEqual(h.run("SORT_RO l STORE x"), err("ERR syntax error"))
        XCTAssertEqual(h.run("SORT l LIMIT 1"), err("ERR syntax error"))
        XCTAssertEqual(h.run("SORT l LIMIT a b"), err("ERR value is not an integer or out of range"))
        XCTAssertEqual(h.run("SORT l foo"), err("ERR syntax error"))
        XCTAssertEqual(h.run("SORT w_1"), err("WRONGTYPE Operation against a key holding the wrong kind of value"))
        XCTAssertEqual(h.run("SORT h_1"), err("WRONGTYPE Operation against a key holding the wrong kind of value"))
        // Options are checked before the key.
        XCTAssertEqual(h.run("SORT w_1 LIMIT a 1"), err("ERR value is not an integer or out of range"))
        XCTAssertEqual(h.run("SORT"), err("ERR wrong number of arguments for 'sort' command"))
    }

    func testKeysAndNotifications() {
        let h = fixture()
        XCTAssertEqual(h.run("COMMAND GETKEYS SORT l BY w_* STORE a STORE b"), arr(bulk("l"), bulk("b")))
        XCTAssertEqual(h.run("COMMAND GETKEYS SORT_RO l"), arr(bulk("l")))
        let listener = h.connect()
        _ = h.run(["CONFIG", "SET", "notify-keyspace-events", "KEA"])
        _ = h.runAll("SUBSCRIBE __keyevent@0__:sortstore __keyevent@0__:del", as: listener)
        _ = h.run("SORT l STORE out")
        _ = h.run("SORT nokey STORE out")
        XCTAssertEqual(h.pushed(listener), [
            arr(bulk("message"), bulk("__keyevent@0__:sortstore"), bulk("out")),
            arr(bulk("message"), bulk("__keyevent@0__:del"), bulk("out")),
        ])
    }

    func testWatchedStoreDestination() {
        let h = fixture()
        let other = h.connect()
        _ = h.run("WATCH out")
        _ = h.run("SORT l STORE out", as: other)
        XCTAssertEqual(h.run("MULTI"), ok)
        XCTAssertEqual(h.run("EXEC"), .null)
    }
}
