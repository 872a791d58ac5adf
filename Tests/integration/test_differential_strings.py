"""String commands: identical command sequences to Tern and to a stock Redis 7.0, replies compared exactly
(typed RESP2 and RESP3 replies, errors included)."""

import time

import pytest

NOW = int(time.time())
LONG_MAX = "9223372036854775807"
LONG_MIN = "-9223372036854775808"

# Each case is a sequence of commands run on both servers, in order; every reply must match.
# ("@list", key) creates a list key on both (for WRONGTYPE checks). {"cmd": (...), "tol": n} compares integers
# within a tolerance (TTL/PTTL).
CASES = {
    # --- GET / SET
    "get_set_basic": [("GET", "k"), ("SET", "k", "v"), ("GET", "k"), ("SET", "k", "v2"), ("GET", "k"),
                      ("SET", "", ""), ("GET", ""), ("SET", "bin\x00\r\nkey", "bin\x00\r\nval"), ("GET", "bin\x00\r\nkey")],
    "set_nx": [("SET", "k", "v", "NX"), ("SET", "k", "v2", "NX"), ("GET", "k"), ("SET", "k", "v3", "nx"), ("GET", "k")],
    "set_xx": [("SET", "k", "v", "XX"), ("GET", "k"), ("SET", "k", "v"), ("SET", "k", "v2", "XX"), ("GET", "k")],
    "set_get": [("SET", "k", "v", "GET"), ("SET", "k", "v2", "GET"), ("GET", "k"),
                ("SET", "k", "v3", "NX", "GET"), ("SET", "n", "v", "XX", "GET"), ("EXISTS", "n"),
                ("SET", "k", "v4", "XX", "GET"), ("GET", "k")],
    "set_get_wrongtype": [("@list", "l"), ("SET", "l", "v", "GET"), ("TYPE", "l"), ("SET", "l", "v"), ("GET", "l")],
    "set_ex_px": [("SET", "k", "v", "EX", "100"), {"cmd": ("TTL", "k"), "tol": 1}, {"cmd": ("PTTL", "k"), "tol": 1000},
                  ("SET", "k", "v", "PX", "100000"), {"cmd": ("PTTL", "k"), "tol": 1000},
                  ("SET", "k", "v", "ex", "100", "nx"), ("SET", "k", "v", "px", "5000", "XX", "GET")],
    "set_exat_pxat": [("SET", "k", "v", "EXAT", str(NOW + 1000)), ("EXPIRETIME", "k"),
                      ("SET", "k", "v", "PXAT", str((NOW + 1000) * 1000 + 123)), ("PEXPIRETIME", "k"), ("EXPIRETIME", "k"),
                      ("SET", "past", "v", "EXAT", str(NOW - 10)), ("GET", "past"), ("EXISTS", "past"),
                      ("SET", "past", "v", "PXAT", "1"), ("GET", "past")],
    "set_keepttl": [("SET", "k", "v", "EX", "100"), ("SET", "k", "v2", "KEEPTTL"), {"cmd": ("TTL", "k"), "tol": 1},
                    ("GET", "k"), ("SET", "k", "v3"), ("TTL", "k"), ("SET", "k", "v4", "KEEPTTL", "XX", "GET"), ("TTL", "k")],
    "set_errors": [("SET", "k"), ("SET", "k", "v", "EX"), ("SET", "k", "v", "EX", "0"), ("SET", "k", "v", "EX", "-1"),
                   ("SET", "k", "v", "PX", "0"), ("SET", "k", "v", "EX", "abc"), ("SET", "k", "v", "EX", "1.5"),
                   ("SET", "k", "v", "EX", "1", "PX", "1"), ("SET", "k", "v", "NX", "XX"),
                   ("SET", "k", "v", "KEEPTTL", "EX", "10"), ("SET", "k", "v", "EX", "10", "KEEPTTL"),
                   ("SET", "k", "v", "foo"), ("SET", "k", "v", "EX", LONG_MAX), ("SET", "k", "v", "PX", LONG_MAX),
                   ("SET", "k", "v", "EXAT", "0"), ("SET", "k", "v", "PXAT", "-5"), ("SET", "k", "v", "EX", "9223372036854775808"),
                   ("SET", "k", "v", "EXAT", LONG_MAX), ("EXISTS", "k")],
    # --- SETNX SETEX PSETEX
    "setnx": [("SETNX", "k", "v"), ("SETNX", "k", "v2"), ("GET", "k"), ("SETNX", "k"), ("@list", "l"), ("SETNX", "l", "x")],
    "setex": [("SETEX", "k", "100", "v"), ("GET", "k"), {"cmd": ("TTL", "k"), "tol": 1},
              ("SETEX", "k", "0", "v"), ("SETEX", "k", "-5", "v"), ("SETEX", "k", "abc", "v"), ("SETEX", "k", "10"),
              ("SETEX", "k", LONG_MAX, "v"), ("GET", "k")],
    "psetex": [("PSETEX", "k", "100000", "v"), ("GET", "k"), {"cmd": ("PTTL", "k"), "tol": 1000},
               ("PSETEX", "k", "0", "v"), ("PSETEX", "k", "-1", "v"), ("PSETEX", "k", "x", "v"), ("PSETEX", "k", "1")],
    # --- MGET MSET MSETNX
    "mget_mset": [("MSET", "a", "1", "b", "2", "c", "3"), ("MGET", "a", "b", "c", "missing"), ("@list", "l"),
                  ("MGET", "a", "l", "b"), ("MSET", "a"), ("MSET", "a", "1", "b"), ("MSET", "a", "x", "a", "y"),
                  ("GET", "a"), ("MGET",), ("MSET", "l", "now-a-string"), ("TYPE", "l"), ("GET", "l")],
    "msetnx": [("MSETNX", "a", "1", "b", "2"), ("MSETNX", "b", "3", "c", "4"), ("MGET", "a", "b", "c"),
               ("MSETNX", "x", "1", "x", "2"), ("GET", "x"), ("MSETNX", "a"), ("MSETNX", "q", "1", "r")],
    # --- GETSET GETDEL GETEX
    "getset": [("GETSET", "k", "v"), ("GETSET", "k", "v2"), ("GET", "k"), ("SET", "t", "v", "EX", "100"),
               ("GETSET", "t", "w"), ("TTL", "t"), ("@list", "l"), ("GETSET", "l", "x"), ("GETSET", "k")],
    "getdel": [("SET", "k", "v"), ("GETDEL", "k"), ("GETDEL", "k"), ("EXISTS", "k"), ("@list", "l"), ("GETDEL", "l"),
               ("EXISTS", "l"), ("GETDEL",), ("GETDEL", "a", "b")],
    "getex": [("GETEX", "k"), ("SET", "k", "v"), ("GETEX", "k"), ("TTL", "k"), ("GETEX", "k", "EX", "100"),
              {"cmd": ("TTL", "k"), "tol": 1}, ("GETEX", "k", "PX", "200000"), {"cmd": ("PTTL", "k"), "tol": 1000},
              ("GETEX", "k", "EXAT", str(NOW + 500)), ("EXPIRETIME", "k"),
              ("GETEX", "k", "PXAT", str((NOW + 600) * 1000)), ("PEXPIRETIME", "k"),
              ("GETEX", "k", "PERSIST"), ("TTL", "k"), ("GETEX", "k", "EX", "0"), ("GETEX", "k", "EX", "-1"),
              ("GETEX", "k", "EX", "abc"), ("GETEX", "k", "EX", "10", "PX", "10"), ("GETEX", "k", "PERSIST", "EX", "10"),
              ("GETEX", "k", "KEEPTTL"), ("GETEX", "k", "EX"), ("GETEX", "k", "foo"), ("GETEX", "k", "EX", LONG_MAX),
              ("TTL", "k"), ("GETEX", "k", "PXAT", "1"), ("EXISTS", "k"), ("@list", "l"), ("GETEX", "l"),
              ("GETEX", "missing", "EX", "10"), ("GETEX", "missing", "EX", "0")],
    # --- INCR family
    "incr_decr": [("INCR", "n"), ("INCR", "n"), ("DECR", "n"), ("DECR", "m"), ("GET", "n"), ("GET", "m"),
                  ("INCRBY", "n", "10"), ("DECRBY", "n", "-5"), ("INCRBY", "n", "-100"), ("GET", "n"),
                  ("SET", "s", "  1"), ("INCR", "s"), ("SET", "s", "1.5"), ("INCR", "s"), ("SET", "s", "abc"),
                  ("DECR", "s"), ("SET", "s", "007"), ("INCR", "s"), ("SET", "s", "+1"), ("INCR", "s"),
                  ("SET", "s", "-0"), ("INCR", "s"), ("SET", "s", ""), ("INCR", "s"),
                  ("INCRBY", "n", "abc"), ("INCRBY", "n", "1.0"), ("INCRBY", "n", ""), ("DECRBY", "n", "x"),
                  ("INCR",), ("INCR", "a", "b"), ("INCRBY", "n"), ("@list", "l"), ("INCR", "l"), ("INCRBY", "l", "1")],
    "incr_overflow": [("SET", "n", LONG_MAX), ("INCR", "n"), ("INCRBY", "n", "1"), ("GET", "n"), ("SET", "n", LONG_MIN),
                      ("DECR", "n"), ("DECRBY", "n", "1"), ("INCRBY", "n", "-1"), ("SET", "n", "0"),
                      ("DECRBY", "n", LONG_MIN), ("INCRBY", "n", LONG_MIN), ("INCRBY", "n", "9223372036854775808"),
                      ("SET", "n", "9223372036854775808"), ("INCR", "n"), ("SET", "n", LONG_MAX), ("DECRBY", "n", "-1")],
    "incr_keeps_ttl": [("SET", "n", "5", "EX", "100"), ("INCR", "n"), {"cmd": ("TTL", "n"), "tol": 1}, ("GET", "n")],
    "incrbyfloat": [("INCRBYFLOAT", "f", "10.5"), ("INCRBYFLOAT", "f", "0.1"), ("INCRBYFLOAT", "f", "-5"),
                    ("INCRBYFLOAT", "f", "5.0e3"), ("GET", "f"), ("SET", "f", "3.0"), ("INCRBYFLOAT", "f", "0"),
                    ("SET", "f", "10"), ("INCRBYFLOAT", "f", "1.5"), ("INCRBYFLOAT", "f", "-1.5"),
                    ("INCRBYFLOAT", "g", "0.1"), ("INCRBYFLOAT", "g", "0.2"), ("INCRBYFLOAT", "g", "1e-5"),
                    ("INCRBYFLOAT", "h", "1e17"), ("INCRBYFLOAT", "h", "1"), ("INCRBYFLOAT", "i", "-0.0"),
                    ("INCRBYFLOAT", "j", "3.14159265358979323846"), ("INCRBYFLOAT", "k", "5.0E+3"),
                    ("INCRBYFLOAT", "f", "abc"), ("INCRBYFLOAT", "f", ""), ("INCRBYFLOAT", "f", " 1"),
                    ("INCRBYFLOAT", "f", "inf"), ("INCRBYFLOAT", "f", "nan"), ("INCRBYFLOAT", "f", "1e400"),
                    ("SET", "f", "1e308"), ("INCRBYFLOAT", "f", "1e308"), ("SET", "s", "abc"), ("INCRBYFLOAT", "s", "1"),
                    ("SET", "s", "1.5 "), ("INCRBYFLOAT", "s", "1"), ("INCRBYFLOAT", "f"), ("@list", "l"),
                    ("INCRBYFLOAT", "l", "1"), ("SET", "t", "1", "EX", "100"), ("INCRBYFLOAT", "t", "1"),
                    {"cmd": ("TTL", "t"), "tol": 1}],
    # --- APPEND STRLEN
    "append_strlen": [("APPEND", "k", "hello"), ("APPEND", "k", " world"), ("GET", "k"), ("STRLEN", "k"),
                      ("STRLEN", "missing"), ("APPEND", "k", ""), ("SET", "n", "12"), ("APPEND", "n", "3"),
                      ("INCR", "n"), ("STRLEN", "n"), ("@list", "l"), ("APPEND", "l", "x"), ("STRLEN", "l"),
                      ("APPEND", "k"), ("STRLEN",)],
    # --- GETRANGE SUBSTR SETRANGE
    "getrange": [("SET", "k", "This is a string"), ("GETRANGE", "k", "0", "3"), ("GETRANGE", "k", "-3", "-1"),
                 ("GETRANGE", "k", "0", "-1"), ("GETRANGE", "k", "10", "100"), ("GETRANGE", "k", "5", "3"),
                 ("GETRANGE", "k", "-100", "-50"), ("GETRANGE", "k", "-100", "2"), ("GETRANGE", "k", "100", "200"),
                 ("GETRANGE", "k", "-1", "-5"), ("GETRANGE", "k", LONG_MIN, LONG_MAX), ("GETRANGE", "missing", "0", "-1"),
                 ("GETRANGE", "k", "a", "1"), ("GETRANGE", "k", "0"), ("SET", "n", "12345"), ("GETRANGE", "n", "1", "2"),
                 ("SET", "e", ""), ("GETRANGE", "e", "0", "-1"), ("GETRANGE", "e", "0", "0"), ("@list", "l"),
                 ("GETRANGE", "l", "0", "1")],
    "substr": [("SET", "k", "Hello World"), ("SUBSTR", "k", "0", "4"), ("SUBSTR", "k", "-5", "-1"),
               ("SUBSTR", "missing", "0", "1"), ("SUBSTR", "k", "x", "1"), ("SUBSTR", "k", "1")],
    "setrange": [("SET", "k", "Hello World"), ("SETRANGE", "k", "6", "Redis"), ("GET", "k"),
                 ("SETRANGE", "k", "20", "!"), ("GET", "k"), ("STRLEN", "k"), ("SETRANGE", "new", "3", "abc"), ("GET", "new"),
                 ("SETRANGE", "empty", "5", ""), ("EXISTS", "empty"), ("SETRANGE", "k", "0", ""), ("GET", "k"),
                 ("SETRANGE", "k", "-1", "x"), ("SETRANGE", "k", "x", "x"), ("SETRANGE", "k", "536870912", "x"),
                 ("SETRANGE", "k", "536870911", ""), ("SETRANGE", "k", "0"), ("SET", "n", "123"), ("SETRANGE", "n", "1", "9"),
                 ("GET", "n"), ("INCR", "n"), ("@list", "l"), ("SETRANGE", "l", "0", "x"), ("SETRANGE", "l", "0", ""),
                 ("SETRANGE", "missing", "536870912", ""), ("SET", "t", "abc", "EX", "100"), ("SETRANGE", "t", "1", "X"),
                 {"cmd": ("TTL", "t"), "tol": 1}],
    # --- LCS
    "lcs": [("MSET", "key1", "ohmytext", "key2", "mynewtext"), ("LCS", "key1", "key2"), ("LCS", "key1", "key2", "LEN"),
            ("LCS", "key1", "key2", "IDX"), ("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4"),
            ("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"),
            ("LCS", "key1", "key2", "IDX", "WITHMATCHLEN"), ("LCS", "key1", "key2", "LEN", "IDX"),
            ("LCS", "key1", "missing"), ("LCS", "missing", "missing2"), ("LCS", "missing", "missing2", "IDX"),
            ("LCS", "key1", "key2", "MINMATCHLEN", "x"), ("LCS", "key1", "key2", "foo"), ("LCS", "key1"),
            ("LCS", "key1", "key2", "MINMATCHLEN"), ("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "-1"),
            ("MSET", "a", "GTTCCAGGACCCGGTATAGG", "b", "ATGCCAGTCATTTTAGATAGGTAGG"),
            ("LCS", "a", "b"), ("LCS", "a", "b", "IDX", "WITHMATCHLEN"), ("LCS", "a", "a", "LEN"),
            ("@list", "l"), ("LCS", "key1", "l")],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_strings(pair, name):
    pair.run_case(CASES[name])


def test_set_then_get_many(pair):
    for i in range(200):
        pair.cmd("SET", "key:%d" % i, "value:%d" % (i * 7))
    pair.cmd("MGET", *["key:%d" % i for i in range(0, 220, 3)])


def test_large_value(pair):
    big = b"x" * (1 << 20) + b"\x00\xff"
    pair.cmd("SET", "big", big)
    pair.cmd("STRLEN", "big")
    pair.cmd("GETRANGE", "big", "-5", "-1")
    pair.cmd("APPEND", "big", b"tail")
    assert pair.cmd("GET", "big")[1] == big + b"tail"


def test_expired_key_is_gone(pair):
    pair.cmd("SET", "k", "v", "PX", "50")
    pair.cmd("SETEX", "k2", "100", "v")
    pair.cmd("PSETEX", "k3", "30", "v")
    time.sleep(0.15)
    pair.seq([("GET", "k"), ("EXISTS", "k", "k2", "k3"), ("GET", "k3"), ("TTL", "k"), ("STRLEN", "k3")])
