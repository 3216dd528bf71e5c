//! Borrowed strided matrix views.

use std::marker::PhantomData;

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

// SAFETY: a MatRef is a shared borrow of f64 data.
unsafe impl Send for MatRef<'_> {}
unsafe impl Sync for MatRef<'_> {}

impl<'a> MatRef<'a> {
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

    pub fn from_row_major(data: &'a [f64], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "row-major view: buffer too small"
        );
        unsafe { Self::from_raw(data.as_ptr(), rows, cols, cols as isize, 1) }
    }

    pub fn from_col_major(data: &'a [f64], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "col-major view: buffer too small"
        );
        unsafe { Self::from_raw(data.as_ptr(), rows, cols, 1, rows as isize) }
    }

    #[inline]
    pub fn rows(&self) -> usize {
        self.rows
    }
    #[inline]
    pub fn cols(&self) -> usize {
        self.cols
    }
    #[inline]
    pub fn row_stride(&self) -> isize {
        self.rs
    }
    #[inline]
    pub fn col_stride(&self) -> isize {
        self.cs
    }
    #[inline]
    pub fn as_ptr(&self) -> *const f64 {
        self.ptr
    }

    /// Element (i, j). Panics when out of range.
    #[inline]
    pub fn at(&self, i: usize, j: usize) -> f64 {
        assert!(i < self.rows && j < self.cols, "index out of range");
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

    /// A dense row-major copy.
    /// Row-major copy with fallible allocation (an `Error::Allocation` naming `what` instead of
    /// an abort when a huge view, e.g. a stride-0 broadcast of billions of rows, cannot be had).
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

unsafe impl Send for MatMut<'_> {}

impl<'a> MatMut<'a> {
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

    pub fn from_row_major(data: &'a mut [f64], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "row-major view: buffer too small"
        );
        unsafe { Self::from_raw(data.as_mut_ptr(), rows, cols, cols as isize, 1) }
    }

    pub fn from_col_major(data: &'a mut [f64], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "col-major view: buffer too small"
        );
        unsafe { Self::from_raw(data.as_mut_ptr(), rows, cols, 1, rows as isize) }
    }

    #[inline]
    pub fn rows(&self) -> usize {
        self.rows
    }
    #[inline]
    pub fn cols(&self) -> usize {
        self.cols
    }
    #[inline]
    pub fn row_stride(&self) -> isize {
        self.rs
    }
    #[inline]
    pub fn col_stride(&self) -> isize {
        self.cs
    }
    #[inline]
    pub fn as_mut_ptr(&self) -> *mut f64 {
        self.ptr
    }

    pub fn as_ref(&self) -> MatRef<'_> {
        unsafe { MatRef::from_raw(self.ptr, self.rows, self.cols, self.rs, self.cs) }
    }

    /// A shorter-lived mutable view of the same elements.
    pub fn reborrow(&mut self) -> MatMut<'_> {
        unsafe { MatMut::from_raw(self.ptr, self.rows, self.cols, self.rs, self.cs) }
    }

    #[inline]
    pub fn at(&self, i: usize, j: usize) -> f64 {
        assert!(i < self.rows && j < self.cols, "index out of range");
        unsafe { *self.ptr.offset(i as isize * self.rs + j as isize * self.cs) }
    }

    #[inline]
    pub fn set(&mut self, i: usize, j: usize, v: f64) {
        assert!(i < self.rows && j < self.cols, "index out of range");
        unsafe { *self.ptr.offset(i as isize * self.rs + j as isize * self.cs) = v }
    }

    /// The block rows r0..r1, columns c0..c1, as a mutable view.
    pub fn block_mut(&mut self, r0: usize, r1: usize, c0: usize, c1: usize) -> MatMut<'_> {
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

/// A mutable view that several threads may write through, each to its own disjoint block.
#[derive(Clone, Copy, Debug)]
pub struct SharedMatMut<'a> {
    ptr: *mut f64,
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
    _marker: PhantomData<&'a mut f64>,
}

unsafe impl Send for SharedMatMut<'_> {}
unsafe impl Sync for SharedMatMut<'_> {}

impl<'a> SharedMatMut<'a> {
    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
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
            self.ptr
                .offset(r0 as isize * self.rs + c0 as isize * self.cs)
        } else {
            self.ptr
        };
        MatMut::from_raw(ptr, r1 - r0, c1 - c0, self.rs, self.cs)
    }
}
/// Fails with `Numerical` naming the first NaN/Inf element of a computed result. Finite inputs
/// can still give a non-finite result (overflow of huge inputs such as 1e200, whose products
/// exceed the double range, or a custom activation returning NaN); the C API reports that
/// instead of returning success with Inf/NaN in the output.
pub fn check_finite_result(out: MatRef<'_>, name: &str) -> crate::Result<()> {
    for i in 0..out.rows() {
        for j in 0..out.cols() {
            let v = out.at(i, j);
            if !v.is_finite() {
                return Err(crate::Error::Numerical(format!(
                    "{name}[{i},{j}] = {v}: the result overflowed the double range or the \
                     activation returned NaN/Inf (inputs are finite; rescale them)"
                )));
            }
        }
    }
    Ok(())
}
