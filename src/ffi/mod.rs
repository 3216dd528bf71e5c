//! The C ABI. This layer only converts and checks: every function
//! - catches panics (a panic becomes `NTK_STATUS_INTERNAL`, never an unwind into C),
//! - checks every pointer, size, stride and enum value before touching any output,
//! - returns an [`ntk_status`] and stores a message for [`ntk_last_error`] on failure.
//!
//! Thread safety: functions taking `const ntk_network*` may run concurrently on the same network.
//! Functions taking a non-const handle mutate it and need exclusive access.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]
#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

pub mod empirical;
pub mod flow;
pub(crate) mod handle;
pub mod limit;
pub mod network;
pub mod predict;
pub mod solve;
pub mod spectrum;
pub mod tiles;
pub mod train;
pub mod view;

use crate::Error;
use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CStr, CString};

pub use view::{ntk_matrix, ntk_matrix_mut};

/// Decoding of a `repr(C)` enum's values from the `c_int` a C caller passes, derived from the
/// enum's own discriminants (written once, in the enum):
/// `c_enum!(ntk_cost { Mse, CrossEntropy });` gives `ntk_cost::ALL`, `ntk_cost::from_c(v, arg)`
/// (`Err(InvalidArgument)` naming `arg` and listing the values for an unknown `v`) and
/// `ntk_cost::c_name()` (the header's name, e.g. "NTK_COST_CROSS_ENTROPY"). The variant list
/// must be complete: an exhaustive match makes a forgotten variant a compile error.
macro_rules! c_enum {
    ($ty:ident { $($v:ident),+ $(,)? }) => {
        impl $ty {
            /// Every variant, in declaration order.
            #[allow(dead_code)]
            pub(crate) const ALL: &'static [$ty] = &[$($ty::$v),+];

            /// The variant whose discriminant is `value`; `arg` names the argument on error.
            #[allow(dead_code)]
            pub(crate) fn from_c(value: std::ffi::c_int, arg: &str) -> $crate::Result<$ty> {
                // A forgotten variant in the list above fails to compile here.
                const _: fn($ty) = |e| match e { $($ty::$v => ()),+ };
                Self::ALL
                    .iter()
                    .copied()
                    .find(|&e| e as std::ffi::c_int == value)
                    .ok_or_else(|| $crate::Error::InvalidArgument(format!(
                        "{arg} = {value} is not an {} value ({})",
                        stringify!($ty),
                        Self::ALL
                            .iter()
                            .map(|&e| format!("{} = {}", e as std::ffi::c_int, e.c_name()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )))
            }

            /// The name the header gives the variant (cbindgen's ScreamingSnakeCase with the
            /// enum's name as prefix).
            #[allow(dead_code)]
            pub(crate) fn c_name(self) -> String {
                let variant = match self { $($ty::$v => stringify!($v)),+ };
                $crate::ffi::c_variant_name(stringify!($ty), variant)
            }
        }
    };
}
pub(crate) use c_enum;

/// `NTK_COST_CROSS_ENTROPY` from `ntk_cost` and `CrossEntropy`: the rule of cbindgen.toml
/// (`rename_variants = "ScreamingSnakeCase"`, `prefix_with_name`).
pub(crate) fn c_variant_name(ty: &str, variant: &str) -> String {
    let mut s = ty.to_ascii_uppercase();
    let mut prev_lower = true;
    for c in variant.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            s.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        s.push(c.to_ascii_uppercase());
    }
    s
}

/// Result of every C API call.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntk_status {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullPointer = 1,
    /// A size, shape, stride, enum value or parameter is outside its domain.
    InvalidArgument = 2,
    /// An input contains NaN or +-Inf.
    NonFinite = 3,
    /// A size overflowed or memory could not be allocated.
    Allocation = 4,
    /// The progress callback returned non-zero.
    Cancelled = 5,
    /// A numerical method failed (e.g. an indefinite kernel where a PSD one is required).
    Numerical = 6,
    /// An internal error (a caught panic); please report it.
    Internal = 7,
}
c_enum!(ntk_status {
    Ok,
    NullPointer,
    InvalidArgument,
    NonFinite,
    Allocation,
    Cancelled,
    Numerical,
    Internal
});

impl From<&Error> for ntk_status {
    fn from(e: &Error) -> Self {
        match e {
            Error::NullPointer(_) => ntk_status::NullPointer,
            Error::InvalidArgument(_) => ntk_status::InvalidArgument,
            Error::NonFinite(_) => ntk_status::NonFinite,
            Error::Allocation(_) => ntk_status::Allocation,
            Error::Cancelled => ntk_status::Cancelled,
            Error::Numerical(_) => ntk_status::Numerical,
            Error::Internal(_) => ntk_status::Internal,
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Runs `f`, converting its error or panic into a status and the thread's last-error message.
/// Success clears the message.
pub(crate) fn boundary<F>(function: &str, f: F) -> ntk_status
where
    F: FnOnce() -> crate::Result<()> + std::panic::UnwindSafe,
{
    match std::panic::catch_unwind(f) {
        Ok(Ok(())) => {
            set_last_error("");
            ntk_status::Ok
        }
        Ok(Err(e)) => {
            set_last_error(&format!("{function}: {e}"));
            ntk_status::from(&e)
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(&format!(
                "{function}: internal error (please report): {what}"
            ));
            ntk_status::Internal
        }
    }
}

/// `Err(NullPointer)` naming `name` when `p` is NULL.
pub(crate) fn non_null<T>(p: *const T, name: &str) -> crate::Result<()> {
    if p.is_null() {
        Err(Error::NullPointer(name.into()))
    } else {
        Ok(())
    }
}

/// Runs the body inside [`boundary`] with the function's name.
macro_rules! ffi_fn {
    ($name:literal, $body:block) => {
        $crate::ffi::boundary(
            $name,
            std::panic::AssertUnwindSafe(|| -> $crate::Result<()> { $body }),
        )
    };
}
pub(crate) use ffi_fn;

/// Progress callback: called as `progress(user_data, done, total)` on the calling thread between
/// units of work; return 0 to continue, non-zero to cancel (the call then returns
/// `NTK_STATUS_CANCELLED`). It must not unwind or longjmp through the library.
pub type ntk_progress_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, done: u64, total: u64) -> c_int>;

/// Per-call options. Pass NULL for the defaults (no progress reporting).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ntk_options {
    /// Optional progress/cancel callback (NULL for none).
    pub progress: ntk_progress_fn,
    /// Passed unchanged to `progress`.
    pub user_data: *mut c_void,
}

/// The per-call options behind an `options` argument (None for NULL, the defaults).
///
/// # Safety
/// `options` is NULL or points to an `ntk_options` readable for `'a` whose callback, if any,
/// may be called with its `user_data` from the calling thread during `'a` (the C contract of
/// every `options` argument).
pub(crate) unsafe fn options_ref<'a>(options: *const ntk_options) -> Option<&'a ntk_options> {
    // SAFETY: NULL gives None; otherwise readable for 'a by the caller's contract.
    unsafe { options.as_ref() }
}

/// Calls `f` with a [`crate::parallel::Progress`] built from the optional C options (see
/// [`options_ref`]); the callback is only ever called on the calling thread.
pub(crate) fn with_progress<R>(
    options: Option<&ntk_options>,
    f: impl FnOnce(&mut crate::parallel::Progress<'_>) -> R,
) -> R {
    match options.and_then(|o| o.progress.map(|cb| (cb, o.user_data))) {
        Some((cb, ud)) => {
            // SAFETY: `cb` and `ud` come from an ntk_options that options_ref's contract makes
            // callable during this call; the C API documents the callback as called
            // cb(user_data, done, total) on the calling thread, never unwinding.
            let mut closure = move |done: u64, total: u64| unsafe { cb(ud, done, total) } == 0;
            let mut progress = crate::parallel::Progress::new(&mut closure);
            f(&mut progress)
        }
        None => f(&mut crate::parallel::Progress::none()),
    }
}

/// Name of a status code ("NTK_STATUS_OK", ...); "NTK_STATUS_UNKNOWN" for other values.
/// The string is static. Errors: none (never NULL; does not change ntk_last_error()).
#[no_mangle]
pub extern "C" fn ntk_status_str(status: c_int) -> *const c_char {
    // The names, derived once from the enum (c_enum!), live for the whole program.
    static NAMES: std::sync::OnceLock<Vec<(c_int, CString)>> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        ntk_status::ALL
            .iter()
            .map(|&s| (s as c_int, CString::new(s.c_name()).unwrap_or_default()))
            .collect()
    });
    match names.iter().find(|(v, _)| *v == status) {
        Some((_, name)) => name.as_ptr(),
        None => c"NTK_STATUS_UNKNOWN".as_ptr(),
    }
}

/// Message describing the last failed call on this thread ("" after a successful call).
/// The string belongs to the library and is freed (replaced) by the next ntk call on this
/// thread, whatever that call returns: copy it before calling the library again. In particular
/// `printf("%d %s", f(), ntk_last_error())` is safe only because C evaluates both arguments
/// before printf runs; do not keep the pointer across calls. Errors: none (never NULL).
#[no_mangle]
pub extern "C" fn ntk_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// The library version, "MAJOR.MINOR.PATCH" (static string; equals NTK_VERSION_STRING of the
/// header the library was built with). Errors: none (never NULL; does not change
/// ntk_last_error()).
#[no_mangle]
pub extern "C" fn ntk_version() -> *const c_char {
    const V: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"unknown",
        };
    V.as_ptr()
}

/// Sets the number of worker threads for later calls (0 = one per core). A C code that runs one
/// MPI rank per core should set 1. Not safe to call concurrently with running computations'
/// setup (it is safe with respect to memory, but which pool a racing call uses is unspecified).
/// Errors: num_threads above 1024 (NTK_STATUS_INVALID_ARGUMENT); the threads cannot be started
/// (NTK_STATUS_ALLOCATION). On error the previous pool stays in use.
#[no_mangle]
pub extern "C" fn ntk_set_num_threads(num_threads: usize) -> ntk_status {
    ffi_fn!("ntk_set_num_threads", {
        crate::parallel::set_num_threads(num_threads)
    })
}

/// Writes the number of worker threads in use to `*out`.
/// Errors: NULL `out` (NTK_STATUS_NULL_POINTER).
#[no_mangle]
pub unsafe extern "C" fn ntk_get_num_threads(out: *mut usize) -> ntk_status {
    ffi_fn!("ntk_get_num_threads", {
        non_null(out, "out")?;
        let n = crate::parallel::num_threads();
        // SAFETY: `out` is non-NULL (checked above) and writable (C contract).
        unsafe { *out = n };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each decoded enum's derived C names and values are the header's (cbindgen's own
    /// output), and an unknown value is rejected naming the argument.
    #[test]
    fn c_enum_names_and_values_are_the_headers() {
        fn check<T: Copy>(all: &[T], code: impl Fn(T) -> c_int, name: impl Fn(T) -> String) {
            for &e in all {
                let line = format!("  {} = {},\n", name(e), code(e));
                assert!(
                    include_str!(concat!(env!("OUT_DIR"), "/ntk.h")).contains(&line),
                    "ntk.h lacks `{}`",
                    line.trim()
                );
            }
        }
        check(ntk_status::ALL, |e| e as c_int, ntk_status::c_name);
        use network::{ntk_activation, ntk_parameterization};
        check(ntk_activation::ALL, |e| e as c_int, ntk_activation::c_name);
        check(
            ntk_parameterization::ALL,
            |e| e as c_int,
            ntk_parameterization::c_name,
        );
        use flow::{ntk_cost, ntk_flow_method};
        use spectrum::ntk_spectrum_which;
        check(ntk_cost::ALL, |e| e as c_int, ntk_cost::c_name);
        check(
            ntk_flow_method::ALL,
            |e| e as c_int,
            ntk_flow_method::c_name,
        );
        check(
            ntk_spectrum_which::ALL,
            |e| e as c_int,
            ntk_spectrum_which::c_name,
        );
        use empirical::{ntk_kernel_method, ntk_kernel_mode};
        check(
            ntk_kernel_mode::ALL,
            |e| e as c_int,
            ntk_kernel_mode::c_name,
        );
        check(
            ntk_kernel_method::ALL,
            |e| e as c_int,
            ntk_kernel_method::c_name,
        );
        check(
            predict::ntk_law::ALL,
            |e| e as c_int,
            predict::ntk_law::c_name,
        );
        use solve::ntk_solver_kernel;
        check(
            ntk_solver_kernel::ALL,
            |e| e as c_int,
            ntk_solver_kernel::c_name,
        );
        assert_eq!(
            ntk_activation::from_c(-1, "a").unwrap(),
            ntk_activation::None
        );
        let e = ntk_cost::from_c(2, "cost").unwrap_err().to_string();
        assert!(
            e.contains(
                "cost = 2 is not an ntk_cost value (0 = NTK_COST_MSE, 1 = NTK_COST_CROSS_ENTROPY)"
            ),
            "{e}"
        );
        let s = |v| {
            // SAFETY: ntk_status_str returns a static NUL-terminated string.
            unsafe { CStr::from_ptr(ntk_status_str(v)) }
                .to_str()
                .unwrap()
        };
        assert_eq!(s(3), "NTK_STATUS_NON_FINITE");
        assert_eq!(s(8), "NTK_STATUS_UNKNOWN");
    }
}
