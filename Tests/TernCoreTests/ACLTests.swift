import NIOCore
@testable import TernCore
import XCTest

final class ACLTests: XCTestCase {
    let table = BuiltinCommands.table()

    private func user(_ rules: [String]) throws -> (ACLUser, AccessControl) {
        let acl = AccessControl(table: table)
        let u = try acl.stage("u", rules.map { Array($0.utf8) })
        acl.commit(u)
        return (acl.user("u")!, acl)
    }

    private func allowed(_ acl: AccessControl, _ u: ACLUser, _ words: [String]) -> ACLDenial? {
        var spec = table.lookup(words[0])!
        if !spec.subcommands.isEmpty, let sub = spec.subcommands[words[1].lowercased()] { spec = sub }
        return acl.check(u, spec, words.map { ByteBuffer(string: $0) })?.reason
    }

    func testDescriptionRebuildsTheSameRules() throws {
        let cases: [[String]] = [
            ["on", "+@all", "-@dangerous", "~*"], ["+@read", "-keys", "+set"], ["allcommands", "-debug", "-flushall"],
            ["+get", "+config|get", "+select|0"], ["+@string", "+@hash", "-hset", "-append"], ["nocommands"],
        ]
        for rules in cases {
            let (u, acl) = try user(rules)
            let text = u.selectors[0].describeCommands(table: table, ids: acl.ids)
            let (again, acl2) = try user(text.split(separator: " ").map(String.init))
            for spec in table.allSpecs {
                XCTAssertEqual(u.selectors[0].allowed[acl.ids.id(spec)], again.selectors[0].allowed[acl2.ids.id(spec)],
                               "\(rules) -> \(text): \(spec.fullName)")
            }
            XCTAssertEqual(u.selectors[0].firstArgs.count, again.selectors[0].firstArgs.count, text)
        }
    }

    func testChecksCommandsKeysChannelsAndSelectors() throws {
        let (u, acl) = try user(["on", "+get", "+set", "+publish", "%R~r:*", "~rw:*", "&news", "(+del ~tmp:*)"])
        XCTAssertNil(allowed(acl, u, ["get", "r:1"]))
        XCTAssertEqual(allowed(acl, u, ["set", "r:1", "v"]), .key)  // read-only pattern
        XCTAssertNil(allowed(acl, u, ["set", "rw:1", "v"]))
        XCTAssertEqual(allowed(acl, u, ["incr", "rw:1"]), .command)
        XCTAssertNil(allowed(acl, u, ["del", "tmp:1"]))             // the selector
        XCTAssertEqual(allowed(acl, u, ["del", "rw:1"]), .key)  // the selector allows del, not the key: key wins (Redis)
        XCTAssertNil(allowed(acl, u, ["publish", "news", "m"]))
        XCTAssertEqual(allowed(acl, u, ["publish", "sports", "m"]), .channel)
    }

    func testRuleErrorsAndPasswords() throws {
        XCTAssertThrowsError(try user(["+nosuch"])) { XCTAssertEqual(($0 as? ACLRuleError)?.reason, .unknownName) }
        XCTAssertThrowsError(try user(["allkeys", "~x"])) { XCTAssertEqual(($0 as? ACLRuleError)?.reason, .keyAfterAll) }
        XCTAssertThrowsError(try user(["#abc"])) { XCTAssertEqual(($0 as? ACLRuleError)?.reason, .badHash) }
        XCTAssertThrowsError(try user(["+config|get|x"]))
        let (u, _) = try user(["on", ">secret"])
        XCTAssertEqual(u.passwords, ["2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"])
        XCTAssertTrue(u.authenticates(Array("secret".utf8)))
        XCTAssertFalse(u.authenticates(Array("Secret".utf8)))
        let (off, _) = try user(["off", "nopass"])
        XCTAssertFalse(off.authenticates([]))
    }

    func testMergeSelectorArguments() {
        let (merged, _) = ACLUser.mergeSelectorArguments(["on", "(~a", "+get)", "(~b +set)"].map { Array($0.utf8) })
        XCTAssertEqual(merged?.map { String(decoding: $0, as: UTF8.self) }, ["on", "(~a +get)", "(~b +set)"])
        let (bad, index) = ACLUser.mergeSelectorArguments(["on", "(~a"].map { Array($0.utf8) })
        XCTAssertNil(bad)
        XCTAssertEqual(index, 1)
    }
}
