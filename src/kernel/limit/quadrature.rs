//! Adaptive Gauss–Kronrod (7/15) quadrature of two-component integrands on a partition.
//!
//! Used by the numerical limit kernels for the 1-D per-point integrals and the nested 2-D
//! integrals of highly correlated pairs. A panel is accepted when, for both components,
//! |K15 − G7| ≤ tol · K15(|f|) (a relative bound on the panel's L1 mass, so the sum of the local
//! errors is at most tol · ∫|f|); otherwise it is bisected (at most [`MAX_DEPTH`] times). Since
//! |K15 − G7| estimates the error of the 7-point rule, the accepted 15-point values are in
//! practice far more accurate than `tol`.

/// Kronrod abscissae on [−1, 1] (QUADPACK qk15), positive half; the last one is the centre.
pub const XGK: [f64; 8] = [
    0.991_455_371_120_812_6,
    0.949_107_912_342_758_5,
    0.864_864_423_359_769_1,
    0.741_531_185_599_394_4,
    0.586_087_235_467_691_1,
    0.405_845_151_377_397_2,
    0.207_784_955_007_898_5,
    0.0,
];
/// Kronrod weights.
pub const WGK: [f64; 8] = [
    0.022_935_322_010_529_22,
    0.063_092_092_629_978_55,
    0.104_790_010_322_250_18,
    0.140_653_259_715_525_92,
    0.169_004_726_639_267_9,
    0.190_350_578_064_785_4,
    0.204_432_940_075_298_9,
    0.209_482_141_084_727_83,
];
/// Gauss weights of the 7-point rule at XGK[1], XGK[3], XGK[5], XGK[7].
const WG: [f64; 4] = [
    0.129_484_966_168_869_7,
    0.279_705_391_489_276_7,
    0.381_830_050_505_118_9,
    0.417_959_183_673_469_4,
];

/// Deepest bisection of an initial panel.
pub const MAX_DEPTH: u32 = 40;

/// The 15 Kronrod nodes of [a, b], ordered: centre, then ± pairs (−x_j, +x_j) for j = 0..7.
#[inline]
pub fn nodes(a: f64, b: f64) -> ([f64; 15], [f64; 15]) {
    let c = 0.5 * (a + b);
    let h = 0.5 * (b - a);
    let mut z = [0.0; 15];
    let mut w = [0.0; 15];
    z[0] = c;
    w[0] = WGK[7] * h;
    for j in 0..7 {
        z[1 + 2 * j] = c - h * XGK[j];
        z[2 + 2 * j] = c + h * XGK[j];
        w[1 + 2 * j] = WGK[j] * h;
        w[2 + 2 * j] = WGK[j] * h;
    }
    (z, w)
}

/// One panel evaluated by both rules.
struct Panel {
    a: f64,
    b: f64,
    depth: u32,
    z: [f64; 15],
    vals: [[f64; 2]; 15],
    k: [f64; 2],
    g: [f64; 2],
    l1: [f64; 2],
}

fn eval_panel<F: FnMut(f64) -> [f64; 2]>(f: &mut F, a: f64, b: f64, depth: u32) -> Panel {
    let (z, w) = nodes(a, b);
    let mut vals = [[0.0; 2]; 15];
    for (v, &zk) in vals.iter_mut().zip(&z) {
        *v = f(zk);
    }
    let h = 0.5 * (b - a);
    let mut k = [0.0; 2];
    let mut l1 = [0.0; 2];
    let mut g = [0.0; 2];
    for c in 0..2 {
        for n in 0..15 {
            k[c] += w[n] * vals[n][c];
            l1[c] += w[n] * vals[n][c].abs();
        }
        g[c] = WG[3] * vals[0][c];
        for (gi, j) in [1usize, 3, 5].iter().enumerate() {
            g[c] += WG[gi] * (vals[1 + 2 * j][c] + vals[2 + 2 * j][c]);
        }
        g[c] *= h;
    }
    Panel {
        a,
        b,
        depth,
        z,
        vals,
        k,
        g,
        l1,
    }
}

/// Rounding noise allowed per unit length, relative to the largest |f| seen on the initial
/// partition: an integrand evaluated with cancellation (e.g. a user's σ′ = 1 − tanh², whose
/// tails are pure rounding) must not force endless refinement.
const NOISE: f64 = 8.0 * f64::EPSILON;

/// Most panels one integral may use; beyond it the remaining panels are accepted as they are.
pub const MAX_PANELS: usize = 1000;

/// ∫ f over the partition given by the sorted `breaks`, adaptively refined. `accept(a, b, z, f)`
/// is called for every accepted panel with its nodes and integrand values (see [`nodes`]).
///
/// A panel [a, b] is accepted when, per component c,
/// |K15 − G7| ≤ tol·max(L1_panel, L1_total·(b − a)/length) (L1_total estimated on the initial
/// partition): relative to the panel's own mass, but never tighter than its share of the total
/// mass, so that panels where the integrand is negligible or underflows, or carries the
/// rounding noise of an inner integral, are not refined without end; plus an allowance of
/// 8ε·max|f| per unit length for rounding noise in f itself. The total error is then at most
/// about 2·tol·∫|f| + 8ε·max|f|·length.
///
/// `floor[c]` is an absolute error allowance per unit length for component c, from the scale
/// the caller needs (e.g. an inner integral whose whole range lies where σ′ is only rounding
/// noise: its own mass and peak are noise, so only an absolute floor stops the refinement);
/// it adds at most floor·length to the error. Pass [0, 0] for purely relative control.
// The work is in `adaptive2_checked`, kept out of line (see there); this wrapper only drops the
// flag.
#[inline(always)]
pub fn adaptive2<F, A>(
    f: &mut F,
    breaks: &[f64],
    tol: f64,
    floor: [f64; 2],
    accept: &mut A,
) -> [f64; 2]
where
    F: FnMut(f64) -> [f64; 2],
    A: FnMut(f64, f64, &[f64; 15], &[[f64; 2]; 15]),
{
    adaptive2_checked(f, breaks, tol, floor, accept).0
}

/// [`adaptive2`], also saying whether every accepted panel met the tolerance: `false` when the
/// [`MAX_PANELS`] cap forced unconverged panels to be accepted (the integrand varies faster than
/// the rule can resolve with that many panels, e.g. sin(1000·x)). Panels accepted at
/// [`MAX_DEPTH`] or at the resolution of doubles are not counted as failures (a kink or a jump
/// of the integrand ends there legitimately).
// Kept out of line: inlined into `numerical::point_expansion` (which LLVM started doing when
// the crate's code grew) the tanh N = 400 kernel took 1.5× as long (620 → 950 ms at 1 thread).
#[inline(never)]
pub fn adaptive2_checked<F, A>(
    f: &mut F,
    breaks: &[f64],
    tol: f64,
    floor: [f64; 2],
    accept: &mut A,
) -> ([f64; 2], bool)
where
    F: FnMut(f64) -> [f64; 2],
    A: FnMut(f64, f64, &[f64; 15], &[[f64; 2]; 15]),
{
    let mut converged = true;
    let mut total = [0.0; 2];
    let mut stack: Vec<Panel> = Vec::with_capacity(64);
    let mut global = [0.0; 2];
    let mut peak = [0.0f64; 2];
    for win in breaks.windows(2).rev() {
        if win[1] > win[0] {
            let p = eval_panel(f, win[0], win[1], 0);
            global[0] += p.l1[0];
            global[1] += p.l1[1];
            for v in &p.vals {
                peak[0] = peak[0].max(v[0].abs());
                peak[1] = peak[1].max(v[1].abs());
            }
            stack.push(p);
        }
    }
    let length = match (breaks.first(), breaks.last()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => 1.0,
    };
    let mut used = stack.len();
    while let Some(p) = stack.pop() {
        let share = (p.b - p.a) / length;
        // A component whose panel estimate is NaN/Inf (an activation returning NaN/Inf, or an
        // overflow) counts as converged: refining cannot make it meaningful, and the caller
        // reports the non-finite result. Without this such panels were bisected up to
        // MAX_PANELS, which in the nested pair quadrature meant ~10^8 activation calls per pair
        // (minutes for a custom σ returning NaN; found by fuzz/fuzz_targets/limit.rs).
        let ok = (0..2).all(|c| {
            !p.k[c].is_finite()
                || (p.k[c] - p.g[c]).abs()
                    <= tol * p.l1[c].max(share * global[c])
                        + (NOISE * peak[c] + floor[c]) * (p.b - p.a)
                        + 1e-290
        });
        let mid = 0.5 * (p.a + p.b);
        if ok || p.depth >= MAX_DEPTH || used >= MAX_PANELS || !(mid > p.a && mid < p.b) {
            if !ok && used >= MAX_PANELS && p.depth < MAX_DEPTH && mid > p.a && mid < p.b {
                converged = false;
            }
            total[0] += p.k[0];
            total[1] += p.k[1];
            accept(p.a, p.b, &p.z, &p.vals);
        } else {
            used += 1;
            let right = eval_panel(f, mid, p.b, p.depth + 1);
            let left = eval_panel(f, p.a, mid, p.depth + 1);
            stack.push(right);
            stack.push(left);
        }
    }
    (total, converged)
}

/// Initial partition for an integrand σ(A·z + B)·(smooth) on [−zmax, zmax]: the points where
/// the argument equals 0, ±1/4, ±1/2, ±1, …, ±1024 (so that panels follow the activation's
/// transition region in the argument's own scale, however large A is), plus a uniform grid of
/// spacing `uniform` when given. `scales` lists several (A, B) pairs; A ≥ 0.
pub fn breakpoints(scales: &[(f64, f64)], zmax: f64, uniform: Option<f64>) -> Vec<f64> {
    let mut p = vec![-zmax, zmax];
    for &(a, b) in scales {
        if !(a > 0.0) || !a.is_finite() {
            continue;
        }
        let mut push = |x: f64| {
            let z = (x - b) / a;
            if z.abs() < zmax {
                p.push(z);
            }
        };
        push(0.0);
        let mut c = 0.25;
        while c <= 1024.0 {
            push(c);
            push(-c);
            c *= 2.0;
        }
    }
    if let Some(hw) = uniform {
        let n = (2.0 * zmax / hw).ceil() as usize;
        for k in 1..n {
            p.push(-zmax + k as f64 * hw);
        }
    }
    p.sort_by(|x, y| x.partial_cmp(y).unwrap());
    p.dedup_by(|x, y| (*x - *y).abs() <= 1e-13 * (1.0 + y.abs()));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_exact_for_polynomials() {
        // K15 is exact to degree 22 and G7 to degree 13 (checked through adaptive2 accepting at once).
        for deg in 0..=22 {
            let mut f = |z: f64| [z.powi(deg as i32), (1.0 - z).powi(deg.min(13) as i32)];
            let r = adaptive2(&mut f, &[0.0, 1.0], 1e-12, [0.0; 2], &mut |_, _, _, _| {});
            let want0 = 1.0 / (deg as f64 + 1.0);
            let want1 = 1.0 / (deg.min(13) as f64 + 1.0);
            assert!(
                (r[0] - want0).abs() < 1e-15,
                "degree {deg}: {} vs {want0}",
                r[0]
            );
            assert!((r[1] - want1).abs() < 1e-15);
        }
    }

    #[test]
    fn non_finite_integrands_are_not_refined() {
        // NaN on half the range (a custom σ returning NaN): the result is NaN after the initial
        // partition, without bisecting toward MAX_PANELS. The finite component stays accurate.
        let mut calls = 0usize;
        let mut f = |z: f64| {
            calls += 1;
            [if z > 0.0 { f64::NAN } else { z * z }, z * z]
        };
        let br = breakpoints(&[(1.0, 0.0)], 2.0, None);
        let r = adaptive2(&mut f, &br, 1e-12, [0.0; 2], &mut |_, _, _, _| {});
        assert!(r[0].is_nan());
        assert!((r[1] - 16.0 / 3.0).abs() < 1e-13, "{}", r[1]);
        assert!(calls <= 15 * br.len(), "{calls} evaluations");
    }

    #[test]
    fn adaptive_integrates_a_near_step() {
        // ∫_{-1}^{1} tanh(1000 z)^2 dz = 2 − 2 tanh(1000)/1000 = 2 − 0.002.
        let mut f = |z: f64| {
            let t = (1000.0 * z).tanh();
            [t * t, 1.0 - t * t]
        };
        let br = breakpoints(&[(1000.0, 0.0)], 1.0, None);
        let r = adaptive2(&mut f, &br, 1e-12, [0.0; 2], &mut |_, _, _, _| {});
        assert!((r[0] - (2.0 - 0.002)).abs() < 1e-14, "{}", r[0]);
        assert!((r[1] - 0.002).abs() < 1e-17, "{}", r[1]);
    }
}
