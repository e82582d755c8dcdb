//! Where an output pixel's value comes from, per axis: PyTorch's source indices and weights for
//! `F.interpolate(mode='nearest')` and `mode='bilinear'` (both `align_corners` settings), with
//! its float32/float64 arithmetic, so that the indices and weights have PyTorch's bits.

/// How the logits are resized to the target's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// PyTorch's legacy `'nearest'`: `src = min(floor(dst * in/out), in - 1)` (not
    /// `'nearest-exact'`).
    Nearest,
    /// `'bilinear'` with `align_corners=False`: `src = max(0, (dst + 0.5) in/out - 0.5)`.
    Bilinear,
    /// `'bilinear'` with `align_corners=True`: `src = dst (in - 1)/(out - 1)` (0 when out = 1).
    BilinearAlignCorners,
}

/// The geometry of a resize: the logits' spatial size `in_h x in_w` and the target's
/// `out_h x out_w` (any of them larger or smaller).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resize {
    pub mode: Mode,
    pub in_h: usize,
    pub in_w: usize,
    pub out_h: usize,
    pub out_w: usize,
}

/// One output coordinate's two source indices and weights along an axis (nearest: `i1 == i0`,
/// `w0 = 1`, `w1 = 0`, and only `i0` is read).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tap {
    pub i0: usize,
    pub i1: usize,
    pub w0: f32,
    pub w1: f32,
}

/// One axis of a resize, `inn` source coordinates to `out`.
#[derive(Clone, Copy, Debug)]
pub struct Axis {
    mode: Mode,
    inn: usize,
    out: usize,
    /// PyTorch's `area_pixel_compute_scale` (bilinear) or `compute_scales_value` (nearest), in
    /// float32 as its CPU kernels compute it.
    scale: f32,
}

impl Axis {
    /// `inn` and `out` at least 1 (checked by the callers).
    pub fn new(mode: Mode, inn: usize, out: usize) -> Axis {
        debug_assert!(inn >= 1 && out >= 1);
        let scale = match mode {
            Mode::BilinearAlignCorners if out > 1 => (inn - 1) as f32 / (out - 1) as f32,
            Mode::BilinearAlignCorners => 0.0,
            _ => inn as f32 / out as f32,
        };
        Axis { mode, inn, out, scale }
    }

    /// The source taps of output coordinate `d` (< `out`).
    ///
    /// Bilinear as PyTorch 1.13's CPU `compute_source_index_and_lambda`: the source coordinate
    /// in float64 from the float32 scale, `i0 = min(floor(src), in - 1)`, `w1 = clamp(src - i0,
    /// 0, 1)` rounded to float32, `w0 = 1 - w1` in float32; the same size copies (`i1 = i0`).
    /// Nearest as its `nearest_idx`: exact for the same size and twice the size, else
    /// `floor(d * scale)` in float32. (Not inlined: one copy serves every loop, for the
    /// module's size.)
    #[inline(never)]
    pub fn tap(&self, d: usize) -> Tap {
        debug_assert!(d < self.out);
        let (inn, out) = (self.inn, self.out);
        if self.mode == Mode::Nearest {
            let i = if out == inn {
                d
            } else if out == 2 * inn {
                d >> 1
            } else {
                let f = floor_f32(d as f32 * self.scale);
                (f as usize).min(inn - 1)
            };
            return Tap { i0: i, i1: i, w0: 1.0, w1: 0.0 };
        }
        if out == inn {
            return Tap { i0: d, i1: d, w0: 1.0, w1: 0.0 };
        }
        let scale = self.scale as f64;
        let src = match self.mode {
            Mode::BilinearAlignCorners => scale * d as f64,
            _ => {
                let s = scale * (d as f64 + 0.5) - 0.5;
                if s < 0.0 {
                    0.0
                } else {
                    s
                }
            }
        };
        let i0 = (floor_f64(src) as usize).min(inn - 1);
        let w1 = (src - i0 as f64).clamp(0.0, 1.0) as f32;
        let i1 = if i0 < inn - 1 { i0 + 1 } else { i0 };
        Tap { i0, i1, w0: 1.0 - w1, w1 }
    }
}

/// `floor` of a non-negative finite f32 (no_std has no `f32::floor`).
#[inline]
fn floor_f32(v: f32) -> f32 {
    debug_assert!(v >= 0.0);
    // Beyond 2^23 every f32 is an integer; below, truncation is the floor of a non-negative.
    if v >= 8_388_608.0 {
        v
    } else {
        (v as u32) as f32
    }
}

/// `floor` of a non-negative finite f64 below 2^32.
#[inline]
fn floor_f64(v: f64) -> f64 {
    debug_assert!((0.0..4_294_967_296.0).contains(&v));
    (v as u64) as f64
}
