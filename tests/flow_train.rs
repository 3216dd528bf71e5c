//! Gradient descent of real networks: one step against the kernel prediction −(η/N)·Θ·d with Θ
//! from finite differences of the forward pass, and Theorem 5.2 in numbers (NTK drift and the
//! gap to the kernel dynamics shrink like width^(−1/2)).

mod flow_support;

use flow_support::*;
use ntk::activation::Activation;
use ntk::flow::Cost;
use ntk::linalg::{MatMut, MatRef};
use ntk::network::{Network, NetworkConfig};
use ntk::parallel::Progress;
use ntk::train::train;

fn forward(net: &Network, x: &[f64], n: usize) -> Vec<f64> {
    let k = net.output_dim();
    let mut out = vec![0.0; n * k];
    net.forward(
        MatRef::from_row_major(x, n, net.input_dim()),
        MatMut::from_row_major(&mut out, n, k),
    )
    .unwrap();
    out
}

#[test]
fn one_small_step_moves_outputs_by_the_tangent_kernel() {
    let mut net = Network::new(NetworkConfig {
        widths: vec![2, 40, 30, 2],
        activation: Activation::Tanh,
        beta: 0.2,
        seed: 3,
    })
    .unwrap();
    let n = 4;
    let k = 2;
    let x = circle(n, 0.4);
    let y = pseudo_random(n * k, 8);
    // Θ = J Jᵀ with J from central differences of the forward pass.
    let p = net.num_params();
    let mut jac = vec![0.0; n * k * p];
    let h = 1e-6;
    for q in 0..p {
        let orig = net.params()[q];
        net.params_mut()[q] = orig + h;
        let up = forward(&net, &x, n);
        net.params_mut()[q] = orig - h;
        let dn = forward(&net, &x, n);
        net.params_mut()[q] = orig;
        for r in 0..n * k {
            jac[r * p + q] = (up[r] - dn[r]) / (2.0 * h);
        }
    }
    let mut theta = vec![0.0; n * k * n * k];
    for a in 0..n * k {
        for b in 0..n * k {
            theta[a * n * k + b] = (0..p).map(|q| jac[a * p + q] * jac[b * p + q]).sum();
        }
    }
    let f0 = forward(&net, &x, n);
    let d: Vec<f64> = f0.iter().zip(&y).map(|(f, y)| f - y).collect();
    let eta = 1e-3;
    let predicted: Vec<f64> = matmul(&theta, &d, n * k, n * k, 1)
        .iter()
        .map(|v| -eta / n as f64 * v)
        .collect();
    let mut hist = vec![0.0; 2];
    train(
        &mut net,
        MatRef::from_row_major(&x, n, 2),
        MatRef::from_row_major(&y, n, k),
        Cost::Mse,
        eta,
        1,
        Some(&mut hist),
        &mut Progress::none(),
    )
    .unwrap();
    let f1 = forward(&net, &x, n);
    let moved: Vec<f64> = f1.iter().zip(&f0).map(|(a, b)| a - b).collect();
    let err = rel_err(&moved, &predicted);
    println!("one step: relative deviation from −(η/N)Θd = {err:.3e}");
    assert!(err < 5e-3, "{err}");
    let c0 = 0.5 * d.iter().map(|v| v * v).sum::<f64>() / n as f64;
    assert!((hist[0] - c0).abs() < 1e-14 * c0);
    assert!(hist[1] < hist[0]);
}

/// Θ(θ) = J·Jᵀ between the rows of `xa` and `xb` (one output), J rows from backward passes.
fn empirical_ntk(net: &Network, xa: &[f64], xb: &[f64]) -> Vec<f64> {
    let jac = |x: &[f64]| -> Vec<Vec<f64>> {
        let n = x.len() / 2;
        let xv = MatRef::from_row_major(x, n, 2);
        let cache = net.forward_cache(xv).unwrap();
        (0..n)
            .map(|i| {
                let mut cot = vec![0.0; n];
                cot[i] = 1.0;
                let deltas = net
                    .backward_deltas(&cache, MatRef::from_row_major(&cot, n, 1))
                    .unwrap();
                let mut g = vec![0.0; net.num_params()];
                net.param_gradient(xv, &cache, &deltas, &mut g);
                g
            })
            .collect()
    };
    let (ja, jb) = (jac(xa), jac(xb));
    let mut out = Vec::new();
    for a in &ja {
        for b in &jb {
            out.push(a.iter().zip(b).map(|(p, q)| p * q).sum());
        }
    }
    out
}

fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let lx: Vec<f64> = xs.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = ys.iter().map(|v| v.ln()).collect();
    let (mx, my) = (
        lx.iter().sum::<f64>() / lx.len() as f64,
        ly.iter().sum::<f64>() / ly.len() as f64,
    );
    let num: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    let den: f64 = lx.iter().map(|a| (a - mx) * (a - mx)).sum();
    num / den
}

/// Theorem 5.2: ReLU, L = 4, β = 0.1, N = 10 inputs on the unit circle (and 5 test points), MSE,
/// η = 1, 200 steps (t = 200), widths 128, 256, 512 with 6 seeds each (geometric means).
///
/// The gap between the trained network and the kernel dynamics with K = Θ(0) (train and test
/// outputs together) falls like width^(−1/2): slope in [−0.65, −0.35]. The relative NTK drift
/// ‖Θ(t) − Θ(0)‖_F/‖Θ(0)‖_F falls at least that fast; measured here it falls close to 1/width
/// (slopes −1.2 … −0.75 between neighbouring widths 128 … 1024 with N = 12; the O(1/n) drift of
/// Dyer & Gur-Ari 2019), so its slope is checked in [−1.3, −0.35].
///
/// With η = 1 the time step is not small against N/λ_max(Θ), so the kernel reference is the
/// kernel gradient descent f_{s+1} = f_s − (η/N)·Θ(0)·(f_s − y) (the exact infinite-width limit of
/// network GD at this η; the flow is its η → 0 limit), computed here. Widths ≥ 1024 are left out
/// to stay within ~20 s on a loaded 2-core machine (1024 costs ~8 s per seed there).
#[test]
fn theorem_5_2_network_gd_approaches_kernel_dynamics_with_width() {
    let (n, m) = (10, 5);
    let x = circle(n, 0.2);
    let xt = circle(m, 1.3);
    let y: Vec<f64> = (0..n).map(|i| (2.0 * x[2 * i]).sin() * 0.8).collect();
    let widths = [128usize, 256, 512];
    let seeds = [1u64, 2, 3, 4, 5, 6];
    let mut drifts = Vec::new();
    let mut gaps = Vec::new();
    for w in widths.iter() {
        let (mut drift_sum, mut gap_sum, mut count) = (0.0, 0.0, 0.0);
        for &seed in &seeds {
            let mut net = Network::new(NetworkConfig {
                widths: vec![2, *w, *w, *w, 1],
                activation: Activation::Relu,
                beta: 0.1,
                seed,
            })
            .unwrap();
            let t0 = std::time::Instant::now();
            let theta0 = empirical_ntk(&net, &x, &x);
            let theta0_t = empirical_ntk(&net, &xt, &x);
            let mut f = forward(&net, &x, n);
            let mut ft = forward(&net, &xt, m);
            for _ in 0..200 {
                let d: Vec<f64> = f.iter().zip(&y).map(|(a, b)| a - b).collect();
                let kd = matmul(&theta0, &d, n, n, 1);
                let ktd = matmul(&theta0_t, &d, m, n, 1);
                f.iter_mut().zip(&kd).for_each(|(a, b)| *a -= b / n as f64);
                ft.iter_mut()
                    .zip(&ktd)
                    .for_each(|(a, b)| *a -= b / n as f64);
            }
            train(
                &mut net,
                MatRef::from_row_major(&x, n, 2),
                MatRef::from_row_major(&y, n, 1),
                Cost::Mse,
                1.0,
                200,
                None,
                &mut Progress::none(),
            )
            .unwrap();
            let theta1 = empirical_ntk(&net, &x, &x);
            let fro = |a: &[f64]| a.iter().map(|v| v * v).sum::<f64>().sqrt();
            let diff: Vec<f64> = theta1.iter().zip(&theta0).map(|(a, b)| a - b).collect();
            drift_sum += (fro(&diff) / fro(&theta0)).ln();
            let mut net_out = forward(&net, &x, n);
            net_out.extend(forward(&net, &xt, m));
            let mut kern_out = f.clone();
            kern_out.extend(&ft);
            let gd: Vec<f64> = net_out.iter().zip(&kern_out).map(|(a, b)| a - b).collect();
            gap_sum += (fro(&gd) / fro(&kern_out)).ln();
            count += 1.0;
            println!(
                "  w {w} seed {seed}: drift {:.3e} gap {:.3e} ({:?})",
                fro(&diff) / fro(&theta0),
                fro(&gd) / fro(&kern_out),
                t0.elapsed()
            );
        }
        // Geometric means over the seeds.
        drifts.push((drift_sum / count).exp());
        gaps.push((gap_sum / count).exp());
        println!(
            "width {w}: drift {:.4e}, gap {:.4e}",
            drifts.last().unwrap(),
            gaps.last().unwrap()
        );
    }
    let wf: Vec<f64> = widths.iter().map(|&w| w as f64).collect();
    let (sd, sg) = (slope(&wf, &drifts), slope(&wf, &gaps));
    println!("log-log slopes: drift {sd:.3}, gap {sg:.3}");
    assert!((-1.3..=-0.35).contains(&sd), "drift slope {sd}");
    assert!((-0.65..=-0.35).contains(&sg), "gap slope {sg}");
}
