import NIOCore
import RESP
import TernStorage

/// The HyperLogLog commands of Redis 7.0 (hyperloglog.c): PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST, on string
/// values in Redis's exact representation (see HyperLogLog.swift).
enum HyperLogLogCommands {
    static let invalidObject = CommandError("INVALIDOBJ Corrupted HLL object detected")
    static let notHLL = CommandError("WRONGTYPE Key is not a valid HyperLogLog string value.")

    static var specs: [CommandSpec] {
        [
            CommandSpec("pfadd", arity: -2, flags: [.write, .denyoom, .fast], keys: .single, group: "hyperloglog",
                        summary: "Adds the specified elements to the specified HyperLogLog.", since: "2.8.9",
                        complexity: "O(1) to add every element.", acl: ["hyperloglog"],
                        arguments: ["key", "[element [element ...]]"], handler: pfadd),
            CommandSpec("pfcount", arity: -2, flags: [.readonly], keys: .all, group: "hyperloglog",
                        summary: "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
                        since: "2.8.9",
                        complexity: "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.",
                        acl: ["hyperloglog"], arguments: ["key [key ...]"], handler: pfcount),
            CommandSpec("pfmerge", arity: -2, flags: [.write, .denyoom], keys: .all, group: "hyperloglog",
                        summary: "Merge N different HyperLogLogs into a single one.", since: "2.8.9",
                        complexity: "O(N) to merge N HyperLogLogs, but with high constant times.", acl: ["hyperloglog"],
                        arguments: ["destkey", "[sourcekey [sourcekey ...]]"], handler: pfmerge),
            CommandSpec("pfdebug", arity: 3, flags: [.write, .denyoom, .admin], keys: KeyPositions(first: 2, last: 2, step: 1),
                        group: "hyperloglog", summary: "Internal commands for debugging HyperLogLog values",
                        since: "2.8.9", complexity: "N/A", acl: ["hyperloglog", "dangerous"],
                        arguments: ["subcommand", "key"], handler: pfdebug),
            CommandSpec("pfselftest", arity: 1, flags: [.admin], group: "hyperloglog",
                        summary: "An internal command for testing HyperLogLog values", since: "2.8.9", complexity: "N/A",
                        acl: ["hyperloglog", "dangerous"], handler: pfselftest),
        ]
    }

    /// The HLL string at `key` (nil when absent); WRONGTYPE for another kind, Redis's HyperLogLog WRONGTYPE for a
    /// string that isn't one.
    static func hll(_ ctx: CommandContext, _ key: Bytes, write: Bool) throws -> [UInt8]? {
        let keyspace = ctx.keyspace
        guard let record = write ? keyspace.lookupWrite(key) : keyspace.lookupRead(key) else { return nil }
        guard case .string(let s) = record.value else { throw CommandError.wrongType }
        guard HyperLogLog.isValid(s.array) else { throw notHLL }
        return s.array
    }

    /// Stores an edited HLL back, keeping the key's expiry.
    static func store(_ ctx: CommandContext, _ key: Bytes, _ hll: [UInt8]) {
        ctx.keyspace.store(key, .string(Bytes(hll)), expiry: .keep)
    }

    static func pfadd(_ ctx: CommandContext) throws {
        let key = ctx.bytes(1)
        var updated = 0
        var value: [UInt8]
        if let existing = try hll(ctx, key, write: true) {
            value = existing
        } else {
            value = HyperLogLog.empty()
            updated = 1
        }
        let maxBytes = ctx.server.config.hllSparseMaxBytes
        for j in 2..<max(2, ctx.argc) {
            do {
                if try ctx.arguments[j].withUnsafeReadableBytes({ try HyperLogLog.add(&value, $0, maxBytes: maxBytes) }) {
                    updated += 1
                }
            } catch {
                throw invalidObject
            }
        }
        if updated > 0 {
            HyperLogLog.invalidateCache(&value)
            let dirty = ctx.server.dirty
            store(ctx, key, value)
            ctx.server.dirty = dirty + updated
            ctx.notify(.string, "pfadd", key)
        }
        ctx.integer(updated > 0 ? 1 : 0)
    }

    static func pfcount(_ ctx: CommandContext) throws {
        if ctx.argc > 2 {
            // The cardinality of the union, nothing stored.
            var registers = [UInt8](repeating: 0, count: HyperLogLog.registers)
            for j in 1..<ctx.argc {
                guard let value = try hll(ctx, ctx.bytes(j), write: false) else { continue }
                do { try HyperLogLog.merge(into: &registers, value) } catch { throw invalidObject }
            }
            return ctx.integer(Int(HyperLogLog.estimate(HyperLogLog.histogram(raw: registers))))
        }
        let key = ctx.bytes(1)
        guard var value = try hll(ctx, key, write: false) else { return ctx.integer(0) }
        if HyperLogLog.cacheIsValid(value) {
            return ctx.integer(Int(truncatingIfNeeded: HyperLogLog.cachedCardinality(value)))
        }
        let histogram: [Int]
        do { histogram = try HyperLogLog.histogram(value) } catch { throw invalidObject }
        let card = HyperLogLog.estimate(histogram)
        // Caching the cardinality changes the string: stored, and propagated as Redis does (PFCOUNT itself).
        HyperLogLog.setCachedCardinality(&value, card)
        store(ctx, key, value)
        // PFCOUNT is read-only in the command table, so the dispatcher won't propagate it by itself.
        if ctx.wantsEffects { ctx.propagate(ctx.arguments) }
        ctx.integer(Int(truncatingIfNeeded: card))
    }

    static func pfmerge(_ ctx: CommandContext) throws {
        var registers = [UInt8](repeating: 0, count: HyperLogLog.registers)
        var useDense = false
        for j in 1..<ctx.argc {
            guard let value = try hll(ctx, ctx.bytes(j), write: false) else { continue }
            if value[4] == HyperLogLog.dense { useDense = true }
            do { try HyperLogLog.merge(into: &registers, value) } catch { throw invalidObject }
        }
        let key = ctx.bytes(1)
        var target = try hll(ctx, key, write: true) ?? HyperLogLog.empty()
        if useDense {
            do { target = try HyperLogLog.toDense(target) } catch { throw invalidObject }
        }
        let maxBytes = ctx.server.config.hllSparseMaxBytes
        for (i, v) in registers.enumerated() where v != 0 {
            if target[4] == HyperLogLog.dense {
                _ = HyperLogLog.denseRaise(&target, i, v)
            } else {
                // The target was validated as a source above: it can't be corrupted.
                _ = try? HyperLogLog.sparseRaise(&target, i, v, maxBytes: maxBytes)
            }
        }
        HyperLogLog.invalidateCache(&target)
        store(ctx, key, target)
        ctx.notify(.string, "pfadd", key)
        ctx.ok()
    }

    static func pfdebug(_ ctx: CommandContext) throws {
        let key = ctx.bytes(2)
        guard var value = try hll(ctx, key, write: true) else {
            throw CommandError.err("The specified key does not exist")
        }
        if ctx.argument(1, is: "GETREG") {
            if value[4] == HyperLogLog.sparse {
                do { value = try HyperLogLog.toDense(value) } catch { throw invalidObject }
                store(ctx, key, value)  // the encoding changed: propagated
            }
            ctx.arrayHeader(HyperLogLog.registers)
            for i in 0..<HyperLogLog.registers { ctx.integer(Int(HyperLogLog.denseRegister(value, i))) }
        } else if ctx.argument(1, is: "DECODE") {
            guard value[4] == HyperLogLog.sparse else { throw CommandError.err("HLL encoding is not sparse") }
            ctx.bulk(decode(value))
        } else if ctx.argument(1, is: "ENCODING") {
            ctx.simple(value[4] == HyperLogLog.dense ? "dense" : "sparse")
        } else if ctx.argument(1, is: "TODENSE") {
            var converted = false
            if value[4] == HyperLogLog.sparse {
                do { value = try HyperLogLog.toDense(value) } catch { throw invalidObject }
                store(ctx, key, value)
                converted = true
            }
            ctx.integer(converted ? 1 : 0)
        } else {
            throw CommandError.err("Unknown PFDEBUG subcommand '\(ctx.string(1))'")
        }
    }

    /// PFDEBUG DECODE: the sparse opcodes as "z:len", "Z:len" and "v:value,len", space separated.
    static func decode(_ s: [UInt8]) -> String {
        var parts: [String] = []
        var p = HyperLogLog.headerSize
        while p < s.count {
            let b = s[p]
            if HyperLogLog.isZero(b) {
                parts.append("z:\(HyperLogLog.zeroLength(b))"); p += 1
            } else if HyperLogLog.isXZero(b) {
                parts.append("Z:\(HyperLogLog.xzeroLength(b, HyperLogLog.byte(s, p + 1)))"); p += 2
            } else {
                parts.append("v:\(HyperLogLog.valValue(b)),\(HyperLogLog.valLength(b))"); p += 1
            }
        }
        return parts.joined(separator: " ")
    }

    /// PFSELFTEST: the dense registers keep what is written without touching their neighbours, and sparse and
    /// dense HLLs fed the same elements agree and stay within the expected error at 10^k elements.
    static func pfselftest(_ ctx: CommandContext) throws {
        var rng = SystemRandomNumberGenerator()
        var dense = [UInt8](repeating: 0, count: HyperLogLog.denseSize)
        var expected = [UInt8](repeating: 0, count: HyperLogLog.registers)
        for _ in 0..<20 {
            dense.withUnsafeMutableBytes { raw in
                for i in 0..<HyperLogLog.registers {
                    let r = UInt8.random(in: 0...HyperLogLog.registerMax, using: &rng)
                    expected[i] = r
                    HyperLogLog.denseSet(raw, HyperLogLog.headerSize, i, r)
                }
            }
            for i in 0..<HyperLogLog.registers where HyperLogLog.denseRegister(dense, i) != expected[i] {
                throw CommandError.err("TESTFAILED Register \(i) should be \(expected[i]) but is \(HyperLogLog.denseRegister(dense, i))")
            }
        }
        var denseHLL = HyperLogLog.empty()
        denseHLL = try HyperLogLog.toDense(denseHLL)
        var sparseHLL = HyperLogLog.empty()
        let maxBytes = ctx.server.config.hllSparseMaxBytes
        let relativeError = 1.04 / Double(HyperLogLog.registers).squareRoot()
        let seed = UInt64.random(in: 0...UInt64.max, using: &rng)
        var checkpoint = 1
        for j in 1...100_000 {
            var element = (UInt64(j) ^ seed).littleEndian
            try withUnsafeBytes(of: &element) { raw in
                _ = try HyperLogLog.add(&denseHLL, raw, maxBytes: maxBytes)
                _ = try HyperLogLog.add(&sparseHLL, raw, maxBytes: maxBytes)
            }
            guard j == checkpoint else { continue }
            if j < maxBytes / 2 && sparseHLL[4] != HyperLogLog.sparse {
                throw CommandError.err("TESTFAILED sparse encoding not used")
            }
            let d = HyperLogLog.estimate(try HyperLogLog.histogram(denseHLL))
            let s = HyperLogLog.estimate(try HyperLogLog.histogram(sparseHLL))
            if d != s { throw CommandError.err("TESTFAILED dense/sparse disagree") }
            var maxError = UInt64((relativeError * 6 * Double(checkpoint)).rounded(.up))
            if j == 10 { maxError = 1 }
            let absError = (Int64(checkpoint) - Int64(d)).magnitude
            if absError > maxError {
                throw CommandError.err("TESTFAILED Too big error. card:\(checkpoint) abserr:\(absError)")
            }
            checkpoint *= 10
        }
        ctx.ok()
    }
}
