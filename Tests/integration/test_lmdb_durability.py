"""The LMDB backend keeps what it acknowledged: across restarts, and across kill -9 while clients write.

These tests start their own tern-server processes on the LMDB backend, with an environment directory that
survives restarts of the process. They run in the LMDB pass of the suite only (the memory pass skips them).
"""

import os
import shutil
import signal
import tempfile
import threading
import time

import pytest
import redis

from conftest import TERN_BACKEND, ServerProcess, tern_argv

pytestmark = pytest.mark.skipif(TERN_BACKEND != "lmdb", reason="LMDB durability: runs in the LMDB pass")

CRASH_ROUNDS = int(os.environ.get("TERN_CRASH_ROUNDS", "4"))
WRITERS = 4


@pytest.fixture
def lmdb_dir():
    d = tempfile.mkdtemp(prefix="tern-durable-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def lmdb_server(path, *extra):
    return ServerProcess(
        "tern-lmdb",
        lambda port: tern_argv(port, extra, "lmdb", path))


def client(server):
    return redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=10)


def test_everything_survives_a_restart(lmdb_dir):
    server = lmdb_server(os.path.join(lmdb_dir, "env")).start()
    try:
        r = client(server)
        r.set("s", "v")
        r.set("n", 41)
        r.incr("n")
        r.set("ttl", "x", ex=1000)
        r.hset("h", mapping={"a": "1", "b": "2"})
        r.sadd("set", "m1", "m2")
        r3 = redis.Redis(host="127.0.0.1", port=server.port, db=3)
        r3.set("in-db-3", "yes")
        big = "k" * 2000
        r.set(big, "long key")
        expires_at = r.pexpiretime("ttl")
        server.restart()
        r = client(server)
        assert r.get("s") == b"v"
        assert r.get("n") == b"42"
        assert r.pexpiretime("ttl") == expires_at, "the absolute expiry time is kept exactly"
        assert 0 < r.pttl("ttl") <= 1000000
        assert r.hgetall("h") == {b"a": b"1", b"b": b"2"}
        assert r.smembers("set") == {b"m1", b"m2"}
        assert r.get(big) == b"long key"
        assert redis.Redis(host="127.0.0.1", port=server.port, db=3).get("in-db-3") == b"yes"
        assert r.dbsize() == 6
        info = r.info("persistence")
        assert info["tern_backend"] == "lmdb" and info["lmdb_sync"] == "always"
    finally:
        server.cleanup()


def _writer(port, prefix, acked, stop):
    """Writes prefix:i = i until the server dies; records every acknowledged i."""
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
    i = 0
    while not stop.is_set():
        try:
            r.set("%s:%d" % (prefix, i), i)
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return
        acked.append(i)
        i += 1


def test_kill_9_loses_no_acknowledged_write(lmdb_dir):
    path = os.path.join(lmdb_dir, "env")
    server = lmdb_server(path, "--lmdb-sync", "always").start()
    all_acked = {}
    try:
        for round_ in range(CRASH_ROUNDS):
            stop = threading.Event()
            acked = {w: [] for w in range(WRITERS)}
            threads = [threading.Thread(target=_writer, args=(server.port, "r%d-w%d" % (round_, w), acked[w], stop))
                       for w in range(WRITERS)]
            for t in threads:
                t.start()
            # Kill once the writers are well under way (a bounded wait on acknowledgements, not a sleep).
            deadline = time.monotonic() + 30
            while sum(len(a) for a in acked.values()) < 100 * (round_ + 1) and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(server.proc.pid, signal.SIGKILL)  # our own process, by pid
            server.proc.wait(timeout=10)
            stop.set()
            for t in threads:
                t.join(timeout=10)
            total = sum(len(a) for a in acked.values())
            print("round %d: %d acknowledged writes before kill -9" % (round_, total))
            assert total > 0, "no write was acknowledged in round %d" % round_
            for w, a in acked.items():
                all_acked["r%d-w%d" % (round_, w)] = a
            server.proc = None
            server.start()
            r = client(server)
            for prefix, values in all_acked.items():
                if not values:
                    continue
                keys = ["%s:%d" % (prefix, i) for i in values]
                got = r.mget(keys)
                missing = [k for k, v in zip(keys, got) if v is None]
                assert not missing, "acknowledged writes lost after kill -9 (round %d): %s" % (round_, missing[:5])
                assert [int(v) for v in got] == values
    finally:
        server.cleanup()


def test_full_store_refuses_writes_but_keeps_data_and_reads(lmdb_dir):
    server = lmdb_server(os.path.join(lmdb_dir, "env"), "--lmdb-map-size", "1mb", "--lmdb-max-size", "2mb").start()
    try:
        r = client(server)
        r.set("keep", "me")
        value = "v" * 4000
        refused = None
        for i in range(2000):
            try:
                r.set("fill:%d" % i, value)
            except redis.ResponseError as e:
                refused = (i, str(e))
                break
        assert refused is not None, "2 MB of map must fill up"
        assert "LMDB storage is full" in refused[1]
        assert r.get("keep") == b"me", "what is stored is not harmed"
        assert r.get("fill:0") == value.encode()
        assert r.dbsize() == refused[0] + 1
        r.delete("fill:0", "fill:1", "fill:2")
        assert r.ping()
        server.restart()
        r = client(server)
        assert r.get("keep") == b"me" and r.dbsize() == refused[0] - 2
    finally:
        server.cleanup()
