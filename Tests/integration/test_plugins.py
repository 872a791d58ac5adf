"""Plugins end to end: linked plugins enabled with `loadplugin` / `--loadplugin`, a plugin built as a shared
object (Plugins/CappedList) loaded with `loadmodule` and MODULE LOAD / UNLOAD, the enable-module-command guard
(compared with a stock redis-server), the toolchain/API stamp check, and replication of plugin writes to a
Tern replica and to a stock redis-server replica. Every server runs on this run's backend (TERN_BACKEND)."""

import os
import subprocess
import tempfile
import time

import pytest
import redis

from conftest import REDIS_BIN, REPO_ROOT, TERN_BIN, ServerProcess, backend_args, tern_argv
from test_replication import wait_in_sync

CAPPEDLIST_PACKAGE = os.path.join(REPO_ROOT, "Plugins", "CappedList")
BUILD_TIMEOUT = 900


@pytest.fixture(scope="session")
def cappedlist_so():
    """The CappedList shared object: TERN_CAPPEDLIST_SO (scripts/test builds it), else built here (a no-op
    when up to date) with the toolchain on PATH, the one that built tern-server."""
    path = os.environ.get("TERN_CAPPEDLIST_SO")
    if path:
        assert os.path.exists(path), path
        return path
    subprocess.run(["swift", "build", "--package-path", CAPPEDLIST_PACKAGE], check=True, timeout=BUILD_TIMEOUT,
                   stdout=subprocess.DEVNULL)
    bin_dir = subprocess.run(["swift", "build", "--package-path", CAPPEDLIST_PACKAGE, "--show-bin-path"],
                             check=True, timeout=120, capture_output=True, text=True).stdout.strip()
    path = os.path.join(bin_dir, "libCappedList.so")
    assert os.path.exists(path), path
    return path


@pytest.fixture(scope="session")
def mismatched_so(tmp_path_factory):
    """A shared object that exports the plugin entry points with another toolchain's stamp (built with cc)."""
    d = tmp_path_factory.mktemp("mismatch")
    src = d / "mismatch.c"
    src.write_text(
        '#include <string.h>\n'
        'static const char stamp[] = "tern-plugin-api 1; swift 5.0";\n'
        'long tern_plugin_abi(unsigned char *b, long n) { long l = sizeof stamp - 1;'
        ' memcpy(b, stamp, l < n ? l : n); return l; }\n'
        'void *tern_plugin_create(void) { return 0; }\n')
    so = d / "libmismatch.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(so), str(src)], check=True, timeout=60)
    return str(so)


def start_tern(name, *extra):
    return ServerProcess(name, lambda port: tern_argv(port, extra)).start()


def client(server, **kw):
    return redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=10, **kw)


def cli(server, *args):
    """redis-cli's output lines for one command (without the empty line it prints after an error)."""
    out = subprocess.run(["redis-cli", "-p", str(server.port), *args], capture_output=True, timeout=20, text=True)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    while lines and lines[-1] == "" and lines[0].startswith("ERR"):
        lines.pop()
    return lines


def startup_failure(*extra):
    """The output and exit status of a tern-server that must refuse to start."""
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run([TERN_BIN, "--port", "0", "--bind", "127.0.0.1", *backend_args(), *extra], cwd=d,
                             capture_output=True, timeout=30, text=True, stdin=subprocess.DEVNULL)
    return out.returncode, out.stdout + out.stderr


def test_linked_plugins_from_the_config_file(tmp_path):
    conf = tmp_path / "plugins.conf"
    conf.write_text("loadplugin ratelimit\nloadplugin keyevents user:\n")
    server = ServerProcess("tern-plugins", lambda port: tern_argv(port, conf=str(conf))).start()
    try:
        assert cli(server, "RATELIMIT.THROTTLE", "user:42", "1", "10", "60") == ["0", "2", "1", "-1", "6"]
        assert cli(server, "ratelimit.throttle", "user:42", "1", "10", "60") == ["0", "2", "0", "-1", "12"]
        assert cli(server, "RATELIMIT.THROTTLE", "user:42", "1", "10", "60") == ["1", "2", "0", "6", "12"]
        c = client(server)
        # Three throttles at 6 s of emission interval each leave 12 s (the bound is generous: a slow
        # machine may take seconds between the throttles and this read).
        assert 6000 < c.pttl("user:42") <= 12000
        assert c.type("user:42") == b"string"
        c.set("other", "1")
        c.set("user:name", "x")
        counts = c.execute_command("KEYEVENTS.COUNTS")
        if isinstance(counts, list):
            counts = dict(zip(counts[::2], counts[1::2]))
        assert counts == {b"keymiss": 1, b"new": 2, b"set": 1}, counts  # keymiss: the first throttle's read
        # A map reply is a RESP3 map, a flat array in RESP2.
        raw3, raw2 = server.connect(protocol=3), server.connect(protocol=2)
        assert raw3.call("KEYEVENTS.COUNTS", "set") == ("*", [(":", 1)])
        assert raw3.call("KEYEVENTS.COUNTS")[0] == "%" and raw2.call("KEYEVENTS.COUNTS")[0] == "*"
        raw3.close()
        raw2.close()
        # redis-py turns each module's map (a flat array in RESP2) into a dict.
        assert c.module_list() == [
            {b"name": b"ratelimit", b"ver": 1, b"path": b"(static)", b"args": []},
            {b"name": b"keyevents", b"ver": 1, b"path": b"(static)", b"args": [b"user:"]},
        ]
        text = "\n".join(cli(server, "INFO", "modules"))
        assert "module:name=ratelimit,ver=1,api=1" in text and "module:name=keyevents,ver=1,api=1" in text, text
        docs = cli(server, "COMMAND", "DOCS", "ratelimit.throttle")
        assert docs[:9] == ["ratelimit.throttle", "summary",
                            "Applies the GCRA rate limit of a key: whether an action is allowed, and when to retry",
                            "since", "1.0.0", "group", "module", "complexity", "O(1)"], docs
        assert docs[9:11] == ["module", "ratelimit"], docs
        assert cli(server, "COMMAND", "LIST", "FILTERBY", "MODULE", "keyevents") in (
            ["keyevents.counts", "keyevents.reset"], ["keyevents.reset", "keyevents.counts"])
        with pytest.raises(redis.ResponseError, match="^wrong number of arguments for 'ratelimit.throttle' command$"):
            c.execute_command("RATELIMIT.THROTTLE", "k", "1")
        with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
            c.execute_command("RATELIMIT.THROTTLE", "k", "1", "x", "60")
        # Inside MULTI the command is queued like any other.
        p = c.pipeline(transaction=True)
        p.execute_command("RATELIMIT.THROTTLE", "tx", "0", "1", "1")
        p.set("after", "1")
        assert p.execute() == [[0, 1, 0, -1, 1], True]
    finally:
        server.cleanup()


def test_loadplugin_on_the_command_line_and_unknown_names():
    server = start_tern("tern-loadplugin", "--loadplugin", "ratelimit")
    try:
        assert cli(server, "RATELIMIT.THROTTLE", "k", "0", "1", "1") == ["0", "1", "0", "-1", "1"]
        assert cli(server, "KEYEVENTS.COUNTS")[0].startswith("ERR unknown command")
    finally:
        server.cleanup()
    status, output = startup_failure("--loadplugin", "nosuch")
    assert status != 0
    assert "no plugin named 'nosuch' is linked into tern-server" in output, output


def test_module_commands_are_guarded_like_redis(redis_server):
    server = start_tern("tern-guarded")
    try:
        redis_server.ensure_running()
        for args in (["MODULE", "LOAD", "/nonexistent.so"], ["MODULE", "UNLOAD", "x"], ["MODULE", "LIST"],
                     ["MODULE", "LOADEX", "/x.so", "ARGS", "a"], ["MODULE", "NOPE"], ["MODULE", "LIST", "x"],
                     ["CONFIG", "GET", "enable-module-command"], ["MODULE", "LOAD"],
                     ["COMMAND", "INFO", "module|load"]):
            assert cli(server, *args) == cli(redis_server, *args), args
    finally:
        server.cleanup()


def test_dynamic_plugin_module_load_and_unload(cappedlist_so, mismatched_so):
    server = start_tern("tern-dynamic", "--enable-module-command", "yes")
    try:
        assert cli(server, "MODULE", "LOAD", cappedlist_so, "3") == ["OK"]
        assert cli(server, "MODULE", "LOAD", cappedlist_so) == ["ERR Error loading the extension. Please check the server logs."]
        assert cli(server, "CAPPEDLIST.PUSH", "recent", "0", "a", "b", "c", "d", "e") == ["3"]
        assert cli(server, "LRANGE", "recent", "0", "-1") == ["e", "d", "c"]
        assert cli(server, "CAPPEDLIST.RANGE", "recent", "2") == ["e", "d"]
        assert cli(server, "CAPPEDLIST.PUSH", "recent", "-1", "x") == ["ERR max must not be negative"]
        c = client(server)
        assert c.module_list() == [{b"name": b"cappedlist", b"ver": 1, b"path": cappedlist_so.encode(), b"args": [b"3"]}]
        assert cli(server, "MODULE", "LIST") == ["name", "cappedlist", "ver", "1", "path", cappedlist_so, "args", "3"]
        assert cli(server, "MODULE", "UNLOAD", "cappedlist") == ["OK"]
        assert cli(server, "CAPPEDLIST.RANGE", "recent")[0].startswith("ERR unknown command")
        assert cli(server, "LRANGE", "recent", "0", "-1") == ["e", "d", "c"], "the data stays"
        assert cli(server, "MODULE", "LOADEX", cappedlist_so, "ARGS", "2") == ["OK"]
        # The plugin's own keyspace event (class d) is published like any other.
        c.config_set("notify-keyspace-events", "Kd")
        sub = client(server).pubsub()
        sub.subscribe("__keyspace@0__:recent")
        assert sub.get_message(timeout=5)["type"] == "subscribe"
        assert cli(server, "CAPPEDLIST.PUSH", "recent", "0", "f") == ["2"]
        message = sub.get_message(timeout=5)
        assert message and message["data"] == b"cappedlist.push", message
        sub.close()
        # Another toolchain's plugin is refused, with the reason in the log.
        assert cli(server, "MODULE", "LOAD", mismatched_so) == ["ERR Error loading the extension. Please check the server logs."]
        deadline = time.monotonic() + 5
        while "was built for tern-plugin-api 1; swift 5.0, but this server is" not in server.log_tail(20000):
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.05)
        assert cli(server, "MODULE", "UNLOAD", "nothing") == ["ERR Error unloading module: no such module with that name"]
        assert cli(server, "PING") == ["PONG"]
    finally:
        server.cleanup()


def test_loadmodule_at_start_up(cappedlist_so, mismatched_so, tmp_path):
    conf = tmp_path / "modules.conf"
    conf.write_text('loadmodule "%s" 2\n' % cappedlist_so)
    server = ServerProcess("tern-loadmodule", lambda port: tern_argv(port, conf=str(conf))).start()
    try:
        assert cli(server, "CAPPEDLIST.PUSH", "k", "0", "a", "b", "c") == ["2"]
        # MODULE UNLOAD is refused while enable-module-command is no.
        assert cli(server, "MODULE", "UNLOAD", "cappedlist")[0].startswith("ERR MODULE command not allowed.")
    finally:
        server.cleanup()
    status, output = startup_failure("--loadmodule", mismatched_so)
    assert status != 0
    assert "was built for tern-plugin-api 1; swift 5.0, but this server is tern-plugin-api 1; swift" in output, output
    status, output = startup_failure("--loadmodule", "/nonexistent/libX.so")
    assert status != 0 and "Module /nonexistent/libX.so failed to load" in output, output


def test_plugin_writes_reach_a_tern_replica(cappedlist_so):
    """Verbatim (CAPPEDLIST.PUSH: the replica loads the plugin too) and explicit effects (RATELIMIT.THROTTLE)."""
    master = start_tern("tern-plugin-master", "--loadplugin", "ratelimit", "--loadmodule", cappedlist_so,
                        "--repl-diskless-sync-delay", "0")
    replica = None
    try:
        replica = start_tern("tern-plugin-replica", "--loadmodule", cappedlist_so, "--loadplugin", "keyevents",
                             "--loadplugin", "ratelimit",
                             "--replicaof", "127.0.0.1", str(master.port))
        m, r = client(master), client(replica)
        m.execute_command("CAPPEDLIST.PUSH", "before", "2", "a", "b", "c")
        wait_in_sync(m, r)
        assert r.lrange("before", 0, -1) == [b"c", b"b"]
        assert m.execute_command("RATELIMIT.THROTTLE", "limiter", "2", "1", "10") == [0, 3, 2, -1, 10]
        m.execute_command("CAPPEDLIST.PUSH", "after", "3", "1", "2", "3", "4")
        wait_in_sync(m, r)
        assert r.lrange("after", 0, -1) == [b"4", b"3", b"2"]
        assert r.get("limiter") == m.get("limiter") and r.get("limiter").isdigit()
        # The effect travels with an absolute expiry time: the same millisecond on both.
        assert r.pexpiretime("limiter") == m.pexpiretime("limiter") > 0
        # The replica observes the keyspace events of the writes it applies.
        counts = r.execute_command("KEYEVENTS.COUNTS", "new")
        assert counts == [3], counts
        with pytest.raises(redis.exceptions.ReadOnlyError):
            r.execute_command("CAPPEDLIST.PUSH", "x", "1", "y")
        with pytest.raises(redis.exceptions.ReadOnlyError):
            r.execute_command("RATELIMIT.THROTTLE", "limiter", "2", "1", "10")
        assert r.execute_command("CAPPEDLIST.RANGE", "after", "1") == [b"4"]
    finally:
        if replica:
            replica.cleanup()
        master.cleanup()


def test_rate_limiter_state_reaches_a_stock_redis_replica():
    """RATELIMIT.THROTTLE replicates as SET ... PXAT, which a stock Redis applies without the plugin."""
    master = start_tern("tern-ratelimit-master", "--loadplugin", "ratelimit", "--repl-diskless-sync-delay", "0")
    replica = None
    try:
        replica = ServerProcess(
            "redis-replica",
            lambda port: ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                          "no", "--replicaof", "127.0.0.1", str(master.port)], executable=REDIS_BIN).start()
        m, r = client(master), client(replica)
        # Back to back (the full sync may take seconds, during which the limiter refills).
        replies = [m.execute_command("RATELIMIT.THROTTLE", "api:1", "5", "30", "60", "2") for _ in range(4)]
        assert replies[2] == [0, 6, 0, -1, 12] and replies[3] == [1, 6, 0, 4, 12], replies  # 2 units: 4 s
        wait_in_sync(m, r)
        assert r.get("api:1") == m.get("api:1")
        assert r.pexpiretime("api:1") == m.pexpiretime("api:1") > 0, "replicated as SET ... PXAT: the same instant"
        # A MULTI of several throttles reaches the replica as one transaction of SETs.
        p = m.pipeline(transaction=True)
        p.execute_command("RATELIMIT.THROTTLE", "api:2", "0", "1", "100")
        p.execute_command("RATELIMIT.THROTTLE", "api:3", "0", "1", "100")
        p.execute()
        wait_in_sync(m, r)
        assert r.mget("api:2", "api:3") == m.mget("api:2", "api:3") and None not in r.mget("api:2", "api:3")
    finally:
        if replica:
            replica.cleanup()
        master.cleanup()
