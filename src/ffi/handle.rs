//! One handle mechanism for every opaque C type (model: rustls-ffi's `Castable`,
//! `try_ref_from_ptr!`, `free_box`).
//!
//! An opaque handle `ntk_x` is a `Box<ntk_x>` handed to C as `*mut ntk_x`. Each handle type
//! declares once, with [`opaque_handle!`], which Rust value it wraps (its only field); then
//! - [`handle_ref`] / [`handle_mut`] turn a C pointer into `&Inner` / `&mut Inner`
//!   (`Err(NullPointer)` naming the argument when it is NULL),
//! - [`box_into`] boxes a new value and stores the pointer in the caller's `*out`,
//! - [`free_box`] drops a handle given back by C (NULL ignored) inside a panic boundary.
//!
//! All of them run inside the boundary of [`super::ffi_fn!`] (or, for `free_box`, their own
//! `catch_unwind`), so no panic unwinds into C.

use super::non_null;
use crate::Result;

/// An opaque C handle wrapping one Rust value.
pub(crate) trait Castable: Sized {
    /// The wrapped Rust value.
    type Inner;
    /// Wraps a value in the handle type.
    fn wrap(inner: Self::Inner) -> Self;
    /// The wrapped value.
    fn inner(&self) -> &Self::Inner;
    /// The wrapped value, mutably.
    fn inner_mut(&mut self) -> &mut Self::Inner;
}

/// Implements [`Castable`] for the opaque handle struct `$handle` wrapping `$inner` in field
/// `$field`. (The struct itself stays written out in its module, so that cbindgen, which does
/// not expand macros, declares it in ntk.h.)
macro_rules! opaque_handle {
    ($handle:ident { $field:ident : $inner:ty }) => {
        impl $crate::ffi::handle::Castable for $handle {
            type Inner = $inner;
            fn wrap(inner: $inner) -> Self {
                $handle { $field: inner }
            }
            fn inner(&self) -> &$inner {
                &self.$field
            }
            fn inner_mut(&mut self) -> &mut $inner {
                &mut self.$field
            }
        }
    };
}
pub(crate) use opaque_handle;

/// The value behind a `const` handle; `Err(NullPointer)` naming `name` when NULL.
///
/// # Safety
/// `p` is NULL or a live handle from [`box_into`] that nobody mutates for `'a`.
pub(crate) unsafe fn handle_ref<'a, T: Castable + 'a>(
    p: *const T,
    name: &str,
) -> Result<&'a T::Inner> {
    non_null(p, name)?;
    // SAFETY: non-NULL, and the caller promises a live handle of this type (the C contract).
    Ok(unsafe { &*p }.inner())
}

/// The value behind a non-const handle; `Err(NullPointer)` naming `name` when NULL.
///
/// # Safety
/// `p` is NULL or a live handle from [`box_into`] to which the caller has exclusive access
/// for `'a` (the C API documents which calls mutate a handle).
pub(crate) unsafe fn handle_mut<'a, T: Castable + 'a>(
    p: *mut T,
    name: &str,
) -> Result<&'a mut T::Inner> {
    non_null(p, name)?;
    // SAFETY: non-NULL, live and exclusive by the caller's contract.
    Ok(unsafe { &mut *p }.inner_mut())
}

/// Boxes `inner` as a new handle and writes its pointer to `*out` (which the caller has checked
/// to be non-NULL); the C caller then owns it and frees it with the type's `_free`.
///
/// # Safety
/// `out` is non-NULL and writable.
pub(crate) unsafe fn box_into<T: Castable>(out: *mut *mut T, inner: T::Inner) {
    let raw = Box::into_raw(Box::new(T::wrap(inner)));
    // SAFETY: the caller checked `out` non-NULL; the C contract makes it writable.
    unsafe { *out = raw };
}

/// Frees a handle made by [`box_into`]; NULL is accepted and ignored. A panic in a destructor
/// is caught (and the handle leaked) rather than unwound into C.
///
/// # Safety
/// `p` is NULL or a live handle from [`box_into`] not used again afterwards.
pub(crate) unsafe fn free_box<T: Castable>(p: *mut T) {
    if p.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: `p` came from Box::into_raw in box_into and is given back exactly once.
        drop(unsafe { Box::from_raw(p) })
    }));
}
