"""Geo commands: identical commands to Tern and to a stock Redis 7.0, replies compared byte for byte (scores,
distances "%.4f", coordinates as Redis prints them, geohash strings, errors), including seeded random points and
shapes near the poles and the antimeridian; a stock replica of Tern holds the same sorted sets."""

import random

import pytest

PLACES = ["13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania", "2.3522", "48.8566", "Paris",
          "-0.1276", "51.5072", "London", "139.6917", "35.6895", "Tokyo", "-179.9", "0.1", "WestEdge",
          "179.9", "-0.1", "EastEdge", "0", "85.05", "North", "10", "-85.05", "South"]

CASES = {
    "geoadd": [("GEOADD", "g", *PLACES), ("ZRANGE", "g", "0", "-1", "WITHSCORES"), ("GEOADD", "g", *PLACES[:6]),
               ("GEOADD", "g", "CH", "13.4", "38.1", "Palermo", "1", "1", "New"), ("GEOADD", "g", "NX", "0", "0", "Palermo"),
               ("GEOADD", "g", "XX", "0", "0", "Nowhere", "1", "2", "Palermo"), ("GEOADD", "g", "XX", "CH", "1", "2", "Palermo"),
               ("GEOADD", "g", "NX", "XX", "1", "1", "x"), ("GEOADD", "g", "1", "1"), ("GEOADD", "g", "CH", "NX", "1", "1"),
               ("GEOADD", "g", "181", "0", "bad"), ("GEOADD", "g", "0", "85.06", "bad"), ("GEOADD", "g", "-180.5", "-86", "bad"),
               ("GEOADD", "g", "abc", "0", "bad"), ("GEOADD", "g", "0", "nan", "bad"), ("GEOADD", "g", "GT", "1", "1", "x"),
               ("GEOADD", "g", "1", "1", "ok", "200", "1", "bad"), ("ZRANGE", "g", "0", "-1", "WITHSCORES"),
               ("GEOADD", "g", "180", "85.05112878", "corner", "-180", "-85.05112878", "corner2"),
               ("ZSCORE", "g", "corner"), ("ZSCORE", "g", "corner2"), ("@list", "l"), ("GEOADD", "l", "1", "1", "x"),
               ("GEOADD", "g"), ("OBJECT", "ENCODING", "g")],
    "geodist_hash_pos": [("GEOADD", "g", *PLACES), ("GEODIST", "g", "Palermo", "Catania"),
                         ("GEODIST", "g", "Palermo", "Catania", "km"), ("GEODIST", "g", "Palermo", "Catania", "MI"),
                         ("GEODIST", "g", "Palermo", "Catania", "ft"), ("GEODIST", "g", "Palermo", "Catania", "m"),
                         ("GEODIST", "g", "Palermo", "Palermo"), ("GEODIST", "g", "WestEdge", "EastEdge"),
                         ("GEODIST", "g", "North", "South", "km"), ("GEODIST", "g", "Palermo", "nope"),
                         ("GEODIST", "nokey", "a", "b"), ("GEODIST", "g", "Palermo", "Catania", "yards"),
                         ("GEODIST", "g", "Palermo", "Catania", "km", "x"), ("GEODIST", "g", "Palermo"),
                         ("GEOHASH", "g", "Palermo", "Catania", "nope", "Tokyo", "WestEdge", "North", "South"),
                         ("GEOHASH", "g"), ("GEOHASH", "nokey", "a", "b"),
                         ("GEOPOS", "g", "Palermo", "Catania", "nope", "Tokyo", "WestEdge", "EastEdge", "North", "South"),
                         ("GEOPOS", "g"), ("GEOPOS", "nokey", "a"), ("@list", "l"), ("GEOPOS", "l", "a"),
                         ("GEOHASH", "l", "a"), ("GEODIST", "l", "a", "b"), ("ZADD", "z", "-5", "neg", "1e20", "huge"),
                         ("GEOPOS", "z", "neg"), ("GEOHASH", "z", "neg")],
    "georadius": [("GEOADD", "g", *PLACES), ("GEORADIUS", "g", "15", "37", "200", "km"),
                  ("GEORADIUS", "g", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH", "ASC"),
                  ("GEORADIUS", "g", "15", "37", "200", "km", "DESC", "WITHDIST"),
                  ("GEORADIUS", "g", "15", "37", "2000", "km", "COUNT", "2"),
                  ("GEORADIUS", "g", "15", "37", "2000", "km", "COUNT", "2", "DESC", "WITHDIST"),
                  ("GEORADIUS", "g", "15", "37", "20000", "km", "COUNT", "3", "ANY"),
                  ("GEORADIUS", "g", "15", "37", "20000", "km", "ASC"), ("GEORADIUS", "g", "15", "37", "1", "m"),
                  ("GEORADIUS", "g", "15", "37", "0", "km"), ("GEORADIUS", "g", "15", "37", "-1", "km"),
                  ("GEORADIUS", "g", "15", "37", "x", "km"), ("GEORADIUS", "g", "15", "37", "10", "parsec"),
                  ("GEORADIUS", "g", "15", "37", "10", "km", "COUNT", "0"), ("GEORADIUS", "g", "15", "37", "10", "km", "COUNT", "x"),
                  ("GEORADIUS", "g", "15", "37", "10", "km", "ANY"), ("GEORADIUS", "g", "15", "37", "10", "km", "COUNT"),
                  ("GEORADIUS", "g", "15", "37", "10", "km", "BOGUS"), ("GEORADIUS", "g", "200", "37", "10", "km"),
                  ("GEORADIUS", "nokey", "15", "37", "200", "km"), ("GEORADIUS", "nokey", "15", "37", "200", "km", "STORE", "dst"),
                  ("GEORADIUS", "g", "15", "37", "200", "km", "STORE", "dst"), ("ZRANGE", "dst", "0", "-1", "WITHSCORES"),
                  ("GEORADIUS", "g", "15", "37", "200", "km", "STOREDIST", "dst"), ("ZRANGE", "dst", "0", "-1", "WITHSCORES"),
                  ("GEORADIUS", "g", "15", "37", "2000", "km", "COUNT", "2", "DESC", "STORE", "dst"),
                  ("ZRANGE", "dst", "0", "-1", "WITHSCORES"), ("GEORADIUS", "g", "15", "37", "200", "km", "STORE", "dst", "WITHDIST"),
                  ("GEORADIUS", "g", "100", "-80", "1", "km", "STORE", "dst"), ("EXISTS", "dst"),
                  ("GEORADIUS_RO", "g", "15", "37", "200", "km", "WITHDIST"), ("GEORADIUS_RO", "g", "15", "37", "200", "km", "STORE", "dst"),
                  ("GEORADIUS", "g", "-179.95", "0", "50", "km", "WITHDIST"), ("GEORADIUS", "g", "179.95", "0", "50", "km", "WITHDIST"),
                  ("GEORADIUS", "g", "0", "85", "100", "km", "WITHDIST"), ("GEORADIUS", "g", "0", "-85", "1000", "km", "WITHDIST"),
                  ("@list", "l"), ("GEORADIUS", "l", "15", "37", "200", "km")],
    "georadiusbymember": [("GEOADD", "g", *PLACES), ("GEORADIUSBYMEMBER", "g", "Palermo", "200", "km", "WITHDIST"),
                          ("GEORADIUSBYMEMBER", "g", "Paris", "400", "km", "WITHCOORD", "COUNT", "1"),
                          ("GEORADIUSBYMEMBER", "g", "nope", "100", "km"), ("GEORADIUSBYMEMBER", "nokey", "x", "abc", "km"),
                          ("GEORADIUSBYMEMBER", "nokey", "x", "100", "km", "STORE", "d"),
                          ("GEORADIUSBYMEMBER", "g", "Palermo", "200", "km", "STOREDIST", "d"), ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
                          ("GEORADIUSBYMEMBER_RO", "g", "Palermo", "200", "km", "WITHHASH"),
                          ("GEORADIUSBYMEMBER_RO", "g", "Palermo", "200", "km", "STOREDIST", "d"),
                          ("GEORADIUSBYMEMBER", "g", "Palermo", "-5", "km")],
    "geosearch": [("GEOADD", "g", *PLACES), ("GEOSEARCH", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC"),
                  ("GEOSEARCH", "g", "FROMMEMBER", "Palermo", "BYBOX", "400", "400", "km", "ASC", "WITHCOORD", "WITHDIST", "WITHHASH"),
                  ("GEOSEARCH", "g", "FROMLONLAT", "0", "50", "BYBOX", "2000", "500", "km", "DESC", "WITHDIST"),
                  ("GEOSEARCH", "g", "FROMLONLAT", "0", "50", "BYBOX", "2000", "500", "mi", "COUNT", "1", "WITHDIST"),
                  ("GEOSEARCH", "g", "FROMLONLAT", "0", "50", "BYRADIUS", "20000", "km", "COUNT", "2", "ANY"),
                  ("GEOSEARCH", "g", "FROMMEMBER", "nope", "BYRADIUS", "1", "km"),
                  ("GEOSEARCH", "g", "BYRADIUS", "1", "km"), ("GEOSEARCH", "g", "FROMLONLAT", "1", "1"),
                  ("GEOSEARCH", "g", "FROMLONLAT", "1", "1", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km"),
                  ("GEOSEARCH", "g", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "BYBOX", "1", "1", "km"),
                  ("GEOSEARCH", "g", "FROMLONLAT", "1", "1", "BYBOX", "-1", "1", "km"),
                  ("GEOSEARCH", "g", "FROMLONLAT", "1", "1", "BYBOX", "x", "1", "km"),
                  ("GEOSEARCH", "g", "FROMLONLAT", "1", "1", "BYBOX", "1", "y", "km"),
                  ("GEOSEARCH", "g", "FROMLONLAT", "1", "1", "BYBOX", "1", "1", "furlong"),
                  ("GEOSEARCH", "g", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "STORE", "x"),
                  ("GEOSEARCH", "g", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "STOREDIST"),
                  ("geosearch", "g", "frommember", "Palermo", "count", "3"),
                  ("GEOSEARCH", "nokey", "FROMMEMBER", "x", "BYRADIUS", "1", "km"),
                  ("GEOSEARCH", "nokey", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km"),
                  ("GEOSEARCH", "g", "FROMLONLAT", "-179.99", "0.05", "BYBOX", "100", "100", "km", "WITHDIST", "ASC"),
                  ("GEOSEARCH", "g", "FROMLONLAT", "5", "85", "BYBOX", "1000", "200", "km", "WITHDIST", "ASC"),
                  ("GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"),
                  ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
                  ("GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STOREDIST", "DESC", "COUNT", "1"),
                  ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
                  ("GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "WITHDIST"),
                  ("GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STORE", "x"),
                  ("GEOSEARCHSTORE", "d", "nokey", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"), ("EXISTS", "d"),
                  ("@list", "l"), ("GEOSEARCH", "l", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km")],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_geo(pair, name):
    pair.run_case(CASES[name])


def random_point(rnd):
    kind = rnd.randrange(4)
    if kind == 0:  # near the antimeridian
        lon = rnd.choice([-1, 1]) * rnd.uniform(178, 180)
        lat = rnd.uniform(-60, 60)
    elif kind == 1:  # near the poles
        lon = rnd.uniform(-180, 180)
        lat = rnd.choice([-1, 1]) * rnd.uniform(75, 85.05)
    else:
        lon = rnd.uniform(-180, 180)
        lat = rnd.uniform(-85.05, 85.05)
    return "%.6f" % lon, "%.6f" % lat


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_random_points_and_shapes(pair2, seed):
    rnd = random.Random(seed)
    args = []
    for i in range(400):
        lon, lat = random_point(rnd)
        args += [lon, lat, "m%d" % i]
    pair2.cmd("GEOADD", "g", *args)
    pair2.cmd("ZRANGE", "g", "0", "-1", "WITHSCORES")
    for _ in range(120):
        lon, lat = random_point(rnd)
        unit = rnd.choice(["m", "km", "mi", "ft"])
        if rnd.random() < 0.5:
            shape = ["BYRADIUS", "%.3f" % rnd.uniform(0, 3000000 if unit in ("m", "ft") else 3000), unit]
        else:
            shape = ["BYBOX", "%.3f" % rnd.uniform(0, 4000), "%.3f" % rnd.uniform(0, 4000), rnd.choice(["km", "mi"])]
        origin = ["FROMLONLAT", lon, lat] if rnd.random() < 0.7 else ["FROMMEMBER", "m%d" % rnd.randrange(400)]
        extra = ["WITHDIST", "WITHCOORD", "WITHHASH", rnd.choice(["ASC", "DESC"])]
        if rnd.random() < 0.3:
            extra += ["COUNT", str(rnd.randrange(1, 20))]
        pair2.cmd("GEOSEARCH", "g", *origin, *shape, *extra)
        if rnd.random() < 0.3:
            pair2.cmd("GEORADIUS", "g", lon, lat, "%.1f" % rnd.uniform(0, 5000), "km", "WITHDIST", "ASC", "COUNT", "5")
        if rnd.random() < 0.2:
            pair2.cmd("GEOSEARCHSTORE", "dst", "g", *origin, *shape, *(["STOREDIST"] if rnd.random() < 0.5 else []))
            pair2.cmd("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    members = ["m%d" % i for i in range(0, 400, 7)]
    pair2.cmd("GEOPOS", "g", *members)
    pair2.cmd("GEOHASH", "g", *members)
    for _ in range(50):
        a, b = rnd.sample(members, 2)
        pair2.cmd("GEODIST", "g", a, b, rnd.choice(["m", "km", "mi", "ft"]))


def test_replication_of_geo_writes(tern_proc):
    """GEOADD (as ZADD), GEORADIUS STORE and GEOSEARCHSTORE reach a stock Redis replica: same scores."""
    from test_replication import client, start_replica, wait_in_sync
    m = client(tern_proc)
    replica = start_replica(tern_proc.port)
    try:
        r = client(replica)
        rnd = random.Random(3)
        for i in range(200):
            lon, lat = random_point(rnd)
            m.execute_command("GEOADD", "g", lon, lat, "p%d" % (i % 150))
        m.execute_command("GEORADIUS", "g", "0", "0", "5000", "km", "STOREDIST", "near")
        m.execute_command("GEOSEARCHSTORE", "box", "g", "FROMLONLAT", "179", "0", "BYBOX", "3000", "3000", "km")
        wait_in_sync(m, r)
        for k in ["g", "near", "box"]:
            assert m.zrange(k, 0, -1, withscores=True) == r.zrange(k, 0, -1, withscores=True), k
    finally:
        replica.stop()
