#!/usr/bin/env bash
# Every test of the project: unit and property tests, golden vectors through the engine and the
# CLI, and the end-to-end suite against a real Envoy. Installs what it needs on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_wasm_target
ensure_envoy
build_plugin

export GATEHOUSE_ENVOY="$ENVOY_BIN"
export GATEHOUSE_WASM="$PWD/$WASM_PATH"
cargo test --workspace --locked
