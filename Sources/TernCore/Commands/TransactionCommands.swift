import NIOCore
import RESP
import TernStorage

/// MULTI EXEC DISCARD WATCH UNWATCH: queued commands run as one execution unit, propagated as one MULTI/EXEC;
/// WATCHed keys touched by anyone (writes, expiry, FLUSHDB/FLUSHALL/SWAPDB) make EXEC return a null array.
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
            CommandSpec("watch", arity: -2, flags: [.noscript, .loading, .stale, .fast, .allowBusy], keys: .all,
                        group: "transactions", summary: "Watch the given keys to determine execution of the MULTI/EXEC block",
                        since: "2.2.0", complexity: "O(1) for every key.", acl: ["transaction"],
                        arguments: ["key [key ...]"], handler: watch),
            CommandSpec("unwatch", arity: 1, flags: [.noscript, .loading, .stale, .fast, .allowBusy],
                        group: "transactions", summary: "Forget about all watched keys", since: "2.2.0",
                        acl: ["transaction"]) { ctx in
                ctx.server.watches.unwatchAll(ctx.client)
                ctx.client.flags.remove(.dirtyCAS)
                ctx.ok()
            },
        ]
    }

    static func watch(_ ctx: CommandContext) throws {
        let client = ctx.client
        if client.flags.contains(.multi) { throw CommandError.err("WATCH inside MULTI is not allowed") }
        // No point in watching when EXEC is already bound to fail.
        if !client.flags.contains(.dirtyCAS) {
            for i in 1..<ctx.argc { ctx.server.watches.watch(client, db: client.db, ctx.bytes(i)) }
        }
        ctx.ok()
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
        // A watched key that expired since WATCH counts as modified (Redis 7.0's isWatchedKeyExpired).
        if ctx.server.watches.anyWatchedKeyExpired(client) { client.flags.insert(.dirtyCAS) }
        if client.flags.contains(.dirtyCAS) {
            discardTransaction(ctx)
            ctx.nullArray()
            return
        }
        // Unwatch before running: the transaction's own writes must not touch its watches.
        ctx.server.watches.unwatchAll(client)
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
            // ACL rules may have changed since the command was queued (Redis's execCommand).
            if let user = client.aclUser, !user.isUnrestricted, let refusal = server.acl.check(user, spec, arguments) {
                server.recordDenial(ctx, refusal, spec, arguments, context: "multi")
                let reason: String
                switch refusal.reason {
                case .command: reason = "no permission to execute the command or subcommand"
                case .key: reason = "no permission to touch the specified keys"
                case .channel: reason = "no permission to access one of the channels used as arguments"
                case .auth: reason = "no permission"
                }
                ctx.error(CommandError("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: \(reason)"))
                continue
            }
            server.call(ctx, spec, arguments)
        }
        discardTransaction(ctx)
    }
}

/// Who watches which key (Redis's per-db watched_keys and per-client watched list), fed by the keyspace's
/// write, expiry and flush observers. Created by the first WATCH.
final class WatchTable {
    struct Key: Hashable {
        let db: Int
        let key: Bytes
    }

    final class Entry {
        unowned let client: Client
        /// The key was already logically expired when WATCHed: its deletion by expiry is no change.
        var expired: Bool
        init(client: Client, expired: Bool) {
            self.client = client
            self.expired = expired
        }
    }

    unowned let server: ServerState
    var byKey: [Key: [Entry]] = [:]
    var byClient: [UInt64: [Key]] = [:]

    init(server: ServerState) {
        self.server = server
        server.keyObservers.append { [unowned self] db, key in self.touched(db: db, key: key) }
        server.flushObservers.append { [unowned self] db in self.flushed(db: db) }
        server.transactionEndHooks.append { [unowned self] client in self.unwatchAll(client) }
        server.resetHooks.append { [unowned self] client in self.unwatchAll(client) }
        server.clientRemovalHooks.append { [unowned self] client in self.unwatchAll(client) }
    }

    func watch(_ client: Client, db: Int, _ key: Bytes) {
        let k = Key(db: db, key: key)
        if let keys = byClient[client.id], keys.contains(k) { return }
        byClient[client.id, default: []].append(k)
        byKey[k, default: []].append(Entry(client: client, expired: isExpired(k)))
    }

    func unwatchAll(_ client: Client) {
        guard let keys = byClient.removeValue(forKey: client.id) else { return }
        for k in keys {
            guard var entries = byKey[k] else { continue }
            entries.removeAll { $0.client === client }
            byKey[k] = entries.isEmpty ? nil : entries
        }
    }

    /// The key is present but past its expiry (keyIsExpired: no lazy deletion, no stats).
    func isExpired(_ k: Key) -> Bool {
        guard let meta = server.keyspace(k.db).database.metadata(k.key, touch: nil), let when = meta.expireAt else {
            return false
        }
        return when < server.commandTimeMillis
    }

    func exists(_ k: Key) -> Bool {
        server.keyspace(k.db).database.metadata(k.key, touch: nil) != nil
    }

    /// isWatchedKeyExpired: a key watched while alive is now past its expiry.
    func anyWatchedKeyExpired(_ client: Client) -> Bool {
        guard let keys = byClient[client.id] else { return false }
        for k in keys {
            guard let entry = byKey[k]?.first(where: { $0.client === client }) else { continue }
            if !entry.expired && isExpired(k) { return true }
        }
        return false
    }

    /// touchWatchedKey: every client watching the key becomes dirty, except where the key had already
    /// expired at WATCH time and is now simply gone.
    func touched(db: Int, key: Bytes) {
        guard !byKey.isEmpty else { return }
        let k = Key(db: db, key: key)
        guard let entries = byKey[k] else { return }
        var dirty: [Client] = []
        for entry in entries {
            if entry.expired {
                if !exists(k) {
                    entry.expired = false
                    continue
                }
            }
            dirty.append(entry.client)
        }
        for client in dirty {
            client.flags.insert(.dirtyCAS)
            // Nothing more to watch for: EXEC will fail anyway.
            unwatchAll(client)
        }
    }

    /// touchAllWatchedKeysInDb: called while a database still holds the keys a FLUSHDB/FLUSHALL removes, and
    /// before and after a SWAPDB; a watched key present there (and not merely still expired since WATCH)
    /// dirties its watchers.
    func flushed(db: Int) {
        guard !byKey.isEmpty else { return }
        var dirty: [Client] = []
        for (k, entries) in byKey where k.db == db && exists(k) {
            for entry in entries {
                if entry.expired && isExpired(k) { continue }
                dirty.append(entry.client)
            }
        }
        for client in dirty { client.flags.insert(.dirtyCAS) }
    }
}
