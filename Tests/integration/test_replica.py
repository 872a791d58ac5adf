"""A Tern server replicates from a Tern master (master on this pass's backend, replica on each backend) and
from a stock redis-server master (plain encodings here; the default compact ones in test_replica_stock_master.py):
REPLICAOF, full sync, the command stream, -READONLY, INFO replication / ROLE on the replica, and
REPLICAOF NO ONE. The Tern replicas run on this pass's backend (TERN_BACKEND) unless a test says otherwise.
Datasets are compared key by key, bounded waits."""

import shutil
import tempfile
import time

import pytest
import redis

from conftest import OTHER_BACKEND, REDIS_BIN, TERN_BACKEND, ServerProcess, tern_argv
from test_replication import FAST_SYNC, assert_same, client, dump_db, info, wait_in_sync, write_dataset


def tern(name, backend, workdir, *extra):
    path = workdir + "/lmdb-" + name
    return ServerProcess(name, lambda port: tern_argv(port, FAST_SYNC + list(extra), backend, path)).start()


def wait_for(predicate, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="tern-replica-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("backend", ["memory", "lmdb"])
def test_tern_replica_of_tern_master(backend, workdir):
    master = tern("tern-master", TERN_BACKEND, workdir)
    replica = tern("tern-replica-" + backend, backend, workdir)
    try:
        m0, m5 = client(master), client(master, 5)
        r0, r5 = client(replica), client(replica, 5)
        write_dataset(m0, b"before")
        write_dataset(m5, b"before5")
        # Data the replica had before is replaced by the snapshot.
        r0.set(b"stale-local", b"1")
        assert r0.execute_command("ROLE") == [b"master", 0, []]
        assert r0.execute_command("REPLICAOF", "127.0.0.1", str(master.port)) == b"OK"
        assert r0.execute_command("REPLICAOF", "127.0.0.1", str(master.port)) == b"OK Already connected to specified master"
        wait_in_sync(m0, r0)
        assert_same(m0, r0)
        assert_same(m5, r5)
        assert r0.get(b"stale-local") is None

        # The stream after the full sync.
        write_dataset(m0, b"after")
        write_dataset(m5, b"after5")
        m0.delete(b"s:before")
        m0.persist(b"ttl:before")
        m0.expire(b"s:after", 900)
        m5.flushdb()
        m5.set(b"fresh", b"1")
        offset = wait_in_sync(m0, r0)
        assert_same(m0, r0)
        assert dump_db(r5) == dump_db(m5) and len(dump_db(r5)) == 1

        # WAIT is answered through REPLCONF GETACK by the Tern replica.
        m0.set(b"acked", b"1")
        assert m0.execute_command("WAIT", 1, 5000) == 1

        ri = info(r0, "replication")
        assert ri["role"] == "slave"
        assert ri["master_host"] == "127.0.0.1" and ri["master_port"] == master.port
        assert ri["master_link_status"] == "up" and ri["master_sync_in_progress"] == 0
        assert ri["slave_repl_offset"] >= offset
        role = r0.execute_command("ROLE")
        assert role[:4] == [b"slave", b"127.0.0.1", master.port, b"connected"] and role[4] >= offset
        mi = info(m0, "replication")
        assert mi["connected_slaves"] == 1 and mi["slave0"]["port"] == replica.port

        # Ordinary clients can't write to a read-only replica; reads work.
        with pytest.raises(redis.exceptions.ReadOnlyError) as e:
            r0.set(b"nope", b"1")
        assert str(e.value) == "You can't write against a read only replica."
        assert r0.get(b"s:after") == b"plain"

        # Promotion: the data stays, writes are accepted, the master's later writes no longer arrive.
        assert r0.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
        assert info(r0, "replication")["role"] == "master"
        assert r0.set(b"now-master", b"1")
        # The master sees the link close (the event), so a write after it has no way to the old replica.
        wait_for(lambda: info(m0, "replication")["connected_slaves"] == 0, "the master to drop the promoted replica")
        m0.set(b"after-promotion", b"1")
        assert r0.get(b"after-promotion") is None
        assert r0.get(b"s:after") == b"plain"
        assert r0.execute_command("ROLE")[0] == b"master"
    finally:
        replica.stop()
        master.stop()


def test_link_down_then_reconnects(workdir):
    master = tern("tern-master", OTHER_BACKEND, workdir)
    replica = tern("tern-replica", TERN_BACKEND, workdir)
    try:
        m0, r0 = client(master), client(replica)
        m0.set(b"k", b"v")
        r0.execute_command("SLAVEOF", "127.0.0.1", str(master.port))
        wait_in_sync(m0, r0)
        m0.execute_command("CLIENT", "KILL", "TYPE", "replica")
        m0.set(b"k2", b"v2")
        wait_in_sync(m0, r0)
        assert r0.get(b"k2") == b"v2"
    finally:
        replica.stop()
        master.stop()


def test_tern_replica_of_stock_redis_master(workdir):
    """A stock Redis 7.0 master configured so its RDB holds only plain encodings (no lists: Redis 7.0 always
    writes them as quicklists), both the disk-based and the diskless ($EOF:) transfer."""
    for diskless in ("no", "yes"):
        master = ServerProcess("redis-master", lambda port: [
            REDIS_BIN, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0",
            "--hash-max-listpack-entries", "0", "--zset-max-listpack-entries", "0",
            "--set-max-intset-entries", "0"]).start()
        replica = tern("tern-replica", TERN_BACKEND, workdir)
        try:
            m0, r0 = client(master), client(replica)
            m0.set(b"s", b"plain")
            m0.set(b"n", 12345)
            m0.set(b"ttl", b"x", ex=500)
            m0.hset(b"h", mapping={b"f1": b"v1", b"f2": b"v2"})
            m0.sadd(b"st", b"a", b"b", b"c")
            m0.zadd(b"z", {b"m1": 1.5, b"m2": -3})
            r0.execute_command("REPLICAOF", "127.0.0.1", str(master.port))
            wait_in_sync(m0, r0)
            assert_same(m0, r0)
            m0.rpush(b"l", b"a", b"b")
            m0.hset(b"h", b"f3", b"v3")
            m0.delete(b"s")
            wait_in_sync(m0, r0)
            assert_same(m0, r0)
        finally:
            replica.stop()
            master.stop()


def test_replicaof_on_the_command_line(workdir):
    master = tern("master", OTHER_BACKEND, workdir)
    replica = None
    try:
        m = client(master)
        m.set("from-master", "1")
        replica = ServerProcess("replica", lambda port: tern_argv(
            port, ["--replicaof", "127.0.0.1", str(master.port)], lmdb_path=workdir + "/lmdb-replica")).start()
        r = client(replica)
        wait_in_sync(m, r)
        assert r.get("from-master") == b"1"
        assert r.config_get("replicaof") == {"replicaof": "127.0.0.1 %d" % master.port}
        assert info(r, "replication")["role"] == "slave"
    finally:
        if replica:
            replica.cleanup()
        master.cleanup()


def test_masterauth_with_a_password_protected_master(workdir):
    master = ServerProcess("master-auth", lambda port: tern_argv(
        port, ["--requirepass", "s3cret"] + FAST_SYNC, lmdb_path=workdir + "/lmdb-master-auth")).start()
    replica = None
    try:
        m = redis.Redis(host="127.0.0.1", port=master.port, password="s3cret", socket_timeout=10)
        m.set("guarded", "yes")
        replica = ServerProcess("replica-auth", lambda port: tern_argv(
            port, ["--replicaof", "127.0.0.1", str(master.port), "--masterauth", "s3cret"],
            lmdb_path=workdir + "/lmdb-replica-auth")).start()
        r = client(replica)
        wait_in_sync(m, r)
        assert r.get("guarded") == b"yes"
    finally:
        if replica:
            replica.cleanup()
        master.cleanup()
