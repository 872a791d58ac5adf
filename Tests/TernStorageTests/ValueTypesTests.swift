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
        XCTAssertEqual(ValueKind.allCases.map(\.typeName), ["string", "list", "set", "zset", "hash", "stream"])
        XCTAssertEqual(ValueKind(typeName: "ZSET"), .zset)
        XCTAssertEqual(ValueKind(typeName: "stream"), .stream)
        XCTAssertNil(ValueKind(typeName: "module"))
        // An empty stream is a key like any other (Redis keeps it).
        XCTAssertEqual(StoredValue.stream(StreamValue()).isEmptyCollection, false)
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
        XCTAssertEqual(Array(z.ordered), expected)
        XCTAssertTrue(z.validate())
    }

    /// Randomized differential test of the B-tree against a naive sorted array: inserts, updates, removals,
    /// ranks, element-at-rank, range walks both ways and bound searches, on sizes that force splits and merges.
    func testSortedSetAgainstNaiveModel() {
        var rng = SplitMix(seed: 0x5eed)
        for round in 0..<6 {
            var z = SortedSetValue()
            var model: [Bytes: Double] = [:]
            let universe = [40, 300, 3000, 300, 5000, 64][round]
            let operations = universe * 6
            var snapshots: [(SortedSetValue, [Bytes: Double])] = []
            for step in 0..<operations {
                let member = Bytes("m\(rng.next() % UInt64(universe))")
                let roll = rng.next() % 10
                if roll < 6 {
                    let score = Double(Int(rng.next() % 21) - 10) / (rng.next() % 2 == 0 ? 1 : 4)
                    let isNew = model.updateValue(score, forKey: member) == nil
                    XCTAssertEqual(z.set(member, score: score), isNew)
                } else {
                    XCTAssertEqual(z.remove(member), model.removeValue(forKey: member) != nil)
                }
                if step % (operations / 8) == 0 { snapshots.append((z, model)) }
            }
            XCTAssertNil(z.validationFailure(), "round \(round)")
            let sorted = model.map { SortedSetValue.Entry(score: $0.value, member: $0.key) }.sorted()
            XCTAssertEqual(z.count, sorted.count)
            XCTAssertEqual(Array(z.ordered), sorted)
            for (i, e) in sorted.enumerated() where i % 7 == 0 {
                XCTAssertEqual(z.rank(of: e.member), i)
                XCTAssertEqual(z.entry(at: i), e)
                XCTAssertEqual(z.ordered[i], e)
                XCTAssertEqual(z.entries(inRanks: i..<(i + 5)), Array(sorted[i..<min(i + 5, sorted.count)]))
                var down: [SortedSetValue.Entry] = []
                z.forEach(fromRank: i, reverse: true) { down.append($0); return down.count < 9 }
                XCTAssertEqual(down, Array(sorted[max(0, i - 8)...i].reversed()))
            }
            for probe in stride(from: -11.0, through: 11.0, by: 0.25) {
                let expected = sorted.firstIndex { $0.score >= probe } ?? sorted.count
                XCTAssertEqual(z.partitionIndex { $0.score >= probe }, expected)
                XCTAssertEqual(z.lowerBound(.init(score: probe, member: "m1")),
                               sorted.firstIndex { !($0 < .init(score: probe, member: "m1")) } ?? sorted.count)
            }
            // Copies taken along the way kept their contents (copy-on-write, node by node).
            for (copy, expected) in snapshots {
                XCTAssertTrue(copy.validate())
                XCTAssertEqual(copy.scores, expected)
                XCTAssertEqual(Array(copy.ordered),
                               expected.map { SortedSetValue.Entry(score: $0.value, member: $0.key) }.sorted())
            }
            while let e = z.first {
                XCTAssertTrue(z.remove(e.member))
                if z.count % 97 == 0 { XCTAssertTrue(z.validate()) }
            }
            XCTAssertTrue(z.isEmpty)
            XCTAssertTrue(z.validate())
        }
    }

    func testSortedSetCopyDoesNotSeeLaterWrites() {
        var a = SortedSetValue()
        for i in 0..<1000 { a.set(Bytes("m\(i)"), score: Double(i)) }
        let b = a
        a.set("m5", score: 5000)
        a.remove("m6")
        a.set("new", score: -1)
        XCTAssertEqual(b.score(of: "m5"), 5)
        XCTAssertEqual(b.rank(of: "m6"), 6)
        XCTAssertNil(b.rank(of: "new"))
        XCTAssertEqual(b.ordered.first?.member, "m0")
        XCTAssertEqual(a.ordered.first?.member, "new")
        XCTAssertEqual(a.ordered.last?.member, "m5")
        XCTAssertTrue(a.validate())
        XCTAssertTrue(b.validate())
    }
}

/// A small deterministic generator so failures reproduce.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}
