import NIOCore
import RESP
import TernCore
import TernMemory
import TernStorage
import TernTestSupport
import XCTest
@testable import TernReplication

final class Transport: ClientTransport {
    var sent: [UInt8] = []
    var closed = false
    var pending = 0
    var pendingOutputBytes: Int { pending }
    var timers: [(Int64, () -> Void)] = []
    func scheduleTimer(afterMillis: Int64, _ body: @escaping () -> Void) { timers.append((afterMillis, body)) }
    func fire(_ millis: Int64) {
        let due = timers.filter { $0.0 == millis }
        timers.removeAll { $0.0 == millis }
        for (_, body) in due { body() }
    }
    func send(_ buffer: ByteBuffer) { sent += Array(buffer.readableBytesView) }
    func close() { closed = true }
    func setReadingEnabled(_ enabled: Bool) {}
    var text: String { String(decoding: sent, as: UTF8.self) }
}

final class ReplicationMasterTests: XCTestCase {
    var clock = ManualClock()
    var server: ServerState!
    var master: ReplicationMaster!
    /// Clients hold their transport weakly: the test keeps them alive.
    var transports: [Transport] = []

    override func setUp() {
        clock = ManualClock()
        let config = ServerConfig()
        config.replBacklogSize = 64  // tiny, so tests can overflow it (below what CONFIG SET accepts)
        server = ServerState(config: config, engine: TestEngines.make(databases: 16),
                             commands: BuiltinCommands.table(), clock: clock)
        master = ReplicationMaster(server: server)
        master.install()
    }

    func connect() -> (CommandContext, Transport) {
        let t = Transport()
        transports.append(t)
        let c = server.makeClient(address: "127.0.0.1:5000\(server.clients.count)", localAddress: "127.0.0.1:6379",
                                  transport: t)
        return (CommandContext(server: server, client: c), t)
    }

    @discardableResult
    func run(_ ctx: CommandContext, _ words: String...) -> String {
        let start = ctx.client.output.readerIndex
        // In a batch, as the server runs each pass of its event loop (a no-op on the memory engine).
        XCTAssertNoThrow(try TestEngines.inBatch(server.engine) { _ = server.execute(ctx, words.map { ByteBuffer(string: $0) }) })
        var out = ctx.client.output
        out.moveReaderIndex(to: start)
        ctx.client.output.clear()
        return String(buffer: out)
    }

    func resp(_ words: String...) -> String {
        "*\(words.count)\r\n" + words.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined()
    }

    func testBacklogRing() {
        var b = ReplicationBacklog(size: 8, masterOffset: 0)
        b.append(Array("abcde".utf8))
        XCTAssertEqual(b.firstByteOffset, 1)
        XCTAssertEqual(b.bytes(from: 3), Array("cde".utf8))
        XCTAssertTrue(b.canServe(from: 6))
        XCTAssertFalse(b.canServe(from: 7))
        b.append(Array("fghij".utf8))  // wraps: holds "cdefghij"
        XCTAssertEqual(b.histlen, 8)
        XCTAssertEqual(b.masterOffset, 10)
        XCTAssertEqual(b.firstByteOffset, 3)
        XCTAssertFalse(b.canServe(from: 2))
        XCTAssertEqual(b.bytes(from: 3), Array("cdefghij".utf8))
        XCTAssertEqual(b.bytes(from: 9), Array("ij".utf8))
        XCTAssertEqual(b.bytes(from: 11), [])
        b.append(Array("0123456789XY".utf8))  // longer than the ring
        XCTAssertEqual(b.bytes(from: b.firstByteOffset), Array("456789XY".utf8))
    }

    func testReplconf() {
        let (ctx, _) = connect()
        XCTAssertEqual(run(ctx, "REPLCONF", "listening-port", "6380"), "+OK\r\n")
        XCTAssertEqual(run(ctx, "REPLCONF", "capa", "eof", "capa", "psync2"), "+OK\r\n")
        XCTAssertEqual(run(ctx, "REPLCONF", "capa"), "-ERR syntax error\r\n")
        XCTAssertEqual(run(ctx, "REPLCONF", "foo", "bar"), "-ERR Unrecognized REPLCONF option: foo\r\n")
        XCTAssertEqual(run(ctx, "REPLCONF", "listening-port", "x"), "-ERR value is not an integer or out of range\r\n")
        XCTAssertEqual(run(ctx, "REPLCONF", "GETACK", "*"), "")
        XCTAssertEqual(run(ctx, "REPLCONF", "ACK", "10"), "")
        XCTAssertEqual(run(ctx, "REPLCONF"), "+OK\r\n")
    }

    func testFullResyncThenStream() throws {
        let (writer, _) = connect()
        XCTAssertFalse(master.wantsEffects, "no effects are built before the first replica")
        run(writer, "SET", "before", "1")
        XCTAssertEqual(master.masterOffset, 0)

        let (replica, t) = connect()
        run(replica, "REPLCONF", "listening-port", "6380")
        run(replica, "REPLCONF", "capa", "eof", "capa", "psync2")
        XCTAssertEqual(run(replica, "PSYNC", "?", "-1"), "")
        XCTAssertTrue(replica.client.flags.contains(.replica))
        let header = "+FULLRESYNC \(master.replid) 0\r\n"
        XCTAssertTrue(t.text.hasPrefix(header), t.text)
        var rest = Array(t.sent.dropFirst(header.utf8.count))
        let lenLine = String(decoding: rest.prefix(while: { $0 != 13 }), as: UTF8.self)
        XCTAssertTrue(lenLine.hasPrefix("$"))
        let rdbLength = Int(lenLine.dropFirst())!
        rest.removeFirst(lenLine.utf8.count + 2)
        XCTAssertEqual(rest.count, rdbLength)
        XCTAssertEqual(Array(rest.prefix(9)), Array("REDIS0010".utf8))
        XCTAssertTrue(String(decoding: rest, as: UTF8.self).contains("before"))
        XCTAssertEqual(master.syncFull, 1)
        XCTAssertEqual(master.link(for: replica.client)?.listeningPort, 6380)

        t.sent.removeAll()
        run(writer, "SELECT", "2")
        run(writer, "SET", "k", "v")
        run(writer, "GET", "k")
        let expected = resp("SELECT", "2") + resp("SET", "k", "v")
        XCTAssertEqual(t.text, expected)
        XCTAssertEqual(master.masterOffset, Int64(expected.utf8.count))

        // Units with several effects arrive wrapped in MULTI/EXEC; relative expiry as absolute.
        t.sent.removeAll()
        run(writer, "MULTI"); run(writer, "SET", "a", "1"); run(writer, "SET", "b", "2"); run(writer, "EXEC")
        XCTAssertEqual(t.text, resp("MULTI") + resp("SET", "a", "1") + resp("SET", "b", "2") + resp("EXEC"))
        t.sent.removeAll()
        run(writer, "SET", "e", "x", "EX", "10")
        XCTAssertEqual(t.text, resp("SET", "e", "x", "PXAT", String(clock.nowMillis() + 10_000)))

        // PING every repl-ping-replica-period.
        t.sent.removeAll()
        master.cron(nowMillis: clock.nowMillis())
        XCTAssertEqual(t.text, resp("PING"))
        master.cron(nowMillis: clock.nowMillis() + 5000)
        XCTAssertEqual(t.text, resp("PING"))
        master.cron(nowMillis: clock.nowMillis() + 10_000)
        XCTAssertEqual(t.text, resp("PING") + resp("PING"))

        // ACK records the replica's offset.
        run(replica, "REPLCONF", "ACK", String(master.masterOffset))
        XCTAssertEqual(master.link(for: replica.client)?.ackOffset, master.masterOffset)
    }

    func testPartialResync() {
        let (writer, _) = connect()
        let (first, _) = connect()
        run(first, "PSYNC", "?", "-1")
        run(writer, "SET", "k", "v")
        let offsetBefore = master.masterOffset
        run(writer, "SET", "k2", "v2")
        server.removeClient(first.client)
        XCTAssertTrue(master.replicas.isEmpty)

        let (again, t) = connect()
        run(again, "REPLCONF", "capa", "psync2")
        run(again, "PSYNC", master.replid, String(offsetBefore + 1))
        XCTAssertEqual(t.text, "+CONTINUE \(master.replid)\r\n" + resp("SET", "k2", "v2"))
        XCTAssertEqual(master.syncPartialOK, 1)
        XCTAssertEqual(master.syncFull, 1)

        // Without psync2 the reply carries no id; an offset at the end of the stream sends nothing more.
        let (third, t3) = connect()
        run(third, "PSYNC", master.replid, String(master.masterOffset + 1))
        XCTAssertEqual(t3.text, "+CONTINUE\r\n")

        // Wrong id or an offset the backlog (64 bytes here) no longer holds: full resync, counted as an error.
        let (fourth, t4) = connect()
        run(fourth, "PSYNC", String(repeating: "0", count: 40), "1")
        XCTAssertTrue(t4.text.hasPrefix("+FULLRESYNC \(master.replid) \(master.masterOffset)\r\n"))
        for i in 0..<10 { run(writer, "SET", "key\(i)", "value\(i)") }
        let (fifth, t5) = connect()
        run(fifth, "PSYNC", master.replid, "1")
        XCTAssertTrue(t5.text.hasPrefix("+FULLRESYNC"))
        XCTAssertEqual(master.syncPartialErr, 2)
        XCTAssertEqual(master.syncFull, 3)
    }

    func testInfoAndRole() {
        let (writer, _) = connect()
        XCTAssertEqual(run(writer, "ROLE"), "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n")
        let (replica, _) = connect()
        run(replica, "REPLCONF", "listening-port", "6380")
        run(replica, "PSYNC", "?", "-1")
        run(writer, "SET", "k", "v")
        run(replica, "REPLCONF", "ACK", String(master.masterOffset))
        let off = master.masterOffset
        XCTAssertEqual(run(writer, "ROLE"),
                       "*3\r\n$6\r\nmaster\r\n:\(off)\r\n*1\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n$\(String(off).count)\r\n\(off)\r\n")
        let info = server.infoString(sections: ["replication"], currentClient: writer.client)
        XCTAssertTrue(info.contains("role:master\r\nconnected_slaves:1\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=\(off),lag=0\r\n"), info)
        XCTAssertTrue(info.contains("master_replid:\(master.replid)\r\n"), info)
        XCTAssertTrue(info.contains("master_repl_offset:\(off)\r\n"), info)
        XCTAssertTrue(info.contains("repl_backlog_active:1\r\nrepl_backlog_size:64\r\nrepl_backlog_first_byte_offset:1\r\nrepl_backlog_histlen:\(off)\r\n"), info)
        let stats = server.infoString(sections: ["stats"], currentClient: writer.client)
        XCTAssertTrue(stats.contains("sync_full:1\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\n"), stats)
    }

    func testSlowReplicaDroppedAtHardLimit() throws {
        server.config.clientOutputBufferLimits[ClientOutputBufferLimit.replica] =
            ClientOutputBufferLimit(hardBytes: 1000, softBytes: 500, softSeconds: 60)
        let (writer, _) = connect()
        let (replica, t) = connect()
        run(replica, "PSYNC", "?", "-1")
        let rdbSize = t.sent.count
        // The snapshot still queued doesn't count against the limit.
        t.pending = rdbSize + 10
        run(writer, "SET", "k", "v")
        XCTAssertEqual(master.replicas.count, 1)
        XCTAssertFalse(t.closed)
        // The snapshot has left; then stream bytes pile up past the hard limit: the replica is dropped and
        // the master carries on.
        t.pending = 5
        run(writer, "SET", "k", "v1")
        XCTAssertFalse(t.closed)
        t.pending = 1200
        run(writer, "SET", "k", "v2")
        XCTAssertTrue(t.closed)
        XCTAssertTrue(master.replicas.isEmpty)
        XCTAssertTrue(replica.client.closing)
        XCTAssertEqual(run(writer, "GET", "k"), "$2\r\nv2\r\n")
    }

    func testWait() {
        let (writer, wt) = connect()
        XCTAssertEqual(run(writer, "WAIT", "0", "0"), ":0\r\n")
        XCTAssertEqual(run(writer, "WAIT", "x", "0"), "-ERR value is not an integer or out of range\r\n")
        XCTAssertEqual(run(writer, "WAIT", "1", "1.5"), "-ERR timeout is not an integer or out of range\r\n")
        XCTAssertEqual(run(writer, "WAIT", "1", "-1"), "-ERR timeout is negative\r\n")
        let (replica, rt) = connect()
        run(replica, "PSYNC", "?", "-1")
        rt.sent.removeAll()
        run(writer, "SET", "k", "v")
        let target = master.masterOffset
        // Nobody acknowledged yet: the client parks, replicas are asked for their offset.
        XCTAssertEqual(run(writer, "WAIT", "1", "0"), "")
        XCTAssertTrue(writer.client.flags.contains(.blocked))
        wt.fire(0)
        XCTAssertTrue(rt.text.hasSuffix(resp("REPLCONF", "GETACK", "*")), rt.text)
        run(replica, "REPLCONF", "ACK", String(target - 1))
        XCTAssertTrue(writer.client.flags.contains(.blocked))
        run(replica, "REPLCONF", "ACK", String(master.masterOffset))
        XCTAssertFalse(writer.client.flags.contains(.blocked))
        XCTAssertEqual(String(buffer: writer.client.output), ":1\r\n")
        writer.client.output.clear()
        // Already acknowledged: immediate reply; more replicas than exist: the timeout answers with the count.
        XCTAssertEqual(run(writer, "WAIT", "1", "100"), ":1\r\n")
        XCTAssertEqual(run(writer, "WAIT", "2", "100"), "")
        wt.fire(100)
        XCTAssertEqual(String(buffer: writer.client.output), ":1\r\n")
        XCTAssertFalse(writer.client.flags.contains(.blocked))
    }

    func testLegacySync() {
        let (writer, _) = connect()
        run(writer, "SET", "k", "v")
        let (replica, t) = connect()
        run(replica, "SYNC")
        XCTAssertTrue(t.text.hasPrefix("$"), t.text)
        XCTAssertTrue(replica.client.flags.contains(.replica))
    }
}
