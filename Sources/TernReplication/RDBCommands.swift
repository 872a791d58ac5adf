import NIOCore
import TernCore
import TernRDB
import TernStorage

/// DUMP and RESTORE: a value as Redis's serialized payload (RDB object + RDB version + CRC-64), so values
/// move between Tern and a stock Redis in both directions. Registered next to the RDB codec they use.
public enum RDBCommands {
    public static func install(on server: ServerState) {
        for spec in specs { server.commands.register(spec) }
    }

    static let serializeComplexity = "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1)."
    static let restoreComplexity = "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N))."

    static var specs: [CommandSpec] {
        [
            CommandSpec("dump", arity: 2, flags: [.readonly], keys: .single, group: "generic",
                        summary: "Return a serialized version of the value stored at the specified key.",
                        since: "2.6.0", complexity: serializeComplexity, acl: ["keyspace"], arguments: ["key"],
                        handler: dump),
            CommandSpec("restore", arity: -4, flags: [.write, .denyoom], keys: .single, group: "generic",
                        summary: "Create a key using the provided serialized value, previously obtained using DUMP.",
                        since: "2.6.0", complexity: restoreComplexity, acl: ["keyspace", "dangerous"],
                        arguments: ["key", "ttl", "serialized-value", "[REPLACE]", "[ABSTTL]", "[IDLETIME seconds]",
                                    "[FREQ frequency]"],
                        handler: restore),
        ]
    }

    static func dump(_ ctx: CommandContext) throws {
        guard let record = ctx.keyspace.lookupRead(ctx.bytes(1)) else {
            ctx.null()
            return
        }
        // Strings are LZF-compressed under rdbcompression, as Redis's rdbSaveObject does for DUMP too.
        ctx.bulk(Bytes(RDBWriter.dumpPayload(record.value, compress: ctx.server.config.rdbCompression)))
    }

    /// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency], checked and
    /// applied in Redis's order (options, BUSYKEY, TTL, payload), propagated with an absolute TTL.
    static func restore(_ ctx: CommandContext) throws {
        var replace = false, absttl = false
        var idle: Int?, freq: Int?
        var j = 4
        while j < ctx.argc {
            let additional = ctx.argc - j - 1
            if ctx.argument(j, is: "replace") {
                replace = true
            } else if ctx.argument(j, is: "absttl") {
                absttl = true
            } else if ctx.argument(j, is: "idletime") && additional >= 1 && freq == nil {
                let v = try ctx.int(j + 1)
                if v < 0 { throw CommandError.err("Invalid IDLETIME value, must be >= 0") }
                idle = v
                j += 1
            } else if ctx.argument(j, is: "freq") && additional >= 1 && idle == nil {
                let v = try ctx.int(j + 1)
                if v < 0 || v > 255 { throw CommandError.err("Invalid FREQ value, must be >= 0 and <= 255") }
                freq = v
                j += 1
            } else {
                throw CommandError.syntax
            }
            j += 1
        }
        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        if !replace && keyspace.lookupWrite(key) != nil {
            throw CommandError("BUSYKEY Target key name already exists.")
        }
        var ttl = try ctx.int(2)
        if ttl < 0 { throw CommandError.err("Invalid TTL value, must be >= 0") }
        let value: StoredValue
        do {
            value = try RDBReader.decodeDumpPayload(ctx.bytes(3).array,
                                                       checksum: !ctx.server.debugSettings.skipChecksumValidation)
        } catch let error as RDBError {
            throw CommandError.err(error.description)
        }
        let deleted = replace && keyspace.delete(key)
        if ttl != 0 && !absttl { ttl = ttl &+ Int(ctx.server.commandTimeMillis) }
        // An already expired TTL deletes instead (never on a replica, which follows its master).
        if ttl != 0 && keyspace.isPast(Int64(ttl)) && !ctx.server.isReplica {
            if deleted {
                ctx.notify(.generic, "del", key)
                ctx.propagate([ByteBuffer(string: "DEL"), ctx.arguments[1]])
            } else {
                ctx.preventPropagation()
            }
            ctx.ok()
            return
        }
        keyspace.store(key, value, expiry: ttl != 0 ? .at(Int64(ttl)) : .clear)
        // Access metadata as Redis's objectSetLRUOrLFU: FREQ under an LFU policy, IDLETIME otherwise.
        let server = ctx.server
        let now = server.lruClock
        if server.config.maxMemoryPolicy.lowercased().hasSuffix("-lfu") {
            if let freq { ctx.server.database(ctx.client.db).setAccess(key, lastAccess: now, frequency: UInt8(freq)) }
        } else if let idle {
            let last = idle >= Int(now) ? 0 : now - UInt32(idle)
            ctx.server.database(ctx.client.db).setAccess(key, lastAccess: last, frequency: 5)
        }
        if ttl != 0 && !absttl {
            var args = ctx.arguments
            args[2] = ByteBuffer(string: String(ttl))
            args.append(ByteBuffer(string: "ABSTTL"))
            ctx.propagate(args)
        }
        ctx.notify(.generic, "restore", key)
        ctx.ok()
    }
}
