//! The proof-of-work search four nonces at a time: one SHA-256 compression per lane of
//! four `u32` lanes ([`U32x4`]), a wasm `v128` in the worker's SIMD build and a plain
//! array everywhere else, so native tests check the rounds the browser runs.
//!
//! Per nonce only two message words of the header's last block change (the nonce's two
//! halves, words 5 and 6), so [`LaneSearch::new`] computes once what does not depend on
//! them: the first five rounds, round 5 but for its word, the schedule words 16 to 19
//! and the fixed terms of words 20 to 35. A lane set then finishes only the first
//! output word; only lanes whose first word is at most the target's top word
//! (candidates) get a full hash, checked exactly with [`meets_difficulty`], so the
//! search finds the same first nonce as [`PowSearch::search`].

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod portable;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
use portable::U32x4;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use simd128::U32x4;

use std::ops::Range;

use super::{PowSearch, TAIL_NONCE};
use crate::header::{meets_difficulty, Header};

/// SHA-256's round constants (FIPS 180-4, 4.2.2).
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// The message words holding the nonce: its low and high 32 bits, byte-swapped.
const NONCE_WORD: usize = TAIL_NONCE / 4;
// `LaneSearch::word` spells out which schedule terms vary for a nonce in words 5 and 6.
const _: () = assert!(NONCE_WORD == 5, "the header layout moved the nonce");

/// Nonces per lane set.
pub const LANES: u64 = 4;

/// A header prepared for the four-lane search.
#[derive(Debug, Clone)]
pub struct LaneSearch {
    /// Hashes candidates in full; it also holds the midstate.
    scalar: PowSearch,
    /// A hash can meet the difficulty only if its first word is at most this; `None`
    /// for difficulty zero, which nothing meets.
    top_word: Option<u32>,
    /// The state after round 4, with round 5's new `a` and `e` short of its word.
    after_round4: [U32x4; 8],
    round5_a: U32x4,
    round5_e: U32x4,
    /// `K[t] + W[t]` for rounds 7 to 19, whose words are the same for every nonce.
    fixed_rounds: [U32x4; 13],
    /// Words 16 to 19 whole, and 20 to 35 short of their terms that vary.
    fixed_schedule: [U32x4; 20],
    first_word_iv: U32x4,
}

impl LaneSearch {
    pub fn new(header: &Header) -> LaneSearch {
        let scalar = PowSearch::new(header);
        let mut w = [0u32; 64];
        for (word, bytes) in w.iter_mut().zip(scalar.tail.chunks_exact(4)) {
            *word = u32::from_be_bytes(bytes.try_into().expect("4 bytes"));
        }
        // The nonce's words differ per lane; what is precomputed must not read them.
        w[NONCE_WORD] = 0;
        w[NONCE_WORD + 1] = 0;
        for t in 16..20 {
            w[t] = small1(w[t - 2])
                .wrapping_add(w[t - 7])
                .wrapping_add(small0(w[t - 15]))
                .wrapping_add(w[t - 16]);
        }
        let fixed = |t: usize| t < 20 && t != NONCE_WORD && t != NONCE_WORD + 1;
        let mut fixed_schedule = [0u32; 20];
        fixed_schedule[..4].copy_from_slice(&w[16..20]);
        for t in 20..36 {
            let terms = [
                (t - 2, small1 as fn(u32) -> u32),
                (t - 7, std::convert::identity),
                (t - 15, small0),
                (t - 16, std::convert::identity),
            ];
            fixed_schedule[t - 16] = terms
                .iter()
                .filter(|(i, _)| fixed(*i))
                .fold(0u32, |sum, (i, f)| sum.wrapping_add(f(w[*i])));
        }

        let mut s = scalar.midstate;
        for t in 0..NONCE_WORD {
            scalar_round(&mut s, K[t].wrapping_add(w[t]));
        }
        let [a, b, c, d, e, f, g, h] = s;
        let t1 = h
            .wrapping_add(big1(e))
            .wrapping_add((e & f) | (!e & g))
            .wrapping_add(K[NONCE_WORD]);
        let t2 = big0(a).wrapping_add((a & b) | (c & (a | b)));
        let top_word = (header.difficulty != 0)
            .then(|| ((u128::MAX / u128::from(header.difficulty)) >> 96) as u32);
        LaneSearch {
            top_word,
            after_round4: s.map(U32x4::splat),
            round5_a: U32x4::splat(t1.wrapping_add(t2)),
            round5_e: U32x4::splat(d.wrapping_add(t1)),
            fixed_rounds: std::array::from_fn(|i| U32x4::splat(K[i + 7].wrapping_add(w[i + 7]))),
            fixed_schedule: fixed_schedule.map(U32x4::splat),
            first_word_iv: U32x4::splat(scalar.midstate[0]),
            scalar,
        }
    }

    /// The first nonce in `nonces` whose hash meets the difficulty: the same answer as
    /// [`PowSearch::search`].
    pub fn search(&self, nonces: Range<u64>) -> Option<u64> {
        let top_word = self.top_word?;
        let mut start = nonces.start;
        while start < nonces.end {
            let count = (nonces.end - start).min(LANES) as usize;
            // Lanes past the range's end (and past u64::MAX) are hashed but never read.
            let lanes: [u64; 4] = std::array::from_fn(|i| start.wrapping_add(i as u64));
            let first = self.first_words(
                U32x4::new(lanes.map(|n| (n as u32).swap_bytes())),
                U32x4::new(lanes.map(|n| ((n >> 32) as u32).swap_bytes())),
            );
            if first.any_at_most(top_word) {
                let found = lanes[..count].iter().copied().find(|&nonce| {
                    meets_difficulty(&self.scalar.hash(nonce), self.scalar.difficulty)
                });
                if found.is_some() {
                    return found;
                }
            }
            start += count as u64;
        }
        None
    }

    /// The first word of the four hashes whose nonce words are `low` and `high`.
    ///
    /// The rounds are written out, not looped: each round's message word then has a
    /// fixed index, so the schedule lives in locals rather than memory, and the eight
    /// working variables trade roles by name instead of moving (about twice the speed
    /// in V8). Only `a` is read at the end, so the last rounds' other writes are dead.
    #[allow(unused_assignments)]
    fn first_words(&self, low: U32x4, high: U32x4) -> U32x4 {
        let mut w = [U32x4::splat(0); 64];
        let [a4, b4, c4, _, e4, f4, g4, _] = self.after_round4;
        // Named for round 6's roles, which start at `c` (the rotation of round 6 mod 8).
        let (mut c, mut d, mut e, mut f) = (self.round5_a + low, a4, b4, c4);
        let (mut g, mut h, mut a, mut b) = (self.round5_e + low, e4, f4, g4);
        macro_rules! round {
            ($t:expr, $a:ident, $b:ident, $c:ident, $d:ident, $e:ident, $f:ident, $g:ident, $h:ident) => {
                let t1 = $h + big1v($e) + $e.choose($f, $g) + self.word(&mut w, $t, low, high);
                $d = $d + t1;
                $h = t1 + big0v($a) + $a.majority($b, $c);
            };
        }
        macro_rules! eight_rounds {
            ($t:expr) => {
                round!($t, a, b, c, d, e, f, g, h);
                round!($t + 1, h, a, b, c, d, e, f, g);
                round!($t + 2, g, h, a, b, c, d, e, f);
                round!($t + 3, f, g, h, a, b, c, d, e);
                round!($t + 4, e, f, g, h, a, b, c, d);
                round!($t + 5, d, e, f, g, h, a, b, c);
                round!($t + 6, c, d, e, f, g, h, a, b);
                round!($t + 7, b, c, d, e, f, g, h, a);
            };
        }
        round!(6, c, d, e, f, g, h, a, b);
        round!(7, b, c, d, e, f, g, h, a);
        eight_rounds!(8);
        eight_rounds!(16);
        eight_rounds!(24);
        eight_rounds!(32);
        eight_rounds!(40);
        eight_rounds!(48);
        eight_rounds!(56);
        a + self.first_word_iv
    }

    /// Round `t`'s constant plus message word, from round 6 on; from 20 on it first
    /// computes word `t` into `w`, adding to the precomputed part only the terms that
    /// depend on the nonce (`low` is word 5, `high` word 6).
    #[inline(always)]
    fn word(&self, w: &mut [U32x4; 64], t: usize, low: U32x4, high: U32x4) -> U32x4 {
        let fixed = |t: usize| self.fixed_schedule[t - 16];
        w[t] = match t {
            6 => high,
            7..=19 => return self.fixed_rounds[t - 7],
            20 => small0v(low) + fixed(20),
            21 => small0v(high) + low + fixed(21),
            22 => small1v(w[20]) + high + fixed(22),
            23..=26 => small1v(w[t - 2]) + fixed(t),
            27..=34 => small1v(w[t - 2]) + w[t - 7] + fixed(t),
            35 => small1v(w[33]) + w[28] + small0v(w[20]) + fixed(35),
            _ => small1v(w[t - 2]) + w[t - 7] + small0v(w[t - 15]) + w[t - 16],
        };
        w[t] + U32x4::splat(K[t])
    }
}

fn scalar_round(s: &mut [u32; 8], kw: u32) {
    let [a, b, c, d, e, f, g, h] = *s;
    let t1 = h
        .wrapping_add(big1(e))
        .wrapping_add((e & f) | (!e & g))
        .wrapping_add(kw);
    let t2 = big0(a).wrapping_add((a & b) | (c & (a | b)));
    *s = [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g];
}

fn big0(x: u32) -> u32 {
    x.rotate_right(2) ^ x.rotate_right(13) ^ x.rotate_right(22)
}

fn big1(x: u32) -> u32 {
    x.rotate_right(6) ^ x.rotate_right(11) ^ x.rotate_right(25)
}

fn small0(x: u32) -> u32 {
    x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3)
}

fn small1(x: u32) -> u32 {
    x.rotate_right(17) ^ x.rotate_right(19) ^ (x >> 10)
}

#[inline(always)]
fn big0v(x: U32x4) -> U32x4 {
    x.rotr(2) ^ x.rotr(13) ^ x.rotr(22)
}

#[inline(always)]
fn big1v(x: U32x4) -> U32x4 {
    x.rotr(6) ^ x.rotr(11) ^ x.rotr(25)
}

#[inline(always)]
fn small0v(x: U32x4) -> U32x4 {
    x.rotr(7) ^ x.rotr(18) ^ x.shr(3)
}

#[inline(always)]
fn small1v(x: U32x4) -> U32x4 {
    x.rotr(17) ^ x.rotr(19) ^ x.shr(10)
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::hash::Hash;
    use crate::time::Timestamp;

    /// Nonces each comparison covers: millions in release (`cargo test --release`), what
    /// runs in a few seconds in the unoptimised test profile.
    const NONCES: u64 = if cfg!(debug_assertions) {
        40_000
    } else {
        4_000_000
    };

    fn header(rng: &mut ChaCha8Rng, difficulty: u64) -> Header {
        let mut bytes = [0; 32];
        rng.fill_bytes(&mut bytes);
        Header {
            version: Header::VERSION,
            prev: Hash(bytes),
            merkle_root: Hash::digest(&bytes),
            time: Timestamp(rng.next_u64() >> 20),
            difficulty,
            nonce: 0,
        }
    }

    /// Both searches over consecutive ranges of `nonces`, resuming after each solution.
    fn assert_same_solutions(search: &LaneSearch, nonces: Range<u64>, widths: &[u64]) {
        let mut start = nonces.start;
        let mut widths = widths.iter().cycle();
        while start < nonces.end {
            let end = start
                .saturating_add(*widths.next().unwrap())
                .min(nonces.end);
            let want = search.scalar.search(start..end);
            assert_eq!(search.search(start..end), want, "range {start}..{end}");
            start = want.map_or(end, |nonce| nonce + 1);
        }
    }

    #[test]
    fn every_lane_computes_the_first_word_of_the_hash() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..NONCES / 1000 {
            let search = LaneSearch::new(&header(&mut rng, 1));
            let nonces: [u64; 4] = std::array::from_fn(|_| rng.next_u64());
            let first = search.first_words(
                U32x4::new(nonces.map(|n| (n as u32).swap_bytes())),
                U32x4::new(nonces.map(|n| ((n >> 32) as u32).swap_bytes())),
            );
            for (lane, nonce) in nonces.into_iter().enumerate() {
                let hash = search.scalar.hash(nonce);
                let want = u32::from_be_bytes(hash.0[..4].try_into().unwrap());
                assert_eq!(first.lanes()[lane], want, "nonce {nonce}");
            }
        }
    }

    #[test]
    fn finds_the_same_first_nonce_as_the_scalar_search() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        // Difficulties around the top word's steps, where the first word alone decides
        // nothing and the candidate check must.
        for difficulty in [
            1,
            2,
            3,
            7,
            100,
            1000,
            65_537,
            (1 << 32) - 1,
            1 << 32,
            (1 << 32) + 1,
        ] {
            let search = LaneSearch::new(&header(&mut rng, difficulty));
            let start = rng.next_u64() >> 1;
            assert_same_solutions(
                &search,
                start..start + NONCES / 10,
                &[1, 2, 3, 4, 5, 7, 9, 64, 1000, 4097],
            );
        }
    }

    #[test]
    fn edge_cases_match_the_scalar_search() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for difficulty in [0, 1, 2, 5, 64, u64::MAX] {
            let search = LaneSearch::new(&header(&mut rng, difficulty));
            // Empty and backwards ranges.
            for range in [5..5, Range { start: 9, end: 3 }, u64::MAX..u64::MAX] {
                assert_eq!(search.search(range.clone()), None, "{range:?}");
            }
            // The top of the nonce space: the last lanes would wrap past u64::MAX.
            for width in 1..=9 {
                let range = u64::MAX - width..u64::MAX;
                assert_eq!(
                    search.search(range.clone()),
                    search.scalar.search(range.clone()),
                    "{range:?}"
                );
            }
            // Ranges of every length mod 4 from everywhere mod 4.
            for start in 0..4 {
                for width in 0..=9 {
                    let range = start..start + width;
                    assert_eq!(
                        search.search(range.clone()),
                        search.scalar.search(range.clone()),
                        "{range:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_solution_on_the_last_nonce_of_a_range_is_found() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let search = LaneSearch::new(&header(&mut rng, 500));
        let mut start = 0;
        for _ in 0..20 {
            let nonce = search
                .scalar
                .search(start..u64::MAX)
                .expect("1 in 500 meets it");
            for before in 0..8 {
                let from = nonce.saturating_sub(before).max(start);
                assert_eq!(search.search(from..nonce + 1), Some(nonce));
                assert_eq!(search.search(from..nonce), None);
            }
            start = nonce + 1;
        }
    }

    #[test]
    fn a_wide_search_matches_on_millions_of_nonces() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let search = LaneSearch::new(&header(&mut rng, 20_000));
        assert_same_solutions(&search, u64::MAX - NONCES..u64::MAX, &[65_536, 4093]);
    }
}
