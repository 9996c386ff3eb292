#!/usr/bin/env bash
# Every test of the project: unit and property tests, golden vectors through the engine and the
# CLI, and the end-to-end suite against a real Envoy. Installs what it needs on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_wasm_target
ensure_envoy
build_plugin
build_plugin_test_hooks

export GATEHOUSE_ENVOY="$ENVOY_BIN"
export ENVOY_BIN  # what the e2e harness (tests/src/lib.rs) reads
export GATEHOUSE_WASM="$PWD/$WASM_PATH"
export GATEHOUSE_WASM_TEST_HOOKS="$PWD/$WASM_TEST_HOOKS_PATH"
cargo test --workspace --locked
