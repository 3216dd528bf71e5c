#!/usr/bin/env python3
"""80-digit references of the (leaky) ReLU limit kernels at near-duplicate and near-antipodal
pairs in n_0 = 5 dimensions, for tests/limit_neardup.rs (issue 17, part 1; complements
tools/limit_reference_closed.py, whose pairs are 2-D with one fixed offset direction).

Run: python3 tools/limit_reference_neardup.py > tests/data/limit_neardup_mpmath.txt (seconds).

Points: two random f64 points x in R^5 (seeded), of squared norms ~1 and ~3000. Offsets
y = +-x + 10^-k |x| u, k = 1..15 (+x) and k = 2, 5, 8, 11, 14 (-x), with
u = cos(al) xhat + sin(al) w (w a random unit vector orthogonal to x) for al = 1 (mostly
angular) and al = 1e-3 (mostly radial: the angle between x and y is ~1e-3 of |x - y|/|x|).
y is rounded to f64; the references are for the f64 values, taken as exact.
Slopes a = 0 (ReLU), 0.2 and -0.5; beta = 0 and 0.3; depths 2..6. Recursion and closed forms
as in tools/limit_reference_closed.py (Sigma^(1) = x.y/5 + beta^2, theta = acos(rho)).
At 80 digits 1 - rho >= 1e-40 here keeps >= 40 correct digits in acos and sqrt(p - c^2).
Also pairs of independent random points of variance ~0.01 at beta = 1, depths 2..8, whose
correlation beta^2 drives towards 1 in the deeper layers (1 - rho ~ 1e-5 at depth 8) although
the pair is not near at layer 1.
Output, one line per (slope, case, beta, depth):
  slope name depth beta x0..x4 y0..y4 Sigma SigmaDot Theta
"""
import random

import mpmath as mp

mp.mp.dps = 80
N0 = 5


def cov(x, y):
    return mp.fsum(mp.mpf(a) * mp.mpf(b) for a, b in zip(x, y)) / N0


def expect(a, s1, s2, c):
    p = s1 * s2
    r = c / mp.sqrt(p)
    r = min(max(r, mp.mpf(-1)), mp.mpf(1))
    th = mp.acos(r)
    k = (1 - a) ** 2 / (2 * mp.pi)
    ed = (1 + a * a) / 2 - k * th
    return k * mp.sqrt(max(p - c * c, mp.mpf(0))) + ed * c, ed


def cases():
    rng = random.Random(17)
    out = []
    for bname, scale in (("n1", 1.0), ("n3000", 55.0)):
        x = [rng.gauss(0, 1) * scale / N0 ** 0.5 for _ in range(N0)]
        nx = sum(v * v for v in x) ** 0.5
        xh = [v / nx for v in x]
        w = [rng.gauss(0, 1) for _ in range(N0)]
        d = sum(a * b for a, b in zip(w, xh))
        w = [a - d * b for a, b in zip(w, xh)]
        nw = sum(v * v for v in w) ** 0.5
        w = [v / nw for v in w]
        for aname, al in (("ang", 1.0), ("rad", 1e-3)):
            u = [mp.cos(al) * a + mp.sin(al) * b for a, b in zip(xh, w)]
            for sgn, ks in ((1, range(1, 16)), (-1, (2, 5, 8, 11, 14))):
                for k in ks:
                    h = 10.0 ** -k * nx
                    y = [float(sgn * mp.mpf(a) + h * b) for a, b in zip(x, u)]
                    tag = "neardup" if sgn > 0 else "nearanti"
                    out.append((f"{bname}_{aname}_{tag}_k{k}", x, y))
    return out


def main():
    for slope in (0.0, 0.2, -0.5):
        a = mp.mpf(slope)
        for name, x, y in cases():
            for beta in (0.0, 0.3):
                b2 = mp.mpf(beta) ** 2
                s1, s2, c = cov(x, x) + b2, cov(y, y) + b2, cov(x, y) + b2
                th = c
                for depth in range(2, 7):
                    e, ed = expect(a, s1, s2, c)
                    e1, _ = expect(a, s1, s1, s1)
                    e2, _ = expect(a, s2, s2, s2)
                    s1, s2, c = e1 + b2, e2 + b2, e + b2
                    th = th * ed + c
                    vals = " ".join(mp.nstr(v, 30) for v in (c, ed, th))
                    pts = " ".join(repr(v) for v in list(x) + list(y))
                    print(f"{slope!r} {name} {depth} {beta!r} {pts} {vals}")
        rng = random.Random(5)
        for q in range(4):
            x = [rng.gauss(0, 1) * 0.1 for _ in range(N0)]
            y = [rng.gauss(0, 1) * 0.1 for _ in range(N0)]
            beta = 1.0
            b2 = mp.mpf(beta) ** 2
            s1, s2, c = cov(x, x) + b2, cov(y, y) + b2, cov(x, y) + b2
            th = c
            for depth in range(2, 9):
                e, ed = expect(a, s1, s2, c)
                e1, _ = expect(a, s1, s1, s1)
                e2, _ = expect(a, s2, s2, s2)
                s1, s2, c = e1 + b2, e2 + b2, e + b2
                th = th * ed + c
                vals = " ".join(mp.nstr(v, 30) for v in (c, ed, th))
                pts = " ".join(repr(v) for v in list(x) + list(y))
                print(f"{slope!r} small{q}_betadriven_k0 {depth} {beta!r} {pts} {vals}")


if __name__ == "__main__":
    main()
