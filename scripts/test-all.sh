#!/usr/bin/env bash
# THE test command of the project. Runs, from the repository root:
#   1. cargo test --release          all Rust tests, including tests/c_api.rs (C programs built
#                                    with cc against the fresh library, also under valgrind)
#   2. scripts/test-install.sh       install into a temporary prefix (SONAME build), build the
#                                    C example from the installed copy with pkg-config
#   3. Julia suite                   bindings/julia/test/runtests.jl   (Julia 1.5+)
#   4. R suite                       R CMD INSTALL into a temporary library, then
#                                    Rscript bindings/r/tests/test-ntk.R
# A missing Julia or R is SKIPPED with a loud message, except under CI=true where it is a failure.
# Exits non-zero when any step fails; the last line is the summary.
# Julia is looked up as $JULIA, `julia` on PATH, then /opt/julia-1.5.3/bin/julia.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$PATH:$HOME/.cargo/bin"

PASSED=()
FAILED=()
SKIPPED=()
step() {
    local name="$1"; shift
    local t0=$SECONDS
    echo
    echo "================ test-all: $name"
    if "$@"; then
        PASSED+=("$name ($((SECONDS - t0)) s)")
    else
        echo "!!!!!!!!!!!!!!!! test-all: $name FAILED"
        FAILED+=("$name")
    fi
}
skip() {
    local name="$1" why="$2"
    echo
    echo "****************************************************************************"
    echo "*** test-all: SKIPPING $name: $why"
    echo "****************************************************************************"
    if [ "${CI:-}" = true ]; then
        FAILED+=("$name (missing under CI: $why)")
    else
        SKIPPED+=("$name")
    fi
}

step "cargo test --release" cargo test --release
# The bindings use target/release/libntk.{so,a}, which only `cargo build` puts there.
step "cargo build --release" cargo build --release
step "install + pkg-config" "$ROOT/scripts/test-install.sh"
step "sanitizers (valgrind + ASan)" "$ROOT/scripts/sanitizers.sh"
step "fuzz smoke" env FUZZ_SECONDS=20 "$ROOT/scripts/fuzz-smoke.sh" forward empirical jacobian spectrum

LIB="$ROOT/target/release/libntk.so"
JULIA_BIN="${JULIA:-$(command -v julia || true)}"
[ -n "$JULIA_BIN" ] || { [ -x /opt/julia-1.5.3/bin/julia ] && JULIA_BIN=/opt/julia-1.5.3/bin/julia; }
if [ -n "$JULIA_BIN" ]; then
    step "Julia suite" env NTK_LIB="$LIB" "$JULIA_BIN" --startup-file=no \
        "$ROOT/bindings/julia/test/runtests.jl"
else
    skip "Julia suite" "no julia found (install with scripts/install-julia.sh)"
fi

r_suite() {
    local tmp rc
    tmp="$(mktemp -d)"
    # Build from a copy so that the source tree stays clean.
    cp -r "$ROOT/bindings/r" "$tmp/ntk"
    mkdir -p "$tmp/lib"
    NTK_LIB_DIR="$ROOT/target/release" NTK_INCLUDE_DIR="$ROOT/include" \
        R CMD INSTALL --preclean --no-multiarch -l "$tmp/lib" "$tmp/ntk" &&
        R_LIBS="$tmp/lib" Rscript "$ROOT/bindings/r/tests/test-ntk.R"
    rc=$?
    rm -rf "$tmp"
    return $rc
}
if command -v Rscript >/dev/null 2>&1 && command -v R >/dev/null 2>&1; then
    step "R suite" r_suite
else
    skip "R suite" "no R/Rscript found (install with scripts/install-r.sh)"
fi

echo
echo "================ test-all summary"
for p in "${PASSED[@]}"; do echo "  passed:  $p"; done
for s in "${SKIPPED[@]+"${SKIPPED[@]}"}"; do echo "  SKIPPED: $s"; done
for f in "${FAILED[@]+"${FAILED[@]}"}"; do echo "  FAILED:  $f"; done
# The last line counts the steps in the plain form CI reads: "N passed, N failed, N skipped".
echo "test-all: ${#PASSED[@]} passed, ${#FAILED[@]} failed, ${#SKIPPED[@]} skipped"
[ ${#FAILED[@]} -eq 0 ] || exit 1
