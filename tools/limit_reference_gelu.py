#!/usr/bin/env python3
"""40-digit GELU limit-kernel references for tests/limit_reference_gelu.rs.

Run: python3 tools/limit_reference_gelu.py [processes] > tests/data/limit_gelu_mpmath.txt
(deterministic: fixed inputs, mpmath at 40 digits; a few minutes).

GELU(x) = x Phi(x), GELU'(x) = Phi(x) + x phi(x). Each case is a pair of f64 points (x, y) in
n_0 = 2 dimensions and a bias scale beta (an f64); the recursion
  Sigma^(1) = x.y/2 + beta^2,  Theta^(1) = Sigma^(1),
  Sigma^(l+1) = E[GELU(u) GELU(v)] + beta^2,  SigmaDot^(l+1) = E[GELU'(u) GELU'(v)],
  Theta^(l+1) = Theta^(l) SigmaDot^(l+1) + Sigma^(l+1),
(u, v) ~ N(0, [[s11, s12], [s12, s22]]) at layer l, is run in mpmath from the exact f64 inputs
(beta^2 and x.y/2 exact), and (Sigma, SigmaDot, Theta) are printed at depths L = 2 ... 4 (beta = 0) and
L = 2 ... 6 (beta = 0.3).

The expectations are NOT taken from the 2-D closed form that the library implements (that is
what is tested). They are the conditional 1-D integrals
  E[f(u) g(v)] = int phi(z) f(r1 z) G(z) dz,   u = r1 z,  v | z ~ N(m, tau^2),
  m = s12 z / r1,  tau^2 = det / s11,  det = s11 s22 - s12^2 (exact in mpmath),
with the Gaussian averages of GELU and GELU' in closed form (a = m / sqrt(1 + tau^2)):
  E[GELU(v) | z]  = m Phi(a) + tau^2 phi(a) / sqrt(1 + tau^2),
  E[GELU'(v) | z] = Phi(a) + m phi(a) / (1 + tau^2)^(3/2)
(E[Phi(m + tau Z)] = Phi(a), Stein's lemma, and the product of two Gaussian densities; checked
against direct quadrature by self_check() on every run). The outer integral is mpmath's
tanh-sinh quadrature split at 0 and at the activation's transition scales 1/r1, 1/r2.
s11 = 0 (the zero input) is deterministic: E = GELU(0) E[GELU(v)] = 0 and
E' = GELU'(0) E[GELU'(v)] = 1/4.

Output: one line per (case, beta, depth):
  name depth beta x0 x1 y0 y1 Sigma SigmaDot Theta
inputs as Python repr of the f64, outputs to 30 significant digits.
"""
import mpmath as mp

mp.mp.dps = 40
ZM = 20


def Phi(x):
    return mp.erfc(-x / mp.sqrt(2)) / 2


def gelu(x):
    return x * Phi(x)


def dgelu(x):
    return Phi(x) + x * mp.npdf(x)


def cond_gelu(m, t2):
    w = mp.sqrt(1 + t2)
    a = m / w
    return m * Phi(a) + t2 * mp.npdf(a) / w


def cond_dgelu(m, t2):
    w2 = 1 + t2
    a = m / mp.sqrt(w2)
    return Phi(a) + m * mp.npdf(a) / (w2 * mp.sqrt(w2))


def breaks(*rs):
    out = {mp.mpf(-ZM), mp.mpf(0), mp.mpf(ZM)}
    for r in rs:
        for c in (1, 8):
            z = c / r
            if z < ZM:
                out.add(z)
                out.add(-z)
    for c in (2, 6):
        out.add(mp.mpf(c))
        out.add(mp.mpf(-c))
    return sorted(out)


def expect(s11, s22, s12):
    """(E[GELU(u) GELU(v)], E[GELU'(u) GELU'(v)])."""
    if s11 == 0 or s22 == 0:
        return mp.mpf(0), mp.mpf(1) / 4
    r1, r2 = mp.sqrt(s11), mp.sqrt(s22)
    det = s11 * s22 - s12 * s12
    if det < 0:
        # A copy after a layer: the pair and diagonal quadratures agree to ~1e-40, not exactly.
        assert det > -mp.mpf(10) ** -34 * s11 * s22, (s11, s22, s12)
        det = mp.mpf(0)
    t2 = det / s11
    k = s12 / r1
    pts = breaks(r1, r2)
    e = mp.quad(lambda z: mp.npdf(z) * gelu(r1 * z) * cond_gelu(k * z, t2), pts)
    ed = mp.quad(lambda z: mp.npdf(z) * dgelu(r1 * z) * cond_dgelu(k * z, t2), pts)
    return e, ed


def self_check():
    """The conditional averages against direct quadrature at a few (m, tau^2)."""
    for m, t2 in ((mp.mpf("0.7"), mp.mpf("0.3")), (mp.mpf("-2.5"), mp.mpf("4")), (mp.mpf(3), mp.mpf("1e-6"))):
        t = mp.sqrt(t2)
        pts = [-ZM, -4, -1, 0, 1, 4, ZM]
        d1 = mp.quad(lambda z: mp.npdf(z) * gelu(m + t * z), pts)
        d2 = mp.quad(lambda z: mp.npdf(z) * dgelu(m + t * z), pts)
        assert abs(d1 - cond_gelu(m, t2)) < mp.mpf(10) ** -40 * (1 + abs(d1)), (m, t2)
        assert abs(d2 - cond_dgelu(m, t2)) < mp.mpf(10) ** -40 * (1 + abs(d2)), (m, t2)


def unit(a, ang):
    return [a * float(mp.cos(ang)), a * float(mp.sin(ang))]


def cov(x, y):
    return mp.fsum(mp.mpf(a) * mp.mpf(b) for a, b in zip(x, y)) / 2


def cases():
    out = []
    bases = [("s1", unit(1.5, 0.3)), ("s450", unit(30.0, 0.4)), ("s2e6", unit(2000.0, 1.0))]
    for bname, x in bases:
        nx = (x[0] ** 2 + x[1] ** 2) ** 0.5
        out.append((bname + "_copy", x, list(x)))
        out.append((bname + "_antipodal", x, [-v for v in x]))
        out.append((bname + "_rho0.88", x, unit(0.8 * nx, 0.3 + 0.5)))
        out.append((bname + "_rho-0.13", x, unit(1.3 * nx, 0.3 + 1.7)))
        out.append((bname + "_zero", [0.0, 0.0], x))
    u = unit(1.0, 2.0)
    for bname, x, ks, ka in ((*bases[1], range(1, 16), (2, 6, 10, 14)),
                             (*bases[0], (1, 4, 7, 10, 13), (6,))):
        nx = (x[0] ** 2 + x[1] ** 2) ** 0.5
        for k in ks:
            h = 10.0 ** -k * nx
            out.append((f"{bname}_neardup_k{k}", x, [x[0] + h * u[0], x[1] + h * u[1]]))
        for k in ka:
            h = 10.0 ** -k * nx
            out.append((f"{bname}_nearanti_k{k}", x, [-x[0] + h * u[0], -x[1] + h * u[1]]))
    return out


def diag(s):
    """E[GELU(u)^2], u ~ N(0, s)."""
    if s == 0:
        return mp.mpf(0)
    r = mp.sqrt(s)
    return mp.quad(lambda z: mp.npdf(z) * gelu(r * z) ** 2, breaks(r))


def run(x, y, beta, depth):
    b2 = mp.mpf(beta) ** 2
    s11, s22, s12 = cov(x, x) + b2, cov(y, y) + b2, cov(x, y) + b2
    th = s12
    rows = []
    for _ in range(depth - 1):
        e, ed = expect(s11, s22, s12)
        e11 = diag(s11)
        e22 = e11 if s22 == s11 else diag(s22)
        s11, s22, s12 = e11 + b2, e22 + b2, e + b2
        th = th * ed + s12
        rows.append((s12, ed, th))
    return rows


# beta = 0 to depth 4, beta = 0.3 to depth 6.
BETAS = ((0.0, 4), (0.3, 6))


def lines(case):
    name, x, y = case
    out = []
    for beta, depth in BETAS:
        for l, (s, d, t) in enumerate(run(x, y, beta, depth)):
            vals = " ".join(mp.nstr(v, 30) for v in (s, d, t))
            out.append(f"{name} {l + 2} {beta!r} {x[0]!r} {x[1]!r} {y[0]!r} {y[1]!r} {vals}")
    return out


def main():
    import multiprocessing
    import sys
    self_check()
    jobs = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    with multiprocessing.Pool(jobs) as pool:
        for ls in pool.imap(lines, cases()):
            print("\n".join(ls), flush=True)


if __name__ == "__main__":
    main()
