//! The per-tile kernel: one GEMM for the tile's Gram entries, then the L−1 layer maps row by row
//! in per-worker scratch ([`Scratch`]), written through raw strided outputs ([`TileOut`]) and
//! compiled once per instruction set.

use super::closed_form::{self, ClosedForm};
use super::general::{numerical_layer_row, GeneralRow};
use super::plan::LimitPlan;
use super::{chain, neardup, numerical, snap_row};
use crate::linalg::view::check_finite_result;
use crate::linalg::view::SharedMatMut;
use crate::linalg::{gemm, MatMut};
use crate::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};

/// Where a tile writes: element (i, j) goes to (i − row_off, j − col_off) of each present
/// output (nngp, sigma_dot, ntk), and with `mirror` also to (j, i). The outputs are shared
/// writers: concurrent tiles write disjoint elements (the contract of [`SharedMatMut`]).
pub(super) struct TileOut<'s> {
    pub(super) raws: [Option<SharedMatMut<'s>>; 3],
    pub(super) row_off: usize,
    pub(super) col_off: usize,
    pub(super) mirror: bool,
    /// Set when a written value is NaN/±Inf (overflow of huge but finite inputs, or a custom σ
    /// returning NaN); checked per row while the row is in L1, so a finite result costs no
    /// second pass over the N×N outputs.
    pub(super) nonfinite: AtomicBool,
    /// Per quantity (nngp, sigma_dot, ntk) that was not requested: a non-finite value was seen.
    pub(super) hidden_nonfinite: [AtomicBool; 3],
    /// Set on cancel or when a pair exceeded its budget: tiles stop at the next row or outer node.
    pub(super) stop: &'s AtomicBool,
    /// A pair quadrature exceeded [`numerical::PAIR_EVAL_BUDGET`].
    pub(super) over_budget: AtomicBool,
    /// A point's full Hermite expansion (computed for a pair) did not converge.
    pub(super) unresolved: AtomicBool,
}

impl<'s> TileOut<'s> {
    pub(super) fn new(
        outs: [Option<MatMut<'s>>; 3],
        row_off: usize,
        col_off: usize,
        mirror: bool,
        stop: &'s AtomicBool,
    ) -> TileOut<'s> {
        TileOut {
            raws: outs.map(|m| m.map(MatMut::into_shared)),
            row_off,
            col_off,
            mirror,
            nonfinite: AtomicBool::new(false),
            hidden_nonfinite: Default::default(),
            stop,
            over_budget: AtomicBool::new(false),
            unresolved: AtomicBool::new(false),
        }
    }

    /// A pair stopped the call by failing (over its budget, or an unresolved expansion), as
    /// opposed to a cancel.
    pub(super) fn failed(&self) -> bool {
        self.over_budget.load(Ordering::Relaxed) || self.unresolved.load(Ordering::Relaxed)
    }

    /// `Err(Numerical)` naming the first non-finite element when a tile flagged one; when only a
    /// quantity that was not requested went non-finite, naming that quantity.
    /// Call after every tile is done (it reads the outputs).
    pub(super) fn check(&self) -> Result<()> {
        if self.over_budget.load(Ordering::Relaxed) {
            return Err(Error::Numerical(format!(
                "a pair's Gaussian expectation needs more than {} activation evaluations (the \
                 work budget per pair and layer, PAIR_EVAL_BUDGET): the activation varies too \
                 fast for the adaptive quadrature of highly correlated pairs (e.g. sin(1000 x))",
                numerical::PAIR_EVAL_BUDGET
            )));
        }
        if self.unresolved.load(Ordering::Relaxed) {
            return Err(Error::Numerical(format!(
                "the full Hermite expansion of the activation at some point and layer (needed by \
                 a highly correlated pair) did not converge within {} quadrature panels (the \
                 work bound per point and layer): the activation varies too fast to integrate",
                super::quadrature::MAX_PANELS
            )));
        }
        if !self.nonfinite.load(Ordering::Relaxed) {
            return Ok(());
        }
        const NAMES: [&str; 3] = ["nngp", "sigma_dot", "ntk"];
        for (r, name) in self.raws.iter().zip(NAMES) {
            if let Some(r) = r {
                // SAFETY: the whole view, read only, after every tile is done (the caller).
                check_finite_result(unsafe { r.block(0, r.rows(), 0, r.cols()) }.as_ref(), name)?;
            }
        }
        for (q, name) in NAMES.into_iter().enumerate() {
            if self.hidden_nonfinite[q].load(Ordering::Relaxed) {
                return Err(Error::Numerical(format!(
                    "{name} (not requested) is not finite: the layer chain overflows the double \
                     range or the activation returns NaN/Inf, so the requested outputs cannot be \
                     trusted either"
                )));
            }
        }
        Ok(())
    }
}

/// Per-tile scratch arrays.
pub(super) struct Scratch {
    pub(super) gram: Vec<f64>,
    pub(super) s12: Vec<f64>,
    pub(super) dot: Vec<f64>,
    pub(super) theta: Vec<f64>,
    /// Per-layer values of the row point (fused closed-form chain).
    pub(super) var_i: Vec<f64>,
    pub(super) sd_i: Vec<f64>,
    pub(super) mean_i: Vec<f64>,
    /// Entries (column offset, Σ^(1)) of the row flagged for the near-duplicate fix-up.
    pub(super) near: Vec<neardup::Near>,
    /// The row point's Hermite data of one layer (numerical method).
    pub(super) row: Box<numerical::RowPoint>,
}

impl Scratch {
    pub(super) fn new(rows: usize, cols: usize, layers: usize) -> Scratch {
        Scratch {
            gram: vec![0.0; rows * cols],
            s12: vec![0.0; cols],
            dot: vec![0.0; cols],
            theta: vec![0.0; cols],
            var_i: vec![0.0; layers],
            sd_i: vec![0.0; layers],
            mean_i: vec![0.0; layers],
            near: Vec::with_capacity(cols),
            row: numerical::RowPoint::new(),
        }
    }
}

impl LimitPlan<'_> {
    /// Collects the entries of row i (columns j0..) that [`neardup::is_near`] flags at layer 1
    /// (the diagonal entry excluded), with their Σ^(1) (`s12`) and Θ^(1) (`th1`); with `trig`
    /// (sin or cos at layer 1) also every pair whose mean variance passes
    /// [`neardup::TRIG_FLAG_MEAN`].
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn flag_near(
        &self,
        i: usize,
        j0: usize,
        diag: Option<usize>,
        s12: &[f64],
        th1: &[f64],
        trig: bool,
        near: &mut Vec<neardup::Near>,
    ) {
        let wide = if trig {
            2.0 * neardup::TRIG_FLAG_MEAN
        } else {
            f64::INFINITY
        };
        near.clear();
        let (p1, p2) = (&*self.p1, self.p2());
        let si = p1.var[i];
        let sj = &p2.var[j0..j0 + s12.len()];
        for (k, (&x, &v)) in s12.iter().zip(sj).enumerate() {
            if (neardup::is_near(si, v, x) || si + v > wide) && Some(k) != diag {
                // Within capacity (≤ TILE entries per row): no allocation.
                near.push(neardup::Near::new(k, x, th1[k]));
            }
        }
    }

    /// Overwrites the flagged entries of row i with [`neardup::fix_row`] (layer l mapped as
    /// `layer(l)`, Σ^(1) = w_0 xᵀx′/n_0 + b_0). Inlined into the per-instruction-set tile loops,
    /// so the `mul_add`s are FMA instructions.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fix_near(
        &self,
        layer: impl Fn(usize) -> neardup::NearLayer,
        (w0, b0): (f64, f64),
        i: usize,
        j0: usize,
        s12: &mut [f64],
        dot: &mut [f64],
        theta: &mut [f64],
        near: &mut [neardup::Near],
    ) {
        if near.is_empty() {
            return;
        }
        let (p1, p2) = (&*self.p1, self.p2());
        let rd = neardup::RowData {
            w0,
            b0,
            layers: self.spec.depth - 1,
            var_i: &p1.var[i..],
            sd_i: &p1.sd[i..],
            ddiag_i: &p1.ddiag[i..],
            ediag_i: &p1.ediag[i..],
            stride_i: p1.n,
            var_j: &p2.var[j0..],
            sd_j: &p2.sd[j0..],
            stride: p2.n,
        };
        neardup::fix_row(&rd, layer, self.x1, i, self.x2, j0, near, s12, dot, theta);
    }

    /// Computes the tile rows i0..i1 × cols j0..j1 (≤ TILE each) into `out`. With
    /// `lower_only`, only entries with j ≤ i (mirrored when `out.mirror`).
    ///
    /// # Safety
    /// The tile's elements (and their mirrors) lie inside the outputs and no other thread
    /// writes them.
    pub(super) unsafe fn tile(
        &self,
        i0: usize,
        i1: usize,
        j0: usize,
        j1: usize,
        lower_only: bool,
        sc: &mut Scratch,
        out: &TileOut,
    ) {
        // One copy of the tile loop per instruction set (`crate::simd`): the fused chain is
        // inlined into it (all copies give the same bits, see `chain`).
        let plan = self;
        // SAFETY: `tile_impl` has this function's contract, which the caller upholds.
        unsafe {
            crate::simd::dispatch!(crate::simd::active(); unsafe fn(
                plan: &LimitPlan<'_>,
                i0: usize,
                i1: usize,
                j0: usize,
                j1: usize,
                lower_only: bool,
                sc: &mut Scratch,
                out: &TileOut<'_>
            ) {
                // SAFETY: forwarded contract (see `tile`).
                unsafe { plan.tile_impl(i0, i1, j0, j1, lower_only, sc, out) }
            })
        }
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile_impl(
        &self,
        i0: usize,
        i1: usize,
        j0: usize,
        j1: usize,
        lower_only: bool,
        sc: &mut Scratch,
        out: &TileOut,
    ) {
        let (h, w) = (i1 - i0, j1 - j0);
        if h == 0 || w == 0 {
            return;
        }
        let n0 = self.x1.cols() as f64;
        let beta2 = self.spec.beta * self.spec.beta;
        let depth = self.spec.depth;
        let layers = depth - 1;
        let sym = self.symmetric();
        let (p1, p2) = (&*self.p1, self.p2());
        let gram = &mut sc.gram[..h * w];
        gemm(
            1.0 / n0,
            self.x1.rows_range(i0, i1),
            self.x2.rows_range(j0, j1).t(),
            0.0,
            MatMut::from_row_major(gram, h, w),
        );
        let fused = match self.closed {
            Some(kind @ (ClosedForm::LeakyRelu(_) | ClosedForm::Erf | ClosedForm::Gelu)) => {
                Some(kind)
            }
            _ => None,
        };
        for i in i0..i1 {
            if out.stop.load(Ordering::Relaxed) {
                return; // cancelled, or a pair over budget: the call fails, the rest is moot
            }
            let wi = if lower_only {
                (i + 1).saturating_sub(j0).min(w)
            } else {
                w
            };
            if wi == 0 {
                continue;
            }
            let s12 = &mut sc.s12[..wi];
            let dot = &mut sc.dot[..wi];
            let theta = &mut sc.theta[..wi];
            let g = &gram[(i - i0) * w..(i - i0) * w + wi];
            if let Some(arch) = self.spec.arch.as_deref() {
                let diag = if sym && i >= j0 && i < j0 + wi {
                    Some(i - j0)
                } else {
                    None
                };
                let rows = GeneralRow {
                    s12: &mut *s12,
                    dot: &mut *dot,
                    theta: &mut *theta,
                    row: &mut sc.row,
                    near: &mut sc.near,
                };
                if !self.general_row(arch, i, j0, g, diag, rows, out) {
                    return;
                }
            } else {
                for k in 0..wi {
                    s12[k] = g[k] + beta2;
                }
                // Diagonal entry of X1 = X2 (if in this row): take the per-point chain.
                let diag = if sym && i >= j0 && i < j0 + wi {
                    Some(i - j0)
                } else {
                    None
                };
                if let Some(k) = diag {
                    s12[k] = p1.var[i];
                }
                // Near-duplicate / near-antipodal pairs: flagged from Σ^(1) before the layer
                // maps overwrite it, recomputed after them (see `neardup`; the identity needs
                // no fix-up).
                let near_kind = match self.closed {
                    Some(ClosedForm::Identity) | None => None,
                    Some(kind) if layers > 0 => Some(kind),
                    Some(_) => None,
                };
                if near_kind.is_some() {
                    let trig = matches!(near_kind, Some(ClosedForm::Sin | ClosedForm::Cos));
                    self.flag_near(i, j0, diag, s12, s12, trig, &mut sc.near);
                }
                if let Some(kind) = fused {
                    for l in 0..layers {
                        sc.var_i[l] = p1.var[l * p1.n + i];
                        sc.sd_i[l] = p1.sd[l * p1.n + i];
                        sc.mean_i[l] = p1.mean_d[l * p1.n + i];
                    }
                    let r = chain::RowChain {
                        layers,
                        beta2,
                        var_i: &sc.var_i,
                        sd_i: &sc.sd_i,
                        mean_i: &sc.mean_i,
                        var_j: &p2.var[j0..],
                        sd_j: &p2.sd[j0..],
                        mean_j: p2.mean_d.get(j0..).unwrap_or(&[]),
                        stride: p2.n,
                        zero_variance: p1.has_zero || p2.has_zero,
                    };
                    chain::row(kind, &r, s12, dot, theta);
                    if let Some(k) = diag {
                        // The per-point chain, with the fused chain's Θ update (one rounding), so
                        // a separate copy of the point gets the same bits.
                        let mut th = p1.var[i];
                        for l in 0..layers {
                            th = th.mul_add(p1.ddiag[l * p1.n + i], p1.var[(l + 1) * p1.n + i]);
                        }
                        s12[k] = p1.var[layers * p1.n + i];
                        dot[k] = if layers > 0 {
                            p1.ddiag[(layers - 1) * p1.n + i]
                        } else {
                            0.0
                        };
                        theta[k] = th;
                    }
                } else {
                    theta.copy_from_slice(s12);
                    dot.fill(0.0);
                }
                for l in 0..if fused.is_some() { 0 } else { layers } {
                    let si = p1.var[l * p1.n + i];
                    let sj = &p2.var[l * p2.n + j0..l * p2.n + j0 + wi];
                    snap_row(si, sj, s12);
                    match self.closed {
                        // Handled by the fused chain above (this loop runs 0 times for them).
                        Some(ClosedForm::LeakyRelu(_) | ClosedForm::Erf | ClosedForm::Gelu) => {}
                        Some(ClosedForm::Sin) => closed_form::trig_row(false, si, sj, s12, dot),
                        Some(ClosedForm::Cos) => closed_form::trig_row(true, si, sj, s12, dot),
                        Some(ClosedForm::Identity) => dot.fill(1.0),
                        None => {
                            let (act, row) = (&self.spec.activation, &mut sc.row);
                            let pts = (p1, p2);
                            if !numerical_layer_row(act, row, pts, l, i, j0, s12, dot, diag, out) {
                                return;
                            }
                        }
                    }
                    for k in 0..wi {
                        s12[k] += beta2;
                    }
                    if let Some(k) = diag {
                        s12[k] = p1.var[(l + 1) * p1.n + i];
                        dot[k] = p1.ddiag[l * p1.n + i];
                    }
                    for k in 0..wi {
                        theta[k] = theta[k] * dot[k] + s12[k];
                    }
                }
                if let Some(kind) = near_kind {
                    let lay = neardup::NearLayer {
                        map: neardup::NearMap::of(kind),
                        w: 1.0,
                        b: beta2,
                        standard: None,
                        // Sin, cos: the loop above rounds Θ·Σ̇ and + Σ separately.
                        theta_fma: fused.is_some(),
                    };
                    let nr = &mut sc.near;
                    self.fix_near(move |_| lay, (1.0, beta2), i, j0, s12, dot, theta, nr);
                }
            }
            // The largest exponent field of the row (an integer max, which vectorizes): all ones
            // means NaN or ±Inf.
            // The quantities not requested are checked too: a NaN anywhere in the chain (e.g. a
            // NaN Σ̇ when only the NNGP is asked for) must fail the call, not vanish.
            const EXP: u64 = 0x7FF0_0000_0000_0000;
            let mut exp_max = 0u64;
            for (q, (raw, vals)) in out.raws.iter().zip([&*s12, &*dot, &*theta]).enumerate() {
                if let Some(r) = raw {
                    // SAFETY: (i, j0..j0 + wi) is an element range of this tile, inside the
                    // output and written by no other thread (the function's contract).
                    unsafe { r.put_row(i - out.row_off, j0 - out.col_off, vals) };
                }
                let e = vals.iter().fold(0u64, |m, v| m.max(v.to_bits() & EXP));
                if e == EXP && raw.is_none() {
                    out.hidden_nonfinite[q].store(true, Ordering::Relaxed);
                }
                exp_max = exp_max.max(e);
            }
            if exp_max == EXP {
                out.nonfinite.store(true, Ordering::Relaxed);
            }
        }
        if out.mirror {
            // (j, i) ← (i, j) for the entries written above, j ≠ i: row by row of the mirror
            // block, so the writes are contiguous for row-major outputs (the reads come from
            // the block just written, still in cache). Bound by the stores' memory traffic:
            // 8×8 register-blocked transposes measured no faster.
            for r in out.raws.iter().flatten().copied() {
                for j in j0..j1 {
                    let i_start = if lower_only { (j + 1).max(i0) } else { i0 };
                    // The same loop twice: the compiler specializes the first to cs = 1.
                    // SAFETY: (i, j) was written above by this tile and (j, i) is its mirror,
                    // both inside the output and touched by no other thread (the contract).
                    unsafe {
                        if r.col_stride() == 1 {
                            for i in i_start..i1 {
                                r.put(j, i, r.get(i, j));
                            }
                        } else {
                            for i in i_start..i1 {
                                r.put(j, i, r.get(i, j));
                            }
                        }
                    }
                }
            }
        }
    }
}
