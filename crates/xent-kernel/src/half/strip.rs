//! One strip of a float16 call (see the parent module): its logits converted into the scratch,
//! its arguments and outputs as a problem of its own, and the run.

use super::convert::convert;
use crate::cross_entropy::{cross_entropy_range_with, CrossEntropyArgs, Outputs, Pred, Target};
use crate::lanes::F32x4;
use crate::{Error, ExactSum, Layout};

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
    pub fn run<L: F32x4>(
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
        let (b, p0) = if nhwc { (0, pix) } else { (pix / a.s, pix % a.s) };
        let w = self.width.min(hi - pix).min(if nhwc { hi - pix } else { a.s - p0 });
        let row = |ci: usize| (b * c + ci) * a.s + p0;
        let (x, rest) = self.scratch.split_at_mut(c * w);
        if nhwc {
            convert(&self.logits[pix * c..(pix + w) * c], x);
        } else {
            for ci in 0..c {
                convert(&self.logits[row(ci)..][..w], &mut x[ci * w..][..w]);
            }
        }
        let grad_here = !nhwc && out.grad.is_some();
        let (g, rest) = rest.split_at_mut(if grad_here { c * w } else { 0 });
        let target = match &a.target {
            Target::Index(l) => Target::Index(l.range(pix, pix + w).ok_or(Error::BadArgument(crate::Arg::Range))?),
            &Target::Prob(q) if nhwc => Target::Prob(&q[pix * c..(pix + w) * c]),
            &Target::Prob(q) => {
                let qs = &mut rest[..c * w];
                for ci in 0..c {
                    qs[ci * w..][..w].copy_from_slice(&q[row(ci)..][..w]);
                }
                Target::Prob(qs)
            }
        };
        let strip = CrossEntropyArgs {
            logits: x,
            target,
            n: 1,
            s: w,
            grad_output: a.grad_output.map(|go| &go[pix..pix + w]),
            ..*a
        };
        let grad = if nhwc { Grad::InPlace(pix * c, (pix + w) * c) } else { Grad::Scratch(grad_here.then_some(g)) };
        cross_entropy_range_with::<L>(&strip, outputs(out, pix, w, grad), weight_sum, 0, w, acc)?;
        if grad_here {
            let full = out.grad.as_deref_mut().unwrap_or_default();
            for ci in 0..c {
                full[row(ci)..][..w].copy_from_slice(&strip_grad(self.scratch, c, w)[ci * w..][..w]);
            }
        }
        Ok(w)
    }
}

/// The strip's gradient in the scratch (after its logits).
fn strip_grad(scratch: &[f32], c: usize, w: usize) -> &[f32] {
    &scratch[c * w..2 * c * w]
}

/// Where a strip's gradient goes: a range of the real one (NHWC), or the scratch (NCHW).
enum Grad<'g> {
    InPlace(usize, usize),
    Scratch(Option<&'g mut [f32]>),
}

/// The outputs of samples `pix .. pix + w` of `out` (the confusion matrix whole).
fn outputs<'o>(out: &'o mut Outputs, pix: usize, w: usize, grad: Grad<'o>) -> Outputs<'o> {
    let Outputs { grad: full, loss_map, confidence, pred, pred_confidence, confusion } = out;
    let r = pix..pix + w;
    Outputs {
        grad: match grad {
            Grad::InPlace(lo, hi) => full.as_deref_mut().map(|g| &mut g[lo..hi]),
            Grad::Scratch(g) => g,
        },
        loss_map: loss_map.as_deref_mut().map(|m| &mut m[r.clone()]),
        confidence: confidence.as_deref_mut().map(|m| &mut m[r.clone()]),
        pred: pred.as_mut().map(|p| match p {
            Pred::U8(p) => Pred::U8(&mut p[r.clone()]),
            Pred::U16(p) => Pred::U16(&mut p[r.clone()]),
        }),
        pred_confidence: pred_confidence.as_deref_mut().map(|m| &mut m[r.clone()]),
        confusion: confusion.as_deref_mut(),
    }
}

/// The length of a prediction map.
pub(super) fn pred_len(p: &Pred) -> usize {
    match p {
        Pred::U8(p) => p.len(),
        Pred::U16(p) => p.len(),
    }
}

/// A problem of no samples with the options, outputs present and confusion matrix of `args` and
/// `out`: what [`crate::weight_sum`] checks on it does not depend on the lengths.
pub(super) fn empty<'o>(args: &'o CrossEntropyArgs<'_>, out: &'o mut Outputs) -> (CrossEntropyArgs<'o>, Outputs<'o>) {
    let target = match &args.target {
        Target::Index(l) => Target::Index(l.range(0, 0).unwrap_or(*l)),
        Target::Prob(_) => Target::Prob(&[]),
    };
    let none = |m: &Option<&mut [f32]>| m.as_ref().map(|_| <&mut [f32]>::default());
    let a =
        CrossEntropyArgs { logits: &[], target, n: 1, s: 0, grad_output: args.grad_output.map(|_| &[][..]), ..*args };
    let o = Outputs {
        grad: none(&out.grad),
        loss_map: none(&out.loss_map),
        confidence: none(&out.confidence),
        pred: out.pred.as_ref().map(|p| match p {
            Pred::U8(_) => Pred::U8(&mut []),
            Pred::U16(_) => Pred::U16(&mut []),
        }),
        pred_confidence: none(&out.pred_confidence),
        confusion: out.confusion.as_deref_mut(),
    };
    (a, o)
}
