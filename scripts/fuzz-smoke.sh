#!/usr/bin/env bash
# Fuzz smoke test: runs each cargo-fuzz target of fuzz/ (forward, empirical, jacobian, flow,
# spectrum, train, limit, tiles: `cargo fuzz list`) for FUZZ_SECONDS (default 25) seconds under
# AddressSanitizer and fails on the first crash, panic, leak, timeout or OOM.
#
#   scripts/fuzz-smoke.sh                 # every target, 25 s each
#   FUZZ_SECONDS=300 scripts/fuzz-smoke.sh empirical
#
# Works on a fresh machine with only a stable toolchain: installs cargo-fuzz if absent and sets
# RUSTC_BOOTSTRAP=1 so that cargo-fuzz's nightly-only flags (-Zsanitizer, ...) are accepted.
# Crashing inputs land in fuzz/artifacts/<target>/; copy them to fuzz/regressions/<target>/ so
# tests/reliability_regressions.rs replays them in `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET="${FUZZ_SECONDS:-25}"
export RUSTC_BOOTSTRAP=1
# Huge-allocation requests must fail softly (the library returns NTK_STATUS_ALLOCATION).
export ASAN_OPTIONS="${ASAN_OPTIONS:-allocator_may_return_null=1:detect_leaks=1}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi

cargo fuzz build -O >&2

status=0
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    seeds=()
    if [ -d "fuzz/regressions/$t" ]; then seeds=("fuzz/regressions/$t"); fi
    echo "fuzz-smoke: $t for ${SECONDS_PER_TARGET}s" >&2
    if ! cargo fuzz run -O "$t" "fuzz/corpus/$t" "${seeds[@]}" -- \
        -max_total_time="$SECONDS_PER_TARGET" -max_len=512 -timeout=10 \
        -rss_limit_mb=4096 -malloc_limit_mb=4096 -print_final_stats=1 2>"fuzz/$t.log"; then
        echo "fuzz-smoke: $t FAILED (see fuzz/$t.log and fuzz/artifacts/$t/)" >&2
        tail -40 "fuzz/$t.log" >&2
        status=1
    else
        grep -E "^#[0-9]+ +DONE|stat::number_of_executed_units" "fuzz/$t.log" >&2 || true
    fi
done
exit $status
