import DequeModule
import Foundation
import TernMemory
import TernStorage
import TernTestSupport
import XCTest
@testable import TernRDB
@testable import TernReplication

final class RDBWriterTests: XCTestCase {
    func testCRC64CheckValue() {
        XCTAssertEqual(CRC64.update(0, Array("123456789".utf8)), 0xe9c6_d914_c4b8_d9ca)
        XCTAssertEqual(CRC64.update(0, [UInt8]()), 0)
    }

    func testLengthEncoding() {
        var w = RDBWriter()
        w.writeLength(5); w.writeLength(300); w.writeLength(70000); w.writeLength(1 << 33)
        XCTAssertEqual(w.bytes, [5, 0x41, 0x2c, 0x80, 0, 1, 0x11, 0x70, 0x81, 0, 0, 0, 2, 0, 0, 0, 0])
    }

    func testEmptyFileLayout() {
        let bytes = RDBWriter.serialize([], aux: [])
        XCTAssertEqual(Array(bytes.prefix(9)), Array("REDIS0010".utf8))
        XCTAssertEqual(bytes[9], 0xFF)
        XCTAssertEqual(bytes.count, 18)
        var crc = CRC64.update(0, bytes.prefix(10)).littleEndian
        let trailer = withUnsafeBytes(of: &crc) { Array($0) }
        XCTAssertEqual(Array(bytes.suffix(8)), trailer)
    }

    static func sampleEngine(expireAt: Int64) -> any StorageEngine {
        let engine = TestEngines.make(databases: 16)
        let db0 = engine.database(0)
        db0.store("s1", .string("hello"), expiry: .clear)
        db0.store("ttl", .string("soon"), expiry: .at(expireAt))
        db0.store("big", .string(Bytes(Array(repeating: UInt8(ascii: "x"), count: 20000))), expiry: .clear)
        db0.store("num", .string("12345"), expiry: .clear)
        db0.store("l", .list(Deque(["a", "b", "c", ""])), expiry: .clear)
        db0.store("h", .hash(["f1": "v1", "f2": "v2"]), expiry: .at(expireAt))
        db0.store("st", .set(["x", "y", "z"]), expiry: .clear)
        var z = SortedSetValue()
        _ = z.set("m1", score: 1.5)
        _ = z.set("m2", score: -3)
        _ = z.set("m3", score: .infinity)
        db0.store("z", .zset(z), expiry: .clear)
        engine.database(3).store("other", .string("db3"), expiry: .clear)
        return engine
    }

    /// The file passes redis-check-rdb and a stock redis-server loads it with the same data.
    func testStockRedisLoadsTheFile() throws {
        let redis = URL(fileURLWithPath: "/usr/bin/redis-server")
        guard FileManager.default.isExecutableFile(atPath: redis.path) else { throw XCTSkip("no redis-server") }
        let expireAt = Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000
        let engine = Self.sampleEngine(expireAt: expireAt)
        let bytes = RDBWriter.serialize(engine.snapshot(), aux: [("redis-ver", "7.0.15"), ("redis-bits", "64"),
                                                                 ("repl-id", String(repeating: "a", count: 40)),
                                                                 ("repl-offset", "0")])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tern-rdb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("dump.rdb")
        try Data(bytes).write(to: file)

        let check = try run("/usr/bin/redis-check-rdb", [file.path])
        XCTAssertEqual(check.status, 0, check.output)
        XCTAssertTrue(check.output.contains("RDB looks OK!"), check.output)
        XCTAssertTrue(check.output.contains("keys read"), check.output)

        let port = Int.random(in: 20000..<60000)
        let server = Process()
        server.executableURL = redis
        server.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--dir", dir.path, "--dbfilename", "dump.rdb",
                            "--save", "", "--appendonly", "no", "--daemonize", "no"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        var up = false
        for _ in 0..<100 {
            if (try? cli(port, ["PING"]))?.trimmingCharacters(in: .whitespacesAndNewlines) == "PONG" { up = true; break }
            usleep(50_000)
        }
        XCTAssertTrue(up, "redis-server did not start")
        func q(_ args: String...) throws -> String { try cli(port, args).trimmingCharacters(in: .whitespacesAndNewlines) }
        XCTAssertEqual(try q("DBSIZE"), "8")
        XCTAssertEqual(try q("GET", "s1"), "hello")
        XCTAssertEqual(try q("GET", "num"), "12345")
        XCTAssertEqual(try q("STRLEN", "big"), "20000")
        XCTAssertEqual(try q("PEXPIRETIME", "ttl"), String(expireAt))
        XCTAssertEqual(try q("PEXPIRETIME", "h"), String(expireAt))
        XCTAssertEqual(try q("LRANGE", "l", "0", "-1"), "a\nb\nc")
        XCTAssertEqual(try q("LLEN", "l"), "4")
        XCTAssertEqual(try q("HGET", "h", "f2"), "v2")
        XCTAssertEqual(try q("SCARD", "st"), "3")
        XCTAssertEqual(try q("ZRANGE", "z", "0", "-1", "WITHSCORES"), "m2\n-3\nm1\n1.5\nm3\ninf")
        XCTAssertEqual(try q("-n", "3", "GET", "other"), "db3")
    }

    func cli(_ port: Int, _ args: [String]) throws -> String {
        try run("/usr/bin/redis-cli", ["-p", "\(port)"] + (args.first == "-n" ? Array(args.prefix(2)) : []) + ["--raw"]
                + (args.first == "-n" ? Array(args.dropFirst(2)) : args)).output
    }

    func run(_ path: String, _ args: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
