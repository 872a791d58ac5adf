import NIOCore
import RESP
@testable import TernCore
import TernStorage
import XCTest

/// Client-side caching in process: the key table, BCAST, NOLOOP, OPTIN/OPTOUT, flush, expiry, the table limit
/// and the pause FAILOVER uses. Over real connections and against a stock Redis: Tests/integration.
final class TrackingTests: XCTestCase {
    func invalidate(_ keys: String...) -> RESPValue {
        .push([bulk("invalidate"), .array(keys.map { bulk($0) })])
    }

    func resp3(_ h: Harness, _ index: Int) {
        _ = h.run("HELLO 3", as: index)
    }

    func testAReadKeyIsInvalidatedOnceByAnotherClientsWrite() {
        let h = Harness()
        let writer = h.connect()
        resp3(h, 0)
        XCTAssertEqual(h.run("CLIENT TRACKING ON"), ok)
        _ = h.run("GET k")
        XCTAssertEqual(h.server.tracking?.keyCount, 1)
        _ = h.run("SET k 1", as: writer)
        XCTAssertEqual(h.pushed(0), [invalidate("k")])
        _ = h.run("SET k 2", as: writer)
        XCTAssertEqual(h.pushed(0), [], "a key is invalidated once until read again")
        XCTAssertEqual(h.server.tracking?.keyCount, 0)
        XCTAssertEqual(h.server.tracking?.totalItems, 0)
    }

    func testOwnWriteFollowsTheReplyUnlessNoLoop() {
        let h = Harness()
        resp3(h, 0)
        _ = h.run("CLIENT TRACKING ON")
        _ = h.run("GET k")
        XCTAssertEqual(h.runAll("SET k 1"), [ok, invalidate("k")])
        _ = h.run("CLIENT TRACKING ON NOLOOP")
        _ = h.run("GET k")
        XCTAssertEqual(h.runAll("SET k 2"), [ok])
    }

    func testExpiryIsNotHiddenByNoLoop() {
        let h = Harness()
        resp3(h, 0)
        _ = h.run("CLIENT TRACKING ON NOLOOP")
        _ = h.run("SET k v PX 10")
        _ = h.run("GET k")
        h.clock.advance(millis: 20)
        // The lazy expiry of the client's own read is the server's doing: the message follows the reply.
        XCTAssertEqual(h.runAll("GET k"), [.null, invalidate("k")])
    }

    func testBroadcastGroupsKeysByPrefixAndHonoursNoLoop() {
        let h = Harness()
        let other = h.connect()
        resp3(h, 0)
        resp3(h, other)
        XCTAssertEqual(h.run("CLIENT TRACKING ON BCAST PREFIX a: PREFIX b:"), ok)
        XCTAssertEqual(h.run("CLIENT TRACKING ON BCAST NOLOOP", as: other), ok)
        _ = h.run("MSET b:2 x a:1 y c z", as: other)
        // Without a scheduler (unit tests) broadcasts leave at the end of the command.
        XCTAssertEqual(h.pushed(0), [invalidate("a:1"), invalidate("b:2")])
        XCTAssertEqual(h.pushed(other), [])
        XCTAssertEqual(h.server.tracking?.prefixCount, 3)
        _ = h.run("CLIENT TRACKING OFF")
        XCTAssertEqual(h.server.tracking?.prefixCount, 1)
    }

    func testOptInNeedsCachingYesForTheNextCommandOnly() {
        let h = Harness()
        let writer = h.connect()
        resp3(h, 0)
        _ = h.run("CLIENT TRACKING ON OPTIN")
        _ = h.run("GET a")
        XCTAssertEqual(h.run("CLIENT CACHING YES"), ok)
        _ = h.run("GET b")
        _ = h.run("GET c")
        _ = h.run("MSET a 1 b 1 c 1", as: writer)
        XCTAssertEqual(h.pushed(0), [invalidate("b")])
    }

    func testFlushAllSendsOneNull() {
        let h = Harness()
        let writer = h.connect()
        resp3(h, 0)
        _ = h.run("CLIENT TRACKING ON")
        _ = h.run("GET k")
        _ = h.run("FLUSHALL", as: writer)
        XCTAssertEqual(h.pushed(0), [.push([bulk("invalidate"), .null])])
        XCTAssertEqual(h.server.tracking?.keyCount, 0)
        _ = h.run("SWAPDB 0 1", as: writer)
        XCTAssertEqual(h.pushed(0), [])
    }

    func testRedirectionAndItsBreaking() {
        let h = Harness()
        let sink = h.connect()
        let writer = h.connect()
        resp3(h, 0)
        _ = h.run("SUBSCRIBE __redis__:invalidate", as: sink)
        let id = h.client(sink).id
        XCTAssertEqual(h.run("CLIENT TRACKING ON REDIRECT \(id)"), ok)
        XCTAssertEqual(h.run("CLIENT GETREDIR"), .integer(Int64(id)))
        _ = h.run("GET k")
        _ = h.run("SET k 1", as: writer)
        XCTAssertEqual(h.pushed(sink), [.array([bulk("message"), bulk("__redis__:invalidate"), .array([bulk("k")])])])
        h.server.removeClient(h.client(sink))
        _ = h.run("GET k")
        _ = h.run("SET k 2", as: writer)
        XCTAssertEqual(h.pushed(0), [.push([bulk("tracking-redir-broken"), .integer(Int64(id))])])
        XCTAssertTrue(h.client(0).flagString.contains("R"))
    }

    func testTableLimitEvictsWithInvalidations() {
        let h = Harness()
        resp3(h, 0)
        _ = h.run("CLIENT TRACKING ON")
        for i in 0..<5 { _ = h.run("GET k\(i)") }
        XCTAssertEqual(h.run("CONFIG SET tracking-table-max-keys 2"), ok)
        let replies = h.runAll("PING")
        XCTAssertEqual(h.server.tracking?.keyCount, 2)
        XCTAssertEqual(replies.count, 4, "the reply, then three invalidations: \(replies)")
        XCTAssertEqual(replies.first, .simple("PONG"))
    }

    func testResetAndDisconnectTurnTrackingOff() {
        let h = Harness()
        _ = h.run("CLIENT TRACKING ON BCAST")
        XCTAssertEqual(h.server.tracking?.clientCount, 1)
        _ = h.run("RESET")
        XCTAssertEqual(h.server.tracking?.clientCount, 0)
        XCTAssertEqual(h.server.tracking?.prefixCount, 0)
        XCTAssertEqual(h.run("CLIENT GETREDIR"), .integer(-1))
    }

    func testFailoverPauseHoldsWritesOnlyAndIsNotEndedByUnpause() {
        let h = Harness()
        h.server.writesPausedForFailover = true
        let context = CommandContext(server: h.server, client: h.client(0))
        XCTAssertEqual(h.server.execute(context, [ByteBuffer(string: "SET"), ByteBuffer(string: "k"), ByteBuffer(string: "v")]), .paused)
        XCTAssertEqual(h.run("GET k"), .null)
        _ = h.run("CLIENT UNPAUSE")
        XCTAssertTrue(h.server.writesPausedForFailover)
        XCTAssertTrue(h.server.expiryPaused)
        h.server.writesPausedForFailover = false
        XCTAssertEqual(h.run("SET k v"), ok)
    }
}
