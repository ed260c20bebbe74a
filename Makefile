# make demo: set up, build, install, load the Synthea fixture from a local S3 bucket.
# make test: set up, then every test tier (lint, unit + pg_test, integration).
SHELL := /bin/bash
ENV := . scripts/env.sh &&

.PHONY: setup install demo test lint pgtest integration services stop clean bench

setup:
	@bash scripts/setup.sh

install: setup
	@$(ENV) mkdir -p "$$AIDBOX_BULK_RUN_DIR" && \
	  cargo pgrx install --pg-config "$$PG_CONFIG" >"$$AIDBOX_BULK_RUN_DIR/install.log" 2>&1 \
	  || { cat "$$AIDBOX_BULK_RUN_DIR/install.log"; exit 1; }
	@echo "installed aidbox_bulk into PostgreSQL 15"

demo: install
	@bash scripts/demo.sh

lint: setup
	@$(ENV) cargo fmt --all -- --check
	@$(ENV) cargo clippy --all-targets --features "pg15 pg_test" --no-default-features -q -- -D warnings

# Plain #[test]s of the pure core and #[pg_test]s in a backend, in one run.
pgtest: setup
	@$(ENV) install -d -o postgres -g postgres "$$AIDBOX_BULK_RUN_DIR/pgrx-test-data" && \
	  cargo pgrx test pg15 --runas postgres --pgdata "$$AIDBOX_BULK_RUN_DIR/pgrx-test-data"

services:
	@bash scripts/cluster.sh fresh
	@bash scripts/s3.sh fresh

integration: install services
	@$(ENV) python3 -m pytest -q tests/integration

test: lint pgtest integration

# Benchmarks (release build): see BENCHMARKS.md.
bench: setup
	@$(ENV) mkdir -p "$$AIDBOX_BULK_RUN_DIR" && \
	  cargo pgrx install --release --pg-config "$$PG_CONFIG" >"$$AIDBOX_BULK_RUN_DIR/install.log" 2>&1 \
	  || { cat "$$AIDBOX_BULK_RUN_DIR/install.log"; exit 1; }
	@bash scripts/cluster.sh fresh
	@bash scripts/s3.sh fresh
	@$(ENV) cargo run --release -q --example convert_throughput
	@$(ENV) python3 bench/bench.py $(BENCH_ARGS)

stop:
	@bash scripts/cluster.sh stop
	@bash scripts/s3.sh stop

clean: stop
	@$(ENV) rm -rf "$$AIDBOX_BULK_RUN_DIR"
	cargo clean
