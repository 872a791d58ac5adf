import NIOCore
import RESP
import TernStorage

/// PING ECHO SELECT QUIT RESET AUTH HELLO (CLIENT lives in ClientCommands).
enum ConnectionCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("ping", arity: -1, flags: [.fast], group: "connection", summary: "Ping the server",
                        acl: ["connection"], arguments: ["[message]"], handler: ping),
            CommandSpec("echo", arity: 2, flags: [.fast], group: "connection", summary: "Echo the given string",
                        acl: ["connection"], arguments: ["message"]) { ctx in ctx.bulk(ctx.arguments[1]) },
            CommandSpec("select", arity: 2, flags: [.loading, .stale, .fast], group: "connection",
                        summary: "Change the selected database for the current connection", acl: ["connection"],
                        arguments: ["index"], handler: select),
            CommandSpec("quit", arity: -1, flags: [.allowBusy, .noAuth, .noscript, .loading, .stale, .fast],
                        group: "connection", summary: "Close the connection", acl: ["connection"]) { ctx in
                ctx.ok()
                ctx.client.closing = true
            },
            CommandSpec("reset", arity: 1, flags: [.noscript, .loading, .stale, .noAuth, .allowBusy, .fast],
                        group: "connection", summary: "Reset the connection", since: "6.2.0",
                        acl: ["connection"], handler: reset),
            CommandSpec("auth", arity: -2, flags: [.noscript, .loading, .stale, .fast, .noAuth, .allowBusy],
                        group: "connection", summary: "Authenticate to the server", acl: ["connection"],
                        arguments: ["[username]", "password"], handler: auth),
            CommandSpec("hello", arity: -1, flags: [.noscript, .loading, .stale, .fast, .noAuth, .allowBusy],
                        group: "connection", summary: "Handshake with Redis", since: "6.0.0", acl: ["connection"],
                        arguments: ["[protover [AUTH username password] [SETNAME clientname]]"], handler: hello),
        ]
    }

    static func ping(_ ctx: CommandContext) throws {
        if ctx.argc > 2 { throw CommandError.wrongArity("ping") }
        if ctx.client.flags.contains(.pubsub) && ctx.resp == .resp2 {
            // In RESP2 subscribed mode PING replies with a pubsub-shaped array.
            ctx.arrayHeader(2)
            ctx.bulk("pong")
            if ctx.argc == 2 { ctx.bulk(ctx.arguments[1]) } else { ctx.bulk("") }
            return
        }
        if ctx.argc == 2 { ctx.bulk(ctx.arguments[1]) } else { ctx.client.output.writeStaticString("+PONG\r\n") }
    }

    static func select(_ ctx: CommandContext) throws {
        let index = try ctx.int(1)
        guard index >= Int(Int32.min) && index <= Int(Int32.max) else {
            throw CommandError.err("value is out of range, value must between -2147483648 and 2147483647")
        }
        guard index >= 0 && index < ctx.server.engine.databaseCount else { throw CommandError.invalidDBIndex }
        ctx.client.db = index
        ctx.ok()
    }

    static func reset(_ ctx: CommandContext) throws {
        let client = ctx.client
        client.flags.remove([.multi, .dirtyExec, .dirtyCAS, .noEvict, .noTouch])
        client.queued.removeAll()
        if client.flags.contains(.monitor) {
            client.flags.remove(.monitor)
            ctx.server.monitors.removeAll { $0 === client }
        }
        for hook in ctx.server.resetHooks { hook(client) }
        client.db = 0
        client.resp = .resp2
        client.name = ""
        client.replyMode = .on
        // Redis's clientSetDefaultAuth.
        let defaultUser = ctx.server.acl.defaultUser
        client.aclUser = defaultUser
        client.authenticated = defaultUser.noPass && defaultUser.enabled
        ctx.simple("RESET")
    }

    /// Redis's ACLAuthenticateUser: on success the connection is authenticated as that user; a failure is
    /// logged in ACL LOG.
    static func authenticate(_ ctx: CommandContext, user: String, password: ByteBuffer) -> Bool {
        guard let u = ctx.server.acl.authenticate(user, Array(password.readableBytesView)) else {
            ctx.server.recordAuthFailure(ctx, username: user)
            return false
        }
        ctx.client.authenticated = true
        ctx.client.aclUser = u
        return true
    }

    static func auth(_ ctx: CommandContext) throws {
        if ctx.argc > 3 { throw CommandError.syntax }
        let user = ctx.argc == 3 ? ctx.string(1) : "default"
        if ctx.argc == 2 && ctx.server.acl.defaultUser.noPass {
            throw CommandError.err("AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
        }
        guard authenticate(ctx, user: user, password: ctx.arguments[ctx.argc - 1]) else {
            throw CommandError.invalidPassword
        }
        ctx.ok()
    }

    static func hello(_ ctx: CommandContext) throws {
        var version = ctx.client.resp
        var index = 1
        if ctx.argc >= 2 {
            guard let v = try? ctx.int(1) else {
                throw CommandError.err("Protocol version is not an integer or out of range")
            }
            guard v == 2 || v == 3 else {
                throw CommandError("NOPROTO unsupported protocol version")
            }
            version = v == 3 ? .resp3 : .resp2
            index = 2
        }
        var name: String? = nil
        while index < ctx.argc {
            let more = ctx.argc - index - 1
            if ctx.argument(index, is: "AUTH") && more >= 2 {
                guard authenticate(ctx, user: ctx.string(index + 1), password: ctx.arguments[index + 2]) else {
                    throw CommandError.invalidPassword
                }
                index += 3
            } else if ctx.argument(index, is: "SETNAME") && more >= 1 {
                let candidate = ctx.string(index + 1)
                if let problem = ClientCommands.validateName(candidate) { throw problem }
                name = candidate
                index += 2
            } else {
                throw CommandError.err("Syntax error in HELLO option '\(ctx.string(index))'")
            }
        }
        if !ctx.client.authenticated {
            throw CommandError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
        }
        if let name { ctx.client.name = name }
        ctx.client.resp = version
        ctx.mapHeader(7)
        ctx.bulk("server"); ctx.bulk("redis")
        ctx.bulk("version"); ctx.bulk(TernVersion.redisCompatible)
        ctx.bulk("proto"); ctx.integer(version.rawValue)
        ctx.bulk("id"); ctx.integer(Int(ctx.client.id))
        ctx.bulk("mode"); ctx.bulk("standalone")
        ctx.bulk("role"); ctx.bulk(ctx.server.isReplica ? "replica" : "master")
        ctx.bulk("modules"); ModuleCommands.writeList(ctx)
    }
}

/// Versions reported to clients.
public enum TernVersion {
    /// What `redis_version` and HELLO report: clients pick features by it.
    public static let redisCompatible = "7.0.15"
    public static let tern = "0.1.0"
}
