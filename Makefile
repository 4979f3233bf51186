# The two commands of the README, and a few helpers. Everything is installed from Debian
# packages (and, for the browser test, npm) by the project's own files.
SHELL := /bin/bash
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

BUILD_DEPS := cmake make g++ pkg-config libevent-dev libssl-dev libsqlite3-dev liblua5.4-dev libgtest-dev
RUN_DEPS := coturn
TEST_DEPS := coturn lua5.4 python3 openssl curl sqlite3 iproute2 nftables
# coturn is the reference server, gnuplot-nox draws the chart; linux-perf only for run.py --profile.
BENCH_DEPS := coturn python3 gnuplot-nox

.PHONY: all deps test-deps bench-deps build run test bench clean format

all: build

deps:
	@tests/tools/install-deps.sh $(BUILD_DEPS) $(RUN_DEPS)

test-deps:
	@tests/tools/install-deps.sh $(BUILD_DEPS) $(TEST_DEPS)

build:
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Installs what is missing, builds, and starts turnpike on 127.0.0.1:3478 with a development
# config under build/dev/ (random secret), printing a credential and a turnutils_uclient line.
run: deps build
	@tests/tools/dev-run.sh $(BUILD)

# Installs build and test dependencies, builds, and runs every test through ctest.
test: test-deps build
	@cd $(BUILD) && ctest --output-on-failure --timeout 900 -j $(JOBS)

bench-deps:
	@tests/tools/install-deps.sh $(BUILD_DEPS) $(BENCH_DEPS)

# turnpike against coturn 4.6.1 and the floor relay on 127.0.0.1 (about 10 minutes); writes
# BENCHMARKS.md and tests/bench/results/. BENCH_ROUNDS=8 for more rounds (tests/bench/run.py).
bench: bench-deps build
	@tests/bench/run.sh $(BUILD)

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
