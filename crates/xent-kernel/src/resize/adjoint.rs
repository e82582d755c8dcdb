//! The backward half: a strip's gradient (w.r.t. the interpolated logits, `c x p`) scattered
//! back onto the low-resolution grid through the adjoint of the interpolation, as PyTorch's CPU
//! `upsample_bilinear2d_backward` does it: per output pixel the four taps
//! `g[y0, x0] += (wy0 wx0) go`, `g[y0, x1]`, `g[y1, x0]`, `g[y1, x1]` (fused multiply-adds, as
//! its FMA-contracted code), or `g[y, x] += go` for nearest; the pixels in the driver's order
//! (PyTorch's row-major order, except across the chunks of a group of rows).
//!
//! Determinism: a caller owns the source rows `[ylo, yhi)` and adds only into them, and every
//! caller runs the groups, chunks (of a width set by `c`) and rows in the same order. Each
//! gradient element then receives its contributions in the same order whatever the split, so
//! any number of threads gives the bits of one.

use super::geometry::{fma, Tap};
use super::interpolate::{Cols, Plane};

/// Adds the gradient strip `gs` (`c x p`, class stride `p`) of the output chunk `cols` of the
/// row with vertical taps `ty` into the item's low-resolution gradient `gx`, in source rows
/// `ylo .. yhi` only.
///
/// # Safety
/// As [`super::interpolate::interpolate`], with `gx` for `x`; `gs` at least `c * p` long.
#[expect(clippy::too_many_arguments, reason = "one chunk of one row: its geometry, strip and owned rows")]
pub unsafe fn adjoint(
    gx: &mut [f32],
    g: Plane,
    nearest: bool,
    ty: Tap,
    cols: &Cols,
    gs: &[f32],
    ylo: usize,
    yhi: usize,
) {
    let p = cols.p;
    debug_assert!(gs.len() >= g.c * p);
    let own0 = (ylo..yhi).contains(&ty.i0);
    let own1 = (ylo..yhi).contains(&ty.i1);
    if !own0 && !own1 {
        return;
    }
    debug_assert!(g.c == 0 || (g.c - 1) * g.cs + g.at(ty.i0.max(ty.i1), g.w - 1) < gx.len());
    let (base, src) = (gx.as_mut_ptr(), gs.as_ptr());
    // One output pixel's contributions to the class plane at `o` (offsets of its taps).
    let scatter = |o: *mut f32, go: f32, w: [f32; 4], [a, b, c, d]: [usize; 4]| {
        let add = |i: usize, wt: f32| *o.add(i) = fma(wt, go, *o.add(i));
        if nearest {
            if own0 {
                *o.add(a) += go;
            }
            return;
        }
        if own0 {
            add(a, w[0]);
            add(b, w[1]);
        }
        if own1 {
            add(c, w[2]);
            add(d, w[3]);
        }
    };
    if g.ps == 1 {
        // NCHW: four classes at a time along the rows: the additions into one element depend
        // on each other (a chain through memory), those of four classes do not.
        let (r0, r1) = (ty.i0 * g.w, ty.i1 * g.w);
        let mut c0 = 0;
        while c0 < g.c {
            let k = (g.c - c0).min(4);
            for j in 0..p {
                let (x0, x1, _, _, w) = cols.get(j);
                let taps = [r0 + x0, r0 + x1, r1 + x0, r1 + x1];
                for ci in c0..c0 + k {
                    scatter(base.add(ci * g.cs), *src.add(ci * p + j), w, taps);
                }
            }
            c0 += k;
        }
        return;
    }
    for j in 0..p {
        let (x0, x1, _, _, w) = cols.get(j);
        let taps = [g.at(ty.i0, x0), g.at(ty.i0, x1), g.at(ty.i1, x0), g.at(ty.i1, x1)];
        for ci in 0..g.c {
            scatter(base.add(ci), *src.add(ci * p + j), w, taps);
        }
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
