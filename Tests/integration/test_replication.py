"""A stock redis-server replicates from Tern (on this pass's backend, TERN_BACKEND): full sync of a mixed dataset, the
command stream afterwards, and a partial resync after the link breaks. Datasets are compared key by key."""

import shutil
import tempfile
import time

import pytest
import redis

from conftest import REDIS_BIN, TERN_BACKEND, ServerProcess, tern_argv

DEADLINE = 30.0
# Full resyncs start at once (Redis's default waits repl-diskless-sync-delay, 5 s, for more replicas).
FAST_SYNC = ["--repl-diskless-sync-delay", "0"]


@pytest.fixture
def master():
    workdir = tempfile.mkdtemp(prefix="tern-repl-")
    server = ServerProcess("tern-master-" + TERN_BACKEND,
                           lambda port: tern_argv(port, FAST_SYNC, lmdb_path=workdir + "/lmdb")).start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def start_replica(master_port):
    return ServerProcess(
        "redis-replica",
        lambda port: [REDIS_BIN, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                      "--replicaof", "127.0.0.1", str(master_port)]).start()


def client(server, db=0):
    return redis.Redis(host="127.0.0.1", port=server.port, db=db, socket_timeout=10, decode_responses=False)


def info(conn, section):
    return conn.info(section)


def wait_in_sync(m, r):
    """Until the replica's link is up and its offset equals the master's (bounded)."""
    deadline = time.monotonic() + DEADLINE
    last = None
    while time.monotonic() < deadline:
        ri = info(r, "replication")
        mi = info(m, "replication")
        last = (ri, mi)
        if ri.get("master_link_status") == "up" and ri.get("slave_repl_offset") == mi["master_repl_offset"] \
                and mi["master_repl_offset"] > 0:
            return mi["master_repl_offset"]
        time.sleep(0.05)
    raise AssertionError("replica not in sync: %r" % (last,))


def write_dataset(c, tag):
    c.set(b"s:" + tag, b"plain")
    c.set(b"ttl:" + tag, b"expiring", ex=500)
    c.set(b"bin:" + tag, bytes(range(256)) * 3)
    c.set(b"int:" + tag, 12345)
    c.incrbyfloat(b"float:" + tag, 1.5)
    c.hset(b"h:" + tag, mapping={b"f1": b"v1", b"f2": b"v2", b"n": 7})
    c.rpush(b"l:" + tag, b"a", b"b", b"c", b"")
    c.sadd(b"set:" + tag, b"x", b"y", b"z", b"1")
    c.zadd(b"z:" + tag, {b"m1": 1.5, b"m2": -3, b"m3": float("inf"), b"m4": 0.1})
    c.hset(b"hx:" + tag, b"f", b"v")
    c.pexpire(b"hx:" + tag, 400000)
    big = {("f%d" % i).encode(): ("v%d" % i).encode() * 10 for i in range(300)}
    c.hset(b"bighash:" + tag, mapping=big)
    c.rpush(b"biglist:" + tag, *[("e%d" % i).encode() for i in range(1000)])
    c.set(b"gone:" + tag, b"x")
    c.delete(b"gone:" + tag)
    p = c.pipeline(transaction=True)
    p.set(b"tx1:" + tag, b"1")
    p.lpush(b"txl:" + tag, b"q")
    p.execute()


def dump_db(c):
    out = {}
    for key in c.scan_iter(count=1000):
        kind = c.type(key)
        if kind == b"string":
            v = c.get(key)
        elif kind == b"list":
            v = c.lrange(key, 0, -1)
        elif kind == b"hash":
            v = c.hgetall(key)
        elif kind == b"set":
            v = sorted(c.smembers(key))
        elif kind == b"zset":
            v = c.zrange(key, 0, -1, withscores=True)
        else:
            v = None
        out[key] = (kind, v, c.pttl(key))
    return out


def assert_same_dump(a, b):
    """Two dump_db results hold the same keys, types, values and TTLs (TTLs within 5 s: they tick)."""
    assert a, "empty dataset"
    assert sorted(a) == sorted(b)
    for key in a:
        ka, va, ta = a[key]
        kb, vb, tb = b[key]
        assert (ka, va) == (kb, vb), key
        if ta < 0:
            assert ta == tb, key
        else:
            assert abs(ta - tb) < 5000, (key, ta, tb)


def assert_same(mc, rc):
    assert_same_dump(dump_db(mc), dump_db(rc))


def test_stock_redis_replica(master):
    m0, m5 = client(master), client(master, 5)
    write_dataset(m0, b"before")
    write_dataset(m5, b"before5")
    replica = start_replica(master.port)
    try:
        r0, r5 = client(replica), client(replica, 5)
        wait_in_sync(m0, r0)
        assert_same(m0, r0)
        assert_same(m5, r5)

        # The stream after the full sync: writes, deletions, expiry changes, several databases.
        write_dataset(m0, b"after")
        write_dataset(m5, b"after5")
        m0.delete(b"s:before")
        m0.persist(b"ttl:before")
        m0.expire(b"s:after", 900)
        m5.flushdb()
        m5.set(b"fresh", b"1")
        wait_in_sync(m0, r0)
        assert_same(m0, r0)
        assert dump_db(r5) == dump_db(m5) and len(dump_db(r5)) == 1

        # WAIT: the replica acknowledges this connection's last write. That WAIT asks with REPLCONF GETACK
        # rather than waiting for the replica's once-a-second ACK is checked on the wire by
        # ReplicationMasterTests (no timing here: a busy machine makes any bound flaky).
        m0.set(b"acked", b"1")
        assert m0.execute_command("WAIT", 1, 20000) == 1
        assert m0.execute_command("WAIT", 2, 200) == 1

        mi = info(m0, "replication")
        assert mi["role"] == "master" and mi["connected_slaves"] == 1
        assert mi["slave0"]["state"] == "online" and mi["slave0"]["port"] == replica.port
        assert mi["repl_backlog_active"] == 1
        stats = info(m0, "stats")
        assert stats["sync_full"] == 1 and stats["sync_partial_ok"] == 0
        role = m0.execute_command("ROLE")
        assert role[0] == b"master" and role[2][0][1] == str(replica.port).encode()

        # A broken link resumes with a partial resync: only the missed writes travel.
        m0.execute_command("CLIENT", "KILL", "TYPE", "replica")
        m0.set(b"while-down", b"1")
        m0.hset(b"h:after", b"f3", b"v3")
        wait_in_sync(m0, r0)
        assert_same(m0, r0)
        stats = info(m0, "stats")
        assert stats["sync_partial_ok"] == 1 and stats["sync_full"] == 1
    finally:
        replica.stop()
