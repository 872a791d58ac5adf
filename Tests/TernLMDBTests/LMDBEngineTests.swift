import Foundation
import TernLMDB
import TernStorage
import XCTest

final class LMDBEngineTests: LMDBTestCase {
    // MARK: long names

    func testLongKeysFieldsAndMembers() throws {
        let engine = try makeEngine()
        let db = engine.database(0)
        let longKey = Bytes([UInt8](repeating: 0x61, count: 100_000))
        var otherLongKey = longKey.array
        otherLongKey[99_999] = 0x62  // same 400-byte prefix, different hash
        let field = Bytes([UInt8](repeating: 0x66, count: 100_000))
        var field2 = field.array
        field2[50_000] = 0x67
        XCTAssertEqual(db.hashSet(longKey, [(field, "v1"), (Bytes(field2), "v2"), ("short", "v3")]), 3)
        XCTAssertEqual(db.hashGet(longKey, field), "v1")
        XCTAssertEqual(db.hashGet(longKey, Bytes(field2)), "v2")
        XCTAssertNil(db.hashGet(Bytes(otherLongKey), field))
        db.store(Bytes(otherLongKey), .string("other"), expiry: .at(5))
        XCTAssertEqual(db.lookup(Bytes(otherLongKey), touch: nil)?.value, .string("other"))
        XCTAssertEqual(db.keyCount, 2)
        let all = Dictionary(uniqueKeysWithValues: db.hashAll(longKey).map { ($0.field, $0.value) })
        XCTAssertEqual(all, [field: "v1", Bytes(field2): "v2", "short": "v3"])
        XCTAssertEqual(db.sampleVolatile(10).map(\.key), [Bytes(otherLongKey)])

        // Sets and sorted sets with long members.
        XCTAssertEqual(db.setAdd("s", [field, Bytes(field2), field]), 2)
        XCTAssertTrue(db.setContains("s", Bytes(field2)))
        XCTAssertEqual(Set(db.setMembers("s")), [field, Bytes(field2)])
        XCTAssertEqual(db.zsetAdd("z", [(field, 2), (Bytes(field2), 1), ("a", 3)]), 3)
        XCTAssertEqual(db.zsetScore("z", field), 2)
        XCTAssertEqual(db.zsetRank("z", field), 1)
        XCTAssertEqual(db.zsetRange("z", 0, 2).map(\.member), [Bytes(field2), field, "a"])

        // Scan returns the full names.
        var seen = Set<Bytes>()
        var cursor: UInt64 = 0
        repeat { cursor = db.scan(cursor: cursor, count: 1) { seen.insert($0) } } while cursor != 0
        XCTAssertEqual(seen, [longKey, Bytes(otherLongKey), "s", "z"])

        XCTAssertEqual(db.hashDelete(longKey, [field]), 1)
        XCTAssertNil(db.hashGet(longKey, field))
        XCTAssertEqual(db.hashGet(longKey, Bytes(field2)), "v2")
        XCTAssertTrue(db.remove(Bytes(otherLongKey)))
        XCTAssertEqual(db.volatileKeyCount, 0)
        XCTAssertEqual(engine.info().expiryRecords, 0)
    }

    /// Every long name hashes alike: the collision index keeps them apart, also across deletes (holes).
    func testHashCollisionsOfLongNames() throws {
        LMDBEngine._collideLongNameHashes = true
        defer { LMDBEngine._collideLongNameHashes = false }
        let engine = try makeEngine()
        let db = engine.database(0)
        let prefix = [UInt8](repeating: 0x6B, count: 450)
        let keys = (0..<5).map { Bytes(prefix + [UInt8($0)]) }
        for (i, k) in keys.enumerated() { db.store(k, .string(Bytes("v\(i)")), expiry: .clear) }
        XCTAssertEqual(db.keyCount, 5)
        for (i, k) in keys.enumerated() { XCTAssertEqual(db.lookup(k, touch: nil)?.value, .string(Bytes("v\(i)"))) }
        XCTAssertTrue(db.remove(keys[1]))
        XCTAssertNil(db.lookup(keys[1], touch: nil))
        for i in [0, 2, 3, 4] { XCTAssertEqual(db.lookup(keys[i], touch: nil)?.value, .string(Bytes("v\(i)"))) }
        db.store(keys[1], .string("again"), expiry: .clear)
        XCTAssertEqual(db.lookup(keys[1], touch: nil)?.value, .string("again"))
        XCTAssertEqual(db.keyCount, 5)
        // Fields collide too.
        let fields = (0..<4).map { Bytes(prefix + [UInt8($0), 9]) }
        XCTAssertEqual(db.hashSet("h", fields.map { ($0, $0) }), 4)
        XCTAssertEqual(db.hashDelete("h", [fields[0]]), 1)
        XCTAssertEqual(db.hashSet("h", [(fields[3], "x")]), 0)
        XCTAssertEqual(db.hashGet("h", fields[3]), "x")
        XCTAssertEqual(db.hashGet("h", fields[2]), fields[2])
        XCTAssertEqual(db.metadata("h", touch: nil)?.count, 3)
    }

    // MARK: persistence

    func testReopenKeepsEverything() throws {
        let dir = makeDirectory()
        var z = SortedSetValue()
        z.set("m", score: 1.5)
        do {
            let engine = try makeEngine(dir, sync: .always)
            let db0 = engine.database(0)
            db0.store("s", .string("v"), expiry: .at(1_700_000_000_000))
            db0.store("big", .string(Bytes([UInt8](repeating: 1, count: 10_000))), expiry: .clear)
            XCTAssertEqual(db0.listPush("l", ["a", "b"], at: .tail), 2)
            XCTAssertEqual(db0.listPush("l", ["z"], at: .head), 3)
            db0.store("z", .zset(z), expiry: .clear)
            engine.database(3).store("three", .string("3"), expiry: .clear)
            engine.database(4).store("gone", .string("x"), expiry: .at(9))
            engine.database(4).removeAll()
            engine.swapDatabases(3, 5)
            _ = db0.lookup("s", touch: 12345)
            engine.close()
        }
        let engine = try makeEngine(dir, sync: .always)
        let db0 = engine.database(0)
        XCTAssertEqual(db0.keyCount, 4)
        XCTAssertEqual(db0.volatileKeyCount, 1)
        let s = db0.lookup("s", touch: nil)
        XCTAssertEqual(s?.value, .string("v"))
        XCTAssertEqual(s?.expireAt, 1_700_000_000_000)
        XCTAssertEqual(s?.lastAccess, 12345, "access time flushed on close")
        XCTAssertEqual(db0.metadata("big", touch: nil)?.count, 10_000)
        XCTAssertEqual(db0.listRange("l", 0, 10), ["z", "a", "b"])
        XCTAssertEqual(db0.listPush("l", ["c"], at: .tail), 4)
        XCTAssertEqual(db0.zsetScore("z", "m"), 1.5)
        XCTAssertEqual(db0.sampleVolatile(5).map(\.expireAt), [1_700_000_000_000])
        XCTAssertEqual(engine.database(5).lookup("three", touch: nil)?.value, .string("3"), "db mapping persisted")
        XCTAssertEqual(engine.database(3).keyCount, 0)
        XCTAssertEqual(engine.database(4).keyCount, 0)
        XCTAssertEqual(engine.database(4).volatileKeyCount, 0)
        XCTAssertNil(engine.database(4).lookup("gone", touch: nil))
        // New keys get versions past the persisted ones (no collision with existing elements).
        XCTAssertEqual(db0.hashSet("h", [("f", "v")]), 1)
        XCTAssertEqual(db0.listRange("l", 0, 10), ["z", "a", "b", "c"])
        XCTAssertEqual(db0.zsetRange("z", 0, 5).map(\.member), ["m"])
    }

    // MARK: map growth and limits

    func testMapGrowsFromOneMegabyte() throws {
        let dir = makeDirectory()
        let engine = try makeEngine(dir, mapSize: 1 << 20)
        let db = engine.database(0)
        let value = Bytes([UInt8](repeating: 0x5A, count: 1000))
        // Auto-commit writes.
        for i in 0..<4000 { db.store(Bytes("k\(i)"), .string(value), expiry: .clear) }
        // One batch that outgrows the map several times over (abort, grow, replay).
        engine.beginBatch()
        for i in 0..<6000 { db.store(Bytes("b\(i)"), .string(value), expiry: .clear) }
        XCTAssertEqual(db.hashSet("h", (0..<20_000).map { (Bytes("f\($0)"), value) }), 20_000)
        try engine.endBatch()
        XCTAssertNil(engine.takeLMDBWriteFailure())
        XCTAssertGreaterThan(engine.mapSize, 16 << 20)
        XCTAssertEqual(db.keyCount, 10_001)
        XCTAssertEqual(db.lookup("k3999", touch: nil)?.value, .string(value))
        XCTAssertEqual(db.lookup("b5999", touch: nil)?.value, .string(value))
        XCTAssertEqual(db.hashGet("h", "f19999"), value)
        let info = engine.info()
        XCTAssertEqual(info.mapSize, engine.mapSize)
        XCTAssertGreaterThan(info.usedBytes, 20 << 20)
        XCTAssertEqual(info.path, dir)
        engine.close()
        let reopened = try makeEngine(dir, mapSize: 1 << 20)
        XCTAssertEqual(reopened.database(0).keyCount, 10_001)
        XCTAssertGreaterThan(reopened.mapSize, 16 << 20, "an existing environment keeps its size")
    }

    func testMaxSizeRefusesWithoutHarm() throws {
        let dir = makeDirectory()
        let engine = try makeEngine(dir, mapSize: 1 << 20, maxSize: 4 << 20)
        let db = engine.database(0)
        let value = Bytes([UInt8](repeating: 7, count: 2000))
        var stored = 0
        while stored < 10_000 {
            db.store(Bytes("k\(stored)"), .string(value), expiry: .clear)
            if engine.takeLMDBWriteFailure() != nil { break }
            stored += 1
        }
        XCTAssertLessThan(stored, 10_000, "the limit was reached")
        XCTAssertGreaterThan(stored, 500)
        XCTAssertEqual(engine.mapSize, 4 << 20)
        XCTAssertEqual(db.keyCount, stored)
        XCTAssertNil(db.lookup(Bytes("k\(stored)"), touch: nil), "the refused write left nothing")
        // A refused big write in a batch keeps the batch's earlier writes and everything before.
        engine.beginBatch()
        XCTAssertTrue(db.remove("k0"))
        XCTAssertTrue(db.remove("k1"))
        XCTAssertEqual(db.hashSet("huge", (0..<5000).map { (Bytes("f\($0)"), value) }), 0, "refused")
        let failure = engine.takeLMDBWriteFailure()
        XCTAssertEqual(failure, .full(maxSize: 4 << 20))
        XCTAssertTrue(failure?.description.hasPrefix("ERR ") ?? false)
        XCTAssertNil(db.lookup("huge", touch: nil))
        XCTAssertNil(db.lookup("k0", touch: nil), "earlier batch writes replayed")
        try engine.endBatch()
        XCTAssertEqual(db.keyCount, stored - 2)
        for i in stride(from: 2, to: stored, by: 97) {
            XCTAssertEqual(db.lookup(Bytes("k\(i)"), touch: nil)?.value, .string(value))
        }
        engine.close()
        let reopened = try makeEngine(dir, mapSize: 1 << 20, maxSize: 4 << 20)
        XCTAssertEqual(reopened.database(0).keyCount, stored - 2)
        XCTAssertNil(reopened.database(0).lookup("huge", touch: nil))
    }

    // MARK: lazy cleanup

    func testDeletingAHugeHashIsLazy() throws {
        let engine = try makeEngine(mapSize: 64 << 20)
        let db = engine.database(0)
        let n = 100_000
        XCTAssertEqual(db.hashSet("h", (0..<n).map { (Bytes("field:\($0)"), Bytes("value:\($0)")) }), n)
        XCTAssertEqual(engine.info().elementRecords, n)
        // remove does not walk the elements (no timing: the element records still being there says so).
        XCTAssertTrue(db.remove("h"))
        XCTAssertNil(db.lookup("h", touch: nil))
        XCTAssertEqual(db.keyCount, 0)
        XCTAssertEqual(engine.info().elementRecords, n, "elements are garbage until collected")
        XCTAssertEqual(engine.info().pendingGarbage, 1)
        // A new key of the same name doesn't see the old elements.
        XCTAssertEqual(db.hashSet("h", [("field:1", "new")]), 1)
        XCTAssertEqual(db.hashAll("h").count, 1)
        var rounds = 0
        while engine.collectGarbage(budget: 10_000) { rounds += 1 }
        XCTAssertGreaterThanOrEqual(rounds, 9, "bounded steps")
        XCTAssertEqual(engine.info().elementRecords, 1)
        XCTAssertEqual(engine.info().pendingGarbage, 0)
        XCTAssertEqual(db.hashGet("h", "field:1"), "new")

        // Overwriting a big list and flushing a database are lazy too.
        XCTAssertEqual(db.listPush("l", (0..<10_000).map { Bytes("e\($0)") }, at: .tail), 10_000)
        db.store("l", .string("now a string"), expiry: .clear)
        XCTAssertEqual(engine.info().elementRecords, 10_001)
        db.store("k", .string("v"), expiry: .at(10))
        db.removeAll()
        XCTAssertEqual(db.keyCount, 0)
        XCTAssertEqual(db.volatileKeyCount, 0)
        XCTAssertNil(db.lookup("l", touch: nil))
        XCTAssertEqual(db.sampleVolatile(10).count, 0)
        while engine.collectGarbage(budget: 1000) {}
        let info = engine.info()
        XCTAssertEqual(info.elementRecords, 0)
        XCTAssertEqual(info.keyRecords, 0)
        XCTAssertEqual(info.expiryRecords, 0)
    }

    // MARK: batches and sync modes

    func testBatchesAndSyncModes() throws {
        for mode in LMDBSyncMode.allCases {
            let dir = makeDirectory()
            do {
                let engine = try makeEngine(dir, sync: mode)
                let db = engine.database(0)
                engine.beginBatch()
                db.store("a", .string("1"), expiry: .clear)
                XCTAssertEqual(db.listPush("l", ["x"], at: .tail), 1)
                XCTAssertEqual(db.lookup("a", touch: nil)?.value, .string("1"), "reads see the open batch")
                XCTAssertEqual(db.keyCount, 2)
                try engine.endBatch()
                let txnAfterFirst = engine.info().lastTransactionID
                engine.beginBatch()
                for i in 0..<100 { db.store(Bytes("k\(i)"), .string("v"), expiry: .clear) }
                try engine.endBatch()
                XCTAssertEqual(engine.info().lastTransactionID, txnAfterFirst + 1, "one commit per batch")
                // Outside a batch each write commits.
                db.store("b", .string("2"), expiry: .clear)
                XCTAssertEqual(engine.info().lastTransactionID, txnAfterFirst + 2)
                // A batch of reads commits nothing.
                engine.beginBatch()
                _ = db.lookup("a", touch: 99)
                try engine.endBatch()
                XCTAssertEqual(engine.info().lastTransactionID, txnAfterFirst + 2)
                try engine.syncNow()
                XCTAssertEqual(engine.info().syncMode, mode)
                engine.close()
            }
            let engine = try makeEngine(dir, sync: mode)
            XCTAssertEqual(engine.database(0).keyCount, 103, "\(mode)")
            XCTAssertEqual(engine.database(0).lookup("a", touch: nil)?.lastAccess, 99, "\(mode)")
        }
    }

    // MARK: snapshots

    func testSnapshotIsolationAcrossThreadsAndGrowth() throws {
        let engine = try makeEngine(mapSize: 1 << 20)
        let db = engine.database(0)
        for i in 0..<500 { db.store(Bytes("k\(i)"), .string(Bytes("v\(i)")), expiry: .clear) }
        XCTAssertEqual(db.hashSet("h", (0..<1000).map { (Bytes("f\($0)"), "x") }), 1000)
        let snapshots = engine.snapshot()
        let snapshot = snapshots[0]
        XCTAssertEqual(snapshot.count, 501)
        XCTAssertEqual(engine.info().readers, 2, "the snapshot holds a reader slot")
        // Writes after the snapshot, enough to grow the map while the snapshot is open.
        let value = Bytes([UInt8](repeating: 1, count: 1000))
        let sizeBefore = engine.mapSize
        for i in 0..<3000 { db.store(Bytes("new\(i)"), .string(value), expiry: .clear) }
        db.store("k0", .string("changed"), expiry: .clear)
        XCTAssertTrue(db.remove("h"))
        while engine.collectGarbage(budget: 10_000) {}
        XCTAssertGreaterThan(engine.mapSize, sizeBefore)
        // Iterate on another thread.
        var contents: [Bytes: StoredValue] = [:]
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: [Bytes: StoredValue] = [:]
        Thread.detachNewThread {
            var local: [Bytes: StoredValue] = [:]
            snapshot.forEach { key, value, _ in
                local[key] = value
                return true
            }
            result = local
            done.signal()
        }
        done.wait()
        contents = result
        XCTAssertEqual(contents.count, 501)
        XCTAssertEqual(contents["k0"], .string("v0"))
        XCTAssertNil(contents["new0"])
        if case .hash(let h)? = contents["h"] { XCTAssertEqual(h.count, 1000) } else { XCTFail("hash in snapshot") }
        XCTAssertEqual(snapshots[1].count, 0)
        XCTAssertEqual(db.keyCount, 3500)
    }

    /// A snapshot iterated over and over on another thread while the writer fills and remaps the map.
    func testSnapshotReadersDuringMapGrowth() throws {
        let engine = try makeEngine(mapSize: 1 << 20)
        let db = engine.database(0)
        for i in 0..<300 { db.store(Bytes("k\(i)"), .list(["a", "b", Bytes("\(i)")]), expiry: .clear) }
        let snapshot = db.snapshot()
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var counts: [Int] = []
        Thread.detachNewThread {
            for _ in 0..<30 {
                var n = 0
                snapshot.forEach { _, value, _ in
                    if case .list(let l) = value, l.count == 3 { n += 1 }
                    return true
                }
                counts.append(n)
            }
            done.signal()
        }
        let value = Bytes([UInt8](repeating: 3, count: 700))
        let sizeBefore = engine.mapSize
        engine.beginBatch()
        for i in 0..<8000 {
            db.store(Bytes("n\(i)"), .string(value), expiry: .clear)
            if i % 100 == 0 {
                try engine.endBatch()
                engine.beginBatch()
            }
        }
        try engine.endBatch()
        done.wait()
        XCTAssertGreaterThan(engine.mapSize, sizeBefore)
        XCTAssertEqual(counts, Array(repeating: 300, count: 30))
        XCTAssertEqual(db.keyCount, 8300)
    }

    func testSnapshotCommitsOpenBatchFirst() throws {
        let engine = try makeEngine()
        let db = engine.database(0)
        engine.beginBatch()
        db.store("a", .string("1"), expiry: .clear)
        let snapshot = db.snapshot()
        db.store("b", .string("2"), expiry: .clear)
        try engine.endBatch()
        var keys: [Bytes] = []
        snapshot.forEach { k, _, _ in
            keys.append(k)
            return true
        }
        XCTAssertEqual(keys, ["a"])
    }

    // MARK: element operations against a model

    func testListsAndSortedSetsAgainstModel() throws {
        let engine = try makeEngine()
        let db = engine.database(0)
        var rng = SystemRandomNumberGenerator()
        var list: [Bytes] = []
        var zset = SortedSetValue()
        engine.beginBatch()
        for step in 0..<3000 {
            switch Int.random(in: 0..<8, using: &rng) {
            case 0, 1:
                let values = (0..<Int.random(in: 1...4)).map { _ in Bytes("v\(Int.random(in: 0..<1000))") }
                let end: ListEnd = Bool.random() ? .head : .tail
                for v in values { if end == .head { list.insert(v, at: 0) } else { list.append(v) } }
                XCTAssertEqual(db.listPush("l", values, at: end), list.count)
            case 2:
                let n = Int.random(in: 1...3)
                let end: ListEnd = Bool.random() ? .head : .tail
                var expected: [Bytes] = []
                for _ in 0..<min(n, list.count) { expected.append(end == .head ? list.removeFirst() : list.removeLast()) }
                XCTAssertEqual(db.listPop("l", count: n, from: end), expected)
            case 3:
                if !list.isEmpty {
                    let i = Int.random(in: 0..<list.count)
                    XCTAssertEqual(db.listIndex("l", i), list[i])
                    let a = Int.random(in: 0..<list.count), b = Int.random(in: 0..<list.count + 3)
                    XCTAssertEqual(db.listRange("l", a, b), a <= b ? Array(list[a...min(b, list.count - 1)]) : [])
                    XCTAssertTrue(db.listSet("l", i, Bytes("set\(step)")))
                    list[i] = Bytes("set\(step)")
                }
            case 4, 5:
                let pairs = (0..<Int.random(in: 1...3)).map { _ in
                    (Bytes("m\(Int.random(in: 0..<200))"), Double(Int.random(in: -20...20)) / 2)
                }
                var added = 0
                for (m, s) in pairs where zset.set(m, score: s) { added += 1 }
                XCTAssertEqual(db.zsetAdd("z", pairs), added)
            case 6:
                let m = Bytes("m\(Int.random(in: 0..<200))")
                XCTAssertEqual(db.zsetRemove("z", [m]), zset.remove(m) ? 1 : 0)
            default:
                let m = Bytes("m\(Int.random(in: 0..<200))")
                XCTAssertEqual(db.zsetRank("z", m), zset.rank(of: m))
                if zset.count > 0 {
                    let a = Int.random(in: 0..<zset.count), b = Int.random(in: a..<zset.count + 2)
                    XCTAssertEqual(db.zsetRange("z", a, b).map(\.member),
                                   zset.ordered[a...min(b, zset.count - 1)].map(\.member))
                }
                let lo = Double(Int.random(in: -22...22)) / 2, hi = Double(Int.random(in: -22...22)) / 2
                let minB = ScoreBound(lo, exclusive: Bool.random()), maxB = ScoreBound(hi, exclusive: Bool.random())
                let reverse = Bool.random()
                let offset = Int.random(in: 0...3)
                let limit: Int? = Bool.random() ? nil : Int.random(in: 0...5)
                var expected = zset.ordered.filter {
                    (minB.exclusive ? $0.score > lo : $0.score >= lo) && (maxB.exclusive ? $0.score < hi : $0.score <= hi)
                }
                if reverse { expected.reverse() }
                let window = expected.dropFirst(offset).prefix(limit ?? Int.max)
                let got = db.zsetRangeByScore("z", min: minB, max: maxB, reverse: reverse, offset: offset, limit: limit)
                XCTAssertEqual(got.map(\.member), window.map(\.member), "range \(minB) \(maxB) rev \(reverse)")
                XCTAssertEqual(got.map(\.score), window.map(\.score))
            }
            if step % 500 == 0 {
                try engine.endBatch()
                engine.beginBatch()
            }
            XCTAssertEqual(db.metadata("l", touch: nil)?.count, list.isEmpty ? nil : list.count)
            XCTAssertEqual(db.metadata("z", touch: nil)?.count, zset.count == 0 ? nil : zset.count)
        }
        try engine.endBatch()
        if !list.isEmpty { XCTAssertEqual(db.lookup("l", touch: nil)?.value, .list(.init(list))) }
        if zset.count > 0 { XCTAssertEqual(db.lookup("z", touch: nil)?.value, .zset(zset)) }
    }

    func testScoresAndEdgeValues() throws {
        let engine = try makeEngine()
        let db = engine.database(0)
        XCTAssertEqual(db.zsetAdd("z", [("inf", .infinity), ("ninf", -.infinity), ("negzero", -0.0), ("zero", 0),
                                        ("tiny", -Double.leastNonzeroMagnitude), ("big", -1e300)]), 6)
        XCTAssertEqual(db.zsetRange("z", 0, 10).map(\.member), ["ninf", "big", "tiny", "negzero", "zero", "inf"])
        XCTAssertEqual(db.zsetScore("z", "negzero")?.sign, .minus)
        if case .zset(let z)? = db.lookup("z", touch: nil)?.value {
            XCTAssertEqual(z.score(of: "negzero")?.sign, .minus)
            XCTAssertEqual(z.ordered.map(\.member), ["ninf", "big", "tiny", "negzero", "zero", "inf"])
        } else { XCTFail() }
        let zeros = db.zsetRangeByScore("z", min: ScoreBound(0), max: ScoreBound(0), reverse: false, offset: 0, limit: nil)
        XCTAssertEqual(zeros.map(\.member), ["negzero", "zero"])
        XCTAssertEqual(db.zsetRank("z", "inf"), 5)
        XCTAssertEqual(db.zsetRank("z", "ninf"), 0)
        // Empty key, empty field, binary bytes.
        XCTAssertEqual(db.hashSet(Bytes(), [(Bytes(), Bytes([0, 255]))]), 1)
        XCTAssertEqual(db.hashGet(Bytes(), Bytes()), Bytes([0, 255]))
        XCTAssertEqual(db.setAdd("s", [Bytes(), Bytes([0])]), 2)
        XCTAssertEqual(Set(db.setMembers("s")), [Bytes(), Bytes([0])])
    }

    func testRandomKeyCoversManyKeys() throws {
        let engine = try makeEngine()
        let db = engine.database(0)
        for i in 0..<1000 { db.store(Bytes("user:\(i * 7919 % 100_000)"), .string("v"), expiry: .clear) }
        var seen = Set<Bytes>()
        for _ in 0..<3000 { if let k = db.randomKey() { seen.insert(k) } }
        XCTAssertGreaterThan(seen.count, 500)
        XCTAssertNil(engine.database(1).randomKey())
    }
}
