//! Kernel-flow benchmark: MSE train and test predictions at t ∈ {1, 10, 100} for N training and
//! N/4 test points (one output) from a ReLU limit NTK (L = 4, β = 0.1, d = 10 inputs on the
//! sphere), as neural-tangents' `gradient_descent_mse` does. Times include creating the flow
//! (copy, symmetry check and the PSD Cholesky check). Also times the full eigendecomposition
//! path, checks Krylov against it, and compares eigendecomposition bits at 1 and 2 threads.
//!
//! Run: `cargo bench --bench flow` (prints medians; N = 2000: 5 runs, N = 4000: 3 runs).
//!
//! Measured 2026-11-28 on the 2-core machine while other builds ran (load average ~7):
//! auto (Krylov) path 0.38 s (N = 2000) and 1.37 s (N = 4000), of which the PSD Cholesky check at
//! creation is 0.3 s / 1.1 s; eigendecomposition path 1.78 s / 37 s (very noisy under load);
//! Krylov agrees with the eigendecomposition to 2e-12 (train) and 3e-15 (test).
//! neural-tangents on the same machine kind: 1.5 s / 12.9 s.

use ntk::flow::{Cost, Flow, FlowMethod, FlowOptions};
use ntk::linalg::MatRef;
use std::f64::consts::PI;
use std::time::Instant;

fn relu_ntk(a: &[f64], b: &[f64], d: usize, depth: usize, beta: f64) -> Vec<f64> {
    let (na, nb) = (a.len() / d, b.len() / d);
    let mut out = vec![0.0; na * nb];
    let b2 = beta * beta;
    for i in 0..na {
        let xa = &a[i * d..(i + 1) * d];
        for j in 0..nb {
            let xb = &b[j * d..(j + 1) * d];
            let dot = |p: &[f64], q: &[f64]| {
                p.iter().zip(q).map(|(u, v)| u * v).sum::<f64>() / d as f64 + b2
            };
            let (mut s11, mut s22, mut s12) = (dot(xa, xa), dot(xb, xb), dot(xa, xb));
            let mut th = s12;
            for _ in 1..depth {
                let det = (s11 * s22 - s12 * s12).max(0.0);
                let ang = det.sqrt().atan2(s12);
                let e = det.sqrt() / (2.0 * PI) + (0.5 - ang / (2.0 * PI)) * s12;
                let ed = 0.5 - ang / (2.0 * PI);
                s12 = e + b2;
                s11 = s11 / 2.0 + b2;
                s22 = s22 / 2.0 + b2;
                th = th * ed + s12;
            }
            out[i * nb + j] = th;
        }
    }
    out
}

fn points(n: usize, d: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let mut x: Vec<f64> = (0..n * d).map(|_| next()).collect();
    for row in x.chunks_mut(d) {
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        row.iter_mut().for_each(|v| *v /= norm);
    }
    x
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let d = 10;
    println!("threads: {}", ntk::parallel::num_threads());
    for (n, runs) in [(2000usize, 5usize), (4000, 3)] {
        let m = n / 4;
        let x = points(n, d, 1);
        let xt = points(m, d, 2);
        let k = relu_ntk(&x, &x, d, 4, 0.1);
        let kt = relu_ntk(&xt, &x, d, 4, 0.1);
        let y: Vec<f64> = x.chunks(d).map(|r| (3.0 * r[0]).sin()).collect();
        let f0 = vec![0.0; n];
        let tf0 = vec![0.0; m];
        let times = [1.0, 10.0, 100.0];
        let run = |method: FlowMethod| {
            let t0 = Instant::now();
            let mut fl = Flow::new(
                MatRef::from_row_major(&k, n, n),
                MatRef::from_row_major(&y, n, 1),
                MatRef::from_row_major(&f0, n, 1),
                Some((
                    MatRef::from_row_major(&kt, m, n),
                    MatRef::from_row_major(&tf0, m, 1),
                )),
                Cost::Mse,
                FlowOptions {
                    method,
                    ..Default::default()
                },
            )
            .unwrap();
            let created = t0.elapsed().as_secs_f64();
            let out = fl.evaluate(&times).unwrap();
            let total = t0.elapsed().as_secs_f64();
            println!(
                "    run: create (copy + symmetry + PSD Cholesky) {created:.3} s, evaluate {:.3} s",
                total - created
            );
            (total, out)
        };
        let mut auto_t = Vec::new();
        let mut auto_out = None;
        for _ in 0..runs {
            let (t, o) = run(FlowMethod::Auto);
            auto_t.push(t);
            auto_out = Some(o);
        }
        println!(
            "N = {n}, M = {m}: auto (Krylov) path, 3 times: median {:.3} s over {runs} runs {:?}",
            median(auto_t.clone()),
            auto_t
        );
        let mut eig_t = Vec::new();
        let mut eig_out = None;
        for _ in 0..runs {
            let (t, o) = run(FlowMethod::Eigen);
            eig_t.push(t);
            eig_out = Some(o);
        }
        println!("N = {n}, M = {m}: eigendecomposition path, 3 times: median {:.3} s over {runs} runs {:?}", median(eig_t.clone()), eig_t);
        let (a, e) = (auto_out.unwrap(), eig_out.unwrap());
        for (i, t) in times.iter().enumerate() {
            let rel = |p: &[f64], q: &[f64]| {
                let s = q.iter().fold(0.0f64, |mx, v| mx.max(v.abs()));
                p.iter()
                    .zip(q)
                    .map(|(u, v)| (u - v).abs())
                    .fold(0.0, f64::max)
                    / s
            };
            println!(
                "  t = {t}: Krylov vs eigen: train {:.2e}, test {:.2e}",
                rel(&a[i].train, &e[i].train),
                rel(&a[i].test, &e[i].test)
            );
        }
        if n == 2000 {
            let fk = ntk::linalg::symmetric::to_faer(MatRef::from_row_major(&k, n, n)).unwrap();
            let mut bits = Vec::new();
            for th in [1, 2] {
                ntk::parallel::set_num_threads(th).unwrap();
                let t0 = Instant::now();
                let e = ntk::linalg::symmetric::SymEigen::new(&fk, true).unwrap();
                println!(
                    "  eigendecomposition alone at {th} thread(s): {:.3} s",
                    t0.elapsed().as_secs_f64()
                );
                let u = e.u();
                let b: Vec<u64> = e
                    .values
                    .iter()
                    .map(|v| v.to_bits())
                    .chain((0..n).map(|i| u.at(i, 7).to_bits()))
                    .collect();
                bits.push(b);
            }
            ntk::parallel::set_num_threads(0).unwrap();
            println!(
                "  eigendecomposition bit-identical at 1 and 2 threads: {}",
                bits[0] == bits[1]
            );
        }
    }
}
