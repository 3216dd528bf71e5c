//! Near-duplicate and near-antipodal pairs through the C entry point `ntk_kernel_limit`
//! (issue 17, part 1): a network from `ntk_network_create` (uniform activation and β, the
//! fused tile path) gives every Σ, Σ̇, Θ entry within 1e-13 of the 80-digit mpmath reference
//! `tests/data/limit_neardup_closed_mpmath.txt` (tools/limit_reference_neardup_closed.py) and of
//! `tests/data/limit_neardup_mpmath.txt` (tools/limit_reference_neardup.py, ReLU), for erf,
//! GELU, sin, cos and ReLU at depth 4, β = 0 and 0.3, pairs y = ±x + 10^-k‖x‖u.

mod common;

use ntk::ffi::limit::ntk_kernel_limit;
use ntk::ffi::network::ntk_activation;
use ntk::ffi::ntk_status;
use ntk::ffi::view::row_major_view as m;
use ntk::ffi::view::row_major_view_mut as mm;
use std::ptr::null;

const CLOSED: &str = include_str!("data/limit_neardup_closed_mpmath.txt");
const RELU: &str = include_str!("data/limit_neardup_mpmath.txt");

/// (Σ, Σ̇, Θ) entry (0, 1) of the 2×2 kernel of the rows of `x` through the C API, also
/// checking the symmetric entry (1, 0) has the same bits.
fn c_kernel(act: ntk_activation, param: f64, depth: usize, beta: f64, x: &[f64]) -> [f64; 3] {
    let d = x.len() / 2;
    let mut widths = vec![d];
    widths.extend(std::iter::repeat_n(7, depth - 1));
    widths.push(1);
    let h = common::c_net(&widths, act as i32, param, beta, 1);
    let (mut s, mut sd, mut t) = (vec![0.0; 4], vec![0.0; 4], vec![0.0; 4]);
    let (mut a, mut b, mut c) = (mm(&mut s, 2, 2), mm(&mut sd, 2, 2), mm(&mut t, 2, 2));
    // SAFETY: the handle is alive (h), the views point at live buffers of their shapes.
    let st = unsafe { ntk_kernel_limit(h.0, m(x, 2, d), null(), &mut a, &mut b, &mut c, null()) };
    assert_eq!(st, ntk_status::Ok, "{}", common::last_error());
    for v in [&s, &sd, &t] {
        assert_eq!(v[1].to_bits(), v[2].to_bits(), "symmetry");
    }
    [s[1], sd[1], t[1]]
}

/// Worst relative error (floored at 1e-16·max(s, 1), s the layer-1 variance scale, as in
/// tests/limit_neardup_closed.rs) over the reference lines `pick` selects; lines are
/// (x0..x4, y0..y4, Σ, Σ̇, Θ) from field `first`.
fn check(
    text: &str,
    first: usize,
    pick: impl Fn(&[&str]) -> Option<(ntk_activation, f64, usize, f64)>,
) -> (usize, f64, Vec<String>) {
    let (mut n, mut worst, mut fails) = (0, 0.0f64, Vec::new());
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some((act, param, depth, beta)) = pick(&f) else {
            continue;
        };
        let num = |s: &str| -> f64 { s.parse().unwrap() };
        let pts: Vec<f64> = f[first..first + 10].iter().map(|s| num(s)).collect();
        let s = pts[..5].iter().map(|v| v * v).sum::<f64>() / 5.0 + beta * beta;
        let got = c_kernel(act, param, depth, beta, &pts);
        for q in 0..3 {
            let want = num(f[first + 10 + q]);
            let err = (got[q] - want).abs() / want.abs().max(1e-16 * s.max(1.0));
            worst = worst.max(err);
            if !(err <= 1e-13) {
                fails.push(format!("{line}: output {q} got {:e} (rel {err:e})", got[q]));
            }
        }
        n += 1;
    }
    (n, worst, fails)
}

#[test]
fn c_api_near_pairs_closed_forms_against_mpmath() {
    let (n, worst, fails) = check(CLOSED, 5, |f| {
        let act = match (f[0], f[1]) {
            ("u", "erf") => ntk_activation::Erf,
            ("u", "gelu") => ntk_activation::Gelu,
            ("u", "sin") => ntk_activation::Sin,
            ("u", "cos") => ntk_activation::Cos,
            _ => return None,
        };
        (f[3] == "4").then(|| (act, 0.0, 4, f[4].parse().unwrap()))
    });
    eprintln!("{n} pairs, worst {worst:e}");
    assert_eq!(n, 4 * 2 * 80, "reference lines");
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

#[test]
fn c_api_near_pairs_relu_against_mpmath() {
    let header = RELU.lines().find(|l| l.starts_with('#')).unwrap_or("");
    eprintln!("{header}");
    let (n, worst, fails) = check(RELU, 4, |f| {
        (f[0] == "0.0" && f[2] == "4")
            .then(|| (ntk_activation::Relu, 0.0, 4, f[3].parse().unwrap()))
    });
    eprintln!("{n} pairs, worst {worst:e}");
    assert!(n >= 40, "reference lines: {n}");
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}
