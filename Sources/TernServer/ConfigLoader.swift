import RESP
import TernCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds the configuration from redis-server's command line: `[/path/to/tern.conf] [--directive value ...] [-]`.
public enum ConfigLoader {
    /// What the command line asks for before any configuration is read.
    public enum Action: Equatable {
        case run
        case version
        case help
    }

    /// `-v`/`--version` and `-h`/`--help` count only as the first argument, as in redis-server.
    public static func action(arguments: [String]) -> Action {
        guard let first = arguments.first else { return .run }
        if first == "-v" || first == "--version" { return .version }
        if first == "-h" || first == "--help" { return .help }
        return .run
    }

    public static var versionLine: String {
        "Tern server v=\(TernVersion.tern) redis_version=\(TernVersion.redisCompatible) bits=\(MemoryLayout<Int>.size * 8)"
    }

    public static let usage = """
        Usage: ./tern-server [/path/to/tern.conf] [options] [-]
               ./tern-server - (read config from stdin)
               ./tern-server -v or --version
               ./tern-server -h or --help

        Examples:
               ./tern-server (run the server with default conf)
               echo 'maxmemory 128mb' | ./tern-server -
               ./tern-server /etc/tern/6379.conf
               ./tern-server --port 7777
               ./tern-server --port 7777 --replicaof 127.0.0.1 8888
               ./tern-server /etc/mytern.conf --loglevel verbose -
               ./tern-server /etc/mytern.conf --loglevel verbose

        """

    /// The command line split as redis-server's main() does: the config file (when the first argument
    /// doesn't start with '-'), whether to read stdin (a lone '-' first or last), and the directives,
    /// each `--name` starting a line and following words quoted as its arguments.
    public struct CommandLine: Equatable {
        public var configFile: String?
        public var readStdin = false
        public var options = ""
    }

    public static func parse(arguments: [String]) -> CommandLine {
        var line = CommandLine()
        var j = 0
        if let first = arguments.first, !first.hasPrefix("-") {
            line.configFile = first
            j = 1
        }
        var handledLastConfigArgument = true
        let count = arguments.count
        while j < count {
            let a = arguments[j]
            if a == "-" && (j == 0 || j == count - 1) {
                line.readStdin = true
            } else if handledLastConfigArgument && a.hasPrefix("--") {
                if !line.options.isEmpty { line.options += "\n" }
                line.options += String(a.dropFirst(2)) + " "
                let words = InlineSplitter.split(Array(a.utf8))?.count ?? 0
                if words == 1 {
                    // Only the name ("--port"): the next words are its arguments.
                    handledLastConfigArgument = false
                    let nextIsOption = j != count - 1 && arguments[j + 1].hasPrefix("--")
                    if nextIsOption && a.lowercased() == "--save" {
                        line.options += "\"\""
                        handledLastConfigArgument = true
                    } else if j == count - 1 && a.lowercased() == "--save" {
                        line.options += "\"\""
                    }
                } else {
                    // "--port 6380" as one argument: name and value together.
                    handledLastConfigArgument = true
                }
            } else {
                line.options += ConfigRegistry.quoted(a) + " "
                handledLastConfigArgument = true
            }
            j += 1
        }
        return line
    }

    /// Reads the file, stdin and command-line directives (in that order: the last setting wins) into a
    /// configuration. `config.configFile` is the file's absolute path; `config.renamedCommands` holds the
    /// `rename-command` pairs for the server to apply. Throws `ConfigFileError`.
    public static func load(arguments: [String], commands: CommandTable = BuiltinCommands.table(),
                            readStandardInput: () -> String = ConfigLoader.readStandardInput) throws -> ServerConfig {
        let config = ServerConfig()
        guard !arguments.isEmpty else { return config }
        let line = parse(arguments: arguments)
        let cwd = ConfigRegistry.currentDirectory()
        var text = ""
        var segments: [(firstLine: Int, source: String)] = []
        func lineCount(_ s: String) -> Int { s.utf8.reduce(0) { $0 + ($1 == 10 ? 1 : 0) } }
        if let file = line.configFile {
            let absolute = FileIO.absolute(file, base: cwd)
            config.configFile = absolute
            for (path, content) in try ConfigFileParser.read(absolute, base: cwd) {
                segments.append((lineCount(text) + 1, path))
                text += content
            }
        }
        if line.readStdin {
            segments.append((lineCount(text) + 1, "standard input"))
            text += readStandardInput()
        }
        text += "\n"
        segments.append((lineCount(text) + 1, "the command-line arguments"))
        text += line.options
        let parser = ConfigFileParser(config: config, commands: commands)
        try parser.load(string: text, origin: ConfigTextOrigin(segments))
        return config
    }

    public static func readStandardInput() -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, stdin)
            if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
            if n < chunk.count { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
