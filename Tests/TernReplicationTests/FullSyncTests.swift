import NIOCore
import RESP
import TernCore
import TernMemory
import TernStorage
import TernTestSupport
import XCTest
@testable import TernRDB
@testable import TernReplication

/// Full resyncs produced in slices on a manual scheduler: the master serves commands between slices, replicas
/// arriving during a length-framed job share its snapshot, diskless jobs gather replicas during the delay and
/// hold the stream until the replica's first ACK.
final class FullSyncTests: XCTestCase {
    var clock = ManualClock()
    var server: ServerState!
    var master: ReplicationMaster!
    var transports: [Transport] = []
    /// Scheduled work: (delay, body), run by `step`.
    var queue: [(Int64, () -> Void)] = []

    override func setUp() {
        clock = ManualClock()
        server = ServerState(config: ServerConfig(), engine: TestEngines.make(databases: 16),
                             commands: BuiltinCommands.table(), clock: clock)
        master = ReplicationMaster(server: server)
        master.install()
        master.scheduler = { [unowned self] delay, body in queue.append((delay, body)) }
        master.syncSliceBytes = 1024
    }

    func connect() -> (CommandContext, Transport) {
        let t = Transport()
        transports.append(t)
        let c = server.makeClient(address: "127.0.0.1:5000\(server.clients.count)", localAddress: "127.0.0.1:6379", transport: t)
        return (CommandContext(server: server, client: c), t)
    }

    @discardableResult
    func run(_ ctx: CommandContext, _ words: String...) -> String {
        // In a batch, as the server runs each pass of its event loop (a no-op on the memory engine).
        XCTAssertNoThrow(try TestEngines.inBatch(server.engine) { _ = server.execute(ctx, words.map { ByteBuffer(string: $0) }) })
        defer { ctx.client.output.clear() }
        return String(buffer: ctx.client.output)
    }

    /// Runs the work queued so far (one event-loop pass); returns how many items ran.
    @discardableResult
    func step() -> Int {
        let due = queue
        queue.removeAll()
        for (_, body) in due { body() }
        return due.count
    }

    func fill(_ n: Int) {
        let (w, _) = connect()
        for i in 0..<n { run(w, "SET", "key:\(i)", String(repeating: "v", count: 20)) }
    }

    func replica(capaEOF: Bool) -> (CommandContext, Transport) {
        let (ctx, t) = connect()
        run(ctx, "REPLCONF", "listening-port", "7000")
        if capaEOF { run(ctx, "REPLCONF", "capa", "eof", "capa", "psync2") } else { run(ctx, "REPLCONF", "capa", "psync2") }
        return (ctx, t)
    }

    /// Splits "+FULLRESYNC id off\r\n$len\r\n<rdb><stream>" (newline keepalives allowed before $).
    func parseLengthFramed(_ bytes: [UInt8]) throws -> (offset: Int64, rdb: [UInt8], rest: [UInt8]) {
        var text = bytes[...]
        let line1 = text.prefix { $0 != 13 }
        let parts = String(decoding: line1, as: UTF8.self).split(separator: " ")
        XCTAssertEqual(parts.first, "+FULLRESYNC")
        text = text.dropFirst(line1.count + 2)
        while text.first == 10 { text = text.dropFirst() }
        let line2 = text.prefix { $0 != 13 }
        let length = Int(String(decoding: line2.dropFirst(), as: UTF8.self))!
        text = text.dropFirst(line2.count + 2)
        return (Int64(parts[2])!, Array(text.prefix(length)), Array(text.dropFirst(length)))
    }

    func testRDBStreamSlicesMakeAValidFile() throws {
        let engine = TestEngines.make(databases: 16)
        for i in 0..<500 { engine.database(i % 3).store(Bytes("k\(i)"), .string(Bytes("v\(i)")), expiry: i % 7 == 0 ? .at(4_000_000_000_000) : .clear) }
        engine.database(5).store("h", .hash(["f": "v"]), expiry: .clear)
        let stream = RDBStream(snapshots: engine.snapshot(), aux: [("redis-ver", "7.0.15")])
        var slices = 0
        var bytes: [UInt8] = []
        while let slice = stream.next(budget: 512) {
            slices += 1
            bytes += slice
        }
        XCTAssertGreaterThan(slices, 4)
        XCTAssertEqual(stream.keys, 501)
        let parsed = try RDBReader.parse(bytes, databases: 16)
        XCTAssertEqual(parsed.entries.count, 501)
        XCTAssertEqual(parsed.entries.filter { $0.expireAt == 4_000_000_000_000 }.count, (0..<500).filter { $0 % 7 == 0 }.count)
        XCTAssertEqual(Set(parsed.entries.map { $0.db }), [0, 1, 2, 5])
        // A corrupted byte fails the CRC check.
        var bad = bytes
        bad[bad.count / 2] ^= 0x55
        XCTAssertThrowsError(try RDBReader.parse(bad, databases: 16))
    }

    func testLengthFramedJobIsSharedAndTheMasterServesMeanwhile() throws {
        server.config.replDisklessSync = false
        fill(300)
        let (r1, t1) = replica(capaEOF: true)
        run(r1, "PSYNC", "?", "-1")
        XCTAssertEqual(master.link(for: r1.client)?.state, .waitBgsave)
        step()  // the job starts: +FULLRESYNC, first slice
        XCTAssertNotNil(master.syncJob)
        let (w, _) = connect()
        // Commands run between slices; their effects queue behind the snapshot.
        XCTAssertEqual(run(w, "SET", "during", "1"), "+OK\r\n")
        // A second replica arrives while the snapshot is produced: it shares it.
        let (r2, t2) = replica(capaEOF: false)
        run(r2, "PSYNC", "?", "-1")
        XCTAssertEqual(master.syncJob?.replicas.count, 2)
        run(w, "INCR", "counter")
        var passes = 0
        while master.syncJob != nil && passes < 1000 { step(); passes += 1 }
        XCTAssertGreaterThan(passes, 3, "the snapshot was produced in several passes")
        XCTAssertEqual(master.syncFull, 2)
        let a = try parseLengthFramed(t1.sent), b = try parseLengthFramed(t2.sent)
        XCTAssertEqual(a.offset, b.offset)
        XCTAssertEqual(a.rdb, b.rdb)
        XCTAssertEqual(try RDBReader.parse(a.rdb, databases: 16).entries.count, 300)
        // The writes made during the job follow the RDB, starting with SELECT.
        let stream = resp("SELECT", "0") + resp("SET", "during", "1") + resp("INCR", "counter")
        XCTAssertEqual(String(decoding: a.rest, as: UTF8.self), stream)
        XCTAssertEqual(String(decoding: b.rest, as: UTF8.self), stream)
        XCTAssertEqual(master.link(for: r1.client)?.state, .online)
        // Online now: the pass's writes go out together once the pass ends (one write per replica).
        t1.sent.removeAll()
        run(w, "SET", "after", "2")
        run(w, "SET", "after", "3")
        XCTAssertEqual(t1.sent, [])
        XCTAssertEqual(step(), 1)
        XCTAssertEqual(t1.text, resp("SET", "after", "2") + resp("SET", "after", "3"))
    }

    func testDisklessJobGathersReplicasAndHoldsTheStreamUntilTheFirstAck() throws {
        server.config.replDisklessSyncDelay = 5
        fill(100)
        let (r1, t1) = replica(capaEOF: true)
        run(r1, "PSYNC", "?", "-1")
        XCTAssertEqual(queue.map { $0.0 }, [5000], "the job waits repl-diskless-sync-delay for more replicas")
        let (r2, t2) = replica(capaEOF: true)
        run(r2, "PSYNC", "?", "-1")
        XCTAssertEqual(t1.sent, [])
        while !queue.isEmpty { step() }
        for t in [t1, t2] {
            let text = t.text
            XCTAssertTrue(text.hasPrefix("+FULLRESYNC \(master.replid) 0\r\n$EOF:"), text)
            let markStart = text.range(of: "$EOF:")!.upperBound
            let mark = String(text[markStart...].prefix(40))
            XCTAssertTrue(text.hasSuffix(mark), "the payload ends with the mark")
        }
        XCTAssertEqual(t1.sent, t2.sent, "one snapshot for both")
        // Writes after the payload wait for the replica's first ACK.
        let (w, _) = connect()
        t1.sent.removeAll()
        run(w, "SET", "x", "1")
        XCTAssertEqual(t1.sent, [])
        run(r1, "REPLCONF", "ACK", "0")
        XCTAssertEqual(t1.text, resp("SELECT", "0") + resp("SET", "x", "1"))
        // A replica with max-replicas reached starts at once.
        server.config.replDisklessSyncMaxReplicas = 1
        master.disconnectReplicas()
        let (r3, _) = replica(capaEOF: true)
        run(r3, "PSYNC", "?", "-1")
        XCTAssertEqual(queue.map { $0.0 }, [0])
    }

    func testAbandonedJobIsDropped() {
        server.config.replDisklessSync = false
        fill(200)
        let (r1, _) = replica(capaEOF: false)
        run(r1, "PSYNC", "?", "-1")
        step()
        XCTAssertNotNil(master.syncJob)
        server.removeClient(r1.client)
        XCTAssertNil(master.syncJob)
        XCTAssertTrue(master.replicas.isEmpty)
    }

    func resp(_ words: String...) -> String {
        "*\(words.count)\r\n" + words.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined()
    }
}
