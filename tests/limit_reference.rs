//! Limit kernels of the numerically integrated activations against high-precision references.
//!
//! The constants come from `python3 tools/limit_reference_pairs.py` (mpmath, 30 digits, no 2-D
//! quadrature: 1-D integrals at correlation ±1 and zero variance, Mehler's series with mpmath
//! Hermite coefficients at ρ = 0.3, a Taylor expansion of the conditional form in the smoothing
//! width at ρ = 1 − 1e-9; see the script's docstring). Each case is a pair of 2-D points with
//! β = 0 and depth L = 2, so Σ^(2) = E[σ(u)σ(v)] and Σ̇^(2) = E[σ′(u)σ′(v)] with the covariance
//! x·y/2 computed exactly from the f64 inputs. Cases: a separate copy of a point of norm 30
//! (s = 450), its negation (ρ = −1), a near-duplicate (ρ = 1 − 1e-9), ρ = 0.3, s = 1e-6 and the
//! zero vector. Required: relative error ≤ 1e-10 (exact 0 where the reference is 0).

mod common;

use ntk::activation::Activation;
use ntk::kernel::limit::{limit_kernel, LimitOutputs, LimitSpec};
use ntk::linalg::{MatMut, MatRef};
use ntk::parallel::Progress;

#[rustfmt::skip]
const REFS: &[(&str, &str, f64, f64, f64, f64, f64, f64)] = &[
// REFS_BEGIN (output of tools/limit_reference_pairs.py)
    ("copy_norm30", "tanh", 27.63182982008655, 11.682550269259515, 27.63182982008655, 11.682550269259515, 0.9624216677180868065119, 0.02506611405838972941908),
    ("antipodal_norm30", "tanh", 27.63182982008655, 11.682550269259515, -27.63182982008655, -11.682550269259515, -0.9624216677180868065119, 0.02506611405838972941908),
    ("near_dup_norm30", "tanh", 27.63182982008655, 11.682550269259515, 27.63130733712475, 11.683785980638126, 0.9624216564385188846138, 0.02506610503974912073235),
    ("tiny_s", "tanh", 0.0014071483851539046, 0.00014118577179998828, 1.9900083305560516, 0.1996668332936563, 0.0006788562987267768757973, 0.4800241282174126657557),
    ("zero", "tanh", 0.0, 0.0, 1.0806046117362795, 1.682941969615793, 0.0, 0.4800242543360513678936),
    ("copy_norm30", "sigmoid", 27.63182982008655, 11.682550269259515, 27.63182982008655, 11.682550269259515, 0.4812619036366590914913, 0.003129905942689880668147),
    ("antipodal_norm30", "sigmoid", 27.63182982008655, 11.682550269259515, -27.63182982008655, -11.682550269259515, 0.01873809636334090850867, 0.003129905942689880668147),
    ("near_dup_norm30", "sigmoid", 27.63182982008655, 11.682550269259515, 27.63130733712475, 11.683785980638126, 0.481261902228224128336, 0.003129905661627104018515),
    ("tiny_s", "sigmoid", 0.0014071483851539046, 0.00014118577179998828, 1.9900083305560516, 0.1996668332936563, 0.2500641985373407916887, 0.04539522447749164951476),
    ("zero", "sigmoid", 0.0, 0.0, 1.0806046117362795, 1.682941969615793, 0.25, 0.04539523075395381769478),
    ("copy_norm30", "softplus", 27.63182982008655, 11.682550269259515, 27.63182982008655, 11.682550269259515, 225.0449633302813591082, 0.4812619036366590914913),
    ("antipodal_norm30", "softplus", 27.63182982008655, 11.682550269259515, -27.63182982008655, -11.682550269259515, 0.04496333028137319877408, 0.01873809636334090850867),
    ("near_dup_norm30", "softplus", 27.63182982008655, 11.682550269259515, 27.63130733712475, 11.683785980638126, 225.0449631137169920953, 0.481261902228224128336),
    ("tiny_s", "softplus", 0.0014071483851539046, 0.00014118577179998828, 1.9900083305560516, 0.1996668332936563, 0.6260312679535360941568, 0.2500641985373407916887),
    ("zero", "softplus", 0.0, 0.0, 1.0806046117362795, 1.682941969615793, 0.6256775563349982013204, 0.25),
    ("copy_norm30", "gelu", 27.63182982008655, 11.682550269259515, 27.63182982008655, 11.682550269259515, 224.9911833436558947308, 0.502628574976857317685),
    ("antipodal_norm30", "gelu", 27.63182982008655, 11.682550269259515, -27.63182982008655, -11.682550269259515, -0.008816656344091178614965, -0.002628574976857317684984),
    ("near_dup_norm30", "gelu", 27.63182982008655, 11.682550269259515, 27.63130733712475, 11.683785980638126, 224.9911831174766813814, 0.5026285684141414984135),
    ("tiny_s", "gelu", 0.0014071483851539046, 0.00014118577179998828, 1.9900083305560516, 0.1996668332936563, 0.0003539822016602958452263, 0.2503465316806383364126),
    ("zero", "gelu", 0.0, 0.0, 1.0806046117362795, 1.682941969615793, 0.0, 0.25),
    ("copy_norm30", "custom", 27.63182982008655, 11.682550269259515, 27.63182982008655, 11.682550269259515, 0.9812031947132809406375, 0.05013176883483258916205),
    ("antipodal_norm30", "custom", 27.63182982008655, 11.682550269259515, -27.63182982008655, -11.682550269259515, -0.9609963752858533599742, 0.01228927510464423053626),
    ("near_dup_norm30", "custom", 27.63182982008655, 11.682550269259515, 27.63130733712475, 11.683785980638126, 0.9812031721543639511141, 0.05013169665645069900711),
    ("tiny_s", "custom", 0.0014071483851539046, 0.00014118577179998828, 1.9900083305560516, 0.1996668332936563, 0.2016117103650609626204, 0.4272211295158446965536),
    ("zero", "custom", 0.0, 0.0, 1.0806046117362795, 1.682941969615793, 0.2010081612411477409251, 0.4268021655464129585429),
// REFS_END
];

/// Depth L = 3, β = 0, tanh: (Σ^(3), Σ̇^(3), Θ^(3)) from the recursion in mpmath
/// (`python3 tools/limit_reference_pairs.py --depth3 tanh`); both layers at |ρ| = 1 or 1 − O(1e-9).
#[rustfmt::skip]
const REFS_DEPTH3: &[(&str, &str, f64, f64, f64, f64, f64, f64, f64)] = &[
    ("antipodal_norm30", "tanh", 27.63182982008655, 11.682550269259515, -27.63182982008655, -11.682550269259515, -0.3873393682784496842702, 0.4712529586738498955826, -6.156499612294972980259),
    ("near_dup_norm30", "tanh", 27.63182982008655, 11.682550269259515, 27.63130733712475, 11.683785980638126, 0.387339362962919947589, 0.4712529552623354632396, 6.156497642056567395746),
];

fn activation(name: &str) -> Activation {
    common::reference_activation(name)
}

#[test]
fn numerical_expectations_match_mpmath_on_hard_pairs() {
    assert!(!REFS.is_empty());
    let mut worst: f64 = 0.0;
    for &(case, act, x0, x1, y0, y1, e_ref, ed_ref) in REFS {
        let spec = LimitSpec::new(2, activation(act), 0.0);
        let (x, y) = ([x0, x1], [y0, y1]);
        let (mut e, mut ed) = ([0.0], [0.0]);
        limit_kernel(
            &spec,
            MatRef::from_row_major(&x, 1, 2),
            Some(MatRef::from_row_major(&y, 1, 2)),
            LimitOutputs {
                nngp: Some(MatMut::from_row_major(&mut e, 1, 1)),
                sigma_dot: Some(MatMut::from_row_major(&mut ed, 1, 1)),
                ntk: None,
            },
            &mut Progress::none(),
        )
        .unwrap();
        for (what, got, want) in [("E", e[0], e_ref), ("E'", ed[0], ed_ref)] {
            let err = if want == 0.0 {
                got.abs()
            } else {
                ((got - want) / want).abs()
            };
            worst = worst.max(err);
            assert!(
                err <= 1e-10,
                "{act} {case} {what}: {got:e} vs reference {want:e} (relative error {err:e})"
            );
        }
    }
    eprintln!("worst relative error against mpmath: {worst:e}");
}

#[test]
fn depth_three_tanh_kernels_match_the_mpmath_recursion() {
    assert!(!REFS_DEPTH3.is_empty());
    for &(case, act, x0, x1, y0, y1, s_ref, d_ref, t_ref) in REFS_DEPTH3 {
        let spec = LimitSpec::new(3, activation(act), 0.0);
        let (x, y) = ([x0, x1], [y0, y1]);
        let (mut s, mut d, mut t) = ([0.0], [0.0], [0.0]);
        limit_kernel(
            &spec,
            MatRef::from_row_major(&x, 1, 2),
            Some(MatRef::from_row_major(&y, 1, 2)),
            LimitOutputs {
                nngp: Some(MatMut::from_row_major(&mut s, 1, 1)),
                sigma_dot: Some(MatMut::from_row_major(&mut d, 1, 1)),
                ntk: Some(MatMut::from_row_major(&mut t, 1, 1)),
            },
            &mut Progress::none(),
        )
        .unwrap();
        for (what, got, want) in [
            ("Sigma", s[0], s_ref),
            ("SigmaDot", d[0], d_ref),
            ("Theta", t[0], t_ref),
        ] {
            let err = ((got - want) / want).abs();
            assert!(
                err <= 1e-10,
                "{act} {case} depth 3 {what}: {got:e} vs reference {want:e} (relative error {err:e})"
            );
        }
    }
}
