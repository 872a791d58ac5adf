import DequeModule
import TernStorage
import XCTest
@testable import TernRDB
@testable import TernReplication

/// Builders for the compact encodings (ziplist, listpack, intset, zipmap) as Redis lays them out, so each
/// decoding path is exercised on exact bytes, including the older formats no current Redis writes.
enum Packed {
    enum Element { case s(String), i(Int64) }

    static func le(_ v: Int, _ width: Int) -> [UInt8] { (0..<width).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    static func ziplist(_ elements: [Element]) -> [UInt8] {
        var body: [UInt8] = []
        var prevlen = 0
        var tail = 10
        for e in elements {
            var entry: [UInt8] = prevlen < 254 ? [UInt8(prevlen)] : [0xFE] + le(prevlen, 4)
            switch e {
            case .s(let str):
                let b = Array(str.utf8)
                if b.count < 64 { entry.append(UInt8(b.count)) }
                else if b.count < 16384 { entry += [0x40 | UInt8(b.count >> 8), UInt8(b.count & 0xff)] }
                else { entry += [0x80, UInt8(b.count >> 24), UInt8((b.count >> 16) & 0xff), UInt8((b.count >> 8) & 0xff), UInt8(b.count & 0xff)] }
                entry += b
            case .i(let v):
                if (0...12).contains(v) { entry.append(0xF1 + UInt8(v)) }
                else if Int64(Int8.min)...Int64(Int8.max) ~= v { entry += [0xFE] + le(Int(v), 1) }
                else if Int64(Int16.min)...Int64(Int16.max) ~= v { entry += [0xC0] + le(Int(v), 2) }
                else if -(1 << 23)...((1 << 23) - 1) ~= v { entry += [0xF0] + le(Int(v), 3) }
                else if Int64(Int32.min)...Int64(Int32.max) ~= v { entry += [0xD0] + le(Int(v), 4) }
                else { entry += [0xE0] + le(Int(v), 8) }
            }
            tail = 10 + body.count
            prevlen = entry.count
            body += entry
        }
        let total = 10 + body.count + 1
        return le(total, 4) + le(tail, 4) + le(min(elements.count, 0xFFFF), 2) + body + [0xFF]
    }

    static func backlen(_ l: Int) -> [UInt8] {
        if l <= 127 { return [UInt8(l)] }
        if l < 16383 { return [UInt8(l >> 7), UInt8(l & 127) | 128] }
        return [UInt8(l >> 14), UInt8((l >> 7) & 127) | 128, UInt8(l & 127) | 128]
    }

    static func listpack(_ elements: [Element]) -> [UInt8] {
        var body: [UInt8] = []
        for e in elements {
            var entry: [UInt8]
            switch e {
            case .s(let str):
                let b = Array(str.utf8)
                if b.count < 64 { entry = [0x80 | UInt8(b.count)] + b }
                else if b.count < 4096 { entry = [0xE0 | UInt8(b.count >> 8), UInt8(b.count & 0xff)] + b }
                else { entry = [0xF0] + le(b.count, 4) + b }
            case .i(let v):
                if (0...127).contains(v) { entry = [UInt8(v)] }
                else if -4096...4095 ~= v { let u = Int(v) & 0x1fff; entry = [0xC0 | UInt8(u >> 8), UInt8(u & 0xff)] }
                else if Int64(Int16.min)...Int64(Int16.max) ~= v { entry = [0xF1] + le(Int(v), 2) }
                else if -(1 << 23)...((1 << 23) - 1) ~= v { entry = [0xF2] + le(Int(v), 3) }
                else if Int64(Int32.min)...Int64(Int32.max) ~= v { entry = [0xF3] + le(Int(v), 4) }
                else { entry = [0xF4] + le(Int(v), 8) }
            }
            body += entry + backlen(entry.count)
        }
        return le(6 + body.count + 1, 4) + le(min(elements.count, 0xFFFF), 2) + body + [0xFF]
    }

    static func intset(_ values: [Int64], width: Int) -> [UInt8] {
        le(width, 4) + le(values.count, 4) + values.sorted().flatMap { le(Int($0), width) }
    }

    static func zipmap(_ pairs: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = [UInt8(min(pairs.count, 254))]
        func len(_ n: Int) -> [UInt8] { n < 254 ? [UInt8(n)] : [254] + le(n, 4) }
        for (k, v) in pairs {
            out += len(k.utf8.count) + Array(k.utf8)
            out += len(v.utf8.count) + [2] + Array(v.utf8) + [0, 0]  // two free bytes after the value
        }
        return out + [0xFF]
    }

    /// A raw RDB string (length-prefixed).
    static func rdbString(_ b: [UInt8]) -> [UInt8] {
        var w = RDBWriter()
        w.writeString(b)
        return w.bytes
    }

    static func rdbLength(_ n: Int) -> [UInt8] {
        var w = RDBWriter()
        w.writeLength(UInt64(n))
        return w.bytes
    }

    /// A version-`version` file holding the given (type, key, encoded value) records, zero checksum.
    static func file(_ records: [(UInt8, String, [UInt8])], version: String = "0010") -> [UInt8] {
        var out = Array("REDIS\(version)".utf8)
        for (type, key, value) in records { out += [type] + rdbString(Array(key.utf8)) + value }
        return out + [0xFF] + [UInt8](repeating: 0, count: 8)
    }
}

final class RDBEncodingTests: XCTestCase {
    let ints: [Int64] = [0, 7, 12, 13, 127, 128, -1, -100, 4095, -4096, 5000, -30000, 70000, -8_000_000, 9_000_000,
                         2_000_000_000, -2_147_483_648, 1 << 40, Int64.min, Int64.max]

    func value(_ type: UInt8, _ encoded: [UInt8]) throws -> StoredValue? {
        try RDBReader.parse(Packed.file([(type, "k", encoded)])).entries.first?.value
    }

    func texts(_ ints: [Int64]) -> [Bytes] { ints.map { Bytes(String($0)) } }

    func testListZiplistAndQuicklistNodes() throws {
        let long = String(repeating: "L", count: 300)  // 14-bit string length and a 5-byte prevlen after it
        let elements: [Packed.Element] = [.s("a"), .s(""), .s(long), .s("after-long")] + ints.map { .i($0) }
        let expected = Deque(["a", "", Bytes(long), "after-long"] + texts(ints))
        XCTAssertEqual(try value(10, Packed.rdbString(Packed.ziplist(elements))), .list(expected))
        // Quicklist (v1): nodes are ziplists.
        let q1 = Packed.rdbLength(2) + Packed.rdbString(Packed.ziplist(Array(elements.prefix(3))))
            + Packed.rdbString(Packed.ziplist(Array(elements.dropFirst(3))))
        XCTAssertEqual(try value(14, q1), .list(expected))
        // Quicklist 2: listpack (2) and plain (1) nodes; an empty listpack node is skipped.
        let huge = String(repeating: "P", count: 5000)
        let q2 = Packed.rdbLength(4)
            + Packed.rdbLength(2) + Packed.rdbString(Packed.listpack(elements))
            + Packed.rdbLength(1) + Packed.rdbString(Array(huge.utf8))
            + Packed.rdbLength(2) + Packed.rdbString(Packed.listpack([]))
            + Packed.rdbLength(2) + Packed.rdbString(Packed.listpack([.s(String(repeating: "m", count: 5000)), .i(-1)]))
        var all = expected
        all.append(Bytes(huge))
        all.append(Bytes(String(repeating: "m", count: 5000)))
        all.append("-1")
        XCTAssertEqual(try value(18, q2), .list(all))
    }

    func testHashEncodings() throws {
        let pairs: [(String, String)] = [("f1", "v1"), ("n", "12"), ("empty", ""), ("long", String(repeating: "x", count: 300))]
        let expected = StoredValue.hash(Dictionary(uniqueKeysWithValues: pairs.map { (Bytes($0.0), Bytes($0.1)) }))
        XCTAssertEqual(try value(9, Packed.rdbString(Packed.zipmap(pairs))), expected)
        let flat: [Packed.Element] = pairs.flatMap { [Packed.Element.s($0.0), $0.1 == "12" ? .i(12) : .s($0.1)] }
        XCTAssertEqual(try value(13, Packed.rdbString(Packed.ziplist(flat))), expected)
        XCTAssertEqual(try value(16, Packed.rdbString(Packed.listpack(flat))), expected)
        // Duplicate fields and odd counts are corrupt.
        XCTAssertThrowsError(try value(16, Packed.rdbString(Packed.listpack([.s("f"), .s("1"), .s("f"), .s("2")])))) {
            XCTAssertTrue("\($0)".contains("Duplicate hash fields"), "\($0)")
        }
        XCTAssertThrowsError(try value(13, Packed.rdbString(Packed.ziplist([.s("f")]))))
    }

    func testSetEncodings() throws {
        for width in [2, 4, 8] {
            let fit = ints.filter { width == 8 || (width == 4 ? Int64(Int32.min)...Int64(Int32.max) ~= $0 : Int64(Int16.min)...Int64(Int16.max) ~= $0) }
            XCTAssertEqual(try value(11, Packed.rdbString(Packed.intset(fit, width: width))), .set(Set(texts(fit))), "width \(width)")
        }
        XCTAssertEqual(try value(20, Packed.rdbString(Packed.listpack([.s("a"), .i(5), .s("b")]))), .set(["a", "5", "b"]))
        // Unsorted intsets and bad widths are corrupt.
        var unsorted = Packed.intset([1, 2], width: 2)
        unsorted.swapAt(8, 10)
        XCTAssertThrowsError(try value(11, Packed.rdbString(unsorted)))
        XCTAssertThrowsError(try value(11, Packed.rdbString(Packed.le(3, 4) + Packed.le(0, 4))))
    }

    func testSortedSetEncodings() throws {
        let pairs: [Packed.Element] = [.s("a"), .s("1.5"), .s("b"), .i(-3), .s("c"), .s("inf"), .s("d"), .s("-inf"), .s("e"), .i(1 << 40)]
        var z = SortedSetValue()
        _ = z.set("a", score: 1.5); _ = z.set("b", score: -3); _ = z.set("c", score: .infinity)
        _ = z.set("d", score: -.infinity); _ = z.set("e", score: Double(1 << 40))
        XCTAssertEqual(try value(12, Packed.rdbString(Packed.ziplist(pairs))), .zset(z))
        XCTAssertEqual(try value(17, Packed.rdbString(Packed.listpack(pairs))), .zset(z))
        // Old text-score zset (type 3): 253/254/255 are nan/+inf/-inf.
        let zset3 = Packed.rdbLength(2) + Packed.rdbString(Array("x".utf8)) + [3] + Array("2.5".utf8)
            + Packed.rdbString(Array("y".utf8)) + [255]
        var z3 = SortedSetValue()
        _ = z3.set("x", score: 2.5); _ = z3.set("y", score: -.infinity)
        XCTAssertEqual(try value(3, zset3), .zset(z3))
        XCTAssertThrowsError(try value(17, Packed.rdbString(Packed.listpack([.s("a"), .s("nan")]))))
        XCTAssertThrowsError(try value(17, Packed.rdbString(Packed.listpack([.s("a"), .s("notanumber")]))))
    }

    func testEmptyCollectionsAreSkipped() throws {
        let r = try RDBReader.parse(Packed.file([(16, "e1", Packed.rdbString(Packed.listpack([]))),
                                                 (18, "e2", Packed.rdbLength(1) + Packed.rdbLength(2) + Packed.rdbString(Packed.listpack([]))),
                                                 (0, "s", Packed.rdbString(Array("v".utf8)))]))
        XCTAssertEqual(r.entries.map { $0.key }, ["s"])
        XCTAssertEqual(r.emptyKeysSkipped, 2)
    }

    func testExpiryOpcodesAndSecondsPrecision() throws {
        var body = Array("REDIS0006".utf8)
        body += [0xFD] + Packed.le(1_900_000_000, 4) + [0] + Packed.rdbString(Array("sec".utf8)) + Packed.rdbString(Array("1".utf8))
        body += [0xFC] + Packed.le(1_900_000_000_123, 8) + [0] + Packed.rdbString(Array("ms".utf8)) + Packed.rdbString(Array("2".utf8))
        body += [0xF8, 5, 0xF9, 7]  // IDLE, FREQ: read and ignored
        body += [0] + Packed.rdbString(Array("none".utf8)) + Packed.rdbString(Array("3".utf8))
        body += [0xFF] + [UInt8](repeating: 0, count: 8)
        let r = try RDBReader.parse(body)
        XCTAssertEqual(r.entries.map { $0.expireAt }, [1_900_000_000_000, 1_900_000_000_123, nil])
        XCTAssertEqual(r.version, 6)
    }

    func testModuleAuxIsSkippedWithAWarningAndFunctionsAreKept() throws {
        var body = Array("REDIS0010".utf8)
        // MODULE_AUX: id, when_opcode UINT(2), when, then UINT 5, STRING "abc", DOUBLE, FLOAT, EOF.
        body += [0xF7, 0x81] + Packed.le(0x1234_5678_9abc_def0, 8).reversed() + [2, 2]
        body += [2, 5, 5] + Packed.rdbString(Array("abc".utf8)) + [4] + [UInt8](repeating: 0, count: 8) + [3, 0, 0, 0, 0, 0]
        body += [0xF5] + Packed.rdbString(Array("#!lua name=mylib\nredis.register_function('f', function() return 1 end)".utf8))
        body += [0] + Packed.rdbString(Array("k".utf8)) + Packed.rdbString(Array("v".utf8))
        body += [0xFF] + [UInt8](repeating: 0, count: 8)
        let r = try RDBReader.parse(body)
        XCTAssertEqual(r.entries.map { $0.key }, ["k"])
        XCTAssertEqual(r.warnings.count, 1)
        XCTAssertEqual(r.functionLibraries, [Array("#!lua name=mylib\nredis.register_function('f', function() return 1 end)".utf8)])
        // The pre-release function opcode is refused, as Redis 7.0 does.
        XCTAssertThrowsError(try RDBReader.parse(Array("REDIS0010".utf8) + [0xF6, 0]))
    }

    func testModuleKeysAreRefusedByName() throws {
        // Streams load (StreamRDBTests); a truncated one fails with the key named.
        XCTAssertThrowsError(try RDBReader.parse(Packed.file([(15, "events", [0, 0, 0])]))) {
            XCTAssertTrue("\($0)".contains("events"), "\($0)")
        }
        // A module value: its module's name is decoded from the id (9 chars, 6 bits each) when possible.
        XCTAssertEqual(RDBReader.moduleName(id: 0), "AAAAAAAAA")
        XCTAssertThrowsError(try RDBReader.parse(Packed.file([(7, "mod", [0x81] + [UInt8](repeating: 0, count: 8))]))) {
            XCTAssertTrue("\($0)".contains("Can't load key 'mod' (db 0): it is a module value of module type 'AAAAAAAAA'"), "\($0)")
        }
    }

    /// Every truncation and many single-byte corruptions of every compact encoding end in an RDBError.
    func testCorruptCompactEncodingsFailCleanly() throws {
        let elements: [Packed.Element] = [.s("a"), .s(String(repeating: "b", count: 200)), .i(-5), .i(300), .i(1 << 40)]
        let blobs: [(UInt8, [UInt8])] = [
            (10, Packed.rdbString(Packed.ziplist(elements))),
            (16, Packed.rdbString(Packed.listpack(elements + [.s("odd")]))),
            (11, Packed.rdbString(Packed.intset([1, 5, 70000], width: 4))),
            (9, Packed.rdbString(Packed.zipmap([("f", "v"), ("g", "w")]))),
            (18, Packed.rdbLength(1) + Packed.rdbLength(2) + Packed.rdbString(Packed.listpack(elements))),
        ]
        for (type, blob) in blobs {
            let good = Packed.file([(type, "k", blob)])
            XCTAssertNoThrow(try RDBReader.parse(good), "type \(type)")
            for n in 0..<good.count { XCTAssertThrowsError(try RDBReader.parse(Array(good.prefix(n))), "type \(type) prefix \(n)") }
            for i in 9..<(good.count - 9) {
                for flip: UInt8 in [0x01, 0x80, 0xFF] {
                    var bad = good
                    bad[i] ^= flip
                    _ = try? RDBReader.parse(bad)  // must not crash; may still be valid
                }
            }
        }
    }

    func testDumpPayloadDecoding() throws {
        var w = RDBWriter()
        w.writeString(Array("hello".utf8))
        var payload: [UInt8] = [0] + w.bytes + [10, 0]
        let crc = CRC64.update(0, payload)
        payload += Packed.le(Int(Int64(bitPattern: crc)), 8)
        XCTAssertEqual(try RDBReader.decodeDumpPayload(payload), .string("hello"))
        var bad = payload
        bad[2] ^= 1
        XCTAssertThrowsError(try RDBReader.decodeDumpPayload(bad)) { XCTAssertEqual("\($0)", "DUMP payload version or checksum are wrong") }
        XCTAssertThrowsError(try RDBReader.decodeDumpPayload([1, 2, 3])) { XCTAssertEqual("\($0)", "DUMP payload version or checksum are wrong") }
        XCTAssertNoThrow(try RDBReader.decodeDumpPayload(bad, checksum: false) as StoredValue?)
    }
}
