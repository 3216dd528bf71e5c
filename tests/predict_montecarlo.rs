//! Theorem 5.2 seen as a distribution: 300 independently initialized ReLU networks of width 2048
//! (n_0 = 2 → 2048 → 1, β = 0.1, NTK parameterization, θ ~ N(0, 1)) trained by full-batch
//! gradient descent ([`ntk::train::train`], the Rust side of `ntk_network_train`) on 4 points
//! of the unit circle, learning rate η = 0.1, for t = 2 (20 steps) and t = 20 (200 steps), and
//! their outputs at 5 test points compared with the predictive law of [`ntk::predict`]
//! (NTK law from the limit kernels, through `ensemble_law_points`).
//!
//! Statistical test, at each of the two times, with R = 300 samples f^(r) ∈ R^5:
//! - means: for each test point, |m̂_i − μ_i| ≤ 4·√(Σ_ii/R);
//! - covariances: for each entry i ≤ j of the sample covariance Ŝ (divisor R − 1),
//!   |Ŝ_ij − Σ_ij| ≤ 4·√((Σ_ii Σ_jj + Σ_ij²)/(R − 1)) (the Gaussian/Wishart variance of Ŝ_ij).
//!
//! 40 two-sided 4σ tests: under the law all pass with probability ≈ 0.997 (the seeds are fixed, so
//! the outcome is reproducible). Systematic effects, all well inside these bands: gradient
//! descent instead of the flow (relative O(η·λ_max/N) ≈ 1 % of the residual here), finite width
//! (O(1/√n) ≈ 2 % on Θ). Power: the same samples must fail the test against the prior (t = 0)
//! and against the NNGP law at t = 20.

use ntk::activation::Activation;
use ntk::flow::Cost;
use ntk::kernel::limit::LimitSpec;
use ntk::linalg::{MatMut, MatRef};
use ntk::network::{Network, NetworkConfig};
use ntk::parallel::Progress;
use ntk::predict::{ensemble_law_points, CovKind, Gaussian, Law, Ridge};

const R: usize = 300;
const WIDTH: usize = 2048;
const ETA: f64 = 0.1;
const STEPS: [usize; 2] = [20, 180]; // cumulative: t = 2 and t = 20

fn circle(angles: &[f64]) -> Vec<f64> {
    angles.iter().flat_map(|g| [g.cos(), g.sin()]).collect()
}

/// Number of failed tests of `samples` (R × 5 row-major) against `law`.
fn failures(samples: &[f64], law: &Gaussian, what: &str, verbose: bool) -> usize {
    let m = 5;
    let rf = R as f64;
    let mean: Vec<f64> = (0..m)
        .map(|i| (0..R).map(|r| samples[r * m + i]).sum::<f64>() / rf)
        .collect();
    let mut bad = 0;
    for i in 0..m {
        let sd = (law.cov[i * m + i] / rf).sqrt();
        let z = (mean[i] - law.mean[i]) / sd;
        if verbose {
            eprintln!(
                "{what}: mean[{i}] {:.5} law {:.5} (z = {z:.2})",
                mean[i], law.mean[i]
            );
        }
        if z.abs() > 4.0 {
            bad += 1;
        }
    }
    for i in 0..m {
        for j in i..m {
            let s: f64 = (0..R)
                .map(|r| (samples[r * m + i] - mean[i]) * (samples[r * m + j] - mean[j]))
                .sum::<f64>()
                / (rf - 1.0);
            let c = law.cov[i * m + j];
            let sd = ((law.cov[i * m + i] * law.cov[j * m + j] + c * c) / (rf - 1.0)).sqrt();
            let z = (s - c) / sd;
            if verbose {
                eprintln!("{what}: cov[{i},{j}] {s:.5} law {c:.5} (z = {z:.2})");
            }
            if z.abs() > 4.0 {
                bad += 1;
            }
        }
    }
    bad
}

#[test]
fn trained_networks_follow_the_predictive_law() {
    let xtr = circle(&[0.3, 1.4, 2.9, 4.4]);
    let ytr = [0.8, -0.5, 0.3, -0.9];
    let xte = circle(&[0.9, 2.1, 3.6, 5.0, 5.9]);
    let (n, m) = (4, 5);
    let config = |seed: u64| NetworkConfig {
        widths: vec![2, WIDTH, 1],
        activation: Activation::Relu,
        beta: 0.1,
        seed,
    };
    let mut samples = [vec![0.0; R * m], vec![0.0; R * m]];
    for r in 0..R {
        let mut net = Network::new(config(1000 + r as u64)).unwrap();
        for (s, &steps) in STEPS.iter().enumerate() {
            ntk::train::train(
                &mut net,
                MatRef::from_row_major(&xtr, n, 2),
                MatRef::from_row_major(&ytr, n, 1),
                Cost::Mse,
                ETA,
                steps,
                None,
                &mut Progress::none(),
            )
            .unwrap();
            net.forward(
                MatRef::from_row_major(&xte, m, 2),
                MatMut::from_row_major(&mut samples[s][r * m..(r + 1) * m], m, 1),
            )
            .unwrap();
        }
    }
    let spec = LimitSpec::of_network(&Network::new(config(0)).unwrap());
    let law = |law: Law, times: &[f64]| {
        ensemble_law_points(
            &spec,
            law,
            MatRef::from_row_major(&xtr, n, 2),
            MatRef::from_row_major(&ytr, n, 1),
            MatRef::from_row_major(&xte, m, 2),
            times,
            CovKind::Full,
            Ridge::Absolute(0.0),
            &mut Progress::none(),
        )
        .unwrap()
    };
    let ntk = law(Law::Ntk, &[ETA * 20.0, ETA * 200.0, 0.0]);
    let f1 = failures(&samples[0], &ntk[0], "t = 2", true);
    let f2 = failures(&samples[1], &ntk[1], "t = 20", true);
    assert_eq!(f1 + f2, 0, "{f1} + {f2} of 40 tests failed");
    // Power: the prior and the NNGP law are rejected by the same test.
    let prior = failures(&samples[1], &ntk[2], "prior", false);
    let nngp = law(Law::Nngp, &[ETA * 200.0]);
    let wrong = failures(&samples[1], &nngp[0], "NNGP law", false);
    eprintln!("against the prior: {prior} of 20 tests fail; against the NNGP law: {wrong} of 20");
    assert!(prior >= 3 && wrong >= 1, "prior {prior}, NNGP {wrong}");
}
