//! The tiles of class-index targets: one generic tile ([`index_tile`]), instantiated as the
//! wide tile (16 pixels, with and without the gradient) and the narrow one (up to 4 pixels, the
//! gradient a run-time switch). See the module doc of [`super`] for the passes.

use super::ctx::Ctx;
use super::pending::{Pending, NO_TARGET};
use super::rows::{exp_row, exp_sum_rows, kahan, max_pass, scale_row};
use crate::lanes::F32x4;
use crate::math::{ExpRr2P5, LogAtanhP9};
use crate::tile::{self, gather, spill, st, TILE};
use crate::{Labels, TileSum};

/// Whether an index tile writes the gradient: fixed at compile time (the wide tiles: a copy of
/// the code each) or read from `k.grad` at run time (the narrow tile: one copy).
const NO_GRAD: u8 = 0;
const WITH_GRAD: u8 = 1;
const GRAD_IF_ASKED: u8 = 2;

/// The wide NCHW tile (16 pixels, whole vectors), with the gradient or without: one copy each,
/// for NCHW and for NHWC's transposed tiles.
///
/// # Safety
/// As [`index_tile`], with `width = 16`.
#[inline(never)]
pub(super) unsafe fn index_tile_wide<L: F32x4, const GRAD: bool>(
    k: &Ctx,
    labels: Labels,
    b: usize,
    p0: usize,
    sum: &mut TileSum,
    pend: Option<&mut Pending<L>>,
) {
    if GRAD {
        index_tile::<L, WITH_GRAD, 4, true, true>(k, labels, b, p0, TILE, sum, pend)
    } else {
        index_tile::<L, NO_GRAD, 4, true, true>(k, labels, b, p0, TILE, sum, pend)
    }
}

/// The narrow tile (1 vector, partial, lane-by-lane loads at the pixel stride) of either layout,
/// not inlined, the gradient a run-time switch: one copy for the row tails of both layouts and
/// NHWC beyond 256 classes.
///
/// # Safety
/// As [`index_tile`].
#[inline(never)]
pub(super) unsafe fn index_tile_narrow<L: F32x4>(
    k: &Ctx,
    labels: Labels,
    b: usize,
    p0: usize,
    width: usize,
    sum: &mut TileSum,
) {
    index_tile::<L, GRAD_IF_ASKED, 1, false, false>(k, labels, b, p0, width, sum, None)
}

/// One tile of class-index targets: pixels `p0 .. p0 + width` (width <= 4 V) of batch item `b`.
/// A wide tile gets `pend`: its scratch tile comes from there, and with `WITH_GRAD` it writes
/// the pending tile's gradient during its exp pass and leaves its own pending (see
/// [`super::pending`]).
///
/// # Safety
/// `k` made from checked arguments ([`super::args::check`]) and the labels of the tile valid
/// (in `[0, c)` or the ignore index); pixels `p0 .. p0 + width` of batch item `b` within the
/// tensor; `V = 4` for a `pend`.
#[inline(always)]
unsafe fn index_tile<L: F32x4, const GRAD: u8, const V: usize, const FULL: bool, const CONTIG: bool>(
    k: &Ctx,
    labels: Labels,
    b: usize,
    p0: usize,
    width: usize,
    sum: &mut TileSum,
    mut pend: Option<&mut Pending<L>>,
) {
    let (c, cs, ps) = (k.c, k.cs, k.ps);
    debug_assert!(width >= 1 && width <= 4 * V);
    debug_assert!(b * k.s + p0 + width <= labels.len());
    let width = width.min(4 * V); // always true; lets the compiler drop the per-pixel bounds checks
    let x0 = k.x.add(b * c * k.s + p0 * ps);
    let grad = match GRAD {
        NO_GRAD => false,
        WITH_GRAD => true,
        _ => !k.grad.is_null(),
    };
    let g0 = if grad { k.grad.add(b * c * k.s + p0 * ps) } else { k.grad };
    let pix0 = b * k.s + p0;

    // Labels of the tile; the live mask, target class, target logit and target weight of each
    // pixel (read before anything is written, so that the result does not depend on the
    // gradient buffer being distinct). Branch-free: an ignored pixel reads class 0's logit (a
    // valid address; its loss and gradient are masked to 0 later) and gets weight 0.
    let mut label = [0i32; TILE];
    labels.gather(pix0, &mut label[..width]);
    let mut live_a = [0.0f32; TILE];
    let mut t_a = [0usize; TILE];
    let mut x_t = [0.0f32; TILE];
    let mut w_t = [0.0f32; TILE];
    for j in 0..width {
        debug_assert!(label[j] == k.ignore_index || (label[j] >= 0 && (label[j] as usize) < c));
        let live = label[j] != k.ignore_index;
        let mask = (live as u32).wrapping_neg();
        let t = if live { label[j] as usize } else { 0 };
        t_a[j] = t;
        live_a[j] = f32::from_bits(mask);
        x_t[j] = *x0.add(t * cs + j * ps);
        w_t[j] = f32::from_bits(mask & 1.0f32.to_bits());
    }
    if !k.weight.is_null() {
        for j in 0..width {
            w_t[j] = f32::from_bits(live_a[j].to_bits() & (*k.weight.add(t_a[j])).to_bits());
        }
    }

    // (1) Max over classes, with a copy of the tile in the scratch tile when it has one.
    let use_scratch = CONTIG && FULL && c * 4 * V <= tile::SCRATCH_FLOATS;
    let sp = match pend.as_deref_mut() {
        Some(p) if use_scratch && !k.in_scratch => p.free_scratch(),
        _ => core::ptr::null_mut(),
    };
    let use_scratch = !sp.is_null();
    // The pending tile's gradient is written during (2) (both tiles have a scratch tile).
    let pending = match pend.as_deref_mut() {
        Some(p) if V == 4 && grad && use_scratch && p.is_active() => Some(p),
        _ => None,
    };
    let (m, idx) = max_pass::<L, V, FULL, CONTIG>(k, !grad && k.wants_pred(), x0, width, sp);
    // The logits, and where exp(x - m) is kept until (4): the scratch tile, or the gradient.
    let (src, src_cs) = if use_scratch { (sp as *const f32, 4 * V) } else { (x0, cs) };
    let (eb, eb_cs) = if use_scratch { (sp, 4 * V) } else { (g0, cs) };

    // (2) exp(x - m), stored and summed; with label smoothing also sum_c w[c] * (x - m), with
    // Kahan's compensation (a plain float32 sum of C terms drifts with C).
    let mut sd = [L::splat(0.0); V];
    let mut sd_c = [L::splat(0.0); V];
    let exp = ExpRr2P5::<L>::new();
    let (se, rest) = exp_sum_rows::<L, V>(c, |ci, acc| {
        let e_row = if grad { eb.add(ci * eb_cs) } else { core::ptr::null_mut() };
        let d = exp_row::<L, V, FULL, CONTIG>(&exp, src.add(ci * src_cs), ps, width, &m, acc, grad, e_row);
        if k.smooth {
            let wc = L::splat(k.class_weight(ci));
            for v in 0..V {
                kahan(&mut sd[v], &mut sd_c[v], d[v].mul(wc));
            }
        }
        if let Some(p) = &pending {
            p.write_row(k, ci);
        }
    });
    if let Some(p) = pending {
        p.finish(k);
    }

    // (3) Per pixel: log-sum-exp, loss, and the gradient's scale. Ignored pixels are masked
    // to a loss of 0 and an upstream gradient of 0 (so that a NaN sum still gives NaN, as in
    // PyTorch's log_softmax backward: 0 - softmax * 0).
    let live = gather::<L, V>(&live_a);
    let (xt, wt) = (gather::<L, V>(&x_t), gather::<L, V>(&w_t));
    let (keep, eps_c) = (L::splat(k.keep as f32), L::splat(k.eps_c as f32));
    let smooth_all = L::splat((k.eps_c * k.w_all) as f32);
    let w_all = L::splat(k.w_all as f32);
    let mut loss = [L::splat(0.0); V];
    let mut logp_t = [L::splat(0.0); V];
    let mut d_t = [L::splat(0.0); V];
    let log = LogAtanhP9::<L>::new();
    for v in 0..V {
        let lse = log.eval(se[v]);
        d_t[v] = xt[v].sub(m[v]);
        let d_t = d_t[v];
        logp_t[v] = d_t.sub(lse);
        let mut l = keep.mul(wt[v]).mul(lse.sub(d_t));
        if k.smooth {
            l = l.add(eps_c.mul(lse.mul(w_all).sub(sd[v])));
        }
        loss[v] = l.and(live[v]);
    }
    sum.add_lanes(&loss, width);
    if !grad && k.wants_pred() {
        k.store_tile_scores(x0, pix0, width, &idx, &se, Some(&label));
    }
    for v in 0..V {
        if !k.loss_map.is_null() {
            st::<L, FULL, true>(loss[v], k.loss_map.add(pix0), 1, width, v);
        }
        if !k.confidence.is_null() {
            let p_t = exp.eval(logp_t[v]).and(live[v]);
            st::<L, FULL, true>(p_t, k.confidence.add(pix0), 1, width, v);
        }
    }
    if !grad {
        return;
    }
    let mut scale = [L::splat(0.0); V];
    let mut gk = [L::splat(0.0); V];
    let mut fix = [L::splat(0.0); V];
    for v in 0..V {
        let g = k.upstream_lanes::<L, FULL>(pix0, width, v).and(live[v]);
        let nll = g.mul(keep.mul(wt[v]));
        if c == 1 {
            // One class: softmax is 1 and the gradient exactly 0 (NaN stays NaN), which the
            // general form below would only give up to rounding.
            scale[v] = nll.div(se[v]);
        } else {
            scale[v] = g.mul(keep.mul(wt[v]).add(smooth_all)).div(se[v]);
            gk[v] = g.mul(eps_c);
        }
        // The target's gradient, g (1 - eps) w[t] (p_t - 1) + the smoothing term, with
        // p_t - 1 = (e_t - sum) / se from the sum's unrounded rest: `e_t * scale - nll` would
        // cancel to float32's rounding of se when p_t is near 1 (a confident prediction).
        let e_t = exp.eval(d_t[v]);
        let d_p = e_t.sub(se[v]).sub(rest[v]);
        // (p_t - 1) (1 - eps) w[t], then g: the upstream gradient last, so that 'mean' (g = 1/W)
        // is the 'sum' gradient / W to two roundings.
        let mut v_t = d_p.div(se[v]).mul(keep.mul(wt[v])).mul(g);
        if k.smooth && c > 1 {
            v_t = v_t.add(e_t.mul(g.mul(smooth_all).div(se[v]))).sub(gk[v].mul(wt[v]));
        }
        fix[v] = v_t;
    }
    let fix_a = spill(&fix);
    // The target class of each live pixel (ignored ones: none, their gradient stays as pass (4)
    // leaves it).
    let t_w: [usize; TILE] = core::array::from_fn(|j| if live_a[j].to_bits() != 0 { t_a[j] } else { NO_TARGET });
    if let Some(p) = pend {
        if V == 4 && (use_scratch || k.in_scratch) {
            // (4) and (5) are left to the next tile (or, in a scratch tile, to `tile_nhwc`).
            let scale4 = core::array::from_fn(|v| scale[v % V]);
            let gk4 = core::array::from_fn(|v| gk[v % V]);
            p.defer(eb, g0, scale4, gk4, t_w, fix_a);
            return;
        }
    }

    // (4) Scale the stored exponentials into the gradient.
    for ci in 0..c {
        scale_row::<L, V, FULL, CONTIG>(k, ci, eb.add(ci * eb_cs), g0.add(ci * cs), ps, width, &scale, &gk);
    }

    // (5) The target class.
    for j in 0..width {
        if t_w[j] != NO_TARGET {
            *g0.add(t_w[j] * cs + j * ps) = fix_a[j];
        }
    }
}
