import DequeModule
import NIOCore
import RESP
import TernCore

/// One client connection: decodes requests from the read buffer (argument slices, no copies), runs them in
/// order through the dispatcher and flushes all replies of a read batch once, on `channelReadComplete`.
final class ConnectionHandler: ChannelInboundHandler, ClientTransport {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let server: ServerState
    private let app: TernServerApp
    private var decoder: RESPCommandDecoder
    private var queryBuffer: ByteBuffer?
    private var client: Client!
    private var context: CommandContext!
    private var channelContext: ChannelHandlerContext?
    /// Requests held back by CLIENT PAUSE, in arrival order.
    private var held: Deque<[ByteBuffer]> = []
    /// The request being run: reused from one request to the next (no array allocated per request).
    private var arguments: [ByteBuffer] = []
    private var closed = false
    /// Replies are waiting for the open batch to be committed (durable backends).
    private var awaitingCommit = false
    private var closeAfterCommit = false
    private let isUnixSocket: Bool

    init(server: ServerState, app: TernServerApp, isUnixSocket: Bool) {
        self.server = server
        self.app = app
        self.isUnixSocket = isUnixSocket
        var limits = RESPLimits()
        limits.maxBulkLength = server.config.protoMaxBulkLen
        self.decoder = RESPCommandDecoder(limits: limits, authenticated: true)
    }

    func channelActive(context: ChannelHandlerContext) {
        channelContext = context
        let channel = context.channel
        let address = Self.describe(channel.remoteAddress, unix: isUnixSocket, fallback: "?:0")
        let local = Self.describe(channel.localAddress, unix: isUnixSocket, fallback: "?:0")
        client = server.makeClient(address: address, localAddress: local, transport: self)
        if isUnixSocket { client.flags.insert(.unixSocket) }
        self.context = CommandContext(server: server, client: client)

        if server.connectedClientCount > server.config.maxClients {
            server.stats.rejectedConnections += 1
            reject(context, "-ERR max number of clients reached\r\n")
            return
        }
        if server.config.protectedMode && server.acl.defaultUser.noPass && !isUnixSocket
            && !Self.isLoopback(channel.remoteAddress) {
            server.stats.rejectedConnections += 1
            reject(context, "-DENIED \(Self.protectedModeMessage)\r\n")
            return
        }
        context.fireChannelActive()
    }

    private func reject(_ context: ChannelHandlerContext, _ text: String) {
        var out = context.channel.allocator.buffer(capacity: text.utf8.count)
        out.writeString(text)
        closed = true
        context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in context.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        if let client { server.removeClient(client) }
        channelContext = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closed else { return }
        var incoming = unwrapInboundIn(data)
        server.stats.totalNetInputBytes += incoming.readableBytes
        server.stats.totalReadsProcessed += 1
        if queryBuffer == nil {
            queryBuffer = incoming
        } else {
            queryBuffer!.writeBuffer(&incoming)
        }
        processQueryBuffer(context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushReplies(context)
    }

    /// Parses and runs every complete request in the buffer.
    private func processQueryBuffer(_ context: ChannelHandlerContext) {
        guard held.isEmpty, !client.flags.contains(.blocked) else { return }
        // While this read's commands run, the buffer holds them (CLIENT LIST qbuf, as Redis's querybuf).
        if let buffer = queryBuffer {
            client.queryBufferBytes = buffer.readableBytes
            client.queryBufferFree = buffer.writableBytes
        }
        server.beginRequestBatch()
        defer { server.endRequestBatch() }
        while !closed, queryBuffer != nil, queryBuffer!.readableBytes > 0 {
            decoder.authenticated = !server.authRequired(client)
            let decoded: Bool?
            do {
                decoded = try decoder.decode(buffer: &queryBuffer!, into: &arguments)
            } catch let error as RESPProtocolError {
                protocolError(context, error.message)
                return
            } catch {
                protocolError(context, "Protocol error: \(error)")
                return
            }
            guard decoded != nil else { break }
            if !run(arguments, context) { break }
        }
        guard !closed else { return }
        if let buffer = queryBuffer {
            client.queryBufferBytes = buffer.readableBytes
            client.queryBufferFree = buffer.writableBytes
            if buffer.readableBytes > server.config.clientQueryBufferLimit {
                server.logger.warning("Closing client that reached max query buffer length: id=\(client.id) addr=\(client.address) qbuf=\(buffer.readableBytes)")
                closeNow(context)
                return
            }
            if buffer.readableBytes == 0 {
                queryBuffer = nil
                client.queryBufferFree = 0
            } else if buffer.readerIndex > 64 * 1024 {
                queryBuffer!.discardReadBytes()
            }
        }
    }

    /// Runs one request; false when processing must stop (held by a pause, or the connection closes).
    private func run(_ arguments: [ByteBuffer], _ context: ChannelHandlerContext) -> Bool {
        app.openBatchIfNeeded()
        let mark = client.output.writerIndex
        var skipThis = false
        if client.replyMode == .skipNext {
            client.replyMode = .on
            skipThis = true
        }
        let outcome = server.execute(self.context, arguments)
        switch outcome {
        case .paused:
            if skipThis { client.replyMode = .skipNext }
            held.append(arguments.map { ByteBuffer(buffer: $0) })
            server.pausedClients.append(client)
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
            return false
        case .done, .close:
            if skipThis || client.replyMode == .off || client.replyMode == .skipNext {
                client.output.moveWriterIndex(to: mark)
            }
            // Parked in a blocking command: the rest of its input waits until it is served or times out.
            if client.flags.contains(.blocked) { return false }
            if outcome == .close || client.closing {
                flushReplies(context)
                closeNow(context)
                return false
            }
            return true
        }
    }

    private func protocolError(_ context: ChannelHandlerContext, _ message: String) {
        client.output.writeRESPError("ERR " + message)
        server.logger.debug("Protocol error (\(message)) from client: id=\(client.id) addr=\(client.address)")
        flushReplies(context)
        closeNow(context)
    }

    private func flushReplies(_ context: ChannelHandlerContext) {
        guard !closed, client.output.readableBytes > 0 else { return }
        // A durable backend's batch is still open: these replies acknowledge writes that are not on disk yet.
        if app.holdReplies(self) {
            awaitingCommit = true
            return
        }
        writeOutput(context)
    }

    private func writeOutput(_ context: ChannelHandlerContext) {
        guard !closed, client.output.readableBytes > 0 else { return }
        let out = client.output
        server.stats.totalNetOutputBytes += out.readableBytes
        server.stats.totalWritesProcessed += 1
        client.output = context.channel.allocator.buffer(capacity: 1024)
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    /// The batch these replies waited for is committed (and synced): send them.
    func releaseAfterCommit() {
        awaitingCommit = false
        guard let context = channelContext else { return }
        writeOutput(context)
        if closeAfterCommit { closeNow(context) }
    }

    /// The batch could not be committed: its writes are lost, so none of its replies may be sent. The client
    /// sees the connection close without an acknowledgement.
    func dropAfterFailedCommit() {
        awaitingCommit = false
        client.output.clear()
        guard let context = channelContext else { return }
        closeNow(context)
    }

    private func closeNow(_ context: ChannelHandlerContext) {
        if awaitingCommit {
            closeAfterCommit = true
            return
        }
        guard !closed else { return }
        closed = true
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        closeNow(context)
    }

    // MARK: ClientTransport

    func send(_ buffer: ByteBuffer) {
        guard !closed, let context = channelContext else { return }
        server.stats.totalNetOutputBytes += buffer.readableBytes
        server.stats.totalWritesProcessed += 1
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func close() {
        guard let context = channelContext else { return }
        flushReplies(context)
        closeNow(context)
    }

    /// Output handed to NIO but not yet written to the socket (client-output-buffer-limit): NIO's own count
    /// of the channel's pending writes, which is what a write-promise tally would compute, at no per-write cost.
    var pendingOutputBytes: Int {
        guard !closed, let context = channelContext else { return 0 }
        return (try? context.channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)) ?? 0
    }

    func scheduleTimer(afterMillis: Int64, _ body: @escaping () -> Void) {
        guard let context = channelContext else { return }
        context.eventLoop.scheduleTask(in: .milliseconds(afterMillis)) { body() }
    }

    func setReadingEnabled(_ enabled: Bool) {
        guard let context = channelContext, !closed else { return }
        context.channel.setOption(ChannelOptions.autoRead, value: enabled).whenComplete { _ in }
        guard enabled else { return }
        // Resume after the current command (we may be called from inside another client's command).
        context.eventLoop.execute { [self] in resume() }
    }

    private func resume() {
        guard let context = channelContext, !closed else { return }
        // Replay what the pause held, then whatever arrived behind it.
        while let arguments = held.popFirst() {
            if !run(arguments, context) { flushReplies(context); return }
        }
        processQueryBuffer(context)
        flushReplies(context)
    }

    // MARK: helpers

    static func describe(_ address: SocketAddress?, unix: Bool, fallback: String) -> String {
        guard let address else { return fallback }
        if unix { return address.pathname ?? "" }
        if let ip = address.ipAddress, let port = address.port {
            if case .v6 = address { return "\(ip):\(port)" }
            return "\(ip):\(port)"
        }
        return fallback
    }

    static func isLoopback(_ address: SocketAddress?) -> Bool {
        guard let address, let ip = address.ipAddress else { return true }
        return ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
    }

    static let protectedModeMessage = "Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside."
}
