import XCTest
@testable import TernScripting
import TernCore

final class SHA1Tests: XCTestCase {
    func testKnownDigests() {
        XCTAssertEqual(SHA1.hex([UInt8]()), "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        XCTAssertEqual(SHA1.hex(Array("abc".utf8)), "a9993e364706816aba3e25717850c26c9cd0d89d")
        // Longer than one block, as scripts are.
        XCTAssertEqual(SHA1.hex(Array(String(repeating: "a", count: 1000).utf8)), "291e9a6c66994949b57ba5e650361e98fc36b1ba")
    }
}
