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
pub mod labels;
pub mod lanes;
pub mod math;
pub mod nll;
pub mod softmax;
pub mod tile;
pub mod tile_sum;

pub use cross_entropy::{
    cross_entropy, cross_entropy_range, cross_entropy_range_with, cross_entropy_with, reduce, weight_sum,
    CrossEntropyArgs, CrossEntropyResult, Outputs, Pred, Target,
};
pub use exact_sum::ExactSum;
pub use labels::Labels;
pub use nll::nll_loss;
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
    /// Inconsistent lengths, a missing required buffer, or an option out of range.
    BadArgument,
}

impl Error {
    pub fn status(self) -> Status {
        match self {
            Error::TargetOutOfBounds { .. } => Status::TargetOutOfBounds,
            Error::BadArgument => Status::BadArgument,
        }
    }
}
