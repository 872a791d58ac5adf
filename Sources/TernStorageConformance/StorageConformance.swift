import DequeModule
import TernStorage

/// The behaviour every storage backend must have, written once and run by each backend's tests.
///
/// Failures are reported through `fail` (the test target passes XCTFail), so this target needs no XCTest.
public struct StorageConformance {
    public typealias Failure = (_ message: String, _ file: StaticString, _ line: UInt) -> Void

    private let makeEngine: () -> any StorageEngine
    private let fail: Failure

    /// `makeEngine` returns a fresh, empty engine with 16 databases each time.
    public init(makeEngine: @escaping () -> any StorageEngine, fail: @escaping Failure) {
        self.makeEngine = makeEngine
        self.fail = fail
    }

    /// Every check, by name, so a test target can run them one per test method.
    public var checks: [(String, () -> Void)] {
        [
            ("storeAndLookupEveryKind", storeAndLookupEveryKind),
            ("expiryUpdates", expiryUpdates),
            ("updateInPlace", updateInPlace),
            ("emptyCollectionsAreRemoved", emptyCollectionsAreRemoved),
            ("removeAndRemoveAll", removeAndRemoveAll),
            ("databasesAreIndependentAndSwap", databasesAreIndependentAndSwap),
            ("scanVisitsEveryKeyOnce", scanVisitsEveryKeyOnce),
            ("scanSurvivesConcurrentInserts", scanSurvivesConcurrentInserts),
            ("scanSurvivesConcurrentDeletes", scanSurvivesConcurrentDeletes),
            ("randomKeyAndVolatileSampling", randomKeyAndVolatileSampling),
            ("snapshotIsPointInTime", snapshotIsPointInTime),
            ("binaryAndLongKeys", binaryAndLongKeys),
            ("accessMetadata", accessMetadata),
            ("encodingState", encodingState),
            ("metadataWithoutValues", metadataWithoutValues),
            ("hashOperations", hashOperations),
            ("setOperations", setOperations),
            ("listOperations", listOperations),
            ("sortedSetOperations", sortedSetOperations),
            ("largeCollections", largeCollections),
        ]
    }

    public func runAll() {
        for (_, check) in checks { check() }
    }

    private func expect(_ condition: Bool, _ message: @autoclosure () -> String,
                        file: StaticString = #filePath, line: UInt = #line) {
        if !condition { fail(message(), file, line) }
    }

    static let samples: [(Bytes, StoredValue)] = {
        var z = SortedSetValue()
        z.set("a", score: 1.5)
        z.set("b", score: -2)
        return [
            ("s", .string("hello")),
            ("l", .list(Deque(["x", "y", "z"]))),
            ("h", .hash(["f1": "v1", "f2": "v2"])),
            ("set", .set(["m1", "m2"])),
            ("z", .zset(z)),
        ]
    }()

    func storeAndLookupEveryKind() {
        let db = makeEngine().database(0)
        for (key, value) in Self.samples {
            db.store(key, value, expiry: .clear)
        }
        expect(db.keyCount == Self.samples.count, "keyCount \(db.keyCount)")
        for (key, value) in Self.samples {
            let record = db.lookup(key, touch: nil)
            expect(record?.value == value, "value of \(key): \(String(describing: record?.value))")
            expect(record?.expireAt == nil, "no expiry for \(key)")
            expect(db.kind(of: key) == value.kind, "kind of \(key)")
        }
        expect(db.lookup("missing", touch: nil) == nil, "missing key")
        db.store("s", .string("replaced"), expiry: .clear)
        expect(db.lookup("s", touch: nil)?.value == .string("replaced"), "overwrite")
        expect(db.keyCount == Self.samples.count, "overwrite keeps count")
    }

    func expiryUpdates() {
        let db = makeEngine().database(0)
        db.store("k", .string("v"), expiry: .at(5000))
        expect(db.lookup("k", touch: nil)?.expireAt == 5000, "expiry set")
        expect(db.volatileKeyCount == 1, "volatile count 1")
        db.store("k", .string("v2"), expiry: .keep)
        expect(db.lookup("k", touch: nil)?.expireAt == 5000, "KEEPTTL keeps expiry")
        db.store("k", .string("v3"), expiry: .clear)
        expect(db.lookup("k", touch: nil)?.expireAt == nil, "plain store clears expiry")
        expect(db.volatileKeyCount == 0, "volatile count 0 after clear")
        expect(db.setExpiry("k", 9000), "setExpiry on existing key")
        expect(db.lookup("k", touch: nil)?.expireAt == 9000, "setExpiry applied")
        expect(!db.setExpiry("nope", 9000), "setExpiry on missing key is false")
        expect(db.setExpiry("k", nil), "persist")
        expect(db.lookup("k", touch: nil)?.expireAt == nil && db.volatileKeyCount == 0, "persisted")
        db.store("k", .string("v"), expiry: .at(100))
        db.remove("k")
        expect(db.volatileKeyCount == 0, "remove drops the expiry index entry")
    }

    func updateInPlace() {
        let db = makeEngine().database(0)
        db.store("l", .list(["a"]), expiry: .at(7000))
        let count: Int = db.update("l") { value in
            guard case .list(var list)? = value else { return -1 }
            value = nil
            list.append("b")
            value = .list(list)
            return list.count
        }
        expect(count == 2, "update saw the list")
        let record = db.lookup("l", touch: nil)
        expect(record?.value == .list(["a", "b"]), "update stored")
        expect(record?.expireAt == 7000, "update keeps expiry")
        let created: Bool = db.update("new") { value in
            let wasNil = value == nil
            value = .hash(["f": "v"])
            return wasNil
        }
        expect(created, "update of a missing key sees nil")
        expect(db.lookup("new", touch: nil)?.value == .hash(["f": "v"]), "update creates")
        struct Boom: Error {}
        do {
            try db.update("l") { (value: inout StoredValue?) throws -> Void in
                value = .string("clobbered")
                throw Boom()
            }
        } catch {}
        expect(db.lookup("l", touch: nil) != nil, "a throwing update leaves the key in place")
    }

    func emptyCollectionsAreRemoved() {
        let db = makeEngine().database(0)
        db.store("s", .set(["only"]), expiry: .at(100))
        db.update("s") { value in value = .set([]) }
        expect(db.lookup("s", touch: nil) == nil, "empty set removed")
        expect(db.volatileKeyCount == 0, "and its expiry")
        db.store("t", .string(""), expiry: .clear)
        expect(db.lookup("t", touch: nil)?.value == .string(""), "empty string is a value")
        db.update("t") { value in value = nil }
        expect(db.lookup("t", touch: nil) == nil, "update to nil removes")
    }

    func removeAndRemoveAll() {
        let db = makeEngine().database(0)
        for i in 0..<100 { db.store(Bytes("k\(i)"), .string("v"), expiry: i % 2 == 0 ? .at(Int64(i)) : .clear) }
        expect(db.remove("k1"), "remove existing")
        expect(!db.remove("k1"), "remove again")
        expect(db.keyCount == 99, "count after remove")
        db.removeAll()
        expect(db.keyCount == 0 && db.volatileKeyCount == 0, "removeAll empties")
        expect(db.lookup("k2", touch: nil) == nil, "removeAll removed keys")
    }

    func databasesAreIndependentAndSwap() {
        let engine = makeEngine()
        expect(engine.databaseCount == 16, "16 databases")
        engine.database(0).store("a", .string("zero"), expiry: .clear)
        engine.database(1).store("a", .string("one"), expiry: .at(42))
        expect(engine.database(0).lookup("a", touch: nil)?.value == .string("zero"), "db0")
        expect(engine.database(1).lookup("a", touch: nil)?.value == .string("one"), "db1")
        engine.swapDatabases(0, 1)
        expect(engine.database(0).lookup("a", touch: nil)?.value == .string("one"), "swapped db0")
        expect(engine.database(0).lookup("a", touch: nil)?.expireAt == 42, "swap carries expiry")
        expect(engine.database(1).lookup("a", touch: nil)?.value == .string("zero"), "swapped db1")
        expect(engine.database(2).keyCount == 0, "db2 untouched")
    }

    func scanVisitsEveryKeyOnce() {
        let db = makeEngine().database(0)
        let keys = Set((0..<1000).map { Bytes("key:\($0)") })
        for k in keys { db.store(k, .string("v"), expiry: .clear) }
        var seen: [Bytes] = []
        var cursor: UInt64 = 0
        var rounds = 0
        repeat {
            cursor = db.scan(cursor: cursor, count: 37) { seen.append($0) }
            rounds += 1
        } while cursor != 0 && rounds < 10_000
        expect(Set(seen) == keys, "scan saw \(Set(seen).count) of \(keys.count)")
        expect(seen.count == keys.count, "no duplicates without concurrent writes")
        var emptyVisits = 0
        expect(makeEngine().database(0).scan(cursor: 0, count: 10) { _ in emptyVisits += 1 } == 0 && emptyVisits == 0,
               "empty scan")
    }

    func scanSurvivesConcurrentInserts() {
        let db = makeEngine().database(0)
        let original = Set((0..<500).map { Bytes("o:\($0)") })
        for k in original { db.store(k, .string("v"), expiry: .clear) }
        var seen = Set<Bytes>()
        var cursor: UInt64 = 0
        var i = 0
        repeat {
            cursor = db.scan(cursor: cursor, count: 20) { seen.insert($0) }
            db.store(Bytes("new:\(i)"), .string("v"), expiry: .clear)
            i += 1
        } while cursor != 0 && i < 100_000
        expect(original.isSubset(of: seen), "keys present throughout were all returned (missing \(original.subtracting(seen).count))")
    }

    func scanSurvivesConcurrentDeletes() {
        let db = makeEngine().database(0)
        let kept = Set((0..<400).map { Bytes("keep:\($0)") })
        let doomed = (0..<400).map { Bytes("drop:\($0)") }
        for k in kept { db.store(k, .string("v"), expiry: .clear) }
        for k in doomed { db.store(k, .string("v"), expiry: .clear) }
        var seen = Set<Bytes>()
        var cursor: UInt64 = 0
        var i = 0
        repeat {
            cursor = db.scan(cursor: cursor, count: 10) { seen.insert($0) }
            // Delete keys the scan has already passed as well as ones ahead of it.
            for _ in 0..<8 where i < doomed.count {
                db.remove(doomed[i])
                i += 1
            }
        } while cursor != 0 && i < 100_000
        expect(kept.isSubset(of: seen), "keys present throughout were all returned (missing \(kept.subtracting(seen).count))")
    }

    func randomKeyAndVolatileSampling() {
        let db = makeEngine().database(0)
        expect(db.randomKey() == nil, "randomKey on empty")
        expect(db.sampleVolatile(5).isEmpty, "no volatile keys")
        for i in 0..<50 { db.store(Bytes("k\(i)"), .string("v"), expiry: i < 10 ? .at(Int64(1000 + i)) : .clear) }
        var seen = Set<Bytes>()
        for _ in 0..<500 { if let k = db.randomKey() { seen.insert(k) } }
        expect(seen.count > 25, "randomKey spreads (\(seen.count) distinct)")
        let sample = db.sampleVolatile(5)
        expect(sample.count == 5, "sample size")
        for (key, when) in sample {
            expect(db.lookup(key, touch: nil)?.expireAt == when, "sampled key \(key) has that expiry")
        }
        expect(Set(db.sampleVolatile(100).map(\.key)).count == 10, "small volatile set returned whole")
    }

    func snapshotIsPointInTime() {
        let engine = makeEngine()
        let db = engine.database(0)
        for i in 0..<100 { db.store(Bytes("k\(i)"), .string(Bytes("v\(i)")), expiry: i == 0 ? .at(77) : .clear) }
        db.store("list", .list(["a"]), expiry: .clear)
        let snapshots = engine.snapshot()
        expect(snapshots.count == 16, "one snapshot per database")
        let snapshot = snapshots[0]
        // Writes after the snapshot must not show in it.
        db.store("k1", .string("changed"), expiry: .clear)
        db.remove("k2")
        db.store("added", .string("x"), expiry: .clear)
        db.update("list") { value in
            if case .list(var l)? = value { value = nil; l.append("b"); value = .list(l) }
        }
        expect(snapshot.count == 101, "snapshot count \(snapshot.count)")
        var contents: [Bytes: (StoredValue, Int64?)] = [:]
        snapshot.forEach { key, value, expiry in
            contents[key] = (value, expiry)
            return true
        }
        expect(contents.count == 101, "snapshot iterates every key")
        expect(contents["k1"]?.0 == .string("v1"), "snapshot keeps old value")
        expect(contents["k2"] != nil, "snapshot keeps removed key")
        expect(contents["added"] == nil, "snapshot excludes new key")
        expect(contents["list"]?.0 == .list(["a"]), "snapshot list unchanged by in-place edit")
        expect(contents["k0"]?.1 == 77, "snapshot carries expiry")
        expect(db.lookup("list", touch: nil)?.value == .list(["a", "b"]), "live list edited")
        var visited = 0
        snapshot.forEach { _, _, _ in
            visited += 1
            return visited < 10
        }
        expect(visited == 10, "forEach stops early")
    }

    func binaryAndLongKeys() {
        let db = makeEngine().database(0)
        let binary = Bytes([0, 255, 10, 13, 0])
        let long = Bytes([UInt8](repeating: 120, count: 100_000))
        let longValue = Bytes([UInt8](repeating: 7, count: 1_000_000))
        db.store(binary, .string(binary), expiry: .clear)
        db.store(long, .string(longValue), expiry: .at(123))
        expect(db.lookup(binary, touch: nil)?.value == .string(binary), "binary key")
        expect(db.lookup(long, touch: nil)?.value == .string(longValue), "long key and value")
        expect(db.lookup(Bytes([0, 255, 10, 13]), touch: nil) == nil, "prefix is another key")
        db.store(Bytes(), .string("empty key"), expiry: .clear)
        expect(db.lookup(Bytes(), touch: nil)?.value == .string("empty key"), "empty key")
    }

    /// The encoding the core records stays with the key through in-place edits and element writes, moves
    /// with SWAPDB, and is gone once the key is replaced, deleted (also by emptying it) or flushed.
    func encodingState() {
        let engine = makeEngine()
        let db = engine.database(0)
        expect(!db.setEncoding("absent", .converted), "setEncoding on a missing key is false")
        db.store("h", .hash(["f": "v"]), expiry: .clear)
        expect(db.metadata("h", touch: nil)?.encoding == .derived, "a stored value starts derived")
        expect(db.setEncoding("h", .converted), "setEncoding on an existing key")
        expect(db.lookup("h", touch: nil)?.encoding == .converted, "lookup reports it")
        _ = db.hashSet("h", [("g", "w")])
        db.update("h") { v in v = .hash(["f": "v", "g": "w", "x": "y"]) }
        expect(db.metadata("h", touch: nil)?.encoding == .converted, "kept by element writes and in-place edits")
        engine.swapDatabases(0, 1)
        expect(engine.database(1).metadata("h", touch: nil)?.encoding == .converted, "moves with SWAPDB")
        engine.swapDatabases(0, 1)
        db.store("h", .hash(["f": "v"]), expiry: .keep)
        expect(db.metadata("h", touch: nil)?.encoding == .derived, "a replaced value is derived again")
        db.setEncoding("h", .compact)
        _ = db.hashDelete("h", ["f"])
        _ = db.hashSet("h", [("f", "v")])
        expect(db.metadata("h", touch: nil)?.encoding == .derived, "a key emptied and created again starts over")
        db.setEncoding("h", .converted)
        db.remove("h")
        db.store("h", .string("s"), expiry: .clear)
        expect(db.lookup("h", touch: nil)?.encoding == .derived, "gone with the deleted key")
        db.setEncoding("h", .converted)
        db.removeAll()
        db.store("h", .string("s"), expiry: .clear)
        expect(db.lookup("h", touch: nil)?.encoding == .derived, "gone with FLUSHDB")
    }

    func accessMetadata() {
        let db = makeEngine().database(0)
        db.store("k", .string("v"), expiry: .clear)
        _ = db.lookup("k", touch: 1000)
        expect(db.lookup("k", touch: nil)?.lastAccess == 1000, "touch records access time")
        _ = db.lookup("k", touch: nil)
        expect(db.lookup("k", touch: nil)?.lastAccess == 1000, "lookup without touch changes nothing")
    }

    func metadataWithoutValues() {
        let db = makeEngine().database(0)
        for (key, value) in Self.samples { db.store(key, value, expiry: key == "h" ? .at(99) : .clear) }
        for (key, value) in Self.samples {
            let meta = db.metadata(key, touch: nil)
            expect(meta?.kind == value.kind, "metadata kind of \(key)")
            expect(meta?.count == value.elementCount, "metadata count of \(key): \(String(describing: meta?.count))")
        }
        expect(db.metadata("h", touch: nil)?.expireAt == 99, "metadata expiry")
        expect(db.metadata("missing", touch: nil) == nil, "metadata of missing key")
    }

    func hashOperations() {
        let db = makeEngine().database(0)
        expect(db.hashSet("h", [("a", "1"), ("b", "2"), ("a", "3")]) == 2, "hashSet counts new fields once")
        expect(db.hashGet("h", "a") == "3", "last write wins")
        expect(db.hashGet("h", "zz") == nil, "missing field")
        expect(db.hashSet("h", [("b", "x"), ("c", "y")]) == 1, "one new field")
        expect(db.metadata("h", touch: nil)?.count == 3, "hash count")
        let all = Dictionary(uniqueKeysWithValues: db.hashAll("h").map { ($0.field, $0.value) })
        expect(all == ["a": "3", "b": "x", "c": "y"], "hashAll \(all)")
        db.setExpiry("h", 500)
        expect(db.hashDelete("h", ["a", "nope"]) == 1, "hashDelete counts removed")
        expect(db.lookup("h", touch: nil)?.expireAt == 500, "element writes keep the expiry")
        expect(db.hashDelete("h", ["b", "c"]) == 2, "delete rest")
        expect(db.lookup("h", touch: nil) == nil, "empty hash removed")
        expect(db.volatileKeyCount == 0, "with its expiry")
    }

    func setOperations() {
        let db = makeEngine().database(0)
        expect(db.setAdd("s", ["a", "b", "a"]) == 2, "setAdd")
        expect(db.setAdd("s", ["b", "c"]) == 1, "setAdd existing")
        expect(db.setContains("s", "c") && !db.setContains("s", "z"), "setContains")
        expect(Set(db.setMembers("s")) == ["a", "b", "c"], "setMembers")
        expect(db.setRemove("s", ["a", "z"]) == 1, "setRemove")
        expect(db.setRemove("s", ["b", "c"]) == 2, "setRemove rest")
        expect(db.lookup("s", touch: nil) == nil, "empty set removed")
    }

    func listOperations() {
        let db = makeEngine().database(0)
        expect(db.listPush("l", ["a", "b", "c"], at: .head) == 3, "LPUSH length")
        expect(db.listRange("l", 0, 2) == ["c", "b", "a"], "LPUSH order")
        expect(db.listPush("l", ["d", "e"], at: .tail) == 5, "RPUSH length")
        expect(db.listRange("l", 0, 100) == ["c", "b", "a", "d", "e"], "range clamps")
        expect(db.listRange("l", 3, 2) == [], "empty range")
        expect(db.listRange("l", 7, 9) == [], "range past end")
        expect(db.listIndex("l", 3) == "d" && db.listIndex("l", 5) == nil, "listIndex")
        expect(db.listSet("l", 0, "C") && !db.listSet("l", 5, "x"), "listSet")
        expect(db.listPop("l", count: 2, from: .head) == ["C", "b"], "pop head")
        expect(db.listPop("l", count: 1, from: .tail) == ["e"], "pop tail")
        expect(db.metadata("l", touch: nil)?.count == 2, "length after pops")
        expect(db.listPop("l", count: 10, from: .tail) == ["d", "a"], "pop more than present")
        expect(db.lookup("l", touch: nil) == nil, "empty list removed")
    }

    func sortedSetOperations() {
        let db = makeEngine().database(0)
        expect(db.zsetAdd("z", [("a", 1), ("b", 2), ("c", 2), ("d", -1)]) == 4, "zsetAdd")
        expect(db.zsetAdd("z", [("a", 5)]) == 0, "score update is not new")
        expect(db.zsetScore("z", "a") == 5 && db.zsetScore("z", "nope") == nil, "zsetScore")
        expect(db.zsetRange("z", 0, -1 + 4).map(\.member) == ["d", "b", "c", "a"], "rank order, ties by member")
        expect(db.zsetRank("z", "c") == 2 && db.zsetRank("z", "x") == nil, "zsetRank")
        let mid = db.zsetRangeByScore("z", min: ScoreBound(2), max: ScoreBound(5, exclusive: true), reverse: false,
                                      offset: 0, limit: nil)
        expect(mid.map(\.member) == ["b", "c"], "by score [2,5) \(mid.map(\.member))")
        let rev = db.zsetRangeByScore("z", min: .negativeInfinity, max: .positiveInfinity, reverse: true, offset: 1,
                                      limit: 2)
        expect(rev.map(\.member) == ["c", "b"], "reverse with offset/limit \(rev.map(\.member))")
        let excl = db.zsetRangeByScore("z", min: ScoreBound(-1, exclusive: true), max: ScoreBound(2), reverse: false,
                                       offset: 0, limit: nil)
        expect(excl.map(\.member) == ["b", "c"], "exclusive min")
        expect(db.zsetCountByScore("z", min: ScoreBound(2), max: ScoreBound(5)) == 3, "zsetCountByScore")
        expect(db.zsetCountByScore("z", min: ScoreBound(2, exclusive: true), max: .positiveInfinity) == 1,
               "zsetCountByScore exclusive")
        expect(db.zsetCountByScore("nope", min: .negativeInfinity, max: .positiveInfinity) == 0, "count of a missing key")
        expect(db.zsetAdd("l", [("a", 0), ("b", 0), ("c", 0), ("d", 0)]) == 4, "zsetAdd equal scores")
        let lex = db.zsetRangeByLex("l", min: .inclusive("b"), max: .exclusive("d"), reverse: false, offset: 0, limit: nil)
        expect(lex.map(\.member) == ["b", "c"], "by lex [b,d) \(lex.map(\.member))")
        let revLex = db.zsetRangeByLex("l", min: .negativeInfinity, max: .positiveInfinity, reverse: true, offset: 1,
                                       limit: 2)
        expect(revLex.map(\.member) == ["c", "b"], "reverse lex with offset/limit \(revLex.map(\.member))")
        expect(db.zsetRangeByLex("l", min: .positiveInfinity, max: .negativeInfinity, reverse: false, offset: 0,
                                 limit: nil).isEmpty, "empty lex range")
        expect(db.zsetCountByLex("l", min: .exclusive("a"), max: .positiveInfinity) == 3, "zsetCountByLex")
        expect(db.zsetCountByLex("nope", min: .negativeInfinity, max: .positiveInfinity) == 0, "lex count of a missing key")
        expect(db.zsetRemove("z", ["a", "b", "q"]) == 2, "zsetRemove")
        expect(db.zsetRange("z", 0, 10).map(\.score) == [-1, 2], "scores kept")
        expect(db.zsetRemove("z", ["c", "d"]) == 2 && db.lookup("z", touch: nil) == nil, "empty zset removed")
    }

    func largeCollections() {
        let db = makeEngine().database(0)
        let n = 20_000
        expect(db.setAdd("big", (0..<n).map { Bytes("m\($0)") }) == n, "big set")
        expect(db.hashSet("bigh", (0..<n).map { (Bytes("f\($0)"), Bytes("v\($0)")) }) == n, "big hash")
        expect(db.listPush("bigl", (0..<n).map { Bytes("e\($0)") }, at: .tail) == n, "big list")
        expect(db.listIndex("bigl", n - 1) == Bytes("e\(n - 1)"), "big list tail")
        expect(db.hashGet("bigh", "f12345") == "v12345", "big hash field")
        expect(db.remove("big") && db.remove("bigh") && db.remove("bigl"), "delete big keys")
        expect(db.keyCount == 0, "all gone")
    }
}
