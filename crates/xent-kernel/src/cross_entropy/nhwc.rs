//! The wide NHWC tile: 16 pixels transposed into a scratch tile and computed there as an NCHW
//! tile (up to 256 classes; beyond, NHWC uses the narrow tiles only).

use super::args::Target;
use super::ctx::Ctx;
use super::index::index_tile_wide;
use super::pending::{transpose_back, Pending};
use super::prob::prob_tile;
use crate::lanes::F32x4;
use crate::tile::{self, SCRATCH_FLOATS, TILE};
use crate::TileSum;

/// A wide NHWC tile: its 16 pixels' logits (one contiguous block, pixel by pixel) are
/// transposed into a scratch tile, class row by class row as in NCHW, and computed there by the
/// NCHW tile, the exponentials in place; the gradient's scaling (pass (4)) is done on the way
/// back through the transposition (probability targets: the gradient computed in place, then
/// transposed back). The same arithmetic on the same values, so the same bits as NCHW.
/// Probability targets are transposed too, into the other scratch tile. One copy (the gradient
/// a run-time switch).
///
/// # Safety
/// `k` made from checked arguments, NHWC with `k.c * 16 <= SCRATCH_FLOATS`; pixels
/// `p0 .. p0 + 16` of batch item `b` within the tensor; nothing pending in `pend`.
#[inline(never)]
pub(super) unsafe fn tile_nhwc<L: F32x4>(k: &Ctx, b: usize, p0: usize, sum: &mut TileSum, pend: &mut Pending<L>) {
    let c = k.c;
    debug_assert!(k.ps == c && c * TILE <= SCRATCH_FLOATS && !pend.is_active());
    debug_assert!(p0 + TILE <= k.s);
    let pix0 = b * k.s + p0;
    let grad = !k.grad.is_null();
    let (xt, qt) = pend.both_scratch();
    tile::transpose_in::<L>(k.x.add(pix0 * c), c, xt);
    let mut tile_k = Ctx {
        x: xt,
        grad: if grad { xt } else { core::ptr::null_mut() },
        s: TILE,
        cs: TILE,
        ps: 1,
        in_scratch: true,
        ..k.at_pixel(pix0)
    };
    match k.target {
        Target::Index(labels) => {
            // SAFETY: the tile's pixels are within the labels (checked up front).
            let labels = labels.range(pix0, pix0 + TILE).unwrap_unchecked();
            tile_k.target = Target::Index(labels);
            if grad {
                // The tile leaves its passes (4) and (5) pending; they are done on the way
                // back through the transposition.
                index_tile_wide::<L, true>(&tile_k, labels, 0, 0, sum, Some(pend));
                pend.write_nhwc(k, k.grad.add(pix0 * c));
            } else {
                index_tile_wide::<L, false>(&tile_k, labels, 0, 0, sum, None)
            }
        }
        Target::Prob(q) => {
            tile::transpose_in::<L>(q.as_ptr().add(pix0 * c), c, qt);
            prob_tile::<L, 4, true, true>(&tile_k, qt, 0, 0, TILE, sum);
            if grad {
                transpose_back(k, xt, k.grad.add(pix0 * c), &[L::splat(1.0); 4], None);
            }
        }
    }
}
