#!/usr/bin/env python3
"""60-digit references of the closed-form limit kernels (ReLU, leaky ReLU 0.2, erf) at
near-duplicate and near-antipodal pairs, for tests/limit_reference_closed.rs (issue 17, part 1).

Run: python3 tools/limit_reference_closed.py > tests/data/limit_closed_mpmath.txt (seconds).

Each case is a pair of f64 points (x, y) in n_0 = 2 dimensions and an f64 beta; the recursion
  Sigma^(1) = x.y/2 + beta^2,  Theta^(1) = Sigma^(1),
  Sigma^(l+1) = E[s(u)s(v)] + beta^2,  SigmaDot^(l+1) = E[s'(u)s'(v)],
  Theta^(l+1) = Theta^(l) SigmaDot^(l+1) + Sigma^(l+1)
runs in mpmath at 60 digits from the exact inputs, with the closed forms (c = s12, p = s11 s22)
  leaky ReLU slope a: theta = acos(c / sqrt p),
    E = (1-a)^2/(2 pi) sqrt(p - c^2) + ((1+a^2)/2 - (1-a)^2 theta/(2 pi)) c,
    E' = (1+a^2)/2 - (1-a)^2 theta/(2 pi);
  erf: E = (2/pi) asin(2c / sqrt((1+2 s11)(1+2 s22))), E' = (4/pi) / sqrt((1+2 s11)(1+2 s22) - 4c^2).
At 60 digits, 1 - rho >= 1e-32 here keeps >= 40 correct digits in acos and sqrt(p - c^2).
Pairs: y = x + 10^-k |x| u (k = 1..15) and y = -x + 10^-k |x| u (k = 2, 6, 10, 14), x of
variance 1.125 and 450; beta = 0 and 1; depths 2..6.
Output, one line per (activation, case, beta, depth):
  activation name depth beta x0 x1 y0 y1 Sigma SigmaDot Theta
"""
import mpmath as mp

mp.mp.dps = 60


def unit(a, ang):
    return [a * float(mp.cos(ang)), a * float(mp.sin(ang))]


def cov(x, y):
    return mp.fsum(mp.mpf(a) * mp.mpf(b) for a, b in zip(x, y)) / 2


def expect(act, s1, s2, c):
    if act == "erf":
        q = (1 + 2 * s1) * (1 + 2 * s2)
        return 2 / mp.pi * mp.asin(2 * c / mp.sqrt(q)), 4 / mp.pi / mp.sqrt(q - 4 * c * c)
    a = mp.mpf(0) if act == "relu" else mp.mpf(0.2)
    p = s1 * s2
    r = c / mp.sqrt(p)
    r = min(max(r, mp.mpf(-1)), mp.mpf(1))
    th = mp.acos(r)
    k = (1 - a) ** 2 / (2 * mp.pi)
    ed = (1 + a * a) / 2 - k * th
    return k * mp.sqrt(max(p - c * c, mp.mpf(0))) + ed * c, ed


def cases():
    out = []
    u = unit(1.0, 2.0)
    for bname, x in (("s1", unit(1.5, 0.3)), ("s450", unit(30.0, 0.4))):
        nx = (x[0] ** 2 + x[1] ** 2) ** 0.5
        for k in range(1, 16):
            h = 10.0 ** -k * nx
            out.append((f"{bname}_neardup_k{k}", x, [x[0] + h * u[0], x[1] + h * u[1]]))
        for k in (2, 6, 10, 14):
            h = 10.0 ** -k * nx
            out.append((f"{bname}_nearanti_k{k}", x, [-x[0] + h * u[0], -x[1] + h * u[1]]))
    return out


def main():
    # leaky ReLU's slope 0.2 is the f64 nearest 0.2; the library's a is that f64 too.
    for act in ("relu", "leaky0.2", "erf"):
        for name, x, y in cases():
            for beta in (0.0, 1.0):
                b2 = mp.mpf(beta) ** 2
                s1, s2, c = cov(x, x) + b2, cov(y, y) + b2, cov(x, y) + b2
                th = c
                for depth in range(2, 7):
                    e, ed = expect(act, s1, s2, c)
                    e1, _ = expect(act, s1, s1, s1)
                    e2, _ = expect(act, s2, s2, s2)
                    s1, s2, c = e1 + b2, e2 + b2, e + b2
                    th = th * ed + c
                    vals = " ".join(mp.nstr(v, 30) for v in (c, ed, th))
                    print(f"{act} {name} {depth} {beta!r} {x[0]!r} {x[1]!r} {y[0]!r} {y[1]!r} {vals}")


if __name__ == "__main__":
    main()
