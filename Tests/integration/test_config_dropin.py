"""Tern as a drop-in for a stock Redis 7.0: its config file, every directive of its CONFIG GET *, CONFIG SET
validation and error texts, malformed files, daemonize and supervised.

Differential: the directive list, defaults, accepted values and error texts come from a stock redis-server
started the same way, never typed by hand. The deliberate differences are listed below with their reason.
"""

import os
import re
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import REDIS_BIN, TERN_BIN, ServerProcess, backend_args, free_port
from respwire import ConnectionClosed, RawConnection, wait_for_ping

DEBIAN_CONF = "/etc/redis/redis.conf"

# Directives only Tern has (its storage backends).
TERN_ONLY = {"backend", "lmdb-path", "lmdb-sync", "lmdb-map-size", "lmdb-max-size"}

# CONFIG GET values that legitimately differ: each server has its own port and working directory.
PER_PROCESS = {"port", "dir"}

# Directives whose only value Tern accepts is the default, because Tern lacks the feature and the directive
# is one users rely on for durability, limits or security (see conf/tern.conf). Where stock Redis accepts a
# non-default value, Tern answers an error naming the missing feature; the parse errors are Redis's.
DEFAULT_ONLY = {
    "appendonly": "no append-only file (AOF) yet",
    "cluster-enabled": "no cluster mode",
    "maxmemory-clients": "no client eviction",
    "replica-ignore-maxmemory": "replicas never evict", "slave-ignore-maxmemory": "replicas never evict",
    "syslog-enabled": "no syslog logging",
    "socket-mark-id": "no SO_MARK",
    "bind-source-addr": "replicas connect from the system's choice of address",
    "propagation-error-behavior": "errors in the stream are always skipped",
    "shutdown-on-sigint": "signals shut down as plain SHUTDOWN",
    "shutdown-on-sigterm": "signals shut down as plain SHUTDOWN",
}

# TLS directives (the security branch's implementation, tested in its own files) differ from a stock Redis
# without certificates: tls-port can't be changed at run time in Tern, and Tern validates the TLS
# configuration only when a TLS listener or link needs it, where Redis applies it on every CONFIG SET.
TLS_DIFFERENT = {"tls-port", "tls-cluster", "tls-replication"} | {"tls-" + n for n in (
    "cert-file", "key-file", "key-file-pass", "client-cert-file", "client-key-file", "client-key-file-pass",
    "dh-params-file", "ca-cert-file", "ca-cert-dir", "protocols", "ciphers", "ciphersuites",
    "prefer-server-ciphers", "session-caching", "session-cache-size", "session-cache-timeout", "auth-clients")}

# Not probed with arbitrary values: a password would lock the probing connection out (requirepass is
# covered by test_differential_server); a timeout of a second would close it while the loop runs.
NOT_PROBED = {"requirepass", "timeout"}

# Probes a stock Redis takes minutes to answer: it looks for an fd limit downwards from the value, 16 at a time.
SLOW_ON_STOCK = {("maxclients", v) for v in ("2147483647", "2147483648", "4294967296", "9223372036854775807")}

# Values tried on every directive: the stock server decides which are valid for which type.
PROBES = [
    "", "yes", "no", "YES", "0", "1", "-1", "2", "7", "64", "100", "1000", "65535", "65536", "2147483647",
    "2147483648", "-2147483649", "4294967296", "9223372036854775807", "9223372036854775808",
    "99999999999999999999", "abc", "1kb", "1k", "1mb", "1gb", "3GB", "1x", "5%", "101%", "0777", "800", "1.5",
    "everysec", "always", "local", "allkeys-lru", "notice", "swapdb", "systemd", "relative", "clients",
    "hostname", "KEA", "Kxyz", "10 20", "10 20 30", "-10 5 30", "1 2 3 4", "normal 1mb 2mb 3",
    "pubsub 1 2", "master 1 2 3", "normal 1 2 -3", "replica 1kb 1kb 1", "save nosave", "nosave now",
    "default save", "{title} {port}", "{bogus}", "a/b", "a_b", "h-1.example", "50 99.5", "50 101", "abc 1",
    "3600 1 300 100", "60", "/tmp", "127.0.0.1", "x y z",
]


def start(server):
    try:
        return server.start()
    except Exception:
        server.cleanup()
        raise


def tern_server(extra=(), name="tern-cfg"):
    backend = backend_args()  # once: a restart finds the same LMDB store
    argv = lambda port: [TERN_BIN, "--port", str(port), "--bind", "127.0.0.1", *backend, *extra]
    return start(ServerProcess(name, argv))


def redis_server(extra=(), name="redis-cfg"):
    argv = lambda port: ["redis-server", "--port", str(port), "--bind", "127.0.0.1", *extra]
    return start(ServerProcess(name, argv, executable=REDIS_BIN))


@pytest.fixture
def both():
    t = tern_server()
    try:
        r = redis_server()
    except Exception:
        t.cleanup()
        raise
    yield t, r
    t.cleanup()
    r.cleanup()


def config_get_all(conn):
    reply = conn.call("CONFIG", "GET", "*")
    assert reply[0] == "*", reply
    items = [v for _, v in reply[1]]
    return {items[i].decode(): items[i + 1].decode() for i in range(0, len(items), 2)}


class Prober:
    """One connection per server that survives the server closing it (a limit that evicts the client)."""

    def __init__(self, server):
        self.server = server
        self.conn = server.connect()

    def call(self, *args):
        for attempt in range(2):
            try:
                return self.conn.call(*args)
            except (ConnectionClosed, OSError):
                self.conn.close()
                self.conn = self.server.connect()
        raise AssertionError("%s keeps closing the connection on %r" % (self.server.name, args))


def test_config_get_star_names_and_defaults_match_stock(both):
    t, r = both
    with t.connect() as tc, r.connect() as rc:
        tern_all, stock_all = config_get_all(tc), config_get_all(rc)
    assert len(stock_all) >= 180
    missing = sorted(set(stock_all) - set(tern_all))
    extra = sorted(set(tern_all) - set(stock_all) - TERN_ONLY)
    assert missing == [] and extra == [], "missing %s, extra %s" % (missing, extra)
    differing = {n: (tern_all[n], stock_all[n]) for n in stock_all if n not in PER_PROCESS and tern_all[n] != stock_all[n]}
    assert differing == {}
    assert tern_all["dir"] == t.workdir and stock_all["dir"] == r.workdir


def attempt(prober, name, value, default):
    """CONFIG SET name value, the CONFIG GET value after it when it succeeded, then the default back."""
    reply = prober.call("CONFIG", "SET", name, value)
    got = prober.call("CONFIG", "GET", name) if reply == ("+", b"OK") else None
    if prober.call("CONFIG", "GET", name)[1][1][1].decode() != default:
        assert prober.call("CONFIG", "SET", name, default) == ("+", b"OK"), (prober.server.name, name)
    return reply, got


def test_config_set_every_directive_matches_stock(both):
    """Every name of the stock CONFIG GET * (aliases too), set to every probe value on both servers: the same
    OK or the same error text, then the same CONFIG GET value; each directive is put back after each probe."""
    t, r = both
    tp, rp = Prober(t), Prober(r)
    stock_all = config_get_all(rp.conn)
    tern_defaults = config_get_all(tp.conn)
    mismatches = []
    checked = 0
    for name in sorted(stock_all):
        if name in NOT_PROBED or name in TLS_DIFFERENT:
            continue
        for probe in PROBES + [stock_all[name]]:
            if (name, probe) in SLOW_ON_STOCK or (name in PER_PROCESS and probe == stock_all[name]):
                continue
            # One server at a time, put back before the other tries (two servers can't take one port).
            want, rget = attempt(rp, name, probe, stock_all[name])
            got, tget = attempt(tp, name, probe, tern_defaults[name])
            checked += 1
            stock_accepts = want == ("+", b"OK")
            if name in DEFAULT_ONLY and stock_accepts and got[0] == "-":
                prefix = "ERR CONFIG SET failed (possibly related to argument '%s') - " % name
                if not got[1].decode().startswith(prefix):
                    mismatches.append((name, probe, got, want))
                if probe == stock_all[name]:
                    mismatches.append((name, probe, "refused although it is the default", want))
            elif got != want:
                mismatches.append((name, probe, got, want))
            elif tget != rget and name not in PER_PROCESS:
                mismatches.append((name, probe, tget, rget))
    assert checked > 150 * len(PROBES) // 2
    assert mismatches == [], "\n".join(repr(m) for m in mismatches[:60])


def test_config_set_is_atomic_with_redis_errors(both):
    t, r = both
    tp, rp = Prober(t), Prober(r)
    cases = [
        ("CONFIG", "SET", "maxmemory", "10mb", "hz", "abc"),
        ("CONFIG", "SET", "maxmemory", "10mb", "maxmemory", "20mb"),
        ("CONFIG", "SET", "maxmemory", "10mb", "slave-read-only", "no", "nosuch", "1"),
        ("CONFIG", "SET", "hash-max-ziplist-entries", "5", "daemonize", "yes"),
        ("CONFIG", "SET", "dir", "/tmp", "maxmemory", "1mb"),
        ("CONFIG", "SET", "hz", "5", "list-max-listpack-size", "x"),
        ("CONFIG", "SET", "maxmemory"),
        ("CONFIG", "SET", "zset-max-ziplist-value", "1k", "save", "1 2 3"),
        ("CONFIG", "SET", "client-output-buffer-limit", "normal 1 2 3 pubsub 1 2"),
        ("CONFIG", "SET", "hash-max-listpack-entries", "7", "hash-max-ziplist-entries", "8"),
    ]
    for cmd in cases:
        assert tp.call(*cmd) == rp.call(*cmd), cmd
        assert config_get_all(tp.conn).items() - {("dir", t.workdir), ("port", str(t.port))} >= \
            config_get_all(rp.conn).items() - {("dir", r.workdir), ("port", str(r.port))} - \
            {(k, v) for k, v in config_get_all(rp.conn).items() if k in TERN_ONLY}, cmd


def test_default_bind_is_loopback_deliberately(tmp_path):
    """Deliberate difference: without a bind directive Tern listens on loopback only (127.0.0.1 -::1), where
    Redis 7.0 listens on every interface (* -::*) behind protected-mode. Every other test passes --bind."""
    port = free_port()
    p = subprocess.Popen([TERN_BIN, "--port", str(port), *backend_args()], cwd=str(tmp_path),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        wait_for_ping(port, time.monotonic() + 30, p)
        with RawConnection(port) as c:
            assert c.call("CONFIG", "GET", "bind")[1][1] == ("$", b"127.0.0.1 -::1")
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=15)


def test_protected_configs_follow_enable_protected_configs():
    for setting, expect_ok in (("no", False), ("yes", True), ("local", True)):
        t = tern_server(["--enable-protected-configs", setting])
        try:
            with t.connect() as c:
                reply = c.call("CONFIG", "SET", "dbfilename", "other.rdb")
                if expect_ok:
                    assert reply == ("+", b"OK"), (setting, reply)
                    assert c.call("CONFIG", "GET", "dbfilename")[1][1] == ("$", b"other.rdb")
                    # dir moves the server at once, as Redis chdirs.
                    target = tempfile.mkdtemp(prefix="tern-dir-")
                    assert c.call("CONFIG", "SET", "dir", target) == ("+", b"OK")
                    assert c.call("CONFIG", "GET", "dir")[1][1] == ("$", target.encode())
                    assert c.call("SAVE") == ("+", b"OK")
                    assert os.path.exists(os.path.join(target, "other.rdb"))
                    assert c.call("CONFIG", "SET", "dir", "/nonexistent-dir") == \
                        ("-", b"ERR CONFIG SET failed (possibly related to argument 'dir') - No such file or directory")
                else:
                    assert reply == ("-", b"ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set protected config")
        finally:
            t.cleanup()


# MARK: Debian's redis.conf


def adjusted_debian_conf(workdir, port):
    """Debian's stock redis.conf with only dir, port, logfile, pidfile, daemonize and bind changed."""
    with open(DEBIAN_CONF) as f:
        text = f.read()
    changes = {"dir": workdir, "port": str(port), "logfile": os.path.join(workdir, "server.log"),
               "pidfile": os.path.join(workdir, "server.pid"), "daemonize": "no", "bind": "127.0.0.1"}
    out = []
    for line in text.split("\n"):
        words = line.split()
        if words and words[0] in changes:
            out.append("%s %s" % (words[0], changes[words[0]]))
        else:
            out.append(line)
    path = os.path.join(workdir, "redis.conf")
    with open(path, "w") as f:
        f.write("\n".join(out))
    return path


@pytest.mark.skipif(not os.path.exists(DEBIAN_CONF), reason="Debian's redis-server package is not installed")
def test_debian_redis_conf_starts_tern_with_the_same_configuration():
    tdir, rdir = tempfile.mkdtemp(prefix="tern-debconf-"), tempfile.mkdtemp(prefix="redis-debconf-")
    tport, rport = free_port(), free_port()
    tconf, rconf = adjusted_debian_conf(tdir, tport), adjusted_debian_conf(rdir, rport)
    # The backend of this run comes after the file, as command-line directives do.
    tproc = subprocess.Popen([TERN_BIN, tconf, *backend_args()], cwd=tdir, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    rproc = subprocess.Popen(["redis-server", rconf], executable=REDIS_BIN, cwd=rdir, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        try:
            wait_for_ping(tport, deadline, tproc)
        except RuntimeError:
            out = tproc.stdout.read().decode() if tproc.poll() is not None else ""
            raise AssertionError("tern-server did not start with Debian's redis.conf:\n" + out)
        wait_for_ping(rport, deadline, rproc)
        with RawConnection(tport) as tc, RawConnection(rport) as rc:
            tern_all, stock_all = config_get_all(tc), config_get_all(rc)
            assert tc.call("SET", "k", "v") == ("+", b"OK")
            assert tc.call("GET", "k") == ("$", b"v")
        per_file = {"dir", "port", "logfile", "pidfile"}
        differing = {n: (tern_all.get(n), v) for n, v in stock_all.items() if n not in per_file and tern_all.get(n) != v}
        assert differing == {}
        for n in per_file:
            assert tern_all[n] == stock_all[n].replace(rdir, tdir).replace(str(rport), str(tport)), n
        with open(os.path.join(tdir, "server.pid")) as f:
            assert int(f.read()) == tproc.pid
    finally:
        for p in (tproc, rproc):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=5)
        import shutil
        shutil.rmtree(tdir, ignore_errors=True)
        shutil.rmtree(rdir, ignore_errors=True)


# MARK: malformed config files

# Lines both servers refuse: Tern's reason must be the stock one.
BAD_LINES = [
    "port abc", "port 65536", "maxmemory 1x", "maxmemory 1 mb", "loglevel loud", "daemonize maybe",
    "unixsocketperm 800", "appendfsync sometimes", "hash-max-listpack-entries -1", "hash-max-ziplist-value 1q",
    "list-max-listpack-size 2147483648", "io-threads 0", "io-threads 129", "active-expire-effort 11",
    "save 900", "save 0 1", "client-output-buffer-limit normal 1 2", "client-output-buffer-limit master 1 2 3",
    "oom-score-adj-values 1 2", "oom-score-adj-values 1 2 3000", "notify-keyspace-events Q", "frobnicate 3",
    "rename-command NOSUCH x", "include", 'port "6379', "bind " + " ".join("127.0.0.%d" % i for i in range(1, 18)),
    "dbfilename a/b", "maxmemory-clients 101%", "shutdown-on-sigterm save nosave", "supervised launchd",
    "latency-tracking-info-percentiles 50 abc", "proc-title-template {nope}", "replicaof localhost x",
    "enable-debug-command sometimes", "tls-auth-clients maybe", "sanitize-dump-payload always",
    "sentinel monitor m 127.0.0.1 6379 2", "list-max-ziplist-entries 1 2", "maxclients 0", "repl-backlog-size 0",
]

# Lines only Tern refuses (features it lacks), with the words its reason must contain.
TERN_REFUSES = {
    "appendonly yes": "append-only file (AOF)",
    "cluster-enabled yes": "Cluster mode is not supported",
    "maxmemory-clients 10%": "client eviction is not supported",
    "syslog-enabled yes": "syslog",
}


def run_to_exit(argv, cwd, executable=None, timeout=20):
    p = subprocess.run(argv, cwd=cwd, executable=executable, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


def fatal_block(output):
    m = re.search(r"\*\*\* FATAL CONFIG FILE ERROR \(Redis [0-9.]+\) \*\*\*\nReading the configuration file, "
                  r"at line (\d+)\n>>> '(.*)'\n(.*)", output)
    assert m, output
    return int(m.group(1)), m.group(2), m.group(3)


@pytest.mark.parametrize("line", BAD_LINES)
def test_malformed_line_gets_stock_reason_with_file_and_line(line, tmp_path):
    path = tmp_path / "bad.conf"
    path.write_text("# a comment\n\nport %d\n%s\n" % (free_port(), line))
    tcode, tout = run_to_exit([TERN_BIN, str(path)], str(tmp_path))
    rcode, rout = run_to_exit(["redis-server", str(path)], str(tmp_path), executable=REDIS_BIN)
    assert rcode != 0 and tcode != 0, (tout, rout)
    assert "Segmentation" not in tout and "Fatal error:" not in tout
    assert fatal_block(tout) == fatal_block(rout)
    assert fatal_block(tout)[0] == 4
    assert "(in %s, line 4)" % path in tout


@pytest.mark.parametrize("line", sorted(TERN_REFUSES))
def test_directive_tern_cannot_honour_stops_start_up(line, tmp_path):
    path = tmp_path / "bad.conf"
    path.write_text("port %d\n%s\n" % (free_port(), line))
    code, out = run_to_exit([TERN_BIN, str(path)], str(tmp_path))
    assert code != 0
    number, shown, reason = fatal_block(out)
    assert (number, shown) == (2, line)
    assert TERN_REFUSES[line] in reason, reason


def test_appendonly_yes_through_config_set_names_the_missing_feature(tern):
    with tern.connect() as c:
        reply = c.call("CONFIG", "SET", "appendonly", "yes")
        assert reply[0] == "-" and b"append-only file (AOF)" in reply[1], reply
        assert c.call("CONFIG", "SET", "appendonly", "no") == ("+", b"OK")
        assert c.call("CONFIG", "SET", "appendfsync", "always") == ("+", b"OK")
        assert c.call("CONFIG", "GET", "appendfsync")[1][1] == ("$", b"always")
        assert c.call("CONFIG", "SET", "appendfsync", "everysec") == ("+", b"OK")


# MARK: daemonize and supervised


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[-1][0] != "Z"
    except OSError:
        return False


def test_daemonize_detaches_and_writes_the_pidfile(tmp_path):
    port = free_port()
    pidfile = tmp_path / "tern.pid"
    code, out = run_to_exit([TERN_BIN, "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "yes",
                             "--pidfile", str(pidfile), "--logfile", str(tmp_path / "log"), *backend_args()],
                            str(tmp_path))
    assert code == 0, out  # the launching process returns at once, as redis-server's parent does
    deadline = time.monotonic() + 30
    while not (pidfile.exists() and pidfile.read_text().strip()):
        assert time.monotonic() < deadline, "no pidfile"
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    try:
        wait_for_ping(port, deadline)
        with RawConnection(port) as c:
            assert c.call("CONFIG", "GET", "daemonize")[1][1] == ("$", b"yes")
            info = c.call("INFO", "server")[1].decode()
            assert "process_id:%d\r\n" % pid in info
        assert os.getsid(pid) == pid  # a session of its own
        with open("/proc/%d/fd/1" % pid) as _:
            assert os.readlink("/proc/%d/fd/1" % pid) == "/dev/null"
    finally:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while pid_alive(pid):
        assert time.monotonic() < deadline, "daemon did not stop on SIGTERM"
        time.sleep(0.05)
    assert not pidfile.exists()


def test_supervised_systemd_notifies_ready_and_stopping(tmp_path):
    sock_path = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(sock_path)
    listener.settimeout(30)
    port = free_port()
    env = dict(os.environ, NOTIFY_SOCKET=sock_path)
    proc = subprocess.Popen([TERN_BIN, "--port", str(port), "--bind", "127.0.0.1", "--supervised", "systemd",
                             "--daemonize", "yes", *backend_args()], cwd=str(tmp_path), env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        messages = []
        while b"READY=1\n" not in messages:
            messages.append(listener.recv(4096))
        assert messages[0] == b"STATUS=Redis is loading...\n"
        assert b"STATUS=Ready to accept connections\n" in messages
        # Supervised: daemonize is ignored, the process we started is the server.
        assert proc.poll() is None
        wait_for_ping(port, time.monotonic() + 10, proc)
        proc.send_signal(signal.SIGTERM)
        assert listener.recv(4096) == b"STOPPING=1\n"
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        listener.close()


def test_supervised_upstart_stops_itself_when_ready(tmp_path):
    port = free_port()
    env = dict(os.environ, UPSTART_JOB="tern-test")
    proc = subprocess.Popen([TERN_BIN, "--port", str(port), "--bind", "127.0.0.1", "--supervised", "auto",
                             *backend_args()], cwd=str(tmp_path), env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            with open("/proc/%d/stat" % proc.pid) as f:
                if f.read().split(") ")[-1][0] == "T":
                    break
            assert time.monotonic() < deadline and proc.poll() is None, "never stopped itself"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGCONT)
        wait_for_ping(port, time.monotonic() + 10, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_config_set_port_and_bind_move_the_listeners():
    t = tern_server(name="tern-port")
    try:
        with t.connect() as c:
            new_port = free_port()
            assert c.call("CONFIG", "SET", "port", str(new_port)) == ("+", b"OK")
            assert c.call("PING") == ("+", b"PONG")  # connected clients stay
            wait_for_ping(new_port, time.monotonic() + 10)
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", t.port), timeout=2).close()
            # A port someone else holds: refused, the old listener stays.
            holder = socket.socket()
            holder.bind(("127.0.0.1", 0))
            holder.listen(1)
            try:
                busy = holder.getsockname()[1]
                assert c.call("CONFIG", "SET", "port", str(busy)) == \
                    ("-", b"ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.")
            finally:
                holder.close()
            assert c.call("CONFIG", "GET", "port")[1][1] == ("$", str(new_port).encode())
            wait_for_ping(new_port, time.monotonic() + 10)
            assert c.call("CONFIG", "SET", "bind", "10.255.255.1") == \
                ("-", b"ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.")
            wait_for_ping(new_port, time.monotonic() + 10)
            assert c.call("CONFIG", "SET", "bind", "* -::*") == ("+", b"OK")
            wait_for_ping(new_port, time.monotonic() + 10)
            t.port = new_port  # for the fixture's stop
    finally:
        t.cleanup()


@pytest.mark.skipif(not os.path.exists(DEBIAN_CONF), reason="Debian's redis-server package is not installed")
def test_config_rewrite_of_debian_conf_matches_stock_and_restarts():
    """The same CONFIG SETs then CONFIG REWRITE on Debian's redis.conf: the same lines as the stock server's
    rewrite (appended lines may come in another order); the rewritten file (stock's included) starts Tern
    with the values set."""
    changes = [("maxmemory", "100mb"), ("hash-max-listpack-entries", "64"), ("appendfsync", "always"),
               ("save", "100 5"), ("lazyfree-lazy-expire", "yes"), ("notify-keyspace-events", "KEA"),
               ("client-output-buffer-limit", "pubsub 64mb 16mb 90"), ("latency-tracking-info-percentiles", "50 99.9"),
               ("oom-score-adj-values", "1 2 3"), ("slave-read-only", "no"), ("requirepass", "s3cret")]
    texts, dirs = {}, {}
    for name, binary in (("tern", TERN_BIN), ("redis", "redis-server")):
        d = tempfile.mkdtemp(prefix="%s-rewrite-" % name)
        port = free_port()
        conf = adjusted_debian_conf(d, port)
        argv = [binary, conf] + (backend_args() if name == "tern" else [])
        p = subprocess.Popen(argv, executable=REDIS_BIN if name == "redis" else None, cwd=d,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        try:
            wait_for_ping(port, time.monotonic() + 30, p)
            with RawConnection(port) as c:
                for k, v in changes:
                    assert c.call("CONFIG", "SET", k, v) == ("+", b"OK"), (name, k)
                assert c.call("AUTH", "s3cret") == ("+", b"OK")
                assert c.call("CONFIG", "REWRITE") == ("+", b"OK"), name
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=15)
        with open(conf) as f:
            texts[name] = f.read().replace(d, "DIR").replace(str(port), "PORT")
        dirs[name] = (d, conf)
    tern_lines, stock_lines = (set(texts[n].split("\n")) for n in ("tern", "redis"))
    tern_lines = {l for l in tern_lines if l.split(" ")[0] not in TERN_ONLY}  # this pass's backend
    # Known difference: Tern's CONFIG REWRITE doesn't write Redis's `user default ...` line (the ACL users);
    # it reads it (the stock file below starts Tern).
    user_line = {l for l in stock_lines - tern_lines if l.startswith("user default ")}
    assert len(user_line) <= 1
    assert tern_lines == stock_lines - user_line
    # Both rewritten files start Tern (stock's has the user line with the password's SHA-256).
    for name in ("tern", "redis"):
        d, conf = dirs[name]
        port = free_port()
        p = subprocess.Popen([TERN_BIN, conf, "--port", str(port), "--dir", d, "--pidfile", "", *backend_args()],
                             cwd=d, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
        try:
            try:
                wait_for_ping(port, time.monotonic() + 30, p)
            except RuntimeError:
                raise AssertionError(p.stdout.read().decode() if p.poll() is not None else "no PONG")
            with RawConnection(port) as c:
                assert c.call("AUTH", "s3cret") == ("+", b"OK")
                assert c.call("CONFIG", "GET", "maxmemory")[1][1] == ("$", b"104857600")
                assert c.call("CONFIG", "GET", "hash-max-ziplist-entries")[1][1] == ("$", b"64")
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=15)
        import shutil
        shutil.rmtree(d, ignore_errors=True)
