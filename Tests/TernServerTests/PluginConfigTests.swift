import TernCore
import TernServer
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `loadplugin`, `loadmodule` and `enable-module-command` in the config file and on the command line.
final class PluginConfigTests: XCTestCase {
    func parse(_ text: String) throws -> ServerConfig {
        let parser = ConfigFileParser()
        try parser.load(string: text, origin: .file("test.conf"), checkLogFile: false)
        return parser.config
    }

    func testLoadLinesAreKeptInOrderWithTheirArguments() throws {
        let c = try parse("loadplugin ratelimit\nloadmodule /opt/libA.so 1 \"two words\"\nLOADPLUGIN keyevents user:\n")
        XCTAssertEqual(c.loadPlugins, [["ratelimit"], ["keyevents", "user:"]])
        XCTAssertEqual(c.loadModules, [["/opt/libA.so", "1", "two words"]])
        XCTAssertEqual(c.enableModuleCommand, "no")
    }

    func testCommandLineFormAndErrors() throws {
        let c = try ConfigLoader.load(arguments: ["--loadplugin", "ratelimit", "--loadmodule", "/x.so", "a",
                                                  "--enable-module-command", "local"], readStandardInput: { "" })
        XCTAssertEqual(c.loadPlugins, [["ratelimit"]])
        XCTAssertEqual(c.loadModules, [["/x.so", "a"]])
        XCTAssertEqual(c.enableModuleCommand, "local")
        XCTAssertThrowsError(try parse("loadplugin\n")) { error in
            XCTAssertEqual((error as? ConfigFileError)?.reason, "Bad directive or wrong number of arguments")
        }
        XCTAssertThrowsError(try parse("enable-module-command maybe\n")) { error in
            XCTAssertEqual((error as? ConfigFileError)?.line, 1)
        }
    }

    func testRewriteKeepsTheLoadLines() throws {
        let path = "/tmp/tern-plugin-config-\(getpid()).conf"
        defer { unlink(path) }
        let f = fopen(path, "w")!
        fputs("loadplugin ratelimit\nport 7000\nloadmodule /x.so\n", f)
        fclose(f)
        let c = try ConfigLoader.load(arguments: [path], readStandardInput: { "" })
        c.port = 7001
        try ConfigRegistry.rewriteFile(path: path, config: c)
        let text = String(decoding: try FileIO.read(path).get(), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("loadplugin ratelimit\nport 7001\nloadmodule /x.so\n"), text)
    }
}
