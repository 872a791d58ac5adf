#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Redis 7.0's HyperLogLog (hyperloglog.c), byte for byte: the value of a PFADD key is a string holding
///
///     "HYLL" · encoding (0 dense, 1 sparse) · 3 unused bytes · cached cardinality (u64 little endian;
///     the top bit set = stale) · registers
///
/// Dense: 16384 6-bit registers packed from the least significant bit (12288 bytes). Sparse: run-length
/// opcodes ZERO `00xxxxxx` (1-64 zero registers), XZERO `01xxxxxx yyyyyyyy` (1-16384), VAL `1vvvvvxx`
/// (value 1-32 repeated 1-4 times). The same hash (MurmurHash64A, seed 0xadc83b19), register choice and
/// estimator (Ertl's, with hllSigma/hllTau) as Redis, so counts agree exactly and values move both ways.
/// Self-contained (the fuzz harness compiles this file alone).
enum HyperLogLog {
    static let p = 14
    static let q = 64 - p
    static let registers = 1 << p
    static let registerMax: UInt8 = 63
    static let headerSize = 16
    static let denseSize = headerSize + (registers * 6 + 7) / 8
    static let dense: UInt8 = 0
    static let sparse: UInt8 = 1
    static let sparseValMaxValue = 32
    static let sparseValMaxLen = 4
    static let sparseZeroMaxLen = 64
    static let sparseXZeroMaxLen = 16384
    static let alphaInf = 0.721347520444481703680

    struct Corrupted: Error {}

    // MARK: hash

    /// MurmurHash2, 64-bit version, as Redis modified it to read little endian on every architecture.
    static func murmurHash64A(_ key: UnsafeRawBufferPointer, seed: UInt64 = 0xadc83b19) -> UInt64 {
        let m: UInt64 = 0xc6a4a7935bd1e995
        let r: UInt64 = 47
        let len = key.count
        var h = seed ^ (UInt64(truncatingIfNeeded: len) &* m)
        let blocks = len & ~7
        var i = 0
        while i < blocks {
            var k = UInt64(littleEndian: key.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            k &*= m
            k ^= k >> r
            k &*= m
            h ^= k
            h &*= m
            i += 8
        }
        let rest = len & 7
        if rest > 0 {
            for j in stride(from: rest - 1, through: 0, by: -1) {
                h ^= UInt64(key[blocks + j]) << (8 * UInt64(j))
            }
            h &*= m
        }
        h ^= h >> r
        h &*= m
        h ^= h >> r
        return h
    }

    /// `hllPatLen`: the register an element maps to and the length of its 000..1 pattern (1...q+1).
    static func patternLength(_ element: UnsafeRawBufferPointer) -> (index: Int, count: UInt8) {
        var hash = murmurHash64A(element)
        let index = Int(hash & UInt64(registers - 1))
        hash >>= UInt64(p)
        hash |= UInt64(1) << UInt64(q)
        return (index, UInt8(hash.trailingZeroBitCount + 1))
    }

    // MARK: representation

    /// A new, empty HLL: sparse, one XZERO opcode per 16384 registers, cached cardinality 0.
    static func empty() -> [UInt8] {
        var s = [UInt8](repeating: 0, count: headerSize)
        s[0] = UInt8(ascii: "H"); s[1] = UInt8(ascii: "Y"); s[2] = UInt8(ascii: "L"); s[3] = UInt8(ascii: "L")
        s[4] = sparse
        var left = registers
        while left > 0 {
            let run = min(left, sparseXZeroMaxLen)
            appendXZero(&s, run)
            left -= run
        }
        return s
    }

    /// `isHLLObjectOrReply`'s checks on a string value.
    static func isValid(_ s: [UInt8]) -> Bool {
        guard s.count >= headerSize, s[0] == UInt8(ascii: "H"), s[1] == UInt8(ascii: "Y"),
              s[2] == UInt8(ascii: "L"), s[3] == UInt8(ascii: "L"), s[4] <= sparse else { return false }
        return s[4] != dense || s.count == denseSize
    }

    static func invalidateCache(_ s: inout [UInt8]) { s[15] |= 0x80 }
    static func cacheIsValid(_ s: [UInt8]) -> Bool { s[15] & 0x80 == 0 }

    static func cachedCardinality(_ s: [UInt8]) -> UInt64 {
        var card: UInt64 = 0
        for i in 0..<8 { card |= UInt64(s[8 + i]) << (8 * UInt64(i)) }
        return card
    }

    static func setCachedCardinality(_ s: inout [UInt8], _ card: UInt64) {
        for i in 0..<8 { s[8 + i] = UInt8(truncatingIfNeeded: card >> (8 * UInt64(i))) }
    }

    @inline(__always) static func isZero(_ b: UInt8) -> Bool { b & 0xc0 == 0 }
    @inline(__always) static func isXZero(_ b: UInt8) -> Bool { b & 0xc0 == 0x40 }
    @inline(__always) static func isVal(_ b: UInt8) -> Bool { b & 0x80 != 0 }
    @inline(__always) static func zeroLength(_ b: UInt8) -> Int { Int(b & 0x3f) + 1 }
    @inline(__always) static func xzeroLength(_ b: UInt8, _ next: UInt8) -> Int { (Int(b & 0x3f) << 8 | Int(next)) + 1 }
    @inline(__always) static func valValue(_ b: UInt8) -> Int { Int((b >> 2) & 0x1f) + 1 }
    @inline(__always) static func valLength(_ b: UInt8) -> Int { Int(b & 0x3) + 1 }
    @inline(__always) static func valOpcode(_ value: Int, _ length: Int) -> UInt8 {
        UInt8((value - 1) << 2 | (length - 1)) | 0x80
    }
    static func appendXZero(_ s: inout [UInt8], _ length: Int) {
        let l = length - 1
        s.append(UInt8(l >> 8) | 0x40)
        s.append(UInt8(l & 0xff))
    }
    /// ZERO for up to 64 registers, XZERO beyond.
    static func appendZeros(_ s: inout [UInt8], _ length: Int) {
        if length > sparseZeroMaxLen { appendXZero(&s, length) } else { s.append(UInt8(length - 1)) }
    }

    /// The byte at `i`, or 0 past the end (Redis reads the string's NUL terminator there).
    @inline(__always) static func byte(_ s: [UInt8], _ i: Int) -> UInt8 { i < s.count ? s[i] : 0 }

    // MARK: dense registers

    @inline(__always)
    static func denseGet(_ s: UnsafeRawBufferPointer, _ base: Int, _ index: Int) -> UInt8 {
        let bytePos = base + index * 6 / 8
        let fb = UInt(index * 6 & 7)
        let b0 = UInt(s[bytePos])
        let b1 = bytePos + 1 < s.count ? UInt(s[bytePos + 1]) : 0
        return UInt8(((b0 >> fb) | (b1 << (8 - fb))) & 63)
    }

    @inline(__always)
    static func denseSet(_ s: UnsafeMutableRawBufferPointer, _ base: Int, _ index: Int, _ value: UInt8) {
        let bytePos = base + index * 6 / 8
        let fb = UInt(index * 6 & 7)
        let v = UInt(value)
        s[bytePos] = UInt8(truncatingIfNeeded: (UInt(s[bytePos]) & ~(63 << fb)) | (v << fb))
        if bytePos + 1 < s.count {
            s[bytePos + 1] = UInt8(truncatingIfNeeded: (UInt(s[bytePos + 1]) & ~(63 >> (8 - fb))) | (v >> (8 - fb)))
        }
    }

    static func denseRegister(_ s: [UInt8], _ index: Int) -> UInt8 {
        s.withUnsafeBytes { denseGet($0, headerSize, index) }
    }

    /// `hllDenseSet`: raises a register; true when it changed.
    static func denseRaise(_ s: inout [UInt8], _ index: Int, _ count: UInt8) -> Bool {
        // Read first: most adds to a big HLL change nothing, and must not copy a shared 12 KB value.
        guard count > s.withUnsafeBytes({ denseGet($0, headerSize, index) }) else { return false }
        s.withUnsafeMutableBytes { denseSet($0, headerSize, index, count) }
        return true
    }

    /// `hllSparseToDense`: the dense form of a sparse HLL (header and cached cardinality kept).
    static func toDense(_ s: [UInt8]) throws -> [UInt8] {
        if s[4] == dense { return s }
        var out = [UInt8](repeating: 0, count: denseSize)
        for i in 0..<headerSize { out[i] = s[i] }
        out[4] = dense
        var index = 0
        var i = headerSize
        try out.withUnsafeMutableBytes { raw in
            while i < s.count {
                let b = s[i]
                let run = isZero(b) ? zeroLength(b) : isXZero(b) ? xzeroLength(b, byte(s, i + 1)) : valLength(b)
                // Any opcode running past the last register is corruption (Redis's CVE-2025-32023 fix).
                if run + index > registers { throw Corrupted() }
                if isVal(b) {
                    let value = UInt8(valValue(b))
                    for _ in 0..<run { denseSet(raw, headerSize, index, value); index += 1 }
                } else {
                    index += run
                }
                i += isXZero(b) ? 2 : 1
            }
            if index != registers { throw Corrupted() }
        }
        return out
    }

    /// `hllSparseSet`: raises register `index` to `count` in a sparse HLL, promoting it to dense when the value
    /// can't be represented or the result would pass `maxBytes`. True when it changed.
    static func sparseRaise(_ s: inout [UInt8], _ index: Int, _ count: UInt8, maxBytes: Int) throws -> Bool {
        if Int(count) > sparseValMaxValue { return try promote(&s, index, count) }
        // Step 1: the opcode covering `index`.
        var p = headerSize
        let end = s.count
        var first = 0
        var prev: Int? = nil
        var span = 0
        while p < end {
            var oplen = 1
            let b = s[p]
            if isZero(b) {
                span = zeroLength(b)
            } else if isVal(b) {
                span = valLength(b)
            } else {
                span = xzeroLength(b, byte(s, p + 1))
                oplen = 2
            }
            if index <= first + span - 1 { break }
            prev = p
            p += oplen
            first += span
        }
        if span == 0 || p >= end { throw Corrupted() }
        let op = s[p]
        let opIsZero = isZero(op), opIsXZero = isXZero(op), opIsVal = !opIsZero && !opIsXZero
        let runLength = opIsZero ? zeroLength(op) : opIsXZero ? xzeroLength(op, byte(s, p + 1)) : valLength(op)

        // Step 2: the trivial cases.
        var updatedInPlace = false
        if opIsVal {
            if valValue(op) >= Int(count) { return false }
            if runLength == 1 {
                s[p] = valOpcode(Int(count), 1)
                updatedInPlace = true
            }
        }
        if !updatedInPlace && opIsZero && runLength == 1 {
            s[p] = valOpcode(Int(count), 1)
            updatedInPlace = true
        }
        if !updatedInPlace {
            // General case: split the opcode into up to three.
            var seq: [UInt8] = []
            seq.reserveCapacity(5)
            let last = first + span - 1
            if opIsZero || opIsXZero {
                if index != first { appendZeros(&seq, index - first) }
                seq.append(valOpcode(Int(count), 1))
                if index != last { appendZeros(&seq, last - index) }
            } else {
                let current = valValue(op)
                if index != first { seq.append(valOpcode(current, index - first)) }
                seq.append(valOpcode(Int(count), 1))
                if index != last { seq.append(valOpcode(current, last - index)) }
            }
            // Step 3: substitute it.
            let oldLength = opIsXZero ? 2 : 1
            // A truncated XZERO as the last byte (Redis would write past the string's end).
            if p + oldLength > s.count { throw Corrupted() }
            let delta = seq.count - oldLength
            if delta > 0 && s.count + delta > maxBytes { return try promote(&s, index, count) }
            s.replaceSubrange(p..<(p + oldLength), with: seq)
        }

        // Step 4: merge adjacent VAL opcodes of the same value, scanning up to 5 opcodes from `prev`.
        var q = prev ?? headerSize
        var scan = 5
        while q < s.count && scan > 0 {
            scan -= 1
            let b = s[q]
            if isXZero(b) { q += 2; continue }
            if isZero(b) { q += 1; continue }
            if q + 1 < s.count && isVal(s[q + 1]) {
                let v1 = valValue(b), v2 = valValue(s[q + 1])
                if v1 == v2 {
                    let length = valLength(b) + valLength(s[q + 1])
                    if length <= sparseValMaxLen {
                        s[q + 1] = valOpcode(v1, length)
                        s.remove(at: q)
                        continue
                    }
                }
            }
            q += 1
        }
        invalidateCache(&s)
        return true
    }

    static func promote(_ s: inout [UInt8], _ index: Int, _ count: UInt8) throws -> Bool {
        s = try toDense(s)
        return denseRaise(&s, index, count)
    }

    /// `hllAdd`: adds one element; true when a register changed.
    static func add(_ s: inout [UInt8], _ element: UnsafeRawBufferPointer, maxBytes: Int) throws -> Bool {
        let (index, count) = patternLength(element)
        switch s[4] {
        case dense: return denseRaise(&s, index, count)
        case sparse: return try sparseRaise(&s, index, count, maxBytes: maxBytes)
        default: throw Corrupted()
        }
    }

    // MARK: counting and merging

    /// `hllMerge`: max[i] = max(max[i], register i).
    static func merge(into max: inout [UInt8], _ s: [UInt8]) throws {
        if s[4] == dense {
            s.withUnsafeBytes { raw in
                for i in 0..<registers {
                    let v = denseGet(raw, headerSize, i)
                    if v > max[i] { max[i] = v }
                }
            }
            return
        }
        var index = 0
        var p = headerSize
        while p < s.count {
            let b = s[p]
            let run = isZero(b) ? zeroLength(b) : isXZero(b) ? xzeroLength(b, byte(s, p + 1)) : valLength(b)
            if run + index > registers { throw Corrupted() }
            if isVal(b) {
                let value = UInt8(valValue(b))
                for _ in 0..<run {
                    if value > max[index] { max[index] = value }
                    index += 1
                }
            } else {
                index += run
            }
            p += isXZero(b) ? 2 : 1
        }
        if index != registers { throw Corrupted() }
    }

    /// The register histogram of an HLL value; throws for a sparse form that doesn't cover every register.
    static func histogram(_ s: [UInt8]) throws -> [Int] {
        var histo = [Int](repeating: 0, count: 64)
        if s[4] == dense {
            s.withUnsafeBytes { raw in
                for i in 0..<registers { histo[Int(denseGet(raw, headerSize, i))] += 1 }
            }
            return histo
        }
        var index = 0
        var p = headerSize
        while p < s.count {
            let b = s[p]
            if isZero(b) {
                let run = zeroLength(b); index += run; histo[0] += run; p += 1
            } else if isXZero(b) {
                let run = xzeroLength(b, byte(s, p + 1)); index += run; histo[0] += run; p += 2
            } else {
                let run = valLength(b); index += run; histo[valValue(b)] += run; p += 1
            }
        }
        if index != registers { throw Corrupted() }
        return histo
    }

    /// Histogram of raw 8-bit registers (PFCOUNT of several keys).
    static func histogram(raw: [UInt8]) -> [Int] {
        var histo = [Int](repeating: 0, count: 64)
        for v in raw { histo[Int(v & 63)] += 1 }
        return histo
    }

    static func sigma(_ x: Double) -> Double {
        if x == 1 { return .infinity }
        var x = x
        var zPrime: Double
        var y = 1.0
        var z = x
        repeat {
            x *= x
            zPrime = z
            z += x * y
            y += y
        } while zPrime != z
        return z
    }

    static func tau(_ x: Double) -> Double {
        if x == 0 || x == 1 { return 0 }
        var x = x
        var zPrime: Double
        var y = 1.0
        var z = 1 - x
        repeat {
            x = x.squareRoot()
            zPrime = z
            y *= 0.5
            z -= pow(1 - x, 2) * y
        } while zPrime != z
        return z / 3
    }

    /// `hllCount`'s estimator on a register histogram.
    static func estimate(_ histo: [Int]) -> UInt64 {
        let m = Double(registers)
        var z = m * tau((m - Double(histo[q + 1])) / m)
        for j in stride(from: q, through: 1, by: -1) {
            z += Double(histo[j])
            z *= 0.5
        }
        z += m * sigma(Double(histo[0]) / m)
        return UInt64((alphaInf * m * m / z).rounded())
    }
}
