import CLua
import CLuaSupport
import XCTest
@testable import TernScripting

/// cmsgpack and struct produce the bytes a stock Redis 7.0's scripts produce (captured from redis-server
/// 7.0.15 with the same scripts), and read them back.
final class LuaModulesTests: XCTestCase {
    var L: OpaquePointer!

    override func setUp() {
        L = luaL_newstate()
        tern_lua_open_libraries(L)
    }

    override func tearDown() { lua_close(L) }

    /// Runs a chunk and returns its first result as bytes (nil for an error).
    func bytes(_ chunk: String) -> [UInt8]? {
        XCTAssertEqual(luaL_loadstring(L, chunk), 0, chunk)
        guard lua_pcall(L, 0, 1, 0) == 0 else {
            lua_settop(L, 0)
            return nil
        }
        var length = 0
        let p = tern_lua_tostring(L, -1, &length)
        defer { lua_settop(L, 0) }
        return p.map { Array(UnsafeRawBufferPointer(start: $0, count: length)) }
    }

    func hex(_ b: [UInt8]?) -> String { (b ?? []).map { String(format: "%02x", $0) }.joined() }

    func testCmsgpackPackMatchesRedis() {
        XCTAssertEqual(hex(bytes("return cmsgpack.pack({1, 2, {a=1}}, 1.5, 'x', -1000, 70000, 3000000000, -3000000000)")),
                       "93010281a16101ca3fc00000a178d1fc18ce00011170ceb2d05e00d3ffffffff4d2fa200")
        XCTAssertEqual(hex(bytes("return cmsgpack.pack(string.rep('a', 40), true, false, nil, 0.1, -1, -33, -200, {})")),
                       "d928" + String(repeating: "61", count: 40) + "c3c2c0cb3fb999999999999affd0dfd1ff3890")
    }

    func testCmsgpackRoundTripsAndErrors() {
        XCTAssertEqual(hex(bytes("local a, b, c = cmsgpack.unpack(cmsgpack.pack('x', 70000, {1, {k='v'}})) return a .. b .. c[2].k")),
                       hex(Array("x70000v".utf8)))
        XCTAssertEqual(hex(bytes("local o, v = cmsgpack.unpack_one(cmsgpack.pack(5, 6)) return o .. ':' .. v")), hex(Array("1:5".utf8)))
        XCTAssertNil(bytes("return cmsgpack.unpack('\\220')"))   // array16 without its length
        XCTAssertNil(bytes("return cmsgpack.unpack('\\193')"))   // 0xc1 is no type
        // A table that contains itself is cut at 16 levels (nil below), not followed forever.
        XCTAssertNotNil(bytes("local t = {} t[1] = t return cmsgpack.pack(t)"))
    }

    func testStructMatchesRedis() {
        XCTAssertEqual(hex(bytes("return struct.pack('>i2<I4!4d', -2, 7, 1.5)")), "fffe070000000000000000000000f83f")
        XCTAssertEqual(hex(bytes("return struct.pack('bBhHlLi8I3c3s', -1, 255, -300, 60000, -5, 5, -7, 70000, 'abcdef', 'zz')")),
                       "ffffd4fe60eafbffffffffffffff0500000000000000f9ffffffffffffff7011016162637a7a00")
        XCTAssertEqual(hex(bytes("local a, b, n = struct.unpack('>i2<I4', struct.pack('>i2<I4', -2, 7)) return a .. ',' .. b .. ',' .. n")),
                       hex(Array("-2,7,7".utf8)))
        XCTAssertEqual(hex(bytes("return tostring(struct.size('>i2I4!8d'))")), hex(Array("16".utf8)))
        XCTAssertNil(bytes("return struct.size('s')"))
        XCTAssertNil(bytes("return struct.unpack('i4', 'ab')"))
    }

    func testShebangFlags() throws {
        let (flags, length) = try ScriptFlags.parse(Array("#!lua flags=no-writes,allow-oom\nreturn 1".utf8)).get()
        XCTAssertEqual(flags, [.noWrites, .allowOOM])
        XCTAssertEqual(length, 31)
        XCTAssertEqual(try ScriptFlags.parse(Array("return 1".utf8)).get().0, .evalCompat)
        XCTAssertThrowsError(try ScriptFlags.parse(Array("#!lua flags=bogus\n".utf8)).get())
        XCTAssertThrowsError(try ScriptFlags.parse(Array("#!lua".utf8)).get())
    }
}
