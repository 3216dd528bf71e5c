//! Empirical NTK tiles: blocks assembled from prepared features equal the full kernel bit for bit
//! (both modes, symmetric and two-set kernels, features of a subset of the points, 1 and 3
//! threads); ranges, shapes and features of another network are rejected.

mod common;

use ntk::activation::Activation;
use ntk::kernel::empirical::prepared::{empirical_tile, tile_shape, EmpiricalFeatures};
use ntk::kernel::empirical::{self, KernelMethod, KernelMode};
use ntk::linalg::{MatMut, MatRef};
use ntk::network::Network;
use ntk::parallel::Progress;
use ntk::Error;

fn net(widths: Vec<usize>, seed: u64) -> Network {
    net_with(widths, seed, Activation::Relu)
}

fn net_with(widths: Vec<usize>, seed: u64, activation: Activation) -> Network {
    common::net(widths, activation, 0.3, seed)
}

use common::points;

fn full_kernel(
    net: &Network,
    x1: &[f64],
    n1: usize,
    x2: Option<(&[f64], usize)>,
    mode: KernelMode,
) -> (Vec<f64>, usize, usize) {
    let d = net.input_dim();
    empirical::empirical_ntk_vec(
        net,
        MatRef::from_row_major(x1, n1, d),
        x2.map(|(x, n)| MatRef::from_row_major(x, n, d)),
        mode,
        KernelMethod::Structured,
    )
    .unwrap()
}

/// Assembles the kernel from blocks with the given (irregular) cut points.
fn assembled(
    net: &Network,
    f1: &EmpiricalFeatures,
    f2: &EmpiricalFeatures,
    rcuts: &[usize],
    ccuts: &[usize],
    mode: KernelMode,
) -> Vec<f64> {
    let (rows, cols) = tile_shape(net, 0, f1.len(), 0, f2.len(), mode).unwrap();
    let s = if mode == KernelMode::Full {
        net.output_dim()
    } else {
        1
    };
    let mut out = vec![f64::NAN; rows * cols];
    for r in rcuts.windows(2) {
        for c in ccuts.windows(2) {
            let mut m = MatMut::from_row_major(&mut out, rows, cols);
            let block = m.block_mut(r[0] * s, r[1] * s, c[0] * s, c[1] * s);
            empirical_tile(
                net,
                f1,
                (r[0], r[1]),
                f2,
                (c[0], c[1]),
                mode,
                block,
                &mut Progress::none(),
            )
            .unwrap();
        }
    }
    out
}

fn same_bits(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len());
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x.to_bits(), y.to_bits(), "{what}: element {k}: {x} vs {y}");
    }
}

#[test]
fn tiles_equal_full_kernel_bitwise() {
    let net = net(vec![6, 19, 13, 3], 11);
    let (n1, n2, d) = (150, 70, 6);
    let x1 = points(n1, d, 0.0);
    let x2 = points(n2, d, 1.7);
    let f1 = EmpiricalFeatures::new(&net, MatRef::from_row_major(&x1, n1, d)).unwrap();
    let f2 = EmpiricalFeatures::new(&net, MatRef::from_row_major(&x2, n2, d)).unwrap();
    for threads in [1, 3] {
        ntk::parallel::set_num_threads(threads).unwrap();
        for mode in [KernelMode::Trace, KernelMode::Full] {
            // X2 = X1: the full kernel computes one triangle and mirrors it.
            let (k, _, _) = full_kernel(&net, &x1, n1, None, mode);
            let t = assembled(
                &net,
                &f1,
                &f1,
                &[0, 37, 128, 129, 150],
                &[0, 1, 50, 61, 150],
                mode,
            );
            same_bits(&t, &k, &format!("symmetric {mode:?}, {threads} threads"));
            let t = assembled(&net, &f1, &f1, &[0, 150], &[0, 150], mode);
            same_bits(&t, &k, &format!("symmetric one block {mode:?}"));
            // Two point sets.
            let (k, _, _) = full_kernel(&net, &x1, n1, Some((&x2, n2)), mode);
            let t = assembled(&net, &f1, &f2, &[0, 3, 140, 150], &[0, 33, 70], mode);
            same_bits(&t, &k, &format!("two sets {mode:?}, {threads} threads"));
        }
    }
    ntk::parallel::set_num_threads(0).unwrap();
}

#[test]
fn features_of_a_subset_give_the_same_rows() {
    // A rank of a distributed run prepares only its own rows. Subsets starting and ending off the
    // GEMM micro-panel grid (multiples of 8 rows), smooth σ (σ′ sees every rounding) and
    // non-power-of-two widths (1/√n_l inexact).
    let net = net_with(vec![5, 23, 7, 2], 5, Activation::Tanh);
    let (n, d) = (90, 5);
    let x = points(n, d, 0.4);
    let all = EmpiricalFeatures::new(&net, MatRef::from_row_major(&x, n, d)).unwrap();
    for (r0, r1) in [(31, 77), (0, 45), (1, 90), (83, 90)] {
        let sub =
            EmpiricalFeatures::new(&net, MatRef::from_row_major(&x[r0 * d..r1 * d], r1 - r0, d))
                .unwrap();
        for mode in [KernelMode::Trace, KernelMode::Full] {
            let (k, _, cols) = full_kernel(&net, &x, n, None, mode);
            let s = if mode == KernelMode::Full { 2 } else { 1 };
            let (rows, c) = tile_shape(&net, 0, r1 - r0, 0, n, mode).unwrap();
            assert_eq!(c, cols);
            let mut out = vec![0.0; rows * cols];
            empirical_tile(
                &net,
                &sub,
                (0, r1 - r0),
                &all,
                (0, n),
                mode,
                MatMut::from_row_major(&mut out, rows, cols),
                &mut Progress::none(),
            )
            .unwrap();
            same_bits(
                &out,
                &k[r0 * s * cols..r1 * s * cols],
                &format!("subset rows {r0}..{r1} {mode:?}"),
            );
        }
    }
}

#[test]
fn forward_of_a_row_subset_is_bit_identical() {
    // What the subset property rests on: a point's forward pass does not depend on its batch.
    let net = net_with(vec![7, 29, 13, 3], 8, Activation::Tanh);
    let (n, d) = (100, 7);
    let x = points(n, d, 0.1);
    let mut all = vec![0.0; n * 3];
    net.forward(
        MatRef::from_row_major(&x, n, d),
        MatMut::from_row_major(&mut all, n, 3),
    )
    .unwrap();
    for (r0, r1) in [(0, 1), (3, 50), (13, 100), (99, 100)] {
        let m = r1 - r0;
        let mut sub = vec![0.0; m * 3];
        net.forward(
            MatRef::from_row_major(&x[r0 * d..r1 * d], m, d),
            MatMut::from_row_major(&mut sub, m, 3),
        )
        .unwrap();
        same_bits(
            &sub,
            &all[r0 * 3..r1 * 3],
            &format!("forward rows {r0}..{r1}"),
        );
    }
}

#[test]
fn tile_matches_jacobian_contraction() {
    // Independent check of the values: J1·J2ᵀ from the explicit Jacobian.
    let net = net(vec![3, 9, 7, 2], 2);
    let (n, d) = (12, 3);
    let x = points(n, d, 0.9);
    let (k, rows, cols) = empirical::empirical_ntk_vec(
        &net,
        MatRef::from_row_major(&x, n, d),
        None,
        KernelMode::Full,
        KernelMethod::JacobianContraction,
    )
    .unwrap();
    let f = EmpiricalFeatures::new(&net, MatRef::from_row_major(&x, n, d)).unwrap();
    let t = assembled(&net, &f, &f, &[0, 5, 12], &[0, 7, 12], KernelMode::Full);
    assert_eq!(t.len(), rows * cols);
    let scale = k.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (a, b) in t.iter().zip(&k) {
        assert!((a - b).abs() <= 1e-13 * scale, "{a} vs {b}");
    }
}

#[test]
fn strided_output_view() {
    // A column-major destination, and a block inside a larger matrix.
    let net = net(vec![5, 8, 3], 9);
    let (n, d) = (20, 5);
    let x = points(n, d, 0.2);
    let f = EmpiricalFeatures::new(&net, MatRef::from_row_major(&x, n, d)).unwrap();
    let (k, _, cols) = full_kernel(&net, &x, n, None, KernelMode::Full);
    let (br, bc) = (6 * 3, 9 * 3);
    let mut cm = vec![0.0; br * bc];
    empirical_tile(
        &net,
        &f,
        (4, 10),
        &f,
        (11, 20),
        KernelMode::Full,
        MatMut::from_col_major(&mut cm, br, bc),
        &mut Progress::none(),
    )
    .unwrap();
    for i in 0..br {
        for j in 0..bc {
            assert_eq!(
                cm[j * br + i].to_bits(),
                k[(12 + i) * cols + 33 + j].to_bits()
            );
        }
    }
}

#[test]
fn ranges_and_shapes_are_validated() {
    let net = net(vec![3, 8, 2], 1);
    let x = points(10, 3, 0.0);
    let f = EmpiricalFeatures::new(&net, MatRef::from_row_major(&x, 10, 3)).unwrap();
    let mut buf = vec![7.0; 400];
    let bad = |r: (usize, usize),
               c: (usize, usize),
               shape: (usize, usize),
               mode: KernelMode,
               buf: &mut Vec<f64>| {
        let out = MatMut::from_row_major(buf, shape.0, shape.1);
        empirical_tile(&net, &f, r, &f, c, mode, out, &mut Progress::none())
    };
    for (r, c, shape, mode) in [
        ((3, 3), (0, 2), (0, 2), KernelMode::Trace), // empty row range
        ((4, 3), (0, 2), (1, 2), KernelMode::Trace), // reversed (would underflow)
        ((0, 11), (0, 2), (11, 2), KernelMode::Trace), // past the end
        ((0, 2), (9, 12), (2, 3), KernelMode::Trace), // columns past the end
        ((0, 2), (0, 3), (2, 4), KernelMode::Trace), // wrong out shape
        ((0, 2), (0, 3), (2, 3), KernelMode::Full),  // trace shape in full mode
    ] {
        match bad(r, c, shape, mode, &mut buf) {
            Err(Error::InvalidArgument(_)) => {}
            other => panic!("rows {r:?} cols {c:?} out {shape:?} {mode:?}: {other:?}"),
        }
    }
    assert!(buf.iter().all(|&v| v == 7.0), "out written on error");
}

#[test]
fn features_of_another_network_are_rejected() {
    let a = net(vec![3, 8, 2], 1);
    let x = points(10, 3, 0.0);
    let xv = MatRef::from_row_major(&x, 10, 3);
    let fa = EmpiricalFeatures::new(&a, xv).unwrap();
    let mut out = vec![0.0; 100];
    let run = |n: &Network, f1: &EmpiricalFeatures, f2: &EmpiricalFeatures, out: &mut Vec<f64>| {
        empirical_tile(
            n,
            f1,
            (0, 10),
            f2,
            (0, 10),
            KernelMode::Trace,
            MatMut::from_row_major(out, 10, 10),
            &mut Progress::none(),
        )
    };
    assert!(run(&a, &fa, &fa, &mut out).is_ok());
    // Another seed (same architecture).
    let b = net(vec![3, 8, 2], 2);
    let fb = EmpiricalFeatures::new(&b, xv).unwrap();
    assert!(matches!(
        run(&a, &fa, &fb, &mut out),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        run(&b, &fa, &fb, &mut out),
        Err(Error::InvalidArgument(_))
    ));
    // One parameter changed by one ulp after the features were computed.
    let mut c = a.try_clone().unwrap();
    let p = &mut c.params_mut()[17];
    *p = f64::from_bits(p.to_bits() + 1);
    assert!(matches!(
        run(&c, &fa, &fa, &mut out),
        Err(Error::InvalidArgument(_))
    ));
    // Another architecture (also a different output count).
    let w = net(vec![3, 9, 2], 1);
    assert!(matches!(
        run(&w, &fa, &fa, &mut out),
        Err(Error::InvalidArgument(_))
    ));
    // Another beta.
    let mut cfg = a.config().clone();
    cfg.beta = 0.31;
    let e = Network::new(cfg).unwrap();
    assert!(matches!(
        run(&e, &fa, &fa, &mut out),
        Err(Error::InvalidArgument(_))
    ));
}
