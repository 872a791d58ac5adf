import TernMemory
import TernStorage
import TernStorageConformance
import XCTest

/// The shared storage conformance suite against the memory backend.
final class MemoryConformanceTests: XCTestCase {
    func testConformance() {
        var current = ""
        let suite = StorageConformance(
            makeEngine: { MemoryEngine(databases: 16) },
            fail: { message, file, line in XCTFail("[\(current)] \(message)", file: file, line: line) })
        for (name, check) in suite.checks {
            current = name
            check()
        }
    }
}
