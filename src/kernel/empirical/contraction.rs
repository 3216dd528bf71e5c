//! Θ by explicit Jacobian contraction, J1·J2ᵀ, a block of parameter columns at a time.
//!
//! For each column chunk θ[c0..c1) the chunks J1[:, c0..c1] and J2[:, c0..c1] are built (see
//! [`super::jacobian()`]) and every output tile accumulates its GEMM:
//! - full mode: out[(i,a),(j,b)] += Σ_{p∈chunk} J1[(i,a),p]·J2[(j,b),p];
//! - trace mode: the row-major chunk (N·n_L) × C is viewed as N × (n_L·C), whose row i is
//!   [J(i,1,chunk) | … | J(i,n_L,chunk)], so out\[i,j\] += (1/n_L)·(row i of J1)·(row j of J2).
//!
//! Cost: N·n_L·P to build J plus 2·s·N1·N2·k·P for the GEMMs (see [`super::method`]).
//! Memory: (rows1 + rows2)·C doubles for the chunks, with C chosen from the problem size only
//! (about [`CHUNK_BUDGET`] doubles), so it stays bounded for any P.

use super::features::BatchFeatures;
use super::jacobian::fill_columns;
use super::tiles::{mirror_lower, point_tiles, tile_points};
use super::KernelMode;
use crate::error::{checked_mul, try_zeroed};
use crate::linalg::{gemm, MatMut, MatRef};
use crate::network::Network;
use crate::parallel::Progress;
use crate::Result;
use rayon::prelude::*;

/// Target size of the Jacobian chunks, in doubles (32 MiB).
pub const CHUNK_BUDGET: usize = 1 << 22;
/// Smallest chunk width in columns.
pub const MIN_CHUNK: usize = 64;

/// Chunk width for `rows` Jacobian rows in total: depends on the problem size only.
pub fn chunk_columns(p: usize, rows: usize) -> usize {
    (CHUNK_BUDGET / rows.max(1)).max(MIN_CHUNK).min(p).max(1)
}

/// Computes the kernel into `out` (shape checked by the caller). `f2 = None`: X2 = X1.
pub(crate) fn kernel(
    net: &Network,
    f1: &BatchFeatures<'_>,
    f2: Option<&BatchFeatures<'_>>,
    mode: KernelMode,
    out: MatMut<'_>,
    progress: &mut Progress<'_>,
) -> Result<()> {
    let n_out = net.output_dim();
    let p = net.num_params();
    let symmetric = f2.is_none();
    let n1 = f1.n;
    let n2 = f2.map_or(n1, |f| f.n);
    let rows1 = checked_mul(n1, n_out, "jacobian rows")?;
    let rows2 = checked_mul(n2, n_out, "jacobian rows")?;
    let c = chunk_columns(p, if symmetric { rows1 } else { rows1 + rows2 });
    let mut j1 = try_zeroed(checked_mul(rows1, c, "jacobian chunk")?, "jacobian chunk")?;
    let mut j2 = if symmetric {
        Vec::new()
    } else {
        try_zeroed(checked_mul(rows2, c, "jacobian chunk")?, "jacobian chunk")?
    };
    let full = mode == KernelMode::Full;
    let b = tile_points(full, n_out);
    let tiles = point_tiles(n1, n2, b, symmetric);
    let nchunks = p.div_ceil(c);
    let mut out = out;
    progress.report(0, nchunks as u64)?;
    for chunk in 0..nchunks {
        let (c0, c1) = (chunk * c, ((chunk + 1) * c).min(p));
        let cw = c1 - c0;
        let mut none = Progress::none();
        fill_columns(
            net,
            f1,
            c0,
            c1,
            MatMut::from_row_major(&mut j1[..rows1 * cw], rows1, cw),
            &mut none,
        )?;
        if let Some(f2) = f2 {
            fill_columns(
                net,
                f2,
                c0,
                c1,
                MatMut::from_row_major(&mut j2[..rows2 * cw], rows2, cw),
                &mut none,
            )?;
        }
        let (a_mat, b_mat, alpha, scale) = if full {
            let a = MatRef::from_row_major(&j1[..rows1 * cw], rows1, cw);
            let bm = if symmetric {
                a
            } else {
                MatRef::from_row_major(&j2[..rows2 * cw], rows2, cw)
            };
            (a, bm, 1.0, n_out)
        } else {
            let a = MatRef::from_row_major(&j1[..rows1 * cw], n1, n_out * cw);
            let bm = if symmetric {
                a
            } else {
                MatRef::from_row_major(&j2[..rows2 * cw], n2, n_out * cw)
            };
            (a, bm, 1.0 / n_out as f64, 1)
        };
        let beta = if chunk == 0 { 0.0 } else { 1.0 };
        let shared = out.reborrow().into_shared();
        crate::parallel::install(|| {
            tiles.par_iter().for_each(|t| {
                // SAFETY: tiles are disjoint.
                let ob =
                    unsafe { shared.block(t.i0 * scale, t.i1 * scale, t.j0 * scale, t.j1 * scale) };
                gemm(
                    alpha,
                    a_mat.rows_range(t.i0 * scale, t.i1 * scale),
                    b_mat.rows_range(t.j0 * scale, t.j1 * scale).t(),
                    beta,
                    ob,
                );
            })
        })?;
        progress.report(chunk as u64 + 1, nchunks as u64)?;
    }
    if symmetric {
        mirror_lower(out);
    }
    Ok(())
}
