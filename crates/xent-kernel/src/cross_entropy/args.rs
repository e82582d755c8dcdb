//! The public types of [`super::cross_entropy`], the validation of their lengths and options
//! ([`check`]), and the reduction of the summed losses ([`reduce`]).

use crate::{Error, Labels, Layout, Reduction};

/// What the logits are compared with.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// One class index per sample (`[n, s]`).
    Index(Labels<'a>),
    /// Class probabilities, same shape and layout as the logits (`[n, c, s]`).
    Prob(&'a [f32]),
}

/// The inputs of [`cross_entropy`]: logits `[n, c, s]` in `layout`.
#[derive(Clone, Copy, Debug)]
pub struct CrossEntropyArgs<'a> {
    pub logits: &'a [f32],
    pub target: Target<'a>,
    pub n: usize,
    pub c: usize,
    pub s: usize,
    pub layout: Layout,
    pub weight: Option<&'a [f32]>,
    /// Index targets only (probability targets ignore it).
    pub ignore_index: i32,
    pub reduction: Reduction,
    /// In `[0, 1]`.
    pub label_smoothing: f32,
    /// The upstream gradient `[n, s]` for reduction 'none' (required when a gradient is asked).
    pub grad_output: Option<&'a [f32]>,
}

/// Where the kernel writes. Every buffer is optional except `loss_map` for reduction 'none'.
#[derive(Debug, Default)]
pub struct Outputs<'a> {
    /// dLoss/dLogits, `[n, c, s]` in the logits' layout.
    pub grad: Option<&'a mut [f32]>,
    /// The per-sample losses `[n, s]` (0 for ignored samples), whatever the reduction.
    pub loss_map: Option<&'a mut [f32]>,
    /// Index targets: the softmax probability of the target class, `[n, s]` (0 when ignored).
    pub confidence: Option<&'a mut [f32]>,
    /// The predicted class (argmax over classes, the first maximum; NaN counts as the largest,
    /// as `torch.argmax`), `[n, s]`.
    pub pred: Option<Pred<'a>>,
    /// The softmax probability of the predicted class, `[n, s]`.
    pub pred_confidence: Option<&'a mut [f32]>,
    /// Index targets: the `c x c` confusion matrix (row = target, column = prediction), to which
    /// this call ADDS its non-ignored samples (counts stay exact up to 2^53).
    pub confusion: Option<&'a mut [f64]>,
}

/// A prediction map: u8 for up to 256 classes, u16 for up to 65536.
#[derive(Debug)]
pub enum Pred<'a> {
    U8(&'a mut [u8]),
    U16(&'a mut [u16]),
}

impl Pred<'_> {
    pub(super) fn len(&self) -> usize {
        match self {
            Pred::U8(p) => p.len(),
            Pred::U16(p) => p.len(),
        }
    }
}

/// The reduced loss with its numerator and denominator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CrossEntropyResult {
    /// 'mean': `sum / weight_sum` (NaN when both are 0, as PyTorch); 'sum' and 'none': `sum`.
    pub loss: f64,
    /// The sum of the per-sample losses (each rounded to f32, as in the loss map), summed
    /// exactly and rounded once ([`crate::ExactSum`]): the same bits however the work is split.
    pub sum: f64,
    /// The denominator of 'mean': the sum of the target weights of the non-ignored samples
    /// (their count without weights) for index targets, the number of samples for
    /// probability targets.
    pub weight_sum: f64,
}

/// Checks every length and option of `args` and `out` (not the labels).
pub(super) fn check(args: &CrossEntropyArgs, out: &Outputs) -> Result<(), Error> {
    let CrossEntropyArgs { n, c, s, .. } = *args;
    let len = n.checked_mul(c).and_then(|v| v.checked_mul(s)).ok_or(Error::BadArgument)?;
    let none = args.reduction == Reduction::None;
    let map_ok = |b: &Option<&mut [f32]>| b.as_ref().is_none_or(|l| l.len() == n * s);
    let ok = c >= 1
        && args.logits.len() == len
        && match args.target {
            Target::Index(l) => l.len() == n * s,
            Target::Prob(q) => q.len() == len && out.confidence.is_none(),
        }
        && args.weight.is_none_or(|w| w.len() == c)
        && out.grad.as_ref().is_none_or(|g| g.len() == len)
        && map_ok(&out.loss_map)
        && map_ok(&out.confidence)
        && map_ok(&out.pred_confidence)
        && match &out.pred {
            Some(p @ Pred::U8(_)) => p.len() == n * s && c <= 256,
            Some(p @ Pred::U16(_)) => p.len() == n * s && c <= 65536,
            None => true,
        }
        && match &out.confusion {
            Some(m) => m.len() == c * c && matches!(args.target, Target::Index(_)),
            None => true,
        }
        && (out.grad.is_none() || (out.pred.is_none() && out.pred_confidence.is_none() && out.confusion.is_none()))
        && (out.loss_map.is_some() || !none)
        && match args.grad_output {
            Some(go) => none && go.len() == n * s,
            None => !(none && out.grad.is_some()),
        }
        && (0.0..=1.0).contains(&args.label_smoothing);
    if ok {
        Ok(())
    } else {
        Err(Error::BadArgument)
    }
}

/// The reduced loss from the exact sum and the weight sum (see [`CrossEntropyResult`]).
pub fn reduce(args: &CrossEntropyArgs, sum: f64, weight_sum: f64) -> CrossEntropyResult {
    let loss = match args.reduction {
        // PyTorch divides the nll and the smoothing sums separately: with a zero weight sum the
        // nll term is 0/0 = NaN whatever the smoothing term is.
        Reduction::Mean if weight_sum == 0.0 && matches!(args.target, Target::Index(_)) => f64::NAN,
        Reduction::Mean => sum / weight_sum,
        _ => sum,
    };
    CrossEntropyResult { loss, sum, weight_sum }
}
