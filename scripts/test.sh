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
ensure_jsonschema  # and the schema suite (cli/tests/schemas.rs) without its validator
ensure_scim_tester  # and the SCIM suite (cli/tests/scim_conformance.rs) without its checker
ensure_openai  # and the API-key suite (tests/tests/credentials.rs) without the OpenAI SDK
ensure_mcp  # and the MCP authorization suite (tests/tests/mcp.rs) without the MCP SDK
build_plugin
build_plugin_test_hooks
build_module
build_module_test_hooks

export ENVOY_BIN  # what the e2e harness (tests/src/lib.rs) reads
# What cli/tests/schemas.rs validates with, cli/tests/scim_conformance.rs runs scim2-tester and
# the identity-provider replays with, tests/tests/credentials.rs runs the OpenAI SDK with and
# tests/tests/mcp.rs the MCP SDK (one venv holds them all).
export GATEHOUSE_PYTHON="$JSONSCHEMA_PYTHON"
export GATEHOUSE_WASM="$PWD/$WASM_PATH"
export GATEHOUSE_WASM_TEST_HOOKS="$PWD/$WASM_TEST_HOOKS_PATH"
export GATEHOUSE_MODULE="$PWD/$MODULE_PATH"
export GATEHOUSE_MODULE_TEST_HOOKS="$PWD/$MODULE_TEST_HOOKS_PATH"
mkdir -p target
log=target/test-output.log
# The CLI vector test also writes every case with `gatehouse check --json`'s answer, for the
# JavaScript package's replay below.
mkdir -p target/web
GATEHOUSE_VECTORS_EXPORT="$PWD/target/web/vectors.json" \
  cargo test --workspace --locked 2>&1 | tee "$log"

# The end-to-end suites again, against the native Envoy module (libgatehouse_module.so) in place
# of gatehouse.wasm: the golden vectors, token cases, the differential suite, hardening (hot
# reload under load, panics), API keys, MCP, the configurations and the ABI checks. Not the
# packaging suite, which builds wasm modules.
GATEHOUSE_FILTER=native cargo test --locked -p gatehouse-e2e \
  --test envoy --test vectors --test hardening --test differential --test credentials \
  --test mcp --test configs --test native 2>&1 | tee -a "$log"

# Every configuration the Envoy benchmark runs validates (written and `envoy --mode validate`d,
# no load): scripts/bench-envoy.sh with the plugin above and the CLI the tests built.
cargo build --locked -p gatehouse-cli --bin gatehouse
CONFIG_ONLY=1 GATEHOUSE_BIN=target/debug/gatehouse scripts/bench-envoy.sh
# The provisioning path once, end to end (scripts/bench-directory.sh SMOKE=1, a few seconds): 50
# users over SCIM into the directory service, its published bundle in a real Envoy, and three
# deactivations refused there with principal_inactive.
SMOKE=1 GATEHOUSE_BIN=target/debug/gatehouse GATEHOUSE_WASM="$PWD/$WASM_PATH" scripts/bench-directory.sh

# The npm package and the playground (scripts/web.sh): every golden vector through the package
# under Node, and the page in headless Chromium, against the CLI built above.
scripts/web.sh build
GATEHOUSE_BIN=target/debug/gatehouse GATEHOUSE_VECTORS_FILE=target/web/vectors.json \
  scripts/web.sh test 2>&1 | tee -a "$log"

# One closing line for the whole run: cargo prints a summary per test binary, Node's runner
# `# pass N` and `# fail N`, the browser test `browser: N passed, N failed`.
awk '/^test result:/ { passed += $4; failed += $6; ignored += $8 }
     /^# pass [0-9]+$/ { passed += $3 }
     /^# fail [0-9]+$/ { failed += $3 }
     /^browser: [0-9]+ passed, [0-9]+ failed$/ { passed += $2; failed += $4 }
     END { printf "tests: %d passed, %d failed, %d skipped\n", passed, failed, ignored }' \
  "$log" | tee target/test-summary.txt
