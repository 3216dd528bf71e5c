//! Fused layer chain of the closed-form kernels (ReLU, leaky ReLU, erf, GELU) over one tile row.
//!
//! For every entry (i, j) of a row, starting from s = Σ^(1)(x_i, x_j) and θ = s, the L − 1
//! layer maps
//!   ρ-snap,  (e, ė) = (E[σ(u)σ(v)], E[σ′(u)σ′(v)]) at (s_i^(l), s_j^(l), s),
//!   s ← e + β²,  ṡ ← ė,  θ ← θ·ṡ + s
//! run as one pass over the row per layer (instead of separate passes for the snap, the
//! expectation, +β² and the Θ update); the row (≤ 128 entries) stays in L1 and the out-of-order
//! core overlaps the square roots and divisions of neighbouring entries. (Keeping a block of
//! entries in registers across all layers instead was 1.3× slower: each layer then waits for
//! the latency of the previous layer's square root and division.) The loop is element-wise
//! code that LLVM vectorizes; it is compiled three times (AVX-512F, AVX2+FMA, portable), chosen at run
//! time (the caller's tile loop is the unit that is compiled per instruction set). The fused
//! multiply-adds are explicit `mul_add` (exactly rounded everywhere) and the compiler forms no
//! others, so every version gives the same bits, and so does any tiling or thread count.
//!
//! Per entry and layer the ReLU map costs one square root and one division (the one of
//! [`super::fastmath::atan2_upper`]); erf costs one square root and two divisions. The snap
//! (see [`super::SNAP_REL`]) replaces s by ±√s_i·√s_j from the per-point standard deviations,
//! so it costs a multiplication instead of a third square root.
//!
//! Diagonal entries of a symmetric kernel are not special here: the caller overwrites them with
//! the per-point chain.

use super::closed_form::{erf_pair_det, gelu_pair, snap, ClosedForm};
use super::fastmath::{atan2_upper, atan2_upper_nonzero};
use std::f64::consts::PI;

/// The per-layer data of one row point i and of the row's column points j0.. (layer stride
/// `stride`): variances, standard deviations and (leaky ReLU) mean derivatives.
pub struct RowChain<'a> {
    /// Number of layer maps L − 1.
    pub layers: usize,
    pub beta2: f64,
    /// s_i^(l), √s_i^(l), E[σ′] at s_i^(l), for l < layers.
    pub var_i: &'a [f64],
    pub sd_i: &'a [f64],
    pub mean_i: &'a [f64],
    /// s_j^(l) = var_j[l·stride + k] for column k of the row; likewise sd_j, mean_j.
    pub var_j: &'a [f64],
    pub sd_j: &'a [f64],
    pub mean_j: &'a [f64],
    pub stride: usize,
    /// Some point of the row or of the columns may have variance 0 at some layer.
    pub zero_variance: bool,
}

/// One layer's Gaussian expectations of a pair, with the snap built in.
trait PairMap {
    /// (E[σσ], E[σ′σ′]) for variances si, sj (standard deviations di, dj), covariance x and
    /// mean derivatives mi, mj.
    fn pair(&self, si: f64, sj: f64, di: f64, dj: f64, mi: f64, mj: f64, x: f64) -> (f64, f64);
}

/// Leaky ReLU with slope a (ReLU: a = 0); see [`super::closed_form`] for the formulas.
/// `ZERO`: some point has variance 0 (x = 0 with β = 0), whose pairs need the deterministic
/// rule; without such points the selects are left out (same bits either way).
struct LeakyRelu<const ZERO: bool> {
    /// (1 − a)²/(2π)
    c: f64,
    /// (1 + a²)/2
    h: f64,
}

impl<const ZERO: bool> PairMap for LeakyRelu<ZERO> {
    #[inline(always)]
    fn pair(&self, si: f64, sj: f64, di: f64, dj: f64, mi: f64, mj: f64, x: f64) -> (f64, f64) {
        let (x, det) = snap(si * sj, di * dj, x);
        let rd = det.sqrt();
        // (√det, s12) ≠ (0, 0) unless s_i s_j = 0, the ZERO case.
        let theta = if ZERO {
            atan2_upper(rd, x)
        } else {
            atan2_upper_nonzero(rd, x)
        };
        let ed = (-self.c).mul_add(theta, self.h);
        let e = self.c.mul_add(rd, ed * x);
        if !ZERO {
            return (e, ed);
        }
        // A zero-variance input is deterministic 0: E = 0, E′ = m_i m_j.
        let zero = si == 0.0 || sj == 0.0;
        (if zero { 0.0 } else { e }, if zero { mi * mj } else { ed })
    }
}

/// erf: E = (2/π)·atan2(2x, √D), E′ = (4/π)/√D, D = 1 + 2(s_i + s_j) + 4·det.
struct Erf;

impl PairMap for Erf {
    #[inline(always)]
    fn pair(&self, si: f64, sj: f64, di: f64, dj: f64, _: f64, _: f64, x: f64) -> (f64, f64) {
        let (x, det) = snap(si * sj, di * dj, x);
        erf_pair_det(si, sj, x, det)
    }
}

/// GELU: [`gelu_pair`] (formulas in [`super::closed_form`]).
struct Gelu;

impl PairMap for Gelu {
    #[inline(always)]
    fn pair(&self, si: f64, sj: f64, di: f64, dj: f64, _: f64, _: f64, x: f64) -> (f64, f64) {
        gelu_pair(si, sj, di, dj, x)
    }
}

#[inline(always)]
fn chain_loop<M: PairMap>(
    map: &M,
    r: &RowChain<'_>,
    s12: &mut [f64],
    dot: &mut [f64],
    theta: &mut [f64],
) {
    let w = s12.len();
    let (dot, theta) = (&mut dot[..w], &mut theta[..w]);
    if r.layers == 0 {
        theta.copy_from_slice(s12);
        dot.fill(0.0);
    }
    for l in 0..r.layers {
        // Θ^(1) = Σ^(1): the first layer reads it from s12 (no separate copy pass).
        let first = l == 0;
        let (si, di, mi) = (r.var_i[l], r.sd_i[l], r.mean_i[l]);
        let off = l * r.stride;
        let sj = &r.var_j[off..off + w];
        let dj = &r.sd_j[off..off + w];
        let mj = &r.mean_j[off..off + w];
        for k in 0..w {
            let s12_in = s12[k];
            let (e, ed) = map.pair(si, sj[k], di, dj[k], mi, mj[k], s12_in);
            let s = e + r.beta2;
            s12[k] = s;
            dot[k] = ed;
            let th = if first { s12_in } else { theta[k] };
            theta[k] = th.mul_add(ed, s);
        }
    }
}

/// ((1 − a)²/(2π), (1 + a²)/2) of leaky ReLU with slope a.
fn relu_constants(a: f64) -> (f64, f64) {
    ((1.0 - a) * (1.0 - a) / (2.0 * PI), 0.5 * (1.0 + a * a))
}

/// Runs the L − 1 layer maps of `kind` (leaky ReLU or erf) on one row: on entry `s12` holds
/// Σ^(1) of the row, on exit Σ^(L); `dot` receives Σ̇^(L) (0 when there is no layer map) and
/// `theta` Θ^(L). Returns false (and touches nothing) for the other closed forms.
///
/// Always inlined: the caller ([`super::LimitPlan`]'s tile loop) is compiled once per
/// instruction set and dispatched once per tile, so this loop is vectorized for the CPU without
/// a dispatch per row (which cost 5 % at N = 2000).
#[inline(always)]
pub fn row(
    kind: ClosedForm,
    r: &RowChain<'_>,
    s12: &mut [f64],
    dot: &mut [f64],
    theta: &mut [f64],
) -> bool {
    match kind {
        ClosedForm::LeakyRelu(a) => {
            let (c, h) = relu_constants(a);
            if r.zero_variance {
                chain_loop(&LeakyRelu::<true> { c, h }, r, s12, dot, theta);
            } else {
                chain_loop(&LeakyRelu::<false> { c, h }, r, s12, dot, theta);
            }
            true
        }
        ClosedForm::Erf => {
            chain_loop(&Erf, r, s12, dot, theta);
            true
        }
        ClosedForm::Gelu => {
            chain_loop(&Gelu, r, s12, dot, theta);
            true
        }
        _ => false,
    }
}

/// The weight layer that follows a layer map of a per-layer architecture: Σ ← σ_w²·E + σ_b²,
/// Σ̇ ← σ_w²·Ė, and Θ ← Θ·Σ̇ + Σ (NTK parameterization) or Θ ← Θ·Σ̇ + (n·E + 1) (standard, n
/// the width the layer reads: the gradients of its W and b).
#[derive(Clone, Copy)]
pub struct NextLayer {
    /// σ_w² of the weight layer.
    pub w: f64,
    /// σ_b² of the weight layer.
    pub b: f64,
    /// Standard parameterization: Some(n); NTK: None.
    pub standard: Option<f64>,
}

/// One layer map of a per-layer architecture fused with the weight layer after it, in one pass
/// over the row (the general path's counterpart of [`row`]): on entry `s12` holds Σ^(l+1) and
/// `theta` Θ^(l+1) of the row (r.layers must be 1: r's first layer is this map), on exit `s12`
/// holds Σ^(l+2), `dot` Σ̇^(l+2) and `theta` Θ^(l+2). Same operations per entry as a pair map
/// followed by the scaling pass (so the same bits), at one pass instead of three. Returns
/// false (and touches nothing) for the closed forms without a pair map here.
#[inline(always)]
pub fn general_layer(
    kind: ClosedForm,
    r: &RowChain<'_>,
    next: NextLayer,
    s12: &mut [f64],
    dot: &mut [f64],
    theta: &mut [f64],
) -> bool {
    match kind {
        ClosedForm::LeakyRelu(a) => {
            let (c, h) = relu_constants(a);
            if r.zero_variance {
                layer_loop(&LeakyRelu::<true> { c, h }, r, next, s12, dot, theta);
            } else {
                layer_loop(&LeakyRelu::<false> { c, h }, r, next, s12, dot, theta);
            }
            true
        }
        ClosedForm::Erf => {
            layer_loop(&Erf, r, next, s12, dot, theta);
            true
        }
        ClosedForm::Gelu => {
            layer_loop(&Gelu, r, next, s12, dot, theta);
            true
        }
        _ => false,
    }
}

#[inline(always)]
fn layer_loop<M: PairMap>(
    map: &M,
    r: &RowChain<'_>,
    next: NextLayer,
    s12: &mut [f64],
    dot: &mut [f64],
    theta: &mut [f64],
) {
    let w = s12.len();
    let (dot, theta) = (&mut dot[..w], &mut theta[..w]);
    let (si, di, mi) = (r.var_i[0], r.sd_i[0], r.mean_i[0]);
    let sj = &r.var_j[..w];
    let dj = &r.sd_j[..w];
    let mj = &r.mean_j[..w];
    let NextLayer {
        w: wn,
        b: bn,
        standard,
    } = next;
    // The parameterization is a loop-invariant branch: two loops, no test per entry.
    if let Some(nl) = standard {
        for k in 0..w {
            let (e, ed) = map.pair(si, sj[k], di, dj[k], mi, mj[k], s12[k]);
            let sdot = wn * ed;
            theta[k] = theta[k].mul_add(sdot, nl * e + 1.0);
            s12[k] = wn * e + bn;
            dot[k] = sdot;
        }
    } else {
        for k in 0..w {
            let (e, ed) = map.pair(si, sj[k], di, dj[k], mi, mj[k], s12[k]);
            let sdot = wn * ed;
            let sig = wn * e + bn;
            theta[k] = theta[k].mul_add(sdot, sig);
            s12[k] = sig;
            dot[k] = sdot;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`row`] compiled for the instruction set `isa` (as the tile loop is), see `crate::simd`.
    fn row_at(
        isa: crate::simd::Isa,
        kind: ClosedForm,
        r: &RowChain<'_>,
        s12: &mut [f64],
        dot: &mut [f64],
        theta: &mut [f64],
    ) -> bool {
        crate::simd::dispatch!(isa; fn(
            kind: ClosedForm,
            r: &RowChain<'_>,
            s12: &mut [f64],
            dot: &mut [f64],
            theta: &mut [f64]
        ) -> bool {
            row(kind, r, s12, dot, theta)
        })
    }

    /// The layer chain of one pair in plain scalar code with libm (no snap, no FMA): the
    /// formulas of [`super::super::closed_form`] evaluated independently of the vector loop.
    fn reference(kind: ClosedForm, beta2: f64, vi: &[f64], vj: &[f64], s0: f64) -> [f64; 3] {
        let (mut s, mut th, mut d) = (s0, s0, 0.0);
        for l in 0..vi.len() {
            let (si, sj) = (vi[l], vj[l]);
            let det = (si * sj - s * s).max(0.0);
            let (e, ed) = match kind {
                ClosedForm::LeakyRelu(a) => {
                    let c = (1.0 - a) * (1.0 - a) / (2.0 * PI);
                    let h = 0.5 * (1.0 + a * a);
                    let theta = libm::atan2(det.sqrt(), s);
                    (c * det.sqrt() + (h - c * theta) * s, h - c * theta)
                }
                ClosedForm::Erf => {
                    let dd = (1.0 + 2.0 * si) * (1.0 + 2.0 * sj) - 4.0 * s * s;
                    (
                        (2.0 / PI)
                            * libm::asin(2.0 * s / ((1.0 + 2.0 * si) * (1.0 + 2.0 * sj)).sqrt()),
                        (4.0 / PI) / dd.sqrt(),
                    )
                }
                ClosedForm::Gelu => {
                    // neural-tangents' expressions, as written there (P − s12² for Δ²).
                    let (p, pp) = (si * sj, (1.0 + si) * (1.0 + sj));
                    let d2 = pp - s * s;
                    let dl = d2.sqrt();
                    let ang = libm::atan2(s, dl);
                    let e = ((s * s + p * d2) / (pp * dl) + s * ang) / (2.0 * PI) + 0.25 * s;
                    let first = (1.0 / d2 + (1.0 - p) / pp + 1.0) * s / dl / (2.0 * PI);
                    (e, first + 0.25 + ang / (2.0 * PI))
                }
                _ => unreachable!(),
            };
            s = e + beta2;
            d = ed;
            th = th * d + s;
        }
        [s, d, th]
    }

    /// Random rows through the dispatched (AVX-512 / AVX2) and portable loops: bit-identical,
    /// and within 1e-13 of the scalar libm chain (relative to the diagonal scale).
    #[test]
    fn fused_chain_matches_scalar_reference_and_portable_bits() {
        let mut state = 7u64;
        let mut unif = || (crate::rng::splitmix64(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
        for kind in [
            ClosedForm::LeakyRelu(0.0),
            ClosedForm::LeakyRelu(0.2),
            ClosedForm::Erf,
            ClosedForm::Gelu,
        ] {
            for &w in &[1usize, 7, 8, 9, 100, 128] {
                let layers = 4;
                let beta2 = 0.01;
                // Per-layer variances from each point's own chain (as the caller's per-point
                // data), so every layer sees a valid covariance.
                let chain = |s0: f64| -> Vec<f64> {
                    let mut v = vec![s0];
                    for _ in 1..layers {
                        let last = *v.last().unwrap();
                        v.push(super::super::closed_form::diagonal(kind, last).0 + beta2);
                    }
                    v
                };
                let vi = chain(0.5 + unif());
                let mut var_j = vec![0.0; layers * w];
                let mut s12 = vec![0.0; w];
                for k in 0..w {
                    // A copy of point i (ρ = 1, snapped at every layer), its negation
                    // (ρ = −1 at the first layer), and random correlations.
                    let (v0, rho) = match k % 5 {
                        0 => (vi[0], 1.0),
                        1 => (vi[0], -1.0),
                        _ => (0.3 + 2.0 * unif(), 1.998 * unif() - 0.999),
                    };
                    for (l, v) in chain(v0).into_iter().enumerate() {
                        var_j[l * w + k] = v;
                    }
                    s12[k] = rho * (vi[0] * v0).sqrt();
                }
                let sd_i: Vec<f64> = vi.iter().map(|v| v.sqrt()).collect();
                let sd_j: Vec<f64> = var_j.iter().map(|v| v.sqrt()).collect();
                let mean = vec![0.5; layers * w];
                let r = RowChain {
                    layers,
                    beta2,
                    var_i: &vi,
                    sd_i: &sd_i,
                    mean_i: &mean,
                    var_j: &var_j,
                    sd_j: &sd_j,
                    mean_j: &mean,
                    stride: w,
                    zero_variance: false,
                };
                let mut b = s12.clone();
                let (mut db, mut tb) = (vec![0.0; w], vec![0.0; w]);
                assert!(row(kind, &r, &mut b, &mut db, &mut tb));
                // Every instruction-set copy (those this CPU lacks run the highest it has).
                for isa in crate::simd::Isa::all() {
                    let mut a = s12.clone();
                    let (mut da, mut ta) = (vec![0.0; w], vec![0.0; w]);
                    assert!(row_at(isa, kind, &r, &mut a, &mut da, &mut ta));
                    for k in 0..w {
                        assert_eq!(
                            a[k].to_bits(),
                            b[k].to_bits(),
                            "{kind:?} {isa:?} w={w} k={k}"
                        );
                        assert_eq!(da[k].to_bits(), db[k].to_bits());
                        assert_eq!(ta[k].to_bits(), tb[k].to_bits());
                    }
                }
                let (a, da, ta) = (&b, &db, &tb);
                for k in 0..w {
                    let vj: Vec<f64> = (0..layers).map(|l| var_j[l * w + k]).collect();
                    let want = reference(kind, beta2, &vi, &vj, s12[k]);
                    let scale = [vi[layers - 1].max(vj[layers - 1]), 1.0, 10.0];
                    for (q, got) in [a[k], da[k], ta[k]].into_iter().enumerate() {
                        let err = (got - want[q]).abs() / scale[q];
                        assert!(err < 1e-13, "{kind:?} k={k} out {q}: {got} vs {}", want[q]);
                    }
                }
            }
        }
    }

    /// Zero variances (x = 0, β = 0) give E = 0 and E′ = m_i m_j, and the ZERO variant agrees
    /// bit for bit with the plain one on pairs without a zero variance.
    #[test]
    fn zero_variance_rule_and_specialization() {
        let layers = 2;
        let var_j = [0.0, 1.5, 2.0, 0.0, 1.1, 0.7];
        let sd_j: Vec<f64> = var_j.iter().map(|v: &f64| v.sqrt()).collect();
        let mean_j = [0.0, 0.5, 0.5, 0.0, 0.5, 0.5];
        let vi = [1.2, 0.9];
        let sd_i = [1.2f64.sqrt(), 0.9f64.sqrt()];
        let mi = [0.5, 0.5];
        let mk = |zero| RowChain {
            layers,
            beta2: 0.0,
            var_i: &vi,
            sd_i: &sd_i,
            mean_i: &mi,
            var_j: &var_j,
            sd_j: &sd_j,
            mean_j: &mean_j,
            stride: 3,
            zero_variance: zero,
        };
        let s0 = [0.0, 0.4, -0.3];
        let run = |zero| {
            let mut s = s0.to_vec();
            let (mut d, mut t) = (vec![0.0; 3], vec![0.0; 3]);
            row(
                ClosedForm::LeakyRelu(0.0),
                &mk(zero),
                &mut s,
                &mut d,
                &mut t,
            );
            (s, d, t)
        };
        let (s, d, _) = run(true);
        assert_eq!(s[0], 0.0);
        assert_eq!(d[0], 0.0); // m_i m_j = 0.5 · 0 at the last layer
        let (s2, d2, t2) = run(false);
        let (s1, d1, t1) = run(true);
        for k in 1..3 {
            assert_eq!(s1[k].to_bits(), s2[k].to_bits());
            assert_eq!(d1[k].to_bits(), d2[k].to_bits());
            assert_eq!(t1[k].to_bits(), t2[k].to_bits());
        }
    }
}
