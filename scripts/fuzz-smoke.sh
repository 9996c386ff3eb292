#!/usr/bin/env bash
# Fuzzing smoke run: every cargo-fuzz target in fuzz/ for a short time, seeded
# from the repository's vectors, examples and adversarial tokens. CI calls it; the longer runs in
# docs/security.md use the same script with FUZZ_SECONDS raised.
#
#   scripts/fuzz-smoke.sh                      # 15 s per target: 150 s of fuzzing, plus the build
#   FUZZ_SECONDS=600 scripts/fuzz-smoke.sh     # the long run
#   FUZZ_TARGETS="token body" scripts/fuzz-smoke.sh
#
# The toolchain is stable: cargo-fuzz needs `-Z` flags, which RUSTC_BOOTSTRAP=1 unlocks. Without
# cargo-fuzz (and FUZZ_NO_INSTALL=1), the same targets run as a stable `cargo test` replay of the
# seeds plus deterministic mutations instead (fuzz/tests/replay.rs).
#
# Exit status: non-zero when a target crashes, leaks, times out or exceeds the memory limits; the
# input is left in fuzz/artifacts/<target>/.
set -euo pipefail

cd "$(dirname "$0")/../fuzz"
seconds=${FUZZ_SECONDS:-15}
targets=${FUZZ_TARGETS:-"bundle_decode token claims route body compile_yaml es256 authority api_key mcp_trim native_glue"}
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    if [[ ${FUZZ_NO_INSTALL:-0} == 1 ]]; then
        echo "fuzz-smoke: cargo-fuzz not installed; running the stable replay instead"
        GATEHOUSE_FUZZ_ITERS=${GATEHOUSE_FUZZ_ITERS:-5000} cargo test --release --test replay -- --nocapture
        exit 0
    fi
    cargo install cargo-fuzz --locked
fi

cargo fuzz build -O
triple=$(rustc -vV | sed -n 's/^host: //p')
"target/$triple/release/seed" $targets

mkdir -p logs
status=0
for target in $targets; do
    log="logs/$target.log"
    # Memory: 1 GiB resident, no single allocation over 256 MiB (an unbounded allocation
    # driven by the input is a finding); 10 s per input.
    if cargo fuzz run -O "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=1024 -malloc_limit_mb=256 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result=FAILED
        status=1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    corpus=$(find "corpus/$target" -type f | wc -l)
    echo "fuzz $target: $result, ${runs:-?} executions in ${seconds}s, $cov, corpus $corpus"
    if [[ $result == FAILED ]]; then
        tail -40 "$log"
    fi
done
exit $status
