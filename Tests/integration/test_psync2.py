"""PSYNC2 with real processes: partial resync of Tern replicas, backlog overflow, chained replicas, promotion
(Tern and stock Redis replicas continue with +CONTINUE), the replication history kept by LMDB across restarts,
expiry as DEL, min-replicas, replica-serve-stale-data, and several replicas syncing while the master writes.

The Tern nodes use this run's backend (TERN_BACKEND) and, where two Tern nodes replicate, the other backend for
the replica, so both directions (memory -> LMDB, LMDB -> memory) are covered by the two runs of the suite.
Only 127.0.0.1; every wait is bounded; servers are stopped by pid."""

import os
import shutil
import signal
import tempfile
import threading
import time

import pytest
import redis

from conftest import REDIS_BIN, TERN_BACKEND, TERN_BIN, ServerProcess, argv_backend, check_backend, free_port
from respwire import wait_for_ping
from test_replication import assert_same, client, dump_db, info, wait_in_sync, write_dataset

BACKEND = TERN_BACKEND
OTHER = "lmdb" if BACKEND == "memory" else "memory"
DEADLINE = 30.0


class Node(ServerProcess):
    """A server that keeps its port across restarts (so replicas pointed at it find it again)."""

    def __init__(self, name, argv_builder):
        super().__init__(name, argv_builder)
        self.fixed_port = free_port()

    def start(self):
        import subprocess
        argv = self.argv_builder(self.fixed_port)
        log = open(self.log_path, "ab")
        log.write(("\n=== start %s ===\n" % " ".join(argv)).encode())
        log.flush()
        self.proc = subprocess.Popen(argv, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.port = self.fixed_port
        try:
            wait_for_ping(self.port, time.monotonic() + 30, self.proc)
        except RuntimeError as e:
            self.stop()
            raise RuntimeError("could not start %s: %s\n%s" % (self.name, e, self.log_tail()))
        self.starts += 1
        expected = argv_backend(argv)
        if expected is not None:
            check_backend(self.port, expected)
        return self

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=5)
        self.proc = None


def tern(name, backend, workdir, *extra):
    def argv(port):
        a = [TERN_BIN, "--port", str(port), "--bind", "127.0.0.1", "--backend", backend,
             "--repl-ping-replica-period", "3600", "--repl-diskless-sync-delay", "0"]
        if backend == "lmdb":
            a += ["--lmdb-path", os.path.join(workdir, "lmdb-" + name)]
        return a + list(extra)
    return Node(name, argv).start()


def stock(name, *extra):
    return Node(name, lambda port: [REDIS_BIN, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                    "--appendonly", "no", "--repl-ping-replica-period", "3600",
                                    "--repl-diskless-sync-delay", "0"] + list(extra)).start()


@pytest.fixture
def nodes():
    started = []
    workdir = tempfile.mkdtemp(prefix="tern-psync2-")

    def make(kind, name, *extra, backend=None):
        node = tern(name, backend or BACKEND, workdir, *extra) if kind == "tern" else stock(name, *extra)
        started.append(node)
        return node

    yield make
    for node in started:
        node.cleanup()
    shutil.rmtree(workdir, ignore_errors=True)


def replicaof(conn, master):
    assert conn.execute_command("REPLICAOF", "127.0.0.1", str(master.port)) in (b"OK", b"OK Already connected to specified master")


def stats(conn):
    s = info(conn, "stats")
    return s["sync_full"], s["sync_partial_ok"], s["sync_partial_err"]


def wait_until(predicate, what, timeout=DEADLINE):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def test_tern_replica_partial_resync_after_broken_link(nodes):
    master = nodes("tern", "master")
    replica = nodes("tern", "replica", backend=OTHER)
    m, r = client(master), client(replica)
    write_dataset(m, b"a")
    replicaof(r, master)
    wait_in_sync(m, r)
    assert stats(m)[:2] == (1, 0)
    rid = info(m, "replication")["master_replid"]
    assert info(r, "replication")["master_replid"] == rid

    # The master drops the link; writes made meanwhile arrive through the backlog.
    m.execute_command("CLIENT", "KILL", "TYPE", "replica")
    write_dataset(m, b"b")
    wait_in_sync(m, r)
    assert_same(m, r)
    assert stats(m)[:2] == (1, 1)

    # The replica drops the link itself.
    r.execute_command("CLIENT", "KILL", "TYPE", "master")
    m.incr(b"counter", 5)
    wait_in_sync(m, r)
    assert r.get(b"counter") == b"5"
    assert stats(m)[:2] == (1, 2)
    assert info(r, "replication")["master_replid"] == rid


def test_backlog_overflow_forces_full_resync(nodes):
    master = nodes("tern", "master", "--repl-backlog-size", "16kb")
    replica = nodes("tern", "replica", backend=OTHER)
    m, r = client(master), client(replica)
    m.set(b"k0", b"x")
    replicaof(r, master)
    wait_in_sync(m, r)
    # 200 KiB of writes before the replica is back (it retries after a second): far past the backlog.
    m.execute_command("CLIENT", "KILL", "TYPE", "replica")
    p = m.pipeline(transaction=False)
    for i in range(200):
        p.set(b"big:%d" % i, b"v" * 1024)
    p.execute()
    wait_in_sync(m, r)
    assert_same(m, r)
    full, partial, err = stats(m)
    assert full == 2 and partial == 0 and err >= 1


def test_chained_replicas_get_the_exact_stream(nodes):
    master = nodes("tern", "master")
    middle = nodes("tern", "middle", backend=OTHER)
    leaf_tern = nodes("tern", "leaf-tern")
    m, mid = client(master), client(middle)
    m3 = client(master, 3)
    write_dataset(m, b"before")
    replicaof(mid, master)
    # The stream's last SELECT is db 3 when the leaves sync from the middle node.
    m3.set(b"db3", b"yes")
    wait_in_sync(m, mid)
    leaf_redis = nodes("stock", "leaf-redis", "--replicaof", "127.0.0.1", str(middle.port))
    lt, lr = client(leaf_tern), client(leaf_redis)
    replicaof(lt, middle)
    wait_in_sync(mid, lt)
    wait_in_sync(mid, lr)
    # No SELECT precedes this in the stream: the leaves know the db from the RDB's repl-stream-db.
    m3.set(b"db3-after", b"yes")
    write_dataset(m, b"after")
    offset = wait_in_sync(m, mid)
    wait_in_sync(mid, lt)
    wait_in_sync(mid, lr)
    for leaf in (lt, lr):
        assert_same(m, leaf)
        leaf3 = client(leaf_tern if leaf is lt else leaf_redis, 3)
        assert leaf3.get(b"db3") == b"yes" and leaf3.get(b"db3-after") == b"yes"
        li = info(leaf, "replication")
        # Same history everywhere: the top master's id and offsets.
        assert li["master_replid"] == info(m, "replication")["master_replid"]
        assert li["slave_repl_offset"] == offset
    mi = info(mid, "replication")
    assert mi["role"] == "slave" and mi["connected_slaves"] == 2
    # The middle node served its leaves from its own snapshot and stream; the top master only saw the middle.
    assert info(m, "replication")["connected_slaves"] == 1
    assert stats(mid)[0] == 2
    # A replica can't be written to by clients, and WAIT on a replica is refused as Redis refuses it.
    with pytest.raises(redis.exceptions.ReadOnlyError):
        mid.set(b"x", b"1")
    with pytest.raises(redis.exceptions.ResponseError) as e:
        mid.execute_command("WAIT", 1, 10)
    assert str(e.value).startswith("WAIT cannot be used with replica instances")


def test_promotion_keeps_history_for_tern_and_stock_replicas(nodes):
    master = nodes("tern", "master")
    r1 = nodes("tern", "r1", backend=OTHER)
    r2 = nodes("tern", "r2")
    m, c1, c2 = client(master), client(r1), client(r2)
    write_dataset(m, b"x")
    replicaof(c1, master)
    replicaof(c2, master)
    r3 = nodes("stock", "r3", "--replicaof", "127.0.0.1", str(master.port))
    c3 = client(r3)
    for c in (c1, c2, c3):
        offset = wait_in_sync(m, c)
    old_id = info(m, "replication")["master_replid"]

    # Promote r1: a new id, the old one kept as replid2 up to the current offset.
    assert c1.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
    i1 = info(c1, "replication")
    assert i1["role"] == "master"
    assert i1["master_replid2"] == old_id and i1["master_replid"] != old_id
    assert i1["second_repl_offset"] == offset + 1
    c1.set(b"after-promotion", b"1")

    # The others follow r1 and continue their history (+CONTINUE), Tern and stock Redis alike.
    replicaof(c2, r1)
    replicaof(c3, r1)
    for c in (c2, c3):
        wait_in_sync(c1, c)
        assert_same(c1, c)
        assert info(c, "replication")["master_replid"] == i1["master_replid"]
    full, partial, _ = stats(c1)
    assert full == 0 and partial == 2

    # The old master, demoted, continues too: its history is a prefix of r1's.
    replicaof(m, r1)
    wait_in_sync(c1, m)
    assert m.get(b"after-promotion") == b"1"
    assert stats(c1)[:2] == (0, 3)


def test_relative_expiry_arrives_absolute_and_expired_keys_wait_for_the_masters_del(nodes):
    master = nodes("tern", "master")
    replica = nodes("tern", "replica", backend=OTHER)
    m, r = client(master), client(replica)
    replicaof(r, master)
    m.set(b"k", b"v", ex=1000)
    m.expire(b"k2", 10)
    m.set(b"short", b"v", px=300)
    wait_in_sync(m, r)
    assert r.pexpiretime(b"k") == m.pexpiretime(b"k") > 0
    # The master may not expire anything while writes are paused: the replica hides the key but keeps it.
    m.execute_command("CLIENT", "PAUSE", 5000, "WRITE")
    try:
        # The event: the key's 300 ms are over, so the replica hides it; then it must still hold it.
        wait_until(lambda: r.get(b"short") is None, "the replica to hide the expired key", timeout=4)
        assert r.exists(b"short") == 0
        assert r.dbsize() == 2
        assert m.dbsize() == 2
    finally:
        m.execute_command("CLIENT", "UNPAUSE")
    # Then the master's expiry sends DEL and the replica drops it.
    wait_until(lambda: r.dbsize() == 1, "the replica to get the master's DEL")
    assert m.dbsize() == 1 and r.get(b"k") == b"v"


def test_min_replicas_to_write(nodes):
    master = nodes("tern", "master", "--min-replicas-to-write", "1", "--min-replicas-max-lag", "10")
    m = client(master)
    with pytest.raises(redis.exceptions.ResponseError) as e:
        m.set(b"k", b"v")
    assert str(e.value) == "NOREPLICAS Not enough good replicas to write."
    assert m.get(b"k") is None  # reads are fine
    assert info(m, "replication")["min_slaves_good_slaves"] == 0
    replica = nodes("tern", "replica", backend=OTHER)
    replicaof(client(replica), master)
    wait_until(lambda: info(m, "replication")["min_slaves_good_slaves"] == 1, "a good replica")
    assert m.set(b"k", b"v") is True
    m.config_set("min-replicas-to-write", 2)
    with pytest.raises(redis.exceptions.ResponseError):
        m.set(b"k", b"w")


def test_serve_stale_data_no_matches_redis(nodes):
    dead = free_port()
    t = nodes("tern", "stale-tern", "--replica-serve-stale-data", "no", "--replicaof", "127.0.0.1", str(dead))
    s = nodes("stock", "stale-redis", "--replica-serve-stale-data", "no", "--replicaof", "127.0.0.1", str(dead))
    ct, cs = t.connect(), s.connect()
    for cmd in (["GET", "k"], ["PING"], ["DBSIZE"], ["SET", "k", "v"]):
        a, b = ct.call(*cmd), cs.call(*cmd)
        assert a == b, (cmd, a, b)
        assert a[0] == "-" and a[1].startswith(b"MASTERDOWN " if cmd[0] != "SET" else b"READONLY ")
    # Commands flagged stale still work.
    for cmd in (["INFO", "replication"], ["CONFIG", "GET", "replica-serve-stale-data"]):
        a, b = ct.call(*cmd), cs.call(*cmd)
        assert a[0] == b[0] != "-", (cmd, a, b)
    assert client(t).config_get("replica-serve-stale-data") == {"replica-serve-stale-data": "no"}


@pytest.mark.skipif(BACKEND != "lmdb", reason="the history survives restarts with a durable backend (LMDB run)")
def test_lmdb_nodes_resume_with_partial_resync_after_restart(nodes):
    master = nodes("tern", "master", backend="lmdb")
    replica = nodes("tern", "replica", "--replicaof", "127.0.0.1", str(master.port), backend="lmdb")
    m = client(master)
    write_dataset(m, b"a")
    wait_in_sync(m, client(replica))

    # The replica is killed (-9) while the master writes, then restarts from its data and continues.
    stop = threading.Event()
    done = [0]

    def writer():
        w = client(master)
        while not stop.is_set() and done[0] < 20000:
            w.incr(b"n")
            done[0] += 1

    th = threading.Thread(target=writer)
    th.start()
    # Events, not sleeps: the writes are under way before the kill, go on while the replica is down, and
    # still go on once it is back (its link up again).
    wait_until(lambda: done[0] >= 200 or not th.is_alive(), "writes before the kill")
    replica.kill9()
    mark = done[0]
    wait_until(lambda: done[0] >= mark + 200 or not th.is_alive(), "writes while the replica is down")
    replica.start()
    rc = client(replica)
    wait_until(lambda: info(rc, "replication")["master_link_status"] == "up", "the restarted replica's link")
    mark = done[0]
    wait_until(lambda: done[0] >= mark + 100 or not th.is_alive(), "writes after the replica is back")
    stop.set()
    th.join(timeout=30)
    r = client(replica)
    wait_in_sync(m, r)
    assert r.get(b"n") == m.get(b"n")
    assert_same(m, r)
    assert stats(m)[:2] == (1, 1)

    # The master restarts (same port): the replica continues from the same history.
    rid = info(m, "replication")["master_replid"]
    offset = info(m, "replication")["master_repl_offset"]
    master.restart()
    m = client(master)
    mi = info(m, "replication")
    assert mi["master_replid"] == rid and mi["master_repl_offset"] == offset
    m.set(b"after-restart", b"1")
    wait_in_sync(m, r)
    assert r.get(b"after-restart") == b"1"
    assert stats(m)[:2] == (0, 1)


def test_several_replicas_sync_while_the_master_writes(nodes):
    master = nodes("tern", "master")
    m = client(master)
    p = m.pipeline(transaction=False)
    for i in range(20000):
        p.set(b"key:%d" % i, b"value-%d" % i)
    p.execute()
    stop = threading.Event()
    written = [0]

    def writer():
        w = client(master)
        while not stop.is_set() and written[0] < 50000:
            w.incr(b"during-sync")
            w.rpush(b"log", written[0])
            written[0] += 1

    th = threading.Thread(target=writer)
    th.start()
    try:
        r1 = nodes("tern", "r1", "--replicaof", "127.0.0.1", str(master.port), backend=OTHER)
        r2 = nodes("tern", "r2", "--replicaof", "127.0.0.1", str(master.port))
        r3 = nodes("stock", "r3", "--replicaof", "127.0.0.1", str(master.port))
        # The writes go on until every replica has finished its full sync (its link is up).
        for node in (r1, r2, r3):
            c = client(node)
            wait_until(lambda: info(c, "replication")["master_link_status"] == "up" or written[0] >= 50000,
                       "%s's full sync" % node.name)
    finally:
        stop.set()
        th.join(timeout=30)
    assert written[0] > 0
    for node in (r1, r2, r3):
        c = client(node)
        wait_in_sync(m, c)
        assert c.dbsize() == m.dbsize() == 20002
        assert c.get(b"during-sync") == m.get(b"during-sync") == str(written[0]).encode()
        assert c.lrange(b"log", 0, -1) == m.lrange(b"log", 0, -1)
    assert info(m, "replication")["connected_slaves"] == 3


def test_announced_address_and_client_list_flags(nodes):
    master = nodes("tern", "master")
    # The announced address is only shown by the master: nothing is sent to it.
    replica = nodes("tern", "replica", "--replica-announce-ip", "10.9.8.7", "--replica-announce-port", "4242",
                    "--replica-priority", "7", backend=OTHER)
    m, r = client(master), client(replica)
    replicaof(r, master)
    wait_in_sync(m, r)
    s0 = info(m, "replication")["slave0"]
    assert s0["ip"] == "10.9.8.7" and s0["port"] == 4242 and s0["state"] == "online"
    role = m.execute_command("ROLE")
    assert role[2][0][:2] == [b"10.9.8.7", b"4242"]
    assert info(r, "replication")["slave_priority"] == 7
    # CLIENT LIST: the replica's connection has flag S on the master, the master client flag M on the replica.
    flags_m = [c["flags"] for c in m.client_list()]
    flags_r = [c["flags"] for c in r.client_list()]
    assert "S" in flags_m and "M" in flags_r
    assert [c["flags"] for c in m.client_list(_type="replica")] == ["S"]
    assert len(r.client_list(_type="master")) == 1


@pytest.mark.skipif(BACKEND != "memory", reason="memory nodes keep their history in the RDB (memory run)")
def test_memory_nodes_resume_from_their_rdb_after_restart(nodes):
    master = nodes("tern", "master", "--save", "3600 1", backend="memory")
    replica = nodes("tern", "replica", "--save", "3600 1", "--replicaof", "127.0.0.1", str(master.port),
                    backend="memory")
    m, r = client(master), client(replica)
    write_dataset(m, b"a")
    client(master, 4).set(b"in-db4", b"1")  # the stream's last SELECT is db 4
    wait_in_sync(m, r)

    # The replica restarts (SIGTERM saves its dump, repl-id and repl-offset included) and continues.
    replica.restart()
    client(master, 4).set(b"db4-while-down", b"1")
    r = client(replica)
    wait_in_sync(m, r)
    assert stats(m)[:2] == (1, 1)
    assert client(replica, 4).get(b"db4-while-down") == b"1"

    # The master restarts from its own dump: same id and offset, the replica continues with +CONTINUE.
    rid = info(m, "replication")["master_replid"]
    offset = info(m, "replication")["master_repl_offset"]
    master.restart()
    m = client(master)
    assert info(m, "replication")["master_replid"] == rid
    assert info(m, "replication")["master_repl_offset"] == offset
    client(master, 4).set(b"after-master-restart", b"1")
    wait_in_sync(m, r)
    assert client(replica, 4).get(b"after-master-restart") == b"1"
    assert stats(m)[:2] == (0, 1)
    assert_same(m, r)
