import NIOCore
import RESP

/// ACL and its subcommands (Redis 7.0's aclCommand).
enum ACLCommands {
    static var specs: [CommandSpec] {
        let admin: CommandFlags = [.admin, .noscript, .loading, .stale]
        let plain: CommandFlags = [.noscript, .loading, .stale]
        func sub(_ name: String, _ arity: Int, _ flags: CommandFlags, _ summary: String, since: String = "6.0.0",
                 args arguments: [String] = [], _ handler: @escaping CommandHandler) -> CommandSpec {
            CommandSpec(name, arity: arity, flags: flags, group: "server", summary: summary, since: since,
                        complexity: "O(N)", arguments: arguments, handler: handler)
        }
        return [
            CommandSpec("acl", arity: -2, group: "server", summary: "A container for Access List Control commands",
                        since: "6.0.0", complexity: "Depends on subcommand.", subcommands: [
                sub("cat", -2, plain, "List the ACL categories or the commands inside a category", args: ["[categoryname]"], cat),
                sub("deluser", -3, admin, "Remove the specified ACL users and the associated rules", args: ["username [username ...]"], deleteUsers),
                sub("dryrun", -4, admin, "Returns whether the user can execute the given command without executing the command.",
                    since: "7.0.0", args: ["username", "command", "[arg [arg ...]]"], dryRun),
                sub("genpass", -2, plain, "Generate a pseudorandom secure password to use for ACL users", args: ["[bits]"], generatePassword),
                sub("getuser", 3, admin, "Get the rules for a specific ACL user", args: ["username"], getUser),
                sub("list", 2, admin, "List the current ACL rules in ACL config file format", list),
                sub("load", 2, admin, "Reload the ACLs from the configured ACL file", load),
                sub("log", -2, admin, "List latest events denied because of ACLs in place", args: ["[count|RESET]"], log),
                sub("save", 2, admin, "Save the current ACL rules in the configured ACL file", save),
                sub("setuser", -3, admin, "Modify or create the rules for a specific ACL user", args: ["username", "[rule [rule ...]]"], setUser),
                sub("users", 2, admin, "List the username of all the configured ACL rules", users),
                sub("whoami", 2, plain, "Return the name of the user associated to the current connection", whoAmI),
                CommandSpec("help", arity: 2, flags: [.loading, .stale], group: "server",
                            summary: "Show helpful text about the different subcommands", since: "6.0.0", handler: help),
            ], handler: nil),
        ]
    }

    static func setUser(_ ctx: CommandContext) throws {
        let server = ctx.server
        let acl = server.acl
        let name = ctx.string(2)
        if ACLUser.hasSpaces(Array(name.utf8)) {
            throw CommandError.err("Usernames can't contain spaces or null characters")
        }
        let raw = (3..<ctx.argc).map { Array(ctx.arguments[$0].readableBytesView) }
        let (merged, invalid) = ACLUser.mergeSelectorArguments(raw)
        guard let merged else {
            throw CommandError.err("Unmatched parenthesis in acl selector starting at '\(String(decoding: raw[invalid], as: UTF8.self))'.")
        }
        var staged: ACLUser? = nil
        do {
            staged = try acl.stage(name, [])
            for op in merged {
                do {
                    try staged!.apply(op, table: acl.table, ids: acl.ids, pubsubDefaultAll: acl.pubsubDefaultAll)
                } catch let e as ACLRuleError {
                    throw CommandError.err("Error in ACL SETUSER modifier '\(String(decoding: op, as: UTF8.self))': \(e.message)")
                }
            }
        }
        let original = acl.user(name)
        if let original { server.killPubSubClientsIfNeeded(newRules: staged!, user: original) }
        acl.commit(staged!)
        ctx.ok()
    }

    static func deleteUsers(_ ctx: CommandContext) throws {
        for i in 2..<ctx.argc where ctx.string(i) == "default" {
            throw CommandError.err("The 'default' user cannot be removed")
        }
        var deleted = 0
        for i in 2..<ctx.argc {
            if let user = ctx.server.acl.remove(ctx.string(i)) {
                ctx.server.disconnectClients(of: user, current: ctx.client)
                deleted += 1
            }
        }
        ctx.integer(deleted)
    }

    static func getUser(_ ctx: CommandContext) throws {
        let acl = ctx.server.acl
        guard let u = acl.user(ctx.string(2)) else {
            ctx.null()
            return
        }
        ctx.mapHeader(6)
        ctx.bulk("flags")
        let flags = u.flagNames
        ctx.setHeader(flags.count)
        for f in flags { ctx.bulk(f) }
        ctx.bulk("passwords")
        ctx.arrayHeader(u.passwords.count)
        for p in u.passwords { ctx.bulk(p) }
        describeSelector(ctx, u.selectors[0], acl)
        ctx.bulk("selectors")
        ctx.arrayHeader(u.selectors.count - 1)
        for s in u.selectors.dropFirst() {
            ctx.mapHeader(3)
            describeSelector(ctx, s, acl)
        }
    }

    private static func describeSelector(_ ctx: CommandContext, _ s: ACLSelector, _ acl: AccessControl) {
        ctx.bulk("commands"); ctx.bulk(s.describeCommands(table: acl.table, ids: acl.ids))
        ctx.bulk("keys"); ctx.bulk(s.keysDescription)
        ctx.bulk("channels"); ctx.bulk(s.channelsDescription)
    }

    static func list(_ ctx: CommandContext) throws {
        let acl = ctx.server.acl
        let names = acl.users.keys.sorted()
        ctx.arrayHeader(names.count)
        for n in names { ctx.bulk("user \(n) " + acl.users[n]!.describe(table: acl.table, ids: acl.ids)) }
    }

    static func users(_ ctx: CommandContext) throws {
        ctx.bulkArray(ctx.server.acl.users.keys.sorted())
    }

    static func whoAmI(_ ctx: CommandContext) throws {
        if let u = ctx.client.aclUser { ctx.bulk(u.name) } else { ctx.null() }
    }

    static let noFileError = CommandError.err("This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.")

    static func load(_ ctx: CommandContext) throws {
        let server = ctx.server
        guard !server.config.aclFile.isEmpty else { throw noFileError }
        let before = Set(server.acl.users.values.map { ObjectIdentifier($0) })
        if let errors = server.acl.loadFile(server.config.aclFile) { throw CommandError.err(errors) }
        // Users that the file no longer (or newly) defines are new objects: their clients are disconnected.
        let after = Set(server.acl.users.values.map { ObjectIdentifier($0) })
        for client in server.clients.values {
            if let u = client.aclUser, u !== server.acl.defaultUser,
               before.contains(ObjectIdentifier(u)), !after.contains(ObjectIdentifier(u)) {
                server.disconnectClients(of: u, current: ctx.client)
            }
        }
        ctx.ok()
    }

    static func save(_ ctx: CommandContext) throws {
        let server = ctx.server
        guard !server.config.aclFile.isEmpty else { throw noFileError }
        guard server.acl.saveFile(server.config.aclFile, nowMillis: server.clock.nowMillis()) else {
            throw CommandError.err("There was an error trying to save the ACLs. Please check the server logs for more information")
        }
        ctx.ok()
    }

    static func cat(_ ctx: CommandContext) throws {
        if ctx.argc == 2 {
            ctx.bulkArray(ACLCategory.names)
            return
        }
        guard ctx.argc == 3 else { throw ServerCommands.subcommandSyntaxError(ctx) }
        guard let bit = ACLCategory.bit(ctx.string(2)) else {
            throw CommandError.err("Unknown category '\(String(ctx.string(2).prefix(128)))'")
        }
        var names: [String] = []
        for spec in ctx.server.commands.allSpecs where !spec.isPlugin && ACLCategory.bits(of: spec) & bit != 0 {
            names.append(spec.fullName)
        }
        ctx.bulkArray(names.sorted())
    }

    static func generatePassword(_ ctx: CommandContext) throws {
        guard ctx.argc <= 3 else { throw ServerCommands.subcommandSyntaxError(ctx) }
        var bits = 256
        if ctx.argc == 3 { bits = try ctx.int(2) }
        guard bits > 0 && bits <= 4096 else {
            throw CommandError.err("ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096")
        }
        let chars = (bits + 3) / 4
        var rng = SystemRandomNumberGenerator()
        let hex = Array("0123456789abcdef".utf8)
        ctx.bulk(String(decoding: (0..<chars).map { _ in hex[Int(rng.next() & 15)] }, as: UTF8.self))
    }

    static func log(_ ctx: CommandContext) throws {
        guard ctx.argc <= 3 else { throw ServerCommands.subcommandSyntaxError(ctx) }
        let acl = ctx.server.acl
        var count = 10
        if ctx.argc == 3 {
            if ctx.argument(2, is: "RESET") {
                acl.resetLog()
                ctx.ok()
                return
            }
            count = max(0, try ctx.int(2))
        }
        let entries = acl.log.prefix(count)
        let now = ctx.server.clock.nowMillis()
        ctx.arrayHeader(entries.count)
        for e in entries {
            ctx.mapHeader(7)
            ctx.bulk("count"); ctx.integer(e.count)
            ctx.bulk("reason"); ctx.bulk(e.reason.logName)
            ctx.bulk("context"); ctx.bulk(e.context)
            ctx.bulk("object"); ctx.bulk(e.object)
            ctx.bulk("username"); ctx.bulk(e.username)
            ctx.bulk("age-seconds"); ctx.double(Double(now - e.createdMillis) / 1000)
            ctx.bulk("client-info"); ctx.bulk(e.clientInfo)
        }
    }

    static func dryRun(_ ctx: CommandContext) throws {
        let server = ctx.server
        let name = ctx.string(2)
        guard let user = server.acl.user(name) else { throw CommandError.err("User '\(name)' not found") }
        let arguments = Array(ctx.arguments[3...])
        guard var spec = server.commands.lookup(arguments[0]) else {
            throw CommandError.err("Command '\(ctx.string(3))' not found")
        }
        if !spec.subcommands.isEmpty {
            guard arguments.count >= 2, let sub = spec.subcommands[String(buffer: arguments[1]).lowercased()] else {
                throw CommandError.err("Command '\(ctx.string(3))' not found")
            }
            spec = sub
        }
        guard spec.arityMatches(arguments.count) else {
            throw CommandError.err("wrong number of arguments for '\(spec.fullName)' command")
        }
        guard let refusal = server.acl.check(user, spec, arguments) else {
            ctx.ok()
            return
        }
        switch refusal.reason {
        case .command: ctx.bulk("This user has no permissions to run the '\(spec.fullName)' command")
        case .key: ctx.bulk("This user has no permissions to access the '\(String(buffer: arguments[refusal.argumentIndex]))' key")
        case .channel: ctx.bulk("This user has no permissions to access the '\(String(buffer: arguments[refusal.argumentIndex]))' channel")
        case .auth: ctx.bulk("This user has no permissions")
        }
    }

    static func help(_ ctx: CommandContext) throws {
        ServerCommands.help(ctx, "ACL", [
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ])
    }
}

extension ServerState {
    /// Clients authenticated as a deleted user are put back to the unauthenticated default user and closed
    /// (the current one after its reply), as Redis's ACLFreeUserAndKillClients.
    func disconnectClients(of user: ACLUser, current: Client) {
        for client in clients.values where client.aclUser === user {
            client.aclUser = acl.defaultUser
            client.authenticated = false
            client.closing = true
            if client !== current { client.transport?.close() }
        }
    }

    /// Pub/sub clients of a user whose channel rules narrow are disconnected when one of their subscriptions
    /// is no longer allowed (Redis's ACLKillPubsubClientsIfNeeded).
    func killPubSubClientsIfNeeded(newRules: ACLUser, user: ACLUser) {
        if newRules.selectors.contains(where: { $0.allChannels }) { return }
        let upcoming = newRules.selectors.flatMap { $0.channels }
        let original = user.selectors.flatMap { $0.channels }
        let originalAll = user.selectors.contains { $0.allChannels }
        if !originalAll && original.allSatisfy({ upcoming.contains($0) }) { return }
        for client in clients.values where client.aclUser === user && client.flags.contains(.pubsub) {
            let subs = pubsub.subscriptions(of: client)
            let violates = subs.patterns.contains { !ACLSelector.channelAllowed(upcoming, $0, isPattern: true) }
                || subs.channels.contains { !ACLSelector.channelAllowed(upcoming, $0, isPattern: false) }
            if violates {
                client.closing = true
                client.transport?.close()
            }
        }
    }

    /// The ACL check for a command about to run; records the denial in ACL LOG and returns Redis's -NOPERM.
    func aclRefusal(_ ctx: CommandContext, _ spec: CommandSpec, _ arguments: [ByteBuffer]) -> CommandError? {
        guard let user = ctx.client.aclUser, !user.isUnrestricted else { return nil }
        guard let refusal = acl.check(user, spec, arguments) else { return nil }
        recordDenial(ctx, refusal, spec, arguments, context: ctx.client.flags.contains(.multi) ? "multi" : "toplevel")
        return AccessControl.error(refusal, spec)
    }

    /// An ACL LOG entry for a refused command (Redis's addACLLogEntry).
    func recordDenial(_ ctx: CommandContext, _ refusal: ACLRefusal, _ spec: CommandSpec, _ arguments: [ByteBuffer],
                      context: String) {
        let object = refusal.reason == .command ? spec.fullName : String(buffer: arguments[refusal.argumentIndex])
        // The entry's client info names the refused command (Redis has set c->cmd by then).
        let previous = ctx.spec
        ctx.spec = spec
        defer { ctx.spec = previous }
        acl.record(reason: refusal.reason, context: context, object: object, username: ctx.client.aclUser?.name ?? "",
                   clientInfo: ClientCommands.infoLine(ctx.client, ctx), nowMillis: clock.nowMillis())
    }

    /// A failed AUTH/HELLO AUTH, logged as Redis's ACL_DENIED_AUTH (object: the command name).
    func recordAuthFailure(_ ctx: CommandContext, username: String) {
        acl.record(reason: .auth, context: ctx.client.flags.contains(.multi) ? "multi" : "toplevel",
                   object: String(buffer: ctx.arguments[0]), username: username,
                   clientInfo: ClientCommands.infoLine(ctx.client, ctx), nowMillis: clock.nowMillis())
    }
}
