import Foundation
import NIOCore
import RESP
import XCTest

/// The fuzz harnesses' corpora (Tests/fuzz/corpus: the seeds, and crash files kept after their fix) replayed
/// through the real decoders in the default run, as FuzzRESP feeds them, and split at every position.
final class FuzzCorpusReplayTests: XCTestCase {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fuzz/corpus")

    /// (name, bytes) of every file in the given corpus folders (README files excluded), sorted by name.
    static func files(_ folders: [String]) throws -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = []
        for folder in folders {
            let dir = corpus.appendingPathComponent(folder)
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { continue }
            for name in names.sorted() where !name.hasSuffix(".md") {
                out.append(("\(folder)/\(name)", Array(try Data(contentsOf: dir.appendingPathComponent(name)))))
            }
        }
        return out
    }

    struct Decoded: Equatable {
        var commands: [[[UInt8]]] = []
        var error: String?
        var leftover = 0
    }

    /// Feeds `chunks` to one request decoder, decoding after each; stops at the first protocol error.
    func decodeRequests(_ chunks: [ArraySlice<UInt8>], authenticated: Bool = true, file: StaticString = #filePath,
                        line: UInt = #line) -> Decoded {
        var decoder = RESPCommandDecoder(authenticated: authenticated)
        var buffer = ByteBuffer()
        var out = Decoded()
        var arguments: [ByteBuffer] = []
        var rounds = 0
        for chunk in chunks {
            buffer.writeBytes(chunk)
            do {
                while rounds < 10_000, try decoder.decode(buffer: &buffer, into: &arguments) != nil {
                    out.commands.append(arguments.map { Array($0.readableBytesView) })
                    rounds += 1
                }
            } catch {
                XCTAssertTrue(error is RESPProtocolError, "not a protocol error: \(error)", file: file, line: line)
                out.error = "\(error)"
                break
            }
        }
        XCTAssertLessThan(rounds, 10_000, "the decoder made no progress", file: file, line: line)
        // After an error the connection is closed: what was left unread depends on how the bytes arrived.
        out.leftover = out.error == nil ? buffer.readableBytes : -1
        return out
    }

    func testCorpusFilesAreThere() throws {
        let resp = try Self.files(["resp"])
        XCTAssertGreaterThanOrEqual(resp.count, 15, "the RESP seed corpus (Tests/fuzz/corpus/resp)")
        XCTAssertTrue(resp.contains { $0.0 == "resp/ok-multibulk-set" })
    }

    /// Seeds named ok-* decode whole, bad-* end in a protocol error, partial-* wait for more; and whatever the
    /// input, it decodes the same arriving in two pieces, split at any position, or byte by byte.
    func testRequestDecoderReplaysTheCorpus() throws {
        for (name, bytes) in try Self.files(["resp", "crashes"]) {
            let whole = decodeRequests([bytes[...]])
            let base = (name as NSString).lastPathComponent
            if base.hasPrefix("ok-") && base != "ok-replies" {
                XCTAssertNil(whole.error, name)
                XCTAssertFalse(whole.commands.isEmpty, name)
                XCTAssertEqual(whole.leftover, 0, name)
            } else if base.hasPrefix("bad-") {
                XCTAssertNotNil(whole.error, "\(name) must be refused")
            } else if base.hasPrefix("partial-") {
                XCTAssertNil(whole.error, name)
                XCTAssertTrue(whole.commands.isEmpty && whole.leftover == bytes.count, "\(name) waits for more")
            }
            for split in 0...bytes.count {
                XCTAssertEqual(decodeRequests([bytes[..<split], bytes[split...]]), whole, "\(name) split at \(split)")
            }
            XCTAssertEqual(decodeRequests(bytes.map { [$0][...] }), whole, "\(name) byte by byte")
            // The unauthenticated bounds (FuzzRESP uses both): a value or an error, never a crash or a hang.
            _ = decodeRequests([bytes[...]], authenticated: false)
        }
    }

    /// The reply decoder (the replica's and the tests' side) over every file: values, need-more or an error.
    func testReplyDecoderReplaysTheCorpus() throws {
        for (name, bytes) in try Self.files(["resp", "crashes"]) {
            var decoder = RESPValueDecoder()
            decoder.maxBulkLength = 1 << 20
            var buffer = ByteBuffer(bytes: bytes)
            var values: [RESPValue] = []
            var rounds = 0
            do {
                while rounds < 10_000, let value = try decoder.decode(buffer: &buffer) {
                    values.append(value)
                    rounds += 1
                }
            } catch {}
            XCTAssertLessThan(rounds, 10_000, name)
            if name == "resp/ok-replies" {
                // 17 replies; the RESP3 attribute (|1 ...) is metadata on the reply after it, not a value.
                XCTAssertEqual(values.count, 16, "every reply type of RESP2 and RESP3 decodes")
                XCTAssertEqual(buffer.readableBytes, 0, name)
            }
        }
    }
}
