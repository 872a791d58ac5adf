import RESP
import TernCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A configuration that can't be loaded. `description` is the whole text printed before exiting:
/// Redis's "*** FATAL CONFIG FILE ERROR ***" block (plus where the line came from), or Redis's
/// "Fatal error, can't open config file" line.
public struct ConfigFileError: Error, CustomStringConvertible, Equatable {
    public var description: String
    /// The line number as Redis reports it (0 when the error isn't about one line).
    public var line: Int
    /// The reason alone ("Bad directive or wrong number of arguments", ...).
    public var reason: String

    public init(description: String, line: Int = 0, reason: String) {
        self.description = description
        self.line = line
        self.reason = reason
    }
}

/// Where the lines of one configuration text came from, for error messages: segments starting at a line.
public struct ConfigTextOrigin {
    public var segments: [(firstLine: Int, source: String)]
    public init(_ segments: [(firstLine: Int, source: String)]) { self.segments = segments }
    public static func file(_ path: String) -> ConfigTextOrigin { ConfigTextOrigin([(1, path)]) }

    func describe(line: Int) -> String? {
        guard let segment = segments.last(where: { $0.firstLine <= line }) else { return nil }
        return "(in \(segment.source), line \(line - segment.firstLine + 1))"
    }
}

/// Redis's loadServerConfigFromString: one directive a line, `#` comments, sdssplitargs quoting,
/// case-insensitive names, `include` (files or globs, relative to the working directory the config has
/// set so far) and `rename-command`, stopping at the first error.
public final class ConfigFileParser {
    public let config: ServerConfig
    /// Renames are checked against this table as Redis checks them against its command table.
    private let commands: CommandTable
    private var includeDepth = 0

    public init(config: ServerConfig = ServerConfig(), commands: CommandTable = BuiltinCommands.table()) {
        self.config = config
        self.commands = commands
    }

    /// The directory relative paths resolve against: the `dir` set so far, else the process's.
    var workingDirectory: String { config.dir.isEmpty ? ConfigRegistry.currentDirectory() : config.dir }

    /// Parses one configuration text into `config`.
    public func load(string text: String, origin: ConfigTextOrigin, checkLogFile: Bool = true) throws {
        let lines = text.utf8.split(separator: 10, omittingEmptySubsequences: false)
        let outer = config.readingConfigFile  // an include reads its file inside the including one
        config.readingConfigFile = true
        defer { config.readingConfigFile = outer }
        for (index, raw) in lines.enumerated() {
            let number = index + 1
            let line = ConfigRegistry.trim(raw)
            if line.isEmpty || line.hasPrefix("#") { continue }
            func fail(_ reason: String) -> ConfigFileError {
                var text = "*** FATAL CONFIG FILE ERROR (Redis \(TernVersion.redisCompatible)) ***\n"
                text += "Reading the configuration file, at line \(number)\n"
                text += ">>> '\(line)'\n"
                text += reason
                if let place = origin.describe(line: number) { text += "\n" + place }
                return ConfigFileError(description: text, line: number, reason: reason)
            }
            guard let words = split(line) else { throw fail("Unbalanced quotes in configuration line") }
            if words.isEmpty { continue }
            let name = words[0].lowercased()
            if let directive = ConfigRegistry.lookup(name) {
                if !directive.multiArg && words.count != 2 { throw fail("wrong number of arguments") }
                var arguments = Array(words.dropFirst())
                if directive.multiArg && words.count == 2 && !words[1].isEmpty {
                    // `--bind "a b"`: one argument holding several.
                    arguments = split(words[1]) ?? []
                }
                do {
                    try directive.set(config, arguments)
                } catch let e as ConfigValueError {
                    throw fail(e.reason)
                }
                continue
            }
            if name == "include" && words.count == 2 {
                try include(words[1])
            } else if name == "rename-command" && words.count == 3 {
                let (old, new) = (words[1], words[2])
                guard commands.lookup(old) != nil else { throw fail("No such command in rename-command") }
                if !new.isEmpty && new.lowercased() != old.lowercased() && commands.lookup(new) != nil {
                    throw fail("Target command name already exists")
                }
                _ = commands.rename(old, to: new)
                config.renamedCommands.append((from: old, to: new))
            } else if name == "user" && words.count >= 2 {
                // Validated now, installed once plugins are loaded (Redis's ACLAppendUserForLoading).
                let rules = Array(words.dropFirst())
                if config.userLines.contains(where: { $0.first == rules[0] }) {
                    throw fail("Error in user declaration '\(rules[0])': Duplicate user found. A user can only be defined once in config files")
                }
                if let problem = AccessControl.validateUserLine(rules, table: commands,
                                                                pubsubDefaultAll: config.aclPubsubDefault == "allchannels") {
                    throw fail(problem)
                }
                config.userLines.append(rules)
            } else if (name == "loadmodule" || name == "loadplugin") && words.count >= 2 {
                // Loaded once the server is set up, in order (as Redis queues loadmodule).
                if name == "loadmodule" { config.loadModules.append(Array(words.dropFirst())) }
                else { config.loadPlugins.append(Array(words.dropFirst())) }
            } else {
                throw fail("Bad directive or wrong number of arguments")
            }
        }
        if checkLogFile && !config.logFile.isEmpty {
            let path = FileIO.absolute(config.logFile, base: workingDirectory)
            guard let f = fopen(path, "a") else {
                let reason = "Can't open the log file: \(String(cString: strerror(errno)))"
                throw ConfigFileError(
                    description: "*** FATAL CONFIG FILE ERROR (Redis \(TernVersion.redisCompatible)) ***\n\(reason)",
                    reason: reason)
            }
            fclose(f)
        }
    }

    /// `include path`: the file (or every file a glob matches, none being fine) parsed in place.
    func include(_ path: String) throws {
        includeDepth += 1
        defer { includeDepth -= 1 }
        if includeDepth > 32 {
            throw ConfigFileError(description: "Fatal error, too many nested includes at '\(path)'",
                                  reason: "too many nested includes")
        }
        for (file, text) in try Self.read(path, base: workingDirectory) {
            try load(string: text, origin: .file(file), checkLogFile: false)
        }
    }

    /// Redis's loadServerConfig file reading: a glob pattern reads every match in order (no match: nothing),
    /// a plain path must open. Returns (absolute path, content) pairs.
    static func read(_ path: String, base: String) throws -> [(String, String)] {
        let absolute = FileIO.absolute(path, base: base)
        if path.contains(where: { $0 == "*" || $0 == "?" || $0 == "[" }) {
            var matches = glob_t()
            defer { globfree(&matches) }
            guard glob(absolute, 0, nil, &matches) == 0 else { return [] }
            var result: [(String, String)] = []
            for i in 0..<Int(matches.gl_pathc) {
                guard let p = matches.gl_pathv[i] else { continue }
                let file = String(cString: p)
                result.append((file, try readOne(file, shown: file)))
            }
            return result
        }
        return [(absolute, try readOne(absolute, shown: path))]
    }

    static func readOne(_ path: String, shown: String) throws -> String {
        switch FileIO.read(path) {
        case .success(let bytes):
            return String(decoding: bytes, as: UTF8.self)
        case .failure(let error):
            let reason = String(cString: strerror(error.code))
            throw ConfigFileError(description: "Fatal error, can't open config file '\(shown)': \(reason)",
                                  reason: reason)
        }
    }

    func split(_ line: String) -> [String]? {
        InlineSplitter.split(Array(line.utf8)).map { $0.map { String(decoding: $0, as: UTF8.self) } }
    }
}
