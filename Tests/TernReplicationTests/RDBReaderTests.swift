import Foundation
import TernMemory
import TernStorage
import XCTest
@testable import TernRDB
@testable import TernReplication

final class RDBReaderTests: XCTestCase {
    func testRoundTripMixedDataset() throws {
        let expireAt: Int64 = 1_900_000_000_123
        let engine = RDBWriterTests.sampleEngine(expireAt: expireAt)
        let bytes = RDBWriter.serialize(engine.snapshot(), aux: [("redis-ver", "7.0.15"), ("repl-offset", "42")])
        let r = try RDBReader.parse(bytes)
        XCTAssertEqual(r.version, 10)
        XCTAssertEqual(r.aux.map { $0.0 }, ["redis-ver", "repl-offset"])
        XCTAssertEqual(r.aux.last?.1, "42")
        var count = 0
        for (index, snapshot) in engine.snapshot().enumerated() {
            snapshot.forEach { key, value, exp in
                count += 1
                let found = r.entries.first { $0.db == index && $0.key == key }
                XCTAssertNotNil(found, "missing \(key)")
                XCTAssertEqual(found?.value, value, "value of \(key)")
                XCTAssertEqual(found?.expireAt, exp, "expiry of \(key)")
                return true
            }
        }
        XCTAssertEqual(count, r.entries.count)
        XCTAssertEqual(r.entries.first { $0.key == "other" }?.db, 3)
        XCTAssertEqual(r.entries.first { $0.key == "ttl" }?.expireAt, expireAt)
    }

    func testEmptyFile() throws {
        let r = try RDBReader.parse(RDBWriter.serialize([], aux: []))
        XCTAssertTrue(r.entries.isEmpty)
    }

    func testIntegerAndLZFStrings() throws {
        var body: [UInt8] = Array("REDIS0010".utf8)
        // key "a" = int8 -5, key "b" = int16 300, key "c" = int32 -70000
        body += [0, 1, UInt8(ascii: "a"), 0xC0, 0xFB]
        body += [0, 1, UInt8(ascii: "b"), 0xC1, 0x2C, 0x01]
        body += [0, 1, UInt8(ascii: "c"), 0xC2] + withUnsafeBytes(of: Int32(-70000).littleEndian) { Array($0) }
        // key "d" = LZF of "aaaaaaaaaa": literal 'a' then back-reference (len 9, distance 1)
        let lzf: [UInt8] = [0x00, UInt8(ascii: "a"), 0xE0, 0x00, 0x00]
        body += [0, 1, UInt8(ascii: "d"), 0xC3, UInt8(lzf.count), 10] + lzf
        body += [0xFF, 0, 0, 0, 0, 0, 0, 0, 0]  // zero checksum: not verified
        let r = try RDBReader.parse(body)
        XCTAssertEqual(r.entries.map { $0.value }, [.string("-5"), .string("300"), .string("-70000"), .string("aaaaaaaaaa")])
    }

    func testCorruptAndTruncatedInputsAreRejected() throws {
        let engine = RDBWriterTests.sampleEngine(expireAt: 1_900_000_000_000)
        let good = RDBWriter.serialize(engine.snapshot(), aux: [("redis-ver", "7.0.15")])
        // Every truncation fails cleanly.
        for n in stride(from: 0, to: good.count, by: max(1, good.count / 400)) {
            XCTAssertThrowsError(try RDBReader.parse(Array(good.prefix(n))), "prefix \(n)")
        }
        // A flipped byte is caught (by structure or by the CRC).
        for i in stride(from: 9, to: good.count, by: max(1, good.count / 300)) {
            var bad = good
            bad[i] ^= 0x5A
            XCTAssertThrowsError(try RDBReader.parse(bad), "flip at \(i)")
        }
        var badCRC = good
        badCRC[badCRC.count - 1] ^= 1
        XCTAssertThrowsError(try RDBReader.parse(badCRC)) { error in
            XCTAssertTrue((error as? RDBError)?.description.contains("Wrong RDB checksum") == true)
        }
        XCTAssertThrowsError(try RDBReader.parse(Array("RUBBISH00".utf8)))
        // A huge declared length never allocates: it is refused against the remaining bytes.
        let huge: [UInt8] = Array("REDIS0010".utf8) + [1, 1, UInt8(ascii: "k"), 0x81, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        XCTAssertThrowsError(try RDBReader.parse(huge)) { error in
            XCTAssertTrue("\(error)".contains("exceeds the remaining data"), "\(error)")
        }
        // A broken compact encoding is reported with the key it belongs to.
        let listpack: [UInt8] = Array("REDIS0010".utf8) + [16, 1, UInt8(ascii: "h"), 0]
        XCTAssertThrowsError(try RDBReader.parse(listpack)) { error in
            XCTAssertTrue("\(error)".contains("(key 'h'): Listpack integrity check failed"), "\(error)")
        }
    }
}
