"""OBJECT ENCODING under the conversion thresholds, compared with a stock Redis given the same commands:
listpack -> hashtable / skiplist, intset -> hashtable, int / embstr / raw, never converting back, thresholds
changed with CONFIG SET (and through their *-ziplist-* aliases) applying to later writes, and encodings derived
again from the sizes after a restart (Tern) / DEBUG RELOAD (Redis)."""

import pytest

from test_config_dropin import redis_server, tern_server


@pytest.fixture
def servers():
    t = tern_server(name="tern-enc")
    try:
        r = redis_server(["--enable-debug-command", "yes"], name="redis-enc")
    except Exception:
        t.cleanup()
        raise
    yield t, r
    t.cleanup()
    r.cleanup()


class Both:
    def __init__(self, t, r):
        self.servers = (t, r)
        self.conns = [t.connect(), r.connect()]

    def reconnect(self):
        for c in self.conns:
            c.close()
        self.conns = [s.connect() for s in self.servers]

    def run(self, *cmd):
        replies = [c.call(*cmd) for c in self.conns]
        assert replies[0] == replies[1], (cmd, replies)
        return replies[1]

    def run_all(self, commands):
        for cmd in commands:
            self.run(*cmd)

    def encodings(self, keys):
        got = {}
        for k in keys:
            t, r = (c.call("OBJECT", "ENCODING", k) for c in self.conns)
            got[k] = (t, r)
        return {k: v for k, v in got.items() if v[0] != v[1]}, {k: v[1] for k, v in got.items()}


def many(cmd, key, n, start=0, pair=False, fmt="%d"):
    args = [cmd, key]
    for i in range(start, start + n):
        args += ([fmt % i, "v"] if pair else [fmt % i]) if cmd != "ZADD" else [str(i), fmt % i]
    return tuple(args)


def check(both, keys, expected=None):
    diff, encodings = both.encodings(keys)
    assert diff == {}, diff
    if expected:
        for k, e in expected.items():
            assert encodings[k] == ("$", e.encode()), (k, encodings[k])
    return encodings


def test_strings(servers):
    b = Both(*servers)
    b.run_all([
        ("SET", "int", "12345"), ("SET", "neg", "-9223372036854775808"), ("SET", "big", "9223372036854775808"),
        ("SET", "lead0", "007"), ("SET", "minus0", "-0"), ("SET", "e44", "x" * 44), ("SET", "r45", "x" * 45),
        ("SET", "a1", "10"), ("APPEND", "a1", "5"), ("APPEND", "a2", "new"), ("APPEND", "a3", "123"),
        ("SET", "sr", "hello"), ("SETRANGE", "sr", 1, "a"), ("SETRANGE", "sr2", 3, "x"),
        ("SET", "sr3", "abc"), ("SETRANGE", "sr3", 0, ""),
        ("SET", "inc", "x"), ("APPEND", "inc", "y"), ("SET", "inc", "5"), ("INCR", "inc"),
        ("SET", "f", "1.5"), ("INCRBYFLOAT", "f", "1"), ("INCRBY", "ib", 10), ("DECR", "dc"),
        ("SET", "mv", "ab"), ("APPEND", "mv", "c"), ("RENAME", "mv", "mv2"), ("COPY", "mv2", "mv3"),
        ("SET", "g", "x"), ("APPEND", "g", "y"), ("GETSET", "g", "7"), ("MSET", "m1", "1", "m2", "x" * 50),
        ("SET", "ex", "x"), ("APPEND", "ex", "y"), ("EXPIRE", "ex", 100), ("SETEX", "sx", 100, "42"),
    ])
    check(b, ["int", "neg", "big", "lead0", "minus0", "e44", "r45", "a1", "a2", "a3", "sr", "sr2", "sr3", "inc",
              "f", "ib", "dc", "mv2", "mv3", "g", "m1", "m2", "ex", "sx"],
          {"int": "int", "e44": "embstr", "r45": "raw", "a1": "raw", "a2": "embstr", "sr": "raw", "mv3": "raw"})


def test_hashes_convert_once_and_follow_config_set(servers):
    b = Both(*servers)
    b.run_all([
        ("HSET", "small", "f", "v"), many("HSET", "big", 513, pair=True), ("HSET", "long", "f", "x" * 65),
        ("HSET", "longfield", "f" * 65, "v"), ("HSET", "edge", "f", "x" * 64),
        many("HSET", "shrink", 600, pair=True), ("HDEL", "shrink", *["%d" % i for i in range(599)]),
        ("HSET", "lv", "f", "v"), ("HSET", "lv", "f", "y" * 100), ("HSET", "lv", "f", "v"),
        ("HINCRBY", "hi", "n", 5), ("HSETNX", "hn", "x" * 70, "v"), ("HINCRBYFLOAT", "hf", "x" * 65, "1.5"),
        ("CONFIG", "SET", "hash-max-listpack-entries", "4"),
        many("HSET", "after", 5, pair=True), many("HSET", "four", 4, pair=True),
        ("CONFIG", "SET", "hash-max-ziplist-entries", "2"),
    ])
    # "four" was written under the old threshold: it stays a listpack until its next write.
    check(b, ["four"], {"four": "listpack"})
    b.run("HSET", "four", "x", "y")
    b.run_all([("CONFIG", "SET", "hash-max-listpack-value", "3"), ("HSET", "v3", "f", "abcd"), ("HSET", "v3b", "f", "abc")])
    check(b, ["small", "big", "long", "longfield", "edge", "shrink", "lv", "hi", "hn", "hf", "after", "four", "v3", "v3b"],
          {"small": "listpack", "big": "hashtable", "shrink": "hashtable", "lv": "hashtable", "four": "hashtable",
           "v3": "hashtable", "v3b": "listpack"})


def test_sets_intset_and_hashtable(servers):
    b = Both(*servers)
    b.run_all([
        ("SADD", "ints", 1, 2, 3), ("SADD", "mixed", 1, "a"), ("SADD", "mixed2", "a", 1),
        many("SADD", "many", 513), many("SADD", "exact", 512), ("SADD", "back", 1, "x"), ("SREM", "back", "x"),
        ("SADD", "lead0", "01"), ("SADD", "neg", -5, "9223372036854775807"), ("SADD", "over", "9223372036854775808"),
        ("SADD", "s1", 1, 2, 3, 4), ("SADD", "s2", 3, 4, 5), ("SINTERSTORE", "inter", "s1", "s2"),
        ("SUNIONSTORE", "uni", "s1", "s2", "mixed"), ("SDIFFSTORE", "dif", "s1", "s2"),
        ("SMOVE", "mixed", "moved", "a"), ("SMOVE", "s1", "moved2", 1),
        ("CONFIG", "SET", "set-max-intset-entries", "3"), ("SADD", "c3", 1, 2, 3, 4), ("SADD", "ints", 4),
    ])
    # Random members: the same count on both, not compared.
    for c in b.conns:
        assert len(c.call("SPOP", "many", 510)[1]) == 510
    check(b, ["ints", "mixed", "mixed2", "many", "exact", "back", "lead0", "neg", "over", "inter", "uni", "dif",
              "moved", "moved2", "c3"],
          {"ints": "hashtable", "exact": "intset", "back": "hashtable", "many": "intset", "lead0": "hashtable"})


def test_sorted_sets_listpack_and_skiplist(servers):
    b = Both(*servers)
    b.run_all([
        ("ZADD", "small", 1, "a"), many("ZADD", "big", 129), many("ZADD", "exact", 128), ("ZADD", "long", 1, "x" * 65),
        ("ZADD", "shrink", 1, "x" * 70, 2, "b"), ("ZREM", "shrink", "x" * 70), ("ZINCRBY", "zi", 1, "y" * 80),
        ("ZADD", "z1", 1, "a", 2, "b"), ("ZADD", "z2", 3, "c"), ("ZUNIONSTORE", "u", 2, "z1", "z2"),
        ("ZUNIONSTORE", "ubig", 2, "big", "z1"), ("ZINTERSTORE", "i", 2, "z1", "big"),
        ("ZRANGESTORE", "rs", "big", 0, 5), ("ZRANGESTORE", "rsbig", "big", 0, -1),
        ("CONFIG", "SET", "zset-max-ziplist-entries", "2"), ("ZADD", "c2", 1, "a", 2, "b", 3, "c"),
        ("ZADD", "z1", 5, "a"), ("ZADD", "z1", 5, "q"),
        ("CONFIG", "SET", "zset-max-listpack-value", "1"), ("ZADD", "v1", 1, "ab"),
    ])
    check(b, ["small", "big", "exact", "long", "shrink", "zi", "u", "ubig", "i", "rs", "rsbig", "c2", "z1", "v1"],
          {"small": "listpack", "big": "skiplist", "shrink": "skiplist", "exact": "listpack", "z1": "skiplist"})


def test_lists_and_moves(servers):
    b = Both(*servers)
    b.run_all([
        ("RPUSH", "l", "a"), many("RPUSH", "lbig", 1000), ("CONFIG", "SET", "list-max-listpack-size", "1"), ("LPUSH", "l2", 1, 2),
        many("HSET", "h", 600, pair=True), ("HDEL", "h", *["%d" % i for i in range(598)]),
        ("RENAME", "h", "h2"), ("COPY", "h2", "h3"), ("MOVE", "h3", 1),
    ])
    check(b, ["l", "lbig", "l2", "h2"], {"l": "quicklist", "h2": "hashtable"})
    b.run("SELECT", 1)
    check(b, ["h3"], {"h3": "hashtable"})


def test_restart_derives_encodings_from_sizes_again(servers):
    """A key converted and then shrunk is derived again from its size after a restart (Tern, both backends:
    the RDB load of the memory backend, the LMDB store's reopening) as after Redis's DEBUG RELOAD."""
    t, r = servers
    b = Both(t, r)
    b.run_all([
        many("HSET", "h", 600, pair=True), ("HDEL", "h", *["%d" % i for i in range(598)]),
        ("SADD", "s", 1, "x"), ("SREM", "s", "x"), many("ZADD", "z", 200), ("ZREMRANGEBYRANK", "z", 0, 190),
        ("SET", "str", "ab"), ("APPEND", "str", "c"), many("HSET", "stillbig", 600, pair=True),
    ])
    keys = ["h", "s", "z", "str", "stillbig"]
    before = check(b, keys, {"h": "hashtable", "s": "hashtable", "z": "skiplist", "str": "raw"})
    assert b.conns[1].call("DEBUG", "RELOAD") == ("+", b"OK")
    t.restart()
    b.reconnect()
    after = check(b, keys, {"h": "listpack", "s": "intset", "z": "listpack", "stillbig": "hashtable"})
    assert after != before
