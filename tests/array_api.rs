//! The ndarray API (`ntk::array`) equals the strided path bit for bit, for contiguous,
//! transposed (column-major) and stepped (every other row, reversed) input views.

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
    let a = Array2::from_shape_vec((n, D), x.to_vec()).unwrap();
    let t = a.t().as_standard_layout().into_owned(); // D × n, row-major
    let mut big = Array2::from_elem((2 * n, D), f64::NAN);
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
