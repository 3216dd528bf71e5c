//! Bit-identity of the limit kernels at 1 and 3 threads (own test binary: it changes the pool).

use ntk::activation::Activation;
use ntk::kernel::limit::{limit_kernel, LimitOutputs, LimitSpec};
use ntk::linalg::{MatMut, MatRef};
use ntk::parallel::{set_num_threads, Progress};

fn run(spec: &LimitSpec, x: &[f64], n: usize, d: usize) -> Vec<f64> {
    let mut a = vec![0.0; n * n];
    let mut b = vec![0.0; n * n];
    limit_kernel(
        spec,
        MatRef::from_row_major(x, n, d),
        None,
        LimitOutputs {
            nngp: Some(MatMut::from_row_major(&mut a, n, n)),
            sigma_dot: None,
            ntk: Some(MatMut::from_row_major(&mut b, n, n)),
        },
        &mut Progress::none(),
    )
    .unwrap();
    a.extend(b);
    a
}

#[test]
fn bit_identical_at_one_and_three_threads() {
    let (n, d) = (333, 11);
    let mut r = ntk::rng::Rng::new(9);
    let x: Vec<f64> = (0..n * d).map(|_| r.normal()).collect();
    for (act, nn) in [
        (Activation::Relu, n),
        (Activation::Erf, n),
        (Activation::Gelu, 150),
    ] {
        let spec = LimitSpec::new(4, act.clone(), 0.1);
        set_num_threads(1).unwrap();
        let one = run(&spec, &x[..nn * d], nn, d);
        set_num_threads(3).unwrap();
        let three = run(&spec, &x[..nn * d], nn, d);
        assert!(
            one.iter()
                .zip(&three)
                .all(|(p, q)| p.to_bits() == q.to_bits()),
            "{act:?}"
        );
    }
    // tanh on 2-D inputs: most pairs are highly correlated, and those with the larger
    // variances take the lazily computed full and extended (512–2048-term) Hermite expansions,
    // filled by whichever thread needs them first.
    let (n, d) = (240, 2);
    let x: Vec<f64> = (0..n * d).map(|_| 1.5 * r.normal()).collect();
    let spec = LimitSpec::new(5, Activation::Tanh, 0.1);
    set_num_threads(1).unwrap();
    let one = run(&spec, &x, n, d);
    set_num_threads(3).unwrap();
    let three = run(&spec, &x, n, d);
    assert!(one
        .iter()
        .zip(&three)
        .all(|(p, q)| p.to_bits() == q.to_bits()));
}
