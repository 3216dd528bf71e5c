//! Shared decoding and checking: the byte reader, networks, sized buffers with padding
//! sentinels, the progress/cancel callback and the status contract.

use ntk::ffi::network::{
    ntk_network, ntk_network_config, ntk_network_create, ntk_network_free, ntk_network_shape,
};
use ntk::ffi::{ntk_last_error, ntk_matrix, ntk_matrix_mut, ntk_options, ntk_status};
use std::ffi::{c_int, c_void, CStr};
use std::ptr::null_mut;

/// Value of every output element before a call.
pub const SENTINEL: f64 = -7.25e11;

/// Reads decisions from the fuzzer's bytes; zeros once they run out.
pub struct Bytes<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) pos: usize,
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
pub(crate) unsafe extern "C" fn c_tanh(x: f64, _: *mut c_void) -> f64 {
    x.tanh()
}
pub(crate) unsafe extern "C" fn c_dtanh(x: f64, _: *mut c_void) -> f64 {
    1.0 - x.tanh() * x.tanh()
}
/// A misbehaving custom activation: NaN for large inputs.
pub(crate) unsafe extern "C" fn c_nan_big(x: f64, _: *mut c_void) -> f64 {
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
pub(crate) const MAX_BUF: usize = 1 << 16;

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

    pub(crate) fn index(&self, i: usize, j: usize) -> usize {
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

pub(crate) fn bits(v: &[f64]) -> Vec<u64> {
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
pub(crate) fn shape_near(b: &mut Bytes<'_>, rows: usize, cols: usize) -> (usize, usize) {
    match b.u8() % 16 {
        0 => (rows + 1, cols),
        1 => (rows, cols.saturating_sub(1)),
        2 => (b.size(4), b.size(4)),
        _ => (rows, cols),
    }
}

/// Progress callback state: cancel at call number `cancel_at` (never when 0).
pub(crate) struct Cancel {
    pub(crate) calls: u64,
    pub(crate) cancel_at: u64,
}
pub(crate) unsafe extern "C" fn progress_cb(ud: *mut c_void, done: u64, total: u64) -> c_int {
    let c = unsafe { &mut *(ud as *mut Cancel) };
    assert!(done <= total, "progress: done {done} > total {total}");
    c.calls += 1;
    (c.cancel_at != 0 && c.calls >= c.cancel_at) as c_int
}

/// The `ntk_options` of one call with [`progress_cb`] cancelling at call `cancel_at` (never when
/// 0). The counter lives on the heap, so the options' `user_data` stays valid when this moves.
pub(crate) struct CancelOpts {
    cancel: *mut Cancel,
    opts: ntk_options,
}

impl CancelOpts {
    pub(crate) fn new(cancel_at: u64) -> CancelOpts {
        let cancel = Box::into_raw(Box::new(Cancel {
            calls: 0,
            cancel_at,
        }));
        CancelOpts {
            cancel,
            opts: ntk_options {
                progress: Some(progress_cb),
                user_data: cancel as *mut c_void,
            },
        }
    }

    /// The options when a cancel is planned or `force` (a callback that never cancels), else
    /// NULL (no options).
    pub(crate) fn ptr(&self, force: bool) -> *const ntk_options {
        if self.cancel_at() > 0 || force {
            &self.opts
        } else {
            std::ptr::null()
        }
    }

    /// Callback calls so far.
    pub(crate) fn calls(&self) -> u64 {
        unsafe { (*self.cancel).calls }
    }

    fn cancel_at(&self) -> u64 {
        unsafe { (*self.cancel).cancel_at }
    }
}

impl Drop for CancelOpts {
    fn drop(&mut self) {
        drop(unsafe { Box::from_raw(self.cancel) });
    }
}

/// get_params / set_params (one entry replaced by a decoded value, wrong lengths) and clone: a
/// rejected set_params leaves the parameters unchanged, an accepted one is read back exactly,
/// and a clone has the same parameters.
pub(crate) fn params_and_clone(b: &mut Bytes<'_>, m: &Model) {
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
