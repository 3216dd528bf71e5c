//! faer's factorizations (run with a fixed parallel split), the flow and network training give
//! bit-identical results at 1, 2 and 3 threads of the library pool.

mod flow_support;

use flow_support::*;
use ntk::activation::Activation;
use ntk::flow::{Cost, Flow, FlowMethod, FlowOptions};
use ntk::linalg::symmetric::{to_faer, SymEigen};
use ntk::linalg::MatRef;
use ntk::network::{Network, NetworkConfig};
use ntk::parallel::{set_num_threads, Progress};

fn run_all() -> Vec<u64> {
    let n = 400;
    let x = pseudo_random(n * 3, 31);
    let kern = limit_ntk(&x, &x, 3, 4, 0.1, false);
    let xt = pseudo_random(50 * 3, 32);
    let tk = limit_ntk(&xt, &x, 3, 4, 0.1, false);
    let y = pseudo_random(n, 33);
    let f0 = vec![0.0; n];
    let tf0 = vec![0.0; 50];
    let mut bits: Vec<u64> = Vec::new();
    let e = SymEigen::new(&to_faer(MatRef::from_row_major(&kern, n, n)).unwrap(), true).unwrap();
    bits.extend(e.values.iter().map(|v| v.to_bits()));
    let u = e.u();
    bits.extend(
        (0..n)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .map(|(i, j)| u.at(i, j).to_bits()),
    );
    for method in [FlowMethod::Eigen, FlowMethod::Krylov, FlowMethod::Ode] {
        let mut fl = Flow::new(
            MatRef::from_row_major(&kern, n, n),
            MatRef::from_row_major(&y, n, 1),
            MatRef::from_row_major(&f0, n, 1),
            Some((
                MatRef::from_row_major(&tk, 50, n),
                MatRef::from_row_major(&tf0, 50, 1),
            )),
            Cost::Mse,
            FlowOptions {
                method,
                ..Default::default()
            },
        )
        .unwrap();
        fl.set_time(if method == FlowMethod::Ode { 2.0 } else { 30.0 })
            .unwrap();
        bits.extend(
            fl.outputs()
                .iter()
                .chain(fl.predictions())
                .map(|v| v.to_bits()),
        );
    }
    let mut net = Network::new(NetworkConfig {
        widths: vec![3, 300, 300, 1],
        activation: Activation::Relu,
        beta: 0.1,
        seed: 5,
    })
    .unwrap();
    ntk::train::train(
        &mut net,
        MatRef::from_row_major(&x[..150 * 3], 150, 3),
        MatRef::from_row_major(&y[..150], 150, 1),
        Cost::Mse,
        0.5,
        3,
        None,
        &mut Progress::none(),
    )
    .unwrap();
    bits.extend(net.params().iter().map(|v| v.to_bits()));
    bits
}

#[test]
fn bit_identical_at_1_2_3_threads() {
    set_num_threads(1).unwrap();
    let one = run_all();
    for t in [2, 3] {
        set_num_threads(t).unwrap();
        let other = run_all();
        let first = one.iter().zip(&other).position(|(a, b)| a != b);
        assert!(
            first.is_none(),
            "{t} threads differ from 1 at value {first:?}"
        );
    }
}
