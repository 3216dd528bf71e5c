//! Softmax cross-entropy flow against a fine fixed-step RK4 written here.

mod flow_support;

use flow_support::*;
use ntk::flow::{Cost, Flow, FlowOptions, OdeTolerances};
use ntk::linalg::MatRef;

fn softmax_minus_y(f: &[f64], y: &[f64], k: usize) -> Vec<f64> {
    let mut d = vec![0.0; f.len()];
    for i in 0..f.len() / k {
        let row = &f[i * k..(i + 1) * k];
        let m = row.iter().cloned().fold(f64::MIN, f64::max);
        let z: f64 = row.iter().map(|v| (v - m).exp()).sum();
        for a in 0..k {
            d[i * k + a] = (row[a] - m).exp() / z - y[i * k + a];
        }
    }
    d
}

#[test]
fn cross_entropy_flow_matches_rk4() {
    let (n, m, k) = (7, 3, 3);
    let x = circle(n, 0.3);
    let xt = circle(m, 1.1);
    let kern = limit_ntk(&x, &x, 2, 3, 0.2, false);
    let tk = limit_ntk(&xt, &x, 2, 3, 0.2, false);
    let mut y = vec![0.0; n * k];
    for i in 0..n {
        y[i * k + (i % k)] = 1.0;
    }
    let f0: Vec<f64> = pseudo_random(n * k, 21).iter().map(|v| 0.5 * v).collect();
    let tf0: Vec<f64> = pseudo_random(m * k, 22).iter().map(|v| 0.5 * v).collect();
    let mut fl = Flow::new(
        MatRef::from_row_major(&kern, n, n),
        MatRef::from_row_major(&y, n, k),
        MatRef::from_row_major(&f0, n, k),
        Some((
            MatRef::from_row_major(&tk, m, n),
            MatRef::from_row_major(&tf0, m, k),
        )),
        Cost::CrossEntropy,
        FlowOptions {
            ode: OdeTolerances {
                rtol: 1e-12,
                atol: 1e-14,
            },
            ..Default::default()
        },
    )
    .unwrap();
    // RK4 on (f, f*) with h = 1e-3.
    let rhs = |f: &[f64]| -> (Vec<f64>, Vec<f64>) {
        let d = softmax_minus_y(f, &y, k);
        let a = matmul(&kern, &d, n, n, k);
        let b = matmul(&tk, &d, m, n, k);
        (
            a.iter().map(|v| -v / n as f64).collect(),
            b.iter().map(|v| -v / n as f64).collect(),
        )
    };
    let mut f = f0.clone();
    let mut ft = tf0.clone();
    let h = 1e-3;
    let mut t = 0.0;
    let mut last_loss = fl.loss();
    for &target in &[0.5, 4.0, 20.0] {
        while t < target - 1e-12 {
            let (k1, l1) = rhs(&f);
            let f2: Vec<f64> = f.iter().zip(&k1).map(|(a, b)| a + 0.5 * h * b).collect();
            let (k2, l2) = rhs(&f2);
            let f3: Vec<f64> = f.iter().zip(&k2).map(|(a, b)| a + 0.5 * h * b).collect();
            let (k3, l3) = rhs(&f3);
            let f4: Vec<f64> = f.iter().zip(&k3).map(|(a, b)| a + h * b).collect();
            let (k4, l4) = rhs(&f4);
            for i in 0..f.len() {
                f[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
            }
            for i in 0..ft.len() {
                ft[i] += h / 6.0 * (l1[i] + 2.0 * l2[i] + 2.0 * l3[i] + l4[i]);
            }
            t += h;
        }
        fl.set_time(target).unwrap();
        let (et, es) = (rel_err(fl.outputs(), &f), rel_err(fl.predictions(), &ft));
        println!(
            "t = {target}: train {et:.2e}, test {es:.2e}, loss {}",
            fl.loss()
        );
        assert!(et < 1e-9 && es < 1e-9, "t = {target}: {et:e} {es:e}");
        assert!(fl.loss() < last_loss);
        last_loss = fl.loss();
    }
    // Going back in time integrates backwards to the same state.
    fl.set_time(0.5).unwrap();
    let back = fl.outputs().to_vec();
    let mut fresh_outputs = fl.evaluate(&[0.5]).unwrap();
    assert!(rel_err(&back, &fresh_outputs.pop().unwrap().train) < 1e-8);
    assert!(fl.set_time(f64::INFINITY).is_err());
}

#[test]
fn cross_entropy_full_kernel_layout_equals_scalar_kernel() {
    let (n, m, k) = (5, 2, 3);
    let x = circle(n, 0.7);
    let xt = circle(m, 0.2);
    let kern = limit_ntk(&x, &x, 2, 3, 0.1, false);
    let tk = limit_ntk(&xt, &x, 2, 3, 0.1, false);
    let mut y = vec![0.0; n * k];
    for i in 0..n {
        y[i * k + (2 * i) % k] = 1.0;
    }
    let f0 = pseudo_random(n * k, 51);
    let tf0 = pseudo_random(m * k, 52);
    let make = |kk: &[f64], d: usize, tkk: &[f64], dm: usize| {
        Flow::new(
            MatRef::from_row_major(kk, d, d),
            MatRef::from_row_major(&y, n, k),
            MatRef::from_row_major(&f0, n, k),
            Some((
                MatRef::from_row_major(tkk, dm, d),
                MatRef::from_row_major(&tf0, m, k),
            )),
            Cost::CrossEntropy,
            FlowOptions::default(),
        )
        .unwrap()
    };
    let full_k = kron_identity(&kern, n, n, k);
    let full_t = kron_identity(&tk, m, n, k);
    let mut scalar = make(&kern, n, &tk, m);
    let mut full = make(&full_k, n * k, &full_t, m * k);
    for dt in [0.5, 2.0, 10.0] {
        scalar.step(dt).unwrap();
        full.step(dt).unwrap();
        assert!(rel_err(full.outputs(), scalar.outputs()) < 1e-12);
        assert!(rel_err(full.predictions(), scalar.predictions()) < 1e-12);
        assert!((full.loss() - scalar.loss()).abs() < 1e-13);
    }
}
