#!/bin/bash
# `make bench`: turnpike against coturn (its newest release, built by build-coturn.sh, and Debian's
# 4.6.1) and the floor relay, side by side in one run, in three parts:
#   loopback  run.py: one flow, many flows, latency, allocation set-up, pre-auth state, ledger
#   netns     netns_bench.py: the kernel fast path in three network namespaces, CPU machine-wide
#             (needs root; says "skipped" otherwise)
#   scale     scale_bench.py: ~19,500 held, refreshing allocations + 50 active flows
# Usage: tests/bench/run.sh [BUILD_DIR] [run.py options]. Environment: BENCH_PARTS (default
# loopback,netns,scale), BENCH_ROUNDS, BENCH_SCENARIOS, BENCH_DURATION (see run.py). Writes
# BENCHMARKS.md and tests/bench/results/.
set -euo pipefail
build=${1:-build}
shift || true
here=$(cd "$(dirname "$0")" && pwd)
parts=",${BENCH_PARTS:-loopback,netns,scale},"
[[ $parts == *,loopback,* ]] && python3 "$here/run.py" --build "$build" "$@"
[[ $parts == *,netns,* ]] && python3 "$here/netns_bench.py" --build "$build"
[[ $parts == *,scale,* ]] && python3 "$here/scale_bench.py" --build "$build"
exit 0
