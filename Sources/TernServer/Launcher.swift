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
            services: [.init(service: app, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch {
            logger.warning("Server stopped with an error: \(error)")
        }
        if !config.pidFile.isEmpty { unlink(config.pidFile) }
        return 0
    }
}

enum FileHandleWriter {
    static func stderr(_ text: String) {
        fputs(text, Glibc.stderr)
    }
}
