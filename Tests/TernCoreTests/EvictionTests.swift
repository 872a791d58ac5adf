import RESP
import TernCore
import TernStorage
import XCTest

/// maxmemory: with noeviction, writes that may grow memory are refused once used memory is above the
/// limit; with an eviction policy, keys are evicted (and propagated as DEL) instead.
final class EvictionTests: XCTestCase {
    func testNoevictionRefusesDenyoomCommandsButServesReadsAndDeletes() {
        let h = Harness()
        h.run("SET k v")
        h.config.maxMemory = 1  // far below what the process uses
        XCTAssertEqual(h.run("SET other v"), err("OOM command not allowed when used memory > 'maxmemory'."))
        XCTAssertEqual(h.run("GET k"), bulk("v"), "reads still work")
        XCTAssertEqual(h.run("DEL k"), .integer(1), "DEL is not denyoom: it frees memory")
        h.config.maxMemory = 0
        XCTAssertEqual(h.run("SET other v"), ok)
    }

    func testAllkeysPolicyEvictsAndPropagatesDel() {
        let h = Harness()
        for i in 0..<50 { h.run("SET key:\(i) value") }
        h.propagation.reset()
        h.config.maxMemoryPolicy = "allkeys-random"
        h.config.maxMemory = 1
        _ = h.run("SET new v")
        XCTAssertGreaterThan(h.server.stats.evictedKeys, 0)
        XCTAssertTrue(h.effects.contains { $0.hasPrefix("DEL key:") }, "\(h.effects.prefix(3))")
        XCTAssertLessThan(h.engine.database(0).keyCount, 51)
    }

    func testVolatilePolicyWithNothingVolatileRefuses() {
        let h = Harness()
        h.run("SET persistent v")
        h.config.maxMemoryPolicy = "volatile-lru"
        h.config.maxMemory = 1
        XCTAssertEqual(h.run("SET x v"), err("OOM command not allowed when used memory > 'maxmemory'."))
        XCTAssertEqual(h.engine.database(0).keyCount, 1, "keys without a TTL are never evicted by volatile-*")
        h.config.maxMemory = 0
        h.run("SET soon v EX 100")
        h.config.maxMemory = 1
        _ = h.run("SET x v")
        XCTAssertNil(h.engine.database(0).lookup("soon", touch: nil), "the volatile key was evicted")
        XCTAssertNotNil(h.engine.database(0).lookup("persistent", touch: nil))
    }
}
