#!/usr/bin/env bash
# Token verification and decision, natively and as wasm32-wasip1 in Node's V8 (TurboFan only,
# as in Envoy), in one run, with the ratios of SPEC.md section 6.
#
#   scripts/bench-wasm.sh [PREFIX]      e.g. PREFIX=verify/ or decide/large/
#
# Fixtures (synthetic tenants, bundles, tokens) are generated once into target/bench-fixtures;
# delete that directory to regenerate. Results: target/bench-wasm/{native,wasm}.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX="${1:-}"
FIXTURES=target/bench-fixtures
OUT=target/bench-wasm
HARNESS=gatehouse-wasm-harness  # binary of the gatehouse-bench crate (bench/)
mkdir -p "$OUT"

rustup target list --installed 2>/dev/null | grep -q wasm32-wasip1 || rustup target add wasm32-wasip1
cargo build --release -p gatehouse-bench --bin "$HARNESS"
cargo build --release -p gatehouse-bench --bin "$HARNESS" --target wasm32-wasip1
command -v node >/dev/null || { echo "error: node (20+) is needed for the wasm half" >&2; exit 1; }

if [ ! -f "$FIXTURES/large.bundle" ]; then
  echo "generating fixtures in $FIXTURES (compiles the 1M-grant tenant)" >&2
  "target/release/$HARNESS" gen "$FIXTURES"
fi

if [ ! -f "$FIXTURES/stack.json" ]; then
  echo "generating $FIXTURES/stack.json (an 8192-bit RSA key: openssl, python3-cryptography)" >&2
  python3 bench/wasm-harness/gen-stack.py "$FIXTURES/stack.json" \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["now"])' "$FIXTURES/tokens.json")"
fi

echo "== native" >&2
"target/release/$HARNESS" run "$FIXTURES" "$PREFIX" | tee "$OUT/native.tsv" >&2
echo "== wasm (node $(node --version), --no-liftoff)" >&2
node --no-liftoff --no-warnings bench/wasm-harness/run.mjs \
  "target/wasm32-wasip1/release/$HARNESS.wasm" "$FIXTURES" "$PREFIX" | tee "$OUT/wasm.tsv" >&2

# Stack headroom: the deepest inputs (8192-bit RS512, 64-level claims and bodies, 10,000-level
# body refused, large bundle load) in wasm with the workspace's wasm stack (.cargo/config.toml);
# a stack overflow traps and fails the script.
if [ -z "$PREFIX" ]; then  # (PREFIX=stack/ runs it above)
  echo "== stack (wasm)" >&2
  node --no-liftoff --no-warnings bench/wasm-harness/run.mjs \
    "target/wasm32-wasip1/release/$HARNESS.wasm" "$FIXTURES" stack/ >&2
fi

# Memory one VM holds after loading each bundle: a fresh instance per size.
if [ -z "$PREFIX" ] || [[ "$PREFIX" == mem/* ]]; then
  for size in small large; do
    "target/release/$HARNESS" run "$FIXTURES" "mem/$size" | tee -a "$OUT/native.tsv" >&2
    node --no-liftoff --no-warnings bench/wasm-harness/run.mjs \
      "target/wasm32-wasip1/release/$HARNESS.wasm" "$FIXTURES" "mem/$size" | tee -a "$OUT/wasm.tsv" >&2
  done
fi

python3 - "$OUT/native.tsv" "$OUT/wasm.tsv" <<'PY'
import sys

def load(path):
    rows = {}
    for line in open(path):
        name, median, lo, hi, _iters = line.rstrip("\n").split("\t")
        rows[name] = (float(median), float(lo), float(hi))
    return rows

native, wasm = load(sys.argv[1]), load(sys.argv[2])
def fmt(ns):
    if ns >= 1e7:
        return f"{ns/1e6:.1f} ms"
    return f"{ns/1000:.3f} us" if ns < 1e6 else f"{ns/1e6:.3f} ms"
def cell(row):
    m, lo, hi = row
    return f"{fmt(m)} [{fmt(lo)} .. {fmt(hi)}]"

# SPEC 6: uncached verification in wasm vs the fastest native verifier (ring).
limits = {"HS256": 3, "RS256": 4, "ES256": 6, "EdDSA": 4}
print("\n## Token verification: gatehouse in wasm vs ring native (median [min .. max])")
print("| alg | ring native | gatehouse native | gatehouse wasm | wasm/ring | target | met |")
print("|---|---|---|---|---|---|---|")
for alg, limit in limits.items():
    r, n, w = native.get(f"verify/{alg}/ring"), native.get(f"verify/{alg}/gatehouse"), wasm.get(f"verify/{alg}/gatehouse")
    if not (r and n and w):
        continue
    ratio = w[0] / r[0]
    print(f"| {alg} | {cell(r)} | {cell(n)} | {cell(w)} | {ratio:.2f}x | <= {limit}x | {'yes' if ratio <= limit else 'NO'} |")

mem = [s for s in ("small", "large") if f"mem/{s}/bytes" in wasm]
if mem:
    print("\n## One VM after loading a bundle (fresh instance; load = first Engine::load)")
    print("| bundle | bundle bytes | wasm linear memory | over the bundle | first load native | first load wasm |")
    print("|---|---|---|---|---|---|")
    for s in mem:
        b, m = wasm[f"mem/{s}/bundle_bytes"][0], wasm[f"mem/{s}/bytes"][0]
        ln = native.get(f"mem/{s}/first_load_ns", (float("nan"),))[0]
        lw = wasm[f"mem/{s}/first_load_ns"][0]
        print(f"| {s} | {b:.0f} | {m:.0f} | {(m - b) / 2**20:.2f} MiB | {ln/1e6:.2f} ms | {lw/1e6:.2f} ms |")

other = sorted(k for k in wasm if not k.startswith("mem/") and not k.startswith("verify/") or not any(k == f"verify/{a}/gatehouse" for a in limits))
if other:
    print("\n## Other: native vs wasm (median [min .. max])")
    print("| benchmark | native | wasm | wasm/native |")
    print("|---|---|---|---|")
    for name in other:
        if name in native:
            print(f"| {name} | {cell(native[name])} | {cell(wasm[name])} | {wasm[name][0]/native[name][0]:.2f}x |")
PY
