// swift-tools-version:6.0
import PackageDescription

// The public plugin API, in a package of its own so that it can be a *dynamic* library: tern-server and every
// plugin built as a shared object then share one copy of its types (a static copy on each side would give two
// sets of type metadata, and a plugin's conformances would not be seen by the server).
// Only standard-library types cross this boundary: NIO and the storage backends are linked statically into
// tern-server, so their types would be different types on each side.
let package = Package(
    name: "TernPluginAPI",
    products: [
        .library(name: "TernPluginAPI", type: .dynamic, targets: ["TernPluginAPI"]),
    ],
    targets: [
        .target(name: "TernPluginAPI"),
    ],
    swiftLanguageModes: [.v5]
)
