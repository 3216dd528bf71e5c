//! Network handles: create, free, forward, parameters.

use super::handle::{box_into, free_box, handle_mut, handle_ref, opaque_handle};
use super::{c_enum, ffi_fn, non_null, ntk_matrix, ntk_matrix_mut, ntk_status};
use crate::activation::{Activation, ScalarActivation};
use crate::linalg::finite::{check_leaky_slope, check_scale, Bound};
use crate::network::{Network, NetworkConfig};
use crate::{Error, Result};
use std::ffi::{c_int, c_void};
use std::sync::Arc;

/// Activation functions (values of `ntk_network_config.activation`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntk_activation {
    /// sigma(x) = x.
    Identity = 0,
    /// max(x, 0).
    Relu = 1,
    /// max(x, a x) with a = activation_param.
    LeakyRelu = 2,
    /// The error function erf(x).
    Erf = 3,
    /// tanh(x).
    Tanh = 4,
    /// Logistic 1/(1+exp(-x)).
    Sigmoid = 5,
    /// log(1+exp(x)).
    Softplus = 6,
    /// Exact GELU x*Phi(x).
    Gelu = 7,
    /// sin(x).
    Sin = 8,
    /// cos(x).
    Cos = 9,
    /// User-supplied sigma/dsigma (custom_sigma, custom_dsigma, custom_user_data).
    Custom = 10,
    /// No activation: only `ntk_layer.activation` of the output layer (ntk_network_create_arch).
    None = -1,
}
c_enum!(ntk_activation {
    Identity,
    Relu,
    LeakyRelu,
    Erf,
    Tanh,
    Sigmoid,
    Softplus,
    Gelu,
    Sin,
    Cos,
    Custom,
    None
});

/// A scalar function of the user's: `f(x, user_data)`.
pub type ntk_scalar_fn = Option<unsafe extern "C" fn(x: f64, user_data: *mut c_void) -> f64>;

/// Architecture and initialization of a network.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ntk_network_config {
    /// Layer widths n_0 (input) ... n_L (output): num_widths >= 2 entries, each >= 1.
    pub widths: *const usize,
    /// Number of entries of `widths` = L + 1, from 2 to 4096 (else INVALID_ARGUMENT).
    pub num_widths: usize,
    /// One of ntk_activation (an int so that unknown values can be rejected safely).
    pub activation: c_int,
    /// Leaky-ReLU slope; ignored by the other activations.
    pub activation_param: f64,
    /// Bias scale beta >= 0.
    pub beta: f64,
    /// Seed of the parameter stream (same seed, same parameters on every machine).
    pub seed: u64,
    /// For NTK_ACTIVATION_CUSTOM: sigma(x) and sigma'(x). They are called concurrently from
    /// worker threads and must stay valid (with user_data) until the network is freed.
    /// NULL with NTK_ACTIVATION_CUSTOM is NTK_STATUS_NULL_POINTER; ignored otherwise.
    pub custom_sigma: ntk_scalar_fn,
    /// The derivative sigma'(x) of custom_sigma (same rules).
    pub custom_dsigma: ntk_scalar_fn,
    /// Passed unchanged as `user_data` to custom_sigma and custom_dsigma.
    pub custom_user_data: *mut c_void,
}

/// Opaque network handle.
pub struct ntk_network {
    pub(crate) net: Network,
}
opaque_handle!(ntk_network { net: Network });

struct CActivation {
    sigma: unsafe extern "C" fn(f64, *mut c_void) -> f64,
    dsigma: unsafe extern "C" fn(f64, *mut c_void) -> f64,
    user_data: *mut c_void,
}

// SAFETY: the C API documents that custom activations (and their user_data) are called
// concurrently from worker threads and stay valid until the network is freed, so the pointers
// may move to and be shared by other threads.
unsafe impl Send for CActivation {}
// SAFETY: as for Send: concurrent calls through a shared reference are the documented contract.
unsafe impl Sync for CActivation {}

impl ScalarActivation for CActivation {
    fn sigma(&self, x: f64) -> f64 {
        // SAFETY: a non-NULL function of the caller's, valid (with user_data) until the network
        // is freed and callable concurrently (ntk_network_config.custom_sigma).
        unsafe { (self.sigma)(x, self.user_data) }
    }
    fn dsigma(&self, x: f64) -> f64 {
        // SAFETY: as for sigma (ntk_network_config.custom_dsigma).
        unsafe { (self.dsigma)(x, self.user_data) }
    }
}

/// Converts the C activation fields to an [`Activation`].
pub(crate) fn activation_from_c(cfg: &ntk_network_config) -> Result<Activation> {
    use ntk_activation as A;
    let a = match A::from_c(cfg.activation, "config.activation")? {
        A::Identity => Activation::Identity,
        A::Relu => Activation::Relu,
        A::LeakyRelu => {
            check_leaky_slope(
                "config.activation_param (leaky slope)",
                cfg.activation_param,
            )?;
            Activation::LeakyRelu(cfg.activation_param)
        }
        A::Erf => Activation::Erf,
        A::Tanh => Activation::Tanh,
        A::Sigmoid => Activation::Sigmoid,
        A::Softplus => Activation::Softplus,
        A::Gelu => Activation::Gelu,
        A::Sin => Activation::Sin,
        A::Cos => Activation::Cos,
        A::Custom => {
            let (Some(sigma), Some(dsigma)) = (cfg.custom_sigma, cfg.custom_dsigma) else {
                return Err(Error::NullPointer(
                    "config.custom_sigma / config.custom_dsigma (required for NTK_ACTIVATION_CUSTOM)".into(),
                ));
            };
            Activation::Custom(Arc::new(CActivation {
                sigma,
                dsigma,
                user_data: cfg.custom_user_data,
            }))
        }
        A::None => {
            return Err(Error::InvalidArgument(format!(
                "config.activation = {} (NTK_ACTIVATION_NONE): a network layer needs an \
                 activation (NONE is only for the output layer of an ntk_layer)",
                A::None as c_int
            )))
        }
    };
    Ok(a)
}

/// Largest accepted width or input dimension, so that sizes stay far from overflow.
pub const NTK_MAX_WIDTH: usize = 1 << 32;

/// Reads and checks a C network configuration.
///
/// # Safety
/// `config` is NULL or points to a readable `ntk_network_config` whose `widths` (when
/// non-NULL) holds `num_widths` readable entries and whose custom functions obey the
/// contract of its fields.
pub(crate) unsafe fn config_from_c(config: *const ntk_network_config) -> Result<NetworkConfig> {
    non_null(config, "config")?;
    // SAFETY: non-NULL (checked above) and readable by the caller's contract; read only.
    let cfg = unsafe { &*config };
    if cfg.num_widths < 2 {
        return Err(Error::InvalidArgument(format!(
            "config.num_widths = {}: need at least 2 (n_0 and n_L)",
            cfg.num_widths
        )));
    }
    if cfg.num_widths > 4096 {
        return Err(Error::InvalidArgument(format!(
            "config.num_widths = {}: at most 4096 layers are supported",
            cfg.num_widths
        )));
    }
    non_null(cfg.widths, "config.widths")?;
    // SAFETY: `widths` is non-NULL (checked) with num_widths (2..=4096, checked) readable
    // entries by the caller's contract; copied at once.
    let widths = unsafe { std::slice::from_raw_parts(cfg.widths, cfg.num_widths) }.to_vec();
    if let Some(l) = widths.iter().position(|&w| w > NTK_MAX_WIDTH) {
        return Err(Error::InvalidArgument(format!(
            "config.widths[{l}] = {} exceeds the maximum width {NTK_MAX_WIDTH}",
            widths[l]
        )));
    }
    check_scale("config.beta", cfg.beta, Bound::NonNegative)?;
    Ok(NetworkConfig {
        widths,
        activation: activation_from_c(cfg)?,
        beta: cfg.beta,
        seed: cfg.seed,
    })
}

/// Creates a network and draws its parameters. On success `*out` owns the new handle (free it
/// with ntk_network_free); on failure `*out` is left unchanged.
/// Errors (message naming the field): NULL `config`, `out`, `config.widths` or, for
/// NTK_ACTIVATION_CUSTOM, a custom function (NTK_STATUS_NULL_POINTER); num_widths outside
/// 2..=4096, a width of 0 or above NTK_MAX_WIDTH, an unknown or NONE activation, beta < 0
/// (NTK_STATUS_INVALID_ARGUMENT); beta or the leaky slope NaN/+-Inf (NTK_STATUS_NON_FINITE);
/// a parameter count that overflows or cannot be allocated (NTK_STATUS_ALLOCATION).
#[no_mangle]
pub unsafe extern "C" fn ntk_network_create(
    config: *const ntk_network_config,
    out: *mut *mut ntk_network,
) -> ntk_status {
    ffi_fn!("ntk_network_create", {
        non_null(out, "out")?;
        // SAFETY: `config` is NULL or a readable configuration (C contract).
        let cfg = unsafe { config_from_c(config) }?;
        let net = Network::new(cfg)?;
        // SAFETY: `out` was checked non-NULL above and is writable (C contract).
        unsafe { box_into(out, net) };
        Ok(())
    })
}

/// Frees a network. NULL is accepted and ignored; the handle must not be used afterwards.
/// Errors: none (returns nothing); a panic in a destructor is caught and the handle leaked.
#[no_mangle]
pub unsafe extern "C" fn ntk_network_free(network: *mut ntk_network) {
    // SAFETY: the C contract: NULL or a handle of ours, not used again.
    unsafe { free_box(network) }
}

/// Copies a network (architecture and current parameters) into a new handle `*out` (free it
/// with ntk_network_free); `*out` is unchanged on failure. Errors: NULL `network` or `out`
/// (NTK_STATUS_NULL_POINTER); the copy cannot be allocated (NTK_STATUS_ALLOCATION).
#[no_mangle]
pub unsafe extern "C" fn ntk_network_clone(
    network: *const ntk_network,
    out: *mut *mut ntk_network,
) -> ntk_status {
    ffi_fn!("ntk_network_clone", {
        // SAFETY: `network` is NULL (an error) or a live network handle, only read during the call
        // (C contract).
        let net = unsafe { network_ref(network) }?;
        non_null(out, "out")?;
        let copy = net.try_clone()?;
        // SAFETY: `out` was checked non-NULL above and is writable (C contract).
        unsafe { box_into(out, copy) };
        Ok(())
    })
}

/// The network behind the `network` argument (named so on NULL).
pub(crate) unsafe fn network_ref<'a>(network: *const ntk_network) -> Result<&'a Network> {
    // SAFETY: forwarded from the caller's contract.
    unsafe { handle_ref(network, "network") }
}

/// The network behind a mutating call's `network` argument.
pub(crate) unsafe fn network_mut<'a>(network: *mut ntk_network) -> Result<&'a mut Network> {
    // SAFETY: forwarded from the caller's contract (exclusive access).
    unsafe { handle_mut(network, "network") }
}

/// Writes the number of weight layers L to `*depth` and the parameter count P to `*num_params`
/// (either pointer may be NULL). Errors: NULL `network` (NTK_STATUS_NULL_POINTER).
#[no_mangle]
pub unsafe extern "C" fn ntk_network_shape(
    network: *const ntk_network,
    depth: *mut usize,
    num_params: *mut usize,
) -> ntk_status {
    ffi_fn!("ntk_network_shape", {
        // SAFETY: `network` is NULL (an error) or a live network handle, only read during the call
        // (C contract).
        let net = unsafe { network_ref(network) }?;
        if !depth.is_null() {
            // SAFETY: non-NULL (checked) and writable (C contract).
            unsafe { *depth = net.depth() };
        }
        if !num_params.is_null() {
            // SAFETY: non-NULL (checked) and writable (C contract).
            unsafe { *num_params = net.num_params() };
        }
        Ok(())
    })
}

/// Copies the parameters theta (length P, ordered W^(0) row-major, b^(0), W^(1), b^(1), ...)
/// into `out`, which holds `len` doubles; `len` must equal P.
/// Errors: NULL `network` or `out` (NTK_STATUS_NULL_POINTER); `len` != P
/// (NTK_STATUS_INVALID_ARGUMENT, `out` untouched).
#[no_mangle]
pub unsafe extern "C" fn ntk_network_get_params(
    network: *const ntk_network,
    out: *mut f64,
    len: usize,
) -> ntk_status {
    ffi_fn!("ntk_network_get_params", {
        // SAFETY: `network` is NULL (an error) or a live network handle, only read during the call
        // (C contract).
        let net = unsafe { network_ref(network) }?;
        non_null(out, "out")?;
        if len != net.num_params() {
            return crate::invalid!(
                "len = {len}, the network has {} parameters",
                net.num_params()
            );
        }
        // SAFETY: `out` is non-NULL (checked) with `len` (= P, checked) writable doubles by the
        // C contract, not aliased by the network's own parameters (which live in our Box).
        unsafe { std::slice::from_raw_parts_mut(out, len) }.copy_from_slice(net.params());
        Ok(())
    })
}

/// Replaces the parameters theta (same layout as ntk_network_get_params) with the `len`
/// doubles at `params`. Mutates the handle (exclusive access needed).
/// Errors: NULL `network` or `params` (NTK_STATUS_NULL_POINTER); `len` != P
/// (NTK_STATUS_INVALID_ARGUMENT); a NaN/+-Inf entry (NTK_STATUS_NON_FINITE, naming its index).
/// On any error the parameters are unchanged.
#[no_mangle]
pub unsafe extern "C" fn ntk_network_set_params(
    network: *mut ntk_network,
    params: *const f64,
    len: usize,
) -> ntk_status {
    ffi_fn!("ntk_network_set_params", {
        // SAFETY: `network` is NULL (an error) or a live network handle to which this call has
        // exclusive access (C contract).
        let net = unsafe { network_mut(network) }?;
        non_null(params, "params")?;
        if len != net.num_params() {
            return crate::invalid!(
                "len = {len}, the network has {} parameters",
                net.num_params()
            );
        }
        // SAFETY: `params` is non-NULL (checked) with `len` (= P, checked) readable doubles by
        // the C contract; the exclusive `net` borrow is of our own Box, not of this memory.
        let src = unsafe { std::slice::from_raw_parts(params, len) };
        if let Some(i) = src.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite(format!("params[{i}] = {}", src[i])));
        }
        net.params_mut().copy_from_slice(src);
        Ok(())
    })
}

/// Forward pass: `out` (N x n_L) receives f_theta(x) for the N rows of `x` (N x n_0).
/// A result that overflows to +-Inf/NaN (huge finite inputs, or a custom activation returning
/// NaN) gives NTK_STATUS_NUMERICAL with `out` untouched.
/// Errors (`out` untouched on all): NULL `network`, `x.data` or `out.data`
/// (NTK_STATUS_NULL_POINTER); an empty view, x without n_0 columns, out not N x n_L, aliasing
/// strides in out or out overlapping x (NTK_STATUS_INVALID_ARGUMENT); a NaN/+-Inf in x
/// (NTK_STATUS_NON_FINITE, naming the entry); a view spanning more than the address space or an
/// unallocatable temporary (NTK_STATUS_ALLOCATION); a result that overflows
/// (NTK_STATUS_NUMERICAL, as above).
#[no_mangle]
pub unsafe extern "C" fn ntk_network_forward(
    network: *const ntk_network,
    x: ntk_matrix,
    out: ntk_matrix_mut,
) -> ntk_status {
    ffi_fn!("ntk_network_forward", {
        // SAFETY: `network` is NULL (an error) or a live network handle, only read during the call
        // (C contract).
        let net = unsafe { network_ref(network) }?;
        // SAFETY: the memory that `x` describes is readable for the whole call (C contract); to_ref
        // checks its shape and span.
        let xv = unsafe { x.to_ref("x") }?;
        out.expect_shape(xv.rows(), net.output_dim(), "out")?;
        // SAFETY: the memory that `out` describes is writable for the whole call and not accessed
        // by the caller meanwhile (C contract); to_mut checks shape, span and self-aliasing, and
        // overlaps with the other arguments are rejected before anything is written.
        let ov = unsafe { out.to_mut("out") }?;
        super::view::check_disjoint(&out, "out", &[(&x, "x")])?;
        net.check_input(xv, "x")?;
        // Compute into a temporary, so that `out` is written only on success.
        let mut tmp = crate::error::try_zeroed(
            crate::error::checked_mul(xv.rows(), net.output_dim(), "out")?,
            "out",
        )?;
        net.forward(
            xv,
            crate::linalg::MatMut::from_row_major(&mut tmp, xv.rows(), net.output_dim()),
        )?;
        super::view::check_finite_result(
            crate::linalg::MatRef::from_row_major(&tmp, xv.rows(), net.output_dim()),
            "out",
        )?;
        let mut ov = ov;
        ov.copy_from(crate::linalg::MatRef::from_row_major(
            &tmp,
            xv.rows(),
            net.output_dim(),
        ));
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Per-layer architectures (issue #13).
//
// Design: a new, extensible description instead of a changed `ntk_network_config` (which keeps
// its layout, so every caller compiled against an older header keeps working unchanged):
// - `ntk_architecture` starts with `struct_size` and `version`, filled by
//   `ntk_architecture_init(&a, sizeof a)`. The library reads only the prefix the caller's
//   header declared, so later versions can append fields; a struct from a newer header than the
//   library (larger size or higher version), or one never initialized (size/version not
//   matching any known layout), is rejected with NTK_STATUS_INVALID_ARGUMENT naming the field,
//   never misread.
// - layers are an array with an explicit element size `layer_size` (= sizeof(ntk_layer), set
//   by ntk_architecture_init and checked the same way), so per-layer fields can be appended
//   too; `ntk_layer_init` fills one layer's defaults.
// ---------------------------------------------------------------------------------------------

/// Version of `ntk_architecture` / `ntk_layer` described by this header
/// (NTK_ARCHITECTURE_VERSION_CURRENT; set by ntk_architecture_init).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntk_architecture_version {
    /// The layout of ntk_architecture and ntk_layer declared by this header.
    Current = 1,
}
const NTK_ARCHITECTURE_VERSION: u32 = ntk_architecture_version::Current as u32;

/// `ntk_layer.activation` of the output layer (which takes none): NTK_ACTIVATION_NONE.
const NTK_NO_ACTIVATION: c_int = ntk_activation::None as c_int;

/// How the parameters enter the network (values of `ntk_architecture.parameterization`),
/// exactly neural-tangents' `stax.Dense(..., parameterization=...)`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntk_parameterization {
    /// z = sigma_w W h / sqrt(n_in) + sigma_b b, all parameters N(0, 1).
    Ntk = 0,
    /// z = W h + b, W ~ N(0, sigma_w^2 / n_in), b ~ N(0, sigma_b^2).
    Standard = 1,
}
c_enum!(ntk_parameterization { Ntk, Standard });

/// One weight layer l = 0 ... L-1: weight and bias scales and the activation applied to its
/// output (NTK_ACTIVATION_NONE on the output layer l = L-1; one of ntk_activation otherwise).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ntk_layer {
    /// sigma_w > 0, finite.
    pub sigma_w: f64,
    /// sigma_b >= 0, finite.
    pub sigma_b: f64,
    /// One of ntk_activation, or NTK_ACTIVATION_NONE (output layer).
    pub activation: c_int,
    /// Leaky-ReLU slope; ignored by the other activations.
    pub activation_param: f64,
    /// For NTK_ACTIVATION_CUSTOM, as in ntk_network_config.
    pub custom_sigma: ntk_scalar_fn,
    /// The derivative of custom_sigma, as in ntk_network_config.
    pub custom_dsigma: ntk_scalar_fn,
    /// Passed unchanged to custom_sigma and custom_dsigma.
    pub custom_user_data: *mut c_void,
}

/// A network of per-layer settings. Initialize with `ntk_architecture_init(&a, sizeof a)`,
/// then set the fields.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ntk_architecture {
    /// sizeof(ntk_architecture) in the caller's header (set by ntk_architecture_init).
    pub struct_size: usize,
    /// NTK_ARCHITECTURE_VERSION_CURRENT of the caller's header (set by ntk_architecture_init).
    pub version: u32,
    /// One of ntk_parameterization (default NTK).
    pub parameterization: c_int,
    /// Layer widths n_0 (input) ... n_L (output): num_widths >= 2 entries, each >= 1.
    pub widths: *const usize,
    /// Number of entries of `widths` = L + 1, from 2 to 4096.
    pub num_widths: usize,
    /// num_layers = num_widths - 1 layer descriptions, `layer_size` bytes apart.
    pub layers: *const ntk_layer,
    /// Number of entries of `layers`; must equal num_widths - 1 (else INVALID_ARGUMENT).
    pub num_layers: usize,
    /// sizeof(ntk_layer) in the caller's header (set by ntk_architecture_init).
    pub layer_size: usize,
    /// Seed of the parameter stream (the same draws as ntk_network_create for the same widths
    /// and seed; the standard parameterization then scales them by sigma_w/sqrt(n_in), sigma_b).
    pub seed: u64,
}

/// Fills `*arch` with the defaults of this header's version: struct_size, version,
/// parameterization NTK, no widths or layers, layer_size = sizeof(ntk_layer), seed 0.
/// `struct_size` must be sizeof(ntk_architecture) of the caller's header.
/// Errors: NULL `arch` (NULL_POINTER); a struct_size this library does not know
/// (INVALID_ARGUMENT).
#[no_mangle]
pub unsafe extern "C" fn ntk_architecture_init(
    arch: *mut ntk_architecture,
    struct_size: usize,
) -> ntk_status {
    ffi_fn!("ntk_architecture_init", {
        non_null(arch, "arch")?;
        check_arch_size(struct_size)?;
        // SAFETY: `arch` is non-NULL (checked) and points to struct_size (= ours, checked)
        // writable bytes (C contract); every field is written.
        unsafe {
            *arch = ntk_architecture {
                struct_size,
                version: NTK_ARCHITECTURE_VERSION,
                parameterization: ntk_parameterization::Ntk as c_int,
                widths: std::ptr::null(),
                num_widths: 0,
                layers: std::ptr::null(),
                num_layers: 0,
                layer_size: std::mem::size_of::<ntk_layer>(),
                seed: 0,
            }
        };
        Ok(())
    })
}

/// Fills `*layer` with the defaults: sigma_w = 1, sigma_b = 0, NTK_ACTIVATION_NONE,
/// activation_param 0, no custom functions. `layer_size` must be sizeof(ntk_layer).
/// Errors: NULL `layer` (NTK_STATUS_NULL_POINTER); a layer_size this library does not know
/// (NTK_STATUS_INVALID_ARGUMENT).
#[no_mangle]
pub unsafe extern "C" fn ntk_layer_init(layer: *mut ntk_layer, layer_size: usize) -> ntk_status {
    ffi_fn!("ntk_layer_init", {
        non_null(layer, "layer")?;
        check_layer_size(layer_size, "layer_size")?;
        // SAFETY: `layer` is non-NULL (checked) and points to layer_size (= ours, checked)
        // writable bytes (C contract); every field is written.
        unsafe {
            *layer = ntk_layer {
                sigma_w: 1.0,
                sigma_b: 0.0,
                activation: NTK_NO_ACTIVATION,
                activation_param: 0.0,
                custom_sigma: None,
                custom_dsigma: None,
                custom_user_data: std::ptr::null_mut(),
            }
        };
        Ok(())
    })
}

fn check_arch_size(struct_size: usize) -> Result<()> {
    let ours = std::mem::size_of::<ntk_architecture>();
    if struct_size != ours {
        return Err(Error::InvalidArgument(format!(
            "arch.struct_size = {struct_size}: this library knows ntk_architecture version \
             {NTK_ARCHITECTURE_VERSION} of {ours} bytes (initialize it with \
             ntk_architecture_init(&arch, sizeof arch); a larger size comes from a newer header \
             than the library)"
        )));
    }
    Ok(())
}

fn check_layer_size(layer_size: usize, name: &str) -> Result<()> {
    let ours = std::mem::size_of::<ntk_layer>();
    if layer_size != ours {
        return Err(Error::InvalidArgument(format!(
            "{name} = {layer_size}: this library's ntk_layer (version \
             {NTK_ARCHITECTURE_VERSION}) has {ours} bytes (set by ntk_architecture_init; a \
             larger size comes from a newer header than the library)"
        )));
    }
    Ok(())
}

/// Reads and checks a C architecture (every layer's fields named on error).
///
/// # Safety
/// `arch` is NULL or points to a readable `ntk_architecture` of at least `usize` bytes;
/// when its struct_size is ours the whole struct is readable, `widths` holds num_widths and
/// `layers` num_layers entries of layer_size bytes, and custom functions obey the contract
/// of ntk_network_config.
pub(crate) unsafe fn architecture_from_c(
    arch: *const ntk_architecture,
) -> Result<crate::network::Architecture> {
    use crate::network::{Architecture, LayerSpec, Parameterization};
    non_null(arch, "arch")?;
    // Read the size first: only that prefix of the caller's struct may be read.
    // SAFETY: non-NULL (checked) and, by the contract, at least its first field readable;
    // read_unaligned tolerates any alignment.
    let struct_size = unsafe { std::ptr::read_unaligned(arch as *const usize) };
    check_arch_size(struct_size)?;
    // SAFETY: struct_size equals sizeof(ntk_architecture) (checked), so the caller declared
    // the whole struct, readable by the contract; read only.
    let a = unsafe { &*arch };
    if a.version != NTK_ARCHITECTURE_VERSION {
        return Err(Error::InvalidArgument(format!(
            "arch.version = {}: this library reads version {NTK_ARCHITECTURE_VERSION} \
             (initialize with ntk_architecture_init)",
            a.version
        )));
    }
    let parameterization =
        match ntk_parameterization::from_c(a.parameterization, "arch.parameterization")? {
            ntk_parameterization::Ntk => Parameterization::Ntk,
            ntk_parameterization::Standard => Parameterization::Standard,
        };
    if a.num_widths < 2 {
        return Err(Error::InvalidArgument(format!(
            "arch.num_widths = {}: need at least 2 (n_0 and n_L)",
            a.num_widths
        )));
    }
    if a.num_widths > 4096 {
        return Err(Error::InvalidArgument(format!(
            "arch.num_widths = {}: at most 4096 layers are supported",
            a.num_widths
        )));
    }
    non_null(a.widths, "arch.widths")?;
    // SAFETY: non-NULL (checked) with num_widths (2..=4096, checked) readable entries by the
    // caller's contract; copied at once.
    let widths = unsafe { std::slice::from_raw_parts(a.widths, a.num_widths) }.to_vec();
    if let Some(l) = widths.iter().position(|&w| w > NTK_MAX_WIDTH) {
        return Err(Error::InvalidArgument(format!(
            "arch.widths[{l}] = {} exceeds the maximum width {NTK_MAX_WIDTH}",
            widths[l]
        )));
    }
    let depth = a.num_widths - 1;
    if a.num_layers != depth {
        return Err(Error::InvalidArgument(format!(
            "arch.num_layers = {}: need one layer per weight layer, num_widths - 1 = {depth}",
            a.num_layers
        )));
    }
    check_layer_size(a.layer_size, "arch.layer_size")?;
    non_null(a.layers, "arch.layers")?;
    let mut layers = Vec::new();
    layers
        .try_reserve_exact(depth)
        .map_err(|_| Error::Allocation("arch.layers".into()))?;
    for l in 0..depth {
        // SAFETY: the caller promises num_layers elements of layer_size bytes (checked equal
        // to ours); read_unaligned tolerates any alignment.
        let ly: ntk_layer = unsafe {
            std::ptr::read_unaligned(
                (a.layers as *const u8).add(l * a.layer_size) as *const ntk_layer
            )
        };
        let name = |f: &str| format!("arch.layers[{l}].{f}");
        check_scale(&name("sigma_w"), ly.sigma_w, Bound::Positive)?;
        check_scale(&name("sigma_b"), ly.sigma_b, Bound::NonNegative)?;
        let activation = if l + 1 == depth {
            if ly.activation != NTK_NO_ACTIVATION {
                return Err(Error::InvalidArgument(format!(
                    "{} = {}: the output layer (l = L-1 = {l}) takes no activation \
                     (NTK_ACTIVATION_NONE)",
                    name("activation"),
                    ly.activation
                )));
            }
            None
        } else {
            if ly.activation == NTK_NO_ACTIVATION {
                return Err(Error::InvalidArgument(format!(
                    "{} = NTK_ACTIVATION_NONE: hidden layer {l} needs an activation",
                    name("activation")
                )));
            }
            let cfg = ntk_network_config {
                widths: std::ptr::null(),
                num_widths: 0,
                activation: ly.activation,
                activation_param: ly.activation_param,
                beta: 0.0,
                seed: 0,
                custom_sigma: ly.custom_sigma,
                custom_dsigma: ly.custom_dsigma,
                custom_user_data: ly.custom_user_data,
            };
            let prefix = format!("arch.layers[{l}].");
            let rename = |m: String| m.replace("config.", &prefix);
            Some(activation_from_c(&cfg).map_err(|e| match e {
                Error::NullPointer(m) => Error::NullPointer(rename(m)),
                Error::InvalidArgument(m) => Error::InvalidArgument(rename(m)),
                Error::NonFinite(m) => Error::NonFinite(rename(m)),
                other => other,
            })?)
        };
        layers.push(LayerSpec {
            sigma_w: ly.sigma_w,
            sigma_b: ly.sigma_b,
            activation,
        });
    }
    let arch = Architecture {
        widths,
        layers,
        parameterization,
        seed: a.seed,
    };
    arch.validate()?;
    Ok(arch)
}

/// Creates a network of per-layer settings and draws its parameters. Every other function
/// taking an `ntk_network` (forward, Jacobian, empirical and limit kernels, tiles, training,
/// flows, the predictive law) then uses its architecture. On success `*out` owns the new
/// handle (free it with ntk_network_free); on failure `*out` is left unchanged.
/// Errors (message naming the layer and field): NULL `out`, `arch`, `arch->widths`,
/// `arch->layers` or, for NTK_ACTIVATION_CUSTOM, a custom function (NTK_STATUS_NULL_POINTER);
/// struct_size / version / layer_size not this library's, num_layers != num_widths - 1, an
/// unknown parameterization or activation, sigma_w <= 0 or sigma_b < 0, an activation on the
/// output layer or none on a hidden one, widths as for ntk_network_create
/// (NTK_STATUS_INVALID_ARGUMENT); sigma_w, sigma_b or a leaky slope NaN/+-Inf
/// (NTK_STATUS_NON_FINITE); a parameter count that overflows or cannot be allocated
/// (NTK_STATUS_ALLOCATION).
#[no_mangle]
pub unsafe extern "C" fn ntk_network_create_arch(
    arch: *const ntk_architecture,
    out: *mut *mut ntk_network,
) -> ntk_status {
    ffi_fn!("ntk_network_create_arch", {
        non_null(out, "out")?;
        // SAFETY: `arch` is NULL or a readable architecture (C contract).
        let a = unsafe { architecture_from_c(arch) }?;
        let net = Network::with_architecture(a)?;
        // SAFETY: `out` was checked non-NULL above and is writable (C contract).
        unsafe { box_into(out, net) };
        Ok(())
    })
}
