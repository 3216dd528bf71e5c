//! Target `limit`: ntk_kernel_limit against closed forms, and the limit-kernel network decoder the
//! tiles target shares.

use super::*;
use ntk::ffi::network::{ntk_network, ntk_network_config, ntk_network_create};
use ntk::ffi::{ntk_matrix, ntk_matrix_mut, ntk_status};
use std::ffi::{c_int, c_void};
use std::ptr::null_mut;

use ntk::ffi::limit::ntk_kernel_limit;

/// A custom activation with a closed form in the harness: ReLU and its derivative (step).
unsafe extern "C" fn c_relu(x: f64, _: *mut c_void) -> f64 {
    x.max(0.0)
}
unsafe extern "C" fn c_step(x: f64, _: *mut c_void) -> f64 {
    if x > 0.0 {
        1.0
    } else {
        0.0
    }
}

/// A network decoded for the limit kernels: only n_0, the depth L, the activation and β matter,
/// so the hidden widths stay tiny and the depth goes up to 12.
pub struct LimitModel {
    pub net: Net,
    pub n0: usize,
    pub depth: usize,
    pub activation: c_int,
    pub param: f64,
    pub beta: f64,
    /// No closed form: the (costly) numerical method.
    pub numerical: bool,
}

/// Decodes a limit-kernel network (every activation including leaky ReLU with any slope and the
/// custom ones, depth 1..=12, β including negative / non-finite / huge, n_0 sometimes absurd)
/// and creates it. None when creation (correctly) fails.
pub fn make_limit_model(b: &mut Bytes<'_>) -> Option<LimitModel> {
    let depth = match b.u8() % 16 {
        0 => 12,
        n => 1 + (n as usize % 5),
    };
    let n0 = match b.u8() % 32 {
        0 => b.size(4),
        n => 1 + (n as usize % 4),
    };
    let mut widths = vec![n0];
    for _ in 0..depth {
        widths.push(1 + b.below(3));
    }
    let activation: c_int = match b.u8() % 24 {
        21 => -1,
        22 => 11,
        23 => c_int::MAX,
        a => (a % 11) as c_int,
    };
    // Activations without a closed form cost up to ~10 ms per highly correlated pair and layer
    // under ASan (nested quadrature; a custom tanh at depth 3 took 4.5 s): depth <= 2 keeps every
    // input well below the 10 s timeout.
    let numerical = matches!(activation, 4..=7 | 10);
    let depth = if numerical { depth.min(2) } else { depth };
    widths.truncate(depth + 1);
    let param = match b.u8() % 4 {
        0 => b.value(),
        _ => (b.u8() as f64 - 128.0) / 64.0,
    };
    let beta = match b.u8() % 8 {
        0 => b.value(),
        1 => -0.5,
        2 => 0.0,
        _ => b.u8() as f64 / 128.0,
    };
    type F = ntk::ffi::network::ntk_scalar_fn;
    let (sigma, dsigma): (F, F) = match b.u8() % 8 {
        0 => (Some(c_tanh), None),
        1 => (Some(c_nan_big), Some(c_nan_big)),
        2 | 3 => (Some(c_relu), Some(c_step)),
        _ => (Some(c_tanh), Some(c_dtanh)),
    };
    let cfg = ntk_network_config {
        widths: widths.as_ptr(),
        num_widths: widths.len(),
        activation,
        activation_param: param,
        beta,
        seed: b.u8() as u64,
        custom_sigma: sigma,
        custom_dsigma: dsigma,
        custom_user_data: null_mut(),
    };
    let sentinel = 0x5a5b_usize as *mut ntk_network;
    let mut h = sentinel;
    let st = unsafe { ntk_network_create(&cfg, &mut h) };
    check_status(st, "ntk_network_create");
    if st != ntk_status::Ok {
        assert_eq!(h, sentinel, "ntk_network_create wrote *out on failure");
        return None;
    }
    Some(LimitModel {
        net: Net(h),
        n0,
        depth,
        activation,
        param,
        beta,
        numerical,
    })
}

/// Asserts that a failure message names one of `names` (the arguments of the call). Statuses
/// reported after the computation (CANCELLED, NUMERICAL) and ALLOCATION failures of internal
/// buffers are exempt from naming an argument but must still carry a message.
#[track_caller]
pub fn check_names_argument(st: ntk_status, names: &[&str], what: &str) {
    let msg = last_error();
    match st {
        ntk_status::Ok | ntk_status::Cancelled | ntk_status::Numerical => {}
        ntk_status::Allocation => assert!(!msg.is_empty(), "{what}: empty message"),
        _ => assert!(
            names.iter().any(|n| msg.contains(n)),
            "{what}: {st:?} message {msg:?} names none of the arguments {names:?}"
        ),
    }
}

/// A valid output view of any shape (row- or column-major, optionally padded), for results that
/// are compared with another computation.
impl Buffer {
    pub fn plain(rows: usize, cols: usize, col_major: bool, pad: usize) -> Buffer {
        let (rs, cs, len) = if col_major {
            (1, (rows + pad) as isize, (rows + pad) * cols)
        } else {
            ((cols + pad) as isize, 1, rows * (cols + pad))
        };
        Buffer {
            data: vec![SENTINEL; len.max(1)],
            origin: 0,
            rows,
            cols,
            rs,
            cs,
            bogus: false,
        }
    }
}

/// Row-major copies of the three outputs of ntk_kernel_limit (None for an output not requested).
pub(crate) type Kernels = [Option<Vec<u64>>; 3];

/// Runs ntk_kernel_limit into fresh row-major buffers for all three kernels.
pub(crate) fn limit_all(
    net: *const ntk_network,
    x1: ntk_matrix,
    x2: Option<&ntk_matrix>,
    n1: usize,
    n2: usize,
) -> (ntk_status, [Vec<f64>; 3]) {
    let mut k = [
        vec![SENTINEL; n1 * n2],
        vec![SENTINEL; n1 * n2],
        vec![SENTINEL; n1 * n2],
    ];
    let [a, s, t] = &mut k;
    let mut va = ntk::ffi::view::row_major_view_mut(a, n1, n2);
    let mut vs = ntk::ffi::view::row_major_view_mut(s, n1, n2);
    let mut vt = ntk::ffi::view::row_major_view_mut(t, n1, n2);
    let st = unsafe {
        ntk_kernel_limit(
            net,
            x1,
            x2.map_or(std::ptr::null(), |p| p as *const ntk_matrix),
            &mut va,
            &mut vs,
            &mut vt,
            std::ptr::null(),
        )
    };
    check_status(st, "ntk_kernel_limit (all outputs)");
    (st, k)
}

/// The diagonal of the NNGP and NTK for ReLU / leaky ReLU / identity by the textbook recursion,
/// computed here independently of the library: Σ¹ = |x|²/n_0 + β², Σ^{l+1} = c Σ^l + β²,
/// Θ^{l+1} = Θ^l ċ + Σ^{l+1} with c = ċ = (1 + a²)/2 (a = 0 for ReLU; c = ċ = 1 for identity).
/// None when some Σ^l is 0 (the derivative is then a convention) or not finite.
fn homogeneous_diagonal(row: &[f64], depth: usize, c: f64, beta: f64) -> Option<(f64, f64, f64)> {
    let sq: f64 = row.iter().map(|v| v * v).sum();
    let b2 = beta * beta;
    let mut s = sq / row.len() as f64 + b2;
    let mut theta = s;
    let mut sdot = 0.0;
    for _ in 1..depth {
        if !(s > 0.0) || !s.is_finite() {
            return None;
        }
        sdot = c;
        s = c * s + b2;
        theta = theta * sdot + s;
    }
    (s.is_finite() && theta.is_finite() && s > 0.0).then_some((s, sdot, theta))
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()) + 1e-300
}

/// Target: ntk_kernel_limit. Random architecture (all activations, leaky slope, custom σ, depth,
/// β), x1/x2 with random shapes and strides (column-major, negative, broadcast, overflowing),
/// any subset of the three outputs with random layouts (sometimes overlapping each other or an
/// input), NULLs, and a progress callback that cancels at a random call.
///
/// Asserts the contract (see the module docs) and, on success: symmetric outputs for x2 = NULL;
/// x2 = x1 passed explicitly gives the same bits as x2 = NULL; for ReLU / leaky ReLU / identity
/// the NNGP, Σ̇ and NTK diagonals match an independent recursion; Σ̇ = 0 for L = 1; results are
/// repeatable, also after a cancelled call.
pub fn fuzz_limit(data: &[u8]) -> Option<ntk_status> {
    let mut b = Bytes::new(data);
    let m = make_limit_model(&mut b)?;
    // At most 3 points per set for the numerical method (cost, see make_limit_model).
    let small = if m.numerical { 3 } else { 6 };
    let n1 = if b.u8() % 8 == 0 {
        b.size(6)
    } else {
        1 + b.below(6).min(small - 1)
    };
    let n2 = if b.u8() % 8 == 0 {
        b.size(6)
    } else {
        1 + b.below(6).min(small - 1)
    };
    let (r1, c1) = shape_near(&mut b, n1, m.n0);
    let mut x1 = Buffer::new(&mut b, r1, c1, false);
    x1.fill(&mut b);
    // 0: x2 = NULL, 1: x2 = the same view as x1, 2..: its own buffer.
    let x2_kind = b.u8() % 4;
    let (r2, c2) = shape_near(&mut b, n2, m.n0);
    let mut x2 = Buffer::new(&mut b, r2, c2, false);
    x2.fill(&mut b);
    let n2_eff = if x2_kind >= 2 { r2 } else { r1 };
    let present = b.u8();
    let mut outs: Vec<Buffer> = (0..3)
        .map(|_| {
            let (or, oc) = shape_near(&mut b, r1, n2_eff);
            Buffer::new(&mut b, or, oc, true)
        })
        .collect();
    // Overlaps the library must reject: one output given twice, an output inside x1's buffer.
    let overlap = b.u8() % 32;
    let cancel_at = if b.u8() % 4 == 0 {
        1 + b.below(6) as u64
    } else {
        0
    };
    let nulls = b.u8();
    let inputs_before = (x1.data.clone(), x2.data.clone());
    let before: Vec<Vec<f64>> = outs.iter().map(|o| o.data.clone()).collect();
    let x1m = x1.as_input(nulls == 2);
    let x2m = if x2_kind == 1 {
        x1m
    } else {
        x2.as_input(nulls == 3)
    };
    let x2p: *const ntk_matrix = if x2_kind == 0 { std::ptr::null() } else { &x2m };
    let mut descs: Vec<Option<ntk_matrix_mut>> = outs
        .iter_mut()
        .enumerate()
        .map(|(k, o)| {
            let wanted = present & (1 << k) != 0 || present & 7 == 0 && nulls != 6;
            wanted.then(|| o.as_output(nulls == 4 + k as u8 && k < 2))
        })
        .collect();
    // ntk given the very view of nngp; sigma_dot starting at x1's first element.
    let dup = overlap == 0 && descs[0].is_some();
    let inside = overlap == 1 && descs[1].is_some();
    if dup {
        descs[2] = descs[0];
    }
    if inside {
        descs[1].as_mut().unwrap().data = x1m.data as *mut f64;
    }
    let net = if nulls == 1 { null_mut() } else { m.net.0 };
    let cancel = CancelOpts::new(cancel_at);
    let optp = cancel.ptr(nulls == 7);
    let ptr = |d: &mut Option<ntk_matrix_mut>| -> *mut ntk_matrix_mut {
        d.as_mut().map_or(null_mut(), |m| m as *mut ntk_matrix_mut)
    };
    let [d0, d1, d2] = &mut descs[..] else {
        unreachable!()
    };
    let st = unsafe { ntk_kernel_limit(net, x1m, x2p, ptr(d0), ptr(d1), ptr(d2), optp) };
    check_status(st, "ntk_kernel_limit");
    check_names_argument(
        st,
        &["network", "x1", "x2", "nngp", "sigma_dot", "ntk"],
        "ntk_kernel_limit",
    );
    if st == ntk_status::Cancelled {
        assert!(cancel_at > 0, "cancelled without a cancel request");
    }
    assert_eq!(bits(&x1.data), bits(&inputs_before.0), "kernel modified x1");
    assert_eq!(bits(&x2.data), bits(&inputs_before.1), "kernel modified x2");
    let requested = [d0.is_some(), d1.is_some(), d2.is_some()];
    // Which argument was spoiled on purpose, and what must come back.
    match nulls {
        1 => assert_eq!(st, ntk_status::NullPointer, "NULL network"),
        2 if r1 > 0 && c1 > 0 => assert_eq!(st, ntk_status::NullPointer, "NULL x1.data"),
        _ => {}
    }
    if requested.iter().all(|r| !r) {
        assert_ne!(st, ntk_status::Ok, "no output requested but OK");
    }
    if dup {
        assert_ne!(
            st,
            ntk_status::Ok,
            "nngp and ntk are the same memory but OK"
        );
    }
    if inside {
        assert_ne!(st, ntk_status::Ok, "sigma_dot inside x1 but OK");
    }
    let names = ["nngp", "sigma_dot", "ntk"];
    for k in 0..3 {
        let what = format!("ntk_kernel_limit {}", names[k]);
        if requested[k] && !(inside && k == 1) && !(dup && k == 2) {
            outs[k].check_output(&before[k], st, &what);
        } else {
            assert_eq!(
                bits(&outs[k].data),
                bits(&before[k]),
                "{what}: an output not passed was written"
            );
        }
    }
    if st != ntk_status::Ok && st != ntk_status::Cancelled {
        return Some(st);
    }
    // Cross-checks on a well-formed call with all three outputs in fresh row-major buffers.
    let x2_opt = if x2_kind >= 2 { Some(&x2m) } else { None };
    let (st_all, all) = limit_all(net, x1m, x2_opt, r1, n2_eff);
    if st == ntk_status::Ok && st_all == ntk_status::Numerical {
        // Only an output that was not requested may overflow.
        let msg = last_error();
        let unrequested = (0..3).any(|k| !requested[k] && msg.contains(&format!("{}[", names[k])));
        assert!(unrequested, "requested outputs OK, all outputs: {msg}");
        return Some(st);
    }
    if st == ntk_status::Ok {
        assert_eq!(st_all, ntk_status::Ok, "all outputs: {}", last_error());
        for k in 0..3 {
            if requested[k] && !(dup && k == 2) {
                assert_eq!(
                    bits(&outs[k].view_values()),
                    bits(&all[k]),
                    "{} differs between output subsets/layouts",
                    names[k]
                );
            }
        }
    } else {
        // After a cancel the handle works and gives what an uncancelled call gives.
        assert!(
            st_all == ntk_status::Ok || st_all == ntk_status::Numerical,
            "after cancel: {st_all:?} {}",
            last_error()
        );
    }
    if st_all != ntk_status::Ok {
        return Some(st);
    }
    let (n1, n2) = (r1, n2_eff);
    for (k, v) in all.iter().enumerate() {
        assert!(v.iter().all(|x| x.is_finite()), "{} not finite", names[k]);
    }
    if m.depth == 1 {
        assert!(all[1].iter().all(|v| *v == 0.0), "sigma_dot != 0 for L = 1");
    }
    if x2_kind <= 1 {
        // Symmetric, and x2 = x1 passed explicitly equals x2 = NULL bit for bit.
        for (k, v) in all.iter().enumerate() {
            for i in 0..n1 {
                for j in 0..i {
                    assert_eq!(
                        v[i * n2 + j].to_bits(),
                        v[j * n2 + i].to_bits(),
                        "{} not symmetric at ({i},{j})",
                        names[k]
                    );
                }
            }
        }
        // (The detection of x2 = x1 does not depend on the activation: checked with the cheap
        // closed forms only.)
        if !m.numerical {
            let other = if x2_kind == 0 { Some(&x1m) } else { None };
            let (st2, again) = limit_all(net, x1m, other, n1, n2);
            assert_eq!(st2, ntk_status::Ok, "{}", last_error());
            for k in 0..3 {
                assert_eq!(
                    bits(&again[k]),
                    bits(&all[k]),
                    "{}: x2 = x1 explicitly differs from x2 = NULL",
                    names[k]
                );
            }
        }
        // Independent recursion for the homogeneous activations on the diagonal.
        let c = match m.activation {
            0 => Some(1.0),
            1 => Some(0.5),
            2 => Some(0.5 * (1.0 + m.param * m.param)),
            _ => None,
        };
        if let (Some(c), false) = (c, x1.bogus) {
            let rows: Vec<Vec<f64>> = {
                let v = x1.view_values();
                v.chunks(x1.cols).map(|r| r.to_vec()).collect()
            };
            for (i, row) in rows.iter().enumerate().take(64) {
                if let Some((s, sdot, theta)) = homogeneous_diagonal(row, m.depth, c, m.beta) {
                    let d = i * n2 + i;
                    assert!(
                        close(all[0][d], s, 1e-12),
                        "NNGP[{i},{i}] = {} but the recursion gives {s} (act {}, a {}, beta {}, L {})",
                        all[0][d],
                        m.activation,
                        m.param,
                        m.beta,
                        m.depth
                    );
                    assert!(
                        close(all[1][d], sdot, 1e-12),
                        "sigma_dot[{i},{i}] = {} but the recursion gives {sdot}",
                        all[1][d]
                    );
                    assert!(
                        close(all[2][d], theta, 1e-11),
                        "NTK[{i},{i}] = {} but the recursion gives {theta}",
                        all[2][d]
                    );
                }
            }
        }
    }
    Some(st)
}
