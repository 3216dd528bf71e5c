//! Per-point data ([`PointSet`]): each point's variance chain Σ^(l)(x, x), the diagonal Σ̇ and
//! E[σ²], and for activations without a closed form the per-point Hermite coefficients, in
//! O(N·L) work (O(N·L·K) for K coefficients), computed in parallel chunks of [`POINT_CHUNK`].

use super::closed_form::{self, ClosedForm};
use super::{numerical, quadrature, watch, LimitSpec};
use crate::error::{checked_mul, try_defaults, try_zeroed};
use crate::linalg::MatRef;
use crate::parallel::Progress;
use crate::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Points per item of the per-point precomputation.
pub(super) const POINT_CHUNK: usize = 16;

/// Per-point data of one set of points, layer-major and point-contiguous.
#[derive(Clone)]
pub(super) struct PointSet {
    pub(super) n: usize,
    /// var[l*n + i] = Σ^(l+1)(x_i, x_i), l = 0..L−1.
    pub(super) var: Vec<f64>,
    /// sqrt of `var`.
    pub(super) sd: Vec<f64>,
    /// Some entry of `var` is 0 (x = 0 with β = 0).
    pub(super) has_zero: bool,
    /// ddiag[l*n + i] = Σ̇^(l+2)(x_i, x_i) = σ_w^(l+1)² E[σ′(u)²] at var[l], l = 0..L−2.
    pub(super) ddiag: Vec<f64>,
    /// ediag[l*n + i] = E[σ(u)²] at var[l], l = 0..L−2 (the standard parameterization's Θ).
    pub(super) ediag: Vec<f64>,
    /// mean derivative E[σ′] at var[l] (leaky ReLU zero-variance rule), l = 0..L−2.
    pub(super) mean_d: Vec<f64>,
    /// Numerical method: c[(l*K + k)*n + i] and d[...] the eager Hermite coefficients (K =
    /// [`numerical::EAGER`]), l = 0..L−2.
    pub(super) c: Vec<f64>,
    pub(super) d: Vec<f64>,
    /// Numerical method: gc[(l*C + ch)*n + i] and gd[...] log tails of c and d (C =
    /// [`numerical::NCHECK_EAGER`], see [`numerical::PointExpansion::gc`]).
    pub(super) gc: Vec<f64>,
    pub(super) gd: Vec<f64>,
    /// The same data point-major for the row point of a tile row: rm[(l*n + i)*R..][..R] =
    /// c, d, gc, gd of point i at layer l (R = [`numerical::ROW_LEN`]), one contiguous read.
    pub(super) rm: Vec<f64>,
    /// Numerical method: deep[l*n + i], the full expansion of point i at layer l, filled by
    /// the first pair that needs it (or here, when the eager part took the adaptive rule).
    pub(super) deep: Vec<numerical::DeepSlot>,
    /// Numerical method: ext[l*n + i], the extended expansion, filled by the first pair that
    /// needs it.
    pub(super) ext: Vec<numerical::ExtSlot>,
}

struct Chunk {
    var: Vec<f64>,
    ddiag: Vec<f64>,
    ediag: Vec<f64>,
    mean_d: Vec<f64>,
    c: Vec<f64>,
    d: Vec<f64>,
    gc: Vec<f64>,
    gd: Vec<f64>,
    rm: Vec<f64>,
    /// Full expansions the eager pass computed anyway (adaptive rule), by (layer, point).
    deep: Vec<(usize, usize, numerical::PointExpansion)>,
}

impl PointSet {
    /// Per-point chains of the rows of `x` (one progress unit per point, reported as `phase`).
    pub(super) fn new(
        spec: &LimitSpec,
        x: MatRef<'_>,
        progress: &mut Progress<'_>,
        phase: watch::Phase,
    ) -> Result<PointSet> {
        let n = x.rows();
        let depth = spec.depth;
        let n0 = x.cols() as f64;
        let beta2 = spec.beta * spec.beta;
        let cf = spec.closed_form();
        let k1 = numerical::EAGER;
        let nch = numerical::NCHECK_EAGER;
        let layers = depth - 1;
        let total = checked_mul(n, depth, "per-point variances")?;
        let mut var = try_zeroed(total, "per-point variances")?;
        let mut ddiag = try_zeroed(n * layers, "per-point derivative variances")?;
        let mut ediag = try_zeroed(n * layers, "per-point activation variances")?;
        let general = spec.arch.is_some();
        let mut mean_d = try_zeroed(n * layers, "per-point mean derivatives")?;
        // Hermite coefficients only when some layer map is numerical (a per-layer architecture
        // of closed forms needs none: 2·n·(L−1)·65 doubles written and copied for nothing).
        let numeric = if general {
            (0..layers).any(|l| spec.layer_closed_form(l).is_none())
        } else {
            cf.is_none()
        };
        let ncoef = if numeric {
            checked_mul(
                checked_mul(n, layers, "Hermite coefficients")?,
                k1,
                "Hermite coefficients",
            )?
        } else {
            0
        };
        let mut c = try_zeroed(ncoef, "Hermite coefficients")?;
        let mut d = try_zeroed(ncoef, "Hermite coefficients")?;
        let ntail = ncoef / k1 * nch;
        let mut gc = try_zeroed(ntail, "Hermite tails")?;
        let mut gd = try_zeroed(ntail, "Hermite tails")?;
        let rl = numerical::ROW_LEN;
        let mut rm = try_zeroed(ncoef / k1 * rl, "Hermite coefficients")?;
        let nslots = ncoef / k1;
        let deep: Vec<numerical::DeepSlot> = try_defaults(nslots, "full Hermite expansion slots")?;
        let ext: Vec<numerical::ExtSlot> =
            try_defaults(nslots, "extended Hermite expansion slots")?;
        let nchunks = n.div_ceil(POINT_CHUNK);
        let results: Vec<Mutex<Option<Chunk>>> = (0..nchunks).map(|_| Mutex::new(None)).collect();
        let stop = AtomicBool::new(false);
        // First (point, layer, variance) whose Hermite expansion did not converge.
        let unresolved: Mutex<Option<(usize, usize, f64)>> = Mutex::new(None);
        let chunk_units =
            |ch: usize| ((ch * POINT_CHUNK + POINT_CHUNK).min(n) - ch * POINT_CHUNK) as u64;
        watch::run(
            nchunks,
            chunk_units,
            phase,
            &stop,
            progress,
            || (),
            |_, ch| {
                let p0 = ch * POINT_CHUNK;
                let p1 = (p0 + POINT_CHUNK).min(n);
                let m = p1 - p0;
                let mut out = Chunk {
                    var: vec![0.0; m * depth],
                    ddiag: vec![0.0; m * layers],
                    ediag: vec![0.0; m * layers],
                    mean_d: vec![0.0; m * layers],
                    c: vec![0.0; if numeric { m * layers * k1 } else { 0 }],
                    d: vec![0.0; if numeric { m * layers * k1 } else { 0 }],
                    gc: vec![0.0; if numeric { m * layers * nch } else { 0 }],
                    gd: vec![0.0; if numeric { m * layers * nch } else { 0 }],
                    rm: vec![0.0; if numeric { m * layers * rl } else { 0 }],
                    deep: Vec::new(),
                };
                for (q, i) in (p0..p1).enumerate() {
                    let mut sq = 0.0;
                    for j in 0..x.cols() {
                        let v = x.at(i, j);
                        sq += v * v;
                    }
                    // Σ^(1) = σ_w² |x|²/n_0 + σ_b² (σ_w = 1, σ_b = β: the original bits).
                    let (w0, b0) = spec.layer_scales(0);
                    let mut s = if general {
                        w0 * (sq / n0) + b0
                    } else {
                        sq / n0 + beta2
                    };
                    out.var[q] = s;
                    for l in 0..layers {
                        let kind = if general {
                            spec.layer_closed_form(l)
                        } else {
                            cf
                        };
                        let (e, ed) = match kind {
                            Some(kind) => {
                                if let ClosedForm::LeakyRelu(a) = kind {
                                    out.mean_d[l * m + q] = closed_form::relu_mean_derivative(a, s);
                                }
                                closed_form::diagonal(kind, s)
                            }
                            None => {
                                let pe = numerical::point_expansion_terms(
                                    spec.layer_activation(l),
                                    s,
                                    numerical::EAGER,
                                );
                                if !pe.converged {
                                    let mut slot =
                                        unresolved.lock().unwrap_or_else(|p| p.into_inner());
                                    if slot.is_none() {
                                        *slot = Some((i, l, s));
                                    }
                                }
                                for k in 0..k1 {
                                    out.c[(l * k1 + k) * m + q] = pe.c[k];
                                    out.d[(l * k1 + k) * m + q] = pe.d[k];
                                }
                                for ch in 0..nch {
                                    out.gc[(l * nch + ch) * m + q] = pe.gc[ch];
                                    out.gd[(l * nch + ch) * m + q] = pe.gd[ch];
                                }
                                let r = &mut out.rm[(l * m + q) * rl..(l * m + q + 1) * rl];
                                let (rc, rest) = r.split_at_mut(k1);
                                let (rd, rest) = rest.split_at_mut(k1);
                                let (rgc, rgd) = rest.split_at_mut(nch);
                                rc.copy_from_slice(&pe.c[..k1]);
                                rd.copy_from_slice(&pe.d[..k1]);
                                rgc.copy_from_slice(&pe.gc[..nch]);
                                rgd.copy_from_slice(&pe.gd[..nch]);
                                let e = (pe.e_ss, pe.e_dd);
                                if pe.c.len() == numerical::TERMS {
                                    out.deep.push((l, i, pe));
                                }
                                e
                            }
                        };
                        out.ediag[l * m + q] = e;
                        if general {
                            // Σ̇^(l+2) = σ_w² Ė, Σ^(l+2) = σ_w² E + σ_b² (weight layer l + 1).
                            let (wn, bn) = spec.layer_scales(l + 1);
                            out.ddiag[l * m + q] = wn * ed;
                            s = wn * e + bn;
                        } else {
                            out.ddiag[l * m + q] = ed;
                            s = e + beta2;
                        }
                        out.var[(l + 1) * m + q] = s;
                    }
                }
                *results[ch].lock().unwrap_or_else(|p| p.into_inner()) = Some(out);
            },
        )?;
        if stop.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        if let Some((i, l, s)) = unresolved.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(Error::Numerical(format!(
                "the Gaussian expectations of the activation at point {i}, layer {} (variance \
                 {}) did not converge within {} quadrature panels (the work bound per point and \
                 layer): the activation varies too fast to integrate (e.g. sin(1000 x))",
                l + 1,
                crate::error::g(s),
                quadrature::MAX_PANELS
            )));
        }
        for (ch, slot) in results.into_iter().enumerate() {
            let mut out = slot
                .into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .ok_or_else(|| Error::Internal("per-point chunk missing".into()))?;
            let p0 = ch * POINT_CHUNK;
            let m = (p0 + POINT_CHUNK).min(n) - p0;
            for l in 0..depth {
                var[l * n + p0..l * n + p0 + m].copy_from_slice(&out.var[l * m..(l + 1) * m]);
            }
            for l in 0..layers {
                ddiag[l * n + p0..l * n + p0 + m].copy_from_slice(&out.ddiag[l * m..(l + 1) * m]);
                ediag[l * n + p0..l * n + p0 + m].copy_from_slice(&out.ediag[l * m..(l + 1) * m]);
                mean_d[l * n + p0..l * n + p0 + m].copy_from_slice(&out.mean_d[l * m..(l + 1) * m]);
                if numeric {
                    for k in 0..k1 {
                        let dst = (l * k1 + k) * n + p0;
                        let src = (l * k1 + k) * m;
                        c[dst..dst + m].copy_from_slice(&out.c[src..src + m]);
                        d[dst..dst + m].copy_from_slice(&out.d[src..src + m]);
                    }
                    for ch in 0..nch {
                        let dst = (l * nch + ch) * n + p0;
                        let src = (l * nch + ch) * m;
                        gc[dst..dst + m].copy_from_slice(&out.gc[src..src + m]);
                        gd[dst..dst + m].copy_from_slice(&out.gd[src..src + m]);
                    }
                    let dst = (l * n + p0) * rl;
                    let src = l * m * rl;
                    rm[dst..dst + m * rl].copy_from_slice(&out.rm[src..src + m * rl]);
                }
            }
            for (l, i, pe) in out.deep.drain(..) {
                // Each (layer, point) is computed by one chunk only, so the slot is empty.
                let _ = deep[l * n + i].set(pe);
            }
        }
        let sd = var.iter().map(|v| v.sqrt()).collect();
        let has_zero = var.contains(&0.0);
        Ok(PointSet {
            n,
            var,
            sd,
            has_zero,
            ddiag,
            ediag,
            mean_d,
            c,
            d,
            gc,
            gd,
            rm,
            deep,
            ext,
        })
    }
}
