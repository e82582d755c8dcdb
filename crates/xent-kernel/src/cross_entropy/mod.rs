//! Fused softmax cross-entropy: loss and gradient in one pass over the logits, with PyTorch's
//! `nn.CrossEntropyLoss` semantics for class-index and probability targets.
//!
//! For a sample with logits `x` (C classes), class weights `w` (all 1 without `weight`), label
//! smoothing `eps`, `m = max_c x[c]`, `d = x - m`, `se = sum_c exp(d[c])`, `lse = log(se)` and
//! `W_all = sum_c w[c]`:
//!
//! ```text
//! index target t:  loss = (1 - eps) w[t] (lse - d[t]) + eps/C (lse W_all - sum_c w[c] d[c])
//!                  (0 when t is the ignore index)
//! prob target q:   loss = lse Q - sum_c w[c] q'[c] d[c],  q' = (1 - eps) q + eps/C,
//!                  Q = sum_c w[c] q'[c]
//! ```
//!
//! 'mean' divides the sum by `W = sum of w[t]` over the non-ignored samples (index targets,
//! computed by [`crate::Labels::validate`] before anything is written) or by the number of samples
//! (probability targets), as PyTorch does. With an upstream gradient `g` per sample (1/W for
//! mean, 1 for sum, `grad_output` for none, 0 when ignored), the gradient is
//!
//! ```text
//! index:  dx[j] = exp(d[j]) g ((1 - eps) w[t] + eps/C W_all) / se - g eps/C w[j]
//!                 - [j == t] g (1 - eps) w[t]
//! prob:   dx[j] = exp(d[j]) g Q / se - g w[j] q'[j]
//! ```
//!
//! One pass per tile of 16 pixels (see [`crate::tile`]): (1) the max over classes, (2) `exp(d)`
//! stored into the gradient buffer and summed (exactly: `rows::ExpSum`), (3) per pixel the
//! log-sum-exp, the loss and the gradient's scale, (4) the gradient buffer scaled in place,
//! (5) the target class's gradient written (from the sum's rest: no cancellation).
//! One exp per element; the logits are read from memory once and the gradient written once
//! (the tile's rows stay in L1 between the passes). A wide tile leaves (4) and (5) to the next
//! wide tile, which does them during its own (2) so that the gradient's stores overlap the
//! arithmetic (module `pending`); two classes have a tile of their own (module `two_class`).
//! Large calls with many classes, NCHW class-index targets, go by strips of up to 240 pixels
//! (module `strip`): a strip's class rows are copied into a scratch buffer and its gradient
//! written back one long run a class row, the tiles computed in between, so that each class
//! row is visited once a strip rather than once a tile.
//!
//! Names. The formulas' letters are the code's: `x` logits, `q` probability targets, `t` a
//! target class, `m`, `d`, `se`, `lse`, `eps`, `w` a class weight (in code: `wc` the weight of
//! class row `ci`, `wt` a pixel's target weight, `w_all` = `W_all`), `g` the upstream gradient.
//! Sizes and places: `n` batch items, `c` classes, `s` pixels per item (`H*W..`); `b` a batch
//! item, `ci` a class, `p0` a tile's first pixel in its item and `pix0` its flat index in
//! `[n, s]`, `j` a pixel of a tile, `v` one of its `V` vectors (4 or 1), `width` its pixel count;
//! `cs` and `ps` the class and pixel strides ([`crate::tile`]); `x0`, `q0`, `g0` a tile's first
//! element in the logits, targets and gradient; `k` the `ctx::Ctx` of a call.
//!
//! Files: `args` (types, validation, reduction), `ctx` (the tiles' view of a call), `rows` (the
//! class-row passes), one per tile kind (`index`, `prob`, `nhwc`, `two_class`), `pending`
//! (the deferred gradient of a wide tile) and `strip` (strips of wide tiles). Children import from each other, never from here.

use crate::lanes::{F32x4, Native};
use crate::tile::{self, TILE};
use crate::{ensure, Arg, Error, ExactSum, Labels, Layout, TileSum};

mod args;
mod ctx;
mod index;
mod nhwc;
mod pending;
mod prob;
mod rows;
mod strip;
mod two_class;

use args::check;
pub(crate) use args::check_options;
pub use args::{reduce, CrossEntropyArgs, CrossEntropyResult, Outputs, Pred, Target};
use ctx::Ctx;
use pending::Pending;
/// The exact sum of the exponentials, for the softmax ops too.
pub(crate) use rows::exp_sum_rows;

/// [`cross_entropy_with`] on this build's lanes ([`Native`]).
pub fn cross_entropy(args: &CrossEntropyArgs, out: Outputs) -> Result<CrossEntropyResult, Error> {
    cross_entropy_with::<Native>(args, out)
}

/// Softmax cross-entropy over `[n, c, s]` logits.
///
/// Validates every length, option and label first: on error nothing has been written.
pub fn cross_entropy_with<L: F32x4>(args: &CrossEntropyArgs, out: Outputs) -> Result<CrossEntropyResult, Error> {
    let weight_sum = weight_sum(args, &out)?;
    let mut acc = ExactSum::default();
    // SAFETY: `weight_sum` validated the lengths and every label.
    unsafe { run_range::<L>(args, out, weight_sum, 0, args.n * args.s, &mut acc) };
    Ok(reduce(args, acc.value(), weight_sum))
}

/// [`cross_entropy_range_with`] on this build's lanes ([`Native`]).
pub fn cross_entropy_range(
    args: &CrossEntropyArgs,
    out: Outputs,
    weight_sum: f64,
    lo: usize,
    hi: usize,
    acc: &mut ExactSum,
) -> Result<(), Error> {
    cross_entropy_range_with::<Native>(args, out, weight_sum, lo, hi, acc)
}

/// The first half of a split call (for threads): checks every length and option of `args` and
/// `out`, and every label, and returns the denominator of 'mean' (see
/// [`CrossEntropyResult::weight_sum`]). Writes nothing.
pub fn weight_sum(args: &CrossEntropyArgs, out: &Outputs) -> Result<f64, Error> {
    check(args, out)?;
    match args.target {
        Target::Index(l) => l.validate(args.c, args.ignore_index, args.weight),
        Target::Prob(_) => Ok((args.n * args.s) as f64),
    }
}

/// The second half of a split call: computes samples `lo .. hi` of the `n * s` (flat index
/// into `[n, s]`), writes their outputs and adds their losses to `acc`. `weight_sum` is what
/// [`weight_sum`] returned for the same `args`. Threads may run disjoint ranges at the same
/// time on the same buffers, then merge their `acc`: the result is bit-identical to one call,
/// whatever the split (each sample's arithmetic does not depend on its neighbours, and
/// [`ExactSum`] does not depend on the order). Checks the lengths and the labels of its range
/// again, so it is safe on its own; on error nothing has been written.
pub fn cross_entropy_range_with<L: F32x4>(
    args: &CrossEntropyArgs,
    out: Outputs,
    weight_sum: f64,
    lo: usize,
    hi: usize,
    acc: &mut ExactSum,
) -> Result<(), Error> {
    check(args, &out)?;
    ensure(lo <= hi && hi <= args.n * args.s, Arg::Range)?;
    if let Target::Index(l) = args.target {
        l.range(lo, hi).ok_or(Error::BadArgument(Arg::Range))?.validate(args.c, args.ignore_index, None)?;
    }
    // SAFETY: lengths checked, labels of the range checked.
    unsafe { run_range::<L>(args, out, weight_sum, lo, hi, acc) };
    Ok(())
}

/// [`cross_entropy_range_with`] without its checks, for a caller whose sub-problems are valid by
/// construction (the fused resize's strips): their checks would be a copy of the checking code
/// at each such call.
///
/// # Safety
/// As [`run_range`].
pub(crate) unsafe fn cross_entropy_range_unchecked<L: F32x4>(
    args: &CrossEntropyArgs,
    out: Outputs,
    weight_sum: f64,
    lo: usize,
    hi: usize,
    acc: &mut ExactSum,
) {
    debug_assert!(check(args, &out).is_ok() && lo <= hi && hi <= args.n * args.s);
    debug_assert!(match args.target {
        Target::Index(l) => l.range(lo, hi).is_some_and(|l| l.validate(args.c, args.ignore_index, None).is_ok()),
        Target::Prob(_) => true,
    });
    run_range::<L>(args, out, weight_sum, lo, hi, acc)
}

/// Runs the tiles of samples `lo .. hi`.
///
/// # Safety
/// Every length in `args` and `out` must be consistent, and every label of the range valid.
unsafe fn run_range<L: F32x4>(
    args: &CrossEntropyArgs,
    out: Outputs,
    weight_sum: f64,
    lo: usize,
    hi: usize,
    acc: &mut ExactSum,
) {
    let k = Ctx::new(args, out, weight_sum);
    let mut sum = TileSum::new(acc);
    match (args.layout, k.grad.is_null()) {
        (Layout::Nchw, true) => run::<L, false, true>(&k, lo, hi, &mut sum),
        (Layout::Nchw, false) => run::<L, true, true>(&k, lo, hi, &mut sum),
        (Layout::Nhwc, true) => run::<L, false, false>(&k, lo, hi, &mut sum),
        (Layout::Nhwc, false) => run::<L, true, false>(&k, lo, hi, &mut sum),
    }
    sum.finish();
}

/// The tiles of samples `lo .. hi`, by target kind, layout and width.
///
/// # Safety
/// As [`run_range`]; `k` made from checked arguments, `GRAD` whether `k.grad` is set, `CONTIG`
/// whether the layout is NCHW.
unsafe fn run<L: F32x4, const GRAD: bool, const CONTIG: bool>(k: &Ctx, lo: usize, hi: usize, sum: &mut TileSum) {
    // Wide tiles (16 pixels, whole lanes) along NCHW rows, and NHWC ones transposed through
    // the scratch tiles (up to 256 classes); narrow ones (1 vector, partial) for the rest of a
    // row and NHWC beyond 256 classes. Narrow tiles load lane by lane at the pixel stride in
    // both layouts (a partial load is lane by lane anyway), so one copy of their code serves
    // both. (32-pixel tiles would double the code: see docs/performance.md.) Large NCHW calls
    // with class-index targets of many classes go by strips of wide tiles (module `strip`).
    let wide = if CONTIG || k.c * TILE <= tile::SCRATCH_FLOATS { TILE } else { 0 };
    match k.target {
        Target::Index(labels) => {
            // Two classes: one exp per pixel (same bits; not for the scoring outputs, which would
            // slow its hot path).
            let two = k.c == 2 && !k.wants_pred();
            if CONTIG && strip::use_strips(k.c, GRAD, lo, hi) {
                strip::index_strips::<L, GRAD>(k, labels, lo, hi, sum)
            } else {
                index_tiles::<L, GRAD, CONTIG>(k, labels, two, wide, lo, hi, sum)
            }
        }
        Target::Prob(q) => prob_tiles::<L, CONTIG>(k, q, wide, lo, hi, sum),
    }
}

/// The tiles of class-index targets of samples `lo .. hi`, `wide` pixels wide (16, or 0 for
/// narrow ones only); with `two` the two-class tile. Not inlined, as each path with a scratch
/// buffer on the stack: one such buffer at a time.
///
/// # Safety
/// As [`run`].
#[inline(never)]
unsafe fn index_tiles<L: F32x4, const GRAD: bool, const CONTIG: bool>(
    k: &Ctx,
    labels: Labels,
    two: bool,
    wide: usize,
    lo: usize,
    hi: usize,
    sum: &mut TileSum,
) {
    // The scratch tiles of the wide tiles, and the gradient they leave to the next one.
    let mut pend = Pending::<L>::new();
    tile::for_each_tile(k.s, lo, hi, wide, |b, p0, width| match width {
        16 if two => two_class::index_tile_c2::<L>(k, labels, b, p0, sum),
        16 if CONTIG => index::index_tile_wide::<L, GRAD>(k, labels, b, p0, sum, Some(&mut pend)),
        16 => nhwc::tile_nhwc::<L>(k, b, p0, sum, &mut pend),
        _ => {
            pend.flush(k);
            index::index_tile_narrow::<L>(k, labels, b, p0, width, sum)
        }
    });
    pend.flush(k);
}

/// The tiles of probability targets `q` of samples `lo .. hi`, as [`index_tiles`].
///
/// # Safety
/// As [`run`].
#[inline(never)]
unsafe fn prob_tiles<L: F32x4, const CONTIG: bool>(
    k: &Ctx,
    q: &[f32],
    wide: usize,
    lo: usize,
    hi: usize,
    sum: &mut TileSum,
) {
    let mut pend = Pending::<L>::new();
    tile::for_each_tile(k.s, lo, hi, wide, |b, p0, width| match width {
        16 if CONTIG => prob::prob_tile::<L, 4, true, true>(k, q.as_ptr(), b, p0, width, sum),
        16 => nhwc::tile_nhwc::<L>(k, b, p0, sum, &mut pend),
        _ => prob::prob_tile::<L, 1, false, false>(k, q.as_ptr(), b, p0, width, sum),
    })
}
