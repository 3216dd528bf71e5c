#!/usr/bin/env python3
"""40-digit references for highly correlated pairs with LARGE and MIXED variances, for
tests/limit_reference_rho_wide.rs (issue 17 part 2: "keep the <= 1e-12 accuracy on rho in
[0.6, 1) pairs"). Complements tools/limit_reference_rho.py (variances ~0.25, 1, 4 only).

Run: PYTHONPATH=<dir with gmpy2 (optional, ~3x faster)> \
         python3 tools/limit_reference_rho_wide.py > tests/data/limit_rho_wide_mpmath.txt
(deterministic; one process: 1414 s measured 2026-12-03 with gmpy2 on the 2-core machine while
a second mpmath job and a cargo build shared it, 274 s of it the self-checks; 252 lines).

Cases: pairs of f64 points (x, y) in n_0 = 8 dimensions, beta = 0, depth L = 2, so the library's
Sigma^(2) = E[s(u)s(v)] and SigmaDot^(2) = E[s'(u)s'(v)] with (u, v) ~ N(0, [[s11, s12],
[s12, s22]]), s11 = x.x/8, s22 = y.y/8, s12 = x.y/8 computed EXACTLY (in mpmath) from the f64
inputs. x = fl(c1 v), y = fl(c2 P v) for the fixed vector v = BASE, c = sqrt(target / (|v|^2/8))
and a signed permutation P chosen to bring rho = v.Pv/|v|^2 near each target in RHOS; scaling
each component by c and permuting keeps s11, s22 the same for every P, so one set of Hermite
coefficients per (activation, variance) serves all targets. c^2 in {0.05, 1, 10, 50, 200},
also mixed (c1^2, c2^2) = (1, 200) and (0.05, 50).
Activations: tanh, sigmoid, softplus and the reference custom s(x) = tanh(2x - 1)
(tests/common::reference_activation), with their derivatives.

Two independent methods:
  * Mehler's series E = sum_k a_k b_k rho^k, a_k = E[f(sqrt(s11) z) h_k(z)], h_k = He_k/sqrt(k!),
    k <= KMAX, from one pass of a 40-digit Gauss-Legendre rule (24 nodes per panel; panels of
    width 1/4 on [-15, 15] plus breakpoints where sqrt(s) z crosses the activation's transition,
    at the scale of its nearest complex singularity, so s = 200 is resolved) with the normalized
    Hermite recurrence in 200-bit fixed point (tools/limit_reference_rho.py's scheme).
    Truncation bound |rho|^(K+1) sqrt(T_a(K) T_b(K)) (Cauchy-Schwarz, Parseval tails); used when
    it is below 1e-26 of the scale sqrt(E[f(u)^2] E[f(v)^2]).
  * the nested conditional form, exact at any rho in (-1, 1): conditioning on the variable of
    larger variance (u, say), E = int phi(z) f(r1 z) G(b z) dz with r1 = sqrt(s11),
    b = s12 / r1, G(m) = E_W[g(m + tau W)], tau^2 = (s11 s22 - s12^2) / s11, BOTH integrals by
    fixed 24-node Gauss-Legendre panels on [-13, 13] split geometrically (offsets 0, 1/2, 1, 2,
    ..., 64 times the singularity distance) around the points where the activation's argument
    crosses its centre, the remaining gaps filled with panels of width <= 2. (For tanh the
    poles are at +-i pi/2 about the centre only, so the integrands are analytic on a strip
    around each panel: Gauss-Legendre converges geometrically; the error of this layout is
    checked below by doubling the nodes per panel, and on erf's closed form at s = 200.)
Every pair where both apply (Mehler bound < 1e-26) is computed both ways and must agree to 1e-20
of the scale (asserted). Self-checks at start:
erf (closed forms E = 2/pi asin(2 s12/sqrt((1+2 s11)(1+2 s22))),
E' = 4/pi / sqrt((1+2 s11)(1+2 s22) - 4 s12^2)) through both methods at s = 200 and mixed
variances, and the nested rule with 48 nodes per panel against 24 on hard cases.

Output, one line per (activation, case):
  activation case x0..x7 y0..y7 E E' scaleE scaleE'
(inputs as Python repr of the f64; outputs to 30 significant digits; scale = sqrt(E[f(u)^2]
E[f(v)^2]) of the same function). The methods used per line go to stderr.
"""
import itertools
import math
import os
import sys
import time

import mpmath as mp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import limit_reference_rho as rho  # noqa: E402  (activations, fixed-point Hermite constants)

mp.mp.dps = 40
ZM = 15           # Mehler grid half-width (as tools/limit_reference_rho.py)
ZN = mp.mpf(13)   # nested rule: phi(13) = 1.8e-37
PANEL = mp.mpf(1) / 4
KMAX = rho.KMAX   # 700
TOL_M = mp.mpf(10) ** -26
AGREE = mp.mpf(10) ** -20
OFFS = [0, mp.mpf(1) / 2, 1, 2, 4, 8, 16, 32, 64]
FILL = mp.mpf(3)

PI = mp.pi
# name: (f, f', centre, distance of the nearest singularity of f and of f' from the real
# axis in the argument x): tanh, sech^2: i pi/2; logistic, log(1 + e^x): i pi;
# tanh(2x - 1): i pi/4 about x = 1/2.
ACTS = {
    "tanh": (rho.tanh, rho.dtanh, mp.mpf(0), PI / 2, PI / 2),
    "sigmoid": (rho.sigm, rho.dsigm, mp.mpf(0), PI, PI),
    "softplus": (rho.softplus, rho.sigm, mp.mpf(0), PI, PI),
    "custom": (rho.custom, rho.dcustom, mp.mpf(1) / 2, PI / 4, PI / 4),
}


def fn(name, which):
    """(f, centre, singularity distance) of activation `name`, which = 0 (s) or 1 (s')."""
    a = ACTS[name]
    return a[which], a[2], a[3 + which]


_GL = {}


def gl(n):
    """n-point Gauss-Legendre rule on [-1, 1] (n = 24 or 48) as [(x, w)] at the working
    precision."""
    if n not in _GL:
        deg = {24: 4, 48: 5}[n]
        _GL[n] = mp.calculus.quadrature.GaussLegendre(mp.mp).calc_nodes(deg, mp.mp.prec)
    return _GL[n]


def crossings(centre, dist, r, shift):
    """Points z where r z + shift = centre +- o dist (o in OFFS); none when r = 0."""
    if r == 0:
        return []
    out = []
    for o in OFFS:
        for sg in (1, -1):
            out.append((centre + sg * o * dist - shift) / r)
    return out


def rule(bps, lo, hi, fill, n):
    """Nodes and weights of n-point Gauss-Legendre panels on [lo, hi] split at the breakpoints
    `bps` inside it, gaps wider than `fill` cut evenly."""
    pts = sorted(set([lo, hi] + [p for p in bps if lo < p < hi]))
    ref = gl(n)
    zs, ws = [], []
    for a, b in zip(pts, pts[1:]):
        m = max(1, int(mp.ceil((b - a) / fill)))
        h = (b - a) / m
        for i in range(m):
            c, hh = a + h * i + h / 2, h / 2
            for x, w in ref:
                zs.append(c + hh * x)
                ws.append(hh * w)
    return zs, ws


# ---------------------------------------------------------------- nested conditional form
GH_N = 64
_GH = []


def gh():
    """GH_N-point Gauss-Hermite rule for E[h(W)], W ~ N(0, 1), as [(w, weight)]."""
    if not _GH:
        xs, ws = mp.gauss_quadrature(GH_N, "hermite")
        _GH.extend((mp.sqrt(2) * xs[i], ws[i] / mp.sqrt(PI)) for i in range(GH_N))
    return _GH


INV_SQRT_2PI = 1 / mp.sqrt(2 * PI)


def npdf(z):
    return mp.exp(-z * z / 2) * INV_SQRT_2PI


def smooth_by_gh(tau, dist):
    """The inner integrand g(m + tau w) phi(w) is analytic for |Im w| < dist / tau; from
    dist / tau >= 6 on, the GH_N-point Gauss-Hermite rule is accurate to ~1e-35 (measured for
    tanh, softplus and the custom sigma against the panels at every m; checked again in
    self_check), and 5x cheaper than the panels."""
    return tau * 6 <= dist


def nested(name, which, s11, s22, s12, n=24, force_panels=False):
    """E[f(u) f(v)] by the nested conditional form (f = s or s' of `name`)."""
    f, c, dist = fn(name, which)
    if s22 > s11:
        s11, s22 = s22, s11
    r1 = mp.sqrt(s11)
    b = s12 / r1
    t2 = (s11 * s22 - s12 * s12) / s11
    assert t2 > 0
    tau = mp.sqrt(t2)
    if smooth_by_gh(tau, dist) and not force_panels:
        rule_w = [(tau * w, q) for w, q in gh()]

        def G(m):
            return mp.fsum(q * f(m + tw) for tw, q in rule_w)
    else:
        def G(m):
            zs, ws = rule(crossings(c, dist, tau, m), -ZN, ZN, FILL, n)
            return mp.fsum(w * npdf(z) * f(m + tau * z) for z, w in zip(zs, ws))

    # breakpoints of f(r1 z) and of G(b z) (G is g smoothed, so g's scale is the finer one);
    # when the two sets nearly coincide (b ~ r1) the finer one alone.
    if b > 0 and abs(b - r1) <= r1 / 5:
        bps = crossings(c, dist, max(r1, b), 0) + [c / r1, c / b]
    else:
        bps = crossings(c, dist, r1, 0) + crossings(c, dist, b, 0)
    zs, ws = rule(bps, -ZN, ZN, FILL, n)
    return mp.fsum(w * npdf(z) * f(r1 * z) * G(b * z) for z, w in zip(zs, ws))


def second_moment(name, which, s, n=24):
    """E[f(sqrt(s) z)^2] by the same panels (for the scale)."""
    f, c, dist = fn(name, which)
    r = mp.sqrt(s)
    zs, ws = rule(crossings(c, dist, r, 0), -ZN, ZN, FILL, n)
    return mp.fsum(w * mp.npdf(z) * f(r * z) ** 2 for z, w in zip(zs, ws))


# ---------------------------------------------------------------- Mehler's series
def mehler_grid(c, dist, r, panel=PANEL):
    bps = [mp.mpf(-ZM) + panel * i for i in range(int(2 * ZM / panel) + 1)]
    bps += crossings(c, dist, r, 0)
    zs, ws = rule(bps, mp.mpf(-ZM), mp.mpf(ZM), panel, 24)
    return zs, [w * npdf(z) for z, w in zip(zs, ws)]


def coeffs(f, c, dist, s, kmax=KMAX, panel=PANEL):
    """(a_0..a_kmax, E[f(sqrt(s) z)^2]) as mpf (tools/limit_reference_rho.py's fixed-point
    recurrence on the refined grid; kmax <= KMAX)."""
    r = mp.sqrt(s)
    z, w = mehler_grid(c, dist, r, panel)
    ONE, BITS = rho.ONE, rho.BITS
    SQ, ISQ = rho._SQ, rho._ISQ
    acc = [0] * (kmax + 1)
    e2 = mp.mpf(0)
    for zn, wn in zip(z, w):
        fv = f(r * zn)
        e2 += wn * fv * fv
        F = rho.fixed(wn * fv)
        zq = rho.fixed(zn)
        h0, h1 = ONE, zq
        acc[0] += F * h0
        acc[1] += F * h1
        for k in range(1, kmax):
            h0, h1 = h1, ((zq * h1 - SQ[k] * h0) >> BITS) * ISQ[k + 1] >> BITS
            acc[k + 1] += F * h1
    return [mp.mpf(a) / ONE / ONE for a in acc], e2


_COEF = {}


def coef(name, which, s, kmax=KMAX, panel=PANEL):
    key = (name, which, s, kmax, panel)
    if key not in _COEF:
        f, c, dist = fn(name, which)
        _COEF[key] = coeffs(f, c, dist, s, kmax, panel)
    return _COEF[key]


def mehler_from(a, ea, b, eb, r):
    """(value, bound, scale) or None when the series does not reach TOL_M."""
    scale = mp.sqrt(ea * eb)
    ta, tb = ea, eb
    tot, p = mp.mpf(0), mp.mpf(1)
    for k in range(len(a)):
        tot += a[k] * b[k] * p
        p *= r
        ta -= a[k] ** 2
        tb -= b[k] ** 2
        bound = abs(p) * mp.sqrt(max(ta, 0) * max(tb, 0))
        if bound < TOL_M * scale:
            return tot, bound, scale
    return None


def mehler_reaches(name, which, s11, s22, r):
    """Cheap a-priori test (coefficients cached): does the bound reach TOL_M?"""
    a, ea = coef(name, which, s11)
    b, eb = coef(name, which, s22)
    return mehler_from(a, ea, b, eb, r)


# ---------------------------------------------------------------- cases
# Pairs of nearly equal components: swapping one brings 1 - rho to ~1e-7, 1e-5, 1e-3, 1e-6
# (delta^2 / |v|^2), sign flips and two swaps give the rest.
BASE = [1.6, 1.60108, -1.3, -1.192, 1.2, 1.2108, 0.5, 0.5034]
VARS = ["0.05", "1", "10", "50", "200"]
PAIRS = [(v, v) for v in VARS] + [("1", "200"), ("0.05", "50")]
RHOS = [0.6, 0.9, 0.99, 0.999, 1 - 1e-5, 1 - 1e-7, -0.9, -0.999, -(1 - 1e-6)]
# the large-variance pairs where Mehler reaches but the nested form is computed too (which = 0)
CROSS = {"s200_200_rho0.9000178095", "s1_200_rho-0.9000178095"}


def signed_perms():
    """(rho, signs, perm) over sign flips x (identity, one or two disjoint transpositions) of
    BASE, rho = v.Pv/|v|^2 < 1."""
    v = BASE
    n = len(v)
    n2 = sum(a * a for a in v)
    perms = [tuple(range(n))]
    pairs = list(itertools.combinations(range(n), 2))
    for i, j in pairs:
        p = list(range(n))
        p[i], p[j] = j, i
        perms.append(tuple(p))
    for (i, j), (k, l) in itertools.combinations(pairs, 2):
        if len({i, j, k, l}) == 4:
            p = list(range(n))
            p[i], p[j], p[k], p[l] = j, i, l, k
            perms.append(tuple(p))
    out = []
    for perm in perms:
        base = [v[i] * v[perm[i]] for i in range(n)]
        for signs in itertools.product((1, -1), repeat=n):
            r = sum(sg * b for sg, b in zip(signs, base)) / n2
            if abs(r) < 1 - 1e-12:
                out.append((r, signs, perm))
    return out


def nearest(cands, target):
    """The candidate whose 1 - |rho| is closest to the target's in log scale, same sign."""
    def dist(c):
        if (c[0] > 0) != (target > 0):
            return math.inf
        return abs(math.log((1 - abs(c[0])) / (1 - abs(target))))
    return min(cands, key=dist)


def cases():
    cands = signed_perms()
    out = []
    n2 = sum(a * a for a in BASE) / len(BASE)
    for v1, v2 in PAIRS:
        c1, c2 = math.sqrt(float(v1) / n2), math.sqrt(float(v2) / n2)
        for target in RHOS:
            r, signs, perm = nearest(cands, target)
            x = [c1 * a for a in BASE]
            y = [c2 * signs[i] * BASE[perm[i]] for i in range(len(BASE))]
            assert sorted(abs(b) for b in y) == sorted(abs(c2 * a) for a in BASE)
            out.append((f"s{v1}_{v2}_rho{r:.10g}", x, y))
    return out


def cov(x, y):
    with mp.workdps(80):
        return +mp.fsum(mp.mpf(u) * mp.mpf(v) for u, v in zip(x, y)) / len(x)


# ---------------------------------------------------------------- self-checks
def erf_closed(s11, s22, s12):
    q = (1 + 2 * s11) * (1 + 2 * s22)
    return 2 / PI * mp.asin(2 * s12 / mp.sqrt(q)), 4 / PI / mp.sqrt(q - 4 * s12 ** 2)


def self_check(log):
    t0 = time.time()
    # erf: entire, with the step-like shape at s = 200; distance scale 1 in the argument.
    ACTS["erf"] = (mp.erf, lambda x: 2 / mp.sqrt(PI) * mp.exp(-x * x), mp.mpf(0), mp.mpf(1),
                   mp.mpf(1))
    for s11, s22, r in [(200, 200, "0.9"), (200, 200, "0.999"), (1, 200, "-0.99999"),
                        (200, 200, "-0.9999999")]:
        s11, s22 = mp.mpf(s11), mp.mpf(s22)
        s12 = mp.mpf(r) * mp.sqrt(s11 * s22)
        want = erf_closed(s11, s22, s12)
        for which in (0, 1):
            got = nested("erf", which, s11, s22, s12)
            err = abs(got - want[which]) / abs(want[which])
            assert err < mp.mpf(10) ** -28, ("erf nested", s11, s22, r, which, got, want[which])
            log(f"# self-check erf nested s=({float(s11):g},{float(s22):g}) rho={r} "
                f"which={which}: rel err {mp.nstr(err, 3)}")
        if r == "0.9":
            for which in (0, 1):
                m = mehler_reaches("erf", which, s11, s22, mp.mpf(r))
                err = abs(m[0] - want[which]) / abs(want[which])
                assert err < mp.mpf(10) ** -24, ("erf mehler", which, m[0], want[which])
                log(f"# self-check erf mehler s=200 rho=0.9 which={which}: rel err "
                    f"{mp.nstr(err, 3)}")
    del ACTS["erf"]
    # the nested panels with 48 nodes each against 24, and the Gauss-Hermite inner rule
    # against the panels, on the hardest layouts (poles nearest: tanh and the custom sigma)
    for name in ("tanh", "custom"):
        for s11, s22, r, force in [(200, 200, "0.99", False), (200, 200, "-0.999999", False),
                                   (200, 200, "-0.999999", True)]:
            s11, s22 = mp.mpf(s11), mp.mpf(s22)
            s12 = mp.mpf(r) * mp.sqrt(s11 * s22)
            a = nested(name, 0, s11, s22, s12, 24)
            b = nested(name, 0, s11, s22, s12, 48, force_panels=force)
            sc = mp.sqrt(second_moment(name, 0, s11) * second_moment(name, 0, s22))
            assert abs(a - b) < mp.mpf(10) ** -28 * sc, (name, r, a, b)
            what = "GH inner vs 48-node panels" if force else "24 vs 48 nodes"
            log(f"# self-check {name} {what} s=({float(s11):g},{float(s22):g}) "
                f"rho={r}: diff/scale {mp.nstr(abs(a - b) / sc, 3)}")
    log(f"# self-checks passed in {time.time() - t0:.0f} s")


def main():
    t0 = time.time()

    def log(msg):
        print(msg, flush=True)
        print(msg, file=sys.stderr, flush=True)

    print("# activation case x0..x7 y0..y7 E E' scaleE scaleE' "
          "(tools/limit_reference_rho_wide.py, mpmath 40 digits)")
    self_check(log)
    n_both = 0
    worst_agree = mp.mpf(0)
    for name in ACTS:
        for cname, x, y in cases():
            s11, s22, s12 = cov(x, x), cov(y, y), cov(x, y)
            r = s12 / mp.sqrt(s11 * s22)
            vals, scales, methods = [], [], set()
            for which in (0, 1):
                m = mehler_reaches(name, which, s11, s22, r)
                # the nested form everywhere Mehler fails, and as a cross-check where it
                # reaches: cheaply (Gauss-Hermite inner rule) at small variances near |rho| = 1,
                # and on one large-variance pair at rho ~ +-0.9 per activation
                nv = None
                if (m is None or (max(s11, s22) <= 2 and abs(r) >= 0.99)
                        or (which == 0 and cname in CROSS)):
                    nv = nested(name, which, s11, s22, s12)
                if m is not None and nv is not None:
                    d = abs(m[0] - nv) / m[2]
                    assert d < AGREE, (name, cname, which, m[0], nv)
                    worst_agree = max(worst_agree, d)
                    n_both += 1
                if m is not None:
                    methods.add("mehler")
                if nv is not None:
                    methods.add("nested")
                vals.append(m[0] if m is not None else nv)
                if m is not None:
                    scales.append(m[2])
                else:
                    scales.append(mp.sqrt(coef(name, which, s11)[1] * coef(name, which, s22)[1]))
            meth = "+".join(sorted(methods))
            xs = " ".join(repr(v) for v in x + y)
            print(f"{name} {cname} {xs} " + " ".join(mp.nstr(v, 30) for v in vals + scales),
                  flush=True)
            print(f"{name} {cname} {meth} t={time.time() - t0:.0f}s", file=sys.stderr,
                  flush=True)
    log(f"# {n_both} expectations by both methods, worst disagreement "
        f"{mp.nstr(worst_agree, 3)} of the scale")
    log(f"# generated in {time.time() - t0:.0f} s (one process)")


if __name__ == "__main__":
    main()
