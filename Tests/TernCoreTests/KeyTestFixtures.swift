import DequeModule
import NIOCore
import RESP
import TernCore
import TernStorage

/// Minimal data commands for the key-command tests (SET GET RPUSH HSET SADD ZADD), registered only when the
/// table doesn't already have the real ones: the key commands need values of every kind to work on.
enum KeyTestFixtures {
    static func install(_ h: Harness) {
        let table = h.server.commands
        func add(_ spec: CommandSpec) { if table.lookup(spec.name) == nil { table.register(spec) } }
        add(CommandSpec("set", arity: -3, flags: [.write, .denyoom], keys: .single, group: "string",
                        summary: "test fixture") { ctx in
            var expiry: ExpiryUpdate = .clear
            if ctx.argc == 5 {
                let n = Int64(try ctx.int(4))
                expiry = .at(ctx.server.commandTimeMillis + (ctx.argument(3, is: "ex") ? n * 1000 : n))
            }
            ctx.keyspace.store(ctx.bytes(1), .string(ctx.bytes(2)), expiry: expiry)
            ctx.ok()
        })
        add(CommandSpec("get", arity: 2, flags: [.readonly, .fast], keys: .single, group: "string",
                        summary: "test fixture") { ctx in
            ctx.bulkOrNull(try ctx.keyspace.readString(ctx.bytes(1)))
        })
        add(CommandSpec("rpush", arity: -3, flags: [.write, .denyoom, .fast], keys: .single, group: "list",
                        summary: "test fixture") { ctx in
            let n: Int = try ctx.keyspace.update(ctx.bytes(1), kind: .list) { value in
                var list: Deque<Bytes> = []
                if case .list(let l)? = value { list = l }
                for i in 2..<ctx.argc { list.append(ctx.bytes(i)) }
                value = .list(list)
                return list.count
            }
            ctx.integer(n)
        })
        add(CommandSpec("hset", arity: -4, flags: [.write, .denyoom, .fast], keys: .single, group: "hash",
                        summary: "test fixture") { ctx in
            let n: Int = try ctx.keyspace.update(ctx.bytes(1), kind: .hash) { value in
                var hash: [Bytes: Bytes] = [:]
                if case .hash(let h)? = value { hash = h }
                var added = 0
                for i in stride(from: 2, to: ctx.argc - 1, by: 2) {
                    if hash.updateValue(ctx.bytes(i + 1), forKey: ctx.bytes(i)) == nil { added += 1 }
                }
                value = .hash(hash)
                return added
            }
            ctx.integer(n)
        })
        add(CommandSpec("sadd", arity: -3, flags: [.write, .denyoom, .fast], keys: .single, group: "set",
                        summary: "test fixture") { ctx in
            let n: Int = try ctx.keyspace.update(ctx.bytes(1), kind: .set) { value in
                var set: Set<Bytes> = []
                if case .set(let s)? = value { set = s }
                var added = 0
                for i in 2..<ctx.argc where set.insert(ctx.bytes(i)).inserted { added += 1 }
                value = .set(set)
                return added
            }
            ctx.integer(n)
        })
        add(CommandSpec("zadd", arity: -4, flags: [.write, .denyoom, .fast], keys: .single, group: "sorted-set",
                        summary: "test fixture") { ctx in
            let n: Int = try ctx.keyspace.update(ctx.bytes(1), kind: .zset) { value in
                var zset = SortedSetValue()
                if case .zset(let z)? = value { zset = z }
                var added = 0
                for i in stride(from: 2, to: ctx.argc - 1, by: 2) where zset.set(ctx.bytes(i + 1), score: try ctx.double(i)) {
                    added += 1
                }
                value = .zset(zset)
                return added
            }
            ctx.integer(n)
        })
    }
}
