"""RDB persistence against real processes: Tern's dump.rdb passes redis-check-rdb and loads into a stock
redis-server; a stock Redis dump.rdb loads into Tern (placed in `dir`, or with --import, both backends);
a memory-backend Tern restarted keeps its data (SAVE, BGSAVE, save points, the shutdown save, not with
NOSAVE); CONFIG and errors as Redis. Datasets compared key by key; every wait is bounded."""

import os
import shutil
import subprocess
import tempfile
import time

import pytest
import redis

from conftest import REDIS_BIN, TERN_BACKEND, ServerProcess, tern_argv
from test_replica_stock_master import write_compact_dataset
from test_replication import assert_same, assert_same_dump, client, dump_db, info

# Save points and the default shutdown save belong to the memory backend; LMDB is durable by itself.
memory_only = pytest.mark.skipif(TERN_BACKEND != "memory", reason="save points apply to the memory backend only")
lmdb_only = pytest.mark.skipif(TERN_BACKEND != "lmdb", reason="LMDB store behaviour (runs in the LMDB pass)")

DEADLINE = 20


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="tern-persist-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def tern(workdir, *extra, backend=None, name="tern"):
    """A Tern on `backend` (default: this pass's) in `workdir`; its LMDB environment is lmdb-<name> there,
    so a restart finds it."""
    path = os.path.join(workdir, "lmdb-" + name)
    return ServerProcess(name, lambda port: tern_argv(port, ["--dir", workdir, *extra], backend, path))


def stock(workdir, *extra):
    return ServerProcess("redis", lambda port: [
        REDIS_BIN, "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir, "--appendonly", "no",
        *extra], executable=REDIS_BIN)


def wait_for(predicate, what):
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def fill(c, dbs=(0, 2)):
    for db in dbs:
        write_compact_dataset(client_for(c, db), b"d%d" % db)


def client_for(c, db):
    kw = c.connection_pool.connection_kwargs
    return redis.Redis(host=kw["host"], port=kw["port"], db=db, socket_timeout=10)


def same_everywhere(a, b, dbs=(0, 2)):
    for db in dbs:
        assert_same(client_for(a, db), client_for(b, db))


def test_tern_dump_passes_redis_check_rdb_and_loads_into_stock_redis(workdir):
    t = tern(workdir).start()
    r = None
    try:
        tc = client(t)
        fill(tc)
        assert tc.save()
        path = os.path.join(workdir, "dump.rdb")
        check = subprocess.run(["redis-check-rdb", path], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0 and "RDB looks OK!" in check.stdout, check.stdout + check.stderr
        # The BGSAVE path (chunked, running CRC) writes a file the checker accepts too.
        os.rename(path, path + ".save")
        tc.bgsave()
        wait_for(lambda: info(tc, "persistence")["rdb_bgsave_in_progress"] == 0, "BGSAVE")
        check = subprocess.run(["redis-check-rdb", path], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0 and "RDB looks OK!" in check.stdout, check.stdout + check.stderr
        # A stock Redis started on that file has the same data.
        r = stock(workdir, "--save", "").start()
        same_everywhere(tc, client(r))
    finally:
        t.stop()
        if r:
            r.stop()


@pytest.mark.parametrize("how", ["dir", "import"])
def test_stock_redis_dump_loads_into_tern(how, workdir):
    r = stock(workdir, "--save", "").start()
    t = None
    try:
        rc = client(r)
        fill(rc)
        assert rc.save()
        src = os.path.join(workdir, "dump.rdb")
        tdir = os.path.join(workdir, "tern")
        os.mkdir(tdir)
        if how == "dir":
            shutil.copy(src, os.path.join(tdir, "dump.rdb"))
            t = tern(tdir).start()
        else:
            t = tern(tdir, "--import", src).start()
        tc = client(t)
        wait_for(lambda: info(tc, "persistence")["loading"] == 0, "the load")
        same_everywhere(rc, tc)
        assert info(tc, "persistence")["rdb_last_load_keys_loaded"] == len(dump_db(rc)) + len(dump_db(client_for(rc, 2)))
    finally:
        r.stop()
        if t:
            t.stop()


@lmdb_only
def test_lmdb_import_replaces_and_dir_dump_only_fills_an_empty_store(workdir):
    r = stock(workdir, "--save", "").start()
    try:
        rc = client(r)
        rc.set(b"from-redis", b"1")
        assert rc.save()
    finally:
        r.stop()
    src = os.path.join(workdir, "dump.rdb")
    # An LMDB store with its own data ignores dir/dump.rdb ...
    t = tern(workdir, "--save", "", backend="lmdb").start()
    try:
        wait_for(lambda: client(t).get(b"from-redis") == b"1", "the first load into an empty store")
        tc = client(t)
        tc.delete(b"from-redis")
        tc.set(b"own", b"1")
        t.stop()
        t.start()
        tc = client(t)
        assert tc.get(b"own") == b"1" and tc.get(b"from-redis") is None
        # ... while --import replaces its dataset.
        t.stop()
        t2 = tern(workdir, "--save", "", "--import", src, backend="lmdb")
        t2.workdir, t2.log_path = t.workdir, t.log_path
        t2.start()
        tc = client(t2)
        assert tc.get(b"from-redis") == b"1" and tc.get(b"own") is None
        t2.stop()
    finally:
        t.stop()


def test_import_of_a_corrupt_file_fails_at_start_up(workdir):
    bad = os.path.join(workdir, "bad.rdb")
    with open(bad, "wb") as f:
        f.write(b"REDIS0010\xfe\x00\x00\x01k")  # truncated
    proc = subprocess.run(tern_argv(0, ["--import", bad, "--dir", workdir]), capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 1
    assert "Bad RDB" in proc.stdout + proc.stderr or "unexpected end" in proc.stdout + proc.stderr


def shutdown(server, *args):
    """SHUTDOWN over a raw connection (no reply: the server exits), then wait for the process."""
    conn = server.connect()
    conn.send("SHUTDOWN", *args)
    server.proc.wait(timeout=10)
    conn.close()


@lmdb_only
def test_lmdb_failed_import_leaves_the_old_data(workdir):
    t = tern(workdir, "--save", "", backend="lmdb").start()
    try:
        client(t).set(b"kept", b"1")
        t.stop()
        bad = os.path.join(workdir, "bad.rdb")
        with open(bad, "wb") as f:
            # A valid key, then a truncated one: the first must not be committed either.
            f.write(b"REDIS0010\xfe\x00\x00\x03new\x01v\x00\x01k\x7f")
        proc = subprocess.run(tern_argv(0, ["--dir", workdir, "--import", bad], "lmdb",
                                        os.path.join(workdir, "lmdb-tern")), capture_output=True, text=True, timeout=30)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        t.start()
        c = client(t)
        assert c.get(b"kept") == b"1" and c.get(b"new") is None
    finally:
        t.stop()


@memory_only
def test_sigterm_with_a_failing_save_keeps_running(workdir):
    """As Redis: "Error trying to save the DB, can't exit." (dump.rdb is a directory here)."""
    t = tern(workdir).start()
    try:
        c = client(t)
        c.set(b"k", b"v")
        os.makedirs(os.path.join(workdir, "dump.rdb", "x"))
        t.proc.send_signal(15)
        wait_for(lambda: b"can't exit" in open(t.log_path, "rb").read(), "the refusal")
        assert t.proc.poll() is None and c.get(b"k") == b"v"
        shutdown(t, "NOSAVE")
    finally:
        t.stop()


def test_restart_keeps_the_data(workdir):
    """BGSAVE, then SHUTDOWN (memory: saves because save points are set), then SIGTERM: each restart finds
    the data, values and TTLs; SHUTDOWN NOSAVE keeps the previous dump (memory: the write since is lost;
    LMDB: every acknowledged write is on disk already, so it is kept)."""
    t = tern(workdir).start()
    try:
        tc = client(t)
        fill(tc)
        before = {db: dump_db(client_for(tc, db)) for db in (0, 2)}
        assert tc.bgsave() in (True, b"Background saving started")
        wait_for(lambda: info(tc, "persistence")["rdb_bgsave_in_progress"] == 0, "BGSAVE")
        p = info(tc, "persistence")
        assert p["rdb_last_bgsave_status"] == "ok" and p["rdb_changes_since_last_save"] == 0 and p["rdb_saves"] == 1
        assert tc.lastsave().timestamp() >= time.time() - 60
        tc.set(b"after-bgsave", b"1")
        shutdown(t)
        t.start()
        tc = client(t)
        wait_for(lambda: info(tc, "persistence")["loading"] == 0, "the load")
        assert tc.get(b"after-bgsave") == b"1"
        for db in (0, 2):
            got = dump_db(client_for(tc, db))
            got.pop(b"after-bgsave", None)
            assert_same_dump(before[db], got)
        # SIGTERM saves too.
        tc.set(b"before-sigterm", b"1")
        t.stop()
        t.start()
        tc = client(t)
        wait_for(lambda: info(tc, "persistence")["loading"] == 0, "the load")
        assert tc.get(b"before-sigterm") == b"1"
        # NOSAVE: the write since the last save is lost, the dump stays.
        tc.set(b"lost", b"1")
        shutdown(t, "NOSAVE")
        t.start()
        tc = client(t)
        wait_for(lambda: info(tc, "persistence")["loading"] == 0, "the load")
        assert tc.get(b"lost") == (b"1" if TERN_BACKEND == "lmdb" else None)
        assert tc.get(b"before-sigterm") == b"1"
    finally:
        t.stop()


@lmdb_only
def test_lmdb_sigterm_exits_without_a_save_and_keeps_the_data(workdir):
    """LMDB needs no shutdown save: SIGTERM exits at once even where dump.rdb could not be written."""
    t = tern(workdir).start()
    try:
        c = client(t)
        c.set(b"k", b"v", px=600000)
        os.makedirs(os.path.join(workdir, "dump.rdb", "x"))
        t.proc.send_signal(15)
        assert t.proc.wait(timeout=10) == 0
        shutil.rmtree(os.path.join(workdir, "dump.rdb"))
        t.start()
        c = client(t)
        assert c.get(b"k") == b"v" and 590000 < c.pttl(b"k") <= 600000
    finally:
        t.stop()


@memory_only
def test_save_point_triggers_a_background_save(workdir):
    t = tern(workdir, "--save", "1 2").start()
    try:
        tc = client(t)
        assert tc.config_get("save") == {"save": "1 2"}
        tc.set(b"a", b"1")
        tc.set(b"b", b"2")
        wait_for(lambda: info(tc, "persistence")["rdb_saves"] >= 1, "the save point")
        assert os.path.exists(os.path.join(workdir, "dump.rdb"))
        assert info(tc, "persistence")["rdb_changes_since_last_save"] == 0
        with open(t.log_path, "rb") as f:
            assert b"2 changes in 1 seconds. Saving..." in f.read()
    finally:
        t.stop()


def test_config_directives_as_redis(pair2):
    p = pair2
    for args in [("CONFIG", "SET", "save", "100 10 20 5"), ("CONFIG", "GET", "save"),
                 ("CONFIG", "SET", "save", ""), ("CONFIG", "GET", "save"),
                 ("CONFIG", "SET", "save", "100"), ("CONFIG", "SET", "save", "0 1"), ("CONFIG", "SET", "save", "a b"),
                 ("CONFIG", "GET", "rdbcompression"), ("CONFIG", "GET", "rdbchecksum"),
                 ("CONFIG", "SET", "rdbchecksum", "no"), ("CONFIG", "GET", "dbfilename"),
                 ("CONFIG", "SET", "dbfilename", "x.rdb"), ("CONFIG", "GET", "stop-writes-on-bgsave-error"),
                 ("CONFIG", "SET", "stop-writes-on-bgsave-error", "maybe"),
                 ("BGSAVE", "NOW"), ("SAVE", "x")]:
        p.cmd(*args)
    p.cmd("CONFIG", "SET", "save", "")
