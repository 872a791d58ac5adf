"""The benchmark harness (benchmarks/run --quick) works end to end against the tern-server under test.

It proves the harness runs, measures every backend and workload of the quick matrix, and writes its report, CSVs
and charts; it asserts no speed. The harness starts its own servers (Tern from TERN_BIN, the stock
redis-server), so it runs once per `scripts/test` (in the memory pass), not once per backend.
"""

import csv
import glob
import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT, TERN_BACKEND, TERN_BIN

HARNESS = os.path.join(REPO_ROOT, "benchmarks", "run")
QUICK_BACKENDS = ["tern-memory", "tern-lmdb-always", "tern-lmdb-everysec", "tern-lmdb-no", "redis",
                  "redis-aof-always", "redis-aof-everysec"]
QUICK_WORKLOADS = ["set", "get", "lpush", "zrange", "mixed"]
TIMEOUT = 170  # the quick mode's budget is two minutes; a debug build on a busy machine gets some slack


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    if TERN_BACKEND != "memory":
        pytest.skip("the harness starts every backend itself: run once, in the memory pass")
    if not os.path.exists(TERN_BIN):
        pytest.fail("tern-server binary not found at %s" % TERN_BIN)
    # The charts are part of what is checked: matplotlib comes from scripts/test's set-up step, never from
    # an install in the middle of the run (benchmarks/run would try one when it is missing).
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        pytest.fail("matplotlib is not installed: scripts/test installs python3-matplotlib before the run")
    out = tmp_path_factory.mktemp("bench")
    env = dict(os.environ, TERN_BIN=TERN_BIN)
    p = subprocess.Popen([HARNESS, "--quick", "--out", str(out), "--name", "smoke"], cwd=REPO_ROOT, env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        stdout, _ = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        p.terminate()  # the harness stops the servers it started on SIGTERM
        try:
            stdout, _ = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            stdout, _ = p.communicate()
        pytest.fail("benchmarks/run --quick took over %ds:\n%s" % (TIMEOUT, stdout.decode("utf-8", "replace")[-3000:]))
    output = stdout.decode("utf-8", "replace")
    assert p.returncode == 0, output[-3000:]
    return out, output


def only(pattern):
    found = glob.glob(pattern)
    assert len(found) == 1, (pattern, found)
    return found[0]


def test_quick_matrix_measures_every_backend_and_workload(quick_run):
    out, output = quick_run
    with open(only(os.path.join(str(out), "*-smoke.csv")), newline="") as f:
        rows = list(csv.DictReader(f))
    cells = {(r["backend"], r["workload"], r["pipeline"]): r for r in rows
             if r["phase"] == "matrix" and r["metric"] == "rps"}
    missing = [(b, w, p) for b in QUICK_BACKENDS for w in QUICK_WORKLOADS for p in ("1", "16")
               if (b, w, p) not in cells or not cells[(b, w, p)]["median"]]
    assert not missing, "cells without a measurement: %s\n%s" % (missing, output[-3000:])
    # Every measured cell has a positive rate and the server CPU figure read from /proc.
    cpu = {(r["backend"], r["workload"], r["pipeline"]): float(r["median"]) for r in rows
           if r["phase"] == "matrix" and r["metric"] == "cpu_us" and r["median"]}
    for key, r in cells.items():
        assert float(r["median"]) > 0, key
        assert key in cpu and cpu[key] >= 0, key


def test_quick_run_reports_large_dataset_and_replication_rows(quick_run):
    out, output = quick_run
    with open(only(os.path.join(str(out), "*-smoke-runs.csv")), newline="") as f:
        runs = list(csv.DictReader(f))
    large = {r["backend"]: r for r in runs if r["phase"] == "large"}
    assert set(large) == set(QUICK_BACKENDS)
    for b in ("tern-memory", "redis"):
        assert float(large[b]["rss_per_key"]) > 0, large[b]
    restarts = {r["backend"] for r in runs if r["phase"] == "restart" and r.get("restart_s")}
    assert {"tern-lmdb-always", "redis", "redis-aof-always"} <= restarts, restarts
    # Replication rows are present: each either measured or carrying the error that stopped it.
    fullsync = [r for r in runs if r["phase"] == "fullsync"]
    assert {r["backend"] for r in fullsync} >= {"tern-memory -> tern-memory", "redis -> redis"}
    for r in fullsync + [r for r in runs if r["phase"] == "replicas"]:
        assert r.get("sync_s") or r.get("rps") or r.get("error"), r


def test_quick_run_writes_report_and_charts(quick_run):
    out, output = quick_run
    report = open(only(os.path.join(str(out), "*-smoke.md"))).read()
    for heading in ("## Targets (issue 7)", "## Throughput (requests/s)", "## Server CPU per request",
                    "## Latency p50 / p99", "## Large dataset", "## Replication: time to full-sync",
                    "## Replication: master SET throughput"):
        assert heading in report, heading
    assert "load average" in report
    assert "charts skipped" not in output, output[-3000:]
    charts = sorted(glob.glob(os.path.join(str(out), "*-smoke-*.png")))
    names = {os.path.basename(c).split("-smoke-", 1)[1] for c in charts}
    assert {"throughput-p1.png", "throughput-p16.png", "cpu.png", "latency.png", "dataset.png",
            "replication.png"} <= names, names
    for c in charts:
        with open(c, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", c
        assert os.path.getsize(c) > 10_000, c
        assert "![%s](%s)" % (os.path.basename(c), os.path.basename(c)) in report


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
