import TernStorage
import XCTest

final class StreamValueTests: XCTestCase {
    func id(_ ms: UInt64, _ seq: UInt64 = 0) -> StreamID { StreamID(ms: ms, seq: seq) }
    func fields(_ n: Int) -> [Bytes] { ["f", Bytes(String(n))] }

    func filled(_ n: Int, limits: StreamValue.NodeLimits = .defaults) -> StreamValue {
        var s = StreamValue()
        for i in 1...n { s.append(id: id(UInt64(i)), fields: fields(i), limits: limits) }
        return s
    }

    func testIDsOrderAndNeighbours() {
        XCTAssertLessThan(id(1, 5), id(2, 0))
        XCTAssertEqual(id(1, .max).successor, id(2, 0))
        XCTAssertNil(StreamID.max.successor)
        XCTAssertEqual(id(2, 0).predecessor, id(1, .max))
        XCTAssertNil(StreamID.zero.predecessor)
        XCTAssertEqual(StreamID(encoded: id(0x0102, 7).encoded), id(0x0102, 7))
        XCTAssertEqual(id(1, 2).description, "1-2")
    }

    func testNodesSplitAtTheEntryLimitAndRangesCrossThem() {
        let s = filled(250)
        XCTAssertEqual(s.nodes.count, 3)
        XCTAssertEqual(s.nodes.map { $0.items.count }, [100, 100, 50])
        XCTAssertEqual(s.range(id(95), id(105)).map { $0.id.ms }, Array(95...105))
        XCTAssertEqual(s.range(id(95), id(105), count: 3, reverse: true).map { $0.id.ms }, [105, 104, 103])
        XCTAssertEqual(s.range(id(0), .max, count: 2).map { $0.id.ms }, [1, 2])
        XCTAssertTrue(s.range(id(300), .max).isEmpty)
        XCTAssertTrue(s.range(id(5), id(4)).isEmpty)
    }

    func testNodesSplitAtTheByteLimit() {
        var s = StreamValue()
        for i in 1...20 { s.append(id: id(UInt64(i)), fields: ["payload", Bytes(String(repeating: "x", count: 300))], limits: .defaults) }
        // A 4096-byte listpack holds 13 such entries (Redis: lp_bytes + new element bytes >= 4096 starts a node).
        XCTAssertEqual(s.nodes.map { $0.items.count }, [13, 7])
        XCTAssertLessThan(s.nodes[0].listpackBytes, 4096)
    }

    func testDeletesLeaveTombstonesUntilTheNodeEmpties() {
        var s = filled(150)
        XCTAssertTrue(s.delete(id(1)))
        XCTAssertFalse(s.delete(id(1)))
        XCTAssertEqual(s.firstID, id(2))
        XCTAssertEqual(s.maxDeletedID, id(1))
        XCTAssertEqual(s.nodes[0].deletedCount, 1)
        for i in 2...100 { s.delete(id(UInt64(i))) }
        XCTAssertEqual(s.nodes.count, 1, "the emptied node is gone")
        XCTAssertEqual(s.length, 50)
        XCTAssertEqual(s.lastValidID, id(150))
        XCTAssertNil(s.entry(id(50)))
        XCTAssertEqual(s.entry(id(120))?.fields, fields(120))
    }

    func testApproximateTrimRemovesWholeNodesOnly() {
        var s = filled(250)
        XCTAssertEqual(s.trim(.maxLength(160), approximate: true, limit: 0), 0, "removing a node would go below 160")
        XCTAssertEqual(s.trim(.maxLength(150), approximate: true, limit: 0), 100)
        XCTAssertEqual(s.firstID, id(101))
        XCTAssertEqual(s.trimResultArgument(.maxLength(0)), "150")
        XCTAssertEqual(s.trim(.maxLength(120), approximate: false, limit: 0), 30)
        XCTAssertEqual(s.length, 120)
        XCTAssertEqual(s.trimResultArgument(.minID(.zero)), "101-0", "the first ID counts tombstones")
        XCTAssertEqual(s.trim(.minID(id(201)), approximate: true, limit: 0), 70)
        XCTAssertEqual(s.trim(.minID(id(210)), approximate: true, limit: 5), 0, "over the limit")
        XCTAssertEqual(s.trim(.minID(id(210)), approximate: false, limit: 0), 9)
    }

    func testGroupsPendingAndConsumers() {
        var s = filled(10)
        XCTAssertTrue(s.createGroup("g", lastID: .zero, entriesRead: StreamGroup.invalidEntriesRead))
        XCTAssertFalse(s.createGroup("g", lastID: .zero, entriesRead: 0))
        s.createGroup("a", lastID: .zero, entriesRead: 0)
        XCTAssertEqual(s.groups.map { $0.name }, ["a", "g"])
        let gi = s.groupIndex("g").index
        s.groups[gi].addConsumer("bob", seenTime: 1)
        s.groups[gi].addConsumer("alice", seenTime: 2)
        XCTAssertEqual(s.groups[gi].consumers.map { $0.name }, ["alice", "bob"])
        s.groups[gi].assignPending(id(3), to: "bob", deliveryTime: 5, deliveryCount: 1)
        s.groups[gi].assignPending(id(1), to: "bob", deliveryTime: 5, deliveryCount: 1)
        s.groups[gi].assignPending(id(3), to: "alice", deliveryTime: 6, deliveryCount: 2)
        XCTAssertEqual(Array(s.groups[gi].pelIDs), [id(1), id(3)])
        XCTAssertEqual(Array(s.groups[gi].consumers[0].pending), [id(3)])
        XCTAssertEqual(Array(s.groups[gi].consumers[1].pending), [id(1)])
        XCTAssertTrue(s.groups[gi].removePending(id(3)))
        XCTAssertTrue(s.groups[gi].consumers[0].pending.isEmpty)
    }

    func testEntriesReadAndLagAsRedis70() {
        var s = filled(10)
        s.createGroup("g", lastID: .zero, entriesRead: StreamGroup.invalidEntriesRead)
        let gi = s.groupIndex("g").index
        // An invalid counter is estimated at the first delivery, then counted.
        s.advanceGroup(gi, to: id(1))
        XCTAssertEqual(s.groups[gi].entriesRead, 1)
        s.advanceGroup(gi, to: id(2))
        XCTAssertEqual(s.groups[gi].entriesRead, 2)
        XCTAssertEqual(s.lag(of: s.groups[gi]), 8)
        // A tombstone ahead of the group makes the lag unknown until the group passes it.
        s.delete(id(5))
        XCTAssertNil(s.lag(of: s.groups[gi]))
        XCTAssertEqual(s.estimateDistanceFromFirstEverEntry(id(10)), 10)
        XCTAssertEqual(s.estimateDistanceFromFirstEverEntry(id(11)), StreamGroup.invalidEntriesRead)
    }

    func testRadixTreeNodeCountMatchesRedis() {
        // Figures from a stock Redis 7.0 (XINFO STREAM radix-tree-nodes).
        XCTAssertEqual(StreamValue().radixTreeNodes, 1)
        XCTAssertEqual(filled(5).radixTreeNodes, 2)
        XCTAssertEqual(filled(250).radixTreeNodes, 8)
    }

    func testSerializedRoundTrip() throws {
        var s = filled(230)
        s.delete(id(7))
        s.createGroup("g", lastID: id(9), entriesRead: 9)
        let gi = s.groupIndex("g").index
        s.groups[gi].addConsumer("c", seenTime: 123)
        s.groups[gi].assignPending(id(8), to: "c", deliveryTime: 99, deliveryCount: 4)
        let back = try XCTUnwrap(StreamValue(serialized: s.serialized()))
        XCTAssertEqual(back, s)
        XCTAssertNil(StreamValue(serialized: Array(s.serialized().prefix(40))))
    }
}
