#!/usr/bin/env bash
# THE test command of the project. Runs, from the repository root:
#   1. cargo test --release          all Rust tests, including tests/c_api.rs (C programs built
#                                    with cc against the fresh library, also under valgrind)
#   2. scripts/test-install.sh       install into a temporary prefix (SONAME build), build the
#                                    C example from the installed copy with pkg-config
#                                    and through find_package(ntk 0.2) (CMake consumer test),
#                                    DESTDIR and CARGO_TARGET_DIR
#   3. Python suite                  a fresh venv, `pip install ./bindings/python pytest` (builds
#                                    and bundles libntk), pytest from outside the checkout
#   4. Julia suite                   a copy of bindings/julia outside the checkout, libntk from the
#                                    system library path of an install prefix; checks precompilation
#   5. R package check               R CMD build bindings/r, R CMD check --as-cran --no-manual on
#                                    the tarball against the installed libntk (pkg-config);
#                                    fails on any ERROR or WARNING, prints the NOTEs
# A missing Python, Julia or R is SKIPPED with a loud message, except under CI=true where it is a
# failure.
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

# The language packages use an INSTALLED libntk, as a user's machine would have it.
PKG_WORK="$(mktemp -d)"
trap 'rm -rf "$PKG_WORK"' EXIT
PKG_PREFIX="$PKG_WORK/prefix"
"$ROOT/scripts/install.sh" --no-build --from "${CARGO_TARGET_DIR:-$ROOT/target}/release" "$PKG_PREFIX" >/dev/null ||
    FAILED+=("install into $PKG_PREFIX for the language packages")

python_suite() {
    local venv="$PKG_WORK/venv"
    python3 -m venv "$venv" || return 1
    "$venv/bin/python" -m pip install --quiet --upgrade pip || return 1
    # Builds libntk with cargo (fresh here) and bundles it in the wheel.
    "$venv/bin/python" -m pip install --quiet "$ROOT/bindings/python" pytest || return 1
    (cd "$PKG_WORK" && CI="${CI:-}" "$venv/bin/python" -m pytest -q -p no:cacheprovider "$ROOT/bindings/python/tests")
}
if command -v python3 >/dev/null 2>&1 && python3 -c 'import venv, ensurepip' 2>/dev/null; then
    step "Python suite" python_suite
else
    skip "Python suite" "no python3 with venv/ensurepip (apt-get install python3-venv)"
fi

JULIA_BIN="${JULIA:-$(command -v julia || true)}"
[ -n "$JULIA_BIN" ] || { [ -x /opt/julia-1.5.3/bin/julia ] && JULIA_BIN=/opt/julia-1.5.3/bin/julia; }
julia_suite() {
    local pkg="$PKG_WORK/julia/NTK" depot="$PKG_WORK/julia/depot"
    mkdir -p "$PKG_WORK/julia"
    cp -r "$ROOT/bindings/julia" "$pkg"
    # No NTK_LIB: libntk.so.0 is found on the system library path (here LD_LIBRARY_PATH).
    (cd "$PKG_WORK" && env -u NTK_LIB JULIA_DEPOT_PATH="$depot" LD_LIBRARY_PATH="$PKG_PREFIX/lib" \
        "$JULIA_BIN" --startup-file=no "$pkg/test/runtests.jl") || return 1
    ls "$depot"/compiled/v*/NTK/*.ji >/dev/null 2>&1 ||
        { echo "julia: no precompile cache for NTK in $depot"; return 1; }
    # NTK_LIB first, and a clear error without any library.
    env JULIA_DEPOT_PATH="$depot" NTK_LIB="$PKG_PREFIX/lib/libntk.so" "$JULIA_BIN" --startup-file=no \
        -e "pushfirst!(LOAD_PATH, \"$pkg\"); using NTK; NTK.library_path() == \"$PKG_PREFIX/lib/libntk.so\" || exit(1)" || return 1
    local msg
    msg="$(env -u NTK_LIB -u LD_LIBRARY_PATH JULIA_DEPOT_PATH="$depot" "$JULIA_BIN" --startup-file=no \
        -e "pushfirst!(LOAD_PATH, \"$pkg\"); using NTK" 2>&1)" && { echo "julia: loaded without a library?"; return 1; }
    grep -q "libntk not found" <<<"$msg" || { echo "$msg"; return 1; }
    echo "julia: precompiled; NTK_LIB, system path and the missing-library error checked"
}
if [ -n "$JULIA_BIN" ]; then
    step "Julia suite" julia_suite
else
    skip "Julia suite" "no julia found (install with scripts/install-julia.sh)"
fi

r_check() {
    local dir="$PKG_WORK/r" log
    mkdir -p "$dir"
    (cd "$dir" && R CMD build --no-manual "$ROOT/bindings/r") || return 1
    # --no-manual: the PDF manual needs LaTeX (texlive), which CI does not install.
    # _R_CHECK_CRAN_INCOMING_REMOTE_=false: CI cannot reach CRAN.
    (cd "$dir" && PKG_CONFIG_PATH="$PKG_PREFIX/lib/pkgconfig" _R_CHECK_CRAN_INCOMING_REMOTE_=false \
        R CMD check --as-cran --no-manual ntk_*.tar.gz) || { cat "$dir"/ntk.Rcheck/tests/*.Rout.fail 2>/dev/null; return 1; }
    log="$dir/ntk.Rcheck/00check.log"
    echo "R CMD check: $(grep '^Status:' "$log")"
    grep -A3 'NOTE$' "$log" || true
    if grep -q '^\* .*\.\.\. \(ERROR\|WARNING\)' "$log"; then
        echo "R CMD check: errors or warnings above"
        return 1
    fi
}
if command -v Rscript >/dev/null 2>&1 && command -v R >/dev/null 2>&1; then
    step "R package check" r_check
else
    skip "R package check" "no R/Rscript found (install with scripts/install-r.sh)"
fi

echo
echo "================ test-all summary"
for p in "${PASSED[@]}"; do echo "  passed:  $p"; done
for s in "${SKIPPED[@]+"${SKIPPED[@]}"}"; do echo "  SKIPPED: $s"; done
for f in "${FAILED[@]+"${FAILED[@]}"}"; do echo "  FAILED:  $f"; done
# The last line counts the steps in the plain form CI reads: "N passed, N failed, N skipped".
echo "test-all: ${#PASSED[@]} passed, ${#FAILED[@]} failed, ${#SKIPPED[@]} skipped"
[ ${#FAILED[@]} -eq 0 ] || exit 1
