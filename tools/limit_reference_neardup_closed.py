#!/usr/bin/env python3
"""80-digit references of the closed-form limit kernels at near-duplicate and near-antipodal
pairs in n_0 = 5 dimensions, every closed-form activation, through the uniform (one-layer-kind)
spec and through per-layer architectures, for tests/limit_neardup_closed.rs (issue 17, part 1;
tools/limit_reference_neardup.py covers (leaky) ReLU on the uniform spec).

Run: python3 tools/limit_reference_neardup_closed.py > tests/data/limit_neardup_closed_mpmath.txt
(deterministic; about a minute).

Pairs: the points of tools/limit_reference_neardup.py (two seeded f64 points x in R^5 of squared
norms ~1 and ~3000; y = +-x + 10^-k |x| u rounded to f64, u mostly angular (al = 1) or mostly
radial (al = 1e-3); k = 1..15 for +x, k = 2, 5, 8, 11, 14 for -x), taken as exact.

Closed forms (E = E[s(u)s(v)], E' = E[s'(u)s'(v)], (u, v) ~ N(0, [[s1, c], [c, s2]])):
  identity: E = c, E' = 1
  leaky ReLU slope a: th = acos(c / sqrt(s1 s2)), k = (1-a)^2/(2 pi),
      E = k sqrt(s1 s2 - c^2) + ((1+a^2)/2 - k th) c,  E' = (1+a^2)/2 - k th
  erf: E = (2/pi) asin(2c / sqrt((1+2s1)(1+2s2))), E' = (4/pi) / sqrt((1+2s1)(1+2s2) - 4c^2)
       (Williams 1997)
  sin: E = exp(-(s1+s2)/2) sinh(c), E' = exp(-(s1+s2)/2) cosh(c); cos: the two swapped
  gelu: P = (1+s1)(1+s2), D = sqrt(P - c^2), t = asin(c / sqrt(P)),
      E = c/4 + (c t + (c^2 + s1 s2 D^2)/(P D)) / (2 pi),
      E' = 1/4 + t/(2 pi) + c (1/D^2 + (2+s1+s2)/P) / (2 pi D)
      (Tsuchida, Pearce & de Hoog 2020), checked on every run against the conditional 1-D
      quadrature of tools/limit_reference_gelu.py (which does not use the closed form).
At 80 digits 1 - rho >= 1e-40 keeps >= 40 correct digits in acos and sqrt(s1 s2 - c^2).

Uniform spec ("u" lines): Sigma^(1) = x.y/5 + beta^2, Theta^(1) = Sigma^(1),
  Sigma^(l+1) = E + beta^2, SigmaDot^(l+1) = E', Theta^(l+1) = Theta^(l) SigmaDot^(l+1) + Sigma^(l+1).
Per-layer architectures ("a" lines; neural-tangents' stax.Dense kernel_fn, as in
src/kernel/limit/spec.rs), weight layer l with w_l = sigma_w^2, b_l = sigma_b^2, n_l its input width:
  Sigma^(1) = w_0 x.y/5 + b_0, Sigma^(l+1) = w_l E + b_l, SigmaDot^(l+1) = w_l E',
  NTK: Theta^(1) = Sigma^(1), Theta^(l+1) = Theta^(l) SigmaDot^(l+1) + Sigma^(l+1);
  standard: Theta^(1) = x.y + 1, Theta^(l+1) = Theta^(l) SigmaDot^(l+1) + n_l E + 1.
  The architectures (ARCHS, same table in the test): per layer (activation, sigma_w, sigma_b0),
  sigma_b = beta * sigma_b0; depth L takes the first L layers (the last one's activation unused).
Output, one line per (path, activation or architecture, case, beta, depth):
  path name case depth beta x0..x4 y0..y4 Sigma SigmaDot Theta
"""
import os
import sys

import mpmath as mp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The same pairs (seed 17) and the same leaky-ReLU closed form as the ReLU-only reference.
from limit_reference_neardup import cases, expect as relu  # noqa: E402

mp.mp.dps = 80
N0 = 5

# name: (parameterization, widths n_0..n_6, [(activation, sigma_w, sigma_b0)] * 6)
ARCHS = {
    "relu_ntk": ("ntk", [5, 7, 6, 8, 5, 9, 3],
                 [("relu", 1.3, 0.3), ("relu", 0.8, 0.0), ("relu", 1.1, 0.5),
                  ("relu", 1.5, 0.2), ("relu", 0.9, 0.1), ("relu", 1.2, 0.4)]),
    "leaky_std": ("std", [5, 7, 6, 8, 5, 9, 3],
                  [("leaky0.2", 1.4, 0.3), ("relu", 0.7, 0.2), ("leaky-0.5", 1.2, 0.0),
                   ("leaky0.2", 1.0, 0.4), ("relu", 1.3, 0.1), ("relu", 1.1, 0.2)]),
    "mixed_ntk": ("ntk", [5, 7, 6, 8, 5, 9, 3],
                  [("erf", 1.2, 0.3), ("relu", 1.4, 0.1), ("gelu", 0.9, 0.2),
                   ("leaky0.2", 1.3, 0.0), ("sin", 1.1, 0.3), ("relu", 1.0, 0.2)]),
    "mixed_std": ("std", [5, 7, 6, 8, 5, 9, 3],
                  [("relu", 1.3, 0.2), ("identity", 0.8, 0.1), ("relu", 1.2, 0.3),
                   ("cos", 0.9, 0.2), ("erf", 1.1, 0.0), ("relu", 1.0, 0.1)]),
}
UNIFORM = ["identity", "erf", "gelu", "sin", "cos"]


def cov(x, y):
    return mp.fsum(mp.mpf(a) * mp.mpf(b) for a, b in zip(x, y)) / N0


def gelu(s1, s2, c):
    p = (1 + s1) * (1 + s2)
    d2 = p - c * c
    d = mp.sqrt(d2)
    t = mp.asin(c / mp.sqrt(p))
    e = c / 4 + (c * t + (c * c + s1 * s2 * d2) / (p * d)) / (2 * mp.pi)
    ed = mp.mpf(1) / 4 + t / (2 * mp.pi) + c * (1 / d2 + (2 + s1 + s2) / p) / (2 * mp.pi * d)
    return e, ed


def expect(act, s1, s2, c):
    if act == "identity":
        return c, mp.mpf(1)
    if act == "relu":
        return relu(mp.mpf(0), s1, s2, c)
    if act.startswith("leaky"):
        return relu(mp.mpf(act[5:]), s1, s2, c)
    if act == "erf":
        q = (1 + 2 * s1) * (1 + 2 * s2)
        return 2 / mp.pi * mp.asin(2 * c / mp.sqrt(q)), 4 / mp.pi / mp.sqrt(q - 4 * c * c)
    if act in ("sin", "cos"):
        m = mp.exp(-(s1 + s2) / 2)
        sh, ch = m * mp.sinh(c), m * mp.cosh(c)
        return (sh, ch) if act == "sin" else (ch, sh)
    if act == "gelu":
        return gelu(s1, s2, c)
    raise ValueError(act)


def gelu_check():
    """The GELU closed form against the conditional quadrature of tools/limit_reference_gelu.py."""
    old = mp.mp.dps
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    import limit_reference_gelu as g  # sets mp.mp.dps = 40 on import
    mp.mp.dps = 40
    for s1, s2, rho in ((0.2, 0.3, "0.999999"), (2.0, 3.5, "-0.9"), (600.0, 601.0, "0.9999")):
        s1, s2 = mp.mpf(s1), mp.mpf(s2)
        c = mp.mpf(rho) * mp.sqrt(s1 * s2)
        want = g.expect(s1, s2, c)
        got = gelu(s1, s2, c)
        for a, b in zip(got, want):
            assert abs(a - b) <= mp.mpf(10) ** -35 * abs(b), (s1, s2, rho, a, b)
    mp.mp.dps = old


def line(path, name, case, depth, beta, x, y, vals):
    pts = " ".join(repr(v) for v in list(x) + list(y))
    vs = " ".join(mp.nstr(v, 30) for v in vals)
    return f"{path} {name} {case} {depth} {beta!r} {pts} {vs}"


def uniform(act, case, x, y, beta):
    b2 = mp.mpf(beta) ** 2
    s1, s2, c = cov(x, x) + b2, cov(y, y) + b2, cov(x, y) + b2
    th = c
    for depth in range(2, 7):
        e, ed = expect(act, s1, s2, c)
        s1, s2, c = expect(act, s1, s1, s1)[0] + b2, expect(act, s2, s2, s2)[0] + b2, e + b2
        th = th * ed + c
        print(line("u", act, case, depth, beta, x, y, (c, ed, th)))


def arch(name, case, x, y, beta):
    param, widths, layers = ARCHS[name]
    std = param == "std"

    def scales(l):
        _, sw, sb = layers[l]
        return mp.mpf(sw) ** 2, (mp.mpf(beta) * mp.mpf(sb)) ** 2

    w0, b0 = scales(0)
    s1, s2, c = w0 * cov(x, x) + b0, w0 * cov(y, y) + b0, w0 * cov(x, y) + b0
    th = N0 * cov(x, y) + 1 if std else c
    for l in range(5):
        act = layers[l][0]
        wn, bn = scales(l + 1)
        e, ed = expect(act, s1, s2, c)
        e1, e2 = expect(act, s1, s1, s1)[0], expect(act, s2, s2, s2)[0]
        s1, s2, c = wn * e1 + bn, wn * e2 + bn, wn * e + bn
        sd = wn * ed
        th = th * sd + (widths[l + 1] * e + 1 if std else c)
        print(line("a", name, case, l + 2, beta, x, y, (c, sd, th)))


def main():
    gelu_check()
    assert mp.mp.dps == 80
    print("# path name case depth beta x0..x4 y0..y4 Sigma SigmaDot Theta "
          "(tools/limit_reference_neardup_closed.py, mpmath 80 digits)")
    cs = cases()
    for act in UNIFORM:
        for case, x, y in cs:
            for beta in (0.0, 0.3):
                uniform(act, case, x, y, beta)
    for name in ARCHS:
        for case, x, y in cs:
            for beta in (0.0, 1.0):
                arch(name, case, x, y, beta)


if __name__ == "__main__":
    main()
