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


def both(tern_proc, redis_server, *args, **kw):
    """redis-cli's (status, stdout, stderr) against Tern and against the stock Redis, asserted identical."""
    t = cli(tern_proc, *args, **kw)
    r = cli(redis_server.ensure_running(), *args, **kw)
    assert t == r, "redis-cli %s\n  tern:  %r\n  redis: %r" % (" ".join(map(str, args)), t, r)
    return t


def test_ping_echo(tern_proc, redis_server):
    assert both(tern_proc, redis_server, "ping") == (0, b"PONG\n", b"")
    assert both(tern_proc, redis_server, "--no-raw", "echo", "hi there") == (0, b'"hi there"\n', b"")
    assert both(tern_proc, redis_server, "--raw", "echo", "hi there") == (0, b"hi there\n", b"")
    assert both(tern_proc, redis_server, "-n", "3", "ping") == (0, b"PONG\n", b"")


def test_pipe_mode(tern_proc, redis_server):
    n = 10000
    stream = b"".join(encode("SET", "key:%d" % i, "value:%d" % i) for i in range(n))
    for server in (tern_proc, redis_server.ensure_running()):
        cli(server, "flushall")
        code, out, err = cli(server, "--pipe", stdin=stream, timeout=120)
        assert code == 0, (out, err)
        # The summary line is redis-cli's own; what it counted comes from the server's replies.
        assert b"errors: 0, replies: %d" % n in out, out
    assert both(tern_proc, redis_server, "dbsize") == (0, b"%d\n" % n, b"")
    assert both(tern_proc, redis_server, "--raw", "get", "key:9999") == (0, b"value:9999\n", b"")
    cli(redis_server, "flushall")


def info_fields(out):
    return [line.split(":", 1)[0] for line in out.decode().splitlines() if line and not line.startswith("#")]


def test_info_server(tern_proc, redis_server):
    """The same sections and, in # Server, the same fields in the same order as Redis 7.0; Tern adds two at
    the end of # Server by design (tern_version, tern_backend: which server and which storage answer)."""
    code, t, err = cli(tern_proc, "info", "server")
    assert code == 0, err
    _, r, _ = cli(redis_server.ensure_running(), "info", "server")
    assert info_fields(t) == info_fields(r) + ["tern_version", "tern_backend"]
    assert t.splitlines()[0] == r.splitlines()[0] == b"# Server"
    _, t_all, _ = cli(tern_proc, "info")
    _, r_all, _ = cli(redis_server, "info")
    headers = lambda out: [line for line in out.splitlines() if line.startswith(b"#")]
    assert headers(t_all) == headers(r_all)


def test_interactive_style_stdin(tern_proc, redis_server):
    """redis-cli reading commands from stdin (one per line), as in `cat cmds | redis-cli`."""
    cli(redis_server.ensure_running(), "del", "x")
    out = both(tern_proc, redis_server, stdin=b"set x 1\nincr x\nget x\necho done\n")
    assert out == (0, b"OK\n2\n2\ndone\n", b""), out
    cli(redis_server, "del", "x")
