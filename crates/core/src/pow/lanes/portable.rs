//! Four `u32` lanes as a plain array: the lanes on native targets and on wasm without
//! `simd128`, so the native tests run the same rounds the browser's SIMD build runs.

use std::ops::{Add, BitXor};

#[derive(Debug, Clone, Copy)]
pub struct U32x4([u32; 4]);

impl U32x4 {
    pub fn new(lanes: [u32; 4]) -> U32x4 {
        U32x4(lanes)
    }

    pub fn splat(word: u32) -> U32x4 {
        U32x4([word; 4])
    }

    pub fn rotr(self, bits: u32) -> U32x4 {
        U32x4(self.0.map(|x| x.rotate_right(bits)))
    }

    pub fn shr(self, bits: u32) -> U32x4 {
        U32x4(self.0.map(|x| x >> bits))
    }

    /// SHA-256's Ch: `f` where `self` has a one bit, else `g`.
    pub fn choose(self, f: U32x4, g: U32x4) -> U32x4 {
        U32x4(std::array::from_fn(|i| {
            (self.0[i] & f.0[i]) | (!self.0[i] & g.0[i])
        }))
    }

    /// SHA-256's Maj: each bit as at least two of `self`, `b`, `c` have it.
    pub fn majority(self, b: U32x4, c: U32x4) -> U32x4 {
        U32x4(std::array::from_fn(|i| {
            (self.0[i] & b.0[i]) | (c.0[i] & (self.0[i] | b.0[i]))
        }))
    }

    #[cfg(test)]
    pub fn lanes(self) -> [u32; 4] {
        self.0
    }

    /// Whether any lane is at most `bound`.
    pub fn any_at_most(self, bound: u32) -> bool {
        self.0.iter().any(|&x| x <= bound)
    }
}

impl Add for U32x4 {
    type Output = U32x4;

    fn add(self, other: U32x4) -> U32x4 {
        U32x4(std::array::from_fn(|i| self.0[i].wrapping_add(other.0[i])))
    }
}

impl BitXor for U32x4 {
    type Output = U32x4;

    fn bitxor(self, other: U32x4) -> U32x4 {
        U32x4(std::array::from_fn(|i| self.0[i] ^ other.0[i]))
    }
}
