"""Client-side caching over real connections: CLIENT TRACKING and its options, RESP3 invalidation pushes, the
RESP2 `__redis__:invalidate` redirect, CLIENT CACHING / GETREDIR / TRACKINGINFO, invalidation on every write
path (commands, lazy and active expiry, eviction, FLUSHALL/FLUSHDB, a replica's stream, plugin writes),
tracking-table-max-keys, the broken-redirect push, the INFO fields and the CLIENT LIST flags; CLIENT REPLY.

Where replies are deterministic (errors, TRACKINGINFO, push bytes) the same steps run on a stock redis-server and
the replies must be identical. Runs on this run's backend (TERN_BACKEND)."""

import socket
import time

import pytest

from conftest import ServerProcess, backend_args, tern_argv
from respwire import RawConnection, value

WAIT = 5.0  # bound for an expected message; every wait ends when it arrives


def next_push(conn, timeout=WAIT):
    """The next reply (a push or a pub/sub message) arriving on `conn` within `timeout`, else None."""
    conn.sock.settimeout(timeout)
    try:
        return conn.read_reply()
    except socket.timeout:
        return None
    finally:
        conn.sock.settimeout(10)


def nothing_pending(conn):
    """True when nothing more arrives after a PING round trip (an invalidation would come before the PONG)."""
    reply = conn.call("PING")
    return reply in (("+", b"PONG"),)


def invalidate(*keys):
    return (">", [("$", b"invalidate"), ("*", [("$", k.encode()) for k in keys])])


def info_field(conn, section, name):
    text = value(conn.call("INFO", section)).decode()
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    raise KeyError(name)


def client_field(line, name):
    for part in line.split():
        if part.startswith(name + "="):
            return part.split("=", 1)[1]
    raise KeyError(name)


# -- option errors and TRACKINGINFO, compared with a stock Redis

ERROR_CASES = [
    [("CLIENT", "TRACKING", "ON", "PREFIX", "a")],
    [("CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT")],
    [("CLIENT", "TRACKING", "ON", "BCAST", "OPTIN")],
    [("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "a")],
    [("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a", "PREFIX", "b"), ("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "bc")],
    [("CLIENT", "TRACKING", "ON"), ("CLIENT", "TRACKING", "ON", "BCAST")],
    [("CLIENT", "TRACKING", "ON", "BCAST"), ("CLIENT", "TRACKING", "ON")],
    [("CLIENT", "TRACKING", "ON", "OPTIN"), ("CLIENT", "TRACKING", "ON", "OPTOUT")],
    [("CLIENT", "TRACKING", "ON", "REDIRECT", "999999")],
    [("CLIENT", "TRACKING", "ON", "REDIRECT", "0")],
    [("CLIENT", "TRACKING", "ON", "REDIRECT", "x")],
    [("CLIENT", "TRACKING", "ON", "NOSUCH")],
    [("CLIENT", "TRACKING", "MAYBE")],
    [("CLIENT", "TRACKING", "ON", "REDIRECT")],
    [("CLIENT", "TRACKING")],
    [("CLIENT", "CACHING", "YES")],
    [("CLIENT", "TRACKING", "ON"), ("CLIENT", "CACHING", "YES")],
    [("CLIENT", "TRACKING", "ON", "OPTIN"), ("CLIENT", "CACHING", "NO")],
    [("CLIENT", "TRACKING", "ON", "OPTOUT"), ("CLIENT", "CACHING", "YES")],
    [("CLIENT", "TRACKING", "ON", "OPTIN"), ("CLIENT", "CACHING", "MAYBE")],
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=[" / ".join(" ".join(c[2:]) for c in case) for case in ERROR_CASES])
def test_tracking_errors_as_redis(pair, case):
    for step in case:
        pair.cmd(*step)


INFO_CASES = [
    [],
    [("CLIENT", "TRACKING", "ON")],
    [("CLIENT", "TRACKING", "ON", "OPTIN")],
    [("CLIENT", "TRACKING", "ON", "OPTIN"), ("CLIENT", "CACHING", "YES")],
    [("CLIENT", "TRACKING", "ON", "OPTOUT", "NOLOOP"), ("CLIENT", "CACHING", "NO")],
    [("CLIENT", "TRACKING", "ON", "BCAST")],
    [("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "acct:", "NOLOOP")],
    [("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "b"), ("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a")],
    [("CLIENT", "TRACKING", "ON", "OPTIN"), ("CLIENT", "TRACKING", "OFF")],
]


@pytest.mark.parametrize("case", INFO_CASES, ids=[str(i) for i in range(len(INFO_CASES))])
def test_trackinginfo_and_getredir_as_redis(pair, case):
    for step in case:
        pair.cmd(*step)
    pair.cmd("CLIENT", "TRACKINGINFO")
    pair.cmd("CLIENT", "GETREDIR")


def test_caching_yes_lasts_one_command(pair):
    pair.cmd("CLIENT", "TRACKING", "ON", "OPTIN")
    pair.cmd("CLIENT", "CACHING", "YES")
    pair.cmd("CLIENT", "TRACKINGINFO")  # a CLIENT command keeps it
    pair.cmd("GET", "x")
    pair.cmd("CLIENT", "TRACKINGINFO")  # gone after the GET


def test_redirect_to_another_client_as_redis(pair):
    other = pair.connect(protocol=2)
    tid = value(other.t.call("CLIENT", "ID"))
    rid = value(other.r.call("CLIENT", "ID"))
    t = pair.t.call("CLIENT", "TRACKING", "ON", "REDIRECT", str(tid))
    r = pair.r.call("CLIENT", "TRACKING", "ON", "REDIRECT", str(rid))
    assert t == r == ("+", b"OK")
    assert value(pair.t.call("CLIENT", "GETREDIR")) == tid
    assert value(pair.r.call("CLIENT", "GETREDIR")) == rid
    t = pair.t.call("CLIENT", "TRACKING", "ON", "REDIRECT", str(tid), "REDIRECT", str(tid))
    r = pair.r.call("CLIENT", "TRACKING", "ON", "REDIRECT", str(rid), "REDIRECT", str(rid))
    assert t == r and t[0] == "-"


# -- pushes over real connections, compared byte for byte with a stock Redis

def both_conns(pair, protocol):
    return [pair.tern_server.connect(protocol=protocol), pair.redis_server.connect(protocol=protocol)]


def run_both(pair, scenario):
    """Runs scenario(server) on Tern and on Redis; the recorded lists must be equal."""
    results = []
    for server in (pair.tern_server, pair.redis_server):
        results.append(scenario(server))
    assert results[0] == results[1], "tern: %r\nredis: %r" % tuple(results)
    return results[0]


def test_resp3_invalidation_push_from_another_client(pair2):
    def scenario(server):
        with server.connect(protocol=3) as tracked, server.connect() as writer:
            writer.call("DEL", "k")
            seen = [tracked.call("CLIENT", "TRACKING", "ON"), tracked.call("GET", "k")]
            writer.call("SET", "k", "1")
            seen.append(next_push(tracked))
            # Invalidated once: a second write sends nothing until the key is read again.
            writer.call("SET", "k", "2")
            seen.append(tracked.call("PING"))
            tracked.call("GET", "k")
            writer.call("DEL", "k")
            seen.append(next_push(tracked))
            return seen
    seen = run_both(pair2, scenario)
    assert seen[2] == invalidate("k")


def test_own_write_invalidation_follows_the_reply_and_noloop(pair2):
    def scenario(server):
        with server.connect(protocol=3) as c:
            c.call("DEL", "a", "b")
            seen = [c.call("CLIENT", "TRACKING", "ON"), c.call("MGET", "a", "b")]
            c.send("MSET", "a", "1", "b", "2")
            seen += [c.read_reply(), c.read_reply(), c.read_reply()]
            c.call("CLIENT", "TRACKING", "ON", "NOLOOP")
            c.call("GET", "a")
            seen.append(c.call("SET", "a", "3"))
            seen.append(c.call("PING"))  # nothing came for its own write
            return seen
    seen = run_both(pair2, scenario)
    assert seen[3:5] == [invalidate("a"), invalidate("b")]


def test_resp2_redirect_to_invalidate_channel(pair2):
    def scenario(server):
        with server.connect() as tracked, server.connect() as sink, server.connect() as writer:
            writer.call("DEL", "k")
            sink_id = value(sink.call("CLIENT", "ID"))
            seen = [sink.call("SUBSCRIBE", "__redis__:invalidate")]
            seen.append(tracked.call("CLIENT", "TRACKING", "ON", "REDIRECT", str(sink_id)))
            tracked.call("GET", "k")
            writer.call("SET", "k", "v")
            seen.append(next_push(sink))
            tracked.call("GET", "k")
            writer.call("FLUSHDB")
            seen.append(next_push(sink))
            return seen
    seen = run_both(pair2, scenario)
    assert seen[2] == ("*", [("$", b"message"), ("$", b"__redis__:invalidate"), ("*", [("$", b"k")])])
    assert seen[3] == ("*", [("$", b"message"), ("$", b"__redis__:invalidate"), ("$", None)])


def test_resp2_without_redirect_gets_nothing(tern):
    with tern.connect() as tracked, tern.connect() as writer:
        assert tracked.call("CLIENT", "TRACKING", "ON") == ("+", b"OK")
        tracked.call("GET", "quiet")
        writer.call("SET", "quiet", "1")
        assert tracked.call("PING") == ("+", b"PONG")


def test_flush_sends_null_once(pair2):
    def scenario(server):
        with server.connect(protocol=3) as tracked, server.connect() as writer:
            tracked.call("CLIENT", "TRACKING", "ON")
            tracked.call("GET", "k")
            writer.call("SELECT", "3")
            writer.call("SET", "other-db", "1")
            seen = [writer.call("FLUSHALL"), next_push(tracked), tracked.call("PING")]
            # The tracking client's own FLUSHDB: the reply, then the null.
            tracked.send("FLUSHDB")
            seen += [tracked.read_reply(), tracked.read_reply()]
            seen.append(writer.call("SWAPDB", "0", "1"))
            seen.append(tracked.call("PING"))  # SWAPDB invalidates nothing in Redis 7.0
            return seen
    seen = run_both(pair2, scenario)
    assert seen[1] == (">", [("$", b"invalidate"), ("_", None)])


def test_bcast_prefixes_and_noloop(pair2):
    def scenario(server):
        with server.connect(protocol=3) as b, server.connect(protocol=3) as nl, server.connect() as writer:
            seen = [b.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "acct:")]
            seen.append(nl.call("CLIENT", "TRACKING", "ON", "BCAST", "NOLOOP"))
            writer.call("MSET", "user:1", "a", "acct:9", "b", "other", "c")
            seen.append(next_push(b))
            seen.append(next_push(b))
            seen.append(next_push(nl))  # no prefix: every key, in one message
            nl.call("SET", "mine", "1")  # its own write: NOLOOP hides it
            writer.call("SET", "user:2", "x")
            seen.append(next_push(b))
            seen.append(next_push(nl))
            return seen
    seen = run_both(pair2, scenario)
    assert seen[2:4] == [invalidate("acct:9"), invalidate("user:1")]
    assert seen[4] == invalidate("acct:9", "other", "user:1")


def test_optin_and_optout(pair2):
    def scenario(server):
        with server.connect(protocol=3) as oi, server.connect(protocol=3) as oo, server.connect() as w:
            w.call("MSET", "i1", "1", "i2", "2", "o1", "1", "o2", "2")
            oi.call("CLIENT", "TRACKING", "ON", "OPTIN")
            oi.call("GET", "i1")  # not tracked
            oi.call("CLIENT", "CACHING", "YES")
            oi.call("GET", "i2")  # tracked
            oo.call("CLIENT", "TRACKING", "ON", "OPTOUT")
            oo.call("GET", "o1")  # tracked
            oo.call("CLIENT", "CACHING", "NO")
            oo.call("GET", "o2")  # not tracked
            w.call("MSET", "i1", "x", "i2", "x", "o1", "x", "o2", "x")
            seen = [next_push(oi), oi.call("PING"), next_push(oo), oo.call("PING")]
            # In a transaction, CACHING YES covers every command up to EXEC.
            oi.call("CLIENT", "CACHING", "YES")
            oi.call("MULTI")
            oi.call("GET", "i1")
            oi.call("GET", "o2")
            seen.append(oi.call("EXEC"))
            w.call("MSET", "i1", "y", "o2", "y")
            seen += [next_push(oi), next_push(oi)]
            return seen
    seen = run_both(pair2, scenario)
    assert seen[0] == invalidate("i2") and seen[2] == invalidate("o1")


def test_broken_redirect(pair2):
    def scenario(server):
        with server.connect(protocol=3) as tracked, server.connect() as writer:
            sink = server.connect()
            sink_id = value(sink.call("CLIENT", "ID"))
            tracked.call("CLIENT", "TRACKING", "ON", "REDIRECT", str(sink_id))
            tracked.call("GET", "k")
            sink.close()
            # Bounded wait for the server to notice the closed connection.
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                if b"id=%d " % sink_id not in value(writer.call("CLIENT", "LIST")):
                    break
                time.sleep(0.02)
            writer.call("SET", "k", "1")
            push = next_push(tracked)
            info = value(tracked.call("CLIENT", "TRACKINGINFO"))
            # The ids differ between the servers: compare the redirect with this server's own.
            info = [(k, "sink" if v == sink_id else v) for k, v in info]
            flags = client_field(value(tracked.call("CLIENT", "INFO")).decode(), "flags")
            return [push == (">", [("$", b"tracking-redir-broken"), (":", sink_id)]), info, flags]
    seen = run_both(pair2, scenario)
    assert seen[0] is True
    assert seen[2] == "tR"


# -- write paths (Tern only: these need no oracle, the invalidation must arrive)

def tracked_pair(server, key):
    tracked = server.connect(protocol=3)
    assert tracked.call("CLIENT", "TRACKING", "ON") == ("+", b"OK")
    tracked.call("GET", key)
    return tracked


def test_active_expiry_invalidates(tern):
    with tern.connect() as w:
        w.call("SET", "exp:a", "1", "PX", "30")
        with tracked_pair(tern, "exp:a") as tracked:
            assert next_push(tracked) == invalidate("exp:a")


def test_lazy_expiry_invalidates(tern):
    with tern.connect() as w:
        assert w.call("DEBUG", "SET-ACTIVE-EXPIRE", "0") == ("+", b"OK")
        try:
            w.call("SET", "exp:b", "1", "PX", "30")
            with tracked_pair(tern, "exp:b") as tracked:
                deadline = time.monotonic() + WAIT
                while value(w.call("PTTL", "exp:b")) != -2 and time.monotonic() < deadline:
                    time.sleep(0.01)
                # The PTTL that found it expired deleted it: the tracking client hears of it.
                assert next_push(tracked) == invalidate("exp:b")
        finally:
            w.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_eviction_invalidates(tern_proc):
    with tern_proc.connect() as w:
        w.call("SET", "ev:k", "x" * 1000)
        with tracked_pair(tern_proc, "ev:k") as tracked:
            w.call("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
            w.call("CONFIG", "SET", "maxmemory", "1")
            w.call("GET", "anything")
            assert next_push(tracked) == invalidate("ev:k")
            w.call("CONFIG", "SET", "maxmemory", "0")
            assert value(w.call("INFO", "stats")).count(b"evicted_keys:0") == 0


def test_write_commands_of_every_kind_invalidate(tern):
    writes = [
        ("SET", "w", "1"), ("APPEND", "w", "x"), ("INCR", "n"), ("EXPIRE", "w", "100"), ("PERSIST", "w"),
        ("RPUSH", "l", "a"), ("LPOP", "l"), ("HSET", "h", "f", "v"), ("SADD", "s", "m"), ("ZADD", "z", "1", "m"),
        ("RENAME", "w", "w2"), ("DEL", "w2"),
    ]
    with tern.connect() as w, tern.connect(protocol=3) as tracked:
        w.call("SET", "w", "0")
        w.call("SET", "n", "0")
        tracked.call("CLIENT", "TRACKING", "ON")
        for cmd in writes:
            key = cmd[1]
            tracked.call("EXISTS", key)
            w.call(*cmd)
            assert next_push(tracked) == invalidate(key), cmd


def test_replica_stream_invalidates(tern):
    replica = ServerProcess("tern-replica", lambda port: tern_argv(port, ["--replicaof", "127.0.0.1", str(tern.port)]))
    replica.start()
    try:
        with tern.connect() as m, replica.connect(protocol=3) as tracked:
            m.call("SET", "rk", "1")
            deadline = time.monotonic() + 20
            while value(tracked.call("GET", "rk")) != b"1":
                assert time.monotonic() < deadline, "replica never synced"
                time.sleep(0.05)
            tracked.call("CLIENT", "TRACKING", "ON")
            tracked.call("GET", "rk")
            m.call("SET", "rk", "2")
            assert next_push(tracked) == invalidate("rk")
            tracked.call("GET", "rk")
            m.call("FLUSHALL")
            assert next_push(tracked) == (">", [("$", b"invalidate"), ("_", None)])
    finally:
        replica.cleanup()


def test_plugin_write_invalidates():
    server = ServerProcess("tern-plugin", lambda port: tern_argv(port, ["--loadplugin", "ratelimit"])).start()
    try:
        with server.connect() as w, tracked_pair(server, "rl") as tracked:
            reply = w.call("RATELIMIT.THROTTLE", "rl", "10", "10", "60")
            assert reply[0] == "*", reply
            assert next_push(tracked) == invalidate("rl")
    finally:
        server.cleanup()


def test_tracking_table_max_keys_and_info(tern_proc):
    with tern_proc.connect(protocol=3) as tracked, tern_proc.connect() as w:
        assert tracked.call("CLIENT", "TRACKING", "ON") == ("+", b"OK")
        keys = ["mk%d" % i for i in range(6)]
        for k in keys:
            tracked.call("GET", k)
        assert info_field(w, "stats", "tracking_total_keys") == "6"
        assert info_field(w, "stats", "tracking_total_items") == "6"
        assert info_field(w, "clients", "tracking_clients") == "1"
        assert w.call("CONFIG", "SET", "tracking-table-max-keys", "2") == ("+", b"OK")
        assert value(w.call("CONFIG", "GET", "tracking-table-max-keys")) == [b"tracking-table-max-keys", b"2"]
        w.call("PING")  # the limit is enforced before each command
        evicted = set()
        for _ in range(4):
            push = next_push(tracked)
            assert push is not None and push[1][0] == ("$", b"invalidate")
            evicted.update(k[1].decode() for k in push[1][1][1])
        assert len(evicted) == 4 and evicted <= set(keys)
        assert info_field(w, "stats", "tracking_total_keys") == "2"
        with tern_proc.connect(protocol=3) as b:
            b.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "x", "PREFIX", "y")
            assert info_field(w, "stats", "tracking_total_prefixes") == "2"
            assert info_field(w, "clients", "tracking_clients") == "2"
            flags = client_field(value(b.call("CLIENT", "INFO")).decode(), "flags")
            assert flags == "tB"
        tracked.call("CLIENT", "TRACKING", "OFF")
        deadline = time.monotonic() + WAIT
        while info_field(w, "clients", "tracking_clients") != "0":
            assert time.monotonic() < deadline
            time.sleep(0.02)


def test_client_list_tracking_fields(pair2):
    for conn in (pair2.t, pair2.r):
        line = value(conn.call("CLIENT", "INFO")).decode()
        assert client_field(line, "redir") == "-1"
        assert client_field(line, "flags") == "N"
        conn.call("CLIENT", "TRACKING", "ON")
        line = value(conn.call("CLIENT", "INFO")).decode()
        assert client_field(line, "redir") == "0"
        assert client_field(line, "flags") == "t"
    # The same fields, in the same order, as Redis 7.0.
    names = [[p.split("=", 1)[0] for p in value(c.call("CLIENT", "INFO")).decode().split()] for c in (pair2.t, pair2.r)]
    assert names[0] == names[1]
    # The query buffer holds the running command, as Redis's does; events and the output list agree too.
    lines = [value(c.call("CLIENT", "INFO")).decode() for c in (pair2.t, pair2.r)]
    for name in ("qbuf", "multi", "events", "oll", "omem", "cmd", "user", "db"):
        assert client_field(lines[0], name) == client_field(lines[1], name), name
    assert int(client_field(lines[0], "qbuf-free")) > 0


# -- CLIENT REPLY

def test_client_reply_as_redis(pair2):
    def scenario(server):
        with server.connect() as c:
            c.send("CLIENT", "REPLY", "OFF")
            c.send("SET", "r", "1")
            c.send("CLIENT", "REPLY", "SKIP")  # ignored while OFF
            c.send("GET", "r")
            seen = [c.call("CLIENT", "REPLY", "ON")]
            c.send("CLIENT", "REPLY", "SKIP")
            c.send("GET", "r")
            seen.append(c.call("INCR", "r"))
            seen.append(c.call("CLIENT", "REPLY", "MAYBE"))
            return seen
    assert run_both(pair2, scenario) == [("+", b"OK"), (":", 2), ("-", b"ERR syntax error")]
