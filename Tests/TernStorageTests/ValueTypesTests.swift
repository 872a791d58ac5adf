import TernStorage
import XCTest

final class ValueTypesTests: XCTestCase {
    func testBytesOrderingIsBinary() {
        XCTAssertLessThan(Bytes("a"), Bytes("b"))
        XCTAssertLessThan(Bytes("a"), Bytes("ab"))
        XCTAssertLessThan(Bytes("Z"), Bytes("a"))
        XCTAssertLessThan(Bytes([0x7f]), Bytes([0x80]))
        XCTAssertLessThan(Bytes(), Bytes([0]))
        XCTAssertFalse(Bytes("x") < Bytes("x"))
    }

    func testBytesEqualityAndHashing() {
        let a = Bytes([1, 2, 3]), b = Bytes([1, 2, 3] as [UInt8])
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.hashValue, b.hashValue)
        XCTAssertNotEqual(Bytes([1, 2]), Bytes([1, 2, 0]))
        XCTAssertEqual(Set([Bytes("k"), Bytes("k"), Bytes("")]).count, 2)
    }

    func testValueKindNames() {
        XCTAssertEqual(ValueKind.allCases.map(\.typeName), ["string", "list", "set", "zset", "hash"])
        XCTAssertEqual(ValueKind(typeName: "ZSET"), .zset)
        XCTAssertNil(ValueKind(typeName: "stream"))
        XCTAssertEqual(StoredValue.hash([:]).isEmptyCollection, true)
        XCTAssertEqual(StoredValue.string("").isEmptyCollection, false)
    }

    func testSortedSetOrderAndRanks() {
        var z = SortedSetValue()
        XCTAssertTrue(z.set("b", score: 2))
        XCTAssertTrue(z.set("a", score: 2))
        XCTAssertTrue(z.set("c", score: -1))
        XCTAssertFalse(z.set("c", score: 5), "update is not an insert")
        XCTAssertEqual(z.ordered.map(\.member), ["a", "b", "c"], "ties break by member, bytewise")
        XCTAssertEqual(z.rank(of: "c"), 2)
        XCTAssertEqual(z.score(of: "c"), 5)
        XCTAssertTrue(z.remove("a"))
        XCTAssertFalse(z.remove("a"))
        XCTAssertEqual(z.ordered.map(\.member), ["b", "c"])
        XCTAssertEqual(z.count, 2)
        XCTAssertNil(z.rank(of: "a"))
    }

    /// Property: after random operations, `ordered` is exactly the sorted (score, member) pairs of `scores`.
    func testSortedSetInvariant() {
        var z = SortedSetValue()
        for _ in 0..<2000 {
            let member = Bytes("m\(Int.random(in: 0..<50))")
            if Bool.random() { z.set(member, score: Double(Int.random(in: -5...5))) } else { z.remove(member) }
        }
        let expected = z.scores.map { SortedSetValue.Entry(score: $0.value, member: $0.key) }.sorted()
        XCTAssertEqual(z.ordered, expected)
    }
}
