"""Writes nt_reference.json: limit NNGP and NTK kernels from neural-tangents 0.6.5 (JAX 0.4.23,
float64), the independent reference of tests/test_neural_tangents.py (CI has no JAX, so the
values are committed). Run with the project's venv:

    /work/venv-nt/bin/python bindings/python/tests/reference/make_nt_reference.py

Architecture, as ntk.Network([3, 512, 512, 1], act, beta=0.1): stax.serial(Dense(512, W_std=1,
b_std=0.1, parameterization="ntk"), act, Dense(512, ...), act, Dense(1, ...)), whose infinite
width kernels are Sigma^(1) = x.x'/3 + 0.01, then the recursion of Jacot et al.
"""

import json
import os

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import neural_tangents as nt  # noqa: E402
from neural_tangents import stax  # noqa: E402

BETA = 0.1
X = [[0.3 * i - 0.7, 0.5 * ((i * 7) % 5) - 1.0, 1.1 - 0.2 * i] for i in range(6)]
X2 = [[-0.4, 0.9, 0.25], [1.3, -0.2, 0.6]]


def kernels(act):
    layers = []
    for _ in range(2):
        layers += [stax.Dense(512, W_std=1.0, b_std=BETA, parameterization="ntk"), act]
    layers.append(stax.Dense(1, W_std=1.0, b_std=BETA, parameterization="ntk"))
    _, _, kernel_fn = stax.serial(*layers)
    k = kernel_fn(jnp.array(X), jnp.array(X2), ("nngp", "ntk"))
    return {"nngp": k.nngp.tolist(), "ntk": k.ntk.tolist()}


out = {
    "generator": "neural-tangents %s, jax %s, float64" % (nt.__version__, jax.__version__),
    "widths": [3, 512, 512, 1],
    "beta": BETA,
    "x1": X,
    "x2": X2,
    "erf": kernels(stax.Erf()),
    "relu": kernels(stax.Relu()),
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nt_reference.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("wrote", path)
