import NIOCore
import RESP
import TernCore
import TernStorage
import XCTest

final class StringCommandsTests: XCTestCase {
    /// ManualClock starts at this unix time (ms).
    let t0: Int64 = 1_700_000_000_000

    private func expireAt(_ h: Harness, _ key: String, db: Int = 0) -> Int64? {
        h.engine.database(db).lookup(Bytes(key), touch: nil)?.expireAt
    }

    private func exists(_ h: Harness, _ key: String) -> Bool {
        h.engine.database(0).lookup(Bytes(key), touch: nil) != nil
    }

    /// Stores a non-string value (a set) directly.
    private func plantSet(_ h: Harness, _ key: String) {
        h.engine.database(0).store(Bytes(key), .set([Bytes("m")]), expiry: .clear)
    }

    private func int(_ i: Int64) -> RESPValue { .integer(i) }
    let wrongType = err("WRONGTYPE Operation against a key holding the wrong kind of value")
    let syntax = err("ERR syntax error")
    let notInt = err("ERR value is not an integer or out of range")
    let notFloat = err("ERR value is not a valid float")

    // MARK: GET / SET

    func testGetAndPlainSet() {
        let h = Harness()
        XCTAssertEqual(h.run("GET k"), .null)
        XCTAssertEqual(h.run("SET k hello"), ok)
        XCTAssertEqual(h.run("GET k"), bulk("hello"))
        XCTAssertEqual(h.run(["SET", "bin", "a\0b\r\n"]), ok)
        XCTAssertEqual(h.run("GET bin"), .bulk([97, 0, 98, 13, 10]))
        XCTAssertEqual(h.run(["SET", "e", ""]), ok)
        XCTAssertEqual(h.run("GET e"), bulk(""))
        XCTAssertEqual(h.run("SET k"), err("ERR wrong number of arguments for 'set' command"))
        XCTAssertEqual(h.run("GET k x"), err("ERR wrong number of arguments for 'get' command"))
        XCTAssertEqual(h.effects, ["SET k hello", "SET bin a\0b\r\n", "SET e "])
    }

    func testSetNXXXAndGet() {
        let h = Harness()
        XCTAssertEqual(h.run("SET k v XX"), .null)
        XCTAssertFalse(exists(h, "k"))
        XCTAssertEqual(h.run("SET k v NX"), ok)
        XCTAssertEqual(h.run("SET k w NX"), .null)
        XCTAssertEqual(h.run("SET k w XX"), ok)
        XCTAssertEqual(h.run("GET k"), bulk("w"))
        XCTAssertEqual(h.run("SET k x GET"), bulk("w"))
        XCTAssertEqual(h.run("SET k y GET get"), bulk("x"))
        XCTAssertEqual(h.run("SET new v GET"), .null)
        XCTAssertEqual(h.run("GET new"), bulk("v"))
        // NX/XX with GET: the old value is the reply whether or not the write happens.
        XCTAssertEqual(h.run("SET k z NX GET"), bulk("y"))
        XCTAssertEqual(h.run("GET k"), bulk("y"))
        XCTAssertEqual(h.run("SET missing z XX GET"), .null)
        XCTAssertFalse(exists(h, "missing"))
        XCTAssertEqual(h.effects, ["SET k v NX", "SET k w XX", "SET k x", "SET k y", "SET new v"],
                       "failed NX/XX writes don't propagate; GET is dropped")
    }

    func testSetSyntaxErrors() {
        let h = Harness()
        for line in ["SET k v NX XX", "SET k v XX NX", "SET k v EX 10 PX 100", "SET k v PX 100 EX 10",
                     "SET k v EX 10 KEEPTTL", "SET k v KEEPTTL EX 10", "SET k v KEEPTTL PXAT 5", "SET k v EXAT 5 PXAT 6",
                     "SET k v EX", "SET k v PX", "SET k v EXAT", "SET k v PXAT", "SET k v PERSIST", "SET k v FOO",
                     "SET k v EX 10 FOO", "SET k v px 10 EX"] {
            XCTAssertEqual(h.run(line), syntax, line)
        }
        // Repeating the same expiry option is fine: the last one wins.
        XCTAssertEqual(h.run("SET k v EX 10 EX 20"), ok)
        XCTAssertEqual(expireAt(h, "k"), t0 + 20_000)
        XCTAssertEqual(h.run("SET k v nx nx"), .null)
        XCTAssertEqual(h.run("SET k v KEEPTTL KEEPTTL"), ok)
        // Options are C strings: a NUL ends them.
        XCTAssertEqual(h.run(["SET", "k2", "v", "NX\0junk"]), ok)
        XCTAssertEqual(h.run(["SET", "k2", "w", "nx\0"]), .null)
    }

    func testSetInvalidExpireTimes() {
        let h = Harness()
        let invalid = err("ERR invalid expire time in 'set' command")
        for line in ["SET k v EX 0", "SET k v EX -1", "SET k v PX 0", "SET k v PX -5", "SET k v EXAT 0", "SET k v PXAT 0",
                     "SET k v EX 9223372036854776", "SET k v EXAT 9223372036854776",
                     "SET k v PX 9223372036854775807", "SET k v PX 9223372036854775000"] {
            XCTAssertEqual(h.run(line), invalid, line)
        }
        for line in ["SET k v EX abc", "SET k v EX 1.5", "SET k v EX 99999999999999999999", "SET k v EX +10",
                     "SET k v EX 010", "SET k v EX -0"] {
            XCTAssertEqual(h.run(line), notInt, line)
        }
        XCTAssertEqual(h.run(["SET", "k", "v", "EX", " 10"]), notInt)
        XCTAssertFalse(exists(h, "k"))
        // The largest values that don't overflow are accepted.
        XCTAssertEqual(h.run("SET k v EXAT 9223372036854775"), ok)
        XCTAssertEqual(expireAt(h, "k"), 9_223_372_036_854_775_000)
        XCTAssertEqual(h.run("SET k v PXAT 9223372036854775807"), ok)
        XCTAssertEqual(expireAt(h, "k"), Int64.max)
        // Expire validation comes before GET and the NX/XX checks.
        plantSet(h, "s")
        XCTAssertEqual(h.run("SET s v GET EX 0"), invalid)
        XCTAssertEqual(h.run("SETEX k 0 v"), err("ERR invalid expire time in 'setex' command"))
        XCTAssertEqual(h.run("SETEX k -1 v"), err("ERR invalid expire time in 'setex' command"))
        XCTAssertEqual(h.run("SETEX k 9223372036854776 v"), err("ERR invalid expire time in 'setex' command"))
        XCTAssertEqual(h.run("SETEX k x v"), notInt)
        XCTAssertEqual(h.run("PSETEX k 0 v"), err("ERR invalid expire time in 'psetex' command"))
        XCTAssertEqual(h.run("PSETEX k 9223372036854775807 v"), err("ERR invalid expire time in 'psetex' command"))
    }

    func testSetExpiryIsPropagatedAsAbsolutePXAT() {
        let h = Harness()
        XCTAssertEqual(h.run("SET a v EX 10"), ok)
        XCTAssertEqual(expireAt(h, "a"), t0 + 10_000)
        XCTAssertEqual(h.run("SET b v PX 1500"), ok)
        XCTAssertEqual(h.run("SET c v EXAT 1800000000"), ok)
        XCTAssertEqual(h.run("SET d v PXAT 1800000000123"), ok)
        XCTAssertEqual(h.run("SETEX e 7 v"), ok)
        XCTAssertEqual(h.run("PSETEX f 250 v"), ok)
        XCTAssertEqual(expireAt(h, "f"), t0 + 250)
        // NX/XX and GET are dropped once the command is rewritten.
        XCTAssertEqual(h.run("SET a w XX EX 20"), ok)
        XCTAssertEqual(h.run("SET g w NX PX 5 GET"), .null)
        XCTAssertEqual(h.run("GET g"), bulk("w"))
        XCTAssertEqual(h.effects, [
            "SET a v PXAT \(t0 + 10_000)", "SET b v PXAT \(t0 + 1500)", "SET c v PXAT 1800000000000",
            "SET d v PXAT 1800000000123", "SET e v PXAT \(t0 + 7000)", "SET f v PXAT \(t0 + 250)",
            "SET a w PXAT \(t0 + 20_000)", "SET g w PXAT \(t0 + 5)",
        ])
    }

    func testKeepTTLAndPlainSetClearsTTL() {
        let h = Harness()
        XCTAssertEqual(h.run("SET k v EX 100"), ok)
        XCTAssertEqual(h.run("SET k w KEEPTTL"), ok)
        XCTAssertEqual(expireAt(h, "k"), t0 + 100_000)
        XCTAssertEqual(h.run("SET k x XX KEEPTTL GET"), bulk("w"))
        XCTAssertEqual(expireAt(h, "k"), t0 + 100_000)
        XCTAssertEqual(h.run("SET k y"), ok)
        XCTAssertNil(expireAt(h, "k"))
        XCTAssertEqual(h.effects, ["SET k v PXAT \(t0 + 100_000)", "SET k w KEEPTTL", "SET k x XX KEEPTTL", "SET k y"])
    }

    func testSetWithPastAbsoluteExpiry() {
        // Redis 7.0 stores the key with its past expiry and propagates SET ... PXAT; the key then expires lazily.
        let h = Harness()
        XCTAssertEqual(h.run("SET k v PXAT 1"), ok)
        XCTAssertEqual(h.run("SET k2 v EXAT 1"), ok)
        XCTAssertEqual(h.effects, ["SET k v PXAT 1", "SET k2 v PXAT 1000"])
        h.propagation.reset()
        XCTAssertEqual(h.run("GET k"), .null)
        XCTAssertEqual(h.effects, ["DEL k"])
        h.propagation.reset()
        // SET ... GET on the expired key: the lazy DEL leaves at once (propagateNow), then the SET.
        XCTAssertEqual(h.run("SET k2 w GET"), .null)
        XCTAssertEqual(h.propagation.units.map { $0.map(\.description) }, [["[0] DEL k2"], ["[0] SET k2 w"]])
    }

    func testLazyExpiryOfGet() {
        let h = Harness()
        XCTAssertEqual(h.run("SET k v PX 100"), ok)
        h.clock.advance(millis: 100)
        XCTAssertEqual(h.run("GET k"), bulk("v"), "at the expiry instant the key is still there (now > when)")
        h.propagation.reset()
        h.clock.advance(millis: 1)
        XCTAssertEqual(h.run("GET k"), .null)
        XCTAssertEqual(h.effects, ["DEL k"])
        XCTAssertFalse(exists(h, "k"))
        // An expired key counts as missing for NX/XX.
        XCTAssertEqual(h.run("SET j v PX 10"), ok)
        h.clock.advance(millis: 11)
        XCTAssertEqual(h.run("SET j w XX"), .null)
        XCTAssertEqual(h.run("SET j w NX"), ok)
        XCTAssertEqual(h.run("GET j"), bulk("w"))
    }

    func testWrongType() {
        let h = Harness()
        plantSet(h, "s")
        for line in ["GET s", "SET s v GET", "GETSET s v", "GETDEL s", "GETEX s", "GETEX s EX 10", "INCR s", "DECR s",
                     "INCRBY s 2", "DECRBY s 2", "INCRBYFLOAT s 1", "APPEND s x", "STRLEN s", "GETRANGE s 0 1",
                     "SUBSTR s 0 1", "SETRANGE s 0 x", "SETRANGE s 0 ''"] {
            XCTAssertEqual(h.run(line), wrongType, line)
        }
        XCTAssertEqual(h.run(["SETRANGE", "s", "0", ""]), wrongType)
        XCTAssertEqual(h.engine.database(0).lookup("s", touch: nil)?.value.kind, .set, "nothing was overwritten")
        XCTAssertEqual(h.run("MGET s"), .array([.null]))
        XCTAssertEqual(h.run("LCS s x"), err("ERR The specified keys must contain string values"))
        XCTAssertEqual(h.run("LCS x s"), err("ERR The specified keys must contain string values"))
        XCTAssertEqual(h.run("MSETNX s v"), int(0))
        XCTAssertEqual(h.run("SETNX s v"), int(0))
        XCTAssertEqual(h.effects, [])
        // Without GET, SET replaces any kind.
        XCTAssertEqual(h.run("SET s v"), ok)
        XCTAssertEqual(h.run("GET s"), bulk("v"))
    }

    // MARK: SETNX, GETSET, GETDEL, GETEX

    func testSetnx() {
        let h = Harness()
        XCTAssertEqual(h.run("SETNX k 1"), int(1))
        XCTAssertEqual(h.run("SETNX k 2"), int(0))
        XCTAssertEqual(h.run("GET k"), bulk("1"))
        XCTAssertEqual(h.effects, ["SETNX k 1"])
    }

    func testGetsetPropagatesAsSetAndClearsTTL() {
        let h = Harness()
        XCTAssertEqual(h.run("GETSET k 1"), .null)
        XCTAssertEqual(h.run("SET k 2 EX 100"), ok)
        XCTAssertEqual(h.run("GETSET k 3"), bulk("2"))
        XCTAssertNil(expireAt(h, "k"))
        XCTAssertEqual(h.run("GET k"), bulk("3"))
        XCTAssertEqual(h.effects, ["SET k 1", "SET k 2 PXAT \(t0 + 100_000)", "SET k 3"])
    }

    func testGetdel() {
        let h = Harness()
        XCTAssertEqual(h.run("GETDEL k"), .null)
        XCTAssertEqual(h.run("SET k v"), ok)
        XCTAssertEqual(h.run("GETDEL k"), bulk("v"))
        XCTAssertFalse(exists(h, "k"))
        XCTAssertEqual(h.run("GETDEL k"), .null)
        XCTAssertEqual(h.effects, ["SET k v", "DEL k"])
    }

    func testGetexExpiryOptions() {
        let h = Harness()
        XCTAssertEqual(h.run("GETEX k"), .null)
        XCTAssertEqual(h.run("GETEX k EX 10"), .null)
        XCTAssertEqual(h.run("GETEX k EX 0"), .null, "a missing key is checked before the expire time")
        XCTAssertEqual(h.run("SET k v"), ok)
        h.propagation.reset()
        XCTAssertEqual(h.run("GETEX k"), bulk("v"))
        XCTAssertEqual(h.run("GETEX k PERSIST"), bulk("v"), "PERSIST without a TTL changes nothing")
        XCTAssertEqual(h.effects, [])
        XCTAssertEqual(h.run("GETEX k EX 10"), bulk("v"))
        XCTAssertEqual(expireAt(h, "k"), t0 + 10_000)
        XCTAssertEqual(h.run("GETEX k PX 500"), bulk("v"))
        XCTAssertEqual(h.run("GETEX k EXAT 1800000000"), bulk("v"))
        XCTAssertEqual(h.run("GETEX k PXAT 1800000000001"), bulk("v"))
        XCTAssertEqual(expireAt(h, "k"), 1_800_000_000_001)
        XCTAssertEqual(h.run("GETEX k persist"), bulk("v"))
        XCTAssertNil(expireAt(h, "k"))
        XCTAssertEqual(h.effects, [
            "PEXPIREAT k \(t0 + 10_000)", "PEXPIREAT k \(t0 + 500)", "PEXPIREAT k 1800000000000",
            "PEXPIREAT k 1800000000001", "PERSIST k",
        ])
        h.propagation.reset()
        // A past absolute time deletes the key.
        XCTAssertEqual(h.run("GETEX k EXAT 1"), bulk("v"))
        XCTAssertFalse(exists(h, "k"))
        XCTAssertEqual(h.run("SET k2 v"), ok)
        XCTAssertEqual(h.run("GETEX k2 PXAT \(t0)"), bulk("v"))
        XCTAssertFalse(exists(h, "k2"))
        XCTAssertEqual(h.effects, ["DEL k", "SET k2 v", "DEL k2"])
    }

    func testGetexErrors() {
        let h = Harness()
        XCTAssertEqual(h.run("SET k v"), ok)
        for line in ["GETEX k EX 10 PX 10", "GETEX k EX 10 PERSIST", "GETEX k PERSIST EX 10", "GETEX k KEEPTTL",
                     "GETEX k NX", "GETEX k XX", "GETEX k GET", "GETEX k EX", "GETEX k FOO", "GETEX missing FOO"] {
            XCTAssertEqual(h.run(line), syntax, line)
        }
        let invalid = err("ERR invalid expire time in 'getex' command")
        XCTAssertEqual(h.run("GETEX k EX 0"), invalid)
        XCTAssertEqual(h.run("GETEX k PX -1"), invalid)
        XCTAssertEqual(h.run("GETEX k EX 9223372036854776"), invalid)
        XCTAssertEqual(h.run("GETEX k PX 9223372036854775807"), invalid)
        XCTAssertEqual(h.run("GETEX k EX abc"), notInt)
        XCTAssertEqual(h.run("GETEX k EX 10 EX 20"), bulk("v"))
        XCTAssertEqual(expireAt(h, "k"), t0 + 20_000)
        XCTAssertEqual(h.run(["GETEX"]), err("ERR wrong number of arguments for 'getex' command"))
    }

    // MARK: MGET / MSET / MSETNX

    func testMsetMgetMsetnx() {
        let h = Harness()
        XCTAssertEqual(h.run("MSET a 1 b 2 c 3"), ok)
        XCTAssertEqual(h.run("MGET a b nope c"), .array([bulk("1"), bulk("2"), .null, bulk("3")]))
        XCTAssertEqual(h.run("MSET a"), err("ERR wrong number of arguments for 'mset' command"))
        XCTAssertEqual(h.run("MSET a 1 b"), err("ERR wrong number of arguments for 'mset' command"))
        XCTAssertEqual(h.run("MSETNX a 1 b"), err("ERR wrong number of arguments for 'msetnx' command"))
        XCTAssertEqual(h.run("MSET a x a y"), ok)
        XCTAssertEqual(h.run("GET a"), bulk("y"))
        XCTAssertEqual(h.run("MSETNX a z n q"), int(0))
        XCTAssertFalse(exists(h, "n"))
        XCTAssertEqual(h.run("MSETNX m z n q"), int(1))
        XCTAssertEqual(h.run("MGET m n"), .array([bulk("z"), bulk("q")]))
        XCTAssertEqual(h.run("MSETNX d 1 d 2"), int(1))
        XCTAssertEqual(h.run("GET d"), bulk("2"))
        XCTAssertEqual(h.run("SET t v EX 10"), ok)
        XCTAssertEqual(h.run("MSET t w"), ok)
        XCTAssertNil(expireAt(h, "t"), "MSET clears TTLs")
        XCTAssertEqual(h.effects, ["MSET a 1 b 2 c 3", "MSET a x a y", "MSETNX m z n q", "MSETNX d 1 d 2",
                                   "SET t v PXAT \(t0 + 10_000)", "MSET t w"])
    }

    // MARK: counters

    func testIncrDecr() {
        let h = Harness()
        XCTAssertEqual(h.run("INCR i"), int(1))
        XCTAssertEqual(h.run("INCR i"), int(2))
        XCTAssertEqual(h.run("DECR i"), int(1))
        XCTAssertEqual(h.run("INCRBY i 10"), int(11))
        XCTAssertEqual(h.run("INCRBY i -20"), int(-9))
        XCTAssertEqual(h.run("DECRBY i 5"), int(-14))
        XCTAssertEqual(h.run("DECRBY i -5"), int(-9))
        XCTAssertEqual(h.run("GET i"), bulk("-9"))
        for line in ["INCRBY i abc", "INCRBY i 1.5", "INCRBY i 9223372036854775808"] {
            XCTAssertEqual(h.run(line), notInt, line)
        }
        XCTAssertEqual(h.run("DECRBY i -9223372036854775808"), err("ERR decrement would overflow"))
        XCTAssertEqual(h.run("INCRBY z -9223372036854775808"), int(Int64.min))
        XCTAssertEqual(h.run("DECR z"), err("ERR increment or decrement would overflow"))
        XCTAssertEqual(h.run("SET m 9223372036854775807"), ok)
        XCTAssertEqual(h.run("INCR m"), err("ERR increment or decrement would overflow"))
        XCTAssertEqual(h.run("INCRBY m 0"), int(Int64.max))
        XCTAssertEqual(h.run("GET m"), bulk("9223372036854775807"))
        for value in ["foo", " 1", "1 ", "+1", "01", "-0", "1.0", "", "9223372036854775808"] {
            XCTAssertEqual(h.run(["SET", "s", value]), ok)
            XCTAssertEqual(h.run("INCR s"), notInt, "INCR of '\(value)'")
        }
        XCTAssertEqual(h.run(["SET", "s", "-1"]), ok)
        XCTAssertEqual(h.run("INCR s"), int(0))
        XCTAssertEqual(h.run("INCR s"), int(1))
    }

    func testIncrKeepsTTLAndPropagatesVerbatim() {
        let h = Harness()
        XCTAssertEqual(h.run("SET n 10 EX 100"), ok)
        h.propagation.reset()
        XCTAssertEqual(h.run("INCRBY n 5"), int(15))
        XCTAssertEqual(expireAt(h, "n"), t0 + 100_000)
        XCTAssertEqual(h.run("INCR bad x"), err("ERR wrong number of arguments for 'incr' command"))
        XCTAssertEqual(h.run("SET s x"), ok)
        XCTAssertEqual(h.run("INCR s"), notInt)
        XCTAssertEqual(h.effects, ["INCRBY n 5", "SET s x"], "failed increments don't propagate")
    }

    func testIncrbyfloat() {
        let h = Harness()
        XCTAssertEqual(h.run("INCRBYFLOAT f 1.5"), bulk("1.5"))
        XCTAssertEqual(h.run("INCRBYFLOAT f 0.1"), bulk("1.6"))
        XCTAssertEqual(h.run("INCRBYFLOAT f -0.1"), bulk("1.5"))
        XCTAssertEqual(h.run("INCRBYFLOAT f 1e3"), bulk("1001.5"))
        XCTAssertEqual(h.run("INCRBYFLOAT f 0x10"), bulk("1017.5"))
        XCTAssertEqual(h.run("INCRBYFLOAT g 3.0"), bulk("3"))
        XCTAssertEqual(h.run("INCRBYFLOAT z -0"), bulk("0"))
        XCTAssertEqual(h.run("INCRBYFLOAT tiny 1e-20"), bulk("0"))
        XCTAssertEqual(h.run("INCRBYFLOAT p 0.1"), bulk("0.1"))
        XCTAssertEqual(h.run("INCRBYFLOAT p 0.2"), bulk("0.3"))
        XCTAssertEqual(h.run("INCRBYFLOAT big 1e100"),
                       bulk("9999999999999999999669353532207342619498699019828496079271391541752018669482644324418977840117055488"))
        for line in ["INCRBYFLOAT f abc", "INCRBYFLOAT f nan", "INCRBYFLOAT f 1e5000", "INCRBYFLOAT f 1,5"] {
            XCTAssertEqual(h.run(line), notFloat, line)
        }
        XCTAssertEqual(h.run(["INCRBYFLOAT", "f", ""]), notFloat)
        XCTAssertEqual(h.run(["INCRBYFLOAT", "f", " 1"]), notFloat)
        XCTAssertEqual(h.run("INCRBYFLOAT f inf"), err("ERR increment would produce NaN or Infinity"))
        XCTAssertEqual(h.run("INCRBYFLOAT f -inf"), err("ERR increment would produce NaN or Infinity"))
        XCTAssertEqual(h.run("GET f"), bulk("1017.5"))
        XCTAssertEqual(h.run("SET s hello"), ok)
        XCTAssertEqual(h.run("INCRBYFLOAT s 1"), notFloat)
        XCTAssertEqual(h.run(["SET", "s", "1.5 "]), ok)
        XCTAssertEqual(h.run("INCRBYFLOAT s 1"), notFloat)
        XCTAssertEqual(h.run("SET s 1e2"), ok)
        XCTAssertEqual(h.run("INCRBYFLOAT s 1"), bulk("101"))
        XCTAssertEqual(h.run("SET s inf"), ok)
        XCTAssertEqual(h.run("INCRBYFLOAT s 1"), err("ERR increment would produce NaN or Infinity"))
        // The result is not an integer-encodable string for INCR.
        XCTAssertEqual(h.run("INCR p"), notInt)
    }

    func testIncrbyfloatPropagatesSetKeepTTL() {
        let h = Harness()
        XCTAssertEqual(h.run("SET f 10.5 EX 100"), ok)
        h.propagation.reset()
        XCTAssertEqual(h.run("INCRBYFLOAT f 0.25"), bulk("10.75"))
        XCTAssertEqual(expireAt(h, "f"), t0 + 100_000)
        XCTAssertEqual(h.run("INCRBYFLOAT g 3.0e1"), bulk("30"))
        XCTAssertEqual(h.run("INCRBYFLOAT f inf"), err("ERR increment would produce NaN or Infinity"))
        XCTAssertEqual(h.effects, ["SET f 10.75 KEEPTTL", "SET g 30 KEEPTTL"])
    }

    // MARK: APPEND / STRLEN / SETRANGE / GETRANGE

    func testAppendAndStrlen() {
        let h = Harness()
        XCTAssertEqual(h.run("APPEND k hello"), int(5))
        XCTAssertEqual(h.run(["APPEND", "k", " world"]), int(11))
        XCTAssertEqual(h.run("GET k"), bulk("hello world"))
        XCTAssertEqual(h.run("STRLEN k"), int(11))
        XCTAssertEqual(h.run("STRLEN nope"), int(0))
        XCTAssertEqual(h.run(["APPEND", "k", ""]), int(11))
        XCTAssertEqual(h.run(["APPEND", "e", ""]), int(0))
        XCTAssertEqual(h.run("GET e"), bulk(""), "APPEND of nothing still creates the key")
        XCTAssertEqual(h.run("SET n 10 EX 100"), ok)
        XCTAssertEqual(h.run("APPEND n 5"), int(3))
        XCTAssertEqual(h.run("INCR n"), int(106))
        XCTAssertEqual(expireAt(h, "n"), t0 + 100_000, "APPEND keeps the TTL")
        XCTAssertEqual(h.effects, ["APPEND k hello", "APPEND k  world", "APPEND k ", "APPEND e ",
                                   "SET n 10 PXAT \(t0 + 100_000)", "APPEND n 5", "INCR n"])
    }

    func testProtoMaxBulkLenLimits() {
        let h = Harness { $0.protoMaxBulkLen = 10 }
        let tooLong = err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
        XCTAssertEqual(h.run("APPEND k 12345"), int(5))
        XCTAssertEqual(h.run("APPEND k 12345"), int(10))
        XCTAssertEqual(h.run("APPEND k x"), tooLong)
        XCTAssertEqual(h.run("GET k"), bulk("1234512345"))
        XCTAssertEqual(h.run("SETRANGE k 9 x"), int(10))
        XCTAssertEqual(h.run("SETRANGE k 10 x"), tooLong)
        XCTAssertEqual(h.run("SETRANGE n 10 x"), tooLong)
        XCTAssertEqual(h.run("SETRANGE n 9223372036854775807 x"), tooLong)
        XCTAssertFalse(exists(h, "n"))
        XCTAssertEqual(h.run("SETRANGE n 8 xy"), int(10))
        // LCS's table (4 bytes per cell) is held to the same limit.
        XCTAssertEqual(h.run("LCS k n"), err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"))
        XCTAssertEqual(h.run("LCS k nope"), err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"))
        XCTAssertEqual(h.run("LCS nope nope2"), bulk(""))
    }

    func testSetrange() {
        let h = Harness()
        XCTAssertEqual(h.run("SETRANGE k 0 hello"), int(5))
        XCTAssertEqual(h.run("SETRANGE k 6 world"), int(11))
        XCTAssertEqual(h.run("GET k"), .bulk(Array("hello\0world".utf8)))
        XCTAssertEqual(h.run("SETRANGE k 1 EL"), int(11))
        XCTAssertEqual(h.run("GETRANGE k 0 4"), bulk("hELlo"))
        XCTAssertEqual(h.run("SETRANGE k -1 x"), err("ERR offset is out of range"))
        XCTAssertEqual(h.run("SETRANGE k abc x"), notInt)
        XCTAssertEqual(h.run("SETRANGE k 9223372036854775808 x"), notInt)
        XCTAssertEqual(h.run(["SETRANGE", "k", "100", ""]), int(11), "setting nothing replies with the length")
        XCTAssertEqual(h.run(["SETRANGE", "missing", "5", ""]), int(0))
        XCTAssertEqual(h.run(["SETRANGE", "missing", "-1", ""]), err("ERR offset is out of range"))
        XCTAssertFalse(exists(h, "missing"))
        XCTAssertEqual(h.run("SETRANGE p 3 x"), int(4))
        XCTAssertEqual(h.run("GET p"), .bulk([0, 0, 0, 120]))
        XCTAssertEqual(h.run("SET n 100 EX 100"), ok)
        XCTAssertEqual(h.run("SETRANGE n 1 5"), int(3))
        XCTAssertEqual(h.run("INCR n"), int(151))
        XCTAssertEqual(expireAt(h, "n"), t0 + 100_000, "SETRANGE keeps the TTL")
        XCTAssertEqual(h.effects, ["SETRANGE k 0 hello", "SETRANGE k 6 world", "SETRANGE k 1 EL", "SETRANGE p 3 x",
                                   "SET n 100 PXAT \(t0 + 100_000)", "SETRANGE n 1 5", "INCR n"])
    }

    func testGetrangeAndSubstr() {
        let h = Harness()
        XCTAssertEqual(h.run(["SET", "r", "Hello World"]), ok)
        let cases: [(String, String, String)] = [
            ("0", "4", "Hello"), ("-5", "-1", "World"), ("0", "-1", "Hello World"), ("0", "100", "Hello World"),
            ("5", "3", ""), ("-100", "-200", ""), ("-1", "-5", ""), ("-100", "2", "Hel"), ("3", "-100", ""),
            ("10", "10", "d"), ("11", "11", ""), ("100", "200", ""), ("-1", "-1", "d"), ("0", "0", "H"),
            ("-9223372036854775808", "9223372036854775807", "Hello World"),
            ("9223372036854775807", "-9223372036854775808", ""),
        ]
        for (start, end, expected) in cases {
            XCTAssertEqual(h.run(["GETRANGE", "r", start, end]), bulk(expected), "GETRANGE \(start) \(end)")
            XCTAssertEqual(h.run(["SUBSTR", "r", start, end]), bulk(expected), "SUBSTR \(start) \(end)")
        }
        XCTAssertEqual(h.run("GETRANGE r a 1"), notInt)
        XCTAssertEqual(h.run("GETRANGE r 1 b"), notInt)
        XCTAssertEqual(h.run("GETRANGE missing 0 -1"), bulk(""))
        XCTAssertEqual(h.run("GETRANGE missing a 1"), notInt, "arguments are parsed before the lookup")
        XCTAssertEqual(h.run(["SET", "e", ""]), ok)
        XCTAssertEqual(h.run("GETRANGE e 0 -1"), bulk(""))
        XCTAssertEqual(h.run("GETRANGE e -1 0"), bulk(""))
        XCTAssertEqual(h.run("SET i 12345"), ok)
        XCTAssertEqual(h.run("GETRANGE i 1 3"), bulk("234"))
        XCTAssertEqual(h.run("SUBSTR i 1"), err("ERR wrong number of arguments for 'substr' command"))
    }

    // MARK: LCS

    func testLcsPlainAndLen() {
        let h = Harness()
        XCTAssertEqual(h.run("MSET k1 ohmytext k2 mynewtext a1 ABCBDAB b1 BDCABA c1 abc c2 xyz"), ok)
        XCTAssertEqual(h.run("LCS k1 k2"), bulk("mytext"))
        XCTAssertEqual(h.run("LCS k1 k2 LEN"), int(6))
        XCTAssertEqual(h.run("LCS k1 k2 len len"), int(6))
        XCTAssertEqual(h.run("LCS k1 k2 WITHMATCHLEN"), bulk("mytext"))
        XCTAssertEqual(h.run("LCS k1 k2 MINMATCHLEN 2"), bulk("mytext"))
        XCTAssertEqual(h.run("LCS a1 b1"), bulk("BDAB"))
        XCTAssertEqual(h.run("LCS c1 c2"), bulk(""))
        XCTAssertEqual(h.run("LCS k1 nope"), bulk(""))
        XCTAssertEqual(h.run("LCS nope nope2 LEN"), int(0))
        XCTAssertEqual(h.run("LCS k1 k2 LEN IDX"), err("ERR If you want both the length and indexes, please just use IDX."))
        XCTAssertEqual(h.run("LCS k1 k2 FOO"), syntax)
        XCTAssertEqual(h.run("LCS k1 k2 IDX MINMATCHLEN"), syntax)
        XCTAssertEqual(h.run("LCS k1 k2 IDX MINMATCHLEN abc"), notInt)
        XCTAssertEqual(h.run("LCS k1"), err("ERR wrong number of arguments for 'lcs' command"))
    }

    private func range(_ a: Int64, _ b: Int64) -> RESPValue { .array([.integer(a), .integer(b)]) }

    func testLcsIdxResp2() {
        let h = Harness()
        XCTAssertEqual(h.run("MSET k1 ohmytext k2 mynewtext"), ok)
        let matches: [RESPValue] = [
            .array([range(4, 7), range(5, 8)]),
            .array([range(2, 3), range(0, 1)]),
        ]
        XCTAssertEqual(h.run("LCS k1 k2 IDX"), .array([bulk("matches"), .array(matches), bulk("len"), int(6)]))
        XCTAssertEqual(h.run("LCS k1 k2 IDX MINMATCHLEN 4 WITHMATCHLEN"),
                       .array([bulk("matches"), .array([.array([range(4, 7), range(5, 8), int(4)])]), bulk("len"), int(6)]))
        XCTAssertEqual(h.run("LCS k1 k2 idx minmatchlen -5 withmatchlen"),
                       .array([bulk("matches"), .array([.array([range(4, 7), range(5, 8), int(4)]),
                                                        .array([range(2, 3), range(0, 1), int(2)])]),
                               bulk("len"), int(6)]))
        XCTAssertEqual(h.run("LCS k1 k2 IDX MINMATCHLEN 100"),
                       .array([bulk("matches"), .array([]), bulk("len"), int(6)]))
        XCTAssertEqual(h.run("LCS nope nope2 IDX"), .array([bulk("matches"), .array([]), bulk("len"), int(0)]))
        XCTAssertEqual(h.run("MSET a aaaaaaaaaa b aaa x x1234yy5678zzz y 1234--5678"), ok)
        XCTAssertEqual(h.run("LCS a b IDX WITHMATCHLEN"),
                       .array([bulk("matches"), .array([.array([range(7, 9), range(0, 2), int(3)])]), bulk("len"), int(3)]))
        XCTAssertEqual(h.run("LCS x y IDX WITHMATCHLEN"),
                       .array([bulk("matches"), .array([.array([range(7, 10), range(6, 9), int(4)]),
                                                        .array([range(1, 4), range(0, 3), int(4)])]),
                               bulk("len"), int(8)]))
    }

    func testLcsIdxResp3IsAMap() {
        let h = Harness()
        XCTAssertEqual(h.run("MSET k1 ohmytext k2 mynewtext"), ok)
        _ = h.run("HELLO 3")
        let reply = h.run("LCS k1 k2 IDX WITHMATCHLEN")
        guard case .map(let pairs)? = reply else { return XCTFail("LCS IDX must reply with a map in RESP3: \(String(describing: reply))") }
        XCTAssertEqual(pairs.count, 2)
        XCTAssertEqual(pairs[0].0, bulk("matches"))
        XCTAssertEqual(pairs[0].1, .array([.array([range(4, 7), range(5, 8), int(4)]),
                                           .array([range(2, 3), range(0, 1), int(2)])]))
        XCTAssertEqual(pairs[1].0, bulk("len"))
        XCTAssertEqual(pairs[1].1, int(6))
        XCTAssertEqual(h.run("LCS k1 k2 LEN"), int(6))
        XCTAssertEqual(h.run("GET nope"), .null)
    }

    // MARK: command table

    func testCommandMetadata() {
        let table = BuiltinCommands.table()
        let expected: [(String, Int, CommandFlags, KeyPositions)] = [
            ("get", 2, [.readonly, .fast], .single), ("set", -3, [.write, .denyoom], .single),
            ("setnx", 3, [.write, .denyoom, .fast], .single), ("setex", 4, [.write, .denyoom], .single),
            ("psetex", 4, [.write, .denyoom], .single), ("mget", -2, [.readonly, .fast], .all),
            ("mset", -3, [.write, .denyoom], KeyPositions(first: 1, last: -1, step: 2)),
            ("msetnx", -3, [.write, .denyoom], KeyPositions(first: 1, last: -1, step: 2)),
            ("getset", 3, [.write, .denyoom, .fast], .single), ("getdel", 2, [.write, .fast], .single),
            ("getex", -2, [.write, .fast], .single), ("incr", 2, [.write, .denyoom, .fast], .single),
            ("decr", 2, [.write, .denyoom, .fast], .single), ("incrby", 3, [.write, .denyoom, .fast], .single),
            ("decrby", 3, [.write, .denyoom, .fast], .single), ("incrbyfloat", 3, [.write, .denyoom, .fast], .single),
            ("append", 3, [.write, .denyoom, .fast], .single), ("strlen", 2, [.readonly, .fast], .single),
            ("getrange", 4, [.readonly], .single), ("setrange", 4, [.write, .denyoom], .single),
            ("substr", 4, [.readonly], .single), ("lcs", -3, [.readonly], KeyPositions(first: 1, last: 2, step: 1)),
        ]
        for (name, arity, flags, keys) in expected {
            guard let spec = table.lookup(name) else { XCTFail("missing \(name)"); continue }
            XCTAssertEqual(spec.arity, arity, name)
            XCTAssertEqual(spec.flags, flags, name)
            XCTAssertEqual(spec.keys, keys, name)
            XCTAssertEqual(spec.group, "string", name)
            XCTAssertTrue(spec.allCategories.contains("@string"), name)
        }
    }
}
