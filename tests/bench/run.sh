#!/bin/bash
# `make bench`: turnpike against coturn 4.6.1 and the floor relay, side by side in one run.
# Usage: tests/bench/run.sh [BUILD_DIR] [run.py options]. Environment: BENCH_ROUNDS,
# BENCH_SCENARIOS, BENCH_DURATION (see run.py). Writes BENCHMARKS.md and tests/bench/results/.
set -euo pipefail
build=${1:-build}
shift || true
here=$(cd "$(dirname "$0")" && pwd)
exec python3 "$here/run.py" --build "$build" "$@"
