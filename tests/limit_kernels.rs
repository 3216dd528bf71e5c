//! Limit kernels against independent references: closed polynomials (identity σ), the
//! arc-cosine formula written with `acos` (ReLU), the erf closed form (numerical method),
//! structural properties (symmetry, X1 = X2 flagged vs explicit copy), and a Monte Carlo of very
//! wide networks.

use ntk::activation::Activation;
use ntk::kernel::limit::{limit_kernel, LimitMethod, LimitOutputs, LimitSpec};
use ntk::linalg::{MatMut, MatRef};
use ntk::network::{Network, NetworkConfig};
use ntk::parallel::Progress;

struct Kernels {
    nngp: Vec<f64>,
    dot: Vec<f64>,
    ntk: Vec<f64>,
}

fn kernels(
    spec: &LimitSpec,
    x1: &[f64],
    n1: usize,
    x2: Option<&[f64]>,
    n2: usize,
    d: usize,
) -> Kernels {
    let mut k = Kernels {
        nngp: vec![f64::NAN; n1 * n2],
        dot: vec![f64::NAN; n1 * n2],
        ntk: vec![f64::NAN; n1 * n2],
    };
    limit_kernel(
        spec,
        MatRef::from_row_major(x1, n1, d),
        x2.map(|x| MatRef::from_row_major(x, n2, d)),
        LimitOutputs {
            nngp: Some(MatMut::from_row_major(&mut k.nngp, n1, n2)),
            sigma_dot: Some(MatMut::from_row_major(&mut k.dot, n1, n2)),
            ntk: Some(MatMut::from_row_major(&mut k.ntk, n1, n2)),
        },
        &mut Progress::none(),
    )
    .unwrap();
    k
}

fn points(n: usize, d: usize, seed: u64, scale: f64) -> Vec<f64> {
    let mut r = ntk::rng::Rng::new(seed);
    (0..n * d).map(|_| scale * r.normal()).collect()
}

fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / b.abs().max(1e-300)
    }
}

#[test]
fn identity_activation_gives_the_closed_polynomial() {
    // σ = id: Σ^(l) = g + l β² with g = xᵀx'/n0, Σ̇ = 1, Θ^(L) = Σ_l Σ^(l) = L g + β² L(L+1)/2.
    let (n, d, depth, beta) = (150, 7, 4, 0.3);
    let x = points(n, d, 1, 1.0);
    let k = kernels(
        &LimitSpec::new(depth, Activation::Identity, beta),
        &x,
        n,
        None,
        n,
        d,
    );
    let lf = depth as f64;
    for i in 0..n {
        for j in 0..n {
            let g: f64 = (0..d).map(|a| x[i * d + a] * x[j * d + a]).sum::<f64>() / d as f64;
            let e = g + lf * beta * beta;
            let t = lf * g + beta * beta * lf * (lf + 1.0) / 2.0;
            assert!((k.nngp[i * n + j] - e).abs() < 1e-13 * (1.0 + e.abs()));
            assert_eq!(k.dot[i * n + j], 1.0);
            assert!((k.ntk[i * n + j] - t).abs() < 1e-13 * (1.0 + t.abs()));
        }
    }
}

/// The ReLU/leaky recursion written independently with θ = acos(ρ) (fine away from |ρ| = 1).
fn relu_reference(a: f64, depth: usize, beta: f64, x: &[f64], y: &[f64]) -> (f64, f64, f64) {
    let d = x.len() as f64;
    let dotp = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(p, q)| p * q).sum::<f64>() / d;
    let (mut s11, mut s22, mut s12) = (
        dotp(x, x) + beta * beta,
        dotp(y, y) + beta * beta,
        dotp(x, y) + beta * beta,
    );
    let mut th = s12;
    let mut sd = 0.0;
    let pi = std::f64::consts::PI;
    for _ in 1..depth {
        let rho = s12 / (s11 * s22).sqrt();
        let t = rho.acos();
        let e = (1.0 - a) * (1.0 - a) / (2.0 * pi) * (s11 * s22).sqrt() * t.sin()
            + ((1.0 + a * a) / 2.0 - (1.0 - a) * (1.0 - a) * t / (2.0 * pi)) * s12;
        sd = (1.0 + a * a) / 2.0 - (1.0 - a) * (1.0 - a) * t / (2.0 * pi);
        let h = (1.0 + a * a) / 2.0;
        s11 = h * s11 + beta * beta;
        s22 = h * s22 + beta * beta;
        s12 = e + beta * beta;
        th = th * sd + s12;
    }
    (s12, sd, th)
}

#[test]
fn relu_and_leaky_relu_match_the_arccos_formula() {
    let (n, d, depth, beta) = (140, 6, 5, 0.2);
    let x = points(n, d, 2, 1.3);
    for a in [0.0, 0.1, -0.3] {
        let act = if a == 0.0 {
            Activation::Relu
        } else {
            Activation::LeakyRelu(a)
        };
        let k = kernels(&LimitSpec::new(depth, act, beta), &x, n, None, n, d);
        let mut worst: f64 = 0.0;
        for i in 0..n {
            for j in 0..i {
                let (e, sd, th) =
                    relu_reference(a, depth, beta, &x[i * d..i * d + d], &x[j * d..j * d + d]);
                worst = worst
                    .max(rel(k.nngp[i * n + j], e))
                    .max(rel(k.dot[i * n + j], sd))
                    .max(rel(k.ntk[i * n + j], th));
            }
            // Diagonal: Σ^(l+1)(x,x) = (1+a²)/2 Σ^(l) + β², Σ̇ = (1+a²)/2.
            let (e, sd, th) =
                relu_reference(a, depth, beta, &x[i * d..i * d + d], &x[i * d..i * d + d]);
            let _ = (e, th);
            assert!(rel(k.dot[i * n + i], sd) < 1e-15);
        }
        assert!(worst < 1e-12, "slope {a}: worst relative error {worst}");
    }
}

#[test]
fn relu_exact_at_correlation_one_and_zero_inputs() {
    // β = 0: Σ^(L)(x, x) = |x|²/n0 / 2^{L−1} exactly; x = 0 gives 0 (not NaN); antipodal points
    // (θ = π) give Σ = 0 and Σ̇ = 0 at the first nonlinearity.
    let d = 4;
    let x = vec![
        1.0, -2.0, 0.5, 3.0, 0.0, 0.0, 0.0, 0.0, -1.0, 2.0, -0.5, -3.0,
    ];
    let k = kernels(&LimitSpec::new(2, Activation::Relu, 0.0), &x, 3, None, 3, d);
    let s = (1.0 + 4.0 + 0.25 + 9.0) / 4.0;
    assert_eq!(k.nngp[0], s / 2.0);
    assert_eq!(k.dot[0], 0.5);
    assert_eq!(k.ntk[0], s * 0.5 + s / 2.0);
    for v in [&k.nngp, &k.dot, &k.ntk] {
        assert!(v.iter().all(|x| x.is_finite()));
        assert_eq!(v[1 * 3 + 1], 0.0);
        assert_eq!(v[1 * 3 + 0], 0.0);
    }
    assert!(k.nngp[2 * 3 + 0].abs() < 1e-15);
    assert!(k.dot[2 * 3 + 0].abs() < 1e-15);
    // Deeper, via the explicit-copy path as well (θ from atan2 exact at ρ = 1).
    let k5 = kernels(
        &LimitSpec::new(5, Activation::Relu, 0.0),
        &x,
        3,
        Some(&x.clone()),
        3,
        d,
    );
    assert!(
        rel(k5.nngp[0], s / 16.0) < 1e-15,
        "{} vs {}",
        k5.nngp[0],
        s / 16.0
    );
    assert!(k5
        .nngp
        .iter()
        .chain(&k5.ntk)
        .chain(&k5.dot)
        .all(|v| v.is_finite()));
}

#[test]
fn erf_numerical_method_matches_closed_form_over_scales() {
    // Points of norms from 0.01 to 30 (variances up to ~180 in 5 dims), depth 3.
    let d = 5;
    let mut x = Vec::new();
    for (k, scale) in [0.01, 0.3, 1.0, 3.0, 10.0, 30.0].iter().enumerate() {
        let p = points(1, d, 10 + k as u64, 1.0);
        let nrm = p.iter().map(|v| v * v).sum::<f64>().sqrt();
        x.extend(p.iter().map(|v| v * scale / nrm));
    }
    // A near-duplicate and an antipodal point of the largest.
    let last: Vec<f64> = x[5 * d..6 * d].to_vec();
    x.extend(
        last.iter()
            .enumerate()
            .map(|(a, v)| v + 1e-4 * (a as f64 - 2.0)),
    );
    x.extend(last.iter().map(|v| -v));
    let n = x.len() / d;
    let closed = kernels(&LimitSpec::new(3, Activation::Erf, 0.1), &x, n, None, n, d);
    let mut spec = LimitSpec::new(3, Activation::Erf, 0.1);
    spec.method = LimitMethod::Quadrature;
    let num = kernels(&spec, &x, n, None, n, d);
    let mut worst: f64 = 0.0;
    for i in 0..n * n {
        worst = worst
            .max(rel(num.nngp[i], closed.nngp[i]))
            .max(rel(num.dot[i], closed.dot[i]))
            .max(rel(num.ntk[i], closed.ntk[i]));
    }
    eprintln!("erf numerical vs closed form kernels: worst relative error {worst:e}");
    assert!(worst < 1e-10, "worst relative error {worst}");
}

#[test]
fn symmetric_mode_mirrors_and_agrees_with_an_explicit_copy() {
    let (n, d) = (300, 9);
    let x = points(n, d, 3, 1.0);
    for act in [
        Activation::Relu,
        Activation::Erf,
        Activation::Sin,
        Activation::Cos,
        Activation::Tanh,
    ] {
        let spec = LimitSpec::new(3, act.clone(), 0.1);
        let (nn, xs) = if matches!(act, Activation::Tanh) {
            (40, &x[..40 * d])
        } else {
            (n, &x[..])
        };
        let sym = kernels(&spec, xs, nn, None, nn, d);
        let same_view = kernels(&spec, xs, nn, Some(xs), nn, d);
        let copy: Vec<f64> = xs.to_vec();
        let explicit = kernels(&spec, xs, nn, Some(&copy), nn, d);
        for i in 0..nn {
            for j in 0..nn {
                for (a, b, c) in [
                    (&sym.nngp, &same_view.nngp, &explicit.nngp),
                    (&sym.dot, &same_view.dot, &explicit.dot),
                    (&sym.ntk, &same_view.ntk, &explicit.ntk),
                ] {
                    assert_eq!(
                        a[i * nn + j].to_bits(),
                        a[j * nn + i].to_bits(),
                        "{act:?} not symmetric"
                    );
                    assert_eq!(
                        a[i * nn + j].to_bits(),
                        b[i * nn + j].to_bits(),
                        "{act:?}: same view not detected"
                    );
                    assert!(
                        rel(c[i * nn + j], a[i * nn + j]) < 1e-10,
                        "{act:?} ({i},{j}): {} vs {}",
                        c[i * nn + j],
                        a[i * nn + j]
                    );
                }
            }
        }
    }
}

#[test]
fn rectangular_blocks_match_the_square_kernel() {
    let (n, d) = (260, 5);
    let x = points(n, d, 4, 1.0);
    let spec = LimitSpec::new(4, Activation::Relu, 0.1);
    let full = kernels(&spec, &x, n, None, n, d);
    let (r0, r1, c0, c1) = (17, 200, 130, 259);
    let rect = kernels(
        &spec,
        &x[r0 * d..r1 * d],
        r1 - r0,
        Some(&x[c0 * d..c1 * d]),
        c1 - c0,
        d,
    );
    for i in r0..r1 {
        for j in c0..c1 {
            let v = rect.ntk[(i - r0) * (c1 - c0) + (j - c0)];
            assert!(rel(v, full.ntk[i * n + j]) < 1e-12);
        }
    }
}

#[test]
fn monte_carlo_of_wide_networks_matches_the_nngp() {
    // Σ^(L)(x, x') is the covariance of each output unit of an infinitely wide network. Estimate
    // it as the mean of f_k(x) f_k(x') over 1000 output units and 6 seeds (widths 3000), with the
    // standard error from the spread between seeds.
    let x = [0.8, -0.4, 1.1, -0.3, 0.9, 0.2];
    let (d, depth, beta) = (3, 3, 0.4);
    for act in [Activation::Relu, Activation::Tanh] {
        let spec = LimitSpec::new(depth, act.clone(), beta);
        let k = kernels(&spec, &x, 2, None, 2, d);
        let mut ests = Vec::new();
        for seed in 0..6 {
            let net = Network::new(NetworkConfig {
                widths: vec![d, 3000, 3000, 1000],
                activation: act.clone(),
                beta,
                seed,
            })
            .unwrap();
            let mut out = vec![0.0; 2 * 1000];
            net.forward(
                MatRef::from_row_major(&x, 2, d),
                MatMut::from_row_major(&mut out, 2, 1000),
            )
            .unwrap();
            let m = |a: usize, b: usize| {
                (0..1000)
                    .map(|u| out[a * 1000 + u] * out[b * 1000 + u])
                    .sum::<f64>()
                    / 1000.0
            };
            ests.push([m(0, 0), m(0, 1), m(1, 1)]);
        }
        for (c, (a, b)) in [(0, 0), (0, 1), (1, 1)].iter().enumerate() {
            let vals: Vec<f64> = ests.iter().map(|e| e[c]).collect();
            let mean = vals.iter().sum::<f64>() / 6.0;
            let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 5.0;
            let se = (var / 6.0).sqrt();
            let want = k.nngp[a * 2 + b];
            eprintln!("{act:?} Σ({a},{b}): MC {mean:.5} ± {se:.5}, limit {want:.5}");
            assert!(
                (mean - want).abs() < 4.0 * se + 0.01 * want.abs(),
                "{act:?} ({a},{b}): MC {mean} ± {se} vs {want}"
            );
        }
    }
}
