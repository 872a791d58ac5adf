import TernStorage
import XCTest

/// MemoryFootprint: glibc chunk sizes and the measured size of each value kind.
final class MemoryFootprintTests: XCTestCase {
    func testMallocChunks() {
        XCTAssertEqual(MemoryFootprint.mallocChunk(0), 0)
        XCTAssertEqual(MemoryFootprint.mallocChunk(1), 32)
        XCTAssertEqual(MemoryFootprint.mallocChunk(24), 32)
        XCTAssertEqual(MemoryFootprint.mallocChunk(25), 48)
        XCTAssertEqual(MemoryFootprint.bytes(Bytes()), 0)
        let b = Bytes([UInt8](repeating: 1, count: 100))
        XCTAssertEqual(MemoryFootprint.bytes(b), MemoryFootprint.mallocChunk(32 + b.array.capacity))
    }

    func testValuesGrowWithTheirContents() {
        func size(_ v: StoredValue, samples: Int = 5) -> Int { MemoryFootprint.value(v, samples: samples) }
        XCTAssertLessThan(size(.string("a")), size(.string(Bytes([UInt8](repeating: 1, count: 1000)))))
        let list = StoredValue.list(.init((0..<1000).map { Bytes("element-\($0)") }))
        XCTAssertGreaterThan(size(list), 1000 * (8 + 32))
        XCTAssertEqual(Double(size(list)), Double(size(list, samples: Int.max)), accuracy: Double(size(list)) * 0.1)
        var hash: [Bytes: Bytes] = [:]
        for i in 0..<100 { hash[Bytes("f\(i)")] = Bytes("v\(i)") }
        XCTAssertGreaterThan(size(.hash(hash)), 100 * (16 + 2 * 32))
        var z = SortedSetValue()
        for i in 0..<100 { _ = z.set(Bytes("m\(i)"), score: Double(i)) }
        XCTAssertGreaterThan(size(.zset(z)), size(.set(Set(z.scores.keys))))
    }
}
