#!/usr/bin/env bash
# SCIM provisioning into a running Envoy, in one command:
#
#   scripts/demo-directory.sh [--keep]
#
# Installs what is missing (scripts/lib.sh: the wasm32-wasip1 target, Envoy 1.40 into ./.venv),
# builds gatehouse.wasm and the `gatehouse` CLI (release), starts the provisioning service
# (`gatehouse directory serve`) on a fresh database for the `scim` tenant of
# tests/fixtures/scim/initech.yaml, creates users and a group over SCIM as an identity provider
# would, starts Envoy on the ECDS file the service publishes, shows a user's request allowed,
# deactivates the user over SCIM, and shows the same token refused, with the time it took. Then it
# stops the service and Envoy, unless --keep is given (then it prints how to reach and stop them).
# Work files: target/demo-directory/.
set -euo pipefail

cd "$(dirname "$0")/.."
keep=0
[[ ${1:-} == --keep ]] && keep=1

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
need() { command -v "$1" >/dev/null || { echo "demo-directory: $1 is required" >&2; exit 1; }; }
need cargo; need python3; need curl

LISTEN=127.0.0.1:10010
ADMIN=127.0.0.1:9911
for addr in $LISTEN $ADMIN; do
  if (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null; then
    echo "demo-directory: $addr is in use (another demo running? stop it first)" >&2; exit 1
  fi
done

source scripts/lib.sh

say "toolchain, Envoy, gatehouse.wasm and the gatehouse CLI"
ensure_wasm_target
ensure_envoy
build_plugin
build_cli
gatehouse=$PWD/target/release/gatehouse
wasm=$PWD/$WASM_PATH

work=$PWD/target/demo-directory
rm -rf "$work"
mkdir -p "$work/policy" "$work/envoy"
cp tests/fixtures/scim/initech.yaml "$work/policy/"
ecds=$work/envoy/gatehouse-filter.yaml

service_pid= envoy_pid=
stop() {
  [[ -z $envoy_pid ]] || kill "$envoy_pid" 2>/dev/null || true
  [[ -z $service_pid ]] || kill "$service_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
if [[ $keep == 0 ]]; then trap stop EXIT; else trap '[[ $? == 0 ]] || stop' EXIT; fi

say "the provisioning service, on a fresh database (tenant initech, provisioning: scim)"
secret=$("$gatehouse" directory token --db "$work/directory.db" --tenant initech)
echo "SCIM bearer secret for initech: ${secret:0:8}... (gatehouse directory token; shown once)"
"$gatehouse" directory serve --policy "$work/policy" --db "$work/directory.db" --listen 127.0.0.1:0 \
  --gateway examples/gateway.yaml --publish "$ecds" --wasm "$wasm" \
  --bundle-out "$work/published.bundle" >"$work/service.out" 2>"$work/service.log" &
service_pid=$!
for _ in $(seq 1 100); do
  grep -q '^listening on ' "$work/service.out" 2>/dev/null && break
  kill -0 "$service_pid" 2>/dev/null || { cat "$work/service.log" >&2; exit 1; }
  sleep 0.1
done
base=$(sed -n 's/^listening on //p' "$work/service.out" | head -1)
[[ -n $base ]] || { echo "the service did not start; see $work/service.log" >&2; exit 1; }
scim=$base/scim/v2/initech
echo "SCIM base URL: $scim/ (service pid $service_pid)"

scim() { # method path [json body]
  local args=(-s -X "$1" -H "authorization: Bearer $secret" -H 'content-type: application/scim+json')
  [[ $# -lt 3 ]] || args+=(-d "$3")
  curl "${args[@]}" "$scim$2"
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

say "an identity provider creates users and a group (one POST each, as Okta does)"
declare -A ids
for name in alice bob carol; do
  ids[$name]=$(scim POST /Users "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],
    \"userName\":\"$name@initech.test\",\"name\":{\"givenName\":\"${name^}\",\"familyName\":\"Example\"},
    \"emails\":[{\"primary\":true,\"value\":\"$name@initech.test\",\"type\":\"work\"}],\"active\":true}" | json 'd["id"]')
  echo "POST /Users $name@initech.test -> id ${ids[$name]}"
done
group=$(scim POST /Groups '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Platform Team","members":[]}' | json 'd["id"]')
scim PATCH "/Groups/$group" "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],
  \"Operations\":[{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"${ids[alice]}\"},{\"value\":\"${ids[bob]}\"}]}]}" >/dev/null
echo "POST /Groups \"Platform Team\" -> id $group; PATCH add members alice, bob"

say "the service wrote the directory file, compiled and published the bundle"
for _ in $(seq 1 200); do
  [[ -f $ecds ]] && "$gatehouse" check --bundle "$work/published.bundle" --as user:bob@initech.test \
    --method GET --path /api/prompts/prompts/summarize >/dev/null 2>&1 && break
  sleep 0.05
done
ls -l "$work/policy" "$ecds"
"$gatehouse" inspect "$work/published.bundle" | head -8

say "start Envoy on the published ECDS file ($LISTEN, admin $ADMIN)"
"$gatehouse" envoy-config --kind ecds-bootstrap --ecds-path "$ecds" --listen "$LISTEN" --admin "$ADMIN" \
  >"$work/envoy.yaml"
"$ENVOY_BIN" -c "$work/envoy.yaml" --concurrency 1 --use-dynamic-base-id --log-path "$work/envoy.log" &
envoy_pid=$!
for _ in $(seq 1 100); do
  [[ $(curl -s "$ADMIN/ready" || true) == LIVE ]] && break
  sleep 0.1
done
[[ $(curl -s "$ADMIN/ready" || true) == LIVE ]] || { echo "Envoy did not become ready; see $work/envoy.log" >&2; exit 1; }
echo "Envoy pid $envoy_pid"

url=http://$LISTEN/api/prompts/prompts/summarize
token=$("$gatehouse" token mint --key tests/fixtures/keys/e2e-cp.private.jwk.json \
  --issuer https://cp.initech.test --tenant initech --sub user:alice@initech.test --ttl 1h)
status() { curl -s -o "$work/last.body" -w '%{http_code}' -H "authorization: Bearer $token" "$url"; }

say "alice's token through Envoy: GET /api/prompts/prompts/summarize"
code=000
for _ in $(seq 1 100); do code=$(status); [[ $code == 200 ]] && break; sleep 0.1; done
echo "-> $code $(cat "$work/last.body")"
[[ $code == 200 ]] || { echo "alice is not allowed; see $work/envoy.log" >&2; exit 1; }

say "the identity provider deactivates alice: PATCH /Users/${ids[alice]} {active: false}"
answer=$(scim PATCH "/Users/${ids[alice]}" '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations":[{"op":"replace","value":{"active":false}}]}')
t0=$(date +%s%N)  # the SCIM answer is in
json '"-> active: " + str(d["active"]).lower()' <<<"$answer"
tries=0
while code=$(status); [[ $code == 200 ]]; do
  tries=$((tries + 1))
  (( $(date +%s%N) - t0 < 30000000000 )) || { echo "still allowed after 30 s" >&2; exit 1; }
done
elapsed_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "the same token, $elapsed_ms ms after the SCIM answer ($tries requests still allowed before):"
echo "-> $code $(cat "$work/last.body")"

say "bob is untouched"
token=$("$gatehouse" token mint --key tests/fixtures/keys/e2e-cp.private.jwk.json \
  --issuer https://cp.initech.test --tenant initech --sub user:bob@initech.test --ttl 1h)
echo "-> $(status) $(cat "$work/last.body")"

if [[ $keep == 1 ]]; then
  say "still running (--keep)"
  echo "SCIM: $scim/ (bearer secret: $secret)"
  echo "Envoy: http://$LISTEN (admin http://$ADMIN); logs in $work"
  echo "stop: kill $envoy_pid $service_pid"
else
  say "stopping Envoy and the service (pass --keep to leave them running)"
fi
