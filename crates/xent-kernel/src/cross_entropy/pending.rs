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
//! tiles touch disjoint pixels), so are the bits. An NHWC tile defers its gradient here too, and
//! writes it at once on the way back through the transposition ([`Pending::write_nhwc`]).

use super::ctx::Ctx;
use super::rows::scale_row;
use super::strip::STRIP_FLOATS;
use crate::lanes::F32x4;
use crate::tile::{self, SCRATCH_FLOATS, TILE};

/// The target class of a pixel without one (ignored): its gradient is left as pass (4) wrote it.
pub(super) const NO_TARGET: usize = usize::MAX;

/// The two scratch tiles of a run, and the tile whose gradient is pending.
pub(super) struct Pending<L: F32x4> {
    /// Two scratch tiles of `SCRATCH_FLOATS` floats, or one strip's buffer (see
    /// [`super::strip`]).
    scratch: core::mem::MaybeUninit<[f32; STRIP_FLOATS]>,
    /// Whether a tile is pending, and which scratch tile holds its exponentials.
    active: bool,
    buf: usize,
    /// The pending tile's gradient (pixel 0 of class row 0).
    g0: *mut f32,
    /// Per pixel: the scale of the exponentials, the smoothing term's factor, the target
    /// class ([`NO_TARGET`] for none) and its gradient.
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

    /// The whole scratch as one buffer of [`STRIP_FLOATS`] floats (nothing may be pending): a
    /// strip's (see [`super::strip`]).
    #[inline(always)]
    pub(super) fn whole_scratch(&mut self) -> *mut f32 {
        debug_assert!(!self.active);
        self.scratch.as_mut_ptr() as *mut f32
    }

    /// Takes the deferred pass (4) and (5) of the tile just computed in a strip (one must be
    /// pending): its scale, smoothing factor, target classes and their gradient. Then nothing is
    /// pending.
    #[inline(always)]
    pub(super) fn take(&mut self) -> ([L; 4], [L; 4], [usize; TILE], [f32; TILE]) {
        debug_assert!(self.active);
        self.active = false;
        (self.scale, self.gk, self.t, self.fix)
    }

    /// Whether a tile's gradient is waiting.
    #[inline(always)]
    pub(super) fn is_active(&self) -> bool {
        self.active
    }

    /// Makes the tile whose exponentials are in `e` (a pointer from [`Pending::free_scratch`])
    /// pending. Nothing may be pending.
    #[inline(always)]
    pub(super) fn defer(
        &mut self,
        e: *mut f32,
        g0: *mut f32,
        scale: [L; 4],
        gk: [L; 4],
        t: [usize; TILE],
        fix: [f32; TILE],
    ) {
        debug_assert!(!self.active);
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
        debug_assert!(self.active && ci < k.c);
        let e_row = (self.scratch.as_ptr() as *const f32).add(self.buf * SCRATCH_FLOATS + ci * TILE);
        scale_row::<L, 4, true, true>(k, ci, e_row, self.g0.add(ci * k.cs), 1, TILE, &self.scale, &self.gk);
    }

    /// The target class of each pixel (none for an ignored pixel), after every row: then nothing
    /// is pending.
    ///
    /// # Safety
    /// As [`Pending::write_row`].
    #[inline(always)]
    pub(super) unsafe fn finish(&mut self, k: &Ctx) {
        debug_assert!(self.active && self.t.iter().all(|&t| t < k.c || t == NO_TARGET));
        for j in 0..TILE {
            if self.t[j] != NO_TARGET {
                *self.g0.add(self.t[j] * k.cs + j) = self.fix[j];
            }
        }
        self.active = false;
    }

    /// Writes the pending gradient of an NHWC tile, whose exponentials are its class rows in
    /// the scratch tile (see `tile_nhwc`), to its 16 pixels at `dst`: pass (4) on the way back
    /// through the transposition, then (5). Then nothing is pending.
    ///
    /// # Safety
    /// `dst` valid for writing `16 k.c` floats.
    pub(super) unsafe fn write_nhwc(&mut self, k: &Ctx, dst: *mut f32) {
        debug_assert!(self.active && k.c * TILE <= SCRATCH_FLOATS && self.t.iter().all(|&t| t < k.c || t == NO_TARGET));
        let e = (self.scratch.as_ptr() as *const f32).add(self.buf * SCRATCH_FLOATS);
        transpose_back(k, e, dst, &self.scale, k.smooth.then_some(&self.gk));
        for j in 0..TILE {
            if self.t[j] != NO_TARGET {
                *dst.add(j * k.c + self.t[j]) = self.fix[j];
            }
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

/// A scratch tile's class rows `e` back to the 16 NHWC pixels at `dst`, each vector multiplied
/// by its pixels' `scale` and, with `gk`, minus `gk * w[ci]`: the operations of [`scale_row`].
/// (A scale of 1 and no `gk` moves the values unchanged: `x * 1 = x`, -0 included, and a NaN
/// stays NaN.)
///
/// # Safety
/// `e` valid for reading `16 k.c` floats, `dst` for writing them.
#[inline(never)]
pub(super) unsafe fn transpose_back<L: F32x4>(
    k: &Ctx,
    e: *const f32,
    dst: *mut f32,
    scale: &[L; 4],
    gk: Option<&[L; 4]>,
) {
    match gk {
        Some(gk) => tile::transpose_out_map::<L>(e, k.c, dst, |ci, g, v| {
            v.mul(scale[g]).sub(gk[g].mul(L::splat(k.class_weight(ci))))
        }),
        None => tile::transpose_out_map::<L>(e, k.c, dst, |_, g, v| v.mul(scale[g])),
    }
}
