"""Bit commands (SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO): identical command sequences to
Tern and to a stock Redis 7.0, replies compared exactly (errors included), plus seeded random streams whose
resulting string bytes must match too."""

import random

import pytest

LONG_MAX = "9223372036854775807"
LONG_MIN = "-9223372036854775808"

CASES = {
    "setbit_getbit": [("SETBIT", "k", "7", "1"), ("GET", "k"), ("SETBIT", "k", "7", "1"), ("SETBIT", "k", "7", "0"),
                      ("GETBIT", "k", "7"), ("GETBIT", "k", "0"), ("GETBIT", "k", "100000"), ("GETBIT", "missing", "3"),
                      ("SETBIT", "k", "100", "1"), ("GET", "k"), ("STRLEN", "k"), ("SETBIT", "n", "0", "0"), ("GET", "n"),
                      ("SET", "s", "hello"), ("GETBIT", "s", "1"), ("GETBIT", "s", "2"), ("SETBIT", "s", "39", "1"),
                      ("GET", "s")],
    "setbit_errors": [("SETBIT", "k", "-1", "1"), ("SETBIT", "k", "abc", "1"), ("SETBIT", "k", "1", "2"),
                      ("SETBIT", "k", "1", "-1"), ("SETBIT", "k", "1", "x"), ("SETBIT", "k", "4294967296", "1"),
                      ("SETBIT", "k", LONG_MAX, "1"), ("SETBIT", "k", "1.5", "1"), ("GETBIT", "k", "-1"),
                      ("GETBIT", "k", "4294967296"), ("GETBIT", "k", "x"), ("SETBIT", "k", "1"), ("GETBIT", "k"),
                      ("@list", "l"), ("SETBIT", "l", "1", "1"), ("GETBIT", "l", "1"), ("EXISTS", "k"),
                      ("GETBIT", "k", "4294967295")],
    "bitcount": [("SET", "k", "foobar"), ("BITCOUNT", "k"), ("BITCOUNT", "k", "0", "0"), ("BITCOUNT", "k", "1", "1"),
                 ("BITCOUNT", "k", "1", "1", "BYTE"), ("BITCOUNT", "k", "5", "30", "BIT"), ("BITCOUNT", "k", "-1", "-1"),
                 ("BITCOUNT", "k", "-2", "-1", "bit"), ("BITCOUNT", "k", "-1", "-2"), ("BITCOUNT", "k", "2", "1"),
                 ("BITCOUNT", "k", "0", "100"), ("BITCOUNT", "k", "-100", "-1"), ("BITCOUNT", "k", "0", "-100"),
                 ("BITCOUNT", "k", "0", "1000", "BIT"), ("BITCOUNT", "k", "7", "7", "BIT"), ("BITCOUNT", "k", "1"),
                 ("BITCOUNT", "k", "0", "1", "BITS"), ("BITCOUNT", "k", "a", "1"), ("BITCOUNT", "k", "0", "b"),
                 ("BITCOUNT", "missing"), ("BITCOUNT", "missing", "0", "1"), ("BITCOUNT", "missing", "x", "y"),
                 ("BITCOUNT", "k", "0", "1", "BIT", "x"), ("SET", "e", ""), ("BITCOUNT", "e"), ("BITCOUNT", "e", "0", "-1"),
                 ("@list", "l"), ("BITCOUNT", "l"), ("BITCOUNT", "k", LONG_MIN, LONG_MAX),
                 ("BITCOUNT", "k", "0", LONG_MAX, "BIT")],
    "bitpos": [("SET", "k", b"\xff\xf0\x00"), ("BITPOS", "k", "0"), ("BITPOS", "k", "1"), ("BITPOS", "k", "1", "1"),
               ("BITPOS", "k", "0", "2"), ("BITPOS", "k", "0", "2", "-1"), ("BITPOS", "k", "1", "2", "-1"),
               ("BITPOS", "k", "0", "0", "0"), ("BITPOS", "k", "1", "7", "15", "BIT"), ("BITPOS", "k", "0", "7", "15", "BIT"),
               ("BITPOS", "k", "0", "0", "11", "BIT"), ("BITPOS", "k", "0", "12", "-1", "bit"),
               ("BITPOS", "k", "1", "-3", "-1", "BYTE"), ("BITPOS", "k", "1", "3", "2"), ("BITPOS", "k", "2"),
               ("BITPOS", "k", "-1"), ("BITPOS", "k", "x"), ("BITPOS", "k", "1", "x"), ("BITPOS", "k", "1", "0", "y"),
               ("BITPOS", "k", "1", "0", "1", "BITE"), ("BITPOS", "missing", "0"), ("BITPOS", "missing", "1"),
               ("BITPOS", "missing", "1", "0", "5"), ("SET", "f", b"\xff\xff"), ("BITPOS", "f", "0"),
               ("BITPOS", "f", "0", "0"), ("BITPOS", "f", "0", "0", "-1"), ("BITPOS", "f", "0", "0", "15", "BIT"),
               ("SET", "z", b"\x00\x00"), ("BITPOS", "z", "1"), ("BITPOS", "z", "1", "0", "-1", "BIT"),
               ("BITPOS", "z", "0", "3", "5", "BIT"), ("SET", "e", ""), ("BITPOS", "e", "0"), ("BITPOS", "e", "1"),
               ("BITPOS", "e", "0", "0", "-1"), ("@list", "l"), ("BITPOS", "l", "0"), ("BITPOS", "k", "1", "0", "1", "BIT", "x")],
    "bitop": [("SET", "a", "foobar"), ("SET", "b", "abcdef"), ("SET", "c", b"\x0f"), ("BITOP", "AND", "d", "a", "b"),
              ("GET", "d"), ("BITOP", "OR", "d", "a", "b", "c"), ("GET", "d"), ("BITOP", "XOR", "d", "a", "c", "missing"),
              ("GET", "d"), ("BITOP", "NOT", "d", "a"), ("GET", "d"), ("BITOP", "and", "d", "c", "a"), ("GET", "d"),
              ("BITOP", "NOT", "d", "a", "b"), ("BITOP", "NAND", "d", "a"), ("BITOP", "AND", "d"),
              ("SET", "d", "x", "EX", "100"), ("BITOP", "OR", "d", "a"), ("TTL", "d"),
              ("BITOP", "AND", "d", "missing", "missing2"), ("EXISTS", "d"), ("SET", "e", ""),
              ("BITOP", "OR", "d", "e"), ("EXISTS", "d"), ("@list", "l"), ("BITOP", "OR", "d", "a", "l"),
              ("BITOP", "OR", "l", "a"), ("TYPE", "l"), ("GET", "l"), ("BITOP", "AND", "a", "a", "b"), ("GET", "a"),
              ("BITOP", "NOT", "n", "missing"), ("EXISTS", "n")],
    "bitfield_basic": [("BITFIELD", "k", "SET", "i8", "0", "100", "GET", "i8", "0"), ("GET", "k"),
                       ("BITFIELD", "k", "INCRBY", "u2", "100", "1", "OVERFLOW", "SAT", "INCRBY", "u2", "102", "1"),
                       ("BITFIELD", "k", "GET", "u4", "0", "GET", "i4", "4", "GET", "u63", "0", "GET", "i64", "0"),
                       ("BITFIELD", "k", "SET", "u8", "#2", "255", "GET", "u8", "#2", "GET", "u8", "16"), ("GET", "k"),
                       ("BITFIELD", "k"), ("BITFIELD", "missing", "GET", "u8", "0"), ("EXISTS", "missing"),
                       ("BITFIELD", "k", "get", "i1", "7", "set", "u1", "7", "1", "incrby", "i5", "3", "-1"), ("GET", "k"),
                       ("BITFIELD_RO", "k", "GET", "u8", "0", "GET", "i16", "#1"), ("BITFIELD_RO", "k"),
                       ("BITFIELD_RO", "k", "SET", "u8", "0", "1"), ("BITFIELD_RO", "k", "INCRBY", "u8", "0", "1"),
                       ("BITFIELD", "z", "GET", "u8", "1000"), ("EXISTS", "z")],
    "bitfield_overflow": [("BITFIELD", "k", "SET", "u8", "0", "255", "INCRBY", "u8", "0", "10"),
                          ("BITFIELD", "k", "OVERFLOW", "SAT", "INCRBY", "u8", "0", "300", "INCRBY", "u8", "0", "-300"),
                          ("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "300", "INCRBY", "u8", "0", "-1"),
                          ("BITFIELD", "k", "OVERFLOW", "WRAP", "INCRBY", "i8", "0", "200", "INCRBY", "i8", "0", "-300"),
                          ("BITFIELD", "k", "OVERFLOW", "SAT", "SET", "i8", "0", "1000", "GET", "i8", "0",
                           "SET", "i8", "0", "-1000", "GET", "i8", "0"),
                          ("BITFIELD", "k", "OVERFLOW", "FAIL", "SET", "i8", "0", "128", "SET", "u8", "0", "-1",
                           "SET", "u8", "0", "256", "GET", "u8", "0"),
                          ("BITFIELD", "k", "SET", "u8", "0", "-1", "GET", "u8", "0", "SET", "i4", "0", "8"),
                          ("BITFIELD", "w", "SET", "i64", "0", LONG_MAX, "INCRBY", "i64", "0", "1",
                           "OVERFLOW", "SAT", "INCRBY", "i64", "0", "1", "INCRBY", "i64", "0", LONG_MIN,
                           "OVERFLOW", "FAIL", "INCRBY", "i64", "0", LONG_MIN, "INCRBY", "i64", "0", "-1"),
                          ("BITFIELD", "w", "OVERFLOW", "WRAP", "SET", "i64", "0", LONG_MIN, "INCRBY", "i64", "0", "-1"),
                          ("BITFIELD", "u", "SET", "u63", "0", LONG_MAX, "GET", "u63", "0", "INCRBY", "u63", "0", "1",
                           "OVERFLOW", "SAT", "INCRBY", "u63", "0", "-5", "INCRBY", "u63", "0", LONG_MAX),
                          ("BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u8", "16", "300"), ("GET", "f"),
                          ("BITFIELD", "k", "OVERFLOW", "wrap", "incrby", "u1", "3", "3", "incrby", "i1", "3", "1")],
    "bitfield_errors": [("BITFIELD", "k", "GET", "u64", "0"), ("BITFIELD", "k", "GET", "i65", "0"),
                        ("BITFIELD", "k", "GET", "i0", "0"), ("BITFIELD", "k", "GET", "x8", "0"),
                        ("BITFIELD", "k", "GET", "U8", "0"), ("BITFIELD", "k", "GET", "u", "0"),
                        ("BITFIELD", "k", "GET", "u8", "-1"), ("BITFIELD", "k", "GET", "u8", "#-1"),
                        ("BITFIELD", "k", "GET", "u8", "#"), ("BITFIELD", "k", "GET", "u8", "x"),
                        ("BITFIELD", "k", "GET", "u8", "4294967296"), ("BITFIELD", "k", "GET", "u8", "#536870912"),
                        ("BITFIELD", "k", "GET", "u8"), ("BITFIELD", "k", "SET", "u8", "0"),
                        ("BITFIELD", "k", "SET", "u8", "0", "x"), ("BITFIELD", "k", "INCRBY", "u8", "0", "1.5"),
                        ("BITFIELD", "k", "OVERFLOW", "BOUNCE", "GET", "u8", "0"), ("BITFIELD", "k", "OVERFLOW"),
                        ("BITFIELD", "k", "FOO", "u8", "0"), ("BITFIELD", "k", "GET", "u8", "0", "SET", "u8", "x", "1"),
                        ("EXISTS", "k"), ("@list", "l"), ("BITFIELD", "l", "GET", "u8", "0"),
                        ("BITFIELD", "l", "SET", "u8", "0", "1"), ("BITFIELD_RO", "l", "GET", "u8", "0"),
                        ("BITFIELD", "k", "SET", "u8", "#1", "1", "GET", "i64", "#536870911"), ("GET", "k")],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bitmaps(pair, name):
    pair.run_case(CASES[name])


def test_setbit_grows_and_counts(pair2):
    for off in [0, 1, 7, 8, 15, 1000, 8191, 65535, 3]:
        pair2.cmd("SETBIT", "b", str(off), "1")
    pair2.seq([("GET", "b"), ("BITCOUNT", "b"), ("BITPOS", "b", "1", "2"), ("BITPOS", "b", "0", "0", "-1", "BIT"),
               ("BITCOUNT", "b", "1000", "8191", "BIT"), ("STRLEN", "b")])


def test_random_bit_stream(pair2):
    """Seeded random offsets, ranges and ops; after the stream every key's bytes match."""
    rnd = random.Random(1616)
    keys = ["a", "b", "c", "d"]
    for _ in range(1500):
        k = rnd.choice(keys)
        op = rnd.randrange(10)
        if op == 0:
            pair2.cmd("SETBIT", k, str(rnd.randrange(0, 400)), str(rnd.randrange(2)))
        elif op == 1:
            pair2.cmd("GETBIT", k, str(rnd.randrange(0, 450)))
        elif op == 2:
            args = [str(rnd.randrange(-70, 70)), str(rnd.randrange(-70, 70))]
            if rnd.random() < 0.5:
                args.append(rnd.choice(["BIT", "BYTE", "bit"]))
            pair2.cmd("BITCOUNT", k, *args)
        elif op == 3:
            args = [str(rnd.randrange(2))]
            n = rnd.randrange(4)
            if n >= 1:
                args.append(str(rnd.randrange(-70, 70)))
            if n >= 2:
                args.append(str(rnd.randrange(-70, 70)))
            if n >= 3:
                args.append(rnd.choice(["BIT", "BYTE"]))
            pair2.cmd("BITPOS", k, *args)
        elif op == 4:
            opname = rnd.choice(["AND", "OR", "XOR", "NOT"])
            srcs = [rnd.choice(keys + ["missing"])] if opname == "NOT" else rnd.sample(keys + ["missing"], rnd.randrange(1, 4))
            pair2.cmd("BITOP", opname, rnd.choice(keys), *srcs)
        elif op in (5, 6, 7):
            args = []
            for _ in range(rnd.randrange(1, 5)):
                sub = rnd.choice(["GET", "SET", "INCRBY", "OVERFLOW"])
                if sub == "OVERFLOW":
                    args += ["OVERFLOW", rnd.choice(["WRAP", "SAT", "FAIL"])]
                    continue
                signed = rnd.random() < 0.5
                bits = rnd.randrange(1, 65 if signed else 64)
                t = ("i" if signed else "u") + str(bits)
                off = ("#%d" % rnd.randrange(0, 8)) if rnd.random() < 0.3 else str(rnd.randrange(0, 300))
                args += [sub, t, off]
                if sub != "GET":
                    args.append(str(rnd.choice([rnd.randrange(-300, 300), rnd.getrandbits(63) - (1 << 62),
                                                (1 << 63) - 1, -(1 << 63)])))
            pair2.cmd("BITFIELD", k, *args)
        elif op == 8:
            pair2.cmd("SETRANGE", k, str(rnd.randrange(0, 60)), bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 6))))
        else:
            pair2.cmd("GETRANGE", k, str(rnd.randrange(-60, 60)), str(rnd.randrange(-60, 60)))
    for k in keys:
        pair2.cmd("GET", k)


def test_big_bitmap(pair2):
    """A 64 MB bitmap: bits at both ends, counts and positions, then ranges across it."""
    top = 64 * 1024 * 1024 * 8 - 1
    for off in [0, 12345, 8 * 1024 * 1024, top]:
        pair2.cmd("SETBIT", "big", str(off), "1")
    pair2.seq([("STRLEN", "big"), ("GETBIT", "big", str(top)), ("GETBIT", "big", str(top - 1)),
               ("BITCOUNT", "big"), ("BITCOUNT", "big", "1000", "2000000"), ("BITPOS", "big", "1", "2"),
               ("BITPOS", "big", "0", "-1"), ("BITPOS", "big", "1", "-1"),
               ("BITFIELD", "big", "INCRBY", "u32", str(top - 40), "7", "GET", "u64", str(top - 70)),
               ("GETRANGE", "big", "-3", "-1"), ("SETRANGE", "big", str(32 * 1024 * 1024), "hello"),
               ("GETRANGE", "big", str(32 * 1024 * 1024 - 2), str(32 * 1024 * 1024 + 6)), ("APPEND", "big", "tail"),
               ("GETRANGE", "big", "-6", "-1"), ("BITCOUNT", "big")])


def test_replication_of_bit_writes(tern_proc):
    """A stock Redis replica of Tern ends with the same bytes after SETBIT/BITFIELD/BITOP writes."""
    from test_replication import client, start_replica, wait_in_sync
    m = client(tern_proc)
    replica = start_replica(tern_proc.port)
    try:
        r = client(replica)
        rnd = random.Random(7)
        for _ in range(300):
            k = rnd.choice(["x", "y"])
            if rnd.random() < 0.5:
                m.execute_command("SETBIT", k, str(rnd.randrange(0, 2000)), str(rnd.randrange(2)))
            else:
                m.execute_command("BITFIELD", k, "OVERFLOW", rnd.choice(["WRAP", "SAT", "FAIL"]), "INCRBY",
                                  rnd.choice(["u7", "i13", "i64", "u63"]), "#%d" % rnd.randrange(20),
                                  str(rnd.randrange(-500, 500)))
        m.execute_command("BITOP", "XOR", "z", "x", "y")
        m.execute_command("SETRANGE", "x", "3000", "abc")
        m.execute_command("APPEND", "y", "tail")
        wait_in_sync(m, r)
        for k in ["x", "y", "z"]:
            assert m.get(k) == r.get(k)
    finally:
        replica.stop()
