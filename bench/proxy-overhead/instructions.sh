#!/usr/bin/env bash
# User-space instructions per proxied request, counted by callgrind: a cost
# that a shared, noisy machine cannot blur (req/s and CPU time can), so it
# can tell two builds apart by a few percent. Kernel time is not counted;
# run.sh's sys µs/req covers that.
#
#   bench/proxy-overhead/instructions.sh
#
# Each target runs alone under `valgrind --tool=callgrind` behind the same fast
# nginx upstream as run.sh; collection is switched on after a warm-up and off
# before shutdown, so only steady-state requests count. Knobs: DURATION=10
# CONNECTIONS=8 TARGETS="levee nginx haproxy" LEVEE_BIN=path (skip the
# build) LEVEE_VARIANTS="name=path ...". Writes callgrind.out.<target> and the
# top functions (callgrind_annotate) to bench/results/proxy-instructions-<time>/.
set -euo pipefail

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-8}
read -r -a TARGETS <<<"${TARGETS:-levee nginx haproxy}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DIR="$ROOT/bench/results/proxy-instructions-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$DIR/upstream-tmp" "$DIR/nginx-tmp"
PATH="$PATH:/usr/sbin:/sbin"
for t in wrk nginx haproxy valgrind callgrind_control callgrind_annotate curl; do
    command -v "$t" >/dev/null || { echo "missing $t (apt-get install -y wrk nginx haproxy valgrind)" >&2; exit 1; }
done
if [[ -z ${LEVEE_BIN:-} ]]; then
    (cd "$ROOT" && cargo build --release -q -p levee)
    LEVEE_BIN="$ROOT/target/release/levee"
fi
declare -A LEVEE_OF=([levee]="$LEVEE_BIN")
for spec in ${LEVEE_VARIANTS:-}; do
    LEVEE_OF[levee-${spec%%=*}]=${spec#*=}
    TARGETS+=("levee-${spec%%=*}")
done

. "$HERE/lib.sh"
render() { # template output
    sed -e "s|@DIR@|$DIR|g" -e "s|@UPSTREAM_PORT@|$UPSTREAM_PORT|g" -e "s|@UPSTREAM_WORKERS@|1|g" \
        -e "s|@PROXY_PORT@|$PROXY_PORT|g" -e "s|@ADMIN_PORT@|$ADMIN_PORT|g" -e "s|@PROXY_WORKERS@|1|g" \
        -e "s|@LEVEE_ACCESS_LOG@|false|g" -e "s|@LEVEE_ROUTE_EXTRA@|${LEVEE_ROUTE_EXTRA:-}|g" -e "s|@NGINX_ACCESS_LOG@|access_log off;|g" \
        -e "s|@HAPROXY_GLOBAL_LOG@|# no log|g" -e "s|@HAPROXY_DEFAULTS_LOG@|# no log|g" "$1" >"$2"
}

free_port UPSTREAM_PORT
PROXY_PORT=0 ADMIN_PORT=0
render "$HERE/upstream-nginx.conf.in" "$DIR/upstream-nginx.conf"
nginx -p "$DIR" -e "$DIR/upstream.err" -c "$DIR/upstream-nginx.conf" >"$DIR/upstream.out" 2>&1 &
PIDS+=($!)
ready "http://127.0.0.1:$UPSTREAM_PORT/" 10

VG=(valgrind --tool=callgrind --instr-atstart=no --dump-instr=no)
printf '%-16s %12s %10s %12s\n' target instructions requests "Ir/request" | tee "$DIR/summary.txt"
for t in "${TARGETS[@]}"; do
    free_port PROXY_PORT; free_port ADMIN_PORT
    out="$DIR/callgrind.out.$t"
    case $t in
        levee*)
            render "$HERE/levee.toml.in" "$DIR/$t.toml"
            "${VG[@]}" --callgrind-out-file="$out" "${LEVEE_OF[$t]}" serve --config "$DIR/$t.toml" --data-dir "$DIR/$t.state" >"$DIR/$t.log" 2>&1 &
            ;;
        nginx)
            # One process: the work happens where callgrind watches.
            render "$HERE/nginx.conf.in" "$DIR/nginx.conf"
            sed -i 's/^master_process on;/master_process off;/' "$DIR/nginx.conf"
            "${VG[@]}" --callgrind-out-file="$out" nginx -p "$DIR" -e "$DIR/nginx.err" -c "$DIR/nginx.conf" >"$DIR/$t.log" 2>&1 &
            ;;
        haproxy)
            render "$HERE/haproxy.cfg.in" "$DIR/haproxy.cfg"
            "${VG[@]}" --callgrind-out-file="$out" haproxy -db -f "$DIR/haproxy.cfg" >"$DIR/$t.log" 2>&1 &
            ;;
        *) echo "unknown target $t" >&2; exit 2 ;;
    esac
    pid=$!
    PIDS+=("$pid")
    ready "http://127.0.0.1:$PROXY_PORT/" 120
    timeout 60 wrk -t1 -c"$CONNECTIONS" -d3s "http://127.0.0.1:$PROXY_PORT/" >/dev/null 2>&1 || true
    callgrind_control -i on "$pid" >/dev/null 2>&1
    timeout $((DURATION + 60)) wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s "http://127.0.0.1:$PROXY_PORT/" >"$DIR/wrk-$t.txt" 2>&1 || true
    callgrind_control -i off "$pid" >/dev/null 2>&1
    # Dump now rather than trust the exit path (nginx may not get there in time).
    timeout 60 callgrind_control -d "$pid" >/dev/null 2>&1 || true
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    reqs=$(awk '/requests in/ { print $1 }' "$DIR/wrk-$t.txt")
    bad=$(awk -F': ' '/Non-2xx/ { print $2 }' "$DIR/wrk-$t.txt")
    [[ -n $bad ]] && echo "$t: $bad non-2xx responses" >&2
    ir=$(cat "$out"* 2>/dev/null | awk '/^totals:/ { n += $2 } END { print n + 0 }')
    printf '%-16s %12s %10s %12.0f\n' "$t" "$ir" "$reqs" "$(awk -v i="$ir" -v n="$reqs" 'BEGIN { print i / n }')" | tee -a "$DIR/summary.txt"
    main=$(ls -S "$out"* | head -1) # the dump that holds the steady state
    callgrind_annotate --inclusive=no "$main" 2>/dev/null | head -60 >"$DIR/top-self-$t.txt" || true
    callgrind_annotate --inclusive=yes "$main" 2>/dev/null | head -80 >"$DIR/top-inclusive-$t.txt" || true
done
echo "raw: ${DIR#"$ROOT"/}/"
