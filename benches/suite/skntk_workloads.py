"""The ReLU limit-NTK workload in scikit-ntk (`skntk.NeuralTangentKernel`, a kernel for
scikit-learn's Gaussian processes), and the mapping of its conventions onto ntk's.

scikit-ntk's kernel with depth D and bias b computes, on raw inputs (no 1/n_0),
    Σ⁰ = XZᵀ,  K⁰ = Σ⁰ + b²,  for d = 1..D:  Σᵈ = 2·F(Σᵈ⁻¹),  Σ̇ᵈ = 2·Ḟ(Σᵈ⁻¹),
    Kᵈ = Kᵈ⁻¹·Σ̇ᵈ + Σᵈ + b²,   and returns K^D / ((D + 1)(b² + 1)),
where F and Ḟ are the arc-cosine maps E[relu(u)relu(v)] and E[relu'(u)relu'(v)] (σ_w² = 2, "c = 2").
Its bias enters K but is never added to Σ, so for b > 0 it is not the NTK of any network in
the Jacot et al. recursion; for b = 0, since F is positively homogeneous of degree 1,
    skntk(D, b = 0)(x, x') = n_0 · 2^D / (D + 1) · Θ^(D+1)(x, x')
with Θ^(L) ntk's NTK of L = D + 1 weight layers, β = 0 (σ_w = 1, NTK parameterization).
The benchmark therefore times scikit-ntk at D = 4 (the ReLU rows' L = 5) with b = 0 (the cost
does not depend on b) and compares it with ntk's β = 0 kernel rescaled by that factor.
scikit-ntk computes the NTK only (no NNGP), with arccos (it loses ~1e-8 near correlation 1).
"""
import numpy as np
from skntk import NeuralTangentKernel

DEPTH = 4  # nonlinearities: ntk's L = 5 weight layers


def limit_ntk(x):
    kernel = NeuralTangentKernel(depth=DEPTH, bias=0.0, bias_bounds="fixed")
    scale = 1.0 / (x.shape[1] * 2.0 ** DEPTH / (DEPTH + 1))  # back to ntk's Θ^(5), β = 0

    def run():
        return kernel(x)

    return run, lambda k: {"ntk": np.asarray(k) * scale}
