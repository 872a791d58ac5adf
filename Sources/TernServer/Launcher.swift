import Logging
import ServiceLifecycle
import TernCore
#if canImport(Glibc)
import Glibc
#endif

/// `tern-server [CONFIG_FILE] [--directive value ...]`, as redis-server takes them.
public enum Launcher {
    public static func main(arguments: [String]) async -> Int32 {
        switch ConfigLoader.action(arguments: arguments) {
        case .version:
            print(ConfigLoader.versionLine)
            return 0
        case .help:
            print(ConfigLoader.usage, terminator: "")
            return 0
        case .run:
            break
        }
        // `--import <file.rdb>` is Tern's own start-up option, not a directive: taken out before the
        // directives are parsed; the path is relative to where the server was started.
        var arguments = arguments
        var importPath: String?
        if let i = arguments.firstIndex(of: "--import") {
            guard i + 1 < arguments.count else {
                FileHandleWriter.stderr("--import needs the path of an RDB file\n")
                return 1
            }
            importPath = FileIO.absolute(arguments[i + 1], base: ConfigRegistry.currentDirectory())
            arguments.removeSubrange(i...(i + 1))
        }
        let config: ServerConfig
        do {
            config = try ConfigLoader.load(arguments: arguments)
            config.importPath = importPath
        } catch let error as ConfigFileError {
            FileHandleWriter.stderr("\n\(error.description)\n")
            return 1
        } catch {
            FileHandleWriter.stderr("\n\(error)\n")
            return 1
        }
        // Redis's order: supervision is detected first; a supervised server never daemonizes.
        let supervision = ServiceSupervision.detect(config.supervised)
        if config.daemonize && supervision == nil && getenv(ServiceSupervision.daemonChildVariable) == nil {
            // Detach as Redis's daemonize() does (parent exits 0, the server goes on in a new session with
            // stdio on /dev/null), by starting this program again: fork() after the Swift runtime started its
            // threads isn't safe.
            return ServiceSupervision.daemonize(arguments: arguments, importPath: importPath)
        }
        unsetenv(ServiceSupervision.daemonChildVariable)
        if config.daemonize && config.pidFile.isEmpty && supervision == nil {
            config.pidFile = ServiceSupervision.defaultPidFile
        }
        if !config.dir.isEmpty && chdir(config.dir) != 0 {
            FileHandleWriter.stderr("Can't chdir to '\(config.dir)': \(String(cString: strerror(errno)))\n")
            return 1
        }
        let sink = LogSink(path: config.logFile)
        let level = RedisLogHandler.level(forRedis: config.logLevel)
        LoggingSystem.bootstrap { _ in RedisLogHandler(level: level, sink: sink) }
        var logger = Logger(label: "tern")
        logger.logLevel = level
        logger.notice("oO0OoO0OoO0Oo Tern is starting oO0OoO0OoO0Oo")
        logger.notice("Tern version=\(TernVersion.tern), redis_version=\(TernVersion.redisCompatible), pid=\(getpid()), just started")
        if let problem = supervision?.problem { logger.warning("\(problem)") }
        if let fit = ConfigRegistry.maxClientsThatFit(config.maxClients) {
            logger.warning("You requested maxclients of \(config.maxClients) requiring at least \(config.maxClients + 32) max file descriptors.")
            logger.warning("Current maximum open files is \(fit + 32). maxclients has been reduced to \(fit) to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.")
            config.maxClients = fit
        }
        if config.configFile.isEmpty {
            logger.warning("Warning: no config file specified, using the default config. In order to specify a config file use tern-server /path/to/tern.conf")
        }
        let app: TernServerApp
        do {
            app = try TernServerApp(config: config, logger: logger)
            try app.start()
        } catch {
            logger.warning("\(error)")
            return 1
        }
        if !config.pidFile.isEmpty {
            let text = "\(getpid())\n"
            if let f = fopen(config.pidFile, "w") { fputs(text, f); fclose(f) }
        }
        logger.notice("Server initialized (backend \(config.backend))")
        logger.notice("Ready to accept connections tcp")
        let group = ServiceGroup(configuration: .init(
            // SHUTDOWN makes the service return on its own: that ends the group normally.
            services: [.init(service: app, successTerminationBehavior: .gracefullyShutdownGroup),
                       // Readiness goes out once the group runs, when SIGTERM already means a clean shutdown.
                       .init(service: ReadinessAnnouncement(supervision: supervision, replica: !config.replicaOf.isEmpty,
                                                            logger: logger),
                             successTerminationBehavior: .ignore)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch {
            logger.warning("Server stopped with an error: \(error)")
        }
        supervision?.stopping()
        if !config.pidFile.isEmpty { unlink(config.pidFile) }
        return 0
    }
}

enum FileHandleWriter {
    static func stderr(_ text: String) {
        fputs(text, Glibc.stderr)
    }
}

/// `supervised upstart|systemd|auto` and `daemonize yes`, as Redis's redisIsSupervised / daemonize().
struct ServiceSupervision: Equatable {
    enum Mode: Equatable { case systemd(socket: String), upstart }
    let mode: Mode
    /// A warning for the log (supervision requested but its environment is missing), or nil.
    var problem: String?

    /// Set in the environment of the process `daemonize` starts.
    static let daemonChildVariable = "TERN_DAEMONIZED_CHILD"
    /// Redis's CONFIG_DEFAULT_PID_FILE, used when daemonized without a pidfile.
    static let defaultPidFile = "/var/run/redis.pid"

    /// The supervision in effect: `auto` picks upstart (UPSTART_JOB) or systemd (NOTIFY_SOCKET); an explicit
    /// mode whose variable is missing is not supervised (nil), as in Redis, and logs why.
    static func detect(_ setting: String) -> ServiceSupervision? {
        var setting = setting
        if setting == "auto" {
            if getenv("UPSTART_JOB") != nil { setting = "upstart" }
            else if getenv("NOTIFY_SOCKET") != nil { setting = "systemd" }
        }
        switch setting {
        case "upstart":
            guard getenv("UPSTART_JOB") != nil else {
                FileHandleWriter.stderr("upstart supervision requested, but UPSTART_JOB not found!\n")
                return nil
            }
            return ServiceSupervision(mode: .upstart)
        case "systemd":
            guard let socket = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }), !socket.isEmpty else {
                FileHandleWriter.stderr("systemd supervision requested or auto-detected, but NOTIFY_SOCKET environment variable not found!\n")
                return nil
            }
            let supervision = ServiceSupervision(mode: .systemd(socket: socket))
            supervision.notify("STATUS=Redis is loading...\n")
            return supervision
        default:
            return nil
        }
    }

    /// Serving: systemd gets READY=1 with Redis's STATUS line; upstart (`expect stop`) sees the process stop.
    func ready(replica: Bool, logger: Logger) {
        switch mode {
        case .systemd:
            logger.notice("Supervised by systemd. Please make sure you set appropriate values for TimeoutStartSec and TimeoutStopSec in your service unit.")
            notify(replica ? "STATUS=Ready to accept connections in read-write mode. Waiting for MASTER <-> REPLICA sync\n"
                           : "STATUS=Ready to accept connections\n")
            notify("READY=1\n")
        case .upstart:
            logger.notice("supervised by upstart, will stop to signal readiness.")
            raise(SIGSTOP)
            unsetenv("UPSTART_JOB")
        }
    }

    func stopping() { notify("STOPPING=1\n") }

    /// sd_notify: one datagram to $NOTIFY_SOCKET (a leading '@' names an abstract socket).
    func notify(_ message: String) {
        guard case .systemd(let path) = mode else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        let payload = Array(message.utf8)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa, length) }
            }
        }
    }

    /// Starts this program again in a new session with stdin/stdout/stderr on /dev/null and returns the
    /// parent's exit status (0, as Redis's parent exits at once; 1 when the child couldn't be started).
    static func daemonize(arguments: [String], importPath: String?) -> Int32 {
        var argv = [CommandLine.arguments.first ?? "tern-server"] + arguments
        if let importPath { argv += ["--import", importPath] }
        setenv(daemonChildVariable, "1", 1)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(0x80))  // POSIX_SPAWN_SETSID: setsid() in the child
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in 0...2 {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_RDWR, 0)
        }
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for p in cArguments { free(p) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, "/proc/self/exe", &actions, &attributes, &cArguments, environ)
        if status != 0 {
            FileHandleWriter.stderr("Can't daemonize: \(String(cString: strerror(status)))\n")
            return 1
        }
        return 0
    }
}

/// Tells the service manager the server is ready, from inside the running service group.
struct ReadinessAnnouncement: Service {
    let supervision: ServiceSupervision?
    let replica: Bool
    let logger: Logger

    func run() async throws {
        supervision?.ready(replica: replica, logger: logger)
        try? await gracefulShutdown()
    }
}
