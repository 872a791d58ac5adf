"""Server and connection commands, generic errors and transactions: Tern vs a stock Redis 7.0.

Replies are compared exactly, except where the values legitimately differ (TIME, client ids, COMMAND COUNT):
there only the shape is compared."""

import time

import pytest

from respwire import RawConnection, ConnectionClosed, is_error, value

LONG_MAX = "9223372036854775807"

CASES = {
    "ping_echo": [("PING",), ("PING", "hello"), ("PING", ""), ("PING", "a", "b"), ("ping",), ("PiNg", "x"),
                  ("ECHO", "hi"), ("ECHO", ""), ("ECHO", b"\x00\xff\r\n"), ("ECHO",), ("ECHO", "a", "b")],
    "select": [("SELECT", "0"), ("SELECT", "15"), ("SELECT", "16"), ("SELECT", "-1"), ("SELECT", "abc"),
               ("SELECT", "1.5"), ("SELECT", LONG_MAX), ("SELECT",), ("SELECT", "1", "2"), ("SELECT", " 1")],
    "select_isolates": [("SET", "k", "db0"), ("SELECT", "7"), ("GET", "k"), ("SET", "k", "db7"), ("SELECT", "0"),
                        ("GET", "k"), ("SELECT", "7"), ("GET", "k")],
    "unknown_command": [("NOSUCHCOMMAND",), ("NOSUCHCOMMAND", "a", "b"), ("nosuch", "with space", "x" * 200),
                        ("", "a"), ("GET\x00", "k")],
    "arity_errors": [("GET",), ("GET", "a", "b"), ("SET", "a"), ("MGET",), ("DEL",), ("EXISTS",), ("EXPIRE", "k"),
                     ("TTL",), ("RENAME", "a"), ("ECHO",), ("SELECT",), ("INCRBY", "k"), ("STRLEN", "a", "b"),
                     ("DBSIZE", "x"), ("RANDOMKEY", "x"), ("SWAPDB", "0"), ("MULTI", "x"), ("EXEC", "x"),
                     ("DISCARD", "x"), ("TIME", "x"), ("LCS", "a"), ("get",), ("GeT", "a", "b")],
    "not_an_integer": [("SET", "k", "v"), ("EXPIRE", "k", "abc"), ("EXPIRE", "k", "1e3"), ("INCRBY", "k", "1"),
                       ("INCRBY", "n", "one"), ("SETRANGE", "k", "one", "x"), ("GETRANGE", "k", "0", "one"),
                       ("SELECT", "one"), ("MOVE", "k", "one"), ("SETEX", "k", "one", "v"), ("PEXPIRE", "k", ""),
                       ("EXPIRE", "k", " 10"), ("EXPIRE", "k", "10 ")],
    "config_subcommands": [("CONFIG",), ("CONFIG", "FOO"), ("CONFIG", "GET"), ("CONFIG", "GET", "nosuchparam"),
                           ("CONFIG", "SET", "nosuchparam", "1"), ("CONFIG", "SET", "maxmemory"),
                           ("CONFIG", "SET", "hz", "abc"), ("CONFIG", "RESETSTAT", "x")],
    "client_name": [("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", "myname"), ("CLIENT", "GETNAME"),
                    ("CLIENT", "SETNAME", "has space"), ("CLIENT", "SETNAME", "new\nline"), ("CLIENT", "GETNAME"),
                    ("CLIENT", "SETNAME", ""), ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME"), ("CLIENT", "GETNAME", "x"),
                    ("CLIENT", "SETNAME", "a", "b"), ("CLIENT", "NOSUCH"), ("CLIENT",), ("client", "setname", "lower"),
                    ("CLIENT", "GETNAME")],
    "client_reply_errors": [("CLIENT", "REPLY"), ("CLIENT", "REPLY", "MAYBE"), ("CLIENT", "REPLY", "ON"),
                            ("CLIENT", "REPLY", "ON", "x")],
    "auth_errors": [("AUTH", "secret"), ("AUTH", "default", "secret"), ("AUTH", "nouser", "secret"),
                    ("AUTH", "a", "b", "c"), ("AUTH",), ("PING",)],
    "hello_errors": [("HELLO", "4"), ("HELLO", "1"), ("HELLO", "abc"), ("HELLO", "3", "AUTH", "nouser", "wrong"),
                     ("HELLO", "3", "AUTH", "default"), ("HELLO", "2", "FOO"), ("HELLO", "2", "SETNAME", "bad name"),
                     ("HELLO", "2", "SETNAME"), ("CLIENT", "GETNAME")],
    "command_info_get": [("COMMAND", "INFO", "get"), ("COMMAND", "INFO", "GET"), ("COMMAND", "INFO", "nosuchcmd"),
                         ("COMMAND", "INFO", "get", "nosuchcmd", "set"), ("COMMAND", "INFO", "mget"),
                         ("COMMAND", "INFO", "ping"), ("COMMAND", "INFO", "expire"), ("COMMAND", "FOO")],
    "multi_exec": [("MULTI",), ("SET", "a", "1"), ("INCR", "a"), ("GET", "a"), ("PING",), ("EXEC",), ("GET", "a")],
    "multi_discard": [("SET", "a", "1"), ("MULTI",), ("SET", "a", "2"), ("DISCARD",), ("GET", "a"), ("DISCARD",),
                      ("EXEC",)],
    "multi_nested": [("MULTI",), ("MULTI",), ("SET", "a", "1"), ("EXEC",), ("GET", "a")],
    "multi_queue_error": [("MULTI",), ("SET", "a", "1"), ("SET", "a"), ("NOSUCHCOMMAND",), ("EXEC",), ("GET", "a"),
                          ("EXEC",)],
    "multi_runtime_error": [("SET", "s", "abc"), ("MULTI",), ("INCR", "s"), ("SET", "b", "2"), ("INCRBY", "b", "x"),
                            ("EXEC",), ("GET", "b"), ("GET", "s")],
    "multi_empty": [("MULTI",), ("EXEC",), ("MULTI",), ("DISCARD",)],
    "multi_select": [("MULTI",), ("SELECT", "2"), ("SET", "k", "in2"), ("EXEC",), ("GET", "k"), ("SELECT", "0"),
                     ("GET", "k")],
    "multi_watch": [("SET", "w", "1"), ("WATCH", "w"), ("SET", "w", "2"), ("MULTI",), ("SET", "x", "1"), ("EXEC",),
                    ("GET", "x"), ("WATCH", "w"), ("MULTI",), ("WATCH", "w"), ("SET", "x", "2"), ("EXEC",), ("GET", "x"),
                    ("UNWATCH",), ("WATCH",)],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_server(pair, name):
    pair.run_case(CASES[name])


def test_multi_watch_other_client(pair):
    other = pair.connect()
    pair.seq([("SET", "w", "1"), ("WATCH", "w")])
    other.cmd("SET", "w", "changed")
    pair.seq([("MULTI",), ("GET", "w"), ("EXEC",)])
    pair.seq([("WATCH", "w"), ("MULTI",), ("GET", "w"), ("EXEC",)])


def test_multi_isolated_from_other_client(pair):
    other = pair.connect()
    pair.seq([("MULTI",), ("SET", "k", "v"), ("INCR", "n")])
    other.cmd("GET", "k")
    other.cmd("EXISTS", "n")
    pair.cmd("EXEC")
    other.cmd("MGET", "k", "n")


def test_time_shape(pair):
    t, r = pair.both("TIME")
    for reply in (t, r):
        assert reply[0] == "*" and len(reply[1]) == 2, reply
        assert all(x[0] == "$" and x[1].isdigit() for x in reply[1]), reply
    ts = int(t[1][0][1]) + int(t[1][1][1]) / 1e6
    rs = int(r[1][0][1]) + int(r[1][1][1]) / 1e6
    assert abs(ts - rs) < 2, (ts, rs)
    assert 0 <= int(t[1][1][1]) < 1_000_000
    assert abs(ts - time.time()) < 5


# Directives both servers know. Redis-only ones (save, appendonly, appendfsync, lazyfree-*, maxmemory-samples)
# are absent from Tern on purpose: it doesn't invent directives it doesn't honour (RDB/AOF persistence
# and eviction sampling are later issues), so CONFIG GET of them is an empty reply there.
COMMON_CONFIG = ["maxmemory", "maxmemory-policy", "timeout", "databases", "maxclients", "hz", "proto-max-bulk-len",
                 "client-query-buffer-limit", "requirepass", "tcp-keepalive",
                 "protected-mode", "slowlog-log-slower-than", "slowlog-max-len",
                 "bind", "tcp-backlog", "loglevel", "latency-monitor-threshold", "repl-backlog-size",
                 "repl-ping-replica-period", "notify-keyspace-events", "client-output-buffer-limit"]


@pytest.mark.parametrize("param", COMMON_CONFIG)
def test_config_get_common(pair, param):
    pair.cmd("CONFIG", "GET", param)


def test_config_get_several(pair):
    pair.cmd("CONFIG", "GET", "maxmemory", "timeout", "hz", unordered="pairs")
    pair.cmd("CONFIG", "GET", "HZ")


def test_config_set_roundtrip(pair):
    pair.seq([("CONFIG", "SET", "hz", "20"), ("CONFIG", "GET", "hz"), ("CONFIG", "SET", "hz", "10"),
              ("CONFIG", "GET", "hz")])


def _hello_norm(reply):
    """HELLO: everything compared except the client id."""
    if reply[0] in "%*" and reply[1]:
        items = reply[1] if reply[0] == "%" else list(zip(reply[1][0::2], reply[1][1::2]))
        return [(k, ("id", "?") if value(k) == b"id" else v) for k, v in items]
    return reply


def test_hello_shapes(pair):
    pair.cmd("HELLO", norm=_hello_norm)
    pair.cmd("HELLO", "2", norm=_hello_norm)
    pair.cmd("HELLO", "3", norm=_hello_norm)
    pair.cmd("PING")  # now RESP3 on both
    pair.cmd("GET", "missing")
    pair.cmd("HELLO", "3", "SETNAME", "conn1", norm=_hello_norm)
    pair.cmd("CLIENT", "GETNAME")
    pair.cmd("HELLO", "2", norm=_hello_norm)
    pair.cmd("GET", "missing")
    # without requirepass the default user takes any password
    pair.cmd("HELLO", "2", "AUTH", "default", "whatever", norm=_hello_norm)


def test_hello3_reply_is_a_map(pair):
    t, _ = pair.both("HELLO", "3")
    assert t[0] == "%", t
    keys = [value(k) for k, _ in t[1]]
    assert keys == [b"server", b"version", b"proto", b"id", b"mode", b"role", b"modules"], keys
    fields = {value(k): v for k, v in t[1]}
    assert fields[b"proto"] == (":", 3)
    assert fields[b"id"][0] == ":" and fields[b"id"][1] > 0


def test_client_id_shape(pair):
    t, r = pair.both("CLIENT", "ID")
    assert t[0] == r[0] == ":" and t[1] > 0
    other = pair.connect()
    t2, _ = other.both("CLIENT", "ID")
    assert t2[0] == ":" and t2[1] > t[1]  # ids increase with each new connection
    t3, _ = pair.both("CLIENT", "ID")
    assert t3 == t
    pair.cmd("CLIENT", "ID", "x")


def test_client_reply_off_skip(pair):
    for conn in (pair.t, pair.r):
        conn.send("CLIENT", "REPLY", "OFF")
        conn.send("SET", "k", "v")
        conn.send("PING")
        conn.send("CLIENT", "REPLY", "ON")
        assert conn.read_reply() == ("+", b"OK")
        conn.send("CLIENT", "REPLY", "SKIP")
        conn.send("PING", "skipped")
        conn.send("PING", "seen")
    t, r = pair.t.read_reply(), pair.r.read_reply()
    assert t == r, (t, r)
    pair.cmd("GET", "k")


def test_command_count_shape(pair):
    t, r = pair.both("COMMAND", "COUNT")
    assert t[0] == ":" and t[1] > 10, t
    pair.cmd("COMMAND", "COUNT", "x")


def test_command_list_contains_core(pair):
    t, _ = pair.both("COMMAND")
    assert t[0] == "*", t
    names = {value(entry)[0] for entry in t[1]}
    for name in [b"get", b"set", b"ping", b"echo", b"select", b"multi", b"exec", b"del", b"expire", b"scan"]:
        assert name in names, name


def test_quit(pair):
    for conn in (pair.t, pair.r):
        conn.send("SET", "before", "quit")
        assert conn.read_reply() == ("+", b"OK")
        assert conn.call("QUIT") == ("+", b"OK")
        data, closed = conn.read_raw_available(timeout=3.0, until_closed=True)
        assert data == b"" and closed
    fresh = pair.connect()
    fresh.cmd("GET", "before")


def test_quit_pipelined(pair):
    for conn in (pair.t, pair.r):
        conn.send_raw(b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n")
    t, tc = pair.t.read_raw_available(timeout=3.0, until_closed=True)
    r, rc = pair.r.read_raw_available(timeout=3.0, until_closed=True)
    assert (t, tc) == (r, rc) == (b"+PONG\r\n+OK\r\n", True)


def test_reset(pair):
    pair.seq([("SELECT", "3"), ("SET", "k", "in3"), ("CLIENT", "SETNAME", "before-reset"), ("MULTI",), ("SET", "x", "1"),
              ("RESET",), ("GET", "k"), ("CLIENT", "GETNAME"), ("EXEC",), ("EXISTS", "x"), ("RESET", "x")])
    pair.cmd("HELLO", "3", norm=_hello_norm)
    pair.cmd("RESET")
    pair.cmd("GET", "missing")  # back to RESP2 null after RESET
    # CLIENT REPLY OFF is cleared by RESET (whose own reply is sent)
    for conn in (pair.t, pair.r):
        conn.send("CLIENT", "REPLY", "OFF")
        conn.send("PING", "unseen")
        conn.send("RESET")
        conn.send("PING", "seen")
    t, _ = pair.t.read_raw_available(timeout=1.0)
    r, _ = pair.r.read_raw_available(timeout=1.0)
    assert t == r, (t, r)


def test_wrongtype_message(pair):
    pair.make_list("l")
    r = pair.err("GET", "l")
    assert r[1] == b"WRONGTYPE Operation against a key holding the wrong kind of value"


def test_error_reply_texts_exact(pair2):
    # A few error texts spelled out, so that a wrong oracle would also be noticed.
    assert pair2.err("NOSUCHCOMMAND", "a")[1] == b"ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'a' "
    assert pair2.err("GET")[1] == b"ERR wrong number of arguments for 'get' command"
    assert pair2.err("SELECT", "99")[1] == b"ERR DB index is out of range"
    assert pair2.err("EXEC")[1] == b"ERR EXEC without MULTI"
