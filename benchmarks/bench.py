#!/usr/bin/env python3
"""Tern's benchmark harness: Tern (memory, LMDB always/everysec/no) side by side with stock redis-server
(no persistence, AOF always, AOF everysec), every server started here on a free 127.0.0.1 port with a fresh
data dir, measured alternately with redis-benchmark. Writes a Markdown report, CSVs and PNG charts.

    benchmarks/run                  # full matrix (release build), results in benchmarks/results/
    benchmarks/run --quick          # smoke run, < 2 minutes, results in benchmarks/.out/
    python3 benchmarks/bench.py --help

Only processes started here are ever signalled, by pid. Every wait is bounded. A failing row (a server that
cannot do something yet) is reported in the tables, never a crash of the harness. See benchmarks/README.md.
"""

import argparse
import csv
import re
import datetime
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

# ---------------------------------------------------------------- servers

BACKENDS = [
    # name, family, extra arguments (beyond port/bind/dir), persistent (survives a restart)
    ("tern-memory", "tern", ["--backend", "memory", "--save", ""], False),  # like "redis": no automatic saves
    ("tern-lmdb-always", "tern", ["--backend", "lmdb", "--lmdb-sync", "always", "--lmdb-path", "{dir}/env"], True),
    ("tern-lmdb-everysec", "tern", ["--backend", "lmdb", "--lmdb-sync", "everysec", "--lmdb-path", "{dir}/env"], True),
    ("tern-lmdb-no", "tern", ["--backend", "lmdb", "--lmdb-sync", "no", "--lmdb-path", "{dir}/env"], True),
    ("redis", "redis", ["--save", "", "--appendonly", "no"], True),  # persistent through SAVE (RDB)
    ("redis-aof-always", "redis", ["--save", "", "--appendonly", "yes", "--appendfsync", "always"], True),
    ("redis-aof-everysec", "redis", ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec"], True),
]
BACKEND_NAMES = [b[0] for b in BACKENDS]
BACKEND_BY_NAME = {b[0]: b for b in BACKENDS}
COLORS = {
    "tern-memory": "#1f77b4", "tern-lmdb-always": "#2ca02c", "tern-lmdb-everysec": "#98df8a",
    "tern-lmdb-no": "#bcbd22", "redis": "#d62728", "redis-aof-always": "#ff7f0e", "redis-aof-everysec": "#ffbb78",
}


class RespError(Exception):
    pass


class Conn:
    """A minimal RESP2 client (no dependency): enough for setup, INFO and probes."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def call(self, *args):
        """The reply; an error reply is returned as a RespError instance (not raised)."""
        self.sock.sendall(encode_command(args))
        return self._read()

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("connection closed")
            self.buf += data

    def _exact(self, n):
        while len(self.buf) < n + 2:
            data = self.sock.recv(max(65536, n + 2 - len(self.buf)))
            if not data:
                raise ConnectionError("connection closed")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n + 2:]
        return out

    def _read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise ConnectionError("unexpected reply %r" % line[:50])


def encode_command(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_info(text):
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


class Server:
    """One server process started by the harness, with its own data dir."""

    def __init__(self, backend, opts, workroot, extra=()):
        self.name, self.family, self.args, self.persistent = BACKEND_BY_NAME[backend]
        self.opts = opts
        self.dir = tempfile.mkdtemp(prefix=self.name + "-", dir=workroot)
        self.log_path = os.path.join(self.dir, "server.log")
        self.extra = list(extra)
        self.proc = None
        self.port = None
        self.state = {}  # what the harness loaded into it (populated keyspaces)

    def argv(self, port):
        args = [a.replace("{dir}", self.dir) for a in self.args] + self.extra
        if self.family == "tern":
            return [self.opts.tern_bin, "--port", str(port), "--bind", "127.0.0.1", "--dir", self.dir] + args
        # Debian's redis-server is a symlink that picks its mode from argv[0]: run it by that name.
        return [self.opts.redis_bin, "--port", str(port), "--bind", "127.0.0.1", "--dir", self.dir] + args

    def spawn(self, port=None):
        self.port = port or self.port or free_port()
        with open(self.log_path, "ab") as log:
            log.write(("\n=== %s\n" % " ".join(self.argv(self.port))).encode())
            log.flush()
            self.proc = subprocess.Popen(self.argv(self.port), cwd=self.dir, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        return time.monotonic()

    def start(self, timeout=60.0):
        for _attempt in range(3):  # a probed free port can be taken before the server binds it
            self.port = None
            self.spawn()
            try:
                self.wait_reply(("PING",), lambda r: r == "PONG", timeout)
                return self
            except RuntimeError as e:
                err = e
                self.stop()
        raise RuntimeError("%s did not start: %s\n%s" % (self.name, err, self.log_tail()))

    def wait_reply(self, command, ok, timeout):
        """Polls `command` until `ok(reply)`; returns the monotonic time of that reply."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("exited with status %s" % self.proc.returncode)
            try:
                with Conn(self.port, timeout=2.0) as c:
                    while time.monotonic() < deadline:
                        last = c.call(*command)
                        if ok(last):
                            return time.monotonic()
                        time.sleep(0.002)
            except (OSError, ConnectionError) as e:
                last = e
                time.sleep(0.002)
        raise RuntimeError("no good reply to %s within %.0fs (last: %r)" % (command[0], timeout, last))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=30.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        self.proc = None

    def cleanup(self):
        self.stop()
        if not self.opts.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def call(self, *args, timeout=60.0):
        with Conn(self.port, timeout=timeout) as c:
            return c.call(*args)

    def info(self, section=""):
        r = self.call("INFO", section) if section else self.call("INFO")
        return parse_info(r.decode() if isinstance(r, bytes) else str(r))

    def cpu_ticks(self):
        """utime + stime of the whole process (all threads), in clock ticks."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    def rss_bytes(self):
        with open("/proc/%d/statm" % self.proc.pid) as f:
            return int(f.read().split()[1]) * PAGE_SIZE

    def log_tail(self, n=1500):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""


def dir_bytes(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


# ---------------------------------------------------------------- loading data


def pipe_load(server, payload, count, timeout=600):
    """Feeds a RESP payload to `redis-cli --pipe` (the bulk-loading path Redis documents); checks the replies."""
    p = subprocess.run([server.opts.redis_cli, "-h", "127.0.0.1", "-p", str(server.port), "--pipe"], input=payload,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0 or "errors: 0" not in out or ("replies: %d" % count) not in out:
        raise RuntimeError("redis-cli --pipe into %s: %s" % (server.name, out.strip()[-400:]))


_payload_cache = {}


def set_payload(count, size):
    """SET key:<12 digits> <size bytes> for 0..count-1: the keys redis-benchmark's -r names."""
    key = ("set", count, size)
    if key not in _payload_cache:
        _payload_cache.clear()
        value = b"x" * size
        head = b"*3\r\n$3\r\nSET\r\n$16\r\n"
        tail = b"\r\n$%d\r\n%s\r\n" % (size, value)
        _payload_cache[key] = b"".join(head + b"key:%012d" % i + tail for i in range(count))
    return _payload_cache[key]


def populate_keys(server, keyspace, size):
    if server.state.get("keys") != (keyspace, size):
        pipe_load(server, set_payload(keyspace, size), keyspace)
        server.state["keys"] = (keyspace, size)


def populate_zset(server, size):
    """bench:zset with 1000 members of `size` bytes, scores 0..999 (ZRANGE BYSCORE reads 10 from a random one)."""
    if server.state.get("zset") == size:
        return
    server.call("DEL", "bench:zset")
    parts = []
    for i in range(1000):
        member = (b"%03d" % i) + b"m" * max(0, size - 3)
        parts.append(encode_command(("ZADD", "bench:zset", str(i), member)))
    pipe_load(server, b"".join(parts), 1000)
    server.state["zset"] = size


def populate_once(server, name, commands):
    """Runs `commands` (argument tuples) on a server once per name (the data commands read stay put)."""
    if server.state.get(name):
        return
    pipe_load(server, b"".join(encode_command(c) for c in commands), len(commands))
    server.state[name] = True


def populate_datatypes(server, workload):
    if workload == "bitcount":
        # A 1 MB string of pseudo-random bytes.
        value = bytes((i * 2654435761 >> 13) & 0xff for i in range(1 << 20))
        populate_once(server, "bitmap", [("SET", "bench:bitmap", value)])
    elif workload == "pfcount":
        populate_once(server, "hll", [("PFADD", "bench:hll:%d" % k, *["e%d" % i for i in range(j, j + 1000)])
                                      for k in (1, 2) for j in range(k * 50000, k * 50000 + 100000, 1000)])
    elif workload == "geosearch":
        # 100 members within 300 km of (10, 45): a BYRADIUS 500 km search returns all of them.
        points = []
        for i in range(100):
            points += ["%.6f" % (10 + ((i * 37) % 100 - 50) / 30.0), "%.6f" % (45 + ((i * 53) % 100 - 50) / 40.0),
                       "member:%d" % i]
        populate_once(server, "geo", [("GEOADD", "bench:geo", *points)])


def top_up_list(server, n, size):
    """Makes sure `mylist` (redis-benchmark's LPUSH/LPOP key) holds the elements LPOP will pop. Returns the
    requests to run: all of them, or what the list holds when that is at least half (saves loading more)."""
    have = server.call("LLEN", "mylist")
    if isinstance(have, int) and have >= max(1000, n // 2):
        return min(n, have)
    if isinstance(have, int) and have < n:
        value = b"x" * size
        cmd = encode_command(("LPUSH", "mylist", value))
        missing = n - have
        pipe_load(server, cmd * missing, missing)
    return n


# ---------------------------------------------------------------- redis-benchmark


def parse_csv(text):
    rows = list(csv.reader(text.strip().splitlines()))
    if len(rows) < 2 or rows[0][:2] != ["test", "rps"]:
        return None
    head = rows[0]
    r = dict(zip(head, rows[-1]))
    return {"rps": float(r["rps"]), "avg": float(r["avg_latency_ms"]), "p50": float(r["p50_latency_ms"]),
            "p99": float(r["p99_latency_ms"]), "max": float(r["max_latency_ms"])}


def benchmark_argv(opts, server, clients, n, pipeline, args):
    return [opts.redis_benchmark, "-h", "127.0.0.1", "-p", str(server.port), "-c", str(clients), "-n", str(n),
            "-P", str(pipeline), "--csv"] + list(args)


def run_benchmarks(opts, server, jobs, timeout):
    """Runs one or more redis-benchmark processes at once against `server` (jobs: (clients, n, pipeline, args)).
    Returns a dict: rps (total requests / wall time when several, redis-benchmark's figure when one),
    latencies, cpu_us per request, or error."""
    before = server.cpu_ticks()
    t0 = time.monotonic()
    procs = [subprocess.Popen(benchmark_argv(opts, server, *j), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for j in jobs]
    outs = []
    error = None
    for p in procs:
        try:
            out, err = p.communicate(timeout=max(1.0, timeout - (time.monotonic() - t0)))
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate(timeout=10)
            error = "redis-benchmark timed out after %.0fs" % timeout
        outs.append((p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")))
    wall = time.monotonic() - t0
    after = server.cpu_ticks() if server.alive() else before
    total = sum(j[1] for j in jobs)
    parsed = []
    for (code, out, err), _j in zip(outs, jobs):
        res = parse_csv(out)
        if res is None and error is None:
            error = ("redis-benchmark exit %s: %s" % (code, (err or out).strip().replace("\n", " ")[-200:]))
        parsed.append(res)
    if not server.alive():
        error = "server died (%s)" % server.log_tail(300).strip().replace("\n", " ")[-200:]
    if error:
        return {"error": error, "wall": wall}
    if len(parsed) == 1:
        rps = parsed[0]["rps"]
        p50, p99, avg = parsed[0]["p50"], parsed[0]["p99"], parsed[0]["avg"]
    else:
        # Several streams: total requests over wall time; p50 of the biggest stream (it holds the overall median),
        # p99 the worst of the streams' p99 (no histogram to merge), avg weighted by requests.
        rps = total / wall
        big = max(range(len(jobs)), key=lambda i: jobs[i][1])
        p50 = parsed[big]["p50"]
        p99 = max(r["p99"] for r in parsed)
        avg = sum(r["avg"] * j[1] for r, j in zip(parsed, jobs)) / total
    return {"rps": rps, "p50": p50, "p99": p99, "avg": avg, "cpu_us": (after - before) / CLK_TCK * 1e6 / total,
            "wall": wall, "n": total}


# ---------------------------------------------------------------- workloads

# name -> (redis-benchmark arguments(size, keyspace), size matters, prepare(server, n, size, keyspace))
WORKLOADS = {
    "set": (lambda d, r: ["-t", "set", "-d", str(d), "-r", str(r)], True, None),
    "get": (lambda d, r: ["-t", "get", "-r", str(r)], True, lambda s, n, d, r: populate_keys(s, r, d)),
    "incr": (lambda d, r: ["-t", "incr", "-r", str(r)], False, None),
    "lpush": (lambda d, r: ["-t", "lpush", "-d", str(d)], True, None),
    "lpop": (lambda d, r: ["-t", "lpop"], True, lambda s, n, d, r: top_up_list(s, n, d)),
    "hset": (lambda d, r: ["-t", "hset", "-d", str(d), "-r", str(r)], True, None),
    "sadd": (lambda d, r: ["-t", "sadd", "-r", str(r)], False, None),
    "zadd": (lambda d, r: ["-t", "zadd", "-r", str(r)], False, None),
    "zrange": (lambda d, r: ["-r", "1000", "ZRANGE", "bench:zset", "__rand_int__", "+inf", "BYSCORE", "LIMIT", "0",
                             "10", "WITHSCORES"], True, lambda s, n, d, r: populate_zset(s, d)),
    "mset": (lambda d, r: ["-t", "mset", "-d", str(d), "-r", str(r)], True, None),
    # Bitmaps, HyperLogLog and geo (no value size): SETBIT on random keys, BITCOUNT of a 1 MB
    # string, PFADD of random elements, PFCOUNT of the union of two dense HLLs (computed every time; a single
    # key's count is cached), GEOSEARCH returning 100 members sorted by distance.
    # (redis-benchmark's __rand_int__ is zero-padded, which no offset parser accepts: the key is random, so the
    # first SETBIT of a key creates a 126-byte bitmap and later ones find the bit set.)
    "setbit": (lambda d, r: ["-r", str(r), "SETBIT", "bench:bits:__rand_int__", "1000", "1"], False, None),
    "bitcount": (lambda d, r: ["BITCOUNT", "bench:bitmap"], False, lambda s, n, d, r: populate_datatypes(s, "bitcount")),
    "pfadd": (lambda d, r: ["-r", "10000000", "PFADD", "bench:hll", "__rand_int__"], False, None),
    "pfcount": (lambda d, r: ["PFCOUNT", "bench:hll:1", "bench:hll:2"], False,
                lambda s, n, d, r: populate_datatypes(s, "pfcount")),
    "geosearch": (lambda d, r: ["GEOSEARCH", "bench:geo", "FROMLONLAT", "10", "45", "BYRADIUS", "500", "km", "ASC"],
                  False, lambda s, n, d, r: populate_datatypes(s, "geosearch")),
    # 80% GET / 20% SET: two redis-benchmark processes at once, 40 + 10 clients, 4:1 requests.
    "mixed": (None, True, lambda s, n, d, r: populate_keys(s, r, d)),
}
WORKLOAD_NAMES = list(WORKLOADS)


def workload_jobs(workload, clients, n, pipeline, size, keyspace):
    if workload == "mixed":
        readers = max(1, clients * 4 // 5)
        writers = max(1, clients - readers)
        n_set = max(writers, n // 5)
        return [(readers, n - n_set, pipeline, ["-t", "get", "-r", str(keyspace)]),
                (writers, n_set, pipeline, ["-t", "set", "-d", str(size), "-r", str(keyspace)])]
    return [(clients, n, pipeline, WORKLOADS[workload][0](size, keyspace))]


# Rough cost of a request relative to SET, to size a cell's first run from the backend's last rate elsewhere.
RELATIVE_COST = {"mset": 8, "zrange": 2, "bitcount": 30, "pfcount": 40, "geosearch": 10}


def guess_rps(backend, pipeline):
    base = 100_000 if pipeline == 1 else 500_000
    if backend.endswith("always"):
        base //= 3
    return base


# ---------------------------------------------------------------- phases


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def rotated(items, k):
    k %= len(items)
    return items[k:] + items[:k]


def phase_matrix(opts, workroot, runs):
    servers = [Server(b, opts, workroot).start() for b in opts.backends]
    estimates = {}
    try:
        cells = []
        for size in opts.sizes:
            for pipeline in opts.pipelines:
                for workload in opts.workloads:
                    if not WORKLOADS[workload][1] and size != opts.sizes[0]:
                        continue  # the value size makes no difference to this command: measured once
                    cells.append((size, pipeline, workload))
        total = len(cells) * opts.reps * len(servers)
        done = 0
        # Value size outermost (its keyspace is loaded once per size), repetitions next, and within a cell the
        # backends in rotated order: every backend's runs are spread over the same minutes.
        for size in opts.sizes:
            size_cells = [c for c in cells if c[0] == size]
            for rep in range(opts.reps):
                for ci, (size, pipeline, workload) in enumerate(size_cells):
                    for server in rotated(servers, ci + rep):
                        done += 1
                        key = (server.name, workload, pipeline, size)
                        rec = {"phase": "matrix", "backend": server.name, "workload": workload,
                               "pipeline": pipeline, "size": size, "rep": rep + 1}
                        if not server.alive():
                            rec["error"] = "server not running"
                            runs.append(rec)
                            continue
                        # Size the run from this cell's last rate, else this backend's last rate at this depth.
                        est = estimates.get(key) or (estimates.get((server.name, pipeline, size)) or guess_rps(
                            server.name, pipeline)) / RELATIVE_COST.get(workload, 1)
                        n = int(min(opts.max_requests, max(opts.min_requests, est * opts.seconds)))
                        n = max(n, opts.clients)
                        try:
                            prepare = WORKLOADS[workload][2]
                            if prepare:
                                n = prepare(server, n, size, opts.keyspace) or n
                            res = run_benchmarks(opts, server, workload_jobs(workload, opts.clients, n, pipeline,
                                                                             size, opts.keyspace),
                                                 timeout=max(60.0, opts.seconds * 40))
                        except (OSError, RuntimeError, ConnectionError, subprocess.SubprocessError) as e:
                            res = {"error": str(e)[:300]}
                        rec.update(res)
                        rec.setdefault("n", n)
                        runs.append(rec)
                        if "rps" in res:
                            estimates[key] = res["rps"]
                            estimates[(server.name, pipeline, size)] = res["rps"] * RELATIVE_COST.get(workload, 1)
                            log("[%d/%d] %-18s %-6s -P %-2d %4dB %9.0f r/s  p50 %.3f p99 %.3f ms  %.3f us/req"
                                % (done, total, server.name, workload, pipeline, size, res["rps"], res["p50"],
                                   res["p99"], res["cpu_us"]))
                        else:
                            log("[%d/%d] %-18s %-6s -P %-2d %4dB FAILED: %s"
                                % (done, total, server.name, workload, pipeline, size, res["error"]))
                            if not server.alive():
                                log("%s is down; restarting it for the next cells" % server.name)
                                server.state.clear()
                                try:
                                    server.stop()
                                    server.start()
                                except RuntimeError as e:
                                    log(str(e))
    finally:
        for s in servers:
            s.cleanup()


def wait_first_reply_after_restart(server, key, value, timeout):
    """Spawns the (stopped) server on its old port and returns seconds until GET key answers `value`."""
    t0 = server.spawn()
    t1 = server.wait_reply(("GET", key), lambda r: r == value, timeout)
    return t1 - t0


# Backends without a log of their own that restart from the RDB written by SAVE (Tern memory: if it has SAVE).
RDB_BACKENDS = ("redis", "tern-memory")


def phase_large(opts, workroot, runs):
    """Memory per key after loading opts.large_keys small keys, and restart time (time to the first correct
    reply) for the backends that keep data across a restart."""
    n = opts.large_keys
    payload = set_payload(n, 3)
    last_key = "key:%012d" % (n - 1)
    loaded = []
    for b in opts.backends:
        server = Server(b, opts, workroot)
        rec = {"phase": "large", "backend": b, "keys": n}
        try:
            server.start()
            time.sleep(0.3)
            rss0 = server.rss_bytes()
            mem0 = server.info("memory").get("used_memory")
            t0 = time.monotonic()
            pipe_load(server, payload, n, timeout=max(120, n / 2000))
            rec["load_s"] = time.monotonic() - t0
            dbsize = server.call("DBSIZE")
            if dbsize != n:
                raise RuntimeError("DBSIZE %r after loading %d keys" % (dbsize, n))
            time.sleep(0.5)
            rec["rss_per_key"] = (server.rss_bytes() - rss0) / n
            rec["rss_mb"] = server.rss_bytes() / 1e6
            mem1 = server.info("memory").get("used_memory")
            if server.family == "redis" and mem0 and mem1:
                rec["used_memory_per_key"] = (int(mem1) - int(mem0)) / n
            if server.name in RDB_BACKENDS:
                r = server.call("SAVE", timeout=300)  # its restart loads this RDB
                if r == "OK":
                    server.persistent = True
                elif server.name == "redis":
                    raise RuntimeError("SAVE: %r" % (r,))
                else:
                    log("large: %s SAVE: %s (no restart row)" % (server.name, r))
            loaded.append(server)
            log("large: %-18s %d keys loaded in %.1fs, RSS +%.0f B/key%s" % (
                b, n, rec["load_s"], rec["rss_per_key"],
                ", used_memory +%.0f B/key" % rec["used_memory_per_key"] if "used_memory_per_key" in rec else ""))
        except (OSError, RuntimeError, ConnectionError, subprocess.SubprocessError) as e:
            rec["error"] = str(e)[:300]
            log("large: %s FAILED: %s" % (b, rec["error"]))
            server.cleanup()
        runs.append(rec)
    try:
        restartable = [s for s in loaded if s.persistent]
        for rep in range(opts.reps):
            for server in rotated(restartable, rep):
                rec = {"phase": "restart", "backend": server.name, "keys": n, "rep": rep + 1,
                       "what": "RDB" if server.name in RDB_BACKENDS else "AOF" if server.family == "redis" else "LMDB"}
                try:
                    server.stop(timeout=120)
                    rec["disk_mb"] = dir_bytes(server.dir) / 1e6
                    rec["restart_s"] = wait_first_reply_after_restart(server, last_key, b"xxx",
                                                                      timeout=max(60, n / 5000))
                    rec["rss_after_mb"] = server.rss_bytes() / 1e6
                    log("restart: %-18s first reply after %.3fs (%s, %.0f MB on disk)" % (
                        server.name, rec["restart_s"], rec["what"], rec["disk_mb"]))
                except (OSError, RuntimeError, ConnectionError, subprocess.SubprocessError) as e:
                    rec["error"] = str(e)[:300]
                    log("restart: %s FAILED: %s" % (server.name, rec["error"]))
                runs.append(rec)
    finally:
        for s in loaded:
            s.cleanup()


def replica_in_sync(server, keys):
    try:
        info = server.info("replication")
        if info.get("master_link_status") != "up":
            return False
        return server.call("DBSIZE") == keys
    except (OSError, ConnectionError):
        return False


def attach(replica, master, timeout):
    """REPLICAOF master on a running replica; waits until it holds the master's keys. Seconds it took."""
    t0 = time.monotonic()
    r = replica.call("REPLICAOF", "127.0.0.1", str(master.port))
    if isinstance(r, RespError):
        raise RuntimeError("REPLICAOF: %s" % r)
    keys = master.call("DBSIZE")
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        if not replica.alive():
            raise RuntimeError("replica died: %s" % replica.log_tail(300))
        if replica_in_sync(replica, keys):
            return time.monotonic() - t0
        time.sleep(0.01)
    raise RuntimeError("replica not in sync after %.0fs (%s)" % (timeout, replica.info("replication").get(
        "master_link_status")))


def detach(replica):
    replica.call("REPLICAOF", "NO", "ONE")


SYNC_PAIRS = [
    ("tern-memory", "tern-memory"),
    ("tern-lmdb-always", "tern-lmdb-always"),
    ("tern-memory", "redis"),
    ("tern-lmdb-always", "redis"),
    ("redis", "redis"),
    ("redis", "tern-memory"),
    ("redis", "tern-lmdb-always"),
]


def lag_probe(master, replica, stop, lags, errors):
    """While the master is under load: SET a sequence number, poll the replica until it shows it."""
    seq = 0
    try:
        with Conn(master.port) as m, Conn(replica.port) as r:
            while not stop.is_set():
                seq += 1
                t0 = time.monotonic()
                m.call("SET", "bench:lagprobe", str(seq))
                deadline = t0 + 10
                while time.monotonic() < deadline:
                    if r.call("GET", "bench:lagprobe") == str(seq).encode():
                        lags.append((time.monotonic() - t0) * 1000)
                        break
                    time.sleep(0.0005)
                else:
                    errors.append("probe %d not replicated within 10s" % seq)
                    return
                stop.wait(0.02)
    except (OSError, ConnectionError) as e:
        errors.append(str(e))


def no_sync_delay(master):
    """A master waits repl-diskless-sync-delay (5 s by default, in Redis 7.0 and Tern) for more replicas before a
    full sync: set it to 0 to time the transfer itself. A server without the setting keeps its behaviour."""
    r = master.call("CONFIG", "SET", "repl-diskless-sync-delay", "0")
    if isinstance(r, RespError):
        log("%s: CONFIG SET repl-diskless-sync-delay 0: %s" % (master.name, r))


def phase_replication(opts, workroot, runs):
    n = opts.repl_keys
    payload = set_payload(n, 3)
    timeout = max(60, n / 5000)
    # Time to full-sync: a master with n keys, a fresh replica started with --replicaof, until it holds them.
    masters = {}
    try:
        for mname in sorted({m for m, _ in SYNC_PAIRS}):
            server = Server(mname, opts, workroot)
            try:
                server.start()
                no_sync_delay(server)
                pipe_load(server, payload, n)
                masters[mname] = server
            except (OSError, RuntimeError, subprocess.SubprocessError) as e:
                server.cleanup()
                for m, rname in SYNC_PAIRS:
                    if m == mname:
                        runs.append({"phase": "fullsync", "backend": "%s -> %s" % (m, rname), "keys": n,
                                     "error": "master: %s" % str(e)[:200]})
        for rep in range(opts.reps):
            for mname, rname in rotated(SYNC_PAIRS, rep):
                if mname not in masters:
                    continue
                master = masters[mname]
                rec = {"phase": "fullsync", "backend": "%s -> %s" % (mname, rname), "keys": n, "rep": rep + 1}
                replica = Server(rname, opts, workroot, extra=["--replicaof", "127.0.0.1", str(master.port)])
                try:
                    t0 = replica.spawn()
                    deadline = t0 + timeout
                    while True:
                        if not replica.alive():
                            raise RuntimeError("replica exited: %s" % replica.log_tail(300).strip()[-200:])
                        if replica_in_sync(replica, n):
                            rec["sync_s"] = time.monotonic() - t0
                            break
                        if time.monotonic() > deadline:
                            raise RuntimeError("not in sync after %.0fs" % timeout)
                        time.sleep(0.005)
                    log("fullsync: %-34s %d keys in %.3fs" % (rec["backend"], n, rec["sync_s"]))
                except (OSError, RuntimeError, ConnectionError, subprocess.SubprocessError) as e:
                    rec["error"] = str(e)[:300]
                    log("fullsync: %s FAILED: %s" % (rec["backend"], rec["error"]))
                replica.cleanup()
                runs.append(rec)
    finally:
        for s in masters.values():
            s.cleanup()

    # Master SET throughput with 0, 1, 2 replicas attached (same family), and replication lag under that load.
    groups = {}
    rates = {}
    try:
        for family, name in (("tern", "tern-memory"), ("redis", "redis")):
            try:
                master = Server(name, opts, workroot).start()
                no_sync_delay(master)
                replicas = [Server(name, opts, workroot).start() for _ in range(2)]
                pipe_load(master, set_payload(opts.keyspace, 3), opts.keyspace)
                groups[name] = (master, replicas, [])
            except (OSError, RuntimeError, subprocess.SubprocessError) as e:
                runs.append({"phase": "replicas", "backend": name, "error": str(e)[:300]})
        for rep in range(opts.reps):
            for k in (0, 1, 2):
                for pipeline in opts.pipelines:
                    for name in rotated(list(groups), rep + k):
                        master, replicas, attached = groups[name]
                        rec = {"phase": "replicas", "backend": name, "replicas": k, "pipeline": pipeline,
                               "rep": rep + 1}
                        try:
                            while len(attached) > k:
                                detach(attached.pop())
                            while len(attached) < k:
                                r = replicas[len(attached)]
                                attach(r, master, timeout)
                                attached.append(r)
                            est = rates.get((name, k, pipeline)) or rates.get((name, pipeline)) or guess_rps(
                                name, pipeline)
                            reqs = int(min(opts.max_requests, max(opts.min_requests, est * opts.seconds)))
                            stop, lags, errors = threading.Event(), [], []
                            probe = None
                            if k >= 1:
                                probe = threading.Thread(target=lag_probe,
                                                         args=(master, attached[0], stop, lags, errors), daemon=True)
                                probe.start()
                            res = run_benchmarks(opts, master, [(opts.clients, reqs, pipeline,
                                                                 ["-t", "set", "-d", "3", "-r", str(opts.keyspace)])],
                                                 timeout=max(60.0, opts.seconds * 40))
                            if probe:
                                stop.set()
                                probe.join(timeout=15)
                                if lags:
                                    rec["lag_p50_ms"] = statistics.median(lags)
                                    rec["lag_max_ms"] = max(lags)
                                    rec["lag_probes"] = len(lags)
                                if errors:
                                    rec["lag_error"] = errors[0][:200]
                            rec.update(res)
                            if "rps" in res:
                                rates[(name, k, pipeline)] = rates[(name, pipeline)] = res["rps"]
                            for r in attached:
                                if not r.alive():
                                    rec["error"] = "replica died: %s" % r.log_tail(200)
                        except (OSError, RuntimeError, ConnectionError, subprocess.SubprocessError) as e:
                            rec["error"] = str(e)[:300]
                        runs.append(rec)
                        if "error" in rec:
                            log("replicas: %-12s %d replicas -P %d FAILED: %s" % (name, k, pipeline, rec["error"]))
                        else:
                            log("replicas: %-12s %d replicas -P %-2d %9.0f SET/s%s" % (
                                name, k, pipeline, rec["rps"],
                                "  lag p50 %.2f max %.2f ms" % (rec["lag_p50_ms"], rec["lag_max_ms"])
                                if "lag_p50_ms" in rec else ""))
    finally:
        for master, replicas, _ in groups.values():
            for s in [master] + replicas:
                s.cleanup()


# ---------------------------------------------------------------- summaries


def med(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values)}


def summarize(runs, phase, keys, metrics):
    """{key tuple: {metric: med}} over the runs of a phase, plus the errors seen per key."""
    groups = {}
    for r in runs:
        if r.get("phase") != phase:
            continue
        groups.setdefault(tuple(r.get(k) for k in keys), []).append(r)
    out = {}
    for k, rs in groups.items():
        out[k] = {m: med([r.get(m) for r in rs if "error" not in r]) for m in metrics}
        out[k]["errors"] = [r["error"] for r in rs if "error" in r]
    return out


def fmt_num(v, digits=0):
    if v is None:
        return "—"
    if digits == 0:
        if v >= 1e6:
            return "%.2fM" % (v / 1e6)
        if v >= 1e4:
            return "%.0fk" % (v / 1e3)
        if v >= 1e3:
            return "%.1fk" % (v / 1e3)
        return "%.0f" % v
    return ("%%.%df" % digits) % v


def fmt_med(m, digits=0):
    if not m:
        return "—"
    s = fmt_num(m["median"], digits)
    if m["runs"] > 1 and m["median"]:
        s += " ±%.0f%%" % (50.0 * (m["max"] - m["min"]) / m["median"])
    return s


def cell_text(entry, metric, digits=0):
    if entry is None:
        return ""
    if entry.get(metric):
        return fmt_med(entry[metric], digits)
    return "fail" if entry["errors"] else "—"


def ratio(a, b):
    if not a or not b or not b["median"]:
        return None
    return a["median"] / b["median"]


def geomean(xs):
    xs = [x for x in xs if x]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def size_label(size):
    return "1 KiB" if size == 1024 else "%d B" % size


def targets(opts, matrix, large):
    """The issue's target ratios, from the medians of this run: (what, ratio, op, goal, the two medians)."""
    rows = []
    small = opts.sizes[0]

    def m(backend, workload, pipeline, metric, size=small):
        e = matrix.get((backend, workload, pipeline, size))
        return e.get(metric) if e else None

    def add(name, a, b, op, limit, unit, digits):
        r = ratio(a, b)
        if r:
            rows.append((name, r, op, limit, "%s vs %s %s" % (fmt_num(a["median"], digits), fmt_num(b["median"], digits),
                                                              unit)))
        return r

    for pipeline, limit in ((16, 1.0), (1, 1.3)):
        if pipeline not in opts.pipelines:
            continue
        for w in ("set", "get"):
            add("memory CPU/request vs Redis, %s -P %d" % (w.upper(), pipeline), m("tern-memory", w, pipeline, "cpu_us"),
                m("redis", w, pipeline, "cpu_us"), "<=", limit, "µs", 2)
        per = [ratio(m("tern-memory", w, pipeline, "cpu_us"), m("redis", w, pipeline, "cpu_us")) for w in opts.workloads]
        g = geomean(per)
        if g:
            rows.append(("memory CPU/request vs Redis, -P %d, geomean of %d workloads" % (
                pipeline, len([v for v in per if v])), g, "<=", limit, "%s-byte values" % small))
    for pipeline in opts.pipelines:
        add("LMDB (always) GET r/s vs memory, -P %d" % pipeline, m("tern-lmdb-always", "get", pipeline, "rps"),
            m("tern-memory", "get", pipeline, "rps"), ">=", 0.8, "r/s", 0)
    for pipeline in opts.pipelines:
        add("LMDB always SET r/s vs Redis appendfsync always, -P %d" % pipeline,
            m("tern-lmdb-always", "set", pipeline, "rps"), m("redis-aof-always", "set", pipeline, "rps"), ">=", 1.5,
            "r/s", 0)
    t, rd = large.get(("tern-memory",), {}), large.get(("redis",), {})
    add("memory RSS per small key vs Redis RSS per key", t.get("rss_per_key"), rd.get("rss_per_key"), "<=", 1.5,
        "bytes", 0)
    return rows


def write_outputs(opts, runs, meta):
    os.makedirs(opts.out, exist_ok=True)
    base = os.path.join(opts.out, "%s-%s" % (meta["date"], opts.name))
    metrics = ["rps", "p50", "p99", "avg", "cpu_us"]
    matrix = summarize(runs, "matrix", ["backend", "workload", "pipeline", "size"], metrics)
    large = summarize(runs, "large", ["backend"], ["rss_per_key", "used_memory_per_key", "load_s", "rss_mb"])
    restart = summarize(runs, "restart", ["backend"], ["restart_s", "disk_mb", "rss_after_mb"])
    fullsync = summarize(runs, "fullsync", ["backend"], ["sync_s"])
    repl = summarize(runs, "replicas", ["backend", "replicas", "pipeline"],
                     ["rps", "cpu_us", "p99", "lag_p50_ms", "lag_max_ms"])

    # Raw runs.
    fields = ["phase", "backend", "workload", "pipeline", "size", "replicas", "keys", "rep", "n", "rps", "p50", "p99",
              "avg", "cpu_us", "wall", "rss_per_key", "used_memory_per_key", "rss_mb", "load_s", "what", "restart_s",
              "disk_mb", "rss_after_mb", "sync_s", "lag_p50_ms", "lag_max_ms", "lag_probes", "lag_error", "error"]
    with open(base + "-runs.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in runs:
            w.writerow({k: ("%.6g" % v if isinstance(v, float) else v) for k, v in r.items()})

    # Medians, one row per cell and metric (long form: easy to filter or pivot).
    with open(base + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["phase", "backend", "workload", "pipeline", "size", "replicas", "metric", "median", "min", "max",
                    "runs", "errors"])

        def emit(phase, backend, workload, pipeline, size, replicas, entry):
            for metric, mm in entry.items():
                if metric == "errors":
                    continue
                if mm:
                    w.writerow([phase, backend, workload, pipeline, size, replicas, metric, "%.6g" % mm["median"],
                                "%.6g" % mm["min"], "%.6g" % mm["max"], mm["runs"], len(entry["errors"])])
                elif entry["errors"]:
                    w.writerow([phase, backend, workload, pipeline, size, replicas, metric, "", "", "", 0,
                                len(entry["errors"])])

        for (b, wl, p, s), e in sorted(matrix.items(), key=lambda kv: (kv[0][3], kv[0][2], WORKLOAD_NAMES.index(
                kv[0][1]), BACKEND_NAMES.index(kv[0][0]))):
            emit("matrix", b, wl, p, s, "", e)
        for (b,), e in large.items():
            emit("large", b, "set", 16, 3, "", e)
        for (b,), e in restart.items():
            emit("restart", b, "", "", "", "", e)
        for (b,), e in fullsync.items():
            emit("fullsync", b, "", "", "", "", e)
        for (b, k, p), e in sorted(repl.items()):
            emit("replicas", b, "set", p, 3, k, e)

    target_rows = targets(opts, matrix, large)
    charts = write_charts(opts, base, matrix, large, restart, fullsync, repl) if not opts.no_charts else []

    L = []
    L.append("# Tern benchmark: %s, %s" % (opts.name, meta["date"]))
    L.append("")
    L.append("Measured by `%s` (benchmarks/bench.py). Every server was started by the harness on a free 127.0.0.1 "
             "port with a fresh data dir; the backends were measured alternately (rotated order per cell) with "
             "redis-benchmark." % meta["command"])
    if meta.get("rewritten"):
        L.append("")
        L.append("This report was rewritten from that run's raw runs CSV (`%s`)%s; the numbers are the run's."
                 % (meta["rewritten"], ", with the closing notes added" if opts.notes else ""))
    L.append("")
    L.append("| | |")
    L.append("| --- | --- |")
    for k, v in meta["rows"]:
        L.append("| %s | %s |" % (k, v))
    L.append("")
    L.append("Cells: median of %d runs; `±x%%` is half the min–max spread relative to the median. r/s: requests per "
             "second (redis-benchmark `--csv`; the mixed workload: total requests / wall time). CPU µs: the server's "
             "CPU time (utime+stime of all its threads, /proc/<pid>/stat) per request, which still compares server "
             "cost when the client is the bottleneck. Latencies in ms from redis-benchmark. `fail`: every run of "
             "the cell failed (see the runs CSV for the error)." % opts.reps)
    L.append("")
    if target_rows:
        L.append("## Targets (issue 7), ratios from this run's medians")
        L.append("")
        L.append("| target | Tern vs reference | ratio | goal | |")
        L.append("| --- | --- | ---: | --- | --- |")
        for name, r, op, limit, detail in target_rows:
            ok = r <= limit if op == "<=" else r >= limit
            L.append("| %s | %s | %.2fx | %s %.1fx | %s |" % (name, detail, r, op, limit, "met" if ok else "**missed**"))
        L.append("")
    present = [b for b in opts.backends if any(k[0] == b for k in matrix)]
    for title, metric, digits in (("Throughput (requests/s)", "rps", 0), ("Server CPU per request (µs)", "cpu_us", 2),
                                  ("Latency p50 / p99 (ms)", None, 2)):
        L.append("## %s" % title)
        L.append("")
        for size in opts.sizes:
            for pipeline in opts.pipelines:
                rows = [w for w in opts.workloads if (present and (present[0], w, pipeline, size) in matrix)]
                if not rows:
                    continue
                L.append("%d clients, -P %d, %s values, keyspace %d:" % (opts.clients, pipeline, size_label(size),
                                                                         opts.keyspace))
                L.append("")
                L.append("| workload | " + " | ".join(present) + " |")
                L.append("| --- |" + " ---: |" * len(present))
                for wl in rows:
                    cells = []
                    for b in present:
                        e = matrix.get((b, wl, pipeline, size))
                        if metric:
                            cells.append(cell_text(e, metric, digits))
                        elif e and e.get("p50"):
                            cells.append("%.2f / %.2f" % (e["p50"]["median"], e["p99"]["median"]))
                        else:
                            cells.append("fail" if e and e["errors"] else "")
                    L.append("| %s | %s |" % (wl, " | ".join(cells)))
                L.append("")
    if large:
        L.append("## Large dataset: %d keys of 3 bytes" % opts.large_keys)
        L.append("")
        L.append("Loaded with `redis-cli --pipe`. RSS per key: (RSS after loading − RSS before) / keys (LMDB's pages "
                 "are written with pwrite and mostly not mapped: its RSS is not its data size, see on disk). `tern-memory` "
                 "and `redis` restart from the RDB written by `SAVE`, the AOF servers from their AOF. Restart: "
                 "the time from starting the process to the first correct reply to `GET` of the last key loaded "
                 "(a server loading its RDB or AOF replies `-LOADING` meanwhile; Tern LMDB only opens its environment), "
                 "median of %d restarts; RSS just after that reply." % opts.reps)
        L.append("")
        L.append("| backend | load r/s | RSS per key (B) | used_memory per key (B) | RSS loaded (MB) | restart from "
                 "| restart (s) | on disk (MB) | RSS after restart (MB) |")
        L.append("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
        for b in opts.backends:
            e = large.get((b,))
            if not e:
                continue
            if e["errors"] and not e["rss_per_key"]:
                L.append("| %s | fail: %s | | | | | | | |" % (b, e["errors"][0][:120].replace("|", "/")))
                continue
            rs = restart.get((b,))
            what = next((r.get("what") for r in runs if r.get("phase") == "restart" and r["backend"] == b), "")
            rcell = ("fail: " + rs["errors"][0][:80].replace("|", "/")) if rs and rs["errors"] and not rs[
                "restart_s"] else (cell_text(rs, "restart_s", 3) if rs else "— (not persistent)")
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                b, fmt_num(opts.large_keys / e["load_s"]["median"]) if e["load_s"] else "—",
                cell_text(e, "rss_per_key", 0) if e["rss_per_key"] else "—",
                fmt_num(e["used_memory_per_key"]["median"], 0) if e["used_memory_per_key"] else "—",
                fmt_num(e["rss_mb"]["median"], 0) if e["rss_mb"] else "—", what or "—", rcell,
                cell_text(rs, "disk_mb", 0) if rs else "—", cell_text(rs, "rss_after_mb", 0) if rs else "—"))
        L.append("")
    if fullsync:
        L.append("## Replication: time to full-sync %d keys" % opts.repl_keys)
        L.append("")
        L.append("A master holding the keys; a fresh replica started with `--replicaof`; time from its start until "
                 "`master_link_status:up` and `DBSIZE` equals the master's. Median of %d. Masters run with "
                 "`repl-diskless-sync-delay 0` (the default, 5 s, waits for more replicas before syncing)." % opts.reps)
        L.append("")
        L.append("| master -> replica | sync (s) | keys/s | |")
        L.append("| --- | ---: | ---: | --- |")
        for m, r in SYNC_PAIRS:
            e = fullsync.get(("%s -> %s" % (m, r),))
            if not e:
                continue
            note = ("%d of %d runs failed: %s" % (len(e["errors"]), len(e["errors"]) + (e["sync_s"] or {}).get(
                "runs", 0), e["errors"][0][:150].replace("|", "/"))) if e["errors"] else ""
            L.append("| %s -> %s | %s | %s | %s |" % (m, r, cell_text(e, "sync_s", 3),
                                                      fmt_num(opts.repl_keys / e["sync_s"]["median"]) if e[
                                                          "sync_s"] else "—", note))
        L.append("")
    if repl:
        L.append("## Replication: master SET throughput with 0, 1, 2 replicas")
        L.append("")
        L.append("Master and replicas of one kind (Tern memory, or stock Redis), SET of 3-byte values, keyspace %d. "
                 "Lag: a probe writes a sequence number on the master every 20 ms during the run and polls the first "
                 "replica until it shows it (time from the write to seeing it, p50 and max over the run; medians of "
                 "%d runs)." % (opts.keyspace, opts.reps))
        L.append("")
        L.append("| master | -P | replicas | SET r/s | master CPU µs | p99 (ms) | lag p50 (ms) | lag max (ms) | |")
        L.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for (b, k, p), e in sorted(repl.items(), key=lambda kv: (kv[0][0] != "tern-memory", kv[0][2], kv[0][1])):
            note = e["errors"][0][:150].replace("|", "/") if e["errors"] else ""
            L.append("| %s | %d | %d | %s | %s | %s | %s | %s | %s |" % (
                b, p, k, cell_text(e, "rps"), cell_text(e, "cpu_us", 2), cell_text(e, "p99", 2),
                cell_text(e, "lag_p50_ms", 2) if k else "", cell_text(e, "lag_max_ms", 2) if k else "", note))
        L.append("")
    if charts:
        L.append("## Charts")
        L.append("")
        for path in charts:
            L.append("![%s](%s)" % (os.path.basename(path), os.path.basename(path)))
            L.append("")
    L.append("Raw runs: `%s`; medians (long form): `%s`." % (os.path.basename(base + "-runs.csv"),
                                                            os.path.basename(base + ".csv")))
    if opts.notes:
        L.append("")
        L.append("## Notes")
        L.append("")
        with open(opts.notes) as f:
            L.append(f.read().strip())
    L.append("")
    with open(base + ".md", "w") as f:
        f.write("\n".join(L))
    return base + ".md", target_rows


# ---------------------------------------------------------------- charts


def write_charts(opts, base, matrix, large, restart, fullsync, repl):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    except ImportError:
        log("charts skipped: matplotlib is not installed (pip install matplotlib; benchmarks/run installs it)")
        return []
    backends = [b for b in opts.backends if any(k[0] == b for k in matrix)]
    paths = []
    variants = [(p, s) for s in opts.sizes for p in opts.pipelines]
    wls = [w for w in opts.workloads if any(k[1] == w for k in matrix)]

    handles = [plt.Rectangle((0, 0), 1, 1, color=COLORS[b]) for b in backends]
    width = 0.8 / max(1, len(backends))

    # 1. Throughput by backend, one figure per pipeline depth, one panel per workload, a group per value size.
    for p in (opts.pipelines if wls else []):  # no matrix phase: no matrix charts
        cols = 3 if len(wls) > 4 else max(1, len(wls))
        rows = math.ceil(len(wls) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.1 * rows + 1.2), squeeze=False,
                                 layout="constrained")
        for i, wl in enumerate(wls):
            ax = axes[i // cols][i % cols]
            sizes = [s for s in opts.sizes if any((b, wl, p, s) in matrix for b in backends)]
            for gi, s in enumerate(sizes):
                for bi, b in enumerate(backends):
                    e = matrix.get((b, wl, p, s))
                    x = gi + (bi - (len(backends) - 1) / 2) * width
                    if not e or not e.get("rps"):
                        ax.text(x, 0, "x", ha="center", va="bottom", color=COLORS[b], fontsize=9)
                        continue
                    m = e["rps"]
                    ax.bar(x, m["median"] / 1e3, width, color=COLORS[b],
                           yerr=[[(m["median"] - m["min"]) / 1e3], [(m["max"] - m["median"]) / 1e3]],
                           error_kw={"elinewidth": 0.8, "capsize": 1.5})
            ax.set_xticks(range(len(sizes)))
            ax.set_xticklabels(["%s values" % size_label(s) if WORKLOADS[wl][1] else "(no value)" for s in sizes],
                               fontsize=9)
            ax.set_title(wl.upper() if wl != "mixed" else "mixed: 80% GET / 20% SET", fontsize=11,
                         fontweight="bold")
            ax.set_ylabel("thousand requests/s", fontsize=9)
            ax.grid(axis="y", alpha=0.3)
            ax.set_axisbelow(True)
        for j in range(len(wls), rows * cols):
            axes[j // cols][j % cols].axis("off")
        # The title rides on the legend: constrained layout places an "outside" legend over a suptitle.
        fig.legend(handles, backends, loc="outside upper center", ncol=min(7, len(backends)), fontsize=10,
                   frameon=False, title_fontsize=13,
                   title="Throughput by backend: -P %d, %d clients (median of %d; whiskers: min–max)"
                   % (p, opts.clients, opts.reps))
        paths.append(base + "-throughput-p%d.png" % p)
        fig.savefig(paths[-1], dpi=90)
        plt.close(fig)

    # 2. Server CPU per request and 3. latency percentiles: one panel per (pipeline, size), workloads on x.
    for kind in (("cpu", "latency") if wls else ()):
        fig_width = max(9, 1.3 * len(wls) + 3)
        fig, axes = plt.subplots(len(variants), 1, figsize=(fig_width, 3.3 * len(variants) + 1.2),
                                 squeeze=False, layout="constrained")
        for vi, (p, s) in enumerate(variants):
            ax = axes[vi][0]
            here = [wl for wl in wls if any((b, wl, p, s) in matrix for b in backends)]
            for bi, b in enumerate(backends):
                for wi, wl in enumerate(here):
                    e = matrix.get((b, wl, p, s))
                    if not e or not e.get("rps"):
                        continue
                    x = wi + (bi - (len(backends) - 1) / 2) * width
                    if kind == "cpu":
                        m = e["cpu_us"]
                        ax.bar(x, m["median"], width, color=COLORS[b],
                               yerr=[[m["median"] - m["min"]], [m["max"] - m["median"]]],
                               error_kw={"elinewidth": 0.8, "capsize": 1.5})
                    else:
                        p50, p99 = e["p50"]["median"], e["p99"]["median"]
                        ax.bar(x, p50, width, color=COLORS[b])
                        ax.plot([x, x], [p50, p99], color=COLORS[b], lw=1.2)
                        ax.plot([x], [p99], marker="_", color="black", markersize=6)
            ax.set_xticks(range(len(here)))
            ax.set_xticklabels(here, fontsize=10)
            ax.set_xlim(-0.6, len(wls) - 0.4)
            ax.set_title("-P %d, %s values" % (p, size_label(s)), fontsize=11, fontweight="bold")
            ax.set_yscale("log")  # MSET (10 keys a request) and LMDB always dwarf the rest on a linear scale
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: "%g" % v))
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_ylabel("server CPU µs / request (log)" if kind == "cpu" else "ms (log scale)", fontsize=9)
            ax.grid(axis="y", alpha=0.3, which="both")
            ax.set_axisbelow(True)
        fig.legend(handles, backends, loc="outside upper center", ncol=min(7 if fig_width >= 14 else 4, len(backends)),
                   fontsize=10, frameon=False, title_fontsize=13,
                   title="Server CPU time per request, lower is cheaper (median of %d; whiskers: min–max)" % opts.reps
                   if kind == "cpu" else "Latency (redis-benchmark, %d clients): bar = p50, line up to the black "
                   "tick = p99" % opts.clients)
        paths.append(base + "-%s.png" % kind)
        fig.savefig(paths[-1], dpi=90)
        plt.close(fig)

    # 4. Large dataset: memory per key and restart time.
    lb = [b for b in opts.backends if large.get((b,)) and large[(b,)]["rss_per_key"]]
    if lb:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 4.6))
        a1.bar(range(len(lb)), [large[(b,)]["rss_per_key"]["median"] for b in lb], color=[COLORS[b] for b in lb])
        for i, b in enumerate(lb):
            um = large[(b,)]["used_memory_per_key"]
            if um:
                a1.plot([i - 0.4, i + 0.4], [um["median"]] * 2, color="black", lw=1.5)
            disk = restart.get((b,), {}).get("disk_mb")
            if disk:  # LMDB's RSS is not its data: show the bytes per key on disk beside it
                a1.bar(i + 0.2, disk["median"] * 1e6 / opts.large_keys, 0.35, fill=False, hatch="//",
                       edgecolor="dimgray")
        a1.set_xticks(range(len(lb)))
        a1.set_xticklabels(lb, rotation=25, ha="right", fontsize=9)
        a1.set_ylabel("bytes per key")
        a1.set_title("Memory per key after loading %s keys: RSS (filled), Redis used_memory\n(black line), "
                     "bytes on disk per key after a restart (hatched)" % fmt_num(opts.large_keys), fontsize=10)
        a1.grid(axis="y", alpha=0.3)
        rb = [b for b in lb if restart.get((b,)) and restart[(b,)]["restart_s"]]
        a2.bar(range(len(rb)), [restart[(b,)]["restart_s"]["median"] for b in rb], color=[COLORS[b] for b in rb])
        for i, b in enumerate(rb):
            a2.text(i, restart[(b,)]["restart_s"]["median"], "%.3f s" % restart[(b,)]["restart_s"]["median"],
                    ha="center", va="bottom", fontsize=9)
        a2.set_xticks(range(len(rb)))
        a2.set_xticklabels(rb, rotation=25, ha="right", fontsize=9)
        a2.set_ylabel("seconds")
        a2.set_title("Restart: time to first correct reply with %s keys" % fmt_num(opts.large_keys), fontsize=11)
        a2.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        paths.append(base + "-dataset.png")
        fig.savefig(paths[-1], dpi=90)
        plt.close(fig)

    # 5. Replication: full-sync time per pair, master SET throughput by number of replicas.
    pairs = [("%s -> %s" % pr) for pr in SYNC_PAIRS if fullsync.get(("%s -> %s" % pr,), {}).get("sync_s")]
    if pairs or repl:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 4.8), layout="constrained")
        vals = [fullsync[(pr,)]["sync_s"]["median"] for pr in pairs]
        a1.barh(range(len(pairs)), vals, color=[COLORS[pr.split(" -> ")[0]] for pr in pairs])
        for i, v in enumerate(vals):
            a1.text(v, i, " %.2f s" % v, va="center", fontsize=9)
        a1.set_yticks(range(len(pairs)))
        a1.set_yticklabels(pairs, fontsize=9)
        a1.invert_yaxis()
        a1.set_xlabel("seconds (bar colour: master)")
        a1.set_title("Full sync of %s keys: replica start to in sync" % fmt_num(opts.repl_keys), fontsize=11)
        a1.grid(axis="x", alpha=0.3)
        for (b, p) in sorted({(k[0], k[2]) for k in repl}):
            ks = sorted(k[1] for k in repl if k[0] == b and k[2] == p and repl[k]["rps"])
            if ks:
                a2.plot(ks, [repl[(b, k, p)]["rps"]["median"] / 1e3 for k in ks], marker="o", color=COLORS[b],
                        linestyle="-" if p != 1 else "--", label="%s master, -P %d" % (b, p))
        a2.set_xticks([0, 1, 2])
        a2.set_xlabel("replicas attached")
        a2.set_ylabel("thousand SET/s on the master")
        a2.set_ylim(bottom=0)
        a2.set_title("Master SET throughput with 0, 1, 2 replicas", fontsize=11)
        a2.grid(alpha=0.3)
        a2.legend(fontsize=9)
        paths.append(base + "-replication.png")
        fig.savefig(paths[-1], dpi=90)
        plt.close(fig)
    return paths


# ---------------------------------------------------------------- main


def git_rev():
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "Sources", "Package.swift"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + (" (with uncommitted changes in Sources)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run (< 2 minutes): few workloads, small counts")
    ap.add_argument("--name", help="results are <out>/<date>-<name>.{md,csv} (default: matrix, or quick)")
    ap.add_argument("--out", help="results directory (default benchmarks/results; --quick: benchmarks/.out)")
    ap.add_argument("--tern-bin", default=os.environ.get("TERN_BIN"),
                    help="tern-server binary (default $TERN_BIN, else .build/release/tern-server)")
    ap.add_argument("--backends", help="comma-separated subset of: " + ",".join(BACKEND_NAMES))
    ap.add_argument("--workloads", help="comma-separated subset of: " + ",".join(WORKLOAD_NAMES))
    ap.add_argument("--pipelines", help="comma-separated pipeline depths (default 1,16)")
    ap.add_argument("--sizes", help="comma-separated value sizes in bytes (default 3,1024)")
    ap.add_argument("--reps", type=int, help="runs per cell, reported as the median (default 3)")
    ap.add_argument("--seconds", type=float, help="target duration of one redis-benchmark run (default 1.0); "
                    "requests per run are sized from the backend's previous rate")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--keyspace", type=int, help="redis-benchmark -r (default 100000)")
    ap.add_argument("--large-keys", type=int, help="keys in the large-dataset case (default 1000000)")
    ap.add_argument("--repl-keys", type=int, help="keys for the full-sync rows (default 1000000)")
    ap.add_argument("--phases", default="matrix,large,replication",
                    help="comma-separated subset of matrix,large,replication")
    ap.add_argument("--no-charts", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the servers' data dirs and logs")
    ap.add_argument("--notes", help="a Markdown file appended to the report as its closing notes")
    ap.add_argument("--from-runs", metavar="RUNS_CSV",
                    help="measure nothing: rewrite the report, CSV and charts from an earlier run's -runs.csv "
                         "(with the same --quick/--reps/... options it ran with)")
    opts = ap.parse_args(argv)
    q = opts.quick
    opts.name = opts.name or ("quick" if q else "matrix")
    opts.out = os.path.abspath(opts.out or os.path.join(ROOT, "benchmarks", ".out" if q else "results"))
    opts.tern_bin = os.path.abspath(opts.tern_bin or os.path.join(ROOT, ".build", "release", "tern-server"))
    opts.backends = opts.backends.split(",") if opts.backends else list(BACKEND_NAMES)
    opts.workloads = opts.workloads.split(",") if opts.workloads else (
        ["set", "get", "lpush", "zrange", "mixed"] if q else list(WORKLOAD_NAMES))
    opts.pipelines = [int(x) for x in opts.pipelines.split(",")] if opts.pipelines else [1, 16]
    opts.sizes = [int(x) for x in opts.sizes.split(",")] if opts.sizes else ([3] if q else [3, 1024])
    opts.reps = opts.reps or (1 if q else 3)
    opts.seconds = opts.seconds or (0.1 if q else 1.0)
    opts.keyspace = opts.keyspace or (5000 if q else 100_000)
    opts.large_keys = opts.large_keys or (20_000 if q else 1_000_000)
    opts.repl_keys = opts.repl_keys or (20_000 if q else 1_000_000)
    opts.min_requests = 1000 if q else 3000
    opts.max_requests = 200_000 if q else 5_000_000
    opts.phases = opts.phases.split(",")
    for b in opts.backends:
        if b not in BACKEND_BY_NAME:
            ap.error("unknown backend %r (known: %s)" % (b, ", ".join(BACKEND_NAMES)))
    for w in opts.workloads:
        if w not in WORKLOADS:
            ap.error("unknown workload %r (known: %s)" % (w, ", ".join(WORKLOAD_NAMES)))
    for p in opts.phases:
        if p not in ("matrix", "large", "replication"):
            ap.error("unknown phase %r" % p)
    return opts


INT_FIELDS = {"pipeline", "size", "replicas", "keys", "rep", "n", "lag_probes"}
TEXT_FIELDS = {"phase", "backend", "workload", "what", "lag_error", "error"}


def rerender(opts):
    runs = []
    with open(opts.from_runs, newline="") as f:
        for row in csv.DictReader(f):
            rec = {}
            for k, v in row.items():
                if v == "" or v is None:
                    continue
                rec[k] = v if k in TEXT_FIELDS else (int(v) if k in INT_FIELDS else float(v))
            runs.append(rec)
    name = os.path.basename(opts.from_runs)
    header = []
    md = opts.from_runs[:-len("-runs.csv")] + ".md"
    if os.path.exists(md):  # keep the original header table (when, where, load average)
        with open(md) as f:
            lines = f.read().split("\n| | |\n| --- | --- |\n", 1)
        if len(lines) == 2:
            for line in lines[1].split("\n\n", 1)[0].splitlines():
                k, v = line.strip().strip("|").split(" | ", 1)
                if k.strip() != "---":
                    header.append((k.strip(), v.strip()))
    command = "benchmarks/run"
    if os.path.exists(md):  # the command that measured, not this rewrite
        with open(md) as f:
            m = re.search(r"by `([^`]*)`", f.read())
        if m:
            command = m.group(1)
    meta = {"date": name[:10], "command": command, "rows": header,
            "rewritten": "benchmarks/bench.py --from-runs %s%s" % (name, " --notes" if opts.notes else "")}
    opts.out = os.path.dirname(os.path.abspath(opts.from_runs))
    opts.name = name[11:-len("-runs.csv")]
    out, _ = write_outputs(opts, runs, meta)
    log("rewrote %s" % out)
    return 0


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    if opts.from_runs:
        return rerender(opts)
    opts.redis_bin = shutil.which("redis-server")
    opts.redis_cli = shutil.which("redis-cli")
    opts.redis_benchmark = shutil.which("redis-benchmark")
    missing = [n for n, p in (("redis-server", opts.redis_bin), ("redis-cli", opts.redis_cli),
                              ("redis-benchmark", opts.redis_benchmark)) if not p]
    if missing:
        sys.exit("missing %s: apt-get install redis-server redis-tools" % ", ".join(missing))
    if any(BACKEND_BY_NAME[b][1] == "tern" for b in opts.backends) and not os.access(opts.tern_bin, os.X_OK):
        sys.exit("no tern-server at %s: swift build -c release --product tern-server (or --tern-bin)" % opts.tern_bin)
    redis_version = subprocess.run([opts.redis_bin, "--version"], capture_output=True, text=True).stdout.strip()
    redis_version = " ".join(w for w in redis_version.split() if w.startswith(("v=", "malloc="))) or redis_version
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = loadavg()
    workroot = tempfile.mkdtemp(prefix="tern-bench-")

    def on_sigterm(_sig, _frame):  # stop our servers (the finally blocks) and write what was measured
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    runs = []
    t0 = time.monotonic()
    log("results -> %s/%s-%s.*; servers' data under %s" % (opts.out, started.strftime("%Y-%m-%d"), opts.name,
                                                           workroot))
    try:
        if "matrix" in opts.phases:
            phase_matrix(opts, workroot, runs)
        if "large" in opts.phases:
            phase_large(opts, workroot, runs)
        if "replication" in opts.phases:
            phase_replication(opts, workroot, runs)
    except KeyboardInterrupt:
        log("interrupted: writing what was measured")
    finally:
        if not opts.keep:
            shutil.rmtree(workroot, ignore_errors=True)
    elapsed = time.monotonic() - t0
    cmd = "benchmarks/run" + ("" if argv is None and not sys.argv[1:] else " " + " ".join(
        a for a in (sys.argv[1:] if argv is None else argv)))
    meta = {
        "date": started.strftime("%Y-%m-%d"),
        "command": cmd,
        "rows": [
            ("started", started.strftime("%Y-%m-%d %H:%M UTC") + ", took %.0f min" % (elapsed / 60)),
            ("Tern", "%s, `%s`" % (git_rev(), os.path.relpath(opts.tern_bin, ROOT))),
            ("Redis", redis_version),
            ("machine", "%d cores, %s" % (os.cpu_count(), platform.platform())),
            ("load average (1/5/15 min)", "%s before, %s after" % (load_before, loadavg())),
            ("settings", "%d clients, keyspace %d, values %s, -P %s, ~%.1fs per run, %d runs per cell"
             % (opts.clients, opts.keyspace, "/".join(size_label(s) for s in opts.sizes),
                "/".join(map(str, opts.pipelines)), opts.seconds, opts.reps)),
        ],
    }
    md, target_rows = write_outputs(opts, runs, meta)
    failed = sum(1 for r in runs if "error" in r)
    log("%d runs (%d failed) in %.0fs; report: %s" % (len(runs), failed, elapsed, md))
    for name, r, op, limit, detail in target_rows:
        log("target: %-62s %.2fx (goal %s %.1fx): %s" % (name, r, op, limit, detail))
    return 0


if __name__ == "__main__":
    sys.exit(main())
