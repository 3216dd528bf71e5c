//! Target `spectrum`: ntk_kernel_spectrum and ntk_kernel_condition.

use super::*;
use ntk::ffi::spectrum::{ntk_kernel_condition, ntk_kernel_spectrum};
use ntk::ffi::{ntk_matrix, ntk_status};
use std::ffi::c_int;
use std::ptr::null_mut;

/// Target: ntk_kernel_spectrum and ntk_kernel_condition on random (spoiled) kernels.
pub fn fuzz_spectrum(data: &[u8]) -> Option<ntk_status> {
    let mut b = Bytes::new(data);
    let n = 1 + b.below(6);
    let kern = kernel_matrix(&mut b, n);
    let cols = if b.u8() % 8 == 0 { n + 1 } else { n };
    let kv = ntk_matrix {
        data: kern.as_ptr(),
        rows: n,
        cols: cols.min(n),
        row_stride: n as isize,
        col_stride: 1,
    };
    let which: c_int = match b.u8() % 8 {
        6 => 3,
        7 => -1,
        v => (v % 3) as c_int,
    };
    let count = match b.u8() % 8 {
        0 => 0,
        1 => n + 1,
        _ => 1 + b.below(n),
    };
    let mut ev = vec![SENTINEL; n + 2];
    let st = unsafe { ntk_kernel_spectrum(kv, ev.as_mut_ptr(), count, which) };
    check_status(st, "ntk_kernel_spectrum");
    if st == ntk_status::Ok {
        let got = &ev[..count];
        assert!(got.iter().all(|v| v.is_finite()));
        let asc = got.windows(2).all(|w| w[0] <= w[1]);
        let desc = got.windows(2).all(|w| w[0] >= w[1]);
        assert!(
            if which == 2 { desc } else { asc },
            "eigenvalues not sorted"
        );
        assert!(ev[count..]
            .iter()
            .all(|v| v.to_bits() == SENTINEL.to_bits()));
    } else {
        assert!(ev.iter().all(|v| v.to_bits() == SENTINEL.to_bits()));
    }
    let (mut lo, mut hi, mut c) = (SENTINEL, SENTINEL, SENTINEL);
    let nulls = b.u8();
    let st = unsafe {
        ntk_kernel_condition(
            kv,
            if nulls == 1 { null_mut() } else { &mut lo },
            &mut hi,
            &mut c,
        )
    };
    check_status(st, "ntk_kernel_condition");
    if st == ntk_status::Ok {
        assert!(hi.is_finite() && (nulls == 1 || lo.is_finite()));
        assert!(nulls == 1 || lo <= hi);
    } else {
        assert!([lo, hi, c]
            .iter()
            .all(|v| v.to_bits() == SENTINEL.to_bits()));
    }
    // Issue #20: a broadcast (stride (0, 0)) N x N view that can never be allocated (N = 2^20:
    // 8 TiB, up to 2^59: the size overflows) is ALLOCATION at once, unread, for every function
    // that takes a kernel. (Read last, so that older inputs decode as before.)
    let big = b.u8();
    if big >= 128 {
        let n = 1usize << (20 + (big as usize % 40));
        let one = [1.0f64];
        let kb = ntk_matrix {
            data: one.as_ptr(),
            rows: n,
            cols: n,
            row_stride: 0,
            col_stride: 0,
        };
        let t0 = std::time::Instant::now();
        let mut ev2 = [SENTINEL; 2];
        let st = unsafe { ntk_kernel_spectrum(kb, ev2.as_mut_ptr(), 2, 1) };
        assert_eq!(
            st,
            ntk_status::Allocation,
            "spectrum of a broadcast 2^k kernel"
        );
        let (mut l2, mut h2, mut c2) = (SENTINEL, SENTINEL, SENTINEL);
        let st = unsafe { ntk_kernel_condition(kb, &mut l2, &mut h2, &mut c2) };
        assert_eq!(
            st,
            ntk_status::Allocation,
            "condition of a broadcast 2^k kernel"
        );
        let yb = ntk_matrix {
            data: one.as_ptr(),
            rows: n,
            cols: 1,
            row_stride: 0,
            col_stride: 0,
        };
        let mut flow = null_mut();
        let st = unsafe {
            ntk::ffi::flow::ntk_flow_create(
                kb,
                yb,
                yb,
                std::ptr::null(),
                std::ptr::null(),
                0,
                std::ptr::null(),
                &mut flow,
            )
        };
        assert_eq!(
            st,
            ntk_status::Allocation,
            "flow_create on a broadcast 2^k kernel"
        );
        assert!(flow.is_null());
        assert!(ev2
            .iter()
            .chain([&l2, &h2, &c2])
            .all(|v| v.to_bits() == SENTINEL.to_bits()));
        assert!(
            t0.elapsed().as_secs_f64() < 1.0,
            "unallocatable kernels took {:?} (must be O(1))",
            t0.elapsed()
        );
    }
    Some(st)
}
