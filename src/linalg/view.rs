#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

//! Borrowed strided matrix views.
//!
//! [`MatRef`] / [`MatMut`] are the crate's internal array type: a pointer, a shape and two
//! element strides (any sign, zero for a broadcast), as in BLAS and the C API's `ntk_view`.
//! Safe constructors check that the buffer covers the view; [`MatRef::from_raw`] is the unsafe
//! escape hatch for foreign memory.

use std::marker::PhantomData;

/// True when a buffer of `len` elements holds a dense `rows × cols` matrix. The product is
/// checked: `rows·cols` wrapping in release (2^32·2^32 = 0 on 64-bit) must not pass.
fn fits(len: usize, rows: usize, cols: usize) -> bool {
    rows.checked_mul(cols).is_some_and(|n| n <= len)
}

/// Read-only strided view of an f64 matrix.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    ptr: *const f64,
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
    _marker: PhantomData<&'a f64>,
}

// SAFETY: a MatRef is a shared borrow of f64 data (as `&'a [f64]`, which is Send and Sync).
unsafe impl Send for MatRef<'_> {}
// SAFETY: as above; it only reads.
unsafe impl Sync for MatRef<'_> {}

impl<'a> MatRef<'a> {
    /// A view of foreign memory: element (i, j) at `ptr + i·rs + j·cs`. Costs O(1).
    ///
    /// # Safety
    /// For all i < rows, j < cols, `ptr + i*rs + j*cs` must point to an initialized f64 that
    /// stays valid and unmodified for `'a`.
    pub unsafe fn from_raw(
        ptr: *const f64,
        rows: usize,
        cols: usize,
        rs: isize,
        cs: isize,
    ) -> Self {
        MatRef {
            ptr,
            rows,
            cols,
            rs,
            cs,
            _marker: PhantomData,
        }
    }

    /// A view of the dense row-major `rows × cols` matrix in `data` (element (i, j) at
    /// `data[i*cols + j]`). Costs O(1): nothing is copied.
    ///
    /// # Panics
    /// When `data` holds fewer than `rows·cols` elements, including when `rows·cols` overflows
    /// `usize` (checked: a wrapped product would let the view read past the buffer).
    pub fn from_row_major(data: &'a [f64], rows: usize, cols: usize) -> Self {
        assert!(
            fits(data.len(), rows, cols),
            "row-major view: buffer too small"
        );
        // SAFETY: the view addresses (i·rs + j·cs) ≤ rows·cols − 1 < data.len() for i < rows,
        // j < cols; that bound also keeps `cols` ≤ isize::MAX when the view is non-empty (a
        // slice holds at most isize::MAX bytes), and `data` is borrowed for 'a.
        unsafe { Self::from_raw(data.as_ptr(), rows, cols, cols as isize, 1) }
    }

    /// A view of the dense col-major `rows × cols` matrix in `data` (element (i, j) at
    /// `data[i + j*rows]`). Costs O(1): nothing is copied.
    ///
    /// # Panics
    /// When `data` holds fewer than `rows·cols` elements, including when `rows·cols` overflows
    /// `usize` (checked: a wrapped product would let the view read past the buffer).
    pub fn from_col_major(data: &'a [f64], rows: usize, cols: usize) -> Self {
        assert!(
            fits(data.len(), rows, cols),
            "col-major view: buffer too small"
        );
        // SAFETY: the view addresses (i·rs + j·cs) ≤ rows·cols − 1 < data.len() for i < rows,
        // j < cols; that bound also keeps `rows` ≤ isize::MAX when the view is non-empty (a
        // slice holds at most isize::MAX bytes), and `data` is borrowed for 'a.
        unsafe { Self::from_raw(data.as_ptr(), rows, cols, 1, rows as isize) }
    }

    /// Number of rows.
    #[inline]
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    #[inline]
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Elements between (i, j) and (i + 1, j); may be negative or zero (a broadcast).
    #[inline]
    pub fn row_stride(&self) -> isize {
        self.rs
    }
    /// Elements between (i, j) and (i, j + 1); may be negative or zero (a broadcast).
    #[inline]
    pub fn col_stride(&self) -> isize {
        self.cs
    }
    /// The address of element (0, 0).
    #[inline]
    pub fn as_ptr(&self) -> *const f64 {
        self.ptr
    }

    /// Element (i, j). Panics when out of range.
    #[inline]
    pub fn at(&self, i: usize, j: usize) -> f64 {
        assert!(i < self.rows && j < self.cols, "index out of range");
        // SAFETY: (i, j) is in range (asserted), and `from_raw`'s contract makes every in-range
        // element valid to read for the view's lifetime.
        unsafe { *self.ptr.offset(i as isize * self.rs + j as isize * self.cs) }
    }

    /// The transpose, as a view (no copy).
    pub fn t(self) -> MatRef<'a> {
        MatRef {
            ptr: self.ptr,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            _marker: PhantomData,
        }
    }

    /// Rows r0..r1 (all columns).
    pub fn rows_range(self, r0: usize, r1: usize) -> MatRef<'a> {
        self.block(r0, r1, 0, self.cols)
    }

    /// The block rows r0..r1, columns c0..c1.
    pub fn block(self, r0: usize, r1: usize, c0: usize, c1: usize) -> MatRef<'a> {
        assert!(
            r0 <= r1 && r1 <= self.rows && c0 <= c1 && c1 <= self.cols,
            "block out of range"
        );
        let ptr = if r0 < r1 && c0 < c1 {
            // SAFETY: (r0, c0) is an element of this view (the block is non-empty and in range),
            // so the offset stays inside the allocation `from_raw` vouched for.
            unsafe {
                self.ptr
                    .offset(r0 as isize * self.rs + c0 as isize * self.cs)
            }
        } else {
            self.ptr
        };
        MatRef {
            ptr,
            rows: r1 - r0,
            cols: c1 - c0,
            rs: self.rs,
            cs: self.cs,
            _marker: PhantomData,
        }
    }

    /// Copies row i into `out` (length cols).
    pub fn copy_row(&self, i: usize, out: &mut [f64]) {
        assert_eq!(out.len(), self.cols);
        for (j, o) in out.iter_mut().enumerate() {
            *o = self.at(i, j);
        }
    }

    /// Row-major copy with fallible allocation (an `Error::Allocation` naming `what` instead of
    /// an abort when a huge view, e.g. a stride-0 broadcast of billions of rows, cannot be had).
    ///
    /// # Errors
    /// `Allocation` (naming `what`) when rows·cols overflows or cannot be allocated.
    pub fn try_to_row_major(&self, what: &str) -> crate::Result<Vec<f64>> {
        let len = crate::error::checked_mul(self.rows, self.cols, what)?;
        let mut v = crate::error::try_zeroed(len, what)?;
        for i in 0..self.rows {
            for j in 0..self.cols {
                v[i * self.cols + j] = self.at(i, j);
            }
        }
        Ok(v)
    }

    /// A dense row-major copy (`rows·cols` elements; aborts like `Vec` when that cannot be
    /// allocated: use [`MatRef::try_to_row_major`] for sizes that come from a user).
    pub fn to_row_major(&self) -> Vec<f64> {
        let mut v = Vec::with_capacity(self.rows * self.cols);
        for i in 0..self.rows {
            for j in 0..self.cols {
                v.push(self.at(i, j));
            }
        }
        v
    }

    /// True when the two views address the same elements in the same order.
    pub fn same_as(&self, other: &MatRef<'_>) -> bool {
        self.ptr == other.ptr
            && self.rows == other.rows
            && self.cols == other.cols
            && (self.rows <= 1 || self.rs == other.rs)
            && (self.cols <= 1 || self.cs == other.cs)
    }
}

/// Mutable strided view of an f64 matrix. Its elements must not alias each other.
#[derive(Debug)]
pub struct MatMut<'a> {
    ptr: *mut f64,
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
    _marker: PhantomData<&'a mut f64>,
}

// SAFETY: a MatMut is an exclusive borrow of f64 data (as `&'a mut [f64]`, which is Send).
unsafe impl Send for MatMut<'_> {}

impl<'a> MatMut<'a> {
    /// A mutable view of foreign memory: element (i, j) at `ptr + i·rs + j·cs`. Costs O(1).
    ///
    /// # Safety
    /// As [`MatRef::from_raw`], the elements must be valid for writes for `'a`, no other reference
    /// may access them, and distinct (i, j) must address distinct elements.
    pub unsafe fn from_raw(ptr: *mut f64, rows: usize, cols: usize, rs: isize, cs: isize) -> Self {
        MatMut {
            ptr,
            rows,
            cols,
            rs,
            cs,
            _marker: PhantomData,
        }
    }

    /// A view of the dense row-major `rows × cols` matrix in `data` (element (i, j) at
    /// `data[i*cols + j]`). Costs O(1): nothing is copied.
    ///
    /// # Panics
    /// When `data` holds fewer than `rows·cols` elements, including when `rows·cols` overflows
    /// `usize` (checked: a wrapped product would let the view read past the buffer).
    pub fn from_row_major(data: &'a mut [f64], rows: usize, cols: usize) -> Self {
        assert!(
            fits(data.len(), rows, cols),
            "row-major view: buffer too small"
        );
        // SAFETY: the view addresses (i·rs + j·cs) ≤ rows·cols − 1 < data.len() for i < rows,
        // j < cols; that bound also keeps `cols` ≤ isize::MAX when the view is non-empty (a
        // slice holds at most isize::MAX bytes), and `data` is borrowed for 'a.
        unsafe { Self::from_raw(data.as_mut_ptr(), rows, cols, cols as isize, 1) }
    }

    /// A view of the dense col-major `rows × cols` matrix in `data` (element (i, j) at
    /// `data[i + j*rows]`). Costs O(1): nothing is copied.
    ///
    /// # Panics
    /// When `data` holds fewer than `rows·cols` elements, including when `rows·cols` overflows
    /// `usize` (checked: a wrapped product would let the view read past the buffer).
    pub fn from_col_major(data: &'a mut [f64], rows: usize, cols: usize) -> Self {
        assert!(
            fits(data.len(), rows, cols),
            "col-major view: buffer too small"
        );
        // SAFETY: the view addresses (i·rs + j·cs) ≤ rows·cols − 1 < data.len() for i < rows,
        // j < cols; that bound also keeps `rows` ≤ isize::MAX when the view is non-empty (a
        // slice holds at most isize::MAX bytes), and `data` is borrowed for 'a.
        unsafe { Self::from_raw(data.as_mut_ptr(), rows, cols, 1, rows as isize) }
    }

    /// Number of rows.
    #[inline]
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    #[inline]
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Elements between (i, j) and (i + 1, j); may be negative or zero (a broadcast).
    #[inline]
    pub fn row_stride(&self) -> isize {
        self.rs
    }
    /// Elements between (i, j) and (i, j + 1); may be negative or zero (a broadcast).
    #[inline]
    pub fn col_stride(&self) -> isize {
        self.cs
    }
    /// The address of element (0, 0).
    #[inline]
    pub fn as_mut_ptr(&self) -> *mut f64 {
        self.ptr
    }

    /// A read-only view of the same elements, borrowing this one.
    pub fn as_ref(&self) -> MatRef<'_> {
        // SAFETY: same elements, valid for reads; `&self` keeps writes away while it lives.
        unsafe { MatRef::from_raw(self.ptr, self.rows, self.cols, self.rs, self.cs) }
    }

    /// A shorter-lived mutable view of the same elements.
    pub fn reborrow(&mut self) -> MatMut<'_> {
        // SAFETY: same elements; `&mut self` makes the new view the only writer while it lives.
        unsafe { MatMut::from_raw(self.ptr, self.rows, self.cols, self.rs, self.cs) }
    }

    /// Element (i, j). Panics when out of range.
    #[inline]
    pub fn at(&self, i: usize, j: usize) -> f64 {
        assert!(i < self.rows && j < self.cols, "index out of range");
        // SAFETY: (i, j) is in range (asserted), and `from_raw`'s contract makes every in-range
        // element valid to read for the view's lifetime.
        unsafe { *self.ptr.offset(i as isize * self.rs + j as isize * self.cs) }
    }

    /// Writes element (i, j). Panics when out of range.
    #[inline]
    pub fn set(&mut self, i: usize, j: usize, v: f64) {
        assert!(i < self.rows && j < self.cols, "index out of range");
        // SAFETY: (i, j) is in range (asserted); `from_raw`'s contract makes it valid for
        // writes and unaliased, and `&mut self` excludes other access through this view.
        unsafe { *self.ptr.offset(i as isize * self.rs + j as isize * self.cs) = v }
    }

    /// The block rows r0..r1, columns c0..c1, as a mutable view.
    pub fn block_mut(&mut self, r0: usize, r1: usize, c0: usize, c1: usize) -> MatMut<'_> {
        // SAFETY: only one block is handed out, and it borrows `self` mutably while it lives.
        unsafe { self.reborrow().into_shared().block(r0, r1, c0, c1) }
    }

    /// Turns the view into a [`SharedMatMut`], from which disjoint blocks can be written in
    /// parallel.
    pub fn into_shared(self) -> SharedMatMut<'a> {
        SharedMatMut {
            ptr: self.ptr,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
            _marker: PhantomData,
        }
    }

    /// Fills every element with `v`.
    pub fn fill(&mut self, v: f64) {
        for i in 0..self.rows {
            for j in 0..self.cols {
                self.set(i, j, v);
            }
        }
    }

    /// Copies `src` (same shape) into this view.
    pub fn copy_from(&mut self, src: MatRef<'_>) {
        assert_eq!(
            (self.rows, self.cols),
            (src.rows(), src.cols()),
            "copy_from: shape"
        );
        for i in 0..self.rows {
            for j in 0..self.cols {
                self.set(i, j, src.at(i, j));
            }
        }
    }
}

/// A mutable view that several threads may write through at once: the crate's one shared
/// writer (parallel GEMM row blocks, empirical and limit kernel tiles).
///
/// # Safety contract
/// A `SharedMatMut` is made from a [`MatMut`] (`into_shared`), so every element (i, j) with
/// i < rows, j < cols is valid for reads and writes for `'a` and nothing else accesses them
/// while it lives. It is `Copy`, `Send` and `Sync`; what makes that sound is the contract of
/// its unsafe writers, [`block`](Self::block), [`put`](Self::put), [`put_row`](Self::put_row)
/// and [`get`](Self::get): the elements each thread writes are disjoint from those any other
/// thread reads or writes at the same time (in practice, each thread owns whole rows or tiles,
/// and reads back only its own elements until the threads are joined).
#[derive(Clone, Copy, Debug)]
pub struct SharedMatMut<'a> {
    ptr: *mut f64,
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
    _marker: PhantomData<&'a mut f64>,
}

// SAFETY: every write through a SharedMatMut goes through its unsafe `block`, `put` or
// `put_row`, whose callers guarantee that elements used concurrently are disjoint (the type's
// safety contract); the data is plain f64.
unsafe impl Send for SharedMatMut<'_> {}
// SAFETY: as above.
unsafe impl Sync for SharedMatMut<'_> {}

impl<'a> SharedMatMut<'a> {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Distance between consecutive rows, in elements.
    pub fn row_stride(&self) -> isize {
        self.rs
    }
    /// Distance between consecutive columns, in elements.
    pub fn col_stride(&self) -> isize {
        self.cs
    }

    /// Writes `v` to element (i, j).
    ///
    /// # Safety
    /// i < rows and j < cols (checked only in debug builds), and no other thread reads or writes
    /// the element meanwhile.
    #[inline(always)]
    pub unsafe fn put(&self, i: usize, j: usize, v: f64) {
        debug_assert!(i < self.rows && j < self.cols, "put out of range");
        // SAFETY: (i, j) is an element of the view (caller), valid for writes for 'a by the
        // type's contract, and not accessed concurrently (caller).
        unsafe { *self.ptr.offset(i as isize * self.rs + j as isize * self.cs) = v }
    }

    /// Reads element (i, j).
    ///
    /// # Safety
    /// i < rows and j < cols (checked only in debug builds), and no other thread writes the
    /// element meanwhile.
    #[inline(always)]
    pub unsafe fn get(&self, i: usize, j: usize) -> f64 {
        debug_assert!(i < self.rows && j < self.cols, "get out of range");
        // SAFETY: as in `put`, for a read.
        unsafe { *self.ptr.offset(i as isize * self.rs + j as isize * self.cs) }
    }

    /// Writes `vals` to (i, j), (i, j + 1), … (one copy when the columns are contiguous).
    ///
    /// # Safety
    /// i < rows and j + vals.len() ≤ cols, and no other thread reads or writes those elements
    /// meanwhile.
    #[inline(always)]
    pub unsafe fn put_row(&self, i: usize, j: usize, vals: &[f64]) {
        debug_assert!(
            i < self.rows && j + vals.len() <= self.cols,
            "put_row out of range"
        );
        if self.cs == 1 {
            // SAFETY: the elements (i, j..j+len) are contiguous (cs = 1), inside the view and
            // not accessed concurrently (caller); `vals` is a distinct borrow, so no overlap.
            unsafe {
                let dst = self.ptr.offset(i as isize * self.rs + j as isize);
                std::ptr::copy_nonoverlapping(vals.as_ptr(), dst, vals.len());
            }
        } else {
            for (k, &v) in vals.iter().enumerate() {
                // SAFETY: (i, j + k) is inside the view and exclusively this caller's.
                unsafe { self.put(i, j + k, v) };
            }
        }
    }

    /// The block rows r0..r1, columns c0..c1.
    ///
    /// # Safety
    /// Blocks handed out concurrently must not overlap.
    pub unsafe fn block(&self, r0: usize, r1: usize, c0: usize, c1: usize) -> MatMut<'a> {
        assert!(
            r0 <= r1 && r1 <= self.rows && c0 <= c1 && c1 <= self.cols,
            "block out of range"
        );
        let ptr = if r0 < r1 && c0 < c1 {
            // SAFETY: (r0, c0) is an element of the view (non-empty block, in range), so the
            // offset stays inside the allocation the originating MatMut vouched for.
            unsafe {
                self.ptr
                    .offset(r0 as isize * self.rs + c0 as isize * self.cs)
            }
        } else {
            self.ptr
        };
        // SAFETY: the block's elements are elements of this view (valid for writes for 'a); the
        // caller guarantees no concurrently used block overlaps them.
        unsafe { MatMut::from_raw(ptr, r1 - r0, c1 - c0, self.rs, self.cs) }
    }
}
/// Kept at its old path for the C API's callers; defined in `linalg::finite`.
pub(crate) use super::finite::check_finite_result;

#[cfg(test)]
mod tests {
    use super::*;

    // rows·cols = 2^32·2^32 wraps to 0 in a release build, so an unchecked `len >= rows*cols`
    // accepted an empty buffer and `at(1, 0)` would have read 2^32 doubles past it.
    const WRAP: usize = 1 << (usize::BITS / 2);

    #[test]
    #[should_panic(expected = "buffer too small")]
    fn ref_row_major_rejects_a_wrapping_size() {
        let _ = MatRef::from_row_major(&[], WRAP, WRAP);
    }

    #[test]
    #[should_panic(expected = "buffer too small")]
    fn ref_col_major_rejects_a_wrapping_size() {
        let _ = MatRef::from_col_major(&[], WRAP, WRAP);
    }

    #[test]
    #[should_panic(expected = "buffer too small")]
    fn mut_row_major_rejects_a_wrapping_size() {
        let _ = MatMut::from_row_major(&mut [], WRAP, WRAP);
    }

    #[test]
    #[should_panic(expected = "buffer too small")]
    fn mut_col_major_rejects_a_wrapping_size() {
        let _ = MatMut::from_col_major(&mut [], WRAP, WRAP);
    }

    #[test]
    #[should_panic(expected = "buffer too small")]
    fn a_short_buffer_is_rejected() {
        let _ = MatRef::from_row_major(&[0.0; 5], 2, 3);
    }

    #[test]
    fn exact_and_empty_buffers_are_accepted() {
        let d = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let r = MatRef::from_row_major(&d, 2, 3);
        assert_eq!((r.at(1, 0), r.at(0, 2)), (4.0, 3.0));
        let c = MatRef::from_col_major(&d, 2, 3);
        assert_eq!((c.at(1, 0), c.at(0, 2)), (2.0, 5.0));
        // An empty view of any width addresses nothing, so it needs no storage.
        let e = MatRef::from_row_major(&[], 0, usize::MAX);
        assert_eq!((e.rows(), e.cols()), (0, usize::MAX));
        let mut m = [0.0; 6];
        let mut w = MatMut::from_col_major(&mut m, 3, 2);
        w.set(2, 1, 7.0);
        assert_eq!(m[5], 7.0);
    }
}
