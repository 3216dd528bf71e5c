//! One rule for β, σ_b, σ_w and the leaky-ReLU slope at every entry point that takes them
//! (docs/bad-input-contract.md, "Scalar hyper-parameters"): a NaN/±Inf value is
//! `NTK_STATUS_NON_FINITE` and a finite value out of range (β < 0) is
//! `NTK_STATUS_INVALID_ARGUMENT`, with a message `"<name> = <value>"` naming the argument.
//!
//! The entry points: the Rust `Network::new` (config β and slope), `Network::with_architecture`
//! (per-layer σ_b and slope), the limit spec (`limit_kernel`, `array::limit_kernels`,
//! `LimitPoints::new`, which every limit tile needs; uniform and per-layer specs), and the C
//! `ntk_network_create` / `ntk_network_create_arch`. Every other C function (limit kernels,
//! tiles, prepared points, flows, training, the predictive law) takes β only through a network
//! handle, which these two constructors validated; flows and spectra take kernel matrices, no β.
//! Before this rule, NaN β was NON_FINITE through C but INVALID_ARGUMENT through the Rust
//! network config and the limit spec; this test fails on that.

mod common;

use common::{c_config, last_error};
use ntk::activation::Activation;
use ntk::ffi::network::{
    ntk_architecture, ntk_architecture_init, ntk_layer, ntk_layer_init, ntk_network,
    ntk_network_create, ntk_network_create_arch, ntk_network_free,
};
use ntk::ffi::ntk_status;
use ntk::kernel::limit::prepared::LimitPoints;
use ntk::kernel::limit::{limit_kernel, LimitOutputs, LimitSpec};
use ntk::linalg::{MatMut, MatRef};
use ntk::network::{Architecture, Network, NetworkConfig, Parameterization};
use ntk::parallel::Progress;
use ntk::Error;
use std::mem::{size_of, MaybeUninit};
use std::ptr::null_mut;

const RELU: i32 = 1;
const LEAKY: i32 = 2;
const D: usize = 3;
const WIDTHS: [usize; 4] = [D, 5, 4, 1];

/// Which value is bad, and what the rule says about it.
#[derive(Clone, Copy, Debug)]
enum Bad {
    /// β (Rust configs and uniform specs) / σ_b of every layer (architectures).
    Beta(f64),
    /// The leaky-ReLU slope of every hidden layer.
    Slope(f64),
}

impl Bad {
    fn expected(self) -> ntk_status {
        let v = match self {
            Bad::Beta(v) | Bad::Slope(v) => v,
        };
        if v.is_finite() {
            ntk_status::InvalidArgument
        } else {
            ntk_status::NonFinite
        }
    }
    fn rendered(self) -> String {
        match self {
            Bad::Beta(v) | Bad::Slope(v) => format!("{v}"),
        }
    }
    fn beta(self) -> f64 {
        match self {
            Bad::Beta(v) => v,
            Bad::Slope(_) => 0.1,
        }
    }
    fn slope(self) -> f64 {
        match self {
            Bad::Slope(v) => v,
            Bad::Beta(_) => 0.2,
        }
    }
    fn activation(self) -> Activation {
        Activation::LeakyRelu(self.slope())
    }
}

const CASES: [Bad; 5] = [
    Bad::Beta(f64::NAN),
    Bad::Beta(f64::INFINITY),
    Bad::Beta(-1.0),
    Bad::Slope(f64::NAN),
    Bad::Slope(f64::NEG_INFINITY),
];

/// Asserts the rule on one entry point's error: the status, and a message containing
/// `"<name> = <value>"`.
fn check(entry: &str, bad: Bad, status: ntk_status, msg: &str, name: &str) {
    assert_eq!(status, bad.expected(), "{entry} with {bad:?}: {msg}");
    let want = format!("{name} = {}", bad.rendered());
    assert!(
        msg.contains(&want),
        "{entry} with {bad:?}: message {msg:?} does not contain {want:?}"
    );
}

fn rust_err(entry: &str, r: Result<(), Error>) -> (ntk_status, String) {
    match r {
        Ok(()) => panic!("{entry} accepted a bad value"),
        Err(e) => (ntk_status::from(&e), e.to_string()),
    }
}

fn rust_arch(bad: Bad) -> Architecture {
    Architecture::uniform(
        WIDTHS.to_vec(),
        bad.activation(),
        1.3,
        bad.beta(),
        Parameterization::Standard,
        7,
    )
}

/// The limit-spec entry points (whole kernel through the strided and the ndarray API,
/// prepared points) for one spec; each must fail the same way.
fn limit_entries(spec: &LimitSpec, bad: Bad, name: &str, label: &str) {
    let x = common::points(4, D, 0.0);
    let xv = MatRef::from_row_major(&x, 4, D);
    let mut nngp = vec![7.0; 16];
    let r = limit_kernel(
        spec,
        xv,
        None,
        LimitOutputs {
            nngp: Some(MatMut::from_row_major(&mut nngp, 4, 4)),
            sigma_dot: None,
            ntk: None,
        },
        &mut Progress::none(),
    );
    let (st, msg) = rust_err(label, r);
    check(&format!("limit_kernel ({label})"), bad, st, &msg, name);
    assert!(
        nngp.iter().all(|&v| v == 7.0),
        "limit_kernel wrote on failure"
    );

    let xa = ndarray::Array2::from_shape_vec((4, D), x.clone()).unwrap();
    let r = ntk::array::limit_kernels(spec, xa.view(), None).map(|_| ());
    let (st, msg) = rust_err(label, r);
    check(
        &format!("array::limit_kernels ({label})"),
        bad,
        st,
        &msg,
        name,
    );

    let r = LimitPoints::new(spec, xv, &mut Progress::none()).map(|_| ());
    let (st, msg) = rust_err(label, r);
    check(&format!("LimitPoints::new ({label})"), bad, st, &msg, name);
}

#[test]
fn rust_entry_points_follow_one_rule() {
    for bad in CASES {
        let (beta_name, slope_name) = ("beta", "activation_param (leaky slope)");
        let name = |uniform: &str, layer: &str| match bad {
            Bad::Beta(_) => uniform.to_string(),
            Bad::Slope(_) => layer.to_string(),
        };

        // Network::new (NetworkConfig: β and the slope).
        let r = Network::new(NetworkConfig {
            widths: WIDTHS.to_vec(),
            activation: bad.activation(),
            beta: bad.beta(),
            seed: 1,
        })
        .map(|_| ());
        let (st, msg) = rust_err("Network::new", r);
        let config_name = match bad {
            Bad::Beta(_) => beta_name,
            Bad::Slope(_) => slope_name,
        };
        check("Network::new", bad, st, &msg, config_name);

        // Network::with_architecture (σ_b = β on every layer; layer 0 is named first).
        let r = Network::with_architecture(rust_arch(bad)).map(|_| ());
        let (st, msg) = rust_err("Network::with_architecture", r);
        let layer_name = name(
            "layers[0].sigma_b",
            "layers[0].activation_param (leaky slope)",
        );
        check("Network::with_architecture", bad, st, &msg, &layer_name);

        // The uniform limit spec and the per-layer one.
        let spec = LimitSpec::new(WIDTHS.len() - 1, bad.activation(), bad.beta());
        limit_entries(&spec, bad, config_name, "uniform spec");
        let spec = LimitSpec::of_architecture(&rust_arch(bad));
        limit_entries(&spec, bad, &layer_name, "per-layer spec");
    }
}

fn c_layers(bad: Bad) -> Vec<ntk_layer> {
    let depth = WIDTHS.len() - 1;
    (0..depth)
        .map(|l| {
            let mut ls = MaybeUninit::<ntk_layer>::uninit();
            // SAFETY: ntk_layer_init fully writes a valid ntk_layer on success (checked).
            let st = unsafe { ntk_layer_init(ls.as_mut_ptr(), size_of::<ntk_layer>()) };
            assert_eq!(st, ntk_status::Ok, "{}", last_error());
            // SAFETY: initialized by the successful call above.
            let mut ls = unsafe { ls.assume_init() };
            ls.sigma_w = 1.3;
            ls.sigma_b = bad.beta();
            if l + 1 < depth {
                ls.activation = LEAKY;
                ls.activation_param = bad.slope();
            }
            ls
        })
        .collect()
}

#[test]
fn c_entry_points_follow_one_rule() {
    for bad in CASES {
        let sentinel = 0x99usize as *mut ntk_network;

        // ntk_network_create: config.beta and config.activation_param.
        let cfg = c_config(&WIDTHS, LEAKY, bad.slope(), bad.beta(), 1);
        let mut h = sentinel;
        // SAFETY: `cfg` points at WIDTHS (static); `h` is a valid out-pointer.
        let st = unsafe { ntk_network_create(&cfg, &mut h) };
        let name = match bad {
            Bad::Beta(_) => "config.beta",
            Bad::Slope(_) => "config.activation_param (leaky slope)",
        };
        check("ntk_network_create", bad, st, &last_error(), name);
        assert_eq!(h, sentinel, "*out written on failure");

        // The same config with ReLU: the slope is ignored, β still checked.
        let cfg = c_config(&WIDTHS, RELU, bad.slope(), bad.beta(), 1);
        // SAFETY: as above.
        let st = unsafe { ntk_network_create(&cfg, &mut h) };
        match bad {
            Bad::Beta(_) => check("ntk_network_create (relu)", bad, st, &last_error(), name),
            Bad::Slope(_) => {
                assert_eq!(st, ntk_status::Ok, "{}", last_error());
                // SAFETY: created by the successful call, freed once.
                unsafe { ntk_network_free(h) };
                h = sentinel;
            }
        }

        // ntk_network_create_arch: arch.layers[l].sigma_b and .activation_param.
        let layers = c_layers(bad);
        let mut a = MaybeUninit::<ntk_architecture>::uninit();
        // SAFETY: ntk_architecture_init fully writes a valid struct on success (checked).
        let st = unsafe { ntk_architecture_init(a.as_mut_ptr(), size_of::<ntk_architecture>()) };
        assert_eq!(st, ntk_status::Ok, "{}", last_error());
        // SAFETY: initialized by the successful call above.
        let mut a = unsafe { a.assume_init() };
        a.widths = WIDTHS.as_ptr();
        a.num_widths = WIDTHS.len();
        a.layers = layers.as_ptr();
        a.num_layers = layers.len();
        // SAFETY: `a` points at WIDTHS and `layers`, alive for the call.
        let st = unsafe { ntk_network_create_arch(&a, &mut h) };
        let name = match bad {
            Bad::Beta(_) => "arch.layers[0].sigma_b",
            Bad::Slope(_) => "arch.layers[0].activation_param (leaky slope)",
        };
        check("ntk_network_create_arch", bad, st, &last_error(), name);
        assert_eq!(h, sentinel, "*out written on failure");
    }
}

/// The boundary values that the rule accepts: β = −0.0 and 0, any finite slope (negative too),
/// the largest finite β; and the value rendering of the range error is the shortest one.
#[test]
fn boundary_values_are_accepted_by_every_path() {
    for (beta, slope) in [(-0.0, 0.2), (0.0, -3.0), (1e300, f64::MAX)] {
        assert!(Network::new(NetworkConfig {
            widths: WIDTHS.to_vec(),
            activation: Activation::LeakyRelu(slope),
            beta,
            seed: 1,
        })
        .is_ok());
        let spec = LimitSpec::new(3, Activation::LeakyRelu(slope), beta);
        let x = common::points(2, D, 0.0);
        assert!(LimitPoints::new(
            &spec,
            MatRef::from_row_major(&x, 2, D),
            &mut Progress::none()
        )
        .is_ok());
        let cfg = c_config(&WIDTHS, LEAKY, slope, beta, 1);
        let mut h = null_mut();
        // SAFETY: `cfg` points at WIDTHS; `h` is a valid out-pointer.
        let st = unsafe { ntk_network_create(&cfg, &mut h) };
        assert_eq!(st, ntk_status::Ok, "{}", last_error());
        // SAFETY: created above, freed once.
        unsafe { ntk_network_free(h) };
    }
    let e = Network::new(NetworkConfig {
        widths: WIDTHS.to_vec(),
        activation: Activation::Relu,
        beta: -1e-300,
        seed: 1,
    })
    .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidArgument(m) if m == "beta = -1e-300: must be >= 0"),
        "{e:?}"
    );
}
