//! The backward half: the strips' gradients (w.r.t. the interpolated logits, `c x p`) scattered
//! back onto the low-resolution grid through the adjoint of the interpolation, in its two
//! halves: the rows of a group (same two source rows) are summed with their vertical weights
//! (`accumulate`, four lanes at a time), then each chunk's sums are scattered horizontally
//! (`adjoint`, scalar), in float32 (a product then a sum: the same bits on every build).
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
/// `g[y0, x0] += wx0 a0`, `g[y0, x1] += wx1 a0`, `g[y1, x0] += wx0 a1`, `g[y1, x1] += wx1 a1`
/// (`+= w a`: a product then a sum), or `g[y, x] += a0` for nearest.
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
        // Four classes at a time along the row: the additions into one element depend on each
        // other (a chain through memory), those of four classes do not.
        let mut c0 = 0;
        while c0 < g.c {
            let k = (g.c - c0).min(4);
            for j in 0..p {
                let (x0, x1, w0, w1) = cols.get(j);
                let (x0, x1) = (x0 * g.ps, x1 * g.ps);
                for ci in c0..c0 + k {
                    let (o, v) = (row.add(ci * g.cs), *a.add(ci * p + j));
                    if nearest {
                        *o.add(x0) += v;
                    } else {
                        *o.add(x0) += w0 * v;
                        *o.add(x1) += w1 * v;
                    }
                }
            }
            c0 += k;
        }
    }
}

/// Adds a row's gradient strip `gs` (`n` floats, a multiple of 4) into the group's sums with its vertical
/// weights, four lanes at a time: `a0 += wy0 gs`, `a1 += wy1 gs` (the first row of a group
/// sets them to the products). Nearest's taps (`wy0 = 1`, `wy1 = 0`) make `a0` the plain sum
/// (`1 gs` is `gs`); its `a1` is not read.
///
/// # Safety
/// `gs`, `a0` and `a1` valid for `n` floats.
pub unsafe fn accumulate<L: F32x4>(gs: *const f32, ty: Tap, first: bool, a0: *mut f32, a1: *mut f32, n: usize) {
    debug_assert!(n % 4 == 0);
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
