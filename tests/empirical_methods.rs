//! The two methods against each other, the symmetric shortcut against the general path, the
//! trace mode against the full blocks, and bit-identical results at 1 and 3 threads.

mod common;

use ntk::activation::Activation;
use ntk::kernel::empirical::{self, KernelMethod, KernelMode};
use ntk::linalg::MatRef;
use ntk::network::Network;

use common::{net, points};

fn kernel(
    net: &Network,
    x1: &[f64],
    n1: usize,
    x2: Option<(&[f64], usize)>,
    mode: KernelMode,
    method: KernelMethod,
) -> Vec<f64> {
    let d = net.input_dim();
    empirical::empirical_ntk_vec(
        net,
        MatRef::from_row_major(x1, n1, d),
        x2.map(|(x, n)| MatRef::from_row_major(x, n, d)),
        mode,
        method,
    )
    .unwrap()
    .0
}

/// max |a − b| / max |b|.
fn rel_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

#[test]
fn contraction_equals_structured() {
    let acts = [
        Activation::Relu,
        Activation::Erf,
        Activation::Tanh,
        Activation::Gelu,
        Activation::Sin,
        Activation::LeakyRelu(0.2),
    ];
    let (n1, n2, d) = (150, 70, 4);
    let x1 = points(n1, d, 0.1);
    let x2 = points(n2, d, 2.3);
    let mut worst = 0.0f64;
    for (ai, act) in acts.iter().enumerate() {
        for n_out in [1, 3] {
            for beta in [0.0, 0.5] {
                let nw = net(
                    vec![d, 16, 12, 8, n_out],
                    act.clone(),
                    beta,
                    100 + ai as u64,
                );
                for mode in [KernelMode::Trace, KernelMode::Full] {
                    for x2o in [None, Some((&x2[..], n2))] {
                        let s = kernel(&nw, &x1, n1, x2o, mode, KernelMethod::Structured);
                        let c = kernel(&nw, &x1, n1, x2o, mode, KernelMethod::JacobianContraction);
                        let r = rel_diff(&s, &c);
                        worst = worst.max(r);
                        assert!(r < 1e-12, "{act:?} n_L={n_out} beta={beta} {mode:?}: {r:e}");
                    }
                }
            }
        }
    }
    eprintln!("worst relative difference structured vs contraction: {worst:e}");
}

#[test]
fn contraction_over_several_parameter_chunks_equals_structured() {
    // P = 10903 > CHUNK_BUDGET / (N·n_L): the contraction runs over two parameter chunks.
    let (n, d) = (150, 4);
    let nw = net(vec![d, 100, 100, 3], Activation::Tanh, 0.5, 9);
    assert!(nw.num_params() > empirical::contraction::chunk_columns(nw.num_params(), n * 3));
    let x = points(n, d, 0.4);
    for mode in [KernelMode::Trace, KernelMode::Full] {
        let s = kernel(&nw, &x, n, None, mode, KernelMethod::Structured);
        let c = kernel(&nw, &x, n, None, mode, KernelMethod::JacobianContraction);
        let r = rel_diff(&s, &c);
        assert!(r < 1e-12, "{mode:?}: {r:e}");
    }
}

#[test]
fn symmetric_shortcut_matches_general_path_and_is_symmetric() {
    let (n, d) = (300, 5);
    let x = points(n, d, 0.9);
    let copy = x.clone();
    for n_out in [1, 2] {
        let nw = net(vec![d, 20, 20, n_out], Activation::Relu, 0.1, 4);
        for mode in [KernelMode::Trace, KernelMode::Full] {
            for method in [KernelMethod::Structured, KernelMethod::JacobianContraction] {
                let sym = kernel(&nw, &x, n, None, mode, method);
                let gen = kernel(&nw, &x, n, Some((&copy, n)), mode, method);
                let m = if mode == KernelMode::Full {
                    n * n_out
                } else {
                    n
                };
                for i in 0..m {
                    for j in 0..m {
                        assert_eq!(sym[i * m + j].to_bits(), sym[j * m + i].to_bits());
                        if j <= i {
                            // Same tiles, same operations: the lower triangle is bit-identical.
                            assert_eq!(sym[i * m + j].to_bits(), gen[i * m + j].to_bits());
                        }
                    }
                }
                assert!(rel_diff(&sym, &gen) < 1e-13);
            }
        }
    }
}

#[test]
fn trace_mode_is_mean_of_full_block_diagonals() {
    let (n1, n2, d, k) = (40, 30, 3, 4);
    let nw = net(vec![d, 10, 9, k], Activation::Erf, 0.3, 8);
    let x1 = points(n1, d, 0.0);
    let x2 = points(n2, d, 1.0);
    let full = kernel(
        &nw,
        &x1,
        n1,
        Some((&x2, n2)),
        KernelMode::Full,
        KernelMethod::Structured,
    );
    let tr = kernel(
        &nw,
        &x1,
        n1,
        Some((&x2, n2)),
        KernelMode::Trace,
        KernelMethod::Structured,
    );
    let mut want = vec![0.0; n1 * n2];
    for i in 0..n1 {
        for j in 0..n2 {
            want[i * n2 + j] = (0..k)
                .map(|a| full[(i * k + a) * n2 * k + j * k + a])
                .sum::<f64>()
                / k as f64;
        }
    }
    assert!(rel_diff(&tr, &want) < 1e-13);
}

#[test]
fn auto_follows_the_cost_formula() {
    let wide = net(vec![10, 64, 64, 1], Activation::Relu, 0.1, 1);
    let c = empirical::flop_count(&wide, 100, 100, true, KernelMode::Trace);
    assert!(c.structured < c.contraction);
    assert_eq!(
        empirical::choose_method(&wide, 100, 100, true, KernelMode::Trace, KernelMethod::Auto),
        KernelMethod::Structured
    );
    // A width-1 chain: P is tiny and the per-layer Hadamard products dominate.
    let thin = net(vec![1, 1, 1, 1, 1, 1, 1], Activation::Tanh, 0.1, 1);
    let c = empirical::flop_count(&thin, 100, 100, true, KernelMode::Trace);
    assert!(c.contraction < c.structured, "{c:?}");
    let x = points(50, 1, 0.2);
    let auto = kernel(&thin, &x, 50, None, KernelMode::Trace, KernelMethod::Auto);
    let con = kernel(
        &thin,
        &x,
        50,
        None,
        KernelMode::Trace,
        KernelMethod::JacobianContraction,
    );
    assert_eq!(auto, con);
}

#[test]
fn bit_identical_at_one_and_three_threads() {
    let (n1, n2, d) = (300, 140, 6);
    let x1 = points(n1, d, 0.3);
    let x2 = points(n2, d, 1.9);
    let nw = net(vec![d, 150, 140, 2], Activation::Tanh, 0.2, 3);
    let run = || {
        let mut all = Vec::new();
        for mode in [KernelMode::Trace, KernelMode::Full] {
            for method in [KernelMethod::Structured, KernelMethod::JacobianContraction] {
                all.push(kernel(&nw, &x1, n1, None, mode, method));
                all.push(kernel(&nw, &x1, n1, Some((&x2, n2)), mode, method));
            }
        }
        let mut jac = vec![0.0; n1 * 2 * nw.num_params()];
        empirical::jacobian(
            &nw,
            MatRef::from_row_major(&x1, n1, d),
            ntk::linalg::MatMut::from_row_major(&mut jac, n1 * 2, nw.num_params()),
            &mut ntk::parallel::Progress::none(),
        )
        .unwrap();
        all.push(jac);
        all
    };
    ntk::parallel::set_num_threads(1).unwrap();
    let one = run();
    ntk::parallel::set_num_threads(3).unwrap();
    let three = run();
    ntk::parallel::set_num_threads(0).unwrap();
    for (a, b) in one.iter().zip(&three) {
        assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}
