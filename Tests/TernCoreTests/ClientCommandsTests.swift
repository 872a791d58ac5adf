import NIOCore
import RESP
@testable import TernCore
import TernStorage
import XCTest

final class ClientCommandsTests: XCTestCase {
    func testIdNames() {
        let h = Harness()
        XCTAssertEqual(h.run("CLIENT ID"), .integer(Int64(h.client().id)))
        XCTAssertEqual(h.run("CLIENT GETNAME"), .null)
        XCTAssertEqual(h.run("CLIENT SETNAME app"), ok)
        XCTAssertEqual(h.run("CLIENT GETNAME"), bulk("app"))
        XCTAssertEqual(h.run(["CLIENT", "SETNAME", "a b"]),
                       err("ERR Client names cannot contain spaces, newlines or special characters."))
        XCTAssertEqual(h.run(["CLIENT", "SETNAME", ""]), ok)
        XCTAssertEqual(h.run("CLIENT GETNAME"), .null)
        XCTAssertEqual(h.run("CLIENT SETNAME"), err("ERR wrong number of arguments for 'client|setname' command"))
        XCTAssertEqual(h.run("CLIENT"), err("ERR wrong number of arguments for 'client' command"))
        XCTAssertEqual(h.run("CLIENT NOPE"), err("ERR unknown subcommand 'NOPE'. Try CLIENT HELP."))
    }

    func testListLineFormat() {
        let h = Harness()
        h.clock.advance(millis: 5000)
        h.run("SELECT 2")
        let line = h.run("CLIENT INFO")?.string ?? ""
        XCTAssertTrue(line.hasSuffix("\n"))
        let keys = line.dropLast().split(separator: " ").map { String($0.split(separator: "=", maxSplits: 1)[0]) }
        XCTAssertEqual(keys, ["id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub", "ssub",
                              "multi", "qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs", "rbp", "obl", "oll",
                              "omem", "tot-mem", "events", "cmd", "user", "redir", "resp"])
        XCTAssertTrue(line.hasPrefix("id=1 addr=127.0.0.1:40000 laddr=127.0.0.1:6379 fd=-1 name= age=5 idle=0 flags=N db=2 "))
        XCTAssertTrue(line.contains(" argv-mem=10 "))
        XCTAssertTrue(line.hasSuffix(" cmd=client|info user=default redir=-1 resp=2\n"))
    }

    func testListFilters() {
        let h = Harness()
        let other = h.connect()
        h.run("MULTI", as: other)
        h.run("PING", as: other)
        let all = h.run("CLIENT LIST")?.string ?? ""
        XCTAssertEqual(all.split(separator: "\n").count, 2)
        XCTAssertTrue(all.contains("id=2 ") && all.contains("flags=x ") && all.contains("multi=1 "))
        XCTAssertEqual(h.run("CLIENT LIST ID 2 99")?.string?.hasPrefix("id=2 "), true)
        XCTAssertEqual(h.run("CLIENT LIST ID 2 99")?.string?.split(separator: "\n").count, 1)
        XCTAssertEqual(h.run("CLIENT LIST ID x"), err("ERR Invalid client ID"))
        XCTAssertEqual(h.run("CLIENT LIST TYPE bogus"), err("ERR Unknown client type 'bogus'"))
        XCTAssertEqual(h.run("CLIENT LIST TYPE replica"), bulk(""))
        XCTAssertEqual(h.run("CLIENT LIST TYPE normal")?.string?.split(separator: "\n").count, 2)
        XCTAssertEqual(h.run("CLIENT LIST foo"), err("ERR syntax error"))
        h.run("HELLO 3")
        guard case .verbatim? = h.run("CLIENT LIST") else { return XCTFail("RESP3 CLIENT LIST is verbatim") }
    }

    func testKill() {
        let h = Harness()
        let b = h.connect()
        let c = h.connect()
        XCTAssertEqual(h.run("CLIENT KILL 1.2.3.4:5"), err("ERR No such client"))
        XCTAssertEqual(h.run("CLIENT KILL 127.0.0.1:40001"), ok)
        XCTAssertTrue(h.clients[b].2.closed)
        XCTAssertEqual(h.run("CLIENT KILL ID 0"), err("ERR client-id should be greater than 0"))
        XCTAssertEqual(h.run("CLIENT KILL ID 1 ID"), err("ERR syntax error"))
        XCTAssertEqual(h.run("CLIENT KILL TYPE bogus"), err("ERR Unknown client type 'bogus'"))
        XCTAssertEqual(h.run("CLIENT KILL USER nobody"), err("ERR No such user 'nobody'"))
        XCTAssertEqual(h.run("CLIENT KILL SKIPME maybe"), err("ERR syntax error"))
        XCTAssertEqual(h.run("CLIENT KILL FOO bar"), err("ERR syntax error"))
        XCTAssertEqual(h.run("CLIENT KILL ID 3"), .integer(1))
        XCTAssertTrue(h.clients[c].2.closed)
        // SKIPME yes (default) spares the caller; LADDR matches everyone here.
        XCTAssertEqual(h.run("CLIENT KILL LADDR 127.0.0.1:6379 ID 1"), .integer(0))
        XCTAssertFalse(h.client().closing)
        // Killing yourself: the reply goes out, then the connection closes.
        XCTAssertEqual(h.run("CLIENT KILL ID 1 SKIPME no"), .integer(1))
        XCTAssertTrue(h.client().closing)
    }

    func testKillMaxAge() {
        let h = Harness()
        h.clock.advance(millis: 10_000)
        let young = h.connect()
        XCTAssertEqual(h.run("CLIENT KILL MAXAGE 5 SKIPME no", as: young), .integer(1))
        XCTAssertTrue(h.client().closing)
        XCTAssertFalse(h.client(young).closing)
    }

    func testPauseAndUnpause() {
        let h = Harness()
        XCTAssertEqual(h.run("CLIENT PAUSE abc"), err("ERR timeout is not an integer or out of range"))
        XCTAssertEqual(h.run("CLIENT PAUSE -1"), err("ERR timeout is negative"))
        XCTAssertEqual(h.run("CLIENT PAUSE 10 NONE"), err("ERR CLIENT PAUSE mode must be WRITE or ALL"))
        XCTAssertEqual(h.run("CLIENT PAUSE 1000 WRITE"), ok)
        XCTAssertEqual(h.server.pausedUntilMillis, h.clock.nowMillis() + 1000)
        XCTAssertTrue(h.server.pauseWritesOnly)
        let other = h.connect()
        XCTAssertEqual(h.server.execute(h.clients[other].1, [ByteBuffer(string: "FLUSHALL")]), .paused)
        XCTAssertEqual(h.run("PING", as: other), .simple("PONG"))
        // A stricter pause (ALL) wins over WRITE, and the later end is kept.
        XCTAssertEqual(h.run("CLIENT PAUSE 10 ALL"), ok)
        XCTAssertFalse(h.server.pauseWritesOnly)
        XCTAssertEqual(h.server.pausedUntilMillis, h.clock.nowMillis() + 1000)
        h.server.pausedClients.append(h.client(other))
        h.clients[other].2.reading = false
        XCTAssertEqual(h.server.execute(h.clients[0].1, ["CLIENT", "UNPAUSE"].map { ByteBuffer(string: $0) }), .paused)
        h.server.pausedUntilMillis = 0
        XCTAssertEqual(h.run("CLIENT UNPAUSE"), ok)
        XCTAssertTrue(h.clients[other].2.reading)
    }

    func testReplyModes() {
        let h = Harness()
        XCTAssertNil(h.run("CLIENT REPLY OFF"))
        XCTAssertEqual(h.client().replyMode, .off)
        XCTAssertNil(h.run("CLIENT REPLY SKIP"))
        XCTAssertEqual(h.client().replyMode, .off)
        XCTAssertEqual(h.run("CLIENT REPLY ON"), ok)
        XCTAssertNil(h.run("CLIENT REPLY SKIP"))
        XCTAssertEqual(h.client().replyMode, .skipNext)
        XCTAssertEqual(h.run("CLIENT REPLY MAYBE"), err("ERR syntax error"))
    }

    func testNoEvictAndHelp() {
        let h = Harness()
        XCTAssertEqual(h.run("CLIENT NO-EVICT on"), ok)
        XCTAssertEqual(h.client().flagString, "e")
        XCTAssertEqual(h.run("CLIENT NO-EVICT off"), ok)
        XCTAssertEqual(h.client().flagString, "N")
        XCTAssertEqual(h.run("CLIENT NO-EVICT maybe"), err("ERR syntax error"))
        guard case .array(let lines)? = h.run("CLIENT HELP") else { return XCTFail("array expected") }
        XCTAssertEqual(lines.first, .simple("CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"))
        XCTAssertTrue(lines.contains(.simple("PAUSE <timeout> [WRITE|ALL]")))
    }
}
