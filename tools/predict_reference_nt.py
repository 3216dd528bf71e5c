"""Reference values of the trained ensemble's predictive law from neural-tangents 0.6.5.

Writes tests/data/predict_nt.txt (format: see `write_text`), read by tests/predict_reference.rs (CI machines have no jax).
Run with the project's venv:  /work/venv-nt/bin/python tools/predict_reference_nt.py

Each case: random inputs (seeded), an MLP kernel from neural-tangents' stax (ReLU or Erf, depth
2-4, beta in 0.05..0.5), its kernels (stored so that ntk gets exactly the same inputs), targets
y (N x k), a ridge (diag_reg, absolute or relative), and the outputs of
predict.gradient_descent_mse_ensemble(...)(t, x_test, get, compute_cov=True) for get = "ntk" and
"nngp" at several times t, including t = inf (the eigendecomposition path) and t = None (the
Cholesky path of gp_inference).

Time convention: neural-tangents divides the kernel by y_train.size = N*k, ntk by N: ntk's time t
is neural-tangents' t*k. The times stored are ntk's; neural-tangents is called with t*k.
"""
import os
import sys

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import neural_tangents as nt  # noqa: E402
from neural_tangents import stax  # noqa: E402

TIMES = [0.0, 0.3, 2.0, 15.0, 120.0, float("inf")]


def mlp(act, depth, beta):
    layers = []
    for _ in range(depth - 1):
        layers += [stax.Dense(64, W_std=1.0, b_std=beta, parameterization="ntk"),
                   {"relu": stax.Relu, "erf": stax.Erf}[act]()]
    layers += [stax.Dense(1, W_std=1.0, b_std=beta, parameterization="ntk")]
    return stax.serial(*layers)[2]


def case(idx, rng):
    n = int(rng.integers(3, 33))
    m = int(rng.integers(2, 9))
    k = int(rng.choice([1, 1, 2, 3]))
    d = int(rng.integers(2, 7))
    act = ["relu", "erf"][idx % 2]
    depth = int(rng.integers(2, 5))
    beta = float(rng.uniform(0.05, 0.5))
    reg_kind = ["none", "relative", "absolute"][idx % 3]
    diag_reg = {"none": 0.0, "relative": float(10 ** rng.uniform(-4, -1)),
                "absolute": float(10 ** rng.uniform(-4, -1))}[reg_kind]
    x_train = rng.normal(size=(n, d))
    x_test = rng.normal(size=(m, d))
    y = rng.normal(size=(n, k))
    kfn = mlp(act, depth, beta)
    ktt = kfn(x_train, None, ("nngp", "ntk"))
    ktx = kfn(x_test, x_train, ("nngp", "ntk"))
    kss = kfn(x_test, None, "nngp")
    predict = nt.predict.gradient_descent_mse_ensemble(
        kfn, x_train, jnp.asarray(y), diag_reg=diag_reg,
        diag_reg_absolute_scale=(reg_kind == "absolute"))
    out = {}
    for get in ("ntk", "nngp"):
        res = []
        for t in TIMES:
            g = predict(t * k, x_test, get, compute_cov=True)
            res.append({"t": "inf" if np.isinf(t) else t,
                        "mean": np.asarray(g.mean).tolist(),
                        "cov": np.asarray(g.covariance).tolist()})
        g = predict(None, x_test, get, compute_cov=True)
        res.append({"t": "none", "mean": np.asarray(g.mean).tolist(),
                    "cov": np.asarray(g.covariance).tolist()})
        out[get] = res
    return {
        "name": f"case{idx}_{act}_L{depth}_N{n}_M{m}_k{k}_{reg_kind}",
        "n": n, "m": m, "k": k,
        "ridge": diag_reg, "ridge_relative": reg_kind == "relative",
        "theta_train": np.asarray(ktt.ntk).tolist(),
        "sigma_train": np.asarray(ktt.nngp).tolist(),
        "theta_test_train": np.asarray(ktx.ntk).tolist(),
        "sigma_test_train": np.asarray(ktx.nngp).tolist(),
        "sigma_test_test": np.asarray(kss).tolist(),
        "y": y.tolist(),
        "laws": out,
    }


def write_text(path, header, cases):
    """Line format (whitespace separated, floats in round-trip repr):
    case NAME N M K RIDGE RELATIVE(0|1)
    mat NAME ROWS COLS v_00 v_01 ... (row-major)
    law GET T   (T a float, inf, or none) followed by mat mean and mat cov lines
    end"""
    def mat(f, name, a):
        a = np.atleast_2d(np.asarray(a, dtype=np.float64))
        f.write(f"mat {name} {a.shape[0]} {a.shape[1]} " + " ".join(repr(float(v)) for v in a.ravel()) + "\n")
    with open(path, "w") as f:
        f.write(header + "\n")
        for c in cases:
            f.write(f"case {c['name']} {c['n']} {c['m']} {c['k']} {c['ridge']!r} {int(c['ridge_relative'])}\n")
            for key in ("theta_train", "sigma_train", "theta_test_train", "sigma_test_train",
                        "sigma_test_test", "y"):
                mat(f, key, c[key])
            for get, res in c["laws"].items():
                for r in res:
                    f.write(f"law {get} {r['t']}\n")
                    mean = np.asarray(r["mean"]).reshape(c["m"], c["k"])
                    mat(f, "mean", mean)
                    mat(f, "cov", r["cov"])
            f.write("end\n")


def main():
    rng = np.random.default_rng(20191)
    cases = [case(i, rng) for i in range(24)]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "tests", "data", "predict_nt.txt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    header = (f"# tools/predict_reference_nt.py: neural-tangents {nt.__version__}, jax "
              f"{jax.__version__}; ntk time t = neural-tangents time t*k")
    write_text(path, header, cases)
    print(f"wrote {len(cases)} cases to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
