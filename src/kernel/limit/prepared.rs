//! Prepared points and tiles of the limit kernels: any block K(X1\[i0:i1\], X2\[j0:j1\]) of
//! Σ^(L), Σ̇^(L), Θ^(L)_∞ into caller-provided strided views, from per-point data computed once.
//!
//! [`LimitPoints`] owns a copy of N points and their per-point chains (Σ^(l)(x, x) for every
//! layer and, for activations without a closed form, the Hermite expansions): O(N·L) work and
//! memory (O(N·L·K) with K Hermite coefficients for numerical activations). [`limit_tile`] runs
//! the pair recursion only for the requested entries, cut into fixed sub-tiles of
//! [`super::TILE`]² run in parallel on the library pool. Peak extra memory: per-thread scratch of
//! one sub-tile, nothing of size N1 × N2.
//!
//! X2 = X1: pass the same [`LimitPoints`] for rows and columns. Then diagonal entries (i = j) take
//! the per-point chain values, exactly as [`super::limit_kernel`] with `x2 = None` does, and the
//! blocks assembled equal that symmetric kernel bit for bit (the pair formulas are symmetric in
//! their two points to the last bit, so K(i, j) computed directly equals the mirrored K(j, i)).
//! Two different point sets give the kernel of `x2 = Some(..)`, also bit for bit.

use super::{BlockOutputs, LimitPlan, LimitSpec, PointSet, TILE};
use crate::error::{checked_mul, try_zeroed};
use crate::linalg::{MatMut, MatRef};
use crate::parallel::Progress;
use crate::{invalid, Result};
use std::borrow::Cow;

/// N points with their per-point chains for one [`LimitSpec`].
pub struct LimitPoints {
    spec: LimitSpec,
    /// Hash of what defines the kernel (depth, activation, β, method).
    key: u64,
    points: PointSet,
    /// Row-major copy of the points (N × n_0).
    x: Vec<f64>,
    n0: usize,
}

/// FNV-1a of the spec; a custom activation is identified by its object address.
fn spec_key(spec: &LimitSpec) -> u64 {
    let mut h = crate::kernel::hash::Fnv1a::new();
    let mut eat = |bytes: &[u8]| h.write(bytes);
    eat(&(spec.depth as u64).to_le_bytes());
    eat(format!("{:?}", spec.activation).as_bytes());
    if let crate::activation::Activation::Custom(f) = &spec.activation {
        eat(&(std::sync::Arc::as_ptr(f) as *const () as usize as u64).to_le_bytes());
    }
    eat(&spec.beta.to_bits().to_le_bytes());
    eat(format!("{:?}", spec.method).as_bytes());
    if let Some(arch) = &spec.arch {
        // Per-layer architecture: its widths (the standard parameterization's Θ uses them),
        // parameterization and every layer's σ_w, σ_b and activation.
        eat(format!("{:?}", arch.parameterization).as_bytes());
        for &w in &arch.widths {
            eat(&(w as u64).to_le_bytes());
        }
        for ls in &arch.layers {
            eat(&ls.sigma_w.to_bits().to_le_bytes());
            eat(&ls.sigma_b.to_bits().to_le_bytes());
            eat(format!("{:?}", ls.activation).as_bytes());
            if let Some(crate::activation::Activation::Custom(f)) = &ls.activation {
                eat(&(std::sync::Arc::as_ptr(f) as *const () as usize as u64).to_le_bytes());
            }
        }
    }
    h.finish()
}

impl LimitPoints {
    /// Validates the spec and `x` (N × n_0, N ≥ 1, n_0 ≥ 1, finite), copies `x` and computes the
    /// per-point chains (in parallel; progress in per-point chunks).
    pub fn new(
        spec: &LimitSpec,
        x: MatRef<'_>,
        progress: &mut Progress<'_>,
    ) -> Result<LimitPoints> {
        spec.validate()?;
        if x.rows() == 0 || x.cols() == 0 {
            return invalid!("x is empty ({}x{})", x.rows(), x.cols());
        }
        // The copy is allocated before the values are checked: a broadcast (zero-stride) view
        // of 2^40 points fails here with ALLOCATION at once, instead of a 2^40-element scan.
        let (n, n0) = (x.rows(), x.cols());
        let mut copy = try_zeroed(checked_mul(n, n0, "points")?, "points")?;
        for i in 0..n {
            x.copy_row(i, &mut copy[i * n0..(i + 1) * n0]);
        }
        crate::network::check_finite(MatRef::from_row_major(&copy, n, n0), "x")?;
        let points = PointSet::new(
            spec,
            MatRef::from_row_major(&copy, n, n0),
            progress,
            super::watch::Phase::whole(n as u64),
        )?;
        Ok(LimitPoints {
            spec: spec.clone(),
            key: spec_key(spec),
            points,
            x: copy,
            n0,
        })
    }

    /// Number of points N.
    pub fn len(&self) -> usize {
        self.points.n
    }

    /// Always false (at least one point).
    pub fn is_empty(&self) -> bool {
        self.points.n == 0
    }

    /// Input dimension n_0.
    pub fn input_dim(&self) -> usize {
        self.n0
    }

    /// The spec the chains were computed for.
    pub fn spec(&self) -> &LimitSpec {
        &self.spec
    }

    fn view(&self) -> MatRef<'_> {
        MatRef::from_row_major(&self.x, self.points.n, self.n0)
    }
}

/// Checks everything [`limit_tile`] checks: both sets prepared for the same kernel (depth,
/// activation, β, method) and input dimension, non-empty ranges inside them, at least one
/// output, each (i1−i0) × (j1−j0).
pub fn check_limit_tile(
    p1: &LimitPoints,
    (i0, i1): (usize, usize),
    p2: &LimitPoints,
    (j0, j1): (usize, usize),
    shapes: [Option<(usize, usize)>; 3],
) -> Result<()> {
    if p1.key != p2.key {
        return invalid!(
            "p1 and p2 were prepared for different limit kernels (depth {} vs {}, activation {:?} vs {:?}, \
             beta {} vs {}, or different per-layer architectures)",
            p1.spec.depth,
            p2.spec.depth,
            p1.spec.activation,
            p2.spec.activation,
            p1.spec.beta,
            p2.spec.beta
        );
    }
    if p1.n0 != p2.n0 {
        return invalid!("p1 has n_0 = {}, p2 has n_0 = {}", p1.n0, p2.n0);
    }
    for (r0, r1, n, [a, b, set]) in [
        (i0, i1, p1.len(), ["i0", "i1", "p1"]),
        (j0, j1, p2.len(), ["j0", "j1", "p2"]),
    ] {
        if r0 >= r1 || r1 > n {
            return invalid!(
                "{a} = {r0}, {b} = {r1}: [{a}, {b}) is not a non-empty range of the {n} points of {set} (need {a} < {b} <= {n})"
            );
        }
    }
    if shapes.iter().all(|s| s.is_none()) {
        return invalid!("no output requested (nngp, sigma_dot and ntk are all absent)");
    }
    for (s, name) in shapes.iter().zip(["nngp", "sigma_dot", "ntk"]) {
        if let Some((r, c)) = *s {
            if (r, c) != (i1 - i0, j1 - j0) {
                return invalid!(
                    "{name} is {r}x{c}, expected {}x{} for rows [{i0}, {i1}) x columns [{j0}, {j1})",
                    i1 - i0,
                    j1 - j0
                );
            }
        }
    }
    Ok(())
}

/// Computes the block rows i0..i1 of `p1` × columns j0..j1 of `p2` of the requested kernels into
/// `out` (each (i1−i0) × (j1−j0); element (a, b) = K(x1_{i0+a}, x2_{j0+b})). Same handle for
/// `p1` and `p2` (pointer-equal): X2 = X1 (see the module documentation).
///
/// Everything is checked before writing. Cost: one GEMM of the inputs and (L−1) pair maps per
/// entry of the block, nothing else. On `Err(Cancelled)` the outputs hold a mix of finished
/// sub-tiles and old values. Bit-identical at any thread count.
pub fn limit_tile(
    p1: &LimitPoints,
    rows: (usize, usize),
    p2: &LimitPoints,
    cols: (usize, usize),
    out: BlockOutputs<'_>,
    progress: &mut Progress<'_>,
) -> Result<()> {
    let shape = |m: &Option<MatMut<'_>>| m.as_ref().map(|m| (m.rows(), m.cols()));
    check_limit_tile(
        p1,
        rows,
        p2,
        cols,
        [shape(&out.nngp), shape(&out.sigma_dot), shape(&out.ntk)],
    )?;
    let same = std::ptr::eq(p1, p2);
    let plan = LimitPlan {
        spec: p1.spec.clone(),
        closed: p1.spec.closed_form(),
        x1: p1.view(),
        x2: p2.view(),
        p1: Cow::Borrowed(&p1.points),
        p2: if same {
            None
        } else {
            Some(Cow::Borrowed(&p2.points))
        },
    };
    let (i0, j0) = (rows.0, cols.0);
    let (h, w) = (rows.1 - i0, cols.1 - j0);
    let (ti, tj) = (h.div_ceil(TILE), w.div_ceil(TILE));
    let shared = [out.nngp, out.sigma_dot, out.ntk].map(|m| m.map(|m| m.into_shared()));
    let nonfinite = std::sync::atomic::AtomicBool::new(false);
    // The first error of a sub-tile other than a non-finite requested output (a pair over its
    // work budget, a non-finite quantity that was not requested).
    let first_error: std::sync::Mutex<Option<crate::Error>> = std::sync::Mutex::new(None);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let units = |t: usize| {
        let (a0, b0) = ((t / tj) * TILE, (t % tj) * TILE);
        (((a0 + TILE).min(h) - a0) * ((b0 + TILE).min(w) - b0)) as u64
    };
    let all: u64 = (0..ti * tj).map(units).sum();
    super::watch::run(
        ti * tj,
        units,
        super::watch::Phase::whole(all),
        &stop,
        progress,
        || (),
        |_, t| {
            let (a0, b0) = ((t / tj) * TILE, (t % tj) * TILE);
            let (a1, b1) = ((a0 + TILE).min(h), (b0 + TILE).min(w));
            // SAFETY: the sub-tiles partition the block; each item writes only its own.
            let sub = |k: usize| shared[k].map(|s| unsafe { s.block(a0, a1, b0, b1) });
            let outs = BlockOutputs {
                nngp: sub(0),
                sigma_dot: sub(1),
                ntk: sub(2),
            };
            // Errors left after the checks above: a non-finite value or a pair over its budget
            // (Numerical), or a cancel seen inside the block.
            if let Err(e) = plan.compute_block_ctl(i0 + a0, i0 + a1, j0 + b0, j0 + b1, outs, &stop)
            {
                nonfinite.store(true, std::sync::atomic::Ordering::Relaxed);
                let mut slot = first_error.lock().unwrap_or_else(|p| p.into_inner());
                if slot.is_none() {
                    *slot = Some(e);
                }
            }
        },
    )?;
    let first_error = first_error.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Some(e @ crate::Error::Numerical(_)) = &first_error {
        if e.to_string().contains("PAIR_EVAL_BUDGET") {
            return Err(e.clone());
        }
    }
    if stop.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(crate::Error::Cancelled);
    }
    if nonfinite.load(std::sync::atomic::Ordering::Relaxed) {
        // Name the element in the caller's block coordinates.
        for (k, name) in ["nngp", "sigma_dot", "ntk"].into_iter().enumerate() {
            if let Some(s) = shared[k] {
                // SAFETY: the items are done; this is the whole block, read only.
                crate::linalg::view::check_finite_result(
                    unsafe { s.block(0, h, 0, w) }.as_ref(),
                    name,
                )?;
            }
        }
        return Err(first_error.unwrap_or_else(|| {
            crate::Error::Internal("a sub-tile failed without a non-finite value".into())
        }));
    }
    Ok(())
}
