/// Redis's CRC-64 (Jones polynomial, reflected, init 0, no final xor), as the RDB trailer uses it.
/// Check value: crc64(0, "123456789") == 0xe9c6d914c4b8d9ca.
public enum CRC64 {
    static let table: [UInt64] = {
        let poly: UInt64 = 0x95ac_9329_ac4b_c9b5
        return (0..<256).map { i -> UInt64 in
            var crc = UInt64(i)
            for _ in 0..<8 { crc = (crc & 1) == 1 ? (crc >> 1) ^ poly : crc >> 1 }
            return crc
        }
    }()

    public static func update<S: Sequence>(_ crc: UInt64, _ bytes: S) -> UInt64 where S.Element == UInt8 {
        var c = crc
        table.withUnsafeBufferPointer { t in
            for b in bytes { c = t[Int((c ^ UInt64(b)) & 0xff)] ^ (c >> 8) }
        }
        return c
    }
}
