import Benchmark
import NIOCore
import RESP

/// The RESP codec on its own: decoding pipelined requests (argument slices, no copies) and writing replies.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal, .throughput],
                                           maxDuration: .seconds(2), maxIterations: 1_000_000)

    // 16 pipelined `SET key:<n> value` requests, as redis-benchmark -P 16 sends them.
    Benchmark("decode 16 pipelined SETs", configuration: .init(scalingFactor: .kilo)) { (benchmark: Benchmark, input: ByteBuffer) in
        var decoder = RESPCommandDecoder()
        var arguments: [ByteBuffer] = []
        for _ in benchmark.scaledIterations {
            var buffer = input
            while let _ = try? decoder.decode(buffer: &buffer, into: &arguments) { blackHole(arguments.count) }
        }
    } setup: {
        var b = ByteBuffer()
        for i in 0..<16 { RESPValue.command(["SET", "key:\(i)", "value"]).encode(into: &b) }
        return b
    }

    Benchmark("write 16 bulk replies + 16 integers", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var out = ByteBuffer()
        out.reserveCapacity(4096)
        let value: [UInt8] = Array("value".utf8)
        for _ in benchmark.scaledIterations {
            out.clear()
            for i in 0..<16 {
                out.writeRESPBulk(value)
                out.writeRESPInteger(i * 1000)
            }
            blackHole(out.readableBytes)
        }
    }
}
