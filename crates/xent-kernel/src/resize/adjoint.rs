//! The backward half: the strips' gradients (w.r.t. the interpolated logits, `c x p`) scattered
//! back onto the low-resolution grid through the adjoint of the interpolation, in its two
//! halves: the rows of a group (same two source rows) are summed with their vertical weights
//! (`accumulate`, four lanes at a time), then each chunk's sums are scattered horizontally
//! (`adjoint`, scalar: the pixels of a chunk with the same source columns summed first, then
//! added into them), in float32 (products and sums each rounded: the same bits on every build).
//! (PyTorch's CPU backward adds `(wy wx) go` per output pixel instead: the same sum in another
//! order.)
//!
//! Determinism: a caller owns the source rows `[ylo, yhi)` and adds only into them, and every
//! caller runs the groups, chunks (of a width set by `c`) and rows in the same order. Each
//! gradient element then receives its contributions in the same order whatever the split, so
//! any number of threads gives the bits of one.

use super::geometry::Tap;
use super::interpolate::{Cols, Plane};
use crate::lanes::F32x4;

/// Scatters the gradient of a chunk of a group of output rows (see [`accumulate`]: `a0`, `a1`,
/// `c x p`, the strips' gradients summed over the group's rows with their vertical weights) into
/// the item's low-resolution gradient `gx`, in source rows `ylo .. yhi` only: per pixel,
/// `g[y0, x0] += wx0 a0`, `g[y0, x1] += wx1 a0`, `g[y1, x0] += wx0 a1`, `g[y1, x1] += wx1 a1`,
/// or `g[y, x] += a0` for nearest (see [`scatter`] for the order of the additions).
///
/// # Safety
/// As [`super::interpolate::nearest`], with `gx` for `x`; `a0`, `a1` at least `c * p`
/// long.
#[expect(clippy::too_many_arguments, reason = "one chunk of a group of rows: its geometry, sums and owned rows")]
pub unsafe fn adjoint(
    gx: &mut [f32],
    g: Plane,
    nearest: bool,
    ty: Tap,
    cols: &Cols,
    a0: &[f32],
    a1: &[f32],
    ylo: usize,
    yhi: usize,
) {
    let p = cols.p;
    debug_assert!(a0.len() >= g.c * p && a1.len() >= g.c * p);
    debug_assert!(g.c == 0 || (g.c - 1) * g.cs + g.at(ty.i0.max(ty.i1), g.w - 1) < gx.len());
    // Source row `i0` receives `a0`, `i1` (bilinear) `a1`; one copy of the loop for both
    // layouts (strides) and both rows.
    for (y, a) in [(ty.i0, a0.as_ptr()), (ty.i1, a1.as_ptr())].into_iter().take(2 - nearest as usize) {
        if !(ylo..yhi).contains(&y) {
            continue;
        }
        let row = gx.as_mut_ptr().add(g.at(y, 0));
        // Two classes at a time (independent sums; four were slower under V8, likely register
        // pressure), one at a time for the rest.
        let mut c0 = 0;
        while c0 + 2 <= g.c {
            scatter::<2>(row, g, nearest, cols, a, c0);
            c0 += 2;
        }
        while c0 < g.c {
            scatter::<1>(row, g, nearest, cols, a, c0);
            c0 += 1;
        }
    }
}

/// Scatters classes `c0 .. c0 + K` of one source row's sums `a` (`c x p`, class stride `p`)
/// along the row at `row`: the pixels with the same source columns (consecutive: the columns
/// never decrease along the chunk) are summed in registers, in order, and each sum is added
/// into its column when the columns change and at the end (`x0`'s sum, then `x1`'s).
///
/// # Safety
/// As [`adjoint`], `c0 + K <= c`.
#[inline(always)]
unsafe fn scatter<const K: usize>(row: *mut f32, g: Plane, nearest: bool, cols: &Cols, a: *const f32, c0: usize) {
    let p = cols.p;
    if p == 0 {
        return;
    }
    let (mut x0, mut x1, _, _) = cols.get(0);
    let (mut s0, mut s1) = ([0.0f32; K], [0.0f32; K]);
    let flush = |x0: usize, x1: usize, s0: &mut [f32; K], s1: &mut [f32; K]| {
        for i in 0..K {
            let o = row.add((c0 + i) * g.cs);
            *o.add(x0 * g.ps) += s0[i];
            if !nearest {
                *o.add(x1 * g.ps) += s1[i];
            }
            (s0[i], s1[i]) = (0.0, 0.0);
        }
    };
    for j in 0..p {
        let (y0, y1, w0, w1) = cols.get(j);
        if y0 != x0 {
            flush(x0, x1, &mut s0, &mut s1);
            (x0, x1) = (y0, y1);
        }
        for i in 0..K {
            // (Nearest's taps are `w0 = 1`, `w1 = 0`: `s0` the plain sum; `s1` is not added.)
            let v = *a.add((c0 + i) * p + j);
            s0[i] += w0 * v;
            s1[i] += w1 * v;
        }
    }
    flush(x0, x1, &mut s0, &mut s1);
}

/// Adds a row's gradient strip `gs` (`n` floats, a multiple of 4) into the group's sums with its vertical
/// weights, four lanes at a time: `a0 += wy0 gs`, `a1 += wy1 gs` (the first row of a group
/// sets them to the products). Nearest's taps (`wy0 = 1`, `wy1 = 0`) make `a0` the plain sum
/// (`1 gs` is `gs`); its `a1` is not read.
///
/// # Safety
/// `gs`, `a0` and `a1` valid for `n` floats.
pub unsafe fn accumulate<L: F32x4>(gs: *const f32, ty: Tap, first: bool, a0: *mut f32, a1: *mut f32, n: usize) {
    debug_assert!(n.is_multiple_of(4));
    let (w0, w1) = (L::splat(ty.w0), L::splat(ty.w1));
    let mut i = 0;
    while i < n {
        let v = L::load(gs.add(i));
        let (s0, s1) = (v.mul(w0), v.mul(w1));
        if first {
            s0.store(a0.add(i));
            s1.store(a1.add(i));
        } else {
            L::load(a0.add(i)).add(s0).store(a0.add(i));
            L::load(a1.add(i)).add(s1).store(a1.add(i));
        }
        i += 4;
    }
}

/// Zeroes source rows `ylo .. yhi` of the item's low-resolution gradient `gx` (every class).
///
/// # Safety
/// `ylo <= yhi <=` the item's rows, `gx` the whole item (`c * h * w` floats).
pub unsafe fn zero_rows(gx: &mut [f32], g: Plane, ylo: usize, yhi: usize) {
    debug_assert!(ylo <= yhi && g.at(yhi, 0) <= gx.len());
    let base = gx.as_mut_ptr();
    if g.ps == 1 {
        debug_assert!(g.c == 0 || (g.c - 1) * g.cs + g.at(yhi, 0) <= gx.len());
        for ci in 0..g.c {
            core::ptr::write_bytes(base.add(ci * g.cs + ylo * g.w), 0, (yhi - ylo) * g.w);
        }
    } else {
        core::ptr::write_bytes(base.add(g.at(ylo, 0)), 0, g.at(yhi, 0) - g.at(ylo, 0));
    }
}
