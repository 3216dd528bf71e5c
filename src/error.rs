//! Errors of the core library. Each maps to one C status code (see `ffi::ntk_status`).

use std::fmt;

/// Everything that can go wrong in a computation.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A NULL pointer where a value is required (argument name).
    NullPointer(String),
    /// A size, stride, shape, enum value or parameter outside its domain.
    InvalidArgument(String),
    /// NaN or ±Inf in an input.
    NonFinite(String),
    /// A size computation overflowed or an allocation could not be satisfied.
    Allocation(String),
    /// The progress callback asked to stop.
    Cancelled,
    /// A numerical method failed (e.g. a factorization of an indefinite matrix).
    Numerical(String),
    /// A bug: a panic caught at the boundary.
    Internal(String),
}

/// The crate's result type: `Ok(T)` or one [`Error`] (one variant per C status).
pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NullPointer(a) => write!(f, "argument `{a}` is NULL"),
            Error::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Error::NonFinite(m) => write!(f, "non-finite value: {m}"),
            Error::Allocation(m) => write!(f, "allocation failed: {m}"),
            Error::Cancelled => write!(f, "cancelled by the progress callback"),
            Error::Numerical(m) => write!(f, "numerical failure: {m}"),
            Error::Internal(m) => write!(f, "internal error (please report): {m}"),
        }
    }
}

impl std::error::Error for Error {}

/// Shorthand for `Err(Error::InvalidArgument(format!(...)))`.
#[macro_export]
macro_rules! invalid {
    ($($arg:tt)*) => { Err($crate::Error::InvalidArgument(format!($($arg)*))) };
}

/// Checked product of sizes, naming what is being sized in the error.
pub(crate) fn checked_mul(a: usize, b: usize, what: &str) -> Result<usize> {
    a.checked_mul(b)
        .ok_or_else(|| Error::Allocation(format!("size of {what} overflows ({a} x {b})")))
}

/// Allocates a zeroed `Vec<f64>` of `len` elements, returning an error instead of aborting
/// when the memory cannot be had.
pub(crate) fn try_zeroed(len: usize, what: &str) -> Result<Vec<f64>> {
    let mut v: Vec<f64> = Vec::new();
    v.try_reserve_exact(len).map_err(|_| {
        Error::Allocation(format!(
            "{what}: cannot allocate {len} doubles ({} bytes)",
            len.saturating_mul(8)
        ))
    })?;
    v.resize(len, 0.0);
    Ok(v)
}

/// `len` default values (slots filled later), or `Error::Allocation` naming `what` when they
/// cannot be allocated.
pub(crate) fn try_defaults<T: Default>(len: usize, what: &str) -> Result<Vec<T>> {
    let mut v: Vec<T> = Vec::new();
    v.try_reserve_exact(len).map_err(|_| {
        Error::Allocation(format!(
            "{what}: cannot allocate {len} slots ({} bytes)",
            len.saturating_mul(std::mem::size_of::<T>())
        ))
    })?;
    v.resize_with(len, T::default);
    Ok(v)
}

/// A number formatted for a message like C's `%g`: the shortest round-trip decimal when
/// 1e-4 ≤ |x| < 1e16 (or x = 0), scientific otherwise, so that a subnormal prints as "1e-310"
/// instead of about 330 digits.
pub(crate) fn g(x: f64) -> String {
    let a = x.abs();
    if x == 0.0 || !x.is_finite() || (1e-4..1e16).contains(&a) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}
