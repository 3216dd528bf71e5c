//! Kernel spectra through the C ABI: eigenvalues and condition number of a symmetric kernel
//! matrix (see [`mod@crate::spectrum`]).

use super::view::{check_outputs, vector_out};
use super::{c_enum, ffi_fn, non_null, ntk_matrix, ntk_matrix_mut, ntk_status};
use crate::spectrum::Which;
use std::ffi::c_int;

/// Which eigenvalues ntk_kernel_spectrum returns.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntk_spectrum_which {
    /// All N eigenvalues (count must be N), ascending.
    All = 0,
    /// The `count` smallest, ascending.
    Smallest = 1,
    /// The `count` largest, descending.
    Largest = 2,
}
c_enum!(ntk_spectrum_which {
    All,
    Smallest,
    Largest
});

/// Eigenvalues of the symmetric kernel matrix `k` (N x N; finite, symmetric to relative 1e-10):
/// `which` = NTK_SPECTRUM_WHICH_ALL (count = N, ascending), _SMALLEST (the `count` smallest,
/// ascending) or _LARGEST (the `count` largest, descending), written to `eigenvalues`.
/// Cost: one eigenvalue decomposition, about 4/3 N^3 flops. Reentrant.
///
/// All memory (an 8 N^2-byte copy of k, the decomposition's workspace, faer's per-thread
/// matrix-multiply buffer) is reserved before k is read: a k that cannot be afforded, even a
/// broadcast view of any N, gives NTK_STATUS_ALLOCATION in O(1). Kernels of any scale
/// (subnormal entries included) are decomposed exactly scaled by a power of two.
/// Errors (`eigenvalues` untouched): NULL `k.data` or `eigenvalues` (NTK_STATUS_NULL_POINTER);
/// an unknown `which`, `count` outside 1..=N (or != N for _ALL), k empty, not square or not
/// symmetric, `eigenvalues` overlapping k (NTK_STATUS_INVALID_ARGUMENT); a NaN/+-Inf in k
/// (NTK_STATUS_NON_FINITE); memory (NTK_STATUS_ALLOCATION); a decomposition that does not
/// converge (NTK_STATUS_NUMERICAL).
#[no_mangle]
pub unsafe extern "C" fn ntk_kernel_spectrum(
    k: ntk_matrix,
    eigenvalues: *mut f64,
    count: usize,
    which: c_int,
) -> ntk_status {
    ffi_fn!("ntk_kernel_spectrum", {
        // SAFETY: the memory that `k` describes is readable for the whole call (C contract); to_ref
        // checks its shape and span.
        let kv = unsafe { k.to_ref("k") }?;
        non_null(eigenvalues, "eigenvalues")?;
        let which = match ntk_spectrum_which::from_c(which, "which")? {
            ntk_spectrum_which::All => Which::All,
            ntk_spectrum_which::Smallest => Which::Smallest,
            ntk_spectrum_which::Largest => Which::Largest,
        };
        if count == 0 || count > kv.rows() {
            return crate::invalid!("count = {count}: must be in 1..={}", kv.rows());
        }
        check_outputs(
            &[(vector_out(eigenvalues, count), "eigenvalues")],
            &[(&k, "k")],
        )?;
        let v = crate::spectrum::spectrum(kv, count, which)?;
        // SAFETY: `eigenvalues` is non-NULL (checked) with `count` writable doubles (C
        // contract), not overlapping `k` (check_outputs above); `k` is no longer read.
        unsafe { std::slice::from_raw_parts_mut(eigenvalues, count) }.copy_from_slice(&v);
        Ok(())
    })
}

/// Smallest and largest eigenvalues of the symmetric `k` and its condition number
/// lambda_max / lambda_min (INFINITY when lambda_min <= 0). Any output pointer may be NULL.
/// Cost: one eigenvalue decomposition (about 4/3 N^3 flops). Reentrant. Memory and scale as
/// for ntk_kernel_spectrum (NTK_STATUS_ALLOCATION in O(1) for a k that cannot be afforded).
/// Errors (outputs untouched): NULL `k.data` (NTK_STATUS_NULL_POINTER); k empty, not square or
/// not symmetric to relative 1e-10, an output overlapping k or another output
/// (NTK_STATUS_INVALID_ARGUMENT); a NaN/+-Inf in k (NTK_STATUS_NON_FINITE); memory, or a view
/// spanning more than the address space (NTK_STATUS_ALLOCATION); a decomposition that does not
/// converge (NTK_STATUS_NUMERICAL).
#[no_mangle]
pub unsafe extern "C" fn ntk_kernel_condition(
    k: ntk_matrix,
    lambda_min: *mut f64,
    lambda_max: *mut f64,
    condition: *mut f64,
) -> ntk_status {
    ffi_fn!("ntk_kernel_condition", {
        // SAFETY: the memory that `k` describes is readable for the whole call (C contract); to_ref
        // checks its shape and span.
        let kv = unsafe { k.to_ref("k") }?;
        let outs: Vec<(ntk_matrix_mut, &str)> = [
            (lambda_min, "lambda_min"),
            (lambda_max, "lambda_max"),
            (condition, "condition"),
        ]
        .into_iter()
        .filter(|(p, _)| !p.is_null())
        .map(|(p, name)| (vector_out(p, 1), name))
        .collect();
        check_outputs(&outs, &[(&k, "k")])?;
        let (lo, hi, c) = crate::spectrum::condition(kv)?;
        // SAFETY: each output is written only when non-NULL; writable by the C contract.
        unsafe {
            if !lambda_min.is_null() {
                *lambda_min = lo;
            }
            if !lambda_max.is_null() {
                *lambda_max = hi;
            }
            if !condition.is_null() {
                *condition = c;
            }
        }
        Ok(())
    })
}
