import TernStorage
import XCTest
@testable import TernRDB

final class StreamRDBTests: XCTestCase {
    /// DUMP of a stream from a stock Redis 7.0.15 (rdbcompression no): entries 1-1 (a 1 b x), 1-2 deleted,
    /// 5-0 (other -7); group g with alice owning 1-1 (TIME 1700000000000 RETRYCOUNT 3); XSETID 9-9
    /// ENTRIESADDED 10 MAXDELETEDID 1-2.
    static let redisDump = "1301100000000000000001000000000000000140444400000019000201010102018161028162020001020100010001010181780205010301000101010201817902050100010401dfff020101856f7468657206dff9020601ff020909010101020a010167000081ffffffffffffffff01000000000000000100000000000000010068e5cf8b010000030105616c696365609c223ca201000001000000000000000100000000000000010a00885b148aa1fa89f5"

    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    func testLoadsAStockRedisStreamAndWritesTheSameBytes() throws {
        let payload = Self.bytes(Self.redisDump)
        guard case .stream(let s) = try RDBReader.decodeDumpPayload(payload) else { return XCTFail("not a stream") }
        XCTAssertEqual(s.length, 2)
        XCTAssertEqual(s.lastID, StreamID(ms: 9, seq: 9))
        XCTAssertEqual(s.maxDeletedID, StreamID(ms: 1, seq: 2))
        XCTAssertEqual(s.entriesAdded, 10)
        XCTAssertEqual(s.range(.zero, .max).map { $0.fields }, [["a", "1", "b", "x"], ["other", "-7"]])
        let g = try XCTUnwrap(s.group("g"))
        XCTAssertEqual(g.entriesRead, StreamGroup.invalidEntriesRead)
        XCTAssertEqual(g.pel[StreamID(ms: 1, seq: 1)], StreamPending(consumer: "alice", deliveryTime: 1_700_000_000_000, deliveryCount: 3))
        XCTAssertEqual(g.consumers.map { $0.name }, ["alice"])
        // Written back, the same bytes as Redis's DUMP (the seen time included).
        XCTAssertEqual(RDBWriter.dumpPayload(.stream(s)), payload)
    }

    func testRoundTripOfBigStreamsWithTombstonesAndGroups() throws {
        var s = StreamValue()
        for i in 1...1000 {
            let f: [Bytes] = i % 3 == 0 ? ["x", Bytes(String(i))] : ["field", Bytes(String(repeating: "v", count: i % 40)), "n", Bytes(String(-i))]
            s.append(id: StreamID(ms: UInt64(i / 2), seq: UInt64(i)), fields: f, limits: .defaults)
        }
        for i in stride(from: 3, to: 900, by: 7) { s.delete(StreamID(ms: UInt64(i / 2), seq: UInt64(i))) }
        s.createGroup("g", lastID: StreamID(ms: 10, seq: 0), entriesRead: 20)
        s.groups[0].addConsumer("c", seenTime: 5)
        s.groups[0].assignPending(StreamID(ms: 2, seq: 4), to: "c", deliveryTime: 7, deliveryCount: 2)
        for compress in [false, true] {
            let payload = RDBWriter.dumpPayload(.stream(s), compress: compress)
            XCTAssertEqual(try RDBReader.decodeDumpPayload(payload), .stream(s))
        }
    }

    func testReadsType15WithoutTheNewCounters() throws {
        var s = StreamValue()
        s.append(id: StreamID(ms: 1, seq: 1), fields: ["a", "b"], limits: .defaults)
        s.append(id: StreamID(ms: 2, seq: 0), fields: ["a", "c"], limits: .defaults)
        var w = RDBWriter()
        w.writeStream(s)
        // Type 19 minus first ID, max deleted ID and entries added (6 one-byte lengths), and the group count.
        var body = w.bytes
        let tail = body.count - 1 - 5  // groups count (1 byte) + first(2) + maxdel(2) + added(1)
        body.removeSubrange(tail..<(body.count - 1))
        let payload = [15] + body + [10, 0]
        var withCRC = payload
        var crc = CRC64.update(0, payload).littleEndian
        withUnsafeBytes(of: &crc) { withCRC.append(contentsOf: $0) }
        guard case .stream(let back) = try RDBReader.decodeDumpPayload(withCRC) else { return XCTFail() }
        XCTAssertEqual(back.length, 2)
        XCTAssertEqual(back.entriesAdded, 2)
        XCTAssertEqual(back.firstID, StreamID(ms: 1, seq: 1))
    }

    func testCorruptStreamsFailCleanly() throws {
        var s = StreamValue()
        for i in 1...30 { s.append(id: StreamID(ms: UInt64(i), seq: 0), fields: ["f", Bytes(String(i))], limits: .defaults) }
        s.createGroup("g", lastID: .zero, entriesRead: 0)
        s.groups[0].addConsumer("c", seenTime: 1)
        s.groups[0].assignPending(StreamID(ms: 3, seq: 0), to: "c", deliveryTime: 1, deliveryCount: 1)
        var w = RDBWriter()
        w.bytes.append(19)
        w.writeStream(s)
        let good = w.bytes
        for n in 1..<good.count {
            var r = RDBWriter()
            r.bytes = Array(good.prefix(n)) + [10, 0]
            var crc = CRC64.update(0, r.bytes).littleEndian
            withUnsafeBytes(of: &crc) { r.bytes.append(contentsOf: $0) }
            XCTAssertThrowsError(try RDBReader.decodeDumpPayload(r.bytes), "prefix \(n)")
        }
    }
}
