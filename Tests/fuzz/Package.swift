// swift-tools-version:6.0
import PackageDescription

// libFuzzer harnesses, in a package of their own (a harness without `main` can't live in the root package).
// Build and run (see README.md):
//   swift build -c release --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address
//   SWIFT_BACKTRACE=enable=no .build/release/FuzzRESP -max_total_time=60
//   SWIFT_BACKTRACE=enable=no .build/release/FuzzRDB -max_total_time=60 -rss_limit_mb=1024 corpus/rdb
let package = Package(
    name: "TernFuzz",
    dependencies: [
        .package(name: "Tern", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "FuzzRESP",
            dependencies: [.product(name: "RESP", package: "Tern")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        // The server's own RDB codec (the TernRDB target): it builds without NIO and the rest of the server.
        .executableTarget(
            name: "FuzzRDB",
            dependencies: [
                .product(name: "TernRDB", package: "Tern"),
                .product(name: "TernStorage", package: "Tern"),
            ],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ],
    swiftLanguageModes: [.v5]
)
