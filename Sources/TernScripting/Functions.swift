import CLua
import CLuaSupport
import NIOCore
import RESP
import TernCore

/// Redis 7 functions: libraries of Lua functions loaded with FUNCTION LOAD (`#!lua name=<lib>` and
/// `redis.register_function`), run with FCALL / FCALL_RO. They live in an interpreter of their own, as in
/// Redis (SCRIPT FLUSH keeps them, FUNCTION FLUSH keeps the scripts).
final class FunctionLibrary {
    struct Function {
        let name: String
        let description: String?
        let flags: ScriptFlags
        let runnable: CachedScript
    }

    struct Library {
        let name: String
        let code: [UInt8]
        var functions: [Function]
    }

    let interpreter: LuaInterpreter
    private(set) var libraries: [String: Library] = [:]
    private(set) var functions: [String: Function] = [:]
    /// The library being loaded: what `redis.register_function` adds to.
    fileprivate var loading: Library?
    fileprivate var loadError: String?

    init(server: ServerState) {
        interpreter = LuaInterpreter(server: server)
    }

    func flush() {
        interpreter.reset()
        apiRef = 0
        libraries.removeAll()
        functions.removeAll()
    }

    func function(named name: String) -> Function? { functions[name] }

    static func validName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 }
    }

    /// Redis's functionExtractLibMetaData: the engine and library name from the first line.
    static func metadata(_ code: [UInt8]) throws -> (name: String, bodyStart: Int) {
        guard code.count >= 2, code[0] == UInt8(ascii: "#"), code[1] == UInt8(ascii: "!") else {
            throw CommandError.err("Missing library metadata")
        }
        let end = code.firstIndex(of: 10) ?? code.count
        let line = String(decoding: code[..<end], as: UTF8.self)
        let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
        guard let first = parts.first else { throw CommandError.err("Invalid library metadata") }
        let engine = String(first.dropFirst(2))
        var name: String?
        for part in parts.dropFirst() {
            guard part.hasPrefix("name=") else { throw CommandError.err("Invalid metadata value given: \(part)") }
            name = String(part.dropFirst(5))
        }
        guard let name else { throw CommandError.err("Library name was not given") }
        guard engine.lowercased() == "lua" else { throw CommandError.err("Engine '\(engine)' not found") }
        guard validName(name) else {
            throw CommandError.err("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")
        }
        return (name, end)
    }

    /// FUNCTION LOAD: compiles and runs the library's code, which registers its functions.
    @discardableResult
    func load(_ code: [UInt8], replace: Bool) throws -> String {
        let (name, bodyStart) = try Self.metadata(code)
        if libraries[name] != nil && !replace { throw CommandError.err("Library '\(name)' already exists") }
        let L = interpreter.L
        let status = code.withUnsafeBufferPointer { raw -> Int32 in
            let start = UnsafeRawPointer(raw.baseAddress!).advanced(by: bodyStart).assumingMemoryBound(to: CChar.self)
            return luaL_loadbuffer(L, start, raw.count - bodyStart, "@user_function")
        }
        if status != 0 {
            let message = interpreter.string(at: -1)
            tern_lua_pop(L, 1)
            throw CommandError.err("Error compiling function: \(message)")
        }
        // While the code runs, `redis` is the loading API (register_function, log, ...); functions look
        // `redis` up when they run, so they get the full one then.
        loading = Library(name: name, code: code, functions: [])
        loadError = nil
        defer { loading = nil }
        interpreter.pushRealGlobals()
        lua_getfield(L, -1, "redis")          // the real API, to restore
        lua_pushstring(L, "redis")
        lua_rawgeti(L, tern_lua_registryindex(), loadingAPIRef())
        lua_rawset(L, -4)
        lua_pushvalue(L, -3)                  // the chunk
        let runStatus = lua_pcall(L, 0, 0, 0)
        var failure: String?
        if runStatus != 0 {
            if tern_lua_istable(L, -1) != 0 {
                failure = LuaReply.errorInfo(L, at: -1).message
            } else {
                failure = "ERR " + interpreter.string(at: -1)
            }
            tern_lua_pop(L, 1)
        }
        // Stack: chunk, globals, real redis.
        lua_pushstring(L, "redis")
        lua_pushvalue(L, -2)
        lua_rawset(L, -4)
        tern_lua_pop(L, 3)
        if let failure { throw CommandError.err("Error registering functions: \(failure)") }
        guard let library = loading, !library.functions.isEmpty else { throw CommandError.err("No functions registered") }
        for f in library.functions where functions[f.name] != nil && libraryOf(f.name) != name {
            throw CommandError.err("Function \(f.name) already exists")
        }
        if let old = libraries[name] {
            for f in old.functions { functions.removeValue(forKey: f.name) }
        }
        libraries[name] = library
        for f in library.functions { functions[f.name] = f }
        return name
    }

    private func libraryOf(_ function: String) -> String? {
        libraries.values.first { $0.functions.contains { $0.name == function } }?.name
    }

    func delete(_ name: String) throws {
        guard let library = libraries.removeValue(forKey: name) else { throw CommandError.err("Library not found") }
        for f in library.functions { functions.removeValue(forKey: f.name) }
    }

    private var apiRef: Int32 = 0

    /// The `redis` table library code sees while it loads, made once per interpreter.
    private func loadingAPIRef() -> Int32 {
        let L = interpreter.L
        if apiRef != 0 { return apiRef }
        tern_lua_newtable(L)
        tern_lua_push_function(L, { L in FunctionLibrary.registerFunction(L!) }, Unmanaged.passUnretained(self).toOpaque())
        lua_setfield(L, -2, "register_function")
        interpreter.pushRealGlobals()
        lua_getfield(L, -1, "redis")
        for name in ["log", "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING", "REDIS_VERSION", "REDIS_VERSION_NUM", "setresp"] {
            lua_getfield(L, -1, name)
            lua_setfield(L, -4, name)
        }
        tern_lua_pop(L, 2)
        tern_lua_set_strict(L, -1)
        tern_lua_protect_table(L, -1)
        apiRef = luaL_ref(L, tern_lua_registryindex())
        return apiRef
    }

    /// redis.register_function(name, callback) or redis.register_function{function_name=, callback=, flags=,
    /// description=} (Redis 7.0's luaRegisterFunction).
    static func registerFunction(_ L: LuaState) -> Int32 {
        let library = Unmanaged<FunctionLibrary>.fromOpaque(tern_lua_context(L)!).takeUnretainedValue()
        func fail(_ message: String) -> Int32 {
            LuaReply.pushError(L, message)
            return -1
        }
        guard library.loading != nil else { return fail("redis.register_function can only be called on FUNCTION LOAD command") }
        var name: String?
        var description: String?
        var flags: ScriptFlags = []
        let argc = lua_gettop(L)
        if argc == 1 && lua_type(L, 1) == LUA_TTABLE {
            lua_settop(L, 2)    // index 2 will hold the callback
            lua_pushnil(L)
            var callbackFound = false
            while lua_next(L, 1) != 0 {
                // Stack: table, key, value.
                guard lua_type(L, -2) == LUA_TSTRING else { return fail("named argument key given to redis.register_function is not a string") }
                let key = LuaInterpreter.string(L, at: -2)
                switch key {
                case "function_name":
                    guard lua_isstring(L, -1) != 0 else { return fail("function_name argument given to redis.register_function must be a string") }
                    name = LuaInterpreter.string(L, at: -1)
                case "description":
                    guard lua_isstring(L, -1) != 0 else { return fail("description argument given to redis.register_function must be a string") }
                    description = LuaInterpreter.string(L, at: -1)
                case "callback":
                    guard lua_type(L, -1) == LUA_TFUNCTION else { return fail("callback argument given to redis.register_function must be a function") }
                    lua_pushvalue(L, -1)
                    lua_replace(L, 2)   // keep the callback at index 2
                    callbackFound = true
                case "flags":
                    guard lua_type(L, -1) == LUA_TTABLE else { return fail("flags argument to redis.register_function must be a table representing function flags") }
                    var i: Int32 = 1
                    while true {
                        lua_rawgeti(L, -1, i)
                        if lua_type(L, -1) == LUA_TNIL { tern_lua_pop(L, 1); break }
                        guard lua_type(L, -1) == LUA_TSTRING,
                              let flag = ScriptFlags.names.first(where: { $0.0 == LuaInterpreter.string(L, at: -1) })?.1 else {
                            return fail("unknown flag given")
                        }
                        flags.insert(flag)
                        tern_lua_pop(L, 1)
                        i += 1
                    }
                default:
                    return fail("unknown argument given to redis.register_function")
                }
                tern_lua_pop(L, 1)
            }
            guard name != nil else { return fail("redis.register_function must get a function name argument") }
            guard callbackFound else { return fail("redis.register_function must get a callback argument") }
        } else {
            if argc == 1 {
                return fail("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
            }
            guard argc == 2 else { return fail("wrong number of arguments to redis.register_function") }
            guard lua_isstring(L, 1) != 0 else { return fail("first argument to redis.register_function must be a string") }
            guard lua_type(L, 2) == LUA_TFUNCTION else { return fail("second argument to redis.register_function must be a function") }
            name = LuaInterpreter.string(L, at: 1)
        }
        let functionName = name!
        guard validName(functionName) else {
            // Redis 7.0 words it so (its function-name check reuses the library one's text).
            return fail("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")
        }
        if library.loading!.functions.contains(where: { $0.name == functionName }) {
            return fail("Function already exists in the library")
        }
        lua_pushvalue(L, 2)
        let ref = luaL_ref(L, tern_lua_registryindex())
        let runnable = CachedScript(sha: functionName, flags: flags, functionRef: ref, isFunction: true)
        library.loading!.functions.append(Function(name: functionName, description: description, flags: flags, runnable: runnable))
        return 0
    }
}
