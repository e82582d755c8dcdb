//! The validation of a resized call: the low-resolution lengths (logits, gradient), the
//! full-resolution ones (target, maps), and every option combination, before anything is
//! written.

use super::geometry::Resize;
use crate::cross_entropy::check_options;
use crate::{ensure, Arg, CrossEntropyArgs, Error, Outputs, Pred, Target};

/// Checks every length and option of a resized call (not the labels): `args.logits` and
/// `out.grad` are `n * c * in_h * in_w` long, `args.s` is `out_h * out_w` and every other
/// buffer has the full resolution's length, as [`crate::cross_entropy()`] would have it.
pub fn check(args: &CrossEntropyArgs, rs: &Resize, out: &mut Outputs) -> Result<(), Error> {
    let Resize { in_h, in_w, out_h, out_w, .. } = *rs;
    ensure(in_h >= 1 && in_w >= 1 && out_h >= 1 && out_w >= 1, Arg::Resize)?;
    let size = |a: usize, b: usize| a.checked_mul(b).ok_or(Error::BadArgument(Arg::Size));
    let in_len = size(size(args.n, args.c)?, size(in_h, in_w)?)?;
    let s = size(out_h, out_w)?;
    ensure(args.s == s, Arg::Resize)?;
    let samples = size(args.n, s)?;
    let full = size(samples, args.c)?;
    // The option rules of the loss kernel, on an empty problem of the same kinds (it writes
    // nothing and reads no labels).
    check_options(args, out)?;
    let prob = matches!(args.target, Target::Prob(_));
    let map = |m: &Option<&mut [f32]>| m.as_ref().is_none_or(|m| m.len() == samples);
    ensure(args.logits.len() == in_len, Arg::LogitsLen)?;
    let target_len = match args.target {
        Target::Index(l) => l.len(),
        Target::Prob(q) => q.len(),
    };
    ensure(target_len == if prob { full } else { samples }, Arg::TargetLen)?;
    ensure(out.grad.as_ref().is_none_or(|g| g.len() == in_len), Arg::GradLen)?;
    ensure(args.grad_output.is_none_or(|g| g.len() == samples), Arg::GradOutputLen)?;
    ensure(map(&out.loss_map), Arg::LossMapLen)?;
    ensure(map(&out.confidence), Arg::ConfidenceLen)?;
    ensure(map(&out.pred_confidence), Arg::PredConfidenceLen)?;
    let pred_len = match &out.pred {
        None => samples,
        Some(Pred::U8(p)) => p.len(),
        Some(Pred::U16(p)) => p.len(),
    };
    ensure(pred_len == samples, Arg::PredLen)
}
