import DequeModule
import NIOCore
import RESP
import TernStorage
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// SORT and SORT_RO (Redis's sort.c): lists, sets and sorted sets; BY (constant = no sorting, `*` patterns,
/// `->field` hash patterns), LIMIT, GET (`#`, keys, hash fields), ASC/DESC, ALPHA, STORE (a list).
/// SORT is propagated verbatim (as Redis 7.0 does: a set sorted into STORE without BY is forced to ALPHA order,
/// so replicas compute the same list).
enum SortCommand {
    static let complexity = "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N)."

    static var specs: [CommandSpec] {
        [
            CommandSpec("sort", arity: -2, flags: [.write, .denyoom], keys: .single, group: "generic",
                        summary: "Sort the elements in a list, set or sorted set", since: "1.0.0",
                        complexity: complexity, acl: ["set", "sortedset", "list", "dangerous"],
                        arguments: ["key", "[BY pattern]", "[LIMIT offset count]", "[GET pattern [GET pattern ...]]",
                                    "[ASC|DESC]", "[ALPHA]", "[STORE destination]"],
                        keyFinder: sortKeys) { ctx in
                try sort(ctx, readonly: false)
            },
            CommandSpec("sort_ro", arity: -2, flags: [.readonly], keys: .single, group: "generic",
                        summary: "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
                        since: "7.0.0", complexity: complexity, acl: ["set", "sortedset", "list", "dangerous"],
                        arguments: ["key", "[BY pattern]", "[LIMIT offset count]", "[GET pattern [GET pattern ...]]",
                                    "[ASC|DESC]", "[ALPHA]"]) { ctx in
                try sort(ctx, readonly: true)
            },
        ]
    }

    /// sortGetKeys: the sorted key and the last STORE destination (BY/GET keys are not declared).
    static func sortKeys(_ arguments: [ByteBuffer]) -> [Int] {
        guard arguments.count >= 2 else { return [] }
        var keys = [1]
        var store: Int? = nil
        var i = 2
        while i < arguments.count {
            let word = String(buffer: arguments[i]).lowercased()
            switch word {
            case "limit": i += 2
            case "get", "by": i += 1
            case "store" where i + 1 < arguments.count: store = i + 1
            default: break
            }
            i += 1
        }
        if let store { keys.append(store) }
        return keys
    }

    /// One element to sort, with what it sorts by.
    struct Item {
        var element: Bytes
        var score: Double = 0
        /// ALPHA with BY: the BY value (nil when the pattern found nothing).
        var compareBy: Bytes? = nil
    }

    static func sort(_ ctx: CommandContext, readonly: Bool) throws {
        var desc = false
        var alpha = false
        var limitStart = 0
        var limitCount = -1
        var storeKey: Bytes? = nil
        var sortBy: Bytes? = nil
        var dontSort = false
        var gets: [Bytes] = []
        var j = 2
        while j < ctx.argc {
            let left = ctx.argc - j - 1
            if ctx.argument(j, is: "asc") {
                desc = false
            } else if ctx.argument(j, is: "desc") {
                desc = true
            } else if ctx.argument(j, is: "alpha") {
                alpha = true
            } else if ctx.argument(j, is: "limit") && left >= 2 {
                limitStart = try ctx.int(j + 1)
                limitCount = try ctx.int(j + 2)
                j += 2
            } else if !readonly && ctx.argument(j, is: "store") && left >= 1 {
                storeKey = ctx.bytes(j + 1)
                j += 1
            } else if ctx.argument(j, is: "by") && left >= 1 {
                let pattern = ctx.bytes(j + 1)
                sortBy = pattern
                // A BY pattern without '*' (e.g. "nosort") means: don't sort.
                dontSort = !cString(pattern).contains(UInt8(ascii: "*"))
                j += 1
            } else if ctx.argument(j, is: "get") && left >= 1 {
                gets.append(ctx.bytes(j + 1))
                j += 1
            } else {
                throw CommandError.syntax
            }
            j += 1
        }

        let keyspace = ctx.keyspace
        let key = ctx.bytes(1)
        // lookupKeyRead: one hit or miss, lazy expiry, then the kind check.
        let meta = keyspace.metadata(key, touch: true)
        if meta == nil {
            ctx.server.stats.keyspaceMisses += 1
            ctx.notify(.keyMiss, "keymiss", key)
        } else {
            ctx.server.stats.keyspaceHits += 1
        }
        let kind = meta?.kind ?? .list
        guard kind == .list || kind == .set || kind == .zset else { throw CommandError.wrongType }
        let length = meta?.count ?? 0

        // A set has no order of its own: sorted into STORE it is sorted (ALPHA) so replicas agree.
        if dontSort && kind == .set && storeKey != nil {
            dontSort = false
            alpha = true
            sortBy = nil
        }

        // LIMIT sanity, as Redis computes it.
        var start = limitStart < 0 ? 0 : limitStart
        var end = limitCount < 0 ? length - 1 : start + limitCount - 1
        if start >= length {
            start = length - 1
            end = length - 2
        }
        if end >= length { end = length - 1 }

        let database = keyspace.database
        var items: [Item]
        if meta == nil {
            items = []
        } else if kind == .list && dontSort {
            // Native order (reversed for DESC), only the LIMIT range loaded.
            if end >= start {
                let range = desc ? database.listRange(key, length - 1 - end, length - 1 - start)
                                 : database.listRange(key, start, end)
                items = (desc ? range.reversed() : range).map { Item(element: $0) }
                end -= start
                start = 0
            } else {
                items = []
            }
        } else if kind == .list {
            items = database.listRange(key, 0, length - 1).map { Item(element: $0) }
        } else if kind == .set {
            items = database.setMembers(key).map { Item(element: $0) }
        } else if dontSort {
            // Sorted set in score order (reversed for DESC), only the LIMIT range loaded.
            if end >= start {
                let range = desc ? database.zsetRange(key, length - 1 - end, length - 1 - start)
                                 : database.zsetRange(key, start, end)
                items = (desc ? range.reversed() : range).map { Item(element: $0.member) }
                end -= start
                start = 0
            } else {
                items = []
            }
        } else {
            items = database.zsetRange(key, 0, length - 1).map { Item(element: $0.member) }
        }

        var conversionError = false
        if !dontSort {
            for i in items.indices {
                let by: Bytes
                if let sortBy {
                    guard let value = try lookupByPattern(ctx, sortBy, items[i].element) else { continue }
                    by = value
                } else {
                    by = items[i].element
                }
                if alpha {
                    if sortBy != nil { items[i].compareBy = by }
                } else if let score = strtodWhole(by) {
                    items[i].score = score
                } else {
                    conversionError = true
                }
            }
            let byPattern = sortBy != nil
            items.sort { a, b in
                let c = compare(a, b, alpha: alpha, byPattern: byPattern)
                return desc ? c > 0 : c < 0
            }
        }

        let count = end - start + 1
        let outputLength = gets.isEmpty ? max(count, 0) : gets.count * max(count, 0)
        if conversionError { throw CommandError.err("One or more scores can't be converted into double") }

        guard let storeKey else {
            ctx.arrayHeader(outputLength)
            guard count > 0 else { return }
            for i in start...end {
                if gets.isEmpty { ctx.bulk(items[i].element) }
                for pattern in gets {
                    ctx.bulkOrNull(try lookupByPattern(ctx, pattern, items[i].element))
                }
            }
            return
        }

        var result = Deque<Bytes>()
        if count > 0 {
            for i in start...end {
                if gets.isEmpty {
                    result.append(items[i].element)
                } else {
                    for pattern in gets {
                        result.append(try lookupByPattern(ctx, pattern, items[i].element) ?? Bytes())
                    }
                }
            }
        }
        if !result.isEmpty {
            keyspace.store(storeKey, .list(result), expiry: .clear)
            ctx.notify(.list, "sortstore", storeKey)
            // Redis counts every stored element as a change (rdb_changes_since_last_save).
            ctx.server.dirty += result.count - 1
        } else if keyspace.delete(storeKey) {
            ctx.notify(.generic, "del", storeKey)
        }
        ctx.integer(outputLength)
    }

    /// sortCompare: numeric by score (ties by the elements' bytes), or ALPHA by the elements or BY values
    /// (a missing BY value sorts first). Bytes compare as the C locale collates.
    static func compare(_ a: Item, _ b: Item, alpha: Bool, byPattern: Bool) -> Int {
        if !alpha {
            if a.score > b.score { return 1 }
            if a.score < b.score { return -1 }
            return bytesCompare(a.element, b.element)
        }
        if byPattern {
            switch (a.compareBy, b.compareBy) {
            case (nil, nil): return 0
            case (nil, _): return -1
            case (_, nil): return 1
            case let (x?, y?): return bytesCompare(x, y)
            }
        }
        return bytesCompare(a.element, b.element)
    }

    static func bytesCompare(_ a: Bytes, _ b: Bytes) -> Int {
        a == b ? 0 : (a < b ? -1 : 1)
    }

    /// The bytes of `b` up to its first NUL (what Redis's strchr/strstr see of a pattern).
    static func cString(_ b: Bytes) -> ArraySlice<UInt8> {
        if let nul = b.array.firstIndex(of: 0) { return b.array[..<nul] }
        return b.array[...]
    }

    /// strtod over the value with nothing left over (an empty value reads as 0), no ERANGE, no NaN.
    static func strtodWhole(_ b: Bytes) -> Double? {
        var chars = [CChar](repeating: 0, count: b.count + 1)
        for i in 0..<b.count { chars[i] = CChar(bitPattern: b.array[i]) }
        return chars.withUnsafeMutableBufferPointer { p -> Double? in
            var end: UnsafeMutablePointer<CChar>? = nil
            errno = 0
            let d = strtod(p.baseAddress!, &end)
            guard let e = end, e.pointee == 0, errno != ERANGE, !d.isNaN else { return nil }
            return d
        }
    }

    /// lookupKeyByPattern: "#" is the element itself; otherwise the first '*' is replaced by the element and
    /// the key read as a string, or, with "->field" after the '*', as a hash field. Nil when there is no '*',
    /// no such key, or the key holds another kind.
    static func lookupByPattern(_ ctx: CommandContext, _ pattern: Bytes, _ element: Bytes) throws -> Bytes? {
        let p = pattern.array
        if p.first == UInt8(ascii: "#") && (p.count == 1 || p[1] == 0) { return element }
        let visible = cString(pattern)
        guard let star = visible.firstIndex(of: UInt8(ascii: "*")) else { return nil }
        // "->" after the '*' with something after it: a hash field.
        var field: [UInt8]? = nil
        var arrow: Int? = nil
        var i = star + 1
        while i + 1 < visible.endIndex {
            if visible[i] == UInt8(ascii: "-") && visible[i + 1] == UInt8(ascii: ">") {
                if i + 2 < visible.endIndex { arrow = i; field = Array(p[(i + 2)...]) }
                break
            }
            i += 1
        }
        var name = Array(p[..<star])
        name.append(contentsOf: element.array)
        name.append(contentsOf: p[(star + 1)..<(arrow ?? p.count)])
        let key = Bytes(name)
        let keyspace = ctx.keyspace
        if let field {
            guard let meta = keyspace.metadata(key, touch: true) else {
                ctx.server.stats.keyspaceMisses += 1
                ctx.notify(.keyMiss, "keymiss", key)
                return nil
            }
            ctx.server.stats.keyspaceHits += 1
            guard meta.kind == .hash else { return nil }
            return keyspace.database.hashGet(key, Bytes(field))
        }
        guard let record = keyspace.lookupRead(key), case .string(let s) = record.value else { return nil }
        return s
    }
}
