//! Finiteness checks of strided views, in one place for every caller (network inputs, limit and
//! empirical kernels, flow, train, predict and the C API).
//!
//! Both checks run one row-major scan (`first_non_finite`, O(rows·cols) reads, no allocation)
//! and report the first NaN/±Inf entry with one message shape, `{name}[i,j] = v`. They differ in
//! the error kind only, which is the C status the caller gets:
//! - [`check_finite`] for data the caller passed in: `Error::NonFinite` (`NTK_STATUS_NON_FINITE`);
//! - [`check_finite_result`] for a result computed from finite inputs (an overflow, or a custom
//!   activation returning NaN): `Error::Numerical` (`NTK_STATUS_NUMERICAL`), with the cause.
//!
//! Scalar hyper-parameters (β, per-layer σ_w and σ_b, the leaky-ReLU slope) follow one rule,
//! implemented once here (`check_scale`, `check_activation`) and called by every path that
//! takes them (the Rust network config and architecture, the limit spec behind the limit
//! kernels, tiles and prepared points, and the C layer with its `config.` / `arch.layers[l].`
//! names):
//! 1. a NaN or ±Inf value is `Error::NonFinite` (`NTK_STATUS_NON_FINITE`), `"{name} = NaN"`;
//! 2. a finite value outside its range (β < 0, σ_b < 0, σ_w ≤ 0) is `Error::InvalidArgument`
//!    (`NTK_STATUS_INVALID_ARGUMENT`), `"{name} = -0.5: must be >= 0"`.
//!
//! `-0.0` is zero (accepted as β or σ_b). Non-finiteness is checked first, so `-inf` is
//! NON_FINITE, not out of range. docs/bad-input-contract.md states the rule for the C API.

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

/// The lower bound of a scale parameter: β and σ_b are `>= 0`, σ_w is `> 0` (a zero weight
/// scale makes every later layer constant).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bound {
    /// `v >= 0` (β, σ_b); `-0.0` is accepted.
    NonNegative,
    /// `v > 0` (σ_w).
    Positive,
}

/// The one rule for a scalar scale (β, σ_w, σ_b): NaN/±Inf → `NonFinite("{name} = v")`, then a
/// finite value below `bound` → `InvalidArgument("{name} = v: must be >= 0" / "> 0")`. O(1).
pub(crate) fn check_scale(name: &str, v: f64, bound: Bound) -> Result<()> {
    if !v.is_finite() {
        return Err(Error::NonFinite(format!("{name} = {v}")));
    }
    let (ok, rel) = match bound {
        Bound::NonNegative => (v >= 0.0, ">= 0"),
        Bound::Positive => (v > 0.0, "> 0"),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "{name} = {}: must be {rel}",
            crate::error::g(v)
        )))
    }
}

/// The same rule for the only scalar an [`Activation`](crate::activation::Activation) carries,
/// the leaky-ReLU slope a (any finite value, negative included): NaN/±Inf →
/// `NonFinite("{name} = v")`. `name` is the caller's spelling of the slope, e.g.
/// `"activation_param (leaky slope)"` or `"config.activation_param (leaky slope)"`. O(1).
pub(crate) fn check_leaky_slope(name: &str, a: f64) -> Result<()> {
    if a.is_finite() {
        Ok(())
    } else {
        Err(Error::NonFinite(format!("{name} = {a}")))
    }
}

/// [`check_leaky_slope`] on the slope of `act` if it is a leaky ReLU; every other activation
/// carries no scalar and passes.
pub(crate) fn check_activation(name: &str, act: &crate::activation::Activation) -> Result<()> {
    match act {
        crate::activation::Activation::LeakyRelu(a) => check_leaky_slope(name, *a),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_rule_non_finite_first_then_range() {
        use Bound::*;
        for (v, want) in [
            (f64::NAN, "b = NaN"),
            (f64::INFINITY, "b = inf"),
            (f64::NEG_INFINITY, "b = -inf"),
        ] {
            for bound in [NonNegative, Positive] {
                match check_scale("b", v, bound) {
                    Err(Error::NonFinite(m)) => assert_eq!(m, want),
                    r => panic!("{v}: {r:?}"),
                }
            }
        }
        match check_scale("beta", -1.0, NonNegative) {
            Err(Error::InvalidArgument(m)) => assert_eq!(m, "beta = -1: must be >= 0"),
            r => panic!("{r:?}"),
        }
        match check_scale("beta", -1e-300, NonNegative) {
            Err(Error::InvalidArgument(m)) => assert_eq!(m, "beta = -1e-300: must be >= 0"),
            r => panic!("{r:?}"),
        }
        match check_scale("sigma_w", 0.0, Positive) {
            Err(Error::InvalidArgument(m)) => assert_eq!(m, "sigma_w = 0: must be > 0"),
            r => panic!("{r:?}"),
        }
        assert!(check_scale("beta", -0.0, NonNegative).is_ok());
        assert!(check_scale("beta", 0.0, NonNegative).is_ok());
        assert!(check_scale("beta", f64::MAX, NonNegative).is_ok());
        assert!(check_scale("sigma_w", f64::MIN_POSITIVE, Positive).is_ok());
        assert!(check_scale("sigma_w", -0.0, Positive).is_err());
        match check_leaky_slope("s", f64::NAN) {
            Err(Error::NonFinite(m)) => assert_eq!(m, "s = NaN"),
            r => panic!("{r:?}"),
        }
        assert!(check_leaky_slope("s", -3.0).is_ok());
        use crate::activation::Activation;
        assert!(check_activation("s", &Activation::LeakyRelu(f64::NEG_INFINITY)).is_err());
        assert!(check_activation("s", &Activation::Relu).is_ok());
    }

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
