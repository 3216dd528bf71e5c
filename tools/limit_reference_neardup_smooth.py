#!/usr/bin/env python3
"""40-digit references of the tanh and softplus limit kernels (no closed form: the library's
numerical path) at near-duplicate pairs in n_0 = 5, for tests/limit_neardup_smooth.rs
(issue 17, part 1).

Run: python3 tools/limit_reference_neardup_smooth.py [PROCS] > tests/data/limit_neardup_smooth_mpmath.txt
     python3 tools/limit_reference_neardup_smooth.py --antipodal > tests/data/limit_nearanti_smooth_mpmath.txt
(deterministic; about 8 minutes on 2 busy cores).

Pairs: the n1 points of tools/limit_reference_neardup.py (x of squared norm ~1,
y = x + 10^-k |x| u, u mostly angular or mostly radial, k = 4, 8, 12, 15), taken as
exact f64; beta = 0 and 0.3; depths 2-6. Every layer's pair has 1 - rho^2 <= 1e-6 (asserted),
so E = E[s(u)s(v)] and E' = E[s'(u)s'(v)] come from the conditional form of
tools/limit_reference_rho.py, E = int phi(z) f(r1 z) G(z) dz, G(z) = sum_{j<=4} tau^(2j)
g^(2j)(m)/(2^j j!) (remainder < 1e-26 here), with the derivatives of tanh and softplus exact
(polynomials in tanh(m) or in the logistic s(m), d/dm = (1 - t^2) d/dt or s(1 - s) d/ds) instead
of mp.taylor's numerical ones (checked against mp.taylor on every run), and the per-point
E[f(u)^2] by tanh-sinh quadrature split as in that file. Uniform spec: Sigma^(1) = x.y/5 + beta^2,
Sigma^(l+1) = E + beta^2, SigmaDot^(l+1) = E', Theta^(l+1) = Theta^(l) SigmaDot^(l+1) + Sigma^(l+1).
Output, one line per (activation, case, beta, depth):
  name case depth beta x0..x4 y0..y4 Sigma SigmaDot Theta

Near-antipodal pairs (`--antipodal`, > tests/data/limit_nearanti_smooth_mpmath.txt): the same x,
y' = -(x + 10^-k |x| u) = -y exactly (negation is exact in f64), same k, u, beta, depths.
There the layers' pairs are not all near-duplicates (for softplus the second layer's rho is
~0.8; with beta = 0.3 the first layer's rho is ~-0.4), so every layer's E, E' (and the
per-point E[f^2] of the next variances) come from Mehler's series with the 40-digit Hermite
coefficients of tools/limit_reference_rho_wide.py (KMAX_ANTI terms, panels of width 1/2: these
variances are <= ~1.5, where the coefficients fall fast), accepted only when its
Cauchy-Schwarz/Parseval truncation bound is below 1e-26 of the scale (asserted). Independent
check wherever a layer's pair has rho ~ -1 (beta = 0: the first layer, and every layer for the
odd tanh), by reflection onto the near-duplicate pair (u, -v) of covariance -c, whose
expectations come from the nested conditional form of limit_reference_rho_wide.py:
  tanh (odd, tanh' even):  E = -E_dup[tanh tanh],  E' = E_dup[tanh' tanh'];
  softplus: sp(v) = sp(-v) + v and, by Gaussian integration by parts,
    E[sp(u) v] = Cov(u, v) E[sp'(u)] = c E[logistic(u)] = c / 2 (logistic(u) - 1/2 is odd), so
    E = E_dup[sp sp] + c / 2;  logistic(v) = 1 - logistic(-v) gives E' = 1/2 - E_dup[lg lg].
The two must agree to 1e-25 of the scale (asserted on every such layer; 48 layers, worst
9.7e-27). 160 lines in 1316 s on one process (nice'd, sharing the 2 cores with another mpmath
job and a cargo build, 2026-12-03; with gmpy2), no brute-force conditional quadrature per layer.
"""
import os
import sys

import mpmath as mp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from limit_reference_neardup import cases  # noqa: E402  (the same pairs, seed 17)
import limit_reference_rho as rho  # noqa: E402  (ACTS, splits)

mp.mp.dps = 40
N0 = 5
KS = (4, 8, 12, 15)


def poly_derivs(p0, dvar, n):
    """Coefficient lists of d^j/dm P_0(t) for j = 0..n, with dt/dm = dvar(t) (a polynomial)."""
    def mul(a, b):
        out = [0] * (len(a) + len(b) - 1)
        for i, u in enumerate(a):
            for j, v in enumerate(b):
                out[i + j] += u * v
        return out
    ps = [p0]
    for _ in range(n):
        p = ps[-1]
        d = [i * p[i] for i in range(1, len(p))] or [0]
        ps.append(mul(d, dvar))
    return ps


def horner(p, t):
    out = mp.mpf(0)
    for c in reversed(p):
        out = out * t + c
    return out


# f, f' as polynomials in the variable v(m), dv/dm, and v(m).
TANH = ([0, 1], [1, 0, -1], mp.tanh)              # tanh = t, tanh' = 1 - t^2, dt/dm = 1 - t^2
SIGM = ([0, 1], [0, 1, -1], lambda m: 1 / (1 + mp.exp(-m)))  # s, s' = s - s^2
DERIVS = {
    ("tanh", 0): (poly_derivs(TANH[0], TANH[1], 8), TANH[2]),
    ("tanh", 1): (poly_derivs(TANH[1], TANH[1], 8), TANH[2]),
    ("softplus", 1): (poly_derivs(SIGM[0], SIGM[1], 8), SIGM[2]),
}


def taylor(name, which, m):
    """[f^(j)(m) / j!] for j = 0..8."""
    if (name, which) == ("softplus", 0):
        s = poly_derivs(SIGM[0], SIGM[1], 7)  # f' = s, so f^(j) = s^(j-1)
        v = SIGM[2](m)
        out = [rho.softplus(m)] + [horner(s[j - 1], v) for j in range(1, 9)]
    else:
        ps, var = DERIVS[(name, which)]
        v = var(m)
        out = [horner(p, v) for p in ps]
    return [out[j] / mp.factorial(j) for j in range(9)]


def conditional(name, which, s11, s22, s12):
    """tools/limit_reference_rho.py's conditional form with exact derivatives."""
    f = rho.ACTS[name][which]
    centre = rho.ACTS[name][2]
    r1 = mp.sqrt(s11)
    b = s12 / r1
    t2 = (s11 * s22 - s12 * s12) / s11
    assert t2 <= mp.mpf("1e-6") * s22

    def G(z):
        d = taylor(name, which, b * z)
        out, fact = d[0], mp.mpf(1)
        for j in range(1, 5):
            fact *= 2 * j - 1
            out += d[2 * j] * t2 ** j * fact
        return out

    pts = sorted(set(rho.splits(r1, 0, centre)) | set(rho.splits(abs(b), 0, centre)))
    return mp.quad(lambda z: mp.npdf(z) * f(r1 * z) * G(z), pts)


def self_check():
    for name in ("tanh", "softplus"):
        for which in (0, 1):
            for m in (mp.mpf("-1.3"), mp.mpf("0.2"), mp.mpf("2.5")):
                want = mp.taylor(rho.ACTS[name][which], m, 8)
                got = taylor(name, which, m)
                for j in range(9):
                    assert abs(got[j] - want[j]) <= mp.mpf(10) ** -25 * (1 + abs(want[j])), \
                        (name, which, m, j, got[j], want[j])


def cov(x, y):
    return mp.fsum(mp.mpf(a) * mp.mpf(b) for a, b in zip(x, y)) / N0


def diag(name, s):
    f, _, centre = rho.ACTS[name]
    r = mp.sqrt(s)
    return mp.quad(lambda z: mp.npdf(z) * f(r * z) ** 2, rho.splits(r, 0, centre))


def lines_for(job):
    mp.mp.dps = 40
    name, case, x, y, beta = job
    b2 = mp.mpf(beta) ** 2
    s1, s2, c = cov(x, x) + b2, cov(y, y) + b2, cov(x, y) + b2
    th = c
    out = []
    pts = " ".join(repr(v) for v in list(x) + list(y))
    for depth in range(2, 7):
        assert 1 - c * c / (s1 * s2) <= mp.mpf("1e-6"), (name, case, depth)
        e, ed = conditional(name, 0, s1, s2, c), conditional(name, 1, s1, s2, c)
        s1, s2, c = diag(name, s1) + b2, diag(name, s2) + b2, e + b2
        th = th * ed + c
        vs = " ".join(mp.nstr(v, 30) for v in (c, ed, th))
        out.append(f"{name} {case} {depth} {beta!r} {pts} {vs}")
    return out


def jobs():
    out = []
    for name in ("tanh", "softplus"):
        for case, x, y in cases():
            p = case.split("_")
            if p[0] == "n1" and p[2] == "neardup" and int(p[3][1:]) in KS:
                for beta in (0.0, 0.3):
                    out.append((name, case, x, y, beta))
    return out


def main():
    mp.mp.dps = 40
    self_check()
    procs = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    print("# name case depth beta x0..x4 y0..y4 Sigma SigmaDot Theta "
          "(tools/limit_reference_neardup_smooth.py, mpmath 40 digits)")
    js = jobs()
    if procs > 1:
        import multiprocessing
        with multiprocessing.Pool(procs) as pool:
            res = pool.map(lines_for, js)
    else:
        res = map(lines_for, js)
    for lines in res:
        print("\n".join(lines), flush=True)




# ---------------------------------------------------------------- near-antipodal pairs
KMAX_ANTI = 240
PANEL_ANTI = mp.mpf(1) / 2


def anti_jobs():
    out = []
    for name, case, x, y, beta in jobs():
        out.append((name, case.replace("neardup", "nearanti"), x, [-v for v in y], beta))
    return out


def mehler_anti(wide, name, which, s1, s2, c):
    """(E, scale, E[f(u)^2], E[f(v)^2]) by Mehler's series; asserts the bound is reached."""
    a, ea = wide.coef(name, which, s1, KMAX_ANTI, PANEL_ANTI)
    b, eb = wide.coef(name, which, s2, KMAX_ANTI, PANEL_ANTI)
    m = wide.mehler_from(a, ea, b, eb, c / mp.sqrt(s1 * s2))
    assert m is not None, (name, which, s1, s2, c)
    return m[0], m[2], ea, eb


def reflected(wide, name, s1, s2, c):
    """(E, E') of a pair with rho ~ -1 from the near-duplicate pair (u, -v)."""
    d0 = wide.nested(name, 0, s1, s2, -c)
    d1 = wide.nested(name, 1, s1, s2, -c)
    if name == "tanh":
        return -d0, d1
    assert name == "softplus"
    return d0 + c / 2, mp.mpf(1) / 2 - d1


def lines_anti(job, stats):
    import limit_reference_rho_wide as wide
    mp.mp.dps = 40
    name, case, x, y, beta = job
    b2 = mp.mpf(beta) ** 2
    s1, s2, c = cov(x, x) + b2, cov(y, y) + b2, cov(x, y) + b2
    th = c
    out = []
    pts = " ".join(repr(v) for v in list(x) + list(y))
    for depth in range(2, 7):
        e, sc0, d1, d2 = mehler_anti(wide, name, 0, s1, s2, c)
        ed, sc1, _, _ = mehler_anti(wide, name, 1, s1, s2, c)
        if 1 - c * c / (s1 * s2) <= mp.mpf("1e-6") and c < 0:
            re, red = reflected(wide, name, s1, s2, c)
            dev = max(abs(re - e) / sc0, abs(red - ed) / sc1)
            assert dev < mp.mpf(10) ** -25, (name, case, depth, beta, e, re, ed, red)
            stats["checked"] += 1
            stats["worst"] = max(stats["worst"], dev)
        s1, s2, c = d1 + b2, d2 + b2, e + b2
        th = th * ed + c
        vs = " ".join(mp.nstr(v, 30) for v in (c, ed, th))
        out.append(f"{name} {case} {depth} {beta!r} {pts} {vs}")
    return out


def main_anti():
    import time
    t0 = time.time()
    mp.mp.dps = 40
    stats = {"checked": 0, "worst": mp.mpf(0)}
    print("# name case depth beta x0..x4 y0..y4 Sigma SigmaDot Theta "
          "(tools/limit_reference_neardup_smooth.py --antipodal, mpmath 40 digits)")
    for job in anti_jobs():
        print("\n".join(lines_anti(job, stats)), flush=True)
    msg = (f"# {stats['checked']} layers with rho ~ -1 checked by reflection, worst "
           f"disagreement {mp.nstr(stats['worst'], 3)} of the scale; generated in "
           f"{time.time() - t0:.0f} s (one process)")
    print(msg)
    print(msg, file=sys.stderr)


if __name__ == "__main__":
    if sys.argv[1:] == ["--antipodal"]:
        main_anti()
    else:
        main()
