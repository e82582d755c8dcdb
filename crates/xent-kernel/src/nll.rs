//! `nll_loss` over log-probabilities, forward and backward: the second half of the
//! decomposition `cross_entropy = nll_loss(log_softmax(x))`, with PyTorch's semantics.
//!
//! `loss = -w[t] logp[t]` per sample (0 when ignored); 'mean' divides by the sum of `w[t]` over
//! the non-ignored samples. The gradient is `-w[t] g` at the target class and 0 elsewhere.

use crate::cross_entropy::{CrossEntropyArgs, CrossEntropyResult, Outputs, Target};
use crate::{ensure, tile, Arg, Error, ExactSum, Reduction};

/// Negative log-likelihood of `args.logits` read as log-probabilities. `args.target` must be
/// class indices and `args.label_smoothing` 0; `out` may only ask for `grad` and `loss_map`.
pub fn nll_loss(args: &CrossEntropyArgs, out: Outputs) -> Result<CrossEntropyResult, Error> {
    let CrossEntropyArgs { n, c, s, .. } = *args;
    let len = n.checked_mul(s).and_then(|v| v.checked_mul(c)).ok_or(Error::BadArgument(Arg::Size))?;
    let none = args.reduction == Reduction::None;
    let labels = match args.target {
        Target::Index(l) => l,
        Target::Prob(_) => return Err(Error::BadArgument(Arg::TargetKind)),
    };
    ensure(c >= 1, Arg::NoClasses)?;
    ensure(args.logits.len() == len, Arg::LogitsLen)?;
    ensure(labels.len() == n * s, Arg::TargetLen)?;
    ensure(args.weight.is_none_or(|w| w.len() == c), Arg::WeightLen)?;
    ensure(out.grad.as_ref().is_none_or(|g| g.len() == len), Arg::GradLen)?;
    ensure(out.loss_map.as_ref().is_none_or(|l| l.len() == n * s), Arg::LossMapLen)?;
    ensure(out.loss_map.is_some() || !none, Arg::LossMapMissing)?;
    let unsupported =
        out.confidence.is_some() || out.pred.is_some() || out.pred_confidence.is_some() || out.confusion.is_some();
    ensure(!unsupported, Arg::UnsupportedOutput)?;
    match args.grad_output {
        Some(go) => {
            ensure(none, Arg::GradOutputNotNone)?;
            ensure(go.len() == n * s, Arg::GradOutputLen)?;
        }
        None => ensure(!(none && out.grad.is_some()), Arg::GradOutputMissing)?,
    }
    ensure(args.label_smoothing == 0.0, Arg::LabelSmoothing)?;
    let ignore = args.ignore_index;
    let weight_sum = labels.validate(c, ignore, args.weight)?;
    let (cs, ps) = tile::strides(args.layout, c, s);
    // Every length was checked above, and every live label is in [0, c): the unchecked reads and
    // writes below are in bounds.
    // SAFETY: `t` is a live label, < c = w.len().
    let w = |t: usize| args.weight.map_or(1.0, |w| unsafe { *w.get_unchecked(t) });
    let upstream = if args.reduction == Reduction::Mean { 1.0 / weight_sum } else { 1.0 };
    let mut grad = out.grad;
    let mut loss_map = out.loss_map;
    if let Some(g) = grad.as_deref_mut() {
        g.fill(0.0);
    }
    let mut acc = ExactSum::default();
    let mut label = [0i32; 1];
    for b in 0..n {
        for p in 0..s {
            let i = b * s + p;
            // SAFETY: i < n * s = labels.len(), checked above.
            unsafe { labels.gather(i, &mut label) };
            let mut loss = 0.0f32;
            if label[0] != ignore {
                let t = label[0] as usize;
                let at = b * c * s + t * cs + p * ps;
                // SAFETY: b < n, t < c, p < s: at < n c s = logits.len().
                loss = -w(t) * unsafe { *args.logits.get_unchecked(at) };
                acc.add(loss);
                if let Some(g) = grad.as_deref_mut() {
                    // SAFETY: i < n s = go.len() (checked above).
                    let up = args.grad_output.map_or(upstream, |go| unsafe { *go.get_unchecked(i) } as f64);
                    // SAFETY: at < n c s = g.len(), as for the logits.
                    unsafe { *g.get_unchecked_mut(at) = (-(w(t) as f64) * up) as f32 };
                }
            }
            if let Some(m) = loss_map.as_deref_mut() {
                // SAFETY: i < n s = m.len().
                unsafe { *m.get_unchecked_mut(i) = loss };
            }
        }
    }
    let sum = acc.value();
    let loss = if args.reduction == Reduction::Mean { sum / weight_sum } else { sum };
    Ok(CrossEntropyResult { loss, sum, weight_sum })
}
