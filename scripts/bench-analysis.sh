#!/usr/bin/env bash
# Access review on the 1M-grant synthetic tenant (100k users, 10k teams) through the real CLI:
# who-can, what-can, and diff of two large tenants a few changes apart (and of a team made
# tenant-admin), each timed end to end (bundle load included) with its peak memory from GNU
# time. In-process figures next to brute force: `cargo bench -p gatehouse-bench --bench review`.
#
#   scripts/bench-analysis.sh          # results in target/bench-analysis/results.md
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_debian time /usr/bin/time
out=target/bench-analysis
mkdir -p "$out"
cargo build --release --locked -p gatehouse-cli --features test-support --bin gatehouse
G=target/release/gatehouse
NOW=--now=2026-12-01T00:00:00Z

"$G" synth --users 100000 --teams 10000 --grants 1000000 --seed 42 -o "$out/old.json"
# A few changes reviewers see (a team made tenant-admin is its own case):
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
d = json.load(open(f"{out}/old.json"))
d["teams"][23]["members"].pop(0)                       # a member removed
d["users"][500]["active"] = False                      # a user deactivated
d["resources"][3]["collaborators"].append(             # a grant added
    {"subject": "team:team99", "role": "provider-account-user"})
d["resources"][5]["models"][2]["enabled"] = False      # a model disabled
json.dump(d, open(f"{out}/few.json", "w"))
d["teams"][17]["roles"] = ["tenant-admin"]             # and a team made tenant-admin
json.dump(d, open(f"{out}/admin.json", "w"))
PY
for name in old few admin; do
  "$G" compile "$out/$name.json" -o "$out/$name.bundle" --serial 1 2>/dev/null
done

measure() {  # label, then the command; prints "| label | seconds | peak RSS MiB | output |"
  local label="$1"; shift
  local rc=0
  /usr/bin/time -f "%e %M" -o "$out/time.txt" "$@" > "$out/last.out" || rc=$?
  [ "$rc" -le 2 ] || { echo "error: $label exited $rc" >&2; cat "$out/last.out" >&2; exit 1; }
  # GNU time puts "Command exited with non-zero status N" first for exit 2.
  read -r secs kb < <(tail -1 "$out/time.txt")
  printf '| %s | %s | %d | %s |\n' "$label" "$secs" "$((kb / 1024))" "$(head -c 120 "$out/last.out" | head -1)"
}

{
  echo "| command | seconds | peak RSS (MiB) | first line of output |"
  echo "|---|---:|---:|---|"
  measure "inspect (load only)" "$G" inspect "$out/old.bundle"
  measure "who-can use model:pa0/m0" "$G" who-can --bundle "$out/old.bundle" --resource model:pa0/m0 --action use "$NOW"
  measure "who-can deploy workspace:c0/w0" "$G" who-can --bundle "$out/old.bundle" --resource workspace:c0/w0 --action deploy "$NOW"
  measure "what-can user:u1 (member)" "$G" what-can --bundle "$out/old.bundle" --as user:u1@synth.example.com "$NOW"
  measure "what-can user:u1015 (tenant-admin)" "$G" what-can --bundle "$out/old.bundle" --as user:u1015@synth.example.com "$NOW"
  measure "what-can --json user:u1015 (tenant-admin)" "$G" what-can --bundle "$out/old.bundle" --as user:u1015@synth.example.com "$NOW" --json
  measure "diff, few changes (bundles)" "$G" diff "$out/old.bundle" "$out/few.bundle" "$NOW"
  measure "diff, + team made tenant-admin (bundles)" "$G" diff "$out/old.bundle" "$out/admin.bundle" "$NOW"
  measure "diff --json, + team made tenant-admin" "$G" diff "$out/old.bundle" "$out/admin.bundle" "$NOW" --json
  measure "diff --markdown, tenant files (compiles both)" "$G" diff "$out/old.json" "$out/admin.json" "$NOW" --markdown
} | tee "$out/results.md"
