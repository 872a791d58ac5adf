"""HyperLogLog: the same PFADD/PFMERGE/PFCOUNT/PFDEBUG streams to Tern and to a stock Redis 7.0 give the same
replies and the same string bytes (GET), sparse and dense; HLLs move both ways by DUMP/RESTORE and stay
usable; corrupted values get Redis's errors; a stock replica of Tern holds the same bytes."""

import random

import pytest

CASES = {
    "pfadd_basic": [("PFADD", "h", "a", "b", "c"), ("GET", "h"), ("PFADD", "h", "a"), ("PFADD", "h"),
                    ("PFADD", "new"), ("GET", "new"), ("PFCOUNT", "new"), ("GET", "new"), ("PFCOUNT", "h"),
                    ("GET", "h"), ("PFCOUNT", "h"), ("PFADD", "h", "d"), ("GET", "h"), ("PFCOUNT", "missing"),
                    ("PFDEBUG", "ENCODING", "h"), ("PFDEBUG", "DECODE", "h"), ("PFADD", "h", "", "\x00", "a" * 1000),
                    ("PFCOUNT", "h"), ("GET", "h")],
    "pfcount_multi": [("PFADD", "a", "1", "2", "3"), ("PFADD", "b", "3", "4", "5", "6"), ("PFCOUNT", "a", "b"),
                      ("PFCOUNT", "a", "b", "missing"), ("PFCOUNT", "missing", "missing2"), ("GET", "a"), ("GET", "b")],
    "pfmerge": [("PFADD", "a", "1", "2", "3"), ("PFADD", "b", "3", "4", "5", "6"), ("PFMERGE", "c", "a", "b"),
                ("GET", "c"), ("PFCOUNT", "c"), ("PFMERGE", "a", "b"), ("GET", "a"), ("PFMERGE", "d"), ("GET", "d"),
                ("PFMERGE", "e", "missing"), ("GET", "e"), ("PFDEBUG", "TODENSE", "b"), ("PFMERGE", "f", "a", "b"),
                ("PFDEBUG", "ENCODING", "f"), ("GET", "f"), ("PFCOUNT", "f"), ("SET", "t", "x"), ("PFMERGE", "t", "a"),
                ("PFMERGE", "c", "t"), ("PFADD", "x", "1"), ("EXPIRE", "x", "100"), ("PFMERGE", "x", "b"), ("TTL", "x")],
    "pfdebug": [("PFADD", "h", "a", "b"), ("PFDEBUG", "ENCODING", "h"), ("PFDEBUG", "DECODE", "h"),
                ("PFDEBUG", "GETREG", "h"), ("PFDEBUG", "ENCODING", "h"), ("GET", "h"), ("PFDEBUG", "DECODE", "h"),
                ("PFDEBUG", "TODENSE", "h"), ("PFADD", "s", "x"), ("PFDEBUG", "todense", "s"), ("GET", "s"),
                ("PFDEBUG", "FOO", "h"), ("PFDEBUG", "ENCODING", "missing"), ("PFDEBUG", "ENCODING"),
                ("PFDEBUG", "ENCODING", "h", "x"), ("SET", "str", "hello"), ("PFDEBUG", "ENCODING", "str")],
    "errors": [("SET", "s", "not an hll"), ("PFADD", "s", "a"), ("PFCOUNT", "s"), ("PFCOUNT", "s", "missing"),
               ("PFMERGE", "s", "missing"), ("PFMERGE", "d", "s"), ("@list", "l"), ("PFADD", "l", "a"), ("PFCOUNT", "l"),
               ("PFMERGE", "l"), ("PFADD",), ("PFCOUNT",), ("PFMERGE",), ("SET", "short", "HYLL"), ("PFCOUNT", "short"),
               ("SET", "badenc", b"HYLL\x02" + b"\x00" * 11), ("PFADD", "badenc", "a"),
               ("SET", "baddense", b"HYLL\x00" + b"\x00" * 11 + b"\x00" * 100), ("PFCOUNT", "baddense"),
               ("SET", "badsparse", b"HYLL\x01\x00\x00\x00" + b"\x00" * 7 + b"\x80" + b"\x7f\x00"),
               ("PFCOUNT", "badsparse"), ("PFADD", "badsparse", "a", "b", "c"), ("PFCOUNT", "badsparse", "missing"),
               ("PFMERGE", "x", "badsparse"), ("PFDEBUG", "GETREG", "badsparse"), ("PFDEBUG", "TODENSE", "badsparse"),
               ("PFDEBUG", "DECODE", "badsparse"),
               ("SET", "overrun", b"HYLL\x01\x00\x00\x00" + b"\x00" * 7 + b"\x80" + b"\x7f\xff\xff"),
               ("PFCOUNT", "overrun"), ("PFMERGE", "y", "overrun"), ("PFDEBUG", "TODENSE", "overrun"),
               ("SET", "cachedvalid", b"HYLL\x01\x00\x00\x00" + b"\x05" + b"\x00" * 7 + b"\x7f\xff"),
               ("PFCOUNT", "cachedvalid")],
    "selftest": [("PFSELFTEST",), ("PFSELFTEST", "x")],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hyperloglog(pair, name):
    pair.run_case(CASES[name])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_adds_sparse_to_dense(pair2, seed):
    """Random adds grow a sparse HLL past hll-sparse-max-bytes into dense: bytes and counts match at every step."""
    rnd = random.Random(seed)
    n = 0
    while n < 6000:
        batch = ["e%d:%d" % (seed, rnd.randrange(1 << 30)) for _ in range(rnd.randrange(1, 60))]
        n += len(batch)
        pair2.cmd("PFADD", "h", *batch)
        if rnd.random() < 0.3:
            pair2.cmd("PFCOUNT", "h")
        pair2.cmd("GET", "h")
        pair2.cmd("PFDEBUG", "ENCODING", "h")
    pair2.cmd("PFCOUNT", "h")


def test_random_merges(pair2):
    rnd = random.Random(99)
    keys = ["a", "b", "c", "d"]
    for _ in range(200):
        op = rnd.randrange(4)
        k = rnd.choice(keys)
        if op <= 1:
            pair2.cmd("PFADD", k, *[str(rnd.randrange(100000)) for _ in range(rnd.randrange(0, 40))])
        elif op == 2:
            pair2.cmd("PFMERGE", k, *rnd.sample(keys + ["missing"], rnd.randrange(0, 4)))
        else:
            pair2.cmd("PFCOUNT", *rnd.sample(keys + ["missing"], rnd.randrange(1, 4)))
    for k in keys:
        pair2.cmd("GET", k)
        pair2.cmd("PFCOUNT", k)


def test_sparse_max_bytes_config(pair2):
    for conn in (pair2.t, pair2.r):
        assert conn.call("CONFIG", "SET", "hll-sparse-max-bytes", "200") == ("+", b"OK")
    try:
        pair2.cmd("CONFIG", "GET", "hll-sparse-max-bytes")
        for i in range(0, 300, 10):
            pair2.cmd("PFADD", "h", *["x%d" % j for j in range(i, i + 10)])
            pair2.cmd("PFDEBUG", "ENCODING", "h")
            pair2.cmd("GET", "h")
    finally:
        for conn in (pair2.t, pair2.r):
            conn.call("CONFIG", "SET", "hll-sparse-max-bytes", "3000")


def test_big_cardinality(pair2):
    for i in range(0, 200000, 5000):
        pair2.cmd("PFADD", "big", *["m%d" % j for j in range(i, i + 5000)])
    pair2.seq([("PFCOUNT", "big"), ("GET", "big"), ("PFDEBUG", "ENCODING", "big")])


def test_dump_restore_both_ways(pair2):
    """An HLL built on Redis restores into Tern (and back) and counts and grows identically."""
    for name, conn in (("sparse", None), ("dense", None)):
        pass
    r, t = pair2.r, pair2.t
    r.call("PFADD", "sp", *["s%d" % i for i in range(50)])
    r.call("PFADD", "dn", *["d%d" % i for i in range(5000)])
    t.call("PFADD", "tsp", *["s%d" % i for i in range(50)])
    t.call("PFADD", "tdn", *["d%d" % i for i in range(5000)])
    for key in ("sp", "dn"):
        payload = r.call("DUMP", key)[1]
        assert t.call("RESTORE", key, "0", payload) == ("+", b"OK")
    for key in ("tsp", "tdn"):
        payload = t.call("DUMP", key)[1]
        assert r.call("RESTORE", key, "0", payload) == ("+", b"OK")
    for key in ("sp", "dn", "tsp", "tdn"):
        pair2.cmd("GET", key)
        pair2.cmd("PFCOUNT", key)
        pair2.cmd("PFADD", key, "more1", "more2", "more3")
        pair2.cmd("GET", key)
        pair2.cmd("PFCOUNT", key)
    pair2.cmd("PFCOUNT", "sp", "dn", "tsp")
    pair2.cmd("PFMERGE", "all", "sp", "dn", "tsp", "tdn")
    pair2.cmd("GET", "all")


def test_replication_of_hll_writes(tern_proc):
    """A stock Redis replica of Tern ends with the same HLL bytes (PFADD, PFMERGE, PFCOUNT's cache, TODENSE)."""
    from test_replication import client, start_replica, wait_in_sync
    m = client(tern_proc)
    replica = start_replica(tern_proc.port)
    try:
        r = client(replica)
        rnd = random.Random(5)
        for _ in range(100):
            m.execute_command("PFADD", rnd.choice(["x", "y"]), *[str(rnd.randrange(10000)) for _ in range(30)])
        m.execute_command("PFCOUNT", "x")
        m.execute_command("PFMERGE", "z", "x", "y")
        m.execute_command("PFADD", "w", "a")
        m.execute_command("PFDEBUG", "TODENSE", "w")
        m.execute_command("PFCOUNT", "w")
        wait_in_sync(m, r)
        for k in ["x", "y", "z", "w"]:
            assert m.get(k) == r.get(k), k
            assert r.execute_command("PFCOUNT", k) == m.execute_command("PFCOUNT", k)
    finally:
        replica.stop()
