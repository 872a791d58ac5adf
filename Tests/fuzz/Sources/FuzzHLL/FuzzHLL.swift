/// libFuzzer harness for the HyperLogLog decoder (Sources/TernCore/HyperLogLog.swift, through a symlink):
/// arbitrary bytes as an HLL value — raw, or behind a valid sparse or dense header picked by the first byte so
/// the opcode walkers are reached — go through validation, PFCOUNT's histogram, PFMERGE's merge, TODENSE and
/// PFADD. Each must succeed or throw `HyperLogLog.Corrupted`: no crash, no out-of-bounds access, no hang.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let mode = input.first else { return 0 }
    var value: [UInt8]
    switch mode % 3 {
    case 0: value = Array(input.dropFirst())
    case 1: value = Array("HYLL".utf8) + [HyperLogLog.sparse, 0, 0, 0] + [UInt8](repeating: 0, count: 8) + input.dropFirst()
    default:
        value = Array("HYLL".utf8) + [HyperLogLog.dense, 0, 0, 0] + [UInt8](repeating: 0, count: 8) + input.dropFirst()
        if value.count < HyperLogLog.denseSize { value += [UInt8](repeating: 0, count: HyperLogLog.denseSize - value.count) }
        value = Array(value.prefix(HyperLogLog.denseSize))
    }
    guard HyperLogLog.isValid(value) else { return 0 }
    _ = HyperLogLog.cacheIsValid(value)
    _ = HyperLogLog.cachedCardinality(value)
    if let histogram = try? HyperLogLog.histogram(value) { _ = HyperLogLog.estimate(histogram) }
    var registers = [UInt8](repeating: 0, count: HyperLogLog.registers)
    if (try? HyperLogLog.merge(into: &registers, value)) != nil {
        _ = HyperLogLog.estimate(HyperLogLog.histogram(raw: registers))
    }
    _ = try? HyperLogLog.toDense(value)
    var edited = value
    let maxBytes = Int(mode) * 16
    for i in 0..<8 {
        var element = UInt64(i) &* 0x9e3779b97f4a7c15 ^ UInt64(size)
        let ok = withUnsafeBytes(of: &element) { (try? HyperLogLog.add(&edited, $0, maxBytes: maxBytes)) != nil }
        if !ok { break }
    }
    return 0
}
