//! The row loop of a resized call: for each output row that a caller's source rows touch,
//! chunk by chunk, interpolate the strip, run the loss kernel on it as a `1 x c x p` NCHW
//! problem (full-resolution target, maps and scores are slices of the caller's), and scatter
//! its gradient back into the owned source rows.

use super::adjoint::{adjoint, zero_rows};
use super::geometry::{Axis, Mode, Resize, Tap};
use super::interpolate::{interpolate, Cols, Plane, COLS_PER_PIXEL};
use crate::lanes::F32x4;
use crate::{
    cross_entropy_range_with, CrossEntropyArgs, Error, ExactSum, Labels, Layout, Outputs, Pred, Reduction, Target,
};

/// Scratch floats per call and thread (128 KiB), unless the classes need more (see
/// [`super::scratch_floats`]).
pub const SCRATCH_BUDGET: usize = 32768;
/// The widest chunk of an output row.
const MAX_CHUNK: usize = 1024;

/// The `c x p` strips a call needs: the interpolated logits, their gradient, the probability
/// targets.
pub fn strips(args: &CrossEntropyArgs, out: &Outputs) -> usize {
    1 + out.grad.is_some() as usize + matches!(args.target, Target::Prob(_)) as usize
}

/// The chunk width for `len` floats of scratch: the most pixels whose strips, taps and spare
/// loss row fit, at most [`MAX_CHUNK`], a multiple of 16 (the loss kernel's wide tile) when
/// 16 or more fit; 0 when not even one does.
pub fn chunk(len: usize, c: usize, strips: usize) -> usize {
    let per = strips * c + COLS_PER_PIXEL + 1;
    let p = (len / per).min(MAX_CHUNK);
    if p >= 16 {
        p & !15
    } else {
        p
    }
}

/// One output row that a caller's source rows touch.
#[derive(Clone, Copy)]
struct Row {
    b: usize,
    oy: usize,
    ty: Tap,
    /// Whether the caller owns it (the owner of its first source row): it writes its loss and
    /// full-resolution outputs.
    owned: bool,
    /// The caller's source rows in item `b`.
    ylo: usize,
    yhi: usize,
}

/// The output rows touched by source rows `lo .. hi` (of the `n * in_h`): the owned ones, and
/// with `grad` also those whose second source row is in the range.
fn rows(rs: &Resize, lo: usize, hi: usize, grad: bool) -> impl Iterator<Item = Row> + '_ {
    let ay = Axis::new(rs.mode, rs.in_h, rs.out_h);
    items(rs, lo, hi).flat_map(move |b| {
        let ylo = lo.max(b * rs.in_h) - b * rs.in_h;
        let yhi = hi.min((b + 1) * rs.in_h) - b * rs.in_h;
        (0..rs.out_h).filter_map(move |oy| {
            let ty = ay.tap(oy);
            let owned = (ylo..yhi).contains(&ty.i0);
            let touched = owned || (grad && (ylo..yhi).contains(&ty.i1));
            touched.then_some(Row { b, oy, ty, owned, ylo, yhi })
        })
    })
}

/// The batch items that source rows `lo .. hi` (of the `n * in_h`) are in.
fn items(rs: &Resize, lo: usize, hi: usize) -> core::ops::Range<usize> {
    if lo < hi {
        lo / rs.in_h..(hi - 1) / rs.in_h + 1
    } else {
        0..0
    }
}

/// Validates the labels of every output row the range touches (before anything is written).
pub fn check_labels(args: &CrossEntropyArgs, rs: &Resize, lo: usize, hi: usize, grad: bool) -> Result<(), Error> {
    if let Target::Index(l) = args.target {
        for r in rows(rs, lo, hi, grad) {
            let at = r.b * args.s + r.oy * rs.out_w;
            let row = labels(l, at, at + rs.out_w).ok_or(Error::BadArgument(crate::Arg::Range))?;
            row.validate(args.c, args.ignore_index, None)?;
        }
    }
    Ok(())
}

/// Runs source rows `lo .. hi`: zeroes their gradient, then each output row they touch.
///
/// # Safety
/// `args`, `rs` and `out` checked ([`super::check::check`]), the labels of the touched rows
/// valid ([`check_labels`]), `lo <= hi <= n * in_h`, and `p` = [`chunk`] of `scratch` at
/// least 1.
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
    let big_p = chunk(scratch.len(), c, strips(args, out));
    debug_assert!(big_p >= 1);
    let (cols_buf, rest) = scratch.split_at_mut(COLS_PER_PIXEL * big_p);
    let (strip, rest) = rest.split_at_mut(c * big_p);
    let (gstrip, rest) = rest.split_at_mut(if grad { c * big_p } else { 0 });
    let (qstrip, spare) = rest.split_at_mut(if let Target::Prob(_) = args.target { c * big_p } else { 0 });
    let in_s = rs.in_h * rs.in_w;
    let (cs, ps) = match args.layout {
        Layout::Nchw => (in_s, 1),
        Layout::Nhwc => (1, c),
    };
    let plane = Plane { c, w: rs.in_w, cs, ps };
    // The probability targets' strides at the full resolution.
    let (tcs, tps) = match args.layout {
        Layout::Nchw => (s, 1),
        Layout::Nhwc => (1, c),
    };
    let ax = Axis::new(rs.mode, rs.in_w, rs.out_w);
    let nearest = rs.mode == Mode::Nearest;
    let item = c * in_s;
    if let Some(gx) = out.grad.as_deref_mut() {
        for b in items(rs, lo, hi) {
            let (ylo, yhi) = (lo.max(b * rs.in_h) - b * rs.in_h, hi.min((b + 1) * rs.in_h) - b * rs.in_h);
            zero_rows(&mut gx[b * item..(b + 1) * item], plane, ylo, yhi);
        }
    }
    // The losses of rows owned by another caller go nowhere.
    let mut spare_acc = ExactSum::default();
    for r in rows(rs, lo, hi, grad) {
        let x = &args.logits[r.b * item..(r.b + 1) * item];
        let mut x0 = 0;
        while x0 < rs.out_w {
            let p = big_p.min(rs.out_w - x0);
            let mut cols = Cols { cols: &mut cols_buf[..COLS_PER_PIXEL * p], p };
            cols.fill(r.ty, x0, |v| ax.tap(v));
            interpolate(x, plane, nearest, r.ty, &cols, strip);
            let at = r.b * s + r.oy * rs.out_w + x0;
            let target = match args.target {
                Target::Index(l) => Target::Index(labels(l, at, at + p).unwrap_or(l)),
                Target::Prob(q) => {
                    let q = &q[r.b * c * s..];
                    let pix = r.oy * rs.out_w + x0;
                    for ci in 0..c {
                        for j in 0..p {
                            qstrip[ci * p + j] = q[ci * tcs + (pix + j) * tps];
                        }
                    }
                    Target::Prob(&qstrip[..c * p])
                }
            };
            let sargs = CrossEntropyArgs {
                logits: &strip[..c * p],
                target,
                n: 1,
                s: p,
                layout: Layout::Nchw,
                grad_output: args.grad_output.map(|g| &g[at..at + p]),
                ..*args
            };
            let owned = r.owned;
            let slice = |m| part(m, owned, at, p);
            let loss_map = match slice(out.loss_map.as_deref_mut()) {
                None if args.reduction == Reduction::None => Some(&mut spare[..p]),
                m => m,
            };
            let sout = Outputs {
                grad: grad.then(|| &mut gstrip[..c * p]),
                loss_map,
                confidence: slice(out.confidence.as_deref_mut()),
                pred: match out.pred.as_mut().filter(|_| owned) {
                    None => None,
                    Some(Pred::U8(v)) => Some(Pred::U8(&mut v[at..at + p])),
                    Some(Pred::U16(v)) => Some(Pred::U16(&mut v[at..at + p])),
                },
                pred_confidence: slice(out.pred_confidence.as_deref_mut()),
                confusion: out.confusion.as_deref_mut().filter(|_| owned),
            };
            let sum = if owned { &mut *acc } else { &mut spare_acc };
            let ok = cross_entropy_range_with::<L>(&sargs, sout, weight_sum, 0, p, sum);
            debug_assert!(ok.is_ok(), "a strip failed its checks: {ok:?}");
            if let Some(gx) = out.grad.as_deref_mut() {
                adjoint(&mut gx[r.b * item..(r.b + 1) * item], plane, nearest, r.ty, &cols, gstrip, r.ylo, r.yhi);
            }
            x0 += p;
        }
    }
}

/// Labels `lo .. hi` of `l`, with `l`'s lifetime.
pub fn labels(l: Labels<'_>, lo: usize, hi: usize) -> Option<Labels<'_>> {
    Some(match l {
        Labels::U8(v) => Labels::U8(v.get(lo..hi)?),
        Labels::U16(v) => Labels::U16(v.get(lo..hi)?),
        Labels::I32(v) => Labels::I32(v.get(lo..hi)?),
    })
}

/// Values `at .. at + p` of a full-resolution output, if there is one and the row is `owned`.
fn part(m: Option<&mut [f32]>, owned: bool, at: usize, p: usize) -> Option<&mut [f32]> {
    m.filter(|_| owned).map(|m| &mut m[at..at + p])
}
