//! Target `flow`: ntk_flow_* on random (spoiled) kernels, with cancellation and bit-identical
//! resumption; also the flow handle and kernel generator the spectrum target uses.

use super::*;
use ntk::ffi::{ntk_matrix, ntk_matrix_mut, ntk_options, ntk_status};
use std::ffi::{c_int, c_void};
use std::ptr::null_mut;

use ntk::ffi::flow::{
    ntk_flow, ntk_flow_create, ntk_flow_free, ntk_flow_loss, ntk_flow_options, ntk_flow_outputs,
    ntk_flow_predict, ntk_flow_set_time, ntk_flow_step, ntk_flow_time,
};

struct FlowHandle(*mut ntk_flow);
impl Drop for FlowHandle {
    fn drop(&mut self) {
        unsafe { ntk_flow_free(self.0) }
    }
}

/// A kernel matrix of size d x d: the Gram matrix of decoded features (PSD), then optionally
/// spoiled (asymmetric entry, negative diagonal, non-finite entry, huge entries).
pub(crate) fn kernel_matrix(b: &mut Bytes<'_>, d: usize) -> Vec<f64> {
    let r = 1 + b.below(3);
    let feats: Vec<f64> = (0..d * r).map(|_| (b.u8() as f64 - 128.0) / 64.0).collect();
    let mut k = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            k[i * d + j] = (0..r).map(|q| feats[i * r + q] * feats[j * r + q]).sum();
        }
    }
    match b.u8() % 8 {
        0 => {
            let (i, j) = (b.below(d), b.below(d));
            let v = b.mostly_ordinary();
            k[i * d + j] += if v.is_finite() { v.clamp(-1e3, 1e3) } else { v };
        }
        1 => {
            let i = b.below(d);
            k[i * d + i] = -1.0 - b.u8() as f64;
        }
        2 => {
            let i = b.below(d * d);
            // Finite spoilers stay below 1e3 (huge kernels come from the scaling below).
            let v = b.value();
            k[i] = if v.is_finite() { v.clamp(-1e3, 1e3) } else { v };
        }
        // Scaled up: a kernel of ~1e300 is accepted but hopelessly stiff for the ODE method,
        // which must fail fast (NUMERICAL) instead of running 10^7 steps.
        3 => {
            let s = if b.u8() % 2 == 0 { 1e3 } else { 1e300 };
            k.iter_mut().for_each(|v| *v *= s)
        }
        _ => {}
    }
    k
}

fn flow_state(f: *const ntk_flow, n: usize, k: usize) -> (Vec<u64>, u64) {
    let mut out = vec![0.0; n * k];
    let st = unsafe {
        ntk_flow_outputs(
            f,
            ntk_matrix_mut {
                data: out.as_mut_ptr(),
                rows: n,
                cols: k,
                row_stride: k as isize,
                col_stride: 1,
            },
        )
    };
    assert_eq!(st, ntk_status::Ok, "outputs: {}", last_error());
    let mut t = 0.0;
    assert_eq!(unsafe { ntk_flow_time(f, &mut t) }, ntk_status::Ok);
    (bits(&out), t.to_bits())
}

/// Progress callback of the flow steps: cancels at call `cancel_at` (never when 0) and, so that
/// legitimate but long integrations (up to 10^7 steps) do not time the fuzzer out, after
/// `FLOW_CALL_BUDGET` calls in any case (the ODE method reports every <= 64 steps).
struct FlowCancel {
    calls: u64,
    cancel_at: u64,
    last_done: u64,
}
const FLOW_CALL_BUDGET: u64 = 100;
unsafe extern "C" fn flow_progress_cb(ud: *mut c_void, done: u64, total: u64) -> c_int {
    let c = unsafe { &mut *(ud as *mut FlowCancel) };
    assert!(done <= total, "flow progress: done {done} > total {total}");
    assert!(done >= c.last_done, "flow progress went backwards");
    c.last_done = done;
    c.calls += 1;
    ((c.cancel_at != 0 && c.calls >= c.cancel_at) || c.calls >= FLOW_CALL_BUDGET) as c_int
}

/// Target: ntk_flow_create with random kernels/targets/options, then a sequence of
/// step / set_time / outputs / predict / loss calls. A failing step or set_time leaves the flow
/// unchanged; successful states are finite.
pub fn fuzz_flow(data: &[u8]) -> Option<ntk_status> {
    let mut b = Bytes::new(data);
    let n = 1 + b.below(5);
    let k = 1 + b.below(3);
    let full = b.u8() % 4 == 0;
    let d = if full { n * k } else { n };
    let kern = kernel_matrix(&mut b, d);
    let cost: c_int = match b.u8() % 8 {
        6 => 2,
        7 => -1,
        v => (v % 2) as c_int,
    };
    let mut y: Vec<f64> = (0..n * k).map(|_| b.mostly_ordinary()).collect();
    if cost == 1 && b.u8() % 2 == 0 {
        // Probability targets for cross-entropy.
        for i in 0..n {
            let row = &mut y[i * k..(i + 1) * k];
            row.iter_mut().for_each(|v| *v = v.abs() + 0.1);
            let s: f64 = row.iter().sum();
            row.iter_mut().for_each(|v| *v /= s);
        }
    }
    let f0: Vec<f64> = (0..n * k).map(|_| b.mostly_ordinary()).collect();
    let m = b.below(3);
    let test = m > 0;
    let tk: Vec<f64> = (0..m.max(1) * (if full { k } else { 1 }) * d)
        .map(|_| b.mostly_ordinary())
        .collect();
    let tf0: Vec<f64> = (0..m.max(1) * k).map(|_| b.mostly_ordinary()).collect();
    let opts = ntk_flow_options {
        method: match b.u8() % 8 {
            6 => 4,
            7 => -2,
            v => (v % 4) as c_int,
        },
        rtol: if b.u8() % 4 == 0 { b.value() } else { 0.0 },
        atol: if b.u8() % 4 == 0 { b.value() } else { 0.0 },
        krylov_tol: if b.u8() % 4 == 0 { b.value() } else { 0.0 },
    };
    let view = |v: &[f64], r: usize, c: usize| ntk_matrix {
        data: v.as_ptr(),
        rows: r,
        cols: c,
        row_stride: c as isize,
        col_stride: 1,
    };
    let tkm = view(&tk, m.max(1) * (if full { k } else { 1 }), d);
    let tfm = view(&tf0, m.max(1), k);
    let nulls = b.u8();
    let sentinel = 0x77usize as *mut ntk_flow;
    let mut h = sentinel;
    let st = unsafe {
        ntk_flow_create(
            view(&kern, d, d),
            view(&y, n, k),
            view(&f0, n, k),
            if test && nulls != 1 {
                &tkm
            } else {
                std::ptr::null()
            },
            if test && nulls != 2 {
                &tfm
            } else {
                std::ptr::null()
            },
            cost,
            if b.u8() % 2 == 0 {
                &opts
            } else {
                std::ptr::null()
            },
            if nulls == 3 { null_mut() } else { &mut h },
        )
    };
    check_status(st, "ntk_flow_create");
    if st != ntk_status::Ok {
        assert_eq!(h, sentinel, "ntk_flow_create wrote *out on failure");
        return Some(st);
    }
    let flow = FlowHandle(h);
    for _ in 0..(1 + b.below(4)) {
        let before = flow_state(flow.0, n, k);
        let op = b.u8() % 8;
        if std::env::var_os("NTK_FUZZ_DEBUG").is_some() {
            eprintln!(
                "flow n {n} k {k} full {full} cost {cost} kern {kern:?} y {y:?} f0 {f0:?} opts {opts:?} op {op} next bytes {:?}",
                &b.data[b.pos.min(b.data.len())..(b.pos + 9).min(b.data.len())]
            );
        }
        // Any finite time passes (t = 1e300 included: hopeless ODE requests must fail fast);
        // long legitimate integrations are cut by the call budget of flow_progress_cb.
        let (is_step, time) = match op {
            0 | 1 => (true, b.value()),
            2 => (true, b.u8() as f64 / 16.0),
            3 => (false, b.value()),
            4 => (false, b.u8() as f64 / 8.0),
            _ => (false, f64::NAN),
        };
        let cancel_at = if b.u8() % 4 == 0 {
            1 + b.below(6) as u64
        } else {
            0
        };
        let mut cancel = FlowCancel {
            calls: 0,
            cancel_at,
            last_done: 0,
        };
        let opts = ntk_options {
            progress: Some(flow_progress_cb),
            user_data: &mut cancel as *mut FlowCancel as *mut c_void,
        };
        let call = |o: *const ntk_options| unsafe {
            if is_step {
                ntk_flow_step(flow.0, time, o)
            } else {
                ntk_flow_set_time(flow.0, time, o)
            }
        };
        let st = if op < 5 { call(&opts) } else { ntk_status::Ok };
        check_status(st, "ntk_flow_step/set_time");
        if st != ntk_status::Ok {
            assert_eq!(
                flow_state(flow.0, n, k),
                before,
                "failed step changed the flow"
            );
        }
        if st == ntk_status::Cancelled {
            assert!(cancel.calls > 0, "cancelled without a callback call");
            if cancel.calls < FLOW_CALL_BUDGET {
                // Cancelled early: the handle stays usable; the same call again with a fresh
                // budget gives the status and state of an uncancelled call (when it finishes).
                let mut again = FlowCancel {
                    calls: 0,
                    cancel_at: 0,
                    last_done: 0,
                };
                let opts2 = ntk_options {
                    progress: Some(flow_progress_cb),
                    user_data: &mut again as *mut FlowCancel as *mut c_void,
                };
                let st2 = call(&opts2);
                check_status(st2, "ntk_flow_step/set_time (after a cancel)");
                if st2 != ntk_status::Ok {
                    assert_eq!(
                        flow_state(flow.0, n, k),
                        before,
                        "failed retry changed the flow"
                    );
                }
            }
        }
        let (outs, t) = flow_state(flow.0, n, k);
        assert!(
            outs.iter().all(|v| f64::from_bits(*v).is_finite()),
            "non-finite flow outputs"
        );
        assert!(f64::from_bits(t) >= 0.0);
        let mut loss = SENTINEL;
        let st = unsafe { ntk_flow_loss(flow.0, &mut loss) };
        check_status(st, "ntk_flow_loss");
        if st == ntk_status::Numerical {
            assert_eq!(
                loss.to_bits(),
                SENTINEL.to_bits(),
                "loss written on NUMERICAL"
            );
        }
        assert!(
            st == ntk_status::Numerical || loss.is_finite(),
            "ntk_flow_loss OK with loss = {loss} (cost {cost}, t = {}, n {n} k {k} full {full}, kernel {kern:?}, y {y:?}, f0 {f0:?}, op {op})",
            f64::from_bits(t)
        );
        let mut pred = vec![SENTINEL; m.max(1) * k + 1];
        let pm = ntk_matrix_mut {
            data: pred.as_mut_ptr(),
            rows: m.max(1),
            cols: k,
            row_stride: k as isize,
            col_stride: 1,
        };
        let st = unsafe { ntk_flow_predict(flow.0, pm) };
        check_status(st, "ntk_flow_predict");
        if test && st == ntk_status::Numerical {
            assert!(pred.iter().all(|v| v.to_bits() == SENTINEL.to_bits()));
        } else if test {
            assert_eq!(st, ntk_status::Ok);
            assert!(pred[..m * k].iter().all(|v| v.is_finite()));
        } else {
            assert_eq!(st, ntk_status::InvalidArgument);
            assert!(pred[..k].iter().all(|v| v.to_bits() == SENTINEL.to_bits()));
        }
        assert_eq!(pred[m.max(1) * k].to_bits(), SENTINEL.to_bits());
    }
    Some(st)
}
