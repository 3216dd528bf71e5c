//! Figure 2's band through the predictive law: `ensemble_law_points` (ReLU, L = 4, β = 0.1, the
//! paper job's 4 training points on the circle) against the hand computation of
//! examples/paper/core.rs at t = ∞ (A = Θ(grid, X)Θ⁻¹ from the MSE flow at t = ∞ with identity
//! targets, variance Σ(x, x) − 2AΣ(X, x) + AΣ(X, X)Aᵀ), to 1e-12; and at t = 1000 (the trained
//! time) against the same formula with A_t = Θ(grid, X)·Θ⁻¹(I − e^{−Θt/N}) from the flow at t.

use ntk::activation::Activation;
use ntk::flow::{Cost, Flow, FlowOptions};
use ntk::kernel::limit::{limit_kernel, LimitOutputs, LimitSpec};
use ntk::linalg::{MatMut, MatRef};
use ntk::parallel::Progress;
use ntk::predict::{ensemble_law_points, CovKind, Law, Ridge};

fn circle(g: &[f64]) -> Vec<f64> {
    g.iter().flat_map(|a| [a.cos(), a.sin()]).collect()
}

fn kernels(spec: &LimitSpec, a: &[f64], b: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (n1, n2) = (a.len() / 2, b.len() / 2);
    let (mut s, mut t) = (vec![0.0; n1 * n2], vec![0.0; n1 * n2]);
    limit_kernel(
        spec,
        MatRef::from_row_major(a, n1, 2),
        Some(MatRef::from_row_major(b, n2, 2)),
        LimitOutputs {
            nngp: Some(MatMut::from_row_major(&mut s, n1, n2)),
            sigma_dot: None,
            ntk: Some(MatMut::from_row_major(&mut t, n1, n2)),
        },
        &mut Progress::none(),
    )
    .unwrap();
    (s, t)
}

#[test]
fn figure2_band_matches_the_hand_computation() {
    let spec = LimitSpec::new(4, Activation::Relu, 0.1);
    let gammas: Vec<f64> = (0..61).map(|i| -3.0 + 0.1 * i as f64).collect();
    let grid = circle(&gammas);
    let xtr = circle(&[-2.2, -0.9, 0.6, 1.9]);
    let y = [-0.6, 0.4, 0.8, -0.3];
    let (nt, g) = (4, gammas.len());
    let laws = ensemble_law_points(
        &spec,
        Law::Ntk,
        MatRef::from_row_major(&xtr, nt, 2),
        MatRef::from_row_major(&y, nt, 1),
        MatRef::from_row_major(&grid, g, 2),
        &[1000.0, f64::INFINITY],
        CovKind::Diagonal,
        Ridge::Absolute(0.0),
        &mut Progress::none(),
    )
    .unwrap();
    let (sxx, txx) = kernels(&spec, &xtr, &xtr);
    let (sgx, tgx) = kernels(&spec, &grid, &xtr);
    let eye: Vec<f64> = (0..nt * nt)
        .map(|i| if i % (nt + 1) == 0 { 1.0 } else { 0.0 })
        .collect();
    let mut flow = Flow::new(
        MatRef::from_row_major(&txx, nt, nt),
        MatRef::from_row_major(&eye, nt, nt),
        MatRef::from_row_major(&vec![0.0; nt * nt], nt, nt),
        Some((
            MatRef::from_row_major(&tgx, g, nt),
            MatRef::from_row_major(&vec![0.0; g * nt], g, nt),
        )),
        Cost::Mse,
        FlowOptions::default(),
    )
    .unwrap();
    for (law, t) in laws.iter().zip([1000.0, f64::INFINITY]) {
        flow.set_time(t).unwrap();
        let a = flow.predictions().to_vec();
        for i in 0..g {
            let ai = &a[i * nt..(i + 1) * nt];
            let m: f64 = ai.iter().zip(&y).map(|(p, q)| p * q).sum();
            let cross: f64 = (0..nt).map(|j| ai[j] * sgx[i * nt + j]).sum();
            let quad: f64 = (0..nt)
                .flat_map(|j| (0..nt).map(move |k| (j, k)))
                .map(|(j, k)| ai[j] * sxx[j * nt + k] * ai[k])
                .sum();
            let (s, _) = kernels(&spec, &grid[2 * i..2 * i + 2], &grid[2 * i..2 * i + 2]);
            let var = s[0] - 2.0 * cross + quad;
            assert!(
                (law.mean[i] - m).abs() <= 1e-12 * m.abs().max(1.0),
                "t = {t} mean {i}"
            );
            assert!(
                (law.cov[i] - var).abs() <= 1e-12 * s[0],
                "t = {t} var {i}: {} vs {var}",
                law.cov[i]
            );
            assert!(law.cov[i] >= -1e-12 * s[0]);
        }
    }
}
