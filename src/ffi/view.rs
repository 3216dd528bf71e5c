//! Strided matrix views across the C boundary, and their validation.

use crate::linalg::{MatMut, MatRef};
use crate::{Error, Result};

/// A read-only strided matrix: element (i, j) is `data[i*row_stride + j*col_stride]`
/// (strides in elements; any sign; 0 allowed for broadcasting an input).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ntk_matrix {
    /// Address of element (0, 0); must not be NULL. The caller keeps the described memory
    /// readable for the duration of the call.
    pub data: *const f64,
    /// Number of rows (>= 1; an empty view is NTK_STATUS_INVALID_ARGUMENT).
    pub rows: usize,
    /// Number of columns (>= 1).
    pub cols: usize,
    /// Distance in elements (not bytes) from element (i, j) to (i+1, j); any sign, 0 allowed.
    pub row_stride: isize,
    /// Distance in elements from element (i, j) to (i, j+1); any sign, 0 allowed.
    pub col_stride: isize,
}

/// A writable strided matrix. Distinct elements must not share memory (no zero or overlapping
/// strides), and an output must not overlap any input of the same call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ntk_matrix_mut {
    /// Address of element (0, 0); must not be NULL. The caller keeps the described memory
    /// writable for the duration of the call.
    pub data: *mut f64,
    /// Number of rows (>= 1); must equal the rows the call writes (else INVALID_ARGUMENT).
    pub rows: usize,
    /// Number of columns (>= 1); must equal the columns the call writes.
    pub cols: usize,
    /// Distance in elements from element (i, j) to (i+1, j); any sign, non-zero when rows > 1.
    pub row_stride: isize,
    /// Distance in elements from element (i, j) to (i, j+1); any sign, non-zero when cols > 1.
    pub col_stride: isize,
}

/// A row-major view of `data` as a `rows × cols` C matrix (row stride `cols`, column stride 1),
/// for Rust code that calls the C API directly (tests, fuzzers, embedders). The view borrows
/// nothing: `data` must outlive every use of the returned struct.
pub fn row_major_view(data: &[f64], rows: usize, cols: usize) -> ntk_matrix {
    ntk_matrix {
        data: data.as_ptr(),
        rows,
        cols,
        row_stride: cols as isize,
        col_stride: 1,
    }
}

/// The writable counterpart of [`row_major_view`].
pub fn row_major_view_mut(data: &mut [f64], rows: usize, cols: usize) -> ntk_matrix_mut {
    ntk_matrix_mut {
        data: data.as_mut_ptr(),
        rows,
        cols,
        row_stride: cols as isize,
        col_stride: 1,
    }
}

/// Byte address range [lo, hi] spanned by a view (inclusive of its last element), with checked
/// arithmetic.
fn span(
    data: usize,
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
    name: &str,
) -> Result<(usize, usize)> {
    let overflow = || {
        Error::Allocation(format!(
            "{name}: rows/cols/strides overflow the address space"
        ))
    };
    // A zero stride spans nothing whatever the count (a broadcast view of SIZE_MAX rows is a
    // valid input; what cannot exist is an output of that size, which the caller then names).
    let extent = |count: usize, stride: isize| -> Result<isize> {
        if stride == 0 {
            return Ok(0);
        }
        let k = isize::try_from(count - 1).map_err(|_| overflow())?;
        k.checked_mul(stride).ok_or_else(overflow)
    };
    let dr = extent(rows, rs)?;
    let dc = extent(cols, cs)?;
    let lo_el = dr.min(0).checked_add(dc.min(0)).ok_or_else(overflow)?;
    let hi_el = dr.max(0).checked_add(dc.max(0)).ok_or_else(overflow)?;
    let lo = (data as isize)
        .checked_add(lo_el.checked_mul(8).ok_or_else(overflow)?)
        .ok_or_else(overflow)?;
    let hi = (data as isize)
        .checked_add(hi_el.checked_mul(8).ok_or_else(overflow)?)
        .ok_or_else(overflow)?;
    if lo < 0 {
        return Err(overflow());
    }
    Ok((lo as usize, hi as usize + 7))
}

fn check_shape(data_null: bool, rows: usize, cols: usize, name: &str) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Err(Error::InvalidArgument(format!(
            "{name} is empty ({rows}x{cols}); every matrix needs at least one row and one column"
        )));
    }
    if data_null {
        return Err(Error::NullPointer(format!("{name}.data")));
    }
    Ok(())
}

impl ntk_matrix {
    /// Checks the view and returns it as a [`MatRef`]. Values are not checked here.
    ///
    /// # Errors
    /// `name` is named in the message: an empty view ([`Error::InvalidArgument`]), NULL
    /// `data` ([`Error::NullPointer`]), rows/cols/strides whose span overflows the address
    /// space ([`Error::Allocation`]).
    ///
    /// # Safety
    /// The caller of the C function promises that the memory described is readable.
    pub unsafe fn to_ref<'a>(&self, name: &str) -> Result<MatRef<'a>> {
        check_shape(self.data.is_null(), self.rows, self.cols, name)?;
        span(
            self.data as usize,
            self.rows,
            self.cols,
            self.row_stride,
            self.col_stride,
            name,
        )?;
        // SAFETY: data is non-NULL and every element (i, j) lies in the span just checked not
        // to overflow the address space; the caller's C contract makes that memory readable
        // for 'a.
        Ok(unsafe {
            MatRef::from_raw(
                self.data,
                self.rows,
                self.cols,
                self.row_stride,
                self.col_stride,
            )
        })
    }

    pub(crate) fn byte_span(&self) -> Option<(usize, usize)> {
        span(
            self.data as usize,
            self.rows,
            self.cols,
            self.row_stride,
            self.col_stride,
            "",
        )
        .ok()
    }
}

impl ntk_matrix_mut {
    /// Checks the view (shape, strides, no self-aliasing) and returns it as a [`MatMut`].
    ///
    /// # Errors
    /// As [`ntk_matrix::to_ref`], and [`Error::InvalidArgument`] when distinct elements
    /// share memory (a zero or overlapping stride).
    ///
    /// # Safety
    /// The caller of the C function promises that the memory described is writable.
    pub unsafe fn to_mut<'a>(&self, name: &str) -> Result<MatMut<'a>> {
        check_shape(self.data.is_null(), self.rows, self.cols, name)?;
        span(
            self.data as usize,
            self.rows,
            self.cols,
            self.row_stride,
            self.col_stride,
            name,
        )?;
        check_no_self_alias(self.rows, self.cols, self.row_stride, self.col_stride, name)?;
        // SAFETY: data non-NULL, span inside the address space, no self-alias (all checked);
        // the C contract makes the memory writable and unaccessed by the caller for 'a (overlap
        // with the call's other views is rejected by check_outputs before any write).
        Ok(unsafe {
            MatMut::from_raw(
                self.data,
                self.rows,
                self.cols,
                self.row_stride,
                self.col_stride,
            )
        })
    }

    pub(crate) fn byte_span(&self) -> Option<(usize, usize)> {
        span(
            self.data as usize,
            self.rows,
            self.cols,
            self.row_stride,
            self.col_stride,
            "",
        )
        .ok()
    }

    /// Checks the shape of the view against what the computation writes.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming `name` and both shapes when they differ.
    pub fn expect_shape(&self, rows: usize, cols: usize, name: &str) -> Result<()> {
        if self.rows != rows || self.cols != cols {
            return Err(Error::InvalidArgument(format!(
                "{name} is {}x{}, expected {rows}x{cols}",
                self.rows, self.cols
            )));
        }
        Ok(())
    }
}

/// Distinct (i, j) must address distinct elements: with the strides sorted by magnitude, the
/// smaller must be non-zero and the larger must step over the whole extent of the smaller.
fn check_no_self_alias(rows: usize, cols: usize, rs: isize, cs: isize, name: &str) -> Result<()> {
    let (rs, cs) = (rs.unsigned_abs(), cs.unsigned_abs());
    let bad = |why: &str| {
        Err(Error::InvalidArgument(format!(
            "{name}: strides ({rs}, {cs}) for a {rows}x{cols} output {why}"
        )))
    };
    match (rows > 1, cols > 1) {
        (false, false) => Ok(()),
        (true, false) if rs == 0 => bad("alias (row stride 0)"),
        (false, true) if cs == 0 => bad("alias (column stride 0)"),
        (true, true) => {
            let ((s_small, n_small), s_big) = if rs <= cs {
                ((rs, rows), cs)
            } else {
                ((cs, cols), rs)
            };
            if s_small == 0 || s_big < s_small.saturating_mul(n_small) {
                bad("make distinct elements overlap")
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

/// Rejects an output whose memory range intersects an input's (the call would read what it
/// writes). Ranges are compared conservatively (whole spans), so interleaved but disjoint views
/// of one buffer are rejected too; use separate buffers.
pub(crate) fn check_disjoint(
    out: &ntk_matrix_mut,
    out_name: &str,
    inputs: &[(&ntk_matrix, &str)],
) -> Result<()> {
    let Some((olo, ohi)) = out.byte_span() else {
        return Ok(());
    };
    for (inp, iname) in inputs {
        if let Some((ilo, ihi)) = inp.byte_span() {
            if olo <= ihi && ilo <= ohi {
                return Err(Error::InvalidArgument(format!(
                    "{out_name} overlaps the memory of {iname}"
                )));
            }
        }
    }
    Ok(())
}

/// Rejects two outputs whose memory ranges intersect.
pub(crate) fn check_outputs_disjoint(
    a: &ntk_matrix_mut,
    an: &str,
    b: &ntk_matrix_mut,
    bn: &str,
) -> Result<()> {
    if let (Some((alo, ahi)), Some((blo, bhi))) = (a.byte_span(), b.byte_span()) {
        if alo <= bhi && blo <= ahi {
            return Err(Error::InvalidArgument(format!(
                "{an} and {bn} overlap in memory"
            )));
        }
    }
    Ok(())
}

/// The one rule for a call's outputs (optional ones included: pass those given): no output
/// overlaps an input ([`check_disjoint`]) and no two outputs overlap each other
/// ([`check_outputs_disjoint`]), all checked before anything is written.
pub(crate) fn check_outputs(
    outs: &[(ntk_matrix_mut, &str)],
    inputs: &[(&ntk_matrix, &str)],
) -> Result<()> {
    for (i, (o, on)) in outs.iter().enumerate() {
        check_disjoint(o, on, inputs)?;
        for (p, pn) in &outs[i + 1..] {
            check_outputs_disjoint(o, on, p, pn)?;
        }
    }
    Ok(())
}

/// The view behind an optional output argument (None for NULL).
///
/// # Safety
/// `p` is NULL or points to a readable `ntk_matrix_mut` (the C contract).
pub(crate) unsafe fn optional_out(p: *const ntk_matrix_mut) -> Option<ntk_matrix_mut> {
    // SAFETY: non-NULL by the check, readable by the caller's contract.
    (!p.is_null()).then(|| unsafe { *p })
}

/// A length-`count` vector output (contiguous doubles at `p`) as an [`ntk_matrix_mut`], for
/// the overlap checks.
pub(crate) fn vector_out(p: *mut f64, count: usize) -> ntk_matrix_mut {
    ntk_matrix_mut {
        data: p,
        rows: count,
        cols: 1,
        row_stride: 1,
        col_stride: 1,
    }
}

pub(crate) use crate::linalg::view::check_finite_result;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_rules() {
        assert!(check_no_self_alias(3, 4, 4, 1, "o").is_ok());
        assert!(check_no_self_alias(3, 4, 1, 3, "o").is_ok());
        assert!(check_no_self_alias(3, 4, 3, 1, "o").is_err());
        assert!(check_no_self_alias(3, 4, 0, 1, "o").is_err());
        assert!(check_no_self_alias(3, 1, 0, 7, "o").is_err());
        assert!(check_no_self_alias(1, 1, 0, 0, "o").is_ok());
        assert!(check_no_self_alias(3, 4, -4, 1, "o").is_ok());
    }

    #[test]
    fn span_overflow_is_an_error() {
        assert!(span(8, usize::MAX, 2, 1, 1, "x").is_err());
        assert!(span(8, 1 << 40, 1 << 40, 1 << 40, 1, "x").is_err());
        assert!(span(8, 2, 2, -4, 1, "x").is_err()); // below address 0
    }
}
