"""DUMP / RESTORE interoperate with a stock Redis 7.0 in both directions (DUMP on one, RESTORE on the other)
for every type and every encoding Redis uses, and RESTORE's options and errors match Redis's. Runs on the
backend TERN_BACKEND selects (scripts/test runs both)."""

import struct

from respwire import is_error


def dataset(conn):
    """Every type, small (listpack/intset) and big (hashtable/skiplist/multi-node quicklist) encodings."""
    cmds = [
        ("SET", "str:plain", "hello"),
        ("SET", "str:int", "12345"),
        ("SET", "str:lzf", "abcdefgh" * 300),
        ("SET", "str:bin", bytes(range(256))),
        ("RPUSH", "list:small", "a", "b", "1", "-5", "70000", str(1 << 40), ""),
        ("RPUSH", "list:big", *[("e%d" % i) * 20 for i in range(2000)]),
        ("HSET", "hash:small", "f1", "v1", "n", "42"),
        ("HSET", "hash:big", *[x for i in range(300) for x in ("f%d" % i, "v%d" % i)]),
        ("SADD", "set:int", "1", "2", "-300", str(1 << 40)),
        ("SADD", "set:str", "x", "y", "z"),
        ("SADD", "set:big", *[str(i * 7) for i in range(700)]),
        ("ZADD", "zset:small", "1.5", "a", "-3", "b", "+inf", "c"),
        ("ZADD", "zset:big", *[x for i in range(300) for x in (str(i / 4), "m%d" % i)]),
    ]
    for c in cmds:
        r = conn.call(*c)
        assert not is_error(r), (c, r)
    for key, ms in EXPIRING.items():
        assert conn.call("PEXPIRE", key, ms) == (":", 1), key
    return [c[1] for c in cmds]


# Keys given a TTL on the source: RESTORE carries it over (DUMP holds no TTL; the ttl argument does).
EXPIRING = {"str:plain": 500000, "hash:big": 800000, "zset:small": 300000}


def read_back(conn, key):
    """(type, value, TTL in ms or a negative code) under `key`, as comparable data. Hash fields and set
    members have no order: a hash is compared as a dict, a set as a sorted list."""
    kind = conn.call("TYPE", key)
    assert kind[0] == "+", (key, kind)
    kind = kind[1]
    if kind == b"string":
        v = conn.call("GET", key)
    elif kind == b"list":
        v = conn.call("LRANGE", key, 0, -1)
    elif kind == b"hash":
        flat = conn.call("HGETALL", key)[1]
        v = dict(zip(flat[0::2], flat[1::2]))
        assert len(v) * 2 == len(flat), key
    elif kind == b"set":
        v = sorted(conn.call("SMEMBERS", key)[1], key=repr)
    elif kind == b"zset":
        v = conn.call("ZRANGE", key, 0, -1, "WITHSCORES")
    else:
        raise AssertionError("%s: unexpected type %r" % (key, kind))
    assert v and (isinstance(v, dict) or not is_error(v)), (key, v)
    pttl = conn.call("PTTL", key)
    assert pttl[0] == ":", (key, pttl)
    return kind, v, pttl[1]


def same_value(a, b, key):
    (ka, va, ta), (kb, vb, tb) = a, b
    assert (ka, va) == (kb, vb), key
    if ta < 0 or tb < 0:
        assert ta == tb, (key, ta, tb)
    else:
        assert abs(ta - tb) < 5000, (key, ta, tb)


def transfer(src, dst, keys):
    for key in keys:
        t, payload = src.call("DUMP", key)
        assert t == "$" and payload, (key, t, payload)
        before = read_back(src, key)
        ttl = max(before[2], 0)
        r = dst.call("RESTORE", key, ttl, payload)
        assert r == ("+", b"OK"), (key, r)
        same_value(read_back(dst, key), before, key)
        assert (before[2] > 0) == (key in EXPIRING), (key, before)


def test_dump_on_redis_restore_on_tern(pair2):
    keys = dataset(pair2.r)
    transfer(pair2.r, pair2.t, keys)
    assert pair2.t.call("DBSIZE") == pair2.r.call("DBSIZE")


def test_dump_on_tern_restore_on_redis(pair2):
    keys = dataset(pair2.t)
    transfer(pair2.t, pair2.r, keys)
    # Redis re-encodes what it restored as it would have built it itself.
    assert pair2.r.call("OBJECT", "ENCODING", "hash:small")[1] == b"listpack"
    assert pair2.r.call("OBJECT", "ENCODING", "zset:big")[1] == b"skiplist"


def test_dump_payload_format(pair2):
    pair2.cmd("SET", "k", "hello")
    t, payload = pair2.t.call("DUMP", "k")
    # type 0, length 5, "hello", RDB version 10 LE, CRC-64 LE: byte-for-byte what Redis writes.
    assert payload[:7] == b"\x00\x05hello" and payload[7:9] == struct.pack("<H", 10) and len(payload) == 17
    pair2.cmd("DUMP", "k")
    pair2.cmd("DUMP", "missing")
    # rdbcompression: a long compressible string is LZF-encoded (0xC3), as Redis does; both restore it.
    pair2.cmd("SET", "long", "abcdefgh" * 100)
    t, lz = pair2.t.call("DUMP", "long")
    assert lz[1] == 0xC3 and len(lz) < 200, lz[:4]
    assert pair2.r.call("RESTORE", "long2", 0, lz)[0] == "+" and pair2.r.call("GET", "long2")[1] == b"abcdefgh" * 100
    # Flags, arity, ACL categories and key specs as Redis's command table.
    pair2.cmd("COMMAND", "INFO", "dump", "restore")


def test_restore_options_and_errors(pair2):
    p = pair2
    p.cmd("SET", "src", "value")
    good = p.r.call("DUMP", "src")[1]
    p.cmd("RESTORE", "new", "0", good)
    p.err("RESTORE", "new", "0", good)                                     # BUSYKEY
    p.cmd("RESTORE", "new", "0", good, "REPLACE")
    p.err("RESTORE", "x", "notanumber", good)
    p.err("RESTORE", "x", "-1", good)
    p.err("RESTORE", "x", "0", good[:-1] + bytes([good[-1] ^ 1]))         # checksum
    p.err("RESTORE", "x", "0", good[:-10] + b"\x0b\x00" + good[-8:])      # version 11 > 10
    p.err("RESTORE", "x", "0", b"short")
    p.err("RESTORE", "x", "0", good, "BOGUS")
    p.err("RESTORE", "x", "0", good, "IDLETIME", "-1")
    p.err("RESTORE", "x", "0", good, "IDLETIME", "abc")
    p.err("RESTORE", "x", "0", good, "FREQ", "256")
    p.err("RESTORE", "x", "0", good, "IDLETIME", "10", "FREQ", "5")      # mutually exclusive: syntax
    p.err("RESTORE", "x", "0", good, "IDLETIME")
    p.err("RESTORE", "x")
    # A well-formed envelope around a bad object: "Bad data format" on both.
    body = b"\x00\x7f"  # a string claiming 127 bytes that are not there
    crc_input = body + b"\x0a\x00"
    t_reply = p.t.call("RESTORE", "bad", "0", crc_input + crc64(crc_input))
    r_reply = p.r.call("RESTORE", "bad", "0", crc_input + crc64(crc_input))
    assert t_reply == r_reply and is_error(t_reply) and b"Bad data format" in t_reply[1], (t_reply, r_reply)
    # TTLs: relative, absolute, already expired (the key is not created; with REPLACE the old one goes).
    p.cmd("RESTORE", "ttl", "100000", good)
    p.cmd_approx("PTTL", "ttl", tol=2000)
    p.cmd("RESTORE", "abs", "4102444800000", good, "ABSTTL")
    p.cmd("PEXPIRETIME", "abs")
    p.cmd("RESTORE", "past", "1", good, "ABSTTL")
    p.cmd("EXISTS", "past")
    p.cmd("RESTORE", "new", "1", good, "ABSTTL", "REPLACE")
    p.cmd("EXISTS", "new")
    # IDLETIME (LRU policies) and FREQ (LFU policies).
    p.cmd("RESTORE", "idle", "0", good, "IDLETIME", "1000")
    p.cmd_approx("OBJECT", "IDLETIME", "idle", tol=2)
    try:
        p.cmd("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
        p.cmd("RESTORE", "hot", "0", good, "FREQ", "100")
        p.cmd("OBJECT", "FREQ", "hot")
    finally:
        p.cmd("CONFIG", "SET", "maxmemory-policy", "noeviction")
    p.cmd("GET", "hot")


def crc64(data):
    """Redis's CRC-64 (Jones, reflected), little-endian bytes."""
    poly = 0x95AC9329AC4BC9B5
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return struct.pack("<Q", crc)
