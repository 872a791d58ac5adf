import NIOCore

/// Why a command called from inside another (a script's `redis.call`, a plugin's call) was refused before it
/// ran. The caller words it (scripts: "Unknown Redis command called from script", ...).
public enum InternalCallRefusal: Error, Equatable {
    case unknownCommand
    case wrongArity
    /// The command's flags forbid it for this caller (`noscript` for scripts).
    case notAllowed
    /// A write or may-replicate command from a read-only caller (EVAL_RO, a `no-writes` script).
    case writeFromReadOnly
    /// The calling user's ACL rules deny it (logged in ACL LOG with context "lua").
    case aclDenied(ACLDenial)
    /// The server's state refuses it (read-only replica, MISCONF, NOREPLICAS, OOM): the error a client gets.
    case refused(CommandError)
}

/// The caller's rules for its internal calls, kept across the calls of one execution (Redis's scriptRunCtx).
public struct InternalCallRules {
    /// Refuse write and may-replicate commands.
    public var readOnly = false
    /// Don't refuse deny-oom commands above `maxmemory` (`allow-oom`).
    public var allowOOM = false
    /// The caller runs on behalf of the master link (state checks don't apply).
    public var fromMaster = false
    /// Effects of the calls go to the propagation hook (`redis.set_repl`).
    public var propagate = true
    /// Commands with any of these flags are refused (`.notAllowed`).
    public var deniedFlags: CommandFlags = [.noscript]
    /// Set once a write ran: later writes are no longer refused for the server's state, as the unit
    /// can't stop half way (Redis's SCRIPT_WRITE_DIRTY).
    public internal(set) var wrote = false

    public init() {}
}

extension ServerState {
    /// The one way to run a command from inside another: the same lookup, arity, flag and server-state checks
    /// a client's command gets in `execute` (as Redis's scriptCall), then `call` as part of the caller's
    /// execution unit (its effects join the caller's, blocking commands don't block). The reply is written
    /// to `ctx.client.output` in `ctx.client.resp`. Returns why it was refused, or nil once it ran.
    public func callInternal(_ ctx: CommandContext, _ arguments: [ByteBuffer],
                             rules: inout InternalCallRules) -> InternalCallRefusal? {
        guard !arguments.isEmpty, var spec = commands.lookup(arguments[0]) else { return .unknownCommand }
        if !spec.subcommands.isEmpty && arguments.count >= 2 {
            guard let sub = spec.subcommands[String(buffer: arguments[1]).lowercased()] else { return .unknownCommand }
            spec = sub
        }
        guard spec.arityMatches(arguments.count), spec.handler != nil else { return .wrongArity }
        let flags = spec.flags
        if !flags.isDisjoint(with: rules.deniedFlags) { return .notAllowed }
        // The same permission check as a client's command, for the user the caller runs as.
        if let user = ctx.client.aclUser, !user.isUnrestricted, let refusal = acl.check(user, spec, arguments) {
            recordDenial(ctx, refusal, spec, arguments, context: "lua")
            return .aclDenied(refusal.reason)
        }
        let isWrite = flags.contains(.write)
        if rules.readOnly && (isWrite || flags.contains(.mayReplicate)) { return .writeFromReadOnly }
        if isWrite && !rules.wrote && !rules.fromMaster {
            if isReplica && config.replicaReadOnly { return .refused(.readOnlyReplica) }
            if writesDeniedByDiskError { return .refused(Self.diskError) }
            if config.minReplicasToWrite > 0 && config.minReplicasMaxLag > 0 && goodReplicaCount < config.minReplicasToWrite {
                return .refused(.noReplicas)
            }
        }
        if flags.contains(.denyoom) && !rules.allowOOM && !rules.fromMaster && !rules.wrote
            && config.maxMemory > 0 && preCommandOOM {
            return .refused(Self.oomError)
        }
        if flags.contains(.denyoom), let refusal = engine.growthRefusal() {
            let text = String(describing: refusal)
            return .refused(CommandError(text.hasPrefix("ERR ") ? text : "ERR " + text))
        }
        if isWrite { rules.wrote = true }
        let effectsMark = pendingEffects.count
        call(ctx, spec, arguments)
        if !rules.propagate && pendingEffects.count > effectsMark { pendingEffects.removeSubrange(effectsMark...) }
        return nil
    }

    /// Feeds MONITOR clients a command that skips the dispatcher's own feeding (EVAL shows before its
    /// script's commands, as Redis's evalCommand does).
    public func feedMonitors(_ ctx: CommandContext) {
        guard !monitors.isEmpty else { return }
        feedMonitors(client: ctx.client, db: ctx.client.db, arguments: ctx.arguments)
    }
}
