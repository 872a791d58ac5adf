import NIOCore
import RESP
import TernStorage

/// SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH PUBSUB SSUBSCRIBE SUNSUBSCRIBE SPUBLISH (Redis's pubsub.c).
/// The registry and the wire forms live in PubSub.swift; the RESP2 subscribed-mode restriction is in the
/// dispatcher's `execute`.
enum PubSubCommands {
    static let subscribeFlags: CommandFlags = [.pubsub, .noscript, .loading, .stale]
    static let introspectionFlags: CommandFlags = [.pubsub, .loading, .stale]

    static var specs: [CommandSpec] {
        [
            CommandSpec("subscribe", arity: -2, flags: subscribeFlags, group: "pubsub",
                        summary: "Listen for messages published to the given channels", since: "2.0.0",
                        complexity: "O(N) where N is the number of channels to subscribe to.",
                        arguments: ["channel [channel ...]"]) { ctx in
                try subscribe(ctx, .channel)
            },
            CommandSpec("unsubscribe", arity: -1, flags: subscribeFlags, group: "pubsub",
                        summary: "Stop listening for messages posted to the given channels", since: "2.0.0",
                        complexity: "O(N) where N is the number of clients already subscribed to a channel.",
                        arguments: ["[channel [channel ...]]"]) { ctx in
                unsubscribe(ctx, .channel)
            },
            CommandSpec("psubscribe", arity: -2, flags: subscribeFlags, group: "pubsub",
                        summary: "Listen for messages published to channels matching the given patterns",
                        since: "2.0.0", complexity: "O(N) where N is the number of patterns the client is already subscribed to.",
                        arguments: ["pattern [pattern ...]"]) { ctx in
                try subscribe(ctx, .pattern)
            },
            CommandSpec("punsubscribe", arity: -1, flags: subscribeFlags, group: "pubsub",
                        summary: "Stop listening for messages posted to channels matching the given patterns",
                        since: "2.0.0",
                        complexity: "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client).",
                        arguments: ["[pattern [pattern ...]]"]) { ctx in
                unsubscribe(ctx, .pattern)
            },
            CommandSpec("ssubscribe", arity: -2, flags: subscribeFlags, keys: .all, group: "pubsub",
                        summary: "Listen for messages published to the given shard channels", since: "7.0.0",
                        complexity: "O(N) where N is the number of shard channels to subscribe to.",
                        arguments: ["shardchannel [shardchannel ...]"]) { ctx in
                try subscribe(ctx, .shard)
            },
            CommandSpec("sunsubscribe", arity: -1, flags: subscribeFlags, keys: .all, group: "pubsub",
                        summary: "Stop listening for messages posted to the given shard channels", since: "7.0.0",
                        complexity: "O(N) where N is the number of clients already subscribed to a shard channel.",
                        arguments: ["[shardchannel [shardchannel ...]]"]) { ctx in
                unsubscribe(ctx, .shard)
            },
            CommandSpec("publish", arity: 3, flags: [.pubsub, .loading, .stale, .fast, .mayReplicate],
                        group: "pubsub", summary: "Post a message to a channel", since: "2.0.0",
                        complexity: "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).",
                        arguments: ["channel", "message"]) { ctx in
                let n = ctx.server.pubsub.publish(ctx.bytes(1), ctx.bytes(2), current: ctx.client)
                // Redis forces PUBLISH into the replication stream (forceCommandPropagation, PROPAGATE_REPL).
                ctx.propagate(ctx.arguments)
                ctx.integer(n)
            },
            CommandSpec("spublish", arity: 3, flags: [.pubsub, .loading, .stale, .fast, .mayReplicate],
                        keys: .single, group: "pubsub", summary: "Post a message to a shard channel", since: "7.0.0",
                        complexity: "O(N) where N is the number of clients subscribed to the receiving shard channel.",
                        arguments: ["shardchannel", "message"]) { ctx in
                let n = ctx.server.pubsub.publishShard(ctx.bytes(1), ctx.bytes(2), current: ctx.client)
                ctx.propagate(ctx.arguments)
                ctx.integer(n)
            },
            CommandSpec("pubsub", arity: -2, group: "pubsub", summary: "A container for Pub/Sub commands",
                        since: "2.8.0", complexity: "Depends on subcommand.", subcommands: [
                CommandSpec("channels", arity: -2, flags: introspectionFlags, group: "pubsub",
                            summary: "List active channels", since: "2.8.0",
                            complexity: "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)",
                            arguments: ["[pattern]"]) { ctx in
                    try channels(ctx, ctx.server.pubsub.channels)
                },
                CommandSpec("numpat", arity: 2, flags: introspectionFlags, group: "pubsub",
                            summary: "Get the count of unique patterns pattern subscriptions", since: "2.8.0") { ctx in
                    ctx.integer(ctx.server.pubsub.patternCount)
                },
                CommandSpec("numsub", arity: -2, flags: introspectionFlags, group: "pubsub",
                            summary: "Get the count of subscribers for channels", since: "2.8.0",
                            complexity: "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
                            arguments: ["[channel [channel ...]]"]) { ctx in
                    numsub(ctx, ctx.server.pubsub.channels)
                },
                CommandSpec("shardchannels", arity: -2, flags: introspectionFlags, group: "pubsub",
                            summary: "List active shard channels", since: "7.0.0",
                            complexity: "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).",
                            arguments: ["[pattern]"]) { ctx in
                    try channels(ctx, ctx.server.pubsub.shardChannels)
                },
                CommandSpec("shardnumsub", arity: -2, flags: introspectionFlags, group: "pubsub",
                            summary: "Get the count of subscribers for shard channels", since: "7.0.0",
                            complexity: "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
                            arguments: ["[shardchannel [shardchannel ...]]"]) { ctx in
                    numsub(ctx, ctx.server.pubsub.shardChannels)
                },
                CommandSpec("help", arity: 2, flags: [.loading, .stale], group: "pubsub",
                            summary: "Show helpful text about the different subcommands", since: "6.2.0",
                            complexity: "O(1)") { ctx in
                    ctx.arrayHeader(helpLines.count)
                    for line in helpLines { ctx.simple(line) }
                },
            ], handler: nil),
        ]
    }

    static func subscribe(_ ctx: CommandContext, _ kind: SubscriptionKind) throws {
        // Inside EXEC the client is a DENY BLOCKING one: Redis still lets SUBSCRIBE/PSUBSCRIBE through
        // (backward compatibility) but refuses SSUBSCRIBE.
        if kind == .shard && ctx.server.unitDepth > 1 {
            throw CommandError.err("SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
        }
        let pubsub = ctx.server.pubsub
        for i in 1..<ctx.argc {
            pubsub.subscribe(ctx.client, kind, ctx.bytes(i), reply: &ctx.client.output)
        }
    }

    static func unsubscribe(_ ctx: CommandContext, _ kind: SubscriptionKind) {
        let pubsub = ctx.server.pubsub
        var out: ByteBuffer? = ctx.client.output
        ctx.client.output = ByteBuffer()
        if ctx.argc == 1 {
            pubsub.unsubscribeAll(ctx.client, kind, reply: &out)
        } else {
            for i in 1..<ctx.argc { pubsub.unsubscribe(ctx.client, kind, ctx.bytes(i), reply: &out) }
        }
        ctx.client.output = out!
    }

    /// PUBSUB CHANNELS / SHARDCHANNELS [pattern].
    static func channels(_ ctx: CommandContext, _ table: [Bytes: [Client]]) throws {
        if ctx.argc > 3 { throw subcommandSyntaxError(ctx) }
        let pattern = ctx.argc == 3 ? ctx.bytes(2).array : nil
        var names: [Bytes] = []
        for name in table.keys where pattern.map({ GlobMatch.matches(pattern: $0, name.array) }) ?? true {
            names.append(name)
        }
        ctx.arrayHeader(names.count)
        for name in names { ctx.bulk(name) }
    }

    /// PUBSUB NUMSUB / SHARDNUMSUB: a flat array of name, count pairs (also in RESP3, as Redis 7.0).
    static func numsub(_ ctx: CommandContext, _ table: [Bytes: [Client]]) {
        ctx.arrayHeader((ctx.argc - 2) * 2)
        for i in 2..<max(ctx.argc, 2) {
            ctx.bulk(ctx.arguments[i])
            ctx.integer(table[ctx.bytes(i)]?.count ?? 0)
        }
    }

    /// addReplySubcommandSyntaxError: names the subcommand as the client typed it.
    static func subcommandSyntaxError(_ ctx: CommandContext) -> CommandError {
        .err("unknown subcommand or wrong number of arguments for '\(String(ctx.string(1).prefix(128)))'. Try \(ctx.string(0).uppercased()) HELP.")
    }

    static let helpLines = [
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    ]
}
