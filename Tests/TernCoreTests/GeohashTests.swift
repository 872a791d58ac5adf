@testable import TernCore
import XCTest

/// Geohash scores, strings and distances against the values Redis 7.0 documents and returns.
final class GeohashTests: XCTestCase {
    func score(_ lon: Double, _ lat: Double) -> UInt64 {
        Geohash.align52Bits(Geohash.encodeWGS84(longitude: lon, latitude: lat)!)
    }

    func testScoresAndStringsMatchRedis() {
        XCTAssertEqual(score(13.361389, 38.115556), 3479099956230698)  // GEOADD Sicily ... Palermo
        XCTAssertEqual(score(15.087269, 37.502669), 3479447370796909)  // Catania
        let p = Geohash.decodeScore(3479099956230698)!
        XCTAssertEqual(Geohash.base32(longitude: p.longitude, latitude: p.latitude), "sqc8b49rny0")
        let c = Geohash.decodeScore(3479447370796909)!
        XCTAssertEqual(Geohash.base32(longitude: c.longitude, latitude: c.latitude), "sqdtr74hyu0")
        XCTAssertEqual(RedisNumber.cFormat("%.4f", Geohash.distance(p.longitude, p.latitude, c.longitude, c.latitude)),
                       "166274.1516")
        XCTAssertEqual(RedisNumber.formatLongDoubleHuman(RedisNumber.LongDouble(p.longitude)), "13.36138933897018433")
        XCTAssertEqual(RedisNumber.formatLongDoubleHuman(RedisNumber.LongDouble(p.latitude)), "38.11555639549629859")
    }

    func testLimits() {
        XCTAssertNil(Geohash.encodeWGS84(longitude: 180.0001, latitude: 0))
        XCTAssertNil(Geohash.encodeWGS84(longitude: 0, latitude: 85.06))
        XCTAssertNotNil(Geohash.encodeWGS84(longitude: -180, latitude: -85.05112878))
        XCTAssertNotNil(Geohash.encodeWGS84(longitude: 180, latitude: 85.05112878))
    }

    func testInterleaveRoundTripAndNeighbours() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<1000 {
            let lat = UInt32.random(in: 0...UInt32.max, using: &rng), lon = UInt32.random(in: 0...UInt32.max, using: &rng)
            let separated = Geohash.deinterleave64(Geohash.interleave64(lat, lon))
            XCTAssertEqual(UInt32(truncatingIfNeeded: separated), lat)
            XCTAssertEqual(UInt32(truncatingIfNeeded: separated >> 32), lon)
            let lonDeg = Double.random(in: -179...179, using: &rng), latDeg = Double.random(in: -84...84, using: &rng)
            let hash = Geohash.encodeWGS84(longitude: lonDeg, latitude: latDeg, step: 20)!
            let area = Geohash.decode(Geohash.longRange, Geohash.latRange, hash)!
            XCTAssertTrue(area.longitude.min <= lonDeg && lonDeg <= area.longitude.max)
            XCTAssertTrue(area.latitude.min <= latDeg && latDeg <= area.latitude.max)
            let n = Geohash.neighbors(hash)
            var back = n.east
            Geohash.moveX(&back, -1)
            XCTAssertEqual(back, hash, "east then west")
            let north = Geohash.decode(Geohash.longRange, Geohash.latRange, n.north)!
            XCTAssertEqual(north.latitude.min, area.latitude.max, accuracy: 1e-9)
            XCTAssertEqual(north.longitude.min, area.longitude.min, accuracy: 1e-9)
        }
    }

    func testSearchAreasCoverTheCircle() {
        let search = Geohash.Search(longitude: 15, latitude: 37, shape: .circle(radius: 200), conversion: 1000)
        let boxes = Geohash.areas(search).filter { !$0.isZero }
        XCTAssertFalse(boxes.isEmpty)
        // Palermo is 190 km away: inside the circle and inside one of the boxes searched.
        let p = Geohash.decodeScore(3479099956230698)!
        XCTAssertNotNil(Geohash.distanceIfInside(search, p.longitude, p.latitude))
        let covered = boxes.contains { box in
            let min = Geohash.align52Bits(box), max = Geohash.align52Bits(Geohash.Bits(bits: box.bits + 1, step: box.step))
            return min <= 3479099956230698 && 3479099956230698 < max
        }
        XCTAssertTrue(covered)
        XCTAssertNil(Geohash.distanceIfInside(Geohash.Search(longitude: 15, latitude: 37, shape: .circle(radius: 100),
                                                             conversion: 1000), p.longitude, p.latitude))
    }
}
