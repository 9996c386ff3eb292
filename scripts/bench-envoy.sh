#!/usr/bin/env bash
# Envoy under keep-alive load, one run, four configurations on the same machine (SPEC.md 6):
#   none        Envoy, direct_response, no filter (only `buffer`, so the request is read whole
#               before the answer and the connection stays open, as with gatehouse); the same
#               listener and connection-manager settings as gatehouse
#   jwt_rbac    Envoy's native jwt_authn (with its JWT cache) + rbac on the `sub` claim
#   cached      gatehouse.wasm, the same token on every request (verified-token cache)
#   uncached    gatehouse.wasm, a fresh token on every request (signature check each time)
# 1 Envoy worker (--concurrency 1), loopback, wrk -t1 -c16, POST chat request allowed for
# carol@acme.com (examples/acme, ES256 control-plane token).
#
#   scripts/bench-envoy.sh [DURATION_SECONDS]     default 15
#
# ROUNDS=n (default 3) repeats the four configurations n times, interleaved (none, jwt_rbac,
# cached, uncached, none, ...), and reports medians and [min .. max]; each ratio is taken within
# one round. GATEHOUSE_WASM=path uses a prebuilt plugin instead of building it. The Envoy process's
# resident memory (VmRSS) is sampled after each run: gatehouse minus none is what the wasm VMs
# (main thread + 1 worker) and the plugin cost.
#
# CONFIG_ONLY=1 writes the configurations, validates them (envoy --mode validate) and stops;
# FRESH_TOKENS=n (default 20000) sets how many distinct tokens the uncached run cycles through;
# GATEHOUSE_BIN=path uses a prebuilt `gatehouse` CLI.
#
# Needs: wrk (apt-get install -y wrk), Envoy 1.40 (installed into .venv by scripts/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib.sh
source scripts/lib.sh

DURATION="${1:-15}"
ROUNDS="${ROUNDS:-3}"
CONNECTIONS=16
FRESH_TOKENS="${FRESH_TOKENS:-20000}"
WORK=target/bench-envoy
PORT=18080
ADMIN=18901
mkdir -p "$WORK"

[ -n "${CONFIG_ONLY:-}" ] || command -v wrk >/dev/null \
  || { echo "error: wrk is needed (apt-get install -y wrk)" >&2; exit 1; }
ensure_wasm_target
ensure_envoy
if [ -n "${GATEHOUSE_WASM:-}" ]; then
  WASM_PATH="$GATEHOUSE_WASM"
else
  build_plugin
fi
if [ -n "${GATEHOUSE_BIN:-}" ]; then
  gatehouse="$GATEHOUSE_BIN"
else
  cargo build --release -p gatehouse-compiler
  gatehouse=target/release/gatehouse
fi

"$gatehouse" compile --gateway examples/gateway.yaml examples/acme examples/globex -o "$WORK/acme.bundle"
# Envoy configurations, all from `gatehouse envoy-config` (policy-compiler/src/envoy.rs): the
# baselines are the Gatehouse listener and connection manager with other HTTP filters, so each
# ratio compares the filters and nothing else.
common=(--listen "127.0.0.1:$PORT" --admin "127.0.0.1:$ADMIN")
"$gatehouse" envoy-config --bundle "$WORK/acme.bundle" --wasm "$WASM_PATH" "${common[@]}" \
  > "$WORK/gatehouse.yaml"
"$gatehouse" envoy-config --kind baseline-none "${common[@]}" > "$WORK/none.yaml"
"$gatehouse" envoy-config --kind baseline-jwt-rbac "${common[@]}" \
  --jwt-issuer https://acme.cp.example.com --jwt-jwks examples/acme/keys/acme-cp.jwks.json \
  --rbac-method POST --rbac-path /api/llm/v1/chat/completions --rbac-subject user:carol@acme.com \
  > "$WORK/jwt_rbac.yaml"
for config in gatehouse none jwt_rbac; do
  "$ENVOY_BIN" --mode validate -c "$WORK/$config.yaml" >/dev/null
done
[ -z "${CONFIG_ONLY:-}" ] || { echo "configurations in $WORK (CONFIG_ONLY: not run)" >&2; exit 0; }

mint() {
  "$gatehouse" token mint --key examples/acme/keys/acme-cp.private.jwk.json \
    --issuer https://acme.cp.example.com --tenant acme --sub user:carol@acme.com --ttl 2h "$@"
}
mint > "$WORK/token"
if [ ! -s "$WORK/fresh-tokens" ] || [ "$(wc -l < "$WORK/fresh-tokens")" -lt "$FRESH_TOKENS" ]; then
  echo "minting $FRESH_TOKENS distinct tokens for the uncached run" >&2
  : > "$WORK/fresh-tokens"
  for i in $(seq 1 "$FRESH_TOKENS"); do mint --jti "bench-$i" >> "$WORK/fresh-tokens"; done
fi
BODY='{"model":"openai-main/gpt-4o","messages":[{"role":"user","content":"hi"}]}'

# wrk scripts: one fixed token, or a different token per request (cycling through the file).
cat > "$WORK/fixed.lua" <<LUA
local f = io.open("$WORK/token"); local token = f:read("*l"); f:close()
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
LUA
cat > "$WORK/fresh.lua" <<LUA
local tokens = {}
for line in io.lines("$WORK/fresh-tokens") do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i % #tokens + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[i]}, '$BODY')
end
LUA

run() { # $1: name, $2: config, $3: wrk script, $4: round
  local log="$WORK/$1.envoy.log"
  "$ENVOY_BIN" -c "$2" --concurrency 1 --log-level warn > "$log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$ADMIN/ready" >/dev/null 2>&1 && break
    sleep 0.1
  done
  # Must be allowed, or we would be measuring denials.
  local status
  status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/api/llm/v1/chat/completions" \
    -H "Authorization: Bearer $(cat "$WORK/token")" -H 'Content-Type: application/json' -d "$BODY")
  # Keep-alive must hold, or we would be measuring connection setup.
  if curl -s -D - -o /dev/null -X POST "http://127.0.0.1:$PORT/api/llm/v1/chat/completions" \
    -H "Authorization: Bearer $(cat "$WORK/token")" -H 'Content-Type: application/json' -d "$BODY" \
    | grep -qi '^connection: close'; then
    echo "error: $1 closes the connection after each request" >&2
    kill "$pid"; wait "$pid" 2>/dev/null || true
    return 1
  fi
  if [ "$status" != 200 ]; then
    echo "error: $1 answered $status to an allowed request" >&2
    kill "$pid"; wait "$pid" 2>/dev/null || true
    return 1
  fi
  wrk -t1 -c"$CONNECTIONS" -d2s -s "$3" "http://127.0.0.1:$PORT/api/llm/v1/chat/completions" >/dev/null # warm-up
  wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$3" \
    "http://127.0.0.1:$PORT/api/llm/v1/chat/completions" > "$WORK/$1.$4.wrk.txt"
  awk '/^VmRSS/ {print $2}' "/proc/$pid/status" > "$WORK/$1.$4.rss_kb"
  if [ "$1" = cached ] || [ "$1" = uncached ]; then
    curl -s "http://127.0.0.1:$ADMIN/stats?filter=gatehouse" > "$WORK/$1.$4.stats.txt" || true
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

rm -f "$WORK"/*.wrk.txt "$WORK"/*.rss_kb
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS" >&2
  run none "$WORK/none.yaml" "$WORK/fixed.lua" "$round"
  run jwt_rbac "$WORK/jwt_rbac.yaml" "$WORK/fixed.lua" "$round"
  run cached "$WORK/gatehouse.yaml" "$WORK/fixed.lua" "$round"
  run uncached "$WORK/gatehouse.yaml" "$WORK/fresh.lua" "$round"
done

python3 - "$WORK" "$ROUNDS" <<'PY'
import re, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def parse(name, r):
    text = open(f"{work}/{name}.{r}.wrk.txt").read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    def lat(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", text, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v * {"us": 1e-3, "ms": 1, "s": 1e3}[unit]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return rps, lat("50"), lat("99"), int(non2xx.group(1)) if non2xx else 0
names = ["none", "jwt_rbac", "cached", "uncached"]
runs = {n: [parse(n, r) for r in range(1, rounds + 1)] for n in names}
rss = {n: [int(open(f"{work}/{n}.{r}.rss_kb").read() or 0) for r in range(1, rounds + 1)] for n in names}
def stat(xs, f="{:.0f}"):
    return f"{f.format(statistics.median(xs))} [{f.format(min(xs))} .. {f.format(max(xs))}]"
def ratios(n, peer):
    return [a[0] / b[0] for a, b in zip(runs[n], runs[peer])]
print(f"{rounds} round(s), median [min .. max]; ratios taken within each round")
print("| configuration | requests/s | vs no filter | vs jwt_authn+rbac | p50 ms | p99 ms | p99/p50 | non-2xx | Envoy RSS MiB |")
print("|---|---|---|---|---|---|---|---|---|")
for n in names:
    rs = runs[n]
    print(f"| {n} | {stat([r[0] for r in rs])} | {stat(ratios(n, 'none'), '{:.2f}')}x "
          f"| {stat(ratios(n, 'jwt_rbac'), '{:.2f}')}x | {stat([r[1] for r in rs], '{:.3f}')} "
          f"| {stat([r[2] for r in rs], '{:.3f}')} | {stat([r[2] / r[1] for r in rs], '{:.1f}')} "
          f"| {sum(r[3] for r in rs)} | {stat([k / 1024 for k in rss[n]], '{:.1f}')} |")
vs_none = statistics.median(ratios("cached", "none"))
vs_native = statistics.median(ratios("cached", "jwt_rbac"))
tail = statistics.median([r[2] / r[1] for r in runs["cached"]])
print(f"\ntargets (medians): cached >= 0.9x no filter: {'met' if vs_none >= 0.9 else 'NOT met'} ({vs_none:.2f}x); "
      f">= 1.0x jwt_authn+rbac: {'met' if vs_native >= 1.0 else 'NOT met'} ({vs_native:.2f}x); "
      f"p99/p50 <= 3: {'met' if tail <= 3 else 'NOT met'} ({tail:.1f})")
PY
