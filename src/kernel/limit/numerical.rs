//! Gaussian expectations of a general activation σ (tanh, sigmoid, softplus, user σ; GELU under
//! `LimitMethod::Quadrature`).
//!
//! For (u, v) centred Gaussian with variances s₁, s₂ and correlation ρ we need
//! E[σ(u)σ(v)] and E[σ′(u)σ′(v)] for every pair and layer, accurate to 1e-12 relative whatever
//! the variances (an input of norm 30 in 5 dimensions gives s ≈ 180, where σ(√s z) is a near-step
//! and σ′(√s z) a spike of width 1/√s, which fixed Gauss–Hermite rules cannot resolve).
//!
//! # Method (accuracy checks: see the module docs of `limit`)
//! 1. **Per point, once per layer** (1-D, O(N·L·K) work): the normalized Hermite coefficients
//!    c_k(s) = E[σ(√s z) h_k(z)] and d_k(s) = E[σ′(√s z) h_k(z)], h_k = He_k/√k!, k < [`TERMS`],
//!    and the diagonal values E[σ(√s z)²], E[σ′(√s z)²], by the trapezoid rule on
//!    z_j = j·h, |z_j| ≤ 13, h = 1/16 for s ≤ 1 and h ≤ 1/(16√s) above (the integrands are
//!    analytic and Gaussian-damped, so the rule converges exponentially in 1/h). The weights
//!    h·h_k(z_j)φ(z_j) come from the stable normalized recurrence
//!    ψ_{k+1} = (z ψ_k − √k ψ_{k−1})/√(k+1), ψ₀ = φ, tabulated once per process and grid; the
//!    rule is folded at z = 0 (h_k(−z) = (−1)^k h_k(z)), so each node costs σ and σ′ at ±√s z
//!    (one `tanh`, or one `exp` and one `log1p`, for the built-in activations) and 2·K
//!    multiply-adds. The grid is accepted only when the rule with step 2h (the even nodes)
//!    agrees to 1e-13 of the scale on E[σ²], E[σ′²] and on sampled coefficients (4 of every 64);
//!    otherwise the next finer grid is tried, and past [`GRID_LEVELS`] grids the adaptive
//!    Gauss–Kronrod rule of `quadrature` (breakpoints where √s·z crosses the transition region,
//!    panels ≤ ¼) computes the same quantities: σ that vary too fast for it (sin(1000 x)) fail
//!    there with `converged = false`. For tanh, sigmoid and softplus (analytic in
//!    |Im x| < π/2, so their scale in z is known) two grids are tried. A user σ may try every
//!    grid, each also checked by the rule of step √2·h (a separate table): nested h/2h grids
//!    share their alias frequencies 2πm/h and cannot detect aliasing of an unknown
//!    high-frequency σ (sin(1000 x) passes the h/2h test on grid 0 with a wrong c₁ ≈ 1e-6),
//!    while the √2h rule's aliases are none of those. Coefficients are computed in chunks of
//!    [`CHUNK`]; every point gets the first [`EAGER`] of them up front (cutting a point's series
//!    where its own tail is at the rounding floor would be wrong, see `finish`), on a grid of
//!    step 2h checked by the rule of step 2√2·h for every σ (the first 64 Hermite functions are
//!    narrow enough for both: `eager_grid`); the full [`TERMS`] are computed for a point (by
//!    [`point_expansion`], on the grid of step h; its first EAGER agree with the eager ones to
//!    rounding) when a pair first needs them ([`DeepSlot`]). The tail at every multiple n
//!    of STEP is kept as g(n) = ln(T(n)/E[σ²]) with T(n) = max(E[σ²] − Σ_{k<n} c_k², 0) +
//!    4ε·E[σ²]: the floor covers the rounding of the (compensated) sums, so T(n) bounds the
//!    true tail as long as the quadrature is accurate to that level, which the 2h test checks
//!    with a wide margin (the rule's error falls like e^{−a/h}: the accepted grid is far more
//!    accurate than the 1e-13 by which it agrees with the coarser one).
//! 2. **Per pair**: Mehler's formula E[σ(u)σ(v)] = Σ_k c_k(s₁) c_k(s₂) ρ^k truncated after n
//!    terms. By Cauchy–Schwarz the truncation error is at most
//!    |ρ|^n √(T₁(n) T₂(n)) (the same for σ′ with d_k); the pair takes the smallest n, a
//!    multiple of [`STEP`], with bound ≤ 1e-14·√(E[σ(u)²] E[σ(v)²]) for both series
//!    (ln|ρ| ≤ −2(1−|ρ|)/(1+|ρ|) replaces the logarithm, so no `ln` per pair): first from the
//!    eager parts (n ≤ EAGER, eight columns at once), then from the two points' full expansions
//!    (n ≤ TERMS), then from their extended expansions (n ≤ 512, 1024, 2048: [`EXT_TERMS`], see
//!    [`extension`]). This covers every |ρ| ≤ 1, ρ = ±1 included, whenever the coefficients
//!    decay fast enough: for tanh(√s z), whose poles sit at z = iπ/(2√s),
//!    c_k ~ e^{−(π/(2√s))√k}, so at ρ = 1 about 60 terms are needed at s = 0.4, 150 at s = 1,
//!    all 256 at s ≈ 1.5 and 2048 at s ≈ 19; at |ρ| ≤ 0.3 16–32
//!    terms suffice at any s. The series of both quantities run in one Horner loop vectorized
//!    over 8 columns of a tile row; lanes that need fewer terms add exact zeros until their own
//!    n is reached, so each pair's bits depend on the pair only (tiles, thread counts and
//!    mirrored entries give the same bits). Cost ≈ 4n flops per pair and layer.
//! 3. **Pairs whose bound fails at n = 2048** (large variances with |ρ| near 1, e.g.
//!    norm-30 inputs at layer 1, points without an extended expansion, or rough custom σ):
//!    the conditional 1-D reduction E[σ(u)σ(v)] = E_{z₁}[σ(√s₁ z₁) G(z₁)] with
//!    G(z₁) = E_{z₂}[σ(m + τ z₂)], m = √s₂ ρ z₁, τ = √s₂ √(1−ρ²), both integrals by the adaptive
//!    rule with breakpoints in the argument's own scale (the inner one at z₂ = (c − m)/τ), so the
//!    smoothing width τ → 0 is handled exactly (τ = 0 gives G = σ(m)). Costly (~10⁵ σ calls)
//!    and budgeted ([`PAIR_EVAL_BUDGET`]), so the work per pair is bounded for any σ.
//!
//! Memory: 2·([`EAGER`] + EAGER/STEP) doubles per point and layer twice (k-major for the tile
//! columns, point-major for the row point), plus, for the points some pair needs them for,
//! 2·(TERMS + TERMS/STEP) for a full and 2·(n + n/STEP) for each extended expansion
//! (n = 512, 1024, 2048: at most 65 KB per point and layer in all), independent of the number of pairs.

use super::quadrature::{adaptive2, adaptive2_checked, breakpoints};
use crate::activation::Activation;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// Hermite terms of a point's full expansion (k < TERMS), computed when a pair needs them.
pub const TERMS: usize = 256;
/// Hermite terms computed for every point and layer up front (k < EAGER): at small and moderate
/// correlations (the d = 100 benchmark) pairs need 16–24 terms, and at d = 5 most need at most
/// 64, so the rest of the expansion (three quarters of the per-point work) is computed only for
/// the points of pairs that need it (see `DeepSlot`). Measured (tanh and a user σ, N = 2000,
/// 2 threads): 32 terms give 0.13 / 0.35 / 0.53 s for tanh at d = 100 / 5 / 2 and 0.20 / 0.52 s
/// for the user σ at d = 100 / 5; 64 give 0.15 / 0.28 / 0.47 s and 0.22 / 0.40 s (48 in chunks of
/// 16 was slower than both; all measured before the eager grid was made twice as coarse, which
/// brought the user σ at d = 100 to 0.16 s).
pub const EAGER: usize = 64;
/// Granularity of the number of terms a pair uses (and of the stored tails).
pub const STEP: usize = 8;
/// Stored tails of the eager part.
pub const NCHECK_EAGER: usize = EAGER / STEP;
/// Doubles per point and layer in the point-major copy of the eager part (c, d, gc, gd).
pub(super) const ROW_LEN: usize = 2 * EAGER + 2 * NCHECK_EAGER;
/// ln of the truncation tolerance of a pair's series relative to √(E[σ(u)²]E[σ(v)²]): 1e-14.
const LN_TOL: f64 = -32.236_191_301_916_64;
/// Rounding floor of a stored tail, relative to E.
const TAIL_FLOOR: f64 = 4.0 * f64::EPSILON;
/// Trapezoid grids: step GRID_H0 / 2^q, q < GRID_LEVELS, nodes |z| ≤ GRID_Z.
pub const GRID_LEVELS: usize = 5;
const GRID_H0: f64 = 0.0625;
const GRID_Z: f64 = 13.0;
/// Coefficients per pass over the grid (4 tails).
const CHUNK: usize = 32;
/// Agreement of the h and 2h rules required to accept a grid (relative to the scale).
const GRID_CHECK: f64 = 1e-13;
/// Integration range of the adaptive fallback in standard-normal units (the weight e^{−z²/4}
/// left after a bounded Hermite function is 5e-22 at 14).
const ZMAX: f64 = 14.0;
/// Local tolerance of the adaptive rule (relative to the panel's L1 mass), outer and inner.
const TOL_1D: f64 = 1e-12;
const TOL_OUTER: f64 = 1e-12;
const TOL_INNER: f64 = 1e-14;

const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

#[inline]
fn phi(z: f64) -> f64 {
    FRAC_1_SQRT_2PI * libm::exp(-0.5 * z * z)
}

/// Which rule computed a [`PointExpansion`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    /// Zero (or non-finite) variance: σ(0), σ′(0) exactly.
    Exact,
    /// The trapezoid rule at level q: on grid q (step GRID_H0/2^q) for a full expansion, on
    /// [`eager_grid`] q (twice that step) for the eager part.
    Trapezoid(usize),
    /// The adaptive Gauss–Kronrod rule.
    Adaptive,
}

/// Per-point quantities of one layer at variance s.
#[derive(Clone, Debug)]
pub struct PointExpansion {
    /// E[σ(√s z)²]
    pub e_ss: f64,
    /// E[σ′(√s z)²]
    pub e_dd: f64,
    /// c_k, k < c.len() (EAGER or TERMS)
    pub c: Vec<f64>,
    /// d_k, k < d.len()
    pub d: Vec<f64>,
    /// ln(T(n)/E[σ²]) at n = STEP·(c+1) (see the module docs); −∞ when E[σ²] = 0.
    pub gc: Vec<f64>,
    /// The same for σ′.
    pub gd: Vec<f64>,
    /// The quadrature met its tolerance (false: σ varies too fast at this variance, and the
    /// values above are not accurate).
    pub converged: bool,
    /// The rule that computed it.
    pub rule: Rule,
}

/// One trapezoid grid: `rows` nodes z_j = j·h, j = 0..rows, each row holding w_j·h_k(z_j)φ(z_j)
/// (w_0 = h/2, else h) for k < TERMS, the even k first, then the odd ones.
struct Grid {
    h: f64,
    rows: usize,
    psi: Vec<f64>,
}

fn build_grid(h: f64) -> Grid {
    let rows = (GRID_Z / h).floor() as usize + 1;
    let mut psi = vec![0.0; rows * TERMS];
    let sqrt_k: Vec<f64> = (0..=TERMS).map(|k| (k as f64).sqrt()).collect();
    let mut p = vec![0.0; TERMS];
    for j in 0..rows {
        let z = j as f64 * h;
        let w = if j == 0 { 0.5 * h } else { h };
        p[0] = phi(z);
        p[1] = z * p[0];
        for k in 1..TERMS - 1 {
            p[k + 1] = (z * p[k] - sqrt_k[k] * p[k - 1]) / sqrt_k[k + 1];
        }
        let row = &mut psi[j * TERMS..(j + 1) * TERMS];
        for k in 0..TERMS {
            let at = if k % 2 == 0 { k / 2 } else { TERMS / 2 + k / 2 };
            row[at] = w * p[k];
        }
    }
    Grid { h, rows, psi }
}

/// The trapezoid table of step GRID_H0·2^−level, times √2 with `sqrt2` (level −1 ..
/// GRID_LEVELS − 1), built once per process. Every grid below is one of these: the eager grid of
/// level q is the main grid of level q − 1, and its check grid the check grid of level q − 1.
fn grid_table(level: isize, sqrt2: bool) -> &'static Grid {
    static GRIDS: [[OnceLock<Grid>; GRID_LEVELS + 1]; 2] =
        [const { [const { OnceLock::new() }; GRID_LEVELS + 1] }; 2];
    GRIDS[sqrt2 as usize][(level + 1) as usize].get_or_init(|| {
        // Powers of two and √2 times them: the step is exact in binary either way.
        let h = GRID_H0 * 2f64.powi(-(level as i32));
        build_grid(if sqrt2 {
            h * std::f64::consts::SQRT_2
        } else {
            h
        })
    })
}

/// Grid q: step h = GRID_H0/2^q.
fn grid(q: usize) -> &'static Grid {
    grid_table(q as isize, false)
}

/// The check grid of grid q for a user σ: step √2·h, incommensurate with the steps h and 2h of
/// the main test (see [`point_expansion`]).
fn check_grid(q: usize) -> &'static Grid {
    grid_table(q as isize, true)
}

/// The grid of the eager coefficients at level q: step 2h, half the nodes (and σ calls) of
/// [`grid`]. The first 64 Hermite functions have bandwidth √(k + ½) ≤ 8, so its alias
/// frequency π/h = 50·2^q leaves a margin of 42 against a σ analytic in the strip that h was
/// chosen for (e^{−66}); its own 2h rule (alias 25·2^q) would not be accurate enough to check
/// it, so [`eager_check_grid`] does, for every σ.
fn eager_grid(q: usize) -> &'static Grid {
    grid_table(q as isize - 1, false)
}

/// The check grid of the eager coefficients at level q: step 2√2·h, half the nodes of
/// [`check_grid`]. Its alias frequency π/(√2·h) = 35.5·2^q leaves a margin of 27 over the
/// bandwidth ≤ 8 of the first 64 Hermite functions, enough for the rule itself to be accurate to
/// e^{−42} on a σ analytic in the strip the grid's h was chosen for, and its aliases are none of
/// [`eager_grid`]'s; a σ with more high-frequency content fails the comparison and takes a finer
/// grid (or the adaptive rule).
fn eager_check_grid(q: usize) -> &'static Grid {
    grid_table(q as isize - 1, true)
}

/// (σ(x), σ′(x), σ(−x), σ′(−x)), with one transcendental call for the built-in activations
/// (the same bits as `Activation::sigma`/`dsigma`).
#[inline]
fn eval_pm(act: &Activation, x: f64) -> [f64; 4] {
    match act {
        Activation::Tanh => {
            let t = libm::tanh(x);
            let d = 1.0 - t * t;
            [t, d, -t, d]
        }
        Activation::Sigmoid | Activation::Softplus => {
            let e = libm::exp(-x.abs());
            let (hi, lo) = (1.0 / (1.0 + e), e / (1.0 + e));
            let (sp, sm) = if x >= 0.0 { (hi, lo) } else { (lo, hi) };
            if let Activation::Sigmoid = act {
                [sp, sp * (1.0 - sp), sm, sm * (1.0 - sm)]
            } else {
                let l = libm::log1p(e);
                [x.max(0.0) + l, sp, (-x).max(0.0) + l, sm]
            }
        }
        _ => [act.sigma(x), act.dsigma(x), act.sigma(-x), act.dsigma(-x)],
    }
}

/// Neumaier-compensated running sum.
#[derive(Clone, Copy, Default)]
struct Sum {
    s: f64,
    c: f64,
}

impl Sum {
    #[inline]
    fn add(&mut self, x: f64) {
        let t = self.s + x;
        if self.s.abs() >= x.abs() {
            self.c += (self.s - t) + x;
        } else {
            self.c += (x - t) + self.s;
        }
        self.s = t;
    }
    #[inline]
    fn get(&self) -> f64 {
        self.s + self.c
    }
}

/// g[ch] = ln(T(n)/E) at n = STEP·(ch+1), ch < c.len()/STEP (see [`PointExpansion::gc`]).
fn tails(c: &[f64], e: f64) -> Vec<f64> {
    let mut s = Sum::default();
    c.chunks_exact(STEP)
        .map(|chunk| {
            for &x in chunk {
                s.add(x * x);
            }
            if e == 0.0 {
                f64::NEG_INFINITY
            } else {
                let t = (e - s.get()).max(0.0);
                libm::log((t + TAIL_FLOOR * e) / e)
            }
        })
        .collect()
}

/// Stores the tails of both series. All coefficients are kept: cutting a point's series
/// where its own tail reached the rounding floor would drop Σ_{k≥n} c_k(s₁)c_k(s₂)ρ^k terms up
/// to √(T₁(n)T₂(n)), not small when the other point's coefficients decay slowly (tanh at
/// s = 0.25 against s = 1 at ρ = 0.995 lost 3e-12 that way).
fn finish(
    (e_ss, e_dd): (f64, f64),
    c: Vec<f64>,
    d: Vec<f64>,
    converged: bool,
    rule: Rule,
) -> PointExpansion {
    let gc = tails(&c, e_ss);
    let gd = tails(&d, e_dd);
    PointExpansion {
        e_ss,
        e_dd,
        c,
        d,
        gc,
        gd,
        converged,
        rule,
    }
}

/// f±(z_j) = f(z_j) ± f(−z_j) for σ and σ′ on the nodes of `g` (the rule folded at z = 0), and
/// E[σ²], E[σ′²] by the rule (compensated) and by the rule of step 2h (the even nodes).
fn folded_values(act: &Activation, r: f64, g: &Grid) -> (Vec<[f64; 4]>, [f64; 2], [f64; 2]) {
    let mut fv = vec![[0.0f64; 4]; g.rows];
    let (mut ess, mut edd) = (Sum::default(), Sum::default());
    let (mut ess2, mut edd2) = (0.0, 0.0);
    for (j, f) in fv.iter_mut().enumerate() {
        let [a, da, b, db] = eval_pm(act, r * (j as f64 * g.h));
        *f = [a + b, a - b, da + db, da - db];
        let w = g.psi[j * TERMS];
        let (vs, vd) = (w * (a * a + b * b), w * (da * da + db * db));
        ess.add(vs);
        edd.add(vd);
        if j % 2 == 0 {
            ess2 += vs;
            edd2 += vd;
        }
    }
    (fv, [ess.get(), edd.get()], [2.0 * ess2, 2.0 * edd2])
}

/// Σ_j f±_j ψ_k(z_j) w_j over the rows of `g` in steps of `by` (times `by`) for the even term k
/// = 2t and the odd term 2t + 1: (c_2t, c_2t+1, d_2t, d_2t+1).
fn sampled(g: &Grid, fv: &[[f64; 4]], t: usize, by: usize) -> [f64; 4] {
    let half = TERMS / 2;
    let (mut a, mut b, mut x, mut y) = (0.0, 0.0, 0.0, 0.0);
    for j in (0..g.rows).step_by(by) {
        let row = &g.psi[j * TERMS..];
        let f = fv[j];
        a += f[0] * row[t];
        b += f[1] * row[half + t];
        x += f[2] * row[t];
        y += f[3] * row[half + t];
    }
    let m = by as f64;
    [m * a, m * b, m * x, m * y]
}

/// Step 1's trapezoid rule on grid `g` (selected at level `q`) for the first `terms`
/// coefficients (a multiple of CHUNK), or None when a check disagrees: with `by_2h`, the rule of
/// step 2h (the even nodes); with `check` = Some(ψ̃), the rule on the check grid ψ̃.
fn trapezoid(
    act: &Activation,
    s: f64,
    (g, q): (&Grid, usize),
    terms: usize,
    check: Option<&Grid>,
    by_2h: bool,
) -> Option<PointExpansion> {
    let r = s.sqrt();
    let rows = g.rows;
    let (fv, [e_ss, e_dd], [e_ss2, e_dd2]) = folded_values(act, r, g);
    let agree = |a: f64, b: f64, scale: f64| (a - b).abs() <= GRID_CHECK * scale;
    if by_2h && !(agree(e_ss, e_ss2, e_ss) && agree(e_dd, e_dd2, e_dd)) {
        return None;
    }
    // The check grid's rule must agree as well (its alias frequencies are none of the main
    // rule's, so a σ with spectral content beyond the grid's reach fails here).
    let checked = match check {
        Some(cg) => {
            let (cv, [c_ss, c_dd], _) = folded_values(act, r, cg);
            if !(agree(e_ss, c_ss, e_ss) && agree(e_dd, c_dd, e_dd)) {
                return None;
            }
            Some((cg, cv))
        }
        None => None,
    };
    let mut c = vec![0.0; terms];
    let mut d = vec![0.0; terms];
    let half = TERMS / 2;
    let hc = CHUNK / 2;
    let (sc, sd) = (GRID_CHECK * e_ss.sqrt(), GRID_CHECK * e_dd.sqrt());
    for k0 in (0..terms / 2).step_by(hc) {
        // Even terms 2(k0..k0+hc), odd terms 2(k0..k0+hc)+1, at once per grid row.
        let mut ce = [0.0; CHUNK / 2];
        let mut co = [0.0; CHUNK / 2];
        let mut de = [0.0; CHUNK / 2];
        let mut dodd = [0.0; CHUNK / 2];
        accumulate(
            &g.psi, rows, &fv, k0, half, &mut ce, &mut co, &mut de, &mut dodd,
        );
        // The 2h rule (and the check grid's) on the first and last even and odd term of the
        // chunk.
        for &t in &[0, hc - 1] {
            let mut others = Vec::with_capacity(2);
            if by_2h {
                others.push(sampled(g, &fv, k0 + t, 2));
            }
            if let Some((cg, cv)) = &checked {
                others.push(sampled(cg, cv, k0 + t, 1));
            }
            for o in others {
                if !((o[0] - ce[t]).abs() <= sc
                    && (o[1] - co[t]).abs() <= sc
                    && (o[2] - de[t]).abs() <= sd
                    && (o[3] - dodd[t]).abs() <= sd)
                {
                    return None;
                }
            }
        }
        for t in 0..hc {
            c[2 * (k0 + t)] = ce[t];
            c[2 * (k0 + t) + 1] = co[t];
            d[2 * (k0 + t)] = de[t];
            d[2 * (k0 + t) + 1] = dodd[t];
        }
    }
    Some(finish((e_ss, e_dd), c, d, true, Rule::Trapezoid(q)))
}

/// ce[t] += Σ_j f+_j ψ_{2(k0+t)}(z_j) w_j (and the odd / σ′ companions), rows in order, at the
/// process's vector level (`crate::simd`; the same bits at every level: plain multiplies and
/// adds).
#[allow(clippy::too_many_arguments)]
fn accumulate(
    psi: &[f64],
    rows: usize,
    fv: &[[f64; 4]],
    k0: usize,
    half: usize,
    ce: &mut [f64; CHUNK / 2],
    co: &mut [f64; CHUNK / 2],
    de: &mut [f64; CHUNK / 2],
    dodd: &mut [f64; CHUNK / 2],
) {
    let sums = (ce, co, de, dodd);
    crate::simd::dispatch!(crate::simd::active(); fn(
        psi: &[f64],
        rows: usize,
        fv: &[[f64; 4]],
        k0: usize,
        half: usize,
        sums: (
            &mut [f64; CHUNK / 2],
            &mut [f64; CHUNK / 2],
            &mut [f64; CHUNK / 2],
            &mut [f64; CHUNK / 2],
        ),
    ) {
        let (ce, co, de, dodd) = sums;
        for j in 0..rows {
            let row = &psi[j * TERMS..(j + 1) * TERMS];
            let ev: &[f64; CHUNK / 2] = row[k0..k0 + CHUNK / 2].try_into().unwrap();
            let od: &[f64; CHUNK / 2] = row[half + k0..half + k0 + CHUNK / 2].try_into().unwrap();
            let [sp, sm, dp, dm] = fv[j];
            for t in 0..CHUNK / 2 {
                ce[t] += sp * ev[t];
                co[t] += sm * od[t];
                de[t] += dp * ev[t];
                dodd[t] += dm * od[t];
            }
        }
    })
}

/// Hermite terms of a point's extended expansions (k < EXT_TERMS[t]), for the pairs whose bound
/// fails with TERMS terms (|ρ| near 1 with slowly decaying coefficients: tanh at s ≳ 5). Three
/// stages, each computed when a pair first needs it: at d = 2 (N = 2000, tanh) 96 % of such
/// pairs need 257–512 terms and all but 2 of 26 000 at most 1024.
pub const EXT_TERMS: [usize; 3] = [512, 1024, 2048];
/// Finest grid on which an extended expansion is computed (its cost is ∝ 2^q·n).
const EXT_MAX_GRID: usize = 2;
/// Coefficients of the extended expansions checked against the rule of the check grid (step
/// √2·h): the high end of each doubling of k (those below the stage's length).
const EXT_SAMPLED: [usize; 8] = [256, 257, 510, 511, 1022, 1023, 2046, 2047];

/// A point's extended expansions at one layer, per stage (None when it has none: see
/// [`extension`]), each filled by the first pair that needs it.
pub(super) type ExtSlot = [OnceLock<Option<PointExpansion>>; 3];

/// Vector width (doubles) of the extended expansion's kernel, and its groups of nodes per block.
const XL: usize = 8;
const XG: usize = 4;
/// Nodes per block of [`ext_block`].
const NODE_BLOCK: usize = XL * XG;

/// One block of NODE_BLOCK trapezoid nodes of an extended expansion: for k < acc_c.len() adds
/// Σ_{g} fw[q][g][l]·ψ_k(z[g][l]) to the lane partial sums acc[q'][k][l] (c: q' = 0, d: 1;
/// q = 2·q' + parity of k: f± folded with the weight), where ψ_k = h_k φ comes from the
/// normalized recurrence ψ_{k+1} = (z ψ_k − √k ψ_{k−1})·(1/√(k+1)), run for all 32 nodes side
/// by side and never stored. `want[k]` false skips the accumulation of term k (the check grid
/// needs 8 of them). The same is done with the weights `fw2` into `acc2` for the k with
/// `want2[k]` (the rule of step 2h: the even nodes, weights doubled). Explicit `mul_add`s
/// (exactly rounded on every level) and plain operations in a fixed order: the same bits at
/// every ISA level. Cost ≈ 4 fused operations per node and term.
#[inline(always)]
fn ext_block(
    z: &[[f64; XL]; XG],
    (fw, fw2): (&[[[f64; XL]; XG]; 4], &[[[f64; XL]; XG]; 4]),
    (sqrt_k, inv_sqrt_k): (&[f64], &[f64]),
    (want, want2): (&[bool], &[bool]),
    (acc_c, acc_d): (&mut [[f64; XL]], &mut [[f64; XL]]),
    (acc2_c, acc2_d): (&mut [[f64; XL]], &mut [[f64; XL]]),
) {
    let terms = acc_c.len();
    let mut pm = [[0.0f64; XL]; XG];
    let mut pc = [[0.0f64; XL]; XG];
    for g in 0..XG {
        for l in 0..XL {
            pc[g][l] = phi(z[g][l]);
        }
    }
    // Σ_g f[g]·ψ_k[g] per lane (a fixed order over the groups).
    #[inline(always)]
    fn dot(f: &[[f64; XL]; XG], p: &[[f64; XL]; XG], acc: &mut [f64; XL]) {
        let mut s = *acc;
        for g in 0..XG {
            for l in 0..XL {
                s[l] = f[g][l].mul_add(p[g][l], s[l]);
            }
        }
        *acc = s;
    }
    // ψ_{k+1} from ψ_k (pc) and ψ_{k−1} (pm).
    #[inline(always)]
    fn advance(
        z: &[[f64; XL]; XG],
        pm: &mut [[f64; XL]; XG],
        pc: &mut [[f64; XL]; XG],
        a: f64,
        b: f64,
    ) {
        for g in 0..XG {
            for l in 0..XL {
                let next = z[g][l].mul_add(pc[g][l], -a * pm[g][l]) * b;
                pm[g][l] = pc[g][l];
                pc[g][l] = next;
            }
        }
    }
    // Even and odd k in turn, so that the weights of each are fixed in the loop body.
    for k in (0..terms).step_by(2) {
        for (kk, (fc, fd), (gc, gd)) in [
            (k, (&fw[0], &fw[2]), (&fw2[0], &fw2[2])),
            (k + 1, (&fw[1], &fw[3]), (&fw2[1], &fw2[3])),
        ] {
            if want[kk] {
                dot(fc, &pc, &mut acc_c[kk]);
                dot(fd, &pc, &mut acc_d[kk]);
            }
            if want2[kk] {
                dot(gc, &pc, &mut acc2_c[kk]);
                dot(gd, &pc, &mut acc2_d[kk]);
            }
            advance(z, &mut pm, &mut pc, sqrt_k[kk], inv_sqrt_k[kk + 1]);
        }
    }
}

/// The trapezoid rule of grid `g` for the extended expansion: c_k = Σ_j f±_j w_j ψ_k(z_j) and
/// the same for d, k < c.len() (only the k with `want[k]`, the others are left 0), in blocks of
/// NODE_BLOCK nodes summed per lane and reduced in lane order at the end (a fixed order, so the
/// bits depend on (σ, s, grid) only). With `by_2h` = Some((want2, c2, d2)), also the rule of
/// step 2h (in the same pass) for the k with `want2[k]` into (c2, d2).
fn ext_rule(
    act: &Activation,
    r: f64,
    g: &Grid,
    want: &[bool],
    (c, d): (&mut [f64], &mut [f64]),
    by_2h: Option<(&[bool], &mut [f64], &mut [f64])>,
) {
    let terms = c.len();
    // Without the 2h rule nothing reads its sums: all-false wants and empty accumulators.
    let none = vec![false; if by_2h.is_some() { 0 } else { terms }];
    let want2 = by_2h.as_ref().map_or(&none[..], |b| b.0);
    let n2 = if by_2h.is_some() { terms } else { 0 };
    let mut acc2_c = vec![[0.0f64; XL]; n2];
    let mut acc2_d = vec![[0.0f64; XL]; n2];
    let sqrt_k: Vec<f64> = (0..=terms).map(|k| (k as f64).sqrt()).collect();
    let inv_sqrt_k: Vec<f64> = sqrt_k.iter().map(|&x| 1.0 / x).collect();
    let mut acc_c = vec![[0.0f64; XL]; terms];
    let mut acc_d = vec![[0.0f64; XL]; terms];
    let isa = crate::simd::active();
    for j0 in (0..g.rows).step_by(NODE_BLOCK) {
        let mut z = [[0.0f64; XL]; XG];
        let mut fw = [[[0.0f64; XL]; XG]; 4];
        let mut fw2 = [[[0.0f64; XL]; XG]; 4];
        for t in 0..NODE_BLOCK.min(g.rows - j0) {
            let (gi, l) = (t / XL, t % XL);
            let j = j0 + t;
            let zj = j as f64 * g.h;
            let w = if j == 0 { 0.5 * g.h } else { g.h };
            let [a, da, b, db] = eval_pm(act, r * zj);
            z[gi][l] = zj;
            fw[0][gi][l] = w * (a + b);
            fw[1][gi][l] = w * (a - b);
            fw[2][gi][l] = w * (da + db);
            fw[3][gi][l] = w * (da - db);
            if j % 2 == 0 {
                for q in 0..4 {
                    fw2[q][gi][l] = 2.0 * fw[q][gi][l];
                }
            }
        }
        let acc = (&mut acc_c[..], &mut acc_d[..]);
        let acc2 = (&mut acc2_c[..], &mut acc2_d[..]);
        let roots = (&sqrt_k[..], &inv_sqrt_k[..]);
        let (z, fws, wants) = (&z, (&fw, &fw2), (want, want2));
        crate::simd::dispatch!(isa; fn(
            z: &[[f64; XL]; XG],
            fws: (&[[[f64; XL]; XG]; 4], &[[[f64; XL]; XG]; 4]),
            roots: (&[f64], &[f64]),
            wants: (&[bool], &[bool]),
            acc: (&mut [[f64; XL]], &mut [[f64; XL]]),
            acc2: (&mut [[f64; XL]], &mut [[f64; XL]]),
        ) {
            ext_block(z, fws, roots, wants, acc, acc2)
        });
    }
    let sum = |a: &[f64; XL]| a.iter().fold(0.0, |s, &x| s + x);
    for k in 0..terms {
        c[k] = sum(&acc_c[k]);
        d[k] = sum(&acc_d[k]);
    }
    if let Some((want2, c2, d2)) = by_2h {
        for k in (0..terms).filter(|&k| want2[k]) {
            c2[k] = sum(&acc2_c[k]);
            d2[k] = sum(&acc2_d[k]);
        }
    }
}

/// The extended expansion (`terms` coefficients, a stage of [`EXT_TERMS`]) of σ at variance s,
/// on the grid that the full expansion `full` was accepted on, with the Hermite functions
/// computed node by node (a table of 2048 columns would take 3.4 MB per 209 nodes); its first
/// TERMS coefficients must agree with `full`'s to GRID_CHECK·√E. None when `full` did not come
/// from the trapezoid rule on a grid q ≤ EXT_MAX_GRID, or when the check rule (step 2h, or √2·h:
/// see the body) disagrees by more than GRID_CHECK·√E on a sampled coefficient: the pair then
/// takes the quadrature. Cost: (13/h)·terms·~4 fused operations (times 1 + 1/√2 with the √2h
/// check).
pub fn extension(
    act: &Activation,
    s: f64,
    full: &PointExpansion,
    terms: usize,
) -> Option<PointExpansion> {
    let q = match full.rule {
        Rule::Trapezoid(q) if q <= EXT_MAX_GRID && full.converged => q,
        _ => return None,
    };
    let r = s.sqrt();
    let sampled: Vec<usize> = EXT_SAMPLED.into_iter().filter(|&k| k < terms).collect();
    let mut want = vec![false; terms];
    sampled.iter().for_each(|&k| want[k] = true);
    // The check, on sampled coefficients: the rule of step 2h (the even nodes, in the same pass)
    // when it resolves h_k(z)φ(z), whose local frequency reaches √(k + ½) (22.6 at k = 511, 45
    // at 2047): its alias frequency π/h = 50.3·2^q leaves a margin of ≥ 27 (grid 0, k < 512)
    // or ≥ 55 (grid q ≥ 1, k < 2048) against σ's spectrum, which for the built-in activations
    // decays like e^{−(π/(2√s))ω} with √s ≤ 2^q, so the 2h rule is itself accurate to e^{−42}.
    // Otherwise (grid 0 past 512 terms, or a user σ, whose spectrum is unknown) the rule of step
    // √2·h (the check grid, alias 71·2^q) is run.
    let by_2h = has_known_strip(act) && (terms <= 512 || q >= 1);
    let (mut c, mut d) = (vec![0.0; terms], vec![0.0; terms]);
    // The check rule's sampled coefficients.
    let (mut cc, mut cd) = (vec![0.0; terms], vec![0.0; terms]);
    let all = vec![true; terms];
    if by_2h {
        let check = Some((&want[..], &mut cc[..], &mut cd[..]));
        ext_rule(act, r, grid(q), &all, (&mut c, &mut d), check);
    } else {
        ext_rule(act, r, grid(q), &all, (&mut c, &mut d), None);
        ext_rule(act, r, check_grid(q), &want, (&mut cc, &mut cd), None);
    }
    let (sc, sd) = (GRID_CHECK * full.e_ss.sqrt(), GRID_CHECK * full.e_dd.sqrt());
    // The first TERMS coefficients are the full expansion's, up to rounding (the same rule
    // summed in another order): a free consistency check.
    let same = (0..TERMS).all(|k| (c[k] - full.c[k]).abs() <= sc && (d[k] - full.d[k]).abs() <= sd);
    let agree = sampled
        .iter()
        .all(|&k| (cc[k] - c[k]).abs() <= sc && (cd[k] - d[k]).abs() <= sd);
    if !(same && agree) {
        return None;
    }
    Some(finish(
        (full.e_ss, full.e_dd),
        c,
        d,
        true,
        Rule::Trapezoid(q),
    ))
}

/// The built-in activations without a closed form here (tanh, sigmoid, softplus): analytic in
/// the strip |Im x| < π/2, so the trapezoid rule's accuracy on a grid chosen by the variance is
/// known. A user σ's is not.
fn has_known_strip(act: &Activation) -> bool {
    matches!(
        act,
        Activation::Tanh | Activation::Sigmoid | Activation::Softplus
    )
}

/// Computes the full [`PointExpansion`] (TERMS coefficients) at variance `s` ≥ 0 (step 1 of the
/// module docs).
pub fn point_expansion(act: &Activation, s: f64) -> PointExpansion {
    point_expansion_terms(act, s, TERMS)
}

/// [`point_expansion`] of the first `terms` coefficients (EAGER or TERMS). The adaptive
/// fallback computes all TERMS of them whatever `terms` is (its cost is in the σ calls).
pub fn point_expansion_terms(act: &Activation, s: f64, terms: usize) -> PointExpansion {
    debug_assert!(terms % CHUNK == 0 && terms <= TERMS);
    if !s.is_finite() {
        // A variance that overflowed (or a NaN from an earlier layer) has no expansion: NaN
        // everywhere, so that it reaches the outputs and fails the call. (NaN used to take the
        // zero-variance branch below and give finite, wrong kernels.)
        return PointExpansion {
            e_ss: f64::NAN,
            e_dd: f64::NAN,
            c: vec![f64::NAN; terms],
            d: vec![f64::NAN; terms],
            gc: vec![f64::NAN; terms / STEP],
            gd: vec![f64::NAN; terms / STEP],
            converged: true,
            rule: Rule::Exact,
        };
    }
    if !(s > 0.0) {
        let mut c = vec![0.0; terms];
        let mut d = vec![0.0; terms];
        let (s0, d0) = (act.sigma(0.0), act.dsigma(0.0));
        c[0] = s0;
        d[0] = d0;
        return finish((s0 * s0, d0 * d0), c, d, true, Rule::Exact);
    }
    // Finest step needed by the scale of σ(√s z): h ≤ GRID_H0/√s.
    let q0 = if s <= 1.0 {
        0
    } else {
        (0.5 * s.log2()).ceil() as usize
    };
    // The built-in activations (tanh, sigmoid, softplus) are analytic in the strip |Im x| < π/2,
    // where h ≤ GRID_H0/√s makes the rule's error ~e^{−π²/(2·GRID_H0)}: two grids, checked by
    // the rule of step 2h. A user σ has no known scale, and the h/2h test alone cannot detect
    // aliasing (the rules with steps h and 2h share every alias frequency 2πm/h, so sin(1000 x)
    // passes it with wrong coefficients): its grids are also checked by the rule of step √2·h,
    // whose alias frequencies are none of those, and it may try every finer grid before the
    // adaptive rule (which fails such σ explicitly, with `converged = false`).
    let builtin = has_known_strip(act);
    let q1 = if builtin {
        (q0 + 2).min(GRID_LEVELS)
    } else {
        GRID_LEVELS
    };
    for q in q0..q1 {
        let p = if terms <= EAGER {
            // The eager coefficients on the grid of step 2h, checked by the rule of step
            // 2√2·h for every σ (see `eager_grid`).
            trapezoid(
                act,
                s,
                (eager_grid(q), q),
                terms,
                Some(eager_check_grid(q)),
                false,
            )
        } else {
            let check = (!builtin).then(|| check_grid(q));
            trapezoid(act, s, (grid(q), q), terms, check, true)
        };
        if let Some(p) = p {
            return p;
        }
    }
    adaptive_expansion(act, s)
}

/// Step 1 by the adaptive Gauss–Kronrod rule (the fallback when no trapezoid grid passes).
fn adaptive_expansion(act: &Activation, s: f64) -> PointExpansion {
    let k1 = TERMS;
    let mut c = vec![0.0; k1];
    let mut d = vec![0.0; k1];
    let r = s.sqrt();
    let breaks = breakpoints(&[(r, 0.0)], ZMAX, Some(0.25));
    let sqrt_k: Vec<f64> = (0..=k1).map(|k| (k as f64).sqrt()).collect();
    // 1/√(k+1), so that the serial recurrence below multiplies instead of dividing.
    let inv_sqrt_k: Vec<f64> = (0..=k1).map(|k| 1.0 / (k as f64).sqrt()).collect();
    let mut e_ss = 0.0;
    let mut e_dd = 0.0;
    let mut h = vec![0.0; k1];
    let mut f = |z: f64| {
        let p = phi(z);
        let x = r * z;
        [act.sigma(x) * p, act.dsigma(x) * p]
    };
    let mut accept = |a: f64, b: f64, z: &[f64; 15], v: &[[f64; 2]; 15]| {
        let (_, w) = super::quadrature::nodes(a, b);
        for n in 0..15 {
            let zn = z[n];
            let (fs, fd) = (v[n][0], v[n][1]);
            let p = phi(zn);
            if p > 0.0 {
                e_ss += w[n] * fs * fs / p;
                e_dd += w[n] * fd * fd / p;
            }
            // Normalized probabilists' Hermite polynomials h_k = He_k/√k!:
            // h_{k+1} = (z h_k − √k h_{k−1}) / √(k+1).
            h[0] = 1.0;
            h[1] = zn;
            for k in 1..k1 - 1 {
                h[k + 1] = (zn * h[k] - sqrt_k[k] * h[k - 1]) * inv_sqrt_k[k + 1];
            }
            let (ws, wd) = (w[n] * fs, w[n] * fd);
            for k in 0..k1 {
                c[k] += ws * h[k];
                d[k] += wd * h[k];
            }
        }
    };
    let (_, converged) = adaptive2_checked(&mut f, &breaks, TOL_1D, [0.0; 2], &mut accept);
    finish((e_ss, e_dd), c, d, converged, Rule::Adaptive)
}

/// RMS values (√E[σ(√s z)²], √E[σ′(√s z)²]) at variance s > 0, by one adaptive 1-D pass.
fn rms(act: &Activation, s: f64) -> [f64; 2] {
    let r = s.sqrt();
    let breaks = breakpoints(&[(r, 0.0)], ZMAX, None);
    let mut f = |z: f64| {
        let p = phi(z);
        let x = r * z;
        let (a, b) = (act.sigma(x), act.dsigma(x));
        [a * a * p, b * b * p]
    };
    let m = adaptive2(&mut f, &breaks, 1e-6, [0.0; 2], &mut |_, _, _, _| {});
    [m[0].max(0.0).sqrt(), m[1].max(0.0).sqrt()]
}

/// Most activation evaluations (σ and σ′ at one argument count as one) that one pair's nested
/// quadrature may use at one layer. The typical pair of a smooth σ (tanh at s = 450, ρ = 1 − 1e-9)
/// needs about 10⁵; a σ that oscillates faster than the rule can resolve (sin(1000x)) would need
/// up to 15²·MAX_PANELS² ≈ 2·10⁸ and minutes per pair. Past the budget the pair is abandoned and
/// the call fails with `Error::Numerical` naming it, so the work of a limit-kernel call is bounded
/// for any σ by N1·N2·(L−1)·PAIR_EVAL_BUDGET evaluations for the pairs plus
/// (N1 + N2)·(L−1)·2·15·MAX_PANELS for the per-point expansions.
pub const PAIR_EVAL_BUDGET: u64 = 20_000_000;

/// How a budgeted pair quadrature ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PairOutcome {
    /// (E[σ(u)σ(v)], E[σ′(u)σ′(v)]).
    Done(f64, f64),
    /// The stop flag was set (a cancel, or another pair over its budget).
    Stopped,
    /// More than the budget of activation evaluations would be needed.
    OverBudget,
}

/// E[σ(u)σ(v)] and E[σ′(u)σ′(v)] by nested adaptive quadrature (step 3 of the module docs).
/// Requires s11 > 0 and s22 > 0. Non-finite inputs give NaN. Unbudgeted: see
/// [`pair_quadrature_budgeted`] for the bounded form the kernels use.
#[cfg(test)]
pub fn pair_quadrature(act: &Activation, s11: f64, s22: f64, s12: f64) -> (f64, f64) {
    match pair_quadrature_budgeted(act, s11, s22, s12, &AtomicBool::new(false), u64::MAX).0 {
        PairOutcome::Done(e, ed) => (e, ed),
        _ => (f64::NAN, f64::NAN),
    }
}

/// [`pair_quadrature`] that gives up after `budget` activation evaluations, or as soon as `stop`
/// is set (read between outer nodes, each at most 30·MAX_PANELS evaluations: 15 per panel, two panels per bisection). Also returns the
/// number of evaluations used.
///
/// Error control: besides the relative per-panel tolerances, the inner integral G(z₁) needs
/// only an absolute accuracy TOL_INNER·rms₂ (rms₂ = √E[σ(v)²], resp. σ′), since its error enters
/// the outer integral weighted by |σ(√s₁ z₁)|φ(z₁), whose integral is at most rms₁; the outer one
/// needs TOL_OUTER·rms₁·rms₂ (the Cauchy–Schwarz bound of the result). These absolute floors
/// stop the refinement where σ′ is pure rounding noise (a user's σ′ = 1 − tanh² in the tails is
/// quantized in steps of ε, which no relative criterion can resolve), so the cost stays bounded.
pub fn pair_quadrature_budgeted(
    act: &Activation,
    s11: f64,
    s22: f64,
    s12: f64,
    stop: &AtomicBool,
    budget: u64,
) -> (PairOutcome, u64) {
    if !(s11.is_finite() && s22.is_finite() && s12.is_finite()) {
        return (PairOutcome::Done(f64::NAN, f64::NAN), 0);
    }
    // The nested rule is not symmetric in its two points to the last bit (outer and inner
    // integrals differ), but E[σ(u)σ(v)] is: order the variances so that K(x, x′) and K(x′, x)
    // get the same bits. Tiles of one point set above the diagonal then equal the mirrored
    // lower triangle of the symmetric kernel (found by fuzz/fuzz_targets/tiles.rs).
    let (s11, s22) = if s22.total_cmp(&s11).is_lt() {
        (s22, s11)
    } else {
        (s11, s22)
    };
    let r1 = s11.sqrt();
    let r2 = s22.sqrt();
    let (m1, m2) = (rms(act, s11), rms(act, s22));
    let len = 2.0 * ZMAX;
    let inner_floor = [TOL_INNER * m2[0] / len, TOL_INNER * m2[1] / len];
    let outer_floor = [
        TOL_OUTER * m1[0] * m2[0] / len,
        TOL_OUTER * m1[1] * m2[1] / len,
    ];
    // Correlation ±1 within the snap band of the tiles (see `super::SNAP_REL`) is exactly ±1,
    // so that the smoothing width τ is exactly 0 there.
    let rho = if s12 * s12 >= s11 * s22 * (1.0 - super::SNAP_REL) {
        1.0f64.copysign(s12)
    } else {
        (s12 / (r1 * r2)).clamp(-1.0, 1.0)
    };
    let one_minus = (1.0 - rho) * (1.0 + rho);
    let tau = r2 * one_minus.max(0.0).sqrt();
    let outer_breaks = breakpoints(&[(r1, 0.0), (r2 * rho.abs(), 0.0)], ZMAX, None);
    let mut inner_breaks: Vec<f64> = Vec::with_capacity(64);
    let mut evals: u64 = 0;
    let mut outcome: Option<PairOutcome> = None;
    let mut outer = |z1: f64| {
        if outcome.is_some() {
            return [0.0, 0.0];
        }
        if stop.load(Ordering::Relaxed) {
            outcome = Some(PairOutcome::Stopped);
            return [0.0, 0.0];
        }
        let p1 = phi(z1);
        let m = r2 * rho * z1;
        let g = if tau > 0.0 {
            inner_breaks.clear();
            inner_breaks.extend(breakpoints(&[(tau, m)], ZMAX, None));
            let mut count = 0u64;
            let mut inner = |z2: f64| {
                count += 1;
                let p2 = phi(z2);
                let x = m + tau * z2;
                [act.sigma(x) * p2, act.dsigma(x) * p2]
            };
            let g = adaptive2(
                &mut inner,
                &inner_breaks,
                TOL_INNER,
                inner_floor,
                &mut |_, _, _, _| {},
            );
            evals += count;
            g
        } else {
            evals += 1;
            [act.sigma(m), act.dsigma(m)]
        };
        evals += 1;
        if evals > budget {
            outcome = Some(PairOutcome::OverBudget);
        }
        let x = r1 * z1;
        [act.sigma(x) * g[0] * p1, act.dsigma(x) * g[1] * p1]
    };
    let r = adaptive2(
        &mut outer,
        &outer_breaks,
        TOL_OUTER,
        outer_floor,
        &mut |_, _, _, _| {},
    );
    (outcome.unwrap_or(PairOutcome::Done(r[0], r[1])), evals)
}

/// Lanes of the vectorized series (columns per Horner loop).
const LANES: usize = 8;

/// A point's full expansion at one layer, computed by the first pair that needs more than the
/// EAGER terms (or up front when the eager part fell back to the adaptive rule, which computes
/// all terms anyway). The expansion is a function of (σ, s) alone, so whichever thread fills
/// the slot, every pair reads the same bits.
pub(super) type DeepSlot = OnceLock<PointExpansion>;

/// The row point's eager data of one layer, gathered contiguously.
pub(super) struct RowPoint {
    pub(super) c: [f64; EAGER],
    pub(super) d: [f64; EAGER],
    pub(super) gc: [f64; NCHECK_EAGER],
    pub(super) gd: [f64; NCHECK_EAGER],
}

impl RowPoint {
    pub(super) fn new() -> Box<RowPoint> {
        Box::new(RowPoint {
            c: [0.0; EAGER],
            d: [0.0; EAGER],
            gc: [0.0; NCHECK_EAGER],
            gd: [0.0; NCHECK_EAGER],
        })
    }

    /// Loads point `i` of `p` at layer `l` (one contiguous read of `p.rm`).
    pub(super) fn load(&mut self, p: &super::points::PointSet, l: usize, i: usize) {
        let r = &p.rm[(l * p.n + i) * ROW_LEN..(l * p.n + i + 1) * ROW_LEN];
        let (c, rest) = r.split_at(EAGER);
        let (d, rest) = rest.split_at(EAGER);
        let (gc, gd) = rest.split_at(NCHECK_EAGER);
        self.c.copy_from_slice(c);
        self.d.copy_from_slice(d);
        self.gc.copy_from_slice(gc);
        self.gd.copy_from_slice(gd);
    }
}

/// The column points' eager data of one layer from column j0 on: element (k, j) at
/// `k*stride + j`.
pub(super) struct Cols<'a> {
    pub(super) c: &'a [f64],
    pub(super) d: &'a [f64],
    pub(super) gc: &'a [f64],
    pub(super) gd: &'a [f64],
    pub(super) stride: usize,
}

impl<'a> Cols<'a> {
    pub(super) fn of(p: &'a super::points::PointSet, l: usize, j0: usize) -> Cols<'a> {
        let n = p.n;
        Cols {
            c: &p.c[l * EAGER * n + j0..],
            d: &p.d[l * EAGER * n + j0..],
            gc: &p.gc[l * NCHECK_EAGER * n + j0..],
            gd: &p.gd[l * NCHECK_EAGER * n + j0..],
            stride: n,
        }
    }
}

/// Whether n = STEP·(ch+1) terms meet the tolerance at |ρ| = a for both series, given the two
/// points' log tails (gc_i + gc_j, gd_i + gd_j) at n: |ρ|^n √(T_i T_j) ≤ 1e-14·√(E_i E_j), with
/// −ln a ≥ q = 2(1 − a)/(1 + a) on (0, 1] (a = 0 only makes the bound smaller).
#[inline(always)]
fn bound_ok(q: f64, ch: usize, gc: f64, gd: f64) -> bool {
    let lead = -q * (STEP * (ch + 1)) as f64;
    lead + 0.5 * gc <= LN_TOL && lead + 0.5 * gd <= LN_TOL
}

/// Terms the pair (row point, column j) needs at |ρ| = a from the eager parts (step 2 of the
/// module docs): the smallest n = STEP·(c+1) ≤ EAGER whose truncation bound is within tolerance
/// for both series, or 0 when none is (the pair takes the full expansions). A NaN ρ gives 0.
#[inline(always)]
fn terms_needed(a: f64, row: &RowPoint, cols: &Cols, j: usize) -> usize {
    let q = 2.0 * (1.0 - a) / (1.0 + a);
    let st = cols.stride;
    // The bound falls with n (the tails are non-increasing): the first chunk that passes.
    for ch in 0..NCHECK_EAGER {
        if bound_ok(
            q,
            ch,
            row.gc[ch] + cols.gc[ch * st + j],
            row.gd[ch] + cols.gd[ch * st + j],
        ) {
            return STEP * (ch + 1);
        }
    }
    0
}

/// [`terms_needed`] of eight lanes (columns j..j+8) at once: lane l gets the n that
/// `terms_needed(a[l], row, cols, j + l)` gives.
#[inline(always)]
fn terms_needed8(a: &[f64; LANES], row: &RowPoint, cols: &Cols, j: usize) -> [i64; LANES] {
    let mut q = [0.0f64; LANES];
    for l in 0..LANES {
        q[l] = 2.0 * (1.0 - a[l]) / (1.0 + a[l]);
    }
    let st = cols.stride;
    let mut n = [0i64; LANES];
    for ch in 0..NCHECK_EAGER {
        let gc: &[f64; LANES] = cols.gc[ch * st + j..ch * st + j + LANES]
            .try_into()
            .unwrap();
        let gd: &[f64; LANES] = cols.gd[ch * st + j..ch * st + j + LANES]
            .try_into()
            .unwrap();
        // bound_ok without its short-circuit, so that the lanes run as one vector compare.
        let nn = (STEP * (ch + 1)) as f64;
        let (rc, rd) = (row.gc[ch], row.gd[ch]);
        let mut open = 0usize;
        for l in 0..LANES {
            let lead = -q[l] * nn;
            let ok = (lead + 0.5 * (rc + gc[l]) <= LN_TOL) & (lead + 0.5 * (rd + gd[l]) <= LN_TOL);
            n[l] = if n[l] == 0 && ok { nn as i64 } else { n[l] };
            open += (n[l] == 0) as usize;
        }
        if open == 0 {
            break;
        }
    }
    n
}

/// Terms the pair needs at |ρ| = a from two full expansions, or 0 (the pair quadrature).
#[inline(always)]
fn terms_needed_full(a: f64, pi: &PointExpansion, pj: &PointExpansion) -> usize {
    let q = 2.0 * (1.0 - a) / (1.0 + a);
    let pass = |ch: usize| bound_ok(q, ch, pi.gc[ch] + pj.gc[ch], pi.gd[ch] + pj.gd[ch]);
    let last = pi.gc.len().min(pj.gc.len()) - 1;
    if !pass(last) {
        return 0;
    }
    let (mut lo, mut hi) = (0usize, last);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if pass(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    STEP * (lo + 1)
}

/// Σ_{k<n} ci[k]cj[k]ρ^k and the same for d, by Horner (the scalar twin of [`horner8`], with the
/// same operations in the same order): `at(k)` gives (ci[k]cj[k] factors for c, then for d).
#[inline(always)]
fn horner1(n: usize, r: f64, at: impl Fn(usize) -> [f64; 4]) -> (f64, f64) {
    let (mut ac, mut ad) = (0.0f64, 0.0f64);
    for k in (0..n).rev() {
        let [ci, cj, di, dj] = at(k);
        ac = ac.mul_add(r, ci * cj);
        ad = ad.mul_add(r, di * dj);
    }
    (ac, ad)
}

/// The series of one pair from the eager data.
#[inline(always)]
fn horner_eager(row: &RowPoint, cols: &Cols, j: usize, n: usize, r: f64) -> (f64, f64) {
    let st = cols.stride;
    horner1(n, r, |k| {
        [row.c[k], cols.c[k * st + j], row.d[k], cols.d[k * st + j]]
    })
}

/// (Σ_{k<n} a_k b_k ρ^k, Σ_{k<n} c_k d_k ρ^k) (n a multiple of 8), each as eight interleaved
/// Horner chains in ρ⁸, Σ_m ρ^m Σ_j a_{8j+m} b_{8j+m} ρ^{8j}: the two series' sixteen chains run
/// side by side in two vector registers, one fused multiply-add deep per eight terms, instead of
/// one chain of n dependent steps (the long series of the full and extended expansions).
#[inline(always)]
fn horner_split(
    n: usize,
    r: f64,
    (a, b): (&[f64], &[f64]),
    (c, d): (&[f64], &[f64]),
) -> (f64, f64) {
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let mut acc = [0.0f64; 8];
    let mut acd = [0.0f64; 8];
    for j in (0..n / 8).rev() {
        let (x, y) = (&a[8 * j..8 * j + 8], &b[8 * j..8 * j + 8]);
        let (u, v) = (&c[8 * j..8 * j + 8], &d[8 * j..8 * j + 8]);
        for m in 0..8 {
            acc[m] = acc[m].mul_add(r8, x[m] * y[m]);
            acd[m] = acd[m].mul_add(r8, u[m] * v[m]);
        }
    }
    let fold = |acc: [f64; 8]| acc.iter().rev().fold(0.0, |s: f64, &x| s.mul_add(r, x));
    (fold(acc), fold(acd))
}

/// The series of one pair from two full (or extended) expansions, when their tails allow it.
#[inline(always)]
fn series_full(pi: &PointExpansion, pj: &PointExpansion, r: f64) -> Option<(f64, f64)> {
    let n = terms_needed_full(r.abs(), pi, pj);
    if n == 0 {
        return None;
    }
    // (No closure here: it would not be inlined into the caller's vectorized copy.)
    Some(horner_split(n, r, (&pi.c, &pj.c), (&pi.d, &pj.d)))
}

/// Eight lanes (columns j..j+8) of the Horner loop, lane l using its own n[l] terms: terms
/// k ≥ n[l] are replaced by exact zeros while the lane's accumulator is still 0, so each lane
/// gives the bits of [`horner1`].
#[inline(always)]
fn horner8(
    row: &RowPoint,
    cols: &Cols,
    j: usize,
    n: &[i64; LANES],
    r: &[f64; LANES],
) -> ([f64; LANES], [f64; LANES]) {
    let nmax = n.iter().copied().max().unwrap_or(0).max(0) as usize;
    let nmin = (n.iter().copied().min().unwrap_or(0).max(0) as usize).min(nmax);
    let mut ac = [0.0f64; LANES];
    let mut ad = [0.0f64; LANES];
    let st = cols.stride;
    // Terms some lanes do not use: masked.
    for k in (nmin..nmax).rev() {
        let (a, b) = (row.c[k], row.d[k]);
        let rc: &[f64; LANES] = cols.c[k * st + j..k * st + j + LANES].try_into().unwrap();
        let rd: &[f64; LANES] = cols.d[k * st + j..k * st + j + LANES].try_into().unwrap();
        let ki = k as i64;
        for l in 0..LANES {
            let on = ki < n[l];
            let tc = if on { a * rc[l] } else { 0.0 };
            let td = if on { b * rd[l] } else { 0.0 };
            ac[l] = ac[l].mul_add(r[l], tc);
            ad[l] = ad[l].mul_add(r[l], td);
        }
    }
    // Terms every lane uses (the same operations without the mask, so that they vectorize).
    for k in (0..nmin).rev() {
        let (a, b) = (row.c[k], row.d[k]);
        let rc: &[f64; LANES] = cols.c[k * st + j..k * st + j + LANES].try_into().unwrap();
        let rd: &[f64; LANES] = cols.d[k * st + j..k * st + j + LANES].try_into().unwrap();
        for l in 0..LANES {
            ac[l] = ac[l].mul_add(r[l], a * rc[l]);
            ad[l] = ad[l].mul_add(r[l], b * rd[l]);
        }
    }
    (ac, ad)
}

/// A full expansion that a pair needs did not converge (the call fails).
struct Unresolved;

/// The series of a pair (correlation r) whose bound fails on the eager terms: from the two points'
/// full expansions, else from their extended ones stage by stage (each slot computed by the first
/// pair that needs it); Ok(None) when no stage's bound is met (or a point has no extension), and
/// the pair takes the quadrature.
#[inline(always)]
fn long_series(
    act: &Activation,
    (si, deep_i, ext_i): (f64, &DeepSlot, &ExtSlot),
    (sj, deep_j, ext_j): (f64, &DeepSlot, &ExtSlot),
    r: f64,
) -> Result<Option<(f64, f64)>, Unresolved> {
    let pi = deep_i.get_or_init(|| point_expansion(act, si));
    let pj = deep_j.get_or_init(|| point_expansion(act, sj));
    if !(pi.converged && pj.converged) {
        return Err(Unresolved);
    }
    if let Some(v) = series_full(pi, pj, r) {
        return Ok(Some(v));
    }
    for (t, &terms) in EXT_TERMS.iter().enumerate() {
        let xi = ext_i[t].get_or_init(|| extension(act, si, pi, terms));
        let xj = ext_j[t].get_or_init(|| extension(act, sj, pj, terms));
        let (Some(xi), Some(xj)) = (xi, xj) else {
            return Ok(None);
        };
        if let Some(v) = series_full(xi, xj, r) {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// Flags of a tile row's numerical pairs: the stop flag (cancel, or a failure elsewhere), and
/// the two failures that stop the call: a pair quadrature over its budget, and a full
/// expansion that did not converge.
pub(super) struct PairFlags<'a> {
    pub(super) stop: &'a AtomicBool,
    pub(super) over_budget: &'a AtomicBool,
    pub(super) unresolved: &'a AtomicBool,
}

/// E[σ(u)σ(v)] and E[σ′(u)σ′(v)] of one tile row at layer `l` (steps 2 and 3 of the module
/// docs): on entry `s12` holds the covariances of the row point i (variance `si`, deviation
/// `ri`) with the columns j0.. (variances `sj`, deviations `rj`); on exit `s12` holds E and `dot`
/// holds E′. A pair whose bound fails with the eager terms takes the two points' full, then
/// extended expansions ([`long_series`]; `deep` and `ext`: the row point's slots and the
/// columns' from j0), and the pair quadrature when those fail too. The diagonal entry `diag` is left to the caller. Returns false when the
/// call must stop (cancel, or a failure: then its flag and `stop` are set).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn pair_row(
    act: &Activation,
    row: &RowPoint,
    cols: &Cols,
    (si, ri): (f64, f64),
    (sj, rj): (&[f64], &[f64]),
    (deep_i, deep_j): (&DeepSlot, &[DeepSlot]),
    (ext_i, ext_j): (&ExtSlot, &[ExtSlot]),
    s12: &mut [f64],
    dot: &mut [f64],
    diag: Option<usize>,
    flags: &PairFlags,
) -> bool {
    let w = s12.len();
    let snap = super::SNAP_REL;
    let mut j = 0;
    while j < w {
        let lanes = LANES.min(w - j);
        let mut r = [0.0f64; LANES];
        let mut n = [0i64; LANES];
        let mut cov = [0.0f64; LANES];
        for l in 0..lanes {
            let k = j + l;
            let x = s12[k];
            cov[l] = x;
            let den = ri * rj[k];
            let p = si * sj[k];
            r[l] = if p > 0.0 && x * x >= p * (1.0 - snap) {
                1.0f64.copysign(x)
            } else if den > 0.0 {
                (x / den).clamp(-1.0, 1.0)
            } else if (x * den).is_nan() {
                // A NaN covariance or variance stays NaN (it was read as correlation 0, i.e. a
                // zero variance, giving OK with wrong values).
                f64::NAN
            } else {
                0.0
            };
            if lanes < LANES {
                n[l] = terms_needed(r[l].abs(), row, cols, k) as i64;
            }
        }
        let (e, ed) = if lanes == LANES {
            n = terms_needed8(&r.map(f64::abs), row, cols, j);
            horner8(row, cols, j, &n, &r)
        } else {
            let mut e = [0.0; LANES];
            let mut ed = [0.0; LANES];
            for l in 0..lanes {
                (e[l], ed[l]) = horner_eager(row, cols, j + l, n[l] as usize, r[l]);
            }
            (e, ed)
        };
        for l in 0..lanes {
            let k = j + l;
            s12[k] = e[l];
            dot[k] = ed[l];
            if n[l] != 0 || Some(k) == diag {
                continue;
            }
            if !r[l].is_nan() {
                match long_series(
                    act,
                    (si, &deep_i, &ext_i),
                    (sj[k], &deep_j[k], &ext_j[k]),
                    r[l],
                ) {
                    Ok(Some((a, b))) => {
                        s12[k] = a;
                        dot[k] = b;
                        continue;
                    }
                    Ok(None) => {}
                    Err(Unresolved) => {
                        flags.unresolved.store(true, Ordering::Relaxed);
                        flags.stop.store(true, Ordering::Relaxed);
                        return false;
                    }
                }
            }
            match pair_quadrature_budgeted(act, si, sj[k], cov[l], flags.stop, PAIR_EVAL_BUDGET).0 {
                PairOutcome::Done(a, b) => {
                    s12[k] = a;
                    dot[k] = b;
                }
                PairOutcome::Stopped => return false,
                PairOutcome::OverBudget => {
                    flags.over_budget.store(true, Ordering::Relaxed);
                    flags.stop.store(true, Ordering::Relaxed);
                    return false;
                }
            }
        }
        j += lanes;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The budgeted quadrature gives the unbudgeted bits when the budget suffices, gives up with
    /// OverBudget (having used about the budget, not the ~10^8 evaluations the integrand would
    /// take) when it does not, and stops at once on the stop flag.
    #[test]
    fn pair_budget_and_stop() {
        let act = Activation::Tanh;
        let (s1, s2, s12) = (2.0, 3.0, 0.9 * 6.0f64.sqrt());
        let (e, ed) = pair_quadrature(&act, s1, s2, s12);
        let stop = AtomicBool::new(false);
        let (full, used) = pair_quadrature_budgeted(&act, s1, s2, s12, &stop, u64::MAX);
        assert_eq!(full, PairOutcome::Done(e, ed));
        assert!(used > 1000, "{used} evaluations");
        let (o, u) = pair_quadrature_budgeted(&act, s1, s2, s12, &stop, used / 2);
        assert_eq!(o, PairOutcome::OverBudget);
        assert!(u <= used / 2 + 30 * super::super::quadrature::MAX_PANELS as u64 + 1);
        let (o, u) = pair_quadrature_budgeted(&act, s1, s2, s12, &AtomicBool::new(true), u64::MAX);
        assert_eq!((o, u), (PairOutcome::Stopped, 0));
        // sin(1000 x) exceeds the default budget instead of running for minutes.
        let fast = Activation::Custom(std::sync::Arc::new(crate::activation::FnActivation {
            sigma: |x: f64| (1000.0 * x).sin(),
            dsigma: |x: f64| 1000.0 * (1000.0 * x).cos(),
        }));
        let t0 = std::time::Instant::now();
        let (o, u) = pair_quadrature_budgeted(&fast, 1.0, 1.0, 0.99, &stop, PAIR_EVAL_BUDGET);
        assert_eq!(
            o,
            PairOutcome::OverBudget,
            "{u} evaluations in {:?}",
            t0.elapsed()
        );
    }

    /// erf closed forms (see NOTES-numerics): the numerical path must reproduce them.
    fn erf_closed(s11: f64, s22: f64, s12: f64) -> (f64, f64) {
        let pi = std::f64::consts::PI;
        let det = (s11 * s22 - s12 * s12).max(0.0);
        let dd = 1.0 + 2.0 * (s11 + s22) + 4.0 * det;
        (
            2.0 / pi * libm::atan2(2.0 * s12, dd.sqrt()),
            4.0 / pi / dd.sqrt(),
        )
    }

    /// A pair's series values (a, b) = (E, E′) against the pair quadrature, to 1e-13 of the
    /// Cauchy–Schwarz scales √(E[σ(u)²]E[σ(v)²]) and √(E[σ′(u)²]E[σ′(v)²]).
    fn assert_matches_quadrature(
        act: &Activation,
        (s1, s2, rho): (f64, f64, f64),
        (a, b): (f64, f64),
        (f1, f2): (&PointExpansion, &PointExpansion),
    ) {
        let (qa, qb) = pair_quadrature(act, s1, s2, rho * (s1 * s2).sqrt());
        let scale = (f1.e_ss * f2.e_ss).sqrt();
        assert!(
            (a - qa).abs() <= 1e-13 * scale,
            "s=({s1},{s2}) rho={rho}: {a} vs {qa}"
        );
        let scale = (f1.e_dd * f2.e_dd).sqrt();
        assert!(
            (b - qb).abs() <= 1e-13 * scale,
            "s=({s1},{s2}) rho={rho}: {b} vs {qb}"
        );
    }

    /// Series of one pair from two full expansions (None: the bound sends it to the quadrature).
    fn series(pi: &PointExpansion, pj: &PointExpansion, rho: f64) -> Option<(f64, f64)> {
        series_full(pi, pj, rho)
    }

    /// A user σ takes the trapezoid rule when it is smooth (and then agrees with the built-in
    /// activation it reimplements); the √2h check grid rejects grids that alias: for
    /// σ = sin(1000 x) the rules of steps 1/16 and 1/8 agree on wrong coefficients, and the
    /// accepted grid (q ≥ 2) must give the true values (c_k = 0 to e^{−5·10⁵}, E[σ²] = ½,
    /// E[σ′²] = 5·10⁵). σ = |x| has a kink, so no trapezoid grid passes and the adaptive rule
    /// resolves it (c_0 = E|√s z| = √(2s/π), E[σ²] = s).
    #[test]
    fn user_sigma_rule_choice() {
        use crate::activation::FnActivation;
        use std::sync::Arc;
        let tanh = Activation::Custom(Arc::new(FnActivation {
            sigma: |x: f64| x.tanh(),
            dsigma: |x: f64| 1.0 - x.tanh() * x.tanh(),
        }));
        for &s in &[0.3, 1.0, 2.5, 40.0] {
            let user = point_expansion(&tanh, s);
            let builtin = point_expansion(&Activation::Tanh, s);
            assert!(
                matches!(user.rule, Rule::Trapezoid(_)),
                "s={s}: {:?}",
                user.rule
            );
            assert!(user.converged);
            let scale = user.e_ss.sqrt();
            for k in 0..TERMS {
                assert!(
                    (user.c[k] - builtin.c[k]).abs() <= 1e-15 * scale,
                    "c_{k} s={s}"
                );
                assert!((user.d[k] - builtin.d[k]).abs() <= 1e-15, "d_{k} s={s}");
            }
            assert!(((user.e_ss - builtin.e_ss) / builtin.e_ss).abs() <= 1e-14);
        }
        let fast = Activation::Custom(Arc::new(FnActivation {
            sigma: |x: f64| (1000.0 * x).sin(),
            dsigma: |x: f64| 1000.0 * (1000.0 * x).cos(),
        }));
        // Steps 1/16 and 1/8 share the alias 1000 − 10·2π·16 ≈ −5.3 of sin(1000 z)h_k(z): both
        // rules give c_1 ≈ 1e-6 where the true value is ~e^{−5·10⁵}.
        let unchecked =
            trapezoid(&fast, 1.0, (grid(0), 0), EAGER, None, true).expect("h and 2h agree");
        assert!(unchecked.c[1].abs() > 1e-9, "{}", unchecked.c[1]);
        let p = point_expansion_terms(&fast, 1.0, EAGER);
        assert!(
            matches!(p.rule, Rule::Trapezoid(q) if q >= 2),
            "{:?}",
            p.rule
        );
        assert!((p.e_ss - 0.5).abs() <= 1e-13, "{}", p.e_ss);
        assert!((p.e_dd - 5e5).abs() <= 1e-13 * 5e5, "{}", p.e_dd);
        assert!(p.c.iter().all(|c| c.abs() <= 1e-13), "{:?}", &p.c[..4]);
        let abs = Activation::Custom(Arc::new(FnActivation {
            sigma: |x: f64| x.abs(),
            dsigma: |x: f64| x.signum(),
        }));
        let s = 2.0;
        let p = point_expansion_terms(&abs, s, EAGER);
        assert_eq!(p.rule, Rule::Adaptive);
        assert!(p.converged);
        let c0 = (2.0 * s / std::f64::consts::PI).sqrt();
        assert!((p.c[0] - c0).abs() <= 1e-13 * c0, "{} vs {c0}", p.c[0]);
        assert!((p.e_ss - s).abs() <= 1e-13 * s, "{}", p.e_ss);
    }

    /// The eager part (on the grid of step 2h, checked by the 2√2h rule) agrees with the full
    /// expansion's first EAGER terms to rounding (5e-15 of the scale; measured up to 1.3e-15), for the built-in activations and a user σ over
    /// the variances that select grids 0–3; at correlations where the eager bound fails, the
    /// full expansions' series matches the pair quadrature.
    #[test]
    fn eager_part_and_full_expansion() {
        let user = Activation::Custom(std::sync::Arc::new(crate::activation::FnActivation {
            sigma: |x: f64| x.tanh(),
            dsigma: |x: f64| 1.0 - x.tanh() * x.tanh(),
        }));
        for act in [
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Softplus,
            user,
        ] {
            for &s in &[1e-4, 0.3, 1.0, 3.0, 12.0, 50.0] {
                let (e, f) = (
                    point_expansion_terms(&act, s, EAGER),
                    point_expansion(&act, s),
                );
                assert!(
                    matches!(e.rule, Rule::Trapezoid(_)),
                    "{act:?} s={s}: {:?}",
                    e.rule
                );
                let (sc, sd) = (f.e_ss.sqrt(), f.e_dd.sqrt());
                assert!((e.e_ss - f.e_ss).abs() <= 5e-15 * f.e_ss, "{act:?} s={s}");
                assert!((e.e_dd - f.e_dd).abs() <= 5e-15 * f.e_dd, "{act:?} s={s}");
                for k in 0..EAGER {
                    assert!((e.c[k] - f.c[k]).abs() <= 5e-15 * sc, "{act:?} s={s} c_{k}");
                    assert!(
                        (e.d[k] - f.d[k]).abs() <= 5e-15 * sd,
                        "{act:?} s={s} d_{k}: {} vs {} ({:e})",
                        e.d[k],
                        f.d[k],
                        (e.d[k] - f.d[k]) / sd
                    );
                }
            }
        }
        let act = Activation::Tanh;
        let (s1, s2) = (0.8, 1.3);
        let (e1, f1) = (
            point_expansion_terms(&act, s1, EAGER),
            point_expansion(&act, s1),
        );
        let f2 = point_expansion(&act, s2);
        let mut deep = 0;
        for &rho in &[0.9f64, 0.99, 0.999, -0.995] {
            let eager = terms_needed_full(rho.abs(), &e1, &point_expansion_terms(&act, s2, EAGER));
            let v = series_full(&f1, &f2, rho).expect("the full series converges");
            assert_matches_quadrature(&act, (s1, s2, rho), v, (&f1, &f2));
            deep += (eager == 0) as usize;
        }
        assert!(
            deep >= 2,
            "{deep} of the pairs need more than the eager terms"
        );
    }

    /// The extended expansions agree with the full expansion's first TERMS coefficients to
    /// rounding, and carry pairs the full series cannot (tanh at s = 1.5–6, |ρ| ≥ 0.95: the
    /// coefficients decay like e^{−(π/(2√s))√(2k)}) to the pair quadrature's values: the 2048-term
    /// stage up to ρ = ±1, the 512-term stage at ρ up to 1 − 1e-4.
    #[test]
    fn extension_covers_pairs_past_the_full_series() {
        let act = Activation::Tanh;
        let (s1, s2) = (3.0, 2.5);
        let (f1, f2) = (point_expansion(&act, s1), point_expansion(&act, s2));
        let x1 = extension(&act, s1, &f1, 2048).expect("grid 1 or 2");
        let x2 = extension(&act, s2, &f2, 2048).expect("grid 1 or 2");
        for k in 0..TERMS {
            assert!((x1.c[k] - f1.c[k]).abs() <= 1e-15 * f1.e_ss.sqrt(), "c_{k}");
            assert!((x1.d[k] - f1.d[k]).abs() <= 1e-15 * f1.e_dd.sqrt(), "d_{k}");
        }
        for &rho in &[1.0f64, 1.0 - 1e-9, 0.99999, -0.9999, -1.0] {
            assert!(
                series_full(&f1, &f2, rho).is_none(),
                "rho={rho}: full passes"
            );
            let v = series_full(&x1, &x2, rho).expect("extended series converges");
            assert_matches_quadrature(&act, (s1, s2, rho), v, (&f1, &f2));
        }
        // The first stage (512 terms) where the full series stops: ρ from 0.95 to 1 − 1e-4.
        for &(s1, s2, rho) in &[
            (3.0, 2.5, 0.9999f64),
            (3.0, 2.5, 0.99),
            (3.0, 2.5, -0.97),
            (6.0, 4.5, 0.98),
            (6.0, 4.5, -0.95),
            (2.0, 1.5, 0.9999),
        ] {
            let (f1, f2) = (point_expansion(&act, s1), point_expansion(&act, s2));
            let x1 = extension(&act, s1, &f1, EXT_TERMS[0]).expect("grid <= 2");
            let x2 = extension(&act, s2, &f2, EXT_TERMS[0]).expect("grid <= 2");
            assert!(
                series_full(&f1, &f2, rho).is_none(),
                "s=({s1},{s2}) rho={rho}"
            );
            let v = series_full(&x1, &x2, rho).expect("512 terms suffice");
            assert_matches_quadrature(&act, (s1, s2, rho), v, (&f1, &f2));
        }
        // Only trapezoid expansions on grids up to EXT_MAX_GRID are extended.
        let big = point_expansion(&act, 400.0);
        assert!(
            extension(&act, 400.0, &big, 512).is_none(),
            "{:?}",
            big.rule
        );
    }

    #[test]
    fn erf_quadrature_and_series_match_closed_form_over_variances() {
        let act = Activation::Erf;
        let mut worst: f64 = 0.0;
        let mut by_series = 0;
        for &(s11, s22) in &[
            (1e-6, 2.0),
            (1.0, 4.0),
            (0.3, 0.7),
            (180.0, 180.0),
            (5e3, 20.0),
        ] {
            let pi = point_expansion(&act, s11);
            let pj = point_expansion(&act, s22);
            for &rho in &[-1.0, -0.999_999, -0.3, 0.05, 0.55, 0.9, 0.999, 1.0] {
                let s12 = rho * (s11 * s22).sqrt();
                let (e, ed) = erf_closed(s11, s22, s12);
                let (q, qd) = match series(&pi, &pj, rho) {
                    Some(v) => {
                        by_series += 1;
                        v
                    }
                    None => pair_quadrature(&act, s11, s22, s12),
                };
                let scale = (pi.e_ss * pj.e_ss).sqrt();
                let err = ((q - e) / e.abs().max(1e-3 * scale)).abs();
                let errd = ((qd - ed) / ed).abs();
                worst = worst.max(err).max(errd);
                assert!(err < 1e-12, "E s=({s11},{s22}) rho={rho}: {q} vs {e}");
                assert!(errd < 1e-12, "E' s=({s11},{s22}) rho={rho}: {qd} vs {ed}");
            }
            let (e, ed) = erf_closed(s11, s11, s11);
            assert!(
                ((pi.e_ss - e) / e).abs() < 1e-13,
                "diag {s11}: {} vs {e}",
                pi.e_ss
            );
            assert!(
                ((pi.e_dd - ed) / ed).abs() < 1e-13,
                "diag' {s11}: {} vs {ed}",
                pi.e_dd
            );
        }
        // Small and moderate variances take the series even at rho = 1.
        assert!(by_series >= 20, "{by_series} pairs by the series");
        eprintln!("erf numerical vs closed form: worst relative error {worst:e}");
    }
}
