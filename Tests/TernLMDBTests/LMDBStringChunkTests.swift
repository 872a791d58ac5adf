import Foundation
import TernLMDB
import TernStorage
import XCTest

/// Large strings are stored in chunks: a bit update of a 64 MB value rewrites one chunk and the key's header,
/// not the value. Measured on the file's high-water mark, which any copy-on-write rewrite of the whole value
/// must push up by the value's size (the old pages are still live while the new ones are written).
final class LMDBStringChunkTests: LMDBTestCase {
    static let size = 64 << 20

    func testBitUpdatesOfA64MBStringWriteOnlyTheirChunk() throws {
        let engine = try makeEngine(mapSize: 256 << 20)
        let db = engine.database(0)
        var value = [UInt8](repeating: 0, count: Self.size)
        for i in stride(from: 0, to: Self.size, by: 4096) { value[i] = UInt8(truncatingIfNeeded: i >> 12) | 1 }
        db.store("bitmap", .string(Bytes(value)), expiry: .clear)
        let before = engine.info()
        var rng = SystemRandomNumberGenerator()
        let updates = 200
        for _ in 0..<updates {
            let bit = Int.random(in: 0..<(Self.size * 8), using: &rng)
            db.updateStringRange("bitmap", offset: bit >> 3, count: 1) { $0[0] |= UInt8(1 << (7 - (bit & 7))) }
            value[bit >> 3] |= UInt8(1 << (7 - (bit & 7)))
        }
        let after = engine.info()
        XCTAssertEqual(after.lastTransactionID - before.lastTransactionID, updates, "one commit per update")
        let grown = after.usedBytes - before.usedBytes
        print("LMDBStringChunkTests: \(updates) bit updates of a 64 MB string grew the file by \(grown) bytes")
        // Each commit writes a chunk page, a leaf and a few branch pages, and frees as many: the file barely grows.
        XCTAssertLessThan(grown, 2 << 20, "200 bit updates grew the file by \(grown) bytes")
        XCTAssertLessThan(abs(after.treeBytes - before.treeBytes), 1 << 20, "tree size stays put")

        for probe in [0, 4095, 4096, 1 << 20, Self.size - 9] {
            XCTAssertEqual(db.readStringRange("bitmap", offset: probe, count: 9), Array(value[probe..<(probe + 9)]))
        }
        XCTAssertEqual(db.metadata("bitmap", touch: nil)?.count, Self.size)
        let suffix: [UInt8] = [1, 2, 3]
        XCTAssertEqual(suffix.withUnsafeBytes { db.appendString("bitmap", $0) }, Self.size + 3)
        value += suffix
        XCTAssertEqual(db.readStringRange("bitmap", offset: Self.size - 2, count: 10), Array(value[(Self.size - 2)...]))

        // The contrast: rewriting the whole value once does push the high-water mark by about its size.
        let mark = engine.info().usedBytes
        db.store("bitmap", .string(Bytes(value)), expiry: .clear)
        XCTAssertGreaterThan(engine.info().usedBytes - mark, Self.size / 2, "a whole rewrite is what chunking avoids")
    }

    func testSparseBitmapStoresOnlyItsChunks() throws {
        let engine = try makeEngine(mapSize: 64 << 20)
        let db = engine.database(0)
        // SETBIT at bit 2^32 - 1 on a missing key: a 512 MB string of which one chunk exists.
        db.updateStringRange("sparse", offset: (1 << 29) - 1, count: 1) { $0[0] = 1 }
        XCTAssertEqual(db.metadata("sparse", touch: nil)?.count, 1 << 29)
        XCTAssertLessThan(engine.info().usedBytes, 16 << 20)
        XCTAssertEqual(db.readStringRange("sparse", offset: (1 << 29) - 3, count: 10), [0, 0, 1])
        XCTAssertEqual(db.readStringRange("sparse", offset: 12345, count: 4), [0, 0, 0, 0])
    }

    func testChunkedStringSurvivesRestart() throws {
        let dir = makeDirectory()
        var value = [UInt8](repeating: 7, count: 100_000)
        do {
            let engine = try makeEngine(dir, mapSize: 32 << 20)
            engine.database(0).store("s", .string(Bytes(value)), expiry: .at(4_000_000_000_000))
            engine.database(0).updateStringRange("s", offset: 50_000, count: 3) { $0.copyBytes(from: [1, 2, 3]) }
            engine.close()
        }
        value.replaceSubrange(50_000..<50_003, with: [1, 2, 3])
        let engine = try makeEngine(dir, mapSize: 32 << 20)
        let record = engine.database(0).lookup("s", touch: nil)
        XCTAssertEqual(record?.value, .string(Bytes(value)))
        XCTAssertEqual(record?.expireAt, 4_000_000_000_000)
    }
}
