import Foundation
import NIOCore
import RESP
import TernCore
import TernMemory
import TernStorage
import XCTest
@testable import TernRDB
@testable import TernReplication

/// SAVE / BGSAVE / save points / loading, in process: a manual clock and a manual "event loop" (the
/// persistence's scheduled passes are queued here and run one by one), files in a temp directory.
final class RDBPersistenceTests: XCTestCase {
    var clock = ManualClock()
    var server: ServerState!
    var persistence: RDBPersistence!
    var context: CommandContext!
    var passes: [() -> Void] = []
    var dir: URL!

    override func setUpWithError() throws {
        clock = ManualClock(millis: Int64(Date().timeIntervalSince1970 * 1000))
        // The memory engine always: save points, the shutdown save and loading at start-up are the memory
        // backend's (LMDB is durable by itself and has no automatic saves).
        server = ServerState(config: ServerConfig(), engine: MemoryEngine(databases: 16),
                             commands: BuiltinCommands.table(), clock: clock)
        persistence = RDBPersistence(server: server)
        persistence.install()
        persistence.schedule = { [unowned self] in passes.append($0) }
        persistence.keysPerPass = 10
        persistence.loadKeysPerPass = 10
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tern-persist-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        persistence.directory = dir.path
        let client = server.makeClient(address: "127.0.0.1:1", localAddress: "127.0.0.1:6379", transport: nil)
        context = CommandContext(server: server, client: client)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: dir)
    }

    @discardableResult
    func run(_ words: String...) -> RESPValue? {
        let start = context.client.output.writerIndex
        _ = server.execute(context, words.map { ByteBuffer(string: $0) })
        var out = context.client.output
        out.moveReaderIndex(to: start)
        var decoder = RESPValueDecoder()
        let value = try? decoder.decode(buffer: &out)
        context.client.output.clear()
        return value ?? nil
    }

    func runPasses(limit: Int = 10_000) -> Int {
        var n = 0
        while !passes.isEmpty && n < limit {
            passes.removeFirst()()
            n += 1
        }
        return n
    }

    func info(_ field: String) -> String? {
        guard case .bulk(let b)? = run("INFO", "persistence") else { return nil }
        let text = String(decoding: b, as: UTF8.self)
        for line in text.split(separator: "\r\n") where line.hasPrefix(field + ":") {
            return String(line.dropFirst(field.count + 1))
        }
        return nil
    }

    func loadFile() throws -> RDBReader {
        try RDBReader.parse([UInt8](Data(contentsOf: dir.appendingPathComponent("dump.rdb"))))
    }

    func testSaveWritesALoadableFileAndResetsCounters() throws {
        run("SET", "a", "1")
        run("RPUSH", "l", "x", "y")
        run("SELECT", "4")
        run("HSET", "h", "f", String(repeating: "v", count: 500))  // LZF-compressed (rdbcompression yes)
        XCTAssertEqual(info("rdb_changes_since_last_save"), "3")
        XCTAssertEqual(run("SAVE"), .simple("OK"))
        XCTAssertEqual(info("rdb_changes_since_last_save"), "0")
        XCTAssertEqual(info("rdb_saves"), "1")
        let r = try loadFile()
        XCTAssertEqual(r.entries.count, 3)
        XCTAssertEqual(r.entries.first { $0.key == "h" }?.db, 4)
        XCTAssertEqual(r.entries.first { $0.key == "h" }?.value, .hash(["f": Bytes(String(repeating: "v", count: 500))]))
        XCTAssertNotNil(r.aux.first { $0.0 == "repl-id" })
        // No temp file is left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["dump.rdb"])
        XCTAssertLessThan(try Data(contentsOf: dir.appendingPathComponent("dump.rdb")).count, 300)
    }

    func testBackgroundSaveIsChunkedAndPointInTime() throws {
        for i in 0..<95 { run("SET", "k\(i)", "v\(i)") }
        XCTAssertEqual(run("BGSAVE"), .simple("Background saving started"))
        XCTAssertEqual(run("BGSAVE"), .error("ERR Background save already in progress"))
        XCTAssertEqual(run("SAVE"), .error("ERR Background save already in progress"))
        XCTAssertEqual(info("rdb_bgsave_in_progress"), "1")
        XCTAssertEqual(info("current_save_keys_total"), "95")
        // Writes while the save runs are served and don't reach this file.
        _ = runPasses(limit: 3)
        XCTAssertEqual(info("current_save_keys_processed"), "30")
        run("SET", "late", "1")
        run("DEL", "k0")
        let rest = runPasses()
        XCTAssertGreaterThanOrEqual(rest, 7, "one pass per 10 keys")
        XCTAssertEqual(info("rdb_bgsave_in_progress"), "0")
        XCTAssertEqual(info("rdb_last_bgsave_status"), "ok")
        XCTAssertEqual(info("rdb_changes_since_last_save"), "2")  // the two writes made during the save
        let r = try loadFile()
        XCTAssertEqual(r.entries.count, 95)
        XCTAssertNotNil(r.entries.first { $0.key == "k0" })
        XCTAssertNil(r.entries.first { $0.key == "late" })
        XCTAssertEqual(run("BGSAVE", "SCHEDULE"), .simple("Background saving started"))
        XCTAssertEqual(run("BGSAVE", "NOW"), .error("ERR syntax error"))
        _ = runPasses()
    }

    func testSavePointsAndRetryAfterFailure() throws {
        server.config.savePoints = [SavePoint(seconds: 60, changes: 3)]
        server.lastSaveUnix = clock.nowMillis() / 1000
        run("SET", "a", "1"); run("SET", "b", "1"); run("SET", "c", "1")
        persistence.cron(nowMillis: clock.nowMillis())
        XCTAssertTrue(passes.isEmpty, "60 seconds have not passed")
        clock.advance(millis: 61_000)
        persistence.cron(nowMillis: clock.nowMillis())
        XCTAssertTrue(persistence.bgsaveInProgress)
        _ = runPasses()
        XCTAssertEqual(server.dirty, 0)
        XCTAssertEqual(try loadFile().entries.count, 3)

        // A failing save (dump.rdb is a directory: the rename fails) sets err, then MISCONF for writes and PING.
        try FileManager.default.removeItem(at: dir.appendingPathComponent("dump.rdb"))
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("dump.rdb/x"), withIntermediateDirectories: true)
        run("SET", "d", "1"); run("SET", "e", "1"); run("SET", "f", "1")
        clock.advance(millis: 61_000)
        persistence.cron(nowMillis: clock.nowMillis())
        _ = runPasses()
        XCTAssertEqual(info("rdb_last_bgsave_status"), "err")
        guard case .error(let e)? = run("SET", "g", "1") else { return XCTFail("write accepted") }
        XCTAssertTrue(e.hasPrefix("MISCONF Redis is configured to save RDB snapshots"), e)
        guard case .error? = run("PING") else { return XCTFail("PING accepted") }
        XCTAssertEqual(run("GET", "a"), .bulk(Array("1".utf8)))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["dump.rdb"], "temp file removed")
        // stop-writes-on-bgsave-error no: writes go on.
        server.config.stopWritesOnBgsaveError = false
        XCTAssertEqual(run("SET", "g", "1"), .simple("OK"))
        server.config.stopWritesOnBgsaveError = true
        // Retried only after 5 seconds; once it succeeds writes are accepted again.
        persistence.cron(nowMillis: clock.nowMillis() + 1000)
        XCTAssertFalse(persistence.bgsaveInProgress)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("dump.rdb"))
        clock.advance(millis: 6000)
        persistence.cron(nowMillis: clock.nowMillis())
        XCTAssertTrue(persistence.bgsaveInProgress)
        _ = runPasses()
        XCTAssertEqual(info("rdb_last_bgsave_status"), "ok")
        XCTAssertEqual(run("SET", "h", "1"), .simple("OK"))
    }

    func testChunkedLoadRepliesLoading() throws {
        server.config.savePoints = []  // so FLUSHALL below doesn't save the empty dataset over the file
        for i in 0..<50 { run("SET", "k\(i)", "v\(i)") }
        run("SET", "gone", "x")
        run("PEXPIREAT", "gone", String(clock.nowMillis() + 1000))
        XCTAssertEqual(run("SAVE"), .simple("OK"))
        run("FLUSHALL")
        clock.advance(millis: 2000)
        let reader = try XCTUnwrap(try persistence.openForLoading(persistence.path))
        var result: RDBPersistence.LoadResult?
        persistence.loadInChunks(reader, replace: true) { result = try? $0.get() }
        _ = runPasses(limit: 2)
        XCTAssertEqual(run("GET", "k1"), .error("LOADING Redis is loading the dataset in memory"))
        XCTAssertEqual(info("loading"), "1")
        XCTAssertNotNil(info("loading_loaded_perc"))
        _ = runPasses()
        XCTAssertEqual(result?.keysLoaded, 50)
        XCTAssertEqual(result?.keysExpired, 1, "a master does not load expired keys")
        XCTAssertEqual(info("loading"), "0")
        XCTAssertEqual(info("rdb_last_load_keys_loaded"), "50")
        XCTAssertEqual(run("GET", "k49"), .bulk(Array("v49".utf8)))
        XCTAssertEqual(run("DBSIZE"), .integer(50))
    }

    func testShutdownSaveModes() throws {
        run("SET", "a", "1")
        XCTAssertNil(persistence.shutdownSave(.noSave, force: false))
        XCTAssertFalse(FileManager.default.fileExists(atPath: persistence.path))
        server.config.savePoints = []
        XCTAssertNil(persistence.shutdownSave(.default, force: false))
        XCTAssertFalse(FileManager.default.fileExists(atPath: persistence.path), "no save points: no default save")
        XCTAssertNil(persistence.shutdownSave(.save, force: false))
        XCTAssertEqual(try loadFile().entries.count, 1)
        // A failed save refuses the shutdown unless forced.
        try FileManager.default.removeItem(at: dir.appendingPathComponent("dump.rdb"))
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("dump.rdb/x"), withIntermediateDirectories: true)
        XCTAssertNotNil(persistence.shutdownSave(.save, force: false))
        XCTAssertNil(persistence.shutdownSave(.save, force: true))
        // A failed SAVE is an error reply but, as in Redis, doesn't set the bgsave status (no MISCONF).
        XCTAssertEqual(run("SAVE"), .error("ERR"))
        XCTAssertEqual(info("rdb_last_bgsave_status"), "ok")
        XCTAssertEqual(run("SET", "b", "2"), .simple("OK"))
    }

    func testFlushAllDropsTheRunningSaveAndSavesTheEmptyDataset() throws {
        for i in 0..<50 { run("SET", "k\(i)", "v") }
        XCTAssertEqual(run("SAVE"), .simple("OK"))
        XCTAssertEqual(run("BGSAVE"), .simple("Background saving started"))
        XCTAssertEqual(run("FLUSHALL"), .simple("OK"))
        XCTAssertFalse(persistence.bgsaveInProgress)
        _ = runPasses()
        XCTAssertEqual(try loadFile().entries.count, 0, "a restart must not bring the keys back")
        XCTAssertEqual(info("rdb_changes_since_last_save"), "1")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["dump.rdb"])
    }

    func testChecksumOffWritesAZeroTrailer() throws {
        server.config.rdbChecksum = false
        run("SET", "a", "1")
        XCTAssertEqual(run("SAVE"), .simple("OK"))
        let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent("dump.rdb")))
        XCTAssertEqual(Array(bytes.suffix(8)), [UInt8](repeating: 0, count: 8))
        XCTAssertEqual(try RDBReader.parse(bytes).entries.count, 1)
    }

    func testLZFCompressionRoundTrips() {
        var seed: UInt64 = 7
        var inputs: [[UInt8]] = [Array(repeating: 65, count: 10_000), Array("abcabcabcabcabcabcabcabcabc".utf8),
                                 (0..<5000).map { UInt8($0 % 251) }]
        for n in [4096, 70_000] {
            inputs.append((0..<n).map { _ in
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                return UInt8(truncatingIfNeeded: seed >> 60)  // 16 symbols: compressible, irregular
            })
        }
        for input in inputs {
            guard let packed = RDBWriter.lzfCompress(input) else { XCTFail("not compressed (\(input.count) bytes)"); continue }
            XCTAssertLessThan(packed.count, input.count - 4)
            XCTAssertEqual(RDBReader.lzfDecompress(packed[...], expected: input.count), input)
        }
        XCTAssertNil(RDBWriter.lzfCompress((0..<64).map { UInt8($0 * 37 % 256) }), "incompressible stays raw")
        // Every length and repetition pattern that compresses decompresses to itself.
        for n in 5..<300 {
            for period in [1, 2, 3, 7, 40] {
                let input = (0..<n).map { UInt8(truncatingIfNeeded: ($0 % period) * 13 + n % 5) }
                if let packed = RDBWriter.lzfCompress(input) {
                    XCTAssertEqual(RDBReader.lzfDecompress(packed[...], expected: n), input, "n \(n) period \(period)")
                }
            }
        }
    }
}
