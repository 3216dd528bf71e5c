//! Progress and cancellation of ntk_flow_step / ntk_flow_set_time, and fast failure of ODE
//! requests that stability makes hopeless (issue #7; fuzz/known-slow/README.md).
//!
//! - A cancel at every callback position returns NTK_STATUS_CANCELLED with the flow exactly as
//!   before (time, outputs, predictions), and the same call repeated without a cancel gives
//!   results bit-identical to a flow that was never cancelled, for every method.
//! - Progress is monotone, within (0, total) .. (total, total).
//! - Hopelessly stiff requests (a kernel scaled by 1e300, t = 1e300, a kernel scaled by 1e5 with
//!   soft cross-entropy targets) return NTK_STATUS_NUMERICAL well under a second, while a large
//!   but saturating cross-entropy flow (step size growing) is integrated.

mod common;
use common::last_error;

mod flow_support;

use flow_support::*;
use ntk::ffi::flow::*;
use ntk::ffi::view::{row_major_view as m, row_major_view_mut as mm};
use ntk::ffi::{ntk_options, ntk_status};
use std::ffi::{c_int, c_void};
use std::ptr::{null, null_mut};
use std::time::{Duration, Instant};

/// Records every progress call and cancels at call `cancel_at` (never when 0).
#[derive(Default)]
struct Recorder {
    calls: Vec<(u64, u64)>,
    cancel_at: usize,
}

unsafe extern "C" fn record(ud: *mut c_void, done: u64, total: u64) -> c_int {
    let r = unsafe { &mut *(ud as *mut Recorder) };
    r.calls.push((done, total));
    (r.cancel_at != 0 && r.calls.len() >= r.cancel_at) as c_int
}

struct Problem {
    n: usize,
    k: usize,
    m: usize,
    kernel: Vec<f64>,
    test_kernel: Vec<f64>,
    y: Vec<f64>,
    f0: Vec<f64>,
    tf0: Vec<f64>,
    cost: c_int,
    method: c_int,
}

fn problem(cost: c_int, method: c_int) -> Problem {
    let (n, m) = (7, 2);
    let k = if cost == 1 { 3 } else { 2 };
    let x = circle(n, 0.3);
    let xt = circle(m, 1.1);
    let mut y = vec![0.0; n * k];
    if cost == 1 {
        for i in 0..n {
            y[i * k + (i % k)] = 1.0;
        }
    } else {
        y = pseudo_random(n * k, 5);
    }
    Problem {
        n,
        k,
        m,
        kernel: limit_ntk(&x, &x, 2, 3, 0.2, false),
        test_kernel: limit_ntk(&xt, &x, 2, 3, 0.2, false),
        y,
        f0: pseudo_random(n * k, 21).iter().map(|v| 0.5 * v).collect(),
        tf0: pseudo_random(m * k, 22).iter().map(|v| 0.5 * v).collect(),
        cost,
        method,
    }
}

struct Flow(*mut ntk_flow);
impl Drop for Flow {
    fn drop(&mut self) {
        unsafe { ntk_flow_free(self.0) }
    }
}

fn create(p: &Problem) -> Flow {
    let opts = ntk_flow_options {
        method: p.method,
        rtol: 0.0,
        atol: 0.0,
        krylov_tol: 0.0,
    };
    let tk = m(&p.test_kernel, p.m, p.n);
    let tf = m(&p.tf0, p.m, p.k);
    let mut h = null_mut();
    let st = unsafe {
        ntk_flow_create(
            m(&p.kernel, p.n, p.n),
            m(&p.y, p.n, p.k),
            m(&p.f0, p.n, p.k),
            &tk,
            &tf,
            p.cost,
            &opts,
            &mut h,
        )
    };
    assert_eq!(st, ntk_status::Ok, "{}", last_error());
    Flow(h)
}

/// (time, outputs, predictions) as bits.
fn state(f: &Flow, p: &Problem) -> Vec<u64> {
    let mut t = 0.0;
    let mut out = vec![0.0; p.n * p.k];
    let mut pred = vec![0.0; p.m * p.k];
    unsafe {
        assert_eq!(ntk_flow_time(f.0, &mut t), ntk_status::Ok);
        assert_eq!(
            ntk_flow_outputs(f.0, mm(&mut out, p.n, p.k)),
            ntk_status::Ok
        );
        assert_eq!(
            ntk_flow_predict(f.0, mm(&mut pred, p.m, p.k)),
            ntk_status::Ok
        );
    }
    std::iter::once(t.to_bits())
        .chain(out.iter().map(|v| v.to_bits()))
        .chain(pred.iter().map(|v| v.to_bits()))
        .collect()
}

#[derive(Clone, Copy, Debug)]
enum Call {
    Step(f64),
    SetTime(f64),
}

fn call(f: &Flow, c: Call, options: *const ntk_options) -> ntk_status {
    unsafe {
        match c {
            Call::Step(dt) => ntk_flow_step(f.0, dt, options),
            Call::SetTime(t) => ntk_flow_set_time(f.0, t, options),
        }
    }
}

fn call_recorded(f: &Flow, c: Call, cancel_at: usize) -> (ntk_status, Vec<(u64, u64)>) {
    let mut r = Recorder {
        calls: Vec::new(),
        cancel_at,
    };
    let opts = ntk_options {
        progress: Some(record),
        user_data: &mut r as *mut Recorder as *mut c_void,
    };
    let st = call(f, c, &opts);
    (st, r.calls)
}

/// For each method: the sequence `calls` run on a never-cancelled flow gives the reference
/// states; then for every call i and every callback position j of that call, a fresh flow runs
/// calls 0..i, call i cancelled at j (CANCELLED, state unchanged), call i again without options,
/// and the remaining calls: every state must equal the reference bit for bit.
fn cancel_everywhere(cost: c_int, method: c_int, calls: &[Call]) {
    let p = problem(cost, method);
    let reference = create(&p);
    let mut ref_states = vec![state(&reference, &p)];
    let mut counts = Vec::new();
    for &c in calls {
        let (st, log) = call_recorded(&reference, c, 0);
        assert_eq!(st, ntk_status::Ok, "{c:?}: {}", last_error());
        assert!(log.len() >= 2, "{c:?}: {log:?}");
        let total = log[0].1;
        assert_eq!(log[0], (0, total), "{c:?}: first report");
        assert_eq!(*log.last().unwrap(), (total, total), "{c:?}: last report");
        assert!(
            log.windows(2).all(|w| w[0].0 <= w[1].0 && w[1].1 == total),
            "{c:?}: progress not monotone: {log:?}"
        );
        counts.push(log.len());
        ref_states.push(state(&reference, &p));
    }
    for (i, &c) in calls.iter().enumerate() {
        for j in 1..=counts[i] {
            let f = create(&p);
            for &earlier in &calls[..i] {
                assert_eq!(call(&f, earlier, null()), ntk_status::Ok);
            }
            assert_eq!(state(&f, &p), ref_states[i]);
            let (st, log) = call_recorded(&f, c, j);
            assert_eq!(
                st,
                ntk_status::Cancelled,
                "method {method} call {c:?} cancel at {j}: {}",
                last_error()
            );
            assert_eq!(log.len(), j, "the callback was called after it cancelled");
            assert_eq!(
                state(&f, &p),
                ref_states[i],
                "method {method} call {c:?}: a cancel at callback {j} changed the flow"
            );
            assert_eq!(call(&f, c, null()), ntk_status::Ok, "{}", last_error());
            assert_eq!(
                state(&f, &p),
                ref_states[i + 1],
                "method {method} call {c:?}: the call after a cancel at {j} differs"
            );
            for (l, &later) in calls.iter().enumerate().skip(i + 1) {
                assert_eq!(call(&f, later, null()), ntk_status::Ok);
                assert_eq!(
                    state(&f, &p),
                    ref_states[l + 1],
                    "method {method}: call {later:?} after a cancel of {c:?} at {j} differs"
                );
            }
        }
    }
}

#[test]
fn cross_entropy_cancel_at_every_callback() {
    // Integrations of a few hundred steps: several intermediate reports each.
    let calls = [Call::SetTime(30.0), Call::Step(5.0), Call::SetTime(12.0)];
    cancel_everywhere(1, 0, &calls);
}

#[test]
fn mse_cancel_at_every_callback_every_method() {
    let calls = [
        Call::Step(0.5),
        Call::SetTime(3.0),
        Call::Step(2.0),
        Call::SetTime(f64::INFINITY),
        Call::SetTime(1.0),
    ];
    // Auto (Krylov first, then the eigendecomposition by the cost rule), Eigen, Krylov.
    for method in 0..=2 {
        cancel_everywhere(0, method, &calls);
    }
    // ODE (no t = infinity there).
    cancel_everywhere(
        0,
        3,
        &[Call::Step(0.5), Call::SetTime(3.0), Call::SetTime(1.0)],
    );
}

#[test]
fn ode_progress_is_reported_at_a_reasonable_granularity() {
    let p = problem(1, 0);
    let f = create(&p);
    let (st, log) = call_recorded(&f, Call::SetTime(30.0), 0);
    assert_eq!(st, ntk_status::Ok);
    let total = ntk::flow::ode::PROGRESS_TOTAL;
    assert!(log.iter().all(|&(_, t)| t == total));
    // A small kernel: a report every 64 steps, so a handful of reports, not one per step.
    assert!(log.len() >= 3 && log.len() < 100, "{} reports", log.len());
    // NULL options and a callback that never cancels give the same result.
    let g = create(&p);
    assert_eq!(call(&g, Call::SetTime(30.0), null()), ntk_status::Ok);
    assert_eq!(state(&f, &p), state(&g, &p));
}

/// The case of fuzz/known-slow (before it moved to fuzz/regressions): a 5-point cross-entropy
/// flow with soft targets whose kernel is a PSD Gram matrix scaled by 1e300.
fn stiff_case(scale: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let kern = [
        4.73681640625,
        -1.524658203125,
        -2.605224609375,
        1.616455078125,
        -4.0849609375,
        -1.524658203125,
        1.848876953125,
        -0.79541015625,
        -2.479248046875,
        2.687744140625,
        -2.605224609375,
        -0.79541015625,
        3.398681640625,
        1.4677734375,
        0.594970703125,
        1.616455078125,
        -2.479248046875,
        1.4677734375,
        3.377197265625,
        -3.374267578125,
        -4.0849609375,
        2.687744140625,
        0.594970703125,
        -3.374267578125,
        4.91064453125,
    ];
    let y = [
        0.1716101694915254,
        0.8283898305084746,
        0.6902887139107612,
        0.30971128608923887,
        0.8116710875331564,
        0.18832891246684347,
        0.7675033025099075,
        0.23249669749009247,
        0.49597423510466987,
        0.5040257648953301,
    ];
    let f0 = [
        0.125, -3.625, -3.34375, 2.625, -2.28125, 3.71875, 0.34375, 0.25, 1.9375, -2.65625,
    ];
    (
        kern.iter().map(|v| v * scale).collect(),
        y.to_vec(),
        f0.to_vec(),
    )
}

/// Creates the 5-point flow (k = 2, or k = 1 with the first output column for MSE), runs
/// set_time(t) and returns the status, the message and the time it took.
fn timed_set_time(
    scale: f64,
    cost: c_int,
    method: c_int,
    t: f64,
) -> (ntk_status, String, Duration) {
    let (kern, y2, f02) = stiff_case(scale);
    let k = if cost == 1 { 2 } else { 1 };
    let y: Vec<f64> = y2.iter().step_by(3 - k).cloned().collect();
    let f0: Vec<f64> = f02.iter().step_by(3 - k).cloned().collect();
    let opts = ntk_flow_options {
        method,
        rtol: 0.0,
        atol: 0.46875,
        krylov_tol: 0.0,
    };
    let mut h = null_mut();
    let st = unsafe {
        ntk_flow_create(
            m(&kern, 5, 5),
            m(&y, 5, k),
            m(&f0, 5, k),
            null(),
            null(),
            cost,
            &opts,
            &mut h,
        )
    };
    assert_eq!(st, ntk_status::Ok, "{}", last_error());
    let flow = Flow(h);
    let mut before = vec![0.0; 5 * k];
    unsafe { ntk_flow_outputs(flow.0, mm(&mut before, 5, k)) };
    let start = Instant::now();
    let st = unsafe { ntk_flow_set_time(flow.0, t, null()) };
    let took = start.elapsed();
    let msg = last_error();
    if st != ntk_status::Ok {
        let mut after = vec![0.0; 5 * k];
        let mut now = -1.0;
        unsafe {
            ntk_flow_outputs(flow.0, mm(&mut after, 5, k));
            ntk_flow_time(flow.0, &mut now);
        }
        assert_eq!(now, 0.0);
        assert_eq!(
            after.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            before.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }
    (st, msg, took)
}

fn assert_fails_fast(what: &str, scale: f64, cost: c_int, method: c_int, t: f64) {
    let (st, msg, took) = timed_set_time(scale, cost, method, t);
    println!("{what}: {st:?} in {took:?}: {msg}");
    assert_eq!(st, ntk_status::Numerical, "{what}: {msg}");
    assert!(
        msg.contains("stiff") || msg.contains("underflow"),
        "{what}: the message does not name the cause: {msg}"
    );
    assert!(took < Duration::from_secs(1), "{what} took {took:?}");
}

#[test]
fn hopeless_ode_requests_fail_fast() {
    // The known-slow fuzz case: soft cross-entropy targets, kernel scaled by 1e300 (ran 10^7
    // steps, minutes, before failing).
    assert_fails_fast("CE, K * 1e300, t = 3.66", 1e300, 1, 1, 3.66);
    // The same kernel scaled by 1e8 only: about 1e8 stability-limited steps (1e6 would be a
    // legitimate ~7e5 steps), found by the step-size extrapolation after a few hundred steps.
    assert_fails_fast("CE, K * 1e8, t = 3.66", 1e8, 1, 0, 3.66);
    // Huge intervals.
    assert_fails_fast("CE, t = 1e300", 1.0, 1, 0, 1e300);
    assert_fails_fast("CE, t = 1e12", 1.0, 1, 0, 1e12);
    // MSE through the ODE method: rejected before integrating (lambda_max(K) lower bound).
    assert_fails_fast("MSE ODE, t = 1e300", 1.0, 0, 3, 1e300);
    assert_fails_fast("MSE ODE, K * 1e300", 1e300, 0, 3, 3.66);
    assert_fails_fast("MSE ODE, K * 1e9", 1e9, 0, 3, 3.66);
    let (st, msg, _) = timed_set_time(1e9, 0, 3, 3.66);
    assert!(
        msg.contains("at least") && msg.contains("lambda_max") && msg.contains("[0, 3.66]"),
        "{st:?}: {msg}"
    );
    // The closed-form MSE methods are not limited by stiffness.
    for method in 0..=2 {
        let (st, msg, _) = timed_set_time(1e300, 0, method, 3.66);
        assert_eq!(st, ntk_status::Ok, "MSE method {method}: {msg}");
    }
}

#[test]
fn legitimate_stiff_looking_flows_are_integrated() {
    // A stability-limited flow of about 4·10^3 steps (far more than the 512 after which the
    // step-size extrapolation starts) is not rejected.
    let (st, msg, took) = timed_set_time(1.0, 1, 0, 2e4);
    println!("CE, t = 2e4: {st:?} in {took:?}");
    assert_eq!(st, ntk_status::Ok, "{msg}");
    // Cross-entropy with one-hot targets and a well-conditioned kernel scaled by 1e9: the
    // curvature bound lambda_max(K) * max c'' / N would predict ~1e9 steps, but the softmax
    // saturates (the curvature decays like 1/t), the step size grows and the flow is integrated
    // in a few thousand steps.
    let n = 4;
    let mut kern = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            kern[i * n + j] = 1e9 * if i == j { 1.0 } else { 0.1 };
        }
    }
    let y = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0];
    let f0 = [0.0; 8];
    let mut h = null_mut();
    let st = unsafe {
        ntk_flow_create(
            m(&kern, n, n),
            m(&y, n, 2),
            m(&f0, n, 2),
            null(),
            null(),
            1,
            null(),
            &mut h,
        )
    };
    assert_eq!(st, ntk_status::Ok);
    let flow = Flow(h);
    let start = Instant::now();
    let mut log = Recorder::default();
    let opts = ntk_options {
        progress: Some(record),
        user_data: &mut log as *mut Recorder as *mut c_void,
    };
    let st = unsafe { ntk_flow_set_time(flow.0, 3.66, &opts) };
    println!(
        "saturating CE, K * 1e9: {st:?} in {:?}, {} reports",
        start.elapsed(),
        log.calls.len()
    );
    assert_eq!(st, ntk_status::Ok, "{}", last_error());
    let mut out = [0.0; 8];
    unsafe { ntk_flow_outputs(flow.0, mm(&mut out, n, 2)) };
    for i in 0..n {
        let (a, b) = (out[2 * i], out[2 * i + 1]);
        let target_first = y[2 * i] == 1.0;
        assert!((a > b) == target_first, "point {i}: {a} {b}");
    }
}

/// Found by the flow fuzzer (fuzz/regressions/flow/crash-mse-residual-overflow): finite f0 and y
/// whose difference overflows made the MSE closed form return OK with an infinite state. The
/// call now fails with NUMERICAL and leaves the flow unchanged.
#[test]
fn overflowing_mse_state_is_rejected() {
    let (kern, y, f0) = ([8.0], [-1e300], [f64::MAX]);
    for method in 0..=2 {
        let opts = ntk_flow_options {
            method,
            rtol: 0.0,
            atol: 0.0,
            krylov_tol: 0.0,
        };
        let mut h = null_mut();
        let st = unsafe {
            ntk_flow_create(
                m(&kern, 1, 1),
                m(&y, 1, 1),
                m(&f0, 1, 1),
                null(),
                null(),
                0,
                &opts,
                &mut h,
            )
        };
        assert_eq!(st, ntk_status::Ok);
        let flow = Flow(h);
        let st = unsafe { ntk_flow_step(flow.0, 1.25, null()) };
        assert_eq!(st, ntk_status::Numerical, "method {method}");
        let (mut out, mut t) = ([0.0], -1.0);
        unsafe {
            assert_eq!(ntk_flow_outputs(flow.0, mm(&mut out, 1, 1)), ntk_status::Ok);
            ntk_flow_time(flow.0, &mut t);
        }
        assert_eq!((out[0], t), (f64::MAX, 0.0));
    }
}
