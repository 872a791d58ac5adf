import Foundation
import TernLMDB
import TernStorage
import TernStorageConformance
import XCTest

/// A fresh temporary directory per engine, removed in tearDown.
class LMDBTestCase: XCTestCase {
    var directories: [String] = []

    func makeDirectory() -> String {
        let dir = NSTemporaryDirectory() + "tern-lmdb-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        directories.append(dir)
        return dir
    }

    func makeEngine(_ dir: String? = nil, mapSize: Int = 8 << 20, maxSize: Int = 0,
                    sync: LMDBSyncMode = .no) throws -> LMDBEngine {
        try LMDBEngine(path: dir ?? makeDirectory(), databases: 16, mapSize: mapSize, maxSize: maxSize, sync: sync)
    }

    override func tearDown() {
        for dir in directories { try? FileManager.default.removeItem(atPath: dir) }
        directories = []
        super.tearDown()
    }
}

/// The shared storage conformance suite against the LMDB backend: in auto-commit mode, in batches (as the
/// server drives it: every pass of the event loop is one batch), and from a tiny map (every check also
/// exercises map growth); close-and-reopen checks reopen the same directory.
final class LMDBConformanceTests: LMDBTestCase {
    func runSuite(sync: LMDBSyncMode, mapSize: Int, batched: Bool) {
        var current = ""
        let suite = StorageConformance(
            makeEngine: { try! self.makeEngine(mapSize: mapSize, sync: sync) },
            batched: batched,
            reopen: { engine in
                let lmdb = engine as! LMDBEngine
                lmdb.close()
                return try! LMDBEngine(path: lmdb.path, databases: lmdb.databaseCount, mapSize: mapSize, sync: sync)
            },
            fail: { message, file, line in XCTFail("[\(current)] \(message)", file: file, line: line) })
        for (name, check) in suite.checks {
            current = name
            check()
        }
    }

    func testConformance() {
        runSuite(sync: .no, mapSize: 8 << 20, batched: false)
    }

    func testConformanceInBatches() {
        runSuite(sync: .no, mapSize: 8 << 20, batched: true)
    }

    /// Durable batches (each commit synced), as `lmdb-sync always` runs.
    func testConformanceInDurableBatches() {
        runSuite(sync: .always, mapSize: 8 << 20, batched: true)
    }

    /// The same suite from a 256 KB map: every check also exercises map growth.
    func testConformanceFromTinyMap() {
        runSuite(sync: .no, mapSize: 256 << 10, batched: false)
    }

    func testConformanceFromTinyMapInBatches() {
        runSuite(sync: .no, mapSize: 256 << 10, batched: true)
    }
}
