"""The physical floor of a kernel row: what this machine needs at least, measured just before the
row, at the row's thread count (OPENBLAS_NUM_THREADS is set by run.py).

- dgemm rate: numpy's OpenBLAS dgemm on 2000 × 2000 operands (2·n³ flops), median of 3; OpenBLAS
  is faster here than the `matrixmultiply` GEMM ntk uses, so this is the machine's, not ntk's, rate.
- store bandwidth: `ndarray.fill` over a 256 MB buffer already touched once, median of 3.
- limit rows: the Gram matrix X·Xᵀ of the row's inputs, one triangle (N²·d flops; the other is its
  mirror) at the dgemm rate, plus writing the two N × N outputs (NNGP and NTK, 16·N² bytes) at the
  store bandwidth. Everything a limit kernel must do beyond that (L − 1 layer maps per entry) is
  above the floor. (Timing numpy's full x @ x.T instead would count the output stores twice and
  the mirrored triangle's flops: at N = 4000 it took 59.5 ms against 9.6 ms by the formula, above
  ntk's whole kernel.)
- empirical rows: the smaller of the two flop counts of src/kernel/empirical/method.rs (structured:
  forward and n_L backward passes, one Gram per layer of inputs and of cotangents, the Hadamard
  products; Jacobian contraction: J, then J·Jᵀ), symmetric case, at the dgemm rate.
"""
import statistics
import time

import numpy as np

EMPIRICAL_WIDTHS = [100, 512, 512, 512]


def _median_time(fn, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def dgemm_rate(n=2000):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    c = np.empty((n, n))
    np.dot(a, b, out=c)  # warm-up
    return 2.0 * n ** 3 / _median_time(lambda: np.dot(a, b, out=c), 3)


def store_bandwidth(nbytes=256 << 20):
    buf = np.empty(nbytes // 8)
    buf.fill(0.0)  # first touch
    return nbytes / _median_time(lambda: buf.fill(1.0), 3)


def empirical_flops(widths, n, mode_full):
    """The smaller of the two flop counts of src/kernel/empirical/method.rs (symmetric, N1 = N2 = N)."""
    depth = len(widths) - 1
    n_out = widths[-1]
    f, s = float(n), 0.5
    k = n_out * n_out if mode_full else n_out
    fwd = sum(widths[l] * widths[l + 1] for l in range(depth))
    bwd = sum(widths[l] * widths[l + 1] for l in range(1, depth))
    passes = 2.0 * f * fwd + 2.0 * f * n_out * bwd
    a = sum(widths[l] for l in range(depth))
    h = sum(widths[l] for l in range(1, depth))
    p = sum(widths[l + 1] * (widths[l] + 1) for l in range(depth))
    pairs = 2.0 * s * n * n
    structured = passes + pairs * (a + k * h) + pairs * k * depth
    contraction = passes + f * n_out * p + pairs * k * p
    return min(structured, contraction)


def measure(kind, p, inputs):
    rate = dgemm_rate()
    if kind in ("limit", "limit_arch"):
        n, d = inputs["x"].shape
        gram = float(n) * n * d / rate
        bw = store_bandwidth()
        write = 16.0 * n * n / bw
        return {"floor_s": gram + write, "gram_s": gram, "write_s": write, "dgemm_gflops": rate / 1e9,
                "store_gbs": bw / 1e9,
                "what": f"Gram {n * n * d / 1e9:.2f} GFLOP at {rate / 1e9:.0f} GFLOP/s + outputs "
                        f"{16 * n * n / 1e6:.0f} MB at {bw / 1e9:.1f} GB/s"}
    if kind == "empirical":
        outputs = p["outputs"]
        flops = empirical_flops(EMPIRICAL_WIDTHS + [outputs], p["n"], outputs > 1)
        return {"floor_s": flops / rate, "flops": flops, "dgemm_gflops": rate / 1e9,
                "what": f"{flops / 1e9:.2f} GFLOP at {rate / 1e9:.1f} GFLOP/s"}
    raise ValueError(kind)
