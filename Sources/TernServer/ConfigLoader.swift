import TernCore

/// Builds the configuration from a redis.conf-style file and command-line directives.
public enum ConfigLoader {
    public static func load(arguments: [String]) throws -> ServerConfig {
        let config = ServerConfig()
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a == "--port", i + 1 < arguments.count, let p = Int(arguments[i + 1]) { config.port = p; i += 2; continue }
            i += 1
        }
        return config
    }
}
