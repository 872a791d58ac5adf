// swift-tools-version:6.0
import PackageDescription

// Exclusivity is checked statically; the dynamic checks cost ~10% of a command on the hot path.
let fast: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"])]
// The modules whose objects live on the one command thread (the event loop that owns the keyspace) also
// use non-atomic reference counting: atomic retain/release was the largest single cost per command.
// Rule that keeps this sound: objects of these modules are never retained or released by another thread
// while the command thread uses them (see "Threading" in README.md).
let commandThread: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked", "-Xfrontend", "-assume-single-threaded"])]

let package = Package(
    name: "Tern",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "tern-server", targets: ["tern-server"]),
        .library(name: "TernCore", targets: ["TernCore"]),
        .library(name: "RESP", targets: ["RESP"]),
        .library(name: "TernStorage", targets: ["TernStorage"]),
        .library(name: "TernMemory", targets: ["TernMemory"]),
        .library(name: "TernLMDB", targets: ["TernLMDB"]),
        // The RDB codec alone (the fuzz package builds it without NIO and the server).
        .library(name: "TernRDB", targets: ["TernRDB"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // SHA-256 for ACL password hashes.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // TLS listener and TLS replication (BoringSSL).
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // The public plugin API: a dynamic library in a package of its own (see Plugins/README.md).
        .package(path: "Plugins/TernPluginAPI"),
    ],
    targets: [
        // RESP2/RESP3 wire codec: request decoder (zero-copy slices) and reply writer.
        .target(name: "RESP", dependencies: [.product(name: "NIOCore", package: "swift-nio")], swiftSettings: commandThread),
        // The storage protocol: value kinds, engines, databases, snapshots. Imports no backend.
        .target(name: "TernStorage", dependencies: [.product(name: "DequeModule", package: "swift-collections")], swiftSettings: commandThread),
        // One behavioural suite every backend must pass (called from each backend's tests).
        .target(name: "TernStorageConformance", dependencies: ["TernStorage"]),
        // The in-memory backend (persistent hash tries: O(1) snapshots).
        .target(name: "TernMemory", dependencies: [
            "TernStorage",
            .product(name: "HashTreeCollections", package: "swift-collections"),
            .product(name: "DequeModule", package: "swift-collections"),
        ], swiftSettings: commandThread),
        // Command table, dispatcher, client state, keyspace operations, built-in commands.
        .target(name: "TernCore", dependencies: [
            "RESP", "TernStorage",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: commandThread),
        // Redis's RDB format (version 10, reading older and 11): reader, writer, CRC-64, DUMP payloads.
        .target(name: "TernRDB", dependencies: [
            "TernStorage", .product(name: "DequeModule", package: "swift-collections"),
        ], swiftSettings: commandThread),
        // Replication (backlog, REPLCONF/PSYNC, the replica side) and RDB persistence and commands; the core
        // knows it only through its propagation hook and the storage snapshot producer.
        .target(name: "TernReplication", dependencies: [
            "TernCore", "TernStorage", "TernRDB", "RESP",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: commandThread),
        // The plugin host: loads plugins (linked or shared objects) into the command table (MODULE, loadplugin).
        .target(name: "TernPlugins", dependencies: [
            "TernCore", "TernStorage", "RateLimit", "KeyEvents",
            .product(name: "TernPluginAPI", package: "TernPluginAPI"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: commandThread),
        // Plugins linked into tern-server (Plugins/<Name>): they see only the plugin API.
        .target(name: "RateLimit", dependencies: [.product(name: "TernPluginAPI", package: "TernPluginAPI")],
                path: "Plugins/RateLimit"),
        .target(name: "KeyEvents", dependencies: [.product(name: "TernPluginAPI", package: "TernPluginAPI")],
                path: "Plugins/KeyEvents"),
        // NIO bootstrap, config loading, logging, lifecycle.
        .target(name: "TernServer", dependencies: [
            "TernCore", "TernMemory", "TernLMDB", "TernReplication", "TernRDB", "TernPlugins", "TernScripting", "RESP", "TernStorage",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], swiftSettings: fast),
        // LMDB system library (liblmdb-dev ships lmdb.pc).
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        // The durable backend: one LMDB environment, per-element encoding of collections.
        .target(name: "TernLMDB", dependencies: ["TernStorage", "CLMDB"], swiftSettings: fast),
        // Debian's Lua 5.1 with its cjson and bit modules (liblua5.1-0-dev, lua-cjson-dev, lua-bitop-dev).
        .systemLibrary(name: "CLua", pkgConfig: "lua5.1", providers: [.apt(["liblua5.1-0-dev", "lua-cjson-dev", "lua-bitop-dev"])]),
        // C glue for Lua: API macro wrappers, the library set, cmsgpack and struct, read-only tables.
        .target(name: "CLuaSupport", dependencies: ["CLua"]),
        // Lua scripting: the interpreter, EVAL/EVALSHA/SCRIPT, redis.* and the Lua <-> reply conversions.
        .target(name: "TernScripting", dependencies: [
            "TernCore", "TernRDB", "RESP", "CLua", "CLuaSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: commandThread),
        .executableTarget(name: "tern-server", dependencies: ["TernServer"]),

        // Test-only: the engine a command-level unit test runs on (TERN_TEST_ENGINE), see its README.
        .target(name: "TernTestSupport", dependencies: ["TernStorage", "TernMemory", "TernLMDB"], path: "Tests/TernTestSupport"),
        .testTarget(name: "RESPTests", dependencies: ["RESP", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "TernStorageTests", dependencies: ["TernStorage"]),
        .testTarget(name: "TernMemoryTests", dependencies: ["TernMemory", "TernStorage", "TernStorageConformance"]),
        .testTarget(name: "TernLMDBTests", dependencies: ["TernLMDB", "TernStorage", "TernStorageConformance"]),
        .testTarget(name: "TernCoreTests", dependencies: ["TernCore", "TernMemory", "TernTestSupport", "RESP", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "TernReplicationTests", dependencies: [
            "TernReplication", "TernRDB", "TernCore", "TernMemory", "TernStorage", "TernTestSupport", "RESP",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .testTarget(name: "TernPluginsTests", dependencies: [
            "TernPlugins", "TernCore", "TernMemory", "TernStorage", "TernTestSupport", "RESP", "RateLimit", "KeyEvents",
            .product(name: "TernPluginAPI", package: "TernPluginAPI"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .testTarget(name: "TernScriptingTests", dependencies: [
            "TernScripting", "TernCore", "TernMemory", "RESP", "CLua", "CLuaSupport",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .testTarget(name: "TernServerTests", dependencies: [
            "TernServer", "TernCore", "RESP",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
    ],
    swiftLanguageModes: [.v5]
)
