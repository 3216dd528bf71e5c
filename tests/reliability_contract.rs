//! The bad-input contract of the C API (docs/bad-input-contract.md), one test per row of the
//! table: each bad input returns its documented status, the last-error message names the
//! argument, and no output is written (outputs are filled with a sentinel and compared bit for
//! bit afterwards; handles passed as `out` keep their sentinel pointer).

mod common;
use common::{c_config, c_net, last_error, CNet as Net};

use ntk::ffi::empirical::{ntk_kernel_empirical, ntk_network_jacobian};
use ntk::ffi::network::{
    ntk_network, ntk_network_clone, ntk_network_config, ntk_network_create, ntk_network_forward,
    ntk_network_free, ntk_network_get_params, ntk_network_set_params, ntk_network_shape,
};
use ntk::ffi::{
    ntk_get_num_threads, ntk_matrix, ntk_matrix_mut, ntk_options, ntk_set_num_threads, ntk_status,
    ntk_status_str,
};
use std::ffi::{c_int, c_void, CStr};
use std::ptr::{null, null_mut};

const SENTINEL: f64 = -3.5e7;
const D: usize = 3;
const K: usize = 2;

fn config(widths: &[usize]) -> ntk_network_config {
    c_config(widths, 3 /* erf */, 0.0, 0.3, 11)
}

fn make(widths: &[usize]) -> Net {
    c_net(widths, 3 /* erf */, 0.0, 0.3, 11)
}

fn net() -> Net {
    make(&[D, 5, 4, K])
}

/// Asserts the status and that the message names `arg`.
#[track_caller]
fn expect(st: ntk_status, want: ntk_status, arg: &str) {
    let msg = last_error();
    assert_eq!(st, want, "message: {msg}");
    assert!(
        msg.contains(arg),
        "message {msg:?} does not name the argument {arg:?}"
    );
}

use ntk::ffi::view::row_major_view as m;

use ntk::ffi::view::row_major_view_mut as mm;

fn points(n: usize) -> Vec<f64> {
    common::wave(n * D, f64::sin, 0.37, 0.0, 1.0)
}

/// An output buffer with a sentinel, checked untouched on drop of the check.
struct Out(Vec<f64>);
impl Out {
    fn new(len: usize) -> Out {
        Out(vec![SENTINEL; len])
    }
    #[track_caller]
    fn untouched(&self) {
        assert!(
            self.0.iter().all(|v| v.to_bits() == SENTINEL.to_bits()),
            "output written on failure"
        );
    }
}

/// The three matrix-output entry points with otherwise valid arguments, for a given net/x/out.
fn forward(n: &Net, x: ntk_matrix, out: ntk_matrix_mut) -> ntk_status {
    unsafe { ntk_network_forward(n.0, x, out) }
}
fn kernel(
    n: &Net,
    x1: ntk_matrix,
    x2: Option<&ntk_matrix>,
    mode: c_int,
    out: ntk_matrix_mut,
) -> ntk_status {
    let x2p = x2.map_or(null(), |p| p as *const ntk_matrix);
    unsafe { ntk_kernel_empirical(n.0, x1, x2p, mode, 0, out, null()) }
}
fn jacobian(n: &Net, x: ntk_matrix, out: ntk_matrix_mut) -> ntk_status {
    unsafe { ntk_network_jacobian(n.0, x, out, null()) }
}

fn num_params(n: &Net) -> usize {
    let mut p = 0;
    assert_eq!(
        unsafe { ntk_network_shape(n.0, null_mut(), &mut p) },
        ntk_status::Ok
    );
    p
}

// ---- Row: NULL pointer arguments ---------------------------------------------------------------

#[test]
fn null_pointers_are_named() {
    let n = net();
    let p = num_params(&n);
    let x = points(4);
    let sentinel_handle = 0x1234usize as *mut ntk_network;

    expect(
        unsafe { ntk_get_num_threads(null_mut()) },
        ntk_status::NullPointer,
        "`out`",
    );

    let mut h = sentinel_handle;
    expect(
        unsafe { ntk_network_create(null(), &mut h) },
        ntk_status::NullPointer,
        "`config`",
    );
    assert_eq!(h, sentinel_handle);
    let widths = [D, 4, K];
    expect(
        unsafe { ntk_network_create(&config(&widths), null_mut()) },
        ntk_status::NullPointer,
        "`out`",
    );
    let mut cfg = config(&widths);
    cfg.widths = null();
    expect(
        unsafe { ntk_network_create(&cfg, &mut h) },
        ntk_status::NullPointer,
        "config.widths",
    );
    let mut cfg = config(&widths);
    cfg.activation = 10; // custom without functions
    expect(
        unsafe { ntk_network_create(&cfg, &mut h) },
        ntk_status::NullPointer,
        "config.custom_sigma",
    );
    assert_eq!(h, sentinel_handle);

    expect(
        unsafe { ntk_network_clone(null(), &mut h) },
        ntk_status::NullPointer,
        "`network`",
    );
    expect(
        unsafe { ntk_network_clone(n.0, null_mut()) },
        ntk_status::NullPointer,
        "`out`",
    );
    assert_eq!(h, sentinel_handle);

    expect(
        unsafe { ntk_network_shape(null(), null_mut(), null_mut()) },
        ntk_status::NullPointer,
        "`network`",
    );

    let mut params = Out::new(p);
    expect(
        unsafe { ntk_network_get_params(null(), params.0.as_mut_ptr(), p) },
        ntk_status::NullPointer,
        "`network`",
    );
    expect(
        unsafe { ntk_network_get_params(n.0, null_mut(), p) },
        ntk_status::NullPointer,
        "`out`",
    );
    params.untouched();
    expect(
        unsafe { ntk_network_set_params(null_mut(), params.0.as_ptr(), p) },
        ntk_status::NullPointer,
        "`network`",
    );
    expect(
        unsafe { ntk_network_set_params(n.0, null(), p) },
        ntk_status::NullPointer,
        "`params`",
    );

    let mut out = Out::new(4 * K);
    let null_net = Net(null_mut());
    expect(
        forward(&null_net, m(&x, 4, D), mm(&mut out.0, 4, K)),
        ntk_status::NullPointer,
        "`network`",
    );
    let mut xn = m(&x, 4, D);
    xn.data = null();
    expect(
        forward(&n, xn, mm(&mut out.0, 4, K)),
        ntk_status::NullPointer,
        "x.data",
    );
    let mut on = mm(&mut out.0, 4, K);
    on.data = null_mut();
    expect(
        forward(&n, m(&x, 4, D), on),
        ntk_status::NullPointer,
        "out.data",
    );
    out.untouched();

    let mut kout = Out::new(16);
    expect(
        kernel(&null_net, m(&x, 4, D), None, 0, mm(&mut kout.0, 4, 4)),
        ntk_status::NullPointer,
        "`network`",
    );
    expect(
        kernel(&n, xn, None, 0, mm(&mut kout.0, 4, 4)),
        ntk_status::NullPointer,
        "x1.data",
    );
    let mut x2n = m(&x, 4, D);
    x2n.data = null();
    expect(
        kernel(&n, m(&x, 4, D), Some(&x2n), 0, mm(&mut kout.0, 4, 4)),
        ntk_status::NullPointer,
        "x2.data",
    );
    let mut kon = mm(&mut kout.0, 4, 4);
    kon.data = null_mut();
    expect(
        kernel(&n, m(&x, 4, D), None, 0, kon),
        ntk_status::NullPointer,
        "out.data",
    );
    kout.untouched();

    let mut jout = Out::new(4 * K * p);
    expect(
        jacobian(&null_net, m(&x, 4, D), mm(&mut jout.0, 4 * K, p)),
        ntk_status::NullPointer,
        "`network`",
    );
    expect(
        jacobian(&n, xn, mm(&mut jout.0, 4 * K, p)),
        ntk_status::NullPointer,
        "x.data",
    );
    let mut jon = mm(&mut jout.0, 4 * K, p);
    jon.data = null_mut();
    expect(
        jacobian(&n, m(&x, 4, D), jon),
        ntk_status::NullPointer,
        "out.data",
    );
    jout.untouched();
    std::mem::forget(null_net);

    // NULL is accepted where documented: free(NULL), shape's outputs, options, x2.
    unsafe { ntk_network_free(null_mut()) };
    assert_eq!(
        kernel(&n, m(&x, 4, D), None, 0, mm(&mut kout.0, 4, 4)),
        ntk_status::Ok
    );
}

// ---- Row: zero sizes and empty batches --------------------------------------------------------

#[test]
fn zero_sizes_and_empty_batches() {
    let mut h = 0x99usize as *mut ntk_network;
    for widths in [&[][..], &[3][..]] {
        let mut cfg = config(&[3, 1]);
        cfg.num_widths = widths.len();
        expect(
            unsafe { ntk_network_create(&cfg, &mut h) },
            ntk_status::InvalidArgument,
            "config.num_widths",
        );
    }
    expect(
        unsafe { ntk_network_create(&config(&[3, 0, 1]), &mut h) },
        ntk_status::InvalidArgument,
        "widths[1]",
    );
    assert_eq!(h, 0x99usize as *mut ntk_network);

    let n = net();
    let p = num_params(&n);
    let x = points(4);
    let mut out = Out::new(16 * K);
    expect(
        forward(&n, m(&x, 0, D), mm(&mut out.0, 0, K)),
        ntk_status::InvalidArgument,
        "x is empty",
    );
    expect(
        forward(&n, m(&x, 4, D), mm(&mut out.0, 4, 0)),
        ntk_status::InvalidArgument,
        "out",
    );
    expect(
        kernel(&n, m(&x, 0, D), None, 0, mm(&mut out.0, 0, 0)),
        ntk_status::InvalidArgument,
        "x1 is empty",
    );
    let x2 = m(&x, 0, D);
    expect(
        kernel(&n, m(&x, 4, D), Some(&x2), 0, mm(&mut out.0, 4, 0)),
        ntk_status::InvalidArgument,
        "x2 is empty",
    );
    expect(
        jacobian(&n, m(&x, 0, D), mm(&mut out.0, 0, p)),
        ntk_status::InvalidArgument,
        "x is empty",
    );
    out.untouched();
    let mut params = Out::new(p);
    expect(
        unsafe { ntk_network_get_params(n.0, params.0.as_mut_ptr(), 0) },
        ntk_status::InvalidArgument,
        "len",
    );
    params.untouched();
}

// ---- Row: absurd sizes --------------------------------------------------------------------------

#[test]
fn absurd_sizes() {
    let mut h = 0x99usize as *mut ntk_network;
    let widths = [3usize; 5000];
    expect(
        unsafe { ntk_network_create(&config(&widths), &mut h) },
        ntk_status::InvalidArgument,
        "config.num_widths",
    );
    expect(
        unsafe { ntk_network_create(&config(&[3, 1 << 40, 1]), &mut h) },
        ntk_status::InvalidArgument,
        "config.widths[1]",
    );
    expect(
        unsafe { ntk_network_create(&config(&[usize::MAX, 1]), &mut h) },
        ntk_status::InvalidArgument,
        "config.widths[0]",
    );
    assert_eq!(h, 0x99usize as *mut ntk_network);
    expect(
        ntk_set_num_threads(1 << 20),
        ntk_status::InvalidArgument,
        "num_threads",
    );
    let mut t = 0;
    assert_eq!(unsafe { ntk_get_num_threads(&mut t) }, ntk_status::Ok);
    assert!(t >= 1);
}

// ---- Row: size products that overflow ----------------------------------------------------------

#[test]
fn size_products_overflow() {
    let mut h = 0x99usize as *mut ntk_network;
    // P = 2^32 (2^32 + 1) + ... overflows 64 bits.
    let w = 1usize << 32;
    expect(
        unsafe { ntk_network_create(&config(&[w, w, w, w, w]), &mut h) },
        ntk_status::Allocation,
        "widths: the parameter count overflows",
    );
    assert_eq!(h, 0x99usize as *mut ntk_network);

    // FULL kernel of 2^63 broadcast points with n_L = 2 outputs: (N1 n_L) overflows.
    let n = net();
    let x = points(1);
    let huge = ntk_matrix {
        data: x.as_ptr(),
        rows: 1 << 63,
        cols: D,
        row_stride: 0,
        col_stride: 1,
    };
    let mut out = Out::new(4);
    expect(
        kernel(&n, huge, None, 1, mm(&mut out.0, 2, 2)),
        ntk_status::Allocation,
        "kernel rows",
    );
    expect(
        jacobian(&n, huge, mm(&mut out.0, 2, 2)),
        ntk_status::Allocation,
        "out rows",
    );
    out.untouched();
}

// ---- Row: requests whose memory cannot be allocated ----------------------------------------------

#[test]
fn unallocatable_requests_return_allocation() {
    // 2^23 x 2^23 weights: 2^46 doubles (512 TiB), more than any address space allows.
    let mut h = 0x99usize as *mut ntk_network;
    let w = 1usize << 23;
    expect(
        unsafe { ntk_network_create(&config(&[w, w, 1]), &mut h) },
        ntk_status::Allocation,
        "network parameters",
    );
    assert_eq!(h, 0x99usize as *mut ntk_network);

    // A small network and a small output, but internal buffers of N x width = 2^44 doubles:
    // 2^22 broadcast points through a hidden layer of 2^22 units.
    let width = 1usize << 22;
    let n = make(&[1, width, 1]);
    let x = [0.5f64];
    let big_batch = ntk_matrix {
        data: x.as_ptr(),
        rows: 1 << 22,
        cols: 1,
        row_stride: 0,
        col_stride: 1,
    };
    let mut out = Out::new(1 << 22);
    let one = m(&x, 1, 1);
    // Trace kernel 1 x 2^22 (32 MiB output).
    let st = kernel(&n, one, Some(&big_batch), 0, mm(&mut out.0, 1, 1 << 22));
    expect(st, ntk_status::Allocation, "cannot allocate");
    // Forward 2^22 x 1.
    let st = forward(&n, big_batch, mm(&mut out.0, 1 << 22, 1));
    expect(st, ntk_status::Allocation, "cannot allocate");
    out.untouched();
}

// ---- Row: strides that alias or go out of range ------------------------------------------------

#[test]
fn bad_strides() {
    let n = net();
    let x = points(4);
    let mut out = Out::new(64);
    let mut alias = mm(&mut out.0, 4, K);
    alias.row_stride = 0;
    expect(
        forward(&n, m(&x, 4, D), alias),
        ntk_status::InvalidArgument,
        "out: strides",
    );
    let mut overlap_rows = mm(&mut out.0, 4, 4);
    overlap_rows.row_stride = 3; // rows of 4 elements 3 apart
    expect(
        kernel(&n, m(&x, 4, D), None, 0, overlap_rows),
        ntk_status::InvalidArgument,
        "out: strides",
    );
    // Span beyond the address space.
    let mut far = m(&x, 4, D);
    far.row_stride = isize::MAX / 2;
    expect(
        forward(&n, far, mm(&mut out.0, 4, K)),
        ntk_status::Allocation,
        "x: rows/cols/strides overflow",
    );
    // Span below address 0 (negative stride from the first element).
    let mut below = m(&x, 4, D);
    below.row_stride = -(1isize << 60);
    expect(
        forward(&n, below, mm(&mut out.0, 4, K)),
        ntk_status::Allocation,
        "x: rows/cols/strides overflow",
    );
    out.untouched();
    // Output overlapping an input.
    let mut both = points(8);
    let xin = m(&both, 4, D);
    let o = ntk_matrix_mut {
        data: unsafe { both.as_mut_ptr().add(2) },
        rows: 4,
        cols: K,
        row_stride: K as isize,
        col_stride: 1,
    };
    let snapshot = both.clone();
    expect(
        forward(&n, xin, o),
        ntk_status::InvalidArgument,
        "out overlaps the memory of x",
    );
    let x2 = m(&both, 4, D);
    let o = ntk_matrix_mut {
        data: unsafe { both.as_mut_ptr().add(10) },
        rows: 1,
        cols: 4,
        row_stride: 4,
        col_stride: 1,
    };
    let x1 = m(&x, 1, D);
    expect(
        kernel(&n, x1, Some(&x2), 0, o),
        ntk_status::InvalidArgument,
        "out overlaps the memory of x2",
    );
    assert_eq!(both, snapshot);
}

// ---- Row: mismatched shapes --------------------------------------------------------------------

#[test]
fn mismatched_shapes() {
    let n = net();
    let p = num_params(&n);
    let x = points(4);
    let mut out = Out::new(4 * K * (p + 1));
    expect(
        forward(&n, m(&x, 4, D - 1), mm(&mut out.0, 4, K)),
        ntk_status::InvalidArgument,
        "x has 2 columns",
    );
    expect(
        forward(&n, m(&x, 4, D), mm(&mut out.0, 3, K)),
        ntk_status::InvalidArgument,
        "out is 3x2, expected 4x2",
    );
    expect(
        kernel(&n, m(&x, 4, D), None, 1, mm(&mut out.0, 4, 4)),
        ntk_status::InvalidArgument,
        "out is 4x4, expected 8x8",
    );
    let x2 = m(&x, 2, D - 1);
    expect(
        kernel(&n, m(&x, 2, D), Some(&x2), 0, mm(&mut out.0, 2, 2)),
        ntk_status::InvalidArgument,
        "x2 has 2 columns",
    );
    expect(
        jacobian(&n, m(&x, 4, D), mm(&mut out.0, 4 * K, p + 1)),
        ntk_status::InvalidArgument,
        "out is",
    );
    out.untouched();
    let mut params = Out::new(p + 1);
    expect(
        unsafe { ntk_network_get_params(n.0, params.0.as_mut_ptr(), p + 1) },
        ntk_status::InvalidArgument,
        "len",
    );
    expect(
        unsafe { ntk_network_set_params(n.0, params.0.as_ptr(), p + 1) },
        ntk_status::InvalidArgument,
        "len",
    );
    params.untouched();
}

// ---- Row: NaN / ±Inf in inputs and configuration ------------------------------------------------

#[test]
fn non_finite_inputs_are_named() {
    let n = net();
    let p = num_params(&n);
    let before = {
        let mut v = vec![0.0; p];
        unsafe { ntk_network_get_params(n.0, v.as_mut_ptr(), p) };
        v
    };
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut x = points(4);
        x[1 * D + 2] = bad;
        let mut out = Out::new(64 * p);
        expect(
            forward(&n, m(&x, 4, D), mm(&mut out.0, 4, K)),
            ntk_status::NonFinite,
            "x[1,2]",
        );
        expect(
            kernel(&n, m(&x, 4, D), None, 0, mm(&mut out.0, 4, 4)),
            ntk_status::NonFinite,
            "x1[1,2]",
        );
        let good = points(4);
        let x2 = m(&x, 4, D);
        expect(
            kernel(&n, m(&good, 4, D), Some(&x2), 1, mm(&mut out.0, 8, 8)),
            ntk_status::NonFinite,
            "x2[1,2]",
        );
        expect(
            jacobian(&n, m(&x, 4, D), mm(&mut out.0, 4 * K, p)),
            ntk_status::NonFinite,
            "x[1,2]",
        );
        out.untouched();

        let mut params = before.clone();
        params[3] = bad;
        expect(
            unsafe { ntk_network_set_params(n.0, params.as_ptr(), p) },
            ntk_status::NonFinite,
            "params[3]",
        );
        let mut now = vec![0.0; p];
        unsafe { ntk_network_get_params(n.0, now.as_mut_ptr(), p) };
        assert_eq!(now, before, "set_params changed the network on failure");

        let widths = [D, 4, K];
        let mut h = 0x99usize as *mut ntk_network;
        let mut cfg = config(&widths);
        cfg.beta = bad;
        expect(
            unsafe { ntk_network_create(&cfg, &mut h) },
            ntk_status::NonFinite,
            "config.beta",
        );
        let mut cfg = config(&widths);
        cfg.activation = 2; // leaky ReLU
        cfg.activation_param = bad;
        expect(
            unsafe { ntk_network_create(&cfg, &mut h) },
            ntk_status::NonFinite,
            "config.activation_param",
        );
        assert_eq!(h, 0x99usize as *mut ntk_network);
    }
}

// ---- Row: β < 0 --------------------------------------------------------------------------------

#[test]
fn negative_beta() {
    let widths = [D, 4, K];
    let mut h = 0x99usize as *mut ntk_network;
    for beta in [-1e-300, -0.5, -1e300] {
        let mut cfg = config(&widths);
        cfg.beta = beta;
        expect(
            unsafe { ntk_network_create(&cfg, &mut h) },
            ntk_status::InvalidArgument,
            "config.beta",
        );
    }
    assert_eq!(h, 0x99usize as *mut ntk_network);
    // beta = -0.0 is zero, accepted.
    let mut cfg = config(&widths);
    cfg.beta = -0.0;
    assert_eq!(unsafe { ntk_network_create(&cfg, &mut h) }, ntk_status::Ok);
    unsafe { ntk_network_free(h) };
}

// ---- Row: unknown enum values passed as ints -----------------------------------------------------

#[test]
fn unknown_enum_values() {
    let widths = [D, 4, K];
    let mut h = 0x99usize as *mut ntk_network;
    for a in [-1, 11, c_int::MAX, c_int::MIN] {
        let mut cfg = config(&widths);
        cfg.activation = a;
        expect(
            unsafe { ntk_network_create(&cfg, &mut h) },
            ntk_status::InvalidArgument,
            "config.activation",
        );
    }
    assert_eq!(h, 0x99usize as *mut ntk_network);
    let n = net();
    let x = points(3);
    let mut out = Out::new(36);
    for mode in [-1, 2, c_int::MAX] {
        expect(
            kernel(&n, m(&x, 3, D), None, mode, mm(&mut out.0, 3, 3)),
            ntk_status::InvalidArgument,
            "mode",
        );
    }
    for method in [-1, 3, c_int::MIN] {
        let st = unsafe {
            ntk_kernel_empirical(
                n.0,
                m(&x, 3, D),
                null(),
                0,
                method,
                mm(&mut out.0, 3, 3),
                null(),
            )
        };
        expect(st, ntk_status::InvalidArgument, "method");
    }
    out.untouched();
    for s in [-1, 8, 1000] {
        let name = unsafe { CStr::from_ptr(ntk_status_str(s)) };
        assert_eq!(name.to_str().unwrap(), "NTK_STATUS_UNKNOWN");
    }
}

// ---- Row: results that overflow the double range -----------------------------------------------

unsafe extern "C" fn nan_sigma(x: f64, _: *mut c_void) -> f64 {
    if x > 0.0 {
        f64::NAN
    } else {
        x
    }
}
unsafe extern "C" fn one(_: f64, _: *mut c_void) -> f64 {
    1.0
}

#[test]
fn overflowing_results_are_numerical() {
    let n = net();
    // Finite inputs whose products overflow: the kernel's x.x'/n_0 is +Inf.
    let x = vec![1e200; 2 * D];
    let mut out = Out::new(4);
    expect(
        kernel(&n, m(&x, 2, D), None, 0, mm(&mut out.0, 2, 2)),
        ntk_status::Numerical,
        "out[0,0]",
    );

    // Identity network at f64::MAX: the outputs overflow.
    let widths = [D, 3, K];
    let mut cfg = config(&widths);
    cfg.activation = 0;
    let mut h = null_mut();
    assert_eq!(unsafe { ntk_network_create(&cfg, &mut h) }, ntk_status::Ok);
    let idn = Net(h);
    let xb = vec![f64::MAX; 2 * D];
    let mut fo = Out::new(2 * K);
    expect(
        forward(&idn, m(&xb, 2, D), mm(&mut fo.0, 2, K)),
        ntk_status::Numerical,
        "out[",
    );
    fo.untouched(); // forward computes into a temporary

    // A custom activation returning NaN.
    let mut cfg = config(&widths);
    cfg.activation = 10;
    cfg.custom_sigma = Some(nan_sigma);
    cfg.custom_dsigma = Some(one);
    let mut h = null_mut();
    assert_eq!(unsafe { ntk_network_create(&cfg, &mut h) }, ntk_status::Ok);
    let cn = Net(h);
    let xs = vec![3.0; 2 * D];
    expect(
        forward(&cn, m(&xs, 2, D), mm(&mut fo.0, 2, K)),
        ntk_status::Numerical,
        "out[",
    );
    fo.untouched();
    let pc = num_params(&cn);
    let mut jc = vec![0.0; 2 * K * pc];
    expect(
        jacobian(&cn, m(&xs, 2, D), mm(&mut jc, 2 * K, pc)),
        ntk_status::Numerical,
        "out[",
    );
    let mut kc = vec![0.0; 4];
    expect(
        kernel(&cn, m(&xs, 2, D), None, 0, mm(&mut kc, 2, 2)),
        ntk_status::Numerical,
        "out[",
    );
}

// ---- Row: cancellation ---------------------------------------------------------------------------

unsafe extern "C" fn cancel_now(_: *mut c_void, _: u64, _: u64) -> c_int {
    1
}

#[test]
fn cancel_returns_cancelled_and_keeps_the_handle_usable() {
    let n = net();
    let x = points(40);
    let opts = ntk_options {
        progress: Some(cancel_now),
        user_data: null_mut(),
    };
    let mut out = vec![0.0; 1600];
    let st = unsafe {
        ntk_kernel_empirical(n.0, m(&x, 40, D), null(), 0, 0, mm(&mut out, 40, 40), &opts)
    };
    expect(st, ntk_status::Cancelled, "cancelled");
    let mut again = vec![0.0; 1600];
    assert_eq!(
        kernel(&n, m(&x, 40, D), None, 0, mm(&mut again, 40, 40)),
        ntk_status::Ok
    );
    assert!(last_error().is_empty(), "success clears the message");
}

// ---- Rows for the flow API, spectra and training -------------------------------------------

mod flows {
    use super::*;
    use ntk::ffi::flow::{
        ntk_flow, ntk_flow_create, ntk_flow_free, ntk_flow_loss, ntk_flow_options,
        ntk_flow_outputs, ntk_flow_predict, ntk_flow_set_time, ntk_flow_step, ntk_flow_time,
        ntk_kernel_condition, ntk_kernel_spectrum,
    };
    use ntk::ffi::train::ntk_network_train;

    const N: usize = 4;

    /// A PSD kernel: Gram matrix of 4 points in R^3 plus 0.5 I.
    fn psd() -> Vec<f64> {
        let p = points(N);
        let mut k = vec![0.0; N * N];
        for i in 0..N {
            for j in 0..N {
                k[i * N + j] = (0..D).map(|q| p[i * D + q] * p[j * D + q]).sum::<f64>()
                    + if i == j { 0.5 } else { 0.0 };
            }
        }
        k
    }

    fn sq(k: &[f64]) -> ntk_matrix {
        m(k, N, N)
    }
    fn col(v: &[f64]) -> ntk_matrix {
        ntk_matrix {
            data: v.as_ptr(),
            rows: N,
            cols: 1,
            row_stride: 1,
            col_stride: 1,
        }
    }

    unsafe fn create(
        k: &[f64],
        y: &[f64],
        f0: &[f64],
        cost: c_int,
        out: *mut *mut ntk_flow,
    ) -> ntk_status {
        unsafe { ntk_flow_create(sq(k), col(y), col(f0), null(), null(), cost, null(), out) }
    }

    struct Flow(*mut ntk_flow);
    impl Drop for Flow {
        fn drop(&mut self) {
            unsafe { ntk_flow_free(self.0) }
        }
    }

    fn state(f: &Flow) -> (Vec<u64>, u64) {
        let mut o = vec![0.0; N];
        assert_eq!(
            unsafe { ntk_flow_outputs(f.0, mm(&mut o, N, 1)) },
            ntk_status::Ok
        );
        let mut t = 0.0;
        assert_eq!(unsafe { ntk_flow_time(f.0, &mut t) }, ntk_status::Ok);
        (o.iter().map(|v| v.to_bits()).collect(), t.to_bits())
    }

    #[test]
    fn flow_kernels_targets_and_nulls() {
        let k = psd();
        let y = vec![1.0, -1.0, 0.5, 0.0];
        let f0 = vec![0.0; N];
        let sentinel = 0x4321usize as *mut ntk_flow;
        let mut h = sentinel;
        // Non-symmetric kernel.
        let mut ka = k.clone();
        ka[1] += 0.1;
        expect(
            unsafe { create(&ka, &y, &f0, 0, &mut h) },
            ntk_status::InvalidArgument,
            "kernel is not symmetric: kernel[1,0]",
        );
        // Indefinite kernel.
        let mut ki = k.clone();
        for i in 0..N {
            ki[i * N + i] -= 50.0;
        }
        expect(
            unsafe { create(&ki, &y, &f0, 0, &mut h) },
            ntk_status::Numerical,
            "kernel is not positive semi-definite",
        );
        // NaN / Inf in kernel, targets and initial outputs.
        let mut kn = k.clone();
        kn[2 * N + 3] = f64::NAN;
        expect(
            unsafe { create(&kn, &y, &f0, 0, &mut h) },
            ntk_status::NonFinite,
            "kernel[",
        );
        let mut yn = y.clone();
        yn[2] = f64::INFINITY;
        expect(
            unsafe { create(&k, &yn, &f0, 0, &mut h) },
            ntk_status::NonFinite,
            "y[2,0]",
        );
        let mut fn_ = f0.clone();
        fn_[1] = f64::NEG_INFINITY;
        expect(
            unsafe { create(&k, &y, &fn_, 0, &mut h) },
            ntk_status::NonFinite,
            "f0[1,0]",
        );
        // Unknown cost / method, bad tolerances.
        expect(
            unsafe { create(&k, &y, &f0, 7, &mut h) },
            ntk_status::InvalidArgument,
            "cost = 7",
        );
        let bad_opts = ntk_flow_options {
            method: 9,
            rtol: 0.0,
            atol: 0.0,
            krylov_tol: 0.0,
        };
        let st = unsafe {
            ntk_flow_create(
                sq(&k),
                col(&y),
                col(&f0),
                null(),
                null(),
                0,
                &bad_opts,
                &mut h,
            )
        };
        expect(st, ntk_status::InvalidArgument, "options.method");
        let nan_opts = ntk_flow_options {
            method: 0,
            rtol: f64::NAN,
            atol: 0.0,
            krylov_tol: 0.0,
        };
        let st = unsafe {
            ntk_flow_create(
                sq(&k),
                col(&y),
                col(&f0),
                null(),
                null(),
                0,
                &nan_opts,
                &mut h,
            )
        };
        expect(st, ntk_status::NonFinite, "options.rtol");
        // Shapes.
        let st = unsafe {
            ntk_flow_create(
                m(&k, 3, N),
                col(&y),
                col(&f0),
                null(),
                null(),
                0,
                null(),
                &mut h,
            )
        };
        expect(st, ntk_status::InvalidArgument, "kernel");
        // NULLs.
        expect(
            unsafe { create(&k, &y, &f0, 0, null_mut()) },
            ntk_status::NullPointer,
            "`out`",
        );
        let mut kz = sq(&k);
        kz.data = null();
        let st =
            unsafe { ntk_flow_create(kz, col(&y), col(&f0), null(), null(), 0, null(), &mut h) };
        expect(st, ntk_status::NullPointer, "kernel.data");
        let tk = m(&k, 1, N);
        let st =
            unsafe { ntk_flow_create(sq(&k), col(&y), col(&f0), &tk, null(), 0, null(), &mut h) };
        expect(st, ntk_status::NullPointer, "test_f0");
        assert_eq!(h, sentinel, "*out written on failure");

        // A good flow: failed steps leave it unchanged and name the argument.
        assert_eq!(
            unsafe { create(&k, &y, &f0, 0, &mut h) },
            ntk_status::Ok,
            "{}",
            last_error()
        );
        let flow = Flow(h);
        assert_eq!(
            unsafe { ntk_flow_step(flow.0, 0.25, null()) },
            ntk_status::Ok
        );
        let s0 = state(&flow);
        for dt in [0.0, -1.0, -0.0] {
            expect(
                unsafe { ntk_flow_step(flow.0, dt, null()) },
                ntk_status::InvalidArgument,
                "dt",
            );
        }
        for dt in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            expect(
                unsafe { ntk_flow_step(flow.0, dt, null()) },
                ntk_status::NonFinite,
                "dt",
            );
        }
        expect(
            unsafe { ntk_flow_set_time(flow.0, -2.0, null()) },
            ntk_status::InvalidArgument,
            "t = -2",
        );
        expect(
            unsafe { ntk_flow_set_time(flow.0, f64::NAN, null()) },
            ntk_status::NonFinite,
            "t = NaN",
        );
        assert_eq!(state(&flow), s0, "a failed step changed the flow");
        expect(
            unsafe { ntk_flow_step(null_mut(), 1.0, null()) },
            ntk_status::NullPointer,
            "`flow`",
        );
        expect(
            unsafe { ntk_flow_set_time(null_mut(), 1.0, null()) },
            ntk_status::NullPointer,
            "`flow`",
        );
        expect(
            unsafe { ntk_flow_time(flow.0, null_mut()) },
            ntk_status::NullPointer,
            "`t`",
        );
        expect(
            unsafe { ntk_flow_loss(flow.0, null_mut()) },
            ntk_status::NullPointer,
            "`loss`",
        );
        let mut lz = SENTINEL;
        expect(
            unsafe { ntk_flow_loss(null(), &mut lz) },
            ntk_status::NullPointer,
            "`flow`",
        );
        assert_eq!(lz.to_bits(), SENTINEL.to_bits());
        let mut o = Out::new(2 * N);
        expect(
            unsafe { ntk_flow_outputs(null(), mm(&mut o.0, N, 1)) },
            ntk_status::NullPointer,
            "`flow`",
        );
        expect(
            unsafe { ntk_flow_outputs(flow.0, mm(&mut o.0, N, 2)) },
            ntk_status::InvalidArgument,
            "out is 4x2, expected 4x1",
        );
        expect(
            unsafe { ntk_flow_predict(flow.0, mm(&mut o.0, 1, 1)) },
            ntk_status::InvalidArgument,
            "test_kernel",
        );
        o.untouched();
        unsafe { ntk_flow_free(null_mut()) };
    }

    /// Found by the flow fuzzer: finite outputs and targets whose MSE loss overflows returned
    /// OK with loss = inf; now NUMERICAL with `*loss` untouched.
    #[test]
    fn overflowing_loss_is_numerical() {
        let k = vec![8.0];
        let (y, f0) = ([-1e300], [f64::MAX]);
        let one = |v: &[f64]| ntk_matrix {
            data: v.as_ptr(),
            rows: 1,
            cols: 1,
            row_stride: 1,
            col_stride: 1,
        };
        let mut h = null_mut();
        let st = unsafe {
            ntk_flow_create(
                one(&k),
                one(&y),
                one(&f0),
                null(),
                null(),
                0,
                null(),
                &mut h,
            )
        };
        assert_eq!(st, ntk_status::Ok, "{}", last_error());
        let flow = Flow(h);
        let mut loss = SENTINEL;
        expect(
            unsafe { ntk_flow_loss(flow.0, &mut loss) },
            ntk_status::Numerical,
            "loss = inf",
        );
        assert_eq!(loss.to_bits(), SENTINEL.to_bits());
    }

    #[test]
    fn spectrum_rows() {
        let k = psd();
        let mut ev = Out::new(N + 1);
        expect(
            unsafe { ntk_kernel_spectrum(sq(&k), ev.0.as_mut_ptr(), 0, 1) },
            ntk_status::InvalidArgument,
            "count = 0",
        );
        expect(
            unsafe { ntk_kernel_spectrum(sq(&k), ev.0.as_mut_ptr(), N + 1, 1) },
            ntk_status::InvalidArgument,
            "count = 5",
        );
        expect(
            unsafe { ntk_kernel_spectrum(sq(&k), ev.0.as_mut_ptr(), 1, 3) },
            ntk_status::InvalidArgument,
            "which = 3",
        );
        expect(
            unsafe { ntk_kernel_spectrum(sq(&k), null_mut(), 1, 1) },
            ntk_status::NullPointer,
            "`eigenvalues`",
        );
        let mut ka = k.clone();
        ka[N] = 9.0;
        expect(
            unsafe { ntk_kernel_spectrum(sq(&ka), ev.0.as_mut_ptr(), 1, 1) },
            ntk_status::InvalidArgument,
            "not symmetric",
        );
        let mut kn = k.clone();
        kn[0] = f64::NAN;
        expect(
            unsafe { ntk_kernel_spectrum(sq(&kn), ev.0.as_mut_ptr(), 1, 1) },
            ntk_status::NonFinite,
            "k[0,0]",
        );
        let (mut lo, mut hi) = (SENTINEL, SENTINEL);
        expect(
            unsafe { ntk_kernel_condition(sq(&kn), &mut lo, &mut hi, null_mut()) },
            ntk_status::NonFinite,
            "k[0,0]",
        );
        assert_eq!(
            (lo.to_bits(), hi.to_bits()),
            (SENTINEL.to_bits(), SENTINEL.to_bits())
        );
        ev.untouched();
    }

    #[test]
    fn train_rows() {
        let n = net();
        let p = num_params(&n);
        let mut before = vec![0.0; p];
        unsafe { ntk_network_get_params(n.0, before.as_mut_ptr(), p) };
        let x = points(4);
        let y = vec![0.3; 4 * K];
        let mut hist = Out::new(4);
        let train = |lr: f64, cost: c_int, x: ntk_matrix, y: ntk_matrix, hist: *mut f64| unsafe {
            ntk_network_train(n.0, x, y, cost, lr, 3, hist, null())
        };
        for lr in [0.0, -0.1] {
            expect(
                train(lr, 0, m(&x, 4, D), m(&y, 4, K), hist.0.as_mut_ptr()),
                ntk_status::InvalidArgument,
                "learning_rate",
            );
        }
        for lr in [f64::NAN, f64::INFINITY] {
            expect(
                train(lr, 0, m(&x, 4, D), m(&y, 4, K), hist.0.as_mut_ptr()),
                ntk_status::NonFinite,
                "learning_rate",
            );
        }
        expect(
            train(0.1, 2, m(&x, 4, D), m(&y, 4, K), hist.0.as_mut_ptr()),
            ntk_status::InvalidArgument,
            "cost = 2",
        );
        expect(
            train(0.1, 0, m(&x, 4, D), m(&y, 3, K), hist.0.as_mut_ptr()),
            ntk_status::InvalidArgument,
            "y is 3x2",
        );
        let mut yn = y.clone();
        yn[3] = f64::NAN;
        expect(
            train(0.1, 0, m(&x, 4, D), m(&yn, 4, K), hist.0.as_mut_ptr()),
            ntk_status::NonFinite,
            "y[1,1]",
        );
        let st = unsafe {
            ntk_network_train(
                null_mut(),
                m(&x, 4, D),
                m(&y, 4, K),
                0,
                0.1,
                3,
                null_mut(),
                null(),
            )
        };
        expect(st, ntk_status::NullPointer, "`network`");
        hist.untouched();
        let mut now = vec![0.0; p];
        unsafe { ntk_network_get_params(n.0, now.as_mut_ptr(), p) };
        assert_eq!(now, before, "a rejected train call changed the network");
    }
}

// ---- Rows for the limit kernels (ntk_kernel_limit) and the tile APIs -----------------------------

mod limit_and_tiles {
    use super::*;
    use ntk::ffi::limit::ntk_kernel_limit;
    use ntk::ffi::tiles::{
        ntk_empirical_features, ntk_empirical_features_create, ntk_empirical_features_free,
        ntk_empirical_features_len, ntk_kernel_empirical_tile, ntk_kernel_limit_tile,
        ntk_limit_points, ntk_limit_points_create, ntk_limit_points_free, ntk_limit_points_len,
    };

    const N: usize = 4;

    struct Points(*mut ntk_limit_points);
    impl Drop for Points {
        fn drop(&mut self) {
            unsafe { ntk_limit_points_free(self.0) }
        }
    }
    struct Features(*mut ntk_empirical_features);
    impl Drop for Features {
        fn drop(&mut self) {
            unsafe { ntk_empirical_features_free(self.0) }
        }
    }

    fn limit(
        n: *const ntk_network,
        x1: ntk_matrix,
        x2: Option<&ntk_matrix>,
        nngp: Option<&mut ntk_matrix_mut>,
        ntk: Option<&mut ntk_matrix_mut>,
    ) -> ntk_status {
        unsafe {
            ntk_kernel_limit(
                n,
                x1,
                x2.map_or(null(), |p| p as *const ntk_matrix),
                nngp.map_or(null_mut(), |p| p as *mut ntk_matrix_mut),
                null_mut(),
                ntk.map_or(null_mut(), |p| p as *mut ntk_matrix_mut),
                null(),
            )
        }
    }

    fn points_of(n: &Net, x: ntk_matrix) -> Points {
        let mut h = null_mut();
        let st = unsafe { ntk_limit_points_create(n.0, x, null(), &mut h) };
        assert_eq!(st, ntk_status::Ok, "{}", last_error());
        Points(h)
    }

    fn features_of(n: &Net, x: ntk_matrix) -> Features {
        let mut h = null_mut();
        let st = unsafe { ntk_empirical_features_create(n.0, x, null(), &mut h) };
        assert_eq!(st, ntk_status::Ok, "{}", last_error());
        Features(h)
    }

    fn ltile(
        p1: *const ntk_limit_points,
        (i0, i1): (usize, usize),
        p2: *const ntk_limit_points,
        (j0, j1): (usize, usize),
        nngp: Option<&mut ntk_matrix_mut>,
        ntk: Option<&mut ntk_matrix_mut>,
    ) -> ntk_status {
        unsafe {
            ntk_kernel_limit_tile(
                p1,
                i0,
                i1,
                p2,
                j0,
                j1,
                nngp.map_or(null_mut(), |p| p as *mut ntk_matrix_mut),
                null_mut(),
                ntk.map_or(null_mut(), |p| p as *mut ntk_matrix_mut),
                null(),
            )
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn etile(
        n: *const ntk_network,
        f1: *const ntk_empirical_features,
        (i0, i1): (usize, usize),
        f2: *const ntk_empirical_features,
        (j0, j1): (usize, usize),
        mode: c_int,
        out: ntk_matrix_mut,
    ) -> ntk_status {
        unsafe { ntk_kernel_empirical_tile(n, f1, i0, i1, f2, j0, j1, mode, out, null()) }
    }

    /// Row: NULL for every pointer argument of ntk_kernel_limit and the tile functions; NULL
    /// where documented as allowed (x2, options, two of the three outputs, free(NULL)).
    #[test]
    fn limit_and_tile_null_pointers() {
        let n = net();
        let x = points(N);
        let mut out = Out::new(2 * N * N);
        let mut o1 = mm(&mut out.0, N, N);
        expect(
            limit(null(), m(&x, N, D), None, Some(&mut o1), None),
            ntk_status::NullPointer,
            "`network`",
        );
        let mut xn = m(&x, N, D);
        xn.data = null();
        expect(
            limit(n.0, xn, None, Some(&mut o1), None),
            ntk_status::NullPointer,
            "x1.data",
        );
        expect(
            limit(n.0, m(&x, N, D), Some(&xn), Some(&mut o1), None),
            ntk_status::NullPointer,
            "x2.data",
        );
        let mut on = mm(&mut [], N, N);
        on.data = null_mut();
        expect(
            limit(n.0, m(&x, N, D), None, Some(&mut on), None),
            ntk_status::NullPointer,
            "nngp.data",
        );
        expect(
            limit(n.0, m(&x, N, D), None, None, None),
            ntk_status::NullPointer,
            "nngp, sigma_dot and ntk",
        );
        out.untouched();

        // Points and features: create / len / tile with each pointer NULL.
        let sentinel = 0x4444usize as *mut ntk_limit_points;
        let mut h = sentinel;
        expect(
            unsafe { ntk_limit_points_create(null(), m(&x, N, D), null(), &mut h) },
            ntk_status::NullPointer,
            "`network`",
        );
        expect(
            unsafe { ntk_limit_points_create(n.0, xn, null(), &mut h) },
            ntk_status::NullPointer,
            "x.data",
        );
        expect(
            unsafe { ntk_limit_points_create(n.0, m(&x, N, D), null(), null_mut()) },
            ntk_status::NullPointer,
            "`out`",
        );
        assert_eq!(h, sentinel, "*out written on failure");
        let p = points_of(&n, m(&x, N, D));
        let mut len = 77usize;
        expect(
            unsafe { ntk_limit_points_len(null(), &mut len) },
            ntk_status::NullPointer,
            "`points`",
        );
        expect(
            unsafe { ntk_limit_points_len(p.0, null_mut()) },
            ntk_status::NullPointer,
            "`num_points`",
        );
        assert_eq!(len, 77);
        expect(
            ltile(null(), (0, 2), p.0, (0, 2), Some(&mut o1), None),
            ntk_status::NullPointer,
            "`p1`",
        );
        expect(
            ltile(p.0, (0, 2), null(), (0, 2), Some(&mut o1), None),
            ntk_status::NullPointer,
            "`p2`",
        );
        expect(
            ltile(p.0, (0, 2), p.0, (0, 2), None, None),
            ntk_status::NullPointer,
            "nngp, sigma_dot and ntk",
        );
        let mut tn = mm(&mut [], 2, 2);
        tn.data = null_mut();
        expect(
            ltile(p.0, (0, 2), p.0, (0, 2), None, Some(&mut tn)),
            ntk_status::NullPointer,
            "ntk.data",
        );

        let fs = 0x4545usize as *mut ntk_empirical_features;
        let mut fh = fs;
        expect(
            unsafe { ntk_empirical_features_create(null(), m(&x, N, D), null(), &mut fh) },
            ntk_status::NullPointer,
            "`network`",
        );
        expect(
            unsafe { ntk_empirical_features_create(n.0, xn, null(), &mut fh) },
            ntk_status::NullPointer,
            "x.data",
        );
        expect(
            unsafe { ntk_empirical_features_create(n.0, m(&x, N, D), null(), null_mut()) },
            ntk_status::NullPointer,
            "`out`",
        );
        assert_eq!(fh, fs, "*out written on failure");
        let f = features_of(&n, m(&x, N, D));
        expect(
            unsafe { ntk_empirical_features_len(null(), &mut len) },
            ntk_status::NullPointer,
            "`features`",
        );
        expect(
            unsafe { ntk_empirical_features_len(f.0, null_mut()) },
            ntk_status::NullPointer,
            "`num_points`",
        );
        assert_eq!(len, 77);
        let o = |out: &mut Out| mm(&mut out.0, 2, 2);
        expect(
            etile(null(), f.0, (0, 2), f.0, (0, 2), 0, o(&mut out)),
            ntk_status::NullPointer,
            "`network`",
        );
        expect(
            etile(n.0, null(), (0, 2), f.0, (0, 2), 0, o(&mut out)),
            ntk_status::NullPointer,
            "`f1`",
        );
        expect(
            etile(n.0, f.0, (0, 2), null(), (0, 2), 0, o(&mut out)),
            ntk_status::NullPointer,
            "`f2`",
        );
        expect(
            etile(n.0, f.0, (0, 2), f.0, (0, 2), 0, tn),
            ntk_status::NullPointer,
            "out.data",
        );
        out.untouched();

        // Allowed NULLs: x2 (X2 = X1), options, the other outputs; free(NULL).
        unsafe {
            ntk_limit_points_free(null_mut());
            ntk_empirical_features_free(null_mut());
        }
        let (a, b) = out.0.split_at_mut(N * N);
        let (mut o1, mut o2) = (mm(a, N, N), mm(b, N, N));
        assert_eq!(
            limit(n.0, m(&x, N, D), None, Some(&mut o1), None),
            ntk_status::Ok
        );
        assert!(last_error().is_empty());
        assert_eq!(
            ltile(p.0, (0, N), p.0, (0, N), Some(&mut o2), None),
            ntk_status::Ok
        );
        assert_eq!(
            out.0[..N * N],
            out.0[N * N..],
            "tile differs from the whole kernel"
        );
    }

    /// Row: empty, reversed, out-of-range and absurd tile ranges.
    #[test]
    fn tile_ranges_out_of_bounds() {
        let n = net();
        let x = points(N);
        let p = points_of(&n, m(&x, N, D));
        let f = features_of(&n, m(&x, N, D));
        let mut out = Out::new(64);
        for ((r, c), arg) in [
            (((2, 2), (0, 1)), "i0 = 2, i1 = 2"),
            (((3, 1), (0, 1)), "i0 = 3, i1 = 1"),
            (((0, N + 1), (0, 1)), "i1 = 5"),
            (((0, 1), (0, N + 1)), "j1 = 5"),
            (((usize::MAX, 1), (0, 1)), "i0 = 18446744073709551615"),
            (((0, 1), (1, 0)), "j0 = 1, j1 = 0"),
        ] {
            let (h, w) = (r.1.wrapping_sub(r.0), c.1.wrapping_sub(c.0));
            let mut o = ntk_matrix_mut {
                data: out.0.as_mut_ptr(),
                rows: h,
                cols: w,
                row_stride: 1,
                col_stride: 1,
            };
            expect(
                ltile(p.0, r, p.0, c, Some(&mut o), None),
                ntk_status::InvalidArgument,
                arg,
            );
            expect(
                etile(n.0, f.0, r, f.0, c, 0, o),
                ntk_status::InvalidArgument,
                arg,
            );
        }
        out.untouched();
    }

    /// Row: points / features prepared for another kernel, n_0, network or parameters; points
    /// whose columns are not n_0; outputs of the wrong shape.
    #[test]
    fn mismatched_points_networks_and_shapes() {
        let n = net();
        let x = points(N);
        let p = points_of(&n, m(&x, N, D));
        let mut out = Out::new(4 * N * N);
        let mut o = mm(&mut out.0, 2, 2);
        // Another depth (the limit kernel depends on depth, activation and beta only).
        let deeper = make(&[D, 5, 5, 5, K]);
        let q = points_of(&deeper, m(&x, N, D));
        expect(
            ltile(p.0, (0, 2), q.0, (0, 2), Some(&mut o), None),
            ntk_status::InvalidArgument,
            "p1 and p2 were prepared for different limit kernels",
        );
        // Another n_0.
        let wide = make(&[D + 1, 5, 4, K]);
        let xw = (0..N * (D + 1)).map(|k| k as f64 * 0.1).collect::<Vec<_>>();
        let pw = points_of(&wide, m(&xw, N, D + 1));
        expect(
            ltile(p.0, (0, 2), pw.0, (0, 2), Some(&mut o), None),
            ntk_status::InvalidArgument,
            "p1 has n_0 = 3, p2 has n_0 = 4",
        );
        // Points whose columns are not n_0.
        let mut h = 0x55usize as *mut ntk_limit_points;
        expect(
            unsafe { ntk_limit_points_create(n.0, m(&x, 2, D - 1), null(), &mut h) },
            ntk_status::InvalidArgument,
            "x has 2 columns",
        );
        assert_eq!(h, 0x55usize as *mut ntk_limit_points);
        let mut fh = 0x56usize as *mut ntk_empirical_features;
        expect(
            unsafe { ntk_empirical_features_create(n.0, m(&x, 2, D - 1), null(), &mut fh) },
            ntk_status::InvalidArgument,
            "x has 2 columns",
        );
        assert_eq!(fh, 0x56usize as *mut ntk_empirical_features);
        // Output shapes.
        let mut wrong = mm(&mut out.0, 2, 3);
        expect(
            ltile(p.0, (0, 2), p.0, (0, 2), None, Some(&mut wrong)),
            ntk_status::InvalidArgument,
            "ntk is 2x3, expected 2x2",
        );
        let mut wrong = mm(&mut out.0, N, N - 1);
        expect(
            limit(n.0, m(&x, N, D), None, Some(&mut wrong), None),
            ntk_status::InvalidArgument,
            "nngp is 4x3, expected 4x4",
        );
        expect(
            limit(n.0, m(&x, N, D - 1), None, Some(&mut wrong), None),
            ntk_status::InvalidArgument,
            "x1 has 2 columns",
        );
        let x2 = m(&x, 2, D - 1);
        expect(
            limit(n.0, m(&x, 2, D), Some(&x2), Some(&mut o), None),
            ntk_status::InvalidArgument,
            "x2 has 2 columns",
        );
        // Empirical features of another network, or of this network before set_params.
        let f = features_of(&n, m(&x, N, D));
        let other = make(&[D, 5, 4, K]);
        let mut cfg_other = config(&[D, 5, 4, K]);
        cfg_other.seed = 12;
        let mut hh = null_mut();
        assert_eq!(
            unsafe { ntk_network_create(&cfg_other, &mut hh) },
            ntk_status::Ok
        );
        let other2 = Net(hh);
        let g = features_of(&other2, m(&x, N, D));
        expect(
            etile(n.0, f.0, (0, 2), g.0, (0, 2), 0, mm(&mut out.0, 2, 2)),
            ntk_status::InvalidArgument,
            "f2 was computed with different parameters",
        );
        drop(other);
        let p_count = num_params(&n);
        let mut theta = vec![0.0; p_count];
        unsafe { ntk_network_get_params(n.0, theta.as_mut_ptr(), p_count) };
        theta[0] += 0.25;
        assert_eq!(
            unsafe { ntk_network_set_params(n.0, theta.as_ptr(), p_count) },
            ntk_status::Ok
        );
        expect(
            etile(n.0, f.0, (0, 2), f.0, (0, 2), 0, mm(&mut out.0, 2, 2)),
            ntk_status::InvalidArgument,
            "f1 was computed with different parameters",
        );
        expect(
            etile(n.0, f.0, (0, 2), f.0, (0, 2), 1, mm(&mut out.0, 2, 2)),
            ntk_status::InvalidArgument,
            "f1",
        );
        // Unknown mode.
        let f = features_of(&n, m(&x, N, D));
        expect(
            etile(n.0, f.0, (0, 2), f.0, (0, 2), 2, mm(&mut out.0, 2, 2)),
            ntk_status::InvalidArgument,
            "mode = 2",
        );
        expect(
            etile(n.0, f.0, (0, 2), f.0, (0, 2), 1, mm(&mut out.0, 2, 2)),
            ntk_status::InvalidArgument,
            "out is 2x2, expected 4x4",
        );
        out.untouched();
    }

    /// Row: NaN / ±Inf in x1, x2 or the points to prepare.
    #[test]
    fn limit_and_tile_non_finite_inputs() {
        let n = net();
        let good = points(N);
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut x = points(N);
            x[D + 2] = bad;
            let mut out = Out::new(N * N);
            let mut o = mm(&mut out.0, N, N);
            expect(
                limit(n.0, m(&x, N, D), None, Some(&mut o), None),
                ntk_status::NonFinite,
                "x1[1,2]",
            );
            let x2 = m(&x, N, D);
            expect(
                limit(n.0, m(&good, N, D), Some(&x2), None, Some(&mut o)),
                ntk_status::NonFinite,
                "x2[1,2]",
            );
            out.untouched();
            let mut h = 0x57usize as *mut ntk_limit_points;
            expect(
                unsafe { ntk_limit_points_create(n.0, m(&x, N, D), null(), &mut h) },
                ntk_status::NonFinite,
                "x[1,2]",
            );
            assert_eq!(h, 0x57usize as *mut ntk_limit_points);
            let mut fh = 0x58usize as *mut ntk_empirical_features;
            expect(
                unsafe { ntk_empirical_features_create(n.0, m(&x, N, D), null(), &mut fh) },
                ntk_status::NonFinite,
                "x[1,2]",
            );
            assert_eq!(fh, 0x58usize as *mut ntk_empirical_features);
        }
    }

    /// Row: outputs that alias each other, overlap an input, or have self-aliasing strides.
    #[test]
    fn limit_and_tile_overlapping_outputs() {
        let n = net();
        let mut buf = points(3 * N * N);
        let snapshot = buf.clone();
        let x = m(&buf, N, D);
        // nngp inside the memory of x1.
        let mut inside = ntk_matrix_mut {
            data: buf.as_mut_ptr(),
            rows: N,
            cols: N,
            row_stride: N as isize,
            col_stride: 1,
        };
        expect(
            limit(n.0, x, None, Some(&mut inside), None),
            ntk_status::InvalidArgument,
            "nngp overlaps the memory of x1",
        );
        assert_eq!(buf, snapshot);
        let xs = points(N);
        let mut out = Out::new(2 * N * N);
        let mut a = mm(&mut out.0, N, N);
        let mut b = a;
        expect(
            limit(n.0, m(&xs, N, D), None, Some(&mut a), Some(&mut b)),
            ntk_status::InvalidArgument,
            "nngp and ntk overlap",
        );
        let mut alias = mm(&mut out.0, N, N);
        alias.row_stride = 0;
        expect(
            limit(n.0, m(&xs, N, D), None, None, Some(&mut alias)),
            ntk_status::InvalidArgument,
            "ntk: strides",
        );
        let p = points_of(&n, m(&xs, N, D));
        let mut a = mm(&mut out.0, 2, 2);
        let mut b = a;
        expect(
            ltile(p.0, (0, 2), p.0, (0, 2), Some(&mut a), Some(&mut b)),
            ntk_status::InvalidArgument,
            "nngp and ntk overlap",
        );
        let mut alias = mm(&mut out.0, 2, 2);
        alias.col_stride = 0;
        expect(
            ltile(p.0, (0, 2), p.0, (0, 2), Some(&mut alias), None),
            ntk_status::InvalidArgument,
            "nngp: strides",
        );
        let f = features_of(&n, m(&xs, N, D));
        expect(
            etile(n.0, f.0, (0, 2), f.0, (0, 2), 0, alias),
            ntk_status::InvalidArgument,
            "out: strides",
        );
        out.untouched();
    }

    unsafe extern "C" fn nan_sigma(x: f64, _: *mut c_void) -> f64 {
        if x.abs() > 1.5 {
            f64::NAN
        } else {
            x
        }
    }

    /// Row: finite inputs whose kernels overflow, and a custom σ returning NaN (found by the
    /// limit fuzzer: OK with Inf in the output, and minutes in the pair quadrature).
    #[test]
    fn limit_and_tile_overflow_is_numerical() {
        let n = net();
        let big = vec![1e200; N * D];
        let mut out = vec![0.0; N * N];
        let mut o = mm(&mut out, N, N);
        expect(
            limit(n.0, m(&big, N, D), None, Some(&mut o), None),
            ntk_status::Numerical,
            "nngp[",
        );
        let p = points_of(&n, m(&big, N, D));
        let mut t = mm(&mut out, 2, 2);
        expect(
            ltile(p.0, (0, 2), p.0, (1, 3), None, Some(&mut t)),
            ntk_status::Numerical,
            "ntk[",
        );
        let f = features_of(&n, m(&big, N, D));
        let st = etile(n.0, f.0, (0, 2), f.0, (0, 2), 0, mm(&mut out, 2, 2));
        expect(st, ntk_status::Numerical, "out[");

        let widths = [D, 4, K];
        let mut cfg = config(&widths);
        cfg.activation = 10;
        cfg.custom_sigma = Some(nan_sigma);
        cfg.custom_dsigma = Some(nan_sigma);
        let mut h = null_mut();
        assert_eq!(unsafe { ntk_network_create(&cfg, &mut h) }, ntk_status::Ok);
        let cn = Net(h);
        let xs: Vec<f64> = (0..N * D).map(|k| 2.0 + 0.1 * k as f64).collect();
        let t0 = std::time::Instant::now();
        let mut o = mm(&mut out, N, N);
        expect(
            limit(cn.0, m(&xs, N, D), None, None, Some(&mut o)),
            ntk_status::Numerical,
            "ntk[",
        );
        assert!(
            t0.elapsed().as_secs_f64() < 20.0,
            "custom sigma returning NaN took {:?}",
            t0.elapsed()
        );
    }

    /// Row: a broadcast view of 2^40 points to prepare: ALLOCATION at once (found by the tiles
    /// fuzzer: the values were scanned before the copy was allocated).
    #[test]
    fn huge_broadcast_points_are_an_allocation_failure() {
        let n = net();
        let x = points(1);
        let huge = ntk_matrix {
            data: x.as_ptr(),
            rows: 1 << 40,
            cols: D,
            row_stride: 0,
            col_stride: 1,
        };
        let t0 = std::time::Instant::now();
        let mut h = 0x59usize as *mut ntk_limit_points;
        expect(
            unsafe { ntk_limit_points_create(n.0, huge, null(), &mut h) },
            ntk_status::Allocation,
            "points",
        );
        assert_eq!(h, 0x59usize as *mut ntk_limit_points);
        let mut fh = 0x5ausize as *mut ntk_empirical_features;
        expect(
            unsafe { ntk_empirical_features_create(n.0, huge, null(), &mut fh) },
            ntk_status::Allocation,
            "points",
        );
        assert_eq!(fh, 0x5ausize as *mut ntk_empirical_features);
        assert!(t0.elapsed().as_secs_f64() < 5.0, "{:?}", t0.elapsed());
    }

    /// Row: cancel from the callback (limit kernel, points, tiles); the handles stay usable and
    /// give the uncancelled bits.
    #[test]
    fn limit_and_tile_cancel() {
        let n = net();
        let x = points(40);
        let opts = ntk_options {
            progress: Some(cancel_now),
            user_data: null_mut(),
        };
        let mut out = vec![0.0; 1600];
        let st = unsafe {
            ntk_kernel_limit(
                n.0,
                m(&x, 40, D),
                null(),
                null_mut(),
                null_mut(),
                &mut mm(&mut out, 40, 40),
                &opts,
            )
        };
        expect(st, ntk_status::Cancelled, "cancelled");
        let mut h = 0x5busize as *mut ntk_limit_points;
        let st = unsafe { ntk_limit_points_create(n.0, m(&x, 40, D), &opts, &mut h) };
        expect(st, ntk_status::Cancelled, "cancelled");
        assert_eq!(h, 0x5busize as *mut ntk_limit_points);
        let mut fh = 0x5cusize as *mut ntk_empirical_features;
        let st = unsafe { ntk_empirical_features_create(n.0, m(&x, 40, D), &opts, &mut fh) };
        expect(st, ntk_status::Cancelled, "cancelled");
        assert_eq!(fh, 0x5cusize as *mut ntk_empirical_features);
        let p = points_of(&n, m(&x, 40, D));
        let st = unsafe {
            ntk_kernel_limit_tile(
                p.0,
                0,
                40,
                p.0,
                0,
                40,
                null_mut(),
                null_mut(),
                &mut mm(&mut out, 40, 40),
                &opts,
            )
        };
        expect(st, ntk_status::Cancelled, "cancelled");
        let mut full = vec![0.0; 1600];
        assert_eq!(
            limit(
                n.0,
                m(&x, 40, D),
                None,
                None,
                Some(&mut mm(&mut full, 40, 40))
            ),
            ntk_status::Ok
        );
        assert_eq!(
            ltile(
                p.0,
                (0, 40),
                p.0,
                (0, 40),
                None,
                Some(&mut mm(&mut out, 40, 40))
            ),
            ntk_status::Ok
        );
        assert_eq!(
            out, full,
            "tile after a cancel differs from the whole kernel"
        );
    }
}
