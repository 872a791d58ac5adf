// swift-tools-version:6.0
import PackageDescription

// A plugin built on its own as a shared object (libCappedList.so) and loaded at run time:
//   swift build --package-path Plugins/CappedList
//   tern-server --loadmodule "$PWD/Plugins/CappedList/.build/debug/libCappedList.so"   (or MODULE LOAD <path>)
// It depends on the plugin API package only; tern-server and this library then share that API's one
// dynamic library. Build it with the toolchain that built tern-server.
let package = Package(
    name: "CappedList",
    products: [
        .library(name: "CappedList", type: .dynamic, targets: ["CappedList"]),
    ],
    dependencies: [
        .package(path: "../TernPluginAPI"),
    ],
    targets: [
        .target(name: "CappedList", dependencies: [.product(name: "TernPluginAPI", package: "TernPluginAPI")]),
    ],
    swiftLanguageModes: [.v5]
)
