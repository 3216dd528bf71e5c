//! Proposition 5.2 of Jacot et al. (2018): on distinct points of the unit circle, the limit NTK
//! of a non-polynomial σ (ReLU) is positive definite, while the identity σ gives a kernel that is
//! a polynomial of degree 1 in xᵀx' and hence has rank ≤ n_0 + 1.

mod flow_support;

use flow_support::*;
use ntk::linalg::MatRef;
use ntk::spectrum::{condition, spectrum, Which};

#[test]
fn relu_limit_ntk_is_positive_definite_identity_is_low_rank() {
    let n = 24;
    let x = circle(n, 0.05);
    for depth in [3, 4] {
        let relu = limit_ntk(&x, &x, 2, depth, 0.1, false);
        let (lo, hi, cond) = condition(MatRef::from_row_major(&relu, n, n)).unwrap();
        println!("ReLU L = {depth}: λ_min = {lo:.3e}, λ_max = {hi:.3e}, cond = {cond:.3e}");
        assert!(lo > 1e-8 * hi, "λ_min = {lo}");
        assert!(cond.is_finite());
        let ident = limit_ntk(&x, &x, 2, depth, 0.1, true);
        let v = spectrum(MatRef::from_row_major(&ident, n, n), n, Which::Largest).unwrap();
        println!("identity L = {depth}: top 4 eigenvalues {:?}", &v[..4]);
        // Rank ≤ n_0 + 1 = 3: every eigenvalue after the third is zero up to rounding.
        assert!(v[2] > 1e-3 * v[0]);
        assert!(
            v[3..].iter().all(|l| l.abs() < 1e-12 * v[0]),
            "{:?}",
            &v[3..6]
        );
        let (lo_id, _, cond_id) = condition(MatRef::from_row_major(&ident, n, n)).unwrap();
        assert!(lo_id.abs() < 1e-12 * v[0]);
        assert!(cond_id > 1e12 || cond_id.is_infinite());
    }
    // The smallest eigenvalues agree with the full spectrum.
    let relu = limit_ntk(&x, &x, 2, 4, 0.1, false);
    let all = spectrum(MatRef::from_row_major(&relu, n, n), n, Which::All).unwrap();
    let small = spectrum(MatRef::from_row_major(&relu, n, n), 3, Which::Smallest).unwrap();
    assert_eq!(&all[..3], &small[..]);
    assert!(all.windows(2).all(|w| w[0] <= w[1]));
}
