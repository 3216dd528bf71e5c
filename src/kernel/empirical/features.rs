//! Per-batch quantities shared by both methods: the layer inputs α^(l)(x) and the backpropagated
//! cotangents δ^(l)_a(x) = ∂f_a(x)/∂α̃^(l) for every output a.
//!
//! Cost: one forward pass, 2·N·Σ_l n_l n_{l+1} flops, and n_L backward passes,
//! 2·N·n_L·Σ_{l=1}^{L−1} n_l n_{l+1} flops. Memory: N·Σ_{l<L} n_l + N·n_L·Σ_{1≤l<L} n_l doubles.

use crate::error::{checked_mul, try_zeroed};
use crate::linalg::MatRef;
use crate::network::Network;
use crate::Result;

/// α^(l) and δ^(l+1) of one batch of N points.
pub struct BatchFeatures<'x> {
    /// Number of points N.
    pub n: usize,
    /// Number of outputs n_L.
    pub n_out: usize,
    /// The batch itself, α^(0) = x (N × n_0).
    x: MatRef<'x>,
    /// α^(1) … α^(L−1) (element l−1 is N × n_l, row-major).
    post: Vec<Vec<f64>>,
    /// δ^(1) … δ^(L−1) (element l−1 holds N·n_L rows of length n_l; row i·n_L + a is δ^(l)_a(x_i)).
    deltas: Vec<Vec<f64>>,
    widths: Vec<usize>,
}

impl<'x> BatchFeatures<'x> {
    /// Forward pass plus one backward pass per output. Must run inside
    /// [`crate::parallel::install`] to use the library's threads.
    pub fn compute(net: &Network, x: MatRef<'x>) -> Result<Self> {
        let n = x.rows();
        let n_out = net.output_dim();
        let depth = net.depth();
        let w = net.widths().to_vec();
        let cache = net.forward_cache(x)?;
        let mut deltas: Vec<Vec<f64>> = Vec::with_capacity(depth - 1);
        for &nl in &w[1..depth] {
            deltas.push(try_zeroed(
                checked_mul(checked_mul(n, n_out, "deltas")?, nl, "deltas")?,
                "deltas",
            )?);
        }
        if depth > 1 {
            let mut cot = try_zeroed(checked_mul(n, n_out, "cotangent")?, "cotangent")?;
            for a in 0..n_out {
                cot.fill(0.0);
                for i in 0..n {
                    cot[i * n_out + a] = 1.0;
                }
                let d = net.backward_deltas(&cache, MatRef::from_row_major(&cot, n, n_out))?;
                // Interleave: row i·n_L + a of the layer-l buffer is δ^(l)_a(x_i).
                for l in 1..depth {
                    let nl = w[l];
                    let src = &d[l - 1];
                    let dst = &mut deltas[l - 1];
                    for i in 0..n {
                        dst[(i * n_out + a) * nl..(i * n_out + a + 1) * nl]
                            .copy_from_slice(&src[i * nl..(i + 1) * nl]);
                    }
                }
            }
        }
        Ok(BatchFeatures {
            n,
            n_out,
            x,
            post: cache.post,
            deltas,
            widths: w,
        })
    }

    /// α^(l), N × n_l, for l = 0 … L−1.
    pub fn activation(&self, l: usize) -> MatRef<'_> {
        if l == 0 {
            self.x
        } else {
            MatRef::from_row_major(&self.post[l - 1], self.n, self.widths[l])
        }
    }

    /// δ^(l) for l = 1 … L−1 as an (N·n_L) × n_l matrix, row i·n_L + a = δ^(l)_a(x_i).
    pub fn delta_rows(&self, l: usize) -> MatRef<'_> {
        MatRef::from_row_major(&self.deltas[l - 1], self.n * self.n_out, self.widths[l])
    }

    /// δ^(l) for l = 1 … L−1 as an N × (n_L·n_l) matrix, row i = [δ^(l)_1(x_i) | … | δ^(l)_{n_L}(x_i)].
    pub fn delta_concat(&self, l: usize) -> MatRef<'_> {
        MatRef::from_row_major(&self.deltas[l - 1], self.n, self.n_out * self.widths[l])
    }

    /// Raw δ^(l)_a(x_i) (length n_l), l = 1 … L−1.
    pub fn delta(&self, l: usize, i: usize, a: usize) -> &[f64] {
        let nl = self.widths[l];
        let r = i * self.n_out + a;
        &self.deltas[l - 1][r * nl..(r + 1) * nl]
    }
}
