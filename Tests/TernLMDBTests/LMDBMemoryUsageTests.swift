import TernLMDB
import TernStorage
import XCTest

/// MEMORY USAGE on LMDB: the bytes of the key's records on LMDB pages.
final class LMDBMemoryUsageTests: LMDBTestCase {
    func testGrowsWithTheRecordsAndCountsOverflowPages() throws {
        let engine = try makeEngine()
        let db = engine.database(0)
        XCTAssertNil(db.memoryUsage("absent", samples: 5))
        db.store("small", .string("v"), expiry: .clear)
        let small = try XCTUnwrap(db.memoryUsage("small", samples: 5))
        // One `keys` record: node header, 4-byte db prefix + name, the 47-byte header and the value.
        XCTAssertGreaterThanOrEqual(small, 8 + 4 + 5 + 47 + 1)
        XCTAssertLessThan(small, 200)
        db.store("ttl", .string("v"), expiry: .at(9_999_999_999_999))
        XCTAssertGreaterThan(try XCTUnwrap(db.memoryUsage("ttl", samples: 5)), small)
        // A 100 kB value lives on overflow pages: at least its size, at most one page more plus the header record.
        db.store("big", .string(Bytes([UInt8](repeating: 7, count: 100_000))), expiry: .clear)
        let big = try XCTUnwrap(db.memoryUsage("big", samples: 5))
        XCTAssertGreaterThanOrEqual(big, 100_000)
        XCTAssertLessThan(big, 100_000 + 2 * 4096 + 400)
        // Collections: per-element records, extrapolated from the sample; a sorted set has two per member.
        _ = db.setAdd("set", (0..<1000).map { Bytes("member-\($0)") })
        _ = db.zsetAdd("zset", (0..<1000).map { (Bytes("member-\($0)"), Double($0)) })
        let set = try XCTUnwrap(db.memoryUsage("set", samples: 5))
        let all = try XCTUnwrap(db.memoryUsage("set", samples: Int.max))
        XCTAssertGreaterThan(set, 1000 * (8 + 9 + 10))
        XCTAssertEqual(Double(set), Double(all), accuracy: Double(all) * 0.1)
        XCTAssertGreaterThan(try XCTUnwrap(db.memoryUsage("zset", samples: Int.max)), all * 3 / 2)
    }
}
