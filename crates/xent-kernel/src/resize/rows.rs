//! Which work a caller of a resized call does: the chunk width (from the classes only, so that
//! every caller adds in the same order), and the groups of output rows that its source rows
//! touch (the ones it owns, and with a gradient those that add into its rows), with their
//! labels' validation.

use super::geometry::{Axis, Mode, Resize, Tap};
use super::interpolate::COLS_PER_PIXEL;
use crate::{Arg, CrossEntropyArgs, Error, Labels, Outputs, Target};

/// Scratch floats per call and thread (128 KiB), unless the classes need more (see
/// [`super::scratch_floats`]).
pub const SCRATCH_BUDGET: usize = 32768;
/// The widest chunk of an output row.
const MAX_CHUNK: usize = 1024;

/// The `c x p` strips a call needs: the interpolated logits, their gradient and its two sums
/// over a group of rows, the probability targets, and for bilinear the two horizontally
/// interpolated source rows.
pub fn strips(args: &CrossEntropyArgs, rs: &Resize, out: &Outputs) -> usize {
    let bilinear = rs.mode != Mode::Nearest;
    1 + 3 * out.grad.is_some() as usize + matches!(args.target, Target::Prob(_)) as usize + 2 * bilinear as usize
}

/// The chunk width of a call: a function of the classes and the strips only (not of the
/// scratch given), so that the order of the gradient's additions, and so its bits, is the same
/// for every caller; and the scratch floats it needs.
pub fn chunk_of(c: usize, strips: usize) -> (usize, usize) {
    let p = chunk(super::scratch_floats(c), c, strips);
    (p, p.saturating_mul(COLS_PER_PIXEL + 1).saturating_add(strips.saturating_mul(round4(c.saturating_mul(p)))))
}

/// The chunk width for `len` floats of scratch: the most pixels whose strips (each rounded up
/// to whole lanes), taps and spare loss row fit, at most [`MAX_CHUNK`], a multiple of 16 (the
/// loss kernel's wide tile) when 16 or more fit; 0 when not even one does.
pub fn chunk(len: usize, c: usize, strips: usize) -> usize {
    let per = strips.saturating_mul(c).saturating_add(COLS_PER_PIXEL + 1);
    let p = (len.saturating_sub(3 * strips) / per).min(MAX_CHUNK);
    if p >= 16 {
        p & !15
    } else {
        p
    }
}

/// `n` rounded up to whole lanes (a multiple of 4): the strips' length in the scratch, so that
/// the lane loops over them need no partial loads.
pub fn round4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// Output rows `oy .. oy + rows` of item `b` with the same two source rows, which a caller's
/// source rows touch.
#[derive(Clone, Copy)]
pub struct Row {
    pub b: usize,
    pub oy: usize,
    pub rows: usize,
    /// The taps of row `oy` (the others have the same source rows, other weights).
    pub ty: Tap,
    /// Whether the caller owns it (the owner of its first source row): it writes its loss and
    /// full-resolution outputs.
    pub owned: bool,
    /// The caller's source rows in item `b`.
    pub ylo: usize,
    pub yhi: usize,
}

/// Calls `f` with each batch item that source rows `lo .. hi` (of the `n * in_h`) are in, and
/// the range of its rows they cover.
pub fn for_items(rs: &Resize, lo: usize, hi: usize, mut f: impl FnMut(usize, usize, usize)) {
    let h = rs.in_h.max(1);
    let mut b = lo / h;
    while b * h < hi {
        f(b, lo.max(b * h) - b * h, hi.min((b + 1) * h) - b * h);
        b += 1;
    }
}

/// Calls `f` with each group of output rows (consecutive, with the same two source rows)
/// touched by source rows `lo .. hi`, in order: the owned ones, and with `grad` also those
/// whose second source row is in the range.
pub fn for_rows(
    rs: &Resize,
    lo: usize,
    hi: usize,
    grad: bool,
    // `dyn`: one copy of the loop for the checks and the run, for the module's size.
    f: &mut dyn FnMut(Row) -> Result<(), Error>,
) -> Result<(), Error> {
    let ay = Axis::new(rs.mode, rs.in_h, rs.out_h);
    let mut r = Ok(());
    for_items(rs, lo, hi, |b, ylo, yhi| {
        let mut oy = 0;
        while oy < rs.out_h {
            let ty = ay.tap(oy);
            let mut rows = 1;
            while oy + rows < rs.out_h && {
                let t = ay.tap(oy + rows);
                (t.i0, t.i1) == (ty.i0, ty.i1)
            } {
                rows += 1;
            }
            let owned = (ylo..yhi).contains(&ty.i0);
            if r.is_ok() && (owned || (grad && (ylo..yhi).contains(&ty.i1))) {
                r = f(Row { b, oy, rows, ty, owned, ylo, yhi });
            }
            oy += rows;
        }
    });
    r
}

/// Validates the labels of every output row the range touches (before anything is written).
pub fn check_labels(args: &CrossEntropyArgs, rs: &Resize, lo: usize, hi: usize, grad: bool) -> Result<(), Error> {
    let Target::Index(l) = args.target else { return Ok(()) };
    for_rows(rs, lo, hi, grad, &mut |r| {
        let at = r.b * args.s + r.oy * rs.out_w;
        labels(l, at, at + r.rows * rs.out_w).ok_or(Error::BadArgument(Arg::Range))?.validate(
            args.c,
            args.ignore_index,
            None,
        )?;
        Ok(())
    })
}

/// Labels `lo .. hi` of `l`, with `l`'s lifetime.
pub fn labels(l: Labels<'_>, lo: usize, hi: usize) -> Option<Labels<'_>> {
    Some(match l {
        Labels::U8(v) => Labels::U8(v.get(lo..hi)?),
        Labels::U16(v) => Labels::U16(v.get(lo..hi)?),
        Labels::I32(v) => Labels::I32(v.get(lo..hi)?),
    })
}
