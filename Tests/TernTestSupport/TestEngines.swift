import Foundation
import TernLMDB
import TernMemory
import TernStorage

/// The storage engine the command-level unit tests run on: `TERN_TEST_ENGINE=memory` (default) or `lmdb`
/// (a fresh environment in a temporary directory per engine). `scripts/test` runs the engine-using test
/// targets once per engine, as the integration suite runs once per `TERN_BACKEND`.
public enum TestEngines {
    public static let names = ["memory", "lmdb"]

    /// This run's engine; an unknown name stops the run rather than silently testing memory.
    public static let current: String = {
        let name = ProcessInfo.processInfo.environment["TERN_TEST_ENGINE"] ?? "memory"
        guard names.contains(name) else {
            fatalError("TERN_TEST_ENGINE=\(name): must be one of \(names.joined(separator: ", "))")
        }
        return name
    }()

    /// A new, empty engine of this run's kind. An LMDB environment's directory is removed when the engine
    /// is released (LMDB keeps its files open until then; unlinking them early is fine on Linux).
    public static func make(databases: Int = 16) -> any StorageEngine {
        switch current {
        case "lmdb": return makeLMDB(databases: databases)
        default: return MemoryEngine(databases: databases)
        }
    }

    /// An LMDB engine in a fresh temporary directory (syncs off: these tests are about behaviour, and the
    /// durable mode is covered by TernLMDBTests and the integration suite).
    public static func makeLMDB(databases: Int = 16, sync: LMDBSyncMode = .no) -> LMDBEngine {
        let dir = temporaryDirectory()
        do {
            let engine = try LMDBEngine(path: dir, databases: databases, mapSize: 8 << 20, sync: sync)
            TemporaryDirectories.shared.add(dir)
            return engine
        } catch {
            fatalError("could not open an LMDB environment in \(dir): \(error)")
        }
    }

    public static func temporaryDirectory() -> String {
        var template = Array((NSTemporaryDirectory() + "tern-test-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("mkdtemp failed: \(errno)") }
        return String(cString: made)
    }

    /// Runs `body` as the server runs a pass of the event loop: in a batch, committed at the end (a no-op on
    /// the memory engine). A failed commit is a test failure, reported to the caller.
    public static func inBatch<R>(_ engine: any StorageEngine, _ body: () throws -> R) throws -> R {
        engine.beginBatch()
        let result: R
        do { result = try body() } catch {
            try engine.endBatch()
            throw error
        }
        try engine.endBatch()
        return result
    }
}

/// Directories made for test environments, removed when the test process exits.
final class TemporaryDirectories: @unchecked Sendable {
    static let shared = TemporaryDirectories()
    private var paths: [String] = []
    private let lock = NSLock()
    private init() {
        atexit { TemporaryDirectories.shared.removeAll() }
    }
    func add(_ path: String) {
        lock.lock(); paths.append(path); lock.unlock()
    }
    func removeAll() {
        lock.lock(); defer { lock.unlock() }
        for p in paths { try? FileManager.default.removeItem(atPath: p) }
        paths = []
    }
}
