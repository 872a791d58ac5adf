#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TernCore
import TernRDB
import TernStorage

/// RDB snapshotting, as Redis's rdb.c does it for the main process: SAVE, BGSAVE (without fork: the
/// snapshot producer's point-in-time view is serialized a chunk per event-loop pass, so clients keep being
/// served and the memory-backend snapshot is only ever touched on the command thread), save points, the
/// start-up load (in chunks too, with -LOADING meanwhile; one transaction on LMDB), save on shutdown, and
/// INFO persistence. Files are written to `temp-<pid>.rdb`, synced, renamed over `dbfilename`, and the
/// directory synced, so a crash mid-save never harms the previous dump.
public final class RDBPersistence {
    public unowned let server: ServerState
    /// Runs a closure on the event loop after the current pass (set by the server layer).
    public var schedule: (@escaping () -> Void) -> Void = { $0() }
    /// The replication id and offset stored in the aux fields (set by the server layer).
    public var replicationState: () -> (id: String, offset: Int64) = { (String(repeating: "0", count: 40), 0) }
    /// The database the replication stream applies to on a replica (aux repl-stream-db), so a restarted
    /// replica resumes the stream in the right database.
    public var replicationStreamDB: () -> Int = { 0 }
    /// repl-id / repl-offset / repl-stream-db found in the last loaded file (for a partial resync after a restart).
    public private(set) var loadedReplication: (id: String, offset: Int64)?
    public private(set) var loadedStreamDB = 0
    /// Save points and the default shutdown save apply to the memory backend (LMDB is durable by itself).
    public var automaticSaves: Bool

    /// Keys serialized per event-loop pass by BGSAVE (~0.4 ms of work: what a client may wait) and loaded
    /// per pass at start-up (clients only get -LOADING meanwhile).
    public var keysPerPass = 500
    public var loadKeysPerPass = 5000

    private var job: BackgroundSave?
    private(set) var lastBgsaveOK = true
    private var lastBgsaveSeconds = -1
    private var lastBgsaveTryMillis: Int64 = 0
    private var saves = 0
    private var lastLoadKeysLoaded = 0
    private var lastLoadKeysExpired = 0
    private var loadStartUnix: Int64 = 0
    private var loadStartMillis: Int64 = 0
    private var loadTotalBytes = 0
    private var loadLoadedBytes = 0

    public init(server: ServerState) {
        self.server = server
        self.automaticSaves = server.engine.name == "memory"
    }

    public func install() {
        for spec in specs { server.commands.register(spec) }
        server.infoProviders["persistence"] = { [unowned self] in self.infoFields() }
        server.flushAllHook = { [unowned self] in self.flushedAll() }
        server.debugReloadHandler = { [unowned self] options in try self.debugReload(options) }
        server.serializedLength = { [unowned self] value in
            // A DUMP payload is the type byte, the object, then the RDB version (2) and CRC-64 (8).
            RDBWriter.dumpPayload(value, compress: self.server.config.rdbCompression).count - 11
        }
    }

    /// DEBUG RELOAD: save (unless NOSAVE), empty the databases (unless NOFLUSH), load `dbfilename` back, in
    /// the batch under way (one LMDB transaction: all of it or none). Without MERGE a key of the file that
    /// already exists is refused before anything changes (Redis kills the server there).
    public func debugReload(_ options: DebugReloadOptions) throws {
        if options.save && !saveNow() { throw CommandError("ERR") }
        let failure = CommandError.err("Error trying to load the RDB dump, check server logs.")
        let reader: RDBReader
        do {
            guard let opened = try openForLoading(path) else {
                server.logger.warning("DEBUG RELOAD: no RDB file at \(path)")
                throw failure
            }
            reader = opened
        } catch let e as CommandError {
            throw e
        } catch {
            server.logger.warning("DEBUG RELOAD: \(error)")
            throw failure
        }
        var entries: [RDBReader.Entry] = []
        do {
            var r = reader
            while let entry = try r.next() { entries.append(entry) }
        } catch {
            server.logger.warning("DEBUG RELOAD: \(error)")
            throw failure
        }
        if !options.flush && !options.merge {
            for entry in entries where server.engine.database(entry.db).exists(entry.key) {
                server.logger.warning("DEBUG RELOAD: duplicate key '\(entry.key)' in the RDB file (NOFLUSH without MERGE)")
                throw failure
            }
        }
        var result = LoadResult()
        beginLoad(reader)
        server.engine.withoutIntermediateCommits {
            if options.flush {
                for index in 0..<server.engine.databaseCount {
                    _ = server.keyspace(index).removeAll()
                }
            }
            for entry in entries { store(entry, &result) }
        }
        server.loading = false
        endLoad(reader, result)
    }

    /// FLUSHALL: the save under way would write the old data; with save points the empty dataset is saved.
    func flushedAll() {
        if let job { abort(job) }
        if automaticSaves && !server.config.savePoints.isEmpty { saveNow() }
    }

    public var bgsaveInProgress: Bool { job != nil }

    /// Where the files go: the working directory (the server runs in `dir`); tests point it elsewhere.
    public var directory = "."

    /// `dbfilename` in `directory`.
    public var path: String { directory + "/" + server.config.dbFilename }

    // MARK: commands

    var specs: [CommandSpec] {
        [
            CommandSpec("save", arity: 1, flags: [.admin, .noscript, .noAsyncLoading, .noMulti], group: "server",
                        summary: "Synchronously save the dataset to disk", complexity: "O(N) where N is the total number of keys in all databases",
                        acl: ["dangerous"]) { [unowned self] ctx in
                if job != nil { throw CommandError.err("Background save already in progress") }
                if saveNow() { ctx.ok() } else { throw CommandError("ERR") }
            },
            CommandSpec("bgsave", arity: -1, flags: [.admin, .noscript, .noAsyncLoading], group: "server",
                        summary: "Asynchronously save the dataset to disk", since: "1.0.0",
                        complexity: "O(N) where N is the total number of keys in all databases",
                        acl: ["dangerous"], arguments: ["[SCHEDULE]"]) { [unowned self] ctx in
                // SCHEDULE waits for another kind of child (an AOF rewrite) in Redis: Tern has none, so it
                // starts at once; a save already under way is an error either way, as in Redis.
                if ctx.argc > 1 {
                    guard ctx.argc == 2, ctx.argument(1, is: "schedule") else { throw CommandError.syntax }
                }
                if job != nil { throw CommandError.err("Background save already in progress") }
                if startBackgroundSave() {
                    ctx.simple("Background saving started")
                } else {
                    throw CommandError("ERR")
                }
            },
        ]
    }

    // MARK: writing

    var auxFields: [(String, String)] {
        let repl = replicationState()
        return [
            ("redis-ver", "7.0.15"), ("redis-bits", "64"), ("ctime", String(server.clock.nowMillis() / 1000)),
            ("used-mem", String(server.engine.usedMemoryEstimate)), ("repl-stream-db", String(replicationStreamDB())),
            ("repl-id", repl.id), ("repl-offset", String(repl.offset)), ("aof-base", "0"),
        ]
    }

    var tempPath: String { directory + "/temp-\(getpid()).rdb" }

    /// SAVE (and the shutdown save): the whole snapshot now, on this thread. Logs like Redis.
    @discardableResult
    public func saveNow() -> Bool {
        if let job { abort(job) }
        let config = server.config
        var w = RDBWriter(compress: config.rdbCompression)
        w.writeHeader()
        for (k, v) in auxFields { w.writeAux(k, v) }
        w.writeFunctions(server.functionLibraryCodes())
        for (index, snapshot) in server.engine.snapshot().enumerated() where snapshot.count > 0 {
            w.writeSelectDB(index, keys: snapshot.count, expires: server.engine.database(index).volatileKeyCount)
            snapshot.forEach { key, value, expireAt in
                w.writeEntry(key: key, value: value, expireAt: expireAt)
                return true
            }
        }
        var body = w.takeBytes()
        var tail = RDBWriter()
        tail.finish(crcSoFar: config.rdbChecksum ? CRC64.update(0, body) : nil)
        body += tail.bytes
        do {
            try Self.writeFile(tempPath, [body], finalPath: path, directory: directory)
        } catch {
            // As Redis's rdbSave: a failed foreground save leaves rdb_last_bgsave_status alone (no MISCONF).
            server.logger.warning("Failed saving the DB: \(error)")
            return false
        }
        server.logger.notice("DB saved on disk")
        server.dirty = 0
        server.lastSaveUnix = server.clock.nowMillis() / 1000
        lastBgsaveOK = true
        server.lastBgsaveFailed = false
        saves += 1
        return true
    }

    /// A BGSAVE in progress: the snapshot's cursors, the open temp file, the running CRC.
    final class BackgroundSave {
        var writer: RDBWriter
        let fd: Int32
        let tempPath: String
        var crc: UInt64 = 0
        var cursors: [(db: Int, count: Int, expires: Int, cursor: SnapshotCursor)]
        var current = -1
        var startedMillis: Int64
        var dirtyAtStart: Int
        var keysProcessed = 0
        var keysTotal: Int
        var failed: String?

        init(writer: RDBWriter, fd: Int32, tempPath: String, cursors: [(db: Int, count: Int, expires: Int, cursor: SnapshotCursor)],
             startedMillis: Int64, dirtyAtStart: Int) {
            self.writer = writer
            self.fd = fd
            self.tempPath = tempPath
            self.cursors = cursors
            self.startedMillis = startedMillis
            self.dirtyAtStart = dirtyAtStart
            self.keysTotal = cursors.reduce(0) { $0 + $1.count }
        }
    }

    /// BGSAVE: takes the snapshot now and serializes it over the following event-loop passes.
    @discardableResult
    public func startBackgroundSave() -> Bool {
        guard job == nil else { return false }
        let now = server.clock.nowMillis()
        lastBgsaveTryMillis = now
        let temp = tempPath
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd < 0 {
            let reason = String(cString: strerror(errno))
            server.logger.warning("Failed opening the temp RDB file \(temp) (in server root dir \(ConfigRegistry.currentDirectory())) for saving: \(reason)")
            lastBgsaveOK = false
            server.lastBgsaveFailed = true
            return false
        }
        var w = RDBWriter(compress: server.config.rdbCompression)
        w.writeHeader()
        for (k, v) in auxFields { w.writeAux(k, v) }
        w.writeFunctions(server.functionLibraryCodes())
        let snapshots = server.engine.snapshot()
        var cursors: [(db: Int, count: Int, expires: Int, cursor: SnapshotCursor)] = []
        for (index, snapshot) in snapshots.enumerated() where snapshot.count > 0 {
            cursors.append((index, snapshot.count, server.engine.database(index).volatileKeyCount, snapshot.makeCursor()))
        }
        let job = BackgroundSave(writer: w, fd: fd, tempPath: temp, cursors: cursors, startedMillis: now, dirtyAtStart: server.dirty)
        self.job = job
        server.logger.notice("Background saving started")
        schedule { [weak self] in self?.step(job) }
        return true
    }

    private func flush(_ job: BackgroundSave, final: Bool = false) {
        guard job.failed == nil else { return }
        let chunk = job.writer.takeBytes()
        if !final { job.crc = CRC64.update(job.crc, chunk) }
        if let error = Self.writeAll(job.fd, chunk) { job.failed = error }
    }

    /// One pass: up to `keysPerPass` keys, then yield to the loop.
    private func step(_ job: BackgroundSave) {
        guard self.job === job else { return }
        var budget = keysPerPass
        while budget > 0 && job.failed == nil {
            if job.current >= 0, let item = job.cursors[job.current].cursor.next() {
                job.writer.writeEntry(key: item.key, value: item.value, expireAt: item.expireAt)
                job.keysProcessed += 1
                budget -= 1
                if job.writer.bytes.count >= 1 << 16 { flush(job) }
                continue
            }
            job.current += 1
            if job.current >= job.cursors.count {
                finish(job)
                return
            }
            let c = job.cursors[job.current]
            job.writer.writeSelectDB(c.db, keys: c.count, expires: c.expires)
        }
        if job.failed != nil {
            finish(job)
            return
        }
        schedule { [weak self] in self?.step(job) }
    }

    private func finish(_ job: BackgroundSave) {
        flush(job)
        let checksum = server.config.rdbChecksum
        job.writer.finish(crcSoFar: checksum ? job.crc : nil)
        flush(job, final: true)
        self.job = nil
        let now = server.clock.nowMillis()
        var failure = job.failed
        if failure == nil, fsync(job.fd) != 0 { failure = String(cString: strerror(errno)) }
        close(job.fd)
        if failure == nil, rename(job.tempPath, path) != 0 { failure = String(cString: strerror(errno)) }
        if failure == nil { Self.syncDirectory(directory) }
        lastBgsaveSeconds = Int((now - job.startedMillis) / 1000)
        if let failure {
            unlink(job.tempPath)
            server.logger.warning("Write error saving DB on disk: \(failure)")
            server.logger.warning("Background saving error")
            lastBgsaveOK = false
            server.lastBgsaveFailed = true
        } else {
            server.logger.notice("DB saved on disk")
            server.logger.notice("Background saving terminated with success")
            server.dirty = max(0, server.dirty - job.dirtyAtStart)
            server.lastSaveUnix = now / 1000
            lastBgsaveOK = true
            server.lastBgsaveFailed = false
            saves += 1
        }
    }

    private func abort(_ job: BackgroundSave) {
        close(job.fd)
        unlink(job.tempPath)
        self.job = nil
        server.logger.notice("Background saving aborted")
    }

    /// Save points, as serverCron checks them (a failed save is retried after 5 seconds).
    public func cron(nowMillis now: Int64) {
        guard automaticSaves, job == nil, !server.loading else { return }
        let sinceSave = now / 1000 - server.lastSaveUnix
        for point in server.config.savePoints
        where server.dirty >= point.changes && sinceSave >= point.seconds
            && (now - lastBgsaveTryMillis > 5000 || lastBgsaveOK) {
            server.logger.notice("\(point.changes) changes in \(point.seconds) seconds. Saving...")
            startBackgroundSave()
            return
        }
    }

    /// The shutdown save: SHUTDOWN SAVE always, the default one when save points are configured (memory
    /// backend), never with NOSAVE. Returns a refusal when the save failed (and it wasn't forced).
    public func shutdownSave(_ mode: ShutdownRequest.SaveMode, force: Bool) -> String? {
        let wanted: Bool
        switch mode {
        case .save: wanted = true
        case .noSave: wanted = false
        case .default: wanted = automaticSaves && !server.config.savePoints.isEmpty
        }
        if let job { abort(job) }
        guard wanted else { return nil }
        server.logger.notice("Saving the final RDB snapshot before exiting.")
        if saveNow() { return nil }
        server.logger.warning("Error trying to save the DB, can't exit.")
        return force ? nil : "Errors trying to shut down the server. Check the logs for more information."
    }

    // MARK: files

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> String? {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                return String(cString: strerror(errno))
            }
            offset += n
        }
        return nil
    }

    struct FileError: Error, CustomStringConvertible { var description: String }

    /// Temp file, write, fsync, rename over the final name, fsync the directory.
    static func writeFile(_ temp: String, _ chunks: [[UInt8]], finalPath: String, directory: String) throws {
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd < 0 {
            throw FileError(description: "Failed opening the temp RDB file \(temp) (in server root dir \(ConfigRegistry.currentDirectory())) for saving: \(String(cString: strerror(errno)))")
        }
        for chunk in chunks {
            if let error = writeAll(fd, chunk) {
                close(fd)
                unlink(temp)
                throw FileError(description: "Write error saving DB on disk: \(error)")
            }
        }
        if fsync(fd) != 0 {
            let error = String(cString: strerror(errno))
            close(fd)
            unlink(temp)
            throw FileError(description: "Write error saving DB on disk: \(error)")
        }
        close(fd)
        if rename(temp, finalPath) != 0 {
            let error = String(cString: strerror(errno))
            unlink(temp)
            throw FileError(description: "Error moving temp DB file \(temp) on the final destination \(finalPath) (in server root dir \(ConfigRegistry.currentDirectory())): \(error)")
        }
        syncDirectory(directory)
    }

    /// The rename is durable only once the directory entry is.
    static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }

    static func readFile(_ path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw FileError(description: "Fatal error loading the DB: \(String(cString: strerror(errno))). Exiting.")
        }
        defer { close(fd) }
        var info = stat()
        let size = fstat(fd, &info) == 0 ? Int(info.st_size) : 0
        // One read into a buffer of the file's size (no chunk copies); grows if the file grew meanwhile.
        var out = [UInt8](repeating: 0, count: max(size, 1 << 16))
        var filled = 0
        while true {
            if filled == out.count { out += [UInt8](repeating: 0, count: out.count) }
            let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(description: "Fatal error loading the DB: \(String(cString: strerror(errno))). Exiting.")
            }
            if n == 0 { break }
            filled += n
        }
        out.removeSubrange(filled...)
        return out
    }

    // MARK: loading

    /// What a start-up load found.
    public struct LoadResult {
        public var keysLoaded = 0
        public var keysExpired = 0
    }

    /// Reads the RDB at `path` (nil when there is none) and checks its header; throws with Redis's texts.
    public func openForLoading(_ path: String) throws -> RDBReader? {
        guard let data = try Self.readFile(path) else { return nil }
        do {
            return try RDBReader(data, databases: server.engine.databaseCount)
        } catch {
            throw FileError(description: "Fatal error loading the DB: \(error). Exiting.")
        }
    }

    /// Loads a whole file now, in one batch of the backend (one LMDB transaction): `replace` flushes the
    /// dataset first (--import). Throws on a bad file, leaving LMDB's previous data (nothing committed).
    public func loadAll(_ reader: RDBReader, replace: Bool) throws -> LoadResult {
        var reader = reader
        beginLoad(reader)
        defer { server.loading = false }
        server.engine.beginBatch()
        var result = LoadResult()
        do {
            // All of it or nothing: no intermediate commit however big the file (LMDB: one transaction).
            try server.engine.withoutIntermediateCommits {
                if replace {
                    for index in 0..<server.engine.databaseCount { server.engine.database(index).removeAll() }
                }
                while let entry = try reader.next() { store(entry, &result) }
            }
        } catch {
            // Nothing of a failed load must stay: LMDB drops the uncommitted batch on close.
            throw FileError(description: "Short read or OOM loading DB. Unrecoverable error, aborting now. (\(error))")
        }
        try server.engine.endBatch()
        endLoad(reader, result)
        return result
    }

    /// Loads in chunks of `keysPerPass` keys per event-loop pass (memory backend), serving -LOADING
    /// meanwhile; `done` gets the result or the error (the dataset is then whatever was loaded).
    public func loadInChunks(_ reader: RDBReader, replace: Bool, done: @escaping (Result<LoadResult, Error>) -> Void) {
        beginLoad(reader)
        if replace {
            for index in 0..<server.engine.databaseCount { server.engine.database(index).removeAll() }
        }
        var reader = reader
        var result = LoadResult()
        var lastProgressMillis = server.clock.nowMillis()
        func pass() {
            do {
                var budget = loadKeysPerPass
                while budget > 0, let entry = try reader.next() {
                    store(entry, &result)
                    budget -= 1
                }
                loadLoadedBytes = reader.offset
                if reader.finished {
                    server.loading = false
                    endLoad(reader, result)
                    done(.success(result))
                    return
                }
                let now = server.clock.nowMillis()
                if now - lastProgressMillis >= 1000 {
                    lastProgressMillis = now
                    server.logger.notice("Loading RDB: \(reader.offset * 100 / max(1, reader.totalBytes))% (\(result.keysLoaded) keys)")
                }
                schedule(pass)
            } catch {
                server.loading = false
                done(.failure(error))
            }
        }
        schedule(pass)
    }

    private func beginLoad(_ reader: RDBReader) {
        server.loading = true
        loadStartMillis = server.clock.nowMillis()
        loadStartUnix = loadStartMillis / 1000
        loadTotalBytes = reader.totalBytes
        loadLoadedBytes = 0
    }

    private func store(_ entry: RDBReader.Entry, _ result: inout LoadResult) {
        // A master doesn't load keys that already expired (a replica keeps them for its master to expire).
        if let at = entry.expireAt, !server.isReplica, server.config.replicaOf.isEmpty, at <= server.clock.nowMillis() {
            result.keysExpired += 1
            return
        }
        server.engine.database(entry.db).store(entry.key, entry.value, expiry: entry.expireAt.map { .at($0) } ?? .clear)
        result.keysLoaded += 1
    }

    private func endLoad(_ reader: RDBReader, _ result: LoadResult) {
        let aux = Dictionary(reader.aux, uniquingKeysWith: { _, b in b })
        if let version = aux["redis-ver"] { server.logger.notice("Loading RDB produced by version \(version)") }
        if let ctime = aux["ctime"].flatMap({ Int64($0) }) {
            server.logger.notice("RDB age \(max(0, server.clock.nowMillis() / 1000 - ctime)) seconds")
        }
        if let id = aux["repl-id"], let offset = aux["repl-offset"].flatMap({ Int64($0) }) {
            loadedReplication = (id, offset)
            loadedStreamDB = aux["repl-stream-db"].flatMap { Int($0) }.map { max(0, min($0, server.engine.databaseCount - 1)) } ?? 0
        }
        for warning in reader.warnings { server.logger.warning("RDB: \(warning)") }
        server.replaceFunctionLibraries(reader.functionLibraries)
        lastLoadKeysLoaded = result.keysLoaded
        lastLoadKeysExpired = result.keysExpired
        server.logger.notice("Done loading RDB, keys loaded: \(result.keysLoaded), keys expired: \(result.keysExpired).")
        server.logger.notice("DB loaded from disk: \(String(format: "%.3f", Double(server.clock.nowMillis() - loadStartMillis) / 1000)) seconds")
        server.dirty = 0
        server.lastSaveUnix = server.clock.nowMillis() / 1000
    }

    // MARK: INFO persistence

    func infoFields() -> [(String, String)] {
        let now = server.clock.nowMillis()
        var fields: [(String, String)] = [("loading", server.loading ? "1" : "0")]
        if server.loading {
            let elapsed = max(0, now / 1000 - loadStartUnix)
            let perc = Double(loadLoadedBytes) * 100 / Double(max(1, loadTotalBytes))
            let eta = loadLoadedBytes > 0 ? Int64(Double(loadTotalBytes - loadLoadedBytes) * Double(elapsed) / Double(loadLoadedBytes)) : 1
            fields += [
                ("loading_start_time", String(loadStartUnix)), ("loading_total_bytes", String(loadTotalBytes)),
                ("loading_rdb_used_mem", "0"), ("loading_loaded_bytes", String(loadLoadedBytes)),
                ("loading_loaded_perc", String(format: "%.2f", perc)), ("loading_eta_seconds", String(eta)),
            ]
        }
        fields += [
            ("current_save_keys_processed", String(job?.keysProcessed ?? 0)),
            ("current_save_keys_total", String(job?.keysTotal ?? 0)),
            ("rdb_bgsave_in_progress", job == nil ? "0" : "1"),
            ("rdb_last_bgsave_status", lastBgsaveOK ? "ok" : "err"),
            ("rdb_last_bgsave_time_sec", String(lastBgsaveSeconds)),
            ("rdb_current_bgsave_time_sec", job.map { String((now - $0.startedMillis) / 1000) } ?? "-1"),
            ("rdb_saves", String(saves)),
            ("rdb_last_load_keys_expired", String(lastLoadKeysExpired)),
            ("rdb_last_load_keys_loaded", String(lastLoadKeysLoaded)),
        ]
        return fields
    }
}
