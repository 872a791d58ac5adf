/// How a plugin built as a shared object is handed to the server, and the check that it was built by the same
/// toolchain from the same API: Swift has no stable ABI on Linux, so a plugin compiled by another compiler, or
/// against another version of this API, must be refused rather than called.
///
/// A dynamic plugin exports exactly two C symbols (only C types cross them):
///
///     @_cdecl("tern_plugin_abi")
///     public func ternPluginABI(_ buffer: UnsafeMutablePointer<UInt8>, _ capacity: Int) -> Int {
///         PluginABI.writeStamp(buffer, capacity)
///     }
///     @_cdecl("tern_plugin_create")
///     public func ternPluginCreate() -> UnsafeMutableRawPointer { PluginABI.export(MyPlugin()) }
public enum PluginABI {
    /// The API's version: bumped whenever a public declaration of this module changes.
    @_alwaysEmitIntoClient public static var apiVersion: Int { 1 }

    /// The version of the compiler that compiled the code calling this. `@_alwaysEmitIntoClient`: the body is
    /// compiled into the caller, so the server and a plugin each get their own compiler's answer.
    @_alwaysEmitIntoClient public static var compilerVersion: String {
        #if compiler(>=7.2.5)
        return "7.2.5"
        #elseif compiler(>=7.2.4)
        return "7.2.4"
        #elseif compiler(>=7.2.3)
        return "7.2.3"
        #elseif compiler(>=7.2.2)
        return "7.2.2"
        #elseif compiler(>=7.2.1)
        return "7.2.1"
        #elseif compiler(>=7.2)
        return "7.2"
        #elseif compiler(>=7.1.5)
        return "7.1.5"
        #elseif compiler(>=7.1.4)
        return "7.1.4"
        #elseif compiler(>=7.1.3)
        return "7.1.3"
        #elseif compiler(>=7.1.2)
        return "7.1.2"
        #elseif compiler(>=7.1.1)
        return "7.1.1"
        #elseif compiler(>=7.1)
        return "7.1"
        #elseif compiler(>=7.0.5)
        return "7.0.5"
        #elseif compiler(>=7.0.4)
        return "7.0.4"
        #elseif compiler(>=7.0.3)
        return "7.0.3"
        #elseif compiler(>=7.0.2)
        return "7.0.2"
        #elseif compiler(>=7.0.1)
        return "7.0.1"
        #elseif compiler(>=7.0)
        return "7.0"
        #elseif compiler(>=6.9.5)
        return "6.9.5"
        #elseif compiler(>=6.9.4)
        return "6.9.4"
        #elseif compiler(>=6.9.3)
        return "6.9.3"
        #elseif compiler(>=6.9.2)
        return "6.9.2"
        #elseif compiler(>=6.9.1)
        return "6.9.1"
        #elseif compiler(>=6.9)
        return "6.9"
        #elseif compiler(>=6.8.5)
        return "6.8.5"
        #elseif compiler(>=6.8.4)
        return "6.8.4"
        #elseif compiler(>=6.8.3)
        return "6.8.3"
        #elseif compiler(>=6.8.2)
        return "6.8.2"
        #elseif compiler(>=6.8.1)
        return "6.8.1"
        #elseif compiler(>=6.8)
        return "6.8"
        #elseif compiler(>=6.7.5)
        return "6.7.5"
        #elseif compiler(>=6.7.4)
        return "6.7.4"
        #elseif compiler(>=6.7.3)
        return "6.7.3"
        #elseif compiler(>=6.7.2)
        return "6.7.2"
        #elseif compiler(>=6.7.1)
        return "6.7.1"
        #elseif compiler(>=6.7)
        return "6.7"
        #elseif compiler(>=6.6.5)
        return "6.6.5"
        #elseif compiler(>=6.6.4)
        return "6.6.4"
        #elseif compiler(>=6.6.3)
        return "6.6.3"
        #elseif compiler(>=6.6.2)
        return "6.6.2"
        #elseif compiler(>=6.6.1)
        return "6.6.1"
        #elseif compiler(>=6.6)
        return "6.6"
        #elseif compiler(>=6.5.5)
        return "6.5.5"
        #elseif compiler(>=6.5.4)
        return "6.5.4"
        #elseif compiler(>=6.5.3)
        return "6.5.3"
        #elseif compiler(>=6.5.2)
        return "6.5.2"
        #elseif compiler(>=6.5.1)
        return "6.5.1"
        #elseif compiler(>=6.5)
        return "6.5"
        #elseif compiler(>=6.4.5)
        return "6.4.5"
        #elseif compiler(>=6.4.4)
        return "6.4.4"
        #elseif compiler(>=6.4.3)
        return "6.4.3"
        #elseif compiler(>=6.4.2)
        return "6.4.2"
        #elseif compiler(>=6.4.1)
        return "6.4.1"
        #elseif compiler(>=6.4)
        return "6.4"
        #elseif compiler(>=6.3.5)
        return "6.3.5"
        #elseif compiler(>=6.3.4)
        return "6.3.4"
        #elseif compiler(>=6.3.3)
        return "6.3.3"
        #elseif compiler(>=6.3.2)
        return "6.3.2"
        #elseif compiler(>=6.3.1)
        return "6.3.1"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2.5)
        return "6.2.5"
        #elseif compiler(>=6.2.4)
        return "6.2.4"
        #elseif compiler(>=6.2.3)
        return "6.2.3"
        #elseif compiler(>=6.2.2)
        return "6.2.2"
        #elseif compiler(>=6.2.1)
        return "6.2.1"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1.5)
        return "6.1.5"
        #elseif compiler(>=6.1.4)
        return "6.1.4"
        #elseif compiler(>=6.1.3)
        return "6.1.3"
        #elseif compiler(>=6.1.2)
        return "6.1.2"
        #elseif compiler(>=6.1.1)
        return "6.1.1"
        #elseif compiler(>=6.1)
        return "6.1"
        #elseif compiler(>=6.0.5)
        return "6.0.5"
        #elseif compiler(>=6.0.4)
        return "6.0.4"
        #elseif compiler(>=6.0.3)
        return "6.0.3"
        #elseif compiler(>=6.0.2)
        return "6.0.2"
        #elseif compiler(>=6.0.1)
        return "6.0.1"
        #elseif compiler(>=6.0)
        return "6.0"
        #elseif compiler(>=5.10.5)
        return "5.10.5"
        #elseif compiler(>=5.10.4)
        return "5.10.4"
        #elseif compiler(>=5.10.3)
        return "5.10.3"
        #elseif compiler(>=5.10.2)
        return "5.10.2"
        #elseif compiler(>=5.10.1)
        return "5.10.1"
        #elseif compiler(>=5.10)
        return "5.10"
        #elseif compiler(>=5.9.5)
        return "5.9.5"
        #elseif compiler(>=5.9.4)
        return "5.9.4"
        #elseif compiler(>=5.9.3)
        return "5.9.3"
        #elseif compiler(>=5.9.2)
        return "5.9.2"
        #elseif compiler(>=5.9.1)
        return "5.9.1"
        #elseif compiler(>=5.9)
        return "5.9"
        #else
        return "older than 5.9"
        #endif
    }

    /// "tern-plugin-api <version>; swift <compiler>", as compiled into the caller.
    @_alwaysEmitIntoClient public static var stamp: String {
        "tern-plugin-api \(apiVersion); swift \(compilerVersion)"
    }

    /// Copies the caller's stamp into `buffer` (at most `capacity` bytes); returns its full length.
    @_alwaysEmitIntoClient public static func writeStamp(_ buffer: UnsafeMutablePointer<UInt8>, _ capacity: Int) -> Int {
        let bytes = Array(stamp.utf8)
        for (i, b) in bytes.prefix(max(0, capacity)).enumerated() { buffer[i] = b }
        return bytes.count
    }

    /// Wraps a plugin for `tern_plugin_create`: the server takes ownership of the returned reference.
    public static func export(_ plugin: TernPlugin) -> UnsafeMutableRawPointer {
        Unmanaged.passRetained(PluginHandle(plugin)).toOpaque()
    }

    /// The server's side of `export`.
    public static func adopt(_ pointer: UnsafeMutableRawPointer) -> TernPlugin {
        Unmanaged<PluginHandle>.fromOpaque(pointer).takeRetainedValue().plugin
    }
}

/// The box a plugin crosses the C boundary in (a class of this shared library, so both sides agree on it).
public final class PluginHandle {
    public let plugin: TernPlugin
    public init(_ plugin: TernPlugin) { self.plugin = plugin }
}
