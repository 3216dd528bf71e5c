//! The closed-form limit kernels (ReLU, leaky ReLU 0.2, erf) at near-duplicate and
//! near-antipodal pairs against a 60-digit mpmath recursion (issue 17, part 1).
//!
//! `tests/data/limit_closed_mpmath.txt` is the output of `python3 tools/limit_reference_closed.py`
//! (pairs y = ±x + 10^-k‖x‖u at variances 1.125 and 450, β = 0 and 1, depths 2–6). The aim of
//! issue 17 is 1e-13 relative everywhere; this test records where the library stands (see
//! [`bound`]): erf meets it; ReLU and leaky ReLU lose digits for 1 − |ρ| between ~1e-4 and ~1e-26,
//! where det = s_i s_j − s12² cancels and the snap at 1 − ρ² < 16ε drops the angle.

use ntk::activation::Activation;
use ntk::kernel::limit::{limit_kernel, LimitOutputs, LimitSpec};
use ntk::linalg::{MatMut, MatRef};
use ntk::parallel::Progress;

const MPMATH: &str = include_str!("data/limit_closed_mpmath.txt");

/// The bound on the error of a class of pairs (activation, x′ ≈ ±x, k), from the state measured
/// on 2026-12-02 (the worst per class is printed): erf everywhere and ReLU / leaky ReLU at
/// k ≤ 2 and k ≥ 14 meet the 1e-13 aim; ReLU / leaky ReLU at 3 ≤ k ≤ 13 were measured up to
/// 1.7e-8 (k = 7, inside the det cancellation / snap band the issue describes); their
/// near-antipodes as commented. Tighten these as issue 17 part 1 progresses.
fn bound(act: &str, anti: bool, k: u32) -> f64 {
    if act == "erf" || (!anti && (k <= 2 || k >= 14)) {
        1e-13
    } else if !anti {
        5e-8
    } else if act == "leaky0.2" {
        3e-10 // measured 7.3e-11
    } else if k <= 2 {
        3e-9 // ReLU, measured 1.0e-9
    } else {
        // ReLU at 1 + ρ ≤ 1e-12: measured 0.63 (k = 6) to 1.01 relative: Σ̇ ≈ √(1 − ρ²)/(2π)
        // and Σ → 0 there, and the snap to ρ = −1 returns exact zeros. Not yet fixed.
        2.0
    }
}

fn kernels(act: Activation, depth: usize, beta: f64, x: &[f64; 2], y: &[f64; 2]) -> [f64; 3] {
    let spec = LimitSpec::new(depth, act, beta);
    let (mut s, mut d, mut t) = ([0.0], [0.0], [0.0]);
    limit_kernel(
        &spec,
        MatRef::from_row_major(x, 1, 2),
        Some(MatRef::from_row_major(y, 1, 2)),
        LimitOutputs {
            nngp: Some(MatMut::from_row_major(&mut s, 1, 1)),
            sigma_dot: Some(MatMut::from_row_major(&mut d, 1, 1)),
            ntk: Some(MatMut::from_row_major(&mut t, 1, 1)),
        },
        &mut Progress::none(),
    )
    .unwrap();
    [s[0], d[0], t[0]]
}

/// k of a case name "…_k<k>".
fn k_of(name: &str) -> u32 {
    name.rsplit("_k").next().unwrap().parse().unwrap()
}

#[test]
fn closed_forms_at_near_duplicates_against_mpmath() {
    let mut n = 0;
    // worst[activation][k] over all depths, β and the three outputs, duplicates / antipodes.
    let mut worst = std::collections::BTreeMap::<(String, bool, u32), f64>::new();
    for line in MPMATH.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let num = |s: &str| -> f64 { s.parse().unwrap() };
        let act = match f[0] {
            "relu" => Activation::Relu,
            "leaky0.2" => Activation::LeakyRelu(0.2),
            "erf" => Activation::Erf,
            other => panic!("unknown activation {other}"),
        };
        let depth: usize = f[2].parse().unwrap();
        let (x, y) = ([num(f[4]), num(f[5])], [num(f[6]), num(f[7])]);
        let got = kernels(act, depth, num(f[3]), &x, &y);
        let key = (f[0].to_string(), f[1].contains("anti"), k_of(f[1]));
        for q in 0..3 {
            let want = num(f[8 + q]);
            // Relative to the entry, floored at 1e-16·max(s, 1) (s = the variance of x): at
            // x′ ≈ −x ReLU's Σ and Σ̇ tend to 0, below what f64 inputs of size √s determine.
            let s = 0.5 * (x[0] * x[0] + x[1] * x[1]) + num(f[3]) * num(f[3]);
            let err = (got[q] - want).abs() / want.abs().max(1e-16 * s.max(1.0));
            let w = worst.entry(key.clone()).or_insert(0.0);
            *w = w.max(err);
            assert!(
                err <= bound(f[0], key.1, key.2),
                "{line}: got {:?} (rel {err:e})",
                got
            );
        }
        n += 1;
    }
    assert_eq!(n, 1140, "reference lines");
    for ((act, anti, k), w) in &worst {
        eprintln!(
            "{act} {} k={k}: worst {w:e}",
            if *anti { "x'≈-x" } else { "x'≈x" }
        );
    }
}
