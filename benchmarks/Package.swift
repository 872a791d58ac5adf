// swift-tools-version:6.1
import PackageDescription

// In-process micro-benchmarks of the storage backends (ordo-one/benchmark). A package of its own so the
// benchmark plugin doesn't slow every build of the server. Run: `cd benchmarks && swift package benchmark`.
let package = Package(
    name: "TernBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "Tern", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "RESPBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "RESP", package: "Tern"),
            ],
            path: "Benchmarks/RESPBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "StorageBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "TernStorage", package: "Tern"),
                .product(name: "TernMemory", package: "Tern"),
                .product(name: "TernLMDB", package: "Tern"),
            ],
            path: "Benchmarks/StorageBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v5]
)
