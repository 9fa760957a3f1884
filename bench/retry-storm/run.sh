#!/usr/bin/env bash
# Retry storm: naive, exponential-without-jitter and levee-client side by side,
# on loopback, ~50 s, ~1000 req/s offered. Results: docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo run --release -p levee-client --example retry_storm
