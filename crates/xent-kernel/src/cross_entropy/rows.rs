//! The class-row passes that the index and probability tiles share: (1) the max over classes
//! ([`max_pass`]), (2) the exponentials ([`exp_row`]), (4) their scaling into the gradient
//! ([`scale_row`]); the sum of the exponentials ([`ExpSum`]); and Kahan's compensated sum
//! ([`kahan`]) of the probability tile.

use super::ctx::Ctx;
use crate::lanes::F32x4;
use crate::math::ExpRr2P5;
use crate::tile::{self, gather, ld, spill, st, TILE};

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

/// The per-pixel sum of the exponentials `se = sum_c exp(d[c])` of pass (2), without the
/// float32 sum's drift: a plain running sum loses the small terms that follow a large one
/// (after the max's `exp(0) = 1`, every term below `2^-25` is lost whole), an error that grows
/// with C and swamps `1 - p` for confident predictions. Here the running sum `s` starts at 1,
/// so that it is never smaller than a term (every `exp(d) <= 1`): then each addition's
/// rounding error is exactly `e - ((s + e) - s)` (Fast2Sum), and the errors are summed in
/// `err`. The sum is `(s - 1) + err` (`s - 1` is exact), returned rounded with what the
/// rounding left out (for the target's gradient, where `1 - p` cancels). Beyond [`FOLD_ROWS`]
/// classes, [`exp_sum_rows`] sums blocks of rows this way and adds them up in f64: accurate
/// for any C. IEEE operations only, in a fixed order: the same bits on every lane
/// implementation.
#[derive(Clone, Copy)]
pub(crate) struct ExpSum<L: F32x4, const V: usize> {
    s: [L; V],
    err: [L; V],
}

/// Classes summed in float32 lanes before they are folded into f64 (see [`ExpSum`]). The terms
/// that the running sum rounds away entirely (below half its ulp: the small terms of confident
/// predictions) all end up in `err`, a plain float32 sum, whose relative error grows like the
/// square root of its length: 256 terms keep it near 1e-6.
pub(super) const FOLD_ROWS: usize = 256;

impl<L: F32x4, const V: usize> ExpSum<L, V> {
    #[inline(always)]
    fn new() -> Self {
        ExpSum { s: [L::splat(1.0); V], err: [L::splat(0.0); V] }
    }

    /// Adds `e` (in `[0, 1]` or NaN) to vector `v`'s sums.
    #[inline(always)]
    pub(crate) fn add(&mut self, v: usize, e: L) {
        (self.s[v], self.err[v]) = exp_sum_step(self.s[v], self.err[v], e);
    }
}

/// Pass (2)'s sum of the exponentials over classes `0 .. c`: `row(ci, acc)` adds class row
/// `ci`'s exponentials to `acc`, in order. Returns the sum rounded to float32 (`se`) and the
/// rest (`se + rest` = the sum, up to the rounding of the error terms). Up to [`FOLD_ROWS`]
/// classes in one [`ExpSum`]; beyond, one per block of `FOLD_ROWS` rows, added up in f64 (and
/// the rows then need not hold the max: the Fast2Sum bound is kept by `s >= 1`). One copy of
/// `row`'s code either way.
#[inline(always)]
pub(crate) fn exp_sum_rows<L: F32x4, const V: usize>(
    c: usize,
    mut row: impl FnMut(usize, &mut ExpSum<L, V>),
) -> ([L; V], [L; V]) {
    let mut wide = [0.0f64; TILE];
    let mut c0 = 0;
    loop {
        let end = c.min(c0 + FOLD_ROWS);
        let mut acc = ExpSum::new();
        for ci in c0..end {
            row(ci, &mut acc);
        }
        if c0 == 0 && end == c {
            let mut se = [L::splat(0.0); V];
            let mut rest = [L::splat(0.0); V];
            for v in 0..V {
                (se[v], rest[v]) = exp_sum_value(acc.s[v], acc.err[v]);
            }
            return (se, rest);
        }
        fold(&acc, &mut wide);
        if end == c {
            return unfold(&wide);
        }
        c0 = end;
    }
}

/// Adds a block's sums to the f64 ones.
#[cold]
#[inline(never)]
fn fold<L: F32x4, const V: usize>(acc: &ExpSum<L, V>, wide: &mut [f64; TILE]) {
    let (s, err) = (spill(&acc.s), spill(&acc.err));
    for j in 0..4 * V {
        wide[j] += (s[j] - 1.0) as f64 + err[j] as f64;
    }
}

/// The f64 sums rounded to float32, and the rest.
#[cold]
#[inline(never)]
fn unfold<L: F32x4, const V: usize>(wide: &[f64; TILE]) -> ([L; V], [L; V]) {
    let mut se = [0.0f32; TILE];
    let mut rest = [0.0f32; TILE];
    for j in 0..4 * V {
        se[j] = wide[j] as f32;
        rest[j] = (wide[j] - se[j] as f64) as f32;
    }
    (gather(&se), gather(&rest))
}

/// One step of [`ExpSum`] on one vector: `e` added to the running sum `s` (`s >= 1 >= e`), its
/// rounding error to `err`.
#[inline(always)]
pub(super) fn exp_sum_step<L: F32x4>(s: L, err: L, e: L) -> (L, L) {
    let t = s.add(e);
    (t, err.add(e.sub(t.sub(s))))
}

/// The value of one vector's [`ExpSum`]: `se = (s - 1) + err` and what its rounding left out
/// (Fast2Sum: `s - 1 >= 1 > |err|`, as the max's term is 1).
#[inline(always)]
pub(super) fn exp_sum_value<L: F32x4>(s: L, err: L) -> (L, L) {
    let hi = s.sub(L::splat(1.0));
    let se = hi.add(err);
    (se, err.sub(se.sub(hi)))
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
    se: &mut ExpSum<L, V>,
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
        se.add(v, e);
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
