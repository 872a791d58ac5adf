#!/usr/bin/env python3
"""RDB speed, Tern (memory backend, release build) against a stock redis-server, same machine, same minute.

1. Fills a stock Redis with N mixed keys (60% strings, 10% each small hash / list / set / sorted set) and SAVEs.
2. Load: starts each server on that dump.rdb and reads its own "DB loaded from disk: X seconds" log line
   (Redis and Tern log it the same way).
3. BGSAVE: on each loaded server, BGSAVE and poll INFO persistence until it ends (wall time), while another
   client sends GETs back to back: their latency during the save (p50 / p99 / max) shows what clients see.

Not part of the test suite. Usage: benchmarks/rdb.py [N] (default 1,000,000); TERN_BIN (default
.build/release/tern-server). Writes benchmarks/results/<date>-rdb.md."""

import datetime
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import redis

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
TERN_BIN = os.environ.get("TERN_BIN", os.path.join(ROOT, ".build", "release", "tern-server"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv, port, log):
    proc = subprocess.Popen(argv, stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            c = redis.Redis(port=port, socket_timeout=600)
            c.ping()
            return proc, c
        except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError):
            time.sleep(0.05)
    raise RuntimeError("server did not start: " + " ".join(argv))


def wait_loaded(c, log):
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            if c.info("persistence")["loading"] == 0:
                break
        except redis.exceptions.BusyLoadingError:
            pass
        time.sleep(0.02)
    text = open(log).read()
    m = re.findall(r"DB loaded from disk: ([0-9.]+) seconds", text)
    return float(m[-1])


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def fill(c):
    p = c.pipeline(transaction=False)
    for i in range(N):
        kind = i % 10
        k = b"key:%d" % i
        if kind < 6:
            p.set(k, b"value-%d" % i if kind % 2 else b"%d" % i)
        elif kind == 6:
            p.hset(k, mapping={b"f1": b"v1", b"f2": b"%d" % i, b"f3": b"some text here"})
        elif kind == 7:
            p.rpush(k, b"a", b"b", b"%d" % i, b"element")
        elif kind == 8:
            p.sadd(k, i, i + 1, i + 2)
        else:
            p.zadd(k, {b"m1": 1.5, b"m2": i, b"m3": -2})
        if i % 10000 == 9999:
            p.execute()
    p.execute()


def bgsave_with_latency(c, port):
    samples = []
    done = threading.Event()

    def prober():
        pc = redis.Redis(port=port, socket_timeout=60)
        while not done.is_set():
            t = time.perf_counter()
            pc.get(b"key:1")
            samples.append(time.perf_counter() - t)

    th = threading.Thread(target=prober)
    th.start()
    time.sleep(0.2)
    before = len(samples)
    t0 = time.perf_counter()
    c.bgsave()
    while c.info("persistence")["rdb_bgsave_in_progress"] == 1:
        time.sleep(0.005)
    elapsed = time.perf_counter() - t0
    during = sorted(samples[before:])
    done.set()
    th.join()
    assert c.info("persistence")["rdb_last_bgsave_status"] == "ok"
    if not during:
        return elapsed, 0, 0, 0, 0
    pct = lambda q: during[min(len(during) - 1, int(q * len(during)))] * 1000
    return elapsed, len(during), pct(0.5), pct(0.99), during[-1] * 1000


def main():
    work = tempfile.mkdtemp(prefix="tern-rdb-bench-")
    rows = []
    try:
        rdir = os.path.join(work, "redis")
        tdir = os.path.join(work, "tern")
        os.makedirs(rdir)
        os.makedirs(tdir)
        port = free_port()
        rargv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", rdir, "--save", "",
                 "--appendonly", "no"]
        proc, c = start(rargv, port, os.path.join(work, "redis.log"))
        print("filling %d keys..." % N, flush=True)
        fill(c)
        c.save()
        stop(proc)
        shutil.copy(os.path.join(rdir, "dump.rdb"), os.path.join(tdir, "dump.rdb"))
        size = os.path.getsize(os.path.join(rdir, "dump.rdb"))

        results = {}
        for name in ("redis", "tern", "redis2", "tern2"):
            port = free_port()
            log = os.path.join(work, name + ".log")
            if name.startswith("redis"):
                argv = rargv[:2] + [str(port)] + rargv[3:]
            else:
                argv = [TERN_BIN, "--port", str(port), "--bind", "127.0.0.1", "--dir", tdir, "--save", ""]
            proc, c = start(argv, port, log)
            try:
                load = wait_loaded(c, log)
                assert c.dbsize() == N, (name, c.dbsize())
                bg = bgsave_with_latency(c, port)
            finally:
                stop(proc)
            results.setdefault(name.rstrip("2"), []).append((load, bg))
            print(name, "load %.2fs" % load, "bgsave %.2fs" % bg[0], "probes %d p50 %.3fms p99 %.3fms max %.1fms" % bg[1:],
                  flush=True)
        best = {k: (min(x[0] for x in v), min(x[1][0] for x in v), max(v, key=lambda x: x[1][0])[1]) for k, v in results.items()}
        load_ratio = best["tern"][0] / best["redis"][0]
        save_ratio = best["tern"][1] / best["redis"][1]
        lines = [
            "# RDB load and BGSAVE: Tern (memory, release) vs redis-server %s" % subprocess.run(
                ["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2],
            "",
            "%s, %d mixed keys (60%% strings, 10%% each small hash/list/set/zset), dump.rdb %d bytes, best of 2 runs." % (
                datetime.date.today().isoformat(), N, size),
            "",
            "| | redis | tern | ratio (tern / redis) |",
            "| --- | --- | --- | --- |",
            "| load (s, from the servers' own log line) | %.2f | %.2f | %.2f |" % (best["redis"][0], best["tern"][0], load_ratio),
            "| BGSAVE (s, wall time until done) | %.2f | %.2f | %.2f |" % (best["redis"][1], best["tern"][1], save_ratio),
        ]
        for k in ("redis", "tern"):
            _, n, p50, p99, mx = best[k][2]
            lines.append("| GET latency during BGSAVE, %s: %d probes | p50 %.3f ms | p99 %.3f ms | max %.1f ms |" % (k, n, p50, p99, mx))
        text = "\n".join(lines) + "\n"
        print(text)
        out = os.path.join(ROOT, "benchmarks", "results", "%s-rdb.md" % datetime.date.today().isoformat())
        with open(out, "w") as f:
            f.write(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
