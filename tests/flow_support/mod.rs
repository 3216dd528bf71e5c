//! Independent references for the flow tests, written from the formulas (no library code).
#![allow(dead_code)]

use std::f64::consts::PI;

/// E[relu(u)relu(v)] and E[relu'(u)relu'(v)] for a centred Gaussian pair (closed forms of
/// Cho & Saul, written with atan2 for accuracy near correlation 1).
fn relu_expectations(s11: f64, s22: f64, s12: f64) -> (f64, f64) {
    let det = (s11 * s22 - s12 * s12).max(0.0);
    let th = det.sqrt().atan2(s12);
    let e = det.sqrt() / (2.0 * PI) + (0.5 - th / (2.0 * PI)) * s12;
    let ed = 0.5 - th / (2.0 * PI);
    (e, ed)
}

/// The limit NTK Θ^(L) of a ReLU network (NTK parameterization, bias scale β) between the rows
/// of `a` (na × n0) and `b` (nb × n0), row-major na × nb; `identity` switches σ to the identity.
pub fn limit_ntk(
    a: &[f64],
    b: &[f64],
    n0: usize,
    depth: usize,
    beta: f64,
    identity: bool,
) -> Vec<f64> {
    let na = a.len() / n0;
    let nb = b.len() / n0;
    let dotp = |x: &[f64], y: &[f64]| {
        x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>() / n0 as f64 + beta * beta
    };
    let mut out = vec![0.0; na * nb];
    for i in 0..na {
        for j in 0..nb {
            let (xa, xb) = (&a[i * n0..(i + 1) * n0], &b[j * n0..(j + 1) * n0]);
            let (mut s11, mut s22, mut s12) = (dotp(xa, xa), dotp(xb, xb), dotp(xa, xb));
            let mut theta = s12;
            for _ in 1..depth {
                let (e12, ed12, e11, e22) = if identity {
                    (s12, 1.0, s11, s22)
                } else {
                    let (e12, ed12) = relu_expectations(s11, s22, s12);
                    (e12, ed12, s11 / 2.0, s22 / 2.0)
                };
                s12 = e12 + beta * beta;
                s11 = e11 + beta * beta;
                s22 = e22 + beta * beta;
                theta = theta * ed12 + s12;
            }
            out[i * nb + j] = theta;
        }
    }
    out
}

/// n points evenly spread on the unit circle, shifted by `phase`.
pub fn circle(n: usize, phase: f64) -> Vec<f64> {
    (0..n)
        .flat_map(|i| {
            let a = phase + 2.0 * PI * i as f64 / n as f64;
            [a.cos(), a.sin()]
        })
        .collect()
}

/// A deterministic pseudo-random sequence in (−1, 1) (an LCG; only for test data).
pub fn pseudo_random(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

pub fn matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for p in 0..k {
            let av = a[i * k + p];
            for j in 0..n {
                c[i * n + j] += av * b[p * n + j];
            }
        }
    }
    c
}

/// e^A for a small dense n × n matrix by scaling and squaring with a 30-term Taylor series.
pub fn expm(a: &[f64], n: usize) -> Vec<f64> {
    let norm = a.iter().fold(0.0f64, |m, v| m.max(v.abs())) * n as f64;
    let mut s = 0;
    while norm / 2f64.powi(s) > 0.5 {
        s += 1;
    }
    let scaled: Vec<f64> = a.iter().map(|v| v / 2f64.powi(s)).collect();
    let mut result = vec![0.0; n * n];
    let mut term = vec![0.0; n * n];
    for i in 0..n {
        result[i * n + i] = 1.0;
        term[i * n + i] = 1.0;
    }
    for j in 1..30 {
        term = matmul(&term, &scaled, n, n, n);
        term.iter_mut().for_each(|v| *v /= j as f64);
        result.iter_mut().zip(&term).for_each(|(r, t)| *r += t);
    }
    for _ in 0..s {
        result = matmul(&result, &result, n, n, n);
    }
    result
}

/// Solves A X = B (A n × n, B n × r, row-major) by Gaussian elimination with partial pivoting.
pub fn solve(a: &[f64], b: &[f64], n: usize, r: usize) -> Vec<f64> {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| a[i * n + c].abs().total_cmp(&a[j * n + c].abs()))
            .unwrap();
        for j in 0..n {
            a.swap(c * n + j, p * n + j);
        }
        for j in 0..r {
            b.swap(c * r + j, p * r + j);
        }
        for i in c + 1..n {
            let f = a[i * n + c] / a[c * n + c];
            for j in c..n {
                a[i * n + j] -= f * a[c * n + j];
            }
            for j in 0..r {
                b[i * r + j] -= f * b[c * r + j];
            }
        }
    }
    let mut x = vec![0.0; n * r];
    for i in (0..n).rev() {
        for j in 0..r {
            let mut s = b[i * r + j];
            for p in i + 1..n {
                s -= a[i * n + p] * x[p * r + j];
            }
            x[i * r + j] = s / a[i * n + i];
        }
    }
    x
}

/// max |a − b| / max |b|.
pub fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / scale
}

/// K ⊗ Id_k: the full (N·k) × (N·k) kernel of a scalar kernel.
pub fn kron_identity(k: &[f64], n: usize, m: usize, out_dim: usize) -> Vec<f64> {
    let (rows, cols) = (n * out_dim, m * out_dim);
    let mut f = vec![0.0; rows * cols];
    for i in 0..n {
        for j in 0..m {
            for a in 0..out_dim {
                f[(i * out_dim + a) * cols + j * out_dim + a] = k[i * m + j];
            }
        }
    }
    f
}
