//! Spectral diagnostics of kernel Gram matrices (Jacot et al. 2018, Proposition 5.2: the limit
//! NTK of a non-polynomial σ is positive definite on distinct points of the sphere, so the
//! kernel flow converges; a polynomial σ such as the identity gives a low-rank kernel).
//!
//! All eigenvalues come from one symmetric eigenvalue decomposition without eigenvectors
//! (faer, tridiagonalization + QR-type iteration: about 4/3·N³ flops), bit-identical at any
//! thread count.

use crate::linalg::symmetric::{load_symmetric, EigWork, SymEigen};
use crate::linalg::MatRef;
use crate::{invalid, Result};

/// Which eigenvalues to return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// All N eigenvalues, ascending.
    All,
    /// The `count` smallest, ascending.
    Smallest,
    /// The `count` largest, descending.
    Largest,
}

/// All eigenvalues of the symmetric (finite, symmetric to relative 1e-10) matrix `k`, ascending.
///
/// Order of the checks (the bounded-time contract): shape; then the whole workspace (a copy of k,
/// 8·N² bytes, and faer's scratch) is reserved fallibly, so that a k that cannot be afforded —
/// even a broadcast view — fails with `Error::Allocation` in O(1); then the O(N²) scans
/// (finiteness, symmetry); then the O(N³) decomposition. Kernels of any scale (subnormal entries
/// included) are decomposed exactly scaled by a power of two.
///
/// Cost: about 4/3·N³ flops (tridiagonalization and QR-type iteration, no eigenvectors).
///
/// # Errors
/// `InvalidArgument` (not square, not symmetric to relative 1e-10), `NonFinite`, `Allocation`.
pub fn eigenvalues(k: MatRef<'_>) -> Result<Vec<f64>> {
    let (fk, work) = load_symmetric(k, "k", |n| EigWork::try_new(n, false))?;
    Ok(SymEigen::from_owned(fk, work)?.values)
}

/// `count` eigenvalues of `k` selected by `which` (see [`Which`]).
///
/// Cost: as [`eigenvalues`] (all N are computed; about 4/3·N³ flops).
///
/// # Errors
/// `InvalidArgument` (not square, not symmetric, `count` = 0 or > N, or ≠ N for
/// [`Which::All`]), `NonFinite`, `Allocation`.
///
/// ```
/// use ntk::{MatRef, Which};
///
/// // [[2, 1], [1, 2]] has eigenvalues 1 and 3.
/// let k = [2.0, 1.0, 1.0, 2.0];
/// let top = ntk::spectrum(MatRef::from_row_major(&k, 2, 2), 1, Which::Largest)?;
/// assert!((top[0] - 3.0).abs() < 1e-15);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn spectrum(k: MatRef<'_>, count: usize, which: Which) -> Result<Vec<f64>> {
    let n = k.rows();
    match which {
        Which::All if count != n => {
            return invalid!("count = {count}: WHICH_ALL returns all {n} eigenvalues")
        }
        _ if count == 0 || count > n => return invalid!("count = {count}: must be in 1..={n}"),
        _ => {}
    }
    let values = eigenvalues(k)?;
    Ok(match which {
        Which::All => values,
        Which::Smallest => values[..count].to_vec(),
        Which::Largest => values.iter().rev().take(count).copied().collect(),
    })
}

/// (λ_min, λ_max, condition number λ_max/λ_min; +∞ when λ_min ≤ 0).
///
/// Cost and `# Errors`: as [`eigenvalues`].
pub fn condition(k: MatRef<'_>) -> Result<(f64, f64, f64)> {
    let v = eigenvalues(k)?;
    let (lo, hi) = (v[0], *v.last().unwrap());
    let cond = if lo > 0.0 { hi / lo } else { f64::INFINITY };
    Ok((lo, hi, cond))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_spectrum() {
        // Tridiagonal (2, −1): eigenvalues 2 − 2 cos(jπ/(n+1)).
        let n = 7;
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            a[i * n + i] = 2.0;
            if i + 1 < n {
                a[i * n + i + 1] = -1.0;
                a[(i + 1) * n + i] = -1.0;
            }
        }
        let v = spectrum(MatRef::from_row_major(&a, n, n), n, Which::All).unwrap();
        for (j, l) in v.iter().enumerate() {
            let e = 2.0 - 2.0 * ((j + 1) as f64 * std::f64::consts::PI / (n + 1) as f64).cos();
            assert!((l - e).abs() < 1e-13);
        }
        let top = spectrum(MatRef::from_row_major(&a, n, n), 2, Which::Largest).unwrap();
        assert_eq!(top, vec![v[6], v[5]]);
    }
}
