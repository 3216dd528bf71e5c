//! Near-duplicate and near-antipodal pairs of the (leaky) ReLU limit kernels (issue 17, part 1).
//!
//! The fused chain ([`super::chain`]) forms det = s_i s_j − s12² from the covariance, which
//! cancels when |ρ| → 1 (√det then carries a relative error ≈ ε/(1 − ρ²)), and snaps to ρ = ±1
//! inside the band 1 − ρ² < 16ε, dropping the angle the arc-cosine kernels depend on linearly.
//! The pairs the Gram GEMM flags as close (1 − ρ² < [`NEAR_REL`] at layer 1) are recomputed here
//! after the fused chain, in a fix-up pass, from a cancellation-free quantity carried through
//! the layers: with a = √s_i, b = √s_j, r = ab, the gap c = ab − s12 ≥ 0 (ρ ≈ +1) or
//! c̄ = ab + s12 ≥ 0 (ρ ≈ −1), and δ = a − b. Then det = c(2r − c) and the angle ψ (θ on the + side, φ = π − θ on the −
//! side) is atan2(√det, r − c) ∈ [0, π/2]: no subtraction of nearly equal numbers.
//!
//! Layer 1 (Σ^(1) = xᵀx′/n_0 + β²), from the inputs directly: δ = (s_i − s_j)/(a + b) with
//! s_i − s_j = (x − x′)ᵀ(x + x′)/n_0, and
//! - n_0 ≤ [`LAGRANGE_MAX_DIM`]: Lagrange's identity, exact for any offset direction,
//!   det = Σ_{k<l} (x_k x′_l − x_l x′_k)²/n_0² + β²‖x − x′‖²/n_0 (each minor by Kahan's FMA
//!   algorithm, every term ≥ 0), c = det/(r + |s12|) on either side;
//! - n_0 > [`LAGRANGE_MAX_DIM`]: as 2(ab ∓ s12) = (s_i + s_j ∓ 2 s12) − δ²,
//!   c = (‖x − x′‖²/n_0 − δ²)/2 and c̄ = (‖x + x′‖²/n_0 + 4β² − δ²)/2, exact while the angular
//!   part of x ∓ x′ is not far below its radial part (relative error ≈ ε·(radial/angular)²).
//!
//! Layer map of leaky ReLU with slope α, h = (1 + α²)/2, k = (1 − α)²/(2π),
//! E = k√det + (h − kθ)s12, E′ = h − kθ, and g(ψ) = sin ψ − ψ cos ψ ≥ 0 (a series for ψ ≤ 1):
//! - ρ ≈ +1: E = h s12 + k·r·g(θ), E′ = h − kθ; with s′ = h s + β² per point,
//!   a′b′ − (h r + β²) = β²hδ²/(a′b′ + h r + β²), so
//!   c′ = a′b′ − E − β² = β²hδ²/(a′b′ + h r + β²) + (h c − k·r·g(θ)),
//!   where h c − k r g = r[h(1 − cos θ) − k g(θ)] > 0 for θ ≤ π/2 (no cancellation).
//! - ρ ≈ −1 (θ = π − φ, h − kπ = α): E = −α(r − c̄) + k·r·g(φ), E′ = α + kφ, and
//!   c̄′ = a′b′ + E + β² = (β²h(s_i + s_j) + β⁴)/(a′b′ + h r) + β² + (h − α) r + α c̄ + k r g(φ),
//!   with h − α = (1 − α)²/2 ≥ 0.
//! - δ′ = a′ − b′ = h(s_i − s_j)/(a′ + b′) = h δ (a + b)/(a′ + b′).
//!
//! A gap that passes r (ρ changes sign) switches side: c̄ = 2r − c. Θ^(l+1) = Θ^(l)·E′ + Σ^(l+1)
//! as in the fused chain.
//!
//! An exact copy of x (x′ = x bit for bit) gets x's own per-point chain, so it gives the
//! diagonal value bit for bit (the fused chain's snapped h·(√s_i·√s_j) could differ from
//! h·s_i by an ulp); an exact negation at β = 0 gets gap 0, i.e. exactly Σ̇ = α, Σ = −α s.
//!
//! Cost per flagged pair: the seed, O(n_0²) (n_0 ≤ [`LAGRANGE_MAX_DIM`]) or O(n_0), plus one
//! square root, one atan2, three divisions and a 10-term polynomial per layer, run layer by
//! layer over a row's flagged entries; unflagged pairs pay one multiply-add and a comparison
//! (the flag test). Measured (2026-12-02, shared 2-core machine, N = 2000, L = 5, β = 0.1):
//! random inputs at d = 2, 5, 100 unchanged within noise (≈ 0.04 s); inputs clustered within
//! 1e-3 of one point, every pair flagged: d = 5 0.36 s, d = 100 0.74 s.

use super::fastmath::atan2_upper_nonzero;
use crate::linalg::MatRef;
use std::f64::consts::PI;

/// Pairs with 1 − ρ² < NEAR_REL at layer 1 take the gap recursion. Above it the fused chain's
/// cancellation error ε/(1 − ρ²) is below 1e-13.
pub const NEAR_REL: f64 = 1e-3;

/// Whether a layer-1 pair (variances s_i, s_j > 0, covariance x) is flagged for the fix-up.
#[inline(always)]
pub fn is_near(si: f64, sj: f64, x: f64) -> bool {
    let p = si * sj;
    p > 0.0 && (-x).mul_add(x, p) < NEAR_REL * p
}

/// Input dimensions up to which the layer-1 gap comes from Lagrange's identity (O(n_0²) per
/// flagged pair, exact for any offset direction); above it from ‖x ∓ x′‖² − n_0δ² (O(n_0), exact
/// while the angular part of x − x′ is not far below its radial part: the gap's relative
/// error is ≈ ε·(radial/angular)²).
pub const LAGRANGE_MAX_DIM: usize = 64;

/// a·b − c·d with an error of at most 1.5 ulp of the result (Kahan's algorithm with FMA).
#[inline(always)]
fn minor(a: f64, b: f64, c: f64, d: f64) -> f64 {
    let w = c * d;
    let e = (-c).mul_add(d, w);
    let f = a.mul_add(b, -w);
    f + e
}

/// g(t) = sin t − t cos t = t³ Σ_{m≥0} (−1)^m (2m+2)/(2m+3)! t^{2m}, for 0 ≤ t ≤ 1 (10 terms:
/// the first omitted is 22/23!·t²⁰ < 1e-21, and the terms fall by ≥ 10× so the sum does not
/// cancel).
#[inline(always)]
fn g_series(t: f64) -> f64 {
    /// (−1)^m (2m+2)/(2m+3)! for m = 0..10 (the nearest f64 of each, from mpmath).
    const COEF: [f64; 10] = [
        0.3333333333333333,
        -0.03333333333333333,
        0.0011904761904761906,
        -2.2045855379188714e-05,
        2.505210838544172e-07,
        -1.9270852604185937e-09,
        1.0706029224547743e-11,
        -4.498331606952833e-14,
        1.4797143443923793e-16,
        -3.9145882126782523e-19,
    ];
    let w = t * t;
    let mut s = 0.0f64;
    for &c in COEF.iter().rev() {
        s = s.mul_add(w, c);
    }
    t * w * s
}

/// A flagged entry of a tile row and its gap-recursion state.
#[derive(Clone, Copy, Debug, Default)]
pub struct Near {
    /// Column offset in the row.
    pub k: usize,
    /// Σ^(1) of the pair (from the Gram GEMM).
    pub s12_1: f64,
    /// The gap c (`plus`) or c̄, and δ = √s_i − √s_j, at the current layer.
    gap: f64,
    delta: f64,
    plus: bool,
    /// Σ, Σ̇, Θ after the layers done so far.
    s: f64,
    ed: f64,
    th: f64,
    /// Done: an exact copy (x's own chain) or a non-finite seed (the fused value stands).
    done: bool,
    /// Whether to overwrite the fused chain's entry.
    write: bool,
}

impl Near {
    pub fn new(k: usize, s12_1: f64) -> Near {
        Near {
            k,
            s12_1,
            ..Default::default()
        }
    }
}

/// Per-layer values of the row point i (index l·stride_i) and of the row's columns (column k
/// at index l·stride + k).
pub struct RowData<'a> {
    /// Slope α (ReLU: 0).
    pub slope: f64,
    pub beta2: f64,
    /// Number of layer maps L − 1 (≥ 1).
    pub layers: usize,
    pub var_i: &'a [f64],
    pub sd_i: &'a [f64],
    /// E[σ′(u)²] of i at layer l (l < layers).
    pub ddiag_i: &'a [f64],
    pub stride_i: usize,
    pub var_j: &'a [f64],
    pub sd_j: &'a [f64],
    pub stride: usize,
}

/// Seeds the gap of entry `e` (row xi of `x` against row xj of `y`; module docs). An exact copy
/// of x gets x's diagonal chain right away.
#[inline(always)]
fn seed(p: &RowData<'_>, x: MatRef<'_>, xi: usize, y: MatRef<'_>, yj: usize, e: &mut Near) {
    let n0 = x.cols() as f64;
    let (mut dd, mut ss, mut df) = (0.0f64, 0.0f64, 0.0f64);
    for k in 0..x.cols() {
        let (u, v) = (x.at(xi, k), y.at(yj, k));
        let (m, q) = (u - v, u + v);
        dd = m.mul_add(m, dd);
        ss = q.mul_add(q, ss);
        df = m.mul_add(q, df);
    }
    let si = p.stride_i;
    e.done = true;
    e.write = true;
    if dd == 0.0 {
        // An exact copy of x (u − v = 0 in every coordinate): x's own chain, with the
        // tile's Θ update, so the entry equals the diagonal value bit for bit.
        let mut th = p.var_i[0];
        for l in 0..p.layers {
            th = th.mul_add(p.ddiag_i[l * si], p.var_i[(l + 1) * si]);
        }
        e.s = p.var_i[p.layers * si];
        e.ed = p.ddiag_i[(p.layers - 1) * si];
        e.th = th;
        return;
    }
    let (a0, b0) = (p.sd_i[0], p.sd_j[e.k]);
    let s12_1 = e.s12_1;
    let delta = (df / n0) / (a0 + b0);
    let plus = s12_1 >= 0.0;
    let gap = if x.cols() <= LAGRANGE_MAX_DIM {
        // det = s_i s_j − s12² = Σ_{k<l} m_kl²/n_0² + β²‖x − x′‖²/n_0 (Lagrange's identity;
        // every term ≥ 0), then c = det/(r + s12) or c̄ = det/(r − s12).
        let mut m2 = 0.0f64;
        for k in 0..x.cols() {
            let (xk, yk) = (x.at(xi, k), y.at(yj, k));
            for l in k + 1..x.cols() {
                let m = minor(xk, y.at(yj, l), x.at(xi, l), yk);
                m2 = m.mul_add(m, m2);
            }
        }
        let det = m2 / (n0 * n0) + p.beta2 * (dd / n0);
        det / (a0 * b0 + s12_1.abs())
    } else {
        let sum = if plus {
            dd / n0
        } else {
            ss / n0 + 4.0 * p.beta2
        };
        (0.5 * (-delta).mul_add(delta, sum)).max(0.0)
    };
    if !gap.is_finite() {
        e.write = false;
        return;
    }
    e.gap = gap;
    e.delta = delta;
    e.plus = plus;
    e.th = s12_1;
    e.done = false;
}

/// Layer l of the gap recursion for entry `e` (module docs).
#[inline(always)]
fn step(p: &RowData<'_>, l: usize, e: &mut Near) {
    let al = p.slope;
    let h = 0.5 * (1.0 + al * al);
    let kc = (1.0 - al) * (1.0 - al) / (2.0 * PI);
    let b2 = p.beta2;
    let (mut gap, mut plus) = (e.gap, e.plus);
    let (a, b) = (p.sd_i[l * p.stride_i], p.sd_j[l * p.stride + e.k]);
    let r = a * b;
    if gap > r {
        gap = 2.0 * r - gap;
        plus = !plus;
    }
    let cosr = r - gap; // r·cos ψ ≥ 0
    let sd = (gap * (2.0 * r - gap)).max(0.0).sqrt(); // √det = r·sin ψ
                                                      // ψ ∈ [0, π/2] (≤ 2 ulp; (√det, r cos ψ) ≠ (0, 0) as r > 0)
    let ang = atan2_upper_nonzero(sd, cosr);
    let rg = if ang <= 1.0 {
        r * g_series(ang)
    } else {
        sd - ang * cosr
    };
    let (ev, ed) = if plus {
        (h.mul_add(cosr, kc * rg), (-kc).mul_add(ang, h))
    } else {
        ((-al).mul_add(cosr, kc * rg), kc.mul_add(ang, al))
    };
    let s = ev + b2;
    e.s = s;
    e.ed = ed;
    e.th = e.th.mul_add(ed, s);
    if l + 1 < p.layers {
        let (a1, b1) = (
            p.sd_i[(l + 1) * p.stride_i],
            p.sd_j[(l + 1) * p.stride + e.k],
        );
        let r1 = a1 * b1;
        let delta = e.delta;
        e.gap = if plus {
            b2 * h * delta * delta / (r1 + h * r + b2) + h.mul_add(gap, -kc * rg)
        } else {
            let (si, sj) = (p.var_i[l * p.stride_i], p.var_j[l * p.stride + e.k]);
            (b2 * h * (si + sj) + b2 * b2) / (r1 + h * r)
                + b2
                + 0.5 * (1.0 - al) * (1.0 - al) * r
                + al * gap
                + kc * rg
        };
        e.plus = plus;
        e.delta = h * delta * (a + b) / (a1 + b1);
    }
}

/// Runs the gap recursion for the flagged entries `near` of row xi of `x` (columns j0 + k of
/// `y`) and overwrites their Σ, Σ̇, Θ in `s12`, `dot`, `theta`. Layer by layer over all the
/// entries, so the out-of-order core overlaps the latencies of independent pairs.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn fix_row(
    p: &RowData<'_>,
    x: MatRef<'_>,
    xi: usize,
    y: MatRef<'_>,
    j0: usize,
    near: &mut [Near],
    s12: &mut [f64],
    dot: &mut [f64],
    theta: &mut [f64],
) {
    if p.layers == 0 {
        return;
    }
    for e in near.iter_mut() {
        seed(p, x, xi, y, j0 + e.k, e);
    }
    for l in 0..p.layers {
        for e in near.iter_mut().filter(|e| !e.done) {
            step(p, l, e);
        }
    }
    for e in near.iter().filter(|e| e.write) {
        s12[e.k] = e.s;
        dot[e.k] = e.ed;
        theta[e.k] = e.th;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The series against sin t − t cos t with libm: at t ∈ [0.5, 1] the direct form cancels by
    /// at most 10× (so agrees to ~1e-15), and for small t against t³/3 − t⁵/30 + t⁷/840.
    #[test]
    fn g_series_matches_direct_and_leading_terms() {
        for i in 0..=50 {
            let t = 0.5 + 0.01 * i as f64;
            let direct = libm::sin(t) - t * libm::cos(t);
            let got = g_series(t);
            assert!(
                (got - direct).abs() <= 2e-15 * direct,
                "t={t}: {got} vs {direct}"
            );
        }
        for &t in &[1e-300, 1e-20, 1e-8, 1e-4, 1e-2] {
            let w = t * t;
            let want = t * w * (1.0 / 3.0 - w / 30.0 + w * w / 840.0);
            assert!((g_series(t) - want).abs() <= 1e-16 * want, "t={t}");
        }
    }

    /// A row of near pairs (angular and radial offsets, x′ ≈ ±x, an exact copy) through the
    /// widest instruction set and the portable code: the same bits.
    #[test]
    fn fix_row_bits_do_not_depend_on_the_instruction_set() {
        let n0 = 3;
        let x = [0.7, -1.1, 0.4];
        let mut ys = Vec::new();
        for k in 1..=15 {
            let h = 10f64.powi(-k);
            for sgn in [1.0, -1.0] {
                ys.extend([sgn * x[0] + h, sgn * x[1] - 0.3 * h, sgn * x[2] + 0.2 * h]);
            }
        }
        ys.extend(x);
        let w = ys.len() / n0;
        let beta2 = 0.09;
        let layers = 4;
        let slope = 0.2;
        let h = 0.5 * (1.0 + slope * slope);
        let chain = |s0: f64| -> Vec<f64> {
            let mut v = vec![s0];
            for _ in 0..layers {
                let last = *v.last().unwrap();
                v.push(h * last + beta2);
            }
            v
        };
        let sq = |p: &[f64]| p.iter().map(|v| v * v).sum::<f64>() / n0 as f64 + beta2;
        let vi = chain(sq(&x));
        let sdi: Vec<f64> = vi.iter().map(|v| v.sqrt()).collect();
        let ddi = vec![h; layers];
        let mut var_j = vec![0.0; (layers + 1) * w];
        let mut near = Vec::new();
        for k in 0..w {
            for (l, v) in chain(sq(&ys[k * n0..(k + 1) * n0])).into_iter().enumerate() {
                var_j[l * w + k] = v;
            }
            let s1 = (0..n0).map(|c| x[c] * ys[k * n0 + c]).sum::<f64>() / n0 as f64 + beta2;
            near.push(Near::new(k, s1));
        }
        let sd_j: Vec<f64> = var_j.iter().map(|v| v.sqrt()).collect();
        let rd = RowData {
            slope,
            beta2,
            layers,
            var_i: &vi,
            sd_i: &sdi,
            ddiag_i: &ddi,
            stride_i: 1,
            var_j: &var_j,
            sd_j: &sd_j,
            stride: w,
        };
        let xm = MatRef::from_row_major(&x, 1, n0);
        let ym = MatRef::from_row_major(&ys, w, n0);
        let run = |isa: crate::simd::Isa| {
            let (mut s, mut d, mut t) = (vec![0.0; w], vec![0.0; w], vec![0.0; w]);
            let mut nr = near.clone();
            let (rd, nr_, s_, d_, t_) = (&rd, &mut nr[..], &mut s[..], &mut d[..], &mut t[..]);
            crate::simd::dispatch!(isa; fn(
                rd: &RowData<'_>,
                xm: MatRef<'_>,
                ym: MatRef<'_>,
                nr_: &mut [Near],
                s_: &mut [f64],
                d_: &mut [f64],
                t_: &mut [f64]
            ) {
                fix_row(rd, xm, 0, ym, 0, nr_, s_, d_, t_)
            });
            (s, d, t)
        };
        let b = run(crate::simd::Isa::Scalar);
        for isa in crate::simd::Isa::all() {
            let a = run(isa);
            for k in 0..w {
                assert_eq!(a.0[k].to_bits(), b.0[k].to_bits(), "{isa:?} k={k}");
                assert_eq!(a.1[k].to_bits(), b.1[k].to_bits(), "{isa:?} k={k}");
                assert_eq!(a.2[k].to_bits(), b.2[k].to_bits(), "{isa:?} k={k}");
            }
        }
        let a = &b;
        for k in 0..w {
            assert!(a.0[k].is_finite() && a.2[k] != 0.0);
        }
        // The exact copy (last) got the diagonal chain.
        assert_eq!(a.0[w - 1], vi[layers]);
    }
}
