#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian bookworm machine (run as root, or
# with sudo available). Idempotent: every step skips what is already there.
#   - build tools (gcc, g++), pkg-config, valgrind, readelf (binutils), cmake   apt
#   - Python 3 with venv (the Python package's suite: pip fetches setuptools, numpy, pytest)
#   - devscripts, for checkbashisms (R CMD check --as-cran warns without it: configure script)
#   - Rust (stable, minimal profile) via rustup, if cargo is missing
#   - R 4.2 (r-base-core)                                         scripts/install-r.sh
#   - Julia 1.5.3 in /opt/julia-1.5.3                             scripts/install-julia.sh
# Prints the time each step took.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
TIMES=()
timed() {
    local name="$1"; shift
    local t0=$SECONDS
    echo "=== install-deps: $name"
    "$@"
    TIMES+=("$name: $((SECONDS - t0)) s")
}

apt_base() {
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends build-essential binutils ca-certificates curl \
        git pkg-config valgrind cmake
    # python3-venv: a fresh venv for `pip install ./bindings/python` (scripts/test-all.sh)
    $SUDO apt-get install -y --no-install-recommends python3 python3-venv
    # checkbashisms (devscripts): R CMD check --as-cran checks the R package's configure with it
    $SUDO apt-get install -y --no-install-recommends devscripts
    # openmpi: MPI program bindings/c/mpi and tests/mpi.rs
    $SUDO apt-get install -y --no-install-recommends libopenmpi-dev openmpi-bin
}

rust() {
    if command -v cargo >/dev/null 2>&1; then
        echo "install-deps: $(cargo --version) already installed"
        return
    fi
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        echo "install-deps: cargo found in ~/.cargo/bin"
        return
    fi
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
        sh -s -- -y --profile minimal --default-toolchain stable --component rustfmt
}

timed "apt packages (build tools, pkg-config, valgrind, cmake, python3-venv, devscripts)" apt_base
timed "Rust toolchain" rust
timed "R (scripts/install-r.sh)" "$ROOT/scripts/install-r.sh"
timed "Julia 1.5.3 (scripts/install-julia.sh)" "$ROOT/scripts/install-julia.sh"

echo "=== install-deps: done"
for t in "${TIMES[@]}"; do echo "  $t"; done
echo "  (cargo may be in ~/.cargo/bin and Julia in /opt/julia-1.5.3/bin: scripts/test-all.sh looks there)"
