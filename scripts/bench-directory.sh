#!/usr/bin/env bash
# SCIM provisioning into a running Envoy, end to end (SPEC.md 6, "v1.2, provisioning"): how many
# SCIM writes per second `gatehouse directory serve` takes, and how long a deactivation takes to
# reach Envoy.
#
#   scripts/bench-directory.sh
#
# For each tenant size (SIZES, default "1000 100000") a fresh service (fresh SQLite database, a
# policy directory with tests/fixtures/scim/initech.yaml, publishing the ECDS file Envoy watches,
# `--publish FILE --wasm gatehouse.wasm`) gets one POST /Users per user from CONCURRENCY (16)
# client threads, as Okta provisions (writes/s over the burst and its first 10,000 writes; then
# the time from the burst's last answer until the published bundle knows the last user). Envoy 1.40
# (1 worker, `gatehouse envoy-config --kind ecds-bootstrap` on that file) then runs ROUNDS (50)
# rounds: a control-plane token of another provisioned user (`gatehouse token mint`) must be
# allowed (200), is then requested in a tight loop while the SCIM PATCH `active: false` is sent,
# and the figure is the time from the PATCH's answer until Envoy's first 401 (reason
# principal_inactive, checked). p50, p99 and max per size. The driver is scripts/bench_directory.py
# (Python standard library); Envoy, the service and the filter are the real ones.
#
# QUICK=1: SIZES="1000 10000", ROUNDS=10 (a few minutes). SMOKE=1: 50 users, 3 rounds, 4 clients:
# every part runs once, for scripts/test.sh (seconds, with prebuilt binaries). SIZES, ROUNDS,
# CONCURRENCY, DEBOUNCE_MS (the service's --debounce-ms; unset: its default) override.
# RATE_LIMIT (default 100000) is the service's --rate-limit and --rate-burst: its default (100
# requests a second per tenant) is a guard for production, not a capacity, and would be what this
# measures; a 429 is retried after its Retry-After, as identity providers do, and counted.
# GATEHOUSE_BIN / GATEHOUSE_WASM use a prebuilt CLI / plugin (else both are built, release).
#
# Output: target/bench-directory/results.md (also printed) and results.json (every sample); the
# service's and Envoy's logs under target/bench-directory/n<SIZE>/. Exits non-zero when a round
# fails (a token not allowed before, not refused within 30 s, or refused for another reason);
# a missed performance goal is reported, not failed (benchmarks are not timed tests).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib.sh
source scripts/lib.sh

SIZES="${SIZES:-1000 100000}"
ROUNDS="${ROUNDS:-50}"
CONCURRENCY="${CONCURRENCY:-16}"
if [ -n "${QUICK:-}" ]; then SIZES="1000 10000"; ROUNDS=10; fi
if [ -n "${SMOKE:-}" ]; then SIZES=50; ROUNDS=3; CONCURRENCY=4; fi
WORK=target/bench-directory
mkdir -p "$WORK"

ensure_wasm_target
ensure_envoy
if [ -n "${GATEHOUSE_WASM:-}" ]; then WASM_PATH="$GATEHOUSE_WASM"; else build_plugin; fi
if [ -n "${GATEHOUSE_BIN:-}" ]; then
  gatehouse="$GATEHOUSE_BIN"
else
  build_cli
  gatehouse=target/release/gatehouse
fi

extra=(--rate-limit "${RATE_LIMIT:-100000}")
[ -z "${DEBOUNCE_MS:-}" ] || extra+=(--debounce-ms "$DEBOUNCE_MS")
start=$(date +%s)
python3 scripts/bench_directory.py --gatehouse "$gatehouse" --envoy "$ENVOY_BIN" --wasm "$WASM_PATH" \
  --tenant tests/fixtures/scim/initech.yaml --gateway examples/gateway.yaml \
  --key tests/fixtures/keys/e2e-cp.private.jwk.json --work "$WORK" \
  --sizes "$SIZES" --rounds "$ROUNDS" --concurrency "$CONCURRENCY" "${extra[@]}"
echo "bench-directory: $(( $(date +%s) - start )) s (sizes: $SIZES; rounds: $ROUNDS)" >&2
