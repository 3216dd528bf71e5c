//! The trained ensemble's predictive law against neural-tangents 0.6.5 and against 50-digit
//! mpmath.
//!
//! - `tests/data/predict_nt.txt` (tools/predict_reference_nt.py): 24 random cases (ReLU / erf
//!   MLP kernels from neural-tangents' stax, N = 3…32, M = 2…8, k = 1…3, no ridge, relative
//!   and absolute `diag_reg`), `gradient_descent_mse_ensemble(..., compute_cov=True)` for
//!   get = "ntk" and "nngp" at t = 0, 0.3, 2, 15, 120, ∞ (ntk's time; neural-tangents is called
//!   at t·k) and at t = None (its Cholesky path, compared with ntk's t = ∞). Required: mean and
//!   covariance within 1e-10 of neural-tangents, relative to the largest entry of each.
//! - `tests/data/predict_mpmath.txt` (tools/predict_reference_mpmath.py): 12 cases with N ≤ 6,
//!   computed at 50 digits through expm and inverse (another route than ntk's eigenbasis).
//!   Required: ≤ 1e-12 relative.

mod predict_support;

use ntk::linalg::MatRef;
use ntk::parallel::Progress;
use ntk::predict::{CovKind, Law, Predictor, Ridge, TestSet};
use predict_support::{read, rel_err, Case};

fn view<'a>(c: &'a Case, name: &str) -> MatRef<'a> {
    let m = c.mat(name);
    MatRef::from_row_major(&m.data, m.rows, m.cols)
}

fn test_set(c: &Case, law: Law) -> TestSet {
    let ridge = if c.relative {
        Ridge::Relative(c.ridge)
    } else {
        Ridge::Absolute(c.ridge)
    };
    let (ktrain, sigma, ktest, stest) = match law {
        Law::Ntk => (
            view(c, "theta_train"),
            Some(view(c, "sigma_train")),
            view(c, "theta_test_train"),
            Some(view(c, "sigma_test_train")),
        ),
        Law::Nngp => (
            view(c, "sigma_train"),
            None,
            view(c, "sigma_test_train"),
            None,
        ),
    };
    let p = Predictor::new(
        law,
        ktrain,
        sigma,
        view(c, "y"),
        ridge,
        &mut Progress::none(),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", c.name));
    TestSet::new(
        &p,
        ktest,
        stest,
        Some(view(c, "sigma_test_test")),
        &mut Progress::none(),
    )
    .unwrap()
}

/// Returns (worst mean error, worst covariance error, number of comparisons).
fn compare(file: &str, skip_none: bool) -> (f64, f64, usize) {
    let cases = read(file);
    assert!(!cases.is_empty());
    let (mut wm, mut wc, mut count) = (0.0f64, 0.0f64, 0usize);
    for c in &cases {
        for law in [Law::Ntk, Law::Nngp] {
            let ts = test_set(c, law);
            let get = if law == Law::Ntk { "ntk" } else { "nngp" };
            for r in c.laws.iter().filter(|r| r.get == get) {
                if skip_none && r.t.is_none() {
                    continue;
                }
                let t = r.t.unwrap_or(f64::INFINITY);
                let g = ts.law(t, CovKind::Full, &mut Progress::none()).unwrap();
                let em = rel_err(&g.mean, &r.mean.data);
                let ec = rel_err(&g.cov, &r.cov.data);
                // The diagonal-only path gives the same variances.
                let d = ts.law(t, CovKind::Diagonal, &mut Progress::none()).unwrap();
                let diag: Vec<f64> = (0..c.m).map(|i| g.cov[i * c.m + i]).collect();
                assert!(rel_err(&d.cov, &diag) <= 1e-13, "{}: diagonal path", c.name);
                if em > 1e-8 || ec > 1e-8 {
                    eprintln!(
                        "{} {get} t = {:?}: mean {em:.2e}, cov {ec:.2e}",
                        c.name, r.t
                    );
                }
                wm = wm.max(em);
                wc = wc.max(ec);
                count += 1;
            }
        }
    }
    (wm, wc, count)
}

#[test]
fn against_neural_tangents() {
    let (wm, wc, count) = compare("tests/data/predict_nt.txt", false);
    eprintln!("neural-tangents: {count} laws, worst relative error mean {wm:.2e}, cov {wc:.2e}");
    assert!(count >= 24 * 2 * 7);
    assert!(wm <= 1e-10 && wc <= 1e-10, "mean {wm:.2e}, cov {wc:.2e}");
}

#[test]
fn against_mpmath_50_digits() {
    let (wm, wc, count) = compare("tests/data/predict_mpmath.txt", true);
    eprintln!("mpmath: {count} laws, worst relative error mean {wm:.2e}, cov {wc:.2e}");
    assert!(count >= 12 * 2 * 5);
    assert!(wm <= 1e-12 && wc <= 1e-12, "mean {wm:.2e}, cov {wc:.2e}");
}

#[test]
fn covariance_is_symmetric_psd_and_the_prior_at_t0() {
    for c in read("tests/data/predict_nt.txt").iter().take(8) {
        for law in [Law::Ntk, Law::Nngp] {
            let ts = test_set(c, law);
            let g0 = ts.law(0.0, CovKind::Full, &mut Progress::none()).unwrap();
            assert_eq!(
                g0.cov,
                c.mat("sigma_test_test").data,
                "{}: prior at t = 0",
                c.name
            );
            assert!(g0.mean.iter().all(|&v| v == 0.0));
            for t in [0.5, 10.0, 1e4, f64::INFINITY] {
                let g = ts.law(t, CovKind::Full, &mut Progress::none()).unwrap();
                let m = c.m;
                let scale = (0..m).map(|i| g0.cov[i * m + i]).fold(0.0, f64::max);
                for i in 0..m {
                    for j in 0..m {
                        assert_eq!(g.cov[i * m + j], g.cov[j * m + i]);
                    }
                }
                let ev = ntk::spectrum::eigenvalues(MatRef::from_row_major(&g.cov, m, m)).unwrap();
                assert!(
                    ev[0] >= -1e-10 * scale,
                    "{}: lambda_min {} at t = {t}",
                    c.name,
                    ev[0]
                );
            }
        }
    }
}
