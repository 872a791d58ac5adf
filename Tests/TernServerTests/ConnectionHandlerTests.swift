import Logging
import NIOCore
import NIOEmbedded
import RESP
import TernCore
@testable import TernServer
import XCTest

/// The connection handler on an embedded channel: pipelined requests run in order and their replies leave in
/// one write per read batch; a protocol error gets Redis's reply and closes only that connection.
final class ConnectionHandlerTests: XCTestCase {
    private var app: TernServerApp!

    override func setUpWithError() throws {
        let config = ServerConfig()
        app = try TernServerApp(config: config, logger: Logger(label: "test"))
    }

    override func tearDownWithError() throws {
        try app.group.syncShutdownGracefully()
    }

    private func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: ConnectionHandler(server: app.state, app: app, isUnixSocket: false))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6379)).wait()
        return channel
    }

    private func replies(_ buffer: ByteBuffer) throws -> [RESPValue] {
        var b = buffer
        var decoder = RESPValueDecoder()
        var out: [RESPValue] = []
        while let v = try decoder.decode(buffer: &b) { out.append(v) }
        return out
    }

    func testPipelinedRequestsAnswerInOrderInOneWrite() throws {
        let channel = try channel()
        var input = ByteBuffer()
        for words in [["SET", "k", "v"], ["GET", "k"], ["INCR", "n"], ["INCR", "n"], ["PING"]] {
            RESPValue.command(words).encode(into: &input)
        }
        try channel.writeInbound(input)
        channel.pipeline.fireChannelReadComplete()
        let written = try XCTUnwrap(try channel.readOutbound(as: ByteBuffer.self))
        XCTAssertNil(try channel.readOutbound(as: ByteBuffer.self), "one write for the whole read batch")
        XCTAssertEqual(try replies(written),
                       [.simple("OK"), .bulk(Array("v".utf8)), .integer(1), .integer(2), .simple("PONG")])
        _ = try channel.finish()
    }

    func testRequestSplitAcrossReadsWaitsForTheRest() throws {
        let channel = try channel()
        var input = ByteBuffer()
        RESPValue.command(["ECHO", "hello world"]).encode(into: &input)
        let first = input.readSlice(length: 9)!
        try channel.writeInbound(first)
        channel.pipeline.fireChannelReadComplete()
        XCTAssertNil(try channel.readOutbound(as: ByteBuffer.self), "nothing until the request is complete")
        try channel.writeInbound(input)
        channel.pipeline.fireChannelReadComplete()
        let written = try XCTUnwrap(try channel.readOutbound(as: ByteBuffer.self))
        XCTAssertEqual(try replies(written), [.bulk(Array("hello world".utf8))])
        _ = try channel.finish()
    }

    func testProtocolErrorRepliesAndCloses() throws {
        let channel = try channel()
        try channel.writeInbound(ByteBuffer(string: "*1\r\n$4\r\nPING\r\n*x\r\n"))
        channel.pipeline.fireChannelReadComplete()
        var all = ByteBuffer()
        while var b = try channel.readOutbound(as: ByteBuffer.self) { all.writeBuffer(&b) }
        XCTAssertEqual(String(buffer: all), "+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n")
        XCTAssertFalse(channel.isActive, "the connection is closed after the error")
    }

    func testInlineCommandAndQuit() throws {
        let channel = try channel()
        try channel.writeInbound(ByteBuffer(string: "PING\r\nQUIT\r\nPING\r\n"))
        var all = ByteBuffer()
        while var b = try channel.readOutbound(as: ByteBuffer.self) { all.writeBuffer(&b) }
        XCTAssertEqual(String(buffer: all), "+PONG\r\n+OK\r\n", "nothing runs after QUIT")
        XCTAssertFalse(channel.isActive)
    }
}
