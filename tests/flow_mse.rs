//! The MSE kernel flow against references computed here: a matrix exponential (scaling and
//! squaring), Gaussian elimination for kernel regression, finite differences in t.

mod flow_support;

use flow_support::*;
use ntk::flow::{Cost, Flow, FlowMethod, FlowOptions, OdeTolerances};
use ntk::linalg::MatRef;

struct Problem {
    n: usize,
    m: usize,
    k: usize,
    kern: Vec<f64>,
    test_kern: Vec<f64>,
    y: Vec<f64>,
    f0: Vec<f64>,
    tf0: Vec<f64>,
}

/// ReLU limit NTK (L = 3, β = 0.1) on N points of the unit circle and M test points.
fn problem(n: usize, m: usize, k: usize) -> Problem {
    let x = circle(n, 0.1);
    let xt = circle(m, 0.37);
    Problem {
        n,
        m,
        k,
        kern: limit_ntk(&x, &x, 2, 3, 0.1, false),
        test_kern: limit_ntk(&xt, &x, 2, 3, 0.1, false),
        y: pseudo_random(n * k, 1),
        f0: pseudo_random(n * k, 2).iter().map(|v| 0.3 * v).collect(),
        tf0: pseudo_random(m * k, 3).iter().map(|v| 0.3 * v).collect(),
    }
}

fn flow(p: &Problem, method: FlowMethod) -> Flow {
    let opts = FlowOptions {
        method,
        ode: OdeTolerances {
            rtol: 1e-13,
            atol: 1e-15,
        },
        ..Default::default()
    };
    Flow::new(
        MatRef::from_row_major(&p.kern, p.n, p.n),
        MatRef::from_row_major(&p.y, p.n, p.k),
        MatRef::from_row_major(&p.f0, p.n, p.k),
        Some((
            MatRef::from_row_major(&p.test_kern, p.m, p.n),
            MatRef::from_row_major(&p.tf0, p.m, p.k),
        )),
        Cost::Mse,
        opts,
    )
    .unwrap()
}

/// f_t = y + e^{−tK/N}(f0 − y); f*_t = f*0 + K* K⁻¹ (I − e^{−tK/N})(y − f0).
fn reference(p: &Problem, t: f64) -> (Vec<f64>, Vec<f64>) {
    let (n, k) = (p.n, p.k);
    let a: Vec<f64> = p.kern.iter().map(|v| -t * v / n as f64).collect();
    let e = expm(&a, n);
    let r0: Vec<f64> = p.f0.iter().zip(&p.y).map(|(f, y)| f - y).collect();
    let er0 = matmul(&e, &r0, n, n, k);
    let train: Vec<f64> = p.y.iter().zip(&er0).map(|(y, v)| y + v).collect();
    // (I − e)(y − f0) = −(r0 − e r0)
    let rhs: Vec<f64> = r0.iter().zip(&er0).map(|(r, er)| -(r - er)).collect();
    let alpha = solve(&p.kern, &rhs, n, k);
    let kt = matmul(&p.test_kern, &alpha, p.m, n, k);
    let test: Vec<f64> = p.tf0.iter().zip(&kt).map(|(f, v)| f + v).collect();
    (train, test)
}

#[test]
fn closed_form_matches_matrix_exponential_and_ode() {
    let p = problem(10, 4, 2);
    for method in [
        FlowMethod::Eigen,
        FlowMethod::Krylov,
        FlowMethod::Ode,
        FlowMethod::Auto,
    ] {
        let mut fl = flow(&p, method);
        for &t in &[0.5, 3.0, 40.0] {
            fl.set_time(t).unwrap();
            let (train, test) = reference(&p, t);
            let (et, es) = (
                rel_err(fl.outputs(), &train),
                rel_err(fl.predictions(), &test),
            );
            println!("{method:?} t = {t}: train {et:.2e}, test {es:.2e}");
            assert!(
                et <= 1e-10 && es <= 1e-10,
                "{method:?} t = {t}: {et:e} {es:e}"
            );
        }
    }
}

#[test]
fn full_kernel_layout_equals_scalar_kernel() {
    let p = problem(7, 3, 3);
    let mut scalar = flow(&p, FlowMethod::Eigen);
    let full_k = kron_identity(&p.kern, p.n, p.n, p.k);
    let full_t = kron_identity(&p.test_kern, p.m, p.n, p.k);
    let (d, dm) = (p.n * p.k, p.m * p.k);
    for method in [FlowMethod::Eigen, FlowMethod::Krylov] {
        let mut full = Flow::new(
            MatRef::from_row_major(&full_k, d, d),
            MatRef::from_row_major(&p.y, p.n, p.k),
            MatRef::from_row_major(&p.f0, p.n, p.k),
            Some((
                MatRef::from_row_major(&full_t, dm, d),
                MatRef::from_row_major(&p.tf0, p.m, p.k),
            )),
            Cost::Mse,
            FlowOptions {
                method,
                ..Default::default()
            },
        )
        .unwrap();
        for &t in &[1.0, 25.0] {
            scalar.set_time(t).unwrap();
            full.set_time(t).unwrap();
            assert!(rel_err(full.outputs(), scalar.outputs()) < 1e-11);
            assert!(rel_err(full.predictions(), scalar.predictions()) < 1e-11);
        }
    }
}

#[test]
fn infinite_time_is_kernel_regression() {
    let p = problem(9, 5, 2);
    let mut fl = flow(&p, FlowMethod::Auto);
    fl.set_time(f64::INFINITY).unwrap();
    // Kernel regression: f*_∞ = f*0 + K* K⁻¹ (y − f0), f_∞ = y.
    let rhs: Vec<f64> = p.y.iter().zip(&p.f0).map(|(y, f)| y - f).collect();
    let alpha = solve(&p.kern, &rhs, p.n, p.k);
    let kt = matmul(&p.test_kern, &alpha, p.m, p.n, p.k);
    let test: Vec<f64> = p.tf0.iter().zip(&kt).map(|(f, v)| f + v).collect();
    let (et, es) = (
        rel_err(fl.outputs(), &p.y),
        rel_err(fl.predictions(), &test),
    );
    println!("t = inf: train {et:.2e}, test {es:.2e}");
    assert!(et < 1e-10 && es < 1e-10, "{et:e} {es:e}");
    assert!(fl.loss() < 1e-20);
}

#[test]
fn cost_decreases_and_its_derivative_is_the_kernel_norm_of_the_residual() {
    let p = problem(8, 2, 2);
    let mut fl = flow(&p, FlowMethod::Eigen);
    let (n, k) = (p.n, p.k);
    let mut previous = f64::INFINITY;
    for i in 0..40 {
        let t = 0.25 * i as f64 * (1.0 + i as f64);
        fl.set_time(t).unwrap();
        let c = fl.loss();
        assert!(c <= previous * (1.0 + 1e-14), "t = {t}: {c} > {previous}");
        previous = c;
    }
    // dC/dt = −(1/N²) Σ_a d_aᵀ K d_a with d = f − y (C = (1/2N) Σ ‖f − y‖²).
    for &t in &[0.3, 2.0, 15.0] {
        let h = 1e-4;
        fl.set_time(t + h).unwrap();
        let up = fl.loss();
        fl.set_time(t - h).unwrap();
        let down = fl.loss();
        fl.set_time(t).unwrap();
        let fd = (up - down) / (2.0 * h);
        let d: Vec<f64> = fl.outputs().iter().zip(&p.y).map(|(f, y)| f - y).collect();
        let kd = matmul(&p.kern, &d, n, n, k);
        let exact = -d.iter().zip(&kd).map(|(a, b)| a * b).sum::<f64>() / (n * n) as f64;
        println!("t = {t}: dC/dt {exact:.6e}, finite difference {fd:.6e}");
        assert!((fd - exact).abs() <= 1e-6 * exact.abs(), "{fd} vs {exact}");
    }
}

#[test]
fn eigen_and_krylov_agree_on_a_larger_problem() {
    let n = 120;
    let x: Vec<f64> = pseudo_random(n * 3, 11);
    let xt: Vec<f64> = pseudo_random(30 * 3, 12);
    let p = Problem {
        n,
        m: 30,
        k: 1,
        kern: limit_ntk(&x, &x, 3, 4, 0.1, false),
        test_kern: limit_ntk(&xt, &x, 3, 4, 0.1, false),
        y: pseudo_random(n, 13),
        f0: vec![0.0; n],
        tf0: vec![0.0; 30],
    };
    let mut e = flow(&p, FlowMethod::Eigen);
    let mut kr = flow(&p, FlowMethod::Krylov);
    let times = [1.0, 10.0, 100.0, 1000.0];
    let a = e.evaluate(&times).unwrap();
    let b = kr.evaluate(&times).unwrap();
    for (i, t) in times.iter().enumerate() {
        let (et, es) = (
            rel_err(&b[i].train, &a[i].train),
            rel_err(&b[i].test, &a[i].test),
        );
        println!("t = {t}: krylov vs eigen train {et:.2e} test {es:.2e}");
        assert!(et < 1e-10 && es < 1e-10, "t = {t}: {et:e} {es:e}");
    }
}

#[test]
fn singular_kernel_with_duplicate_points_stays_finite() {
    // Rows 0 and 1 are the same point; with the identity σ the kernel has rank ≤ n0 + 1 = 3.
    let mut x = circle(6, 0.2);
    x[2] = x[0];
    x[3] = x[1];
    let xt = circle(3, 0.9);
    for identity in [false, true] {
        let p = Problem {
            n: 6,
            m: 3,
            k: 1,
            kern: limit_ntk(&x, &x, 2, 3, 0.1, identity),
            test_kern: limit_ntk(&xt, &x, 2, 3, 0.1, identity),
            y: pseudo_random(6, 5),
            f0: vec![0.0; 6],
            tf0: vec![0.0; 3],
        };
        let mut e = flow(&p, FlowMethod::Eigen);
        let mut kr = flow(&p, FlowMethod::Krylov);
        for &t in &[1.0, 50.0, 1e4] {
            e.set_time(t).unwrap();
            kr.set_time(t).unwrap();
            assert!(e
                .outputs()
                .iter()
                .chain(e.predictions())
                .all(|v| v.is_finite()));
            assert!(rel_err(kr.outputs(), e.outputs()) < 1e-9);
            assert!(rel_err(kr.predictions(), e.predictions()) < 1e-9);
        }
        e.set_time(f64::INFINITY).unwrap();
        assert!(e
            .outputs()
            .iter()
            .chain(e.predictions())
            .all(|v| v.is_finite()));
        // The duplicated points share their outputs at every time.
        assert!((e.outputs()[0] - e.outputs()[1]).abs() < 1e-9);
        // Large finite t approaches the pseudo-inverse limit on the test points.
        let inf_pred = e.predictions().to_vec();
        e.set_time(1e9).unwrap();
        println!(
            "identity = {identity}: t=1e9 vs inf {:.2e}",
            rel_err(e.predictions(), &inf_pred)
        );
        assert!(rel_err(e.predictions(), &inf_pred) < 1e-6);
    }
}

#[test]
fn auto_uses_krylov_until_its_work_would_exceed_one_eigendecomposition() {
    let n = 300;
    let x = pseudo_random(n * 3, 41);
    let p = Problem {
        n,
        m: 1,
        k: 1,
        kern: limit_ntk(&x, &x, 3, 3, 0.1, false),
        test_kern: limit_ntk(&x[..3], &x, 3, 3, 0.1, false),
        y: pseudo_random(n, 42),
        f0: vec![0.0; n],
        tf0: vec![0.0; 1],
    };
    let mut auto = flow(&p, FlowMethod::Auto);
    let mut eigen = flow(&p, FlowMethod::Eigen);
    let mut krylov_calls = 0;
    for i in 1..=200 {
        let t = i as f64;
        auto.set_time(t).unwrap();
        eigen.set_time(t).unwrap();
        assert!(rel_err(auto.outputs(), eigen.outputs()) < 1e-10);
        if auto.eigenvalues().is_none() {
            krylov_calls += 1;
        }
    }
    println!("auto: {krylov_calls} Krylov evaluations before switching to the eigendecomposition");
    assert!(krylov_calls >= 1 && krylov_calls < 200);
    assert!(auto.eigenvalues().is_some());
}

#[test]
fn hopelessly_stiff_ode_request_fails_fast_and_leaves_the_flow_unchanged() {
    let p = problem(6, 2, 1);
    let mut f = flow(&p, FlowMethod::Ode);
    let before = f.outputs().to_vec();
    let start = std::time::Instant::now();
    let err = f.set_time(1e300).unwrap_err();
    assert!(matches!(err, ntk::Error::Numerical(_)), "{err:?}");
    // Fails before integrating (10^7 explicit steps would take minutes).
    assert!(start.elapsed().as_secs_f64() < 5.0);
    assert_eq!(f.outputs(), &before[..]);
    assert_eq!(f.time(), 0.0);
}

#[test]
fn eigen_krylov_and_ode_agree_above_the_parallel_block_sizes() {
    // Sizes around the fixed row blocks of the parallel kernels (64, 128, 256).
    for n in [130, 300] {
        let p = problem(n, 7, 2);
        let t = 10.0;
        let mut ode = flow(&p, FlowMethod::Ode);
        ode.set_time(t).unwrap();
        for method in [FlowMethod::Eigen, FlowMethod::Krylov] {
            let mut f = flow(&p, method);
            f.set_time(t).unwrap();
            let rel = rel_err(f.outputs(), ode.outputs());
            let rel_test = rel_err(f.predictions(), ode.predictions());
            assert!(
                rel < 1e-9 && rel_test < 1e-9,
                "N = {n}, {method:?}: train {rel:e}, test {rel_test:e}"
            );
        }
    }
}
