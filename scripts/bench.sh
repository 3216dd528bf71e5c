#!/usr/bin/env bash
# The benchmark command. Builds the library, prepares a Python environment under .venv-bench
# (numpy; with --peer also the peers, pinned: neural-tangents 0.6.5 with jax/jaxlib 0.4.23,
# PyTorch 2.15.0 (PyPI's Linux wheel, which brings its CUDA runtime packages, ~3 GB; it runs on
# the CPU here) and scikit-ntk 1.2.1), and runs benches/suite/run.py, which prints the table
# (median of >= 5 runs, min-max, peak RSS, parallel efficiency, the floor and ntk/floor; with
# --peer each peer's time, its ratio to ntk and the largest relative difference).
#
#   scripts/bench.sh [--peer] [--threads 1,2] [--runs 5] [--only SUBSTRING] [--json FILE]
#                    [--markdown FILE] [--no-floor]
#
# The Rust micro-benchmarks of each module are separate: cargo bench --bench limit|empirical|flow.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${NTK_BENCH_VENV:-$ROOT/.venv-bench}"
PEER=0
for a in "$@"; do [ "$a" = --peer ] && PEER=1; done

cargo build --release --quiet
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -c 'import numpy' 2>/dev/null || "$VENV/bin/pip" install --quiet "numpy<2"
if [ "$PEER" = 1 ]; then
    "$VENV/bin/python" -c 'import neural_tangents' 2>/dev/null ||
        "$VENV/bin/pip" install --quiet "neural-tangents==0.6.5" "jax==0.4.23" "jaxlib==0.4.23" "numpy<2" "scipy<1.13"
    "$VENV/bin/python" -c 'import torch' 2>/dev/null ||
        "$VENV/bin/pip" install --quiet "torch==2.15.0" "numpy<2"
    "$VENV/bin/python" -c 'import skntk' 2>/dev/null ||
        "$VENV/bin/pip" install --quiet "scikit-ntk==1.2.1" "numpy<2" "scipy<1.13"
fi
export NTK_LIB="$ROOT/target/release/libntk.so"
exec "$VENV/bin/python" "$ROOT/benches/suite/run.py" --peer-python "$VENV/bin/python" "$@"
