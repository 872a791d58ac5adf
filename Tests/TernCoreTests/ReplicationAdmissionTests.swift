import RESP
import TernCore
import XCTest

/// The dispatcher's replication admission checks: min-replicas-to-write (-NOREPLICAS) and
/// replica-serve-stale-data no (-MASTERDOWN), including EXEC judged by what it queued.
final class ReplicationAdmissionTests: XCTestCase {
    func testMinReplicasRefusesWritesAndExecsHoldingWrites() {
        let h = Harness { $0.minReplicasToWrite = 1 }
        let noReplicas = RESPValue.error("NOREPLICAS Not enough good replicas to write.")
        XCTAssertEqual(h.run("SET k v"), noReplicas)
        XCTAssertEqual(h.run("GET k"), .null)
        h.server.goodReplicaCount = 1
        XCTAssertEqual(h.run("SET k v"), .simple("OK"))
        // Queued while enough replicas were good, refused at EXEC once they are gone.
        XCTAssertEqual(h.run("MULTI"), .simple("OK"))
        XCTAssertEqual(h.run("SET k w"), .simple("QUEUED"))
        h.server.goodReplicaCount = 0
        // As Redis 7.0: a refused EXEC aborts the transaction.
        XCTAssertEqual(h.run("EXEC"), .error("EXECABORT Transaction discarded because of: NOREPLICAS Not enough good replicas to write."))
        XCTAssertEqual(h.run("DISCARD"), .error("ERR DISCARD without MULTI"))
        XCTAssertEqual(h.run("GET k"), bulk("v"))
        // A transaction of reads still runs.
        XCTAssertEqual(h.run("MULTI"), .simple("OK"))
        XCTAssertEqual(h.run("GET k"), .simple("QUEUED"))
        XCTAssertEqual(h.run("EXEC"), .array([bulk("v")]))
        // Either setting at 0 disables the check.
        h.server.config.minReplicasMaxLag = 0
        XCTAssertEqual(h.run("SET k x"), .simple("OK"))
    }

    func testStaleReplicaAnswersOnlyStaleCommands() {
        let h = Harness { $0.replicaServeStaleData = false }
        h.server.isReplica = true
        let down = RESPValue.error("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
        XCTAssertEqual(h.run("GET k"), down)
        XCTAssertEqual(h.run("PING"), down)
        guard case .bulk? = h.run("INFO replication") else { return XCTFail("INFO is allowed on a stale replica") }
        XCTAssertEqual(h.run("MULTI"), .simple("OK"))
        XCTAssertEqual(h.run("GET k"), down)
        XCTAssertEqual(h.run("DISCARD"), .simple("OK"))
        h.server.masterLinkUp = true
        XCTAssertEqual(h.run("GET k"), .null)
    }
}
