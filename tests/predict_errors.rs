//! Bad input to the predictive law (each with its error class and a message naming the
//! argument), the pseudo-inverse at λ = 0 and t = ∞ on a singular kernel, cancellation, and
//! bit-identical results at 1 and 3 threads.

use ntk::linalg::MatRef;
use ntk::parallel::Progress;
use ntk::predict::{CovKind, Law, Predictor, Ridge, TestSet};
use ntk::Error;

/// Jointly PD kernels on N + M points: Σ = F Fᵀ/r + 0.05 I, Θ = Σ + G Gᵀ/r.
fn kernels(n: usize, m: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let p = n + m;
    let r = 4;
    let mut s = seed;
    let mut rnd = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    };
    let f: Vec<f64> = (0..p * r).map(|_| rnd()).collect();
    let g: Vec<f64> = (0..p * r).map(|_| rnd()).collect();
    let mut sg = vec![0.0; p * p];
    let mut th = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..p {
            let a: f64 = (0..r).map(|l| f[i * r + l] * f[j * r + l]).sum::<f64>() / r as f64;
            let b: f64 = (0..r).map(|l| g[i * r + l] * g[j * r + l]).sum::<f64>() / r as f64;
            sg[i * p + j] = a + if i == j { 0.05 } else { 0.0 };
            th[i * p + j] = sg[i * p + j] + b;
        }
    }
    (th, sg)
}

fn block(a: &[f64], p: usize, r: std::ops::Range<usize>, c: std::ops::Range<usize>) -> Vec<f64> {
    r.flat_map(|i| c.clone().map(move |j| a[i * p + j]))
        .collect()
}

struct Setup {
    n: usize,
    m: usize,
    txx: Vec<f64>,
    sxx: Vec<f64>,
    ttx: Vec<f64>,
    stx: Vec<f64>,
    stt: Vec<f64>,
    y: Vec<f64>,
}

fn setup(n: usize, m: usize) -> Setup {
    let (th, sg) = kernels(n, m, 7);
    let p = n + m;
    Setup {
        n,
        m,
        txx: block(&th, p, 0..n, 0..n),
        sxx: block(&sg, p, 0..n, 0..n),
        ttx: block(&th, p, n..p, 0..n),
        stx: block(&sg, p, n..p, 0..n),
        stt: block(&sg, p, n..p, n..p),
        y: (0..n * 2).map(|i| (i as f64 * 0.7).sin()).collect(),
    }
}

fn v(a: &[f64], r: usize, c: usize) -> MatRef<'_> {
    MatRef::from_row_major(a, r, c)
}

fn predictor(s: &Setup) -> Predictor {
    Predictor::new(
        Law::Ntk,
        v(&s.txx, s.n, s.n),
        Some(v(&s.sxx, s.n, s.n)),
        v(&s.y, s.n, 2),
        Ridge::Absolute(0.0),
        &mut Progress::none(),
    )
    .unwrap()
}

fn expect_err<T>(r: ntk::Result<T>, class: fn(&Error) -> bool, needle: &str) {
    match r {
        Ok(_) => panic!("expected an error mentioning {needle}"),
        Err(e) => {
            assert!(class(&e), "wrong class: {e:?}");
            assert!(
                e.to_string().contains(needle),
                "{e} does not mention {needle}"
            );
        }
    }
}

fn invalid(e: &Error) -> bool {
    matches!(e, Error::InvalidArgument(_))
}
fn nonfinite(e: &Error) -> bool {
    matches!(e, Error::NonFinite(_))
}
fn numerical(e: &Error) -> bool {
    matches!(e, Error::Numerical(_))
}

#[test]
fn bad_predictor_inputs() {
    let s = setup(5, 3);
    let n = s.n;
    let mk = |k: &[f64], sg: Option<&[f64]>, y: &[f64], yr: usize, ridge: Ridge, law: Law| {
        Predictor::new(
            law,
            v(
                k,
                (k.len() as f64).sqrt() as usize,
                (k.len() as f64).sqrt() as usize,
            ),
            sg.map(|g| v(g, n, n)),
            v(y, yr, 2),
            ridge,
            &mut Progress::none(),
        )
    };
    let a0 = Ridge::Absolute(0.0);
    // Shape mismatch between the kernel and y.
    expect_err(
        mk(&s.txx, None, &s.y[..8], 4, a0, Law::Ntk),
        invalid,
        "kernel_train",
    );
    // Indefinite kernel beyond tolerance.
    let mut indef = s.txx.clone();
    indef[0] = -1.0;
    expect_err(
        mk(&indef, None, &s.y, n, a0, Law::Ntk),
        numerical,
        "positive semi-definite",
    );
    let mut indef2 = s.txx.clone();
    indef2[1] = 10.0;
    indef2[n] = 10.0;
    expect_err(
        mk(&indef2, None, &s.y, n, a0, Law::Ntk),
        numerical,
        "positive semi-definite",
    );
    // Indefinite Sigma_xx.
    let mut sbad = s.sxx.clone();
    sbad[1] = 5.0;
    sbad[n] = 5.0;
    expect_err(
        mk(&s.txx, Some(&sbad), &s.y, n, a0, Law::Ntk),
        numerical,
        "nngp_train",
    );
    // Non-finite.
    let mut knan = s.txx.clone();
    knan[2] = f64::NAN;
    knan[2 * n] = f64::NAN;
    expect_err(
        mk(&knan, None, &s.y, n, a0, Law::Ntk),
        nonfinite,
        "kernel_train",
    );
    let mut ynan = s.y.clone();
    ynan[3] = f64::INFINITY;
    expect_err(mk(&s.txx, None, &ynan, n, a0, Law::Ntk), nonfinite, "y");
    // Non-symmetric.
    let mut asym = s.txx.clone();
    asym[1] += 0.1;
    expect_err(mk(&asym, None, &s.y, n, a0, Law::Ntk), invalid, "symmetric");
    // Ridge.
    expect_err(
        mk(&s.txx, None, &s.y, n, Ridge::Absolute(-1e-3), Law::Ntk),
        invalid,
        "ridge",
    );
    expect_err(
        mk(&s.txx, None, &s.y, n, Ridge::Relative(f64::NAN), Law::Ntk),
        nonfinite,
        "ridge",
    );
    // Sigma_xx with the NNGP law.
    expect_err(
        mk(&s.sxx, Some(&s.sxx), &s.y, n, a0, Law::Nngp),
        invalid,
        "nngp_train",
    );
}

#[test]
fn bad_test_inputs_and_times() {
    let s = setup(5, 3);
    let (n, m) = (s.n, s.m);
    let p = predictor(&s);
    let none = &mut Progress::none();
    expect_err(
        TestSet::new(&p, v(&s.ttx[..m * (n - 1)], m, n - 1), None, None, none),
        invalid,
        "kernel_test_train",
    );
    expect_err(
        TestSet::new(&p, v(&s.ttx, m, n), Some(v(&s.stx, m, n)), None, none),
        invalid,
        "nngp_test_train",
    );
    expect_err(
        TestSet::new(
            &p,
            v(&s.ttx, m, n),
            Some(v(&s.stx, m, n)),
            Some(v(&s.stt[..6], 3, 2)),
            none,
        ),
        invalid,
        "nngp_test_test",
    );
    let mut sttn = s.stt.clone();
    sttn[4] = f64::NAN;
    expect_err(
        TestSet::new(
            &p,
            v(&s.ttx, m, n),
            Some(v(&s.stx, m, n)),
            Some(v(&sttn, m, m)),
            none,
        ),
        nonfinite,
        "nngp_test_test",
    );
    // A predictor without Sigma_xx cannot give covariances.
    let p2 = Predictor::new(
        Law::Ntk,
        v(&s.txx, n, n),
        None,
        v(&s.y, n, 2),
        Ridge::Absolute(0.0),
        none,
    )
    .unwrap();
    expect_err(
        TestSet::new(
            &p2,
            v(&s.ttx, m, n),
            Some(v(&s.stx, m, n)),
            Some(v(&s.stt, m, m)),
            none,
        ),
        invalid,
        "nngp_train",
    );
    let ts = TestSet::new(
        &p,
        v(&s.ttx, m, n),
        Some(v(&s.stx, m, n)),
        Some(v(&s.stt, m, m)),
        none,
    )
    .unwrap();
    expect_err(ts.law(-0.5, CovKind::Full, none), invalid, "t = -0.5");
    expect_err(
        ts.law(f64::NEG_INFINITY, CovKind::Full, none),
        invalid,
        "t = -inf",
    );
    expect_err(ts.law(f64::NAN, CovKind::Full, none), nonfinite, "t = NaN");
    // Means-only test set: no covariance.
    let tm = TestSet::new(&p, v(&s.ttx, m, n), None, None, none).unwrap();
    expect_err(
        tm.law(1.0, CovKind::Diagonal, none),
        invalid,
        "nngp_test_test",
    );
    let means = tm.law(1.0, CovKind::None, none).unwrap();
    assert_eq!(means.mean, ts.law(1.0, CovKind::None, none).unwrap().mean);
    // Variances-only prior: the full covariance is refused, the diagonal agrees.
    let var: Vec<f64> = (0..m).map(|i| s.stt[i * m + i]).collect();
    let tv = TestSet::new(
        &p,
        v(&s.ttx, m, n),
        Some(v(&s.stx, m, n)),
        Some(v(&var, m, 1)),
        none,
    )
    .unwrap();
    expect_err(tv.law(1.0, CovKind::Full, none), invalid, "full covariance");
    let dv = tv.law(1.0, CovKind::Diagonal, none).unwrap();
    let full = ts.law(1.0, CovKind::Full, none).unwrap();
    for i in 0..m {
        assert!((dv.cov[i] - full.cov[i * m + i]).abs() <= 1e-14 * full.cov[i * m + i]);
    }
}

#[test]
fn pseudo_inverse_on_a_singular_kernel() {
    // Θ = a aᵀ + b bᵀ (rank 2) on 4 training points; y in the range gets interpolated exactly at
    // t = ∞, and the mean is the minimum-norm kernel regression K_*x K⁺ y.
    let a = [1.0, 0.5, -0.3, 0.2];
    let b = [0.0, 1.0, 0.4, -0.7];
    let at = [0.3, -0.2];
    let bt = [0.8, 0.1];
    let n = 4;
    let k: Vec<f64> = (0..16)
        .map(|i| a[i / 4] * a[i % 4] + b[i / 4] * b[i % 4])
        .collect();
    let kt: Vec<f64> = (0..8)
        .map(|i| at[i / 4] * a[i % 4] + bt[i / 4] * b[i % 4])
        .collect();
    let y: Vec<f64> = (0..4).map(|i| 2.0 * a[i] - b[i]).collect();
    let none = &mut Progress::none();
    let p = Predictor::new(
        Law::Ntk,
        v(&k, n, n),
        None,
        v(&y, n, 1),
        Ridge::Absolute(0.0),
        none,
    )
    .unwrap();
    let ts = TestSet::new(&p, v(&kt, 2, n), None, None, none).unwrap();
    let g = ts.law(f64::INFINITY, CovKind::None, none).unwrap();
    // y = 2a − b = K c with K⁺ y giving, at the test points, 2·at − bt.
    for i in 0..2 {
        let e = 2.0 * at[i] - bt[i];
        assert!((g.mean[i] - e).abs() <= 1e-12, "{} vs {e}", g.mean[i]);
    }
    // Finite large t approaches it (the null space never moves: φ_t(0) = t/N times 0 overlap).
    let g2 = ts.law(1e6, CovKind::None, none).unwrap();
    for i in 0..2 {
        assert!((g2.mean[i] - g.mean[i]).abs() <= 1e-9);
    }
}

#[test]
fn cancel_and_thread_count_independence() {
    let s = setup(700, 300);
    let (n, m) = (s.n, s.m);
    let run = || {
        let none = &mut Progress::none();
        let p = predictor(&s);
        let ts = TestSet::new(
            &p,
            v(&s.ttx, m, n),
            Some(v(&s.stx, m, n)),
            Some(v(&s.stt, m, m)),
            none,
        )
        .unwrap();
        (
            ts.law(3.0, CovKind::Full, none).unwrap(),
            ts.law(f64::INFINITY, CovKind::Diagonal, none).unwrap(),
        )
    };
    ntk::parallel::set_num_threads(1).unwrap();
    let one = run();
    ntk::parallel::set_num_threads(3).unwrap();
    let three = run();
    ntk::parallel::set_num_threads(0).unwrap();
    assert_eq!(one, three, "bits differ between 1 and 3 threads");
    // Cancel at each progress call of create / law.
    for stop in 0..4 {
        let mut calls = 0;
        let mut cb = |_d: u64, _t: u64| {
            calls += 1;
            calls <= stop
        };
        let r = Predictor::new(
            Law::Ntk,
            v(&s.txx, n, n),
            None,
            v(&s.y, n, 2),
            Ridge::Absolute(0.0),
            &mut Progress::new(&mut cb),
        );
        assert!(matches!(r, Err(Error::Cancelled)), "stop {stop}");
    }
    let p = predictor(&s);
    let ts = TestSet::new(
        &p,
        v(&s.ttx, m, n),
        Some(v(&s.stx, m, n)),
        Some(v(&s.stt, m, m)),
        &mut Progress::none(),
    )
    .unwrap();
    for stop in 0..4 {
        let mut calls = 0;
        let mut cb = |_d: u64, _t: u64| {
            calls += 1;
            calls <= stop
        };
        let r = ts.law(3.0, CovKind::Full, &mut Progress::new(&mut cb));
        assert!(matches!(r, Err(Error::Cancelled)), "stop {stop}");
    }
    assert_eq!(
        ts.law(3.0, CovKind::Full, &mut Progress::none()).unwrap(),
        one.0
    );
}

#[test]
fn means_only_from_points_match_the_eigenbasis() {
    // ensemble_law_points without covariance goes through the flow (Lanczos at finite t).
    use ntk::activation::Activation;
    use ntk::kernel::limit::LimitSpec;
    use ntk::predict::ensemble_law_points;
    let spec = LimitSpec::new(3, Activation::Erf, 0.2);
    let x: Vec<f64> = (0..120)
        .map(|i| (i * 37 % 101) as f64 / 50.0 - 1.0)
        .collect();
    let (n, m, d) = (30, 10, 3);
    let xtr = &x[..n * d];
    let xte = &x[n * d..(n + m) * d];
    let y: Vec<f64> = (0..n * 2).map(|i| (i as f64 * 0.31).cos()).collect();
    let times = [0.5, 40.0, f64::INFINITY];
    for law in [Law::Ntk, Law::Nngp] {
        for ridge in [Ridge::Absolute(0.0), Ridge::Relative(1e-2)] {
            let run = |cov| {
                ensemble_law_points(
                    &spec,
                    law,
                    MatRef::from_row_major(xtr, n, d),
                    MatRef::from_row_major(&y, n, 2),
                    MatRef::from_row_major(xte, m, d),
                    &times,
                    cov,
                    ridge,
                    &mut Progress::none(),
                )
                .unwrap()
            };
            let means = run(CovKind::None);
            let full = run(CovKind::Diagonal);
            for ((a, b), t) in means.iter().zip(&full).zip(times) {
                // Interpolation at t = ∞ without a ridge is ill-conditioned on these 30 points
                // (the two paths differ by rounding amplified by κ(K)); compare it with a ridge.
                if t.is_infinite() && ridge == Ridge::Absolute(0.0) {
                    continue;
                }
                assert!(a.cov.is_empty());
                let scale = b.mean.iter().fold(0.0f64, |s, v| s.max(v.abs()));
                let diff = a
                    .mean
                    .iter()
                    .zip(&b.mean)
                    .fold(0.0f64, |s, (p, q)| s.max((p - q).abs()));
                assert!(
                    diff <= 1e-10 * scale,
                    "{law:?} {ridge:?} t = {t}: {diff:e} vs {scale:e}"
                );
            }
        }
    }
}
