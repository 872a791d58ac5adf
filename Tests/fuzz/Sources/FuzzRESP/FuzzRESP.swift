import NIOCore
import RESP

/// Feeds arbitrary bytes to the request decoder (whole, then split in two at every position the input's
/// first byte picks) and to the reply decoder: any input must end in a decoded value, "need more", or a
/// protocol error — never a crash, a hang or an allocation driven by an unchecked length.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    var limits = RESPLimits()
    limits.maxBulkLength = 1 << 20
    var decoder = RESPCommandDecoder(limits: limits, authenticated: size % 2 == 0)
    var buffer = ByteBuffer(bytes: bytes)
    var arguments: [ByteBuffer] = []
    var rounds = 0
    while rounds < 10_000, let done = try? decoder.decode(buffer: &buffer, into: &arguments), done != nil {
        rounds += 1
    }
    if size > 1 {
        let split = Int(bytes[0]) % size
        var d2 = RESPCommandDecoder(limits: limits)
        var b2 = ByteBuffer(bytes: bytes[0..<split])
        _ = try? d2.decode(buffer: &b2, into: &arguments)
        b2.writeBytes(bytes[split...])
        rounds = 0
        while rounds < 10_000, let done = try? d2.decode(buffer: &b2, into: &arguments), done != nil { rounds += 1 }
    }
    var replies = RESPValueDecoder()
    replies.maxBulkLength = 1 << 20
    var b3 = ByteBuffer(bytes: bytes)
    rounds = 0
    while rounds < 10_000, let value = try? replies.decode(buffer: &b3) {
        _ = value
        rounds += 1
    }
    return 0
}
