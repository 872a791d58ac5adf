import TernRDB
import TernStorage

/// Feeds arbitrary bytes to the RDB reader three ways: as a whole file; as an object of the type the first
/// byte picks (wrapped in a valid header, with a zero checksum, so the CRC doesn't reject nearly all inputs
/// before the decoders see them); and as a DUMP payload (checksum off). Every input must end in a value or
/// an RDBError — never a crash, a hang, or an allocation sized by an unchecked length.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? RDBReader.parse(bytes)
    if let first = bytes.first {
        // Object types 0...21 and the opcodes 0xF5...0xFF.
        let types: [UInt8] = Array(0...21) + Array(0xF5...0xFF)
        let type = types[Int(first) % types.count]
        var file = Array("REDIS0010".utf8) + [type, 1, UInt8(ascii: "k")] + bytes.dropFirst()
        file += [0xFF, 0, 0, 0, 0, 0, 0, 0, 0]
        _ = try? RDBReader.parse(file)
        var payload = [type] + bytes.dropFirst()
        payload += [10, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        _ = try? RDBReader.decodeDumpPayload(payload, checksum: false)
    }
    return 0
}
