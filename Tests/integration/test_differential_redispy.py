"""The same command sequences through redis-py (the client most users have), RESP2 and RESP3, against Tern and a
stock Redis 7.0: parsed values compared, errors compared as exception class + message."""

import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def make_client(port, protocol):
    # No retries: an error reply (AUTH's among them) must come straight back, not after a backoff.
    return redis.Redis(host="127.0.0.1", port=port, protocol=protocol, decode_responses=False,
                       socket_timeout=10, socket_connect_timeout=10, retry=Retry(NoBackoff(), 0))


def outcome(client, *args):
    try:
        return ("ok", client.execute_command(*args))
    except redis.exceptions.RedisError as e:
        return ("error", type(e).__name__, str(e))


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def clients(request, tern, redis_server):
    redis_server.ensure_running()
    made = []
    for server in (tern, redis_server):
        c = make_client(server.port, request.param)
        made.append(c)
    t, r = made
    # Empty both (if Tern has no FLUSHALL yet, restart it for a clean state).
    if outcome(t, "FLUSHALL")[0] != "ok":
        t.close()
        tern.restart()
        t = make_client(tern.port, request.param)
    r.flushall()
    yield t, r
    t.close()
    r.close()


def same(clients, *args):
    t, r = clients
    ot, orr = outcome(t, *args), outcome(r, *args)
    assert ot == orr, "%s\n  tern:  %r\n  redis: %r" % (args, ot, orr)
    return orr


SEQUENCES = {
    "strings": [("SET", "k", "v"), ("GET", "k"), ("GET", "missing"), ("SET", "k", "v2", "GET"), ("SET", "k", "x", "NX"),
                ("MSET", "a", "1", "b", "2"), ("MGET", "a", "b", "zz"), ("INCR", "a"), ("INCRBY", "a", "10"),
                ("DECR", "b"), ("INCRBYFLOAT", "f", "1.5"), ("APPEND", "k", "!"), ("STRLEN", "k"),
                ("GETRANGE", "k", "0", "1"), ("SETRANGE", "k", "1", "Z"), ("GETDEL", "k"), ("GETEX", "a", "PERSIST"),
                ("LCS", "a", "b"), ("SETNX", "a", "x"), ("GETSET", "a", "9")],
    "string_errors": [("SET", "k", "v", "EX", "0"), ("SET", "k"), ("INCR", "k"), ("SET", "s", "abc"), ("INCR", "s"),
                      ("INCRBYFLOAT", "s", "1"), ("SET", "k", "v", "NX", "XX"), ("SETEX", "k", "-1", "v"),
                      ("SETRANGE", "k", "-1", "x")],
    "keys": [("MSET", "a", "1", "b", "2"), ("EXISTS", "a", "b", "c"), ("TYPE", "a"), ("TYPE", "none"),
             ("EXPIRE", "a", "100"), ("PERSIST", "a"), ("TTL", "a"), ("RENAME", "a", "c"), ("RENAME", "zz", "c"),
             ("RENAMENX", "b", "c"), ("COPY", "c", "d"), ("MOVE", "d", "1"), ("DBSIZE",), ("TOUCH", "b", "c"),
             ("DEL", "b", "c"), ("UNLINK", "nothing"), ("OBJECT", "ENCODING", "missing"), ("RANDOMKEY",),
             ("EXPIRE", "k", "10", "NX", "XX")],
    "connection": [("PING",), ("PING", "x"), ("ECHO", "e"), ("SELECT", "2"), ("SELECT", "100"), ("SET", "in2", "v"),
                   ("SELECT", "0"), ("GET", "in2"), ("CLIENT", "SETNAME", "py"), ("CLIENT", "GETNAME"),
                   ("AUTH", "pw"), ("AUTH", "u", "pw"), ("NOSUCH", "arg"), ("GET",), ("CONFIG", "GET", "maxmemory"),
                   ("CONFIG", "GET", "timeout"), ("COMMAND", "INFO", "get"), ("FLUSHDB",), ("DBSIZE",)],
}


@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_redispy_sequence(clients, name):
    for args in SEQUENCES[name]:
        same(clients, *args)


def test_redispy_high_level_api(clients):
    t, r = clients
    for c in (t, r):
        c.set("name", b"value", ex=100)
        c.mset({"x": 1, "y": 2})
    assert t.get("name") == r.get("name") == b"value"
    assert abs(t.ttl("name") - r.ttl("name")) <= 1
    assert t.mget("x", "y", "z") == r.mget("x", "y", "z")
    assert t.incrbyfloat("x", 0.5) == r.incrbyfloat("x", 0.5)
    assert sorted(t.keys("*")) == sorted(r.keys("*"))
    assert sorted(t.scan_iter(match="*")) == sorted(r.scan_iter(match="*"))
    assert t.exists("x", "y", "nope") == r.exists("x", "y", "nope")
    assert t.ping() is r.ping() is True


def test_redispy_pipeline_transaction(clients):
    results = []
    for c in clients:
        p = c.pipeline(transaction=True)
        p.set("a", "1").incr("a").get("a").incrby("a", 5)
        results.append(p.execute())
    assert results[0] == results[1]
    errors = []
    for c in clients:
        p = c.pipeline(transaction=True)
        p.set("s", "abc").incr("s").get("s")
        try:
            p.execute()
            errors.append(None)
        except redis.exceptions.ResponseError as e:
            errors.append((type(e).__name__, str(e)))
    assert errors[0] == errors[1] and errors[0] is not None


def test_redispy_pipeline_no_transaction(clients):
    results = []
    for c in clients:
        p = c.pipeline(transaction=False)
        for i in range(100):
            p.set("k%d" % i, i)
            p.get("k%d" % i)
        p.dbsize()
        results.append(p.execute())
    assert results[0] == results[1]


def test_redispy_watch(clients):
    t, r = clients
    outcomes = []
    for c in (t, r):
        c.set("w", 1)
        with c.pipeline() as p:
            p.watch("w")
            c.set("w", 2)  # another connection from the pool changes it
            p.multi()
            p.set("w", 3)
            try:
                p.execute()
                outcomes.append("ok")
            except redis.exceptions.WatchError:
                outcomes.append("watch-error")
        outcomes.append(c.get("w"))
    assert outcomes[:2] == outcomes[2:] == ["watch-error", b"2"]


def test_redispy_expiry(clients):
    for args in [("SET", "k", "v", "PX", "60"), ("PEXPIRE", "k", "60")]:
        same(clients, *args)
    time.sleep(0.15)
    same(clients, "GET", "k")
    same(clients, "EXISTS", "k")
