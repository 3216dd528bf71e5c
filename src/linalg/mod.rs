//! Linear algebra: strided matrix views ([`view`]), the GEMM wrappers and matrix–vector product
//! (this module), finiteness checks (`finite`) and dense symmetric factorizations on faer
//! ([`symmetric`]: symmetry/PSD checks, eigendecomposition, faer's fixed parallel split).
//!
//! A view is (pointer, rows, cols, row stride, column stride) with strides in elements: element
//! (i, j) lives at `ptr + i*rs + j*cs`. This is the representation that crosses the C boundary, so
//! row-major C and column-major Julia/R/Fortran matrices are used in place.

pub(crate) mod finite;
pub mod symmetric;
pub mod view;

pub(crate) use finite::check_finite;
pub use view::{MatMut, MatRef};

use rayon::prelude::*;

/// C ← α·A·B + β·C on `matrixmultiply::dgemm` (cache-blocked, single-threaded, deterministic).
///
/// Cost: 2·m·k·n flops. Strides of any sign are accepted, as matrixmultiply does.
pub fn gemm(alpha: f64, a: MatRef<'_>, b: MatRef<'_>, beta: f64, c: MatMut<'_>) {
    assert_eq!(a.cols(), b.rows(), "gemm: inner dimensions");
    assert_eq!(a.rows(), c.rows(), "gemm: rows of C");
    assert_eq!(b.cols(), c.cols(), "gemm: cols of C");
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // matrixmultiply handles k = 0 as C ← β·C; keep the semantics explicit.
        let mut c = c;
        for i in 0..m {
            for j in 0..n {
                let v = if beta == 0.0 { 0.0 } else { beta * c.at(i, j) };
                c.set(i, j, v);
            }
        }
        return;
    }
    // SAFETY: the views guarantee that every (i, j) addressed by the shapes and strides is valid,
    // and a MatMut is the unique writer of its elements.
    unsafe {
        matrixmultiply::dgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            a.row_stride(),
            a.col_stride(),
            b.as_ptr(),
            b.row_stride(),
            b.col_stride(),
            beta,
            c.as_mut_ptr(),
            c.row_stride(),
            c.col_stride(),
        );
    }
}

/// Row-block size of [`par_gemm`]. Fixed (not derived from the thread count) so that the blocks,
/// and therefore the bits of the result, are the same at any thread count.
pub(crate) const PAR_GEMM_ROW_BLOCK: usize = 128;

/// Like [`gemm`], but the rows of C are split into fixed blocks computed in parallel on the current
/// rayon pool. Every element of C is produced by the same sequence of operations as in [`gemm`]
/// restricted to its block, so the result is bit-identical at any thread count.
pub fn par_gemm(alpha: f64, a: MatRef<'_>, b: MatRef<'_>, beta: f64, c: MatMut<'_>) {
    let m = c.rows();
    if m <= PAR_GEMM_ROW_BLOCK {
        return gemm(alpha, a, b, beta, c);
    }
    let nblocks = m.div_ceil(PAR_GEMM_ROW_BLOCK);
    let c = c.into_shared();
    (0..nblocks).into_par_iter().for_each(|blk| {
        let r0 = blk * PAR_GEMM_ROW_BLOCK;
        let r1 = (r0 + PAR_GEMM_ROW_BLOCK).min(m);
        // SAFETY: row blocks are disjoint.
        let cb = unsafe { c.block(r0, r1, 0, c.cols()) };
        gemm(alpha, a.rows_range(r0, r1), b, beta, cb);
    });
}

/// Rows per parallel block of [`matvec`] (fixed, so the bits do not depend on threads).
pub(crate) const MATVEC_ROW_BLOCK: usize = 64;

/// out = A·x for a row-major A (rows × cols). Rows are split in fixed blocks; each entry is one
/// sequential dot product, so the result is bit-identical at any thread count.
pub(crate) fn matvec(a: &[f64], rows: usize, cols: usize, x: &[f64], out: &mut [f64]) {
    debug_assert_eq!(a.len(), rows * cols);
    let work = |(b, chunk): (usize, &mut [f64])| {
        for (r, o) in chunk.iter_mut().enumerate() {
            let i = b * MATVEC_ROW_BLOCK + r;
            *o = dot(&a[i * cols..(i + 1) * cols], x);
        }
    };
    if rows * cols < 1 << 16 {
        out.chunks_mut(MATVEC_ROW_BLOCK).enumerate().for_each(work);
    } else {
        // Sequentially when the pool cannot be started: the same fixed blocks, the same bits.
        crate::parallel::install_or(
            out,
            |out| {
                out.par_chunks_mut(MATVEC_ROW_BLOCK)
                    .enumerate()
                    .for_each(work)
            },
            |out| out.chunks_mut(MATVEC_ROW_BLOCK).enumerate().for_each(work),
        );
    }
}

/// Dot product with four fixed partial sums (deterministic order).
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut s = [0.0f64; 4];
    let n4 = a.len() / 4 * 4;
    for i in (0..n4).step_by(4) {
        s[0] += a[i] * b[i];
        s[1] += a[i + 1] * b[i + 1];
        s[2] += a[i + 2] * b[i + 2];
        s[3] += a[i + 3] * b[i + 3];
    }
    let mut t = (s[0] + s[1]) + (s[2] + s[3]);
    for i in n4..a.len() {
        t += a[i] * b[i];
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for p in 0..k {
                    s += a[i * k + p] * b[p * n + j];
                }
                c[i * n + j] = s;
            }
        }
        c
    }

    #[test]
    fn gemm_matches_naive_with_transposed_strides() {
        let (m, k, n) = (37, 19, 300);
        let a: Vec<f64> = (0..m * k).map(|i| ((i * 7) % 13) as f64 - 6.0).collect();
        let b: Vec<f64> = (0..k * n).map(|i| ((i * 5) % 11) as f64 - 5.0).collect();
        let expect = naive(&a, &b, m, k, n);
        // C stored column-major to exercise strides.
        let mut c = vec![1.0; m * n];
        gemm(
            1.0,
            MatRef::from_row_major(&a, m, k),
            MatRef::from_row_major(&b, k, n),
            0.0,
            MatMut::from_col_major(&mut c, m, n),
        );
        for i in 0..m {
            for j in 0..n {
                assert_eq!(c[j * m + i], expect[i * n + j]);
            }
        }
        let mut c2 = vec![0.0; m * n];
        rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap()
            .install(|| {
                par_gemm(
                    1.0,
                    MatRef::from_row_major(&a, m, k),
                    MatRef::from_row_major(&b, k, n),
                    0.0,
                    MatMut::from_row_major(&mut c2, m, n),
                )
            });
        assert_eq!(c2, expect);
    }
}
