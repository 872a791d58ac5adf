"""Sentinel as operators run it: three stock redis-sentinel processes over a master and two replicas.

The master is killed with SIGKILL; a replica must be promoted on the FIRST failover attempt, the other replica
and the restarted old master must follow it, and SENTINEL commands answer as they do over stock Redis nodes.
The same scenario runs over stock redis-server nodes as the reference.

By default one failover over Tern nodes runs (about 15 s); SENTINEL_REFERENCE=1 adds the stock Redis one. SENTINEL_RUNS=N repeats the Tern scenario N times
and prints the +sdown -> +switch-master times (the issue's 1-in-5 first-attempt failure needs several runs).
"""

import os
import random
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import REDIS_BIN, ServerProcess, backend_args, free_port, TERN_BIN
from respwire import RawConnection, value, wait_for_ping

SENTINEL_BIN = shutil.which("redis-sentinel") or "/usr/bin/redis-sentinel"
DOWN_AFTER_MS = 2000
FAILOVER_TIMEOUT_MS = 10000
# Bounds: each wait ends on its event; these only stop a broken run.
SETTLE_TIMEOUT = 20.0
FAILOVER_WAIT = 15.0
FOLLOW_TIMEOUT = 20.0

pytestmark = pytest.mark.skipif(not os.path.exists(SENTINEL_BIN), reason="redis-sentinel not installed")


class Sentinel:
    """One stock redis-sentinel with its own writable config file (Sentinel rewrites it)."""

    def __init__(self, master_port, quorum=2):
        self.workdir = tempfile.mkdtemp(prefix="tern-sentinel-")
        self.port = free_port()
        self.conf = os.path.join(self.workdir, "sentinel.conf")
        self.log_path = os.path.join(self.workdir, "sentinel.log")
        with open(self.conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n" % (self.port, self.workdir, self.log_path))
            f.write("sentinel monitor mymaster 127.0.0.1 %d %d\n" % (master_port, quorum))
            f.write("sentinel down-after-milliseconds mymaster %d\n" % DOWN_AFTER_MS)
            f.write("sentinel failover-timeout mymaster %d\n" % FAILOVER_TIMEOUT_MS)
            f.write("sentinel parallel-syncs mymaster 1\n")
        # Debian's redis-sentinel picks its mode from argv[0]: run it by that name.
        self.proc = subprocess.Popen([SENTINEL_BIN, self.conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for_ping(self.port, time.monotonic() + 10, self.proc)

    def connect(self):
        return RawConnection(self.port)

    def call(self, *args):
        with self.connect() as c:
            return c.call(*args)

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        shutil.rmtree(self.workdir, ignore_errors=True)


def info(port):
    with RawConnection(port) as c:
        text = value(c.call("INFO", "replication")).decode()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (OSError, ConnectionError):
            pass
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def node_factory(kind):
    """A function (master_port or None) -> started ServerProcess of the given kind, run from a config file in its
    work dir as operators run nodes (Sentinel's CONFIG REWRITE must land there)."""
    def make(master_port=None):
        lines = ["bind 127.0.0.1", 'save ""', "repl-diskless-sync-delay 0"]
        if master_port:
            lines.append("replicaof 127.0.0.1 %d" % master_port)
        holder = {}
        # Chosen once: a restart (the old master coming back) finds its own LMDB environment.
        backend = backend_args()

        def argv(port):
            conf = os.path.join(holder["server"].workdir, "node.conf")
            # Written for the first start (again if that start retries on another port); a restart keeps what
            # CONFIG REWRITE wrote.
            if not os.path.exists(conf) or (holder["server"].starts == 0 and holder.get("port") != port):
                holder["port"] = port
                with open(conf, "w") as f:
                    f.write("\n".join(lines + ["port %d" % port]) + "\n")
            if kind == "tern":
                return [TERN_BIN, conf, *backend]
            return ["redis-server", conf]

        server = ServerProcess(kind, argv, executable=None if kind == "tern" else REDIS_BIN)
        holder["server"] = server
        return server
    return make


def config_file(server):
    with open(os.path.join(server.workdir, "node.conf")) as f:
        return f.read()


def run_failover(kind, kill_delay=0.0):
    """Runs one failover; returns a dict of what happened (times in seconds). `kill_delay`: seconds between the
    sentinels settling and the kill (varies where the kill falls in Sentinel's 10 s INFO period)."""
    make = node_factory(kind)
    master = make().start()
    replicas = [make(master.port).start() for _ in range(2)]
    sentinels = []
    events = None
    try:
        with RawConnection(master.port) as c:
            for i in range(50):
                c.call("SET", "k%d" % i, "v%d" % i)
        wait_until(lambda: info(master.port).get("connected_slaves") == "2"
                   and all(info(r.port).get("master_link_status") == "up" for r in replicas),
                   SETTLE_TIMEOUT, "replicas in sync")
        sentinels = [Sentinel(master.port) for _ in range(3)]
        # Every sentinel knows both replicas and the other two sentinels before the master dies.
        def settled():
            for s in sentinels:
                m = dict(zip(*[iter(value(s.call("SENTINEL", "MASTER", "mymaster")))] * 2))
                if m[b"num-slaves"] != b"2" or m[b"num-other-sentinels"] != b"2":
                    return False
            return True
        wait_until(settled, SETTLE_TIMEOUT, "sentinels discovering replicas and each other")
        events = sentinels[0].connect()
        events.call("PSUBSCRIBE", "*")
        if kill_delay:
            time.sleep(kill_delay)  # not a synchronisation: where the kill falls in Sentinel's periods
        old_port = master.port
        master.proc.send_signal(signal.SIGKILL)
        master.proc.wait(timeout=5)
        killed = time.monotonic()
        seen = {}
        deadline = killed + FAILOVER_WAIT
        events.sock.settimeout(0.5)
        while "+switch-master" not in seen and time.monotonic() < deadline:
            try:
                msg = value(events.read_reply())
            except OSError:
                continue
            channel = msg[2].decode()
            seen.setdefault(channel, (time.monotonic(), msg[3].decode()))
        events.sock.settimeout(10)
        result = {"kind": kind, "events": {k: v[1] for k, v in seen.items()}}
        result["aborted"] = sorted(k for k in seen if k.startswith("-failover-abort"))
        if "+sdown" in seen and "+switch-master" in seen:
            result["sdown_to_switch"] = seen["+switch-master"][0] - seen["+sdown"][0]
        if "+switch-master" not in seen:
            result["log"] = sentinels[0].log()[-3000:]
            return result
        # "+switch-master mymaster 127.0.0.1 <old> 127.0.0.1 <new>"
        new_port = int(seen["+switch-master"][1].split()[-1])
        result["new_port"] = new_port
        promoted = next(r for r in replicas if r.port == new_port)
        other = next(r for r in replicas if r.port != new_port)
        assert info(new_port)["role"] == "master"
        wait_until(lambda: info(other.port).get("master_port") == str(new_port)
                   and info(other.port).get("master_link_status") == "up", FOLLOW_TIMEOUT,
                   "the other replica following the new master")
        # Sentinel's CONFIG REWRITE: the promoted node's file no longer names a master, the other's names the new one.
        wait_until(lambda: "replicaof" not in config_file(promoted), FOLLOW_TIMEOUT, "the promoted node's config rewritten")
        wait_until(lambda: "replicaof 127.0.0.1 %d" % new_port in config_file(other), FOLLOW_TIMEOUT,
                   "the other replica's config rewritten")
        # The old master comes back (same port) and is reconfigured by the sentinels as a replica.
        master.port = old_port
        argv_builder = master.argv_builder
        # It restarts from its own config file, which still says it is a master: Sentinel converts it.
        master.proc = subprocess.Popen(argv_builder(old_port), executable=master.executable, cwd=master.workdir,
                                       stdin=subprocess.DEVNULL, stdout=open(master.log_path, "ab"),
                                       stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_ping(old_port, time.monotonic() + 10, master.proc)
        wait_until(lambda: info(old_port).get("master_port") == str(new_port)
                   and info(old_port).get("master_link_status") == "up", FOLLOW_TIMEOUT,
                   "the restarted old master following the new master")
        with RawConnection(old_port) as c:
            result["old_master_data"] = value(c.call("GET", "k49"))
        # SENTINEL answers.
        s = sentinels[1]
        result["addr"] = value(s.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"))
        wait_until(lambda: len(value(s.call("SENTINEL", "REPLICAS", "mymaster"))) == 2, FOLLOW_TIMEOUT,
                   "SENTINEL REPLICAS listing both")
        reps = [dict(zip(*[iter(r)] * 2)) for r in value(s.call("SENTINEL", "REPLICAS", "mymaster"))]
        result["replica_ports"] = sorted(int(r[b"port"]) for r in reps)
        def replicas_settled():
            entries = [dict(zip(*[iter(r)] * 2)) for r in value(s.call("SENTINEL", "REPLICAS", "mymaster"))]
            return all(e[b"flags"] == b"slave" and e[b"master-link-status"] == b"ok" for e in entries) and entries
        entries = wait_until(replicas_settled, FOLLOW_TIMEOUT, "replicas seen up and linked by sentinel")
        # What Sentinel learnt from each replica's INFO, as it learns it from stock Redis replicas.
        result["replica_view"] = sorted(
            tuple((k.decode(), e[k].decode()) for k in (b"flags", b"role-reported", b"master-link-status",
                                                        b"master-host", b"slave-priority", b"replica-announced"))
            for e in entries)
        masters = value(s.call("SENTINEL", "MASTERS"))
        result["masters"] = [dict(zip(*[iter(m)] * 2))[b"port"] for m in masters]
        result["ok_ports"] = (old_port, other.port, promoted.port)
        return result
    finally:
        if events:
            events.close()
        for s in sentinels:
            s.stop()
        for n in [master, *replicas]:
            n.cleanup()


def check(result):
    ports = result.get("ok_ports")
    assert "+switch-master" in result["events"], "no failover: %r\n%s" % (result["events"], result.get("log"))
    assert result["aborted"] == [], "a failover attempt was aborted: %r" % result["aborted"]
    assert "+failover-end" in result["events"] or "+switch-master" in result["events"]
    old_port, other_port, new_port = ports
    assert result["addr"] == [b"127.0.0.1", str(new_port).encode()]
    assert result["replica_ports"] == sorted([old_port, other_port])
    assert result["masters"] == [str(new_port).encode()]
    assert result["old_master_data"] == b"v49"
    view = [dict(e) for e in result["replica_view"]]
    assert view == [{"flags": "slave", "role-reported": "slave", "master-link-status": "ok",
                     "master-host": "127.0.0.1", "slave-priority": "100", "replica-announced": "1"}] * 2, view


# The stock Redis reference runs with SENTINEL_REFERENCE=1 (and in the repeated runs): the default run stays at
# one failover (about 15 s).
KINDS = ["tern", "redis"] if os.environ.get("SENTINEL_REFERENCE") else ["tern"]


@pytest.mark.parametrize("kind", KINDS)
def test_sentinel_failover_first_attempt(kind):
    if kind == "tern" and not os.path.exists(TERN_BIN):
        pytest.fail("tern-server binary not found at %s" % TERN_BIN)
    result = run_failover(kind)
    print("%s: +sdown -> +switch-master %.2f s" % (kind, result.get("sdown_to_switch", -1)))
    check(result)


@pytest.mark.skipif(not os.environ.get("SENTINEL_RUNS"), reason="set SENTINEL_RUNS=N for repeated runs")
def test_sentinel_failover_repeated():
    runs = int(os.environ["SENTINEL_RUNS"])
    kinds = os.environ.get("SENTINEL_KINDS", "tern,redis").split(",")
    report = []
    failures = []
    rng = random.Random(int(os.environ.get("SENTINEL_SEED", "12")))
    for kind in kinds:
        for i in range(runs):
            result = run_failover(kind, kill_delay=rng.uniform(0, 10))
            first = "+switch-master" in result["events"] and not result["aborted"]
            report.append("%s run %d: first-attempt=%s sdown->switch=%.2fs aborted=%s" % (
                kind, i + 1, first, result.get("sdown_to_switch", -1), result["aborted"]))
            print(report[-1], flush=True)
            if not first:
                failures.append(result)
    print("\n".join(report))
    assert not failures, "\n".join(report)
