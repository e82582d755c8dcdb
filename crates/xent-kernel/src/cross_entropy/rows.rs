//! The class-row passes that the index and probability tiles share: (1) the max over classes
//! ([`max_pass`]), (2) the exponentials ([`exp_row`]), (4) their scaling into the gradient
//! ([`scale_row`]); and Kahan's compensated sum ([`kahan`]) of the probability tile.

use super::ctx::Ctx;
use crate::lanes::F32x4;
use crate::math::ExpRr2P5;
use crate::tile::{self, ld, st};

/// Pass (1) over the tile at `x0` (`width` pixels, the geometry of `k`): the per-pixel max over
/// classes, and with `argmax` the index of the first maximum ([`tile::argmax_over_classes`],
/// whose max has the same bits), else zeros. A non-null `copy` gets the tile's rows (see
/// [`tile::max_over_classes`]).
///
/// # Safety
/// As [`tile::max_over_classes`], with `k`'s class count and strides.
#[inline(always)]
pub(super) unsafe fn max_pass<L: F32x4, const V: usize, const FULL: bool, const CONTIG: bool>(
    k: &Ctx,
    argmax: bool,
    x0: *const f32,
    width: usize,
    copy: *mut f32,
) -> ([L; V], [L; V]) {
    let (c, cs, ps) = (k.c, k.cs, k.ps);
    if argmax {
        tile::argmax_over_classes::<L, V, FULL, CONTIG>(x0, c, cs, ps, width, copy)
    } else {
        (tile::max_over_classes::<L, V, FULL, CONTIG>(x0, c, cs, ps, width, copy), [L::splat(0.0); V])
    }
}
/// One class row `ci` of pass (4): the stored exponentials at `e_row` scaled (minus the
/// smoothing term) into the gradient row at `row`, both at pixel stride `ps`.
///
/// # Safety
/// `ci < k.c`; `e_row` valid for reading and `row` for writing the tile's pixels (see
/// [`tile::ld`]).
#[inline(always)]
#[allow(clippy::too_many_arguments, reason = "inlined into the tiles: a struct would only rename the locals")]
#[allow(clippy::needless_range_loop, reason = "v indexes `scale` and `gk` and is the vector's place in the tile")]
pub(super) unsafe fn scale_row<L: F32x4, const V: usize, const FULL: bool, const CONTIG: bool>(
    k: &Ctx,
    ci: usize,
    e_row: *const f32,
    row: *mut f32,
    ps: usize,
    width: usize,
    scale: &[L; V],
    gk: &[L; V],
) {
    if k.smooth {
        let wc = L::splat(k.class_weight(ci));
        for v in 0..V {
            let e = ld::<L, FULL, CONTIG>(e_row, ps, width, v);
            st::<L, FULL, CONTIG>(e.mul(scale[v]).sub(gk[v].mul(wc)), row, ps, width, v);
        }
    } else {
        for v in 0..V {
            let e = ld::<L, FULL, CONTIG>(e_row, ps, width, v);
            st::<L, FULL, CONTIG>(e.mul(scale[v]), row, ps, width, v);
        }
    }
}

/// One class row of pass (2): `d = x - m` for the tile's vectors of the row at `row` (pixel
/// stride `ps`), `exp(d)` stored at `e_row` (same stride) when `store` and added to `se`.
/// Returns `d`. (`store` rather than a null `e_row`: the tiles' `grad`, a constant in the wide
/// tiles, so that their loops have no test per vector.)
///
/// # Safety
/// `row` valid for reading the tile's pixels (see [`tile::ld`]), and with `store` `e_row` for
/// writing them.
#[inline(always)]
#[allow(clippy::too_many_arguments, reason = "inlined into the tiles: a struct would only rename the locals")]
pub(super) unsafe fn exp_row<L: F32x4, const V: usize, const FULL: bool, const CONTIG: bool>(
    exp: &ExpRr2P5<L>,
    row: *const f32,
    ps: usize,
    width: usize,
    m: &[L; V],
    se: &mut [L; V],
    store: bool,
    e_row: *mut f32,
) -> [L; V] {
    let mut d = [L::splat(0.0); V];
    for v in 0..V {
        d[v] = ld::<L, FULL, CONTIG>(row, ps, width, v).sub(m[v]);
        let e = exp.eval(d[v]);
        if store {
            st::<L, FULL, CONTIG>(e, e_row, ps, width, v);
        }
        se[v] = se[v].add(e);
    }
    d
}

/// `sum += x` with Kahan's compensation `comp` (IEEE operations only: the same bits on every
/// lane implementation). A compensation that is not finite (once the sum overflows or meets an
/// infinity) is dropped, so that infinities give infinity as a plain sum would, not NaN.
#[inline(always)]
pub(super) fn kahan<L: F32x4>(sum: &mut L, comp: &mut L, x: L) {
    let y = x.sub(*comp);
    let t = sum.add(y);
    let c = t.sub(*sum).sub(y);
    *comp = c.and(L::finite_mask(c));
    *sum = t;
}
