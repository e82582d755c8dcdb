//! Strips of NCHW pixels for class-index targets: the memory side of the wide tiles, class row
//! by class row over a strip of `P` pixels.
//!
//! A wide tile visits each class row for one cache line (16 pixels), so a tile's gradient is
//! `c` lines on `c` pages, `H*W` floats apart, and at a power-of-two row stride they all fall in
//! the same cache sets. A strip copies its `c` rows of logits into a contiguous scratch buffer,
//! `P` floats a row (one long run a class row, [`copy_rows`]), computes its wide tiles there as
//! the NCHW tiles they are (every pass in place: the exponentials and the gradient overwrite
//! the logits, see `index::index_tile`), then copies the finished gradient rows out, again one
//! long run a class row. The arithmetic of each pixel is the wide tile's, so are the bits.
//! `P` is chosen from `c` ([`strip_len`]) so that the strip fits the scratch buffer.

use super::args::Target;
use super::ctx::Ctx;
use super::index::{index_tile_narrow, index_tile_wide};
use crate::lanes::F32x4;
use crate::tile::TILE;
use crate::{Labels, TileSum};

/// Floats of the strip's scratch buffer (32 KiB, on the stack: the size of the two scratch
/// tiles of the tile path, which a strip run does not have).
pub(super) const STRIP_FLOATS: usize = 8192;

/// The scratch buffer, aligned to a cache line.
#[repr(C, align(64))]
struct Scratch([f32; STRIP_FLOATS]);

/// Pixels of a strip of `c` classes: the largest odd number of tiles whose rows fit in the
/// scratch buffer (odd: consecutive rows then start in different cache sets). 0 when not one
/// tile fits.
#[inline(always)]
pub(super) fn strip_len(c: usize) -> usize {
    match STRIP_FLOATS / (c.max(1) * TILE) {
        0 => 0,
        tiles => ((tiles - 1) | 1) * TILE,
    }
}

/// Samples `lo .. hi` (flat in `[n, s]`) of an NCHW call with class-index targets, in strips:
/// in each batch item, strips of [`strip_len`] pixels, one shorter strip of whole tiles for the
/// rest, then narrow tiles (up to 4 pixels). With `GRAD` the gradient is written.
///
/// # Safety
/// `k` made from checked arguments, NCHW, with `strip_len(k.c) > 0`; the labels of the range
/// valid.
#[inline(never)]
pub(super) unsafe fn index_strips<L: F32x4, const GRAD: bool>(
    k: &Ctx,
    labels: Labels,
    lo: usize,
    hi: usize,
    sum: &mut TileSum,
) {
    let (s, p) = (k.s, strip_len(k.c));
    debug_assert!(k.ps == 1 && p > 0);
    if s == 0 || lo >= hi {
        return;
    }
    let mut buf = core::mem::MaybeUninit::<Scratch>::uninit();
    let buf = buf.as_mut_ptr() as *mut f32;
    for b in lo / s..=(hi - 1) / s {
        let mut p0 = lo.saturating_sub(b * s);
        let end = (hi - b * s).min(s);
        while p0 + TILE <= end {
            let width = p.min((end - p0) / TILE * TILE);
            index_strip::<L, GRAD>(k, labels, b, p0, width, buf, sum);
            p0 += width;
        }
        while p0 < end {
            let width = (end - p0).min(4);
            index_tile_narrow::<L>(k, labels, b, p0, width, sum);
            p0 += width;
        }
    }
}

/// One strip: pixels `p0 .. p0 + width` of batch item `b` (whole tiles), through `buf`.
///
/// # Safety
/// As [`index_strips`]; the strip within the item, `width` a multiple of 16 up to
/// `strip_len(k.c)`, `buf` valid for [`STRIP_FLOATS`] floats.
#[inline(always)]
unsafe fn index_strip<L: F32x4, const GRAD: bool>(
    k: &Ctx,
    labels: Labels,
    b: usize,
    p0: usize,
    width: usize,
    buf: *mut f32,
    sum: &mut TileSum,
) {
    let (c, stride) = (k.c, strip_len(k.c));
    debug_assert!(width % TILE == 0 && width > 0 && width <= stride && c * stride <= STRIP_FLOATS);
    debug_assert!(p0 + width <= k.s);
    let off = b * c * k.s + p0;
    let pix0 = b * k.s + p0;
    copy_rows::<L>(k.x.add(off), k.s, buf, stride, c, width);
    // SAFETY: the strip's pixels are within the labels (checked up front).
    let labels = labels.range(pix0, pix0 + width).unwrap_unchecked();
    let strip_k = Ctx {
        x: buf,
        grad: if GRAD { buf } else { core::ptr::null_mut() },
        target: Target::Index(labels),
        s: width,
        cs: stride,
        ps: 1,
        ..k.at_pixel(pix0)
    };
    for t in 0..width / TILE {
        index_tile_wide::<L, GRAD>(&strip_k, labels, 0, t * TILE, sum, None);
    }
    if GRAD {
        copy_rows::<L>(buf, stride, k.grad.add(off), k.s, c, width);
    }
}

/// Copies `c` rows of `width` floats (a multiple of 16), `src_cs` and `dst_cs` floats apart.
///
/// # Safety
/// `src` valid for reading and `dst` for writing the rows; they do not overlap.
#[inline(always)]
unsafe fn copy_rows<L: F32x4>(src: *const f32, src_cs: usize, dst: *mut f32, dst_cs: usize, c: usize, width: usize) {
    debug_assert!(width % TILE == 0);
    for ci in 0..c {
        let (s, d) = (src.add(ci * src_cs), dst.add(ci * dst_cs));
        for i in (0..width).step_by(TILE) {
            for v in 0..TILE / 4 {
                L::load(s.add(i + 4 * v)).store(d.add(i + 4 * v));
            }
        }
    }
}
