import TernStorage

/// Typed range operations on strings (GETRANGE, SETRANGE, APPEND and the bit commands): kind check
/// (WRONGTYPE), lazy expiry, hit/miss statistics and change tracking, then the backend's range operation, so
/// a backend that stores big strings in pieces never reads or rewrites a whole value for a small edit.
extension Keyspace {
    /// The length of the string at `key`; nil when absent; WRONGTYPE for another kind.
    /// `read` counts a keyspace hit or miss (a reading command's lookup).
    public func stringLength(_ key: Bytes, read: Bool) throws -> Int? {
        try collection(key, .string, read: read)?.count
    }

    /// Up to `count` bytes from `offset` of a string already checked with `stringLength`.
    public func readStringRange(_ key: Bytes, offset: Int, count: Int) -> [UInt8] {
        database.readStringRange(key, offset: offset, count: count)
    }

    /// Zero-pads the string (creating it when absent) to `offset + count` bytes and edits that range in
    /// place. The caller has checked the kind (`stringLength`) and the size limit. `changed` tells from the
    /// body's result whether the key changed (dirty, WATCH); a created key always did.
    public func updateStringRange<R>(_ key: Bytes, offset: Int, count: Int, existed: Bool,
                                     changed: (R) -> Bool = { _ in true },
                                     _ body: (UnsafeMutableRawBufferPointer) -> R) -> R {
        let r = database.updateStringRange(key, offset: offset, count: count, body)
        // Written in place: "raw" from now on, new or not (Redis's dbUnshareStringValue / createObject).
        database.setEncoding(key, .converted)
        if !existed { server.notifyKeyspaceEvent(.new, "new", key, db: index) }
        if !existed || changed(r) { modified(key) }
        return r
    }

    /// APPEND on a string already checked with `stringLength`; returns the new length.
    public func appendString(_ key: Bytes, _ suffix: UnsafeRawBufferPointer, existed: Bool) -> Int {
        let n = database.appendString(key, suffix)
        // Appending to an existing string leaves it "raw"; a new key is encoded as SET would (Redis's APPEND).
        if existed { database.setEncoding(key, .converted) }
        if !existed { server.notifyKeyspaceEvent(.new, "new", key, db: index) }
        modified(key)
        return n
    }
}
