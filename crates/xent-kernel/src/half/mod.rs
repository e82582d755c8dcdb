//! Float16 logits: softmax cross-entropy over `[n, c, s]` logits given as IEEE half bits,
//! converted to f32 on load, with the bits of [`crate::cross_entropy()`] on the same values.
//!
//! The logits are converted a strip of pixels at a time into a caller-provided f32 scratch
//! ([`convert`]), and each strip is run by [`crate::cross_entropy_range_with`] as a problem of its own
//! (one batch item, `width` pixels), with the whole call's `weight_sum`, adding into the
//! caller's [`ExactSum`]: per-sample arithmetic does not depend on the neighbours and the sum
//! not on the order, so the results are those of the f32 logits of the same values, whatever
//! the strip width or the split between threads. The strip's per-sample outputs are
//! sub-slices of the real ones.
//!
//! - NCHW: a strip is `width` pixels of one batch item, `c x width` (class stride `width`) in
//!   the scratch; a gradient and probability targets have class stride `s` in the real
//!   buffers, so they go through the scratch too (targets copied in, the gradient copied out).
//! - NHWC: `[n, s, c]` is `[n * s, c]`, and a strip of pixels is contiguous in every buffer:
//!   only the logits go through the scratch, converted as they are (no transposition); the
//!   strip is an NHWC problem of `width` pixels writing the real gradient in place.
//!
//! The scratch holds `k * c` floats per pixel of a strip (`k` = 1 for NHWC; for NCHW 1, plus 1
//! with a gradient, plus 1 with probability targets); [`scratch_floats_per_pixel`] says how many a
//! strip of a given width needs. Fewer than one pixel's worth is [`Arg::Scratch`].

pub mod convert;
mod strip;

use crate::cross_entropy::{check_options, reduce, CrossEntropyArgs, CrossEntropyResult, Outputs, Target};
use crate::lanes::{F32x4, Native};
use crate::{ensure, Arg, Error, ExactSum, Layout};
use strip::Strips;

/// The f32 scratch floats per pixel of a strip (see the module's doc).
pub fn scratch_floats_per_pixel(args: &CrossEntropyArgs, grad: bool) -> usize {
    match args.layout {
        Layout::Nhwc => args.c,
        Layout::Nchw => args.c * (1 + grad as usize + matches!(args.target, Target::Prob(_)) as usize),
    }
}

/// [`cross_entropy_f16_with`] on this build's lanes.
pub fn cross_entropy_f16(
    args: &CrossEntropyArgs,
    logits: &[u16],
    out: Outputs,
    scratch: &mut [f32],
) -> Result<CrossEntropyResult, Error> {
    cross_entropy_f16_with::<Native>(args, logits, out, scratch)
}

/// Softmax cross-entropy over the float16 `logits` (half bits, `[n, c, s]` in `args.layout`);
/// `args` describes the call as for [`crate::cross_entropy()`] except that `args.logits` is not
/// read (give `&[]`). Validates everything first: on error nothing has been written.
pub fn cross_entropy_f16_with<L: F32x4>(
    args: &CrossEntropyArgs,
    logits: &[u16],
    out: Outputs,
    scratch: &mut [f32],
) -> Result<CrossEntropyResult, Error> {
    let mut out = out;
    let ws = weight_sum_f16(args, logits, &mut out)?;
    let mut acc = ExactSum::default();
    cross_entropy_f16_range_with::<L>(args, logits, out, ws, 0, args.n * args.s, &mut acc, scratch)?;
    Ok(reduce(args, acc.value(), ws))
}

/// The first half of a split float16 call: [`crate::weight_sum`] for float16 `logits`. Writes nothing
/// (`out` is `&mut` only to check the confusion matrix's length through a reborrow).
pub fn weight_sum_f16(args: &CrossEntropyArgs, logits: &[u16], out: &mut Outputs) -> Result<f64, Error> {
    check_f16(args, logits, out)?;
    match args.target {
        Target::Index(l) => l.validate(args.c, args.ignore_index, args.weight),
        Target::Prob(_) => Ok((args.n * args.s) as f64),
    }
}

/// [`cross_entropy_f16_range_with`] on this build's lanes.
#[allow(clippy::too_many_arguments, reason = "the split call's arguments, as cross_entropy_range")]
pub fn cross_entropy_f16_range(
    args: &CrossEntropyArgs,
    logits: &[u16],
    out: Outputs,
    weight_sum: f64,
    lo: usize,
    hi: usize,
    acc: &mut ExactSum,
    scratch: &mut [f32],
) -> Result<(), Error> {
    cross_entropy_f16_range_with::<Native>(args, logits, out, weight_sum, lo, hi, acc, scratch)
}

/// The second half of a split float16 call: samples `lo .. hi`, as
/// [`crate::cross_entropy_range_with`] (the same bits as the f32 logits of the same values,
/// whatever the split). Checks everything of its range first: on error nothing is written.
#[allow(clippy::too_many_arguments, reason = "the split call's arguments, and the scratch")]
pub fn cross_entropy_f16_range_with<L: F32x4>(
    args: &CrossEntropyArgs,
    logits: &[u16],
    mut out: Outputs,
    weight_sum: f64,
    lo: usize,
    hi: usize,
    acc: &mut ExactSum,
    scratch: &mut [f32],
) -> Result<(), Error> {
    check_f16(args, logits, &mut out)?;
    ensure(lo <= hi && hi <= args.n * args.s, Arg::Range)?;
    if let Target::Index(l) = args.target {
        l.range(lo, hi).ok_or(Error::BadArgument(Arg::Range))?.validate(args.c, args.ignore_index, None)?;
    }
    let per_pixel = scratch_floats_per_pixel(args, out.grad.is_some());
    ensure(scratch.len() >= per_pixel, Arg::Scratch)?;
    let width = strip_width(scratch.len() / per_pixel.max(1));
    let mut strips = Strips { args, logits, scratch, width };
    let mut pix = lo;
    while pix < hi {
        // SAFETY: the call checked (`check_f16`), the labels of the range checked, `pix < hi <=
        // n * s` and the scratch holds `width` pixels.
        pix += unsafe { strips.run::<L>(&mut out, weight_sum, pix, hi, acc)? };
    }
    Ok(())
}

/// Pixels per strip from the most that fit: whole 16-pixel tiles when there is room for one.
fn strip_width(fit: usize) -> usize {
    debug_assert!(fit >= 1);
    if fit >= 16 {
        fit - fit % 16
    } else {
        fit
    }
}

/// Checks every length of `args`, `logits` and `out` against the whole call, then every option
/// and combination (as [`crate::weight_sum`] does) on an empty strip: those do not depend on the
/// lengths, and the strips' own checks then hold by construction.
fn check_f16(args: &CrossEntropyArgs, logits: &[u16], out: &mut Outputs) -> Result<(), Error> {
    let CrossEntropyArgs { n, c, s, .. } = *args;
    let len = n.checked_mul(s).and_then(|v| v.checked_mul(c)).ok_or(Error::BadArgument(Arg::Size))?;
    let samples = n * s;
    ensure(logits.len() == len, Arg::LogitsLen)?;
    let target_len = match args.target {
        Target::Index(l) => l.len() == samples,
        Target::Prob(q) => q.len() == len,
    };
    ensure(target_len, Arg::TargetLen)?;
    ensure(out.grad.as_ref().is_none_or(|g| g.len() == len), Arg::GradLen)?;
    ensure(args.grad_output.is_none_or(|g| g.len() == samples), Arg::GradOutputLen)?;
    let map = |m: &Option<&mut [f32]>| m.as_ref().is_none_or(|m| m.len() == samples);
    ensure(map(&out.loss_map), Arg::LossMapLen)?;
    ensure(map(&out.confidence), Arg::ConfidenceLen)?;
    ensure(map(&out.pred_confidence), Arg::PredConfidenceLen)?;
    ensure(out.pred.as_ref().is_none_or(|p| strip::pred_len(p) == samples), Arg::PredLen)?;
    check_options(args, out)
}
