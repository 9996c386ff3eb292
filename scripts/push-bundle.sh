#!/usr/bin/env bash
# Deliver a policy bundle to a running (or about to start) Envoy through the watched ECDS file.
#
#   scripts/push-bundle.sh BUNDLE [--out FILE] [--wasm PATH] [--trusted-key BASE64]...
#                          [--allow-rollback]
#
# Writes an ECDS DiscoveryResponse holding the gatehouse wasm filter configuration (the bundle as
# a BytesValue) to FILE (default target/envoy/gatehouse-filter.yaml, the path envoy/envoy.yaml
# watches), atomically: written beside it, then renamed over it. Envoy picks the rename up from
# the watched directory and applies it without a restart; a bundle the plugin rejects leaves the
# previous one serving.
#
# --wasm is the path of gatehouse.wasm as Envoy sees it (relative to Envoy's working directory or
# absolute); default target/wasm32-wasip1/release/gatehouse.wasm. --allow-rollback sets
# "allow_rollback": true in the VM configuration: the filter then accepts a bundle whose serial is
# lower than the one in service (changing the VM configuration also starts a fresh VM).
#
# The file is `gatehouse envoy-config --kind ecds-resource`: GATEHOUSE_BIN names the CLI, else it
# is run through `cargo run --release` from this repository.
set -euo pipefail

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

[[ $# -ge 1 ]] || usage
[[ $1 == -h || $1 == --help ]] && usage
bundle=$1; shift
out=target/envoy/gatehouse-filter.yaml
wasm=target/wasm32-wasip1/release/gatehouse.wasm
args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --wasm) wasm=$2; shift 2 ;;
    --trusted-key) args+=("--trusted-key=$2"); shift 2 ;;
    --allow-rollback) args+=(--allow-rollback); shift ;;
    -h|--help) usage ;;
    *) echo "push-bundle: unknown argument $1" >&2; usage ;;
  esac
done
[[ -f $bundle ]] || { echo "push-bundle: no bundle at $bundle" >&2; exit 1; }

if [[ -n ${GATEHOUSE_BIN:-} ]]; then
  gatehouse=("$GATEHOUSE_BIN")
else
  root=$(cd "$(dirname "$0")/.." && pwd)
  gatehouse=(cargo run --quiet --locked --release --manifest-path "$root/Cargo.toml"
    -p gatehouse-compiler --bin gatehouse --)
fi
version="$(date +%s%N)-$(sha256sum "$bundle" | cut -c1-12)"
mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
"${gatehouse[@]}" envoy-config --kind ecds-resource --bundle "$bundle" --wasm "$wasm" \
  --version-info "$version" ${args[@]+"${args[@]}"} >"$tmp"
mv -f "$tmp" "$out"
echo "push-bundle: $bundle -> $out (version $version)"
