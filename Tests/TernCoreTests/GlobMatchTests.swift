import TernCore
import XCTest

final class GlobMatchTests: XCTestCase {
    func testPatterns() {
        let cases: [(String, String, Bool)] = [
            ("*", "anything", true), ("*", "", false), ("h?llo", "hello", true), ("h?llo", "hllo", false),
            ("h*llo", "heeeello", true), ("h[ae]llo", "hallo", true), ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true), ("h[^e]llo", "hello", false), ("h[a-b]llo", "hbllo", true),
            ("h[a-b]llo", "hcllo", false), ("h\\*llo", "h*llo", true), ("h\\*llo", "hello", false),
            ("foo*bar", "foobar", true), ("foo*bar", "fooXbaz", false), ("a*", "", false), ("", "", true),
            ("user:*:name", "user:42:name", true), ("[", "[", false),
        ]
        for (pattern, string, expected) in cases {
            XCTAssertEqual(GlobMatch.matches(pattern: pattern, string), expected, "\(pattern) vs \(string)")
        }
        XCTAssertTrue(GlobMatch.matches(pattern: "MAXMEM*", "maxmemory", caseInsensitive: true))
    }

    func testHostilePatternTerminates() {
        let pattern = String(repeating: "a*", count: 40) + "b"
        XCTAssertFalse(GlobMatch.matches(pattern: pattern, String(repeating: "a", count: 60)))
    }
}
