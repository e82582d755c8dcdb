//! The losses of whole tiles added to an [`ExactSum`] in a few vector operations.
//!
//! [`ExactSum::add`] costs about ten operations a value (its bin from the exponent, a widening,
//! a load, an add and a store); this shortcut made the two-class loss 6 % faster and the loss
//! with 19-21 classes 2-3 %. Most losses lie in a window of exponents, where plain f64
//! additions are exact: a
//! float32 `v` with `2^-17 <= |v| < 2^7` is a multiple of `2^-40` (its last mantissa bit is
//! worth at least that), so a sum of up to 64 of them is a multiple of `2^-40` below `2^13` in
//! magnitude: 53 bits, which an f64 holds exactly, whatever the order of the additions. A
//! [`TileSum`] adds the values in that window (and zeros) to four f64 lanes, the lanes of the
//! tile's vectors, and every 64 vectors moves each lane into the [`ExactSum`] as three float32
//! values whose sum it is exactly. The values outside the window (tiny or huge losses,
//! infinities, NaN) go to the [`ExactSum`] one by one. The total is exact either way, so
//! [`ExactSum::value`] has the same bits as if every value had been added to it directly.

use crate::lanes::{F32x4, Splat};
use crate::tile::spill;
use crate::ExactSum;

/// The window of magnitudes `[2^-17, 2^7)` added in f64 lanes.
const LO: f32 = 1.0 / 131_072.0;
const HI: f32 = 128.0;
/// Vectors (values per lane) between two flushes: 64 values below `2^7` sum to below `2^13`.
const FLUSH_VECTORS: u32 = 64;

/// An [`ExactSum`] with an f64 fast path for whole vectors of values (see the module docs).
/// Call [`TileSum::finish`] when done: until then the lanes hold part of the sum.
pub struct TileSum<'a> {
    exact: &'a mut ExactSum,
    lanes: [f64; 4],
    /// Vectors added to the lanes since they were last flushed.
    vectors: u32,
}

impl<'a> TileSum<'a> {
    pub fn new(exact: &'a mut ExactSum) -> Self {
        TileSum { exact, lanes: [0.0; 4], vectors: 0 }
    }

    /// Adds the `4 V` lanes of `x` exactly (`V <= 4`). Not inlined: one copy for every tile.
    #[inline(never)]
    pub fn add<L: F32x4, const V: usize>(&mut self, x: &[L; V]) {
        static K_LO: Splat = Splat::new(LO);
        static K_HI: Splat = Splat::new(HI);
        if self.vectors + V as u32 > FLUSH_VECTORS {
            self.flush();
        }
        let (lo, hi, zero) = (L::constant(&K_LO), L::constant(&K_HI), L::splat(0.0));
        let mut inside = [zero; V];
        let mut bits = 0u32; // bit 4 v + i: lane i of x[v] is in the window (or 0)
        for v in 0..V {
            let a = x[v].bits_and(0x7fff_ffff);
            let ok = lo.le(a).and(a.lt(hi)).or(a.eq(zero));
            inside[v] = x[v].and(ok);
            bits |= ok.bitmask() << (4 * v);
        }
        L::add_widened(&inside, &mut self.lanes);
        self.vectors += V as u32;
        let outside = !bits & ((1 << (4 * V)) - 1);
        if outside != 0 {
            self.add_outside(&spill(x), outside);
        }
    }

    /// Adds the first `w` lanes of `x` exactly: a whole 16-pixel tile as [`TileSum::add`], the
    /// lanes of anything narrower one by one (one copy of [`TileSum::add`] in the code).
    #[inline(always)]
    pub fn add_lanes<L: F32x4, const V: usize>(&mut self, x: &[L; V], w: usize) {
        if V == 4 && w == 16 {
            self.add(x);
        } else {
            self.exact.add_all(&spill(x)[..w.min(4 * V)]);
        }
    }

    /// Moves the lanes into the [`ExactSum`].
    pub fn finish(mut self) {
        self.flush();
    }

    /// The values `vals[j]` for the bits `j` set in `which` (outside the window).
    #[cold]
    #[inline(never)]
    fn add_outside(&mut self, vals: &[f32; crate::tile::TILE], mut which: u32) {
        while which != 0 {
            self.exact.add(vals[which.trailing_zeros() as usize % crate::tile::TILE]);
            which &= which - 1;
        }
    }

    /// Each lane (a multiple of `2^-40` below `2^13`, 53 bits) as three float32 values that sum
    /// to it exactly: its rounding `a` to float32, then the rounding `b` of the rest `r = s - a`
    /// (below half an ulp of `a`: 29 bits, exact in f64), then `r - b` (5 bits, a float32 too).
    #[inline(never)]
    fn flush(&mut self) {
        if self.vectors == 0 {
            return;
        }
        for s in self.lanes {
            let a = s as f32;
            let r = s - a as f64;
            let b = r as f32;
            let c = (r - b as f64) as f32;
            self.exact.add(a);
            self.exact.add(b);
            self.exact.add(c);
        }
        self.lanes = [0.0; 4];
        self.vectors = 0;
    }
}
