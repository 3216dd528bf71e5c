//! tanh and softplus (no closed form: the numerical path) at near-duplicate pairs in n_0 = 5
//! against a 40-digit mpmath reference (issue 17, part 1), through the uniform spec, as the
//! symmetric (X2 = X1) and the two-set kernel.
//!
//! `tests/data/limit_neardup_smooth_mpmath.txt` is the output of
//! `python3 tools/limit_reference_neardup_smooth.py 2`: pairs y = x + 10^-k‖x‖u (k = 4, 8, 12,
//! 15; u mostly angular or mostly radial), β = 0 and 0.3, depths 2–6, each layer's E and E′ by
//! the conditional form of tools/limit_reference_rho.py.
//!
//! `tests/data/limit_nearanti_smooth_mpmath.txt` (`... --antipodal`): the same x with
//! y′ = −(x + 10^-k‖x‖u), references by Mehler's series checked by reflection (see that test).
//!
//! The numerical path has no near-duplicate fix-up of its own (src/kernel/limit/numerical.rs);
//! measured 2026-12-03: worst 7.7e-15 (tanh) and 6.4e-15 (softplus) over every k.

mod common;

use ntk::activation::Activation;
use ntk::kernel::limit::LimitSpec;
use std::collections::BTreeMap;

const MPMATH: &str = include_str!("data/limit_neardup_smooth_mpmath.txt");
const ANTI: &str = include_str!("data/limit_nearanti_smooth_mpmath.txt");

/// The bound every entry meets (relative, floored at 1e-16·max(s, 1) as in
/// tests/limit_neardup_closed.rs): issue 17's 1e-13.
const BOUND: f64 = 1e-13;

/// Checks every reference line of `data` that `select` keeps (all depths of a case), as the
/// symmetric and the two-set kernel; returns the number of lines checked and panics listing
/// every entry over [`BOUND`].
fn check(data: &str, select: impl Fn(&str) -> bool) -> usize {
    let mut worst = BTreeMap::<String, f64>::new();
    let mut fails = Vec::new();
    let mut n = 0;
    for line in data
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter(|l| select(l))
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        let num = |s: &str| -> f64 { s.parse().unwrap() };
        let act = match f[0] {
            "tanh" => Activation::Tanh,
            "softplus" => Activation::Softplus,
            other => panic!("activation {other}"),
        };
        let depth: usize = f[2].parse().unwrap();
        let beta = num(f[3]);
        let pts: Vec<f64> = f[4..14].iter().map(|s| num(s)).collect();
        let spec = LimitSpec::new(depth, act, beta);
        let s = pts[..5].iter().map(|v| v * v).sum::<f64>() / 5.0 + beta * beta;
        let k = f[1].rsplit_once("_k").unwrap().1;
        for two_sets in [false, true] {
            let got = common::limit_kernels(&spec, &pts, 2, two_sets);
            for q in 0..3 {
                let want = num(f[14 + q]);
                let v = got[q][1];
                assert_eq!(v.to_bits(), got[q][2].to_bits(), "symmetry {line}");
                let err = (v - want).abs() / want.abs().max(1e-16 * s.max(1.0));
                let w = worst
                    .entry(format!("{} k{k:0>2} beta {}", f[0], f[3]))
                    .or_insert(0.0);
                *w = w.max(err);
                if !(err <= BOUND) {
                    fails.push(format!("{line}: output {q} got {v:e} (rel {err:e})"));
                }
            }
        }
        n += 1;
    }
    for (key, w) in &worst {
        eprintln!("{key}: worst {w:e}");
    }
    assert!(
        fails.is_empty(),
        "{} entries off by more than {BOUND:e}, e.g.\n{}",
        fails.len(),
        fails[..fails.len().min(40)].join("\n")
    );
    n
}

#[test]
fn tanh_softplus_near_pairs_5d_against_mpmath() {
    let n = check(MPMATH, |_| true);
    assert_eq!(n, 2 * 4 * 2 * 2 * 5, "reference lines");
}

/// Near-antipodal pairs y′ = −(x + 10^-k‖x‖u) (k = 4, 8, 12, 15), from
/// `python3 tools/limit_reference_neardup_smooth.py --antipodal`: every layer by Mehler's
/// series with 40-digit coefficients (bound < 1e-26), checked on the layers with ρ ≈ −1 against
/// the reflection onto the near-duplicate pair (tanh odd; softplus(−x) = softplus(x) − x plus
/// E[softplus(u)v] = c/2).
#[test]
fn tanh_softplus_near_antipodal_5d_against_mpmath() {
    let n = check(ANTI, |_| true);
    assert_eq!(n, 2 * 4 * 2 * 2 * 5, "reference lines");
}
