import DequeModule
import TernStorage

/// Why an RDB payload was refused (the message names the offset, the key when there is one, and the cause).
public struct RDBError: Error, CustomStringConvertible, Equatable {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Reads a Redis RDB file (versions 1...11): everything Redis 7.0 writes and the older encodings it still
/// loads.
///
/// - Strings: raw, integer-encoded (8/16/32 bit) and LZF-compressed.
/// - Object types: string 0, list 1, set 2, zset 3 (text scores), hash 4, zset-2 5 (binary scores),
///   hash zipmap 9, list ziplist 10, set intset 11, zset ziplist 12, hash ziplist 13, list quicklist 14
///   (ziplist nodes), hash listpack 16, zset listpack 17, list quicklist-2 18 (plain and listpack nodes),
///   set listpack 20 (written by Redis 7.2).
/// - Opcodes: AUX, SELECTDB, RESIZEDB, EXPIRETIME (s), EXPIRETIME_MS, FREQ, IDLE; MODULE_AUX and FUNCTION2
///   are skipped (they hold no keys) and reported in `warnings`. The CRC-64 trailer is verified unless zero.
/// - Streams: listpacks 15 (Redis 5/6), listpacks-2 19 (7.0), listpacks-3 21 (7.2: consumers' active time),
///   with consumer groups, PELs and consumers.
/// - Module (6, 7) keys are refused with an error naming the key: Tern can't represent them, and silently
///   dropping a key would be worse.
///
/// Bounded: every length is checked against the bytes that remain before anything is allocated, compact
/// encodings are validated (header sizes, terminators, element counts) before use, so corrupt or truncated
/// input fails with an `RDBError`, never a crash. Empty collections are skipped, as Redis does.
public struct RDBReader {
    public struct Entry {
        public var db: Int
        public var key: Bytes
        public var value: StoredValue
        public var expireAt: Int64?
    }

    public private(set) var aux: [(String, String)] = []
    public private(set) var entries: [Entry] = []
    public private(set) var version = 0
    /// The function libraries' code (FUNCTION2 records), for scripting to load.
    public private(set) var functionLibraries: [[UInt8]] = []
    /// Things that were skipped (module aux data), for the caller's log.
    public private(set) var warnings: [String] = []
    /// Keys holding an empty collection (Redis skips them too).
    public private(set) var emptyKeysSkipped = 0
    /// Keys delivered to the entry handler.
    public private(set) var keysLoaded = 0

    private let data: [UInt8]
    private var pos = 0
    private var currentKey: Bytes?
    private var databases = 16
    private var db = 0

    /// Parses the whole payload into `entries`; `databases` bounds SELECTDB.
    public static func parse(_ data: [UInt8], databases: Int = 16) throws -> RDBReader {
        var collected: [Entry] = []
        var r = try load(data, databases: databases) { collected.append($0) }
        r.entries = collected
        return r
    }

    /// Parses the payload and hands each key to `body` as it is read (nothing is accumulated). An error
    /// thrown by `body` stops the load and is rethrown.
    public static func load(_ data: [UInt8], databases: Int = 16, _ body: (Entry) throws -> Void) throws -> RDBReader {
        var r = try RDBReader(data, databases: databases)
        while let entry = try r.next() { try body(entry) }
        return r
    }

    /// An incremental reader: checks the header now; `next()` then yields one key at a time (a caller can
    /// spread a big load over several event-loop passes).
    public init(_ data: [UInt8], databases: Int = 16) throws {
        self.data = data
        self.databases = databases
        guard data.count >= 9, Array(data[0..<5]) == Array("REDIS".utf8),
              let v = Int(String(decoding: data[5..<9], as: UTF8.self)) else {
            throw RDBError("Wrong signature trying to load DB from file")
        }
        guard Self.supportedVersions.contains(v) else { throw RDBError("Can't handle RDB format version \(v)") }
        version = v
        pos = 9
    }

    /// Bytes consumed so far and in all (loading progress).
    public var offset: Int { pos }
    public var totalBytes: Int { data.count }
    public private(set) var finished = false

    /// RDB versions this reader accepts (Redis 7.0 writes 10; 11 is Redis 7.2's, whose new encodings are
    /// read too).
    public static let supportedVersions = 1...11

    /// A DUMP payload: object type byte, the object, the RDB version (2 bytes LE) and the CRC-64 (8 bytes
    /// LE) of everything before it. Redis's error texts.
    public static func decodeDumpPayload(_ payload: [UInt8], checksum: Bool = true) throws -> StoredValue {
        guard payload.count >= 10 else { throw RDBError("DUMP payload version or checksum are wrong") }
        let footer = payload.count - 10
        let version = Int(payload[footer]) | Int(payload[footer + 1]) << 8
        guard version <= RDBWriter.version else { throw RDBError("DUMP payload version or checksum are wrong") }
        var stored: UInt64 = 0
        for i in 0..<8 { stored |= UInt64(payload[footer + 2 + i]) << (8 * UInt64(i)) }
        if checksum && CRC64.update(0, payload[0..<(payload.count - 8)]) != stored {
            throw RDBError("DUMP payload version or checksum are wrong")
        }
        var r = RDBReader(data: Array(payload[0..<footer]))
        r.version = version
        do {
            let type = try r.byte()
            if Self.moduleTypes.contains(type) { throw RDBError("Bad data format") }
            guard let value = try r.object(type), r.remaining == 0 else { throw RDBError("Bad data format") }
            return value
        } catch {
            throw RDBError("Bad data format")
        }
    }

    private init(data: [UInt8]) { self.data = data }

    private var remaining: Int { data.count - pos }

    private func fail(_ what: String) -> RDBError {
        if let currentKey { return RDBError("Bad RDB at offset \(pos) (key '\(currentKey)'): \(what)") }
        return RDBError("Bad RDB at offset \(pos): \(what)")
    }

    private mutating func byte() throws -> UInt8 {
        guard pos < data.count else { throw fail("unexpected end of file") }
        defer { pos += 1 }
        return data[pos]
    }

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else { throw fail("unexpected end of file (need \(n) bytes, \(remaining) left)") }
        defer { pos += n }
        return data[pos..<pos + n]
    }

    private mutating func littleEndian(_ n: Int) throws -> UInt64 {
        let b = try take(n)
        var v: UInt64 = 0
        for (i, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(i)) }
        return v
    }

    private mutating func bigEndian(_ n: Int) throws -> UInt64 {
        var v: UInt64 = 0
        for x in try take(n) { v = v << 8 | UInt64(x) }
        return v
    }

    /// A length, or an encoding marker for special strings (returned as `encoded`).
    private mutating func length() throws -> (value: UInt64, encoded: Bool) {
        let first = try byte()
        switch first >> 6 {
        case 0: return (UInt64(first & 0x3f), false)
        case 1: return (UInt64(first & 0x3f) << 8 | UInt64(try byte()), false)
        case 2:
            if first == 0x80 { return (try bigEndian(4), false) }
            if first == 0x81 { return (try bigEndian(8), false) }
            throw fail("invalid length prefix 0x\(String(first, radix: 16))")
        default: return (UInt64(first & 0x3f), true)
        }
    }

    private mutating func plainLength() throws -> UInt64 {
        let (n, encoded) = try length()
        if encoded { throw fail("unexpected encoded length") }
        return n
    }

    /// A plain length bounded by what remains (each counted item takes at least `minItemBytes`).
    private mutating func count(minItemBytes: Int = 1) throws -> Int {
        let n = try plainLength()
        guard n <= UInt64(remaining / max(1, minItemBytes)) else { throw fail("length \(n) exceeds the remaining data") }
        return Int(n)
    }

    private mutating func string() throws -> [UInt8] {
        let (n, encoded) = try length()
        if !encoded {
            guard n <= UInt64(remaining) else { throw fail("string length \(n) exceeds the remaining data") }
            return Array(try take(Int(n)))
        }
        switch n {
        case 0: return Array(String(Int8(bitPattern: UInt8(try littleEndian(1)))).utf8)
        case 1: return Array(String(Int16(bitPattern: UInt16(try littleEndian(2)))).utf8)
        case 2: return Array(String(Int32(bitPattern: UInt32(try littleEndian(4)))).utf8)
        case 3:
            let clen = try count()
            let ulen = try plainLength()
            // One LZF back-reference (3 bytes) expands to at most 264 bytes: anything more is corrupt, and
            // the output buffer never grows past what the input can actually produce.
            guard ulen <= UInt64(clen) * 88 + 8 else { throw fail("implausible LZF length \(ulen)") }
            let compressed = try take(clen)
            guard let out = Self.lzfDecompress(compressed, expected: Int(ulen)) else { throw fail("corrupt LZF data") }
            return out
        default:
            throw fail("unknown string encoding \(n)")
        }
    }

    /// LZF decompression (liblzf's format), exact output length required.
    static func lzfDecompress(_ input: ArraySlice<UInt8>, expected: Int) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(expected)
        var i = input.startIndex
        while i < input.endIndex {
            let ctrl = Int(input[i]); i += 1
            if ctrl < 32 {
                let n = ctrl + 1
                guard i + n <= input.endIndex, out.count + n <= expected else { return nil }
                out.append(contentsOf: input[i..<i + n]); i += n
            } else {
                var len = ctrl >> 5
                if len == 7 {
                    guard i < input.endIndex else { return nil }
                    len += Int(input[i]); i += 1
                }
                guard i < input.endIndex else { return nil }
                let back = ((ctrl & 0x1f) << 8) + Int(input[i]) + 1; i += 1
                len += 2
                guard back <= out.count, out.count + len <= expected else { return nil }
                let start = out.count - back
                for k in 0..<len { out.append(out[start + k]) }
            }
        }
        return out.count == expected ? out : nil
    }

    private mutating func binaryDouble() throws -> Double { Double(bitPattern: try littleEndian(8)) }

    /// RDB_TYPE_ZSET's score: length-prefixed text, 253/254/255 for nan/+inf/-inf.
    private mutating func textDouble() throws -> Double {
        let n = try byte()
        switch n {
        case 253: return .nan
        case 254: return .infinity
        case 255: return -.infinity
        default:
            let text = String(decoding: try take(Int(n)), as: UTF8.self)
            guard let d = Double(text) else { throw fail("invalid score '\(text)'") }
            return d
        }
    }

    static let moduleTypes: Set<UInt8> = [6, 7]

    /// One object of the given RDB type; nil for an empty collection (skipped, as Redis does).
    private mutating func object(_ type: UInt8) throws -> StoredValue? {
        switch type {
        case 0:
            return .string(Bytes(try string()))
        case 1:
            let n = try count()
            var l = Deque<Bytes>()
            l.reserveCapacity(n)
            for _ in 0..<n { l.append(Bytes(try string())) }
            return l.isEmpty ? nil : .list(l)
        case 2:
            let n = try count()
            var s = Set<Bytes>(minimumCapacity: n)
            for _ in 0..<n {
                guard s.insert(Bytes(try string())).inserted else { throw fail("Duplicate set members detected") }
            }
            return s.isEmpty ? nil : .set(s)
        case 3, 5:
            let n = try count(minItemBytes: 2)
            var z = SortedSetValue()
            for _ in 0..<n {
                let member = Bytes(try string())
                let score = type == 5 ? try binaryDouble() : try textDouble()
                if score.isNaN { throw fail("Zset with NAN score detected") }
                guard z.set(member, score: score) else { throw fail("Duplicate zset fields detected") }
            }
            return z.isEmpty ? nil : .zset(z)
        case 4:
            let n = try count(minItemBytes: 2)
            var h = [Bytes: Bytes](minimumCapacity: n)
            for _ in 0..<n {
                let f = Bytes(try string())
                guard h.updateValue(Bytes(try string()), forKey: f) == nil else { throw fail("Duplicate hash fields detected") }
            }
            return h.isEmpty ? nil : .hash(h)
        case 9:
            return try hash(pairs: try Self.zipmapElements(try string()).orThrow(fail))
        case 10:
            let elements = try Self.ziplistElements(try string()).orThrow(fail)
            return elements.isEmpty ? nil : .list(Deque(elements))
        case 11:
            let members = try Self.intsetMembers(try string()).orThrow(fail)
            return try set(members)
        case 12, 17:
            let blob = try string()
            let elements = try (type == 12 ? Self.ziplistElements(blob) : Self.listpackElements(blob)).orThrow(fail)
            return try zset(pairs: elements)
        case 13, 16:
            let blob = try string()
            return try hash(pairs: try (type == 13 ? Self.ziplistElements(blob) : Self.listpackElements(blob)).orThrow(fail))
        case 14, 18:
            let nodes = try count()
            var l = Deque<Bytes>()
            for _ in 0..<nodes {
                if type == 18 {
                    let container = try plainLength()
                    if container == 1 {  // PLAIN: one large element stored as is
                        l.append(Bytes(try string()))
                        continue
                    }
                    guard container == 2 else { throw fail("Quicklist integrity check failed (container \(container))") }
                    l.append(contentsOf: try Self.listpackElements(try string()).orThrow(fail))
                } else {
                    l.append(contentsOf: try Self.ziplistElements(try string()).orThrow(fail))
                }
            }
            return l.isEmpty ? nil : .list(l)
        case 20:
            return try set(try Self.listpackElements(try string()).orThrow(fail))
        case 15, 19, 21:
            return .stream(try stream(type))
        default:
            throw fail("unknown object type \(type)")
        }
    }

    /// A stream (rdbLoadObject's RDB_TYPE_STREAM_LISTPACKS*): nodes keyed by master ID, each a listpack with
    /// a master entry and delta-encoded items; then the counters and the consumer groups.
    private mutating func stream(_ type: UInt8) throws -> StreamValue {
        var s = StreamValue()
        let nodeCount = try count(minItemBytes: 2)
        var previous: StreamID?
        for _ in 0..<nodeCount {
            let key = try string()
            guard let master = StreamID(encoded: key) else { throw fail("Stream node key entry is not the size of a stream ID") }
            if let previous, !(previous < master) { throw fail("Stream node keys out of order") }
            previous = master
            let lp = try string()
            let elements = try Self.listpackElements(lp).orThrow(fail)
            guard let node = StreamNode(master: master, elements: elements) else { throw fail("Stream listpack integrity check failed") }
            if node.count == 0 { throw fail("Empty listpack inside stream") }
            s.nodes.append(node)
        }
        s.length = Int(try plainLength())
        s.lastID = StreamID(ms: try plainLength(), seq: try plainLength())
        if type >= 19 {
            s.firstID = StreamID(ms: try plainLength(), seq: try plainLength())
            s.maxDeletedID = StreamID(ms: try plainLength(), seq: try plainLength())
            s.entriesAdded = try plainLength()
        } else {
            s.entriesAdded = UInt64(s.length)
            s.firstID = s.firstValidID ?? .zero
        }
        let live = s.nodes.reduce(0) { $0 + $1.live }
        guard live == s.length else { throw fail("Stream length \(s.length) but \(live) entries") }
        let groupCount = try count(minItemBytes: 3)
        for _ in 0..<groupCount {
            let name = Bytes(try string())
            let last = StreamID(ms: try plainLength(), seq: try plainLength())
            var entriesRead: Int64
            if type >= 19 {
                entriesRead = Int64(bitPattern: try plainLength())
            } else {
                entriesRead = s.estimateDistanceFromFirstEverEntry(last)
            }
            if entriesRead < 0 { entriesRead = StreamGroup.invalidEntriesRead }
            guard s.createGroup(name, lastID: last, entriesRead: entriesRead) else {
                throw fail("Duplicated consumer group name \(name)")
            }
            var g = s.group(name)!
            let pelCount = try count(minItemBytes: 17)
            var pel: [(StreamID, Int64, UInt64)] = []
            for _ in 0..<pelCount {
                guard let id = StreamID(encoded: try take(16)) else { throw fail("bad PEL entry") }
                let time = Int64(bitPattern: try littleEndian(8))
                let deliveries = try plainLength()
                pel.append((id, time, deliveries))
            }
            var owners: [StreamID: Bytes] = [:]
            let consumerCount = try count(minItemBytes: 10)
            for _ in 0..<consumerCount {
                let cname = Bytes(try string())
                let seen = Int64(bitPattern: try littleEndian(8))
                if type >= 21 { _ = try littleEndian(8) }  // 7.2's active time: 7.0 has no such field
                guard g.addConsumer(cname, seenTime: seen) else { throw fail("Duplicated consumer name") }
                let n = try count(minItemBytes: 16)
                for _ in 0..<n {
                    guard let id = StreamID(encoded: try take(16)) else { throw fail("bad consumer PEL entry") }
                    guard owners.updateValue(cname, forKey: id) == nil else {
                        throw fail("Duplicated consumer PEL entry  loading a stream consumer group")
                    }
                }
            }
            for (id, time, deliveries) in pel {
                guard let owner = owners[id] else { throw fail("Stream PEL entry without a consumer") }
                guard g.pel[id] == nil else { throw fail("Duplicated global PEL entry loading stream consumer group") }
                g.assignPending(id, to: owner, deliveryTime: time, deliveryCount: deliveries)
            }
            guard owners.count == g.pel.count else { throw fail("Stream consumer PEL entry not in the group PEL") }
            s.groups[s.groupIndex(name).index] = g
        }
        return s
    }

    private func set(_ members: [Bytes]) throws -> StoredValue? {
        let s = Set(members)
        guard s.count == members.count else { throw fail("Duplicate set members detected") }
        return s.isEmpty ? nil : .set(s)
    }

    private func hash(pairs: [Bytes]) throws -> StoredValue? {
        guard pairs.count % 2 == 0 else { throw fail("Hash with an odd number of elements detected") }
        var h = [Bytes: Bytes](minimumCapacity: pairs.count / 2)
        var i = 0
        while i < pairs.count {
            guard h.updateValue(pairs[i + 1], forKey: pairs[i]) == nil else { throw fail("Duplicate hash fields detected") }
            i += 2
        }
        return h.isEmpty ? nil : .hash(h)
    }

    private func zset(pairs: [Bytes]) throws -> StoredValue? {
        guard pairs.count % 2 == 0 else { throw fail("Zset with an odd number of elements detected") }
        var z = SortedSetValue()
        var i = 0
        while i < pairs.count {
            guard let score = Double(pairs[i + 1].string), !score.isNaN else {
                throw fail("invalid zset score '\(pairs[i + 1])'")
            }
            guard z.set(pairs[i], score: score) else { throw fail("Duplicate zset fields detected") }
            i += 2
        }
        return z.isEmpty ? nil : .zset(z)
    }

    /// Redis's module type name from a module id (9 characters of a 64-symbol alphabet, 6 bits each).
    static func moduleName(id: UInt64) -> String {
        let charset: [Character] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var name = ""
        for i in 0..<9 {
            let shift = UInt64(64 - 6 * (i + 1))
            let index = Int((id >> shift) & 63)
            name.append(charset[index])
        }
        return name
    }

    /// Skips module-serialized data: a sequence of (opcode, value) up to the EOF opcode, self-describing
    /// (what redis-check-rdb does for modules it doesn't have).
    private mutating func skipModuleValue() throws {
        while true {
            let opcode = try plainLength()
            switch opcode {
            case 0: return                              // EOF
            case 1, 2: _ = try length()                 // SINT, UINT
            case 3: _ = try take(4)                     // FLOAT
            case 4: _ = try take(8)                     // DOUBLE
            case 5: _ = try string()                    // STRING
            default: throw fail("unknown module serialization opcode \(opcode)")
            }
        }
    }

    /// The next key, or nil once EOF and the checksum were read (then `finished`).
    public mutating func next() throws -> Entry? {
        if finished { return nil }
        var expireAt: Int64?
        while true {
            let type = try byte()
            switch type {
            case 0xFF:  // EOF, then the CRC-64 (version 5+)
                let end = pos
                if version >= 5 {
                    let stored = try littleEndian(8)
                    if stored != 0 {
                        let computed = CRC64.update(0, data[0..<end])
                        if computed != stored { throw RDBError("Wrong RDB checksum expected: (\(String(stored, radix: 16))) got: (\(String(computed, radix: 16))).") }
                    }
                }
                if pos != data.count { throw fail("\(remaining) trailing bytes after the end of the file") }
                finished = true
                return nil
            case 0xFE:  // SELECTDB
                let n = try length()
                guard !n.encoded, n.value < UInt64(databases) else {
                    throw fail("FATAL: Data file was created with a Redis server configured to handle more than \(databases) databases.")
                }
                db = Int(n.value)
            case 0xFD:  // EXPIRETIME (seconds, 4 bytes little endian, signed)
                expireAt = Int64(Int32(bitPattern: UInt32(try littleEndian(4)))) * 1000
            case 0xFC:  // EXPIRETIME_MS
                expireAt = Int64(bitPattern: try littleEndian(8))
            case 0xFB:  // RESIZEDB (hash table size hints)
                _ = try plainLength(); _ = try plainLength()
            case 0xFA:  // AUX
                let k = String(decoding: try string(), as: UTF8.self)
                let val = String(decoding: try string(), as: UTF8.self)
                aux.append((k, val))
            case 0xF9:  // FREQ (LFU counter)
                _ = try byte()
            case 0xF8:  // IDLE (LRU idle seconds)
                _ = try plainLength()
            case 0xF7:  // MODULE_AUX: module id, when-opcode (UINT), when, then the module's data
                let id = try plainLength()
                guard try plainLength() == 2 else { throw fail("bad when_opcode in module aux data") }
                _ = try plainLength()
                try skipModuleValue()
                warnings.append("skipped aux data of module '\(Self.moduleName(id: id))' (Tern has no modules)")
            case 0xF6:
                throw fail("Pre-release function format not supported.")
            case 0xF5:  // FUNCTION2: one library's code
                functionLibraries.append(try string())
            default:
                let key = Bytes(try string())
                currentKey = key
                if Self.moduleTypes.contains(type) {
                    let id = (try? plainLength()).map { " of module type '\(Self.moduleName(id: $0))'" } ?? ""
                    throw RDBError("Can't load key '\(key)' (db \(db)): it is a module value\(id), which Tern does not support")
                }
                let value = try object(type)
                currentKey = nil
                if let value {
                    keysLoaded += 1
                    return Entry(db: db, key: key, value: value, expireAt: expireAt)
                }
                emptyKeysSkipped += 1
                expireAt = nil
            }
        }
    }
}

private extension Result where Failure == PackedFormatError {
    func orThrow(_ transform: (String) -> RDBError) throws -> Success {
        switch self {
        case .success(let s): return s
        case .failure(let e): throw transform(e.message)
        }
    }
}

/// A structural fault inside a ziplist, listpack, intset or zipmap blob.
struct PackedFormatError: Error { var message: String }

extension RDBReader {
    /// The elements of a ziplist (integers as their decimal text), validated: header sizes, every entry
    /// inside the blob, the terminator, and the element count.
    static func ziplistElements(_ zl: [UInt8]) -> Result<[Bytes], PackedFormatError> {
        func bad(_ why: String) -> Result<[Bytes], PackedFormatError> { .failure(PackedFormatError(message: "Ziplist integrity check failed: \(why)")) }
        guard zl.count >= 11 else { return bad("too short") }
        let zlbytes = Int(zl[0]) | Int(zl[1]) << 8 | Int(zl[2]) << 16 | Int(zl[3]) << 24
        let zltail = Int(zl[4]) | Int(zl[5]) << 8 | Int(zl[6]) << 16 | Int(zl[7]) << 24
        let zllen = Int(zl[8]) | Int(zl[9]) << 8
        guard zlbytes == zl.count, zl[zl.count - 1] == 0xFF, zltail < zl.count else { return bad("bad header") }
        var out: [Bytes] = []
        out.reserveCapacity(min(zllen, zl.count / 2))
        var p = 10
        let end = zl.count - 1
        while p < end {
            // prevlen: 1 byte, or 0xFE then 4 bytes
            if zl[p] == 0xFE { p += 5 } else { p += 1 }
            guard p < end else { return bad("entry past the end") }
            let enc = zl[p]
            switch enc >> 6 {
            case 0, 1, 2:
                var len: Int
                switch enc >> 6 {
                case 0: len = Int(enc & 0x3f); p += 1
                case 1:
                    guard p + 2 <= end else { return bad("entry past the end") }
                    len = Int(enc & 0x3f) << 8 | Int(zl[p + 1]); p += 2
                default:
                    guard enc == 0x80, p + 5 <= end else { return bad("bad string encoding") }
                    len = Int(zl[p + 1]) << 24 | Int(zl[p + 2]) << 16 | Int(zl[p + 3]) << 8 | Int(zl[p + 4]); p += 5
                }
                guard len <= end - p else { return bad("string past the end") }
                out.append(Bytes(zl[p..<p + len])); p += len
            default:
                p += 1
                var width: Int
                switch enc {
                case 0xC0: width = 2
                case 0xD0: width = 4
                case 0xE0: width = 8
                case 0xF0: width = 3
                case 0xFE: width = 1
                case 0xF1...0xFD:
                    out.append(Bytes(String(Int(enc & 0x0f) - 1).utf8))
                    continue
                default: return bad("bad integer encoding 0x\(String(enc, radix: 16))")
                }
                guard width <= end - p else { return bad("integer past the end") }
                out.append(Bytes(String(signedLittleEndian(zl, p, width)).utf8)); p += width
            }
        }
        guard p == end else { return bad("entries overrun the terminator") }
        if zllen != 0xFFFF && zllen != out.count { return bad("count \(zllen) but \(out.count) entries") }
        return .success(out)
    }

    /// The elements of a listpack, validated like a ziplist.
    static func listpackElements(_ lp: [UInt8]) -> Result<[Bytes], PackedFormatError> {
        func bad(_ why: String) -> Result<[Bytes], PackedFormatError> { .failure(PackedFormatError(message: "Listpack integrity check failed: \(why)")) }
        guard lp.count >= 7 else { return bad("too short") }
        let total = Int(lp[0]) | Int(lp[1]) << 8 | Int(lp[2]) << 16 | Int(lp[3]) << 24
        let declared = Int(lp[4]) | Int(lp[5]) << 8
        guard total == lp.count, lp[lp.count - 1] == 0xFF else { return bad("bad header") }
        var out: [Bytes] = []
        out.reserveCapacity(min(declared, lp.count))
        var p = 6
        let end = lp.count - 1
        while p < end {
            let start = p
            let enc = lp[p]
            if enc & 0x80 == 0 {                        // 7-bit unsigned
                out.append(Bytes(String(enc).utf8)); p += 1
            } else if enc & 0xC0 == 0x80 {              // 6-bit length string
                let len = Int(enc & 0x3f)
                guard len <= end - p - 1 else { return bad("string past the end") }
                out.append(Bytes(lp[(p + 1)..<(p + 1 + len)])); p += 1 + len
            } else if enc & 0xE0 == 0xC0 {              // 13-bit signed
                guard p + 2 <= end else { return bad("integer past the end") }
                var v = Int(enc & 0x1f) << 8 | Int(lp[p + 1])
                if v >= 1 << 12 { v -= 1 << 13 }
                out.append(Bytes(String(v).utf8)); p += 2
            } else if enc & 0xF0 == 0xE0 {              // 12-bit length string
                guard p + 2 <= end else { return bad("string past the end") }
                let len = Int(enc & 0x0f) << 8 | Int(lp[p + 1])
                guard len <= end - p - 2 else { return bad("string past the end") }
                out.append(Bytes(lp[(p + 2)..<(p + 2 + len)])); p += 2 + len
            } else {
                switch enc {
                case 0xF0:                              // 32-bit length string
                    guard p + 5 <= end else { return bad("string past the end") }
                    let len = Int(lp[p + 1]) | Int(lp[p + 2]) << 8 | Int(lp[p + 3]) << 16 | Int(lp[p + 4]) << 24
                    guard len <= end - p - 5 else { return bad("string past the end") }
                    out.append(Bytes(lp[(p + 5)..<(p + 5 + len)])); p += 5 + len
                case 0xF1, 0xF2, 0xF3, 0xF4:
                    let width = [2, 3, 4, 8][Int(enc - 0xF1)]
                    guard p + 1 + width <= end else { return bad("integer past the end") }
                    out.append(Bytes(String(signedLittleEndian(lp, p + 1, width)).utf8)); p += 1 + width
                default: return bad("bad encoding 0x\(String(enc, radix: 16))")
                }
            }
            // backlen: the entry's size in 7-bit groups, stored after it
            let size = p - start
            let backlen = size <= 127 ? 1 : size < 16383 ? 2 : size < 2_097_151 ? 3 : size < 268_435_455 ? 4 : 5
            guard backlen <= end - p else { return bad("backlen past the end") }
            p += backlen
        }
        guard p == end else { return bad("entries overrun the terminator") }
        if declared != 0xFFFF && declared != out.count { return bad("count \(declared) but \(out.count) entries") }
        return .success(out)
    }

    /// The members of an intset (as decimal text), validated: width 2/4/8, size matches the count.
    static func intsetMembers(_ blob: [UInt8]) -> Result<[Bytes], PackedFormatError> {
        func bad(_ why: String) -> Result<[Bytes], PackedFormatError> { .failure(PackedFormatError(message: "Intset integrity check failed: \(why)")) }
        guard blob.count >= 8 else { return bad("too short") }
        let width = Int(blob[0]) | Int(blob[1]) << 8 | Int(blob[2]) << 16 | Int(blob[3]) << 24
        let n = Int(blob[4]) | Int(blob[5]) << 8 | Int(blob[6]) << 16 | Int(blob[7]) << 24
        guard width == 2 || width == 4 || width == 8 else { return bad("bad encoding \(width)") }
        guard (blob.count - 8) == n * width else { return bad("size does not match \(n) members") }
        var out: [Bytes] = []
        out.reserveCapacity(n)
        var previous = Int64.min
        for i in 0..<n {
            let v = signedLittleEndian(blob, 8 + i * width, width)
            // Intsets are sorted without duplicates; anything else is corrupt.
            guard i == 0 || v > previous else { return bad("members out of order") }
            previous = v
            out.append(Bytes(String(v).utf8))
        }
        return .success(out)
    }

    /// The field/value pairs of a zipmap (Redis < 2.6 small hashes).
    static func zipmapElements(_ zm: [UInt8]) -> Result<[Bytes], PackedFormatError> {
        func bad(_ why: String) -> Result<[Bytes], PackedFormatError> { .failure(PackedFormatError(message: "Zipmap integrity check failed: \(why)")) }
        guard zm.count >= 2 else { return bad("too short") }
        var out: [Bytes] = []
        var p = 1
        func len() -> Int? {
            guard p < zm.count else { return nil }
            let b = zm[p]
            if b < 254 { p += 1; return Int(b) }
            if b == 254 {
                guard p + 5 <= zm.count else { return nil }
                let v = Int(zm[p + 1]) | Int(zm[p + 2]) << 8 | Int(zm[p + 3]) << 16 | Int(zm[p + 4]) << 24
                p += 5
                return v
            }
            return nil  // 255: end
        }
        while p < zm.count && zm[p] != 0xFF {
            guard let klen = len(), klen <= zm.count - p else { return bad("key past the end") }
            out.append(Bytes(zm[p..<p + klen])); p += klen
            guard let vlen = len(), p < zm.count else { return bad("value past the end") }
            let free = Int(zm[p]); p += 1
            guard vlen <= zm.count - p, free <= zm.count - p - vlen else { return bad("value past the end") }
            out.append(Bytes(zm[p..<p + vlen])); p += vlen + free
        }
        guard p == zm.count - 1 else { return bad("missing terminator") }
        return .success(out)
    }

    /// A signed little-endian integer of 1, 2, 3, 4 or 8 bytes at `offset` (bounds checked by the caller).
    static func signedLittleEndian(_ b: [UInt8], _ offset: Int, _ width: Int) -> Int64 {
        var u: UInt64 = 0
        for i in 0..<width { u |= UInt64(b[offset + i]) << (8 * UInt64(i)) }
        let shift = UInt64(64 - 8 * width)
        return Int64(bitPattern: u << shift) >> Int64(shift)
    }
}
