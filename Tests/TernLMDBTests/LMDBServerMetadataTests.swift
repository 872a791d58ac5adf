import Foundation
import TernLMDB
import TernStorage
import XCTest

/// Server metadata (the replication history) commits with the batch it describes, survives a reopen, and a
/// load done `withoutIntermediateCommits` is one transaction however big.
final class LMDBServerMetadataTests: LMDBTestCase {
    func testMetadataCommitsWithTheBatchAndSurvivesReopen() throws {
        let dir = makeDirectory()
        var engine: LMDBEngine? = try makeEngine(dir)
        XCTAssertNil(engine!.serverMetadata("replication"))
        engine!.beginBatch()
        engine!.database(0).store("k", .string("v"), expiry: .clear)
        engine!.setServerMetadata("replication", Array("id 42".utf8))
        XCTAssertEqual(engine!.serverMetadata("replication"), Array("id 42".utf8))
        try engine!.endBatch()
        // Outside a batch it commits at once.
        engine!.setServerMetadata("other", [1, 2, 3])
        engine!.close()
        engine = nil
        let reopened = try makeEngine(dir)
        XCTAssertEqual(reopened.serverMetadata("replication"), Array("id 42".utf8))
        XCTAssertEqual(reopened.serverMetadata("other"), [1, 2, 3])
        XCTAssertEqual(reopened.database(0).lookup("k", touch: nil)?.value, .string("v"))
        // Metadata records are not keys.
        XCTAssertEqual(reopened.database(0).keyCount, 1)
    }

    func testWithoutIntermediateCommitsIsOneTransaction() throws {
        let engine = try makeEngine(mapSize: 64 << 20)
        let before = engine.info().lastTransactionID
        engine.beginBatch()
        engine.withoutIntermediateCommits {
            for i in 0..<25_000 { engine.database(0).store(Bytes("key:\(i)"), .string("v"), expiry: .clear) }
        }
        XCTAssertEqual(engine.info().lastTransactionID, before, "nothing committed before the batch ends")
        try engine.endBatch()
        XCTAssertEqual(engine.info().lastTransactionID, before + 1)
        XCTAssertEqual(engine.database(0).keyCount, 25_000)
        // Without it, a batch this big commits early (bounded redo log).
        engine.beginBatch()
        for i in 0..<25_000 { engine.database(1).store(Bytes("key:\(i)"), .string("v"), expiry: .clear) }
        XCTAssertGreaterThan(engine.info().lastTransactionID, before + 1)
        try engine.endBatch()
    }
}
