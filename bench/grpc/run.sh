#!/usr/bin/env bash
# Issue 20's gRPC benchmark, in one command:
#   bench/grpc/run.sh [REPEATS] [SECONDS] [CONCURRENCY]
# (defaults 3, 10, 32). Unary grpc.health.v1.Health/Check calls from a
# closed-loop tonic client (crates/levee/examples/grpc_load.rs) to a tonic
# server, direct and through Levee (defaults: `levee serve --upstream
# h2c://…`, admission and access log on) and nginx (`grpc_pass`, access log
# on, worker_processes auto), legs interleaved, side by side in one run.
# Reports calls/s, p50, p99 and the proxy's CPU time per call (from
# /proc), medians over the repeats, to target/bench/grpc/grpc.md and the
# "## gRPC (issue 20)" section of docs/BENCHMARKS.md. Installs nginx when
# missing (apt, as root). Starts its own processes and stops only those.
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
  else
    echo "run.sh: nginx missing and cannot be installed here: its leg is skipped" >&2
  fi
fi
cargo build --release -p levee --bin levee --example grpc_load
exec python3 bench/grpc/run.py "$target/release" "${1:-3}" "${2:-10}" "${3:-32}"
