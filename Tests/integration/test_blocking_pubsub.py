"""Blocking commands and pub/sub with several real connections, against Tern and (for the replies) a stock Redis."""

import threading
import time

import pytest
import redis

from respwire import RawConnection


def clients(server, n=2, protocol=2):
    return [redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=10, protocol=protocol) for _ in range(n)]


def blocked_call(fn, *args):
    """Runs fn(*args) in a thread; returns (thread, result box)."""
    box = {}

    def run():
        try:
            box["value"] = fn(*args)
        except Exception as e:  # noqa: BLE001 - the test inspects it
            box["error"] = e
    t = threading.Thread(target=run)
    t.start()
    return t, box


def wait_blocked(r, count, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if r.info("clients")["blocked_clients"] >= count:
            return
        time.sleep(0.01)
    raise AssertionError("clients did not block")


@pytest.mark.parametrize("server_name", ["tern", "redis_server"])
def test_push_from_another_connection_serves_waiters_in_order(request, server_name):
    server = request.getfixturevalue(server_name)
    main, w1, w2 = clients(server, 3)
    main.flushall()
    t1, box1 = blocked_call(w1.blpop, ["bq"], 0)
    wait_blocked(main, 1)
    t2, box2 = blocked_call(w2.blpop, ["other", "bq"], 0)
    wait_blocked(main, 2)
    main.rpush("bq", "first")
    t1.join(5)
    assert box1.get("value") == (b"bq", b"first")
    assert t2.is_alive(), "the second waiter keeps waiting"
    main.rpush("other", "second")
    t2.join(5)
    assert box2.get("value") == (b"other", b"second")
    assert main.info("clients")["blocked_clients"] == 0


@pytest.mark.parametrize("server_name", ["tern", "redis_server"])
def test_fractional_timeout_returns_nil(request, server_name):
    server = request.getfixturevalue(server_name)
    (r,) = clients(server, 1)
    started = time.monotonic()
    assert r.blpop(["nothing-here"], 0.2) is None  # bounded by the client's 10 s socket timeout
    # It did wait (a lower bound only: a slow machine makes it longer, never shorter).
    assert time.monotonic() - started >= 0.15
    assert r.bzpopmin(["nothing-here-z"], 0.05) is None


@pytest.mark.parametrize("server_name", ["tern", "redis_server"])
def test_multi_exec_push_wakes_a_waiter_and_blmove(request, server_name):
    server = request.getfixturevalue(server_name)
    main, w = clients(server, 2)
    main.flushall()
    t, box = blocked_call(w.blmove, "src", "dst", 0, "RIGHT", "LEFT")
    wait_blocked(main, 1)
    p = main.pipeline(transaction=True)
    p.rpush("src", "a", "b")
    p.rpush("src", "c")
    assert p.execute() == [2, 3]
    t.join(5)
    assert box.get("value") == b"c"
    assert main.lrange("dst", 0, -1) == [b"c"]
    assert main.lrange("src", 0, -1) == [b"a", b"b"]


@pytest.mark.parametrize("server_name", ["tern", "redis_server"])
def test_bzpopmax_woken_by_zadd_and_client_unblock(request, server_name):
    server = request.getfixturevalue(server_name)
    main, w = clients(server, 2)
    main.flushall()
    t, box = blocked_call(w.bzpopmax, ["z1", "z2"], 0)
    wait_blocked(main, 1)
    main.zadd("z2", {"a": 1, "b": 2})
    t.join(5)
    assert box.get("value") == (b"z2", b"b", 2.0)
    w_id = w.client_id()
    t, box = blocked_call(w.blpop, ["never"], 0)
    wait_blocked(main, 1)
    assert main.client_unblock(w_id, error=True) is True
    t.join(5)
    assert isinstance(box.get("error"), redis.ResponseError)
    assert "UNBLOCKED" in str(box["error"])


@pytest.mark.parametrize("server_name", ["tern", "redis_server"])
def test_publish_reaches_subscribers_and_patterns(request, server_name):
    server = request.getfixturevalue(server_name)
    pub, sub_client = clients(server, 2)
    p = sub_client.pubsub()
    p.subscribe("news")
    p.psubscribe("n*")
    for _ in range(2):
        assert p.get_message(timeout=2)["type"] in ("subscribe", "psubscribe")
    assert pub.publish("news", "hello") == 2
    got = []
    deadline = time.monotonic() + 3
    while len(got) < 2 and time.monotonic() < deadline:
        m = p.get_message(timeout=0.5)
        if m:
            got.append((m["type"], m["channel"], m["data"]))
    assert sorted(got) == sorted([("message", b"news", b"hello"), ("pmessage", b"news", b"hello")])
    assert pub.pubsub_numsub("news") == [(b"news", 1)]
    assert pub.pubsub_numpat() == 1
    p.close()


def test_resp3_push_and_resp2_subscribed_mode_restriction(tern, redis_server):
    for server in (tern, redis_server):
        with RawConnection(server.port, protocol=3) as sub, RawConnection(server.port) as pub, \
                RawConnection(server.port) as resp2:
            sub.send("SUBSCRIBE", "ch")
            assert sub.read_reply() == (">", [("$", b"subscribe"), ("$", b"ch"), (":", 1)])
            assert pub.call("PUBLISH", "ch", "m") == (":", 1)
            assert sub.read_reply() == (">", [("$", b"message"), ("$", b"ch"), ("$", b"m")])
            assert sub.call("GET", "k")[0] in ("_", "$"), "RESP3 allows commands while subscribed"
            resp2.send("SUBSCRIBE", "ch")
            resp2.read_reply()
            kind, text = resp2.call("GET", "k")
            assert kind == "-" and text.startswith(b"ERR Can't execute 'get'")


def keyevents(server):
    """The key events a short sequence of writes publishes, up to the active expire cycle's 'expired'."""
    main, sub_client = clients(server, 2)
    main.flushall()
    main.config_set("notify-keyspace-events", "KEA")
    try:
        p = sub_client.pubsub()
        p.psubscribe("__keyevent@0__:*")
        assert p.get_message(timeout=5)["type"] == "psubscribe"
        main.rpush("list", "a", "b")
        main.lpop("list")
        main.hset("h", "f", "v")
        main.delete("h")
        main.get("no-such-key")  # keymiss is not in KEA: must not publish
        main.set("watched", "1", px=50)  # last, so that 'expired' comes after every other event
        events = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and b"__keyevent@0__:expired" not in [e[0] for e in events]:
            m = p.get_message(timeout=0.2)
            if m and m["type"] == "pmessage":
                events.append((m["channel"], m["data"]))
        p.close()
        return events
    finally:
        main.config_set("notify-keyspace-events", "")


def test_keyspace_notifications_over_a_real_subscription(tern, redis_server):
    """The same events, in the same order, as a stock Redis for the same writes."""
    t = keyevents(tern)
    r = keyevents(redis_server.ensure_running())
    assert t == r, "tern:  %r\nredis: %r" % (t, r)
    assert (b"__keyevent@0__:set", b"watched") in t
    assert t[-1] == (b"__keyevent@0__:expired", b"watched"), "the active expire cycle fires 'expired'"
