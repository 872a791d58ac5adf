import NIOCore
import RESP
import TernCore
import TernMemory
import XCTest
@testable import TernScripting

/// EVAL through the dispatcher on an in-process server: conversions both ways, the internal call path's
/// checks, and the script's effects as one unit.
final class ScriptingTests: XCTestCase {
    var server: ServerState!
    var propagation: RecordingPropagation!
    var ctx: CommandContext!

    override func setUp() {
        propagation = RecordingPropagation()
        server = ServerState(config: ServerConfig(), engine: MemoryEngine(databases: 16),
                             commands: BuiltinCommands.table(), propagation: propagation)
        ScriptingCommands.install(on: server)
        let client = server.makeClient(address: "127.0.0.1:1", localAddress: "127.0.0.1:6379", transport: nil)
        ctx = CommandContext(server: server, client: client)
    }

    func run(_ words: String...) -> RESPValue? {
        let client = ctx.client
        client.output.clear()
        _ = server.execute(ctx, words.map { ByteBuffer(string: $0) })
        var out = client.output
        var decoder = RESPValueDecoder()
        return (try? decoder.decode(buffer: &out)) ?? nil
    }

    func testLuaToReplyConversions() {
        XCTAssertEqual(run("EVAL", "return 3.99", "0"), .integer(3))
        XCTAssertEqual(run("EVAL", "return {1, 'a', {err='E x'}, false, nil, 9}", "0"),
                       .array([.integer(1), .bulk(Array("a".utf8)), .error("E x"), .null]))
        XCTAssertEqual(run("EVAL", "return {ok='fine'}", "0"), .simple("fine"))
        XCTAssertEqual(run("EVAL", "return true", "0"), .integer(1))
        ctx.client.resp = .resp3
        XCTAssertEqual(run("EVAL", "return {map={a=1}}", "0"), .map([(.bulk(Array("a".utf8)), .integer(1))]))
        XCTAssertEqual(run("EVAL", "return {double=1.5}", "0"), .double("1.5"))
        XCTAssertEqual(run("EVAL", "redis.setresp(3) return false", "0"), .boolean(false))
        XCTAssertEqual(run("EVAL", "return false", "0"), .null)
    }

    func testReplyToLuaConversions() {
        _ = run("HSET", "h", "f", "v")
        XCTAssertEqual(run("EVAL", "return redis.call('hgetall', 'h')", "0"),
                       .array([.bulk(Array("f".utf8)), .bulk(Array("v".utf8))]))
        XCTAssertEqual(run("EVAL", "redis.setresp(3) return redis.call('hgetall', 'h').map.f", "0"), .bulk(Array("v".utf8)))
        XCTAssertEqual(run("EVAL", "return type(redis.call('get', 'none'))", "0"), .bulk(Array("boolean".utf8)))
        XCTAssertEqual(run("EVAL", "redis.setresp(3) return type(redis.call('get', 'none'))", "0"), .bulk(Array("nil".utf8)))
        XCTAssertEqual(run("EVAL", "return redis.pcall('hget', 'h').err", "0"),
                       .bulk(Array("ERR Wrong number of args calling Redis command from script".utf8)))
    }

    func testInternalCallChecks() {
        guard case .error(let noscript) = run("EVAL", "return redis.call('multi')", "0") else { return XCTFail() }
        XCTAssertTrue(noscript.hasPrefix("ERR This Redis command is not allowed from script"))
        guard case .error(let ro) = run("EVAL_RO", "return redis.call('set', 'k', 'v')", "0") else { return XCTFail() }
        XCTAssertTrue(ro.hasPrefix("ERR Write commands are not allowed from read-only scripts."))
        guard case .error(let flagged) = run("EVAL", "#!lua flags=no-writes\nreturn redis.call('set', 'k', 'v')", "0") else {
            return XCTFail()
        }
        XCTAssertTrue(flagged.hasPrefix("ERR Write commands are not allowed from read-only scripts."))
        server.isReplica = true
        server.masterLinkUp = true
        // A shebang script that may write is refused at admission, as the dispatcher refuses writes.
        XCTAssertEqual(run("EVAL", "#!lua\nreturn 1", "0"), .error("READONLY You can't write against a read only replica."))
        guard case .error(let replica) = run("EVAL", "return redis.call('set', 'k', 'v')", "0") else { return XCTFail() }
        XCTAssertTrue(replica.hasPrefix("READONLY You can't write against a read only replica."))
    }

    func testEffectsAreOneUnit() {
        propagation.reset()
        XCTAssertEqual(run("EVAL", "redis.call('set', 'a', '1') redis.call('get', 'a') redis.call('incr', 'a') return 1", "0"),
                       .integer(1))
        XCTAssertEqual(propagation.units.count, 1)
        XCTAssertEqual(propagation.lines, ["MULTI", "set a 1", "incr a", "EXEC"])
        propagation.reset()
        _ = run("EVAL", "redis.set_repl(redis.REPL_NONE) redis.call('set', 'b', '1') return 1", "0")
        XCTAssertEqual(propagation.lines, [])
        _ = run("EVAL", "return redis.call('get', 'a')", "0")
        XCTAssertEqual(propagation.lines, [])
    }
}
