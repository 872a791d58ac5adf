import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// swift-log handler writing Redis's log line format: `pid:role dd Mon yyyy hh:mm:ss.mmm <level> message`
/// with levels `.` debug, `-` verbose, `*` notice, `#` warning. Writes to stdout or to `logfile`.
public struct RedisLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let sink: LogSink
    /// Role letter: M master, S replica. Shared so a role change shows in later lines.
    public static var role: Character = "M"

    public init(level: Logger.Level, sink: LogSink) {
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?,
                    source: String, file: String, function: String, line: UInt) {
        let mark: Character
        switch level {
        case .trace, .debug: mark = "."
        case .info: mark = "-"
        case .notice: mark = "*"
        default: mark = "#"
        }
        sink.write("\(getpid()):\(RedisLogHandler.role) \(RedisLogHandler.timestamp()) \(mark) \(message)\n")
    }

    static func timestamp() -> String {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var t = time_t(tv.tv_sec)
        var parts = tm()
        localtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%d %b %Y %H:%M:%S", &parts)
        let base = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let millis = Int(tv.tv_usec) / 1000
        return base + "." + (millis < 10 ? "00" : millis < 100 ? "0" : "") + String(millis)
    }

    /// Redis `loglevel` -> swift-log level.
    public static func level(forRedis name: String) -> Logger.Level {
        switch name.lowercased() {
        case "debug": return .debug
        case "verbose": return .info
        case "notice": return .notice
        case "warning": return .warning
        case "nothing": return .critical
        default: return .notice
        }
    }
}

/// Where log lines go: standard output or an appended file. A plain file descriptor, not an object: the
/// handler is copied on the command thread, whose modules use non-atomic reference counting, and on
/// other threads, so it must hold nothing reference-counted.
public struct LogSink: Sendable {
    private let fd: Int32
    public init(path: String) {
        if path.isEmpty {
            fd = STDOUT_FILENO
        } else {
            let opened = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            fd = opened >= 0 ? opened : STDOUT_FILENO
        }
    }
    public static let stdout = LogSink(path: "")
    func write(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 { break }
                offset += n
            }
        }
    }
}
