//! Closed-form limit kernels (identity, (leaky) ReLU, erf, GELU, sin, cos) at near-duplicate and
//! near-antipodal pairs in n_0 = 5 against an 80-digit mpmath recursion (issue 17, part 1),
//! through the uniform spec (the fused tile chain) and through per-layer architectures (the
//! general per-layer row), both as the symmetric (X2 = X1) and the two-set kernel.
//!
//! `tests/data/limit_neardup_closed_mpmath.txt` is the output of
//! `python3 tools/limit_reference_neardup_closed.py`: pairs y = ±x + 10^-k‖x‖u (k = 1…15 for
//! +x, 2, 5, 8, 11, 14 for −x) with u mostly angular or mostly radial, β = 0 and 0.3 (uniform)
//! or bias multiplier 0 and 1 (architectures, [`ARCHS`]), depths 2–6.

mod common;

use ntk::activation::Activation;
use ntk::kernel::limit::LimitSpec;
use ntk::network::{Architecture, LayerSpec, Parameterization};
use std::collections::BTreeMap;

const MPMATH: &str = include_str!("data/limit_neardup_closed_mpmath.txt");

/// The architectures of tools/limit_reference_neardup_closed.py (same table): name →
/// (standard parameterization, widths n_0…n_6, per layer (activation, σ_w, σ_b at multiplier 1)).
type ArchRow = (
    &'static str,
    bool,
    [usize; 7],
    [(&'static str, f64, f64); 6],
);
const ARCHS: [ArchRow; 4] = [
    (
        "relu_ntk",
        false,
        [5, 7, 6, 8, 5, 9, 3],
        [
            ("relu", 1.3, 0.3),
            ("relu", 0.8, 0.0),
            ("relu", 1.1, 0.5),
            ("relu", 1.5, 0.2),
            ("relu", 0.9, 0.1),
            ("relu", 1.2, 0.4),
        ],
    ),
    (
        "leaky_std",
        true,
        [5, 7, 6, 8, 5, 9, 3],
        [
            ("leaky0.2", 1.4, 0.3),
            ("relu", 0.7, 0.2),
            ("leaky-0.5", 1.2, 0.0),
            ("leaky0.2", 1.0, 0.4),
            ("relu", 1.3, 0.1),
            ("relu", 1.1, 0.2),
        ],
    ),
    (
        "mixed_ntk",
        false,
        [5, 7, 6, 8, 5, 9, 3],
        [
            ("erf", 1.2, 0.3),
            ("relu", 1.4, 0.1),
            ("gelu", 0.9, 0.2),
            ("leaky0.2", 1.3, 0.0),
            ("sin", 1.1, 0.3),
            ("relu", 1.0, 0.2),
        ],
    ),
    (
        "mixed_std",
        true,
        [5, 7, 6, 8, 5, 9, 3],
        [
            ("relu", 1.3, 0.2),
            ("identity", 0.8, 0.1),
            ("relu", 1.2, 0.3),
            ("cos", 0.9, 0.2),
            ("erf", 1.1, 0.0),
            ("relu", 1.0, 0.1),
        ],
    ),
];

fn activation(name: &str) -> Activation {
    match name {
        "identity" => Activation::Identity,
        "relu" => Activation::Relu,
        "erf" => Activation::Erf,
        "gelu" => Activation::Gelu,
        "sin" => Activation::Sin,
        "cos" => Activation::Cos,
        s => Activation::LeakyRelu(s.strip_prefix("leaky").unwrap().parse().unwrap()),
    }
}

/// The spec of architecture `name` at depth L with biases σ_b = mult·σ_b0.
fn arch_spec(name: &str, depth: usize, mult: f64) -> LimitSpec {
    let (_, std, widths, layers) = ARCHS.iter().find(|a| a.0 == name).unwrap();
    let arch = Architecture {
        widths: widths[..=depth].to_vec(),
        layers: (0..depth)
            .map(|l| LayerSpec {
                sigma_w: layers[l].1,
                sigma_b: mult * layers[l].2,
                activation: (l + 1 < depth).then(|| activation(layers[l].0)),
            })
            .collect(),
        parameterization: if *std {
            Parameterization::Standard
        } else {
            Parameterization::Ntk
        },
        seed: 1,
    };
    let spec = LimitSpec::of_architecture(&arch);
    assert!(spec.arch.is_some(), "{name}: must take the per-layer path");
    spec
}

/// Every entry within `tol` relative (floored at 1e-16·max(s, 1), s the layer-1 variance
/// scale of x: at x′ ≈ −x ReLU's Σ and Σ̇ tend to 0, below what f64 inputs of size √s
/// determine), as the off-diagonal entry of a symmetric 2×2 kernel and of a two-set kernel.
/// Returns the number of lines, the worst error per (path, name, case family, k) and the
/// failures.
fn check(tol: f64) -> (usize, BTreeMap<String, f64>, Vec<String>) {
    let mut n = 0;
    let mut worst = BTreeMap::<String, f64>::new();
    let mut fails = Vec::new();
    let mut specs = BTreeMap::<(String, usize, u64), LimitSpec>::new();
    for line in MPMATH
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        let num = |s: &str| -> f64 { s.parse().unwrap() };
        let (path, name, case) = (f[0], f[1], f[2]);
        let depth: usize = f[3].parse().unwrap();
        let beta = num(f[4]);
        let pts: Vec<f64> = f[5..15].iter().map(|s| num(s)).collect();
        let spec = specs
            .entry((format!("{path} {name}"), depth, beta.to_bits()))
            .or_insert_with(|| {
                if path == "u" {
                    LimitSpec::new(depth, activation(name), beta)
                } else {
                    arch_spec(name, depth, beta)
                }
            });
        let s = pts[..5].iter().map(|v| v * v).sum::<f64>() / 5.0 + beta * beta;
        for two_sets in [false, true] {
            let got = common::limit_kernels(spec, &pts, 2, two_sets);
            for q in 0..3 {
                let want = num(f[15 + q]);
                let v = got[q][1]; // entry (0, 1)
                assert_eq!(v.to_bits(), got[q][2].to_bits(), "symmetry {line}");
                let err = (v - want).abs() / want.abs().max(1e-16 * s.max(1.0));
                let (fam, k) = case.rsplit_once("_k").unwrap();
                let key = format!("{path} {name} {fam} k{k:0>2}");
                let w = worst.entry(key).or_insert(0.0);
                *w = w.max(err);
                if !(err <= tol) {
                    fails.push(format!("{line}: output {q} got {v:e} (rel {err:e})"));
                }
            }
        }
        n += 1;
    }
    (n, worst, fails)
}

/// Every line (uniform identity, ReLU/leaky, erf, GELU, sin, cos; architectures mixing them,
/// including a smooth layer feeding a ReLU: mixed_ntk) at 1e-13.
#[test]
fn closed_forms_near_pairs_5d_against_mpmath() {
    let (n, worst, fails) = check(1e-13);
    assert_eq!(n, 7200, "reference lines");
    report(&worst, &fails, 1e-13);
}

fn report(worst: &BTreeMap<String, f64>, fails: &[String], tol: f64) {
    let mut by_group = BTreeMap::<String, f64>::new();
    for (k, w) in worst {
        let g = k.rsplit_once(' ').unwrap().0.to_string();
        let e = by_group.entry(g).or_insert(0.0);
        *e = e.max(*w);
        eprintln!("{k}: worst {w:e}");
    }
    for (g, w) in &by_group {
        eprintln!("GROUP {g}: worst {w:e}");
    }
    assert!(
        fails.is_empty(),
        "{} entries off by more than {tol:e}, e.g.\n{}",
        fails.len(),
        fails[..fails.len().min(400)].join("\n")
    );
}

/// Exact copies take the diagonal chain on both paths: a copy's Σ, Σ̇, Θ equal the diagonal
/// entry bit for bit (independent value: the per-point chain), for every closed form on the
/// uniform spec and for every architecture of [`ARCHS`], symmetric and two-set.
#[test]
fn exact_copies_keep_the_diagonal_bits_every_closed_form() {
    let mut specs = Vec::new();
    for name in ["identity", "relu", "leaky0.2", "erf", "gelu", "sin", "cos"] {
        for beta in [0.0, 0.3] {
            for depth in [2, 4, 6] {
                specs.push((
                    format!("{name} {beta} {depth}"),
                    LimitSpec::new(depth, activation(name), beta),
                ));
            }
        }
    }
    for a in &ARCHS {
        for mult in [0.0, 1.0] {
            for depth in [2, 4, 6] {
                specs.push((
                    format!("{} {mult} {depth}", a.0),
                    arch_spec(a.0, depth, mult),
                ));
            }
        }
    }
    for (what, spec) in &specs {
        for two_sets in [false, true] {
            common::exact_copy_kernels(spec, two_sets, what);
        }
    }
}
