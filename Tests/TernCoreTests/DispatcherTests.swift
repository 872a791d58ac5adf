import RESP
import TernCore
import XCTest

final class DispatcherTests: XCTestCase {
    func testUnknownCommandAndArity() {
        let h = Harness()
        XCTAssertEqual(h.run("FOO a b"), err("ERR unknown command 'FOO', with args beginning with: 'a' 'b' "))
        XCTAssertEqual(h.run(["ECHO"]), err("ERR wrong number of arguments for 'echo' command"))
        XCTAssertEqual(h.run("PING"), .simple("PONG"))
        XCTAssertEqual(h.run("ping hello"), bulk("hello"))
    }

    func testSelectBounds() {
        let h = Harness()
        XCTAssertEqual(h.run("SELECT 15"), ok)
        XCTAssertEqual(h.client().db, 15)
        XCTAssertEqual(h.run("SELECT 16"), err("ERR DB index is out of range"))
        XCTAssertEqual(h.run("SELECT x"), err("ERR value is not an integer or out of range"))
        XCTAssertEqual(h.run("SELECT 4294967296"), err("ERR value is out of range, value must between -2147483648 and 2147483647"))
        XCTAssertEqual(h.run("SELECT -1"), err("ERR DB index is out of range"))
        XCTAssertEqual(h.run("EXEC x"), err("EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"))
    }

    func testAuthRequired() {
        let h = Harness { $0.requirePass = "secret" }
        XCTAssertEqual(h.run("PING"), err("NOAUTH Authentication required."))
        XCTAssertEqual(h.run("AUTH wrong"), err("WRONGPASS invalid username-password pair or user is disabled."))
        XCTAssertEqual(h.run("AUTH secret"), ok)
        XCTAssertEqual(h.run("PING"), .simple("PONG"))
    }

    func testHelloSwitchesProtocol() {
        let h = Harness()
        guard case .map(let pairs)? = h.run("HELLO 3") else { return XCTFail("HELLO 3 must reply with a map") }
        XCTAssertEqual(pairs.first?.0, bulk("server"))
        XCTAssertEqual(h.client().resp, .resp3)
        XCTAssertEqual(h.run("HELLO 4"), err("NOPROTO unsupported protocol version"))
    }

    func testMultiQueuesAndExecAborts() {
        let h = Harness()
        XCTAssertEqual(h.run("MULTI"), ok)
        XCTAssertEqual(h.run("PING"), .simple("QUEUED"))
        XCTAssertEqual(h.run("NOSUCH"), err("ERR unknown command 'NOSUCH', with args beginning with: "))
        XCTAssertEqual(h.run("EXEC"), err("EXECABORT Transaction discarded because of previous errors."))
        XCTAssertEqual(h.run("EXEC"), err("ERR EXEC without MULTI"))
        XCTAssertEqual(h.run("MULTI"), ok)
        XCTAssertEqual(h.run("PING"), .simple("QUEUED"))
        XCTAssertEqual(h.run("EXEC"), .array([.simple("PONG")]))
    }
}
