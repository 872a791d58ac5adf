import NIOCore
import RESP
import TernStorage

/// The bit commands of Redis 7.0 (bitops.c) on string values: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD
/// BITFIELD_RO. Reads and edits go through the keyspace's string range operations, so a bit update of a big
/// string touches only the bytes it needs.
enum BitmapCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("setbit", arity: 4, flags: [.write, .denyoom], keys: .single, group: "bitmap",
                        summary: "Sets or clears the bit at offset in the string value stored at key", since: "2.2.0",
                        acl: ["bitmap"], arguments: ["key", "offset", "value"], handler: setbit),
            CommandSpec("getbit", arity: 3, flags: [.readonly, .fast], keys: .single, group: "bitmap",
                        summary: "Returns the bit value at offset in the string value stored at key", since: "2.2.0",
                        acl: ["bitmap"], arguments: ["key", "offset"], handler: getbit),
            CommandSpec("bitcount", arity: -2, flags: [.readonly], keys: .single, group: "bitmap",
                        summary: "Count set bits in a string", since: "2.6.0", complexity: "O(N)",
                        acl: ["bitmap"], arguments: ["key", "[start end [BYTE|BIT]]"], handler: bitcount),
            CommandSpec("bitpos", arity: -3, flags: [.readonly], keys: .single, group: "bitmap",
                        summary: "Find first bit set or clear in a string", since: "2.8.7", complexity: "O(N)",
                        acl: ["bitmap"], arguments: ["key", "bit", "[start [end [BYTE|BIT]]]"], handler: bitpos),
            CommandSpec("bitop", arity: -4, flags: [.write, .denyoom], keys: KeyPositions(first: 2, last: -1, step: 1),
                        group: "bitmap", summary: "Perform bitwise operations between strings", since: "2.6.0",
                        complexity: "O(N)", acl: ["bitmap"],
                        arguments: ["operation", "destkey", "key [key ...]"], handler: bitop),
            CommandSpec("bitfield", arity: -2, flags: [.write, .denyoom], keys: .single, group: "bitmap",
                        summary: "Perform arbitrary bitfield integer operations on strings", since: "3.2.0",
                        complexity: "O(1) for each subcommand specified", acl: ["bitmap"],
                        arguments: ["key", "[GET encoding offset]", "[SET encoding offset value]",
                                    "[INCRBY encoding offset increment]", "[OVERFLOW WRAP|SAT|FAIL]"]) { ctx in
                try bitfield(ctx, readOnly: false)
            },
            CommandSpec("bitfield_ro", arity: -2, flags: [.readonly, .fast], keys: .single, group: "bitmap",
                        summary: "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
                        since: "6.0.0", complexity: "O(1) for each subcommand specified", acl: ["bitmap"],
                        arguments: ["key", "GET encoding offset [GET encoding offset ...]"]) { ctx in
                try bitfield(ctx, readOnly: true)
            },
        ]
    }

    static let offsetError = CommandError.err("bit offset is not an integer or out of range")
    static let typeError = CommandError.err(
        "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")

    // MARK: argument parsing

    /// An argument as Redis's C code sees it: its bytes up to the first NUL.
    static func cString(_ ctx: CommandContext, _ i: Int) -> [UInt8] {
        ctx.arguments[i].withUnsafeReadableBytes { raw in
            let n = raw.firstIndex(of: 0) ?? raw.count
            return Array(raw[0..<n])
        }
    }

    /// `getBitOffsetFromArgument`: a bit offset, or `#n` (n * bits) when `hashBits` is given (BITFIELD);
    /// limited to proto-max-bulk-len bytes except for the master.
    static func bitOffset(_ ctx: CommandContext, _ i: Int, hashBits: Int? = nil) throws -> Int {
        var text = cString(ctx, i)[...]
        var useHash = false
        if hashBits != nil, text.count > 1, text.first == UInt8(ascii: "#") {
            useHash = true
            text = text.dropFirst()
        }
        guard var offset = RESPNumber.parseInt64(Array(text)) else { throw offsetError }
        if useHash, let bits = hashBits { offset = offset &* Int64(bits) }
        if offset < 0 || (!ctx.client.flags.contains(.master) && (offset >> 3) >= Int64(ctx.server.config.protoMaxBulkLen)) {
            throw offsetError
        }
        return Int(offset)
    }

    /// `getBitfieldTypeFromArgument`: i1..i64 or u1..u63.
    static func bitfieldType(_ ctx: CommandContext, _ i: Int) throws -> (signed: Bool, bits: Int) {
        let text = cString(ctx, i)
        guard let first = text.first, first == UInt8(ascii: "i") || first == UInt8(ascii: "u") else { throw typeError }
        let signed = first == UInt8(ascii: "i")
        guard let bits = RESPNumber.parseInt64(Array(text.dropFirst())), bits >= 1, bits <= (signed ? 64 : 63) else {
            throw typeError
        }
        return (signed, Int(bits))
    }

    // MARK: SETBIT / GETBIT

    static func setbit(_ ctx: CommandContext) throws {
        let offset = try bitOffset(ctx, 2)
        let on = try ctx.int(3, error: .err("bit is not an integer or out of range"))
        if on & ~1 != 0 { throw CommandError.err("bit is not an integer or out of range") }
        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        let length = try keyspace.stringLength(key, read: false)
        let byte = offset >> 3
        let mask = UInt8(1 << (7 - (offset & 7)))
        // As Redis, SETBIT changes the key (dirty, WATCH, the event) only when it grows it or flips the bit.
        let grows = byte >= (length ?? 0)
        let wasSet = keyspace.updateStringRange(key, offset: byte, count: 1, existed: length != nil,
                                                changed: { grows || $0 != (on == 1) }) { out -> Bool in
            let was = out[0] & mask != 0
            out[0] = on == 1 ? (out[0] | mask) : (out[0] & ~mask)
            return was
        }
        if grows || wasSet != (on == 1) { ctx.notify(.string, "setbit", key) }
        ctx.integer(wasSet ? 1 : 0)
    }

    static func getbit(_ ctx: CommandContext) throws {
        let offset = try bitOffset(ctx, 2)
        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        guard let length = try keyspace.stringLength(key, read: true) else { return ctx.integer(0) }
        let byte = offset >> 3
        guard byte < length else { return ctx.integer(0) }
        let value = keyspace.readStringRange(key, offset: byte, count: 1).first ?? 0
        ctx.integer(value & UInt8(1 << (7 - (offset & 7))) != 0 ? 1 : 0)
    }

    // MARK: BITCOUNT / BITPOS

    /// A BYTE or BIT range normalized as Redis does: (first byte, last byte, masks of the bits outside the
    /// range in the first and last byte), or nil for an empty range.
    struct ByteRange {
        var start: Int
        var end: Int
        var firstMask: UInt8 = 0
        var lastMask: UInt8 = 0
    }

    static func normalize(start: Int, end: Int, length: Int, bits: Bool) -> ByteRange? {
        let total = bits ? length << 3 : length
        var s = start < 0 ? total + start : start
        var e = end < 0 ? total + end : end
        if s < 0 { s = 0 }
        if e < 0 { e = 0 }
        if e >= total { e = total - 1 }
        var range = ByteRange(start: s, end: e)
        if bits && s <= e {
            range.firstMask = ~UInt8(truncatingIfNeeded: (1 << (8 - (s & 7))) - 1)
            range.lastMask = UInt8(truncatingIfNeeded: (1 << (7 - (e & 7))) - 1)
            range.start = s >> 3
            range.end = e >> 3
        }
        return range.start > range.end ? nil : range
    }

    static func unit(_ ctx: CommandContext, _ i: Int) throws -> Bool {
        if StringCommands.option(ctx, i, is: "BIT") { return true }
        if StringCommands.option(ctx, i, is: "BYTE") { return false }
        throw CommandError.syntax
    }

    static func bitcount(_ ctx: CommandContext) throws {
        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        guard let length = try keyspace.stringLength(key, read: true) else { return ctx.integer(0) }
        var range: ByteRange?
        if ctx.argc == 4 || ctx.argc == 5 {
            let start = try ctx.int(2), end = try ctx.int(3)
            if start < 0 && end < 0 && start > end { return ctx.integer(0) }
            let bits = ctx.argc == 5 ? try unit(ctx, 4) : false
            range = normalize(start: start, end: end, length: length, bits: bits)
        } else if ctx.argc == 2 {
            range = length == 0 ? nil : ByteRange(start: 0, end: length - 1)
        } else {
            throw CommandError.syntax
        }
        guard let range else { return ctx.integer(0) }
        var bytes = keyspace.readStringRange(key, offset: range.start, count: range.end - range.start + 1)
        if !bytes.isEmpty {
            bytes[0] &= ~range.firstMask
            bytes[bytes.count - 1] &= ~range.lastMask
        }
        ctx.integer(popcount(bytes))
    }

    static func popcount(_ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBytes { raw in
            var count = 0
            var i = 0
            let n = raw.count
            while i + 8 <= n {
                count += raw.loadUnaligned(fromByteOffset: i, as: UInt64.self).nonzeroBitCount
                i += 8
            }
            while i < n { count += raw[i].nonzeroBitCount; i += 1 }
            return count
        }
    }

    /// `redisBitpos`: the first bit equal to `bit` (MSB first); for 0 past the end, `count * 8`; for 1, -1.
    static func firstBit(_ bytes: ArraySlice<UInt8>, _ bit: Int) -> Int {
        var position = 0
        for b in bytes {
            let v = bit == 1 ? b : ~b
            if v != 0 { return position + v.leadingZeroBitCount }
            position += 8
        }
        return bit == 1 ? -1 : position
    }

    static func bitpos(_ ctx: CommandContext) throws {
        let bit = try ctx.int(2)
        if bit != 0 && bit != 1 { throw CommandError.err("The bit argument must be 1 or 0.") }
        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        guard let length = try keyspace.stringLength(key, read: true) else { return ctx.integer(bit == 1 ? -1 : 0) }
        var range: ByteRange?
        var endGiven = false
        if ctx.argc >= 4 && ctx.argc <= 6 {
            let start = try ctx.int(3)
            var bits = false
            if ctx.argc == 6 { bits = try unit(ctx, 5) }
            var end: Int
            if ctx.argc >= 5 {
                end = try ctx.int(4)
                endGiven = true
            } else {
                end = bits ? (length << 3) + 7 : length - 1
            }
            range = normalize(start: start, end: end, length: length, bits: bits)
        } else if ctx.argc == 3 {
            range = length == 0 ? nil : ByteRange(start: 0, end: length - 1)
        } else {
            throw CommandError.syntax
        }
        guard let range else { return ctx.integer(-1) }
        var bytes = keyspace.readStringRange(key, offset: range.start, count: range.end - range.start + 1)
        // Bits outside a BIT range can't match: force them to the opposite value.
        if bit == 1 {
            bytes[0] &= ~range.firstMask
            bytes[bytes.count - 1] &= ~range.lastMask
        } else {
            bytes[0] |= range.firstMask
            bytes[bytes.count - 1] |= range.lastMask
        }
        let pos = firstBit(bytes[...], bit)
        // Looking for a clear bit in an explicit range: the bits right of it are not zero padding.
        if endGiven && bit == 0 && pos == bytes.count << 3 { return ctx.integer(-1) }
        ctx.integer(pos == -1 ? -1 : pos + (range.start << 3))
    }

    // MARK: BITOP

    static func bitop(_ ctx: CommandContext) throws {
        enum Op { case and, or, xor, not }
        let op: Op
        if StringCommands.option(ctx, 1, is: "AND") { op = .and }
        else if StringCommands.option(ctx, 1, is: "OR") { op = .or }
        else if StringCommands.option(ctx, 1, is: "XOR") { op = .xor }
        else if StringCommands.option(ctx, 1, is: "NOT") { op = .not }
        else { throw CommandError.syntax }
        if op == .not && ctx.argc != 4 {
            throw CommandError.err("BITOP NOT must be called with a single source key.")
        }
        let keyspace = ctx.keyspace
        var sources: [[UInt8]] = []
        var maxLength = 0
        for j in 3..<ctx.argc {
            let key = ctx.bytes(j)
            guard let length = try keyspace.stringLength(key, read: true) else {
                sources.append([])
                continue
            }
            sources.append(keyspace.readStringRange(key, offset: 0, count: length))
            maxLength = max(maxLength, length)
        }
        let target = ctx.bytes(2)
        guard maxLength > 0 else {
            if keyspace.delete(target) { ctx.notify(.generic, "del", target) }
            return ctx.integer(0)
        }
        var result = [UInt8](repeating: 0, count: maxLength)
        result.withUnsafeMutableBufferPointer { out in
            let first = sources[0]
            for i in 0..<first.count { out[i] = first[i] }
            if op == .not {
                for i in 0..<maxLength { out[i] = ~out[i] }
                return
            }
            for source in sources.dropFirst() {
                source.withUnsafeBufferPointer { src in
                    let n = src.count
                    switch op {
                    case .and:
                        for i in 0..<n { out[i] &= src[i] }
                        for i in n..<maxLength { out[i] = 0 }
                    case .or:
                        for i in 0..<n { out[i] |= src[i] }
                    case .xor:
                        for i in 0..<n { out[i] ^= src[i] }
                    case .not:
                        break
                    }
                }
            }
        }
        keyspace.store(target, .string(Bytes(result)), expiry: .clear)
        ctx.notify(.string, "set", target)
        ctx.integer(maxLength)
    }

    // MARK: BITFIELD

    enum Overflow { case wrap, sat, fail }

    struct FieldOp {
        enum Kind { case get, set, incrby }
        var kind: Kind
        var offset: Int
        var value: Int64
        var overflow: Overflow
        var bits: Int
        var signed: Bool
    }

    static func bitfield(_ ctx: CommandContext, readOnly: Bool) throws {
        var ops: [FieldOp] = []
        var overflow = Overflow.wrap
        var writes = false
        var highestWrite = 0
        var j = 2
        while j < ctx.argc {
            let remaining = ctx.argc - j - 1
            let kind: FieldOp.Kind
            if StringCommands.option(ctx, j, is: "GET") && remaining >= 2 {
                kind = .get
            } else if StringCommands.option(ctx, j, is: "SET") && remaining >= 3 {
                kind = .set
            } else if StringCommands.option(ctx, j, is: "INCRBY") && remaining >= 3 {
                kind = .incrby
            } else if StringCommands.option(ctx, j, is: "OVERFLOW") && remaining >= 1 {
                if StringCommands.option(ctx, j + 1, is: "WRAP") { overflow = .wrap }
                else if StringCommands.option(ctx, j + 1, is: "SAT") { overflow = .sat }
                else if StringCommands.option(ctx, j + 1, is: "FAIL") { overflow = .fail }
                else { throw CommandError.err("Invalid OVERFLOW type specified") }
                j += 2
                continue
            } else {
                throw CommandError.syntax
            }
            let (signed, bits) = try bitfieldType(ctx, j + 1)
            let offset = try bitOffset(ctx, j + 2, hashBits: bits)
            var value: Int64 = 0
            if kind != .get {
                writes = true
                highestWrite = max(highestWrite, offset + bits - 1)
                value = Int64(try ctx.int(j + 3))
            }
            ops.append(FieldOp(kind: kind, offset: offset, value: value, overflow: overflow, bits: bits, signed: signed))
            j += kind == .get ? 3 : 4
        }

        let key = ctx.bytes(1)
        let keyspace = ctx.keyspace
        if writes && readOnly { throw CommandError.err("BITFIELD_RO only supports the GET subcommand") }
        let length = try keyspace.stringLength(key, read: !writes)

        var current = length ?? 0
        let dirtyBefore = ctx.server.dirty
        // Redis first grows the string to the highest bit written (creating it when absent).
        if writes && (highestWrite >> 3) >= current {
            keyspace.updateStringRange(key, offset: highestWrite >> 3, count: 1, existed: length != nil) { _ in }
            current = (highestWrite >> 3) + 1
        }
        let grew = current != (length ?? 0)
        var changes = 0
        ctx.arrayHeader(ops.count)
        for op in ops {
            // Each op works on a copy of the (at most 9) bytes it spans, zero-padded past the end.
            let first = op.offset >> 3
            let span = ((op.offset + op.bits - 1) >> 3) - first + 1
            var field = [UInt8](repeating: 0, count: span)
            if first < current {
                let present = keyspace.readStringRange(key, offset: first, count: span)
                field.replaceSubrange(0..<present.count, with: present)
            }
            let offset = op.offset & 7
            if op.kind == .get {
                ctx.integer(op.signed ? Int(signedField(field, offset, op.bits))
                                      : Int(Int64(bitPattern: unsignedField(field, offset, op.bits))))
                continue
            }
            let old: UInt64, new: UInt64, reply: UInt64
            let failed: Int
            if op.signed {
                let oldValue = signedField(field, offset, op.bits)
                let (f, wrapped) = signedOverflow(op.kind == .incrby ? oldValue : op.value,
                                                  op.kind == .incrby ? op.value : 0, op.bits, op.overflow)
                failed = f
                let newValue = f != 0 ? wrapped : (op.kind == .incrby ? oldValue &+ op.value : op.value)
                old = UInt64(bitPattern: oldValue)
                new = UInt64(bitPattern: newValue)
                reply = op.kind == .incrby ? new : old
            } else {
                old = unsignedField(field, offset, op.bits)
                let candidate = op.kind == .incrby ? old &+ UInt64(bitPattern: op.value) : UInt64(bitPattern: op.value)
                let (f, wrapped) = op.kind == .incrby ? unsignedOverflow(old, op.value, op.bits, op.overflow)
                                                      : unsignedOverflow(candidate, 0, op.bits, op.overflow)
                failed = f
                new = f != 0 ? wrapped : candidate
                reply = op.kind == .incrby ? new : old
            }
            if failed != 0 && op.overflow == .fail {
                ctx.null()
                continue
            }
            ctx.integer(Int(Int64(bitPattern: reply)))
            if old != new {
                setField(&field, offset, op.bits, new)
                keyspace.updateStringRange(key, offset: first, count: span, existed: true) { out in
                    field.withUnsafeBytes { out.copyMemory(from: $0) }
                }
            }
            // As Redis: a write into a string that had to grow counts as a change even if the value is the same.
            if grew || old != new { changes += 1 }
        }
        if changes > 0 {
            ctx.notify(.string, "setbit", key)
            ctx.server.dirty = dirtyBefore + changes
        }
    }

    static func unsignedField(_ p: [UInt8], _ offset: Int, _ bits: Int) -> UInt64 {
        var value: UInt64 = 0
        var o = offset
        for _ in 0..<bits {
            let bit = (p[o >> 3] >> (7 - UInt8(o & 7))) & 1
            value = (value << 1) | UInt64(bit)
            o += 1
        }
        return value
    }

    static func signedField(_ p: [UInt8], _ offset: Int, _ bits: Int) -> Int64 {
        var value = unsignedField(p, offset, bits)
        if bits < 64 && value & (UInt64(1) << (bits - 1)) != 0 { value |= UInt64.max << bits }
        return Int64(bitPattern: value)
    }

    static func setField(_ p: inout [UInt8], _ offset: Int, _ bits: Int, _ value: UInt64) {
        var o = offset
        for j in 0..<bits {
            let bitval = value & (UInt64(1) << (bits - 1 - j)) != 0
            let byte = o >> 3
            let mask = UInt8(1 << (7 - (o & 7)))
            if bitval { p[byte] |= mask } else { p[byte] &= ~mask }
            o += 1
        }
    }

    /// `checkUnsignedBitfieldOverflow`: (0 | 1 overflow | -1 underflow, the wrapped or saturated value).
    static func unsignedOverflow(_ value: UInt64, _ incr: Int64, _ bits: Int, _ owtype: Overflow) -> (Int, UInt64) {
        let max: UInt64 = bits == 64 ? UInt64.max : (UInt64(1) << bits) - 1
        let maxIncr = Int64(bitPattern: max &- value)
        let minIncr = Int64(bitPattern: 0 &- value)
        func wrap() -> UInt64 { (value &+ UInt64(bitPattern: incr)) & ~(UInt64.max << bits) }
        if value > max || (incr > 0 && incr > maxIncr) {
            return (1, owtype == .wrap ? wrap() : owtype == .sat ? max : 0)
        } else if incr < 0 && incr < minIncr {
            return (-1, owtype == .wrap ? wrap() : 0)
        }
        return (0, 0)
    }

    /// `checkSignedBitfieldOverflow`.
    static func signedOverflow(_ value: Int64, _ incr: Int64, _ bits: Int, _ owtype: Overflow) -> (Int, Int64) {
        let max: Int64 = bits == 64 ? Int64.max : (Int64(1) << (bits - 1)) - 1
        let min = -max - 1
        let maxIncr = Int64(bitPattern: UInt64(bitPattern: max) &- UInt64(bitPattern: value))
        let minIncr = min &- value
        func wrap() -> Int64 {
            var c = UInt64(bitPattern: value) &+ UInt64(bitPattern: incr)
            if bits < 64 {
                let mask = UInt64.max << bits
                if c & (UInt64(1) << (bits - 1)) != 0 { c |= mask } else { c &= ~mask }
            }
            return Int64(bitPattern: c)
        }
        if value > max || (bits != 64 && incr > maxIncr) || (value >= 0 && incr > 0 && incr > maxIncr) {
            return (1, owtype == .wrap ? wrap() : owtype == .sat ? max : 0)
        } else if value < min || (bits != 64 && incr < minIncr) || (value < 0 && incr < 0 && incr < minIncr) {
            return (-1, owtype == .wrap ? wrap() : owtype == .sat ? min : 0)
        }
        return (0, 0)
    }
}
