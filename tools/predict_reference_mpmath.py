"""50-digit references of the trained ensemble's predictive law on small cases (N <= 6).

Writes tests/data/predict_mpmath.txt (same line format as tools/predict_reference_nt.py), read by
tests/predict_reference.rs. Run: /work/venv-nt/bin/python tools/predict_reference_mpmath.py

The kernels are random but valid: the joint (train + test) NNGP kernel is Sigma = F F^T / r + 0.05 I
and the NTK is Theta = G G^T / r + Sigma (F, G random features), rounded to float64; mpmath then
works at 50 digits on those exact float64 values. The law is computed by a route independent of
ntk's (which uses an eigendecomposition): with K = Theta_xx + ridge I,
  Psi_t = K^{-1} (I - expm(-K t / N))     (mpmath expm and inverse),
  mean  = Theta_*x Psi_t y,
  cov   = Sigma_** + Theta_*x Psi_t Sigma_xx Psi_t Theta_x* - (Theta_*x Psi_t Sigma_x* + transpose)
(the NTK law, time normalized by N as in ntk's flow). The NNGP law is the same formula with
Theta := Sigma when ridge = 0 (checking the collapse to Sigma_** - Sigma_*x K^{-1}(I - e^{-2Kt/N})
Sigma_x* that ntk uses) and, with a ridge, neural-tangents' convention
Sigma_** - Sigma_*x K^{-1}(I - expm(-2 K t / N)) Sigma_x*, K = Sigma_xx + ridge I.
"""
import os

import mpmath as mp
import numpy as np

mp.mp.dps = 50
TIMES = [0.0, 0.7, 5.0, 40.0, float("inf")]


def m2(a):
    return mp.matrix([[mp.mpf(float(v)) for v in row] for row in a])


def psi(K, n, t):
    inv = mp.inverse(K)
    if np.isinf(t):
        return inv
    return inv * (mp.eye(K.rows) - mp.expm(-K * (mp.mpf(t) / n)))


def law(kind, th, sg, n, m, y, ridge, t):
    idx_x, idx_t = list(range(n)), list(range(n, n + m))
    sub = lambda a, r, c: mp.matrix([[a[i, j] for j in c] for i in r])  # noqa: E731
    S_xx, S_tx, S_tt = sub(sg, idx_x, idx_x), sub(sg, idx_t, idx_x), sub(sg, idx_t, idx_t)
    if kind == "ntk" or ridge == 0:
        Tm = th if kind == "ntk" else sg
        T_xx, T_tx = sub(Tm, idx_x, idx_x), sub(Tm, idx_t, idx_x)
        K = T_xx + ridge * mp.eye(n)
        P = psi(K, n, t)
        mean = T_tx * P * y
        A = T_tx * P
        cross = A * S_tx.T
        cov = S_tt + A * S_xx * A.T - cross - cross.T
    else:
        K = S_xx + ridge * mp.eye(n)
        P = psi(K, n, 2 * t if not np.isinf(t) else t)
        mean = S_tx * psi(K, n, t) * y
        cov = S_tt - S_tx * P * S_tx.T
    return mean, cov


def main():
    rng = np.random.default_rng(6)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "tests", "data", "predict_mpmath.txt")
    with open(path, "w") as f:
        f.write(f"# tools/predict_reference_mpmath.py: mpmath {mp.__version__}, {mp.mp.dps} digits\n")

        def mat(name, a):
            a = np.asarray(a, dtype=np.float64)
            f.write(f"mat {name} {a.shape[0]} {a.shape[1]} "
                    + " ".join(repr(float(v)) for v in a.ravel()) + "\n")

        def mpmat(name, a):
            f.write(f"mat {name} {a.rows} {a.cols} "
                    + " ".join(repr(float(a[i, j])) for i in range(a.rows) for j in range(a.cols))
                    + "\n")

        for c in range(12):
            n = int(rng.integers(1, 7))
            m = int(rng.integers(1, 5))
            k = int(rng.choice([1, 2]))
            r = int(rng.integers(2, 9))
            ridge_kind = ["none", "absolute", "relative"][c % 3]
            ridge_in = {"none": 0.0, "absolute": 0.01, "relative": 0.05}[ridge_kind]
            F = rng.normal(size=(n + m, r))
            G = rng.normal(size=(n + m, r))
            sg = F @ F.T / r + 0.05 * np.eye(n + m)
            th = G @ G.T / r + sg
            sg = (sg + sg.T) / 2
            th = (th + th.T) / 2
            y = rng.normal(size=(n, k))
            f.write(f"case mp{c}_N{n}_M{m}_k{k}_{ridge_kind} {n} {m} {k} {ridge_in!r} "
                    f"{int(ridge_kind == 'relative')}\n")
            mat("theta_train", th[:n, :n])
            mat("sigma_train", sg[:n, :n])
            mat("theta_test_train", th[n:, :n])
            mat("sigma_test_train", sg[n:, :n])
            mat("sigma_test_test", sg[n:, n:])
            mat("y", y)
            thm, sgm, ym = m2(th), m2(sg), m2(y)
            for kind in ("ntk", "nngp"):
                base = thm if kind == "ntk" else sgm
                if ridge_kind == "relative":
                    ridge = mp.mpf(ridge_in) * sum(base[i, i] for i in range(n)) / n
                else:
                    ridge = mp.mpf(ridge_in)
                for t in TIMES:
                    mean, cov = law(kind, thm, sgm, n, m, ym, ridge, t)
                    f.write(f"law {kind} {'inf' if np.isinf(t) else t}\n")
                    mpmat("mean", mean)
                    mpmat("cov", cov)
            f.write("end\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
