//! Class-index label maps (PNG masks as u8/u16, or i32), their validation and weight sum.

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

    /// Labels `lo .. hi`.
    pub fn range(&self, lo: usize, hi: usize) -> Labels<'_> {
        match self {
            Labels::U8(l) => Labels::U8(&l[lo..hi]),
            Labels::U16(l) => Labels::U16(&l[lo..hi]),
            Labels::I32(l) => Labels::I32(&l[lo..hi]),
        }
    }

    /// Copies `out.len()` labels starting at `start` into `out`, widened to i64.
    #[inline(always)]
    pub fn gather(&self, start: usize, out: &mut [i64]) {
        match self {
            Labels::U8(l) => widen(&l[start..start + out.len()], out),
            Labels::U16(l) => widen(&l[start..start + out.len()], out),
            Labels::I32(l) => widen(&l[start..start + out.len()], out),
        }
    }

    /// Checks every label is in `[0, c)` or equal to `ignore_index`, and returns the sum of the
    /// weights of the non-ignored labels (their count without weights), summed exactly: the
    /// denominator of PyTorch's 'mean'. The first bad label is reported as `TargetOutOfBounds`.
    pub fn validate(&self, c: usize, ignore_index: i64, weight: Option<&[f32]>) -> Result<f64, Error> {
        match self {
            Labels::U8(l) => validate(l, c, ignore_index, weight),
            Labels::U16(l) => validate(l, c, ignore_index, weight),
            Labels::I32(l) => validate(l, c, ignore_index, weight),
        }
    }
}

#[inline(always)]
fn widen<T: Copy + Into<i64>>(src: &[T], out: &mut [i64]) {
    for (o, v) in out.iter_mut().zip(src) {
        *o = (*v).into();
    }
}

fn validate<T: Copy + Into<i64>>(
    labels: &[T],
    c: usize,
    ignore_index: i64,
    weight: Option<&[f32]>,
) -> Result<f64, Error> {
    // A branch-free first pass (the compiler vectorises it): is any label bad, and how many
    // are live. Only when one is bad, a second pass finds the first.
    let mut bad = false;
    let mut count = 0usize;
    for chunk in labels.chunks(4096) {
        let mut bad_chunk = false;
        let mut live_chunk = 0u32;
        for v in chunk {
            let value: i64 = (*v).into();
            let live = value != ignore_index;
            bad_chunk |= live & (value as u64 >= c as u64);
            live_chunk += live as u32;
        }
        bad |= bad_chunk;
        count += live_chunk as usize;
    }
    if bad {
        for (index, v) in labels.iter().enumerate() {
            let value: i64 = (*v).into();
            if value != ignore_index && (value < 0 || value >= c as i64) {
                return Err(Error::TargetOutOfBounds { index, value });
            }
        }
    }
    let Some(w) = weight else {
        return Ok(count as f64);
    };
    let mut sum = ExactSum::default();
    for v in labels {
        let value: i64 = (*v).into();
        if value != ignore_index {
            sum.add(w[value as usize]);
        }
    }
    Ok(sum.value())
}
