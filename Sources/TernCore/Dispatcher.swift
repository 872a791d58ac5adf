import NIOCore
import RESP
import TernStorage

/// What the connection should do after a request.
public enum ExecutionOutcome {
    case done
    /// The command is held back by CLIENT PAUSE: keep it and retry when the pause ends.
    case paused
    /// Close the connection after writing the reply (QUIT, CLIENT KILL of oneself, protocol violation).
    case close
}

extension ServerState {
    /// Runs one request from a client: lookup, arity, auth and state checks, MULTI queueing, then `call`.
    /// Mirrors Redis's `processCommand`.
    public func execute(_ ctx: CommandContext, _ arguments: [ByteBuffer]) -> ExecutionOutcome {
        guard !arguments.isEmpty else { return .done }
        let client = ctx.client
        // The command's time (expiry decisions) and its start for timing. Within one read batch the previous
        // command's end reading serves as the next one's start: one clock read per pipelined command.
        let startMicros = batchClockMicros ?? clock.nowMicros()
        commandStartMicros = startMicros
        startTakenByExecute = true
        commandTimeMillis = startMicros / 1000
        client.lastInteractionMillis = commandTimeMillis
        engine.accessClock = UInt32(truncatingIfNeeded: commandTimeMillis / 1000)

        guard var spec = commands.lookup(arguments[0]) else {
            reject(ctx, .err(unknownCommandMessage(arguments)))
            return .done
        }
        if !spec.subcommands.isEmpty && arguments.count >= 2 {
            let subName = String(buffer: arguments[1]).lowercased()
            guard let sub = spec.subcommands[subName] else {
                reject(ctx, .err("unknown subcommand '\(String(String(buffer: arguments[1]).prefix(128)))'. Try \(spec.name.uppercased()) HELP."))
                return .done
            }
            spec = sub
        }
        guard spec.arityMatches(arguments.count), spec.handler != nil else {
            reject(ctx, .wrongArity(spec.fullName), spec)
            return .done
        }
        // Some commands' flags depend on the call (EVAL's script declares no-writes, allow-oom, ...).
        let flags = spec.flagsForCall?(arguments) ?? spec.flags
        if !client.authenticated && !flags.contains(.noAuth) && authRequired(client) {
            reject(ctx, .noAuth, spec)
            return .done
        }
        if let busy = busyScriptRefusal, !flags.contains(.allowBusy) {
            reject(ctx, busy, spec)
            return .done
        }
        if flags.contains(.protected), let refusal = protectedCommandRefusal(ctx, spec) {
            reject(ctx, refusal, spec)
            return .done
        }
        if (pausedUntilMillis > commandTimeMillis || writesPausedForFailover) && !client.flags.contains(.master) {
            let isWrite = flags.contains(.write) || flags.contains(.mayReplicate)
            let allPaused = pausedUntilMillis > commandTimeMillis && !pauseWritesOnly
            if allPaused || isWrite { return .paused }
        }
        if loading && !flags.contains(.loading) {
            reject(ctx, Self.loadingError, spec)
            return .done
        }
        if writesDeniedByDiskError && !client.flags.contains(.master) && (flags.contains(.write) || spec.name == "ping") {
            reject(ctx, Self.diskError, spec)
            return .done
        }
        if isReplica && config.replicaReadOnly && !client.flags.contains(.master) && flags.contains(.write) {
            reject(ctx, .readOnlyReplica, spec)
            return .done
        }
        if let refusal = replicationRefusal(spec, flags: flags, client: client) {
            reject(ctx, refusal, spec)
            return .done
        }
        // RESP2 subscribed mode: only (un)subscribing, PING, QUIT and RESET (RESP3 has no such limit).
        if client.flags.contains(.pubsub) && client.resp == .resp2 && !Self.subscribedModeCommands.contains(spec.fullName) {
            reject(ctx, .err("Can't execute '\(spec.fullName)': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"), spec)
            return .done
        }
        preCommandOOM = false
        if config.maxMemory > 0 && !client.flags.contains(.master) {
            // Evict by policy before every command; refuse commands that may grow memory if still above.
            let withinLimit = freeMemoryIfNeeded()
            preCommandOOM = !withinLimit
            if !withinLimit && flags.contains(.denyoom) {
                reject(ctx, Self.oomError, spec)
                return .done
            }
        }
        if flags.contains(.denyoom), let refusal = engine.growthRefusal() {
            let text = String(describing: refusal)
            reject(ctx, CommandError(text.hasPrefix("ERR ") ? text : "ERR " + text), spec)
            return .done
        }
        if client.flags.contains(.multi) && flags.contains(.noMulti)
            && !Self.transactionControl.contains(spec.fullName) {
            reject(ctx, .err("Command not allowed inside a transaction"), spec)
            return .done
        }
        if let user = client.aclUser, !user.isUnrestricted, let refusal = aclRefusal(ctx, spec, arguments) {
            reject(ctx, refusal, spec)
            return .done
        }
        if client.flags.contains(.multi) && !Self.transactionControl.contains(spec.fullName) {
            client.queued.append(arguments.map { ByteBuffer(buffer: $0) })
            client.output.writeStaticString("+QUEUED\r\n")
            return .done
        }
        if let tracking, tracking.clientCount > 0 {
            // As Redis's processCommand, with this client current: its own invalidations follow its reply.
            let previous = currentClient
            currentClient = client
            tracking.enforceLimit()
            currentClient = previous
        }
        call(ctx, spec, arguments)
        // CLIENT CACHING yes|no holds for the next command only (a transaction's: until EXEC).
        if client.flags.contains(.trackingCaching) && !client.flags.contains(.multi)
            && (spec.parent ?? spec).name != "client" {
            client.flags.remove(.trackingCaching)
        }
        serveBlockedClients()
        return client.closing ? .close : .done
    }

    /// Redis's authRequired: a client must AUTH when the default user has a password or is disabled.
    public func authRequired(_ client: Client) -> Bool {
        if client.authenticated { return false }
        let d = acl.defaultUser
        return !d.noPass || !d.enabled
    }

    /// Replication's admission checks (Redis's processCommand): `replica-serve-stale-data no` on a replica whose
    /// link is down, `min-replicas-to-write` on a master. EXEC counts as a write when its queue holds one.
    func replicationRefusal(_ spec: CommandSpec, flags: CommandFlags? = nil, client: Client) -> CommandError? {
        let flags = flags ?? spec.flags
        if client.flags.contains(.master) { return nil }
        let isExec = spec.name == "exec" && spec.parent == nil
        if isReplica {
            guard !config.replicaServeStaleData, !masterLinkUp else { return nil }
            let stale = isExec ? queuedSpecs(client).allSatisfy { $0.flags.contains(.stale) } : flags.contains(.stale)
            return stale ? nil : .masterDown
        }
        guard config.minReplicasToWrite > 0, config.minReplicasMaxLag > 0,
              goodReplicaCount < config.minReplicasToWrite else { return nil }
        let write = isExec ? queuedSpecs(client).contains { $0.flags.contains(.write) } : flags.contains(.write)
        return write ? .noReplicas : nil
    }

    /// The commands a client's MULTI queued.
    private func queuedSpecs(_ client: Client) -> [CommandSpec] {
        client.queued.compactMap { commands.lookup($0[0]) }
    }

    /// Redis's `writeCommandsDeniedByDiskError`: a master whose last background save failed refuses writes.
    var writesDeniedByDiskError: Bool {
        lastBgsaveFailed && !isReplica && config.stopWritesOnBgsaveError && !config.savePoints.isEmpty
    }

    static let loadingError = CommandError("LOADING Redis is loading the dataset in memory")
    static let diskError = CommandError("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.")

    /// What a RESP2 client in subscribed mode may still run.
    static let subscribedModeCommands: Set<String> = [
        "ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe", "punsubscribe", "quit", "reset",
    ]

    /// Commands that run at once inside MULTI rather than being queued.
    static let transactionControl: Set<String> = ["exec", "discard", "multi", "watch", "quit", "reset"]

    /// Executes a command whose checks passed, as one execution unit (or part of the enclosing one),
    /// then records statistics and hands the unit's effects to the propagation hook.
    public func call(_ ctx: CommandContext, _ spec: CommandSpec, _ arguments: [ByteBuffer]) {
        // A command run from inside another (EXEC) must give the outer one its context back.
        let nested = unitDepth > 0
        let outerNested = inNestedCall
        inNestedCall = nested
        defer { inNestedCall = outerNested }
        let savedArguments = nested ? ctx.arguments : []
        let savedSpec = nested ? ctx.spec : nil
        let savedPrevented = ctx.verbatimPrevented
        ctx.arguments = arguments
        ctx.spec = spec
        ctx.verbatimPrevented = false
        defer {
            if nested {
                ctx.arguments = savedArguments
                ctx.spec = savedSpec
                ctx.verbatimPrevented = savedPrevented
            } else {
                // Let go of the request's argument array so the connection can reuse its storage.
                ctx.arguments = []
            }
        }
        let client = ctx.client
        let previousClient = currentClient
        currentClient = client
        defer { currentClient = previousClient }
        let dirtyBefore = dirty
        let db = client.db
        let outputMark = client.output.writerIndex
        let effectsMark = pendingEffects.count
        beginUnit()
        let started = startTakenByExecute ? commandStartMicros : clock.nowMicros()
        startTakenByExecute = false
        var failed = false
        do {
            try spec.handler!(ctx)
        } catch let error as CommandError {
            failed = true
            ctx.error(error)
            countError(error)
        } catch {
            failed = true
            let e = CommandError.err(String(describing: error))
            ctx.error(e)
            countError(e)
        }
        let ended = clock.nowMicros()
        noteClockReading(ended)
        let micros = max(0, Int(ended &- started))
        if spec.flags.contains(.write), let refusal = engine.takeWriteFailure() {
            // The backend refused a write (e.g. the store is full): the command's reply becomes the error and
            // nothing of it is propagated.
            client.output.moveWriterIndex(to: outputMark)
            let text = String(describing: refusal)
            let e = CommandError(text.hasPrefix("ERR ") ? text : "ERR " + text)
            ctx.error(e)
            countError(e)
            failed = true
            if pendingEffects.count > effectsMark { pendingEffects.removeSubrange(effectsMark...) }
            dirty = dirtyBefore
        }
        if dirty != dirtyBefore && !ctx.verbatimPrevented && propagation.wantsEffects
            && (spec.flags.contains(.write) || spec.flags.contains(.mayReplicate)) {
            pendingEffects.append(Effect(db: db, arguments: arguments))
        }
        endUnit()
        if spec.flags.contains(.readonly) && client.flags.contains(.tracking)
            && !client.flags.contains(.trackingBcast) {
            tracking?.remember(client, spec, arguments)
        }
        if !nested, let tracking { tracking.commandEnded(client) }

        // A command that parked the client is counted when it is served, times out or is unblocked.
        if client.flags.contains(.blocked) { return }
        stats.totalCommandsProcessed += 1
        spec.stat.calls += 1
        spec.stat.microseconds += micros
        if config.latencyTracking { spec.stat.histogram.record(micros: micros) }
        if failed { spec.stat.failedCalls += 1 }
        client.lastCommand = spec
        if !spec.flags.contains(.skipSlowlog) && config.slowlogLogSlowerThan >= 0
            && micros >= config.slowlogLogSlowerThan {
            slowlog.record(arguments: arguments, durationMicros: micros, timestampSeconds: commandTimeMillis / 1000,
                           client: client, maxLength: config.slowlogMaxLen)
        }
        if config.latencyMonitorThreshold > 0 {
            latencyAddSampleIfNeeded(spec.flags.contains(.fast) ? "fast-command" : "command", millis: micros / 1000)
        }
        if !monitors.isEmpty && !spec.flags.contains(.skipMonitor) && !spec.flags.contains(.admin) {
            feedMonitors(client: client, db: db, arguments: arguments)
        }
    }

    /// Writes an error for a command refused before it ran; inside MULTI it also dooms the transaction.
    func reject(_ ctx: CommandContext, _ error: CommandError, _ spec: CommandSpec? = nil) {
        startTakenByExecute = false
        spec?.stat.rejectedCalls += 1
        if let spec, spec.name == "exec", spec.parent == nil {
            // A refused EXEC discards the transaction (Redis's execCommandAbort).
            var reason = error.message
            if reason.hasPrefix("ERR ") { reason.removeFirst(4) }
            let abort = CommandError("EXECABORT Transaction discarded because of: " + reason)
            ctx.client.flags.remove([.multi, .dirtyExec, .dirtyCAS])
            ctx.client.queued.removeAll()
            for hook in transactionEndHooks { hook(ctx.client) }
            ctx.error(abort)
            countError(abort)
            return
        }
        ctx.error(error)
        countError(error)
        if ctx.client.flags.contains(.multi) { ctx.client.flags.insert(.dirtyExec) }
    }

    func countError(_ error: CommandError) {
        stats.totalErrorReplies += 1
        stats.errorStats[String(error.prefix), default: 0] += 1
    }

    func unknownCommandMessage(_ arguments: [ByteBuffer]) -> String {
        // Redis formats these with %.128s / %.*s: C strings, so each stops at a NUL byte.
        func cString(_ b: ByteBuffer, _ limit: Int) -> String {
            String(decoding: b.readableBytesView.prefix(limit).prefix { $0 != 0 }, as: UTF8.self)
        }
        var shown = ""
        var i = 1
        while i < arguments.count && shown.utf8.count < 128 {
            shown += "'\(cString(arguments[i], 128 - shown.utf8.count))' "
            i += 1
        }
        let name = cString(arguments[0], 128)
        return "unknown command '\(name)', with args beginning with: \(shown)"
    }

    /// `+<unix.micros> [<db> <addr>] "arg" ...` to every MONITOR client.
    func feedMonitors(client: Client, db: Int, arguments: [ByteBuffer]) {
        let micros = clock.nowMicros()
        var line = "+\(micros / 1_000_000).\(String(format6(Int(micros % 1_000_000)))) [\(db) \(client.flags.contains(.unixSocket) ? "unix:" + client.address : client.address)]"
        for a in arguments { line += " " + Self.quoted(a.readableBytesView) }
        var out = ByteBuffer()
        out.writeString(line)
        out.writeStaticString("\r\n")
        for monitor in monitors {
            monitor.transport?.send(out)
        }
    }

    private func format6(_ v: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, 6 - s.count)) + s
    }

    /// Redis's `sdscatrepr`: a double-quoted, escaped representation of bytes.
    public static func quoted<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var s = "\""
        for b in bytes {
            switch b {
            case UInt8(ascii: "\\"): s += "\\\\"
            case UInt8(ascii: "\""): s += "\\\""
            case 10: s += "\\n"
            case 13: s += "\\r"
            case 9: s += "\\t"
            case 7: s += "\\a"
            case 8: s += "\\b"
            default:
                if b >= 32 && b < 127 {
                    s.unicodeScalars.append(Unicode.Scalar(b))
                } else {
                    let hex = String(b, radix: 16)
                    s += "\\x" + (hex.count == 1 ? "0" + hex : hex)
                }
            }
        }
        return s + "\""
    }
}
