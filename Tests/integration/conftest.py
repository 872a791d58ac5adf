"""Fixtures that run the real tern-server binary and a stock redis-server (the oracle) on loopback ports.

- `tern_server` / `redis_server`: session-wide server processes (restarted if one dies).
- `pair`: a function-scoped differential helper: fresh connections to both servers, both emptied first.
- `tern_proc`: a function-scoped private tern-server for tests that abuse the server.

Only processes started here are ever signalled, and only by their pid. Everything is bounded in time.
"""

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

import respwire
from respwire import RawConnection, is_error, sort_reply, value, wait_for_ping

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TERN_BIN = os.environ.get("TERN_BIN") or os.path.join(REPO_ROOT, ".build", "debug", "tern-server")
if not os.path.isabs(TERN_BIN):
    TERN_BIN = os.path.join(REPO_ROOT, TERN_BIN)
REDIS_BIN = os.environ.get("REDIS_SERVER_BIN") or shutil.which("redis-server") or "/usr/bin/redis-server"

STARTUP_TIMEOUT = float(os.environ.get("TERN_STARTUP_TIMEOUT", "30"))
STOP_TIMEOUT = 5.0


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """One server process we started. `argv_builder(port)` gives its command line."""

    def __init__(self, name, argv_builder, executable=None):
        self.name = name
        self.argv_builder = argv_builder
        self.executable = executable
        self.proc = None
        self.port = None
        self.workdir = tempfile.mkdtemp(prefix="tern-itest-%s-" % name)
        self.log_path = os.path.join(self.workdir, "server.log")
        self.starts = 0

    def start(self):
        last_error = None
        for _attempt in range(3):  # a free port can be taken between probing and binding: retry
            port = free_port()
            argv = self.argv_builder(port)
            log = open(self.log_path, "ab")
            log.write(("\n=== start %s ===\n" % " ".join(argv)).encode())
            log.flush()
            proc = subprocess.Popen(
                argv,
                executable=self.executable,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
            try:
                wait_for_ping(port, time.monotonic() + STARTUP_TIMEOUT, proc)
            except RuntimeError as e:
                last_error = e
                self._stop_proc(proc)
                continue
            self.proc, self.port = proc, port
            self.starts += 1
            expected = argv_backend(argv)
            if expected is not None:
                check_backend(port, expected)
            return self
        raise RuntimeError("could not start %s: %s\n--- log tail ---\n%s" % (self.name, last_error, self.log_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def ensure_running(self):
        if not self.alive():
            self.proc = None
            self.start()
        return self

    def restart(self):
        self.stop()
        return self.start()

    @staticmethod
    def _stop_proc(proc):
        if proc.poll() is not None:
            return
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        except ProcessLookupError:
            pass

    def stop(self):
        if self.proc is not None:
            self._stop_proc(self.proc)
        self.proc = None

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
            return data[-n:].decode("utf-8", "replace")
        except OSError:
            return "(no log)"

    def connect(self, protocol=2, timeout=respwire.DEFAULT_TIMEOUT):
        return RawConnection(self.port, protocol=protocol, timeout=timeout)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


# Which storage backend the Tern servers of this run use: the same suite runs against both (scripts/test).
# Every Tern process a test starts uses it (through tern_argv / backend_args), unless a test names a backend
# on purpose (e.g. a replica on the other one); an unknown value stops the run (pytest_configure).
BACKENDS = ("memory", "lmdb")
TERN_BACKEND = os.environ.get("TERN_BACKEND", "memory")
OTHER_BACKEND = "lmdb" if TERN_BACKEND == "memory" else "memory"
_LMDB_DIRS = []


def pytest_configure(config):
    if TERN_BACKEND not in BACKENDS:
        raise pytest.UsageError("TERN_BACKEND=%r: must be one of %s" % (TERN_BACKEND, ", ".join(BACKENDS)))


def _remove_lmdb_dirs():
    for d in _LMDB_DIRS:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_remove_lmdb_dirs)


def backend_args(backend=None, lmdb_path=None):
    """The arguments that select `backend` (default: this run's). LMDB gets `lmdb_path`, or a fresh temporary
    environment removed at exit. Restarting a server with the same `lmdb_path` finds its data."""
    backend = backend or TERN_BACKEND
    if backend not in BACKENDS:
        raise ValueError("unknown backend %r" % backend)
    if backend == "lmdb":
        if lmdb_path is None:
            d = tempfile.mkdtemp(prefix="tern-lmdb-")
            _LMDB_DIRS.append(d)
            lmdb_path = os.path.join(d, "env")
        return ["--backend", "lmdb", "--lmdb-path", lmdb_path]
    return ["--backend", "memory"]


def tern_argv(port, extra=(), backend=None, lmdb_path=None, conf=None):
    # Tern takes redis-server style arguments; pass only directives it is known to accept.
    return [TERN_BIN, *([conf] if conf else []), "--port", str(port), "--bind", "127.0.0.1",
            *backend_args(backend, lmdb_path), *extra]


def argv_backend(argv):
    """The backend a Tern command line selects (the last --backend wins, as for any directive), else None
    for a process that is not tern-server."""
    if not argv or argv[0] != TERN_BIN:
        return None
    backend = "memory"
    for i, a in enumerate(argv[:-1]):
        if a == "--backend":
            backend = argv[i + 1]
    return backend


def check_backend(port, expected):
    """Asserts INFO server's tern_backend is `expected` (a server behind requirepass is not asked)."""
    with RawConnection(port) as c:
        r = c.call("INFO", "server")
    if is_error(r):
        return None
    fields = dict(line.split(":", 1) for line in r[1].decode().splitlines() if ":" in line)
    assert fields.get("tern_backend") == expected, \
        "tern-server on port %d reports tern_backend=%r, expected %r" % (port, fields.get("tern_backend"), expected)
    return fields["tern_backend"]


def redis_argv(port):
    # Debian's redis-server is a symlink that picks its mode from argv[0]: run it by that name.
    return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]


def make_tern(extra=(), backend=None, lmdb_path=None, name="tern"):
    if not os.path.exists(TERN_BIN):
        pytest.fail("tern-server binary not found at %s (build it, or set TERN_BIN)" % TERN_BIN)
    if backend == "lmdb" or (backend is None and TERN_BACKEND == "lmdb"):
        if lmdb_path is None:  # one environment for the life of this ServerProcess: restarts keep the data
            d = tempfile.mkdtemp(prefix="tern-lmdb-")
            _LMDB_DIRS.append(d)
            lmdb_path = os.path.join(d, "env")
    return ServerProcess(name, lambda port: tern_argv(port, extra, backend, lmdb_path))


def make_redis():
    if not os.path.exists(REDIS_BIN):
        pytest.fail("stock redis-server not found (install the redis-server package)")
    return ServerProcess("redis", redis_argv, executable=REDIS_BIN)


@pytest.fixture(scope="session")
def tern_server():
    server = make_tern().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def redis_server():
    server = make_redis().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session", autouse=True)
def backend_of_this_pass(tern_server):
    """Once per pass: the shared Tern server runs on the backend this pass is for (INFO tern_backend)."""
    assert check_backend(tern_server.port, TERN_BACKEND) == TERN_BACKEND
    return TERN_BACKEND


@pytest.fixture
def tern(tern_server):
    """The shared Tern server, running, and checked to be alive after the test."""
    tern_server.ensure_running()
    yield tern_server
    if not tern_server.alive():
        pytest.fail("tern-server died during the test (status %s)\n--- log tail ---\n%s"
                    % (tern_server.proc.returncode, tern_server.log_tail()))


@pytest.fixture
def tern_proc():
    """A private Tern server for tests that abuse it; stopped afterwards."""
    server = make_tern().start()
    yield server
    alive = server.alive()
    tail = server.log_tail()
    server.cleanup()
    if not alive:
        pytest.fail("tern-server died during the test\n--- log tail ---\n%s" % tail)


def _empty(server, conn):
    """Empties a server (FLUSHALL; if the server does not know FLUSHALL yet, restart it)."""
    r = conn.call("FLUSHALL")
    if r != ("+", b"OK"):
        conn.close()
        server.restart()
        return server.connect(protocol=conn.protocol)
    return conn


class Mismatch(AssertionError):
    pass


class Pair:
    """Sends identical commands to Tern and to the stock Redis and compares the typed replies."""

    def __init__(self, tern_server, redis_server, protocol):
        self.tern_server = tern_server
        self.redis_server = redis_server
        self.protocol = protocol
        self.t = tern_server.connect(protocol=protocol)
        self.r = redis_server.connect(protocol=protocol)
        self.t = _empty(tern_server, self.t)
        self.r = _empty(redis_server, self.r)
        self.extra = []

    def close(self):
        for c in [self.t, self.r] + self.extra:
            c.close()

    def connect(self, protocol=None):
        """Another pair of connections (another client on each server)."""
        p = Pair.__new__(Pair)
        p.tern_server, p.redis_server = self.tern_server, self.redis_server
        p.protocol = protocol or self.protocol
        p.t = self.tern_server.connect(protocol=p.protocol)
        p.r = self.redis_server.connect(protocol=p.protocol)
        p.extra = []
        self.extra += [p.t, p.r]
        return p

    def both(self, *args):
        """Replies of (tern, redis) to the same command."""
        return self.t.call(*args), self.r.call(*args)

    def cmd(self, *args, norm=None, unordered=False):
        """Runs a command on both and asserts identical replies (after `norm`, if given). Returns Redis's.
        `unordered=True` compares aggregate replies as multisets of elements; `unordered="pairs"` as
        multisets of (field, value) pairs (map-like replies: HGETALL, CONFIG GET)."""
        t, r = self.both(*args)
        if unordered:
            pairs = unordered == "pairs"
            t, r = sort_reply(t, pairs), sort_reply(r, pairs)
        if norm is not None:
            nt, nr = norm(t), norm(r)
        else:
            nt, nr = t, r
        if nt != nr:
            raise Mismatch("%s\n  tern:  %r\n  redis: %r" % (" ".join(_show(a) for a in args), t, r))
        return r

    def err(self, *args):
        """Like cmd, and also asserts that the reply is an error."""
        r = self.cmd(*args)
        assert is_error(r), "expected an error for %r, got %r" % (args, r)
        return r

    def seq(self, commands, **kw):
        return [self.cmd(*c, **kw) for c in commands]

    def cmd_approx(self, *args, tol):
        """For integer replies that legitimately differ by timing (TTL, PTTL...): equal within `tol`."""
        t, r = self.both(*args)
        ok = (t[0] == r[0] == ":" and abs(t[1] - r[1]) <= tol) or t == r
        if not ok:
            raise Mismatch("%s (tolerance %s)\n  tern:  %r\n  redis: %r" % (" ".join(_show(a) for a in args), tol, t, r))
        return r

    def make_list(self, key, *items):
        """Creates a non-string key on both servers (for WRONGTYPE checks): a list if Tern has RPUSH, else a
        set, hash or sorted set, whichever Tern implements; skips the test if it implements none yet."""
        items = items or ("x",)
        attempts = [
            ("RPUSH", key, *items),
            ("SADD", key, *items),
            ("HSET", key, *[a for i, item in enumerate(items) for a in ("f%d" % i, item)]),
            ("ZADD", key, *[a for i, item in enumerate(items) for a in (str(i), item)]),
        ]
        for args in attempts:
            t = self.t.call(*args)
            if is_error(t) and b"unknown command" in t[1]:
                continue
            r = self.r.call(*args)
            assert t == r, (args, t, r)
            return
        pytest.skip("needs a non-string type (RPUSH/SADD/HSET/ZADD), none implemented in Tern yet")

    def run_case(self, case):
        """Runs a case: a list of commands; each is a tuple, or a dict {cmd: tuple, unordered/norm/tol: ...}."""
        for step in case:
            if isinstance(step, dict):
                args = step["cmd"]
                if "tol" in step:
                    self.cmd_approx(*args, tol=step["tol"])
                else:
                    self.cmd(*args, norm=step.get("norm"), unordered=step.get("unordered", False))
            elif step and step[0] == "@list":
                self.make_list(*step[1:])
            else:
                self.cmd(*step)


def _show(a):
    if isinstance(a, bytes):
        return repr(a)
    return str(a)


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pair(request, tern, redis_server):
    redis_server.ensure_running()
    p = Pair(tern, redis_server, request.param)
    yield p
    p.close()


@pytest.fixture
def pair2(tern, redis_server):
    """A RESP2-only pair (for tests where the protocol makes no difference)."""
    redis_server.ensure_running()
    p = Pair(tern, redis_server, 2)
    yield p
    p.close()


# Re-exported for test modules.
__all__ = ["Pair", "RawConnection", "is_error", "sort_reply", "value"]
