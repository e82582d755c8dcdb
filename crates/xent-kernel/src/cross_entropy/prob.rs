//! The tile of probability targets: `loss = lse Q - sum_c w[c] q'[c] d[c]` (see [`super`]),
//! with `Q` and the sum compensated ([`kahan`]).

use super::ctx::Ctx;
use super::rows::{exp_row, exp_sum_rows, kahan, max_pass};
use crate::lanes::F32x4;
use crate::math::{ExpRr2P5, LogAtanhP9};
use crate::tile::{ld, st};
use crate::TileSum;

/// One tile of probability targets (`q0` = the target tensor, same geometry as the logits).
/// Not inlined, and the gradient a run-time switch: probability targets are the rarer case, and
/// this keeps their code to one copy per tile width and layout.
///
/// # Safety
/// `k` made from checked arguments; `q0` the probability targets (or their scratch tile), with
/// the logits' geometry; pixels `p0 .. p0 + width` of batch item `b` within the tensor.
#[inline(never)]
pub(super) unsafe fn prob_tile<L: F32x4, const V: usize, const FULL: bool, const CONTIG: bool>(
    k: &Ctx,
    q0: *const f32,
    b: usize,
    p0: usize,
    width: usize,
    sum: &mut TileSum,
) {
    let (c, cs, ps) = (k.c, k.cs, k.ps);
    debug_assert!(width >= 1 && width <= 4 * V && p0 + width <= k.s);
    let grad = !k.grad.is_null();
    // A full tile is 4 V pixels (its callers pass that); the min lets the compiler drop the
    // per-pixel bounds checks of a partial one.
    let width = if FULL { 4 * V } else { width.min(4 * V) };
    let off = b * c * k.s + p0 * ps;
    let (x0, q0) = (k.x.add(off), q0.add(off));
    let g0 = if grad { k.grad.add(off) } else { k.grad };
    let pix0 = b * k.s + p0;
    let keep = L::splat(k.keep as f32);
    let eps_c = L::splat(k.eps_c as f32);
    // w[c] * q'[c], the same operations in passes (2) and (4).
    let wq = |row: *const f32, wc: L, v: usize| {
        let q = ld::<L, FULL, CONTIG>(row, ps, width, v);
        let q = if k.smooth { q.mul(keep).add(eps_c) } else { q };
        q.mul(wc)
    };

    // (1) Max over classes.
    let null = core::ptr::null_mut();
    let (m, idx) = max_pass::<L, V, FULL, CONTIG>(k, !grad && k.wants_pred(), x0, width, null);

    // (2) exp(x - m) stored and summed; Q = sum_c w q' and sum_c w q' (x - m).
    // Q and sum w q' d are summed with Kahan's compensation: Q multiplies the log-sum-exp, so
    // its relative error becomes the loss's, and a plain float32 sum of C = 150 terms is off by
    // a few 1e-6.
    let mut qs = [L::splat(0.0); V];
    let mut qs_c = [L::splat(0.0); V];
    let mut qd = [L::splat(0.0); V];
    let mut qd_c = [L::splat(0.0); V];
    let exp = ExpRr2P5::<L>::new();
    let (se, _) = exp_sum_rows::<L, V>(c, |ci, acc| {
        let e_row = if grad { g0.add(ci * cs) } else { core::ptr::null_mut() };
        let d = exp_row::<L, V, FULL, CONTIG>(&exp, x0.add(ci * cs), ps, width, &m, acc, grad, e_row);
        let (qrow, wc) = (q0.add(ci * cs), L::splat(k.class_weight(ci)));
        for v in 0..V {
            let wq = wq(qrow, wc, v);
            kahan(&mut qs[v], &mut qs_c[v], wq);
            kahan(&mut qd[v], &mut qd_c[v], wq.mul(d[v]));
        }
    });

    // (3) Per pixel: loss = lse Q - sum w q' d; gradient scale g Q / se.
    let mut loss = [L::splat(0.0); V];
    let log = LogAtanhP9::<L>::new();
    for v in 0..V {
        loss[v] = log.eval(se[v]).mul(qs[v]).sub(qd[v]);
        if !k.loss_map.is_null() {
            st::<L, FULL, true>(loss[v], k.loss_map.add(pix0), 1, width, v);
        }
    }
    sum.add_lanes(&loss, width);
    if !grad && k.wants_pred() {
        k.store_tile_scores(x0, pix0, width, &idx, &se, None);
    }
    if !grad {
        return;
    }
    let mut scale = [L::splat(0.0); V];
    let mut g = [L::splat(0.0); V];
    for v in 0..V {
        g[v] = k.upstream_lanes::<L, FULL>(pix0, width, v);
        scale[v] = g[v].mul(qs[v]).div(se[v]);
    }

    // (4) dx = exp(d) g Q / se - g w q'.
    for ci in 0..c {
        let (row, qrow) = (g0.add(ci * cs), q0.add(ci * cs));
        let wc = L::splat(k.class_weight(ci));
        for v in 0..V {
            let e = ld::<L, FULL, CONTIG>(row, ps, width, v);
            st::<L, FULL, CONTIG>(e.mul(scale[v]).sub(g[v].mul(wq(qrow, wc, v))), row, ps, width, v);
        }
    }
}
