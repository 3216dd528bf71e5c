//! The tiling plan [`LimitPlan`]: the validated spec and inputs with the per-point data of both
//! point sets, and [`LimitPlan::compute_block`], which cuts any block into [`TILE`]² tiles.

use super::closed_form::ClosedForm;
use super::outputs::BlockOutputs;
use super::points::PointSet;
use super::tile::{Scratch, TileOut};
use super::{watch, LimitSpec, TILE};
use crate::linalg::MatRef;
use crate::parallel::Progress;
use crate::{invalid, Error, Result};
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

/// Everything needed to compute any block of the limit kernels of (X1, X2): the spec, the inputs
/// and the per-point data of both sets.
pub struct LimitPlan<'a> {
    pub(super) spec: LimitSpec,
    pub(super) closed: Option<ClosedForm>,
    pub(super) x1: MatRef<'a>,
    pub(super) x2: MatRef<'a>,
    /// Owned, or borrowed from [`prepared::LimitPoints`].
    pub(super) p1: Cow<'a, PointSet>,
    /// None when X2 = X1 (the per-point data are shared).
    pub(super) p2: Option<Cow<'a, PointSet>>,
}

impl<'a> LimitPlan<'a> {
    /// Validates the inputs and computes the per-point data (O(N·L) work, in parallel).
    /// `x2 = None` means X2 = X1; a view identical to `x1` is detected as the same.
    pub fn new(
        spec: &LimitSpec,
        x1: MatRef<'a>,
        x2: Option<MatRef<'a>>,
        progress: &mut Progress<'_>,
    ) -> Result<LimitPlan<'a>> {
        Self::with_tile_units(spec, x1, x2, progress, 0)
    }

    /// [`LimitPlan::new`] as the first phases of a call whose later tile phase has `tile_units`
    /// progress units (one monotone (done, total) sequence per call).
    pub(super) fn with_tile_units(
        spec: &LimitSpec,
        x1: MatRef<'a>,
        x2: Option<MatRef<'a>>,
        progress: &mut Progress<'_>,
        tile_units: u64,
    ) -> Result<LimitPlan<'a>> {
        spec.validate()?;
        if x1.rows() == 0 || x1.cols() == 0 {
            return invalid!("x1 is empty ({}x{})", x1.rows(), x1.cols());
        }
        crate::network::check_finite(x1, "x1")?;
        let x2 = match x2 {
            Some(v) if !v.same_as(&x1) => {
                if v.cols() != x1.cols() {
                    return invalid!(
                        "x2 has {} columns, x1 has {} (both must have n_0 columns)",
                        v.cols(),
                        x1.cols()
                    );
                }
                if v.rows() == 0 {
                    return invalid!("x2 is empty (0x{})", v.cols());
                }
                crate::network::check_finite(v, "x2")?;
                Some(v)
            }
            _ => None,
        };
        let n2 = x2.map(|v| v.rows()).unwrap_or(0);
        let tiles = tile_units;
        let total = (x1.rows() as u64)
            .saturating_add(n2 as u64)
            .saturating_add(tiles);
        let p1 = PointSet::new(spec, x1, progress, watch::Phase { base: 0, total })?;
        let p2 = match x2 {
            Some(v) => Some(PointSet::new(
                spec,
                v,
                progress,
                watch::Phase {
                    base: x1.rows() as u64,
                    total,
                },
            )?),
            None => None,
        };
        Ok(LimitPlan {
            spec: spec.clone(),
            closed: spec.closed_form(),
            x1,
            x2: x2.unwrap_or(x1),
            p1: Cow::Owned(p1),
            p2: p2.map(Cow::Owned),
        })
    }

    /// True when X2 = X1.
    pub fn symmetric(&self) -> bool {
        self.p2.is_none()
    }
    /// (N1, N2).
    pub fn shape(&self) -> (usize, usize) {
        (self.x1.rows(), self.x2.rows())
    }

    pub(super) fn p2(&self) -> &PointSet {
        self.p2.as_deref().unwrap_or(&self.p1)
    }

    /// Computes the block rows i0..i1 × columns j0..j1 of the requested kernels into `out`
    /// (each block (i1−i0)×(j1−j0); element (a, b) is K(x1_{i0+a}, x2_{j0+b})).
    /// Cost: one (i1−i0)×n_0×(j1−j0) GEMM plus (L−1) layer maps per entry.
    pub fn compute_block(
        &self,
        i0: usize,
        i1: usize,
        j0: usize,
        j1: usize,
        out: BlockOutputs<'_>,
    ) -> Result<()> {
        self.compute_block_ctl(i0, i1, j0, j1, out, &AtomicBool::new(false))
    }

    /// [`LimitPlan::compute_block`] that stops early (returning `Error::Cancelled`) once `stop`
    /// is set, and sets `stop` itself when a pair exceeds its work budget (then
    /// `Error::Numerical` naming the budget).
    pub fn compute_block_ctl(
        &self,
        i0: usize,
        i1: usize,
        j0: usize,
        j1: usize,
        out: BlockOutputs<'_>,
        stop: &AtomicBool,
    ) -> Result<()> {
        let (n1, n2) = self.shape();
        if !(i0 <= i1 && i1 <= n1 && j0 <= j1 && j1 <= n2) {
            return invalid!("block [{i0},{i1})x[{j0},{j1}) outside {n1}x{n2}");
        }
        for (m, name) in [
            (&out.nngp, "nngp"),
            (&out.sigma_dot, "sigma_dot"),
            (&out.ntk, "ntk"),
        ] {
            if let Some(m) = m {
                if m.rows() != i1 - i0 || m.cols() != j1 - j0 {
                    return invalid!(
                        "{name} block is {}x{}, expected {}x{}",
                        m.rows(),
                        m.cols(),
                        i1 - i0,
                        j1 - j0
                    );
                }
            }
        }
        let tile_out = TileOut::new([out.nngp, out.sigma_dot, out.ntk], i0, j0, false, stop);
        let mut scratch = Scratch::new(TILE.min(i1 - i0), TILE.min(j1 - j0), self.spec.depth - 1);
        let mut a = i0;
        while a < i1 {
            let a1 = (a + TILE).min(i1);
            let mut b = j0;
            while b < j1 {
                let b1 = (b + TILE).min(j1);
                // SAFETY: the views are exclusive borrows; (i−i0, j−j0) lies inside them.
                unsafe {
                    self.tile(a, a1, b, b1, false, &mut scratch, &tile_out);
                }
                b = b1;
            }
            a = a1;
        }
        if stop.load(Ordering::Relaxed) && !tile_out.failed() {
            tile_out.check()?;
            return Err(Error::Cancelled);
        }
        tile_out.check()
    }
}
