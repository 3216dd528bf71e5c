//! The flow, spectrum and training C functions: a round trip against the Rust API and every
//! error path (NULL, shapes, NaN, asymmetric or indefinite kernels, bad times, bad enums, cancel).

mod common;
use common::last_error;

mod flow_support;

use flow_support::*;
use ntk::ffi::flow::*;
use ntk::ffi::network::*;
use ntk::ffi::train::ntk_network_train;
use ntk::ffi::{ntk_options, ntk_status};
use std::ffi::{c_int, c_void};
use std::ptr::{null, null_mut};

use ntk::ffi::view::row_major_view as m;

use ntk::ffi::view::row_major_view_mut as mm;

struct Data {
    n: usize,
    k: Vec<f64>,
    kt: Vec<f64>,
    y: Vec<f64>,
    f0: Vec<f64>,
    tf0: Vec<f64>,
}

fn data() -> Data {
    let n = 6;
    let x = circle(n, 0.1);
    let xt = circle(2, 0.5);
    Data {
        n,
        k: limit_ntk(&x, &x, 2, 3, 0.1, false),
        kt: limit_ntk(&xt, &x, 2, 3, 0.1, false),
        y: pseudo_random(n, 4),
        f0: vec![0.0; n],
        tf0: vec![0.0; 2],
    }
}

unsafe fn create(d: &Data, kernel: &[f64], cost: c_int) -> (ntk_status, *mut ntk_flow) {
    let mut flow = null_mut();
    let tk = m(&d.kt, 2, d.n);
    let tf = m(&d.tf0, 2, 1);
    let s = ntk_flow_create(
        m(kernel, d.n, d.n),
        m(&d.y, d.n, 1),
        m(&d.f0, d.n, 1),
        &tk,
        &tf,
        cost,
        null(),
        &mut flow,
    );
    (s, flow)
}

#[test]
fn flow_round_trip_matches_reference() {
    let d = data();
    unsafe {
        let (s, flow) = create(&d, &d.k, NTK_COST_MSE_VALUE);
        assert_eq!(s, ntk_status::Ok, "{}", last_error());
        assert_eq!(ntk_flow_step(flow, 2.0, null()), ntk_status::Ok);
        assert_eq!(ntk_flow_step(flow, 3.0, null()), ntk_status::Ok);
        let mut t = 0.0;
        assert_eq!(ntk_flow_time(flow, &mut t), ntk_status::Ok);
        assert_eq!(t, 5.0);
        let mut out = vec![0.0; d.n];
        assert_eq!(ntk_flow_outputs(flow, mm(&mut out, d.n, 1)), ntk_status::Ok);
        let a: Vec<f64> = d.k.iter().map(|v| -5.0 * v / d.n as f64).collect();
        let e = expm(&a, d.n);
        let r0: Vec<f64> = d.f0.iter().zip(&d.y).map(|(f, y)| f - y).collect();
        let er = matmul(&e, &r0, d.n, d.n, 1);
        let expect: Vec<f64> = d.y.iter().zip(&er).map(|(y, v)| y + v).collect();
        assert!(rel_err(&out, &expect) < 1e-10);
        let mut pred = vec![0.0; 2];
        assert_eq!(ntk_flow_predict(flow, mm(&mut pred, 2, 1)), ntk_status::Ok);
        assert!(pred.iter().all(|v| v.is_finite() && *v != 0.0));
        let mut loss = 0.0;
        assert_eq!(ntk_flow_loss(flow, &mut loss), ntk_status::Ok);
        let c: f64 = 0.5
            * out
                .iter()
                .zip(&d.y)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
            / d.n as f64;
        assert!((loss - c).abs() < 1e-14);
        // Back to t = 0 and to infinity.
        assert_eq!(ntk_flow_set_time(flow, 0.0, null()), ntk_status::Ok);
        assert_eq!(ntk_flow_outputs(flow, mm(&mut out, d.n, 1)), ntk_status::Ok);
        assert_eq!(out, d.f0);
        assert_eq!(
            ntk_flow_set_time(flow, f64::INFINITY, null()),
            ntk_status::Ok
        );
        assert_eq!(ntk_flow_outputs(flow, mm(&mut out, d.n, 1)), ntk_status::Ok);
        assert!(rel_err(&out, &d.y) < 1e-10);

        // Error paths on a valid handle leave it unchanged.
        assert_eq!(ntk_flow_set_time(flow, 1.0, null()), ntk_status::Ok);
        for dt in [0.0, -1.0] {
            assert_eq!(ntk_flow_step(flow, dt, null()), ntk_status::InvalidArgument);
        }
        for dt in [f64::NAN, f64::INFINITY] {
            assert_eq!(ntk_flow_step(flow, dt, null()), ntk_status::NonFinite);
        }
        assert_eq!(
            ntk_flow_set_time(flow, -1.0, null()),
            ntk_status::InvalidArgument
        );
        assert_eq!(
            ntk_flow_set_time(flow, f64::NAN, null()),
            ntk_status::NonFinite
        );
        assert_eq!(ntk_flow_time(flow, &mut t), ntk_status::Ok);
        assert_eq!(t, 1.0);
        assert_eq!(
            ntk_flow_outputs(flow, mm(&mut out[..3], 3, 1)),
            ntk_status::InvalidArgument
        );
        assert_eq!(ntk_flow_time(flow, null_mut()), ntk_status::NullPointer);
        assert_eq!(ntk_flow_loss(flow, null_mut()), ntk_status::NullPointer);
        assert_eq!(ntk_flow_time(null(), &mut t), ntk_status::NullPointer);
        assert_eq!(
            ntk_flow_step(null_mut(), 1.0, null()),
            ntk_status::NullPointer
        );
        ntk_flow_free(flow);
        ntk_flow_free(null_mut());
    }
}

const NTK_COST_MSE_VALUE: c_int = ntk_cost::Mse as c_int;

#[test]
fn flow_create_rejects_bad_inputs() {
    let d = data();
    unsafe {
        // Non-symmetric: the message names the pair.
        let mut k = d.k.clone();
        k[2 * d.n + 1] += 1e-3;
        let (s, _) = create(&d, &k, 0);
        assert_eq!(s, ntk_status::InvalidArgument);
        assert!(last_error().contains("[2,1]"), "{}", last_error());
        // Indefinite.
        let mut k = d.k.clone();
        for i in 0..d.n {
            k[i * d.n + i] -= 2.0;
        }
        let (s, _) = create(&d, &k, 0);
        assert_eq!(s, ntk_status::Numerical, "{}", last_error());
        // NaN in K.
        let mut k = d.k.clone();
        k[3] = f64::NAN;
        assert_eq!(create(&d, &k, 0).0, ntk_status::NonFinite);
        // Bad cost enum.
        assert_eq!(create(&d, &d.k, 7).0, ntk_status::InvalidArgument);
        assert_eq!(create(&d, &d.k, -1).0, ntk_status::InvalidArgument);
        let mut flow = null_mut();
        // NaN in y, wrong shapes, NULL pointers, half of the test pair.
        let mut y = d.y.clone();
        y[1] = f64::NAN;
        let s = ntk_flow_create(
            m(&d.k, d.n, d.n),
            m(&y, d.n, 1),
            m(&d.f0, d.n, 1),
            null(),
            null(),
            0,
            null(),
            &mut flow,
        );
        assert_eq!(s, ntk_status::NonFinite);
        assert!(last_error().contains("y[1,0]"), "{}", last_error());
        let s = ntk_flow_create(
            m(&d.k, d.n, d.n),
            m(&d.y, d.n, 1),
            m(&d.f0, d.n - 1, 1),
            null(),
            null(),
            0,
            null(),
            &mut flow,
        );
        assert_eq!(s, ntk_status::InvalidArgument);
        let s = ntk_flow_create(
            m(&d.k, d.n - 1, d.n - 1),
            m(&d.y, d.n, 1),
            m(&d.f0, d.n, 1),
            null(),
            null(),
            0,
            null(),
            &mut flow,
        );
        assert_eq!(s, ntk_status::InvalidArgument);
        let tk = m(&d.kt, 2, d.n);
        let s = ntk_flow_create(
            m(&d.k, d.n, d.n),
            m(&d.y, d.n, 1),
            m(&d.f0, d.n, 1),
            &tk,
            null(),
            0,
            null(),
            &mut flow,
        );
        assert_eq!(s, ntk_status::NullPointer);
        let s = ntk_flow_create(
            m(&d.k, d.n, d.n),
            m(&d.y, d.n, 1),
            m(&d.f0, d.n, 1),
            null(),
            null(),
            0,
            null(),
            null_mut(),
        );
        assert_eq!(s, ntk_status::NullPointer);
        let bad = ntk_flow_options {
            method: 9,
            rtol: 0.0,
            atol: 0.0,
            krylov_tol: 0.0,
        };
        let s = ntk_flow_create(
            m(&d.k, d.n, d.n),
            m(&d.y, d.n, 1),
            m(&d.f0, d.n, 1),
            null(),
            null(),
            0,
            &bad,
            &mut flow,
        );
        assert_eq!(s, ntk_status::InvalidArgument);
        assert!(flow.is_null());
        // No test kernel: predict is refused; cross-entropy refuses t = inf.
        let s = ntk_flow_create(
            m(&d.k, d.n, d.n),
            m(&d.y, d.n, 1),
            m(&d.f0, d.n, 1),
            null(),
            null(),
            1,
            null(),
            &mut flow,
        );
        assert_eq!(s, ntk_status::Ok);
        let mut p = vec![0.0; 2];
        assert_eq!(
            ntk_flow_predict(flow, mm(&mut p, 2, 1)),
            ntk_status::InvalidArgument
        );
        assert_eq!(
            ntk_flow_set_time(flow, f64::INFINITY, null()),
            ntk_status::InvalidArgument
        );
        assert_eq!(ntk_flow_step(flow, 0.5, null()), ntk_status::Ok);
        ntk_flow_free(flow);
    }
}

#[test]
fn spectrum_and_condition() {
    let d = data();
    unsafe {
        let mut ev = vec![0.0; d.n];
        assert_eq!(
            ntk_kernel_spectrum(m(&d.k, d.n, d.n), ev.as_mut_ptr(), d.n, 0),
            ntk_status::Ok
        );
        assert!(ev.windows(2).all(|w| w[0] <= w[1]) && ev[0] > 0.0);
        let trace: f64 = (0..d.n).map(|i| d.k[i * d.n + i]).sum();
        assert!((ev.iter().sum::<f64>() - trace).abs() < 1e-12 * trace);
        let mut top = [0.0; 2];
        assert_eq!(
            ntk_kernel_spectrum(m(&d.k, d.n, d.n), top.as_mut_ptr(), 2, 2),
            ntk_status::Ok
        );
        assert_eq!(top, [ev[d.n - 1], ev[d.n - 2]]);
        let (mut lo, mut hi, mut c) = (0.0, 0.0, 0.0);
        assert_eq!(
            ntk_kernel_condition(m(&d.k, d.n, d.n), &mut lo, &mut hi, &mut c),
            ntk_status::Ok
        );
        assert_eq!((lo, hi), (ev[0], ev[d.n - 1]));
        assert!((c - hi / lo).abs() < 1e-12 * c);
        assert_eq!(
            ntk_kernel_spectrum(m(&d.k, d.n, d.n), ev.as_mut_ptr(), 3, 0),
            ntk_status::InvalidArgument
        );
        assert_eq!(
            ntk_kernel_spectrum(m(&d.k, d.n, d.n), ev.as_mut_ptr(), 2, 5),
            ntk_status::InvalidArgument
        );
        assert_eq!(
            ntk_kernel_spectrum(m(&d.k, d.n, d.n), ev.as_mut_ptr(), 0, 1),
            ntk_status::InvalidArgument
        );
        assert_eq!(
            ntk_kernel_spectrum(m(&d.k, d.n, d.n), null_mut(), 2, 1),
            ntk_status::NullPointer
        );
        let mut k = d.k.clone();
        k[1] = f64::INFINITY;
        assert_eq!(
            ntk_kernel_spectrum(m(&k, d.n, d.n), ev.as_mut_ptr(), 2, 1),
            ntk_status::NonFinite
        );
        // Output inside the input.
        let mut kk = d.k.clone();
        let km = m(&kk, d.n, d.n);
        assert_eq!(
            ntk_kernel_spectrum(km, kk.as_mut_ptr(), 2, 1),
            ntk_status::InvalidArgument
        );
        assert_eq!(
            ntk_kernel_condition(m(&d.k, d.n, d.n), &mut lo, &mut lo, null_mut()),
            ntk_status::InvalidArgument
        );
    }
}

unsafe extern "C" fn cancel_after(user: *mut c_void, done: u64, _total: u64) -> c_int {
    let calls = &mut *(user as *mut u64);
    *calls += 1;
    (done >= 3) as c_int
}

#[test]
fn network_train_c_api() {
    let widths = [2usize, 16, 1];
    let cfg = ntk_network_config {
        widths: widths.as_ptr(),
        num_widths: 3,
        activation: ntk_activation::Tanh as c_int,
        activation_param: 0.0,
        beta: 0.1,
        seed: 1,
        custom_sigma: None,
        custom_dsigma: None,
        custom_user_data: null_mut(),
    };
    let n = 5;
    let x = circle(n, 0.0);
    let y = pseudo_random(n, 9);
    unsafe {
        let mut net = null_mut();
        assert_eq!(ntk_network_create(&cfg, &mut net), ntk_status::Ok);
        let mut hist = vec![0.0; 11];
        let s = ntk_network_train(
            net,
            m(&x, n, 2),
            m(&y, n, 1),
            0,
            0.5,
            10,
            hist.as_mut_ptr(),
            null(),
        );
        assert_eq!(s, ntk_status::Ok, "{}", last_error());
        assert!(hist.windows(2).all(|w| w[1] < w[0]), "{hist:?}");
        // Cancel after 3 steps: 3 steps are kept, the network stays usable.
        let mut before = vec![0.0; 65];
        let mut p = 0usize;
        ntk_network_shape(net, null_mut(), &mut p);
        before.resize(p, 0.0);
        ntk_network_get_params(net, before.as_mut_ptr(), p);
        let mut calls = 0u64;
        let opts = ntk_options {
            progress: Some(cancel_after),
            user_data: &mut calls as *mut u64 as *mut c_void,
        };
        let mut h2 = vec![-1.0; 11];
        let s = ntk_network_train(
            net,
            m(&x, n, 2),
            m(&y, n, 1),
            0,
            0.5,
            10,
            h2.as_mut_ptr(),
            &opts,
        );
        assert_eq!(s, ntk_status::Cancelled);
        assert_eq!(h2[0], hist[10]);
        assert!(h2[..4].iter().all(|v| *v >= 0.0) && h2[4] == -1.0, "{h2:?}");
        let mut after = vec![0.0; p];
        ntk_network_get_params(net, after.as_mut_ptr(), p);
        assert_ne!(before, after);
        assert!(after.iter().all(|v| v.is_finite()));
        // Error paths.
        assert_eq!(
            ntk_network_train(
                net,
                m(&x, n, 2),
                m(&y, n, 1),
                5,
                0.5,
                10,
                null_mut(),
                null()
            ),
            ntk_status::InvalidArgument
        );
        assert_eq!(
            ntk_network_train(
                net,
                m(&x, n, 2),
                m(&y, n, 1),
                0,
                -0.5,
                10,
                null_mut(),
                null()
            ),
            ntk_status::InvalidArgument
        );
        assert_eq!(
            ntk_network_train(
                net,
                m(&x, n, 2),
                m(&y, n, 1),
                0,
                f64::NAN,
                10,
                null_mut(),
                null()
            ),
            ntk_status::NonFinite
        );
        assert_eq!(
            ntk_network_train(
                net,
                m(&x, n, 2),
                m(&y, n - 1, 1),
                0,
                0.5,
                10,
                null_mut(),
                null()
            ),
            ntk_status::InvalidArgument
        );
        assert_eq!(
            ntk_network_train(
                null_mut(),
                m(&x, n, 2),
                m(&y, n, 1),
                0,
                0.5,
                10,
                null_mut(),
                null()
            ),
            ntk_status::NullPointer
        );
        let mut xn = x.clone();
        xn[3] = f64::NAN;
        assert_eq!(
            ntk_network_train(
                net,
                m(&xn, n, 2),
                m(&y, n, 1),
                0,
                0.5,
                10,
                null_mut(),
                null()
            ),
            ntk_status::NonFinite
        );
        // Divergence: the previous parameters are restored.
        ntk_network_get_params(net, before.as_mut_ptr(), p);
        let s = ntk_network_train(
            net,
            m(&x, n, 2),
            m(&y, n, 1),
            0,
            1e200,
            5,
            null_mut(),
            null(),
        );
        assert_eq!(s, ntk_status::Numerical, "{}", last_error());
        ntk_network_get_params(net, after.as_mut_ptr(), p);
        assert!(after.iter().all(|v| v.is_finite()));
        ntk_network_free(net);
    }
}
