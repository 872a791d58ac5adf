import Benchmark
import TernMemory
import TernStorage

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
}
