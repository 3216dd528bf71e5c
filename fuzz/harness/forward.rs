//! Target `forward`: ntk_network_create + ntk_network_forward, parameters and clone.

use super::*;
use ntk::ffi::network::ntk_network_forward;
use ntk::ffi::ntk_status;
use std::ptr::null_mut;

/// Target: ntk_network_create + ntk_network_forward.
pub fn fuzz_forward(data: &[u8]) -> Option<ntk_status> {
    let mut b = Bytes::new(data);
    let Some(m) = make_model(&mut b) else {
        return None;
    };
    let n = if b.u8() % 8 == 0 {
        b.size(6)
    } else {
        1 + b.below(6)
    };
    let (xr, xc) = shape_near(&mut b, n, m.n0);
    let mut x = Buffer::new(&mut b, xr, xc, false);
    x.fill(&mut b);
    let (or, oc) = shape_near(&mut b, n, m.nl);
    let mut out = Buffer::new(&mut b, or, oc, true);
    let x_before = x.data.clone();
    let before = out.data.clone();
    let nulls = b.u8();
    let net = if nulls == 1 { null_mut() } else { m.net.0 };
    let xm = x.as_input(nulls == 2 || x.bogus && nulls == 4);
    let om = out.as_output(nulls == 3);
    let st = unsafe { ntk_network_forward(net, xm, om) };
    check_status(st, "ntk_network_forward");
    assert_ne!(st, ntk_status::Cancelled);
    assert_eq!(bits(&x.data), bits(&x_before), "forward modified x");
    out.check_output(&before, st, "ntk_network_forward");
    if st == ntk_status::Ok {
        // Same bits when repeated.
        let first = out.view_values();
        let st2 = unsafe { ntk_network_forward(net, xm, out.as_output(false)) };
        assert_eq!(st2, ntk_status::Ok);
        assert_eq!(
            bits(&out.view_values()),
            bits(&first),
            "forward not repeatable"
        );
    }
    params_and_clone(&mut b, &m);
    Some(st)
}
