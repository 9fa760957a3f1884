#!/usr/bin/env bash
# Issue 3's overload benchmark, in one command:
#   bench/overload/run.sh [levee-bench overload flags…]
# e.g. `bench/overload/run.sh --repeats 1 --levels-only` for a quick look.
#
# Builds in release, installs nginx and HAProxy when missing (apt, as root),
# then runs `levee-bench overload`: levee-sim's sample upstream (8 workers ×
# 20 ms) in process, and direct, nginx, HAProxy (maxconn = workers, timeout
# queue) and Levee (defaults) in front of it on free loopback ports, under
# open-loop load with a 1 s client deadline. With two CPUs or more, the
# generator and the upstream (one process) keep to the first CPU and the proxy
# under test to the others (`taskset`), as if on separate machines
# (`--no-pin` to share). It writes target/bench/overload/{overload.md,
# levels-4x.html,capacity-change.html,workers-change.html} and replaces the
# "## Overload (issue 3)" section of docs/BENCHMARKS.md.
# LEVEE_BIN=path measures that levee binary instead of building one.
# It starts its own nginx/haproxy/levee processes and stops only those, by pid.
# About 12 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"

# shellcheck source=../lib.sh
. bench/lib.sh

ensure_tools nginx haproxy

# One cargo invocation for both, so that dependencies are built once with
# the same features; if levee does not build, run without its legs.
if [ -n "${LEVEE_BIN:-}" ]; then
  cargo build --release -p levee-sim --bin levee-bench
  levee=(--levee "$LEVEE_BIN")
elif cargo build --release -p levee-sim --bin levee-bench -p levee --bin levee; then
  levee=(--levee "$target/release/levee")
else
  echo "run.sh: levee does not build; its legs are skipped" >&2
  cargo build --release -p levee-sim --bin levee-bench
  levee=(--without-levee)
fi

# Overload through a plain proxy holds thousands of connections open.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec "$target/release/levee-bench" overload "${levee[@]}" --out "$target/bench/overload" --docs docs/BENCHMARKS.md "$@"
