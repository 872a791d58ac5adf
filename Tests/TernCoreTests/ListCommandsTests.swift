import NIOCore
import RESP
@testable import TernCore
import TernStorage
import XCTest

final class ListCommandsTests: XCTestCase {
    /// The exact reply bytes of one command (to tell `*-1` from `$-1`, `*0` and RESP3's `_`).
    func raw(_ h: Harness, _ line: String) -> String {
        let (client, context, _) = h.clients[0]
        let start = client.output.writerIndex
        _ = h.server.execute(context, line.split(separator: " ").map { ByteBuffer(string: String($0)) })
        var out = client.output
        out.moveReaderIndex(to: start)
        let s = out.readString(length: out.readableBytes) ?? ""
        client.output.clear()
        return s
    }

    func list(_ h: Harness, _ key: String) -> RESPValue? { h.run("LRANGE \(key) 0 -1") }

    func items(_ s: String...) -> RESPValue { .array(s.map { bulk($0) }) }

    let wrongType = err("WRONGTYPE Operation against a key holding the wrong kind of value")

    func testPushAndLength() {
        let h = Harness()
        XCTAssertEqual(h.run("LPUSH l a b c"), int(3))
        XCTAssertEqual(h.run("RPUSH l d e"), int(5))
        XCTAssertEqual(list(h, "l"), items("c", "b", "a", "d", "e"))
        XCTAssertEqual(h.run("LLEN l"), int(5))
        XCTAssertEqual(h.run("LLEN nokey"), int(0))
        XCTAssertEqual(h.run("LPUSHX nokey a"), int(0))
        XCTAssertEqual(h.run("RPUSHX nokey a"), int(0))
        XCTAssertEqual(h.run("EXISTS nokey"), int(0))
        XCTAssertEqual(h.run("LPUSHX l x y"), int(7))
        XCTAssertEqual(h.run("RPUSHX l z"), int(8))
        XCTAssertEqual(list(h, "l"), items("y", "x", "c", "b", "a", "d", "e", "z"))
        h.run("SET s v")
        for cmd in ["LPUSH s a", "RPUSH s a", "LPUSHX s a", "RPUSHX s a", "LLEN s", "LRANGE s 0 -1", "LINDEX s 0",
                    "LSET s 0 a", "LINSERT s BEFORE a b", "LREM s 0 a", "LTRIM s 0 1", "LPOS s a", "LPOP s",
                    "RPOP s 2", "LMOVE s l LEFT LEFT", "LMOVE l s LEFT LEFT", "RPOPLPUSH s l", "LMPOP 2 nokey s LEFT"] {
            XCTAssertEqual(h.run(cmd), wrongType, cmd)
        }
        XCTAssertEqual(h.run("LPUSH l"), err("ERR wrong number of arguments for 'lpush' command"))
        XCTAssertEqual(list(h, "l"), items("y", "x", "c", "b", "a", "d", "e", "z"), "WRONGTYPE moves nothing")
    }

    func testPopRepliesRESP2() {
        let h = Harness()
        h.run("RPUSH l a b c d")
        XCTAssertEqual(raw(h, "LPOP nokey"), "$-1\r\n")
        XCTAssertEqual(raw(h, "LPOP nokey 2"), "*-1\r\n", "a count on a missing key is a null array")
        XCTAssertEqual(raw(h, "LPOP nokey 0"), "*-1\r\n")
        XCTAssertEqual(raw(h, "LPOP l 0"), "*0\r\n")
        XCTAssertEqual(h.run("LPOP l"), bulk("a"))
        XCTAssertEqual(h.run("RPOP l"), bulk("d"))
        XCTAssertEqual(h.run("RPOP l 5"), items("c", "b"), "pop order, up to the length")
        XCTAssertEqual(h.run("EXISTS l"), int(0), "an emptied list is deleted")
        h.run("RPUSH l a b c")
        XCTAssertEqual(h.run("LPOP l 2"), items("a", "b"))
        XCTAssertEqual(h.run("LPOP l -1"), err("ERR value is out of range, must be positive"))
        XCTAssertEqual(h.run("LPOP l x"), err("ERR value is out of range, must be positive"))
        XCTAssertEqual(h.run("LPOP nokey x"), err("ERR value is out of range, must be positive"), "count parsed first")
        XCTAssertEqual(h.run("LPOP l 1 2"), err("ERR wrong number of arguments for 'lpop' command"))
        XCTAssertEqual(h.run("RPOP l 1 2"), err("ERR wrong number of arguments for 'rpop' command"))
    }

    func testPopRepliesRESP3() {
        let h = Harness()
        h.run("HELLO 3")
        XCTAssertEqual(raw(h, "LPOP nokey"), "_\r\n")
        XCTAssertEqual(raw(h, "RPOP nokey 3"), "_\r\n")
        XCTAssertEqual(raw(h, "LMPOP 1 nokey LEFT"), "_\r\n")
        XCTAssertEqual(raw(h, "LMOVE nokey d LEFT LEFT"), "_\r\n")
        XCTAssertEqual(raw(h, "LPOS nokey a"), "_\r\n")
        XCTAssertEqual(raw(h, "LINDEX nokey 0"), "_\r\n")
        h.run("RPUSH l a")
        XCTAssertEqual(raw(h, "LPOP l 0"), "*0\r\n")
        XCTAssertEqual(raw(h, "LMPOP 1 l RIGHT"), "*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n")
    }

    func testRangeIndexSet() {
        let h = Harness()
        h.run("RPUSH l a b c d e")
        XCTAssertEqual(h.run("LRANGE l 1 -2"), items("b", "c", "d"))
        XCTAssertEqual(h.run("LRANGE l -100 100"), items("a", "b", "c", "d", "e"))
        XCTAssertEqual(h.run("LRANGE l 3 1"), .array([]))
        XCTAssertEqual(h.run("LRANGE l 5 10"), .array([]))
        XCTAssertEqual(h.run("LRANGE nokey 0 -1"), .array([]))
        XCTAssertEqual(h.run("LRANGE nokey x 1"), err("ERR value is not an integer or out of range"))
        XCTAssertEqual(h.run("LINDEX l 0"), bulk("a"))
        XCTAssertEqual(h.run("LINDEX l -1"), bulk("e"))
        XCTAssertEqual(h.run("LINDEX l 5"), .null)
        XCTAssertEqual(h.run("LINDEX l -6"), .null)
        XCTAssertEqual(h.run("LINDEX l x"), err("ERR value is not an integer or out of range"))
        XCTAssertEqual(h.run("LINDEX nokey x"), .null, "the key is looked up before the index is parsed")
        XCTAssertEqual(h.run("LSET l 1 B"), ok)
        XCTAssertEqual(h.run("LSET l -1 E"), ok)
        XCTAssertEqual(h.run("LSET l 5 x"), err("ERR index out of range"))
        XCTAssertEqual(h.run("LSET l -6 x"), err("ERR index out of range"))
        XCTAssertEqual(h.run("LSET nokey 0 x"), err("ERR no such key"))
        XCTAssertEqual(h.run("LSET nokey x x"), err("ERR no such key"))
        XCTAssertEqual(h.run("LSET l x x"), err("ERR value is not an integer or out of range"))
        XCTAssertEqual(list(h, "l"), items("a", "B", "c", "d", "E"))
    }

    func testInsertRemoveTrim() {
        let h = Harness()
        h.run("RPUSH l a b a c a")
        XCTAssertEqual(h.run("LINSERT l BEFORE a x"), int(6))
        XCTAssertEqual(h.run("LINSERT l after c y"), int(7))
        XCTAssertEqual(h.run("LINSERT l BEFORE nope z"), int(-1))
        XCTAssertEqual(h.run("LINSERT nokey BEFORE a z"), int(0))
        XCTAssertEqual(h.run("LINSERT nokey MIDDLE a z"), err("ERR syntax error"))
        XCTAssertEqual(list(h, "l"), items("x", "a", "b", "a", "c", "y", "a"))
        XCTAssertEqual(h.run("LREM l -1 a"), int(1), "negative counts from the tail")
        XCTAssertEqual(list(h, "l"), items("x", "a", "b", "a", "c", "y"))
        XCTAssertEqual(h.run("LREM l 1 a"), int(1))
        XCTAssertEqual(list(h, "l"), items("x", "b", "a", "c", "y"))
        XCTAssertEqual(h.run("LREM l 0 zz"), int(0))
        XCTAssertEqual(h.run("LREM nokey 0 a"), int(0))
        XCTAssertEqual(h.run("LREM l x a"), err("ERR value is not an integer or out of range"))
        h.run("RPUSH m a a a")
        XCTAssertEqual(h.run("LREM m 0 a"), int(3))
        XCTAssertEqual(h.run("EXISTS m"), int(0))
        XCTAssertEqual(h.run("LTRIM l 1 -2"), ok)
        XCTAssertEqual(list(h, "l"), items("b", "a", "c"))
        XCTAssertEqual(h.run("LTRIM l -100 100"), ok)
        XCTAssertEqual(list(h, "l"), items("b", "a", "c"))
        XCTAssertEqual(h.run("LTRIM nokey 0 1"), ok)
        XCTAssertEqual(h.run("LTRIM l x 1"), err("ERR value is not an integer or out of range"))
        XCTAssertEqual(h.run("LTRIM l 2 1"), ok)
        XCTAssertEqual(h.run("EXISTS l"), int(0), "an empty range deletes the list")
    }

    func testLpos() {
        let h = Harness()
        h.run("RPUSH l a b c 1 2 3 c c")
        XCTAssertEqual(h.run("LPOS l c"), int(2))
        XCTAssertEqual(h.run("LPOS l c RANK 2"), int(6))
        XCTAssertEqual(h.run("LPOS l c RANK -1"), int(7))
        XCTAssertEqual(h.run("LPOS l c RANK -3"), int(2))
        XCTAssertEqual(h.run("LPOS l c RANK 4"), .null)
        XCTAssertEqual(h.run("LPOS l c COUNT 0"), .array([int(2), int(6), int(7)]))
        XCTAssertEqual(h.run("LPOS l c COUNT 2"), .array([int(2), int(6)]))
        XCTAssertEqual(h.run("LPOS l c COUNT 2 RANK -1"), .array([int(7), int(6)]))
        XCTAssertEqual(h.run("LPOS l c COUNT 0 MAXLEN 7"), .array([int(2), int(6)]))
        XCTAssertEqual(h.run("LPOS l c RANK -1 MAXLEN 1"), int(7))
        XCTAssertEqual(h.run("LPOS l a RANK -1 MAXLEN 2"), .null)
        XCTAssertEqual(h.run("LPOS l zz COUNT 1"), .array([]))
        XCTAssertEqual(h.run("LPOS nokey a COUNT 1"), .array([]))
        XCTAssertEqual(h.run("LPOS nokey a"), .null)
        XCTAssertEqual(h.run("LPOS l c RANK 0"), err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"))
        XCTAssertEqual(h.run("LPOS l c RANK x"), err("ERR value is not an integer or out of range"))
        XCTAssertEqual(h.run("LPOS l c COUNT -1"), err("ERR COUNT can't be negative"))
        XCTAssertEqual(h.run("LPOS l c COUNT x"), err("ERR COUNT can't be negative"))
        XCTAssertEqual(h.run("LPOS l c MAXLEN -1"), err("ERR MAXLEN can't be negative"))
        XCTAssertEqual(h.run("LPOS l c MAXLEN"), err("ERR syntax error"))
        XCTAssertEqual(h.run("LPOS l c FOO 1"), err("ERR syntax error"))
        // 7.0.15 takes RANK LONG_MIN: it stays negative when negated, so every match from the tail qualifies.
        XCTAssertEqual(h.run("LPOS l c RANK -9223372036854775808 COUNT 1"), .array([int(7), int(6), int(2)]))
        // Past the scan's chunk size.
        h.run(["RPUSH", "big"] + (0..<700).map { $0 % 300 == 299 ? "m" : "e\($0)" })
        XCTAssertEqual(h.run("LPOS big m COUNT 0"), .array([int(299), int(599)]))
        XCTAssertEqual(h.run("LPOS big m RANK -1 COUNT 0"), .array([int(599), int(299)]))
        XCTAssertEqual(h.run("LPOS big m MAXLEN 400 RANK -1"), int(599))
        XCTAssertEqual(h.run("LPOS big m MAXLEN 100 RANK -1"), .null)
    }

    func testMoveAndRpoplpush() {
        let h = Harness()
        h.run("RPUSH src a b c")
        XCTAssertEqual(h.run("LMOVE src dst LEFT RIGHT"), bulk("a"))
        XCTAssertEqual(h.run("LMOVE src dst right left"), bulk("c"))
        XCTAssertEqual(list(h, "dst"), items("c", "a"))
        XCTAssertEqual(h.run("RPOPLPUSH src dst"), bulk("b"))
        XCTAssertEqual(h.run("EXISTS src"), int(0))
        XCTAssertEqual(list(h, "dst"), items("b", "c", "a"))
        XCTAssertEqual(h.run("RPOPLPUSH dst dst"), bulk("a"), "rotation")
        XCTAssertEqual(list(h, "dst"), items("a", "b", "c"))
        XCTAssertEqual(h.run("LMOVE dst dst LEFT RIGHT"), bulk("a"))
        XCTAssertEqual(list(h, "dst"), items("b", "c", "a"))
        XCTAssertEqual(h.run("LMOVE nokey dst LEFT RIGHT"), .null)
        XCTAssertEqual(h.run("LMOVE dst x UP RIGHT"), err("ERR syntax error"))
        XCTAssertEqual(h.run("LMOVE nokey x LEFT DOWN"), err("ERR syntax error"))
        h.run("SET s v")
        XCTAssertEqual(h.run("LMOVE nokey s LEFT LEFT"), .null, "a missing source replies nil before the destination check")
        XCTAssertEqual(h.run("RPOPLPUSH dst s"), wrongType)
        h.run("RPUSH one z")
        XCTAssertEqual(h.run("LMOVE one one LEFT LEFT"), bulk("z"))
        XCTAssertEqual(list(h, "one"), items("z"))
    }

    func testLmpop() {
        let h = Harness()
        h.run("RPUSH b 1 2 3")
        XCTAssertEqual(h.run("LMPOP 2 a b LEFT"), .array([bulk("b"), items("1")]))
        XCTAssertEqual(h.run("LMPOP 2 a b RIGHT COUNT 5"), .array([bulk("b"), items("3", "2")]))
        XCTAssertEqual(h.run("LMPOP 2 a b RIGHT"), .null)
        XCTAssertEqual(h.run("LMPOP 0 a LEFT"), err("ERR numkeys should be greater than 0"))
        XCTAssertEqual(h.run("LMPOP x a LEFT"), err("ERR numkeys should be greater than 0"))
        XCTAssertEqual(h.run("LMPOP 2 a LEFT"), err("ERR syntax error"))
        XCTAssertEqual(h.run("LMPOP 9223372036854775807 a LEFT"), err("ERR syntax error"))
        XCTAssertEqual(h.run("LMPOP 1 a UP"), err("ERR syntax error"))
        XCTAssertEqual(h.run("LMPOP 1 a LEFT COUNT 0"), err("ERR count should be greater than 0"))
        XCTAssertEqual(h.run("LMPOP 1 a LEFT COUNT x"), err("ERR count should be greater than 0"))
        XCTAssertEqual(h.run("LMPOP 1 a LEFT COUNT 1 COUNT 1"), err("ERR syntax error"))
        XCTAssertEqual(h.run("LMPOP 1 a LEFT COUNT"), err("ERR syntax error"))
        h.run("SET s v")
        h.run("RPUSH c x")
        XCTAssertEqual(h.run("LMPOP 2 s c LEFT"), wrongType, "WRONGTYPE on the first existing key")
        XCTAssertEqual(h.run("LMPOP 2 c s LEFT"), .array([bulk("c"), items("x")]))
        XCTAssertEqual(h.run("COMMAND GETKEYS LMPOP 2 a b LEFT COUNT 1"), items("a", "b"))
    }

    func testEffects() {
        let h = Harness()
        h.run("RPUSH l a b c d e")
        h.run("LPUSHX nokey a")          // nothing
        h.run("LPOP l")
        h.run("RPOP l 2")
        h.run("LPOP l 0")                // nothing
        h.run("LPOP nokey 3")            // nothing
        h.run("LSET l 0 B")
        h.run("LINSERT l AFTER B x")
        h.run("LINSERT l AFTER nope x")  // nothing
        h.run("LREM l 0 nope")           // nothing
        h.run("LREM l 1 x")
        h.run("LTRIM l 0 -1")            // nothing removed: nothing propagated
        h.run("RPUSH l f g")
        h.run("LTRIM l 1 -1")
        h.run("LMPOP 2 nokey l LEFT COUNT 10")
        h.run("RPUSH m 1 2")
        h.run("LMOVE m n left RIGHT")
        h.run("RPOPLPUSH m n")
        h.run("RPOPLPUSH m n")           // nothing
        h.run("LMPOP 1 n RIGHT")
        XCTAssertEqual(h.effects, [
            "RPUSH l a b c d e", "LPOP l", "RPOP l 2", "LSET l 0 B", "LINSERT l AFTER B x", "LREM l 1 x",
            "RPUSH l f g", "LTRIM l 1 -1", "LPOP l 3", "RPUSH m 1 2", "LMOVE m n left RIGHT", "RPOPLPUSH m n",
            "RPOP n 1",
        ])
    }

    func testSharedPopAndMoveHelpers() throws {
        let h = Harness()
        h.run("RPUSH l a b c")
        let ctx = h.clients[0].1
        XCTAssertEqual(try ListCommands.popFromList(ctx, key: Bytes(Array("l".utf8)), end: .tail, count: 2),
                       [Bytes(Array("c".utf8)), Bytes(Array("b".utf8))])
        XCTAssertEqual(try ListCommands.popFromList(ctx, key: Bytes(Array("nokey".utf8)), end: .tail, count: 2), [])
        XCTAssertEqual(h.effects.last, "RPOP l 2")
        h.run("SET s v")
        XCTAssertThrowsError(try ListCommands.popFromList(ctx, key: Bytes(Array("s".utf8)), end: .head, count: 1))
        XCTAssertEqual(try ListCommands.move(ctx, source: Bytes(Array("l".utf8)), destination: Bytes(Array("d".utf8)),
                                             from: .head, to: .head), Bytes(Array("a".utf8)))
        XCTAssertEqual(h.effects.last, "LMOVE l d LEFT LEFT", "outside LMOVE/RPOPLPUSH the move is spelled out")
        XCTAssertNil(try ListCommands.move(ctx, source: Bytes(Array("l".utf8)), destination: Bytes(Array("d".utf8)),
                                           from: .head, to: .head))
        XCTAssertEqual(h.run("LRANGE d 0 -1"), items("a"))
        XCTAssertEqual(h.run("EXISTS l"), int(0))
    }

    func testWatchAndExpiry() {
        let h = Harness()
        h.run("RPUSH l a b")
        h.run("PEXPIRE l 1000")
        h.clock.advance(millis: 2000)
        XCTAssertEqual(h.run("LLEN l"), int(0))
        XCTAssertEqual(h.run("RPUSHX l a"), int(0))
        h.run("RPUSH l a b")
        h.run("PEXPIRE l 1000")
        XCTAssertEqual(h.run("LPOP l"), bulk("a"))
        XCTAssertEqual(h.run("PTTL l"), int(1000), "element writes keep the expiry")
        // A failed LINSERT doesn't touch the key for WATCH.
        h.run("WATCH l")
        h.run("LINSERT l BEFORE nope x")
        h.run("MULTI")
        h.run("LLEN l")
        XCTAssertEqual(h.run("EXEC"), .array([int(1)]))
    }

    // MARK: keyspace events

    func listening(_ flags: String) -> (Harness, Int) {
        let h = Harness()
        let listener = h.connect()
        XCTAssertEqual(h.run(["CONFIG", "SET", "notify-keyspace-events", flags]), ok)
        _ = h.runAll("PSUBSCRIBE __keyevent*", as: listener)
        return (h, listener)
    }

    func events(_ h: Harness, _ listener: Int) -> [String] {
        h.pushed(listener).compactMap { value in
            guard case .array(let items) = value, items.count == 4,
                  case .bulk(let channel) = items[2], case .bulk(let payload) = items[3] else { return nil }
            let c = String(decoding: channel, as: UTF8.self)
            return c.replacingOccurrences(of: "__keyevent@0__:", with: "") + " " + String(decoding: payload, as: UTF8.self)
        }
    }

    func testListEvents() {
        let (h, l) = listening("KEA")
        h.run("RPUSH l a b c")
        h.run("LPUSHX l z")
        h.run("LPUSHX nokey z")
        h.run("LINSERT l BEFORE a y")
        h.run("LINSERT l BEFORE nope y")
        h.run("LSET l 0 Z")
        h.run("LREM l 1 y")
        h.run("LTRIM l 0 -1")
        h.run("LPOP l 2")
        h.run("LMOVE l m RIGHT LEFT")
        h.run("RPOPLPUSH l m")
        h.run("LMPOP 1 m LEFT COUNT 5")
        XCTAssertEqual(events(h, l), [
            "rpush l", "lpush l", "linsert l", "lset l", "lrem l", "ltrim l", "lpop l",
            "lpush m", "rpop l", "lpush m", "rpop l", "del l", "lpop m", "del m",
        ])
    }

    func testNewAndTrimDelEvents() {
        let (h, l) = listening("KEAn")
        h.run("RPUSH l a b")
        h.run("LTRIM l 5 6")
        h.run("RPUSH l a a")
        h.run("LREM l 0 a")
        XCTAssertEqual(events(h, l), ["new l", "rpush l", "ltrim l", "del l", "new l", "rpush l", "lrem l", "del l"])
    }
}
