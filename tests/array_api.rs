//! The ndarray API (`ntk::array`) equals the strided path bit for bit, for contiguous,
//! transposed (column-major) and stepped (every other row, reversed) input views, and for
//! transposed and reversed output views (`solve_into`).

mod common;

use common::{net, points};
use ndarray::{s, Array2, ArrayView2};
use ntk::activation::Activation;
use ntk::kernel::empirical::{self, KernelMethod, KernelMode};
use ntk::kernel::limit::{limit_kernel, LimitOutputs, LimitSpec};
use ntk::linalg::{MatMut, MatRef};
use ntk::parallel::Progress;

const D: usize = 4;

fn bits(a: &[f64]) -> Vec<u64> {
    a.iter().map(|v| v.to_bits()).collect()
}

fn row_major(a: &Array2<f64>) -> Vec<f64> {
    a.iter().copied().collect()
}

/// The same n × D points as three array layouts: standard, a transposed column-major copy
/// viewed back (strides (1, n)), and every other row of a 2n-row array, reversed.
fn layouts(x: &[f64], n: usize) -> (Array2<f64>, Array2<f64>, Array2<f64>) {
    layouts_rc(x, n, D)
}

/// [`layouts`] for any n × d row-major matrix.
fn layouts_rc(x: &[f64], n: usize, d: usize) -> (Array2<f64>, Array2<f64>, Array2<f64>) {
    let a = Array2::from_shape_vec((n, d), x.to_vec()).unwrap();
    let t = a.t().as_standard_layout().into_owned(); // d × n, row-major
    let mut big = Array2::from_elem((2 * n, d), f64::NAN);
    for i in 0..n {
        big.row_mut(2 * n - 1 - 2 * i).assign(&a.row(i));
    }
    (a, t, big)
}

fn views<'a>(l: &'a (Array2<f64>, Array2<f64>, Array2<f64>)) -> [ArrayView2<'a, f64>; 3] {
    [l.0.view(), l.1.t(), l.2.slice(s![..;-2, ..])]
}

#[test]
fn views_are_zero_copy_with_the_same_strides() {
    let x = points(5, D, 0.0);
    let l = layouts(&x, 5);
    for v in views(&l) {
        let m = ntk::array::mat_ref(v);
        assert_eq!(m.as_ptr(), v.as_ptr());
        assert_eq!((m.rows(), m.cols()), v.dim());
        assert_eq!(
            [m.row_stride(), m.col_stride()],
            [v.strides()[0], v.strides()[1]]
        );
        for i in 0..5 {
            for j in 0..D {
                assert_eq!(m.at(i, j).to_bits(), x[i * D + j].to_bits());
            }
        }
    }
    // The stepped view really is non-contiguous and the transposed one column-major.
    let [_, t, st] = views(&l);
    assert_eq!(t.strides(), &[1, 5]);
    assert_eq!(st.strides(), &[-2 * D as isize, 1]);
}

#[test]
fn forward_and_empirical_ntk_equal_the_strided_path() {
    let nw = net(vec![D, 9, 7, 2], Activation::Tanh, 0.3, 5);
    let (n1, n2) = (6, 4);
    let (x1, x2) = (points(n1, D, 0.0), points(n2, D, 1.0));
    let (l1, l2) = (layouts(&x1, n1), layouts(&x2, n2));

    let mut f = vec![0.0; n1 * 2];
    nw.forward(
        MatRef::from_row_major(&x1, n1, D),
        MatMut::from_row_major(&mut f, n1, 2),
    )
    .unwrap();
    for mode in [KernelMode::Trace, KernelMode::Full] {
        for method in [KernelMethod::JacobianContraction, KernelMethod::Structured] {
            for two in [false, true] {
                let (want, _, _) = empirical::empirical_ntk_vec(
                    &nw,
                    MatRef::from_row_major(&x1, n1, D),
                    two.then(|| MatRef::from_row_major(&x2, n2, D)),
                    mode,
                    method,
                )
                .unwrap();
                for (v1, v2) in views(&l1).into_iter().zip(views(&l2)) {
                    let got =
                        ntk::array::empirical_ntk_with(&nw, v1, two.then_some(v2), mode, method)
                            .unwrap();
                    assert_eq!(
                        bits(&row_major(&got)),
                        bits(&want),
                        "{mode:?} {method:?} {two}"
                    );
                }
            }
        }
    }
    for v in views(&l1) {
        assert_eq!(
            bits(&row_major(&ntk::array::forward(&nw, v).unwrap())),
            bits(&f)
        );
        let auto = ntk::array::empirical_ntk(&nw, v, None).unwrap();
        let (want, _, _) = empirical::empirical_ntk_vec(
            &nw,
            MatRef::from_row_major(&x1, n1, D),
            None,
            KernelMode::Trace,
            KernelMethod::Auto,
        )
        .unwrap();
        assert_eq!(bits(&row_major(&auto)), bits(&want));
    }
    // Errors pass through: wrong number of columns.
    let bad = Array2::<f64>::zeros((3, D + 1));
    assert!(matches!(
        ntk::array::forward(&nw, bad.view()),
        Err(ntk::Error::InvalidArgument(_))
    ));
}

#[test]
fn limit_kernels_equal_the_strided_path() {
    let (n1, n2) = (7, 5);
    let (x1, x2) = (points(n1, D, 0.3), points(n2, D, 2.0));
    let (l1, l2) = (layouts(&x1, n1), layouts(&x2, n2));
    for act in [Activation::Relu, Activation::Erf, Activation::Tanh] {
        let spec = LimitSpec::new(3, act.clone(), 0.2);
        for two in [false, true] {
            let m = if two { n2 } else { n1 };
            let (mut nngp, mut ntk) = (vec![0.0; n1 * m], vec![0.0; n1 * m]);
            limit_kernel(
                &spec,
                MatRef::from_row_major(&x1, n1, D),
                two.then(|| MatRef::from_row_major(&x2, n2, D)),
                LimitOutputs {
                    nngp: Some(MatMut::from_row_major(&mut nngp, n1, m)),
                    sigma_dot: None,
                    ntk: Some(MatMut::from_row_major(&mut ntk, n1, m)),
                },
                &mut Progress::none(),
            )
            .unwrap();
            for (v1, v2) in views(&l1).into_iter().zip(views(&l2)) {
                let k = ntk::array::limit_kernels(&spec, v1, two.then_some(v2)).unwrap();
                assert_eq!(bits(&row_major(&k.nngp)), bits(&nngp), "{act:?} {two}");
                assert_eq!(bits(&row_major(&k.ntk)), bits(&ntk), "{act:?} {two}");
            }
        }
    }
}

#[test]
fn readme_rust_example_is_the_doctest() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let src = std::fs::read_to_string(root.join("src/array.rs")).unwrap();
    let block = readme
        .split("```rust\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a ```rust block in README.md");
    let doc: Vec<&str> = src
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    let lines: Vec<&str> = block.lines().collect();
    assert!(lines.len() > 5);
    assert!(
        doc.windows(lines.len()).any(|w| w == lines.as_slice()),
        "README's Rust example differs from the ntk::array doctest"
    );
}

/// The limit NNGP and NTK (ReLU, depth 3) between `x1` (n1 × D) and `x2` (n2 × D) or x1 itself,
/// row-major: symmetric positive definite on distinct points when x2 is None.
fn limit_pair(x1: &[f64], n1: usize, x2: Option<(&[f64], usize)>) -> (Vec<f64>, Vec<f64>) {
    let spec = LimitSpec::new(3, Activation::Relu, 0.2);
    let m = x2.map_or(n1, |(_, n2)| n2);
    let (mut nngp, mut ntk) = (vec![0.0; n1 * m], vec![0.0; n1 * m]);
    limit_kernel(
        &spec,
        MatRef::from_row_major(x1, n1, D),
        x2.map(|(x, n2)| MatRef::from_row_major(x, n2, D)),
        LimitOutputs {
            nngp: Some(MatMut::from_row_major(&mut nngp, n1, m)),
            sigma_dot: None,
            ntk: Some(MatMut::from_row_major(&mut ntk, n1, m)),
        },
        &mut Progress::none(),
    )
    .unwrap();
    (nngp, ntk)
}

fn rm(x: &[f64], r: usize, c: usize) -> MatRef<'_> {
    MatRef::from_row_major(x, r, c)
}

#[test]
fn flow_equals_the_strided_path() {
    use ntk::flow::{Flow, FlowMethod, FlowOptions};
    use ntk::loss::Cost;
    let (n, m, k) = (6, 3, 2);
    let (xt, xs) = (points(n, D, 0.0), points(m, D, 1.0));
    let (_, kxx) = limit_pair(&xt, n, None);
    let (_, ksx) = limit_pair(&xs, m, Some((&xt, n)));
    let y: Vec<f64> = common::wave(n * k, f64::sin, 0.9, 0.2, 1.0);
    let f0: Vec<f64> = common::wave(n * k, f64::cos, 0.4, 0.0, 0.3);
    let fs0: Vec<f64> = common::wave(m * k, f64::cos, 0.7, 0.1, 0.2);
    let (lk, ly, lf, ls, lfs) = (
        layouts_rc(&kxx, n, n),
        layouts_rc(&y, n, k),
        layouts_rc(&f0, n, k),
        layouts_rc(&ksx, m, n),
        layouts_rc(&fs0, m, k),
    );
    for (cost, method) in [
        (Cost::Mse, FlowMethod::Eigen),
        (Cost::Mse, FlowMethod::Krylov),
        (Cost::CrossEntropy, FlowMethod::Ode),
    ] {
        let options = FlowOptions {
            method,
            ..FlowOptions::default()
        };
        let mut want = Flow::new(
            rm(&kxx, n, n),
            rm(&y, n, k),
            rm(&f0, n, k),
            Some((rm(&ksx, m, n), rm(&fs0, m, k))),
            cost,
            options,
        )
        .unwrap();
        want.set_time(0.7).unwrap();
        let views5 = views(&lk)
            .into_iter()
            .zip(views(&ly))
            .zip(views(&lf))
            .zip(views(&ls))
            .zip(views(&lfs));
        for ((((vk, vy), vf), vs), vfs) in views5 {
            let mut got = ntk::array::flow(vk, vy, vf, Some((vs, vfs)), cost, options).unwrap();
            assert_eq!(ntk::array::flow_outputs(&got).dim(), (n, k));
            got.set_time(0.7).unwrap();
            let (fo, fp) = (
                ntk::array::flow_outputs(&got),
                ntk::array::flow_predictions(&got),
            );
            assert_eq!((fo.dim(), fp.dim()), ((n, k), (m, k)));
            assert_eq!(
                bits(&fo.iter().copied().collect::<Vec<_>>()),
                bits(want.outputs()),
                "{cost:?} {method:?}"
            );
            assert_eq!(
                bits(&fp.iter().copied().collect::<Vec<_>>()),
                bits(want.predictions()),
                "{cost:?} {method:?}"
            );
        }
    }
    // Without test points the prediction view is 0 × k; errors pass through (y not N × k).
    let f = ntk::array::flow(
        lk.0.view(),
        ly.0.view(),
        lf.0.view(),
        None,
        Cost::Mse,
        FlowOptions::default(),
    )
    .unwrap();
    assert_eq!(ntk::array::flow_predictions(&f).dim(), (0, k));
    assert!(matches!(
        ntk::array::flow(
            lk.0.view(),
            ly.0.view(),
            ls.0.view(),
            None,
            Cost::Mse,
            FlowOptions::default()
        ),
        Err(ntk::Error::InvalidArgument(_))
    ));
}

#[test]
fn train_and_spectrum_equal_the_strided_path() {
    use ntk::loss::Cost;
    let (n, k, steps) = (5, 2, 7);
    let x = points(n, D, 0.5);
    let y = common::wave(n * k, f64::sin, 1.3, 0.0, 0.5);
    let (lx, ly) = (layouts(&x, n), layouts_rc(&y, n, k));
    let mut want_net = net(vec![D, 12, k], Activation::Tanh, 0.2, 9);
    let mut want_hist = vec![0.0; steps + 1];
    ntk::train::train(
        &mut want_net,
        rm(&x, n, D),
        rm(&y, n, k),
        Cost::Mse,
        0.3,
        steps,
        Some(&mut want_hist),
        &mut Progress::none(),
    )
    .unwrap();
    for (vx, vy) in views(&lx).into_iter().zip(views(&ly)) {
        let mut got_net = net(vec![D, 12, k], Activation::Tanh, 0.2, 9);
        let hist = ntk::array::train(&mut got_net, vx, vy, Cost::Mse, 0.3, steps).unwrap();
        assert_eq!(bits(hist.as_slice().unwrap()), bits(&want_hist));
        assert_eq!(bits(got_net.params()), bits(want_net.params()));
    }
    // Errors pass through: η ≤ 0 leaves the network untouched.
    let mut bad = net(vec![D, 12, k], Activation::Tanh, 0.2, 9);
    let before = bad.params().to_vec();
    assert!(ntk::array::train(&mut bad, lx.0.view(), ly.0.view(), Cost::Mse, 0.0, 3).is_err());
    assert_eq!(bits(bad.params()), bits(&before));

    let (_, kxx) = limit_pair(&x, n, None);
    let want = ntk::spectrum::eigenvalues(rm(&kxx, n, n)).unwrap();
    let want_c = ntk::spectrum::condition(rm(&kxx, n, n)).unwrap();
    for v in views(&layouts_rc(&kxx, n, n)) {
        let got = ntk::array::eigenvalues(v).unwrap();
        assert_eq!(bits(got.as_slice().unwrap()), bits(&want));
        let c = ntk::array::condition(v).unwrap();
        assert_eq!(
            bits(&[c.0, c.1, c.2]),
            bits(&[want_c.0, want_c.1, want_c.2])
        );
    }
}

#[test]
fn predictive_law_equals_the_strided_path() {
    use ntk::predict::{CovKind, Law, Predictor, Ridge, TestSet};
    let (n, m, k) = (6, 4, 2);
    let (xt, xs) = (points(n, D, 0.0), points(m, D, 1.7));
    let (sxx, txx) = limit_pair(&xt, n, None);
    let (ssx, tsx) = limit_pair(&xs, m, Some((&xt, n)));
    let (sss, _) = limit_pair(&xs, m, None);
    let y = common::wave(n * k, f64::sin, 0.8, 0.3, 1.0);
    let ridge = Ridge::Relative(1e-3);
    let p = Predictor::new(
        Law::Ntk,
        rm(&txx, n, n),
        Some(rm(&sxx, n, n)),
        rm(&y, n, k),
        ridge,
        &mut Progress::none(),
    )
    .unwrap();
    let ts = TestSet::new(
        &p,
        rm(&tsx, m, n),
        Some(rm(&ssx, m, n)),
        Some(rm(&sss, m, m)),
        &mut Progress::none(),
    )
    .unwrap();
    let (lt, ls, ly, lts, lss, lsss) = (
        layouts_rc(&txx, n, n),
        layouts_rc(&sxx, n, n),
        layouts_rc(&y, n, k),
        layouts_rc(&tsx, m, n),
        layouts_rc(&ssx, m, n),
        layouts_rc(&sss, m, m),
    );
    let all = views(&lt)
        .into_iter()
        .zip(views(&ls))
        .zip(views(&ly))
        .zip(views(&lts))
        .zip(views(&lss))
        .zip(views(&lsss));
    for (((((vt, vs), vy), vts), vss), vsss) in all {
        let pa = ntk::array::predictor(Law::Ntk, vt, Some(vs), vy, ridge).unwrap();
        assert_eq!(bits(pa.eigenvalues()), bits(p.eigenvalues()));
        let ta = ntk::array::test_set(&pa, vts, Some(vss), Some(vsss)).unwrap();
        for t in [0.0, 1.5, f64::INFINITY] {
            for cov in [CovKind::None, CovKind::Full, CovKind::Diagonal] {
                let want = ts.law(t, cov, &mut Progress::none()).unwrap();
                let got = ntk::array::law(&ta, t, cov).unwrap();
                assert_eq!(got.mean.dim(), (m, k));
                assert_eq!(bits(&row_major(&got.mean)), bits(&want.mean));
                match (cov, &got.cov) {
                    (CovKind::None, None) => assert!(want.cov.is_empty()),
                    (CovKind::Full, Some(c)) => {
                        assert_eq!(c.dim(), (m, m));
                        assert_eq!(bits(&row_major(c)), bits(&want.cov));
                    }
                    (CovKind::Diagonal, Some(c)) => {
                        assert_eq!(c.dim(), (m, 1));
                        assert_eq!(bits(&row_major(c)), bits(&want.cov));
                    }
                    other => panic!("covariance {other:?}"),
                }
            }
        }
    }
    // From points: ensemble_law equals ensemble_law_points.
    let spec = LimitSpec::new(3, Activation::Relu, 0.2);
    let times = [0.5, f64::INFINITY];
    let want = ntk::predict::ensemble_law_points(
        &spec,
        Law::Nngp,
        rm(&xt, n, D),
        rm(&y, n, k),
        rm(&xs, m, D),
        &times,
        CovKind::Diagonal,
        ridge,
        &mut Progress::none(),
    )
    .unwrap();
    let (lxt, lxs) = (layouts(&xt, n), layouts(&xs, m));
    for ((vt, vy), vs) in views(&lxt).into_iter().zip(views(&ly)).zip(views(&lxs)) {
        let got = ntk::array::ensemble_law(
            &spec,
            Law::Nngp,
            vt,
            vy,
            vs,
            &times,
            CovKind::Diagonal,
            ridge,
        )
        .unwrap();
        assert_eq!(got.len(), 2);
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(bits(&row_major(&g.mean)), bits(&w.mean));
            assert_eq!(bits(&row_major(g.cov.as_ref().unwrap())), bits(&w.cov));
        }
    }
}

#[test]
fn solve_equals_the_strided_path_into_any_output_layout() {
    use ntk::solve::{KernelSolver, KernelSource, SolverConfig, SolverKernel};
    let (n, m, k) = (40, 9, 2);
    let (x, xs) = (points(n, D, 0.0), points(m, D, 2.2));
    let y = common::wave(n * k, f64::sin, 0.37, 0.0, 1.0);
    let nw = net(vec![D, 16, 1], Activation::Relu, 0.3, 4);
    let config = SolverConfig {
        cache_bytes: 0,
        precond_rank: 8,
    };
    let (lx, ly, lxs) = (layouts(&x, n), layouts_rc(&y, n, k), layouts(&xs, m));
    for kernel in [SolverKernel::LimitNtk, SolverKernel::EmpiricalTrace] {
        let src = KernelSource::new(&nw, rm(&x, n, D), kernel, &mut Progress::none()).unwrap();
        let s = KernelSolver::new(src, config, &mut Progress::none()).unwrap();
        let mut alpha = vec![0.0; n * k];
        let want_info = s
            .solve(
                1e-3,
                rm(&y, n, k),
                1e-10,
                500,
                MatMut::from_row_major(&mut alpha, n, k),
                &mut Progress::none(),
            )
            .unwrap();
        let mut pred = vec![0.0; m * k];
        s.predict(
            rm(&xs, m, D),
            rm(&alpha, n, k),
            MatMut::from_row_major(&mut pred, m, k),
            &mut Progress::none(),
        )
        .unwrap();
        for ((vx, vy), vxs) in views(&lx).into_iter().zip(views(&ly)).zip(views(&lxs)) {
            let sa = ntk::array::kernel_solver(&nw, vx, kernel, config).unwrap();
            assert_eq!(sa.pivots(), s.pivots());
            let (a, info) = ntk::array::solve(&sa, 1e-3, vy, 1e-10, 500).unwrap();
            assert_eq!(info, want_info);
            assert_eq!(bits(&row_major(&a)), bits(&alpha), "{kernel:?}");
            // Output views: transposed (column-major) and every other row, reversed.
            let mut t = Array2::<f64>::from_elem((k, n), f64::NAN);
            let mut big = Array2::<f64>::from_elem((2 * n, k), f64::NAN);
            for out in [t.view_mut().reversed_axes(), big.slice_mut(s![..;-2, ..])] {
                let mut out = out;
                let i2 = ntk::array::solve_into(&sa, 1e-3, vy, 1e-10, 500, out.view_mut()).unwrap();
                assert_eq!(i2, want_info);
                assert_eq!(bits(&out.iter().copied().collect::<Vec<_>>()), bits(&alpha));
            }
            assert!(
                big.slice(s![..;2, ..]).iter().all(|v| v.is_nan()),
                "stride respected"
            );
            let p = ntk::array::solve_predict(&sa, vxs, a.view()).unwrap();
            assert_eq!(bits(&row_major(&p)), bits(&pred), "{kernel:?}");
            let p2 = ntk::array::solve_predict(&sa, vxs, t.t()).unwrap();
            assert_eq!(bits(&row_major(&p2)), bits(&pred));
        }
    }
    // A wrong-shaped output is rejected and left untouched.
    let sa = ntk::array::kernel_solver(&nw, lx.0.view(), SolverKernel::LimitNngp, config).unwrap();
    let mut small = Array2::<f64>::from_elem((n - 1, k), 7.0);
    assert!(matches!(
        ntk::array::solve_into(&sa, 0.0, ly.0.view(), 1e-10, 100, small.view_mut()),
        Err(ntk::Error::InvalidArgument(_))
    ));
    assert!(small.iter().all(|&v| v == 7.0));
}
