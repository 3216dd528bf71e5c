//! The matrix-free preconditioned CG solver (src/solve) against the dense path: the full kernel
//! formed by `limit_kernel` / `empirical_ntk` and (K + λI) α = Y solved by faer's Cholesky with
//! one step of iterative refinement. ReLU NTK and NNGP, L = 3, on the unit sphere in d = 8:
//! ≤ 1e-10 relative at λ = 1e-6·tr(K)/N and at λ = 0 (the ReLU kernel is positive definite on
//! distinct points). The suite runs N = 1500 (`NTK_SOLVE_N=4000` for the size).
//! Also: cached rows and matrix-free give the same bits; 1 and 3 threads give the same bits;
//! the preconditioner cuts the iterations; k right-hand sides (a zero column, a proportional
//! column) equal k separate solves; predictions equal K(X*, X) α from the dense two-set
//! kernel; the empirical NTK (trace mode) through its features; every error class.

use faer::prelude::Solve;
use ntk::activation::Activation;
use ntk::kernel::empirical::{empirical_ntk_vec, KernelMethod, KernelMode};
use ntk::kernel::limit::{limit_kernel, LimitOutputs, LimitSpec};
use ntk::linalg::{MatMut, MatRef};
use ntk::network::{Network, NetworkConfig};
use ntk::parallel::Progress;
use ntk::solve::{KernelSolver, KernelSource, SolverConfig, SolverKernel};
use ntk::Error;

/// N points on the unit sphere in d dimensions (deterministic), row-major.
fn sphere(n: usize, d: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        // Box-Muller-free: a sum of uniforms is close enough to isotropic for a test set.
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut x = vec![0.0; n * d];
    for i in 0..n {
        let row = &mut x[i * d..(i + 1) * d];
        for v in row.iter_mut() {
            *v = next() + next() + next();
        }
        let nr = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        for v in row.iter_mut() {
            *v /= nr;
        }
    }
    x
}

fn relu_net(d: usize) -> Network {
    Network::new(NetworkConfig {
        widths: vec![d, 16, 16, 1],
        activation: Activation::Relu,
        beta: 0.1,
        seed: 7,
    })
    .unwrap()
}

fn targets(n: usize, k: usize, x: &[f64], d: usize) -> Vec<f64> {
    // column-major N × k, smooth functions of the points plus a little structure
    let mut y = vec![0.0; n * k];
    for j in 0..k {
        for i in 0..n {
            let p = &x[i * d..(i + 1) * d];
            y[j * n + i] = (3.0 * p[0] + j as f64).sin() + p[1] * p[2] * (j + 1) as f64;
        }
    }
    y
}

/// Dense (K + λI)⁻¹ Y by faer's Cholesky plus one refinement step; column-major N × k.
fn dense_solve(kmat: &[f64], n: usize, lambda: f64, y: &[f64], k: usize) -> Vec<f64> {
    let a = faer::Mat::<f64>::from_fn(n, n, |i, j| {
        kmat[i * n + j] + if i == j { lambda } else { 0.0 }
    });
    let b = faer::Mat::<f64>::from_fn(n, k, |i, j| y[j * n + i]);
    let llt = a
        .llt(faer::Side::Lower)
        .expect("K + lambda I is positive definite");
    let mut x = llt.solve(&b);
    let r = &b - &a * &x;
    let dx = llt.solve(&r);
    x += &dx;
    let mut out = vec![0.0; n * k];
    for j in 0..k {
        for i in 0..n {
            out[j * n + i] = x[(i, j)];
        }
    }
    out
}

fn limit_dense(net: &Network, x: &[f64], n: usize, d: usize, nngp: bool) -> Vec<f64> {
    let spec = LimitSpec::of_network(net);
    let mut k = vec![0.0; n * n];
    let out = MatMut::from_row_major(&mut k, n, n);
    let outs = if nngp {
        LimitOutputs {
            nngp: Some(out),
            sigma_dot: None,
            ntk: None,
        }
    } else {
        LimitOutputs {
            nngp: None,
            sigma_dot: None,
            ntk: Some(out),
        }
    };
    limit_kernel(
        &spec,
        MatRef::from_row_major(x, n, d),
        None,
        outs,
        &mut Progress::none(),
    )
    .unwrap();
    k
}

fn rel(a: &[f64], b: &[f64]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    let den: f64 = b.iter().map(|y| y * y).sum();
    (num / den).sqrt()
}

fn solver(
    net: &Network,
    x: &[f64],
    n: usize,
    d: usize,
    kernel: SolverKernel,
    cache_bytes: usize,
    rank: usize,
) -> KernelSolver {
    let src = KernelSource::new(
        net,
        MatRef::from_row_major(x, n, d),
        kernel,
        &mut Progress::none(),
    )
    .unwrap();
    KernelSolver::new(
        src,
        SolverConfig {
            cache_bytes,
            precond_rank: rank,
        },
        &mut Progress::none(),
    )
    .unwrap()
}

fn solve(
    s: &KernelSolver,
    lambda: f64,
    y: &[f64],
    k: usize,
    rtol: f64,
) -> (Vec<f64>, ntk::solve::SolveInfo) {
    let n = s.len();
    let mut a = vec![f64::NAN; n * k];
    let info = s
        .solve(
            lambda,
            MatRef::from_col_major(y, n, k),
            rtol,
            5000,
            MatMut::from_col_major(&mut a, n, k),
            &mut Progress::none(),
        )
        .unwrap();
    (a, info)
}

fn suite_n() -> usize {
    std::env::var("NTK_SOLVE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500)
}

#[test]
fn limit_solver_matches_dense_cholesky() {
    let (n, d, k) = (suite_n(), 8, 2);
    let x = sphere(n, d, 1);
    let net = relu_net(d);
    let y = targets(n, k, &x, d);
    for nngp in [false, true] {
        let kd = limit_dense(&net, &x, n, d, nngp);
        let tr: f64 = (0..n).map(|i| kd[i * n + i]).sum();
        let s = solver(
            &net,
            &x,
            n,
            d,
            if nngp {
                SolverKernel::LimitNngp
            } else {
                SolverKernel::LimitNtk
            },
            0,
            100,
        );
        assert!((s.trace() - tr).abs() <= 1e-12 * tr);
        for lambda in [1e-6 * tr / n as f64, 0.0] {
            let t0 = std::time::Instant::now();
            let (a, info) = solve(&s, lambda, &y, k, 1e-13);
            let t_cg = t0.elapsed().as_secs_f64();
            let t0 = std::time::Instant::now();
            let want = dense_solve(&kd, n, lambda, &y, k);
            let t_dense = t0.elapsed().as_secs_f64();
            let e = rel(&a, &want);
            println!(
                "N = {n} {} lambda = {lambda:.3e}: {} iterations ({} kernel passes), residual \
                 {:.2e}, |alpha - dense|/|dense| = {e:.2e}; CG {t_cg:.2} s, dense Cholesky {t_dense:.2} s",
                if nngp { "NNGP" } else { "NTK" },
                info.iterations,
                info.kernel_passes,
                info.residual
            );
            assert!(info.residual <= 1e-13);
            assert!(e <= 1e-10, "relative difference {e:e}");
        }
    }
}

#[test]
fn cache_threads_and_preconditioner() {
    let (n, d, k) = (700, 5, 3);
    let x = sphere(n, d, 2);
    let net = relu_net(d);
    let y = targets(n, k, &x, d);
    let free = solver(&net, &x, n, d, SolverKernel::LimitNtk, 0, 40);
    let lambda = 1e-4 * free.trace() / n as f64;
    let (a_free, i_free) = solve(&free, lambda, &y, k, 1e-10);
    // Part cached (300 rows -> 256 rounded down to a row block) and all cached: the same bits.
    for bytes in [300 * n * 8, n * n * 8] {
        let c = solver(&net, &x, n, d, SolverKernel::LimitNtk, bytes, 40);
        assert!(c.cached_rows() == 256 || c.cached_rows() == n);
        let (a, info) = solve(&c, lambda, &y, k, 1e-10);
        assert_eq!(info, i_free);
        assert!(a
            .iter()
            .zip(&a_free)
            .all(|(p, q)| p.to_bits() == q.to_bits()));
    }
    // Threads: the same bits at 1 and 3 threads.
    for t in [1, 3] {
        ntk::parallel::set_num_threads(t).unwrap();
        let s = solver(&net, &x, n, d, SolverKernel::LimitNtk, 0, 40);
        let (a, _) = solve(&s, lambda, &y, k, 1e-10);
        assert!(a
            .iter()
            .zip(&a_free)
            .all(|(p, q)| p.to_bits() == q.to_bits()));
    }
    ntk::parallel::set_num_threads(0).unwrap();
    // Without the preconditioner: the same solution, more iterations.
    let plain = solver(&net, &x, n, d, SolverKernel::LimitNtk, 0, 0);
    let (a_plain, i_plain) = solve(&plain, lambda, &y, k, 1e-10);
    println!(
        "N = {n}: {} iterations with a rank-40 preconditioner, {} without",
        i_free.iterations, i_plain.iterations
    );
    assert!(i_free.iterations * 2 < i_plain.iterations);
    assert!(rel(&a_plain, &a_free) < 1e-7);
}

#[test]
fn several_right_hand_sides_equal_separate_solves() {
    let (n, d) = (400, 4);
    let x = sphere(n, d, 3);
    let net = relu_net(d);
    let s = solver(&net, &x, n, d, SolverKernel::LimitNngp, 0, 30);
    let lambda = 1e-3 * s.trace() / n as f64;
    let y1 = targets(n, 1, &x, d);
    // columns: y1, 0, -2·y1
    let mut y = vec![0.0; 3 * n];
    y[..n].copy_from_slice(&y1);
    for i in 0..n {
        y[2 * n + i] = -2.0 * y1[i];
    }
    let (a, _) = solve(&s, lambda, &y, 3, 1e-12);
    let (a1, _) = solve(&s, lambda, &y1, 1, 1e-12);
    assert_eq!(&a[..n], &a1[..], "column 0 is solved as on its own");
    assert!(a[n..2 * n].iter().all(|&v| v == 0.0));
    let scaled: Vec<f64> = a1.iter().map(|v| -2.0 * v).collect();
    assert!(rel(&a[2 * n..], &scaled) < 1e-10);
}

#[test]
fn predictions_match_the_dense_cross_kernel() {
    let (n, m, d, k) = (600, 530, 6, 2);
    let x = sphere(n, d, 4);
    let xt = sphere(m, d, 5);
    let net = relu_net(d);
    let s = solver(&net, &x, n, d, SolverKernel::LimitNtk, 0, 20);
    let alpha: Vec<f64> = (0..n * k)
        .map(|i| ((i * 37) % 101) as f64 / 50.0 - 1.0)
        .collect();
    // out in a row-major buffer (strided view), alpha column-major
    let mut out = vec![0.0; m * k];
    s.predict(
        MatRef::from_row_major(&xt, m, d),
        MatRef::from_col_major(&alpha, n, k),
        MatMut::from_row_major(&mut out, m, k),
        &mut Progress::none(),
    )
    .unwrap();
    let mut kx = vec![0.0; m * n];
    limit_kernel(
        &LimitSpec::of_network(&net),
        MatRef::from_row_major(&xt, m, d),
        Some(MatRef::from_row_major(&x, n, d)),
        LimitOutputs {
            nngp: None,
            sigma_dot: None,
            ntk: Some(MatMut::from_row_major(&mut kx, m, n)),
        },
        &mut Progress::none(),
    )
    .unwrap();
    let mut worst: f64 = 0.0;
    for i in 0..m {
        for j in 0..k {
            let want: f64 = (0..n).map(|c| kx[i * n + c] * alpha[j * n + c]).sum();
            let scale: f64 = (0..n)
                .map(|c| (kx[i * n + c] * alpha[j * n + c]).abs())
                .sum();
            worst = worst.max((out[i * k + j] - want).abs() / scale);
        }
    }
    assert!(worst < 1e-14, "worst {worst:e}");
}

#[test]
fn empirical_trace_solver_matches_dense() {
    let (n, d) = (500, 3);
    let x = sphere(n, d, 6);
    let net = Network::new(NetworkConfig {
        widths: vec![d, 32, 32, 2],
        activation: Activation::Tanh,
        beta: 0.2,
        seed: 11,
    })
    .unwrap();
    let (kd, _, _) = empirical_ntk_vec(
        &net,
        MatRef::from_row_major(&x, n, d),
        None,
        KernelMode::Trace,
        KernelMethod::Structured,
    )
    .unwrap();
    let tr: f64 = (0..n).map(|i| kd[i * n + i]).sum();
    let s = solver(&net, &x, n, d, SolverKernel::EmpiricalTrace, 0, 50);
    let lambda = 1e-3 * tr / n as f64;
    let y = targets(n, 1, &x, d);
    let (a, info) = solve(&s, lambda, &y, 1, 1e-12);
    let want = dense_solve(&kd, n, lambda, &y, 1);
    let e = rel(&a, &want);
    println!(
        "empirical N = {n}: {} iterations, rel diff {e:.2e}",
        info.iterations
    );
    assert!(e < 1e-10, "{e:e}");
}

#[test]
fn errors() {
    let (n, d) = (300, 3);
    let x = sphere(n, d, 7);
    let net = relu_net(d);
    let s = solver(&net, &x, n, d, SolverKernel::LimitNtk, 0, 10);
    let y = targets(n, 1, &x, d);
    let mut a = vec![7.0; n];
    let run = |lambda: f64, y: &[f64], rows: usize, rtol: f64, it: usize, a: &mut [f64]| {
        s.solve(
            lambda,
            MatRef::from_col_major(y, rows, 1),
            rtol,
            it,
            MatMut::from_col_major(a, rows, 1),
            &mut Progress::none(),
        )
    };
    for lambda in [-1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            run(lambda, &y, n, 1e-8, 100, &mut a),
            Err(Error::InvalidArgument(_))
        ));
    }
    for rtol in [0.0, 1.0, f64::NAN, -1e-3] {
        assert!(matches!(
            run(1.0, &y, n, rtol, 100, &mut a),
            Err(Error::InvalidArgument(_))
        ));
    }
    let mut short = vec![0.0; n - 1];
    assert!(matches!(
        run(1.0, &y[..n - 1], n - 1, 1e-8, 100, &mut short),
        Err(Error::InvalidArgument(_))
    ));
    let mut ybad = y.clone();
    ybad[17] = f64::NAN;
    match run(1.0, &ybad, n, 1e-8, 100, &mut a) {
        Err(Error::NonFinite(m)) => assert!(m.contains("y[17, 0]"), "{m}"),
        other => panic!("{other:?}"),
    }
    // Too few iterations: Numerical, alpha untouched.
    match run(1e-9, &y, n, 1e-14, 2, &mut a) {
        Err(Error::Numerical(m)) => assert!(m.contains("max_iterations = 2"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(a.iter().all(|&v| v == 7.0));
    // Cancel from the progress callback.
    let mut calls = 0;
    let mut cb = |_d: u64, _t: u64| {
        calls += 1;
        calls < 3
    };
    let r = s.solve(
        1.0,
        MatRef::from_col_major(&y, n, 1),
        1e-12,
        100,
        MatMut::from_col_major(&mut a, n, 1),
        &mut Progress::new(&mut cb),
    );
    assert_eq!(r, Err(Error::Cancelled));
    assert!(a.iter().all(|&v| v == 7.0));
    // A rank-deficient kernel at lambda = 0: the identity activation gives rank n_0 + 1 = 4.
    let lin = Network::new(NetworkConfig {
        widths: vec![d, 8, 1],
        activation: Activation::Identity,
        beta: 0.5,
        seed: 1,
    })
    .unwrap();
    let sl = solver(&lin, &x, n, d, SolverKernel::LimitNtk, 0, 10);
    assert_eq!(
        sl.rank(),
        d + 1,
        "pivoted Cholesky stops at the numerical rank"
    );
    let r = sl.solve(
        0.0,
        MatRef::from_col_major(&y, n, 1),
        1e-10,
        200,
        MatMut::from_col_major(&mut a, n, 1),
        &mut Progress::none(),
    );
    assert!(matches!(r, Err(Error::Numerical(_))), "{r:?}");
    assert!(a.iter().all(|&v| v == 7.0));
    // Wrong input dimension, empty sets.
    let r = KernelSource::new(
        &net,
        MatRef::from_row_major(&x, n, d - 1),
        SolverKernel::LimitNtk,
        &mut Progress::none(),
    );
    assert!(matches!(r, Err(Error::InvalidArgument(_))));
}
