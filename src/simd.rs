//! The one place that decides which instruction set the vector loops run with.
//!
//! The hot loops of the limit kernel (the per-tile layer chain, the near-duplicate fix-up, the
//! Mehler series, the branch-free `atan2`) are plain element-wise Rust that LLVM vectorizes. Each
//! is compiled several times, once per [`Isa`] level, with the crate-internal `simd::dispatch!`
//! (one `#[inline(always)]` body, one `#[target_feature]` copy per level, one `match` on the
//! level); the level is decided once per process ([`active`]), as in matrixmultiply's single
//! `detect()`.
//!
//! # The levels
//! - [`Isa::Avx512`]: AVX-512F with AVX2 and FMA (the 512-bit loops also use AVX2/FMA
//!   encodings).
//! - [`Isa::Avx2`]: AVX2 with FMA.
//! - [`Isa::Scalar`]: the target's baseline (SSE2 on x86-64); the only level elsewhere.
//!
//! # Overriding it: `NTK_SIMD`
//! The environment variable `NTK_SIMD=scalar|avx2|avx512` (case-insensitive), read once at the
//! first kernel call, lowers the level, for testing and for comparing the copies. It can only
//! lower it: a level above what the CPU has ([`detected`]) runs at the CPU's level, since the
//! other code would not run. An unset, empty or unrecognised value leaves the detected level.
//!
//! # What the levels promise: the same bits
//! Every copy evaluates the same operations in the same order. The fused multiply-adds are
//! explicit `mul_add` calls, exactly rounded on every level (an FMA instruction on AVX2 and
//! AVX-512, libm's correctly rounded `fma` on the scalar level), and Rust never contracts
//! `a * b + c` into an FMA by itself; square roots and divisions are IEEE-exact everywhere. So
//! the outputs are bit-identical at every level, as well as at every thread count;
//! tests/limit_simd.rs checks both (ReLU, erf, tanh, GELU, L = 2..5, β = 0 and 0.3, with
//! near-duplicate and antipodal pairs) by running the kernels under each level this CPU has.
//!
//! The matrix products (matrixmultiply, faer) choose their own kernels from the hardware and do
//! not look at `NTK_SIMD`.
//!
//! ```
//! use ntk::simd::{active, detected, Isa};
//! // The level in use never exceeds what the CPU has; with NTK_SIMD=scalar it is Scalar.
//! assert!(active() <= detected());
//! assert_eq!(Isa::from_name("AVX2"), Some(Isa::Avx2));
//! println!("limit kernels vectorized at {} ({} detected)", active().name(), detected().name());
//! ```

use std::sync::OnceLock;

/// An instruction-set level of the vector loops, in increasing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// The target's baseline instructions (SSE2 on x86-64).
    Scalar,
    /// AVX2 and FMA.
    Avx2,
    /// AVX-512F, with AVX2 and FMA.
    Avx512,
}

impl Isa {
    /// Every level, lowest first. (A function, not an associated constant: cbindgen would put
    /// the type of a public constant into include/ntk.h.)
    pub const fn all() -> [Isa; 3] {
        [Isa::Scalar, Isa::Avx2, Isa::Avx512]
    }

    /// The name `NTK_SIMD` takes for this level: `"scalar"`, `"avx2"` or `"avx512"`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// The level named `s` (as [`Isa::name`] writes it, any case, surrounding blanks ignored).
    pub fn from_name(s: &str) -> Option<Isa> {
        let s = s.trim();
        Isa::all()
            .into_iter()
            .find(|isa| isa.name().eq_ignore_ascii_case(s))
    }
}

/// The instruction-set extensions of this CPU that the crate cares about, detected once.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CpuFeatures {
    pub(crate) avx2: bool,
    pub(crate) fma: bool,
    pub(crate) avx512f: bool,
}

/// This CPU's features (not affected by `NTK_SIMD`: used where a dependency's own run-time
/// detection must be mirrored, e.g. faer's choice of its x86 GEMM backend).
pub(crate) fn cpu() -> CpuFeatures {
    static CPU: OnceLock<CpuFeatures> = OnceLock::new();
    *CPU.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            CpuFeatures {
                avx2: std::arch::is_x86_feature_detected!("avx2"),
                fma: std::arch::is_x86_feature_detected!("fma"),
                avx512f: std::arch::is_x86_feature_detected!("avx512f"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            CpuFeatures::default()
        }
    })
}

/// The highest level this CPU can run (ignores `NTK_SIMD`).
pub fn detected() -> Isa {
    let f = cpu();
    if f.avx512f && f.avx2 && f.fma {
        Isa::Avx512
    } else if f.avx2 && f.fma {
        Isa::Avx2
    } else {
        Isa::Scalar
    }
}

/// The level the vector loops run at: [`detected`], lowered by `NTK_SIMD` when set (see the
/// module documentation). Decided at the first call and fixed for the life of the process.
pub fn active() -> Isa {
    static ACTIVE: OnceLock<Isa> = OnceLock::new();
    *ACTIVE.get_or_init(|| {
        let requested = std::env::var("NTK_SIMD")
            .ok()
            .and_then(|v| Isa::from_name(&v));
        clamp(requested.unwrap_or(Isa::Avx512))
    })
}

/// `isa`, lowered to what this CPU can run: the level [`dispatch!`] actually uses when asked for
/// `isa`. Running a copy compiled for a higher level than [`detected`] would be undefined
/// behaviour, so every dispatch goes through this.
pub(crate) fn clamp(isa: Isa) -> Isa {
    isa.min(detected())
}

/// Runs a body compiled for an instruction-set level:
///
/// ```ignore
/// crate::simd::dispatch!(crate::simd::active(); fn(a: &[f64], out: &mut [f64]) {
///     for (o, x) in out.iter_mut().zip(a) { *o = x.mul_add(*x, 1.0) }
/// })
/// ```
///
/// The `fn(..)` lists the local variables passed in (by name, with their types; `self` cannot
/// be captured, bind it to a name first), an optional `-> T` the result, and the block the body,
/// which sees only those parameters (and items in scope). The macro defines the body as an
/// `#[inline(always)]` function, one `#[target_feature]` copy of it per x86-64 level
/// (AVX-512F+AVX2+FMA, AVX2+FMA) into which it is inlined, and calls the copy of
/// [`clamp`]`(level)`. `unsafe fn(..)` makes the body an `unsafe fn`: the invocation is then an
/// unsafe operation under the body's own contract (wrap it in `unsafe { }` with a `// SAFETY:`).
macro_rules! dispatch {
    ($isa:expr; fn($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {{
        #[inline(always)]
        #[allow(clippy::too_many_arguments)]
        fn body($($arg: $ty),*) $(-> $ret)? $body
        $crate::simd::dispatch!(@copies $($arg: $ty),*; $($ret)?);
        #[inline(always)]
        #[allow(clippy::too_many_arguments)]
        fn dispatched(isa: $crate::simd::Isa, $($arg: $ty),*) $(-> $ret)? {
            $crate::simd::dispatch!(@match isa; $($arg),*)
        }
        dispatched($isa, $($arg),*)
    }};
    ($isa:expr; unsafe fn($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {{
        #[inline(always)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn body($($arg: $ty),*) $(-> $ret)? $body
        $crate::simd::dispatch!(@copies $($arg: $ty),*; $($ret)?);
        /// # Safety
        /// `body`'s contract.
        #[inline(always)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn dispatched(isa: $crate::simd::Isa, $($arg: $ty),*) $(-> $ret)? {
            $crate::simd::dispatch!(@match isa; $($arg),*)
        }
        dispatched($isa, $($arg),*)
    }};
    (@copies $($arg:ident : $ty:ty),*; $($ret:ty)?) => {
        $crate::simd::dispatch!(@copy avx512, "avx512f,avx2,fma"; $($arg: $ty),*; $($ret)?);
        $crate::simd::dispatch!(@copy avx2, "avx2,fma"; $($arg: $ty),*; $($ret)?);
    };
    (@copy $name:ident, $features:literal; $($arg:ident : $ty:ty),*; $($ret:ty)?) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name($($arg: $ty),*) $(-> $ret)? {
            // SAFETY: forwarded: `body`'s contract (if it is an `unsafe fn`) is the caller's.
            #[allow(unused_unsafe)]
            unsafe { body($($arg),*) }
        }
    };
    (@match $isa:ident; $($arg:ident),*) => {
        match $crate::simd::clamp($isa) {
            // SAFETY: `clamp` never returns a level above `detected()`, so this CPU has the
            // copy's target features; `body`'s own contract (if any) is that of `dispatched`.
            #[cfg(target_arch = "x86_64")]
            $crate::simd::Isa::Avx512 => unsafe { avx512($($arg),*) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            $crate::simd::Isa::Avx2 => unsafe { avx2($($arg),*) },
            // SAFETY: no target features; `body`'s own contract (if any) is that of `dispatched`.
            #[allow(unused_unsafe)]
            _ => unsafe { body($($arg),*) },
        }
    };
}
pub(crate) use dispatch;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_clamp_never_exceeds_the_cpu() {
        for isa in Isa::all() {
            assert_eq!(Isa::from_name(isa.name()), Some(isa));
            assert_eq!(
                Isa::from_name(&format!(" {} ", isa.name().to_uppercase())),
                Some(isa)
            );
            assert!(clamp(isa) <= detected());
            assert!(clamp(isa) <= isa);
        }
        assert_eq!(Isa::from_name("sse9"), None);
        assert_eq!(Isa::from_name(""), None);
        assert_eq!(clamp(Isa::Scalar), Isa::Scalar);
        assert!(active() <= detected());
    }

    #[test]
    fn dispatch_runs_each_level_with_the_same_bits() {
        // A loop whose FMAs are explicit: every level gives the same bits; a level the CPU
        // lacks runs the highest one it has.
        let a: Vec<f64> = (0..1000).map(|k| (k as f64 * 0.37).sin() * 1e3).collect();
        let run = |isa: Isa| {
            let mut out = vec![0.0; a.len()];
            let x = &a[..];
            let o = &mut out[..];
            dispatch!(isa; fn(x: &[f64], o: &mut [f64]) {
                for (o, &v) in o.iter_mut().zip(x) {
                    *o = v.mul_add(v, -1.0 / 3.0).sqrt() / (v * v + 1.0);
                }
            });
            out
        };
        let want = run(Isa::Scalar);
        for isa in Isa::all() {
            let got = run(isa);
            assert!(want
                .iter()
                .zip(&got)
                .all(|(p, q)| p.to_bits() == q.to_bits()));
        }
        // The unsafe form, with a result.
        let x = &a[..];
        // SAFETY: the body has no contract beyond its arguments' types.
        let s = unsafe {
            dispatch!(active(); unsafe fn(x: &[f64]) -> f64 {
                x.iter().fold(0.0, |s: f64, v| s.mul_add(0.5, *v))
            })
        };
        assert_eq!(s, x.iter().fold(0.0, |s: f64, v| s.mul_add(0.5, *v)));
    }
}
