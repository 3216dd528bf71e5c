#!/usr/bin/env python3
"""40-digit references for highly correlated pairs (rho in [0.6, 1), and near -1) of the
numerically integrated activations, for tests/limit_reference_rho.rs (issue #17 part 2).

Run: PYTHONPATH=<gmpy2 (optional, faster)> python3 tools/limit_reference_rho.py \
         > tests/data/limit_rho_mpmath.txt
(deterministic: fixed inputs, mpmath at 40 digits plus 200-bit fixed-point integer arithmetic;
a few minutes).

Each case is a pair of f64 points (x, y) in n_0 = 8 dimensions with beta = 0 and depth L = 2, so
the library's Sigma^(2) = E[s(u)s(v)] and SigmaDot^(2) = E[s'(u)s'(v)] with
(u, v) ~ N(0, [[s11, s12], [s12, s22]]), s11 = x.x/8, s22 = y.y/8, s12 = x.y/8 computed EXACTLY
(in mpmath) from the f64 inputs. x = c1 v, y = c2 P v for a fixed vector v (BASE), a signed
permutation P chosen to bring rho near each target (0.6 ... 1 - 3e-8, -0.8, -0.99, -0.9999),
and scales c in {1, 2, 4} (variances about 0.25, 1 and 4: the first-layer variances of inputs
in a few dimensions, and of later tanh layers).

Two methods, each used where its error bound is below 1e-25 of the scale sqrt(E[f(u)^2] E[f(v)^2]),
and checked against each other to 1e-24 where both apply:
  * Mehler's series E = sum_k a_k b_k rho^k with a_k = E[f(sqrt(s11) z) He_k(z)]/sqrt(k!),
    k <= KMAX, computed from ONE pass of a 40-digit Gauss-Legendre rule (24 nodes on each panel
    of width 1/4 on [-ZM, ZM]) with the three-term recurrence of the normalized Hermite
    polynomials h_{k+1} = (z h_k - sqrt(k) h_{k-1}) / sqrt(k+1) in 200-bit fixed point.
    Truncation: |sum_{k>K} a_k b_k rho^k| <= |rho|^(K+1) sqrt(T_a(K) T_b(K)) (Cauchy-Schwarz),
    T(K) = E[f^2] - sum_{k<=K} a_k^2 (Parseval), with E[f^2] from the same rule.
  * the conditional form for near-duplicates (1 - rho^2 <= 1e-6):
    E = int phi(z) f(r1 z) G(z) dz, G(z) = E[g(m + tau W)] = sum_j tau^(2j) g^(2j)(m) / (2^j j!)
    (j <= 4; the remainder, about tau^10 g^(10)/3840, is below 1e-26 for these tau), m = s12 z / r1, tau^2 = det / s11,
    by mpmath's tanh-sinh quadrature split at the activation's transition region.
Pairs that neither method reaches to 1e-25 are not emitted.

Output: one line per (activation, case):
  activation case x0 .. x7 y0 .. y7 E E'
inputs as Python repr of the f64, outputs to 30 significant digits.
"""
import math
import sys

import mpmath as mp

mp.mp.dps = 40
ZM = 15          # sqrt(phi(15)) = 1.6e-25: the Hermite functions are bounded by ~1.09
PANEL = mp.mpf(1) / 4
KMAX = 700
BITS = 200
ONE = 1 << BITS
TOL = mp.mpf(10) ** -25


def tanh(x): return mp.tanh(x)
def dtanh(x): return 1 / mp.cosh(x) ** 2
def sigm(x): return 1 / (1 + mp.exp(-x))
def dsigm(x): s = sigm(x); return s * (1 - s)
def softplus(x): return mp.log1p(mp.exp(x)) if x < 0 else x + mp.log1p(mp.exp(-x))
def custom(x): return mp.tanh(2 * x - 1)
def dcustom(x): return 2 / mp.cosh(2 * x - 1) ** 2


# name: (sigma, sigma', centre of the transition)
ACTS = {"tanh": (tanh, dtanh, 0), "sigmoid": (sigm, dsigm, 0), "softplus": (softplus, sigm, 0),
        "custom": (custom, dcustom, mp.mpf(1) / 2)}



def fixed(v):
    return int(mp.floor(v * ONE))


_GRID = None


def grid():
    """Gauss-Legendre nodes z_n and weights w_n phi(z_n) on [-ZM, ZM], as mpf and fixed point."""
    global _GRID
    if _GRID is None:
        gl = mp.calculus.quadrature.GaussLegendre(mp.mp)
        ref = gl.calc_nodes(4, mp.mp.prec)  # 24 nodes on [-1, 1]
        z, w = [], []
        a = mp.mpf(-ZM)
        while a < ZM:
            c, h = a + PANEL / 2, PANEL / 2
            for x, wx in ref:
                z.append(c + h * x)
                w.append(h * wx * mp.npdf(c + h * x))
            a += PANEL
        _GRID = (z, w, [fixed(v) for v in z])
    return _GRID


_SQ = [fixed(mp.sqrt(k)) for k in range(KMAX + 2)]
_ISQ = [0] + [fixed(1 / mp.sqrt(k)) for k in range(1, KMAX + 2)]


def coeffs(f, s):
    """(a_0..a_KMAX, E[f(sqrt(s) z)^2]) as mpf."""
    z, w, zf = grid()
    r = mp.sqrt(s)
    acc = [0] * (KMAX + 1)
    e2 = mp.mpf(0)
    for zn, wn, zq in zip(z, w, zf):
        fv = f(r * zn)
        e2 += wn * fv * fv
        F = fixed(wn * fv)
        h0, h1 = ONE, zq
        acc[0] += F * h0
        acc[1] += F * h1
        for k in range(1, KMAX):
            h0, h1 = h1, ((zq * h1 - _SQ[k] * h0) >> BITS) * _ISQ[k + 1] >> BITS
            acc[k + 1] += F * h1
    return [mp.mpf(a) / ONE / ONE for a in acc], e2


_COEF = {}


def coef(name, which, s):
    key = (name, which, s)
    if key not in _COEF:
        f = ACTS[name][which]
        _COEF[key] = coeffs(f, mp.mpf(s))
    return _COEF[key]


def mehler(name, which, s1, s2, rho):
    """(value, error bound, scale) or None when KMAX terms do not reach TOL."""
    a, ea = coef(name, which, s1)
    b, eb = coef(name, which, s2)
    scale = mp.sqrt(ea * eb)
    ta, tb = ea, eb
    tot, p = mp.mpf(0), mp.mpf(1)
    for k in range(KMAX + 1):
        tot += a[k] * b[k] * p
        p *= rho
        ta -= a[k] ** 2
        tb -= b[k] ** 2
        bound = abs(p) * mp.sqrt(max(ta, 0) * max(tb, 0))
        if bound < TOL * scale:
            return tot, bound, scale
    return None


def splits(scale, shift, centre):
    out = {mp.mpf(-20), mp.mpf(20), mp.mpf(0)}
    for c in (0, 0.25, -0.25, 0.5, -0.5, 1, -1, 2, -2, 4, -4, 8, -8, 16, -16, 32, -32):
        z = (centre + c - shift) / scale
        if abs(z) < 20:
            out.add(z)
    return sorted(out)


def conditional(name, which, s11, s22, s12):
    f = ACTS[name][which]
    centre = ACTS[name][2]
    r1 = mp.sqrt(s11)
    b = s12 / r1
    t2 = (s11 * s22 - s12 * s12) / s11
    assert t2 <= mp.mpf("1e-6") * s22

    def G(z):
        m = b * z
        out = f(m)
        d = mp.taylor(f, m, 8)  # f^(j)(m) / j!
        fact = mp.mpf(1)
        for j in range(1, 5):
            # E[W^(2j)] = (2j-1)!!; term f^(2j)(m)/(2j)! * tau^(2j) (2j-1)!! = f^(2j) tau^2j/(2^j j!)
            fact *= 2 * j - 1
            out += d[2 * j] * t2 ** j * fact
        return out

    pts = sorted(set(splits(r1, 0, centre)) | set(splits(abs(b), 0, centre if b > 0 else -centre)))
    return mp.quad(lambda z: mp.npdf(z) * f(r1 * z) * G(z), pts)


BASE = [0.9, -0.7, 0.52, 0.5, 0.31, 0.3, 0.05, 0.05 + 2.0 ** -12]  # n_0 = 8, s = |v|^2/8 ~ 0.25
SCALES = [(1.0, 1.0), (2.0, 2.0), (1.0, 2.0), (2.0, 4.0), (4.0, 4.0)]  # (x, y) = (c1 v, c2 P v)
RHOS = [0.6, 0.75, 0.9, 0.97, 0.99, 0.995, 0.999, 0.9999, 0.99999, 1.0 - 3e-8, -0.8, -0.99, -0.9999]


def signed_perms():
    """(rho, signs, perm) for P = (sign flips) x (identity, one or two disjoint transpositions)
    of BASE, rho = v.Pv/|v|^2 < 1."""
    import itertools
    v = BASE
    n = len(v)
    n2 = sum(a * a for a in v)
    perms = [tuple(range(n))]
    pairs = list(itertools.combinations(range(n), 2))
    for i, j in pairs:
        p = list(range(n)); p[i], p[j] = j, i
        perms.append(tuple(p))
    for (i, j), (k, l) in itertools.combinations(pairs, 2):
        if len({i, j, k, l}) == 4:
            p = list(range(n)); p[i], p[j], p[k], p[l] = j, i, l, k
            perms.append(tuple(p))
    out = []
    for perm in perms:
        base = [v[i] * v[perm[i]] for i in range(n)]
        for signs in itertools.product((1, -1), repeat=n):
            r = sum(sg * b for sg, b in zip(signs, base)) / n2
            if r < 1 - 1e-12:
                out.append((r, signs, perm))
    return out


def cases():
    """Pairs x = c1 v, y = c2 P v: the variances are exactly c^2 |v|^2 / 8 (scaling by a power of
    two and permuting are exact), so one set of Hermite coefficients serves every pair of a
    scale, and rho = v.Pv/|v|^2 comes near each target."""
    cands = signed_perms()
    out = []
    for c1, c2 in SCALES:
        for target in RHOS:
            r, signs, perm = min(cands, key=lambda c: abs(c[0] - target))
            if any(o[3] == (c1, c2, r) for o in out):
                continue
            x = [c1 * a for a in BASE]
            y = [c2 * signs[i] * BASE[perm[i]] for i in range(len(BASE))]
            out.append((f"c{c1:g}_{c2:g}_rho{r:.10g}", x, y, (c1, c2, r)))
    return [o[:3] for o in out]


def cov(x, y):
    return mp.fsum(mp.mpf(u) * mp.mpf(v) for u, v in zip(x, y)) / len(x)


def expect(name, which, s11, s22, s12):
    """Value, or None."""
    rho = s12 / mp.sqrt(s11 * s22)
    ms = mehler(name, which, s11, s22, rho)
    near = (1 - rho * rho) <= mp.mpf("1e-6")
    cs = conditional(name, which, s11, s22, s12) if near else None
    if ms is not None and cs is not None:
        diff = abs(ms[0] - cs)
        assert diff <= mp.mpf(10) ** -24 * ms[2], (name, which, float(s11), float(rho), ms[0], cs)
    if ms is not None:
        return ms[0]
    return cs


def self_check():
    """Both methods against erf's closed form E = (2/pi) asin(2 s12 / sqrt((1+2s11)(1+2s22)))."""
    ACTS["erf"] = (mp.erf, None, 0)
    for s11, s22, rho in [(1, 4, "0.9"), (1, 4, "0.9999999")]:
        s11, s22 = mp.mpf(s11), mp.mpf(s22)
        s12 = mp.mpf(rho) * mp.sqrt(s11 * s22)
        want = 2 / mp.pi * mp.asin(2 * s12 / mp.sqrt((1 + 2 * s11) * (1 + 2 * s22)))
        m = mehler("erf", 0, s11, s22, mp.mpf(rho)) if rho == "0.9" else None
        if m is not None:
            assert abs(m[0] - want) < mp.mpf(10) ** -24 * abs(want), (m[0], want)
        if mp.mpf(rho) > mp.mpf("0.999999"):
            c = conditional("erf", 0, s11, s22, s12)
            assert abs(c - want) < mp.mpf(10) ** -24 * abs(want), (c, want)
    del ACTS["erf"]


def lines_for(name):
    out = []
    for cname, x, y in cases():
        s11, s22, s12 = cov(x, x), cov(y, y), cov(x, y)
        e = expect(name, 0, s11, s22, s12)
        ed = expect(name, 1, s11, s22, s12)
        if e is None or ed is None:
            print(f"# {name} {cname}: not reached to 1e-25 by either method", file=sys.stderr)
            continue
        xs = " ".join(repr(v) for v in x + y)
        out.append(f"{name} {cname} {xs} {mp.nstr(e, 30)} {mp.nstr(ed, 30)}")
    return out


def main():
    procs = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    self_check()
    if procs > 1:
        import multiprocessing
        with multiprocessing.Pool(procs) as pool:
            for lines in pool.map(lines_for, list(ACTS)):
                print("\n".join(lines), flush=True)
        return
    print("# activation case x0..x7 y0..y7 E E'  (tools/limit_reference_rho.py, mpmath 40 digits)")
    for name in ACTS:
        for cname, x, y in cases():
            s11, s22, s12 = cov(x, x), cov(y, y), cov(x, y)
            e = expect(name, 0, s11, s22, s12)
            ed = expect(name, 1, s11, s22, s12)
            if e is None or ed is None:
                print(f"# {name} {cname}: not reached to 1e-25 by either method", file=sys.stderr)
                continue
            xs = " ".join(repr(v) for v in x + y)
            print(f"{name} {cname} {xs} {mp.nstr(e, 30)} {mp.nstr(ed, 30)}", flush=True)


if __name__ == "__main__":
    main()
