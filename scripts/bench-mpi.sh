#!/usr/bin/env bash
# Scaling benchmark of the distributed limit NTK (bindings/c/mpi/ntk_mpi.c, bench mode):
# N = 20000 points, ReLU, L = 5, d = 100, beta = 0.1, one library thread per rank, on 1 and 2
# ranks. Each rank computes its row block K(X[r0:r1], X) (N/P x N) with one
# ntk_kernel_limit_tile call; printed: the time (max over ranks) and each rank's VmHWM.
#   scripts/bench-mpi.sh [N] [kernel: limit|empirical]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-20000}"
KIND="${2:-limit}"
cargo build --release --quiet
mkdir -p target/mpi
make --quiet -C bindings/c/mpi OUT="$PWD/target/mpi" NTK_LIB_DIR="$PWD/target/release" >/dev/null
MPIRUN=(mpirun --oversubscribe)
if [ "$(id -u)" = 0 ]; then MPIRUN+=(--allow-run-as-root); fi
for np in 1 2; do
    echo "=== $np rank(s)"
    "${MPIRUN[@]}" -np "$np" target/mpi/ntk_mpi -b -1 -k "$KIND" -N "$N" -d 100 -L 5 -B 0.1
done
