import NIOCore
import RESP
import TernStorage

/// CLIENT ID SETNAME GETNAME LIST INFO KILL PAUSE UNPAUSE REPLY NO-EVICT TRACKING CACHING GETREDIR
/// TRACKINGINFO HELP.
enum ClientCommands {
    static var specs: [CommandSpec] {
        let plain: CommandFlags = [.noscript, .loading, .stale]
        let admin: CommandFlags = [.admin, .noscript, .loading, .stale]
        return [
            CommandSpec("client", arity: -2, group: "connection", summary: "A container for client connection commands",
                        since: "2.4.0", complexity: "Depends on subcommand.", subcommands: [
                CommandSpec("id", arity: 2, flags: plain, group: "connection",
                            summary: "Returns the client ID for the current connection", since: "5.0.0",
                            acl: ["connection"]) { ctx in ctx.integer(Int(ctx.client.id)) },
                CommandSpec("setname", arity: 3, flags: plain, group: "connection",
                            summary: "Set the current connection name", since: "2.6.9", acl: ["connection"],
                            arguments: ["connection-name"]) { ctx in
                    let name = ctx.string(2)
                    if let problem = validateName(name) { throw problem }
                    ctx.client.name = name
                    ctx.ok()
                },
                CommandSpec("getname", arity: 2, flags: plain, group: "connection",
                            summary: "Get the current connection name", since: "2.6.9", acl: ["connection"]) { ctx in
                    if ctx.client.name.isEmpty { ctx.null() } else { ctx.bulk(ctx.client.name) }
                },
                CommandSpec("list", arity: -2, flags: admin, group: "connection",
                            summary: "Get the list of client connections", since: "2.4.0",
                            complexity: "O(N) where N is the number of client connections", acl: ["connection"],
                            arguments: ["[TYPE NORMAL|MASTER|REPLICA|PUBSUB]", "[ID client-id [client-id ...]]"],
                            handler: list),
                CommandSpec("info", arity: 2, flags: plain, group: "connection",
                            summary: "Returns information about the current client connection.", since: "6.2.0",
                            acl: ["connection"]) { ctx in
                    ctx.verbatim(infoLine(ctx.client, ctx) + "\n")
                },
                CommandSpec("kill", arity: -3, flags: admin, group: "connection", summary: "Kill the connection of a client",
                            since: "2.4.0", complexity: "O(N) where N is the number of client connections",
                            acl: ["connection"],
                            arguments: ["[ip:port]", "[ID client-id]", "[TYPE NORMAL|MASTER|SLAVE|REPLICA|PUBSUB]",
                                        "[USER username]", "[ADDR ip:port]", "[LADDR ip:port]", "[SKIPME yes/no]",
                                        "[MAXAGE maxage]"],
                            handler: kill),
                CommandSpec("unblock", arity: -3, flags: admin, group: "connection",
                            summary: "Unblock a client blocked in a blocking command from a different connection",
                            since: "5.0.0", complexity: "O(log N) where N is the number of client connections",
                            acl: ["connection"], arguments: ["client-id", "[TIMEOUT|ERROR]"]) { ctx in
                    let id = try ctx.int(2)
                    var withError = false
                    if ctx.argc == 4 {
                        if ctx.argument(3, is: "ERROR") { withError = true }
                        else if !ctx.argument(3, is: "TIMEOUT") {
                            throw CommandError.err("CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
                        }
                    } else if ctx.argc > 4 {
                        throw CommandError.syntax
                    }
                    ctx.integer(id >= 0 && ctx.server.unblockClient(UInt64(id), withError: withError) ? 1 : 0)
                },
                CommandSpec("pause", arity: -3, flags: admin, group: "connection",
                            summary: "Stop processing commands from clients for some time", since: "2.9.50",
                            acl: ["connection"], arguments: ["timeout", "[WRITE|ALL]"], handler: pause),
                CommandSpec("unpause", arity: 2, flags: admin, group: "connection",
                            summary: "Resume processing of clients that were paused", since: "6.2.0",
                            complexity: "O(N) Where N is the number of paused clients", acl: ["connection"]) { ctx in
                    ctx.server.resumePausedClients()
                    ctx.ok()
                },
                CommandSpec("reply", arity: 3, flags: plain, group: "connection",
                            summary: "Instruct the server whether to reply to commands", since: "3.2.0",
                            acl: ["connection"], arguments: ["ON|OFF|SKIP"], handler: reply),
                CommandSpec("no-evict", arity: 3, flags: admin, group: "connection",
                            summary: "Set client eviction mode for the current connection", since: "7.0.0",
                            acl: ["connection"], arguments: ["ON|OFF"]) { ctx in
                    if ctx.argument(2, is: "ON") {
                        ctx.client.flags.insert(.noEvict)
                    } else if ctx.argument(2, is: "OFF") {
                        ctx.client.flags.remove(.noEvict)
                    } else {
                        throw CommandError.syntax
                    }
                    ctx.ok()
                },
                CommandSpec("tracking", arity: -3, flags: plain, group: "connection",
                            summary: "Enable or disable server assisted client side caching support", since: "6.0.0",
                            complexity: "O(1). Some options may introduce additional complexity.", acl: ["connection"],
                            arguments: ["ON|OFF", "[REDIRECT client-id]", "[PREFIX prefix [PREFIX prefix ...]]",
                                        "[BCAST]", "[OPTIN]", "[OPTOUT]", "[NOLOOP]"], handler: tracking),
                CommandSpec("caching", arity: 3, flags: plain, group: "connection",
                            summary: "Instruct the server about tracking or not keys in the next request", since: "6.0.0",
                            acl: ["connection"], arguments: ["YES|NO"], handler: caching),
                CommandSpec("getredir", arity: 2, flags: plain, group: "connection",
                            summary: "Get tracking notifications redirection client ID if any", since: "6.0.0",
                            acl: ["connection"]) { ctx in
                    let client = ctx.client
                    ctx.integer(client.flags.contains(.tracking) ? Int(client.trackingRedirect) : -1)
                },
                CommandSpec("trackinginfo", arity: 2, flags: plain, group: "connection",
                            summary: "Return information about server assisted client side caching for the current connection",
                            since: "6.2.0", acl: ["connection"], handler: trackingInfo),
                CommandSpec("help", arity: 2, flags: [.loading, .stale], group: "connection",
                            summary: "Show helpful text about the different subcommands", since: "5.0.0",
                            acl: ["connection"]) { ctx in
                    ServerCommands.help(ctx, "CLIENT", helpLines)
                },
            ], handler: nil),
        ]
    }

    static let helpLines = [
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "    * MAXAGE <maxage>",
        "      Kill connections older than the specified age.",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
    ]

    // MARK: types

    enum ClientType { case normal, replica, pubsub, master }

    /// getClientTypeByName.
    static func clientType(named name: String) -> ClientType? {
        switch name.lowercased() {
        case "normal": return .normal
        case "slave", "replica": return .replica
        case "pubsub": return .pubsub
        case "master": return .master
        default: return nil
        }
    }

    /// getClientType: monitors count as normal clients.
    static func type(of client: Client) -> ClientType {
        if client.flags.contains(.master) { return .master }
        if client.flags.contains(.replica) && !client.flags.contains(.monitor) { return .replica }
        if client.flags.contains(.pubsub) { return .pubsub }
        return .normal
    }

    // MARK: LIST INFO

    /// One CLIENT LIST line, Redis 7.0's fields in Redis's order.
    static func infoLine(_ client: Client, _ ctx: CommandContext) -> String {
        let now = ctx.server.commandTimeMillis
        let isSelf = client === ctx.client
        let address = client.flags.contains(.unixSocket) ? client.localAddress + ":0" : client.address
        let multi = client.flags.contains(.multi) ? client.queued.count : -1
        let argvMem = isSelf ? ctx.arguments.reduce(0) { $0 + $1.readableBytes } : 0
        let multiMem = client.queued.reduce(0) { total, command in
            total + command.reduce(0) { $0 + $1.readableBytes }
        }
        // obl: replies built but not handed to the connection; omem/oll: what the connection still queues.
        let pending = isSelf ? 0 : client.output.readableBytes
        let queued = client.transport?.pendingOutputBytes ?? 0
        let totalMemory = client.queryBufferBytes + client.queryBufferFree + argvMem + multiMem + client.output.capacity + queued
        let command = (isSelf ? ctx.spec : client.lastCommand)?.fullName ?? "NULL"
        var s = "id=\(client.id)"
        s += " addr=\(address)"
        s += " laddr=\(client.localAddress)"
        s += " fd=-1"
        s += " name=\(client.name)"
        s += " age=\(max(0, (now - client.createdAtMillis) / 1000))"
        s += " idle=\(max(0, (now - client.lastInteractionMillis) / 1000))"
        s += " flags=\(client.flagString)"
        s += " db=\(client.db)"
        let subs = ctx.server.pubsub.counts(for: client)
        s += " sub=\(subs.channels) psub=\(subs.patterns) ssub=\(subs.shardChannels)"
        s += " multi=\(multi)"
        s += " qbuf=\(client.queryBufferBytes) qbuf-free=\(client.queryBufferFree)"
        s += " argv-mem=\(argvMem)"
        s += " multi-mem=\(multiMem)"
        s += " rbs=\(client.output.capacity) rbp=\(client.output.writerIndex)"
        s += " obl=\(pending) oll=\(queued > 0 ? 1 : 0) omem=\(queued)"
        s += " tot-mem=\(totalMemory)"
        s += queued > 0 ? " events=rw" : " events=r"
        s += " cmd=\(command)"
        s += " user=\(client.user)"
        s += " redir=\(client.flags.contains(.tracking) ? Int(client.trackingRedirect) : -1)"
        s += " resp=\(client.resp.rawValue)"
        return s
    }

    static func list(_ ctx: CommandContext) throws {
        let server = ctx.server
        var selected: [Client]
        if ctx.argc == 4 && ctx.argument(2, is: "TYPE") {
            guard let wanted = clientType(named: ctx.string(3)) else {
                throw CommandError.err("Unknown client type '\(ctx.string(3))'")
            }
            selected = server.clients.values.filter { type(of: $0) == wanted }.sorted { $0.id < $1.id }
        } else if ctx.argc > 3 && ctx.argument(2, is: "ID") {
            selected = []
            for i in 3..<ctx.argc {
                let id = try ctx.int(i, error: .err("Invalid client ID"))
                if id > 0, let client = server.clients[UInt64(id)] { selected.append(client) }
            }
        } else if ctx.argc != 2 {
            throw CommandError.syntax
        } else {
            selected = server.clients.values.sorted { $0.id < $1.id }
        }
        var text = ""
        for client in selected { text += infoLine(client, ctx) + "\n" }
        ctx.verbatim(text)
    }

    // MARK: KILL

    static func kill(_ ctx: CommandContext) throws {
        var address: String?
        var localAddress: String?
        var user: String?
        var wantedType: ClientType?
        var id: UInt64 = 0
        var maxAge: Int64 = 0
        var skipMe = true
        if ctx.argc == 3 {
            // Old form: CLIENT KILL addr:port, which may kill the caller.
            address = ctx.string(2)
            skipMe = false
        } else {
            var i = 2
            while i < ctx.argc {
                let more = ctx.argc > i + 1
                guard more else { throw CommandError.syntax }
                if ctx.argument(i, is: "ID") {
                    let error = CommandError.err("client-id should be greater than 0")
                    let v = try ctx.int(i + 1, error: error)
                    guard v >= 1 else { throw error }
                    id = UInt64(v)
                } else if ctx.argument(i, is: "TYPE") {
                    guard let t = clientType(named: ctx.string(i + 1)) else {
                        throw CommandError.err("Unknown client type '\(ctx.string(i + 1))'")
                    }
                    wantedType = t
                } else if ctx.argument(i, is: "ADDR") {
                    address = ctx.string(i + 1)
                } else if ctx.argument(i, is: "LADDR") {
                    localAddress = ctx.string(i + 1)
                } else if ctx.argument(i, is: "USER") {
                    let name = ctx.string(i + 1)
                    guard ctx.server.acl.user(name) != nil else { throw CommandError.err("No such user '\(name)'") }
                    user = name
                } else if ctx.argument(i, is: "SKIPME") {
                    if ctx.argument(i + 1, is: "YES") { skipMe = true }
                    else if ctx.argument(i + 1, is: "NO") { skipMe = false }
                    else { throw CommandError.syntax }
                } else if ctx.argument(i, is: "MAXAGE") {
                    maxAge = Int64(try ctx.int(i + 1))
                } else {
                    throw CommandError.syntax
                }
                i += 2
            }
        }
        let now = ctx.server.commandTimeMillis
        var killed = 0
        var closeSelf = false
        for client in ctx.server.clients.values.sorted(by: { $0.id < $1.id }) {
            if let address, peerID(client) != address { continue }
            if let localAddress, localID(client) != localAddress { continue }
            if let wantedType, type(of: client) != wantedType { continue }
            if id != 0 && client.id != id { continue }
            if let user, client.user != user { continue }
            if maxAge > 0 && (now - client.createdAtMillis) / 1000 < maxAge { continue }
            if client === ctx.client && skipMe { continue }
            if client === ctx.client {
                closeSelf = true
            } else {
                client.closing = true
                client.transport?.close()
            }
            killed += 1
        }
        if ctx.argc == 3 {
            if killed == 0 { throw CommandError.err("No such client") }
            ctx.ok()
        } else {
            ctx.integer(killed)
        }
        // Only after the reply is queued: the connection closes once it's written.
        if closeSelf {
            ctx.client.flags.insert(.closeAfterReply)
            ctx.client.closing = true
        }
    }

    /// getClientPeerId: "ip:port", or "<socket path>:0" for a unix socket client.
    static func peerID(_ client: Client) -> String {
        client.flags.contains(.unixSocket) ? client.localAddress + ":0" : client.address
    }

    static func localID(_ client: Client) -> String {
        client.flags.contains(.unixSocket) ? client.localAddress + ":0" : client.localAddress
    }

    // MARK: PAUSE REPLY

    static func pause(_ ctx: CommandContext) throws {
        guard ctx.argc <= 4 else { throw ServerCommands.subcommandSyntaxError(ctx) }
        var writesOnly = false
        if ctx.argc == 4 {
            if ctx.argument(3, is: "WRITE") { writesOnly = true }
            else if ctx.argument(3, is: "ALL") { writesOnly = false }
            else { throw CommandError.err("CLIENT PAUSE mode must be WRITE or ALL") }
        }
        let timeout = try ctx.int(2, error: .err("timeout is not an integer or out of range"))
        guard timeout >= 0 else { throw CommandError.err("timeout is negative") }
        let server = ctx.server
        let now = server.clock.nowMillis()
        let end = timeout > 0 ? now + Int64(timeout) : 0
        if server.pausedUntilMillis > now {
            // A pause already under way: the stricter mode and the later end win.
            server.pauseWritesOnly = server.pauseWritesOnly && writesOnly
            server.pausedUntilMillis = max(server.pausedUntilMillis, end)
        } else {
            server.pauseWritesOnly = writesOnly
            server.pausedUntilMillis = end
        }
        ctx.ok()
    }

    static func reply(_ ctx: CommandContext) throws {
        let client = ctx.client
        if ctx.argument(2, is: "ON") {
            client.replyMode = .on
            ctx.ok()
        } else if ctx.argument(2, is: "OFF") {
            client.replyMode = .off
        } else if ctx.argument(2, is: "SKIP") {
            if client.replyMode != .off { client.replyMode = .skipNext }
        } else {
            throw CommandError.syntax
        }
    }
}

extension ClientCommands {
    /// CLIENT SETNAME's rule: no spaces, newlines or other special characters.
    static func validateName(_ name: String) -> CommandError? {
        for b in name.utf8 where b < 33 || b > 126 {
            return CommandError.err("Client names cannot contain spaces, newlines or special characters.")
        }
        return nil
    }
}

// MARK: client-side caching

extension ClientCommands {
    /// CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP], checked in
    /// Redis 7.0's order with its errors.
    static func tracking(_ ctx: CommandContext) throws {
        let client = ctx.client
        var redirect = 0
        var options: Tracking.Options = []
        var prefixes: [Bytes] = []
        var j = 3
        while j < ctx.argc {
            let more = ctx.argc - 1 - j > 0
            if ctx.argument(j, is: "REDIRECT") && more {
                j += 1
                if redirect != 0 { throw CommandError.err("A client can only redirect to a single other client") }
                redirect = try ctx.int(j)
                guard redirect > 0, ctx.server.clients[UInt64(redirect)] != nil else {
                    throw CommandError.err("The client ID you want redirect to does not exist")
                }
            } else if ctx.argument(j, is: "BCAST") {
                options.insert(.bcast)
            } else if ctx.argument(j, is: "OPTIN") {
                options.insert(.optIn)
            } else if ctx.argument(j, is: "OPTOUT") {
                options.insert(.optOut)
            } else if ctx.argument(j, is: "NOLOOP") {
                options.insert(.noLoop)
            } else if ctx.argument(j, is: "PREFIX") && more {
                j += 1
                prefixes.append(ctx.bytes(j))
            } else {
                throw CommandError.syntax
            }
            j += 1
        }
        if ctx.argument(2, is: "ON") {
            if !options.contains(.bcast) && !prefixes.isEmpty {
                throw CommandError.err("PREFIX option requires BCAST mode to be enabled")
            }
            if client.flags.contains(.tracking) && client.flags.contains(.trackingBcast) != options.contains(.bcast) {
                throw CommandError.err("You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.")
            }
            if options.contains(.bcast) && !options.isDisjoint(with: [.optIn, .optOut]) {
                throw CommandError.err("OPTIN and OPTOUT are not compatible with BCAST")
            }
            if options.isSuperset(of: [.optIn, .optOut]) {
                throw CommandError.err("You can't specify both OPTIN mode and OPTOUT mode")
            }
            if (options.contains(.optIn) && client.flags.contains(.trackingOptOut))
                || (options.contains(.optOut) && client.flags.contains(.trackingOptIn)) {
                throw CommandError.err("You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.")
            }
            if options.contains(.bcast), let collision = Tracking.prefixCollision(client, prefixes) { throw collision }
            ctx.server.enableTrackingTable().enable(client, redirect: UInt64(redirect), options: options,
                                                    prefixes: prefixes)
        } else if ctx.argument(2, is: "OFF") {
            ctx.server.tracking?.disable(client)
        } else {
            throw CommandError.syntax
        }
        ctx.ok()
    }

    /// CLIENT CACHING YES|NO: the next command's keys are tracked (OPTIN) or not (OPTOUT).
    static func caching(_ ctx: CommandContext) throws {
        let client = ctx.client
        guard client.flags.contains(.tracking) else {
            throw CommandError.err("CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
        }
        if ctx.argument(2, is: "YES") {
            guard client.flags.contains(.trackingOptIn) else {
                throw CommandError.err("CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
            }
        } else if ctx.argument(2, is: "NO") {
            guard client.flags.contains(.trackingOptOut) else {
                throw CommandError.err("CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
            }
        } else {
            throw CommandError.syntax
        }
        client.flags.insert(.trackingCaching)
        ctx.ok()
    }

    /// CLIENT TRACKINGINFO: flags (a set), redirect, prefixes (sorted, as Redis's radix tree gives them).
    static func trackingInfo(_ ctx: CommandContext) throws {
        let client = ctx.client
        let f = client.flags
        var flags = [f.contains(.tracking) ? "on" : "off"]
        if f.contains(.trackingBcast) { flags.append("bcast") }
        if f.contains(.trackingOptIn) {
            flags.append("optin")
            if f.contains(.trackingCaching) { flags.append("caching-yes") }
        }
        if f.contains(.trackingOptOut) {
            flags.append("optout")
            if f.contains(.trackingCaching) { flags.append("caching-no") }
        }
        if f.contains(.trackingNoLoop) { flags.append("noloop") }
        if f.contains(.trackingBrokenRedirect) { flags.append("broken_redirect") }
        ctx.mapHeader(3)
        ctx.bulk("flags")
        ctx.setHeader(flags.count)
        for flag in flags { ctx.bulk(flag) }
        ctx.bulk("redirect")
        ctx.integer(f.contains(.tracking) ? Int(client.trackingRedirect) : -1)
        ctx.bulk("prefixes")
        let prefixes = client.trackingPrefixes.sorted()
        ctx.arrayHeader(prefixes.count)
        for prefix in prefixes { ctx.bulk(prefix) }
    }
}
