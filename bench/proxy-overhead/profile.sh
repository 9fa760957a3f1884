#!/usr/bin/env bash
# Where a proxy's time goes: the same setup as run.sh (fast nginx upstream
# and wrk on CPU 0, the proxy alone on CPU 1 with one worker, access log off),
# with `perf record` on the proxy while wrk runs, then a second wrk run with
# `perf stat` counting the proxy's system calls per request.
#
#   bench/proxy-overhead/profile.sh            # Levee
#   TARGET=nginx bench/proxy-overhead/profile.sh
#
# Knobs: TARGET=levee|nginx|haproxy DURATION=10 CONNECTIONS=64
# LEVEE_BIN=path (skip the build) CALLGRAPH=dwarf (or fp, or none). Writes
# perf.data, the flat profile (self time per symbol), the inclusive one (with
# children), syscalls.txt to bench/results/proxy-profile-<target>-<time>/; if
# `inferno-collapse-perf` and `inferno-flamegraph` are on PATH
# (cargo install inferno), a flamegraph.svg.
set -euo pipefail

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
CALLGRAPH=${CALLGRAPH:-dwarf}
TARGET=${TARGET:-levee}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DIR="$ROOT/bench/results/proxy-profile-$TARGET-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$DIR/upstream-tmp" "$DIR/nginx-tmp"
PATH="$PATH:/usr/sbin:/sbin"
for t in wrk nginx haproxy perf taskset curl; do
    command -v "$t" >/dev/null || { echo "missing $t (apt-get install -y wrk nginx linux-perf)" >&2; exit 1; }
done
if [[ $TARGET == levee && -z ${LEVEE_BIN:-} ]]; then
    (cd "$ROOT" && cargo build --release -q -p levee)
    LEVEE_BIN="$ROOT/target/release/levee"
fi

. "$HERE/lib.sh"
free_port UPSTREAM_PORT; free_port PROXY_PORT; free_port ADMIN_PORT


sed -e "s|@DIR@|$DIR|g" -e "s|@UPSTREAM_PORT@|$UPSTREAM_PORT|g" -e "s|@UPSTREAM_WORKERS@|1|g" \
    "$HERE/upstream-nginx.conf.in" >"$DIR/upstream-nginx.conf"
render() {
    sed -e "s|@DIR@|$DIR|g" -e "s|@UPSTREAM_PORT@|$UPSTREAM_PORT|g" -e "s|@PROXY_PORT@|$PROXY_PORT|g" \
        -e "s|@ADMIN_PORT@|$ADMIN_PORT|g" -e "s|@PROXY_WORKERS@|1|g" -e "s|@LEVEE_ACCESS_LOG@|false|g" -e "s|@LEVEE_ROUTE_EXTRA@|${LEVEE_ROUTE_EXTRA:-}|g" \
        -e "s|@NGINX_ACCESS_LOG@|access_log off;|g" -e "s|@HAPROXY_GLOBAL_LOG@|# no log|g" \
        -e "s|@HAPROXY_DEFAULTS_LOG@|# no log|g" "$1" >"$2"
}
taskset -c 0 nginx -p "$DIR" -e "$DIR/upstream.err" -c "$DIR/upstream-nginx.conf" >"$DIR/upstream.out" 2>&1 &
PIDS+=($!)
case $TARGET in
    levee)
        render "$HERE/levee.toml.in" "$DIR/levee.toml"
        taskset -c 1 "$LEVEE_BIN" serve --config "$DIR/levee.toml" --data-dir "$DIR/levee.state" >"$DIR/levee.out" 2>&1 &
        ;;
    nginx)
        render "$HERE/nginx.conf.in" "$DIR/nginx.conf"
        taskset -c 1 nginx -p "$DIR" -e "$DIR/nginx.err" -c "$DIR/nginx.conf" >"$DIR/nginx.out" 2>&1 &
        ;;
    haproxy)
        render "$HERE/haproxy.cfg.in" "$DIR/haproxy.cfg"
        taskset -c 1 haproxy -db -f "$DIR/haproxy.cfg" >"$DIR/haproxy.out" 2>&1 &
        ;;
    *) echo "TARGET must be levee, nginx or haproxy" >&2; exit 2 ;;
esac
SERVER_PID=$!
PIDS+=("$SERVER_PID")
ready "http://127.0.0.1:$UPSTREAM_PORT/"
ready "http://127.0.0.1:$PROXY_PORT/"
# nginx does its work in the worker, a child of the master we started.
REC_PIDS=$(printf '%s' "$SERVER_PID"; for c in $(pgrep -P "$SERVER_PID" || true); do printf ',%s' "$c"; done)

case $CALLGRAPH in
    dwarf) CG=(--call-graph dwarf,32768) ;;
    fp) CG=(-g) ;;
    *) CG=() ;;
esac
load() { # seconds output: wrk against the proxy, pinned beside the upstream
    taskset -c 0 timeout $(($1 + 30)) wrk -t1 -c"$CONNECTIONS" -d"$1s" --latency "http://127.0.0.1:$PROXY_PORT/" >"$2" 2>&1
}
# Warm the pools, then record the middle of a longer run.
load 2 /dev/null
load $((DURATION + 2)) "$DIR/wrk.txt" &
WRK=$!
sleep 1
timeout $((DURATION + 20)) perf record -q -F 1999 "${CG[@]}" -p "$REC_PIDS" -o "$DIR/perf.data" -- sleep "$DURATION" 2>"$DIR/perf-record.err" || true
wait "$WRK" || true

# System calls per request: perf stat over a window inside a second run.
load $((DURATION + 2)) "$DIR/wrk-syscalls.txt" &
WRK=$!
sleep 1
timeout $((DURATION + 20)) perf stat -x, -e 'syscalls:sys_enter_*' -p "$REC_PIDS" -o "$DIR/perf-stat.csv" -- sleep "$DURATION" 2>/dev/null || true
wait "$WRK" || true
RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$DIR/wrk-syscalls.txt")
awk -F, -v n="$(awk -v r="$RPS" -v d="$DURATION" 'BEGIN { print r * d }')" '
    $1 ~ /^[0-9]+$/ && $1 > 0 { sub("syscalls:sys_enter_", "", $3); total += $1; printf "%-24s %8.2f per request\n", $3, $1 / n }
    END { printf "%-24s %8.2f per request (%d requests in the window)\n", "TOTAL", total / n, n }' "$DIR/perf-stat.csv" |
    sort -k2 -gr >"$DIR/syscalls.txt"

perf report -i "$DIR/perf.data" --no-children --sort symbol --stdio -g none --percent-limit 0.3 2>/dev/null \
    | grep -v '^$' >"$DIR/flat.txt" || true
perf report -i "$DIR/perf.data" --children --sort symbol --stdio -g none --percent-limit 2 2>/dev/null \
    | grep -v '^$' >"$DIR/inclusive.txt" || true
perf report -i "$DIR/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -v '^$' >"$DIR/dso.txt" || true
if command -v inferno-collapse-perf >/dev/null && command -v inferno-flamegraph >/dev/null; then
    perf script -i "$DIR/perf.data" 2>/dev/null | inferno-collapse-perf >"$DIR/folded.txt"
    inferno-flamegraph <"$DIR/folded.txt" >"$DIR/flamegraph.svg"
fi
echo "$TARGET: $(awk '/^Requests\/sec:/ { print $2 }' "$DIR/wrk.txt") req/s while recording, $RPS while counting syscalls"
echo "--- system calls"; cat "$DIR/syscalls.txt"
echo "--- self time by DSO"; grep -v '^#' "$DIR/dso.txt" | head -8
echo "--- self time by symbol (top 40)"; grep -v '^#' "$DIR/flat.txt" | head -40 | cut -c1-160
echo "--- raw: ${DIR#"$ROOT"/}/"
