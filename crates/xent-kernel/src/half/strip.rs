//! One strip of a float16 call (see the parent module): its logits converted into the scratch,
//! its arguments and outputs as a problem of its own, and the run.

use super::convert::convert;
use crate::cross_entropy::{cross_entropy_range_unchecked, CrossEntropyArgs, Outputs, Pred, Target};
use crate::lanes::F32x4;
use crate::{Arg, Error, ExactSum, Layout};
use core::slice::{from_raw_parts, from_raw_parts_mut};

/// The strips of one range call.
pub(super) struct Strips<'s, 'a> {
    pub args: &'s CrossEntropyArgs<'a>,
    pub logits: &'s [u16],
    pub scratch: &'s mut [f32],
    /// Pixels per strip (the scratch holds that many).
    pub width: usize,
}

impl Strips<'_, '_> {
    /// Runs the strip that starts at flat pixel `pix` (at most `hi - pix` pixels; NCHW: within
    /// one batch item) and returns its width. The caller checked every length against the call
    /// (`check_f16`) and the labels of its range: the slicing below cannot fail, and neither
    /// can the strip's own checks.
    ///
    /// # Safety
    /// `check_f16` passed for the call, the labels of `pix .. hi` are valid, `pix < hi <= n * s`
    /// and the scratch holds `width` pixels.
    pub unsafe fn run<L: F32x4>(
        &mut self,
        out: &mut Outputs,
        weight_sum: f64,
        pix: usize,
        hi: usize,
        acc: &mut ExactSum,
    ) -> Result<usize, Error> {
        let a = self.args;
        let c = a.c;
        let nhwc = a.layout == Layout::Nhwc;
        // NCHW: batch item `b`, its pixel `p0`; a class row `ci` of the strip starts at `row(ci)`.
        let s = a.s.max(1);
        let (b, p0) = if nhwc { (0, pix) } else { (pix / s, pix % s) };
        let w = self.width.min(hi - pix).min(if nhwc { hi - pix } else { a.s - p0 });
        let row = |ci: usize| (b * c + ci) * a.s + p0;
        // Unchecked slicing (a panic's formatting would cost the module kilobytes): every range
        // below is inside its buffer by the caller's checks.
        let (x, rest) = self.scratch.split_at_mut_unchecked(c * w);
        if nhwc {
            convert(part(self.logits, pix * c, w * c)?, x);
        } else {
            for ci in 0..c {
                convert(part(self.logits, row(ci), w)?, part_mut(x, ci * w, w)?);
            }
        }
        let grad_here = !nhwc && out.grad.is_some();
        let (g, rest) = rest.split_at_mut_unchecked(if grad_here { c * w } else { 0 });
        let target = match &a.target {
            Target::Index(l) => Target::Index(l.range(pix, pix + w).ok_or(RANGE)?),
            &Target::Prob(q) if nhwc => Target::Prob(part(q, pix * c, w * c)?),
            &Target::Prob(q) => {
                let qs = part_mut(rest, 0, c * w)?;
                for ci in 0..c {
                    copy(part(q, row(ci), w)?, part_mut(qs, ci * w, w)?);
                }
                Target::Prob(qs)
            }
        };
        let grad_output = match a.grad_output {
            Some(go) => Some(part(go, pix, w)?),
            None => None,
        };
        let strip = CrossEntropyArgs { logits: x, target, n: 1, s: w, grad_output, ..*a };
        let grad = if nhwc { Grad::InPlace(pix * c, w * c) } else { Grad::Scratch(grad_here.then_some(g)) };
        cross_entropy_range_unchecked::<L>(&strip, outputs(out, pix, w, grad)?, weight_sum, 0, w, acc);
        if grad_here {
            let full = out.grad.as_deref_mut().unwrap_or_default();
            let sg = part(self.scratch, c * w, c * w)?;
            for ci in 0..c {
                copy(part(sg, ci * w, w)?, part_mut(full, row(ci), w)?);
            }
        }
        Ok(w)
    }
}

/// The error of a range outside its buffer (which the caller's checks rule out).
const RANGE: Error = Error::BadArgument(Arg::Range);

/// `len` values of `v` from `at`, unchecked (always `Ok`).
///
/// # Safety
/// `at + len <= v.len()`.
unsafe fn part<T>(v: &[T], at: usize, len: usize) -> Result<&[T], Error> {
    debug_assert!(at + len <= v.len());
    Ok(from_raw_parts(v.as_ptr().add(at), len))
}

/// A mutable [`part`].
///
/// # Safety
/// As [`part`].
unsafe fn part_mut<T>(v: &mut [T], at: usize, len: usize) -> Result<&mut [T], Error> {
    debug_assert!(at + len <= v.len());
    Ok(from_raw_parts_mut(v.as_mut_ptr().add(at), len))
}

/// Copies `src` into `dst` (the same lengths), without `copy_from_slice`'s panic.
fn copy(src: &[f32], dst: &mut [f32]) {
    for (d, v) in dst.iter_mut().zip(src) {
        *d = *v;
    }
}

/// Where a strip's gradient goes: `len` values of the real one from `at` (NHWC), or the scratch (NCHW).
enum Grad<'g> {
    InPlace(usize, usize),
    Scratch(Option<&'g mut [f32]>),
}

/// The outputs of samples `pix .. pix + w` of `out` (the confusion matrix whole).
///
/// # Safety
/// As [`part`], for every output present and `grad`'s range.
unsafe fn outputs<'o>(out: &'o mut Outputs, pix: usize, w: usize, grad: Grad<'o>) -> Result<Outputs<'o>, Error> {
    let Outputs { grad: full, loss_map, confidence, pred, pred_confidence, confusion } = out;
    let map = |m: &'o mut Option<&mut [f32]>| -> Result<Option<&'o mut [f32]>, Error> {
        match m.as_deref_mut() {
            Some(m) => Ok(Some(part_mut(m, pix, w)?)),
            None => Ok(None),
        }
    };
    Ok(Outputs {
        grad: match grad {
            Grad::InPlace(at, len) => match full.as_deref_mut() {
                Some(g) => Some(part_mut(g, at, len)?),
                None => None,
            },
            Grad::Scratch(g) => g,
        },
        loss_map: map(loss_map)?,
        confidence: map(confidence)?,
        pred: match pred {
            Some(Pred::U8(p)) => Some(Pred::U8(part_mut(p, pix, w)?)),
            Some(Pred::U16(p)) => Some(Pred::U16(part_mut(p, pix, w)?)),
            None => None,
        },
        pred_confidence: map(pred_confidence)?,
        confusion: confusion.as_deref_mut(),
    })
}

/// The length of a prediction map.
pub(super) fn pred_len(p: &Pred) -> usize {
    match p {
        Pred::U8(p) => p.len(),
        Pred::U16(p) => p.len(),
    }
}
