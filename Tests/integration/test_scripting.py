"""Lua scripting, differential against a stock Redis 7.0: EVAL/EVALSHA/EVAL_RO/SCRIPT replies and errors,
RESP2/RESP3 conversions both ways, the sandbox, shebang flags, cmsgpack/struct/cjson/bit byte formats,
scripts inside MULTI, redis-py's Lock, `redis-cli --eval`, and replication of a script's effects (a stock
replica of Tern, a Tern replica of a stock Redis)."""

import os
import subprocess
import tempfile
import time

import pytest
import redis

import respwire

from conftest import REDIS_BIN, TERN_BIN, ServerProcess, backend_args

# Each case: a script and its KEYS/ARGV, run with EVAL on both servers; replies must be identical.
REPLY_CASES = [
    ("return 1", []),
    ("return 3.99", []),
    ("return -3.99", []),
    ("return 'hello'", []),
    ("return true", []),
    ("return false", []),
    ("return nil", []),
    ("return {1, 2.7, 'a', {err='x'}, nil, 3}", []),
    ("return {1, {2, {3, {4, 'deep'}}}}", []),
    ("return {err='MY custom error'}", []),
    ("return {err='noprefix'}", []),
    ("return {ok='fine'}", []),
    ("return {ok='line\\r\\nbreak'}", []),
    ("return redis.error_reply('x')", []),
    ("return redis.error_reply('-CODE text')", []),
    ("return redis.error_reply(1)", []),
    ("return redis.status_reply('PONG')", []),
    ("return redis.status_reply()", []),
    ("return {double=3.5}", []),
    ("return {big_number='123456789012345678901234567890'}", []),
    ("return {verbatim_string={format='txt', string='hello'}}", []),
    ("return {map={a=1}}", []),
    ("return {set={x=true}}", []),
    ("return {KEYS[1], KEYS[2], ARGV[1], ARGV[2]}", ["2", "k1", "k2", "a1", "a2"]),
    ("return #KEYS + #ARGV * 10", ["1", "k", "a", "b"]),
    ("return redis.sha1hex('')", []),
    ("return redis.sha1hex('abc')", []),
    ("return redis.REDIS_VERSION", []),
    ("return redis.REDIS_VERSION_NUM", []),
    ("return redis.replicate_commands()", []),
    ("return redis.breakpoint()", []),
    ("return redis.debug('x')", []),
    ("redis.set_repl(redis.REPL_ALL); return redis.REPL_NONE + redis.REPL_AOF + redis.REPL_REPLICA", []),
    ("return redis.set_repl(7)", []),
    ("return redis.setresp(4)", []),
    ("return redis.log(redis.LOG_WARNING, 'from a test script')", []),
    ("return redis.log(9, 'x')", []),
    ("return redis.log(redis.LOG_NOTICE)", []),
    ("math.randomseed(7); return {math.random(1000), math.random(1000), math.random(5, 10)}", []),
    ("math.randomseed(7); return tostring(math.random())", []),
    ("return math.random(1, 2, 3)", []),
    ("return math.random(0)", []),
    ("math.randomseed(42); return math.random(1000000)", []),
    ("return _VERSION", []),
    ("return type(os)", []),
    ("return type(io)", []),
    ("return loadfile", []),
    ("return dofile", []),
    ("return debug", []),
    ("return a", []),
    ("a = 1", []),
    ("redis.x = 1", []),
    ("cjson.x = 1", []),
    ("string.x = 1", []),
    ("_G.x = 1", []),
    ("error('boom')", []),
    ("error({err='MY x'})", []),
    ("local t = nil; return t.x", []),
    ("return 1 +", []),
    ("return cjson.encode({1, 2, 3})", []),
    ("return cjson.encode({a={b=1}})", []),
    ("return cjson.decode('[1,2,{\"a\":3}]')[3].a", []),
    ("return bit.band(0xff, 0x0f) + bit.lshift(1, 10)", []),
    ("return bit.tohex(65535)", []),
    ("return struct.pack('>i2<I4!4d', -2, 7, 1.5)", []),
    ("return struct.pack('bBhHlLi8I3', -1, 255, -300, 60000, -5, 5, -7, 70000)", []),
    ("return struct.pack('c3sx', 'abcdef', 'zz')", []),
    ("return {struct.unpack('>i2<I4', struct.pack('>i2<I4', -2, 7))}", []),
    ("return {struct.unpack('Bc0', struct.pack('Bc0', 3, 'abc'))}", []),
    ("return struct.size('>i2I4!8d')", []),
    ("return struct.size('s')", []),
    ("return struct.pack('q', 1)", []),
    ("return struct.unpack('i4', 'ab')", []),
    ("return cmsgpack.pack({1, 2, {a=1}}, 1.5, 'x', -1000, 70000, 3000000000, -3000000000)", []),
    ("return cmsgpack.pack(string.rep('a', 40), string.rep('b', 300), true, false, nil, 0.1, -1, -33, -200)", []),
    ("return cmsgpack.pack({}, {[1]=1,[3]=3}, {a={b={c={}}}})", []),
    ("local t = {}; t[1] = t; return cmsgpack.pack(t)", []),
    ("return {cmsgpack.unpack(cmsgpack.pack(1, 'two', {3, 4}, 5.25, -70000))}", []),
    ("return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}", []),
    ("return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}", []),
    ("return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}", []),
    ("return cmsgpack.unpack('\\220')", []),
    ("return cmsgpack.unpack('\\193')", []),
    ("return cmsgpack.pack()", []),
    ("return redis.call()", []),
    ("return redis.pcall()", []),
    ("return redis.call({})", []),
    ("return redis.call('nosuchcommand')", []),
    ("return redis.call('get')", []),
    ("return redis.pcall('get')", []),
    ("return redis.call('config', 'nosuchsub')", []),
    ("return redis.call('multi')", []),
    ("return redis.call('blpop', 'nolist', 0)", []),
    ("return redis.call('subscribe', 'ch')", []),
    ("return redis.call('set', 'n', 0.1), redis.call('get', 'n')", []),
    ("redis.call('set', 'n', 0.1); return redis.call('get', 'n')", []),
    ("redis.call('set', 'n', 10); return redis.call('incrbyfloat', 'n', 1.5)", []),
    ("return redis.call('get', 'missing')", []),
    ("return type(redis.call('get', 'missing'))", []),
    ("redis.call('rpush', 'l', 'a', 'b'); return redis.call('lrange', 'l', 0, -1)", []),
    ("redis.call('rpush', 'l', 'a'); return redis.call('get', 'l')", []),
    ("redis.call('rpush', 'l', 'a'); return redis.pcall('get', 'l')", []),
    ("redis.call('rpush', 'l', 'a'); local r = redis.pcall('get', 'l'); return r.err", []),
    ("return redis.call('ping')", []),
    ("return redis.call('ping').ok", []),
    ("return redis.pcall('set', 'k', 'v', 'bad')", []),
    ("redis.call('hset', 'h', 'f', 'v'); return redis.call('hgetall', 'h')", []),
    ("redis.setresp(3); redis.call('hset', 'h', 'f', 'v'); return redis.call('hgetall', 'h')", []),
    ("redis.setresp(3); redis.call('sadd', 's', 'm'); return redis.call('smembers', 's')", []),
    ("redis.setresp(3); return redis.call('get', 'missing')", []),
    ("redis.setresp(3); return type(redis.call('get', 'missing'))", []),
    ("redis.setresp(3); redis.call('zadd', 'z', 1.5, 'm'); return redis.call('zscore', 'z', 'm')", []),
    ("redis.setresp(3); redis.call('zadd', 'z', 1.5, 'm'); return redis.call('zscore', 'z', 'm').double", []),
    ("redis.setresp(3); return redis.call('exists', 'x') == 0", []),
    ("redis.setresp(3); return true", []),
    ("redis.setresp(3); return false", []),
    ("redis.setresp(3); return {redis.call('hgetall', 'nohash')}", []),
    ("return redis.call('select', 1), redis.call('set', 'in1', 'x')", []),
    ("redis.call('select', 5); redis.call('set', 'in5', 'x'); return redis.call('dbsize')", []),
    ("return redis.call('dbsize')", []),
]


def ids(cases):
    return ["%d:%s" % (i, c[0][:40]) for i, c in enumerate(cases)]


@pytest.mark.parametrize("case", REPLY_CASES, ids=ids(REPLY_CASES))
def test_eval_replies_match_redis(pair, case):
    script, args = case
    numkeys = args[0] if args else "0"
    pair.cmd("EVAL", script, numkeys, *args[1:])


def test_script_error_stops_mid_way_with_earlier_writes_kept(pair):
    pair.err("EVAL", "redis.call('set', 'a', '1'); redis.call('rpush', 'a', 'x'); redis.call('set', 'b', '2')", "0")
    pair.cmd("GET", "a")
    pair.cmd("EXISTS", "b")


def test_eval_argument_errors(pair):
    pair.err("EVAL", "return 1", "2", "a")
    pair.err("EVAL", "return 1", "-1")
    pair.err("EVAL", "return 1", "x")
    pair.err("EVAL", "return 1")
    pair.err("EVALSHA", "abc", "0")
    pair.err("EVALSHA", "0" * 40, "0")


def test_script_cache_commands(pair):
    sha = pair.cmd("SCRIPT", "LOAD", "return 'cached'")
    sha_text = sha[1].decode()
    pair.cmd("EVALSHA", sha_text, "0")
    pair.cmd("EVALSHA", sha_text.upper(), "0")
    pair.cmd("EVALSHA_RO", sha_text, "0")
    pair.cmd("SCRIPT", "EXISTS", sha_text, "0" * 40, sha_text.upper())
    pair.cmd("SCRIPT", "LOAD", "return 1 +")
    pair.cmd("SCRIPT", "FLUSH", "BAD")
    pair.cmd("SCRIPT", "FLUSH", "SYNC")
    pair.cmd("SCRIPT", "EXISTS", sha_text)
    pair.err("EVALSHA", sha_text, "0")
    pair.cmd("SCRIPT", "LOAD", "return 'cached'")
    pair.cmd("SCRIPT", "FLUSH", "ASYNC")
    pair.cmd("SCRIPT", "FLUSH")
    pair.cmd("SCRIPT", "KILL")
    pair.cmd("SCRIPT", "HELP")
    pair.cmd("SCRIPT", "NOSUCH")
    pair.cmd("SCRIPT", "DEBUG", "NO")
    pair.cmd("SCRIPT", "DEBUG", "MAYBE")
    pair.cmd("SCRIPT")
    # EVAL caches what it ran.
    pair.cmd("EVAL", "return 'by eval'", "0")
    sha = pair.cmd("SCRIPT", "LOAD", "return 'by eval'")
    pair.cmd("SCRIPT", "EXISTS", sha[1].decode())


def test_script_debug_yes_is_refused(tern):
    # The Lua debugger is not implemented: Tern refuses to enter it (Redis would answer OK).
    c = tern.connect(protocol=2)
    r = c.call("SCRIPT", "DEBUG", "YES")
    assert r[0] == "-" and b"not supported" in r[1]
    c.close()


SHEBANG_CASES = [
    ("#!lua\nreturn redis.call('set', 'k', 'v')", "0"),
    ("#!lua flags=no-writes\nreturn redis.call('get', 'k')", "0"),
    ("#!lua flags=no-writes\nreturn redis.call('set', 'k', 'v')", "0"),
    ("#!lua flags=no-writes\nreturn redis.pcall('set', 'k', 'v')", "0"),
    ("#!lua flags=no-writes,allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\nreturn 1", "0"),
    ("#!lua flags=\nreturn 2", "0"),
    ("#!lua flags=no-such-flag\nreturn 1", "0"),
    ("#!lua flags=no-writes, allow-oom\nreturn 1", "0"),
    ("#!lua other=1\nreturn 1", "0"),
    ("#!python\nreturn 1", "0"),
    ("#!lua", "0"),
    ("#!lua\n\nerror('on line three')", "0"),
    ("#!lua\nreturn 1 +", "0"),
]


@pytest.mark.parametrize("case", SHEBANG_CASES, ids=ids(SHEBANG_CASES))
def test_shebang_flags_match_redis(pair, case):
    pair.cmd("EVAL", *case)


def test_read_only_commands(pair):
    pair.cmd("SET", "k", "v")
    pair.cmd("EVAL_RO", "return redis.call('get', 'k')", "0")
    pair.err("EVAL_RO", "return redis.call('set', 'k', 'w')", "0")
    pair.err("EVAL_RO", "return redis.call('publish', 'ch', 'm')", "0")
    pair.cmd("EVAL_RO", "return redis.pcall('del', 'k')", "0")
    pair.err("EVAL_RO", "#!lua\nreturn 1", "0")
    pair.cmd("EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0")
    pair.cmd("GET", "k")


def test_scripts_inside_multi(pair):
    pair.cmd("MULTI")
    pair.cmd("EVAL", "return redis.call('incr', 'c')", "0")
    pair.cmd("EVAL", "return redis.call('incr', 'c')", "0")
    pair.cmd("EVAL", "return redis.call('rpush', 'c', 'x')", "0")
    pair.cmd("EXEC")
    pair.cmd("GET", "c")
    pair.cmd("MULTI")
    pair.cmd("EVAL", "return 1 +", "0")
    pair.cmd("EXEC")


def test_script_commands_in_commandstats_and_monitor_order(tern):
    c = tern.connect(protocol=2)
    c.call("CONFIG", "RESETSTAT")
    c.call("EVAL", "redis.call('set', 'x', '1'); return redis.call('get', 'x')", "0")
    info = c.call("INFO", "commandstats")[1].decode()
    assert "cmdstat_eval:calls=1" in info
    assert "cmdstat_set:calls=1" in info and "cmdstat_get:calls=1" in info
    c.close()


def test_keyspace_events_from_scripts(pair):
    sub = pair.connect(protocol=2)
    pair.cmd("CONFIG", "SET", "notify-keyspace-events", "KEA")
    try:
        sub.cmd("SUBSCRIBE", "__keyevent@0__:set")
        pair.cmd("EVAL", "redis.call('set', 'ev', '1'); return 1", "0")
        assert sub.t.read_reply() == sub.r.read_reply()
    finally:
        pair.cmd("CONFIG", "SET", "notify-keyspace-events", "")


def test_readonly_replica_refuses_scripted_writes(tern_proc, redis_server):
    """A Tern replica (of the stock server) refuses writes from scripts with Redis's errors."""
    c = tern_proc.connect(protocol=2)
    assert c.call("REPLICAOF", "127.0.0.1", str(redis_server.port))[0] == "+"
    oracle = ServerProcess("redis-ro", lambda port: [REDIS_BIN, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                                     "--replicaof", "127.0.0.1", str(redis_server.port)]).start()
    try:
        o = oracle.connect(protocol=2)
        for script in ["return redis.call('set', 'k', 'v')", "#!lua\nreturn redis.call('set', 'k', 'v')",
                       "#!lua flags=no-writes\nreturn redis.call('set', 'k', 'v')",
                       "#!lua flags=no-writes\nreturn redis.call('get', 'k')", "return redis.call('get', 'k')"]:
            assert c.call("EVAL", script, "0") == o.call("EVAL", script, "0"), script
        o.close()
    finally:
        oracle.cleanup()
        c.call("REPLICAOF", "NO", "ONE")
        c.close()


def test_redis_py_lock_uses_evalsha(tern):
    r = redis.Redis(host="127.0.0.1", port=tern.port, protocol=2)
    other = redis.Redis(host="127.0.0.1", port=tern.port, protocol=2)
    r.flushall()
    lock = r.lock("resource", timeout=10)
    assert lock.acquire(blocking=False)
    contender = other.lock("resource", timeout=10)
    assert not contender.acquire(blocking=False)
    assert lock.extend(5)
    assert r.pttl("resource") > 10000
    assert lock.reacquire()
    lock.release()
    assert contender.acquire(blocking=False)
    # A holder whose token is no longer the key's value can neither release nor extend (the scripts return 0).
    stale = r.lock("resource", timeout=10)
    stale.local.token = b"not-the-owner"
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        stale.release()
    stale.local.token = b"not-the-owner"
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        stale.extend(5)
    contender.release()
    assert r.exists("resource") == 0
    assert r.script_exists(*[s.sha for s in (lock.lua_release, lock.lua_extend)]) == [True, True]
    r.close()
    other.close()


def test_redis_cli_eval(tern, redis_server):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write("redis.call('set', KEYS[1], ARGV[1])\nreturn {KEYS[1], redis.call('get', KEYS[1]), ARGV[2]}\n")
        path = f.name
    try:
        outputs = []
        for port in (tern.port, redis_server.port):
            out = subprocess.run(["redis-cli", "-p", str(port), "--eval", path, "clikey", ",", "v1", "v2"],
                                 capture_output=True, timeout=10)
            outputs.append(out.stdout)
        assert outputs[0] == outputs[1] and b"v1" in outputs[0]
    finally:
        os.unlink(path)


# --- replication: a script's effects, not the script -------------------------------------------------------

DEADLINE = 30.0
FAST_SYNC = ["--repl-diskless-sync-delay", "0"]

SCRIPTED_WRITES = [
    ("redis.call('set', 'a', '1'); redis.call('incr', 'a'); redis.call('rpush', 'l', 'x', 'y'); return 1", []),
    ("redis.call('set', KEYS[1], ARGV[1], 'EX', 100); return redis.call('ttl', KEYS[1])", ["1", "ttlkey", "v"]),
    ("redis.call('hset', 'h', 'f', math.random(1000)); redis.call('incrbyfloat', 'fl', 1.5); return 1", []),
    ("redis.call('select', 3); redis.call('set', 'in3', 'x'); redis.call('select', 0); redis.call('del', 'a'); return 1", []),
    ("redis.set_repl(redis.REPL_NONE); redis.call('set', 'local-only', '1'); redis.set_repl(redis.REPL_ALL); redis.call('set', 'shared', '1'); return 1", []),
    ("redis.call('sadd', 's', 'a', 'b', 'c'); redis.call('spop', 's'); return 1", []),
    ("redis.call('get', 'nothing'); return 1", []),
]


def dataset(conn, dbs=(0, 3)):
    """Every key's type, value and whether it has a TTL (values compared, not encodings)."""
    out = {}
    for db in dbs:
        conn.execute_command("SELECT", db)
        for key in sorted(conn.keys("*")):
            kind = conn.type(key)
            if kind == b"string":
                v = conn.get(key)
            elif kind == b"list":
                v = conn.lrange(key, 0, -1)
            elif kind == b"hash":
                v = sorted(conn.hgetall(key).items())
            elif kind == b"set":
                v = sorted(conn.smembers(key))
            else:
                v = conn.zrange(key, 0, -1, withscores=True)
            out[(db, key)] = (kind, v, conn.ttl(key) > 0)
    conn.execute_command("SELECT", 0)
    return out


def wait_caught_up(master, replica):
    deadline = time.monotonic() + DEADLINE
    last = None
    while time.monotonic() < deadline:
        mi = master.info("replication")
        ri = replica.info("replication")
        last = (mi, ri)
        if ri.get("master_link_status") == "up" and ri.get("slave_repl_offset") == mi["master_repl_offset"]:
            return
        time.sleep(0.05)
    raise AssertionError("replica not caught up: %r" % (last,))


def run_scripted_writes(conn):
    for script, args in SCRIPTED_WRITES:
        conn.execute_command("EVAL", script, args[0] if args else 0, *args[1:])


@pytest.mark.parametrize("direction", ["stock-replica-of-tern", "tern-replica-of-stock"])
def test_replicas_stay_identical_under_scripted_writes(direction):
    tern_master = direction == "stock-replica-of-tern"
    if tern_master:
        master = ServerProcess("tern-script-master", lambda port: [TERN_BIN, "--port", str(port), "--bind", "127.0.0.1",
                                                                   *backend_args(), *FAST_SYNC]).start()
    else:
        master = ServerProcess("redis-script-master", lambda port: [REDIS_BIN, "--port", str(port), "--bind", "127.0.0.1",
                                                                    "--save", "", *FAST_SYNC]).start()
    if tern_master:
        replica = ServerProcess("redis-script-replica", lambda port: [REDIS_BIN, "--port", str(port), "--bind", "127.0.0.1",
                                                                      "--save", "", "--replicaof", "127.0.0.1",
                                                                      str(master.port)]).start()
    else:
        replica = ServerProcess("tern-script-replica", lambda port: [TERN_BIN, "--port", str(port), "--bind", "127.0.0.1",
                                                                     *backend_args(), "--replicaof", "127.0.0.1",
                                                                     str(master.port)]).start()
    try:
        m = redis.Redis(host="127.0.0.1", port=master.port, socket_timeout=10)
        r = redis.Redis(host="127.0.0.1", port=replica.port, socket_timeout=10)
        wait_caught_up(m, r)
        run_scripted_writes(m)
        wait_caught_up(m, r)
        mine, theirs = dataset(m), dataset(r)
        # set_repl(REPL_NONE) kept that write on the master only.
        assert mine.pop((0, b"local-only"), None) is not None and (0, b"local-only") not in theirs
        assert mine == theirs
        assert (0, b"shared") in mine and (3, b"in3") in mine and (0, b"fl") in mine
        m.close()
        r.close()
    finally:
        replica.cleanup()
        master.cleanup()


def test_script_effects_are_one_multi_exec_unit():
    """The replication stream carries the script's writes (wrapped in MULTI/EXEC), never EVAL itself."""
    import socket
    master = ServerProcess("tern-stream", lambda port: [TERN_BIN, "--port", str(port), "--bind", "127.0.0.1",
                                                        *backend_args(), *FAST_SYNC]).start()
    c = master.connect(protocol=2)
    s = socket.create_connection(("127.0.0.1", master.port), timeout=10)
    s.sendall(b"*3\r\n$8\r\nREPLCONF\r\n$14\r\nlistening-port\r\n$4\r\n9999\r\n")
    s.recv(100)
    s.sendall(b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n")
    data = b""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline and b"state=online" not in c.call("INFO", "replication")[1]:
        data += s.recv(65536)
    c.call("EVAL", "redis.call('set', 'x', '1'); redis.call('set', 'y', '2'); return 1", "0")
    while time.monotonic() < deadline and b"EXEC" not in data:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        data += chunk
    s.close()
    c.close()
    master.cleanup()
    start = data.upper().find(b"*1\r\n$5\r\nMULTI\r\n")
    assert start >= 0, data[-300:]
    stream = data[start:]
    assert b"$3\r\nset\r\n$1\r\nx" in stream and b"$3\r\nset\r\n$1\r\ny" in stream
    assert b"EVAL" not in data.upper().replace(b"EVALSHA", b"")


# --- busy scripts --------------------------------------------------------------------------------------------

def start_busy_pair():
    tern = ServerProcess("tern-busy", lambda port: [TERN_BIN, "--port", str(port), "--bind", "127.0.0.1",
                                                    *backend_args(), "--busy-reply-threshold", "100"]).start()
    stock = ServerProcess("redis-busy", lambda port: [REDIS_BIN, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                                      "--busy-reply-threshold", "100"]).start()
    return tern, stock


def wait_busy(conn):
    """Until PING gets -BUSY (the script passed the threshold); returns that reply."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        r = conn.call("PING")
        if r[0] == "-":
            return r
    raise AssertionError("server never became busy")


def send_eval(conn, script):
    conn.send("EVAL", script, "0")


@pytest.mark.parametrize("writes", [False, True], ids=["read-only-loop", "loop-after-write"])
def test_busy_script_kill_and_shutdown_match_redis(writes):
    tern, stock = start_busy_pair()
    try:
        script = ("redis.call('set', 'w', '1') " if writes else "") + "local i = 0 while true do i = i + 1 end"
        results = []
        for server in (tern, stock):
            runner, other = server.connect(protocol=2), server.connect(protocol=2)
            send_eval(runner, script)
            busy = wait_busy(other)
            seen = [busy, other.call("GET", "w"), other.call("SCRIPT", "FLUSH"), other.call("MULTI"),
                    other.call("EXEC"), other.call("SHUTDOWN"), other.call("SCRIPT", "KILL")]
            if writes:
                try:
                    seen.append(other.call("SHUTDOWN", "NOSAVE"))
                except respwire.ConnectionClosed:
                    seen.append("closed without a reply")
                other.close()
                runner.close()
                server.proc.wait(timeout=DEADLINE)
                seen.append(server.proc.returncode is not None)
            else:
                seen.append(runner.read_reply())
                seen.append(other.call("PING"))
                seen.append(runner.call("EVAL", "return 'after'", "0"))
                other.close()
                runner.close()
            results.append(seen)
        assert results[0] == results[1]
    finally:
        tern.cleanup()
        stock.cleanup()


def test_busy_script_finishes_and_its_unit_replicates(tern_proc):
    """A long script that ends by itself: its caller gets the reply, others get -BUSY meanwhile, and its
    writes from before and after the slices are all there."""
    c = tern_proc.connect(protocol=2)
    assert c.call("CONFIG", "SET", "busy-reply-threshold", "50") == ("+", b"OK")
    assert c.call("CONFIG", "GET", "lua-time-limit") == ("*", [("$", b"lua-time-limit"), ("$", b"50")])
    runner = tern_proc.connect(protocol=2)
    runner.send("EVAL", "redis.call('set', 'before', '1') local t = redis.call('time')[1] + 0 "
                        "local n = 0 while redis.call('time')[1] + 0 < t + 2 do n = n + 1 end "
                        "redis.call('set', 'after', '1') return 'done'", "0")
    assert wait_busy(c) == ("-", b"BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
    assert runner.read_reply() == ("$", b"done")
    assert c.call("MGET", "before", "after") == ("*", [("$", b"1"), ("$", b"1")])
    # The connection works normally afterwards.
    assert runner.call("PING") == ("+", b"PONG")
    runner.close()
    c.close()


# --- functions --------------------------------------------------------------------------------------------------

LIB = """#!lua name=mylib
redis.register_function('f1', function(keys, args) return redis.call('set', keys[1], args[1]) end)
redis.register_function{function_name='f2', callback=function(keys, args) return {#keys, #args, keys[1]} end,
                        flags={'no-writes'}, description='desc'}
redis.register_function('boom', function() error('bad') end)
redis.register_function('typed', function(keys, args) return {err='MINE failed'} end)
"""

FUNCTION_ERRORS = [
    "return 1",
    "#!lua name=x\nreturn 1",
    "#!lua name=x\nredis.call('ping')",
    "#!lua name=x\nredis.register_function('f1', function() end)",
    "#!lua\nx",
    "#!js name=x\nx",
    "#!lua name=x foo=bar\nx",
    "#!lua name=bad-name\nx",
    "#!lua name=x\nredis.register_function('a b', function() end)",
    "#!lua name=x\nredis.register_function('g', 1)",
    "#!lua name=x\nredis.register_function(1, function() end)",
    "#!lua name=x\nredis.register_function('g')",
    "#!lua name=x\nredis.register_function{function_name='g'}",
    "#!lua name=x\nredis.register_function{callback=function() end}",
    "#!lua name=x\nredis.register_function{function_name='g', callback=function() end, flags={'bogus'}}",
    "#!lua name=x\nredis.register_function{function_name='g', callback=function() end, other=1}",
    "#!lua name=x\nredis.register_function('g', function() end) redis.register_function('g', function() end)",
    "#!lua name=x\nreturn 1 +",
    "#!lua name=x\nglobalvar = 1",
]


def functions_sorted(reply):
    """FUNCTION LIST with each library's functions in name order (Redis lists them in its dict's order)."""
    def walk(v):
        kind, body = v
        if kind in ("*", "%", "~") and isinstance(body, list):
            items = [walk(x) if not isinstance(x, tuple) or len(x) != 2 or not isinstance(x[0], tuple) else
                     (walk(x[0]), walk(x[1])) for x in body]
            if items and all(isinstance(x, tuple) and x[0] in ("*", "%") for x in items) and kind == "*" \
                    and any(b"name" in repr(x).encode() for x in items):
                items = sorted(items, key=repr)
            return (kind, items)
        return v
    return walk(reply)


def test_functions_match_redis(pair):
    pair.cmd("FUNCTION", "FLUSH")
    pair.cmd("FUNCTION", "LOAD", LIB)
    pair.cmd("FUNCTION", "LOAD", LIB)
    pair.cmd("FUNCTION", "LIST", norm=functions_sorted)
    pair.cmd("FUNCTION", "LIST", "WITHCODE", norm=functions_sorted)
    pair.cmd("FUNCTION", "LIST", "LIBRARYNAME", "my*", norm=functions_sorted)
    pair.cmd("FUNCTION", "LIST", "LIBRARYNAME", "zz*")
    pair.cmd("FUNCTION", "LIST", "LIBRARYNAME")
    pair.cmd("FUNCTION", "LIST", "BOGUS")
    pair.cmd("FUNCTION", "STATS")
    pair.cmd("FCALL", "f1", "1", "k", "v")
    pair.cmd("GET", "k")
    pair.cmd("FCALL", "f2", "2", "a", "b", "c")
    pair.cmd("FCALL_RO", "f2", "1", "a")
    pair.cmd("FCALL_RO", "f1", "1", "k", "v")
    pair.cmd("FCALL", "boom", "0")
    pair.cmd("FCALL", "typed", "0")
    pair.cmd("FCALL", "nosuch", "0")
    pair.cmd("FCALL", "f1", "5", "k")
    pair.cmd("FCALL", "f1", "-1")
    pair.cmd("FCALL", "f1", "x")
    pair.cmd("FUNCTION", "KILL")
    pair.cmd("FUNCTION", "DELETE", "nolib")
    pair.cmd("FUNCTION", "LOAD", "REPLACE", LIB)
    pair.cmd("FUNCTION", "LOAD", "BOGUS", LIB)
    pair.cmd("FUNCTION", "LOAD", "#!lua name=other\nredis.register_function('f1', function() return 2 end)")
    pair.cmd("FUNCTION", "DELETE", "mylib")
    pair.cmd("FCALL", "f1", "1", "k", "v")
    pair.cmd("FUNCTION", "FLUSH", "BOGUS")
    pair.cmd("FUNCTION", "HELP")
    pair.cmd("FUNCTION", "LOAD", LIB)
    # SCRIPT FLUSH keeps the functions; FUNCTION FLUSH keeps the scripts.
    sha = pair.cmd("SCRIPT", "LOAD", "return 1")[1].decode()
    pair.cmd("SCRIPT", "FLUSH")
    pair.cmd("FCALL", "f2", "0")
    pair.cmd("SCRIPT", "LOAD", "return 1")
    pair.cmd("FUNCTION", "FLUSH", "SYNC")
    pair.cmd("SCRIPT", "EXISTS", sha)
    pair.cmd("FCALL", "f2", "0")
    pair.cmd("FUNCTION", "STATS")


@pytest.mark.parametrize("code", FUNCTION_ERRORS, ids=range(len(FUNCTION_ERRORS)))
def test_function_load_errors_match_redis(pair, code):
    pair.cmd("FUNCTION", "FLUSH")
    pair.cmd("FUNCTION", "LOAD", "#!lua name=held\nredis.register_function('f1', function() end)")
    pair.cmd("FUNCTION", "LOAD", code)
    pair.cmd("FUNCTION", "FLUSH")


def test_function_name_clash_across_libraries(pair):
    pair.cmd("FUNCTION", "FLUSH")
    pair.cmd("FUNCTION", "LOAD", "#!lua name=one\nredis.register_function('shared', function() return 1 end)")
    pair.cmd("FUNCTION", "LOAD", "#!lua name=two\nredis.register_function('shared', function() return 2 end)")
    pair.cmd("FCALL", "shared", "0")
    pair.cmd("FUNCTION", "LOAD", "REPLACE", "#!lua name=one\nredis.register_function('renamed', function() return 3 end)")
    pair.cmd("FCALL", "shared", "0")
    pair.cmd("FCALL", "renamed", "0")
    pair.cmd("FUNCTION", "FLUSH")


def test_function_commands_replicate(tern_proc):
    """FUNCTION LOAD/DELETE/FLUSH go to replicas as themselves, FCALL as its effects: a stock replica of Tern
    ends up with the same libraries and data."""
    m = redis.Redis(host="127.0.0.1", port=tern_proc.port, socket_timeout=10)
    replica = ServerProcess("redis-fn-replica", lambda port: [REDIS_BIN, "--port", str(port), "--bind", "127.0.0.1",
                                                              "--save", "", "--replicaof", "127.0.0.1",
                                                              str(tern_proc.port)]).start()
    try:
        r = redis.Redis(host="127.0.0.1", port=replica.port, socket_timeout=10)
        wait_caught_up(m, r)
        m.function_load(LIB)
        m.fcall("f1", 1, "fk", "fv")
        m.function_load("#!lua name=gone\nredis.register_function('g', function() return 1 end)")
        m.function_delete("gone")
        wait_caught_up(m, r)
        assert r.get("fk") == b"fv"
        assert [lib[b"library_name"] if isinstance(lib, dict) else lib[1] for lib in r.function_list()] == [b"mylib"]
        assert r.fcall_ro("f2", 1, "x") == [1, 0, b"x"]
        m.function_flush()
        wait_caught_up(m, r)
        assert r.function_list() == []
    finally:
        replica.cleanup()


def test_function_dump_restore_across_servers(pair2):
    """A stock Redis's FUNCTION DUMP restores into Tern and Tern's into the stock Redis; errors as Redis's."""
    p = pair2
    p.cmd("FUNCTION", "FLUSH")
    p.cmd("FUNCTION", "LOAD", LIB)
    t_dump, r_dump = p.both("FUNCTION", "DUMP")
    assert t_dump[0] == r_dump[0] == "$"
    # Swap the payloads: each server restores the other's.
    for conn, payload in ((p.t, r_dump[1]), (p.r, t_dump[1])):
        assert conn.call("FUNCTION", "FLUSH") == ("+", b"OK")
        assert conn.call("FUNCTION", "RESTORE", payload) == ("+", b"OK")
    p.cmd("FUNCTION", "LIST", "WITHCODE", norm=functions_sorted)
    p.cmd("FCALL", "f2", "1", "k")
    p.cmd("FUNCTION", "RESTORE", r_dump[1])
    p.cmd("FUNCTION", "RESTORE", r_dump[1], "APPEND")
    p.cmd("FUNCTION", "RESTORE", r_dump[1], "REPLACE")
    p.cmd("FUNCTION", "RESTORE", r_dump[1], "FLUSH")
    p.cmd("FUNCTION", "RESTORE", r_dump[1], "BOGUS")
    p.cmd("FUNCTION", "RESTORE", r_dump[1], "FLUSH", "extra")
    p.cmd("FUNCTION", "RESTORE", b"garbage")
    p.cmd("FUNCTION", "RESTORE", r_dump[1][:-1] + bytes([r_dump[1][-1] ^ 1]))
    p.cmd("FUNCTION", "FLUSH")
    p.cmd("FUNCTION", "DUMP")
    p.cmd("FUNCTION", "FLUSH")


def test_functions_survive_restart_and_full_sync(tmp_path):
    """Libraries go into the RDB (SAVE, full syncs) as FUNCTION2 records: a restarted Tern (memory backend, RDB
    load) and a stock replica of Tern get them, and a Tern replica of a stock Redis gets the stock ones."""
    workdir = str(tmp_path)
    argv = lambda port: [TERN_BIN, "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir, "--save", "3600 1",
                         *FAST_SYNC]
    master = ServerProcess("tern-fn-rdb", argv).start()
    stock_master = None
    tern_replica = None
    try:
        m = redis.Redis(host="127.0.0.1", port=master.port, socket_timeout=10)
        m.function_load(LIB)
        assert m.save()
        # A stock replica full-syncs from Tern.
        stock = ServerProcess("redis-fn-sync", lambda port: [REDIS_BIN, "--port", str(port), "--bind", "127.0.0.1",
                                                             "--save", "", "--replicaof", "127.0.0.1",
                                                             str(master.port)]).start()
        try:
            s = redis.Redis(host="127.0.0.1", port=stock.port, socket_timeout=10)
            wait_caught_up(m, s)
            assert s.fcall_ro("f2", 1, "x") == [1, 0, b"x"]
        finally:
            stock.cleanup()
        master.restart()
        m = redis.Redis(host="127.0.0.1", port=master.port, socket_timeout=10)
        deadline = time.monotonic() + DEADLINE
        while m.info("persistence")["loading"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert m.fcall_ro("f2", 2, "a", "b") == [2, 0, b"a"]
        # A Tern replica of a stock master loads the master's libraries.
        stock_master = ServerProcess("redis-fn-master", lambda port: [REDIS_BIN, "--port", str(port), "--bind", "127.0.0.1",
                                                                      "--save", "", *FAST_SYNC]).start()
        sm = redis.Redis(host="127.0.0.1", port=stock_master.port, socket_timeout=10)
        sm.function_load("#!lua name=stocklib\nredis.register_function{function_name='fromstock', "
                         "callback=function() return 'stock' end, flags={'no-writes'}}")
        tern_replica = ServerProcess("tern-fn-replica", lambda port: [TERN_BIN, "--port", str(port), "--bind", "127.0.0.1",
                                                                      *backend_args(), "--replicaof", "127.0.0.1",
                                                                      str(stock_master.port)]).start()
        tr = redis.Redis(host="127.0.0.1", port=tern_replica.port, socket_timeout=10)
        wait_caught_up(sm, tr)
        assert tr.fcall_ro("fromstock", 0) == b"stock"
    finally:
        for p in (tern_replica, stock_master, master):
            if p is not None:
                p.cleanup()


def test_acl_applies_inside_scripts(pair2):
    """redis.call checks the calling user's ACL rules, with Redis's script texts."""
    p = pair2
    p.cmd("ACL", "SETUSER", "scripter", "on", "nopass", "+eval", "+get", "+set", "+publish", "~allowed*", "resetchannels")
    try:
        p.cmd("AUTH", "scripter", "x")
        p.cmd("EVAL", "return redis.call('set', 'allowed1', 'v')", "0")
        p.cmd("EVAL", "return redis.call('set', 'other', 'v')", "0")
        p.cmd("EVAL", "return redis.call('del', 'allowed1')", "0")
        p.cmd("EVAL", "return redis.pcall('del', 'allowed1')", "0")
        p.cmd("EVAL", "return redis.call('get', 'allowed1')", "0")
        p.cmd("EVAL", "return redis.pcall('publish', 'chan', 'm')", "0")
    finally:
        p.cmd("AUTH", "default", "x")
        p.cmd("ACL", "DELUSER", "scripter")
