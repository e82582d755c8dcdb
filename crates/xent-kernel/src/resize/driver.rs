//! The row loop of a resized call: for each output row that a caller's source rows touch,
//! chunk by chunk, interpolate the strip, run the loss kernel on it as a `1 x c x p` NCHW
//! problem (full-resolution target, maps and scores are slices of the caller's), and scatter
//! its gradient back into the owned source rows.
//!
//! No panicking index below (a panic's formatting would cost the module kilobytes): the
//! lengths are checked once by [`super::check::check`], and the slices are taken unchecked.

use super::adjoint::{accumulate, adjoint, zero_rows};
use super::geometry::{Axis, Mode, Resize};
use super::interpolate::{hrows, nearest as gather, vblend, Cols, Plane, COLS_PER_PIXEL};
use super::rows::{chunk_of, for_items, for_rows, labels, round4, strips, Row};
use crate::cross_entropy::cross_entropy_range_unchecked;
use crate::lanes::F32x4;
use crate::{CrossEntropyArgs, ExactSum, Layout, Outputs, Pred, Reduction, Target};
use core::slice::{from_raw_parts, from_raw_parts_mut};

/// `len` values of `v` from `at`, unchecked.
///
/// # Safety
/// `at + len <= v.len()`.
#[inline(always)]
unsafe fn part<T>(v: &[T], at: usize, len: usize) -> &[T] {
    debug_assert!(at + len <= v.len());
    from_raw_parts(v.as_ptr().add(at), len)
}

/// A mutable [`part`].
///
/// # Safety
/// As [`part`].
#[inline(always)]
unsafe fn part_mut<T>(v: &mut [T], at: usize, len: usize) -> &mut [T] {
    debug_assert!(at + len <= v.len());
    from_raw_parts_mut(v.as_mut_ptr().add(at), len)
}

/// Values `at .. at + p` of a full-resolution output, if there is one and the row is `owned`.
///
/// # Safety
/// As [`part`].
unsafe fn owned_part(m: Option<&mut [f32]>, owned: bool, at: usize, p: usize) -> Option<&mut [f32]> {
    m.filter(|_| owned).map(|m| part_mut(m, at, p))
}

/// Runs source rows `lo .. hi`: zeroes their gradient, then each output row they touch.
///
/// # Safety
/// `args`, `rs` and `out` checked ([`super::check::check`]), the labels of the touched rows
/// valid ([`super::rows::check_labels`]), `lo <= hi <= n * in_h`, and `scratch` at least as long as
/// [`chunk_of`] says, for a chunk of at least 1.
#[expect(clippy::too_many_arguments, reason = "a split call's arguments, as cross_entropy_range_with's")]
pub unsafe fn run_rows<L: F32x4>(
    args: &CrossEntropyArgs,
    rs: &Resize,
    out: &mut Outputs,
    weight_sum: f64,
    lo: usize,
    hi: usize,
    scratch: &mut [f32],
    acc: &mut ExactSum,
) {
    let (c, s) = (args.c, args.s);
    let grad = out.grad.is_some();
    let prob = matches!(args.target, Target::Prob(_));
    let nearest = rs.mode == Mode::Nearest;
    let (big_p, need) = chunk_of(c, strips(args, rs, out));
    debug_assert!(big_p >= 1 && need <= scratch.len());
    // Scratch: [taps | interpolated logits | their gradient | probability targets | the two
    // horizontally interpolated source rows (bilinear) | the gradient's two sums | spare losses].
    // Each strip `cb` floats, whole lanes (`round4`): the lane loops run over `round4(c * p)`
    // values, the last few past the chunk's (stale scratch in, ignored out).
    let cb = round4(c * big_p);
    let strip_at = COLS_PER_PIXEL * big_p;
    let gstrip_at = strip_at + cb;
    let qstrip_at = gstrip_at + if grad { cb } else { 0 };
    let h_at = qstrip_at + if prob { cb } else { 0 };
    let a_at = h_at + if nearest { 0 } else { 2 * cb };
    let spare_at = a_at + if grad { 2 * cb } else { 0 };
    debug_assert!(spare_at + big_p <= need);
    let sp = scratch.as_mut_ptr();
    let in_s = rs.in_h * rs.in_w;
    // (class stride, pixel stride) of the logits and, at the full resolution, of the targets.
    let ((cs, ps), (tcs, tps)) = match args.layout {
        Layout::Nchw => ((in_s, 1), (s, 1)),
        Layout::Nhwc => ((1, c), (1, c)),
    };
    let plane = Plane { c, w: rs.in_w, cs, ps };
    let ax = Axis::new(rs.mode, rs.in_w, rs.out_w);
    let ay = Axis::new(rs.mode, rs.in_h, rs.out_h);
    let item = c * in_s;
    if let Some(gx) = out.grad.as_deref_mut() {
        for_items(rs, lo, hi, |b, ylo, yhi| zero_rows(part_mut(gx, b * item, item), plane, ylo, yhi));
    }
    // The losses of rows owned by another caller go nowhere.
    let mut spare_acc = ExactSum::default();
    // Group by group (rows with the same source rows), chunk by chunk, row by row: the
    // horizontal half of bilinear is computed once per group and chunk.
    let _ = for_rows(rs, lo, hi, grad, &mut |g| {
        let x = part(args.logits, g.b * item, item);
        let mut x0 = 0;
        while x0 < rs.out_w {
            let p = big_p.min(rs.out_w - x0);
            let mut cols = Cols { cols: from_raw_parts_mut(sp, COLS_PER_PIXEL * p), p };
            cols.fill(x0, |v| ax.tap(v));
            // (Nearest has no h-rows: their place is the next buffer's.)
            let hs = |k: usize| from_raw_parts_mut(sp.add(h_at + k * cb), c * p);
            if !nearest {
                hrows(x, plane, g.ty, &cols, hs(0), hs(1));
            }
            for k in 0..g.rows {
                let oy = g.oy + k;
                let ty = if k == 0 { g.ty } else { ay.tap(oy) };
                let r = Row { oy, ty, ..g };
                let strip = from_raw_parts_mut(sp.add(strip_at), c * p);
                if nearest {
                    gather(x, plane, ty, &cols, strip);
                } else {
                    vblend::<L>(sp.add(h_at), sp.add(h_at + cb), ty, strip.as_mut_ptr(), round4(c * p));
                }
                let at = r.b * s + r.oy * rs.out_w + x0;
                let target = match args.target {
                    Target::Index(l) => Target::Index(labels(l, at, at + p).unwrap_or(l)),
                    Target::Prob(q) => {
                        let qs = from_raw_parts_mut(sp.add(qstrip_at), c * p);
                        let q0 = r.b * c * s + (r.oy * rs.out_w + x0) * tps;
                        for ci in 0..c {
                            for j in 0..p {
                                *qs.get_unchecked_mut(ci * p + j) = *q.get_unchecked(q0 + ci * tcs + j * tps);
                            }
                        }
                        Target::Prob(qs)
                    }
                };
                let sargs = CrossEntropyArgs {
                    logits: strip,
                    target,
                    n: 1,
                    s: p,
                    layout: Layout::Nchw,
                    grad_output: args.grad_output.map(|g| part(g, at, p)),
                    ..*args
                };
                let owned = r.owned;
                let map = |m| owned_part(m, owned, at, p);
                let loss_map = match map(out.loss_map.as_deref_mut()) {
                    None if args.reduction == Reduction::None => Some(from_raw_parts_mut(sp.add(spare_at), p)),
                    m => m,
                };
                let sout = Outputs {
                    grad: grad.then(|| from_raw_parts_mut(sp.add(gstrip_at), c * p)),
                    loss_map,
                    confidence: map(out.confidence.as_deref_mut()),
                    pred: match out.pred.as_mut().filter(|_| owned) {
                        None => None,
                        Some(Pred::U8(v)) => Some(Pred::U8(part_mut(v, at, p))),
                        Some(Pred::U16(v)) => Some(Pred::U16(part_mut(v, at, p))),
                    },
                    pred_confidence: map(out.pred_confidence.as_deref_mut()),
                    confusion: out.confusion.as_deref_mut().filter(|_| owned),
                };
                let sum = if owned { &mut *acc } else { &mut spare_acc };
                // The strip is valid by construction: its lengths from the checked call's, its
                // labels checked (`check_labels`).
                cross_entropy_range_unchecked::<L>(&sargs, sout, weight_sum, 0, p, sum);
                if grad {
                    accumulate::<L>(sp.add(gstrip_at), ty, k == 0, sp.add(a_at), sp.add(a_at + cb), round4(c * p));
                }
            }
            if let Some(gx) = out.grad.as_deref_mut() {
                let (a0, a1) = (from_raw_parts(sp.add(a_at), c * p), from_raw_parts(sp.add(a_at + cb), c * p));
                adjoint(part_mut(gx, g.b * item, item), plane, nearest, g.ty, &cols, a0, a1, g.ylo, g.yhi);
            }
            x0 += p;
        }
        Ok(())
    });
}
