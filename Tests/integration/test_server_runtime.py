"""The server as an operator runs it: config files and command-line directives, SIGTERM, pidfile, unix socket,
requirepass, maxclients, idle timeout, rename-command, bad configuration. On this pass's backend (TERN_BACKEND)."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile

import pytest
import redis

from conftest import TERN_BIN, ServerProcess, backend_args, free_port, tern_argv
from respwire import RawConnection


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="tern-runtime-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def start(*extra, conf=None):
    return ServerProcess("tern-runtime", lambda port: tern_argv(port, extra, conf=conf)).start()


def test_sigterm_stops_gracefully_and_removes_the_pidfile(workdir):
    pidfile = os.path.join(workdir, "tern.pid")
    logfile = os.path.join(workdir, "tern.log")
    server = start("--pidfile", pidfile, "--logfile", logfile)
    try:
        assert int(open(pidfile).read().strip()) == server.proc.pid
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=10) == 0
        assert not os.path.exists(pidfile)
        log = open(logfile).read()
        assert "Ready to accept connections" in log and "bye bye" in log
    finally:
        server.cleanup()


def test_config_file_with_command_line_override_and_rename_command(workdir):
    conf = os.path.join(workdir, "t.conf")
    with open(conf, "w") as f:
        f.write('# test\nrequirepass "s3cret pw"\nrename-command FLUSHALL ""\nrename-command DBSIZE KEYCOUNT\nhz 20\n')
    server = start("--hz", "30", conf=conf)
    try:
        with RawConnection(server.port) as c:
            assert c.call("PING") == ("-", b"NOAUTH Authentication required.")
            assert c.call("AUTH", "s3cret pw") == ("+", b"OK")
            assert c.call("CONFIG", "GET", "hz") == ("*", [("$", b"hz"), ("$", b"30")]), "command line wins"
            assert c.call("FLUSHALL")[0] == "-", "disabled by rename-command"
            assert c.call("DBSIZE")[0] == "-"
            assert c.call("KEYCOUNT") == (":", 0)
    finally:
        server.cleanup()


@pytest.mark.parametrize("args,reason", [
    (["--port", "notanumber"], "argument couldn't be parsed into an integer"),
    (["--no-such-directive", "1"], "Bad directive or wrong number of arguments"),
    (["--maxmemory-policy", "sometimes"], "argument(s) must be one of the following"),
])
def test_bad_configuration_stops_startup_with_the_reason(args, reason):
    proc = subprocess.run([TERN_BIN, *backend_args(), *args], capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
    assert proc.returncode != 0
    out = (proc.stdout + proc.stderr).decode()
    assert "FATAL CONFIG FILE ERROR" in out and reason in out, out


def test_unix_socket(workdir):
    path = os.path.join(workdir, "tern.sock")
    server = start("--unixsocket", path, "--unixsocketperm", "700")
    try:
        r = redis.Redis(unix_socket_path=path)
        assert r.set("via-unix", "1") and r.get("via-unix") == b"1"
        assert "flags=U" in r.execute_command("CLIENT", "INFO").decode()
    finally:
        server.cleanup()


def test_maxclients_refuses_extra_connections():
    server = start("--maxclients", "2")
    try:
        a, b = RawConnection(server.port), RawConnection(server.port)
        assert a.call("PING") == ("+", b"PONG") and b.call("PING") == ("+", b"PONG")
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        s.settimeout(5)
        assert s.recv(100).startswith(b"-ERR max number of clients reached")
        s.close()
        a.close()
        b.close()
    finally:
        server.cleanup()


def test_idle_clients_are_closed_after_timeout():
    server = start("--timeout", "1")
    try:
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        s.sendall(b"PING\r\n")
        assert s.recv(100) == b"+PONG\r\n"
        # The PONG shows it was open after connecting; then it is closed (bound generous: a cron does it).
        s.settimeout(30)
        assert s.recv(100) == b"", "the server closes the idle connection"
    finally:
        server.cleanup()
