//! The losses of whole tiles added to an [`ExactSum`] in a few vector operations.
//!
//! [`ExactSum::add`] costs about ten operations a value (its bin from the exponent, a widening,
//! a load, an add and a store). Losses lie in windows of exponents where plain f64 additions
//! are exact: a float32 `v` with `2^-17 <= |v| < 2^7` is a multiple of `2^-40` (its last
//! mantissa bit is worth at least that), so a sum of up to 64 of them is a multiple of `2^-40`
//! below `2^13` in magnitude: 53 bits, which an f64 holds exactly, whatever the order of the
//! additions. Likewise `2^-41 <= |v| < 2^-17`, the small losses of confident predictions
//! (multiples of `2^-64`, 64 of them below `2^-11`). A [`TileSum`] adds each window's values
//! (and zeros) to four f64 lanes of its own, the lanes of the tile's vectors; every 64 vectors
//! it adds each lane, times `2^40` or `2^64` (an integer below `2^53`), to an i64 of its
//! window, and every 128 such flushes moves the two i64 into the [`ExactSum`] as three float32
//! values each, whose sum they are exactly. A tile with a value outside both windows (tinier
//! or huge losses, infinities, NaN) goes to the [`ExactSum`] one value at a time. The total is
//! exact either way, so [`ExactSum::value`] has the same bits as if every value had been added
//! to it directly.
//!
//! Why: the exact add of every loss was a measurable share of the whole call with few classes,
//! where there is little other work per pixel; the second window is for a trained model's
//! losses, most of them below `2^-17`. What each step measured: docs/performance.md.

use crate::lanes::{F32x4, Splat};
use crate::tile::spill;
use crate::ExactSum;

/// The windows of magnitudes added in f64 lanes: `[TINY, LO)` and `[LO, HI)`.
const TINY: f32 = 1.0 / 2_199_023_255_552.0; // 2^-41
const LO: f32 = 1.0 / 131_072.0; // 2^-17
const HI: f32 = 128.0; // 2^7
/// Vectors (values per lane) between two flushes: 64 values below `2^7` sum to below `2^13`.
const FLUSH_VECTORS: u32 = 64;
/// Flushes between two moves of the integers to the [`ExactSum`]: four lanes below `2^53` each
/// time, 128 times, stay below `2^62`.
const INT_FLUSHES: u32 = 128;

/// An [`ExactSum`] with an f64 fast path for whole vectors of values (see the module docs).
/// Call [`TileSum::finish`] when done: until then the lanes hold part of the sum.
pub struct TileSum<'a> {
    exact: &'a mut ExactSum,
    /// The window `[LO, HI)`.
    lanes: [f64; 4],
    /// The window `[TINY, LO)`.
    small: [f64; 4],
    /// Vectors added to the lanes since they were last flushed.
    vectors: u32,
    /// The flushed lanes of each window, as integers: `2^40` and `2^64` times their sums.
    ints: [i64; 2],
    /// Flushes since the integers were last moved to the [`ExactSum`].
    flushes: u32,
}

impl<'a> TileSum<'a> {
    pub fn new(exact: &'a mut ExactSum) -> Self {
        TileSum { exact, lanes: [0.0; 4], small: [0.0; 4], vectors: 0, ints: [0; 2], flushes: 0 }
    }

    /// Adds the `4 V` lanes of `x` exactly (`V <= 4`). Not inlined: one copy for every tile.
    #[inline(never)]
    pub fn add<L: F32x4, const V: usize>(&mut self, x: &[L; V]) {
        static K_LO: Splat = Splat::new(LO);
        static K_HI: Splat = Splat::new(HI);
        if self.vectors + V as u32 > FLUSH_VECTORS {
            self.flush();
        }
        // Which windows the tile needs, in four integer operations a vector: the largest |x|
        // as bits (infinity and NaN above every finite value), and the smallest |x| less one
        // as u32 (0 wraps to the top, so zeros take no part).
        let a: [L; V] = core::array::from_fn(|v| x[v].bits_and(0x7fff_ffff));
        let (mut top, mut bottom) = (a[0], a[0].bits_add(!0));
        for a in &a[1..] {
            top = top.bits_max_i32(*a);
            bottom = bottom.bits_min_u32(a.bits_add(!0));
        }
        let below_hi = top.lt(L::constant(&K_HI));
        let from = |lo: f32| {
            let lo = L::splat_bits(lo.to_bits() - 1);
            below_hi.and(bottom.bits_min_u32(lo).bits_eq(lo)).bitmask() == 0xf
        };
        let mut large = *x;
        if !from(LO) {
            if !from(TINY) {
                return self.add_outside(&spill(x)[..4 * V]);
            }
            let small: [L; V] = core::array::from_fn(|v| a[v].lt(L::constant(&K_LO)));
            L::add_widened::<V>(&core::array::from_fn(|v| x[v].and(small[v])), &mut self.small);
            large = core::array::from_fn(|v| x[v].and_not(small[v]));
        }
        L::add_widened(&large, &mut self.lanes);
        self.vectors += V as u32;
    }

    /// Adds the first `width` lanes of `x` exactly: a whole 16-pixel tile as [`TileSum::add`], the
    /// lanes of anything narrower one by one (one copy of [`TileSum::add`] in the code).
    #[inline(always)]
    pub fn add_lanes<L: F32x4, const V: usize>(&mut self, x: &[L; V], width: usize) {
        if V == 4 && width == 16 {
            self.add(x);
        } else {
            self.exact.add_all(&spill(x)[..width.min(4 * V)]);
        }
    }

    /// Moves the lanes and the integers into the [`ExactSum`].
    pub fn finish(mut self) {
        self.flush();
        self.spill_ints();
    }

    /// A tile with a value outside both windows (or the integers' pieces), one value at a time.
    #[cold]
    #[inline(never)]
    fn add_outside(&mut self, vals: &[f32]) {
        self.exact.add_all(vals);
    }

    /// Moves the lanes into the integers and clears them: a lane of the large window is a
    /// multiple of `2^-40` below `2^13`, so `2^40` times it is an integer below `2^53`, and
    /// likewise `2^64` times a lane of the small window (three operations a lane).
    #[inline(never)]
    fn flush(&mut self) {
        if self.vectors == 0 {
            return;
        }
        let scales = [1_099_511_627_776.0, 18_446_744_073_709_551_616.0]; // 2^40, 2^64
        for (int, lanes) in [(0, self.lanes), (1, self.small)] {
            for s in lanes {
                self.ints[int] += (s * scales[int]) as i64;
            }
        }
        self.lanes = [0.0; 4];
        self.small = [0.0; 4];
        self.vectors = 0;
        self.flushes += 1;
        if self.flushes == INT_FLUSHES {
            self.spill_ints();
        }
    }

    /// Moves the integers into the [`ExactSum`], each as three float32 values whose sum it is
    /// exactly (24-bit digits, scaled by powers of two: no rounding), and clears them.
    #[cold]
    #[inline(never)]
    fn spill_ints(&mut self) {
        let units = [f32::from_bits((127 - 40) << 23), f32::from_bits((127 - 64) << 23)]; // 2^-40, 2^-64
        let mut pieces = [0.0f32; 6];
        for ((k, unit), p) in self.ints.into_iter().zip(units).zip(pieces.chunks_exact_mut(3)) {
            let (low, k) = ((k & 0xff_ffff) as f32, k >> 24);
            let (mid, high) = ((k & 0xff_ffff) as f32, (k >> 24) as f32);
            p.copy_from_slice(&[low * unit, mid * unit * 16_777_216.0, high * unit * 281_474_976_710_656.0]);
        }
        self.add_outside(&pieces);
        self.ints = [0; 2];
        self.flushes = 0;
    }
}
