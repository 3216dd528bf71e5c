//! The loss: costs c(f, y) of one point and their output gradients (residuals) d = ∂c/∂f —
//! d = f − y for MSE, d = softmax(f) − y for softmax cross-entropy with targets summing to one.
//!
//! One definition serves the kernel flow ([`crate::flow`]) and the trainer ([`mod@crate::train`]):
//! both use the empirical cost C = (1/N)·Σ_i c(f(x_i), y_i), so that
//! gradient descent on θ moves the outputs by ∂_t f(x) = −(1/N)·Σ_j Θ(x, x_j)·d(x_j).

/// A per-point cost. New costs add a variant and the two methods below.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cost {
    /// c = ½‖f − y‖², d = f − y.
    Mse,
    /// Softmax cross-entropy c = −Σ_c y_c·log softmax(f)_c, d = softmax(f)·Σ_c y_c − y
    /// (= softmax(f) − y for targets that sum to one, e.g. one-hot rows).
    CrossEntropy,
}

impl Cost {
    /// c(f, y) for one point (f, y of length k).
    pub fn value(&self, f: &[f64], y: &[f64]) -> f64 {
        match self {
            Cost::Mse => 0.5 * f.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum::<f64>(),
            Cost::CrossEntropy => {
                let lse = log_sum_exp(f);
                f.iter().zip(y).map(|(fi, yi)| yi * (lse - fi)).sum()
            }
        }
    }

    /// d = ∂c/∂f for one point, written into `d`.
    pub fn gradient(&self, f: &[f64], y: &[f64], d: &mut [f64]) {
        match self {
            Cost::Mse => {
                for ((di, fi), yi) in d.iter_mut().zip(f).zip(y) {
                    *di = fi - yi;
                }
            }
            Cost::CrossEntropy => {
                let lse = log_sum_exp(f);
                let ysum: f64 = y.iter().sum();
                for ((di, fi), yi) in d.iter_mut().zip(f).zip(y) {
                    *di = (fi - lse).exp() * ysum - yi;
                }
            }
        }
    }

    /// C = (1/N)·Σ_i c(f_i, y_i) for row-major N × k outputs and targets.
    pub fn mean(&self, f: &[f64], y: &[f64], k: usize) -> f64 {
        let n = f.len() / k.max(1);
        if n == 0 {
            return 0.0;
        }
        let s: f64 = f
            .chunks(k)
            .zip(y.chunks(k))
            .map(|(fi, yi)| self.value(fi, yi))
            .sum();
        s / n as f64
    }

    /// Row-wise gradients d_i = ∂c/∂f(f_i, y_i) of row-major N × k arrays.
    pub fn gradients(&self, f: &[f64], y: &[f64], k: usize, d: &mut [f64]) {
        for ((fi, yi), di) in f.chunks(k).zip(y.chunks(k)).zip(d.chunks_mut(k)) {
            self.gradient(fi, yi, di);
        }
    }
}

/// log Σ exp(f_c), computed stably (max subtracted).
pub(crate) fn log_sum_exp(f: &[f64]) -> f64 {
    let m = f.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + f.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradients_match_central_differences() {
        let f = [0.3, -1.2, 2.0];
        let y = [0.0, 1.0, 0.0];
        for cost in [Cost::Mse, Cost::CrossEntropy] {
            let mut d = [0.0; 3];
            cost.gradient(&f, &y, &mut d);
            for c in 0..3 {
                let h = 1e-6;
                let mut up = f;
                up[c] += h;
                let mut dn = f;
                dn[c] -= h;
                let fd = (cost.value(&up, &y) - cost.value(&dn, &y)) / (2.0 * h);
                assert!((fd - d[c]).abs() < 1e-8, "{cost:?} {c}: {fd} vs {}", d[c]);
            }
        }
    }
}
