//! Network handles: create, free, forward, parameters.

use super::{ffi_fn, non_null, ntk_matrix, ntk_matrix_mut, ntk_status};
use crate::activation::{Activation, ScalarActivation};
use crate::network::{Network, NetworkConfig};
use crate::{Error, Result};
use std::ffi::{c_int, c_void};
use std::sync::Arc;

/// Activation functions (values of `ntk_network_config.activation`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntk_activation {
    Identity = 0,
    Relu = 1,
    /// max(x, a x) with a = activation_param.
    LeakyRelu = 2,
    Erf = 3,
    Tanh = 4,
    /// Logistic 1/(1+exp(-x)).
    Sigmoid = 5,
    /// log(1+exp(x)).
    Softplus = 6,
    /// Exact GELU x*Phi(x).
    Gelu = 7,
    Sin = 8,
    Cos = 9,
    /// User-supplied sigma/dsigma (custom_sigma, custom_dsigma, custom_user_data).
    Custom = 10,
}

/// A scalar function of the user's: `f(x, user_data)`.
pub type ntk_scalar_fn = Option<unsafe extern "C" fn(x: f64, user_data: *mut c_void) -> f64>;

/// Architecture and initialization of a network.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ntk_network_config {
    /// Layer widths n_0 (input) ... n_L (output): num_widths >= 2 entries, each >= 1.
    pub widths: *const usize,
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
    pub custom_sigma: ntk_scalar_fn,
    pub custom_dsigma: ntk_scalar_fn,
    pub custom_user_data: *mut c_void,
}

/// Opaque network handle.
pub struct ntk_network {
    pub(crate) net: Network,
}

struct CActivation {
    sigma: unsafe extern "C" fn(f64, *mut c_void) -> f64,
    dsigma: unsafe extern "C" fn(f64, *mut c_void) -> f64,
    user_data: *mut c_void,
}

// SAFETY: the C API documents that custom activations are called concurrently.
unsafe impl Send for CActivation {}
unsafe impl Sync for CActivation {}

impl ScalarActivation for CActivation {
    fn sigma(&self, x: f64) -> f64 {
        unsafe { (self.sigma)(x, self.user_data) }
    }
    fn dsigma(&self, x: f64) -> f64 {
        unsafe { (self.dsigma)(x, self.user_data) }
    }
}

/// Converts the C activation fields to an [`Activation`].
pub(crate) fn activation_from_c(cfg: &ntk_network_config) -> Result<Activation> {
    let a = match cfg.activation {
        0 => Activation::Identity,
        1 => Activation::Relu,
        2 => {
            if !cfg.activation_param.is_finite() {
                return Err(Error::NonFinite(format!(
                    "config.activation_param (leaky slope) = {}",
                    cfg.activation_param
                )));
            }
            Activation::LeakyRelu(cfg.activation_param)
        }
        3 => Activation::Erf,
        4 => Activation::Tanh,
        5 => Activation::Sigmoid,
        6 => Activation::Softplus,
        7 => Activation::Gelu,
        8 => Activation::Sin,
        9 => Activation::Cos,
        10 => {
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
        other => {
            return Err(Error::InvalidArgument(format!(
                "config.activation = {other} is not an ntk_activation value (0..=10)"
            )))
        }
    };
    Ok(a)
}

/// Largest accepted width or input dimension, so that sizes stay far from overflow.
pub const NTK_MAX_WIDTH: usize = 1 << 32;

pub(crate) unsafe fn config_from_c(config: *const ntk_network_config) -> Result<NetworkConfig> {
    non_null(config, "config")?;
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
    let widths = unsafe { std::slice::from_raw_parts(cfg.widths, cfg.num_widths) }.to_vec();
    if let Some(l) = widths.iter().position(|&w| w > NTK_MAX_WIDTH) {
        return Err(Error::InvalidArgument(format!(
            "config.widths[{l}] = {} exceeds the maximum width {NTK_MAX_WIDTH}",
            widths[l]
        )));
    }
    if !cfg.beta.is_finite() {
        return Err(Error::NonFinite(format!("config.beta = {}", cfg.beta)));
    }
    if cfg.beta < 0.0 {
        return Err(Error::InvalidArgument(format!(
            "config.beta = {}: must be >= 0",
            crate::error::g(cfg.beta)
        )));
    }
    Ok(NetworkConfig {
        widths,
        activation: activation_from_c(cfg)?,
        beta: cfg.beta,
        seed: cfg.seed,
    })
}

/// Creates a network and draws its parameters. On success `*out` owns the new handle (free it
/// with ntk_network_free); on failure `*out` is left unchanged.
#[no_mangle]
pub unsafe extern "C" fn ntk_network_create(
    config: *const ntk_network_config,
    out: *mut *mut ntk_network,
) -> ntk_status {
    ffi_fn!("ntk_network_create", {
        non_null(out, "out")?;
        let cfg = unsafe { config_from_c(config) }?;
        let net = Network::new(cfg)?;
        let handle = Box::new(ntk_network { net });
        unsafe { *out = Box::into_raw(handle) };
        Ok(())
    })
}

/// Frees a network. NULL is accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn ntk_network_free(network: *mut ntk_network) {
    if !network.is_null() {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            drop(unsafe { Box::from_raw(network) })
        }));
    }
}

/// Copies a network (architecture and current parameters) into a new handle `*out`.
#[no_mangle]
pub unsafe extern "C" fn ntk_network_clone(
    network: *const ntk_network,
    out: *mut *mut ntk_network,
) -> ntk_status {
    ffi_fn!("ntk_network_clone", {
        let net = unsafe { network_ref(network) }?;
        non_null(out, "out")?;
        let copy = net.try_clone()?;
        unsafe { *out = Box::into_raw(Box::new(ntk_network { net: copy })) };
        Ok(())
    })
}

pub(crate) unsafe fn network_ref<'a>(network: *const ntk_network) -> Result<&'a Network> {
    non_null(network, "network")?;
    Ok(unsafe { &(*network).net })
}

pub(crate) unsafe fn network_mut<'a>(network: *mut ntk_network) -> Result<&'a mut Network> {
    non_null(network, "network")?;
    Ok(unsafe { &mut (*network).net })
}

/// Writes the number of weight layers L to `*depth` and the parameter count P to `*num_params`
/// (either pointer may be NULL).
#[no_mangle]
pub unsafe extern "C" fn ntk_network_shape(
    network: *const ntk_network,
    depth: *mut usize,
    num_params: *mut usize,
) -> ntk_status {
    ffi_fn!("ntk_network_shape", {
        let net = unsafe { network_ref(network) }?;
        if !depth.is_null() {
            unsafe { *depth = net.depth() };
        }
        if !num_params.is_null() {
            unsafe { *num_params = net.num_params() };
        }
        Ok(())
    })
}

/// Copies the parameters theta (length P, ordered W^(0) row-major, b^(0), W^(1), b^(1), ...)
/// into `out`, which holds `len` doubles; `len` must equal P.
#[no_mangle]
pub unsafe extern "C" fn ntk_network_get_params(
    network: *const ntk_network,
    out: *mut f64,
    len: usize,
) -> ntk_status {
    ffi_fn!("ntk_network_get_params", {
        let net = unsafe { network_ref(network) }?;
        non_null(out, "out")?;
        if len != net.num_params() {
            return crate::invalid!(
                "len = {len}, the network has {} parameters",
                net.num_params()
            );
        }
        unsafe { std::slice::from_raw_parts_mut(out, len) }.copy_from_slice(net.params());
        Ok(())
    })
}

/// Replaces the parameters theta (same layout as ntk_network_get_params). Mutates the handle.
#[no_mangle]
pub unsafe extern "C" fn ntk_network_set_params(
    network: *mut ntk_network,
    params: *const f64,
    len: usize,
) -> ntk_status {
    ffi_fn!("ntk_network_set_params", {
        let net = unsafe { network_mut(network) }?;
        non_null(params, "params")?;
        if len != net.num_params() {
            return crate::invalid!(
                "len = {len}, the network has {} parameters",
                net.num_params()
            );
        }
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
#[no_mangle]
pub unsafe extern "C" fn ntk_network_forward(
    network: *const ntk_network,
    x: ntk_matrix,
    out: ntk_matrix_mut,
) -> ntk_status {
    ffi_fn!("ntk_network_forward", {
        let net = unsafe { network_ref(network) }?;
        let xv = unsafe { x.to_ref("x") }?;
        out.expect_shape(xv.rows(), net.output_dim(), "out")?;
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
