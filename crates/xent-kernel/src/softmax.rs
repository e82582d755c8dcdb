//! `softmax` and `log_softmax` over the class axis, forward and backward: the first half of the
//! decomposition `cross_entropy = nll_loss(log_softmax(x))`, as public ops.
//!
//! Forward: `m = max_c x`, `d = x - m`, `se = sum_c exp(d)`; softmax `y = exp(d) / se`,
//! log_softmax `y = d - log(se)`, as PyTorch computes them. Backward, from the forward's
//! output `y` and the upstream gradient `gy`: softmax `gx = y (gy - sum_c gy y)`, log_softmax
//! `gx = gy - exp(y) sum_c gy`.

use crate::cross_entropy::exp_sum_rows;
use crate::lanes::{F32x4, Native};
use crate::math::{ExpRr2P5, LogAtanhP9};
use crate::tile::{self, ld, st};
use crate::{ensure, Arg, Error, Layout};

/// Which function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Softmax {
    Softmax,
    LogSoftmax,
}

/// `y = softmax(x)` or `log_softmax(x)` over the class axis of `[n, c, s]` tensors in `layout`.
pub fn softmax(
    kind: Softmax,
    x: &[f32],
    y: &mut [f32],
    n: usize,
    c: usize,
    s: usize,
    layout: Layout,
) -> Result<(), Error> {
    softmax_with::<Native>(kind, x, y, n, c, s, layout)
}

/// [`softmax`] on lanes `L`.
pub fn softmax_with<L: F32x4>(
    kind: Softmax,
    x: &[f32],
    y: &mut [f32],
    n: usize,
    c: usize,
    s: usize,
    layout: Layout,
) -> Result<(), Error> {
    let (cs, ps) = check(n, c, s, layout, &[x.len(), y.len()])?;
    let (x, y) = (x.as_ptr(), y.as_mut_ptr());
    // SAFETY: lengths checked above.
    unsafe {
        let contig = layout == Layout::Nchw;
        tile::for_each_tile(s, 0, n * s, if contig { 16 } else { 0 }, |b, p0, width| {
            let off = b * c * s + p0 * ps;
            let (x, y) = (x.add(off), y.add(off));
            match (contig, width == 16) {
                (true, true) => fwd_tile::<L, 4, true, true>(kind, x, y, c, cs, ps, width),
                // narrow tiles of both layouts: lane-by-lane loads at the pixel stride
                _ => fwd_tile::<L, 1, false, false>(kind, x, y, c, cs, ps, width),
            }
        })
    }
    Ok(())
}

/// Checks the shape ([`Arg::Size`], [`Arg::NoClasses`]) and that every buffer holds `n * c * s`
/// floats (`lens`: their lengths; [`Arg::SoftmaxLen`]); returns the layout's strides.
#[inline(always)]
fn check(n: usize, c: usize, s: usize, layout: Layout, lens: &[usize]) -> Result<(usize, usize), Error> {
    // n s first: with s = 0 the product is 0 whatever c is (an empty tensor with a huge c).
    let len = n.checked_mul(s).and_then(|v| v.checked_mul(c)).ok_or(Error::BadArgument(Arg::Size))?;
    ensure(c >= 1, Arg::NoClasses)?;
    ensure(lens.iter().all(|&l| l == len), Arg::SoftmaxLen)?;
    Ok(tile::strides(layout, c, s))
}

/// One tile of the forward pass: the `c` class rows at `x0` to `y0` (same strides).
///
/// # Safety
/// `x0 + ci cs + j ps` valid for reading, and `y0 + ci cs + j ps` for writing, for every class
/// `ci < c` and pixel `j` of the tile (`j < width <= 4 V`).
#[inline(always)]
unsafe fn fwd_tile<L: F32x4, const V: usize, const FULL: bool, const CONTIG: bool>(
    kind: Softmax,
    x0: *const f32,
    y0: *mut f32,
    c: usize,
    cs: usize,
    ps: usize,
    width: usize,
) {
    debug_assert!(width >= 1 && width <= 4 * V && c >= 1);
    let m = tile::max_over_classes::<L, V, FULL, CONTIG>(x0, c, cs, ps, width, core::ptr::null_mut());
    let exp = ExpRr2P5::<L>::new();
    // The sum over classes exact up to its rounding, as crossEntropy's (see `ExpSum`).
    let (se, _) = exp_sum_rows::<L, V>(c, |ci, acc| {
        for (v, mv) in m.iter().enumerate() {
            let e = exp.eval(ld::<L, FULL, CONTIG>(x0.add(ci * cs), ps, width, v).sub(*mv));
            if kind == Softmax::Softmax {
                st::<L, FULL, CONTIG>(e, y0.add(ci * cs), ps, width, v);
            }
            acc.add(v, e);
        }
    });
    let log = LogAtanhP9::<L>::new();
    let lse = se.map(|x| log.eval(x));
    for ci in 0..c {
        for v in 0..V {
            let y = match kind {
                Softmax::Softmax => ld::<L, FULL, CONTIG>(y0.add(ci * cs), ps, width, v).div(se[v]),
                Softmax::LogSoftmax => ld::<L, FULL, CONTIG>(x0.add(ci * cs), ps, width, v).sub(m[v]).sub(lse[v]),
            };
            st::<L, FULL, CONTIG>(y, y0.add(ci * cs), ps, width, v);
        }
    }
}

/// The gradient w.r.t. the input of [`softmax`], from its output `y` and the upstream `gy`.
#[allow(clippy::too_many_arguments, reason = "the ABI's flat arguments: three buffers, the shape and the layout")]
pub fn softmax_backward(
    kind: Softmax,
    y: &[f32],
    gy: &[f32],
    gx: &mut [f32],
    n: usize,
    c: usize,
    s: usize,
    layout: Layout,
) -> Result<(), Error> {
    softmax_backward_with::<Native>(kind, y, gy, gx, n, c, s, layout)
}

/// [`softmax_backward`] on lanes `L`.
#[allow(clippy::too_many_arguments, reason = "the ABI's flat arguments: three buffers, the shape and the layout")]
pub fn softmax_backward_with<L: F32x4>(
    kind: Softmax,
    y: &[f32],
    gy: &[f32],
    gx: &mut [f32],
    n: usize,
    c: usize,
    s: usize,
    layout: Layout,
) -> Result<(), Error> {
    let (cs, ps) = check(n, c, s, layout, &[y.len(), gy.len(), gx.len()])?;
    let (y, gy, gx) = (y.as_ptr(), gy.as_ptr(), gx.as_mut_ptr());
    // SAFETY: lengths checked above.
    unsafe {
        let contig = layout == Layout::Nchw;
        tile::for_each_tile(s, 0, n * s, if contig { 16 } else { 0 }, |b, p0, width| {
            let off = b * c * s + p0 * ps;
            let (y, gy, gx) = (y.add(off), gy.add(off), gx.add(off));
            match (contig, width == 16) {
                (true, true) => bwd_tile::<L, 4, true, true>(kind, y, gy, gx, c, cs, ps, width),
                _ => bwd_tile::<L, 1, false, false>(kind, y, gy, gx, c, cs, ps, width),
            }
        })
    }
    Ok(())
}

/// One tile of the backward pass: `gx` from `y` and `gy` (same strides).
///
/// # Safety
/// As [`fwd_tile`]: `y0` and `gy0` valid for reading, `gx0` for writing.
#[allow(clippy::too_many_arguments, reason = "inlined into the pass: a struct would only rename the locals")]
#[allow(clippy::needless_range_loop, reason = "v indexes `acc` and is the vector's place in the tile for ld/st")]
#[inline(always)]
unsafe fn bwd_tile<L: F32x4, const V: usize, const FULL: bool, const CONTIG: bool>(
    kind: Softmax,
    y0: *const f32,
    gy0: *const f32,
    gx0: *mut f32,
    c: usize,
    cs: usize,
    ps: usize,
    width: usize,
) {
    debug_assert!(width >= 1 && width <= 4 * V && c >= 1);
    // softmax: sum_c gy y; log_softmax: sum_c gy.
    let mut acc = [L::splat(0.0); V];
    for ci in 0..c {
        for v in 0..V {
            let gy = ld::<L, FULL, CONTIG>(gy0.add(ci * cs), ps, width, v);
            acc[v] = acc[v].add(match kind {
                Softmax::Softmax => gy.mul(ld::<L, FULL, CONTIG>(y0.add(ci * cs), ps, width, v)),
                Softmax::LogSoftmax => gy,
            });
        }
    }
    let exp = ExpRr2P5::<L>::new();
    for ci in 0..c {
        for v in 0..V {
            let y = ld::<L, FULL, CONTIG>(y0.add(ci * cs), ps, width, v);
            let gy = ld::<L, FULL, CONTIG>(gy0.add(ci * cs), ps, width, v);
            let gx = match kind {
                Softmax::Softmax => y.mul(gy.sub(acc[v])),
                Softmax::LogSoftmax => gy.sub(exp.eval(y).mul(acc[v])),
            };
            st::<L, FULL, CONTIG>(gx, gx0.add(ci * cs), ps, width, v);
        }
    }
}
