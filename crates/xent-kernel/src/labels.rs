//! Class-index label maps (PNG masks as u8/u16, or i32), their validation and weight sum.

use crate::lanes::F32x4;
use crate::{Arg, Error, ExactSum};

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
        // A branch-free first pass (see `Scan`): is any label bad, and how many are live. Only
        // when one is bad, a second pass finds the first.
        let (bad, count) = match self {
            Labels::U8(l) => u8::scan(l, c, ignore_index),
            Labels::U16(l) => u16::scan(l, c, ignore_index),
            Labels::I32(l) => i32::scan(l, c, ignore_index),
        };
        if bad {
            if let Some(e) = self.first_bad(c, ignore_index) {
                return Err(e);
            }
        }
        let Some(w) = weight else {
            return Ok(count as f64);
        };
        self.weight_sum(c, ignore_index, w)
    }

    /// The sum of the weights of the labels other than `ignore_index` (all checked against the
    /// class count `c`), summed exactly: the denominator of PyTorch's 'mean' with class
    /// weights. The labels are counted per class, 256 classes a pass, and each class's weight is
    /// added its count of times at once, instead of [`ExactSum::add`] (about ten operations) a
    /// label; a few u8 classes are counted by vector compares instead. (Four interleaved copies
    /// of the counts, so that runs of equal labels do not wait on each increment, would grow the
    /// `.wasm` more than they gain. Figures: docs/performance.md.)
    #[allow(clippy::needless_range_loop, reason = "j indexes `counts` and, offset by `base`, the weights")]
    fn weight_sum(&self, c: usize, ignore_index: i32, w: &[f32]) -> Result<f64, Error> {
        let mut sum = ExactSum::default();
        for base in (0..c).step_by(256) {
            let mut counts = [0u32; 257];
            match self {
                // A few u8 classes: one vector pass each (16 labels a compare) beats the
                // counts' loads and stores, which wait on each other when equal labels follow
                // each other (two classes: half of them).
                Labels::U8(l) if c <= FEW_CLASSES => {
                    for (j, n) in counts[..c].iter_mut().enumerate() {
                        *n = (l.len() - u8::scan(l, c, j as i32).1) as u32;
                    }
                }
                Labels::U8(l) => count_classes(l, base, &mut counts),
                Labels::U16(l) => count_classes(l, base, &mut counts),
                Labels::I32(l) => count_classes(l, base, &mut counts),
            }
            for j in 0..(c - base).min(256) {
                let n = counts[j] as u64;
                if n > 0 && (base + j) as i64 != ignore_index as i64 {
                    // A `weight` shorter than c is a bad argument.
                    sum.add_times(*w.get(base + j).ok_or(Error::BadArgument(Arg::WeightLen))?, n);
                }
            }
        }
        Ok(sum.value())
    }

    /// The first label neither in `[0, c)` nor `ignore_index`, as the error to report (an error
    /// path: one copy for every label type).
    #[cold]
    #[inline(never)]
    fn first_bad(&self, c: usize, ignore_index: i32) -> Option<Error> {
        let c32 = u32::try_from(c).unwrap_or(u32::MAX);
        (0..self.len()).find_map(|index| {
            let value = match self {
                Labels::U8(l) => l[index] as i32,
                Labels::U16(l) => l[index] as i32,
                Labels::I32(l) => l[index],
            };
            (value != ignore_index && value as u32 >= c32)
                .then_some(Error::TargetOutOfBounds { index, value: value as i64 })
        })
    }
}

#[inline(always)]
fn widen<T: Copy + Into<i32>>(src: &[T], out: &mut [i32]) {
    for (o, v) in out.iter_mut().zip(src) {
        *o = (*v).into();
    }
}

/// Up to this many classes, [`Labels::weight_sum`] counts u8 labels one class at a time.
const FEW_CLASSES: usize = 8;

/// Counts the labels of classes `base .. base + 256`: `counts[j]` for label `base + j` (256:
/// any other label).
#[inline(never)]
fn count_classes<T: Copy + Into<i32>>(labels: &[T], base: usize, counts: &mut [u32; 257]) {
    for v in labels {
        counts[((*v).into() as u32).wrapping_sub(base as u32).min(256) as usize] += 1;
    }
}

/// The first pass of [`Labels::validate`]: is any label live (not `ignore_index`) and outside
/// `[0, c)`, and how many are live. Branch-free, in lanes the compiler vectorises: u8 labels
/// (PNG masks, the common case) in u8 lanes, 16 a vector (with few classes this scan is a
/// visible share of the call), the others in i32 lanes (a u16 copy of the u8 loop would grow
/// the `.wasm` for a rarer dtype). Figures: docs/performance.md.
trait Scan: Copy + Into<i32> {
    fn scan(labels: &[Self], c: usize, ignore_index: i32) -> (bool, usize);
}

/// [`Scan`] in i32 lanes, for any label type.
fn scan_i32<T: Copy + Into<i32>>(labels: &[T], c: usize, ignore_index: i32) -> (bool, usize) {
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
    (bad, count)
}

impl Scan for i32 {
    fn scan(labels: &[i32], c: usize, ignore_index: i32) -> (bool, usize) {
        scan_i32(labels, c, ignore_index)
    }
}

impl Scan for u16 {
    fn scan(labels: &[u16], c: usize, ignore_index: i32) -> (bool, usize) {
        scan_i32(labels, c, ignore_index)
    }
}

/// [`Scan`] in u8 lanes: a label is bad when it is above the last class and not the ignore
/// index; the ignored labels are counted in chunks of 240 (a multiple of the vector width, at
/// most 255, so the u8 count never wraps). An ignore index a u8 cannot hold matches no label:
/// the loop then runs with 0 in its place (never bad, as 0 is a class) and its count is unused.
impl Scan for u8 {
    #[inline(never)]
    fn scan(labels: &[u8], c: usize, ignore_index: i32) -> (bool, usize) {
        let Some(last) = c.checked_sub(1) else {
            return scan_i32(labels, c, ignore_index);
        };
        let last = u8::try_from(last).unwrap_or(u8::MAX);
        let ignore = u8::try_from(ignore_index);
        let ignore_or_0 = ignore.unwrap_or(0);
        let (mut bad, mut ignored) = (false, 0usize);
        for chunk in labels.chunks(240) {
            let (mut bad_chunk, mut ignored_chunk) = (false, 0u8);
            for &v in chunk {
                let is_ignored = v == ignore_or_0;
                bad_chunk |= !is_ignored & (v > last);
                ignored_chunk = ignored_chunk.wrapping_add(is_ignored as u8);
            }
            bad |= bad_chunk;
            ignored += ignored_chunk as usize;
        }
        (bad, labels.len() - if ignore.is_ok() { ignored } else { 0 })
    }
}

/// The u8 scan flags exactly the maps the i32 one does: a false alarm would still validate
/// correctly (the second pass finds no bad label), only slower, so `tests/labels.rs` cannot
/// see it.
#[cfg(test)]
mod tests {
    use super::{scan_i32, Scan};

    #[test]
    fn u8_scan_is_the_i32_scan() {
        let mut state = 1u32;
        let mut next = move || {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (state >> 16) as u8
        };
        for n in [0, 1, 15, 16, 17, 239, 240, 241, 481, 1000] {
            for c in [0, 1, 2, 19, 255, 256, 300] {
                for ignore in [-100, 0, 18, 19, 254, 255, 256] {
                    for spread in [c.max(1), 256] {
                        let mut buf = [0u8; 1000];
                        let labels = &mut buf[..n];
                        for v in labels.iter_mut() {
                            *v = match next() % 4 {
                                0 => ignore as u8,
                                _ => (next() as usize % spread.min(256)) as u8,
                            };
                        }
                        assert_eq!(
                            u8::scan(labels, c, ignore),
                            scan_i32(labels, c, ignore),
                            "n={n} c={c} ignore={ignore} spread={spread}"
                        );
                    }
                }
            }
        }
    }
}
