@testable import TernCore
import XCTest

/// The HLL codec against bytes a stock Redis 7.0 produced, and its internal invariants.
final class HyperLogLogTests: XCTestCase {
    func add(_ hll: inout [UInt8], _ element: String, maxBytes: Int = 3000) throws -> Bool {
        try Array(element.utf8).withUnsafeBytes { try HyperLogLog.add(&hll, $0, maxBytes: maxBytes) }
    }

    func testEmptyIsOneXZeroRun() {
        XCTAssertEqual(HyperLogLog.empty(), Array("HYLL".utf8) + [1, 0, 0, 0] + [UInt8](repeating: 0, count: 8) + [0x7f, 0xff])
        XCTAssertTrue(HyperLogLog.isValid(HyperLogLog.empty()))
    }

    /// `PFADD k a b c` on redis-server 7.0.15, then `GET k`, then PFCOUNT's cached value.
    func testSparseBytesMatchRedis() throws {
        var hll = HyperLogLog.empty()
        for e in ["a", "b", "c"] { XCTAssertTrue(try add(&hll, e)) }
        HyperLogLog.invalidateCache(&hll)
        let redis: [UInt8] = Array("HYLL".utf8) + [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80]
            + [0x60, 0xf3, 0x80, 0x50, 0xb1, 0x84, 0x4b, 0xfb, 0x80, 0x42, 0x5a]
        XCTAssertEqual(hll, redis)
        XCTAssertEqual(HyperLogLog.estimate(try HyperLogLog.histogram(hll)), 3)
        XCTAssertFalse(try add(&hll, "a"), "an element already counted changes nothing")
    }

    func testMurmurHash64AIsLittleEndianAndSeeded() {
        let empty = [UInt8]().withUnsafeBytes { HyperLogLog.murmurHash64A($0) }
        let other = [UInt8]().withUnsafeBytes { HyperLogLog.murmurHash64A($0, seed: 0) }
        XCTAssertNotEqual(empty, other)
        // Tails of every length 0...15 hash differently.
        let hashes = (0..<16).map { n in [UInt8](repeating: 0x61, count: n).withUnsafeBytes { HyperLogLog.murmurHash64A($0) } }
        XCTAssertEqual(Set(hashes).count, 16)
    }

    func testSparseAndDenseAgreeAndPromote() throws {
        var sparse = HyperLogLog.empty()
        var dense = try HyperLogLog.toDense(HyperLogLog.empty())
        XCTAssertEqual(dense.count, HyperLogLog.denseSize)
        var checkpoints: [Int: UInt64] = [:]
        for i in 1...20_000 {
            _ = try add(&sparse, "element:\(i)", maxBytes: 1 << 30)
            _ = try add(&dense, "element:\(i)")
            if [10, 100, 1000, 5000, 20_000].contains(i) {
                let s = HyperLogLog.estimate(try HyperLogLog.histogram(sparse))
                let d = HyperLogLog.estimate(try HyperLogLog.histogram(dense))
                XCTAssertEqual(s, d, "sparse and dense agree at \(i)")
                XCTAssertEqual(try HyperLogLog.toDense(sparse).dropFirst(16), dense.dropFirst(16), "same registers at \(i)")
                checkpoints[i] = d
            }
        }
        for (n, estimate) in checkpoints {
            XCTAssertLessThan(abs(Double(estimate) - Double(n)) / Double(n), 0.05, "estimate \(estimate) for \(n)")
        }
        // With the default limit the same adds promote to dense.
        var promoted = HyperLogLog.empty()
        for i in 1...5000 { _ = try add(&promoted, "element:\(i)") }
        XCTAssertEqual(promoted[4], HyperLogLog.dense)
        XCTAssertEqual(promoted.count, HyperLogLog.denseSize)
    }

    func testCorruptSparseIsDetected() {
        var overrun = HyperLogLog.empty() + [0xff]  // a VAL run past the last register
        XCTAssertThrowsError(try HyperLogLog.toDense(overrun))
        XCTAssertThrowsError(try HyperLogLog.histogram(overrun))
        var max = [UInt8](repeating: 0, count: HyperLogLog.registers)
        XCTAssertThrowsError(try HyperLogLog.merge(into: &max, overrun))
        overrun = Array(HyperLogLog.empty().prefix(16)) + [0x7f, 0x00]  // covers 16129 registers only
        XCTAssertThrowsError(try HyperLogLog.histogram(overrun))
        XCTAssertThrowsError(try add(&overrun, "x"))
        XCTAssertFalse(HyperLogLog.isValid(Array("HYLL".utf8) + [2] + [UInt8](repeating: 0, count: 11)))
        XCTAssertFalse(HyperLogLog.isValid(Array("HYLL".utf8) + [0] + [UInt8](repeating: 0, count: 20)))
        XCTAssertFalse(HyperLogLog.isValid(Array("HYL".utf8)))
    }

    func testDenseRegistersDontDisturbNeighbours() {
        var dense = try! HyperLogLog.toDense(HyperLogLog.empty())
        var expected = [UInt8](repeating: 0, count: HyperLogLog.registers)
        var rng = SystemRandomNumberGenerator()
        dense.withUnsafeMutableBytes { raw in
            for i in 0..<HyperLogLog.registers {
                let v = UInt8.random(in: 0...63, using: &rng)
                expected[i] = v
                HyperLogLog.denseSet(raw, HyperLogLog.headerSize, i, v)
            }
        }
        for i in 0..<HyperLogLog.registers { XCTAssertEqual(HyperLogLog.denseRegister(dense, i), expected[i]) }
    }
}
