//! Determinism and cancellation through the C API:
//! - every public computation (forward, empirical kernel in both modes with each method, with
//!   and without X2, Jacobian) gives bit-identical results at 1, 2 and 8 library threads (8 is
//!   above the core count of the test machines) and across repeated runs;
//! - cancelling from the progress callback at pseudo-random points leaves the handle usable: the
//!   next call on the same handle succeeds and gives the same bits as an uncancelled call.
//! The library's thread count is global, so the tests here take a lock.

mod common;
use common::{c_net, CNet as Net};

use ntk::ffi::empirical::{ntk_kernel_empirical, ntk_network_jacobian};
use ntk::ffi::network::{ntk_network_forward, ntk_network_free, ntk_network_shape};
use ntk::ffi::{ntk_matrix, ntk_matrix_mut, ntk_options, ntk_set_num_threads, ntk_status};
use std::ffi::{c_int, c_void};
use std::ptr::{null, null_mut};
use std::sync::Mutex;

static LOCK: Mutex<()> = Mutex::new(());

const D: usize = 5;
const K: usize = 3;
const N1: usize = 70;
const N2: usize = 23;

fn make(activation: c_int) -> Net {
    c_net(&[D, 40, 33, K], activation, 0.1, 0.2, 1234)
}

fn points(n: usize, shift: f64) -> Vec<f64> {
    common::wave(n * D, f64::sin, 0.713, shift, 1.3)
}

fn m(data: &[f64], rows: usize) -> ntk_matrix {
    ntk_matrix {
        data: data.as_ptr(),
        rows,
        cols: D,
        row_stride: D as isize,
        col_stride: 1,
    }
}

fn mm(data: &mut [f64], rows: usize, cols: usize) -> ntk_matrix_mut {
    ntk_matrix_mut {
        data: data.as_mut_ptr(),
        rows,
        cols,
        row_stride: cols as isize,
        col_stride: 1,
    }
}

/// One public computation: a name and a call writing into a fresh buffer.
struct Case {
    name: String,
    rows: usize,
    cols: usize,
    call: Box<dyn Fn(&Net, ntk_matrix_mut, *const ntk_options) -> ntk_status>,
}

fn cases(p: usize) -> Vec<Case> {
    let x1 = points(N1, 0.0);
    let x2 = points(N2, 0.5);
    let mut v: Vec<Case> = Vec::new();
    let xf = x1.clone();
    v.push(Case {
        name: "forward".into(),
        rows: N1,
        cols: K,
        call: Box::new(move |n, out, _| unsafe { ntk_network_forward(n.0, m(&xf, N1), out) }),
    });
    for mode in [0, 1] {
        for method in [0, 1, 2] {
            for with_x2 in [false, true] {
                let (a, b) = (x1.clone(), x2.clone());
                let n2 = if with_x2 { N2 } else { N1 };
                let s = if mode == 1 { K } else { 1 };
                v.push(Case {
                    name: format!("kernel mode {mode} method {method} x2 {with_x2}"),
                    rows: N1 * s,
                    cols: n2 * s,
                    call: Box::new(move |n, out, opts| {
                        let x2m = m(&b, N2);
                        let x2p: *const ntk_matrix = if with_x2 { &x2m } else { null() };
                        unsafe {
                            ntk_kernel_empirical(n.0, m(&a, N1), x2p, mode, method, out, opts)
                        }
                    }),
                });
            }
        }
    }
    let xj = x1.clone();
    v.push(Case {
        name: "jacobian".into(),
        rows: N1 * K,
        cols: p,
        call: Box::new(move |n, out, opts| unsafe {
            ntk_network_jacobian(n.0, m(&xj, N1), out, opts)
        }),
    });
    v
}

fn run(net: &Net, c: &Case, opts: *const ntk_options) -> (ntk_status, Vec<u64>) {
    let mut out = vec![0.0; c.rows * c.cols];
    let st = (c.call)(net, mm(&mut out, c.rows, c.cols), opts);
    (st, out.iter().map(|v| v.to_bits()).collect())
}

fn num_params(net: &Net) -> usize {
    let mut p = 0;
    unsafe { ntk_network_shape(net.0, null_mut(), &mut p) };
    p
}

#[test]
fn bit_identical_at_1_2_8_threads_and_repeated() {
    let _g = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    for activation in [1, 3, 7] {
        // ReLU, erf, GELU
        let net = make(activation);
        let cs = cases(num_params(&net));
        assert_eq!(ntk_set_num_threads(1), ntk_status::Ok);
        let reference: Vec<Vec<u64>> = cs
            .iter()
            .map(|c| {
                let (st, bits) = run(&net, c, null());
                assert_eq!(st, ntk_status::Ok, "{}", c.name);
                bits
            })
            .collect();
        for threads in [2, 8, 1, 8] {
            assert_eq!(ntk_set_num_threads(threads), ntk_status::Ok);
            for (c, r) in cs.iter().zip(&reference) {
                let (st, bits) = run(&net, c, null());
                assert_eq!(st, ntk_status::Ok);
                assert!(
                    bits == *r,
                    "{} (activation {activation}) differs at {threads} threads",
                    c.name
                );
            }
        }
    }
    assert_eq!(ntk_set_num_threads(0), ntk_status::Ok);
}

struct CancelAt {
    calls: u64,
    at: u64,
}
unsafe extern "C" fn cancel_cb(ud: *mut c_void, done: u64, total: u64) -> c_int {
    let c = unsafe { &mut *(ud as *mut CancelAt) };
    assert!(done <= total);
    c.calls += 1;
    (c.calls >= c.at) as c_int
}

#[test]
fn cancel_at_random_points_leaves_handles_usable() {
    let _g = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    assert_eq!(ntk_set_num_threads(2), ntk_status::Ok);
    let net = make(3);
    let cs = cases(num_params(&net));
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut cancelled = 0;
    for c in cs.iter().filter(|c| c.name != "forward") {
        let (st, reference) = run(&net, c, null());
        assert_eq!(st, ntk_status::Ok);
        for _ in 0..4 {
            // xorshift: cancel at call 1..=6
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut cancel = CancelAt {
                calls: 0,
                at: 1 + state % 6,
            };
            let opts = ntk_options {
                progress: Some(cancel_cb),
                user_data: &mut cancel as *mut CancelAt as *mut c_void,
            };
            let (st, _) = run(&net, c, &opts);
            assert!(
                st == ntk_status::Cancelled || st == ntk_status::Ok,
                "{}: {st:?}",
                c.name
            );
            if st == ntk_status::Cancelled {
                cancelled += 1;
            }
            let (st, bits) = run(&net, c, null());
            assert_eq!(st, ntk_status::Ok, "{} after a cancel", c.name);
            assert!(
                bits == reference,
                "{}: different bits after a cancel",
                c.name
            );
        }
    }
    assert!(cancelled >= 10, "only {cancelled} calls were cancelled");
    assert_eq!(ntk_set_num_threads(0), ntk_status::Ok);
}

/// Flows (MSE eigen/Krylov/ODE, cross-entropy ODE, with test points), spectra and gradient
/// descent: bit-identical at 1, 2 and 8 threads.
#[test]
fn flows_spectra_and_training_bit_identical_across_thread_counts() {
    use ntk::ffi::empirical::ntk_kernel_empirical;
    use ntk::ffi::flow::{
        ntk_flow_create, ntk_flow_free, ntk_flow_loss, ntk_flow_options, ntk_flow_outputs,
        ntk_flow_predict, ntk_flow_set_time, ntk_kernel_spectrum,
    };
    use ntk::ffi::network::{ntk_network_clone, ntk_network_get_params};
    use ntk::ffi::train::ntk_network_train;
    let _g = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let net = make(3);
    let p = num_params(&net);
    let (n, mt) = (30, 7);
    let x = points(n, 0.0);
    let xt = points(mt, 0.9);
    // Kernels from the network itself (train x train, test x train).
    let mut k = vec![0.0; n * n];
    let mut kt = vec![0.0; mt * n];
    let xm = m(&x, n);
    assert_eq!(
        unsafe { ntk_kernel_empirical(net.0, xm, null(), 0, 0, mm(&mut k, n, n), null()) },
        ntk_status::Ok
    );
    assert_eq!(
        unsafe { ntk_kernel_empirical(net.0, m(&xt, mt), &xm, 0, 0, mm(&mut kt, mt, n), null()) },
        ntk_status::Ok
    );
    let y: Vec<f64> = (0..n * K)
        .map(|i| ((i % K) == (i / K) % K) as u8 as f64)
        .collect();
    let f0 = vec![0.0; n * K];
    let tf0 = vec![0.0; mt * K];
    let run_all = || -> Vec<u64> {
        let mut bits = Vec::new();
        let view = |v: &[f64], r: usize, c: usize| ntk_matrix {
            data: v.as_ptr(),
            rows: r,
            cols: c,
            row_stride: c as isize,
            col_stride: 1,
        };
        for (cost, method) in [(0, 1), (0, 2), (0, 3), (1, 3)] {
            let opts = ntk_flow_options {
                method,
                rtol: 0.0,
                atol: 0.0,
                krylov_tol: 0.0,
            };
            let (tk, tf) = (view(&kt, mt, n), view(&tf0, mt, K));
            let mut h = null_mut();
            let st = unsafe {
                ntk_flow_create(
                    view(&k, n, n),
                    view(&y, n, K),
                    view(&f0, n, K),
                    &tk,
                    &tf,
                    cost,
                    &opts,
                    &mut h,
                )
            };
            assert_eq!(st, ntk_status::Ok, "flow cost {cost} method {method}");
            assert_eq!(unsafe { ntk_flow_set_time(h, 3.0, null()) }, ntk_status::Ok);
            let mut o = vec![0.0; n * K];
            let mut pr = vec![0.0; mt * K];
            let mut loss = 0.0;
            unsafe {
                assert_eq!(ntk_flow_outputs(h, mm(&mut o, n, K)), ntk_status::Ok);
                assert_eq!(ntk_flow_predict(h, mm(&mut pr, mt, K)), ntk_status::Ok);
                assert_eq!(ntk_flow_loss(h, &mut loss), ntk_status::Ok);
                ntk_flow_free(h);
            }
            bits.extend(o.iter().chain(&pr).chain([&loss]).map(|v| v.to_bits()));
        }
        let mut ev = vec![0.0; n];
        assert_eq!(
            unsafe { ntk_kernel_spectrum(view(&k, n, n), ev.as_mut_ptr(), n, 0) },
            ntk_status::Ok
        );
        bits.extend(ev.iter().map(|v| v.to_bits()));
        let mut c = null_mut();
        assert_eq!(unsafe { ntk_network_clone(net.0, &mut c) }, ntk_status::Ok);
        let mut hist = vec![0.0; 6];
        let st = unsafe {
            ntk_network_train(
                c,
                view(&x, n, D),
                view(&y, n, K),
                0,
                0.5,
                5,
                hist.as_mut_ptr(),
                null(),
            )
        };
        assert_eq!(st, ntk_status::Ok);
        let mut theta = vec![0.0; p];
        unsafe {
            ntk_network_get_params(c, theta.as_mut_ptr(), p);
            ntk_network_free(c);
        }
        bits.extend(hist.iter().chain(&theta).map(|v| v.to_bits()));
        bits
    };
    assert_eq!(ntk_set_num_threads(1), ntk_status::Ok);
    let reference = run_all();
    for threads in [2, 8, 1] {
        assert_eq!(ntk_set_num_threads(threads), ntk_status::Ok);
        assert!(
            run_all() == reference,
            "flows/spectrum/train differ at {threads} threads"
        );
    }
    assert_eq!(ntk_set_num_threads(0), ntk_status::Ok);
}
