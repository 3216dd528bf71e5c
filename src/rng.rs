//! The parameter stream: platform-independent, documented, and independent of thread count.
//!
//! - Seeding: `splitmix64` (Steele, Lea & Flood 2014) expands a 64-bit key into the 256-bit state
//!   of `xoshiro256++` (Blackman & Vigna 2019).
//! - Streams: the parameters of weight layer `l` (0-based) come from their own stream keyed by
//!   `seed ^ (0x9E3779B97F4A7C15 * (l + 1))`; the stream first yields W^(l) in row-major order
//!   (n_{l+1} rows of n_l entries), then b^(l).
//! - Uniforms: `u = ((x >> 11) + 0.5) * 2^-53`, strictly inside (0, 1).
//! - Normals: Box–Muller on consecutive uniforms (u1, u2): `r = sqrt(-2 ln u1)`,
//!   `z1 = r cos(2π u2)`, `z2 = r sin(2π u2)`, using the pure-Rust `libm` so the bits do not depend
//!   on the platform's C math library.

/// One step of splitmix64; used only to seed xoshiro.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256++ generator with a Box–Muller normal cache.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
    cached_normal: Option<f64>,
}

impl Rng {
    /// Generator whose state is four splitmix64 outputs from `key`.
    pub fn new(key: u64) -> Self {
        let mut sm = key;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Rng {
            s,
            cached_normal: None,
        }
    }

    /// The stream of weight layer `layer` for a network seeded with `seed`.
    pub fn for_layer(seed: u64, layer: usize) -> Self {
        Rng::new(seed ^ 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(layer as u64 + 1))
    }

    /// The next 64 bits of xoshiro256++: (s₀ + s₃) rotl 23 + s₀, then the state update.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in the open interval (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal by Box–Muller (pairs; the second value is cached).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.cached_normal.take() {
            return z;
        }
        let u1 = self.uniform();
        let u2 = self.uniform();
        let r = libm::sqrt(-2.0 * libm::log(u1));
        let (s, c) = libm::sincos(2.0 * std::f64::consts::PI * u2);
        self.cached_normal = Some(r * s);
        r * c
    }

    /// Fills `out` with standard normals.
    pub fn fill_normal(&mut self, out: &mut [f64]) {
        for x in out {
            *x = self.normal();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // Reference outputs of splitmix64 seeded with 1234567 (from the authors' C code).
        let mut s = 1234567u64;
        assert_eq!(splitmix64(&mut s), 6457827717110365317);
        assert_eq!(splitmix64(&mut s), 3203168211198807973);
    }

    #[test]
    fn normal_moments() {
        let mut r = Rng::new(42);
        let n = 200_000;
        let (mut m1, mut m2, mut m4) = (0.0, 0.0, 0.0);
        for _ in 0..n {
            let z = r.normal();
            m1 += z;
            m2 += z * z;
            m4 += z * z * z * z;
        }
        let n = n as f64;
        assert!((m1 / n).abs() < 0.01);
        assert!((m2 / n - 1.0).abs() < 0.02);
        assert!((m4 / n - 3.0).abs() < 0.08);
    }
}
