# The two commands of the README, and a few helpers. Everything is installed from Debian
# packages (and, for the browser test, npm) by the project's own files.
SHELL := /bin/bash
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# Developer builds (build, test, sanitize, fuzz) fail on any compiler warning; a plain
# `cmake` or a Debian package build does not (TURNPIKE_WERROR is OFF by default).
DEV_FLAGS := -DTURNPIKE_WERROR=ON

# clang (its BPF target), libbpf-dev and bpftool (the skeleton) build the kernel fast path's program;
# libsystemd-dev: sd_notify for the systemd unit (Type=notify).
BUILD_DEPS := cmake make g++ pkg-config libevent-dev libssl-dev libsqlite3-dev liblua5.4-dev libgtest-dev \
  libstrophe-dev clang libbpf-dev bpftool libsystemd-dev
RUN_DEPS := coturn
# chromium and libnss3-tools (certutil) for the browser test; iproute2 and nftables for its
# UDP-blocked network namespace; nginx for the check page behind the snippet turnpike ships;
# dnsmasq-base (the binary, no service) as the DNS server the probe asks SRV, A and AAAA of;
# faketime for a Prosody whose clock is wrong; ethtool for the kernel fast path's checksum tests;
# python3-prometheus-client: a real Prometheus text parser for the /metrics test;
# dpkg-dev (dpkg-buildflags) and ccache for the build.* tests (Release, MinSizeRel, clang, Debian's flags).
TEST_DEPS := coturn lua5.4 python3 openssl curl sqlite3 iproute2 nftables chromium libnss3-tools \
  prosody python3-slixmpp nginx dnsmasq-base faketime ethtool python3-prometheus-client dpkg-dev ccache
# `make deb` (debhelper, lintian; build-essential, which dpkg-checkbuilddeps always requires) and
# the packaging tests' Debian roots (mmdebstrap).
DEB_DEPS := build-essential debhelper dpkg-dev fakeroot lintian libsystemd-dev mmdebstrap
# mmdebstrap makes the Debian root of the other release's test pass (tests/tools/debian-root.sh).
TEST_DEPS += mmdebstrap
# The browser test's npm packages (playwright-core), pinned by package-lock.json.
BROWSER_NPM := tests/browser/node_modules/.package-lock.json

# coturn is the reference server, gnuplot-nox draws the chart; linux-perf only for run.py --profile.
# iproute2 and ethtool build the kernel fast path's namespaces (GRO and threaded NAPI on veth).
BENCH_DEPS := coturn python3 gnuplot-nox iproute2 ethtool libmicrohttpd-dev

.PHONY: all deps test-deps bench-deps build run test test-other-release sanitize fuzz bench clean format

# The sanitizer pass of `make test`: unit tests and fuzz-corpus replays built with
# AddressSanitizer and UndefinedBehaviorSanitizer.
SAN_BUILD ?= build-asan
# `make fuzz`: libFuzzer (clang) on every parser, FUZZ_SECONDS each, corpora grown in place.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60

all: build

deps:
	@tests/tools/install-deps.sh $(BUILD_DEPS) $(RUN_DEPS)

test-deps:
	@tests/tools/install-deps.sh $(BUILD_DEPS) $(TEST_DEPS) $(DEB_DEPS)
	@$(MAKE) -s --no-print-directory $(BROWSER_NPM)

# npm ci writes node_modules/.package-lock.json, so this runs again only when the lock changes.
$(BROWSER_NPM): tests/browser/package.json tests/browser/package-lock.json
	@tests/tools/install-npm-deps.sh tests/browser

# The Debian packages (debian/), built by dpkg-buildpackage into build/deb/ (README.Debian).
deb:
	@tests/tools/install-deps.sh $(BUILD_DEPS) $(DEB_DEPS)
	@tests/tools/make-deb.sh $(BUILD)/deb

build:
	@cmake -S . -B $(BUILD) $(DEV_FLAGS) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Installs what is missing, builds, and starts turnpike on 127.0.0.1:3478 with a development
# config under build/dev/ (random secret), printing a credential and a turnutils_uclient line.
run: deps build
	@tests/tools/dev-run.sh $(BUILD)

# Installs build and test dependencies, builds, and runs every test through ctest, then the
# unit tests and fuzz replays again under ASan+UBSan.
# test-other-release: the whole ctest suite again inside a root of the other supported Debian
# release (Debian 13 on a Debian 12 machine and the other way round; made once with mmdebstrap
# and cached in /var/cache/turnpike-tests).
OTHER_RELEASE ?= $(shell . /etc/os-release 2>/dev/null; [ "$$VERSION_CODENAME" = trixie ] && echo bookworm || echo trixie)
test: test-deps build
	@cd $(BUILD) && ctest --output-on-failure --timeout 900 -j $(JOBS)
	@$(MAKE) -s --no-print-directory sanitize

# Only the pass inside the other release's root (the build and tests run there, not here).
test-other-release:
	@tests/tools/install-deps.sh mmdebstrap
	@tests/tools/test-in-debian-root.sh $(OTHER_RELEASE)

sanitize:
	@cmake -S . -B $(SAN_BUILD) $(DEV_FLAGS) -DTURNPIKE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(SAN_BUILD) -j $(JOBS) --target unit-and-fuzz
	@cd $(SAN_BUILD) && ctest --output-on-failure -j $(JOBS) -R '(_tests\.|^fuzz\.)'

fuzz:
	@tests/tools/install-deps.sh clang libclang-rt-dev
	@CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) $(DEV_FLAGS) -DTURNPIKE_FUZZ=ON -DTURNPIKE_SANITIZE=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	@set -e; for bin in $(FUZZ_BUILD)/bin/fuzz_*; do \
	  f=$${bin##*/fuzz_}; echo "fuzzing $$f for $(FUZZ_SECONDS) s"; \
	  mkdir -p tests/fuzz/corpus/$$f; \
	  $$bin tests/fuzz/corpus/$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    2>&1 | grep -E '^(stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)' ; \
	done

bench-deps:
	@tests/tools/install-deps.sh $(BUILD_DEPS) $(BENCH_DEPS)

# turnpike against coturn 4.17.1 (built into ~/.cache by tests/bench/build-coturn.sh), Debian's
# coturn 4.6.1 and the floor relay: on 127.0.0.1, in network namespaces (kernel fast path, root) and
# at 19,500 held allocations (about 30 minutes); writes BENCHMARKS.md and tests/bench/results/.
# BENCH_ROUNDS=8 for more rounds, BENCH_PARTS=loopback,netns,scale to choose (tests/bench/run.sh).
bench: bench-deps build
	@tests/bench/run.sh $(BUILD)

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(FUZZ_BUILD) tests/browser/node_modules
