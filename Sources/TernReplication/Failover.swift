import NIOCore
import TernCore

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]: a coordinated switch of roles with one replica, as
/// Redis 6.2+ does it (replication.c's failoverCommand / updateFailoverStatus).
///
/// The master pauses writes and waits until the target's acknowledged offset equals its own; it then becomes
/// a replica of the target and sends `PSYNC <replid> <offset> FAILOVER`, which makes the target promote
/// itself (same history: `+CONTINUE`). The pause ends once the target accepted the PSYNC; writes that waited
/// then get -READONLY. Any replica (Tern or stock Redis) can be the target, and a Tern replica accepts the
/// PSYNC FAILOVER of a stock Redis master.
public final class Failover {
    public enum State: String {
        case none = "no-failover"
        case waitingForSync = "waiting-for-sync"
        case inProgress = "failover-in-progress"
    }

    unowned let server: ServerState
    unowned let master: ReplicationMaster
    unowned let replica: ReplicationReplica
    public private(set) var state: State = .none
    private var targetHost: String?
    private var targetPort = 0
    private var endMillis: Int64 = 0
    private var force = false

    init(server: ServerState, master: ReplicationMaster, replica: ReplicationReplica) {
        self.server = server
        self.master = master
        self.replica = replica
    }

    var spec: CommandSpec {
        CommandSpec("failover", arity: -1, flags: [.admin, .noscript, .stale], group: "server",
                    summary: "Start a coordinated failover between this server and one of its replicas.",
                    since: "6.2.0", complexity: "O(1)", acl: ["admin", "slow", "dangerous"],
                    arguments: ["[TO host port [FORCE]]", "[ABORT]", "[TIMEOUT milliseconds]"]) { [unowned self] ctx in
            try self.command(ctx)
        }
    }

    func command(_ ctx: CommandContext) throws {
        if ctx.argc == 2 && ctx.argument(1, is: "ABORT") {
            guard state != .none else { throw CommandError.err("No failover in progress.") }
            abort("Failover manually aborted")
            ctx.ok()
            return
        }
        var timeout = 0
        var forceFlag = false
        var host: String?
        var port = 0
        var j = 1
        while j < ctx.argc {
            if ctx.argument(j, is: "TIMEOUT") && j + 1 < ctx.argc && timeout == 0 {
                timeout = try ctx.int(j + 1)
                guard timeout > 0 else { throw CommandError.err("FAILOVER timeout must be greater than 0") }
                j += 1
            } else if ctx.argument(j, is: "TO") && j + 2 < ctx.argc && host == nil {
                port = try ctx.int(j + 2)
                host = ctx.string(j + 1)
                j += 2
            } else if ctx.argument(j, is: "FORCE") && !forceFlag {
                forceFlag = true
            } else {
                throw CommandError.syntax
            }
            j += 1
        }
        guard state == .none else { throw CommandError.err("FAILOVER already in progress.") }
        guard replica.masterHost == nil else { throw CommandError.err("FAILOVER is not valid when server is a replica.") }
        guard !master.replicas.isEmpty else { throw CommandError.err("FAILOVER requires connected replicas.") }
        if forceFlag && (timeout == 0 || host == nil) {
            throw CommandError.err("FAILOVER with force option requires both a timeout and target HOST and IP.")
        }
        if let host {
            guard let link = findReplica(host, port) else {
                throw CommandError.err("FAILOVER target HOST and PORT is not a replica.")
            }
            guard link.state == .online else { throw CommandError.err("FAILOVER target replica is not online.") }
            targetHost = host
            targetPort = port
            server.logger.notice("FAILOVER requested to \(host):\(port).")
        } else {
            server.logger.notice("FAILOVER requested to any replica.")
        }
        endMillis = timeout > 0 ? server.clock.nowMillis() + Int64(timeout) : 0
        force = forceFlag
        state = .waitingForSync
        server.writesPausedForFailover = true
        // Ask for fresh offsets now rather than at the next second's ACK.
        master.sendGetAck()
        ctx.ok()
    }

    private func findReplica(_ host: String, _ port: Int) -> ReplicaLink? {
        master.replicas.first { $0.ip.lowercased() == host.lowercased() && $0.listeningPort == port }
    }

    /// updateFailoverStatus: run by the cron and after each ACK while waiting.
    func update(nowMillis: Int64) {
        guard state == .waitingForSync else { return }
        if endMillis != 0 && endMillis <= nowMillis {
            if force, let host = targetHost {
                server.logger.notice("FAILOVER to \(host):\(targetPort) time out exceeded, failing over.")
                switchToTarget()
            } else {
                abort("Replica never caught up before timeout")
            }
            return
        }
        var link: ReplicaLink?
        if let host = targetHost {
            link = findReplica(host, targetPort)
        } else if let synced = master.replicas.first(where: { $0.ackOffset == master.masterOffset }) {
            link = synced
            targetHost = synced.ip
            targetPort = synced.listeningPort
        }
        if let link, link.ackOffset == master.masterOffset, let host = targetHost {
            server.logger.notice("Failover target \(host):\(targetPort) is synced, failing over.")
            switchToTarget()
        }
    }

    private func switchToTarget() {
        guard let host = targetHost else { return }
        state = .inProgress
        replica.start(host: host, port: targetPort, useOwnHistory: true)
    }

    /// The PSYNC this node sends as a replica carries FAILOVER while the switch is under way.
    var psyncArgument: String? { state == .inProgress ? "FAILOVER" : nil }

    /// The target answered the PSYNC: +CONTINUE or +FULLRESYNC end the failover, anything else aborts it.
    func psyncAnswered(accepted: Bool) {
        guard state == .inProgress else { return }
        if accepted { clear() } else { abort("Failover target rejected psync request") }
    }

    /// abortFailover: back to master if the switch had started; writes resume.
    func abort(_ reason: String) {
        guard state != .none else { return }
        if let host = targetHost {
            server.logger.notice("FAILOVER to \(host):\(targetPort) aborted: \(reason)")
        } else {
            server.logger.notice("FAILOVER to any replica aborted: \(reason)")
        }
        if state == .inProgress { replica.stop() }
        clear()
    }

    private func clear() {
        state = .none
        targetHost = nil
        targetPort = 0
        endMillis = 0
        force = false
        server.writesPausedForFailover = false
        server.releasePausedClients()
    }
}
