//! xent-kernel: softmax cross-entropy, forward and backward in one pass, with PyTorch's
//! `nn.CrossEntropyLoss` semantics, over NCHW tensors.
//!
//! `#![no_std]`, no dependencies, no allocation. The kernels are written once over a four-lane
//! trait ([`lanes::F32x4`]); the wasm `simd128` build and the portable build run the same code
//! and give bit-identical results. NCHW puts the class axis at stride H*W, so the kernels
//! vectorise across pixels: a tile of 16 neighbouring pixels is processed class row by class
//! row, each row a whole 64-byte cache line.
#![no_std]

pub mod cross_entropy;
pub mod exact_sum;
pub mod half;
pub mod labels;
pub mod lanes;
pub mod math;
pub mod nll;
pub mod resize;
pub mod softmax;
pub mod tile;
pub mod tile_sum;

pub use cross_entropy::{
    cross_entropy, cross_entropy_range, cross_entropy_range_with, cross_entropy_with, reduce, weight_sum,
    CrossEntropyArgs, CrossEntropyResult, Outputs, Pred, Target,
};
pub use exact_sum::ExactSum;
pub use half::{
    cross_entropy_f16, cross_entropy_f16_range, cross_entropy_f16_range_with, cross_entropy_f16_with, weight_sum_f16,
};
pub use labels::Labels;
pub use nll::nll_loss;
pub use resize::{
    resize_cross_entropy, resize_cross_entropy_range, resize_cross_entropy_range_with, resize_cross_entropy_with,
    resize_weight_sum, Mode, Resize,
};
pub use softmax::{softmax, softmax_backward, softmax_backward_with, softmax_with, Softmax};
pub use tile_sum::TileSum;

/// Where the class axis is: `[n, c, s]` (NCHW, PyTorch's) or `[n, s, c]` (NHWC, channels-last).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    Nchw,
    Nhwc,
}

/// How the per-sample losses are combined (PyTorch's `reduction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    /// Per-sample losses, written to the loss map.
    None,
    /// Sum divided by the sum of the target weights of the non-ignored samples.
    Mean,
    /// Sum.
    Sum,
}

/// Status codes of the `extern "C"` surface.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    TargetOutOfBounds = 1,
    BadArgument = 2,
}

/// Why a kernel refused its input. Nothing was written when it returns one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// A target that is neither in `[0, C)` nor the ignore index, at flat `index`.
    TargetOutOfBounds { index: usize, value: i64 },
    /// Inconsistent lengths, a missing required buffer, or an option out of range: which one.
    BadArgument(Arg),
}

/// The argument (or the combination) of a [`Error::BadArgument`]: the first clause of the
/// checks that fails. The `extern "C"` surface reports them all as [`Status::BadArgument`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// `n * c * s` does not fit in a `usize`.
    Size,
    /// No classes (`c == 0`).
    NoClasses,
    /// `logits` is not `n * c * s` long.
    LogitsLen,
    /// The target is not `n * s` labels (index targets) or `n * c * s` probabilities long.
    TargetLen,
    /// A target of the wrong kind: probabilities where only class indices are accepted.
    TargetKind,
    /// `weight` is not `c` long.
    WeightLen,
    /// `label_smoothing` outside `[0, 1]` (or NaN); or not 0 where it is not supported.
    LabelSmoothing,
    /// `grad` is not as long as the logits.
    GradLen,
    /// `grad_output` is not `n * s` long.
    GradOutputLen,
    /// `grad_output` given with a reduction other than 'none'.
    GradOutputNotNone,
    /// A gradient for reduction 'none' without `grad_output`.
    GradOutputMissing,
    /// The loss map is not `n * s` long.
    LossMapLen,
    /// Reduction 'none' without a loss map.
    LossMapMissing,
    /// The confidence map is not `n * s` long.
    ConfidenceLen,
    /// A confidence map with probability targets.
    ConfidenceWithProb,
    /// The prediction map is not `n * s` long.
    PredLen,
    /// More classes than the prediction map's dtype holds (256 for u8, 65536 for u16).
    PredDtype,
    /// The predicted-confidence map is not `n * s` long.
    PredConfidenceLen,
    /// The confusion matrix is not `c * c` long.
    ConfusionLen,
    /// A confusion matrix with probability targets.
    ConfusionWithProb,
    /// A scoring output (prediction, its confidence, confusion) with a gradient.
    ScoresWithGrad,
    /// An output that this kernel does not write.
    UnsupportedOutput,
    /// A softmax output or input (`y`, `gy`, `gx`) not as long as `x`.
    SoftmaxLen,
    /// A sample range `lo .. hi` that is empty backwards or past `n * s` (resized calls: a
    /// source-row range past `n * in_h`).
    Range,
    /// A resize with a zero size, or whose output size is not the target's (`s`).
    Resize,
    /// Scratch memory too small for one pixel's strips (float16 calls: [`half`]; resized calls:
    /// [`resize::scratch_floats`]).
    Scratch,
}

/// `Ok` when `ok`, else [`Error::BadArgument`] naming `arg`.
#[inline(always)]
pub(crate) fn ensure(ok: bool, arg: Arg) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(Error::BadArgument(arg))
    }
}

impl Error {
    pub fn status(self) -> Status {
        match self {
            Error::TargetOutOfBounds { .. } => Status::TargetOutOfBounds,
            Error::BadArgument(_) => Status::BadArgument,
        }
    }
}
