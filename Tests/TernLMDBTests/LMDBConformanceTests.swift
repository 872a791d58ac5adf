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

/// The shared storage conformance suite against the LMDB backend (auto-commit: no batches).
final class LMDBConformanceTests: LMDBTestCase {
    func runSuite(sync: LMDBSyncMode, mapSize: Int) {
        var current = ""
        let suite = StorageConformance(
            makeEngine: { try! self.makeEngine(mapSize: mapSize, sync: sync) },
            fail: { message, file, line in XCTFail("[\(current)] \(message)", file: file, line: line) })
        for (name, check) in suite.checks {
            current = name
            check()
        }
    }

    func testConformance() {
        runSuite(sync: .no, mapSize: 8 << 20)
    }

    /// The same suite from a 256 KB map: every check also exercises map growth.
    func testConformanceFromTinyMap() {
        runSuite(sync: .no, mapSize: 256 << 10)
    }
}
