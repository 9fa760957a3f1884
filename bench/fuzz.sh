#!/usr/bin/env bash
# Issue 11's fuzzing, in one command:
#   bench/fuzz.sh [SECONDS] [TARGET…]
# e.g. `bench/fuzz.sh 60 path cidr` for a quick look.
#
# Builds the cargo-fuzz targets of fuzz/ (nightly; `cargo install cargo-fuzz`
# when missing) and runs each for SECONDS (default 600), one after another
# (FUZZ_JOBS=2 runs two at a time), then prints one line per target: the
# seconds, the executions, the final coverage (`cov`: edges, `ft`: features),
# the corpus size and the crashes. It stops by itself: libFuzzer's
# -max_total_time bounds each run, and `timeout` kills one that overstays.
#
# Each target starts from a scratch copy of its seeds (fuzz/corpus/TARGET),
# under target/fuzz/, so the corpus a run grows never lands in the repo.
# libFuzzer runs in fork mode and goes on after a crash; every crashing input
# is kept in fuzz/artifacts/TARGET/ (reproduce with
# `cargo +nightly fuzz run TARGET FILE`, shrink with `cargo +nightly fuzz tmin
# TARGET FILE`) and the logs in target/fuzz/TARGET.log.
#
# Built without a sanitizer (the workspace forbids unsafe code; what the
# fuzzers look for are panics and broken properties) and with debug
# assertions, so integer overflow panics too.
# Shared machine? Run it as `nice -n 10 bench/fuzz.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-600}"
[ "$#" -gt 0 ] && shift
jobs="${FUZZ_JOBS:-1}"
out="${CARGO_TARGET_DIR:-target}/fuzz"
flags=(--sanitizer none --debug-assertions)

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz" >&2
  cargo +nightly install cargo-fuzz --locked
fi

targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

echo "fuzz.sh: building ${#targets[@]} targets" >&2
cargo +nightly fuzz build "${flags[@]}" >&2
mkdir -p "$out"

run() {
  local t="$1" corpus="$out/corpus/$1" log="$out/$1.log"
  rm -rf "$corpus"
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  cp fuzz/corpus/"$t"/seed-* "$corpus"/ 2>/dev/null || true
  ls -1 "fuzz/artifacts/$t" >"$out/$t.before"
  echo "fuzz.sh: $t for ${secs}s (log: $log)" >&2
  local start=$SECONDS
  timeout --signal=INT --kill-after=30 $((secs + 120)) \
    cargo +nightly fuzz run "${flags[@]}" "$t" "$corpus" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    >"$log" 2>&1 || true
  echo "$((SECONDS - start))" >"$out/$t.secs"
}

bin="fuzz/target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"

summary() {
  local t="$1" log="$out/$1.log" last
  # Fork mode prints `#EXECS: cov: C ft: F corp: N exec/s: R oom/timeout/crash: O/T/X time: S`.
  last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -n 1 || true)
  if [ -z "$last" ]; then
    printf '%-16s %5ss  no progress line: see %s\n' "$t" "$(cat "$out/$t.secs")" "$log"
    return
  fi
  awk -v t="$t" -v s="$(cat "$out/$t.secs")" '{
      execs = substr($1, 2, length($1) - 2)
      for (i = 1; i <= NF; i++) {
        if ($i == "cov:") cov = $(i + 1)
        if ($i == "ft:") ft = $(i + 1)
        if ($i == "corp:") corp = $(i + 1)
        if ($i == "oom/timeout/crash:") bad = $(i + 1)
      }
      printf "%-16s %5ss %12s runs  cov %5s  ft %6s  corpus %5s  oom/timeout/crash %s\n",
        t, s, execs, cov, ft, corp, bad
    }' <<<"$last"
}

# The crashes of this run, grouped by where they panicked, smallest input first.
crashes() {
  local t="$1" f where
  comm -13 "$out/$t.before" <(ls -1 "fuzz/artifacts/$t") | while read -r f; do
    where=$(timeout 20 "$bin/$t" "fuzz/artifacts/$t/$f" 2>&1 | grep -m1 -A1 'panicked at' |
      sed -E 's/^thread .* panicked at //' | paste -sd ' ' | cut -c1-240 || true)
    printf '%s\t%s\t%s\n' "$(stat -c %s "fuzz/artifacts/$t/$f")" "${where:-no panic (timeout or OOM?)}" "$f"
  done | sort -n | awk -F '\t' -v t="$t" '{
      split($2, p, " "); site = p[1]
      if (!(site in n)) { order[++k] = site; first[site] = $2; file[site] = $3 }
      n[site]++
    } END {
      for (i = 1; i <= k; i++) {
        s = order[i]
        printf "  %s: %d crash(es) at %s\n    e.g. fuzz/artifacts/%s/%s\n", t, n[s], first[s], t, file[s]
      }
    }'
}

running=0
for t in "${targets[@]}"; do
  if [ "$jobs" -gt 1 ]; then
    run "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
      wait -n || true
      running=$((running - 1))
    fi
  else
    run "$t"
  fi
done
wait

echo
echo "fuzz.sh: ${secs}s per target on $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%d)"
for t in "${targets[@]}"; do
  summary "$t"
done
for t in "${targets[@]}"; do
  crashes "$t"
done
