import NIOCore
import RESP
@testable import TernCore
import TernStorage
import XCTest

final class TransactionTests: XCTestCase {
    /// MULTI, the given commands (each must queue), EXEC; returns EXEC's reply.
    func transaction(_ h: Harness, _ commands: [String], as index: Int = 0) -> RESPValue? {
        XCTAssertEqual(h.run("MULTI", as: index), ok)
        for c in commands { XCTAssertEqual(h.run(c, as: index), .simple("QUEUED"), c) }
        return h.run("EXEC", as: index)
    }

    func testWatchInsideMultiIsRefusedWithoutDoomingTheTransaction() {
        let h = Harness()
        XCTAssertEqual(h.run("WATCH k"), ok)
        XCTAssertEqual(h.run("MULTI"), ok)
        XCTAssertEqual(h.run("WATCH x"), err("ERR WATCH inside MULTI is not allowed"))
        XCTAssertEqual(h.run("SET k 1"), .simple("QUEUED"))
        XCTAssertEqual(h.run("EXEC"), arr(ok))
        XCTAssertEqual(h.run("WATCH"), err("ERR wrong number of arguments for 'watch' command"))
    }

    func testModifiedByAnotherClientAbortsExec() {
        let h = Harness()
        let b = h.connect()
        XCTAssertEqual(h.run("WATCH k other"), ok)
        XCTAssertEqual(h.run("SET k 2", as: b), ok)
        XCTAssertTrue(h.client(0).flags.contains(.dirtyCAS))
        XCTAssertEqual(transaction(h, ["SET k 1"]), .null)
        XCTAssertEqual(h.run("GET k"), bulk("2"))
        XCTAssertFalse(h.client(0).flags.contains(.dirtyCAS))
        // Unwatched by EXEC: the next transaction runs.
        XCTAssertEqual(h.run("SET k 3", as: b), ok)
        XCTAssertEqual(transaction(h, ["SET k 1"]), arr(ok))
    }

    func testModifiedBySelfBeforeMultiAborts() {
        let h = Harness()
        _ = h.run("WATCH s")
        _ = h.run("SET s self")
        XCTAssertEqual(transaction(h, ["GET s"]), .null)
    }

    func testNullArrayInRESP3() {
        let h = Harness()
        let b = h.connect()
        _ = h.run("HELLO 3")
        _ = h.run("WATCH k")
        _ = h.run("DEL k", as: b)   // deleting a missing key changes nothing
        XCTAssertEqual(transaction(h, ["PING"]), arr(.simple("PONG")))
        _ = h.run("WATCH k")
        _ = h.run("SET k v", as: b)
        XCTAssertEqual(h.run("MULTI"), ok)
        XCTAssertEqual(h.run("EXEC"), .null)
    }

    func testUnmodifiedWatchAndUnwatch() {
        let h = Harness()
        let b = h.connect()
        _ = h.run("WATCH k")
        _ = h.run("GET k", as: b)
        XCTAssertEqual(transaction(h, ["SET k 1"]), arr(ok))
        _ = h.run("WATCH q")
        XCTAssertEqual(h.run("UNWATCH"), ok)
        _ = h.run("SET q 1", as: b)
        XCTAssertEqual(transaction(h, ["PING"]), arr(.simple("PONG")))
        // UNWATCH inside MULTI is queued.
        XCTAssertEqual(transaction(h, ["UNWATCH"]), arr(ok))
    }

    func testDiscardUnwatches() {
        let h = Harness()
        let b = h.connect()
        _ = h.run("WATCH s")
        _ = h.run("MULTI")
        XCTAssertEqual(h.run("DISCARD"), ok)
        _ = h.run("SET s z", as: b)
        XCTAssertEqual(transaction(h, ["PING"]), arr(.simple("PONG")))
    }

    func testExecAbortUnwatches() {
        let h = Harness()
        let b = h.connect()
        _ = h.run("WATCH s")
        _ = h.run("MULTI")
        XCTAssertEqual(h.run("FOO"), err("ERR unknown command 'FOO', with args beginning with: "))
        XCTAssertEqual(h.run("EXEC"), err("EXECABORT Transaction discarded because of previous errors."))
        _ = h.run("SET s z", as: b)
        XCTAssertEqual(transaction(h, ["PING"]), arr(.simple("PONG")))
    }

    func testResetAndDisconnectUnwatch() {
        let h = Harness()
        let b = h.connect()
        _ = h.run("WATCH s t")
        _ = h.run("WATCH s", as: b)
        XCTAssertEqual(h.run("RESET"), .simple("RESET"))
        _ = h.run("SET s 1", as: b)
        XCTAssertEqual(transaction(h, ["PING"]), arr(.simple("PONG")))
        _ = h.run("WATCH t", as: b)
        h.server.removeClient(h.client(b))
        XCTAssertTrue(h.server.watches.byKey.isEmpty)
        XCTAssertTrue(h.server.watches.byClient.isEmpty)
    }

    func testKeyExpiringAfterWatchCountsAsModified() {
        let h = Harness()
        _ = h.run("SET e v PX 100")
        _ = h.run("WATCH e")
        h.clock.advance(millis: 200)
        // Nobody touched the key: it is merely past its time at EXEC.
        XCTAssertEqual(transaction(h, ["PING"]), .null)
    }

    func testKeyExpiredLazilyAfterWatchCountsAsModified() {
        let h = Harness()
        let b = h.connect()
        _ = h.run("SET e v PX 100")
        _ = h.run("WATCH e")
        h.clock.advance(millis: 200)
        XCTAssertEqual(h.run("GET e", as: b), .null)
        XCTAssertTrue(h.client(0).flags.contains(.dirtyCAS))
        XCTAssertEqual(transaction(h, ["PING"]), .null)
    }

    func testKeyActivelyExpiredAfterWatchCountsAsModified() {
        let h = Harness()
        _ = h.run("SET e v PX 100")
        _ = h.run("WATCH e")
        h.clock.advance(millis: 200)
        XCTAssertEqual(h.server.activeExpireCycle(), 1)
        XCTAssertEqual(transaction(h, ["PING"]), .null)
    }

    func testKeyAlreadyExpiredAtWatchTime() {
        let h = Harness()
        let b = h.connect()
        _ = h.run("SET f v PX 100")
        h.clock.advance(millis: 200)
        _ = h.run("WATCH f")
        // Its lazy deletion is no logical change.
        XCTAssertEqual(h.run("GET f", as: b), .null)
        XCTAssertEqual(transaction(h, ["PING"]), arr(.simple("PONG")))
        // But writing it again is.
        _ = h.run("SET g v PX 100")
        h.clock.advance(millis: 200)
        _ = h.run("WATCH g")
        _ = h.run("SET g w", as: b)
        XCTAssertEqual(transaction(h, ["PING"]), .null)
    }

    func testFlushes() {
        let h = Harness()
        let b = h.connect()
        // A watched key that doesn't exist isn't touched by a flush.
        _ = h.run("WATCH nokey")
        _ = h.run("FLUSHDB", as: b)
        XCTAssertEqual(transaction(h, ["PING"]), arr(.simple("PONG")))
        _ = h.run("SET k v", as: b)
        _ = h.run("WATCH k")
        _ = h.run("FLUSHALL", as: b)
        XCTAssertEqual(transaction(h, ["PING"]), .null)
        _ = h.run("SET k v", as: b)
        _ = h.run("WATCH k")
        _ = h.run("SELECT 2", as: b)
        _ = h.run("FLUSHDB", as: b)   // another database
        XCTAssertEqual(transaction(h, ["PING"]), arr(.simple("PONG")))
        // An already-expired watched key going away with the flush is no change.
        _ = h.run("SET h v PX 100")
        h.clock.advance(millis: 200)
        _ = h.run("WATCH h")
        _ = h.run("FLUSHALL", as: b)
        XCTAssertEqual(transaction(h, ["PING"]), arr(.simple("PONG")))
    }

    func testSwapdb() {
        let h = Harness()
        let b = h.connect()
        // The watched key exists on the other side of the swap.
        _ = h.run("SELECT 3", as: b)
        _ = h.run("SET w3 v", as: b)
        _ = h.run("WATCH w3")
        _ = h.run("SWAPDB 0 3", as: b)
        XCTAssertEqual(transaction(h, ["PING"]), .null)
        // It exists on this side and moves away.
        _ = h.run("WATCH w3")
        _ = h.run("SWAPDB 3 0", as: b)
        XCTAssertEqual(transaction(h, ["PING"]), .null)
        // Neither side has it.
        _ = h.run("WATCH none")
        _ = h.run("SWAPDB 0 5", as: b)
        XCTAssertEqual(transaction(h, ["PING"]), arr(.simple("PONG")))
    }

    func testWatchingInOtherDatabase() {
        let h = Harness()
        let b = h.connect()
        _ = h.run("SELECT 1")
        _ = h.run("WATCH k")
        _ = h.run("SET k v", as: b)   // db 0
        XCTAssertEqual(transaction(h, ["PING"]), arr(.simple("PONG")))
    }

    func testRuntimeErrorsDontAbortTheOthers() {
        let h = Harness()
        _ = h.run("SET s x")
        XCTAssertEqual(transaction(h, ["SET a 1", "INCR s", "GET a"]),
                       arr(ok, err("ERR value is not an integer or out of range"), bulk("1")))
    }

    func testEffectsOfExec() {
        let h = Harness()
        _ = transaction(h, ["SET a 1", "GET a", "SET b 2", "GET b"])
        XCTAssertEqual(h.effects, ["MULTI", "SET a 1", "SET b 2", "EXEC"])
        h.propagation.reset()
        // Reads only: nothing.
        _ = transaction(h, ["GET a", "EXISTS b"])
        XCTAssertEqual(h.effects, [])
        // One write: not wrapped (Redis 7.0 wraps only several).
        _ = transaction(h, ["GET a", "INCR a", "GET a"])
        XCTAssertEqual(h.effects, ["INCR a"])
        h.propagation.reset()
        // Rewritten effects keep their form inside the unit.
        _ = transaction(h, ["SET x 1 EX 10", "INCRBYFLOAT a 1.5"])
        let at = h.clock.nowMillis() + 10_000
        XCTAssertEqual(h.effects, ["MULTI", "SET x 1 PXAT \(at)", "SET a 3.5 KEEPTTL", "EXEC"])
        h.propagation.reset()
        // A watched-and-aborted transaction propagates nothing.
        let b = h.connect()
        _ = h.run("WATCH a")
        _ = h.run("GET a", as: b)
        _ = h.run("SET a 9", as: b)
        h.propagation.reset()
        XCTAssertEqual(transaction(h, ["SET a 1", "SET c 1"]), .null)
        XCTAssertEqual(h.effects, [])
    }

    func testRefusedExecAbortsTheTransaction() {
        let h = Harness()
        _ = h.run("MULTI")
        XCTAssertEqual(h.run("EXEC x"), err("EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"))
        XCTAssertFalse(h.client(0).flags.contains(.multi))
        XCTAssertEqual(h.run("EXEC"), err("ERR EXEC without MULTI"))
        _ = h.run("MULTI")
        _ = h.run("SUBSCRIBE x")
        XCTAssertEqual(h.run("EXEC"), arr(arr(bulk("subscribe"), bulk("x"), int(1))))
        XCTAssertEqual(h.run("EXEC"), err("EXECABORT Transaction discarded because of: Can't execute 'exec': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"))
        guard case .bulk(let info)? = h.run(["RESET"]).flatMap({ _ in h.run("INFO errorstats") }) else { return XCTFail() }
        XCTAssertTrue(String(decoding: info, as: UTF8.self).contains("errorstat_EXECABORT:count=2"))
    }

    func testDirtyFlagInClientList() {
        let h = Harness()
        let b = h.connect()
        _ = h.run("WATCH k")
        _ = h.run("SET k 1", as: b)
        guard case .bulk(let text)? = h.run("CLIENT LIST ID \(h.client(0).id)", as: b) else { return XCTFail() }
        XCTAssertTrue(String(decoding: text, as: UTF8.self).contains(" flags=d "))
    }
}
