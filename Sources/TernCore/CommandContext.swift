import NIOCore
import RESP
import TernStorage

/// What a handler gets: the arguments, the client, the server, and reply and effect helpers.
/// One per client, reused for every command (no allocation per call).
public final class CommandContext {
    public let server: ServerState
    public let client: Client
    public internal(set) var arguments: [ByteBuffer] = []
    public internal(set) var spec: CommandSpec!
    /// Set by a handler that propagates its own deterministic effects instead of its arguments.
    public internal(set) var verbatimPrevented = false

    public init(server: ServerState, client: Client) {
        self.server = server
        self.client = client
    }

    // MARK: arguments

    @inlinable public var argc: Int { arguments.count }

    public func bytes(_ i: Int) -> Bytes {
        let a = arguments[i]
        return a.withUnsafeReadableBytes { Bytes(Array($0)) }
    }

    public func string(_ i: Int) -> String { String(buffer: arguments[i]) }

    /// Case-insensitive comparison with an ASCII word, without allocating.
    public func argument(_ i: Int, is word: StaticString) -> Bool {
        let a = arguments[i]
        guard a.readableBytes == word.utf8CodeUnitCount else { return false }
        return a.withUnsafeReadableBytes { raw in
            let w = word.utf8Start
            for j in 0..<raw.count where (raw[j] | 0x20) != (w[j] | 0x20) { return false }
            return true
        }
    }

    public func upper(_ i: Int) -> String { string(i).uppercased() }

    /// A 64-bit integer argument, or Redis's "value is not an integer or out of range".
    public func int(_ i: Int) throws -> Int {
        try int(i, error: .notInteger)
    }

    public func int(_ i: Int, error: CommandError) throws -> Int {
        guard let v = arguments[i].withUnsafeReadableBytes({ RESPNumber.parseInt64($0) }) else { throw error }
        return Int(v)
    }

    /// A double argument as Redis's strtod-based parsing accepts it ("value is not a valid float").
    public func double(_ i: Int) throws -> Double {
        guard let d = RedisNumber.parseDouble(arguments[i]) else { throw CommandError.notFloat }
        return d
    }

    public var keyspace: Keyspace { Keyspace(server: server, index: client.db) }

    // MARK: effects

    /// Propagates `words` instead of the command's own arguments (deterministic rewriting).
    public func propagate(_ arguments: [ByteBuffer]) {
        verbatimPrevented = true
        server.propagate(Effect(db: client.db, arguments: arguments))
    }

    public func propagate(_ words: [String]) {
        propagate(words.map { ByteBuffer(string: $0) })
    }

    /// Propagates nothing for this call even though it changed data (e.g. handled via `propagate`).
    public func preventPropagation() { verbatimPrevented = true }

    public var wantsEffects: Bool { server.propagation.wantsEffects }

    // MARK: replies

    @inlinable public var resp: RESPVersion { client.resp }

    /// Redis's addReplyHelp: the usage line, the subcommands' lines, then HELP's own.
    public func helpReply(_ command: String, _ lines: [String]) {
        let all = ["\(command) <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"] + lines
            + ["HELP", "    Prints this help."]
        arrayHeader(all.count)
        for line in all { simple(line) }
    }

    public func ok() { client.output.writeRESPOK() }
    public func simple(_ s: String) { client.output.writeRESPSimpleString(s) }
    public func error(_ e: CommandError) { client.output.writeRESPError(e.message) }
    public func integer(_ i: Int) { client.output.writeRESPInteger(i) }
    public func bulk(_ b: Bytes) { client.output.writeRESPBulk(b.array) }
    public func bulk(_ b: ByteBuffer) { client.output.writeRESPBulk(b) }
    public func bulk(_ s: String) { client.output.writeRESPBulkString(s) }
    public func bulkOrNull(_ b: Bytes?) { if let b { bulk(b) } else { null() } }
    public func null() { client.output.writeRESPNull(client.resp) }
    public func nullArray() { client.output.writeRESPNullArray(client.resp) }
    public func arrayHeader(_ n: Int) { client.output.writeRESPArrayHeader(n) }
    public func mapHeader(_ n: Int) { client.output.writeRESPMapHeader(n, client.resp) }
    public func setHeader(_ n: Int) { client.output.writeRESPSetHeader(n, client.resp) }
    public func bool(_ b: Bool) { client.output.writeRESPBool(b, client.resp) }
    public func double(_ d: Double) { RedisNumber.writeDouble(d, into: &client.output, client.resp) }
    public func verbatim(_ text: String) { client.output.writeRESPVerbatim(text, client.resp) }
    public func bulkArray(_ items: [String]) {
        arrayHeader(items.count)
        for s in items { bulk(s) }
    }
}
