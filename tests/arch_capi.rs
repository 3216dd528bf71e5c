//! The additive C ABI of issue #13 (`ntk_architecture`, `ntk_layer`, their `*_init` functions,
//! `ntk_network_create_arch`), from the caller's side of the boundary:
//! - a struct whose size or version is not this library's (an older or newer header, or one
//!   never initialized) gets NTK_STATUS_INVALID_ARGUMENT with a message naming the field, and
//!   `*out` is left untouched: never a misread struct;
//! - the library reads the size word before anything else, so a caller's buffer that is only as
//!   long as the size it declares is never read past;
//! - a caller of the old entry point `ntk_network_create` (compiled against the 0.1 header, which
//!   has no architecture struct) gets the same parameters, bit for bit, as the equivalent
//!   architecture (σ_w = 1, σ_b = β, NTK parameterization): the old call kept its meaning.

mod common;

use common::{c_config, last_error};
use ntk::ffi::network::{
    ntk_architecture, ntk_architecture_init, ntk_layer, ntk_layer_init, ntk_network,
    ntk_network_create, ntk_network_create_arch, ntk_network_free, ntk_network_get_params,
};
use ntk::ffi::ntk_status;
use std::mem::{size_of, MaybeUninit};
use std::ptr::null_mut;

const RELU: i32 = 1;
const NONE: i32 = -1;

fn layers(depth: usize, beta: f64) -> Vec<ntk_layer> {
    (0..depth)
        .map(|l| {
            let mut ls = MaybeUninit::<ntk_layer>::uninit();
            // SAFETY: ntk_layer_init fully writes a valid ntk_layer on success (checked).
            let st = unsafe { ntk_layer_init(ls.as_mut_ptr(), size_of::<ntk_layer>()) };
            assert_eq!(st, ntk_status::Ok, "{}", last_error());
            let mut ls = unsafe { ls.assume_init() };
            ls.sigma_b = beta;
            ls.activation = if l + 1 < depth { RELU } else { ls.activation };
            ls
        })
        .collect()
}

fn arch(widths: &[usize], layers: &[ntk_layer], seed: u64) -> ntk_architecture {
    let mut a = MaybeUninit::<ntk_architecture>::uninit();
    // SAFETY: ntk_architecture_init fully writes a valid ntk_architecture on success (checked).
    let st = unsafe { ntk_architecture_init(a.as_mut_ptr(), size_of::<ntk_architecture>()) };
    assert_eq!(st, ntk_status::Ok, "{}", last_error());
    let mut a = unsafe { a.assume_init() };
    a.widths = widths.as_ptr();
    a.num_widths = widths.len();
    a.layers = layers.as_ptr();
    a.num_layers = layers.len();
    a.seed = seed;
    a
}

/// Creates from a valid `a` (panics with the message otherwise).
fn create(a: &ntk_architecture) -> *mut ntk_network {
    let mut h = null_mut();
    // SAFETY: `a` is a complete, initialized struct; `h` a valid out-pointer.
    let st = unsafe { ntk_network_create_arch(a, &mut h) };
    assert_eq!(st, ntk_status::Ok, "{}", last_error());
    h
}

/// Creates from `a` and expects INVALID_ARGUMENT naming `field`, with `*out` untouched.
fn rejected(a: *const ntk_architecture, field: &str) {
    let sentinel = 0x5a5a_usize as *mut ntk_network;
    let mut out = sentinel;
    // SAFETY: `a` points at readable memory at least as long as the size it declares.
    let st = unsafe { ntk_network_create_arch(a, &mut out) };
    let msg = last_error();
    assert_eq!(st, ntk_status::InvalidArgument, "{field}: {msg}");
    assert!(msg.contains(field), "message {msg:?} does not name {field}");
    assert_eq!(out, sentinel, "{field}: *out written on failure");
}

#[test]
fn another_headers_struct_is_rejected_naming_the_field_never_misread() {
    let widths = [3usize, 8, 8, 1];
    let ls = layers(3, 0.1);
    let good = arch(&widths, &ls, 7);
    assert_eq!(good.struct_size, size_of::<ntk_architecture>());
    assert_eq!(good.layer_size, size_of::<ntk_layer>());
    // Sanity: the good one is accepted.
    unsafe { ntk_network_free(create(&good)) };

    // A smaller struct (an older layout) and a larger one (a newer header than the library).
    for size in [
        16,
        size_of::<ntk_architecture>() - 8,
        size_of::<ntk_architecture>() + 16,
    ] {
        let mut a = good;
        a.struct_size = size;
        rejected(&a, "arch.struct_size");
    }
    // The message quoted in docs/porting-from-neural-tangents.md.
    let mut a = good;
    a.struct_size = 16;
    unsafe { ntk_network_create_arch(&a, &mut null_mut()) };
    assert!(
        last_error().contains(&format!(
            "arch.struct_size = 16: this library knows ntk_architecture version 1 of {} bytes",
            size_of::<ntk_architecture>()
        )),
        "{}",
        last_error()
    );
    assert_eq!(
        size_of::<ntk_architecture>(),
        64,
        "update the porting guide's quote"
    );
    // Never initialized: zeroed memory has struct_size 0.
    let zero: ntk_architecture = unsafe { MaybeUninit::zeroed().assume_init() };
    rejected(&zero, "arch.struct_size");
    // Right size, another version.
    for version in [0u32, 2, u32::MAX] {
        let mut a = good;
        a.version = version;
        rejected(&a, "arch.version");
    }
    // Layers of another size.
    for ls_size in [0, size_of::<ntk_layer>() - 8, size_of::<ntk_layer>() + 8] {
        let mut a = good;
        a.layer_size = ls_size;
        rejected(&a, "arch.layer_size");
    }
    // The init functions refuse sizes they do not know, without writing.
    let mut a = good;
    a.seed = 99;
    let st = unsafe { ntk_architecture_init(&mut a, size_of::<ntk_architecture>() - 8) };
    assert_eq!(st, ntk_status::InvalidArgument);
    assert!(last_error().contains("struct_size"), "{}", last_error());
    assert_eq!(a.seed, 99, "ntk_architecture_init wrote on failure");
    let mut l = ls[0];
    l.sigma_w = 3.5;
    let st = unsafe { ntk_layer_init(&mut l, size_of::<ntk_layer>() + 8) };
    assert_eq!(st, ntk_status::InvalidArgument);
    assert!(last_error().contains("layer_size"), "{}", last_error());
    assert_eq!(l.sigma_w, 3.5, "ntk_layer_init wrote on failure");
}

#[test]
fn a_buffer_as_long_as_its_declared_size_is_not_read_past() {
    // A caller whose (hypothetical, older) struct is only the size word: the library reads that
    // word, rejects the size and reads nothing else (the rest of this allocation would be out of
    // bounds; valgrind and ASan runs of the suite would flag a read past it).
    let only_size: Box<usize> = Box::new(size_of::<usize>());
    rejected(
        &*only_size as *const usize as *const ntk_architecture,
        "arch.struct_size",
    );
}

#[test]
fn the_old_entry_point_keeps_its_meaning() {
    let widths = [2usize, 16, 16, 16, 1];
    let (beta, seed) = (0.1, 1234);
    let cfg = c_config(&widths, RELU, 0.0, beta, seed);
    let mut old = null_mut();
    assert_eq!(
        unsafe { ntk_network_create(&cfg, &mut old) },
        ntk_status::Ok
    );
    let ls = layers(4, beta);
    assert_eq!(ls[3].activation, NONE);
    let a = arch(&widths, &ls, seed);
    let new = create(&a);
    let p: usize = widths.windows(2).map(|w| w[1] * (w[0] + 1)).sum();
    let (mut t_old, mut t_new) = (vec![0.0; p], vec![1.0; p]);
    assert_eq!(
        unsafe { ntk_network_get_params(old, t_old.as_mut_ptr(), p) },
        ntk_status::Ok
    );
    assert_eq!(
        unsafe { ntk_network_get_params(new, t_new.as_mut_ptr(), p) },
        ntk_status::Ok
    );
    // The same draws from the documented stream (and the same bits of every later result,
    // which tests/arch_paths.rs checks through the Rust API).
    assert!(t_old
        .iter()
        .zip(&t_new)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    // And the old stream itself is unchanged: layer 0's W and b are the N(0, 1) draws of its
    // own stream (the documented parameter order and generator).
    let n0 = widths[1] * (widths[0] + 1);
    let mut want = vec![0.0; n0];
    ntk::rng::Rng::for_layer(seed, 0).fill_normal(&mut want);
    assert!(t_old[..n0]
        .iter()
        .zip(&want)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    unsafe {
        ntk_network_free(old);
        ntk_network_free(new);
    }
}
