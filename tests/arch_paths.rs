//! Per-layer architectures (issue #13) through every path: training (one gradient step against
//! central differences of the MSE cost, in the standard parameterization), prepared limit points
//! and limit tiles (same bits as the whole kernel), the numerical method per layer against the
//! closed forms, and prepared empirical features / empirical tiles (same values as the whole
//! empirical NTK). The values themselves are checked against neural-tangents in
//! tests/arch_nt.rs.

use ntk::activation::Activation;
use ntk::flow::Cost;
use ntk::kernel::empirical::prepared::{empirical_tile, EmpiricalFeatures};
use ntk::kernel::empirical::{self, KernelMethod, KernelMode};
use ntk::kernel::limit::prepared::{limit_tile, LimitPoints};
use ntk::kernel::limit::{limit_kernel, BlockOutputs, LimitMethod, LimitOutputs, LimitSpec};
use ntk::linalg::{MatMut, MatRef};
use ntk::network::{Architecture, LayerSpec, Network, Parameterization};
use ntk::parallel::Progress;

fn layer(sigma_w: f64, sigma_b: f64, activation: Option<Activation>) -> LayerSpec {
    LayerSpec {
        sigma_w,
        sigma_b,
        activation,
    }
}

fn hetero(p: Parameterization) -> Architecture {
    Architecture {
        widths: vec![3, 6, 5, 4, 2],
        layers: vec![
            layer(1.6, 0.4, Some(Activation::Relu)),
            layer(0.7, 0.0, Some(Activation::Tanh)),
            layer(2.1, 0.9, Some(Activation::Erf)),
            layer(1.2, 0.3, None),
        ],
        parameterization: p,
        seed: 11,
    }
}

fn points(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..n * 3)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 4.0 - 2.0
        })
        .collect()
}

#[test]
fn one_training_step_is_minus_eta_times_the_finite_difference_gradient() {
    for p in [Parameterization::Ntk, Parameterization::Standard] {
        let mut net = Network::with_architecture(hetero(p)).unwrap();
        let x = points(4, 1);
        let y = [0.3, -0.2, 1.1, 0.5, -0.7, 0.0, 0.4, 0.9];
        let xv = MatRef::from_row_major(&x, 4, 3);
        let cost = |net: &Network| {
            let mut f = vec![0.0; 8];
            net.forward(xv, MatMut::from_row_major(&mut f, 4, 2))
                .unwrap();
            f.iter()
                .zip(&y)
                .map(|(a, b)| 0.5 * (a - b) * (a - b))
                .sum::<f64>()
                / 4.0
        };
        let theta0 = net.params().to_vec();
        let h = 1e-6;
        let mut fd = vec![0.0; theta0.len()];
        for (q, g) in fd.iter_mut().enumerate() {
            net.params_mut()[q] = theta0[q] + h;
            let up = cost(&net);
            net.params_mut()[q] = theta0[q] - h;
            let down = cost(&net);
            net.params_mut()[q] = theta0[q];
            *g = (up - down) / (2.0 * h);
        }
        let eta = 0.05;
        ntk::train::train(
            &mut net,
            xv,
            MatRef::from_row_major(&y, 4, 2),
            Cost::Mse,
            eta,
            1,
            None,
            &mut Progress::none(),
        )
        .unwrap();
        for q in 0..fd.len() {
            let step = net.params()[q] - theta0[q];
            assert!(
                (step + eta * fd[q]).abs() <= 1e-8 * (1.0 + eta * fd[q].abs()),
                "{p:?} param {q}: step {step} vs -eta*fd {}",
                -eta * fd[q]
            );
        }
    }
}

fn whole(spec: &LimitSpec, x: &[f64], n: usize) -> [Vec<f64>; 3] {
    let mut o = [vec![0.0; n * n], vec![0.0; n * n], vec![0.0; n * n]];
    let [a, b, c] = &mut o;
    limit_kernel(
        spec,
        MatRef::from_row_major(x, n, 3),
        None,
        LimitOutputs {
            nngp: Some(MatMut::from_row_major(a, n, n)),
            sigma_dot: Some(MatMut::from_row_major(b, n, n)),
            ntk: Some(MatMut::from_row_major(c, n, n)),
        },
        &mut Progress::none(),
    )
    .unwrap();
    o
}

fn closed_only(p: Parameterization) -> Architecture {
    Architecture {
        widths: vec![3, 6, 5, 4, 2],
        layers: vec![
            layer(1.6, 0.4, Some(Activation::Relu)),
            layer(0.7, 0.0, Some(Activation::Sin)),
            layer(2.1, 0.9, Some(Activation::LeakyRelu(0.1))),
            layer(1.2, 0.3, None),
        ],
        parameterization: p,
        seed: 11,
    }
}

fn check_tiles(arch: &Architecture, n: usize, blocks: &[((usize, usize), (usize, usize))]) {
    let x = points(n, 2);
    let p = arch.parameterization;
    let spec = LimitSpec::of_network(&Network::with_architecture(arch.clone()).unwrap());
    let full = whole(&spec, &x, n);
    let pts = LimitPoints::new(
        &spec,
        MatRef::from_row_major(&x, n, 3),
        &mut Progress::none(),
    )
    .unwrap();
    for &(r, c) in blocks {
        let (h, w) = (r.1 - r.0, c.1 - c.0);
        let mut o = [vec![0.0; h * w], vec![0.0; h * w], vec![0.0; h * w]];
        {
            let [a, b, cc] = &mut o;
            limit_tile(
                &pts,
                r,
                &pts,
                c,
                BlockOutputs {
                    nngp: Some(MatMut::from_row_major(a, h, w)),
                    sigma_dot: Some(MatMut::from_row_major(b, h, w)),
                    ntk: Some(MatMut::from_row_major(cc, h, w)),
                },
                &mut Progress::none(),
            )
            .unwrap();
        }
        for q in 0..3 {
            for i in 0..h {
                for j in 0..w {
                    let (a, b) = (o[q][i * w + j], full[q][(r.0 + i) * n + c.0 + j]);
                    // Off the diagonal the same bits; on it the tile takes the pair map (the
                    // whole kernel the per-point chain): rounding apart.
                    if r.0 + i != c.0 + j {
                        assert_eq!(a.to_bits(), b.to_bits(), "{p:?} q{q} ({i},{j})");
                    } else {
                        assert!((a - b).abs() <= 1e-13 * b.abs(), "{p:?} q{q} diag");
                    }
                }
            }
        }
    }
}

#[test]
fn limit_tiles_and_prepared_points_give_the_whole_kernel() {
    for p in [Parameterization::Ntk, Parameterization::Standard] {
        // Closed forms over more than one 128-point tile.
        check_tiles(
            &closed_only(p),
            150,
            &[
                ((0, 70), (0, 150)),
                ((70, 150), (20, 140)),
                ((140, 150), (0, 9)),
            ],
        );
        // With a numerical layer (tanh: per-point Hermite data reused from the prepared points).
        check_tiles(&hetero(p), 20, &[((0, 7), (0, 20)), ((7, 20), (3, 18))]);
    }
}

#[test]
fn numerical_method_per_layer_matches_the_closed_forms() {
    let n = 12;
    let mut x = points(n, 3);
    // A duplicate and a negated point (correlation ±1 at the first layer when σ_b = 0).
    let (a, b) = x.split_at_mut(6);
    b[..3].copy_from_slice(&a[..3]);
    for p in [Parameterization::Ntk, Parameterization::Standard] {
        let arch = Architecture {
            widths: vec![3, 5, 4, 6, 3, 1],
            layers: vec![
                layer(1.3, 0.0, Some(Activation::Erf)),
                layer(0.8, 0.5, Some(Activation::Sin)),
                layer(1.9, 0.2, Some(Activation::Identity)),
                layer(1.1, 0.7, Some(Activation::Erf)),
                layer(0.6, 0.1, None),
            ],
            parameterization: p,
            seed: 0,
        };
        let closed = LimitSpec::of_architecture(&arch);
        let mut quad = closed.clone();
        quad.method = LimitMethod::Quadrature;
        let (c, q) = (whole(&closed, &x, n), whole(&quad, &x, n));
        for k in 0..3 {
            let scale = c[k].iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let err = c[k]
                .iter()
                .zip(&q[k])
                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                err <= 1e-12 * scale,
                "{p:?} quantity {k}: {err:e} of {scale}"
            );
        }
    }
}

#[test]
fn empirical_tiles_of_prepared_features_give_the_whole_kernel() {
    let n = 40;
    let x = points(n, 4);
    for p in [Parameterization::Ntk, Parameterization::Standard] {
        let net = Network::with_architecture(hetero(p)).unwrap();
        let xv = MatRef::from_row_major(&x, n, 3);
        for mode in [KernelMode::Trace, KernelMode::Full] {
            let (whole, r, c) =
                empirical::empirical_ntk_vec(&net, xv, None, mode, KernelMethod::Structured)
                    .unwrap();
            let s = r / n;
            let f = EmpiricalFeatures::new(&net, xv).unwrap();
            let (rows, cols) = ((5, 33), (0, 40));
            let (h, w) = ((rows.1 - rows.0) * s, (cols.1 - cols.0) * s);
            let mut o = vec![0.0; h * w];
            empirical_tile(
                &net,
                &f,
                rows,
                &f,
                cols,
                mode,
                MatMut::from_row_major(&mut o, h, w),
                &mut Progress::none(),
            )
            .unwrap();
            let scale = whole.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for i in 0..h {
                for j in 0..w {
                    let b = whole[(rows.0 * s + i) * c + j];
                    assert!((o[i * w + j] - b).abs() <= 1e-13 * scale, "{p:?} {mode:?}");
                }
            }
        }
    }
}
