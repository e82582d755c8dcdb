//! Tiles of 16 pixels: the addressing and the passes that every kernel shares.
//!
//! A kernel walks each batch item in tiles of 16 neighbouring pixels (`V = 4` vectors) and,
//! inside a tile, class row by class row; what is left at the end of a row goes in narrow tiles
//! of 4 pixels (`V = 1`), the last one partial. Element (class `c`, pixel `j` of the tile) is at
//! `base + c * cs + j * ps`: NCHW has `cs = S, ps = 1` (a row of a tile is 16 contiguous floats,
//! one cache line, loaded as 4 vectors), NHWC has `cs = 1, ps = C` (rows are gathered lane by
//! lane). Either way the arithmetic is the same, in the same order, so both layouts give
//! bit-identical results. A wide NHWC tile (16 pixels, one contiguous block of `16 C` floats,
//! up to 256 classes) is transposed into a scratch tile in 4x4 blocks ([`transpose_in`]) and
//! computed there as an NCHW tile. A pixel's arithmetic does not depend on the tile or lane it
//! lands in, so neither the tile width nor the split of the work changes a bit. Partial tiles
//! load and store only their pixels.

use crate::lanes::F32x4;
use crate::Layout;

/// Pixels of a wide tile (4 vectors): a class row of it is one 64-byte cache line in NCHW.
pub const TILE: usize = 16;

/// The strides of a `[n, c, s]` tensor in a layout: (class stride, pixel stride).
#[inline(always)]
pub fn strides(layout: Layout, c: usize, s: usize) -> (usize, usize) {
    match layout {
        Layout::Nchw => (s, 1),
        Layout::Nhwc => (1, c),
    }
}

/// Lanes of vector `v` that hold pixels of a tile `width` pixels wide (`FULL`: all of them).
#[inline(always)]
pub fn lanes<const FULL: bool>(width: usize, v: usize) -> usize {
    if FULL {
        4
    } else {
        width.saturating_sub(4 * v).min(4)
    }
}

/// Loads vector `v` of the tile row at `p` (pixel stride `ps`; `CONTIG` means `ps == 1`).
///
/// # Safety
/// `p + j ps` valid for reading for the tile's pixels `j` of vector `v` (`4 v <= j < 4 v + 4`,
/// and `j < width` unless `FULL`).
#[inline(always)]
pub unsafe fn ld<L: F32x4, const FULL: bool, const CONTIG: bool>(
    p: *const f32,
    ps: usize,
    width: usize,
    v: usize,
) -> L {
    if CONTIG {
        if FULL {
            L::load(p.add(4 * v))
        } else {
            L::load_n(p.add(4 * v), lanes::<FULL>(width, v))
        }
    } else {
        L::load_strided(p.add(4 * v * ps), ps, lanes::<FULL>(width, v))
    }
}

/// Stores vector `v` of the tile row at `p`; only the tile's pixels are written.
///
/// # Safety
/// As [`ld`], for writing.
#[inline(always)]
pub unsafe fn st<L: F32x4, const FULL: bool, const CONTIG: bool>(x: L, p: *mut f32, ps: usize, width: usize, v: usize) {
    if CONTIG {
        if FULL {
            x.store(p.add(4 * v))
        } else {
            x.store_n(p.add(4 * v), lanes::<FULL>(width, v))
        }
    } else {
        x.store_strided(p.add(4 * v * ps), ps, lanes::<FULL>(width, v))
    }
}

/// The per-pixel maximum over the `c` class rows of the tile at `x0`. When `copy` is not null,
/// the rows are also copied there, contiguously (row `ci` at `copy + ci * 4 * V`).
///
/// # Safety
/// `x0 + ci cs + j ps` valid for reading for every class `ci < c` and pixel `j` of the tile (as
/// [`ld`]); a non-null `copy` valid for writing `4 V c` floats. `c >= 1`.
#[inline(always)]
pub unsafe fn max_over_classes<L: F32x4, const V: usize, const FULL: bool, const CONTIG: bool>(
    x0: *const f32,
    c: usize,
    cs: usize,
    ps: usize,
    width: usize,
    copy: *mut f32,
) -> [L; V] {
    debug_assert!(c >= 1 && width <= 4 * V);
    let mut m = [L::splat(0.0); V];
    for (v, mv) in m.iter_mut().enumerate() {
        *mv = ld::<L, FULL, CONTIG>(x0, ps, width, v);
    }
    if copy.is_null() {
        for ci in 1..c {
            let row = x0.add(ci * cs);
            for (v, mv) in m.iter_mut().enumerate() {
                *mv = mv.pmax(ld::<L, FULL, CONTIG>(row, ps, width, v));
            }
        }
    } else {
        for (v, mv) in m.iter().enumerate() {
            st::<L, FULL, true>(*mv, copy, 1, width, v);
        }
        for ci in 1..c {
            let row = x0.add(ci * cs);
            for (v, mv) in m.iter_mut().enumerate() {
                let x = ld::<L, FULL, CONTIG>(row, ps, width, v);
                st::<L, FULL, true>(x, copy.add(ci * 4 * V), 1, width, v);
                *mv = mv.pmax(x);
            }
        }
    }
    m
}

/// [`max_over_classes`] with the index of the maximum (the first one), as lanes whose bit
/// patterns are the index (an i32; read it with `to_bits`). The maximum is `pmax`'s, the same
/// bits as [`max_over_classes`]. The index is `torch.argmax`'s in every lane without a NaN
/// logit; a lane with one (where NaN counts as the largest, the first NaN winning) is
/// recomputed by [`argmax_with_nan`], which the caller runs on the tiles whose sum of
/// exponentials is NaN: rare, and 3 operations a vector here instead of 6.
///
/// # Safety
/// As [`max_over_classes`].
#[inline(always)]
pub unsafe fn argmax_over_classes<L: F32x4, const V: usize, const FULL: bool, const CONTIG: bool>(
    x0: *const f32,
    c: usize,
    cs: usize,
    ps: usize,
    width: usize,
    copy: *mut f32,
) -> ([L; V], [L; V]) {
    debug_assert!(c >= 1 && width <= 4 * V);
    let mut m = [L::splat(0.0); V];
    let mut idx = [L::splat(0.0); V];
    for ci in 0..c {
        let row = x0.add(ci * cs);
        let k = L::splat_bits(ci as u32);
        for v in 0..V {
            let x = ld::<L, FULL, CONTIG>(row, ps, width, v);
            if !copy.is_null() {
                st::<L, FULL, true>(x, copy.add(ci * 4 * V), 1, width, v);
            }
            if ci == 0 {
                m[v] = x;
            } else {
                // m < x: pmax's choice, so m has pmax's bits.
                let up = m[v].lt(x);
                m[v] = L::select(up, x, m[v]);
                idx[v] = L::select(up, k, idx[v]);
            }
        }
    }
    (m, idx)
}

/// The index of the maximum as `torch.argmax` gives it (the first one; NaN counts as the
/// largest, the first NaN winning), per pixel of a tile of `width` pixels (`ps` apart), as
/// [`argmax_over_classes`] gives it (spilled): for the tiles with a NaN logit. Not inlined,
/// one copy for every tile kind (lane-by-lane loads): off the hot path.
///
/// # Safety
/// `x0 + ci cs + j ps` valid for reading for every class `ci < c` and pixel `j < width`.
#[cold]
#[inline(never)]
pub unsafe fn argmax_with_nan<L: F32x4>(x0: *const f32, c: usize, cs: usize, ps: usize, width: usize) -> [f32; TILE] {
    debug_assert!(width <= TILE && c >= 1);
    let mut out = [0.0f32; TILE];
    for v in 0..width.min(TILE).div_ceil(4) {
        let n = (width - 4 * v).min(4);
        let mut m = L::load_strided(x0.add(4 * v * ps), ps, n);
        let mut idx = L::splat(0.0);
        for ci in 1..c {
            let x = L::load_strided(x0.add(ci * cs + 4 * v * ps), ps, n);
            let up = x.overtakes(m);
            m = L::select(up, x, m);
            idx = L::select(up, L::splat_bits(ci as u32), idx);
        }
        out[4 * v..4 * v + 4].copy_from_slice(&idx.to_array());
    }
    out
}

/// Whether a lane of `se` is NaN.
#[inline(always)]
pub fn any_nan<L: F32x4, const V: usize>(se: &[L; V]) -> bool {
    se.iter().fold(L::splat_bits(!0), |a, s| a.and(s.eq(*s))).bitmask() != 0xf
}

/// Floats of the scratch tile on the stack (16 KiB): a wide NCHW tile of `c` classes and `4 V`
/// pixels is first copied there when `c * 4 V` fits (up to 256 classes). Class rows of an NCHW
/// tile are `H*W` floats apart, often a power of two: they all map to the same L1 cache set, and
/// more of them than the cache has ways evict each other between the passes. The scratch tile
/// is contiguous.
pub const SCRATCH_FLOATS: usize = 4096;

/// Copies the logits of 16 NHWC pixels (`x0`: 16 pixels of `c` contiguous floats) into `t`
/// class-major: class row `ci` at `t + 16 ci`, as an NCHW tile, in 4x4 blocks transposed in
/// registers (see `for_each_block` for the last classes).
///
/// # Safety
/// `x0` valid for reading `16 c` floats, `t` for writing them.
#[inline(never)]
pub unsafe fn transpose_in<L: F32x4>(x0: *const f32, c: usize, t: *mut f32) {
    debug_assert!(c >= 1);
    let block = |ci: usize| {
        for g in 0..TILE / 4 {
            let p = x0.add(4 * g * c + ci);
            let rows = [0, 1, 2, 3].map(|i| L::load(p.add(i * c)));
            for (k, col) in L::transpose(rows).into_iter().enumerate() {
                col.store(t.add((ci + k) * TILE + 4 * g));
            }
        }
    };
    let single = |ci: usize| {
        for g in 0..TILE / 4 {
            L::load_strided(x0.add(4 * g * c + ci), c, 4).store(t.add(ci * TILE + 4 * g));
        }
    };
    for_each_block(c, block, single);
}

/// The inverse of [`transpose_in`]: class-major `t` back to 16 NHWC pixels at `x0`, with
/// `f(ci, g, v)` applied to each vector `v` of `t` first (pixels `4 g .. 4 g + 4` of class
/// `ci`); an overlapping block applies it again to the same values.
///
/// # Safety
/// `t` valid for reading `16 c` floats, `x0` for writing them.
#[inline(always)]
pub unsafe fn transpose_out_map<L: F32x4>(t: *const f32, c: usize, x0: *mut f32, f: impl Fn(usize, usize, L) -> L) {
    let block = |ci: usize| {
        for g in 0..TILE / 4 {
            let p = x0.add(4 * g * c + ci);
            let cols = [0, 1, 2, 3].map(|k| f(ci + k, g, L::load(t.add((ci + k) * TILE + 4 * g))));
            for (i, row) in L::transpose(cols).into_iter().enumerate() {
                row.store(p.add(i * c));
            }
        }
    };
    let single = |ci: usize| {
        for g in 0..TILE / 4 {
            f(ci, g, L::load(t.add(ci * TILE + 4 * g))).store_strided(x0.add(4 * g * c + ci), c, 4);
        }
    };
    for_each_block(c, block, single);
}

/// The classes of the transpositions: `block(ci)` for the 4 classes from `ci = 0, 4, 8, ...`;
/// when 2 or 3 classes are left, one more `block(c - 4)`, overlapping the one before (whose
/// classes it moves again, the same values); when 1 is left, or below 4 classes, `single(ci)`
/// for each (lane by lane: one class, or a block too few).
#[inline(always)]
fn for_each_block(c: usize, mut block: impl FnMut(usize), mut single: impl FnMut(usize)) {
    let blocks_end = if c >= 4 && c % 4 >= 2 { c } else { c - c % 4 };
    for ci in (0..blocks_end).step_by(4) {
        block(ci.min(c - 4));
    }
    for ci in blocks_end..c {
        single(ci);
    }
}

/// The tile's vectors as one array of per-pixel values.
#[inline(always)]
pub fn spill<L: F32x4, const V: usize>(x: &[L; V]) -> [f32; TILE] {
    let mut a = [0.0f32; TILE];
    for v in 0..V {
        a[4 * v..4 * v + 4].copy_from_slice(&x[v].to_array());
    }
    a
}

/// Per-pixel values as the tile's vectors.
#[inline(always)]
pub fn gather<L: F32x4, const V: usize>(a: &[f32; TILE]) -> [L; V] {
    let mut x = [L::splat(0.0); V];
    for v in 0..V {
        x[v] = L::from_array([a[4 * v], a[4 * v + 1], a[4 * v + 2], a[4 * v + 3]]);
    }
    x
}

/// Calls `f(b, p0, width)` for every tile of samples `lo .. hi` (flat index into `[n, s]`), in
/// order: in each batch item, tiles of `wide` pixels (16; 0 for none) first, then narrow ones
/// (`width <= 4`).
#[inline(always)]
pub fn for_each_tile(s: usize, lo: usize, hi: usize, wide: usize, mut f: impl FnMut(usize, usize, usize)) {
    if s == 0 || lo >= hi {
        return;
    }
    for b in lo / s..=(hi - 1) / s {
        let mut p = lo.saturating_sub(b * s);
        let end = (hi - b * s).min(s);
        if wide > 0 {
            while p + wide <= end {
                f(b, p, wide);
                p += wide;
            }
        }
        while p < end {
            let width = (end - p).min(4);
            f(b, p, width);
            p += width;
        }
    }
}
