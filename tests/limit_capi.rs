//! The C entry point `ntk_kernel_limit`: results equal the Rust API, and every error path
//! returns its status without writing the outputs.

mod common;

use ntk::ffi::limit::ntk_kernel_limit;
use ntk::ffi::network::{ntk_network, ntk_network_config, ntk_network_create, ntk_network_free};
use ntk::ffi::{ntk_matrix, ntk_matrix_mut, ntk_options, ntk_status};
use std::ffi::c_void;
use std::ptr::{null, null_mut};

fn net(activation: i32, widths: &[usize]) -> *mut ntk_network {
    common::c_net(widths, activation, 0.0, 0.2, 1).into_raw()
}

use ntk::ffi::view::row_major_view as m;
use ntk::ffi::view::row_major_view_mut as mm;

#[test]
fn c_api_matches_rust_api_and_handles_column_major_outputs() {
    let d = 3;
    let x: Vec<f64> = (0..7 * d)
        .map(|i| ((i * 37 % 11) as f64 - 5.0) / 3.0)
        .collect();
    let h = net(1, &[d, 10, 10, 1]);
    let mut nngp = vec![0.0; 49];
    let mut ntkv = vec![0.0; 49];
    let mut a = mm(&mut nngp, 7, 7);
    // column-major NTK output
    let mut b = ntk_matrix_mut {
        data: ntkv.as_mut_ptr(),
        rows: 7,
        cols: 7,
        row_stride: 1,
        col_stride: 7,
    };
    let st =
        unsafe { ntk_kernel_limit(h, m(&x, 7, d), null(), &mut a, null_mut(), &mut b, null()) };
    assert_eq!(st, ntk_status::Ok);
    let spec = ntk::kernel::limit::LimitSpec::new(3, ntk::activation::Activation::Relu, 0.2);
    let mut r1 = vec![0.0; 49];
    let mut r2 = vec![0.0; 49];
    ntk::kernel::limit::limit_kernel(
        &spec,
        ntk::linalg::MatRef::from_row_major(&x, 7, d),
        None,
        ntk::kernel::limit::LimitOutputs {
            nngp: Some(ntk::linalg::MatMut::from_row_major(&mut r1, 7, 7)),
            sigma_dot: None,
            ntk: Some(ntk::linalg::MatMut::from_row_major(&mut r2, 7, 7)),
        },
        &mut ntk::parallel::Progress::none(),
    )
    .unwrap();
    assert_eq!(nngp, r1);
    for i in 0..7 {
        for j in 0..7 {
            assert_eq!(ntkv[j * 7 + i], r2[i * 7 + j]);
        }
    }
    unsafe { ntk_network_free(h) };
}

extern "C" fn c_sigma(x: f64, _ud: *mut c_void) -> f64 {
    (2.0 * x - 1.0).tanh()
}
extern "C" fn c_dsigma(x: f64, _ud: *mut c_void) -> f64 {
    // σ′ = 2(1 − tanh²(2x − 1)), deliberately with the cancellation of 1 − t² in the tails
    // (pure rounding noise there), which the adaptive quadrature must tolerate.
    let t = (2.0 * x - 1.0).tanh();
    2.0 * (1.0 - t * t)
}

#[test]
fn c_api_custom_activation_matches_rust_fn_pair() {
    let widths = [2usize, 5, 1];
    let cfg = ntk_network_config {
        widths: widths.as_ptr(),
        num_widths: 3,
        activation: 10,
        activation_param: 0.0,
        beta: 0.3,
        seed: 1,
        custom_sigma: Some(c_sigma),
        custom_dsigma: Some(c_dsigma),
        custom_user_data: null_mut(),
    };
    let mut h = null_mut();
    assert_eq!(unsafe { ntk_network_create(&cfg, &mut h) }, ntk_status::Ok);
    let x = [0.5, -1.0, 3.0, 2.0, 0.0, 0.0];
    let y = [1.0, -1.5, -0.2, 0.4];
    let mut k = vec![0.0; 6];
    let mut o = mm(&mut k, 3, 2);
    let xm = m(&y, 2, 2);
    let st =
        unsafe { ntk_kernel_limit(h, m(&x, 3, 2), &xm, null_mut(), null_mut(), &mut o, null()) };
    assert_eq!(st, ntk_status::Ok);
    let act =
        ntk::activation::Activation::Custom(std::sync::Arc::new(ntk::activation::FnActivation {
            sigma: |x: f64| c_sigma(x, null_mut()),
            dsigma: |x: f64| c_dsigma(x, null_mut()),
        }));
    let spec = ntk::kernel::limit::LimitSpec::new(2, act, 0.3);
    let mut r = vec![0.0; 6];
    ntk::kernel::limit::limit_kernel(
        &spec,
        ntk::linalg::MatRef::from_row_major(&x, 3, 2),
        Some(ntk::linalg::MatRef::from_row_major(&y, 2, 2)),
        ntk::kernel::limit::LimitOutputs {
            nngp: None,
            sigma_dot: None,
            ntk: Some(ntk::linalg::MatMut::from_row_major(&mut r, 3, 2)),
        },
        &mut ntk::parallel::Progress::none(),
    )
    .unwrap();
    // Same functions, same algorithm: the same bits, whether σ comes through C or Rust.
    for (a, b) in k.iter().zip(&r) {
        assert_eq!(a.to_bits(), b.to_bits(), "{a} vs {b}");
    }
    unsafe { ntk_network_free(h) };
}

extern "C" fn cancel_after_first(ud: *mut c_void, _done: u64, _total: u64) -> i32 {
    let calls = unsafe { &mut *(ud as *mut u32) };
    *calls += 1;
    (*calls > 1) as i32
}

#[test]
fn c_api_error_paths() {
    let d = 2;
    let h = net(4, &[d, 3, 3, 1]);
    let x = [0.1, 0.2, 0.3, -0.4, 0.5, 0.6];
    let mut out = vec![7.0; 9];
    let mut out2 = vec![7.0; 9];
    let call =
        |net: *const ntk_network,
         x1: ntk_matrix,
         x2: *const ntk_matrix,
         a: *mut ntk_matrix_mut,
         b: *mut ntk_matrix_mut,
         c: *mut ntk_matrix_mut,
         o: *const ntk_options| unsafe { ntk_kernel_limit(net, x1, x2, a, b, c, o) };
    // NULL network, NULL x1 data, all outputs NULL.
    let mut o = mm(&mut out, 3, 3);
    assert_eq!(
        call(
            null(),
            m(&x, 3, d),
            null(),
            &mut o,
            null_mut(),
            null_mut(),
            null()
        ),
        ntk_status::NullPointer
    );
    let bad = ntk_matrix {
        data: null(),
        rows: 3,
        cols: d,
        row_stride: 2,
        col_stride: 1,
    };
    assert_eq!(
        call(h, bad, null(), &mut o, null_mut(), null_mut(), null()),
        ntk_status::NullPointer
    );
    assert_eq!(
        call(
            h,
            m(&x, 3, d),
            null(),
            null_mut(),
            null_mut(),
            null_mut(),
            null()
        ),
        ntk_status::NullPointer
    );
    // Bad shapes: wrong n_0, wrong output shape, empty.
    assert_eq!(
        call(
            h,
            m(&x, 2, 3),
            null(),
            &mut o,
            null_mut(),
            null_mut(),
            null()
        ),
        ntk_status::InvalidArgument
    );
    let mut small = mm(&mut out, 2, 3);
    assert_eq!(
        call(
            h,
            m(&x, 3, d),
            null(),
            &mut small,
            null_mut(),
            null_mut(),
            null()
        ),
        ntk_status::InvalidArgument
    );
    assert_eq!(
        call(
            h,
            m(&x, 0, d),
            null(),
            &mut o,
            null_mut(),
            null_mut(),
            null()
        ),
        ntk_status::InvalidArgument
    );
    let x2 = m(&x, 1, d);
    assert_eq!(
        call(h, m(&x, 3, d), &x2, &mut o, null_mut(), null_mut(), null()),
        ntk_status::InvalidArgument
    );
    // Aliasing output strides.
    let mut alias = ntk_matrix_mut {
        data: out.as_mut_ptr(),
        rows: 3,
        cols: 3,
        row_stride: 1,
        col_stride: 1,
    };
    assert_eq!(
        call(
            h,
            m(&x, 3, d),
            null(),
            &mut alias,
            null_mut(),
            null_mut(),
            null()
        ),
        ntk_status::InvalidArgument
    );
    // NaN / Inf inputs.
    let mut xn = x;
    xn[3] = f64::NAN;
    assert_eq!(
        call(
            h,
            m(&xn, 3, d),
            null(),
            &mut o,
            null_mut(),
            null_mut(),
            null()
        ),
        ntk_status::NonFinite
    );
    let mut x2v = [0.0; 6];
    x2v[5] = f64::INFINITY;
    let x2m = m(&x2v, 3, d);
    assert_eq!(
        call(h, m(&x, 3, d), &x2m, &mut o, null_mut(), null_mut(), null()),
        ntk_status::NonFinite
    );
    assert!(
        out.iter().all(|&v| v == 7.0),
        "an error path wrote the output"
    );
    // Overlapping outputs, output overlapping an input.
    let mut o1 = mm(&mut out, 3, 3);
    let mut o1b = mm(&mut out, 3, 3);
    assert_eq!(
        call(
            h,
            m(&x, 3, d),
            null(),
            &mut o1,
            &mut o1b,
            null_mut(),
            null()
        ),
        ntk_status::InvalidArgument
    );
    let mut buf = vec![0.0; 20];
    buf[..6].copy_from_slice(&x);
    let xin = ntk_matrix {
        data: buf.as_ptr(),
        rows: 3,
        cols: d,
        row_stride: 2,
        col_stride: 1,
    };
    let mut over = ntk_matrix_mut {
        data: unsafe { buf.as_mut_ptr().add(4) },
        rows: 3,
        cols: 3,
        row_stride: 3,
        col_stride: 1,
    };
    assert_eq!(
        call(h, xin, null(), &mut over, null_mut(), null_mut(), null()),
        ntk_status::InvalidArgument
    );
    // Cancel from the progress callback.
    let mut calls: u32 = 0;
    let opts = ntk_options {
        progress: Some(cancel_after_first),
        user_data: &mut calls as *mut u32 as *mut c_void,
    };
    let mut o2 = mm(&mut out2, 3, 3);
    assert_eq!(
        call(
            h,
            m(&x, 3, d),
            null(),
            &mut o2,
            null_mut(),
            null_mut(),
            &opts
        ),
        ntk_status::Cancelled
    );
    assert!(calls >= 2);
    unsafe { ntk_network_free(h) };
}
