# The two commands of the README, and a few helpers. Everything is installed from Debian
# packages (and, for the browser test, npm) by the project's own files.
SHELL := /bin/bash
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

BUILD_DEPS := cmake make g++ pkg-config libevent-dev libssl-dev libsqlite3-dev liblua5.4-dev libgtest-dev
RUN_DEPS := coturn
# chromium and libnss3-tools (certutil) for the browser test; iproute2 and nftables for its
# UDP-blocked network namespace.
TEST_DEPS := coturn lua5.4 python3 openssl curl sqlite3 iproute2 nftables chromium libnss3-tools
# The browser test's npm packages (playwright-core), pinned by package-lock.json.
BROWSER_NPM := tests/browser/node_modules/.package-lock.json

.PHONY: all deps test-deps build run test bench clean format

all: build

deps:
	@tests/tools/install-deps.sh $(BUILD_DEPS) $(RUN_DEPS)

test-deps:
	@tests/tools/install-deps.sh $(BUILD_DEPS) $(TEST_DEPS)
	@$(MAKE) -s --no-print-directory $(BROWSER_NPM)

# npm ci writes node_modules/.package-lock.json, so this runs again only when the lock changes.
$(BROWSER_NPM): tests/browser/package.json tests/browser/package-lock.json
	@tests/tools/install-npm-deps.sh tests/browser

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

bench: deps build
	@tests/bench/run.sh $(BUILD)

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) tests/browser/node_modules
