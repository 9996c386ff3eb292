#!/usr/bin/env bash
# Every test of the project: unit and property tests, golden vectors through the engine and the
# CLI, and the end-to-end suite against a real Envoy. Installs what it needs on a fresh machine.
set -euo pipefail  # pipefail: a failing `cargo test` fails the pipe through tee
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_wasm_target
ensure_envoy
ensure_go  # the differential suite fails (does not skip) without it
ensure_registry_tools  # so does the packaging suite without a registry and skopeo
build_plugin
build_plugin_test_hooks

export ENVOY_BIN  # what the e2e harness (tests/src/lib.rs) reads
export GATEHOUSE_WASM="$PWD/$WASM_PATH"
export GATEHOUSE_WASM_TEST_HOOKS="$PWD/$WASM_TEST_HOOKS_PATH"
mkdir -p target
log=target/test-output.log
cargo test --workspace --locked 2>&1 | tee "$log"

# Every configuration the Envoy benchmark runs validates (written and `envoy --mode validate`d,
# no load): scripts/bench-envoy.sh with the plugin above and the CLI the tests built.
cargo build --locked -p gatehouse-compiler --bin gatehouse
CONFIG_ONLY=1 GATEHOUSE_BIN=target/debug/gatehouse scripts/bench-envoy.sh

# One closing line for the whole run: cargo prints a summary per test binary.
awk '/^test result:/ { passed += $4; failed += $6; ignored += $8 }
     END { printf "tests: %d passed, %d failed, %d skipped\n", passed, failed, ignored }' \
  "$log" | tee target/test-summary.txt
