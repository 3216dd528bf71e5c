//! Target `tiles`: ntk_limit_points_* / ntk_kernel_limit_tile and ntk_empirical_features_* /
//! ntk_kernel_empirical_tile.

use super::*;
use ntk::ffi::empirical::ntk_kernel_empirical;
use ntk::ffi::network::ntk_network;
use ntk::ffi::{ntk_matrix, ntk_matrix_mut, ntk_status};
use std::ffi::c_int;
use std::ptr::null_mut;

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
    let cancel = CancelOpts::new(cancel_at);
    let optp = cancel.ptr(nulls == 4);
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
    assert!(cancel_at == 0 || cancel.calls() < cancel_at);
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
        let cancel = CancelOpts::new(cancel_at);
        let optp = cancel.ptr(false);
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
    let cancel = CancelOpts::new(cancel_at);
    let optp = cancel.ptr(nulls == 4);
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
        let cancel = CancelOpts::new(cancel_at);
        let optp = cancel.ptr(false);
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
