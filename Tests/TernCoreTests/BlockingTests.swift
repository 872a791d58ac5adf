import NIOCore
import RESP
import TernCore
import TernStorage
import XCTest

/// Blocking commands with several harness clients and a manual clock.
final class BlockingTests: XCTestCase {
    /// Decodes (and drains) what a parked client received after being served or timed out.
    private func pending(_ h: Harness, _ index: Int) -> RESPValue? {
        let client = h.client(index)
        var out = client.output
        var decoder = RESPValueDecoder()
        let value = try? decoder.decode(buffer: &out)
        client.output.clear()
        return value ?? nil
    }

    private func harness() -> Harness { Harness() }

    func testPopsAtOnceWhenDataIsThere() {
        let h = harness()
        h.run("RPUSH q a b")
        h.propagation.reset()
        XCTAssertEqual(h.run("BLPOP empty q 0"), .array([bulk("q"), bulk("a")]))
        XCTAssertEqual(h.run("BRPOP q 0"), .array([bulk("q"), bulk("b")]))
        XCTAssertEqual(h.effects, ["LPOP q", "RPOP q"], "served as the non-blocking pops")
        XCTAssertEqual(h.engine.database(0).keyCount, 0, "the emptied list is gone")
    }

    func testWaitersAreServedInArrivalOrderByAPushFromAnotherClient() {
        let h = harness()
        let a = h.connect(), b = h.connect()
        XCTAssertNil(h.run("BLPOP q 0", as: a), "no reply while blocked")
        XCTAssertNil(h.run("BLPOP other q 0", as: b))
        XCTAssertTrue(h.client(a).flags.contains(.blocked))
        h.propagation.reset()
        XCTAssertEqual(h.run("RPUSH q x"), .integer(1))
        XCTAssertEqual(pending(h, a), .array([bulk("q"), bulk("x")]), "first come, first served")
        XCTAssertNil(pending(h, b), "the second waiter keeps waiting")
        XCTAssertFalse(h.client(a).flags.contains(.blocked))
        XCTAssertTrue(h.client(b).flags.contains(.blocked))
        XCTAssertEqual(h.effects, ["RPUSH q x", "LPOP q"])
        h.run("RPUSH q y z")
        XCTAssertEqual(pending(h, b), .array([bulk("q"), bulk("y")]))
        XCTAssertEqual(h.engine.database(0).metadata("q", touch: nil)?.count, 1, "z is left")
    }

    func testTimeoutRepliesNullArray() {
        let h = harness()
        let a = h.connect()
        XCTAssertNil(h.run("BLPOP q 0.5", as: a))
        h.clock.advance(millis: 400)
        h.server.expireBlockedClients()
        XCTAssertNil(pending(h, a), "not yet")
        h.clock.advance(millis: 100)
        h.server.expireBlockedClients()
        XCTAssertEqual(pending(h, a), .null, "RESP2 null array")
        XCTAssertFalse(h.client(a).flags.contains(.blocked))
        h.run("RPUSH q x")
        XCTAssertNil(pending(h, a), "a timed-out client is no longer served")
        XCTAssertEqual(h.run("BLPOP q 0.5"), .array([bulk("q"), bulk("x")]))
    }

    func testTimeoutErrors() {
        let h = harness()
        XCTAssertEqual(h.run("BLPOP q -1"), err("ERR timeout is negative"))
        XCTAssertEqual(h.run("BLPOP q abc"), err("ERR timeout is not a float or out of range"))
        XCTAssertEqual(h.run("BZPOPMIN z x"), err("ERR timeout is not a float or out of range"))
        XCTAssertEqual(h.run("BLMPOP 0 0 q LEFT"), err("ERR numkeys should be greater than 0"))
        XCTAssertEqual(h.run("BLMPOP 0 1 q MIDDLE"), err("ERR syntax error"))
        XCTAssertEqual(h.run("BLMPOP 0 1 q LEFT COUNT 0"), err("ERR count should be greater than 0"))
        h.run("SET s v")
        XCTAssertEqual(h.run("BLPOP s 0"), err("WRONGTYPE Operation against a key holding the wrong kind of value"))
    }

    func testInsideExecNeverBlocks() {
        let h = harness()
        h.run("MULTI")
        h.run("BLPOP q 0")
        h.run("BRPOPLPUSH q d 0")
        h.run("BZPOPMIN z 0")
        XCTAssertEqual(h.run("EXEC"), .array([.null, .null, .null]))
        XCTAssertFalse(h.client().flags.contains(.blocked))
    }

    func testPushInsideMultiExecWakesWaiter() {
        let h = harness()
        let a = h.connect()
        XCTAssertNil(h.run("BRPOP q 0", as: a))
        h.run("MULTI")
        h.run("RPUSH q 1 2")
        h.run("RPUSH q 3")
        XCTAssertEqual(h.run("EXEC"), .array([.integer(2), .integer(3)]))
        XCTAssertEqual(pending(h, a), .array([bulk("q"), bulk("3")]), "served after the whole transaction")
    }

    func testBlmoveAndBrpoplpush() {
        let h = harness()
        let a = h.connect()
        XCTAssertNil(h.run("BLMOVE src dst RIGHT LEFT 0", as: a))
        h.propagation.reset()
        h.run("RPUSH src a b")
        XCTAssertEqual(pending(h, a), bulk("b"))
        XCTAssertEqual(h.effects, ["RPUSH src a b", "LMOVE src dst RIGHT LEFT"])
        XCTAssertEqual(h.run("BRPOPLPUSH src dst 0"), bulk("a"))
        XCTAssertEqual(h.effects.last, "RPOPLPUSH src dst")
        XCTAssertEqual(h.run("BLMOVE src dst UP LEFT 0"), err("ERR syntax error"))
        h.run("SET str v")
        h.run("RPUSH src c")
        XCTAssertEqual(h.run("BLMOVE src str LEFT LEFT 0"), err("WRONGTYPE Operation against a key holding the wrong kind of value"))
    }

    func testBlmpopAndSortedSetPops() {
        let h = harness()
        h.run("RPUSH l a b c")
        XCTAssertEqual(h.run("BLMPOP 0 2 none l RIGHT COUNT 2"), .array([bulk("l"), .array([bulk("c"), bulk("b")])]))
        XCTAssertEqual(h.effects.last, "RPOP l 2")
        let a = h.connect()
        XCTAssertNil(h.run("BZPOPMAX z1 z2 0", as: a))
        h.run("ZADD z2 1 one 2 two")
        XCTAssertEqual(pending(h, a), .array([bulk("z2"), bulk("two"), bulk("2")]))
        XCTAssertEqual(h.effects.last, "ZPOPMAX z2")
        XCTAssertEqual(h.run("BZMPOP 0 1 z2 MIN COUNT 5"), .array([bulk("z2"), .array([.array([bulk("one"), bulk("1")])])]))
        XCTAssertEqual(h.effects.last, "ZPOPMIN z2 1")
    }

    func testClientUnblockAndDisconnect() {
        let h = harness()
        let a = h.connect(), b = h.connect()
        XCTAssertNil(h.run("BLPOP q 0", as: a))
        XCTAssertNil(h.run("BLPOP q 0", as: b))
        XCTAssertEqual(h.run(["CLIENT", "UNBLOCK", String(h.client(a).id), "ERROR"]), .integer(1))
        XCTAssertEqual(pending(h, a), err("UNBLOCKED client unblocked via CLIENT UNBLOCK"))
        XCTAssertEqual(h.run(["CLIENT", "UNBLOCK", String(h.client(a).id)]), .integer(0), "no longer blocked")
        XCTAssertEqual(h.run("INFO clients").flatMap { $0.string }?.contains("blocked_clients:1"), true)
        h.server.removeClient(h.client(b))
        h.run("RPUSH q x")
        XCTAssertEqual(h.engine.database(0).keyCount, 1, "a disconnected waiter takes nothing")
    }

    func testBlockedCommandsAreCountedOnceWhenTheyFinish() {
        let h = harness()
        let a = h.connect()
        let spec = h.server.commands.lookup("blpop")!
        XCTAssertNil(h.run("BLPOP q 0", as: a))
        XCTAssertEqual(spec.stat.calls, 0, "not counted while parked")
        h.run("RPUSH q x")
        XCTAssertEqual(pending(h, a), .array([bulk("q"), bulk("x")]))
        XCTAssertEqual(spec.stat.calls, 1, "counted once, when served")
        XCTAssertNil(h.run("BLPOP q 0", as: a))
        XCTAssertEqual(h.run(["CLIENT", "UNBLOCK", String(h.client(a).id), "ERROR"]), .integer(1))
        XCTAssertEqual(spec.stat.calls, 2)
        XCTAssertEqual(spec.stat.failedCalls, 1, "an UNBLOCK ... ERROR is a failed call")
        XCTAssertEqual(h.run("BZMPOP x 1 k MIN COUNT -5"), err("ERR count should be greater than 0"),
                       "BZMPOP checks its other arguments before the timeout")
    }
}
