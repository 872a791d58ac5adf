import NIOCore
import RESP
@testable import TernCore
import TernStorage
import XCTest

final class NotificationTests: XCTestCase {
    /// A harness whose client 1 listens to every keyspace channel; client 0 runs commands.
    func listening(_ flags: String) -> (Harness, Int) {
        let h = Harness()
        let listener = h.connect()
        XCTAssertEqual(h.run(["CONFIG", "SET", "notify-keyspace-events", flags]), ok)
        _ = h.runAll("PSUBSCRIBE __key*", as: listener)
        return (h, listener)
    }

    /// The (channel, payload) pairs received.
    func events(_ h: Harness, _ listener: Int) -> [String] {
        h.pushed(listener).map { value in
            guard case .array(let items) = value, items.count == 4,
                  case .bulk(let channel) = items[2], case .bulk(let payload) = items[3] else { return "?" }
            return String(decoding: channel, as: UTF8.self) + " " + String(decoding: payload, as: UTF8.self)
        }
    }

    func testConfigRendering() {
        let h = Harness()
        let cases: [(String, String)] = [
            ("KEA", "AKE"), ("Ex", "xE"), ("g$lshzxetdnKEm", "AKEm"), ("A", "A"), ("g$lshzxetd", "A"),
            ("g$lshzxet", "g$lshzxet"), ("n", "n"), ("Ad", "A"), ("", ""), ("KA", "AK"), ("xKE", "xKE"),
            ("mEK", "KEm"), ("ddd", "d"),
        ]
        for (input, shown) in cases {
            XCTAssertEqual(h.run(["CONFIG", "SET", "notify-keyspace-events", input]), ok, input)
            XCTAssertEqual(h.run("CONFIG GET notify-keyspace-events"), arr(bulk("notify-keyspace-events"), bulk(shown)), input)
        }
        XCTAssertEqual(h.run(["CONFIG", "SET", "notify-keyspace-events", "Q"]),
                       err("ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'."))
        let config = ServerConfig()
        try! ConfigRegistry.lookup("notify-keyspace-events")!.set(config, ["Ex"])
        XCTAssertTrue(ConfigRegistry.rewrite(existing: nil, config: config).contains("notify-keyspace-events \"xE\"\n"))
    }

    func testNothingWithoutChannelsOrClasses() {
        var (h, l) = listening("A")   // classes but neither K nor E
        _ = h.run("SET k v")
        XCTAssertEqual(events(h, l), [])
        (h, l) = listening("K$")
        _ = h.run("DEL k")   // generic class not enabled
        _ = h.run("SET k v")
        XCTAssertEqual(events(h, l), ["__keyspace@0__:k set"])
    }

    func testStringAndGenericEvents() {
        let (h, l) = listening("KEA")
        _ = h.run("SET k v EX 100")
        XCTAssertEqual(events(h, l), ["__keyspace@0__:k set", "__keyevent@0__:set k",
                                     "__keyspace@0__:k expire", "__keyevent@0__:expire k"])
        _ = h.run("INCRBYFLOAT n 1.5")
        _ = h.run("INCR i")
        _ = h.run("DECRBY i 3")
        _ = h.run("APPEND a x")
        _ = h.run("SETRANGE a 5 y")
        _ = h.run(["SETRANGE", "a", "0", ""])   // no change, no event
        XCTAssertEqual(events(h, l).filter { $0.hasPrefix("__keyevent") }, [
            "__keyevent@0__:incrbyfloat n", "__keyevent@0__:incrby i", "__keyevent@0__:incrby i",
            "__keyevent@0__:append a", "__keyevent@0__:setrange a",
        ])
        _ = h.run("RENAME k k2")
        XCTAssertEqual(events(h, l), ["__keyspace@0__:k rename_from", "__keyevent@0__:rename_from k",
                                     "__keyspace@0__:k2 rename_to", "__keyevent@0__:rename_to k2"])
        _ = h.run("MOVE k2 3")
        XCTAssertEqual(events(h, l), ["__keyspace@0__:k2 move_from", "__keyevent@0__:move_from k2",
                                     "__keyspace@3__:k2 move_to", "__keyevent@3__:move_to k2"])
        _ = h.run("COPY a a2 DB 2")
        XCTAssertEqual(events(h, l), ["__keyspace@2__:a2 copy_to", "__keyevent@2__:copy_to a2"])
        _ = h.run("EXPIRE a 100")
        _ = h.run("PERSIST a")
        _ = h.run("PERSIST a")
        _ = h.run("EXPIREAT a 1")
        _ = h.run("DEL i n missing")
        XCTAssertEqual(events(h, l).filter { $0.hasPrefix("__keyevent") }, [
            "__keyevent@0__:expire a", "__keyevent@0__:persist a", "__keyevent@0__:del a",
            "__keyevent@0__:del i", "__keyevent@0__:del n",
        ])
        _ = h.run("MSET x 1 y 2")
        _ = h.run("GETSET x 3")
        _ = h.run("GETDEL y")
        _ = h.run("GETEX x EX 10")
        _ = h.run("GETEX x PERSIST")
        _ = h.run("GETEX x PXAT 1")
        XCTAssertEqual(events(h, l).filter { $0.hasPrefix("__keyevent") }, [
            "__keyevent@0__:set x", "__keyevent@0__:set y", "__keyevent@0__:set x", "__keyevent@0__:del y",
            "__keyevent@0__:expire x", "__keyevent@0__:persist x", "__keyevent@0__:del x",
        ])
    }

    func testHashAndSetEvents() {
        let (h, l) = listening("EA")
        _ = h.run("HSET h a 1 b 2")
        _ = h.run("HSETNX h a 9")      // nothing set
        _ = h.run("HSETNX h z 9")
        _ = h.run("HDEL h nope")       // nothing deleted
        _ = h.run("HINCRBY h a 5")
        _ = h.run("HINCRBYFLOAT h a 1.5")
        _ = h.run("HDEL h a b z")      // empties the hash
        XCTAssertEqual(events(h, l), [
            "__keyevent@0__:hset h", "__keyevent@0__:hset h", "__keyevent@0__:hincrby h",
            "__keyevent@0__:hincrbyfloat h", "__keyevent@0__:hdel h", "__keyevent@0__:del h",
        ])
        _ = h.run("SADD s a b c")
        _ = h.run("SADD s a")
        _ = h.run("SREM s x")
        _ = h.run("SREM s a")
        _ = h.run("SMOVE s t b")
        _ = h.run("SMOVE s t c")       // empties s
        XCTAssertEqual(events(h, l), [
            "__keyevent@0__:sadd s", "__keyevent@0__:srem s", "__keyevent@0__:srem s", "__keyevent@0__:sadd t",
            "__keyevent@0__:srem s", "__keyevent@0__:del s", "__keyevent@0__:sadd t",
        ])
        _ = h.run("SADD p 1 2 3")
        _ = events(h, l)
        _ = h.run("SPOP p 0")
        _ = h.run("SPOP p")
        _ = h.run("SPOP p 10")
        XCTAssertEqual(events(h, l), ["__keyevent@0__:spop p", "__keyevent@0__:spop p", "__keyevent@0__:del p"])
        _ = h.run("SADD s1 a b")
        _ = h.run("SADD s2 b c")
        _ = events(h, l)
        _ = h.run("SINTERSTORE d s1 s2")
        _ = h.run("SINTERSTORE d s1 nokey")
        _ = h.run("SUNIONSTORE d s1 s2")
        _ = h.run("SDIFFSTORE d s1 s1")
        _ = h.run("SDIFFSTORE d s1 s1")  // nothing to delete
        _ = h.run("SDIFFSTORE d s1 s2")
        XCTAssertEqual(events(h, l), [
            "__keyevent@0__:sinterstore d", "__keyevent@0__:del d", "__keyevent@0__:sunionstore d",
            "__keyevent@0__:del d", "__keyevent@0__:sdiffstore d",
        ])
    }

    func testSortedSetEvents() {
        let (h, l) = listening("Ez")
        _ = h.run("ZADD z 1 a 2 b 3 c")
        _ = h.run("ZADD z 1 a")          // no change, no event
        _ = h.run("ZADD z INCR 1 a")
        _ = h.run("ZINCRBY z 0 a")       // score unchanged
        _ = h.run("ZINCRBY z 2 a")
        _ = h.run("ZREM z nope")
        _ = h.run("ZREM z a")
        _ = h.run("ZREMRANGEBYRANK z 0 0")
        _ = h.run("ZREMRANGEBYSCORE z 100 200")
        _ = h.run("ZPOPMAX z")
        XCTAssertEqual(events(h, l), [
            "__keyevent@0__:zadd z", "__keyevent@0__:zincr z", "__keyevent@0__:zincr z", "__keyevent@0__:zrem z",
            "__keyevent@0__:zremrangebyrank z", "__keyevent@0__:zpopmax z",
        ])
        // Generic "del" when emptied, and the STORE forms.
        _ = h.run(["CONFIG", "SET", "notify-keyspace-events", "Ezg"])
        _ = h.run("ZADD z 1 a 2 b")
        _ = h.run("ZUNIONSTORE d 1 z")
        _ = h.run("ZINTERSTORE d 2 z nokey")
        _ = h.run("ZDIFFSTORE d 1 z")
        _ = h.run("ZRANGESTORE d z 0 0")
        _ = h.run("ZPOPMIN z 5")
        XCTAssertEqual(events(h, l), [
            "__keyevent@0__:zadd z", "__keyevent@0__:zunionstore d", "__keyevent@0__:del d",
            "__keyevent@0__:zdiffstore d", "__keyevent@0__:zrangestore d", "__keyevent@0__:zpopmin z",
            "__keyevent@0__:del z",
        ])
    }

    func testExpiredEventsLazyAndActive() {
        let (h, l) = listening("Ex")
        _ = h.run("SET a v PX 100")
        _ = h.run("SET b v PX 100")
        _ = h.run("SET c v PX 100")
        h.clock.advance(millis: 200)
        XCTAssertEqual(h.run("GET a"), .null)
        XCTAssertEqual(events(h, l), ["__keyevent@0__:expired a"])
        // Overwriting an expired key reports its expiry too.
        _ = h.run("SET b w")
        XCTAssertEqual(events(h, l), ["__keyevent@0__:expired b"])
        XCTAssertEqual(h.server.activeExpireCycle(), 1)
        XCTAssertEqual(events(h, l), ["__keyevent@0__:expired c"])
    }

    func testNewAndKeyMiss() {
        let (h, l) = listening("KEnm")
        _ = h.run("SET k v")
        _ = h.run("SET k w")
        XCTAssertEqual(events(h, l), ["__keyspace@0__:k new", "__keyevent@0__:new k"])
        _ = h.run("GET nope")
        XCTAssertEqual(events(h, l), ["__keyspace@0__:nope keymiss", "__keyevent@0__:keymiss nope"])
        _ = h.run("APPEND fresh x")
        XCTAssertEqual(events(h, l), ["__keyspace@0__:fresh new", "__keyevent@0__:new fresh"])
        // New collections made through the element API.
        _ = try? h.server.keyspace(0).listPush(Bytes("l"), [Bytes("a")], at: .tail)
        _ = try? h.server.keyspace(0).listPush(Bytes("l"), [Bytes("b")], at: .tail)
        XCTAssertEqual(events(h, l), ["__keyspace@0__:l new", "__keyevent@0__:new l"])
    }

    func testEventsInOtherDatabaseAndSelfDelivery() {
        let h = Harness()
        _ = h.run(["CONFIG", "SET", "notify-keyspace-events", "E$"])
        _ = h.run("HELLO 3")
        _ = h.runAll("SUBSCRIBE __keyevent@5__:set")
        _ = h.run("SELECT 5")
        // The client's own event reaches it in its reply stream, before the reply.
        XCTAssertEqual(h.runAll("SET k v"), [push(bulk("message"), bulk("__keyevent@5__:set"), bulk("k")), ok])
    }

    func testNotifyAPI() {
        let (h, l) = listening("Kh")
        let ctx = CommandContext(server: h.server, client: h.client(0))
        ctx.notify(.hash, "hset", Bytes("h"))
        ctx.notify(.list, "lpush", Bytes("x"))   // class not enabled
        XCTAssertEqual(events(h, l), ["__keyspace@0__:h hset"])
    }
}
