"""Per-layer architectures (issue #13) against neural-tangents 0.6.5: writes tests/data/arch_nt.txt.

Run: /work/venv-nt/bin/python tools/arch_reference.py > tests/data/arch_nt.txt

For 36 random fully connected networks (depth 1-6, per-layer W_std in [0.5, 2.5] and b_std in
[0, 1], mixed activations per hidden layer, both parameterizations, 1 or 3 outputs) it writes
the stax.serial(Dense, act, ..., Dense) network's parameters (drawn by neural-tangents' init_fn),
its outputs f(X), its parameter Jacobian (ntk's theta order: W^(l) as n_{l+1} x n_l row-major,
then b^(l)), its empirical NTK (full, N*K x N*K, empirical_ntk_fn with trace_axes=()) and the
limit NNGP and NTK of kernel_fn. Format, one record per line:
  arch NAME PARAM DEPTH K N RELU_DIAG_UNRELIABLE
  widths n_0 ... n_L
  layer L W_STD B_STD ACT ACT_PARAM       (ACT: relu leaky erf gelu sin identity none)
  mat NAME ROWS COLS v...                 (row-major, repr() doubles)
"""
import sys

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import numpy as np
import neural_tangents as nt
from neural_tangents import stax

ACTS = ["relu", "leaky", "erf", "gelu", "sin", "identity"]


def act_layer(name, param):
    if name == "relu":
        return stax.Relu()
    if name == "leaky":
        return stax.LeakyRelu(param)
    if name == "erf":
        return stax.Erf()
    if name == "gelu":
        return stax.Gelu(approximate=False)
    if name == "sin":
        return stax.Sin()
    if name == "identity":
        return stax.Identity()
    raise ValueError(name)


def mat(name, a):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[None, :]
    print(f"mat {name} {a.shape[0]} {a.shape[1]} " + " ".join(repr(float(v)) for v in a.ravel()))


def main():
    rng = np.random.default_rng(20260213)
    print("# tools/arch_reference.py: neural-tangents %s, jax %s" % (nt.__version__, jax.__version__))
    ncases = 36
    for c in range(ncases):
        depth = 1 + c % 6
        param = "ntk" if (c // 6) % 2 == 0 else "standard"
        k = 1 if (c // 12) % 2 == 0 else 3
        n0 = int(rng.integers(2, 6))
        widths = [n0] + [int(rng.integers(3, 8)) for _ in range(depth - 1)] + [k]
        n = 5
        layers = []
        stack = []
        relu_like = False
        for l in range(depth):
            sw = float(rng.uniform(0.5, 2.5))
            sb = float(rng.uniform(0.0, 1.0)) if rng.random() > 0.15 else 0.0
            if l + 1 < depth:
                act = ACTS[int(rng.integers(0, len(ACTS)))]
                ap = float(rng.uniform(-0.5, 0.5)) if act == "leaky" else 0.0
                relu_like |= act in ("relu", "leaky")
            else:
                act, ap = "none", 0.0
            layers.append((sw, sb, act, ap))
            stack.append(stax.Dense(widths[l + 1], W_std=sw, b_std=sb, parameterization=param))
            if act != "none":
                stack.append(act_layer(act, ap))
        init_fn, apply_fn, kernel_fn = stax.serial(*stack)
        x = rng.normal(size=(n, n0))
        if c % 4 == 1:
            x[3] = x[1]  # a duplicate point: correlation exactly 1 off the diagonal
        _, params = init_fn(jax.random.PRNGKey(c), (-1, n0))
        dense = [p for p in params if len(p) == 2]
        assert len(dense) == depth
        theta = []
        for (W, b) in dense:
            theta.append(np.asarray(W).T.ravel())
            theta.append(np.asarray(b).ravel())
        theta = np.concatenate(theta)
        f = apply_fn(params, x)
        jac = jax.jacrev(apply_fn)(params, x)
        jcols = []
        for p, jp in zip(params, jac):
            if len(p) != 2:
                continue
            jw, jb = jp
            # jw: (N, K, n_in, n_out) -> (N*K, n_out*n_in) in ntk's order.
            jw = np.asarray(jw).transpose(0, 1, 3, 2).reshape(n * k, -1)
            jb = np.asarray(jb).reshape(n * k, -1)
            jcols += [jw, jb]
        jmat = np.concatenate(jcols, axis=1)
        entk = nt.empirical_ntk_fn(apply_fn, trace_axes=(), vmap_axes=0)(x, None, params)
        entk = np.asarray(entk).transpose(0, 2, 1, 3).reshape(n * k, n * k)
        kern = kernel_fn(x, None, ("nngp", "ntk"))
        name = f"case{c}_{param}_L{depth}_k{k}"
        print(f"arch {name} {param} {depth} {k} {n} {int(relu_like)}")
        print("widths " + " ".join(str(w) for w in widths))
        for l, (sw, sb, act, ap) in enumerate(layers):
            print(f"layer {l} {sw!r} {sb!r} {act} {ap!r}")
        mat("x", x)
        mat("theta", theta)
        mat("f", f)
        mat("jac", jmat)
        mat("entk", entk)
        mat("nngp", kern.nngp)
        mat("ntk", kern.ntk)


if __name__ == "__main__":
    main()
