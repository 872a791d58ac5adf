import NIOCore
import RESP
@testable import TernCore
import TernStorage
import XCTest

final class KeyCommandsTests: XCTestCase {
    private func harness(_ configure: (ServerConfig) -> Void = { _ in }) -> Harness {
        Harness(configure: configure)
    }

    private func int(_ i: Int64) -> RESPValue { .integer(i) }

    private func sortedBulks(_ value: RESPValue?) -> [String] {
        guard case .array(let items)? = value else { return ["<not an array: \(String(describing: value))>"] }
        return items.compactMap { $0.string }.sorted()
    }

    /// All keys a full SCAN iteration returns with these options, and how many calls it took.
    private func scanAll(_ h: Harness, _ options: [String] = []) -> (keys: [String], calls: Int) {
        var cursor = "0"
        var keys: [String] = []
        var calls = 0
        repeat {
            let reply = h.run(["SCAN", cursor] + options)
            calls += 1
            guard case .array(let parts)? = reply, parts.count == 2, let next = parts[0].string,
                  case .array(let batch) = parts[1] else {
                XCTFail("bad SCAN reply \(String(describing: reply))")
                return ([], calls)
            }
            keys += batch.compactMap { $0.string }
            cursor = next
        } while cursor != "0" && calls < 10_000
        return (keys.sorted(), calls)
    }

    private var now: Int64 { 1_700_000_000_000 }

    // MARK: DEL UNLINK EXISTS TYPE TOUCH

    func testDelUnlinkExistsCountRepeats() {
        let h = harness()
        h.run("SET a 1")
        h.run("SET b 2")
        h.run("RPUSH l x")
        XCTAssertEqual(h.run("EXISTS a a b nosuch l"), int(4))
        XCTAssertEqual(h.run("EXISTS nosuch"), int(0))
        h.propagation.reset()
        XCTAssertEqual(h.run("DEL a a nosuch"), int(1))
        XCTAssertEqual(h.effects, ["DEL a a nosuch"])
        XCTAssertEqual(h.run("UNLINK b l"), int(2))
        XCTAssertEqual(h.effects, ["DEL a a nosuch", "UNLINK b l"])
        XCTAssertEqual(h.run("DEL a b"), int(0))
        XCTAssertEqual(h.effects.count, 2, "a DEL that deleted nothing isn't propagated")
        XCTAssertEqual(h.engine.database(0).keyCount, 0)
        XCTAssertEqual(h.run("DEL"), err("ERR wrong number of arguments for 'del' command"))
    }

    func testTypeOfEveryKind() {
        let h = harness()
        h.run("SET s v")
        h.run("RPUSH l a")
        h.run("HSET h f v")
        h.run("SADD set m")
        h.run("ZADD z 1 m")
        XCTAssertEqual(h.run("TYPE s"), .simple("string"))
        XCTAssertEqual(h.run("TYPE l"), .simple("list"))
        XCTAssertEqual(h.run("TYPE h"), .simple("hash"))
        XCTAssertEqual(h.run("TYPE set"), .simple("set"))
        XCTAssertEqual(h.run("TYPE z"), .simple("zset"))
        XCTAssertEqual(h.run("TYPE nosuch"), .simple("none"))
        XCTAssertEqual(h.run("TYPE a b"), err("ERR wrong number of arguments for 'type' command"))
    }

    func testTouchCountsAndUpdatesAccessTime() {
        let h = harness()
        h.run("SET a 1")
        h.run("GET a")
        h.clock.advance(millis: 50_000)
        XCTAssertEqual(h.run("OBJECT IDLETIME a"), int(50))
        XCTAssertEqual(h.run("TOUCH a a nosuch"), int(2))
        XCTAssertEqual(h.run("OBJECT IDLETIME a"), int(0))
        XCTAssertEqual(h.run("TOUCH"), err("ERR wrong number of arguments for 'touch' command"))
    }

    func testExistsAndTypeCountKeyspaceStats() {
        let h = harness()
        h.run("SET a 1")
        let hits = h.server.stats.keyspaceHits, misses = h.server.stats.keyspaceMisses
        h.run("EXISTS a nosuch a")
        h.run("TYPE nosuch")
        XCTAssertEqual(h.server.stats.keyspaceHits - hits, 2)
        XCTAssertEqual(h.server.stats.keyspaceMisses - misses, 2)
    }

    // MARK: EXPIRE family

    func testExpireFamilyPropagatesAbsolutePexpireat() {
        let h = harness()
        h.run("SET k v")
        h.propagation.reset()
        XCTAssertEqual(h.run("EXPIRE k 100"), int(1))
        XCTAssertEqual(h.run("PEXPIRE k 5000"), int(1))
        XCTAssertEqual(h.run("EXPIREAT k 1800000000"), int(1))
        XCTAssertEqual(h.run("PEXPIREAT k 1800000000123"), int(1))
        XCTAssertEqual(h.effects, [
            "PEXPIREAT k \(now + 100_000)",
            "PEXPIREAT k \(now + 5000)",
            "PEXPIREAT k 1800000000000",
            "PEXPIREAT k 1800000000123",
        ])
        XCTAssertEqual(h.run("PEXPIRETIME k"), int(1_800_000_000_123))
        XCTAssertEqual(h.run("EXPIRETIME k"), int(1_800_000_000))
    }

    func testTtlFamilyAndRounding() {
        let h = harness()
        h.run("SET k v")
        XCTAssertEqual(h.run("TTL k"), int(-1))
        XCTAssertEqual(h.run("PTTL k"), int(-1))
        XCTAssertEqual(h.run("EXPIRETIME k"), int(-1))
        XCTAssertEqual(h.run("PEXPIRETIME k"), int(-1))
        for name in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
            XCTAssertEqual(h.run("\(name) nosuch"), int(-2), name)
        }
        h.run("PEXPIRE k 1500")
        XCTAssertEqual(h.run("TTL k"), int(2), "seconds round half up")
        XCTAssertEqual(h.run("PTTL k"), int(1500))
        h.run("PEXPIRE k 1499")
        XCTAssertEqual(h.run("TTL k"), int(1))
        h.run("PEXPIRE k 499")
        XCTAssertEqual(h.run("TTL k"), int(0))
        XCTAssertEqual(h.run("PEXPIRETIME k"), int(now + 499))
        XCTAssertEqual(h.run("EXPIRETIME k"), int((now + 499 + 500) / 1000))
        h.clock.advance(millis: 499)
        XCTAssertEqual(h.run("PTTL k"), int(0), "at the expiry instant the key still exists (Redis: now > when)")
        h.clock.advance(millis: 1)
        XCTAssertEqual(h.run("TTL k"), int(-2), "an expiry that is past reads as gone")
    }

    func testExpireConditions() {
        let h = harness()
        h.run("SET k v")
        // No expiry: NX sets, XX and GT refuse, LT sets (no TTL counts as infinite).
        XCTAssertEqual(h.run("EXPIRE k 100 XX"), int(0))
        XCTAssertEqual(h.run("EXPIRE k 100 GT"), int(0))
        XCTAssertEqual(h.run("TTL k"), int(-1))
        XCTAssertEqual(h.run("EXPIRE k 100 LT"), int(1))
        h.run("PERSIST k")
        XCTAssertEqual(h.run("EXPIRE k 100 NX"), int(1))
        XCTAssertEqual(h.run("EXPIRE k 200 NX"), int(0))
        XCTAssertEqual(h.run("EXPIRE k 200 XX"), int(1))
        XCTAssertEqual(h.run("EXPIRE k 150 GT"), int(0))
        XCTAssertEqual(h.run("EXPIRE k 200 GT"), int(0), "GT needs strictly greater")
        XCTAssertEqual(h.run("EXPIRE k 300 xx gt"), int(1))
        XCTAssertEqual(h.run("EXPIRE k 400 LT"), int(0))
        XCTAssertEqual(h.run("EXPIRE k 300 LT"), int(0), "LT needs strictly less")
        XCTAssertEqual(h.run("EXPIRE k 50 lt"), int(1))
        XCTAssertEqual(h.run("TTL k"), int(50))
        XCTAssertEqual(h.run("EXPIRE k 10 nx nx"), int(0))
    }

    func testExpireOptionErrors() {
        let h = harness()
        h.run("SET k v")
        let nxError = err("ERR NX and XX, GT or LT options at the same time are not compatible")
        XCTAssertEqual(h.run("EXPIRE k 10 NX XX"), nxError)
        XCTAssertEqual(h.run("EXPIRE k 10 GT NX"), nxError)
        XCTAssertEqual(h.run("EXPIRE k 10 NX LT"), nxError)
        XCTAssertEqual(h.run("EXPIRE k 10 GT LT"), err("ERR GT and LT options at the same time are not compatible"))
        XCTAssertEqual(h.run("EXPIRE k 10 NX GT LT"), nxError, "the NX combination is reported first")
        XCTAssertEqual(h.run("EXPIRE k 10 foo"), err("ERR Unsupported option foo"))
        XCTAssertEqual(h.run("EXPIRE k abc foo"), err("ERR Unsupported option foo"), "options are parsed first")
        XCTAssertEqual(h.run("EXPIRE k abc"), err("ERR value is not an integer or out of range"))
        XCTAssertEqual(h.run("EXPIRE k 1.5"), err("ERR value is not an integer or out of range"))
        XCTAssertEqual(h.run("EXPIRE k"), err("ERR wrong number of arguments for 'expire' command"))
        XCTAssertEqual(h.run("EXPIRE nosuch 10 GT LT"), err("ERR GT and LT options at the same time are not compatible"))
        XCTAssertEqual(h.run("TTL k"), int(-1))
    }

    func testExpireOverflow() {
        let h = harness()
        h.run("SET k v")
        XCTAssertEqual(h.run("EXPIRE k 9223372036854775807"), err("ERR invalid expire time in 'expire' command"))
        XCTAssertEqual(h.run("EXPIRE k 9223372036854776"), err("ERR invalid expire time in 'expire' command"))
        XCTAssertEqual(h.run("EXPIRE k -9223372036854776"), err("ERR invalid expire time in 'expire' command"))
        XCTAssertEqual(h.run("PEXPIRE k 9223372036854775807"), err("ERR invalid expire time in 'pexpire' command"))
        XCTAssertEqual(h.run("EXPIREAT k 9223372036854776"), err("ERR invalid expire time in 'expireat' command"))
        XCTAssertEqual(h.run("TTL k"), int(-1))
        XCTAssertEqual(h.run("EXPIREAT k 9223372036854775"), int(1), "the largest representable time is fine")
        XCTAssertEqual(h.run("PEXPIRETIME k"), int(9_223_372_036_854_775_000))
        XCTAssertEqual(h.run("PEXPIREAT k 9223372036854775807"), int(1))
        // Checks happen before the key is looked up.
        XCTAssertEqual(h.run("EXPIRE nosuch 9223372036854775807"), err("ERR invalid expire time in 'expire' command"))
    }

    func testExpireInThePastDeletesAndPropagatesDel() {
        let h = harness()
        for key in ["a", "b", "c", "d", "e"] { h.run("SET \(key) v") }
        h.propagation.reset()
        XCTAssertEqual(h.run("EXPIRE a -1"), int(1))
        XCTAssertEqual(h.run("PEXPIRE b 0"), int(1))
        XCTAssertEqual(h.run("EXPIREAT c 1"), int(1))
        XCTAssertEqual(h.run("PEXPIREAT d -9223372036854775808"), int(1))
        XCTAssertEqual(h.run("PEXPIREAT e \(now)"), int(1), "a time equal to now is already past")
        XCTAssertEqual(h.effects, ["DEL a", "DEL b", "DEL c", "DEL d", "DEL e"])
        XCTAssertEqual(h.engine.database(0).keyCount, 0)
        XCTAssertEqual(h.run("EXISTS a b c d e"), int(0))
    }

    func testExpireOnAReplicaKeepsThePastDeadline() {
        let h = harness()
        h.run("SET k v")
        h.server.isReplica = true
        h.client().flags.insert(.master)
        XCTAssertEqual(h.run("EXPIRE k -1"), int(1))
        XCTAssertEqual(h.engine.database(0).keyCount, 1, "a replica waits for the master's DEL")
        XCTAssertEqual(h.engine.database(0).lookup("k", touch: nil)?.expireAt, now - 1000)
    }

    func testExpireOnLazilyExpiredKeyPropagatesOnlyTheDel() {
        let h = harness()
        h.run("SET k v PX 100")
        h.clock.advance(millis: 101)
        h.propagation.reset()
        XCTAssertEqual(h.run("EXPIRE k 100"), int(0))
        XCTAssertEqual(h.run("PERSIST k"), int(0))
        XCTAssertEqual(h.effects, ["DEL k"])
    }

    func testPersist() {
        let h = harness()
        h.run("SET k v EX 100")
        h.run("SET n v")
        h.propagation.reset()
        XCTAssertEqual(h.run("PERSIST k"), int(1))
        XCTAssertEqual(h.run("TTL k"), int(-1))
        XCTAssertEqual(h.run("PERSIST k"), int(0))
        XCTAssertEqual(h.run("PERSIST n"), int(0))
        XCTAssertEqual(h.run("PERSIST nosuch"), int(0))
        XCTAssertEqual(h.effects, ["PERSIST k"])
        XCTAssertEqual(h.engine.database(0).volatileKeyCount, 0)
    }

    // MARK: KEYS SCAN RANDOMKEY

    func testKeysMatchesAndSkipsExpiredWithoutDeleting() {
        let h = harness()
        for key in ["one", "two", "three", "h1", "h2", "hx"] { h.run("SET \(key) v") }
        h.run("SET gone v PX 10")
        h.run("HSET other f v")
        h.clock.advance(millis: 11)
        XCTAssertEqual(sortedBulks(h.run("KEYS *")), ["h1", "h2", "hx", "one", "other", "three", "two"])
        XCTAssertEqual(sortedBulks(h.run("KEYS t*")), ["three", "two"])
        XCTAssertEqual(sortedBulks(h.run("KEYS h[0-9]")), ["h1", "h2"])
        XCTAssertEqual(sortedBulks(h.run("KEYS ?n?")), ["one"])
        XCTAssertEqual(sortedBulks(h.run("KEYS nomatch")), [])
        XCTAssertEqual(h.engine.database(0).keyCount, 8, "KEYS skips expired keys but doesn't delete them")
        XCTAssertEqual(h.run("KEYS"), err("ERR wrong number of arguments for 'keys' command"))
    }

    func testKeysIsBinarySafe() {
        let h = harness()
        h.run(["SET", "a\u{0}b", "v"])
        h.run(["SET", "a\u{0}c", "v"])
        XCTAssertEqual(sortedBulks(h.run(["KEYS", "a\u{0}?"])), ["a\u{0}b", "a\u{0}c"])
        XCTAssertEqual(sortedBulks(h.run(["KEYS", "a\u{0}b"])), ["a\u{0}b"])
    }

    func testScanIteratesEverythingWithFilters() {
        let h = harness()
        for i in 0..<50 { h.run("SET key:\(i) v") }
        for i in 0..<10 { h.run("RPUSH list:\(i) v") }
        h.run("HSET hash f v")
        let everything = scanAll(h)
        XCTAssertEqual(everything.keys.count, 61)
        XCTAssertEqual(Set(everything.keys).count, 61)
        let one = scanAll(h, ["COUNT", "1"])
        XCTAssertEqual(one.keys, everything.keys)
        XCTAssertGreaterThan(one.calls, 30, "COUNT bounds the work of each call")
        XCTAssertEqual(scanAll(h, ["MATCH", "list:*", "COUNT", "7"]).keys, (0..<10).map { "list:\($0)" }.sorted())
        XCTAssertEqual(scanAll(h, ["TYPE", "list"]).keys.count, 10)
        XCTAssertEqual(scanAll(h, ["type", "HASH"]).keys, ["hash"])
        XCTAssertEqual(scanAll(h, ["TYPE", "string", "MATCH", "key:1*"]).keys.count, 11)
        XCTAssertEqual(scanAll(h, ["TYPE", "nosuchtype"]).keys, [], "an unknown type matches nothing in 7.0")
        XCTAssertEqual(scanAll(h, ["MATCH", "*", "COUNT", "1000"]).calls, 1)
    }

    func testScanReplyShapeAndCursorAsBulk() {
        let h = harness()
        h.run("SET a v")
        XCTAssertEqual(h.run("SCAN 0"), .array([bulk("0"), .array([bulk("a")])]))
        XCTAssertEqual(h.run("SCAN 0 MATCH b*"), .array([bulk("0"), .array([])]))
        XCTAssertEqual(h.run(["SCAN", ""]), .array([bulk("0"), .array([bulk("a")])]), "strtoul reads an empty cursor as 0")
    }

    func testScanErrors() {
        let h = harness()
        h.run("SET a v")
        let invalid = err("ERR invalid cursor")
        XCTAssertEqual(h.run("SCAN abc"), invalid)
        XCTAssertEqual(h.run("SCAN -"), invalid)
        XCTAssertEqual(h.run(["SCAN", " 0"]), invalid)
        XCTAssertEqual(h.run("SCAN 0x"), invalid)
        XCTAssertEqual(h.run("SCAN 18446744073709551616"), invalid)
        XCTAssertEqual(h.run("SCAN 0 COUNT 0"), err("ERR syntax error"))
        XCTAssertEqual(h.run("SCAN 0 COUNT -1"), err("ERR syntax error"))
        XCTAssertEqual(h.run("SCAN 0 COUNT x"), err("ERR value is not an integer or out of range"))
        XCTAssertEqual(h.run("SCAN 0 COUNT"), err("ERR syntax error"))
        XCTAssertEqual(h.run("SCAN 0 MATCH"), err("ERR syntax error"))
        XCTAssertEqual(h.run("SCAN 0 TYPE"), err("ERR syntax error"))
        XCTAssertEqual(h.run("SCAN 0 foo bar"), err("ERR syntax error"))
        XCTAssertEqual(h.run("SCAN"), err("ERR wrong number of arguments for 'scan' command"))
    }

    func testParseCursorIsStrtoul() {
        XCTAssertEqual(KeyCommands.parseCursor(Array("0".utf8)), 0)
        XCTAssertEqual(KeyCommands.parseCursor(Array("123".utf8)), 123)
        XCTAssertEqual(KeyCommands.parseCursor(Array("+7".utf8)), 7)
        XCTAssertEqual(KeyCommands.parseCursor(Array("-1".utf8)), UInt64.max)
        XCTAssertEqual(KeyCommands.parseCursor(Array("18446744073709551615".utf8)), UInt64.max)
        XCTAssertNil(KeyCommands.parseCursor(Array("18446744073709551616".utf8)))
        XCTAssertEqual(KeyCommands.parseCursor([UInt8(ascii: "5"), 0, UInt8(ascii: "x")]), 5, "the C string ends at NUL")
        XCTAssertNil(KeyCommands.parseCursor(Array("\t1".utf8)))
        XCTAssertNil(KeyCommands.parseCursor(Array("1 ".utf8)))
        XCTAssertNil(KeyCommands.parseCursor(Array("+".utf8)))
    }

    func testScanSkipsAndLazilyExpiresDueKeys() {
        let h = harness()
        h.run("SET live v")
        h.run("SET gone v PX 100")
        h.clock.advance(millis: 101)
        h.propagation.reset()
        XCTAssertEqual(scanAll(h).keys, ["live"])
        XCTAssertEqual(h.effects, ["DEL gone"])
        XCTAssertEqual(h.engine.database(0).keyCount, 1)
    }

    func testRandomKey() {
        let h = harness()
        XCTAssertEqual(h.run("RANDOMKEY"), .null)
        h.run("SET a v")
        XCTAssertEqual(h.run("RANDOMKEY"), bulk("a"))
        for i in 0..<20 { h.run("SET tmp\(i) v PX 10") }
        h.clock.advance(millis: 11)
        for _ in 0..<5 { XCTAssertEqual(h.run("RANDOMKEY"), bulk("a")) }
        XCTAssertEqual(h.run("DEL a"), int(1))
        XCTAssertEqual(h.run("RANDOMKEY"), .null, "expired keys are deleted on the way")
        XCTAssertEqual(h.engine.database(0).keyCount, 0)
        XCTAssertEqual(h.run("RANDOMKEY x"), err("ERR wrong number of arguments for 'randomkey' command"))
    }

    // MARK: RENAME RENAMENX

    func testRenameKeepsValueAndTtlAndOverwrites() {
        let h = harness()
        h.run("RPUSH src a b c")
        h.run("PEXPIRE src 5000")
        h.run("SET dst old EX 1000")
        h.propagation.reset()
        XCTAssertEqual(h.run("RENAME src dst"), ok)
        XCTAssertEqual(h.effects, ["RENAME src dst"])
        XCTAssertEqual(h.run("EXISTS src"), int(0))
        XCTAssertEqual(h.run("TYPE dst"), .simple("list"))
        XCTAssertEqual(h.run("PTTL dst"), int(5000))
        h.run("SET plain v")
        XCTAssertEqual(h.run("RENAME plain dst"), ok)
        XCTAssertEqual(h.run("TTL dst"), int(-1), "the source's lack of TTL wins")
        XCTAssertEqual(h.run("GET dst"), bulk("v"))
    }

    func testRenameErrorsAndSameKey() {
        let h = harness()
        h.run("SET k v EX 100")
        h.propagation.reset()
        XCTAssertEqual(h.run("RENAME nosuch x"), err("ERR no such key"))
        XCTAssertEqual(h.run("RENAMENX nosuch x"), err("ERR no such key"))
        XCTAssertEqual(h.run("RENAME nosuch nosuch"), err("ERR no such key"))
        XCTAssertEqual(h.run("RENAME k k"), ok)
        XCTAssertEqual(h.run("RENAMENX k k"), int(0))
        XCTAssertEqual(h.run("TTL k"), int(100))
        XCTAssertEqual(h.effects, [])
        XCTAssertEqual(h.run("RENAME k"), err("ERR wrong number of arguments for 'rename' command"))
        XCTAssertEqual(h.run("RENAME k a b"), err("ERR wrong number of arguments for 'rename' command"))
    }

    func testRenameNx() {
        let h = harness()
        h.run("SET a 1")
        h.run("SET b 2")
        h.propagation.reset()
        XCTAssertEqual(h.run("RENAMENX a b"), int(0))
        XCTAssertEqual(h.run("GET a"), bulk("1"))
        XCTAssertEqual(h.run("RENAMENX a c"), int(1))
        XCTAssertEqual(h.run("GET c"), bulk("1"))
        XCTAssertEqual(h.effects, ["RENAMENX a c"])
    }

    func testRenameOfLazilyExpiredSourcePropagatesOnlyDel() {
        let h = harness()
        h.run("SET k v PX 10")
        h.clock.advance(millis: 11)
        h.propagation.reset()
        XCTAssertEqual(h.run("RENAME k x"), err("ERR no such key"))
        XCTAssertEqual(h.effects, ["DEL k"])
    }

    func testRenameOverExpiredDestination() {
        let h = harness()
        h.run("SET d old PX 10")
        h.run("SET s new")
        h.clock.advance(millis: 11)
        h.propagation.reset()
        XCTAssertEqual(h.run("RENAMENX s d"), int(1), "an expired destination counts as missing")
        XCTAssertEqual(h.propagation.units.map { $0.map(\.description) }, [["[0] DEL d"], ["[0] RENAMENX s d"]])
        XCTAssertEqual(h.run("TTL d"), int(-1))
    }

    // MARK: COPY

    func testCopySameDbAndReplace() {
        let h = harness()
        h.run("HSET src f v")
        h.run("EXPIRE src 100")
        h.run("SET dst x")
        h.propagation.reset()
        XCTAssertEqual(h.run("COPY src dst"), int(0))
        XCTAssertEqual(h.run("COPY src dst REPLACE"), int(1))
        XCTAssertEqual(h.run("TYPE dst"), .simple("hash"))
        XCTAssertEqual(h.run("TTL dst"), int(100))
        XCTAssertEqual(h.run("COPY nosuch dst REPLACE"), int(0))
        XCTAssertEqual(h.effects, ["COPY src dst REPLACE"])
        // The copy is independent of its source.
        h.run("HSET dst g w")
        guard case .hash(let source)? = h.engine.database(0).lookup("src", touch: nil)?.value else {
            return XCTFail("source gone")
        }
        XCTAssertEqual(source.count, 1)
    }

    func testCopyAcrossDatabases() {
        let h = harness()
        h.run("ZADD z 1 a 2 b")
        h.propagation.reset()
        XCTAssertEqual(h.run("COPY z z DB 3"), int(1))
        XCTAssertEqual(h.run("COPY z z db 3"), int(0))
        XCTAssertEqual(h.run("COPY z z db 3 replace"), int(1))
        XCTAssertEqual(h.effects, ["COPY z z DB 3", "COPY z z db 3 replace"])
        XCTAssertEqual(h.engine.database(3).lookup("z", touch: nil)?.value.kind, .zset)
        XCTAssertEqual(h.run("EXISTS z"), int(1))
        h.run("SELECT 3")
        XCTAssertEqual(h.run("COPY z z DB 0"), int(0))
        XCTAssertEqual(h.run("COPY z z2 DB 0"), int(1))
        XCTAssertEqual(h.engine.database(0).keyCount, 2)
    }

    func testCopyErrors() {
        let h = harness()
        h.run("SET k v")
        let same = err("ERR source and destination objects are the same")
        XCTAssertEqual(h.run("COPY k k"), same)
        XCTAssertEqual(h.run("COPY k k DB 0"), same)
        XCTAssertEqual(h.run("COPY nosuch nosuch"), same)
        XCTAssertEqual(h.run("COPY k x DB"), err("ERR syntax error"))
        XCTAssertEqual(h.run("COPY k x foo"), err("ERR syntax error"))
        XCTAssertEqual(h.run("COPY k x DB x"), err("ERR value is not an integer or out of range"))
        XCTAssertEqual(h.run("COPY k x DB 16"), err("ERR DB index is out of range"))
        XCTAssertEqual(h.run("COPY k x DB -1"), err("ERR DB index is out of range"))
        XCTAssertEqual(h.run("COPY k x DB 4294967296"),
                       err("ERR value is out of range, value must between -2147483648 and 2147483647"))
        XCTAssertEqual(h.run("COPY k x DB 99 foo"), err("ERR DB index is out of range"), "options are checked in order")
        XCTAssertEqual(h.run("COPY k"), err("ERR wrong number of arguments for 'copy' command"))
        XCTAssertEqual(h.run("COPY k x REPLACE REPLACE"), int(1))
    }

    // MARK: MOVE

    func testMoveCarriesValueAndTtl() {
        let h = harness()
        h.run("SADD s 1 2 3")
        h.run("EXPIRE s 100")
        h.propagation.reset()
        XCTAssertEqual(h.run("MOVE s 1"), int(1))
        XCTAssertEqual(h.run("EXISTS s"), int(0))
        XCTAssertEqual(h.propagation.units.flatMap { $0 }.map { $0.db }, [0])
        XCTAssertEqual(h.effects, ["MOVE s 1"])
        h.run("SELECT 1")
        XCTAssertEqual(h.run("TTL s"), int(100))
        XCTAssertEqual(h.run("TYPE s"), .simple("set"))
        h.run("SET s other")
        h.propagation.reset()
        XCTAssertEqual(h.run("MOVE s 0"), int(1))
        XCTAssertEqual(h.propagation.units.flatMap { $0 }.map(\.description), ["[1] MOVE s 0"])
        h.run("SET s blocker")
        h.run("SELECT 0")
        h.propagation.reset()
        XCTAssertEqual(h.run("MOVE s 1"), int(0), "an existing target key blocks the move")
        XCTAssertEqual(h.run("MOVE nosuch 1"), int(0))
        XCTAssertEqual(h.effects, [])
    }

    func testMoveErrors() {
        let h = harness()
        h.run("SET k v")
        XCTAssertEqual(h.run("MOVE k 0"), err("ERR source and destination objects are the same"))
        XCTAssertEqual(h.run("MOVE nosuch 0"), err("ERR source and destination objects are the same"))
        XCTAssertEqual(h.run("MOVE k 16"), err("ERR DB index is out of range"))
        XCTAssertEqual(h.run("MOVE k -1"), err("ERR DB index is out of range"))
        XCTAssertEqual(h.run("MOVE k x"), err("ERR value is not an integer or out of range"))
        XCTAssertEqual(h.run("MOVE k 2147483648"),
                       err("ERR value is out of range, value must between -2147483648 and 2147483647"))
        XCTAssertEqual(h.run("MOVE k"), err("ERR wrong number of arguments for 'move' command"))
    }

    func testMoveOntoExpiredTargetPropagatesDelInTargetDb() {
        let h = harness()
        h.run("SELECT 2")
        h.run("SET k old PX 10")
        h.run("SELECT 0")
        h.run("SET k new")
        h.clock.advance(millis: 11)
        h.propagation.reset()
        XCTAssertEqual(h.run("MOVE k 2"), int(1))
        // The expiry leaves at once as its own unit (Redis 7.0's propagateNow), then the MOVE.
        XCTAssertEqual(h.propagation.units.map { $0.map(\.description) }, [["[2] DEL k"], ["[0] MOVE k 2"]])
    }

    // MARK: OBJECT

    func testObjectEncodingOfEveryKind() {
        let h = harness()
        h.run("SET int 12345")
        h.run("SET neg -12")
        h.run("SET short hello")
        h.run(["SET", "e44", String(repeating: "x", count: 44)])
        h.run(["SET", "r45", String(repeating: "x", count: 45)])
        h.run("SET big 9223372036854775808")
        h.run("SET lead 012")
        h.run("RPUSH l a")
        h.run("HSET h f v")
        h.run(["HSET", "hbig", "f", String(repeating: "x", count: 65)])
        h.run("SADD si 1 -2 3")
        h.run("SADD ss 1 a")
        h.run("ZADD z 1 a")
        h.run(["ZADD", "zbig", "1", String(repeating: "x", count: 65)])
        let expected: [(String, String)] = [
            ("int", "int"), ("neg", "int"), ("short", "embstr"), ("e44", "embstr"), ("r45", "raw"),
            ("big", "embstr"), ("lead", "embstr"), ("l", "quicklist"), ("h", "listpack"), ("hbig", "hashtable"),
            ("si", "intset"), ("ss", "hashtable"), ("z", "listpack"), ("zbig", "skiplist"),
        ]
        for (key, encoding) in expected {
            XCTAssertEqual(h.run("OBJECT ENCODING \(key)"), bulk(encoding), key)
        }
        XCTAssertEqual(h.run("OBJECT ENCODING nosuch"), .null)
    }

    func testEncodingThresholds() {
        var hash: [Bytes: Bytes] = [:]
        for i in 0..<512 { hash[Bytes("f\(i)")] = Bytes(String(repeating: "v", count: 64)) }
        XCTAssertEqual(ObjectEncoding.name(of: .hash(hash)), "listpack")
        hash["one-more"] = "v"
        XCTAssertEqual(ObjectEncoding.name(of: .hash(hash)), "hashtable")
        XCTAssertEqual(ObjectEncoding.name(of: .hash([Bytes(String(repeating: "f", count: 65)): "v"])), "hashtable")
        var small = ObjectEncoding.Limits()
        small.hashMaxListpackEntries = 128
        XCTAssertEqual(ObjectEncoding.name(of: .hash(Dictionary(uniqueKeysWithValues: (0..<129).map { (Bytes("f\($0)"), Bytes("v")) })),
                                           limits: small), "hashtable", "redis.conf's 128")

        var set = Set((0..<512).map { Bytes(String($0)) })
        XCTAssertEqual(ObjectEncoding.name(of: .set(set)), "intset")
        set.insert("512")
        XCTAssertEqual(ObjectEncoding.name(of: .set(set)), "hashtable")
        XCTAssertEqual(ObjectEncoding.name(of: .set(["9223372036854775807", "-9223372036854775808"])), "intset")
        XCTAssertEqual(ObjectEncoding.name(of: .set(["9223372036854775808"])), "hashtable")
        XCTAssertEqual(ObjectEncoding.name(of: .set(["-0"])), "hashtable")

        var zset = SortedSetValue()
        for i in 0..<128 { zset.set(Bytes("m\(i)"), score: Double(i)) }
        XCTAssertEqual(ObjectEncoding.name(of: .zset(zset)), "listpack")
        zset.set("m128", score: 0)
        XCTAssertEqual(ObjectEncoding.name(of: .zset(zset)), "skiplist")

        var limits = ObjectEncoding.Limits()
        limits.zsetMaxListpackEntries = 1000
        XCTAssertEqual(ObjectEncoding.name(of: .zset(zset), limits: limits), "listpack")
        XCTAssertEqual(ObjectEncoding.name(of: .list([])), "quicklist")
    }

    func testStrictInt64() {
        XCTAssertEqual(ObjectEncoding.parseStrictInt64(Array("0".utf8)), 0)
        XCTAssertEqual(ObjectEncoding.parseStrictInt64(Array("-9223372036854775808".utf8)), Int64.min)
        XCTAssertEqual(ObjectEncoding.parseStrictInt64(Array("9223372036854775807".utf8)), Int64.max)
        for bad in ["", "-", "-0", "+1", "01", " 1", "1 ", "1.0", "9223372036854775808", "-9223372036854775809", "abc"] {
            XCTAssertNil(ObjectEncoding.parseStrictInt64(Array(bad.utf8)), bad)
        }
    }

    func testObjectRefcount() {
        let h = harness()
        h.run("SET small 9999")
        h.run("SET large 10000")
        h.run("SET neg -1")
        h.run("SET text abc")
        h.run("RPUSH l a")
        XCTAssertEqual(h.run("OBJECT REFCOUNT small"), int(2_147_483_647))
        XCTAssertEqual(h.run("OBJECT REFCOUNT large"), int(1))
        XCTAssertEqual(h.run("OBJECT REFCOUNT neg"), int(1))
        XCTAssertEqual(h.run("OBJECT REFCOUNT text"), int(1))
        XCTAssertEqual(h.run("OBJECT REFCOUNT l"), int(1))
        XCTAssertEqual(h.run("OBJECT REFCOUNT nosuch"), .null)
        h.config.maxMemory = 1 << 30
        h.config.maxMemoryPolicy = "allkeys-lru"
        XCTAssertEqual(h.run("OBJECT REFCOUNT small"), int(1), "no shared integers under an LRU/LFU limit")
    }

    func testObjectIdletimeAndFreq() {
        let h = harness()
        h.run("SET k v")
        h.run("GET k")
        h.clock.advance(millis: 125_000)
        XCTAssertEqual(h.run("OBJECT IDLETIME k"), int(125))
        XCTAssertEqual(h.run("OBJECT IDLETIME k"), int(125), "OBJECT doesn't touch the key")
        XCTAssertEqual(h.run("OBJECT IDLETIME nosuch"), .null)
        XCTAssertEqual(h.run("OBJECT FREQ k"), err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."))
        XCTAssertEqual(h.run("OBJECT FREQ nosuch"), .null, "the key is looked up before the policy is checked")
        h.config.maxMemoryPolicy = "allkeys-lfu"
        XCTAssertEqual(h.run("OBJECT IDLETIME k"), err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."))
        h.run("GET k")
        guard case .integer(let fresh)? = h.run("OBJECT FREQ k") else { return XCTFail("no FREQ") }
        XCTAssertGreaterThanOrEqual(fresh, 6, "the first access always increments the initial 5")
        h.clock.advance(millis: 3 * 60_000)
        XCTAssertEqual(h.run("OBJECT FREQ k"), int(fresh - 3), "one decrement per idle minute")
        h.clock.advance(millis: 600 * 60_000)
        XCTAssertEqual(h.run("OBJECT FREQ k"), int(0))
    }

    func testIdletimeOfANeverAccessedKeyIsZero() {
        let h = harness()
        h.engine.accessClock = h.server.lruClock
        h.server.keyspace(0).store("fresh", .string("v"), expiry: .clear)
        XCTAssertEqual(h.run("OBJECT IDLETIME fresh"), int(0))
        h.config.maxMemoryPolicy = "volatile-lfu"
        XCTAssertEqual(h.run("OBJECT FREQ fresh"), int(5), "a new key starts at LFU_INIT_VAL")
    }

    func testObjectHelpAndErrors() {
        let h = harness()
        guard case .array(let lines)? = h.run("OBJECT HELP") else { return XCTFail("no help") }
        XCTAssertEqual(lines.first, .simple("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"))
        XCTAssertEqual(lines.last, .simple("    Prints this help."))
        XCTAssertEqual(lines.count, 15)
        XCTAssertEqual(h.run("OBJECT help extra"), err("ERR wrong number of arguments for 'object|help' command"))
        XCTAssertEqual(h.run("OBJECT"), err("ERR wrong number of arguments for 'object' command"))
        XCTAssertEqual(h.run("OBJECT foo bar"), err("ERR unknown subcommand 'foo'. Try OBJECT HELP."))
        XCTAssertEqual(h.run("OBJECT ENCODING"), err("ERR wrong number of arguments for 'object|encoding' command"))
        XCTAssertEqual(h.run("OBJECT ENCODING a b"), err("ERR wrong number of arguments for 'object|encoding' command"))
    }

    // MARK: command table

    func testSpecsMatchRedis() {
        let table = BuiltinCommands.table()
        func check(_ name: String, _ arity: Int, _ flags: [String], _ keys: (Int, Int, Int)) {
            guard let spec = table.lookup(name) else { return XCTFail("missing \(name)") }
            XCTAssertEqual(spec.arity, arity, name)
            XCTAssertEqual(spec.flags.names, flags, name)
            XCTAssertEqual(spec.keys, KeyPositions(first: keys.0, last: keys.1, step: keys.2), name)
            XCTAssertEqual(spec.group, "generic", name)
        }
        check("del", -2, ["write"], (1, -1, 1))
        check("unlink", -2, ["write", "fast"], (1, -1, 1))
        check("exists", -2, ["readonly", "fast"], (1, -1, 1))
        check("touch", -2, ["readonly", "fast"], (1, -1, 1))
        check("type", 2, ["readonly", "fast"], (1, 1, 1))
        for name in ["expire", "pexpire", "expireat", "pexpireat"] { check(name, -3, ["write", "fast"], (1, 1, 1)) }
        for name in ["ttl", "pttl", "expiretime", "pexpiretime"] { check(name, 2, ["readonly", "fast"], (1, 1, 1)) }
        check("persist", 2, ["write", "fast"], (1, 1, 1))
        check("keys", 2, ["readonly"], (0, 0, 0))
        check("scan", -2, ["readonly"], (0, 0, 0))
        check("randomkey", 1, ["readonly"], (0, 0, 0))
        check("rename", 3, ["write"], (1, 2, 1))
        check("renamenx", 3, ["write", "fast"], (1, 2, 1))
        check("copy", -3, ["write", "denyoom"], (1, 2, 1))
        check("move", 3, ["write", "fast"], (1, 1, 1))
        check("object", -2, [], (0, 0, 0))
        XCTAssertEqual(table.lookup("keys")?.allCategories, ["@read", "@slow", "@keyspace", "@dangerous"])
        let object = table.lookup("object")!
        XCTAssertEqual(Set(object.subcommands.keys), ["encoding", "freq", "idletime", "refcount", "help"])
        XCTAssertEqual(object.subcommands["encoding"]?.fullName, "object|encoding")
        XCTAssertEqual(object.subcommands["encoding"]?.keys, KeyPositions(first: 2, last: 2, step: 1))
        XCTAssertEqual(object.subcommands["help"]?.flags.names, ["loading", "stale"])
    }
}
