# Cairn: `make run` starts a single node, `make test` runs the whole suite.
# Both install what they need first (scripts/setup.sh) and build outside the clone.

export CARGO_TARGET_DIR ?= $(HOME)/.cache/cairn-target
# clang compiles RocksDB's C++ about twice as fast as g++ at -O0 (docs/design.md, Dependencies).
export CC := clang
export CXX := clang++
export CARGO_TERM_COLOR ?= never

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

CARGO ?= cargo
ARGS ?=

.PHONY: run test build release setup lint fmt bench compare clean-data

setup:
	@./scripts/setup.sh

## run: build in release mode and start one node on 127.0.0.1:7480 with data in ./cairn-data
run: setup
	@echo "make run: building cairn (release; the first build compiles RocksDB and takes a while)"
	$(CARGO) build --release -p cairn-node --bin cairn
	@echo "make run: starting cairn server (Ctrl-C stops it)"
	$(CARGO_TARGET_DIR)/release/cairn server $(ARGS)

build: setup
	$(CARGO) build -p cairn-node --bin cairn

release: setup
	$(CARGO) build --release -p cairn-node --bin cairn

## test: unit, conformance and integration tests (real processes, real RocksDB, real Prometheus)
test: setup
	@./scripts/setup.sh prometheus alertmanager smtp deploy
	@echo "make test: checking formatting"
	$(CARGO) fmt --all -- --check
	@echo "make test: building and running every test"
	$(CARGO) test --workspace --no-fail-fast $(ARGS) -- --show-output 2>&1 | ./scripts/test-summary.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

bench: setup
	$(CARGO) bench -p cairn-benches

compare: setup
	./benches/compare.sh

clean-data:
	rm -rf ./cairn-data
