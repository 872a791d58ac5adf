#!/usr/bin/env bash
# Side-by-side benchmark of Tern (memory backend, release build) against a stock redis-server, both on free
# loopback ports, with redis-benchmark. See benchmarks/README.md.
#
#   benchmarks/run.sh                     # defaults below
#   N_P1=50000 N_P16=200000 benchmarks/run.sh
#
# Environment: N_P1 (requests per test at -P 1, default 200000), N_P16 (at -P 16, default 1000000),
# CLIENTS (default 50), TESTS (redis-benchmark -t list, plus "zrange", default set,get,incr), PIPELINES (default "1 16"),
# BENCH_ARGS (extra redis-benchmark arguments, e.g. "-r 100000"), RESULTS_FILE (default
# benchmarks/results/<date>-<LABEL>.md), SKIP_BUILD=1 (use the existing release binary),
# TERN_EXTRA (extra tern-server directives, e.g. "--backend lmdb --lmdb-sync always"; an LMDB environment
# is then created in a temporary directory), REDIS_EXTRA (extra redis-server directives, e.g.
# "--appendonly yes --appendfsync always"), LABEL (names the run in the results file, default "core").
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="$PATH:/opt/swift/usr/bin"
fi

N_P1=${N_P1:-200000}
N_P16=${N_P16:-1000000}
CLIENTS=${CLIENTS:-50}
TESTS=${TESTS:-set,get,incr}
PIPELINES=${PIPELINES:-"1 16"}
BENCH_ARGS=${BENCH_ARGS:-}
DATE=$(date +%Y-%m-%d)
TERN_EXTRA=${TERN_EXTRA:-}
REDIS_EXTRA=${REDIS_EXTRA:-}
LABEL=${LABEL:-core}
RESULTS_FILE=${RESULTS_FILE:-$ROOT/benchmarks/results/$DATE-$LABEL.md}
OUT=$ROOT/benchmarks/.out
mkdir -p "$OUT" "$(dirname "$RESULTS_FILE")"

for tool in redis-server redis-benchmark redis-cli; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$tool not found (apt-get install redis-server redis-tools)" >&2; exit 1; }
done

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "==> swift build -c release --product tern-server" >&2
    swift build -c release --product tern-server >&2
fi
TERN_BIN=${TERN_BIN:-$(swift build -c release --show-bin-path)/tern-server}
[ -x "$TERN_BIN" ] || { echo "no tern-server at $TERN_BIN" >&2; exit 1; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

TERN_PID=""
REDIS_PID=""
stop_pid() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}
LMDB_DIR=$(mktemp -d)
cleanup() {
    stop_pid "$TERN_PID"
    stop_pid "$REDIS_PID"
    rm -rf "$LMDB_DIR"
}
trap cleanup EXIT INT TERM

wait_ping() {  # port pid
    for _ in $(seq 200); do
        kill -0 "$2" 2>/dev/null || { echo "server on port $1 exited during start-up" >&2; return 1; }
        if [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]; then return 0; fi
        sleep 0.1
    done
    echo "server on port $1 did not answer PING" >&2
    return 1
}

TERN_PORT=$(free_port)
TERN_ARGS=()
[ -f conf/memory.conf ] && TERN_ARGS+=(conf/memory.conf)
# shellcheck disable=SC2206
TERN_ARGS+=($TERN_EXTRA --lmdb-path "$LMDB_DIR/env")
"$TERN_BIN" "${TERN_ARGS[@]}" --port "$TERN_PORT" --bind 127.0.0.1 >"$OUT/tern.log" 2>&1 </dev/null &
TERN_PID=$!
wait_ping "$TERN_PORT" "$TERN_PID"

REDIS_PORT=$(free_port)
# Debian's redis-server is a symlink that picks its mode from argv[0]: run it by that name.
# shellcheck disable=SC2086
(cd "$LMDB_DIR" && exec redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no $REDIS_EXTRA \
    >"$OUT/redis.log" 2>&1 </dev/null) &
REDIS_PID=$!
wait_ping "$REDIS_PORT" "$REDIS_PID"

CLK_TCK=$(getconf CLK_TCK)
REDIS_VERSION=$(redis-server --version | sed -E 's/.*v=([0-9.]+).*/\1/')

# utime+stime of a process in clock ticks (fields 14 and 15 of /proc/<pid>/stat; the command name may hold spaces).
cpu_ticks() {
    sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# run_one <port> <pid> <test> <pipeline> <requests> -> "rps cpu_us_per_request"
run_one() {
    local port=$1 pid=$2 test=$3 pipeline=$4 n=$5 before after csv rps
    local what=(-t "$test")
    if [ "$test" = zrange ]; then
        # Not a redis-benchmark -t test: a 100-member sorted set, then ZRANGE of its first 10 with scores.
        redis-benchmark -h 127.0.0.1 -p "$port" -n 100 -r 100 -c 1 ZADD bench:z __rand_int__ m:__rand_int__ >/dev/null 2>&1
        what=(ZRANGE bench:z 0 9 WITHSCORES)
    fi
    before=$(cpu_ticks "$pid")
    # shellcheck disable=SC2086
    csv=$(redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$n" -P "$pipeline" --csv $BENCH_ARGS "${what[@]}" \
        2>>"$OUT/benchmark.stderr" </dev/null)
    after=$(cpu_ticks "$pid")
    # --csv: a header line, then "TEST","rps","avg_latency_ms",...
    rps=$(echo "$csv" | awk -F'","' 'NR==2 {gsub(/"/, "", $2); print $2}')
    [ -n "$rps" ] || { echo "no result from redis-benchmark for $test on port $port:" >&2; echo "$csv" >&2; rps=0; }
    awk -v b="$before" -v a="$after" -v hz="$CLK_TCK" -v n="$n" -v rps="$rps" \
        'BEGIN { printf "%s %.3f\n", rps, (a - b) / hz * 1e6 / n }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

ROWS=()
i=0
for P in $PIPELINES; do
    if [ "$P" = 1 ]; then N=$N_P1; else N=$N_P16; fi
    for T in ${TESTS//,/ }; do
        # Alternate which server goes first, so neither always runs on a warmer/cooler machine.
        if [ $((i % 2)) = 0 ]; then
            read -r t_rps t_cpu < <(run_one "$TERN_PORT" "$TERN_PID" "$T" "$P" "$N")
            read -r r_rps r_cpu < <(run_one "$REDIS_PORT" "$REDIS_PID" "$T" "$P" "$N")
        else
            read -r r_rps r_cpu < <(run_one "$REDIS_PORT" "$REDIS_PID" "$T" "$P" "$N")
            read -r t_rps t_cpu < <(run_one "$TERN_PORT" "$TERN_PID" "$T" "$P" "$N")
        fi
        i=$((i + 1))
        kill -0 "$TERN_PID" 2>/dev/null || { echo "tern-server died during $T -P $P (log: $OUT/tern.log)" >&2; exit 1; }
        row=$(printf '| %-10s | %2s | %9s | %12.0f | %12.0f | %5s | %8.3f | %8.3f | %5s |' \
            "$T" "$P" "$N" "$t_rps" "$r_rps" "$(ratio "$t_rps" "$r_rps")" "$t_cpu" "$r_cpu" "$(ratio "$t_cpu" "$r_cpu")")
        ROWS+=("$row")
        echo "$row" >&2
    done
done

HEADER='| test       |  P |  requests |     tern r/s |    redis r/s | ratio | tern µs  | redis µs | ratio |'
SEP='|------------|----|-----------|--------------|--------------|-------|----------|----------|-------|'
{
    echo "# Benchmark ($LABEL), $DATE"
    echo
    echo "Tern $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') (${TERN_BIN#"$ROOT"/} conf/memory.conf ${TERN_EXTRA:-}) vs"
    echo "Redis $REDIS_VERSION (--save '' --appendonly no ${REDIS_EXTRA:-}),"
    echo "redis-benchmark -c $CLIENTS ${BENCH_ARGS:+$BENCH_ARGS }on loopback; $(nproc) cores; $(uname -srm)."
    echo "r/s: requests per second (redis-benchmark --csv). µs: server CPU time (utime+stime) per request."
    echo "ratio: tern/redis (r/s: higher is better for Tern; µs: lower is better for Tern)."
    echo
    echo "$HEADER"
    echo "$SEP"
    printf '%s\n' "${ROWS[@]}"
} >"$RESULTS_FILE"

echo
cat "$RESULTS_FILE"
echo
echo "written to ${RESULTS_FILE#"$ROOT"/}"
