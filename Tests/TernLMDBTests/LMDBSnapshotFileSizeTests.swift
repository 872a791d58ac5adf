import Foundation
import TernLMDB
import TernStorage
import XCTest

/// What an open snapshot (a long-lived read transaction) does to the file: pages freed by later writes can't
/// be reused while it is open, so rewriting data grows the file by about the volume rewritten; once the
/// snapshot is released, rewrites reuse the freed pages and the file stops growing.
final class LMDBSnapshotFileSizeTests: LMDBTestCase {
    private func rewriteAll(_ engine: LMDBEngine, round: Int) throws {
        let db = engine.database(0)
        engine.beginBatch()
        for i in 0..<2_000 {
            db.store(Bytes("key:\(i)"), .string(Bytes([UInt8](repeating: UInt8(round & 0xff), count: 400))),
                     expiry: .clear)
        }
        try engine.endBatch()
    }

    func testOpenSnapshotPinsPagesUntilReleased() throws {
        let engine = try makeEngine(mapSize: 64 << 20)
        try rewriteAll(engine, round: 0)
        // Steady state without a snapshot: rewriting the same data reuses freed pages.
        for r in 1...3 { try rewriteAll(engine, round: r) }
        let steady = engine.info().usedBytes
        for r in 4...6 { try rewriteAll(engine, round: r) }
        let withoutSnapshot = engine.info().usedBytes - steady

        var snapshot: [any DatabaseSnapshot]? = engine.snapshot()
        let before = engine.info().usedBytes
        for r in 7...9 { try rewriteAll(engine, round: r) }
        let whileOpen = engine.info().usedBytes - before
        // ~2000 x 400 bytes rewritten 3 times: the file must grow by a good part of that.
        XCTAssertGreaterThan(whileOpen, 1_000_000, "an open snapshot pins the old pages")
        XCTAssertGreaterThan(whileOpen, withoutSnapshot * 4 + 100_000)
        var seen = 0
        snapshot![0].forEach { _, value, _ in
            if case .string(let s) = value, s.array.first == 6 { seen += 1 }
            return true
        }
        XCTAssertEqual(seen, 2_000, "the snapshot still sees the data as of round 6")

        snapshot = nil
        for r in 10...11 { try rewriteAll(engine, round: r) }
        let settled = engine.info().usedBytes
        for r in 12...14 { try rewriteAll(engine, round: r) }
        XCTAssertLessThan(engine.info().usedBytes - settled, whileOpen / 2,
                          "after release, freed pages are reused again")
    }
}
