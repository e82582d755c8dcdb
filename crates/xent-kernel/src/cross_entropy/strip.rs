//! Strips of NCHW pixels for class-index targets: the memory side of the wide tiles, class row
//! by class row over a strip of `P` pixels.
//!
//! A wide tile visits each class row for one cache line (16 pixels), so a tile's gradient is
//! `c` lines on `c` pages, `H*W` floats apart, and at a power-of-two row stride they all fall in
//! the same cache sets. A strip copies its `c` rows of logits into a contiguous scratch buffer,
//! `P` floats a row (one long run a class row, [`copy_rows`]), and computes its wide tiles there
//! as the NCHW tiles they are (the exponentials overwrite the logits, see `index::index_tile`);
//! each tile leaves its passes (4) and (5) in a [`Pending`], from which the strip takes them;
//! then the strip writes its gradient, the exponentials scaled, one long run a class row, and
//! the target classes last. The arithmetic of each element is the wide tile's, so are the
//! bits. `P` is chosen from `c` ([`strip_len`]) so that the strip fits the scratch buffer.

use super::args::Target;
use super::ctx::Ctx;
use super::index::{index_tile_narrow, index_tile_wide};
use super::pending::{Pending, NO_TARGET};
use super::rows::scale_row;
use crate::lanes::F32x4;
use crate::tile::{SCRATCH_FLOATS, TILE};
use crate::{Labels, TileSum};

/// Floats of a strip's scratch buffer, the scratch of a [`Pending`]: its two scratch tiles (32
/// KiB) and 1 KiB more, so that 3 tiles of up to 176 classes fit.
pub(super) const STRIP_FLOATS: usize = 2 * SCRATCH_FLOATS + 256;

/// Tiles of a strip at most.
const MAX_TILES: usize = 15;

/// The deferred passes (4) and (5) of a strip's tiles (see [`Pending::take`]).
struct Deferred<L: F32x4> {
    scale: [[L; 4]; MAX_TILES],
    gk: [[L; 4]; MAX_TILES],
    t: [[usize; TILE]; MAX_TILES],
    fix: [[f32; TILE]; MAX_TILES],
}

/// Whether NCHW samples `lo .. hi` of `c` classes go by strips (with the gradient, `grad`),
/// else by tiles. A wide tile reads one cache line from each of its `c` logit rows (and writes
/// one to each gradient row), `H*W` floats apart: when the tensor is larger than the last-level
/// cache, every one of them comes from memory, and at a stride of a power of two they contend
/// for the same cache sets; a strip reads and writes them in long runs instead. Smaller calls
/// (those whose logits stay in the cache from one call to the next, and the small calls of a
/// fused resize), and fewer classes, gain less than the strip's copy costs. The thresholds are
/// measured (docs/performance.md); beyond 256 classes (one tile a strip) nothing was.
#[inline(always)]
pub(super) fn use_strips(c: usize, grad: bool, lo: usize, hi: usize) -> bool {
    (if grad { MIN_CLASSES_GRAD } else { MIN_CLASSES_FWD }..=MAX_CLASSES).contains(&c)
        && (hi - lo).saturating_mul(c) >= MIN_FLOATS
}

/// The fewest classes that go by strips, with and without the gradient, and the most.
const MIN_CLASSES_GRAD: usize = 24;
const MIN_CLASSES_FWD: usize = 40;
const MAX_CLASSES: usize = 256;
/// The fewest logits (16 MiB) of a call that goes by strips.
const MIN_FLOATS: usize = 4 << 20;

/// Pixels of a strip of `c` classes: the most tiles whose rows fit in the scratch buffer, up to
/// [`MAX_TILES`], and from 3 on an odd number of them (so that consecutive rows of the buffer do
/// not start in the same few cache sets). 0 when not one tile fits.
#[inline(always)]
pub(super) fn strip_len(c: usize) -> usize {
    match (STRIP_FLOATS / TILE / c.max(1)).min(MAX_TILES) {
        tiles @ 0..=2 => tiles * TILE,
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
    let mut pend = Pending::<L>::new();
    let buf = pend.whole_scratch();
    let mut def = Deferred {
        scale: [[L::splat(0.0); 4]; MAX_TILES],
        gk: [[L::splat(0.0); 4]; MAX_TILES],
        t: [[NO_TARGET; TILE]; MAX_TILES],
        fix: [[0.0; TILE]; MAX_TILES],
    };
    for b in lo / s..=(hi - 1) / s {
        let mut p0 = lo.saturating_sub(b * s);
        let end = (hi - b * s).min(s);
        while p0 + TILE <= end {
            let width = p.min((end - p0) / TILE * TILE);
            index_strip::<L, GRAD>(k, labels, b, p0, width, buf, &mut pend, &mut def, sum);
            p0 += width;
        }
        while p0 < end {
            let width = (end - p0).min(4);
            index_tile_narrow::<L>(k, labels, b, p0, width, sum);
            p0 += width;
        }
    }
}

/// One strip: pixels `p0 .. p0 + width` of batch item `b` (whole tiles), through `buf` (the
/// scratch of `pend`, nothing pending).
///
/// # Safety
/// As [`index_strips`]; the strip within the item, `width` a multiple of 16 up to
/// `strip_len(k.c)`, `buf` valid for [`STRIP_FLOATS`] floats.
#[inline(always)]
#[allow(clippy::too_many_arguments, reason = "inlined into its one caller: a struct would only rename the locals")]
unsafe fn index_strip<L: F32x4, const GRAD: bool>(
    k: &Ctx,
    labels: Labels,
    b: usize,
    p0: usize,
    width: usize,
    buf: *mut f32,
    pend: &mut Pending<L>,
    def: &mut Deferred<L>,
    sum: &mut TileSum,
) {
    let (c, stride) = (k.c, strip_len(k.c));
    let tiles = width / TILE;
    debug_assert!(width.is_multiple_of(TILE) && tiles > 0 && width <= stride && c * stride <= STRIP_FLOATS);
    debug_assert!(p0 + width <= k.s && tiles <= MAX_TILES);
    let off = b * c * k.s + p0;
    let pix0 = b * k.s + p0;
    copy_rows::<L>(k.x.add(off), k.s, buf, stride, c, width);
    // SAFETY: the strip's pixels are within the labels (checked up front).
    let labels = labels.range(pix0, pix0 + width).unwrap_unchecked();
    // The strip as a tensor of its own in the scratch buffer; `in_scratch`: its tiles leave
    // passes (4) and (5) pending.
    let strip_k = Ctx {
        x: buf,
        grad: if GRAD { buf } else { core::ptr::null_mut() },
        target: Target::Index(labels),
        s: width,
        cs: stride,
        ps: 1,
        in_scratch: true,
        ..k.at_pixel(pix0)
    };
    for t in 0..tiles.min(MAX_TILES) {
        index_tile_wide::<L, GRAD>(&strip_k, labels, 0, t * TILE, sum, Some(pend));
        if GRAD {
            (def.scale[t], def.gk[t], def.t[t], def.fix[t]) = pend.take();
        }
    }
    if !GRAD {
        return;
    }
    // (4) The exponentials scaled into the gradient, a class row at a time.
    let g0 = k.grad.add(off);
    for ci in 0..c {
        let (e_row, row) = (buf.add(ci * stride), g0.add(ci * k.s));
        for t in 0..tiles.min(MAX_TILES) {
            let (e, g) = (e_row.add(t * TILE), row.add(t * TILE));
            scale_row::<L, 4, true, true>(k, ci, e, g, 1, TILE, &def.scale[t], &def.gk[t]);
        }
    }
    // (5) The target classes.
    for t in 0..tiles.min(MAX_TILES) {
        for j in 0..TILE {
            if def.t[t][j] != NO_TARGET {
                *g0.add(def.t[t][j] * k.s + t * TILE + j) = def.fix[t][j];
            }
        }
    }
}

/// Copies `c` rows of `width` floats (a multiple of 16), `src_cs` and `dst_cs` floats apart.
///
/// # Safety
/// `src` valid for reading and `dst` for writing the rows; they do not overlap.
#[inline(always)]
unsafe fn copy_rows<L: F32x4>(src: *const f32, src_cs: usize, dst: *mut f32, dst_cs: usize, c: usize, width: usize) {
    debug_assert!(width.is_multiple_of(TILE));
    for ci in 0..c {
        let (s, d) = (src.add(ci * src_cs), dst.add(ci * dst_cs));
        for i in (0..width).step_by(TILE) {
            for v in 0..TILE / 4 {
                L::load(s.add(i + 4 * v)).store(d.add(i + 4 * v));
            }
        }
    }
}
