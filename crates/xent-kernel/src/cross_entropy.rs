//! The fused softmax cross-entropy kernel for class-index targets: loss and gradient in one pass.
//!
//! For a sample with logits `x` (C classes), target `t`, class weights `w` (all 1 without
//! `weight`) and label smoothing `eps`, PyTorch's loss is
//!
//! ```text
//! loss = (1 - eps) * w[t] * (lse - d[t]) + eps/C * sum_c w[c] * (lse - d[c])
//!      = (1 - eps) * w[t] * (lse - d[t]) + eps/C * (lse * W_all - sum_c w[c] d[c])
//! ```
//!
//! with `m = max_c x[c]`, `d = x - m`, `lse = log(sum_c exp(d[c]))` and `W_all = sum_c w[c]`;
//! ignored samples have loss 0. 'mean' divides the sum by `W = sum of w[t]` over the
//! non-ignored samples, which [`Labels::validate`] computes before anything is written. With an
//! upstream gradient `g` per sample (1/W for mean, 1 for sum, `grad_output` for none, 0 when
//! ignored) and `s = sum_c exp(d[c])`, the gradient is
//!
//! ```text
//! dloss/dx[j] = exp(d[j]) * g * ((1 - eps) w[t] + eps/C W_all) / s  -  g eps/C w[j]
//!               - [j == t] g (1 - eps) w[t]
//! ```
//!
//! One pass per tile of 16 pixels: (1) the max over classes, (2) `exp(d)` stored into the
//! gradient buffer and summed, (3) per pixel the log-sum-exp, the loss and the gradient scale,
//! (4) the gradient buffer scaled in place, (5) the target class fixed up. One exp per element;
//! logits are read from memory once and the gradient written once (the tile stays in L1).

use crate::lanes::{F32x4, Native};
use crate::math::{exp_rr2_p5, log_atanh_p9};
use crate::{Error, Labels, Reduction};

/// Pixels per tile: four vectors, so that a class row of a tile is one 64-byte cache line.
pub const TILE: usize = 16;
const V: usize = TILE / 4;

/// The inputs of [`cross_entropy`]. Logits are `[n, c, s]` (class stride `s`), labels `[n, s]`.
#[derive(Clone, Copy, Debug)]
pub struct CrossEntropyArgs<'a> {
    pub logits: &'a [f32],
    pub labels: Labels<'a>,
    pub n: usize,
    pub c: usize,
    pub s: usize,
    pub weight: Option<&'a [f32]>,
    pub ignore_index: i32,
    pub reduction: Reduction,
    /// In `[0, 1]`.
    pub label_smoothing: f32,
    /// The upstream gradient `[n, s]` for reduction 'none' (required when a gradient is asked).
    pub grad_output: Option<&'a [f32]>,
}

/// The reduced loss with its numerator and denominator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CrossEntropyResult {
    /// 'mean': `sum / weight_sum` (NaN when both are 0, as PyTorch); 'sum' and 'none': `sum`.
    pub loss: f64,
    /// The sum of the per-sample losses, accumulated in f64.
    pub sum: f64,
    /// The sum of the target weights of the non-ignored samples (their count without weights).
    pub weight_sum: f64,
}

/// [`cross_entropy_with`] on this build's lanes ([`Native`]).
pub fn cross_entropy(
    args: &CrossEntropyArgs,
    grad: Option<&mut [f32]>,
    loss_map: Option<&mut [f32]>,
) -> Result<CrossEntropyResult, Error> {
    cross_entropy_with::<Native>(args, grad, loss_map)
}

/// Softmax cross-entropy over `[n, c, s]` logits with class-index labels.
///
/// Writes dLoss/dLogits into `grad` when given (upstream gradient 1 for mean and sum,
/// `args.grad_output` for none) and the per-sample losses into `loss_map` (required for
/// reduction none, must be absent otherwise). Validates every length and label first: on error
/// nothing has been written.
pub fn cross_entropy_with<L: F32x4>(
    args: &CrossEntropyArgs,
    grad: Option<&mut [f32]>,
    loss_map: Option<&mut [f32]>,
) -> Result<CrossEntropyResult, Error> {
    let CrossEntropyArgs { n, c, s, .. } = *args;
    let len = n.checked_mul(c).and_then(|v| v.checked_mul(s)).ok_or(Error::BadArgument)?;
    let none = args.reduction == Reduction::None;
    let eps = args.label_smoothing;
    let ok = c >= 1
        && args.logits.len() == len
        && args.labels.len() == n * s
        && args.weight.map_or(true, |w| w.len() == c)
        && grad.as_ref().map_or(true, |g| g.len() == len)
        && loss_map.as_ref().map_or(!none, |l| none && l.len() == n * s)
        && match args.grad_output {
            Some(go) => none && go.len() == n * s,
            None => !(none && grad.is_some()),
        }
        && (0.0..=1.0).contains(&eps);
    if !ok {
        return Err(Error::BadArgument);
    }
    let weight_sum = args.labels.validate(c, args.ignore_index as i64, args.weight)?;

    let eps_c = eps as f64 / c as f64;
    let w_all = match args.weight {
        Some(w) => w.iter().map(|&v| v as f64).sum(),
        None => c as f64,
    };
    let k = Ctx {
        x: args.logits.as_ptr(),
        grad: grad.map_or(core::ptr::null_mut(), |g| g.as_mut_ptr()),
        loss_map: loss_map.map_or(core::ptr::null_mut(), |l| l.as_mut_ptr()),
        grad_output: args.grad_output.map_or(core::ptr::null(), |g| g.as_ptr()),
        labels: args.labels,
        weight: args.weight.map_or(core::ptr::null(), |w| w.as_ptr()),
        c,
        s,
        ignore_index: args.ignore_index as i64,
        smooth: eps > 0.0,
        keep: 1.0 - eps as f64,
        eps_c,
        w_all,
        upstream: match args.reduction {
            Reduction::Mean => 1.0 / weight_sum,
            _ => 1.0,
        },
    };
    let mut sum = 0.0f64;
    // SAFETY: every buffer length was checked above against n, c, s, and every label is in
    // [0, c) or the ignore index, so every access below is inside its buffer.
    unsafe {
        if k.grad.is_null() {
            run::<L, false>(&k, n, &mut sum);
        } else {
            run::<L, true>(&k, n, &mut sum);
        }
    }
    let loss = match args.reduction {
        Reduction::Mean => sum / weight_sum,
        _ => sum,
    };
    Ok(CrossEntropyResult { loss, sum, weight_sum })
}

/// Everything a tile needs, as raw pointers (bounds were checked once, up front).
struct Ctx<'a> {
    x: *const f32,
    grad: *mut f32,
    loss_map: *mut f32,
    grad_output: *const f32,
    labels: Labels<'a>,
    weight: *const f32,
    c: usize,
    s: usize,
    ignore_index: i64,
    smooth: bool,
    /// 1 - eps.
    keep: f64,
    /// eps / C.
    eps_c: f64,
    /// Sum of all class weights (C without weights).
    w_all: f64,
    /// The upstream gradient for mean (1/W) and sum (1); none reads `grad_output`.
    upstream: f64,
}

impl Ctx<'_> {
    #[inline(always)]
    unsafe fn class_weight(&self, c: usize) -> f32 {
        if self.weight.is_null() {
            1.0
        } else {
            *self.weight.add(c)
        }
    }
}

unsafe fn run<L: F32x4, const GRAD: bool>(k: &Ctx, n: usize, sum: &mut f64) {
    for b in 0..n {
        let mut p = 0;
        while p + TILE <= k.s {
            tile::<L, GRAD, true>(k, b, p, TILE, sum);
            p += TILE;
        }
        if p < k.s {
            tile::<L, GRAD, false>(k, b, p, k.s - p, sum);
        }
    }
}

/// Lanes of vector `v` that hold pixels of a tile `w` pixels wide.
#[inline(always)]
fn lanes<const FULL: bool>(w: usize, v: usize) -> usize {
    if FULL {
        4
    } else {
        w.saturating_sub(4 * v).min(4)
    }
}

#[inline(always)]
unsafe fn ld<L: F32x4, const FULL: bool>(p: *const f32, w: usize, v: usize) -> L {
    if FULL {
        L::load(p.add(4 * v))
    } else {
        L::load_n(p.add(4 * v), lanes::<FULL>(w, v))
    }
}

#[inline(always)]
unsafe fn st<L: F32x4, const FULL: bool>(x: L, p: *mut f32, w: usize, v: usize) {
    if FULL {
        x.store(p.add(4 * v))
    } else {
        x.store_n(p.add(4 * v), lanes::<FULL>(w, v))
    }
}

/// One tile: pixels `p0 .. p0 + w` (w <= TILE) of batch item `b`.
#[inline(always)]
unsafe fn tile<L: F32x4, const GRAD: bool, const FULL: bool>(
    k: &Ctx,
    b: usize,
    p0: usize,
    w: usize,
    sum: &mut f64,
) {
    let (c, s) = (k.c, k.s);
    let x0 = k.x.add(b * c * s + p0);
    let g0 = if GRAD { k.grad.add(b * c * s + p0) } else { k.grad };
    let pix0 = b * s + p0;

    // Labels of the tile, and the target logit of each live pixel (read before anything is
    // written, so that the kernel does not depend on the gradient buffer being distinct).
    let mut label = [0i64; TILE];
    k.labels.gather(pix0, &mut label[..w]);
    let mut live = [false; TILE];
    let mut x_t = [0.0f32; TILE];
    for j in 0..w {
        live[j] = label[j] != k.ignore_index;
        if live[j] {
            x_t[j] = *x0.add(label[j] as usize * s + j);
        }
    }

    // (1) Max over classes.
    let mut m = [L::splat(0.0); V];
    for (v, mv) in m.iter_mut().enumerate() {
        *mv = ld::<L, FULL>(x0, w, v);
    }
    for ci in 1..c {
        let row = x0.add(ci * s);
        for (v, mv) in m.iter_mut().enumerate() {
            *mv = mv.pmax(ld::<L, FULL>(row, w, v));
        }
    }

    // (2) exp(x - m), stored into the gradient buffer and summed; with label smoothing also
    // sum_c w[c] * (x - m).
    let mut se = [L::splat(0.0); V];
    let mut sd = [L::splat(0.0); V];
    for ci in 0..c {
        let row = x0.add(ci * s);
        let wc = L::splat(k.class_weight(ci));
        for v in 0..V {
            let d = ld::<L, FULL>(row, w, v).sub(m[v]);
            let e = exp_rr2_p5(d);
            if GRAD {
                st::<L, FULL>(e, g0.add(ci * s), w, v);
            }
            se[v] = se[v].add(e);
            if k.smooth {
                sd[v] = sd[v].add(d.mul(wc));
            }
        }
    }

    // (3) Per pixel: log-sum-exp, loss, and the gradient's scale.
    let mut m_a = [0.0f32; TILE];
    let mut se_a = [0.0f32; TILE];
    let mut lse_a = [0.0f32; TILE];
    let mut sd_a = [0.0f32; TILE];
    for v in 0..V {
        let lo = 4 * v;
        m_a[lo..lo + 4].copy_from_slice(&m[v].to_array());
        se_a[lo..lo + 4].copy_from_slice(&se[v].to_array());
        lse_a[lo..lo + 4].copy_from_slice(&log_atanh_p9(se[v]).to_array());
        sd_a[lo..lo + 4].copy_from_slice(&sd[v].to_array());
    }
    let mut scale_a = [0.0f32; TILE];
    let mut gk_a = [0.0f32; TILE];
    let mut fix_a = [0.0f32; TILE];
    for j in 0..w {
        let mut loss = 0.0f64;
        // An ignored pixel gets no gradient, except that a NaN sum stays NaN, as in PyTorch's
        // log_softmax backward (0 - softmax * 0).
        scale_a[j] = 0.0 * se_a[j];
        if live[j] {
            let t = label[j] as usize;
            let wt = k.class_weight(t) as f64;
            let lse = lse_a[j] as f64;
            let d_t = (x_t[j] - m_a[j]) as f64;
            loss = k.keep * wt * (lse - d_t);
            if k.smooth {
                loss += k.eps_c * (lse * k.w_all - sd_a[j] as f64);
            }
            *sum += loss;
            if GRAD {
                let g = if k.grad_output.is_null() {
                    k.upstream
                } else {
                    *k.grad_output.add(pix0 + j) as f64
                };
                let a = k.keep * wt + k.eps_c * k.w_all;
                scale_a[j] = (g * a / se_a[j] as f64) as f32;
                gk_a[j] = (g * k.eps_c) as f32;
                fix_a[j] = (g * k.keep * wt) as f32;
            }
        }
        if !k.loss_map.is_null() {
            *k.loss_map.add(pix0 + j) = loss as f32;
        }
    }
    if !GRAD {
        return;
    }

    // (4) Scale the stored exponentials in place.
    let mut scale = [L::splat(0.0); V];
    let mut gk = [L::splat(0.0); V];
    for v in 0..V {
        let lo = 4 * v;
        scale[v] = L::from_array(scale_a[lo..lo + 4].try_into().unwrap());
        gk[v] = L::from_array(gk_a[lo..lo + 4].try_into().unwrap());
    }
    for ci in 0..c {
        let row = g0.add(ci * s);
        if k.smooth {
            let wc = L::splat(k.class_weight(ci));
            for v in 0..V {
                let e = ld::<L, FULL>(row, w, v);
                st::<L, FULL>(e.mul(scale[v]).sub(gk[v].mul(wc)), row, w, v);
            }
        } else {
            for v in 0..V {
                let e = ld::<L, FULL>(row, w, v);
                st::<L, FULL>(e.mul(scale[v]), row, w, v);
            }
        }
    }

    // (5) The target class.
    for j in 0..w {
        if live[j] {
            let p = g0.add(label[j] as usize * s + j);
            *p -= fix_a[j];
        }
    }
}
