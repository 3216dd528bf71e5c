//! Θ_emp → Θ_∞ at rate n^−½ for a heterogeneous architecture (per-layer σ_w, σ_b and
//! activations: ReLU, erf, tanh (numerical method)), in each parameterization (issue #13).
//!
//! Hidden widths n ∈ {64, 256, 1024}; for each, the relative Frobenius error
//! ‖Θ_emp − Θ_∞‖/‖Θ_∞‖ (trace mode, 4 points) is averaged over 6 seeds; the least-squares slope
//! of log error against log n must be −½ within ±0.2 (Jacot et al. 2018, Thm 1 and 2; for the
//! standard parameterization Θ_∞ is neural-tangents' width-dependent limit, whose relative
//! fluctuations are also O(n^−½)). The limit itself is checked against neural-tangents in
//! tests/arch_nt.rs.

use ntk::activation::Activation;
use ntk::kernel::empirical::{self, KernelMethod, KernelMode};
use ntk::kernel::limit::{limit_kernel, LimitOutputs, LimitSpec};
use ntk::linalg::{MatMut, MatRef};
use ntk::network::{Architecture, LayerSpec, Network, Parameterization};
use ntk::parallel::Progress;

fn arch(n: usize, p: Parameterization, seed: u64) -> Architecture {
    let spec = |sigma_w: f64, sigma_b: f64, activation: Option<Activation>| LayerSpec {
        sigma_w,
        sigma_b,
        activation,
    };
    Architecture {
        widths: vec![3, n, n, n, 2],
        layers: vec![
            spec(1.4, 0.3, Some(Activation::Relu)),
            spec(0.9, 0.0, Some(Activation::Erf)),
            spec(1.7, 0.6, Some(Activation::Tanh)),
            spec(1.1, 0.2, None),
        ],
        parameterization: p,
        seed,
    }
}

fn slope(p: Parameterization) -> (f64, Vec<f64>) {
    let x = [
        0.8, -0.3, 1.1, -0.5, 0.9, 0.2, 1.3, 0.4, -0.7, 0.1, -1.2, 0.6,
    ];
    let xv = MatRef::from_row_major(&x, 4, 3);
    let widths = [64usize, 256, 1024];
    let mut errs = Vec::new();
    for &n in &widths {
        let spec = LimitSpec::of_architecture(&arch(n, p, 0));
        let mut lim = vec![0.0; 16];
        limit_kernel(
            &spec,
            xv,
            None,
            LimitOutputs {
                nngp: None,
                sigma_dot: None,
                ntk: Some(MatMut::from_row_major(&mut lim, 4, 4)),
            },
            &mut Progress::none(),
        )
        .unwrap();
        let norm = lim.iter().map(|v| v * v).sum::<f64>().sqrt();
        let mut mean = 0.0;
        let seeds = 6;
        for seed in 0..seeds {
            let net = Network::with_architecture(arch(n, p, 100 + seed)).unwrap();
            let (t, _, _) =
                empirical::empirical_ntk_vec(&net, xv, None, KernelMode::Trace, KernelMethod::Auto)
                    .unwrap();
            let d = t
                .iter()
                .zip(&lim)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt();
            mean += d / norm / seeds as f64;
        }
        errs.push(mean);
    }
    let lx: Vec<f64> = widths.iter().map(|&n| (n as f64).ln()).collect();
    let ly: Vec<f64> = errs.iter().map(|e| e.ln()).collect();
    let (mx, my) = (lx.iter().sum::<f64>() / 3.0, ly.iter().sum::<f64>() / 3.0);
    let num: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    let den: f64 = lx.iter().map(|a| (a - mx) * (a - mx)).sum();
    (num / den, errs)
}

#[test]
fn ntk_parameterization_converges_at_rate_one_over_sqrt_n() {
    let (s, errs) = slope(Parameterization::Ntk);
    eprintln!("NTK parameterization: errors {errs:?}, slope {s}");
    assert!((s + 0.5).abs() <= 0.2, "slope {s}, errors {errs:?}");
    assert!(errs[2] < 0.1, "{errs:?}");
}

#[test]
fn standard_parameterization_converges_at_rate_one_over_sqrt_n() {
    let (s, errs) = slope(Parameterization::Standard);
    eprintln!("standard parameterization: errors {errs:?}, slope {s}");
    assert!((s + 0.5).abs() <= 0.2, "slope {s}, errors {errs:?}");
    assert!(errs[2] < 0.1, "{errs:?}");
}
