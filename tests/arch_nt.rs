//! Per-layer architectures (issue #13) against neural-tangents 0.6.5.
//!
//! `tests/data/arch_nt.txt` (tools/arch_reference.py, run with /work/venv-nt/bin/python): 36
//! random `stax.serial(Dense(W_std, b_std, parameterization), act, …, Dense)` networks, depth
//! 1–6, per-layer σ_w ∈ [0.5, 2.5], σ_b ∈ [0, 1] (some exactly 0), mixed activations per
//! hidden layer (ReLU, leaky ReLU, erf, GELU, sin, identity), both parameterizations, 1 and 3
//! outputs, 5 points (some with a duplicate point). On neural-tangents' own parameters θ:
//! forward outputs, the parameter Jacobian and the full empirical NTK (both methods) within
//! 1e-12 relative to the largest entry; the limit NNGP and NTK (closed forms, and the numerical
//! method for GELU) within 1e-12 relative, off the diagonal where a ReLU-type layer makes
//! neural-tangents' arccos lose ~1e-8 at correlation 1 (diagonal entries and duplicate pairs).

use ntk::activation::Activation;
use ntk::kernel::empirical::{self, KernelMethod, KernelMode};
use ntk::kernel::limit::{limit_kernel, LimitOutputs, LimitSpec};
use ntk::linalg::{MatMut, MatRef};
use ntk::network::{Architecture, LayerSpec, Network, Parameterization};
use ntk::parallel::Progress;
use std::collections::HashMap;

struct Case {
    name: String,
    arch: Architecture,
    relu_like: bool,
    mats: HashMap<String, (usize, usize, Vec<f64>)>,
}

fn read_cases() -> Vec<Case> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/arch_nt.txt"
    ))
    .expect("tests/data/arch_nt.txt");
    let mut cases: Vec<Case> = Vec::new();
    for line in text.lines() {
        let t: Vec<&str> = line.split_whitespace().collect();
        match t.first().copied() {
            Some("arch") => cases.push(Case {
                name: t[1].to_string(),
                arch: Architecture {
                    widths: vec![],
                    layers: vec![],
                    parameterization: match t[2] {
                        "ntk" => Parameterization::Ntk,
                        "standard" => Parameterization::Standard,
                        p => panic!("parameterization {p}"),
                    },
                    seed: 0,
                },
                relu_like: t[6] == "1",
                mats: HashMap::new(),
            }),
            Some("widths") => {
                cases.last_mut().unwrap().arch.widths =
                    t[1..].iter().map(|v| v.parse().unwrap()).collect()
            }
            Some("layer") => {
                let p: f64 = t[5].parse().unwrap();
                let activation = match t[4] {
                    "none" => None,
                    "relu" => Some(Activation::Relu),
                    "leaky" => Some(Activation::LeakyRelu(p)),
                    "erf" => Some(Activation::Erf),
                    "gelu" => Some(Activation::Gelu),
                    "sin" => Some(Activation::Sin),
                    "identity" => Some(Activation::Identity),
                    a => panic!("activation {a}"),
                };
                cases.last_mut().unwrap().arch.layers.push(LayerSpec {
                    sigma_w: t[2].parse().unwrap(),
                    sigma_b: t[3].parse().unwrap(),
                    activation,
                });
            }
            Some("mat") => {
                let (r, c): (usize, usize) = (t[2].parse().unwrap(), t[3].parse().unwrap());
                let v: Vec<f64> = t[4..].iter().map(|v| v.parse().unwrap()).collect();
                assert_eq!(v.len(), r * c, "{line:.40}");
                cases
                    .last_mut()
                    .unwrap()
                    .mats
                    .insert(t[1].to_string(), (r, c, v));
            }
            _ => {}
        }
    }
    cases
}

impl Case {
    fn m(&self, name: &str) -> &(usize, usize, Vec<f64>) {
        &self.mats[name]
    }
    fn x(&self) -> MatRef<'_> {
        let (r, c, v) = self.m("x");
        MatRef::from_row_major(v, *r, *c)
    }
    fn network(&self) -> Network {
        let mut net = Network::with_architecture(self.arch.clone()).expect(&self.name);
        let theta = &self.m("theta").2;
        assert_eq!(net.num_params(), theta.len(), "{}", self.name);
        net.params_mut().copy_from_slice(theta);
        net
    }
}

/// max |a − b| / max |b|, over the entries where `keep(i)`.
fn rel(a: &[f64], b: &[f64], keep: impl Fn(usize) -> bool) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    let mut e = 0.0f64;
    for i in 0..a.len() {
        if keep(i) {
            e = e.max((a[i] - b[i]).abs());
        }
    }
    e / scale
}

#[test]
fn reference_file_covers_the_issue() {
    let cases = read_cases();
    assert!(cases.len() >= 30);
    let depths: std::collections::BTreeSet<usize> = cases.iter().map(|c| c.arch.depth()).collect();
    assert_eq!(
        depths.into_iter().collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5, 6]
    );
    for p in [Parameterization::Ntk, Parameterization::Standard] {
        for k in [1, 3] {
            assert!(cases
                .iter()
                .any(|c| c.arch.parameterization == p && *c.arch.widths.last().unwrap() == k));
        }
    }
    // Mixed activations within one network.
    assert!(cases.iter().any(|c| {
        let names: std::collections::BTreeSet<String> = c
            .arch
            .layers
            .iter()
            .filter_map(|l| l.activation.as_ref().map(|a| format!("{a:?}")))
            .collect();
        names.len() >= 3
    }));
}

#[test]
fn forward_jacobian_empirical_ntk_match_neural_tangents() {
    let mut worst = [0.0f64; 4];
    for c in read_cases() {
        let net = c.network();
        let x = c.x();
        let (n, k) = (x.rows(), net.output_dim());
        let mut f = vec![0.0; n * k];
        net.forward(x, MatMut::from_row_major(&mut f, n, k))
            .unwrap();
        let ef = rel(&f, &c.m("f").2, |_| true);
        let p = net.num_params();
        let mut j = vec![0.0; n * k * p];
        empirical::jacobian(
            &net,
            x,
            MatMut::from_row_major(&mut j, n * k, p),
            &mut Progress::none(),
        )
        .unwrap();
        let ej = rel(&j, &c.m("jac").2, |_| true);
        let mut errs = vec![ef, ej];
        for method in [KernelMethod::Structured, KernelMethod::JacobianContraction] {
            let (t, r, cc) =
                empirical::empirical_ntk_vec(&net, x, None, KernelMode::Full, method).unwrap();
            assert_eq!((r, cc), (n * k, n * k));
            errs.push(rel(&t, &c.m("entk").2, |_| true));
        }
        for (w, e) in worst.iter_mut().zip(&errs) {
            *w = w.max(*e);
        }
        assert!(
            errs.iter().all(|&e| e <= 1e-12),
            "{}: forward, jacobian, eNTK structured, eNTK contraction relative errors {errs:?}",
            c.name
        );
    }
    eprintln!("worst relative errors (f, J, eNTK structured, eNTK contraction): {worst:?}");
}

#[test]
fn limit_kernels_match_neural_tangents() {
    let mut worst = 0.0f64;
    for c in read_cases() {
        let x = c.x();
        let n = x.rows();
        let spec = LimitSpec::of_architecture(&c.arch);
        let mut nngp = vec![0.0; n * n];
        let mut ntk = vec![0.0; n * n];
        limit_kernel(
            &spec,
            x,
            None,
            LimitOutputs {
                nngp: Some(MatMut::from_row_major(&mut nngp, n, n)),
                sigma_dot: None,
                ntk: Some(MatMut::from_row_major(&mut ntk, n, n)),
            },
            &mut Progress::none(),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        // Pairs at correlation 1 (diagonal, duplicate points) are unreliable in
        // neural-tangents' arccos formula.
        let xs = &c.m("x").2;
        let d = x.cols();
        let same = |idx: usize| {
            let (i, j) = (idx / n, idx % n);
            xs[i * d..(i + 1) * d] == xs[j * d..(j + 1) * d]
        };
        let keep = |idx: usize| !(c.relu_like && same(idx));
        let e1 = rel(&nngp, &c.m("nngp").2, keep);
        let e2 = rel(&ntk, &c.m("ntk").2, keep);
        worst = worst.max(e1).max(e2);
        assert!(
            e1 <= 1e-12 && e2 <= 1e-12,
            "{}: nngp {e1:e}, ntk {e2:e}",
            c.name
        );
    }
    eprintln!("worst limit relative error: {worst:e}");
}
