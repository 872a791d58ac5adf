"""Tern as a replica of a DEFAULT stock redis-server 7.0 master (listpack, intset, quicklist-2 encodings for
small collections, hashtable/skiplist for big ones, int and LZF strings): full sync from the master's RDB
(disk-based and diskless), several dbs and expiries, then the command stream, a partial resync after a broken
link, then promotion. Both backends (TERN_BACKEND); datasets compared key by key against the master."""

import shutil
import tempfile

import pytest

from conftest import REDIS_BIN, TERN_BACKEND, TERN_BIN, ServerProcess
from test_replication import assert_same, client, dump_db, info, wait_in_sync, write_dataset


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="tern-replica-stock-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def tern(name, backend, workdir):
    def argv(port):
        a = [TERN_BIN, "--port", str(port), "--bind", "127.0.0.1", "--backend", backend]
        if backend == "lmdb":
            a += ["--lmdb-path", workdir + "/lmdb-" + name]
        return a
    return ServerProcess(name, argv).start()


def stock_master(diskless, workdir):
    return ServerProcess("redis-master", lambda port: [
        REDIS_BIN, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", workdir, "--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0",
        # A fresh master's offset stays 0 until its first PING to replicas: ping often so waits are short.
        "--repl-ping-replica-period", "1"]).start()


def write_compact_dataset(c, tag):
    """Every encoding a default Redis 7.0 writes, small and big."""
    write_dataset(c, tag)  # strings, listpack/hashtable hashes, quicklist lists, sets, zsets, expiries
    c.set(b"lzf:" + tag, b"abcdefgh" * 500)                       # LZF-compressed string
    c.set(b"neg:" + tag, -70000)                                  # int-encoded string
    c.sadd(b"intset16:" + tag, 1, 2, -300)
    c.sadd(b"intset64:" + tag, 1 << 40, -(1 << 62), 7)
    c.sadd(b"bigset:" + tag, *[str(i * 7).encode() for i in range(700)])   # intset past 512: hashtable
    c.sadd(b"strset:" + tag, *[("m%d" % i).encode() for i in range(200)])
    c.zadd(b"bigz:" + tag, {("m%d" % i).encode(): i / 4 for i in range(300)})  # skiplist
    c.zadd(b"zint:" + tag, {b"a": 1, b"b": -5, b"c": 1 << 40, b"d": float("-inf")})
    c.rpush(b"lints:" + tag, 0, 127, -1, 5000, -30000, 70000, 1 << 40, b"text")
    c.hset(b"hints:" + tag, mapping={b"a": 1, b"b": -4096, b"c": 1 << 40})
    c.rpush(b"biglist2:" + tag, *[(b"%d" % i) * 50 for i in range(2000)])   # many quicklist nodes
    c.pexpire(b"bigz:" + tag, 600000)


@pytest.mark.parametrize("diskless", ["no", "yes"])
def test_tern_replica_of_default_stock_redis(diskless, workdir):
    backend = TERN_BACKEND
    master = stock_master(diskless, workdir)
    replica = tern("tern-replica-" + backend, backend, workdir)
    try:
        dbs = (0, 3, 15)
        ms = {db: client(master, db) for db in dbs}
        rs = {db: client(replica, db) for db in dbs}
        for db in dbs:
            write_compact_dataset(ms[db], b"before%d" % db)
        assert ms[0].object("encoding", b"h:before0") == b"listpack"
        assert ms[0].object("encoding", b"intset64:before0") == b"intset"
        assert ms[0].object("encoding", b"bigz:before0") == b"skiplist"
        assert ms[0].object("encoding", b"lzf:before0") == b"raw"
        rs[0].set(b"stale-local", b"1")
        assert rs[0].execute_command("REPLICAOF", "127.0.0.1", str(master.port)) == b"OK"
        wait_in_sync(ms[0], rs[0])
        for db in dbs:
            assert_same(ms[db], rs[db])
        assert rs[0].get(b"stale-local") is None
        assert rs[0].pttl(b"bigz:before0") > 500000

        # The command stream after the full sync.
        for db in dbs:
            write_compact_dataset(ms[db], b"after%d" % db)
        ms[0].delete(b"s:before0")
        ms[3].persist(b"ttl:before3")
        ms[15].flushdb()
        ms[15].set(b"fresh", b"1")
        ms[0].lpop(b"biglist2:before0", 10)
        ms[0].srem(b"intset64:before0", 7)
        wait_in_sync(ms[0], rs[0])
        for db in (0, 3):
            assert_same(ms[db], rs[db])
        assert dump_db(rs[15]) == dump_db(ms[15]) and len(dump_db(rs[15])) == 1
        ri = info(rs[0], "replication")
        assert ri["role"] == "slave" and ri["master_link_status"] == "up"

        # A broken link: the stock master continues with a partial resync from its backlog.
        ms[0].execute_command("CLIENT", "KILL", "TYPE", "replica")
        write_compact_dataset(ms[3], b"during-break")
        ms[0].incr(b"counter", 7)
        wait_in_sync(ms[0], rs[0])
        stats = info(ms[0], "stats")
        assert stats["sync_full"] == 1 and stats["sync_partial_ok"] == 1, stats
        assert rs[0].get(b"counter") == b"7"
        assert_same(ms[3], rs[3])

        # Promotion: the data stays and writes are accepted.
        assert rs[0].execute_command("REPLICAOF", "NO", "ONE") == b"OK"
        assert rs[0].set(b"now-master", b"1")
        assert rs[0].scard(b"bigset:after0") == 700
    finally:
        replica.stop()
        master.stop()
