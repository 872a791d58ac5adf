import Foundation
import TernLMDB
import TernStorage
import XCTest

/// Rough throughput figures (prints only, asserts nothing): a benchmark, reported as skipped unless
/// TERN_LMDB_BENCH=1 (use `swift test -c release --filter LMDBThroughputTests`).
final class LMDBThroughputTests: LMDBTestCase {
    func testThroughput() throws {
        guard ProcessInfo.processInfo.environment["TERN_LMDB_BENCH"] == "1" else {
            throw XCTSkip("a benchmark, not a test: run with TERN_LMDB_BENCH=1")
        }
        for mode in [LMDBSyncMode.no, .always] {
            let engine = try makeEngine(mapSize: 64 << 20, sync: mode)
            let db = engine.database(0)
            let n = 100_000
            let keys = (0..<n).map { Bytes("key:\($0)") }
            func measure(_ label: String, _ ops: Int, _ body: () throws -> Void) rethrows {
                let start = DispatchTime.now().uptimeNanoseconds
                try body()
                let ns = Double(DispatchTime.now().uptimeNanoseconds - start)
                print("BENCH \(mode) \(label): \(Int(Double(ops) / ns * 1e9)) ops/s")
            }
            try measure("SET batch 100", n) {
                for i in stride(from: 0, to: n, by: 100) {
                    engine.beginBatch()
                    for j in i..<(i + 100) { db.store(keys[j], .string("value"), expiry: .clear) }
                    try engine.endBatch()
                }
            }
            measure("GET (metadata+lookup)", n) {
                for k in keys { _ = db.lookup(k, touch: 1) }
            }
            try measure("HSET 1 field, batch 100, one 100k hash", n) {
                for i in stride(from: 0, to: n, by: 100) {
                    engine.beginBatch()
                    for j in i..<(i + 100) { _ = db.hashSet("h", [(keys[j], "v")]) }
                    try engine.endBatch()
                }
            }
            try measure("LPUSH+RPOP, batch 100", n) {
                for i in stride(from: 0, to: n, by: 100) {
                    engine.beginBatch()
                    for j in i..<(i + 100) {
                        _ = db.listPush("l", [keys[j]], at: .head)
                        if j % 2 == 0 { _ = db.listPop("l", count: 1, from: .tail) }
                    }
                    try engine.endBatch()
                }
            }
            try measure("ZADD, batch 100", n) {
                for i in stride(from: 0, to: n, by: 100) {
                    engine.beginBatch()
                    for j in i..<(i + 100) { _ = db.zsetAdd("z", [(keys[j], Double(j % 1000))]) }
                    try engine.endBatch()
                }
            }
            measure("ZRANGEBYSCORE 10 from 100k", 10_000) {
                for i in 0..<10_000 {
                    _ = db.zsetRangeByScore("z", min: ScoreBound(Double(i % 1000)), max: .positiveInfinity,
                                            reverse: false, offset: 0, limit: 10)
                }
            }
            measure("SET auto-commit", 2_000) {
                for j in 0..<2_000 { db.store(keys[j], .string("v2"), expiry: .clear) }
            }
            print("BENCH \(mode) info \(engine.info())")
        }
    }
}
