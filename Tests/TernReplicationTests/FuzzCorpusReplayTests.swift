import Foundation
import TernStorage
import XCTest
@testable import TernRDB
@testable import TernReplication

/// The fuzz harnesses' corpora (Tests/fuzz/corpus) replayed through the real RDB reader in the default run,
/// the three ways FuzzRDB feeds an input, plus every truncation and every single-bit flip of each seed: every
/// input loads or fails with an RDBError, never a crash or a hang.
final class FuzzCorpusReplayTests: XCTestCase {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fuzz/corpus")

    static func files(_ folder: String) throws -> [(String, [UInt8])] {
        let dir = corpus.appendingPathComponent(folder)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return [] }
        return try names.sorted().filter { !$0.hasSuffix(".md") }.map {
            ("\(folder)/\($0)", Array(try Data(contentsOf: dir.appendingPathComponent($0))))
        }
    }

    /// Loads or throws an RDBError; any other error is a failure. Returns whether it loaded.
    @discardableResult
    func load(_ bytes: [UInt8], _ what: @autoclosure () -> String, file: StaticString = #filePath, line: UInt = #line) -> Bool {
        do {
            _ = try RDBReader.parse(bytes)
            return true
        } catch is RDBError {
            return false
        } catch {
            XCTFail("\(what()): not an RDBError: \(error)", file: file, line: line)
            return false
        }
    }

    /// FuzzRDB's three uses of one input: a whole file; an object of the type its first byte picks inside a
    /// valid header (zero checksum); a DUMP payload (checksum off).
    func replayAsTheHarnessDoes(_ bytes: [UInt8], _ name: String) {
        load(bytes, name)
        guard let first = bytes.first else { return }
        let types: [UInt8] = Array(0...21) + Array(0xF5...0xFF)
        let type = types[Int(first) % types.count]
        var wrapped = Array("REDIS0010".utf8) + [type, 1, UInt8(ascii: "k")] + bytes.dropFirst()
        wrapped += [0xFF, 0, 0, 0, 0, 0, 0, 0, 0]
        load(wrapped, "\(name) as an object of type \(type)")
        var payload = [type] + bytes.dropFirst()
        payload += [10, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        do { _ = try RDBReader.decodeDumpPayload(payload, checksum: false) } catch is RDBError {} catch {
            XCTFail("\(name) as a DUMP payload: not an RDBError: \(error)")
        }
    }

    func testRDBCorpusReplays() throws {
        let seeds = try Self.files("rdb")
        XCTAssertFalse(seeds.isEmpty, "the RDB seed corpus (Tests/fuzz/corpus/rdb)")
        for (name, bytes) in seeds + (try Self.files("crashes")) {
            replayAsTheHarnessDoes(bytes, name)
        }
        for (name, bytes) in seeds {
            // A seed is a real dump: it loads, with its keys.
            let reader = try RDBReader.parse(bytes)
            XCTAssertGreaterThan(reader.entries.count, 5, "\(name) has its keys")
            // Every truncation is refused (the checksum and EOF are at the end), never a crash.
            for n in 0..<bytes.count {
                XCTAssertFalse(load(Array(bytes[..<n]), "\(name) cut at \(n)"), "\(name) cut at \(n) must not load")
            }
            // Every single-bit flip: loads or fails with an RDBError.
            for i in 0..<bytes.count {
                for bit in 0..<8 {
                    var flipped = bytes
                    flipped[i] ^= 1 << bit
                    load(flipped, "\(name) bit \(bit) of byte \(i)")
                    replayAsTheHarnessDoes(flipped, "\(name) bit \(bit) of byte \(i)")
                }
            }
        }
    }
}
