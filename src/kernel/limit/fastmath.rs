//! Branch-free `atan2` over contiguous arrays, so that LLVM vectorizes it.
//!
//! The arc-cosine (ReLU) and arcsine (erf) kernels need one inverse trigonometric function per
//! pair and layer; scalar `atan2` costs about 30 ns here, which alone would exceed the time budget
//! of a ReLU kernel of N = 2000. [`atan2_upper`] (and the test-only full-circle `atan2_inline`) evaluate θ = atan2(y, x)
//! with fdlibm's polynomial (Sun Microsystems, the one in the `libm` crate) but without
//! branches: a = min(|x|,|y|)/max(|x|,|y|) ∈ [0, 1] is reduced to |t| ≤ tan(π/8) with one
//! division ([`atan_ratio`]), atan(t) comes from fdlibm's degree-11 polynomial in t², and the
//! quadrant is restored with (hi, lo) splits of π/2 and π. Every step is a select, so a loop
//! over these is straight-line code. The error is at most 2 ulp measured against `libm::atan2`.
//!
//! The vector loops are compiled for AVX-512F, for AVX2+FMA and portably (chosen at run time by
//! [`crate::simd`]). All evaluate the same operations; the fused
//! multiply-adds are explicit `mul_add` calls (exactly rounded on every path) and the compiler
//! forms no others, so every path gives the same bits.

/// atan(1) = π/4 split as hi + lo (fdlibm).
const ATAN1_HI: f64 = 7.853_981_633_974_483e-1;
const ATAN1_LO: f64 = 3.061_616_997_868_383e-17;
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

/// tan(π/8) = √2 − 1: the switch between the two reductions of [`atan_ratio`].
const TAN_PI_8: f64 = 0.414_213_562_373_095_03;

/// atan(mn/mx) for 0 ≤ mn ≤ mx, branch-free, with one division; atan(0/0) is taken as 0.
///
/// With a = mn/mx: for a ≤ tan(π/8), t = a; above, atan a = π/4 + atan t with
/// t = (a − 1)/(a + 1), evaluated as (mn − mx)/(mn + mx) (exact numerator for a ≥ ½ by
/// Sterbenz). Either way |t| ≤ tan(π/8) < 0.4375, where fdlibm's degree-11 polynomial in t²
/// is accurate; it is evaluated in Horner form with fused multiply-adds (`mul_add` is exactly
/// rounded everywhere: a hardware instruction on the AVX2/AVX-512 paths, libm's `fma` on the
/// portable one, so every path gives the same bits). Measured ≤ 2 ulp against `libm::atan2`.
/// `MAYBE_ZERO = false` promises mx > 0 and leaves out the guard.
#[inline(always)]
fn atan_ratio<const MAYBE_ZERO: bool>(mn: f64, mx: f64) -> f64 {
    let big = mn > TAN_PI_8 * mx; // false when mx = 0
    let num = if big { mn - mx } else { mn };
    let den = if big { mn + mx } else { mx };
    let den = if !MAYBE_ZERO || mx > 0.0 { den } else { 1.0 };
    let hi = if big { ATAN1_HI } else { 0.0 };
    let lo = if big { ATAN1_LO } else { 0.0 };
    // (An f32-seeded Newton quotient instead of this division measured 12 % slower here.)
    let t = num / den;
    let z = t * t;
    let w = z * z;
    let s1 = w.mul_add(AT[10], AT[8]);
    let s1 = w.mul_add(s1, AT[6]);
    let s1 = w.mul_add(s1, AT[4]);
    let s1 = w.mul_add(s1, AT[2]);
    let s1 = w.mul_add(s1, AT[0]) * z;
    let s2 = w.mul_add(AT[9], AT[7]);
    let s2 = w.mul_add(s2, AT[5]);
    let s2 = w.mul_add(s2, AT[3]);
    let s2 = w.mul_add(s2, AT[1]) * w;
    hi - (t.mul_add(s1 + s2, -lo) - t)
}

/// atan2(y, x) ∈ [0, π] for y ≥ 0 (finite x, y), branch-free, one division;
/// atan2(0, 0) = 0. The arc-cosine kernels call it with y = √det.
#[inline(always)]
pub fn atan2_upper(y: f64, x: f64) -> f64 {
    atan2_upper_impl::<true>(y, x)
}

/// [`atan2_upper`] for (y, x) ≠ (0, 0) (two instructions fewer; at (0, 0) it returns NaN).
#[inline(always)]
pub fn atan2_upper_nonzero(y: f64, x: f64) -> f64 {
    atan2_upper_impl::<false>(y, x)
}

#[inline(always)]
fn atan2_upper_impl<const MAYBE_ZERO: bool>(y: f64, x: f64) -> f64 {
    let ax = x.abs();
    let swap = y > ax;
    let mx = if swap { y } else { ax };
    let mn = if swap { ax } else { y };
    let t = atan_ratio::<MAYBE_ZERO>(mn, mx);
    // θ(y, x) = c_hi + (s·t + c_lo)
    let xneg = x < 0.0;
    let (c_hi, c_lo, s) = match (swap, xneg) {
        (false, false) => (0.0, 0.0, 1.0),
        (false, true) => (PI_HI, PI_LO, -1.0),
        (true, false) => (PIO2_HI, PIO2_LO, -1.0),
        (true, true) => (PIO2_HI, PIO2_LO, 1.0),
    };
    c_hi + (s * t + c_lo)
}

#[cfg(test)]
/// atan2(y, x) for finite x, y, branch-free; atan2(±0, 0) = 0 (the callers special-case it).
#[inline(always)]
pub fn atan2_inline(y: f64, x: f64) -> f64 {
    let th = atan2_upper(y.abs(), x);
    if y < 0.0 {
        -th
    } else {
        th
    }
}

#[cfg(test)]
#[inline(always)]
fn atan2_loop(y: &[f64], x: &[f64], out: &mut [f64]) {
    let n = out.len().min(x.len()).min(y.len());
    let (y, x, out) = (&y[..n], &x[..n], &mut out[..n]);
    for k in 0..n {
        out[k] = atan2_inline(y[k], x[k]);
    }
}

#[cfg(test)]
/// out[k] = atan2(y[k], x[k]) over the common length of the slices, at the level `isa`.
pub fn atan2_slice(isa: crate::simd::Isa, y: &[f64], x: &[f64], out: &mut [f64]) {
    crate::simd::dispatch!(isa; fn(y: &[f64], x: &[f64], out: &mut [f64]) {
        atan2_loop(y, x, out)
    })
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
            // Subnormal and huge operands (the scaling in `quotient`).
            (5e-324, 1.0),
            (1e-310, 3e-310),
            (3e-310, -1e-310),
            (2.5e-308, 2.0e-308),
            (1.0e308, 2.0e307),
            (-3.0e307, 8.0e307),
        ] {
            ys.push(y);
            xs.push(x);
        }
        let mut portable = vec![0.0; xs.len()];
        atan2_loop(&ys, &xs, &mut portable);
        for isa in crate::simd::Isa::all() {
            let mut other = vec![0.0; xs.len()];
            atan2_slice(isa, &ys, &xs, &mut other);
            for k in 0..xs.len() {
                assert_eq!(other[k].to_bits(), portable[k].to_bits(), "{isa:?} differs");
            }
        }
        let mut out = vec![0.0; xs.len()];
        atan2_slice(crate::simd::active(), &ys, &xs, &mut out);
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
