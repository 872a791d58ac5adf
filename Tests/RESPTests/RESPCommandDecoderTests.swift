import NIOCore
import RESP
import XCTest

final class RESPCommandDecoderTests: XCTestCase {
    private func decodeAll(_ chunks: [[UInt8]], limits: RESPLimits = RESPLimits()) throws -> [[String]] {
        var decoder = RESPCommandDecoder(limits: limits)
        var buffer = ByteBuffer()
        var out: [[String]] = []
        for chunk in chunks {
            buffer.writeBytes(chunk)
            while let command = try decoder.decode(buffer: &buffer) {
                out.append(command.arguments.map { String(buffer: $0) })
            }
        }
        return out
    }

    private func encode(_ commands: [[String]]) -> [UInt8] {
        var buffer = ByteBuffer()
        for c in commands { RESPValue.command(c).encode(into: &buffer) }
        return Array(buffer.readableBytesView)
    }

    func testMultibulkAndPipelining() throws {
        let commands = [["SET", "k", "v"], ["GET", "k"], ["PING"], ["ECHO", ""]]
        XCTAssertEqual(try decodeAll([encode(commands)]), commands)
    }

    func testArgumentsAreSlicesOfTheReadBuffer() throws {
        var decoder = RESPCommandDecoder()
        var buffer = ByteBuffer(bytes: encode([["SET", "key", "value"]]))
        let command = try XCTUnwrap(try decoder.decode(buffer: &buffer))
        // A slice shares the storage of the buffer it came from: no per-argument copy.
        buffer.withUnsafeReadableBytes { whole in
            command.arguments[2].withUnsafeReadableBytes { arg in
                let distance = arg.baseAddress! - whole.baseAddress!
                XCTAssertTrue(distance < 0 && distance > -64, "argument is not a view into the read buffer")
            }
        }
    }

    /// Property: any split of a valid stream decodes to the same commands.
    func testArbitrarySplitsDecodeIdentically() throws {
        var rng = SystemRandomNumberGenerator()
        for round in 0..<200 {
            var commands: [[String]] = []
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                var words: [String] = []
                for _ in 0..<Int.random(in: 1...5, using: &rng) {
                    let length = Int.random(in: 0...40, using: &rng)
                    words.append(String((0..<length).map { _ in Character(Unicode.Scalar(UInt8.random(in: 32...126, using: &rng))) }))
                }
                commands.append(words)
            }
            let bytes = encode(commands)
            var chunks: [[UInt8]] = []
            var i = 0
            while i < bytes.count {
                let n = round % 5 == 0 ? 1 : Int.random(in: 1...max(1, bytes.count / 3), using: &rng)
                chunks.append(Array(bytes[i..<min(bytes.count, i + n)]))
                i += n
            }
            XCTAssertEqual(try decodeAll(chunks), commands, "round \(round)")
        }
    }

    /// Property: encoding arbitrary binary arguments and decoding gives them back.
    func testBinaryRoundTrip() throws {
        for _ in 0..<100 {
            let args = (0..<Int.random(in: 1...6)).map { _ in (0..<Int.random(in: 0...300)).map { _ in UInt8.random(in: 0...255) } }
            var buffer = ByteBuffer()
            RESPValue.array(args.map { .bulk($0) }).encode(into: &buffer)
            var decoder = RESPCommandDecoder()
            let command = try XCTUnwrap(try decoder.decode(buffer: &buffer))
            XCTAssertEqual(command.arguments.map { Array($0.readableBytesView) }, args)
            XCTAssertEqual(buffer.readableBytes, 0)
        }
    }

    func testInlineCommands() throws {
        XCTAssertEqual(try decodeAll([Array("PING\r\n".utf8)]), [["PING"]])
        XCTAssertEqual(try decodeAll([Array("set  k \"a b\\x41\\n\"  'c d'\n".utf8)]), [["set", "k", "a bA\n", "c d"]])
        XCTAssertEqual(try decodeAll([Array("\r\n".utf8)]), [[]])
        XCTAssertThrowsError(try decodeAll([Array("set \"abc\r\n".utf8)])) {
            XCTAssertEqual(($0 as? RESPProtocolError)?.message, "Protocol error: unbalanced quotes in request")
        }
    }

    func testProtocolErrors() {
        let cases: [(String, String)] = [
            ("*abc\r\n", "Protocol error: invalid multibulk length"),
            ("*1\r\nx\r\n", "Protocol error: expected '$', got 'x'"),
            ("*1\r\n$-5\r\n", "Protocol error: invalid bulk length"),
            ("*1\r\n$abc\r\n", "Protocol error: invalid bulk length"),
            ("*1048577\r\n", "Protocol error: invalid multibulk length"),
            ("*1\r\n$600000000\r\n", "Protocol error: invalid bulk length"),
            ("*01\r\n", "Protocol error: invalid multibulk length"),
            ("*99999999999999999999999\r\n", "Protocol error: invalid multibulk length"),
        ]
        for (input, message) in cases {
            XCTAssertThrowsError(try decodeAll([Array(input.utf8)]), input) {
                XCTAssertEqual(($0 as? RESPProtocolError)?.message, message, input)
            }
        }
    }

    func testOversizedLinesAreRejectedWithoutWaitingForever() {
        let long = [UInt8](repeating: UInt8(ascii: "a"), count: 70 * 1024)
        XCTAssertThrowsError(try decodeAll([long])) {
            XCTAssertEqual(($0 as? RESPProtocolError)?.message, "Protocol error: too big inline request")
        }
        XCTAssertThrowsError(try decodeAll([Array("*".utf8) + [UInt8](repeating: UInt8(ascii: "1"), count: 70 * 1024)])) {
            XCTAssertEqual(($0 as? RESPProtocolError)?.message, "Protocol error: too big mbulk count string")
        }
    }

    func testUnauthenticatedLimits() {
        var decoder = RESPCommandDecoder(authenticated: false)
        var buffer = ByteBuffer(string: "*11\r\n")
        XCTAssertThrowsError(try decoder.decode(buffer: &buffer)) {
            XCTAssertEqual(($0 as? RESPProtocolError)?.message, "Protocol error: unauthenticated multibulk length")
        }
        var b2 = ByteBuffer(string: "*1\r\n$16385\r\n")
        XCTAssertThrowsError(try decoder.decode(buffer: &b2)) {
            XCTAssertEqual(($0 as? RESPProtocolError)?.message, "Protocol error: unauthenticated bulk length")
        }
    }

    func testLargeBulkArrivingInPiecesIsNotRescanned() throws {
        var decoder = RESPCommandDecoder()
        var buffer = ByteBuffer(string: "*2\r\n$3\r\nGET\r\n$100000\r\n")
        XCTAssertNil(try decoder.decode(buffer: &buffer))
        let readerBefore = buffer.readerIndex
        buffer.writeBytes([UInt8](repeating: 65, count: 50_000))
        XCTAssertNil(try decoder.decode(buffer: &buffer))
        XCTAssertEqual(buffer.readerIndex, readerBefore, "incomplete input must not be consumed")
        buffer.writeBytes([UInt8](repeating: 65, count: 50_000))
        buffer.writeString("\r\n")
        let command = try XCTUnwrap(try decoder.decode(buffer: &buffer))
        XCTAssertEqual(command.arguments[1].readableBytes, 100_000)
    }
}
