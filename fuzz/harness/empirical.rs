//! Target `empirical`: ntk_kernel_empirical (modes, methods, X2 absent or present, cancel).

use super::*;
use ntk::ffi::empirical::ntk_kernel_empirical;
use ntk::ffi::{ntk_matrix, ntk_status};
use std::ffi::c_int;
use std::ptr::null_mut;

/// Target: ntk_kernel_empirical (modes, methods, X2 absent or present, cancel).
pub fn fuzz_empirical(data: &[u8]) -> Option<ntk_status> {
    let mut b = Bytes::new(data);
    let Some(m) = make_model(&mut b) else {
        return None;
    };
    let n1 = if b.u8() % 8 == 0 {
        b.size(5)
    } else {
        1 + b.below(5)
    };
    let n2 = if b.u8() % 8 == 0 {
        b.size(5)
    } else {
        1 + b.below(5)
    };
    let (r1, c1) = shape_near(&mut b, n1, m.n0);
    let mut x1 = Buffer::new(&mut b, r1, c1, false);
    x1.fill(&mut b);
    let with_x2 = b.u8() % 2 == 0;
    let (r2, c2) = shape_near(&mut b, n2, m.n0);
    let mut x2 = Buffer::new(&mut b, r2, c2, false);
    x2.fill(&mut b);
    let mode: c_int = match b.u8() % 8 {
        6 => -1,
        7 => 2 + b.u8() as c_int,
        v => (v % 2) as c_int,
    };
    let method: c_int = match b.u8() % 8 {
        6 => -3,
        7 => 3 + b.u8() as c_int,
        v => (v % 3) as c_int,
    };
    let n2_eff = if with_x2 { r2 } else { r1 };
    let (er, ec) = if mode == 1 {
        (r1.saturating_mul(m.nl), n2_eff.saturating_mul(m.nl))
    } else {
        (r1, n2_eff)
    };
    let (or, oc) = shape_near(&mut b, er, ec);
    let mut out = Buffer::new(&mut b, or, oc, true);
    let cancel_at = if b.u8() % 4 == 0 {
        1 + b.below(4) as u64
    } else {
        0
    };
    let nulls = b.u8();
    let inputs_before = (x1.data.clone(), x2.data.clone());
    let before = out.data.clone();
    let x1m = x1.as_input(nulls == 2);
    let x2m = x2.as_input(nulls == 3);
    let net = if nulls == 1 { null_mut() } else { m.net.0 };
    let x2p: *const ntk_matrix = if with_x2 { &x2m } else { std::ptr::null() };
    let cancel = CancelOpts::new(cancel_at);
    let optp = cancel.ptr(nulls == 5);
    let om = out.as_output(nulls == 4);
    let st = unsafe { ntk_kernel_empirical(net, x1m, x2p, mode, method, om, optp) };
    check_status(st, "ntk_kernel_empirical");
    if st == ntk_status::Cancelled {
        assert!(cancel_at > 0, "cancelled without a cancel request");
    }
    assert_eq!(bits(&x1.data), bits(&inputs_before.0), "kernel modified x1");
    assert_eq!(bits(&x2.data), bits(&inputs_before.1), "kernel modified x2");
    out.check_output(&before, st, "ntk_kernel_empirical");
    if st == ntk_status::Ok || st == ntk_status::Cancelled {
        // The handle still works after a cancel, and results are repeatable bit for bit.
        let first = out.view_values();
        let st2 = unsafe {
            ntk_kernel_empirical(
                net,
                x1m,
                x2p,
                mode,
                method,
                out.as_output(false),
                std::ptr::null(),
            )
        };
        check_status(st2, "ntk_kernel_empirical (again)");
        if st == ntk_status::Ok {
            assert_eq!(st2, ntk_status::Ok);
            assert_eq!(
                bits(&out.view_values()),
                bits(&first),
                "kernel not repeatable"
            );
        } else {
            assert!(
                st2 == ntk_status::Ok || st2 == ntk_status::Numerical,
                "after cancel: {st2:?}"
            );
        }
    }
    Some(st)
}
