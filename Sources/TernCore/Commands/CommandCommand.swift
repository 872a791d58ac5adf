import NIOCore
import RESP
import TernStorage

/// COMMAND [COUNT | LIST | INFO | DOCS | GETKEYS | GETKEYSANDFLAGS | HELP], built from the command table.
enum CommandCommand {
    static var specs: [CommandSpec] {
        let flags: CommandFlags = [.loading, .stale]
        return [
            CommandSpec("command", arity: -1, flags: flags, group: "server", summary: "Get array of Redis command details",
                        since: "2.8.13", complexity: "O(N) where N is the total number of Redis commands",
                        acl: ["connection"], subcommands: [
                CommandSpec("count", arity: 2, flags: flags, group: "server", summary: "Get total number of Redis commands",
                            since: "2.8.13", acl: ["connection"]) { ctx in
                    ctx.integer(ctx.server.commands.commands.count)
                },
                CommandSpec("list", arity: -2, flags: flags, group: "server", summary: "Get an array of Redis command names",
                            since: "7.0.0", complexity: "O(N) where N is the total number of Redis commands",
                            acl: ["connection"], arguments: ["[FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]"],
                            handler: list),
                CommandSpec("info", arity: -2, flags: flags, group: "server",
                            summary: "Get array of specific Redis command details, or all when no argument is given.",
                            since: "2.8.13", complexity: "O(N) where N is the number of commands to look up",
                            acl: ["connection"], arguments: ["[command-name [command-name ...]]"], handler: info),
                CommandSpec("docs", arity: -2, flags: flags, group: "server",
                            summary: "Get array of specific Redis command documentation", since: "7.0.0",
                            complexity: "O(N) where N is the number of commands to look up", acl: ["connection"],
                            arguments: ["[command-name [command-name ...]]"], handler: docs),
                CommandSpec("getkeys", arity: -4, flags: flags, group: "server",
                            summary: "Extract keys given a full Redis command", since: "2.8.13",
                            complexity: "O(N) where N is the number of arguments to the command", acl: ["connection"],
                            arguments: ["command", "[arg [arg ...]]"]) { ctx in try getkeys(ctx, withFlags: false) },
                CommandSpec("getkeysandflags", arity: -4, flags: flags, group: "server",
                            summary: "Extract keys and access flags given a full Redis command", since: "7.0.0",
                            complexity: "O(N) where N is the number of arguments to the command", acl: ["connection"],
                            arguments: ["command", "[arg [arg ...]]"]) { ctx in try getkeys(ctx, withFlags: true) },
                CommandSpec("help", arity: 2, flags: flags, group: "server",
                            summary: "Show helpful text about the different subcommands", since: "5.0.0",
                            acl: ["connection"]) { ctx in
                    ServerCommands.help(ctx, "COMMAND", [
                        "(no subcommand)",
                        "    Return details about all Redis commands.",
                        "COUNT",
                        "    Return the total number of commands in this Redis server.",
                        "LIST",
                        "    Return a list of all commands in this Redis server.",
                        "INFO [<command-name> ...]",
                        "    Return details about multiple Redis commands.",
                        "    If no command names are given, documentation details for all",
                        "    commands are returned.",
                        "DOCS [<command-name> ...]",
                        "    Return documentation details about multiple Redis commands.",
                        "    If no command names are given, documentation details for all",
                        "    commands are returned.",
                        "GETKEYS <full-command>",
                        "    Return the keys from a full Redis command.",
                        "GETKEYSANDFLAGS <full-command>",
                        "    Return the keys and the access flags from a full Redis command.",
                    ])
                },
            ]) { ctx in
                let all = sortedCommands(ctx.server.commands)
                ctx.arrayHeader(all.count)
                for spec in all { writeInfo(ctx, spec) }
            },
        ]
    }

    static func sortedCommands(_ table: CommandTable) -> [CommandSpec] {
        table.commands.keys.sorted().map { table.commands[$0]! }
    }

    static func sortedSubcommands(_ spec: CommandSpec) -> [CommandSpec] {
        spec.subcommands.keys.sorted().map { spec.subcommands[$0]! }
    }

    /// lookupCommandBySds: "name" or "container|sub", case-insensitive.
    static func lookup(_ table: CommandTable, _ name: String) -> CommandSpec? {
        let parts = name.lowercased().split(separator: "|", omittingEmptySubsequences: false)
        guard let base = table.lookup(String(parts[0])) else { return nil }
        if parts.count == 1 { return base }
        guard parts.count == 2 else { return nil }
        return base.subcommands[String(parts[1])]
    }

    // MARK: flags, categories

    /// Redis's addReplyCommandFlags order; may_replicate is hidden on purpose, as Redis hides it.
    static func flagNames(_ spec: CommandSpec) -> [String] {
        let f = spec.flags
        var names: [String] = []
        let ordered: [(CommandFlags, String)] = [
            (.write, "write"), (.readonly, "readonly"), (.denyoom, "denyoom"), (.admin, "admin"), (.pubsub, "pubsub"),
            (.noscript, "noscript"), (.blocking, "blocking"), (.loading, "loading"), (.stale, "stale"),
            (.skipMonitor, "skip_monitor"), (.skipSlowlog, "skip_slowlog"), (.fast, "fast"), (.noAuth, "no_auth"),
            (.noMandatoryKeys, "no_mandatory_keys"), (.noAsyncLoading, "no_async_loading"), (.noMulti, "no_multi"),
        ]
        for (flag, name) in ordered where f.contains(flag) { names.append(name) }
        if movableKeys(spec) { names.append("movablekeys") }
        if f.contains(.allowBusy) { names.append("allow_busy") }
        return names
    }

    /// ACL categories in Redis's category-table order, implicit ones (from flags) included.
    static let categoryOrder = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
                                "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
                                "dangerous", "connection", "transaction", "scripting"]

    static func categories(_ spec: CommandSpec) -> [String] {
        var set = Set(spec.aclCategories.map { $0.lowercased().hasPrefix("@") ? String($0.lowercased().dropFirst()) : $0.lowercased() })
        if spec.flags.contains(.write) { set.insert("write") }
        if spec.flags.contains(.readonly) && !set.contains("scripting") { set.insert("read") }
        if spec.flags.contains(.admin) { set.formUnion(["admin", "dangerous"]) }
        if spec.flags.contains(.pubsub) { set.insert("pubsub") }
        if spec.flags.contains(.fast) { set.insert("fast") }
        if spec.flags.contains(.blocking) { set.insert("blocking") }
        if !set.contains("fast") { set.insert("slow") }
        var ordered = categoryOrder.filter { set.contains($0) }
        ordered += set.subtracting(categoryOrder).sorted()
        return ordered.map { "@" + $0 }
    }

    // MARK: key specs

    enum BeginSearch { case index(Int), keyword(String, Int), unknown }
    enum FindKeys { case range(last: Int, step: Int, limit: Int), keynum(index: Int, first: Int, step: Int), unknown }
    struct KeySpec {
        var notes: String
        var flags: [String]
        var begin: BeginSearch
        var find: FindKeys
    }

    /// Tips and key specs of Redis 7.0.15's commands, as its COMMAND INFO reports them
    /// ("name#tips#keyspec~keyspec", keyspec = "flags;begin;find;notes").
    static let metadata: [String: (tips: [String], keySpecs: [KeySpec])] = {
        var table: [String: (tips: [String], keySpecs: [KeySpec])] = [:]
        for line in redisMetadata.split(separator: "\n") {
            let fields = line.split(separator: "#", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3 else { continue }
            let tips = fields[1].isEmpty ? [] : fields[1].split(separator: ",").map(String.init)
            var specs: [KeySpec] = []
            for text in fields[2].split(separator: "~") {
                let parts = text.split(separator: ";", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 4 else { continue }
                let b = parts[1].split(separator: ":").map(String.init)
                let begin: BeginSearch
                switch b.first {
                case "index": begin = .index(Int(b[1]) ?? 0)
                case "keyword": begin = .keyword(b[1], Int(b[2]) ?? 0)
                default: begin = .unknown
                }
                let f = parts[2].split(separator: ":").map { Int($0) ?? 0 }
                let find: FindKeys
                switch parts[2].split(separator: ":").first {
                case "range": find = .range(last: f[1], step: f[2], limit: f[3])
                case "keynum": find = .keynum(index: f[1], first: f[2], step: f[3])
                default: find = .unknown
                }
                specs.append(KeySpec(notes: parts[3], flags: parts[0].split(separator: ",").map(String.init),
                                     begin: begin, find: find))
            }
            table[fields[0]] = (tips, specs)
        }
        return table
    }()

    static func tips(_ spec: CommandSpec) -> [String] { metadata[spec.fullName]?.tips ?? [] }

    /// Redis's key specs for its own commands; for others, one spec derived from the legacy triple.
    static func keySpecs(_ spec: CommandSpec) -> [KeySpec] {
        if let known = metadata[spec.fullName] { return known.keySpecs }
        guard spec.keys.first > 0 else { return [] }
        let k = spec.keys
        let last = k.last < 0 ? k.last : k.last - k.first
        return [KeySpec(notes: "", flags: derivedKeyFlags(spec), begin: .index(k.first),
                        find: .range(last: last, step: max(k.step, 1), limit: 0))]
    }

    static func derivedKeyFlags(_ spec: CommandSpec) -> [String] {
        if spec.flags.contains(.readonly) && !spec.flags.contains(.write) { return ["RO", "access"] }
        if spec.flags.contains(.write) { return ["RW", "update"] }
        return ["RW", "access", "update"]
    }

    /// populateCommandMovableKeys: a key finder, or a key spec the legacy range can't express.
    static func movableKeys(_ spec: CommandSpec) -> Bool {
        if spec.keyFinder != nil { return true }
        return keySpecs(spec).contains { ks in
            guard case .index = ks.begin, case .range = ks.find else { return true }
            return false
        }
    }

    /// Argument positions a key spec covers in `args` (command name at 0), as getKeysUsingKeySpecs finds them.
    static func positions(_ ks: KeySpec, _ args: [ByteBuffer]) -> [Int] {
        let argc = args.count
        var first: Int
        switch ks.begin {
        case .index(let i): first = i
        case .keyword(let word, let from):
            let lowered = word.lowercased()
            var found = 0
            if from >= 0 {
                var i = from
                while i < argc { if String(buffer: args[i]).lowercased() == lowered { found = i; break }; i += 1 }
            } else {
                var i = argc + from
                while i > 0 { if String(buffer: args[i]).lowercased() == lowered { found = i; break }; i -= 1 }
            }
            guard found > 0 else { return [] }
            first = found + 1
        case .unknown: return []
        }
        guard first < argc else { return [] }
        var last: Int
        var step: Int
        switch ks.find {
        case .range(let l, let s, let limit):
            step = s
            if l >= 0 { last = first + l }
            else if limit == 0 { last = argc + l }
            else { last = first + ((argc - first) / limit + l) }
        case .keynum(let index, let firstKey, let s):
            guard first + index < argc, let n = Int(String(buffer: args[first + index])), n >= 0 else { return [] }
            first += firstKey
            last = first + n - 1
            step = s
        case .unknown: return []
        }
        guard step > 0, last < argc, first <= last else { return [] }
        return Array(stride(from: first, through: last, by: step))
    }

    static func writeKeySpecs(_ ctx: CommandContext, _ specs: [KeySpec]) {
        ctx.setHeader(specs.count)
        for ks in specs {
            ctx.mapHeader(ks.notes.isEmpty ? 3 : 4)
            if !ks.notes.isEmpty { ctx.bulk("notes"); ctx.bulk(ks.notes) }
            ctx.bulk("flags")
            ctx.setHeader(ks.flags.count)
            for f in ks.flags { ctx.simple(f) }
            ctx.bulk("begin_search")
            ctx.mapHeader(2)
            ctx.bulk("type")
            switch ks.begin {
            case .index(let i):
                ctx.bulk("index"); ctx.bulk("spec"); ctx.mapHeader(1); ctx.bulk("index"); ctx.integer(i)
            case .keyword(let word, let from):
                ctx.bulk("keyword"); ctx.bulk("spec"); ctx.mapHeader(2)
                ctx.bulk("keyword"); ctx.bulk(word); ctx.bulk("startfrom"); ctx.integer(from)
            case .unknown:
                ctx.bulk("unknown"); ctx.bulk("spec"); ctx.mapHeader(0)
            }
            ctx.bulk("find_keys")
            ctx.mapHeader(2)
            ctx.bulk("type")
            switch ks.find {
            case .range(let last, let step, let limit):
                ctx.bulk("range"); ctx.bulk("spec"); ctx.mapHeader(3)
                ctx.bulk("lastkey"); ctx.integer(last); ctx.bulk("keystep"); ctx.integer(step)
                ctx.bulk("limit"); ctx.integer(limit)
            case .keynum(let index, let first, let step):
                ctx.bulk("keynum"); ctx.bulk("spec"); ctx.mapHeader(3)
                ctx.bulk("keynumidx"); ctx.integer(index); ctx.bulk("firstkey"); ctx.integer(first)
                ctx.bulk("keystep"); ctx.integer(step)
            case .unknown:
                ctx.bulk("unknown"); ctx.bulk("spec"); ctx.mapHeader(0)
            }
        }
    }

    // MARK: INFO

    /// addReplyCommandInfo: name, arity, flags, first, last, step, categories, tips, key specs, subcommands.
    static func writeInfo(_ ctx: CommandContext, _ spec: CommandSpec) {
        ctx.arrayHeader(10)
        ctx.bulk(spec.fullName)
        ctx.integer(spec.arity)
        let flags = flagNames(spec)
        ctx.setHeader(flags.count)
        for f in flags { ctx.simple(f) }
        ctx.integer(spec.keys.first)
        ctx.integer(spec.keys.last)
        ctx.integer(spec.keys.step)
        let cats = categories(spec)
        ctx.setHeader(cats.count)
        for c in cats { ctx.simple(c) }
        let t = tips(spec)
        ctx.setHeader(t.count)
        for tip in t { ctx.bulk(tip) }
        writeKeySpecs(ctx, keySpecs(spec))
        if spec.subcommands.isEmpty {
            ctx.setHeader(0)
        } else {
            let subs = sortedSubcommands(spec)
            ctx.arrayHeader(subs.count)
            for sub in subs { writeInfo(ctx, sub) }
        }
    }

    static func info(_ ctx: CommandContext) throws {
        let table = ctx.server.commands
        if ctx.argc == 2 {
            let all = sortedCommands(table)
            ctx.arrayHeader(all.count)
            for spec in all { writeInfo(ctx, spec) }
            return
        }
        ctx.arrayHeader(ctx.argc - 2)
        for i in 2..<ctx.argc {
            // Redis answers an unknown name with addReplyNull: `$-1` in RESP2.
            if let spec = lookup(table, ctx.string(i)) { writeInfo(ctx, spec) } else { ctx.null() }
        }
    }

    // MARK: LIST

    static func list(_ ctx: CommandContext) throws {
        enum Filter { case module(String), category(String), pattern(String) }
        var filter: Filter?
        var i = 2
        while i < ctx.argc {
            let more = ctx.argc - 1 - i
            guard ctx.argument(i, is: "FILTERBY") && more == 2 else { throw CommandError.syntax }
            let value = ctx.string(i + 2)
            if ctx.argument(i + 1, is: "MODULE") { filter = .module(value) }
            else if ctx.argument(i + 1, is: "ACLCAT") { filter = .category(value) }
            else if ctx.argument(i + 1, is: "PATTERN") { filter = .pattern(value) }
            else { throw CommandError.syntax }
            i += 3
        }
        var names: [String] = []
        func consider(_ spec: CommandSpec) {
            switch filter {
            case nil: names.append(spec.fullName)
            case .module(let m):
                // A plugin's commands are "<plugin>.<verb>" in the "module" group.
                if spec.group == "module" && spec.name.hasPrefix(m.lowercased() + ".") { names.append(spec.fullName) }
            case .category(let c):
                if categories(spec).contains("@" + c.lowercased()) { names.append(spec.fullName) }
            case .pattern(let p):
                if GlobMatch.matches(pattern: p, spec.fullName, caseInsensitive: true) { names.append(spec.fullName) }
            }
        }
        for spec in sortedCommands(ctx.server.commands) {
            consider(spec)
            for sub in sortedSubcommands(spec) { consider(sub) }
        }
        ctx.bulkArray(names)
    }

    // MARK: GETKEYS

    static func getkeys(_ ctx: CommandContext, withFlags: Bool) throws {
        let args = Array(ctx.arguments[2...])
        guard var spec = ctx.server.commands.lookup(args[0]) else {
            throw CommandError.err("Invalid command specified")
        }
        if !spec.subcommands.isEmpty && args.count >= 2 {
            guard let sub = spec.subcommands[String(buffer: args[1]).lowercased()] else {
                throw CommandError.err("Invalid command specified")
            }
            spec = sub
        }
        let specs = keySpecs(spec)
        guard spec.keyFinder != nil || spec.keys.first > 0 || !specs.isEmpty else {
            throw CommandError.err("The command has no key arguments")
        }
        guard spec.arityMatches(args.count) else {
            throw CommandError.err("Invalid number of arguments specified for command")
        }
        let keys = spec.keyIndexes(args)
        if keys.isEmpty && !spec.flags.contains(.noMandatoryKeys) {
            throw CommandError.err("Invalid arguments specified for command")
        }
        ctx.arrayHeader(keys.count)
        let covered = specs.map { positions($0, args) }
        for index in keys {
            if withFlags {
                ctx.arrayHeader(2)
                ctx.bulk(args[index])
                let flags = covered.firstIndex { $0.contains(index) }.map { specs[$0].flags }
                    ?? (specs.count == 1 ? specs[0].flags : derivedKeyFlags(spec))
                ctx.setHeader(flags.count)
                for f in flags { ctx.simple(f) }
            } else {
                ctx.bulk(args[index])
            }
        }
    }

    // MARK: DOCS

    static func docs(_ ctx: CommandContext) throws {
        let table = ctx.server.commands
        var selected: [CommandSpec] = []
        if ctx.argc == 2 {
            selected = sortedCommands(table)
        } else {
            for i in 2..<ctx.argc {
                if let spec = lookup(table, ctx.string(i)) { selected.append(spec) }
            }
        }
        ctx.mapHeader(selected.count)
        for spec in selected {
            ctx.bulk(spec.fullName)
            writeDocs(ctx, spec)
        }
    }

    static func writeDocs(_ ctx: CommandContext, _ spec: CommandSpec) {
        let arguments = DocArgument.parse(spec.argumentHints)
        var count = 4
        let module = spec.group == "module" ? spec.name.split(separator: ".").first.map(String.init) : nil
        if module != nil { count += 1 }
        if !arguments.isEmpty { count += 1 }
        if !spec.subcommands.isEmpty { count += 1 }
        ctx.mapHeader(count)
        ctx.bulk("summary"); ctx.bulk(spec.summary)
        ctx.bulk("since"); ctx.bulk(spec.since)
        ctx.bulk("group"); ctx.bulk(spec.group)
        ctx.bulk("complexity"); ctx.bulk(spec.complexity)
        if let module { ctx.bulk("module"); ctx.bulk(module) }
        if !arguments.isEmpty {
            ctx.bulk("arguments")
            writeArguments(ctx, arguments)
        }
        if !spec.subcommands.isEmpty {
            ctx.bulk("subcommands")
            let subs = sortedSubcommands(spec)
            ctx.mapHeader(subs.count)
            for sub in subs {
                ctx.bulk(sub.fullName)
                writeDocs(ctx, sub)
            }
        }
    }

    static func writeArguments(_ ctx: CommandContext, _ arguments: [DocArgument]) {
        ctx.arrayHeader(arguments.count)
        for a in arguments {
            var count = 2
            if a.keySpecIndex != nil { count += 1 }
            if a.token != nil { count += 1 }
            if !a.flags.isEmpty { count += 1 }
            if !a.children.isEmpty { count += 1 }
            ctx.mapHeader(count)
            ctx.bulk("name"); ctx.bulk(a.name)
            ctx.bulk("type"); ctx.bulk(a.type)
            if let k = a.keySpecIndex { ctx.bulk("key_spec_index"); ctx.integer(k) }
            if let t = a.token { ctx.bulk("token"); ctx.bulk(t) }
            if !a.flags.isEmpty {
                ctx.bulk("flags")
                ctx.setHeader(a.flags.count)
                for f in a.flags { ctx.simple(f) }
            }
            if !a.children.isEmpty {
                ctx.bulk("arguments")
                writeArguments(ctx, a.children)
            }
        }
    }
}

/// One COMMAND DOCS argument, derived from a spec's argument hints ("key", "[NX|XX]", "[EX seconds|PX ms]",
/// "key [key ...]", "[FILTERBY MODULE name|ACLCAT category]"...).
struct DocArgument {
    var name: String
    var type: String
    var token: String?
    var keySpecIndex: Int?
    var flags: [String] = []
    var children: [DocArgument] = []

    static func parse(_ hints: [String]) -> [DocArgument] {
        var tokens: [String] = []
        for hint in hints {
            var word = ""
            for ch in hint {
                if ch == "[" || ch == "]" || ch == "|" || ch == " " {
                    if !word.isEmpty { tokens.append(word); word = "" }
                    if ch != " " { tokens.append(String(ch)) }
                } else {
                    word.append(ch)
                }
            }
            if !word.isEmpty { tokens.append(word) }
        }
        var position = 0
        var keyIndex = 0
        let result = parseSequence(tokens, &position, &keyIndex, stopAt: [])
        return result
    }

    static func isToken(_ word: String) -> Bool {
        word.contains { $0.isLetter } && word == word.uppercased()
    }

    static let integerNames: Set<String> = ["count", "seconds", "milliseconds", "timeout", "index", "db", "numkeys",
                                            "offset", "start", "end", "stop", "increment", "decrement", "port",
                                            "timestamp", "numreplicas", "cursor", "index1", "index2", "client-id",
                                            "protover", "maxage", "length", "time", "limit", "ttl", "numlocal",
                                            "numsamples", "delta", "bit"]

    static func leaf(_ name: String, _ keyIndex: inout Int) -> DocArgument {
        let lowered = name.lowercased()
        if lowered == "key" {
            defer { keyIndex += 1 }
            return DocArgument(name: "key", type: "key", keySpecIndex: keyIndex)
        }
        if lowered.hasPrefix("unix-time") { return DocArgument(name: lowered, type: "unix-time") }
        if lowered == "pattern" { return DocArgument(name: lowered, type: "pattern") }
        if integerNames.contains(lowered) { return DocArgument(name: lowered, type: "integer") }
        return DocArgument(name: lowered, type: "string")
    }

    /// Parses arguments until one of `stopAt` (not consumed) or the end.
    static func parseSequence(_ t: [String], _ p: inout Int, _ keyIndex: inout Int, stopAt: Set<String>) -> [DocArgument] {
        var items: [DocArgument] = []
        while p < t.count && !stopAt.contains(t[p]) {
            let word = t[p]
            if word == "]" || word == "|" { p += 1; continue }
            if word == "[" {
                p += 1
                // "[name ...]" after an argument of that name: the previous one repeats.
                if p + 2 < t.count, t[p + 1] == "...", t[p + 2] == "]", let last = items.last,
                   last.name == t[p].lowercased() || (last.token != nil && last.token == t[p]) {
                    items[items.count - 1].flags.append("multiple")
                    p += 3
                    continue
                }
                var alternatives: [[DocArgument]] = []
                while p < t.count {
                    alternatives.append(parseSequence(t, &p, &keyIndex, stopAt: ["|", "]"]))
                    if p < t.count && t[p] == "|" { p += 1; continue }
                    if p < t.count && t[p] == "]" { p += 1 }
                    break
                }
                var item = group(alternatives)
                item.flags.insert("optional", at: 0)
                items.append(item)
                continue
            }
            if word == "..." { p += 1; continue }
            p += 1
            if isToken(word) {
                // A token followed by a value ("EX seconds") or standing alone ("NX").
                if p < t.count, !["[", "]", "|", "..."].contains(t[p]), !isToken(t[p]) {
                    var value = leaf(t[p], &keyIndex)
                    value.token = word
                    p += 1
                    items.append(value)
                } else if p < t.count, t[p] != "|", t[p] != "]", t[p] != "[", t[p] != "...", isToken(t[p]) {
                    // "FILTERBY MODULE name": a token introducing a block.
                    var rest = parseSequence(t, &p, &keyIndex, stopAt: ["|", "]"])
                    if rest.count == 1 {
                        var only = rest.removeFirst()
                        if only.token == nil { only.token = word }
                        items.append(DocArgument(name: word.lowercased(), type: "block", token: word, children: [only]))
                    } else {
                        items.append(DocArgument(name: word.lowercased(), type: "block", token: word, children: rest))
                    }
                } else {
                    items.append(DocArgument(name: word.lowercased(), type: "pure-token", token: word))
                }
            } else {
                items.append(leaf(word, &keyIndex))
            }
        }
        // Alternatives at this level without brackets ("ON|OFF|SKIP") are a oneof.
        return items
    }

    static func group(_ alternatives: [[DocArgument]]) -> DocArgument {
        let parts = alternatives.filter { !$0.isEmpty }
        if parts.count > 1 {
            let children = parts.map { $0.count == 1 ? $0[0] : block($0) }
            return DocArgument(name: children.map(\.name).joined(separator: "-"), type: "oneof", children: children)
        }
        let only = parts.first ?? []
        return only.count == 1 ? only[0] : block(only)
    }

    static func block(_ items: [DocArgument]) -> DocArgument {
        DocArgument(name: items.first?.name ?? "block", type: "block", children: items)
    }
}

/// Generated from Redis 7.0.15's COMMAND output: tips and key specs per command.
private let redisMetadata = """
append##RW,insert;index:1;range:0:1:0;
bitcount##RO,access;index:1;range:0:1:0;
bitfield##RW,access,update,variable_flags;index:1;range:0:1:0;This command allows both access and modification of the key
bitfield_ro##RO,access;index:1;range:0:1:0;
bitop##OW,update;index:2;range:0:1:0;~RO,access;index:3;range:-1:1:0;
bitpos##RO,access;index:1;range:0:1:0;
blmove##RW,access,delete;index:1;range:0:1:0;~RW,insert;index:2;range:0:1:0;
blmpop##RW,access,delete;index:2;keynum:0:1:1;
blpop##RW,access,delete;index:1;range:-2:1:0;
brpop##RW,access,delete;index:1;range:-2:1:0;
brpoplpush##RW,access,delete;index:1;range:0:1:0;~RW,insert;index:2;range:0:1:0;
bzmpop##RW,access,delete;index:2;keynum:0:1:1;
bzpopmax##RW,access,delete;index:1;range:-2:1:0;
bzpopmin##RW,access,delete;index:1;range:-2:1:0;
client|info#nondeterministic_output#
client|list#nondeterministic_output#
cluster|bumpepoch#nondeterministic_output#
cluster|count-failure-reports#nondeterministic_output#
cluster|getkeysinslot#nondeterministic_output#
cluster|info#nondeterministic_output#
cluster|links#nondeterministic_output#
cluster|nodes#nondeterministic_output#
cluster|replicas#nondeterministic_output#
cluster|shards#nondeterministic_output#
cluster|slaves#nondeterministic_output#
cluster|slots#nondeterministic_output#
command#nondeterministic_output_order#
command|docs#nondeterministic_output_order#
command|info#nondeterministic_output_order#
command|list#nondeterministic_output_order#
config|set#request_policy:all_nodes,response_policy:all_succeeded#
copy##RO,access;index:1;range:0:1:0;~OW,update;index:2;range:0:1:0;
dbsize#request_policy:all_shards,response_policy:agg_sum#
decr##RW,access,update;index:1;range:0:1:0;
decrby##RW,access,update;index:1;range:0:1:0;
del#request_policy:multi_shard,response_policy:agg_sum#RM,delete;index:1;range:-1:1:0;
dump#nondeterministic_output#RO,access;index:1;range:0:1:0;
eval##RW,access,update;index:2;keynum:0:1:1;We cannot tell how the keys will be used so we assume the worst, RW and UPDATE
eval_ro##RO,access;index:2;keynum:0:1:1;We cannot tell how the keys will be used so we assume the worst, RO and ACCESS
evalsha##RW,access,update;index:2;keynum:0:1:1;
evalsha_ro##RO,access;index:2;keynum:0:1:1;
exists#request_policy:multi_shard,response_policy:agg_sum#RO;index:1;range:-1:1:0;
expire##RW,update;index:1;range:0:1:0;
expireat##RW,update;index:1;range:0:1:0;
expiretime##RO,access;index:1;range:0:1:0;
fcall##RW,access,update;index:2;keynum:0:1:1;We cannot tell how the keys will be used so we assume the worst, RW and UPDATE
fcall_ro##RO,access;index:2;keynum:0:1:1;We cannot tell how the keys will be used so we assume the worst, RO and ACCESS
flushall#request_policy:all_shards,response_policy:all_succeeded#
flushdb#request_policy:all_shards,response_policy:all_succeeded#
function|delete#request_policy:all_shards,response_policy:all_succeeded#
function|flush#request_policy:all_shards,response_policy:all_succeeded#
function|kill#request_policy:all_shards,response_policy:one_succeeded#
function|list#nondeterministic_output_order#
function|load#request_policy:all_shards,response_policy:all_succeeded#
function|restore#request_policy:all_shards,response_policy:all_succeeded#
function|stats#nondeterministic_output,request_policy:all_shards,response_policy:special#
geoadd##RW,update;index:1;range:0:1:0;
geodist##RO,access;index:1;range:0:1:0;
geohash##RO,access;index:1;range:0:1:0;
geopos##RO,access;index:1;range:0:1:0;
georadius##RO,access;index:1;range:0:1:0;~OW,update;keyword:STORE:6;range:0:1:0;~OW,update;keyword:STOREDIST:6;range:0:1:0;
georadius_ro##RO,access;index:1;range:0:1:0;
georadiusbymember##RO,access;index:1;range:0:1:0;~OW,update;keyword:STORE:5;range:0:1:0;~OW,update;keyword:STOREDIST:5;range:0:1:0;
georadiusbymember_ro##RO,access;index:1;range:0:1:0;
geosearch##RO,access;index:1;range:0:1:0;
geosearchstore##OW,update;index:1;range:0:1:0;~RO,access;index:2;range:0:1:0;
get##RO,access;index:1;range:0:1:0;
getbit##RO,access;index:1;range:0:1:0;
getdel##RW,access,delete;index:1;range:0:1:0;
getex##RW,access,update;index:1;range:0:1:0;RW and UPDATE because it changes the TTL
getrange##RO,access;index:1;range:0:1:0;
getset##RW,access,update;index:1;range:0:1:0;
hdel##RW,delete;index:1;range:0:1:0;
hexists##RO;index:1;range:0:1:0;
hget##RO,access;index:1;range:0:1:0;
hgetall#nondeterministic_output_order#RO,access;index:1;range:0:1:0;
hincrby##RW,access,update;index:1;range:0:1:0;
hincrbyfloat##RW,access,update;index:1;range:0:1:0;
hkeys#nondeterministic_output_order#RO,access;index:1;range:0:1:0;
hlen##RO;index:1;range:0:1:0;
hmget##RO,access;index:1;range:0:1:0;
hmset##RW,update;index:1;range:0:1:0;
hrandfield#nondeterministic_output#RO,access;index:1;range:0:1:0;
hscan#nondeterministic_output#RO,access;index:1;range:0:1:0;
hset##RW,update;index:1;range:0:1:0;
hsetnx##RW,insert;index:1;range:0:1:0;
hstrlen##RO;index:1;range:0:1:0;
hvals#nondeterministic_output_order#RO,access;index:1;range:0:1:0;
incr##RW,access,update;index:1;range:0:1:0;
incrby##RW,access,update;index:1;range:0:1:0;
incrbyfloat##RW,access,update;index:1;range:0:1:0;
info#nondeterministic_output,request_policy:all_shards,response_policy:special#
keys#request_policy:all_shards,nondeterministic_output_order#
lastsave#nondeterministic_output#
latency|doctor#nondeterministic_output,request_policy:all_nodes,response_policy:special#
latency|graph#nondeterministic_output,request_policy:all_nodes,response_policy:special#
latency|histogram#nondeterministic_output,request_policy:all_nodes,response_policy:special#
latency|history#nondeterministic_output,request_policy:all_nodes,response_policy:special#
latency|latest#nondeterministic_output,request_policy:all_nodes,response_policy:special#
latency|reset#request_policy:all_nodes,response_policy:all_succeeded#
lcs##RO,access;index:1;range:1:1:0;
lindex##RO,access;index:1;range:0:1:0;
linsert##RW,insert;index:1;range:0:1:0;
llen##RO;index:1;range:0:1:0;
lmove##RW,access,delete;index:1;range:0:1:0;~RW,insert;index:2;range:0:1:0;
lmpop##RW,access,delete;index:1;keynum:0:1:1;
lpop##RW,access,delete;index:1;range:0:1:0;
lpos##RO,access;index:1;range:0:1:0;
lpush##RW,insert;index:1;range:0:1:0;
lpushx##RW,insert;index:1;range:0:1:0;
lrange##RO,access;index:1;range:0:1:0;
lrem##RW,delete;index:1;range:0:1:0;
lset##RW,update;index:1;range:0:1:0;
ltrim##RW,delete;index:1;range:0:1:0;
memory|doctor#nondeterministic_output,request_policy:all_shards,response_policy:special#
memory|malloc-stats#nondeterministic_output,request_policy:all_shards,response_policy:special#
memory|purge#request_policy:all_shards,response_policy:all_succeeded#
memory|stats#nondeterministic_output,request_policy:all_shards,response_policy:special#
memory|usage##RO;index:2;range:0:1:0;
mget#request_policy:multi_shard#RO,access;index:1;range:-1:1:0;
migrate#nondeterministic_output#RW,access,delete;index:3;range:0:1:0;~RW,access,delete,incomplete;keyword:KEYS:-2;range:-1:1:0;
module|list#nondeterministic_output_order#
move##RW,access,update;index:1;range:0:1:0;
mset#request_policy:multi_shard,response_policy:all_succeeded#OW,update;index:1;range:-1:2:0;
msetnx#request_policy:multi_shard,response_policy:agg_min#OW,insert;index:1;range:-1:2:0;
object|encoding#nondeterministic_output#RO;index:2;range:0:1:0;
object|freq#nondeterministic_output#RO;index:2;range:0:1:0;
object|idletime#nondeterministic_output#RO;index:2;range:0:1:0;
object|refcount#nondeterministic_output#RO;index:2;range:0:1:0;
persist##RW,update;index:1;range:0:1:0;
pexpire##RW,update;index:1;range:0:1:0;
pexpireat##RW,update;index:1;range:0:1:0;
pexpiretime##RO,access;index:1;range:0:1:0;
pfadd##RW,insert;index:1;range:0:1:0;
pfcount##RW,access;index:1;range:-1:1:0;RW because it may change the internal representation of the key, and propagate to replicas
pfdebug##RW,access;index:2;range:0:1:0;
pfmerge##RW,access,insert;index:1;range:0:1:0;~RO,access;index:2;range:-1:1:0;
ping#request_policy:all_shards,response_policy:all_succeeded#
psetex##OW,update;index:1;range:0:1:0;
pttl#nondeterministic_output#RO,access;index:1;range:0:1:0;
randomkey#request_policy:all_shards,nondeterministic_output#
rename##RW,access,delete;index:1;range:0:1:0;~OW,update;index:2;range:0:1:0;
renamenx##RW,access,delete;index:1;range:0:1:0;~OW,insert;index:2;range:0:1:0;
restore##OW,update;index:1;range:0:1:0;
restore-asking##OW,update;index:1;range:0:1:0;
rpop##RW,access,delete;index:1;range:0:1:0;
rpoplpush##RW,access,delete;index:1;range:0:1:0;~RW,insert;index:2;range:0:1:0;
rpush##RW,insert;index:1;range:0:1:0;
rpushx##RW,insert;index:1;range:0:1:0;
sadd##RW,insert;index:1;range:0:1:0;
scan#nondeterministic_output,request_policy:special#
scard##RO;index:1;range:0:1:0;
script|exists#request_policy:all_shards,response_policy:agg_logical_and#
script|flush#request_policy:all_nodes,response_policy:all_succeeded#
script|kill#request_policy:all_shards,response_policy:one_succeeded#
script|load#request_policy:all_nodes,response_policy:all_succeeded#
sdiff#nondeterministic_output_order#RO,access;index:1;range:-1:1:0;
sdiffstore##OW,update;index:1;range:0:1:0;~RO,access;index:2;range:-1:1:0;
set##RW,access,update,variable_flags;index:1;range:0:1:0;RW and ACCESS due to the optional `GET` argument
setbit##RW,access,update;index:1;range:0:1:0;
setex##OW,update;index:1;range:0:1:0;
setnx##OW,insert;index:1;range:0:1:0;
setrange##RW,update;index:1;range:0:1:0;
sinter#nondeterministic_output_order#RO,access;index:1;range:-1:1:0;
sintercard##RO,access;index:1;keynum:0:1:1;
sinterstore##RW,update;index:1;range:0:1:0;~RO,access;index:2;range:-1:1:0;
sismember##RO;index:1;range:0:1:0;
slowlog|get#request_policy:all_nodes,nondeterministic_output#
slowlog|len#request_policy:all_nodes,response_policy:agg_sum,nondeterministic_output#
slowlog|reset#request_policy:all_nodes,response_policy:all_succeeded#
smembers#nondeterministic_output_order#RO,access;index:1;range:0:1:0;
smismember##RO,access;index:1;range:0:1:0;
smove##RW,access,delete;index:1;range:0:1:0;~RW,insert;index:2;range:0:1:0;
sort##RO,access;index:1;range:0:1:0;~RO,access;unknown;unknown;For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort~OW,update;unknown;unknown;For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array
sort_ro##RO,access;index:1;range:0:1:0;~RO,access;unknown;unknown;For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort
spop#nondeterministic_output#RW,access,delete;index:1;range:0:1:0;
spublish##not_key;index:1;range:0:1:0;
srandmember#nondeterministic_output#RO,access;index:1;range:0:1:0;
srem##RW,delete;index:1;range:0:1:0;
sscan#nondeterministic_output#RO,access;index:1;range:0:1:0;
ssubscribe##not_key;index:1;range:-1:1:0;
strlen##RO;index:1;range:0:1:0;
substr##RO,access;index:1;range:0:1:0;
sunion#nondeterministic_output_order#RO,access;index:1;range:-1:1:0;
sunionstore##OW,update;index:1;range:0:1:0;~RO,access;index:2;range:-1:1:0;
sunsubscribe##not_key;index:1;range:-1:1:0;
time#nondeterministic_output#
touch#request_policy:multi_shard,response_policy:agg_sum#RO;index:1;range:-1:1:0;
ttl#nondeterministic_output#RO,access;index:1;range:0:1:0;
type##RO;index:1;range:0:1:0;
unlink#request_policy:multi_shard,response_policy:agg_sum#RM,delete;index:1;range:-1:1:0;
wait#request_policy:all_shards,response_policy:agg_min#
watch##RO;index:1;range:-1:1:0;
xack##RW,update;index:1;range:0:1:0;
xadd#nondeterministic_output#RW,update;index:1;range:0:1:0;UPDATE instead of INSERT because of the optional trimming feature
xautoclaim#nondeterministic_output#RW,delete;index:1;range:0:1:0;
xclaim#nondeterministic_output#RW,update;index:1;range:0:1:0;
xdel##RW,delete;index:1;range:0:1:0;
xgroup|create##RW,insert;index:2;range:0:1:0;
xgroup|createconsumer##RW,insert;index:2;range:0:1:0;
xgroup|delconsumer##RW,delete;index:2;range:0:1:0;
xgroup|destroy##RW,delete;index:2;range:0:1:0;
xgroup|setid##RW,update;index:2;range:0:1:0;
xinfo|consumers#nondeterministic_output#RO,access;index:2;range:0:1:0;
xinfo|groups##RO,access;index:2;range:0:1:0;
xinfo|stream##RO,access;index:2;range:0:1:0;
xlen##RO;index:1;range:0:1:0;
xpending#nondeterministic_output#RO,access;index:1;range:0:1:0;
xrange##RO,access;index:1;range:0:1:0;
xread##RO,access;keyword:STREAMS:1;range:-1:1:2;
xreadgroup##RO,access;keyword:STREAMS:4;range:-1:1:2;
xrevrange##RO,access;index:1;range:0:1:0;
xsetid##RW,update;index:1;range:0:1:0;
xtrim#nondeterministic_output#RW,delete;index:1;range:0:1:0;
zadd##RW,update;index:1;range:0:1:0;
zcard##RO;index:1;range:0:1:0;
zcount##RO,access;index:1;range:0:1:0;
zdiff##RO,access;index:1;keynum:0:1:1;
zdiffstore##OW,update;index:1;range:0:1:0;~RO,access;index:2;keynum:0:1:1;
zincrby##RW,access,update;index:1;range:0:1:0;
zinter##RO,access;index:1;keynum:0:1:1;
zintercard##RO,access;index:1;keynum:0:1:1;
zinterstore##OW,update;index:1;range:0:1:0;~RO,access;index:2;keynum:0:1:1;
zlexcount##RO,access;index:1;range:0:1:0;
zmpop##RW,access,delete;index:1;keynum:0:1:1;
zmscore##RO,access;index:1;range:0:1:0;
zpopmax##RW,access,delete;index:1;range:0:1:0;
zpopmin##RW,access,delete;index:1;range:0:1:0;
zrandmember#nondeterministic_output#RO,access;index:1;range:0:1:0;
zrange##RO,access;index:1;range:0:1:0;
zrangebylex##RO,access;index:1;range:0:1:0;
zrangebyscore##RO,access;index:1;range:0:1:0;
zrangestore##OW,update;index:1;range:0:1:0;~RO,access;index:2;range:0:1:0;
zrank##RO,access;index:1;range:0:1:0;
zrem##RW,delete;index:1;range:0:1:0;
zremrangebylex##RW,delete;index:1;range:0:1:0;
zremrangebyrank##RW,delete;index:1;range:0:1:0;
zremrangebyscore##RW,delete;index:1;range:0:1:0;
zrevrange##RO,access;index:1;range:0:1:0;
zrevrangebylex##RO,access;index:1;range:0:1:0;
zrevrangebyscore##RO,access;index:1;range:0:1:0;
zrevrank##RO,access;index:1;range:0:1:0;
zscan#nondeterministic_output#RO,access;index:1;range:0:1:0;
zscore##RO,access;index:1;range:0:1:0;
zunion##RO,access;index:1;keynum:0:1:1;
zunionstore##OW,update;index:1;range:0:1:0;~RO,access;index:2;keynum:0:1:1;
"""
