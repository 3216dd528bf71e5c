#!/usr/bin/env bash
# Before/after benchmark of ntk in one sitting (no peers):
#
#   scripts/bench-compare.sh [--rounds 3] [--runs 3] [--threads 2] [--only SUBSTR[,SUBSTR...]] BEFORE AFTER
#
# BEFORE and AFTER are git revisions (AFTER may be WORKTREE for the working tree as it is). Each
# revision is built (cargo build --release, library only) in its own temporary git worktree,
# starting from a copy of this checkout's target/ to save the dependency builds; then
# benches/suite/compare.py runs every selected row of the suite alternately with the two
# libraries, and prints per-row medians, the after/before ratio, the spread of the per-round
# ratios (noise), the largest relative difference of the outputs and a verdict (same / slower /
# faster beyond noise). The workloads are the current checkout's benches/suite; the two libraries
# only need the C entry points those rows call.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${NTK_BENCH_VENV:-$ROOT/.venv-bench}"
PASS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds|--runs|--threads|--only) PASS+=("$1" "$2"); shift 2 ;;
        -h|--help) sed -n 2,15p "$0"; exit 0 ;;
        *) break ;;
    esac
done
[ $# -eq 2 ] || { echo "usage: $0 [options] BEFORE AFTER" >&2; exit 2; }
WORK="$(mktemp -d)"
cleanup() {
    for d in "$WORK"/tree-*; do [ -d "$d" ] && git -C "$ROOT" worktree remove --force "$d" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT

build() {   # build REV LABEL -> prints the library's path
    local rev="$1" label="$2" dir
    if [ "$rev" = WORKTREE ]; then
        cargo build --release --quiet --lib >&2
        cp "$ROOT/target/release/libntk.so" "$WORK/libntk-$label.so"
    else
        dir="$WORK/tree-$label"
        git -C "$ROOT" worktree add --quiet --detach "$dir" "$rev" >&2
        [ -d "$ROOT/target" ] && cp -a "$ROOT/target" "$dir/target"
        (cd "$dir" && cargo build --release --quiet --lib >&2)
        cp "$dir/target/release/libntk.so" "$WORK/libntk-$label.so"
    fi
    echo "$WORK/libntk-$label.so"
}
echo "bench-compare: building $1 and $2" >&2
B="$(build "$1" before)"
A="$(build "$2" after)"
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/python" -c 'import numpy' 2>/dev/null || "$VENV/bin/pip" install --quiet "numpy<2"
"$VENV/bin/python" "$ROOT/benches/suite/compare.py" --before "$B" --after "$A" \
    --labels "$(git -C "$ROOT" rev-parse --short "$1" 2>/dev/null || echo "$1"),$(git -C "$ROOT" rev-parse --short "$2" 2>/dev/null || echo "$2")" \
    ${PASS[@]+"${PASS[@]}"}
