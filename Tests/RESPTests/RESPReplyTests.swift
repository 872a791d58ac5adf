import NIOCore
import RESP
import XCTest

final class RESPReplyTests: XCTestCase {
    private func text(_ write: (inout ByteBuffer) -> Void) -> String {
        var b = ByteBuffer()
        write(&b)
        return String(buffer: b)
    }

    func testScalarForms() {
        XCTAssertEqual(text { $0.writeRESPOK() }, "+OK\r\n")
        XCTAssertEqual(text { $0.writeRESPInteger(-42) }, ":-42\r\n")
        XCTAssertEqual(text { $0.writeRESPInteger(Int.min) }, ":\(Int.min)\r\n")
        XCTAssertEqual(text { $0.writeRESPInteger(0) }, ":0\r\n")
        XCTAssertEqual(text { $0.writeRESPBulkString("héllo") }, "$6\r\nhéllo\r\n")
        XCTAssertEqual(text { $0.writeRESPError("ERR bad\r\nthing") }, "-ERR bad  thing\r\n")
    }

    func testVersionDependentForms() {
        XCTAssertEqual(text { $0.writeRESPNull(.resp2) }, "$-1\r\n")
        XCTAssertEqual(text { $0.writeRESPNull(.resp3) }, "_\r\n")
        XCTAssertEqual(text { $0.writeRESPNullArray(.resp2) }, "*-1\r\n")
        XCTAssertEqual(text { $0.writeRESPMapHeader(2, .resp2) }, "*4\r\n")
        XCTAssertEqual(text { $0.writeRESPMapHeader(2, .resp3) }, "%2\r\n")
        XCTAssertEqual(text { $0.writeRESPSetHeader(3, .resp3) }, "~3\r\n")
        XCTAssertEqual(text { $0.writeRESPDouble(formatted: "1.5", .resp3) }, ",1.5\r\n")
        XCTAssertEqual(text { $0.writeRESPDouble(formatted: "1.5", .resp2) }, "$3\r\n1.5\r\n")
        XCTAssertEqual(text { $0.writeRESPBool(true, .resp2) }, ":1\r\n")
        XCTAssertEqual(text { $0.writeRESPVerbatim("hi", .resp3) }, "=6\r\ntxt:hi\r\n")
    }

    /// Property: every value encodes and decodes back to itself, also when fed byte by byte.
    func testValueRoundTrip() throws {
        func random(_ depth: Int) -> RESPValue {
            switch Int.random(in: 0...(depth > 2 ? 5 : 9)) {
            case 0: return .simple("ok\(Int.random(in: 0...99))")
            case 1: return .error("ERR e\(Int.random(in: 0...99))")
            case 2: return .integer(Int64.random(in: Int64.min...Int64.max))
            case 3: return .bulk((0..<Int.random(in: 0...20)).map { _ in UInt8.random(in: 0...255) })
            case 4: return .null
            case 5: return .boolean(Bool.random())
            case 6: return .array((0..<Int.random(in: 0...4)).map { _ in random(depth + 1) })
            case 7: return .set((0..<Int.random(in: 0...4)).map { _ in random(depth + 1) })
            case 8: return .map((0..<Int.random(in: 0...3)).map { _ in (random(depth + 1), random(depth + 1)) })
            default: return .push((0..<Int.random(in: 1...3)).map { _ in random(depth + 1) })
            }
        }
        for _ in 0..<300 {
            let value = random(0)
            var buffer = ByteBuffer()
            value.encode(into: &buffer)
            let bytes = Array(buffer.readableBytesView)
            var decoder = RESPValueDecoder()
            var partial = ByteBuffer()
            var decoded: RESPValue? = nil
            for b in bytes {
                XCTAssertNil(decoded, "decoded before the last byte")
                partial.writeInteger(b)
                decoded = try decoder.decode(buffer: &partial)
            }
            XCTAssertEqual(decoded, value)
        }
    }

    func testNestingIsBounded() {
        var buffer = ByteBuffer(string: String(repeating: "*1\r\n", count: 1000) + ":1\r\n")
        var decoder = RESPValueDecoder()
        XCTAssertThrowsError(try decoder.decode(buffer: &buffer))
    }
}
