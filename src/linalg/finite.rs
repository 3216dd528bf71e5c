//! Finiteness checks of strided views, in one place for every caller (network inputs, limit and
//! empirical kernels, flow, train, predict and the C API).
//!
//! Both checks run one row-major scan (`first_non_finite`, O(rows·cols) reads, no allocation)
//! and report the first NaN/±Inf entry with one message shape, `{name}[i,j] = v`. They differ in
//! the error kind only, which is the C status the caller gets:
//! - [`check_finite`] for data the caller passed in: `Error::NonFinite` (`NTK_STATUS_NON_FINITE`);
//! - [`check_finite_result`] for a result computed from finite inputs (an overflow, or a custom
//!   activation returning NaN): `Error::Numerical` (`NTK_STATUS_NUMERICAL`), with the cause.

use super::MatRef;
use crate::{Error, Result};

/// The first entry (i, j, value) of `x` in row-major order that is NaN or ±Inf, if any.
pub(crate) fn first_non_finite(x: MatRef<'_>) -> Option<(usize, usize, f64)> {
    for i in 0..x.rows() {
        for j in 0..x.cols() {
            let v = x.at(i, j);
            if !v.is_finite() {
                return Some((i, j, v));
            }
        }
    }
    None
}

/// Fails with `NonFinite` naming the first NaN/Inf entry of the input `x`: `"name[i,j] = v"`.
pub fn check_finite(x: MatRef<'_>, name: &str) -> Result<()> {
    match first_non_finite(x) {
        None => Ok(()),
        Some((i, j, v)) => Err(Error::NonFinite(format!("{name}[{i},{j}] = {v}"))),
    }
}

/// Fails with `Numerical` naming the first NaN/Inf element of a computed result:
/// `"name[i,j] = v: …"` with the cause. Finite inputs can still give a non-finite result
/// (overflow of huge inputs such as 1e200, whose products exceed the double range, or a custom
/// activation returning NaN); the C API reports that instead of returning success with Inf/NaN
/// in the output.
pub fn check_finite_result(out: MatRef<'_>, name: &str) -> Result<()> {
    match first_non_finite(out) {
        None => Ok(()),
        Some((i, j, v)) => Err(Error::Numerical(format!(
            "{name}[{i},{j}] = {v}: the result overflowed the double range or the \
             activation returned NaN/Inf (inputs are finite; rescale them)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_non_finite_entry_in_row_major_order() {
        // 2 x 3, column-major storage: the scan order is the view's rows, not the memory order.
        let data = [1.0, f64::INFINITY, 2.0, 3.0, f64::NAN, 4.0];
        let x = MatRef::from_col_major(&data, 2, 3);
        assert_eq!(first_non_finite(x).map(|(i, j, _)| (i, j)), Some((0, 2)));
        match check_finite(x, "x") {
            Err(Error::NonFinite(m)) => assert_eq!(m, "x[0,2] = NaN"),
            r => panic!("{r:?}"),
        }
        match check_finite_result(x, "out") {
            Err(Error::Numerical(m)) => assert!(m.starts_with("out[0,2] = NaN: "), "{m}"),
            r => panic!("{r:?}"),
        }
        let ok = [1.0, -0.0, f64::MAX, f64::MIN_POSITIVE];
        assert!(check_finite(MatRef::from_row_major(&ok, 2, 2), "x").is_ok());
        assert!(check_finite_result(MatRef::from_row_major(&ok, 2, 2), "x").is_ok());
    }
}
