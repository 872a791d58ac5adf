import TernCore
import TernPluginAPI
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opens a plugin built as a shared object. The library must export `tern_plugin_abi` and `tern_plugin_create`
/// (see `PluginABI`), and its stamp (API version and compiler) must equal the server's own: there is no stable
/// Swift ABI on Linux, so anything else is refused before any of its Swift code runs.
///
/// Libraries are never closed: the Swift runtime keeps pointers into a loaded image's metadata.
enum DynamicPluginLoader {
    typealias StampFunction = @convention(c) (UnsafeMutablePointer<UInt8>, Int) -> Int
    typealias CreateFunction = @convention(c) () -> UnsafeMutableRawPointer

    static func open(_ path: String) throws -> TernPlugin {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw ModuleError(dlerror().map { String(cString: $0) } ?? "\(path): cannot be loaded")
        }
        guard let stampSymbol = dlsym(handle, "tern_plugin_abi") else {
            throw ModuleError("\(path) is not a Tern plugin (it exports no tern_plugin_abi)")
        }
        let theirs = stamp(of: unsafeBitCast(stampSymbol, to: StampFunction.self))
        let ours = PluginABI.stamp
        guard theirs == ours else {
            throw ModuleError("\(path) was built for \(theirs), but this server is \(ours): rebuild the plugin with the server's toolchain against its Plugins/TernPluginAPI")
        }
        guard let createSymbol = dlsym(handle, "tern_plugin_create") else {
            throw ModuleError("\(path) is not a Tern plugin (it exports no tern_plugin_create)")
        }
        let create = unsafeBitCast(createSymbol, to: CreateFunction.self)
        return PluginABI.adopt(create())
    }

    static func stamp(of function: StampFunction) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let length = buffer.withUnsafeMutableBufferPointer { function($0.baseAddress!, $0.count) }
        return String(decoding: buffer.prefix(max(0, min(length, buffer.count))), as: UTF8.self)
    }
}
