//! Convergence of the empirical NTK to the limit kernel Θ_∞ (Jacot et al. 2018, Theorem 5.1):
//! at initialization the deviation falls like n^(−1/2) with the width n, and the off-diagonal
//! output blocks (a ≠ b) vanish at the same rate.
//!
//! Θ_∞ is computed here from the closed-form recursion (ReLU: arc-cosine kernel written with
//! atan2; erf: Williams 1997), independently of the library's limit module.

use ntk::activation::Activation;
use ntk::kernel::empirical::{self, KernelMethod, KernelMode};
use ntk::linalg::MatRef;
use ntk::network::{Network, NetworkConfig};
use std::f64::consts::PI;

const BETA: f64 = 0.1;
const POINTS: usize = 7;
/// Outputs n_L: N_OUT·(N_OUT − 1) off-diagonal blocks per network.
const N_OUT: usize = 4;

/// E[σ(u)σ(v)] and E[σ'(u)σ'(v)] for (u, v) ~ N(0, [[s11, s12], [s12, s22]]).
fn expectations(relu: bool, s11: f64, s22: f64, s12: f64) -> (f64, f64) {
    if relu {
        let det = (s11 * s22 - s12 * s12).max(0.0);
        let theta = det.sqrt().atan2(s12);
        let ed = 0.5 - theta / (2.0 * PI);
        (det.sqrt() / (2.0 * PI) + ed * s12, ed)
    } else {
        let q = (1.0 + 2.0 * s11) * (1.0 + 2.0 * s22);
        (
            2.0 / PI * (2.0 * s12 / q.sqrt()).asin(),
            4.0 / PI / (q - 4.0 * s12 * s12).sqrt(),
        )
    }
}

/// Θ_∞ of a depth-L network on the points `x` (rows of length 2), row-major POINTS × POINTS:
/// Σ^(1) = xᵀx'/n_0 + β², Θ^(1) = Σ^(1); Σ^(l+1) = E[σσ] + β², Θ^(l+1) = Θ^(l)·E[σ'σ'] + Σ^(l+1).
fn limit_ntk(relu: bool, depth: usize, x: &[f64]) -> Vec<f64> {
    let n = POINTS;
    let mut s = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            s[i * n + j] = (x[2 * i] * x[2 * j] + x[2 * i + 1] * x[2 * j + 1]) / 2.0 + BETA * BETA;
        }
    }
    let mut th = s.clone();
    for _ in 1..depth {
        let mut s_new = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                let (e, ed) = expectations(relu, s[i * n + i], s[j * n + j], s[i * n + j]);
                s_new[i * n + j] = e + BETA * BETA;
                th[i * n + j] = th[i * n + j] * ed + s_new[i * n + j];
            }
        }
        s = s_new;
    }
    th
}

/// Least-squares slope of log(y) against log(x).
fn loglog_slope(x: &[f64], y: &[f64]) -> f64 {
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let m = lx.len() as f64;
    let (mx, my) = (lx.iter().sum::<f64>() / m, ly.iter().sum::<f64>() / m);
    let sxy: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = lx.iter().map(|a| (a - mx) * (a - mx)).sum();
    sxy / sxx
}

fn check_convergence(relu: bool, depth: usize) {
    let x: Vec<f64> = (0..POINTS)
        .flat_map(|k| {
            let t = 2.0 * PI * k as f64 / POINTS as f64 + 0.3;
            [t.cos(), t.sin()]
        })
        .collect();
    let limit = limit_ntk(relu, depth, &x);
    let scale = (0..POINTS).map(|i| limit[i * POINTS + i]).sum::<f64>() / POINTS as f64;
    let widths = [64usize, 128, 256, 512, 1024, 2048, 4096];
    let (mut dev_trace, mut dev_off) = (Vec::new(), Vec::new());
    for &n in &widths {
        // Fewer seeds where each network is expensive; the spread also shrinks with n.
        let seeds = match n {
            0..=256 => 24,
            512 => 16,
            1024 => 8,
            2048 => 4,
            _ => 3,
        };
        let (mut dt, mut doff) = (0.0, 0.0);
        for seed in 0..seeds {
            let mut w = vec![2];
            w.extend(std::iter::repeat(n).take(depth - 1));
            w.push(N_OUT);
            let net = Network::new(NetworkConfig {
                widths: w,
                activation: if relu {
                    Activation::Relu
                } else {
                    Activation::Erf
                },
                beta: BETA,
                seed: 1000 * n as u64 + seed,
            })
            .unwrap();
            let xv = MatRef::from_row_major(&x, POINTS, 2);
            let tr =
                empirical::empirical_ntk_vec(&net, xv, None, KernelMode::Trace, KernelMethod::Auto)
                    .unwrap()
                    .0;
            let rms = (tr
                .iter()
                .zip(&limit)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                / tr.len() as f64)
                .sqrt();
            dt += rms / scale;
            let full =
                empirical::empirical_ntk_vec(&net, xv, None, KernelMode::Full, KernelMethod::Auto)
                    .unwrap()
                    .0;
            let m = N_OUT * POINTS;
            let mut off = 0.0;
            for i in 0..POINTS {
                for j in 0..POINTS {
                    for a in 0..N_OUT {
                        for b in (0..N_OUT).filter(|&b| b != a) {
                            off += full[(N_OUT * i + a) * m + N_OUT * j + b].powi(2);
                        }
                    }
                }
            }
            doff += (off / (N_OUT * (N_OUT - 1) * POINTS * POINTS) as f64).sqrt() / scale;
        }
        dev_trace.push(dt / seeds as f64);
        dev_off.push(doff / seeds as f64);
    }
    let nf: Vec<f64> = widths.iter().map(|&n| n as f64).collect();
    let (st, so) = (loglog_slope(&nf, &dev_trace), loglog_slope(&nf, &dev_off));
    eprintln!(
        "{} L={depth}: trace deviation {dev_trace:?} slope {st:.3}; off-diagonal {dev_off:?} slope {so:.3}",
        if relu { "relu" } else { "erf" }
    );
    assert!((-0.65..=-0.35).contains(&st), "trace slope {st}");
    assert!((-0.65..=-0.35).contains(&so), "off-diagonal slope {so}");
    // And the deviation is small in absolute terms at the largest width.
    assert!(dev_trace[widths.len() - 1] < 0.05 && dev_off[widths.len() - 1] < 0.05);
}

#[test]
fn relu_depth3_converges_like_inverse_sqrt_width() {
    check_convergence(true, 3);
}

#[test]
fn relu_depth4_converges_like_inverse_sqrt_width() {
    check_convergence(true, 4);
}

#[test]
fn erf_depth3_converges_like_inverse_sqrt_width() {
    check_convergence(false, 3);
}

#[test]
fn erf_depth4_converges_like_inverse_sqrt_width() {
    check_convergence(false, 4);
}
