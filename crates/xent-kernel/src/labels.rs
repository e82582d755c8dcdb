//! Class-index label maps (PNG masks as u8/u16, or i32), their validation and weight sum.

use crate::lanes::F32x4;
use crate::{Error, ExactSum};

/// A label map: one class index per sample, or the ignore index.
#[derive(Clone, Copy, Debug)]
pub enum Labels<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
    I32(&'a [i32]),
}

impl Labels<'_> {
    pub fn len(&self) -> usize {
        match self {
            Labels::U8(l) => l.len(),
            Labels::U16(l) => l.len(),
            Labels::I32(l) => l.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Labels `lo .. hi`, or `None` when that is not a range of them.
    pub fn range(&self, lo: usize, hi: usize) -> Option<Labels<'_>> {
        Some(match self {
            Labels::U8(l) => Labels::U8(l.get(lo..hi)?),
            Labels::U16(l) => Labels::U16(l.get(lo..hi)?),
            Labels::I32(l) => Labels::I32(l.get(lo..hi)?),
        })
    }

    /// Copies `out.len()` labels starting at `start` into `out`, widened to i32 (every label
    /// dtype fits).
    ///
    /// # Safety
    /// `start + out.len()` must not exceed [`Labels::len`] (the kernels check the lengths once,
    /// up front; this is in their per-tile path, where a bounds check would cost code and time).
    #[inline(always)]
    pub unsafe fn gather(&self, start: usize, out: &mut [i32]) {
        let range = start..start + out.len();
        match self {
            Labels::U8(l) => widen(l.get_unchecked(range), out),
            Labels::U16(l) => widen(l.get_unchecked(range), out),
            Labels::I32(l) => widen(l.get_unchecked(range), out),
        }
    }

    /// Labels `start .. start + 4 V` as vectors: each label (widened to i32) is the bit
    /// pattern of a lane.
    ///
    /// # Safety
    /// As [`Labels::gather`]: `start + 4 V` must not exceed [`Labels::len`].
    #[inline(always)]
    pub unsafe fn load_lanes<L: F32x4, const V: usize>(&self, start: usize) -> [L; V] {
        core::array::from_fn(|v| {
            let i = start + 4 * v;
            match self {
                Labels::U8(l) => L::load_u8_lanes(l.as_ptr().add(i)),
                Labels::U16(l) => L::load_u16_lanes(l.as_ptr().add(i)),
                Labels::I32(l) => L::load(l.as_ptr().add(i) as *const f32),
            }
        })
    }

    /// Checks every label is in `[0, c)` or equal to `ignore_index`, and returns the sum of the
    /// weights of the non-ignored labels (their count without weights), summed exactly: the
    /// denominator of PyTorch's 'mean'. The first bad label is reported as `TargetOutOfBounds`.
    pub fn validate(&self, c: usize, ignore_index: i32, weight: Option<&[f32]>) -> Result<f64, Error> {
        match self {
            Labels::U8(l) => validate(l, c, ignore_index, weight),
            Labels::U16(l) => validate(l, c, ignore_index, weight),
            Labels::I32(l) => validate(l, c, ignore_index, weight),
        }
    }
}

#[inline(always)]
fn widen<T: Copy + Into<i32>>(src: &[T], out: &mut [i32]) {
    for (o, v) in out.iter_mut().zip(src) {
        *o = (*v).into();
    }
}

fn validate<T: Copy + Into<i32>>(
    labels: &[T],
    c: usize,
    ignore_index: i32,
    weight: Option<&[f32]>,
) -> Result<f64, Error> {
    // A branch-free first pass in i32 lanes (the compiler vectorises it): is any label bad, and
    // how many are live. Only when one is bad, a second pass finds the first.
    let c32 = u32::try_from(c).unwrap_or(u32::MAX);
    let mut bad = false;
    let mut count = 0usize;
    for chunk in labels.chunks(4096) {
        let mut bad_chunk = false;
        let mut live_chunk = 0u32;
        for v in chunk {
            let value: i32 = (*v).into();
            let live = value != ignore_index;
            bad_chunk |= live & (value as u32 >= c32);
            live_chunk += live as u32;
        }
        bad |= bad_chunk;
        count += live_chunk as usize;
    }
    if bad {
        for (index, v) in labels.iter().enumerate() {
            let value: i32 = (*v).into();
            if value != ignore_index && (value as u32 >= c32) {
                return Err(Error::TargetOutOfBounds { index, value: value as i64 });
            }
        }
    }
    let Some(w) = weight else {
        return Ok(count as f64);
    };
    let mut sum = ExactSum::default();
    for v in labels {
        let value: i32 = (*v).into();
        if value != ignore_index {
            // `value` was checked against c above; a `weight` shorter than c is a bad argument.
            sum.add(*w.get(value as usize).ok_or(Error::BadArgument)?);
        }
    }
    Ok(sum.value())
}
