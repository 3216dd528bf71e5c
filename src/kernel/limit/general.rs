//! One tile row of a per-layer architecture ([`LimitPlan::general_row`]): one layer map per
//! pass, the closed forms through the fused chain's pair maps, the others numerically.

use super::closed_form::{self, ClosedForm};
use super::plan::LimitPlan;
use super::points::PointSet;
use super::tile::TileOut;
use super::{chain, neardup, numerical, snap_row};

/// The row buffers of [`LimitPlan::general_row`] (each of the row's width).
pub(super) struct GeneralRow<'r> {
    pub(super) s12: &'r mut [f64],
    pub(super) dot: &'r mut [f64],
    pub(super) theta: &'r mut [f64],
    /// The row point's Hermite data of one layer (numerical layer maps).
    pub(super) row: &'r mut numerical::RowPoint,
    /// Scratch for the near-duplicate entries of the row ([`neardup`]).
    pub(super) near: &'r mut Vec<neardup::Near>,
}

/// The numerical pair map of layer `l` (activation `act`) for the row point x1_i against the
/// `s12.len()` points of X2 from `j0`: loads x1_i's Hermite data of that layer into `row`, then
/// [`numerical::pair_row`] maps the (snapped) covariances `s12` to E[σ(u)σ(v)] and writes
/// E[σ′(u)σ′(v)] to `dot`. The one call shared by the single-activation tiles and
/// [`LimitPlan::general_row`]. Returns false when the call must stop (cancel, or a pair over
/// its budget, flagged in `out`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn numerical_layer_row(
    act: &crate::activation::Activation,
    row: &mut numerical::RowPoint,
    (p1, p2): (&PointSet, &PointSet),
    l: usize,
    i: usize,
    j0: usize,
    s12: &mut [f64],
    dot: &mut [f64],
    diag: Option<usize>,
    out: &TileOut,
) -> bool {
    let wi = s12.len();
    let si = p1.var[l * p1.n + i];
    let sj = &p2.var[l * p2.n + j0..l * p2.n + j0 + wi];
    let ri = p1.sd[l * p1.n + i];
    let rj = &p2.sd[l * p2.n + j0..l * p2.n + j0 + wi];
    row.load(p1, l, i);
    numerical::pair_row(
        act,
        row,
        &numerical::Cols::of(p2, l, j0),
        (si, ri),
        (sj, rj),
        (
            &p1.deep[l * p1.n + i],
            &p2.deep[l * p2.n + j0..l * p2.n + j0 + wi],
        ),
        (
            &p1.ext[l * p1.n + i],
            &p2.ext[l * p2.n + j0..l * p2.n + j0 + wi],
        ),
        s12,
        dot,
        diag,
        &numerical::PairFlags {
            stop: out.stop,
            over_budget: &out.over_budget,
            unresolved: &out.unresolved,
        },
    )
}

impl LimitPlan<'_> {
    /// One tile row of a per-layer architecture (see [`LimitSpec`]): on entry `g` holds
    /// xᵢᵀx_j/n_0 for the row's columns j0.., on exit `r.s12`, `r.dot`, `r.theta` hold Σ^(L),
    /// Σ̇^(L), Θ^(L). One layer map per pass: the closed forms through the same pair maps as the
    /// fused chain (one layer, no bias), the others by the numerical method. Diagonal entries
    /// of X1 = X2 take the per-point chain. Returns false when the call must stop (cancel, or a
    /// pair over its budget, flagged in `out`).
    // Always inlined into the per-instruction-set tile copies (AVX-512 / AVX2 / portable), so
    // the closed-form pair maps vectorize as in the fused chain (5x slower when called out of
    // line, N = 2000, L = 5).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn general_row(
        &self,
        arch: &crate::network::Architecture,
        i: usize,
        j0: usize,
        g: &[f64],
        diag: Option<usize>,
        r: GeneralRow<'_>,
        out: &TileOut,
    ) -> bool {
        let GeneralRow {
            s12,
            dot,
            theta,
            row,
            near,
        } = r;
        let wi = s12.len();
        let std = arch.parameterization == crate::network::Parameterization::Standard;
        let n0 = self.x1.cols() as f64;
        let layers = self.spec.depth - 1;
        let (p1, p2) = (&*self.p1, self.p2());
        let (w0, b0) = self.spec.layer_scales(0);
        for k in 0..wi {
            s12[k] = w0 * g[k] + b0;
            // Standard: Θ^(1) = n_0 (xᵀx′/n_0) + 1 (the gradient of W^(0) and of b^(0)).
            theta[k] = if std { n0 * g[k] + 1.0 } else { s12[k] };
        }
        dot.fill(0.0);
        if let Some(k) = diag {
            s12[k] = p1.var[i];
            if !std {
                theta[k] = p1.var[i];
            }
        }
        // Near-duplicate / near-antipodal pairs (closed-form layers only): flagged from Σ^(1),
        // recomputed after the layer maps from the cancellation-free gap ([`neardup`]).
        let near_fix = layers > 0 && (0..layers).all(|l| self.spec.layer_closed_form(l).is_some());
        if near_fix {
            let trig = matches!(
                self.spec.layer_closed_form(0),
                Some(ClosedForm::Sin | ClosedForm::Cos)
            );
            self.flag_near(i, j0, diag, s12, theta, trig, near);
        }
        for l in 0..layers {
            let si = p1.var[l * p1.n + i];
            let sj = &p2.var[l * p2.n + j0..l * p2.n + j0 + wi];
            // Weight layer l + 1 after this layer map.
            let (wn, bn) = self.spec.layer_scales(l + 1);
            let nl = arch.widths[l + 1] as f64;
            match self.spec.layer_closed_form(l) {
                Some(kind @ (ClosedForm::LeakyRelu(_) | ClosedForm::Erf | ClosedForm::Gelu)) => {
                    let at = l * p1.n + i;
                    let rc = chain::RowChain {
                        layers: 1,
                        beta2: 0.0,
                        var_i: &p1.var[at..at + 1],
                        sd_i: &p1.sd[at..at + 1],
                        mean_i: &p1.mean_d[at..at + 1],
                        var_j: &p2.var[l * p2.n + j0..],
                        sd_j: &p2.sd[l * p2.n + j0..],
                        mean_j: &p2.mean_d[l * p2.n + j0..],
                        stride: p2.n,
                        zero_variance: p1.has_zero || p2.has_zero,
                    };
                    // Pair map and weight layer l + 1 in one pass (no scaling pass below).
                    let next = chain::NextLayer {
                        w: wn,
                        b: bn,
                        standard: std.then_some(nl),
                    };
                    chain::general_layer(kind, &rc, next, s12, dot, theta);
                    continue;
                }
                Some(ClosedForm::Sin) => {
                    snap_row(si, sj, s12);
                    closed_form::trig_row(false, si, sj, s12, dot)
                }
                Some(ClosedForm::Cos) => {
                    snap_row(si, sj, s12);
                    closed_form::trig_row(true, si, sj, s12, dot)
                }
                Some(ClosedForm::Identity) => {
                    snap_row(si, sj, s12);
                    dot.fill(1.0)
                }
                None => {
                    snap_row(si, sj, s12);
                    let act = self.spec.layer_activation(l);
                    if !numerical_layer_row(act, row, (p1, p2), l, i, j0, s12, dot, diag, out) {
                        return false;
                    }
                }
            }
            // s12 = E, dot = Ė of this layer map; then weight layer l + 1 (the diagonal entry
            // is overwritten after the loop, so no test per entry here).
            for k in 0..wi {
                let (e, sdot) = (s12[k], wn * dot[k]);
                let sig = wn * e + bn;
                theta[k] = if std {
                    theta[k].mul_add(sdot, nl * e + 1.0)
                } else {
                    theta[k].mul_add(sdot, sig)
                };
                s12[k] = sig;
                dot[k] = sdot;
            }
        }
        if let Some(k) = diag {
            // The per-point chain: Σ^(l+2)(x_i, x_i), σ_w²E[σ′²] and E[σ²] of the points
            // (entries of a pair map are independent, so the row's other entries are unchanged
            // by whatever the diagonal entry held during the loop).
            let mut th = if std { n0 * g[k] + 1.0 } else { p1.var[i] };
            for l in 0..layers {
                let nl = arch.widths[l + 1] as f64;
                let sdot = p1.ddiag[l * p1.n + i];
                th = if std {
                    th.mul_add(sdot, nl * p1.ediag[l * p1.n + i] + 1.0)
                } else {
                    th.mul_add(sdot, p1.var[(l + 1) * p1.n + i])
                };
            }
            theta[k] = th;
            s12[k] = p1.var[layers * p1.n + i];
            dot[k] = if layers > 0 {
                p1.ddiag[(layers - 1) * p1.n + i]
            } else {
                0.0
            };
        }
        if near_fix {
            let layer = |l: usize| {
                let (w, b) = self.spec.layer_scales(l + 1);
                neardup::NearLayer {
                    // near_fix: every layer has a closed form.
                    map: neardup::NearMap::of(
                        self.spec
                            .layer_closed_form(l)
                            .unwrap_or(closed_form::ClosedForm::Identity),
                    ),
                    w,
                    b,
                    standard: std.then(|| arch.widths[l + 1] as f64),
                    theta_fma: true,
                }
            };
            self.fix_near(layer, (w0, b0), i, j0, s12, dot, theta, near);
        }
        true
    }
}
