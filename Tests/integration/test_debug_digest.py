"""DEBUG against a stock redis-server 7.0.15 (both started with `enable-debug-command yes`): DEBUG DIGEST and
DIGEST-VALUE of the same mixed dataset (every type, compact and big encodings, TTLs, several databases) are
equal on both, and on a stock replica of Tern; DEBUG RELOAD (and NOSAVE / NOFLUSH MERGE) keeps the data on
the backend under test; the enable-debug-command guard; DEBUG PROTOCOL and the subcommands' error replies
compared over RESP2 and RESP3. Bounded waits only."""

import time

import pytest
import redis

from conftest import REDIS_BIN, make_tern, ServerProcess, redis_argv
from respwire import RawConnection

DEADLINE = 30.0


@pytest.fixture(scope="module")
def servers():
    tern = make_tern(["--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0"]).start()
    stock = ServerProcess("redis-debug", lambda port: redis_argv(port) + ["--enable-debug-command", "yes"],
                          executable=REDIS_BIN).start()
    yield tern, stock
    tern.cleanup()
    stock.cleanup()


def client(server, db=0):
    return redis.Redis(host="127.0.0.1", port=server.port, db=db, socket_timeout=20, protocol=2)


def fresh(servers, *commands):
    """Empties both servers and runs the same commands on each; returns their clients."""
    clients = [client(s) for s in servers]
    for c in clients:
        c.flushall()
        for command in commands:
            c.execute_command(*command)
    return clients


def write_mixed_dataset(server):
    c = client(server)
    c.flushall()
    c.set("s", "hello")
    c.set("int", 12345)
    c.set("neg", -7)
    c.set("big", "x" * 5000)
    c.set("bin", bytes(range(256)))
    c.append("app", "abc")
    c.set("ttl", "v", ex=1000)
    c.rpush("list", "a", "b", "c", "", "1")
    c.rpush("biglist", *["e%d" % i for i in range(700)])
    c.sadd("intset", 1, 2, 3, -5)
    c.sadd("set", "x", "y", "z", "1")
    c.sadd("bigset", *range(600))
    c.hset("hash", mapping={"f1": "v1", "f2": "v2", "n": 7})
    c.hset("bighash", mapping={"f%d" % i: "v" * (i % 70) for i in range(600)})
    c.zadd("zset", {"a": 0.1, "b": 1.5, "c": 3, "d": -2.25, "e": float("inf"), "f": 1e-300, "12": 7})
    c.zadd("bigzset", {"m%d" % i: i / 3 for i in range(300)})
    c.hset("hashttl", "f", "v")
    c.pexpire("hashttl", 900000)
    for i in range(1, 150):
        c.xadd("stream", {"f": i, "g": "v%d" % i} if i % 3 else {"other": i}, id="%d-%d" % (i, i % 4))
    c.xdel("stream", "7-3", "8-0")
    c5 = client(server, 5)
    c5.set("s", "other db")
    c5.rpush("list", "z", "y")
    c5.zadd("zset", {"q": 2})
    client(server, 15).sadd("last", "m")
    return c


ALL_KEYS = ["s", "int", "neg", "big", "bin", "app", "ttl", "list", "biglist", "intset", "set", "bigset", "hash",
            "bighash", "zset", "bigzset", "hashttl", "stream", "nokey"]


def test_digest_equals_stock_redis(servers):
    tern, stock = servers
    t = write_mixed_dataset(tern)
    r = write_mixed_dataset(stock)
    digest = r.execute_command("DEBUG", "DIGEST")
    assert digest != b"0" * 40
    assert t.execute_command("DEBUG", "DIGEST") == digest
    assert t.execute_command("DEBUG", "DIGEST-VALUE", *ALL_KEYS) == r.execute_command("DEBUG", "DIGEST-VALUE", *ALL_KEYS)
    assert t.execute_command("DEBUG", "DIGEST-VALUE") == r.execute_command("DEBUG", "DIGEST-VALUE") == []
    # Any change shows: a list's order, a score, an expiry, the database a key is in.
    for c in (t, r):
        c.lset("list", 0, "A")
        c.zincrby("zset", 1, "a")
        c.persist("ttl")
        c.move("s", 3)
    changed = r.execute_command("DEBUG", "DIGEST")
    assert changed != digest
    assert t.execute_command("DEBUG", "DIGEST") == changed
    for c in (t, r):
        c.flushall()
    assert t.execute_command("DEBUG", "DIGEST") == r.execute_command("DEBUG", "DIGEST") == b"0" * 40


def wait_in_sync(m, r):
    deadline = time.monotonic() + DEADLINE
    last = None
    while time.monotonic() < deadline:
        ri, mi = r.info("replication"), m.info("replication")
        last = (ri, mi)
        if ri.get("master_link_status") == "up" and ri.get("slave_repl_offset") == mi["master_repl_offset"] \
                and mi["master_repl_offset"] > 0:
            return
        time.sleep(0.05)
    raise AssertionError("replica not in sync: %r" % (last,))


def test_digest_of_stock_replica_equals_tern_master(servers):
    tern, _ = servers
    t = write_mixed_dataset(tern)
    replica = ServerProcess("redis-replica", lambda port: redis_argv(port) + [
        "--enable-debug-command", "yes", "--replicaof", "127.0.0.1", str(tern.port)], executable=REDIS_BIN).start()
    try:
        r = client(replica)
        wait_in_sync(t, r)
        assert r.execute_command("DEBUG", "DIGEST") == t.execute_command("DEBUG", "DIGEST")
        # The command stream keeps them equal.
        t.rpush("list", "more")
        t.hdel("bighash", "f3")
        t.zadd("bigzset", {"m1": 99})
        t.expire("s", 500)
        client(tern, 5).delete("list")
        wait_in_sync(t, r)
        assert r.execute_command("DEBUG", "DIGEST") == t.execute_command("DEBUG", "DIGEST")
    finally:
        replica.cleanup()


def test_debug_reload_keeps_the_data(servers):
    tern, _ = servers
    t = write_mixed_dataset(tern)
    before = t.execute_command("DEBUG", "DIGEST")
    size = t.dbsize()
    assert t.execute_command("DEBUG", "RELOAD") == b"OK"
    assert t.execute_command("DEBUG", "DIGEST") == before
    assert t.dbsize() == size
    assert t.ttl("ttl") > 0
    # NOSAVE: back to the file's content (what the last RELOAD saved).
    t.set("s", "changed")
    t.set("new", "1")
    assert t.execute_command("DEBUG", "RELOAD", "NOSAVE") == b"OK"
    assert t.execute_command("DEBUG", "DIGEST") == before
    assert t.get("new") is None
    # NOFLUSH MERGE: the file's keys replace existing ones, others stay.
    t.set("s", "changed")
    t.set("new", "1")
    assert t.execute_command("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE") == b"OK"
    assert t.get("s") == b"hello"
    assert t.get("new") == b"1"
    # NOFLUSH without MERGE: a conflicting key is an error (Redis dies there); nothing changes.
    with pytest.raises(redis.ResponseError, match="Error trying to load the RDB dump"):
        t.execute_command("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH")
    assert t.get("new") == b"1"
    with pytest.raises(redis.ResponseError, match="DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options."):
        t.execute_command("DEBUG", "RELOAD", "FAST")


def test_enable_debug_command_guard(tern, redis_server):
    refusal = ("-", b"ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you "
               b"can run it from a local connection, otherwise you need to set this option in the configuration file, "
               b"and then restart the server.")
    for server in (tern, redis_server):
        with server.connect() as c:
            assert c.call("DEBUG", "SLEEP", "0") == refusal
            assert c.call("CONFIG", "GET", "enable-debug-command") == ("*", [("$", b"enable-debug-command"), ("$", b"no")])
    local = make_tern(["--enable-debug-command", "local"]).start()
    try:
        with local.connect() as c:
            assert c.call("DEBUG", "SLEEP", "0") == ("+", b"OK")
    finally:
        local.cleanup()


COMPARED = [
    ("DEBUG", "PROTOCOL", "string"), ("DEBUG", "PROTOCOL", "integer"), ("DEBUG", "PROTOCOL", "double"),
    ("DEBUG", "PROTOCOL", "bignum"), ("DEBUG", "PROTOCOL", "null"), ("DEBUG", "PROTOCOL", "array"),
    ("DEBUG", "PROTOCOL", "set"), ("DEBUG", "PROTOCOL", "map"),
    ("DEBUG", "PROTOCOL", "verbatim"), ("DEBUG", "PROTOCOL", "true"),
    ("DEBUG", "PROTOCOL", "false"), ("DEBUG", "PROTOCOL", "nope"), ("DEBUG", "PROTOCOL"),
    ("DEBUG", "OBJECT", "nokey"), ("DEBUG", "SDSLEN", "nokey"), ("DEBUG", "SDSLEN", "int"),
    ("DEBUG", "LISTPACK", "nokey"), ("DEBUG", "LISTPACK", "s"), ("DEBUG", "QUICKLIST", "s"),
    ("DEBUG", "POPULATE", "-1"), ("DEBUG", "POPULATE", "x"), ("DEBUG", "POPULATE", "2", "p", "-3"),
    ("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "5gb"), ("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "abc"),
    ("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"), ("DEBUG", "SET-ACTIVE-EXPIRE", "1"),
    ("DEBUG", "CLIENT-EVICTION"), ("DEBUG", "REPLYBUFFER", "foo", "1"), ("DEBUG", "REPLYBUFFER", "RESIZING", "1"),
    ("DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "x"), ("DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "reset"),
    ("DEBUG", "CLUSTERLINK", "KILL", "all", "x"), ("DEBUG", "JMAP"), ("DEBUG", "NOSUCH"), ("DEBUG", "HTSTATS", "99"),
    ("DEBUG", "HTSTATS", "x"), ("DEBUG", "HTSTATS-KEY", "nokey"), ("DEBUG", "ERROR", "MYERR custom\r\ntext"),
    ("DEBUG", "LOG", "hello from the test"), ("DEBUG", "SLEEP", "0"), ("DEBUG", "SLEEP", "garbage"),
    ("DEBUG", "DROP-CLUSTER-PACKET-FILTER", "x"), ("DEBUG", "RELOAD", "NOPE"), ("DEBUG", "DIGEST", "extra"),
    ("DEBUG", "CHANGE-REPL-ID", "x"),
]


@pytest.mark.parametrize("protocol", [2, 3])
def test_subcommand_replies_match_stock_redis(servers, protocol):
    tern, stock = servers
    fresh(servers, ("SET", "s", "hello"), ("SET", "int", "12"))
    with RawConnection(tern.port, protocol=protocol) as t, RawConnection(stock.port, protocol=protocol) as r:
        for command in COMPARED:
            assert t.call(*command) == r.call(*command), command
        # RESP3 attributes and pushes come before the real reply (RESP2: no attribute; push is an error).
        if protocol == 2:
            assert t.call("DEBUG", "PROTOCOL", "attrib") == r.call("DEBUG", "PROTOCOL", "attrib")
            assert t.call("DEBUG", "PROTOCOL", "push") == r.call("DEBUG", "PROTOCOL", "push")
        else:
            for kind in ("attrib", "push"):
                for c in (t, r):
                    c.send("DEBUG", "PROTOCOL", kind)
                assert t.read_reply() == r.read_reply()
                assert t.read_reply() == r.read_reply()
        for c in (t, r):
            assert c.call("DEBUG", "POPULATE", "3", "pre", "10")[0] == "+"
            assert c.call("DEBUG", "POPULATE", "5") == ("+", b"OK")
        for key in ("pre:0", "pre:2", "key:4"):
            assert t.call("GET", key) == r.call("GET", key)
        assert t.call("DBSIZE") == r.call("DBSIZE")
        assert t.call("DEBUG", "DIGEST") == r.call("DEBUG", "DIGEST")
        # Redis's fuzzer runs for many seconds: Tern's reply only.
        assert t.call("DEBUG", "STRINGMATCH-TEST") == ("+", b"Apparently Redis did not crash: test passed")


def test_debug_object_and_change_repl_id(servers):
    t, r = fresh(servers, ("SET", "s", "hello"), ("SET", "n", 123), ("RPUSH", "l", "a", "b", "c"))
    for key in ("s", "n", "l"):
        tern_fields = dict(f.split(":", 1) for f in t.execute_command("DEBUG", "OBJECT", key).decode().split(" ")[2:])
        redis_fields = dict(f.split(":", 1) for f in r.execute_command("DEBUG", "OBJECT", key).decode().split(" ")[2:])
        assert tern_fields.keys() == redis_fields.keys(), key
        for field in ("refcount", "encoding", "ql_nodes", "ql_avg_node", "ql_listpack_max", "ql_compressed"):
            assert tern_fields.get(field) == redis_fields.get(field), (key, field)
        assert int(tern_fields["serializedlength"]) > 0
    before = t.info("replication")["master_replid"]
    assert t.execute_command("DEBUG", "CHANGE-REPL-ID") == b"OK"
    after = t.info("replication")
    assert after["master_replid"] != before and len(after["master_replid"]) == 40
    assert str(after["master_replid2"]).strip("0") == ""  # redis-py reads forty zeros as the number 0


def test_skip_checksum_validation_for_restore(servers):
    for c in fresh(servers, ("SET", "src", "payload")):
        dump = bytearray(c.dump("src"))
        dump[-1] ^= 0xFF  # break the CRC-64
        with pytest.raises(redis.ResponseError, match="DUMP payload version or checksum are wrong"):
            c.restore("dst", 0, bytes(dump))
        assert c.execute_command("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1") == b"OK"
        try:
            assert c.restore("dst", 0, bytes(dump)) == b"OK"
            assert c.get("dst") == b"payload"
        finally:
            c.execute_command("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "0")
