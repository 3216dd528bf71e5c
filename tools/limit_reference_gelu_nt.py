#!/usr/bin/env python3
"""neural-tangents 0.6.5 GELU limit kernels for tests/limit_reference_gelu.rs (CI has no jax).

Run with the project's venv:
  /work/venv-nt/bin/python tools/limit_reference_gelu_nt.py > tests/data/limit_gelu_nt.txt

Same pairs as tools/limit_reference_gelu.py (imported from there), same beta and depths; the
network is stax.serial of (Dense(W_std = 1, b_std = beta, NTK parameterization), Gelu()) x (L - 1)
and a last Dense, in float64. Output, one line per (case, beta, depth):
  name depth beta x0 x1 y0 y1 nngp ntk
(nngp = Sigma^(L), ntk = Theta^(L); neural-tangents has no SigmaDot output), as repr of the f64.
neural-tangents evaluates the same closed form with s12/4 + s12 atan(s12/Delta)/(2 pi), which
cancels near s12 = -sqrt(s11 s22), and forms Delta^2 = (1+s11)(1+s22) - s12^2 by subtraction;
the test compares with a tolerance that says so.
"""
import os
import sys

import jax

jax.config.update("jax_enable_x64", True)
import numpy as np  # noqa: E402
from neural_tangents import stax  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import limit_reference_gelu as ref  # noqa: E402


def kernel_fn(depth, beta):
    layers = []
    for _ in range(depth - 1):
        layers += [stax.Dense(8, W_std=1.0, b_std=beta, parameterization="ntk"), stax.Gelu()]
    layers += [stax.Dense(1, W_std=1.0, b_std=beta, parameterization="ntk")]
    return stax.serial(*layers)[2]


def main():
    fns = {}
    for name, x, y in ref.cases():
        for beta, depth_max in ref.BETAS:
            for depth in range(2, depth_max + 1):
                key = (depth, beta)
                if key not in fns:
                    fns[key] = kernel_fn(depth, beta)
                k = fns[key](np.array([x]), np.array([y]), ("nngp", "ntk"))
                nngp, ntk = float(k.nngp[0, 0]), float(k.ntk[0, 0])
                print(f"{name} {depth} {beta!r} {x[0]!r} {x[1]!r} {y[0]!r} {y[1]!r} {nngp!r} {ntk!r}")


if __name__ == "__main__":
    main()
