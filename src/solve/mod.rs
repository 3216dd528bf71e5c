//! Kernel regression at scale: (K + λI) α = Y by preconditioned conjugate gradients, with K
//! never formed whole, and predictions K(X*, X) α streamed in tiles.
//!
//! K is a limit kernel (NNGP Σ^(L) or NTK Θ^(L)_∞, from [`LimitPoints`]) or the empirical NTK in
//! trace mode (from [`EmpiricalFeatures`]) of N training points. Every product K·V is assembled
//! from tiles K(X\[r0:r1\], X\[c0:c1\]) of [`ROW_BLOCK`] rows and a fixed number of columns (chosen
//! from the kernel's per-entry cost, never from the thread count), either
//! - recomputed on the fly (matrix-free: one tile buffer, O(N·k) memory for the iteration), or
//! - read from the first rows of K cached at construction, up to a caller-set byte budget
//!   (the remaining rows are recomputed).
//!
//! Both give the same bits: a block's product is the same GEMM sequence on the same tile values.
//!
//! **Preconditioner** (as in GPyTorch, Gardner et al. 2018, and Falkon, Rudi et al. 2017): a
//! rank-r pivoted partial Cholesky factor L (N × r, greedy pivot = largest remaining diagonal,
//! Harbrecht et al. 2012), K ≈ L Lᵀ, and P = L Lᵀ + s I applied by the Woodbury identity
//!   P⁻¹ v = (v − L (s I_r + LᵀL)⁻¹ Lᵀ v) / s,
//! with s = λ + tr(K − L Lᵀ)/N: the part of K the factor leaves out is replaced by its mean
//! eigenvalue, so tr(P) = tr(K + λI) (and s > 0 at λ = 0 unless K has rank ≤ r).
//! Building L costs r kernel rows (r·N entries) plus O(N·r²) flops and N·r doubles of memory;
//! each application costs 4·N·r·k flops plus an r × r Cholesky solve per solve call.
//!
//! **k right-hand sides**: k independent CG recurrences run in lockstep and share every kernel
//! pass (the tiles dominate the cost, so k columns cost about as much as one). Independent rather
//! than block CG: block CG breaks down when the columns' Krylov spaces become dependent (e.g.
//! repeated or proportional targets) and needs rank-revealing deflation; independent recurrences
//! have none of that, each column stops on its own residual, and the shared kernel pass already
//! gives the k-fold saving. A column that has converged is frozen.
//!
//! **Stopping**: when every column's recursive residual ‖r_j‖ ≤ rtol·‖y_j‖, the true residual
//! Y − (K + λI)α is computed with one more kernel pass; columns above rtol restart CG from their
//! current α (residual replacement), so the reported residual is always the true one.
//!
//! **Determinism**: tiles are bit-identical at any thread count; products and dot products run
//! in a fixed order (GEMMs on fixed blocks, sequential sums), so α is bit-identical at any
//! thread count and with or without the row cache.
//!
//! **Cost** per iteration: ~N²/2 kernel entries (K is symmetric: each tile of the upper block
//! triangle serves its row and its column block; only the uncached rows are recomputed) plus
//! 2·N²·k flops for the products; memory beyond the cache: one tile of
//! [`ROW_BLOCK`] × (column block) doubles, 6·N·k doubles of CG vectors, N·r for L.

// `!(x > 0.0)` is deliberate throughout: a NaN must take the failure branch.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use crate::error::{checked_mul, try_zeroed};
use crate::kernel::empirical::prepared::{empirical_tile, EmpiricalFeatures};
use crate::kernel::empirical::KernelMode;
use crate::kernel::limit::prepared::{limit_tile, LimitPoints};
use crate::kernel::limit::BlockOutputs;
use crate::linalg::{gemm, MatMut, MatRef};
use crate::network::Network;
use crate::parallel::Progress;
use crate::{invalid, Error, Result};
use std::sync::atomic::{AtomicU64, Ordering};

/// Rows (points) per tile of the products and the predictions.
pub const ROW_BLOCK: usize = 256;

/// Row chunk of the preconditioner's products (a progress report after each: 4·16384·r·k flops).
const APPLY_ROWS: usize = 16384;

/// Which kernel the solver regresses with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SolverKernel {
    /// Limit NTK Θ^(L)_∞ (the mean of gradient-flow training at t = ∞).
    LimitNtk,
    /// Limit NNGP Σ^(L) (the Gaussian-process posterior mean).
    LimitNngp,
    /// Empirical NTK in trace mode, (1/n_L) Σ_a Θ_aa, of the network at its parameters.
    EmpiricalTrace,
}

/// The training points and their per-point data.
pub enum KernelSource {
    /// A limit kernel of prepared points.
    Limit {
        /// The prepared training points.
        points: LimitPoints,
        /// Σ^(L) (NNGP) when true, else Θ^(L)_∞.
        nngp: bool,
    },
    /// The empirical NTK (trace) of a network.
    Empirical {
        /// The network, at the parameters it had when the source was made.
        net: Network,
        /// The prepared features of the training points.
        features: EmpiricalFeatures,
    },
}

/// Per-point data of test points for [`KernelSource::cross_tile`].
enum TestPoints {
    Limit(LimitPoints),
    Empirical(EmpiricalFeatures),
}

impl KernelSource {
    /// Prepares the N points `x` (N × n_0, finite) for `kernel` of `net`'s architecture
    /// (limit: depth, activation, β; empirical: the network at its current parameters, copied).
    ///
    /// # Errors
    /// `InvalidArgument` (columns of `x`, no rows), `NonFinite` (x), `Cancelled`, `Allocation`.
    pub fn new(
        net: &Network,
        x: MatRef<'_>,
        kernel: SolverKernel,
        progress: &mut Progress<'_>,
    ) -> Result<KernelSource> {
        if x.cols() != net.input_dim() {
            return invalid!(
                "x has {} columns, the network's n_0 is {}",
                x.cols(),
                net.input_dim()
            );
        }
        match kernel {
            SolverKernel::LimitNtk | SolverKernel::LimitNngp => {
                let spec = crate::kernel::limit::LimitSpec::of_network(net);
                let points = LimitPoints::new(&spec, x, progress)?;
                Ok(KernelSource::Limit {
                    points,
                    nngp: kernel == SolverKernel::LimitNngp,
                })
            }
            SolverKernel::EmpiricalTrace => {
                progress.report(0, 1)?;
                let features = EmpiricalFeatures::new(net, x)?;
                progress.report(1, 1)?;
                Ok(KernelSource::Empirical {
                    net: net.clone(),
                    features,
                })
            }
        }
    }

    /// Number of training points N.
    pub fn len(&self) -> usize {
        match self {
            KernelSource::Limit { points, .. } => points.len(),
            KernelSource::Empirical { features, .. } => features.len(),
        }
    }

    /// Always false.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Input dimension n_0.
    pub fn input_dim(&self) -> usize {
        match self {
            KernelSource::Limit { points, .. } => points.input_dim(),
            KernelSource::Empirical { net, .. } => net.input_dim(),
        }
    }

    /// Columns per tile: ~2^21 entries per ROW_BLOCK-row tile for the limit kernels (tens of
    /// milliseconds at most), fewer for an expensive empirical network (its cost per entry is
    /// 2·(Σ n_l + n_L·Σ_hidden n_l) flops), so that progress comes at least every ~0.1 s.
    /// Depends only on the kernel, never on the thread count.
    fn col_block(&self) -> usize {
        let entries: usize = match self {
            KernelSource::Limit { .. } => 1 << 21,
            KernelSource::Empirical { net, .. } => {
                let w = net.widths();
                let all: usize = w[..w.len() - 1].iter().sum();
                let hidden: usize = w[1..w.len() - 1].iter().sum();
                let per_entry = 2 * (all + net.output_dim() * hidden).max(1);
                ((1usize << 27) / per_entry).clamp(1 << 14, 1 << 21)
            }
        };
        (entries / ROW_BLOCK).clamp(64, 8192)
    }

    /// The training block K(X[r0:r1], X[c0:c1]) into `out`.
    fn tile(&self, rows: (usize, usize), cols: (usize, usize), out: MatMut<'_>) -> Result<()> {
        match self {
            KernelSource::Limit { points, nngp } => limit_tile(
                points,
                rows,
                points,
                cols,
                limit_out(*nngp, out),
                &mut Progress::none(),
            ),
            KernelSource::Empirical { net, features } => empirical_tile(
                net,
                features,
                rows,
                features,
                cols,
                KernelMode::Trace,
                out,
                &mut Progress::none(),
            ),
        }
    }

    fn prepare_test(&self, x: MatRef<'_>) -> Result<TestPoints> {
        match self {
            KernelSource::Limit { points, .. } => Ok(TestPoints::Limit(LimitPoints::new(
                points.spec(),
                x,
                &mut Progress::none(),
            )?)),
            KernelSource::Empirical { net, .. } => {
                Ok(TestPoints::Empirical(EmpiricalFeatures::new(net, x)?))
            }
        }
    }

    /// K(X*[r0:r1], X[c0:c1]) for prepared test points.
    fn cross_tile(
        &self,
        test: &TestPoints,
        rows: (usize, usize),
        cols: (usize, usize),
        out: MatMut<'_>,
    ) -> Result<()> {
        match (self, test) {
            (KernelSource::Limit { points, nngp }, TestPoints::Limit(t)) => limit_tile(
                t,
                rows,
                points,
                cols,
                limit_out(*nngp, out),
                &mut Progress::none(),
            ),
            (KernelSource::Empirical { net, features }, TestPoints::Empirical(t)) => {
                empirical_tile(
                    net,
                    t,
                    rows,
                    features,
                    cols,
                    KernelMode::Trace,
                    out,
                    &mut Progress::none(),
                )
            }
            _ => Err(Error::Internal("test points of another kernel kind".into())),
        }
    }
}

fn limit_out(nngp: bool, out: MatMut<'_>) -> BlockOutputs<'_> {
    if nngp {
        BlockOutputs {
            nngp: Some(out),
            sigma_dot: None,
            ntk: None,
        }
    } else {
        BlockOutputs {
            nngp: None,
            sigma_dot: None,
            ntk: Some(out),
        }
    }
}

/// Construction parameters of a [`KernelSolver`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SolverConfig {
    /// Bytes of the row cache (0 = matrix-free). The first ⌊bytes / (8·N)⌋ rows of K, rounded
    /// down to a multiple of ROW_BLOCK (or all N), are computed once and kept.
    pub cache_bytes: usize,
    /// Rank r of the pivoted-Cholesky preconditioner (0 = none; clamped to N). Fewer columns
    /// are kept when the remaining diagonal falls below 1e-14·max diag (K numerically of rank < r).
    pub precond_rank: usize,
}

/// What a solve did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SolveInfo {
    /// CG iterations (each one kernel pass).
    pub iterations: usize,
    /// Kernel passes in all (iterations plus true-residual checks).
    pub kernel_passes: usize,
    /// max_j ‖y_j − (K + λI)α_j‖ / ‖y_j‖, the true relative residual at the end.
    pub residual: f64,
}

/// The training kernel ready for solves: its source, optional row cache, the pivoted-Cholesky
/// factor and the diagonal of K.
pub struct KernelSolver {
    source: KernelSource,
    n: usize,
    col_block: usize,
    /// Rows 0..cached_rows of K, row-major, cached_rows × N.
    cache: Vec<f64>,
    cached_rows: usize,
    /// Pivoted-Cholesky factor, column-major N × rank.
    factor: Vec<f64>,
    rank: usize,
    /// LᵀL, column-major rank × rank.
    gram: Vec<f64>,
    pivots: Vec<usize>,
    /// tr(K) and tr(K − L Lᵀ).
    trace: f64,
    trace_residual: f64,
    /// Latest (iteration, relative residual bits) of a running solve, readable from the
    /// progress callback through [`KernelSolver::progress_state`].
    state_iteration: AtomicU64,
    state_residual: AtomicU64,
}

impl KernelSolver {
    /// Builds the solver: the diagonal of K (N/ROW_BLOCK diagonal tiles), the row cache (its
    /// rows' tiles) and the rank-r pivoted Cholesky factor (r kernel rows, read from the cache
    /// where possible). Progress: (done, total) over these units of work; cancel → Cancelled.
    ///
    /// Cost: N diagonal entries, cached·N entries for the row cache, r·N entries and O(N·r²)
    /// flops for the preconditioner.
    ///
    /// # Errors
    /// `Allocation` (cache, factor, tiles), `Cancelled` (progress), `Numerical` (the trace of K
    /// is not positive and finite).
    pub fn new(
        source: KernelSource,
        config: SolverConfig,
        progress: &mut Progress<'_>,
    ) -> Result<KernelSolver> {
        let n = source.len();
        let col_block = source.col_block().min(n);
        let cached_rows = {
            let per_row = checked_mul(n, 8, "a kernel row")?;
            let r = config.cache_bytes / per_row;
            if r >= n {
                n
            } else {
                r / ROW_BLOCK * ROW_BLOCK
            }
        };
        let rank_req = config.precond_rank.min(n);
        // Every allocation before any kernel work.
        let mut cache = try_zeroed(
            checked_mul(cached_rows, n, "the row cache")?,
            "the row cache",
        )?;
        let mut factor = try_zeroed(
            checked_mul(n, rank_req, "the preconditioner factor")?,
            "the preconditioner factor",
        )?;
        let mut tilebuf = try_zeroed(checked_mul(ROW_BLOCK, col_block, "a tile")?, "a tile")?;
        let mut diag = try_zeroed(n, "the diagonal")?;
        let mut row = try_zeroed(n, "a kernel row")?;
        let mut pivots = Vec::new();
        pivots
            .try_reserve_exact(rank_req)
            .map_err(|_| Error::Allocation("pivots".into()))?;

        let nblocks = n.div_ceil(ROW_BLOCK);
        let cache_blocks = cached_rows.div_ceil(ROW_BLOCK);
        let cache_tiles = cache_blocks * n.div_ceil(col_block);
        let total = (nblocks + cache_tiles + rank_req) as u64;
        let mut done = 0u64;
        progress.report(0, total)?;

        // Diagonal from the diagonal tiles (the same values the off-diagonal products use).
        for b in 0..nblocks {
            let (r0, r1) = (b * ROW_BLOCK, ((b + 1) * ROW_BLOCK).min(n));
            let h = r1 - r0;
            let mut t = MatMut::from_row_major(&mut tilebuf[..h * h], h, h);
            source.tile((r0, r1), (r0, r1), t.reborrow())?;
            for i in 0..h {
                diag[r0 + i] = tilebuf[i * h + i];
            }
            done += 1;
            progress.report(done, total)?;
        }
        // Row cache.
        for b in 0..cache_blocks {
            let (r0, r1) = (b * ROW_BLOCK, ((b + 1) * ROW_BLOCK).min(cached_rows));
            for c0 in (0..n).step_by(col_block) {
                let c1 = (c0 + col_block).min(n);
                // SAFETY: rows r0..r1 × columns c0..c1 of the row-major cached_rows × N cache.
                let v = unsafe {
                    MatMut::from_raw(
                        cache.as_mut_ptr().add(r0 * n + c0),
                        r1 - r0,
                        c1 - c0,
                        n as isize,
                        1,
                    )
                };
                source.tile((r0, r1), (c0, c1), v)?;
                done += 1;
                progress.report(done, total)?;
            }
        }
        let trace: f64 = diag.iter().sum();
        if !(trace > 0.0) || !trace.is_finite() {
            return Err(Error::Numerical(format!(
                "the training kernel has trace {trace} (need a positive finite trace)"
            )));
        }
        // Pivoted partial Cholesky: d = diag(K − L Lᵀ); pivot = argmax d (lowest index on ties).
        let dmax0 = diag.iter().cloned().fold(0.0, f64::max);
        let mut d = diag.clone();
        let mut rank = 0;
        while rank < rank_req {
            let (mut piv, mut best) = (0, f64::NEG_INFINITY);
            for (j, &v) in d.iter().enumerate() {
                if v > best {
                    best = v;
                    piv = j;
                }
            }
            if !(best > 1e-14 * dmax0) {
                break;
            }
            // row = K[piv, :], from the cache or one 1 × N strip of tiles.
            if piv < cached_rows {
                row.copy_from_slice(&cache[piv * n..(piv + 1) * n]);
            } else {
                for c0 in (0..n).step_by(col_block) {
                    let c1 = (c0 + col_block).min(n);
                    source.tile(
                        (piv, piv + 1),
                        (c0, c1),
                        MatMut::from_row_major(&mut row[c0..c1], 1, c1 - c0),
                    )?;
                }
            }
            // L[:, m] = (K[:, piv] − Σ_{l<m} L[:, l] L[piv, l]) / √d_piv, in a fixed order.
            let inv = 1.0 / best.sqrt();
            let (done_cols, rest) = factor.split_at_mut(rank * n);
            let col = &mut rest[..n];
            col.copy_from_slice(&row);
            for l in 0..rank {
                let lcol = &done_cols[l * n..(l + 1) * n];
                let w = lcol[piv];
                for (c, &x) in col.iter_mut().zip(lcol) {
                    *c -= w * x;
                }
                if l % 32 == 31 {
                    // 64·N flops since the last report (~0.03 s at N = 10^6).
                    progress.report(done, total)?;
                }
            }
            for (j, c) in col.iter_mut().enumerate() {
                *c *= inv;
                d[j] -= *c * *c;
            }
            d[piv] = 0.0;
            pivots.push(piv);
            rank += 1;
            done += 1;
            progress.report(done, total)?;
        }
        factor.truncate(rank * n);
        let trace_residual: f64 = d.iter().map(|&v| v.max(0.0)).sum();
        // LᵀL (r × r), accumulated over fixed row chunks (the same for every solve; only the
        // shift s changes with λ).
        let mut gram = try_zeroed(
            checked_mul(rank, rank, "the preconditioner's r x r matrix")?,
            "the preconditioner's r x r matrix",
        )?;
        if rank > 0 {
            let l = MatRef::from_col_major(&factor, n, rank);
            for a in (0..n).step_by(APPLY_ROWS) {
                let b = (a + APPLY_ROWS).min(n);
                let lb = l.block(a, b, 0, rank);
                let beta = if a == 0 { 0.0 } else { 1.0 };
                gemm(
                    1.0,
                    lb.t(),
                    lb,
                    beta,
                    MatMut::from_col_major(&mut gram, rank, rank),
                );
                progress.report(done, total)?;
            }
        }
        Ok(KernelSolver {
            source,
            n,
            col_block,
            cache,
            cached_rows,
            factor,
            rank,
            gram,
            pivots,
            trace,
            trace_residual,
            state_iteration: AtomicU64::new(0),
            state_residual: AtomicU64::new(f64::NAN.to_bits()),
        })
    }

    /// Number of training points N.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Always false.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Rank of the preconditioner actually built (≤ the requested rank).
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The pivots of the partial Cholesky factor, in order.
    pub fn pivots(&self) -> &[usize] {
        &self.pivots
    }

    /// Rows of K held in the cache.
    pub fn cached_rows(&self) -> usize {
        self.cached_rows
    }

    /// tr(K).
    pub fn trace(&self) -> f64 {
        self.trace
    }

    /// tr(K − L Lᵀ), what the preconditioner's factor leaves out.
    pub fn trace_residual(&self) -> f64 {
        self.trace_residual
    }

    /// The column-major N × rank factor L.
    pub fn factor(&self) -> MatRef<'_> {
        MatRef::from_col_major(&self.factor, self.n, self.rank)
    }

    /// The kernel source.
    pub fn source(&self) -> &KernelSource {
        &self.source
    }

    /// (iteration, max over active columns of the recursive relative residual) of the latest
    /// step of a running solve (for a progress callback); NaN before the first step.
    pub fn progress_state(&self) -> (u64, f64) {
        (
            self.state_iteration.load(Ordering::Relaxed),
            f64::from_bits(self.state_residual.load(Ordering::Relaxed)),
        )
    }

    /// out (N × k, column-major) = K·v (v column-major N × k), using the symmetry of K: row
    /// block b (rows r0..r1) meets only the columns r0..N, in column blocks, and each tile T =
    /// K[r0:r1, c0:c1] is used twice,
    ///   out[r0:r1] += T · v[c0:c1]   and   out[j] += T[:, j]ᵀ · v[r0:r1] for j ≥ r1,
    /// so a pass computes N²/2 + N·ROW_BLOCK/2 kernel entries instead of N². The blocks run in a
    /// fixed sequential order (the tiles themselves on all threads), so the bits do not depend on
    /// the thread count, and cached rows (the same tile values) give the same bits.
    /// `report()` runs after every tile.
    fn kernel_pass(
        &self,
        v: &[f64],
        k: usize,
        out: &mut [f64],
        tilebuf: &mut [f64],
        report: &mut dyn FnMut() -> Result<()>,
    ) -> Result<()> {
        let n = self.n;
        let vv = MatRef::from_col_major(v, n, k);
        out.fill(0.0);
        let optr = out.as_mut_ptr();
        for b in 0..n.div_ceil(ROW_BLOCK) {
            let (r0, r1) = (b * ROW_BLOCK, ((b + 1) * ROW_BLOCK).min(n));
            let h = r1 - r0;
            for c0 in (r0..n).step_by(self.col_block) {
                let c1 = (c0 + self.col_block).min(n);
                let w = c1 - c0;
                let t: MatRef<'_> = if r1 <= self.cached_rows {
                    MatRef::from_row_major(&self.cache[r0 * n..], h, n).block(0, h, c0, c1)
                } else {
                    let mut tv = MatMut::from_row_major(&mut tilebuf[..h * w], h, w);
                    self.source.tile((r0, r1), (c0, c1), tv.reborrow())?;
                    MatRef::from_row_major(&tilebuf[..h * w], h, w)
                };
                // SAFETY: rows r0..r1 of the column-major N × k `out`; no other view is live.
                let o = unsafe { MatMut::from_raw(optr.add(r0), h, k, 1, n as isize) };
                gemm(1.0, t, vv.block(c0, c1, 0, k), 1.0, o);
                let s0 = c0.max(r1);
                if s0 < c1 {
                    // SAFETY: rows s0..c1 (all ≥ r1, disjoint from the rows above) of `out`.
                    let o = unsafe { MatMut::from_raw(optr.add(s0), c1 - s0, k, 1, n as isize) };
                    gemm(
                        1.0,
                        t.block(0, h, s0 - c0, w).t(),
                        vv.block(r0, r1, 0, k),
                        1.0,
                        o,
                    );
                }
                report()?;
            }
        }
        Ok(())
    }

    /// Solves (K + λI) α = Y for the k columns of `y` (N × k, finite) into `alpha` (N × k):
    /// k independent preconditioned CG recurrences sharing each kernel pass, stopping when every
    /// column's true relative residual ‖y_j − (K + λI)α_j‖/‖y_j‖ ≤ `rtol` (columns with y_j = 0
    /// get α_j = 0). At most `max_iterations` CG iterations.
    ///
    /// `alpha` is written only on success. Progress: (iteration, max_iterations) after every
    /// tile or cached wave; [`Self::progress_state`] gives the residual of the last iteration.
    ///
    /// Cost per iteration: ~N²/2 kernel entries (only uncached rows recomputed) plus 2·N²·k
    /// flops, plus the preconditioner's 4·N·r·k.
    ///
    /// # Errors
    /// InvalidArgument (shapes, λ < 0 or non-finite, rtol not in (0, 1)), NonFinite (y),
    /// Allocation, Cancelled (progress), Numerical (K + λI not positive definite along a search
    /// direction, or rtol not reached within max_iterations: the message gives the residual).
    ///
    /// ```
    /// use ntk::{Activation, KernelSolver, KernelSource, MatMut, MatRef, Network, NetworkConfig, Progress, SolverConfig, SolverKernel};
    ///
    /// // L = 1: the limit NTK is xᵀx′/n_0 + β²; on these two points K = [[1.25, 0.25], [0.25, 1.25]].
    /// let net = Network::new(NetworkConfig { widths: vec![2, 1], activation: Activation::Relu, beta: 0.5, seed: 1 })?;
    /// let (x, y) = ([1.0, 1.0, 1.0, -1.0], [1.5, 1.0]);
    /// let src = KernelSource::new(&net, MatRef::from_row_major(&x, 2, 2), SolverKernel::LimitNtk, &mut Progress::none())?;
    /// let s = KernelSolver::new(src, SolverConfig::default(), &mut Progress::none())?;
    /// let mut alpha = [0.0; 2];
    /// s.solve(0.0, MatRef::from_row_major(&y, 2, 1), 1e-14, 10, MatMut::from_row_major(&mut alpha, 2, 1), &mut Progress::none())?;
    /// // K⁻¹y = (1/1.5)·[[1.25, −0.25], [−0.25, 1.25]]·y = [1.0833…, 0.5833…].
    /// assert!((alpha[0] - 1.625 / 1.5).abs() < 1e-13 && (alpha[1] - 0.875 / 1.5).abs() < 1e-13);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn solve(
        &self,
        lambda: f64,
        y: MatRef<'_>,
        rtol: f64,
        max_iterations: usize,
        mut alpha: MatMut<'_>,
        progress: &mut Progress<'_>,
    ) -> Result<SolveInfo> {
        let n = self.n;
        if !lambda.is_finite() || lambda < 0.0 {
            return invalid!("lambda = {lambda}: need a finite lambda >= 0");
        }
        if !(rtol > 0.0 && rtol < 1.0) {
            return invalid!("rtol = {rtol}: need 0 < rtol < 1");
        }
        if y.rows() != n || y.cols() == 0 {
            return invalid!(
                "y is {}x{}, expected {n} rows (the training points) and at least one column",
                y.rows(),
                y.cols()
            );
        }
        let k = y.cols();
        if (alpha.rows(), alpha.cols()) != (n, k) {
            return invalid!(
                "alpha is {}x{}, expected {n}x{k} (the shape of y)",
                alpha.rows(),
                alpha.cols()
            );
        }
        let nk = checked_mul(n, k, "the CG vectors")?;
        let alloc = || try_zeroed(nk, "the CG vectors");
        let (mut x, mut r, mut z, mut p, mut q, mut yv) =
            (alloc()?, alloc()?, alloc()?, alloc()?, alloc()?, alloc()?);
        let mut tilebuf = try_zeroed(checked_mul(ROW_BLOCK, self.col_block, "a tile")?, "a tile")?;
        for j in 0..k {
            for i in 0..n {
                let v = y.at(i, j);
                if !v.is_finite() {
                    return Err(Error::NonFinite(format!("y[{i}, {j}] = {v}")));
                }
                yv[j * n + i] = v;
            }
        }
        let pre = Preconditioner::new(self, lambda)?;
        let mut ws = pre.workspace(k)?;
        let ynorm: Vec<f64> = (0..k).map(|j| norm(&yv[j * n..(j + 1) * n])).collect();
        // Converged (or zero) columns are frozen.
        let mut active: Vec<bool> = ynorm.iter().map(|&v| v > 0.0).collect();
        let mut rz = vec![0.0; k];
        let mut info = SolveInfo::default();
        let max_it = max_iterations as u64;
        self.state_iteration.store(0, Ordering::Relaxed);
        self.state_residual.store(1f64.to_bits(), Ordering::Relaxed);
        let it_now = std::cell::Cell::new(0u64);

        // (Re)start the recurrences of the active columns from r = given residual.
        let restart = |r: &[f64],
                       z: &mut [f64],
                       p: &mut [f64],
                       rz: &mut [f64],
                       active: &[bool],
                       ws: &mut Workspace,
                       report: &mut dyn FnMut() -> Result<()>|
         -> Result<()> {
            pre.apply(r, k, z, ws, report)?;
            for j in 0..k {
                if active[j] {
                    let s = j * n..(j + 1) * n;
                    p[s.clone()].copy_from_slice(&z[s.clone()]);
                    rz[j] = dot(&r[s.clone()], &z[s]);
                }
            }
            Ok(())
        };
        r.copy_from_slice(&yv);
        {
            let mut report = || progress.report(0, max_it);
            restart(&r, &mut z, &mut p, &mut rz, &active, &mut ws, &mut report)?;
        }
        let mut rel = vec![0.0; k];
        for j in 0..k {
            rel[j] = if active[j] { 1.0 } else { 0.0 };
        }
        loop {
            if !active.iter().any(|&a| a) {
                // Every recursive residual is below rtol: check the true residual.
                info.kernel_passes += 1;
                {
                    let mut report = || progress.report(it_now.get(), max_it);
                    self.kernel_pass(&x, k, &mut q, &mut tilebuf, &mut report)?;
                }
                let mut worst: f64 = 0.0;
                for j in 0..k {
                    if ynorm[j] == 0.0 {
                        continue;
                    }
                    let s = j * n..(j + 1) * n;
                    for i in s.clone() {
                        r[i] = yv[i] - (q[i] + lambda * x[i]);
                    }
                    let t = norm(&r[s]) / ynorm[j];
                    rel[j] = t;
                    if t > rtol {
                        active[j] = true;
                    }
                    worst = worst.max(t);
                }
                info.residual = worst;
                if !active.iter().any(|&a| a) {
                    break;
                }
                let mut report = || progress.report(it_now.get(), max_it);
                restart(&r, &mut z, &mut p, &mut rz, &active, &mut ws, &mut report)?;
            }
            if info.iterations >= max_iterations {
                let worst = rel.iter().cloned().fold(0.0, f64::max);
                return Err(Error::Numerical(format!(
                    "CG did not reach rtol = {rtol:e} within max_iterations = {max_iterations} \
                     (relative residual {worst:e}; raise max_iterations or the preconditioner rank, \
                     or increase lambda)"
                )));
            }
            // q = (K + λI) p
            info.kernel_passes += 1;
            {
                let mut report = || progress.report(it_now.get(), max_it);
                self.kernel_pass(&p, k, &mut q, &mut tilebuf, &mut report)?;
            }
            info.iterations += 1;
            it_now.set(info.iterations as u64);
            for j in 0..k {
                if !active[j] {
                    continue;
                }
                let s = j * n..(j + 1) * n;
                for i in s.clone() {
                    q[i] += lambda * p[i];
                }
                let pq = dot(&p[s.clone()], &q[s.clone()]);
                if !(pq > 0.0) || !pq.is_finite() {
                    return Err(Error::Numerical(format!(
                        "K + lambda I is not positive definite along a CG direction (p'(K + lambda I)p = {pq:e}, \
                         column {j}, iteration {}; lambda = {lambda:e}: a singular kernel needs lambda > 0)",
                        info.iterations
                    )));
                }
                let a = rz[j] / pq;
                for i in s.clone() {
                    x[i] += a * p[i];
                    r[i] -= a * q[i];
                }
                rel[j] = norm(&r[s]) / ynorm[j];
                if rel[j] <= rtol {
                    active[j] = false;
                }
            }
            let worst = (0..k)
                .filter(|&j| ynorm[j] > 0.0)
                .map(|j| rel[j])
                .fold(0.0, f64::max);
            self.state_iteration
                .store(info.iterations as u64, Ordering::Relaxed);
            self.state_residual
                .store(worst.to_bits(), Ordering::Relaxed);
            progress.report(info.iterations as u64, max_it)?;
            if active.iter().any(|&a| a) {
                let mut report = || progress.report(it_now.get(), max_it);
                pre.apply(&r, k, &mut z, &mut ws, &mut report)?;
                for j in 0..k {
                    if !active[j] {
                        continue;
                    }
                    let s = j * n..(j + 1) * n;
                    let rz_new = dot(&r[s.clone()], &z[s.clone()]);
                    let b = rz_new / rz[j];
                    rz[j] = rz_new;
                    for i in s {
                        p[i] = z[i] + b * p[i];
                    }
                }
            }
        }
        for j in 0..k {
            for i in 0..n {
                alpha.set(i, j, x[j * n + i]);
            }
        }
        Ok(info)
    }

    /// out (M × k) = K(X*, X) α for the M test points `x_test` (M × n_0, finite) and
    /// `alpha` (N × k): test points prepared ROW_BLOCK at a time, each chunk against the
    /// training points in column blocks, so memory is one tile plus one chunk's per-point data
    /// for any M. Cost: M·N kernel entries plus 2·M·N·k flops. `out` is written only on success;
    /// progress (chunks done, chunks) after every tile.
    ///
    /// # Errors
    /// `InvalidArgument` (shapes), `NonFinite` (x_test, α), `Cancelled`, `Allocation`.
    pub fn predict(
        &self,
        x_test: MatRef<'_>,
        alpha: MatRef<'_>,
        mut out: MatMut<'_>,
        progress: &mut Progress<'_>,
    ) -> Result<()> {
        let n = self.n;
        let m = x_test.rows();
        if x_test.cols() != self.source.input_dim() || m == 0 {
            return invalid!(
                "x_test is {}x{}, expected at least one row and {} columns (n_0)",
                m,
                x_test.cols(),
                self.source.input_dim()
            );
        }
        if alpha.rows() != n || alpha.cols() == 0 {
            return invalid!(
                "alpha is {}x{}, expected {n} rows (the training points) and at least one column",
                alpha.rows(),
                alpha.cols()
            );
        }
        let k = alpha.cols();
        if (out.rows(), out.cols()) != (m, k) {
            return invalid!(
                "out is {}x{}, expected {m}x{k} (test points x columns of alpha)",
                out.rows(),
                out.cols()
            );
        }
        let mut av = try_zeroed(checked_mul(n, k, "a copy of alpha")?, "a copy of alpha")?;
        for j in 0..k {
            for i in 0..n {
                let v = alpha.at(i, j);
                if !v.is_finite() {
                    return Err(Error::NonFinite(format!("alpha[{i}, {j}] = {v}")));
                }
                av[j * n + i] = v;
            }
        }
        for i in 0..m {
            for j in 0..x_test.cols() {
                let v = x_test.at(i, j);
                if !v.is_finite() {
                    return Err(Error::NonFinite(format!("x_test[{i}, {j}] = {v}")));
                }
            }
        }
        let mut res = try_zeroed(checked_mul(m, k, "the predictions")?, "the predictions")?;
        let mut tilebuf = try_zeroed(checked_mul(ROW_BLOCK, self.col_block, "a tile")?, "a tile")?;
        let mut chunk = try_zeroed(
            checked_mul(ROW_BLOCK, x_test.cols(), "a chunk of test points")?,
            "a chunk of test points",
        )?;
        let avv = MatRef::from_col_major(&av, n, k);
        let chunks = m.div_ceil(ROW_BLOCK) as u64;
        progress.report(0, chunks)?;
        for c in 0..m.div_ceil(ROW_BLOCK) {
            let (t0, t1) = (c * ROW_BLOCK, ((c + 1) * ROW_BLOCK).min(m));
            let h = t1 - t0;
            let d0 = x_test.cols();
            for i in 0..h {
                x_test.copy_row(t0 + i, &mut chunk[i * d0..(i + 1) * d0]);
            }
            let test = self
                .source
                .prepare_test(MatRef::from_row_major(&chunk[..h * d0], h, d0))?;
            // SAFETY: rows t0..t1 of the column-major M × k result.
            let o = unsafe { MatMut::from_raw(res.as_mut_ptr().add(t0), h, k, 1, m as isize) };
            let mut first = true;
            for c0 in (0..n).step_by(self.col_block) {
                let c1 = (c0 + self.col_block).min(n);
                let w = c1 - c0;
                let t = MatMut::from_row_major(&mut tilebuf[..h * w], h, w);
                self.source.cross_tile(&test, (0, h), (c0, c1), t)?;
                // SAFETY: the same rows of res, one writer.
                let o2 = unsafe { MatMut::from_raw(o.as_mut_ptr(), h, k, 1, m as isize) };
                gemm(
                    1.0,
                    MatRef::from_row_major(&tilebuf[..h * w], h, w),
                    avv.block(c0, c1, 0, k),
                    if first { 0.0 } else { 1.0 },
                    o2,
                );
                first = false;
                progress.report(c as u64, chunks)?;
            }
            progress.report(c as u64 + 1, chunks)?;
        }
        for j in 0..k {
            for i in 0..m {
                let v = res[j * m + i];
                if !v.is_finite() {
                    return Err(Error::Numerical(format!(
                        "prediction [{i}, {j}] = {v} is not finite"
                    )));
                }
                out.set(i, j, v);
            }
        }
        Ok(())
    }
}

/// Sequential dot product (fixed order).
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b) {
        s += x * y;
    }
    s
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// P⁻¹ = (I − L M⁻¹ Lᵀ)/s with M = s I_r + LᵀL (lower Cholesky factor C of M kept).
struct Preconditioner<'a> {
    l: MatRef<'a>,
    rank: usize,
    shift: f64,
    chol: Vec<f64>,
}

struct Workspace {
    w: Vec<f64>,
}

impl<'a> Preconditioner<'a> {
    fn new(solver: &'a KernelSolver, lambda: f64) -> Result<Preconditioner<'a>> {
        let r = solver.rank;
        // P = L Lᵀ + s I has the trace of K + λI: the left-out part K − L Lᵀ (trace t) is
        // replaced by its mean eigenvalue t/N.
        let shift = lambda + solver.trace_residual / solver.n as f64;
        if r == 0 || !(shift > 0.0) {
            return Ok(Preconditioner {
                l: solver.factor(),
                rank: 0,
                shift: 1.0,
                chol: Vec::new(),
            });
        }
        let l = solver.factor();
        let mut m = try_zeroed(
            checked_mul(r, r, "the preconditioner's r x r matrix")?,
            "r x r",
        )?;
        m.copy_from_slice(&solver.gram);
        for i in 0..r {
            m[i * r + i] += shift;
        }
        cholesky_lower(&mut m, r)?;
        Ok(Preconditioner {
            l,
            rank: r,
            shift,
            chol: m,
        })
    }

    fn workspace(&self, k: usize) -> Result<Workspace> {
        Ok(Workspace {
            w: try_zeroed(
                checked_mul(self.rank, k, "preconditioner workspace")?,
                "workspace",
            )?,
        })
    }

    /// z = P⁻¹ r (both column-major N × k), in fixed row chunks of APPLY_ROWS with `report()`
    /// after each.
    fn apply(
        &self,
        r: &[f64],
        k: usize,
        z: &mut [f64],
        ws: &mut Workspace,
        report: &mut dyn FnMut() -> Result<()>,
    ) -> Result<()> {
        let n = self.l.rows();
        if self.rank == 0 {
            z.copy_from_slice(r);
            return Ok(());
        }
        let rk = self.rank;
        let rv = MatRef::from_col_major(r, n, k);
        // w = Lᵀ r (accumulated over the chunks in order), then w = M⁻¹ w, then z = (r − L w)/s.
        for a in (0..n).step_by(APPLY_ROWS) {
            let b = (a + APPLY_ROWS).min(n);
            gemm(
                1.0,
                self.l.block(a, b, 0, rk).t(),
                rv.block(a, b, 0, k),
                if a == 0 { 0.0 } else { 1.0 },
                MatMut::from_col_major(&mut ws.w, rk, k),
            );
            report()?;
        }
        for j in 0..k {
            cholesky_solve(&self.chol, rk, &mut ws.w[j * rk..(j + 1) * rk]);
        }
        z.copy_from_slice(r);
        let inv = 1.0 / self.shift;
        let wv = MatRef::from_col_major(&ws.w, rk, k);
        for a in (0..n).step_by(APPLY_ROWS) {
            let b = (a + APPLY_ROWS).min(n);
            let mut zv = MatMut::from_col_major(z, n, k);
            let mut zb = zv.block_mut(a, b, 0, k);
            gemm(-1.0, self.l.block(a, b, 0, rk), wv, 1.0, zb.reborrow());
            for j in 0..k {
                for i in a..b {
                    z[j * n + i] *= inv;
                }
            }
            report()?;
        }
        Ok(())
    }
}

/// In-place lower Cholesky factor of the column-major SPD matrix `a` (r × r).
pub(crate) fn cholesky_lower(a: &mut [f64], r: usize) -> Result<()> {
    for j in 0..r {
        let mut d = a[j * r + j];
        for p in 0..j {
            d -= a[p * r + j] * a[p * r + j];
        }
        if !(d > 0.0) || !d.is_finite() {
            return Err(Error::Numerical(format!(
                "the preconditioner's r x r matrix is not positive definite (pivot {j}: {d:e})"
            )));
        }
        let djj = d.sqrt();
        a[j * r + j] = djj;
        for i in j + 1..r {
            let mut s = a[j * r + i];
            for p in 0..j {
                s -= a[p * r + i] * a[p * r + j];
            }
            a[j * r + i] = s / djj;
        }
    }
    Ok(())
}

/// Solves (C Cᵀ) x = b in place, C the lower factor from [`cholesky_lower`].
pub(crate) fn cholesky_solve(c: &[f64], r: usize, b: &mut [f64]) {
    for i in 0..r {
        let mut s = b[i];
        for p in 0..i {
            s -= c[p * r + i] * b[p];
        }
        b[i] = s / c[i * r + i];
    }
    for i in (0..r).rev() {
        let mut s = b[i];
        for p in i + 1..r {
            s -= c[i * r + p] * b[p];
        }
        b[i] = s / c[i * r + i];
    }
}
