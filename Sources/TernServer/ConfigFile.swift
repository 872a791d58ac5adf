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
            if let count = ConfigRegistry.deprecatedDirectives[name], words.count == count {
                continue  // read and ignored, as Redis 7.0 does
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
            } else if (name == "loadmodule" || name == "loadplugin") && words.count >= 2 {
                // Loaded once the server is set up, in order (as Redis queues loadmodule).
                if name == "loadmodule" { config.loadModules.append(Array(words.dropFirst())) }
                else { config.loadPlugins.append(Array(words.dropFirst())) }
            } else if name == "sentinel" {
                // A lone "sentinel" asks redis-server for sentinel mode (main() handles it); Tern is no sentinel.
                if words.count != 1 { throw fail("sentinel directive while not in sentinel mode") }
            } else if name == "user" && words.count >= 2 {
                if let problem = DefaultUserLine.apply(Array(words.dropFirst()), to: config) {
                    throw fail("Error in user declaration '\(words[1])': \(problem)")
                }
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

/// A `user` line. Tern has the default user only, with or without requirepass; the line stock Redis's CONFIG
/// REWRITE writes for it ("user default on nopass ~* &* +@all", or "#<sha256 of requirepass>" instead of
/// nopass) is read, and anything that would make another user or restrict this one is refused.
enum DefaultUserLine {
    static let unrestricted: Set<String> = ["on", "~*", "&*", "+@all", "allkeys", "allchannels", "allcommands"]

    /// nil when the line describes the default user Tern has; else why it can't be honoured.
    static func apply(_ words: [String], to config: ServerConfig) -> String? {
        let refusal = "ACL users are not supported by Tern (it has the default user only: use requirepass)"
        guard words.first == "default" else { return refusal }
        var password: String? = nil
        var hash: String? = nil
        var sawNopass = false
        for rule in words.dropFirst() {
            if unrestricted.contains(rule) { continue }
            if rule == "nopass" { sawNopass = true; continue }
            if rule.hasPrefix(">") && password == nil { password = String(rule.dropFirst()); continue }
            if rule.hasPrefix("#") && hash == nil { hash = String(rule.dropFirst()).lowercased(); continue }
            return refusal
        }
        guard words.contains("on"), words.contains("~*") || words.contains("allkeys"),
              words.contains("+@all") || words.contains("allcommands"),
              words.contains("&*") || words.contains("allchannels") else { return refusal }
        switch (sawNopass, password, hash) {
        case (true, nil, nil):
            return config.requirePass.isEmpty ? nil : "nopass contradicts requirepass"
        case (false, let p?, nil):
            if !config.requirePass.isEmpty && config.requirePass != p { return "the password differs from requirepass" }
            config.requirePass = p
            return nil
        case (false, nil, let h?):
            return !config.requirePass.isEmpty && SHA256.hex(Array(config.requirePass.utf8)) == h ? nil
                : "a password hash Tern can't check (set requirepass to the password before this line)"
        default:
            return refusal
        }
    }
}

/// SHA-256 (FIPS 180-4), for the password hashes of `user` lines.
enum SHA256 {
    static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    static func hex(_ message: [UInt8]) -> String {
        var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        var data = message + [0x80]
        while data.count % 64 != 56 { data.append(0) }
        let bits = UInt64(message.count) * 8
        for i in (0..<8).reversed() { data.append(UInt8(truncatingIfNeeded: bits >> (UInt64(i) * 8))) }
        func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
        var w = [UInt32](repeating: 0, count: 64)
        for chunk in stride(from: 0, to: data.count, by: 64) {
            for i in 0..<16 {
                w[i] = (0..<4).reduce(0) { $0 << 8 | UInt32(data[chunk + i * 4 + $1]) }
            }
            for i in 16..<64 {
                let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
                let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
            for i in 0..<64 {
                let t1 = hh &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ ((e & f) ^ (~e & g)) &+ k[i] &+ w[i]
                let t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ ((a & b) ^ (a & c) ^ (b & c))
                (hh, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
            }
            for (i, v) in [a, b, c, d, e, f, g, hh].enumerated() { h[i] = h[i] &+ v }
        }
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for v in h { for shift in stride(from: 28, through: 0, by: -4) { out.append(digits[Int((v >> UInt32(shift)) & 0xf)]) } }
        return String(decoding: out, as: UTF8.self)
    }
}
