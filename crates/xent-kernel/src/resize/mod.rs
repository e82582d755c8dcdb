//! Softmax cross-entropy of low-resolution logits against a full-resolution target, with the
//! resize fused in: PyTorch's `F.interpolate(logits, size=(H, W), mode, align_corners)` then
//! `F.cross_entropy`, without ever building the `n x c x H x W` interpolated logits.
//!
//! Logits `[n, c, h, w]` (NCHW) or `[n, h, w, c]` (NHWC); the target, the gradient's upstream
//! `grad_output` and every per-pixel output at the target's `H x W`; the gradient `grad` at the
//! logits' shape (the gradient w.r.t. the low-resolution logits). In a
//! [`CrossEntropyArgs`] for this module, `logits` (and `Outputs::grad`) hold
//! `n * c * in_h * in_w` floats and `s` is `out_h * out_w`.
//!
//! How: the output rows that share their two source rows form a group, cut into chunks of `p`
//! pixels (`p` a function of `c`); for each chunk the two source rows are interpolated
//! horizontally once (bilinear), then each row of the group is blended vertically into a
//! `c x p` strip of scratch memory (`interpolate`; in float32, each product and sum rounded:
//! not PyTorch's fused multiply-adds), the loss kernel runs on the strip as a `1 x c x p`
//! problem with the full call's 'mean' denominator (`cross_entropy_range_unchecked`, adding
//! into the caller's [`ExactSum`]), and the strip's gradient
//! is scattered back onto the low-resolution grid (`adjoint`). Scratch: a few `c x p` strips,
//! [`scratch_floats`] per thread, never `O(c x H x W)`.
//!
//! Threads split the `n * in_h` SOURCE rows: a caller zeroes the gradient of its rows, runs
//! every output row that touches them and adds only into them; an output row's loss and
//! full-resolution outputs are written by the owner of its first source row. Each gradient
//! element so receives its contributions in the same order whatever the split, and the losses
//! go through [`ExactSum`]: any split gives the bits of one call, on every build.
//!
//! Files: `geometry` (PyTorch's source indices and weights), `interpolate` (the forward strip),
//! `adjoint` (its transpose), `check` (validation), `rows` (the chunks and the groups of rows a
//! caller runs), `driver` (the row loop).

use crate::lanes::{F32x4, Native};
use crate::{ensure, reduce, Arg, CrossEntropyArgs, CrossEntropyResult, Error, ExactSum, Outputs, Target};

mod adjoint;
mod check;
mod driver;
mod geometry;
mod interpolate;
mod rows;

pub use geometry::{Axis, Mode, Resize, Tap};

/// Floats of scratch one caller (thread) of a resized call needs for `c` classes: a fixed
/// budget of 128 KiB, or 16 pixels' strips (up to 7 of `c` floats, each rounded up to whole
/// lanes) when the classes need more.
pub fn scratch_floats(c: usize) -> usize {
    rows::SCRATCH_BUDGET.max(c.saturating_mul(7).saturating_add(5).saturating_mul(16).saturating_add(21))
}

/// The first half of a split resized call: checks every length and option, and every label,
/// and returns the denominator of 'mean' (over the full-resolution target). Writes nothing.
pub fn resize_weight_sum(args: &CrossEntropyArgs, rs: &Resize, out: &mut Outputs) -> Result<f64, Error> {
    check::check(args, rs, out)?;
    match args.target {
        Target::Index(l) => l.validate(args.c, args.ignore_index, args.weight),
        Target::Prob(_) => Ok((args.n * args.s) as f64),
    }
}

/// [`resize_cross_entropy_with`] on this build's lanes.
pub fn resize_cross_entropy(
    args: &CrossEntropyArgs,
    rs: &Resize,
    out: Outputs,
    scratch: &mut [f32],
) -> Result<CrossEntropyResult, Error> {
    resize_cross_entropy_with::<Native>(args, rs, out, scratch)
}

/// The whole resized call (see the module docs) with `scratch` ([`scratch_floats`]`(c)`
/// floats; the chunks' width depends on `c` only, so that every caller gives the same bits).
/// Validates everything first: on error nothing has been written.
pub fn resize_cross_entropy_with<L: F32x4>(
    args: &CrossEntropyArgs,
    rs: &Resize,
    mut out: Outputs,
    scratch: &mut [f32],
) -> Result<CrossEntropyResult, Error> {
    let weight_sum = resize_weight_sum(args, rs, &mut out)?;
    let mut acc = ExactSum::default();
    resize_cross_entropy_range_with::<L>(args, rs, out, weight_sum, 0, args.n * rs.in_h, scratch, &mut acc)?;
    Ok(reduce(args, acc.value(), weight_sum))
}

/// [`resize_cross_entropy_range_with`] on this build's lanes.
#[expect(clippy::too_many_arguments, reason = "cross_entropy_range's arguments and the resize")]
pub fn resize_cross_entropy_range(
    args: &CrossEntropyArgs,
    rs: &Resize,
    out: Outputs,
    weight_sum: f64,
    lo: usize,
    hi: usize,
    scratch: &mut [f32],
    acc: &mut ExactSum,
) -> Result<(), Error> {
    resize_cross_entropy_range_with::<Native>(args, rs, out, weight_sum, lo, hi, scratch, acc)
}

/// The second half of a split resized call: source rows `lo .. hi` of the `n * in_h` (see the
/// module docs for what a range writes), with `weight_sum` from [`resize_weight_sum`]; the
/// losses of the output rows it owns are added to `acc`. Disjoint ranges may run at the same
/// time on the same buffers, each with its own `scratch`; merged, their sums give the bits of
/// one call. Checks the lengths and the labels it reads again, so it is safe on its own; on
/// error nothing has been written.
#[expect(clippy::too_many_arguments, reason = "cross_entropy_range's arguments and the resize")]
pub fn resize_cross_entropy_range_with<L: F32x4>(
    args: &CrossEntropyArgs,
    rs: &Resize,
    mut out: Outputs,
    weight_sum: f64,
    lo: usize,
    hi: usize,
    scratch: &mut [f32],
    acc: &mut ExactSum,
) -> Result<(), Error> {
    check::check(args, rs, &mut out)?;
    ensure(lo <= hi && hi <= args.n * rs.in_h, Arg::Range)?;
    let (p, need) = rows::chunk_of(args.c, rows::strips(args, rs, &out));
    ensure(p >= 1 && scratch.len() >= need, Arg::Scratch)?;
    rows::check_labels(args, rs, lo, hi, out.grad.is_some())?;
    // SAFETY: lengths and options checked, the labels of every row the range reads checked,
    // the range and the scratch checked.
    unsafe { driver::run_rows::<L>(args, rs, &mut out, weight_sum, lo, hi, scratch, acc) };
    Ok(())
}
