//! GELU limit kernels (closed form) against a 40-digit mpmath recursion and neural-tangents.
//!
//! `tests/data/limit_gelu_mpmath.txt` is the output of `python3 tools/limit_reference_gelu.py`:
//! pairs of 2-D points (β = 0 to depth 4, β = 0.3 to depth 6) whose expectations mpmath takes as
//! conditional 1-D integrals, independently of the 2-D closed form the library evaluates (see
//! the script's docstring). The pairs: copies, antipodes, ρ ≈ 0.88 and −0.13 and the zero input
//! at variances 1.125, 450 and 2·10⁶, near-duplicates x′ = x + 10^-k‖x‖u (k = 1…15 at s = 450,
//! k = 1, 4, 7, 10, 13 at s = 1.125) and near-antipodes x′ = −x + 10^-k‖x‖u.
//! `tests/data/limit_gelu_nt.txt` holds neural-tangents 0.6.5's NNGP and NTK of the same pairs
//! (`tools/limit_reference_gelu_nt.py`).

use ntk::activation::Activation;
use ntk::kernel::limit::{limit_kernel, LimitOutputs, LimitSpec};
use ntk::linalg::{MatMut, MatRef};
use ntk::parallel::Progress;

const MPMATH: &str = include_str!("data/limit_gelu_mpmath.txt");
const NT: &str = include_str!("data/limit_gelu_nt.txt");

struct Case {
    name: String,
    depth: usize,
    beta: f64,
    x: [f64; 2],
    y: [f64; 2],
    vals: Vec<f64>,
}

fn parse(text: &str) -> Vec<Case> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let num = |s: &str| -> f64 { s.parse().unwrap_or_else(|_| panic!("bad number {s}")) };
            Case {
                name: f[0].to_string(),
                depth: f[1].parse().unwrap(),
                beta: num(f[2]),
                x: [num(f[3]), num(f[4])],
                y: [num(f[5]), num(f[6])],
                vals: f[7..].iter().map(|s| num(s)).collect(),
            }
        })
        .collect()
}

/// (Σ^(L), Σ̇^(L), Θ^(L)) of the pair (x, y) as a 1 × 1 cross kernel.
fn kernels(depth: usize, beta: f64, x: &[f64; 2], y: &[f64; 2]) -> [f64; 3] {
    let spec = LimitSpec::new(depth, Activation::Gelu, beta);
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

fn rel(got: f64, want: f64) -> f64 {
    if want == 0.0 {
        got.abs()
    } else {
        ((got - want) / want).abs()
    }
}

/// Every entry within 1e-13 relative of mpmath (the issue-17 aim), at every depth and β, except
/// at (near-)antipodes x′ ≈ −x, which are held to 1e-8: there the f64 covariances s_ii, s_ij
/// (each rounded to ε·s) leave s_ii + s_ij = ‖x + x′‖²/(2n_0) + 2β² with an absolute error
/// ε·s, amplified by s/(s_ii + s_ij) in Σ̇ (measured 5e-9 at s = 2·10⁶, β = 0.3, where the
/// exact closed form of the rounded covariances is off by as much); carrying that sum through
/// the layers is the open part of issue 17. Σ itself is at ≤ 1e-14 there too.
#[test]
fn gelu_closed_form_matches_40_digit_mpmath() {
    let cases = parse(MPMATH);
    assert!(cases.len() >= 300, "{} reference lines", cases.len());
    let mut worst = [0.0f64; 3];
    let mut worst_anti = [0.0f64; 3];
    let mut fails = Vec::new();
    for c in &cases {
        assert_eq!(c.vals.len(), 3);
        let got = kernels(c.depth, c.beta, &c.x, &c.y);
        for q in 0..3 {
            let err = rel(got[q], c.vals[q]);
            let tol = if c.name.contains("anti") { 1e-8 } else { 1e-13 };
            if c.name.contains("anti") {
                worst_anti[q] = worst_anti[q].max(err);
            } else {
                worst[q] = worst[q].max(err);
            }
            if !(err <= tol) {
                fails.push(format!(
                    "{} L={} beta={} {}: {:e} vs {:e} (rel {err:e})",
                    c.name,
                    c.depth,
                    c.beta,
                    ["Sigma", "SigmaDot", "Theta"][q],
                    got[q],
                    c.vals[q]
                ));
            }
        }
    }
    eprintln!(
        "worst relative error (Sigma, SigmaDot, Theta): {:e} {:e} {:e}; at (near-)antipodes {:e} {:e} {:e}",
        worst[0], worst[1], worst[2], worst_anti[0], worst_anti[1], worst_anti[2]
    );
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

/// neural-tangents' NNGP and NTK of the same pairs: the same convention (depth, β, NTK
/// parameterization), to the accuracy neural-tangents' own float64 evaluation has (it cancels
/// at ρ ≈ −1 and forms Δ² by subtraction; at the antipodes of s = 2·10⁶ it is itself 4e-9 off
/// mpmath).
#[test]
fn gelu_closed_form_matches_neural_tangents() {
    let cases = parse(NT);
    assert!(cases.len() >= 1, "{} reference lines", cases.len());
    let (mut worst, mut worst_anti) = (0.0f64, 0.0f64);
    for c in &cases {
        let got = kernels(c.depth, c.beta, &c.x, &c.y);
        for (q, (g, w)) in [(got[0], c.vals[0]), (got[2], c.vals[1])]
            .into_iter()
            .enumerate()
        {
            // Relative to the entry's scale Θ (≥ |Σ|): neural-tangents cancels at ρ ≈ −1.
            let err = (g - w).abs() / c.vals[1].abs().max(1e-300);
            let tol = if c.name.contains("anti") { 1e-8 } else { 1e-12 };
            if c.name.contains("anti") {
                worst_anti = worst_anti.max(err);
            } else {
                worst = worst.max(err);
            }
            assert!(
                err <= tol,
                "{} L={} beta={} {}: {g:e} vs neural-tangents {w:e} (err {err:e})",
                c.name,
                c.depth,
                c.beta,
                ["nngp", "ntk"][q]
            );
        }
    }
    eprintln!(
        "worst error against neural-tangents (relative to the NTK entry): {worst:e}; at (near-)antipodes {worst_anti:e}"
    );
}

/// A point and its separate copy in a symmetric kernel: the off-diagonal entries equal the
/// diagonal ones bit for bit (the pair map and the per-point chain are one function).
#[test]
fn gelu_copies_keep_the_diagonal_bits() {
    for (depth, beta) in [(2, 0.0), (4, 0.0), (6, 0.3)] {
        for x in [[1.433, 0.443], [27.6, 11.7], [1081.0, 1683.0], [1e-3, 2e-4]] {
            let pts = [x[0], x[1], x[0], x[1]];
            let spec = LimitSpec::new(depth, Activation::Gelu, beta);
            let (mut s, mut d, mut t) = ([0.0; 4], [0.0; 4], [0.0; 4]);
            limit_kernel(
                &spec,
                MatRef::from_row_major(&pts, 2, 2),
                None,
                LimitOutputs {
                    nngp: Some(MatMut::from_row_major(&mut s, 2, 2)),
                    sigma_dot: Some(MatMut::from_row_major(&mut d, 2, 2)),
                    ntk: Some(MatMut::from_row_major(&mut t, 2, 2)),
                },
                &mut Progress::none(),
            )
            .unwrap();
            for m in [&s, &d, &t] {
                for k in 1..4 {
                    assert_eq!(m[k].to_bits(), m[0].to_bits(), "L={depth} x={x:?}: {m:?}");
                }
            }
        }
    }
}
