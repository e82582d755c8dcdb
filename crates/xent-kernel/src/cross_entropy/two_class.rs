//! Two classes (binary segmentation), a full 16-pixel tile of either layout: one exp per pixel
//! instead of two, and the target class picked with vector selects instead of per-pixel loads.
//!
//! With two classes the larger logit's term is `exp(0)`, which [`crate::math::exp_rr2_p5`]
//! gives as exactly 1: only the other class's `exp(d)` is computed (`d` = the difference of the
//! two logits, negated), so every output has the same bits as the general tile's (see
//! `index::index_tile`), the same operations in the same order. The one exception is a pixel
//! whose two differences are both non-zero, which only happens with an infinity among its
//! logits (`+inf - +inf` is NaN): this tile then takes NaN for both exponentials where the
//! general tile has `exp(-inf) = 0` for one of them, but both sum to NaN, so the loss, the
//! confidence and the gradient (that 0 times a NaN scale) are NaN in both. The general tile
//! stays in use for the rest: row tails and the scoring outputs (prediction, confusion).

use super::ctx::Ctx;
use super::rows::{exp_sum_step, exp_sum_value};
use crate::lanes::F32x4;
use crate::math::{exp_rr2_p5, log_atanh_p9};
use crate::tile::TILE;
use crate::{Labels, TileSum};

/// Vectors of a tile.
const V: usize = TILE / 4;

/// Pixels `p0 .. p0 + 16` of batch item `b` (`k.c == 2`), NCHW or NHWC (where the two classes
/// of each pixel are adjacent: vectors are split into even and odd lanes). Writes the gradient
/// when `k.grad` is set (run-time switches: one copy of this code).
///
/// # Safety
/// As `index::index_tile`: the lengths checked, the labels of the tile valid.
#[inline(never)]
pub(super) unsafe fn index_tile_c2<L: F32x4>(k: &Ctx, labels: Labels, b: usize, p0: usize, sum: &mut TileSum) {
    let s = k.s;
    debug_assert!(k.c == 2 && p0 + TILE <= s && b * s + p0 + TILE <= labels.len());
    let pix0 = b * s + p0;
    let nhwc = k.ps != 1;
    // Vector v of class 0 and of class 1, from `p` (the tile's first element).
    let pair = |p: *const f32, v: usize| {
        if nhwc {
            L::deinterleave(L::load(p.add(8 * v)), L::load(p.add(8 * v + 4)))
        } else {
            (L::load(p.add(4 * v)), L::load(p.add(s + 4 * v)))
        }
    };
    let x0 = if nhwc { k.x.add(2 * pix0) } else { k.x.add(b * 2 * s + p0) };

    // Per pixel: live (not ignored) and "the target is class 1" masks. An ignored pixel's
    // target is class 0, as in the general tile.
    let label = labels.load_lanes::<L, V>(pix0);
    let ignored = label.map(|l| l.bits_eq(L::splat_bits(k.ignore_index as u32)));
    let live = ignored.map(|i| L::splat_bits(!0).and_not(i));
    let one: [L; V] = core::array::from_fn(|v| label[v].bits_eq(L::splat_bits(1)).and_not(ignored[v]));
    let (wa, wb) = (L::splat(k.class_weight(0)), L::splat(k.class_weight(1)));
    let zero = L::splat(0.0);

    let mut m = [zero; V];
    let mut ea = [zero; V];
    let mut eb = [zero; V];
    let mut se = [zero; V];
    let mut rest = [zero; V];
    let mut d_t = [zero; V];
    let mut sd = [zero; V];
    for v in 0..V {
        let (a, bb) = pair(x0, v);
        m[v] = a.pmax(bb);
        let (da, db) = (a.sub(m[v]), bb.sub(m[v]));
        // One of da, db is 0 (both when the logits are equal), so da + db is exactly the other
        // one; a NaN in either gives NaN (and then so does the sum of the exponentials).
        let (a_max, b_max) = (da.eq(zero), db.eq(zero));
        let e = exp_rr2_p5(da.add(db));
        let one_f = L::splat(1.0);
        ea[v] = L::select(a_max, one_f, e);
        eb[v] = L::select(b_max, one_f, e);
        // The general tile's sum (`rows::ExpSum`): ea, then eb.
        let (s, err) = exp_sum_step(L::splat(1.0), zero, ea[v]);
        let (s, err) = exp_sum_step(s, err, eb[v]);
        (se[v], rest[v]) = exp_sum_value(s, err);
        d_t[v] = L::select(one[v], bb, a).sub(m[v]);
        if k.smooth {
            // The general tile's Kahan sum: its compensation is 0 after the first term, so the
            // same operations.
            sd[v] = zero.add(da.mul(wa)).add(db.mul(wb));
        }
    }

    // Per pixel: log-sum-exp, loss, and the gradient's scale, as the general tile's step (3).
    let wt: [L; V] = core::array::from_fn(|v| {
        if k.weight.is_null() {
            L::splat(1.0).and(live[v])
        } else {
            L::select(one[v], wb, wa).and(live[v])
        }
    });
    let (keep, eps_c) = (L::splat(k.keep as f32), L::splat(k.eps_c as f32));
    let smooth_all = L::splat((k.eps_c * k.w_all) as f32);
    let w_all = L::splat(k.w_all as f32);
    let mut loss = [zero; V];
    for v in 0..V {
        let lse = log_atanh_p9(se[v]);
        let mut l = keep.mul(wt[v]).mul(lse.sub(d_t[v]));
        if k.smooth {
            l = l.add(eps_c.mul(lse.mul(w_all).sub(sd[v])));
        }
        loss[v] = l.and(live[v]);
        if !k.loss_map.is_null() {
            loss[v].store(k.loss_map.add(pix0 + 4 * v));
        }
        if !k.confidence.is_null() {
            exp_rr2_p5(d_t[v].sub(lse)).and(live[v]).store(k.confidence.add(pix0 + 4 * v));
        }
    }
    sum.add(&loss);
    if k.grad.is_null() {
        return;
    }

    // The gradient: exp(d) * scale (- the smoothing term); the target's as the general tile's.
    let g0 = if nhwc { k.grad.add(2 * pix0) } else { k.grad.add(b * 2 * s + p0) };
    for v in 0..V {
        let g = k.upstream_lanes::<L, true>(pix0, TILE, v).and(live[v]);
        let scale = g.mul(keep.mul(wt[v]).add(smooth_all)).div(se[v]);
        let gk = g.mul(eps_c);
        let (mut ra, mut rb) = (ea[v].mul(scale), eb[v].mul(scale));
        if k.smooth {
            ra = ra.sub(gk.mul(wa));
            rb = rb.sub(gk.mul(wb));
        }
        let e_t = L::select(one[v], eb[v], ea[v]);
        let d_p = e_t.sub(se[v]).sub(rest[v]);
        // (p_t - 1) (1 - eps) w[t], then g: the upstream gradient last, so that 'mean' (g = 1/W)
        // is the 'sum' gradient / W to two roundings.
        let mut v_t = d_p.div(se[v]).mul(keep.mul(wt[v])).mul(g);
        if k.smooth {
            v_t = v_t.add(e_t.mul(g.mul(smooth_all).div(se[v]))).sub(gk.mul(wt[v]));
        }
        // The target of a live pixel; an ignored one keeps its row values.
        let ra = L::select(live[v].and_not(one[v]), v_t, ra);
        let rb = L::select(live[v].and(one[v]), v_t, rb);
        if nhwc {
            let (lo, hi) = L::interleave(ra, rb);
            lo.store(g0.add(8 * v));
            hi.store(g0.add(8 * v + 4));
        } else {
            ra.store(g0.add(4 * v));
            rb.store(g0.add(s + 4 * v));
        }
    }
}
