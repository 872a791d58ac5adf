import TernRDB
import TernStorage

/// Produces an RDB file in slices: header and aux fields first, then each database's keys through a
/// resumable snapshot cursor, then EOF and the CRC-64 of everything before it. A full resync calls `next`
/// once per event-loop pass, so the master keeps serving clients while a big dataset is serialized.
public final class RDBStream {
    private var snapshots: [any DatabaseSnapshot]
    private var aux: [(String, String)]
    private var databaseIndex = -1
    private var cursor: (any SnapshotCursor)?
    private var crc: UInt64 = 0
    public private(set) var finished = false
    /// Bytes produced so far.
    public private(set) var produced = 0
    /// Keys written so far.
    public private(set) var keys = 0

    public init(snapshots: [any DatabaseSnapshot], aux: [(String, String)], functions: [[UInt8]] = []) {
        self.snapshots = snapshots
        self.aux = aux
        self.functions = functions
    }

    /// Function libraries' code, written after the aux fields.
    private var functions: [[UInt8]]

    /// The next slice: entries until about `budget` bytes are written (at least one entry, unless none is
    /// left). nil once the whole file has been produced.
    public func next(budget: Int) -> [UInt8]? {
        guard !finished else { return nil }
        var w = RDBWriter()
        if databaseIndex < 0 {
            w.writeHeader()
            for (k, v) in aux { w.writeAux(k, v) }
            w.writeFunctions(functions)
            aux = []
            functions = []
            databaseIndex = 0
        }
        while w.bytes.count < budget {
            if cursor == nil {
                // The next non-empty database: SELECTDB and RESIZEDB (a size hint; expires aren't counted
                // up front so the snapshot is read once).
                while databaseIndex < snapshots.count && snapshots[databaseIndex].count == 0 { databaseIndex += 1 }
                guard databaseIndex < snapshots.count else {
                    var out = w.bytes
                    out.append(RDBWriter.Opcode.eof.rawValue)
                    crc = CRC64.update(crc, out)
                    var trailer = crc.littleEndian
                    withUnsafeBytes(of: &trailer) { out.append(contentsOf: $0) }
                    finished = true
                    snapshots = []
                    produced += out.count
                    return out
                }
                w.writeSelectDB(databaseIndex, keys: snapshots[databaseIndex].count, expires: 0)
                cursor = snapshots[databaseIndex].makeCursor()
            }
            // Entries in groups, re-checking the budget between groups.
            var written = 0
            let more = cursor!.next(limit: 64) { key, value, expireAt in
                w.writeEntry(key: key, value: value, expireAt: expireAt)
                written += 1
            }
            keys += written
            if !more {
                cursor = nil
                snapshots[databaseIndex] = EmptyDatabaseSnapshot()
                databaseIndex += 1
            }
        }
        crc = CRC64.update(crc, w.bytes)
        produced += w.bytes.count
        return w.bytes
    }

    /// The whole file at once (tests, small datasets).
    public static func all(snapshots: [any DatabaseSnapshot], aux: [(String, String)]) -> [UInt8] {
        let stream = RDBStream(snapshots: snapshots, aux: aux)
        var out: [UInt8] = []
        while let slice = stream.next(budget: 1 << 20) { out += slice }
        return out
    }
}

/// Stands in for a database whose entries were all written (lets the real snapshot go early).
struct EmptyDatabaseSnapshot: DatabaseSnapshot {
    var count: Int { 0 }
    func forEach(_ body: (Bytes, StoredValue, Int64?) throws -> Bool) rethrows {}
    func makeCursor() -> any SnapshotCursor { ArraySnapshotCursor([]) }
}
