import CLMDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An LMDB failure. `description` is the text the core can send as an error reply ("-" + description).
public enum LMDBError: Error, CustomStringConvertible, Equatable {
    /// The map is full and may not grow any further (`maxSize` reached): the write was refused.
    case full(maxSize: Int)
    /// Any other LMDB return code.
    case lmdb(code: Int32, operation: String)

    public var description: String {
        switch self {
        case .full(let max):
            return "ERR LMDB storage is full (lmdb-max-size \(max) bytes reached); the write was refused"
        case .lmdb(let code, let op):
            return "ERR LMDB \(op) failed: \(String(cString: mdb_strerror(code))) (\(code))"
        }
    }

    var isMapFull: Bool {
        if case .lmdb(let code, _) = self { return code == MDB_MAP_FULL }
        return false
    }
}

@inline(__always)
func check(_ rc: Int32, _ op: @autoclosure () -> String) throws {
    if rc != 0 { throw LMDBError.lmdb(code: rc, operation: op()) }
}

nonisolated(unsafe) let emptyPointer = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 8)

@inline(__always)
func withVal<R>(_ bytes: [UInt8], _ body: (UnsafeMutablePointer<MDB_val>) throws -> R) rethrows -> R {
    try bytes.withUnsafeBytes { raw in
        var v = MDB_val(mv_size: raw.count, mv_data: UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(emptyPointer)))
        return try body(&v)
    }
}

@inline(__always)
func buffer(_ v: MDB_val) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: v.mv_data ?? UnsafeMutableRawPointer(emptyPointer), count: v.mv_size)
}

extension UnsafeRawBufferPointer {
    @inline(__always)
    func hasPrefix(_ prefix: [UInt8]) -> Bool {
        guard count >= prefix.count else { return false }
        return prefix.withUnsafeBytes { p in
            prefix.isEmpty || memcmp(baseAddress!, p.baseAddress!, prefix.count) == 0
        }
    }

    @inline(__always)
    func equals(_ other: [UInt8]) -> Bool { count == other.count && hasPrefix(other) }
}

/// A transaction handle (read or write) with the few operations the engine needs. Values returned are copies.
struct Txn {
    let ptr: OpaquePointer

    func get(_ dbi: MDB_dbi, _ key: [UInt8]) throws -> [UInt8]? {
        var data = MDB_val()
        let rc = withVal(key) { mdb_get(ptr, dbi, $0, &data) }
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "get")
        return [UInt8](buffer(data))
    }

    func put(_ dbi: MDB_dbi, _ key: [UInt8], _ value: [UInt8]) throws {
        let rc = withVal(key) { k in withVal(value) { v in mdb_put(ptr, dbi, k, v, 0) } }
        try check(rc, "put")
    }

    @discardableResult
    func delete(_ dbi: MDB_dbi, _ key: [UInt8]) throws -> Bool {
        let rc = withVal(key) { mdb_del(ptr, dbi, $0, nil) }
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "del")
        return true
    }

    /// Visits entries in key order from the first key >= `start` while keys begin with `prefix`.
    /// The body gets the key and value in place (valid only during the call) and returns false to stop.
    func forEach(_ dbi: MDB_dbi, from start: [UInt8], prefix: [UInt8],
                 _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(ptr, dbi, &cursor), "cursor_open")
        defer { mdb_cursor_close(cursor) }
        var key = MDB_val()
        var data = MDB_val()
        var rc = withVal(start) { k -> Int32 in
            let rc = mdb_cursor_get(cursor, k, &data, MDB_SET_RANGE)
            key = k.pointee
            return rc
        }
        while rc == 0 {
            let k = buffer(key)
            guard k.hasPrefix(prefix) else { return }
            guard try body(k, buffer(data)) else { return }
            rc = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)
        }
        if rc != MDB_NOTFOUND { try check(rc, "cursor_get") }
    }

    /// Visits entries in descending key order from the last key < `bound` (<= when `inclusive`) while keys
    /// begin with `prefix`.
    func forEachReverse(_ dbi: MDB_dbi, before bound: [UInt8], inclusive: Bool, prefix: [UInt8],
                        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(ptr, dbi, &cursor), "cursor_open")
        defer { mdb_cursor_close(cursor) }
        var key = MDB_val()
        var data = MDB_val()
        var rc = withVal(bound) { k -> Int32 in
            let rc = mdb_cursor_get(cursor, k, &data, MDB_SET_RANGE)
            key = k.pointee
            return rc
        }
        if rc == MDB_NOTFOUND {
            rc = mdb_cursor_get(cursor, &key, &data, MDB_LAST)
        } else if rc == 0 {
            if !(inclusive && buffer(key).equals(bound)) {
                rc = mdb_cursor_get(cursor, &key, &data, MDB_PREV)
            }
        }
        while rc == 0 {
            let k = buffer(key)
            guard k.hasPrefix(prefix) else { return }
            guard try body(k, buffer(data)) else { return }
            rc = mdb_cursor_get(cursor, &key, &data, MDB_PREV)
        }
        if rc != MDB_NOTFOUND { try check(rc, "cursor_get") }
    }

    /// The first key >= `start` that begins with `prefix`, with its value.
    func first(_ dbi: MDB_dbi, from start: [UInt8], prefix: [UInt8]) throws -> (key: [UInt8], value: [UInt8])? {
        var found: (key: [UInt8], value: [UInt8])?
        try forEach(dbi, from: start, prefix: prefix) { k, v in
            found = ([UInt8](k), [UInt8](v))
            return false
        }
        return found
    }

    /// The last key beginning with `prefix`.
    func last(_ dbi: MDB_dbi, prefix: [UInt8]) throws -> (key: [UInt8], value: [UInt8])? {
        var found: (key: [UInt8], value: [UInt8])?
        try forEachReverse(dbi, before: prefixEnd(prefix), inclusive: false, prefix: prefix) { k, v in
            found = ([UInt8](k), [UInt8](v))
            return false
        }
        return found
    }

    /// Deletes up to `budget` entries whose key begins with `prefix`; returns how many, and whether none remain.
    func deletePrefix(_ dbi: MDB_dbi, _ prefix: [UInt8], budget: Int,
                      _ willDelete: ((UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void)? = nil) throws
        -> (deleted: Int, done: Bool) {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(ptr, dbi, &cursor), "cursor_open")
        defer { mdb_cursor_close(cursor) }
        var deleted = 0
        while deleted < budget {
            var key = MDB_val()
            var data = MDB_val()
            let rc = withVal(prefix) { k -> Int32 in
                let rc = mdb_cursor_get(cursor, k, &data, MDB_SET_RANGE)
                key = k.pointee
                return rc
            }
            if rc == MDB_NOTFOUND { return (deleted, true) }
            try check(rc, "cursor_get")
            guard buffer(key).hasPrefix(prefix) else { return (deleted, true) }
            try willDelete?(buffer(key), buffer(data))
            try check(mdb_cursor_del(cursor, 0), "cursor_del")
            deleted += 1
        }
        // Budget spent: report whether anything is left.
        let left = try first(dbi, from: prefix, prefix: prefix)
        return (deleted, left == nil)
    }
}

/// The smallest key greater than every key that begins with `prefix` (prefix + 0xFF... padding past the
/// longest key we ever store).
func prefixEnd(_ prefix: [UInt8]) -> [UInt8] {
    prefix + [UInt8](repeating: 0xFF, count: 480 - min(prefix.count, 479))
}

/// A reader-writer lock: snapshot readers on other threads hold it shared while they touch the map;
/// growing the map (which remaps it) holds it exclusively.
final class RemapLock: @unchecked Sendable {
    private let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)
    init() { pthread_rwlock_init(lock, nil) }
    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }
    func shared<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
    func exclusive<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}

/// Owns the MDB_env: closed when the engine and every snapshot that still reads from it are gone.
final class EnvHandle: @unchecked Sendable {
    let env: OpaquePointer
    let lock = RemapLock()
    init(_ env: OpaquePointer) { self.env = env }
    deinit { mdb_env_close(env) }
}

extension Txn {
    /// Calls `body` with the value stored under `key` in place; false when absent.
    @discardableResult
    func withValue(_ dbi: MDB_dbi, _ key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        var data = MDB_val()
        let rc = withVal(key) { mdb_get(ptr, dbi, $0, &data) }
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "get")
        try body(buffer(data))
        return true
    }

    /// 0-based position of `target` among the keys beginning with `prefix` (there are `total`), walking from
    /// both ends at once: O(min(rank, total - rank)).
    func rank(_ dbi: MDB_dbi, prefix: [UInt8], of target: [UInt8], total: Int) throws -> Int? {
        var front: OpaquePointer?
        var back: OpaquePointer?
        try check(mdb_cursor_open(ptr, dbi, &front), "cursor_open")
        defer { mdb_cursor_close(front) }
        try check(mdb_cursor_open(ptr, dbi, &back), "cursor_open")
        defer { mdb_cursor_close(back) }
        var fk = MDB_val(), fd = MDB_val(), bk = MDB_val(), bd = MDB_val()
        var frc = withVal(prefix) { k -> Int32 in
            let rc = mdb_cursor_get(front, k, &fd, MDB_SET_RANGE)
            fk = k.pointee
            return rc
        }
        let end = prefixEnd(prefix)
        var brc = withVal(end) { k -> Int32 in
            let rc = mdb_cursor_get(back, k, &bd, MDB_SET_RANGE)
            bk = k.pointee
            return rc
        }
        brc = brc == MDB_NOTFOUND ? mdb_cursor_get(back, &bk, &bd, MDB_LAST)
            : (brc == 0 ? mdb_cursor_get(back, &bk, &bd, MDB_PREV) : brc)
        var steps = 0
        while steps <= total / 2 + 1 {
            guard frc == 0, buffer(fk).hasPrefix(prefix) else { return nil }
            if buffer(fk).equals(target) { return steps }
            guard brc == 0, buffer(bk).hasPrefix(prefix) else { return nil }
            if buffer(bk).equals(target) { return total - 1 - steps }
            frc = mdb_cursor_get(front, &fk, &fd, MDB_NEXT)
            brc = mdb_cursor_get(back, &bk, &bd, MDB_PREV)
            steps += 1
        }
        return nil
    }
}
