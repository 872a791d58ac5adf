import NIOCore
import RESP
import TernCore
import TernStorage
import XCTest

final class HashCommandsTests: XCTestCase {
    let wrongType = err("WRONGTYPE Operation against a key holding the wrong kind of value")
    let syntax = err("ERR syntax error")
    let notInt = err("ERR value is not an integer or out of range")

    private func int(_ i: Int64) -> RESPValue { .integer(i) }

    private func strings(_ v: RESPValue?) -> [String] {
        guard case .array(let items)? = v else { return ["<not an array: \(String(describing: v))>"] }
        return items.map { item -> String in
            guard case .bulk(let b) = item else { return "?" }
            return String(decoding: b, as: UTF8.self)
        }
    }

    /// HGETALL / HSCAN pages as a dictionary.
    private func pairs(_ v: RESPValue?) -> [String: String] {
        var out: [String: String] = [:]
        switch v {
        case .map(let p)?:
            for (f, v) in p {
                if case .bulk(let fb) = f, case .bulk(let vb) = v {
                    out[String(decoding: fb, as: UTF8.self)] = String(decoding: vb, as: UTF8.self)
                }
            }
        default:
            let flat = strings(v)
            for i in stride(from: 0, to: flat.count - 1, by: 2) { out[flat[i]] = flat[i + 1] }
        }
        return out
    }

    private func exists(_ h: Harness, _ key: String) -> Bool {
        h.engine.database(0).lookup(Bytes(key), touch: nil) != nil
    }

    // MARK: writes and reads

    func testSetGetDelete() {
        let h = Harness()
        XCTAssertEqual(h.run("HSET h a 1 b 2 a 3"), int(2), "a field repeated in one call counts once")
        XCTAssertEqual(h.run("HGET h a"), bulk("3"))
        XCTAssertEqual(h.run("HSET h a 4 c 5"), int(1))
        XCTAssertEqual(h.run("HMSET h d 6"), ok)
        XCTAssertEqual(h.run("HGET h zz"), .null)
        XCTAssertEqual(h.run("HGET nokey a"), .null)
        XCTAssertEqual(h.run("HMGET h a zz d"), .array([bulk("4"), .null, bulk("6")]))
        XCTAssertEqual(h.run("HMGET nokey a b"), .array([.null, .null]))
        XCTAssertEqual(h.run("HLEN h"), int(4))
        XCTAssertEqual(h.run("HLEN nokey"), int(0))
        XCTAssertEqual(h.run("HSTRLEN h a"), int(1))
        XCTAssertEqual(h.run("HSTRLEN h zz"), int(0))
        XCTAssertEqual(h.run("HEXISTS h a"), int(1))
        XCTAssertEqual(h.run("HEXISTS h zz"), int(0))
        XCTAssertEqual(h.run("HEXISTS nokey zz"), int(0))
        XCTAssertEqual(h.run("HSETNX h a 9"), int(0))
        XCTAssertEqual(h.run("HSETNX h e 9"), int(1))
        XCTAssertEqual(h.run("HSETNX fresh f v"), int(1))
        XCTAssertEqual(h.run("HDEL h a zz a"), int(1))
        XCTAssertEqual(h.run("HDEL nokey a"), int(0))
        XCTAssertEqual(h.run("HDEL fresh f"), int(1))
        XCTAssertFalse(exists(h, "fresh"), "an emptied hash is deleted")
        XCTAssertEqual(h.effects, ["HSET h a 1 b 2 a 3", "HSET h a 4 c 5", "HMSET h d 6", "HSETNX h e 9",
                                   "HSETNX fresh f v", "HDEL h a zz a", "HDEL fresh f"])
    }

    func testArityAndWrongType() {
        let h = Harness()
        XCTAssertEqual(h.run("HSET h a 1 b"), err("ERR wrong number of arguments for 'hset' command"))
        XCTAssertEqual(h.run("HMSET h a 1 b"), err("ERR wrong number of arguments for 'hmset' command"))
        XCTAssertEqual(h.run("HSET h a"), err("ERR wrong number of arguments for 'hset' command"))
        XCTAssertFalse(exists(h, "h"))
        h.run("SET str x")
        for line in ["HSET str a 1", "HMSET str a 1", "HSETNX str a 1", "HGET str a", "HMGET str a", "HDEL str a",
                     "HLEN str", "HSTRLEN str a", "HEXISTS str a", "HKEYS str", "HVALS str", "HGETALL str",
                     "HINCRBY str a 1", "HINCRBYFLOAT str a 1", "HRANDFIELD str", "HRANDFIELD str 0", "HSCAN str 0"] {
            XCTAssertEqual(h.run(line), wrongType, line)
        }
        // Argument errors come before the type check.
        XCTAssertEqual(h.run("HINCRBY str a x"), notInt)
        XCTAssertEqual(h.run("HINCRBYFLOAT str a x"), err("ERR value is not a valid float"))
        XCTAssertEqual(h.run("HRANDFIELD str x"), notInt)
    }

    func testGetAllKeysValues() {
        let h = Harness()
        h.run("HSET h a 1 b 2")
        XCTAssertEqual(pairs(h.run("HGETALL h")), ["a": "1", "b": "2"])
        XCTAssertEqual(strings(h.run("HKEYS h")).sorted(), ["a", "b"])
        XCTAssertEqual(strings(h.run("HVALS h")).sorted(), ["1", "2"])
        XCTAssertEqual(h.run("HGETALL nokey"), .array([]))
        XCTAssertEqual(h.run("HKEYS nokey"), .array([]))
        h.run("HELLO 3")
        guard case .map(let m)? = h.run("HGETALL h") else { return XCTFail("RESP3 HGETALL is a map") }
        XCTAssertEqual(m.count, 2)
        XCTAssertEqual(h.run("HGETALL nokey"), .map([]))
        XCTAssertEqual(h.run("HKEYS nokey"), .array([]))
        XCTAssertEqual(h.run("HVALS nokey"), .array([]))
        guard case .array? = h.run("HKEYS h") else { return XCTFail("HKEYS stays an array") }
    }

    // MARK: increments

    func testIncrBy() {
        let h = Harness()
        XCTAssertEqual(h.run("HINCRBY h n 5"), int(5))
        XCTAssertEqual(h.run("HINCRBY h n -7"), int(-2))
        XCTAssertEqual(h.run("HGET h n"), bulk("-2"))
        XCTAssertEqual(h.run("HINCRBY h n x"), notInt)
        h.run(["HSET", "h", "s", "abc", "sp", " 1", "z", "01", "big", "9223372036854775807"])
        XCTAssertEqual(h.run("HINCRBY h sp 1"), err("ERR hash value is not an integer"))
        XCTAssertEqual(h.run("HINCRBY h s 1"), err("ERR hash value is not an integer"))
        XCTAssertEqual(h.run("HINCRBY h z 1"), err("ERR hash value is not an integer"))
        XCTAssertEqual(h.run("HINCRBY h big 1"), err("ERR increment or decrement would overflow"))
        XCTAssertEqual(h.run("HINCRBY h m -9223372036854775808"), int(Int64.min))
        XCTAssertEqual(h.run("HINCRBY h m -1"), err("ERR increment or decrement would overflow"))
        XCTAssertEqual(h.effects.filter { $0.hasPrefix("HINCRBY") },
                       ["HINCRBY h n 5", "HINCRBY h n -7", "HINCRBY h m -9223372036854775808"])
    }

    func testIncrByFloat() {
        let h = Harness()
        XCTAssertEqual(h.run("HINCRBYFLOAT h f 1.5"), bulk("1.5"))
        XCTAssertEqual(h.run("HINCRBYFLOAT h f 1e1"), bulk("11.5"))
        XCTAssertEqual(h.run("HINCRBYFLOAT h g 0.1"), bulk("0.1"))
        XCTAssertEqual(h.run("HINCRBYFLOAT h g 0.2"), bulk("0.3"))
        XCTAssertEqual(h.run("HINCRBYFLOAT h t 3.0e3"), bulk("3000"))
        h.run("HSET h i 9223372036854775807 s abc")
        XCTAssertEqual(h.run("HINCRBYFLOAT h i 1"), bulk("9223372036854775808"))
        XCTAssertEqual(h.run("HINCRBYFLOAT h s 1"), err("ERR hash value is not a float"))
        XCTAssertEqual(h.run("HINCRBYFLOAT h f x"), err("ERR value is not a valid float"))
        XCTAssertEqual(h.run("HINCRBYFLOAT h f inf"), err("ERR value is NaN or Infinity"))
        XCTAssertEqual(h.run("HINCRBYFLOAT h f nan"), err("ERR value is not a valid float"))
        XCTAssertEqual(h.run(["HINCRBYFLOAT", "h", "f", " 1"]), err("ERR value is not a valid float"))
        // Always propagated as HSET with the result.
        XCTAssertEqual(h.effects, ["HSET h f 1.5", "HSET h f 11.5", "HSET h g 0.1", "HSET h g 0.3", "HSET h t 3000",
                                   "HSET h i 9223372036854775807 s abc", "HSET h i 9223372036854775808"])
    }

    // MARK: HRANDFIELD

    func testRandField() {
        let h = Harness()
        h.run("HSET h a 1 b 2 c 3")
        guard case .bulk(let one)? = h.run("HRANDFIELD h") else { return XCTFail("expected a field") }
        XCTAssertTrue(["a", "b", "c"].contains(String(decoding: one, as: UTF8.self)))
        XCTAssertEqual(h.run("HRANDFIELD nokey"), .null)
        XCTAssertEqual(h.run("HRANDFIELD nokey 3"), .array([]))
        XCTAssertEqual(h.run("HRANDFIELD h 0"), .array([]))
        XCTAssertEqual(strings(h.run("HRANDFIELD h 5")).sorted(), ["a", "b", "c"])
        XCTAssertEqual(pairs(h.run("HRANDFIELD h 5 WITHVALUES")), ["a": "1", "b": "2", "c": "3"])
        let two = strings(h.run("HRANDFIELD h 2"))
        XCTAssertEqual(Set(two).count, 2)
        let flat = strings(h.run("HRANDFIELD h 2 withvalues"))
        XCTAssertEqual(flat.count, 4)
        let repeated = strings(h.run("HRANDFIELD h -10"))
        XCTAssertEqual(repeated.count, 10)
        XCTAssertTrue(Set(repeated).isSubset(of: ["a", "b", "c"]))
        XCTAssertEqual(strings(h.run("HRANDFIELD h -4 WITHVALUES")).count, 8)
        XCTAssertEqual(h.run("HRANDFIELD h 3 WITHVALUES x"), syntax)
        XCTAssertEqual(h.run("HRANDFIELD h 3 WITHVALUE"), syntax)
        XCTAssertEqual(h.run("HRANDFIELD h x y"), notInt, "the count is parsed first")
        XCTAssertEqual(h.run("HRANDFIELD h -9223372036854775808"),
                       err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"))
        XCTAssertEqual(h.run("HRANDFIELD h -4611686018427387904 WITHVALUES"), err("ERR value is out of range"))
        // RESP3 WITHVALUES: an array of [field, value] pairs.
        h.run("HELLO 3")
        guard case .array(let nested)? = h.run("HRANDFIELD h 5 WITHVALUES") else { return XCTFail("expected an array") }
        XCTAssertEqual(nested.count, 3)
        for item in nested {
            guard case .array(let pair) = item else { return XCTFail("expected a pair") }
            XCTAssertEqual(pair.count, 2)
        }
        guard case .array(let neg)? = h.run("HRANDFIELD h -2 WITHVALUES") else { return XCTFail("expected an array") }
        XCTAssertEqual(neg.count, 2)
        XCTAssertEqual(h.run("HRANDFIELD nokey 2"), .array([]))
        XCTAssertEqual(h.effects, ["HSET h a 1 b 2 c 3"])
    }

    // MARK: HSCAN

    func testScan() {
        let h = Harness()
        h.run("HSET h a 1 b 2 c 3")
        // A listpack answers everything at once with cursor 0.
        guard case .array(let reply)? = h.run("HSCAN h 0 COUNT 1") else { return XCTFail("bad HSCAN reply") }
        XCTAssertEqual(reply[0], bulk("0"))
        XCTAssertEqual(pairs(reply[1]), ["a": "1", "b": "2", "c": "3"])
        XCTAssertEqual(h.run("HSCAN h 0 MATCH b"), .array([bulk("0"), .array([bulk("b"), bulk("2")])]))
        XCTAssertEqual(h.run("HSCAN nokey 0"), .array([bulk("0"), .array([])]))
        XCTAssertEqual(h.run("HSCAN h 0 NOVALUES"), syntax)
        XCTAssertEqual(h.run("HSCAN h x"), err("ERR invalid cursor"))

        // A big hash is walked with a cursor.
        var words = ["HSET", "big"]
        for i in 0..<600 { words += ["f\(i)", "\(i)"] }
        h.run(words)
        var cursor = "0"
        var seen: [String: String] = [:]
        var calls = 0
        repeat {
            guard case .array(let r)? = h.run(["HSCAN", "big", cursor]), case .bulk(let c) = r[0] else {
                return XCTFail("bad HSCAN reply")
            }
            cursor = String(decoding: c, as: UTF8.self)
            let page = pairs(r[1])
            XCTAssertLessThanOrEqual(page.count, 10)
            for (f, v) in page { XCTAssertNil(seen.updateValue(v, forKey: f), "\(f) returned twice") }
            calls += 1
        } while cursor != "0" && calls < 1000
        XCTAssertEqual(seen.count, 600)
        XCTAssertEqual(seen["f42"], "42")
    }

    func testEncodingAndExpiry() {
        let h = Harness()
        h.run("HSET h a 1")
        XCTAssertEqual(h.run("OBJECT ENCODING h"), bulk("listpack"))
        h.run(["HSET", "h", "long", String(repeating: "v", count: 65)])
        XCTAssertEqual(h.run("OBJECT ENCODING h"), bulk("hashtable"))
        h.run("PEXPIRE h 10")
        h.clock.advance(millis: 11)
        XCTAssertEqual(h.run("HGET h a"), .null)
        XCTAssertEqual(h.run("HINCRBY h a 1"), int(1))
        XCTAssertEqual(h.run("HLEN h"), int(1))
        XCTAssertEqual(Array(h.effects.suffix(2)), ["DEL h", "HINCRBY h a 1"])
    }
}
