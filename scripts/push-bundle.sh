#!/usr/bin/env bash
# Deliver a policy bundle to a running (or about to start) Envoy through the watched ECDS file.
#
#   scripts/push-bundle.sh BUNDLE [--out FILE] [--wasm PATH | --module PATH]
#                          [--trusted-key BASE64]... [--allow-rollback] [--new-vm]
#
# Writes an ECDS DiscoveryResponse holding the gatehouse wasm filter configuration (the bundle as
# a BytesValue) to FILE (default target/envoy/gatehouse-filter.yaml, the path envoy/envoy.yaml
# watches), atomically: written beside it, then renamed over it. Envoy picks the rename up from
# the watched directory and applies it without a restart; a bundle the plugin rejects leaves the
# previous one serving.
#
# --wasm is the path of gatehouse.wasm as Envoy sees it (relative to Envoy's working directory or
# absolute); default target/wasm32-wasip1/release/gatehouse.wasm. --module PATH writes the
# configuration of the native Envoy module (libgatehouse_module.so at PATH) instead, for a
# bootstrap made with `gatehouse envoy-config --kind ecds-bootstrap --filter native`; the settings
# below then go into its one filter configuration. --trusted-key pins a bundle
# signing key in the VM configuration; --allow-rollback sets "allow_rollback": true there (the
# filter then accepts a bundle whose serial is lower than the one in service).
#
# The VM (module, pinned keys, rollback) is the operator's, not the bundle's: the first push
# records it in FILE.vm, and later pushes keep it. A push without VM flags delivers only a new
# bundle; one whose VM flags differ from the recorded VM is refused unless --new-vm says the change
# is meant (it starts a fresh VM). docs/security.md, "Delivery channels", says why.
#
# The file is `gatehouse envoy-config --kind ecds-resource`: GATEHOUSE_BIN names the CLI, else it
# is run through `cargo run --release` from this repository.
set -euo pipefail

usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

[[ $# -ge 1 ]] || usage
[[ $1 == -h || $1 == --help ]] && usage
bundle=$1; shift
out=target/envoy/gatehouse-filter.yaml
wasm=target/wasm32-wasip1/release/gatehouse.wasm
module=
args=()
vm_given=
new_vm=
while [[ $# -gt 0 ]]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --wasm) wasm=$2; vm_given=1; shift 2 ;;
    --module) module=$2; vm_given=1; shift 2 ;;
    --trusted-key) args+=("--trusted-key=$2"); vm_given=1; shift 2 ;;
    --allow-rollback) args+=(--allow-rollback); vm_given=1; shift ;;
    --new-vm) new_vm=1; shift ;;
    -h|--help) usage ;;
    *) echo "push-bundle: unknown argument $1" >&2; usage ;;
  esac
done
[[ -f $bundle ]] || { echo "push-bundle: no bundle at $bundle" >&2; exit 1; }

# The VM: recorded by the first push (one `envoy-config` argument a line), kept by later ones.
vm_file="$out.vm"
if [[ -n $module ]]; then
  filter_args=(--filter=native "--module=$module")
else
  filter_args=("--wasm=$wasm")
fi
vm=$(printf '%s\n' "${filter_args[@]}" ${args[@]+"${args[@]}"})
if [[ -f $vm_file ]]; then
  recorded=$(cat "$vm_file")
  if [[ -z $vm_given ]]; then
    vm=$recorded
  elif [[ $vm != "$recorded" && -z $new_vm ]]; then
    echo "push-bundle: these flags change the VM in service ($vm_file):" >&2
    diff <(echo "$recorded") <(echo "$vm") >&2 || true
    echo "push-bundle: pass --new-vm to change it (a fresh VM), or push without VM flags" >&2
    exit 1
  fi
fi
mapfile -t vm_args <<<"$vm"

if [[ -n ${GATEHOUSE_BIN:-} ]]; then
  gatehouse=("$GATEHOUSE_BIN")
else
  root=$(cd "$(dirname "$0")/.." && pwd)
  gatehouse=(cargo run --quiet --locked --release --manifest-path "$root/Cargo.toml"
    -p gatehouse-cli --bin gatehouse --)
fi
version="$(date +%s%N)-$(sha256sum "$bundle" | cut -c1-12)"
mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
"${gatehouse[@]}" envoy-config --kind ecds-resource --bundle "$bundle" \
  --version-info "$version" "${vm_args[@]}" >"$tmp"
mv -f "$tmp" "$out"
# Written in place, not renamed: Envoy reloads the ECDS file on every rename into its directory.
echo "$vm" >"$vm_file"
echo "push-bundle: $bundle -> $out (version $version)"
