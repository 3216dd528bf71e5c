//! 64-bit FNV-1a (Fowler–Noll–Vo), the fingerprint of the prepared kernel inputs: the network of
//! [`super::empirical::prepared`] and the limit spec of [`super::limit::prepared`].
//!
//! h_0 = 0xcbf29ce484222325, then for every byte b: h ← (h ⊕ b)·0x100000001b3 mod 2^64. Not a
//! cryptographic hash: it only guards against combining features or points prepared for another
//! network or spec by mistake. One byte costs one xor and one multiply.

/// The FNV-1a state.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fnv1a(u64);

impl Fnv1a {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    /// The empty hash (the offset basis).
    pub(crate) fn new() -> Fnv1a {
        Fnv1a(Self::OFFSET)
    }

    /// Feeds `bytes` in order.
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    /// The hash of everything written so far.
    pub(crate) fn finish(self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_vectors() {
        // The published FNV-1a 64 test vectors (Fowler, Noll, Vo; draft-eastlake-fnv).
        for (input, expect) in [
            (&b""[..], 0xcbf2_9ce4_8422_2325u64),
            (b"a", 0xaf63_dc4c_8601_ec8c),
            (b"foobar", 0x8594_4171_f739_67e8),
        ] {
            let mut h = Fnv1a::new();
            h.write(input);
            assert_eq!(h.finish(), expect, "{input:?}");
        }
    }
}
