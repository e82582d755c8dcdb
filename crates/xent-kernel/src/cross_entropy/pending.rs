//! The gradient of a wide tile, written while the next tile computes.
//!
//! Writing a tile's gradient touches one cache line per class row, `H*W` floats apart: each
//! store waits for its line to come from memory (a write allocates), and a tile's worth of them
//! (up to 256 lines) fills the store buffer and stalls the core at the end of every tile. So a
//! wide tile with a scratch tile does not write its gradient itself: it leaves its
//! exponentials in one of two scratch tiles, with the per-pixel scale and target fix-up, and
//! the next wide tile writes them, one class row per class row of its own exp pass, so that the
//! stores drain while the arithmetic runs. A narrow tile, or the end of the run, writes what
//! is pending first. The arithmetic of each element is the same as writing it at once (the
//! tiles touch disjoint pixels), so are the bits.

use super::{scale_row, Ctx, TILE};
use crate::lanes::F32x4;
use crate::tile::SCRATCH_FLOATS;

/// The two scratch tiles of a run, and the tile whose gradient is pending.
pub(super) struct Pending<L: F32x4> {
    scratch: core::mem::MaybeUninit<[[f32; SCRATCH_FLOATS]; 2]>,
    /// Whether a tile is pending, and which scratch tile holds its exponentials.
    active: bool,
    buf: usize,
    /// The pending tile's gradient (pixel 0 of class row 0).
    g0: *mut f32,
    /// Per pixel: the scale of the exponentials, the smoothing term's factor, the target
    /// class and what to subtract there.
    scale: [L; 4],
    gk: [L; 4],
    t: [usize; TILE],
    fix: [f32; TILE],
}

impl<L: F32x4> Pending<L> {
    pub(super) fn new() -> Self {
        Pending {
            scratch: core::mem::MaybeUninit::uninit(),
            active: false,
            buf: 0,
            g0: core::ptr::null_mut(),
            scale: [L::splat(0.0); 4],
            gk: [L::splat(0.0); 4],
            t: [0; TILE],
            fix: [0.0; TILE],
        }
    }

    /// The scratch tile (`SCRATCH_FLOATS` floats) that the pending tile does not use.
    #[inline(always)]
    pub(super) fn free_scratch(&mut self) -> *mut f32 {
        let i = if self.active { 1 - self.buf } else { 0 };
        // SAFETY: i < 2, within the array.
        unsafe { (self.scratch.as_mut_ptr() as *mut f32).add(i * SCRATCH_FLOATS) }
    }

    /// Both scratch tiles (nothing may be pending): an NHWC tile transposes its logits into the
    /// first (its gradient is computed there, in place) and its probability targets into the
    /// second.
    #[inline(always)]
    pub(super) fn both_scratch(&mut self) -> (*mut f32, *mut f32) {
        let base = self.scratch.as_mut_ptr() as *mut f32;
        // SAFETY: the second tile is within the array.
        (base, unsafe { base.add(SCRATCH_FLOATS) })
    }

    /// Whether a tile's gradient is waiting.
    #[inline(always)]
    pub(super) fn is_active(&self) -> bool {
        self.active
    }

    /// Makes the tile whose exponentials are in `e` (a pointer from [`Pending::free_scratch`])
    /// pending. Nothing may be pending.
    #[inline(always)]
    pub(super) fn defer(&mut self, e: *mut f32, g0: *mut f32, scale: [L; 4], gk: [L; 4], t: [usize; TILE], fix: [f32; TILE]) {
        let base = self.scratch.as_mut_ptr() as *mut f32;
        self.buf = (e != base) as usize;
        self.active = true;
        self.g0 = g0;
        self.scale = scale;
        self.gk = gk;
        self.t = t;
        self.fix = fix;
    }

    /// Writes class row `ci` of the pending tile's gradient (a tile must be pending).
    ///
    /// # Safety
    /// The pending tile's gradient rows must be valid for writing (they were when it was
    /// deferred), and `ci < k.c`.
    #[inline(always)]
    pub(super) unsafe fn write_row(&self, k: &Ctx, ci: usize) {
        let e_row = (self.scratch.as_ptr() as *const f32).add(self.buf * SCRATCH_FLOATS + ci * TILE);
        scale_row::<L, 4, true, true>(k, ci, e_row, self.g0.add(ci * k.cs), 1, TILE, &self.scale, &self.gk);
    }

    /// The target class of each pixel (class 0 minus 0 for an ignored pixel: no change), after
    /// every row: then nothing is pending.
    ///
    /// # Safety
    /// As [`Pending::write_row`].
    #[inline(always)]
    pub(super) unsafe fn finish(&mut self, k: &Ctx) {
        for j in 0..TILE {
            *self.g0.add(self.t[j] * k.cs + j) -= self.fix[j];
        }
        self.active = false;
    }

    /// Writes all of the pending gradient now (before a narrow tile, and at the end of a run).
    ///
    /// # Safety
    /// As [`Pending::write_row`].
    pub(super) unsafe fn flush(&mut self, k: &Ctx) {
        if self.active {
            for ci in 0..k.c {
                self.write_row(k, ci);
            }
            self.finish(k);
        }
    }
}
