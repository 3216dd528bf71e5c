#!/usr/bin/env python3
"""Full depth-2 limit-kernel references by NESTED 2-D mpmath quadrature (run: python3
tools/limit_reference.py [activation...]). Slow (a nested 20-digit mpmath quad for every
entry); the tests use tools/limit_reference_pairs.py instead, which needs no 2-D integral. Kept for spot checks of general correlations.

Limit kernels of depth L = 2 (one nonlinearity), beta = 0, n_0 = 5, for hard inputs:
A (norm 30: s = 180, the activation is a near-step), B = A + 1e-3 perturbation (correlation
1 - 1e-9), C = -A (antipodal), D (moderate), Z = 0 (zero variance). For L = 2:
  Sigma2 = E[s(u)s(v)],  SigmaDot2 = E[s'(u)s'(v)],  Theta2 = Sigma1 * SigmaDot2 + Sigma2,
with (u, v) ~ N(0, [[s11, s12], [s12, s22]]), Sigma1 = x.x'/5 computed exactly from the f64
inputs. Expectations are computed with mpmath at 20 digits: exact 1-D reductions for
correlation +-1 and zero variance, and otherwise the nested form
  E[f(u) g(v)] = int phi(z1) f(r1 z1) int phi(z2) g(m + tau z2) dz2 dz1,
  m = r2 rho z1, tau = r2 sqrt(1 - rho^2),
each integral split where the activation's argument crosses its transition region.
"""
import mpmath as mp
import sys

mp.mp.dps = 20
Z_MAX = 16

def mpf(x):
    return mp.mpf(float(x))

A = [1.0, 2.0, -1.0, 0.5, 1.5]
nrm = sum(a * a for a in A) ** 0.5
A = [30.0 * a / nrm for a in A]
B = [a + 1e-3 * d for a, d in zip(A, [0.3, -0.2, 0.5, 0.1, -0.4])]
C = [-a for a in A]
D = [0.3, -0.5, 0.2, 0.1, 0.4]
Zp = [0.0] * 5
POINTS = {"A": A, "B": B, "C": C, "D": D, "Z": Zp}
PAIRS = [("A", "A"), ("A", "C"), ("D", "D"), ("Z", "A"), ("Z", "Z"), ("A", "D"), ("A", "B")]

def tanh(x): return mp.tanh(x)
def dtanh(x): return 1 - mp.tanh(x) ** 2
def sigm(x): return 1 / (1 + mp.exp(-x))
def dsigm(x): s = sigm(x); return s * (1 - s)
def softplus(x): return mp.log1p(mp.exp(x)) if x < 0 else x + mp.log1p(mp.exp(-x))
def Phi(x): return mp.erfc(-x / mp.sqrt(2)) / 2
def gelu(x): return x * Phi(x)
def dgelu(x): return Phi(x) + x * mp.npdf(x)
def custom(x): return mp.tanh(2 * x - 1)
def dcustom(x): return 2 * (1 - mp.tanh(2 * x - 1) ** 2)

ACTS = {
    "tanh": (tanh, dtanh, 0),
    "sigmoid": (sigm, dsigm, 0),
    "softplus": (softplus, sigm, 0),
    "gelu": (gelu, dgelu, 0),
    "custom": (custom, dcustom, mp.mpf(1) / 2),  # transition of tanh(2x - 1) at x = 1/2
}

def pts(scale, shift, center):
    """z where scale*z + shift = center + c for c in 0, +-1/4, ..., +-64, inside (-Z, Z)."""
    out = {mp.mpf(-Z_MAX), mp.mpf(Z_MAX)}
    if scale != 0:
        cs = [0] + [s * mp.mpf(2) ** k for k in range(-2, 7) for s in (1, -1)]
        for c in cs:
            z = (center + c - shift) / scale
            if abs(z) < Z_MAX:
                out.add(z)
    return sorted(out)

def e1(f, s, center):
    """E[f(sqrt(s) z)]."""
    if s == 0:
        return f(mp.mpf(0))
    r = mp.sqrt(s)
    return mp.quad(lambda z: mp.npdf(z) * f(r * z), pts(r, 0, center))

def e2(f, g, s11, s22, s12, center):
    if s11 == 0:
        return f(mp.mpf(0)) * e1(g, s22, center)
    if s22 == 0:
        return g(mp.mpf(0)) * e1(f, s11, center)
    r1, r2 = mp.sqrt(s11), mp.sqrt(s22)
    rho = s12 / (r1 * r2)
    if abs(rho) == 1:
        return mp.quad(lambda z: mp.npdf(z) * f(r1 * z) * g(rho * r2 * z), pts(r1, 0, center))
    tau = r2 * mp.sqrt((1 - rho) * (1 + rho))
    def inner(z1):
        m = r2 * rho * z1
        return mp.quad(lambda z2: mp.npdf(z2) * g(m + tau * z2), pts(tau, m, center))
    br = sorted(set(pts(r1, 0, center)) | set(pts(r2 * abs(rho), 0, center)))
    return mp.quad(lambda z1: mp.npdf(z1) * f(r1 * z1) * inner(z1), br)

def main():
    which = sys.argv[1:] or list(ACTS)
    print("// inputs (f64):")
    for k, v in POINTS.items():
        print(f"// {k} = [{', '.join(repr(float(x)) for x in v)}]")
    for name in which:
        f, df, center = ACTS[name]
        for (p, q) in PAIRS:
            x, y = [mpf(t) for t in POINTS[p]], [mpf(t) for t in POINTS[q]]
            s11 = mp.fsum(a * a for a in x) / 5
            s22 = mp.fsum(a * a for a in y) / 5
            s12 = mp.fsum(a * b for a, b in zip(x, y)) / 5
            e = e2(f, f, s11, s22, s12, center)
            ed = e2(df, df, s11, s22, s12, center)
            th = s12 * ed + e
            print(f'    ("{name}", "{p}", "{q}", {mp.nstr(e, 25)}, {mp.nstr(ed, 25)}, {mp.nstr(th, 25)}),', flush=True)

if __name__ == "__main__":
    main()
