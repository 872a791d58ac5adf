"""redis-cli against Tern: plain commands, --raw, --pipe mode and INFO. Outputs compared with a stock Redis
where they must be the same."""

import shutil
import subprocess

import pytest

from respwire import encode

REDIS_CLI = shutil.which("redis-cli")
pytestmark = pytest.mark.skipif(REDIS_CLI is None, reason="redis-cli not installed (package redis-tools)")


# Without a terminal redis-cli prints raw replies; --no-raw forces the formatted ("quoted") output.
def cli(server, *args, stdin=None, timeout=60):
    p = subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(server.port), *args], input=stdin,
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def test_set_get(tern_proc, redis_server):
    outs = []
    for server in (tern_proc, redis_server.ensure_running()):
        outs.append([cli(server, "set", "a", "b"), cli(server, "--no-raw", "get", "a"), cli(server, "--raw", "get", "a"),
                     cli(server, "--no-raw", "get", "missing"), cli(server, "--raw", "get", "missing"),
                     cli(server, "set", "greeting", "hello world"), cli(server, "--raw", "get", "greeting"),
                     cli(server, "--no-raw", "incr", "n"), cli(server, "--raw", "incr", "n"), cli(server, "nosuchcommand"),
                     cli(server, "get"), cli(server, "--no-raw", "mget", "a", "missing", "greeting"),
                     cli(server, "del", "a", "greeting", "n")])
        cli(server, "flushall")
    t, r = outs
    assert t[0] == (0, b"OK\n", b"")
    assert t[1] == (0, b'"b"\n', b"")
    assert t[2] == (0, b"b\n", b"")
    for i, (ti, ri) in enumerate(zip(t, r)):
        assert ti == ri, "step %d\n  tern:  %r\n  redis: %r" % (i, ti, ri)


def test_ping_echo(tern_proc):
    assert cli(tern_proc, "ping") == (0, b"PONG\n", b"")
    assert cli(tern_proc, "--no-raw", "echo", "hi there") == (0, b'"hi there"\n', b"")
    assert cli(tern_proc, "--raw", "echo", "hi there") == (0, b"hi there\n", b"")
    assert cli(tern_proc, "-n", "3", "ping") == (0, b"PONG\n", b"")


def test_pipe_mode(tern_proc):
    n = 10000
    stream = b"".join(encode("SET", "key:%d" % i, "value:%d" % i) for i in range(n))
    code, out, err = cli(tern_proc, "--pipe", stdin=stream, timeout=120)
    assert code == 0, (out, err)
    assert b"errors: 0, replies: %d" % n in out, out
    assert cli(tern_proc, "dbsize") == (0, b"%d\n" % n, b"")
    assert cli(tern_proc, "--raw", "get", "key:9999") == (0, b"value:9999\n", b"")


def test_info_server(tern_proc):
    code, out, err = cli(tern_proc, "info", "server")
    assert code == 0, err
    assert b"# Server" in out
    assert b"redis_version:" in out
    code, out, err = cli(tern_proc, "info")
    assert code == 0 and b"redis_version:" in out


def test_interactive_style_stdin(tern_proc):
    """redis-cli reading commands from stdin (one per line), as in `cat cmds | redis-cli`."""
    code, out, err = cli(tern_proc, stdin=b"set x 1\nincr x\nget x\necho done\n")
    assert (code, out) == (0, b"OK\n2\n2\ndone\n"), (code, out, err)
