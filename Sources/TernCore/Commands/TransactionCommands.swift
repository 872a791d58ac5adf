import NIOCore
import RESP
import TernStorage

/// MULTI EXEC DISCARD: queued commands run as one execution unit, propagated as one MULTI/EXEC.
enum TransactionCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("multi", arity: 1, flags: [.noscript, .loading, .stale, .fast, .allowBusy],
                        group: "transactions", summary: "Start a transaction block", since: "1.2.0",
                        acl: ["transaction"]) { ctx in
                if ctx.client.flags.contains(.multi) { throw CommandError.err("MULTI calls can not be nested") }
                ctx.client.flags.insert(.multi)
                ctx.client.queued.removeAll()
                ctx.ok()
            },
            CommandSpec("discard", arity: 1, flags: [.noscript, .loading, .stale, .fast, .allowBusy],
                        group: "transactions", summary: "Discard all commands issued after MULTI", since: "2.0.0",
                        acl: ["transaction"]) { ctx in
                guard ctx.client.flags.contains(.multi) else { throw CommandError.err("DISCARD without MULTI") }
                discardTransaction(ctx)
                ctx.ok()
            },
            CommandSpec("exec", arity: 1, flags: [.noscript, .loading, .stale, .skipSlowlog],
                        group: "transactions", summary: "Execute all commands issued after MULTI", since: "1.2.0",
                        acl: ["transaction"], handler: exec),
        ]
    }

    static func discardTransaction(_ ctx: CommandContext) {
        ctx.client.flags.remove([.multi, .dirtyExec, .dirtyCAS])
        ctx.client.queued.removeAll()
        for hook in ctx.server.transactionEndHooks { hook(ctx.client) }
    }

    static func exec(_ ctx: CommandContext) throws {
        let client = ctx.client
        guard client.flags.contains(.multi) else { throw CommandError.err("EXEC without MULTI") }
        if client.flags.contains(.dirtyExec) {
            discardTransaction(ctx)
            throw CommandError("EXECABORT Transaction discarded because of previous errors.")
        }
        if client.flags.contains(.dirtyCAS) {
            discardTransaction(ctx)
            ctx.nullArray()
            return
        }
        let queued = client.queued
        client.queued.removeAll()
        client.flags.remove(.multi)
        let server = ctx.server
        ctx.arrayHeader(queued.count)
        for arguments in queued {
            // Queued commands passed lookup and arity when queued; state checks run again now.
            guard var spec = server.commands.lookup(arguments[0]) else { continue }
            if !spec.subcommands.isEmpty && arguments.count >= 2,
               let sub = spec.subcommands[String(buffer: arguments[1]).lowercased()] {
                spec = sub
            }
            if server.isReplica && server.config.replicaReadOnly && !client.flags.contains(.master)
                && spec.flags.contains(.write) {
                ctx.error(.readOnlyReplica)
                continue
            }
            server.call(ctx, spec, arguments)
        }
        discardTransaction(ctx)
    }
}
