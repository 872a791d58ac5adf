"""Random command streams over hashes, sets, sorted sets and lists, sent to Tern and to a stock Redis: replies
must be identical (order normalised where Redis leaves it unspecified). Seeded, so a failure reproduces.

Commands whose result is random by design (SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER) and cursor-based scans
are checked separately for shape and coverage, not here.
"""

import random

import pytest

STEPS = 300

KEYS = ["k1", "k2", "k3", "str"]
MEMBERS = ["a", "b", "c", "d", "e", "10", "-3", "x" * 70]
SCORES = ["0", "1", "1.5", "-2", "+inf", "-inf", "3e2", "(1", "nan", "abc"]


def rk(rng):
    return rng.choice(KEYS)


def rm(rng):
    return rng.choice(MEMBERS)


def ri(rng):
    return str(rng.choice([0, 1, 2, -1, -2, 5, 100, -100, "x"]))


def hash_step(rng):
    k = rk(rng)
    return rng.choice([
        (("HSET", k, rm(rng), rm(rng), rm(rng), rm(rng)), False),
        (("HSETNX", k, rm(rng), rm(rng)), False),
        (("HGET", k, rm(rng)), False),
        (("HMGET", k, rm(rng), rm(rng)), False),
        (("HDEL", k, rm(rng), rm(rng)), False),
        (("HLEN", k), False),
        (("HSTRLEN", k, rm(rng)), False),
        (("HEXISTS", k, rm(rng)), False),
        (("HKEYS", k), True),
        (("HVALS", k), True),
        (("HGETALL", k), "pairs"),
        (("HINCRBY", k, rm(rng), ri(rng)), False),
        (("HINCRBYFLOAT", k, rm(rng), rng.choice(["1.5", "-0.25", "x", "1e3"])), False),
        (("HMSET", k, rm(rng), rm(rng)), False),
    ])


def set_step(rng):
    k, k2 = rk(rng), rk(rng)
    return rng.choice([
        (("SADD", k, rm(rng), rm(rng)), False),
        (("SREM", k, rm(rng), rm(rng)), False),
        (("SISMEMBER", k, rm(rng)), False),
        (("SMISMEMBER", k, rm(rng), rm(rng)), False),
        (("SCARD", k), False),
        (("SMEMBERS", k), True),
        (("SMOVE", k, k2, rm(rng)), False),
        (("SINTER", k, k2), True),
        (("SUNION", k, k2), True),
        (("SDIFF", k, k2), True),
        (("SINTERSTORE", rk(rng), k, k2), False),
        (("SUNIONSTORE", rk(rng), k, k2), False),
        (("SDIFFSTORE", rk(rng), k, k2), False),
        (("SINTERCARD", "2", k, k2, "LIMIT", ri(rng)), False),
    ])


def zset_step(rng):
    k, k2 = rk(rng), rk(rng)
    lo, hi = rng.choice(SCORES), rng.choice(SCORES)
    return rng.choice([
        (("ZADD", k, rng.choice(SCORES[:7]), rm(rng), rng.choice(SCORES[:7]), rm(rng)), False),
        (("ZADD", k, rng.choice(["NX", "XX", "GT", "LT", "CH"]), rng.choice(SCORES[:7]), rm(rng)), False),
        (("ZADD", k, "INCR", rng.choice(SCORES[:7]), rm(rng)), False),
        (("ZINCRBY", k, rng.choice(SCORES[:7]), rm(rng)), False),
        (("ZREM", k, rm(rng), rm(rng)), False),
        (("ZCARD", k), False),
        (("ZSCORE", k, rm(rng)), False),
        (("ZMSCORE", k, rm(rng), rm(rng)), False),
        (("ZCOUNT", k, lo, hi), False),
        (("ZRANGE", k, ri(rng), ri(rng), "WITHSCORES"), False),
        (("ZRANGE", k, lo, hi, "BYSCORE", "LIMIT", "0", "3"), False),
        (("ZRANGE", k, hi, lo, "BYSCORE", "REV", "WITHSCORES"), False),
        (("ZREVRANGEBYSCORE", k, hi, lo), False),
        (("ZRANK", k, rm(rng)), False),
        (("ZREVRANK", k, rm(rng)), False),
        (("ZPOPMIN", k), False),
        (("ZPOPMAX", k, ri(rng)), False),
        (("ZREMRANGEBYRANK", k, ri(rng), ri(rng)), False),
        (("ZREMRANGEBYSCORE", k, lo, hi), False),
        (("ZUNIONSTORE", rk(rng), "2", k, k2, "WEIGHTS", "2", "1"), False),
        (("ZINTERSTORE", rk(rng), "2", k, k2, "AGGREGATE", rng.choice(["SUM", "MIN", "MAX"])), False),
        (("ZDIFF", "2", k, k2, "WITHSCORES"), False),
        (("ZINTERCARD", "2", k, k2), False),
        (("ZRANGESTORE", rk(rng), k, "0", "-1"), False),
    ])


def lex_step(rng):
    """Lex ranges are defined only when all members share one score (Redis's documentation), so this stream
    only ever adds with score 0."""
    k = rk(rng)
    lex = ["-", "+", "[a", "(c", "[e", "(10", "x"]
    return rng.choice([
        (("ZADD", k, "0", rm(rng), "0", rm(rng)), False),
        (("ZREM", k, rm(rng)), False),
        (("ZLEXCOUNT", k, rng.choice(lex), rng.choice(lex)), False),
        (("ZRANGEBYLEX", k, rng.choice(lex), rng.choice(lex), "LIMIT", "0", ri(rng)), False),
        (("ZREVRANGEBYLEX", k, rng.choice(lex), rng.choice(lex)), False),
        (("ZRANGE", k, rng.choice(lex), rng.choice(lex), "BYLEX"), False),
        (("ZREMRANGEBYLEX", k, rng.choice(lex), rng.choice(lex)), False),
    ])


def list_step(rng):
    k, k2 = rk(rng), rk(rng)
    return rng.choice([
        (("LPUSH", k, rm(rng), rm(rng)), False),
        (("RPUSH", k, rm(rng)), False),
        (("LPUSHX", k, rm(rng)), False),
        (("RPUSHX", k, rm(rng)), False),
        (("LPOP", k), False),
        (("RPOP", k, ri(rng)), False),
        (("LLEN", k), False),
        (("LRANGE", k, ri(rng), ri(rng)), False),
        (("LINDEX", k, ri(rng)), False),
        (("LSET", k, ri(rng), rm(rng)), False),
        (("LINSERT", k, rng.choice(["BEFORE", "AFTER"]), rm(rng), rm(rng)), False),
        (("LREM", k, ri(rng), rm(rng)), False),
        (("LTRIM", k, ri(rng), ri(rng)), False),
        (("LPOS", k, rm(rng), "RANK", rng.choice(["1", "-1", "2"]), "COUNT", ri(rng)), False),
        (("LMOVE", k, k2, rng.choice(["LEFT", "RIGHT"]), rng.choice(["LEFT", "RIGHT"])), False),
        (("RPOPLPUSH", k, k2), False),
        (("LMPOP", "2", k, k2, rng.choice(["LEFT", "RIGHT"]), "COUNT", "2"), False),
        (("SORT", k, "ALPHA", "LIMIT", "0", "3"), False),
    ])


@pytest.mark.parametrize("kind,step,seed", [
    ("hash", hash_step, 1), ("hash", hash_step, 2),
    ("set", set_step, 3), ("set", set_step, 4),
    ("zset", zset_step, 5), ("zset", zset_step, 6), ("zset-lex", lex_step, 9),
    ("list", list_step, 7), ("list", list_step, 8),
])
def test_random_stream(pair, kind, step, seed):
    rng = random.Random(seed * 1000 + pair.protocol)
    pair.cmd("SET", "str", "a string: every command on it must give WRONGTYPE")
    for _ in range(STEPS):
        args, unordered = step(rng)
        pair.cmd(*args, unordered=unordered)
        if rng.random() < 0.02:
            pair.cmd("DEL", rk(rng))
    # Whatever the stream left behind, both servers hold the same keys of the same types.
    for k in KEYS:
        pair.cmd("TYPE", k)


def test_random_replies_have_redis_shapes(pair):
    pair.cmd("SADD", "s", *[str(i) for i in range(20)])
    pair.cmd("HSET", "h", *[x for i in range(10) for x in ("f%d" % i, "v%d" % i)])
    pair.cmd("ZADD", "z", *[x for i in range(10) for x in (str(i), "m%d" % i)])
    for args in [("SRANDMEMBER", "s", "5"), ("SRANDMEMBER", "s", "-30"), ("HRANDFIELD", "h", "3", "WITHVALUES"),
                 ("ZRANDMEMBER", "z", "-4", "WITHSCORES"), ("SPOP", "s", "3"), ("SRANDMEMBER", "missing", "3")]:
        t, r = pair.both(*args)
        assert t[0] == r[0], args
        assert len(t[1]) == len(r[1]), (args, t, r)
    pair.cmd("SCARD", "s")
