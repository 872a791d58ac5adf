import Benchmark
import Foundation
import TernLMDB
import TernMemory
import TernStorage

/// A fresh LMDB environment in a temporary directory.
func makeLMDB(sync: LMDBSyncMode) -> LMDBEngine {
    let path = NSTemporaryDirectory() + "tern-bench-\(UUID().uuidString)"
    return try! LMDBEngine(path: path, databases: 1, mapSize: 1 << 30, sync: sync)
}

/// Memory backend: the snapshot producer must cost the same whatever the database size (structural sharing),
/// and element operations their documented complexity.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal, .throughput],
                                           maxDuration: .seconds(2), maxIterations: 1_000_000)

    for size in [1_000, 100_000, 1_000_000] {
        Benchmark("memory snapshot of \(size) keys") { (benchmark: Benchmark, db: any StorageDatabase) in
            for _ in benchmark.scaledIterations {
                blackHole(db.snapshot())
            }
        } setup: {
            let db = MemoryEngine(databases: 1).database(0)
            for i in 0..<size { db.store(Bytes("key:\(i)"), .string("value"), expiry: .clear) }
            return db
        }
    }

    Benchmark("memory SET+GET (100k keys)", configuration: .init(scalingFactor: .kilo)) { (benchmark: Benchmark, state: (any StorageDatabase, [Bytes])) in
        let (db, keys) = state
        for i in benchmark.scaledIterations {
            let key = keys[i % keys.count]
            db.store(key, .string("v"), expiry: .clear)
            blackHole(db.lookup(key, touch: nil))
        }
    } setup: {
        let db = MemoryEngine(databases: 1).database(0)
        let keys = (0..<100_000).map { Bytes("key:\($0)") }
        return (db, keys)
    }

    Benchmark("memory LPUSH+RPOP on a 100k list", configuration: .init(scalingFactor: .kilo)) { (benchmark: Benchmark, db: any StorageDatabase) in
        for _ in benchmark.scaledIterations {
            _ = db.listPush("l", ["x"], at: .head)
            blackHole(db.listPop("l", count: 1, from: .tail))
        }
    } setup: {
        let db = MemoryEngine(databases: 1).database(0)
        _ = db.listPush("l", (0..<100_000).map { Bytes("e\($0)") }, at: .tail)
        return db
    }

    // The same operations on LMDB. Writes run in batches of 100 per transaction (what group commit gives a
    // busy server); `.no` leaves syncing to the OS, `.always` syncs every batch.
    for sync in [LMDBSyncMode.no, .always] {
        Benchmark("lmdb(\(sync.rawValue)) SET, batches of 100", configuration: .init(scalingFactor: .kilo)) {
            (benchmark: Benchmark, state: (LMDBEngine, [Bytes])) in
            let (engine, keys) = state
            let db = engine.database(0)
            for i in benchmark.scaledIterations {
                if i % 100 == 0 { engine.beginBatch() }
                db.store(keys[i % keys.count], .string("v"), expiry: .clear)
                if i % 100 == 99 { try! engine.endBatch() }
            }
            try! engine.endBatch()
        } setup: {
            (makeLMDB(sync: sync), (0..<100_000).map { Bytes("key:\($0)") })
        }
    }

    Benchmark("lmdb GET (100k keys)", configuration: .init(scalingFactor: .kilo)) {
        (benchmark: Benchmark, state: (LMDBEngine, [Bytes])) in
        let (engine, keys) = state
        let db = engine.database(0)
        for i in benchmark.scaledIterations {
            blackHole(db.lookup(keys[i % keys.count], touch: nil))
        }
    } setup: {
        let engine = makeLMDB(sync: .no)
        let keys = (0..<100_000).map { Bytes("key:\($0)") }
        engine.beginBatch()
        for k in keys { engine.database(0).store(k, .string("value"), expiry: .clear) }
        try! engine.endBatch()
        return (engine, keys)
    }

    Benchmark("lmdb HSET+HGET in a 100k-field hash", configuration: .init(scalingFactor: .kilo)) {
        (benchmark: Benchmark, engine: LMDBEngine) in
        let db = engine.database(0)
        engine.beginBatch()
        for i in benchmark.scaledIterations {
            let field = Bytes("f\(i % 100_000)")
            _ = db.hashSet("h", [(field, "x")])
            blackHole(db.hashGet("h", field))
        }
        try! engine.endBatch()
    } setup: {
        let engine = makeLMDB(sync: .no)
        engine.beginBatch()
        _ = engine.database(0).hashSet("h", (0..<100_000).map { (Bytes("f\($0)"), Bytes("v")) })
        try! engine.endBatch()
        return engine
    }

    Benchmark("lmdb snapshot (read transaction) of 100k keys") { (benchmark: Benchmark, engine: LMDBEngine) in
        for _ in benchmark.scaledIterations {
            blackHole(engine.snapshot())
        }
    } setup: {
        let engine = makeLMDB(sync: .no)
        engine.beginBatch()
        for i in 0..<100_000 { engine.database(0).store(Bytes("key:\(i)"), .string("value"), expiry: .clear) }
        try! engine.endBatch()
        return engine
    }
}
