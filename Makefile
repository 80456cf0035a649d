# Vigil: `make run` and `make test` work on a fresh Debian 12 machine; both
# install what is missing first (scripts/deps.sh lists every package).
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
DESTDIR ?=
CONFIG ?= etc/vigil.yaml
# Debug info of the RelWithDebInfo build: -g (full) by default; CI uses -g1
# (line tables: backtraces keep file and line, compiles a third faster).
DEBUG_INFO ?= -g

.PHONY: all deps test-deps configure build run test test-asan test-tsan bench fuzz install deb clean

all: build

deps:
	@scripts/deps.sh

test-deps:
	@scripts/deps.sh --test

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_INSTALL_PREFIX=$(PREFIX) \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 $(DEBUG_INFO) -DNDEBUG"

configure: $(BUILD_DIR)/CMakeCache.txt

build: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Starts vigild on the built-in model with the default config (Ctrl-C stops it).
# Try: curl -s localhost:8000/v1/completions -d '{"prompt":"Hello","max_tokens":16}'
#      curl -s localhost:8000/metrics | grep vllm:
run: build
	@echo "== vigild on http://127.0.0.1:8000 (built-in random-weight model; dashboard at http://127.0.0.1:8000/; Ctrl-C to stop)"
	$(BUILD_DIR)/daemon/vigild --config $(CONFIG) --state-dir $(BUILD_DIR)/state

test: test-deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS)
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# Sanitizer builds (tests/sanitizers/README.md): AddressSanitizer+UBSan in
# build-asan, ThreadSanitizer in build-tsan, each running the unit and e2e
# labels (not the timing-sensitive scenarios) with tests/sanitizers/*.supp.
# Fails on a failed test or on any sanitizer report from any process.
ASAN_BUILD_DIR ?= build-asan
TSAN_BUILD_DIR ?= build-tsan
test-asan: test-deps
	JOBS=$(JOBS) tests/sanitizers/run.sh asan $(ASAN_BUILD_DIR) $(CTEST_ARGS)

test-tsan: test-deps
	JOBS=$(JOBS) tests/sanitizers/run.sh tsan $(TSAN_BUILD_DIR) $(CTEST_ARGS)

bench: build
	$(BUILD_DIR)/bench/engine_bench

# libFuzzer targets (tests/fuzz/README.md): a clang build in build-fuzz, then
# each target for FUZZ_SECONDS, one at a time; new corpus goes to a temp dir.
# Fails if any target crashes, leaks, hangs (>10 s) or exceeds 2 GB.
FUZZ_SECONDS ?= 60
FUZZ_BUILD_DIR ?= build-fuzz
fuzz:
	@scripts/deps.sh --fuzz
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIGIL_FUZZ=ON \
	  -DVIGIL_BUILD_TESTS=OFF -DVIGIL_BUILD_BENCH=OFF
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target fuzz_targets
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_BUILD_DIR) $(FUZZ_TARGETS)

# Binaries to $(PREFIX)/bin, GPT-2's tokenizer to $(PREFIX)/share/vigil, the
# default config to /etc/vigil and the unit to /lib/systemd/system, all under
# $(DESTDIR) when set (packaging).
install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD_DIR) --prefix $(PREFIX)

# The Debian package (packaging/README.md): $(BUILD_DIR)/deb/vigil_<version>_amd64.deb
# from the built vigild and vigilctl, with debhelper (Depends from dpkg-shlibdeps).
# lintian $(BUILD_DIR)/deb/vigil_*.deb checks it.
deb: configure
	@scripts/deps.sh --deb
	cmake --build $(BUILD_DIR) -j $(JOBS) --target vigild vigilctl
	packaging/build-deb.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR) $(TSAN_BUILD_DIR)
