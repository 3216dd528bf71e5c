//! The C entry points: results equal the Rust API, and every bad-input class is rejected with
//! the right status before the output is touched.

mod common;
use common::{c_net, last_error, CNet};

use ntk::ffi::empirical::{ntk_kernel_empirical, ntk_network_jacobian};
use ntk::ffi::network::ntk_network;
use ntk::ffi::{ntk_matrix, ntk_matrix_mut, ntk_options, ntk_status};
use ntk::kernel::empirical::{self, KernelMethod, KernelMode};
use ntk::linalg::{MatMut, MatRef};
use std::ffi::{c_int, c_void};
use std::ptr::{null, null_mut};

const D: usize = 3;
const K: usize = 2;

fn make_net() -> CNet {
    c_net(&[D, 7, 6, K], 4 /* tanh */, 0.0, 0.4, 3)
}

/// The same network built through the Rust API (same config, same parameter stream).
fn rust_net() -> ntk::network::Network {
    common::net(vec![D, 7, 6, K], ntk::activation::Activation::Tanh, 0.4, 3)
}

use ntk::ffi::view::row_major_view as m;

use ntk::ffi::view::row_major_view_mut as mm;

fn points(n: usize, shift: f64) -> Vec<f64> {
    common::wave(n * D, f64::cos, 0.61, shift, 1.0)
}

unsafe extern "C" fn cancel_at_second(ud: *mut c_void, _done: u64, _total: u64) -> c_int {
    let calls = &mut *(ud as *mut u32);
    *calls += 1;
    (*calls >= 2) as c_int
}

unsafe extern "C" fn record(ud: *mut c_void, done: u64, total: u64) -> c_int {
    let last = &mut *(ud as *mut (u64, u64));
    *last = (done, total);
    0
}

#[test]
fn results_equal_the_rust_api() {
    let net = make_net();
    let rn = &rust_net();
    let (n1, n2) = (150, 20);
    let x1 = points(n1, 0.0);
    let x2 = points(n2, 1.0);
    for (mode, method) in [(0, 0), (1, 1), (0, 2), (1, 2), (0, 1)] {
        let rm = if mode == 0 {
            KernelMode::Trace
        } else {
            KernelMode::Full
        };
        let rmeth = [
            KernelMethod::Auto,
            KernelMethod::JacobianContraction,
            KernelMethod::Structured,
        ][method as usize];
        for with_x2 in [false, true] {
            let nb = if with_x2 { n2 } else { n1 };
            let (r, c) = if mode == 0 {
                (n1, nb)
            } else {
                (n1 * K, nb * K)
            };
            // Column-major output.
            let mut out = vec![0.0; r * c];
            let o = ntk_matrix_mut {
                data: out.as_mut_ptr(),
                rows: r,
                cols: c,
                row_stride: 1,
                col_stride: r as isize,
            };
            let x2m = m(&x2, n2, D);
            let mut last = (0u64, 0u64);
            let opts = ntk_options {
                progress: Some(record),
                user_data: &mut last as *mut _ as *mut c_void,
            };
            let st = unsafe {
                ntk_kernel_empirical(
                    net.0,
                    m(&x1, n1, D),
                    if with_x2 { &x2m } else { null() },
                    mode,
                    method,
                    o,
                    &opts,
                )
            };
            assert_eq!(st, ntk_status::Ok, "{}", last_error());
            assert!(last.0 == last.1 && last.1 > 0, "final progress {last:?}");
            let (want, _, _) = empirical::empirical_ntk_vec(
                rn,
                MatRef::from_row_major(&x1, n1, D),
                with_x2.then(|| MatRef::from_row_major(&x2, n2, D)),
                rm,
                rmeth,
            )
            .unwrap();
            for i in 0..r {
                for j in 0..c {
                    assert_eq!(out[j * r + i].to_bits(), want[i * c + j].to_bits());
                }
            }
        }
    }
    let p = rn.num_params();
    let mut jac = vec![0.0; n2 * K * p];
    let st = unsafe { ntk_network_jacobian(net.0, m(&x2, n2, D), mm(&mut jac, n2 * K, p), null()) };
    assert_eq!(st, ntk_status::Ok);
    let mut want = vec![0.0; n2 * K * p];
    empirical::jacobian(
        rn,
        MatRef::from_row_major(&x2, n2, D),
        MatMut::from_row_major(&mut want, n2 * K, p),
        &mut ntk::parallel::Progress::none(),
    )
    .unwrap();
    assert_eq!(jac, want);
}

#[test]
fn bad_inputs_are_rejected_before_writing() {
    let net = make_net();
    let n = 5;
    let x = points(n, 0.2);
    let mut out = vec![7.0; n * n];
    let call = |net: *const ntk_network,
                x1: ntk_matrix,
                x2: *const ntk_matrix,
                mode: c_int,
                method: c_int,
                o: ntk_matrix_mut| unsafe {
        ntk_kernel_empirical(net, x1, x2, mode, method, o, null())
    };
    let o = mm(&mut out, n, n);
    let xm = m(&x, n, D);
    use ntk_status::*;
    let cases: Vec<(ntk_status, ntk_status, &str)> = vec![
        (call(null(), xm, null(), 0, 0, o), NullPointer, "network"),
        (
            call(net.0, ntk_matrix { data: null(), ..xm }, null(), 0, 0, o),
            NullPointer,
            "x1.data",
        ),
        (
            call(
                net.0,
                xm,
                null(),
                0,
                0,
                ntk_matrix_mut {
                    data: null_mut(),
                    ..o
                },
            ),
            NullPointer,
            "out.data",
        ),
        (
            call(net.0, m(&x, n, D - 1), null(), 0, 0, o),
            InvalidArgument,
            "x1",
        ),
        (
            call(net.0, m(&x, 0, D), null(), 0, 0, o),
            InvalidArgument,
            "x1",
        ),
        (
            call(net.0, xm, &m(&x, 1, D - 1), 0, 0, o),
            InvalidArgument,
            "x2",
        ),
        (call(net.0, xm, null(), 1, 0, o), InvalidArgument, "out"), // full mode needs 10x10
        (call(net.0, xm, null(), 2, 0, o), InvalidArgument, "mode"),
        (call(net.0, xm, null(), -1, 0, o), InvalidArgument, "mode"),
        (call(net.0, xm, null(), 0, 3, o), InvalidArgument, "method"),
        (
            call(
                net.0,
                xm,
                null(),
                0,
                0,
                ntk_matrix_mut { row_stride: 1, ..o },
            ),
            InvalidArgument,
            "out",
        ),
    ];
    for (i, (got, want, name)) in cases.into_iter().enumerate() {
        assert_eq!(got, want, "case {i}: {}", last_error());
        assert!(out.iter().all(|&v| v == 7.0), "case {i} wrote the output");
        let _ = name;
    }
    // Messages name the argument.
    call(net.0, xm, null(), 0, 7, o);
    assert!(last_error().contains("method"), "{}", last_error());

    // NaN / Inf in either input.
    let mut bad = x.clone();
    bad[4] = f64::NAN;
    assert_eq!(call(net.0, m(&bad, n, D), null(), 0, 0, o), NonFinite);
    assert!(last_error().contains("x1[1,1]"), "{}", last_error());
    bad[4] = f64::INFINITY;
    let mut out2 = vec![7.0; n * 2];
    assert_eq!(
        call(net.0, xm, &m(&bad, 2, D), 0, 0, mm(&mut out2, n, 2)),
        NonFinite
    );
    assert!(last_error().contains("x2"), "{}", last_error());
    assert!(out.iter().chain(&out2).all(|&v| v == 7.0));

    // Output overlapping an input.
    let mut buf = vec![0.5; 64];
    let x_in = ntk_matrix {
        data: buf.as_ptr(),
        rows: 2,
        cols: D,
        row_stride: D as isize,
        col_stride: 1,
    };
    let o_alias = ntk_matrix_mut {
        data: unsafe { buf.as_mut_ptr().add(2) },
        rows: 2,
        cols: 2,
        row_stride: 2,
        col_stride: 1,
    };
    assert_eq!(call(net.0, x_in, null(), 0, 0, o_alias), InvalidArgument);
    assert!(last_error().contains("overlaps"), "{}", last_error());
    assert!(buf.iter().all(|&v| v == 0.5));

    // The Jacobian entry point.
    let p = rust_net().num_params();
    let mut jac = vec![7.0; n * K * p];
    let jm = mm(&mut jac, n * K, p);
    let jac_call = |net: *const ntk_network, x: ntk_matrix, o: ntk_matrix_mut| unsafe {
        ntk_network_jacobian(net, x, o, null())
    };
    assert_eq!(jac_call(null(), xm, jm), NullPointer);
    assert_eq!(jac_call(net.0, m(&x, n, D - 1), jm), InvalidArgument);
    assert_eq!(
        jac_call(net.0, xm, mm(&mut jac, n * K, p - 1)),
        InvalidArgument
    );
    assert_eq!(
        jac_call(net.0, m(&bad, 2, D), mm(&mut jac, 2 * K, p)),
        NonFinite
    );
    assert!(jac.iter().all(|&v| v == 7.0));
}

#[test]
fn cancel_returns_cancelled() {
    let net = make_net();
    let n = 600; // several tiles and waves
    let x = points(n, 0.7);
    for (mode, method) in [(0, 2), (0, 1), (1, 2)] {
        let rows = if mode == 0 { n } else { n * K };
        let mut out = vec![0.0; rows * rows];
        let mut calls = 0u32;
        let opts = ntk_options {
            progress: Some(cancel_at_second),
            user_data: &mut calls as *mut u32 as *mut c_void,
        };
        let st = unsafe {
            ntk_kernel_empirical(
                net.0,
                m(&x, n, D),
                null(),
                mode,
                method,
                mm(&mut out, rows, rows),
                &opts,
            )
        };
        assert_eq!(st, ntk_status::Cancelled, "mode {mode} method {method}");
        assert_eq!(calls, 2);
    }
    let p = rust_net().num_params();
    let mut jac = vec![0.0; n * K * p];
    let mut calls = 0u32;
    let opts = ntk_options {
        progress: Some(cancel_at_second),
        user_data: &mut calls as *mut u32 as *mut c_void,
    };
    let st = unsafe { ntk_network_jacobian(net.0, m(&x, n, D), mm(&mut jac, n * K, p), &opts) };
    assert_eq!(st, ntk_status::Cancelled);
}
