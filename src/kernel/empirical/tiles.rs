//! Fixed tiling of the output and the mirror step of the symmetric case.
//!
//! Tiles are rectangles of points (i0..i1) × (j0..j1) whose size depends only on the problem
//! (mode and n_L), never on the thread count, so every output element is produced by the same
//! operations at any thread count.

use crate::linalg::MatMut;
use rayon::prelude::*;

/// Output rows per tile edge (points × outputs in full mode).
pub const TILE_ROWS: usize = 128;

/// A rectangle of the point grid: rows i0..i1 of X1 against rows j0..j1 of X2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tile {
    pub i0: usize,
    pub i1: usize,
    pub j0: usize,
    pub j1: usize,
}

/// Points per tile edge: TILE_ROWS output rows, i.e. TILE_ROWS / n_L points in full mode.
pub fn tile_points(full: bool, n_out: usize) -> usize {
    if full {
        (TILE_ROWS / n_out.max(1)).max(1)
    } else {
        TILE_ROWS
    }
}

/// All tiles of an n1 × n2 point grid with edge `b`; in the symmetric case only the lower
/// block-triangle (j0 ≤ i0).
pub fn point_tiles(n1: usize, n2: usize, b: usize, symmetric: bool) -> Vec<Tile> {
    let mut tiles = Vec::new();
    let (t1, t2) = (n1.div_ceil(b), n2.div_ceil(b));
    for ti in 0..t1 {
        let tj_end = if symmetric { ti + 1 } else { t2 };
        for tj in 0..tj_end {
            tiles.push(Tile {
                i0: ti * b,
                i1: ((ti + 1) * b).min(n1),
                j0: tj * b,
                j1: ((tj + 1) * b).min(n2),
            });
        }
    }
    tiles
}

/// Copies the strict lower triangle of the square `out` onto the upper one
/// (out(i, j) ← out(j, i) for j > i), in parallel over fixed row blocks.
pub fn mirror_lower(out: MatMut<'_>) {
    let m = out.rows();
    assert_eq!(m, out.cols(), "mirror of a non-square matrix");
    let shared = out.into_shared();
    const RB: usize = 64;
    let body = |blk: usize| {
        let (r0, r1) = (blk * RB, ((blk + 1) * RB).min(m));
        // SAFETY: item `blk` writes only (i, j) with r0 ≤ i < r1 and j > i, and reads only (j, i)
        // with j > i, which no item writes.
        let full = unsafe { shared.block(0, m, 0, m) };
        for i in r0..r1 {
            for j in i + 1..m {
                let v = full.at(j, i);
                // SAFETY: i, j < m, so the offset stays inside `full` (the whole m × m view).
                let p = unsafe {
                    full.as_mut_ptr()
                        .offset(i as isize * full.row_stride() + j as isize * full.col_stride())
                };
                // SAFETY: p is (i, j) of the live view, j > i: written by this item only (above).
                unsafe { *p = v };
            }
        }
    };
    let blocks = m.div_ceil(RB);
    crate::parallel::install_or(
        &body,
        |body| (0..blocks).into_par_iter().for_each(body),
        |body| (0..blocks).for_each(body),
    );
}
