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
HARNESS=gatehouse-wasm-harness
mkdir -p "$OUT"

rustup target list --installed 2>/dev/null | grep -q wasm32-wasip1 || rustup target add wasm32-wasip1
cargo build --release -p "$HARNESS"
cargo build --release -p "$HARNESS" --target wasm32-wasip1
command -v node >/dev/null || { echo "error: node (20+) is needed for the wasm half" >&2; exit 1; }

if [ ! -f "$FIXTURES/large.bundle" ]; then
  echo "generating fixtures in $FIXTURES (compiles the 1M-grant tenant)" >&2
  "target/release/$HARNESS" gen "$FIXTURES"
fi

echo "== native" >&2
"target/release/$HARNESS" run "$FIXTURES" "$PREFIX" | tee "$OUT/native.tsv" >&2
echo "== wasm (node $(node --version), --no-liftoff)" >&2
node --no-liftoff --no-warnings bench/wasm-harness/run.mjs \
  "target/wasm32-wasip1/release/$HARNESS.wasm" "$FIXTURES" "$PREFIX" | tee "$OUT/wasm.tsv" >&2

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

other = sorted(k for k in wasm if not k.startswith("verify/") or not any(k == f"verify/{a}/gatehouse" for a in limits))
if other:
    print("\n## Other: native vs wasm (median [min .. max])")
    print("| benchmark | native | wasm | wasm/native |")
    print("|---|---|---|---|")
    for name in other:
        if name in native:
            print(f"| {name} | {cell(native[name])} | {cell(wasm[name])} | {wasm[name][0]/native[name][0]:.2f}x |")
PY
