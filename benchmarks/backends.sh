#!/usr/bin/env bash
# Backend comparison (the LMDB issue's speed targets), side by side in one run, all on free loopback ports:
#   - GET on LMDB vs GET on memory (keys populated first, -r), at -P 1 and -P 16;
#   - SET with lmdb-sync always vs stock Redis with appendonly yes + appendfsync always (-P 1, 50 clients);
#   - SET with lmdb-sync no vs the memory backend.
# Prints requests/s and server CPU µs per request for each, with the ratios, and writes
# benchmarks/results/<date>-backends.md. Environment: N (requests, default 200000), KEYS (default 100000),
# SKIP_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then export PATH="$PATH:/opt/swift/usr/bin"; fi
N=${N:-200000}
KEYS=${KEYS:-100000}
DATE=$(date +%Y-%m-%d)
RESULTS_FILE=${RESULTS_FILE:-$ROOT/benchmarks/results/$DATE-backends.md}
mkdir -p "$(dirname "$RESULTS_FILE")"
if [ "${SKIP_BUILD:-0}" != 1 ]; then swift build -c release --product tern-server >&2; fi
TERN_BIN=${TERN_BIN:-$(swift build -c release --show-bin-path)/tern-server}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    sleep 0.5
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_ping() { for _ in $(seq 200); do [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0; sleep 0.1; done; return 1; }
cpu_ticks() { sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
CLK_TCK=$(getconf CLK_TCK)

# start NAME CMD... -> sets PORT_<NAME> and PID_<NAME>
start() {
    local name=$1; shift
    local port; port=$(free_port)
    mkdir -p "$WORK/$name"
    (cd "$WORK/$name" && exec "$@" --port "$port" --bind 127.0.0.1 >"$WORK/$name.log" 2>&1 </dev/null) &
    local pid=$!
    PIDS+=("$pid")
    wait_ping "$port" || { echo "$name did not start:"; cat "$WORK/$name.log"; exit 1; }
    eval "PORT_$name=$port; PID_$name=$pid"
}

start memory "$TERN_BIN"
start lmdb "$TERN_BIN" --backend lmdb --lmdb-sync always --lmdb-path "$WORK/lmdb/env"
start lmdbno "$TERN_BIN" --backend lmdb --lmdb-sync no --lmdb-path "$WORK/lmdbno/env"
start redisaof redis-server --save '' --appendonly yes --appendfsync always

# bench NAME TEST P [extra...] -> "rps us"
bench() {
    local name=$1 test=$2 p=$3; shift 3
    local port pid before after rps
    port=$(eval echo "\$PORT_$name"); pid=$(eval echo "\$PID_$name")
    before=$(cpu_ticks "$pid")
    rps=$(redis-benchmark -p "$port" -t "$test" -n "$N" -c 50 -P "$p" "$@" --csv 2>/dev/null </dev/null \
        | awk -F'","' 'NR==2 {gsub(/"/, "", $2); print $2}')
    after=$(cpu_ticks "$pid")
    awk -v b="$before" -v a="$after" -v hz="$CLK_TCK" -v n="$N" -v r="$rps" 'BEGIN { printf "%s %.3f\n", r, (a-b)/hz*1e6/n }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# Populate the keys GET reads (redis-benchmark -r picks key:000000000000 .. key:<KEYS-1>).
for name in memory lmdb; do
    redis-benchmark -p "$(eval echo "\$PORT_$name")" -t set -n "$KEYS" -r "$KEYS" -c 50 -P 16 -q >/dev/null 2>&1
done

ROWS=()
row() { ROWS+=("$(printf '| %-44s | %10.0f | %10.0f | %5s | %7.3f | %7.3f | %5s | %s |' "$@")"); echo "${ROWS[-1]}" >&2; }
for P in 1 16; do
    read -r m_rps m_us < <(bench memory get "$P" -r "$KEYS")
    read -r l_rps l_us < <(bench lmdb get "$P" -r "$KEYS")
    row "GET -P $P: lmdb (a) vs memory (b)" "$l_rps" "$m_rps" "$(ratio "$l_rps" "$m_rps")" "$l_us" "$m_us" "$(ratio "$l_us" "$m_us")" "target a/b r/s >= 0.8"
done
read -r r_rps r_us < <(bench redisaof set 1 -r "$KEYS")
read -r l_rps l_us < <(bench lmdb set 1 -r "$KEYS")
row "SET -P 1: lmdb-sync always (a) vs redis aof always (b)" "$l_rps" "$r_rps" "$(ratio "$l_rps" "$r_rps")" "$l_us" "$r_us" "$(ratio "$l_us" "$r_us")" "target a/b r/s >= 1.5"
read -r m_rps m_us < <(bench memory set 1 -r "$KEYS")
read -r n_rps n_us < <(bench lmdbno set 1 -r "$KEYS")
row "SET -P 1: lmdb-sync no (a) vs memory (b)" "$n_rps" "$m_rps" "$(ratio "$n_rps" "$m_rps")" "$n_us" "$m_us" "$(ratio "$n_us" "$m_us")" "target a/b r/s >= 0.7"
read -r m_rps m_us < <(bench memory set 16 -r "$KEYS")
read -r n_rps n_us < <(bench lmdbno set 16 -r "$KEYS")
row "SET -P 16: lmdb-sync no (a) vs memory (b)" "$n_rps" "$m_rps" "$(ratio "$n_rps" "$m_rps")" "$n_us" "$m_us" "$(ratio "$n_us" "$m_us")" "-"

{
    echo "# Backend benchmark, $DATE"
    echo
    echo "Tern $(git rev-parse --short HEAD 2>/dev/null || echo '?') release build; Redis $(redis-server --version | sed -E 's/.*v=([0-9.]+).*/\1/');"
    echo "redis-benchmark -c 50 -n $N -r $KEYS on loopback; $(nproc) cores. r/s: requests per second; µs: server CPU"
    echo "time per request (utime+stime). Ratios are a/b."
    echo
    echo "| comparison                                   |     a r/s  |     b r/s  | ratio |   a µs  |   b µs  | ratio | note |"
    echo "|----------------------------------------------|------------|------------|-------|---------|---------|-------|------|"
    printf '%s\n' "${ROWS[@]}"
} >"$RESULTS_FILE"
cat "$RESULTS_FILE"
