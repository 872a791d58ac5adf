import NIOCore
import RESP
import TernCore
import TernStorage
import XCTest

final class SetCommandsTests: XCTestCase {
    let t0: Int64 = 1_700_000_000_000
    let wrongType = err("WRONGTYPE Operation against a key holding the wrong kind of value")
    let syntax = err("ERR syntax error")
    let notInt = err("ERR value is not an integer or out of range")

    private func int(_ i: Int64) -> RESPValue { .integer(i) }

    /// The members of an array or set reply, as strings, sorted.
    private func members(_ v: RESPValue?) -> [String] {
        switch v {
        case .array(let items)?, .set(let items)?:
            return items.map { item -> String in
                guard case .bulk(let b) = item else { return "?" }
                return String(decoding: b, as: UTF8.self)
            }.sorted()
        default: return ["<not a collection: \(String(describing: v))>"]
        }
    }

    private func exists(_ h: Harness, _ key: String) -> Bool {
        h.engine.database(0).lookup(Bytes(key), touch: nil) != nil
    }

    // MARK: SADD SREM SISMEMBER SMISMEMBER SCARD

    func testAddRemoveAndMembership() {
        let h = Harness()
        XCTAssertEqual(h.run("SADD s a b a c"), int(3))
        XCTAssertEqual(h.run("SADD s a d"), int(1))
        XCTAssertEqual(h.run("SCARD s"), int(4))
        XCTAssertEqual(h.run("SCARD nokey"), int(0))
        XCTAssertEqual(h.run("SISMEMBER s a"), int(1))
        XCTAssertEqual(h.run("SISMEMBER s z"), int(0))
        XCTAssertEqual(h.run("SISMEMBER nokey z"), int(0))
        XCTAssertEqual(h.run("SMISMEMBER s a z d"), .array([int(1), int(0), int(1)]))
        XCTAssertEqual(h.run("SMISMEMBER nokey a b"), .array([int(0), int(0)]))
        XCTAssertEqual(h.run("SREM s a a z"), int(1))
        XCTAssertEqual(h.run("SREM nokey a"), int(0))
        XCTAssertEqual(h.run("SREM s b c d"), int(3))
        XCTAssertFalse(exists(h, "s"), "an emptied set is deleted")
        XCTAssertEqual(h.run("SADD s"), err("ERR wrong number of arguments for 'sadd' command"))
        XCTAssertEqual(h.run("SMISMEMBER s"), err("ERR wrong number of arguments for 'smismember' command"))
        XCTAssertEqual(h.effects, ["SADD s a b a c", "SADD s a d", "SREM s a a z", "SREM s b c d"],
                       "writes that change nothing don't propagate")
    }

    func testWrongType() {
        let h = Harness()
        h.run("SET str x")
        for line in ["SADD str a", "SREM str a", "SISMEMBER str a", "SMISMEMBER str a", "SCARD str", "SMEMBERS str",
                     "SRANDMEMBER str", "SRANDMEMBER str 0", "SPOP str", "SPOP str 0", "SINTER str",
                     "SINTER nokey str", "SUNION nokey str", "SDIFF nokey str", "SINTERCARD 2 nokey str",
                     "SINTERSTORE d nokey str", "SSCAN str 0", "SMOVE str s a"] {
            XCTAssertEqual(h.run(line), wrongType, line)
        }
        // SMOVE: a missing source answers 0 before the destination's type is looked at.
        XCTAssertEqual(h.run("SMOVE nokey str a"), int(0))
        h.run("SADD s a")
        XCTAssertEqual(h.run("SMOVE s str a"), wrongType)
        XCTAssertEqual(h.run("SMOVE s str zz"), wrongType)
    }

    // MARK: SMEMBERS and the algebra

    func testMembersAndIntsetOrder() {
        let h = Harness()
        h.run("SADD n 5 3 -7 100 1")
        // Integer sets reply in ascending order, as Redis's intsets do.
        XCTAssertEqual(h.run("SMEMBERS n"), .array(["-7", "1", "3", "5", "100"].map(bulk)))
        XCTAssertEqual(h.run("SMEMBERS nokey"), .array([]))
        h.run("HELLO 3")
        XCTAssertEqual(h.run("SMEMBERS n"), .set(["-7", "1", "3", "5", "100"].map(bulk)))
        XCTAssertEqual(h.run("SMEMBERS nokey"), .set([]))
        XCTAssertEqual(h.run("SUNION n nokey"), .set(["-7", "1", "3", "5", "100"].map(bulk)))
    }

    func testInterUnionDiff() {
        let h = Harness()
        h.run("SADD a 1 2 3 x y")
        h.run("SADD b 2 3 4 y")
        h.run("SADD c 3 y z")
        XCTAssertEqual(members(h.run("SINTER a b c")), ["3", "y"])
        XCTAssertEqual(members(h.run("SINTER a a")), ["1", "2", "3", "x", "y"])
        XCTAssertEqual(members(h.run("SINTER a nokey")), [])
        XCTAssertEqual(members(h.run("SUNION a b c nokey")), ["1", "2", "3", "4", "x", "y", "z"])
        XCTAssertEqual(members(h.run("SDIFF a b")), ["1", "x"])
        XCTAssertEqual(members(h.run("SDIFF a b c")), ["1", "x"])
        XCTAssertEqual(members(h.run("SDIFF a nokey")), ["1", "2", "3", "x", "y"])
        XCTAssertEqual(members(h.run("SDIFF nokey a")), [])
        XCTAssertEqual(members(h.run("SDIFF a b a")), [], "the first set subtracted from itself")
        XCTAssertEqual(h.run("SINTERCARD 3 a b c"), int(2))
        XCTAssertEqual(h.run("SINTERCARD 1 a LIMIT 2"), int(2))
        XCTAssertEqual(h.run("SINTERCARD 1 a LIMIT 0"), int(5))
        XCTAssertEqual(h.run("SINTERCARD 1 a limit 10"), int(5))
        XCTAssertEqual(h.run("SINTERCARD 2 a nokey"), int(0))
        XCTAssertEqual(h.effects.filter { !$0.hasPrefix("SADD") }, [], "reads propagate nothing")
    }

    func testIntercardErrors() {
        let h = Harness()
        h.run("SADD s a")
        XCTAssertEqual(h.run("SINTERCARD 0 s"), err("ERR numkeys should be greater than 0"))
        XCTAssertEqual(h.run("SINTERCARD x s"), err("ERR numkeys should be greater than 0"))
        XCTAssertEqual(h.run("SINTERCARD -1 s"), err("ERR numkeys should be greater than 0"))
        XCTAssertEqual(h.run("SINTERCARD 2 s"), err("ERR Number of keys can't be greater than number of args"))
        XCTAssertEqual(h.run("SINTERCARD 1 s LIMIT"), syntax)
        XCTAssertEqual(h.run("SINTERCARD 1 s FOO 1"), syntax)
        XCTAssertEqual(h.run("SINTERCARD 1 s s"), syntax)
        XCTAssertEqual(h.run("SINTERCARD 1 s LIMIT -1"), err("ERR LIMIT can't be negative"))
        XCTAssertEqual(h.run("SINTERCARD 1 s LIMIT x"), err("ERR LIMIT can't be negative"))
        XCTAssertEqual(h.run("COMMAND GETKEYS SINTERCARD 2 a b LIMIT 1"), .array([bulk("a"), bulk("b")]))
    }

    func testStoreCommands() {
        let h = Harness()
        h.run("SADD a 1 2 3")
        h.run("SADD b 2 3 4")
        h.run("SET d x")
        h.run("EXPIRE d 100")
        // The result replaces whatever was there, TTL included.
        XCTAssertEqual(h.run("SINTERSTORE d a b"), int(2))
        XCTAssertEqual(members(h.run("SMEMBERS d")), ["2", "3"])
        XCTAssertEqual(h.run("TTL d"), int(-1))
        XCTAssertEqual(h.run("SUNIONSTORE u a b"), int(4))
        XCTAssertEqual(members(h.run("SMEMBERS u")), ["1", "2", "3", "4"])
        XCTAssertEqual(h.run("SDIFFSTORE df a b"), int(1))
        XCTAssertEqual(members(h.run("SMEMBERS df")), ["1"])
        // The destination may be a source.
        XCTAssertEqual(h.run("SUNIONSTORE a a b"), int(4))
        // An empty result deletes the destination; when there was none nothing happens (nor propagates).
        XCTAssertEqual(h.run("SINTERSTORE df a nokey"), int(0))
        XCTAssertFalse(exists(h, "df"))
        XCTAssertEqual(h.run("SDIFFSTORE none a a"), int(0))
        XCTAssertEqual(h.run("SDIFFSTORE u a u"), int(0))
        XCTAssertFalse(exists(h, "u"))
        XCTAssertEqual(h.effects, [
            "SADD a 1 2 3", "SADD b 2 3 4", "SET d x", "PEXPIREAT d 1700000100000",
            "SINTERSTORE d a b", "SUNIONSTORE u a b", "SDIFFSTORE df a b", "SUNIONSTORE a a b",
            "SINTERSTORE df a nokey", "SDIFFSTORE u a u",
        ])
    }

    // MARK: SMOVE

    func testMove() {
        let h = Harness()
        h.run("SADD src a b")
        h.run("SADD dst b")
        XCTAssertEqual(h.run("SMOVE src dst a"), int(1))
        XCTAssertEqual(members(h.run("SMEMBERS dst")), ["a", "b"])
        XCTAssertEqual(h.run("SMOVE src dst zz"), int(0))
        XCTAssertEqual(h.run("SMOVE src src b"), int(1), "same set: membership only")
        XCTAssertEqual(h.run("SMOVE src src zz"), int(0))
        XCTAssertEqual(h.run("SMOVE src dst b"), int(1), "already in the destination: still 1")
        XCTAssertFalse(exists(h, "src"), "the emptied source is deleted")
        XCTAssertEqual(h.run("SMOVE dst fresh a"), int(1))
        XCTAssertEqual(members(h.run("SMEMBERS fresh")), ["a"])
        XCTAssertEqual(h.effects, ["SADD src a b", "SADD dst b", "SMOVE src dst a", "SMOVE src dst b",
                                   "SMOVE dst fresh a"])
    }

    // MARK: SRANDMEMBER / SPOP

    func testRandMember() {
        let h = Harness()
        h.run("SADD s a b c d e f g h i j")
        let all = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]
        guard case .bulk(let one)? = h.run("SRANDMEMBER s") else { return XCTFail("expected a member") }
        XCTAssertTrue(all.contains(String(decoding: one, as: UTF8.self)))
        XCTAssertEqual(h.run("SRANDMEMBER nokey"), .null)
        XCTAssertEqual(h.run("SRANDMEMBER nokey 3"), .array([]))
        XCTAssertEqual(h.run("SRANDMEMBER s 0"), .array([]))
        for n in [1, 3, 7, 9] {
            let got = members(h.run("SRANDMEMBER s \(n)"))
            XCTAssertEqual(got.count, n)
            XCTAssertEqual(Set(got).count, n, "a positive count never repeats")
            XCTAssertTrue(Set(got).isSubset(of: all))
        }
        XCTAssertEqual(members(h.run("SRANDMEMBER s 100")), all)
        let repeated = members(h.run("SRANDMEMBER s -25"))
        XCTAssertEqual(repeated.count, 25, "a negative count may repeat")
        XCTAssertTrue(Set(repeated).isSubset(of: all))
        XCTAssertEqual(h.run("SRANDMEMBER s x"), notInt)
        XCTAssertEqual(h.run("SRANDMEMBER s 1 2"), syntax)
        XCTAssertEqual(h.run("SRANDMEMBER s -9223372036854775808"),
                       err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"))
        // Always an array, even in RESP3.
        h.run("HELLO 3")
        guard case .array(let items)? = h.run("SRANDMEMBER s 2") else { return XCTFail("expected an array") }
        XCTAssertEqual(items.count, 2)
        XCTAssertEqual(h.run("SRANDMEMBER nokey 2"), .array([]))
        XCTAssertEqual(h.effects, ["SADD s a b c d e f g h i j"], "SRANDMEMBER propagates nothing")
        XCTAssertEqual(h.run("SCARD s"), int(10))
    }

    func testPopSingle() {
        let h = Harness()
        h.run("SADD s a b")
        guard case .bulk(let first)? = h.run("SPOP s") else { return XCTFail("expected a member") }
        guard case .bulk(let second)? = h.run("SPOP s") else { return XCTFail("expected a member") }
        let popped = [first, second].map { String(decoding: $0, as: UTF8.self) }
        XCTAssertEqual(popped.sorted(), ["a", "b"])
        XCTAssertEqual(h.run("SPOP s"), .null)
        XCTAssertFalse(exists(h, "s"))
        XCTAssertEqual(h.run("SPOP s 1 2"), syntax)
        XCTAssertEqual(h.effects, ["SADD s a b", "SREM s \(popped[0])", "SREM s \(popped[1])"])
    }

    func testPopWithCount() {
        let h = Harness()
        h.run("SADD s 1 2 3 4 5 6 7 8 9 10")
        guard case .array(let items)? = h.run("SPOP s 3") else { return XCTFail("expected an array") }
        let popped = items.map { item -> String in
            guard case .bulk(let b) = item else { return "?" }
            return String(decoding: b, as: UTF8.self)
        }
        XCTAssertEqual(Set(popped).count, 3)
        XCTAssertEqual(h.run("SCARD s"), int(7))
        for m in popped { XCTAssertEqual(h.run("SISMEMBER s \(m)"), int(0)) }
        // Propagated as one SREM per popped member, in one MULTI/EXEC unit.
        XCTAssertEqual(Array(h.effects.dropFirst()), ["MULTI"] + popped.map { "SREM s \($0)" } + ["EXEC"])

        h.propagation.reset()
        XCTAssertEqual(h.run("SPOP s 0"), .array([]))
        XCTAssertEqual(h.run("SPOP nokey 5"), .array([]))
        XCTAssertEqual(h.effects, [])
        // Popping everything replies with the whole set (in intset order) and propagates a DEL.
        XCTAssertEqual(members(h.run("SPOP s 7")).count, 7)
        XCTAssertFalse(exists(h, "s"))
        XCTAssertEqual(h.effects, ["DEL s"])

        h.propagation.reset()
        h.run("SADD t a b c")
        h.run("HELLO 3")
        XCTAssertEqual(members(h.run("SPOP t 10")), ["a", "b", "c"])
        h.run("SADD t a b c")
        guard case .set(let two)? = h.run("SPOP t 2") else { return XCTFail("RESP3 SPOP with a count is a set") }
        XCTAssertEqual(two.count, 2)
        XCTAssertEqual(h.run("SPOP nokey 2"), .set([]))
        for bad in ["-1", "x", "99999999999999999999"] {
            XCTAssertEqual(h.run("SPOP t \(bad)"), err("ERR value is out of range, must be positive"), bad)
        }
    }

    // MARK: SSCAN

    func testScanSmallSetAtOnce() {
        let h = Harness()
        h.run("SADD s 3 1 2")
        // An intset answers everything at once with cursor 0, whatever the cursor and COUNT.
        XCTAssertEqual(h.run("SSCAN s 0"), .array([bulk("0"), .array(["1", "2", "3"].map(bulk))]))
        XCTAssertEqual(h.run("SSCAN s 5 COUNT 1"), .array([bulk("0"), .array(["1", "2", "3"].map(bulk))]))
        XCTAssertEqual(h.run("SSCAN s 0 MATCH 2*"), .array([bulk("0"), .array([bulk("2")])]))
        XCTAssertEqual(h.run("SSCAN nokey 0 FOO"), .array([bulk("0"), .array([])]), "options aren't parsed for a missing key")
        XCTAssertEqual(h.run("SSCAN nokey -1"), .array([bulk("0"), .array([])]))
        XCTAssertEqual(h.run("SSCAN s x"), err("ERR invalid cursor"))
        XCTAssertEqual(h.run("SSCAN s 18446744073709551616"), err("ERR invalid cursor"))
        XCTAssertEqual(h.run("SSCAN s 0 COUNT 0"), syntax)
        XCTAssertEqual(h.run("SSCAN s 0 COUNT x"), notInt)
        XCTAssertEqual(h.run("SSCAN s 0 TYPE set"), syntax)
        XCTAssertEqual(h.run("SSCAN s 0 MATCH"), syntax)
    }

    func testScanLargeSetWithCursor() {
        let h = Harness()
        let all = (0..<700).map { "m\($0)" }
        h.run(["SADD", "big"] + all)
        var cursor = "0"
        var seen: [String] = []
        var calls = 0
        repeat {
            guard case .array(let reply)? = h.run(["SSCAN", "big", cursor, "COUNT", "50"]),
                  case .bulk(let c) = reply[0] else { return XCTFail("bad SSCAN reply") }
            cursor = String(decoding: c, as: UTF8.self)
            let page = members(reply[1])
            XCTAssertLessThanOrEqual(page.count, 50)
            seen += page
            calls += 1
            // Changes during the iteration don't disturb elements present throughout.
            if calls == 3 { h.run("SADD big extra1 extra2"); h.run("SREM big extra1") }
        } while cursor != "0" && calls < 1000
        XCTAssertGreaterThan(calls, 10)
        let unique = Set(seen)
        XCTAssertEqual(seen.count, unique.count, "no element twice")
        XCTAssertTrue(Set(all).isSubset(of: unique))
        // MATCH filters what a step visited.
        var matched: [String] = []
        cursor = "0"
        repeat {
            guard case .array(let reply)? = h.run(["SSCAN", "big", cursor, "MATCH", "m1?"]),
                  case .bulk(let c) = reply[0] else { return XCTFail("bad SSCAN reply") }
            cursor = String(decoding: c, as: UTF8.self)
            matched += members(reply[1])
        } while cursor != "0"
        XCTAssertEqual(matched.sorted(), (10...19).map { "m\($0)" }.sorted())
    }

    func testLazyExpiry() {
        let h = Harness()
        h.run("SADD s a")
        h.run("PEXPIRE s 100")
        h.clock.advance(millis: 101)
        XCTAssertEqual(h.run("SCARD s"), int(0))
        XCTAssertEqual(h.run("SADD s b"), int(1))
        XCTAssertEqual(members(h.run("SMEMBERS s")), ["b"])
        XCTAssertEqual(h.run("TTL s"), int(-1), "a new set after expiry has no TTL")
        XCTAssertEqual(h.effects, ["SADD s a", "PEXPIREAT s 1700000000100", "DEL s", "SADD s b"])
    }

    func testObjectEncoding() {
        let h = Harness()
        h.run("SADD i 1 2 3")
        XCTAssertEqual(h.run("OBJECT ENCODING i"), bulk("intset"))
        h.run("SADD i a")
        XCTAssertEqual(h.run("OBJECT ENCODING i"), bulk("hashtable"))
        h.run(["SADD", "many"] + (0..<513).map(String.init))
        XCTAssertEqual(h.run("OBJECT ENCODING many"), bulk("hashtable"))
    }
}
