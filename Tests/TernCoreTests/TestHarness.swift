import NIOCore
import RESP
import TernCore
import TernMemory
import TernStorage
import TernTestSupport
import XCTest

/// Captures what the core pushes outside the request/reply cycle.
final class RecordingTransport: ClientTransport {
    var sent: [ByteBuffer] = []
    var closed = false
    var reading = true
    func send(_ buffer: ByteBuffer) { sent.append(buffer) }
    func close() { closed = true }
    func setReadingEnabled(_ enabled: Bool) { reading = enabled }
}

/// An in-process server: this run's engine (`TERN_TEST_ENGINE`: memory or LMDB, see TernTestSupport), the
/// built-in table, a manual clock and a recording propagation hook. `run` sends one command as a client would
/// and decodes the reply; each command runs in a batch, as the server runs each pass of its event loop.
final class Harness {
    let clock = ManualClock()
    let propagation = RecordingPropagation()
    let config = ServerConfig()
    let engine: any StorageEngine
    let server: ServerState
    private(set) var clients: [(Client, CommandContext, RecordingTransport)] = []

    init(databases: Int = 16, configure: (ServerConfig) -> Void = { _ in }) {
        configure(config)
        engine = TestEngines.make(databases: databases)
        server = ServerState(config: config, engine: engine, commands: BuiltinCommands.table(),
                             clock: clock, propagation: propagation)
        _ = connect()
    }

    /// Opens another client; returns its index for `run(_:as:)`.
    func connect() -> Int {
        let transport = RecordingTransport()
        let client = server.makeClient(address: "127.0.0.1:\(40000 + clients.count)", localAddress: "127.0.0.1:6379",
                                       transport: transport)
        clients.append((client, CommandContext(server: server, client: client), transport))
        return clients.count - 1
    }

    func client(_ index: Int = 0) -> Client { clients[index].0 }

    /// Runs one command; returns its reply (nil when the command produced none, e.g. CLIENT REPLY OFF).
    @discardableResult
    func run(_ words: [String], as index: Int = 0) -> RESPValue? {
        let (client, context, _) = clients[index]
        let start = client.output.writerIndex
        do {
            _ = try TestEngines.inBatch(engine) { server.execute(context, words.map { ByteBuffer(string: $0) }) }
        } catch {
            XCTFail("the batch of \(words) failed to commit: \(error)")
        }
        var out = client.output
        out.moveReaderIndex(to: start)
        var decoder = RESPValueDecoder()
        let value = try? decoder.decode(buffer: &out)
        client.output.clear()
        return value ?? nil
    }

    @discardableResult
    func run(_ line: String, as index: Int = 0) -> RESPValue? {
        run(line.split(separator: " ").map(String.init), as: index)
    }

    /// Every propagated effect so far, one line each, MULTI/EXEC included.
    var effects: [String] { propagation.lines }
}

func bulk(_ s: String) -> RESPValue { .bulk(Array(s.utf8)) }
func err(_ s: String) -> RESPValue { .error(s) }
let ok = RESPValue.simple("OK")
