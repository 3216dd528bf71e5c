//! Branch-free `atan2` over contiguous arrays, so that LLVM vectorizes it.
//!
//! The arc-cosine (ReLU) and arcsine (erf) kernels need one inverse trigonometric function per
//! pair and layer; scalar `atan2` costs about 30 ns here, which alone would exceed the time budget
//! of a ReLU kernel of N = 2000. [`atan2_slice`] evaluates θ = atan2(y, x) element-wise with the
//! fdlibm algorithm (Sun Microsystems, the one in the `libm` crate) rewritten without branches:
//! the argument min(|x|,|y|)/max(|x|,|y|) ∈ [0, 1] is reduced by c ∈ {0, ½, 1} to
//! t = (a − c)/(1 + c·a), atan(t) comes from fdlibm's degree-11 polynomial in t², and the
//! quadrant is restored with (hi, lo) splits of π/2 and π. Every step is a select, so the loop
//! body is straight-line code. The error is at most about 1.5 ulp (tested against `libm::atan2`).
//!
//! The vector loop is compiled twice: once with `#[target_feature(enable = "avx2,fma")]`, chosen
//! at run time with `is_x86_feature_detected!`, and once portable. Both evaluate the same
//! operations (no fused multiply-add is introduced by the compiler), so they give the same bits.

const ATANHI: [f64; 2] = [4.636_476_090_008_061e-1, 7.853_981_633_974_483e-1];
const ATANLO: [f64; 2] = [2.269_877_745_296_168_7e-17, 3.061_616_997_868_383e-17];
const AT: [f64; 11] = [
    3.333_333_333_333_293e-1,
    -1.999_999_999_987_648_3e-1,
    1.428_571_427_250_346_6e-1,
    -1.111_111_040_546_235_6e-1,
    9.090_887_133_436_507e-2,
    -7.691_876_205_044_83e-2,
    6.661_073_137_387_531e-2,
    -5.833_570_133_790_573e-2,
    4.976_877_994_615_932e-2,
    -3.653_157_274_421_691_6e-2,
    1.628_582_011_536_578_2e-2,
];
const PI_HI: f64 = std::f64::consts::PI;
const PI_LO: f64 = 1.224_646_799_147_353_2e-16;
const PIO2_HI: f64 = std::f64::consts::FRAC_PI_2;
const PIO2_LO: f64 = 6.123_233_995_736_766e-17;

/// atan(a) for a ∈ [0, 1] (any a ≥ 0 below 1.1875 works), branch-free.
#[inline(always)]
fn atan01(a: f64) -> f64 {
    let ge0 = a >= 0.4375;
    let ge1 = a >= 0.6875;
    let num = if ge1 {
        a - 1.0
    } else if ge0 {
        2.0 * a - 1.0
    } else {
        a
    };
    let den = if ge1 {
        a + 1.0
    } else if ge0 {
        2.0 + a
    } else {
        1.0
    };
    let hi = if ge1 {
        ATANHI[1]
    } else if ge0 {
        ATANHI[0]
    } else {
        0.0
    };
    let lo = if ge1 {
        ATANLO[1]
    } else if ge0 {
        ATANLO[0]
    } else {
        0.0
    };
    let t = num / den;
    let z = t * t;
    let w = z * z;
    let s1 = z * (AT[0] + w * (AT[2] + w * (AT[4] + w * (AT[6] + w * (AT[8] + w * AT[10])))));
    let s2 = w * (AT[1] + w * (AT[3] + w * (AT[5] + w * (AT[7] + w * AT[9]))));
    hi - ((t * (s1 + s2) - lo) - t)
}

/// atan2(y, x) for finite x, y, branch-free; atan2(0, 0) = 0 (the callers special-case it).
#[inline(always)]
pub fn atan2_inline(y: f64, x: f64) -> f64 {
    let ax = x.abs();
    let ay = y.abs();
    let swap = ay > ax;
    let mx = if swap { ay } else { ax };
    let mn = if swap { ax } else { ay };
    let den = if mx > 0.0 { mx } else { 1.0 };
    let t = atan01(mn / den);
    let xneg = x < 0.0;
    // θ(|y|, x) = c_hi + (s·t + c_lo)
    let (c_hi, c_lo, s) = match (swap, xneg) {
        (false, false) => (0.0, 0.0, 1.0),
        (false, true) => (PI_HI, PI_LO, -1.0),
        (true, false) => (PIO2_HI, PIO2_LO, -1.0),
        (true, true) => (PIO2_HI, PIO2_LO, 1.0),
    };
    let th = c_hi + (s * t + c_lo);
    if y < 0.0 {
        -th
    } else {
        th
    }
}

#[inline(always)]
fn atan2_loop(y: &[f64], x: &[f64], out: &mut [f64]) {
    let n = out.len().min(x.len()).min(y.len());
    let (y, x, out) = (&y[..n], &x[..n], &mut out[..n]);
    for k in 0..n {
        out[k] = atan2_inline(y[k], x[k]);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn atan2_loop_avx2(y: &[f64], x: &[f64], out: &mut [f64]) {
    atan2_loop(y, x, out)
}

/// True when the AVX2+FMA versions of the vector loops can run on this CPU.
#[inline]
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// out[k] = atan2(y[k], x[k]) over the common length of the slices.
pub fn atan2_slice(y: &[f64], x: &[f64], out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx2() {
            // SAFETY: the CPU supports the enabled features (checked above).
            return unsafe { atan2_loop_avx2(y, x, out) };
        }
    }
    atan2_loop(y, x, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulp_err(got: f64, want: f64) -> f64 {
        if got == want {
            return 0.0;
        }
        let ulp = if want == 0.0 {
            f64::MIN_POSITIVE
        } else {
            let b = want.abs().to_bits();
            f64::from_bits(b + 1) - f64::from_bits(b)
        };
        (got - want).abs() / ulp
    }

    #[test]
    fn atan2_matches_libm_to_about_one_ulp() {
        let mut ys = Vec::new();
        let mut xs = Vec::new();
        let mut state = 12345u64;
        for _ in 0..200_000 {
            let u = crate::rng::splitmix64(&mut state);
            let v = crate::rng::splitmix64(&mut state);
            let w = crate::rng::splitmix64(&mut state);
            let e1 = ((u >> 58) as i32) - 32;
            let e2 = ((w >> 58) as i32) - 32;
            let m1 = (u >> 11) as f64 / (1u64 << 53) as f64;
            let m2 = (v >> 11) as f64 / (1u64 << 53) as f64;
            let sy = if w & 1 == 0 { 1.0 } else { -1.0 };
            let sx = if w & 2 == 0 { 1.0 } else { -1.0 };
            ys.push(sy * m1 * 2f64.powi(e1));
            xs.push(sx * m2 * 2f64.powi(e2));
        }
        // Edge cases: axes, diagonals, the reduction thresholds, tiny and huge ratios.
        for &(y, x) in &[
            (0.0, 1.0),
            (0.0, -1.0),
            (1.0, 0.0),
            (-1.0, 0.0),
            (1.0, 1.0),
            (1.0, -1.0),
            (-1.0, -1.0),
            (0.4375, 1.0),
            (0.6875, 1.0),
            (0.437_499_999_999_999_94, 1.0),
            (1e-300, 1.0),
            (1.0, 1e-300),
            (1e-20, -1.0),
            (3.0, 1e300),
            (1e-8, 1.0),
            (1.0, 1.0 - 1e-16),
        ] {
            ys.push(y);
            xs.push(x);
        }
        let mut out = vec![0.0; xs.len()];
        atan2_slice(&ys, &xs, &mut out);
        let mut portable = vec![0.0; xs.len()];
        atan2_loop(&ys, &xs, &mut portable);
        let mut worst: f64 = 0.0;
        let mut worst_rel: f64 = 0.0;
        for k in 0..xs.len() {
            let want = libm::atan2(ys[k], xs[k]);
            assert_eq!(out[k].to_bits(), portable[k].to_bits(), "dispatch differs");
            worst = worst.max(ulp_err(out[k], want));
            if want != 0.0 {
                let r = ((out[k] - want) / want).abs();
                worst_rel = worst_rel.max(r);
            }
        }
        eprintln!("atan2: worst {worst} ulp, worst relative {worst_rel:e}");
        assert!(worst <= 2.0, "worst error {worst} ulp");
        // 2 ulp of a value in [2, π) is 4.4e-16 relative; libm itself is within 1 ulp.
        assert!(worst_rel <= 4.5e-16, "worst relative error {worst_rel}");
        assert_eq!(atan2_inline(0.0, 0.0), 0.0);
    }
}
