#!/usr/bin/env bash
# Proxy overhead: wrk against a fast upstream directly, and through Levee,
# nginx and HAProxy, in the same run, in interleaved rounds.
#
#   bench/proxy-overhead/run.sh
#
# Targets: direct (the upstream itself), levee (defaults: admission on),
# nginx, haproxy, and levee-plain (admission off) when the build has the option.
# Knobs (environment):
#   ROUNDS=3 DURATION=10   rounds, and seconds per target per round
#   CONNECTIONS=64         wrk connections (threads: 1 pinned, nproc unpinned)
#   PIN=1                  1: wrk and the upstream on CPU 0, the proxy under test
#                          alone on CPU 1, one worker each; 0: nothing pinned,
#                          one worker per CPU for every proxy
#   ACCESS_LOG=off         on: every proxy writes one line per request to a file
#   LEVEE_BIN=path         use this binary instead of building the work tree
#   LEVEE_VARIANTS="name=path ..."  more Levee builds, measured as levee-name in
#                          the same rounds (compare a change with its base)
# Prints a table of medians and ratios vs nginx; raw wrk output, CPU
# accounting and the rendered configs go to bench/results/proxy-overhead-<time>/.
#
# Only loopback, free ports picked at start, every process it starts is
# stopped by pid on exit, every wrk run is bounded by `timeout`.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
PIN=${PIN:-1}
ACCESS_LOG=${ACCESS_LOG:-off}
TARGETS=(direct levee nginx haproxy)

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
DIR="$ROOT/bench/results/proxy-overhead-$STAMP"
mkdir -p "$DIR"
say() { printf '%s\n' "$*" | tee -a "$DIR/summary.txt" >&2; }

# ---- tools -----------------------------------------------------------------
PATH="$PATH:/usr/sbin:/sbin"
missing=()
for t in wrk nginx haproxy taskset curl ss; do command -v "$t" >/dev/null || missing+=("$t"); done
if ((${#missing[@]})); then
    say "installing wrk nginx haproxy (missing: ${missing[*]})"
    sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -q
    $sudo apt-get install -y -q wrk nginx haproxy util-linux curl iproute2
fi

NCPU=$(nproc)
if [[ $PIN == 1 && $NCPU -lt 2 ]]; then
    say "only $NCPU CPU: running unpinned"
    PIN=0
fi
if [[ $PIN == 1 ]]; then
    CLIENT_CPUS=0      # wrk
    UPSTREAM_CPUS=0    # the upstream shares wrk's CPU; it is cheap (see the CPU columns)
    PROXY_CPUS=1       # the proxy under test, alone
    PROXY_WORKERS=1
    UPSTREAM_WORKERS=1
    WRK_THREADS=1
else
    CLIENT_CPUS=""
    UPSTREAM_CPUS=""
    PROXY_CPUS=""
    PROXY_WORKERS=$NCPU
    UPSTREAM_WORKERS=$NCPU
    WRK_THREADS=$NCPU
fi

# ---- build -----------------------------------------------------------------
BUILT=""
if [[ -z ${LEVEE_BIN:-} ]]; then
    say "building levee (release)"
    (cd "$ROOT" && cargo build --release -q -p levee)
    LEVEE_BIN="$ROOT/target/release/levee"
    BUILT=yes
fi

# ---- ports and processes (lib.sh: free_port, PIDS + cleanup, ready) -------
. "$HERE/lib.sh"
free_port UPSTREAM_PORT
free_port NGINX_PORT
free_port HAPROXY_PORT

pin() { # cpus cmd... : run pinned when cpus is set
    local cpus=$1; shift
    if [[ -n $cpus ]]; then exec taskset -c "$cpus" "$@"; else exec "$@"; fi
}
start() { # name cpus cmd...
    local name=$1 cpus=$2; shift 2
    (pin "$cpus" "$@") >"$DIR/$name.stdout" 2>"$DIR/$name.stderr" &
    PIDS+=($!)
    printf -v "PID_${name//-/_}" '%s' "$!"
}
wait_ready() { # name pid url
    local name=$1 pid=$2 url=$3
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { say "$name exited; see $DIR/$name.stderr"; cat "$DIR/$name.stderr" >&2; exit 1; }
        curl -fsS -m 1 -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    say "$name not ready after 10 s"; exit 1
}

render() { # template output
    sed -e "s|@DIR@|$DIR|g" \
        -e "s|@UPSTREAM_PORT@|$UPSTREAM_PORT|g" \
        -e "s|@UPSTREAM_WORKERS@|$UPSTREAM_WORKERS|g" \
        -e "s|@PROXY_WORKERS@|$PROXY_WORKERS|g" \
        -e "s|@PROXY_PORT@|$PROXY_PORT|g" \
        -e "s|@ADMIN_PORT@|$ADMIN_PORT|g" \
        -e "s|@NGINX_ACCESS_LOG@|$NGINX_ACCESS_LOG|g" \
        -e "s|@HAPROXY_GLOBAL_LOG@|$HAPROXY_GLOBAL_LOG|g" \
        -e "s|@HAPROXY_DEFAULTS_LOG@|$HAPROXY_DEFAULTS_LOG|g" \
        -e "s|@LEVEE_ACCESS_LOG@|$LEVEE_ACCESS_LOG|g" \
        -e "s|@LEVEE_ROUTE_EXTRA@|${LEVEE_ROUTE_EXTRA:-}|g" \
        "$1" >"$2"
}
if [[ $ACCESS_LOG == on ]]; then
    NGINX_ACCESS_LOG="access_log $DIR/nginx.access.log combined buffer=64k flush=1s;"
    HAPROXY_GLOBAL_LOG="log stdout format raw local0"
    HAPROXY_DEFAULTS_LOG="log global\n    option httplog"
    LEVEE_ACCESS_LOG=true
else
    NGINX_ACCESS_LOG="access_log off;"
    HAPROXY_GLOBAL_LOG="# no log"
    HAPROXY_DEFAULTS_LOG="# no log"
    LEVEE_ACCESS_LOG=false
fi
mkdir -p "$DIR/upstream-tmp" "$DIR/nginx-tmp"

# ---- start everything ------------------------------------------------------
PROXY_PORT=0 ADMIN_PORT=0
render "$HERE/upstream-nginx.conf.in" "$DIR/upstream-nginx.conf"
start upstream "$UPSTREAM_CPUS" nginx -p "$DIR" -e "$DIR/upstream-nginx.error.log" -c "$DIR/upstream-nginx.conf"
wait_ready upstream "$PID_upstream" "http://127.0.0.1:$UPSTREAM_PORT/"

declare -A URL_OF PID_OF
start_levee() { # target binary [route-extra]
    local t=$1 bin=$2 v=${1//-/_}
    free_port PROXY_PORT; free_port ADMIN_PORT
    LEVEE_ROUTE_EXTRA=${3:-} render "$HERE/levee.toml.in" "$DIR/$t.toml"
    # Each gateway its own state directory: one gateway per data directory.
    start "$t" "$PROXY_CPUS" "$bin" serve --config "$DIR/$t.toml" --data-dir "$DIR/$t.state"
    local pidvar="PID_$v"
    wait_ready "$t" "${!pidvar}" "http://127.0.0.1:$PROXY_PORT/"
    URL_OF[$t]="http://127.0.0.1:$PROXY_PORT/"
    PID_OF[$t]=${!pidvar}
}
start_levee levee "$LEVEE_BIN"
# Admission control is on by default; levee-plain turns it off to measure the
# plain proxy (when the build knows the option).
PLAIN='admission = { enabled = false }'
LEVEE_ROUTE_EXTRA=$PLAIN render "$HERE/levee.toml.in" "$DIR/plain-check.toml"
if "$LEVEE_BIN" config check "$DIR/plain-check.toml" >/dev/null 2>&1; then
    start_levee levee-plain "$LEVEE_BIN" "$PLAIN"
    TARGETS+=(levee-plain)
fi
for spec in ${LEVEE_VARIANTS:-}; do
    name=${spec%%=*} bin=${spec#*=}
    [[ -x $bin ]] || { say "LEVEE_VARIANTS: $bin is not an executable"; exit 1; }
    start_levee "levee-$name" "$bin"
    TARGETS+=("levee-$name")
done

PROXY_PORT=$NGINX_PORT
render "$HERE/nginx.conf.in" "$DIR/nginx.conf"
start nginx "$PROXY_CPUS" nginx -p "$DIR" -e "$DIR/nginx.error.log" -c "$DIR/nginx.conf"
wait_ready nginx "$PID_nginx" "http://127.0.0.1:$NGINX_PORT/"

PROXY_PORT=$HAPROXY_PORT
render "$HERE/haproxy.cfg.in" "$DIR/haproxy.cfg"
start haproxy "$PROXY_CPUS" haproxy -db -f "$DIR/haproxy.cfg"
wait_ready haproxy "$PID_haproxy" "http://127.0.0.1:$HAPROXY_PORT/"

URL_OF[direct]="http://127.0.0.1:$UPSTREAM_PORT/"; PID_OF[direct]=$PID_upstream
URL_OF[nginx]="http://127.0.0.1:$NGINX_PORT/"; PID_OF[nginx]=$PID_nginx
URL_OF[haproxy]="http://127.0.0.1:$HAPROXY_PORT/"; PID_OF[haproxy]=$PID_haproxy
url_of() { echo "${URL_OF[$1]}"; }
pid_of() { echo "${PID_OF[$1]}"; }

# Every proxy does the same work per request: same body, a request id echoed.
for t in "${TARGETS[@]}"; do
    hdrs=$(curl -fsS -m 2 -D - -o "$DIR/check-$t.body" "$(url_of "$t")")
    [[ $(cat "$DIR/check-$t.body") == ok ]] || { say "$t: unexpected body"; exit 1; }
    if [[ $t != direct ]] && ! grep -qi '^x-request-id:' <<<"$hdrs"; then
        say "$t: no X-Request-Id in the response"; exit 1
    fi
    printf '%s\n' "$hdrs" >"$DIR/check-$t.headers"
done

# ---- accounting ------------------------------------------------------------
HZ=$(getconf CLK_TCK)
tree_ticks() { # pid: "utime stime" of the process and its children (threads included)
    local p u=0 k=0 f
    for p in "$1" $(pgrep -P "$1" 2>/dev/null || true); do
        f=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        f=${f##*) }         # fields from 3 on
        set -- $f
        u=$((u + ${12}))    # utime (field 14)
        k=$((k + ${13}))    # stime (field 15)
    done
    echo "$u $k"
}
cpu_snapshot() { grep -E '^cpu[0-9]+ ' /proc/stat; }
cpu_busy() { # before after -> "cpu0=busy%/steal% cpu1=..."
    awk 'NR==FNR { for (i = 2; i <= NF; i++) b[$1, i] = $i; next }
         {
             tot = 0; for (i = 2; i <= NF; i++) { d[i] = $i - b[$1, i]; tot += d[i] }
             idle = d[5] + d[6]; st = d[9]
             if (tot > 0) printf "%s=%.0f%%/st%.0f%% ", $1, 100 * (tot - idle) / tot, 100 * st / tot
         }' "$1" "$2"
}
to_ms() { # wrk value like 812.00us / 1.23ms / 1.02s
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
        printf "%.3f", n
    }'
}

RUNS="$DIR/runs.tsv"
printf 'round\ttarget\treq_s\tp50_ms\tp99_ms\trequests\tnon2xx\tsocket_errors\tserver_cpu_pct\tupstream_cpu_pct\tserver_cpu_us_per_req\tserver_user_us_per_req\tserver_sys_us_per_req\tcores\n' >"$RUNS"

measure() { # round target [warmup]
    local r=$1 t=$2 warm=${3:-} d=$DURATION out
    [[ -n $warm ]] && d=2
    out="$DIR/wrk-r$r-$t.txt"
    local pid; pid=$(pid_of "$t")
    local s0 u0 w0 c0="$DIR/.cpu0" c1="$DIR/.cpu1"
    cpu_snapshot >"$c0"
    s0=$(tree_ticks "$pid"); u0=$(tree_ticks "$PID_upstream"); w0=$(date +%s%N)
    (pin "$CLIENT_CPUS" timeout $((d + 30)) wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${d}s" --timeout 5s --latency "$(url_of "$t")") >"$out" 2>&1 || true
    local s1 u1 w1; s1=$(tree_ticks "$pid"); u1=$(tree_ticks "$PID_upstream"); w1=$(date +%s%N)
    cpu_snapshot >"$c1"
    [[ -n $warm ]] && return 0
    local rps p50 p99 reqs non2xx sockerr wall
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
    reqs=$(awk '/requests in/ { print $1 }' "$out")
    non2xx=$(awk -F': ' '/Non-2xx/ { print $2 }' "$out"); non2xx=${non2xx:-0}
    sockerr=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$out"); sockerr=${sockerr:-0}
    if [[ -z $rps || -z $reqs ]]; then say "round $r $t: wrk failed, see $out"; cat "$out" >&2; exit 1; fi
    wall=$(((w1 - w0) / 1000)) # µs
    local scpu ucpu sus suser ssys
    # server: the process wrk talks to (the upstream itself for direct).
    read -r su0 sk0 <<<"$s0"; read -r su1 sk1 <<<"$s1"
    read -r uu0 uk0 <<<"$u0"; read -r uu1 uk1 <<<"$u1"
    pct() { awk -v t="$1" -v hz="$HZ" -v w="$wall" 'BEGIN { printf "%.0f", 100 * t / hz * 1e6 / w }'; }
    per() { awk -v t="$1" -v hz="$HZ" -v n="$reqs" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }'; }
    scpu=$(pct $((su1 + sk1 - su0 - sk0)))
    ucpu=$(pct $((uu1 + uk1 - uu0 - uk0)))
    sus=$(per $((su1 + sk1 - su0 - sk0)))
    suser=$(per $((su1 - su0)))
    ssys=$(per $((sk1 - sk0)))
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$t" "$rps" "$p50" "$p99" "$reqs" "$non2xx" "$sockerr" "$scpu" "$ucpu" "$sus" "$suser" "$ssys" "$(cpu_busy "$c0" "$c1")" >>"$RUNS"
    say "$(printf 'round %s  %-8s %9s req/s  p50 %7s ms  p99 %7s ms  cpu %3s%% (%s+%s µs/req)  upstream cpu %3s%%  errors %s/%s  %s' \
        "$r" "$t" "$rps" "$p50" "$p99" "$scpu" "$suser" "$ssys" "$ucpu" "$non2xx" "$sockerr" "$(cpu_busy "$c0" "$c1")")"
}

# ---- run -------------------------------------------------------------------
LOAD_BEFORE=$(uptime)
say "proxy overhead: $(date -u '+%Y-%m-%d %H:%M UTC')  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') × $NCPU"
say "wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s --latency, $ROUNDS rounds, pin=$PIN (wrk+upstream cpu ${CLIENT_CPUS:-any}, proxy cpu ${PROXY_CPUS:-any}), proxy workers $PROXY_WORKERS, access log $ACCESS_LOG"
if [[ -n $BUILT ]]; then
    REV=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')
    [[ -n $(cd "$ROOT" && git status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null) ]] && REV+="+uncommitted changes"
else
    REV="LEVEE_BIN=$LEVEE_BIN"
fi
say "$("$LEVEE_BIN" --version 2>/dev/null || echo 'levee ?') @ $REV; $(nginx -v 2>&1); $(haproxy -v | head -1 | cut -d' ' -f1-3); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
say "threads: levee $(ls /proc/"$PID_levee"/task | wc -l), nginx workers $(pgrep -c -P "$PID_nginx"), haproxy $(ls /proc/"$PID_haproxy"/task | wc -l)"
say "before: $LOAD_BEFORE"
for t in "${TARGETS[@]}"; do measure 0 "$t" warmup; done
for r in $(seq 1 "$ROUNDS"); do
    # Rotate the order each round so no target always runs first or last.
    n=${#TARGETS[@]}
    for i in $(seq 0 $((n - 1))); do measure "$r" "${TARGETS[$(((i + r - 1) % n))]}"; done
done
LOAD_AFTER=$(uptime)
say "after:  $LOAD_AFTER"

# ---- summary ---------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -F'\t' -v t="$1" -v c="$2" 'NR > 1 && $2 == t { print $c }' "$RUNS" | median; }
NGINX_RPS=$(col nginx 3); NGINX_P99=$(col nginx 5)
{
    echo
    echo "| target | req/s | p50 ms | p99 ms | req/s vs nginx | p99 vs nginx | CPU µs/req (user+sys) |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    for t in "${TARGETS[@]}"; do
        rps=$(col "$t" 3); p50=$(col "$t" 4); p99=$(col "$t" 5)
        sus=$(col "$t" 11); suser=$(col "$t" 12); ssys=$(col "$t" 13)
        awk -v t="$t" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v nr="$NGINX_RPS" -v np="$NGINX_P99" \
            -v sus="$sus" -v su="$suser" -v ss="$ssys" 'BEGIN {
            printf "| %s | %.0f | %.2f | %.2f | %.2f× | %.2f× | %s%.0f (%.0f+%.0f) |\n", t, rps, p50, p99, rps / nr, p99 / np, (t == "direct" ? "upstream: " : ""), sus, su, ss
        }'
    done
    echo
    echo "Medians of $ROUNDS rounds × ${DURATION} s. CPU: the proxy's own CPU time per request (for direct, the upstream's)."
    echo "Raw: ${DIR#"$ROOT"/}/"
} | tee -a "$DIR/summary.txt"
