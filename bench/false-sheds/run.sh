#!/usr/bin/env bash
# Issue 19's false-shed benchmark, and the overload benchmark, in one command:
#   bench/false-sheds/run.sh [levee-bench false-sheds flags…]
# e.g. `SKIP_OVERLOAD=1 bench/false-sheds/run.sh --scale 0.2` for a quick look.
#
# 1. Builds Levee and levee-bench in release, and the previous release
#    (commit $BEFORE_COMMIT, default 65e7cd8) once, in a git worktree at
#    $BEFORE_DIR (default /tmp/levee-before) with its own target directory,
#    when its binary is missing. If it cannot be built, the "levee before"
#    column is skipped and the results say so.
# 2. Runs `levee-bench false-sheds`: every workload (closed-loop bursts, many in
#    flight, mixed and heavy-tailed latencies, long-polls, event streams, a
#    burst after an idle spell, a worker-limited upstream at half capacity, …)
#    direct, through `levee serve --listen … --upstream URL --admin …
#    --data-dir TMP` with its defaults, and through the previous release
#    started the same way; a fresh upstream and gateway per (workload, peer),
#    all on 127.0.0.1 (free ports), every load bounded in requests and time.
#    It writes target/bench/false-sheds/{false-sheds.md,results.json,
#    *-metrics-NN.txt} and replaces the "## False sheds (issue 19)" section
#    of docs/BENCHMARKS.md (or adds it before the overload section).
# 3. Then, so that the overload targets are measured in the same run (issue 19
#    asks for that), runs the overload benchmark (bench/overload/run.sh, which
#    installs nginx and HAProxy if it may, and rewrites its own "## Overload
#    (issue 3)" section): all three scenarios by default, since its section
#    holds all three; OVERLOAD_ARGS="--levels-only --repeats 3" for the load
#    levels alone; SKIP_OVERLOAD=1 to leave it out.
# LEVEE_BIN=path measures that levee binary (e.g. a build of a commit, when the
# work tree is mid-edit) instead of building target/release/levee; it is
# passed on to the overload benchmark. LEVEE_NAME says what it is in the
# results (default: the work tree's commit, or the path).
# It starts its own levee, nginx and haproxy processes and stops only those,
# by pid. About 8 minutes for step 2 and 15 for step 3 on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
target="${CARGO_TARGET_DIR:-target}"
before_commit="${BEFORE_COMMIT:-65e7cd8}"
before_dir="${BEFORE_DIR:-/tmp/levee-before}"
before_bin="$before_dir/target/release/levee"

if [ -n "${LEVEE_BIN:-}" ]; then
  levee="$LEVEE_BIN"
  levee_name="${LEVEE_NAME:-$LEVEE_BIN}"
  cargo build --release -p levee-sim --bin levee-bench
else
  levee="$target/release/levee"
  levee_name="${LEVEE_NAME:-the work tree at $(git rev-parse --short HEAD)}"
  cargo build --release -p levee-sim --bin levee-bench -p levee --bin levee
fi

if [ ! -x "$before_bin" ]; then
  echo "run.sh: building the previous release ($before_commit) in $before_dir" >&2
  if [ ! -e "$before_dir" ]; then
    git worktree add --detach "$before_dir" "$before_commit" >&2 || true
  fi
  if [ -d "$before_dir" ]; then
    (cd "$before_dir" && CARGO_TARGET_DIR="$before_dir/target" cargo build --release -p levee --bin levee) >&2 ||
      echo "run.sh: the previous release did not build; its column is skipped" >&2
  fi
fi
before=()
if [ -x "$before_bin" ]; then
  before=(--before "$before_bin")
fi

# Hundreds of requests in flight, each on its own connection.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
uptime
"$target/release/levee-bench" false-sheds --levee "$levee" "${before[@]}" \
  --levee-name "$levee_name" --before-name "the previous release, $before_commit" \
  --out "$target/bench/false-sheds" --docs docs/BENCHMARKS.md "$@"

if [ -z "${SKIP_OVERLOAD:-}" ]; then
  uptime
  # shellcheck disable=SC2086 # OVERLOAD_ARGS is a list of flags
  LEVEE_BIN="${LEVEE_BIN:-}" "$root/bench/overload/run.sh" ${OVERLOAD_ARGS:-}
fi
