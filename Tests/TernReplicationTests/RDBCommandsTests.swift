import NIOCore
import RESP
import TernCore
import TernMemory
import TernStorage
import TernTestSupport
import XCTest
@testable import TernReplication

/// DUMP / RESTORE in process: round trips of every type, what is propagated, access metadata.
final class RDBCommandsTests: XCTestCase {
    var clock = ManualClock()
    var propagation = RecordingPropagation()
    var server: ServerState!
    var context: CommandContext!

    override func setUp() {
        clock = ManualClock()
        propagation = RecordingPropagation()
        server = ServerState(config: ServerConfig(), engine: TestEngines.make(databases: 16),
                             commands: BuiltinCommands.table(), clock: clock, propagation: propagation)
        RDBCommands.install(on: server)
        let client = server.makeClient(address: "127.0.0.1:1", localAddress: "127.0.0.1:6379", transport: nil)
        context = CommandContext(server: server, client: client)
    }

    @discardableResult
    func run(_ words: [Any]) -> RESPValue? {
        let args = words.map { w -> ByteBuffer in
            if let b = w as? [UInt8] { return ByteBuffer(bytes: b) }
            return ByteBuffer(string: "\(w)")
        }
        let start = context.client.output.writerIndex
        // In a batch, as the server runs each pass of its event loop (a no-op on the memory engine).
        XCTAssertNoThrow(try TestEngines.inBatch(server.engine) { _ = server.execute(context, args) })
        var out = context.client.output
        out.moveReaderIndex(to: start)
        var decoder = RESPValueDecoder()
        let value = try? decoder.decode(buffer: &out)
        context.client.output.clear()
        return value ?? nil
    }

    func payload(_ key: String) -> [UInt8] {
        guard case .bulk(let b)? = run(["DUMP", key]) else { XCTFail("no payload for \(key)"); return [] }
        return b
    }

    func testRoundTripEveryType() {
        run(["SET", "s", "hello"])
        run(["RPUSH", "l", "a", "b", "c"])
        run(["HSET", "h", "f", "v", "g", "w"])
        run(["SADD", "st", "1", "x"])
        run(["ZADD", "z", "1.5", "a", "-2", "b"])
        for key in ["s", "l", "h", "st", "z"] {
            let before = server.keyspace(0).peek(Bytes(key))?.value
            let p = payload(key)
            XCTAssertEqual(run(["RESTORE", key + ":copy", "0", p]), .simple("OK"))
            XCTAssertEqual(server.keyspace(0).peek(Bytes(key + ":copy"))?.value, before, key)
        }
        XCTAssertEqual(run(["DUMP", "missing"]), .null)
    }

    func testRelativeTTLIsPropagatedAsAbsolute() {
        run(["SET", "s", "v"])
        let p = payload("s")
        propagation.reset()
        XCTAssertEqual(run(["RESTORE", "k", "5000", p]), .simple("OK"))
        let now = clock.nowMillis()
        XCTAssertEqual(server.keyspace(0).peek("k")?.expireAt, now + 5000)
        XCTAssertEqual(propagation.units.count, 1)
        let words = propagation.units[0][0].arguments.map { String(buffer: $0) }
        XCTAssertEqual(words[0], "RESTORE")
        XCTAssertEqual(words[2], String(now + 5000))
        XCTAssertEqual(words.last, "ABSTTL")
        // An already expired TTL with REPLACE deletes the old key and propagates a DEL.
        propagation.reset()
        XCTAssertEqual(run(["RESTORE", "k", "1", p, "ABSTTL", "REPLACE"]), .simple("OK"))
        XCTAssertNil(server.keyspace(0).peek("k"))
        XCTAssertEqual(propagation.lines, ["DEL k"])
        // ... and without an old key nothing happens and nothing is propagated.
        propagation.reset()
        XCTAssertEqual(run(["RESTORE", "k", "1", p, "ABSTTL"]), .simple("OK"))
        XCTAssertEqual(propagation.lines, [])
    }

    func testIdleTimeAndFrequency() {
        run(["SET", "s", "v"])
        let p = payload("s")
        run(["RESTORE", "idle", "0", p, "IDLETIME", "300"])
        XCTAssertEqual(server.keyspace(0).peek("idle")?.lastAccess, server.lruClock - 300)
        server.config.maxMemoryPolicy = "allkeys-lfu"
        run(["RESTORE", "hot", "0", p, "FREQ", "200"])
        XCTAssertEqual(server.keyspace(0).peek("hot")?.frequency, 200)
        XCTAssertEqual(run(["OBJECT", "FREQ", "hot"]), .integer(200))
    }

    func testCorruptPayloadsNeverCrash() {
        run(["RPUSH", "l", "a", "b", "c"])
        let p = payload("l")
        for i in 0..<p.count {
            var bad = p
            bad[i] ^= 0x41
            guard case .error? = run(["RESTORE", "x\(i)", "0", bad]) else { return XCTFail("accepted a corrupt payload at \(i)") }
        }
    }
}
