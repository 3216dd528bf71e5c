//! Limit-kernel tiles: blocks from prepared points assembled equal `limit_kernel` bit for bit
//! (NNGP, Σ̇ and NTK; X2 = X1 through one shared handle and two point sets; ReLU, leaky ReLU and
//! erf closed forms; 1 and 3 threads); a ReLU entry matches an independent arc-cosine
//! recursion; ranges, shapes and points prepared for another kernel are rejected.

mod common;

use ntk::activation::Activation;
use ntk::kernel::limit::prepared::{limit_tile, LimitPoints};
use ntk::kernel::limit::{limit_kernel, BlockOutputs, LimitOutputs, LimitSpec};
use ntk::linalg::{MatMut, MatRef};
use ntk::parallel::Progress;
use ntk::Error;

use common::points;

/// The three kernels of (x1, x2) by `limit_kernel`, row-major.
fn full(
    spec: &LimitSpec,
    x1: &[f64],
    n1: usize,
    x2: Option<(&[f64], usize)>,
    d: usize,
) -> [Vec<f64>; 3] {
    let n2 = x2.map_or(n1, |v| v.1);
    let mut k = [vec![0.0; n1 * n2], vec![0.0; n1 * n2], vec![0.0; n1 * n2]];
    let [a, b, c] = &mut k;
    limit_kernel(
        spec,
        MatRef::from_row_major(x1, n1, d),
        x2.map(|(x, n)| MatRef::from_row_major(x, n, d)),
        LimitOutputs {
            nngp: Some(MatMut::from_row_major(a, n1, n2)),
            sigma_dot: Some(MatMut::from_row_major(b, n1, n2)),
            ntk: Some(MatMut::from_row_major(c, n1, n2)),
        },
        &mut Progress::none(),
    )
    .unwrap();
    k
}

fn assembled(
    p1: &LimitPoints,
    p2: &LimitPoints,
    rcuts: &[usize],
    ccuts: &[usize],
) -> [Vec<f64>; 3] {
    let (n1, n2) = (p1.len(), p2.len());
    let mut k = [
        vec![f64::NAN; n1 * n2],
        vec![f64::NAN; n1 * n2],
        vec![f64::NAN; n1 * n2],
    ];
    for r in rcuts.windows(2) {
        for c in ccuts.windows(2) {
            let [a, b, t] = &mut k;
            let mut va = MatMut::from_row_major(a, n1, n2);
            let mut vb = MatMut::from_row_major(b, n1, n2);
            let mut vt = MatMut::from_row_major(t, n1, n2);
            let outs = BlockOutputs {
                nngp: Some(va.block_mut(r[0], r[1], c[0], c[1])),
                sigma_dot: Some(vb.block_mut(r[0], r[1], c[0], c[1])),
                ntk: Some(vt.block_mut(r[0], r[1], c[0], c[1])),
            };
            limit_tile(
                p1,
                (r[0], r[1]),
                p2,
                (c[0], c[1]),
                outs,
                &mut Progress::none(),
            )
            .unwrap();
        }
    }
    k
}

fn same_bits(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len());
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x.to_bits(), y.to_bits(), "{what}: element {k}: {x} vs {y}");
    }
}

fn check_bitwise(
    spec: &LimitSpec,
    n1: usize,
    n2: usize,
    d: usize,
    rc: &[usize],
    cc: &[usize],
    cc2: &[usize],
) {
    let x1 = points(n1, d, 0.0);
    let x2 = points(n2, d, 2.1);
    let p1 = LimitPoints::new(
        spec,
        MatRef::from_row_major(&x1, n1, d),
        &mut Progress::none(),
    )
    .unwrap();
    let p2 = LimitPoints::new(
        spec,
        MatRef::from_row_major(&x2, n2, d),
        &mut Progress::none(),
    )
    .unwrap();
    let names = ["nngp", "sigma_dot", "ntk"];
    let k = full(spec, &x1, n1, None, d);
    let t = assembled(&p1, &p1, rc, cc);
    for q in 0..3 {
        same_bits(
            &t[q],
            &k[q],
            &format!("{:?} symmetric {}", spec.activation, names[q]),
        );
    }
    let k = full(spec, &x1, n1, Some((&x2, n2)), d);
    let t = assembled(&p1, &p2, rc, cc2);
    for q in 0..3 {
        same_bits(
            &t[q],
            &k[q],
            &format!("{:?} two sets {}", spec.activation, names[q]),
        );
    }
}

#[test]
fn tiles_equal_full_limit_kernels_bitwise() {
    for threads in [1, 3] {
        ntk::parallel::set_num_threads(threads).unwrap();
        for act in [
            Activation::Relu,
            Activation::Erf,
            Activation::LeakyRelu(0.2),
        ] {
            let spec = LimitSpec::new(5, act, 0.1);
            check_bitwise(
                &spec,
                300,
                70,
                7,
                &[0, 1, 130, 256, 300],
                &[0, 99, 128, 257, 300],
                &[0, 13, 70],
            );
        }
    }
    ntk::parallel::set_num_threads(0).unwrap();
}

/// Independent ReLU reference: the arc-cosine recursion written out per pair.
fn relu_reference(x: &[f64], y: &[f64], depth: usize, beta: f64) -> (f64, f64) {
    let n0 = x.len() as f64;
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>() / n0;
    let b2 = beta * beta;
    let (mut sxx, mut syy, mut sxy) = (dot(x, x) + b2, dot(y, y) + b2, dot(x, y) + b2);
    let mut theta = sxy;
    for _ in 1..depth {
        let c = (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0);
        let t = c.acos();
        let pi = std::f64::consts::PI;
        let e = (sxx * syy).sqrt() * ((pi - t) * c + (1.0 - c * c).sqrt()) / (2.0 * pi);
        let ed = (pi - t) / (2.0 * pi);
        sxx = sxx / 2.0 + b2;
        syy = syy / 2.0 + b2;
        sxy = e + b2;
        theta = theta * ed + sxy;
    }
    (sxy, theta)
}

#[test]
fn relu_tile_matches_arc_cosine_recursion() {
    let (n, d, depth, beta) = (20, 6, 5, 0.1);
    let x = points(n, d, 0.3);
    let spec = LimitSpec::new(depth, Activation::Relu, beta);
    let p = LimitPoints::new(
        &spec,
        MatRef::from_row_major(&x, n, d),
        &mut Progress::none(),
    )
    .unwrap();
    let (mut nngp, mut ntk) = (vec![0.0; 5 * 8], vec![0.0; 5 * 8]);
    limit_tile(
        &p,
        (3, 8),
        &p,
        (12, 20),
        BlockOutputs {
            nngp: Some(MatMut::from_row_major(&mut nngp, 5, 8)),
            sigma_dot: None,
            ntk: Some(MatMut::from_row_major(&mut ntk, 5, 8)),
        },
        &mut Progress::none(),
    )
    .unwrap();
    for a in 0..5 {
        for b in 0..8 {
            let (i, j) = (3 + a, 12 + b);
            let (s, t) =
                relu_reference(&x[i * d..(i + 1) * d], &x[j * d..(j + 1) * d], depth, beta);
            assert!(
                (nngp[a * 8 + b] - s).abs() <= 1e-12 * s.abs(),
                "nngp ({i},{j}): {} vs {s}",
                nngp[a * 8 + b]
            );
            assert!(
                (ntk[a * 8 + b] - t).abs() <= 1e-12 * t.abs(),
                "ntk ({i},{j}): {} vs {t}",
                ntk[a * 8 + b]
            );
        }
    }
}

#[test]
fn ranges_shapes_and_mismatched_points_are_rejected() {
    let x = points(10, 3, 0.0);
    let xv = MatRef::from_row_major(&x, 10, 3);
    let spec = LimitSpec::new(3, Activation::Relu, 0.1);
    let p = LimitPoints::new(&spec, xv, &mut Progress::none()).unwrap();
    let mut buf = vec![7.0; 100];
    let mut ok = vec![0.0; 100];
    assert!(limit_tile(
        &p,
        (0, 10),
        &p,
        (0, 10),
        BlockOutputs {
            nngp: None,
            sigma_dot: None,
            ntk: Some(MatMut::from_row_major(&mut ok, 10, 10))
        },
        &mut Progress::none()
    )
    .is_ok());
    let mut run = |p1: &LimitPoints,
                   r: (usize, usize),
                   p2: &LimitPoints,
                   c: (usize, usize),
                   shape: (usize, usize)| {
        let out = BlockOutputs {
            nngp: None,
            sigma_dot: None,
            ntk: Some(MatMut::from_row_major(&mut buf, shape.0, shape.1)),
        };
        limit_tile(p1, r, p2, c, out, &mut Progress::none())
    };
    let invalid = |r: Result<(), Error>| matches!(r, Err(Error::InvalidArgument(_)));
    assert!(invalid(run(&p, (4, 4), &p, (0, 2), (0, 2))));
    assert!(invalid(run(&p, (5, 4), &p, (0, 2), (1, 2))));
    assert!(invalid(run(&p, (0, 11), &p, (0, 2), (11, 2))));
    assert!(invalid(run(&p, (0, 2), &p, (8, 12), (2, 4))));
    assert!(invalid(run(&p, (0, 2), &p, (0, 3), (2, 4))));
    for other in [
        LimitSpec::new(4, Activation::Relu, 0.1),
        LimitSpec::new(3, Activation::Erf, 0.1),
        LimitSpec::new(3, Activation::LeakyRelu(0.01), 0.1),
        LimitSpec::new(3, Activation::Relu, 0.2),
    ] {
        let q = LimitPoints::new(&other, xv, &mut Progress::none()).unwrap();
        assert!(
            invalid(run(&p, (0, 2), &q, (0, 3), (2, 3))),
            "{:?} accepted",
            other
        );
    }
    let x4 = points(10, 4, 0.0);
    let q = LimitPoints::new(
        &spec,
        MatRef::from_row_major(&x4, 10, 4),
        &mut Progress::none(),
    )
    .unwrap();
    assert!(invalid(run(&p, (0, 2), &q, (0, 3), (2, 3))));
    // No output at all.
    let none = BlockOutputs {
        nngp: None,
        sigma_dot: None,
        ntk: None,
    };
    assert!(matches!(
        limit_tile(&p, (0, 2), &p, (0, 2), none, &mut Progress::none()),
        Err(Error::InvalidArgument(_))
    ));
    assert!(buf.iter().all(|&v| v == 7.0), "out written on error");
    // Non-finite points are rejected when preparing.
    let mut bad = x.clone();
    bad[7] = f64::NAN;
    assert!(matches!(
        LimitPoints::new(
            &spec,
            MatRef::from_row_major(&bad, 10, 3),
            &mut Progress::none()
        ),
        Err(Error::NonFinite(_))
    ));
}

/// Activations without a closed form use the nested pair quadrature for |rho| > 0.6, whose
/// result depends on the order of its two points in the last bits. With one handle for rows and
/// columns, a block above the diagonal must still equal ntk_kernel_limit with x2 = NULL (which
/// computes the lower triangle and mirrors it) bit for bit. Points: near-duplicates and a
/// near-negation (|rho| > 0.6 between them) and an independent one.
#[test]
fn same_handle_blocks_above_the_diagonal_match_for_numerical_activations() {
    let (n, d) = (4, 2);
    let x = vec![1.0, 0.5, 1.1, 0.3, -0.9, -0.6, 0.2, -1.4];
    for act in [Activation::Tanh, Activation::Gelu] {
        let spec = LimitSpec::new(3, act, 0.1);
        let p = LimitPoints::new(
            &spec,
            MatRef::from_row_major(&x, n, d),
            &mut Progress::none(),
        )
        .unwrap();
        let k = full(&spec, &x, n, None, d);
        // Every block of the 4 x 4 kernel.
        for (r, c) in [
            ((0, 1), (1, 4)),
            ((0, 4), (0, 4)),
            ((1, 3), (2, 4)),
            ((0, 2), (0, 2)),
        ] {
            let (h, w) = (r.1 - r.0, c.1 - c.0);
            let mut t = [vec![0.0; h * w], vec![0.0; h * w], vec![0.0; h * w]];
            let [a, b, e] = &mut t;
            limit_tile(
                &p,
                r,
                &p,
                c,
                BlockOutputs {
                    nngp: Some(MatMut::from_row_major(a, h, w)),
                    sigma_dot: Some(MatMut::from_row_major(b, h, w)),
                    ntk: Some(MatMut::from_row_major(e, h, w)),
                },
                &mut Progress::none(),
            )
            .unwrap();
            for q in 0..3 {
                let want: Vec<f64> = (r.0..r.1)
                    .flat_map(|i| (c.0..c.1).map(move |j| (i, j)))
                    .map(|(i, j)| k[q][i * n + j])
                    .collect();
                same_bits(
                    &t[q],
                    &want,
                    &format!("{:?} block {r:?}x{c:?} kernel {q}", spec.activation),
                );
            }
        }
    }
}
