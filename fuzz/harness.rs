//! Fuzz harness shared by the cargo-fuzz targets (fuzz/fuzz_targets/*.rs) and by the replay of
//! kept inputs in tests/reliability_regressions.rs (which runs without libFuzzer).
//!
//! Each target decodes the fuzzer's bytes into a network configuration, matrix shapes, strides
//! (row-major, column-major, negative, zero, padded, overflowing) and values (NaN, ±Inf, huge,
//! denormal, ordinary), calls the `extern "C"` functions with buffers sized to the views, and
//! asserts the C API contract:
//! - no panic escapes: the status is never `NTK_STATUS_INTERNAL`;
//! - success clears the last error, failure sets a non-empty message;
//! - on success every element of the output view is finite and nothing outside the view (padding
//!   of the buffer) is written;
//! - on failure (other than CANCELLED) the whole output buffer is untouched;
//! - inputs are never modified;
//! - after a CANCELLED call the same handle gives the same bits as an uncancelled call.
#![allow(dead_code)]

use ntk::ffi::empirical::{ntk_kernel_empirical, ntk_network_jacobian};
use ntk::ffi::network::{
    ntk_network, ntk_network_config, ntk_network_create, ntk_network_forward, ntk_network_free,
    ntk_network_shape,
};
use ntk::ffi::{ntk_last_error, ntk_matrix, ntk_matrix_mut, ntk_options, ntk_status};
use std::ffi::{c_int, c_void, CStr};
use std::ptr::null_mut;

/// Value of every output element before a call.
pub const SENTINEL: f64 = -7.25e11;

/// Reads decisions from the fuzzer's bytes; zeros once they run out.
pub struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data, pos: 0 }
    }
    pub fn u8(&mut self) -> u8 {
        let v = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        v
    }
    pub fn u64(&mut self) -> u64 {
        let mut v = 0u64;
        for _ in 0..8 {
            v = (v << 8) | self.u8() as u64;
        }
        v
    }
    /// A value in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        self.u8() as usize % n
    }
    /// A floating-point value drawn from the interesting classes.
    pub fn value(&mut self) -> f64 {
        match self.u8() % 32 {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => f64::NEG_INFINITY,
            3 => 1e300,
            4 => -1e300,
            5 => 1e155, // its square overflows
            6 => 5e-324,
            7 => -0.0,
            8 => f64::MAX,
            9 => f64::MIN_POSITIVE,
            10 => f64::from_bits(self.u64()),
            _ => (self.u8() as f64 - 128.0) / 32.0,
        }
    }
    /// A finite "ordinary" value (most of the time), so that calls can succeed.
    pub fn mostly_ordinary(&mut self) -> f64 {
        if self.u8() < 8 {
            self.value()
        } else {
            (self.u8() as f64 - 128.0) / 32.0
        }
    }
    /// A size: usually small, sometimes 0 or absurd.
    pub fn size(&mut self, small_max: usize) -> usize {
        match self.u8() % 64 {
            0 => 0,
            1 => usize::MAX,
            2 => 1 << 40,
            3 => 1 << 62,
            4 => (1 << 32) + 1,
            _ => 1 + self.below(small_max),
        }
    }
}

/// A custom activation: tanh and its derivative.
unsafe extern "C" fn c_tanh(x: f64, _: *mut c_void) -> f64 {
    x.tanh()
}
unsafe extern "C" fn c_dtanh(x: f64, _: *mut c_void) -> f64 {
    1.0 - x.tanh() * x.tanh()
}
/// A misbehaving custom activation: NaN for large inputs.
unsafe extern "C" fn c_nan_big(x: f64, _: *mut c_void) -> f64 {
    if x.abs() > 1.5 {
        f64::NAN
    } else {
        x
    }
}

/// An owned network handle.
pub struct Net(pub *mut ntk_network);
impl Drop for Net {
    fn drop(&mut self) {
        unsafe { ntk_network_free(self.0) }
    }
}

pub fn last_error() -> String {
    unsafe { CStr::from_ptr(ntk_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// Checks the status/last-error pairing and that no panic escaped.
pub fn check_status(st: ntk_status, what: &str) {
    let msg = last_error();
    assert_ne!(st, ntk_status::Internal, "{what}: internal error: {msg}");
    if st == ntk_status::Ok {
        assert!(msg.is_empty(), "{what}: OK but last error = {msg:?}");
    } else {
        assert!(!msg.is_empty(), "{what}: {st:?} without a message");
    }
}

/// Decodes a network configuration and creates it. Returns None when creation (correctly) fails.
pub fn make_network(b: &mut Bytes<'_>) -> Option<Net> {
    let num_widths = match b.u8() % 16 {
        0 => 0,
        1 => 1,
        2 => 5000,
        n => 2 + (n as usize % 3),
    };
    let mut widths = vec![0usize; num_widths.min(8)];
    for w in widths.iter_mut() {
        *w = b.size(5);
    }
    let activation: c_int = match b.u8() % 16 {
        12 => -1,
        13 => 11,
        14 => c_int::MAX,
        a => (a % 11) as c_int,
    };
    let activation_param = b.mostly_ordinary();
    let beta = match b.u8() % 8 {
        0 => b.value(),
        1 => -0.5,
        _ => b.u8() as f64 / 128.0,
    };
    let (sigma, dsigma): (
        ntk::ffi::network::ntk_scalar_fn,
        ntk::ffi::network::ntk_scalar_fn,
    ) = match b.u8() % 4 {
        0 => (None, Some(c_dtanh)),
        1 => (Some(c_nan_big), Some(c_nan_big)),
        _ => (Some(c_tanh), Some(c_dtanh)),
    };
    let widths_ptr = if b.u8() == 255 {
        std::ptr::null()
    } else {
        widths.as_ptr()
    };
    // num_widths beyond the vector is only used with a value the library rejects first (5000).
    let cfg = ntk_network_config {
        widths: widths_ptr,
        num_widths: if num_widths == 5000 {
            5000
        } else {
            widths.len()
        },
        activation,
        activation_param,
        beta,
        seed: b.u64(),
        custom_sigma: sigma,
        custom_dsigma: dsigma,
        custom_user_data: null_mut(),
    };
    let sentinel = 0x5a5a_usize as *mut ntk_network;
    let mut h = sentinel;
    let st = unsafe { ntk_network_create(&cfg, &mut h) };
    check_status(st, "ntk_network_create");
    if st == ntk_status::Ok {
        assert!(!h.is_null() && h != sentinel);
        Some(Net(h))
    } else {
        assert_eq!(h, sentinel, "ntk_network_create wrote *out on failure");
        None
    }
}

/// A buffer holding a strided view, with the offset of element (0, 0).
pub struct Buffer {
    pub data: Vec<f64>,
    pub origin: usize,
    pub rows: usize,
    pub cols: usize,
    pub rs: isize,
    pub cs: isize,
    /// The view cannot exist in memory (its strides overflow the address space); the library
    /// must reject it without touching memory, so it points at a tiny buffer.
    pub bogus: bool,
}

/// Largest buffer the harness allocates for one view (elements).
const MAX_BUF: usize = 1 << 16;

impl Buffer {
    /// A view of the given shape with a layout decided by the bytes. `output` views never get
    /// zero strides for dimensions > 1 unless the library must reject them (aliasing).
    pub fn new(b: &mut Bytes<'_>, rows: usize, cols: usize, output: bool) -> Buffer {
        let small = rows <= 256 && cols <= 256 && rows * cols <= 4096;
        let layout = b.u8() % 16;
        let pad = b.below(3) as isize;
        let (rs, cs): (isize, isize) = if !small {
            // Only views the library must reject (overflowing span) or that read the same
            // memory repeatedly (zero strides, inputs only) can be this large.
            // The huge stride goes on the larger dimension (>= 2^32 here), so the span
            // overflows the address space and the view is certainly rejected.
            match layout % 3 {
                0 if !output => (0, 0),
                _ if rows >= cols => (isize::MAX / 4, 1),
                _ => (1, isize::MAX / 2),
            }
        } else {
            let (r, c) = (rows as isize, cols as isize);
            match layout {
                0 => (1, r + pad),        // column-major
                1 => (-(c + pad), 1),     // rows reversed
                2 => (c + pad, -1),       // columns reversed
                3 => (0, 1),              // broadcast row (aliases if rows>1)
                4 => (c, 0),              // broadcast column
                5 => (isize::MAX / 2, 1), // overflowing row stride
                6 => (c - 1, 1),          // overlapping rows
                7 => (-1, -(r + pad)),    // both reversed, column-major
                8 => ((c + pad) * 2, 2),  // every other element
                _ => (c + pad, 1),        // row-major (padded)
            }
        };
        // Extent of the view in elements; a view that overflows is "bogus".
        let extent = |n: usize, s: isize| -> Option<(isize, isize)> {
            let d = isize::try_from(n.checked_sub(1)?).ok()?.checked_mul(s)?;
            Some((d.min(0), d.max(0)))
        };
        let fits = rows > 0
            && cols > 0
            && match (extent(rows, rs), extent(cols, cs)) {
                (Some((rl, rh)), Some((cl, ch))) => {
                    let lo = rl + cl;
                    let hi = rh + ch;
                    ((hi - lo) as usize) < MAX_BUF
                }
                _ => false,
            };
        if !fits {
            return Buffer {
                data: vec![SENTINEL; 4],
                origin: 0,
                rows,
                cols,
                rs,
                cs,
                bogus: true,
            };
        }
        let (rl, rh) = extent(rows, rs).unwrap();
        let (cl, ch) = extent(cols, cs).unwrap();
        let origin = (-(rl + cl)) as usize + b.below(2);
        let len = origin + (rh + ch) as usize + 1 + b.below(2);
        Buffer {
            data: vec![SENTINEL; len],
            origin,
            rows,
            cols,
            rs,
            cs,
            bogus: false,
        }
    }

    fn index(&self, i: usize, j: usize) -> usize {
        (self.origin as isize + i as isize * self.rs + j as isize * self.cs) as usize
    }

    /// Fills the view's elements with values from the bytes.
    pub fn fill(&mut self, b: &mut Bytes<'_>) {
        if self.bogus {
            return;
        }
        if self.rows.saturating_mul(self.cols) > MAX_BUF {
            // A broadcast (zero-stride) input: a single element.
            self.data[self.origin] = b.mostly_ordinary();
            return;
        }
        for i in 0..self.rows {
            for j in 0..self.cols {
                let k = self.index(i, j);
                self.data[k] = b.mostly_ordinary();
            }
        }
    }

    pub fn as_input(&self, null: bool) -> ntk_matrix {
        ntk_matrix {
            data: if null {
                std::ptr::null()
            } else {
                unsafe { self.data.as_ptr().add(self.origin) }
            },
            rows: self.rows,
            cols: self.cols,
            row_stride: self.rs,
            col_stride: self.cs,
        }
    }

    pub fn as_output(&mut self, null: bool) -> ntk_matrix_mut {
        ntk_matrix_mut {
            data: if null {
                null_mut()
            } else {
                unsafe { self.data.as_mut_ptr().add(self.origin) }
            },
            rows: self.rows,
            cols: self.cols,
            row_stride: self.rs,
            col_stride: self.cs,
        }
    }

    /// The view's elements, row-major.
    pub fn view_values(&self) -> Vec<f64> {
        let mut v = Vec::new();
        for i in 0..self.rows {
            for j in 0..self.cols {
                v.push(self.data[self.index(i, j)]);
            }
        }
        v
    }

    /// Asserts the contract on an output buffer after a call.
    pub fn check_output(&self, before: &[f64], st: ntk_status, what: &str) {
        match st {
            ntk_status::Ok => {
                assert!(!self.bogus, "{what}: accepted an impossible output view");
                let mut in_view = vec![false; self.data.len()];
                for i in 0..self.rows {
                    for j in 0..self.cols {
                        let k = self.index(i, j);
                        in_view[k] = true;
                        let v = self.data[k];
                        assert!(v.is_finite(), "{what}: OK with out[{i},{j}] = {v}");
                    }
                }
                for (k, (&now, &was)) in self.data.iter().zip(before).enumerate() {
                    if !in_view[k] {
                        assert_eq!(
                            now.to_bits(),
                            was.to_bits(),
                            "{what}: wrote element {k} outside the output view"
                        );
                    }
                }
            }
            ntk_status::Cancelled | ntk_status::Numerical => {
                // Documented: the view may be partially written, but nothing outside it.
                if !self.bogus {
                    let mut in_view = vec![false; self.data.len()];
                    for i in 0..self.rows {
                        for j in 0..self.cols {
                            in_view[self.index(i, j)] = true;
                        }
                    }
                    for (k, (&now, &was)) in self.data.iter().zip(before).enumerate() {
                        if !in_view[k] {
                            assert_eq!(now.to_bits(), was.to_bits(), "{what}: wrote outside");
                        }
                    }
                }
            }
            _ => {
                let same = self
                    .data
                    .iter()
                    .zip(before)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{what}: {st:?} but the output was written");
            }
        }
    }
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Network shape remembered from the bytes used to build it.
pub struct Model {
    pub net: Net,
    pub n0: usize,
    pub nl: usize,
    pub p: usize,
}

/// Creates a network, retrieving n_0 and n_L by probing the forward pass's shape errors is not
/// needed: the harness decodes widths itself and asks the library only for P.
pub fn make_model(b: &mut Bytes<'_>) -> Option<Model> {
    // Peek the widths the same way make_network decodes them.
    let start = b.pos;
    let net = make_network(b)?;
    let mut peek = Bytes {
        data: b.data,
        pos: start,
    };
    let num_widths = match peek.u8() % 16 {
        0 => 0,
        1 => 1,
        2 => 5000,
        n => 2 + (n as usize % 3),
    };
    let mut widths = vec![0usize; num_widths.min(8)];
    for w in widths.iter_mut() {
        *w = peek.size(5);
    }
    let (mut depth, mut p) = (0usize, 0usize);
    let st = unsafe { ntk_network_shape(net.0, &mut depth, &mut p) };
    assert_eq!(st, ntk_status::Ok);
    assert_eq!(depth + 1, widths.len());
    Some(Model {
        n0: widths[0],
        nl: *widths.last().unwrap(),
        p,
        net,
    })
}

/// Shape of an input or output: usually the expected one, sometimes off by one or absurd.
fn shape_near(b: &mut Bytes<'_>, rows: usize, cols: usize) -> (usize, usize) {
    match b.u8() % 16 {
        0 => (rows + 1, cols),
        1 => (rows, cols.saturating_sub(1)),
        2 => (b.size(4), b.size(4)),
        _ => (rows, cols),
    }
}

/// Progress callback state: cancel at call number `cancel_at` (never when 0).
struct Cancel {
    calls: u64,
    cancel_at: u64,
}
unsafe extern "C" fn progress_cb(ud: *mut c_void, done: u64, total: u64) -> c_int {
    let c = unsafe { &mut *(ud as *mut Cancel) };
    assert!(done <= total, "progress: done {done} > total {total}");
    c.calls += 1;
    (c.cancel_at != 0 && c.calls >= c.cancel_at) as c_int
}

/// get_params / set_params (one entry replaced by a decoded value, wrong lengths) and clone: a
/// rejected set_params leaves the parameters unchanged, an accepted one is read back exactly,
/// and a clone has the same parameters.
fn params_and_clone(b: &mut Bytes<'_>, m: &Model) {
    use ntk::ffi::network::{ntk_network_clone, ntk_network_get_params, ntk_network_set_params};
    let p = m.p;
    let mut theta = vec![SENTINEL; p + 1];
    let len = match b.u8() % 8 {
        0 => p + 1,
        1 => p.saturating_sub(1),
        _ => p,
    };
    let st = unsafe { ntk_network_get_params(m.net.0, theta.as_mut_ptr(), len) };
    check_status(st, "ntk_network_get_params");
    if len != p {
        assert_eq!(st, ntk_status::InvalidArgument);
        assert!(theta.iter().all(|v| v.to_bits() == SENTINEL.to_bits()));
        return;
    }
    assert_eq!(st, ntk_status::Ok);
    let before = theta.clone();
    let k = b.below(p.max(1));
    let v = b.value();
    theta[k] = v;
    let st = unsafe { ntk_network_set_params(m.net.0, theta.as_ptr(), p) };
    check_status(st, "ntk_network_set_params");
    let mut now = vec![0.0; p];
    unsafe { ntk_network_get_params(m.net.0, now.as_mut_ptr(), p) };
    if v.is_finite() {
        assert_eq!(st, ntk_status::Ok);
        assert_eq!(bits(&now), bits(&theta[..p]), "set_params not read back");
    } else {
        assert_eq!(st, ntk_status::NonFinite);
        assert_eq!(
            bits(&now),
            bits(&before[..p]),
            "rejected set_params changed the network"
        );
    }
    let mut c = null_mut();
    let st = unsafe { ntk_network_clone(m.net.0, &mut c) };
    check_status(st, "ntk_network_clone");
    assert_eq!(st, ntk_status::Ok);
    let clone = Net(c);
    let mut cp = vec![0.0; p];
    unsafe { ntk_network_get_params(clone.0, cp.as_mut_ptr(), p) };
    assert_eq!(bits(&cp), bits(&now), "clone has different parameters");
}

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
    let mut cancel = Cancel {
        calls: 0,
        cancel_at,
    };
    let opts = ntk_options {
        progress: Some(progress_cb),
        user_data: &mut cancel as *mut Cancel as *mut c_void,
    };
    let optp: *const ntk_options = if cancel_at > 0 || nulls == 5 {
        &opts
    } else {
        std::ptr::null()
    };
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
    let mut cancel = Cancel {
        calls: 0,
        cancel_at,
    };
    let opts = ntk_options {
        progress: Some(progress_cb),
        user_data: &mut cancel as *mut Cancel as *mut c_void,
    };
    let optp: *const ntk_options = if cancel_at > 0 {
        &opts
    } else {
        std::ptr::null()
    };
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

// ---- Flows, spectra, training (ntk_flow_*, ntk_kernel_spectrum/condition, ntk_network_train) ----

use ntk::ffi::flow::{
    ntk_flow, ntk_flow_create, ntk_flow_free, ntk_flow_loss, ntk_flow_options, ntk_flow_outputs,
    ntk_flow_predict, ntk_flow_set_time, ntk_flow_step, ntk_flow_time, ntk_kernel_condition,
    ntk_kernel_spectrum,
};

struct FlowHandle(*mut ntk_flow);
impl Drop for FlowHandle {
    fn drop(&mut self) {
        unsafe { ntk_flow_free(self.0) }
    }
}

/// A kernel matrix of size d x d: the Gram matrix of decoded features (PSD), then optionally
/// spoiled (asymmetric entry, negative diagonal, non-finite entry, huge entries).
fn kernel_matrix(b: &mut Bytes<'_>, d: usize) -> Vec<f64> {
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

/// Target: ntk_network_train (random network, data, cost, learning rate, steps, cancel). On
/// failure before training (bad arguments) the parameters are unchanged; on success they and the
/// loss history are finite.
pub fn fuzz_train(data: &[u8]) -> Option<ntk_status> {
    use ntk::ffi::network::ntk_network_get_params;
    use ntk::ffi::train::ntk_network_train;
    let mut b = Bytes::new(data);
    let m = make_model(&mut b)?;
    let n = 1 + b.below(4);
    // Absurd row counts that a (lazy, ASan) allocator would still grant become 2^40, which
    // none grants: the library must answer ALLOCATION at once (see `points_buffer`).
    let absurd = |r: usize| {
        if r > MAX_BUF && r < 1 << 40 {
            1 << 40
        } else {
            r
        }
    };
    let (xr, xc) = shape_near(&mut b, n, m.n0);
    let mut x = Buffer::new(&mut b, absurd(xr), xc, false);
    x.fill(&mut b);
    let (yr, yc) = shape_near(&mut b, n, m.nl);
    let mut y = Buffer::new(&mut b, absurd(yr), yc, false);
    y.fill(&mut b);
    let cost: c_int = match b.u8() % 8 {
        7 => 5,
        v => (v % 2) as c_int,
    };
    let lr = match b.u8() % 4 {
        0 => b.value(),
        _ => b.u8() as f64 / 256.0,
    };
    let steps = if b.u8() == 255 {
        usize::MAX
    } else {
        b.below(5)
    };
    // steps = usize::MAX only with a history buffer, which the library must reject (steps + 1
    // overflows); without one it would (correctly) train for 2^64 steps.
    let with_history =
        (b.u8() % 2 == 0 || steps == usize::MAX) && (steps < 100 || steps == usize::MAX);
    let mut history = vec![
        SENTINEL;
        if with_history && steps < 100 {
            steps + 2
        } else {
            1
        }
    ];
    let cancel_at = if b.u8() % 4 == 0 {
        1 + b.below(4) as u64
    } else {
        0
    };
    let mut cancel = Cancel {
        calls: 0,
        cancel_at,
    };
    let opts = ntk_options {
        progress: Some(progress_cb),
        user_data: &mut cancel as *mut Cancel as *mut c_void,
    };
    let mut before = vec![0.0; m.p];
    unsafe { ntk_network_get_params(m.net.0, before.as_mut_ptr(), m.p) };
    let nulls = b.u8();
    let st = unsafe {
        ntk_network_train(
            if nulls == 1 { null_mut() } else { m.net.0 },
            x.as_input(nulls == 2),
            y.as_input(nulls == 3),
            cost,
            lr,
            steps,
            if with_history {
                history.as_mut_ptr()
            } else {
                null_mut()
            },
            if cancel_at > 0 {
                &opts
            } else {
                std::ptr::null()
            },
        )
    };
    check_status(st, "ntk_network_train");
    let mut after = vec![0.0; m.p];
    unsafe { ntk_network_get_params(m.net.0, after.as_mut_ptr(), m.p) };
    if std::env::var_os("NTK_FUZZ_DEBUG").is_some() {
        eprintln!(
            "train st {st:?} cost {cost} lr {lr} steps {steps} hist {with_history} cancel {cancel_at} x {:?} y {:?} before {before:?} after {after:?} err {}",
            x.data, y.data, last_error()
        );
    }
    assert!(
        after.iter().all(|v| v.is_finite()),
        "non-finite parameters after train"
    );
    match st {
        ntk_status::Ok => {
            assert!(
                steps < 100,
                "train accepted steps = {steps} with a 1-element history"
            );
            if with_history {
                assert!(history[..=steps].iter().all(|v| v.is_finite()));
                assert_eq!(history[steps + 1].to_bits(), SENTINEL.to_bits());
            }
        }
        ntk_status::Cancelled | ntk_status::Numerical => {}
        _ => {
            assert_eq!(
                bits(&after),
                bits(&before),
                "failed train changed the network"
            );
            assert!(history.iter().all(|v| v.to_bits() == SENTINEL.to_bits()));
        }
    }
    Some(st)
}

// ---- Limit kernels (ntk_kernel_limit) ----------------------------------------------------------

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
type Kernels = [Option<Vec<u64>>; 3];

/// Runs ntk_kernel_limit into fresh row-major buffers for all three kernels.
fn limit_all(
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
    let mut cancel = Cancel {
        calls: 0,
        cancel_at,
    };
    let opts = ntk_options {
        progress: Some(progress_cb),
        user_data: &mut cancel as *mut Cancel as *mut c_void,
    };
    let optp: *const ntk_options = if cancel_at > 0 || nulls == 7 {
        &opts
    } else {
        std::ptr::null()
    };
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

// ---- Tiles (ntk_limit_points_*, ntk_kernel_limit_tile, ntk_empirical_features_*,
// ntk_kernel_empirical_tile) ------------------------------------------------------------------

use ntk::ffi::tiles::{
    ntk_empirical_features, ntk_empirical_features_create, ntk_empirical_features_free,
    ntk_empirical_features_len, ntk_kernel_empirical_tile, ntk_kernel_limit_tile, ntk_limit_points,
    ntk_limit_points_create, ntk_limit_points_free, ntk_limit_points_len,
};

struct PointsHandle(*mut ntk_limit_points);
impl Drop for PointsHandle {
    fn drop(&mut self) {
        unsafe { ntk_limit_points_free(self.0) }
    }
}
struct FeaturesHandle(*mut ntk_empirical_features);
impl Drop for FeaturesHandle {
    fn drop(&mut self) {
        unsafe { ntk_empirical_features_free(self.0) }
    }
}

/// Points for a tile test: from the bytes when few, otherwise a deterministic pattern (the bytes
/// would run out and decode as NaN) in a row- or column-major buffer; absurd counts get the
/// broadcast / overflowing views of [`Buffer::new`].
///
/// The prepare calls copy their points, so a broadcast (zero-stride) view of 2^32 points is a
/// legitimate request for 2^32 n_0 doubles (128 GiB), which the OS (overcommit) and ASan may
/// grant and then spend minutes zeroing: counts between MAX_BUF and 2^40 become 2^40, which no
/// allocator grants (ALLOCATION).
fn points_buffer(b: &mut Bytes<'_>, rows: usize, cols: usize) -> Buffer {
    let rows = if rows > MAX_BUF && rows < 1 << 40 {
        1 << 40
    } else {
        rows
    };
    if rows <= 16 || rows > MAX_BUF || cols == 0 || cols > 256 || rows * cols > MAX_BUF {
        let mut x = Buffer::new(b, rows, cols, false);
        x.fill(b);
        x
    } else {
        let col_major = b.u8() % 2 == 0;
        let seed = b.u8() as f64;
        let mut x = Buffer::plain(rows, cols, col_major, 1);
        for i in 0..rows {
            for j in 0..cols {
                let k = x.index(i, j);
                x.data[k] = ((i * cols + j) as f64 * 0.377 + seed).sin() * 1.3;
            }
        }
        x
    }
}

/// A tile range of n points: usually valid, sometimes empty, reversed, beyond n or absurd.
fn tile_range(b: &mut Bytes<'_>, n: usize) -> (usize, usize) {
    match b.u8() % 16 {
        0 => {
            let a = b.below(n.clamp(1, 255));
            (a, a)
        }
        1 => (b.below(n.clamp(1, 255)), n.saturating_add(1)),
        2 => (usize::MAX, 1),
        3 => (b.size(8), b.size(8)),
        4 => {
            let a = 1 + b.below(n.clamp(1, 255));
            (a, a - 1)
        }
        _ => {
            let n = n.max(1);
            let a = b.below(n.min(255));
            let w = 1 + b.below((n - a).min(255));
            (a, a + w)
        }
    }
}

/// An output view for a tile: usually of the expected shape, random layout (or a plain one when
/// large), sometimes of a wrong shape.
fn tile_output(b: &mut Bytes<'_>, rows: usize, cols: usize) -> Buffer {
    let (r, c) = shape_near(b, rows, cols);
    if r <= 256 && c <= 256 && r * c <= 4096 {
        Buffer::new(b, r, c, true)
    } else if r > 0 && c > 0 && r <= 1 << 18 && c <= 1 << 18 && r * c <= 1 << 18 {
        let col_major = b.u8() % 2 == 0;
        Buffer::plain(r, c, col_major, b.below(2))
    } else {
        Buffer::new(b, r, c, true)
    }
}

/// The row-major block [i0, i1) x [j0, j1) of an n1 x n2 row-major matrix, as bits.
fn block_bits(
    k: &[f64],
    n2: usize,
    (i0, i1): (usize, usize),
    (j0, j1): (usize, usize),
) -> Vec<u64> {
    let mut v = Vec::with_capacity((i1 - i0) * (j1 - j0));
    for i in i0..i1 {
        for j in j0..j1 {
            v.push(k[i * n2 + j].to_bits());
        }
    }
    v
}

fn decode_cancel(b: &mut Bytes<'_>, max: usize) -> u64 {
    if b.u8() % 4 == 0 {
        1 + b.below(max) as u64
    } else {
        0
    }
}

/// Target: the tile APIs. The first byte picks the limit-kernel or the empirical-kernel family.
pub fn fuzz_tiles(data: &[u8]) -> Option<ntk_status> {
    unsafe {
        ntk_limit_points_free(null_mut());
        ntk_empirical_features_free(null_mut());
    }
    let mut b = Bytes::new(data);
    if b.u8() % 2 == 0 {
        fuzz_limit_tiles(&mut b)
    } else {
        fuzz_empirical_tiles(&mut b)
    }
}

/// Creates points with checks of the create/len contract; None when creation failed.
fn limit_points(
    b: &mut Bytes<'_>,
    net: *const ntk_network,
    x: &Buffer,
    what: &str,
) -> (ntk_status, Option<PointsHandle>) {
    let nulls = b.u8() % 16;
    let cancel_at = decode_cancel(b, 3);
    let mut cancel = Cancel {
        calls: 0,
        cancel_at,
    };
    let opts = ntk_options {
        progress: Some(progress_cb),
        user_data: &mut cancel as *mut Cancel as *mut c_void,
    };
    let optp: *const ntk_options = if cancel_at > 0 || nulls == 4 {
        &opts
    } else {
        std::ptr::null()
    };
    let x_before = x.data.clone();
    let sentinel = 0x7171usize as *mut ntk_limit_points;
    let mut h = sentinel;
    let st = unsafe {
        ntk_limit_points_create(
            if nulls == 1 { null_mut() } else { net },
            x.as_input(nulls == 2),
            optp,
            if nulls == 3 { null_mut() } else { &mut h },
        )
    };
    check_status(st, what);
    check_names_argument(st, &["network", "x", "out"], what);
    assert_eq!(bits(&x.data), bits(&x_before), "{what} modified x");
    // (An empty x is reported as such before its NULL data.)
    if nulls == 1 || nulls == 3 || nulls == 2 && x.rows > 0 && x.cols > 0 {
        assert_eq!(st, ntk_status::NullPointer, "{what}: NULL argument {nulls}");
    }
    if st != ntk_status::Ok {
        assert_eq!(h, sentinel, "{what} wrote *out on failure");
        return (st, None);
    }
    assert!(cancel_at == 0 || cancel.calls < cancel_at);
    assert!(!h.is_null() && h != sentinel);
    let p = PointsHandle(h);
    let mut n = usize::MAX;
    assert_eq!(unsafe { ntk_limit_points_len(p.0, &mut n) }, ntk_status::Ok);
    assert_eq!(n, x.rows, "ntk_limit_points_len");
    let mut n2 = 77usize;
    let st2 = unsafe { ntk_limit_points_len(null_mut(), &mut n2) };
    check_status(st2, "ntk_limit_points_len(NULL)");
    assert_eq!(st2, ntk_status::NullPointer);
    check_names_argument(st2, &["points"], "ntk_limit_points_len");
    assert_eq!(n2, 77);
    let st3 = unsafe { ntk_limit_points_len(p.0, null_mut()) };
    assert_eq!(st3, ntk_status::NullPointer);
    check_names_argument(st3, &["num_points"], "ntk_limit_points_len");
    (st, Some(p))
}

/// The limit-kernel spec of a model, as the library keys it (the leaky slope only for leaky
/// ReLU); None for a custom activation (keyed by the object's address).
fn limit_spec_key(m: &LimitModel) -> Option<(usize, c_int, u64, u64)> {
    if m.activation == 10 {
        return None;
    }
    let slope = if m.activation == 2 {
        m.param.to_bits()
    } else {
        0
    };
    Some((m.depth, m.activation, m.beta.to_bits(), slope))
}

fn fuzz_limit_tiles(b: &mut Bytes<'_>) -> Option<ntk_status> {
    let m = make_limit_model(b)?;
    let closed = matches!(m.activation, 0..=3 | 8 | 9);
    let count = |b: &mut Bytes<'_>| match b.u8() % 16 {
        0 if closed => 129 + b.below(200),
        1 => b.size(8),
        _ if m.numerical => 1 + b.below(4),
        _ => 1 + b.below(8),
    };
    let n1 = count(b);
    let (r1, c1) = shape_near(b, n1, m.n0);
    let x1 = points_buffer(b, r1, c1);
    let (st, p1) = limit_points(b, m.net.0, &x1, "ntk_limit_points_create(x1)");
    let Some(p1) = p1 else {
        return Some(st);
    };
    if x1.cols != m.n0 {
        panic!("points of {} columns accepted for n_0 = {}", x1.cols, m.n0);
    }
    // p2: the same handle (X2 = X1), other points of the same network, points of another
    // network (maybe another kernel or n_0), or NULL.
    let kind = b.u8() % 8;
    let mut other_model = None;
    let mut x2 = None;
    let p2: Option<PointsHandle> = match kind {
        0..=2 => None,
        3..=5 | 6 => {
            let model = if kind == 6 {
                other_model = Some(make_limit_model(b)?);
                other_model.as_ref().unwrap()
            } else {
                &m
            };
            let n2 = count(b);
            let (r2, c2) = shape_near(b, n2, model.n0);
            let xb = points_buffer(b, r2, c2);
            let (_, p) = limit_points(b, model.net.0, &xb, "ntk_limit_points_create(x2)");
            x2 = Some(xb);
            Some(p?)
        }
        _ => None,
    };
    let p2_null = kind == 7;
    let p2ptr: *const ntk_limit_points = match (&p2, p2_null) {
        (_, true) => std::ptr::null(),
        (Some(p), _) => p.0,
        (None, _) => p1.0,
    };
    let compatible = match &other_model {
        None => true,
        Some(o) => {
            let same = limit_spec_key(o).is_some() && limit_spec_key(o) == limit_spec_key(&m);
            same && o.n0 == m.n0
        }
    };
    drop(other_model);
    let (n1, n2) = (x1.rows, x2.as_ref().map_or(x1.rows, |x| x.rows));
    // Reference: the whole kernels by ntk_kernel_limit, x2 = NULL for the shared handle.
    let x2m = x2.as_ref().map(|x| x.as_input(false));
    let (ref_st, reference) = if compatible && !p2_null && n1 * n2 <= 1 << 17 {
        let (s, k) = limit_all(m.net.0, x1.as_input(false), x2m.as_ref(), n1, n2);
        (Some(s), k)
    } else {
        (None, [vec![], vec![], vec![]])
    };
    // The points outlive the network (sometimes freed right away).
    let keep_net = b.u8() % 4 != 0;
    let net = if keep_net { Some(m.net) } else { None };
    let mut last = st;
    for _ in 0..1 + b.below(4) {
        let (i0, i1) = tile_range(b, n1);
        let (j0, j1) = tile_range(b, n2);
        let valid = i0 < i1 && i1 <= n1 && j0 < j1 && j1 <= n2;
        let (h, w) = (i1.wrapping_sub(i0), j1.wrapping_sub(j0));
        let present = b.u8();
        let mut outs: Vec<Buffer> = (0..3).map(|_| tile_output(b, h, w)).collect();
        let befores: Vec<Vec<f64>> = outs.iter().map(|o| o.data.clone()).collect();
        let nulls = b.u8() % 32;
        let cancel_at = decode_cancel(b, 4);
        let mut descs: Vec<Option<ntk_matrix_mut>> = outs
            .iter_mut()
            .enumerate()
            .map(|(k, o)| {
                let wanted = present & (1 << k) != 0 || present & 7 == 0 && nulls != 6;
                wanted.then(|| o.as_output(nulls == 3 + k as u8))
            })
            .collect();
        let dup = nulls == 7 && descs[0].is_some() && descs[2].is_some();
        if dup {
            descs[2] = descs[0];
        }
        let requested: Vec<bool> = descs.iter().map(|d| d.is_some()).collect();
        let mut cancel = Cancel {
            calls: 0,
            cancel_at,
        };
        let opts = ntk_options {
            progress: Some(progress_cb),
            user_data: &mut cancel as *mut Cancel as *mut c_void,
        };
        let optp: *const ntk_options = if cancel_at > 0 {
            &opts
        } else {
            std::ptr::null()
        };
        let ptr = |d: &mut Option<ntk_matrix_mut>| -> *mut ntk_matrix_mut {
            d.as_mut().map_or(null_mut(), |m| m as *mut ntk_matrix_mut)
        };
        let [d0, d1, d2] = &mut descs[..] else {
            unreachable!()
        };
        let p1ptr = if nulls == 1 { std::ptr::null() } else { p1.0 };
        let st = unsafe {
            ntk_kernel_limit_tile(
                p1ptr,
                i0,
                i1,
                p2ptr,
                j0,
                j1,
                ptr(d0),
                ptr(d1),
                ptr(d2),
                optp,
            )
        };
        check_status(st, "ntk_kernel_limit_tile");
        last = st;
        check_names_argument(
            st,
            &[
                "p1",
                "p2",
                "i0",
                "i1",
                "j0",
                "j1",
                "nngp",
                "sigma_dot",
                "ntk",
            ],
            "ntk_kernel_limit_tile",
        );
        let no_output = requested.iter().all(|r| !r);
        if nulls == 1 || p2_null || no_output {
            // (No output at all is reported before the points and ranges.)
            assert_eq!(st, ntk_status::NullPointer);
        } else if !compatible {
            assert_eq!(
                st,
                ntk_status::InvalidArgument,
                "points of another kernel accepted"
            );
        } else if !valid {
            assert_eq!(st, ntk_status::InvalidArgument, "bad range accepted");
        }
        if dup {
            assert_ne!(st, ntk_status::Ok);
        }
        if st == ntk_status::Cancelled {
            assert!(cancel_at > 0);
        }
        let names = ["nngp", "sigma_dot", "ntk"];
        for k in 0..3 {
            let what = format!("ntk_kernel_limit_tile {}", names[k]);
            if requested[k] && !(dup && k == 2) {
                outs[k].check_output(&befores[k], st, &what);
            } else {
                assert_eq!(bits(&outs[k].data), bits(&befores[k]), "{what} written");
            }
        }
        if st == ntk_status::Ok {
            match ref_st {
                Some(ntk_status::Ok) => {
                    for k in 0..3 {
                        if requested[k] && !(dup && k == 2) {
                            assert_eq!(
                                bits(&outs[k].view_values()),
                                block_bits(&reference[k], n2, (i0, i1), (j0, j1)),
                                "{} tile [{i0},{i1})x[{j0},{j1}) differs from ntk_kernel_limit \
                                 (n1 {n1}, n2 {n2}, same handle {})",
                                names[k],
                                p2.is_none()
                            );
                        }
                    }
                }
                Some(s) => assert_eq!(s, ntk_status::Numerical, "reference: {s:?}"),
                None => {}
            }
        } else if st == ntk_status::Numerical {
            // Only for a non-finite result, which the whole kernel then has as well.
            if let Some(s) = ref_st {
                assert_eq!(
                    s,
                    ntk_status::Numerical,
                    "tile NUMERICAL, whole kernel {s:?}"
                );
            }
        }
    }
    drop(net);
    Some(last)
}

/// Features with checks of the create/len contract; None when creation failed.
fn empirical_features(
    b: &mut Bytes<'_>,
    net: *const ntk_network,
    x: &Buffer,
    what: &str,
) -> Option<FeaturesHandle> {
    let nulls = b.u8() % 16;
    let cancel_at = decode_cancel(b, 2);
    let mut cancel = Cancel {
        calls: 0,
        cancel_at,
    };
    let opts = ntk_options {
        progress: Some(progress_cb),
        user_data: &mut cancel as *mut Cancel as *mut c_void,
    };
    let optp: *const ntk_options = if cancel_at > 0 || nulls == 4 {
        &opts
    } else {
        std::ptr::null()
    };
    let x_before = x.data.clone();
    let sentinel = 0x7272usize as *mut ntk_empirical_features;
    let mut h = sentinel;
    let st = unsafe {
        ntk_empirical_features_create(
            if nulls == 1 { null_mut() } else { net },
            x.as_input(nulls == 2),
            optp,
            if nulls == 3 { null_mut() } else { &mut h },
        )
    };
    check_status(st, what);
    check_names_argument(st, &["network", "x", "out"], what);
    assert_eq!(bits(&x.data), bits(&x_before), "{what} modified x");
    if nulls == 1 || nulls == 3 || nulls == 2 && x.rows > 0 && x.cols > 0 {
        assert_eq!(st, ntk_status::NullPointer, "{what}: NULL argument {nulls}");
    }
    if st != ntk_status::Ok {
        assert_eq!(h, sentinel, "{what} wrote *out on failure");
        return None;
    }
    assert!(!h.is_null() && h != sentinel);
    let f = FeaturesHandle(h);
    let mut n = usize::MAX;
    assert_eq!(
        unsafe { ntk_empirical_features_len(f.0, &mut n) },
        ntk_status::Ok
    );
    assert_eq!(n, x.rows, "ntk_empirical_features_len");
    let mut n2 = 77usize;
    let st2 = unsafe { ntk_empirical_features_len(std::ptr::null(), &mut n2) };
    assert_eq!(st2, ntk_status::NullPointer);
    check_names_argument(st2, &["features"], "ntk_empirical_features_len");
    assert_eq!(n2, 77);
    let st3 = unsafe { ntk_empirical_features_len(f.0, null_mut()) };
    assert_eq!(st3, ntk_status::NullPointer);
    check_names_argument(st3, &["num_points"], "ntk_empirical_features_len");
    Some(f)
}

fn params_of(net: *const ntk_network, p: usize) -> Vec<f64> {
    let mut v = vec![0.0; p];
    let st = unsafe { ntk::ffi::network::ntk_network_get_params(net, v.as_mut_ptr(), p) };
    assert_eq!(st, ntk_status::Ok);
    v
}

fn fuzz_empirical_tiles(b: &mut Bytes<'_>) -> Option<ntk_status> {
    use ntk::ffi::network::ntk_network_set_params;
    let m = make_model(b)?;
    let count = |b: &mut Bytes<'_>| match b.u8() % 16 {
        0 => 17 + b.below(150),
        1 => b.size(6),
        _ => 1 + b.below(6),
    };
    let n1 = count(b);
    let (r1, c1) = shape_near(b, n1, m.n0);
    let x1 = points_buffer(b, r1, c1);
    let f1 = empirical_features(b, m.net.0, &x1, "ntk_empirical_features_create(x1)")?;
    assert_eq!(x1.cols, m.n0, "features of the wrong width accepted");
    // f2: same handle, other points of this network, points of another network, NULL.
    let kind = b.u8() % 8;
    let mut x2 = None;
    let mut other_params_differ = false;
    let mut _other = None;
    let f2: Option<FeaturesHandle> = match kind {
        0..=2 => None,
        3..=6 => {
            let (net2, n0) = if kind == 6 {
                let o = make_model(b)?;
                let po = params_of(o.net.0, o.p);
                other_params_differ = o.p != m.p || bits(&po) != bits(&params_of(m.net.0, m.p));
                let r = (o.net.0, o.n0);
                _other = Some(o);
                r
            } else {
                (m.net.0, m.n0)
            };
            let n2 = count(b);
            let (r2, c2) = shape_near(b, n2, n0);
            let xb = points_buffer(b, r2, c2);
            let f = empirical_features(b, net2, &xb, "ntk_empirical_features_create(x2)");
            x2 = Some(xb);
            Some(f?)
        }
        _ => None,
    };
    let f2_null = kind == 7;
    let f2ptr: *const ntk_empirical_features = match (&f2, f2_null) {
        (_, true) => std::ptr::null(),
        (Some(f), _) => f.0,
        (None, _) => f1.0,
    };
    let (n1, n2) = (x1.rows, x2.as_ref().map_or(x1.rows, |x| x.rows));
    let nl = m.nl;
    let x2m = x2.as_ref().map(|x| x.as_input(false));
    // Reference kernels (trace and full) by ntk_kernel_empirical with the structured method.
    let reference = |mode: c_int| -> Option<(ntk_status, Vec<f64>)> {
        let s = if mode == 1 { nl } else { 1 };
        let (rows, cols) = (n1.checked_mul(s)?, n2.checked_mul(s)?);
        if rows.checked_mul(cols)? > 1 << 18 || other_params_differ || f2_null {
            return None;
        }
        let mut k = vec![SENTINEL; rows * cols];
        let st = unsafe {
            ntk_kernel_empirical(
                m.net.0,
                x1.as_input(false),
                x2m.as_ref()
                    .map_or(std::ptr::null(), |p| p as *const ntk_matrix),
                mode,
                2,
                ntk::ffi::view::row_major_view_mut(&mut k, rows, cols),
                std::ptr::null(),
            )
        };
        check_status(st, "ntk_kernel_empirical (reference)");
        Some((st, k))
    };
    let refs = [reference(0), reference(1)];
    // Sometimes the network changes after the features were made (and is restored later).
    let theta = params_of(m.net.0, m.p);
    let mut changed = false;
    let mut last = ntk_status::Ok;
    for _ in 0..1 + b.below(4) {
        if b.u8() % 8 == 0 {
            let mut t2 = theta.clone();
            if !changed {
                let k = b.below(m.p.max(1));
                t2[k] += 0.5;
            }
            let st = unsafe { ntk_network_set_params(m.net.0, t2.as_ptr(), m.p) };
            assert_eq!(st, ntk_status::Ok);
            changed = !changed;
        }
        let mode: c_int = match b.u8() % 8 {
            6 => -1,
            7 => 2 + b.u8() as c_int,
            v => (v % 2) as c_int,
        };
        let s = if mode == 1 { nl } else { 1 };
        let (i0, i1) = tile_range(b, n1);
        let (j0, j1) = tile_range(b, n2);
        let valid = i0 < i1 && i1 <= n1 && j0 < j1 && j1 <= n2;
        let (h, w) = (
            i1.wrapping_sub(i0).saturating_mul(s),
            j1.wrapping_sub(j0).saturating_mul(s),
        );
        let mut out = tile_output(b, h, w);
        let before = out.data.clone();
        let nulls = b.u8() % 32;
        let cancel_at = decode_cancel(b, 4);
        let mut cancel = Cancel {
            calls: 0,
            cancel_at,
        };
        let opts = ntk_options {
            progress: Some(progress_cb),
            user_data: &mut cancel as *mut Cancel as *mut c_void,
        };
        let optp: *const ntk_options = if cancel_at > 0 {
            &opts
        } else {
            std::ptr::null()
        };
        let st = unsafe {
            ntk_kernel_empirical_tile(
                if nulls == 1 { null_mut() } else { m.net.0 },
                if nulls == 2 { std::ptr::null() } else { f1.0 },
                i0,
                i1,
                f2ptr,
                j0,
                j1,
                mode,
                out.as_output(nulls == 3),
                optp,
            )
        };
        check_status(st, "ntk_kernel_empirical_tile");
        last = st;
        check_names_argument(
            st,
            &["network", "f1", "f2", "i0", "i1", "j0", "j1", "mode", "out"],
            "ntk_kernel_empirical_tile",
        );
        if (1..=2).contains(&nulls) || f2_null {
            assert_eq!(st, ntk_status::NullPointer);
        } else if changed || other_params_differ {
            assert_eq!(
                st,
                ntk_status::InvalidArgument,
                "stale/foreign features accepted"
            );
        } else if !valid || !(0..=1).contains(&mode) {
            assert_eq!(
                st,
                ntk_status::InvalidArgument,
                "bad range or mode accepted"
            );
        }
        if st == ntk_status::Cancelled {
            assert!(cancel_at > 0);
        }
        out.check_output(&before, st, "ntk_kernel_empirical_tile");
        if st == ntk_status::Ok {
            if let Some(Some((rs, k))) = refs.get(mode as usize) {
                if *rs == ntk_status::Ok {
                    assert_eq!(
                        bits(&out.view_values()),
                        block_bits(k, n2 * s, (i0 * s, i1 * s), (j0 * s, j1 * s)),
                        "empirical tile [{i0},{i1})x[{j0},{j1}) mode {mode} differs from \
                         ntk_kernel_empirical (n1 {n1}, n2 {n2}, same handle {})",
                        f2.is_none()
                    );
                } else {
                    assert_eq!(*rs, ntk_status::Numerical);
                }
            }
        } else if st == ntk_status::Numerical {
            if let Some(Some((rs, _))) = refs.get(mode as usize) {
                assert_eq!(
                    *rs,
                    ntk_status::Numerical,
                    "tile NUMERICAL, whole kernel {rs:?}"
                );
            }
        }
    }
    Some(last)
}
