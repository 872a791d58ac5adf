#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// LOLWUT [VERSION v] [args...], as Redis 7.0's lolwut.c: version 5 draws Georg Nees's "Schotter" in
/// Braille characters, version 6 an 8-bit style skyline in terminal colours, any other version (the default
/// is the server's, 7) just names the version. The float arithmetic follows the C code's types, so the
/// parts of the pictures that involve no randomness come out identical to Redis's.
enum LolwutCommand {
    static var specs: [CommandSpec] {
        [
            CommandSpec("lolwut", arity: -1, flags: [.readonly, .fast], group: "server",
                        summary: "Display some computer art and the Redis version", since: "5.0.0",
                        acl: ["read"], arguments: ["[VERSION version]"], handler: lolwut),
        ]
    }

    static func lolwut(_ ctx: CommandContext) throws {
        var version = Int(TernVersion.redisCompatible.split(separator: ".").first ?? "7") ?? 7
        var args = Array(ctx.arguments.dropFirst()).map { String(buffer: $0) }
        if ctx.argc >= 3 && ctx.argument(1, is: "VERSION") {
            version = try ctx.int(2)
            args.removeFirst(2)
        }
        // "%u.0.0" of the version: 5.x draws Schotter, 6.x the skyline.
        switch UInt32(truncatingIfNeeded: version) {
        case 5: ctx.verbatim(try schotter(args))
        case 6: ctx.verbatim(try skyline(args))
        default: ctx.verbatim("Redis ver. \(TernVersion.redisCompatible)\n")
        }
    }

    /// getLongFromObjectOrReply for the version-specific arguments, clamped as Redis clamps them.
    static func numbers(_ args: [String], defaults: [Int], limits: [ClosedRange<Int>]) throws -> [Int] {
        var out = defaults
        for i in 0..<min(args.count, defaults.count) {
            guard let v = Int(args[i]) else { throw CommandError.notInteger }
            out[i] = min(max(v, limits[i].lowerBound), limits[i].upperBound)
        }
        return out
    }

    // MARK: canvas

    struct Canvas {
        let width: Int
        let height: Int
        var pixels: [UInt8]

        init(width: Int, height: Int, background: UInt8 = 0) {
            self.width = width
            self.height = height
            pixels = [UInt8](repeating: background, count: width * height)
        }

        mutating func draw(_ x: Int, _ y: Int, _ color: UInt8) {
            guard x >= 0, x < width, y >= 0, y < height else { return }
            pixels[x + y * width] = color
        }

        func get(_ x: Int, _ y: Int) -> UInt8 {
            guard x >= 0, x < width, y >= 0, y < height else { return 0 }
            return pixels[x + y * width]
        }

        /// Bresenham.
        mutating func line(_ x1: Int, _ y1: Int, _ x2: Int, _ y2: Int, _ color: UInt8) {
            var x1 = x1, y1 = y1
            let dx = abs(x2 - x1), dy = abs(y2 - y1)
            let sx = x1 < x2 ? 1 : -1, sy = y1 < y2 ? 1 : -1
            var err = dx - dy
            while true {
                draw(x1, y1, color)
                if x1 == x2 && y1 == y2 { break }
                let e2 = err * 2
                if e2 > -dy { err -= dy; x1 += sx }
                if e2 < dx { err += dx; y1 += sy }
            }
        }

        /// A square centred at x,y, rotated by `angle`: its corners on the circle of radius size/sqrt(2).
        mutating func square(_ x: Int, _ y: Int, _ size: Float, _ angle: Float, _ color: UInt8) {
            var size = Float(Double(size) / 1.4142135623)
            size = size.rounded()
            var k = Float(Double.pi / 4) + angle
            var px = [Int](repeating: 0, count: 4), py = [Int](repeating: 0, count: 4)
            for j in 0..<4 {
                px[j] = Int((sin(Double(k)) * Double(size) + Double(x)).rounded())
                py[j] = Int((cos(Double(k)) * Double(size) + Double(y)).rounded())
                k = Float(Double(k) + Double.pi / 2)
            }
            for j in 0..<4 { line(px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4], color) }
        }
    }

    // MARK: version 5

    /// LOLWUT VERSION 5 [columns] [squares-per-row] [squares-per-col] (66, 8, 12).
    static func schotter(_ args: [String]) throws -> String {
        let n = try numbers(args, defaults: [66, 8, 12], limits: [1...1000, 1...200, 1...200])
        let (cols, perRow, perCol) = (n[0], n[1], n[2])
        let canvasWidth = cols * 2
        let padding = canvasWidth > 4 ? 2 : 0
        let side = Float(canvasWidth - padding * 2) / Float(perRow)
        let canvasHeight = Int(side * Float(perCol) + Float(padding * 2))
        var canvas = Canvas(width: canvasWidth, height: canvasHeight)
        for y in 0..<perCol {
            for x in 0..<perRow {
                var sx = Int(Float(x) * side + side / 2 + Float(padding))
                var sy = Int(Float(y) * side + side / 2 + Float(padding))
                // Rows further down are rotated and moved ever more at random.
                var angle: Float = 0
                if y > 1 {
                    var r1 = Float.random(in: 0...1) / Float(perCol) * Float(y)
                    var r2 = Float.random(in: 0...1) / Float(perCol) * Float(y)
                    var r3 = Float.random(in: 0...1) / Float(perCol) * Float(y)
                    if Bool.random() { r1 = -r1 }
                    if Bool.random() { r2 = -r2 }
                    if Bool.random() { r3 = -r3 }
                    angle = r1
                    sx += Int(r2 * side / 3)
                    sy += Int(r3 * side / 3)
                }
                canvas.square(sx, sy, side, angle, 1)
            }
        }
        return braille(canvas) + "\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. \(TernVersion.redisCompatible)\n"
    }

    /// Each 2x4 block of pixels as one Braille character (U+2800 + dot bits), rows separated by newlines.
    static func braille(_ canvas: Canvas) -> String {
        var text: [UInt8] = []
        var y = 0
        while y < canvas.height {
            var x = 0
            while x < canvas.width {
                var byte = 0
                let bits = [(0, 0, 0), (0, 1, 1), (0, 2, 2), (1, 0, 3), (1, 1, 4), (1, 2, 5), (0, 3, 6), (1, 3, 7)]
                for (dx, dy, bit) in bits where canvas.get(x + dx, y + dy) != 0 { byte |= 1 << bit }
                let code = 0x2800 + byte
                text += [UInt8(0xE0 | (code >> 12)), UInt8(0x80 | ((code >> 6) & 0x3F)), UInt8(0x80 | (code & 0x3F))]
                x += 2
            }
            if y != canvas.height - 1 { text.append(10) }
            y += 4
        }
        return String(decoding: text, as: UTF8.self)
    }

    // MARK: version 6

    /// LOLWUT VERSION 6 [columns] [rows] (80, 20).
    static func skyline(_ args: [String]) throws -> String {
        let n = try numbers(args, defaults: [80, 20], limits: [1...1000, 1...1000])
        var canvas = Canvas(width: n[0], height: n[1], background: 3)
        func rand() -> Int { Int.random(in: 0...Int(Int32.max)) }
        func skyscraper(xoff: Int, width: Int, height: Int, windows: Bool, color: UInt8) {
            let starty = canvas.height - 1
            let endy = starty - height + 1
            var y = starty
            while y >= endy {
                for x in xoff..<(xoff + width) {
                    // The roof is four pixels narrower.
                    if y == endy && (x <= xoff + 1 || x >= xoff + width - 2) { continue }
                    var c = color
                    if windows && x > xoff + 1 && x < xoff + width - 2 && y > endy + 1 && y < starty - 1 {
                        let relx = x - (xoff + 1), rely = y - (endy + 1)
                        // Windows are two pixels wide and one tall (terminal cells are not square).
                        if (relx / 2) % 2 != 0 && rely % 2 != 0 {
                            repeat { c = UInt8(1 + rand() % 2) } while c == color
                            if relx % 2 != 0 { c = canvas.get(x - 1, y) }
                        }
                    }
                    canvas.draw(x, y, c)
                }
                y -= 1
            }
        }
        // Background buildings in the two greys (lighter ones behind), then the foreground with windows.
        for color in [UInt8(2), 1] {
            var offset = -10
            while offset < canvas.width {
                offset += rand() % 8
                let width = 10 + rand() % 9
                let height = color == 2 ? canvas.height / 2 + rand() % canvas.height / 2
                    : canvas.height / 2 + rand() % canvas.height / 3
                skyscraper(xoff: offset, width: width, height: height, windows: false, color: color)
                offset += color == 2 ? width / 2 : width + 1
            }
        }
        var offset = -10
        while offset < canvas.width {
            offset += rand() % 8
            var width = 5 + rand() % 14
            if width % 4 != 0 { width += width % 3 }
            let height = canvas.height / 3 + rand() % canvas.height / 2
            skyscraper(xoff: offset, width: width, height: height, windows: true, color: 0)
            offset += width + 5
        }
        var text = ""
        for y in 0..<canvas.height {
            for x in 0..<canvas.width {
                let escape: String
                switch canvas.get(x, y) {
                case 1: escape = "0;90;100m"
                case 2: escape = "0;37;47m"
                case 3: escape = "0;97;107m"
                default: escape = "0;30;40m"
                }
                text += "\u{1B}[\(escape) \u{1B}[0m"
            }
            if y != canvas.height - 1 { text += "\n" }
        }
        return text + "\nDedicated to the 8 bit game developers of past and present.\nOriginal 8 bit image from Plaguemon by hikikomori. Redis ver. \(TernVersion.redisCompatible)\n"
    }
}
