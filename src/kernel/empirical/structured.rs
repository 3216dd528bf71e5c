//! Θ by the structured per-layer form (Novak, Sohl-Dickstein & Schoenholz 2022), never forming J.
//!
//! Since ∂f_a(x)/∂W^(l)_{jk} = s_w δ^(l+1)_a(x)_j α^(l)_k(x) and ∂f_a(x)/∂b^(l)_j = s_b δ^(l+1)_a(x)_j
//! (s_w = σ_w^(l)/√n_l, s_b = σ_b^(l) in the NTK parameterization, s_w = s_b = 1 in the standard),
//!   Θ_ab(x, x′) = Σ_{l=0}^{L−1} (s_w² α^(l)(x)·α^(l)(x′) + s_b²) · (δ^(l+1)_a(x)·δ^(l+1)_b(x′)),
//! where δ^(L)_a = e_a makes the last layer contribute (s_w² α^(L−1)·α^(L−1)′ + s_b²)·[a = b].
//! Per output tile and layer: one GEMM of the layer inputs (k = n_l) and one of the cotangents
//! (k = n_L·n_{l+1} rows concatenated in trace mode, n_{l+1} per output pair in full mode), then a
//! Hadamard product accumulated into the tile.
//!
//! Cost: 2·s·N1·N2·(A + k·H) flops for the Grams (see [`super::method`]). Peak memory: the output
//! plus the batch features, O(N·n_L·Σ n_l), plus three tile buffers per thread.

use super::features::BatchFeatures;
use super::tiles::{mirror_lower, point_tiles, tile_points, Tile};
use super::KernelMode;
use crate::linalg::{gemm, MatMut, MatRef};
use crate::network::Network;
use crate::parallel::{for_each_item, Progress};
use crate::Result;

/// Computes the kernel into `out` (shape checked by the caller). `f2 = None`: X2 = X1.
pub fn kernel(
    net: &Network,
    f1: &BatchFeatures<'_>,
    f2: Option<&BatchFeatures<'_>>,
    mode: KernelMode,
    out: MatMut<'_>,
    progress: &mut Progress<'_>,
) -> Result<()> {
    let symmetric = f2.is_none();
    let f2r = f2.unwrap_or(f1);
    let full = mode == KernelMode::Full;
    let b = tile_points(full, net.output_dim());
    let tiles = point_tiles(f1.n, f2r.n, b, symmetric);
    let mut out = out;
    {
        let shared = out.reborrow().into_shared();
        for_each_item(tiles.len(), progress, |t| {
            let tile = tiles[t];
            let s = if full { net.output_dim() } else { 1 };
            // SAFETY: tiles are disjoint.
            let ob = unsafe { shared.block(tile.i0 * s, tile.i1 * s, tile.j0 * s, tile.j1 * s) };
            compute_tile(net, f1, f2r, tile, full, ob);
        })?;
    }
    if symmetric {
        mirror_lower(out);
    }
    Ok(())
}

/// One tile of the output, accumulated over the layers in a fixed order.
#[allow(clippy::needless_range_loop)]
pub(crate) fn compute_tile(
    net: &Network,
    f1: &BatchFeatures<'_>,
    f2: &BatchFeatures<'_>,
    t: Tile,
    full: bool,
    mut out: MatMut<'_>,
) {
    let w = net.widths();
    let depth = net.depth();
    let k = net.output_dim();
    let (bi, bj) = (t.i1 - t.i0, t.j1 - t.j0);
    let (ri, rj) = if full { (bi * k, bj * k) } else { (bi, bj) };
    let mut g = vec![0.0; bi * bj];
    let mut d = vec![0.0; ri * rj];
    let mut acc = vec![0.0; ri * rj];
    for l in 0..depth {
        // Gram of the layer inputs, s_w² α·α′ + s_b² (s_w = σ_w/√n_l, s_b = σ_b in the NTK
        // parameterization; 1, 1 in the standard one). With σ_w = 1: 1/n_l, as before.
        let (sw, sb) = (net.weight_scale(l), net.bias_scale(l));
        let beta2 = sb * sb;
        let gscale = match net.parameterization() {
            crate::network::Parameterization::Ntk => {
                let sig = net.architecture().layers[l].sigma_w;
                sig * sig / w[l] as f64
            }
            crate::network::Parameterization::Standard => sw * sw,
        };
        gemm(
            gscale,
            f1.activation(l).rows_range(t.i0, t.i1),
            f2.activation(l).rows_range(t.j0, t.j1).t(),
            0.0,
            MatMut::from_row_major(&mut g, bi, bj),
        );
        if l + 1 == depth {
            // δ^(L)_a = e_a: the block is (G + β²) ⊗ Id in full mode, G + β² in trace mode.
            if full {
                for i in 0..bi {
                    for j in 0..bj {
                        let gv = g[i * bj + j] + beta2;
                        for a in 0..k {
                            acc[(i * k + a) * rj + j * k + a] += gv;
                        }
                    }
                }
            } else {
                for (av, gv) in acc.iter_mut().zip(&g) {
                    *av += gv + beta2;
                }
            }
            continue;
        }
        if full {
            gemm(
                1.0,
                f1.delta_rows(l + 1).rows_range(t.i0 * k, t.i1 * k),
                f2.delta_rows(l + 1).rows_range(t.j0 * k, t.j1 * k).t(),
                0.0,
                MatMut::from_row_major(&mut d, ri, rj),
            );
            for i in 0..bi {
                for a in 0..k {
                    let r = i * k + a;
                    let accr = &mut acc[r * rj..(r + 1) * rj];
                    let dr = &d[r * rj..(r + 1) * rj];
                    for j in 0..bj {
                        let gv = g[i * bj + j] + beta2;
                        for b in 0..k {
                            accr[j * k + b] += gv * dr[j * k + b];
                        }
                    }
                }
            }
        } else {
            gemm(
                1.0 / k as f64,
                f1.delta_concat(l + 1).rows_range(t.i0, t.i1),
                f2.delta_concat(l + 1).rows_range(t.j0, t.j1).t(),
                0.0,
                MatMut::from_row_major(&mut d, ri, rj),
            );
            for ((av, gv), dv) in acc.iter_mut().zip(&g).zip(&d) {
                *av += (gv + beta2) * dv;
            }
        }
    }
    out.copy_from(MatRef::from_row_major(&acc, ri, rj));
}
