"""FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] with Redis 6.2+ semantics: writes paused while the
master waits for its replica's offset, PSYNC ... FAILOVER to the target, the old master following it; between
Tern nodes, with a stock Redis replica of Tern, and with Tern as the replica of a stock Redis master. Error
replies are compared with a stock redis-server. Runs on this run's backend (TERN_BACKEND)."""

import os
import signal
import socket
import time

import pytest

from conftest import REDIS_BIN, TERN_BIN, ServerProcess, backend_args, tern_argv
from respwire import RawConnection, value

DEADLINE = 20.0


def node(kind, master_port=None):
    extra = ["--replicaof", "127.0.0.1", str(master_port)] if master_port else []
    if kind == "tern":
        return ServerProcess("tern", lambda port: tern_argv(port, ["--repl-diskless-sync-delay", "0", *extra])).start()
    return ServerProcess("redis", lambda port: ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                                "--appendonly", "no", "--repl-diskless-sync-delay", "0", *extra],
                         executable=REDIS_BIN).start()


def info(port):
    with RawConnection(port) as c:
        text = value(c.call("INFO", "replication")).decode()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def wait_until(predicate, what, timeout=DEADLINE):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def in_sync(master, replica):
    def check():
        m, r = info(master.port), info(replica.port)
        return r.get("master_link_status") == "up" and r.get("slave_repl_offset") == m["master_repl_offset"]
    wait_until(check, "replica in sync")


def master_and_replica(nodes, master_kind, replica_kind):
    """A master and its replica, started and tracked for clean-up."""
    master = node(master_kind)
    nodes.append(master)
    replica = node(replica_kind, master.port)
    nodes.append(replica)
    return master, replica


@pytest.fixture
def nodes():
    started = []
    yield started
    for n in started:
        if n.proc is not None:
            try:
                os.kill(n.proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        n.cleanup()


# -- errors, compared with a stock Redis

ALONE = [
    ("FAILOVER",),
    ("FAILOVER", "ABORT"),
    ("FAILOVER", "TIMEOUT", "0"),
    ("FAILOVER", "TIMEOUT", "-5"),
    ("FAILOVER", "TIMEOUT", "x"),
    ("FAILOVER", "TO", "127.0.0.1", "notaport"),
    ("FAILOVER", "TO", "127.0.0.1"),
    ("FAILOVER", "FORCE", "FORCE"),
    ("FAILOVER", "BOGUS"),
    ("FAILOVER", "ABORT", "TIMEOUT", "10"),
    ("FAILOVER", "TIMEOUT", "10", "TIMEOUT", "20"),
]


@pytest.mark.parametrize("args", ALONE, ids=[" ".join(a) for a in ALONE])
def test_errors_without_replicas_as_redis(pair2, args):
    pair2.cmd(*args)


@pytest.mark.parametrize("kind", ["tern", "redis"])
def test_errors_with_a_replica(nodes, kind):
    master, replica = master_and_replica(nodes, kind, kind)
    in_sync(master, replica)
    with RawConnection(master.port) as m, RawConnection(replica.port) as r:
        assert r.call("FAILOVER") == ("-", b"ERR FAILOVER is not valid when server is a replica.")
        assert m.call("FAILOVER", "TO", "127.0.0.1", "1") == ("-", b"ERR FAILOVER target HOST and PORT is not a replica.")
        assert m.call("FAILOVER", "TO", "127.0.0.1", str(replica.port), "FORCE") == \
            ("-", b"ERR FAILOVER with force option requires both a timeout and target HOST and IP.")
        assert m.call("FAILOVER", "FORCE", "TIMEOUT", "100") == \
            ("-", b"ERR FAILOVER with force option requires both a timeout and target HOST and IP.")
        assert info(master.port)["master_failover_state"] == "no-failover"


# -- the switch

@pytest.mark.parametrize("kinds", [("tern", "tern"), ("tern", "redis"), ("redis", "tern")],
                         ids=["tern-to-tern", "tern-to-stock-replica", "stock-to-tern-replica"])
def test_failover_switches_roles(nodes, kinds):
    master, replica = master_and_replica(nodes, *kinds)
    with RawConnection(master.port) as m:
        for i in range(100):
            m.call("SET", "k%d" % i, "v%d" % i)
        m.call("RPUSH", "list", "a", "b", "c")
    in_sync(master, replica)
    with RawConnection(master.port) as m:
        reply = m.call("FAILOVER", "TO", "127.0.0.1", str(replica.port), "TIMEOUT", "10000")
        assert reply == ("+", b"OK"), reply
        wait_until(lambda: info(replica.port)["role"] == "master", "the replica promoted")
        wait_until(lambda: info(master.port).get("master_port") == str(replica.port)
                   and info(master.port).get("master_link_status") == "up", "the old master following")
        wait_until(lambda: info(master.port)["master_failover_state"] == "no-failover", "failover state cleared")
        # The old master kept its history: a partial resync, no full one.
        assert value(m.call("GET", "k99")) == b"v99"
        assert value(m.call("SET", "x", "1"))[:8] == b"READONLY"
    with RawConnection(replica.port) as r:
        assert r.call("SET", "after", "failover") == ("+", b"OK")
    with RawConnection(master.port) as m:
        wait_until(lambda: value(m.call("GET", "after")) == b"failover", "new writes reaching the old master")
        assert value(m.call("LRANGE", "list", "0", "-1")) == [b"a", b"b", b"c"]


@pytest.mark.parametrize("kind", ["tern", "redis"])
def test_failover_to_any_replica(nodes, kind):
    master, replica = master_and_replica(nodes, kind, kind)
    with RawConnection(master.port) as m:
        m.call("SET", "a", "1")
    in_sync(master, replica)
    with RawConnection(master.port) as m:
        assert m.call("FAILOVER") == ("+", b"OK")
    wait_until(lambda: info(replica.port)["role"] == "master", "the replica promoted")
    wait_until(lambda: info(master.port).get("master_link_status") == "up", "the old master following")


def blocked_write(port):
    """A connection whose SET was sent; the reply is read later."""
    c = RawConnection(port)
    c.send("SET", "paused", "1")
    return c


def no_reply_yet(conn):
    conn.sock.settimeout(0.3)
    try:
        conn.read_reply()
        return False
    except socket.timeout:
        return True
    finally:
        conn.sock.settimeout(10)


@pytest.mark.parametrize("kind", ["tern", "redis"])
def test_writes_wait_and_abort(nodes, kind):
    master, replica = master_and_replica(nodes, kind, kind)
    in_sync(master, replica)
    os.kill(replica.proc.pid, signal.SIGSTOP)
    with RawConnection(master.port) as m:
        m.call("SET", "moves", "the-offset")  # the stopped replica can't acknowledge this
        assert m.call("FAILOVER") == ("+", b"OK")
        assert info(master.port)["master_failover_state"] == "waiting-for-sync"
        assert m.call("FAILOVER") == ("-", b"ERR FAILOVER already in progress.")
        writer = blocked_write(master.port)
        assert no_reply_yet(writer)
        assert value(m.call("GET", "moves")) == b"the-offset"  # reads go on
        assert m.call("FAILOVER", "ABORT") == ("+", b"OK")
        assert writer.read_reply() == ("+", b"OK")
        writer.close()
        assert info(master.port)["master_failover_state"] == "no-failover"
        assert m.call("FAILOVER", "ABORT") == ("-", b"ERR No failover in progress.")
        # A timeout ends the wait the same way.
        m.call("SET", "moves", "again")
        assert m.call("FAILOVER", "TIMEOUT", "300") == ("+", b"OK")
        wait_until(lambda: info(master.port)["master_failover_state"] == "no-failover", "the timeout aborting")
        assert info(master.port)["role"] == "master"
        assert m.call("SET", "still", "master") == ("+", b"OK")
    os.kill(replica.proc.pid, signal.SIGCONT)


@pytest.mark.parametrize("kind", ["tern", "redis"])
def test_replicaof_at_run_time_reaches_config_get_and_rewrite(nodes, kind, tmp_path):
    """What Sentinel relies on: SLAVEOF / REPLICAOF NO ONE followed by CONFIG REWRITE survive a restart."""
    master = node(kind)
    nodes.append(master)
    conf = tmp_path / "replica.conf"

    def argv(port):
        conf.write_text("port %d\nbind 127.0.0.1\nreplicaof 127.0.0.1 %d\n" % (port, master.port))
        return [TERN_BIN, str(conf), *backend_args()] if kind == "tern" else ["redis-server", str(conf)]
    replica = ServerProcess(kind, argv, executable=None if kind == "tern" else REDIS_BIN).start()
    nodes.append(replica)
    with RawConnection(replica.port) as r:
        assert value(r.call("CONFIG", "GET", "replicaof")) == [b"replicaof", b"127.0.0.1 %d" % master.port]
        assert r.call("REPLICAOF", "NO", "ONE") == ("+", b"OK")
        assert value(r.call("CONFIG", "GET", "replicaof")) == [b"replicaof", b""]
        assert r.call("CONFIG", "REWRITE") == ("+", b"OK")
        assert "replicaof" not in conf.read_text()
        assert r.call("REPLICAOF", "127.0.0.1", str(master.port)) == ("+", b"OK")
        assert r.call("CONFIG", "REWRITE") == ("+", b"OK")
        assert "replicaof 127.0.0.1 %d" % master.port in conf.read_text()

