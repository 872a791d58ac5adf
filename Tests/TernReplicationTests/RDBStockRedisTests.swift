import DequeModule
import Foundation
import TernStorage
import XCTest
@testable import TernRDB
@testable import TernReplication

/// Real dump.rdb files from a stock redis-server 7.0 (default config: listpack, intset and quicklist-2
/// encodings for small collections, hashtable/skiplist for big ones, int and LZF strings), read by
/// RDBReader and compared key by key with the dataset that was written.
final class RDBStockRedisTests: XCTestCase {
    struct Expected { var value: StoredValue; var expireAt: Int64? }

    /// The mixed dataset, per db, and the redis-cli lines that create it.
    static func dataset(expireAt: Int64) -> (expected: [Int: [Bytes: Expected]], commands: [String]) {
        var expected: [Int: [Bytes: Expected]] = [:]
        var commands: [String] = []
        func put(_ db: Int, _ key: String, _ value: StoredValue, _ command: String, ttl: Bool = false) {
            commands.append("SELECT \(db)")
            commands.append(command)
            if ttl { commands.append("PEXPIREAT \(key) \(expireAt)") }
            expected[db, default: [:]][Bytes(key)] = Expected(value: value, expireAt: ttl ? expireAt : nil)
        }
        let ints: [Int64] = [0, 7, 127, 128, -1, -4096, 5000, -30000, 70000, -8_000_000, 2_000_000_000, 1 << 40, Int64.min, Int64.max]
        let intTexts = ints.map { String($0) }
        // Strings: raw, int-encoded, LZF-compressed (rdbcompression yes), a long incompressible one.
        put(0, "str:plain", .string("hello"), "SET str:plain hello")
        put(0, "str:int", .string("12345"), "SET str:int 12345", ttl: true)
        put(0, "str:neg", .string("-70000"), "SET str:neg -70000")
        put(0, "str:int64", .string("9223372036854775807"), "SET str:int64 9223372036854775807")
        let lzf = String(repeating: "abcdefgh", count: 200)
        put(0, "str:lzf", .string(Bytes(lzf)), "SET str:lzf \(lzf)")
        // Pseudo-random letters and digits: LZF can't shrink them, so they stay a raw string.
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var seed: UInt64 = 42
        var noiseChars: [Character] = []
        for _ in 0..<3000 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            noiseChars.append(alphabet[Int(seed >> 33) % alphabet.count])
        }
        let noise = String(noiseChars)
        put(0, "str:noise", .string(Bytes(noise)), "SET str:noise \(noise)")
        // Lists: small (one listpack node), big (many nodes), with every integer width.
        put(0, "list:small", .list(Deque((["a", "b"] + intTexts).map { Bytes($0) })), "RPUSH list:small a b \(intTexts.joined(separator: " "))")
        let big = (0..<3000).map { "element-\($0)" }
        put(0, "list:big", .list(Deque(big.map { Bytes($0) })), "RPUSH list:big \(big.joined(separator: " "))", ttl: true)
        // Hashes: listpack (with integer values) and hashtable.
        put(0, "hash:small", .hash(["f1": "v1", "n": "42", "neg": "-5"]), "HSET hash:small f1 v1 n 42 neg -5")
        let fields = (0..<300).map { ("field\($0)", "value\($0 * 3)") }
        put(0, "hash:big", .hash(Dictionary(uniqueKeysWithValues: fields.map { (Bytes($0.0), Bytes($0.1)) })),
            "HSET hash:big \(fields.map { "\($0.0) \($0.1)" }.joined(separator: " "))")
        // Sets: intset (16/32/64-bit), strings (hashtable in 7.0), big intset turned hashtable.
        put(0, "set:int16", .set(["1", "2", "-300"]), "SADD set:int16 1 2 -300")
        put(0, "set:int64", .set(Set(intTexts.map { Bytes($0) })), "SADD set:int64 \(intTexts.joined(separator: " "))")
        put(0, "set:str", .set(["x", "y", "z"]), "SADD set:str x y z")
        let many = (0..<1000).map { String($0 * 7) }
        put(0, "set:bigint", .set(Set(many.map { Bytes($0) })), "SADD set:bigint \(many.joined(separator: " "))")
        // Sorted sets: listpack and skiplist.
        var z = SortedSetValue()
        for (m, s) in [("a", 1.5), ("b", -3), ("c", Double.infinity), ("d", 1e20), ("e", 0.1)] { _ = z.set(Bytes(m), score: s) }
        put(0, "zset:small", .zset(z), "ZADD zset:small 1.5 a -3 b +inf c 1e20 d 0.1 e")
        var bz = SortedSetValue()
        var zargs: [String] = []
        for i in 0..<500 {
            _ = bz.set(Bytes("m\(i)"), score: Double(i) / 4)
            zargs.append("\(Double(i) / 4) m\(i)")
        }
        put(0, "zset:big", .zset(bz), "ZADD zset:big \(zargs.joined(separator: " "))")
        // Other databases.
        put(2, "db2:str", .string("two"), "SET db2:str two", ttl: true)
        put(2, "db2:list", .list(["x"]), "RPUSH db2:list x")
        put(15, "db15:hash", .hash(["a": "b"]), "HSET db15:hash a b")
        return (expected, commands)
    }

    func testStockRedisDumpLoadsKeyByKey() throws {
        let redisPath = "/usr/bin/redis-server"
        guard FileManager.default.isExecutableFile(atPath: redisPath) else { throw XCTSkip("no redis-server") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tern-rdb-stock-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let socket = dir.appendingPathComponent("redis.sock").path
        let server = Process()
        server.executableURL = URL(fileURLWithPath: redisPath)
        // A unix socket only: no TCP port to collide with; otherwise the default config.
        server.arguments = ["--port", "0", "--unixsocket", socket, "--dir", dir.path, "--save", "", "--appendonly", "no",
                            "--daemonize", "no", "--enable-debug-command", "yes"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        var up = false
        for _ in 0..<100 {
            if (try? cli(socket, "PING"))?.contains("PONG") == true { up = true; break }
            usleep(50_000)
        }
        XCTAssertTrue(up, "redis-server did not start")
        let expireAt = Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000
        var (expected, commands) = Self.dataset(expireAt: expireAt)
        // A plain (non-listpack) quicklist node: elements over the packed threshold are stored as is.
        let plain = String(repeating: "P", count: 2000)
        commands += ["SELECT 0", "DEBUG QUICKLIST-PACKED-THRESHOLD 1000", "RPUSH list:plain small \(plain) tail"]
        expected[0]![Bytes("list:plain")] = Expected(value: .list(["small", Bytes(plain), "tail"]), expireAt: nil)
        let out = try cli(socket, stdin: commands.joined(separator: "\n") + "\nSAVE\n")
        XCTAssertFalse(out.contains("ERR"), out)
        XCTAssertEqual(try cli(socket, "OBJECT", "ENCODING", "list:plain"), "quicklist\n")
        XCTAssertEqual(try cli(socket, "OBJECT", "ENCODING", "hash:small"), "listpack\n")
        XCTAssertEqual(try cli(socket, "OBJECT", "ENCODING", "set:int64"), "intset\n")
        XCTAssertEqual(try cli(socket, "OBJECT", "ENCODING", "zset:big"), "skiplist\n")

        let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent("dump.rdb")))
        let r = try RDBReader.parse(bytes)
        XCTAssertEqual(r.version, 10)
        XCTAssertEqual(r.aux.first { $0.0 == "redis-ver" }?.1, "7.0.15")
        var seen = 0
        for e in r.entries {
            guard let want = expected[e.db]?[e.key] else { XCTFail("unexpected key \(e.key) in db \(e.db)"); continue }
            seen += 1
            XCTAssertEqual(e.value, want.value, "value of \(e.key)")
            XCTAssertEqual(e.expireAt, want.expireAt, "expiry of \(e.key)")
        }
        XCTAssertEqual(seen, expected.values.map { $0.count }.reduce(0, +))
        XCTAssertEqual(r.entries.count, seen)
    }

    func cli(_ socket: String, _ args: String...) throws -> String { try cli(socket, args: args, stdin: nil) }
    func cli(_ socket: String, stdin: String) throws -> String { try cli(socket, args: [], stdin: stdin) }

    func cli(_ socket: String, args: [String], stdin: String?) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        p.arguments = ["-s", socket, "--raw"] + args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        let input = Pipe()
        p.standardInput = input
        try p.run()
        if let stdin {
            // Written from another thread: redis-cli's replies fill the output pipe while it reads.
            let data = Data(stdin.utf8)
            let writer = Thread { input.fileHandleForWriting.write(data); try? input.fileHandleForWriting.close() }
            writer.start()
        } else {
            try input.fileHandleForWriting.close()
        }
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: out, as: UTF8.self)
    }
}
