"""Bitmaps, HyperLogLogs and geo sets between Tern and stock Redis by replication: a Tern replica of a stock
Redis master (full sync, then the command stream) holds the same string bytes and sorted-set scores, and its
PFCOUNT/GEOSEARCH/BITCOUNT answers equal the master's. Runs on the backend under test (TERN_BACKEND)."""

import random
import shutil
import tempfile

import pytest

from conftest import TERN_BACKEND
from test_replica_stock_master import stock_master, tern
from test_replication import client, wait_in_sync


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="tern-datatypes-repl-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def write(c, rnd, tag):
    for _ in range(150):
        c.execute_command("SETBIT", "bits:" + tag, rnd.randrange(0, 100000), rnd.randrange(2))
    c.execute_command("BITFIELD", "bf:" + tag, "SET", "i16", "#3", "-1234", "INCRBY", "u9", "77", "300")
    c.execute_command("SETRANGE", "big:" + tag, 200000, "tail")
    c.execute_command("BITOP", "OR", "or:" + tag, "bits:" + tag, "bf:" + tag)
    c.execute_command("PFADD", "hll-sparse:" + tag, *["s%d" % rnd.randrange(1000) for _ in range(40)])
    c.execute_command("PFADD", "hll-dense:" + tag, *["d%d" % i for i in range(6000)])
    c.execute_command("PFCOUNT", "hll-dense:" + tag)
    c.execute_command("PFMERGE", "hll-merged:" + tag, "hll-sparse:" + tag, "hll-dense:" + tag)
    args = []
    for i in range(300):
        args += ["%.6f" % rnd.uniform(-180, 180), "%.6f" % rnd.uniform(-85, 85), "p%d" % i]
    c.execute_command("GEOADD", "geo:" + tag, *args)
    c.execute_command("GEOSEARCHSTORE", "geo-near:" + tag, "geo:" + tag, "FROMLONLAT", "0", "0", "BYRADIUS", "4000",
                      "km", "STOREDIST")
    c.execute_command("GEORADIUS", "geo:" + tag, "100", "10", "3000", "km", "STORE", "geo-store:" + tag)


def compare(m, r, tag):
    for k in ["bits", "bf", "big", "or", "hll-sparse", "hll-dense", "hll-merged"]:
        key = "%s:%s" % (k, tag)
        assert m.get(key) == r.get(key), key
    for k in ["hll-sparse", "hll-dense", "hll-merged"]:
        key = "%s:%s" % (k, tag)
        assert r.execute_command("PFCOUNT", key) == m.execute_command("PFCOUNT", key), key
    for k in ["geo", "geo-near", "geo-store"]:
        key = "%s:%s" % (k, tag)
        assert m.zrange(key, 0, -1, withscores=True) == r.zrange(key, 0, -1, withscores=True), key
    q = ["GEOSEARCH", "geo:" + tag, "FROMLONLAT", "10", "10", "BYBOX", "5000", "3000", "km", "WITHDIST", "ASC"]
    assert m.execute_command(*q) == r.execute_command(*q)
    assert m.execute_command("BITCOUNT", "bits:" + tag) == r.execute_command("BITCOUNT", "bits:" + tag)


def test_tern_replica_of_stock_master(workdir):
    master = stock_master("yes", workdir)
    replica = tern("tern-replica-" + TERN_BACKEND, TERN_BACKEND, workdir)
    try:
        m, r = client(master), client(replica)
        rnd = random.Random(16)
        write(m, rnd, "before")
        assert r.execute_command("REPLICAOF", "127.0.0.1", str(master.port)) == b"OK"
        wait_in_sync(m, r)
        compare(m, r, "before")
        write(m, rnd, "after")  # the command stream
        m.execute_command("PFADD", "hll-sparse:before", "late1", "late2")
        m.execute_command("SETBIT", "bits:before", 5, 1)
        wait_in_sync(m, r)
        compare(m, r, "before")
        compare(m, r, "after")
    finally:
        replica.stop()
        master.stop()
