//! The forward half: a chunk of `p` pixels of one output row, interpolated from the two source
//! rows it needs into a `c x p` strip (class stride `p`), the layout of a `1 x c x p` NCHW
//! problem for the loss kernel. Scalar code, one copy for both layouts (strides) and every build:
//! the bits are PyTorch's (see [`super::geometry`]) and the same with or without SIMD.

use super::geometry::{fma, Tap};

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
            *c.add(j) = f32::from_bits(t.i0 as u32);
            *c.add(p + j) = f32::from_bits(t.i1 as u32);
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
        let c = |k: usize| *self.cols.get_unchecked(k * p + j);
        (c(0).to_bits() as usize, c(1).to_bits() as usize, c(2), c(3))
    }
}

/// Interpolates the chunk described by `cols` of the output row whose vertical taps are `ty`,
/// from the item's logits `x` (a [`Plane`]), into `strip` (`c x p`, class stride `p`).
///
/// Bilinear as PyTorch's CPU kernel with its FMA contraction: the two source rows horizontally
/// (`t = x0 w0 + x1 w1`, fused), then vertically (`t0 wy0 + t1 wy1`, fused). All four taps are
/// read even at weight 0 (as PyTorch, so that an infinite or NaN neighbour gives NaN).
///
/// # Safety
/// Every `(ci, y, x)` with `ci < c`, `y` in `ty` and `x` in `cols` must be inside `x`'s buffer
/// (the caller checked the logits' length), and `strip` at least `c * p` long.
pub unsafe fn interpolate(x: &[f32], g: Plane, nearest: bool, ty: Tap, cols: &Cols, strip: &mut [f32]) {
    let p = cols.p;
    debug_assert!(strip.len() >= g.c * p);
    debug_assert!(g.c == 0 || (g.c - 1) * g.cs + g.at(ty.i0.max(ty.i1), g.w - 1) < x.len());
    let (xp, out) = (x.as_ptr(), strip.as_mut_ptr());
    if g.ps == 1 {
        // NCHW: class by class, along the class's two source rows (they stay in cache).
        for ci in 0..g.c {
            let r0 = xp.add(ci * g.cs + ty.i0 * g.w);
            let r1 = xp.add(ci * g.cs + ty.i1 * g.w);
            let o = out.add(ci * p);
            for j in 0..p {
                let (x0, x1, w0, w1) = cols.get(j);
                *o.add(j) = if nearest {
                    *r0.add(x0)
                } else {
                    value(*r0.add(x0), *r0.add(x1), *r1.add(x0), *r1.add(x1), w0, w1, ty)
                };
            }
        }
        return;
    }
    // NHWC: pixel by pixel, along the classes of its source pixels (contiguous).
    for j in 0..p {
        let (x0, x1, w0, w1) = cols.get(j);
        let (a, b) = (xp.add(g.at(ty.i0, x0)), xp.add(g.at(ty.i0, x1)));
        let (cc, d) = (xp.add(g.at(ty.i1, x0)), xp.add(g.at(ty.i1, x1)));
        let o = out.add(j);
        for ci in 0..g.c {
            *o.add(ci * p) =
                if nearest { *a.add(ci) } else { value(*a.add(ci), *b.add(ci), *cc.add(ci), *d.add(ci), w0, w1, ty) };
        }
    }
}

/// One interpolated value from its four source values, as PyTorch computes it.
#[inline(always)]
fn value(a: f32, b: f32, c: f32, d: f32, w0: f32, w1: f32, ty: Tap) -> f32 {
    let t0 = fma(a, w0, b * w1);
    let t1 = fma(c, w0, d * w1);
    fma(t0, ty.w0, t1 * ty.w1)
}

/// The horizontal half of bilinear interpolation, shared by the output rows with the same two
/// source rows (`ty.i0`, `ty.i1`): `h0[ci, j] = x0 w0 + x1 w1` (fused) along source row
/// `ty.i0`, `h1` along `ty.i1`, each `c x p` (class stride `p`).
///
/// # Safety
/// As [`interpolate`], with `h0` and `h1` for `strip`.
pub unsafe fn hrows(x: &[f32], g: Plane, ty: Tap, cols: &Cols, h0: &mut [f32], h1: &mut [f32]) {
    let p = cols.p;
    debug_assert!(h0.len() >= g.c * p && h1.len() >= g.c * p);
    debug_assert!(g.c == 0 || (g.c - 1) * g.cs + g.at(ty.i0.max(ty.i1), g.w - 1) < x.len());
    let (xp, o0, o1) = (x.as_ptr(), h0.as_mut_ptr(), h1.as_mut_ptr());
    let one = |a: *const f32, b: *const f32, w0: f32, w1: f32| fma(*a, w0, *b * w1);
    if g.ps == 1 {
        for ci in 0..g.c {
            let r0 = xp.add(ci * g.cs + ty.i0 * g.w);
            let r1 = xp.add(ci * g.cs + ty.i1 * g.w);
            for j in 0..p {
                let (x0, x1, w0, w1) = cols.get(j);
                *o0.add(ci * p + j) = one(r0.add(x0), r0.add(x1), w0, w1);
                *o1.add(ci * p + j) = one(r1.add(x0), r1.add(x1), w0, w1);
            }
        }
        return;
    }
    for j in 0..p {
        let (x0, x1, w0, w1) = cols.get(j);
        let (a, b) = (xp.add(g.at(ty.i0, x0)), xp.add(g.at(ty.i0, x1)));
        let (cc, d) = (xp.add(g.at(ty.i1, x0)), xp.add(g.at(ty.i1, x1)));
        for ci in 0..g.c {
            *o0.add(ci * p + j) = one(a.add(ci), b.add(ci), w0, w1);
            *o1.add(ci * p + j) = one(cc.add(ci), d.add(ci), w0, w1);
        }
    }
}

/// The vertical half: `strip = h0 wy0 + h1 wy1` (fused) for the output row with vertical taps
/// `ty`, over `n` values: the bits of [`interpolate`].
pub fn vblend(h0: &[f32], h1: &[f32], ty: Tap, strip: &mut [f32]) {
    for ((o, &a), &b) in strip.iter_mut().zip(h0).zip(h1) {
        *o = fma(a, ty.w0, b * ty.w1);
    }
}
