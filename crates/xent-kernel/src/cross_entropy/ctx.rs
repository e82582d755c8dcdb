//! [`Ctx`]: what every tile reads, the checked arguments and outputs as raw pointers, and the
//! per-tile reads and writes that more than one tile kind shares.

use super::args::{CrossEntropyArgs, Outputs, Pred, Target};
use crate::lanes::F32x4;
use crate::tile::{self, ld, spill, TILE};
use crate::Reduction;

/// Everything a tile needs, as raw pointers (bounds were checked once, up front). An output
/// not asked for is null.
#[derive(Clone, Copy)]
pub(super) struct Ctx<'a> {
    pub(super) x: *const f32,
    pub(super) target: Target<'a>,
    pub(super) grad: *mut f32,
    pub(super) loss_map: *mut f32,
    pub(super) confidence: *mut f32,
    pub(super) pred_confidence: *mut f32,
    pub(super) confusion: *mut f64,
    pub(super) pred_u8: *mut u8,
    pub(super) pred_u16: *mut u16,
    pub(super) grad_output: *const f32,
    pub(super) weight: *const f32,
    pub(super) c: usize,
    pub(super) s: usize,
    /// Class stride and pixel stride of the logits, target (prob) and gradient.
    pub(super) cs: usize,
    pub(super) ps: usize,
    pub(super) ignore_index: i32,
    /// The logits are a scratch tile (an NHWC tile transposed), with the gradient in place: a
    /// wide tile given `pend` leaves its passes (4) and (5) there (see [`super::nhwc`]).
    pub(super) in_scratch: bool,
    pub(super) smooth: bool,
    /// 1 - eps.
    pub(super) keep: f64,
    /// eps / C.
    pub(super) eps_c: f64,
    /// Sum of all class weights (C without weights).
    pub(super) w_all: f64,
    /// The upstream gradient for mean (1/W) and sum (1); none reads `grad_output`.
    pub(super) upstream: f64,
}

impl<'a> Ctx<'a> {
    /// The context of a call whose `args` and `out` passed [`super::args::check`], with the
    /// denominator of 'mean' `weight_sum`.
    #[inline(always)]
    pub(super) fn new(args: &CrossEntropyArgs<'a>, out: Outputs<'a>, weight_sum: f64) -> Self {
        let CrossEntropyArgs { c, s, .. } = *args;
        let eps = args.label_smoothing;
        let (cs, ps) = tile::strides(args.layout, c, s);
        let null = core::ptr::null_mut;
        let (pred_u8, pred_u16): (*mut u8, *mut u16) = match out.pred {
            Some(Pred::U8(p)) => (p.as_mut_ptr(), core::ptr::null_mut()),
            Some(Pred::U16(p)) => (core::ptr::null_mut(), p.as_mut_ptr()),
            None => (core::ptr::null_mut(), core::ptr::null_mut()),
        };
        Ctx {
            x: args.logits.as_ptr(),
            target: args.target,
            grad: out.grad.map_or(null(), |g| g.as_mut_ptr()),
            loss_map: out.loss_map.map_or(null(), |l| l.as_mut_ptr()),
            confidence: out.confidence.map_or(null(), |l| l.as_mut_ptr()),
            pred_confidence: out.pred_confidence.map_or(null(), |l| l.as_mut_ptr()),
            confusion: out.confusion.map_or(core::ptr::null_mut(), |l| l.as_mut_ptr()),
            pred_u8,
            pred_u16,
            grad_output: args.grad_output.map_or(core::ptr::null(), |g| g.as_ptr()),
            weight: args.weight.map_or(core::ptr::null(), |w| w.as_ptr()),
            c,
            s,
            cs,
            ps,
            ignore_index: args.ignore_index,
            in_scratch: false,
            smooth: eps > 0.0,
            keep: 1.0 - eps as f64,
            eps_c: eps as f64 / c as f64,
            w_all: match args.weight {
                Some(w) => w.iter().map(|&v| v as f64).sum(),
                None => c as f64,
            },
            // 'mean' with a zero weight sum: PyTorch's nll term is 0/0 = NaN (loss and gradient).
            upstream: match args.reduction {
                Reduction::Mean if weight_sum == 0.0 => f64::NAN,
                Reduction::Mean => 1.0 / weight_sum,
                _ => 1.0,
            },
        }
    }
}

impl Ctx<'_> {
    /// Whether the predicted class is asked for (any of its outputs). Only without a gradient
    /// (scoring): the tiles that compute a gradient do not carry the argmax code.
    #[inline(always)]
    pub(super) fn wants_pred(&self) -> bool {
        !(self.pred_u8.is_null()
            && self.pred_u16.is_null()
            && self.pred_confidence.is_null()
            && self.confusion.is_null())
    }

    /// This context for a sub-tensor whose pixel 0 is pixel `pix0` (flat, in `[n, s]`) of this
    /// one: the per-pixel outputs and `grad_output` start there (an absent one stays null). The
    /// caller sets the logits, gradient, target and geometry of the sub-tensor.
    ///
    /// # Safety
    /// `pix0` within `[n, s]`.
    #[inline(always)]
    pub(super) unsafe fn at_pixel(&self, pix0: usize) -> Self {
        /// A non-null `p` moved to `i`.
        ///
        /// # Safety
        /// A non-null `p` valid for `i` elements and beyond.
        unsafe fn at<T>(p: *mut T, i: usize) -> *mut T {
            if p.is_null() {
                p
            } else {
                p.add(i)
            }
        }
        Ctx {
            loss_map: at(self.loss_map, pix0),
            confidence: at(self.confidence, pix0),
            pred_confidence: at(self.pred_confidence, pix0),
            pred_u8: at(self.pred_u8, pix0),
            pred_u16: at(self.pred_u16, pix0),
            grad_output: at(self.grad_output.cast_mut(), pix0).cast_const(),
            ..*self
        }
    }

    /// The weight of class `ci` (1 without `weight`).
    ///
    /// # Safety
    /// `ci < self.c`.
    #[inline(always)]
    pub(super) unsafe fn class_weight(&self, ci: usize) -> f32 {
        debug_assert!(ci < self.c);
        if self.weight.is_null() {
            1.0
        } else {
            *self.weight.add(ci)
        }
    }

    /// The upstream gradient of vector `v` of the tile at pixel `pix0` (flat, in `[n, s]`)
    /// `width` pixels wide: `grad_output` for 'none', else the constant of 'mean' or 'sum'.
    ///
    /// # Safety
    /// The tile's pixels within `[n, s]`.
    #[inline(always)]
    pub(super) unsafe fn upstream_lanes<L: F32x4, const FULL: bool>(&self, pix0: usize, width: usize, v: usize) -> L {
        if self.grad_output.is_null() {
            L::splat(self.upstream as f32)
        } else {
            ld::<L, FULL, true>(self.grad_output.add(pix0), 1, width, v)
        }
    }

    /// The scoring outputs of a tile (its logits at `x0`, `width` pixels from `pix0`): the argmax
    /// of pass (1) (`idx`, or recomputed with `torch.argmax`'s NaN rule by
    /// [`tile::argmax_with_nan`] when a sum of exponentials `se` is NaN) and `1 / se`, see
    /// [`Ctx::store_scores`].
    ///
    /// # Safety
    /// As [`Ctx::store_scores`]; `x0` the tile's logits in this context's geometry.
    #[inline(always)]
    pub(super) unsafe fn store_tile_scores<L: F32x4, const V: usize>(
        &self,
        x0: *const f32,
        pix0: usize,
        width: usize,
        idx: &[L; V],
        se: &[L; V],
        labels: Option<&[i32; TILE]>,
    ) {
        let idx = if tile::any_nan(se) {
            tile::argmax_with_nan::<L>(x0, self.c, self.cs, self.ps, width)
        } else {
            spill(idx)
        };
        self.store_scores(pix0, width, &idx, &spill(se), labels);
    }

    /// Writes the scoring outputs of pixels `pix0 .. pix0 + width` of a tile: the predicted
    /// class (the bit patterns of `idx`, see [`tile::argmax_over_classes`]) and its probability
    /// `1 / se`, and with `labels` (index targets) the confusion counts of the pixels not
    /// ignored. Not inlined: one copy for every tile.
    ///
    /// # Safety
    /// Pixels `pix0 .. pix0 + width` within `[n, s]`; with `labels`, every label not ignored in
    /// `[0, c)`, and every `idx` a class (`< c`).
    #[inline(never)]
    #[allow(clippy::needless_range_loop, reason = "j indexes the tile's arrays and is the pixel's offset in the maps")]
    unsafe fn store_scores(
        &self,
        pix0: usize,
        width: usize,
        idx: &[f32; TILE],
        se: &[f32; TILE],
        labels: Option<&[i32; TILE]>,
    ) {
        let width = width.min(TILE);
        // One loop per output (their conditions hoisted by hand: fewer loop versions).
        if !self.pred_confidence.is_null() {
            for j in 0..width {
                *self.pred_confidence.add(pix0 + j) = 1.0 / se[j];
            }
        }
        if !self.pred_u8.is_null() {
            for j in 0..width {
                *self.pred_u8.add(pix0 + j) = idx[j].to_bits() as u8;
            }
        }
        if !self.pred_u16.is_null() {
            for j in 0..width {
                *self.pred_u16.add(pix0 + j) = idx[j].to_bits() as u16;
            }
        }
        let Some(l) = labels.filter(|_| !self.confusion.is_null()) else {
            return;
        };
        for j in 0..width {
            if l[j] != self.ignore_index {
                debug_assert!((l[j] as usize) < self.c && (idx[j].to_bits() as usize) < self.c);
                *self.confusion.add(l[j] as usize * self.c + idx[j].to_bits() as usize) += 1.0;
            }
        }
    }
}
