"""MEMORY, LATENCY, INFO, READONLY/READWRITE and LOLWUT against a stock redis-server 7.0.15: MEMORY USAGE
plausibility (grows with the value, within a sane factor of Redis's), MEMORY STATS / HELP / DOCTOR shapes,
redis-cli --memkeys / --bigkeys / --stat / --latency-history (bounded runs on a pty, stopped by pid),
LATENCY HISTOGRAM / DOCTOR / GRAPH, INFO latencystats and errorstats, and INFO everything's sections and
fields compared with Redis's (the remaining differences listed with their reason)."""

import os
import pty
import re
import select
import signal
import subprocess
import time

import pytest
import redis

from conftest import REDIS_BIN, make_tern, ServerProcess, redis_argv


@pytest.fixture(scope="module")
def servers():
    tern = make_tern(["--enable-debug-command", "yes"]).start()
    stock = ServerProcess("redis-admin", lambda port: redis_argv(port) + ["--enable-debug-command", "yes"],
                          executable=REDIS_BIN).start()
    yield tern, stock
    tern.cleanup()
    stock.cleanup()


def client(server, protocol=2):
    return redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=20, protocol=protocol)


def both(servers):
    return [client(s) for s in servers]


# MARK: MEMORY

def test_memory_usage_plausible(servers):
    t, r = both(servers)
    for c in (t, r):
        c.flushall()
        c.set("small", "x")
        c.set("big", "x" * 100_000)
        c.rpush("list", *["element-%d" % i for i in range(1000)])
        c.hset("hash", mapping={"field-%d" % i: "value-%d" % i for i in range(1000)})
        c.sadd("set", *["member-%d" % i for i in range(1000)])
        c.zadd("zset", {"member-%d" % i: i for i in range(1000)})
        c.set("ttl", "v", ex=100)
    for key in ("small", "big", "list", "hash", "set", "zset", "ttl"):
        mine = t.memory_usage(key)
        theirs = r.memory_usage(key)
        assert mine > 0
        # Different representations, same order of magnitude.
        assert theirs / 4 <= mine <= theirs * 6, (key, mine, theirs)
    assert t.memory_usage("big") > 100_000 > t.memory_usage("small")
    assert t.memory_usage("list", samples=0) > 10_000
    assert t.memory_usage("nokey") is None
    t.rpush("grow", "x")
    before = t.memory_usage("grow")
    t.rpush("grow", *["y" * 100] * 200)
    assert t.memory_usage("grow") > before + 200 * 100


def test_memory_errors_and_help_match(servers):
    tern, stock = servers
    with tern.connect() as t, stock.connect() as r:
        for c in (t, r):
            c.call("SET", "k", "v")
        for command in [("MEMORY", "USAGE", "k", "SAMPLES", "-1"), ("MEMORY", "USAGE", "k", "SAMPLES", "x"),
                        ("MEMORY", "USAGE", "k", "FOO"), ("MEMORY", "USAGE", "k", "SAMPLES"), ("MEMORY", "USAGE"),
                        ("MEMORY", "NOPE"), ("MEMORY", "HELP"), ("MEMORY", "PURGE"), ("MEMORY",),
                        ("MEMORY", "USAGE", "nokey")]:
            assert t.call(*command) == r.call(*command), command


def test_memory_stats_and_doctor(servers):
    t, r = both(servers)
    for c in (t, r):
        c.flushall()
        c.set("a", "b")
        c.set("e", "b", ex=100)
    mine, theirs = t.memory_stats(), r.memory_stats()
    assert list(mine.keys()) == list(theirs.keys())
    assert mine["keys.count"] == theirs["keys.count"] == 2
    assert mine["total.allocated"] > 0 and mine["peak.allocated"] >= mine["total.allocated"] * 0.5
    assert set(mine["db.0"].keys()) == set(theirs["db.0"].keys())
    doctor = t.execute_command("MEMORY", "DOCTOR")
    assert doctor.startswith(b"Hi Sam") or doctor.startswith(b"Sam, I detected"), doctor


def run_on_pty(argv, seconds, until=None):
    """Runs an interactive redis-cli mode on a pty (it only prints to a terminal) until its output matches
    `until` (a regex with the number of matches wanted) or `seconds` passed, then stops it by pid."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    out += os.read(master, 65536)
                except OSError:
                    break
                if until and len(re.findall(until[0], out.decode("utf-8", "replace"), re.M)) >= until[1]:
                    break
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        os.close(master)
    return out.decode("utf-8", "replace")


def cli(server, *args):
    return subprocess.run(["redis-cli", "-p", str(server.port), *args], capture_output=True, timeout=60).stdout.decode()


def test_redis_cli_memkeys_and_bigkeys(servers):
    tern, _ = servers
    t = client(tern)
    t.flushall()
    t.set("s1", "x" * 1000)
    t.set("s2", "y")
    t.rpush("l", *range(300))
    t.hset("h", mapping={"f%d" % i: i for i in range(50)})
    t.sadd("st", *range(20))
    t.zadd("z", {"m%d" % i: i for i in range(10)})
    memkeys = cli(tern, "--memkeys")
    assert "Sampled 6 keys in the keyspace!" in memkeys, memkeys
    assert "Biggest string found '\"s1\"' has" in memkeys, memkeys
    assert re.search(r"Biggest   list found '\"l\"' has \d+ bytes", memkeys), memkeys
    assert "2 strings with" in memkeys
    bigkeys = cli(tern, "--bigkeys")
    assert "Biggest string found '\"s1\"' has 1000 bytes" in bigkeys, bigkeys
    assert "Biggest   list found '\"l\"' has 300 items" in bigkeys, bigkeys
    assert "Biggest   hash found '\"h\"' has 50 fields" in bigkeys, bigkeys
    assert "1 zsets with 10 members" in bigkeys, bigkeys


def test_redis_cli_stat_and_latency_history(servers):
    tern, _ = servers
    client(tern).flushall()
    client(tern).set("k", "v")
    row = r"^(\d+)\s+([\d.]+[KMGB]?)\s+(\d+)\s+(\d+)\s+(\d+) \(\+\d+\)"
    stat = run_on_pty(["redis-cli", "-p", str(tern.port), "--stat", "-i", "0.3"], 15, until=(row, 3))
    assert "------- data ------ --------------------- load -------------------- - child -" in stat, stat
    rows = re.findall(row, stat, re.M)
    assert len(rows) >= 2, stat
    assert all(row[0] == "1" for row in rows), rows
    line = r"min: (\d+), max: (\d+), avg: ([\d.]+) \((\d+) samples\) -- 1.00 seconds range"
    history = run_on_pty(["redis-cli", "-p", str(tern.port), "--latency-history", "-i", "1"], 15, until=(line, 1))
    ranges = re.findall(line, history)
    assert len(ranges) >= 1, history[-500:]
    assert all(int(n) > 10 for _, _, _, n in ranges), ranges


# MARK: LATENCY

def test_latency_histogram_structure(servers):
    tern, stock = servers
    for server in servers:
        c = client(server)
        c.config_set("latency-tracking", "yes")
        c.execute_command("CONFIG", "RESETSTAT")
        for i in range(25):
            c.set("k%d" % i, i)
        c.get("k1")
        c.config_get("maxmemory")
    t3, r3 = client(tern, 3), client(stock, 3)
    mine = t3.execute_command("LATENCY", "HISTOGRAM", "set", "get", "config|get", "nosuchcommand")
    theirs = r3.execute_command("LATENCY", "HISTOGRAM", "set", "get", "config|get", "nosuchcommand")
    assert set(mine.keys()) == set(theirs.keys()) == {b"set", b"get", b"config|get"}
    for name, h in mine.items():
        assert set(h.keys()) == {b"calls", b"histogram_usec"}
        assert h[b"calls"] == theirs[name][b"calls"]
        buckets = list(h[b"histogram_usec"].items())
        # Cumulative counts at Redis's power-of-two bucket labels, ending at the number of calls.
        labels = {1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227, 8454, 16908, 33816, 67633}
        assert all(b in labels for b, _ in buckets), buckets
        assert [c for _, c in buckets] == sorted(c for _, c in buckets)
        assert buckets[-1][1] == h[b"calls"]
    everything = t3.execute_command("LATENCY", "HISTOGRAM")
    assert b"set" in everything and b"latency|histogram" in everything
    # A container names all its subcommands that have data.
    assert b"config|get" in t3.execute_command("LATENCY", "HISTOGRAM", "CONFIG")
    info = client(tern).info("latencystats")
    assert set(info["latency_percentiles_usec_set"].keys()) == {"p50", "p99", "p99.9"}
    assert set(client(stock).info("latencystats")["latency_percentiles_usec_set"].keys()) == {"p50", "p99", "p99.9"}


def normalize_numbers(text):
    return re.sub(rb"\d+(\.\d+)?", b"N", text)


def test_latency_doctor_and_graph(servers):
    tern, stock = servers
    with tern.connect() as t, stock.connect() as r:
        for c in (t, r):
            c.call("LATENCY", "RESET")
            c.call("CONFIG", "SET", "latency-monitor-threshold", "0")
        assert t.call("LATENCY", "DOCTOR") == r.call("LATENCY", "DOCTOR")
        for c in (t, r):
            c.call("CONFIG", "SET", "latency-monitor-threshold", "5")
        assert t.call("LATENCY", "DOCTOR") == r.call("LATENCY", "DOCTOR")
        assert t.call("LATENCY", "GRAPH", "command") == r.call("LATENCY", "GRAPH", "command")
        for c in (t, r):
            assert c.call("DEBUG", "SLEEP", "0.03") == ("+", b"OK")
        mine, theirs = t.call("LATENCY", "DOCTOR"), r.call("LATENCY", "DOCTOR")
        assert mine[0] == theirs[0]
        assert normalize_numbers(mine[1]) == normalize_numbers(theirs[1]), (mine, theirs)
        mine, theirs = t.call("LATENCY", "GRAPH", "command"), r.call("LATENCY", "GRAPH", "command")
        assert normalize_numbers(mine[1]) == normalize_numbers(theirs[1]), (mine, theirs)
        assert t.call("LATENCY", "LATEST")[1][0][1][0] == ("$", b"command")
        assert t.call("LATENCY", "HELP") == r.call("LATENCY", "HELP")
        for c in (t, r):
            c.call("CONFIG", "SET", "latency-monitor-threshold", "0")
            c.call("LATENCY", "RESET")


def test_errorstats(servers):
    tern, stock = servers
    for server in servers:
        c = client(server)
        c.execute_command("CONFIG", "RESETSTAT")
        for command in [("NOSUCHCMD",), ("GET",), ("INCR", "s"), ("DEBUG", "ERROR", "MYERR boom")]:
            if command[0] == "INCR":
                c.set("s", "x")
            with pytest.raises(redis.ResponseError):
                c.execute_command(*command)
    mine, theirs = client(tern).info("errorstats"), client(stock).info("errorstats")
    assert mine == theirs, (mine, theirs)


# MARK: INFO

# INFO fields a stock Redis 7.0 has and Tern doesn't, with the reason (compared on `INFO everything`): none
# left. Tern adds tern_version / tern_backend (server), tern_backend and lmdb_* (persistence).
MISSING_FIELDS = set()
# Sections Redis prints that Tern doesn't: none.
MISSING_SECTIONS = set()


def info_fields(text):
    sections, fields, section = {}, set(), None
    for line in text.decode().splitlines():
        if line.startswith("# "):
            section = line[2:].strip()
            sections[section] = []
        elif ":" in line and section:
            name = line.split(":", 1)[0]
            # Per-entity fields (cmdstat_get, errorstat_ERR, db0, latency_percentiles_usec_get) depend on use.
            if re.match(r"(cmdstat_|errorstat_|db\d+|latency_percentiles_usec_|slave\d+)", name):
                continue
            sections[section].append(name)
    return sections


def test_info_everything_sections_and_fields(servers):
    tern, stock = servers
    def info(server, *sections):
        with server.connect() as c:
            return c.call("INFO", *sections)[1]
    mine = info_fields(info(tern, "everything"))
    theirs = info_fields(info(stock, "everything"))
    assert [s for s in theirs if s not in mine] == sorted(MISSING_SECTIONS)
    missing = {f for s in theirs for f in theirs[s] if f not in mine.get(s, [])}
    assert missing <= MISSING_FIELDS, sorted(missing - MISSING_FIELDS)
    # Tern's own additions are all tern_ / lmdb_ fields; the shared ones come in Redis's order.
    extra = {f for s in mine for f in mine[s] if f not in theirs.get(s, [])}
    assert all(f.startswith(("tern_", "lmdb_")) for f in extra), sorted(extra)
    for s in theirs:
        assert [f for f in mine.get(s, []) if f in theirs[s]] == [f for f in theirs[s] if f in mine.get(s, [])], s
    # Counters that move with traffic move on both.
    for server in servers:
        stats = client(server).info("stats")
        assert stats["total_reads_processed"] > 0 and stats["total_writes_processed"] > 0, stats
    # The default set is a subset of everything, in Redis's order.
    default = list(info_fields(info(tern)).keys())
    assert default == [s for s in mine if s not in ("Commandstats", "Latencystats")]


# MARK: READONLY READWRITE LOLWUT

def test_cluster_commands_and_lolwut(servers):
    tern, stock = servers
    with tern.connect() as t, stock.connect() as r:
        for command in [("READONLY",), ("READWRITE",), ("READONLY", "x"), ("LOLWUT",), ("LOLWUT", "VERSION", "x"),
                        ("LOLWUT", "VERSION", "7"), ("LOLWUT", "VERSION", "1"),
                        # Version 5 is random only below the second row of squares: these are deterministic.
                        ("LOLWUT", "VERSION", "5", "1", "1", "1"), ("LOLWUT", "VERSION", "5", "10", "3", "2"),
                        ("LOLWUT", "VERSION", "5", "66", "8", "2"), ("LOLWUT", "VERSION", "5", "0", "0", "0"),
                        ("LOLWUT", "VERSION", "5", "x"), ("LOLWUT", "VERSION", "6", "x")]:
            assert t.call(*command) == r.call(*command), command
        # Version 6 draws random skylines: same frame, size and colours.
        mine, theirs = t.call("LOLWUT", "VERSION", "6", "30", "8"), r.call("LOLWUT", "VERSION", "6", "30", "8")
        assert mine[0] == theirs[0]
        for text in (mine[1], theirs[1]):
            lines = text.split(b"\n")
            assert len(lines) == 8 + 3
            assert all(line.count(b"\x1b[0m") == 30 for line in lines[:8])
            assert set(re.findall(rb"\x1b\[([\d;]+)m ", text)) <= {b"0;30;40", b"0;90;100", b"0;37;47", b"0;97;107"}
        assert mine[1].split(b"\n")[8:] == theirs[1].split(b"\n")[8:]
