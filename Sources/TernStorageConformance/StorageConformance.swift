import DequeModule
import TernStorage

/// The behaviour every storage backend must have, written once and run by each backend's tests.
///
/// Failures are reported through `fail` (the test target passes XCTFail), so this target needs no XCTest.
/// A backend runs it the ways the server drives it: with `batched: true` each check's engines work inside
/// batches (`beginBatch` ... `endBatch`, one per simulated event-loop pass), as the server wraps every pass;
/// a backend that keeps its data gives `reopen`, and the close-and-reopen checks run against it.
public final class StorageConformance {
    public typealias Failure = (_ message: String, _ file: StaticString, _ line: UInt) -> Void

    private let makeEngine: () -> any StorageEngine
    private let fail: Failure
    private let batched: Bool
    private let reopen: ((any StorageEngine) -> any StorageEngine)?
    /// The engines the running check made (batched mode ends their batches at each pass and at the end).
    private var engines: [any StorageEngine] = []

    /// `makeEngine` returns a fresh, empty engine with 16 databases each time. `reopen` closes an engine and
    /// opens its data again (nil for a backend that keeps nothing, e.g. memory).
    public init(makeEngine: @escaping () -> any StorageEngine, batched: Bool = false,
                reopen: ((any StorageEngine) -> any StorageEngine)? = nil, fail: @escaping Failure) {
        self.makeEngine = makeEngine
        self.batched = batched
        self.reopen = reopen
        self.fail = fail
    }

    /// Every check, by name, so a test target can run them one per test method.
    public var checks: [(String, () -> Void)] {
        let all: [(String, () -> Void)] = [
            ("storeAndLookupEveryKind", storeAndLookupEveryKind),
            ("storeReturnsThePreviousExpiry", storeReturnsThePreviousExpiry),
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
            ("snapshotCursorResumesInSlices", snapshotCursorResumesInSlices),
            ("binaryAndLongKeys", binaryAndLongKeys),
            ("accessMetadata", accessMetadata),
            ("setAccessAndLFUCounter", setAccessAndLFUCounter),
            ("metadataWithoutValues", metadataWithoutValues),
            ("hashOperations", hashOperations),
            ("setOperations", setOperations),
            ("listOperations", listOperations),
            ("sortedSetOperations", sortedSetOperations),
            ("largeCollections", largeCollections),
            ("batchesAndUncommittedWrites", batchesAndUncommittedWrites),
            ("withoutIntermediateCommits", withoutIntermediateCommits),
            ("serverMetadata", serverMetadata),
            ("closeAndReopenKeepsEverything", closeAndReopenKeepsEverything),
        ]
        return all.map { name, check in
            (name, { [self] in
                engines = []
                check()
                finishBatches()
                engines = []
            })
        }
    }

    public func runAll() {
        for (_, check) in checks { check() }
    }

    private func expect(_ condition: Bool, _ message: @autoclosure () -> String,
                        file: StaticString = #filePath, line: UInt = #line) {
        if !condition { fail(message(), file, line) }
    }

    /// A fresh engine for the running check; in batched mode its first batch is open.
    private func fresh() -> any StorageEngine {
        let engine = makeEngine()
        if batched { engine.beginBatch() }
        engines.append(engine)
        return engine
    }

    private func freshDatabase() -> any StorageDatabase { fresh().database(0) }

    /// The end of one event-loop pass: batched mode commits each engine's batch and opens the next one.
    private func pass(file: StaticString = #filePath, line: UInt = #line) {
        guard batched else { return }
        for engine in engines {
            commit(engine, file: file, line: line)
            engine.beginBatch()
        }
    }

    private func commit(_ engine: any StorageEngine, file: StaticString = #filePath, line: UInt = #line) {
        do { try engine.endBatch() } catch { fail("endBatch failed: \(error)", file, line) }
    }

    private func finishBatches() {
        guard batched else { return }
        for engine in engines { commit(engine) }
    }

    static let samples: [(Bytes, StoredValue)] = {
        var z = SortedSetValue()
        z.set("a", score: 1.5)
        z.set("b", score: -2)
        var stream = StreamValue()
        for i in 1...150 {
            stream.append(id: StreamID(ms: UInt64(i), seq: 0), fields: ["f", Bytes(String(i))], limits: .defaults)
        }
        stream.delete(StreamID(ms: 3, seq: 0))
        stream.createGroup("g", lastID: StreamID(ms: 2, seq: 0), entriesRead: 2)
        stream.groups[0].addConsumer("c", seenTime: 1)
        stream.groups[0].assignPending(StreamID(ms: 1, seq: 0), to: "c", deliveryTime: 5, deliveryCount: 2)
        return [
            ("s", .string("hello")),
            ("l", .list(Deque(["x", "y", "z"]))),
            ("h", .hash(["f1": "v1", "f2": "v2"])),
            ("set", .set(["m1", "m2"])),
            ("z", .zset(z)),
            ("x", .stream(stream)),
        ]
    }()

    func storeAndLookupEveryKind() {
        let db = freshDatabase()
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
        let db = freshDatabase()
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
        let db = freshDatabase()
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
        var thrown = false
        do {
            try db.update("l") { (value: inout StoredValue?) throws -> Void in
                value = .string("clobbered")
                throw Boom()
            }
        } catch is Boom {
            thrown = true
        } catch {
            expect(false, "update threw another error: \(error)")
        }
        expect(thrown, "update rethrows the body's error")
        // A throwing update leaves the value as it was or as the body left it (a backend that edits in place
        // cannot undo), never anything else; the expiry stays.
        let after = db.lookup("l", touch: nil)
        expect(after?.value == .list(["a", "b"]) || after?.value == .string("clobbered"),
               "a throwing update leaves the old value or the body's: \(String(describing: after?.value))")
        expect(after?.expireAt == 7000, "a throwing update keeps the expiry")
        db.store("l2", .list(["a"]), expiry: .clear)
        do {
            try db.update("l2") { (value: inout StoredValue?) throws -> Void in
                value = nil
                throw Boom()
            }
        } catch {}
        let cleared = db.lookup("l2", touch: nil)
        expect(cleared == nil || cleared?.value == .list(["a"]),
               "a throwing update that cleared the value leaves the key absent or as it was: \(String(describing: cleared?.value))")
    }

    func emptyCollectionsAreRemoved() {
        let db = freshDatabase()
        db.store("s", .set(["only"]), expiry: .at(100))
        db.update("s") { value in value = .set([]) }
        expect(db.lookup("s", touch: nil) == nil, "empty set removed")
        expect(db.volatileKeyCount == 0, "and its expiry")
        db.store("t", .string(""), expiry: .clear)
        expect(db.lookup("t", touch: nil)?.value == .string(""), "empty string is a value")
        db.update("t") { value in value = nil }
        expect(db.lookup("t", touch: nil) == nil, "update to nil removes")
        db.store("x", .stream(StreamValue()), expiry: .clear)
        expect(db.lookup("x", touch: nil)?.value == .stream(StreamValue()), "an empty stream is a key")
    }

    func removeAndRemoveAll() {
        let db = freshDatabase()
        for i in 0..<100 { db.store(Bytes("k\(i)"), .string("v"), expiry: i % 2 == 0 ? .at(Int64(i)) : .clear) }
        expect(db.remove("k1"), "remove existing")
        expect(!db.remove("k1"), "remove again")
        expect(db.keyCount == 99, "count after remove")
        db.removeAll()
        expect(db.keyCount == 0 && db.volatileKeyCount == 0, "removeAll empties")
        expect(db.lookup("k2", touch: nil) == nil, "removeAll removed keys")
    }

    func databasesAreIndependentAndSwap() {
        let engine = fresh()
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
        let db = freshDatabase()
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
        expect(freshDatabase().scan(cursor: 0, count: 10) { _ in emptyVisits += 1 } == 0 && emptyVisits == 0,
               "empty scan")
    }

    func scanSurvivesConcurrentInserts() {
        let db = freshDatabase()
        let original = Set((0..<500).map { Bytes("o:\($0)") })
        for k in original { db.store(k, .string("v"), expiry: .clear) }
        var seen = Set<Bytes>()
        var cursor: UInt64 = 0
        var i = 0
        repeat {
            cursor = db.scan(cursor: cursor, count: 20) { seen.insert($0) }
            db.store(Bytes("new:\(i)"), .string("v"), expiry: .clear)
            i += 1
            pass()
        } while cursor != 0 && i < 100_000
        expect(original.isSubset(of: seen), "keys present throughout were all returned (missing \(original.subtracting(seen).count))")
    }

    func scanSurvivesConcurrentDeletes() {
        let db = freshDatabase()
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
            pass()
        } while cursor != 0 && i < 100_000
        expect(kept.isSubset(of: seen), "keys present throughout were all returned (missing \(kept.subtracting(seen).count))")
    }

    func randomKeyAndVolatileSampling() {
        let db = freshDatabase()
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
        let engine = fresh()
        let db = engine.database(0)
        for i in 0..<100 { db.store(Bytes("k\(i)"), .string(Bytes("v\(i)")), expiry: i == 0 ? .at(77) : .clear) }
        db.store("list", .list(["a"]), expiry: .clear)
        let snapshots = engine.snapshot()
        expect(snapshots.count == 16, "one snapshot per database")
        let snapshot = snapshots[0]
        pass()
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
        let db = freshDatabase()
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

    func accessMetadata() {
        let db = freshDatabase()
        db.store("k", .string("v"), expiry: .clear)
        _ = db.lookup("k", touch: 1000)
        expect(db.lookup("k", touch: nil)?.lastAccess == 1000, "touch records access time")
        _ = db.lookup("k", touch: nil)
        expect(db.lookup("k", touch: nil)?.lastAccess == 1000, "lookup without touch changes nothing")
    }

    func metadataWithoutValues() {
        let db = freshDatabase()
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
        let db = freshDatabase()
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
        let db = freshDatabase()
        expect(db.setAdd("s", ["a", "b", "a"]) == 2, "setAdd")
        expect(db.setAdd("s", ["b", "c"]) == 1, "setAdd existing")
        expect(db.setContains("s", "c") && !db.setContains("s", "z"), "setContains")
        expect(Set(db.setMembers("s")) == ["a", "b", "c"], "setMembers")
        expect(db.setRemove("s", ["a", "z"]) == 1, "setRemove")
        expect(db.setRemove("s", ["b", "c"]) == 2, "setRemove rest")
        expect(db.lookup("s", touch: nil) == nil, "empty set removed")
    }

    func listOperations() {
        let db = freshDatabase()
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
        let db = freshDatabase()
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
        let db = freshDatabase()
        let n = 20_000
        expect(db.setAdd("big", (0..<n).map { Bytes("m\($0)") }) == n, "big set")
        expect(db.hashSet("bigh", (0..<n).map { (Bytes("f\($0)"), Bytes("v\($0)")) }) == n, "big hash")
        expect(db.listPush("bigl", (0..<n).map { Bytes("e\($0)") }, at: .tail) == n, "big list")
        expect(db.listIndex("bigl", n - 1) == Bytes("e\(n - 1)"), "big list tail")
        expect(db.hashGet("bigh", "f12345") == "v12345", "big hash field")
        expect(db.remove("big") && db.remove("bigh") && db.remove("bigl"), "delete big keys")
        expect(db.keyCount == 0, "all gone")
    }

    // MARK: what the server relies on beyond reads and writes

    func storeReturnsThePreviousExpiry() {
        let db = freshDatabase()
        let new = db.store("k", .string("v"), expiry: .clear)
        expect(new == nil, "a new key: nil, got \(String(describing: new))")
        let plain = db.store("k", .string("v2"), expiry: .at(5000))
        expect(plain == .some(nil), "replaced a value without expiry: .some(nil), got \(String(describing: plain))")
        let timed = db.store("k", .list(["x"]), expiry: .keep)
        expect(timed == .some(5000), "replaced a value expiring at 5000, got \(String(describing: timed))")
        expect(db.lookup("k", touch: nil)?.expireAt == 5000, "KEEPTTL store kept it")
        db.remove("k")
        expect(db.store("k", .string("again"), expiry: .clear) == nil, "after remove the key is new again")
    }

    func snapshotCursorResumesInSlices() {
        let engine = fresh()
        let db = engine.database(0)
        var expected: [Bytes: (StoredValue, Int64?)] = [:]
        for i in 0..<300 {
            let key = Bytes("k\(i)")
            let value: StoredValue = i % 3 == 0 ? .hash([Bytes("f"): Bytes("\(i)")]) : .string(Bytes("v\(i)"))
            let expiry: Int64? = i % 5 == 0 ? Int64(100_000 + i) : nil
            db.store(key, value, expiry: expiry.map { .at($0) } ?? .clear)
            expected[key] = (value, expiry)
        }
        engine.database(3).store("other", .string("db3"), expiry: .clear)
        pass()
        let snapshots = engine.snapshot()
        let cursor = snapshots[0].makeCursor()
        var seen: [Bytes: (StoredValue, Int64?)] = [:]
        var slices = 0
        var more = true
        var i = 0
        while more && slices < 1000 {
            var inSlice = 0
            more = cursor.next(limit: 7) { key, value, expiry in
                if seen[key] != nil { self.expect(false, "cursor visited \(key) twice") }
                seen[key] = (value, expiry)
                inSlice += 1
            }
            expect(inSlice <= 7, "a slice visits at most its limit (\(inSlice))")
            slices += 1
            // The clients' commands between two slices: none of it may show in the walk.
            db.store(Bytes("k\(i)"), .string("changed"), expiry: .clear)
            db.remove(Bytes("k\(i + 1)"))
            db.store(Bytes("new\(i)"), .string("x"), expiry: .clear)
            i += 2
            pass()
        }
        expect(!more, "the walk ends")
        expect(slices >= 300 / 7, "resumable in slices (\(slices))")
        expect(seen.count == expected.count, "cursor visited \(seen.count) of \(expected.count)")
        for (key, (value, expiry)) in expected {
            expect(seen[key]?.0 == value && seen[key]?.1 == expiry, "cursor entry \(key) as at the snapshot")
        }
        var after = 0
        expect(!cursor.next(limit: 10) { _, _, _ in after += 1 } && after == 0, "a finished cursor visits nothing")
        let db3 = snapshots[3].makeCursor()
        var db3Keys: [Bytes] = []
        while db3.next(limit: 100, { key, _, _ in db3Keys.append(key) }) {}
        expect(db3Keys == ["other"], "each database's own cursor: \(db3Keys)")
        var emptyVisits = 0
        expect(!snapshots[5].makeCursor().next(limit: 10) { _, _, _ in emptyVisits += 1 } && emptyVisits == 0,
               "an empty database's cursor")
    }

    func setAccessAndLFUCounter() {
        let engine = fresh()
        let db = engine.database(0)
        engine.accessClock = 1234
        db.store("k", .string("v"), expiry: .clear)
        let record = db.lookup("k", touch: nil)
        expect(record?.lastAccess == 1234, "a new record is stamped with accessClock: \(String(describing: record?.lastAccess))")
        expect(record?.frequency == 5, "a new record starts at LFU_INIT_VAL 5: \(String(describing: record?.frequency))")
        expect(db.setAccess("k", lastAccess: 77, frequency: 200), "setAccess on an existing key")
        let set = db.lookup("k", touch: nil)
        expect(set?.lastAccess == 77 && set?.frequency == 200, "setAccess applied: \(String(describing: set))")
        expect(set?.value == .string("v"), "setAccess keeps the value")
        expect(!db.setAccess("missing", lastAccess: 1, frequency: 1), "setAccess on a missing key is false")
        expect(db.lookup("missing", touch: nil) == nil, "and does not create it")
        pass()
        let later = db.lookup("k", touch: nil)
        expect(later?.lastAccess == 77 && later?.frequency == 200, "access metadata survives the batch's commit")
        db.store("h", .hash(["f": "v"]), expiry: .at(9000))
        expect(db.setAccess("h", lastAccess: 5, frequency: 0), "setAccess on a collection")
        expect(db.lookup("h", touch: nil)?.expireAt == 9000 && db.lookup("h", touch: nil)?.frequency == 0,
               "setAccess keeps the expiry")
    }

    /// Batches as the server drives them: hasUncommittedWrites tells whether replies must wait for the commit.
    func batchesAndUncommittedWrites() {
        let engine = makeEngine()
        let db = engine.database(0)
        let commits = engine.batchMode != .none
        expect(!engine.hasUncommittedWrites, "nothing uncommitted at rest")
        engine.beginBatch()
        _ = db.lookup("nothing", touch: nil)
        _ = db.keyCount
        expect(!engine.hasUncommittedWrites, "a batch of reads has nothing to commit")
        db.store("a", .string("1"), expiry: .at(8000))
        expect(engine.hasUncommittedWrites == commits, "a write in a batch is uncommitted until endBatch (\(engine.batchMode))")
        expect(db.lookup("a", touch: nil)?.value == .string("1"), "a batch reads its own writes")
        expect(db.keyCount == 1 && db.volatileKeyCount == 1, "and counts them")
        commit(engine)
        expect(!engine.hasUncommittedWrites, "endBatch commits")
        expect(db.lookup("a", touch: nil)?.expireAt == 8000, "the committed write stays")
        for i in 0..<50 {
            engine.beginBatch()
            db.store(Bytes("k\(i)"), .string(Bytes("v\(i)")), expiry: .clear)
            if i % 2 == 1 { db.remove(Bytes("k\(i - 1)")) }
            commit(engine)
        }
        expect(db.keyCount == 26, "50 small batches: \(db.keyCount) keys")
        engine.beginBatch()
        commit(engine)
        expect(!engine.hasUncommittedWrites, "an empty batch")
        db.store("outside", .string("x"), expiry: .clear)
        expect(!engine.hasUncommittedWrites, "a write outside a batch is committed at once")
        expect(db.lookup("outside", touch: nil)?.value == .string("x"), "and visible")
        engine.close()
    }

    func withoutIntermediateCommits() {
        let engine = makeEngine()
        let db = engine.database(0)
        let commits = engine.batchMode != .none
        let n = 25_000  // more than a durable backend writes before it commits early on its own
        engine.beginBatch()
        var ran = false
        var alwaysUncommitted = true
        engine.withoutIntermediateCommits {
            ran = true
            for i in 0..<n {
                db.store(Bytes("k\(i)"), .string("v"), expiry: .clear)
                if commits && !engine.hasUncommittedWrites { alwaysUncommitted = false }
            }
        }
        expect(ran, "the body runs")
        expect(alwaysUncommitted, "no commit inside withoutIntermediateCommits, however many writes")
        expect(db.keyCount == n, "every write in the batch: \(db.keyCount)")
        struct Boom: Error {}
        var thrown = false
        do {
            try engine.withoutIntermediateCommits {
                db.store("before-throw", .string("x"), expiry: .clear)
                throw Boom()
            }
        } catch { thrown = error is Boom }
        expect(thrown, "withoutIntermediateCommits rethrows")
        commit(engine)
        expect(!engine.hasUncommittedWrites, "committed at endBatch")
        expect(db.keyCount == n + 1, "all of it committed: \(db.keyCount)")
        // Afterwards a batch behaves as before (may commit early again, and still ends committed).
        engine.beginBatch()
        for i in 0..<n { db.store(Bytes("k\(i)"), .string("w"), expiry: .clear) }
        commit(engine)
        expect(db.lookup(Bytes("k\(n - 1)"), touch: nil)?.value == .string("w"), "a later big batch")
        engine.close()
    }

    /// Server state kept with the data (the replication id and offset). A backend that keeps nothing
    /// (no `reopen`) answers nil.
    func serverMetadata() {
        let engine = makeEngine()
        let persists = reopen != nil
        expect(engine.serverMetadata("absent") == nil, "absent metadata is nil")
        engine.beginBatch()
        var current: [UInt8] = [1, 2, 3]
        engine.setServerMetadata("repl") { current }
        engine.database(0).store("k", .string("v"), expiry: .clear)
        current = [4, 5, 6]  // read when the batch commits, not when registered
        commit(engine)
        let read = engine.serverMetadata("repl")
        expect(persists ? read == [4, 5, 6] : read == nil, "metadata after the commit: \(String(describing: read))")
        engine.setServerMetadata("outside", [9, 9])
        let outside = engine.serverMetadata("outside")
        expect(persists ? outside == [9, 9] : outside == nil, "metadata set outside a batch: \(String(describing: outside))")
        engine.beginBatch()
        engine.setServerMetadata("repl", [7])
        commit(engine)  // a batch with metadata and no other write still commits it
        guard let reopen else { return }
        // The closed engine stays referenced until the reopened one is done (LMDB: one open handle per
        // environment at a time; releasing the old one closes its handle).
        let reopened = reopen(engine)
        withExtendedLifetime(engine) {
            let repl = reopened.serverMetadata("repl")
            expect(repl == [7], "metadata after reopen: \(String(describing: repl))")
            expect(reopened.serverMetadata("outside") == [9, 9], "the other name too")
            expect(reopened.database(0).lookup("k", touch: nil)?.value == .string("v"), "with the data it was committed with")
            reopened.close()
        }
    }

    /// close() then open the same store: every kind, expiries, access metadata, swapped databases, a batch
    /// left open (close commits it) and the counters.
    func closeAndReopenKeepsEverything() {
        guard let reopen else { return }
        let engine = makeEngine()
        engine.accessClock = 500
        let db = engine.database(0)
        for (key, value) in Self.samples { db.store(key, value, expiry: key == "h" ? .at(99_000) : .clear) }
        expect(db.setAccess("s", lastAccess: 42, frequency: 77), "setAccess")
        engine.database(3).store("x", .string("three"), expiry: .at(123_456))
        engine.swapDatabases(3, 4)
        expect(db.hashSet("big", (0..<1000).map { (Bytes("f\($0)"), Bytes("v\($0)")) }) == 1000, "big hash")
        db.store("gone", .string("x"), expiry: .clear)
        db.remove("gone")
        engine.beginBatch()
        db.store("open-batch", .string("committed by close"), expiry: .at(77_000))
        let reopened = reopen(engine)
        defer { withExtendedLifetime(engine) {} }  // see serverMetadata
        let rdb = reopened.database(0)
        for (key, value) in Self.samples {
            let record = rdb.lookup(key, touch: nil)
            expect(record?.value == value, "after reopen \(key): \(String(describing: record?.value))")
            expect(record?.expireAt == (key == "h" ? 99_000 : nil), "after reopen expiry of \(key)")
        }
        let s = rdb.lookup("s", touch: nil)
        expect(s?.lastAccess == 42 && s?.frequency == 77, "access metadata after reopen: \(String(describing: s))")
        expect(rdb.lookup("l", touch: nil)?.lastAccess == 500, "accessClock stamp after reopen")
        expect(rdb.hashAll("big").count == 1000 && rdb.hashGet("big", "f999") == "v999", "big hash after reopen")
        expect(rdb.lookup("gone", touch: nil) == nil, "a removed key stays removed")
        expect(rdb.lookup("open-batch", touch: nil)?.expireAt == 77_000, "close committed the open batch")
        expect(rdb.keyCount == Self.samples.count + 2, "keyCount after reopen: \(rdb.keyCount)")
        expect(rdb.volatileKeyCount == 2, "volatileKeyCount after reopen: \(rdb.volatileKeyCount)")
        expect(reopened.database(3).keyCount == 0, "SWAPDB kept: db3 empty")
        expect(reopened.database(4).lookup("x", touch: nil)?.expireAt == 123_456, "SWAPDB kept: db4 has x")
        reopened.close()
    }
}
