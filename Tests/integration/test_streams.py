"""Streams against a stock Redis 7.0: every stream command, differentially (the same commands to both, the same
replies; IDs are given explicitly, and time-dependent numbers - delivery and seen times, idle times - are
normalised), a seeded random command stream, approximate trimming's node boundaries, blocking reads across
real connections, replication both ways (stock replica of Tern, Tern replica of a stock master), DUMP/RESTORE
both ways and the RDB round trip through SAVE and a restart. Runs on the backend TERN_BACKEND selects."""

import os
import random
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import REDIS_BIN, TERN_BACKEND, ServerProcess, tern_argv
from respwire import RawConnection, is_error

DEADLINE = 20.0


def norm_times(reply):
    """Replaces millisecond timestamps (delivery and seen times) by a marker."""
    t, v = reply
    if t == ":" and isinstance(v, int) and v > 10 ** 12:
        return (":", "T")
    if t in "*~>" and v is not None:
        return (t, [norm_times(x) for x in v])
    if t in "%|":
        return (t, [(norm_times(k), norm_times(x)) for k, x in v])
    return reply


def norm_idle(reply):
    """norm_times, and every integer after an "idle" key (XINFO CONSUMERS) or in XPENDING rows' idle slot."""
    t, v = norm_times(reply)
    if t in "*~" and v is not None:
        out = []
        prev = None
        for x in v:
            if prev is not None and prev[1] == b"idle" and x[0] == ":":
                x = (":", "I")
            out.append(norm_idle(x))
            prev = x
        return (t, out)
    if t == "%":
        return (t, [(k, (":", "I") if k[1] == b"idle" else norm_idle(x)) for k, x in v])
    return (t, v)


def norm_pending_rows(reply):
    """XPENDING's extended form: [id, consumer, idle, deliveries] with the idle time masked."""
    t, v = reply
    if t != "*" or v is None:
        return reply
    return (t, [(rt, [rv[0], rv[1], (":", "I"), rv[3]]) if rt == "*" and rv and len(rv) == 4 else (rt, rv)
                for rt, rv in v])


# ---------------------------------------------------------------------------------------------------------
# Fixed differential cases

BASIC = [
    ("XADD", "s", "1-1", "a", "1", "b", "2"),
    ("XADD", "s", "1-2", "a", "3", "b", "4"),
    ("XADD", "s", "1-*", "a", "5"),
    ("XADD", "s", "2-*", "c", "6"),
    ("XADD", "s", "1-5", "x", "y"),
    ("XADD", "s", "2-1", "x", "y"),
    ("XADD", "s", "0-0", "x", "y"),
    ("XADD", "new", "0-0", "x", "y"),
    ("EXISTS", "new"),
    ("XADD", "s", "3", "odd"),
    ("XADD", "s", "abc", "f", "v"),
    ("XADD", "s", "1-x", "f", "v"),
    ("XADD", "s", "-", "f", "v"),
    ("XADD", "s", "+", "f", "v"),
    ("XADD", "s", "18446744073709551616-0", "f", "v"),
    ("XADD", "s", " 5-1", "f", "v"),
    ("XADD", "s", "+6-01", "f", "v"),
    ("XADD", "nomk", "NOMKSTREAM", "1-1", "f", "v"),
    ("EXISTS", "nomk"),
    ("XADD", "s", "NOMKSTREAM", "10-0", "f", "v"),
    ("XLEN", "s"),
    ("XLEN", "missing"),
    ("XRANGE", "s", "-", "+"),
    ("XRANGE", "s", "1", "1"),
    ("XRANGE", "s", "(1-1", "+"),
    ("XRANGE", "s", "-", "(2-0"),
    ("XRANGE", "s", "(-", "+"),
    ("XRANGE", "s", "(18446744073709551615-18446744073709551615", "+"),
    ("XRANGE", "s", "-", "(0-0"),
    ("XRANGE", "s", "-", "+", "COUNT", "2"),
    ("XRANGE", "s", "-", "+", "COUNT", "0"),
    ("XRANGE", "s", "-", "+", "COUNT", "-1"),
    ("XRANGE", "s", "-", "+", "COUNT"),
    ("XRANGE", "s", "-", "+", "LIMIT", "2"),
    ("XRANGE", "s", "-", "+", "COUNT", "x"),
    ("XRANGE", "s", "5", "1"),
    ("XRANGE", "missing", "-", "+"),
    ("XREVRANGE", "s", "+", "-"),
    ("XREVRANGE", "s", "+", "-", "COUNT", "1"),
    ("XREVRANGE", "s", "(10-0", "(1-1"),
    ("XREVRANGE", "s", "2", "1"),
    ("XDEL", "s", "1-2", "9-9", "1-2"),
    ("XDEL", "s", "bad"),
    ("XDEL", "missing", "1-1"),
    ("XRANGE", "s", "-", "+"),
    ("XINFO", "STREAM", "s"),
    ("XSETID", "s", "1-0"),
    ("XSETID", "s", "100-0", "ENTRIESADDED", "1"),
    ("XSETID", "s", "100-0", "MAXDELETEDID", "200-0"),
    ("XSETID", "s", "100-0", "ENTRIESADDED", "-1"),
    ("XSETID", "s", "100-0", "ENTRIESADDED", "50", "MAXDELETEDID", "50-0"),
    ("XSETID", "s", "100-0", "FOO"),
    ("XSETID", "missing", "1-0"),
    ("XINFO", "STREAM", "s"),
    ("XADD", "s", "99-0", "f", "v"),
    ("XADD", "s", "100-*", "f", "v"),
    ("XINFO", "STREAM", "s", "FULL"),
    ("XINFO", "STREAM", "s", "FULL", "COUNT", "2"),
    ("XINFO", "STREAM", "s", "FULL", "COUNT", "0"),
    ("XINFO", "STREAM", "s", "FULL", "COUNT"),
    ("XINFO", "STREAM", "s", "FOO"),
    ("XINFO", "STREAM", "missing"),
    ("XINFO", "HELP"),
    ("XINFO", "FOO", "s"),
    ("XINFO", "GROUPS", "s"),
    ("XGROUP", "HELP"),
    ("OBJECT", "ENCODING", "s"),
    ("TYPE", "s"),
    ("SET", "str", "x"),
    ("XADD", "str", "1-1", "f", "v"),
    ("XRANGE", "str", "-", "+"),
    ("XLEN", "str"),
    ("XINFO", "STREAM", "str"),
    ("XGROUP", "CREATE", "str", "g", "$"),
    ("XADD", "s", "200-0", "f"),
    ("XADD", "s"),
]

TRIM = [
    *[("XADD", "t", "%d-1" % i, "f", "v%d" % i) for i in range(1, 31)],
    ("XTRIM", "t", "MAXLEN", "25"),
    ("XTRIM", "t", "MAXLEN", "=", "20"),
    ("XTRIM", "t", "MINID", "12"),
    ("XTRIM", "t", "MINID", "=", "(12"),
    ("XTRIM", "t", "MAXLEN", "-1"),
    ("XTRIM", "t", "MAXLEN", "~", "5"),
    ("XTRIM", "t", "MAXLEN", "5", "LIMIT", "2"),
    ("XTRIM", "t", "MAXLEN", "~", "5", "LIMIT", "-1"),
    ("XTRIM", "t", "LIMIT", "2"),
    ("XTRIM", "t", "MAXLEN", "5", "MINID", "3"),
    ("XTRIM", "t"),
    ("XTRIM", "t", "FOO", "1"),
    ("XTRIM", "missing", "MAXLEN", "0"),
    ("XADD", "t", "MAXLEN", "3", "40-0", "f", "v"),
    ("XADD", "t", "MINID", "39", "41-0", "f", "v"),
    ("XADD", "t", "MAXLEN", "x", "42-0", "f", "v"),
    ("XADD", "t", "LIMIT", "5", "42-0", "f", "v"),
    ("XADD", "t", "MAXLEN", "1", "LIMIT", "5", "42-0", "f", "v"),
    ("XRANGE", "t", "-", "+"),
    ("XINFO", "STREAM", "t"),
    ("XTRIM", "t", "MAXLEN", "0"),
    ("XINFO", "STREAM", "t"),
    ("EXISTS", "t"),
]

GROUPS = [
    *[("XADD", "g", "%d-0" % i, "n", str(i)) for i in range(1, 11)],
    ("XGROUP", "CREATE", "g", "grp", "0"),
    ("XGROUP", "CREATE", "g", "grp", "0"),
    ("XGROUP", "CREATE", "g", "late", "$"),
    ("XGROUP", "CREATE", "g", "mid", "5-0", "ENTRIESREAD", "5"),
    ("XGROUP", "CREATE", "g", "bad", "5-0", "ENTRIESREAD", "-2"),
    ("XGROUP", "CREATE", "g", "bad", "5-0", "FOO"),
    ("XGROUP", "CREATE", "g", "bad", "x"),
    ("XGROUP", "CREATE", "nokey", "grp", "$"),
    ("XGROUP", "CREATE", "mk", "grp", "$", "MKSTREAM"),
    ("XINFO", "STREAM", "mk"),
    ("XGROUP", "SETID", "g", "nogroup", "0"),
    ("XGROUP", "CREATECONSUMER", "g", "nogroup", "c"),
    ("XGROUP", "CREATECONSUMER", "g", "grp", "zed"),
    ("XGROUP", "CREATECONSUMER", "g", "grp", "zed"),
    ("XINFO", "GROUPS", "g"),
    ("XREADGROUP", "GROUP", "grp", "alice", "COUNT", "3", "STREAMS", "g", ">"),
    ("XREADGROUP", "GROUP", "grp", "bob", "COUNT", "2", "STREAMS", "g", ">"),
    ("XREADGROUP", "GROUP", "grp", "alice", "STREAMS", "g", "0"),
    ("XREADGROUP", "GROUP", "grp", "alice", "COUNT", "1", "STREAMS", "g", "1-0"),
    ("XREADGROUP", "GROUP", "grp", "alice", "STREAMS", "g", "$"),
    ("XREADGROUP", "GROUP", "nope", "alice", "STREAMS", "g", ">"),
    ("XREADGROUP", "GROUP", "grp", "alice", "STREAMS", "nokey", ">"),
    ("XREADGROUP", "GROUP", "grp", "alice", "STREAMS", "g"),
    ("XREADGROUP", "STREAMS", "g", ">"),
    ("XREADGROUP", "GROUP", "grp", "alice", "COUNT", "1", "NOACK", "STREAMS", "g", ">"),
    ("XREADGROUP", "GROUP", "grp", "carol", "NOACK", "COUNT", "1", "STREAMS", "g", ">"),
    ("XINFO", "GROUPS", "g"),
    ("XPENDING", "g", "grp"),
    ("XPENDING", "g", "late"),
    ("XPENDING", "g", "nope"),
    ("XPENDING", "nokey", "grp"),
    {"cmd": ("XPENDING", "g", "grp", "-", "+", "10"), "norm": norm_pending_rows},
    {"cmd": ("XPENDING", "g", "grp", "-", "+", "2", "bob"), "norm": norm_pending_rows},
    {"cmd": ("XPENDING", "g", "grp", "(1-0", "(4-0", "10"), "norm": norm_pending_rows},
    ("XPENDING", "g", "grp", "-", "+", "10", "nobody"),
    ("XPENDING", "g", "grp", "IDLE", "100000000", "-", "+", "10"),
    ("XPENDING", "g", "grp", "IDLE", "x", "-", "+", "10"),
    ("XPENDING", "g", "grp", "IDLE", "5", "-", "+"),
    ("XPENDING", "g", "grp", "-", "+"),
    ("XPENDING", "g", "grp", "-", "+", "x"),
    ("XPENDING", "g", "grp", "bad", "+", "10"),
    ("XACK", "g", "grp", "1-0", "1-0", "9-0"),
    ("XACK", "g", "grp", "bad"),
    ("XACK", "g", "nope", "1-0"),
    ("XACK", "nokey", "grp", "1-0"),
    ("XPENDING", "g", "grp"),
    ("XDEL", "g", "3-0"),
    {"cmd": ("XCLAIM", "g", "grp", "dave", "0", "2-0", "3-0", "4-0"), "norm": norm_times},
    ("XCLAIM", "g", "grp", "dave", "0", "2-0", "JUSTID"),
    ("XCLAIM", "g", "grp", "erin", "0", "2-0", "JUSTID", "RETRYCOUNT", "7"),
    ("XCLAIM", "g", "grp", "erin", "0", "9-0", "FORCE", "JUSTID"),
    ("XCLAIM", "g", "grp", "erin", "0", "10-0", "LASTID", "10-0", "JUSTID"),
    ("XCLAIM", "g", "grp", "erin", "100000000", "2-0", "JUSTID"),
    ("XCLAIM", "g", "grp", "erin", "x", "2-0"),
    ("XCLAIM", "g", "grp", "erin", "0", "2-0", "IDLE", "x"),
    ("XCLAIM", "g", "grp", "erin", "0", "2-0", "TIME", "x"),
    ("XCLAIM", "g", "grp", "erin", "0", "2-0", "RETRYCOUNT", "x"),
    ("XCLAIM", "g", "grp", "erin", "0", "2-0", "LASTID", "x"),
    ("XCLAIM", "g", "grp", "erin", "0", "2-0", "BOGUS"),
    ("XCLAIM", "g", "nope", "erin", "0", "2-0"),
    ("XCLAIM", "nokey", "grp", "erin", "0", "2-0"),
    {"cmd": ("XPENDING", "g", "grp", "-", "+", "10"), "norm": norm_pending_rows},
    ("XDEL", "g", "5-0"),
    {"cmd": ("XAUTOCLAIM", "g", "grp", "frank", "0", "0", "COUNT", "2"), "norm": norm_times},
    {"cmd": ("XAUTOCLAIM", "g", "grp", "frank", "0", "(2-0"), "norm": norm_times},
    ("XAUTOCLAIM", "g", "grp", "frank", "0", "0", "JUSTID"),
    ("XAUTOCLAIM", "g", "grp", "frank", "100000000", "0", "JUSTID"),
    ("XAUTOCLAIM", "g", "grp", "frank", "0", "0", "COUNT", "0"),
    ("XAUTOCLAIM", "g", "grp", "frank", "0", "0", "COUNT", "x"),
    ("XAUTOCLAIM", "g", "grp", "frank", "x", "0"),
    ("XAUTOCLAIM", "g", "grp", "frank", "0", "x"),
    ("XAUTOCLAIM", "g", "grp", "frank", "0", "0", "FOO"),
    ("XAUTOCLAIM", "g", "nope", "frank", "0", "0"),
    {"cmd": ("XINFO", "CONSUMERS", "g", "grp"), "norm": norm_idle},
    ("XINFO", "CONSUMERS", "g", "nope"),
    {"cmd": ("XINFO", "STREAM", "g", "FULL"), "norm": norm_times},
    ("XGROUP", "DELCONSUMER", "g", "grp", "frank"),
    ("XGROUP", "DELCONSUMER", "g", "grp", "frank"),
    ("XGROUP", "DELCONSUMER", "g", "nope", "frank"),
    ("XGROUP", "SETID", "g", "grp", "$"),
    ("XGROUP", "SETID", "g", "grp", "-", "ENTRIESREAD", "0"),
    ("XGROUP", "SETID", "g", "grp", "2-0", "ENTRIESREAD", "x"),
    ("XGROUP", "SETID", "g", "grp", "2-0", "MKSTREAM"),
    ("XINFO", "GROUPS", "g"),
    ("XGROUP", "DESTROY", "g", "late"),
    ("XGROUP", "DESTROY", "g", "late"),
    ("XGROUP", "DESTROY", "g"),
    ("XGROUP", "FOO", "g", "grp"),
    ("XGROUP", "CREATE", "g"),
    {"cmd": ("XINFO", "STREAM", "g", "FULL"), "norm": norm_times},
    ("XADD", "g", "20-0", "n", "20"),
    ("XDEL", "g", "7-0"),
    ("XINFO", "GROUPS", "g"),
    ("XREADGROUP", "GROUP", "grp", "alice", "STREAMS", "g", ">"),
    ("XINFO", "GROUPS", "g"),
]

XREAD = [
    ("XADD", "r1", "1-0", "a", "1"),
    ("XADD", "r1", "2-0", "a", "2"),
    ("XADD", "r2", "5-0", "b", "1"),
    ("XREAD", "STREAMS", "r1", "r2", "0", "0"),
    ("XREAD", "COUNT", "1", "STREAMS", "r1", "r2", "0", "4"),
    ("XREAD", "STREAMS", "r1", "r2", "$", "$"),
    ("XREAD", "STREAMS", "r1", "2-0"),
    ("XREAD", "STREAMS", "r1", "nokey", "1", "0"),
    ("XREAD", "STREAMS", "r1"),
    ("XREAD", "STREAMS", "r1", "r2", "0"),
    ("XREAD", "STREAMS", "r1", ">"),
    ("XREAD", "STREAMS", "r1", "-"),
    ("XREAD", "STREAMS", "r1", "bad"),
    ("XREAD", "GROUP", "g", "c", "STREAMS", "r1", "0"),
    ("XREAD", "NOACK", "STREAMS", "r1", "0"),
    ("XREAD", "COUNT", "x", "STREAMS", "r1", "0"),
    ("XREAD", "BLOCK", "x", "STREAMS", "r1", "0"),
    ("XREAD", "BLOCK", "-1", "STREAMS", "r1", "0"),
    ("XREAD", "FOO", "STREAMS", "r1", "0"),
    ("XREAD", "COUNT", "1"),
    ("XREAD", "BLOCK", "10", "STREAMS", "r1", "0"),
    ("SET", "str", "x"),
    ("XREAD", "STREAMS", "str", "0"),
    ("MULTI",),
    ("XREAD", "BLOCK", "0", "STREAMS", "r1", "$"),
    ("XREAD", "BLOCK", "0", "STREAMS", "r1", "0"),
    ("EXEC",),
]


@pytest.mark.parametrize("case", [BASIC, TRIM, GROUPS, XREAD], ids=["basic", "trim", "groups", "xread"])
def test_differential_cases(pair, case):
    pair.run_case(case)


def test_keyspace_commands_and_refusals(pair):
    pair.run_case([
        ("XADD", "s", "1-1", "f", "v"),
        ("XGROUP", "CREATE", "s", "g", "0"),
        ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"),
        ("COPY", "s", "s2"),
        {"cmd": ("XINFO", "STREAM", "s2", "FULL"), "norm": norm_times},
        ("RENAME", "s2", "s3"),
        ("MOVE", "s3", "1"),
        ("SELECT", "1"),
        {"cmd": ("XINFO", "STREAM", "s3", "FULL"), "norm": norm_times},
        ("SELECT", "0"),
        ("SORT", "s"),
        ("SORT", "s", "BY", "nosort"),
        ("TYPE", "s"),
        ("SCAN", "0", "TYPE", "stream"),
        ("OBJECT", "ENCODING", "s"),
        ("DEL", "s"),
        ("EXISTS", "s"),
    ])


def test_approximate_trimming_follows_redis_nodes(pair2):
    """`~` removes whole nodes only: with the default 100 entries / 4096 bytes per node, and after changing
    them, the results (and XINFO's radix-tree-keys/-nodes) are Redis's."""
    p = pair2
    for i in range(1, 1001):
        p.cmd("XADD", "big", "%d-0" % i, "field", "v" * (i % 7), "n", str(i))
    p.cmd("XINFO", "STREAM", "big")
    p.cmd("XTRIM", "big", "MAXLEN", "~", "950")
    p.cmd("XTRIM", "big", "MAXLEN", "~", "801")
    p.cmd("XTRIM", "big", "MINID", "~", "555")
    p.cmd("XDEL", "big", "600-0", "601-0", "700-0")
    p.cmd("XTRIM", "big", "MAXLEN", "~", "300", "LIMIT", "150")
    p.cmd("XTRIM", "big", "MAXLEN", "~", "300", "LIMIT", "250")
    p.cmd("XINFO", "STREAM", "big")
    # Big values cross the 4096-byte limit before 100 entries.
    for i in range(1, 120):
        p.cmd("XADD", "wide", "%d-0" % i, "payload", "x" * 300)
    p.cmd("XINFO", "STREAM", "wide")
    p.cmd("XTRIM", "wide", "MAXLEN", "~", "50")
    p.cmd("CONFIG", "SET", "stream-node-max-entries", "7")
    p.cmd("CONFIG", "SET", "stream-node-max-bytes", "0")
    for i in range(1, 60):
        p.cmd("XADD", "small", "%d-0" % i, "f", str(i))
    p.cmd("XINFO", "STREAM", "small")
    p.cmd("XTRIM", "small", "MAXLEN", "~", "20")
    p.cmd("XADD", "small", "MAXLEN", "~", "10", "100-0", "f", "v")
    p.cmd("XRANGE", "small", "-", "+")
    p.cmd("CONFIG", "GET", "stream-node-max-*", unordered="pairs")
    p.cmd("CONFIG", "SET", "stream-node-max-entries", "100")
    p.cmd("CONFIG", "SET", "stream-node-max-bytes", "4096")


def test_dump_payloads_are_byte_identical(pair2):
    """Without consumer groups (whose times differ) a stream's DUMP is the same bytes as Redis's (without
    LZF, whose output depends on the compressor's implementation)."""
    p = pair2
    p.cmd("CONFIG", "SET", "rdbcompression", "no")
    for i in range(1, 260):
        fields = ("a", str(i), "b", "x" * (i % 5)) if i % 3 else ("other", "field", "n", str(-i))
        p.cmd("XADD", "d", "%d-%d" % (i // 3, i), *fields)
    p.cmd("XDEL", "d", "10-30", "20-61", "0-1")
    p.cmd("XTRIM", "d", "MAXLEN", "200")
    try:
        p.cmd("DUMP", "d")
    finally:
        p.cmd("CONFIG", "SET", "rdbcompression", "yes")


def random_step(rng, ids):
    k = rng.choice(["rs", "rs", "rs2"])
    g = rng.choice(["g1", "g2"])
    c = rng.choice(["c1", "c2", "c3"])
    some = lambda: rng.choice(ids) if ids else "0-1"
    return rng.choice([
        ("XADD", k, "%d-%d" % (rng.randint(1, 60), rng.randint(0, 3)), "f", str(rng.randint(0, 9))),
        ("XADD", k, "%d-*" % rng.randint(1, 60), "f", "v", "g", "w"),
        ("XADD", k, "MAXLEN", rng.choice(["~", "="]), str(rng.randint(0, 30)), "%d-*" % rng.randint(1, 80), "f", "v"),
        ("XDEL", k, some(), some()),
        ("XTRIM", k, "MINID", rng.choice(["~", "="]), "%d" % rng.randint(0, 40)),
        ("XRANGE", k, rng.choice(["-", some(), "(" + some()]), rng.choice(["+", some()]), "COUNT", str(rng.randint(1, 5))),
        ("XREVRANGE", k, "+", "-", "COUNT", str(rng.randint(1, 4))),
        ("XLEN", k),
        ("XGROUP", "CREATE", k, g, rng.choice(["0", "$", some()])),
        ("XGROUP", "SETID", k, g, rng.choice(["0", "$", some()])),
        ("XGROUP", "DESTROY", k, g),
        ("XGROUP", "CREATECONSUMER", k, g, c),
        ("XGROUP", "DELCONSUMER", k, g, c),
        ("XREADGROUP", "GROUP", g, c, "COUNT", str(rng.randint(1, 3)), "STREAMS", k, ">"),
        ("XREADGROUP", "GROUP", g, c, "NOACK", "COUNT", "2", "STREAMS", k, ">"),
        ("XREADGROUP", "GROUP", g, c, "STREAMS", k, "0"),
        ("XREAD", "COUNT", "3", "STREAMS", k, some()),
        ("XACK", k, g, some(), some()),
        ("XPENDING", k, g),
        ("XCLAIM", k, g, c, "0", some(), some(), "JUSTID"),
        ("XAUTOCLAIM", k, g, c, "0", "0", "COUNT", "3", "JUSTID"),
        ("XINFO", "GROUPS", k),
        ("XINFO", "STREAM", k),
        ("XSETID", k, "%d-0" % rng.randint(50, 90)),
    ])


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_stream_commands(pair, seed):
    rng = random.Random(seed)
    ids = []
    for _ in range(250):
        step = random_step(rng, ids)
        r = pair.cmd(*step, norm=norm_times)
        if step[0] == "XADD" and r[0] == "$":
            ids.append(r[1].decode())
    for k in ("rs", "rs2"):
        pair.cmd("XINFO", "STREAM", k, "FULL", norm=norm_times)


# ---------------------------------------------------------------------------------------------------------
# Blocking reads across real connections


def wait_blocked(conn, n):
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        info = conn.call("INFO", "clients")[1].decode()
        for line in info.splitlines():
            if line.startswith("blocked_clients:") and int(line.split(":")[1]) >= n:
                return
        time.sleep(0.02)
    raise AssertionError("clients did not block")


def on_both(pair, body):
    """Runs body(main, other_connections_factory) on each server; returns the two results."""
    out = []
    for server in (pair.tern_server, pair.redis_server):
        main = server.connect(protocol=pair.protocol)
        try:
            out.append(body(main, lambda: server.connect(protocol=pair.protocol)))
        finally:
            main.close()
    return out


def test_blocking_xread_served_by_xadd_in_arrival_order(pair):
    def body(main, connect):
        main.call("FLUSHALL")
        main.call("XADD", "bs", "1-0", "f", "old")
        a, b, c = connect(), connect(), connect()
        try:
            a.send("XREAD", "BLOCK", "0", "STREAMS", "bs", "$")
            b.send("XREAD", "COUNT", "1", "BLOCK", "5000", "STREAMS", "bs", "1-0")
            c.send("XREAD", "BLOCK", "0", "STREAMS", "nokey", "bs", "$", "$")
            wait_blocked(main, 3)
            main.call("XADD", "bs", "2-0", "f", "new")
            replies = [x.read_reply() for x in (a, b, c)]
            # Nothing new for a timed-out reader: the null array after its timeout.
            a.send("XREAD", "BLOCK", "50", "STREAMS", "bs", "$")
            replies.append(a.read_reply())
            return replies
        finally:
            for x in (a, b, c):
                x.close()
    t, r = on_both(pair, body)
    assert t == r
    assert r[0][1] is not None and r[3][1] is None


def test_blocking_xreadgroup_groups_deletion_and_destroy(pair):
    def body(main, connect):
        main.call("FLUSHALL")
        main.call("XGROUP", "CREATE", "q", "workers", "$", "MKSTREAM")
        w1, w2, w3 = connect(), connect(), connect()
        try:
            out = []
            # Two workers wait; one XADD of two entries: the first served takes what COUNT allows.
            w1.send("XREADGROUP", "GROUP", "workers", "w1", "COUNT", "1", "BLOCK", "0", "STREAMS", "q", ">")
            wait_blocked(main, 1)
            w2.send("XREADGROUP", "GROUP", "workers", "w2", "COUNT", "1", "BLOCK", "0", "STREAMS", "q", ">")
            wait_blocked(main, 2)
            main.call("MULTI")
            main.call("XADD", "q", "1-0", "job", "1")
            main.call("XADD", "q", "2-0", "job", "2")
            out.append(main.call("EXEC"))
            out.append(w1.read_reply())
            out.append(w2.read_reply())
            out.append(norm_times(main.call("XPENDING", "q", "workers")))
            # XGROUP DESTROY wakes a reader blocked on that group with -NOGROUP.
            w1.send("XREADGROUP", "GROUP", "workers", "w1", "BLOCK", "0", "STREAMS", "q", ">")
            wait_blocked(main, 1)
            out.append(main.call("XGROUP", "DESTROY", "q", "workers"))
            out.append(w1.read_reply())
            # Deleting the key (or replacing it by another type) wakes XREADGROUP with -UNBLOCKED.
            main.call("XGROUP", "CREATE", "q", "workers", "$")
            w2.send("XREADGROUP", "GROUP", "workers", "w2", "BLOCK", "0", "STREAMS", "q", ">")
            wait_blocked(main, 1)
            out.append(main.call("DEL", "q"))
            out.append(w2.read_reply())
            main.call("XGROUP", "CREATE", "q", "workers", "$", "MKSTREAM")
            w3.send("XREADGROUP", "GROUP", "workers", "w3", "BLOCK", "0", "STREAMS", "q", ">")
            wait_blocked(main, 1)
            out.append(main.call("SET", "q", "string now"))
            out.append(w3.read_reply())
            # XREAD stays blocked through a DEL and is served by the next XADD.
            w1.send("XREAD", "BLOCK", "0", "STREAMS", "q2", "$")
            wait_blocked(main, 1)
            main.call("XADD", "q2", "1-0", "a", "b")
            main.call("DEL", "q2")
            out.append(w1.read_reply())
            return out
        finally:
            for x in (w1, w2, w3):
                x.close()
    t, r = on_both(pair, body)
    assert t == r
    assert r[-2][1].startswith(b"UNBLOCKED")
    assert r[5][1].startswith(b"NOGROUP")


def test_keyspace_events(pair2):
    def body(main, connect):
        main.call("FLUSHALL")
        main.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
        sub = connect()
        try:
            sub.call("PSUBSCRIBE", "__keyevent@0__:*")
            for c in [("XADD", "e", "1-0", "f", "v"), ("XADD", "e", "MAXLEN", "0", "2-0", "f", "v"),
                      ("XGROUP", "CREATE", "e", "g", "0"), ("XGROUP", "CREATECONSUMER", "e", "g", "c"),
                      ("XGROUP", "SETID", "e", "g", "0"), ("XADD", "e", "3-0", "f", "v"),
                      ("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "e", ">"), ("XGROUP", "DELCONSUMER", "e", "g", "c"),
                      ("XDEL", "e", "3-0"), ("XSETID", "e", "9-0"), ("XTRIM", "e", "MAXLEN", "0"),
                      ("XGROUP", "DESTROY", "e", "g"), ("DEL", "e")]:
                main.call(*c)
            main.call("PUBLISH", "__keyevent@0__:end", "x")
            events = []
            while True:
                m = sub.read_reply()
                events.append(m[1][2][1])
                if m[1][2][1].endswith(b":end"):
                    return events
        finally:
            sub.close()
            main.call("CONFIG", "SET", "notify-keyspace-events", "")
    t, r = on_both(pair2, body)
    assert t == r, (t, r)
    assert b"__keyevent@0__:xadd" in r and b"__keyevent@0__:xgroup-destroy" in r


# ---------------------------------------------------------------------------------------------------------
# Replication, DUMP/RESTORE and RDB with stock Redis


def stream_dataset(conn):
    cmds = [
        *[("XADD", "rs", "%d-%d" % (i, i % 3), "k", str(i), "payload", "p" * (i % 11)) for i in range(1, 240)],
        ("XDEL", "rs", "5-2", "77-2"),
        ("XGROUP", "CREATE", "rs", "g1", "0"),
        ("XGROUP", "CREATE", "rs", "g2", "100-0", "ENTRIESREAD", "90"),
        ("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "5", "STREAMS", "rs", ">"),
        ("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "3", "STREAMS", "rs", ">"),
        ("XREADGROUP", "GROUP", "g2", "carol", "NOACK", "COUNT", "4", "STREAMS", "rs", ">"),
        ("XACK", "rs", "g1", "2-2"),
        ("XCLAIM", "rs", "g1", "dave", "0", "3-0", "4-1"),
        ("XAUTOCLAIM", "rs", "g1", "erin", "0", "0", "COUNT", "2"),
        ("XDEL", "rs", "6-0"),
        ("XAUTOCLAIM", "rs", "g1", "erin", "0", "0", "COUNT", "10"),
        ("XGROUP", "CREATECONSUMER", "rs", "g2", "idle"),
        ("XADD", "rs", "MAXLEN", "~", "150", "500-*", "late", "1"),
        ("XTRIM", "rs", "MINID", "~", "120"),
        ("XADD", "other", "1-1", "a", "b"),
        ("XGROUP", "CREATE", "empty", "g", "$", "MKSTREAM"),
        ("XSETID", "empty", "5-5", "ENTRIESADDED", "3", "MAXDELETEDID", "4-0"),
    ]
    for c in cmds:
        r = conn.call(*c)
        assert not is_error(r), (c, r)


STREAM_KEYS = ["rs", "other", "empty"]


def norm_seen(reply):
    """XINFO STREAM FULL with consumers' seen-time masked (a replica stamps its own clock when it applies
    the XCLAIM that creates a consumer); delivery times travel exactly."""
    t, v = reply
    if t in "*~" and v is not None:
        out = []
        prev = None
        for x in v:
            if prev is not None and prev == ("$", b"seen-time"):
                x = (":", "S")
            out.append(norm_seen(x))
            prev = x
        return (t, out)
    if t == "%":
        return (t, [(k, (":", "S") if k == ("$", b"seen-time") else norm_seen(x)) for k, x in v])
    return reply


def full_info(conn, key):
    return norm_seen(conn.call("XINFO", "STREAM", key, "FULL", "COUNT", "0"))


def wait_same(a, b, keys):
    deadline = time.monotonic() + DEADLINE
    last = None
    while time.monotonic() < deadline:
        last = [(full_info(a, k), full_info(b, k)) for k in keys]
        if all(x == y for x, y in last):
            return
        time.sleep(0.05)
    raise AssertionError("streams differ: %r" % [(k, x, y) for k, (x, y) in zip(keys, last) if x != y])


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="tern-streams-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def tern_server(workdir, name, *extra):
    return ServerProcess(name, lambda port: tern_argv(
        port, ["--dir", workdir, "--repl-diskless-sync-delay", "0", "--save", "", *extra],
        lmdb_path=os.path.join(workdir, "lmdb-" + name)))


def stock_server(workdir, *extra):
    return ServerProcess("redis", lambda port: [
        REDIS_BIN, "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir, "--appendonly", "no",
        "--save", "", "--repl-diskless-sync-delay", "0", *extra], executable=REDIS_BIN)


def test_stock_replica_of_tern_converges(workdir):
    master = tern_server(workdir, "master").start()
    replica = None
    try:
        m = RawConnection(master.port)
        m.call("XADD", "before", "1-0", "f", "v")
        m.call("XGROUP", "CREATE", "before", "g", "0")
        m.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "before", ">")
        replica = stock_server(workdir, "--replicaof", "127.0.0.1", str(master.port)).start()
        r = RawConnection(replica.port)
        wait_same(m, r, ["before"])          # the full sync carries the stream with its group
        stream_dataset(m)                    # the command stream carries every stream effect
        wait_same(m, r, STREAM_KEYS + ["before"])
    finally:
        master.stop()
        if replica:
            replica.stop()


def test_tern_replica_of_stock_master_converges(workdir):
    """Tern and a stock Redis, both replicas of one stock master, hold the same streams after the full sync
    and after the command stream. (Against the master itself a group's entries-read may differ: Redis 7.0
    propagates XREADGROUP as XCLAIM ... LASTID, which leaves a replica's counter unknown.)"""
    master = stock_server(workdir).start()
    replicas = []
    try:
        m = RawConnection(master.port)
        stream_dataset(m)
        replicas.append(stock_server(workdir, "--replicaof", "127.0.0.1", str(master.port)).start())
        replicas.append(tern_server(workdir, "replica", "--replicaof", "127.0.0.1", str(master.port)).start())
        stock, tern = (RawConnection(x.port) for x in replicas)
        wait_same(m, tern, STREAM_KEYS)      # a full sync with streams, groups and PELs: exactly the master's
        m.call("XADD", "rs", "*", "after", "sync")
        m.call("XREADGROUP", "GROUP", "g1", "zoe", "COUNT", "2", "STREAMS", "rs", ">")
        m.call("XREADGROUP", "GROUP", "g2", "yann", "NOACK", "COUNT", "2", "STREAMS", "rs", ">")
        m.call("XGROUP", "SETID", "rs", "g2", "$")
        m.call("XTRIM", "rs", "MAXLEN", "~", "60")
        m.call("XADD", "fresh", "*", "a", "b")
        wait_same(stock, tern, STREAM_KEYS + ["fresh"])
    finally:
        master.stop()
        for x in replicas:
            x.stop()


def test_dump_restore_both_ways(pair2):
    p = pair2
    stream_dataset(p.r)
    stream_dataset(p.t)
    for k in STREAM_KEYS:
        from_redis = p.r.call("DUMP", k)[1]
        from_tern = p.t.call("DUMP", k)[1]
        assert p.t.call("RESTORE", k + ":r", "0", from_redis) == ("+", b"OK")
        assert p.r.call("RESTORE", k + ":t", "0", from_tern) == ("+", b"OK")
        assert full_info(p.t, k + ":r") == full_info(p.r, k)
        assert full_info(p.r, k + ":t") == full_info(p.t, k)
        assert norm_times(full_info(p.t, k)) == norm_times(full_info(p.r, k))


def test_rdb_round_trip_through_save_restart_and_stock_redis(workdir):
    t = tern_server(workdir, "tern").start()
    r = None
    try:
        c = RawConnection(t.port)
        stream_dataset(c)
        before = {k: full_info(c, k) for k in STREAM_KEYS}
        assert c.call("SAVE") == ("+", b"OK")
        c.close()
        path = os.path.join(workdir, "dump.rdb")
        check = subprocess.run(["redis-check-rdb", path], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0 and "RDB looks OK!" in check.stdout, check.stdout + check.stderr
        t.stop()
        if TERN_BACKEND == "lmdb":
            shutil.rmtree(os.path.join(workdir, "lmdb-tern"))  # the dump, not the store, must bring it back
        t.start()
        c = RawConnection(t.port)
        deadline = time.monotonic() + DEADLINE
        while c.call("DBSIZE")[1] < len(STREAM_KEYS) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert {k: full_info(c, k) for k in STREAM_KEYS} == before
        r = stock_server(workdir).start()
        rc = RawConnection(r.port)
        assert {k: full_info(rc, k) for k in STREAM_KEYS} == before
    finally:
        t.stop()
        if r:
            r.stop()
