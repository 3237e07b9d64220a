//! Four `u32` lanes in one wasm `v128`: what the lanes are when the crate is built for
//! wasm32 with `simd128` enabled (the mining worker's SIMD build). Every operation is
//! one or a few wasm SIMD instructions; wasm has no vector rotate, so a rotation is two
//! shifts and an or.

use core::arch::wasm32::{
    u32x4, u32x4_add, u32x4_le, u32x4_shl, u32x4_shr, u32x4_splat, v128, v128_any_true,
    v128_bitselect, v128_or, v128_xor,
};
use std::ops::{Add, BitXor};

#[derive(Debug, Clone, Copy)]
pub struct U32x4(v128);

impl U32x4 {
    pub fn new(lanes: [u32; 4]) -> U32x4 {
        U32x4(u32x4(lanes[0], lanes[1], lanes[2], lanes[3]))
    }

    pub fn splat(word: u32) -> U32x4 {
        U32x4(u32x4_splat(word))
    }

    pub fn rotr(self, bits: u32) -> U32x4 {
        U32x4(v128_or(
            u32x4_shr(self.0, bits),
            u32x4_shl(self.0, 32 - bits),
        ))
    }

    pub fn shr(self, bits: u32) -> U32x4 {
        U32x4(u32x4_shr(self.0, bits))
    }

    /// SHA-256's Ch: `f` where `self` has a one bit, else `g`.
    pub fn choose(self, f: U32x4, g: U32x4) -> U32x4 {
        U32x4(v128_bitselect(f.0, g.0, self.0))
    }

    /// SHA-256's Maj: where `self` and `b` differ, `c` decides.
    pub fn majority(self, b: U32x4, c: U32x4) -> U32x4 {
        U32x4(v128_bitselect(c.0, self.0, v128_xor(self.0, b.0)))
    }

    /// Whether any lane is at most `bound`.
    pub fn any_at_most(self, bound: u32) -> bool {
        v128_any_true(u32x4_le(self.0, u32x4_splat(bound)))
    }
}

impl Add for U32x4 {
    type Output = U32x4;

    fn add(self, other: U32x4) -> U32x4 {
        U32x4(u32x4_add(self.0, other.0))
    }
}

impl BitXor for U32x4 {
    type Output = U32x4;

    fn bitxor(self, other: U32x4) -> U32x4 {
        U32x4(v128_xor(self.0, other.0))
    }
}
