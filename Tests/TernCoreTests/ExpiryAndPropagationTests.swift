import NIOCore
import RESP
import TernCore
import TernStorage
import XCTest

final class ExpiryAndPropagationTests: XCTestCase {
    private func store(_ h: Harness, _ key: String, expireIn millis: Int64?, db: Int = 0) {
        let keyspace = h.server.keyspace(db)
        h.server.commandTimeMillis = h.clock.nowMillis()
        keyspace.store(Bytes(key), .string("v"),
                       expiry: millis.map { .at(h.clock.nowMillis() + $0) } ?? .clear)
        h.propagation.reset()
    }

    func testLazyExpiryPropagatesDel() {
        let h = Harness()
        store(h, "k", expireIn: 100)
        XCTAssertNotNil(h.server.keyspace(0).lookupRead("k"))
        h.clock.advance(millis: 100)
        h.server.commandTimeMillis = h.clock.nowMillis()
        XCTAssertNotNil(h.server.keyspace(0).lookupRead("k"), "at the expiry instant the key still exists")
        h.clock.advance(millis: 1)
        h.server.commandTimeMillis = h.clock.nowMillis()
        XCTAssertNil(h.server.keyspace(0).lookupRead("k"))
        XCTAssertEqual(h.effects, ["DEL k"])
        XCTAssertEqual(h.server.stats.expiredKeys, 1)
        XCTAssertEqual(h.engine.database(0).keyCount, 0)
    }

    func testActiveExpireCycleDeletesDueKeysOnly() {
        let h = Harness()
        for i in 0..<200 { store(h, "due:\(i)", expireIn: 50) }
        for i in 0..<50 { store(h, "later:\(i)", expireIn: 10_000) }
        for i in 0..<30 { store(h, "forever:\(i)", expireIn: nil) }
        store(h, "other-db", expireIn: 50, db: 3)
        h.clock.advance(millis: 60)
        var total = 0
        for _ in 0..<50 where h.engine.database(0).keyCount > 80 { total += h.server.activeExpireCycle() }
        XCTAssertEqual(h.engine.database(0).keyCount, 80, "only the due keys go")
        XCTAssertEqual(h.engine.database(3).keyCount, 0)
        XCTAssertEqual(total, 201)
        XCTAssertEqual(Set(h.effects).count, 201)
        XCTAssertTrue(h.effects.allSatisfy { $0.hasPrefix("DEL due:") || $0 == "DEL other-db" })
        // Each expiry is a unit of its own: never wrapped in MULTI/EXEC.
        XCTAssertTrue(h.propagation.units.allSatisfy { $0.count == 1 })
    }

    func testReplicaNeverExpiresKeys() {
        let h = Harness()
        store(h, "k", expireIn: 10)
        h.server.isReplica = true
        h.clock.advance(millis: 20)
        h.server.commandTimeMillis = h.clock.nowMillis()
        XCTAssertEqual(h.server.activeExpireCycle(), 0)
        XCTAssertNil(h.server.keyspace(0).lookupRead("k"), "reads see a logically expired key as missing")
        XCTAssertEqual(h.engine.database(0).keyCount, 1, "but the key stays until the master's DEL")
        XCTAssertEqual(h.effects, [])
    }

    func testUnitWithSeveralEffectsIsWrappedInMultiExec() {
        let h = Harness()
        h.server.beginUnit()
        h.server.propagate(Effect(db: 0, ["SET", "a", "1"]))
        h.server.propagate(Effect(db: 0, ["SET", "b", "2"]))
        XCTAssertEqual(h.effects, [], "nothing leaves before the unit ends")
        h.server.endUnit()
        XCTAssertEqual(h.effects, ["MULTI", "SET a 1", "SET b 2", "EXEC"])
        XCTAssertEqual(h.propagation.units.count, 1)
    }

    func testKeepTTLOverAnExpiredKeyDoesNotInheritItsTTL() {
        let h = Harness()
        h.run("SET k v PX 10")
        h.clock.advance(millis: 11)
        h.propagation.reset()
        XCTAssertEqual(h.run("SET k v2 KEEPTTL"), ok)
        XCTAssertEqual(h.run("TTL k"), .integer(-1))
        XCTAssertEqual(h.run("GET k"), bulk("v2"))
        XCTAssertEqual(h.propagation.units.map { $0.map(\.description) }, [["[0] DEL k"], ["[0] SET k v2 KEEPTTL"]])
        XCTAssertEqual(h.server.stats.expiredKeys, 1)
    }
}
