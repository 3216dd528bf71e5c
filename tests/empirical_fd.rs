//! The parameter Jacobian and the empirical NTK against central finite differences of the
//! forward pass (an independent reference: only `Network::forward` and θ perturbations are used).

mod common;

use ntk::activation::Activation;
use ntk::kernel::empirical::{self, KernelMethod, KernelMode};
use ntk::linalg::{MatMut, MatRef};
use ntk::network::Network;
use ntk::parallel::Progress;

fn net(act: Activation, beta: f64, seed: u64) -> Network {
    common::net(vec![3, 6, 5, 2], act, beta, seed)
}

fn points(n: usize, shift: f64) -> Vec<f64> {
    common::wave(n * 3, f64::sin, 0.731, shift, 1.3)
}

/// Central differences: column p of J_fd is (f(θ + h e_p) − f(θ − h e_p)) / 2h. Row-major
/// (N·n_L) × P.
fn fd_jacobian(net: &Network, x: &[f64], n: usize) -> Vec<f64> {
    let mut net = net.clone();
    let p = net.num_params();
    let k = net.output_dim();
    let h = 1e-6;
    let mut j = vec![0.0; n * k * p];
    let f = |net: &Network| {
        let mut out = vec![0.0; n * k];
        net.forward(
            MatRef::from_row_major(x, n, 3),
            MatMut::from_row_major(&mut out, n, k),
        )
        .unwrap();
        out
    };
    for q in 0..p {
        let orig = net.params()[q];
        net.params_mut()[q] = orig + h;
        let up = f(&net);
        net.params_mut()[q] = orig - h;
        let down = f(&net);
        net.params_mut()[q] = orig;
        for r in 0..n * k {
            j[r * p + q] = (up[r] - down[r]) / (2.0 * h);
        }
    }
    j
}

/// Smallest |pre-activation| of the hidden layers (distance to the ReLU kink).
fn min_hidden_pre(net: &Network, x: &[f64], n: usize) -> f64 {
    let c = net.forward_cache(MatRef::from_row_major(x, n, 3)).unwrap();
    c.pre[..net.depth() - 1]
        .iter()
        .flatten()
        .fold(f64::INFINITY, |m, v| m.min(v.abs()))
}

fn check_net(act: Activation, beta: f64, seed: u64) {
    let net = net(act, beta, seed);
    let (n1, n2) = (4, 3);
    let x1 = points(n1, 0.2);
    let x2 = points(n2, 1.7);
    // Central differences are exact up to O(h²) only away from the ReLU kink.
    assert!(min_hidden_pre(&net, &x1, n1) > 1e-3 && min_hidden_pre(&net, &x2, n2) > 1e-3);
    let (p, k) = (net.num_params(), net.output_dim());
    let j1 = fd_jacobian(&net, &x1, n1);
    let j2 = fd_jacobian(&net, &x2, n2);

    // Jacobian, written into a column-major output to exercise strides.
    let mut jac = vec![0.0; n1 * k * p];
    empirical::jacobian(
        &net,
        MatRef::from_row_major(&x1, n1, 3),
        MatMut::from_col_major(&mut jac, n1 * k, p),
        &mut Progress::none(),
    )
    .unwrap();
    for r in 0..n1 * k {
        for q in 0..p {
            let (a, b) = (jac[q * n1 * k + r], j1[r * p + q]);
            assert!(
                (a - b).abs() < 1e-7 * (1.0 + b.abs()),
                "J[{r},{q}] = {a}, fd {b}"
            );
        }
    }

    // Θ from the finite-difference Jacobians.
    let gram = |ja: &[f64], ra: usize, jb: &[f64], rb: usize| {
        let mut g = vec![0.0; ra * rb];
        for r in 0..ra {
            for s in 0..rb {
                g[r * rb + s] = (0..p).map(|q| ja[r * p + q] * jb[s * p + q]).sum();
            }
        }
        g
    };
    for (xb, nb, jb) in [(None, n1, &j1), (Some(&x2), n2, &j2)] {
        let full_ref = gram(&j1, n1 * k, jb, nb * k);
        let scale = full_ref.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for method in [
            KernelMethod::Structured,
            KernelMethod::JacobianContraction,
            KernelMethod::Auto,
        ] {
            let x2v = xb.map(|v: &Vec<f64>| MatRef::from_row_major(v, nb, 3));
            let (full, r, c) = empirical::empirical_ntk_vec(
                &net,
                MatRef::from_row_major(&x1, n1, 3),
                x2v,
                KernelMode::Full,
                method,
            )
            .unwrap();
            assert_eq!((r, c), (n1 * k, nb * k));
            for (a, b) in full.iter().zip(&full_ref) {
                assert!((a - b).abs() < 1e-7 * scale, "{method:?} full: {a} vs {b}");
            }
            let (tr, r, c) = empirical::empirical_ntk_vec(
                &net,
                MatRef::from_row_major(&x1, n1, 3),
                x2v,
                KernelMode::Trace,
                method,
            )
            .unwrap();
            assert_eq!((r, c), (n1, nb));
            for i in 0..n1 {
                for j in 0..nb {
                    let want: f64 = (0..k)
                        .map(|a| full_ref[(i * k + a) * nb * k + j * k + a])
                        .sum::<f64>()
                        / k as f64;
                    let got = tr[i * nb + j];
                    assert!(
                        (got - want).abs() < 1e-7 * scale,
                        "{method:?} trace: {got} vs {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn tanh_jacobian_and_kernel_match_finite_differences() {
    check_net(Activation::Tanh, 0.5, 11);
}

#[test]
fn relu_jacobian_and_kernel_match_finite_differences() {
    check_net(Activation::Relu, 0.3, 5);
}

#[test]
fn erf_without_bias_matches_finite_differences() {
    check_net(Activation::Erf, 0.0, 2);
}
