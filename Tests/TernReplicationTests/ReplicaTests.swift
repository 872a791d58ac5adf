import NIOCore
import RESP
import TernCore
import TernMemory
import TernStorage
import TernTestSupport
import XCTest
@testable import TernRDB
@testable import TernReplication

final class FakeMasterLink: MasterLinkTransport {
    var sent: [UInt8] = []
    var closed = false
    func send(_ buffer: ByteBuffer) { sent += Array(buffer.readableBytesView) }
    func close() { closed = true }
    func take() -> String {
        defer { sent = [] }
        return String(decoding: sent, as: UTF8.self)
    }
}

final class ReplicaTests: XCTestCase {
    var clock = ManualClock()
    var server: ServerState!
    var replica: ReplicationReplica!
    var generations: [UInt64] = []
    var admin: CommandContext!

    override func setUp() {
        clock = ManualClock()
        server = ServerState(config: ServerConfig(), engine: TestEngines.make(databases: 16),
                             commands: BuiltinCommands.table(), clock: clock)
        let master = ReplicationMaster(server: server)
        master.install()
        replica = ReplicationReplica(server: server, master: master)
        replica.install()
        replica.listeningPort = 7777
        replica.connector = { [unowned self] _, _, generation in generations.append(generation) }
        admin = CommandContext(server: server, client: server.makeClient(address: "127.0.0.1:1", localAddress: "", transport: nil))
    }

    @discardableResult
    func run(_ words: String...) -> String {
        let ctx = admin!
        // In a batch, as the server runs each pass of its event loop (a no-op on the memory engine).
        XCTAssertNoThrow(try TestEngines.inBatch(server.engine) { _ = server.execute(ctx, words.map { ByteBuffer(string: $0) }) })
        defer { ctx.client.output.clear() }
        return String(buffer: ctx.client.output)
    }

    func feed(_ link: FakeMasterLink, _ bytes: [UInt8]) {
        replica.linkRead(generation: generations.last!, ByteBuffer(bytes: bytes))
    }

    func feed(_ link: FakeMasterLink, _ text: String) { feed(link, Array(text.utf8)) }

    func resp(_ words: String...) -> String {
        "*\(words.count)\r\n" + words.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined()
    }

    static let replid = String(repeating: "ab", count: 20)

    func sampleRDB() -> [UInt8] {
        let engine = TestEngines.make(databases: 16)
        engine.database(0).store("a", .string("1"), expiry: .clear)
        engine.database(0).store("h", .hash(["f": "v"]), expiry: .at(4_000_000_000_000))
        engine.database(2).store("b", .set(["x"]), expiry: .clear)
        return RDBWriter.serialize(engine.snapshot(), aux: [("redis-ver", "7.0.15")])
    }

    /// REPLICAOF through the handshake up to the FULLRESYNC line.
    func handshake() -> FakeMasterLink {
        XCTAssertEqual(run("REPLICAOF", "127.0.0.1", "6380"), "+OK\r\n")
        XCTAssertTrue(server.isReplica)
        XCTAssertEqual(replica.state, .connecting)
        let link = FakeMasterLink()
        replica.linkActive(generation: generations.last!, transport: link)
        XCTAssertEqual(link.take(), resp("PING"))
        feed(link, "+PONG\r\n")
        XCTAssertEqual(link.take(), resp("REPLCONF", "listening-port", "7777"))
        feed(link, "+OK\r\n")
        XCTAssertEqual(link.take(), resp("REPLCONF", "capa", "eof", "capa", "psync2"))
        feed(link, "+OK\r\n")
        // A master turned replica offers its own history first (PSYNC2), as Redis does.
        XCTAssertEqual(link.take(), resp("PSYNC", server.metrics.replicationID, "1"))
        feed(link, "\n+FULLRESYNC \(Self.replid) 100\r\n")
        XCTAssertEqual(replica.state, .sync)
        return link
    }

    func testFullSyncThenStream() {
        run("SET", "old", "x")
        let link = handshake()
        let rdb = sampleRDB()
        // The payload arrives in small pieces.
        feed(link, "\n$\(rdb.count)\r\n")
        for chunk in stride(from: 0, to: rdb.count, by: 7) {
            XCTAssertEqual(replica.state, .sync)
            feed(link, Array(rdb[chunk..<min(rdb.count, chunk + 7)]))
        }
        XCTAssertEqual(replica.state, .connected)
        XCTAssertEqual(link.take(), resp("REPLCONF", "ACK", "100"))
        XCTAssertEqual(run("GET", "old"), "$-1\r\n")
        XCTAssertEqual(run("GET", "a"), "$1\r\n1\r\n")
        XCTAssertEqual(run("PEXPIRETIME", "h"), ":4000000000000\r\n")
        run("SELECT", "2")
        XCTAssertEqual(run("SISMEMBER", "b", "x"), ":1\r\n")
        run("SELECT", "0")

        // The stream: applied as the master client, offsets counted, GETACK answered with the offset before it.
        let set = resp("SELECT", "0") + resp("SET", "k", "v")
        let getack = resp("REPLCONF", "GETACK", "*")
        let split = Array((set + getack).utf8)
        feed(link, Array(split[0..<10]))
        feed(link, Array(split[10...]))
        XCTAssertEqual(run("GET", "k"), "$1\r\nv\r\n")
        XCTAssertEqual(link.take(), resp("REPLCONF", "ACK", String(100 + set.utf8.count)))
        XCTAssertEqual(replica.offset, Int64(100 + set.utf8.count + getack.utf8.count))
        XCTAssertEqual(replica.masterClient?.flags.contains(.master), true)

        // Ordinary clients are refused writes, reads work.
        XCTAssertEqual(run("SET", "k", "w"), "-READONLY You can't write against a read only replica.\r\n")
        XCTAssertTrue(run("INFO", "replication").contains("master_link_status:up\r\n"))
        XCTAssertTrue(run("INFO", "replication").contains("role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:6380\r\n"))
        XCTAssertTrue(run("INFO", "replication").contains("slave_repl_offset:\(replica.offset)\r\n"))
        XCTAssertEqual(run("ROLE"), "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6380\r\n$9\r\nconnected\r\n:\(replica.offset)\r\n")

        // ACK once a second.
        clock.advance(millis: 1000)
        replica.cron(nowMillis: clock.nowMillis())
        XCTAssertEqual(link.take(), resp("REPLCONF", "ACK", String(replica.offset)))

        // The replica never expires keys itself.
        feed(link, resp("SET", "e", "1", "PXAT", String(clock.nowMillis() + 10)))
        clock.advance(millis: 50)
        XCTAssertEqual(run("GET", "e"), "$-1\r\n")
        XCTAssertEqual(server.database(0).keyCount, 4)

        // NO ONE: data kept, writes accepted, the link closed.
        XCTAssertEqual(run("REPLICAOF", "NO", "ONE"), "+OK\r\n")
        XCTAssertTrue(link.closed)
        XCTAssertFalse(server.isReplica)
        XCTAssertEqual(run("SET", "k", "w"), "+OK\r\n")
        XCTAssertEqual(run("GET", "a"), "$1\r\n1\r\n")
        XCTAssertTrue(run("INFO", "replication").contains("role:master\r\n"))
    }

    func testDisklessPayload() {
        let link = handshake()
        let marker = String(repeating: "0123456789", count: 4)
        feed(link, "$EOF:\(marker)\r\n")
        feed(link, sampleRDB() + Array(marker.utf8.prefix(13)))
        XCTAssertEqual(replica.state, .sync)
        feed(link, Array(marker.utf8.dropFirst(13)) + Array(resp("SET", "z", "1").utf8))
        XCTAssertEqual(replica.state, .connected)
        XCTAssertEqual(run("GET", "a"), "$1\r\n1\r\n")
        XCTAssertEqual(run("GET", "z"), "$1\r\n1\r\n")
    }

    func testCorruptPayloadKeepsOldDataAndRetries() {
        run("SET", "old", "x")
        let link = handshake()
        var rdb = sampleRDB()
        rdb[rdb.count - 3] ^= 0xFF
        feed(link, "$\(rdb.count)\r\n")
        feed(link, rdb)
        XCTAssertTrue(link.closed)
        XCTAssertEqual(replica.state, .connect)
        XCTAssertTrue(replica.lastError?.contains("Wrong RDB checksum") == true, replica.lastError ?? "")
        XCTAssertEqual(run("GET", "old"), "$1\r\nx\r\n")
        XCTAssertTrue(run("INFO", "replication").contains("master_link_status:down\r\n"))
        XCTAssertTrue(run("INFO", "replication").contains("master_link_down_since_seconds:-1\r\n"))
        // A new attempt a second later.
        let attempts = generations.count
        replica.cron(nowMillis: clock.nowMillis())
        XCTAssertEqual(generations.count, attempts)
        clock.advance(millis: 1000)
        replica.cron(nowMillis: clock.nowMillis())
        XCTAssertEqual(generations.count, attempts + 1)
        XCTAssertEqual(replica.state, .connecting)
    }

    func testHandshakeErrorsAndArguments() {
        XCTAssertEqual(run("REPLICAOF", "127.0.0.1", "notaport"), "-ERR value is not an integer or out of range\r\n")
        XCTAssertFalse(server.isReplica)
        XCTAssertEqual(run("REPLICAOF", "NO", "ONE"), "+OK\r\n")
        XCTAssertEqual(run("SLAVEOF", "127.0.0.1", "6380"), "+OK\r\n")
        XCTAssertEqual(run("SLAVEOF", "127.0.0.1", "6380"), "+OK Already connected to specified master\r\n")
        let link = FakeMasterLink()
        replica.linkActive(generation: generations.last!, transport: link)
        feed(link, "-ERR unknown command\r\n")
        XCTAssertTrue(link.closed)
        XCTAssertEqual(replica.state, .connect)
        // Events of a stale connection are ignored.
        let stale = FakeMasterLink()
        replica.linkActive(generation: 0, transport: stale)
        XCTAssertTrue(stale.closed)
    }

    func testSilentMasterTimesOut() {
        let link = handshake()
        feed(link, "$10\r\nREDIS")
        clock.advance(millis: 60_001)
        replica.cron(nowMillis: clock.nowMillis())
        XCTAssertTrue(link.closed)
        XCTAssertEqual(replica.state, .connect)
        XCTAssertTrue(replica.lastError?.contains("Timeout") == true)
    }

    func testStreamParserBounds() throws {
        XCTAssertNil(try ReplicationReplica.parseCommand(ByteBuffer(string: "*2\r\n$3\r\nGET\r\n$1\r\n")))
        let ok = try ReplicationReplica.parseCommand(ByteBuffer(string: "*2\r\n$3\r\nGET\r\n$1\r\nk\r\nrest"))
        XCTAssertEqual(ok?.arguments.map { String(buffer: $0) }, ["GET", "k"])
        XCTAssertEqual(ok?.consumed, 20)
        XCTAssertThrowsError(try ReplicationReplica.parseCommand(ByteBuffer(string: "*99999999999\r\n")))
        XCTAssertThrowsError(try ReplicationReplica.parseCommand(ByteBuffer(string: "*1\r\n$-5\r\n")))
        XCTAssertThrowsError(try ReplicationReplica.parseCommand(ByteBuffer(string: "GET k\r\n")))
    }
}
