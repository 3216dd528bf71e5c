#!/usr/bin/env python3
"""High-precision references for tests/limit_reference.rs (run: python3 tools/limit_reference_pairs.py
[activation...] for the depth-2 table, python3 tools/limit_reference_pairs.py --depth3 tanh custom
for the depth-3 table).

Output is deterministic (fixed inputs, mpmath at 22 digits); one activation per argument,
all by default; paste it into the test.

Each case is a pair of f64 points (x, y) in n_0 = 2 dimensions with beta = 0, so that
s11 = x.x/2, s22 = y.y/2, s12 = x.y/2 are computed EXACTLY (in mpmath) from the f64 inputs.
For depth L = 2 the library's Sigma^(2) = E[s(u)s(v)] and SigmaDot^(2) = E[s'(u)s'(v)],
(u, v) ~ N(0, [[s11, s12], [s12, s22]]). Expectations are evaluated without any 2-D quadrature:
  - rho = +-1 exactly: the 1-D integral E[f(r1 z) g(+-r2 z)];
  - s11 = 0: f(0) E[g(r2 z)];
  - |rho| <= 0.35: Mehler's series sum_k a_k(s11) b_k(s22) rho^k with 1-D Hermite coefficients
    a_k = E[f(sqrt(s) z) He_k(z)]/sqrt(k!) from mpmath quadrature, truncated at k = 40
    (0.35^41 < 1e-18);
  - rho = 1 - delta (delta ~ 1e-9): the conditional form E_z1[f(r1 z1) G(z1)] with
    G(z1) = E[g(m + tau z2)] = g(m) + tau^2/2 g''(m) + tau^4/8 g''''(m) + O(tau^6),
    m = r2 rho z1, tau^2 = s22 (1 - rho^2) ~ 1e-7 s22 (remainder < 1e-20 relative).
"""
import mpmath as mp

mp.mp.dps = 22
ZM = 16
KMAX = 40


def tanh(x): return mp.tanh(x)
def dtanh(x): return 1 / mp.cosh(x) ** 2
def sigm(x): return 1 / (1 + mp.exp(-x))
def dsigm(x): s = sigm(x); return s * (1 - s)
def softplus(x): return mp.log1p(mp.exp(x)) if x < 0 else x + mp.log1p(mp.exp(-x))
def Phi(x): return mp.erfc(-x / mp.sqrt(2)) / 2
def gelu(x): return x * Phi(x)
def dgelu(x): return Phi(x) + x * mp.npdf(x)
def custom(x): return mp.tanh(2 * x - 1)
def dcustom(x): return 2 / mp.cosh(2 * x - 1) ** 2


ACTS = [("tanh", tanh, dtanh, 0), ("sigmoid", sigm, dsigm, 0), ("softplus", softplus, sigm, 0),
        ("gelu", gelu, dgelu, 0), ("custom", custom, dcustom, mp.mpf(1) / 2)]


def pts(scale, center):
    out = {mp.mpf(-ZM), mp.mpf(ZM)}
    cs = [0] + [s * mp.mpf(2) ** k for k in range(-3, 7) for s in (1, -1)]
    for c in cs:
        z = (center + c) / scale
        if abs(z) < ZM:
            out.add(z)
    for k in range(-ZM, ZM + 1):
        out.add(mp.mpf(k))
    return sorted(out)


def e1(h, r, center):
    return mp.quad(lambda z: mp.npdf(z) * h(z), pts(r, center))


def hermite_coeffs(f, s, center):
    if s == 0:
        return [f(mp.mpf(0))] + [mp.mpf(0)] * KMAX
    r = mp.sqrt(s)
    out = []
    for k in range(KMAX + 1):
        nk = mp.sqrt(mp.factorial(k))
        out.append(e1(lambda z: f(r * z) * mp.hermite(k, z / mp.sqrt(2)) * mp.mpf(2) ** (-mp.mpf(k) / 2) / nk, r, center))
    return out


def expect(f, s11, s22, s12, center):
    if s11 == 0:
        return f(mp.mpf(0)) * e1(lambda z: f(mp.sqrt(s22) * z), mp.sqrt(s22), center)
    r1, r2 = mp.sqrt(s11), mp.sqrt(s22)
    rho = s12 / (r1 * r2)
    if abs(rho) == 1 or s22 == 0:
        return e1(lambda z: f(r1 * z) * f(rho * r2 * z), r1, center)
    if abs(rho) <= mp.mpf("0.35"):
        a, b = hermite_coeffs(f, s11, center), hermite_coeffs(f, s22, center)
        return mp.fsum(a[k] * b[k] * rho ** k for k in range(KMAX + 1))
    t2 = s22 * (1 - rho) * (1 + rho)
    assert t2 < mp.mpf("1e-5") * s22, "only near-duplicates are supported"
    def G(z1):
        m = r2 * rho * z1
        return f(m) + t2 / 2 * mp.diff(f, m, 2) + t2 ** 2 / 8 * mp.diff(f, m, 4)
    return e1(lambda z: f(r1 * z) * G(z), r1, center)


def unit(a, phi):
    return [a * float(mp.cos(phi)), a * float(mp.sin(phi))]


A = unit(30.0, 0.4)               # norm 30: s = 450
CASES = [
    ("copy_norm30", A, list(A)),                       # rho = 1 (separate copy)
    ("antipodal_norm30", A, [-v for v in A]),         # rho = -1
    ("near_dup_norm30", A, unit(30.0, 0.4 + 4.4721e-5)),  # rho = 1 - 1e-9
    ("tiny_s", unit(1.4142135623730951e-3, 0.1), unit(2.0, 0.1)),  # s11 = 1e-6, rho = 1
    ("zero", [0.0, 0.0], unit(2.0, 1.0)),
]


def cov(x, y):
    return mp.fsum(mp.mpf(a) * mp.mpf(b) for a, b in zip(x, y)) / 2


def depth3(name, f, df, c, x, y):
    """(Sigma^(3), SigmaDot^(3), Theta^(3)) of (x, y), beta = 0, by the recursion."""
    s11, s22, s12 = cov(x, x), cov(y, y), cov(x, y)
    th = s12
    for _ in range(2):
        e = expect(f, s11, s22, s12, c)
        ed = expect(df, s11, s22, s12, c)
        e11 = expect(f, s11, s11, s11, c)
        e22 = expect(f, s22, s22, s22, c)
        th = th * ed + e
        s11, s22, s12 = e11, e22, e
    return s12, ed, th


def main():
    import sys
    if sys.argv[1:2] == ["--depth3"]:
        print("// (name, activation, x0, x1, y0, y1, Sigma3, SigmaDot3, Theta3), depth 3, beta = 0")
        for name, f, df, c in ACTS:
            if name not in sys.argv[2:]:
                continue
            for cname, x, y in CASES:
                if cname not in ("antipodal_norm30", "near_dup_norm30"):
                    continue
                r = depth3(name, f, df, c, x, y)
                print(f'    ("{cname}", "{name}", {x[0]!r}, {x[1]!r}, {y[0]!r}, {y[1]!r}, ' + ", ".join(mp.nstr(v, 22) for v in r) + "),", flush=True)
        return
    which = sys.argv[1:] or [a[0] for a in ACTS]
    for name, f, df, c in ACTS:
        if name not in which:
            continue
        for cname, x, y in CASES:
            s11, s22, s12 = cov(x, x), cov(y, y), cov(x, y)
            e = expect(f, s11, s22, s12, c)
            ed = expect(df, s11, s22, s12, c)
            print(f'    ("{cname}", "{name}", {x[0]!r}, {x[1]!r}, {y[0]!r}, {y[1]!r}, {mp.nstr(e, 22)}, {mp.nstr(ed, 22)}),', flush=True)


if __name__ == "__main__":
    main()
