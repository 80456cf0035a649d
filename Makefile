# Vigil: `make run` and `make test` work on a fresh Debian 12 machine; both
# install what is missing first (scripts/deps.sh lists every package).
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
DESTDIR ?=
CONFIG ?= etc/vigil.yaml

.PHONY: all deps test-deps configure build run test bench install clean

all: build

deps:
	@scripts/deps.sh

test-deps:
	@scripts/deps.sh --test

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

configure: $(BUILD_DIR)/CMakeCache.txt

build: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Until the daemon exists, `make run` shows the engine on the built-in model.
run: build
	@echo "== vigilctl generate on builtin:tiny-llama (random weights, so the ids are noise)"
	$(BUILD_DIR)/cli/vigilctl generate --model builtin:tiny-llama \
	  --prompt-ids 464,2068,7586,21831,18045,625,262,16931,3290 \
	  --prompt-ids 15496,11,995 --max-tokens 24 --ignore-eos

test: test-deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS)
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

bench: build
	$(BUILD_DIR)/bench/engine_bench

clean:
	rm -rf $(BUILD_DIR)
