import NIOCore
import TernCore
import TernPluginAPI

/// Turns a plugin's command declaration into a command-table spec, and runs its handler inside the
/// dispatcher's `call`: arguments in as byte arrays, the `Reply` value out in the client's protocol, errors
/// (thrown or replied) as error replies.
enum PluginCommandAdapter {
    static let flagMap: [(PluginCommandFlags, CommandFlags)] = [
        (.write, .write), (.readonly, .readonly), (.denyOOM, .denyoom), (.admin, .admin), (.fast, .fast),
        (.noAuth, .noAuth), (.noMulti, .noMulti), (.mayReplicate, .mayReplicate), (.allowStale, .stale),
        (.noMonitor, .skipMonitor), (.noSlowlog, .skipSlowlog),
    ]

    static func spec(name: String, _ command: PluginCommand) -> CommandSpec {
        let flags: CommandFlags = flagMap.reduce([]) { command.flags.contains($1.0) ? $0.union($1.1) : $0 }
        let handler = command.handler
        return CommandSpec(
            name, arity: command.arity, flags: flags,
            keys: KeyPositions(first: command.firstKey, last: command.lastKey, step: command.keyStep),
            group: "module", summary: command.summary, since: command.since, complexity: command.complexity,
            arguments: command.argumentHints, handler: { ctx in try run(handler, ctx) })
    }

    static func run(_ handler: (PluginContext, [[UInt8]]) throws -> Reply, _ ctx: CommandContext) throws {
        let arguments = ctx.arguments.map { Array($0.readableBytesView) }
        let call = PluginCallContext(ctx)
        defer {
            // RedisModule_ReplicateVerbatim: the command as sent, after the effects replicated explicitly.
            if call.verbatimRequested {
                ctx.server.propagate(Effect(db: ctx.client.db, arguments: ctx.arguments))
            }
        }
        let reply: Reply
        do {
            reply = try handler(call, arguments)
        } catch let e as PluginError {
            throw CommandError(oneLine(e.message))
        } catch let e as CommandError {
            throw e
        } catch {
            throw CommandError("ERR " + oneLine(String(describing: error)))
        }
        if case .error(let text) = reply { throw CommandError(oneLine(PluginError(text).message)) }
        write(reply, ctx)
    }

    /// Writes a reply value; RESP2 gets maps as flat arrays, doubles as bulk strings, booleans as integers.
    static func write(_ reply: Reply, _ ctx: CommandContext) {
        switch reply {
        case .ok: ctx.ok()
        case .simple(let text): ctx.simple(oneLine(text))
        case .error(let text): ctx.error(CommandError(oneLine(PluginError(text).message)))
        case .integer(let value): ctx.integer(value)
        case .bulk(let bytes): ctx.client.output.writeRESPBulk(bytes)
        case .null: ctx.null()
        case .array(let items):
            ctx.arrayHeader(items.count)
            for item in items { write(item, ctx) }
        case .set(let items):
            ctx.setHeader(items.count)
            for item in items { write(item, ctx) }
        case .map(let pairs):
            ctx.mapHeader(pairs.count)
            for (key, value) in pairs {
                write(key, ctx)
                write(value, ctx)
            }
        case .double(let value): ctx.double(value)
        case .bool(let value): ctx.bool(value)
        }
    }

    /// Status and error lines can't hold CR or LF (Redis replaces them with spaces too).
    static func oneLine(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 10 || $0 == 13 }) else { return text }
        return String(text.map { $0 == "\n" || $0 == "\r" || $0 == "\r\n" ? " " : $0 })
    }
}
