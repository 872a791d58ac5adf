import NIOCore
import RESP
import TernCore
import TernStorage
import XCTest

final class SortedSetCommandsTests: XCTestCase {
    private func int(_ i: Int64) -> RESPValue { .integer(i) }
    private func arr(_ items: [String]) -> RESPValue { .array(items.map(bulk)) }
    let wrongType = err("WRONGTYPE Operation against a key holding the wrong kind of value")
    let syntax = err("ERR syntax error")
    let notInt = err("ERR value is not an integer or out of range")
    let notFloat = err("ERR value is not a valid float")
    let rangeNotFloat = err("ERR min or max is not a float")
    let lexInvalid = err("ERR min or max not valid string range item")

    private func exists(_ h: Harness, _ key: String) -> Bool {
        h.engine.database(0).lookup(Bytes(key), touch: nil) != nil
    }

    private func plant(_ h: Harness, _ key: String, _ value: StoredValue) {
        h.engine.database(0).store(Bytes(key), value, expiry: .clear)
    }

    // MARK: ZADD / ZINCRBY

    func testZaddAddsUpdatesAndCounts() {
        let h = Harness()
        XCTAssertEqual(h.run("ZADD z 1 a 2 b 3 c"), int(3))
        XCTAssertEqual(h.run("ZADD z 1 a 5 b 9 d"), int(1), "only d is new")
        XCTAssertEqual(h.run("ZADD z CH 1 a 6 b 10 e"), int(2), "CH counts b changed and e added")
        XCTAssertEqual(h.run("ZADD z 1 a 1 a"), int(0))
        XCTAssertEqual(h.run("ZRANGE z 0 -1 WITHSCORES"),
                       arr(["a", "1", "c", "3", "b", "6", "d", "9", "e", "10"]))
        XCTAssertEqual(h.run("ZADD z 4 x 7 x"), int(1), "the last score of a repeated member wins")
        XCTAssertEqual(h.run("ZSCORE z x"), bulk("7"))
    }

    func testZaddConditionalOptions() {
        let h = Harness()
        h.run("ZADD z 5 a")
        XCTAssertEqual(h.run("ZADD z NX 1 a 1 b"), int(1))
        XCTAssertEqual(h.run("ZSCORE z a"), bulk("5"), "NX leaves existing members alone")
        XCTAssertEqual(h.run("ZADD z XX 1 a 1 c"), int(0))
        XCTAssertEqual(h.run("ZSCORE z a"), bulk("1"))
        XCTAssertEqual(h.run("ZSCORE z c"), .null, "XX never adds")
        XCTAssertEqual(h.run("ZADD z GT CH 0 a 3 b"), int(1), "GT only raises")
        XCTAssertEqual(h.run("ZADD z LT CH 0 a 9 b"), int(1), "LT only lowers")
        XCTAssertEqual(h.run("ZRANGE z 0 -1 WITHSCORES"), arr(["a", "0", "b", "3"]))
        XCTAssertEqual(h.run("ZADD z GT 1 new"), int(1), "GT still adds new members")
        XCTAssertEqual(h.run("ZADD nokey XX 1 a"), int(0))
        XCTAssertFalse(exists(h, "nokey"))
    }

    func testZaddErrors() {
        let h = Harness()
        XCTAssertEqual(h.run("ZADD z NX CH"), syntax)
        XCTAssertEqual(h.run("ZADD z NX"), err("ERR wrong number of arguments for 'zadd' command"))
        XCTAssertEqual(h.run("ZADD z 1 a 2"), syntax)
        XCTAssertEqual(h.run("ZADD z NX XX 1 a"), err("ERR XX and NX options at the same time are not compatible"))
        for combo in ["GT LT", "NX GT", "LT NX"] {
            XCTAssertEqual(h.run("ZADD z \(combo) 1 a"),
                           err("ERR GT, LT, and/or NX options at the same time are not compatible"), combo)
        }
        XCTAssertEqual(h.run("ZADD z INCR 1 a 2 b"), err("ERR INCR option supports a single increment-element pair"))
        XCTAssertEqual(h.run("ZADD z 1 a x b"), notFloat)
        XCTAssertEqual(h.run("ZADD z nan a"), notFloat)
        XCTAssertFalse(exists(h, "z"), "nothing is added when any score is invalid")
        h.run("SET s v")
        XCTAssertEqual(h.run("ZADD s 1 a"), wrongType)
        XCTAssertEqual(h.run("ZINCRBY s 1 a"), wrongType)
    }

    func testIncrAndNaN() {
        let h = Harness()
        XCTAssertEqual(h.run("ZINCRBY z 1.5 a"), bulk("1.5"))
        XCTAssertEqual(h.run("ZINCRBY z 0.1 a"), bulk("1.6000000000000001"), "%.17g as Redis 7.0 replies")
        XCTAssertEqual(h.run("ZADD z INCR 1 a"), bulk("2.6000000000000001"))
        XCTAssertEqual(h.run("ZADD z NX INCR 1 a"), .null, "an aborted INCR replies nil")
        XCTAssertEqual(h.run("ZADD z GT INCR -1 a"), .null)
        XCTAssertEqual(h.run("ZADD z XX INCR 1 nope"), .null)
        XCTAssertEqual(h.run("ZINCRBY z abc a"), notFloat)
        XCTAssertEqual(h.run("ZINCRBY z nx a"), syntax, "ZINCRBY parses ZADD's options")
        h.run("ZADD z +inf i")
        XCTAssertEqual(h.run("ZINCRBY z -inf i"), err("ERR resulting score is not a number (NaN)"))
        XCTAssertEqual(h.run("ZSCORE z i"), bulk("inf"))
        XCTAssertEqual(h.run("ZADD z -0 nz"), int(1))
        XCTAssertEqual(h.run("ZSCORE z nz"), bulk("0"), "a small set stores -0 as 0, as a listpack does")
    }

    // MARK: reads

    func testScoresCardRankCount() {
        let h = Harness()
        h.run("ZADD z 1 a 2 b 3 c 3 d")
        XCTAssertEqual(h.run("ZCARD z"), int(4))
        XCTAssertEqual(h.run("ZCARD nokey"), int(0))
        XCTAssertEqual(h.run("ZMSCORE z a nope d"), .array([bulk("1"), .null, bulk("3")]))
        XCTAssertEqual(h.run("ZMSCORE nokey a"), .array([.null]))
        XCTAssertEqual(h.run("ZRANK z c"), int(2))
        XCTAssertEqual(h.run("ZREVRANK z c"), int(1))
        XCTAssertEqual(h.run("ZRANK z nope"), .null)
        XCTAssertEqual(h.run("ZCOUNT z (1 3"), int(3))
        XCTAssertEqual(h.run("ZCOUNT z -inf (3"), int(2))
        XCTAssertEqual(h.run("ZCOUNT z 3 1"), int(0))
        XCTAssertEqual(h.run("ZCOUNT z x 1"), rangeNotFloat)
        XCTAssertEqual(h.run("ZCOUNT nokey x 1"), rangeNotFloat, "ranges are parsed before the lookup")
        h.run("SET s v")
        XCTAssertEqual(h.run("ZCARD s"), wrongType)
        XCTAssertEqual(h.run("ZMSCORE s a"), wrongType)
        XCTAssertEqual(h.run("ZRANK s a"), wrongType)
    }

    func testRangeByRankScoreAndLimit() {
        let h = Harness()
        h.run("ZADD z 1 a 2 b 3 c 4 d 5 e")
        XCTAssertEqual(h.run("ZRANGE z 1 -2"), arr(["b", "c", "d"]))
        XCTAssertEqual(h.run("ZRANGE z 0 1 REV WITHSCORES"), arr(["e", "5", "d", "4"]))
        XCTAssertEqual(h.run("ZREVRANGE z -2 -1"), arr(["b", "a"]))
        XCTAssertEqual(h.run("ZRANGE z 3 1"), arr([]))
        XCTAssertEqual(h.run("ZRANGE z (1 4 BYSCORE"), arr(["b", "c", "d"]))
        XCTAssertEqual(h.run("ZRANGE z 4 (1 BYSCORE REV LIMIT 1 2"), arr(["c", "b"]))
        XCTAssertEqual(h.run("ZRANGEBYSCORE z -inf +inf LIMIT 2 -1"), arr(["c", "d", "e"]), "negative count: all")
        XCTAssertEqual(h.run("ZRANGEBYSCORE z -inf +inf LIMIT -1 2"), arr([]), "negative offset: nothing")
        XCTAssertEqual(h.run("ZREVRANGEBYSCORE z 5 3 WITHSCORES"), arr(["e", "5", "d", "4", "c", "3"]))
        XCTAssertEqual(h.run("ZRANGE z 0 -1 LIMIT 0 1"),
                       err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"))
        XCTAssertEqual(h.run("ZRANGE z - + BYLEX WITHSCORES"),
                       err("ERR syntax error, WITHSCORES not supported in combination with BYLEX"))
        XCTAssertEqual(h.run("ZRANGEBYSCORE z 0 1 REV"), syntax, "REV belongs to ZRANGE only")
        XCTAssertEqual(h.run("ZRANGE z 0 1 BYSCORE BYLEX"), syntax)
        XCTAssertEqual(h.run("ZRANGE z a 1 BYSCORE"), rangeNotFloat)
        XCTAssertEqual(h.run("ZRANGE z a 1"), notInt)
        XCTAssertEqual(h.run("ZRANGE nokey 0 -1"), arr([]))
    }

    func testLexRanges() {
        let h = Harness()
        h.run("ZADD z 0 a 0 b 0 c 0 d 0 e")
        XCTAssertEqual(h.run("ZRANGEBYLEX z [b (d"), arr(["b", "c"]))
        XCTAssertEqual(h.run("ZRANGEBYLEX z - + LIMIT 1 2"), arr(["b", "c"]))
        XCTAssertEqual(h.run("ZREVRANGEBYLEX z + (c"), arr(["e", "d"]))
        XCTAssertEqual(h.run("ZRANGE z [d [b BYLEX REV"), arr(["d", "c", "b"]))
        XCTAssertEqual(h.run("ZRANGEBYLEX z + -"), arr([]))
        XCTAssertEqual(h.run("ZLEXCOUNT z (a [d"), int(3))
        XCTAssertEqual(h.run("ZLEXCOUNT z b d"), lexInvalid)
        XCTAssertEqual(h.run("ZRANGEBYLEX z ++ +"), lexInvalid)
        XCTAssertEqual(h.run("ZREMRANGEBYLEX z (a (e"), int(3))
        XCTAssertEqual(h.run("ZRANGE z 0 -1"), arr(["a", "e"]))
    }

    func testRespThreeRepliesUseDoublesAndPairs() {
        let h = Harness()
        h.run("HELLO 3")
        h.run("ZADD z 1.5 a 2 b")
        XCTAssertEqual(h.run("ZSCORE z a"), .double("1.5"))
        XCTAssertEqual(h.run("ZSCORE z nope"), .null)
        XCTAssertEqual(h.run("ZRANGE z 0 -1 WITHSCORES"),
                       .array([.array([bulk("a"), .double("1.5")]), .array([bulk("b"), .double("2")])]))
        XCTAssertEqual(h.run("ZRANGE z 0 -1"), arr(["a", "b"]))
        XCTAssertEqual(h.run("ZPOPMIN z"), .array([bulk("a"), .double("1.5")]), "no count: flat even in RESP3")
        XCTAssertEqual(h.run("ZPOPMAX z 1"), .array([.array([bulk("b"), .double("2")])]))
    }

    // MARK: pops and their effects

    func testPopsAndPropagation() {
        let h = Harness()
        h.run("ZADD z 1 a 2 b 3 c 4 d")
        XCTAssertEqual(h.run("ZPOPMIN z"), arr(["a", "1"]))
        XCTAssertEqual(h.run("ZPOPMAX z 2"), arr(["d", "4", "c", "3"]))
        XCTAssertEqual(h.run("ZPOPMIN z 0"), arr([]))
        XCTAssertEqual(h.run("ZPOPMIN z -1"), err("ERR value is out of range, must be positive"))
        XCTAssertEqual(h.run("ZPOPMIN z 1 2"), syntax)
        XCTAssertEqual(h.run("ZPOPMIN z 10"), arr(["b", "2"]))
        XCTAssertFalse(exists(h, "z"), "popping the last member deletes the key")
        XCTAssertEqual(h.run("ZPOPMIN z"), arr([]))
        XCTAssertEqual(h.effects, ["ZADD z 1 a 2 b 3 c 4 d", "ZPOPMIN z", "ZPOPMAX z 2", "ZPOPMIN z 10"])
    }

    func testZmpopRepliesAndRewritesItsEffect() {
        let h = Harness()
        h.run("ZADD z2 1 a 2 b 3 c")
        XCTAssertEqual(h.run("ZMPOP 2 nokey z2 MAX COUNT 2"),
                       .array([bulk("z2"), .array([arr(["c", "3"]), arr(["b", "2"])])]))
        XCTAssertEqual(h.run("ZMPOP 1 z2 MIN COUNT 10"), .array([bulk("z2"), .array([arr(["a", "1"])])]))
        XCTAssertEqual(h.run("ZMPOP 1 z2 MIN"), .null)
        XCTAssertEqual(h.run("ZMPOP 0 z2 MIN"), err("ERR numkeys should be greater than 0"))
        XCTAssertEqual(h.run("ZMPOP 1 z2 MIN COUNT 0"), err("ERR count should be greater than 0"))
        XCTAssertEqual(h.run("ZMPOP 1 z2 LEFT"), syntax)
        XCTAssertEqual(h.run("ZMPOP 3 z2 MIN"), syntax)
        XCTAssertEqual(h.effects, ["ZADD z2 1 a 2 b 3 c", "ZPOPMAX z2 2", "ZPOPMIN z2 1"],
                       "ZMPOP propagates as ZPOPMIN/ZPOPMAX with the count actually popped")
    }

    func testNoOpWritesAreNotPropagated() {
        let h = Harness()
        h.run("ZADD z 1 a")
        h.run("ZADD z 1 a")
        h.run("ZADD z NX 5 a")
        h.run("ZREM z nope")
        h.run("ZREMRANGEBYSCORE z 5 6")
        h.run("ZINCRBY z 2 a")
        h.run("ZADD z INCR 1 b")
        XCTAssertEqual(h.effects, ["ZADD z 1 a", "ZINCRBY z 2 a", "ZADD z INCR 1 b"])
    }

    func testRemoveRanges() {
        let h = Harness()
        h.run("ZADD z 1 a 2 b 3 c 4 d 5 e")
        XCTAssertEqual(h.run("ZREMRANGEBYRANK z -2 -1"), int(2))
        XCTAssertEqual(h.run("ZREMRANGEBYSCORE z (1 2"), int(1))
        XCTAssertEqual(h.run("ZREMRANGEBYSCORE z x 2"), rangeNotFloat)
        XCTAssertEqual(h.run("ZREMRANGEBYRANK z 5 9"), int(0))
        XCTAssertEqual(h.run("ZRANGE z 0 -1"), arr(["a", "c"]))
        XCTAssertEqual(h.run("ZREM z a c x"), int(2))
        XCTAssertFalse(exists(h, "z"))
        XCTAssertEqual(h.effects, ["ZADD z 1 a 2 b 3 c 4 d 5 e", "ZREMRANGEBYRANK z -2 -1", "ZREMRANGEBYSCORE z (1 2",
                                   "ZREM z a c x"])
    }

    // MARK: set operations

    func testUnionInterDiffWithWeightsAndSets() {
        let h = Harness()
        h.run("ZADD a 1 x 2 y 3 z")
        h.run("ZADD b 10 y 20 z 30 w")
        plant(h, "s", .set([Bytes("y"), Bytes("w"), Bytes("q")]))
        XCTAssertEqual(h.run("ZUNION 3 a b s WITHSCORES"),
                       arr(["q", "1", "x", "1", "y", "13", "z", "23", "w", "31"]), "set members score 1")
        XCTAssertEqual(h.run("ZINTER 3 a b s WITHSCORES"), arr(["y", "13"]))
        XCTAssertEqual(h.run("ZINTER 2 a b WEIGHTS 2 -1 AGGREGATE MIN WITHSCORES"), arr(["z", "-20", "y", "-10"]))
        XCTAssertEqual(h.run("ZUNION 2 a b AGGREGATE MAX"), arr(["x", "y", "z", "w"]))
        XCTAssertEqual(h.run("ZDIFF 2 b s WITHSCORES"), arr(["z", "20"]))
        XCTAssertEqual(h.run("ZDIFF 2 a a"), arr([]))
        XCTAssertEqual(h.run("ZINTERCARD 2 a b"), int(2))
        XCTAssertEqual(h.run("ZINTERCARD 2 a b LIMIT 1"), int(1))
        XCTAssertEqual(h.run("ZINTERCARD 2 a b LIMIT -1"), err("ERR LIMIT can't be negative"))
        XCTAssertEqual(h.run("ZUNION 2 a b WEIGHTS 1 x"), err("ERR weight value is not a float"))
        XCTAssertEqual(h.run("ZUNION 0 a"), err("ERR at least 1 input key is needed for 'zunion' command"))
        XCTAssertEqual(h.run("ZUNIONSTORE d 0 a"), err("ERR at least 1 input key is needed for 'zunionstore' command"))
        XCTAssertEqual(h.run("ZUNION 3 a b"), syntax)
        XCTAssertEqual(h.run("ZDIFF 2 a b WEIGHTS 1 2"), syntax)
        XCTAssertEqual(h.run("ZUNIONSTORE d 2 a b WITHSCORES"), syntax)
        h.run("SET str v")
        XCTAssertEqual(h.run("ZUNION 2 a str WEIGHTS x"), wrongType, "keys are checked before options")
    }

    func testInfinitiesAggregateToZeroNotNaN() {
        let h = Harness()
        h.run("ZADD p 1 m")
        h.run("ZADD n 1 m")
        XCTAssertEqual(h.run("ZUNION 2 p n WEIGHTS inf -inf WITHSCORES"), arr(["m", "0"]))
        h.run("ZADD i +inf m")
        XCTAssertEqual(h.run("ZUNION 1 i WEIGHTS 0 WITHSCORES"), arr(["m", "0"]), "inf * 0 counts as 0")
    }

    func testStoreCommandsAndTheirEffects() {
        let h = Harness()
        h.run("ZADD a 1 x 2 y")
        h.run("ZADD b 5 y")
        h.run("SET d old")
        h.run("EXPIRE d 100")
        XCTAssertEqual(h.run("ZUNIONSTORE d 2 a b WEIGHTS 1 2"), int(2))
        XCTAssertEqual(h.run("TTL d"), int(-1), "the destination is replaced, TTL included")
        XCTAssertEqual(h.run("ZRANGE d 0 -1 WITHSCORES"), arr(["x", "1", "y", "12"]))
        XCTAssertEqual(h.run("ZINTERSTORE d 2 a nokey"), int(0))
        XCTAssertFalse(exists(h, "d"), "an empty result deletes the destination")
        XCTAssertEqual(h.run("ZINTERSTORE d 2 a nokey"), int(0))
        XCTAssertEqual(h.run("ZDIFFSTORE d 2 a b"), int(1))
        XCTAssertEqual(h.run("ZRANGESTORE r a (1 +inf BYSCORE"), int(1))
        XCTAssertEqual(h.run("ZRANGE r 0 -1 WITHSCORES"), arr(["y", "2"]))
        XCTAssertEqual(h.run("ZRANGESTORE r a 5 6"), int(0))
        XCTAssertFalse(exists(h, "r"))
        XCTAssertEqual(h.run("ZRANGESTORE r a 0 -1 WITHSCORES"), syntax)
        let effects = h.effects.filter { !$0.hasPrefix("SET") && !$0.hasPrefix("EXPIRE") && !$0.hasPrefix("PEXPIREAT") }
        XCTAssertEqual(effects, [
            "ZADD a 1 x 2 y", "ZADD b 5 y", "ZUNIONSTORE d 2 a b WEIGHTS 1 2", "ZINTERSTORE d 2 a nokey",
            "ZDIFFSTORE d 2 a b", "ZRANGESTORE r a (1 +inf BYSCORE", "ZRANGESTORE r a 5 6",
        ], "verbatim; an empty result that deleted nothing is not propagated")
    }

    // MARK: ZRANDMEMBER / ZSCAN

    func testRandomMembers() {
        let h = Harness()
        h.run("ZADD z 1 a 2 b 3 c 4 d 5 e 6 f 7 g 8 h 9 i 10 j")
        guard case .bulk(let one)? = h.run("ZRANDMEMBER z") else { return XCTFail("bulk expected") }
        XCTAssertTrue("abcdefghij".utf8.contains(one[0]))
        for n in [2, 5, 9] {
            guard case .array(let items)? = h.run("ZRANDMEMBER z \(n)") else { return XCTFail() }
            XCTAssertEqual(Set(items.map { "\($0)" }).count, n, "a positive count gives distinct members")
        }
        XCTAssertEqual(h.run("ZRANDMEMBER z 20"), arr(["j", "i", "h", "g", "f", "e", "d", "c", "b", "a"]),
                       "the whole set, walked from the top as Redis does")
        guard case .array(let repeated)? = h.run("ZRANDMEMBER z -30 WITHSCORES") else { return XCTFail() }
        XCTAssertEqual(repeated.count, 60)
        XCTAssertEqual(h.run("ZRANDMEMBER z 0"), arr([]))
        XCTAssertEqual(h.run("ZRANDMEMBER z 1 WITHSCOREZ"), syntax)
        XCTAssertEqual(h.run("ZRANDMEMBER z -4611686018427387904 WITHSCORES"), err("ERR value is out of range"))
        XCTAssertEqual(h.run("ZRANDMEMBER nokey"), .null)
        XCTAssertEqual(h.run("ZRANDMEMBER nokey 3"), arr([]))
    }

    func testZscanSmallAndLarge() {
        let h = Harness()
        h.run("ZADD z 1 a 2 b 3 ab")
        XCTAssertEqual(h.run("ZSCAN z 0"), .array([bulk("0"), arr(["a", "1", "b", "2", "ab", "3"])]))
        XCTAssertEqual(h.run("ZSCAN z 0 MATCH a*"), .array([bulk("0"), arr(["a", "1", "ab", "3"])]))
        XCTAssertEqual(h.run("ZSCAN z 0 COUNT 0"), syntax)
        XCTAssertEqual(h.run("ZSCAN z 0 TYPE zset"), syntax)
        XCTAssertEqual(h.run("ZSCAN z x"), err("ERR invalid cursor"))
        XCTAssertEqual(h.run("ZSCAN nokey 0"), .array([bulk("0"), arr([])]))

        // A large set is walked in pieces; every member present throughout comes back, even with removals.
        h.run((["ZADD", "big"] + (0..<500).flatMap { ["\($0)", "m\($0)"] }))
        var cursor = "0"
        var seen = Set<String>()
        var calls = 0
        repeat {
            guard case .array(let reply)? = h.run(["ZSCAN", "big", cursor, "COUNT", "20"]),
                  case .bulk(let next) = reply[0], case .array(let items) = reply[1] else { return XCTFail() }
            cursor = String(decoding: next, as: UTF8.self)
            for i in stride(from: 0, to: items.count, by: 2) {
                if case .bulk(let m) = items[i] { seen.insert(String(decoding: m, as: UTF8.self)) }
            }
            if calls == 3 { h.run("ZREM big m1 m2 m3 m4 m5") }
            calls += 1
        } while cursor != "0" && calls < 1000
        XCTAssertGreaterThan(calls, 10)
        for i in 6..<500 { XCTAssertTrue(seen.contains("m\(i)"), "m\(i)") }
    }

    // MARK: storage

    func testLargeSetsKeepRanksAndCopiesStayIndependent() {
        let h = Harness()
        h.run((["ZADD", "z"] + (0..<2000).flatMap { ["\($0 % 100)", "m\($0)"] }))
        XCTAssertEqual(h.run("ZCARD z"), int(2000))
        XCTAssertEqual(h.run("ZRANK z m100"), int(1), "m0 and m100 share score 0; bytewise tie break")
        XCTAssertEqual(h.run("ZCOUNT z 10 (20"), int(200))
        XCTAssertEqual(h.run("COPY z c"), int(1))
        XCTAssertEqual(h.run("ZREMRANGEBYRANK z 0 999"), int(1000))
        XCTAssertEqual(h.run("ZCARD c"), int(2000), "the copy doesn't see the removal")
        XCTAssertEqual(h.run("ZRANGE c 0 0"), arr(["m0"]))
        XCTAssertEqual(h.run("ZRANGE z 0 0"), arr(["m1050"]))
    }
}
