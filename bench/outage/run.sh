#!/usr/bin/env bash
# Issue 12's upstream-outage benchmark, in one command:
#   bench/outage/run.sh [levee-bench outage flags…]
# e.g. `bench/outage/run.sh --repeats 1 --only restart` for a quick look.
#
# Builds in release, installs nginx and HAProxy when missing (apt, as root),
# then runs `levee-bench outage`: levee-sim's sample upstreams (8 workers ×
# 20 ms each) in process, crashed and restarted on the same port on a
# timeline, with Levee (defaults + pools, `fallback`, `health_check`),
# HAProxy (`check inter 1s fall 2 rise 1`, `backup`) and nginx (passive
# checks, `backup`) in front of them on free loopback ports, under open-loop
# load at half of one endpoint's capacity with a 1 s client deadline:
#   1. a single endpoint killed for 10 s and restarted,
#   2. two endpoints, one killed,
#   3. the primary pool down, the alternate up,
#   4. a single endpoint flapping (up 2 s / down 2 s),
#   5. one of two endpoints flapping.
# With two CPUs or more, the generator and the upstreams (one process) keep
# to the first CPU and the gateway to the others (`taskset`; `--no-pin` to
# share). It writes target/bench/outage/{outage.md,results.json,logs/} and
# replaces the "## Upstream outages (issue 12)" section of docs/BENCHMARKS.md.
# LEVEE_BIN=path measures that levee binary instead of building one.
# It starts its own nginx/haproxy/levee processes and stops only those, by pid.
# About 5.5 minutes per repeat on 2 cores (3 repeats by default: ~17 minutes).
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
  commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  dirty="$(git status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null | head -1)"
  levee=(--levee "$target/release/levee" --levee-name "a release build of $commit${dirty:+ with local changes}")
else
  echo "run.sh: levee does not build; its legs are skipped" >&2
  cargo build --release -p levee-sim --bin levee-bench
  levee=(--without-levee)
fi

exec "$target/release/levee-bench" outage "${levee[@]}" --out "$target/bench/outage" --docs docs/BENCHMARKS.md "$@"
