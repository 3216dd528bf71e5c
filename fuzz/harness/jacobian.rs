//! Target `jacobian`: ntk_network_jacobian.

use super::*;
use ntk::ffi::empirical::ntk_network_jacobian;
use ntk::ffi::ntk_status;
use std::ptr::null_mut;

/// Target: ntk_network_jacobian.
pub fn fuzz_jacobian(data: &[u8]) -> Option<ntk_status> {
    let mut b = Bytes::new(data);
    let Some(m) = make_model(&mut b) else {
        return None;
    };
    let n = if b.u8() % 8 == 0 {
        b.size(4)
    } else {
        1 + b.below(4)
    };
    let (xr, xc) = shape_near(&mut b, n, m.n0);
    let mut x = Buffer::new(&mut b, xr, xc, false);
    x.fill(&mut b);
    let (or, oc) = shape_near(&mut b, xr.saturating_mul(m.nl), m.p);
    let mut out = Buffer::new(&mut b, or, oc, true);
    let cancel_at = if b.u8() % 4 == 0 {
        1 + b.below(3) as u64
    } else {
        0
    };
    let nulls = b.u8();
    let x_before = x.data.clone();
    let before = out.data.clone();
    let net = if nulls == 1 { null_mut() } else { m.net.0 };
    let xm = x.as_input(nulls == 2);
    let cancel = CancelOpts::new(cancel_at);
    let optp = cancel.ptr(false);
    let st = unsafe { ntk_network_jacobian(net, xm, out.as_output(nulls == 3), optp) };
    check_status(st, "ntk_network_jacobian");
    assert_eq!(bits(&x.data), bits(&x_before), "jacobian modified x");
    out.check_output(&before, st, "ntk_network_jacobian");
    if st == ntk_status::Ok || st == ntk_status::Cancelled {
        let first = out.view_values();
        let st2 = unsafe { ntk_network_jacobian(net, xm, out.as_output(false), std::ptr::null()) };
        check_status(st2, "ntk_network_jacobian (again)");
        if st == ntk_status::Ok {
            assert_eq!(
                bits(&out.view_values()),
                bits(&first),
                "jacobian not repeatable"
            );
        }
    }
    Some(st)
}
