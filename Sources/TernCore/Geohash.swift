#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Redis 7.0's geohash (geohash.c, geohash_helper.c): 52-bit interleaved scores over longitude -180..180 and
/// latitude -85.05112878..85.05112878, neighbour boxes, the search area for a radius or a box, and the
/// haversine distance on Redis's earth radius, so GEO replies agree with Redis's to the last digit.
enum Geohash {
    static let stepMax: UInt8 = 26
    static let latMin = -85.05112878
    static let latMax = 85.05112878
    static let longMin = -180.0
    static let longMax = 180.0
    static let earthRadius = 6372797.560856
    static let mercatorMax = 20037726.37

    struct Bits: Equatable {
        var bits: UInt64
        var step: UInt8
        var isZero: Bool { bits == 0 && step == 0 }
        static let zero = Bits(bits: 0, step: 0)
    }

    struct Range {
        var min: Double
        var max: Double
    }

    struct Area {
        var hash: Bits
        var longitude: Range
        var latitude: Range
    }

    /// north, south, east, west, north-east, north-west, south-east, south-west
    struct Neighbors {
        var north, south, east, west, northEast, northWest, southEast, southWest: Bits
    }

    static let longRange = Range(min: longMin, max: longMax)
    static let latRange = Range(min: latMin, max: latMax)

    // MARK: bit interleaving

    static func interleave64(_ xlo: UInt32, _ ylo: UInt32) -> UInt64 {
        let b: [UInt64] = [0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F, 0x00FF00FF00FF00FF,
                           0x0000FFFF0000FFFF]
        let s: [UInt64] = [1, 2, 4, 8, 16]
        var x = UInt64(xlo), y = UInt64(ylo)
        for i in stride(from: 4, through: 0, by: -1) {
            x = (x | (x << s[i])) & b[i]
            y = (y | (y << s[i])) & b[i]
        }
        return x | (y << 1)
    }

    static func deinterleave64(_ interleaved: UInt64) -> UInt64 {
        let b: [UInt64] = [0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F, 0x00FF00FF00FF00FF,
                           0x0000FFFF0000FFFF, 0x00000000FFFFFFFF]
        let s: [UInt64] = [0, 1, 2, 4, 8, 16]
        var x = interleaved, y = interleaved >> 1
        for i in 0..<6 {
            x = (x | (x >> s[i])) & b[i]
            y = (y | (y >> s[i])) & b[i]
        }
        return x | (y << 32)
    }

    // MARK: encode / decode

    /// `geohashEncode`: nil outside the supported coordinates or the given ranges.
    static func encode(_ longRange: Range, _ latRange: Range, longitude: Double, latitude: Double, step: UInt8) -> Bits? {
        guard step <= 32, step > 0 else { return nil }
        if longitude > 180 || longitude < -180 || latitude > 85.05112878 || latitude < -85.05112878 { return nil }
        if latitude < latRange.min || latitude > latRange.max || longitude < longRange.min || longitude > longRange.max {
            return nil
        }
        var latOffset = (latitude - latRange.min) / (latRange.max - latRange.min)
        var longOffset = (longitude - longRange.min) / (longRange.max - longRange.min)
        latOffset *= Double(UInt64(1) << UInt64(step))
        longOffset *= Double(UInt64(1) << UInt64(step))
        // C converts the offsets to uint32_t by truncation.
        return Bits(bits: interleave64(UInt32(truncatingIfNeeded: UInt64(latOffset)),
                                       UInt32(truncatingIfNeeded: UInt64(longOffset))), step: step)
    }

    static func encodeWGS84(longitude: Double, latitude: Double, step: UInt8 = stepMax) -> Bits? {
        encode(longRange, latRange, longitude: longitude, latitude: latitude, step: step)
    }

    static func decode(_ longRange: Range, _ latRange: Range, _ hash: Bits) -> Area? {
        if hash.isZero { return nil }
        let step = UInt64(hash.step)
        let separated = deinterleave64(hash.bits)
        let latScale = latRange.max - latRange.min
        let longScale = longRange.max - longRange.min
        let ilato = UInt32(truncatingIfNeeded: separated)
        let ilono = UInt32(truncatingIfNeeded: separated >> 32)
        let divisor = Double(UInt64(1) << step)
        return Area(
            hash: hash,
            longitude: Range(min: longRange.min + (Double(ilono) * 1.0 / divisor) * longScale,
                             max: longRange.min + (Double(ilono &+ 1) * 1.0 / divisor) * longScale),
            latitude: Range(min: latRange.min + (Double(ilato) * 1.0 / divisor) * latScale,
                            max: latRange.min + (Double(ilato &+ 1) * 1.0 / divisor) * latScale))
    }

    /// The centre of a box, clamped to the supported coordinates: (longitude, latitude).
    static func center(_ area: Area) -> (Double, Double) {
        var x = (area.longitude.min + area.longitude.max) / 2
        if x > longMax { x = longMax }
        if x < longMin { x = longMin }
        var y = (area.latitude.min + area.latitude.max) / 2
        if y > latMax { y = latMax }
        if y < latMin { y = latMin }
        return (x, y)
    }

    /// `decodeGeohash`: the coordinates a sorted-set score stands for.
    static func decodeScore(_ score: Double) -> (longitude: Double, latitude: Double)? {
        let bits = cUInt64(score)
        guard let area = decode(longRange, latRange, Bits(bits: bits, step: stepMax)) else { return nil }
        let (x, y) = center(area)
        return (x, y)
    }

    /// `(uint64_t)score` as x86-64 code computes it, for scores that are no geohash (negative or huge ones
    /// from plain ZADDs): a truncating signed conversion below 2^63, an offset one above, 2^63 when out of range.
    static func cUInt64(_ d: Double) -> UInt64 {
        let twoTo63 = 9223372036854775808.0
        func cvtt(_ v: Double) -> UInt64 {
            v >= -twoTo63 && v < twoTo63 ? UInt64(bitPattern: Int64(v)) : 0x8000000000000000
        }
        return d < twoTo63 ? cvtt(d) : cvtt(d - twoTo63) ^ 0x8000000000000000
    }

    static func align52Bits(_ hash: Bits) -> UInt64 {
        hash.bits << (52 - UInt64(hash.step) * 2)
    }

    // MARK: neighbours

    static func moveX(_ hash: inout Bits, _ d: Int) {
        if d == 0 { return }
        var x = hash.bits & 0xaaaaaaaaaaaaaaaa
        let y = hash.bits & 0x5555555555555555
        let shift = 64 - UInt64(hash.step) * 2
        let zz: UInt64 = 0x5555555555555555 >> shift
        if d > 0 {
            x = x &+ (zz &+ 1)
        } else {
            x = x | zz
            x = x &- (zz &+ 1)
        }
        x &= (0xaaaaaaaaaaaaaaaa >> shift)
        hash.bits = x | y
    }

    static func moveY(_ hash: inout Bits, _ d: Int) {
        if d == 0 { return }
        let x = hash.bits & 0xaaaaaaaaaaaaaaaa
        var y = hash.bits & 0x5555555555555555
        let shift = 64 - UInt64(hash.step) * 2
        let zz: UInt64 = 0xaaaaaaaaaaaaaaaa >> shift
        if d > 0 {
            y = y &+ (zz &+ 1)
        } else {
            y = y | zz
            y = y &- (zz &+ 1)
        }
        y &= (0x5555555555555555 >> shift)
        hash.bits = x | y
    }

    static func neighbors(_ hash: Bits) -> Neighbors {
        func moved(_ dx: Int, _ dy: Int) -> Bits {
            var h = hash
            moveX(&h, dx)
            moveY(&h, dy)
            return h
        }
        return Neighbors(north: moved(0, 1), south: moved(0, -1), east: moved(1, 0), west: moved(-1, 0),
                         northEast: moved(1, 1), northWest: moved(-1, 1), southEast: moved(1, -1),
                         southWest: moved(-1, -1))
    }

    // MARK: search areas

    enum Shape {
        case circle(radius: Double)
        case box(width: Double, height: Double)
    }

    /// A search: its centre (longitude, latitude), shape (in the request's unit) and the unit's metres.
    struct Search {
        var longitude: Double
        var latitude: Double
        var shape: Shape
        var conversion: Double
    }

    static func estimateSteps(radius: Double, latitude: Double) -> UInt8 {
        if radius == 0 { return 26 }
        var range = radius
        var step = 1
        while range < mercatorMax {
            range *= 2
            step += 1
        }
        step -= 2
        if latitude > 66 || latitude < -66 {
            step -= 1
            if latitude > 80 || latitude < -80 { step -= 1 }
        }
        if step < 1 { step = 1 }
        if step > 26 { step = 26 }
        return UInt8(step)
    }

    static func degRad(_ a: Double) -> Double { a * (Double.pi / 180.0) }
    static func radDeg(_ a: Double) -> Double { a / (Double.pi / 180.0) }

    /// `geohashBoundingBox`: (min longitude, min latitude, max longitude, max latitude).
    static func boundingBox(_ search: Search) -> (Double, Double, Double, Double) {
        let height: Double, width: Double
        switch search.shape {
        case .circle(let r):
            height = search.conversion * r
            width = search.conversion * r
        case .box(let w, let h):
            height = search.conversion * h / 2
            width = search.conversion * w / 2
        }
        let latitude = search.latitude, longitude = search.longitude
        let latDelta = radDeg(height / earthRadius)
        let longDeltaTop = radDeg(width / earthRadius / cos(degRad(latitude + latDelta)))
        let longDeltaBottom = radDeg(width / earthRadius / cos(degRad(latitude - latDelta)))
        let southern = latitude < 0
        return (southern ? longitude - longDeltaBottom : longitude - longDeltaTop,
                latitude - latDelta,
                southern ? longitude + longDeltaBottom : longitude + longDeltaTop,
                latitude + latDelta)
    }

    /// `geohashCalculateAreasByShapeWGS84`: the centre box and its 8 neighbours (zero when useless).
    static func areas(_ search: Search) -> [Bits] {
        let (minLon, minLat, maxLon, maxLat) = boundingBox(search)
        var radius: Double
        switch search.shape {
        case .circle(let r): radius = r
        case .box(let w, let h): radius = ((w / 2) * (w / 2) + (h / 2) * (h / 2)).squareRoot()
        }
        radius *= search.conversion
        var steps = estimateSteps(radius: radius, latitude: search.latitude)
        guard var hash = encodeWGS84(longitude: search.longitude, latitude: search.latitude, step: steps) else { return [] }
        var n = neighbors(hash)
        var area = decode(longRange, latRange, hash)!

        var decrease = false
        if let north = decode(longRange, latRange, n.north), north.latitude.max < maxLat { decrease = true }
        if let south = decode(longRange, latRange, n.south), south.latitude.min > minLat { decrease = true }
        if let east = decode(longRange, latRange, n.east), east.longitude.max < maxLon { decrease = true }
        if let west = decode(longRange, latRange, n.west), west.longitude.min > minLon { decrease = true }
        if steps > 1 && decrease {
            steps -= 1
            hash = encodeWGS84(longitude: search.longitude, latitude: search.latitude, step: steps)!
            n = neighbors(hash)
            area = decode(longRange, latRange, hash)!
        }
        if steps >= 2 {
            if area.latitude.min < minLat { n.south = .zero; n.southWest = .zero; n.southEast = .zero }
            if area.latitude.max > maxLat { n.north = .zero; n.northEast = .zero; n.northWest = .zero }
            if area.longitude.min < minLon { n.west = .zero; n.southWest = .zero; n.northWest = .zero }
            if area.longitude.max > maxLon { n.east = .zero; n.southEast = .zero; n.northEast = .zero }
        }
        return [hash, n.north, n.south, n.east, n.west, n.northEast, n.northWest, n.southEast, n.southWest]
    }

    // MARK: distances

    static func latDistance(_ lat1: Double, _ lat2: Double) -> Double {
        earthRadius * fabs(degRad(lat2) - degRad(lat1))
    }

    /// `geohashGetDistance`: haversine great-circle distance in metres.
    static func distance(_ lon1: Double, _ lat1: Double, _ lon2: Double, _ lat2: Double) -> Double {
        let lon1r = degRad(lon1), lon2r = degRad(lon2)
        let v = sin((lon2r - lon1r) / 2)
        if v == 0 { return latDistance(lat1, lat2) }
        let lat1r = degRad(lat1), lat2r = degRad(lat2)
        let u = sin((lat2r - lat1r) / 2)
        let a = u * u + cos(lat1r) * cos(lat2r) * v * v
        return 2.0 * earthRadius * asin(a.squareRoot())
    }

    /// The distance of a point from the search centre when it lies inside the shape, else nil.
    static func distanceIfInside(_ search: Search, _ lon: Double, _ lat: Double) -> Double? {
        switch search.shape {
        case .circle(let r):
            let d = distance(search.longitude, search.latitude, lon, lat)
            return d > r * search.conversion ? nil : d
        case .box(let w, let h):
            let width = w * search.conversion, height = h * search.conversion
            if latDistance(lat, search.latitude) > height / 2 { return nil }
            if distance(lon, lat, search.longitude, lat) > width / 2 { return nil }
            return distance(search.longitude, search.latitude, lon, lat)
        }
    }

    /// GEOHASH's 11-character base32 string (re-encoded over the standard -90..90 latitude range).
    static func base32(longitude: Double, latitude: Double) -> String {
        let alphabet = Array("0123456789bcdefghjkmnpqrstuvwxyz".utf8)
        let bits = encode(Range(min: -180, max: 180), Range(min: -90, max: 90), longitude: longitude,
                          latitude: latitude, step: 26)?.bits ?? 0
        var out: [UInt8] = []
        for i in 0..<11 {
            let idx = i == 10 ? 0 : Int((bits >> UInt64(52 - (i + 1) * 5)) & 0x1f)
            out.append(alphabet[idx])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
