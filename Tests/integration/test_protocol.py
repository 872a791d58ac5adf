"""Protocol robustness over raw sockets: malformed requests, huge declared lengths, inline commands, pipelining,
requests split across many writes. Where Redis's reply is the reference, the same bytes go to a stock Redis and
the raw replies (and whether the connection was closed) must be identical. After each test the Tern process must
still be alive and answer PING on a new connection."""

import os
import random
import socket
import time

import pytest

from respwire import RawConnection, encode


def exchange(server, data, timeout=2.0):
    """Sends raw bytes on a new connection; returns (reply bytes, closed-by-server)."""
    with RawConnection(server.port) as c:
        c.send_raw(data)
        return c.read_raw_available(timeout=timeout, until_closed=True)


def assert_healthy(server):
    assert server.alive(), "tern-server died\n" + server.log_tail()
    with RawConnection(server.port, timeout=5) as c:
        assert c.call("PING") == ("+", b"PONG")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# Bytes whose handling by Redis 7.0 is the reference: (reply, closed) must match exactly.
DIFFERENTIAL = {
    "invalid_multibulk_length": b"*abc\r\n",
    "multibulk_length_too_big_for_int": b"*3000000000\r\n",
    "expected_dollar": b"*1\r\nx\r\n",
    "expected_dollar_after_arg": b"*2\r\n$4\r\nECHO\r\n:5\r\n",
    "invalid_bulk_length": b"*1\r\n$abc\r\n",
    "negative_bulk_length": b"*1\r\n$-1\r\n",
    "bulk_length_over_proto_max": b"*1\r\n$600000000\r\n",
    "error_after_good_command": b"*1\r\n$4\r\nPING\r\n*x\r\n",
    "empty_multibulk_ignored": b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n",
    "empty_lines_ignored": b"\r\n\r\n\n   \r\nPING\r\n",
    "inline_ping": b"PING\r\n",
    "inline_lf_only": b"PING\nECHO hi\n",
    "inline_args": b"ECHO hello\r\nECHO   spaced    \r\n",
    "inline_quoted": b'ECHO "a b"\r\nECHO \'c d\'\r\nECHO "\\x41\\n\\t\\"q"\r\nECHO \'it\\\'s\'\r\n',
    "inline_empty_quoted": b'ECHO ""\r\n',
    "inline_unbalanced_double": b'ECHO "abc\r\nPING\r\n',
    "inline_unbalanced_single": b"ECHO 'abc\r\nPING\r\n",
    "inline_quote_not_followed_by_space": b'ECHO "a"b\r\nPING\r\n',
    "inline_unknown_command": b"NOSUCH a b\r\n",
    "inline_arity": b"ECHO\r\nPING a b\r\n",
    "bulk_longer_than_declared": b"*2\r\n$4\r\nECHO\r\n$3\r\nabcde\r\n",
    "short_bulk_length": b"*1\r\n$1\r\nPING\r\n",
    "case_insensitive_names": b"*1\r\n$4\r\npInG\r\n",
    "binary_args": b"*2\r\n$4\r\nECHO\r\n$4\r\n\x00\r\n\xff\r\n",
    "multibulk_then_inline": b"*1\r\n$4\r\nPING\r\nECHO x\r\n*2\r\n$4\r\nECHO\r\n$1\r\ny\r\n",
}


@pytest.mark.parametrize("name", sorted(DIFFERENTIAL))
def test_same_bytes_same_reply(name, tern_proc, redis_server):
    data = DIFFERENTIAL[name]
    t = exchange(tern_proc, data)
    r = exchange(redis_server.ensure_running(), data)
    assert t == r, "%s\n  tern:  %r\n  redis: %r" % (data, t, r)
    assert_healthy(tern_proc)


def test_huge_multibulk_count_is_rejected(tern_proc):
    """Tern by design, not Redis: Redis 7.0 accepts a multibulk count up to INT_MAX from an authenticated
    client (with no requirepass every client is) and waits for the elements, reserving memory as they come.
    Tern caps a request at 1024*1024 arguments (the bound Redis 7.0 applies to unauthenticated clients) so
    that one connection cannot announce an unbounded request; the reply text is Redis's for a bad count."""
    before = rss_kib(tern_proc.proc.pid)
    reply, closed = exchange(tern_proc, b"*1048577\r\n", timeout=3)
    assert reply == b"-ERR Protocol error: invalid multibulk length\r\n"
    assert closed
    assert rss_kib(tern_proc.proc.pid) - before < 64 * 1024
    assert_healthy(tern_proc)


def test_huge_bulk_length_is_rejected(tern_proc, redis_server):
    """Over proto-max-bulk-len (512 MB) and past a 64-bit integer: the same bytes and close as Redis."""
    for data in (b"*1\r\n$600000000\r\n", b"*2\r\n$3\r\nGET\r\n$99999999999999999999\r\n"):
        t = exchange(tern_proc, data, timeout=3)
        r = exchange(redis_server.ensure_running(), data, timeout=3)
        assert t == r == (b"-ERR Protocol error: invalid bulk length\r\n", True), (data, t, r)
    assert_healthy(tern_proc)


def test_large_declared_bulk_does_not_preallocate(tern_proc):
    """A declared 400 MB argument (allowed) with only 1 MB sent: memory must not jump by the declared size."""
    pid = tern_proc.proc.pid
    before = rss_kib(pid)
    conns = []
    for _ in range(3):
        c = RawConnection(tern_proc.port)
        c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$400000000\r\n" + b"x" * (1 << 20))
        conns.append(c)
    # The event, not a sleep: the server has read each connection's megabyte (CLIENT LIST qbuf), so the
    # memory it would have reserved for the declared size would show now.
    with RawConnection(tern_proc.port) as admin:
        deadline = time.monotonic() + 30
        while True:
            listing = admin.call("CLIENT", "LIST")[1].decode()
            qbufs = [int(f.split("=")[1]) for line in listing.splitlines() for f in line.split() if f.startswith("qbuf=")]
            if sum(1 for q in qbufs if q >= 1 << 20) >= 3:
                break
            assert time.monotonic() < deadline, "the server did not read the partial requests: " + listing
            time.sleep(0.02)
    grown = rss_kib(pid) - before
    for c in conns:
        c.close()
    assert grown < 200 * 1024, "RSS grew by %d KiB" % grown
    assert_healthy(tern_proc)


def test_huge_header_line_without_newline(tern_proc, redis_server):
    data = b"*" + b"1" * (70 * 1024)
    t = exchange(tern_proc, data)
    r = exchange(redis_server.ensure_running(), data)
    assert t == r == (b"-ERR Protocol error: too big mbulk count string\r\n", True), (t, r)
    data = b"*1\r\n$" + b"1" * (70 * 1024)
    t = exchange(tern_proc, data)
    r = exchange(redis_server, data)
    assert t == r == (b"-ERR Protocol error: too big bulk count string\r\n", True), (t, r)
    data = b"PING" + b" " * (70 * 1024)
    t = exchange(tern_proc, data)
    r = exchange(redis_server, data)
    assert t == r == (b"-ERR Protocol error: too big inline request\r\n", True), (t, r)
    assert_healthy(tern_proc)


def replies_to(server, chunks, count):
    """Sends `chunks` one write each on a new connection; returns the first `count` typed replies."""
    with RawConnection(server.port) as c:
        for chunk in chunks:
            c.send_raw(chunk)
        return [c.read_reply() for _ in range(count)]


def test_pipeline_1000_in_one_write(tern_proc, redis_server):
    data = b"".join(encode("ECHO", "msg-%d" % i) if i % 3 else encode("PING") for i in range(1000))
    t = replies_to(tern_proc, [data], 1000)
    assert t == replies_to(redis_server.ensure_running(), [data], 1000)
    assert t[1] == ("$", b"msg-1") and t[999] == ("+", b"PONG") and len(set(t)) == 667
    assert_healthy(tern_proc)


def test_pipeline_1000_differential(tern, redis_server):
    """A mixed pipeline (writes, reads, errors) in one write: byte-identical reply streams."""
    cmds = []
    for i in range(1000):
        k = "k%d" % (i % 37)
        cmds.append([("SET", k, "v%d" % i), ("GET", k), ("INCR", "counter"), ("APPEND", k, "x"), ("ECHO", k),
                     ("INCR", k), ("NOSUCH", k), ("GET",)][i % 8])
    data = b"".join(encode(*c) for c in cmds)
    replies = []
    for server in (tern, redis_server.ensure_running()):
        with RawConnection(server.port) as c:
            c.call("FLUSHALL")
            c.send_raw(data)
            replies.append([c.read_reply() for _ in cmds])
    for i, (t, r) in enumerate(zip(*replies)):
        assert t == r, "command %d %r\n  tern:  %r\n  redis: %r" % (i, cmds[i], t, r)


def test_request_split_byte_by_byte(tern_proc, redis_server):
    data = encode("ECHO", "split across many writes") + b"PING\r\n" + encode("ECHO", b"\x00\r\n" * 5)
    chunks = [data[i : i + 1] for i in range(len(data))]  # TCP_NODELAY: one segment per write, mostly
    t = replies_to(tern_proc, chunks, 3)
    assert t == replies_to(redis_server.ensure_running(), chunks, 3)
    assert t == [("$", b"split across many writes"), ("+", b"PONG"), ("$", b"\x00\r\n" * 5)]
    assert_healthy(tern_proc)


def test_large_argument_in_chunks(tern_proc, redis_server):
    payload = bytes(random.Random(7).getrandbits(8) for _ in range(300_000))
    data = encode("ECHO", payload)
    chunks = [data[i : i + 7919] for i in range(0, len(data), 7919)]
    assert replies_to(tern_proc, chunks, 1) == replies_to(redis_server.ensure_running(), chunks, 1) == [("$", payload)]
    assert_healthy(tern_proc)


def test_disconnect_mid_request(tern_proc):
    for data in [b"*3\r\n$3\r\nSET\r\n$1\r\nk", b"*2\r\n$4\r\nECHO\r\n$100\r\nabc", b"PING", b"*5\r\n"]:
        c = RawConnection(tern_proc.port)
        c.send_raw(data)
        c.close()
    # reset by peer with unread replies pending
    c = RawConnection(tern_proc.port)
    c.send_raw(encode("ECHO", "x" * 100_000) * 50)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    c.close()
    # The event: the server has dealt with every one of those connections (only ours is left).
    with RawConnection(tern_proc.port) as admin:
        deadline = time.monotonic() + 30
        while admin.call("CLIENT", "LIST")[1].count(b"\n") > 1:
            assert time.monotonic() < deadline, "connections left open: %r" % admin.call("CLIENT", "LIST")[1]
            time.sleep(0.02)
    assert_healthy(tern_proc)


def test_random_garbage_does_not_crash(tern_proc):
    rng = random.Random(20240601)
    alphabet = b"*$\r\n-+:0123456789abcPING \"'\\x"
    for _ in range(200):
        n = rng.randint(1, 200)
        if rng.random() < 0.5:
            data = bytes(rng.choice(alphabet) for _ in range(n))
        else:
            data = bytes(rng.getrandbits(8) for _ in range(n))
        with RawConnection(tern_proc.port, timeout=5) as c:
            c.send_raw(data)
            c.read_raw_available(timeout=0.02)
    assert_healthy(tern_proc)


def test_many_connections(tern_proc):
    conns = [RawConnection(tern_proc.port) for _ in range(200)]
    try:
        for i, c in enumerate(conns):
            c.send("ECHO", str(i))
        for i, c in enumerate(conns):
            assert c.read_reply() == ("$", str(i).encode())
    finally:
        for c in conns:
            c.close()
    assert_healthy(tern_proc)


def test_protocol_error_closes_only_that_connection(tern_proc):
    with RawConnection(tern_proc.port) as good:
        assert good.call("PING") == ("+", b"PONG")
        reply, closed = exchange(tern_proc, b"*abc\r\n")
        assert closed
        assert good.call("ECHO", "still here") == ("$", b"still here")
