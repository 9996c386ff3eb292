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
set -euo pipefail

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

[[ $# -ge 1 ]] || usage
bundle=$1; shift
out=target/envoy/gatehouse-filter.yaml
wasm=target/wasm32-wasip1/release/gatehouse.wasm
keys=()
rollback=
while [[ $# -gt 0 ]]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --wasm) wasm=$2; shift 2 ;;
    --trusted-key) keys+=("\"$2\""); shift 2 ;;
    --allow-rollback) rollback=',"allow_rollback":true'; shift ;;
    -h|--help) usage ;;
    *) echo "push-bundle: unknown argument $1" >&2; usage ;;
  esac
done
[[ -f $bundle ]] || { echo "push-bundle: no bundle at $bundle" >&2; exit 1; }

trusted=$(IFS=,; echo "${keys[*]:-}")
version="$(date +%s%N)-$(sha256sum "$bundle" | cut -c1-12)"
mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
cat >"$tmp" <<YAML
# Written by scripts/push-bundle.sh from $bundle. Replaced atomically; do not edit.
version_info: "$version"
resources:
- "@type": type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig
  name: gatehouse
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
    config:
      name: gatehouse
      root_id: gatehouse
      failure_policy: FAIL_CLOSED
      # Lets on_http_request_headers return StopIteration and still receive the body: the filter
      # holds the headers of a request whose route reads the body until it has decided. Without
      # it Envoy turns StopIteration into StopAllIteration and such requests would stall.
      allow_on_headers_stop_iteration: true
      vm_config:
        vm_id: gatehouse
        runtime: envoy.wasm.runtime.v8
        code:
          local: { filename: "$wasm" }
        configuration:
          "@type": type.googleapis.com/google.protobuf.StringValue
          value: '{"trusted_keys":[$trusted]$rollback}'
      configuration:
        "@type": type.googleapis.com/google.protobuf.BytesValue
        value: "$(base64 -w0 "$bundle")"
YAML
mv -f "$tmp" "$out"
echo "push-bundle: $bundle -> $out (version $version)"
