//! The public types of [`super::cross_entropy`], the validation of their lengths and options
//! ([`check`], which names the first bad one: [`Arg`]), and the reduction of the summed losses
//! ([`reduce`]).

use crate::{ensure, Arg, Error, Labels, Layout, Reduction};

/// What the logits are compared with.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// One class index per sample (`[n, s]`).
    Index(Labels<'a>),
    /// Class probabilities, same shape and layout as the logits (`[n, c, s]`).
    Prob(&'a [f32]),
}

/// The inputs of [`cross_entropy`](fn@super::cross_entropy): logits `[n, c, s]` in `layout`.
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

    /// The number of classes its dtype holds.
    fn classes(&self) -> usize {
        match self {
            Pred::U8(_) => 256,
            Pred::U16(_) => 65536,
        }
    }
}

impl Target<'_> {
    /// The number of labels or probabilities.
    fn len(&self) -> usize {
        match self {
            Target::Index(l) => l.len(),
            Target::Prob(q) => q.len(),
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
    let len = n.checked_mul(s).and_then(|v| v.checked_mul(c)).ok_or(Error::BadArgument(Arg::Size))?;
    let none = args.reduction == Reduction::None;
    let prob = matches!(args.target, Target::Prob(_));
    let map_len = |b: &Option<&mut [f32]>, arg| ensure(b.as_ref().is_none_or(|l| l.len() == n * s), arg);
    ensure(c >= 1, Arg::NoClasses)?;
    ensure(args.logits.len() == len, Arg::LogitsLen)?;
    ensure(args.target.len() == if prob { len } else { n * s }, Arg::TargetLen)?;
    ensure(!(prob && out.confidence.is_some()), Arg::ConfidenceWithProb)?;
    ensure(args.weight.is_none_or(|w| w.len() == c), Arg::WeightLen)?;
    ensure(out.grad.as_ref().is_none_or(|g| g.len() == len), Arg::GradLen)?;
    map_len(&out.loss_map, Arg::LossMapLen)?;
    map_len(&out.confidence, Arg::ConfidenceLen)?;
    map_len(&out.pred_confidence, Arg::PredConfidenceLen)?;
    if let Some(p) = &out.pred {
        ensure(p.len() == n * s, Arg::PredLen)?;
        ensure(c <= p.classes(), Arg::PredDtype)?;
    }
    if let Some(m) = &out.confusion {
        ensure(c.checked_mul(c) == Some(m.len()), Arg::ConfusionLen)?;
        ensure(!prob, Arg::ConfusionWithProb)?;
    }
    let scores = out.pred.is_some() || out.pred_confidence.is_some() || out.confusion.is_some();
    ensure(!(out.grad.is_some() && scores), Arg::ScoresWithGrad)?;
    ensure(out.loss_map.is_some() || !none, Arg::LossMapMissing)?;
    match args.grad_output {
        Some(go) => {
            ensure(none, Arg::GradOutputNotNone)?;
            ensure(go.len() == n * s, Arg::GradOutputLen)?;
        }
        None => ensure(!(none && out.grad.is_some()), Arg::GradOutputMissing)?,
    }
    ensure((0.0..=1.0).contains(&args.label_smoothing), Arg::LabelSmoothing)
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

/// Checks the options of `args` and `out` and their combinations (weight length, smoothing,
/// reduction and upstream gradient, scores with a gradient, confusion matrix, prediction dtype)
/// with [`super::weight_sum`]'s rules, on a problem of no samples with the same options and
/// outputs present: what it checks there does not depend on the lengths. For the calls that
/// check their own lengths (float16, resize); one copy for both, for the module's size.
#[inline(never)]
pub(crate) fn check_options(args: &CrossEntropyArgs, out: &mut Outputs) -> Result<(), Error> {
    let (a, o) = empty(args, out);
    super::weight_sum(&a, &o).map(|_| ())
}

/// A problem of no samples with the options, outputs present and confusion matrix of `args` and
/// `out`: what [`super::weight_sum`] checks on it does not depend on the lengths.
fn empty<'o>(args: &'o CrossEntropyArgs<'_>, out: &'o mut Outputs) -> (CrossEntropyArgs<'o>, Outputs<'o>) {
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
