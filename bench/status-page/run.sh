#!/usr/bin/env bash
# Issue 13's status-page benchmark, in one command:
#   bench/status-page/run.sh [levee-bench status-page flags…]
# e.g. `bench/status-page/run.sh --repeats 1 --seconds 5` for a quick look.
#
# Builds Levee and levee-bench in release, installs nginx when missing (apt,
# as root), then runs `levee-bench status-page`: three open-loop streams of
# status reads, 200 req/s each (the HTML page, /api/v2/summary.json, and
# revalidations with If-None-Match), through Levee with its defaults in front
# of levee-sim's sample upstream (8 workers × 20 ms = 400 req/s, in process)
# with no API traffic and with API traffic at 4× capacity, and from nginx
# serving the same bytes as static files; 10 s per leg, 5 repeats, a fresh
# gateway per leg on a free 127.0.0.1 port. With two CPUs or more, the
# generator and the upstream (one process) keep to the first CPU and the
# gateway to the others (`taskset`; `--no-pin` to share). It writes
# target/bench/status-page/{status-page.md,results.json,logs/} and replaces
# the "## Status page under overload (issue 13)" section of
# docs/BENCHMARKS.md (or adds it before "## Fuzzing (issue 11)").
# LEVEE_BIN=path measures that levee binary instead of building one
# (LEVEE_NAME says what it is in the results).
# It starts its own levee and nginx processes and stops only those, by pid.
# About 4 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
# shellcheck source=../lib.sh
. bench/lib.sh

ensure_tools nginx

if [ -n "${LEVEE_BIN:-}" ]; then
  cargo build --release -p levee-sim --bin levee-bench
  levee="$LEVEE_BIN"
  name="${LEVEE_NAME:-$LEVEE_BIN}"
else
  # One cargo invocation for both, so that dependencies are built once.
  cargo build --release -p levee-sim --bin levee-bench -p levee --bin levee
  levee="$target/release/levee"
  commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  dirty="$(git status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null | head -1)"
  name="${LEVEE_NAME:-a release build of $commit${dirty:+ with local changes}}"
fi

# 4× of 400 req/s with a 1 s deadline holds over a thousand connections open.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec "$target/release/levee-bench" status-page --levee "$levee" --levee-name "$name" \
  --out "$target/bench/status-page" --docs docs/BENCHMARKS.md \
  --cite-command "bench/status-page/run.sh${*:+ $*}" "$@"
