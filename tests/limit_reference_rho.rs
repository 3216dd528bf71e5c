//! Limit kernels of the numerically integrated activations on highly correlated pairs
//! (ρ ∈ [0.6, 1) and ρ near −1) against 40-digit mpmath references (issue #17 part 2).
//!
//! The data come from `python3 tools/limit_reference_rho.py 2 > tests/data/limit_rho_mpmath.txt`
//! (see the script's docstring: Mehler's series with 40-digit Hermite coefficients where its
//! Cauchy–Schwarz/Parseval truncation bound is below 1e-25 of the scale, a Taylor expansion of
//! the conditional form in the smoothing width for near-duplicates, the two cross-checked to 1e-24
//! where both apply). Each case is a pair of 8-D points x = c₁v, y = c₂Pv (P a signed
//! permutation, c ∈ {1, 2, 4}: variances ≈ 0.25, 1, 4) with β = 0 and depth L = 2, so
//! Σ^(2) = E[σ(u)σ(v)] and Σ̇^(2) = E[σ′(u)σ′(v)], the covariances x·y/8 exact from the f64
//! inputs. Activations: tanh, sigmoid, softplus and a custom σ = tanh(2x − 1) (a user function).
//! Required: relative error ≤ 1e-12 on every entry.

mod common;

use ntk::activation::Activation;
use ntk::kernel::limit::{limit_kernel, LimitOutputs, LimitSpec};
use ntk::linalg::{MatMut, MatRef};
use ntk::parallel::Progress;

const DATA: &str = include_str!("data/limit_rho_mpmath.txt");
const DIM: usize = 8;

fn activation(name: &str) -> Activation {
    common::reference_activation(name)
}

struct Case {
    act: String,
    name: String,
    x: Vec<f64>,
    y: Vec<f64>,
    e: f64,
    ed: f64,
}

fn cases() -> Vec<Case> {
    DATA.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 4 + 2 * DIM, "line {l}");
            let num = |s: &str| s.parse::<f64>().unwrap();
            Case {
                act: f[0].to_string(),
                name: f[1].to_string(),
                x: f[2..2 + DIM].iter().map(|s| num(s)).collect(),
                y: f[2 + DIM..2 + 2 * DIM].iter().map(|s| num(s)).collect(),
                e: num(f[2 + 2 * DIM]),
                ed: num(f[3 + 2 * DIM]),
            }
        })
        .collect()
}

#[test]
fn correlated_pairs_match_mpmath() {
    let cases = cases();
    assert!(cases.len() >= 100, "{} cases", cases.len());
    let mut worst: f64 = 0.0;
    let mut worst_at = String::new();
    let mut rho_min: f64 = 1.0;
    let mut rho_max: f64 = -1.0;
    for c in &cases {
        let dot: f64 = c.x.iter().zip(&c.y).map(|(a, b)| a * b).sum();
        let nx: f64 = c.x.iter().map(|a| a * a).sum();
        let ny: f64 = c.y.iter().map(|a| a * a).sum();
        let rho = dot / (nx * ny).sqrt();
        rho_min = rho_min.min(rho.abs());
        rho_max = rho_max.max(rho.abs());
        let spec = LimitSpec::new(2, activation(&c.act), 0.0);
        let (mut e, mut ed) = ([0.0], [0.0]);
        limit_kernel(
            &spec,
            MatRef::from_row_major(&c.x, 1, DIM),
            Some(MatRef::from_row_major(&c.y, 1, DIM)),
            LimitOutputs {
                nngp: Some(MatMut::from_row_major(&mut e, 1, 1)),
                sigma_dot: Some(MatMut::from_row_major(&mut ed, 1, 1)),
                ntk: None,
            },
            &mut Progress::none(),
        )
        .unwrap();
        for (what, got, want) in [("E", e[0], c.e), ("E'", ed[0], c.ed)] {
            let err = ((got - want) / want).abs();
            if err > worst {
                worst = err;
                worst_at = format!("{} {} {what}", c.act, c.name);
            }
            assert!(
                err <= 1e-12,
                "{} {} {what}: {got:e} vs reference {want:e} (relative error {err:e})",
                c.act,
                c.name
            );
        }
    }
    // The set covers the band the Mehler series of degree 64 cannot reach.
    assert!(
        rho_min >= 0.59 && rho_max > 1.0 - 1e-7,
        "|ρ| in [{rho_min}, {rho_max}]"
    );
    eprintln!(
        "{} pairs, |ρ| in [{rho_min:.4}, 1 - {:.1e}]: worst relative error {worst:e} ({worst_at})",
        cases.len(),
        1.0 - rho_max
    );
}
