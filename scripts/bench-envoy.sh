#!/usr/bin/env bash
# Envoy under keep-alive load: one run, every row of the comparison on the same machine
# (SPEC.md 6, docs/benchmarks.md "Envoy"). Every configuration comes from `gatehouse
# envoy-config` with the same listener and connection-manager settings; only the HTTP filters
# differ:
#
#   none            no filter that decides (only `buffer`, so the request is read whole before
#                   the answer and keep-alive holds, as with Gatehouse)            --kind baseline-none
#   wasm-empty      buffer + a proxy-wasm filter returning Continue (bench/floor)  --kind baseline-wasm
#   wasm-headers    buffer + a proxy-wasm filter that reads the request headers once and sets
#                   three the size of Gatehouse's identity headers: the floor for any wasm filter
#                   that must do that
#   native-floor-empty    buffer + a native dynamic module returning Continue
#                   (bench/native-floor, on the Gatehouse module's own FFI layer)  --kind baseline-native
#   native-floor-headers  the same module reading every request header once (the call
#                   Gatehouse's module makes) and setting the same three headers: the floor for
#                   any native module that must do that
#   native-1000     buffer + Envoy's jwt_authn (jwt_cache_size 1000) + rbac on the `email` claim
#   native-BIG      the same with jwt_cache_size NATIVE_CACHE (default 60000: every token fits)
#   gatehouse       gatehouse.wasm with the examples/acme + globex bundle          --kind static
#   gatehouse-native  libgatehouse_module.so (the native Envoy module) with the same bundle
#                   and settings                                  --kind static --filter native
#   gatehouse-key   the same Envoy and bundle, the request carrying an API key (gh_key_, one
#                   key of carol@acme.com, issued at bench time by `gatehouse credentials create`
#                   into a credentials file compiled with examples/acme) instead of a JWT: keys
#                   are not cached, each request is a lookup and one SHA-256
#   gatehouse-ecds  the same filter delivered through a watched ECDS file              --kind ecds-bootstrap
#                   (the resource as scripts/push-bundle.sh writes it), no push during the run
#   gatehouse-push  the same, with a bundle push every second during the measured run: each
#                   the same policy compiled with the next serial (so another bundle, another
#                   digest, an engine of its own), its ECDS resource written beside the watched
#                   file and renamed over it, as scripts/push-bundle.sh does. Resources are made
#                   before the run, so the pushes cost Envoy's reload and the filter's load only
#
# Requests (ROUTE=read, the default): GET /api/prompts/prompts/summarize, a read route whose
# resource comes from the path, so no filter reads a body; ROUTE=body: POST
# /api/llm/v1/chat/completions with the chat body (Gatehouse then buffers and reads the body, which
# the floor filters do not). Either way an RS256 token of the Okta-like
# identity provider of examples/acme (keys/okta.*: issuer https://acme.okta.com/oauth2/default,
# aud api://gateway, `email` an allowed user), 1 Envoy worker (--concurrency 1), loopback,
# wrk -t1 -c16. Rows with one token repeat it; rows with N distinct tokens (TOKEN_COUNTS, default
# "5000 50000") cycle through N tokens of the 11 users examples/acme allows on that route: the 16
# connections share one cursor, so consecutive requests carry consecutive tokens and a token
# comes back every N requests (the API-key row repeats its one key). Before each N-token row a warm-up walks the whole list once, so a
# cache that holds N tokens is full when the measurement starts. The two ECDS rows run with
# PUSH_TOKENS distinct tokens (default 5000; empty: no ECDS rows); their ratio is what a push per
# second costs (SPEC 6: keep >= 90 % of throughput).
#
#   scripts/bench-envoy.sh [DURATION_SECONDS]     default 15
#
# ROUNDS=n (default 3) repeats every row n times, interleaved, and reports medians and
# [min .. max]; each ratio is taken within one round. Every measured run must answer 2xx only
# (wrk's non-2xx count and socket errors must be 0) or the run fails. Envoy's VmRSS is sampled
# after each run (minus the no-filter row of the same round); cache hits come from Envoy's stats
# (gatehouse.token_cache_*, jwt_authn's jwt_cache_*) around the measured run.
#
# MEMORY=1 (the default, except with CONFIG_ONLY) adds a memory section after the rounds: the
# LARGE synthetic tenant (`gatehouse synth --users 100000 --teams 10000 --grants 1000000 --seed
# 42`, compiled once into $WORK/large.bundle; the CLI is built with its `test-support` feature
# for `synth`) loaded by gatehouse (wasm) and gatehouse-native, and no filter for reference, each
# with --concurrency 1 and 4: Envoy's VmRSS once ready and again after a few seconds of requests
# on 64 connections (so every worker serves some; they carry no token, so they are denied), and
# the growth from 1 to 4 workers. MEMORY=0 skips it; ROUNDS=0 runs it alone.
#
# CONFIG_ONLY=1 writes every configuration, validates each (envoy --mode validate) and stops
# (no wrk, no tokens; the native modules are built in the dev profile unless given, which is
# quick after `cargo test`: Envoy's validation loads them). GATEHOUSE_WASM=path / GATEHOUSE_BIN=path
# use a prebuilt plugin / CLI; GATEHOUSE_MODULE=path / GATEHOUSE_NATIVE_FLOOR=path a prebuilt
# libgatehouse_module.so / libgatehouse_native_floor.so;
# NATIVE_CACHE=n sets the large jwt_cache_size; MINT_JOBS=n (default nproc) mints in n
# processes; TOKEN_CACHE_ENTRIES=n writes `"token_cache_entries": n` into Gatehouse's VM
# configuration (unset: the plugin's default, 65,536 entries per VM).
#
# Output: target/bench-envoy/results.md (also printed). Needs Envoy 1.40 (installed into .venv
# by scripts/lib.sh) and, when load runs, wrk (installed with apt-get when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib.sh
source scripts/lib.sh

DURATION="${1:-15}"
ROUNDS="${ROUNDS:-3}"
TOKEN_COUNTS="${TOKEN_COUNTS:-5000 50000}"
NATIVE_CACHE="${NATIVE_CACHE:-60000}"
TOKEN_CACHE_ENTRIES="${TOKEN_CACHE_ENTRIES:-}"
PUSH_TOKENS="${PUSH_TOKENS-5000}"
if [ -n "${CONFIG_ONLY:-}" ]; then MEMORY="${MEMORY:-0}"; else MEMORY="${MEMORY:-1}"; fi
[ "$MEMORY" != 0 ] || MEMORY=
CONNECTIONS=16
WORK=target/bench-envoy
PORT=18080
ADMIN=18901
ROUTE="${ROUTE:-read}"
case "$ROUTE" in
  read) METHOD=GET; ROUTE_PATH=/api/prompts/prompts/summarize; BODY= ;;
  body) METHOD=POST; ROUTE_PATH=/api/llm/v1/chat/completions
        BODY='{"model":"openai-main/gpt-4o","messages":[{"role":"user","content":"hi"}]}' ;;
  *) echo "error: ROUTE is read or body" >&2; exit 1 ;;
esac
URL="http://127.0.0.1:$PORT$ROUTE_PATH"
# Content-Type and body only with a body.
body_args=()
[ -z "$BODY" ] || body_args=(-H 'Content-Type: application/json' -d "$BODY")
ISSUER=https://acme.okta.com/oauth2/default
AUDIENCE=api://gateway
# Users examples/acme allows on both routes: openai-main/gpt-4o and the prompts repository
# (checked below with `gatehouse check`).
USERS=(alice carol dave frank grace olivia peggy victor walter yolanda zara)
mkdir -p "$WORK"

ensure_wasm_target
ensure_envoy
[ -n "${CONFIG_ONLY:-}" ] || ensure_wrk
if [ -n "${GATEHOUSE_WASM:-}" ]; then
  WASM_PATH="$GATEHOUSE_WASM"
else
  build_plugin
fi
build_floor
# The native modules: release builds for load (scripts/lib.sh); for CONFIG_ONLY, dev builds of
# the same crates (only validated, never measured), unless given.
if [ -z "${GATEHOUSE_MODULE:-}" ] || [ -z "${GATEHOUSE_NATIVE_FLOOR:-}" ]; then
  if [ -n "${CONFIG_ONLY:-}" ]; then
    cargo build --locked -p gatehouse-module -p gatehouse-native-floor
    MODULE_PATH=target/debug/libgatehouse_module.so
    NATIVE_FLOOR_PATH=target/debug/libgatehouse_native_floor.so
  else
    [ -n "${GATEHOUSE_MODULE:-}" ] || build_module
    [ -n "${GATEHOUSE_NATIVE_FLOOR:-}" ] || build_native_floor
  fi
fi
MODULE="${GATEHOUSE_MODULE:-$MODULE_PATH}"
NATIVE_FLOOR="${GATEHOUSE_NATIVE_FLOOR:-$NATIVE_FLOOR_PATH}"
if [ -n "${GATEHOUSE_BIN:-}" ]; then
  gatehouse="$GATEHOUSE_BIN"
else
  # With `test-support` for the memory section's `gatehouse synth`; nothing else differs.
  if [ -n "$MEMORY" ]; then build_cli --features test-support; else build_cli; fi
  gatehouse=target/release/gatehouse
fi

# One API key for the gatehouse-key row, in a credentials file that every Gatehouse row's bundle
# includes. `gatehouse credentials` writes into the policy directory it is given: a scratch copy of
# examples/acme, fresh each run, so examples/ stays as it is and the file holds this key only.
rm -rf "$WORK/keys"
mkdir -p "$WORK/keys"
cp -R examples/acme "$WORK/keys/acme"
"$gatehouse" credentials create --policy "$WORK/keys/acme" --gateway examples/gateway.yaml \
  --tenant acme --user carol@acme.com --description "scripts/bench-envoy.sh" \
  > "$WORK/api-key" 2> "$WORK/keys/create.log" \
  || { cat "$WORK/keys/create.log" >&2; echo "error: issuing the API key" >&2; exit 1; }
CREDENTIALS="$WORK/keys/acme/acme.credentials.json"

"$gatehouse" compile --gateway examples/gateway.yaml examples/acme examples/globex "$CREDENTIALS" \
  -o "$WORK/acme.bundle" >&2

# --- Configurations: all from `gatehouse envoy-config` (deploy/src/envoy.rs) ----------
common=(--listen "127.0.0.1:$PORT" --admin "127.0.0.1:$ADMIN")
gatehouse_extra=()
[ -z "$TOKEN_CACHE_ENTRIES" ] || gatehouse_extra=(--token-cache-entries "$TOKEN_CACHE_ENTRIES")
"$gatehouse" envoy-config --bundle "$WORK/acme.bundle" --wasm "$WASM_PATH" "${common[@]}" \
  "${gatehouse_extra[@]}" > "$WORK/gatehouse.yaml"
"$gatehouse" envoy-config --bundle "$WORK/acme.bundle" --filter native --module "$MODULE" \
  "${common[@]}" "${gatehouse_extra[@]}" > "$WORK/gatehouse-native.yaml"
"$gatehouse" envoy-config --kind baseline-none "${common[@]}" > "$WORK/none.yaml"
for mode in empty headers; do
  "$gatehouse" envoy-config --kind baseline-wasm --wasm "$FLOOR_WASM_PATH" --floor "$mode" \
    "${common[@]}" > "$WORK/wasm-$mode.yaml"
  "$gatehouse" envoy-config --kind baseline-native --module "$NATIVE_FLOOR" --floor "$mode" \
    "${common[@]}" > "$WORK/native-floor-$mode.yaml"
done
rbac_subjects=()
for user in "${USERS[@]}"; do rbac_subjects+=(--rbac-subject "$user@acme.com"); done
for cache in 1000 "$NATIVE_CACHE"; do
  "$gatehouse" envoy-config --kind baseline-jwt-rbac "${common[@]}" \
    --jwt-issuer "$ISSUER" --jwt-jwks examples/acme/keys/okta.jwks.json --jwt-audience "$AUDIENCE" \
    --jwt-cache-size "$cache" --rbac-method "$METHOD" --rbac-path "$ROUTE_PATH" \
    --rbac-claim email "${rbac_subjects[@]}" > "$WORK/native-$cache.yaml"
done
CONFIGS=(none wasm-empty wasm-headers native-floor-empty native-floor-headers native-1000
  "native-$NATIVE_CACHE" gatehouse gatehouse-native)
# The ECDS rows: one bootstrap watching $ECDS_FILE; the resource in it is rewritten before each
# run (serial $PUSH_SERIAL), and every second of a push run with the next serial.
ECDS_DIR="$WORK/ecds"
ECDS_FILE="$ECDS_DIR/gatehouse-filter.yaml"
PUSH_SERIAL=1000
ecds_resource() { # $1: serial; writes $WORK/push/resource.$1.yaml
  "$gatehouse" compile --gateway examples/gateway.yaml examples/acme examples/globex "$CREDENTIALS" \
    --serial "$1" --revision "$1" -o "$WORK/push/acme.$1.bundle" 2> "$WORK/push/compile.log" \
    || { cat "$WORK/push/compile.log" >&2; echo "error: compiling serial $1" >&2; exit 1; }
  "$gatehouse" envoy-config --kind ecds-resource --bundle "$WORK/push/acme.$1.bundle" \
    --wasm "$(realpath "$WASM_PATH")" --version-info "serial-$1" "${gatehouse_extra[@]}" \
    > "$WORK/push/resource.$1.yaml"
}
deliver() { # $1: serial, whose resource replaces the watched file at once (atomic rename)
  cp "$WORK/push/resource.$1.yaml" "$ECDS_FILE.tmp"
  mv -f "$ECDS_FILE.tmp" "$ECDS_FILE"
}
if [ -n "$PUSH_TOKENS" ]; then
  mkdir -p "$ECDS_DIR" "$WORK/push"
  ecds_resource "$PUSH_SERIAL"
  deliver "$PUSH_SERIAL"
  "$gatehouse" envoy-config --kind ecds-bootstrap "${common[@]}" --ecds-path "$ECDS_FILE" \
    > "$WORK/gatehouse-ecds.yaml"
  cp "$WORK/gatehouse-ecds.yaml" "$WORK/gatehouse-push.yaml"
  CONFIGS+=(gatehouse-ecds gatehouse-push)
fi
for config in "${CONFIGS[@]}"; do
  "$ENVOY_BIN" --mode validate -c "$WORK/$config.yaml" > "$WORK/$config.validate.log" 2>&1 \
    || { tail -n 5 "$WORK/$config.validate.log" >&2; echo "error: $WORK/$config.yaml does not validate" >&2; exit 1; }
done
if [ -n "${CONFIG_ONLY:-}" ]; then
  echo "configurations in $WORK: ${CONFIGS[*]} (all validate; CONFIG_ONLY: not run)" >&2
  exit 0
fi

# --- Tokens --------------------------------------------------------------------------------------
mint() { # $1: user; then more `gatehouse token mint` arguments
  local user="$1"
  shift
  "$gatehouse" token mint --key examples/acme/keys/okta.private.jwk.json --issuer "$ISSUER" \
    --aud "$AUDIENCE" --sub "00u-bench-$user" --claim "email=$user@acme.com" --ttl 24h "$@"
}
mint carol --jti bench-one > "$WORK/token"
# Every user's token must be allowed on the route, or we would be measuring denials.
for user in "${USERS[@]}"; do
  check_body=()
  [ -z "$BODY" ] || check_body=(--body "$BODY")
  "$gatehouse" check --bundle "$WORK/acme.bundle" --host localhost --method "$METHOD" \
    --path "$ROUTE_PATH" "${check_body[@]}" --token "$(mint "$user")" >/dev/null \
    || { echo "error: examples/acme does not allow $user@acme.com on $METHOD $ROUTE_PATH" >&2; exit 1; }
done
max_tokens=0
for n in $TOKEN_COUNTS $PUSH_TOKENS; do [ "$n" -le "$max_tokens" ] || max_tokens="$n"; done
tokens="$WORK/tokens.txt"
# Reused while they have at least 12 of their 24 hours left.
if [ "$max_tokens" -gt 0 ] && { [ ! -s "$tokens" ] || [ "$(wc -l < "$tokens")" -lt "$max_tokens" ] \
    || [ -z "$(find "$tokens" -mmin -720)" ]; }; then
  per_user=$(( (max_tokens + ${#USERS[@]} - 1) / ${#USERS[@]} ))
  mint_jobs="${MINT_JOBS:-$(nproc)}"
  echo "minting $max_tokens distinct RS256 tokens ($per_user per user, $mint_jobs at a time)" >&2
  files=()
  for user in "${USERS[@]}"; do
    rm -f "$WORK/tokens-$user.txt"
    mint "$user" --jti "bench-$user" --count "$per_user" --out "$WORK/tokens-$user.txt" &
    files+=("$WORK/tokens-$user.txt")
    while [ "$(jobs -rp | wc -l)" -ge "$mint_jobs" ]; do wait -n || true; done
  done
  wait
  for file in "${files[@]}"; do
    [ -f "$file" ] && [ "$(wc -l < "$file")" = "$per_user" ] || { echo "error: minting $file failed" >&2; exit 1; }
  done
  # Users interleaved, so any prefix of the list spreads over all of them.
  paste -d '\n' "${files[@]}" | awk -v n="$max_tokens" 'NR <= n' > "$tokens.new"
  mv "$tokens.new" "$tokens"
  rm -f "${files[@]}"
fi

# --- wrk scripts ---------------------------------------------------------------------------------
one_lua() { # $1: file holding the one credential, $2: the script
  cat > "$2" <<LUA
local f = io.open("$1"); local token = f:read("*l"); f:close()
wrk.method = "$METHOD"
if "$BODY" ~= "" then
  wrk.body = '$BODY'
  wrk.headers["Content-Type"] = "application/json"
end
wrk.headers["Authorization"] = "Bearer " .. token
LUA
}
one_lua "$WORK/token" "$WORK/one.lua"
one_lua "$WORK/api-key" "$WORK/key.lua"
for n in $(printf '%s\n' $TOKEN_COUNTS $PUSH_TOKENS | sort -un); do
  cat > "$WORK/tokens-$n.lua" <<LUA
local tokens = {}
for line in io.lines("$tokens") do
  if #tokens == $n then break end
  tokens[#tokens + 1] = line
end
assert(#tokens == $n, "$tokens has fewer than $n tokens")
local i = 0
request = function()
  i = i % #tokens + 1
  if "$BODY" == "" then
    return wrk.format("$METHOD", nil, {["Authorization"] = "Bearer " .. tokens[i]})
  end
  return wrk.format("$METHOD", nil, {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[i]}, '$BODY')
end
LUA
done

# The pushes of a push run: one resource per second of it, and a few over (made once, here).
PUSHES=$((DURATION + 5))
if [ -n "$PUSH_TOKENS" ]; then
  echo "making $PUSHES bundle pushes (serials $((PUSH_SERIAL + 1)) ..)" >&2
  for i in $(seq 1 "$PUSHES"); do ecds_resource $((PUSH_SERIAL + i)); done
fi

# --- Runs ----------------------------------------------------------------------------------------
ENVOY_PID=
PUSHER_PID=
stop_pushes() {
  [ -z "$PUSHER_PID" ] || { kill "$PUSHER_PID" 2>/dev/null || true; wait "$PUSHER_PID" 2>/dev/null || true; }
  PUSHER_PID=
}
stop_envoy() {
  stop_pushes
  [ -z "$ENVOY_PID" ] || { kill "$ENVOY_PID" 2>/dev/null || true; wait "$ENVOY_PID" 2>/dev/null || true; }
  ENVOY_PID=
}
# A push a second, in the background, until stopped or out of pushes.
start_pushes() {
  (
    for i in $(seq 1 "$PUSHES"); do
      sleep 1
      deliver $((PUSH_SERIAL + i))
    done
  ) &
  PUSHER_PID=$!
}
trap stop_envoy EXIT

fail() { echo "error: $*" >&2; stop_envoy; exit 1; }

# Envoy's count of answered requests with status class $1 (2xx, 4xx, 5xx).
answered() {
  curl -s "http://127.0.0.1:$ADMIN/stats?filter=^http\.ingress\.downstream_rq_$1\$" \
    | awk -F': ' '{n += $2} END {print n + 0}'
}

# Warm-up that walks a list of $1 tokens once: wrk runs until Envoy has answered $1 more
# requests (wrk itself cannot stop after a number of requests), all 2xx.
walk_once() { # $1: tokens, $2: wrk script, $3: output file, $4: row
  local start wpid
  start=$(answered 2xx)
  wrk -t1 -c"$CONNECTIONS" -d600s -s "$2" "$URL" > "$3" &
  wpid=$!
  while [ "$(answered 2xx)" -lt $((start + $1)) ]; do
    kill -0 "$wpid" 2>/dev/null || fail "$4 warm-up: wrk ended before $1 answers (see $3)"
    [ "$(answered 4xx)" = 0 ] && [ "$(answered 5xx)" = 0 ] \
      || fail "$4 warm-up: non-2xx answers (see $WORK/${4%.*}.envoy.log)"
    sleep 0.2
  done
  kill "$wpid" 2>/dev/null || true
  wait "$wpid" 2>/dev/null || true
}

# wrk's output must show 2xx answers only.
check_wrk() { # $1: wrk output file, $2: what
  local non2xx errors
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$1")
  errors=$(awk '/Socket errors:/ {print}' "$1")
  [ -z "$non2xx" ] || fail "$2: $non2xx non-2xx answers (see $1)"
  [ -z "$errors" ] || fail "$2: $errors (see $1)"
  grep -q 'Requests/sec:' "$1" || fail "$2: no wrk summary in $1"
}

run() { # $1: row's configuration, $2: tokens (1 or N), $3: round
  local row="$1.$2" log="$WORK/$1.envoy.log" out="$WORK/$1.$2.$3" config="$1"
  # The API-key row runs the Gatehouse configuration; only the credential differs.
  [ "$1" != gatehouse-key ] || config=gatehouse
  # ECDS rows start from the first serial again (a new Envoy has no serial in service).
  case "$1" in gatehouse-ecds|gatehouse-push) deliver "$PUSH_SERIAL" ;; esac
  "$ENVOY_BIN" -c "$WORK/$config.yaml" --concurrency 1 --log-level warn > "$log" 2>&1 &
  ENVOY_PID=$!
  local ready=
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$ADMIN/ready" >/dev/null 2>&1 && { ready=1; break; }
    sleep 0.1
  done
  [ -n "$ready" ] || fail "$row: Envoy did not become ready (see $log)"
  local token script
  if [ "$1" = gatehouse-key ]; then
    token=$(cat "$WORK/api-key")
    script="$WORK/key.lua"
  elif [ "$2" = 1 ]; then
    token=$(cat "$WORK/token")
    script="$WORK/one.lua"
  else
    token=$(head -n 1 "$tokens")
    script="$WORK/tokens-$2.lua"
  fi
  # Keep-alive must hold, or we would be measuring connection setup; the answer must be 200.
  local headers status
  headers=$(curl -s -D - -o /dev/null -X "$METHOD" "$URL" -H "Authorization: Bearer $token" \
    "${body_args[@]}")
  status=$(printf '%s\n' "$headers" | awk 'NR == 1 {print $2}')
  [ "$status" = 200 ] || fail "$row answered $status to an allowed request (see $log)"
  if printf '%s\n' "$headers" | grep -qi '^connection: close'; then
    fail "$row closes the connection after each request"
  fi
  if [ "$2" = 1 ]; then
    wrk -t1 -c"$CONNECTIONS" -d2s -s "$script" "$URL" > "$out.warmup.txt"
    check_wrk "$out.warmup.txt" "$row warm-up"
  else
    walk_once "$2" "$script" "$out.warmup.txt" "$row"
  fi
  [ "$(answered 4xx)" = 0 ] && [ "$(answered 5xx)" = 0 ] || fail "$row warm-up: non-2xx answers"
  sleep 0.5  # Gatehouse hands its counters to Envoy every 200 ms
  curl -s "http://127.0.0.1:$ADMIN/stats?filter=$STATS" > "$out.stats-before.txt"
  [ "$1" != gatehouse-push ] || start_pushes
  wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$script" "$URL" > "$out.wrk.txt"
  stop_pushes
  check_wrk "$out.wrk.txt" "$row"
  sleep 0.5
  curl -s "http://127.0.0.1:$ADMIN/stats?filter=$STATS" > "$out.stats-after.txt"
  awk '/^VmRSS/ {print $2}' "/proc/$ENVOY_PID/status" > "$out.rss_kb"
  stop_envoy
}

STATS='cache_hit|cache_miss|cache_entries|gatehouse.vm|gatehouse.bundle_lo|gatehouse.bundle_rej|ecds.*config_reload'
ROWS=(none.1 wasm-empty.1 wasm-headers.1 native-floor-empty.1 native-floor-headers.1 native-1000.1
  gatehouse.1 gatehouse-native.1 gatehouse-key.1)
for n in $TOKEN_COUNTS; do
  ROWS+=("native-1000.$n" "native-$NATIVE_CACHE.$n" "gatehouse.$n" "gatehouse-native.$n")
done
[ -z "$PUSH_TOKENS" ] || ROWS+=("gatehouse-ecds.$PUSH_TOKENS" "gatehouse-push.$PUSH_TOKENS")
rm -f "$WORK"/*.wrk.txt "$WORK"/*.warmup.txt "$WORK"/*.rss_kb "$WORK"/*.stats-*.txt
for round in $(seq 1 "$ROUNDS"); do
  for row in "${ROWS[@]}"; do
    echo "round $round/$ROUNDS: $row" >&2
    run "${row%.*}" "${row##*.}" "$round"
  done
done

# --- Memory: the LARGE bundle with 1 and 4 workers ----------------------------------------------
# Envoy's VmRSS once ready and after a few seconds of requests (64 connections, so every worker
# serves some; no token, so each is denied: no cache grows), per filter and worker count.
memory_run() { # $1: configuration (memory-$1.yaml), $2: workers; appends to $WORK/memory.tsv
  local log="$WORK/memory-$1.$2.envoy.log" ready="" start after
  "$ENVOY_BIN" -c "$WORK/memory-$1.yaml" --concurrency "$2" --log-level warn > "$log" 2>&1 &
  ENVOY_PID=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$ADMIN/ready" >/dev/null 2>&1 && { ready=1; break; }
    sleep 0.1
  done
  [ -n "$ready" ] || fail "memory $1 x$2: Envoy did not become ready (see $log)"
  sleep 1
  start=$(awk '/^VmRSS/ {print $2}' "/proc/$ENVOY_PID/status")
  wrk -t1 -c64 -d3s "$URL" > "$WORK/memory-$1.$2.wrk.txt"
  grep -q 'Requests/sec:' "$WORK/memory-$1.$2.wrk.txt" || fail "memory $1 x$2: no wrk summary"
  sleep 1
  after=$(awk '/^VmRSS/ {print $2}' "/proc/$ENVOY_PID/status")
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$start" "$after" >> "$WORK/memory.tsv"
  stop_envoy
}
rm -f "$WORK/memory.tsv"
if [ -n "$MEMORY" ]; then
  large="$WORK/large"
  if [ ! -s "$large/policy/synth.json" ]; then
    "$gatehouse" synth --help >/dev/null 2>&1 \
      || fail "$gatehouse has no \`synth\` (build it with --features test-support, or MEMORY=0)"
    echo "memory: generating the LARGE synthetic tenant" >&2
    rm -rf "$large"
    mkdir -p "$large/policy"
    "$gatehouse" synth --users 100000 --teams 10000 --grants 1000000 --seed 42 \
      -o "$large/policy/synth.json.tmp" >&2
    mv "$large/policy/synth.json.tmp" "$large/policy/synth.json"
  fi
  "$gatehouse" compile "$large/policy" -o "$WORK/large.bundle" 2> "$large/compile.log" \
    || { cat "$large/compile.log" >&2; fail "compiling the LARGE tenant"; }
  "$gatehouse" envoy-config --bundle "$WORK/large.bundle" --wasm "$WASM_PATH" "${common[@]}" \
    > "$WORK/memory-gatehouse.yaml"
  "$gatehouse" envoy-config --bundle "$WORK/large.bundle" --filter native --module "$MODULE" \
    "${common[@]}" > "$WORK/memory-gatehouse-native.yaml"
  cp "$WORK/none.yaml" "$WORK/memory-none.yaml"
  for config in none gatehouse gatehouse-native; do
    for workers in 1 4; do
      echo "memory: $config, --concurrency $workers" >&2
      memory_run "$config" "$workers"
    done
  done
fi

# --- Table ---------------------------------------------------------------------------------------
python3 - "$WORK" "$ROUNDS" "$DURATION" "$CONNECTIONS" "$NATIVE_CACHE" "${TOKEN_CACHE_ENTRIES:-default}" "$METHOD $ROUTE_PATH" \
  "${ROWS[@]}" > "$WORK/results.md" <<'PY'
import re, statistics, sys
work, rounds, duration, connections, big, ghcache, route = sys.argv[1:8]
rounds = int(rounds)
rows = sys.argv[8:]

def wrk(row, r):
    text = open(f"{work}/{row}.{r}.wrk.txt").read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    def lat(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        return float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
    total = int(re.search(r"(\d+) requests in", text).group(1))
    return {"rps": rps, "p50": lat("50"), "p99": lat("99"), "requests": total}

def stats(row, r, when):
    out = {}
    for line in open(f"{work}/{row}.{r}.stats-{when}.txt"):
        name, _, value = line.partition(": ")
        if value.strip().isdigit():
            out[name.strip()] = int(value)
    return out

def hits(row, r):
    """Cache hits / lookups during the measured run, from Envoy's counters."""
    before, after = stats(row, r, "before"), stats(row, r, "after")
    delta = lambda suffix: sum(after[k] - before.get(k, 0) for k in after if k.endswith(suffix))
    if row.startswith("gatehouse"):
        h, m = delta("gatehouse.token_cache_hits"), delta("gatehouse.token_cache_misses")
    elif row.startswith("native"):
        h, m = delta("jwt_cache_hit"), delta("jwt_cache_miss")
    else:
        return None
    return h / (h + m) if h + m else None

def entries(row, r):
    """Cache entries, if the filter exports them (a gauge named *token_cache_entries*)."""
    after = stats(row, r, "after")
    vals = [v for k, v in after.items() if "gatehouse" in k and "cache_entries" in k]
    return sum(vals) if vals else None

def vm_memory(row, r):
    """Mean wasm linear memory per VM in MiB (gatehouse.vm_memory_bytes / gatehouse.vms)."""
    after = stats(row, r, "after")
    total = sum(v for k, v in after.items() if k.endswith("gatehouse.vm_memory_bytes"))
    vms = sum(v for k, v in after.items() if k.endswith("gatehouse.vms"))
    return total / vms / 2**20 if vms else None

def memory_section():
    """The LARGE bundle with 1 and 4 workers (MEMORY=1), if it ran."""
    met = lambda ok: "met" if ok else "NOT met"
    memory_file = f"{work}/memory.tsv"
    if not __import__("os").path.exists(memory_file):
        return
    mem = {}
    for line in open(memory_file):
        config, workers, start, after = line.split()
        mem[(config, int(workers))] = (int(start) / 1024, int(after) / 1024)
    large = __import__("os").path.getsize(f"{work}/large.bundle")
    print(f"\nMemory: the LARGE synthetic tenant (100,000 users, 10,000 teams, 1,000,000 grants; "
          f"bundle {large:,} B = {large / 2**20:.2f} MiB), Envoy's VmRSS in MiB once ready and after "
          "3 s of requests on 64 connections (denied: no token, so no cache grows).\n")
    print("| filter | workers | RSS ready | RSS after requests | over no filter (same workers) |")
    print("|---|---|---|---|---|")
    label = {"none": "no filter", "gatehouse": "Gatehouse (wasm)",
             "gatehouse-native": "Gatehouse, native module"}
    for (config, workers), (start, after) in mem.items():
        base = mem.get(("none", workers))
        over = f"{after - base[1]:+.1f}" if base and config != "none" else "—"
        print(f"| {label[config]} | {workers} | {start:.1f} | {after:.1f} | {over} |")
    print("\n| filter | growth from 1 to 4 workers, MiB | minus no filter's growth |")
    print("|---|---|---|")
    base = None
    if ("none", 1) in mem and ("none", 4) in mem:
        base = mem[("none", 4)][1] - mem[("none", 1)][1]
    for config in ("none", "gatehouse", "gatehouse-native"):
        if (config, 1) in mem and (config, 4) in mem:
            growth = mem[(config, 4)][1] - mem[(config, 1)][1]
            extra = f"{growth - base:+.1f}" if base is not None and config != "none" else "—"
            print(f"| {label[config]} | {growth:+.1f} | {extra} |")
    if base is not None and ("gatehouse-native", 1) in mem and ("gatehouse-native", 4) in mem:
        extra = mem[("gatehouse-native", 4)][1] - mem[("gatehouse-native", 1)][1] - base
        print(f"\nNative module holds the bundle once per process (growth from 1 to 4 workers "
              f"beyond Envoy's own <= 2 MiB, no cache in use): {met(extra <= 2)} ({extra:+.1f} MiB).")

if rounds == 0:  # ROUNDS=0: the memory section only
    memory_section()
    sys.exit(0)

R = range(1, rounds + 1)
runs = {row: [wrk(row, r) for r in R] for row in rows}
rss = {row: [int(open(f"{work}/{row}.{r}.rss_kb").read().strip() or 0) for r in R] for row in rows}

def med(xs, f):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "—"
    if len(xs) == 1:
        return f.format(xs[0])
    return f"{f.format(statistics.median(xs))} [{f.format(min(xs))} .. {f.format(max(xs))}]"

def ratio(a, b):
    if a not in runs or b not in runs:
        return ["—"]
    return [x["rps"] / y["rps"] for x, y in zip(runs[a], runs[b])]

names = {
    "none": "no filter (buffer only)",
    "wasm-empty": "wasm floor: empty (Continue)",
    "wasm-headers": "wasm floor: read headers, set 3",
    "native-floor-empty": "native floor: empty (Continue)",
    "native-floor-headers": "native floor: read headers, set 3",
    "native-1000": "jwt_authn (jwt_cache_size 1000) + rbac",
    f"native-{big}": f"jwt_authn (jwt_cache_size {big}) + rbac",
    "gatehouse": "Gatehouse",
    "gatehouse-native": "Gatehouse, native module",
    "gatehouse-key": "Gatehouse, API key",
    "gatehouse-ecds": "Gatehouse through ECDS, no push",
    "gatehouse-push": "Gatehouse through ECDS, a bundle push every second",
}
print(f"Envoy 1.40, --concurrency 1, wrk -t1 -c{connections} -d{duration}s --latency, "
      f"RS256 tokens (the API-key row: one gh_key_ key), {route} route; {rounds} round(s), median [min .. max]; every ratio taken within one round. "
      f"Gatehouse token cache: {ghcache} entries.\n")
print("| row | tokens | requests/s | vs no filter | p50 ms | p99 ms | p99/p50 | cache hits | cache entries | wasm memory per VM, MiB | Envoy RSS over no filter, MiB |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for row in rows:
    config, tokens = row.rsplit(".", 1)
    rs = runs[row]
    over = [(k - n) / 1024 for k, n in zip(rss[row], rss["none.1"])]
    h = [hits(row, r) for r in R]
    e = [entries(row, r) for r in R]
    m = [vm_memory(row, r) for r in R]
    print(f"| {names[config]} | {int(tokens):,} | {med([x['rps'] for x in rs], '{:.0f}')} "
          f"| {med(ratio(row, 'none.1'), '{:.2f}x')} | {med([x['p50'] for x in rs], '{:.3f}')} "
          f"| {med([x['p99'] for x in rs], '{:.3f}')} | {med([x['p99'] / x['p50'] for x in rs], '{:.1f}')} "
          f"| {med([x * 100 if x is not None else None for x in h], '{:.0f} %')} "
          f"| {med(e, '{:,}')} | {med(m, '{:.2f}')} | {med(over, '{:+.1f}')} |")

print("\n| tokens | Gatehouse ÷ jwt_authn (1000) | Gatehouse ÷ jwt_authn "
      f"({big}) | Gatehouse ÷ wasm floor (headers) | Gatehouse ÷ no filter |")
print("|---|---|---|---|---|")
for tokens in dict.fromkeys(r.rsplit(".", 1)[1] for r in rows if r.startswith("gatehouse.")):
    g = f"gatehouse.{tokens}"
    cells = [ratio(g, f"native-1000.{tokens}"), ratio(g, f"native-{big}.{tokens}"),
             ratio(g, "wasm-headers.1"), ratio(g, "none.1")]
    print(f"| {int(tokens):,} | " + " | ".join(
        "—" if c == ["—"] else med(c, "{:.2f}x") for c in cells) + " |")
native_counts = [r.rsplit(".", 1)[1] for r in rows if r.startswith("gatehouse-native.")]
if native_counts:
    print("\n| tokens | native ÷ jwt_authn (1000) | native ÷ jwt_authn "
          f"({big}) | native ÷ native floor (headers) | native ÷ Gatehouse (wasm) | native ÷ no filter |")
    print("|---|---|---|---|---|---|")
    for tokens in native_counts:
        g = f"gatehouse-native.{tokens}"
        cells = [ratio(g, f"native-1000.{tokens}"), ratio(g, f"native-{big}.{tokens}"),
                 ratio(g, "native-floor-headers.1"), ratio(g, f"gatehouse.{tokens}"),
                 ratio(g, "none.1")]
        print(f"| {int(tokens):,} | " + " | ".join(
            "—" if c == ["—"] else med(c, "{:.2f}x") for c in cells) + " |")
if "gatehouse-key.1" in runs:
    print("\n| one credential | API key ÷ JWT (Gatehouse, token cache) | API key ÷ jwt_authn (1000) "
          "| API key ÷ wasm floor (headers) | API key ÷ no filter |")
    print("|---|---|---|---|---|")
    cells = [ratio("gatehouse-key.1", b) for b in
             ("gatehouse.1", "native-1000.1", "wasm-headers.1", "none.1")]
    print("| API key vs one token | " + " | ".join(med(c, "{:.2f}x") for c in cells) + " |")
counts = [r.rsplit(".", 1)[1] for r in rows if r.startswith("gatehouse.") and r != "gatehouse.1"]
vs_floor = statistics.median(ratio("gatehouse.1", "wasm-headers.1"))
vs_native = statistics.median(ratio("gatehouse.1", "native-1000.1"))
met = lambda ok: "met" if ok else "NOT met"
targets = [f">= 0.95x the headers floor: {met(vs_floor >= 0.95)} ({vs_floor:.2f}x)",
           f">= 1.0x jwt_authn+rbac: {met(vs_native >= 1.0)} ({vs_native:.2f}x)"]
for n in counts:
    r = statistics.median(ratio(f"gatehouse.{n}", f"native-1000.{n}"))
    targets.append(f"{int(n):,} tokens >= 1.5x jwt_authn (1000): {met(r >= 1.5)} ({r:.2f}x)")
bundle_bytes = __import__("os").path.getsize(f"{work}/acme.bundle")
for n in ["1"] + counts:
    row = f"gatehouse.{n}"
    after = stats(row, 1, "after")
    total = sum(v for k, v in after.items() if k.endswith("gatehouse.vm_memory_bytes"))
    vms = sum(v for k, v in after.items() if k.endswith("gatehouse.vms"))
    held = entries(row, 1) or 0
    # Every VM within bundle + its own cache (about 58 B an entry, cache::ENTRY_BYTES) + 1 MiB, summed over the VMs.
    limit = vms * (bundle_bytes + 2**20) + held * 58
    targets.append(f"memory at {int(n):,} token(s): {total / 2**20:.2f} MiB in {vms} VMs "
                   f"<= {limit / 2**20:.2f} MiB: {met(vms > 0 and total <= limit)}")
pushed = [r for r in rows if r.startswith("gatehouse-push.")]
for row in pushed:
    n = row.rsplit(".", 1)[1]
    r = statistics.median(ratio(row, f"gatehouse-ecds.{n}"))
    delta = lambda k, i: sum(v - stats(row, i, "before").get(key, 0)
                             for key, v in stats(row, i, "after").items() if key.endswith(k))
    loads = [delta("gatehouse.bundle_loads", i) for i in R]
    rejected = [delta("gatehouse.bundle_rejections", i) for i in R]
    targets.append(f"{int(n):,} tokens with a bundle push every second >= 0.90x without: "
                   f"{met(r >= 0.90)} ({r:.2f}x; bundle loads during the run, all VMs: "
                   f"{', '.join(map(str, loads))}; rejected: {sum(rejected)})")
print("\nSPEC targets (medians; memory from round 1): one token " + "; ".join(targets) + ".")

def target(name, a, b, goal):
    rs = ratio(a, b)
    if rs == ["—"]:
        return None
    m = statistics.median(rs)
    return (f"{name} >= {goal:.2f}x: {met(m >= goal)} ({m:.2f}x [{min(rs):.2f}x .. "
            f"{max(rs):.2f}x])")

native_targets = [
    target("one token, ÷ jwt_authn (1000)", "gatehouse-native.1", "native-1000.1", 1.25),
    target("one token, ÷ native floor (headers)", "gatehouse-native.1", "native-floor-headers.1", 0.95),
]
for n in [c for c in native_counts if c != "1"]:
    native_targets.append(target(f"{int(n):,} tokens, ÷ jwt_authn (1000)",
                                 f"gatehouse-native.{n}", f"native-1000.{n}", 2.5))
native_targets.append(target("Gatehouse (wasm), one token, ÷ wasm floor (headers)", "gatehouse.1",
                             "wasm-headers.1", 0.95))
native_targets = [t for t in native_targets if t]
if native_targets:
    print("\nNative module targets (median [min .. max] of the ratio within a round): "
          + "; ".join(native_targets) + ".")
memory_section()

print(f"\nNon-2xx answers: 0 in every run (checked). RSS: the whole Envoy process (main thread + 1 "
      f"worker, so two VMs per wasm filter) after the run, minus the no-filter row of the same round.")
PY
echo >&2
cat "$WORK/results.md"
echo "(written to $WORK/results.md)" >&2
