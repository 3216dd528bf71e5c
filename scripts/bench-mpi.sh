#!/usr/bin/env bash
# Scaling benchmark of the distributed limit NTK (bindings/c/mpi/ntk_mpi.c, bench mode):
# N = 20000 points, ReLU, L = 5, d = 100, beta = 0.1, one library thread per rank, on 1 and 2
# ranks. Each rank computes its row block K(X[r0:r1], X) (N/P x N) with one
# ntk_kernel_limit_tile call; printed: the time (max over ranks) and each rank's VmHWM.
#   scripts/bench-mpi.sh [N] [kernel: limit|empirical]
#   scripts/bench-mpi.sh solve [N ...]
# The solve mode measures the distributed PCG kernel regression (ntk_mpi_solve.c, -b) and the
# library solver (examples/large_n_solve.rs) at each N (default 10000 20000): limit NTK, ReLU,
# L = 3, d = 8, lambda = 1e-4 tr(K)/N, rtol = 1e-4 (env RTOL, LAMBDA, RANK = 300, MAXIT), matrix-
# free, with and without the preconditioner, on 1 and 2 ranks; each run's peak memory by
# /usr/bin/time -v (maximum resident set size) and the programs' own VmHWM.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = solve ]; then
    shift
    SIZES=("$@")
    [ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 20000)
    RTOL="${RTOL:-1e-4}" LAMBDA="${LAMBDA:-1e-4}" RANK="${RANK:-300}" MAXIT="${MAXIT:-2000}"
    cargo build --release --quiet --example large_n_solve
    mkdir -p target/mpi
    make --quiet -C bindings/c/mpi OUT="$PWD/target/mpi" NTK_LIB_DIR="$PWD/target/release" >/dev/null
    MPIRUN=(mpirun --oversubscribe)
    if [ "$(id -u)" = 0 ]; then MPIRUN+=(--allow-run-as-root); fi
    echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    for n in "${SIZES[@]}"; do
        for r in "$RANK" 0; do
            echo "=== library, 2 threads, N = $n, preconditioner rank $r"
            /usr/bin/time -f "max RSS %M KiB, wall %e s" \
                target/release/examples/large_n_solve "$n" "$r" "$RTOL" "$LAMBDA" 0 "$MAXIT" 1000
            for np in 1 2; do
                echo "=== MPI, $np rank(s), one thread each, N = $n, preconditioner rank $r"
                "${MPIRUN[@]}" -np "$np" target/mpi/ntk_mpi_solve -b -1 -N "$n" -M 1000 -k 1 -r "$r" \
                    -l "$LAMBDA" -t "$RTOL" -i "$MAXIT"
            done
        done
    done
    exit 0
fi
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
