import NIOCore
import RESP
import TernStorage

/// The geo commands of Redis 7.0 (geo.c) on sorted sets whose scores are 52-bit geohashes (see Geohash.swift):
/// GEOADD GEODIST GEOHASH GEOPOS GEOSEARCH GEOSEARCHSTORE GEORADIUS GEORADIUS_RO GEORADIUSBYMEMBER
/// GEORADIUSBYMEMBER_RO.
enum GeoCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("geoadd", arity: -5, flags: [.write, .denyoom], keys: .single, group: "geo",
                        summary: "Add one or more geospatial items in the geospatial index represented using a sorted set",
                        since: "3.2.0", complexity: "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
                        acl: ["geo"], arguments: ["key", "[NX|XX]", "[CH]", "longitude latitude member [longitude latitude member ...]"],
                        handler: geoadd),
            CommandSpec("geodist", arity: -4, flags: [.readonly], keys: .single, group: "geo",
                        summary: "Returns the distance between two members of a geospatial index", since: "3.2.0",
                        complexity: "O(log(N))", acl: ["geo"], arguments: ["key", "member1", "member2", "[M|KM|FT|MI]"],
                        handler: geodist),
            CommandSpec("geohash", arity: -2, flags: [.readonly], keys: .single, group: "geo",
                        summary: "Returns members of a geospatial index as standard geohash strings", since: "3.2.0",
                        complexity: "O(log(N)) for each member requested, where N is the number of elements in the sorted set.",
                        acl: ["geo"], arguments: ["key", "[member [member ...]]"], handler: geohash),
            CommandSpec("geopos", arity: -2, flags: [.readonly], keys: .single, group: "geo",
                        summary: "Returns longitude and latitude of members of a geospatial index", since: "3.2.0",
                        complexity: "O(N) where N is the number of members requested.", acl: ["geo"],
                        arguments: ["key", "[member [member ...]]"], handler: geopos),
            CommandSpec("georadius", arity: -6, flags: [.write, .denyoom], keys: .single, group: "geo",
                        summary: "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point",
                        since: "3.2.0", complexity: searchComplexity, acl: ["geo"],
                        arguments: ["key", "longitude", "latitude", "radius", "M|KM|FT|MI", "[WITHCOORD]", "[WITHDIST]",
                                    "[WITHHASH]", "[COUNT count [ANY]]", "[ASC|DESC]", "[STORE key]", "[STOREDIST key]"],
                        keyFinder: storeKeys) { ctx in try search(ctx, sourceIndex: 1, mode: [.coordinates]) },
            CommandSpec("georadius_ro", arity: -6, flags: [.readonly], keys: .single, group: "geo",
                        summary: "A read-only variant for GEORADIUS", since: "3.2.10", complexity: searchComplexity,
                        acl: ["geo"],
                        arguments: ["key", "longitude", "latitude", "radius", "M|KM|FT|MI", "[WITHCOORD]", "[WITHDIST]",
                                    "[WITHHASH]", "[COUNT count [ANY]]", "[ASC|DESC]"]) { ctx in
                try search(ctx, sourceIndex: 1, mode: [.coordinates, .noStore])
            },
            CommandSpec("georadiusbymember", arity: -5, flags: [.write, .denyoom], keys: .single, group: "geo",
                        summary: "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member",
                        since: "3.2.0", complexity: searchComplexity, acl: ["geo"],
                        arguments: ["key", "member", "radius", "M|KM|FT|MI", "[WITHCOORD]", "[WITHDIST]", "[WITHHASH]",
                                    "[COUNT count [ANY]]", "[ASC|DESC]", "[STORE key]", "[STOREDIST key]"],
                        keyFinder: storeKeys) { ctx in try search(ctx, sourceIndex: 1, mode: [.member]) },
            CommandSpec("georadiusbymember_ro", arity: -5, flags: [.readonly], keys: .single, group: "geo",
                        summary: "A read-only variant for GEORADIUSBYMEMBER", since: "3.2.10", complexity: searchComplexity,
                        acl: ["geo"],
                        arguments: ["key", "member", "radius", "M|KM|FT|MI", "[WITHCOORD]", "[WITHDIST]", "[WITHHASH]",
                                    "[COUNT count [ANY]]", "[ASC|DESC]"]) { ctx in
                try search(ctx, sourceIndex: 1, mode: [.member, .noStore])
            },
            CommandSpec("geosearch", arity: -7, flags: [.readonly], keys: .single, group: "geo",
                        summary: "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.",
                        since: "6.2.0", complexity: searchComplexity, acl: ["geo"],
                        arguments: ["key", "FROMMEMBER member|FROMLONLAT longitude latitude",
                                    "BYRADIUS radius M|KM|FT|MI|BYBOX width height M|KM|FT|MI", "[ASC|DESC]",
                                    "[COUNT count [ANY]]", "[WITHCOORD]", "[WITHDIST]", "[WITHHASH]"]) { ctx in
                try search(ctx, sourceIndex: 1, mode: [.search])
            },
            CommandSpec("geosearchstore", arity: -8, flags: [.write, .denyoom], keys: KeyPositions(first: 1, last: 2, step: 1),
                        group: "geo",
                        summary: "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.",
                        since: "6.2.0", complexity: searchComplexity, acl: ["geo"],
                        arguments: ["destination", "source", "FROMMEMBER member|FROMLONLAT longitude latitude",
                                    "BYRADIUS radius M|KM|FT|MI|BYBOX width height M|KM|FT|MI", "[ASC|DESC]",
                                    "[COUNT count [ANY]]", "[STOREDIST]"]) { ctx in
                try search(ctx, sourceIndex: 2, mode: [.search, .searchStore])
            },
        ]
    }

    static let searchComplexity = "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape"

    /// GEORADIUS[BYMEMBER]'s keys: the source, plus the STORE/STOREDIST target.
    static func storeKeys(_ args: [ByteBuffer]) -> [Int] {
        var keys = [1]
        var i = 2
        while i < args.count - 1 {
            let word = String(buffer: args[i]).lowercased()
            if word == "store" || word == "storedist" {
                keys.append(i + 1)
                i += 1
            }
            i += 1
        }
        return keys
    }

    // MARK: argument parsing

    static func longLat(_ ctx: CommandContext, _ i: Int) throws -> (Double, Double) {
        let longitude = try ctx.double(i), latitude = try ctx.double(i + 1)
        if longitude < Geohash.longMin || longitude > Geohash.longMax || latitude < Geohash.latMin
            || latitude > Geohash.latMax {
            throw CommandError("ERR invalid longitude,latitude pair "
                               + RedisNumber.cFormat("%f", longitude) + "," + RedisNumber.cFormat("%f", latitude))
        }
        return (longitude, latitude)
    }

    static func unit(_ ctx: CommandContext, _ i: Int) throws -> Double {
        if StringCommands.option(ctx, i, is: "m") { return 1 }
        if StringCommands.option(ctx, i, is: "km") { return 1000 }
        if StringCommands.option(ctx, i, is: "ft") { return 0.3048 }
        if StringCommands.option(ctx, i, is: "mi") { return 1609.34 }
        throw CommandError.err("unsupported unit provided. please use M, KM, FT, MI")
    }

    static func number(_ ctx: CommandContext, _ i: Int, _ message: String) throws -> Double {
        guard let d = RedisNumber.parseDouble(ctx.arguments[i]) else { throw CommandError.err(message) }
        return d
    }

    /// `extractDistanceOrReply`: (radius in the unit, metres per unit).
    static func radius(_ ctx: CommandContext, _ i: Int) throws -> (Double, Double) {
        let distance = try number(ctx, i, "need numeric radius")
        if distance < 0 { throw CommandError.err("radius cannot be negative") }
        return (distance, try unit(ctx, i + 1))
    }

    /// `extractBoxOrReply`: (width, height in the unit, metres per unit).
    static func box(_ ctx: CommandContext, _ i: Int) throws -> (Double, Double, Double) {
        let width = try number(ctx, i, "need numeric width")
        let height = try number(ctx, i + 1, "need numeric height")
        if height < 0 || width < 0 { throw CommandError.err("height or width cannot be negative") }
        return (width, height, try unit(ctx, i + 2))
    }

    /// `addReplyDoubleDistance`: "%.4f" as a bulk string.
    static func replyDistance(_ ctx: CommandContext, _ d: Double) {
        ctx.bulk(RedisNumber.cFormat("%.4f", d))
    }

    /// `addReplyHumanLongDouble`: a coordinate as Redis prints it.
    static func replyCoordinate(_ ctx: CommandContext, _ d: Double) {
        ctx.client.output.writeRESPDouble(formatted: RedisNumber.formatLongDoubleHuman(RedisNumber.LongDouble(d)),
                                          ctx.resp)
    }

    // MARK: GEOADD

    static func geoadd(_ ctx: CommandContext) throws {
        var longIndex = 2
        var nx = false, xx = false
        while longIndex < ctx.argc {
            if StringCommands.option(ctx, longIndex, is: "nx") { nx = true }
            else if StringCommands.option(ctx, longIndex, is: "xx") { xx = true }
            else if StringCommands.option(ctx, longIndex, is: "ch") {}
            else { break }
            longIndex += 1
        }
        if (ctx.argc - longIndex) % 3 != 0 || (xx && nx) { throw CommandError.syntax }
        // As Redis: rewritten into ZADD key [options] score member ..., run and propagated as that ZADD.
        var arguments = [ByteBuffer(string: "zadd")] + ctx.arguments[1..<longIndex]
        for i in stride(from: longIndex, to: ctx.argc, by: 3) {
            let (longitude, latitude) = try longLat(ctx, i)
            let bits = Geohash.encodeWGS84(longitude: longitude, latitude: latitude).map(Geohash.align52Bits) ?? 0
            arguments.append(ByteBuffer(string: String(bits)))
            arguments.append(ctx.arguments[i + 2])
        }
        let dirty = ctx.server.dirty
        ctx.arguments = arguments
        try SortedSetCommands.zadd(ctx, incr: false)
        if ctx.server.dirty != dirty && ctx.wantsEffects {
            ctx.propagate(arguments)
        } else {
            ctx.preventPropagation()
        }
    }

    // MARK: GEODIST GEOHASH GEOPOS

    static func coordinates(_ ctx: CommandContext, _ key: Bytes, _ member: Bytes) throws -> (Double, Double)? {
        guard let score = try ctx.keyspace.zsetScores(key, [member], read: false).first ?? nil else { return nil }
        return Geohash.decodeScore(score)
    }

    static func geodist(_ ctx: CommandContext) throws {
        var toMeter = 1.0
        if ctx.argc == 5 {
            toMeter = try unit(ctx, 4)
        } else if ctx.argc > 5 {
            throw CommandError.syntax
        }
        let key = ctx.bytes(1)
        guard try ctx.keyspace.collection(key, .zset) != nil else { return ctx.null() }
        let scores = try ctx.keyspace.zsetScores(key, [ctx.bytes(2), ctx.bytes(3)], read: false)
        guard let s1 = scores[0], let s2 = scores[1], let a = Geohash.decodeScore(s1), let b = Geohash.decodeScore(s2) else {
            return ctx.null()
        }
        replyDistance(ctx, Geohash.distance(a.longitude, a.latitude, b.longitude, b.latitude) / toMeter)
    }

    /// The members' scores (nil for missing ones); all nil when the key is absent.
    static func memberScores(_ ctx: CommandContext) throws -> [Double?] {
        let key = ctx.bytes(1)
        let members = (2..<max(2, ctx.argc)).map { ctx.bytes($0) }
        guard try ctx.keyspace.collection(key, .zset) != nil else { return members.map { _ in nil } }
        return try ctx.keyspace.zsetScores(key, members, read: false)
    }

    static func geohash(_ ctx: CommandContext) throws {
        let scores = try memberScores(ctx)
        ctx.arrayHeader(scores.count)
        for score in scores {
            guard let score, let xy = Geohash.decodeScore(score) else {
                ctx.null()
                continue
            }
            ctx.bulk(Geohash.base32(longitude: xy.longitude, latitude: xy.latitude))
        }
    }

    static func geopos(_ ctx: CommandContext) throws {
        let scores = try memberScores(ctx)
        ctx.arrayHeader(scores.count)
        for score in scores {
            guard let score, let xy = Geohash.decodeScore(score) else {
                ctx.nullArray()
                continue
            }
            ctx.arrayHeader(2)
            replyCoordinate(ctx, xy.longitude)
            replyCoordinate(ctx, xy.latitude)
        }
    }

    // MARK: searches

    struct Mode: OptionSet {
        let rawValue: Int
        static let coordinates = Mode(rawValue: 1 << 0)
        static let member = Mode(rawValue: 1 << 1)
        static let noStore = Mode(rawValue: 1 << 2)
        static let search = Mode(rawValue: 1 << 3)
        static let searchStore = Mode(rawValue: 1 << 4)
    }

    struct Point {
        var longitude: Double
        var latitude: Double
        var distance: Double
        var member: Bytes
        var score: Double
    }

    /// `georadiusGeneric`.
    static func search(_ ctx: CommandContext, sourceIndex: Int, mode: Mode) throws {
        let keyspace = ctx.keyspace
        let source = ctx.bytes(sourceIndex)
        let exists = try keyspace.collection(source, .zset) != nil
        var storeKey: Bytes? = nil
        var storeDist = false
        var center: (Double, Double)? = nil
        var shape: Geohash.Shape? = nil
        var conversion = 1.0
        let base: Int

        func memberCenter(_ i: Int) throws -> (Double, Double) {
            guard let xy = try coordinates(ctx, source, ctx.bytes(i)) else {
                throw CommandError.err("could not decode requested zset member")
            }
            return xy
        }

        if mode.contains(.coordinates) {
            base = 6
            center = try longLat(ctx, 2)
            let (r, c) = try radius(ctx, 4)
            shape = .circle(radius: r)
            conversion = c
        } else if mode.contains(.member) {
            base = 5
            if exists {
                center = try memberCenter(2)
                let (r, c) = try radius(ctx, 3)
                shape = .circle(radius: r)
                conversion = c
            }
        } else {
            base = mode.contains(.searchStore) ? 3 : 2
            if mode.contains(.searchStore) { storeKey = ctx.bytes(1) }
        }

        var withDist = false, withHash = false, withCoord = false
        var fromMember = false, fromLonLat = false, byRadius = false, byBox = false
        var ascending: Bool? = nil
        var any = false
        var count = 0
        let search = mode.contains(.search)
        let storeAllowed = !mode.contains(.noStore) && !search
        var i = base
        while i < ctx.argc {
            let remaining = ctx.argc - i - 1
            func word(_ w: StaticString) -> Bool { StringCommands.option(ctx, i, is: w) }
            if word("withdist") {
                withDist = true
            } else if word("withhash") {
                withHash = true
            } else if word("withcoord") {
                withCoord = true
            } else if word("any") {
                any = true
            } else if word("asc") {
                ascending = true
            } else if word("desc") {
                ascending = false
            } else if word("count") && remaining >= 1 {
                count = try ctx.int(i + 1)
                if count <= 0 { throw CommandError.err("COUNT must be > 0") }
                i += 1
            } else if word("store") && remaining >= 1 && storeAllowed {
                storeKey = ctx.bytes(i + 1)
                storeDist = false
                i += 1
            } else if word("storedist") && remaining >= 1 && storeAllowed {
                storeKey = ctx.bytes(i + 1)
                storeDist = true
                i += 1
            } else if word("storedist") && search && mode.contains(.searchStore) {
                storeDist = true
            } else if word("frommember") && remaining >= 1 && search && !fromLonLat {
                // Without a source key the search replies empty once the arguments are parsed.
                if exists { center = try memberCenter(i + 1) }
                fromMember = true
                i += 1
            } else if word("fromlonlat") && remaining >= 2 && search && !fromMember {
                center = try longLat(ctx, i + 1)
                fromLonLat = true
                i += 2
            } else if word("byradius") && remaining >= 2 && search && !byBox {
                let (r, c) = try radius(ctx, i + 1)
                shape = .circle(radius: r)
                conversion = c
                byRadius = true
                i += 2
            } else if word("bybox") && remaining >= 3 && search && !byRadius {
                let (w, h, c) = try box(ctx, i + 1)
                shape = .box(width: w, height: h)
                conversion = c
                byBox = true
                i += 3
            } else {
                throw CommandError.syntax
            }
            i += 1
        }

        if storeKey != nil && (withDist || withHash || withCoord) {
            throw CommandError.err("\(mode.contains(.searchStore) ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS") is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
        }
        if search && !(fromMember || fromLonLat) {
            throw CommandError.err("exactly one of FROMMEMBER or FROMLONLAT can be specified for \(ctx.string(0))")
        }
        if search && !(byRadius || byBox) {
            throw CommandError.err("exactly one of BYRADIUS and BYBOX can be specified for \(ctx.string(0))")
        }
        if any && count == 0 { throw CommandError.err("the ANY argument requires COUNT argument") }

        guard exists, let center, let shape else {
            if let storeKey {
                if keyspace.delete(storeKey) { ctx.notify(.generic, "del", storeKey) }
                ctx.integer(0)
            } else {
                ctx.arrayHeader(0)
            }
            return
        }
        // COUNT without an order returns the nearest ones (not with ANY).
        if count != 0 && ascending == nil && !any { ascending = true }

        let query = Geohash.Search(longitude: center.0, latitude: center.1, shape: shape, conversion: conversion)
        var points = try collect(ctx, source, query, limit: any ? count : 0)

        if points.isEmpty && storeKey == nil { return ctx.arrayHeader(0) }
        let returned = count == 0 || points.count < count ? points.count : count
        if let ascending {
            // Stable, as glibc's qsort (a merge sort) orders equal distances.
            points = ascending ? stableSorted(points) { $0.distance < $1.distance }
                               : stableSorted(points) { $0.distance > $1.distance }
        }

        if let storeKey {
            var result = SortedSetValue()
            for p in points.prefix(returned) {
                _ = result.set(p.member, score: storeDist ? p.distance / conversion : p.score)
            }
            if returned > 0 {
                let dirty = ctx.server.dirty
                keyspace.store(storeKey, .zset(result), expiry: .clear)
                ctx.server.dirty = dirty + returned
                ctx.notify(.zset, search ? "geosearchstore" : "georadiusstore", storeKey)
            } else if keyspace.delete(storeKey) {
                ctx.notify(.generic, "del", storeKey)
            }
            return ctx.integer(returned)
        }

        let options = (withDist ? 1 : 0) + (withCoord ? 1 : 0) + (withHash ? 1 : 0)
        ctx.arrayHeader(returned)
        for p in points.prefix(returned) {
            if options > 0 { ctx.arrayHeader(options + 1) }
            ctx.bulk(p.member)
            if withDist { replyDistance(ctx, p.distance / conversion) }
            if withHash { ctx.integer(Int(p.score)) }
            if withCoord {
                ctx.arrayHeader(2)
                replyCoordinate(ctx, p.longitude)
                replyCoordinate(ctx, p.latitude)
            }
        }
    }

    static func stableSorted(_ points: [Point], _ before: (Point, Point) -> Bool) -> [Point] {
        points.enumerated().sorted { a, b in
            before(a.element, b.element) || (!before(b.element, a.element) && a.offset < b.offset)
        }.map(\.element)
    }

    /// `membersOfAllNeighbors`: the members of the 9 boxes around the centre that lie inside the shape, box by
    /// box; with `limit` (ANY) it stops once that many were found.
    static func collect(_ ctx: CommandContext, _ key: Bytes, _ query: Geohash.Search, limit: Int) throws -> [Point] {
        let boxes = Geohash.areas(query)
        var points: [Point] = []
        var lastProcessed = 0
        for (i, box) in boxes.enumerated() {
            if box.isZero { continue }
            // Huge radii make neighbours repeat: skip a box equal to the previous one searched.
            if lastProcessed != 0 && box == boxes[lastProcessed] { continue }
            if !points.isEmpty && limit > 0 && points.count >= limit { break }
            let min = Double(Geohash.align52Bits(box))
            let max = Double(Geohash.align52Bits(Geohash.Bits(bits: box.bits &+ 1, step: box.step)))
            let members = try ctx.keyspace.zsetRangeByScore(key, min: ScoreBound(min),
                                                            max: ScoreBound(max, exclusive: true))
            for (member, score) in members {
                guard let xy = Geohash.decodeScore(score),
                      let distance = Geohash.distanceIfInside(query, xy.longitude, xy.latitude) else { continue }
                points.append(Point(longitude: xy.longitude, latitude: xy.latitude, distance: distance,
                                    member: member, score: score))
                if limit > 0 && points.count >= limit { break }
            }
            lastProcessed = i
        }
        return points
    }
}
