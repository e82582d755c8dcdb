//! The forward half: a chunk of `p` pixels of one output row, interpolated from the two source
//! rows it needs into a `c x p` strip (class stride `p`), the layout of a `1 x c x p` NCHW
//! problem for the loss kernel: the horizontal half and nearest's gather scalar (one copy for
//! both layouts, by strides), the vertical half in lanes; plain float32 arithmetic, the same
//! bits on every build.

use super::geometry::Tap;
use crate::lanes::F32x4;

/// The low-resolution logits (or gradient) of one batch item: element `(ci, y, x)` is at
/// `ci * cs + (y * w + x) * ps` (NCHW: `cs = h * w`, `ps = 1`; NHWC: `cs = 1`, `ps = c`).
#[derive(Clone, Copy, Debug)]
pub struct Plane {
    pub c: usize,
    pub w: usize,
    pub cs: usize,
    pub ps: usize,
}

impl Plane {
    /// The offset of `(0, y, x)`.
    #[inline(always)]
    pub fn at(&self, y: usize, x: usize) -> usize {
        (y * self.w + x) * self.ps
    }
}

/// The horizontal taps of a chunk of `p` output pixels, in scratch: `[x0 | x1 | w0 | w1]`, `p`
/// each (the source columns as u32 bits in the f32 scratch).
pub struct Cols<'a> {
    pub cols: &'a mut [f32],
    pub p: usize,
}

/// Floats of scratch that [`Cols`] needs per pixel.
pub const COLS_PER_PIXEL: usize = 4;

impl Cols<'_> {
    /// Fills the taps of output columns `x0 .. x0 + p` (`tap(x)` their horizontal taps).
    ///
    /// # Safety
    /// `cols` at least [`COLS_PER_PIXEL`]` * p` long.
    pub unsafe fn fill(&mut self, x0: usize, tap: impl Fn(usize) -> Tap) {
        let p = self.p;
        debug_assert!(self.cols.len() >= COLS_PER_PIXEL * p);
        let c = self.cols.as_mut_ptr();
        for j in 0..p {
            let t = tap(x0 + j);
            *c.add(j).cast::<u32>() = t.i0 as u32;
            *c.add(p + j).cast::<u32>() = t.i1 as u32;
            *c.add(2 * p + j) = t.w0;
            *c.add(3 * p + j) = t.w1;
        }
    }

    /// Pixel `j`'s source columns and horizontal weights.
    ///
    /// # Safety
    /// `j < p`.
    #[inline(always)]
    pub unsafe fn get(&self, j: usize) -> (usize, usize, f32, f32) {
        debug_assert!(j < self.p);
        let p = self.p;
        let c = self.cols.as_ptr().add(j);
        // (The columns as integers: no float-to-integer move.)
        let i = |k: usize| *c.add(k * p).cast::<u32>() as usize;
        (i(0), i(1), *c.add(2 * p), *c.add(3 * p))
    }
}

/// Nearest: gathers the chunk described by `cols` of the output row whose source row is `ty.i0`
/// from the item's logits `x` (a [`Plane`]) into `strip` (`c x p`, class stride `p`).
///
/// # Safety
/// Every `(ci, y, x)` with `ci < c`, `y` in `ty` and `x` in `cols` must be inside `x`'s buffer
/// (the caller checked the logits' length), and `strip` at least `c * p` long.
pub unsafe fn nearest(x: &[f32], g: Plane, ty: Tap, cols: &Cols, strip: &mut [f32]) {
    let p = cols.p;
    debug_assert!(strip.len() >= g.c * p);
    debug_assert!(g.c == 0 || (g.c - 1) * g.cs + g.at(ty.i0, g.w - 1) < x.len());
    let (xp, out) = (x.as_ptr().add(g.at(ty.i0, 0)), strip.as_mut_ptr());
    for ci in 0..g.c {
        for j in 0..p {
            *out.add(ci * p + j) = *xp.add(ci * g.cs + cols.get(j).0 * g.ps);
        }
    }
}

/// The horizontal half of bilinear interpolation, shared by the output rows with the same two
/// source rows (`ty.i0`, `ty.i1`): `h0[ci, j] = x0 w0 + x1 w1` along source row `ty.i0`, `h1`
/// along `ty.i1`, each `c x p` (class stride `p`), in float32 (two products, one sum: not
/// PyTorch's fused multiply-add). Both taps are read even at weight 0 (as PyTorch, so that an
/// infinite or NaN neighbour gives NaN).
///
/// # Safety
/// As [`nearest`], with `h0` and `h1` for `strip`.
pub unsafe fn hrows(x: &[f32], g: Plane, ty: Tap, cols: &Cols, h0: &mut [f32], h1: &mut [f32]) {
    let p = cols.p;
    debug_assert!(h0.len() >= g.c * p && h1.len() >= g.c * p);
    debug_assert!(g.c == 0 || (g.c - 1) * g.cs + g.at(ty.i0.max(ty.i1), g.w - 1) < x.len());
    let (xp, o0, o1) = (x.as_ptr(), h0.as_mut_ptr(), h1.as_mut_ptr());
    let (y0, y1) = (g.at(ty.i0, 0), g.at(ty.i1, 0));
    // NCHW: class by class along the two source rows (they stay in cache); NHWC: the same
    // loops, the classes of a pixel contiguous.
    for ci in 0..g.c {
        let (r0, r1) = (xp.add(ci * g.cs + y0), xp.add(ci * g.cs + y1));
        for j in 0..p {
            let (x0, x1, w0, w1) = cols.get(j);
            let (x0, x1) = (x0 * g.ps, x1 * g.ps);
            *o0.add(ci * p + j) = *r0.add(x0) * w0 + *r0.add(x1) * w1;
            *o1.add(ci * p + j) = *r1.add(x0) * w0 + *r1.add(x1) * w1;
        }
    }
}

/// The vertical half: `strip = h0 wy0 + h1 wy1` (float32, two products and a sum, four lanes
/// at a time: the same bits on every build) for the output row with vertical taps `ty`, over
/// `n` values (a multiple of 4: the strips are whole lanes long).
///
/// # Safety
/// `h0`, `h1` and `strip` valid for `n` floats.
pub unsafe fn vblend<L: F32x4>(h0: *const f32, h1: *const f32, ty: Tap, strip: *mut f32, n: usize) {
    debug_assert!(n.is_multiple_of(4));
    let (w0, w1) = (L::splat(ty.w0), L::splat(ty.w1));
    let mut i = 0;
    while i < n {
        L::load(h0.add(i)).mul(w0).add(L::load(h1.add(i)).mul(w1)).store(strip.add(i));
        i += 4;
    }
}
