//! (Leaky) ReLU limit kernels at near-duplicate and near-antipodal pairs in n_0 = 5 against an
//! 80-digit mpmath recursion (issue 17, part 1), through the symmetric (X2 = X1) and the
//! two-set paths, and exact copies keeping the diagonal bits.
//!
//! `tests/data/limit_neardup_mpmath.txt` is the output of
//! `python3 tools/limit_reference_neardup.py`: pairs y = ±x + 10^-k‖x‖u (k = 1…15) with u
//! mostly angular or mostly radial, slopes 0, 0.2 and −0.5, β = 0 and 0.3, depths 2–6; and
//! independent small points at β = 1, depths 2–8, whose correlation β² drives towards 1 in the
//! deep layers (not flagged at layer 1: the fused chain's accuracy there).

mod common;

use ntk::activation::Activation;
use ntk::kernel::limit::LimitSpec;

const MPMATH: &str = include_str!("data/limit_neardup_mpmath.txt");

fn act(slope: f64) -> Activation {
    if slope == 0.0 {
        Activation::Relu
    } else {
        Activation::LeakyRelu(slope)
    }
}

/// (Σ, Σ̇, Θ) of the n×n kernel of the rows of `x` ([`common::limit_kernels`]).
fn kernels(
    a: Activation,
    depth: usize,
    beta: f64,
    x: &[f64],
    n: usize,
    two_sets: bool,
) -> [Vec<f64>; 3] {
    common::limit_kernels(&LimitSpec::new(depth, a, beta), x, n, two_sets)
}

/// Every entry within 1e-13 relative (floored at 1e-16·max(s, 1), s the variance of x: at
/// x′ ≈ −x ReLU's Σ and Σ̇ tend to 0, below what f64 inputs of size √s determine), both as the
/// off-diagonal entry of a symmetric 2×2 kernel and of a two-set kernel.
#[test]
fn leaky_relu_near_pairs_5d_against_mpmath() {
    let mut n = 0;
    let mut worst = std::collections::BTreeMap::<String, f64>::new();
    for line in MPMATH.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let num = |s: &str| -> f64 { s.parse().unwrap() };
        let slope = num(f[0]);
        let depth: usize = f[2].parse().unwrap();
        let beta = num(f[3]);
        let pts: Vec<f64> = f[4..14].iter().map(|s| num(s)).collect();
        let s = pts[..5].iter().map(|v| v * v).sum::<f64>() / 5.0 + beta * beta;
        for two_sets in [false, true] {
            let got = kernels(act(slope), depth, beta, &pts, 2, two_sets);
            for q in 0..3 {
                let want = num(f[14 + q]);
                let v = got[q][1]; // entry (0, 1)
                assert_eq!(v.to_bits(), got[q][2].to_bits(), "symmetry {line}");
                let err = (v - want).abs() / want.abs().max(1e-16 * s.max(1.0));
                let key = format!("{} {}", f[0], f[1].rsplit_once("_k").unwrap().0);
                let w = worst.entry(key).or_insert(0.0);
                *w = w.max(err);
                assert!(err <= 1e-13, "{line}: output {q} got {v:e} (rel {err:e})");
            }
        }
        n += 1;
    }
    assert_eq!(n, 2484, "reference lines");
    for (k, w) in &worst {
        eprintln!("{k}: worst {w:e}");
    }
}

/// Exact copies take the diagonal chain: a copy's entries equal the diagonal entry bit for bit
/// (independent value: the per-point chain; [`common::exact_copy_kernels`]); an exact negation
/// at β = 0 gives Σ̇ = α exactly.
#[test]
fn exact_copies_keep_the_diagonal_bits() {
    for a in [Activation::Relu, Activation::LeakyRelu(0.2)] {
        for beta in [0.0, 0.3] {
            for depth in [2, 4, 6] {
                for two_sets in [false, true] {
                    let spec = LimitSpec::new(depth, a.clone(), beta);
                    let what = format!("{a:?} {beta} {depth}");
                    let k = common::exact_copy_kernels(&spec, two_sets, &what);
                    if beta == 0.0 && depth == 2 {
                        // x′ = −x: ρ = −1 exactly, Σ̇ = α, and for ReLU Σ = 0.
                        let slope = if let Activation::LeakyRelu(s) = a {
                            s
                        } else {
                            0.0
                        };
                        assert_eq!(k[1][2], slope, "{a:?} antipode Σ̇");
                        if slope == 0.0 {
                            assert_eq!(k[0][2], 0.0, "ReLU antipode Σ");
                        }
                    }
                }
            }
        }
    }
}
